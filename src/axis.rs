//! Softmax, log-softmax and log-sum-exp along the middle axis of a contiguous
//! `(outer, len, inner)` tensor (last index fastest): row `(o, j)` is
//! `x[(o * len + k) * inner + j]` for `k < len`. Tiles of up to [`AXIS_TILE`] adjacent columns are
//! reduced down their columns, each lane one row (`raxisonline`), then written; no gather and no
//! transposing copy. (`inner == 1`, contiguous rows, takes the rows path: `kernels.rs`.)

use std::ops::Range;

use twopass_kernels::{ColumnSum, Element, Io, Table, Tile, AXIS_TILE, NARROW_TILE};

use crate::sum::{narrow, Special};

/// The output an axis pass writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Softmax by the online pass and the output pass (two reads, one write; exp twice).
    Softmax,
    /// Softmax by three-pass reload in blocks of rows (exp once, each block read from memory
    /// once: [`reload`]).
    SoftmaxReload,
    LogSoftmax,
}

/// A column's log-sum-exp around its max, `(max, ln sum_k exp(x_k - max))`, or what makes it
/// special (`values` reads the column, only then).
fn around_max<I: Iterator<Item = f32> + Clone>(
    c: ColumnSum,
    values: impl FnOnce() -> I,
) -> Result<(f32, f64), Special> {
    if c.max.is_finite() && c.sum.is_finite() && c.sum > 0.0 {
        // sum_k exp(x_k - max) = sum * exp(reference - max), at least 1 (its max's term).
        let ln = c.sum.ln() - (f64::from(c.max) - f64::from(c.reference));
        Ok((c.max, ln.max(0.0)))
    } else {
        Err(Special::of_values(values()))
    }
}

/// The values of column `j` of the tile starting at `x[0]`.
fn column<E: Element>(
    x: &[E],
    tile: Tile,
    j: usize,
) -> impl Iterator<Item = f32> + Clone + use<'_, E> {
    (0..tile.rows).map(move |k| x[k * tile.stride + j].to_f32())
}

/// The tiles of an `(outer, len, inner)` tensor: each tile's range of elements and width.
fn tiles(
    (outer, len, inner): (usize, usize, usize),
) -> impl Iterator<Item = (Range<usize>, Tile, usize)> {
    let tile = Tile {
        rows: len,
        stride: inner,
    };
    (0..outer).flat_map(move |o| {
        (0..inner).step_by(AXIS_TILE).map(move |j| {
            let width = (inner - j).min(AXIS_TILE);
            let start = o * len * inner + j;
            (start..start + tile.span(width), tile, width)
        })
    })
}

/// Writes `output` of every row of the `(outer, len, inner)` tensor `io` (whose length the
/// caller checked). Special rows (NaN, `+inf`, only `-inf`)
/// are all NaN.
pub(crate) fn map<E: Element>(
    t: &Table<E>,
    io: Io<'_, E>,
    shape: (usize, usize, usize),
    output: Output,
) {
    if shape.2 <= NARROW_TILE {
        map_with::<E, NARROW_TILE>(t, io, shape, output)
    } else {
        map_with::<E, AXIS_TILE>(t, io, shape, output)
    }
}

/// [`map`] with per-column state for `C >= min(inner, AXIS_TILE)` columns (the passes zero it
/// on every call: [`NARROW_TILE`]).
fn map_with<E: Element, const C: usize>(
    t: &Table<E>,
    mut io: Io<'_, E>,
    shape: (usize, usize, usize),
    output: Output,
) {
    if output == Output::SoftmaxReload {
        return reload::<E, C>(t, io, shape);
    }
    let mut sums = [ColumnSum::default(); C];
    let mut params = [(0.0f32, 0.0f32); C];
    for (range, tile, width) in tiles(shape) {
        let x = &io.input()[range.clone()];
        (t.raxisonline)(x, tile, &mut sums[..width]);
        for (j, (p, &c)) in params.iter_mut().zip(&sums[..width]).enumerate() {
            // Around the max: log-softmax `(x - max) - ln s`, softmax `exp(x - max) * (1 / s)`
            // (x - max exact near the max; 1 / s = e^-ln s, at most 1, in f64).
            *p = match (around_max(c, || column(x, tile, j)), output) {
                (Ok((max, ln)), Output::LogSoftmax) => (max, narrow(ln)),
                (Ok((max, ln)), _) => (max, (-ln).exp() as f32),
                (Err(_), _) => (f32::NAN, 1.0),
            };
        }
        let io = part(&mut io, range);
        match output {
            Output::LogSoftmax => (t.vaxissubtract)(io, tile, &params[..width]),
            _ => (t.vaxisscaleexp)(io, tile, &params[..width]),
        }
    }
}

/// The elements `range` of `io`.
pub(crate) fn part<'a, E>(io: &'a mut Io<'_, E>, range: Range<usize>) -> Io<'a, E> {
    match io {
        Io::Split(x, y) => Io::Split(&x[range.clone()], &mut y[range]),
        Io::InPlace(xy) => Io::InPlace(&mut xy[range]),
    }
}

/// The most block references [`reload`] keeps: on the stack (the call allocates nothing) and
/// zeroed on every call, so as few as a whole tile of `AXIS_TILE` columns needs (4 KiB).
const REFS: usize = AXIS_TILE;

/// Rows per block of [`reload`] for a tile of `width <= REFS` columns of `E`: 16 KiB of input (a
/// third of an L1d with the block's outputs), so that its second read comes from L1, or more
/// where the tile's blocks would need more than [`REFS`] references; the whole tile past
/// [`NARROW_TILE`] columns (the kernels walk tiles wider than a strip row by row, as one block).
fn block_rows<E>(tile: Tile, width: usize) -> usize {
    if width > NARROW_TILE {
        tile.rows.max(1)
    } else {
        let l1 = (16 << 10) / (width * size_of::<E>());
        l1.max(tile.rows.div_ceil(REFS / width)).max(1)
    }
}

/// Softmax by three-pass reload, tile by tile and a block of rows at a time
/// (`raxisblockexp`): per column, its running max `r_b` after each block `b` and
/// `y = exp(x - r_b)` over the block, the block read from memory once (its second read is from
/// L1), with the sum against the last; then `y *= exp(r_b - max) / sum` (`vaxisblockscale`; NaN
/// for a special column: `x * NaN`).
fn reload<E: Element, const C: usize>(
    t: &Table<E>,
    mut io: Io<'_, E>,
    shape: (usize, usize, usize),
) {
    let mut sums = [ColumnSum::default(); C];
    let mut params = [(0.0f32, 0.0f32); C];
    let mut refs = [0.0f32; REFS];
    for (range, tile, width) in tiles(shape) {
        let block = block_rows::<E>(tile, width);
        let refs = &mut refs[..tile.rows.div_ceil(block) * width];
        let mut io = part(&mut io, range);
        (t.raxisblockexp)(io.reborrow(), tile, block, refs, &mut sums[..width]);
        // The last reference is the column's max, whose term, 1, is in the sum: at least 1
        // exactly, though its rounded terms may add up to 1 - 1e-7 (the clamp moves c toward
        // the exact value).
        for (p, c) in params.iter_mut().zip(&sums[..width]) {
            *p = if c.max.is_finite() && c.sum.is_finite() && c.sum > 0.0 {
                (c.max, ((1.0 / c.sum) as f32).min(1.0))
            } else {
                (f32::NAN, 1.0)
            };
        }
        (t.vaxisblockscale)(io.output(), tile, block, refs, &params[..width]);
    }
}

/// `out[o * inner + j]` = the log-sum-exp of row `(o, j)` of the `(outer, len, inner)` tensor
/// `x` (`-inf` for `len == 0`; special rows as `log_sum_exp`). The caller checked the lengths.
pub(crate) fn log_sum_exp<E: Element>(
    t: &Table<E>,
    x: &[E],
    shape: (usize, usize, usize),
    out: &mut [f32],
) {
    let (_, len, inner) = shape;
    if len == 0 {
        out.fill(f32::NEG_INFINITY);
    } else if inner <= NARROW_TILE {
        log_sum_exp_with::<E, NARROW_TILE>(t, x, shape, out);
    } else {
        log_sum_exp_with::<E, AXIS_TILE>(t, x, shape, out);
    }
}

/// [`log_sum_exp`] of `len > 0` rows with state for `C >= min(inner, AXIS_TILE)` columns.
fn log_sum_exp_with<E: Element, const C: usize>(
    t: &Table<E>,
    x: &[E],
    shape: (usize, usize, usize),
    out: &mut [f32],
) {
    let (_, len, inner) = shape;
    let mut sums = [ColumnSum::default(); C];
    for (range, tile, width) in tiles(shape) {
        let x = &x[range.clone()];
        (t.raxisonline)(x, tile, &mut sums[..width]);
        // The tile's first column is `range.start`'s: row o, column j of the output.
        let first = (range.start / (len * inner)) * inner + range.start % inner;
        for (j, (o, &c)) in out[first..first + width]
            .iter_mut()
            .zip(&sums[..width])
            .enumerate()
        {
            *o = match around_max(c, || column(x, tile, j)) {
                Ok((max, ln)) => narrow(f64::from(max) + ln),
                Err(special) => special.log_sum_exp() as f32,
            };
        }
    }
}
