//! Softmax along the middle axis of a `(1, len, inner)` tensor against the same data as `inner`
//! contiguous rows of `len` (`softmax_rows`, the layout a transposing copy would make), the two
//! timed in turns so that both see the same state of a noisy host: per ISA, size and `inner`,
//! the medians of 11 rounds in elements/ns and the ratio time(axis) / time(rows).
//!
//! ```sh
//! cargo run --release --example axis_ratio                       # 16K, 1M, 16M; inner 16-4096
//! cargo run --release --example axis_ratio -- 1048576 64,256 1000  # n, inner sizes, input width
//! ```
//!
//! The input is uniform in `[-w, w]` (`w` = 10 unless given).

use std::hint::black_box;
use std::time::Instant;

use twopass::{Isa, Kernels};

#[path = "../benches/common/cpu_model.rs"]
mod cpu_model;
#[path = "../benches/common/paper_input.rs"]
mod paper_input;

/// Rounds per figure (the median is reported).
const ROUNDS: usize = 11;

/// The comma-separated numbers of argument `i`, or `default`.
fn list(i: usize, default: &[usize]) -> Vec<usize> {
    std::env::args().nth(i).map_or(default.to_vec(), |a| {
        a.split(',').map(|v| v.parse().expect("a number")).collect()
    })
}

/// Seconds per call of `f` over `reps` calls.
fn per_call(reps: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

/// The median of `v`.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let sizes = list(1, &[1 << 14, 1 << 20, 1 << 24]);
    let inners = list(2, &[16, 64, 256, 4096]);
    let w = std::env::args()
        .nth(3)
        .map_or(10.0, |a| a.parse::<f32>().expect("a width"));
    println!("{}", cpu_model::cpu_model());
    for isa in twopass::available_isas().filter(|&i| i != Isa::Scalar) {
        let k = Kernels::new(isa).expect("an available ISA");
        for &n in &sizes {
            let x = paper_input::uniform(n, 0x9E37_79B9_7F4A_7C15, w);
            let mut y = vec![0.0f32; n];
            let reps = ((64 << 20) / n).clamp(5, 2000);
            for &inner in inners.iter().filter(|&&i| i > 0 && n % i == 0) {
                let len = n / inner;
                let (mut axis, mut rows) = (Vec::new(), Vec::new());
                for _ in 0..ROUNDS {
                    axis.push(per_call(reps, || {
                        k.softmax_axis(black_box(&x), black_box(&mut y), 1, len, inner)
                            .expect("a valid shape")
                    }));
                    rows.push(per_call(reps, || {
                        k.softmax_rows(black_box(&x), len, black_box(&mut y), len, inner, len)
                            .expect("a valid shape")
                    }));
                }
                let (a, r) = (median(axis), median(rows));
                println!(
                    "{:7} n {n:>9} inner {inner:>5}: axis {:.2}, rows {:.2} elements/ns, axis / rows {:.2}",
                    isa.name(),
                    n as f64 / a / 1e9,
                    n as f64 / r / 1e9,
                    a / r
                );
            }
        }
    }
}
