//! Softmax and log-sum-exp for every algorithm on every ISA this CPU has, n = 1K .. 64M,
//! reported in elements and in logical bytes moved (criterion prints both rates).
//!
//! `cargo bench --bench softmax -- 'softmax/avx512'` narrows it; `TWOPASS_BENCH_MAX_N=4194304`
//! drops the larger sizes. Scalar runs up to 256K only (it would take minutes beyond).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use twopass::{Algorithm, CrossEntropyOptions, CrossEntropyOutputs, Isa, Kernels, Shape};

const SIZES: [usize; 5] = [1 << 10, 1 << 14, 1 << 18, 1 << 22, 1 << 26];

#[path = "common/paper_input.rs"]
mod paper_input;
use paper_input::input;

/// Logical bytes per f32 element of a concrete algorithm: reads and writes of 4 bytes each.
fn softmax_bytes(a: Algorithm) -> u64 {
    let passes = a.softmax_passes().expect("a resolved algorithm");
    passes.bytes_per_element(4) as u64
}

fn max_n() -> usize {
    std::env::var("TWOPASS_BENCH_MAX_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 26)
}

fn sizes_for(isa: Isa) -> impl Iterator<Item = usize> {
    let cap = if isa == Isa::Scalar { 1 << 18 } else { max_n() };
    SIZES.into_iter().filter(move |&n| n <= cap)
}

fn configure(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, n: usize) {
    g.sample_size(if n >= 1 << 22 { 10 } else { 30 });
    g.warm_up_time(Duration::from_millis(if n >= 1 << 22 { 1500 } else { 500 }));
    g.measurement_time(Duration::from_secs(if n >= 1 << 22 { 4 } else { 2 }));
}

fn softmax(c: &mut Criterion) {
    for isa in twopass::available_isas() {
        let k = Kernels::new(isa).unwrap();
        for n in sizes_for(isa) {
            let x = input(n);
            let mut y = vec![0.0f32; n];
            let mut g = c.benchmark_group(format!("softmax/{}", isa.name()));
            configure(&mut g, n);
            for a in std::iter::once(Algorithm::Auto).chain(Algorithm::CONCRETE) {
                let bytes = softmax_bytes(a.resolve(n, isa));
                g.throughput(Throughput::ElementsAndBytes {
                    elements: n as u64,
                    bytes: bytes * n as u64,
                });
                let k = k.with_algorithm(a);
                g.bench_function(BenchmarkId::new(a.name(), n), |b| {
                    b.iter(|| k.softmax(black_box(&x), black_box(&mut y)).unwrap())
                });
            }
            g.finish();
        }
    }
}

fn log_sum_exp(c: &mut Criterion) {
    for isa in twopass::available_isas() {
        let k = Kernels::new(isa).unwrap();
        for n in sizes_for(isa) {
            let x = input(n);
            let mut g = c.benchmark_group(format!("log_sum_exp/{}", isa.name()));
            configure(&mut g, n);
            for (name, a, bytes) in [
                ("auto", Algorithm::Auto, 0),
                ("one-pass", Algorithm::TwoPass, 4),
                ("max-then-sum", Algorithm::ThreePassRecompute, 8),
            ] {
                let bytes = if bytes == 0 {
                    if a.resolve_reduction(n, isa) == Algorithm::TwoPass {
                        4
                    } else {
                        8
                    }
                } else {
                    bytes
                };
                g.throughput(Throughput::ElementsAndBytes {
                    elements: n as u64,
                    bytes: bytes * n as u64,
                });
                let k = k.with_algorithm(a);
                g.bench_function(BenchmarkId::new(name, n), |b| {
                    b.iter(|| k.log_sum_exp(black_box(&x)))
                });
            }
            // The read-bandwidth yardstick: a plain vectorised reduction (max) over the same data.
            let t = twopass_kernels::table(isa).unwrap();
            g.throughput(Throughput::ElementsAndBytes {
                elements: n as u64,
                bytes: 4 * n as u64,
            });
            g.bench_function(BenchmarkId::new("plain-read-pass", n), |b| {
                b.iter(|| (t.rmax)(black_box(&x)))
            });
            g.finish();
        }
    }
}

/// f16 and bf16 rows next to f32 on the same values (widened in the kernels): half the bytes.
/// (The f16 values are the f32 ones scaled by 0.01, into f16's range.)
fn half_precision(c: &mut Criterion) {
    for isa in twopass::available_isas().filter(|&i| i != Isa::Scalar) {
        for n in SIZES
            .into_iter()
            .filter(|&n| n == 1 << 14 || n >= 1 << 22)
            .filter(|&n| n <= max_n())
        {
            let x = input(n);
            let x16: Vec<twopass::f16> = x
                .iter()
                .map(|&v| twopass::f16::from_f32(v * 0.01))
                .collect();
            let xb: Vec<twopass::bf16> = x.iter().map(|&v| twopass::bf16::from_f32(v)).collect();
            let mut g = c.benchmark_group(format!("softmax-half/{}", isa.name()));
            configure(&mut g, n);
            // The f32 row of the same values, in the same group, so the two compare as a ratio.
            let k = Kernels::new(isa).unwrap();
            g.throughput(Throughput::ElementsAndBytes {
                elements: n as u64,
                bytes: softmax_bytes(Algorithm::Auto.resolve(n, isa)) * n as u64,
            });
            let mut y = vec![0.0f32; n];
            g.bench_function(BenchmarkId::new("f32-auto", n), |b| {
                b.iter(|| k.softmax(black_box(&x), black_box(&mut y)).unwrap())
            });
            for a in [
                Algorithm::Auto,
                Algorithm::TwoPass,
                Algorithm::ThreePassReload,
            ] {
                let k = Kernels::new(isa).unwrap().with_algorithm(a);
                let bytes = softmax_bytes(a.resolve_for::<twopass::f16>(n, isa)) / 2;
                g.throughput(Throughput::ElementsAndBytes {
                    elements: n as u64,
                    bytes: bytes * n as u64,
                });
                let mut y16 = vec![twopass::f16::ZERO; n];
                g.bench_function(BenchmarkId::new(format!("f16-{}", a.name()), n), |b| {
                    b.iter(|| k.softmax(black_box(&x16), black_box(&mut y16)).unwrap())
                });
                let mut yb = vec![twopass::bf16::ZERO; n];
                g.bench_function(BenchmarkId::new(format!("bf16-{}", a.name()), n), |b| {
                    b.iter(|| k.softmax(black_box(&xb), black_box(&mut yb)).unwrap())
                });
            }
            g.finish();
        }
    }
}

/// Softmax along the middle axis of a `(1, len, inner)` tensor against the same data as
/// `inner` contiguous rows of `len` (`softmax_rows`, the layout a transposing copy would make),
/// in the same run: `axis/<isa>/axis-inner<inner>` vs `axis/<isa>/rows-inner<inner>`.
fn axis(c: &mut Criterion) {
    for isa in twopass::available_isas().filter(|&i| i != Isa::Scalar) {
        let k = Kernels::new(isa).unwrap();
        for n in [1usize << 14, 1 << 20, 1 << 24]
            .into_iter()
            .filter(|&n| n <= max_n())
        {
            let x = input(n);
            let mut y = vec![0.0f32; n];
            let mut g = c.benchmark_group(format!("axis/{}", isa.name()));
            configure(&mut g, n);
            g.throughput(Throughput::Elements(n as u64));
            for inner in [16usize, 64, 256, 4096] {
                let len = n / inner;
                g.bench_function(BenchmarkId::new(format!("axis-inner{inner}"), n), |b| {
                    b.iter(|| {
                        k.softmax_axis(black_box(&x), black_box(&mut y), 1, len, inner)
                            .unwrap()
                    })
                });
                g.bench_function(BenchmarkId::new(format!("rows-inner{inner}"), n), |b| {
                    b.iter(|| {
                        k.softmax_rows(black_box(&x), len, black_box(&mut y), len, inner, len)
                            .unwrap()
                    })
                });
            }
            g.finish();
        }
    }
}

/// Short rows, where a call's set-up and the per-row chain dominate: 64K elements in rows of 8
/// to 1000 columns (`softmax_rows`, `log_softmax_rows`, `log_sum_exp_rows` and the
/// cross-entropy loss, `Auto`); `short/<isa>/<op>/<cols>`, elements per second.
fn short_rows(c: &mut Criterion) {
    let n = 1 << 16;
    let x = input(n);
    for isa in twopass::available_isas() {
        let k = Kernels::new(isa).unwrap();
        let mut g = c.benchmark_group(format!("short/{}", isa.name()));
        configure(&mut g, n);
        g.throughput(Throughput::Elements(n as u64));
        for cols in [8usize, 16, 64, 256, 1000] {
            let rows = n / cols;
            let x = &x[..rows * cols];
            let (mut y, mut l) = (vec![0.0f32; rows * cols], vec![0.0f32; rows]);
            let targets: Vec<i64> = (0..rows).map(|r| ((r * 7) % cols) as i64).collect();
            g.bench_function(BenchmarkId::new("softmax", cols), |b| {
                b.iter(|| k.softmax_rows(black_box(x), cols, &mut y, cols, rows, cols))
            });
            g.bench_function(BenchmarkId::new("log_softmax", cols), |b| {
                b.iter(|| k.log_softmax_rows(black_box(x), cols, &mut y, cols, rows, cols))
            });
            g.bench_function(BenchmarkId::new("log_sum_exp", cols), |b| {
                b.iter(|| k.log_sum_exp_rows(black_box(x), cols, rows, cols, &mut l))
            });
            let (shape, options) = (Shape::new(rows, cols), CrossEntropyOptions::default());
            g.bench_function(BenchmarkId::new("cross_entropy", cols), |b| {
                b.iter(|| {
                    let out = CrossEntropyOutputs::default();
                    k.cross_entropy(black_box(x), shape, &targets, &options, out, None)
                })
            });
        }
        g.finish();
    }
}

criterion_group!(
    benches,
    softmax,
    log_sum_exp,
    half_precision,
    axis,
    short_rows
);
criterion_main!(benches);
