//! Softmax, log-softmax and log-sum-exp of f64 values, computed in f64 (for callers whose
//! tensors are double, such as most of ONNX's ReduceLogSumExp node tests, and who want double
//! results, not f32 ones widened).
//!
//! One row `x` of `len` values: `m = max x`, `s = sum_k exp(x_k - m)` (libm's `exp`, summed with
//! Neumaier's compensation, terms below `e^-666` dropped), then `exp(x_k - m) / s`,
//! `(x_k - m) - ln s` or `m + ln s`. Error bounds (`u = 2^-53`; docs/accuracy.md): softmax
//! within `(6 + |x_k - m|) u` relative (outputs below `2^-1022 (1 + 2e-12)` may be 0: [`FLUSH`]),
//! log-softmax within `4 u max(1, |ref|) + |x_k - m| u`, log-sum-exp within
//! `4 u max(1, |ref|) + 2 u ln s` (the rounding of `ln s`, which `m + ln s` may cancel down to
//! nothing: a row of `n` values `-ln n`). Special rows as
//! the f32 functions: NaN gives NaN, `+inf` (no NaN) NaN outputs and a `+inf` log-sum-exp, only
//! `-inf` (or empty) NaN outputs and a `-inf` log-sum-exp. No result is subnormal, and no
//! subnormal is computed on normal inputs. Scalar code: these favour exactness over speed.

use twopass_kernels::Io;

use crate::error::{check_axis, check_matrix};
use crate::kernels::same_len;
use crate::Error;

/// `ln(2^-1022)`: `exp` below it would be subnormal.
const LN_MIN_NORMAL: f64 = -708.396_418_532_264_1;

/// How far above [`LN_MIN_NORMAL`] `d - ln s` must come out for softmax to compute
/// `exp(d) / s`: more than the roundings of `d = x - m` (up to `u |d|`, 8e-14 here), of `ln s`
/// and of the difference (about `1600 u` = 1.8e-13 in all), so the quotient is normal. Outputs
/// of `2^-1022 (1 + 1.3e-12)` and more are computed.
const FLUSH: f64 = 1e-12;

/// Terms `exp(x - max)` of a sum below `e^-666` (about 2^-961) are dropped: the sum is at least 1,
/// so they change it by less than `n * 2^-961` relative, and the compensation's rounding errors
/// of the terms kept (at least 2^-961 * 2^-53) stay normal.
const SUM_FLOOR: f64 = -666.0;

/// A row reduced: its max `m`, `s = sum exp(x - m)` (at least 1) and `ln s`.
#[derive(Clone, Copy)]
struct Reduced {
    max: f64,
    sum: f64,
    ln_sum: f64,
}

/// A row's [`Reduced`], or its special value (NaN, `+inf`, `-inf`).
fn reduce(x: impl Iterator<Item = f64> + Clone) -> Result<Reduced, f64> {
    let mut max = f64::NEG_INFINITY;
    let mut pos_inf = false;
    for v in x.clone() {
        if v.is_nan() {
            return Err(f64::NAN);
        }
        pos_inf |= v == f64::INFINITY;
        max = max.max(v);
    }
    if pos_inf {
        return Err(f64::INFINITY);
    }
    if max == f64::NEG_INFINITY {
        return Err(f64::NEG_INFINITY);
    }
    // Neumaier: `sum + c` carries the rounding errors of the additions.
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for v in x {
        let d = v - max;
        if d >= SUM_FLOOR {
            let t = d.exp();
            let next = sum + t;
            c += if sum >= t {
                (sum - next) + t
            } else {
                (t - next) + sum
            };
            sum = next;
        }
    }
    let sum = sum + c;
    Ok(Reduced {
        max,
        sum,
        ln_sum: sum.ln(),
    })
}

/// What a pass writes.
#[derive(Clone, Copy)]
enum Output {
    Softmax,
    LogSoftmax,
}

impl Output {
    /// The output for `v` in the row `r`.
    fn of(self, v: f64, r: Reduced) -> f64 {
        let d = v - r.max;
        match self {
            // exp(d) / s is below 2^-1022 where d - ln s is (up to the margin, which covers the
            // roundings): there 0, elsewhere a quotient of normal numbers.
            Output::Softmax if d - r.ln_sum < LN_MIN_NORMAL + FLUSH => 0.0,
            Output::Softmax => d.exp() / r.sum,
            Output::LogSoftmax => d - r.ln_sum,
        }
    }
}

/// Checks the buffers of an `(outer, len, inner)` tensor and writes `output` of every row.
fn map(mut io: Io<'_, f64>, shape: (usize, usize, usize), output: Output) -> Result<(), Error> {
    let n = check_axis("x", io.input().len(), shape)?;
    if let Io::Split(_, y) = &io {
        check_axis("y", y.len(), shape)?;
    }
    let (outer, len, inner) = shape;
    if n == 0 {
        return Ok(());
    }
    for o in 0..outer {
        for j in 0..inner {
            let at = move |k: usize| (o * len + k) * inner + j;
            let x = io.input();
            let reduced = reduce((0..len).map(|k| x[at(k)]));
            for k in 0..len {
                let v = io.input()[at(k)];
                io.output()[at(k)] = match reduced {
                    Ok(r) => output.of(v, r),
                    Err(_) => f64::NAN,
                };
            }
        }
    }
    Ok(())
}

fn lse(reduced: Result<Reduced, f64>) -> f64 {
    match reduced {
        Ok(r) => r.max + r.ln_sum,
        Err(special) => special,
    }
}

/// `y = softmax(x)` in f64 (see the module docs for the bounds; special rows as
/// [`crate::softmax`]).
pub fn softmax_f64(x: &[f64], y: &mut [f64]) -> Result<(), Error> {
    same_len(x, y)?;
    softmax_axis_f64(x, y, 1, x.len(), 1)
}

/// `y = log_softmax(x)` in f64.
pub fn log_softmax_f64(x: &[f64], y: &mut [f64]) -> Result<(), Error> {
    same_len(x, y)?;
    log_softmax_axis_f64(x, y, 1, x.len(), 1)
}

/// `ln(sum_k exp(x_k))` in f64 (`-inf` for an empty row).
pub fn log_sum_exp_f64(x: &[f64]) -> f64 {
    lse(reduce(x.iter().copied()))
}

/// `out[r] = ln(sum_k exp(x[r * stride + k]))` for `rows` rows of `cols` (as
/// [`crate::log_sum_exp_rows`]).
pub fn log_sum_exp_rows_f64(
    x: &[f64],
    stride: usize,
    rows: usize,
    cols: usize,
    out: &mut [f64],
) -> Result<(), Error> {
    check_matrix("x", x.len(), stride, rows, cols)?;
    if out.len() != rows {
        return Err(Error::LengthMismatch {
            input: rows,
            output: out.len(),
        });
    }
    for (r, o) in out.iter_mut().enumerate() {
        *o = lse(reduce((0..cols).map(|k| x[r * stride + k])));
    }
    Ok(())
}

/// Softmax in f64 along the middle axis of an `(outer, len, inner)` tensor (layout and errors
/// as [`crate::softmax_axis`]).
pub fn softmax_axis_f64(
    x: &[f64],
    y: &mut [f64],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<(), Error> {
    map(Io::Split(x, y), (outer, len, inner), Output::Softmax)
}

/// [`softmax_axis_f64`] overwriting `x`.
pub fn softmax_axis_f64_in_place(
    x: &mut [f64],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<(), Error> {
    map(Io::InPlace(x), (outer, len, inner), Output::Softmax)
}

/// Log-softmax in f64 along the middle axis of an `(outer, len, inner)` tensor.
pub fn log_softmax_axis_f64(
    x: &[f64],
    y: &mut [f64],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<(), Error> {
    map(Io::Split(x, y), (outer, len, inner), Output::LogSoftmax)
}

/// [`log_softmax_axis_f64`] overwriting `x`.
pub fn log_softmax_axis_f64_in_place(
    x: &mut [f64],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<(), Error> {
    map(Io::InPlace(x), (outer, len, inner), Output::LogSoftmax)
}

/// Log-sum-exp in f64 along the middle axis: `out[o * inner + j]` (`out.len() == outer *
/// inner`; `-inf` where `len == 0`).
pub fn log_sum_exp_axis_f64(
    x: &[f64],
    outer: usize,
    len: usize,
    inner: usize,
    out: &mut [f64],
) -> Result<(), Error> {
    check_axis("x", x.len(), (outer, len, inner))?;
    check_axis("out", out.len(), (outer, 1, inner))?;
    for (i, o) in out.iter_mut().enumerate() {
        let (outer_index, j) = (i / inner, i % inner);
        let at = |k: usize| (outer_index * len + k) * inner + j;
        *o = lse(reduce((0..len).map(|k| x[at(k)])));
    }
    Ok(())
}
