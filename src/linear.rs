//! Fused linear + cross-entropy ("Cut Your Losses", Wijmans et al. 2024, on the CPU): the loss
//! of `logits = hidden weight^T + bias` and its gradients without the `tokens x classes`
//! logits matrix. Logits are made a tile of [`TOKEN_TILE`] x [`CLASS_TILE`] at a time into one
//! buffer (`twopass_kernels::matmul`, the `gemm` crate, classes by tokens, then transposed);
//! each row's [`CrossEntropyStream`] takes its chunk of every tile (the loss in one sweep over
//! the classes). The backward sweep recomputes each tile, turns it into the gradient tile in
//! place from the row's log-sum-exp, and accumulates `d_hidden += G W_tile`,
//! `d_weight_tile += G^T H`, `d_bias_tile += sum G`.

use twopass_kernels::{flushing, matmul, Mat};

use crate::cross_entropy::{Call, CrossEntropyRow};
use crate::float::Kind;
use crate::{CrossEntropyOptions, CrossEntropyOutputs, CrossEntropyStream, Error, Float, Kernels};

/// Tokens per tile (rows of `hidden` whose logits are made together).
pub const TOKEN_TILE: usize = 256;
/// Classes per tile of f32 weights: the buffer holds `TOKEN_TILE x CLASS_TILE` f32 (2 MiB);
/// a tile of half-precision weights has an eighth of it (its weights are widened to f32).
pub const CLASS_TILE: usize = 2048;

/// The sizes of [`Kernels::linear_cross_entropy`]: `hidden` is `tokens x features`, `weight`
/// `classes x features` (row-major, packed), `bias` `classes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearShape {
    /// Rows of `hidden` (tokens), one target each.
    pub tokens: usize,
    /// Columns of `hidden` and of `weight`.
    pub features: usize,
    /// Rows of `weight` (classes).
    pub classes: usize,
}

/// The optional outputs and upstream gradient of [`Kernels::linear_cross_entropy`].
#[derive(Debug, Default)]
pub struct LinearOutputs<'a> {
    /// `tokens` unreduced losses (0 for ignored rows).
    pub row_losses: Option<&'a mut [f32]>,
    /// `tokens` log-sum-exps of the logits (0 for ignored rows).
    pub row_lse: Option<&'a mut [f32]>,
    /// Upstream gradient: `tokens` values for [`crate::Reduction::None`], one otherwise;
    /// `None` = 1.
    pub grad_output: Option<&'a [f32]>,
    /// `d loss / d hidden`, `tokens x features`.
    pub d_hidden: Option<&'a mut [f32]>,
    /// `d loss / d weight`, `classes x features`.
    pub d_weight: Option<&'a mut [f32]>,
    /// `d loss / d bias`, `classes` (a bias need not be given to ask for it).
    pub d_bias: Option<&'a mut [f32]>,
}

/// `a * b`, or the error of an overflowing shape.
fn product(a: usize, b: usize) -> Result<usize, Error> {
    a.checked_mul(b).ok_or(Error::ShapeOverflow)
}

impl Kernels {
    /// The cross-entropy of `logits = hidden weight^T + bias` against class-index `targets`,
    /// with every option of [`Kernels::cross_entropy`] (reduction, ignore index, label
    /// smoothing, class weights, z-loss), and, when asked for in `out`, the gradients w.r.t.
    /// `hidden`, `weight` and `bias`, without the `tokens x classes` logits: the extra memory
    /// is two tiles of [`TOKEN_TILE`] x [`CLASS_TILE`] logits (the product's layout and the
    /// streams') and a stream per token of a tile.
    /// The loss takes one matrix product; the gradients one more to remake each tile, and two
    /// to accumulate them. Per row, the loss and log-sum-exp meet [`Kernels::cross_entropy`]'s
    /// bounds on the logits as computed (f32 products summed by the matrix kernel).
    ///
    /// Errors (nothing written): a buffer whose length does not match `shape`, `classes == 0`
    /// with tokens, an overflowing shape, and the options and targets errors of
    /// [`Kernels::cross_entropy`].
    #[allow(clippy::too_many_arguments)]
    pub fn linear_cross_entropy<T: Float>(
        &self,
        hidden: &[T],
        weight: &[T],
        bias: Option<&[T]>,
        shape: LinearShape,
        targets: &[i64],
        options: &CrossEntropyOptions<'_>,
        out: LinearOutputs<'_>,
    ) -> Result<f32, Error> {
        let weights = (weight, bias);
        linear(self, hidden, weights, shape, targets, options, out, false)
    }
}

/// [`Kernels::linear_cross_entropy`], its matrix products on rayon's pool with `parallel`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn linear<T: Float>(
    k: &Kernels,
    hidden: &[T],
    (weight, bias): (&[T], Option<&[T]>),
    shape: LinearShape,
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: LinearOutputs<'_>,
    parallel: bool,
) -> Result<f32, Error> {
    let LinearShape {
        tokens,
        features,
        classes,
    } = shape;
    if tokens > 0 && classes == 0 {
        return Err(Error::NoClasses);
    }
    let lengths = [
        ("hidden", Some(hidden.len()), product(tokens, features)?),
        ("weight", Some(weight.len()), product(classes, features)?),
        ("bias", bias.map(<[T]>::len), classes),
        (
            "d_hidden",
            out.d_hidden.as_ref().map(|v| v.len()),
            product(tokens, features)?,
        ),
        (
            "d_weight",
            out.d_weight.as_ref().map(|v| v.len()),
            product(classes, features)?,
        ),
        ("d_bias", out.d_bias.as_ref().map(|v| v.len()), classes),
    ];
    crate::error::check_lengths(&lengths)?;
    let LinearOutputs {
        row_losses,
        row_lse,
        grad_output,
        d_hidden,
        d_weight,
        d_bias,
    } = out;
    let rows = CrossEntropyOutputs {
        row_losses,
        row_lse,
        grad_output,
        ..CrossEntropyOutputs::default()
    };
    crate::cross_entropy::check_rows(tokens, classes, targets, options, &rows)?;
    let grads = Grads {
        d_hidden,
        d_weight,
        d_bias,
    };
    let weights = Weights {
        weight,
        bias,
        features,
        scratch: Vec::new(),
        flipped: Vec::new(),
    };
    let io = (rows, grads);
    Ok(run(
        k, hidden, weights, shape, targets, options, io, parallel,
    ))
}

/// The gradients asked for.
struct Grads<'a> {
    d_hidden: Option<&'a mut [f32]>,
    d_weight: Option<&'a mut [f32]>,
    d_bias: Option<&'a mut [f32]>,
}

impl Grads<'_> {
    fn any(&self) -> bool {
        self.d_hidden.is_some() || self.d_weight.is_some() || self.d_bias.is_some()
    }
}

/// The classifier's weights and bias, and their f32 form a class tile at a time (a copy for
/// halves; the slices themselves for f32).
struct Weights<'a, T> {
    weight: &'a [T],
    bias: Option<&'a [T]>,
    features: usize,
    scratch: Vec<f32>,
    /// A tile's logits as `gemm` makes them fastest, classes by tokens.
    flipped: Vec<f32>,
}

impl<'a, T: Float> Weights<'a, T> {
    /// Classes per tile: [`CLASS_TILE`] for f32; an eighth of it for halves, whose tile of
    /// weights is copied to f32 (`CLASS_TILE / 8 x features` floats).
    fn tile_width() -> usize {
        match T::KIND {
            Kind::F32 => CLASS_TILE,
            _ => CLASS_TILE / 8,
        }
    }

    /// `tile` (`rows x nc`, packed) = the logits of the tokens of `h` for classes `c0 .. c0 +
    /// nc`; the weights of those classes as f32, for the gradient's product. The product is
    /// made classes by tokens, `W_tile H^T`, and transposed into `tile` with the bias added:
    /// `gemm` runs that layout about 1.3x faster than `H W_tile^T` into `tile` (Intel Xeon,
    /// AVX-512, 256 x 2048 x 2048: 210 against 165 GFLOP/s), and the transpose costs 3% of
    /// the product.
    fn logits(
        &mut self,
        tile: &mut [f32],
        h: Mat<'_>,
        (c0, nc): (usize, usize),
        par: bool,
    ) -> Mat<'_> {
        let nt = h.rows;
        let tile = &mut tile[..nt * nc];
        if self.flipped.len() < nt * nc {
            self.flipped.resize(nt * nc, 0.0);
        }
        let flipped = &mut self.flipped[..nt * nc];
        let d = self.features;
        let rows = &self.weight[c0 * d..][..nc * d];
        let w = Mat::rows(widened(rows, &mut self.scratch), nc, d, d);
        matmul(flipped, nt, w, h.t(), false, par);
        let bias = self.bias.map(|b| &b[c0..c0 + nc]);
        // A logit plus its bias may be tiny: flushed, as the products are.
        flushing(|| transpose_into(flipped, tile, nc, nt, bias));
        w
    }
}

/// `y = x^T (+ bias)` for `x` `rows x cols` and `y` `cols x rows`, both packed; with `bias`
/// (`rows` long) `y[j][i] = x[i][j] + bias[i]`. Sixteen rows of `x` at a time: their columns
/// are read from L1, and each write is 16 consecutive floats of `y`.
fn transpose_into<T: Float>(
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    cols: usize,
    bias: Option<&[T]>,
) {
    const BLOCK: usize = 16;
    for i0 in (0..rows).step_by(BLOCK) {
        let i1 = (i0 + BLOCK).min(rows);
        for j in 0..cols {
            let out = &mut y[j * rows..][i0..i1];
            for (k, o) in out.iter_mut().enumerate() {
                *o = x[(i0 + k) * cols + j];
            }
            if let Some(b) = bias {
                for (o, b) in out.iter_mut().zip(&b[i0..i1]) {
                    *o += b.to_f32();
                }
            }
        }
    }
}

/// `x` as f32: itself for f32, else widened into `scratch`.
fn widened<'a, T: Float>(x: &'a [T], scratch: &'a mut Vec<f32>) -> &'a [f32] {
    match T::as_f32(x) {
        Some(x) => x,
        None => {
            scratch.clear();
            scratch.extend(x.iter().map(|v| v.to_f32()));
            scratch
        }
    }
}

/// A checked call, token tile by token tile: the loss sweep over the class tiles, then (for
/// gradients) the backward sweep.
#[allow(clippy::too_many_arguments)]
fn run<T: Float>(
    k: &Kernels,
    hidden: &[T],
    mut weights: Weights<'_, T>,
    shape: LinearShape,
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    (mut rows, mut grads): (CrossEntropyOutputs<'_>, Grads<'_>),
    parallel: bool,
) -> f32 {
    let LinearShape {
        tokens,
        features: d,
        classes,
    } = shape;
    let call = Call::new(options, classes, targets, &rows);
    // The first token tile writes d_weight (no fill: it may be a GiB), d_bias is summed into;
    // with no token both are 0.
    if let Some(db) = grads.d_bias.as_deref_mut() {
        db.fill(0.0);
    }
    if let (0, Some(dw)) = (tokens, grads.d_weight.as_deref_mut()) {
        dw.fill(0.0);
    }
    let width = Weights::<T>::tile_width();
    let mut tile = vec![0.0f32; tokens.min(TOKEN_TILE) * classes.min(width)];
    let mut scratch = Vec::new();
    let mut sum = 0.0;
    for t0 in (0..tokens).step_by(TOKEN_TILE) {
        let nt = (tokens - t0).min(TOKEN_TILE);
        let h = Mat::rows(widened(&hidden[t0 * d..][..nt * d], &mut scratch), nt, d, d);
        let mut streams: Vec<CrossEntropyStream<'_>> = targets[t0..t0 + nt]
            .iter()
            .map(|&t| call.stream(*k, t))
            .collect();
        for c0 in (0..classes).step_by(width) {
            let nc = (classes - c0).min(width);
            weights.logits(&mut tile, h, (c0, nc), parallel);
            for (r, s) in streams.iter_mut().enumerate() {
                s.update(c0, &tile[r * nc..][..nc])
                    .expect("the tiles cover each row once");
            }
        }
        let done: Vec<CrossEntropyRow<'_>> = streams
            .iter()
            .map(|s| s.finish().expect("every class was given"))
            .collect();
        for (r, row) in done.iter().enumerate() {
            sum += row.loss_f64();
            let (losses, lse) = (rows.row_losses.as_deref_mut(), rows.row_lse.as_deref_mut());
            call.write_row(row, t0 + r, losses, lse);
        }
        if grads.any() {
            let at = (t0, shape, parallel);
            backward(&mut tile, h, &mut weights, at, (&call, &done), &mut grads);
        }
    }
    call.loss(sum)
}

/// The backward sweep of the token tile `h` (from token `t0`): each class tile remade, turned
/// into its gradient in place, and accumulated into the gradients asked for.
fn backward<T: Float>(
    tile: &mut [f32],
    h: Mat<'_>,
    weights: &mut Weights<'_, T>,
    (t0, shape, parallel): (usize, LinearShape, bool),
    (call, rows): (&Call<'_, '_>, &[CrossEntropyRow<'_>]),
    grads: &mut Grads<'_>,
) {
    let (nt, d, classes) = (h.rows, shape.features, shape.classes);
    let width = Weights::<T>::tile_width();
    for c0 in (0..classes).step_by(width) {
        let nc = (classes - c0).min(width);
        let w = weights.logits(tile, h, (c0, nc), parallel);
        let g_tile = &mut tile[..nt * nc];
        for (r, (g, row)) in g_tile.chunks_mut(nc).zip(rows).enumerate() {
            row.gradient_with(c0, g, call.scale(t0 + r));
        }
        let g = Mat::rows(g_tile, nt, nc, nc);
        if let Some(dh) = grads.d_hidden.as_deref_mut() {
            matmul(&mut dh[t0 * d..][..nt * d], d, g, w, c0 > 0, parallel);
        }
        if let Some(dw) = grads.d_weight.as_deref_mut() {
            matmul(&mut dw[c0 * d..][..nc * d], d, g.t(), h, t0 > 0, parallel);
        }
        if let Some(db) = grads.d_bias.as_deref_mut() {
            // Sums of tiny gradient entries may be tiny: flushed, as the products are.
            flushing(|| {
                for row in g_tile.chunks(nc) {
                    for (b, &v) in db[c0..c0 + nc].iter_mut().zip(row) {
                        *b += v;
                    }
                }
            });
        }
    }
}
