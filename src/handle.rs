//! [`Kernels`]: a handle on one ISA's kernels, an algorithm and a crossover; how it is built,
//! chosen and asked what it runs. Its operations are in `kernels.rs`.

use std::sync::OnceLock;

use twopass_kernels::{Isa, Table};

use crate::dispatch::active_isa;
use crate::float::Tables;
use crate::row::How;
use crate::{Algorithm, Crossover, Error, Float};

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
    isa: Isa,
    tables: Tables,
    algorithm: Algorithm,
    crossover: Crossover,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels")
            .field("isa", &self.isa())
            .field("variant", &self.variant())
            .field("algorithm", &self.algorithm)
            .field("crossover", &self.crossover)
            .finish()
    }
}

impl Kernels {
    /// The kernels of `isa` with [`Algorithm::Auto`], if this CPU runs them.
    pub fn new(isa: Isa) -> Result<Kernels, Error> {
        match Tables::of(isa) {
            Some(_) => Ok(*Kernels::built(isa)),
            None => Err(Error::UnsupportedIsa(isa)),
        }
    }

    /// The kernels of `isa` (which this CPU runs) with `Auto`, built once per ISA (the
    /// half-precision tables and the crossover take CPU-feature and cache look-ups, too dear
    /// for every call of a short row).
    pub(crate) fn built(isa: Isa) -> &'static Kernels {
        static BUILT: [OnceLock<Kernels>; Isa::ALL.len()] = [const { OnceLock::new() }; 3];
        let slot = Isa::ALL
            .iter()
            .position(|&i| i == isa)
            .expect("every Isa is in Isa::ALL");
        BUILT[slot].get_or_init(|| Kernels {
            isa,
            tables: Tables::of(isa).expect("only ISAs this CPU runs are built"),
            algorithm: Algorithm::Auto,
            crossover: Crossover::of(isa),
        })
    }

    /// The process-wide kernels ([`crate::set_isa`], else `TWOPASS_ISA`, else the best the CPU
    /// has) with [`Algorithm::Auto`], or why `TWOPASS_ISA` cannot be honoured:
    /// [`Error::InvalidIsaVariable`] for an unknown name, [`Error::UnsupportedIsaVariable`] for
    /// an ISA this CPU lacks.
    pub fn try_active() -> Result<Kernels, Error> {
        Kernels::try_active_ref().copied()
    }

    /// [`Kernels::try_active`] by reference (nothing copied).
    pub(crate) fn try_active_ref() -> Result<&'static Kernels, Error> {
        active_isa().map(Kernels::built)
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
        Kernels::try_active_ref().unwrap_or_else(|e| panic!("{e}"))
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
    pub(crate) fn softmax_how<T: Float>(&self, n: usize) -> How {
        (self.softmax_algorithm::<T>(n), self.crossover.store_for(n))
    }

    /// Log-softmax's reduction and store mode for a row of `n` elements.
    pub(crate) fn log_softmax_how(&self, n: usize) -> How {
        (self.reduction_algorithm(n), self.crossover.store_for(n))
    }

    /// The ISA of these kernels.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The algorithm these kernels run.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The kernels for rows of `T`.
    pub(crate) fn table<T: Float>(&self) -> &'static Table<T> {
        T::among(&self.tables)
    }

    /// The f32 microkernel variant, XNNPACK style (e.g. `f32-avx512f-p5-scalef-u64-acc4`).
    pub fn variant(&self) -> &'static str {
        self.tables.f32.name
    }
}
