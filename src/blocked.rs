//! The blocked single-exp softmax: the row in L1-sized blocks, each with its own max.
//!
//! Pass 1, per block `b`: `m_b = max(x_b)`, then `y_b = exp(x_b - m_b)` stored with its sum
//! `s_b` (the block's second read comes from L1). Then `M = max_b m_b`,
//! `S = sum_b s_b exp(m_b - M)` in f64, and pass 2 scales block `b` by `exp(m_b - M) / S`.
//! `exp` is computed once per element, the input read once from memory, and the per-block sums
//! act as a second level of summation. The per-block statistics live on the stack: at most
//! [`MAX_BLOCKS`] blocks, so longer rows take longer blocks.

use twopass_kernels::{exp_or_zero, Element, Io, MaxSum, Store, Table};

use crate::sum::{Special, Sum};

/// The shortest block: 16 KiB of f32, L1-resident with its output on a 48 KiB L1d (the
/// measurements that chose it are in `docs/algorithms.md`).
pub const MIN_BLOCK: usize = 4096;
/// The most blocks a row is cut into (their statistics take 32 KiB of stack).
pub const MAX_BLOCKS: usize = 4096;

/// The block length for a row of `n`: [`MIN_BLOCK`], or longer (a multiple of 64) when the row
/// has more than [`MAX_BLOCKS`] blocks of that.
pub fn block_len(n: usize) -> usize {
    MIN_BLOCK.max(n.div_ceil(MAX_BLOCKS).next_multiple_of(64))
}

/// `sum_i exp(x_i)` block by block (max, then sum, each block from L1): one read from memory.
pub(crate) fn sum<E: Element>(t: &Table<E>, x: &[E]) -> Sum {
    let mut total = MaxSum {
        max: f32::NEG_INFINITY,
        sum: 0.0,
    };
    for block in x.chunks(block_len(x.len())) {
        let max = (t.rmax)(block);
        if max.is_nan() || max == f32::INFINITY {
            return Sum::Special(Special::of(x));
        }
        if max == f32::NEG_INFINITY {
            // All -inf, or a NaN the max let through: only a NaN matters.
            if block.iter().any(|v| v.to_f32().is_nan()) {
                return Sum::Special(Special::Nan);
            }
            continue;
        }
        let sum = (t.raddexpminusmax)(block, max);
        if !sum.is_finite() {
            return Sum::Special(Special::of(x));
        }
        if max > total.max {
            total.sum *= exp_or_zero(f64::from(total.max) - f64::from(max));
            total.max = max;
            total.sum += sum;
        } else {
            total.sum += sum * exp_or_zero(f64::from(max) - f64::from(total.max));
        }
    }
    if total.max == f32::NEG_INFINITY {
        Sum::Special(Special::NegInf)
    } else {
        Sum::MaxSum(total)
    }
}

/// Blocked softmax of a non-empty row; `false` (nothing meaningful written) for a special row.
pub(crate) fn softmax<E: Element>(t: &Table<E>, mut io: Io<'_, E>) -> bool {
    let n = io.input().len();
    let len = block_len(n);
    let mut maxes = [0f32; MAX_BLOCKS];
    let mut sums = [0f32; MAX_BLOCKS];
    let mut max = f32::NEG_INFINITY;
    for (b, start) in (0..n).step_by(len).enumerate() {
        let end = (start + len).min(n);
        let m = (t.rmax)(&io.input()[start..end]);
        if m.is_nan() || m == f32::INFINITY {
            return false;
        }
        maxes[b] = m;
        if m == f32::NEG_INFINITY {
            // All -inf, or a NaN the max let through.
            if io.input()[start..end].iter().any(|v| v.to_f32().is_nan()) {
                return false;
            }
            io.output()[start..end].fill(E::from_f32(0.0));
            continue;
        }
        let s = match &mut io {
            Io::Split(x, y) => {
                (t.raddstoreexpminusmax)(Io::Split(&x[start..end], &mut y[start..end]), m)
            }
            Io::InPlace(xy) => (t.raddstoreexpminusmax)(Io::InPlace(&mut xy[start..end]), m),
        };
        if !s.is_finite() {
            return false;
        }
        sums[b] = s as f32;
        max = max.max(m);
    }
    if max == f32::NEG_INFINITY {
        return false;
    }
    let blocks = n.div_ceil(len);
    let total: f64 = (0..blocks)
        .filter(|&b| maxes[b] != f32::NEG_INFINITY)
        .map(|b| f64::from(sums[b]) * exp_or_zero(f64::from(maxes[b]) - f64::from(max)))
        .sum();
    let y = io.output();
    for (b, block) in y.chunks_mut(len).enumerate() {
        if maxes[b] == f32::NEG_INFINITY {
            continue;
        }
        let factor = exp_or_zero(f64::from(maxes[b]) - f64::from(max)) / total;
        if factor < f64::from(f32::MIN_POSITIVE) {
            // Every output of the block is below 2^-126 (< 1e-37): 0, without slow subnormal
            // arithmetic (a steadily rising row puts its early blocks here).
            block.fill(E::from_f32(0.0));
        } else {
            (t.vscale)(Io::InPlace(block), factor as f32, Store::Cached);
        }
    }
    true
}
