//! AVX-512 kernels (x86-64-v4): 16 lanes, masked tails, `2^n` by VSCALEFPS.

use core::arch::x86_64::*;

use pulp::x86::V4;

use crate::exp::{reduced_poly, LOG2E};
use crate::simd::Simd;

/// Whether this CPU runs the AVX-512 kernels.
pub(crate) fn available() -> bool {
    V4::is_available()
}

/// The 16-lane vocabulary.
#[derive(Clone, Copy)]
pub(crate) struct Avx512<const HW_BF16: bool>(V4);

impl<const HW_BF16: bool> Simd for Avx512<HW_BF16> {
    const LANES: usize = 16;
    type V = __m512;
    type M = __mmask16;
    type Lanes = [f32; 16];
    type WideLanes = [f64; 16];
    const WIDE_ZERO: [f64; 16] = [0.0; 16];

    #[inline(always)]
    fn splat(self, v: f32) -> __m512 {
        self.0.avx512f._mm512_set1_ps(v)
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees 16 readable elements.
        unsafe { self.0.avx512f._mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_tail(self, p: *const f32, len: usize, fill: f32) -> __m512 {
        let f = self.0.avx512f;
        // SAFETY: the masked load touches only the first len elements, which are readable.
        unsafe { f._mm512_mask_loadu_ps(f._mm512_set1_ps(fill), self.tail_mask(len), p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m512) {
        // SAFETY: the caller guarantees 16 writable elements.
        unsafe { self.0.avx512f._mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, len: usize, v: __m512) {
        // SAFETY: the masked store touches only the first len elements, which are writable.
        unsafe {
            self.0
                .avx512f
                ._mm512_mask_storeu_ps(p, self.tail_mask(len), v)
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32, v: __m512) {
        // SAFETY: the caller guarantees 16 writable elements at a 64-byte aligned p.
        unsafe { self.0.avx512f._mm512_stream_ps(p, v) }
    }
    #[inline(always)]
    fn prefetch(self, p: *const u8) {
        // SAFETY: a prefetch reads nothing architecturally and never faults, whatever `p`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
    #[inline(always)]
    fn fence(self) {
        self.0.sse._mm_sfence()
    }
    #[inline(always)]
    unsafe fn load_f16(self, p: *const u16, len: usize) -> __m512 {
        // SAFETY: the masked load reads only p..p + len.
        let h = unsafe {
            self.0
                .avx512bw
                ._mm256_maskz_loadu_epi16(self.tail_mask(len), p.cast())
        };
        self.0.avx512f._mm512_cvtph_ps(h)
    }
    #[inline(always)]
    unsafe fn load_bf16(self, p: *const u16, len: usize) -> __m512 {
        let f = self.0.avx512f;
        // SAFETY: the masked load reads only p..p + len.
        let h = unsafe {
            self.0
                .avx512bw
                ._mm256_maskz_loadu_epi16(self.tail_mask(len), p.cast())
        };
        f._mm512_castsi512_ps(f._mm512_slli_epi32::<16>(f._mm512_cvtepu16_epi32(h)))
    }
    #[inline(always)]
    unsafe fn store_f16(self, p: *mut u16, len: usize, v: __m512) {
        let h = self
            .0
            .avx512f
            ._mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
        // SAFETY: the masked store writes only p..p + len.
        unsafe {
            self.0
                .avx512bw
                ._mm256_mask_storeu_epi16(p.cast(), self.tail_mask(len), h)
        }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16, len: usize, v: __m512) {
        let f = self.0.avx512f;
        if HW_BF16 {
            // SAFETY: `Avx512<true>` exists only inside `hw_bf16::enter`, whose context enables
            // AVX-512 BF16; the masked store writes only p..p + len.
            unsafe {
                let h: __m256i = core::mem::transmute(_mm512_cvtneps_pbh(v));
                return self
                    .0
                    .avx512bw
                    ._mm256_mask_storeu_epi16(p.cast(), self.tail_mask(len), h);
            }
        }
        let bits = f._mm512_castps_si512(v);
        // Round to nearest even on the upper 16 bits; a NaN keeps its top bits, made quiet.
        let odd = f._mm512_and_si512(f._mm512_srli_epi32::<16>(bits), f._mm512_set1_epi32(1));
        let rounded = f._mm512_srli_epi32::<16>(
            f._mm512_add_epi32(bits, f._mm512_add_epi32(odd, f._mm512_set1_epi32(0x7FFF))),
        );
        let quiet = f._mm512_or_si512(f._mm512_srli_epi32::<16>(bits), f._mm512_set1_epi32(0x40));
        let nan = f._mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        let h = f._mm512_cvtepi32_epi16(f._mm512_mask_blend_epi32(nan, rounded, quiet));
        // SAFETY: the masked store writes only p..p + len.
        unsafe {
            self.0
                .avx512bw
                ._mm256_mask_storeu_epi16(p.cast(), self.tail_mask(len), h)
        }
    }
    #[inline(always)]
    fn tail_mask(self, len: usize) -> __mmask16 {
        ((1u32 << len) - 1) as __mmask16
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_add_ps(a, b)
    }
    #[inline(always)]
    fn sub(self, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_sub_ps(a, b)
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_mul_ps(a, b)
    }
    #[inline(always)]
    fn fma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        self.0.avx512f._mm512_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    fn max(self, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_max_ps(a, b)
    }
    #[inline(always)]
    fn min(self, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_min_ps(a, b)
    }
    #[inline(always)]
    fn abs(self, a: __m512) -> __m512 {
        self.0.avx512f._mm512_abs_ps(a)
    }
    #[inline(always)]
    fn lt(self, a: __m512, b: __m512) -> __mmask16 {
        self.0.avx512f._mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b)
    }
    #[inline(always)]
    fn nlt(self, a: __m512, b: __m512) -> __mmask16 {
        self.0.avx512f._mm512_cmp_ps_mask::<_CMP_NLT_UQ>(a, b)
    }
    #[inline(always)]
    fn mul_or_zero(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
        // Masked-out lanes are neither computed nor raise anything.
        self.0.avx512f._mm512_maskz_mul_ps(m, a, b)
    }
    #[inline(always)]
    fn select(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_mask_blend_ps(m, b, a)
    }
    #[inline(always)]
    fn any(self, m: __mmask16) -> bool {
        m != 0
    }
    #[inline(always)]
    fn mul_pow2_flush(self, q: __m512, n: __m512) -> __m512 {
        // Lanes at n = -126 are masked out of VSCALEFPS (0, nothing computed); "not less or
        // equal" keeps NaN lanes.
        let f = self.0.avx512f;
        let keep = f._mm512_cmp_ps_mask::<_CMP_NLE_UQ>(n, f._mm512_set1_ps(-126.0));
        f._mm512_maskz_scalef_ps(keep, q, f._mm512_sub_ps(n, f._mm512_set1_ps(1.0)))
    }
    #[inline(always)]
    fn exp_scaled<const SHORT: bool, const COARSE: bool, const ZERO: bool, const WIDE: bool>(
        self,
        x: __m512,
        e: __m512,
        c: __m512,
        cutoff: __m512,
    ) -> (__m512, __m512) {
        // VSCALEFPS takes any exponent: WIDE needs nothing more.
        let f = self.0.avx512f;
        // Without ZERO, lanes below the cutoff are computed at it (the operand order of max
        // keeps a NaN x).
        let x = if ZERO { x } else { f._mm512_max_ps(cutoff, x) };
        let n = self.round_product(x, f._mm512_set1_ps(LOG2E));
        let d = f._mm512_sub_ps(n, e);
        let p = reduced_poly::<_, SHORT, COARSE>(self, x, n, c);
        // With ZERO, lanes below the cutoff (-inf and huge negative x included, whose p is
        // garbage) are masked out of VSCALEFPS: 0, no subnormal computed. "Not less than"
        // keeps NaN lanes.
        let y = if ZERO {
            f._mm512_maskz_scalef_ps(self.nlt(x, cutoff), p, d)
        } else {
            f._mm512_scalef_ps(p, d)
        };
        (y, d)
    }
    #[inline(always)]
    fn lanes(self, v: __m512) -> [f32; 16] {
        let mut l = [0.0; 16];
        // SAFETY: l has room for 16 f32.
        unsafe { self.0.avx512f._mm512_storeu_ps(l.as_mut_ptr(), v) };
        l
    }
}

#[inline(always)]
fn enter<R>(f: impl FnOnce(Avx512<false>) -> R) -> R {
    // SAFETY: TABLE, the only user of these functions, is handed out only after `available()`.
    let token = unsafe { V4::new_unchecked() };
    token.vectorize(
        #[inline(always)]
        move || f(Avx512(token)),
    )
}

crate::table::isa_table!(
    crate::Isa::Avx512,
    Avx512<false>,
    "avx512f",
    "scalef-u64-acc4",
    enter
);

/// The bf16 kernels: with `VCVTNEPS2BF16` stores where the CPU has AVX-512 BF16.
pub(crate) fn table_bf16() -> Option<&'static crate::Table<half::bf16>> {
    if !available() {
        None
    } else if hw_bf16::V4Bf16::is_available() {
        Some(&hw_bf16::TABLE_BF16)
    } else {
        Some(&TABLE_BF16)
    }
}

/// The AVX-512 kernels with AVX-512 BF16 conversions, for bf16 outputs.
mod hw_bf16 {
    use pulp::x86::V4;

    use super::Avx512;

    pulp::simd_type! {
        /// x86-64-v4 plus AVX-512 BF16.
        pub struct V4Bf16 {
            pub sse: "sse",
            pub sse2: "sse2",
            pub fxsr: "fxsr",
            pub sse3: "sse3",
            pub ssse3: "ssse3",
            pub sse4_1: "sse4.1",
            pub sse4_2: "sse4.2",
            pub popcnt: "popcnt",
            pub avx: "avx",
            pub avx2: "avx2",
            pub bmi1: "bmi1",
            pub bmi2: "bmi2",
            pub fma: "fma",
            pub lzcnt: "lzcnt",
            pub avx512f: "avx512f",
            pub avx512bw: "avx512bw",
            pub avx512cd: "avx512cd",
            pub avx512dq: "avx512dq",
            pub avx512vl: "avx512vl",
            pub avx512bf16: "avx512bf16",
        }
    }

    #[inline(always)]
    fn enter<R>(f: impl FnOnce(Avx512<true>) -> R) -> R {
        // SAFETY: TABLE_BF16, the only user of these functions, is handed out only after
        // `V4Bf16::is_available()`, whose features include all of V4's.
        let (token, v4) = unsafe { (V4Bf16::new_unchecked(), V4::new_unchecked()) };
        token.vectorize(
            #[inline(always)]
            move || f(Avx512(v4)),
        )
    }

    crate::table::isa_table!(crate::Isa::Avx512, Avx512<true>, "avx512bf16", "scalef-u64-acc4", enter;
        TABLE_BF16: half::bf16 = "bf16", "p5-p3out");
}
