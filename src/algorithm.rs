//! The softmax algorithms, and how `Auto` chooses among them.

use twopass_kernels::cpu::{Cpu, Vendor};
use twopass_kernels::Store;

use crate::float::Kind;
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
    /// Dukhan & Ablavatski's two-pass algorithm: no max pass. For log-sum-exp and log-softmax,
    /// its first pass alone: the one-read extended-exponent reduction.
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

/// The memory passes an algorithm makes over a row, for the bytes it moves and the speed it
/// could reach: each element is read once per read pass and read and written once per copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Passes {
    /// Read-only passes.
    pub reads: usize,
    /// Read-and-write passes whose output is read again, so it is stored through the cache.
    pub cached_copies: usize,
    /// Read-and-write passes that store the row's final output (non-temporal for long rows).
    pub copies: usize,
}

impl Passes {
    /// Bytes moved per element of `size` bytes: one per read, two per copy.
    pub fn bytes_per_element(self, size: usize) -> usize {
        size * (self.reads + 2 * (self.cached_copies + self.copies))
    }
}

/// Where [`Algorithm::Auto`] switches on one ISA (row lengths in elements), derived from the
/// running CPU's caches ([`Crossover::for_cpu`]) and never timed at run time; set your own with
/// [`crate::Kernels::with_crossover`].
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
    /// Output passes over rows at least this long use non-temporal stores: the output would
    /// not stay in the part of the last-level cache one core fills anyway, and they skip the
    /// read-for-ownership. Along an axis, the tensor's elements count (its tiles walked row by
    /// row, with every row of the output on a vector boundary: `docs/algorithms.md`).
    pub non_temporal_from: usize,
    /// Softmax along an axis: tiles of at least this many elements (`len` times the tile's
    /// columns, up to `AXIS_TILE` or a strip's: `axis_strips_below`; the working set of a
    /// tile's passes) run the online pass, then the output pass; smaller ones three-pass
    /// reload.
    pub axis_online_from: usize,
    /// Along an axis of at most four strips' columns (256 with AVX-512, 64 with AVX2), tensors
    /// below this many elements go in tiles one strip wide, each walked with its state in
    /// registers; larger ones, and wider axes, in tiles of up to `AXIS_TILE` columns walked
    /// row by row. A strip reads its part of every row, and the lines it shares with the strips
    /// beside it come back from the caches only while the tensor stays in them.
    pub axis_strips_below: usize,
}

/// The L2 assumed where CPUID reports none (that of the AMD EPYC machines the rules come from).
const FALLBACK_L2: usize = 1 << 20;
/// The L3 assumed where CPUID reports none.
const FALLBACK_L3: usize = 32 << 20;
/// The most of an Intel L3 one core fills before its stores are better sent past it. A Xeon's
/// L3 (480 MiB on the one measured) is shared by every core of the package; one core's read
/// pass there slowed from 28 to 17-27 GB/s at 64 MiB and to 12-15 at 128 MiB, and non-temporal
/// stores matched regular ones at 4M elements (32 MiB with the input) and led from 8M.
const INTEL_CORE_L3: usize = 32 << 20;

impl Crossover {
    /// The crossover for `isa` on the running CPU ([`Crossover::for_cpu`]).
    pub fn of(isa: Isa) -> Crossover {
        Crossover::for_cpu(isa, &twopass_kernels::cpu::cpu())
    }

    /// The crossover for `isa` on `cpu`. Two-pass reads the row twice and writes it once, but
    /// computes exp twice; three-pass reload moves 8 more bytes per f32 element and computes
    /// it once. So two-pass wins once those bytes come from a level too slow to hide them behind
    /// one exp, and the rule is the cache the row's input and output (8 bytes per f32 element,
    /// 4 per half) no longer fit. On AMD that cache is the L3 for some rows: one CCX's L3 feeds
    /// one core fast. On Intel it is the L2: the L3 is shared by every core over a mesh and
    /// feeds one core at about memory speed.
    /// - f32 with AVX-512: the L2 (`long_from = L2 / 8`).
    /// - f32 with AVX2: the L2 too (`L2 / 8`), on AMD as on Intel since its sums take the
    ///   table form of exp.
    /// - f16 with AVX-512: the L3 on AMD (`L3 / 4`), bf16 a quarter of it (`L3 / 16`); on
    ///   Intel twice the L2 for f16 (`L2 / 2`), the L2 for bf16 (`L2 / 4`). With AVX2, bf16
    ///   always (its exact rounding on every store makes reload's two output passes dear), f16
    ///   the L2 (`L2 / 4`), as f32.
    /// - Log-sum-exp in one pass from 4K with AVX-512 and always with AVX2: not a matter of
    ///   caches (the rows are in L1) but of the one-pass sum's set-up per call.
    /// - Scalar is compute-bound at every size: reload, and max-then-sum, always.
    /// - Non-temporal stores once input and output (8 bytes per f32 element) outgrow the L3
    ///   one core can fill (`L3 / 8`): on Intel at most 32 MiB of it.
    /// - Softmax along an axis: the online pass once a tile's input and output outgrow the L3
    ///   one core can fill (as non-temporal stores), but with AVX-512 on Intel once they
    ///   outgrow twice the L2 (`L2 / 4`), where its two exps cost less than reload's pass
    ///   through the L3 (measured before reload went in blocks of rows for tiles of a strip's
    ///   width, which on Ice Lake-SP still lose to the online pass from 4M elements).
    ///   Scalar: reload always.
    /// - Along an axis of at most four strips' columns, tiles one strip wide while input and
    ///   output take less than half that L3 (`axis_strips_below = non_temporal_from / 2`);
    ///   never on scalar.
    ///
    /// Unknown cache sizes count as 1 MiB of L2 and 32 MiB of L3. The measurements behind each
    /// rule, and the CPUs they come from, are in `docs/algorithms.md`.
    pub fn for_cpu(isa: Isa, cpu: &Cpu) -> Crossover {
        let l2 = if cpu.l2 > 0 { cpu.l2 } else { FALLBACK_L2 };
        let l3 = if cpu.l3 > 0 { cpu.l3 } else { FALLBACK_L3 }.max(l2);
        let intel = cpu.vendor == Vendor::Intel;
        let non_temporal_from = if intel { l3.min(INTEL_CORE_L3) } else { l3 } / 8;
        match isa {
            Isa::Avx512 => Crossover {
                long_from: l2 / 8,
                f16_long_from: if intel { l2 / 2 } else { l3 / 4 },
                bf16_long_from: if intel { l2 / 4 } else { l3 / 16 },
                one_pass_reduction_from: 1 << 12,
                non_temporal_from,
                axis_online_from: if intel { l2 / 4 } else { non_temporal_from },
                axis_strips_below: non_temporal_from / 2,
            },
            Isa::Avx2 => Crossover {
                long_from: l2 / 8,
                f16_long_from: l2 / 4,
                bf16_long_from: 0,
                one_pass_reduction_from: 1 << 9,
                non_temporal_from,
                axis_online_from: non_temporal_from,
                axis_strips_below: non_temporal_from / 2,
            },
            _ => Crossover {
                long_from: usize::MAX,
                f16_long_from: usize::MAX,
                bf16_long_from: usize::MAX,
                one_pass_reduction_from: usize::MAX,
                non_temporal_from,
                axis_online_from: usize::MAX,
                axis_strips_below: 0,
            },
        }
    }

    /// The concrete algorithm softmax runs for `algorithm` on a row of `n` elements of `T`:
    /// `Auto` becomes two-pass from `T`'s `long_from` on, three-pass reload below.
    pub fn softmax_algorithm<T: Float>(&self, algorithm: Algorithm, n: usize) -> Algorithm {
        let long_from = match T::KIND {
            Kind::F32 => self.long_from,
            Kind::F16 => self.f16_long_from,
            Kind::Bf16 => self.bf16_long_from,
        };
        match algorithm {
            Algorithm::Auto if n < long_from => Algorithm::ThreePassReload,
            Algorithm::Auto => Algorithm::TwoPass,
            other => other,
        }
    }

    /// How output passes over a row of `n` elements store.
    pub(crate) fn store_for(&self, n: usize) -> Store {
        if n >= self.non_temporal_from {
            Store::NonTemporal
        } else {
            Store::Cached
        }
    }

    /// The reduction `log_sum_exp` and `log_softmax` run for `algorithm` on a row of `n`:
    /// under `Auto`, the one-read extended-exponent pass ([`Algorithm::TwoPass`]) from
    /// `one_pass_reduction_from` on, else the max then the sum
    /// ([`Algorithm::ThreePassRecompute`]).
    pub fn reduction_algorithm(&self, algorithm: Algorithm, n: usize) -> Algorithm {
        match algorithm {
            Algorithm::Auto if n < self.one_pass_reduction_from => Algorithm::ThreePassRecompute,
            Algorithm::Auto => Algorithm::TwoPass,
            other => other,
        }
    }
}

impl Algorithm {
    /// The concrete algorithm softmax runs for a row of `n` f32 elements on `isa`.
    pub fn resolve(self, n: usize, isa: Isa) -> Algorithm {
        self.resolve_for::<f32>(n, isa)
    }

    /// The concrete algorithm softmax runs for a row of `n` elements of type `T` on `isa`
    /// (with [`Crossover::of`]).
    pub fn resolve_for<T: Float>(self, n: usize, isa: Isa) -> Algorithm {
        Crossover::of(isa).softmax_algorithm::<T>(self, n)
    }

    /// The reduction `log_sum_exp` and `log_softmax` run for a row of `n` elements on `isa`
    /// (with [`Crossover::of`]).
    pub fn resolve_reduction(self, n: usize, isa: Isa) -> Algorithm {
        Crossover::of(isa).reduction_algorithm(self, n)
    }

    /// The passes softmax makes with this (concrete) algorithm; `None` for `Auto`, which is
    /// one of the others once resolved ([`Algorithm::resolve`]).
    pub fn softmax_passes(self) -> Option<Passes> {
        let (reads, cached_copies, copies) = match self {
            Algorithm::Auto => return None,
            Algorithm::TwoPass | Algorithm::Online => (1, 0, 1),
            Algorithm::ThreePassReload => (1, 1, 1),
            Algorithm::ThreePassRecompute => (2, 0, 1),
            // Each block's output is read back from L1 and scaled in place.
            Algorithm::Blocked => (0, 2, 0),
        };
        Some(Passes {
            reads,
            cached_copies,
            copies,
        })
    }

    /// The read passes log-sum-exp makes with this (concrete) reduction
    /// ([`Algorithm::resolve_reduction`]); `None` for `Auto`.
    pub fn reduction_passes(self) -> Option<Passes> {
        let reads = match self {
            Algorithm::Auto => return None,
            // One pass: the extended sum, max and sum together, or per block from L1.
            Algorithm::TwoPass | Algorithm::Online | Algorithm::Blocked => 1,
            Algorithm::ThreePassReload | Algorithm::ThreePassRecompute => 2,
        };
        Some(Passes {
            reads,
            cached_copies: 0,
            copies: 0,
        })
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
