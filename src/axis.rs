//! Softmax, log-softmax and log-sum-exp along the middle axis of a contiguous
//! `(outer, len, inner)` tensor (last index fastest): row `(o, j)` is
//! `x[(o * len + k) * inner + j]` for `k < len`. Tiles of adjacent columns (one strip's or up to
//! [`AXIS_TILE`]: `Kernels::axis_columns`) are reduced down their columns, each lane one row
//! (`raxisonline`), then written; no gather and no transposing copy. An axis whose columns
//! would leave lanes idle is folded, rows side by side, so that every lane works ([`fold`]).
//! (`inner == 1`, contiguous rows, takes the rows path: `kernels.rs`.)

use std::ops::Range;

use twopass_kernels::{ColumnSum, Element, Io, Store, Table, Tile, AXIS_TILE, NARROW_TILE};

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

/// Whether a column is ordinary: a finite max and a finite positive sum (else it holds a NaN or
/// `+inf`, or only `-inf`: [`Special`]).
fn ordinary(c: &ColumnSum) -> bool {
    c.max.is_finite() && c.sum.is_finite() && c.sum > 0.0
}

/// `ln s` of an [`ordinary`] column, `s = sum_k exp(x_k - max) = sum * exp(reference - max)`
/// (at least 1: its max's term), from the kernels' `ln_sum`.
fn ln_around_max(c: &ColumnSum) -> f64 {
    (c.ln_sum - (f64::from(c.max) - f64::from(c.reference))).max(0.0)
}

/// `1 / s` of an [`ordinary`] column (as [`ln_around_max`]): `exp(max - reference) / sum`,
/// `max - reference` in `[0, ONLINE_JUMP]`, one libm call (for short axes per-column work is
/// much of the whole).
fn inverse_around_max(c: &ColumnSum) -> f64 {
    ((f64::from(c.max) - f64::from(c.reference)).exp() / c.sum).min(1.0)
}

/// The values of column `j` of the tile starting at `x[0]`.
fn column<E: Element>(
    x: &[E],
    tile: Tile,
    j: usize,
) -> impl Iterator<Item = f32> + Clone + use<'_, E> {
    (0..tile.rows).map(move |k| x[k * tile.stride + j].to_f32())
}

/// A tile of the tensor: `width` adjacent columns of one outer index, its `tile` of rows, its
/// elements (`range`), and the [`Part`]s the kernels take it in.
struct Tiled {
    range: Range<usize>,
    tile: Tile,
    width: usize,
    parts: [Part; 2],
}

/// One kernel call's share of a [`Tiled`]: `tile.rows` rows of `columns`, from element `start`
/// of the tile's. The first part takes `columns / width` rows of the tile side by side as one
/// (its column `J` is the tile's column `J % width`), the second the rows left over; a tile
/// that does not fold ([`fold`]) is all first part.
#[derive(Clone, Copy)]
struct Part {
    start: usize,
    tile: Tile,
    columns: usize,
}

impl Part {
    /// The part's elements within the tile's.
    fn range(&self) -> Range<usize> {
        self.start..self.start + self.tile.span(self.columns)
    }
}

/// Rows of a tile of `inner` columns that a [`Part`] takes side by side: of the `g` whose
/// `g * inner` columns fit the kernels' `strip` and that the axis holds four times, the one
/// whose columns use the largest share of the lanes of their vectors (`g * inner` of
/// `ceil(g * inner / lanes) * lanes`), the fewest rows among equals. With AVX-512's 16 lanes
/// and 64-column strips: 16 rows of 3 columns (48, three whole vectors), 4 of 4, 2 of 24, 3 of
/// 20 (60 of 64 lanes, against 20 of 32 unfolded), 7 of 9 (63 of 64, against 9 of 16); with
/// AVX2's 8 lanes and 16-column strips 5 rows of 3 (15 of 16). A row whose columns leave
/// lanes idle wastes them in every row. The rows are contiguous (`width == inner`), so the
/// folded part is a tile of `inner * fold` columns. Not to a whole strip where one vector does
/// as well: folded to 64 columns, 2-16 columns ran 1.4-1.5x the contiguous rows' time against
/// 1.2-1.3x (AVX-512, Ice Lake-SP, 16K elements, with strips of 64 columns then walked as two).
/// Where the strips are two vectors (AVX2's 16 registers) and the best share is at most 3/4
/// (6, 9-12, 17 and 18 columns), the rows of a whole number of vectors instead, `lanes /
/// gcd(inner, lanes)` of them (8 rows, 72 columns, for 9), a part wider than a strip that the
/// kernels walk row by row: AVX2 on Zen 4, 64K-16M elements, 6 and 9-12 columns 1.4-2.5x the
/// contiguous rows' time -> 1.0-1.9x, 17 and 18 columns 1.65-2.2x -> 1.0-1.8x. AVX-512's
/// four-vector strips keep their lead (35 columns at 64K: 1.7x, against 2.0x folded to 560
/// columns). Only in tiles of [`WHOLE_FOLD_FROM`] elements or more; the rows left over (a
/// [`Part`] of `inner` columns) keep their state in [`NARROW_TILE`] columns.
fn fold(len: usize, inner: usize, lanes: usize, strip: usize) -> usize {
    let inner = inner.max(1);
    let most = (strip / inner).min(len / 4).max(1);
    // (columns, lanes of their vectors) of g rows side by side.
    let used = |g: usize| (g * inner, (g * inner).div_ceil(lanes) * lanes);
    let best = (2..=most).fold(1, |best, g| {
        let ((c, l), (best_c, best_l)) = (used(g), used(best));
        if c * best_l > best_c * l {
            g
        } else {
            best
        }
    });
    let (c, l) = used(best);
    let whole = lanes / gcd(inner, lanes);
    if strip <= 2 * lanes
        && 4 * c <= 3 * l
        && inner <= NARROW_TILE
        && whole * inner <= AXIS_TILE
        && len.saturating_mul(inner) >= WHOLE_FOLD_FROM
    {
        whole
    } else {
        best
    }
}

/// Elements a tile needs for [`fold`]'s whole-vector form: its part is walked row by row, with
/// state for [`AXIS_TILE`] columns zeroed per tile (about 36 KiB), which must be small beside
/// the tile. AVX2 on Zen 4, 9 columns: 4096 tiles of 32 rows ran 0.10-0.13 elements/ns folded
/// against 0.29-0.42 unfolded, 256 of 512 rows level, 64 of 2048 rows 0.80-1.42 against
/// 0.57-0.80.
const WHOLE_FOLD_FROM: usize = 8192;

/// The greatest common divisor of `a` and `b`.
fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Columns per tile of an axis of `len` rows of `inner` columns, in tiles of `columns` at most
/// (at most [`AXIS_TILE`]) as the caller asks, but for a folded axis ([`fold`]): one tile of
/// `inner` columns per outer index, its part wider than a strip if need be.
pub(crate) fn tile_columns(
    (len, inner): (usize, usize),
    columns: usize,
    (lanes, strip): (usize, usize),
) -> usize {
    match fold(len, inner, lanes, strip) {
        1 => columns,
        _ => columns.max(inner),
    }
    .clamp(1, AXIS_TILE)
}

/// Columns of state the tiles of `shape` in `columns` need: a folded [`Part`]'s, else a
/// tile's.
fn state_columns(
    (_, len, inner): (usize, usize, usize),
    columns: usize,
    (lanes, strip): (usize, usize),
) -> usize {
    match fold(len, inner, lanes, strip) {
        1 => inner.min(columns),
        g => g * inner,
    }
}

/// The tiles of an `(outer, len, inner)` tensor, `columns` wide at most (from
/// [`tile_columns`]), for kernels of `lanes` per vector.
fn tiles(
    (outer, len, inner): (usize, usize, usize),
    columns: usize,
    (lanes, strip): (usize, usize),
) -> impl Iterator<Item = Tiled> {
    let fold = fold(len, inner, lanes, strip);
    let tile = Tile {
        rows: len,
        stride: inner,
    };
    (0..outer).flat_map(move |o| {
        (0..inner).step_by(columns).map(move |j| {
            let width = (inner - j).min(columns);
            let start = o * len * inner + j;
            let main = Tile {
                rows: len / fold,
                stride: inner * fold,
            };
            let rest = Tile {
                rows: len % fold,
                stride: inner,
            };
            Tiled {
                range: start..start + tile.span(width),
                tile,
                width,
                parts: [
                    Part {
                        start: 0,
                        tile: main,
                        columns: width * fold,
                    },
                    Part {
                        start: main.rows * main.stride,
                        tile: rest,
                        columns: width,
                    },
                ],
            }
        })
    })
}

/// Column `j`'s sum from its [`Part`]s' sums: columns `j, j + width, ...` of the first part's
/// (`main`) and column `j` of the second's (`rest`, when it has rows). Folded, the sums go to
/// the largest reference `R`: `sum = sum_p s_p * exp(r_p - R)`, each factor at most 1. A part's
/// sum is at least 1 (its max's term), or, all `-inf`, tiny at the reference `-f32::MAX`
/// (`ColumnSum`), so a term below `e^-600` is left out (against the largest part's, at least
/// 1) rather than made subnormal; a NaN stays.
#[inline]
fn column_sum(main: &[ColumnSum], rest: Option<&[ColumnSum]>, width: usize, j: usize) -> ColumnSum {
    if main.len() == width && rest.is_none() {
        return main[j];
    }
    let parts = || main[j..].iter().step_by(width).chain(rest.map(|r| &r[j]));
    let reference = parts().map(|c| c.reference).fold(f32::MIN, f32::max);
    let sum = parts()
        .map(|c| {
            let d = f64::from(c.reference) - f64::from(reference);
            if c.sum.is_nan() {
                // Not `NaN * exp(d)`: a NaN part's reference may lie far below (its NaN lost to
                // the max), and that exp would underflow.
                f64::NAN
            } else if c.sum != 0.0 && d >= -600.0 {
                c.sum * d.exp()
            } else {
                0.0
            }
        })
        .sum();
    ColumnSum {
        max: parts().map(|c| c.max).fold(f32::NEG_INFINITY, f32::max),
        reference,
        sum,
        ln_sum: sum.ln(),
    }
}

/// Writes `output` of every row of the `(outer, len, inner)` tensor `io` (whose length the
/// caller checked) in tiles `columns` wide at most ([`tile_columns`]), the output passes of
/// the online pass storing as `store` says. Special rows (NaN, `+inf`, only `-inf`) are all NaN.
pub(crate) fn map<E: Element>(
    t: &Table<E>,
    io: Io<'_, E>,
    shape: (usize, usize, usize),
    columns: usize,
    (output, store): (Output, Store),
) {
    if shape.1 == 0 {
        // Nothing to write (and every tile below has rows).
    } else if state_columns(shape, columns, (t.lanes, t.strip)) <= NARROW_TILE {
        map_with::<E, NARROW_TILE>(t, io, (shape, columns), (output, store))
    } else {
        map_with::<E, AXIS_TILE>(t, io, (shape, columns), (output, store))
    }
}

/// [`map`] with per-column state for `C >= state_columns(..)` columns (the passes zero it
/// on every call: [`NARROW_TILE`]).
fn map_with<E: Element, const C: usize>(
    t: &Table<E>,
    mut io: Io<'_, E>,
    (shape, columns): ((usize, usize, usize), usize),
    (output, store): (Output, Store),
) {
    if output == Output::SoftmaxReload {
        return reload::<E, C>(t, io, (shape, columns));
    }
    let mut sums = [ColumnSum::default(); C];
    let mut rest_sums = [ColumnSum::default(); NARROW_TILE];
    let mut params = [(0.0f32, 0.0f32); C];
    for Tiled {
        range,
        width,
        parts: [main, rest],
        ..
    } in tiles(shape, columns, (t.lanes, t.strip))
    {
        let x = &io.input()[range.clone()];
        let rest_sums = online(t, x, [main, rest], &mut sums, &mut rest_sums);
        for (j, p) in params[..width].iter_mut().enumerate() {
            let c = column_sum(&sums[..main.columns], rest_sums, width, j);
            // Around the max: log-softmax `(x - max) - ln s`, softmax `exp(x - max) * (1 / s)`
            // (x - max exact near the max; 1 / s at most 1, in f64); NaN for a special column.
            *p = match (ordinary(&c), output) {
                (false, _) => (f32::NAN, 1.0),
                (true, Output::LogSoftmax) => (c.max, narrow(ln_around_max(&c))),
                (true, _) => (c.max, inverse_around_max(&c) as f32),
            };
        }
        repeat(&mut params[..main.columns], width);
        let mut io = part(&mut io, range);
        for p in [main, rest].iter().filter(|p| p.tile.rows > 0) {
            let io = part(&mut io, p.range());
            match output {
                Output::LogSoftmax => (t.vaxissubtract)(io, p.tile, &params[..p.columns], store),
                _ => (t.vaxisscaleexp)(io, p.tile, &params[..p.columns], store),
            }
        }
    }
}

/// Each [`Part`]'s [`ColumnSum`]s (`raxisonline`) of the tile `x`: the first's into `sums`, the
/// second's, when it has rows, into `rest_sums`, which it returns.
fn online<'r, E: Element>(
    t: &Table<E>,
    x: &[E],
    [main, rest]: [Part; 2],
    sums: &mut [ColumnSum],
    rest_sums: &'r mut [ColumnSum],
) -> Option<&'r [ColumnSum]> {
    (t.raxisonline)(&x[main.range()], main.tile, &mut sums[..main.columns]);
    (rest.tile.rows > 0).then(|| {
        let rest_sums = &mut rest_sums[..rest.columns];
        (t.raxisonline)(&x[rest.range()], rest.tile, rest_sums);
        &*rest_sums
    })
}

/// Each column's parameters, in `params[..width]`, for every column of a folded [`Part`]:
/// `params[J] = params[J % width]`.
fn repeat<P: Copy>(params: &mut [P], width: usize) {
    for j in width..params.len() {
        params[j] = params[j - width];
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
/// where the tile's blocks would need more than [`REFS`] references; the whole tile past the
/// kernels' `strip` (they walk tiles wider than a strip row by row, as one block).
fn block_rows<E>(tile: Tile, width: usize, strip: usize) -> usize {
    if width > strip {
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
/// for a special column: `x * NaN`). A folded tile's parts ([`Part`]) each keep their own
/// references.
fn reload<E: Element, const C: usize>(
    t: &Table<E>,
    mut io: Io<'_, E>,
    (shape, columns): ((usize, usize, usize), usize),
) {
    let mut sums = [ColumnSum::default(); C];
    let mut rest_sums = [ColumnSum::default(); NARROW_TILE];
    let mut params = [(0.0f32, 0.0f32); C];
    let mut refs = [0.0f32; REFS];
    let mut rest_refs = [0.0f32; NARROW_TILE];
    for Tiled {
        range,
        width,
        parts,
        ..
    } in tiles(shape, columns, (t.lanes, t.strip))
    {
        let mut io = part(&mut io, range);
        // A part's rows per block, and its references from `raxisblockexp` (a fold's rest, under
        // 16 KiB, is one block).
        let blocks = parts.map(|p| block_rows::<E>(p.tile, p.columns, t.strip));
        let used = |p: Part, block: usize| p.tile.rows.div_ceil(block) * p.columns;
        let state = [
            (&mut sums[..], &mut refs[..]),
            (&mut rest_sums[..], &mut rest_refs[..]),
        ];
        for ((p, block), (sums, refs)) in parts.into_iter().zip(blocks).zip(state) {
            if p.tile.rows > 0 {
                let (io, refs) = (part(&mut io, p.range()), &mut refs[..used(p, block)]);
                (t.raxisblockexp)(io, p.tile, block, refs, &mut sums[..p.columns]);
            }
        }
        let rest_sums = (parts[1].tile.rows > 0).then(|| &rest_sums[..width]);
        // The last reference is the column's max, whose term, 1, is in the sum: at least 1
        // exactly, though its rounded terms may add up to 1 - 1e-7 (the clamp moves c toward
        // the exact value).
        for (j, p) in params[..width].iter_mut().enumerate() {
            let c = column_sum(&sums[..parts[0].columns], rest_sums, width, j);
            *p = if ordinary(&c) {
                (c.max, ((1.0 / c.sum) as f32).min(1.0))
            } else {
                (f32::NAN, 1.0)
            };
        }
        repeat(&mut params[..parts[0].columns], width);
        for ((p, block), refs) in parts.into_iter().zip(blocks).zip([&refs[..], &rest_refs]) {
            if p.tile.rows > 0 {
                let (mut io, refs) = (part(&mut io, p.range()), &refs[..used(p, block)]);
                (t.vaxisblockscale)(io.output(), p.tile, block, refs, &params[..p.columns]);
            }
        }
    }
}

/// `out[o * inner + j]` = the log-sum-exp of row `(o, j)` of the `(outer, len, inner)` tensor
/// `x` (`-inf` for `len == 0`; special rows as `log_sum_exp`), in tiles `columns` wide at
/// most. The caller checked the lengths.
pub(crate) fn log_sum_exp<E: Element>(
    t: &Table<E>,
    x: &[E],
    shape: (usize, usize, usize),
    columns: usize,
    out: &mut [f32],
) {
    let len = shape.1;
    if len == 0 {
        out.fill(f32::NEG_INFINITY);
    } else if state_columns(shape, columns, (t.lanes, t.strip)) <= NARROW_TILE {
        log_sum_exp_with::<E, NARROW_TILE>(t, x, (shape, columns), out);
    } else {
        log_sum_exp_with::<E, AXIS_TILE>(t, x, (shape, columns), out);
    }
}

/// [`log_sum_exp`] of `len > 0` rows with state for `C >= state_columns(..)` columns.
fn log_sum_exp_with<E: Element, const C: usize>(
    t: &Table<E>,
    x: &[E],
    (shape, columns): ((usize, usize, usize), usize),
    out: &mut [f32],
) {
    let (_, len, inner) = shape;
    let mut sums = [ColumnSum::default(); C];
    let mut rest_sums = [ColumnSum::default(); NARROW_TILE];
    for Tiled {
        range,
        tile,
        width,
        parts,
    } in tiles(shape, columns, (t.lanes, t.strip))
    {
        let x = &x[range.clone()];
        let rest_sums = online(t, x, parts, &mut sums, &mut rest_sums);
        // The tile's first column is `range.start`'s: row o, column j of the output.
        let first = (range.start / (len * inner)) * inner + range.start % inner;
        for (j, o) in out[first..first + width].iter_mut().enumerate() {
            let c = column_sum(&sums[..parts[0].columns], rest_sums, width, j);
            *o = if ordinary(&c) {
                narrow(f64::from(c.max) + ln_around_max(&c))
            } else {
                Special::of_values(column(x, tile, j)).log_sum_exp() as f32
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fold;

    /// AVX2 (8 lanes, 16-column strips) folds to whole vectors where its strip folds fill at
    /// most 3/4 of their lanes and the tile has WHOLE_FOLD_FROM elements; AVX-512 (16 lanes,
    /// 64-column strips) keeps its strip folds.
    #[test]
    fn folds() {
        for (len, inner, lanes, strip, g) in [
            (1000, 9, 8, 16, 8),
            (1000, 10, 8, 16, 4),
            (1000, 11, 8, 16, 8),
            (1000, 17, 8, 16, 8),
            (1000, 12, 8, 16, 2),
            (1400, 6, 8, 16, 4),
            (1000, 18, 8, 16, 4),
            // Tiles below WHOLE_FOLD_FROM keep the strip fold.
            (910, 9, 8, 16, 1),
            (1365, 6, 8, 16, 1),
            (1000, 13, 8, 16, 1),
            (1000, 20, 8, 16, 1),
            (1000, 3, 8, 16, 5),
            (1000, 9, 16, 64, 7),
            (1000, 17, 16, 64, 3),
            (1000, 35, 16, 64, 1),
            (3, 2, 16, 64, 1),
        ] {
            assert_eq!(fold(len, inner, lanes, strip), g, "{len} {inner} {lanes}");
        }
    }
}
