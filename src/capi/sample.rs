//! Drawing tokens from rows of logits: `twopass_sample_*` over
//! [`crate::Kernels::sample`] and [`crate::Kernels::sample_rows`], and the distribution drawn
//! from, `twopass_kept_probabilities_*` over [`crate::Kernels::kept_probabilities`], for f32,
//! f16 and bf16.

use std::mem::{offset_of, size_of};

use half::{bf16, f16};

use super::args::{check, slice, slice_mut, Array};
use super::{guard, kernels, status, Status, TWOPASS_ERROR_INVALID_ARGUMENT};
use crate::{Float, RngState, SampleParams};

/// How to draw, for the `twopass_sample_*` functions: start from
/// `twopass_sample_params_default()` and change the fields wanted (a zeroed struct is refused:
/// its `size` is 0). `size` lets the struct grow, as `twopass_cross_entropy_options`'s does:
/// the library reads the fields that fit in `size` bytes (later ones take their defaults) and
/// ignores bytes it does not know.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct twopass_sample_params {
    /// `sizeof(twopass_sample_params)`, as set by the default; at least 24 (20 where `size_t`
    /// has 4 bytes): the fields below.
    pub size: u32,
    /// 0 (greedy: the first max) or a normal positive float of at most 2^126 (`1 / T` normal
    /// too); default 1.
    pub temperature: f32,
    /// Keep the `top_k` largest logits and their ties; default 0 (keep all).
    pub top_k: usize,
    /// In `(0, 1]`: keep the fewest top tokens holding at least `top_p` of the mass (ties at the
    /// edge kept); default 1 (keep all).
    pub top_p: f32,
    /// In `[0, 1]`: keep the tokens of at least `min_p` times the top probability; default 0
    /// (keep all).
    pub min_p: f32,
}

/// The bytes of the fields every `twopass_sample_params` must hold (its first version's).
const PARAMS_FIRST_VERSION: usize = offset_of!(twopass_sample_params, min_p) + size_of::<f32>();

// Every field is in the first version, so a struct of at least that size holds them all; a
// field added later needs reading as far as `size` goes (as `twopass_cross_entropy_options`).
const _: () = assert!(PARAMS_FIRST_VERSION == size_of::<twopass_sample_params>());

/// Where draws come from: `seed` keys the generator, `counter` numbers the next draw (each row
/// drawn takes one, and the call advances it). Plain values: `{seed, 0}` starts a sequence, and
/// a copy replays it.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct twopass_rng_state {
    /// The generator's key.
    pub seed: u64,
    /// The next draw's number (wraps after `UINT64_MAX`).
    pub counter: u64,
}

/// The default parameters: temperature 1, no filter, `size` set to this library's
/// `sizeof(twopass_sample_params)`.
#[no_mangle]
pub extern "C" fn twopass_sample_params_default() -> twopass_sample_params {
    let rust = SampleParams::default();
    twopass_sample_params {
        size: size_of::<twopass_sample_params>() as u32,
        temperature: rust.temperature,
        top_k: rust.top_k,
        top_p: rust.top_p,
        min_p: rust.min_p,
    }
}

/// Draws a token from the `n` floats at `logits` into `*token`, with draw `rng->counter` under
/// `rng->seed`, then advances `rng->counter` by one.
///
/// With temperature `T = params->temperature > 0`, token `i` has probability
/// `exp((x[i] - max) / T) / sum` over the kept logits: those every filter keeps (top-k: the
/// `top_k` largest and their ties; top-p, on the top-k survivors: the fewest top tokens holding
/// at least `top_p` of the mass, ties at the edge kept; min-p: `x[i] >= max + T ln(min_p)`).
/// `T == 0` is greedy: the first index of the max (the counter advances all the same). `-inf`
/// logits are never drawn. The draw's uniform is Philox4x32-10 at (`seed`, `counter`) and the
/// masses are float operations in a fixed order, so the same seed, counter, logits and
/// parameters give the same token on every ISA and element type (and as the Rust API). The
/// filters allocate (top-k `max(4k, 256)` floats).
///
/// `params`, `rng` and `token` are never NULL; an overlap of `*token` or `*rng` with any other
/// argument is `TWOPASS_ERROR_INVALID_ARGUMENT`.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`;
/// `TWOPASS_ERROR_SHAPE` (`n == 0`, or `n` floats overflow the address space);
/// `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned, overlapping; `params->size` too small, a
/// parameter out of its range; then a NaN or `+inf` logit, or every logit `-inf`); after the
/// `TWOPASS_ISA` check. On error `*token` and `*rng` are unchanged.
///
/// # Safety
/// `logits` points to `n` readable floats, `params` to `params->size` readable bytes, `rng` to
/// a writable `twopass_rng_state` and `token` to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_sample_f32(
    logits: *const f32,
    n: usize,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    token: *mut usize,
) -> i32 {
    guard(|| sample(logits, n, params, rng, token))
}

/// Draws a token from each row of a `rows x cols` matrix of floats (row `r` at
/// `x[r * x_stride ..]`) into `tokens[r]`, row `r` with draw `rng->counter + r`, each as
/// `twopass_sample_f32`; then advances `rng->counter` by `rows`. Every row is checked before
/// anything is written; rows allocate one scan each besides the filters.
///
/// `x` and `tokens` may be NULL when `rows == 0` (nothing drawn, the counter unchanged);
/// `params` and `rng` never. Any overlap of `tokens[0..rows)` or `*rng` with another argument
/// is `TWOPASS_ERROR_INVALID_ARGUMENT`. Status codes as `twopass_sample_f32`, with
/// `TWOPASS_ERROR_SHAPE` for `cols == 0` with `rows > 0` or a stride below `cols`; on error
/// `tokens` and `*rng` are unchanged.
///
/// # Safety
/// `x` points to its span of readable floats and `tokens` to `rows` writable `size_t` (each may
/// be NULL when `rows == 0`), `params` and `rng` as `twopass_sample_f32`.
#[no_mangle]
pub unsafe extern "C" fn twopass_sample_rows_f32(
    x: *const f32,
    x_stride: usize,
    rows: usize,
    cols: usize,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    tokens: *mut usize,
) -> i32 {
    guard(|| sample_rows((x, x_stride), rows, cols, params, rng, tokens))
}

/// `twopass_sample_f32` on `n` IEEE binary16 logits (as `uint16_t` bits): the token
/// `twopass_sample_f32` draws from the same values as floats.
///
/// # Safety
/// As `twopass_sample_f32`, with `logits` pointing to `n` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_sample_f16(
    logits: *const u16,
    n: usize,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    token: *mut usize,
) -> i32 {
    guard(|| sample::<f16>(logits.cast(), n, params, rng, token))
}

/// `twopass_sample_rows_f32` on a matrix of IEEE binary16 logits (as `uint16_t` bits).
///
/// # Safety
/// As `twopass_sample_rows_f32`, with `x` a span of `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_sample_rows_f16(
    x: *const u16,
    x_stride: usize,
    rows: usize,
    cols: usize,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    tokens: *mut usize,
) -> i32 {
    guard(|| sample_rows::<f16>((x.cast(), x_stride), rows, cols, params, rng, tokens))
}

/// `twopass_sample_f32` on `n` bfloat16 logits (as `uint16_t` bits): the token
/// `twopass_sample_f32` draws from the same values as floats.
///
/// # Safety
/// As `twopass_sample_f32`, with `logits` pointing to `n` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_sample_bf16(
    logits: *const u16,
    n: usize,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    token: *mut usize,
) -> i32 {
    guard(|| sample::<bf16>(logits.cast(), n, params, rng, token))
}

/// `twopass_sample_rows_f32` on a matrix of bfloat16 logits (as `uint16_t` bits).
///
/// # Safety
/// As `twopass_sample_rows_f32`, with `x` a span of `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_sample_rows_bf16(
    x: *const u16,
    x_stride: usize,
    rows: usize,
    cols: usize,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    tokens: *mut usize,
) -> i32 {
    guard(|| sample_rows::<bf16>((x.cast(), x_stride), rows, cols, params, rng, tokens))
}

/// The distribution `twopass_sample_f32` draws from with `params`, one probability per logit
/// into `probs`: `exp((x[i] - max) / T) / sum` over the kept logits (as `twopass_sample_f32`
/// defines them) and 0 for the rest; `T == 0` puts 1 at the first max. For speculative
/// decoding: the target's probabilities of drafted tokens and the kept distribution to
/// resample from. Each probability is within `2 (1e-5 max(p, q) + 1e-37)` of the exact `q`
/// (below 2^-126: 0), 0 exactly off the kept set; a token `twopass_sample_f32` draws has a
/// positive one unless its probability is within rounding of 2^-126. The filters allocate as
/// in `twopass_sample_f32`; no draw is made and no state is needed.
///
/// `params` is never NULL, nor `logits` and `probs` with `n > 0` (`n == 0` is
/// `TWOPASS_ERROR_SHAPE` whatever they are); `probs` must not overlap the other arguments
/// (`TWOPASS_ERROR_INVALID_ARGUMENT`).
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`;
/// `TWOPASS_ERROR_SHAPE` (`n == 0`, or `n` floats overflow the address space);
/// `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned, overlapping; `params->size` too small, a
/// parameter out of its range; then a NaN or `+inf` logit, or every logit `-inf`); after the
/// `TWOPASS_ISA` check. On error `probs` is unchanged.
///
/// # Safety
/// `logits` points to `n` readable floats, `params` to `params->size` readable bytes and
/// `probs` to `n` writable floats.
#[no_mangle]
pub unsafe extern "C" fn twopass_kept_probabilities_f32(
    logits: *const f32,
    n: usize,
    params: *const twopass_sample_params,
    probs: *mut f32,
) -> i32 {
    guard(|| kept_probabilities(logits, n, params, probs))
}

/// `twopass_kept_probabilities_f32` on `n` IEEE binary16 logits (as `uint16_t` bits), the
/// probabilities as floats: those of the same values as floats.
///
/// # Safety
/// As `twopass_kept_probabilities_f32`, with `logits` pointing to `n` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_kept_probabilities_f16(
    logits: *const u16,
    n: usize,
    params: *const twopass_sample_params,
    probs: *mut f32,
) -> i32 {
    guard(|| kept_probabilities::<f16>(logits.cast(), n, params, probs))
}

/// `twopass_kept_probabilities_f32` on `n` bfloat16 logits (as `uint16_t` bits), the
/// probabilities as floats: those of the same values as floats.
///
/// # Safety
/// As `twopass_kept_probabilities_f32`, with `logits` pointing to `n` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_kept_probabilities_bf16(
    logits: *const u16,
    n: usize,
    params: *const twopass_sample_params,
    probs: *mut f32,
) -> i32 {
    guard(|| kept_probabilities::<bf16>(logits.cast(), n, params, probs))
}

/// Checks and computes the kept probabilities of the `n` logits at `logits` into `probs`.
fn kept_probabilities<T: Float>(
    logits: *const T,
    n: usize,
    params: *const twopass_sample_params,
    probs: *mut f32,
) -> Status {
    let k = kernels()?;
    let row = Array::input(logits, n).with_classes(1, n);
    check(
        &[row, Array::input(params, 1), Array::output(probs, n)],
        None,
    )?;
    let params = read_params(params)?;
    // SAFETY: `check` accepted logits as n inputs and probs as n outputs apart from every
    // other argument.
    let (logits, probs) = unsafe { (slice(logits, n), slice_mut(probs, n)) };
    k.kept_probabilities(logits, &params, probs)
        .map_err(|e| status(&e))
}

/// Checks and runs a draw from the `n` logits at `logits` into `*token`.
fn sample<T: Float>(
    logits: *const T,
    n: usize,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    token: *mut usize,
) -> Status {
    let k = kernels()?;
    // One row of `n` classes: `n == 0` is a shape error, NULL or not.
    let row = Array::input(logits, n).with_classes(1, n);
    let (params, mut state) = begin(row, params, rng, Array::output(token, 1))?;
    // SAFETY: `begin` had `check` accept logits as n inputs.
    let logits = unsafe { slice(logits, n) };
    let drawn = k
        .sample(logits, &params, &mut state)
        .map_err(|e| status(&e))?;
    // SAFETY: `check` accepted token as one output apart from every other argument.
    unsafe { slice_mut(token, 1)[0] = drawn };
    advance(rng, state);
    Ok(())
}

/// Checks and runs a draw from each row of a `(pointer, stride)` matrix into `tokens`.
fn sample_rows<T: Float>(
    (x, x_stride): (*const T, usize),
    rows: usize,
    cols: usize,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    tokens: *mut usize,
) -> Status {
    let k = kernels()?;
    let xa = Array::input_rows(x, x_stride, rows, cols).with_classes(rows, cols);
    let (params, mut state) = begin(xa, params, rng, Array::output(tokens, rows))?;
    // SAFETY: `begin` had `check` accept x's span as input and tokens as rows outputs apart
    // from every other argument.
    let (x, tokens) = unsafe { (slice(x, xa.len()), slice_mut(tokens, rows)) };
    k.sample_rows(x, x_stride, cols, &params, &mut state, tokens)
        .map_err(|e| status(&e))?;
    advance(rng, state);
    Ok(())
}

/// Checks every argument of a draw (the logits, `params`, `rng` and the tokens written), then
/// reads the parameters and the state.
fn begin(
    logits: Array,
    params: *const twopass_sample_params,
    rng: *mut twopass_rng_state,
    tokens: Array,
) -> Result<(SampleParams, RngState), i32> {
    check(
        &[
            logits,
            Array::input(params, 1),
            Array::output(rng, 1),
            tokens,
        ],
        None,
    )?;
    let params = read_params(params)?;
    // SAFETY: `check` accepted rng as one output apart from every other argument (read, then
    // dropped).
    let rng = unsafe { slice_mut(rng, 1)[0] };
    let state = RngState {
        seed: rng.seed,
        counter: rng.counter,
    };
    Ok((params, state))
}

/// The parameters at `params`, once `check` has accepted it as one input.
fn read_params(params: *const twopass_sample_params) -> Result<SampleParams, i32> {
    // SAFETY: `check` accepted params as one input (non-NULL, aligned, apart from the
    // outputs); the C caller provides its first `size` bytes, `size` among them.
    let size = unsafe { slice(params.cast::<u32>(), 1)[0] } as usize;
    if size < PARAMS_FIRST_VERSION {
        return Err(TWOPASS_ERROR_INVALID_ARGUMENT);
    }
    // SAFETY: as above; `size` bytes cover the whole struct (PARAMS_FIRST_VERSION).
    let p = unsafe { slice(params, 1)[0] };
    Ok(SampleParams {
        temperature: p.temperature,
        top_k: p.top_k,
        top_p: p.top_p,
        min_p: p.min_p,
    })
}

/// Stores the counter of a successful draw's `state` in `*rng`.
fn advance(rng: *mut twopass_rng_state, state: RngState) {
    // SAFETY: `begin` had `check` accept rng as one output apart from every other argument.
    unsafe { slice_mut(rng, 1)[0].counter = state.counter };
}
