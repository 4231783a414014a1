//! The `rayon` feature: a long row split across threads gives the same bits on pools of 1, 2
//! and 3 threads and meets the softmax bounds; rows split by blocks give `softmax_rows`' bits;
//! errors write nothing. Run with `cargo test --release --features rayon`.
#![cfg(feature = "rayon")]

mod common;

use common::{check_log_softmax, check_lse, check_softmax, isas_under_test, Dist};
use twopass::{
    CrossEntropyOptions, CrossEntropyOutputs, Error, Kernels, LinearOutputs, LinearShape,
    Reduction, RngState, SampleParams, Shape, CLASS_TILE, PAR_CHUNK, PAR_MIN, TOKEN_TILE,
};

fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits())
}

#[test]
fn a_split_row_has_the_same_bits_on_any_pool_and_meets_the_bounds() {
    let n = PAR_MIN + 3 * PAR_CHUNK + 12345;
    for dist in [
        Dist::Normal30,
        Dist::Uniform1000,
        Dist::NegInfMask,
        Dist::Steps,
    ] {
        let x = dist.row(n, 3);
        for isa in isas_under_test() {
            let k = Kernels::new(isa).unwrap();
            let run = |threads| {
                on_threads(threads, || {
                    let (mut y, mut l) = (vec![0.0f32; n], vec![0.0f32; n]);
                    k.softmax_par(&x, &mut y).unwrap();
                    k.log_softmax_par(&x, &mut l).unwrap();
                    (y, l, k.log_sum_exp_par(&x))
                })
            };
            let (y1, l1, s1) = run(1);
            for threads in [2, 3] {
                let (y, l, s) = run(threads);
                let what = format!("{} {dist:?} {threads} threads", isa.name());
                assert!(same_bits(&y, &y1) && same_bits(&l, &l1), "{what}");
                assert_eq!(s.to_bits(), s1.to_bits(), "{what}");
            }
            check_softmax(&x, &y1, 1.0).unwrap();
            check_log_softmax(&x, &l1, 1.0).unwrap();
            check_lse(&x, s1, 1.0).unwrap();
        }
    }
}

#[test]
fn short_rows_run_as_the_one_thread_call() {
    let n = PAR_MIN - 1;
    let x = Dist::Normal1.row(n, 1);
    let k = Kernels::active();
    let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
    k.softmax_par(&x, &mut a).unwrap();
    k.softmax(&x, &mut b).unwrap();
    assert!(same_bits(&a, &b));
    assert_eq!(k.log_sum_exp_par(&x).to_bits(), k.log_sum_exp(&x).to_bits());
}

#[test]
fn rows_split_by_blocks_match_softmax_rows() {
    // Two matrices past PAR_MIN (split by blocks of rows), one below it.
    for (rows, cols, xs, ys) in [
        (14_000, 300, 301, 300),
        (43, 100_000, 100_003, 100_000),
        (1, 5, 5, 9),
    ] {
        let x = Dist::Normal30.row((rows - 1) * xs + cols, 9);
        for isa in isas_under_test() {
            let k = Kernels::new(isa).unwrap();
            let mut want = vec![-1.0f32; (rows - 1) * ys + cols];
            let mut got = want.clone();
            k.softmax_rows(&x, xs, &mut want, ys, rows, cols).unwrap();
            on_threads(2, || k.softmax_rows_par(&x, xs, &mut got, ys, rows, cols)).unwrap();
            assert!(
                same_bits(&got, &want),
                "{} softmax {rows}x{cols}",
                isa.name()
            );
            k.log_softmax_rows(&x, xs, &mut want, ys, rows, cols)
                .unwrap();
            on_threads(3, || {
                k.log_softmax_rows_par(&x, xs, &mut got, ys, rows, cols)
            })
            .unwrap();
            assert!(
                same_bits(&got, &want),
                "{} log_softmax {rows}x{cols}",
                isa.name()
            );
        }
    }
}

#[test]
fn errors_write_nothing() {
    let k = Kernels::active();
    let x = vec![1.0f32; PAR_MIN + 5];
    let mut y = vec![7.0f32; PAR_MIN + 4];
    assert!(k.softmax_par(&x, &mut y).is_err());
    assert!(k.log_softmax_par(&x, &mut y).is_err());
    assert!(k.softmax_rows_par(&x, 10, &mut y, 9, 100, 10).is_err());
    assert!(y.iter().all(|&v| v == 7.0));
}

/// Rows sampled on pools of 1 and 3 threads: `sample_rows`' tokens and counter; a bad row
/// writes nothing and keeps the counter.
#[test]
fn sampled_rows_are_the_same_tokens_on_any_pool() {
    let (rows, cols) = (40, 3000);
    let x: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1000) as f32 * 0.01)
        .collect();
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for params in [
            SampleParams::default(),
            SampleParams {
                top_p: 0.8,
                ..Default::default()
            },
        ] {
            let mut rng = RngState::new(5);
            let mut want = vec![0usize; rows];
            k.sample_rows(&x, cols, cols, &params, &mut rng, &mut want)
                .unwrap();
            for threads in [1, 3] {
                let mut state = RngState::new(5);
                let mut got = vec![0usize; rows];
                on_threads(threads, || {
                    k.sample_rows_par(&x, cols, cols, &params, &mut state, &mut got)
                })
                .unwrap();
                assert_eq!(
                    (got, state),
                    (want.clone(), rng),
                    "{isa:?} {threads} threads"
                );
            }
        }
    }
    let mut bad = x.clone();
    bad[17 * cols + 5] = f32::NAN;
    let (mut rng, mut out) = (RngState::new(5), vec![7usize; rows]);
    let k = Kernels::active();
    let p = SampleParams::default();
    let e = k.sample_rows_par(&bad, cols, cols, &p, &mut rng, &mut out);
    assert_eq!(e, Err(Error::NonFiniteLogit));
    assert_eq!((rng, out), (RngState::new(5), vec![7usize; rows]));
    // Found by review: rows of no columns passed the matrix check whatever the buffer, and a
    // thread that drew a later row first sliced past it (a panic). Refused before any row.
    let mut out = vec![7usize; 10_000];
    for _ in 0..20 {
        let e = k.sample_rows_par(&[1.0f32, 2.0], 7, 0, &p, &mut rng, &mut out);
        assert_eq!(e, Err(Error::EmptyRow));
    }
    assert_eq!((rng, out), (RngState::new(5), vec![7usize; 10_000]));
}

/// Every output of a cross-entropy over rows split by blocks on pools of 1 and 3 threads:
/// `cross_entropy`'s bits (the loss too), with every option, log_prob, strides, ignored rows
/// and in place; an error writes nothing.
#[test]
fn cross_entropy_rows_have_the_same_bits_on_any_pool() {
    // 4300 rows of 1000 classes make 17 blocks; 15 rows of 300K one block per row; 700 rows
    // of 1000 (below PAR_MIN) run as the one-thread call.
    for (rows, cols, stride) in [
        (4300, 1000, 1003),
        (15, 300_000, 300_000),
        (700, 1000, 1000),
    ] {
        let x = Dist::Normal30.row((rows - 1) * stride + cols, 4);
        let targets: Vec<i64> = (0..rows as i64)
            .map(|r| {
                if r % 7 == 3 {
                    -100
                } else {
                    (r * 31) % cols as i64
                }
            })
            .collect();
        let weights: Vec<f32> = (0..cols).map(|c| (c % 5) as f32 * 0.5).collect();
        let upstream: Vec<f32> = (0..rows).map(|r| 1.0 + r as f32 * 0.01).collect();
        let options = [
            CrossEntropyOptions::default(),
            CrossEntropyOptions {
                label_smoothing: 0.1,
                z_loss: 1e-4,
                class_weights: Some(&weights),
                reduction: Reduction::None,
                ..Default::default()
            },
        ];
        for (isa, options) in isas_under_test().into_iter().zip(options.iter().cycle()) {
            let k = Kernels::new(isa).unwrap();
            let shape = Shape::new(rows, cols).with_stride(stride);
            let grad_output = (options.reduction == Reduction::None).then_some(&upstream[..]);
            let call = |par: Option<usize>| {
                let (mut losses, mut lse) = (vec![0.0f32; rows], vec![0.0f32; rows]);
                let mut log_prob = vec![0.0f32; rows * cols];
                let mut grad = vec![0.0f32; rows * cols];
                let out = CrossEntropyOutputs {
                    row_losses: Some(&mut losses),
                    row_lse: Some(&mut lse),
                    ignored_row_lse: true,
                    log_prob: Some((&mut log_prob, cols)),
                    grad_output,
                };
                let g = Some((&mut grad[..], cols));
                let loss = match par {
                    None => k.cross_entropy(&x, shape, &targets, options, out, g),
                    Some(t) => on_threads(t, || {
                        k.cross_entropy_par(&x, shape, &targets, options, out, g)
                    }),
                };
                let mut in_place = x.clone();
                let out = CrossEntropyOutputs::default();
                let again = match par {
                    None => k.cross_entropy_in_place(&mut in_place, shape, &targets, options, out),
                    Some(t) => on_threads(t, || {
                        k.cross_entropy_in_place_par(&mut in_place, shape, &targets, options, out)
                    }),
                };
                assert_eq!(loss, again);
                (
                    loss.unwrap().to_bits(),
                    losses,
                    lse,
                    log_prob,
                    grad,
                    in_place,
                )
            };
            let want = call(None);
            for threads in [1, 3] {
                let got = call(Some(threads));
                let what = format!("{} {rows}x{cols} {threads} threads", isa.name());
                assert_eq!(got.0, want.0, "{what} loss");
                for (a, b) in [(&got.1, &want.1), (&got.2, &want.2), (&got.3, &want.3)] {
                    assert!(same_bits(a, b), "{what}");
                }
                assert!(same_bits(&got.4, &want.4), "{what} gradient");
                assert!(same_bits(&got.5, &want.5), "{what} in place");
            }
        }
    }
    let k = Kernels::active();
    let (x, mut grad) = (vec![1.0f32; 4000], vec![7.0f32; 4000]);
    let mut losses = vec![7.0f32; 4];
    let out = CrossEntropyOutputs {
        row_losses: Some(&mut losses),
        ..Default::default()
    };
    let bad = [0, 1, 1000, 2];
    let o = CrossEntropyOptions::default();
    let e = k.cross_entropy_par(
        &x,
        Shape::new(4, 1000),
        &bad,
        &o,
        out,
        Some((&mut grad, 1000)),
    );
    assert!(matches!(e, Err(Error::TargetOutOfRange { row: 2, .. })));
    assert!(losses.iter().chain(&grad).all(|&v| v == 7.0));
}

/// The fused linear + cross-entropy with its matrix products on pools of 1 and 3 threads: the
/// one-thread call's bits (loss and every gradient), past one tile in every dimension.
#[test]
fn linear_cross_entropy_has_the_same_bits_on_any_pool() {
    let (n, d, v) = (TOKEN_TILE + 5, 96, CLASS_TILE + 77);
    let shape = LinearShape {
        tokens: n,
        features: d,
        classes: v,
    };
    let val = |i: usize, s: f32| ((i * 2654435761) % 1999) as f32 / 999.5 * s - s;
    let h: Vec<f32> = (0..n * d).map(|i| val(i, 1.0)).collect();
    let w: Vec<f32> = (0..v * d).map(|i| val(i + 7, 0.2)).collect();
    let b: Vec<f32> = (0..v).map(|i| val(i + 3, 1.0)).collect();
    let targets: Vec<i64> = (0..n).map(|i| ((i * 31) % v) as i64).collect();
    let o = CrossEntropyOptions {
        label_smoothing: 0.1,
        ..Default::default()
    };
    let k = Kernels::active();
    let call = |threads: Option<usize>| {
        let (mut dh, mut dw, mut db) = (vec![0.0f32; n * d], vec![0.0f32; v * d], vec![0.0f32; v]);
        let out = LinearOutputs {
            d_hidden: Some(&mut dh),
            d_weight: Some(&mut dw),
            d_bias: Some(&mut db),
            ..Default::default()
        };
        let loss = match threads {
            None => k.linear_cross_entropy(&h, &w, Some(&b), shape, &targets, &o, out),
            Some(t) => on_threads(t, || {
                k.linear_cross_entropy_par(&h, &w, Some(&b), shape, &targets, &o, out)
            }),
        };
        (loss.unwrap().to_bits(), dh, dw, db)
    };
    let want = call(None);
    for threads in [1, 3] {
        let got = call(Some(threads));
        assert_eq!(got.0, want.0, "{threads} threads: loss");
        assert!(same_bits(&got.1, &want.1), "{threads} threads: d_hidden");
        assert!(same_bits(&got.2, &want.2), "{threads} threads: d_weight");
        assert!(same_bits(&got.3, &want.3), "{threads} threads: d_bias");
    }
}
