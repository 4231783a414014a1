//! The floating-point environment: each operation by every algorithm timed with the process's
//! default MXCSR (FTZ and DAZ off, as every Rust and C program starts) and with FTZ/DAZ on, side by
//! side. A kernel that computed with subnormals would run far slower in the default environment
//! on Intel CPUs (a microcode assist per such instruction); twopass computes none, so the two
//! columns agree on every CPU (`kernels/tests/fpenv.rs` holds that property).

use std::hint::black_box;

use twopass::{fpenv, Algorithm, CrossEntropyOptions, CrossEntropyOutputs, Isa, Kernels, Shape};

use crate::measure::{time_all, Call, Plan, Ring, Timing, SCALAR_MAX_N};

/// The row lengths timed: one in L1/L2 (an attention row), one out of cache.
pub const SIZES: [usize; 2] = [1 << 14, 1 << 22];

/// An operation timed, by each of its [`EnvOp::algorithms`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvOp {
    Softmax,
    LogSoftmax,
    LogSumExp,
    /// One row: the loss (mean, target 3) and the gradient.
    CrossEntropy,
}

impl EnvOp {
    /// Every operation, in report order.
    pub const ALL: [EnvOp; 4] = [
        EnvOp::Softmax,
        EnvOp::LogSoftmax,
        EnvOp::LogSumExp,
        EnvOp::CrossEntropy,
    ];

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            EnvOp::Softmax => "softmax",
            EnvOp::LogSoftmax => "log_softmax",
            EnvOp::LogSumExp => "log_sum_exp",
            EnvOp::CrossEntropy => "cross_entropy loss + gradient",
        }
    }

    /// The algorithms timed: `Auto` and each distinct path. Log-softmax and log-sum-exp share
    /// the reduction, where `ThreePassReload` and `ThreePassRecompute` are both the max then
    /// the sum; cross-entropy has one loss and gradient pass whatever the algorithm.
    pub fn algorithms(self) -> &'static [Algorithm] {
        match self {
            EnvOp::Softmax => &[
                Algorithm::Auto,
                Algorithm::TwoPass,
                Algorithm::ThreePassReload,
                Algorithm::ThreePassRecompute,
                Algorithm::Online,
                Algorithm::Blocked,
            ],
            EnvOp::LogSoftmax | EnvOp::LogSumExp => &[
                Algorithm::Auto,
                Algorithm::TwoPass,
                Algorithm::ThreePassRecompute,
                Algorithm::Online,
                Algorithm::Blocked,
            ],
            EnvOp::CrossEntropy => &[Algorithm::Auto],
        }
    }

    /// Runs the operation on `x` into `y`.
    fn call(self, k: Kernels, x: &[f32], y: &mut [f32]) {
        match self {
            EnvOp::Softmax => k.softmax(x, y).expect("equal lengths"),
            EnvOp::LogSoftmax => k.log_softmax(x, y).expect("equal lengths"),
            EnvOp::LogSumExp => {
                black_box(k.log_sum_exp(x));
            }
            EnvOp::CrossEntropy => {
                let n = x.len();
                let loss = k.cross_entropy(
                    x,
                    Shape::new(1, n),
                    &[3],
                    &CrossEntropyOptions::default(),
                    CrossEntropyOutputs::default(),
                    Some((y, n)),
                );
                black_box(loss.expect("a valid call"));
            }
        }
    }
}

/// One operation at one size on one ISA, in both environments.
#[derive(Clone, Copy, Debug)]
pub struct EnvRow {
    /// The operation.
    pub op: EnvOp,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The ISA.
    pub isa: Isa,
    /// Row length.
    pub n: usize,
    /// With MXCSR as the process found it (FTZ and DAZ off).
    pub default: Timing,
    /// With FTZ and DAZ on.
    pub ftz_daz: Timing,
}

impl EnvRow {
    /// `time(FTZ/DAZ on) / time(default)`: 1 when the environment does not matter, well below 1
    /// when the default environment pays for subnormals.
    pub fn ratio(&self) -> f64 {
        self.ftz_daz.median_ns / self.default.median_ns
    }
}

/// Times every [`EnvOp`] by each of its algorithms at the [`SIZES`] up to `max_n` (16K always) on `isas`,
/// the two environments taking turns like the kernels of one size; `progress` gets each result.
pub fn run(
    plan: &Plan,
    ring: &mut Ring,
    isas: &[Isa],
    max_n: usize,
    x_all: &[f32],
    mut progress: impl FnMut(&str, usize, &Timing),
) -> Vec<EnvRow> {
    let default = fpenv::read();
    let ftz_daz = default | fpenv::FLUSH_TO_ZERO | fpenv::DENORMALS_ARE_ZERO;
    let mut rows = Vec::new();
    for (n, isas_at) in plan_sizes(isas, max_n) {
        let x = &x_all[..n];
        ring.set_len(n);
        let mut calls: Vec<Call<'_>> = Vec::new();
        let mut what = Vec::new();
        for isa in isas_at {
            let k = Kernels::new(isa).expect("only available ISAs are chosen");
            for op in EnvOp::ALL {
                for &algorithm in op.algorithms() {
                    let k = k.with_algorithm(algorithm);
                    for mode in [default, ftz_daz] {
                        calls.push(Box::new(move |y: &mut [f32]| {
                            fpenv::run_with(mode, || op.call(k, black_box(x), black_box(y)));
                        }));
                    }
                    what.push((op, algorithm, isa));
                }
            }
        }
        let timings = time_all(plan, ring, &mut calls);
        for ((op, algorithm, isa), t) in what.into_iter().zip(timings.chunks(2)) {
            let row = EnvRow {
                op,
                algorithm,
                isa,
                n,
                default: t[0],
                ftz_daz: t[1],
            };
            let name = format!("{} {} {}", op.name(), isa.name(), algorithm.name());
            progress(&format!("{name}, default env"), n, &t[0]);
            progress(&format!("{name}, FTZ/DAZ on"), n, &t[1]);
            rows.push(row);
        }
    }
    rows
}

/// How many timings [`run`] makes (for the progress count).
pub fn count(isas: &[Isa], max_n: usize) -> usize {
    plan_sizes(isas, max_n)
        .map(|(_, isas_at)| {
            let algorithms: usize = EnvOp::ALL.iter().map(|op| op.algorithms().len()).sum();
            2 * algorithms * isas_at.len()
        })
        .sum()
}

/// The [`SIZES`] up to `max_n` (16K always), each with the ISAs timed there (scalar only up to
/// [`SCALAR_MAX_N`]).
fn plan_sizes(isas: &[Isa], max_n: usize) -> impl Iterator<Item = (usize, Vec<Isa>)> + '_ {
    SIZES
        .into_iter()
        .filter(move |&n| n <= max_n.max(SIZES[0]))
        .map(move |n| {
            let at = isas.iter().copied();
            (
                n,
                at.filter(|&i| i != Isa::Scalar || n <= SCALAR_MAX_N)
                    .collect(),
            )
        })
}
