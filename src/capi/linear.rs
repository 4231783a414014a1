//! Fused linear + cross-entropy: `twopass_linear_cross_entropy_{f32,f16,bf16}`.

use super::args::{check, slice, slice_mut, Array};
use super::cross_entropy::{
    read_options, rust_options, twopass_cross_entropy_options,
    twopass_cross_entropy_options_default,
};
use super::{guard, kernels, status, TWOPASS_ERROR_SHAPE, TWOPASS_REDUCTION_NONE};
use crate::{bf16, f16, Float, LinearOutputs, LinearShape};

/// The cross-entropy of `logits = hidden weight^T + bias` against class-index `targets`,
/// without the `tokens x classes` logits (a tile of 256 x 2048 at a time, in two layouts: about
/// 4 MiB of extra memory), and its gradients. `hidden` is `tokens x features`, `weight` `classes x features`,
/// both row-major and packed; `bias` (NULL: none) has `classes` floats. Loss, `row_losses`,
/// `row_lse`, `loss`, `grad_output` and `options` as `twopass_cross_entropy_f32` on those
/// logits. Gradients, each optional (NULL: not computed): `d_hidden` (`tokens x features`),
/// `d_weight` (`classes x features`), `d_bias` (`classes`, also without a bias), each
/// `d loss / d input` times the upstream gradient. The loss takes one matrix product; any
/// gradient two more per tile (the tile remade, then `G W` and `G^T H`).
///
/// No overlap is allowed between any two arrays of the call (inputs, outputs, options, class
/// weights): `TWOPASS_ERROR_INVALID_ARGUMENT`. Returns `TWOPASS_OK` or the first error of:
/// `TWOPASS_ERROR_NULL_POINTER` (an input of elements, or `targets` with tokens, is NULL);
/// `TWOPASS_ERROR_SHAPE` (`classes == 0` with tokens, a size that overflows);
/// `TWOPASS_ERROR_INVALID_ARGUMENT` (misaligned, overlapping, options as
/// `twopass_cross_entropy_f32`); `TWOPASS_ERROR_TARGET_OUT_OF_RANGE`; after the `TWOPASS_ISA`
/// check. Nothing is written on error. It allocates its tiles (not an error if that fails: the
/// process aborts, as any Rust allocation).
///
/// # Safety
/// Each non-NULL pointer points to as many readable (inputs) or writable (outputs) elements as
/// its shape above says; `options` as in `twopass_cross_entropy_f32`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_linear_cross_entropy_f32(
    hidden: *const f32,
    weight: *const f32,
    bias: *const f32,
    tokens: usize,
    features: usize,
    classes: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    d_hidden: *mut f32,
    d_weight: *mut f32,
    d_bias: *mut f32,
    grad_output: *const f32,
) -> i32 {
    guard(|| {
        linear(
            (hidden, weight, bias),
            (tokens, features, classes),
            targets,
            options,
            (row_losses, row_lse, loss),
            (d_hidden, d_weight, d_bias),
            grad_output,
        )
    })
}

/// `twopass_linear_cross_entropy_f32` on IEEE binary16 `hidden`, `weight` and `bias` (as
/// `uint16_t` bits), widened to f32 a tile at a time (a tile of 256 classes: its weights are
/// copied to f32); losses and gradients are floats. Arguments and status codes as
/// `twopass_linear_cross_entropy_f32`.
///
/// # Safety
/// As `twopass_linear_cross_entropy_f32`, with `hidden`, `weight` and `bias` of `uint16_t`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_linear_cross_entropy_f16(
    hidden: *const u16,
    weight: *const u16,
    bias: *const u16,
    tokens: usize,
    features: usize,
    classes: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    d_hidden: *mut f32,
    d_weight: *mut f32,
    d_bias: *mut f32,
    grad_output: *const f32,
) -> i32 {
    guard(|| {
        linear::<f16>(
            (hidden.cast(), weight.cast(), bias.cast()),
            (tokens, features, classes),
            targets,
            options,
            (row_losses, row_lse, loss),
            (d_hidden, d_weight, d_bias),
            grad_output,
        )
    })
}

/// `twopass_linear_cross_entropy_f16` on bfloat16 `hidden`, `weight` and `bias`.
///
/// # Safety
/// As `twopass_linear_cross_entropy_f16`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn twopass_linear_cross_entropy_bf16(
    hidden: *const u16,
    weight: *const u16,
    bias: *const u16,
    tokens: usize,
    features: usize,
    classes: usize,
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    row_losses: *mut f32,
    row_lse: *mut f32,
    loss: *mut f32,
    d_hidden: *mut f32,
    d_weight: *mut f32,
    d_bias: *mut f32,
    grad_output: *const f32,
) -> i32 {
    guard(|| {
        linear::<bf16>(
            (hidden.cast(), weight.cast(), bias.cast()),
            (tokens, features, classes),
            targets,
            options,
            (row_losses, row_lse, loss),
            (d_hidden, d_weight, d_bias),
            grad_output,
        )
    })
}

/// Checks and runs a fused call on inputs of type `T`.
fn linear<T: Float>(
    (hidden, weight, bias): (*const T, *const T, *const T),
    (tokens, features, classes): (usize, usize, usize),
    targets: *const i64,
    options: *const twopass_cross_entropy_options,
    (row_losses, row_lse, loss): (*mut f32, *mut f32, *mut f32),
    (d_hidden, d_weight, d_bias): (*mut f32, *mut f32, *mut f32),
    grad_output: *const f32,
) -> super::Status {
    let k = kernels()?;
    let nd = tokens.checked_mul(features).ok_or(TWOPASS_ERROR_SHAPE)?;
    let vd = classes.checked_mul(features).ok_or(TWOPASS_ERROR_SHAPE)?;
    let (read, bytes) = read_options(options);
    let given = read.unwrap_or_else(|_| twopass_cross_entropy_options_default());
    let upstream = match given.reduction {
        TWOPASS_REDUCTION_NONE => tokens,
        _ => 1,
    };
    check(
        &[
            Array::input(hidden, nd),
            Array::input(weight, vd),
            Array::optional_input(bias, classes),
            Array::input(targets, tokens).with_classes(tokens, classes),
            Array::input(options.cast::<u8>(), bytes),
            Array::optional_input(given.class_weights, classes),
            Array::optional_input(grad_output, upstream),
            Array::optional_output(row_losses, tokens),
            Array::optional_output(row_lse, tokens),
            Array::optional_output(loss, 1),
            Array::optional_output(d_hidden, nd),
            Array::optional_output(d_weight, vd),
            Array::optional_output(d_bias, classes),
        ],
        None,
    )?;
    // SAFETY: `check` accepted every array of the call with these lengths (NULL optional
    // ones left out), no two overlapping.
    let options = unsafe { rust_options(&read?, classes)? };
    let optional = |p: *const f32, n: usize| {
        // SAFETY: as above.
        (!p.is_null()).then(|| unsafe { slice(p, n) })
    };
    let written = |p: *mut f32, n: usize| {
        // SAFETY: as above; each output is apart from every other array.
        (!p.is_null()).then(|| unsafe { slice_mut(p, n) })
    };
    let out = LinearOutputs {
        row_losses: written(row_losses, tokens),
        row_lse: written(row_lse, tokens),
        grad_output: optional(grad_output, upstream),
        d_hidden: written(d_hidden, nd),
        d_weight: written(d_weight, vd),
        d_bias: written(d_bias, classes),
    };
    let shape = LinearShape {
        tokens,
        features,
        classes,
    };
    // SAFETY: as above.
    let (hidden, weight, targets) =
        unsafe { (slice(hidden, nd), slice(weight, vd), slice(targets, tokens)) };
    // SAFETY: as above.
    let bias = (!bias.is_null()).then(|| unsafe { slice(bias, classes) });
    let value = k
        .linear_cross_entropy(hidden, weight, bias, shape, targets, &options, out)
        .map_err(|e| status(&e))?;
    if !loss.is_null() {
        // SAFETY: `check` accepted loss as one output.
        unsafe { slice_mut(loss, 1)[0] = value };
    }
    Ok(())
}
