//! The C entry points with arbitrary lengths, strides, NULL / misaligned / overlapping pointers
//! and enum values over valid buffers: never a crash, nothing written on an error, and on
//! success the same bits (sampling: the same tokens and counter) as the Rust API.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twopass::capi::*;
use twopass::{bf16, f16, Algorithm, Kernels, RngState, SampleParams};

const SENTINEL: f32 = -1234.5;

#[path = "bytes.rs"]
mod bytes;

use bytes::Bytes;

/// A pointer into `buf` chosen by `how`: NULL, aligned at `at`, misaligned, or `at` itself.
fn pointer(buf: &mut [f32], how: u8, at: usize) -> *mut f32 {
    let at = at.min(buf.len());
    match how % 8 {
        0 => std::ptr::null_mut(),
        1 => buf
            .as_mut_ptr()
            .cast::<u8>()
            .wrapping_add(4 * at + 1)
            .cast(),
        _ => buf.as_mut_ptr().wrapping_add(at),
    }
}

/// Fails with `what` unless `got` and `want` hold the same bits, element by element.
fn assert_same_bits<F: Copy + Into<f64>>(got: &[F], want: &[F], what: &str) {
    let same = got
        .iter()
        .zip(want)
        .all(|(&g, &w)| g.into().to_bits() == w.into().to_bits());
    assert!(same, "{what}");
}

fn algorithm(code: i32) -> Option<Algorithm> {
    Some(match code {
        0 => Algorithm::Auto,
        1 => Algorithm::TwoPass,
        2 => Algorithm::ThreePassReload,
        3 => Algorithm::ThreePassRecompute,
        4 => Algorithm::Online,
        5 => Algorithm::Blocked,
        _ => return None,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let op = b.u8() % 14;
    // An ISA to force first (valid or not); errors leave the previous choice.
    let isa = i32::from(b.u8() as i8) % 6;
    let set = twopass_set_isa(isa);
    assert!([
        TWOPASS_OK,
        TWOPASS_ERROR_INVALID_ARGUMENT,
        TWOPASS_ERROR_UNSUPPORTED_ISA
    ]
    .contains(&set));
    let (rows, cols) = (usize::from(b.u8() % 6), usize::from(b.u8() % 40));
    let (x_stride, y_stride) = (
        cols + usize::from(b.u8() % 4),
        cols + usize::from(b.u8() % 4),
    );
    let (x_how, y_how) = (b.u8(), b.u8());
    let (x_at, y_at) = (usize::from(b.u8() % 8), usize::from(b.u8() % 200));
    let alg = i32::from(b.u8() as i8) % 8;
    let mut buf = vec![SENTINEL; 512];
    for v in buf.iter_mut().take(256) {
        *v = b.f32();
    }
    let before = buf.clone();
    let n = rows * cols;
    // The axis calls take an (outer, len, inner) tensor of at most 5 * 7 * 8 = 280 floats.
    let (outer, len, inner) = (
        rows,
        cols % 8,
        1 + ((x_stride - cols) * 4 + (y_stride - cols)) % 8,
    );
    let total = outer * len * inner;
    // Cross-entropy targets for the axis form (classes `len`): mostly classes, some -100
    // (ignored), some out of range.
    let targets: Vec<i64> = (0..outer * inner)
        .map(|_| match b.u8() % 16 {
            0 => -100,
            1 => len as i64,
            v => i64::from(v) % len.max(1) as i64,
        })
        .collect();
    // Sampling (op 11): parameters in and out of range, a state that may wrap, the form (one
    // row of n logits, rows, or the kept probabilities of one row) and element type from
    // `alg`, the tokens or probabilities written at y.
    let pick = |b: &mut Bytes, values: &[f32]| values[usize::from(b.u8()) % values.len()];
    let mut params = twopass_sample_params {
        temperature: pick(&mut b, &[1.0, 0.0, 0.7, 1e-30, 1e30, -1.0, f32::NAN, 1e-40]),
        top_k: usize::from(b.u8() % 48),
        top_p: pick(&mut b, &[1.0, 0.9, 0.5, 1e-6, 0.0, 1.5, f32::NAN]),
        min_p: pick(&mut b, &[0.0, 0.1, 0.5, 1.0, -0.1, 1.5, f32::NAN]),
        ..twopass_sample_params_default()
    };
    params.size = [params.size, 0, 8, params.size - 4][usize::from(b.u8() % 4)];
    let seed = u64::from(b.u8()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let counter = match b.u8() % 4 {
        0 => 0,
        1 => u64::MAX,
        v => u64::from(v) << 40,
    };
    let mut rng = twopass_rng_state { seed, counter };
    let (params_at, rng_at) = match b.u8() % 8 {
        0 => (std::ptr::null(), &raw mut rng),
        1 => (&raw const params, std::ptr::null_mut()),
        _ => (&raw const params, &raw mut rng),
    };
    let sample_kind = alg.rem_euclid(9);
    // The fused linear cross-entropy (op 13): `rows` tokens of `cols % 8` features at x, the
    // weights of `classes` at buf[200..], d_hidden at y; targets from `alg` (some out of range).
    let (features, classes) = (cols % 8, 1 + (x_stride - cols) + (y_stride - cols));
    let lin_targets: Vec<i64> = (0..rows as i64)
        .map(|i| (i + i64::from(alg)).rem_euclid(classes as i64 + 1))
        .collect();
    // The split cross-entropy row's target (op 12): ignored, a class, or `cols` (out of range).
    let ce_target = match alg {
        ..0 => -100,
        a => i64::from(a) % (cols as i64 + 1),
    };
    // The f64 entry points read a widened copy.
    let mut wide: Vec<f64> = buf.iter().map(|&v| f64::from(v)).collect();
    let wide_before = wide.clone();
    let mut ce_loss = SENTINEL;
    let base = wide.as_mut_ptr();
    let wide_x = match x_how % 8 {
        0 => std::ptr::null(),
        _ => base.wrapping_add(x_at).cast_const(),
    };
    let wide_out = base.wrapping_add(y_at);
    let x = pointer(&mut buf, x_how, x_at);
    let y = pointer(&mut buf, y_how, y_at);
    let lin_weight = pointer(&mut buf, 2, 200).cast_const();
    let tokens = y.cast::<usize>();
    // SAFETY: every pointer is NULL, misaligned, or inside `buf` with room for what the call
    // may touch (512 floats; the largest span here is 5 * 43 + 39 + 200 < 512, the largest
    // tensor 280 + 200); the library
    // must refuse the NULL and misaligned ones and overlaps before touching memory.
    let status = unsafe {
        match op {
            0 => twopass_softmax_with_f32(alg, x, y, n),
            1 => twopass_log_softmax_rows_f32(x, x_stride, y, y_stride, rows, cols),
            2 => twopass_log_sum_exp_rows_f32(x, x_stride, rows, cols, y),
            3 => {
                let mut state = std::mem::MaybeUninit::<twopass_lse_state>::uninit();
                assert_eq!(twopass_lse_init(state.as_mut_ptr()), TWOPASS_OK);
                let s = twopass_lse_update_f32(state.as_mut_ptr(), x, n);
                let v = twopass_lse_value(state.as_ptr());
                if s == TWOPASS_OK {
                    let want = Kernels::active().log_sum_exp(std::slice::from_raw_parts(x, n));
                    assert!(
                        v.to_bits() == want.to_bits()
                            || (v - want).abs() <= 4e-6 * want.abs().max(1.0)
                            || (v.is_nan() && want.is_nan())
                    );
                }
                s
            }
            5 => twopass_softmax_axis_f32(x, y, outer, len, inner),
            6 => twopass_log_sum_exp_axis_f32(x, outer, len, inner, y),
            7 => twopass_log_softmax_axis_f32(x, y, outer, len, inner),
            8 => twopass_cross_entropy_axis_f32(
                x,
                outer,
                len,
                inner,
                targets.as_ptr(),
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut ce_loss,
                y,
                std::ptr::null(),
                std::ptr::null_mut(),
            ),
            9 => twopass_log_sum_exp_axis_f64(wide_x, outer, len, inner, wide_out),
            10 => {
                // A row split in two: each half's state, merged, then the row's outputs.
                let mut parts = [std::mem::MaybeUninit::<twopass_lse_state>::uninit(); 2];
                for p in parts.iter_mut() {
                    assert_eq!(twopass_lse_init(p.as_mut_ptr()), TWOPASS_OK);
                }
                let half = n / 2;
                let s0 = twopass_lse_update_f32(parts[0].as_mut_ptr(), x, half);
                // The second half of a NULL x is NULL (not a pointer near 0).
                let rest = if x.is_null() { x } else { x.wrapping_add(half) };
                let s1 = twopass_lse_update_f32(parts[1].as_mut_ptr(), rest, n - half);
                match (s0, s1) {
                    (TWOPASS_OK, TWOPASS_OK) => {
                        assert_eq!(
                            twopass_lse_merge(parts[0].as_mut_ptr(), parts[1].as_ptr()),
                            TWOPASS_OK
                        );
                        match alg & 1 {
                            0 => twopass_softmax_finish_f32(parts[0].as_ptr(), x, y, n),
                            _ => twopass_log_softmax_finish_f32(parts[0].as_ptr(), x, y, n),
                        }
                    }
                    (TWOPASS_OK, e) | (e, _) => e,
                }
            }
            11 => {
                let h = x.cast::<u16>().cast_const();
                match sample_kind {
                    0 => twopass_sample_f32(x, n, params_at, rng_at, tokens),
                    1 => twopass_sample_f16(h, n, params_at, rng_at, tokens),
                    2 => twopass_sample_bf16(h, n, params_at, rng_at, tokens),
                    3 => {
                        twopass_sample_rows_f32(x, x_stride, rows, cols, params_at, rng_at, tokens)
                    }
                    4 => {
                        twopass_sample_rows_f16(h, x_stride, rows, cols, params_at, rng_at, tokens)
                    }
                    6 => twopass_kept_probabilities_f32(x, n, params_at, y),
                    7 => twopass_kept_probabilities_f16(h, n, params_at, y),
                    8 => twopass_kept_probabilities_bf16(h, n, params_at, y),
                    _ => {
                        twopass_sample_rows_bf16(h, x_stride, rows, cols, params_at, rng_at, tokens)
                    }
                }
            }
            12 => {
                // A row of `cols` classes in two halves: a state each, merged; the gradient
                // into y (over x when y == x), then the loss.
                let mut parts = [std::mem::MaybeUninit::<twopass_cross_entropy_state>::uninit(); 2];
                let none = std::ptr::null();
                match twopass_cross_entropy_row_init(parts[0].as_mut_ptr(), cols, ce_target, none) {
                    TWOPASS_OK => {
                        parts[1] = parts[0];
                        let half = cols / 2;
                        let rest = if x.is_null() { x } else { x.wrapping_add(half) };
                        let (a, b) = (parts[0].as_mut_ptr(), parts[1].as_mut_ptr());
                        let s0 = twopass_cross_entropy_row_update_f32(a, none, 0, x, half);
                        let s1 =
                            twopass_cross_entropy_row_update_f32(b, none, half, rest, cols - half);
                        match (s0, s1) {
                            (TWOPASS_OK, TWOPASS_OK) => {
                                assert_eq!(twopass_cross_entropy_row_merge(a, b), TWOPASS_OK);
                                let g = twopass_cross_entropy_row_gradient_f32(
                                    a, none, 0, x, y, cols, 1.0,
                                );
                                if g == TWOPASS_OK {
                                    let loss = &mut ce_loss;
                                    let f = twopass_cross_entropy_row_finish(
                                        a,
                                        none,
                                        loss,
                                        std::ptr::null_mut(),
                                    );
                                    assert_eq!(f, TWOPASS_OK);
                                }
                                g
                            }
                            (TWOPASS_OK, e) | (e, _) => e,
                        }
                    }
                    e => e,
                }
            }
            13 => twopass_linear_cross_entropy_f32(
                x,
                lin_weight,
                std::ptr::null(),
                rows,
                features,
                classes,
                lin_targets.as_ptr(),
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut ce_loss,
                y,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
            ),
            _ => twopass_softmax_rows_f32(x, x_stride, y, y_stride, rows, cols),
        }
    };
    assert!(
        (0..=6).contains(&status) && status != TWOPASS_ERROR_INTERNAL,
        "status {status}"
    );
    if status != TWOPASS_OK {
        assert!(
            buf.iter()
                .zip(&before)
                .all(|(a, b)| a.to_bits() == b.to_bits())
                && wide
                    .iter()
                    .zip(&wide_before)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
                && ce_loss == SENTINEL
                && (rng.seed, rng.counter) == (seed, counter),
            "wrote on error {status}"
        );
        return;
    }
    // On success, the Rust API on the same input gives the same bits.
    let k = match Kernels::try_active() {
        Ok(k) => k,
        Err(_) => return,
    };
    let xin: Vec<f32> = if x.is_null() {
        Vec::new()
    } else {
        before[x_at.min(512)..].to_vec()
    };
    match op {
        0 => {
            let a = algorithm(alg).expect("an unknown algorithm must be refused");
            let mut want = vec![0.0; n];
            k.with_algorithm(a).softmax(&xin[..n], &mut want).unwrap();
            let got = &buf[y_at.min(512)..][..n];
            assert_same_bits(got, &want, "softmax differs");
        }
        2 if rows > 0 => {
            let got = &buf[y_at.min(512)..][..rows];
            for (r, g) in got.iter().enumerate() {
                // Rows of no column read nothing (x may be NULL): -inf.
                let w = match cols {
                    0 => f32::NEG_INFINITY,
                    _ => k.log_sum_exp(&xin[r * x_stride..][..cols]),
                };
                assert!(g.to_bits() == w.to_bits(), "row {r}: {g} vs {w}");
            }
        }
        5 => {
            let mut want = vec![0.0; total];
            k.softmax_axis(&xin[..total], &mut want, outer, len, inner)
                .unwrap();
            let got = &buf[y_at.min(512)..][..total];
            assert_same_bits(got, &want, "softmax_axis differs");
        }
        7 => {
            let mut want = vec![0.0; total];
            k.log_softmax_axis(&xin[..total], &mut want, outer, len, inner)
                .unwrap();
            let got = &buf[y_at.min(512)..][..total];
            assert_same_bits(got, &want, "log_softmax_axis differs");
        }
        8 => {
            // The gradient in y (or over the logits when y == x), the loss, as from Rust.
            let mut want = xin[..total].to_vec();
            let options = twopass::CrossEntropyOptions::default();
            let loss = k
                .cross_entropy_axis_in_place(
                    &mut want,
                    (outer, len, inner),
                    &targets,
                    &options,
                    Default::default(),
                )
                .unwrap();
            assert!(loss.to_bits() == ce_loss.to_bits() || (loss.is_nan() && ce_loss.is_nan()));
            if !y.is_null() {
                let got = &buf[y_at.min(512)..][..total];
                assert_same_bits(got, &want, "cross_entropy_axis gradient differs");
            }
        }
        9 => {
            let mut want = vec![0.0; outer * inner];
            let input: Vec<f64> = xin[..total].iter().map(|&v| f64::from(v)).collect();
            twopass::log_sum_exp_axis_f64(&input, outer, len, inner, &mut want).unwrap();
            let got = &wide[y_at..][..outer * inner];
            assert_same_bits(got, &want, "log_sum_exp_axis_f64 differs");
        }
        10 => {
            let mut state = twopass::LseState::new();
            let mut other = twopass::LseState::new();
            k.lse_update(&mut state, &xin[..n / 2]);
            k.lse_update(&mut other, &xin[n / 2..n]);
            state.merge(&other);
            let mut want = vec![0.0; n];
            match alg & 1 {
                0 => k.softmax_finish(&state, &xin[..n], &mut want),
                _ => k.log_softmax_finish(&state, &xin[..n], &mut want),
            }
            .unwrap();
            let got = &buf[y_at.min(512)..][..n];
            assert_same_bits(got, &want, "softmax_finish differs");
        }
        11 => {
            // Tokens and counter as the Rust API's, drawn from the same memory.
            let p = SampleParams {
                temperature: params.temperature,
                top_k: params.top_k,
                top_p: params.top_p,
                min_p: params.min_p,
            };
            let mut want = RngState { seed, counter };
            if sample_kind >= 6 {
                let (f16s, bf16s) = (
                    halves(&xin, n, f16::from_bits),
                    halves(&xin, n, bf16::from_bits),
                );
                let mut probs = vec![0.0; n];
                match sample_kind {
                    6 => k.kept_probabilities(&xin[..n], &p, &mut probs),
                    7 => k.kept_probabilities(&f16s, &p, &mut probs),
                    _ => k.kept_probabilities(&bf16s, &p, &mut probs),
                }
                .unwrap();
                let got = &buf[y_at.min(512)..][..n];
                assert_same_bits(got, &probs, "kept probabilities differ");
                assert_eq!((rng.seed, rng.counter), (seed, counter), "state touched");
                return;
            }
            let (len, width, drawn) = match sample_kind {
                0..3 => (n, n, 1),
                _ if rows == 0 => (0, cols, 0),
                _ => ((rows - 1) * x_stride + cols, cols, rows),
            };
            let (f16s, bf16s) = (
                halves(&xin, len, f16::from_bits),
                halves(&xin, len, bf16::from_bits),
            );
            let mut out = vec![0; drawn];
            match sample_kind {
                0 => k.sample(&xin[..n], &p, &mut want).map(|t| out[0] = t),
                1 => k.sample(&f16s, &p, &mut want).map(|t| out[0] = t),
                2 => k.sample(&bf16s, &p, &mut want).map(|t| out[0] = t),
                3 => k.sample_rows(&xin[..len], x_stride, cols, &p, &mut want, &mut out),
                4 => k.sample_rows(&f16s, x_stride, cols, &p, &mut want, &mut out),
                _ => k.sample_rows(&bf16s, x_stride, cols, &p, &mut want, &mut out),
            }
            .unwrap();
            // SAFETY: the call succeeded, so `tokens` holds `drawn` outputs inside buf.
            let got: Vec<usize> = (0..drawn)
                .map(|r| unsafe { tokens.add(r).read() })
                .collect();
            assert_eq!(got, out, "tokens differ");
            assert!(out.iter().all(|&t| t < width), "a token outside its row");
            let advanced = counter.wrapping_add(drawn as u64);
            assert_eq!((rng.counter, want.counter), (advanced, advanced), "counter");
        }
        12 => {
            let o = twopass::CrossEntropyOptions::default();
            let mut row = twopass::CrossEntropyStream::new(k, cols, ce_target, &o).unwrap();
            let mut other = row.clone();
            row.update(0, &xin[..cols / 2]).unwrap();
            other.update(cols / 2, &xin[cols / 2..cols]).unwrap();
            row.merge(&other).unwrap();
            let done = row.finish().unwrap();
            let loss = done.loss();
            assert!(loss.to_bits() == ce_loss.to_bits() || (loss.is_nan() && ce_loss.is_nan()));
            let mut want = vec![0.0; cols];
            done.gradient(0, &xin[..cols], &mut want, 1.0).unwrap();
            let got = &buf[y_at.min(512)..][..cols];
            assert_same_bits(got, &want, "split cross-entropy gradient differs");
        }
        13 => {
            let shape = twopass::LinearShape {
                tokens: rows,
                features,
                classes,
            };
            let o = twopass::CrossEntropyOptions::default();
            let mut dh = vec![0.0f32; rows * features];
            let out = twopass::LinearOutputs {
                d_hidden: (!y.is_null()).then_some(&mut dh[..]),
                ..Default::default()
            };
            let (h, w) = (
                &xin[..rows * features],
                &before[200..][..classes * features],
            );
            let loss = k
                .linear_cross_entropy(h, w, None, shape, &lin_targets, &o, out)
                .unwrap();
            assert!(loss.to_bits() == ce_loss.to_bits() || (loss.is_nan() && ce_loss.is_nan()));
            if !y.is_null() {
                let got = &buf[y_at.min(512)..][..rows * features];
                assert_same_bits(got, &dh, "linear cross-entropy d_hidden differs");
            }
        }
        6 => {
            let mut want = vec![0.0; outer * inner];
            k.log_sum_exp_axis(&xin[..total], outer, len, inner, &mut want)
                .unwrap();
            let got = &buf[y_at.min(512)..][..outer * inner];
            assert_same_bits(got, &want, "log_sum_exp_axis differs");
        }
        _ => {}
    }
});

/// The first `len` 16-bit elements in the bytes of `x` (as the C call reads them), as `T`.
fn halves<T>(x: &[f32], len: usize, from_bits: fn(u16) -> T) -> Vec<T> {
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_ne_bytes()).collect();
    bytes
        .chunks_exact(2)
        .take(len)
        .map(|h| from_bits(u16::from_ne_bytes([h[0], h[1]])))
        .collect()
}
