//! Softmax, log-softmax and log-sum-exp on f32, f16 and bf16 rows (and on f64, in f64, by
//! `*_f64` scalar functions), with hand-vectorised AVX2 and AVX-512
//! kernels chosen at run time, and the two-pass algorithm of Dukhan & Ablavatski (2020):
//! the sum of `exp(x)` is kept as a (mantissa, exponent) pair, so softmax needs no max pass.
//!
//! ```
//! let x = [1.0f32, 2.0, 3.0, f32::NEG_INFINITY];
//! let mut y = [0.0f32; 4];
//! twopass::softmax(&x, &mut y)?;
//! assert_eq!(y[3], 0.0);
//! let lse = twopass::log_sum_exp(&x);
//! assert!((lse - 3.407_606).abs() < 1e-6);
//! # Ok::<(), twopass::Error>(())
//! ```
//!
//! Semantics and accuracy follow docs/accuracy.md: special values per row (a NaN
//! makes every output NaN; `+inf` or an all `-inf` row makes softmax NaN), errors checked
//! before anything is written, bounds that do not grow with the row length, deterministic
//! results for the same values, ISA and algorithm. No call allocates or spawns threads, except
//! sampling's filters (`Kernels::sample`), the logits tile of
//! `Kernels::linear_cross_entropy`, and the `_par` methods of the `rayon` feature (off by
//! default).
//!
//! The free functions run on the process-wide ISA (`TWOPASS_ISA`, [`set_isa`], else the best
//! the CPU has) with [`Algorithm::Auto`]; [`Kernels`] picks an ISA and algorithm per call.
//!
//! C and C++ programs use the same functions through the C ABI of module `capi` (cargo feature
//! `capi`, on by default): `libtwopass.so` / `libtwopass.a` and the header `include/twopass.h`.
//!
//! # Panics
//! Every free function that computes panics when `TWOPASS_ISA` names an unknown ISA or one the
//! CPU lacks (and [`set_isa`] has not overridden it); use [`Kernels::try_active`] to get an
//! [`Error`] instead.

// `unsafe` SIMD lives in twopass-kernels; here only the C ABI converts pointers (`capi`).
#![deny(unsafe_code)]

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod algorithm;
mod axis;
pub mod blocked;
#[allow(unsafe_code)] // The pointer-to-slice conversions of the C entry points.
pub mod capi;
mod cross_entropy;
mod dispatch;
mod double;
mod error;
mod float;
mod handle;
mod kernels;
mod linear;
mod lse_state;
#[cfg(feature = "rayon")]
mod parallel;
mod row;
mod sample;
mod sum;

pub use algorithm::{Algorithm, Crossover, Passes};
pub use cross_entropy::{
    CrossEntropyOptions, CrossEntropyOutputs, CrossEntropyRow, CrossEntropyStream, Reduction, Shape,
};
pub use dispatch::{active_isa, available_isas, detected_isa, is_supported, set_isa};
pub use double::{
    log_softmax_axis_f64, log_softmax_axis_f64_in_place, log_softmax_f64, log_sum_exp_axis_f64,
    log_sum_exp_f64, log_sum_exp_rows_f64, softmax_axis_f64, softmax_axis_f64_in_place,
    softmax_f64,
};
pub use error::Error;
pub use float::Float;
pub use half::{bf16, f16};
pub use handle::Kernels;
pub use linear::{LinearOutputs, LinearShape, CLASS_TILE, TOKEN_TILE};
pub use lse_state::LseState;
#[cfg(feature = "rayon")]
pub use parallel::{PAR_CHUNK, PAR_MIN};
pub use sample::{RngState, SampleParams};
pub use twopass_kernels::cpu;
#[cfg(target_arch = "x86_64")]
pub use twopass_kernels::fpenv;
pub use twopass_kernels::Isa;

/// `y = softmax(x)` (see [`Kernels::softmax`]).
pub fn softmax<T: Float>(x: &[T], y: &mut [T]) -> Result<(), Error> {
    Kernels::active_ref().softmax(x, y)
}

/// `y = softmax(x)` with a chosen algorithm.
pub fn softmax_with<T: Float>(algorithm: Algorithm, x: &[T], y: &mut [T]) -> Result<(), Error> {
    Kernels::active_ref()
        .with_algorithm(algorithm)
        .softmax(x, y)
}

/// `x = softmax(x)`.
pub fn softmax_in_place<T: Float>(x: &mut [T]) {
    Kernels::active_ref().softmax_in_place(x)
}

/// `y = log_softmax(x)` (see [`Kernels::log_softmax`]).
pub fn log_softmax<T: Float>(x: &[T], y: &mut [T]) -> Result<(), Error> {
    Kernels::active_ref().log_softmax(x, y)
}

/// `x = log_softmax(x)`.
pub fn log_softmax_in_place<T: Float>(x: &mut [T]) {
    Kernels::active_ref().log_softmax_in_place(x)
}

/// `ln(sum_i exp(x_i))` (see [`Kernels::log_sum_exp`]).
pub fn log_sum_exp<T: Float>(x: &[T]) -> f32 {
    Kernels::active_ref().log_sum_exp(x)
}

/// A token drawn from `logits` (see [`Kernels::sample`]).
pub fn sample<T: Float>(
    logits: &[T],
    params: &SampleParams,
    rng: &mut RngState,
) -> Result<usize, Error> {
    Kernels::active_ref().sample(logits, params, rng)
}

/// The distribution a draw takes its token from (see [`Kernels::kept_probabilities`]).
pub fn kept_probabilities<T: Float>(
    logits: &[T],
    params: &SampleParams,
    out: &mut [f32],
) -> Result<(), Error> {
    Kernels::active_ref().kept_probabilities(logits, params, out)
}

/// Row-wise softmax of a strided matrix (see [`Kernels::softmax_rows`]).
pub fn softmax_rows<T: Float>(
    x: &[T],
    x_stride: usize,
    y: &mut [T],
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    Kernels::active_ref().softmax_rows(x, x_stride, y, y_stride, rows, cols)
}

/// Row-wise softmax in place (see [`Kernels::softmax_rows_in_place`]).
pub fn softmax_rows_in_place<T: Float>(
    x: &mut [T],
    stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    Kernels::active_ref().softmax_rows_in_place(x, stride, rows, cols)
}

/// Row-wise log-softmax of a strided matrix (see [`Kernels::log_softmax_rows`]).
pub fn log_softmax_rows<T: Float>(
    x: &[T],
    x_stride: usize,
    y: &mut [T],
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    Kernels::active_ref().log_softmax_rows(x, x_stride, y, y_stride, rows, cols)
}

/// Row-wise log-softmax in place (see [`Kernels::log_softmax_rows_in_place`]).
pub fn log_softmax_rows_in_place<T: Float>(
    x: &mut [T],
    stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    Kernels::active_ref().log_softmax_rows_in_place(x, stride, rows, cols)
}

/// Softmax along the middle axis of an `(outer, len, inner)` tensor (see
/// [`Kernels::softmax_axis`]).
pub fn softmax_axis<T: Float>(
    x: &[T],
    y: &mut [T],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<(), Error> {
    Kernels::active_ref().softmax_axis(x, y, outer, len, inner)
}

/// Softmax along the middle axis in place (see [`Kernels::softmax_axis_in_place`]).
pub fn softmax_axis_in_place<T: Float>(
    x: &mut [T],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<(), Error> {
    Kernels::active_ref().softmax_axis_in_place(x, outer, len, inner)
}

/// Log-softmax along the middle axis (see [`Kernels::log_softmax_axis`]).
pub fn log_softmax_axis<T: Float>(
    x: &[T],
    y: &mut [T],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<(), Error> {
    Kernels::active_ref().log_softmax_axis(x, y, outer, len, inner)
}

/// Log-softmax along the middle axis in place (see [`Kernels::log_softmax_axis_in_place`]).
pub fn log_softmax_axis_in_place<T: Float>(
    x: &mut [T],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<(), Error> {
    Kernels::active_ref().log_softmax_axis_in_place(x, outer, len, inner)
}

/// Log-sum-exp along the middle axis (see [`Kernels::log_sum_exp_axis`]).
pub fn log_sum_exp_axis<T: Float>(
    x: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    out: &mut [f32],
) -> Result<(), Error> {
    Kernels::active_ref().log_sum_exp_axis(x, outer, len, inner, out)
}

/// Cross-entropy with the classes on the middle axis of `(outer, cols, inner)` logits (see
/// [`Kernels::cross_entropy_axis`]).
pub fn cross_entropy_axis<T: Float>(
    logits: &[T],
    shape: (usize, usize, usize),
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: CrossEntropyOutputs<'_, T>,
    grad: Option<&mut [T]>,
) -> Result<f32, Error> {
    Kernels::active_ref().cross_entropy_axis(logits, shape, targets, options, out, grad)
}

/// Row-wise log-sum-exp (see [`Kernels::log_sum_exp_rows`]).
pub fn log_sum_exp_rows<T: Float>(
    x: &[T],
    stride: usize,
    rows: usize,
    cols: usize,
    out: &mut [f32],
) -> Result<(), Error> {
    Kernels::active_ref().log_sum_exp_rows(x, stride, rows, cols, out)
}

/// Cross-entropy on the process-wide kernels (see [`Kernels::cross_entropy`]).
pub fn cross_entropy<T: Float>(
    logits: &[T],
    shape: Shape,
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: CrossEntropyOutputs<'_, T>,
    grad: Option<(&mut [T], usize)>,
) -> Result<f32, Error> {
    Kernels::active_ref().cross_entropy(logits, shape, targets, options, out, grad)
}

/// Cross-entropy with the gradient written over the logits (see
/// [`Kernels::cross_entropy_in_place`]).
pub fn cross_entropy_in_place<T: Float>(
    logits: &mut [T],
    shape: Shape,
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: CrossEntropyOutputs<'_, T>,
) -> Result<f32, Error> {
    Kernels::active_ref().cross_entropy_in_place(logits, shape, targets, options, out)
}
