//! One table of kernels per ISA, and the registry of the tables this CPU can run.

use crate::{Ext, GradCoefficients, LogitSums, MaxSum};

/// An instruction set the kernels are written for.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, one element at a time.
    Scalar,
    /// AVX2 + FMA + F16C (x86-64-v3 with F16C), 8 lanes.
    Avx2,
    /// AVX-512 F/BW/CD/DQ/VL (x86-64-v4), 16 lanes.
    Avx512,
}

impl Isa {
    /// Every ISA, in order of preference from last to first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

    /// The lower-case name used by `TWOPASS_ISA` and in benchmark rows.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

/// Input and output of an element-wise kernel: separate buffers of equal length, or one buffer
/// updated in place.
pub enum Io<'a> {
    /// Read `x`, write `y`; the lengths must be equal.
    Split(&'a [f32], &'a mut [f32]),
    /// Read and write the same buffer.
    InPlace(&'a mut [f32]),
}

impl Io<'_> {
    /// The input.
    pub fn input(&self) -> &[f32] {
        match self {
            Io::Split(x, _) => x,
            Io::InPlace(xy) => xy,
        }
    }

    /// The output.
    pub fn output(&mut self) -> &mut [f32] {
        match self {
            Io::Split(_, y) => y,
            Io::InPlace(xy) => xy,
        }
    }

    /// The same buffers, borrowed for one more pass.
    pub fn reborrow(&mut self) -> Io<'_> {
        match self {
            Io::Split(x, y) => Io::Split(x, y),
            Io::InPlace(xy) => Io::InPlace(xy),
        }
    }

    /// `(x, y, n)`.
    ///
    /// # Panics
    /// When the lengths of `Split` differ.
    pub(crate) fn raw(self) -> (*const f32, *mut f32, usize) {
        match self {
            Io::Split(x, y) => {
                assert_eq!(x.len(), y.len(), "input and output lengths differ");
                (x.as_ptr(), y.as_mut_ptr(), x.len())
            }
            Io::InPlace(xy) => {
                let n = xy.len();
                let p = xy.as_mut_ptr();
                (p, p, n)
            }
        }
    }
}

/// How an output pass stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Ordinary stores, through the cache.
    Cached,
    /// Non-temporal stores (then `sfence`): no read-for-ownership, no cache pollution; faster
    /// when the output is far larger than the last-level cache.
    NonTemporal,
}

/// The cross-entropy loss pass: logits, optional class weights, the index left out of the sum.
pub type LogitPass = fn(&[f32], Option<&[f32]>, Option<usize>) -> LogitSums;

/// The kernels of one ISA. Every ISA fills every entry; see the crate docs for the names.
pub struct Table {
    /// The ISA these kernels need.
    pub isa: Isa,
    /// XNNPACK-style description of the variant, e.g. `avx512f-p5-scalef-u64-acc4`.
    pub name: &'static str,
    /// `max_i x_i`; `-inf` for an empty row; a NaN input may or may not win.
    pub rmax: fn(&[f32]) -> f32,
    /// `sum_i exp(x_i - m)` in f64, for a finite `m >= max`.
    pub raddexpminusmax: fn(&[f32], f32) -> f64,
    /// `y_i = exp(x_i - m)`, returning `sum_i y_i`, for a finite `m >= max`.
    pub raddstoreexpminusmax: fn(Io<'_>, f32) -> f64,
    /// `y_i = x_i * c`.
    pub vscale: fn(Io<'_>, f32, Store),
    /// `y_i = exp(x_i - m) * c`, for `x_i - m <= 16`.
    pub vscaleexpminusmax: fn(Io<'_>, f32, f32, Store),
    /// `sum_i exp(clamp(x_i))` with an extended exponent (see [`crate::exp::EXT_BOUND`]).
    pub raddextexp: fn(&[f32]) -> Ext,
    /// `y_i = exp(clamp(x_i)) / sum` for a `sum` from `raddextexp` whose log is in range.
    pub vscaleextexp: fn(Io<'_>, Ext, Store),
    /// The max and `sum_i exp(x_i - max)` in one pass.
    pub raddonline: fn(&[f32]) -> MaxSum,
    /// `y_i = (x_i - a) - b` for the pair `(a, b)`.
    pub vsubtract: fn(Io<'_>, (f32, f32), Store),
    /// Cross-entropy loss pass: `raddextexp` leaving out index `skip` (the target), and
    /// `sum_i w_i * x_i` over all i (f64; `w_i = 1` without weights, zero-weight terms 0), in
    /// one read. Panics if the weights' length differs.
    pub raddextexp_logits: LogitPass,
    /// Cross-entropy gradient pass: `y_i = exp(x_i - a) * scale - bias * w_i`. Panics if the
    /// weights' length differs.
    pub vgradce: fn(Io<'_>, Option<&[f32]>, GradCoefficients, Store),
}

/// Defines the entry points of one ISA module over its [`crate::simd::Simd`] type, each
/// entering the ISA's target-feature context through `$enter`, and their [`Table`].
macro_rules! isa_table {
    ($table:ident, $isa:expr, $name:expr, $enter:ident) => {
        fn rmax(x: &[f32]) -> f32 {
            $enter(
                #[inline(always)]
                move |s| crate::ops::rmax(s, x),
            )
        }
        fn raddexpminusmax(x: &[f32], m: f32) -> f64 {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddexpminusmax(s, x, m),
            )
        }
        fn raddstoreexpminusmax(io: crate::Io<'_>, m: f32) -> f64 {
            let (x, y, n) = io.raw();
            // SAFETY: `raw` gives n readable elements at x and n writable at y.
            $enter(
                #[inline(always)]
                move |s| unsafe { crate::ops::raddstoreexpminusmax(s, x, y, n, m) },
            )
        }
        fn vscale(io: crate::Io<'_>, c: f32, store: crate::Store) {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            // SAFETY: `raw` gives n readable elements at x and n writable at y.
            $enter(
                #[inline(always)]
                move |s| unsafe { crate::ops::vscale(s, x, y, n, c, nt) },
            )
        }
        fn vscaleexpminusmax(io: crate::Io<'_>, m: f32, c: f32, store: crate::Store) {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            // SAFETY: `raw` gives n readable elements at x and n writable at y.
            $enter(
                #[inline(always)]
                move |s| unsafe { crate::ops::vscaleexpminusmax(s, x, y, n, m, c, nt) },
            )
        }
        fn raddextexp(x: &[f32]) -> crate::Ext {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddextexp(s, x),
            )
        }
        fn vscaleextexp(io: crate::Io<'_>, sum: crate::Ext, store: crate::Store) {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            // SAFETY: `raw` gives n readable elements at x and n writable at y.
            $enter(
                #[inline(always)]
                move |s| unsafe { crate::ops::vscaleextexp(s, x, y, n, sum, nt) },
            )
        }
        fn raddonline(x: &[f32]) -> crate::MaxSum {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddonline(s, x),
            )
        }
        fn vsubtract(io: crate::Io<'_>, c: (f32, f32), store: crate::Store) {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            // SAFETY: `raw` gives n readable elements at x and n writable at y.
            $enter(
                #[inline(always)]
                move |s| unsafe { crate::ops::vsubtract(s, x, y, n, c, nt) },
            )
        }

        fn raddextexp_logits(
            x: &[f32],
            w: Option<&[f32]>,
            skip: Option<usize>,
        ) -> crate::LogitSums {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddextexp_logits(s, x, w, skip),
            )
        }
        fn vgradce(
            io: crate::Io<'_>,
            w: Option<&[f32]>,
            c: crate::GradCoefficients,
            store: crate::Store,
        ) {
            let (x, y, n) = io.raw();
            if let Some(w) = w {
                assert_eq!(w.len(), n, "weights and logits lengths differ");
            }
            let w = w.map(<[f32]>::as_ptr);
            let nt = store == crate::Store::NonTemporal;
            // SAFETY: `raw` gives n readable elements at x and n writable at y; w has n.
            $enter(
                #[inline(always)]
                move |s| unsafe { crate::ops::vgradce(s, x, y, n, w, c, nt) },
            )
        }

        pub(crate) static $table: crate::Table = crate::Table {
            isa: $isa,
            name: $name,
            rmax,
            raddexpminusmax,
            raddstoreexpminusmax,
            vscale,
            vscaleexpminusmax,
            raddextexp,
            vscaleextexp,
            raddonline,
            vsubtract,
            raddextexp_logits,
            vgradce,
        };
    };
}
pub(crate) use isa_table;

/// The kernels for `isa`, or `None` when this CPU lacks it.
pub fn table(isa: Isa) -> Option<&'static Table> {
    match isa {
        Isa::Scalar => Some(&crate::scalar::TABLE),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => crate::avx2::available().then_some(&crate::avx2::TABLE),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => crate::avx512::available().then_some(&crate::avx512::TABLE),
        #[cfg(not(target_arch = "x86_64"))]
        _ => None,
    }
}

/// Every table this CPU can run, scalar first.
pub fn tables() -> impl Iterator<Item = &'static Table> {
    Isa::ALL.into_iter().filter_map(table)
}
