//! A tour of twopass: what the CPU runs, softmax / log-softmax / log-sum-exp on a few rows,
//! the special values, streaming log-sum-exp, and every algorithm agreeing on a long row.
//!
//! `cargo run --release --example demo` (set `TWOPASS_ISA=scalar|avx2|avx512` to force one).

use std::time::Instant;

use twopass::{Algorithm, Kernels, LseState};

fn main() -> Result<(), twopass::Error> {
    let names: Vec<_> = twopass::available_isas().map(|i| i.name()).collect();
    let k = Kernels::try_active()?;
    println!("ISAs this CPU runs: {}", names.join(", "));
    println!("active: {} ({})\n", k.isa().name(), k.variant());

    let logits = [2.0f32, 1.0, 0.1, -1.0, f32::NEG_INFINITY];
    let mut p = [0.0f32; 5];
    twopass::softmax(&logits, &mut p)?;
    println!("softmax({logits:?})\n  = {p:?}");
    let mut lp = [0.0f32; 5];
    twopass::log_softmax(&logits, &mut lp)?;
    println!("log_softmax = {lp:?}");
    println!("log_sum_exp = {}\n", twopass::log_sum_exp(&logits));

    println!("special rows (docs/accuracy.md):");
    for row in [
        vec![1.0, f32::NAN],
        vec![1.0, f32::INFINITY],
        vec![f32::NEG_INFINITY; 2],
        vec![3e38, 3e38],
    ] {
        let mut y = vec![0.0; row.len()];
        twopass::softmax(&row, &mut y)?;
        println!(
            "  {row:?}: softmax {y:?}, log_sum_exp {}",
            twopass::log_sum_exp(&row)
        );
    }

    // A row that arrives in chunks (or lives in shards): LseState merges them.
    let n = 1 << 20;
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 20011) as f32 * 0.1 - 1000.0)
        .collect();
    let mut state = LseState::new();
    for chunk in x.chunks(4096) {
        state.update(chunk);
    }
    println!(
        "\nstreaming log-sum-exp over 256 chunks: {} (one shot: {})",
        state.value(),
        twopass::log_sum_exp(&x)
    );

    println!(
        "\nsoftmax of {n} elements, every algorithm on {}:",
        k.isa().name()
    );
    let mut y = vec![0.0f32; n];
    for a in std::iter::once(Algorithm::Auto).chain(Algorithm::CONCRETE) {
        let k = k.with_algorithm(a);
        k.softmax(&x, &mut y)?;
        let start = Instant::now();
        let reps = 20;
        for _ in 0..reps {
            k.softmax(&x, &mut y)?;
        }
        let ns = start.elapsed().as_nanos() as f64 / reps as f64;
        let mass: f64 = y.iter().map(|&v| f64::from(v)).sum();
        println!(
            "  {:22} {:6.2} elem/ns   sum of outputs - 1 = {:+.1e}",
            a.name(),
            n as f64 / ns,
            mass - 1.0
        );
    }
    Ok(())
}
