//! Streaming log-sum-exp: `twopass_lse_state` and its functions, over [`LseState`].

use std::mem::{align_of, size_of};
use std::panic::catch_unwind;

use super::args::{check, slice, slice_mut, Array};
use super::{guard, kernels};
use crate::LseState;

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
