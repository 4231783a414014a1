//! Sampling by the Gumbel-max trick: `argmax_i (x_i - m) / T + g_i`, with `g_i` independent
//! standard Gumbel noise, is distributed as `softmax(x / T)`. The noise is the same bits on every
//! ISA, so a seed names one token whatever runs it.
//!
//! - Stream: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
//!   SC'11) keyed by the seed. Element `i` of draw `s` takes word `(i % 64) / 16` of the call at
//!   counter `(i / 64 * 16 + i % 16, s)` (each a 64-bit pair of words): a block of 64 elements is
//!   16 calls, vectorised across the calls, whose words land on 16 contiguous elements each.
//! - `u = ((w >> 9) + 1/2) * 2^-23` from the element's word `w`: in `[2^-24, 1 - 2^-24]`, exact.
//! - `g = -ln(-ln u)` by [`ln`]: plain f32 multiplies, adds and one division in a fixed order
//!   (no FMA, no libm), so any vector width gives the same bits; `g` lies in
//!   `[NOISE_MIN, NOISE_MAX]` (the exact extremes are -2.8115 and 16.6355).
//! - Pruning: an element with `(x - m) / T + NOISE_MAX` below the best score so far cannot win,
//!   so a block of 64 whose max is below that bound costs one comparison per element, and only
//!   blocks that may hold the winner draw noise. The result does not depend on the pruning.

use crate::element::Element;
use crate::exp::{LN2_HEAD, LN2_TAIL};
use crate::simd::Simd;

/// Elements per block: 16 Philox calls of 4 words.
pub const BLOCK: usize = 64;
/// An upper bound of every noise value.
pub const NOISE_MAX: f32 = 16.64;
/// A lower bound of every noise value.
pub const NOISE_MIN: f32 = -2.82;

/// Philox4x32's multipliers.
const PHILOX_M: [u32; 2] = [0xD251_1F53, 0xCD9E_8D57];
/// Philox4x32's key increments (Weyl sequence: the golden ratio and sqrt(3) - 1).
const PHILOX_W: [u32; 2] = [0x9E37_79B9, 0xBB67_AE85];
/// `2 atanh(s) = 2s + s * z * (L1 + z * (L2 + z * (L3 + z * L4)))` with `z = s^2`: 2/3 ...
const L1: f32 = 2.0 / 3.0;
/// ... 2/5 ...
const L2: f32 = 2.0 / 5.0;
/// ... 2/7 ...
const L3: f32 = 2.0 / 7.0;
/// ... and 2/9; the next term is below `2^-29` of the sum where `|s| <= 0.1716`.
const L4: f32 = 2.0 / 9.0;

/// Philox4x32-10 of counter `c` under key `k`, for 16 counters at once (one per lane of `c[_][j]`).
// The index is the lane of four arrays stepped together (what the vectoriser turns into lanes).
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn philox16(c: &mut [[u32; 16]; 4], key: u64) {
    let mut k = [key as u32, (key >> 32) as u32];
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(PHILOX_W[0]);
            k[1] = k[1].wrapping_add(PHILOX_W[1]);
        }
        for j in 0..16 {
            let p0 = u64::from(PHILOX_M[0]) * u64::from(c[0][j]);
            let p1 = u64::from(PHILOX_M[1]) * u64::from(c[2][j]);
            let w0 = ((p1 >> 32) as u32) ^ c[1][j] ^ k[0];
            let w2 = ((p0 >> 32) as u32) ^ c[3][j] ^ k[1];
            c[1][j] = p1 as u32;
            c[3][j] = p0 as u32;
            c[0][j] = w0;
            c[2][j] = w2;
        }
    }
}

/// Philox4x32-10: the four words at counter `c` (`c[0]` least significant) under key
/// `(k[0], k[1])`.
pub fn philox4x32(c: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let mut lanes = [[0u32; 16]; 4];
    for (l, w) in lanes.iter_mut().zip(c) {
        l[0] = w;
    }
    philox16(&mut lanes, u64::from(k[0]) | u64::from(k[1]) << 32);
    [lanes[0][0], lanes[1][0], lanes[2][0], lanes[3][0]]
}

/// `ln v` for a normal `v > 0`: `v = 2^k m` with `m` in `[2^-0.5, 2^0.5)`, `s = (m - 1) / (m + 1)`,
/// `ln m = 2 atanh(s)`. Within 3 ulp (test `ln_is_within_three_ulp`); never a subnormal intermediate.
#[inline(always)]
pub fn ln(v: f32) -> f32 {
    let bits = v.to_bits() as i32;
    // The bits of 2^-0.5: k = e + 1 where the mantissa is at least 2^0.5.
    let k = (bits - 0x3F35_04F3) >> 23;
    let m = f32::from_bits((bits - (k << 23)) as u32);
    let f = m - 1.0;
    let s = f / (f + 2.0);
    let z = s * s;
    let r = z * (L1 + z * (L2 + z * (L3 + z * L4)));
    let kf = k as f32;
    kf * LN2_HEAD + (s * (2.0 + r) + kf * LN2_TAIL)
}

/// The Gumbel noise of Philox word `w`: `-ln(-ln u)`.
#[inline(always)]
pub fn noise_of_word(w: u32) -> f32 {
    let u = ((w >> 9) as i32 as f32 + 0.5) * (1.0 / 8_388_608.0);
    -ln(-ln(u))
}

/// The noise of the 64 elements of block `block` of draw `stream` under `seed`.
#[allow(clippy::needless_range_loop)] // As in philox16.
#[inline(always)]
fn block_noise(seed: u64, stream: u64, block: u64) -> [f32; BLOCK] {
    let mut c = [[0u32; 16]; 4];
    for j in 0..16 {
        let counter = block * 16 + j as u64;
        c[0][j] = counter as u32;
        c[1][j] = (counter >> 32) as u32;
        c[2][j] = stream as u32;
        c[3][j] = (stream >> 32) as u32;
    }
    philox16(&mut c, seed);
    let mut g = [0.0f32; BLOCK];
    for (q, words) in c.iter().enumerate() {
        for j in 0..16 {
            g[q * 16 + j] = noise_of_word(words[j]);
        }
    }
    g
}

/// The Gumbel noise of element `i` of draw `stream` under `seed` (as the kernels draw it).
pub fn noise(seed: u64, stream: u64, i: u64) -> f32 {
    block_noise(seed, stream, i / BLOCK as u64)[(i % BLOCK as u64) as usize]
}

/// One draw over a row: [`rgumbelmax`]'s parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Draw {
    /// Philox's key.
    pub seed: u64,
    /// Which draw: the counter's high half.
    pub stream: u64,
    /// The row's max (finite).
    pub max: f32,
    /// `1 / T` (finite, positive).
    pub inv_t: f64,
    /// Elements below it take no part (`-inf`: every element does).
    pub floor: f32,
}

impl Draw {
    /// Element `x`'s score with noise `g`: `(x - max) / T + g`, in f64 (exact difference).
    #[inline(always)]
    pub fn score(&self, x: f32, g: f32) -> f64 {
        (f64::from(x) - f64::from(self.max)) * self.inv_t + f64::from(g)
    }

    /// The least `x` that may still beat `best` (a lower bound, rounded down to f32), or the
    /// floor if higher.
    #[inline(always)]
    fn bar(&self, best: f64) -> f32 {
        let v = f64::from(self.max) + (best - f64::from(NOISE_MAX)) / self.inv_t;
        let b = v as f32;
        let b = if f64::from(b) > v { b.next_down() } else { b };
        // Operand order: a NaN bound (none yet: best is -inf) gives the floor.
        if b > self.floor {
            b
        } else {
            self.floor
        }
    }
}

/// The winner so far: a score and the element's index in the row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pick {
    /// `(x - max) / T + g`; `-inf` for none.
    pub score: f64,
    /// The element's index in the whole row.
    pub index: usize,
}

impl Pick {
    /// No element yet.
    pub const NONE: Pick = Pick {
        score: f64::NEG_INFINITY,
        index: usize::MAX,
    };

    /// Whether `self` wins over `other`: a higher score, or the same at a lower index.
    pub fn beats(&self, other: &Pick) -> bool {
        self.score > other.score || (self.score == other.score && self.index < other.index)
    }
}

/// What [`rscan`] reads off a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scan {
    /// `max_i x_i` (`-inf` for an empty row); meaningful only when `finite`.
    pub max: f32,
    /// The first index holding `max` (the row's length when empty or not `finite`).
    pub first: usize,
    /// No element is NaN or `+inf`.
    pub finite: bool,
}

/// The row's max, where it first occurs, and whether every element is finite or `-inf`.
#[inline(always)]
pub(crate) fn rscan<S: Simd, E: Element>(s: S, x: &[E]) -> Scan {
    let n = x.len();
    let p = x.as_ptr();
    let inf = s.splat(f32::INFINITY);
    let mut hi = s.splat(f32::NEG_INFINITY);
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::LANES);
        // SAFETY: i + len <= n elements of x are readable; lanes past len are -inf.
        let v = unsafe { load(s, p.add(i), len) };
        // Not v < inf: NaN or +inf.
        if s.any(s.nlt(v, inf)) {
            return Scan {
                max: f32::NAN,
                first: n,
                finite: false,
            };
        }
        hi = s.max(hi, v);
        i += len;
    }
    let max = s.hmax(hi);
    let target = s.splat(max);
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::LANES);
        // SAFETY: as above.
        let v = unsafe { load(s, p.add(i), len) };
        // No NaN: not v < max is v == max.
        if s.any(s.nlt(v, target)) {
            let lanes = s.lanes(v);
            let j = lanes.as_ref()[..len].iter().position(|&l| l == max);
            return Scan {
                max,
                first: i + j.expect("a lane holds the max"),
                finite: true,
            };
        }
        i += len;
    }
    Scan {
        max,
        first: n,
        finite: true,
    }
}

/// `len <= LANES` elements at `p` widened to f32, the other lanes `-inf`.
///
/// # Safety
/// `p..p + len` readable.
#[inline(always)]
unsafe fn load<S: Simd, E: Element>(s: S, p: *const E, len: usize) -> S::V {
    // SAFETY: the caller's range; a whole vector when len == LANES.
    unsafe {
        if len == S::LANES {
            E::load(s, p)
        } else {
            E::load_tail(s, p, len, f32::NEG_INFINITY)
        }
    }
}

/// The Gumbel-max draw over `x`, the part of a row starting at element `offset` (a multiple of
/// [`BLOCK`]; elements below `draw.floor` take no part): the best of `best` and every element's
/// [`Pick`]. Blocks that cannot beat the best so far draw no noise.
///
/// # Panics
/// When `offset` is not a multiple of [`BLOCK`].
#[inline(always)]
pub(crate) fn rgumbelmax<S: Simd, E: Element>(
    s: S,
    x: &[E],
    offset: usize,
    draw: &Draw,
    mut best: Pick,
) -> Pick {
    assert_eq!(offset % BLOCK, 0, "a draw's parts start at a block");
    let mut bar = draw.bar(best.score);
    for (b, chunk) in x.chunks(BLOCK).enumerate() {
        let p = chunk.as_ptr();
        let mut hi = s.splat(f32::NEG_INFINITY);
        let mut i = 0;
        while i < chunk.len() {
            let len = (chunk.len() - i).min(S::LANES);
            // SAFETY: i + len <= chunk.len() elements are readable.
            hi = s.max(hi, unsafe { load(s, p.add(i), len) });
            i += len;
        }
        // Not hi < bar: some element may win (NaN rows are refused before).
        if !s.any(s.nlt(hi, s.splat(bar))) {
            continue;
        }
        let mut xs = [f32::NEG_INFINITY; BLOCK];
        let mut i = 0;
        while i < chunk.len() {
            let len = (chunk.len() - i).min(S::LANES);
            // SAFETY: as above.
            let v = unsafe { load(s, p.add(i), len) };
            xs[i..i + len].copy_from_slice(&s.lanes(v).as_ref()[..len]);
            i += len;
        }
        let first = offset + b * BLOCK;
        let g = block_noise(draw.seed, draw.stream, (first / BLOCK) as u64);
        let mut scores = [f64::NEG_INFINITY; BLOCK];
        for j in 0..chunk.len() {
            if xs[j] >= draw.floor {
                scores[j] = draw.score(xs[j], g[j]);
            }
        }
        let mut top = f64::NEG_INFINITY;
        for &sc in &scores {
            top = if sc > top { sc } else { top };
        }
        if top >= best.score {
            let j = scores
                .iter()
                .position(|&sc| sc == top)
                .expect("top is a score");
            let pick = Pick {
                score: top,
                index: first + j,
            };
            if pick.beats(&best) {
                best = pick;
                bar = draw.bar(best.score);
            }
        }
    }
    best
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
    fn ln_is_within_three_ulp() {
        let mut worst = 0.0f64;
        let mut v = 1e-37f32;
        while v < 1e37 {
            let exact = f64::from(v).ln();
            let got = f64::from(ln(v));
            let y = (exact as f32).abs();
            let ulp = f64::from(y.next_up() - y);
            worst = worst.max((got - exact).abs() / ulp);
            v *= 1.000_37;
        }
        assert!(worst <= 3.0, "{worst} ulp");
    }

    /// Every value `u` takes: the noise within its bounds and non-decreasing in `u`'s word.
    #[test]
    fn noise_lies_within_its_bounds() {
        let mut last = f32::NEG_INFINITY;
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for k in 0u32..1 << 23 {
            let g = noise_of_word(k << 9);
            assert!(g.is_finite() && g >= last, "word {k}: {g} after {last}");
            last = g;
            lo = lo.min(g);
            hi = hi.max(g);
        }
        assert!(lo >= NOISE_MIN && hi <= NOISE_MAX, "{lo} {hi}");
        assert!(lo < NOISE_MIN + 0.01 && hi > NOISE_MAX - 0.01, "{lo} {hi}");
    }

    /// The element-wise definition against the block layout.
    #[test]
    fn noise_follows_the_layout() {
        let (seed, stream) = (0x1234_5678_9ABC_DEF0, 77);
        for i in [0u64, 1, 15, 16, 63, 64, 1000, 1 << 40] {
            let block = i / 64;
            let (q, j) = ((i % 64) / 16, i % 16);
            let c = block * 16 + j;
            let w = philox4x32(
                [
                    c as u32,
                    (c >> 32) as u32,
                    stream as u32,
                    (stream >> 32) as u32,
                ],
                [seed as u32, (seed >> 32) as u32],
            );
            assert_eq!(noise(seed, stream, i), noise_of_word(w[q as usize]), "{i}");
        }
    }
}
