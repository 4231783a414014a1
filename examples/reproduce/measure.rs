//! The timing: warm-up, calibrated batches, the kernels of one size taking turns, median;
//! outputs rotated over a ring of buffers larger than the last-level cache; every kernel through
//! the public API (the probes through the kernel table's own read and copy passes).

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use twopass::{Algorithm, Isa, Kernels};
use twopass_kernels::{Io, Store};

use crate::args::Options;
use crate::environment::{self, EnvRow};
use crate::machine::Machine;
use crate::paper_input::input;
use crate::split::{self, SplitRow};
use sampling::SampleRow;

// Declared here rather than in main.rs, so that tests/reproduce.rs, which includes the
// example's modules one by one, compiles it with this module.
#[path = "sampling.rs"]
pub mod sampling;

/// Scalar runs only up to this length (it would take minutes beyond).
pub const SCALAR_MAX_N: usize = 1 << 16;

/// How long to time each kernel.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// A repetition calls the kernel until about this long has passed (ns).
    pub rep_ns: f64,
    /// Repetitions at least.
    pub min_reps: usize,
    /// Repetitions at most.
    pub max_reps: usize,
    /// Time per kernel and size (ns) the repetitions aim for, between the two bounds.
    pub budget_ns: f64,
}

impl Plan {
    /// The plan for a default or `--quick` run.
    pub fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                rep_ns: 0.5e6,
                min_reps: 3,
                max_reps: 5,
                budget_ns: 20e6,
            }
        } else {
            Plan {
                rep_ns: 3e6,
                min_reps: 5,
                max_reps: 25,
                budget_ns: 400e6,
            }
        }
    }
}

/// One timed kernel: the median of the per-call times of its repetitions.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Median time per call (ns).
    pub median_ns: f64,
    /// Fastest repetition, per call (ns).
    pub min_ns: f64,
    /// Slowest repetition, per call (ns).
    pub max_ns: f64,
    /// Repetitions timed (after the warm-up).
    pub reps: usize,
    /// Calls per repetition.
    pub calls: usize,
}

/// What a row times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `Kernels::softmax` with the row's algorithm.
    Softmax,
    /// `Kernels::log_sum_exp` with the row's algorithm.
    LogSumExp,
}

/// One kernel at one size on one ISA.
#[derive(Clone, Debug)]
pub struct Row {
    /// Softmax or log-sum-exp.
    pub op: Op,
    /// The ISA.
    pub isa: Isa,
    /// The algorithm asked for.
    pub algorithm: Algorithm,
    /// What it ran: `Auto` resolved for this length and ISA.
    pub resolved: Algorithm,
    /// Row length.
    pub n: usize,
    /// The timing.
    pub t: Timing,
}

/// The memory probes at one size.
#[derive(Clone, Copy, Debug)]
pub struct Ceiling {
    /// Row length.
    pub n: usize,
    /// A vectorised read-only pass (`rmax`).
    pub read: Timing,
    /// A copy with regular stores (`vscale` by 1).
    pub copy: Timing,
    /// A copy with non-temporal stores.
    pub copy_nt: Timing,
}

/// Everything one run measured.
#[derive(Clone, Debug)]
pub struct Results {
    /// The machine.
    pub machine: Machine,
    /// The options it ran with.
    pub options: Options,
    /// The timing plan.
    pub plan: Plan,
    /// Row lengths, ascending.
    pub sizes: Vec<usize>,
    /// The ISA whose read and copy passes are the probes (the widest).
    pub probe_isa: Isa,
    /// Bytes of the output ring.
    pub ring_bytes: usize,
    /// Probes per size.
    pub ceilings: Vec<Ceiling>,
    /// Every kernel timed.
    pub rows: Vec<Row>,
    /// Each operation in the default floating-point environment and with FTZ/DAZ on.
    pub environment: Vec<EnvRow>,
    /// One row split across threads against one call.
    pub split_rows: Vec<SplitRow>,
    /// One token drawn from one row, fused against unfused.
    pub sample_rows: Vec<SampleRow>,
    /// Wall time of the measurements (s).
    pub seconds: f64,
}

/// Row lengths: powers of two from 1K up to `max_n` (3.3 per decade), or, for `--quick`,
/// every fifth of them (1K, 32K, 1M...).
pub fn sizes(max_n: usize, quick: bool) -> Vec<usize> {
    let step = if quick { 5 } else { 1 };
    (10..usize::BITS)
        .step_by(step)
        .map(|p| 1usize << p)
        .take_while(|&n| n <= max_n)
        .collect()
}

/// Output buffers used in turn: one call writes slot `i`, the next `i + 1`, so with a ring of
/// twice the last-level cache each call finds its output evicted, as a real consumer would.
pub struct Ring {
    buf: Vec<f32>,
    n: usize,
    next: usize,
}

impl Ring {
    fn new(floats: usize) -> Ring {
        // Touched now, so no timing pays for page faults.
        Ring {
            buf: vec![1.0; floats],
            n: 1,
            next: 0,
        }
    }

    pub fn set_len(&mut self, n: usize) {
        self.n = n;
        self.next = 0;
    }

    fn next(&mut self) -> &mut [f32] {
        let slots = self.buf.len() / self.n;
        let i = self.next;
        self.next = (i + 1) % slots;
        &mut self.buf[i * self.n..(i + 1) * self.n]
    }
}

/// What a job at one size times.
#[derive(Clone, Copy)]
enum What {
    Read,
    Copy,
    CopyNt,
    Kernel(Op, Isa, Algorithm),
}

/// A timed call: it writes (or ignores) the output buffer it is given.
pub type Call<'a> = Box<dyn FnMut(&mut [f32]) + 'a>;

/// `per` timings at each of `sizes` up to `max_n` on each vector ISA of `isas` (a section's
/// share of the progress count).
pub fn vector_timings(isas: &[Isa], sizes: &[usize], max_n: usize, per: usize) -> usize {
    let vector = isas.iter().filter(|&&i| i != Isa::Scalar).count();
    per * vector * sizes.iter().filter(|&&n| n <= max_n).count()
}

/// Times every job of one size. Each is warmed up (about one repetition) and calibrated alone;
/// then the repetitions take turns, one of each job per round, so that a slow moment of the
/// machine's memory falls on every kernel of the size alike (ratios within a size compare
/// kernels timed side by side). Every call writes the next output buffer of the ring. The
/// repetition count is the smallest the budget gives any job of the size.
pub fn time_all(plan: &Plan, ring: &mut Ring, calls: &mut [Call<'_>]) -> Vec<Timing> {
    let calibrated: Vec<(usize, usize)> = calls
        .iter_mut()
        .map(|call| {
            let start = Instant::now();
            let mut warm = 0usize;
            while warm == 0 || (start.elapsed().as_nanos() as f64) < plan.rep_ns {
                call(ring.next());
                warm += 1;
            }
            let per_call = start.elapsed().as_nanos() as f64 / warm as f64;
            let calls = ((plan.rep_ns / per_call).ceil() as usize).max(1);
            let reps = ((plan.budget_ns / (per_call * calls as f64)) as usize)
                .clamp(plan.min_reps, plan.max_reps);
            (calls, reps)
        })
        .collect();
    let reps = calibrated
        .iter()
        .map(|&(_, r)| r)
        .min()
        .unwrap_or(plan.min_reps);
    let mut per_rep = vec![Vec::with_capacity(reps); calls.len()];
    for _ in 0..reps {
        for ((call, &(n, _)), times) in calls.iter_mut().zip(&calibrated).zip(&mut per_rep) {
            let start = Instant::now();
            for _ in 0..n {
                call(ring.next());
            }
            times.push(start.elapsed().as_nanos() as f64 / n as f64);
        }
    }
    per_rep
        .into_iter()
        .zip(&calibrated)
        .map(|(mut t, &(calls, _))| {
            t.sort_by(f64::total_cmp);
            Timing {
                median_ns: t[reps / 2],
                min_ns: t[0],
                max_ns: t[reps - 1],
                reps,
                calls,
            }
        })
        .collect()
}

/// The reductions log-sum-exp is timed with: one pass, and max then sum.
pub const LSE_ALGORITHMS: [Algorithm; 2] = [Algorithm::TwoPass, Algorithm::ThreePassRecompute];

/// Runs every measurement `options` asks for, printing progress to stderr.
pub fn run(machine: &Machine, options: &Options) -> Results {
    let plan = Plan::new(options.quick);
    let sizes = sizes(options.max_n, options.quick);
    let probe_isa = *machine.isas.last().expect("scalar is always available");
    let probes = twopass_kernels::table(probe_isa).expect("an available ISA has a table");
    let lse: Vec<Algorithm> = LSE_ALGORITHMS
        .into_iter()
        .filter(|a| options.algorithms.contains(a))
        .collect();
    let isas_at = |n: usize| {
        options
            .isas
            .iter()
            .copied()
            .filter(move |&i| i != Isa::Scalar || n <= SCALAR_MAX_N)
    };
    let total: usize = sizes
        .iter()
        .map(|&n| 3 + isas_at(n).count() * (options.algorithms.len() + lse.len()))
        .sum::<usize>()
        + environment::count(&options.isas, options.max_n)
        + split::count(&options.isas, options.max_n)
        + sampling::count(&options.isas, options.max_n);

    let max_n = sizes.last().copied().unwrap_or(0);
    let ring_floats = (2 * machine.llc_bytes() / 4).max(max_n);
    let x_all = input(max_n.max(environment::SIZES[0]));
    let mut ring = Ring::new(ring_floats);
    let (mut ceilings, mut rows) = (Vec::new(), Vec::new());
    let mut done = 0;
    let mut progress = |what: &str, n: usize, t: &Timing| {
        done += 1;
        eprintln!(
            "[{done:>w$}/{total}] {what:<38} n={n:<9} {:>10.1} us  {:>6.2} elem/ns",
            t.median_ns / 1e3,
            n as f64 / t.median_ns,
            w = total.to_string().len(),
        );
        std::io::stderr().flush().ok();
    };
    let started = Instant::now();
    for &n in &sizes {
        let x = &x_all[..n];
        ring.set_len(n);
        let copy_with = |store: Store| -> Call<'_> {
            Box::new(move |y: &mut [f32]| {
                (probes.vscale)(Io::Split(black_box(x), black_box(y)), 1.0, store)
            })
        };
        let mut jobs: Vec<(What, Call<'_>)> = vec![
            (
                What::Read,
                Box::new(|_: &mut [f32]| {
                    black_box((probes.rmax)(black_box(x)));
                }),
            ),
            (What::Copy, copy_with(Store::Cached)),
            (What::CopyNt, copy_with(Store::NonTemporal)),
        ];
        for isa in isas_at(n) {
            let kernels = Kernels::new(isa).expect("only available ISAs are chosen");
            for &algorithm in &options.algorithms {
                let k = kernels.with_algorithm(algorithm);
                jobs.push((
                    What::Kernel(Op::Softmax, isa, algorithm),
                    Box::new(move |y: &mut [f32]| {
                        k.softmax(black_box(x), black_box(y))
                            .expect("equal lengths")
                    }),
                ));
            }
            for &algorithm in &lse {
                let k = kernels.with_algorithm(algorithm);
                jobs.push((
                    What::Kernel(Op::LogSumExp, isa, algorithm),
                    Box::new(move |_: &mut [f32]| {
                        black_box(k.log_sum_exp(black_box(x)));
                    }),
                ));
            }
        }
        let (whats, mut calls): (Vec<What>, Vec<Call<'_>>) = jobs.into_iter().unzip();
        let timings = time_all(&plan, &mut ring, &mut calls);
        let (mut read, mut copy, mut copy_nt) = (None, None, None);
        for (what, t) in whats.into_iter().zip(timings) {
            let probe = probe_isa.name();
            match what {
                What::Read => {
                    progress(&format!("read pass {probe}"), n, &t);
                    read = Some(t);
                }
                What::Copy => {
                    progress(&format!("copy {probe}"), n, &t);
                    copy = Some(t);
                }
                What::CopyNt => {
                    progress(&format!("copy non-temporal {probe}"), n, &t);
                    copy_nt = Some(t);
                }
                What::Kernel(op, isa, algorithm) => {
                    let (name, resolved) = match op {
                        Op::Softmax => (
                            format!("softmax {} {}", isa.name(), algorithm.name()),
                            algorithm.resolve(n, isa),
                        ),
                        Op::LogSumExp => (
                            format!("log_sum_exp {} {}", isa.name(), lse_name(algorithm)),
                            algorithm.resolve_reduction(n, isa),
                        ),
                    };
                    progress(&name, n, &t);
                    rows.push(Row {
                        op,
                        isa,
                        algorithm,
                        resolved,
                        n,
                        t,
                    });
                }
            }
        }
        ceilings.push(Ceiling {
            n,
            read: read.expect("a read job per size"),
            copy: copy.expect("a copy job per size"),
            copy_nt: copy_nt.expect("a non-temporal copy job per size"),
        });
    }
    let environment = environment::run(
        &plan,
        &mut ring,
        &options.isas,
        options.max_n,
        &x_all,
        &mut progress,
    );
    let split_rows = split::run(
        &plan,
        &mut ring,
        &options.isas,
        options.max_n,
        &x_all,
        &mut progress,
    );
    let sample_rows = sampling::run(
        &plan,
        &mut ring,
        &options.isas,
        options.max_n,
        &mut progress,
    );
    Results {
        machine: machine.clone(),
        options: options.clone(),
        plan,
        sizes,
        probe_isa,
        ring_bytes: ring_floats * 4,
        ceilings,
        rows,
        environment,
        split_rows,
        sample_rows,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `one-pass` or `max-then-sum`: what a log-sum-exp reduction is called in the report.
pub fn lse_name(a: Algorithm) -> &'static str {
    if a == Algorithm::TwoPass {
        "one-pass"
    } else {
        "max-then-sum"
    }
}
