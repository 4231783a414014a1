//! The f16 and bf16 entry points: the same operations as the f32 ones on 16-bit inputs and
//! outputs (raw `uint16_t` bits: IEEE binary16, or bfloat16), widened to f32 inside the
//! kernels and rounded to nearest even on store. Accuracy: 2 ulp of the output type.

use half::{bf16, f16};

use super::cross_entropy::{cross_entropy, cross_entropy_axis, twopass_cross_entropy_options};
use super::cross_entropy_split::{self, twopass_cross_entropy_state};
use super::f32::{log_sum_exp, log_sum_exp_rows, map, map_rows};
use super::lse::{finish, twopass_lse_state, update};
use super::{guard, TWOPASS_ALGORITHM_AUTO};
use crate::Kernels;

/// Softmax of `n` IEEE binary16 values (as `uint16_t` bits), as `twopass_softmax_f32` but each
/// output within 2 ulp of its type (the rounding to 16 bits, not the f32 mass bound); `y == x`
/// in place. Aliasing, NULL rules and status codes as `twopass_softmax_f32`.
///
/// # Safety
/// `x` points to `n` readable and `y` to `n` writable `uint16_t`, or is NULL with `n == 0`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_f16(x: *const u16, y: *mut u16, n: usize) -> i32 {
    guard(|| {
        map::<f16>(
            TWOPASS_ALGORITHM_AUTO,
            x.cast(),
            y.cast(),
            n,
            Kernels::softmax,
            Kernels::softmax_in_place,
        )
    })
}

/// `twopass_softmax_f16` with the given `algorithm` (as `twopass_softmax_with_f32`).
///
/// # Safety
/// As `twopass_softmax_f16`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_with_f16(
    algorithm: i32,
    x: *const u16,
    y: *mut u16,
    n: usize,
) -> i32 {
    guard(|| {
        map::<f16>(
            algorithm,
            x.cast(),
            y.cast(),
            n,
            Kernels::softmax,
            Kernels::softmax_in_place,
        )
    })
}

/// Log-softmax of `n` IEEE binary16 values, as `twopass_log_softmax_f32`; `y == x` in place.
///
/// # Safety
/// As `twopass_softmax_f16`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_f16(x: *const u16, y: *mut u16, n: usize) -> i32 {
    guard(|| {
        map::<f16>(
            TWOPASS_ALGORITHM_AUTO,
            x.cast(),
            y.cast(),
            n,
            Kernels::log_softmax,
            Kernels::log_softmax_in_place,
        )
    })
}

/// Log-sum-exp of `n` IEEE binary16 values into the float `*out`, as `twopass_log_sum_exp_f32`.
///
/// # Safety
/// `x` points to `n` readable `uint16_t` (or is NULL with `n == 0`); `out` to one writable float.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_f16(x: *const u16, n: usize, out: *mut f32) -> i32 {
    guard(|| log_sum_exp::<f16>(x.cast(), n, out))
}

/// Softmax of each row of a `rows x cols` IEEE binary16 matrix, as `twopass_softmax_rows_f32`.
///
/// # Safety
/// `x` points to its span of readable and `y` to its span of writable `uint16_t`, or is NULL
/// with an empty span.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_rows_f16(
    x: *const u16,
    x_stride: usize,
    y: *mut u16,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> i32 {
    guard(|| {
        map_rows::<f16>(
            (x.cast(), x_stride),
            (y.cast(), y_stride),
            rows,
            cols,
            Kernels::softmax_rows,
            Kernels::softmax_rows_in_place,
        )
    })
}

/// Log-softmax of each row of a `rows x cols` IEEE binary16 matrix, as
/// `twopass_log_softmax_rows_f32`; `y == x` (same stride) in place.
///
/// # Safety
/// As `twopass_softmax_rows_f16`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_rows_f16(
    x: *const u16,
    x_stride: usize,
    y: *mut u16,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> i32 {
    guard(|| {
        map_rows::<f16>(
            (x.cast(), x_stride),
            (y.cast(), y_stride),
            rows,
            cols,
            Kernels::log_softmax_rows,
            Kernels::log_softmax_rows_in_place,
        )
    })
}

/// Log-sum-exp of each row of a `rows x cols` IEEE binary16 matrix into `rows` floats, as
/// `twopass_log_sum_exp_rows_f32`.
///
/// # Safety
/// As `twopass_log_sum_exp_rows_f32`, with `x` a span of `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_rows_f16(
    x: *const u16,
    x_stride: usize,
    rows: usize,
    cols: usize,
    out: *mut f32,
) -> i32 {
    guard(|| log_sum_exp_rows::<f16>((x.cast(), x_stride), rows, cols, out))
}

/// Folds `n` IEEE binary16 values into `*state`, as `twopass_lse_update_f32`.
///
/// # Safety
/// As `twopass_lse_update_f32`, with `x` pointing to `n` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_lse_update_f16(
    state: *mut twopass_lse_state,
    x: *const u16,
    n: usize,
) -> i32 {
    guard(|| update::<f16>(state, x.cast(), n))
}

/// Softmax of one chunk of IEEE binary16 values of a split row, as `twopass_softmax_finish_f32`
/// (the row's state from `twopass_lse_update_f16`).
///
/// # Safety
/// As `twopass_softmax_finish_f32`, with `x` and `y` pointing to `n` `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_finish_f16(
    state: *const twopass_lse_state,
    x: *const u16,
    y: *mut u16,
    n: usize,
) -> i32 {
    guard(|| {
        finish::<f16>(
            state,
            x.cast(),
            y.cast(),
            n,
            Kernels::softmax_finish,
            Kernels::softmax_finish_in_place,
        )
    })
}

/// Log-softmax of one chunk of IEEE binary16 values of a split row, as
/// `twopass_log_softmax_finish_f32`.
///
/// # Safety
/// As `twopass_softmax_finish_f32`, with `x` and `y` pointing to `n` `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_finish_f16(
    state: *const twopass_lse_state,
    x: *const u16,
    y: *mut u16,
    n: usize,
) -> i32 {
    guard(|| {
        finish::<f16>(
            state,
            x.cast(),
            y.cast(),
            n,
            Kernels::log_softmax_finish,
            Kernels::log_softmax_finish_in_place,
        )
    })
}

/// Cross-entropy on IEEE binary16 logits, as `twopass_cross_entropy_f32`: the losses and lse
/// are floats, the gradient (if asked for; `grad == logits` in place) is binary16: the f32
/// gradient of the widened logits, rounded once to nearest even (gradients below binary16's
/// normal range come out subnormal or 0, as that rounding gives).
///
/// # Safety
/// As `twopass_cross_entropy_f32`, with `logits` and `grad` spans of `uint16_t`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_f16(
    logits: *const u16,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut u16,
    grad_stride: usize,
    grad_output: *const f32,
) -> i32 {
    guard(|| {
        cross_entropy::<f16>(
            (logits.cast(), logits_stride),
            (rows, cols),
            targets,
            options,
            (row_losses, row_lse, loss),
            (grad.cast(), grad_stride),
            grad_output,
            (std::ptr::null_mut(), 0, false),
            None,
        )
    })
}

/// `twopass_cross_entropy_log_prob_f32` on IEEE binary16 logits: `log_prob` (if not NULL) holds
/// `uint16_t` of the same type, rounded to nearest even.
///
/// # Safety
/// As `twopass_cross_entropy_f16`, with `log_prob` (if not NULL) pointing to its span of
/// writable `uint16_t`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_log_prob_f16(
    logits: *const u16,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut u16,
    grad_stride: usize,
    grad_output: *const f32,
    log_prob: *mut u16,
    log_prob_stride: usize,
) -> i32 {
    guard(|| {
        cross_entropy::<f16>(
            (logits.cast(), logits_stride),
            (rows, cols),
            targets,
            options,
            (row_losses, row_lse, loss),
            (grad.cast(), grad_stride),
            grad_output,
            (log_prob.cast(), log_prob_stride, true),
            None,
        )
    })
}

/// `twopass_cross_entropy_axis_f32` on IEEE binary16 logits (and `grad`, `log_prob` of the same
/// type, rounded to nearest even); losses and lse are floats.
///
/// # Safety
/// As `twopass_cross_entropy_axis_f32`, with `logits`, `grad` and `log_prob` of `uint16_t`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_axis_f16(
    logits: *const u16,
    outer: usize,
    cols: usize,
    inner: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut u16,
    grad_output: *const f32,
    log_prob: *mut u16,
) -> i32 {
    guard(|| {
        cross_entropy_axis::<f16>(
            logits.cast(),
            (outer, cols, inner),
            targets,
            options,
            (row_losses, row_lse, loss),
            grad.cast(),
            grad_output,
            log_prob.cast(),
        )
    })
}

/// Folds a chunk of IEEE binary16 logits (`n` `uint16_t` at `x`) into a split cross-entropy row's
/// state, as `twopass_cross_entropy_row_update_f32`.
///
/// # Safety
/// As `twopass_cross_entropy_row_update_f32`, with `x` pointing to `n` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_update_f16(
    state: *mut twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    offset: usize,
    x: *const u16,
    n: usize,
) -> i32 {
    guard(|| cross_entropy_split::update::<f16>(state, options, offset, x.cast(), n))
}

/// A chunk's gradient of a split cross-entropy row of IEEE binary16 logits, as
/// `twopass_cross_entropy_row_gradient_f32`: the f32 gradient of the widened logits, rounded
/// once to nearest even.
///
/// # Safety
/// As `twopass_cross_entropy_row_gradient_f32`, with `x` and `grad` pointing to `n` `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_gradient_f16(
    state: *const twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    offset: usize,
    x: *const u16,
    grad: *mut u16,
    n: usize,
    scale: f32,
) -> i32 {
    guard(|| {
        let io = (x.cast(), grad.cast(), n);
        cross_entropy_split::gradient::<f16>(state, options, offset, io, scale)
    })
}

/// Softmax of `n` bfloat16 values (as `uint16_t` bits), as `twopass_softmax_f32` but each
/// output within 2 ulp of its type (the rounding to 16 bits, not the f32 mass bound); `y == x`
/// in place. Aliasing, NULL rules and status codes as `twopass_softmax_f32`.
///
/// # Safety
/// `x` points to `n` readable and `y` to `n` writable `uint16_t`, or is NULL with `n == 0`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_bf16(x: *const u16, y: *mut u16, n: usize) -> i32 {
    guard(|| {
        map::<bf16>(
            TWOPASS_ALGORITHM_AUTO,
            x.cast(),
            y.cast(),
            n,
            Kernels::softmax,
            Kernels::softmax_in_place,
        )
    })
}

/// `twopass_softmax_bf16` with the given `algorithm` (as `twopass_softmax_with_f32`).
///
/// # Safety
/// As `twopass_softmax_bf16`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_with_bf16(
    algorithm: i32,
    x: *const u16,
    y: *mut u16,
    n: usize,
) -> i32 {
    guard(|| {
        map::<bf16>(
            algorithm,
            x.cast(),
            y.cast(),
            n,
            Kernels::softmax,
            Kernels::softmax_in_place,
        )
    })
}

/// Log-softmax of `n` bfloat16 values, as `twopass_log_softmax_f32`; `y == x` in place.
///
/// # Safety
/// As `twopass_softmax_bf16`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_bf16(x: *const u16, y: *mut u16, n: usize) -> i32 {
    guard(|| {
        map::<bf16>(
            TWOPASS_ALGORITHM_AUTO,
            x.cast(),
            y.cast(),
            n,
            Kernels::log_softmax,
            Kernels::log_softmax_in_place,
        )
    })
}

/// Log-sum-exp of `n` bfloat16 values into the float `*out`, as `twopass_log_sum_exp_f32`.
///
/// # Safety
/// `x` points to `n` readable `uint16_t` (or is NULL with `n == 0`); `out` to one writable float.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_bf16(x: *const u16, n: usize, out: *mut f32) -> i32 {
    guard(|| log_sum_exp::<bf16>(x.cast(), n, out))
}

/// Softmax of each row of a `rows x cols` bfloat16 matrix, as `twopass_softmax_rows_f32`.
///
/// # Safety
/// `x` points to its span of readable and `y` to its span of writable `uint16_t`, or is NULL
/// with an empty span.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_rows_bf16(
    x: *const u16,
    x_stride: usize,
    y: *mut u16,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> i32 {
    guard(|| {
        map_rows::<bf16>(
            (x.cast(), x_stride),
            (y.cast(), y_stride),
            rows,
            cols,
            Kernels::softmax_rows,
            Kernels::softmax_rows_in_place,
        )
    })
}

/// Log-softmax of each row of a `rows x cols` bfloat16 matrix, as
/// `twopass_log_softmax_rows_f32`; `y == x` (same stride) in place.
///
/// # Safety
/// As `twopass_softmax_rows_bf16`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_rows_bf16(
    x: *const u16,
    x_stride: usize,
    y: *mut u16,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> i32 {
    guard(|| {
        map_rows::<bf16>(
            (x.cast(), x_stride),
            (y.cast(), y_stride),
            rows,
            cols,
            Kernels::log_softmax_rows,
            Kernels::log_softmax_rows_in_place,
        )
    })
}

/// Log-sum-exp of each row of a `rows x cols` bfloat16 matrix into `rows` floats, as
/// `twopass_log_sum_exp_rows_f32`.
///
/// # Safety
/// As `twopass_log_sum_exp_rows_f32`, with `x` a span of `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_sum_exp_rows_bf16(
    x: *const u16,
    x_stride: usize,
    rows: usize,
    cols: usize,
    out: *mut f32,
) -> i32 {
    guard(|| log_sum_exp_rows::<bf16>((x.cast(), x_stride), rows, cols, out))
}

/// Folds `n` bfloat16 values into `*state`, as `twopass_lse_update_f32`.
///
/// # Safety
/// As `twopass_lse_update_f32`, with `x` pointing to `n` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_lse_update_bf16(
    state: *mut twopass_lse_state,
    x: *const u16,
    n: usize,
) -> i32 {
    guard(|| update::<bf16>(state, x.cast(), n))
}

/// Softmax of one chunk of bfloat16 values of a split row, as `twopass_softmax_finish_f32`
/// (the row's state from `twopass_lse_update_bf16`).
///
/// # Safety
/// As `twopass_softmax_finish_f32`, with `x` and `y` pointing to `n` `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_softmax_finish_bf16(
    state: *const twopass_lse_state,
    x: *const u16,
    y: *mut u16,
    n: usize,
) -> i32 {
    guard(|| {
        finish::<bf16>(
            state,
            x.cast(),
            y.cast(),
            n,
            Kernels::softmax_finish,
            Kernels::softmax_finish_in_place,
        )
    })
}

/// Log-softmax of one chunk of bfloat16 values of a split row, as
/// `twopass_log_softmax_finish_f32`.
///
/// # Safety
/// As `twopass_softmax_finish_f32`, with `x` and `y` pointing to `n` `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_log_softmax_finish_bf16(
    state: *const twopass_lse_state,
    x: *const u16,
    y: *mut u16,
    n: usize,
) -> i32 {
    guard(|| {
        finish::<bf16>(
            state,
            x.cast(),
            y.cast(),
            n,
            Kernels::log_softmax_finish,
            Kernels::log_softmax_finish_in_place,
        )
    })
}

/// Cross-entropy on bfloat16 logits, as `twopass_cross_entropy_f32`: the losses and lse are
/// floats, the gradient (if asked for; `grad == logits` in place) is bfloat16: the f32
/// gradient of the widened logits, rounded once to nearest even.
///
/// # Safety
/// As `twopass_cross_entropy_f32`, with `logits` and `grad` spans of `uint16_t`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_bf16(
    logits: *const u16,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut u16,
    grad_stride: usize,
    grad_output: *const f32,
) -> i32 {
    guard(|| {
        cross_entropy::<bf16>(
            (logits.cast(), logits_stride),
            (rows, cols),
            targets,
            options,
            (row_losses, row_lse, loss),
            (grad.cast(), grad_stride),
            grad_output,
            (std::ptr::null_mut(), 0, false),
            None,
        )
    })
}

/// `twopass_cross_entropy_log_prob_f32` on bfloat16 logits: `log_prob` (if not NULL) holds
/// `uint16_t` of the same type, rounded to nearest even.
///
/// # Safety
/// As `twopass_cross_entropy_bf16`, with `log_prob` (if not NULL) pointing to its span of
/// writable `uint16_t`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_log_prob_bf16(
    logits: *const u16,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut u16,
    grad_stride: usize,
    grad_output: *const f32,
    log_prob: *mut u16,
    log_prob_stride: usize,
) -> i32 {
    guard(|| {
        cross_entropy::<bf16>(
            (logits.cast(), logits_stride),
            (rows, cols),
            targets,
            options,
            (row_losses, row_lse, loss),
            (grad.cast(), grad_stride),
            grad_output,
            (log_prob.cast(), log_prob_stride, true),
            None,
        )
    })
}

/// `twopass_cross_entropy_axis_f32` on bfloat16 logits (and `grad`, `log_prob` of the same
/// type, rounded to nearest even); losses and lse are floats.
///
/// # Safety
/// As `twopass_cross_entropy_axis_f32`, with `logits`, `grad` and `log_prob` of `uint16_t`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_axis_bf16(
    logits: *const u16,
    outer: usize,
    cols: usize,
    inner: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut u16,
    grad_output: *const f32,
    log_prob: *mut u16,
) -> i32 {
    guard(|| {
        cross_entropy_axis::<bf16>(
            logits.cast(),
            (outer, cols, inner),
            targets,
            options,
            (row_losses, row_lse, loss),
            grad.cast(),
            grad_output,
            log_prob.cast(),
        )
    })
}

/// Folds a chunk of bfloat16 logits (`n` `uint16_t` at `x`) into a split cross-entropy row's
/// state, as `twopass_cross_entropy_row_update_f32`.
///
/// # Safety
/// As `twopass_cross_entropy_row_update_f32`, with `x` pointing to `n` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_update_bf16(
    state: *mut twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    offset: usize,
    x: *const u16,
    n: usize,
) -> i32 {
    guard(|| cross_entropy_split::update::<bf16>(state, options, offset, x.cast(), n))
}

/// A chunk's gradient of a split cross-entropy row of bfloat16 logits, as
/// `twopass_cross_entropy_row_gradient_f32`: the f32 gradient of the widened logits, rounded
/// once to nearest even.
///
/// # Safety
/// As `twopass_cross_entropy_row_gradient_f32`, with `x` and `grad` pointing to `n` `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn twopass_cross_entropy_row_gradient_bf16(
    state: *const twopass_cross_entropy_state,
    options: *const twopass_cross_entropy_options,
    offset: usize,
    x: *const u16,
    grad: *mut u16,
    n: usize,
    scale: f32,
) -> i32 {
    guard(|| {
        let io = (x.cast(), grad.cast(), n);
        cross_entropy_split::gradient::<bf16>(state, options, offset, io, scale)
    })
}
