//! The sampling entry points of the C ABI against the Rust API: the same token and counter for
//! f32, f16 and bf16 logits, single rows and matrices, over a few hundred seeds, on every ISA
//! under test. (tests/c/sample.c checks the C side's properties and status codes.)
#![cfg(feature = "capi")]

mod common;

use common::{isas_under_test, Rng};
use twopass::capi::*;
use twopass::{bf16, f16, Float, Kernels, RngState, SampleParams};

type Single<E> = unsafe extern "C" fn(
    *const E,
    usize,
    *const twopass_sample_params,
    *mut twopass_rng_state,
    *mut usize,
) -> i32;
type Rows<E> = unsafe extern "C" fn(
    *const E,
    usize,
    usize,
    usize,
    *const twopass_sample_params,
    *mut twopass_rng_state,
    *mut usize,
) -> i32;

/// Greedy, plain temperature, and each filter (alone and together).
fn modes() -> [SampleParams; 6] {
    let d = SampleParams::default();
    [
        SampleParams {
            temperature: 0.0,
            ..d
        },
        d,
        SampleParams {
            temperature: 0.7,
            top_k: 20,
            ..d
        },
        SampleParams {
            temperature: 1.3,
            top_p: 0.9,
            ..d
        },
        SampleParams { min_p: 0.05, ..d },
        SampleParams {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.02,
        },
    ]
}

fn c_params(p: &SampleParams) -> twopass_sample_params {
    twopass_sample_params {
        temperature: p.temperature,
        top_k: p.top_k,
        top_p: p.top_p,
        min_p: p.min_p,
        ..twopass_sample_params_default()
    }
}

/// `n` logits N(0, 2) in `T`, some masked with `-inf` (never the first, so a token exists).
fn logits<T: Float>(n: usize, r: &mut Rng, to: fn(f32) -> T) -> Vec<T> {
    (0..n)
        .map(|i| match r.below(8) {
            0 if i > 0 => to(f32::NEG_INFINITY),
            _ => to((2.0 * r.normal()) as f32),
        })
        .collect()
}

/// A counter for `seed`: small, large, or about to wrap.
fn counter(seed: u64, r: &mut Rng) -> u64 {
    match seed % 3 {
        0 => seed,
        1 => r.next_u64(),
        _ => u64::MAX - seed % 4,
    }
}

/// Over 300 seeds, the C entry points (`single`, `rows` on `E` bits) draw the tokens `k` does
/// on the same logits of type `T`, and advance the counter as it does.
fn compare<T: Float, E>(k: Kernels, single: Single<E>, rows: Rows<E>, to: fn(f32) -> T) {
    let modes = modes();
    for seed in 0..300u64 {
        let mut r = Rng::new(seed);
        let params = modes[seed as usize % modes.len()];
        let c = c_params(&params);
        let n = match seed % 10 {
            0 => 1,
            9 => 5000 + r.below(3000),
            _ => 1 + r.below(400),
        };
        let x = logits(n, &mut r, to);
        let mut want = RngState {
            seed: r.next_u64(),
            counter: counter(seed, &mut r),
        };
        let mut got = twopass_rng_state {
            seed: want.seed,
            counter: want.counter,
        };
        let mut token = usize::MAX;
        // SAFETY: x holds n elements of E's size and alignment; the rest are locals.
        let status = unsafe { single(x.as_ptr().cast(), n, &c, &mut got, &mut token) };
        let expected = k.sample(&x, &params, &mut want).unwrap();
        assert_eq!(
            (status, token),
            (TWOPASS_OK, expected),
            "seed {seed}, n {n}"
        );
        assert_eq!((got.seed, got.counter), (want.seed, want.counter));

        // The same parameters on a matrix with padding between rows.
        let (m, cols) = (1 + r.below(6), 1 + r.below(300));
        let stride = cols + r.below(4);
        let x = logits((m - 1) * stride + cols, &mut r, to);
        let mut expected = vec![0; m];
        k.sample_rows(&x, stride, cols, &params, &mut want, &mut expected)
            .unwrap();
        let mut tokens = vec![usize::MAX; m];
        // SAFETY: x spans the matrix in E-sized elements, tokens holds m outputs.
        let status = unsafe {
            rows(
                x.as_ptr().cast(),
                stride,
                m,
                cols,
                &c,
                &mut got,
                tokens.as_mut_ptr(),
            )
        };
        assert_eq!((status, &tokens), (TWOPASS_OK, &expected), "seed {seed}");
        assert_eq!((got.seed, got.counter), (want.seed, want.counter));
    }
}

#[test]
fn c_draws_the_rust_apis_tokens_for_every_type() {
    for isa in isas_under_test() {
        // The process-wide ISA, which the C calls use.
        twopass::set_isa(Some(isa)).unwrap();
        let k = Kernels::new(isa).unwrap();
        compare::<f32, f32>(k, twopass_sample_f32, twopass_sample_rows_f32, |v| v);
        compare::<f16, u16>(
            k,
            twopass_sample_f16,
            twopass_sample_rows_f16,
            f16::from_f32,
        );
        compare::<bf16, u16>(
            k,
            twopass_sample_bf16,
            twopass_sample_rows_bf16,
            bf16::from_f32,
        );
    }
    twopass::set_isa(None).unwrap();
}
