//! Softmax along a strided axis: a [`Tile`] of `rows` rows of `width <= AXIS_TILE` adjacent
//! columns, `stride` elements apart, each column one row of the operation (the axis of an
//! `(outer, len, inner)` tensor, `stride = inner`). A vector's lanes are adjacent columns, so the
//! reductions run down the columns with no horizontal step and no gather: the online pass of
//! [`crate::ops`] per lane, then one output pass (or softmax's reload in blocks of rows:
//! [`raxisblockexp`], [`vaxisblockscale`]). A pass walks a tile of
//! up to [`strip_columns`] columns a strip of vectors at a time, the strip's state in
//! registers, and a wider tile row by row.

use crate::element::Element;
use crate::exp::{cutoff, split_pow2, FLUSH_MARGIN};
use crate::ops::{
    add_online_term, jumps, rebase, ScaledExp, BLOCK_STEPS, DEAD_LANES, PREFETCH_AHEAD,
    PREFETCH_FROM,
};
use crate::simd::Simd;
use crate::Store;

/// Columns per tile at most: the online pass keeps three f32 and one f64 per column on the
/// stack (20 KiB), the output passes up to six f32 (24 KiB). A tile's row is then up to 4 KiB long, so a
/// wide axis (`inner` in the thousands, rows a page or more apart) still reads a page's worth
/// per row: shorter runs leave the prefetchers behind.
pub const AXIS_TILE: usize = 1024;

/// Columns of state the passes over a tile this narrow keep (one strip's at most: four vectors
/// of 16 lanes); wider tiles keep [`AXIS_TILE`]'s. Every pass zeroes its state per tile, and a
/// whole `AXIS_TILE`'s (up to 20 KiB a pass, and 20-24 KiB more per call) took 7% of a
/// 16K-element softmax of 16 columns (AVX-512, Ice Lake-SP), and most of it for tiles of few
/// rows.
pub const NARROW_TILE: usize = 64;

/// `$body` with the const `$c` the columns of state a tile of `$width` columns keeps:
/// [`NARROW_TILE`] or [`AXIS_TILE`].
macro_rules! with_state {
    ($width:expr, $c:ident => $body:expr) => {
        if $width <= NARROW_TILE {
            const $c: usize = NARROW_TILE;
            $body
        } else {
            const $c: usize = AXIS_TILE;
            $body
        }
    };
}

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
    /// When `width` exceeds [`AXIS_TILE`] or (with two rows or more) the stride, or the span
    /// overflows `usize`.
    pub fn span(self, width: usize) -> usize {
        assert!(width <= AXIS_TILE, "tile wider than AXIS_TILE");
        match self.rows {
            0 => 0,
            1 => width,
            r => {
                assert!(width <= self.stride, "tile wider than its stride");
                (r - 1)
                    .checked_mul(self.stride)
                    .and_then(|s| s.checked_add(width))
                    .expect("tile span overflows usize")
            }
        }
    }
}

/// One column's sum from the online pass: `sum = sum_k exp(x_k - reference)`, with
/// `reference <= max <= reference + ONLINE_JUMP` for a column of finite values (then
/// `sum >= exp(max - reference) >= 1` up to rounding). A NaN makes `sum` NaN, `+inf` makes it
/// NaN; an all `-inf` column (`max = -inf`) leaves its reference at `-f32::MAX` and its sum
/// 0 or at most its rows times 2^-126 (terms below the exp's cutoff add the value there).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColumnSum {
    /// `max_k x_k` (for a column with a NaN, unspecified).
    pub max: f32,
    /// The column's reference.
    pub reference: f32,
    /// `sum_k exp(x_k - reference)` in f64.
    pub sum: f64,
    /// `ln sum` where the sum is positive and finite (else unspecified), computed with the
    /// sums: a log per column, vectorised here, is much of a short axis's log-sum-exp.
    pub ln_sum: f64,
}

/// `out[j]` from the passes' per-column state (`max[j]`, `reference[j]`, `total[j]`), the logs
/// of a chunk of sums taken first, a loop the compiler vectorises at the ISA's width.
#[inline(always)]
fn write_sums(out: &mut [ColumnSum], max: &[f32], reference: &[f32], total: &[f64]) {
    const CHUNK: usize = 64;
    for (at, out) in out.chunks_mut(CHUNK).enumerate() {
        let j = at * CHUNK;
        let total = &total[j..j + out.len()];
        let mut ln = [0.0f64; CHUNK];
        for (l, &t) in ln.iter_mut().zip(total) {
            *l = crate::exp::ln(t);
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = ColumnSum {
                max: max[j + i],
                reference: reference[j + i],
                sum: total[i],
                ln_sum: ln[i],
            };
        }
    }
}

/// Each column's [`ColumnSum`] into `out` (`out.len()` columns): per lane the online pass of
/// [`crate::ops::raddonline`] (the reference moves, with an exact rescale, only when an input
/// reaches [`ONLINE_JUMP`](crate::ops::ONLINE_JUMP) above it: [`jumps`]), strip by strip
/// ([`for_strips`]; row by row for tiles wider than [`strip_columns`]), f32 partials taking
/// turns over the rows ([`acc_slot`]) folded into the f64 totals before any adds more than
/// [`BLOCK_STEPS`] terms.
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
    struct Online<S: Simd, E> {
        s: S,
        x: *const E,
        tile: Tile,
        ahead: usize,
        reference: [f32; NARROW_TILE],
        max: [f32; NARROW_TILE],
        total: [f64; NARROW_TILE],
    }
    impl<S: Simd, E: Element> StripPass for Online<S, E> {
        #[inline(always)]
        unsafe fn strip<const N: usize, const FULL: bool>(&mut self, at: Strip) {
            let (s, l, exp) = (self.s, S::LANES, ScaledExp::<S>::unit(self.s));
            let mut r = [s.splat(-f32::MAX); N];
            let mut m = [s.splat(f32::NEG_INFINITY); N];
            let mut acc = [[s.splat(0.0); 4]; N];
            let (x, tile, ahead, total) = (self.x, self.tile, self.ahead, &mut self.total);
            walk_rows::<N>(
                tile.rows,
                #[inline(always)]
                |row, slot| {
                    for n in 0..N {
                        let wide = &mut total[at.j + n * l..at.j + (n + 1) * l];
                        let Some(row) = row else {
                            fold(s, wide, sum4(s, acc[n]));
                            acc[n] = [s.splat(0.0); 4];
                            continue;
                        };
                        // SAFETY: row in the tile, vector n of the strip (forwarded).
                        let v = unsafe {
                            let p = x.add(row * tile.stride + at.j + n * l);
                            load_strip::<S, E, N, FULL>(s, p, n, at.last, f32::NEG_INFINITY, ahead)
                        };
                        let mut d = s.sub(v, r[n]);
                        if jumps(s, d) {
                            r[n] = rebase(s, &exp, wide, sum4(s, acc[n]), r[n], v);
                            acc[n] = [s.splat(0.0); 4];
                            d = s.sub(v, r[n]);
                        }
                        m[n] = s.max(m[n], v);
                        let k = acc_slot::<N>(slot);
                        acc[n][k] = add_online_term(s, d, acc[n][k]);
                    }
                },
            );
            for n in 0..N {
                // SAFETY: the strip's vectors lie inside the state (`Strip`).
                unsafe {
                    s.store(self.reference.as_mut_ptr().add(at.j + n * l), r[n]);
                    s.store(self.max.as_mut_ptr().add(at.j + n * l), m[n]);
                }
            }
        }
    }
    if out.len() > strip_columns::<S>() {
        // SAFETY: forwarded from the caller.
        return with_state!(out.len(), C => unsafe { raxisonline_rows::<S, E, C>(s, x, tile, out) });
    }
    let mut pass = Online {
        s,
        x,
        tile,
        ahead: prefetch_ahead::<E>(tile, out.len()),
        reference: [0.0; NARROW_TILE],
        max: [0.0; NARROW_TILE],
        total: [0.0; NARROW_TILE],
    };
    // SAFETY: forwarded from the caller.
    unsafe { for_strips::<S, _>(&mut pass, out.len()) };
    write_sums(out, &pass.max, &pass.reference, &pass.total);
}

/// Where a pass runs: the strip of columns from `j` (whose vectors lie inside the passes'
/// [`NARROW_TILE`]-long state, at least a strip and a multiple of four vectors), its last
/// vector holding `last` columns, over every row of the tile.
struct Strip {
    j: usize,
    last: usize,
}

/// A pass over a tile, one strip of columns at a time ([`for_strips`]).
trait StripPass {
    /// The pass over the strip `at` of `N` vectors of columns (1, 2 or 4), the last one full when
    /// `FULL`: its state in registers for the strip's rows.
    ///
    /// # Safety
    /// The strip lies inside the tile the pass was made for.
    unsafe fn strip<const N: usize, const FULL: bool>(&mut self, at: Strip);
}

/// Runs `pass` over its tile of `width <= strip_columns::<S>()` columns: one strip of as many
/// vectors as the width needs (the last possibly part of a vector) where the ISA keeps four in
/// registers, else two strips for a width between (two vectors, then one), each walking every
/// row. In registers a strip's state costs nothing per row; in memory each row's update would
/// wait for the last one's store (on Ice Lake-SP, tiles of 64 columns with AVX-512 ran
/// 1.16-1.25x the contiguous rows at 1M elements so, against 1.70-1.83x). One strip, not two
/// side by side: two read the cache lines they share twice, from DRAM for a tile out of cache
/// (Zen 4, AVX-512, 16M elements, 40 and 48 columns: 3.0-3.2x the contiguous rows as 32 + 8
/// and 32 + 16 columns, 1.3-1.5x as one strip).
///
/// # Safety
/// As `pass` requires for its tile of `width` columns, and `width <= strip_columns::<S>()`
/// (the passes' state holds [`NARROW_TILE`] columns).
#[inline(always)]
unsafe fn for_strips<S: Simd, P: StripPass>(pass: &mut P, width: usize) {
    const { assert!(strip_columns::<S>() <= NARROW_TILE) };
    debug_assert!(width <= strip_columns::<S>());
    let (l, most) = (S::LANES, strip_vectors::<S>());
    let mut j = 0;
    while j < width {
        let left = width - j;
        let at = |w: usize| Strip {
            j,
            last: w - (w - 1) / l * l,
        };
        // SAFETY: forwarded from the caller; each strip ends within `width`.
        unsafe {
            if most == 4 && left >= 4 * l {
                pass.strip::<4, true>(at(4 * l));
                j += 4 * l;
            } else if most == 4 && left > 3 * l {
                pass.strip::<4, false>(at(left));
                j += left;
            } else if most == 4 && left == 3 * l {
                pass.strip::<3, true>(at(3 * l));
                j += 3 * l;
            } else if most == 4 && left > 2 * l {
                pass.strip::<3, false>(at(left));
                j += left;
            } else if left >= 2 * l {
                pass.strip::<2, true>(at(2 * l));
                j += 2 * l;
            } else if left > l {
                pass.strip::<2, false>(at(left));
                j += left;
            } else if left == l {
                pass.strip::<1, true>(at(l));
                j += l;
            } else {
                pass.strip::<1, false>(at(left));
                j += left;
            }
        }
    }
}

/// Columns a tile walked in strips ([`for_strips`]) has at most: one strip's; wider tiles are
/// walked row by row ([`raxisonline_rows`] and the like), each vector's state in arrays, a
/// whole row in one run. Strips taking turns over blocks of 32 rows were tried for wider
/// tiles: in cache they led, but from the L3 and DRAM they lost to the row walk (Ice Lake-SP,
/// AVX2, 64 columns: 1.55x the contiguous rows at 1M and 1.57-1.75x at 16M, against
/// 1.31-1.52x and 1.18-1.31x). The caller may instead cut an axis into tiles one strip wide
/// (`Crossover::axis_strips_below`: small tensors of at most four strips' columns).
pub(crate) const fn strip_columns<S: Simd>() -> usize {
    strip_vectors::<S>() * S::LANES
}

/// Vectors per strip at most: four with 32 vector registers (a strip's state, four vectors per
/// column vector, stays in them), two with 16.
const fn strip_vectors<S: Simd>() -> usize {
    if S::LANES >= 16 {
        4
    } else {
        2
    }
}

/// The accumulator of a strip of `N` vectors that row `slot` (0 to 3) adds to
/// ([`accumulators`] per vector taking turns).
#[inline(always)]
fn acc_slot<const N: usize>(slot: usize) -> usize {
    slot % accumulators::<N>()
}

/// Accumulators per vector of a strip of `N`: two for one vector (one vector's exp per row
/// takes about an add's latency, so two chains keep the adds off the critical path), else one
/// (a row's vectors add in parallel). Four, as in the row passes, left AVX2 short of
/// registers: its strips of two vectors spilled to the stack.
const fn accumulators<const N: usize>() -> usize {
    if N == 1 {
        2
    } else {
        1
    }
}

/// Calls `step(Some(row), slot)` for every row below `rows` in order, `slot` a constant at each
/// call site (so accumulators indexed by it stay in registers) taking the values 0 to 3 in
/// turn, and `step(None, 0)` after every [`fold_rows`]`::<N>()` rows and at the end: each of a
/// strip's accumulators ([`acc_slot`]) then adds at most [`BLOCK_STEPS`] terms between folds.
#[inline(always)]
fn walk_rows<const N: usize>(rows: usize, mut step: impl FnMut(Option<usize>, usize)) {
    walk_rows_loaded::<N, ()>(
        rows,
        #[inline(always)]
        |_| (),
        #[inline(always)]
        |row, slot| step(row.map(|(row, ())| row), slot),
    );
}

/// [`walk_rows`] with each four rows' loads ahead of their steps: `step(Some((row, load(row))),
/// slot)`. For strips ending in part of a vector, in place: a masked store's footprint is the
/// whole vector, so in a contiguous tile the next row's load waits for it to commit; this way
/// one load in four does (in place, 8 columns with AVX-512 on Ice Lake-SP: 21.5 us a map over
/// 16K elements, then 7, against 1.6 at 16 columns).
#[inline(always)]
fn walk_rows_loaded<const N: usize, V: Copy>(
    rows: usize,
    mut load: impl FnMut(usize) -> V,
    mut step: impl FnMut(Option<(usize, V)>, usize),
) {
    let mut row = 0;
    while row + 4 <= rows {
        let v = [load(row), load(row + 1), load(row + 2), load(row + 3)];
        step(Some((row, v[0])), 0);
        step(Some((row + 1, v[1])), 1);
        step(Some((row + 2, v[2])), 2);
        step(Some((row + 3, v[3])), 3);
        row += 4;
        if row.is_multiple_of(fold_rows::<N>()) && row < rows {
            step(None, 0);
        }
    }
    let left = rows - row;
    if left > 0 {
        let v0 = load(row);
        let v1 = (left > 1).then(|| load(row + 1));
        let v2 = (left > 2).then(|| load(row + 2));
        step(Some((row, v0)), 0);
        if let Some(v1) = v1 {
            step(Some((row + 1, v1)), 1);
        }
        if let Some(v2) = v2 {
            step(Some((row + 2, v2)), 2);
        }
    }
    step(None, 0);
}

/// Rows between folds in a strip of `N` vectors: [`BLOCK_STEPS`] per accumulator.
const fn fold_rows<const N: usize>() -> usize {
    BLOCK_STEPS * accumulators::<N>()
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

/// The lanes vector `n` of a strip of `N` holds ([`StripPass::strip`]): all but in the last
/// vector of a strip that is not `FULL`, where `last`.
#[inline(always)]
fn strip_lanes<S: Simd, const N: usize, const FULL: bool>(n: usize, last: usize) -> usize {
    if FULL || n + 1 < N {
        S::LANES
    } else {
        last
    }
}

/// Vector `n` of a strip of `N` at `p`, its [`strip_lanes`] widened to f32 and `fill` past
/// them. Prefetches the line `ahead` elements on (with no branch: `ahead` may be 0).
///
/// # Safety
/// The vector's elements at `p` readable.
#[inline(always)]
unsafe fn load_strip<S: Simd, E: Element, const N: usize, const FULL: bool>(
    s: S,
    p: *const E,
    n: usize,
    last: usize,
    fill: f32,
    ahead: usize,
) -> S::V {
    s.prefetch(p.wrapping_add(ahead).cast());
    // SAFETY: forwarded from the caller.
    unsafe { load_lanes(s, p, strip_lanes::<S, N, FULL>(n, last), fill, 0) }
}

/// Stores vector `n` of a strip of `N` at `p`, as [`load_strip`] reads it.
///
/// # Safety
/// The vector's elements at `p` writable.
#[inline(always)]
unsafe fn store_strip<S: Simd, E: Element, const N: usize, const FULL: bool>(
    s: S,
    p: *mut E,
    n: usize,
    last: usize,
    v: S::V,
) {
    // SAFETY: forwarded from the caller.
    unsafe { store_lanes(s, p, strip_lanes::<S, N, FULL>(n, last), v) }
}

/// The `N` vectors of a strip's row at `p` (vector `n` at `p + n * LANES`, as [`load_strip`]
/// reads it, `fill` past the strip's lanes), prefetching `ahead` elements on.
///
/// # Safety
/// The row's strip at `p` readable.
#[inline(always)]
unsafe fn load_row<S: Simd, E: Element, const N: usize, const FULL: bool>(
    s: S,
    p: *const E,
    last: usize,
    fill: f32,
    ahead: usize,
) -> [S::V; N] {
    let mut v = [s.splat(0.0); N];
    for (n, v) in v.iter_mut().enumerate() {
        // SAFETY: vector n of the row's strip (forwarded).
        *v = unsafe { load_strip::<S, E, N, FULL>(s, p.add(n * S::LANES), n, last, fill, ahead) };
    }
    v
}

/// `wide_k += v_k` for every lane `k`.
#[inline(always)]
fn fold<S: Simd>(s: S, wide: &mut [f64], v: S::V) {
    for (w, v) in wide.iter_mut().zip(s.lanes(v).as_ref()) {
        *w += f64::from(*v);
    }
}

/// [`raxisonline`] row by row for a tile wider than [`strip_columns`]: each vector's state in
/// arrays of `C` columns, one f32 partial per column folded into f64 after every
/// [`BLOCK_STEPS`] rows.
///
/// # Safety
/// As [`raxisonline`], for `out.len() <= C`.
#[inline(always)]
unsafe fn raxisonline_rows<S: Simd, E: Element, const C: usize>(
    s: S,
    x: *const E,
    tile: Tile,
    out: &mut [ColumnSum],
) {
    let (width, l) = (out.len(), S::LANES);
    assert!(width <= C, "tile wider than its state");
    let exp = ScaledExp::<S>::unit(s);
    let mut reference = [-f32::MAX; C];
    let mut max = [f32::NEG_INFINITY; C];
    let mut acc = [0.0f32; C];
    let mut total = [0.0f64; C];
    // SAFETY: forwarded from the caller; j < width <= C, both multiples of LANES: the state
    // has a vector at j.
    unsafe {
        walk_vectors(
            s,
            (x, tile, width),
            (std::ptr::null_mut(), Store::Cached),
            prefetch_ahead::<E>(tile, width),
            #[inline(always)]
            |at, row| {
                let Some((v, j)) = at else {
                    fold_after(s, (row, tile.rows), &mut acc, &mut total, width);
                    return None;
                };
                let (pr, pm, pa) = (
                    reference.as_mut_ptr().add(j),
                    max.as_mut_ptr().add(j),
                    acc.as_mut_ptr().add(j),
                );
                let r = s.load(pr);
                let mut d = s.sub(v, r);
                if jumps(s, d) {
                    let r = rebase(s, &exp, &mut total[j..j + l], s.load(pa), r, v);
                    s.store(pr, r);
                    s.store(pa, s.splat(0.0));
                    d = s.sub(v, r);
                }
                s.store(pm, s.max(s.load(pm), v));
                s.store(pa, add_online_term(s, d, s.load(pa)));
                None
            },
        )
    };
    write_sums(out, &max, &reference, &total);
}

/// After row `row` of `rows`: the partials of the first `width` columns folded into their
/// totals and cleared, once [`BLOCK_STEPS`] rows have added to them and at the end.
#[inline(always)]
fn fold_after<S: Simd, const C: usize>(
    s: S,
    (row, rows): (usize, usize),
    acc: &mut [f32; C],
    total: &mut [f64; C],
    width: usize,
) {
    if !(row + 1).is_multiple_of(BLOCK_STEPS) && row + 1 != rows {
        return;
    }
    assert!(width <= C, "partials wider than their state");
    let l = S::LANES;
    let mut j = 0;
    while j < width {
        // SAFETY: j < width <= C, both multiples of LANES: a vector at j.
        let a = unsafe { s.load(acc.as_ptr().add(j)) };
        fold(s, &mut total[j..j + l], a);
        j += l;
    }
    acc[..width.next_multiple_of(l)].fill(0.0);
}

/// [`raxisblockexp`] for a tile wider than [`strip_columns`], as one block: each column's max
/// row by row (at least `-f32::MAX`), then its terms against it, each vector's state in arrays
/// of `C` columns. (In blocks this walk lost: AVX-512 on Ice Lake-SP, 256 columns, 1.6-1.9x
/// the contiguous rows at 256K elements against 1.3-1.5x as one block.)
///
/// # Safety
/// As [`raxisblockexp`], for `out.len() <= C` and `refs` holding `out.len()` values.
#[inline(always)]
unsafe fn blockexp_rows<S: Simd, E: Element, const C: usize>(
    s: S,
    (x, y): (*const E, *mut E),
    tile: Tile,
    refs: &mut [f32],
    out: &mut [ColumnSum],
) {
    let (width, exp) = (out.len(), ScaledExp::<S>::unit(s));
    assert!(width <= C, "tile wider than its state");
    let ahead = prefetch_ahead::<E>(tile, width);
    let mut max = [-f32::MAX; C];
    // SAFETY: forwarded from the caller; a vector of state at j (as in `raxisonline_rows`).
    unsafe {
        walk_vectors(
            s,
            (x, tile, width),
            (std::ptr::null_mut(), Store::Cached),
            ahead,
            #[inline(always)]
            |at, _| {
                if let Some((v, j)) = at {
                    let pm = max.as_mut_ptr().add(j);
                    s.store(pm, s.max(s.load(pm), v));
                }
                None
            },
        )
    };
    let (mut acc, mut total) = ([0.0f32; C], [0.0f64; C]);
    // SAFETY: as above, y spanning what x does.
    unsafe {
        walk_vectors(
            s,
            (x, tile, width),
            (y, Store::Cached),
            ahead,
            #[inline(always)]
            |at, row| {
                let Some((v, j)) = at else {
                    fold_after(s, (row, tile.rows), &mut acc, &mut total, width);
                    return None;
                };
                let t = exp_term::<S, E>(s, &exp, s.sub(v, s.load(max.as_ptr().add(j))));
                let pa = acc.as_mut_ptr().add(j);
                s.store(pa, s.add(s.load(pa), t));
                Some(t)
            },
        )
    };
    refs[..width].copy_from_slice(&max[..width]);
    write_sums(out, &max, &max, &total);
}

/// `exp(d)` as [`raxisblockexp`] stores it: 0 below `2^-126 (1 + 2^-10)`, the coarse exp for
/// half outputs.
#[inline(always)]
fn exp_term<S: Simd, E: Element>(s: S, exp: &ScaledExp<S>, d: S::V) -> S::V {
    if E::COARSE_EXP {
        exp.at::<true, true, true>(s, d)
    } else {
        exp.at::<true, false, true>(s, d)
    }
}

/// [`map`] row by row for a tile wider than [`strip_columns`], storing as `store` says.
///
/// # Safety
/// As [`map`].
#[inline(always)]
unsafe fn map_rows<S: Simd, E: Element, F: ColumnMap<S>>(
    s: S,
    f: &F,
    (x, y): (*const E, *mut E),
    (tile, width, ahead): (Tile, usize, usize),
    store: Store,
) {
    // SAFETY: forwarded from the caller; y spans what x does; `params` at a multiple of LANES
    // below width, at most `f`'s columns of state (the caller's).
    unsafe {
        walk_vectors(
            s,
            (x, tile, width),
            (y, store),
            ahead,
            #[inline(always)]
            |at, _| {
                let (v, j) = at?;
                Some(f.apply(s, v, f.params(s, j)))
            },
        )
    }
}

/// Walks a tile of `width` columns row by row, a vector of columns at a time:
/// `step(Some((v, j)), row)` for the vector `v` of columns from `j` (lanes past the tile's
/// edge `-inf`), storing what it returns, `Some(out)`, at the same place in `y`; then
/// `step(None, row)` at the row's end. With non-temporal stores, where every row of `y` starts
/// on a vector boundary, whole vectors stream past the cache (no read for ownership: a tile out
/// of cache reads `x` twice and so writes `y` once), then a fence. Not where rows start
/// between boundaries: a line a row shares with its neighbour's would take cached and
/// streaming stores, and stores realigned per row ran slower than cached ones (Zen 4,
/// AVX-512, 16M elements, 4096 columns: 0.55-0.57 elements/ns against 0.65-0.74). Prefetches
/// `ahead` elements on ([`prefetch_ahead`]; 0: none), in `y` too when its stores go through
/// the cache.
///
/// # Safety
/// `x..x + tile.span(width)` readable, and `y..y + tile.span(width)` writable if `step`
/// returns a value.
#[inline(always)]
unsafe fn walk_vectors<S: Simd, E: Element>(
    s: S,
    (x, tile, width): (*const E, Tile, usize),
    (y, store): (*mut E, Store),
    ahead: usize,
    mut step: impl FnMut(Option<(S::V, usize)>, usize) -> Option<S::V>,
) {
    let l = S::LANES;
    let vector = l * size_of::<E>();
    let nt = store == Store::NonTemporal
        && l > 1
        && (y as usize).is_multiple_of(vector)
        && (tile.stride * size_of::<E>()).is_multiple_of(vector);
    for row in 0..tile.rows {
        let mut j = 0;
        while j < width {
            let len = (width - j).min(l);
            let i = row * tile.stride + j;
            // SAFETY: row < rows and j + len <= width: inside the tile's span.
            let v = unsafe { load_lanes(s, x.add(i), len, DEAD_LANES, ahead) };
            if let Some(out) = step(Some((v, j)), row) {
                // SAFETY: as above, for y (the caller's); with `nt`, y + i is aligned to the
                // vector's bytes (row and j are).
                unsafe {
                    if nt && len == l {
                        E::stream(s, y.add(i), out)
                    } else {
                        if ahead > 0 && !nt {
                            s.prefetch(y.wrapping_add(i + ahead).cast());
                        }
                        store_lanes(s, y.add(i), len, out)
                    }
                };
            }
            j += l;
        }
        step(None, row);
    }
    if nt {
        s.fence();
    }
}

/// `y = x * c_j` down each column `j`, 0 where `|x| < least_j`: every product kept is normal
/// ([`vaxisblockscale`] puts `least_j` where `|x * c_j| >= 2^-126` follows).
struct Scale<const C: usize> {
    c: [f32; C],
    least: [f32; C],
}

impl<S: Simd, const C: usize> ColumnMap<S> for Scale<C> {
    type Params = (S::V, S::V);
    #[inline(always)]
    unsafe fn params(&self, s: S, j: usize) -> Self::Params {
        // SAFETY: j < C, both multiples of LANES (forwarded).
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

/// Softmax's first pass down the columns of a tile, `block` rows at a time (each block read once
/// from memory and again from L1; [`vaxisblockscale`] is the second; a tile wider than
/// [`strip_columns`] is one block: [`axis_block`]): per column `j`, its
/// reference `r_b` after block `b` is the max of its rows so far (`-f32::MAX` before any
/// finite one), `y = exp(x - r_b)` over block `b`'s rows (0 below `2^-126 (1 + 2^-10)`; the
/// coarse exp for half outputs), `refs[b * width + j] = r_b`, and `out[j]` the column's last
/// reference (`max` and `reference`) and its terms brought to it (`sum`; each move rescales
/// the f64 total exactly: [`rebase`]). `width = out.len()`. A NaN or `+inf` makes the sum NaN,
/// an all `-inf` column leaves it 0 (its reference `-f32::MAX`; `-inf` with no rows).
///
/// # Safety
/// `x..x + span` readable and `y..y + span` writable (`y` may equal `x`), `span` the tile's for
/// `width` columns; `refs` holds `tile.rows.div_ceil(block) * width` values, `block > 0`.
#[inline(always)]
pub(crate) unsafe fn raxisblockexp<S: Simd, E: Element>(
    s: S,
    (x, y): (*const E, *mut E),
    tile: Tile,
    block: usize,
    refs: &mut [f32],
    out: &mut [ColumnSum],
) {
    struct BlockExp<S: Simd, E> {
        s: S,
        xy: (*const E, *mut E),
        tile: Tile,
        block: usize,
        width: usize,
        ahead: usize,
        refs: *mut f32,
        last: [f32; NARROW_TILE],
        total: [f64; NARROW_TILE],
    }
    impl<S: Simd, E: Element> StripPass for BlockExp<S, E> {
        #[inline(always)]
        unsafe fn strip<const N: usize, const FULL: bool>(&mut self, at: Strip) {
            let (s, l, exp) = (self.s, S::LANES, ScaledExp::<S>::unit(self.s));
            let ((x, y), tile, ahead, width) = (self.xy, self.tile, self.ahead, self.width);
            let total = &mut self.total;
            // The running max (each block's reference), and the sums' (moved as the online
            // pass's, when the max reaches ONLINE_JUMP above it: `jumps`), each block's
            // partials scaled by `exp(r - sr) >= 1` into the totals.
            let mut r = [s.splat(-f32::MAX); N];
            let mut sr = r;
            let mut gain = [s.splat(1.0); N];
            let mut acc = [[s.splat(0.0); 4]; N];
            let (mut start, mut b) = (0, 0);
            while start < tile.rows {
                let rows = self.block.min(tile.rows - start);
                let first = start * tile.stride + at.j;
                let mut m = [[s.splat(f32::NEG_INFINITY); 4]; N];
                walk_rows::<N>(
                    rows,
                    #[inline(always)]
                    |row, slot| {
                        let Some(row) = row else { return };
                        for (n, m) in m.iter_mut().enumerate() {
                            // SAFETY: row in the tile, vector n of the strip (forwarded).
                            let v = unsafe {
                                let p = x.add(first + row * tile.stride + n * l);
                                load_strip::<S, E, N, FULL>(
                                    s,
                                    p,
                                    n,
                                    at.last,
                                    f32::NEG_INFINITY,
                                    ahead,
                                )
                            };
                            m[acc_slot::<N>(slot)] = s.max(m[acc_slot::<N>(slot)], v);
                        }
                    },
                );
                for (n, [m0, m1, m2, m3]) in m.into_iter().enumerate() {
                    // A NaN in the column reaches the sum through its own term, whatever r.
                    r[n] = s.max(r[n], s.max(s.max(m0, m1), s.max(m2, m3)));
                    let mut d = s.sub(r[n], sr[n]);
                    if jumps(s, d) {
                        let wide = &mut total[at.j + n * l..at.j + (n + 1) * l];
                        sr[n] = rebase(s, &exp, wide, s.splat(0.0), sr[n], r[n]);
                        d = s.sub(r[n], sr[n]);
                    }
                    gain[n] = exp.at::<false, false, false>(s, d);
                    // SAFETY: block b's row of refs holds the strip's columns (forwarded).
                    unsafe {
                        let p = self.refs.add(b * width + at.j + n * l);
                        store_strip::<S, f32, N, FULL>(s, p, n, at.last, r[n]);
                    }
                }
                // Loads ahead of the stores: in place, a row's masked store would hold up the
                // next row's load.
                walk_rows_loaded::<N, _>(
                    rows,
                    #[inline(always)]
                    |row| {
                        let p = x.wrapping_add(first + row * tile.stride);
                        // SAFETY: as above (the block's rows from L1; the prefetch is for the
                        // next block's max).
                        unsafe {
                            load_row::<S, E, N, FULL>(s, p, at.last, f32::NEG_INFINITY, ahead)
                        }
                    },
                    #[inline(always)]
                    |loaded, slot| {
                        for n in 0..N {
                            let Some((row, v)) = loaded else {
                                let a = std::mem::replace(&mut acc[n], [s.splat(0.0); 4]);
                                let wide = &mut total[at.j + n * l..at.j + (n + 1) * l];
                                fold(s, wide, s.mul(sum4(s, a), gain[n]));
                                continue;
                            };
                            let i = first + row * tile.stride + n * l;
                            let t = exp_term::<S, E>(s, &exp, s.sub(v[n], r[n]));
                            // SAFETY: as above, for y.
                            unsafe { store_strip::<S, E, N, FULL>(s, y.add(i), n, at.last, t) };
                            let k = acc_slot::<N>(slot);
                            acc[n][k] = s.add(acc[n][k], t);
                        }
                    },
                );
                start += rows;
                b += 1;
            }
            for n in 0..N {
                let wide = &mut total[at.j + n * l..at.j + (n + 1) * l];
                to_last(s, &exp, wide, sr[n], r[n]);
                // SAFETY: the strip's vectors lie inside the state (`Strip`).
                unsafe { s.store(self.last.as_mut_ptr().add(at.j + n * l), r[n]) };
            }
        }
    }
    let (width, block) = (out.len(), axis_block::<S>(tile, out.len(), block));
    if tile.rows == 0 {
        // No rows: every sum empty, against -inf.
        out.fill(ColumnSum {
            max: f32::NEG_INFINITY,
            reference: f32::NEG_INFINITY,
            sum: 0.0,
            ln_sum: f64::NEG_INFINITY,
        });
        return;
    }
    assert!(
        refs.len() >= tile.rows.div_ceil(block) * width,
        "references beyond their slice"
    );
    if width > strip_columns::<S>() {
        // SAFETY: forwarded from the caller; one block, one row of refs.
        return with_state!(width, C => unsafe {
            blockexp_rows::<S, E, C>(s, (x, y), tile, &mut refs[..width], out)
        });
    }
    let mut pass = BlockExp {
        s,
        xy: (x, y),
        tile,
        block,
        width,
        ahead: prefetch_ahead::<E>(tile, width),
        refs: refs.as_mut_ptr(),
        last: [0.0; NARROW_TILE],
        total: [0.0; NARROW_TILE],
    };
    // SAFETY: forwarded from the caller.
    unsafe { for_strips::<S, _>(&mut pass, width) };
    write_sums(out, &pass.last, &pass.last, &pass.total);
}

/// The rows per block [`raxisblockexp`] and [`vaxisblockscale`] take for `block`: `block`
/// (more than 0) for a tile walked in strips, the whole tile (at least 1) for a wider one.
///
/// # Panics
/// When `block` is 0.
fn axis_block<S: Simd>(tile: Tile, width: usize, block: usize) -> usize {
    assert!(block > 0, "blocks of no rows");
    if width > strip_columns::<S>() {
        tile.rows.max(1)
    } else {
        block
    }
}

/// Brings the lanes' totals from the sums' reference `sr` to the running max `r` (at most
/// [`ONLINE_JUMP`](crate::ops::ONLINE_JUMP) above it): `wide_k *= exp(sr_k - r_k)`, a factor
/// of at least `e^-16`.
#[inline(always)]
fn to_last<S: Simd>(s: S, exp: &ScaledExp<S>, wide: &mut [f64], sr: S::V, r: S::V) {
    let f = s.lanes(exp.at::<false, false, false>(s, s.sub(sr, r)));
    for (w, f) in wide.iter_mut().zip(f.as_ref()) {
        *w *= f64::from(*f);
    }
}

/// Softmax's second pass after [`raxisblockexp`], in place: `y *= c_j * exp(r_b - m_j)` down
/// each column `j` over block `b`'s rows, for `params[j] = (m_j, c_j)` (the column's last
/// reference and `1 / sum`, `0 < c_j <= 2`), `r_b = refs[b * width + j]`; 0 where the factor
/// is below `2^-126 (1 + 2^-10)` and where the product is below `2^-126`, and it may be 0 below
/// `2^-124 (1 + 2^-10)` (4.8e-38: outputs below 1e-37 may be 0, docs/accuracy.md); NaN where
/// `m_j` is NaN. The references and the tables of both passes must be the same ISA's.
///
/// # Safety
/// `y..y + span` readable and writable, `span` the tile's for `width = params.len()` columns;
/// `refs` as [`raxisblockexp`] wrote it for the same tile and `block` (whose rows per block
/// this takes the same way: [`axis_block`]).
#[inline(always)]
pub(crate) unsafe fn vaxisblockscale<S: Simd, E: Element>(
    s: S,
    y: *mut E,
    tile: Tile,
    block: usize,
    refs: &[f32],
    params: &[(f32, f32)],
) {
    let (width, l) = (params.len(), S::LANES);
    let (block, ahead) = (
        axis_block::<S>(tile, width, block),
        prefetch_ahead::<E>(tile, width),
    );
    assert!(
        refs.len() >= tile.rows.div_ceil(block) * width,
        "references beyond their slice"
    );
    with_state!(width, C => {
        let columns = ScaledColumns::<C>::of(params);
        let mut scale = Scale::<C> {
            c: [0.0; C],
            least: [f32::INFINITY; C],
        };
        let (mut start, mut b) = (0, 0);
        while start < tile.rows {
            let rows = block.min(tile.rows - start);
            let mut j = 0;
            while j < width {
                // SAFETY: j < width <= C, both multiples of LANES: a vector of state at j;
                // block b's row of refs holds columns j..j + len (forwarded).
                unsafe {
                    let len = (width - j).min(l);
                    let r = load_lanes::<S, f32>(s, refs.as_ptr().add(b * width + j), len, 0.0, 0);
                    let [lj, mj, ej, fj] = columns.at(s, j);
                    // f = (m p) 2^k with m p about [1/2, 2) (down to 1/2 - 9e-7: the exp's
                    // error): |y| >= 2^(-125 - k) (1 + 2^-10) keeps y f normal, and below it
                    // y f < 2^-124 (1 + 2^-10). A flushed factor's k is at most the cutoff's
                    // (about -126): the bound, clamped near 2^127, keeps no y.
                    let (f, k) = s.exp_scaled::<false, false, true, false>(s.sub(r, lj), ej, mj, fj);
                    let n = s.min(s.splat(128.0), s.sub(s.splat(-124.0), k));
                    let least = s.mul_pow2_flush(s.splat((1.0 + FLUSH_MARGIN) as f32), n);
                    // A NaN factor (a special column) keeps every lane: y * NaN.
                    let least = s.select(s.lt(s.splat(-1.0), f), least, f);
                    s.store(scale.c.as_mut_ptr().add(j), f);
                    s.store(scale.least.as_mut_ptr().add(j), least);
                }
                j += l;
            }
            let sub = Tile {
                rows,
                stride: tile.stride,
            };
            // SAFETY: forwarded from the caller (the block's rows lie in the tile); C >= the
            // width (`with_state!`).
            unsafe {
                let p = y.add(start * tile.stride);
                map(s, &scale, (p.cast_const(), p), (sub, width, ahead), Store::Cached);
            }
            start += rows;
            b += 1;
        }
    })
}

/// Per column a reference `r_j` and a factor `c_j = m_j * 2^-e_j` split as [`ScaledExp`] does,
/// with the flush point for `m_j` and `e_j`: the arguments of [`Simd::exp_scaled`] for
/// `c_j * exp(x - r_j)`, from `params[j] = (r_j, c_j)`.
struct ScaledColumns<const C: usize> {
    r: [f32; C],
    m: [f32; C],
    e: [f32; C],
    cutoff: [f32; C],
}

impl<const C: usize> ScaledColumns<C> {
    /// The columns of `params` (at most `C`).
    #[inline(always)]
    fn of(params: &[(f32, f32)]) -> Self {
        let mut c = ScaledColumns {
            r: [0.0; C],
            m: [1.0; C],
            e: [0.0; C],
            cutoff: [0.0; C],
        };
        for (j, &(r, scale)) in params.iter().enumerate() {
            let (m, k) = split_pow2(scale);
            (c.r[j], c.m[j], c.e[j], c.cutoff[j]) = (r, m, -k as f32, cutoff(m, -k));
        }
        c
    }

    /// `[r, m, e, cutoff]` of the vector of columns from `j`.
    ///
    /// # Safety
    /// `j` a multiple of `LANES` below `C` (a multiple of `LANES`).
    #[inline(always)]
    unsafe fn at<S: Simd>(&self, s: S, j: usize) -> [S::V; 4] {
        [&self.r, &self.m, &self.e, &self.cutoff].map(
            #[inline(always)]
            // SAFETY: forwarded from the caller.
            |a| unsafe { s.load(a.as_ptr().add(j)) },
        )
    }
}

/// A per-column element-wise map down a tile.
trait ColumnMap<S: Simd> {
    /// What `apply` needs of a vector of columns.
    type Params: Copy;
    /// The parameters of the vector of columns from `j`.
    ///
    /// # Safety
    /// `j` a multiple of `LANES` below the state's columns (itself a multiple of `LANES`).
    unsafe fn params(&self, s: S, j: usize) -> Self::Params;
    /// The output for `x` in the columns of `params`.
    fn apply(&self, s: S, x: S::V, params: Self::Params) -> S::V;
}

/// Writes `y = f(x)` over the tile of `width` columns, strip by strip ([`for_strips`]), each
/// strip's parameters in registers, prefetching `ahead` elements on ([`prefetch_ahead`]; 0:
/// none); row by row past [`strip_columns`] columns, there with the stores `store` says (a
/// strip's rows are too short to stream).
///
/// # Safety
/// `x..x + span` readable and `y..y + span` writable (`y` may equal `x`), `span` the tile's for
/// `width` columns, and `width` at most `f`'s columns of state ([`ColumnMap::params`]).
#[inline(always)]
unsafe fn map<S: Simd, E: Element, F: ColumnMap<S>>(
    s: S,
    f: &F,
    (x, y): (*const E, *mut E),
    (tile, width, ahead): (Tile, usize, usize),
    store: Store,
) {
    struct Map<'a, S, E, F> {
        s: S,
        f: &'a F,
        xy: (*const E, *mut E),
        tile: Tile,
        ahead: usize,
    }
    impl<S: Simd, E: Element, F: ColumnMap<S>> StripPass for Map<'_, S, E, F> {
        #[inline(always)]
        unsafe fn strip<const N: usize, const FULL: bool>(&mut self, at: Strip) {
            let (s, f, l) = (self.s, self.f, S::LANES);
            let ((x, y), tile, ahead) = (self.xy, self.tile, self.ahead);
            let params = std::array::from_fn::<_, N, _>(
                #[inline(always)]
                // SAFETY: the strip's vectors lie inside the state (`Strip`).
                |n| unsafe { f.params(s, at.j + n * l) },
            );
            if !FULL {
                walk_rows_loaded::<N, _>(
                    tile.rows,
                    #[inline(always)]
                    |row| {
                        let i = row * tile.stride + at.j;
                        for n in 0..N {
                            s.prefetch(y.wrapping_add(i + n * l + ahead).cast());
                        }
                        // SAFETY: row in the tile, the strip's vectors (forwarded).
                        unsafe {
                            load_row::<S, E, N, FULL>(s, x.add(i), at.last, DEAD_LANES, ahead)
                        }
                    },
                    #[inline(always)]
                    |loaded, _| {
                        let Some((row, v)) = loaded else { return };
                        for (n, (&v, &p)) in v.iter().zip(&params).enumerate() {
                            let i = row * tile.stride + at.j + n * l;
                            // SAFETY: as above, for y.
                            unsafe {
                                store_strip::<S, E, N, FULL>(
                                    s,
                                    y.add(i),
                                    n,
                                    at.last,
                                    f.apply(s, v, p),
                                )
                            };
                        }
                    },
                );
                return;
            }
            walk_rows::<N>(
                tile.rows,
                #[inline(always)]
                |row, _| {
                    let Some(row) = row else { return };
                    for (n, &p) in params.iter().enumerate() {
                        let i = row * tile.stride + at.j + n * l;
                        s.prefetch(y.wrapping_add(i + ahead).cast());
                        // SAFETY: row in the tile, vector n of the strip (forwarded).
                        unsafe {
                            let v = load_strip::<S, E, N, FULL>(
                                s,
                                x.add(i),
                                n,
                                at.last,
                                DEAD_LANES,
                                ahead,
                            );
                            store_strip::<S, E, N, FULL>(s, y.add(i), n, at.last, f.apply(s, v, p));
                        }
                    }
                },
            );
        }
    }
    if width > strip_columns::<S>() {
        // SAFETY: forwarded from the caller.
        return unsafe { map_rows(s, f, (x, y), (tile, width, ahead), store) };
    }
    let mut pass = Map {
        s,
        f,
        xy: (x, y),
        tile,
        ahead,
    };
    // SAFETY: forwarded from the caller.
    unsafe { for_strips::<S, _>(&mut pass, width) }
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
    store: Store,
) {
    /// [`ScaledColumns`] as a map, with the coarse exp where `COARSE`.
    struct Columns<const COARSE: bool, const C: usize>(ScaledColumns<C>);
    impl<S: Simd, const COARSE: bool, const C: usize> ColumnMap<S> for Columns<COARSE, C> {
        type Params = [S::V; 4];
        #[inline(always)]
        unsafe fn params(&self, s: S, j: usize) -> Self::Params {
            // SAFETY: forwarded.
            unsafe { self.0.at(s, j) }
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
    let (width, ahead) = (params.len(), prefetch_ahead::<E>(tile, params.len()));
    with_state!(width, C => {
        // SAFETY: forwarded from the caller; C >= the width (`with_state!`).
        unsafe {
            if E::COARSE_EXP {
                let columns = Columns::<true, C>(ScaledColumns::of(params));
                map(s, &columns, (x, y), (tile, width, ahead), store)
            } else {
                let columns = Columns::<false, C>(ScaledColumns::of(params));
                map(s, &columns, (x, y), (tile, width, ahead), store)
            }
        }
    })
}

/// `y = (x - a_j) - b_j` down each column `j`, for `params[j] = (a_j, b_j)` (a column's
/// log-softmax: its max and the log of its sum around it).
///
/// # Safety
/// As [`vaxisscaleexp`].
#[inline(always)]
pub(crate) unsafe fn vaxissubtract<S: Simd, E: Element>(
    s: S,
    (x, y): (*const E, *mut E),
    tile: Tile,
    params: &[(f32, f32)],
    store: Store,
) {
    struct Columns<const C: usize> {
        a: [f32; C],
        b: [f32; C],
    }
    impl<S: Simd, const C: usize> ColumnMap<S> for Columns<C> {
        type Params = (S::V, S::V);
        #[inline(always)]
        unsafe fn params(&self, s: S, j: usize) -> Self::Params {
            // SAFETY: j < C, both multiples of LANES (forwarded).
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
    with_state!(params.len(), C => {
        let mut c = Columns::<C> {
            a: [0.0; C],
            b: [0.0; C],
        };
        for (j, &(a, b)) in params.iter().enumerate() {
            c.a[j] = a;
            c.b[j] = b;
        }
        let ahead = prefetch_ahead::<E>(tile, params.len());
        // SAFETY: forwarded from the caller; C >= the width (`with_state!`).
        unsafe { map(s, &c, (x, y), (tile, params.len(), ahead), store) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_is_the_last_rows_end() {
        let tile = Tile {
            rows: 3,
            stride: 10,
        };
        assert_eq!(tile.span(4), 24);
        assert_eq!(Tile { rows: 1, stride: 0 }.span(7), 7);
        assert_eq!(Tile { rows: 0, stride: 0 }.span(7), 0);
    }

    /// A span past `usize` would wrap to a small one, and a kernel would read past it.
    #[test]
    #[should_panic(expected = "overflows")]
    fn an_overflowing_span_panics() {
        let tile = Tile {
            rows: (1 << 32) + 1,
            stride: 1 << 32,
        };
        tile.span(1);
    }
}
