//! twopass softmax against tract-linalg's and candle's, one thread, n = 1K..16M: elements per
//! nanosecond (median of calibrated repetitions) and the ratios.
//!
//! - twopass: `softmax(x, y)` (Auto), and `softmax_in_place`.
//! - tract-linalg: the kernels tract's Softmax op runs per row, in place: `ReduceMax`, then
//!   `Softmax2` (stores `exp(x - max)`, returns the sum), then `MulByScalar` by `1 / sum`.
//! - candle: `candle_nn::ops::softmax_last_dim` on a `1 x n` CPU tensor; it allocates its
//!   output on every call, as its API does.
//!
//! The in-place kernels run again and again on the same buffer: after the first call it holds
//! probabilities, which these branch-free kernels process at the same speed. Buffers stay hot
//! (no output rotation, unlike `cargo run --release --example reproduce`).

use std::hint::black_box;
use std::time::Instant;

use candle_core::{Device, Tensor};
use tract_linalg::Func;

type Error = Box<dyn std::error::Error>;

#[path = "../../common/paper_input.rs"]
mod paper_input;
use paper_input::input;

/// Median time per call (ns) over up to 15 repetitions of about 2 ms (at least one call each).
fn time(mut f: impl FnMut() -> Result<(), Error>) -> Result<f64, Error> {
    let start = Instant::now();
    f()?;
    let once = start.elapsed().as_nanos().max(1) as f64;
    let calls = ((2e6 / once) as usize).max(1);
    let reps = ((300e6 / (once * calls as f64)) as usize).clamp(3, 15);
    let mut per_call = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        for _ in 0..calls {
            f()?;
        }
        per_call.push(start.elapsed().as_nanos() as f64 / calls as f64);
    }
    per_call.sort_by(f64::total_cmp);
    Ok(per_call[reps / 2])
}

fn main() -> Result<(), Error> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()?;
    let max = Func::ReduceMax.reduce_f32()?;
    let softmax2 = Func::Softmax2.map_reduce_f32()?;
    let scale = Func::MulByScalar.ew_f32_param()?;
    let k = twopass::Kernels::try_active()?;
    println!(
        "twopass {} ({}); tract-linalg {} / {} / {}; candle on a rayon pool of {} thread(s); \
         elements per ns",
        k.isa().name(),
        k.variant(),
        max.name(),
        softmax2.name(),
        scale.name(),
        rayon::current_num_threads()
    );
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>14} {:>14}",
        "n", "twopass", "tp.inplace", "tract", "candle", "tp.inpl/tract", "twopass/candle"
    );
    for p in (10..=24).step_by(2) {
        let n = 1usize << p;
        let x = input(n);
        let mut y = vec![0.0f32; n];
        let mut buf = x.clone();
        let xt = Tensor::from_slice(&x, (1, n), &Device::Cpu)?;

        let t_twopass = time(|| Ok(k.softmax(black_box(&x), black_box(&mut y))?))?;
        buf.copy_from_slice(&x);
        let t_inplace = time(|| {
            k.softmax_in_place(black_box(&mut buf));
            Ok(())
        })?;
        buf.copy_from_slice(&x);
        let t_tract = time(|| {
            let m = max.run(black_box(&buf))?;
            let sum = softmax2.run_with_params(&mut buf, m)?;
            scale.run_with_params(&mut buf, 1.0 / sum)?;
            Ok(())
        })?;
        let t_candle = time(|| {
            black_box(candle_nn::ops::softmax_last_dim(black_box(&xt))?);
            Ok(())
        })?;
        let e = |t: f64| n as f64 / t;
        let label = if n >= 1 << 20 {
            format!("{}M", n >> 20)
        } else {
            format!("{}K", n >> 10)
        };
        println!(
            "{label:>6} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>13.2}x {:>13.2}x",
            e(t_twopass),
            e(t_inplace),
            e(t_tract),
            e(t_candle),
            t_tract / t_inplace,
            t_candle / t_twopass
        );
    }
    Ok(())
}
