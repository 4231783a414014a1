//! Sampling's kernels: the row's max (and where it first occurs), and the masses
//! `w_i = exp((x_i - max) / T)` of the elements at or above a floor summed per block, the same
//! bits on every ISA; plus the draw's uniform from Philox4x32-10.
//!
//! A draw is an inverse-CDF lookup in two levels: the block whose running mass passes
//! `u * total`, then the element inside it ([`Masses::pick`]). The masses use [`exp_plain`] and
//! sum each block in 16 lanes (element `i` into lane `i % 16`) folded in a fixed tree, so any
//! vector width gives the same bits, and a seed names one token whatever ISA runs it.

use crate::axis::load_lanes;
use crate::element::Element;
use crate::exp::exp_plain;
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

/// Draw `stream`'s uniform in `[0, 1)` under `seed`: 53 bits of Philox at counter
/// `(0, 0, stream)`.
pub fn uniform(seed: u64, stream: u64) -> f64 {
    let w = philox4x32(
        [0, 0, stream as u32, (stream >> 32) as u32],
        [seed as u32, (seed >> 32) as u32],
    );
    let bits = u64::from(w[0]) << 21 | u64::from(w[1] >> 11);
    bits as f64 / (1u64 << 53) as f64
}

/// The masses of one draw: `w(x) = exp((x - max) * inv_t)` for `x >= floor`, else 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Masses {
    /// The row's max (finite).
    pub max: f32,
    /// `1 / T`, finite and positive.
    pub inv_t: f32,
    /// Elements below it weigh 0 (`-inf`: none).
    pub floor: f32,
}

impl Masses {
    /// `w(x)`, in f32 operations only (no FMA), so vector and scalar code agree to the bit:
    /// 0 where `(x - max) / T` is below [`crate::exp::EXP_PLAIN_CUTOFF`], and at most 1 for `x <= max`.
    #[inline(always)]
    pub fn weight(&self, x: f32) -> f32 {
        if x >= self.floor {
            exp_plain((x - self.max) * self.inv_t)
        } else {
            0.0
        }
    }

    /// [`first_past`] over the weights of `x` (a block's logits).
    pub fn pick(&self, x: impl Iterator<Item = f32>, target: f64) -> usize {
        first_past(x.map(|v| self.weight(v)), target).0
    }
}

/// The first nonzero mass of `masses` whose running sum (in f64, in order) passes `target`
/// (`0 <= target`, below the total), and what is left of `target` before it: the last nonzero
/// one if rounding keeps the sum from passing it. Picks the block, then the element in it.
pub fn first_past(masses: impl Iterator<Item = f32>, mut target: f64) -> (usize, f64) {
    let mut last = (0, target);
    for (i, m) in masses.enumerate() {
        if m > 0.0 {
            last = (i, target);
            if f64::from(m) > target {
                break;
            }
            target -= f64::from(m);
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

/// `out[b]` = the mass of block `b` of `block` elements of `x` (`block` a multiple of
/// [`MASS_LANES`], `out.len() == x.len().div_ceil(block)`): lane `j` sums the elements at
/// `j mod 16` in order, the lanes fold as `((l0 + l1) + (l2 + l3)) + ...`.
///
/// # Panics
/// When the block size or `out`'s length is wrong.
#[inline(always)]
pub(crate) fn rblockmass<S: Simd, E: Element>(
    // Only the target-feature context: the loop is plain code the compiler vectorises.
    _s: S,
    x: &[E],
    masses: &Masses,
    block: usize,
    out: &mut [f32],
) {
    assert!(
        block > 0 && block.is_multiple_of(MASS_LANES),
        "blocks of whole lane groups"
    );
    assert_eq!(out.len(), x.len().div_ceil(block), "one mass per block");
    for (chunk, o) in x.chunks(block).zip(out.iter_mut()) {
        let mut acc = [0.0f32; MASS_LANES];
        let mut groups = chunk.chunks_exact(MASS_LANES);
        for group in &mut groups {
            for (a, &x) in acc.iter_mut().zip(group) {
                *a += masses.weight(x.to_f32());
            }
        }
        for (a, &x) in acc.iter_mut().zip(groups.remainder()) {
            *a += masses.weight(x.to_f32());
        }
        let mut w = MASS_LANES;
        while w > 1 {
            w /= 2;
            for j in 0..w {
                acc[j] = acc[2 * j] + acc[2 * j + 1];
            }
        }
        *o = acc[0];
    }
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
        let mut hist = [0u32; 10];
        for stream in 0..100_000 {
            let u = uniform(7, stream);
            assert!((0.0..1.0).contains(&u));
            hist[(u * 10.0) as usize] += 1;
        }
        assert!(
            hist.iter().all(|&h| (9_500..10_500).contains(&h)),
            "{hist:?}"
        );
    }
}
