//! docs/accuracy.md's special-value table, for every variant, at every position of rows whose
//! lengths cover all tails and cross the reduction blocks of every ISA.

mod common;

use common::{check_log_softmax, check_lse, check_softmax, variants};
use twopass::Kernels;

const LENGTHS: [usize; 12] = [1, 2, 7, 8, 15, 16, 17, 63, 65, 257, 1025, 2113];

fn base(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 37) % 23) as f32 * 0.5 - 5.0).collect()
}

fn positions(n: usize) -> Vec<usize> {
    let mut p = vec![0, n / 2, n - 1];
    p.dedup();
    p
}

/// Runs all three functions on `x` and checks them against the reference; returns the outputs.
fn check_row(k: Kernels, x: &[f32], what: &str) -> (Vec<f32>, Vec<f32>, f32) {
    let ctx = format!("{k:?} {what} n={}", x.len());
    let mut y = vec![0.0; x.len()];
    k.softmax(x, &mut y).unwrap();
    check_softmax(x, &y, 1.0).unwrap_or_else(|e| panic!("{ctx}: softmax: {e}"));
    let mut l = vec![0.0; x.len()];
    k.log_softmax(x, &mut l).unwrap();
    check_log_softmax(x, &l, 1.0).unwrap_or_else(|e| panic!("{ctx}: log_softmax: {e}"));
    let lse = k.log_sum_exp(x);
    check_lse(x, lse, 1.0).unwrap_or_else(|e| panic!("{ctx}: log_sum_exp: {e}"));
    (y, l, lse)
}

#[test]
fn nan_anywhere_makes_the_row_nan() {
    for k in variants() {
        for n in LENGTHS {
            for p in positions(n) {
                for other in [None, Some(f32::INFINITY), Some(f32::NEG_INFINITY)] {
                    let mut x = base(n);
                    if let Some(v) = other {
                        x[(p + 1) % n] = v;
                    }
                    x[p] = f32::NAN;
                    let (y, l, lse) = check_row(k, &x, "NaN");
                    assert!(y.iter().chain(&l).all(|v| v.is_nan()) && lse.is_nan());
                }
            }
        }
    }
}

#[test]
fn pos_inf_makes_softmax_nan_and_lse_inf() {
    for k in variants() {
        for n in LENGTHS {
            for p in positions(n) {
                let mut x = base(n);
                x[p] = f32::INFINITY;
                let (y, l, lse) = check_row(k, &x, "+inf");
                assert!(y.iter().chain(&l).all(|v| v.is_nan()));
                assert_eq!(lse, f32::INFINITY, "{k:?} n={n} p={p}");
            }
        }
    }
}

#[test]
fn only_neg_inf_makes_softmax_nan_and_lse_neg_inf() {
    for k in variants() {
        for n in LENGTHS {
            let x = vec![f32::NEG_INFINITY; n];
            let (y, l, lse) = check_row(k, &x, "all -inf");
            assert!(y.iter().chain(&l).all(|v| v.is_nan()));
            assert_eq!(lse, f32::NEG_INFINITY);
        }
    }
}

#[test]
fn neg_inf_among_finite_gives_zero_and_neg_inf() {
    for k in variants() {
        for n in LENGTHS.into_iter().filter(|&n| n > 1) {
            for p in positions(n) {
                let mut x = base(n);
                x[p] = f32::NEG_INFINITY;
                if p == 0 && n > 2 {
                    x[n - 1] = f32::NEG_INFINITY;
                }
                let (y, l, lse) = check_row(k, &x, "-inf mask");
                assert!(lse.is_finite());
                for (i, &v) in x.iter().enumerate() {
                    if v == f32::NEG_INFINITY {
                        assert_eq!(y[i], 0.0, "{k:?} n={n} softmax[{i}]");
                        assert_eq!(l[i], f32::NEG_INFINITY, "{k:?} n={n} log_softmax[{i}]");
                    }
                }
            }
        }
    }
}

#[test]
fn empty_rows_give_neg_inf_and_write_nothing() {
    for k in variants() {
        assert_eq!(k.log_sum_exp::<f32>(&[]), f32::NEG_INFINITY);
        let mut y: [f32; 0] = [];
        k.softmax::<f32>(&[], &mut y).unwrap();
        k.log_softmax::<f32>(&[], &mut y).unwrap();
        k.softmax_in_place(&mut y);
        k.log_softmax_in_place(&mut y);
    }
}

#[test]
fn finite_extremes_stay_correct() {
    let rows: [&[f32]; 8] = [
        &[3e38, 3e38, -3e38],
        &[f32::MAX, f32::MAX],
        &[-f32::MAX, -f32::MAX, -f32::MAX],
        &[-3e38, 0.0, 1.0],
        &[f32::MAX, -f32::MAX, 1.0, f32::NEG_INFINITY],
        &[1e-40, -1e-40, 0.0, f32::MIN_POSITIVE],
        &[16383.0, 16384.0, 16385.0],
        &[-16300.0, -16290.0, -16250.0],
    ];
    for k in variants() {
        for row in rows {
            for n in [row.len(), 40, 1100] {
                let x: Vec<f32> = row.iter().copied().cycle().take(n.max(row.len())).collect();
                let (y, _, lse) = check_row(k, &x, "extremes");
                assert!(lse.is_finite());
                assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
}
