//! f16 and bf16 rows: every ISA under test and every algorithm against the f64 reference on the
//! widened inputs (docs/accuracy.md: 2 ulp of the output type, or the f32 bound where looser;
//! references below 2^-126 may give 0; log-sum-exp within 2e-6), all tails, misaligned starts,
//! in place, and the special values encoded in both formats.

mod common;

use common::{finite_reference, variants, Dist};
use half::{bf16, f16};
use proptest::prelude::*;
use twopass::{Float, Kernels, LseState};

/// What the tests need of a 16-bit format.
trait Half: Float + std::fmt::Debug {
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn bits(self) -> u16;
    fn from_bits(b: u16) -> Self;
}

macro_rules! half_impl {
    ($t:ty) => {
        impl Half for $t {
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            fn bits(self) -> u16 {
                self.to_bits()
            }
            fn from_bits(b: u16) -> Self {
                <$t>::from_bits(b)
            }
        }
    };
}
half_impl!(f16);
half_impl!(bf16);

/// One ulp of `T` at `v` (the spacing above `|v|` rounded to `T`).
fn ulp<T: Half>(v: f64) -> f64 {
    let r = T::from_f64(v.abs());
    let next = T::from_bits(r.bits() + 1).to_f64();
    next - r.to_f64()
}

fn check_softmax<T: Half>(x: &[T], y: &[T]) -> Result<(), String> {
    let xf: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let Some((m, s)) = finite_reference(&xf, y.iter().map(|v| v.to_f64()))? else {
        return Ok(());
    };
    for (i, (&xi, &yi)) in xf.iter().zip(y).enumerate() {
        let want = (f64::from(xi) - m).exp() / s;
        let got = yi.to_f64();
        // References below 2^-126 may give 0 (hardware bf16 conversion flushes); the f32 value
        // before it (after a first bf16 rounding when reload stores exp at half precision) is
        // within 2^-8 relative of the reference, so a little above the line too.
        let flushable = want < 2f64.powi(-126) * (1.0 + 2f64.powi(-7));
        let ok = (got - want).abs() <= 2.0 * ulp::<T>(want) || (flushable && got == 0.0);
        if !ok || !(0.0..=1.0).contains(&got) {
            return Err(format!(
                "softmax[{i}] = {got:e}, reference {want:e} (x = {xi:e})"
            ));
        }
    }
    Ok(())
}

fn check_log_softmax<T: Half>(x: &[T], y: &[T]) -> Result<(), String> {
    let xf: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let Some((m, s)) = finite_reference(&xf, y.iter().map(|v| v.to_f64()))? else {
        return Ok(());
    };
    for (i, (&xi, &yi)) in xf.iter().zip(y).enumerate() {
        let want = (f64::from(xi) - m) - s.ln();
        let got = yi.to_f64();
        let rounded = T::from_f64(want).to_f64();
        let ok = if rounded.is_infinite() {
            got == rounded
        } else {
            (got - want).abs() <= (2.0 * ulp::<T>(want)).max(2e-6 * want.abs().max(1.0))
        };
        if !ok {
            return Err(format!(
                "log_softmax[{i}] = {got:e}, reference {want:e} (x = {xi:e})"
            ));
        }
    }
    Ok(())
}

fn widened<T: Half>(x: &[T]) -> Vec<f32> {
    x.iter().map(|v| v.to_f32()).collect()
}

fn run<T: Half>(k: Kernels, x: &[T], offset: usize) -> Result<(), String> {
    let n = x.len();
    let mut xb = vec![T::from_f64(0.0); n + 16];
    xb[offset..offset + n].copy_from_slice(x);
    let xs = &xb[offset..offset + n];
    let guard = T::from_f64(-7.0);
    let mut yb = vec![guard; n + 16];
    k.softmax(xs, &mut yb[offset..offset + n])
        .map_err(|e| e.to_string())?;
    if yb[..offset]
        .iter()
        .chain(&yb[offset + n..])
        .any(|v| v.bits() != guard.bits())
    {
        return Err("softmax wrote outside its output".into());
    }
    let y = &yb[offset..offset + n];
    check_softmax(x, y)?;
    let mut inplace = xs.to_vec();
    k.softmax_in_place(&mut inplace);
    if inplace.iter().zip(y).any(|(a, b)| a.bits() != b.bits()) {
        return Err("softmax_in_place differs".into());
    }
    let mut l = vec![guard; n];
    k.log_softmax(xs, &mut l).map_err(|e| e.to_string())?;
    check_log_softmax(x, &l)?;
    common::check_lse(&widened(x), k.log_sum_exp(xs), 1.0).map_err(|e| format!("lse: {e}"))?;
    let mut state = LseState::new();
    for chunk in xs.chunks(97) {
        k.lse_update(&mut state, chunk);
    }
    common::check_lse(&widened(x), state.value(), 1.0).map_err(|e| format!("LseState: {e}"))?;
    // The same state finishes the row chunk by chunk (the split-row API).
    let (mut ys, mut ls) = (vec![guard; n], vec![guard; n]);
    for ((c, y), l) in xs.chunks(97).zip(ys.chunks_mut(97)).zip(ls.chunks_mut(97)) {
        k.softmax_finish(&state, c, y).map_err(|e| e.to_string())?;
        k.log_softmax_finish(&state, c, l)
            .map_err(|e| e.to_string())?;
    }
    check_softmax(x, &ys).map_err(|e| format!("softmax_finish: {e}"))?;
    check_log_softmax(x, &ls).map_err(|e| format!("log_softmax_finish: {e}"))?;
    Ok(())
}

/// Each variant against scalar with the same algorithm: both within 2 ulp of the reference, so
/// within 4 ulp (or twice the f32 bound) of each other; specials alike.
fn against_scalar<T: Half>(k: Kernels, x: &[T]) -> Result<(), String> {
    let scalar = Kernels::new(twopass::Isa::Scalar)
        .unwrap()
        .with_algorithm(k.algorithm());
    let (mut a, mut b) = (
        vec![T::from_f64(0.0); x.len()],
        vec![T::from_f64(0.0); x.len()],
    );
    k.softmax(x, &mut a).map_err(|e| e.to_string())?;
    scalar.softmax(x, &mut b).map_err(|e| e.to_string())?;
    for (i, (p, q)) in a.iter().zip(&b).enumerate() {
        let (p, q) = (p.to_f64(), q.to_f64());
        let close = (p - q).abs() <= 4.0 * ulp::<T>(p.max(q)) || (p.max(q) < 2f64.powi(-125));
        if !(close || (p.is_nan() && q.is_nan())) {
            return Err(format!("softmax[{i}]: {p:e} vs scalar {q:e}"));
        }
    }
    Ok(())
}

fn row<T: Half>(dist: Dist, n: usize, seed: u64) -> Vec<T> {
    dist.row(n, seed)
        .into_iter()
        .map(|v| T::from_f64(f64::from(v)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn half_rows_meet_the_reference(
        dist in 0..Dist::ALL.len(),
        n in prop_oneof![0usize..=80, 0usize..=4100],
        seed in any::<u64>(),
        offset in 0usize..16,
    ) {
        let dist = Dist::ALL[dist];
        for k in variants() {
            run::<f16>(k, &row(dist, n, seed), offset)
                .map_err(|e| TestCaseError::fail(format!("f16 {k:?} {dist:?} n={n} seed={seed}: {e}")))?;
            run::<bf16>(k, &row(dist, n, seed), offset)
                .map_err(|e| TestCaseError::fail(format!("bf16 {k:?} {dist:?} n={n} seed={seed}: {e}")))?;
            against_scalar::<f16>(k, &row(dist, n, seed))
                .map_err(|e| TestCaseError::fail(format!("f16 {k:?} {dist:?} n={n} seed={seed}: {e}")))?;
            against_scalar::<bf16>(k, &row(dist, n, seed))
                .map_err(|e| TestCaseError::fail(format!("bf16 {k:?} {dist:?} n={n} seed={seed}: {e}")))?;
        }
    }
}

#[test]
fn special_values_in_both_formats() {
    let specials_f16: Vec<u16> = vec![
        0x7E00, 0x7C01, 0xFE00, 0x7C00, 0xFC00, 0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x0400, 0x0000,
        0x8000,
    ];
    let specials_bf16: Vec<u16> = vec![
        0x7FC0, 0x7F81, 0xFFC0, 0x7F80, 0xFF80, 0x7F7F, 0xFF7F, 0x0001, 0x8001, 0x0080, 0x0000,
        0x8000,
    ];
    for k in variants() {
        for n in [1usize, 7, 17, 40, 1100] {
            for (i, (&a, &b)) in specials_f16.iter().zip(&specials_bf16).enumerate() {
                for at in [0, n / 2, n - 1] {
                    let mut x16: Vec<f16> = (0..n)
                        .map(|j| f16::from_f32((j % 13) as f32 * 0.75 - 4.0))
                        .collect();
                    let mut xb: Vec<bf16> = (0..n)
                        .map(|j| bf16::from_f32((j % 13) as f32 * 0.75 - 4.0))
                        .collect();
                    x16[at] = f16::from_bits(a);
                    xb[at] = bf16::from_bits(b);
                    run(k, &x16, at % 16)
                        .unwrap_or_else(|e| panic!("f16 {k:?} special #{i} n={n} at={at}: {e}"));
                    run(k, &xb, at % 16)
                        .unwrap_or_else(|e| panic!("bf16 {k:?} special #{i} n={n} at={at}: {e}"));
                }
            }
        }
    }
}

/// bf16 cross-entropy: the loss is the f32 path's on the widened logits, and the gradient is
/// the f32 gradient of the widened logits rounded once to bf16 (bit for bit: the kernels widen on
/// load and round on store, the arithmetic between is the same).
#[test]
fn bf16_cross_entropy_is_the_widened_f32_one_rounded_once() {
    use common::cross_entropy::make_case;
    use twopass::{CrossEntropyOutputs, Shape};
    for seed in 0..200u64 {
        let case = make_case(seed);
        let options = case.options();
        let xb: Vec<bf16> = case.logits.iter().map(|&v| bf16::from_f32(v)).collect();
        let xw: Vec<f32> = xb.iter().map(|v| v.to_f32()).collect();
        let shape = Shape::new(case.rows, case.cols);
        for k in common::isas_under_test()
            .into_iter()
            .map(|i| Kernels::new(i).unwrap())
        {
            // The outputs for logits of any type (the struct is generic over it).
            fn outputs<T>(g: Option<&[f32]>) -> CrossEntropyOutputs<'_, T> {
                CrossEntropyOutputs {
                    grad_output: g,
                    ..Default::default()
                }
            }
            let g = case.grad_output.as_deref();
            let mut g32 = vec![0.0f32; xw.len()];
            let l32 = k.cross_entropy(
                &xw,
                shape,
                &case.targets,
                &options,
                outputs(g),
                Some((&mut g32, case.cols)),
            );
            let mut gb = vec![bf16::ZERO; xb.len()];
            let lb = k.cross_entropy(
                &xb,
                shape,
                &case.targets,
                &options,
                outputs(g),
                Some((&mut gb, case.cols)),
            );
            assert_eq!(
                l32.map(f32::to_bits),
                lb.map(f32::to_bits),
                "{k:?} seed {seed}: loss"
            );
            let mut inplace = xb.clone();
            k.cross_entropy_in_place(&mut inplace, shape, &case.targets, &options, outputs(g))
                .unwrap();
            for (j, ((a, b), c)) in g32.iter().zip(&gb).zip(&inplace).enumerate() {
                let want = bf16::from_f32(*a);
                // Hardware bf16 conversion (AVX-512 BF16) flushes results below 2^-126 to 0.
                let same = |v: &bf16| {
                    v.to_bits() == want.to_bits()
                        || (v.is_nan() && want.is_nan())
                        || (v.to_f32() == 0.0 && a.abs() < f32::MIN_POSITIVE)
                };
                assert!(
                    same(b) && same(c),
                    "{k:?} seed {seed}: grad[{j}] {b:?} / {c:?} vs {want:?}"
                );
            }
        }
    }
}
