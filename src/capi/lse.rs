//! Streaming log-sum-exp: `twopass_lse_state` and its functions, over [`LseState`].

use std::mem::{align_of, size_of};
use std::panic::catch_unwind;

use super::args::{buffers, check, slice, slice_mut, Array, Buffers};
use super::{guard, kernels, status};
use crate::{Error, Float, Kernels, LseState};

/// A streaming log-sum-exp accumulator: initialise it with `twopass_lse_init`, fold chunks in
/// with `twopass_lse_update_f32` and other states with `twopass_lse_merge`, in any order, and
/// read `ln(sum exp(x))` over everything with `twopass_lse_value`. Plain bytes: copy it freely
/// (between threads, or to another machine of the same endianness to merge shards).
///
/// The bytes are the library's own, the same on every ISA (native endianness):
/// `opaque[0]` an f64 reference `r` (natural-log units), `opaque[1]` an f64 `s` with
/// `sum exp(x) = s * e^r` (0 when nothing finite was seen), `opaque[2]` the number of elements
/// seen, `opaque[3]` flags (bit 0: a NaN was seen; bit 1: `+inf` was seen; other bits 0).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct twopass_lse_state {
    /// The state's bytes, as documented above.
    pub opaque: [u64; 4],
}

// `LseState` is `#[repr(C)]` with four 8-byte fields (two f64, two u64), for which every bit
// pattern is valid: a `twopass_lse_state` is one.
const _: () = assert!(
    size_of::<LseState>() == size_of::<twopass_lse_state>()
        && align_of::<LseState>() == align_of::<twopass_lse_state>()
);

/// Sets `*state` to the empty state (`twopass_lse_value` gives `-inf`).
///
/// Returns `TWOPASS_OK`, `TWOPASS_ERROR_NULL_POINTER` or `TWOPASS_ERROR_INVALID_ARGUMENT`
/// (`state` not 8-byte aligned). Does not depend on the ISA.
///
/// # Safety
/// `state` points to a writable `twopass_lse_state`.
#[no_mangle]
pub unsafe extern "C" fn twopass_lse_init(state: *mut twopass_lse_state) -> i32 {
    guard(|| {
        check(&[Array::output(state, 1)], None)?;
        // SAFETY: `check` accepted state as one output (an LseState's size and alignment).
        unsafe { slice_mut(state.cast::<LseState>(), 1)[0] = LseState::new() };
        Ok(())
    })
}

/// Folds the `n` floats at `x` into `*state`: afterwards the state's value is
/// `ln(exp(value before) + sum_i exp(x[i]))`, within the accuracy of `twopass_log_sum_exp_f32`.
///
/// `x` may be NULL only when `n == 0`; `state` is never NULL. Any overlap of `x[0..n)` and
/// `*state` is `TWOPASS_ERROR_INVALID_ARGUMENT`. Returns `TWOPASS_OK` or the first error of:
/// `TWOPASS_ERROR_NULL_POINTER`, `TWOPASS_ERROR_SHAPE`, `TWOPASS_ERROR_INVALID_ARGUMENT`; after
/// the `TWOPASS_ISA` check.
///
/// # Safety
/// `state` points to a writable `twopass_lse_state` set by `twopass_lse_init` (or a copy of
/// one), `x` to `n` readable floats (or is NULL with `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn twopass_lse_update_f32(
    state: *mut twopass_lse_state,
    x: *const f32,
    n: usize,
) -> i32 {
    guard(|| update(state, x, n))
}

/// Checks and folds `n` elements into `*state`.
pub(super) fn update<T: crate::Float>(
    state: *mut twopass_lse_state,
    x: *const T,
    n: usize,
) -> super::Status {
    let k = kernels()?;
    check(&[Array::output(state, 1), Array::input(x, n)], None)?;
    // SAFETY: `check` accepted state as one output and x as n inputs apart from it.
    let (state, x) = unsafe { (&mut slice_mut(state.cast::<LseState>(), 1)[0], slice(x, n)) };
    k.lse_update(state, x);
    Ok(())
}

/// Folds `*other` into `*state` (the union of both inputs); `other == state` is allowed (it
/// doubles the sum). A partial overlap of the two is `TWOPASS_ERROR_INVALID_ARGUMENT`.
///
/// Returns `TWOPASS_OK`, `TWOPASS_ERROR_NULL_POINTER` or `TWOPASS_ERROR_INVALID_ARGUMENT`
/// (misaligned, overlapping). Does not depend on the ISA.
///
/// # Safety
/// `state` points to a writable and `other` to a readable `twopass_lse_state`, each set by
/// `twopass_lse_init` (or a copy of one).
#[no_mangle]
pub unsafe extern "C" fn twopass_lse_merge(
    state: *mut twopass_lse_state,
    other: *const twopass_lse_state,
) -> i32 {
    guard(|| {
        check(
            &[Array::output(state, 1), Array::input(other, 1)],
            Some((0, 1)),
        )?;
        // A copy first: when `other == state` no reference to it outlives this statement.
        // SAFETY: `check` accepted other as one input and state as one output (the same
        // state or apart from it).
        let other = unsafe { slice(other.cast::<LseState>(), 1)[0] };
        // SAFETY: as above; no other reference to state is alive.
        unsafe { slice_mut(state.cast::<LseState>(), 1)[0].merge(&other) };
        Ok(())
    })
}

/// `ln(sum exp(x))` over everything folded into `*state`: NaN if a NaN was seen, else `+inf`
/// if `+inf` was, else `-inf` when nothing finite was seen (the empty state). NaN when `state`
/// is NULL or not 8-byte aligned. Does not depend on the ISA.
///
/// # Safety
/// `state` is NULL or points to a readable `twopass_lse_state` set by `twopass_lse_init` (or
/// a copy of one).
#[no_mangle]
pub unsafe extern "C" fn twopass_lse_value(state: *const twopass_lse_state) -> f32 {
    catch_unwind(|| match check(&[Array::input(state, 1)], None) {
        // SAFETY: `check` accepted state as one input.
        Ok(()) => unsafe { slice(state.cast::<LseState>(), 1)[0].value() },
        Err(_) => f32::NAN,
    })
    .unwrap_or(f32::NAN)
}

/// Softmax of one chunk of a row split across the caller's threads, the last of three steps:
/// (1) each thread folds its chunk into a state of its own (`twopass_lse_init`, then
/// `twopass_lse_update_f32`); (2) the states are merged into one (`twopass_lse_merge`, in any
/// order); (3) each thread writes its chunk's `y[i] = exp(x[i] - lse)` here, from the merged
/// `*state` (`lse` its value). One read of each chunk per step and no max pass; threads wait
/// for each other only at the merge. The outputs agree with `twopass_softmax_f32` of the
/// whole row within the same bounds (not bitwise; each output carries up to 4.8e-7 relative
/// error more, so a row dominated by one element gives 0.9999995 there) and lie in [0, 1].
///
/// Special rows: a NaN or `+inf` anywhere in the row, or nothing but `-inf`, makes every
/// chunk's outputs NaN, and so does a state with no finite element (a fresh one); a `-inf`
/// among finite values gives 0. `x` must be a chunk of the row `*state` covers (else the
/// outputs are `exp(x[i] - lse)` all the same, and may exceed 1). A state may come from any
/// element type's update. Outputs are stored as a call over the whole row would: with
/// non-temporal stores when the row (the state's element count) is long, so a chunk read
/// straight back comes from memory.
///
/// Threads: each thread updates a state of its own; merge them after every update has
/// finished, and never two merges into one state at once (merge on one thread after joining,
/// or under a lock); then every thread may pass the same merged state to the finishing calls
/// at once (they only read it).
///
/// `y == x` computes in place; any other overlap of `y[0..n)` with `x[0..n)`, or of `y` with
/// `*state`, is `TWOPASS_ERROR_INVALID_ARGUMENT`. `x` and `y` may be NULL only when `n == 0`.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE`, `TWOPASS_ERROR_INVALID_ARGUMENT`; after the `TWOPASS_ISA` check.
///
/// # Safety
/// `state` points to a readable `twopass_lse_state` set by `twopass_lse_init` (or a copy of
/// one); `x` to `n` readable and `y` to `n` writable floats, or NULL with `n == 0`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_finish_f32(
    state: *const twopass_lse_state,
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> i32 {
    guard(|| {
        finish(
            state,
            x,
            y,
            n,
            Kernels::softmax_finish,
            Kernels::softmax_finish_in_place,
        )
    })
}

/// Log-softmax of one chunk of a row split across the caller's threads: `y[i] = x[i] - lse`,
/// the last of the three steps of `twopass_softmax_finish_f32`, within the bound of
/// `twopass_log_softmax_f32` of the whole row. Special rows and arguments as
/// `twopass_softmax_finish_f32`; a `-inf` among finite values gives `-inf`.
///
/// # Safety
/// As `twopass_softmax_finish_f32`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_finish_f32(
    state: *const twopass_lse_state,
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> i32 {
    guard(|| {
        finish(
            state,
            x,
            y,
            n,
            Kernels::log_softmax_finish,
            Kernels::log_softmax_finish_in_place,
        )
    })
}

type FinishSplit<T> = fn(&Kernels, &LseState, &[T], &mut [T]) -> Result<(), Error>;
type FinishInPlace<T> = fn(&Kernels, &LseState, &mut [T]);

/// Checks and runs a finishing step: `split` reads `x` and writes `y`, `in_place` runs when
/// `y == x`.
pub(super) fn finish<T: Float>(
    state: *const twopass_lse_state,
    x: *const T,
    y: *mut T,
    n: usize,
    split: FinishSplit<T>,
    in_place: FinishInPlace<T>,
) -> super::Status {
    let k = kernels()?;
    check(
        &[
            Array::input(x, n),
            Array::output(y, n),
            Array::input(state, 1),
        ],
        Some((0, 1)),
    )?;
    // SAFETY: `check` accepted state as one input (an LseState's size and alignment), apart
    // from y.
    let state = unsafe { slice(state.cast::<LseState>(), 1)[0] };
    // SAFETY: `check` accepted x and y as n elements each, with (x, y) the in-place pair.
    match unsafe { buffers(x, n, y, n) } {
        Buffers::Split(x, y) => split(k, &state, x, y).map_err(|e| status(&e)),
        Buffers::InPlace(xy) => {
            in_place(k, &state, xy);
            Ok(())
        }
    }
}
