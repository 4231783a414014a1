//! Sampling one row: the fused draw (`Kernels::sample`) against the unfused sequence an engine
//! runs (softmax into a buffer, then a cumulative draw; for top-p, the probabilities sorted
//! first), for temperature 1 and for top-p [`TOP_P`], all four taking turns, on a row shaped
//! like a language model's logits (the `llm` row of benches/sample.rs).

use std::hint::black_box;

use twopass::{Isa, Kernels, RngState, SampleParams};

use crate::measure::{time_all, Call, Plan, Ring, Timing};

#[path = "../../benches/common/unfused_sample.rs"]
mod unfused_sample;
use unfused_sample::next_uniform;

/// The row lengths timed.
pub const SIZES: [usize; 3] = [1 << 15, 1 << 17, 1 << 18];

/// The top-p threshold timed.
pub const TOP_P: f32 = 0.9;

/// The targets (#15) at [`TARGET_N`]: unfused / fused for temperature and for top-p.
pub const TARGETS: (f64, f64) = (3.0, 5.0);

/// The row length the [`TARGETS`] are set at.
pub const TARGET_N: usize = 1 << 17;

/// One ISA at one size.
#[derive(Clone, Copy, Debug)]
pub struct SampleRow {
    /// The ISA.
    pub isa: Isa,
    /// Row length.
    pub n: usize,
    /// `sample` at temperature 1.
    pub temperature: Timing,
    /// `softmax`, then a cumulative draw.
    pub temperature_unfused: Timing,
    /// `sample` with top-p [`TOP_P`].
    pub top_p: Timing,
    /// `softmax`, a sort by probability, the cut at [`TOP_P`], a cumulative draw.
    pub top_p_unfused: Timing,
}

impl SampleRow {
    /// `time(unfused) / time(fused)` at temperature 1: above 1 when fusing helps.
    pub fn temperature_ratio(&self) -> f64 {
        self.temperature_unfused.median_ns / self.temperature.median_ns
    }

    /// `time(unfused) / time(fused)` for top-p [`TOP_P`].
    pub fn top_p_ratio(&self) -> f64 {
        self.top_p_unfused.median_ns / self.top_p.median_ns
    }
}

/// Times the four at the [`SIZES`] up to `max_n` on the vector ISAs of `isas`, taking turns;
/// the unfused forms write their probabilities into the ring's buffer.
pub fn run(
    plan: &Plan,
    ring: &mut Ring,
    isas: &[Isa],
    max_n: usize,
    mut progress: impl FnMut(&str, usize, &Timing),
) -> Vec<SampleRow> {
    let top_p = SampleParams {
        top_p: TOP_P,
        ..SampleParams::default()
    };
    let mut out = Vec::new();
    for n in SIZES.into_iter().filter(|&n| n <= max_n) {
        let row = unfused_sample::llm_logits(n);
        let x = &row[..];
        ring.set_len(n);
        let vector = isas.iter().copied().filter(|&i| i != Isa::Scalar);
        let mut calls: Vec<Call<'_>> = Vec::new();
        let mut which = Vec::new();
        for isa in vector {
            let k = Kernels::new(isa).expect("only available ISAs are chosen");
            for params in [SampleParams::default(), top_p] {
                let mut rng = RngState::new(1);
                calls.push(Box::new(move |_: &mut [f32]| {
                    black_box(
                        k.sample(black_box(x), &params, &mut rng)
                            .expect("finite logits"),
                    );
                }));
            }
            let mut u = 0.377;
            calls.push(Box::new(move |p: &mut [f32]| {
                black_box(unfused_sample::temperature(&k, x, p, next_uniform(&mut u)));
            }));
            let (mut u, mut order) = (0.377, vec![0u32; n]);
            calls.push(Box::new(move |p: &mut [f32]| {
                let draw = unfused_sample::top_p(&k, x, p, &mut order, TOP_P, next_uniform(&mut u));
                black_box(draw);
            }));
            which.push(isa);
        }
        let timings = time_all(plan, ring, &mut calls);
        for (isa, t) in which.into_iter().zip(timings.chunks(4)) {
            let name = isa.name();
            progress(&format!("sample {name} temperature fused"), n, &t[0]);
            progress(&format!("sample {name} top-p {TOP_P} fused"), n, &t[1]);
            progress(&format!("sample {name} temperature unfused"), n, &t[2]);
            progress(&format!("sample {name} top-p {TOP_P} unfused"), n, &t[3]);
            out.push(SampleRow {
                isa,
                n,
                temperature: t[0],
                top_p: t[1],
                temperature_unfused: t[2],
                top_p_unfused: t[3],
            });
        }
    }
    out
}

/// How many timings [`run`] makes (for the progress count).
pub fn count(isas: &[Isa], max_n: usize) -> usize {
    crate::measure::vector_timings(isas, &SIZES, max_n, 4)
}
