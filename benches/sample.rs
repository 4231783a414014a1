//! Sampling one row of 32K, 128K and 256K logits, fused (`Kernels::sample`) against the unfused
//! sequence engines run (softmax, then a cumulative draw; for top-p and top-k a sort or
//! selection of the probabilities first), in the same run, on every SIMD ISA this CPU has; and
//! the top-p kept set's probabilities (`Kernels::kept_probabilities`).
//!
//! Two kinds of rows: `llm` (a bulk of N(0, 3) with 16 tokens at 10-20, the shape of a language
//! model's next-token logits) and `flat` (uniform in [-1, 1]: no block can be skipped, the
//! fused draw's worst case).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use twopass::{Isa, Kernels, RngState, SampleParams};

#[path = "common/paper_input.rs"]
mod paper_input;
#[path = "common/unfused_sample.rs"]
mod unfused_sample;
use unfused_sample::{cumulative_draw, next_uniform, probabilities};

/// The two kinds of rows (see the module docs).
fn logits(kind: &str, n: usize) -> Vec<f32> {
    match kind {
        "llm" => unfused_sample::llm_logits(n),
        _ => paper_input::uniform(n, 0x2545_F491_4F6C_DD1D, 1.0),
    }
}

fn sample(c: &mut Criterion) {
    for isa in twopass::available_isas().filter(|&i| i != Isa::Scalar) {
        let k = Kernels::new(isa).unwrap();
        for kind in ["llm", "flat"] {
            for n in [1usize << 15, 1 << 17, 1 << 18] {
                let x = logits(kind, n);
                let mut g = c.benchmark_group(format!("sample/{}/{kind}", isa.name()));
                g.throughput(Throughput::Elements(n as u64));
                g.sample_size(20)
                    .warm_up_time(Duration::from_millis(500))
                    .measurement_time(Duration::from_secs(2));
                let mut rng = RngState::new(1);
                let plain = SampleParams::default();
                let top_p = SampleParams {
                    top_p: 0.9,
                    ..plain
                };
                let top_k = SampleParams { top_k: 50, ..plain };
                let greedy = SampleParams {
                    temperature: 0.0,
                    ..plain
                };
                for (name, params) in [
                    ("greedy", greedy),
                    ("temperature", plain),
                    ("top-p", top_p),
                    ("top-k", top_k),
                ] {
                    g.bench_function(BenchmarkId::new(format!("fused-{name}"), n), |b| {
                        b.iter(|| k.sample(black_box(&x), &params, &mut rng).unwrap())
                    });
                }
                let mut p = vec![0.0f32; n];
                g.bench_function(BenchmarkId::new("kept-probabilities-top-p", n), |b| {
                    b.iter(|| k.kept_probabilities(black_box(&x), &top_p, &mut p).unwrap())
                });
                let mut u = 0.377f64;
                g.bench_function(BenchmarkId::new("unfused-temperature", n), |b| {
                    b.iter(|| unfused_sample::temperature(&k, &x, &mut p, next_uniform(&mut u)))
                });
                let mut order: Vec<u32> = (0..n as u32).collect();
                g.bench_function(BenchmarkId::new("unfused-top-p", n), |b| {
                    b.iter(|| {
                        unfused_sample::top_p(&k, &x, &mut p, &mut order, 0.9, next_uniform(&mut u))
                    })
                });
                g.bench_function(BenchmarkId::new("unfused-top-k", n), |b| {
                    b.iter(|| {
                        probabilities(&k, &x, &mut p, &mut order);
                        order.select_nth_unstable_by(49, |&a, &b| {
                            p[b as usize].total_cmp(&p[a as usize])
                        });
                        let top = &order[..50];
                        let total: f64 = top.iter().map(|&i| f64::from(p[i as usize])).sum();
                        cumulative_draw(&p, Some(top), total, next_uniform(&mut u))
                    })
                });
                g.finish();
            }
        }
    }
}

criterion_group!(benches, sample);
criterion_main!(benches);
