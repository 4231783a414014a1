//! The softmax algorithms, and how `Auto` chooses among them.

/// How softmax (and log-softmax, log-sum-exp) walks the row.
///
/// | algorithm | passes | reads + writes per element |
/// |---|---|---|
/// | `TwoPass` | sum of `exp(x)` with an extended exponent; `y = exp(x) / sum` | 2 reads, 1 write |
/// | `ThreePassReload` | max; `y = exp(x - max)` and its sum; `y *= 1 / sum` | 3 reads, 2 writes |
/// | `ThreePassRecompute` | max; sum of `exp(x - max)`; `y = exp(x - max) / sum` | 3 reads, 1 write |
/// | `Online` | max and sum together; `y = exp(x - max) / sum` | 2 reads, 1 write |
///
/// `Auto` picks by the row length (see [`Algorithm::resolve`]).
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
}

/// Rows up to this many elements run three-pass reload under `Auto`; longer rows two-pass.
/// Measured on AMD EPYC (Zen 5, AVX-512) and with AVX2 forced: see README.md.
pub const AUTO_TWO_PASS_FROM: usize = 256 * 1024;

/// Rows from this many elements on reduce (log-sum-exp, log-softmax) in one extended-exponent
/// pass under `Auto`; shorter rows take max then sum. Measured: see README.md.
pub const AUTO_LSE_TWO_PASS_FROM: usize = 64 * 1024;

/// Output passes over rows at least this long use non-temporal stores (the output would not
/// stay in the last-level cache anyway, and they avoid the read-for-ownership).
pub const NON_TEMPORAL_FROM: usize = 4 * 1024 * 1024;

impl Algorithm {
    /// The concrete algorithm softmax runs for a row of `n` elements.
    pub fn resolve(self, n: usize) -> Algorithm {
        match self {
            Algorithm::Auto if n < AUTO_TWO_PASS_FROM => Algorithm::ThreePassReload,
            Algorithm::Auto => Algorithm::TwoPass,
            other => other,
        }
    }

    /// The reduction `log_sum_exp` and `log_softmax` run for a row of `n` elements: they need
    /// only the sum, so `Auto` takes the one-read extended-exponent pass from
    /// [`AUTO_LSE_TWO_PASS_FROM`] on, and max-then-sum below it.
    pub fn resolve_reduction(self, n: usize) -> Algorithm {
        match self {
            Algorithm::Auto if n < AUTO_LSE_TWO_PASS_FROM => Algorithm::ThreePassRecompute,
            Algorithm::Auto => Algorithm::TwoPass,
            other => other,
        }
    }

    /// Every concrete algorithm (not `Auto`).
    pub const CONCRETE: [Algorithm; 4] = [
        Algorithm::TwoPass,
        Algorithm::ThreePassReload,
        Algorithm::ThreePassRecompute,
        Algorithm::Online,
    ];

    /// A short lower-case name, as in benchmark rows.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::TwoPass => "two-pass",
            Algorithm::ThreePassReload => "three-pass-reload",
            Algorithm::ThreePassRecompute => "three-pass-recompute",
            Algorithm::Online => "online",
        }
    }
}
