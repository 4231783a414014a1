//! Cross-entropy: loss only and loss + gradient in place, for 1 row x 4M classes and 512 rows x
//! 32K classes, next to log-sum-exp (the same single read) and two-pass softmax in place (the
//! same read + read-write) on the same data, on every SIMD ISA this CPU has.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use twopass::{Algorithm, CrossEntropyOptions, CrossEntropyOutputs, Isa, Kernels, Shape};

#[path = "common/paper_input.rs"]
mod paper_input;

/// Logits uniform in [-10, 10].
fn logits(n: usize) -> Vec<f32> {
    paper_input::uniform(n, 0x2545_F491_4F6C_DD1D, 10.0)
}

fn cross_entropy(c: &mut Criterion) {
    let options = CrossEntropyOptions::default();
    for isa in twopass::available_isas().filter(|&i| i != Isa::Scalar) {
        let k = Kernels::new(isa).unwrap();
        for (rows, cols) in [(1usize, 1usize << 22), (512, 1 << 15)] {
            let n = rows * cols;
            let x = logits(n);
            let targets: Vec<i64> = (0..rows).map(|r| ((r * 7919) % cols) as i64).collect();
            let shape = Shape::new(rows, cols);
            let mut g = c.benchmark_group(format!("cross_entropy/{}/{rows}x{cols}", isa.name()));
            g.throughput(Throughput::Elements(n as u64));
            g.sample_size(20)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3));
            g.bench_function(BenchmarkId::from_parameter("loss"), |b| {
                b.iter(|| {
                    k.cross_entropy(
                        black_box(&x),
                        shape,
                        &targets,
                        &options,
                        CrossEntropyOutputs::default(),
                        None,
                    )
                })
            });
            let mut lse = vec![0.0f32; rows];
            g.bench_function(BenchmarkId::from_parameter("log_sum_exp_rows"), |b| {
                b.iter(|| {
                    k.with_algorithm(Algorithm::TwoPass).log_sum_exp_rows(
                        black_box(&x),
                        cols,
                        rows,
                        cols,
                        &mut lse,
                    )
                })
            });
            // In place: each iteration overwrites the logits with the gradient (same cost on
            // the next iteration: the gradient values are ordinary finite floats).
            let mut y = x.clone();
            g.bench_function(BenchmarkId::from_parameter("loss+grad-in-place"), |b| {
                b.iter(|| {
                    k.cross_entropy_in_place(
                        black_box(&mut y),
                        shape,
                        &targets,
                        &options,
                        CrossEntropyOutputs::default(),
                    )
                })
            });
            let mut y = x.clone();
            g.bench_function(
                BenchmarkId::from_parameter("softmax-two-pass-in-place"),
                |b| {
                    b.iter(|| {
                        k.with_algorithm(Algorithm::TwoPass).softmax_rows_in_place(
                            black_box(&mut y),
                            cols,
                            rows,
                            cols,
                        )
                    })
                },
            );
            g.finish();
        }
    }
}

criterion_group!(benches, cross_entropy);
criterion_main!(benches);
