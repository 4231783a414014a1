//! Accuracy at n = 2^22 for every algorithm and ISA: docs/accuracy.md's bounds do not loosen with
//! n, including sorted rows and ramps (where an online max rescales on every step).
//! Release builds only (`cargo test --release`); a debug build skips it as too slow.

mod common;

use common::{check_log_softmax, check_lse, check_softmax, variants, Dist};

#[test]
#[cfg_attr(debug_assertions, ignore = "2^22-element rows: run with --release")]
fn bounds_hold_at_4m() {
    let n = 1 << 22;
    let rows = [
        ("uniform [-1000, 1000]", Dist::Uniform1000.row(n, 1)),
        ("sorted", Dist::Sorted.row(n, 2)),
        (
            "ramp 0..40",
            (0..n).map(|i| i as f32 * (40.0 / n as f32)).collect(),
        ),
        ("constant", vec![-3.25; n]),
        ("N(0, 1)", Dist::Normal1.row(n, 3)),
        ("N(+-8000..16000, 30)", Dist::FarOffset.row(n, 4)),
    ];
    let mut y = vec![0.0; n];
    for (name, x) in &rows {
        for k in variants() {
            let ctx = format!("{k:?} {name}");
            k.softmax(x, &mut y).unwrap();
            check_softmax(x, &y, 1.0).unwrap_or_else(|e| panic!("{ctx}: softmax: {e}"));
            k.log_softmax(x, &mut y).unwrap();
            check_log_softmax(x, &y, 1.0).unwrap_or_else(|e| panic!("{ctx}: log_softmax: {e}"));
            check_lse(x, k.log_sum_exp(x), 1.0).unwrap_or_else(|e| panic!("{ctx}: lse: {e}"));
        }
    }
}

/// A row built against the online pass's jump test (found in review): a reference `a`, then in
/// every block of 64 vectors four of `b = a + 16 + 2^-20` (an exact `x - r` just past 16, which
/// must move the reference: rounded to 16 it left a term `e^16` short by 2^-20), one of values
/// 13 below `b`, and the rest `a + ln 0.49999` (each under half an ulp of a partial holding
/// `e^16`, so the partials' roundings add up). Softmax outputs went 2.03e-6 from the f64 value
/// (2.04e-6 down an axis, below).
fn jump_rounding_row(lanes: usize) -> Vec<f32> {
    let blocks = 64;
    let n = 64 * lanes * blocks;
    let terms = (4 * lanes * blocks) as f64;
    let a = ((-terms.ln() - 16.0) * 2f64.powi(19)).round() as f32 * 2f32.powi(-19);
    let b = (f64::from(a) + 16.0 + 2f64.powi(-20)) as f32;
    assert_eq!(f64::from(b) - f64::from(a), 16.0 + 2f64.powi(-20));
    let small = (f64::from(a) + 0.49999f64.ln()) as f32;
    (0..n)
        .map(|i| {
            let p = i % (64 * lanes);
            if i < lanes {
                a
            } else if p < 4 * lanes {
                b
            } else if p < 5 * lanes {
                (f64::from(b) - 13.0 + 1e-4 * ((i * 7919) % 10007) as f64) as f32
            } else {
                small
            }
        })
        .collect()
}

#[test]
fn online_jump_rounding() {
    for k in variants() {
        for lanes in [1, 8, 16] {
            let x = jump_rounding_row(lanes);
            let ctx = format!("{k:?} lanes {lanes}");
            let mut y = vec![0.0; x.len()];
            k.softmax(&x, &mut y).unwrap();
            check_softmax(&x, &y, 1.0).unwrap_or_else(|e| panic!("{ctx}: softmax: {e}"));
            k.log_softmax(&x, &mut y).unwrap();
            check_log_softmax(&x, &y, 1.0).unwrap_or_else(|e| panic!("{ctx}: log_softmax: {e}"));
            check_lse(&x, k.log_sum_exp(&x), 1.0).unwrap_or_else(|e| panic!("{ctx}: lse: {e}"));
        }
        // Down the columns of an axis: after the reference, in every 32 rows two of `b`, one 13
        // below it and 29 small (each partial adds 16 rows), at a few offsets.
        let (len, inner) = (32_000, 16);
        for off in 0..6 {
            let top = -((2 * len / 32) as f64).ln() + f64::from(off) * 0.0371;
            let a = ((top - 16.0) * 2f64.powi(19)).round() as f32 * 2f32.powi(-19);
            let b = (f64::from(a) + 16.0 + 2f64.powi(-20)) as f32;
            let small = (f64::from(a) + 0.49999f64.ln()) as f32;
            let t: Vec<f32> = (0..len * inner)
                .map(|i| match (i / inner, i % inner) {
                    (0, _) => a,
                    (r, _) if r % 32 < 2 => b,
                    (r, j) if r % 32 == 2 => {
                        (f64::from(b) - 13.0 + 1e-4 * ((r * 7919 + j * 31) % 10007) as f64) as f32
                    }
                    _ => small,
                })
                .collect();
            let mut ty = vec![0.0; t.len()];
            k.softmax_axis(&t, &mut ty, 1, len, inner).unwrap();
            for j in 0..inner {
                let col: Vec<f32> = (0..len).map(|r| t[r * inner + j]).collect();
                let out: Vec<f32> = (0..len).map(|r| ty[r * inner + j]).collect();
                check_softmax(&col, &out, 1.0)
                    .unwrap_or_else(|e| panic!("{k:?} offset {off}: softmax_axis column {j}: {e}"));
            }
        }
    }
}
