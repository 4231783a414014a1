//! Portable kernels: the generic algorithms with one lane per "vector".
//!
//! `fma` (the range reduction) is computed in f64: the product of two f32 is exact there, so
//! the only roundings are of the sum (to f64, then to f32); where the exact result fits an f32,
//! as in the reduction's first step, it is exact like a fused multiply-add, without a libm
//! call. The polynomial uses plain `a * b + c` (`mul_add`): two roundings, a few times faster.

use crate::exp::{reduced_poly, LOG2E, ROUND_MAGIC};
use crate::simd::Simd;

/// The one-lane vocabulary.
#[derive(Clone, Copy)]
pub(crate) struct Scalar;

impl Simd for Scalar {
    const LANES: usize = 1;
    type V = f32;
    type M = bool;
    type Lanes = [f32; 1];
    type WideLanes = [f64; 1];
    const WIDE_ZERO: [f64; 1] = [0.0];

    #[inline(always)]
    fn splat(self, v: f32) -> f32 {
        v
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> f32 {
        // SAFETY: the caller guarantees p is readable.
        unsafe { p.read() }
    }
    #[inline(always)]
    unsafe fn load_tail(self, _: *const f32, _: usize, fill: f32) -> f32 {
        // With one lane a tail is empty.
        fill
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: f32) {
        // SAFETY: the caller guarantees p is writable.
        unsafe { p.write(v) }
    }
    #[inline(always)]
    unsafe fn store_tail(self, _: *mut f32, _: usize, _: f32) {}
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32, v: f32) {
        // SAFETY: the caller guarantees p is writable.
        unsafe { p.write(v) }
    }
    #[inline(always)]
    fn fence(self) {}
    #[inline(always)]
    unsafe fn load_f16(self, p: *const u16, len: usize) -> f32 {
        if len == 0 {
            0.0
        } else {
            // SAFETY: the caller guarantees p..p + len is readable, and len > 0.
            half::f16::from_bits(unsafe { p.read() }).to_f32()
        }
    }
    #[inline(always)]
    unsafe fn load_bf16(self, p: *const u16, len: usize) -> f32 {
        if len == 0 {
            0.0
        } else {
            // SAFETY: the caller guarantees p..p + len is readable, and len > 0.
            half::bf16::from_bits(unsafe { p.read() }).to_f32()
        }
    }
    #[inline(always)]
    unsafe fn store_f16(self, p: *mut u16, len: usize, v: f32) {
        if len > 0 {
            // SAFETY: the caller guarantees p..p + len is writable.
            unsafe { p.write(half::f16::from_f32(v).to_bits()) }
        }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16, len: usize, v: f32) {
        if len > 0 {
            // SAFETY: the caller guarantees p..p + len is writable.
            unsafe { p.write(half::bf16::from_f32(v).to_bits()) }
        }
    }
    #[inline(always)]
    fn tail_mask(self, len: usize) -> bool {
        len > 0
    }
    #[inline(always)]
    fn add(self, a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    fn sub(self, a: f32, b: f32) -> f32 {
        a - b
    }
    #[inline(always)]
    fn mul(self, a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    fn fma(self, a: f32, b: f32, c: f32) -> f32 {
        // a * b is exact in f64. Their sum is rounded to odd (its last bit set where the f64
        // sum is inexact, from the TwoSum error), which makes the one rounding to f32 that
        // follows the correctly rounded a * b + c (Boldo and Melquiond): the same bits as a
        // hardware FMA, without the double rounding of a plain f64 sum.
        let (p, c) = (f64::from(a) * f64::from(b), f64::from(c));
        let s = p + c;
        let v = s - p;
        let err = (p - (s - v)) + (c - v);
        let bits = s.to_bits();
        let odd = if err != 0.0 && s.is_finite() && bits & 1 == 0 {
            // One step towards the exact value, which lies within half an ulp of s.
            if (err > 0.0) == (s > 0.0) {
                bits + 1
            } else {
                bits - 1
            }
        } else {
            bits
        };
        f64::from_bits(odd) as f32
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    fn max(self, a: f32, b: f32) -> f32 {
        if a > b {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn min(self, a: f32, b: f32) -> f32 {
        if a < b {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn round_product(self, a: f32, b: f32) -> f32 {
        // The product rounded (no FMA on baseline x86-64: `mul_add` is a libm call there), then
        // 1.5 * 2^23 added, which leaves no fraction bits (round to nearest even), without the
        // libm call `round_ties_even` makes. Exact for |a * b| < 2^22; from there the product
        // itself (an integer from 2^23 on).
        let a = a * b;
        if a.abs() < 4_194_304.0 {
            (a + ROUND_MAGIC) - ROUND_MAGIC
        } else {
            a
        }
    }
    #[inline(always)]
    fn abs(self, a: f32) -> f32 {
        a.abs()
    }
    #[inline(always)]
    fn lt(self, a: f32, b: f32) -> bool {
        a < b
    }
    #[inline(always)]
    fn nlt(self, a: f32, b: f32) -> bool {
        a >= b || a.is_nan() || b.is_nan()
    }
    #[inline(always)]
    fn mul_or_zero(self, m: bool, a: f32, b: f32) -> f32 {
        // The operand is selected, not the product: a compiler may compute both arms of a
        // select of products (no side effects in its model), and `0 * b` is exact.
        (if m { a } else { 0.0 }) * b
    }
    #[inline(always)]
    fn select(self, m: bool, a: f32, b: f32) -> f32 {
        if m {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn any(self, m: bool) -> bool {
        m
    }
    #[inline(always)]
    fn mul_pow2_flush(self, q: f32, n: f32) -> f32 {
        // A NaN n converts to 0 (a finite power of two): the callers derive n and q from one
        // value, so q is NaN there too.
        q * f32::from_bits(((n as i32 + 126) as u32) << 23)
    }
    #[inline(always)]
    fn exp_scaled<const SHORT: bool, const COARSE: bool, const ZERO: bool, const WIDE: bool>(
        self,
        x: f32,
        e: f32,
        c: f32,
        cutoff: f32,
    ) -> (f32, f32) {
        // Below the cutoff the result is 0, ZERO or not. The operand is clamped to the cutoff
        // as well as the result selected: a compiler that if-converts this (vectorising a loop
        // of scalar calls, as it does down a tile's columns) then computes the value at the
        // cutoff, never a subnormal. (NaN is not below: it stays.)
        let below = x < cutoff;
        let x = if below { cutoff } else { x };
        let n = self.round_product(x, LOG2E);
        // As on AVX2: a kept result is at least 2^-126, so n - e >= -126, and c * p * 2^(n - e)
        // has normal factors. The exponent bits of 2^(n - e): those of +inf from 128 on (and 0
        // for NaN, whose p is NaN).
        let p = reduced_poly::<Self, SHORT, COARSE>(self, x, n, c);
        let d = n - e;
        let b = (self.max(d, -127.0).min(128.0) as i32 + 127) as u32;
        if below {
            (0.0, f32::NEG_INFINITY)
        } else {
            (p * f32::from_bits(b << 23), d)
        }
    }
    #[inline(always)]
    fn lanes(self, v: f32) -> [f32; 1] {
        [v]
    }
}

#[inline(always)]
fn enter<R>(f: impl FnOnce(Scalar) -> R) -> R {
    f(Scalar)
}

crate::table::isa_table!(crate::Isa::Scalar, Scalar, "scalar", "u4-acc4", enter);
