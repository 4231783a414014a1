//! One long row split across two threads (`Kernels::softmax_par`, the `rayon` feature) against
//! one call on one thread, side by side: rows shorter than `PAR_MIN` run as the one call.

use twopass::{Isa, Kernels};

use crate::measure::{time_all, Call, Plan, Ring, Timing};

/// The row lengths timed.
pub const SIZES: [usize; 4] = [1 << 18, 1 << 20, 1 << 22, 1 << 24];

/// Threads of the split row's pool.
pub const THREADS: usize = 2;

/// One ISA at one size.
#[derive(Clone, Copy, Debug)]
pub struct SplitRow {
    /// The ISA.
    pub isa: Isa,
    /// Row length.
    pub n: usize,
    /// `softmax` on this thread.
    pub one: Timing,
    /// `softmax_par` on rayon's global pool of [`THREADS`].
    pub split: Timing,
}

impl SplitRow {
    /// `time(one call) / time(split)`: above 1 when the threads help.
    pub fn speedup(&self) -> f64 {
        self.one.median_ns / self.split.median_ns
    }
}

/// Times both forms at the [`SIZES`] up to `max_n` on the vector ISAs of `isas`, taking turns.
pub fn run(
    plan: &Plan,
    ring: &mut Ring,
    isas: &[Isa],
    max_n: usize,
    x_all: &[f32],
    mut progress: impl FnMut(&str, usize, &Timing),
) -> Vec<SplitRow> {
    // rayon's global pool, as an engine would call it (a short row never touches it); an
    // `install` per call would time the handoff to the pool as well.
    if rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build_global()
        .is_err()
    {
        eprintln!("note: rayon's global pool was already built; its size may not be {THREADS}");
    }
    let mut out = Vec::new();
    for n in SIZES.into_iter().filter(|&n| n <= max_n) {
        let x = &x_all[..n];
        ring.set_len(n);
        let vector = isas.iter().copied().filter(|&i| i != Isa::Scalar);
        let mut calls: Vec<Call<'_>> = Vec::new();
        let mut which = Vec::new();
        for isa in vector {
            let k = Kernels::new(isa).expect("only available ISAs are chosen");
            calls.push(Box::new(move |y: &mut [f32]| {
                k.softmax(x, y).expect("equal lengths")
            }));
            calls.push(Box::new(move |y: &mut [f32]| {
                k.softmax_par(x, y).expect("equal lengths")
            }));
            which.push(isa);
        }
        let timings = time_all(plan, ring, &mut calls);
        for (isa, t) in which.into_iter().zip(timings.chunks(2)) {
            progress(&format!("softmax {} one thread", isa.name()), n, &t[0]);
            progress(
                &format!("softmax_par {} {THREADS} threads", isa.name()),
                n,
                &t[1],
            );
            out.push(SplitRow {
                isa,
                n,
                one: t[0],
                split: t[1],
            });
        }
    }
    out
}

/// How many timings [`run`] makes (for the progress count).
pub fn count(isas: &[Isa], max_n: usize) -> usize {
    crate::measure::vector_timings(isas, &SIZES, max_n, 2)
}
