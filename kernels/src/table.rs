//! One table of kernels per ISA, and the registry of the tables this CPU can run.

use crate::sample::{BlockMass, Masses, Scan};
use crate::{ColumnSum, Ext, GradCoefficients, LogitSums, MaxSum, SumOfLogits, Tile};

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
pub enum Io<'a, T = f32> {
    /// Read `x`, write `y`; the lengths must be equal.
    Split(&'a [T], &'a mut [T]),
    /// Read and write the same buffer.
    InPlace(&'a mut [T]),
}

impl<T> Io<'_, T> {
    /// The input.
    pub fn input(&self) -> &[T] {
        match self {
            Io::Split(x, _) => x,
            Io::InPlace(xy) => xy,
        }
    }

    /// The output.
    pub fn output(&mut self) -> &mut [T] {
        match self {
            Io::Split(_, y) => y,
            Io::InPlace(xy) => xy,
        }
    }

    /// The same buffers, borrowed for one more pass.
    pub fn reborrow(&mut self) -> Io<'_, T> {
        match self {
            Io::Split(x, y) => Io::Split(x, y),
            Io::InPlace(xy) => Io::InPlace(xy),
        }
    }

    /// `(x, y, n)`.
    ///
    /// # Panics
    /// When the lengths of `Split` differ.
    pub(crate) fn raw(self) -> (*const T, *mut T, usize) {
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

/// The cross-entropy loss pass: logits, and the sum of them to take.
pub type LogitPass<T> = fn(&[T], SumOfLogits<'_>) -> LogitSums;

/// An output pass down the columns of a [`Tile`], with a pair of parameters per column, and
/// how it stores a tile walked row by row (wider than [`Table::strip`]).
pub type AxisPass<T> = fn(Io<'_, T>, Tile, &[(f32, f32)], Store);

/// [`Table::raxisblockexp`]: the tile, rows per block, each block's references, each column's
/// last reference and sum.
pub type AxisBlockExp<T> = fn(Io<'_, T>, Tile, usize, &mut [f32], &mut [ColumnSum]);

/// [`Table::vaxisblockscale`]: the outputs, their tile, rows per block, the references
/// `raxisblockexp` wrote, each column's pair.
pub type AxisBlockScale<T> = fn(&mut [T], Tile, usize, &[f32], &[(f32, f32)]);

/// The kernels of one ISA for one element type `T` (f32, f16 or bf16: inputs and outputs of
/// that type, arithmetic in f32). Every ISA fills every entry; see the crate docs for the names.
pub struct Table<T: 'static = f32> {
    /// The ISA these kernels need.
    pub isa: Isa,
    /// What runs, XNNPACK style: element type, ISA, exp, then the loop's shape, e.g.
    /// `f32-avx512f-p5-scalef-u64-acc4` (degree-5 exp, `VSCALEFPS`, 64 elements per iteration
    /// in 4 accumulators). Half-precision tables are `p5-p3out`: the degree-3 exp in the
    /// entries whose only results are half outputs ([`crate::exp::K1`]), degree 5 elsewhere.
    pub name: &'static str,
    /// `max_i x_i`; `-inf` for an empty row; a NaN input may or may not win.
    pub rmax: fn(&[T]) -> f32,
    /// `sum_i exp(x_i - m)` in f64, for a finite `m >= max`; terms from the short reduction
    /// (`exp::reduced_poly`: the sum's log within `ln(n) * 2.7e-9`).
    pub raddexpminusmax: fn(&[T], f32) -> f64,
    /// `y_i = exp(x_i - m)`, returning `sum_i y_i`, for a finite `m >= max` (the short
    /// reduction: each `y_i` within 2.4e-7 relative of the full one's). Half-precision
    /// tables use the coarse exp here and in the other entries whose only results are
    /// outputs (`vscaleexpminusmax`, `raddextexp_paired`, `vscaleextexp`; [`crate::exp::K1`]).
    pub raddstoreexpminusmax: fn(Io<'_, T>, f32) -> f64,
    /// `y_i = x_i * c`.
    pub vscale: fn(Io<'_, T>, f32, Store),
    /// Softmax of a short row in one call: a row of at most [`crate::SHORT_VECTORS`] vectors in
    /// registers (the max, `exp(x - max)` as `raddstoreexpminusmax`, their sum in f32 within
    /// 4.2e-7, then `y *= 1 / sum` as `vscale`); a longer row as `rmax`,
    /// `raddstoreexpminusmax` and `vscale` (the given store) would compute it, though slower
    /// than the three calls. False for a special row (NaN, `+inf`, or only `-inf`), whose
    /// output is then partly written.
    pub softmax_short: fn(Io<'_, T>, Store) -> bool,
    /// `y_i = exp(x_i - m) * c`, for `x_i - m <= 16`.
    pub vscaleexpminusmax: fn(Io<'_, T>, f32, f32, Store),
    /// `sum_i exp(clamp(x_i))` with an extended exponent (see [`crate::exp::EXT_BOUND`]); its
    /// log within 1.3e-7 of the exact one's (a sum of short terms, corrected: [`Ext::unshortened`]).
    pub raddextexp: fn(&[T]) -> Ext,
    /// The same sum of short terms, uncorrected: each term is off by `e^(n * LN2_LO)`, as in
    /// `vscaleextexp`, which divides by this sum and in which the factors cancel; its log is
    /// off by up to `|ln| * 3e-9` (by up to 1.03e-4 more in half-precision tables, which
    /// use the coarse exp in both).
    pub raddextexp_paired: fn(&[T]) -> Ext,
    /// `y_i = exp(clamp(x_i)) / sum` for a `sum` from `raddextexp_paired` whose log is in range.
    pub vscaleextexp: fn(Io<'_, T>, Ext, Store),
    /// The max and `sum_i exp(x_i - max)` in one pass.
    pub raddonline: fn(&[T]) -> MaxSum,
    /// `y_i = (x_i - a) - b` for the pair `(a, b)`.
    pub vsubtract: fn(Io<'_, T>, (f32, f32), Store),
    /// Cross-entropy loss pass: `raddextexp` and the sum of the logits [`SumOfLogits`] asks
    /// for (f64), in one read. Panics if the weights' length differs.
    pub raddextexp_logits: LogitPass<T>,
    /// Cross-entropy gradient pass: `y_i = exp(x_i - a) * scale - bias * w_i`, for coefficients
    /// that [`GradCoefficients::fit_the_pass`] (the exp term is 0 below `2^-126 (1 + 2^-10)`).
    /// Panics if the weights' length differs.
    pub vgradce: fn(Io<'_, T>, Option<&[f32]>, GradCoefficients, Store),
    /// Down each column of a [`Tile`] (`out.len()` columns from the slice's start): its
    /// [`ColumnSum`], the online pass per lane. Panics when the slice is shorter than the
    /// tile's span.
    pub raxisonline: fn(&[T], Tile, &mut [ColumnSum]),
    /// `y = min(c_j * exp(x - r_j), 1)` down each column `j` of a tile (`params.len()`
    /// columns; `params[j] = (r_j, c_j)`, `x - r_j <= 16`, `0 < c_j <= 2`). Panics when a
    /// buffer is shorter than the tile's span.
    pub vaxisscaleexp: AxisPass<T>,
    /// `y = (x - a_j) - b_j` down each column `j` of a tile (`params[j] = (a_j, b_j)`).
    /// Panics when a buffer is shorter than the tile's span.
    pub vaxissubtract: AxisPass<T>,
    /// Softmax's first pass down the columns of a tile, blocks of the given rows at a time (a
    /// tile wider than the strip this ISA keeps in registers is one block): `y = exp(x - r_b)`
    /// against each column's running max `r_b` after block `b` (written to the `f32` slice,
    /// `b * width + j`), and each column's last reference and sum against it ([`ColumnSum`]'s
    /// `max` and `reference` both that reference; `width` the last slice's length). Panics when
    /// a slice is shorter than its span or the block has no rows.
    pub raxisblockexp: AxisBlockExp<T>,
    /// Softmax's second pass, in place: `y *= c_j * exp(r_b - m_j)` down each column `j` of
    /// block `b`, for `params[j] = (m_j, c_j)` and the references this table's `raxisblockexp`
    /// wrote for the same tile and block. Panics when a slice is shorter than its span or the
    /// block has no rows.
    pub vaxisblockscale: AxisBlockScale<T>,
    /// Lanes of `f32` per vector.
    pub lanes: usize,
    /// Columns the axis passes keep in registers, a strip at a time: a [`Tile`] at most this
    /// wide is walked in strips (in blocks of rows by `raxisblockexp`), a wider one row by row
    /// (as one block).
    pub strip: usize,
    /// The max, where it first occurs, and whether no element is NaN or `+inf`.
    pub rscan: fn(&[T]) -> Scan,
    /// Each block's max (blocks of the given size, one output per block; NaN where the block
    /// holds a NaN or `+inf`), in one read. Panics when the size or the output's length is wrong.
    pub rblockmax: fn(&[T], usize, &mut [f32]),
    /// Each block's max and masses against it at `1 / T` and a floor (blocks of the given size,
    /// a multiple of [`crate::sample::MASS_LANES`]; one output per block), in one read: the
    /// same bits on every ISA. Panics when the size or the output's length is wrong.
    pub rblockmass: fn(&[T], f32, f32, usize, &mut [BlockMass]),
    /// The [`Masses`] of each element, the same bits as [`Table::rblockmass`] sums. Panics when
    /// the lengths differ.
    pub rweights: fn(&[T], &Masses, &mut [f32]),
}

/// Defines the entry points of one ISA module over its [`crate::simd::Simd`] type `$simd`,
/// generic over the element type and each entering the ISA's target-feature context through
/// `$enter`, and its [`Table`]s for f32, f16 and bf16, named from the ISA `$arch`, each type's
/// exp and the loop's `$shape`.
macro_rules! isa_table {
    ($isa:expr, $simd:ty, $arch:literal, $shape:literal, $enter:ident) => {
        crate::table::isa_table!($isa, $simd, $arch, $shape, $enter;
            TABLE: f32 = "f32", "p5",
            TABLE_F16: half::f16 = "f16", "p5-p3out",
            TABLE_BF16: half::bf16 = "bf16", "p5-p3out");
    };
    (
        $isa:expr, $simd:ty, $arch:literal, $shape:literal, $enter:ident;
        $($static:ident: $t:ty = $prefix:literal, $exp:literal),+
    ) => {
        use crate::element::Element;

        fn rmax<E: Element>(x: &[E]) -> f32 {
            $enter(
                #[inline(always)]
                move |s| crate::ops::rmax(s, x),
            )
        }
        fn raddexpminusmax<E: Element>(x: &[E], m: f32) -> f64 {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddexpminusmax(s, x, m),
            )
        }
        fn raddstoreexpminusmax<E: Element>(io: crate::Io<'_, E>, m: f32) -> f64 {
            let (x, y, n) = io.raw();
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n readable elements at x and n writable at y.
                move |s| unsafe { crate::ops::raddstoreexpminusmax(s, x, y, n, m) },
            )
        }
        fn vscale<E: Element>(io: crate::Io<'_, E>, c: f32, store: crate::Store) {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n readable elements at x and n writable at y.
                move |s| unsafe { crate::ops::vscale(s, x, y, n, c, nt) },
            )
        }
        fn softmax_short<E: Element>(io: crate::Io<'_, E>, store: crate::Store) -> bool {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n readable elements at x and n writable at y.
                move |s| unsafe { crate::ops::softmax_short(s, x, y, n, nt) },
            )
        }
        fn vscaleexpminusmax<E: Element>(
            io: crate::Io<'_, E>,
            m: f32,
            c: f32,
            store: crate::Store,
        ) {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n readable elements at x and n writable at y.
                move |s| unsafe { crate::ops::vscaleexpminusmax(s, x, y, n, m, c, nt) },
            )
        }
        fn raddextexp<E: Element>(x: &[E]) -> crate::Ext {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddextexp::<_, _, false>(s, x),
            )
        }
        fn raddextexp_paired<E: Element>(x: &[E]) -> crate::Ext {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddextexp::<_, _, true>(s, x),
            )
        }
        fn vscaleextexp<E: Element>(io: crate::Io<'_, E>, sum: crate::Ext, store: crate::Store) {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n readable elements at x and n writable at y.
                move |s| unsafe { crate::ops::vscaleextexp(s, x, y, n, sum, nt) },
            )
        }
        fn raddonline<E: Element>(x: &[E]) -> crate::MaxSum {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddonline(s, x),
            )
        }
        fn vsubtract<E: Element>(io: crate::Io<'_, E>, c: (f32, f32), store: crate::Store) {
            let (x, y, n) = io.raw();
            let nt = store == crate::Store::NonTemporal;
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n readable elements at x and n writable at y.
                move |s| unsafe { crate::ops::vsubtract(s, x, y, n, c, nt) },
            )
        }
        fn raddextexp_logits<E: Element>(
            x: &[E],
            logits: crate::SumOfLogits<'_>,
        ) -> crate::LogitSums {
            $enter(
                #[inline(always)]
                move |s| crate::ops::raddextexp_logits(s, x, logits),
            )
        }
        fn vgradce<E: Element>(
            io: crate::Io<'_, E>,
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
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n readable elements at x and n writable at y; w has n.
                move |s| unsafe { crate::ops::vgradce(s, x, y, n, w, c, nt) },
            )
        }

        fn raxisonline<E: Element>(x: &[E], tile: crate::Tile, out: &mut [crate::ColumnSum]) {
            assert!(x.len() >= tile.span(out.len()), "tile beyond the slice");
            let x = x.as_ptr();
            $enter(
                #[inline(always)]
                // SAFETY: the slice covers the tile's span.
                move |s| unsafe { crate::axis::raxisonline(s, x, tile, out) },
            )
        }
        fn vaxisscaleexp<E: Element>(
            io: crate::Io<'_, E>,
            tile: crate::Tile,
            params: &[(f32, f32)],
            store: crate::Store,
        ) {
            let (x, y, n) = io.raw();
            assert!(n >= tile.span(params.len()), "tile beyond the slice");
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n >= span readable elements at x and writable at y.
                move |s| unsafe { crate::axis::vaxisscaleexp(s, (x, y), tile, params, store) },
            )
        }
        fn vaxissubtract<E: Element>(
            io: crate::Io<'_, E>,
            tile: crate::Tile,
            params: &[(f32, f32)],
            store: crate::Store,
        ) {
            let (x, y, n) = io.raw();
            assert!(n >= tile.span(params.len()), "tile beyond the slice");
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n >= span readable elements at x and writable at y.
                move |s| unsafe { crate::axis::vaxissubtract(s, (x, y), tile, params, store) },
            )
        }

        fn rscan<E: Element>(x: &[E]) -> crate::sample::Scan {
            $enter(
                #[inline(always)]
                move |s| crate::sample::rscan(s, x),
            )
        }
        fn rblockmax<E: Element>(x: &[E], block: usize, out: &mut [f32]) {
            $enter(
                #[inline(always)]
                move |s| crate::sample::rblockmax(s, x, block, out),
            )
        }
        fn rblockmass<E: Element>(
            x: &[E],
            inv_t: f32,
            floor: f32,
            block: usize,
            out: &mut [crate::sample::BlockMass],
        ) {
            $enter(
                #[inline(always)]
                move |s| crate::sample::rblockmass(s, x, inv_t, floor, block, out),
            )
        }
        fn rweights<E: Element>(x: &[E], masses: &crate::sample::Masses, out: &mut [f32]) {
            $enter(
                #[inline(always)]
                move |s| crate::sample::rweights(s, x, masses, out),
            )
        }
        fn raxisblockexp<E: Element>(
            io: crate::Io<'_, E>,
            tile: crate::Tile,
            block: usize,
            refs: &mut [f32],
            out: &mut [crate::ColumnSum],
        ) {
            let (x, y, n) = io.raw();
            assert!(n >= tile.span(out.len()), "tile beyond the slice");
            $enter(
                #[inline(always)]
                // SAFETY: `raw` gives n >= span readable elements at x and writable at y; the
                // kernel checks `refs` and `block`.
                move |s| unsafe { crate::axis::raxisblockexp(s, (x, y), tile, block, refs, out) },
            )
        }
        fn vaxisblockscale<E: Element>(
            y: &mut [E],
            tile: crate::Tile,
            block: usize,
            refs: &[f32],
            params: &[(f32, f32)],
        ) {
            assert!(y.len() >= tile.span(params.len()), "tile beyond the slice");
            let y = y.as_mut_ptr();
            $enter(
                #[inline(always)]
                // SAFETY: the slice covers the tile's span; the kernel checks `refs` and
                // `block`.
                move |s| unsafe { crate::axis::vaxisblockscale(s, y, tile, block, refs, params) },
            )
        }

        const fn table<E: Element>(name: &'static str) -> crate::Table<E> {
            crate::Table {
                isa: $isa,
                name,
                rmax: rmax::<E>,
                raddexpminusmax: raddexpminusmax::<E>,
                raddstoreexpminusmax: raddstoreexpminusmax::<E>,
                vscale: vscale::<E>,
                softmax_short: softmax_short::<E>,
                vscaleexpminusmax: vscaleexpminusmax::<E>,
                raddextexp: raddextexp::<E>,
                raddextexp_paired: raddextexp_paired::<E>,
                vscaleextexp: vscaleextexp::<E>,
                raddonline: raddonline::<E>,
                vsubtract: vsubtract::<E>,
                raddextexp_logits: raddextexp_logits::<E>,
                vgradce: vgradce::<E>,
                raxisonline: raxisonline::<E>,
                vaxisscaleexp: vaxisscaleexp::<E>,
                vaxissubtract: vaxissubtract::<E>,
                raxisblockexp: raxisblockexp::<E>,
                vaxisblockscale: vaxisblockscale::<E>,
                lanes: <$simd as crate::simd::Simd>::LANES,
                strip: crate::axis::strip_columns::<$simd>(),
                rscan: rscan::<E>,
                rblockmax: rblockmax::<E>,
                rblockmass: rblockmass::<E>,
                rweights: rweights::<E>,
            }
        }

        $(pub(crate) static $static: crate::Table<$t> =
            table(concat!($prefix, "-", $arch, "-", $exp, "-", $shape));)+
    };
}
pub(crate) use isa_table;

/// Which static of an ISA module holds the tables of one element type.
macro_rules! lookup {
    ($fn:ident, $t:ty, $static:ident, $doc:expr) => {
        #[doc = $doc]
        pub fn $fn(isa: Isa) -> Option<&'static Table<$t>> {
            match isa {
                Isa::Scalar => Some(&crate::scalar::$static),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => crate::avx2::available().then_some(&crate::avx2::$static),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => crate::avx512::available().then_some(&crate::avx512::$static),
                #[cfg(not(target_arch = "x86_64"))]
                _ => None,
            }
        }
    };
}

lookup!(
    table,
    f32,
    TABLE,
    "The f32 kernels for `isa`, or `None` when this CPU lacks it."
);
lookup!(
    table_f16,
    half::f16,
    TABLE_F16,
    "The f16 kernels for `isa`, or `None` when this CPU lacks it."
);
lookup!(
    table_bf16_exact,
    half::bf16,
    TABLE_BF16,
    "The bf16 kernels for `isa` that round with the exact integer sequence on every ISA (what \
     [`table_bf16`] gives where the CPU lacks AVX-512 BF16), or `None` when this CPU lacks `isa`."
);

/// The bf16 kernels for `isa`, or `None` when this CPU lacks it. On AVX-512 with AVX-512 BF16
/// they round to bf16 with `VCVTNEPS2BF16` (which flushes subnormal results to 0).
pub fn table_bf16(isa: Isa) -> Option<&'static Table<half::bf16>> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => crate::avx512::table_bf16(),
        _ => table_bf16_exact(isa),
    }
}

/// Every table this CPU can run, scalar first.
pub fn tables() -> impl Iterator<Item = &'static Table> {
    Isa::ALL.into_iter().filter_map(table)
}
