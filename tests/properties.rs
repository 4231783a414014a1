//! Property tests: every public function, every ISA under test and every algorithm, against the
//! f64 reference (docs/accuracy.md's bounds) and against the scalar kernels (twice the bounds),
//! over all tail lengths, misaligned buffers, in place, and rows of every shape in `Dist`.

mod common;

use common::{check_log_softmax, check_lse, check_softmax, check_softmax_pair, variants, Dist};
use proptest::prelude::*;
use twopass::{Algorithm, Isa, Kernels};

const GUARD: f32 = 12345.0;

/// `x` copied to `offset` elements into a fresh buffer (so its address varies by element).
fn placed(x: &[f32], offset: usize) -> Vec<f32> {
    let mut buf = vec![GUARD; x.len() + 32];
    buf[offset..offset + x.len()].copy_from_slice(x);
    buf
}

fn untouched(buf: &[f32], offset: usize, n: usize) -> bool {
    buf[..offset]
        .iter()
        .chain(&buf[offset + n..])
        .all(|&v| v == GUARD)
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Runs every entry point of `k` on `x` with input at `xo` and output at `yo`; checks the
/// reference bounds, in-place equality, and that nothing outside the output is written.
/// Returns (softmax, log_softmax) for cross-ISA comparison.
fn run_all(k: Kernels, x: &[f32], xo: usize, yo: usize) -> Result<(Vec<f32>, Vec<f32>), String> {
    let n = x.len();
    let xb = placed(x, xo);
    let xs = &xb[xo..xo + n];

    let mut yb = placed(&vec![0.0; n], yo);
    k.softmax(xs, &mut yb[yo..yo + n])
        .map_err(|e| e.to_string())?;
    if !untouched(&yb, yo, n) {
        return Err("softmax wrote outside its output".into());
    }
    let y = yb[yo..yo + n].to_vec();
    check_softmax(x, &y, 1.0).map_err(|e| format!("softmax: {e}"))?;

    let mut ib = placed(x, yo);
    k.softmax_in_place(&mut ib[yo..yo + n]);
    if !untouched(&ib, yo, n) || bits(&ib[yo..yo + n]) != bits(&y) {
        return Err("softmax_in_place differs from softmax".into());
    }

    let mut lb = placed(&vec![0.0; n], yo);
    k.log_softmax(xs, &mut lb[yo..yo + n])
        .map_err(|e| e.to_string())?;
    if !untouched(&lb, yo, n) {
        return Err("log_softmax wrote outside its output".into());
    }
    let l = lb[yo..yo + n].to_vec();
    check_log_softmax(x, &l, 1.0).map_err(|e| format!("log_softmax: {e}"))?;

    let mut il = placed(x, xo);
    k.log_softmax_in_place(&mut il[xo..xo + n]);
    if bits(&il[xo..xo + n]) != bits(&l) {
        return Err("log_softmax_in_place differs from log_softmax".into());
    }

    let lse = k.log_sum_exp(xs);
    check_lse(x, lse, 1.0).map_err(|e| format!("log_sum_exp: {e}"))?;
    if lse.to_bits() != k.log_sum_exp(x).to_bits() {
        return Err("log_sum_exp depends on the buffer's address".into());
    }
    Ok((y, l))
}

fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..=80, 0usize..=4100]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_variant_meets_the_reference(
        dist in 0..Dist::ALL.len(),
        n in lengths(),
        seed in any::<u64>(),
        xo in 0usize..16,
        yo in 0usize..16,
    ) {
        let dist = Dist::ALL[dist];
        let x = dist.row(n, seed);
        for k in variants() {
            let scalar = Kernels::new(Isa::Scalar).unwrap().with_algorithm(k.algorithm());
            let (y, l) = run_all(k, &x, xo, yo)
                .map_err(|e| TestCaseError::fail(format!("{k:?} {dist:?} n={n} seed={seed}: {e}")))?;
            if k.isa() != Isa::Scalar {
                let (ys, ls) = run_all(scalar, &x, 0, 0).map_err(TestCaseError::fail)?;
                check_softmax_pair(&y, &ys)
                    .map_err(|e| TestCaseError::fail(format!("{k:?} vs scalar {dist:?} n={n} seed={seed}: {e}")))?;
                for (i, (&a, &b)) in l.iter().zip(&ls).enumerate() {
                    let (a, b) = (f64::from(a), f64::from(b));
                    let same = a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 4e-6 * a.abs().max(1.0);
                    prop_assert!(same, "{k:?} vs scalar log_softmax[{i}]: {a:e} vs {b:e} ({dist:?} n={n} seed={seed})");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Blocked softmax on rows of several blocks (4096 elements each): ramps, steps, sorted
    /// rows, spikes and -inf masks cross the block boundaries.
    #[test]
    fn blocked_rows_of_several_blocks(
        dist in prop::sample::select(vec![Dist::Ramp, Dist::Steps, Dist::Sorted, Dist::Spike, Dist::NegInfMask, Dist::FarOffset, Dist::Specials]),
        n in 4097usize..=20000,
        seed in any::<u64>(),
        xo in 0usize..16,
    ) {
        let x = dist.row(n, seed);
        for k in variants().into_iter().filter(|k| k.algorithm() == Algorithm::Blocked) {
            run_all(k, &x, xo, 0)
                .map_err(|e| TestCaseError::fail(format!("{k:?} {dist:?} n={n} seed={seed}: {e}")))?;
        }
    }
}
