//! The small vector vocabulary every algorithm in [`crate::ops`] is written in.
//!
//! Each ISA module implements [`Simd`] once (scalar: one lane; AVX2: 8; AVX-512: 16); the
//! algorithms are generic over it and instantiated inside that ISA's target-feature context.
//! Every method is `#[inline(always)]` so it inherits the caller's target features.

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
    /// Round to the nearest integer, ties to even.
    fn round(self, a: Self::V) -> Self::V;
    /// `a * 2^d` for integral `d`: exact for `-126 <= d <= 127`, below that either exact or 0;
    /// above, `a * inf` or (AVX-512) exact where representable. A NaN `d` gives NaN or 0
    /// (callers make `a` NaN in that case).
    fn ldexp(self, a: Self::V, d: Self::V) -> Self::V;

    /// `a < b`, false for NaN.
    fn lt(self, a: Self::V, b: Self::V) -> Self::M;
    /// `m ? a : b` per lane.
    fn select(self, m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    /// Whether any lane of `m` is set.
    fn any(self, m: Self::M) -> bool;

    /// The lanes, in the first `LANES` entries.
    fn lanes(self, v: Self::V) -> [f32; 16];
    /// `c * exp(x)` for `x <= 16` (`c` folded into the polynomial), flushed to 0 below
    /// [`crate::exp::EXP_CUTOFF`] (so `-inf` gives 0); NaN stays NaN. The approximation of
    /// [`crate::exp`] with its Cody-Waite reduction; ISAs may override how `2^n` is applied.
    #[inline(always)]
    fn exp_flush<const COARSE: bool>(self, x: Self::V, c: Self::V) -> Self::V {
        crate::exp::exp_flush::<Self, COARSE>(self, x, c)
    }
    /// `c * exp(max(x, -EXT_BOUND)) * 2^-e` for integral lane exponents `e` (the short form of
    /// exp, [`crate::exp::reduced_poly`]), and the lanes where it is not computed.
    /// With `c * exp = (c * p) * 2^n` ([`crate::exp::exp_ext`]): `(c * p) * 2^(n - e)` (0 or exact
    /// where `n - e <= -125`, or with `EXACT_LOW` where the result is below 2^-126; NaN for NaN
    /// `x`), and the mask of `n - e > over`. Lanes with `n - e > 125` hold the exact value
    /// or `c * inf` (so at least `|c| * 2^124` in magnitude, or NaN for NaN `x`), except with
    /// an infinite `over`, whose callers guarantee `n - e <= 125`; `|c| <= f32::MAX / 8`.
    #[inline(always)]
    fn exp_ext_rel<const EXACT_LOW: bool, const COARSE: bool>(
        self,
        x: Self::V,
        e: Self::V,
        c: Self::V,
        over: f32,
    ) -> (Self::V, Self::M) {
        let (p, n) = crate::exp::exp_ext::<Self, COARSE>(self, x, c);
        let d = self.sub(n, e);
        (self.ldexp(p, d), self.lt(self.splat(over), d))
    }
    /// The largest lane, ignoring NaN lanes unless all are NaN.
    #[inline(always)]
    fn hmax(self, v: Self::V) -> f32 {
        self.lanes(v)[..Self::LANES]
            .iter()
            .fold(f32::NAN, |a, &b| a.max(b))
    }
}
