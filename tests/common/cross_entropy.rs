//! The f64 reference of docs/accuracy.md's cross-entropy formulas and bounds, and checks of a
//! case (one-shot, in place, chunked streams) against it; shared by the tests and the fuzzers.

use super::Rng;
use twopass::{
    CrossEntropyOptions, CrossEntropyOutputs, CrossEntropyStream, Kernels, Reduction, Shape,
};

/// The f64 reference of one valid row: (loss, lse, gradient / k, T of the loss bound, p).
pub struct RowRef {
    pub loss: f64,
    pub lse: f64,
    pub grad: Vec<f64>,
    pub t_bound: f64,
    pub p: Vec<f64>,
    pub one_minus_p_t: f64,
}

pub fn row_ref(x: &[f32], t: usize, o: &CrossEntropyOptions<'_>) -> RowRef {
    let c = x.len() as f64;
    let w = |j: usize| o.class_weights.map_or(1.0, |w| f64::from(w[j]));
    let big_w: f64 = (0..x.len()).map(w).sum();
    let (eps, z) = (f64::from(o.label_smoothing), f64::from(o.z_loss));
    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let m = x64.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let special = x64.iter().any(|v| v.is_nan() || *v == f64::INFINITY) || m == f64::NEG_INFINITY;
    if special {
        // The row's log-sum-exp follows the log_sum_exp table; loss and gradient are NaN.
        let lse = if x64.iter().any(|v| v.is_nan()) {
            f64::NAN
        } else if m == f64::INFINITY {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
        let nan = vec![f64::NAN; x.len()];
        return RowRef {
            loss: f64::NAN,
            lse,
            grad: nan.clone(),
            t_bound: 0.0,
            p: nan,
            one_minus_p_t: f64::NAN,
        };
    }
    let e: Vec<f64> = x64.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    let lse = m + s.ln();
    let p: Vec<f64> = e.iter().map(|v| v / s).collect();
    let others: f64 = e
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != t)
        .map(|(_, v)| v)
        .sum();
    let one_minus_p_t = others / s;
    let ct = (1.0 - eps) * w(t);
    // lse - x_t and W lse - sum w x with the max and ln(s) kept apart (at |x| ~ 3e38, m + ln s
    // rounds to m even in f64); ln(s) as ln_1p of the terms but the max's (exactly 1), to
    // relative precision where a heavy weight multiplies it.
    let first_max = x64.iter().position(|&v| v == m).unwrap();
    let rest: f64 = (0..x.len()).filter(|&j| j != first_max).map(|j| e[j]).sum();
    let ln_s = rest.ln_1p();
    let mut loss = if ct == 0.0 {
        0.0
    } else {
        ct * ((m - x64[t]) + ln_s)
    };
    if eps > 0.0 {
        let spread: f64 = (0..x.len())
            .filter(|&j| w(j) != 0.0)
            .map(|j| w(j) * (m - x64[j]))
            .sum();
        loss += (eps / c) * (spread + big_w * ln_s);
    }
    if z > 0.0 {
        loss += z * lse * lse;
    }
    let grad = (0..x.len())
        .map(|j| {
            let target = if j == t {
                -ct * one_minus_p_t
            } else {
                ct * p[j]
            };
            target + (eps / c) * (big_w * p[j] - w(j)) + 2.0 * z * lse * p[j]
        })
        .collect();
    let abs_wx: f64 = (0..x.len())
        .filter(|&j| w(j) != 0.0)
        .map(|j| (w(j) * x64[j]).abs())
        .sum();
    let smooth_bound = if eps > 0.0 {
        (eps / c) * (big_w * (lse.abs() + 1.0) + abs_wx)
    } else {
        0.0
    };
    let target_bound = if ct > 0.0 {
        ct * (lse.abs() + x64[t].abs() + 1.0)
    } else {
        0.0
    };
    let t_bound = target_bound + smooth_bound;
    RowRef {
        loss,
        lse,
        grad,
        t_bound,
        p,
        one_minus_p_t,
    }
}

/// `z * v` for a bound, 0 when `v` is (so an infinite z-loss adds nothing where lse is 0).
fn zt(z: f64, v: f64) -> f64 {
    if v == 0.0 {
        0.0
    } else {
        z * v
    }
}

pub fn close_or_same(got: f64, want: f64, bound: f64) -> bool {
    // f32 rounds to infinity from f32::MAX + 2^103 (half an ulp) on.
    let overflow = f64::from(f32::MAX) + 2f64.powi(103);
    if want.is_nan() {
        got.is_nan()
    } else if got.is_infinite() {
        // The f32 rounding of some value within the bound of `want`: that value lies beyond the
        // overflow threshold on got's side (whatever want's sign, when the bound is that wide).
        if got > 0.0 {
            want + bound >= overflow
        } else {
            want - bound <= -overflow
        }
    } else {
        // Plus f32's smallest subnormal step: an f32 result cannot be much nearer than that.
        !want.is_infinite() && (got - want).abs() <= bound + 1.5e-45
    }
}

#[derive(Debug, Clone)]
pub struct Case {
    pub rows: usize,
    pub cols: usize,
    pub logits: Vec<f32>,
    pub targets: Vec<i64>,
    pub ignore_index: i64,
    pub eps: f32,
    pub z: f32,
    pub weights: Option<Vec<f32>>,
    pub reduction: Reduction,
    pub grad_output: Option<Vec<f32>>,
}

impl Case {
    /// The case's options (borrowing its weights).
    pub fn options(&self) -> CrossEntropyOptions<'_> {
        CrossEntropyOptions {
            ignore_index: Some(self.ignore_index),
            label_smoothing: self.eps,
            reduction: self.reduction,
            z_loss: self.z,
            class_weights: self.weights.as_deref(),
        }
    }
}

pub fn make_case(seed: u64) -> Case {
    let mut r = Rng::new(seed);
    let rows = r.below(5);
    let cols = [1, 2, 17, 4099, 1 + r.below(300), 1 + r.below(40)][r.below(6)];
    let scale = [1.0, 30.0, 1e4][r.below(3)];
    let mut logits: Vec<f32> = (0..rows * cols)
        .map(|_| (scale * r.normal()) as f32)
        .collect();
    let ignore_index = if r.uniform() < 0.7 {
        -100
    } else {
        r.below(cols) as i64
    };
    let targets: Vec<i64> = (0..rows)
        .map(|_| {
            if r.uniform() < 0.15 {
                ignore_index
            } else {
                r.below(cols) as i64
            }
        })
        .collect();
    for (row, &t) in targets.iter().enumerate() {
        let x = &mut logits[row * cols..(row + 1) * cols];
        match r.below(6) {
            // A confident target: naive `p - 1` cancels.
            0 if t >= 0 => {
                let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                x[t as usize] = m + [10.0, 30.0, 60.0][r.below(3)];
            }
            1 => {
                for v in x.iter_mut() {
                    if r.uniform() < 0.3 {
                        *v = f32::NEG_INFINITY;
                    }
                }
            }
            2 if r.uniform() < 0.3 => x[r.below(cols)] = [f32::NAN, f32::INFINITY][r.below(2)],
            _ => {}
        }
    }
    let eps = [0.0, 0.0, 0.1, 1.0, r.uniform() as f32][r.below(5)];
    let z = [0.0, 0.0, 1e-4, r.uniform() as f32][r.below(4)];
    let weights = (r.uniform() < 0.4).then(|| {
        (0..cols)
            .map(|_| {
                if r.uniform() < 0.2 {
                    0.0
                } else {
                    (3.0 * r.uniform()) as f32
                }
            })
            .collect()
    });
    let reduction = [Reduction::None, Reduction::Mean, Reduction::Sum][r.below(3)];
    let grad_output = (r.uniform() < 0.5).then(|| {
        let n = if reduction == Reduction::None {
            rows
        } else {
            1
        };
        (0..n).map(|_| (2.0 * r.normal()) as f32).collect()
    });
    Case {
        rows,
        cols,
        logits,
        targets,
        ignore_index,
        eps,
        z,
        weights,
        reduction,
        grad_output,
    }
}

pub fn check_case(k: Kernels, c: &Case) -> Result<(), String> {
    let o = c.options();
    let shape = Shape::new(c.rows, c.cols);
    let (mut losses, mut lse) = (vec![7.0f32; c.rows], vec![7.0f32; c.rows]);
    let mut grad = vec![7.0f32; c.rows * c.cols];
    let mut log_prob = vec![7.0f32; c.rows * c.cols];
    let out = CrossEntropyOutputs {
        row_losses: Some(&mut losses),
        row_lse: Some(&mut lse),
        ignored_row_lse: true,
        log_prob: Some((&mut log_prob, c.cols)),
        grad_output: c.grad_output.as_deref(),
    };
    let loss = k
        .cross_entropy(
            &c.logits,
            shape,
            &c.targets,
            &o,
            out,
            Some((&mut grad, c.cols)),
        )
        .map_err(|e| e.to_string())?;

    // In place gives the same bits (log_prob written before the gradient overwrites the
    // logits).
    let mut inplace = c.logits.clone();
    let mut log_prob2 = vec![7.0f32; c.rows * c.cols];
    let mut lse2 = vec![7.0f32; c.rows];
    let out = CrossEntropyOutputs {
        grad_output: c.grad_output.as_deref(),
        log_prob: Some((&mut log_prob2, c.cols)),
        row_lse: Some(&mut lse2),
        ..Default::default()
    };
    let loss2 = k
        .cross_entropy_in_place(&mut inplace, shape, &c.targets, &o, out)
        .map_err(|e| e.to_string())?;
    if loss.to_bits() != loss2.to_bits()
        || grad
            .iter()
            .zip(&inplace)
            .any(|(a, b)| a.to_bits() != b.to_bits())
    {
        return Err("in-place results differ".into());
    }
    if log_prob
        .iter()
        .zip(&log_prob2)
        .any(|(a, b)| a.to_bits() != b.to_bits())
    {
        return Err("in-place log_prob differs".into());
    }
    // Without `ignored_row_lse`, row_lse is 0 for ignored rows (the rest the same bits).
    for (r, (a, b)) in lse.iter().zip(&lse2).enumerate() {
        let want = if c.targets[r] == c.ignore_index {
            0.0
        } else {
            *a
        };
        if b.to_bits() != want.to_bits() {
            return Err(format!(
                "row {r}: lse {b} without ignored_row_lse, want {want}"
            ));
        }
    }

    let w_max = c
        .weights
        .as_ref()
        .map_or(1.0, |w| w.iter().fold(0.0f32, |a, &b| a.max(b)) as f64);
    let d: f64 = c
        .targets
        .iter()
        .filter(|&&t| t != c.ignore_index)
        .map(|&t| c.weights.as_ref().map_or(1.0, |w| f64::from(w[t as usize])))
        .sum();
    let (mut sum, mut abs_sum, mut t_sum, mut z_sum, mut lse_sum) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (eps, z, cols) = (f64::from(c.eps), f64::from(c.z), c.cols as f64);
    for r in 0..c.rows {
        let x = &c.logits[r * c.cols..(r + 1) * c.cols];
        let g = &grad[r * c.cols..(r + 1) * c.cols];
        let upstream = c.grad_output.as_ref().map_or(1.0, |u| {
            f64::from(u[if c.reduction == Reduction::None { r } else { 0 }])
        });
        let k_r = match c.reduction {
            Reduction::Mean if d == 0.0 => 0.0,
            Reduction::Mean => upstream / d,
            _ => upstream,
        };
        // Every row's log_prob (its log-softmax) and lse, ignored rows included.
        super::check_log_softmax(x, &log_prob[r * c.cols..(r + 1) * c.cols], 1.0)
            .map_err(|e| format!("row {r} log_prob: {e}"))?;
        super::check_lse(x, lse[r], 1.0).map_err(|e| format!("row {r}: {e}"))?;
        if c.targets[r] == c.ignore_index {
            if losses[r] != 0.0 || g.iter().any(|&v| v != 0.0) {
                return Err(format!("ignored row {r} not zero"));
            }
            continue;
        }
        let t = c.targets[r] as usize;
        let want = row_ref(x, t, &o);
        // docs/accuracy.md bounds the z-loss term relative to lse^2, which no f32 exp can meet when
        // |lse| is tiny (one f32 term alone carries 6e-8 relative): we allow an absolute
        // lse error of 5e-7 on top (z * 2|lse| * 5e-7), as docs/accuracy.md records.
        let loss_bound =
            4e-6 * want.t_bound + zt(z, 8e-6 * want.lse * want.lse + 1e-6 * want.lse.abs());
        if !close_or_same(f64::from(losses[r]), want.loss, loss_bound) {
            return Err(format!(
                "row {r} loss {:e}, reference {:e} (bound {loss_bound:e})",
                losses[r], want.loss
            ));
        }
        if !close_or_same(f64::from(lse[r]), want.lse, 2e-6 * want.lse.abs().max(1.0)) {
            return Err(format!(
                "row {r} lse {:e}, reference {:e}",
                lse[r], want.lse
            ));
        }
        sum += want.loss;
        abs_sum += want.loss.abs();
        t_sum += want.t_bound;
        z_sum += want.lse * want.lse;
        lse_sum += want.lse.abs();
        for j in 0..c.cols {
            let (got, want_g) = (f64::from(g[j]), k_r * want.grad[j]);
            let bound = k_r.abs()
                * (4e-6 * want.grad[j].abs()
                    + 4e-6 * w_max * eps / cols
                    + zt(z, (8e-6 * want.lse.abs() + 1e-6) * want.p[j])
                    + 2e-7 * w_max);
            if !close_or_same(got, want_g, bound) {
                return Err(format!("row {r} grad[{j}] = {got:e}, reference {want_g:e} (bound {bound:e}, x = {:e}, t = {t})", x[j]));
            }
        }
        // The target entry keeps relative precision while 1 - p_t >= 1e-30 (eps = 0, z = 0,
        // where it is exactly -k w_t (1 - p_t)).
        let w_t = c.weights.as_ref().map_or(1.0, |w| f64::from(w[t]));
        if eps == 0.0 && z == 0.0 && k_r != 0.0 && w_t > 0.0 && want.one_minus_p_t >= 1e-30 {
            let want_t = -k_r * w_t * want.one_minus_p_t;
            if !close_or_same(f64::from(g[t]), want_t, 1e-3 * want_t.abs() + 1e-44) {
                return Err(format!(
                    "row {r} target grad {:e}, reference {want_t:e}",
                    g[t]
                ));
            }
        }
    }
    let want_total = match c.reduction {
        Reduction::Mean if d == 0.0 => f64::NAN,
        Reduction::Mean => sum / d,
        _ => sum,
    };
    // With the same absolute lse allowance as the rows (see there).
    let mut bound = 4e-6 * (abs_sum + t_sum + 1.0) + zt(z, 8e-6 * z_sum + 1e-6 * lse_sum);
    if c.reduction == Reduction::Mean {
        bound /= d;
    }
    if !close_or_same(f64::from(loss), want_total, bound) {
        return Err(format!("reduced loss {loss:e}, reference {want_total:e}"));
    }
    Ok(())
}

/// Streams each row in random chunks, in random order, and compares with the one-shot results.
pub fn check_chunked(k: Kernels, c: &Case, seed: u64) -> Result<(), String> {
    let mut r = Rng::new(seed ^ 0xC0FFEE);
    let o = c.options();
    for row in 0..c.rows {
        let x = &c.logits[row * c.cols..(row + 1) * c.cols];
        let mut one =
            CrossEntropyStream::new(k, c.cols, c.targets[row], &o).map_err(|e| e.to_string())?;
        one.update(0, x).map_err(|e| e.to_string())?;
        let one = one.finish().map_err(|e| e.to_string())?;
        let mut cuts = vec![0, c.cols];
        for _ in 0..r.below(6) {
            cuts.push(r.below(c.cols + 1));
        }
        cuts.sort_unstable();
        let mut chunks: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        for i in (1..chunks.len()).rev() {
            chunks.swap(i, r.below(i + 1));
        }
        let mut stream =
            CrossEntropyStream::new(k, c.cols, c.targets[row], &o).map_err(|e| e.to_string())?;
        // Half the time one stream takes every chunk; else a stream per chunk (as a thread
        // each would), merged.
        let merged = r.below(2) == 1;
        for &(a, b) in &chunks {
            if merged {
                let mut part = CrossEntropyStream::new(k, c.cols, c.targets[row], &o)
                    .map_err(|e| e.to_string())?;
                part.update(a, &x[a..b]).map_err(|e| e.to_string())?;
                stream.merge(&part).map_err(|e| e.to_string())?;
            } else {
                stream.update(a, &x[a..b]).map_err(|e| e.to_string())?;
            }
        }
        let done = stream.finish().map_err(|e| e.to_string())?;
        let (l1, l2) = (f64::from(one.loss()), f64::from(done.loss()));
        // Each within docs/accuracy.md's loss bound of the reference: within twice of each other.
        let bound = match usize::try_from(c.targets[row]) {
            Ok(t) if c.targets[row] != c.ignore_index => {
                let r = row_ref(x, t, &o);
                let z = f64::from(c.z);
                2.0 * (4e-6 * r.t_bound + zt(z, 8e-6 * r.lse * r.lse + 1e-6 * r.lse.abs()))
            }
            _ => 0.0,
        };
        // Either may be the one that rounds to infinity near f32's limit.
        if !(close_or_same(l2, l1, bound) || close_or_same(l1, l2, bound)) {
            return Err(format!("row {row}: chunked loss {l2:e} vs one-shot {l1:e}"));
        }
        let (mut g1, mut g2) = (vec![0.0f32; c.cols], vec![0.0f32; c.cols]);
        one.gradient(0, x, &mut g1, 1.0)
            .map_err(|e| e.to_string())?;
        for &(a, b) in &chunks {
            done.gradient(a, &x[a..b], &mut g2[a..b], 1.0)
                .map_err(|e| e.to_string())?;
        }
        // Each is within docs/accuracy.md's gradient bound of the reference: within twice of each
        // other.
        let w_max = c
            .weights
            .as_ref()
            .map_or(1.0, |w| w.iter().fold(0.0f32, |a, &b| a.max(b)) as f64);
        let (eps, z, lse) = (f64::from(c.eps), f64::from(c.z), f64::from(one.lse()).abs());
        for j in 0..c.cols {
            let (p, q) = (f64::from(g1[j]), f64::from(g2[j]));
            // Plus two subnormal steps: each result may be one step from the reference.
            let bound = 8e-6 * p.abs()
                + 8e-6 * w_max * eps / c.cols as f64
                + zt(z, 1.6e-5 * lse + 2e-6)
                + 4e-7 * w_max
                + 3e-45;
            if !(p == q || (p.is_nan() && q.is_nan()) || (p - q).abs() <= bound) {
                return Err(format!(
                    "row {row}: chunked grad[{j}] {q:e} vs one-shot {p:e} (lse {} vs {}, chunks {chunks:?})",
                    done.lse(),
                    one.lse()
                ));
            }
        }
    }
    Ok(())
}
