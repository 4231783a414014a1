//! [`Kernels`]: a handle on one ISA's kernels and an algorithm; every entry point lives here.

use std::sync::OnceLock;

use half::{bf16, f16};
use twopass_kernels::{table, table_bf16, table_f16, Element, Io, Table};

use crate::dispatch::active_kernels;
use crate::row::How;
use crate::{row, Algorithm, Crossover, Error, Isa};

/// One ISA's kernels with a chosen [`Algorithm`]: the scoped alternative to the process-wide
/// ISA (tests and threads that each want their own), and the way to pick an algorithm per call.
///
/// ```
/// use twopass::{Algorithm, Kernels};
/// let x = [1.0f32, 2.0, 3.0];
/// let mut y = [0.0f32; 3];
/// Kernels::active().with_algorithm(Algorithm::TwoPass).softmax(&x, &mut y)?;
/// assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6);
/// # Ok::<(), twopass::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Kernels {
    table: &'static Table,
    f16: &'static Table<f16>,
    bf16: &'static Table<bf16>,
    algorithm: Algorithm,
    crossover: Crossover,
}

/// The element types of the API: `f32`, [`half::f16`] and [`half::bf16`]. Half-precision rows
/// are widened to f32 inside the kernels as they are loaded and rounded (to nearest even) as
/// they are stored, so they move half the bytes; all arithmetic is f32.
pub trait Float: Element + private::Sealed {
    #[doc(hidden)]
    fn kernels(k: &Kernels) -> &'static Table<Self>;
    /// Where softmax rows of this type switch to two-pass under `Auto`.
    #[doc(hidden)]
    fn long_from(c: &Crossover) -> usize;
}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

impl Float for f32 {
    fn kernels(k: &Kernels) -> &'static Table<f32> {
        k.table
    }
    fn long_from(c: &Crossover) -> usize {
        c.long_from
    }
}

impl Float for f16 {
    fn kernels(k: &Kernels) -> &'static Table<f16> {
        k.f16
    }
    fn long_from(c: &Crossover) -> usize {
        c.f16_long_from
    }
}

impl Float for bf16 {
    fn kernels(k: &Kernels) -> &'static Table<bf16> {
        k.bf16
    }
    fn long_from(c: &Crossover) -> usize {
        c.bf16_long_from
    }
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels")
            .field("isa", &self.isa())
            .field("variant", &self.table.name)
            .field("algorithm", &self.algorithm)
            .field("crossover", &self.crossover)
            .finish()
    }
}

impl Kernels {
    /// The kernels of `isa` with [`Algorithm::Auto`], if this CPU runs them.
    pub fn new(isa: Isa) -> Result<Kernels, Error> {
        match table(isa) {
            Some(_) => Ok(*Kernels::built(isa)),
            None => Err(Error::UnsupportedIsa(isa)),
        }
    }

    /// The kernels of `isa` (which this CPU runs) with `Auto`, built once per ISA (the
    /// half-precision tables and the crossover take CPU-feature and cache look-ups: a tenth of
    /// a 1K-element softmax).
    pub(crate) fn built(isa: Isa) -> &'static Kernels {
        static BUILT: [OnceLock<Kernels>; Isa::ALL.len()] = [const { OnceLock::new() }; 3];
        let slot = Isa::ALL
            .iter()
            .position(|&i| i == isa)
            .expect("every Isa is in Isa::ALL");
        BUILT[slot].get_or_init(|| {
            let runs = "only ISAs this CPU runs are built";
            Kernels {
                table: table(isa).expect(runs),
                f16: table_f16(isa).expect(runs),
                bf16: table_bf16(isa).expect(runs),
                algorithm: Algorithm::Auto,
                crossover: Crossover::of(isa),
            }
        })
    }

    /// The process-wide kernels ([`crate::set_isa`], else `TWOPASS_ISA`, else the best the CPU
    /// has) with [`Algorithm::Auto`], or why `TWOPASS_ISA` cannot be honoured:
    /// [`Error::InvalidIsaVariable`] for an unknown name, [`Error::UnsupportedIsaVariable`] for
    /// an ISA this CPU lacks.
    pub fn try_active() -> Result<Kernels, Error> {
        active_kernels().copied()
    }

    /// As [`Kernels::try_active`].
    ///
    /// # Panics
    /// When `TWOPASS_ISA` names an unknown ISA or one this CPU lacks (and [`crate::set_isa`]
    /// has not overridden it): the message names the accepted values.
    pub fn active() -> Kernels {
        *Kernels::active_ref()
    }

    /// [`Kernels::active`] by reference: the free functions' handle, with nothing copied.
    pub(crate) fn active_ref() -> &'static Kernels {
        active_kernels().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The same kernels running `algorithm`.
    pub fn with_algorithm(self, algorithm: Algorithm) -> Kernels {
        Kernels { algorithm, ..self }
    }

    /// The same kernels with `Auto` switching at `crossover` instead of the one derived from
    /// this CPU's caches ([`Crossover::of`]).
    pub fn with_crossover(self, crossover: Crossover) -> Kernels {
        Kernels { crossover, ..self }
    }

    /// Where `Auto` switches algorithms.
    pub fn crossover(&self) -> Crossover {
        self.crossover
    }

    /// The concrete algorithm softmax runs on a row of `n` elements of `T`.
    pub fn softmax_algorithm<T: Float>(&self, n: usize) -> Algorithm {
        self.crossover.softmax_algorithm::<T>(self.algorithm, n)
    }

    /// The concrete reduction log-sum-exp and log-softmax run on a row of `n` elements.
    pub fn reduction_algorithm(&self, n: usize) -> Algorithm {
        self.crossover.reduction_algorithm(self.algorithm, n)
    }

    /// Softmax's algorithm and store mode for a row of `n` elements of `T`.
    fn softmax_how<T: Float>(&self, n: usize) -> How {
        (self.softmax_algorithm::<T>(n), self.crossover.store_for(n))
    }

    /// Log-softmax's reduction and store mode for a row of `n` elements.
    fn log_softmax_how(&self, n: usize) -> How {
        (self.reduction_algorithm(n), self.crossover.store_for(n))
    }

    /// The ISA of these kernels.
    pub fn isa(&self) -> Isa {
        self.table.isa
    }

    /// The algorithm these kernels run.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn table<T: Float>(&self) -> &'static Table<T> {
        T::kernels(self)
    }

    /// The microkernel variant, XNNPACK style (e.g. `avx512f-p5-scalef-u64-acc4`).
    pub fn variant(&self) -> &'static str {
        self.table.name
    }

    /// `y_i = exp(x_i - max) / sum_j exp(x_j - max)`. NaN, `+inf` or only `-inf` in `x`:
    /// every `y_i` NaN; `-inf` among finite values: 0 there.
    pub fn softmax<T: Float>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        same_len(x, y)?;
        row::softmax(
            self.table(),
            Io::Split(x, y),
            self.softmax_how::<T>(x.len()),
        );
        Ok(())
    }

    /// [`Kernels::softmax`] overwriting `x`.
    pub fn softmax_in_place<T: Float>(&self, x: &mut [T]) {
        let how = self.softmax_how::<T>(x.len());
        row::softmax(self.table(), Io::InPlace(x), how);
    }

    /// `y_i = (x_i - max) - ln(sum_j exp(x_j - max))`. Special rows as [`Kernels::softmax`];
    /// `-inf` among finite values gives `-inf` there.
    pub fn log_softmax<T: Float>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        same_len(x, y)?;
        row::log_softmax(self.table(), Io::Split(x, y), self.log_softmax_how(x.len()));
        Ok(())
    }

    /// [`Kernels::log_softmax`] overwriting `x`.
    pub fn log_softmax_in_place<T: Float>(&self, x: &mut [T]) {
        let how = self.log_softmax_how(x.len());
        row::log_softmax(self.table(), Io::InPlace(x), how);
    }

    /// `ln(sum_i exp(x_i))`: `-inf` for an empty or all `-inf` row, NaN with a NaN, `+inf`
    /// with `+inf` (and no NaN).
    pub fn log_sum_exp<T: Float>(&self, x: &[T]) -> f32 {
        row::log_sum_exp(self.table(), x, self.reduction_algorithm(x.len()))
    }

    /// [`Kernels::softmax`] on each of `rows` rows of `cols` elements, row `r` at
    /// `x[r * x_stride..]` and `y[r * y_stride..]` (strides in elements, `>= cols`).
    pub fn softmax_rows<T: Float>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let how = self.softmax_how::<T>(cols);
        self.map_rows(x, x_stride, y, y_stride, rows, cols, how, row::softmax)
    }

    /// [`Kernels::softmax_rows`] overwriting `x`.
    pub fn softmax_rows_in_place<T: Float>(
        &self,
        x: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let how = self.softmax_how::<T>(cols);
        self.map_rows_in_place(x, stride, rows, cols, how, row::softmax)
    }

    /// [`Kernels::log_softmax`] on each row, as [`Kernels::softmax_rows`].
    pub fn log_softmax_rows<T: Float>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let how = self.log_softmax_how(cols);
        self.map_rows(x, x_stride, y, y_stride, rows, cols, how, row::log_softmax)
    }

    /// [`Kernels::log_softmax_rows`] overwriting `x`.
    pub fn log_softmax_rows_in_place<T: Float>(
        &self,
        x: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let how = self.log_softmax_how(cols);
        self.map_rows_in_place(x, stride, rows, cols, how, row::log_softmax)
    }

    /// `out[r] = ln(sum_i exp(x_r,i))` for each of `rows` rows (`out.len() == rows`).
    pub fn log_sum_exp_rows<T: Float>(
        &self,
        x: &[T],
        stride: usize,
        rows: usize,
        cols: usize,
        out: &mut [f32],
    ) -> Result<(), Error> {
        check_matrix("x", x.len(), stride, rows, cols)?;
        if out.len() != rows {
            return Err(Error::LengthMismatch {
                input: rows,
                output: out.len(),
            });
        }
        for (r, o) in out.iter_mut().enumerate() {
            *o = self.log_sum_exp(&x[r * stride..][..cols]);
        }
        Ok(())
    }

    /// Folds `x` into `state` (see [`crate::LseState`]), with these kernels.
    pub fn lse_update<T: Float>(&self, state: &mut crate::LseState, x: &[T]) {
        if !x.is_empty() {
            state.add_sum(
                row::sum(self.table(), x, self.reduction_algorithm(x.len())),
                x.len(),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn map_rows<T: Float>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
        how: How,
        f: fn(&Table<T>, Io<'_, T>, How),
    ) -> Result<(), Error> {
        check_matrix("x", x.len(), x_stride, rows, cols)?;
        check_matrix("y", y.len(), y_stride, rows, cols)?;
        for r in 0..rows {
            let xr = &x[r * x_stride..][..cols];
            let yr = &mut y[r * y_stride..][..cols];
            f(self.table(), Io::Split(xr, yr), how);
        }
        Ok(())
    }

    fn map_rows_in_place<T: Float>(
        &self,
        x: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
        how: How,
        f: fn(&Table<T>, Io<'_, T>, How),
    ) -> Result<(), Error> {
        check_matrix("x", x.len(), stride, rows, cols)?;
        for r in 0..rows {
            f(self.table(), Io::InPlace(&mut x[r * stride..][..cols]), how);
        }
        Ok(())
    }
}

fn same_len<T>(x: &[T], y: &[T]) -> Result<(), Error> {
    if x.len() == y.len() {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            input: x.len(),
            output: y.len(),
        })
    }
}

/// Checks that a `rows x cols` matrix with row `stride` fits in `len` elements.
pub(crate) fn check_matrix(
    buffer: &'static str,
    len: usize,
    stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    if rows == 0 {
        return Ok(());
    }
    if stride < cols {
        return Err(Error::StrideTooSmall {
            buffer,
            stride,
            cols,
        });
    }
    let needed = (rows - 1)
        .checked_mul(stride)
        .and_then(|s| s.checked_add(cols))
        .ok_or(Error::ShapeOverflow)?;
    if len < needed {
        return Err(Error::BufferTooShort {
            buffer,
            needed,
            len,
        });
    }
    Ok(())
}
