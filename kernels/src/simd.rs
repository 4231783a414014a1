//! The small vector vocabulary every algorithm in [`crate::ops`] is written in.
//!
//! Each ISA module implements [`Simd`] once (scalar: one lane; AVX2: 8; AVX-512: 16); the
//! algorithms are generic over it and instantiated inside that ISA's target-feature context.
//! Every method is `#[inline(always)]` so it inherits the caller's target features.

use crate::exp::ROUND_MAGIC;

/// Vector operations on `LANES` f32 values.
///
/// `max`/`min` follow the x86 `vmaxps`/`vminps` rule: `max(a, b) = if a > b { a } else { b }`,
/// `min(a, b) = if a < b { a } else { b }`, so a NaN in `b` propagates and a NaN in `a` does not. The kernels order operands with that
/// in mind.
pub trait Simd: Copy {
    /// Lanes per vector.
    const LANES: usize;
    /// A vector of `LANES` f32.
    type V: Copy;
    /// A per-lane predicate.
    type M: Copy;
    /// `LANES` f32 values in memory (`[f32; LANES]`).
    type Lanes: Copy + AsRef<[f32]> + AsMut<[f32]>;
    /// `LANES` f64 values in memory (`[f64; LANES]`): per-lane totals.
    type WideLanes: Copy + AsRef<[f64]> + AsMut<[f64]>;
    /// Every f64 lane 0.
    const WIDE_ZERO: Self::WideLanes;

    fn splat(self, v: f32) -> Self::V;

    /// # Safety
    /// `p..p + LANES` must be readable.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// Loads the first `len < LANES` lanes; the others are `fill`.
    ///
    /// # Safety
    /// `p..p + len` must be readable.
    unsafe fn load_tail(self, p: *const f32, len: usize, fill: f32) -> Self::V;
    /// # Safety
    /// `p..p + LANES` must be writable.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// Stores the first `len < LANES` lanes.
    ///
    /// # Safety
    /// `p..p + len` must be writable.
    unsafe fn store_tail(self, p: *mut f32, len: usize, v: Self::V);
    /// Non-temporal store (bypasses the cache); follow a run of them with [`Simd::fence`].
    ///
    /// # Safety
    /// `p..p + LANES` must be writable and `p` aligned to `LANES * 4` bytes.
    unsafe fn stream(self, p: *mut f32, v: Self::V);
    /// Orders earlier non-temporal stores before later stores.
    fn fence(self);
    /// Asks for the cache line at `p` ahead of its use (any address: a prefetch never faults).
    #[inline(always)]
    fn prefetch(self, p: *const u8) {
        let _ = p;
    }

    /// Loads `len <= LANES` IEEE binary16 values (as bits) widened to f32; other lanes 0.
    ///
    /// # Safety
    /// `p..p + len` must be readable.
    unsafe fn load_f16(self, p: *const u16, len: usize) -> Self::V;
    /// Loads `len <= LANES` bfloat16 values (as bits) widened to f32; other lanes 0.
    ///
    /// # Safety
    /// `p..p + len` must be readable.
    unsafe fn load_bf16(self, p: *const u16, len: usize) -> Self::V;
    /// Rounds the first `len <= LANES` lanes to binary16 (nearest even) and stores their bits.
    ///
    /// # Safety
    /// `p..p + len` must be writable.
    unsafe fn store_f16(self, p: *mut u16, len: usize, v: Self::V);
    /// Rounds the first `len <= LANES` lanes to bfloat16 (nearest even; NaN stays a quiet NaN)
    /// and stores their bits.
    ///
    /// # Safety
    /// `p..p + len` must be writable.
    unsafe fn store_bf16(self, p: *mut u16, len: usize, v: Self::V);

    /// The first `len` lanes set.
    fn tail_mask(self, len: usize) -> Self::M;

    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c` with one rounding.
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a * b + c`, fused where that is fast (the polynomial), else with two roundings.
    #[inline(always)]
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        self.fma(a, b, c)
    }
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    fn min(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a * b` rounded to the nearest integer, ties to even, for `|a * b| < 2^22` (an exp's
    /// `n`); NaN and infinities pass through. Beyond 2^22, where no result depends on it, a
    /// value near `a * b` (not always an integer below 2^23). By default (the FMA ISAs) two
    /// operations on any port, `(a * b + ROUND_MAGIC) - ROUND_MAGIC` with the product
    /// unrounded: AVX-512's `VRNDSCALEPS` alone is two on one port (Ice Lake-SP ran 2.5-2.6 of
    /// them per ns against 5.5 FMAs). Scalar rounds the f32 product (one rounding more, so a
    /// tie may go the other way).
    #[inline(always)]
    fn round_product(self, a: Self::V, b: Self::V) -> Self::V {
        let magic = self.splat(ROUND_MAGIC);
        self.sub(self.fma(a, b, magic), magic)
    }
    /// `|a|`.
    fn abs(self, a: Self::V) -> Self::V;
    /// `a < b`, false for NaN.
    fn lt(self, a: Self::V, b: Self::V) -> Self::M;
    /// Not `a < b`: true where either is NaN.
    fn nlt(self, a: Self::V, b: Self::V) -> Self::M;
    /// `m ? a * b : 0` per lane, without multiplying the lanes where `m` is clear (so a product
    /// that would be subnormal there costs nothing).
    fn mul_or_zero(self, m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    /// `m ? a : b` per lane.
    fn select(self, m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    /// Whether any lane of `m` is set.
    fn any(self, m: Self::M) -> bool;

    /// `q * 2^(n - 1)` for integral `n` in `[-126, 128]`, exact: the power of two is the
    /// exponent field `n + 126`, so `n = -126` gives 0 (a clamp of `n` there flushes). With `q`
    /// in `[1, 4)` every other result is normal. NaN `q` or `n` gives NaN.
    fn mul_pow2_flush(self, q: Self::V, n: Self::V) -> Self::V;

    /// The lanes.
    fn lanes(self, v: Self::V) -> Self::Lanes;
    /// `c * exp(x) * 2^-e` for integral lane exponents `e` and `|c|` in `[2^-0.5, 2^0.5)`,
    /// where `x >= cutoff` ([`crate::exp::cutoff`] puts it where the result is
    /// `2^-126 * (1 + 2^-10)`); below it 0 with `ZERO`, else 0 or the value at the cutoff (for
    /// sums, in which such a term is negligible: one operation fewer on AVX2 and AVX-512). No
    /// lane is subnormal or computed as one, as each such operation costs a microcode assist on
    /// Intel CPUs when FTZ is off (and reads of subnormals when DAZ is off). NaN `x` gives NaN.
    ///
    /// With `c * exp(x) = (c * p) * 2^n` ([`crate::exp::reduced_poly`], `SHORT` and `COARSE` as
    /// there), also returns `n - e`, the power of two the result carries (for lanes below the
    /// cutoff, at most the cutoff's). Without `WIDE` callers keep `n - e <= 127` on kept lanes;
    /// with it, lanes beyond hold the exact value or `c * inf` (at least `|c| * 2^127` in
    /// magnitude, or NaN).
    fn exp_scaled<const SHORT: bool, const COARSE: bool, const ZERO: bool, const WIDE: bool>(
        self,
        x: Self::V,
        e: Self::V,
        c: Self::V,
        cutoff: Self::V,
    ) -> (Self::V, Self::V);
    /// `acc + exp(x) * 2^-e`, a term of an extended sum added to `acc`: the term as
    /// [`Simd::exp_scaled`] with `SHORT` and `WIDE`, `c = 1` and without `ZERO` (the same lanes
    /// below the cutoff and beyond the range, and the same factor `e^(n LN2_LO)`), which is
    /// what it is by default. AVX2 takes the table form ([`crate::exp::EXP2_EIGHTHS`]) and
    /// adds in its last multiply (an FMA): three FMA-port operations fewer, where its sums are
    /// bound by them.
    #[inline(always)]
    fn exp_sum_add(self, x: Self::V, e: Self::V, cutoff: Self::V, acc: Self::V) -> Self::V {
        let term = self
            .exp_scaled::<true, false, false, true>(x, e, self.splat(1.0), cutoff)
            .0;
        self.add(acc, term)
    }
    /// The largest lane (a NaN lane may or may not win), by halving: `log2(LANES)` dependent
    /// steps, not `LANES`.
    #[inline(always)]
    fn hmax(self, v: Self::V) -> f32 {
        let mut lanes = self.lanes(v);
        let l = lanes.as_mut();
        let mut w = Self::LANES;
        while w > 1 {
            w /= 2;
            for i in 0..w {
                if l[i + w] > l[i] {
                    l[i] = l[i + w];
                }
            }
        }
        l[0]
    }
}
