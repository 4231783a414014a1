//! Every kernel of every table this CPU runs against the scalar table, entry by entry, over
//! all tail lengths and misaligned starts (within twice docs/accuracy.md's relative bound; exact
//! where the operation is a single rounding).

use proptest::prelude::*;
use twopass_kernels::exp::EXT_BOUND;
use twopass_kernels::{
    table, table_bf16, table_bf16_exact, table_f16, tables, Args, Element, Entry, GradCoefficients,
    Io, Isa, LogitSum, Store, SumOfLogits, Table,
};

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// `close` for f32 outputs, which may be subnormal: each side rounds to a multiple of 2^-149,
/// so they may differ by one such step beyond the relative bound.
fn close_output(a: f32, b: f32, rel: f64) -> bool {
    let step = f64::from(f32::from_bits(1));
    let (a, b) = (f64::from(a), f64::from(b));
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs()) + step
}

/// Uniform in `[-scale/2, scale/2)`; by `seed`'s top bits also a rising ramp over the row (across
/// blocks) or one spike of `scale`, the rows that move `raddextexp`'s lane exponents.
fn row(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed | 1;
    let spike = (seed >> 32) as usize % n.max(1);
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale;
            match seed >> 62 {
                0 => (i as f32 / n as f32 - 0.5) * scale + u * 1e-3,
                1 if i == spike => scale,
                _ => u,
            }
        })
        .collect()
}

/// `ln sum_i exp(x_i)` in f64.
fn lse(x: &[f32]) -> f64 {
    let m = x
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
    m + x
        .iter()
        .map(|&v| (f64::from(v) - m).exp())
        .sum::<f64>()
        .ln()
}

proptest! {
    #[test]
    fn every_table_matches_scalar(n in 0usize..2500, seed in any::<u64>(), off in 0usize..16, scale in prop::sample::select(vec![1.0f32, 60.0, 2000.0])) {
        let scalar = table(Isa::Scalar).unwrap();
        let buf = row(n + off, seed, scale);
        let x = &buf[off..];
        let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let store = if seed % 2 == 0 { Store::Cached } else { Store::NonTemporal };
        for t in tables() {
            prop_assert_eq!((t.rmax)(x).to_bits(), (scalar.rmax)(x).to_bits(), "{} rmax", t.name);
            if n == 0 {
                continue;
            }
            let (a, b) = ((t.raddexpminusmax)(x, m), (scalar.raddexpminusmax)(x, m));
            prop_assert!(close(a, b, 4e-6), "{} raddexpminusmax {} vs {}", t.name, a, b);

            let (mut ya, mut yb) = (vec![0.0; n], vec![0.0; n]);
            let (a, b) = ((t.raddstoreexpminusmax)(Io::Split(x, &mut ya), m), (scalar.raddstoreexpminusmax)(Io::Split(x, &mut yb), m));
            prop_assert!(close(a, b, 4e-6), "{} raddstoreexpminusmax {} vs {}", t.name, a, b);
            for (p, q) in ya.iter().zip(&yb) {
                prop_assert!(close_output(*p, *q, 4e-7), "{} stored exp {} vs {}", t.name, p, q);
            }

            (t.vscale)(Io::Split(x, &mut ya), 0.37, store);
            (scalar.vscale)(Io::Split(x, &mut yb), 0.37, store);
            prop_assert_eq!(&ya, &yb, "{} vscale", t.name);

            (t.vscaleexpminusmax)(Io::Split(x, &mut ya), m, 0.25, store);
            (scalar.vscaleexpminusmax)(Io::Split(x, &mut yb), m, 0.25, store);
            for (p, q) in ya.iter().zip(&yb) {
                prop_assert!(close_output(*p, *q, 4e-7), "{} vscaleexpminusmax {} vs {}", t.name, p, q);
            }

            let (ea, eb) = ((t.raddextexp)(x), (scalar.raddextexp)(x));
            // In range (no max-based path needed) and accurate for any finite row within the bound.
            let r = lse(x);
            prop_assert!(ea.ln_in_range().is_some_and(|l| (l - r).abs() <= 2e-6 * r.abs().max(1.0)), "{} raddextexp {:?} vs {}", t.name, ea, r);
            prop_assert!(close(ea.ln(), eb.ln(), 4e-6) || (ea.ln() - eb.ln()).abs() < 4e-6, "{} raddextexp {:?} vs {:?}", t.name, ea, eb);
            // The paired sum: its log within |ln| * 3e-9 of the exact one's.
            let (pa, pb) = ((t.raddextexp_paired)(x), (scalar.raddextexp_paired)(x));
            for p in [pa, pb] {
                prop_assert!((p.ln() - eb.ln()).abs() <= 4e-6 + 3e-9 * eb.ln().abs(), "{} raddextexp_paired {:?} vs {:?}", t.name, p, eb);
            }
            (t.vscaleextexp)(Io::Split(x, &mut ya), pa, store);
            (scalar.vscaleextexp)(Io::Split(x, &mut yb), pb, store);
            for (p, q) in ya.iter().zip(&yb) {
                prop_assert!(close(f64::from(*p), f64::from(*q), 4e-6) || (p - q).abs() < 1e-37, "{} vscaleextexp {} vs {}", t.name, p, q);
            }

            let (oa, ob) = ((t.raddonline)(x), (scalar.raddonline)(x));
            prop_assert_eq!(oa.max, ob.max, "{} raddonline max", t.name);
            prop_assert!(close(oa.sum, ob.sum, 4e-6), "{} raddonline {:?} vs {:?}", t.name, oa, ob);

            let w: Vec<f32> = (0..n).map(|i| if i % 5 == 0 { 0.0 } else { (i % 3) as f32 * 0.5 }).collect();
            for (weights, logits) in [(None, SumOfLogits::Unused), (None, SumOfLogits::Plain), (Some(&w[..]), SumOfLogits::Weighted(&w))] {
                let (la, lb) = ((t.raddextexp_logits)(x, logits), (scalar.raddextexp_logits)(x, logits));
                if let SumOfLogits::Unused = logits {
                    prop_assert_eq!((la.logits, lb.logits), (LogitSum::ZERO, LogitSum::ZERO));
                }
                let (a, b) = (la.exp.ln(), lb.exp.ln());
                prop_assert!(a == b || (a - b).abs() <= 4e-6 * a.abs().max(1.0), "{} raddextexp_logits {:?} vs {:?}", t.name, la, lb);
                if !matches!(logits, SumOfLogits::Unused) {
                    // Against the row's max, in f64: every term at most 0, so the sum holds
                    // relative precision.
                    let wi = |i: usize| if weights.is_some() { f64::from(w[i]) } else { 1.0 };
                    let r: f64 = (0..n).map(|i| wi(i) * (f64::from(x[i]) - f64::from(m))).sum();
                    let big_w: f64 = (0..n).map(wi).sum();
                    for l in [la.logits, lb.logits] {
                        prop_assert_eq!(l.max, f64::from(m), "{} logit max", t.name);
                        prop_assert!((l.sum - r).abs() <= 2e-6 * r.abs() + 1e-30, "{} logit sum {:?} vs f64 {}", t.name, l, r);
                        prop_assert!((l.weight - big_w).abs() <= 1e-6 * big_w, "{} logit weight {:?} vs {}", t.name, l, big_w);
                    }
                }
                let c = GradCoefficients { a: m, scale: 0.75, bias: 0.01 };
                (t.vgradce)(Io::Split(x, &mut ya), weights, c, store);
                (scalar.vgradce)(Io::Split(x, &mut yb), weights, c, store);
                for (p, q) in ya.iter().zip(&yb) {
                    prop_assert!((p - q).abs() <= 4e-7 * p.abs().max(0.01), "{} vgradce {} vs {}", t.name, p, q);
                }
            }

            (t.vsubtract)(Io::Split(x, &mut ya), (m, 0.125), store);
            (scalar.vsubtract)(Io::Split(x, &mut yb), (m, 0.125), store);
            prop_assert_eq!(&ya, &yb, "{} vsubtract", t.name);

            let mut inplace = x.to_vec();
            (t.vsubtract)(Io::InPlace(&mut inplace), (m, 0.125), store);
            prop_assert_eq!(&inplace, &ya, "{} vsubtract in place", t.name);
        }
    }
}

/// A row holding an input above `EXT_BOUND` (anywhere, among small values or huge ones) must
/// leave the extended sums' range from above (log at least `EXT_BOUND - 1`, or NaN), so callers
/// take the max-based path, also after adding the sum to others. (A fuzz finding: a row
/// starting with 2.4e14 primed the lane exponents so high that its terms vanished; its empty
/// sum, added to the sum of the rest of the row, passed for the whole row's.)
#[test]
fn inputs_beyond_the_bound_leave_the_range() {
    for t in tables() {
        for n in [1usize, 3, 17, 67, 1000, 3000] {
            for big in [16385.0f32, 1e5, 2.3677012e14, 2.4e14, 3e38, f32::INFINITY] {
                for at in [0, n / 2, n - 1] {
                    let mut x = vec![0.0f32; n];
                    x[at] = big;
                    if n > 2 {
                        x[(at + 1) % n] = -1.8e12;
                        x[(at + 2) % n] = big;
                    }
                    for (name, e) in [
                        ("raddextexp", (t.raddextexp)(&x)),
                        ("raddextexp_paired", (t.raddextexp_paired)(&x)),
                        (
                            "raddextexp_logits",
                            (t.raddextexp_logits)(&x, SumOfLogits::Unused).exp,
                        ),
                    ] {
                        assert!(
                            e.ln().is_nan() || e.ln() >= f64::from(EXT_BOUND - 1.0),
                            "{} {name}: n {n}, {big} at {at}: {e:?}",
                            t.name
                        );
                    }
                }
            }
        }
    }
}

/// The online sum of a row is at least 1 (its max's term), though each term is `exp` of an f32
/// difference from the lane's reference (here 15.6, rounded by up to 4.8e-7): a property-test
/// row whose scalar sum came out 0.99999967, so that softmax's largest output exceeded 1.
#[test]
fn online_sum_is_at_least_the_max_term() {
    let ninf = f32::NEG_INFINITY;
    for t in tables() {
        for x in [
            vec![ninf, ninf, -5.915_270_3, ninf, 9.699_182_5],
            vec![-5.915_270_3, 9.699_182_5],
        ] {
            let s = (t.raddonline)(&x);
            assert!(s.sum >= 1.0, "{} {x:?}: {}", t.name, s.sum);
        }
    }
}

/// Every [`Entry`] of every table this CPU runs, of every element type, against the scalar
/// table of the same type on the same rows: values within 4e-6, outputs within two units of the
/// type's last place (`rel`; the gradient's near 0 against its bias, the axis softmax's below
/// 1e-4 against 1e-4). The list the kernel benchmarks walk too (`benches/kernels.rs`).
fn entries_match_scalar<T: Element + std::fmt::Debug>(all: &[&Table<T>], rel: f64) {
    let scalar = T::table(Isa::Scalar).unwrap();
    for n in [1usize, 7, 16, 33, 100, 1000, 2500] {
        for seed in [3u64, 1 << 62, 2 << 62, 3 << 62] {
            for scale in [1.0f32, 60.0, 2000.0] {
                let x: Vec<T> = row(n, seed, scale).into_iter().map(T::from_f32).collect();
                let args = Args::of(&x);
                for t in all {
                    for entry in Entry::ALL {
                        let (mut ya, mut yb) = (x.clone(), x.clone());
                        let a = t.run(entry, &args, &x, &mut ya, Store::Cached);
                        let b = scalar.run(entry, &args, &x, &mut yb, Store::Cached);
                        let what = format!(
                            "{} {} n={n} seed={seed} scale={scale}",
                            t.name,
                            entry.name()
                        );
                        assert!(
                            (a - b).abs() <= 4e-6 * b.abs().max(1.0) || a == b,
                            "{what}: {a} vs {b}"
                        );
                        let floor = match entry {
                            Entry::Vgradce => 0.01,
                            // Softmax down the columns, in blocks that differ by ISA: each
                            // rounds `x - r` for `exp(x - r)` (by up to `|x - max| 2^-24`
                            // relative), so outputs far below the max differ by more (and
                            // f16's below 6.1e-5 by its subnormal spacing, 6e-8).
                            Entry::Raxisblockexp => 1e-4,
                            // Short rows in registers round a half output once, scalar's
                            // reload (past its four elements) twice: a unit of f16's
                            // subnormal spacing (6e-8) apart below its normal range.
                            Entry::SoftmaxShort => 6.2e-5,
                            _ => 0.0,
                        };
                        for (p, q) in ya.iter().zip(&yb) {
                            let (p, q) = (f64::from(p.to_f32()), f64::from(q.to_f32()));
                            let tol = rel * p.abs().max(q.abs()).max(floor) + 1e-37;
                            assert!((p - q).abs() <= tol || p == q, "{what}: output {p} vs {q}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_entry_of_every_type_matches_scalar() {
    let isas: Vec<Isa> = tables().map(|t| t.isa).collect();
    let f32s: Vec<_> = isas.iter().filter_map(|&i| table(i)).collect();
    entries_match_scalar(&f32s, 4e-6);
    let f16s: Vec<_> = isas.iter().filter_map(|&i| table_f16(i)).collect();
    entries_match_scalar(&f16s, 2.0 * f64::from(half::f16::EPSILON.to_f32()));
    let bf16s: Vec<_> = isas
        .iter()
        .flat_map(|&i| [table_bf16(i), table_bf16_exact(i)])
        .flatten()
        .collect();
    entries_match_scalar(&bf16s, 2.0 * f64::from(half::bf16::EPSILON.to_f32()));
}
