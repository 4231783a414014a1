//! Softmax along a strided axis: a [`Tile`] of `rows` rows of `width <= AXIS_TILE` adjacent
//! columns, `stride` elements apart, each column one row of the operation (the axis of an
//! `(outer, len, inner)` tensor, `stride = inner`). A vector's lanes are adjacent columns, so the
//! reductions run down the columns with no horizontal step and no gather: the online pass of
//! [`crate::ops`] per lane, then one output pass.

use crate::element::Element;
use crate::exp::{cutoff, split_pow2};
use crate::ops::{
    least_normal_factor, rebase, ScaledExp, BLOCK_STEPS, DEAD_LANES, ONLINE_JUMP, PREFETCH_AHEAD,
    PREFETCH_FROM,
};
use crate::simd::Simd;

/// Columns per tile at most: the online pass keeps three f32 and one f64 per column on the
/// stack (20 KiB), the output passes up to four f32. A tile's row is then up to 4 KiB long, so a
/// wide axis (`inner` in the thousands, rows a page or more apart) still reads a page's worth
/// per row: shorter runs leave the prefetchers behind.
pub const AXIS_TILE: usize = 1024;

/// Where a tile's rows lie: `rows` rows, row `k` starting `k * stride` elements after the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Rows (the length of the axis).
    pub rows: usize,
    /// Elements from one row to the next, at least the tile's width when `rows > 1`.
    pub stride: usize,
}

impl Tile {
    /// The elements a tile of `width` columns spans: `(rows - 1) * stride + width`.
    ///
    /// # Panics
    /// When `width` exceeds [`AXIS_TILE`] or (with two rows or more) the stride.
    pub fn span(self, width: usize) -> usize {
        assert!(width <= AXIS_TILE, "tile wider than AXIS_TILE");
        match self.rows {
            0 => 0,
            1 => width,
            r => {
                assert!(width <= self.stride, "tile wider than its stride");
                (r - 1) * self.stride + width
            }
        }
    }
}

/// One column's sum from the online pass: `sum = sum_k exp(x_k - reference)`, with
/// `reference <= max <= reference + ONLINE_JUMP` for a column of finite values (then
/// `sum >= exp(max - reference) >= 1` up to rounding). A NaN makes `sum` NaN, `+inf` makes it
/// NaN, an all `-inf` column leaves it 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColumnSum {
    /// `max_k x_k` (for a column with a NaN, unspecified).
    pub max: f32,
    /// The column's reference.
    pub reference: f32,
    /// `sum_k exp(x_k - reference)` in f64.
    pub sum: f64,
}

/// Each column's [`ColumnSum`] into `out` (`out.len()` columns): per lane the online pass of
/// [`crate::ops::raddonline`] (the reference moves, with an exact rescale, only when an input
/// exceeds it by more than [`ONLINE_JUMP`]). The tile is read row by row (sequentially, as the
/// prefetchers like it), each vector's state in arrays on the stack; every [`BLOCK_STEPS`] rows
/// the f32 partials are folded into the f64 totals, so none adds more terms than that.
///
/// # Safety
/// `x..x + tile.span(out.len())` readable.
#[inline(always)]
pub(crate) unsafe fn raxisonline<S: Simd, E: Element>(
    s: S,
    x: *const E,
    tile: Tile,
    out: &mut [ColumnSum],
) {
    let (width, l) = (out.len(), S::LANES);
    if width <= l {
        // SAFETY: forwarded from the caller; out.len() <= LANES.
        return unsafe { raxisonline_narrow::<S, E, 1>(s, x, tile, out) };
    }
    if width <= 2 * l {
        // SAFETY: forwarded from the caller; out.len() <= 2 * LANES.
        return unsafe { raxisonline_narrow::<S, E, 2>(s, x, tile, out) };
    }
    let ahead = prefetch_ahead::<E>(tile, width);
    let exp = ScaledExp::<S>::unit(s);
    let mut reference = [-f32::MAX; AXIS_TILE];
    let mut max = [f32::NEG_INFINITY; AXIS_TILE];
    let mut acc = [0.0f32; AXIS_TILE];
    let mut total = [0.0f64; AXIS_TILE];
    for row in 0..tile.rows {
        let mut j = 0;
        while j < width {
            let len = (width - j).min(l);
            // SAFETY: row < rows and j + len <= width: inside the tile's span; j < width <=
            // AXIS_TILE, a multiple of LANES: the state has a vector at j.
            unsafe {
                let p = x.add(row * tile.stride + j);
                let v = load_lanes(s, p, len, f32::NEG_INFINITY, ahead);
                let (pr, pm, pa) = (
                    reference.as_mut_ptr().add(j),
                    max.as_mut_ptr().add(j),
                    acc.as_mut_ptr().add(j),
                );
                let mut r = s.load(pr);
                if s.any(s.lt(s.add(r, s.splat(ONLINE_JUMP)), v)) {
                    r = rebase(s, &exp, &mut total[j..j + l], s.load(pa), r, v);
                    s.store(pr, r);
                    s.store(pa, s.splat(0.0));
                }
                s.store(pm, s.max(s.load(pm), v));
                let term = exp.at::<false, false, false>(s, s.sub(v, r));
                s.store(pa, s.add(s.load(pa), term));
            }
            j += l;
        }
        if (row + 1) % BLOCK_STEPS == 0 || row + 1 == tile.rows {
            let mut j = 0;
            while j < width {
                // SAFETY: as above.
                let a = unsafe { s.load(acc.as_ptr().add(j)) };
                fold(s, &mut total[j..j + l], a);
                j += l;
            }
            acc[..width.next_multiple_of(l)].fill(0.0);
        }
    }
    for (j, o) in out.iter_mut().enumerate() {
        *o = ColumnSum {
            max: max[j],
            reference: reference[j],
            sum: total[j],
        };
    }
}

/// [`raxisonline`] for a tile of `N` vectors of columns or less (`N` 1 or 2): the state in
/// registers (in memory each row's update would wait for the last one's store), four
/// accumulators per vector taking turns over the rows.
///
/// # Safety
/// As [`raxisonline`], with `out.len() <= N * LANES`.
#[inline(always)]
unsafe fn raxisonline_narrow<S: Simd, E: Element, const N: usize>(
    s: S,
    x: *const E,
    tile: Tile,
    out: &mut [ColumnSum],
) {
    let (width, l) = (out.len(), S::LANES);
    let exp = ScaledExp::<S>::unit(s);
    let mut r = [s.splat(-f32::MAX); N];
    let mut r_jump = [s.add(r[0], s.splat(ONLINE_JUMP)); N];
    let mut m = [s.splat(f32::NEG_INFINITY); N];
    let mut acc = [[s.splat(0.0); 4]; N];
    let mut total = [0.0f64; AXIS_TILE];
    let ahead = prefetch_ahead::<E>(tile, width);
    walk_rows(
        tile.rows,
        #[inline(always)]
        |row, slot| {
            for n in 0..N {
                let j = n * l;
                if j >= width {
                    break;
                }
                let wide = &mut total[j..j + l];
                let Some(row) = row else {
                    fold(s, wide, sum4(s, acc[n]));
                    acc[n] = [s.splat(0.0); 4];
                    continue;
                };
                let len = (width - j).min(l);
                // SAFETY: row < rows and j + len <= width: inside the tile's span.
                let v = unsafe {
                    let p = x.add(row * tile.stride + j);
                    load_lanes(s, p, len, f32::NEG_INFINITY, ahead)
                };
                if s.any(s.lt(r_jump[n], v)) {
                    r[n] = rebase(s, &exp, wide, sum4(s, acc[n]), r[n], v);
                    acc[n] = [s.splat(0.0); 4];
                    r_jump[n] = s.add(r[n], s.splat(ONLINE_JUMP));
                }
                m[n] = s.max(m[n], v);
                let term = exp.at::<false, false, false>(s, s.sub(v, r[n]));
                acc[n][slot] = s.add(acc[n][slot], term);
            }
        },
    );
    for (j, o) in out.iter_mut().enumerate() {
        let (n, k) = (j / l, j % l);
        *o = ColumnSum {
            max: s.lanes(m[n]).as_ref()[k],
            reference: s.lanes(r[n]).as_ref()[k],
            sum: total[j],
        };
    }
}

/// Calls `step(Some(row), slot)` for every row in order, `slot = row % 4` a constant at each
/// call site (so accumulators indexed by it stay in registers), and `step(None, 0)` after every
/// `4 * BLOCK_STEPS` rows and at the end: each of four accumulators then adds at most
/// [`BLOCK_STEPS`] terms between folds.
#[inline(always)]
fn walk_rows(rows: usize, mut step: impl FnMut(Option<usize>, usize)) {
    let mut row = 0;
    while row + 4 <= rows {
        step(Some(row), 0);
        step(Some(row + 1), 1);
        step(Some(row + 2), 2);
        step(Some(row + 3), 3);
        row += 4;
        if row % (4 * BLOCK_STEPS) == 0 {
            step(None, 0);
        }
    }
    let left = rows - row;
    if left > 0 {
        step(Some(row), 0);
    }
    if left > 1 {
        step(Some(row + 1), 1);
    }
    if left > 2 {
        step(Some(row + 2), 2);
    }
    step(None, 0);
}

/// Elements ahead of each load a pass over a tile of `width` columns prefetches (0: none). Rows
/// that lie apart (`stride > width`) are each a separate run the hardware prefetchers start cold
/// on: about 8 KiB of f32 rows ahead, at most 16 rows. A contiguous tile of
/// [`PREFETCH_FROM`] bytes or more is one long run, prefetched as the row passes are
/// ([`PREFETCH_AHEAD`] bytes ahead).
fn prefetch_ahead<E: Element>(tile: Tile, width: usize) -> usize {
    if tile.stride > width {
        (2048 / width.max(1)).clamp(1, 16) * tile.stride
    } else if tile.span(width) * size_of::<E>() >= PREFETCH_FROM {
        PREFETCH_AHEAD / size_of::<E>()
    } else {
        0
    }
}

/// `a + b + c + d`.
#[inline(always)]
fn sum4<S: Simd>(s: S, [a, b, c, d]: [S::V; 4]) -> S::V {
    s.add(s.add(a, b), s.add(c, d))
}

/// The `len <= LANES` elements at `p` widened to f32, the lanes past them `fill`; prefetches
/// the line `ahead` elements on when `ahead > 0` ([`prefetch_ahead`]).
///
/// # Safety
/// `p..p + len` readable.
#[inline(always)]
pub(crate) unsafe fn load_lanes<S: Simd, E: Element>(
    s: S,
    p: *const E,
    len: usize,
    fill: f32,
    ahead: usize,
) -> S::V {
    if ahead > 0 {
        s.prefetch(p.wrapping_add(ahead).cast());
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        if len == S::LANES {
            E::load(s, p)
        } else {
            E::load_tail(s, p, len, fill)
        }
    }
}

/// Stores the first `len <= LANES` lanes of `v` at `p`.
///
/// # Safety
/// `p..p + len` writable.
#[inline(always)]
unsafe fn store_lanes<S: Simd, E: Element>(s: S, p: *mut E, len: usize, v: S::V) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if len == S::LANES {
            E::store(s, p, v)
        } else {
            E::store_tail(s, p, len, v)
        }
    }
}

/// `wide_k += v_k` for every lane `k`.
#[inline(always)]
fn fold<S: Simd>(s: S, wide: &mut [f64], v: S::V) {
    for (w, v) in wide.iter_mut().zip(s.lanes(v).as_ref()) {
        *w += f64::from(*v);
    }
}

/// Each column's max into `out` (`out.len()` columns; `-inf` for no rows; a NaN may or may not
/// win), read row by row.
///
/// # Safety
/// `x..x + tile.span(out.len())` readable.
#[inline(always)]
pub(crate) unsafe fn raxismax<S: Simd, E: Element>(s: S, x: *const E, tile: Tile, out: &mut [f32]) {
    let (width, l) = (out.len(), S::LANES);
    if width <= l {
        // SAFETY: forwarded from the caller; out.len() <= LANES.
        return unsafe { raxismax_narrow::<S, E, 1>(s, x, tile, out) };
    }
    if width <= 2 * l {
        // SAFETY: forwarded from the caller; out.len() <= 2 * LANES.
        return unsafe { raxismax_narrow::<S, E, 2>(s, x, tile, out) };
    }
    let ahead = prefetch_ahead::<E>(tile, width);
    let mut max = [f32::NEG_INFINITY; AXIS_TILE];
    for row in 0..tile.rows {
        let mut j = 0;
        while j < width {
            let len = (width - j).min(l);
            // SAFETY: row < rows and j + len <= width: inside the tile's span; the state has a
            // vector at j (AXIS_TILE is a multiple of LANES).
            unsafe {
                let p = x.add(row * tile.stride + j);
                let v = load_lanes(s, p, len, f32::NEG_INFINITY, ahead);
                let pm = max.as_mut_ptr().add(j);
                s.store(pm, s.max(s.load(pm), v));
            }
            j += l;
        }
    }
    out.copy_from_slice(&max[..width]);
}

/// [`raxismax`] for a tile of `N` vectors of columns or less (`N` 1 or 2): the maxima in
/// registers, four per vector taking turns over the rows ([`walk_rows`]), so no row waits on
/// the last one's max.
///
/// # Safety
/// As [`raxismax`], with `out.len() <= N * LANES`.
#[inline(always)]
unsafe fn raxismax_narrow<S: Simd, E: Element, const N: usize>(
    s: S,
    x: *const E,
    tile: Tile,
    out: &mut [f32],
) {
    let (width, l) = (out.len(), S::LANES);
    let ahead = prefetch_ahead::<E>(tile, width);
    let mut m = [[s.splat(f32::NEG_INFINITY); 4]; N];
    walk_rows(
        tile.rows,
        #[inline(always)]
        |row, slot| {
            let Some(row) = row else { return };
            for (n, m) in m.iter_mut().enumerate() {
                let j = n * l;
                if j >= width {
                    break;
                }
                let len = (width - j).min(l);
                // SAFETY: row < rows and j + len <= width: inside the tile's span.
                let v = unsafe {
                    let p = x.add(row * tile.stride + j);
                    load_lanes(s, p, len, f32::NEG_INFINITY, ahead)
                };
                m[slot] = s.max(m[slot], v);
            }
        },
    );
    let m = m.map(|[a, b, c, d]| s.max(s.max(a, b), s.max(c, d)));
    for (j, o) in out.iter_mut().enumerate() {
        *o = s.lanes(m[j / l]).as_ref()[j % l];
    }
}

/// `y = exp(x - m_j)` down each column `j` for finite `max[j] = m_j` at least the column's max
/// (0 below `2^-126 (1 + 2^-10)`; the short reduction, and the coarse exp for half outputs, as
/// [`crate::ops::raddstoreexpminusmax`]), and each column's sum of the terms into `sums`, in
/// f32 partials of at most [`BLOCK_STEPS`] terms folded into f64.
///
/// # Safety
/// `x..x + span` readable and `y..y + span` writable (`y` may equal `x`), `span` the tile's for
/// `max.len() == sums.len()` columns.
#[inline(always)]
pub(crate) unsafe fn raxisstoreexp<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    tile: Tile,
    max: &[f32],
    sums: &mut [f64],
) {
    let width = max.len();
    let mut m = [0.0f32; AXIS_TILE];
    m[..width].copy_from_slice(max);
    let mut total = [0.0f64; AXIS_TILE];
    // SAFETY: forwarded from the caller; the tile has `width` columns (within N vectors where
    // N > 0).
    unsafe {
        if width <= S::LANES {
            storeexp::<S, E, 1>(s, x, y, tile, width, &m, &mut total);
        } else if width <= 2 * S::LANES {
            storeexp::<S, E, 2>(s, x, y, tile, width, &m, &mut total);
        } else {
            storeexp::<S, E, 0>(s, x, y, tile, width, &m, &mut total);
        }
    }
    sums.copy_from_slice(&total[..width]);
}

/// [`raxisstoreexp`]'s walk: with `N` (1 or 2) vectors of columns or less the partials stay in
/// registers, four per vector taking turns over the rows ([`walk_rows`]); with `N = 0` they live
/// on the stack.
///
/// # Safety
/// As [`raxisstoreexp`], with `width <= N * LANES` for `N > 0`.
#[inline(always)]
unsafe fn storeexp<S: Simd, E: Element, const N: usize>(
    s: S,
    x: *const E,
    y: *mut E,
    tile: Tile,
    width: usize,
    m: &[f32; AXIS_TILE],
    total: &mut [f64; AXIS_TILE],
) {
    #[inline(always)]
    fn term<S: Simd, E: Element>(s: S, v: S::V, m: S::V) -> S::V {
        let exp = ScaledExp::<S>::unit(s);
        if E::COARSE_EXP {
            exp.at::<true, true, true>(s, s.sub(v, m))
        } else {
            exp.at::<true, false, true>(s, s.sub(v, m))
        }
    }
    let l = S::LANES;
    /// Stores the term of row `row`, columns from `j`, and returns it.
    ///
    /// # Safety
    /// As [`storeexp`], with `row < rows` and `j < width`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn store<S: Simd, E: Element>(
        s: S,
        (x, y): (*const E, *mut E),
        tile: Tile,
        width: usize,
        m: &[f32; AXIS_TILE],
        (row, j): (usize, usize),
        ahead: usize,
    ) -> S::V {
        let l = S::LANES;
        let len = (width - j).min(l);
        let at = row * tile.stride + j;
        // SAFETY: row < rows and j + len <= width: inside the tile's span; the state has a
        // vector at j.
        unsafe {
            let v = load_lanes(s, x.add(at), len, f32::NEG_INFINITY, ahead);
            let t = term::<S, E>(s, v, s.load(m.as_ptr().add(j)));
            store_lanes(s, y.add(at), len, t);
            t
        }
    }
    let ahead = prefetch_ahead::<E>(tile, width);
    if N > 0 {
        let mut acc = [[s.splat(0.0); 4]; N];
        walk_rows(
            tile.rows,
            #[inline(always)]
            |row, slot| {
                for (n, acc) in acc.iter_mut().enumerate() {
                    let j = n * l;
                    if j >= width {
                        break;
                    }
                    match row {
                        Some(row) => {
                            // SAFETY: forwarded from the caller; row < rows, j < width.
                            let t = unsafe { store(s, (x, y), tile, width, m, (row, j), ahead) };
                            acc[slot] = s.add(acc[slot], t);
                        }
                        None => {
                            let a = std::mem::replace(acc, [s.splat(0.0); 4]);
                            fold(s, &mut total[j..j + l], sum4(s, a));
                        }
                    }
                }
            },
        );
        return;
    }
    let mut acc = [0.0f32; AXIS_TILE];
    for row in 0..tile.rows {
        let mut j = 0;
        while j < width {
            // SAFETY: forwarded from the caller; row < rows, j < width.
            let t = unsafe { store(s, (x, y), tile, width, m, (row, j), ahead) };
            // SAFETY: the state has a vector at j.
            unsafe {
                let pa = acc.as_mut_ptr().add(j);
                s.store(pa, s.add(s.load(pa), t));
            }
            j += l;
        }
        if (row + 1) % BLOCK_STEPS == 0 || row + 1 == tile.rows {
            let mut j = 0;
            while j < width {
                // SAFETY: the state has a vector at j.
                let v = unsafe { s.load(acc.as_ptr().add(j)) };
                fold(s, &mut total[j..j + l], v);
                j += l;
            }
            acc[..width.next_multiple_of(l)].fill(0.0);
        }
    }
}

/// `y = x * c_j` down each column `j` (`scale[j] = c_j`), 0 where `|x * c_j|` (or `|x|`) is
/// below 2^-126, as [`crate::ops::vscale`].
///
/// # Safety
/// As [`vaxisexpsubtract`], for `scale.len()` columns.
#[inline(always)]
pub(crate) unsafe fn vaxisscale<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    tile: Tile,
    scale: &[f32],
) {
    struct Columns {
        c: [f32; AXIS_TILE],
        least: [f32; AXIS_TILE],
    }
    impl<S: Simd> ColumnMap<S> for Columns {
        type Params = (S::V, S::V);
        #[inline(always)]
        fn params(&self, s: S, j: usize) -> Self::Params {
            // SAFETY: j < AXIS_TILE, a multiple of LANES.
            unsafe {
                (
                    s.load(self.c.as_ptr().add(j)),
                    s.load(self.least.as_ptr().add(j)),
                )
            }
        }
        #[inline(always)]
        fn apply(&self, s: S, x: S::V, (c, least): Self::Params) -> S::V {
            s.mul_or_zero(s.nlt(s.abs(x), least), x, c)
        }
    }
    let mut c = Columns {
        c: [0.0; AXIS_TILE],
        least: [f32::INFINITY; AXIS_TILE],
    };
    for (j, &v) in scale.iter().enumerate() {
        c.c[j] = v;
        c.least[j] = least_normal_factor(v);
    }
    // SAFETY: forwarded from the caller.
    unsafe { map(s, &c, (x, y), tile, scale.len()) }
}

/// A per-column element-wise map down a tile.
trait ColumnMap<S: Simd> {
    /// What `apply` needs of a vector of columns.
    type Params: Copy;
    /// The parameters of the vector of columns from `j < AXIS_TILE`.
    fn params(&self, s: S, j: usize) -> Self::Params;
    /// The output for `x` in the columns of `params`.
    fn apply(&self, s: S, x: S::V, params: Self::Params) -> S::V;
}

/// Writes `y = f(x)` over the tile, row by row (`width` columns).
///
/// # Safety
/// `x..x + span` readable and `y..y + span` writable (`y` may equal `x`), `span` the tile's for
/// `width` columns.
#[inline(always)]
unsafe fn map<S: Simd, E: Element, F: ColumnMap<S>>(
    s: S,
    f: &F,
    (x, y): (*const E, *mut E),
    tile: Tile,
    width: usize,
) {
    let (l, ahead) = (S::LANES, prefetch_ahead::<E>(tile, width));
    /// Row `row`'s vector of columns from `j`.
    ///
    /// # Safety
    /// As [`map`], with `row < rows` and `j < width`.
    #[inline(always)]
    unsafe fn one<S: Simd, E: Element, F: ColumnMap<S>>(
        s: S,
        f: &F,
        (x, y): (*const E, *mut E),
        (tile, width, ahead): (Tile, usize, usize),
        (row, j): (usize, usize),
        params: F::Params,
    ) {
        let len = (width - j).min(S::LANES);
        let at = row * tile.stride + j;
        if ahead > 0 {
            s.prefetch(y.wrapping_add(at + ahead).cast());
        }
        // SAFETY: row < rows and j + len <= width: inside the tile's span.
        unsafe {
            let v = load_lanes(s, x.add(at), len, DEAD_LANES, ahead);
            store_lanes(s, y.add(at), len, f.apply(s, v, params));
        }
    }
    if width <= 2 * l {
        // Two vectors or less: their parameters in registers, four rows a turn.
        let params = [f.params(s, 0), f.params(s, l)];
        walk_rows(
            tile.rows,
            #[inline(always)]
            |row, _| {
                let Some(row) = row else { return };
                for (n, &p) in params.iter().enumerate() {
                    let j = n * l;
                    if j >= width {
                        break;
                    }
                    // SAFETY: forwarded from the caller; row < rows, j < width.
                    unsafe { one(s, f, (x, y), (tile, width, ahead), (row, j), p) };
                }
            },
        );
        return;
    }
    for row in 0..tile.rows {
        let mut j = 0;
        while j < width {
            // SAFETY: forwarded from the caller; row < rows, j < width.
            unsafe { one(s, f, (x, y), (tile, width, ahead), (row, j), f.params(s, j)) };
            j += l;
        }
    }
}

/// `y = min(c_j * exp(x - r_j), 1)` down each column `j`, for `params[j] = (r_j, c_j)` with
/// `x - r_j <= 16` and `0 < c_j <= 2` (a column's softmax from its max and `1 / sum` around
/// it: `x - max` is exact near the max, and the scale is one rounding more, as in the rows
/// path); 0 where below `2^-126 (1 + 2^-10)`, NaN where `r_j` is NaN. (Not
/// `exp((x - max) - ln s)`: rounding that argument, up to `13.8 + ln s` in size for outputs down
/// to 1e-6 of the max, costs up to 1e-6 relative on its own.)
///
/// # Safety
/// `x..x + span` readable and `y..y + span` writable (`y` may equal `x`), `span` the tile's for
/// `params.len()` columns.
#[inline(always)]
pub(crate) unsafe fn vaxisscaleexp<S: Simd, E: Element>(
    s: S,
    (x, y): (*const E, *mut E),
    tile: Tile,
    params: &[(f32, f32)],
) {
    /// Per column: the reference, and `c = m * 2^-e` split as [`ScaledExp`] does with the
    /// flush point for `m` and `e`.
    struct Columns<const COARSE: bool> {
        r: [f32; AXIS_TILE],
        m: [f32; AXIS_TILE],
        e: [f32; AXIS_TILE],
        cutoff: [f32; AXIS_TILE],
    }
    impl<S: Simd, const COARSE: bool> ColumnMap<S> for Columns<COARSE> {
        type Params = [S::V; 4];
        #[inline(always)]
        fn params(&self, s: S, j: usize) -> Self::Params {
            // SAFETY: j < AXIS_TILE, a multiple of LANES.
            [&self.r, &self.m, &self.e, &self.cutoff].map(|a| unsafe { s.load(a.as_ptr().add(j)) })
        }
        #[inline(always)]
        fn apply(&self, s: S, x: S::V, [r, m, e, cutoff]: Self::Params) -> S::V {
            let y = s
                .exp_scaled::<COARSE, COARSE, true, false>(s.sub(x, r), e, m, cutoff)
                .0;
            // The operand order keeps a NaN y.
            s.min(s.splat(1.0), y)
        }
    }
    fn columns<const COARSE: bool>(params: &[(f32, f32)]) -> Columns<COARSE> {
        let mut c = Columns {
            r: [0.0; AXIS_TILE],
            m: [1.0; AXIS_TILE],
            e: [0.0; AXIS_TILE],
            cutoff: [0.0; AXIS_TILE],
        };
        for (j, &(r, scale)) in params.iter().enumerate() {
            let (m, k) = split_pow2(scale);
            c.r[j] = r;
            c.m[j] = m;
            c.e[j] = -k as f32;
            c.cutoff[j] = cutoff(m, -k);
        }
        c
    }
    let width = params.len();
    // SAFETY: forwarded from the caller.
    unsafe {
        if E::COARSE_EXP {
            map(s, &columns::<true>(params), (x, y), tile, width)
        } else {
            map(s, &columns::<false>(params), (x, y), tile, width)
        }
    }
}

/// `y = (x - a_j) - b_j` down each column `j`, for `params[j] = (a_j, b_j)` (a column's
/// log-softmax: its max and the log of its sum around it).
///
/// # Safety
/// As [`vaxisexpsubtract`].
#[inline(always)]
pub(crate) unsafe fn vaxissubtract<S: Simd, E: Element>(
    s: S,
    (x, y): (*const E, *mut E),
    tile: Tile,
    params: &[(f32, f32)],
) {
    struct Columns {
        a: [f32; AXIS_TILE],
        b: [f32; AXIS_TILE],
    }
    impl<S: Simd> ColumnMap<S> for Columns {
        type Params = (S::V, S::V);
        #[inline(always)]
        fn params(&self, s: S, j: usize) -> Self::Params {
            // SAFETY: j < AXIS_TILE, a multiple of LANES.
            unsafe {
                (
                    s.load(self.a.as_ptr().add(j)),
                    s.load(self.b.as_ptr().add(j)),
                )
            }
        }
        #[inline(always)]
        fn apply(&self, s: S, x: S::V, (a, b): Self::Params) -> S::V {
            s.sub(s.sub(x, a), b)
        }
    }
    let mut c = Columns {
        a: [0.0; AXIS_TILE],
        b: [0.0; AXIS_TILE],
    };
    for (j, &(a, b)) in params.iter().enumerate() {
        c.a[j] = a;
        c.b[j] = b;
    }
    // SAFETY: forwarded from the caller.
    unsafe { map(s, &c, (x, y), tile, params.len()) }
}
