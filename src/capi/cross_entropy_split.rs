//! Cross-entropy of one row split across the caller's threads: `twopass_cross_entropy_state`
//! and its functions, over [`CrossEntropyStream`].

use std::mem::{align_of, size_of};
use std::ptr;

use super::args::{buffers, check, slice, slice_mut, Array, Buffers};
use super::cross_entropy::{
    read_options, rust_options, twopass_cross_entropy_options,
    twopass_cross_entropy_options_default,
};
use super::{guard, kernels, status, TWOPASS_ERROR_INVALID_ARGUMENT, TWOPASS_ERROR_SHAPE};
use crate::cross_entropy::words::StreamWords;
use crate::{CrossEntropyOptions, CrossEntropyStream, Float};

/// One cross-entropy row of `cols` classes fed in chunks, possibly by several threads: the
/// first step of `twopass_cross_entropy_row_gradient_f32`'s three. Set it with
/// `twopass_cross_entropy_row_init`; plain bytes (copy it freely), the library's own (their
/// meaning is not part of the ABI; a state not set by init, or by a merge of states set by it,
/// is `TWOPASS_ERROR_INVALID_ARGUMENT` where it can be told apart).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct twopass_cross_entropy_state {
    /// The state's bytes.
    pub opaque: [u64; 16],
}

const _: () = assert!(
    size_of::<StreamWords>() == size_of::<twopass_cross_entropy_state>()
        && align_of::<StreamWords>() == align_of::<twopass_cross_entropy_state>()
);

/// Sets `*state` to a row of `cols` classes with class-index `target` (or the ignore index of
/// `options`), nothing seen yet. `options` (NULL: the defaults) must be the same options, class
/// weights included, in every later call on this state and on the states merged with it.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE` (`cols == 0`), `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned, options
/// as `twopass_cross_entropy_f32`), `TWOPASS_ERROR_TARGET_OUT_OF_RANGE`; after the
/// `TWOPASS_ISA` check. Nothing is written on error.
///
/// # Safety
/// `state` points to a writable `twopass_cross_entropy_state`, `options` as in
/// `twopass_cross_entropy_f32` (its class weights `cols` floats).
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_init(
    state: *mut twopass_cross_entropy_state,
    cols: usize,
    target: i64,
    options: *const twopass_cross_entropy_options,
) -> i32 {
    guard(|| {
        let k = kernels()?;
        let (read, bytes) = read_options(options);
        let weights = read.map_or(ptr::null(), |o| o.class_weights);
        check(
            &[
                Array::output(state, 1),
                Array::input(options.cast::<u8>(), bytes),
                Array::optional_input(weights, cols),
            ],
            None,
        )?;
        if cols == 0 {
            return Err(TWOPASS_ERROR_SHAPE);
        }
        // SAFETY: `check` accepted the class weights as `cols` inputs apart from the output.
        let options = unsafe { rust_options(&read?, cols)? };
        let stream = CrossEntropyStream::new(*k, cols, target, &options).map_err(|e| status(&e))?;
        // SAFETY: `check` accepted state as one output.
        unsafe { slice_mut(state, 1)[0].opaque = stream.to_words() };
        Ok(())
    })
}

/// Folds the logits of columns `offset .. offset + n` of the row (`n` floats at `x`) into
/// `*state`: one read of the chunk (its extended-exponent sum, the target logit if it lies in
/// the chunk, the weighted logit sum label smoothing needs). Every column of the row must reach
/// exactly one update of one of the states merged in the end; chunks in any order.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE` (the chunk reaches past the row), `TWOPASS_ERROR_INVALID_ARGUMENT`
/// (misaligned, overlapping, a state not set by `twopass_cross_entropy_row_init`, options as
/// there); after the `TWOPASS_ISA` check. Nothing is written on error.
///
/// # Safety
/// `state` points to a writable `twopass_cross_entropy_state` set by
/// `twopass_cross_entropy_row_init` (or a copy of one), `options` to the options given there
/// (or is NULL if they were), `x` to `n` readable floats (or is NULL with `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_update_f32(
    state: *mut twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    offset: usize,
    x: *const f32,
    n: usize,
) -> i32 {
    guard(|| update(state, options, offset, x, n))
}

/// Checks and runs an update on logits of type `T`.
pub(super) fn update<T: Float>(
    state: *mut twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    offset: usize,
    x: *const T,
    n: usize,
) -> super::Status {
    let arrays = [Array::input(x, n), Array::output(ptr::null_mut::<T>(), 0)];
    let mut stream = stream_of(state, true, options, arrays, None)?;
    // SAFETY: `stream_of` checked x as n inputs apart from the state.
    let x = unsafe { slice(x, n) };
    stream.update(offset, x).map_err(|e| status(&e))?;
    // SAFETY: `stream_of` checked state as one output apart from every input.
    unsafe { slice_mut(state, 1)[0].opaque = stream.to_words() };
    Ok(())
}

/// Folds `*other`, a state of the same row (made by `twopass_cross_entropy_row_init` with the
/// same columns, target and options) fed other columns, into `*state`: the second step. Merge
/// after every update has finished, in any order.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE` (the two have seen more columns than the row has),
/// `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned, `other` overlapping `state`, states of
/// different rows or not set by init); after the `TWOPASS_ISA` check. Nothing is written on
/// error.
///
/// # Safety
/// `state` points to a writable and `other` to a readable `twopass_cross_entropy_state`, each
/// set by `twopass_cross_entropy_row_init` (or a copy of one).
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_merge(
    state: *mut twopass_cross_entropy_state,
    other: *const twopass_cross_entropy_state,
) -> i32 {
    guard(|| {
        let k = kernels()?;
        check(&[Array::output(state, 1), Array::input(other, 1)], None)?;
        // SAFETY: `check` accepted both as one state each, apart.
        let (a, b) = unsafe { (slice(state.cast_const(), 1)[0], slice(other, 1)[0]) };
        // The options are not used by a merge.
        let o = CrossEntropyOptions::default();
        let of = |w: &StreamWords| {
            CrossEntropyStream::from_words(*k, o, w).ok_or(TWOPASS_ERROR_INVALID_ARGUMENT)
        };
        let mut stream = of(&a.opaque)?;
        stream.merge(&of(&b.opaque)?).map_err(|e| status(&e))?;
        // SAFETY: as above.
        unsafe { slice_mut(state, 1)[0].opaque = stream.to_words() };
        Ok(())
    })
}

/// The row's unreduced loss into `*loss` and its log-sum-exp into `*lse` (each optional: NULL
/// is not written), once every column reached the merged `*state`: the values of
/// `twopass_cross_entropy_log_prob_f32`'s `row_losses` and `row_lse` for this row (the
/// log-sum-exp of an ignored row too), within the same bounds. Reduce the rows' losses
/// yourself (MEAN: divide their sum by the valid rows' target weights).
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE` (a column not seen yet: fewer columns given than the row has, or its
/// target's column never given, as when a chunk came twice), `TWOPASS_ERROR_INVALID_ARGUMENT`
/// (misaligned, overlapping, a state not set by init, options as there); after the
/// `TWOPASS_ISA` check.
/// Nothing is written on error.
///
/// # Safety
/// `state` points to a readable `twopass_cross_entropy_state` (as for the update), `options`
/// to the options given to init (or is NULL if they were), `loss` and `lse` each to a writable
/// float or are NULL.
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_finish(
    state: *const twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    loss: *mut f32,
    lse: *mut f32,
) -> i32 {
    guard(|| {
        let arrays = [
            Array::optional_output(loss, 1),
            Array::optional_output(lse, 1),
        ];
        let stream = stream_of(state, false, options, arrays, None)?;
        let row = stream.finish().map_err(|e| status(&e))?;
        for (p, v) in [(loss, row.loss()), (lse, row.lse())] {
            if !p.is_null() {
                // SAFETY: `stream_of` checked each non-NULL output as one float, apart.
                unsafe { slice_mut(p, 1)[0] = v };
            }
        }
        Ok(())
    })
}

/// The gradient of a row split across the caller's threads, the last of three steps: (1) each
/// thread sets a state with `twopass_cross_entropy_row_init` (the same columns, target and
/// options for all) and folds its chunks in with `twopass_cross_entropy_row_update_f32`; (2)
/// the states are merged into one (`twopass_cross_entropy_row_merge`); (3) each thread writes
/// `grad[i] = scale * d loss / d x[offset + i]` for its chunk here (`x` its `n` logits), from
/// the merged `*state`; `twopass_cross_entropy_row_finish` gives the loss. One read of each
/// chunk in step 1 and one read and write in step 3; `scale` is the caller's upstream
/// gradient (divided by the mean's denominator for a mean). The loss and gradient agree with
/// `twopass_cross_entropy_f32` on the whole row (`rows == 1`, `TWOPASS_REDUCTION_SUM`,
/// `grad_output` = `scale`) within the same bounds, not bitwise; an ignored row's gradient is
/// 0, a row with a NaN or `+inf` logit (or only `-inf`) gives NaN.
///
/// Threads: merge after every update has finished, never two merges into one state at once;
/// then every thread may pass the same merged state here at once (it is only read).
///
/// `grad == x` writes the gradient over the logits; any other overlap between `x`, `grad`,
/// `*state` and the options is `TWOPASS_ERROR_INVALID_ARGUMENT`. `x` and `grad` may be NULL
/// only when `n == 0`. Returns `TWOPASS_OK` or the first error of
/// `TWOPASS_ERROR_NULL_POINTER`, `TWOPASS_ERROR_SHAPE` (the chunk reaches past the row, a
/// column not seen yet), `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned, overlapping, a state
/// not set by init, options as there); after the `TWOPASS_ISA` check. Nothing is written on
/// error.
///
/// # Safety
/// As `twopass_cross_entropy_row_finish`, with `x` pointing to `n` readable and `grad` to `n`
/// writable floats (or NULL with `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_gradient_f32(
    state: *const twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    offset: usize,
    x: *const f32,
    grad: *mut f32,
    n: usize,
    scale: f32,
) -> i32 {
    guard(|| gradient(state, options, offset, (x, grad, n), scale))
}

/// Checks and writes a chunk's gradient, for logits of type `T`.
pub(super) fn gradient<T: Float>(
    state: *const twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    offset: usize,
    (x, grad, n): (*const T, *mut T, usize),
    scale: f32,
) -> super::Status {
    let arrays = [Array::input(x, n), Array::output(grad, n)];
    let stream = stream_of(state, false, options, arrays, Some((3, 4)))?;
    let row = stream.finish().map_err(|e| status(&e))?;
    // SAFETY: `stream_of` checked x and grad as n elements each, with (x, grad) the in-place
    // pair, apart from the rest.
    match unsafe { buffers(x, n, grad, n) } {
        Buffers::Split(x, g) => row.gradient(offset, x, g, scale),
        Buffers::InPlace(xg) => row.gradient_in_place(offset, xg, scale),
    }
    .map_err(|e| status(&e))
}

/// The stream at `state` (written by the call when `writes`) with `options`, after the
/// `TWOPASS_ISA` check and `check` of the state, the options, their class weights and
/// `arrays` (indices 3 and 4 of the call's list, for `in_place`).
fn stream_of<'a>(
    state: *const twopass_cross_entropy_state,
    writes: bool,
    options: *const twopass_cross_entropy_options,
    arrays: [Array; 2],
    in_place: Option<(usize, usize)>,
) -> Result<CrossEntropyStream<'a>, i32> {
    let k = kernels()?;
    let state_array = match writes {
        true => Array::output(state.cast_mut(), 1),
        false => Array::input(state, 1),
    };
    check(&[state_array], None)?;
    // SAFETY: `check` accepted state as one state; a copy, read before any output is a slice.
    let words = unsafe { slice(state, 1)[0].opaque };
    // A state no init set is reported after the pointers and shapes.
    let cols = CrossEntropyStream::cols(&words);
    let (read, bytes) = read_options(options);
    let given = read.unwrap_or_else(|_| twopass_cross_entropy_options_default());
    check(
        &[
            state_array,
            Array::input(options.cast::<u8>(), bytes),
            Array::optional_input(given.class_weights, cols.unwrap_or(0)),
            arrays[0],
            arrays[1],
        ],
        in_place,
    )?;
    let cols = cols.ok_or(TWOPASS_ERROR_INVALID_ARGUMENT)?;
    // SAFETY: `check` accepted the class weights as `cols` inputs apart from every output.
    let options = unsafe { rust_options(&read?, cols)? };
    // Options init refuses are refused here too (found in review: a smoothing of 2 computed).
    options.check(cols).map_err(|e| status(&e))?;
    CrossEntropyStream::from_words(*k, options, &words).ok_or(TWOPASS_ERROR_INVALID_ARGUMENT)
}
