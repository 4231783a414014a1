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
