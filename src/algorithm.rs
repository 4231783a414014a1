//! The softmax algorithms, and how `Auto` chooses among them.

use crate::{Float, Isa};

/// How softmax (and log-softmax, log-sum-exp) walks the row.
///
/// | algorithm | passes | reads + writes per element |
/// |---|---|---|
/// | `TwoPass` | sum of `exp(x)` with an extended exponent; `y = exp(x) / sum` | 2 reads, 1 write |
/// | `ThreePassReload` | max; `y = exp(x - max)` and its sum; `y *= 1 / sum` | 3 reads, 2 writes |
/// | `ThreePassRecompute` | max; sum of `exp(x - max)`; `y = exp(x - max) / sum` | 3 reads, 1 write |
/// | `Online` | max and sum together; `y = exp(x - max) / sum` | 2 reads, 1 write |
/// | `Blocked` | per L1-sized block: max, then `y = exp(x - block max)` and its sum; then each block scaled by its own factor | 2 reads, 2 writes (the block's second read hits L1) |
///
/// `Auto` picks by the row length and ISA (see [`Crossover`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// The fastest for the row length on this CPU class.
    #[default]
    Auto,
    /// Dukhan & Ablavatski's two-pass algorithm: no max pass.
    TwoPass,
    /// Max pass, then store `exp(x - max)` while summing, then scale the stored values.
    ThreePassReload,
    /// Max pass, sum pass, then recompute `exp(x - max)` while scaling.
    ThreePassRecompute,
    /// Max and sum in one pass (rescaling the sum when the max moves far), then scale.
    Online,
    /// Blocks of [`crate::blocked::block_len`] elements, each with its own max: `exp` computed
    /// once and the input read once from memory; then every block scaled by
    /// `exp(block max - max) / sum`. Accuracy flat in n (the block sums are a second level).
    Blocked,
}

/// Where [`Algorithm::Auto`] switches on one ISA (row lengths in elements). Fixed numbers,
/// measured once (README.md, "Choosing the algorithm"), never timed at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crossover {
    /// f32 softmax rows from this length on run two-pass; shorter rows three-pass reload (it
    /// computes exp once, and wins while its extra pass stays in cache).
    pub long_from: usize,
    /// As `long_from`, for f16 rows, which move half the bytes and convert on every load and
    /// store.
    pub f16_long_from: usize,
    /// As `long_from`, for bf16 rows.
    pub bf16_long_from: usize,
    /// Log-sum-exp and log-softmax rows from this length on reduce in one extended-exponent
    /// pass; shorter rows take the max, then the sum (cheaper per element for short rows).
    pub one_pass_reduction_from: usize,
}

impl Crossover {
    /// The crossover measured for `isa` (AMD EPYC Zen 5, one thread, inputs uniform in
    /// [-1000, 1000], output hot in cache as in the criterion bench; elements/ns):
    /// - AVX-512: f32 softmax two-pass from 128K, where input and output outgrow the 1 MiB L2
    ///   (6.48 against 6.20 for reload at 128K, 6.33 against 6.96 at 64K; 5.37 against 3.00
    ///   at 4M); f16 two-pass from 8M (5.75 against 5.15 at 8M, 5.86 against 6.75 at 4M); bf16
    ///   from 2M (5.83 against 5.83 at 2M, 5.93 against 5.49 at 4M, 5.96 against 6.03 at 1M);
    ///   the one-pass log-sum-exp from 4K (9.98 against 8.91 at 4K, 7.99 against 9.31 at 2K).
    /// - AVX2: f32 softmax two-pass from 4M (2.96 against 2.40 at 4M, 2.94 against 3.28 at 2M);
    ///   bf16 two-pass at every length (its exact rounding on every store makes reload's two
    ///   output passes dear: 2.23 against 2.03 at 16K, 2.03 against 1.74 at 64M); f16 never
    ///   (3.65 against 3.18 at 16K; from 4M the two are within this VM's noise of each other,
    ///   3.00-3.22 against 3.04-3.32 at 64M); the one-pass log-sum-exp at every length
    ///   (4.34 against 4.01 at 1K).
    /// - Scalar is compute-bound at every size: reload, and max-then-sum, always.
    ///
    /// With the output cold (the reproduction, BENCHMARKS.md) two-pass leads earlier.
    pub fn of(isa: Isa) -> Crossover {
        match isa {
            Isa::Avx512 => Crossover {
                long_from: 1 << 17,
                f16_long_from: 1 << 23,
                bf16_long_from: 1 << 21,
                one_pass_reduction_from: 1 << 12,
            },
            Isa::Avx2 => Crossover {
                long_from: 1 << 22,
                f16_long_from: usize::MAX,
                bf16_long_from: 0,
                one_pass_reduction_from: 0,
            },
            _ => Crossover {
                long_from: usize::MAX,
                f16_long_from: usize::MAX,
                bf16_long_from: usize::MAX,
                one_pass_reduction_from: usize::MAX,
            },
        }
    }
}

/// Output passes over rows at least this long use non-temporal stores: the output would not
/// stay in the last-level cache anyway, and they skip the read-for-ownership (measured with
/// AVX-512 at 4M-64M floats: +17% to +26% for two-pass softmax).
pub const NON_TEMPORAL_FROM: usize = 1 << 22;

impl Algorithm {
    /// The concrete algorithm softmax runs for a row of `n` f32 elements on `isa`.
    pub fn resolve(self, n: usize, isa: Isa) -> Algorithm {
        self.resolve_for::<f32>(n, isa)
    }

    /// The concrete algorithm softmax runs for a row of `n` elements of type `T` on `isa`.
    pub fn resolve_for<T: Float>(self, n: usize, isa: Isa) -> Algorithm {
        match self {
            Algorithm::Auto if n < T::long_from(&Crossover::of(isa)) => Algorithm::ThreePassReload,
            Algorithm::Auto => Algorithm::TwoPass,
            other => other,
        }
    }

    /// The reduction `log_sum_exp` and `log_softmax` run for a row of `n` elements on `isa`:
    /// under `Auto`, the one-read extended-exponent pass ([`Algorithm::TwoPass`]) or the max
    /// then the sum ([`Algorithm::ThreePassRecompute`]), by [`Crossover`].
    pub fn resolve_reduction(self, n: usize, isa: Isa) -> Algorithm {
        match self {
            Algorithm::Auto if n < Crossover::of(isa).one_pass_reduction_from => {
                Algorithm::ThreePassRecompute
            }
            Algorithm::Auto => Algorithm::TwoPass,
            other => other,
        }
    }

    /// Every concrete algorithm (not `Auto`).
    pub const CONCRETE: [Algorithm; 5] = [
        Algorithm::TwoPass,
        Algorithm::ThreePassReload,
        Algorithm::ThreePassRecompute,
        Algorithm::Online,
        Algorithm::Blocked,
    ];

    /// A short lower-case name, as in benchmark rows.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::TwoPass => "two-pass",
            Algorithm::ThreePassReload => "three-pass-reload",
            Algorithm::ThreePassRecompute => "three-pass-recompute",
            Algorithm::Online => "online",
            Algorithm::Blocked => "blocked",
        }
    }
}
