//! The element types the kernels read and write: f32, and f16 / bf16 widened to f32 on load and
//! rounded (to nearest even) on store, inside the kernels, so half-width data moves half the
//! bytes. All arithmetic is in f32.

use half::{bf16, f16};

use crate::simd::Simd;
use crate::table::{Isa, Table};

/// An element type with kernels: `f32`, [`half::f16`] or [`half::bf16`].
pub trait Element: Copy + Send + Sync + 'static + sealed::Memory {
    /// The kernels of `isa` for this element type, or `None` when the CPU lacks it.
    fn table(isa: Isa) -> Option<&'static Table<Self>>;
    /// The value widened to f32 (exact).
    fn to_f32(self) -> f32;
    /// `v` rounded to this type (nearest even).
    fn from_f32(v: f32) -> Self;
}

pub(crate) mod sealed {
    use crate::simd::Simd;

    /// How a vector of the element type moves between memory and f32 lanes.
    pub trait Memory: Sized {
        /// Whether outputs carry at most 11 significant bits, so that kernels whose only results
        /// are outputs may use the coarse exp (`crate::exp::K1`).
        const COARSE_EXP: bool;
        /// # Safety
        /// `p..p + S::LANES` readable.
        unsafe fn load<S: Simd>(s: S, p: *const Self) -> S::V;
        /// `len < S::LANES` elements, the other lanes `fill`.
        ///
        /// # Safety
        /// `p..p + len` readable.
        unsafe fn load_tail<S: Simd>(s: S, p: *const Self, len: usize, fill: f32) -> S::V;
        /// # Safety
        /// `p..p + S::LANES` writable.
        unsafe fn store<S: Simd>(s: S, p: *mut Self, v: S::V);
        /// # Safety
        /// `p..p + len` writable, `len < S::LANES`.
        unsafe fn store_tail<S: Simd>(s: S, p: *mut Self, len: usize, v: S::V);
        /// A store that may bypass the cache.
        ///
        /// # Safety
        /// `p..p + S::LANES` writable, `p` aligned to the vector's bytes of this type.
        unsafe fn stream<S: Simd>(s: S, p: *mut Self, v: S::V);
    }
}

impl sealed::Memory for f32 {
    const COARSE_EXP: bool = false;
    #[inline(always)]
    unsafe fn load<S: Simd>(s: S, p: *const f32) -> S::V {
        // SAFETY: forwarded from the caller.
        unsafe { s.load(p) }
    }
    #[inline(always)]
    unsafe fn load_tail<S: Simd>(s: S, p: *const f32, len: usize, fill: f32) -> S::V {
        // SAFETY: forwarded from the caller.
        unsafe { s.load_tail(p, len, fill) }
    }
    #[inline(always)]
    unsafe fn store<S: Simd>(s: S, p: *mut f32, v: S::V) {
        // SAFETY: forwarded from the caller.
        unsafe { s.store(p, v) }
    }
    #[inline(always)]
    unsafe fn store_tail<S: Simd>(s: S, p: *mut f32, len: usize, v: S::V) {
        // SAFETY: forwarded from the caller.
        unsafe { s.store_tail(p, len, v) }
    }
    #[inline(always)]
    unsafe fn stream<S: Simd>(s: S, p: *mut f32, v: S::V) {
        // SAFETY: forwarded from the caller.
        unsafe { s.stream(p, v) }
    }
}

impl Element for f32 {
    fn table(isa: Isa) -> Option<&'static Table<f32>> {
        crate::table::table(isa)
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(v: f32) -> f32 {
        v
    }
}

/// The 16-bit formats: `$load` / `$store` are the Simd conversions.
macro_rules! half_element {
    ($t:ty, $load:ident, $store:ident, $tables:ident) => {
        impl sealed::Memory for $t {
            const COARSE_EXP: bool = true;
            #[inline(always)]
            unsafe fn load<S: Simd>(s: S, p: *const $t) -> S::V {
                // SAFETY: forwarded from the caller.
                unsafe { s.$load(p.cast(), S::LANES) }
            }
            #[inline(always)]
            unsafe fn load_tail<S: Simd>(s: S, p: *const $t, len: usize, fill: f32) -> S::V {
                // SAFETY: forwarded from the caller.
                let v = unsafe { s.$load(p.cast(), len) };
                s.select(s.tail_mask(len), v, s.splat(fill))
            }
            #[inline(always)]
            unsafe fn store<S: Simd>(s: S, p: *mut $t, v: S::V) {
                // SAFETY: forwarded from the caller.
                unsafe { s.$store(p.cast(), S::LANES, v) }
            }
            #[inline(always)]
            unsafe fn store_tail<S: Simd>(s: S, p: *mut $t, len: usize, v: S::V) {
                // SAFETY: forwarded from the caller.
                unsafe { s.$store(p.cast(), len, v) }
            }
            #[inline(always)]
            unsafe fn stream<S: Simd>(s: S, p: *mut $t, v: S::V) {
                // Half-width outputs go through the cache: they are small enough to stay.
                // SAFETY: forwarded from the caller.
                unsafe { s.$store(p.cast(), S::LANES, v) }
            }
        }

        impl Element for $t {
            fn table(isa: Isa) -> Option<&'static Table<$t>> {
                crate::table::$tables(isa)
            }
            fn to_f32(self) -> f32 {
                <$t>::to_f32(self)
            }
            fn from_f32(v: f32) -> $t {
                <$t>::from_f32(v)
            }
        }
    };
}

half_element!(f16, load_f16, store_f16, table_f16);
half_element!(bf16, load_bf16, store_bf16, table_bf16);
