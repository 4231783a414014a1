//! The exp approximation every kernel uses (with a coarse form for half-precision outputs), and
//! its constants.
//!
//! `exp(x) = 2^n * p(t)` with `n = round(x * log2(e))` (the product not rounded first where there
//! is FMA: `Simd::round_product`) and `t = x - n * ln(2)`, `|t| <= ln(2)/2`.
//! - Range reduction (Cody-Waite): `ln(2) = LN2_HI + LN2_LO` with `LN2_HI` the f32 nearest ln(2).
//!   With fused multiply-adds `x - n * LN2_HI` is exact (the result is small and its bits lie
//!   within 24 of `n * LN2_HI`'s lowest), and the second step leaves an error of
//!   `|n| * |ln2 - LN2_HI - LN2_LO| < |n| * 6e-17`: negligible for every `|n|` we allow.
//!   The extended-exponent sums, two-pass softmax's output pass and the cross-entropy gradient
//!   use a *short* form with the first step only (one FMA fewer per element): each term then
//!   carries the factor `e^(n * LN2_LO)`, which cancels between two-pass softmax's sum and its
//!   output pass, is corrected for in a sum's log (`Ext::unshortened`), and stays below 2.4e-7
//!   where `|n| <= 126` (`reduced_poly`).
//! - `p(t) = 1 + t*(C1 + t*(C2 + t*(C3 + t*(C4 + t*C5))))`: a degree-5 polynomial fitted by us
//!   (Lawson's iteration to the minimax relative error on `|t| <= 0.3476`, coefficients then
//!   rounded to f32). Error of `p` alone: 9.3e-8 relative in exact arithmetic, 1.9 ulp evaluated
//!   in f32 with FMA.
//! - Reconstruction: `2^n` by VSCALEFPS on AVX-512, by building the exponent bits on AVX2 and
//!   scalar (`Simd::exp_scaled`).
//! - Table form, for the terms of AVX2's extended sums (`Simd::exp_sum_add`), where the sums
//!   are bound by FMAs: eight steps per octave, `2^(j/8)` from an 8-entry table held in one
//!   register (`EXP2_EIGHTHS`, one permute), and a cubic `q` on `|t| <= ln(2)/16`: two FMAs
//!   fewer than `p`, and as accurate (test `sum_terms_relative_error`).
//! - No subnormals: every kernel computes `c * exp(x) * 2^-e` with a loop-invariant factor `c`
//!   kept apart as `m * 2^k` (`|m|` in `[2^-0.5, 2^0.5)`, `split_pow2`) and flushes to 0 where
//!   `x < cutoff` (`cutoff`): there the result would be below `2^-126 (1 + 2^-10)`, and every
//!   kept result is normal. On Intel CPUs with FTZ off (every program's default) each
//!   instruction with a subnormal result, or (DAZ off) operand, takes a microcode assist.
//! - Measured max error of the whole exp against f64 `exp` on a dense grid of `[-87.3, 16]`
//!   (test `exp_max_error_in_ulp`): 1.992 ulp on AVX2 and AVX-512 (at x = -68.09), 2.248 ulp
//!   on scalar, whose polynomial is evaluated unfused.

use crate::simd::Simd;

/// log2(e), rounded to f32.
pub const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln(2) rounded to f32 (0x3F317218).
pub const LN2_HI: f32 = std::f32::consts::LN_2;
/// `ln(2) - LN2_HI`, rounded to f32.
pub const LN2_LO: f32 = -1.904_654_3e-9;
/// `p(t) = 1 + t*(C1 + t*(C2 + t*(C3 + t*(C4 + t*C5)))) ~ exp(t)`: the `t` coefficient,
/// 0x1.fffff6p-1.
pub const C1: f32 = f32::from_bits(0x3F7F_FFFB);
/// The `t^2` coefficient of `p`, 0x1.fffdbep-2.
pub const C2: f32 = f32::from_bits(0x3EFF_FEDF);
/// The `t^3` coefficient of `p`, 0x1.555a7ap-3.
pub const C3: f32 = f32::from_bits(0x3E2A_AD3D);
/// The `t^4` coefficient of `p`, 0x1.573d30p-5.
pub const C4: f32 = f32::from_bits(0x3D2B_9E98);
/// The `t^5` coefficient of `p`, 0x1.0fa614p-7.
pub const C5: f32 = f32::from_bits(0x3C07_D30A);
/// The coarse polynomial `1 + t*(K1 + t*(K2 + t*K3))`, for kernels whose only results are f16
/// or bf16 outputs (at most 11 significant bits): fitted as `C1..C5`, 1.03e-4 relative on
/// `|t| <= 0.3476` (0.11 ulp of f16), two FMAs fewer per element. With it the reduction is
/// always short (its factor, at most 2.4e-7 where `|n| <= 126`, is negligible beside it).
/// `K1`, the `t` coefficient: 0x1.000cfcp+0.
pub const K1: f32 = f32::from_bits(0x3F80_067E);
/// The coarse polynomial's `t^2` coefficient, 0x1.022094p-1.
pub const K2: f32 = f32::from_bits(0x3F01_104A);
/// The coarse polynomial's `t^3` coefficient, 0x1.52453ap-3.
pub const K3: f32 = f32::from_bits(0x3E29_229D);
/// The table form of exp for the terms of an extended sum on AVX2 (`Simd::exp_sum_add`):
/// `exp(x) = 2^(j/8) * 2^n * q(t)` with `8n + j = round(8 x log2(e))`, `j` in `0..8`, and
/// `t = x - (8n + j) * LN2_HI / 8` (the short reduction, with the same factor `e^(n LN2_LO)` as
/// above, to within about 1.1e-9), `|t| <= 0.0439`. `q(t) = 1 + t + Q2 t^2 + Q3 t^3`, fitted
/// as `C1..C5` with the first two coefficients held at 1: 2.7e-8 relative in exact arithmetic,
/// 8.4e-8 evaluated in f32 with FMA; `2^(j/8)` is [`EXP2_EIGHTHS`]`[j]`, within 3.2e-8. Two FMAs
/// fewer per element than `p`. `Q2`, the `t^2` coefficient: 0x1.0008aep-1.
pub const Q2: f32 = f32::from_bits(0x3F00_0457);
/// The table polynomial's `t^3` coefficient, 0x1.55565ep-3.
pub const Q3: f32 = f32::from_bits(0x3E2A_AB2F);
/// `2^(j/8)` rounded to f32, for `j` in `0..8`.
pub const EXP2_EIGHTHS: [f32; 8] = [
    f32::from_bits(0x3F80_0000),
    f32::from_bits(0x3F8B_95C2),
    f32::from_bits(0x3F98_37F0),
    f32::from_bits(0x3FA5_FED7),
    f32::from_bits(0x3FB5_04F3),
    f32::from_bits(0x3FC5_672A),
    f32::from_bits(0x3FD7_44FD),
    f32::from_bits(0x3FEA_C0C7),
];
/// How far above f32's smallest normal (relatively) the flush point lies: covers every
/// approximation error of a kept result (the short reduction's factor, up to 4.5e-5, and the
/// coarse polynomial's 1.03e-4), so no kept result rounds below 2^-126.
pub const FLUSH_MARGIN: f64 = 1.0 / 1024.0;
/// `cutoff(1, 0)`, `ln(2^-126 (1 + FLUSH_MARGIN))` rounded up: below it `exp` is 0.
pub const EXP_CUTOFF: f32 = -87.335_56;
/// The extended-exponent kernels clamp their inputs from below at `-EXT_BOUND` (so `-inf`
/// contributes `e^-EXT_BOUND`, not NaN). Within `[-EXT_BOUND, EXT_BOUND]` the Cody-Waite
/// reduction above is exact to ~1e-12 (|n| <= 23638, and where `x * LOG2E` is rounded before
/// `n` is taken, on scalar, by at most 2^-10, which `p` covers); the short form's factor there
/// reaches 4.5e-5 (`reduced_poly`).
/// A row whose log-sum-exp is not inside `(-EXT_BOUND + EXT_MARGIN, EXT_BOUND - 1)` may hold
/// inputs beyond the bound (above it the terms are garbage, and the sums report such a row at
/// an exponent above the range), and the caller recomputes it on a max-based path.
pub const EXT_BOUND: f32 = 16384.0;
/// How far above `-EXT_BOUND` a log-sum-exp must lie for clamped elements (each at most
/// `e^-EXT_BOUND`, at most 2^64 of them) to be negligible: `2^64 * e^-128` < 1e-36 relative.
pub const EXT_MARGIN: f32 = 128.0;
/// `1.5 * 2^23`: adding it to a float of magnitude below 2^22 rounds it to an integer, which
/// then sits in the low mantissa bits (the exponent-bit reconstruction on AVX2).
pub const ROUND_MAGIC: f32 = 12_582_912.0;

/// `c * p(t)`, the polynomial above (with `COARSE` the coarse one) with every coefficient
/// scaled by `c` (folded away for `c = 1`; a loop-invariant `c` saves the multiplication per
/// element), by [`Simd::mul_add`], or with `FUSED` by [`Simd::fma`] on every ISA.
#[inline(always)]
pub(crate) fn poly<S: Simd, const COARSE: bool, const FUSED: bool>(s: S, t: S::V, c: S::V) -> S::V {
    let k = |v: f32| s.mul(s.splat(v), c);
    let step = |q, t, c| {
        if FUSED {
            s.fma(q, t, c)
        } else {
            s.mul_add(q, t, c)
        }
    };
    let q = if COARSE {
        let q = step(k(K3), t, k(K2));
        step(q, t, k(K1))
    } else {
        let q = step(k(C5), t, k(C4));
        let q = step(q, t, k(C3));
        let q = step(q, t, k(C2));
        step(q, t, k(C1))
    };
    step(q, t, c)
}

/// Below it `exp_exact` is 0 (the `n = -126` of its reduction, from `-125.5 ln 2`, about
/// -86.99, down); its arguments are clamped to it.
pub const EXP_EXACT_FLOOR: f32 = -87.0;

/// `exp(d)` for `d <= 0` the same to the bit on every ISA and build (sampling's masses): IEEE
/// operations in a fixed order, every fused multiply-add rounded once (scalar's `fma` is
/// exact too) -- the two-step Cody-Waite reduction with `n` rounded by [`ROUND_MAGIC`], the
/// polynomial fused, and `2^n` from exponent bits ([`Simd::mul_pow2_flush`]). 0 below about
/// -86.99 (and for `-inf`), NaN for NaN; every other result is normal. Within 2 ulp of `exp`
/// (test `exp_exact_error`).
#[inline(always)]
pub(crate) fn exp_exact<S: Simd>(s: S, d: S::V) -> S::V {
    // The operand order of max keeps a NaN d.
    let d = s.max(s.splat(EXP_EXACT_FLOOR), d);
    let z = s.fma(d, s.splat(LOG2E), s.splat(ROUND_MAGIC));
    let n = s.sub(z, s.splat(ROUND_MAGIC));
    let t = s.fma(n, s.splat(-LN2_HI), d);
    let t = s.fma(n, s.splat(-LN2_LO), t);
    // 2 p(t) * 2^(n - 1): 2 p in [1.41, 2.83] keeps the product normal down to n = -125.
    s.mul_pow2_flush(poly::<S, false, true>(s, t, s.splat(2.0)), n)
}

/// `c * p(x - n * ln(2))` for an integral `n` near `x * LOG2E`: Cody-Waite in two FMAs, or
/// with `SHORT` in one (`t = x - n * LN2_HI`). The short result is `exp(x)` times
/// `e^(n * LN2_LO)`, off by up to `|n| * 1.9e-9` relative: at most 2.4e-7 where `|n| <= 126`
/// (arguments `x - m` of a flushed exp), and for any `n` the same factor for the same `n`,
/// which cancels in two-pass softmax's ratio of its paired passes (below 4e-7 for every
/// output above 2^-126; [`crate::ops::vscaleextexp`]).
#[inline(always)]
pub(crate) fn reduced_poly<S: Simd, const SHORT: bool, const COARSE: bool>(
    s: S,
    x: S::V,
    n: S::V,
    c: S::V,
) -> S::V {
    let t = s.fma(n, s.splat(-LN2_HI), x);
    let t = if SHORT {
        t
    } else {
        s.fma(n, s.splat(-LN2_LO), t)
    };
    poly::<S, COARSE, false>(s, t, c)
}

/// `(c * p, n)` with `c * exp(x) = c * p * 2^n`; needs `|x * LOG2E| < 2^22`.
#[inline(always)]
fn split<S: Simd, const SHORT: bool, const COARSE: bool>(s: S, x: S::V, c: S::V) -> (S::V, S::V) {
    let n = s.round_product(x, s.splat(LOG2E));
    (reduced_poly::<S, SHORT, COARSE>(s, x, n, c), n)
}

/// `c = m * 2^k` with `|m|` in `[2^-0.5, 2^0.5)` and `k` integral (as `(m, k)`): with `p` in
/// `[2^-0.5, 2^0.5]`, `|m * p|` lies in [0.5, 2), so a result of at least 2^-126 has `n >= -126`
/// and both factors of `(m * p) * 2^n` are normal (and `n <= 127` reaches f32's top). 0 is taken
/// as `2^-2^20`, which
/// flushes every result (and keeps the lanes below the cutoff finite where they are computed at
/// it); `(c, 0)` for NaN and infinities.
pub(crate) fn split_pow2(c: f32) -> (f32, f64) {
    if c == 0.0 {
        return (1.0, -1_048_576.0);
    }
    if !c.is_finite() {
        return (c, 0.0);
    }
    // Every f32 is a normal f64, whose exponent field gives |c| / 2^k in [1, 2); above 2^0.5
    // one more power of two.
    let k = ((f64::from(c).to_bits() >> 52) & 0x7FF) as i32 - 1023;
    let m = f64::from(c) * f64::from_bits(((1023 - k) as u64) << 52);
    if m.abs() < std::f64::consts::SQRT_2 {
        (m as f32, f64::from(k))
    } else {
        ((m / 2.0) as f32, f64::from(k + 1))
    }
}

/// The largest exponent an extended sum of inputs within `[-EXT_BOUND, EXT_BOUND]` takes
/// (`EXT_BOUND / ln 2` is 23637), with room.
pub(crate) const EXT_EXPONENTS: f32 = 24000.0;

/// `ln v` for a positive normal f64 (anything else gives an unspecified value): `v = m 2^k`
/// with `m` in `[2^-0.5, 2^0.5)`, `ln m = 2 atanh(u)`, `u = (m - 1) / (m + 1)`, `|u| <= 0.172`,
/// to its `u^15` term (within 1e-14, the series' truncation at the largest `|u|`, plus a few
/// roundings). No libm call and no branch, so a loop of them
/// vectorises at the ISA's width: per column of an axis, a libm `ln` took 23% of a 21-row
/// log-sum-exp (AVX-512, Zen 4).
#[inline(always)]
pub(crate) fn ln(v: f64) -> f64 {
    /// 2^52 + 1023: with an exponent field in the low bits of 2^52's, the unbiased exponent.
    const EXPONENT_BIAS: f64 = 4_503_599_627_371_519.0;
    let bits = v.to_bits();
    let k = f64::from_bits(0x4330_0000_0000_0000 | ((bits >> 52) & 0x7FF)) - EXPONENT_BIAS;
    let m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000);
    let high = m > std::f64::consts::SQRT_2;
    let (m, k) = (
        if high { m * 0.5 } else { m },
        if high { k + 1.0 } else { k },
    );
    let u = (m - 1.0) / (m + 1.0);
    let u2 = u * u;
    let tail = 1.0 / 9.0 + u2 * (1.0 / 11.0 + u2 * (1.0 / 13.0 + u2 / 15.0));
    let series = 1.0 + u2 * (1.0 / 3.0 + u2 * (1.0 / 5.0 + u2 * (1.0 / 7.0 + u2 * tail)));
    k * std::f64::consts::LN_2 + 2.0 * u * series
}

/// The least f32 `x` with `|c| * exp(x) * 2^-e >= 2^-126 * (1 + FLUSH_MARGIN)`, for `|c|` in
/// `[2^-0.5, 2^0.5]` (from [`split_pow2`]): where [`crate::simd::Simd::exp_scaled`] starts
/// computing. No libm call (a call costs more than a short row's whole pass): [`ln`].
pub(crate) fn cutoff(c: f32, e: f64) -> f32 {
    /// `ln(1 + FLUSH_MARGIN)`.
    const LN_1P_MARGIN: f64 = 9.760_859_730_554_589e-4;
    let v = (e - 126.0) * std::f64::consts::LN_2 + LN_1P_MARGIN - ln(f64::from(c.abs()));
    let x = v as f32;
    if f64::from(x) < v {
        x.next_up()
    } else {
        x
    }
}

/// `c * exp(max(x, -EXT_BOUND)) = (c * p) * 2^n` kept apart (extended exponent), in the short
/// form ([`reduced_poly`]); NaN stays NaN. For `x <= EXT_BOUND`, `p` lies in
/// `[0.70, 1.42]` and `n` is integral.
#[inline(always)]
pub(crate) fn exp_ext<S: Simd, const COARSE: bool>(s: S, x: S::V, c: S::V) -> (S::V, S::V) {
    // Operand order keeps a NaN `x` (max returns its second operand on NaN).
    split::<S, true, COARSE>(s, s.max(s.splat(-EXT_BOUND), x), c)
}

#[cfg(test)]
mod tests {
    /// `ln` against libm's over the sums it takes (1 up to 2^80, every mantissa region, both
    /// sides of 2^0.5) and `cutoff`'s factors in `[2^-0.5, 2^0.5]`: within `2e-14 + 1e-15 |ln v|`.
    #[test]
    fn ln_error() {
        let mut v = 0.70f64;
        let mut worst = 0.0f64;
        while v < 1.2e24 {
            let (got, want) = (super::ln(v), v.ln());
            let err = (got - want).abs() / (2e-14 + 1e-15 * want.abs());
            worst = worst.max(err);
            assert!(err <= 1.0, "ln({v:e}) = {got} against {want}");
            v *= 1.000_137;
        }
        assert!(worst > 0.0, "compared nothing");
        assert_eq!(super::ln(1.0), 0.0);
    }

    /// On the scalar path (the same bits as every ISA's, which tests/sample.rs checks).
    #[test]
    fn exp_exact_error() {
        use super::{exp_exact, EXP_EXACT_FLOOR};
        let e = |d: f32| exp_exact(crate::scalar::Scalar, d);
        let mut worst = 0.0f64;
        let mut d = 0.0f32;
        while d >= -86.98 {
            let exact = f64::from(d).exp();
            let y = exact as f32;
            let ulp = f64::from(y.next_up() - y);
            worst = worst.max((f64::from(e(d)) - exact).abs() / ulp);
            d -= 0.000_37;
        }
        assert!(worst <= 2.0, "{worst} ulp");
        assert_eq!(e(0.0), 1.0);
        assert!(e(-86.98).is_normal());
        for d in [-87.0, EXP_EXACT_FLOOR, -1e30, f32::NEG_INFINITY] {
            assert_eq!(e(d), 0.0, "{d}");
        }
        assert!(e(f32::NAN).is_nan());
    }

    /// The table entries are the f32 nearest `2^(j/8)`, and the table polynomial meets its
    /// bound on `|t| <= 0.0439` evaluated with FMA.
    #[test]
    fn table_form_constants() {
        use super::{EXP2_EIGHTHS, Q2, Q3};
        for (j, &v) in EXP2_EIGHTHS.iter().enumerate() {
            assert_eq!(v, 2f64.powf(j as f64 / 8.0) as f32, "{j}");
        }
        let mut worst = 0.0f64;
        for i in -10_000..=10_000 {
            let t = (0.0439 * f64::from(i) / 10_000.0) as f32;
            let q = Q3.mul_add(t, Q2).mul_add(t, 1.0).mul_add(t, 1.0);
            worst = worst.max((f64::from(q) / f64::from(t).exp() - 1.0).abs());
        }
        assert!(worst < 9e-8, "{worst}");
    }

    #[test]
    fn exp_cutoff_is_the_cutoff_of_exp() {
        assert_eq!(super::cutoff(1.0, 0.0), super::EXP_CUTOFF);
        assert_eq!((super::FLUSH_MARGIN).ln_1p(), 9.760_859_730_554_589e-4);
    }

    /// The cutoff against libm's logarithm, over the factors `split_pow2` gives.
    #[test]
    fn cutoff_matches_the_exact_one() {
        for i in 0..=1000 {
            let c = (2f64.powf(-0.5 + f64::from(i) / 1000.0)) as f32;
            for e in [-300.0, -1.0, 0.0, 5.0, 23000.0] {
                let exact = (e - 126.0) * std::f64::consts::LN_2 + super::FLUSH_MARGIN.ln_1p()
                    - f64::from(c).ln();
                let x = super::cutoff(c, e);
                assert!(
                    f64::from(x) >= exact - 1e-7 * exact.abs().max(1.0),
                    "{c} {e}"
                );
                assert!(
                    f64::from(x) <= exact + 1e-5 * exact.abs().max(1.0),
                    "{c} {e}"
                );
            }
        }
    }
}
