//! The f64 entry points: softmax, log-softmax and log-sum-exp computed in f64 (the Rust
//! `*_f64` functions), for one row, rows, and the middle axis of a tensor.

use super::args::{buffers, check, slice, slice_mut, Array, Buffers};
use super::{guard, status, Status};
use crate::Error;

type Split = fn(&[f64], &mut [f64], usize, usize, usize) -> Result<(), Error>;
type InPlace = fn(&mut [f64], usize, usize, usize) -> Result<(), Error>;

/// Checks and runs an f64 axis call (a row is the tensor `(1, n, 1)`): `split` reads `x` and
/// writes `y`, `in_place` runs when `y == x`.
fn map(
    x: *const f64,
    y: *mut f64,
    shape: (usize, usize, usize),
    split: Split,
    in_place: InPlace,
) -> Status {
    let (xa, ya) = (
        Array::tensor(x, shape, false),
        Array::tensor(y.cast_const(), shape, true),
    );
    check(&[xa, ya], Some((0, 1)))?;
    let (outer, len, inner) = shape;
    // SAFETY: `check` accepted both tensors, with (x, y) the in-place pair.
    match unsafe { buffers(x, xa.len(), y, ya.len()) } {
        Buffers::Split(x, y) => split(x, y, outer, len, inner),
        Buffers::InPlace(xy) => in_place(xy, outer, len, inner),
    }
    .map_err(|e| status(&e))
}

/// Softmax of `n` doubles computed in f64: `y_i = exp(x_i - max) / sum_j exp(x_j - max)`, each
/// within `(6 + |x_i - max|) * 2^-53` relative, never subnormal (below 2^-1022 (1 + 2e-12)
/// they may be 0); special values as
/// `twopass_softmax_f32`. `y == x` in place; aliasing, NULL rules and status codes as
/// `twopass_softmax_f32` (no `TWOPASS_ISA` check: scalar f64 code, whatever the ISA).
///
/// # Safety
/// `x` points to `n` readable and `y` to `n` writable doubles, or is NULL with `n == 0`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_f64(x: *const f64, y: *mut f64, n: usize) -> i32 {
    guard(|| {
        map(
            x,
            y,
            (1, n, 1),
            crate::softmax_axis_f64,
            crate::softmax_axis_f64_in_place,
        )
    })
}

/// Log-softmax of `n` doubles computed in f64: `y_i = (x_i - max) - ln(sum_j exp(x_j - max))`,
/// within `4 * 2^-53 * max(1, |y_i|) + |x_i - max| * 2^-53`; otherwise as `twopass_softmax_f64`.
///
/// # Safety
/// As `twopass_softmax_f64`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_f64(x: *const f64, y: *mut f64, n: usize) -> i32 {
    guard(|| {
        map(
            x,
            y,
            (1, n, 1),
            crate::log_softmax_axis_f64,
            crate::log_softmax_axis_f64_in_place,
        )
    })
}

/// `*out = ln(sum_i exp(x_i))` of `n` doubles, computed in f64 (as `max + ln s`, `s = sum_i
/// exp(x_i - max)`: within `4 * 2^-53 * max(1, |out|) + 2 * 2^-53 * ln s`, the second term the
/// rounding of `ln s` where the two cancel; `-inf` for `n == 0`; special values as
/// `twopass_log_sum_exp_f32`). `x` may be NULL only when `n == 0`; `out` never.
///
/// # Safety
/// `x` points to `n` readable doubles (or is NULL with `n == 0`); `out` to one writable double.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_f64(x: *const f64, n: usize, out: *mut f64) -> i32 {
    guard(|| {
        check(&[Array::input(x, n), Array::output(out, 1)], None)?;
        // SAFETY: `check` accepted x as n inputs and out as one output apart from them.
        unsafe { slice_mut(out, 1)[0] = crate::log_sum_exp_f64(slice(x, n)) };
        Ok(())
    })
}

/// Log-sum-exp in f64 of each row of a `rows x cols` matrix of doubles (row `r` at
/// `x[r * x_stride ..]`) into `out[r]`, as `twopass_log_sum_exp_f64`; layout, NULL rules and
/// status codes as `twopass_log_sum_exp_rows_f32` (no `TWOPASS_ISA` check, as every f64
/// function).
///
/// # Safety
/// `x` points to its span of readable doubles (or is NULL with an empty span) and `out` to
/// `rows` writable doubles (or is NULL with `rows == 0`).
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_rows_f64(
    x: *const f64,
    x_stride: usize,
    rows: usize,
    cols: usize,
    out: *mut f64,
) -> i32 {
    guard(|| {
        let xa = Array::input_rows(x, x_stride, rows, cols);
        check(&[xa, Array::output(out, rows)], None)?;
        // SAFETY: `check` accepted x's span as input and out as rows outputs apart from it.
        let (x, out) = unsafe { (slice(x, xa.len()), slice_mut(out, rows)) };
        crate::log_sum_exp_rows_f64(x, x_stride, rows, cols, out).map_err(|e| status(&e))
    })
}

/// Softmax in f64 along the middle axis of a contiguous `(outer, len, inner)` tensor of
/// doubles, as `twopass_softmax_axis_f32` (layout, aliasing, NULL rules, status codes; no
/// `TWOPASS_ISA` check, as every f64 function) with the values of `twopass_softmax_f64`.
///
/// # Safety
/// `x` points to `outer * len * inner` readable and `y` to as many writable doubles, or they
/// are NULL with no element.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_axis_f64(
    x: *const f64,
    y: *mut f64,
    outer: usize,
    len: usize,
    inner: usize,
) -> i32 {
    guard(|| {
        map(
            x,
            y,
            (outer, len, inner),
            crate::softmax_axis_f64,
            crate::softmax_axis_f64_in_place,
        )
    })
}

/// Log-softmax in f64 along the middle axis, as `twopass_softmax_axis_f64` with the values of
/// `twopass_log_softmax_f64`.
///
/// # Safety
/// As `twopass_softmax_axis_f64`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_axis_f64(
    x: *const f64,
    y: *mut f64,
    outer: usize,
    len: usize,
    inner: usize,
) -> i32 {
    guard(|| {
        map(
            x,
            y,
            (outer, len, inner),
            crate::log_softmax_axis_f64,
            crate::log_softmax_axis_f64_in_place,
        )
    })
}

/// Log-sum-exp in f64 along the middle axis: `out[o * inner + j]` (`outer * inner` doubles)
/// for the row `(o, j)`, as `twopass_log_sum_exp_axis_f32` (no `TWOPASS_ISA` check, as every
/// f64 function) with the values of `twopass_log_sum_exp_f64`.
///
/// # Safety
/// `x` points to `outer * len * inner` readable doubles and `out` to `outer * inner` writable
/// ones, or they are NULL with no element.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_axis_f64(
    x: *const f64,
    outer: usize,
    len: usize,
    inner: usize,
    out: *mut f64,
) -> i32 {
    guard(|| {
        let shape = (outer, len, inner);
        let xa = Array::tensor(x, shape, false);
        let oa = Array::tensor(out.cast_const(), (outer, 1, inner), true);
        check(&[xa, oa], None)?;
        // SAFETY: `check` accepted x's elements as input and out's as outputs apart from them.
        let (x, out) = unsafe { (slice(x, xa.len()), slice_mut(out, oa.len())) };
        crate::log_sum_exp_axis_f64(x, outer, len, inner, out).map_err(|e| status(&e))
    })
}
