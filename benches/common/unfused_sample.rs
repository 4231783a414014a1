//! Sampling's shared pieces, for benches/sample.rs and the reproduction (each includes this
//! file with `#[path]` and has `paper_input` at its crate root): a row of logits shaped like a
//! language model's, and the unfused sequences engines run instead of `Kernels::sample`.

use std::hint::black_box;

use twopass::Kernels;

/// `n` logits shaped like a language model's next-token row: a bulk of N(0, 3) (the sum of
/// three uniforms on [-3, 3]) with 16 tokens at 10-20.
pub fn llm_logits(n: usize) -> Vec<f32> {
    let u = [
        0x1234_5678_9ABC_DEF1,
        0x0F1E_2D3C_4B5A_6978,
        0x1357_9BDF_2468_ACE1,
    ]
    .map(|s| crate::paper_input::uniform(n, s, 3.0));
    let mut x: Vec<f32> = (0..n).map(|i| u[0][i] + u[1][i] + u[2][i]).collect();
    for j in 0..16 {
        x[(j * 7919 * 13 + 101) % n] = 10.0 + j as f32 * 0.625;
    }
    x
}

/// The unfused draws' uniforms: `u` advanced by the golden ratio, modulo 1.
pub fn next_uniform(u: &mut f64) -> f64 {
    *u = (*u + 0.618_034) % 1.0;
    *u
}

/// A cumulative draw from probabilities summing to `total`: the first index (of `order`, else
/// of `p`) whose running sum reaches `u * total`.
pub fn cumulative_draw(p: &[f32], order: Option<&[u32]>, total: f64, u: f64) -> usize {
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

/// The first step of a ranked draw: `p = softmax(x)`, and `order` reset to `0..n`.
pub fn probabilities(k: &Kernels, x: &[f32], p: &mut [f32], order: &mut [u32]) {
    k.softmax(black_box(x), p).unwrap();
    order
        .iter_mut()
        .enumerate()
        .for_each(|(i, o)| *o = i as u32);
}

/// Temperature 1, unfused: `p = softmax(x)`, then a cumulative draw at `u` over all of `p`.
pub fn temperature(k: &Kernels, x: &[f32], p: &mut [f32], u: f64) -> usize {
    k.softmax(black_box(x), p).unwrap();
    cumulative_draw(p, None, 1.0, u)
}

/// Top-p, unfused: `p = softmax(x)`, `order` sorted by probability, descending, and cut after
/// the first index whose running sum reaches `top_p`, then a cumulative draw at `u` among the
/// kept indices.
pub fn top_p(
    k: &Kernels,
    x: &[f32],
    p: &mut [f32],
    order: &mut [u32],
    top_p: f32,
    u: f64,
) -> usize {
    probabilities(k, x, p, order);
    order.sort_unstable_by(|&a, &b| p[b as usize].total_cmp(&p[a as usize]));
    let mut acc = 0.0f64;
    let kept = order
        .iter()
        .position(|&i| {
            acc += f64::from(p[i as usize]);
            acc >= f64::from(top_p)
        })
        .map_or(order.len(), |j| j + 1);
    cumulative_draw(p, Some(&order[..kept]), acc, u)
}
