//! Sampling's kernels: the row's max (and where it first occurs); each block's max alone (NaN
//! where the block holds a NaN or `+inf`); each block's max and the sum of its masses
//! `w_i = exp((x_i - m) / T)` against it (elements below a floor weigh 0), in one read; the
//! masses of a slice. The same bits on every ISA; plus the draws' uniforms from Philox4x32-10.
//!
//! An exact draw is an inverse-CDF lookup in two levels: the block whose running mass passes
//! `u * total`, then the element inside it. The masses use `exp::exp_exact` and a block sums in
//! 16 lanes (element `i` into lane `i % 16`) folded in a fixed tree, so any vector width gives
//! the same bits, and a seed names one token whatever ISA runs it.

use crate::axis::load_lanes;
use crate::element::Element;
use crate::exp::exp_exact;
use crate::ops::rmax;
use crate::simd::Simd;

/// Lanes of the fixed summation order within a block.
pub const MASS_LANES: usize = 16;

/// Philox4x32's multipliers.
const PHILOX_M: [u32; 2] = [0xD251_1F53, 0xCD9E_8D57];
/// Philox4x32's key increments (Weyl sequence: the golden ratio and sqrt(3) - 1).
const PHILOX_W: [u32; 2] = [0x9E37_79B9, 0xBB67_AE85];

/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): the
/// four words at counter `c` (`c[0]` least significant) under key `(k[0], k[1])`.
pub fn philox4x32(mut c: [u32; 4], mut k: [u32; 2]) -> [u32; 4] {
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(PHILOX_W[0]);
            k[1] = k[1].wrapping_add(PHILOX_W[1]);
        }
        let p0 = u64::from(PHILOX_M[0]) * u64::from(c[0]);
        let p1 = u64::from(PHILOX_M[1]) * u64::from(c[2]);
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k[0],
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// Draw `stream`'s uniform in `[0, 1)` under `seed`: the first of [`uniform_pair`]`(seed,
/// stream, 0)`.
pub fn uniform(seed: u64, stream: u64) -> f64 {
    uniform_pair(seed, stream, 0)[0]
}

/// Draw `stream`'s `k`-th pair of uniforms in `[0, 1)` under `seed`: 53 bits each of Philox at
/// counter `(k, 0, stream)`, from words 0-1 and 2-3.
pub fn uniform_pair(seed: u64, stream: u64, k: u32) -> [f64; 2] {
    let w = philox4x32(
        [k, 0, stream as u32, (stream >> 32) as u32],
        [seed as u32, (seed >> 32) as u32],
    );
    let u =
        |hi: u32, lo: u32| (u64::from(hi) << 21 | u64::from(lo >> 11)) as f64 / (1u64 << 53) as f64;
    [u(w[0], w[1]), u(w[2], w[3])]
}

/// The masses of one draw: `w(x) = exp((x - max) * inv_t)` for `x >= floor`, else 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Masses {
    /// The max they are taken against (finite; at least every `x` weighed).
    pub max: f32,
    /// `1 / T`, finite and positive.
    pub inv_t: f32,
    /// Elements below it weigh 0 (`-inf`: none).
    pub floor: f32,
}

/// `w(x)` per lane, with the floor's test only where `FLOOR`: 1 at `x = max`, NaN for NaN `x`
/// (and for `+inf` against `max = +inf`).
#[inline(always)]
fn weight<S: Simd, const FLOOR: bool>(s: S, m: &Masses, x: S::V) -> S::V {
    let w = exp_exact(s, s.mul(s.sub(x, s.splat(m.max)), s.splat(m.inv_t)));
    if FLOOR {
        s.select(s.lt(x, s.splat(m.floor)), s.splat(0.0), w)
    } else {
        w
    }
}

/// One block's part of a draw: its max, and its masses summed against that max (0 when the
/// max is `-inf`; NaN when the block holds a NaN or `+inf`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BlockMass {
    /// The block's max.
    pub max: f32,
    /// `sum_i w(x_i)` with [`Masses::max`] the block's max: at least 1 when not 0 or NaN.
    pub mass: f32,
}

/// The first nonzero mass of `masses` whose running sum (in f64, in order) passes `target`
/// (`0 <= target`, below the total), and what is left of `target` before it: the last nonzero
/// one if rounding keeps the sum from passing it. Picks the block, then the element in it.
pub fn first_past(masses: impl Iterator<Item = f64>, mut target: f64) -> (usize, f64) {
    let mut last = (0, target);
    for (i, m) in masses.enumerate() {
        if m > 0.0 {
            last = (i, target);
            if m > target {
                break;
            }
            target -= m;
        }
    }
    last
}

/// The row's max, where it first occurs, and whether no element is NaN or `+inf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scan {
    /// `max_i x_i` (`-inf` for an empty row); meaningful only when `finite`.
    pub max: f32,
    /// The first index holding `max` (the row's length when empty or not `finite`).
    pub first: usize,
    /// No element is NaN or `+inf`.
    pub finite: bool,
}

/// [`Scan`] of `x` in one read: each vector raising the running max records where.
#[inline(always)]
pub(crate) fn rscan<S: Simd, E: Element>(s: S, x: &[E]) -> Scan {
    let n = x.len();
    let p = x.as_ptr();
    let inf = s.splat(f32::INFINITY);
    let mut max = f32::NEG_INFINITY;
    let mut top = s.splat(max);
    let mut first = n;
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::LANES);
        // SAFETY: i + len <= n elements of x are readable; lanes past len are -inf.
        let v = unsafe { load_lanes(s, p.add(i), len, f32::NEG_INFINITY, 0) };
        // Not v < inf: NaN or +inf.
        if s.any(s.nlt(v, inf)) {
            return Scan {
                max: f32::NAN,
                first: n,
                finite: false,
            };
        }
        if s.any(s.lt(top, v)) {
            max = s.hmax(v);
            top = s.splat(max);
            let lanes = s.lanes(v);
            first = i + lanes
                .as_ref()
                .iter()
                .position(|&l| l == max)
                .expect("a lane holds it");
        }
        i += len;
    }
    if first == n && n > 0 {
        // Every element is -inf (none raised the max above its start).
        first = 0;
    }
    Scan {
        max,
        first,
        finite: true,
    }
}

/// `out[b]` = the [`BlockMass`] of block `b` of `block` elements of `x` (`block` a multiple
/// of [`MASS_LANES`], `out.len() == x.len().div_ceil(block)`), in one read: a block's max,
/// then (from the L1 cache) its masses against it with `inv_t` and `floor` as in [`Masses`].
/// Lane `j` sums the elements at `j mod 16` in order, the lanes fold as
/// `((l0 + l1) + (l2 + l3)) + ...`.
///
/// # Panics
/// When the block size or `out`'s length is wrong.
#[inline(always)]
pub(crate) fn rblockmass<S: Simd, E: Element>(
    s: S,
    x: &[E],
    inv_t: f32,
    floor: f32,
    block: usize,
    out: &mut [BlockMass],
) {
    assert!(
        block > 0 && block.is_multiple_of(MASS_LANES),
        "blocks of whole lane groups"
    );
    assert_eq!(out.len(), x.len().div_ceil(block), "one mass per block");
    for (chunk, o) in x.chunks(block).zip(out.iter_mut()) {
        let max = rmax(s, chunk);
        let masses = Masses { max, inv_t, floor };
        let mass = if max == f32::NEG_INFINITY {
            // Every element -inf, or a NaN the max passed over (a NaN max or any other NaN
            // makes the sum NaN).
            match chunk.iter().any(|v| v.to_f32().is_nan()) {
                true => f32::NAN,
                false => 0.0,
            }
        } else if floor == f32::NEG_INFINITY {
            block_sum::<S, E, false>(s, chunk, &masses)
        } else {
            block_sum::<S, E, true>(s, chunk, &masses)
        };
        *o = BlockMass { max, mass };
    }
}

/// `out[b]` = the max of block `b` of `block` elements of `x` (`out.len() ==
/// x.len().div_ceil(block)`), NaN where the block holds a NaN or `+inf`: one read, four
/// accumulators of each kind.
///
/// # Panics
/// When `block` is 0 or `out`'s length is wrong.
#[inline(always)]
pub(crate) fn rblockmax<S: Simd, E: Element>(s: S, x: &[E], block: usize, out: &mut [f32]) {
    assert!(block > 0, "blocks of at least one element");
    assert_eq!(out.len(), x.len().div_ceil(block), "one max per block");
    let (inf, none) = (s.splat(f32::INFINITY), s.splat(f32::NEG_INFINITY));
    for (chunk, o) in x.chunks(block).zip(out.iter_mut()) {
        // `bad` lanes turn +inf at a NaN or +inf (not below +inf), which max could pass over.
        let (mut top, mut bad) = ([none; 4], [none; 4]);
        let (p, n) = (chunk.as_ptr(), chunk.len());
        let mut i = 0;
        while i + 4 * S::LANES <= n {
            for (j, (t, b)) in top.iter_mut().zip(bad.iter_mut()).enumerate() {
                // SAFETY: i + 4 LANES <= n elements are readable.
                let v = unsafe { E::load(s, p.add(i + j * S::LANES)) };
                *t = s.max(*t, v);
                *b = s.select(s.nlt(v, inf), inf, *b);
            }
            i += 4 * S::LANES;
        }
        for_lanes(s, &chunk[i..], |v| {
            top[0] = s.max(top[0], v);
            bad[0] = s.select(s.nlt(v, inf), inf, bad[0]);
        });
        let four = |a: [S::V; 4]| s.max(s.max(a[0], a[1]), s.max(a[2], a[3]));
        *o = match s.any(s.nlt(four(bad), inf)) {
            true => f32::NAN,
            false => s.hmax(four(top)),
        };
    }
}

/// `f` on each vector of `x` in order, the lanes past its end `-inf` (whose mass is 0).
#[inline(always)]
fn for_lanes<S: Simd, E: Element>(s: S, x: &[E], mut f: impl FnMut(S::V)) {
    let p = x.as_ptr();
    let mut i = 0;
    while i < x.len() {
        let len = (x.len() - i).min(S::LANES);
        // SAFETY: i + len <= x.len() elements are readable.
        f(unsafe { load_lanes(s, p.add(i), len, f32::NEG_INFINITY, 0) });
        i += len;
    }
}

/// `sum_i w(x_i)` in [`MASS_LANES`] lanes (element `i` into lane `i % 16`), folded in a fixed
/// tree: the same bits for any `S::LANES` dividing 16.
#[inline(always)]
fn block_sum<S: Simd, E: Element, const FLOOR: bool>(s: S, x: &[E], m: &Masses) -> f32 {
    let groups = MASS_LANES / S::LANES;
    let mut acc = [s.splat(0.0); MASS_LANES];
    let (p, n) = (x.as_ptr(), x.len());
    let mut i = 0;
    while i + MASS_LANES <= n {
        for (g, a) in acc.iter_mut().take(groups).enumerate() {
            // SAFETY: i + 16 <= n elements are readable.
            let v = unsafe { E::load(s, p.add(i + g * S::LANES)) };
            *a = s.add(*a, weight::<S, FLOOR>(s, m, v));
        }
        i += MASS_LANES;
    }
    for a in &mut acc {
        if i < n {
            let len = (n - i).min(S::LANES);
            // SAFETY: i + len <= n elements are readable; the lanes past them weigh 0.
            let v = unsafe { load_lanes(s, p.add(i), len, f32::NEG_INFINITY, 0) };
            *a = s.add(*a, weight::<S, FLOOR>(s, m, v));
            i += len;
        }
    }
    let mut lanes = [0.0f32; MASS_LANES];
    for (part, a) in lanes.chunks_exact_mut(S::LANES).zip(&acc) {
        part.copy_from_slice(s.lanes(*a).as_ref());
    }
    let mut w = MASS_LANES;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            lanes[j] = lanes[2 * j] + lanes[2 * j + 1];
        }
    }
    lanes[0]
}

/// `out[i] = w(x[i])` ([`Masses`]), the same bits as the masses [`rblockmass`] sums.
///
/// # Panics
/// When the lengths differ.
#[inline(always)]
pub(crate) fn rweights<S: Simd, E: Element>(s: S, x: &[E], masses: &Masses, out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "one weight per element");
    match masses.floor == f32::NEG_INFINITY {
        true => weights_into::<S, E, false>(s, x, masses, out),
        false => weights_into::<S, E, true>(s, x, masses, out),
    }
}

/// [`rweights`], the floor tested where `FLOOR`.
#[inline(always)]
fn weights_into<S: Simd, E: Element, const FLOOR: bool>(
    s: S,
    x: &[E],
    m: &Masses,
    out: &mut [f32],
) {
    let mut i = 0;
    for_lanes(s, x, |v| {
        let w = weight::<S, FLOOR>(s, m, v);
        let len = (out.len() - i).min(S::LANES);
        // SAFETY: i + len <= out.len() elements are writable.
        unsafe {
            if len == S::LANES {
                s.store(out.as_mut_ptr().add(i), w);
            } else {
                s.store_tail(out.as_mut_ptr().add(i), len, w);
            }
        }
        i += len;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's known answers for Philox4x32-10 (its `kat_vectors`).
    #[test]
    fn philox_matches_random123() {
        assert_eq!(
            philox4x32([0; 4], [0; 2]),
            [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8]
        );
        assert_eq!(
            philox4x32([u32::MAX; 4], [u32::MAX; 2]),
            [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD]
        );
        assert_eq!(
            philox4x32(
                [0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344],
                [0xA409_3822, 0x299F_31D0]
            ),
            [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1]
        );
    }

    #[test]
    fn uniform_is_in_range_and_spread() {
        let mut hist = [[0u32; 10]; 3];
        for stream in 0..100_000 {
            let [u, v] = uniform_pair(7, stream, 3);
            for (h, u) in hist.iter_mut().zip([uniform(7, stream), u, v]) {
                assert!((0.0..1.0).contains(&u));
                h[(u * 10.0) as usize] += 1;
            }
        }
        assert!(
            hist.iter().flatten().all(|&h| (9_500..10_500).contains(&h)),
            "{hist:?}"
        );
    }
}
