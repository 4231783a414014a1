//! The softmax algorithms, and how `Auto` chooses among them.

use crate::Isa;

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
    /// Softmax rows from this length on run [`Crossover::long`]; shorter rows three-pass reload
    /// (it computes exp once, and wins while input and output stay in the last-level cache).
    pub long_from: usize,
    /// What long rows run: two-pass, or online, which moves the same 12 bytes per element and
    /// measured 5-8% faster with AVX-512 at 4M-64M (4.52 against 4.22 elements/ns at 4M, 3.50
    /// against 3.32 at 64M; with AVX2 it is far slower: 1.65 against 2.45-2.67).
    pub long: Algorithm,
    /// Log-sum-exp and log-softmax rows from this length on reduce in one extended-exponent
    /// pass; shorter rows take the max, then the sum (cheaper per element while in cache).
    pub one_pass_reduction_from: usize,
    /// As `long_from` (with two-pass), for f16 / bf16 rows: never. Half-width rows move half the
    /// bytes, and three-pass reload was fastest or within 5% at every size up to 64M (f16 at 64M:
    /// 3.94 against 3.87 elements/ns for two-pass and 4.11 for online with AVX-512; 2.43 against
    /// 1.93 for two-pass with AVX2, whose bf16 rounding makes every store dear: 1.42 against 1.44).
    pub half_two_pass_from: usize,
}

impl Crossover {
    /// The crossover measured for `isa` (AMD EPYC Zen 5, one thread): softmax switches at 4M
    /// elements on both vector ISAs, where input and output together fill the 32 MiB L3, to
    /// online with AVX-512 and two-pass with AVX2. Below that, with the output hot in cache,
    /// reload leads (at 2M: 5.70 against 5.01 elements/ns for two-pass with AVX-512, 2.88
    /// against 2.62 with AVX2); with the output cold, online (AVX-512) and two-pass (AVX2)
    /// already lead from 1M-2M (BENCHMARKS.md). Scalar is compute-bound at every size: reload, and max-then-sum,
    /// always.
    pub fn of(isa: Isa) -> Crossover {
        match isa {
            Isa::Avx512 => Crossover {
                long_from: 1 << 22,
                long: Algorithm::Online,
                one_pass_reduction_from: 1 << 19,
                half_two_pass_from: usize::MAX,
            },
            Isa::Avx2 => Crossover {
                long_from: 1 << 22,
                long: Algorithm::TwoPass,
                one_pass_reduction_from: 0,
                half_two_pass_from: usize::MAX,
            },
            _ => Crossover {
                long_from: usize::MAX,
                long: Algorithm::TwoPass,
                one_pass_reduction_from: usize::MAX,
                half_two_pass_from: usize::MAX,
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
        let c = Crossover::of(isa);
        self.resolve_from(n, c.long_from, c.long)
    }

    /// The concrete algorithm softmax runs for a row of `n` f16 or bf16 elements on `isa`.
    pub fn resolve_half(self, n: usize, isa: Isa) -> Algorithm {
        self.resolve_from(n, Crossover::of(isa).half_two_pass_from, Algorithm::TwoPass)
    }

    fn resolve_from(self, n: usize, long_from: usize, long: Algorithm) -> Algorithm {
        match self {
            Algorithm::Auto if n < long_from => Algorithm::ThreePassReload,
            Algorithm::Auto => long,
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
