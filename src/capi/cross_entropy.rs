//! Cross-entropy with class-index targets (torch semantics), f32 logits.

use std::mem::{align_of, offset_of, size_of};
use std::ptr;

use super::args::{check, slice, slice_mut, Array};
use super::{
    guard, kernels, status, TWOPASS_ERROR_INVALID_ARGUMENT, TWOPASS_REDUCTION_MEAN,
    TWOPASS_REDUCTION_NONE, TWOPASS_REDUCTION_SUM,
};
use crate::{CrossEntropyOptions, CrossEntropyOutputs, Reduction, Shape};

/// Options of `twopass_cross_entropy_f32`: start from `twopass_cross_entropy_options_default()`
/// and change the fields wanted. `size` lets the struct grow: the library reads the fields that
/// fit in `size` bytes (missing ones take their defaults) and ignores bytes it does not know.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct twopass_cross_entropy_options {
    /// `sizeof(twopass_cross_entropy_options)`, as set by the default; at least 8.
    pub size: u32,
    /// `TWOPASS_REDUCTION_*`; default `TWOPASS_REDUCTION_MEAN`.
    pub reduction: i32,
    /// Rows whose target equals this are ignored (loss and gradient 0); default -100.
    /// `TWOPASS_NO_IGNORE_INDEX` (`INT64_MIN`): no row is ignored (ONNX's optional attribute
    /// left out), every target must be a class.
    pub ignore_index: i64,
    /// `eps` in `[0, 1]`: the target distribution is `(1 - eps) * onehot + eps / cols`; default 0.
    pub label_smoothing: f32,
    /// `z >= 0`, finite: adds `z * lse^2` to each valid row's loss; default 0.
    pub z_loss: f32,
    /// NULL (every class weight 1; the default), or `cols` finite weights `>= 0`.
    pub class_weights: *const f32,
}

/// `twopass_cross_entropy_options::ignore_index` for "no ignore index": no target is ignored.
pub const TWOPASS_NO_IGNORE_INDEX: i64 = i64::MIN;

/// The default options: mean reduction, ignore index -100, no smoothing, no z-loss, no class
/// weights, `size` set to this library's `sizeof(twopass_cross_entropy_options)`.
#[no_mangle]
pub extern "C" fn twopass_cross_entropy_options_default() -> twopass_cross_entropy_options {
    let rust = CrossEntropyOptions::default();
    twopass_cross_entropy_options {
        size: size_of::<twopass_cross_entropy_options>() as u32,
        reduction: match rust.reduction {
            Reduction::None => TWOPASS_REDUCTION_NONE,
            Reduction::Mean => TWOPASS_REDUCTION_MEAN,
            Reduction::Sum => TWOPASS_REDUCTION_SUM,
        },
        ignore_index: rust.ignore_index.unwrap_or(TWOPASS_NO_IGNORE_INDEX),
        label_smoothing: rust.label_smoothing,
        z_loss: rust.z_loss,
        class_weights: ptr::null(),
    }
}

/// Cross-entropy of `rows x cols` logits (row `r` at `logits[r * logits_stride ..]`) against
/// class-index `targets`, as `torch.nn.functional.cross_entropy`: for a row with target `t`
/// (not the ignore index), class weights `w` (all 1 when absent), `W = sum_c w_c`, smoothing
/// `eps` and z-loss `z`:
/// `loss_r = (1 - eps) * w_t * (lse - x_t) + (eps / cols) * (W * lse - sum_c w_c * x_c) + z * lse^2`,
/// `lse` the row's log-sum-exp; an ignored row's loss, lse and gradient are 0 (see
/// `twopass_cross_entropy_log_prob_f32` for its lse).
///
/// Outputs, each optional (NULL: not computed): `row_losses[r]` = `loss_r`; `row_lse[r]` =
/// `lse`; `*loss` = the reduction (MEAN: `sum_r loss_r / D`, `D` the valid rows' target
/// weights, NaN when `D = 0`, e.g. `rows == 0`; SUM and NONE: `sum_r loss_r`); `grad` (row
/// stride `grad_stride`, ignored when `grad` is NULL) = the gradient w.r.t. the logits,
/// `k_r * [(1 - eps) * w_t * (p - onehot_t) + (eps / cols) * (W * p - w) + 2 * z * lse * p]`
/// with `p = softmax(row)` and `k_r = g / D` (MEAN), `g` (SUM), `g[r]` (NONE), where `g` is
/// `grad_output` (one value for MEAN and SUM, `rows` for NONE; NULL: 1).
///
/// `grad == logits` with `grad_stride == logits_stride` writes the gradient over the logits;
/// any other overlap between an input (logits, targets, class weights, grad_output, options)
/// and an output, or between two outputs, is `TWOPASS_ERROR_INVALID_ARGUMENT`. `logits` may be
/// NULL when its span is empty (`rows == 0`, or `cols == 0`: `TWOPASS_ERROR_SHAPE` with
/// `rows > 0`), `targets` only when `rows == 0`; `options` NULL means the defaults.
///
/// Returns `TWOPASS_OK` or the first error of: `TWOPASS_ERROR_NULL_POINTER`;
/// `TWOPASS_ERROR_SHAPE` (a stride below `cols`, `cols == 0` with `rows > 0`, a span that
/// overflows); `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned pointer, overlap, `options->size`
/// below 8, an unknown reduction, smoothing outside `[0, 1]`, a z-loss that is negative or not finite, a
/// negative or non-finite class weight);
/// `TWOPASS_ERROR_TARGET_OUT_OF_RANGE` (a target outside `[0, cols)` that is not the ignore
/// index); after the `TWOPASS_ISA` check. Nothing is written on error.
///
/// # Safety
/// `logits` points to its span of readable floats, `targets` to `rows` readable `int64_t`,
/// each non-NULL output to its span of writable floats, `grad_output` (if not NULL) to its
/// readable floats, `options` (if not NULL) to `options->size` readable bytes whose
/// `class_weights` (if not NULL) points to `cols` readable floats.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_f32(
    logits: *const f32,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut f32,
    grad_stride: usize,
    grad_output: *const f32,
) -> i32 {
    guard(|| {
        cross_entropy(
            (logits, logits_stride),
            (rows, cols),
            targets,
            options,
            (row_losses, row_lse, loss),
            (grad, grad_stride),
            grad_output,
            (ptr::null_mut(), 0, false),
            None,
        )
    })
}

/// `twopass_cross_entropy_f32` for ONNX's SoftmaxCrossEntropyLoss: `row_lse` holds every row's
/// log-sum-exp, ignored rows included (where `twopass_cross_entropy_f32` writes 0), and
/// `log_prob` (ONNX's second output, when not NULL) the log-softmax of every row, ignored rows
/// included: a `rows x cols` matrix with row stride `log_prob_stride` (`>= cols`), apart from
/// every other array of the call (also with the gradient in place: it is written from the
/// logits before the gradient overwrites them). Each row within `twopass_log_softmax_f32`'s
/// bound (from the loss pass's log-sum-exp; not necessarily its bits). Arguments, aliasing and
/// status codes otherwise as `twopass_cross_entropy_f32`.
///
/// # Safety
/// As `twopass_cross_entropy_f32`, with `log_prob` (if not NULL) pointing to its span of
/// writable floats.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_log_prob_f32(
    logits: *const f32,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut f32,
    grad_stride: usize,
    grad_output: *const f32,
    log_prob: *mut f32,
    log_prob_stride: usize,
) -> i32 {
    guard(|| {
        cross_entropy(
            (logits, logits_stride),
            (rows, cols),
            targets,
            options,
            (row_losses, row_lse, loss),
            (grad, grad_stride),
            grad_output,
            (log_prob, log_prob_stride, true),
            None,
        )
    })
}

/// The outputs of one row: `row_losses`, `row_lse`, `loss`.
type RowOutputs = (*mut f32, *mut f32, *mut f32);

/// Checks and runs a cross-entropy call on logits (and a gradient and log-probabilities) of
/// element type `T`.
#[allow(clippy::too_many_arguments)]
pub(super) fn cross_entropy<T: crate::Float>(
    (logits, logits_stride): (*const T, usize),
    (rows, cols): (usize, usize),
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    (row_losses, row_lse, loss): RowOutputs,
    (grad, grad_stride): (*mut T, usize),
    grad_output: *const f32,
    (log_prob, log_prob_stride, with_log_prob): (*mut T, usize, bool),
    axis: Option<(usize, usize)>,
) -> super::Status {
    let k = kernels()?;
    let (read, options_bytes) = read_options(options);
    let given = read.unwrap_or_else(|_| twopass_cross_entropy_options_default());
    let grad_outputs = match given.reduction {
        TWOPASS_REDUCTION_NONE => rows,
        _ => 1,
    };
    // A matrix with row strides, or (with `axis = (outer, inner)`, `rows = outer * inner`) an
    // `(outer, cols, inner)` tensor, for the logits and the outputs of their shape.
    let matrix = |p: *const T, stride: usize, writes: bool| match (axis, p.is_null() && writes) {
        (_, true) => Array::output(p.cast_mut(), 0),
        (Some((outer, inner)), _) => Array::tensor(p, (outer, cols, inner), writes),
        (None, _) if writes => Array::output_rows(p.cast_mut(), stride, rows, cols),
        (None, _) => Array::input_rows(p, stride, rows, cols),
    };
    let logits_array = matrix(logits, logits_stride, false).with_classes(rows, cols);
    let grad_array = matrix(grad.cast_const(), grad_stride, true);
    let log_prob_array = matrix(log_prob.cast_const(), log_prob_stride, true);
    check(
        &[
            logits_array,
            grad_array,
            Array::input(targets, rows),
            Array::optional_input(given.class_weights, cols),
            Array::optional_input(grad_output, grad_outputs),
            Array::input(options.cast::<u8>(), options_bytes),
            Array::optional_output(row_losses, rows),
            Array::optional_output(row_lse, rows),
            Array::optional_output(loss, 1),
            log_prob_array,
        ],
        Some((0, 1)),
    )?;
    // SAFETY: `check` accepted every array of the call with these lengths (NULL optional
    // ones left out), the outputs apart from the rest (so below).
    let options = unsafe { rust_options(&read?, cols)? };
    let shape = Shape::new(rows, cols).with_stride(logits_stride);
    // SAFETY: as above.
    let targets = unsafe { slice(targets, rows) };
    // SAFETY: as above.
    let out = unsafe {
        CrossEntropyOutputs {
            row_losses: (!row_losses.is_null()).then(|| slice_mut(row_losses, rows)),
            row_lse: (!row_lse.is_null()).then(|| slice_mut(row_lse, rows)),
            // The ONNX-facing form (with its log_prob argument) gives ignored rows' lse too.
            ignored_row_lse: with_log_prob,
            log_prob: (!log_prob.is_null())
                .then(|| (slice_mut(log_prob, log_prob_array.len()), log_prob_stride)),
            grad_output: (!grad_output.is_null()).then(|| slice(grad_output, grad_outputs)),
        }
    };
    let value = if rows > 0 && grad.cast_const() == logits {
        // SAFETY: in place, `check` accepted the pair only with equal layouts; grad alone
        // covers the logits.
        let logits = unsafe { slice_mut(grad, grad_array.len()) };
        match axis {
            Some((outer, inner)) => {
                k.cross_entropy_axis_in_place(logits, (outer, cols, inner), targets, &options, out)
            }
            None => k.cross_entropy_in_place(logits, shape, targets, &options, out),
        }
    } else {
        // SAFETY: as above (grad and logits apart).
        let (logits, grad) = unsafe {
            (
                slice(logits, logits_array.len()),
                (!grad.is_null()).then(|| slice_mut(grad, grad_array.len())),
            )
        };
        match axis {
            Some((outer, inner)) => {
                k.cross_entropy_axis(logits, (outer, cols, inner), targets, &options, out, grad)
            }
            None => {
                let grad = grad.map(|g| (g, grad_stride));
                k.cross_entropy(logits, shape, targets, &options, out, grad)
            }
        }
    }
    .map_err(|e| status(&e))?;
    if !loss.is_null() {
        // SAFETY: `check` accepted loss as one output.
        unsafe { slice_mut(loss, 1)[0] = value };
    }
    Ok(())
}

/// Cross-entropy with the classes on the middle axis of a contiguous `(outer, cols, inner)`
/// tensor of logits (ONNX's SoftmaxCrossEntropyLoss on `(N, C, d1, ...)`, `inner = d1 * ...`;
/// `inner == 1` is `twopass_cross_entropy_log_prob_f32` on packed rows): row `(n, d)` is
/// `logits[(n * cols + c) * inner + d]`, `c < cols`, with target `targets[n * inner + d]`. The
/// `outer * inner` rows reduce together; `row_losses`, `row_lse` (every row's, ignored ones
/// too) and, for `TWOPASS_REDUCTION_NONE`, `grad_output` have `outer * inner` entries at
/// `n * inner + d`; `grad` and `log_prob` (each optional) have the logits' layout (`grad ==
/// logits` in place). Values and bounds per row as `twopass_cross_entropy_f32`; log_prob as
/// `twopass_cross_entropy_log_prob_f32`. No transposing copy: each row's classes are gathered
/// a chunk at a time. Status codes as `twopass_cross_entropy_f32` (`TWOPASS_ERROR_SHAPE` for
/// `outer * cols * inner` overflowing, or `cols == 0` with rows).
///
/// # Safety
/// `logits` (and `grad`, `log_prob` when not NULL) point to `outer * cols * inner` floats,
/// `targets` to `outer * inner` int64_t, the other arrays as `twopass_cross_entropy_f32`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_cross_entropy_axis_f32(
    logits: *const f32,
    outer: usize,
    cols: usize,
    inner: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    grad: *mut f32,
    grad_output: *const f32,
    log_prob: *mut f32,
) -> i32 {
    guard(|| {
        cross_entropy_axis(
            logits,
            (outer, cols, inner),
            targets,
            options,
            (row_losses, row_lse, loss),
            grad,
            grad_output,
            log_prob,
        )
    })
}

/// [`cross_entropy`] on an `(outer, cols, inner)` tensor: the axis entry points of every type.
#[allow(clippy::too_many_arguments)]
pub(super) fn cross_entropy_axis<T: crate::Float>(
    logits: *const T,
    (outer, cols, inner): (usize, usize, usize),
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    outputs: RowOutputs,
    grad: *mut T,
    grad_output: *const f32,
    log_prob: *mut T,
) -> super::Status {
    // The row count; an overflowing one is refused by the tensors' own checks.
    let rows = outer.checked_mul(inner).ok_or(super::TWOPASS_ERROR_SHAPE)?;
    cross_entropy(
        (logits, 0),
        (rows, cols),
        targets,
        options,
        outputs,
        (grad, 0),
        grad_output,
        (log_prob, 0, true),
        Some((outer, inner)),
    )
}

/// The Rust form of `given` for `cols` classes (`TWOPASS_ERROR_INVALID_ARGUMENT` for an
/// unknown reduction; the other options are the Rust API's to check).
///
/// # Safety
/// `given.class_weights` is NULL or points to `cols` readable floats that no output of the
/// call overlaps (`check` accepted them).
pub(super) unsafe fn rust_options<'a>(
    given: &twopass_cross_entropy_options,
    cols: usize,
) -> Result<CrossEntropyOptions<'a>, i32> {
    let reduction = match given.reduction {
        TWOPASS_REDUCTION_NONE => Reduction::None,
        TWOPASS_REDUCTION_MEAN => Reduction::Mean,
        TWOPASS_REDUCTION_SUM => Reduction::Sum,
        _ => return Err(TWOPASS_ERROR_INVALID_ARGUMENT),
    };
    Ok(CrossEntropyOptions {
        ignore_index: (given.ignore_index != TWOPASS_NO_IGNORE_INDEX).then_some(given.ignore_index),
        label_smoothing: given.label_smoothing,
        reduction,
        z_loss: given.z_loss,
        class_weights: (!given.class_weights.is_null()).then(|| {
            // SAFETY: the caller's contract above.
            unsafe { slice(given.class_weights, cols) }
        }),
    })
}

/// The options at `p` (the defaults for NULL; `TWOPASS_ERROR_INVALID_ARGUMENT` when misaligned
/// or `size < 8`), and how many of its bytes were read.
pub(super) fn read_options(
    p: *const twopass_cross_entropy_options,
) -> (Result<twopass_cross_entropy_options, i32>, usize) {
    type Options = twopass_cross_entropy_options;
    let mut options = twopass_cross_entropy_options_default();
    if p.is_null() {
        return (Ok(options), 0);
    }
    if !(p as usize).is_multiple_of(align_of::<Options>()) {
        return (Err(TWOPASS_ERROR_INVALID_ARGUMENT), 0);
    }
    // SAFETY: `p` is non-NULL and aligned (as `check` would require), the C caller provides
    // `size` bytes there, and they are copied out before any output of the call becomes a
    // slice (so for the reads below).
    let size = unsafe { slice(p.cast::<u32>(), 1)[0] as usize };
    if size < 8 {
        return (Err(TWOPASS_ERROR_INVALID_ARGUMENT), 4);
    }
    if size >= size_of::<Options>() {
        // SAFETY: as above, with the whole struct.
        return (Ok(unsafe { slice(p, 1)[0] }), size_of::<Options>());
    }
    // A shorter struct (an older header): the fields that fit in `size` bytes, the defaults for
    // the rest (`class_weights`, the last field, never fits).
    // SAFETY: as above, with `size` bytes.
    let bytes = unsafe { slice(p.cast::<u8>(), size) };
    if let Some(b) = field(bytes, offset_of!(Options, reduction)) {
        options.reduction = i32::from_ne_bytes(b);
    }
    if let Some(b) = field(bytes, offset_of!(Options, ignore_index)) {
        options.ignore_index = i64::from_ne_bytes(b);
    }
    if let Some(b) = field(bytes, offset_of!(Options, label_smoothing)) {
        options.label_smoothing = f32::from_ne_bytes(b);
    }
    if let Some(b) = field(bytes, offset_of!(Options, z_loss)) {
        options.z_loss = f32::from_ne_bytes(b);
    }
    (Ok(options), size)
}

/// The `N` bytes at `offset`, if all of them are in `bytes`.
fn field<const N: usize>(bytes: &[u8], offset: usize) -> Option<[u8; N]> {
    bytes.get(offset..offset + N)?.try_into().ok()
}
