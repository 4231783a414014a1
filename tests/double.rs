//! The f64 functions against an independent f64 reference (terms summed smallest first),
//! within the bounds of docs/accuracy.md; special rows, empty rows, in place, the axis and row
//! forms against the single-row one, and the errors.

mod common;

use common::{Dist, Rng};
use twopass::{
    log_softmax_axis_f64, log_softmax_axis_f64_in_place, log_softmax_f64, log_sum_exp_axis_f64,
    log_sum_exp_f64, log_sum_exp_rows_f64, softmax_axis_f64, softmax_axis_f64_in_place,
    softmax_f64, Error,
};

const U: f64 = f64::EPSILON / 2.0;

/// `(max, sum exp(x - max))` with the terms added smallest first (error below `n * u`).
fn reference(x: &[f64]) -> (f64, f64) {
    let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let mut t: Vec<f64> = x.iter().map(|&v| (v - m).exp()).collect();
    t.sort_by(f64::total_cmp);
    (m, t.iter().sum())
}

/// Rows of doubles: the f32 shapes widened, plus offsets and spreads only f64 holds.
fn rows() -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for (i, d) in Dist::ALL.iter().enumerate() {
        for n in [1usize, 2, 7, 64, 200] {
            out.push(
                d.row(n, i as u64 * 31 + n as u64)
                    .into_iter()
                    .map(f64::from)
                    .collect(),
            );
        }
    }
    let mut r = Rng::new(9);
    for (offset, spread) in [(1e300, 1e285), (-1e300, 1e285), (0.0, 800.0), (3e5, 50.0)] {
        out.push((0..100).map(|_| offset + spread * r.normal()).collect());
    }
    out
}

/// NaN, `+inf`, or only `-inf` (or nothing).
fn is_special(x: &[f64]) -> bool {
    x.iter().any(|v| v.is_nan() || *v == f64::INFINITY) || x.iter().all(|v| *v == f64::NEG_INFINITY)
}

#[test]
fn every_row_within_the_bounds() {
    for x in rows() {
        let n = x.len();
        let (mut y, mut z) = (vec![0.0; n], vec![0.0; n]);
        softmax_f64(&x, &mut y).unwrap();
        log_softmax_f64(&x, &mut z).unwrap();
        let l = log_sum_exp_f64(&x);
        if is_special(&x) {
            assert!(y.iter().chain(&z).all(|v| v.is_nan()), "{x:?}");
            continue;
        }
        let (m, s) = reference(&x);
        let (ln_s, tol) = (s.ln(), (n as f64 + 8.0) * U);
        assert!(
            (l - (m + ln_s)).abs() <= tol * (m + ln_s).abs().max(1.0),
            "lse {l} vs {}",
            m + ln_s
        );
        for i in 0..n {
            let d = x[i] - m;
            let p = d.exp() / s;
            if p < f64::MIN_POSITIVE * (1.0 + 2e-12) {
                assert!(
                    y[i] == 0.0 || y[i] >= f64::MIN_POSITIVE,
                    "y[{i}] = {:e}",
                    y[i]
                );
            } else {
                assert!(
                    (y[i] - p).abs() <= (tol + d.abs() * U) * p,
                    "y[{i}] = {:e} vs {p:e}",
                    y[i]
                );
            }
            let w = d - ln_s;
            if x[i] == f64::NEG_INFINITY {
                assert_eq!(z[i], f64::NEG_INFINITY);
            } else {
                assert!(
                    (z[i] - w).abs() <= tol * w.abs().max(1.0) + d.abs() * U,
                    "z[{i}] = {} vs {w}",
                    z[i]
                );
            }
        }
    }
}

/// Rows of `n` values `-ln n` (rounded): log-sum-exp is the rounding of `ln n` alone, about
/// 1e-15, and `m + ln s` cancels everything but `ln s`'s own rounding (7.8 u at n = 10000, past
/// `4 u max(1, |ref|)`): within the bound with its `2 u ln s` term. `ln n` as a double-double
/// (hi, lo): the exact result is `-hi + ln n = lo`.
#[test]
fn log_sum_exp_that_cancels_meets_its_bound() {
    for (n, hi, lo) in [
        (3000usize, 8.006367567650246, 8.123723951105291e-16),
        (10000, 9.210340371976184, -8.683024893528997e-16),
        (100000, 11.512925464970229, -1.971996919909995e-16),
    ] {
        assert_eq!(hi, (n as f64).ln(), "hi is ln n rounded");
        let l = log_sum_exp_f64(&vec![-hi; n]);
        let bound = 4.0 * U + 2.0 * U * hi;
        assert!((l - lo).abs() <= bound, "n {n}: {l:e} vs {lo:e}");
    }
}

/// Outputs just above 2^-1022 are computed (and none is subnormal): `x = [0, t]` puts the
/// second at `e^t / (1 + e^t) = e^t` (to within 1e-308) for `t` stepping an ulp (1.1e-13) at a
/// time through `ln 2^-1022`, from 4 ulps below it to 40 above.
#[test]
fn softmax_outputs_near_the_least_normal() {
    let ln_min = (f64::MIN_POSITIVE).ln();
    for k in -40i64..=4 {
        // Negative: larger bits lie further below 0.
        let t = f64::from_bits(ln_min.to_bits().wrapping_add_signed(k));
        let mut y = [0.0; 2];
        softmax_f64(&[0.0, t], &mut y).unwrap();
        let p = t.exp();
        assert!(
            y[1] == 0.0 || y[1] >= f64::MIN_POSITIVE,
            "t {t}: {:e}",
            y[1]
        );
        if p >= f64::MIN_POSITIVE * (1.0 + 2e-12) {
            assert!(
                (y[1] - p).abs() <= 720.0 * U * p,
                "t {t}: {:e} vs {p:e}",
                y[1]
            );
        }
    }
}

#[test]
fn special_and_empty_rows() {
    let mut y = [0.0; 3];
    for (x, lse) in [
        ([1.0, f64::NAN, 2.0], f64::NAN),
        ([1.0, f64::INFINITY, 2.0], f64::INFINITY),
        ([f64::NEG_INFINITY; 3], f64::NEG_INFINITY),
    ] {
        softmax_f64(&x, &mut y).unwrap();
        assert!(y.iter().all(|v| v.is_nan()));
        let l = log_sum_exp_f64(&x);
        assert!(l == lse || (l.is_nan() && lse.is_nan()));
    }
    assert_eq!(log_sum_exp_f64(&[]), f64::NEG_INFINITY);
    softmax_f64(&[], &mut []).unwrap();
    let x = [0.0, f64::NEG_INFINITY, 0.0];
    softmax_f64(&x, &mut y).unwrap();
    assert_eq!(y, [0.5, 0.0, 0.5]);
}

/// Every `(o, j)` row of the axis forms, and every row of the row form, as the single-row call
/// gives it (the same bits); in place too.
#[test]
fn axis_and_rows_are_the_single_row_call() {
    let (outer, len, inner) = (3, 17, 5);
    let mut r = Rng::new(4);
    let x: Vec<f64> = (0..outer * len * inner)
        .map(|_| 40.0 * r.normal())
        .collect();
    let (mut y, mut z) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    let mut lse = vec![0.0; outer * inner];
    softmax_axis_f64(&x, &mut y, outer, len, inner).unwrap();
    log_softmax_axis_f64(&x, &mut z, outer, len, inner).unwrap();
    log_sum_exp_axis_f64(&x, outer, len, inner, &mut lse).unwrap();
    for o in 0..outer {
        for j in 0..inner {
            let at = |k: usize| (o * len + k) * inner + j;
            let row: Vec<f64> = (0..len).map(|k| x[at(k)]).collect();
            let (mut a, mut b) = (vec![0.0; len], vec![0.0; len]);
            softmax_f64(&row, &mut a).unwrap();
            log_softmax_f64(&row, &mut b).unwrap();
            for k in 0..len {
                assert_eq!(y[at(k)].to_bits(), a[k].to_bits());
                assert_eq!(z[at(k)].to_bits(), b[k].to_bits());
            }
            assert_eq!(
                lse[o * inner + j].to_bits(),
                log_sum_exp_f64(&row).to_bits()
            );
        }
    }
    let mut xy = x.clone();
    softmax_axis_f64_in_place(&mut xy, outer, len, inner).unwrap();
    assert_eq!(xy, y);
    let mut xy = x.clone();
    log_softmax_axis_f64_in_place(&mut xy, outer, len, inner).unwrap();
    assert_eq!(xy, z);
    // Rows with a stride.
    let (rows, cols, stride) = (4, 6, 9);
    let mut out = vec![0.0; rows];
    log_sum_exp_rows_f64(&x[..rows * stride], stride, rows, cols, &mut out).unwrap();
    for (i, o) in out.iter().enumerate() {
        assert_eq!(
            o.to_bits(),
            log_sum_exp_f64(&x[i * stride..][..cols]).to_bits()
        );
    }
}

#[test]
fn bad_shapes_are_refused_untouched() {
    let x = [1.0f64; 12];
    let mut y = [7.0f64; 12];
    // As the f32 functions: the same error for the same mistake.
    for bad in [
        softmax_f64(&x, &mut y[..11]),
        log_softmax_f64(&x, &mut y[..11]),
        twopass::softmax(&[1.0f32; 12], &mut [7.0f32; 11]),
    ] {
        assert_eq!(
            bad,
            Err(Error::LengthMismatch {
                input: 12,
                output: 11
            })
        );
    }
    assert_eq!(
        softmax_axis_f64(&x, &mut y, usize::MAX, 2, 2),
        Err(Error::ShapeOverflow)
    );
    let mut out = [7.0f64; 2];
    assert_eq!(
        log_sum_exp_rows_f64(&x, 4, 3, 5, &mut out[..1]),
        Err(Error::StrideTooSmall {
            buffer: "x",
            stride: 4,
            cols: 5
        })
    );
    assert_eq!(
        log_sum_exp_axis_f64(&x, 2, 3, 2, &mut out[..1]),
        Err(Error::WrongLength {
            buffer: "out",
            len: 1,
            expected: 4
        })
    );
    assert!(y.iter().chain(&out).all(|&v| v == 7.0));
}
