//! No public operation computes with a subnormal on normal inputs, whatever the ISA, algorithm
//! or element type: softmax, log-softmax, log-sum-exp (one-shot, by rows, streamed) and
//! cross-entropy (loss, gradient, every option) each run with MXCSR's FTZ on and the flags
//! cleared, where a tiny result sets UE, and with FTZ and DAZ off, where a subnormal operand
//! sets DE (see `kernels/tests/fpenv.rs` for why, and the one exception: f16 outputs below f16's
//! normal range are f16 subnormals by contract, so UE is not checked where f16 is stored).

#![cfg(target_arch = "x86_64")]

mod common;
#[path = "common/fpenv.rs"]
mod fpenv_common;

use fpenv_common::{inputs, Flags};
use twopass::{
    bf16, f16, fpenv, CrossEntropyOptions, CrossEntropyOutputs, CrossEntropyStream, Float, Kernels,
    LinearOutputs, LinearShape, LseState, Reduction, Shape,
};

/// Every operation of `k` on `x` as element type `T`; UE is checked on stores when
/// `stores_checked`.
fn run<T: Float>(k: Kernels, x: &[f32], flags: &mut Flags, stores_checked: bool) {
    let x: Vec<T> = x.iter().map(|&v| T::from_f32(v)).collect();
    let n = x.len();
    let mut y = x.clone();
    let what = |op: &str| format!("{} {:?} {op}", k.isa().name(), k.algorithm());
    flags.check(&what("softmax"), stores_checked, || {
        k.softmax(&x, &mut y).unwrap()
    });
    flags.check(&what("softmax_in_place"), stores_checked, || {
        let mut z = x.clone();
        k.softmax_in_place(&mut z)
    });
    flags.check(&what("log_softmax"), stores_checked, || {
        k.log_softmax(&x, &mut y).unwrap()
    });
    flags.check(&what("log_sum_exp"), true, || k.log_sum_exp(&x));
    // The row as a linear layer: up to 4 tokens of 8 features, the weights of n / 8 classes
    // the row backwards (logits far past the extended range for the wide inputs); the loss and
    // every gradient (f32 outputs whatever T).
    let (features, classes) = (8, n / 8);
    let tokens = classes.min(4);
    if tokens > 0 {
        let shape = LinearShape {
            tokens,
            features,
            classes,
        };
        let h = &x[..tokens * features];
        let w: Vec<T> = x.iter().rev().take(classes * features).copied().collect();
        let targets: Vec<i64> = (0..tokens).map(|i| ((i * 7) % classes) as i64).collect();
        let options = CrossEntropyOptions {
            label_smoothing: 0.1,
            ..Default::default()
        };
        flags.check(&what("linear_cross_entropy + gradients"), true, || {
            let (mut dh, mut dw) = (vec![0.0f32; h.len()], vec![0.0f32; w.len()]);
            let mut db = vec![0.0f32; classes];
            let out = LinearOutputs {
                d_hidden: Some(&mut dh),
                d_weight: Some(&mut dw),
                d_bias: Some(&mut db),
                ..Default::default()
            };
            k.linear_cross_entropy(h, &w, None, shape, &targets, &options, out)
                .unwrap()
        });
    }
    for params in [
        twopass::SampleParams::default(),
        twopass::SampleParams {
            temperature: 0.5,
            top_k: 40,
            top_p: 0.9,
            min_p: 0.01,
        },
    ] {
        flags.check(&what("sample"), true, || {
            k.sample(&x, &params, &mut twopass::RngState::new(1)).ok()
        });
        let mut p = vec![0.0f32; n];
        flags.check(&what("kept_probabilities"), true, || {
            k.kept_probabilities(&x, &params, &mut p).ok()
        });
    }
    // The row as (1, len, inner) tensors: 3 columns (folded, 16 rows side by side with AVX-512,
    // 2 with AVX2, their sums merged), two vectors or more, and a tile with gaps between
    // its rows (inner beyond AXIS_TILE).
    for inner in [3, 37, 1100].into_iter().filter(|&i| 2 * i <= n) {
        let len = n / inner;
        let t = &x[..len * inner];
        let what = |op: &str| what(&format!("{op} inner={inner}"));
        flags.check(&what("softmax_axis"), stores_checked, || {
            k.softmax_axis(t, &mut y[..len * inner], 1, len, inner)
                .unwrap()
        });
        flags.check(&what("log_softmax_axis"), stores_checked, || {
            k.log_softmax_axis(t, &mut y[..len * inner], 1, len, inner)
                .unwrap()
        });
        let mut out = vec![0.0; inner];
        flags.check(&what("log_sum_exp_axis"), true, || {
            k.log_sum_exp_axis(t, 1, len, inner, &mut out).unwrap()
        });
    }
    let mut state = LseState::new();
    flags.check(&what("lse_update + merge"), true, || {
        let (mut a, mut b) = (LseState::new(), LseState::new());
        k.lse_update(&mut a, &x[..n / 3]);
        k.lse_update(&mut b, &x[n / 3..]);
        a.merge(&b);
        state = a;
        a.value()
    });
    flags.check(&what("softmax_finish"), stores_checked, || {
        k.softmax_finish(&state, &x[n / 3..], &mut y[n / 3..])
            .unwrap()
    });
    flags.check(&what("log_softmax_finish"), stores_checked, || {
        k.log_softmax_finish(&state, &x[..n / 3], &mut y[..n / 3])
            .unwrap()
    });
    if n >= 2 {
        let (rows, cols) = (2, n / 2);
        let x = &x[..rows * cols];
        let weights: Vec<f32> = (0..cols).map(|i| 0.5 + (i % 7) as f32 * 0.25).collect();
        let plain = CrossEntropyOptions::default();
        let all = CrossEntropyOptions {
            label_smoothing: 0.1,
            z_loss: 1e-4,
            class_weights: Some(&weights),
            reduction: Reduction::Sum,
            ..plain
        };
        let targets = [0, cols as i64 - 1];
        for options in [plain, all] {
            let mut grad = x.to_vec();
            flags.check(&what("cross_entropy loss"), true, || {
                k.cross_entropy(
                    x,
                    Shape::new(rows, cols),
                    &targets,
                    &options,
                    CrossEntropyOutputs::default(),
                    None,
                )
                .unwrap()
            });
            flags.check(
                &what("cross_entropy loss + gradient"),
                stores_checked,
                || {
                    k.cross_entropy(
                        x,
                        Shape::new(rows, cols),
                        &targets,
                        &options,
                        CrossEntropyOutputs::default(),
                        Some((&mut grad, cols)),
                    )
                    .unwrap()
                },
            );
            // The same values as a (1, cols, 2) tensor: two rows, classes on the middle axis,
            // with the log-probabilities.
            let mut lp = x.to_vec();
            flags.check(
                &what("cross_entropy_axis + log_prob"),
                stores_checked,
                || {
                    k.cross_entropy_axis(
                        x,
                        (1, cols, rows),
                        &targets,
                        &options,
                        CrossEntropyOutputs {
                            log_prob: Some((&mut lp, 0)),
                            ..Default::default()
                        },
                        Some(&mut grad),
                    )
                    .unwrap()
                },
            );
            flags.check(&what("CrossEntropyStream"), stores_checked, || {
                let row = &x[..cols];
                let mut s = CrossEntropyStream::new(k, cols, targets[0], &options).unwrap();
                s.update(cols / 2, &row[cols / 2..]).unwrap();
                s.update(0, &row[..cols / 2]).unwrap();
                let done = s.finish().unwrap();
                let mut g = row.to_vec();
                done.gradient(0, row, &mut g, 0.5).unwrap();
                done.loss()
            });
        }
    }
}

#[test]
fn no_operation_computes_with_subnormals() {
    let mut flags = Flags::default();
    for (input, x) in inputs() {
        flags.input = input;
        for k in common::variants() {
            run::<f32>(k, &x, &mut flags, true);
            run::<f16>(k, &x, &mut flags, false);
            run::<bf16>(k, &x, &mut flags, true);
        }
        // The f64 functions (scalar, no ISA), on the same values.
        let wide: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let mut out = vec![0.0f64; wide.len()];
        flags.check("softmax_f64", true, || {
            twopass::softmax_f64(&wide, &mut out).unwrap()
        });
        flags.check("log_softmax_f64", true, || {
            twopass::log_softmax_f64(&wide, &mut out).unwrap()
        });
        flags.check("log_sum_exp_f64", true, || twopass::log_sum_exp_f64(&wide));
    }
    // f64 softmax outputs at the edge of the normal range: computed or 0, never subnormal.
    flags.input = "f64 [0, t], t from 40 ulps above ln 2^-1022 to 4 below".into();
    let ln_min = f64::MIN_POSITIVE.ln();
    for k in -40i64..=4 {
        let t = f64::from_bits(ln_min.to_bits().wrapping_add_signed(k));
        let mut y = [0.0; 2];
        flags.check("softmax_f64", true, || {
            twopass::softmax_f64(&[0.0, t], &mut y).unwrap()
        });
    }
    flags.assert_clean();
}

/// Rows past the crossover's `non_temporal_from` (non-temporal stores) and the blocked
/// algorithm's shortest blocks, with the row-level algorithms of each ISA.
#[test]
#[cfg_attr(debug_assertions, ignore = "4M-element rows: run with --release")]
fn long_rows_compute_no_subnormals() {
    let mut flags = Flags::default();
    let n = twopass::Crossover::of(twopass::Isa::Scalar).non_temporal_from + 5;
    let uniform = (0..n).map(|i| ((i.wrapping_mul(2654435761) % 2000) as f32) - 1000.0);
    let ramp = (0..n).map(|i| -130.0 + 130.0 * i as f32 / n as f32);
    for (name, x) in [
        ("uniform [-1000, 1000]", uniform.collect::<Vec<f32>>()),
        ("fine ramp [-130, 0]", ramp.collect()),
    ] {
        let mut y = vec![0.0f32; n];
        flags.input = format!("{name}, n = {n}");
        for k in common::variants() {
            let what = format!("{} {:?}", k.isa().name(), k.algorithm());
            flags.check(&format!("{what} softmax"), true, || {
                k.softmax(&x, &mut y).unwrap()
            });
            flags.check(&format!("{what} log_softmax"), true, || {
                k.log_softmax(&x, &mut y).unwrap()
            });
        }
    }
    flags.assert_clean();
}

/// NaN and `+inf` in one column of an axis (first, middle or last row), folded and not, with
/// `-inf` elsewhere: the other columns are computed as usual, and a special column's parts are
/// merged without an exp of their references (a part whose NaN the max lost sits at
/// `-f32::MAX`, where that exp underflowed: found in review).
#[test]
fn special_values_along_an_axis_compute_no_subnormals() {
    let mut flags = Flags::default();
    for (len, inner) in [
        (37, 2),
        (100, 3),
        (64, 5),
        (1000, 7),
        (33, 9),
        (64, 16),
        (40, 70),
    ] {
        let n = len * inner;
        for special in [f32::NAN, f32::INFINITY] {
            for row in [0, len / 2, len - 1] {
                let mut x: Vec<f32> = (0..n)
                    .map(|i| ((i * 7919) % 2000) as f32 / 100.0 - 10.0)
                    .collect();
                x[row * inner + inner - 1] = special;
                x[inner / 2] = f32::NEG_INFINITY;
                flags.input = format!("({len}, {inner}), {special} in row {row}");
                let (mut y, mut out) = (vec![0.0f32; n], vec![0.0f32; inner]);
                for k in common::variants() {
                    let what = |op: &str| format!("{} {:?} {op}", k.isa().name(), k.algorithm());
                    flags.check(&what("softmax_axis"), true, || {
                        k.softmax_axis(&x, &mut y, 1, len, inner).unwrap()
                    });
                    flags.check(&what("log_softmax_axis"), true, || {
                        k.log_softmax_axis(&x, &mut y, 1, len, inner).unwrap()
                    });
                    flags.check(&what("log_sum_exp_axis"), true, || {
                        k.log_sum_exp_axis(&x, 1, len, inner, &mut out).unwrap()
                    });
                }
            }
        }
    }
    flags.assert_clean();
}

#[test]
fn the_mxcsr_helpers_see_a_subnormal() {
    let tiny = std::hint::black_box(f32::MIN_POSITIVE);
    let (v, flags) = fpenv::run_with(fpenv::DEFAULT | fpenv::FLUSH_TO_ZERO, || {
        std::hint::black_box(tiny * 0.5)
    });
    assert_eq!(v, 0.0, "FTZ flushes");
    assert_ne!(flags & fpenv::UNDERFLOW, 0);
    // Without FTZ only an inexact tiny result sets UE (underflow is masked).
    let (v, flags) = fpenv::run_with(fpenv::DEFAULT, || std::hint::black_box(tiny * 0.3));
    assert!(v.is_subnormal());
    assert_ne!(flags & fpenv::UNDERFLOW, 0);
    let (_, flags) = fpenv::run_with(fpenv::DEFAULT, || std::hint::black_box(v) * 3.0);
    // (run_with keeps the product before its read of the flags.)
    assert_ne!(flags & fpenv::DENORMAL, 0);
    assert_eq!(fpenv::read() & 0xFFC0, fpenv::DEFAULT, "restored");
}

/// The fused linear + cross-entropy where the gradient's entries for unlikely classes are
/// tiny (probabilities near 2^-126) and meet small features: their products in `d_weight` would
/// be subnormal; the matrix products run flushing them, the caller's MXCSR restored after. And
/// a logit whose bias nearly cancels it.
#[test]
fn linear_gradients_of_tiny_probabilities_compute_no_subnormals() {
    let mut flags = Flags::default();
    flags.input =
        "logits 0, -85, -86 against features 0.01 .. 1; a logit of 1.5 * 2^-126, bias -2^-126"
            .into();
    let shape = LinearShape {
        tokens: 2,
        features: 4,
        classes: 3,
    };
    let h = [0.01f32, 0.02, 0.5, 1.0, 0.03, 0.01, 0.25, 1.0];
    let w = [
        0.0f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -85.0, 0.0, 0.0, 0.0, -86.0,
    ];
    for k in common::variants() {
        let what = format!(
            "{} {:?} linear_cross_entropy",
            k.isa().name(),
            k.algorithm()
        );
        flags.check(&what, true, || {
            let (mut dh, mut dw, mut db) = ([0.0f32; 8], [0.0f32; 12], [0.0f32; 3]);
            let out = LinearOutputs {
                d_hidden: Some(&mut dh),
                d_weight: Some(&mut dw),
                d_bias: Some(&mut db),
                ..Default::default()
            };
            let o = CrossEntropyOptions::default();
            let loss = k.linear_cross_entropy(&h, &w, None, shape, &[0, 0], &o, out);
            (loss.unwrap(), dw)
        });
        // A logit of 1.5 * 2^-126 and a bias of -2^-126: their sum is subnormal.
        let shape = LinearShape {
            tokens: 1,
            features: 1,
            classes: 2,
        };
        let (h, w, bias) = (
            [2f32.powi(-63)],
            [1.5 * 2f32.powi(-63), 0.0],
            [-2f32.powi(-126), 0.0],
        );
        flags.check(&format!("{what} with a bias"), true, || {
            let o = CrossEntropyOptions::default();
            k.linear_cross_entropy(
                &h,
                &w,
                Some(&bias),
                shape,
                &[1],
                &o,
                LinearOutputs::default(),
            )
            .unwrap()
        });
    }
    flags.assert_clean();
}

/// A class weight near f32's limit puts the gradient's coefficients past f32, so its entries
/// come from f64, one by one: those far below the allowance are 0, not subnormal (found in
/// review: `x = [0, -200]`, weight 3e38 on the target made an entry of 4e-49).
#[test]
fn gradients_past_the_pass_compute_no_subnormals() {
    let mut flags = Flags::default();
    let (x, w) = ([0.0f32, -200.0, -150.0, 3.0], [3e38f32, 1.0, 2.0, 0.5]);
    let options = CrossEntropyOptions {
        class_weights: Some(&w),
        reduction: Reduction::Sum,
        ..CrossEntropyOptions::default()
    };
    flags.input = format!("{x:?}, weights {w:?}");
    for k in common::variants() {
        let mut grad = [0.0f32; 4];
        flags.check(
            &format!("{} cross_entropy gradient", k.isa().name()),
            true,
            || {
                k.cross_entropy(
                    &x,
                    Shape::new(1, 4),
                    &[0],
                    &options,
                    CrossEntropyOutputs::default(),
                    Some((&mut grad, 4)),
                )
                .unwrap()
            },
        );
    }
    flags.assert_clean();
}
