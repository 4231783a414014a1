//! The fused linear + cross-entropy (`Kernels::linear_cross_entropy`) against the unfused
//! composition it replaces (the `tokens x classes` logits from the same matrix kernel,
//! `cross_entropy_in_place` for the loss and its gradient, then `d_hidden = G W`,
//! `d_weight = G^T H` and `d_bias`), forward only and forward + backward, taking turns in the
//! same run: median time and the peak of memory allocated during the call beyond its inputs
//! and outputs (a counting allocator). One thread.
//!
//! `cargo bench --bench linear` runs the shapes (N x D x V = 1024 x 1024 x 32K and
//! 256 x 2048 x 128K: about 3 GiB of memory, minutes); `-- --quick` a small one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use twopass::{CrossEntropyOptions, Kernels, LinearOutputs, LinearShape, Shape};
use twopass_kernels::{matmul, Mat};

#[path = "common/cpu_model.rs"]
mod cpu_model;
use cpu_model::cpu_model;

/// Counts live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`; its time in seconds and the peak bytes it allocated beyond what was live.
fn measure(f: &mut dyn FnMut()) -> (f64, usize) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let start = Instant::now();
    f();
    (start.elapsed().as_secs_f64(), PEAK.load(Relaxed) - base)
}

struct Problem {
    shape: LinearShape,
    hidden: Vec<f32>,
    weight: Vec<f32>,
    bias: Vec<f32>,
    targets: Vec<i64>,
}

impl Problem {
    fn new(tokens: usize, features: usize, classes: usize) -> Problem {
        let fill = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i as u64 * 2654435761) % 1999) as f32 / 999.5 - 1.0)
                .map(|v| v * scale)
                .collect()
        };
        Problem {
            shape: LinearShape {
                tokens,
                features,
                classes,
            },
            hidden: fill(tokens * features, 1.0),
            weight: fill(classes * features, 0.05),
            bias: fill(classes, 0.1),
            targets: (0..tokens).map(|i| ((i * 7919) % classes) as i64).collect(),
        }
    }

    /// The fused call (its products on rayon's pool with `par`); gradients into the given
    /// buffers when `grads`.
    fn fused(
        &self,
        k: &Kernels,
        grads: Option<(&mut [f32], &mut [f32], &mut [f32])>,
        par: bool,
    ) -> f32 {
        let out = match grads {
            Some((dh, dw, db)) => LinearOutputs {
                d_hidden: Some(dh),
                d_weight: Some(dw),
                d_bias: Some(db),
                ..Default::default()
            },
            None => LinearOutputs::default(),
        };
        let o = CrossEntropyOptions::default();
        let (h, w, b, t) = (
            &self.hidden,
            &self.weight,
            Some(&self.bias[..]),
            &self.targets,
        );
        match par {
            true => k.linear_cross_entropy_par(h, w, b, self.shape, t, &o, out),
            false => k.linear_cross_entropy(h, w, b, self.shape, t, &o, out),
        }
        .unwrap()
    }

    /// The unfused composition: logits, cross-entropy (and its gradient over them), products.
    fn unfused(&self, k: &Kernels, grads: Option<(&mut [f32], &mut [f32], &mut [f32])>) -> f32 {
        let LinearShape {
            tokens: n,
            features: d,
            classes: v,
        } = self.shape;
        let mut logits = vec![0.0f32; n * v];
        for row in logits.chunks_mut(v) {
            row.copy_from_slice(&self.bias);
        }
        let h = Mat::rows(&self.hidden, n, d, d);
        let w = Mat::rows(&self.weight, v, d, d);
        matmul(&mut logits, v, h, w.t(), true, false);
        let o = CrossEntropyOptions::default();
        let shape = Shape::new(n, v);
        let Some((dh, dw, db)) = grads else {
            return k
                .cross_entropy(&logits, shape, &self.targets, &o, Default::default(), None)
                .unwrap();
        };
        let loss = k
            .cross_entropy_in_place(&mut logits, shape, &self.targets, &o, Default::default())
            .unwrap();
        let g = Mat::rows(&logits, n, v, v);
        matmul(dh, d, g, w, false, false);
        matmul(dw, d, g.t(), h, false, false);
        db.fill(0.0);
        for row in logits.chunks(v) {
            for (b, &x) in db.iter_mut().zip(row) {
                *b += x;
            }
        }
        loss
    }
}

fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .expect("the first pool");
    let quick = std::env::args().any(|a| a == "--quick");
    let shapes: &[(usize, usize, usize)] = if quick {
        &[(64, 128, 8192)]
    } else {
        &[(1024, 1024, 32768), (256, 2048, 131072)]
    };
    let reps = 3;
    let k = Kernels::active();
    println!(
        "# linear + cross-entropy, one thread, {} ({}); median of {reps}, seconds; extra memory \
         = peak bytes allocated by the call",
        k.isa().name(),
        cpu_model()
    );
    println!("| N x D x V | pass | fused s | unfused s | fused / unfused | fused extra | unfused extra | unfused / fused memory |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for &(n, d, v) in shapes {
        let p = Problem::new(n, d, v);
        let (mut dh, mut dw, mut db) = (vec![0.0f32; n * d], vec![0.0f32; v * d], vec![0.0f32; v]);
        for backward in [false, true] {
            let mut fused = Vec::new();
            let mut unfused = Vec::new();
            let (mut mem_f, mut mem_u) = (0, 0);
            let (mut loss_f, mut loss_u) = (0.0, 0.0);
            for _ in 0..reps {
                let (t, m) = measure(&mut || {
                    let g = backward.then_some((&mut dh[..], &mut dw[..], &mut db[..]));
                    loss_f = p.fused(&k, g, false);
                });
                fused.push(t);
                mem_f = mem_f.max(m);
                let (t, m) = measure(&mut || {
                    let g = backward.then_some((&mut dh[..], &mut dw[..], &mut db[..]));
                    loss_u = p.unfused(&k, g);
                });
                unfused.push(t);
                mem_u = mem_u.max(m);
            }
            assert!((loss_f - loss_u).abs() <= 1e-4 * loss_u.abs().max(1.0));
            fused.sort_by(f64::total_cmp);
            unfused.sort_by(f64::total_cmp);
            let (tf, tu) = (fused[reps / 2], unfused[reps / 2]);
            let mib = |b: usize| b as f64 / (1 << 20) as f64;
            println!(
                "| {n} x {d} x {v} | {} | {tf:.3} | {tu:.3} | {:.2}x | {:.1} MiB | {:.1} MiB | {:.0}x |",
                if backward { "forward + backward" } else { "forward" },
                tf / tu,
                mib(mem_f),
                mib(mem_u),
                mem_u as f64 / mem_f.max(1) as f64
            );
            // The `rayon` path: the same products on a pool of 2 threads.
            let mut par: Vec<f64> = (0..reps)
                .map(|_| {
                    measure(&mut || {
                        let g = backward.then_some((&mut dh[..], &mut dw[..], &mut db[..]));
                        p.fused(&k, g, true);
                    })
                    .0
                })
                .collect();
            par.sort_by(f64::total_cmp);
            println!(
                "| {n} x {d} x {v} | {}, `linear_cross_entropy_par` on 2 threads | {:.3} | | {:.2}x the one-thread fused call | | | |",
                if backward { "forward + backward" } else { "forward" },
                par[reps / 2],
                par[reps / 2] / tf
            );
        }
    }
}
