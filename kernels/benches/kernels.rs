//! Every entry of every kernel table this CPU runs ([`Entry::ALL`], the list the registry test
//! walks too), for f32, f16 and bf16, on the paper's inputs at 1K, 16K and 256K elements: the
//! microkernels alone, without the API's dispatch and checks.
//!
//! `cargo bench -p twopass-kernels --bench kernels -- 'f32-avx512f'` narrows it to one table.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use twopass_kernels::{table_bf16, table_f16, tables, Args, Element, Entry, Store, Table};

#[path = "../../benches/common/paper_input.rs"]
mod paper_input;

const SIZES: [usize; 3] = [1 << 10, 1 << 14, 1 << 18];

fn bench_table<T: Element>(c: &mut Criterion, t: &Table<T>) {
    let mut g = c.benchmark_group(t.name);
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    for n in SIZES {
        let x: Vec<T> = paper_input::input(n).into_iter().map(T::from_f32).collect();
        let mut y = x.clone();
        let args = Args::of(&x);
        g.throughput(Throughput::Elements(n as u64));
        for entry in Entry::ALL {
            g.bench_function(BenchmarkId::new(entry.name(), n), |b| {
                b.iter(|| {
                    t.run(
                        entry,
                        &args,
                        black_box(&x),
                        black_box(&mut y),
                        Store::Cached,
                    )
                })
            });
        }
    }
    g.finish();
}

fn kernels(c: &mut Criterion) {
    for t in tables() {
        bench_table(c, t);
        bench_table(c, table_f16(t.isa).expect("f32 tables come with f16 ones"));
        bench_table(
            c,
            table_bf16(t.isa).expect("f32 tables come with bf16 ones"),
        );
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
