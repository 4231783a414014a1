//! Softmax along a strided axis: a [`Tile`] of `rows` rows of `width <= AXIS_TILE` adjacent
//! columns, `stride` elements apart, each column one row of the operation (the axis of an
//! `(outer, len, inner)` tensor, `stride = inner`). A vector's lanes are adjacent columns, so the
//! reductions run down the columns with no horizontal step and no gather: the online pass of
//! [`crate::ops`] per lane, then one output pass (or three-pass reload). A pass walks a tile of
//! up to [`strip_columns`] columns a strip of vectors at a time, the strip's state in
//! registers, and a wider tile row by row.

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
/// exceeds it by more than [`ONLINE_JUMP`]), strip by strip ([`for_strips`]; row by row for
/// tiles wider than [`strip_columns`]), f32 partials taking turns over the rows ([`acc_slot`])
/// folded into the f64 totals before any adds more than [`BLOCK_STEPS`] terms.
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
            let mut r_jump = [s.add(r[0], s.splat(ONLINE_JUMP)); N];
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
                        if s.any(s.lt(r_jump[n], v)) {
                            r[n] = rebase(s, &exp, wide, sum4(s, acc[n]), r[n], v);
                            acc[n] = [s.splat(0.0); 4];
                            r_jump[n] = s.add(r[n], s.splat(ONLINE_JUMP));
                        }
                        m[n] = s.max(m[n], v);
                        let term = exp.at::<false, false, false>(s, s.sub(v, r[n]));
                        let k = acc_slot::<N>(slot);
                        acc[n][k] = s.add(acc[n][k], term);
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
    for (j, o) in out.iter_mut().enumerate() {
        *o = ColumnSum {
            max: pass.max[j],
            reference: pass.reference[j],
            sum: pass.total[j],
        };
    }
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

/// Runs `pass` over its tile of `width <= strip_columns::<S>()` columns: one
/// strip of [`strip_vectors`] vectors, or two for a width between (two vectors, then one; the
/// last possibly part of a vector), each walking every row. In registers a strip's state costs
/// nothing per row; in memory each row's update would wait for the last one's store (on Ice
/// Lake-SP, tiles of 64 columns with AVX-512 ran 1.16-1.25x the contiguous rows at 1M elements
/// so, against 1.70-1.83x).
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
/// 1.31-1.52x and 1.18-1.31x).
const fn strip_columns<S: Simd>() -> usize {
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
    let mut row = 0;
    while row + 4 <= rows {
        step(Some(row), 0);
        step(Some(row + 1), 1);
        step(Some(row + 2), 2);
        step(Some(row + 3), 3);
        row += 4;
        if row.is_multiple_of(fold_rows::<N>()) && row < rows {
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

/// `wide_k += v_k` for every lane `k`.
#[inline(always)]
fn fold<S: Simd>(s: S, wide: &mut [f64], v: S::V) {
    for (w, v) in wide.iter_mut().zip(s.lanes(v).as_ref()) {
        *w += f64::from(*v);
    }
}

/// Each column's max into `out` (`out.len()` columns; `-inf` for no rows; a NaN may or may not
/// win), strip by strip (row by row past [`strip_columns`] columns), maxima taking turns over the
/// rows as the accumulators do ([`acc_slot`]).
///
/// # Safety
/// `x..x + tile.span(out.len())` readable.
#[inline(always)]
pub(crate) unsafe fn raxismax<S: Simd, E: Element>(s: S, x: *const E, tile: Tile, out: &mut [f32]) {
    struct Max<S: Simd, E> {
        s: S,
        x: *const E,
        tile: Tile,
        ahead: usize,
        max: [f32; NARROW_TILE],
    }
    impl<S: Simd, E: Element> StripPass for Max<S, E> {
        #[inline(always)]
        unsafe fn strip<const N: usize, const FULL: bool>(&mut self, at: Strip) {
            let (s, l) = (self.s, S::LANES);
            let (x, tile, ahead) = (self.x, self.tile, self.ahead);
            let mut m = [[s.splat(f32::NEG_INFINITY); 4]; N];
            walk_rows::<N>(
                tile.rows,
                #[inline(always)]
                |row, slot| {
                    let Some(row) = row else { return };
                    for (n, m) in m.iter_mut().enumerate() {
                        // SAFETY: row in the tile, vector n of the strip (forwarded).
                        let v = unsafe {
                            let p = x.add(row * tile.stride + at.j + n * l);
                            load_strip::<S, E, N, FULL>(s, p, n, at.last, f32::NEG_INFINITY, ahead)
                        };
                        m[acc_slot::<N>(slot)] = s.max(m[acc_slot::<N>(slot)], v);
                    }
                },
            );
            for (n, [a, b, c, d]) in m.into_iter().enumerate() {
                // SAFETY: the strip's vectors lie inside the state (`Strip`).
                unsafe {
                    let p = self.max.as_mut_ptr().add(at.j + n * l);
                    s.store(p, s.max(s.max(a, b), s.max(c, d)));
                }
            }
        }
    }
    if out.len() > strip_columns::<S>() {
        // SAFETY: forwarded from the caller.
        return with_state!(out.len(), C => unsafe { raxismax_rows::<S, E, C>(s, x, tile, out) });
    }
    let mut pass = Max {
        s,
        x,
        tile,
        ahead: prefetch_ahead::<E>(tile, out.len()),
        max: [0.0; NARROW_TILE],
    };
    // SAFETY: forwarded from the caller.
    unsafe { for_strips::<S, _>(&mut pass, out.len()) };
    out.copy_from_slice(&pass.max[..out.len()]);
}

/// `y = exp(x - m_j)` down each column `j` for finite `max[j] = m_j` at least the column's max
/// (0 below `2^-126 (1 + 2^-10)`; the short reduction, and the coarse exp for half outputs, as
/// [`crate::ops::raddstoreexpminusmax`]), and each column's sum of the terms into `sums`, strip
/// by strip (row by row past [`strip_columns`] columns), in f32 partials of at most
/// [`BLOCK_STEPS`] terms folded into f64.
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
    struct StoreExp<S: Simd, E> {
        s: S,
        xy: (*const E, *mut E),
        tile: Tile,
        ahead: usize,
        m: [f32; NARROW_TILE],
        total: [f64; NARROW_TILE],
    }
    impl<S: Simd, E: Element> StripPass for StoreExp<S, E> {
        #[inline(always)]
        unsafe fn strip<const N: usize, const FULL: bool>(&mut self, at: Strip) {
            let (s, l, exp) = (self.s, S::LANES, ScaledExp::<S>::unit(self.s));
            let ((x, y), tile, ahead) = (self.xy, self.tile, self.ahead);
            // SAFETY: the strip's vectors lie inside the state.
            let m = std::array::from_fn::<_, N, _>(
                #[inline(always)]
                |n| unsafe { s.load(self.m.as_ptr().add(at.j + n * l)) },
            );
            let mut acc = [[s.splat(0.0); 4]; N];
            let total = &mut self.total;
            walk_rows::<N>(
                tile.rows,
                #[inline(always)]
                |row, slot| {
                    for n in 0..N {
                        let Some(row) = row else {
                            let a = std::mem::replace(&mut acc[n], [s.splat(0.0); 4]);
                            fold(s, &mut total[at.j + n * l..at.j + (n + 1) * l], sum4(s, a));
                            continue;
                        };
                        let i = row * tile.stride + at.j + n * l;
                        // SAFETY: row in the tile, vector n of the strip (forwarded).
                        let v = unsafe {
                            load_strip::<S, E, N, FULL>(
                                s,
                                x.add(i),
                                n,
                                at.last,
                                f32::NEG_INFINITY,
                                ahead,
                            )
                        };
                        let t = exp_term::<S, E>(s, &exp, s.sub(v, m[n]));
                        // SAFETY: as above, for y.
                        unsafe { store_strip::<S, E, N, FULL>(s, y.add(i), n, at.last, t) };
                        let k = acc_slot::<N>(slot);
                        acc[n][k] = s.add(acc[n][k], t);
                    }
                },
            );
        }
    }
    let width = max.len();
    if width > strip_columns::<S>() {
        // SAFETY: forwarded from the caller.
        return with_state!(width, C => unsafe {
            storeexp_rows::<S, E, C>(s, (x, y), tile, max, sums)
        });
    }
    let mut pass = StoreExp {
        s,
        xy: (x, y),
        tile,
        ahead: prefetch_ahead::<E>(tile, width),
        m: [0.0; NARROW_TILE],
        total: [0.0; NARROW_TILE],
    };
    pass.m[..width].copy_from_slice(max);
    // SAFETY: forwarded from the caller.
    unsafe { for_strips::<S, _>(&mut pass, width) };
    sums.copy_from_slice(&pass.total[..width]);
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
                let mut r = s.load(pr);
                if s.any(s.lt(s.add(r, s.splat(ONLINE_JUMP)), v)) {
                    r = rebase(s, &exp, &mut total[j..j + l], s.load(pa), r, v);
                    s.store(pr, r);
                    s.store(pa, s.splat(0.0));
                }
                s.store(pm, s.max(s.load(pm), v));
                let term = exp.at::<false, false, false>(s, s.sub(v, r));
                s.store(pa, s.add(s.load(pa), term));
                None
            },
        )
    };
    for (j, o) in out.iter_mut().enumerate() {
        *o = ColumnSum {
            max: max[j],
            reference: reference[j],
            sum: total[j],
        };
    }
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

/// [`raxismax`] row by row for a tile wider than [`strip_columns`].
///
/// # Safety
/// As [`raxismax`], for `out.len() <= C`.
#[inline(always)]
unsafe fn raxismax_rows<S: Simd, E: Element, const C: usize>(
    s: S,
    x: *const E,
    tile: Tile,
    out: &mut [f32],
) {
    let width = out.len();
    assert!(width <= C, "tile wider than its state");
    let mut max = [f32::NEG_INFINITY; C];
    // SAFETY: forwarded from the caller; a vector of state at j (as in `raxisonline_rows`).
    unsafe {
        walk_vectors(
            s,
            (x, tile, width),
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
    out.copy_from_slice(&max[..width]);
}

/// [`raxisstoreexp`] row by row for a tile wider than [`strip_columns`].
///
/// # Safety
/// As [`raxisstoreexp`], for `max.len() <= C`.
#[inline(always)]
unsafe fn storeexp_rows<S: Simd, E: Element, const C: usize>(
    s: S,
    (x, y): (*const E, *mut E),
    tile: Tile,
    max: &[f32],
    sums: &mut [f64],
) {
    let (width, exp) = (max.len(), ScaledExp::<S>::unit(s));
    let (mut m, mut acc, mut total) = ([0.0f32; C], [0.0f32; C], [0.0f64; C]);
    m[..width].copy_from_slice(max);
    // SAFETY: forwarded from the caller, y spanning what x does; a vector of state at j (as in
    // `raxisonline_rows`).
    unsafe {
        walk_vectors(
            s,
            (x, tile, width),
            #[inline(always)]
            |at, row| {
                let Some((v, j)) = at else {
                    fold_after(s, (row, tile.rows), &mut acc, &mut total, width);
                    return None;
                };
                let t = exp_term::<S, E>(s, &exp, s.sub(v, s.load(m.as_ptr().add(j))));
                let pa = acc.as_mut_ptr().add(j);
                s.store(pa, s.add(s.load(pa), t));
                Some((y, t))
            },
        )
    };
    sums.copy_from_slice(&total[..width]);
}

/// `exp(d)` as [`raxisstoreexp`] stores it: 0 below `2^-126 (1 + 2^-10)`, the coarse exp for
/// half outputs.
#[inline(always)]
fn exp_term<S: Simd, E: Element>(s: S, exp: &ScaledExp<S>, d: S::V) -> S::V {
    if E::COARSE_EXP {
        exp.at::<true, true, true>(s, d)
    } else {
        exp.at::<true, false, true>(s, d)
    }
}

/// [`map`] row by row for a tile wider than [`strip_columns`].
///
/// # Safety
/// As [`map`].
#[inline(always)]
unsafe fn map_rows<S: Simd, E: Element, F: ColumnMap<S>>(
    s: S,
    f: &F,
    (x, y): (*const E, *mut E),
    tile: Tile,
    width: usize,
) {
    // SAFETY: forwarded from the caller; y spans what x does; `params` at a multiple of LANES
    // below width, at most `f`'s columns of state (the caller's).
    unsafe {
        walk_vectors(
            s,
            (x, tile, width),
            #[inline(always)]
            |at, _| {
                let (v, j) = at?;
                Some((y, f.apply(s, v, f.params(s, j))))
            },
        )
    }
}

/// Walks a tile of `width` columns row by row, a vector of columns at a time:
/// `step(Some((v, j)), row)` for the vector `v` of columns from `j` (lanes past the tile's
/// edge `-inf`), storing what it returns, `Some((y, out))`, at the same place in `y`; then
/// `step(None, row)` at the row's end. Prefetches as [`prefetch_ahead`] says for runs of the
/// whole row (both arrays, when storing).
///
/// # Safety
/// `x..x + tile.span(width)` readable, and writable from every `y` `step` returns.
#[inline(always)]
unsafe fn walk_vectors<S: Simd, E: Element>(
    s: S,
    (x, tile, width): (*const E, Tile, usize),
    mut step: impl FnMut(Option<(S::V, usize)>, usize) -> Option<(*mut E, S::V)>,
) {
    let (l, ahead) = (S::LANES, prefetch_ahead::<E>(tile, width));
    for row in 0..tile.rows {
        let mut j = 0;
        while j < width {
            let len = (width - j).min(l);
            let i = row * tile.stride + j;
            // SAFETY: row < rows and j + len <= width: inside the tile's span.
            let v = unsafe { load_lanes(s, x.add(i), len, DEAD_LANES, ahead) };
            if let Some((y, out)) = step(Some((v, j)), row) {
                if ahead > 0 {
                    s.prefetch(y.wrapping_add(i + ahead).cast());
                }
                // SAFETY: as above, for y (the caller's).
                unsafe { store_lanes(s, y.add(i), len, out) };
            }
            j += l;
        }
        step(None, row);
    }
}

/// `y = x * c_j` down each column `j` (`scale[j] = c_j`), 0 where `|x * c_j|` (or `|x|`) is
/// below 2^-126, as [`crate::ops::vscale`].
///
/// # Safety
/// As [`vaxisscaleexp`], for `scale.len()` columns.
#[inline(always)]
pub(crate) unsafe fn vaxisscale<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    tile: Tile,
    scale: &[f32],
) {
    struct Columns<const C: usize> {
        c: [f32; C],
        least: [f32; C],
    }
    impl<S: Simd, const C: usize> ColumnMap<S> for Columns<C> {
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
    with_state!(scale.len(), C => {
        let mut c = Columns::<C> {
            c: [0.0; C],
            least: [f32::INFINITY; C],
        };
        for (j, &v) in scale.iter().enumerate() {
            c.c[j] = v;
            c.least[j] = least_normal_factor(v);
        }
        // SAFETY: forwarded from the caller; C >= the width (`with_state!`).
        unsafe { map(s, &c, (x, y), tile, scale.len()) }
    })
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
/// strip's parameters in registers (row by row past [`strip_columns`] columns).
///
/// # Safety
/// `x..x + span` readable and `y..y + span` writable (`y` may equal `x`), `span` the tile's for
/// `width` columns, and `width` at most `f`'s columns of state ([`ColumnMap::params`]).
#[inline(always)]
unsafe fn map<S: Simd, E: Element, F: ColumnMap<S>>(
    s: S,
    f: &F,
    (x, y): (*const E, *mut E),
    tile: Tile,
    width: usize,
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
        return unsafe { map_rows(s, f, (x, y), tile, width) };
    }
    let mut pass = Map {
        s,
        f,
        xy: (x, y),
        tile,
        ahead: prefetch_ahead::<E>(tile, width),
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
) {
    /// Per column: the reference, and `c = m * 2^-e` split as [`ScaledExp`] does with the
    /// flush point for `m` and `e`.
    struct Columns<const COARSE: bool, const C: usize> {
        r: [f32; C],
        m: [f32; C],
        e: [f32; C],
        cutoff: [f32; C],
    }
    impl<S: Simd, const COARSE: bool, const C: usize> ColumnMap<S> for Columns<COARSE, C> {
        type Params = [S::V; 4];
        #[inline(always)]
        unsafe fn params(&self, s: S, j: usize) -> Self::Params {
            // SAFETY: j < C, both multiples of LANES (forwarded).
            [&self.r, &self.m, &self.e, &self.cutoff].map(
                #[inline(always)]
                |a| unsafe { s.load(a.as_ptr().add(j)) },
            )
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
    fn columns<const COARSE: bool, const C: usize>(params: &[(f32, f32)]) -> Columns<COARSE, C> {
        let mut c = Columns {
            r: [0.0; C],
            m: [1.0; C],
            e: [0.0; C],
            cutoff: [0.0; C],
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
    with_state!(width, C => {
        // SAFETY: forwarded from the caller; C >= the width (`with_state!`).
        unsafe {
            if E::COARSE_EXP {
                map(s, &columns::<true, C>(params), (x, y), tile, width)
            } else {
                map(s, &columns::<false, C>(params), (x, y), tile, width)
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
        // SAFETY: forwarded from the caller; C >= the width (`with_state!`).
        unsafe { map(s, &c, (x, y), tile, params.len()) }
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
