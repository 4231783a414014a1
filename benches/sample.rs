//! Sampling one row of 32K, 128K and 256K logits, fused (`Kernels::sample`) against the unfused
//! sequence engines run (softmax, then a cumulative draw; for top-p and top-k a sort or
//! selection of the probabilities first), in the same run, on every SIMD ISA this CPU has.
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

/// The two kinds of rows (see the module docs).
fn logits(kind: &str, n: usize) -> Vec<f32> {
    match kind {
        "llm" => {
            let u = [
                0x1234_5678_9ABC_DEF1,
                0x0F1E_2D3C_4B5A_6978,
                0x1357_9BDF_2468_ACE1,
            ]
            .map(|s| paper_input::uniform(n, s, 3.0));
            // The sum of three uniforms on [-3, 3] has sigma 3.
            let mut x: Vec<f32> = (0..n).map(|i| u[0][i] + u[1][i] + u[2][i]).collect();
            for j in 0..16 {
                x[(j * 7919 * 13 + 101) % n] = 10.0 + j as f32 * 0.625;
            }
            x
        }
        _ => paper_input::uniform(n, 0x2545_F491_4F6C_DD1D, 1.0),
    }
}

/// A cumulative draw from probabilities summing to `total`: the first index whose running
/// sum reaches `u * total`.
fn cumulative_draw(p: &[f32], order: Option<&[u32]>, total: f64, u: f64) -> usize {
    let target = u * total;
    let mut acc = 0.0f64;
    match order {
        None => {
            for (i, &q) in p.iter().enumerate() {
                acc += f64::from(q);
                if acc >= target {
                    return i;
                }
            }
            p.len() - 1
        }
        Some(order) => {
            for &i in order {
                acc += f64::from(p[i as usize]);
                if acc >= target {
                    return i as usize;
                }
            }
            *order.last().unwrap() as usize
        }
    }
}

/// The unfused sequence's first step: `p = softmax(x)`, and `order` reset to `0..n` for ranking.
fn probabilities(k: &Kernels, x: &[f32], p: &mut [f32], order: &mut [u32]) {
    k.softmax(black_box(x), p).unwrap();
    order
        .iter_mut()
        .enumerate()
        .for_each(|(i, o)| *o = i as u32);
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
                let mut u = 0.377f64;
                let mut next_u = move || {
                    u = (u + 0.618_034) % 1.0;
                    u
                };
                g.bench_function(BenchmarkId::new("unfused-temperature", n), |b| {
                    b.iter(|| {
                        k.softmax(black_box(&x), &mut p).unwrap();
                        cumulative_draw(&p, None, 1.0, next_u())
                    })
                });
                let mut order: Vec<u32> = (0..n as u32).collect();
                g.bench_function(BenchmarkId::new("unfused-top-p", n), |b| {
                    b.iter(|| {
                        probabilities(&k, &x, &mut p, &mut order);
                        order.sort_unstable_by(|&a, &b| p[b as usize].total_cmp(&p[a as usize]));
                        let mut acc = 0.0f64;
                        let kept = order
                            .iter()
                            .position(|&i| {
                                acc += f64::from(p[i as usize]);
                                acc >= 0.9
                            })
                            .map_or(n, |j| j + 1);
                        cumulative_draw(&p, Some(&order[..kept]), acc, next_u())
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
                        cumulative_draw(&p, Some(top), total, next_u())
                    })
                });
                g.finish();
            }
        }
    }
}

criterion_group!(benches, sample);
criterion_main!(benches);
