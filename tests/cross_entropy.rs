//! Cross-entropy against an f64 implementation of docs/accuracy.md's formulas and bounds: every
//! option combination, odd class counts, confident targets, +-1e4 and -inf logits, ignored
//! rows, chunked streams against one-shot, in place against a separate gradient, per ISA.

mod common;

use common::cross_entropy::{check_case, check_chunked, make_case, row_ref};
use common::isas_under_test;
use proptest::prelude::*;
use twopass::{
    CrossEntropyOptions, CrossEntropyOutputs, CrossEntropyStream, Error, Kernels, Reduction, Shape,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn cross_entropy_meets_the_reference(seed in any::<u64>()) {
        let case = make_case(seed);
        for isa in isas_under_test() {
            let k = Kernels::new(isa).unwrap();
            check_case(k, &case).map_err(|e| TestCaseError::fail(format!("{isa:?} seed={seed}: {e}\n{case:?}")))?;
            check_chunked(k, &case, seed).map_err(|e| TestCaseError::fail(format!("{isa:?} seed={seed}: {e}")))?;
        }
    }
}

#[test]
fn confident_target_keeps_its_gradient() {
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for (gap, cols) in [(20.0f32, 1000), (40.0, 17), (60.0, 4099)] {
            let mut x: Vec<f32> = (0..cols).map(|i| (i % 7) as f32 * 0.1).collect();
            x[3] = 0.6 + gap;
            let mut g = vec![0.0; cols];
            let o = CrossEntropyOptions::default();
            k.cross_entropy(
                &x,
                Shape::new(1, cols),
                &[3],
                &o,
                CrossEntropyOutputs::default(),
                Some((&mut g, cols)),
            )
            .unwrap();
            let want = row_ref(&x, 3, &o).one_minus_p_t;
            assert!(
                (f64::from(-g[3]) - want).abs() <= 1e-3 * want,
                "{isa:?} gap {gap}: {} vs {want:e}",
                g[3]
            );
            assert!(g[3] < 0.0);
        }
    }
}

#[test]
fn bad_arguments_are_errors_and_write_nothing() {
    let k = Kernels::active();
    let x = vec![0.5f32; 12];
    let shape = Shape::new(3, 4);
    let weights = [1.0f32, 2.0, -1.0, 0.0];
    let nan_w = [1.0f32, f32::NAN, 1.0, 1.0];
    let cases: Vec<(CrossEntropyOptions, Vec<i64>, Error)> = vec![
        (
            CrossEntropyOptions::default(),
            vec![0, 4, 1],
            Error::TargetOutOfRange {
                row: 1,
                target: 4,
                classes: 4,
            },
        ),
        (
            CrossEntropyOptions::default(),
            vec![0, -1, 1],
            Error::TargetOutOfRange {
                row: 1,
                target: -1,
                classes: 4,
            },
        ),
        (
            CrossEntropyOptions {
                label_smoothing: 1.5,
                ..Default::default()
            },
            vec![0, 1, 2],
            Error::InvalidOption {
                name: "label_smoothing",
                value: 1.5,
            },
        ),
        (
            CrossEntropyOptions {
                z_loss: -1.0,
                ..Default::default()
            },
            vec![0, 1, 2],
            Error::InvalidOption {
                name: "z_loss",
                value: -1.0,
            },
        ),
        (
            CrossEntropyOptions {
                class_weights: Some(&weights),
                ..Default::default()
            },
            vec![0, 1, 2],
            Error::InvalidWeight {
                class: 2,
                weight: -1.0,
            },
        ),
        (
            CrossEntropyOptions {
                class_weights: Some(&weights[..3]),
                ..Default::default()
            },
            vec![0, 1, 2],
            Error::WrongLength {
                buffer: "class_weights",
                len: 3,
                expected: 4,
            },
        ),
        (
            CrossEntropyOptions::default(),
            vec![0, 1],
            Error::WrongLength {
                buffer: "targets",
                len: 2,
                expected: 3,
            },
        ),
    ];
    for (o, targets, want) in cases {
        let (mut l, mut g) = (vec![9.0f32; 3], vec![9.0f32; 12]);
        let out = CrossEntropyOutputs {
            row_losses: Some(&mut l),
            ..Default::default()
        };
        assert_eq!(
            k.cross_entropy(&x, shape, &targets, &o, out, Some((&mut g, 4))),
            Err(want)
        );
        assert!(l.iter().chain(&g).all(|&v| v == 9.0));
    }
    let o = CrossEntropyOptions {
        class_weights: Some(&nan_w),
        ..Default::default()
    };
    assert!(matches!(
        k.cross_entropy(&x, shape, &[0, 1, 2], &o, Default::default(), None),
        Err(Error::InvalidWeight { class: 1, .. })
    ));
    let o = CrossEntropyOptions {
        label_smoothing: f32::NAN,
        ..Default::default()
    };
    assert!(matches!(
        k.cross_entropy(&x, shape, &[0, 1, 2], &o, Default::default(), None),
        Err(Error::InvalidOption { .. })
    ));
    let o = CrossEntropyOptions::default();
    assert_eq!(
        k.cross_entropy::<f32>(&[], Shape::new(2, 0), &[0, 0], &o, Default::default(), None),
        Err(Error::NoClasses)
    );
    let mut g = vec![0.0f32; 11];
    assert_eq!(
        k.cross_entropy(
            &x,
            shape,
            &[0, 1, 2],
            &o,
            Default::default(),
            Some((&mut g, 4))
        ),
        Err(Error::BufferTooShort {
            buffer: "grad",
            needed: 12,
            len: 11
        })
    );
    let mut l = vec![0.0f32; 2];
    let out = CrossEntropyOutputs {
        row_lse: Some(&mut l),
        ..Default::default()
    };
    assert_eq!(
        k.cross_entropy(&x, shape, &[0, 1, 2], &o, out, None),
        Err(Error::WrongLength {
            buffer: "row_lse",
            len: 2,
            expected: 3
        })
    );
    let up = [1.0f32, 2.0];
    let out = CrossEntropyOutputs {
        grad_output: Some(&up),
        ..Default::default()
    };
    assert_eq!(
        k.cross_entropy(&x, shape, &[0, 1, 2], &o, out, None),
        Err(Error::WrongLength {
            buffer: "grad_output",
            len: 2,
            expected: 1
        })
    );
    // Options are checked even when there are no rows (found by the fuzzer).
    let bad = CrossEntropyOptions {
        z_loss: f32::NAN,
        ..Default::default()
    };
    assert!(matches!(
        k.cross_entropy::<f32>(&[], Shape::new(0, 3), &[], &bad, Default::default(), None),
        Err(Error::InvalidOption { .. })
    ));
    let mut s = CrossEntropyStream::new(k, 4, 1, &o).unwrap();
    assert_eq!(
        s.update(3, &[1.0, 2.0]),
        Err(Error::ChunkOutOfRow {
            offset: 3,
            len: 2,
            cols: 4
        })
    );
    s.update(0, &[1.0, 2.0]).unwrap();
    assert_eq!(
        s.finish().map(|r| r.loss()),
        Err(Error::ChunkOutOfRow {
            offset: 2,
            len: 0,
            cols: 4
        })
    );
    // Found by review: the same chunk given twice counted as four columns, and the row
    // finished with a loss from columns 0 and 1 alone. A row whose target's column (3 here)
    // never came is refused; other overlaps stay the caller's to avoid.
    let mut twice = CrossEntropyStream::new(k, 4, 3, &o).unwrap();
    twice.update(0, &[1.0, 2.0]).unwrap();
    twice.update(0, &[1.0, 2.0]).unwrap();
    assert_eq!(
        twice.finish().map(|r| r.loss()),
        Err(Error::ChunkOutOfRow {
            offset: 4,
            len: 0,
            cols: 4
        })
    );
}

#[test]
fn all_rows_ignored_gives_nan_mean_and_zero_gradient() {
    let k = Kernels::active();
    let x = [1.0f32, f32::NAN, 3.0, 4.0];
    let mut g = [5.0f32; 4];
    let o = CrossEntropyOptions::default();
    let loss = k
        .cross_entropy(
            &x,
            Shape::new(2, 2),
            &[-100, -100],
            &o,
            Default::default(),
            Some((&mut g, 2)),
        )
        .unwrap();
    assert!(loss.is_nan());
    assert_eq!(g, [0.0; 4]);
    let o = CrossEntropyOptions {
        reduction: Reduction::Sum,
        ..Default::default()
    };
    assert_eq!(
        k.cross_entropy(
            &x,
            Shape::new(2, 2),
            &[-100, -100],
            &o,
            Default::default(),
            None
        ),
        Ok(0.0)
    );
    assert_eq!(
        k.cross_entropy::<f32>(&[], Shape::new(0, 5), &[], &o, Default::default(), None),
        Ok(0.0)
    );
}

/// Found by the cross_entropy fuzzer: a z-loss of 1e56 overflows f32, and the row loss must be
/// `+inf` (the f32 rounding), not a finite value.
#[test]
fn loss_beyond_f32_range_is_infinite() {
    let logits = vec![
        3.976717,
        2.2416277e-36,
        1.8007324e-31,
        -6.14329e-29,
        1.9469223e-11,
        6070307.5,
        2.4961165e-20,
        -2.089438e-39,
        -9.928454e25,
        -11559564000.0,
        -1.3192825e-31,
        2.3923242e29,
        1.7153113e-9,
        1.605508e18,
        -5.1190257,
        -2.783991e-5,
        -0.027922727,
        -1.1223102e-9,
        -2044724600.0,
        2.7211554e-26,
        -4.588301e-16,
        -2.496428e37,
        3.3263906e38,
        -171260.5,
        -3.896715e-36,
        -1.4314881e-18,
        -6.360772e-22,
        5.369148e16,
        1.3327153e-36,
        6.6916e-41,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    let case = common::cross_entropy::Case {
        rows: 2,
        cols: 17,
        logits,
        targets: vec![3, 5],
        ignore_index: -100,
        eps: 1.0,
        z: 0.002,
        weights: None,
        reduction: Reduction::Mean,
        grad_output: None,
    };
    check_finding(&case, 0);
}

/// Found by the cross_entropy fuzzer: at logits near 1.2e30, `max + ln(sum)` rounds to `max`
/// even in f64, so the gradient must use `exp((x - max) - ln(sum))`.
#[test]
fn gradient_keeps_the_log_sum_apart_at_huge_logits() {
    let big = [1.1955599e30f32, 1.1955685e30];
    let case = common::cross_entropy::Case {
        rows: 1,
        cols: 9,
        logits: vec![
            1.59375,
            2.3440024e-38,
            7e-45,
            big[0],
            big[1],
            big[1],
            big[1],
            big[1],
            big[1],
        ],
        targets: vec![0],
        ignore_index: -51,
        eps: 2.868e-42,
        z: 0.0,
        weights: None,
        reduction: Reduction::None,
        grad_output: None,
    };
    check_finding(&case, 0);
}

/// Found by the cross_entropy fuzzer: a mean over a subnormal target weight makes the row's
/// scale overflow f32; the gradient is still the (finite) product.
#[test]
fn huge_gradient_scale_stays_finite() {
    let case = common::cross_entropy::Case {
        rows: 1,
        cols: 1,
        logits: vec![0.0],
        targets: vec![0],
        ignore_index: 13,
        eps: 1.0,
        z: 0.0,
        weights: Some(vec![1.3e-44]),
        reduction: Reduction::Mean,
        grad_output: Some(vec![-2.0]),
    };
    check_finding(&case, 0);
}

/// Found by the cross_entropy fuzzer: with logits and weights near f32's limit the smoothing
/// term is `W ln(s)`, which `W lse - sum w x` loses even in f64; the loss overflows to `+inf`.
#[test]
fn smoothing_keeps_the_log_sum_apart() {
    let big = 3.3961514e38f32;
    let mut weights = vec![big; 9];
    weights[0] = 1.7014126e38;
    let case = common::cross_entropy::Case {
        rows: 1,
        cols: 9,
        logits: vec![big; 9],
        targets: vec![7],
        ignore_index: -52,
        eps: 0.25,
        z: 0.0,
        weights: Some(weights),
        reduction: Reduction::Mean,
        grad_output: None,
    };
    check_finding(&case, 0);
}

/// Found by the cross_entropy fuzzer: class weights near 1e-41 make the gradient's f32
/// coefficients subnormal (10 bits of precision); the gradient is then formed in f64.
#[test]
fn subnormal_gradient_coefficients() {
    let mut weights = vec![0.0; 9];
    weights[8] = 5.668e-41;
    let case = common::cross_entropy::Case {
        rows: 1,
        cols: 9,
        logits: vec![
            -1.0384593e34,
            0.0,
            0.0,
            0.0,
            2.3509887e-38,
            6e-45,
            2.0155945,
            1.00355e-40,
            0.0,
        ],
        targets: vec![0],
        ignore_index: -52,
        eps: 0.25,
        z: 0.0,
        weights: Some(weights),
        reduction: Reduction::Sum,
        grad_output: None,
    };
    check_finding(&case, 0);
}

/// Found by the cross_entropy fuzzer: the extended sum keeps its exponent up to 2^64 below the
/// largest term, so the log-sum-exp must be re-split around an f32 next to it before the
/// gradient pass (else `exp(x - reference)` leaves its range and the scale underflows).
#[test]
fn gradient_reference_sits_at_the_log_sum_exp() {
    let mut logits = vec![
        -6.023529f32,
        -6.023529,
        24.094116,
        -6.023529,
        -6.023529,
        1.3e-44,
    ];
    logits.extend(vec![0.0; 20]);
    let case = common::cross_entropy::Case {
        rows: 2,
        cols: 13,
        logits,
        targets: vec![0, 0],
        ignore_index: 3,
        eps: 0.75,
        z: 4.8543357e-36,
        weights: Some(vec![0.0; 13]),
        reduction: Reduction::None,
        grad_output: Some(vec![-2.0, -2.0]),
    };
    check_finding(&case, 0);
}

/// Found by the cross_entropy fuzzer: a z-loss and weights near 2e37 give a gradient scale of
/// -3e38; the kernel's `2^(n + k)` (`k` the scale's exponent) must stay below 2^125, so such
/// scales take the f64 path.
#[test]
fn gradient_scale_near_f32_max() {
    let mut weights = vec![2.1059141e37; 8];
    weights.push(4.5017e-41);
    weights.extend(vec![0.0; 14]);
    let case = common::cross_entropy::Case {
        rows: 1,
        cols: 23,
        logits: vec![0.0; 23],
        targets: vec![0],
        ignore_index: -51,
        eps: 0.25,
        z: 2.104049e37,
        weights: Some(weights),
        reduction: Reduction::Sum,
        grad_output: Some(vec![-2.0]),
    };
    check_finding(&case, 0);
}

/// Found by the cross_entropy fuzzer: subnormal class weights make subnormal gradients, which a
/// chunked and a one-shot pass may round one subnormal step apart (each within one step of the
/// reference).
#[test]
fn subnormal_gradients_chunked() {
    let case = common::cross_entropy::Case {
        rows: 3,
        cols: 3,
        logits: vec![0.0; 9],
        targets: vec![0, 0, 0],
        ignore_index: 9,
        eps: 0.75,
        z: 0.0,
        weights: Some(vec![1.1851e-41, 0.0, 0.0]),
        reduction: Reduction::Sum,
        grad_output: None,
    };
    check_finding(&case, 64);
}

/// Found by the cross_entropy fuzzer: with full smoothing, weights near 3e26 and logits near
/// f32::MAX, `W lse - sum w x` cancels in f64 and one pass may round the loss to infinity where
/// another stays finite: both are within the bound (which scales with `sum |w x|`).
#[test]
fn smoothing_cancellation_at_f32_max_chunked() {
    let case = common::cross_entropy::Case {
        rows: 1,
        cols: 8,
        logits: vec![3.3961514e38; 8],
        targets: vec![1],
        ignore_index: 120,
        eps: 1.0,
        z: 5.38e-43,
        weights: Some(vec![
            9.403955e-38,
            0.0,
            2.8417313e26,
            3823649000000000.0,
            3823629300000000.0,
            3823644300000000.0,
            3823644300000000.0,
            1.6422427e25,
        ]),
        reduction: Reduction::None,
        grad_output: None,
    };
    check_finding(&case, 64);
}

/// A fuzz finding: `case` against the reference on every ISA under test, and `chunkings` random
/// chunkings of it against the one-shot result.
fn check_finding(case: &common::cross_entropy::Case, chunkings: u64) {
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        check_case(k, case).unwrap_or_else(|e| panic!("{isa:?}: {e}"));
        for seed in 0..chunkings {
            check_chunked(k, case, seed).unwrap_or_else(|e| panic!("{isa:?} chunked: {e}"));
        }
    }
}

/// Found by the cross_entropy fuzzer: logits far beyond the extended sum's bound (2.4e14) in the
/// run before the target. The lane exponents, primed from that run's max, sat so high that its
/// terms vanished, and the sum of the zeros after the target passed for the whole row (loss 5.9
/// instead of 6.5e14). The primed exponents are capped at the bound's, and a sum whose lane
/// exponents rose beyond it reports itself out of range, which forces the max path.
#[test]
fn logits_beyond_the_extended_bound() {
    let mut logits = vec![0.0f32; 67];
    logits[..3].copy_from_slice(&[236770120000000.0, -1819583800000.0, 236770120000000.0]);
    let mut weights = vec![3.0f32; 67];
    for j in [38, 39, 40, 41, 42, 43, 47, 57, 58] {
        weights[j] = 0.0;
    }
    let case = common::cross_entropy::Case {
        rows: 1,
        cols: 67,
        logits,
        targets: vec![17],
        ignore_index: -119,
        eps: 0.5,
        z: 0.0,
        weights: Some(weights),
        reduction: Reduction::None,
        grad_output: None,
    };
    check_finding(&case, 16);
}

/// Found by the cross_entropy fuzzer: a target weight just above f32's smallest normal makes
/// the target entry's gradient `-(1 - p_t) w_t` subnormal, which docs/accuracy.md holds to relative
/// precision (`1 - p_t >= 1e-30`): it must not be flushed to 0 as results below the contract's
/// absolute allowance are.
#[test]
fn tiny_target_weight_keeps_the_target_gradient() {
    let mut weights = vec![0.0f32; 57];
    weights[..6].copy_from_slice(&[
        1.1664543e-38,
        0.0,
        1.754581e38,
        7.354e-41,
        9.2123e-41,
        2.2959e-41,
    ]);
    let case = common::cross_entropy::Case {
        rows: 1,
        cols: 57,
        logits: vec![0.0; 57],
        targets: vec![0],
        ignore_index: 1,
        eps: 0.0,
        z: 0.0,
        weights: Some(weights),
        reduction: Reduction::None,
        grad_output: None,
    };
    check_finding(&case, 16);
}

/// Found by the cross_entropy fuzzer: huge class weights (8.46e37, `W` beyond f32) and a
/// z-loss as large put the loss beyond f32's range; one logit is subnormal, the rest 0. The
/// chunked loss must round to infinity like the one-shot one, not NaN.
#[test]
fn huge_weights_and_z_loss_stay_infinite_chunked() {
    let mut logits = vec![0.0f32; 28];
    logits[5] = 2.5e-44;
    let case = common::cross_entropy::Case {
        rows: 2,
        cols: 14,
        logits,
        targets: vec![7, 7],
        ignore_index: -1,
        eps: 0.25,
        z: 8.46e37,
        weights: Some(vec![8.46e37; 14]),
        reduction: Reduction::None,
        grad_output: Some(vec![-2.0, -2.0]),
    };
    check_finding(&case, 64);
}

/// Found by the cross_entropy fuzzer (CI, seed 1): class weights from 1.9e-38 to 1.9e31 and a
/// mean over target weights of 6e-38 make the gradient's bound (7.6e61) wider than f32's range;
/// the f64 sum `a p - (eps / C) w` cancels to its rounding (about 1e15 at 4.8e30), so the scalar
/// gradient overflows to +inf where the reference is -2.2e36. Within the bound (some value within
/// it rounds to +inf): the check must accept an infinity of either sign there.
#[test]
fn overflowing_gradient_bound_allows_either_infinity() {
    let case = common::cross_entropy::Case {
        rows: 3,
        cols: 3,
        logits: vec![
            3.3695302e-20,
            3.3695302e-20,
            3.3695302e-20,
            3.3695302e-20,
            2.3509974e-38,
            163.8878,
            6e-45,
            1.9288173e31,
            1.9288173e31,
        ],
        targets: vec![0, 1, 1],
        ignore_index: 3,
        eps: 0.75,
        z: 0.002,
        weights: Some(vec![2.4271944e-38, 1.8826648e-38, 1.9331517e31]),
        reduction: Reduction::Mean,
        grad_output: Some(vec![-0.203125]),
    };
    check_finding(&case, 8);
}

/// Logits sharing a large offset (un-normalised scores): every row loss within
/// `2e-6 * max(1, |loss|)` of the f64 value, with label smoothing 0.1 and 1.0, without and with
/// class weights (zeros among them), one-shot and streamed in chunks. Label smoothing's
/// `W lse - sum_c w_c x_c` cancelled before (a constant row of 1e10 lost its smoothing term).
#[test]
fn common_offsets_keep_the_loss() {
    let mut r = common::Rng::new(11);
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for offset in [1e4f32, -3e5, 1e10, 1e20, -1e30, 3e38] {
            for cols in [100usize, 1000] {
                for spread in [0.0, 2.0] {
                    let x: Vec<f32> = (0..cols)
                        .map(|_| (f64::from(offset) + spread * r.normal()) as f32)
                        .collect();
                    let w: Vec<f32> = (0..cols).map(|j| (j % 4) as f32 * 0.5).collect();
                    for eps in [0.1f32, 1.0] {
                        for weights in [None, Some(&w[..])] {
                            let target = 1 + r.below(cols - 1) / 4 * 4; // a nonzero weight
                            let o = CrossEntropyOptions {
                                label_smoothing: eps,
                                class_weights: weights,
                                reduction: Reduction::None,
                                ..CrossEntropyOptions::default()
                            };
                            let want = row_ref(&x, target, &o).loss;
                            let what = format!("{isa:?} offset {offset} cols {cols} spread {spread} eps {eps} weights {}", weights.is_some());
                            let mut loss = [0.0f32];
                            let out = CrossEntropyOutputs {
                                row_losses: Some(&mut loss),
                                ..CrossEntropyOutputs::default()
                            };
                            k.cross_entropy(
                                &x,
                                Shape::new(1, cols),
                                &[target as i64],
                                &o,
                                out,
                                None,
                            )
                            .unwrap();
                            let mut stream =
                                CrossEntropyStream::new(k, cols, target as i64, &o).unwrap();
                            for (i, chunk) in x.chunks(37).enumerate() {
                                stream.update(i * 37, chunk).unwrap();
                            }
                            let streamed = stream.finish().unwrap().loss();
                            for (how, got) in [("one-shot", loss[0]), ("streamed", streamed)] {
                                let err = (f64::from(got) - want).abs();
                                assert!(
                                    err <= 2e-6 * want.abs().max(1.0),
                                    "{what} {how}: {got} against {want} (error {err:e})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A heavy class weight with label smoothing (found in review): where that class holds the
/// row's max, `lse - x_h` is small, and `W (lse - m)` would multiply `ln s`'s rounding (a few
/// f32 roundings) by the weight, 0.02-0.08 off a loss of 69.5 (16 classes, weight 1e8 on a
/// class 12 above the rest, smoothing 0.1). Its term is kept apart (a weight of more than a
/// quarter of all), so every row loss is within `2e-6 * max(1, |loss|)`: weights up to 1e30 on
/// the max, below it and on the target, offsets up to 1e30, one-shot, streamed in chunks and as
/// two streams merged.
#[test]
fn heavy_smoothing_weights_keep_their_bound() {
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for cols in [2usize, 16, 1000] {
            let mx = cols / 2;
            for (gap, heavy) in [
                (12.0f32, 1e8f32),
                (16.0, 1e8),
                (7.0, 1e5),
                (30.0, 1e30),
                (3.0, 1e30),
                (0.0, 1e8),
                (12.0, 4.0), // 16 classes: under a quarter of W, not kept apart
                (30.0, 4.0),
            ] {
                for offset in [0.0f32, 1e4, -1e30] {
                    let mut x: Vec<f32> =
                        (0..cols).map(|j| offset + (j % 5) as f32 * 0.25).collect();
                    x[mx] = offset + gap + 1.0;
                    for (h, t) in [(mx, 0), (mx, mx), (0, mx), (0, cols - 1)] {
                        let mut w: Vec<f32> =
                            (0..cols).map(|j| (j % 7 != 3) as u8 as f32).collect();
                        w[h] = heavy;
                        for eps in [0.1f32, 1.0] {
                            let o = CrossEntropyOptions {
                                label_smoothing: eps,
                                class_weights: Some(&w),
                                reduction: Reduction::None,
                                ..CrossEntropyOptions::default()
                            };
                            let want = row_ref(&x, t, &o).loss;
                            let mut loss = [0.0f32];
                            let out = CrossEntropyOutputs {
                                row_losses: Some(&mut loss),
                                ..CrossEntropyOutputs::default()
                            };
                            k.cross_entropy(&x, Shape::new(1, cols), &[t as i64], &o, out, None)
                                .unwrap();
                            let stream = || CrossEntropyStream::new(k, cols, t as i64, &o).unwrap();
                            let mut chunked = stream();
                            for (i, chunk) in x.chunks(7).enumerate().rev() {
                                chunked.update(i * 7, chunk).unwrap();
                            }
                            let (mut a, mut b) = (stream(), stream());
                            a.update(0, &x[..mx]).unwrap();
                            b.update(mx, &x[mx..]).unwrap();
                            a.merge(&b).unwrap();
                            let ways = [
                                ("one-shot", loss[0]),
                                ("streamed", chunked.finish().unwrap().loss()),
                                ("merged", a.finish().unwrap().loss()),
                            ];
                            for (how, got) in ways {
                                let err = (f64::from(got) - want).abs();
                                assert!(
                                    err <= 2e-6 * want.abs().max(1.0),
                                    "{isa:?} cols {cols} gap {gap} weight {heavy} offset {offset} h {h} t {t} eps {eps} {how}: {got} against {want} (error {err:e})",
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A heavy target whose chunk's weighted logit sum overflows f32 (a weight of 5e35 on a logit
/// 1000 below the max), so the sum is redone in f64 (found in review: the target's term was
/// then counted twice, 3% high with smoothing 0.1, 17% with 1.0).
#[test]
fn heavy_target_with_an_overflowing_logit_sum() {
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        let (x, w) = ([0.0f32, -1000.0, -100.0], [1.0f32, 5e35, 1e36]);
        for eps in [0.1f32, 1.0] {
            let o = CrossEntropyOptions {
                label_smoothing: eps,
                class_weights: Some(&w),
                reduction: Reduction::None,
                ..CrossEntropyOptions::default()
            };
            let want = row_ref(&x, 2, &o).loss;
            let mut loss = [0.0f32];
            let out = CrossEntropyOutputs {
                row_losses: Some(&mut loss),
                ..CrossEntropyOutputs::default()
            };
            k.cross_entropy(&x, Shape::new(1, 3), &[2], &o, out, None)
                .unwrap();
            let err = (f64::from(loss[0]) - want).abs();
            assert!(
                err <= 2e-6 * want.abs(),
                "{isa:?} eps {eps}: {} against {want}",
                loss[0]
            );
        }
    }
}

/// With label smoothing and class weights the one pass reads three runs (around the target
/// and the heaviest class): a NaN or `+inf` in any of them makes the row special (loss NaN, lse
/// NaN or `+inf`), whatever the other runs hold (found by the property test: an `+inf` run
/// followed by a finite one was lost).
#[test]
fn special_values_in_any_run_keep_the_row_special() {
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        let cols = 20;
        let mut w = vec![1.0f32; cols];
        w[12] = 3.0; // the heaviest; the target is 5
        for at in [0, 8, 16] {
            for (v, lse_want) in [(f32::NAN, f32::NAN), (f32::INFINITY, f32::INFINITY)] {
                let mut x: Vec<f32> = (0..cols).map(|j| j as f32 * 0.1).collect();
                x[at] = v;
                let o = CrossEntropyOptions {
                    label_smoothing: 0.1,
                    class_weights: Some(&w),
                    ..CrossEntropyOptions::default()
                };
                let mut stream = CrossEntropyStream::new(k, cols, 5, &o).unwrap();
                stream.update(0, &x).unwrap();
                let row = stream.finish().unwrap();
                let lse = row.lse();
                assert!(
                    row.loss().is_nan(),
                    "{isa:?} {v} at {at}: loss {}",
                    row.loss()
                );
                assert!(
                    lse.to_bits() == lse_want.to_bits() || lse.is_nan() && lse_want.is_nan(),
                    "{isa:?} {v} at {at}: lse {lse}"
                );
            }
        }
    }
}

/// `ignore_index: None` ignores no row: a target equal to the usual -100 is out of range, and a
/// target equal to any value counts; with no target hit, the results equal the default's.
#[test]
fn no_ignore_index_ignores_nothing() {
    let k = Kernels::active();
    let logits = [0.5f32, 2.0, -1.0, 0.25, 3.0, 1.0];
    let shape = Shape::new(2, 3);
    let none = CrossEntropyOptions {
        ignore_index: None,
        ..Default::default()
    };
    assert_eq!(
        k.cross_entropy(&logits, shape, &[-100, 1], &none, Default::default(), None),
        Err(twopass::Error::TargetOutOfRange {
            row: 0,
            target: -100,
            classes: 3
        })
    );
    let with = CrossEntropyOptions {
        ignore_index: Some(2),
        ..Default::default()
    };
    let (mut a, mut b) = ([0.0f32; 2], [0.0f32; 2]);
    fn out(l: &mut [f32]) -> CrossEntropyOutputs<'_> {
        CrossEntropyOutputs {
            row_losses: Some(l),
            ..Default::default()
        }
    }
    let all = k
        .cross_entropy(&logits, shape, &[2, 0], &none, out(&mut a), None)
        .unwrap();
    let one = k
        .cross_entropy(&logits, shape, &[2, 0], &with, out(&mut b), None)
        .unwrap();
    assert!(a[0] > 0.0 && b[0] == 0.0, "{a:?} {b:?}");
    assert_eq!(a[1], b[1]);
    assert!((all - (a[0] + a[1]) / 2.0).abs() < 1e-6 && one == b[1]);
}

/// The `(outer, cols, inner)` form against the rows form on the same rows (the tensor built by
/// moving the classes to the middle axis): row losses, lse (ignored rows' too), log_prob, the
/// gradient (separate and in place) and the reduced loss. Up to 256 classes a row is one chunk
/// and the results are the same bits; beyond, the chunked stream is held to the reference.
#[test]
fn class_axis_matches_the_rows_form() {
    for seed in 0..300u64 {
        let case = make_case(seed);
        let (rows, cols) = (case.rows, case.cols);
        // Rows split as (outer, inner) = (2, rows / 2) when even, else (1, rows).
        let (outer, inner) = if rows % 2 == 0 && rows > 0 {
            (2, rows / 2)
        } else {
            (1, rows)
        };
        let at = |r: usize, c: usize| ((r / inner) * cols + c) * inner + r % inner;
        let mut x = vec![0.0f32; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                x[at(r, c)] = case.logits[r * cols + c];
            }
        }
        let o = case.options();
        let k = Kernels::active();
        let n = rows * cols;
        let (mut l1, mut e1, mut p1, mut g1) =
            (vec![0.0; rows], vec![0.0; rows], vec![0.0; n], vec![0.0; n]);
        let (mut l2, mut e2, mut p2, mut g2) =
            (vec![0.0; rows], vec![0.0; rows], vec![0.0; n], vec![0.0; n]);
        let want = k.cross_entropy(
            &case.logits,
            Shape::new(rows, cols),
            &case.targets,
            &o,
            CrossEntropyOutputs {
                row_losses: Some(&mut l1),
                row_lse: Some(&mut e1),
                ignored_row_lse: true,
                log_prob: Some((&mut p1, cols)),
                grad_output: case.grad_output.as_deref(),
            },
            Some((&mut g1, cols)),
        );
        let got = k.cross_entropy_axis(
            &x,
            (outer, cols, inner),
            &case.targets,
            &o,
            CrossEntropyOutputs {
                row_losses: Some(&mut l2),
                row_lse: Some(&mut e2),
                ignored_row_lse: true,
                log_prob: Some((&mut p2, 0)),
                grad_output: case.grad_output.as_deref(),
            },
            Some(&mut g2),
        );
        let mut inplace = x.clone();
        let got2 = k.cross_entropy_axis_in_place(
            &mut inplace,
            (outer, cols, inner),
            &case.targets,
            &o,
            CrossEntropyOutputs {
                grad_output: case.grad_output.as_deref(),
                ..Default::default()
            },
        );
        let (want, got, got2) = (want.unwrap(), got.unwrap(), got2.unwrap());
        let what = format!("seed {seed} ({outer}, {cols}, {inner})");
        let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        // Beyond one chunk: within twice the log-softmax / lse bound of each other.
        let close = |a: f32, b: f32| {
            let (a, b) = (f64::from(a), f64::from(b));
            (a.is_nan() && b.is_nan())
                || a == b
                || (a - b).abs() <= 4e-6 * a.abs().max(b.abs()).max(1.0)
        };
        let eq = |a: f32, b: f32| if cols <= 256 { same(a, b) } else { close(a, b) };
        assert!(
            eq(got, want) && same(got, got2),
            "{what}: loss {got} / {got2} vs {want}"
        );
        for r in 0..rows {
            assert!(eq(l2[r], l1[r]) && eq(e2[r], e1[r]), "{what}: row {r}");
            for c in 0..cols {
                let (a, b) = (g2[at(r, c)], g1[r * cols + c]);
                assert!(eq(a, b) || cols > 256, "{what}: grad[{r}][{c}] {a} vs {b}");
                assert!(
                    same(inplace[at(r, c)], a),
                    "{what}: in place grad[{r}][{c}]"
                );
                assert!(
                    eq(p2[at(r, c)], p1[r * cols + c]),
                    "{what}: log_prob[{r}][{c}]"
                );
            }
        }
    }
}

#[test]
fn streams_of_one_row_merge_and_others_do_not() {
    let k = Kernels::active();
    let o = CrossEntropyOptions::default();
    let x = [0.5f32, 2.0, -1.0, 0.25, 3.0, 1.5];
    let mut whole = CrossEntropyStream::new(k, 6, 4, &o).unwrap();
    whole.update(0, &x).unwrap();
    let whole = whole.finish().unwrap();
    // The three steps, with a thread per half.
    let parts: Vec<CrossEntropyStream<'_>> = std::thread::scope(|s| {
        let handles: Vec<_> = [(0, 3), (3, 6)]
            .map(|(a, b)| {
                let (o, x) = (&o, &x);
                s.spawn(move || {
                    let mut part = CrossEntropyStream::new(k, 6, 4, o).unwrap();
                    part.update(a, &x[a..b]).unwrap();
                    part
                })
            })
            .into_iter()
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut row = parts[1].clone();
    row.merge(&parts[0]).unwrap();
    let done = row.finish().unwrap();
    assert!((done.loss() - whole.loss()).abs() <= 4e-6 * whole.loss());
    let mut grad = [0.0f32; 6];
    for (a, b) in [(0, 3), (3, 6)] {
        done.gradient(a, &x[a..b], &mut grad[a..b], 1.0).unwrap();
    }
    assert!(grad.iter().sum::<f32>().abs() < 1e-6);
    // Merging a part twice covers columns twice; a stream of another target is another row.
    assert!(matches!(
        row.clone().merge(&parts[0]),
        Err(twopass::Error::ChunkOutOfRow { .. })
    ));
    let other = CrossEntropyStream::new(k, 6, 2, &o).unwrap();
    assert_eq!(row.merge(&other), Err(twopass::Error::DifferentRows));
    // Found by review: a stream with other options merged, and the loss mixed the two.
    let smoothed = CrossEntropyOptions {
        label_smoothing: 0.5,
        ..o
    };
    let other = CrossEntropyStream::new(k, 6, 4, &smoothed).unwrap();
    assert_eq!(
        parts[0].clone().merge(&other),
        Err(twopass::Error::DifferentRows)
    );
}
