//! AVX2 + FMA + F16C kernels: 8 lanes, `2^n` built in the exponent bits.

use core::arch::x86_64::*;

use crate::exp::{reduced_poly, EXP2_EIGHTHS, LN2_HI, LOG2E, Q2, Q3, ROUND_MAGIC};
use crate::simd::Simd;

pulp::simd_type! {
    /// x86-64-v3 (AVX2, FMA, BMI1/2, LZCNT) plus F16C, which pulp's `V3` lacks.
    pub struct V3F16c {
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
        pub f16c: "f16c",
    }
}

/// Whether this CPU runs the AVX2 kernels.
pub(crate) fn available() -> bool {
    V3F16c::is_available()
}

/// The 8-lane vocabulary.
#[derive(Clone, Copy)]
pub(crate) struct Avx2(V3F16c);

impl Simd for Avx2 {
    const LANES: usize = 8;
    type V = __m256;
    type M = __m256;
    type Lanes = [f32; 8];
    type WideLanes = [f64; 8];
    const WIDE_ZERO: [f64; 8] = [0.0; 8];

    #[inline(always)]
    fn splat(self, v: f32) -> __m256 {
        self.0.avx._mm256_set1_ps(v)
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable elements.
        unsafe { self.0.avx._mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_tail(self, p: *const f32, len: usize, fill: f32) -> __m256 {
        let m = self.tail_mask(len);
        // SAFETY: the masked load touches only the first len elements, which are readable.
        let v = unsafe {
            self.0
                .avx
                ._mm256_maskload_ps(p, self.0.avx._mm256_castps_si256(m))
        };
        self.select(m, v, self.splat(fill))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m256) {
        // SAFETY: the caller guarantees 8 writable elements.
        unsafe { self.0.avx._mm256_storeu_ps(p, v) }
    }
    /// In pieces of 4, 2 and 1 lanes: a masked store (`vmaskmovps`) is microcoded on AMD
    /// (Zen 4: an axis of 20 columns, a masked store per row and pass, ran 2.5x the contiguous
    /// rows).
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, len: usize, v: __m256) {
        let (sse, avx) = (self.0.sse, self.0.avx);
        let (mut p, mut len, mut part) = (p, len, avx._mm256_castps256_ps128(v));
        // SAFETY: each store writes only lanes below len, at p..p + len, which are writable.
        unsafe {
            if len >= 8 {
                return _mm256_storeu_ps(p, v);
            }
            if len >= 4 {
                _mm_storeu_ps(p, part);
                (p, len, part) = (p.add(4), len - 4, avx._mm256_extractf128_ps::<1>(v));
            }
            if len >= 2 {
                _mm_store_sd(p.cast(), _mm_castps_pd(part));
                (p, len, part) = (p.add(2), len - 2, sse._mm_movehl_ps(part, part));
            }
            if len == 1 {
                _mm_store_ss(p, part);
            }
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32, v: __m256) {
        // SAFETY: the caller guarantees 8 writable elements at a 32-byte aligned p.
        unsafe { self.0.avx._mm256_stream_ps(p, v) }
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
    unsafe fn load_f16(self, p: *const u16, len: usize) -> __m256 {
        // SAFETY: reads only p..p + len (whole vector, or through a zeroed copy); the token
        // proves F16C.
        unsafe { _mm256_cvtph_ps(load_u16x8(p, len)) }
    }
    #[inline(always)]
    unsafe fn load_bf16(self, p: *const u16, len: usize) -> __m256 {
        // SAFETY: reads only p..p + len.
        let h = unsafe { load_u16x8(p, len) };
        let avx2 = self.0.avx2;
        self.0
            .avx
            ._mm256_castsi256_ps(avx2._mm256_slli_epi32::<16>(avx2._mm256_cvtepu16_epi32(h)))
    }
    #[inline(always)]
    unsafe fn store_f16(self, p: *mut u16, len: usize, v: __m256) {
        // SAFETY: the token proves F16C; writes only p..p + len.
        unsafe { store_u16x8(p, len, _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v)) }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16, len: usize, v: __m256) {
        let (avx, avx2) = (self.0.avx, self.0.avx2);
        let bits = avx._mm256_castps_si256(v);
        // Round to nearest even on the upper 16 bits; a NaN keeps its top bits, made quiet.
        let odd =
            avx2._mm256_and_si256(avx2._mm256_srli_epi32::<16>(bits), avx._mm256_set1_epi32(1));
        let bias = avx2._mm256_add_epi32(odd, avx._mm256_set1_epi32(0x7FFF));
        let rounded = avx2._mm256_srli_epi32::<16>(avx2._mm256_add_epi32(bits, bias));
        let quiet = avx2._mm256_or_si256(
            avx2._mm256_srli_epi32::<16>(bits),
            avx._mm256_set1_epi32(0x40),
        );
        let nan = avx._mm256_castps_si256(avx._mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
        let h = avx._mm256_blendv_ps(
            avx._mm256_castsi256_ps(rounded),
            avx._mm256_castsi256_ps(quiet),
            avx._mm256_castsi256_ps(nan),
        );
        let packed =
            avx2._mm256_packus_epi32(avx._mm256_castps_si256(h), avx._mm256_castps_si256(h));
        let low = avx._mm256_castsi256_si128(avx2._mm256_permute4x64_epi64::<0b1000>(packed));
        // SAFETY: writes only p..p + len.
        unsafe { store_u16x8(p, len, low) }
    }
    #[inline(always)]
    fn tail_mask(self, len: usize) -> __m256 {
        let avx = self.0.avx;
        let lane = avx._mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
        avx._mm256_cmp_ps::<_CMP_LT_OQ>(lane, avx._mm256_set1_ps(len as f32))
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_add_ps(a, b)
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_sub_ps(a, b)
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_mul_ps(a, b)
    }
    #[inline(always)]
    fn fma(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        self.0.fma._mm256_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    fn max(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_max_ps(a, b)
    }
    #[inline(always)]
    fn min(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_min_ps(a, b)
    }
    #[inline(always)]
    fn abs(self, a: __m256) -> __m256 {
        self.0.avx._mm256_andnot_ps(self.splat(-0.0), a)
    }
    #[inline(always)]
    fn lt(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_cmp_ps::<_CMP_LT_OQ>(a, b)
    }
    #[inline(always)]
    fn nlt(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_cmp_ps::<_CMP_NLT_UQ>(a, b)
    }
    #[inline(always)]
    fn mul_or_zero(self, m: __m256, a: __m256, b: __m256) -> __m256 {
        // The mask's lanes are all ones or all zeros: `and` zeroes a before the product.
        let avx = self.0.avx;
        avx._mm256_mul_ps(avx._mm256_and_ps(m, a), b)
    }
    #[inline(always)]
    fn select(self, m: __m256, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_blendv_ps(b, a, m)
    }
    #[inline(always)]
    fn any(self, m: __m256) -> bool {
        self.0.avx._mm256_movemask_ps(m) != 0
    }
    #[inline(always)]
    fn mul_pow2_flush(self, q: __m256, n: __m256) -> __m256 {
        // A NaN n converts to i32::MIN, whose sign bit shifts out (a finite power of two): the
        // callers derive n and q from one value, so q is NaN there too.
        let (avx, avx2) = (self.0.avx, self.0.avx2);
        let field = avx2._mm256_add_epi32(avx._mm256_cvtps_epi32(n), avx._mm256_set1_epi32(126));
        let pow2 = avx._mm256_castsi256_ps(avx2._mm256_slli_epi32::<23>(field));
        avx._mm256_mul_ps(q, pow2)
    }
    #[inline(always)]
    fn exp_scaled<const SHORT: bool, const COARSE: bool, const ZERO: bool, const WIDE: bool>(
        self,
        x: __m256,
        e: __m256,
        c: __m256,
        cutoff: __m256,
    ) -> (__m256, __m256) {
        let (avx, avx2) = (self.0.avx, self.0.avx2);
        // Lanes below the cutoff are computed at it (so p is finite for -inf and huge negative
        // x, and z stays in range), and with ZERO their 2^(n - e) zeroed before the product
        // (the comparison's lanes are all ones or all zeros: and-not is the select). The
        // operand order of max keeps a NaN x, whose NaN p survives any 2^n.
        let flushed = self.lt(x, cutoff);
        let x = avx._mm256_max_ps(cutoff, x);
        // z = round(x * log2 e) + 1.5 * 2^23 + 127 - e in one FMA: the low mantissa bits of z
        // hold n - e + 127, the biased exponent of 2^(n - e), which one shift moves into place,
        // and z - bias = n exactly (both lie in [2^23, 2^24)). A kept lane's result is at least
        // 2^-126 with |c * p| < 2, so its n - e >= -126: 2^(n - e), c * p (at least 0.5) and
        // their product are all normal.
        let bias = avx._mm256_sub_ps(avx._mm256_set1_ps(ROUND_MAGIC + 127.0), e);
        let z = self.fma(x, avx._mm256_set1_ps(LOG2E), bias);
        let p = reduced_poly::<_, SHORT, COARSE>(self, x, avx._mm256_sub_ps(z, bias), c);
        // With WIDE the callers may have lanes past the range: from n - e = 128 on (biased
        // exponent 255) 2^(n - e) is +inf. Otherwise they have none.
        let clamped = if WIDE {
            avx._mm256_min_ps(z, avx._mm256_set1_ps(ROUND_MAGIC + 255.0))
        } else {
            z
        };
        let pow2 = avx2._mm256_slli_epi32::<23>(avx._mm256_castps_si256(clamped));
        let pow2 = avx._mm256_castsi256_ps(pow2);
        let pow2 = if ZERO {
            avx._mm256_andnot_ps(flushed, pow2)
        } else {
            pow2
        };
        // z - (1.5 * 2^23 + 127) = n - e exactly.
        let d = avx._mm256_sub_ps(z, avx._mm256_set1_ps(ROUND_MAGIC + 127.0));
        (avx._mm256_mul_ps(p, pow2), d)
    }
    #[inline(always)]
    fn exp_sum_add(self, x: __m256, e: __m256, cutoff: __m256, acc: __m256) -> __m256 {
        let (avx, avx2) = (self.0.avx, self.0.avx2);
        // As exp_scaled, with 8 steps per octave: the low mantissa bits of z hold
        // 8 (n - e + 127) + j, z - bias is 8n + j exactly, and one shift puts n - e + 127 in the
        // exponent field and j just below it, which the table entry (2^(j/8)'s bits less
        // 127 << 23 and j << 20) takes out again: an integer add makes 2^(j/8) * 2^(n - e).
        // At or above the cutoff, 8 (x log2 e - e) >= -1008 + 0.011 (the cutoff's margin), and
        // the rounding of 8 log2 e moves it by at most 0.006 within EXT_BOUND: 8n + j - 8e
        // rounds to at least -1008, so n - e >= -126, and 2^(j/8) * 2^(n - e), q and their
        // product (the result, at least 2^-126) are normal. Lanes from n - e = 128 on are
        // clamped to j = 0 there: +inf within EXT_BOUND (beyond it, where z - bias is no
        // longer exact, a term may be -inf or NaN: `Ext::ln_in_range` discards such a sum).
        let x = avx._mm256_max_ps(cutoff, x);
        let bias = avx._mm256_sub_ps(
            self.splat(ROUND_MAGIC + 8.0 * 127.0),
            avx._mm256_mul_ps(e, self.splat(8.0)),
        );
        let z = self.fma(x, self.splat(8.0 * LOG2E), bias);
        let t = self.fma(avx._mm256_sub_ps(z, bias), self.splat(-LN2_HI / 8.0), x);
        let q = self.fma(
            self.fma(self.splat(Q3), t, self.splat(Q2)),
            t,
            self.splat(1.0),
        );
        let q = self.fma(q, t, self.splat(1.0));
        let z =
            avx._mm256_castps_si256(avx._mm256_min_ps(z, self.splat(ROUND_MAGIC + 8.0 * 255.0)));
        let [t0, t1, t2, t3, t4, t5, t6, t7] = EIGHTHS_FIELDS;
        let table = avx._mm256_setr_epi32(t0, t1, t2, t3, t4, t5, t6, t7);
        let pow2 = avx2._mm256_add_epi32(
            avx2._mm256_permutevar8x32_epi32(table, z),
            avx2._mm256_slli_epi32::<20>(z),
        );
        self.fma(q, avx._mm256_castsi256_ps(pow2), acc)
    }
    #[inline(always)]
    fn lanes(self, v: __m256) -> [f32; 8] {
        let mut l = [0.0; 8];
        // SAFETY: l has room for 8 f32.
        unsafe { self.0.avx._mm256_storeu_ps(l.as_mut_ptr(), v) };
        l
    }
}

/// [`EXP2_EIGHTHS`] as bits, less the exponent bias and each entry's index shifted to where
/// [`Avx2::exp_sum_add`]'s exponent field brings it (wrapping: only sums with the field are
/// meaningful).
const EIGHTHS_FIELDS: [i32; 8] = {
    let mut t = [0; 8];
    let mut j = 0;
    while j < 8 {
        t[j] = (EXP2_EIGHTHS[j].to_bits() as i32)
            .wrapping_sub(127 << 23)
            .wrapping_sub((j as i32) << 20);
        j += 1;
    }
    t
};

/// Eight u16 from `p` (lanes past `len` zero), in pieces of 4, 2 and 1 lanes: a copy of
/// `len` elements is a library call per vector (AVX2, f16 and bf16 tiles ending in part of a
/// vector: 0.2-0.7 elements/ns along an axis, against 1.7-2.2 for whole vectors; Zen 4).
///
/// # Safety
/// `p..p + len` readable, `len <= 8`; the CPU has AVX2.
#[inline(always)]
unsafe fn load_u16x8(p: *const u16, len: usize) -> __m128i {
    // SAFETY: a whole vector when len == 8, else reads of the len readable elements only.
    unsafe {
        if len == 8 {
            return _mm_loadu_si128(p.cast());
        }
        let (mut v, mut at) = (0u128, 0);
        if len & 4 != 0 {
            v = u128::from(p.cast::<u64>().read_unaligned());
            at = 4;
        }
        if len & 2 != 0 {
            v |= u128::from(p.add(at).cast::<u32>().read_unaligned()) << (16 * at);
            at += 2;
        }
        if len & 1 != 0 {
            v |= u128::from(p.add(at).read()) << (16 * at);
        }
        _mm_set_epi64x((v >> 64) as i64, v as i64)
    }
}

/// Stores the first `len` of eight u16, in pieces of 4, 2 and 1 lanes (as [`load_u16x8`]).
///
/// # Safety
/// `p..p + len` writable, `len <= 8`; the CPU has AVX2.
#[inline(always)]
unsafe fn store_u16x8(p: *mut u16, len: usize, h: __m128i) {
    // SAFETY: a whole vector when len == 8, else writes of the first len elements only.
    unsafe {
        if len == 8 {
            return _mm_storeu_si128(p.cast(), h);
        }
        let (lo, hi) = (
            _mm_cvtsi128_si64(h) as u64,
            _mm_cvtsi128_si64(_mm_unpackhi_epi64(h, h)) as u64,
        );
        let v = u128::from(hi) << 64 | u128::from(lo);
        let mut at = 0;
        if len & 4 != 0 {
            p.cast::<u64>().write_unaligned(lo);
            at = 4;
        }
        if len & 2 != 0 {
            p.add(at)
                .cast::<u32>()
                .write_unaligned((v >> (16 * at)) as u32);
            at += 2;
        }
        if len & 1 != 0 {
            p.add(at).write((v >> (16 * at)) as u16);
        }
    }
}

#[inline(always)]
fn enter<R>(f: impl FnOnce(Avx2) -> R) -> R {
    // SAFETY: TABLE, the only user of these functions, is handed out only after `available()`.
    let token = unsafe { V3F16c::new_unchecked() };
    token.vectorize(
        #[inline(always)]
        move || f(Avx2(token)),
    )
}

crate::table::isa_table!(crate::Isa::Avx2, Avx2, "avx2", "u32-acc4", enter);
