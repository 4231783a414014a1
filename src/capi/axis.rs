//! Softmax, log-softmax and log-sum-exp along the middle axis of a contiguous
//! `(outer, len, inner)` tensor, for f32, f16 and bf16 (the Rust `*_axis` functions).

use half::{bf16, f16};

use super::args::{buffers, check, slice, slice_mut, Array, Buffers};
use super::{guard, kernels, status, Status};
use crate::{Error, Float, Kernels};

type Split<T> = fn(&Kernels, &[T], &mut [T], usize, usize, usize) -> Result<(), Error>;
type InPlace<T> = fn(&Kernels, &mut [T], usize, usize, usize) -> Result<(), Error>;

/// Checks and runs an axis call: `split` reads `x` and writes `y`, `in_place` runs when
/// `y == x`.
fn map_axis<T: Float>(
    x: *const T,
    y: *mut T,
    shape: (usize, usize, usize),
    split: Split<T>,
    in_place: InPlace<T>,
) -> Status {
    let k = kernels()?;
    let (xa, ya) = (
        Array::tensor(x, shape, false),
        Array::tensor(y.cast_const(), shape, true),
    );
    check(&[xa, ya], Some((0, 1)))?;
    let (outer, len, inner) = shape;
    // SAFETY: `check` accepted both tensors, with (x, y) the in-place pair.
    match unsafe { buffers(x, xa.len(), y, ya.len()) } {
        Buffers::Split(x, y) => split(k, x, y, outer, len, inner),
        Buffers::InPlace(xy) => in_place(k, xy, outer, len, inner),
    }
    .map_err(|e| status(&e))
}

/// Checks and runs a log-sum-exp along the axis into `out` (`outer * inner` floats).
fn log_sum_exp_axis<T: Float>(x: *const T, shape: (usize, usize, usize), out: *mut f32) -> Status {
    let k = kernels()?;
    let (outer, len, inner) = shape;
    let xa = Array::tensor(x, shape, false);
    let oa = Array::tensor(out.cast_const(), (outer, 1, inner), true);
    check(&[xa, oa], None)?;
    // SAFETY: `check` accepted x's elements as input and out's as outputs apart from them.
    let (x, out) = unsafe { (slice(x, xa.len()), slice_mut(out, oa.len())) };
    k.log_sum_exp_axis(x, outer, len, inner, out)
        .map_err(|e| status(&e))
}

/// Softmax along the middle axis of a contiguous `(outer, len, inner)` tensor of
/// `outer * len * inner` floats (last index fastest): for each `o < outer` and `j < inner`, the
/// row `x[(o * len + k) * inner + j]`, `k < len`, as `twopass_softmax_f32`, into the same
/// places of `y`. This is softmax over one axis of an n-d tensor: `outer` is the product of the
/// dims before it, `inner` of those after (`inner == 1`: contiguous rows). Special values per
/// row, as `twopass_softmax_f32`. No transposing copy: vectors of adjacent rows are reduced
/// together, one lane per row (three-pass reload down the columns while a tile of up to 1024
/// columns is below the crossover `axis_online_from`, and always on scalar; else an online
/// max-and-sum pass and the output pass); `inner == 1` runs the rows path.
///
/// `y == x` computes in place; any other overlap is `TWOPASS_ERROR_INVALID_ARGUMENT`. `x` and
/// `y` may be NULL only when the tensor has no element (a dimension is 0, whatever the others).
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE` (`outer * len * inner` overflows), `TWOPASS_ERROR_INVALID_ARGUMENT`
/// (misaligned, overlapping); after the `TWOPASS_ISA` check.
///
/// # Safety
/// `x` points to `outer * len * inner` readable and `y` to as many writable floats, or they
/// are NULL with no element.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_axis_f32(
    x: *const f32,
    y: *mut f32,
    outer: usize,
    len: usize,
    inner: usize,
) -> i32 {
    guard(|| {
        map_axis(
            x,
            y,
            (outer, len, inner),
            Kernels::softmax_axis,
            Kernels::softmax_axis_in_place,
        )
    })
}

/// Log-softmax along the middle axis, each row as `twopass_log_softmax_f32`; layout, aliasing,
/// NULL rules and status codes as `twopass_softmax_axis_f32`.
///
/// # Safety
/// As `twopass_softmax_axis_f32`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_axis_f32(
    x: *const f32,
    y: *mut f32,
    outer: usize,
    len: usize,
    inner: usize,
) -> i32 {
    guard(|| {
        map_axis(
            x,
            y,
            (outer, len, inner),
            Kernels::log_softmax_axis,
            Kernels::log_softmax_axis_in_place,
        )
    })
}

/// Log-sum-exp along the middle axis: `out[o * inner + j]` for the row `(o, j)` of
/// `twopass_softmax_axis_f32`, as `twopass_log_sum_exp_f32` (`-inf` for every row when
/// `len == 0`). `out` holds `outer * inner` floats and must not overlap `x`. `x` and `out` may
/// be NULL only when they have no element. Status codes as `twopass_softmax_axis_f32`.
///
/// # Safety
/// `x` points to `outer * len * inner` readable floats and `out` to `outer * inner` writable
/// ones, or they are NULL with no element.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_axis_f32(
    x: *const f32,
    outer: usize,
    len: usize,
    inner: usize,
    out: *mut f32,
) -> i32 {
    guard(|| log_sum_exp_axis(x, (outer, len, inner), out))
}

/// `twopass_softmax_axis_f32` on IEEE binary16 values (as `uint16_t` bits), outputs rounded to
/// nearest even.
///
/// # Safety
/// As `twopass_softmax_axis_f32`, with `uint16_t` elements.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_axis_f16(
    x: *const u16,
    y: *mut u16,
    outer: usize,
    len: usize,
    inner: usize,
) -> i32 {
    guard(|| {
        map_axis::<f16>(
            x.cast(),
            y.cast(),
            (outer, len, inner),
            Kernels::softmax_axis,
            Kernels::softmax_axis_in_place,
        )
    })
}

/// `twopass_log_softmax_axis_f32` on IEEE binary16 values (as `uint16_t` bits).
///
/// # Safety
/// As `twopass_softmax_axis_f32`, with `uint16_t` elements.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_axis_f16(
    x: *const u16,
    y: *mut u16,
    outer: usize,
    len: usize,
    inner: usize,
) -> i32 {
    guard(|| {
        map_axis::<f16>(
            x.cast(),
            y.cast(),
            (outer, len, inner),
            Kernels::log_softmax_axis,
            Kernels::log_softmax_axis_in_place,
        )
    })
}

/// `twopass_log_sum_exp_axis_f32` on IEEE binary16 values (as `uint16_t` bits); `out` is float.
///
/// # Safety
/// As `twopass_log_sum_exp_axis_f32`, with `uint16_t` elements in `x`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_axis_f16(
    x: *const u16,
    outer: usize,
    len: usize,
    inner: usize,
    out: *mut f32,
) -> i32 {
    guard(|| log_sum_exp_axis::<f16>(x.cast(), (outer, len, inner), out))
}

/// `twopass_softmax_axis_f32` on bfloat16 values (as `uint16_t` bits), outputs rounded to
/// nearest even.
///
/// # Safety
/// As `twopass_softmax_axis_f32`, with `uint16_t` elements.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_axis_bf16(
    x: *const u16,
    y: *mut u16,
    outer: usize,
    len: usize,
    inner: usize,
) -> i32 {
    guard(|| {
        map_axis::<bf16>(
            x.cast(),
            y.cast(),
            (outer, len, inner),
            Kernels::softmax_axis,
            Kernels::softmax_axis_in_place,
        )
    })
}

/// `twopass_log_softmax_axis_f32` on bfloat16 values (as `uint16_t` bits).
///
/// # Safety
/// As `twopass_softmax_axis_f32`, with `uint16_t` elements.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_axis_bf16(
    x: *const u16,
    y: *mut u16,
    outer: usize,
    len: usize,
    inner: usize,
) -> i32 {
    guard(|| {
        map_axis::<bf16>(
            x.cast(),
            y.cast(),
            (outer, len, inner),
            Kernels::log_softmax_axis,
            Kernels::log_softmax_axis_in_place,
        )
    })
}

/// `twopass_log_sum_exp_axis_f32` on bfloat16 values (as `uint16_t` bits); `out` is float.
///
/// # Safety
/// As `twopass_log_sum_exp_axis_f32`, with `uint16_t` elements in `x`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_axis_bf16(
    x: *const u16,
    outer: usize,
    len: usize,
    inner: usize,
    out: *mut f32,
) -> i32 {
    guard(|| log_sum_exp_axis::<bf16>(x.cast(), (outer, len, inner), out))
}
