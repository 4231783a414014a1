//! The f32 entry points: softmax, log-softmax and log-sum-exp of a vector or of matrix rows.

use super::args::{buffers, check, slice, slice_mut, Array, Buffers};
use super::{algorithm_from, guard, kernels, status, Status, TWOPASS_ALGORITHM_AUTO};
use crate::{Algorithm, Error, Float, Kernels};

/// Softmax of `n` floats: `y[i] = exp(x[i] - max) / sum_j exp(x[j] - max)`.
///
/// Special rows: a NaN, `+inf` or only `-inf` in `x` makes every `y[i]` NaN; a `-inf` among
/// finite values gives 0 there. `y == x` computes in place; any other overlap of `x[0..n)` and
/// `y[0..n)` is `TWOPASS_ERROR_INVALID_ARGUMENT`. `x` and `y` may be NULL only when `n == 0`.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE` (`n` floats exceed the address space),
/// `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned, overlapping); after the `TWOPASS_ISA` check.
///
/// # Safety
/// `x` points to `n` readable floats and `y` to `n` writable floats, or is NULL with `n == 0`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_f32(x: *const f32, y: *mut f32, n: usize) -> i32 {
    guard(|| {
        map(
            TWOPASS_ALGORITHM_AUTO,
            x,
            y,
            n,
            Kernels::softmax,
            Kernels::softmax_in_place,
        )
    })
}

/// `twopass_softmax_f32` with the given `algorithm` (a `TWOPASS_ALGORITHM_*` value; every
/// algorithm meets the same accuracy bounds). An unknown value is
/// `TWOPASS_ERROR_INVALID_ARGUMENT` (after the NULL and SHAPE checks).
///
/// # Safety
/// As `twopass_softmax_f32`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_with_f32(
    algorithm: i32,
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> i32 {
    guard(|| {
        map(
            algorithm,
            x,
            y,
            n,
            Kernels::softmax,
            Kernels::softmax_in_place,
        )
    })
}

/// Log-softmax of `n` floats: `y[i] = (x[i] - max) - ln(sum_j exp(x[j] - max))`.
///
/// Special rows as `twopass_softmax_f32`, except that a `-inf` among finite values gives
/// `-inf` there. Aliasing, NULL rules and status codes as `twopass_softmax_f32`.
///
/// # Safety
/// As `twopass_softmax_f32`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_f32(x: *const f32, y: *mut f32, n: usize) -> i32 {
    guard(|| {
        map(
            TWOPASS_ALGORITHM_AUTO,
            x,
            y,
            n,
            Kernels::log_softmax,
            Kernels::log_softmax_in_place,
        )
    })
}

/// Log-sum-exp of `n` floats: `*out = max + ln(sum_i exp(x[i] - max))`.
///
/// `*out` is NaN if `x` holds a NaN, else `+inf` if it holds `+inf`, and `-inf` when `n == 0`
/// or every element is `-inf`. `x` may be NULL only when `n == 0`; `out` is never NULL and is
/// written on success. `out` inside `x[0..n)` is `TWOPASS_ERROR_INVALID_ARGUMENT`.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE`, `TWOPASS_ERROR_INVALID_ARGUMENT`; after the `TWOPASS_ISA` check.
///
/// # Safety
/// `x` points to `n` readable floats (or is NULL with `n == 0`); `out` to one writable float.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_f32(x: *const f32, n: usize, out: *mut f32) -> i32 {
    guard(|| log_sum_exp(x, n, out))
}

/// Checks and runs a log-sum-exp of `n` elements into `*out`.
pub(super) fn log_sum_exp<T: Float>(x: *const T, n: usize, out: *mut f32) -> Status {
    let k = kernels()?;
    check(&[Array::input(x, n), Array::output(out, 1)], None)?;
    // SAFETY: `check` accepted x as n inputs and out as one output apart from them.
    unsafe { slice_mut(out, 1)[0] = k.log_sum_exp(slice(x, n)) };
    Ok(())
}

/// Softmax of each row of a `rows x cols` matrix: row `r` is `x[r * x_stride ..][0..cols)`,
/// its result `y[r * y_stride ..][0..cols)` (strides in elements); padding between rows is
/// neither read nor written. Each row as `twopass_softmax_f32`.
///
/// A matrix spans `(rows - 1) * stride + cols` elements, none when `rows == 0` or `cols == 0`
/// (then nothing is read or written, and `x` and `y` may be NULL; otherwise they may not).
/// `y == x` with `y_stride == x_stride` computes in place; any other overlap of the two spans is
/// `TWOPASS_ERROR_INVALID_ARGUMENT`.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`,
/// `TWOPASS_ERROR_SHAPE` (a stride below `cols` when `rows > 0`, or a span that overflows),
/// `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned, overlapping); after the `TWOPASS_ISA` check.
///
/// # Safety
/// `x` points to its span of readable floats and `y` to its span of writable floats, or is
/// NULL with an empty span.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_rows_f32(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> i32 {
    guard(|| {
        map_rows(
            (x, x_stride),
            (y, y_stride),
            rows,
            cols,
            Kernels::softmax_rows,
            Kernels::softmax_rows_in_place,
        )
    })
}

/// Log-softmax of each row of a `rows x cols` matrix, each row as `twopass_log_softmax_f32`;
/// layout, aliasing, NULL rules and status codes as `twopass_softmax_rows_f32`.
///
/// # Safety
/// As `twopass_softmax_rows_f32`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_rows_f32(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> i32 {
    guard(|| {
        map_rows(
            (x, x_stride),
            (y, y_stride),
            rows,
            cols,
            Kernels::log_softmax_rows,
            Kernels::log_softmax_rows_in_place,
        )
    })
}

/// Log-sum-exp of each row of a `rows x cols` matrix (row `r` at `x[r * x_stride ..]`):
/// `out[r]` as `twopass_log_sum_exp_f32` (`-inf` for every row when `cols == 0`).
///
/// `x` may be NULL when the matrix has no element (`rows == 0` or `cols == 0`), `out` when
/// `rows == 0`. Any overlap of `out[0..rows)` with the span of `x` is
/// `TWOPASS_ERROR_INVALID_ARGUMENT`. Status codes as `twopass_softmax_rows_f32`.
///
/// # Safety
/// `x` points to its span of readable floats (or is NULL with an empty span) and `out` to
/// `rows` writable floats (or is NULL with `rows == 0`).
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_rows_f32(
    x: *const f32,
    x_stride: usize,
    rows: usize,
    cols: usize,
    out: *mut f32,
) -> i32 {
    guard(|| log_sum_exp_rows((x, x_stride), rows, cols, out))
}

/// Checks and runs a row-wise log-sum-exp of a `(pointer, stride)` matrix into `rows` floats.
pub(super) fn log_sum_exp_rows<T: Float>(
    (x, x_stride): (*const T, usize),
    rows: usize,
    cols: usize,
    out: *mut f32,
) -> Status {
    let k = kernels()?;
    let xa = Array::input_rows(x, x_stride, rows, cols);
    check(&[xa, Array::output(out, rows)], None)?;
    // SAFETY: `check` accepted x's span as input and out as rows outputs apart from it.
    let (x, out) = unsafe { (slice(x, xa.len()), slice_mut(out, rows)) };
    k.log_sum_exp_rows(x, x_stride, rows, cols, out)
        .map_err(|e| status(&e))
}

pub(super) type Split<T> = fn(&Kernels, &[T], &mut [T]) -> Result<(), Error>;
pub(super) type InPlace<T> = fn(&Kernels, &mut [T]);

/// Checks and runs an element-wise call: `split` reads `x` and writes `y`, `in_place` runs
/// when `y == x`. Inlined into each entry point, so `split` and `in_place` are direct calls.
#[inline(always)]
pub(super) fn map<T: Float>(
    algorithm: i32,
    x: *const T,
    y: *mut T,
    n: usize,
    split: Split<T>,
    in_place: InPlace<T>,
) -> Status {
    let active = kernels()?;
    check(&[Array::input(x, n), Array::output(y, n)], Some((0, 1)))?;
    // The process-wide handle itself under `Auto` (nothing copied on the common path).
    let chosen;
    let k = match algorithm_from(algorithm)? {
        Algorithm::Auto => active,
        a => {
            chosen = active.with_algorithm(a);
            &chosen
        }
    };
    // SAFETY: `check` accepted x and y as n elements each, with (x, y) the in-place pair.
    match unsafe { buffers(x, n, y, n) } {
        Buffers::Split(x, y) => split(k, x, y).map_err(|e| status(&e)),
        Buffers::InPlace(xy) => {
            in_place(k, xy);
            Ok(())
        }
    }
}

pub(super) type SplitRows<T> =
    fn(&Kernels, &[T], usize, &mut [T], usize, usize, usize) -> Result<(), Error>;
pub(super) type InPlaceRows<T> = fn(&Kernels, &mut [T], usize, usize, usize) -> Result<(), Error>;

/// Checks and runs a row-wise call on `(pointer, stride)` matrices: `split` reads `x` and
/// writes `y`, `in_place` runs when `y == x` (with equal strides: `check` ensures it).
pub(super) fn map_rows<T: Float>(
    (x, x_stride): (*const T, usize),
    (y, y_stride): (*mut T, usize),
    rows: usize,
    cols: usize,
    split: SplitRows<T>,
    in_place: InPlaceRows<T>,
) -> Status {
    let k = kernels()?;
    let xa = Array::input_rows(x, x_stride, rows, cols);
    let ya = Array::output_rows(y, y_stride, rows, cols);
    check(&[xa, ya], Some((0, 1)))?;
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    // SAFETY: `check` accepted both spans, with (x, y) the in-place pair.
    match unsafe { buffers(x, xa.len(), y, ya.len()) } {
        Buffers::Split(x, y) => split(k, x, x_stride, y, y_stride, rows, cols),
        Buffers::InPlace(xy) => in_place(k, xy, y_stride, rows, cols),
    }
    .map_err(|e| status(&e))
}
