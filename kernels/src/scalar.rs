//! Portable kernels: the generic algorithms with one lane per "vector".
//!
//! `fma` is `f32::mul_add` (a single rounding, as on the SIMD paths; on a CPU without FMA it
//! is slower, not less exact), so the range reduction stays exact.

use crate::simd::Simd;

/// The one-lane vocabulary.
#[derive(Clone, Copy)]
pub(crate) struct Scalar;

impl Simd for Scalar {
    const LANES: usize = 1;
    type V = f32;
    type M = bool;

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
        a.mul_add(b, c)
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
    fn round(self, a: f32) -> f32 {
        a.round_ties_even()
    }
    #[inline(always)]
    fn ldexp(self, a: f32, d: f32) -> f32 {
        // Exponent bits of 2^d; d = -127 (and below, and NaN) gives the bits of +0.
        let d = self.max(d, -127.0) as i32;
        a * f32::from_bits(((d + 127) as u32) << 23)
    }
    #[inline(always)]
    fn lt(self, a: f32, b: f32) -> bool {
        a < b
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
    fn lanes(self, v: f32) -> [f32; 16] {
        let mut l = [0.0; 16];
        l[0] = v;
        l
    }
}

#[inline(always)]
fn enter<R>(f: impl FnOnce(Scalar) -> R) -> R {
    f(Scalar)
}

crate::table::isa_table!(TABLE, crate::Isa::Scalar, "scalar-p5-u4-acc4", enter);
