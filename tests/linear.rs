//! The fused linear + cross-entropy against an f64 reference (logits, loss, gradients of
//! hidden, weight and bias in f64) and against the unfused composition (matrix product, then
//! `cross_entropy`, then the gradient products), on every ISA under test: tails in every
//! dimension (past one token tile and one class tile), every option, ignored rows, and the
//! errors (nothing written).

mod common;

use common::isas_under_test;
use twopass::{
    CrossEntropyOptions, Error, Kernels, LinearOutputs, LinearShape, Reduction, CLASS_TILE,
    TOKEN_TILE,
};

/// A deterministic matrix of `n` values in `[-scale, scale)`.
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// The f64 reference: (loss, row losses, row lse, d_hidden, d_weight, d_bias).
struct Reference {
    loss: f64,
    rows: Vec<f64>,
    lse: Vec<f64>,
    d_hidden: Vec<f64>,
    d_weight: Vec<f64>,
    d_bias: Vec<f64>,
}

#[allow(clippy::too_many_arguments)]
fn reference(
    h: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    LinearShape {
        tokens: n,
        features: d,
        classes: v,
    }: LinearShape,
    targets: &[i64],
    o: &CrossEntropyOptions<'_>,
    upstream: Option<&[f32]>,
) -> Reference {
    let cw = |c: usize| o.class_weights.map_or(1.0, |w| f64::from(w[c]));
    let big_w: f64 = (0..v).map(cw).sum();
    let (eps, z) = (f64::from(o.label_smoothing), f64::from(o.z_loss));
    let class = |t: i64| (Some(t) != o.ignore_index).then_some(t as usize);
    let total: f64 = targets.iter().filter_map(|&t| class(t)).map(cw).sum();
    let mut r = Reference {
        loss: 0.0,
        rows: vec![0.0; n],
        lse: vec![0.0; n],
        d_hidden: vec![0.0; n * d],
        d_weight: vec![0.0; v * d],
        d_bias: vec![0.0; v],
    };
    for i in 0..n {
        let Some(t) = class(targets[i]) else { continue };
        let x: Vec<f64> = (0..v)
            .map(|c| {
                let dot: f64 = (0..d)
                    .map(|k| f64::from(h[i * d + k]) * f64::from(w[c * d + k]))
                    .sum();
                dot + b.map_or(0.0, |b| f64::from(b[c]))
            })
            .collect();
        let m = x.iter().fold(f64::NEG_INFINITY, |a, &y| a.max(y));
        let s: f64 = x.iter().map(|y| (y - m).exp()).sum();
        let lse = m + s.ln();
        let smooth: f64 = (0..v).map(|c| cw(c) * (lse - x[c])).sum();
        let loss = (1.0 - eps) * cw(t) * (lse - x[t]) + eps / v as f64 * smooth + z * lse * lse;
        r.rows[i] = loss;
        r.lse[i] = lse;
        r.loss += loss;
        let g_up = upstream.map_or(1.0, |g| {
            f64::from(g[if o.reduction == Reduction::None { i } else { 0 }])
        });
        let k = match o.reduction {
            Reduction::Mean => g_up / total,
            _ => g_up,
        };
        let a = (1.0 - eps) * cw(t) + eps / v as f64 * big_w + 2.0 * z * lse;
        for c in 0..v {
            let p = (x[c] - lse).exp();
            let onehot = if c == t { (1.0 - eps) * cw(t) } else { 0.0 };
            let g = k * (a * p - eps / v as f64 * cw(c) - onehot);
            for q in 0..d {
                r.d_hidden[i * d + q] += g * f64::from(w[c * d + q]);
                r.d_weight[c * d + q] += g * f64::from(h[i * d + q]);
            }
            r.d_bias[c] += g;
        }
    }
    if o.reduction == Reduction::Mean {
        r.loss /= total;
    }
    r
}

/// Every entry of `got` within `rel` of the largest `want` entry (at least 1e-30).
fn close(got: &[f32], want: &[f64], rel: f64, what: &str) {
    let top = want.iter().fold(1e-30f64, |a, &b| a.max(b.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= rel * top,
            "{what}[{i}]: {g:e} against {w:e} (largest {top:e})"
        );
    }
}

#[test]
fn fused_meets_the_f64_reference_with_every_option() {
    let shapes = [
        (1, 1, 1),
        (3, 5, 7),
        (17, 9, 300),
        (TOKEN_TILE + 3, 33, CLASS_TILE + 61),
    ];
    for (s, &(n, d, v)) in shapes.iter().enumerate() {
        let shape = LinearShape {
            tokens: n,
            features: d,
            classes: v,
        };
        let h = values(n * d, s as u64, 1.0);
        let w = values(v * d, 100 + s as u64, 0.5);
        let b = values(v, 200 + s as u64, 2.0);
        let cw: Vec<f32> = (0..v).map(|c| [0.5, 1.0, 0.0, 2.0][c % 4]).collect();
        let upstream: Vec<f32> = (0..n).map(|i| 0.5 + (i % 3) as f32).collect();
        let targets: Vec<i64> = (0..n)
            .map(|i| match i % 5 {
                4 if n > 1 => -100,
                _ => ((i * 7919 + 3) % v) as i64,
            })
            .collect();
        let options = [
            CrossEntropyOptions::default(),
            CrossEntropyOptions {
                label_smoothing: 0.1,
                z_loss: 1e-3,
                class_weights: Some(&cw),
                reduction: Reduction::None,
                ..Default::default()
            },
            CrossEntropyOptions {
                label_smoothing: 1.0,
                reduction: Reduction::Sum,
                ignore_index: None,
                ..Default::default()
            },
        ];
        for isa in isas_under_test() {
            let k = Kernels::new(isa).unwrap();
            for (j, o) in options.iter().enumerate() {
                let targets: Vec<i64> = match o.ignore_index {
                    None => targets.iter().map(|&t| t.max(0)).collect(),
                    _ => targets.clone(),
                };
                let bias = (j != 1).then_some(&b[..]);
                let g_out = match o.reduction {
                    Reduction::None => Some(&upstream[..]),
                    _ => Some(&upstream[..1]),
                };
                let want = reference(&h, &w, bias, shape, &targets, o, g_out);
                let (mut rows, mut lse) = (vec![0.0f32; n], vec![0.0f32; n]);
                let (mut dh, mut dw, mut db) =
                    (vec![9.0f32; n * d], vec![9.0f32; v * d], vec![9.0f32; v]);
                let out = LinearOutputs {
                    row_losses: Some(&mut rows),
                    row_lse: Some(&mut lse),
                    grad_output: g_out,
                    d_hidden: Some(&mut dh),
                    d_weight: Some(&mut dw),
                    d_bias: Some(&mut db),
                };
                let loss = k
                    .linear_cross_entropy(&h, &w, bias, shape, &targets, o, out)
                    .unwrap();
                let what = format!("{} {n}x{d}x{v} options {j}", isa.name());
                let l = f64::from(loss);
                assert!(
                    (l - want.loss).abs() <= 2e-6 * want.loss.abs().max(1.0),
                    "{what}: loss {l} against {}",
                    want.loss
                );
                close(&rows, &want.rows, 2e-6, &format!("{what} row losses"));
                close(&lse, &want.lse, 2e-6, &format!("{what} lse"));
                close(&dh, &want.d_hidden, 1e-5, &format!("{what} d_hidden"));
                close(&dw, &want.d_weight, 1e-5, &format!("{what} d_weight"));
                close(&db, &want.d_bias, 1e-5, &format!("{what} d_bias"));
                // The loss alone: the same value.
                let again = k
                    .linear_cross_entropy(&h, &w, bias, shape, &targets, o, Default::default())
                    .unwrap();
                assert_eq!(again.to_bits(), loss.to_bits(), "{what}: loss alone");
            }
        }
    }
}

/// The unfused composition the fused call replaces: the logits matrix, `cross_entropy` with
/// its gradient over them, then the gradient products; the fused results agree.
#[test]
fn fused_agrees_with_the_unfused_composition() {
    let (n, d, v) = (40, 24, 3000);
    let shape = LinearShape {
        tokens: n,
        features: d,
        classes: v,
    };
    let (h, w) = (values(n * d, 1, 1.0), values(v * d, 2, 1.0));
    let targets: Vec<i64> = (0..n).map(|i| ((i * 31) % v) as i64).collect();
    let o = CrossEntropyOptions::default();
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        let mut logits = vec![0.0f32; n * v];
        for i in 0..n {
            for c in 0..v {
                logits[i * v + c] = (0..d).map(|q| h[i * d + q] * w[c * d + q]).sum();
            }
        }
        let shape_ce = twopass::Shape::new(n, v);
        let want = k
            .cross_entropy_in_place(&mut logits, shape_ce, &targets, &o, Default::default())
            .unwrap();
        let mut dh_want = vec![0.0f64; n * d];
        for i in 0..n {
            for c in 0..v {
                for q in 0..d {
                    dh_want[i * d + q] += f64::from(logits[i * v + c]) * f64::from(w[c * d + q]);
                }
            }
        }
        let mut dh = vec![0.0f32; n * d];
        let out = LinearOutputs {
            d_hidden: Some(&mut dh),
            ..Default::default()
        };
        let loss = k
            .linear_cross_entropy(&h, &w, None, shape, &targets, &o, out)
            .unwrap();
        assert!(
            (loss - want).abs() <= 4e-6 * want.abs().max(1.0),
            "{loss} vs {want}"
        );
        close(&dh, &dh_want, 2e-5, &format!("{} d_hidden", isa.name()));
    }
}

#[test]
fn bad_buffers_are_refused_untouched() {
    let k = Kernels::active();
    let shape = LinearShape {
        tokens: 2,
        features: 3,
        classes: 4,
    };
    let (h, w) = (vec![1.0f32; 6], vec![1.0f32; 12]);
    let o = CrossEntropyOptions::default();
    let mut dh = vec![7.0f32; 6];
    let mut dw = vec![7.0f32; 11];
    let out = LinearOutputs {
        d_hidden: Some(&mut dh),
        d_weight: Some(&mut dw),
        ..Default::default()
    };
    let e = k.linear_cross_entropy(&h, &w, None, shape, &[0, 1], &o, out);
    assert!(
        matches!(
            e,
            Err(Error::WrongLength {
                buffer: "d_weight",
                ..
            })
        ),
        "{e:?}"
    );
    assert!(dh.iter().all(|&v| v == 7.0));
    let mut dh2 = vec![7.0f32; 6];
    let out = LinearOutputs {
        d_hidden: Some(&mut dh2),
        ..Default::default()
    };
    let e = k.linear_cross_entropy(&h, &w, None, shape, &[0, 4], &o, out);
    assert!(
        matches!(e, Err(Error::TargetOutOfRange { row: 1, .. })),
        "{e:?}"
    );
    assert!(dh2.iter().all(|&v| v == 7.0));
    let e = k.linear_cross_entropy(&h, &w[..11], None, shape, &[0, 1], &o, Default::default());
    assert!(
        matches!(
            e,
            Err(Error::WrongLength {
                buffer: "weight",
                ..
            })
        ),
        "{e:?}"
    );
    let none = LinearShape {
        tokens: 0,
        features: 3,
        classes: 4,
    };
    let mut dw = vec![7.0f32; 12];
    let out = LinearOutputs {
        d_weight: Some(&mut dw),
        ..Default::default()
    };
    let loss = k
        .linear_cross_entropy(&[], &w, None, none, &[], &o, out)
        .unwrap();
    assert!(loss.is_nan(), "a mean over no row");
    assert!(dw.iter().all(|&v| v == 0.0), "no token: a zero gradient");
}

/// Half-precision hidden states, weights and bias (widened to f32 a tile at a time): the f64
/// reference on the widened values, past one token tile and one (narrower) class tile.
#[test]
fn half_inputs_meet_the_f64_reference() {
    fn check<T: twopass::Float + Copy>(from: fn(f32) -> T, to: fn(T) -> f32, name: &str) {
        let (n, d, v) = (TOKEN_TILE + 3, 21, CLASS_TILE / 8 * 2 + 61);
        let shape = LinearShape {
            tokens: n,
            features: d,
            classes: v,
        };
        let half = |x: Vec<f32>| -> Vec<T> { x.into_iter().map(from).collect() };
        let (h, w, b) = (
            half(values(n * d, 7, 1.0)),
            half(values(v * d, 8, 0.5)),
            half(values(v, 9, 2.0)),
        );
        let wide = |x: &[T]| -> Vec<f32> { x.iter().map(|&y| to(y)).collect() };
        let targets: Vec<i64> = (0..n).map(|i| ((i * 131) % v) as i64).collect();
        let o = CrossEntropyOptions {
            label_smoothing: 0.2,
            ..Default::default()
        };
        let want = reference(
            &wide(&h),
            &wide(&w),
            Some(&wide(&b)),
            shape,
            &targets,
            &o,
            None,
        );
        for isa in isas_under_test() {
            let k = Kernels::new(isa).unwrap();
            let (mut dh, mut dw, mut db) =
                (vec![0.0f32; n * d], vec![0.0f32; v * d], vec![0.0f32; v]);
            let out = LinearOutputs {
                d_hidden: Some(&mut dh),
                d_weight: Some(&mut dw),
                d_bias: Some(&mut db),
                ..Default::default()
            };
            let loss = k
                .linear_cross_entropy(&h, &w, Some(&b), shape, &targets, &o, out)
                .unwrap();
            let what = format!("{name} {}", isa.name());
            let l = f64::from(loss);
            assert!(
                (l - want.loss).abs() <= 2e-6 * want.loss.abs().max(1.0),
                "{what}: {l}"
            );
            close(&dh, &want.d_hidden, 1e-5, &format!("{what} d_hidden"));
            close(&dw, &want.d_weight, 1e-5, &format!("{what} d_weight"));
            close(&db, &want.d_bias, 1e-5, &format!("{what} d_bias"));
        }
    }
    check(twopass::bf16::from_f32, twopass::bf16::to_f32, "bf16");
    check(twopass::f16::from_f32, twopass::f16::to_f32, "f16");
}
