//! Cross-entropy with class-index targets, following `torch.nn.functional.cross_entropy`
//! (docs/accuracy.md): the loss in ONE read of the logits (extended-exponent sum, target logit and
//! weighted logit sum together; rows without smoothing follow log-sum-exp's reduction), the
//! gradient in one more pass that may overwrite the logits.
//! Rows can also be streamed chunk by chunk ([`CrossEntropyStream`]).

use twopass_kernels::{exp_or_zero, Ext, GradCoefficients, Io, LogitSum, SumOfLogits};

use crate::error::check_matrix;
use crate::row;
use crate::sum::{narrow, narrow_within, Sum};
use crate::{Algorithm, Error, Float, Kernels, LseState};

#[cfg(feature = "capi")]
pub(crate) mod words;

/// How per-row losses combine into the returned loss.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// No reduction: per-row losses; the returned loss is their sum, and the gradient takes one
    /// upstream gradient per row.
    None,
    /// `sum_r loss_r / D`, `D` the sum of the valid rows' target weights (NaN when `D = 0`).
    #[default]
    Mean,
    /// `sum_r loss_r`.
    Sum,
}

/// The options of `torch.nn.functional.cross_entropy` (and a PaLM-style z-loss).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyOptions<'a> {
    /// Rows whose target equals this are ignored (loss and gradient 0); `None`: no target is
    /// ignored (ONNX's optional attribute left out). Default `Some(-100)`, as torch.
    pub ignore_index: Option<i64>,
    /// `eps` in `[0, 1]`: the target distribution is `(1 - eps) * onehot + eps / C`. Default 0.
    pub label_smoothing: f32,
    /// Default [`Reduction::Mean`].
    pub reduction: Reduction,
    /// `z >= 0`, finite: adds `z * lse^2` per valid row. Default 0.
    pub z_loss: f32,
    /// One finite weight `>= 0` per class, or `None` (all 1).
    pub class_weights: Option<&'a [f32]>,
}

impl Default for CrossEntropyOptions<'_> {
    fn default() -> Self {
        CrossEntropyOptions {
            ignore_index: Some(-100),
            label_smoothing: 0.0,
            reduction: Reduction::Mean,
            z_loss: 0.0,
            class_weights: None,
        }
    }
}

/// A `rows x cols` matrix layout with a row stride (in elements, `>= cols`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rows (tokens).
    pub rows: usize,
    /// Columns (classes).
    pub cols: usize,
    /// Elements from one row's start to the next's.
    pub stride: usize,
}

impl Shape {
    /// `rows x cols`, rows packed (`stride = cols`).
    pub fn new(rows: usize, cols: usize) -> Shape {
        Shape {
            rows,
            cols,
            stride: cols,
        }
    }

    /// The same shape with another row stride.
    pub fn with_stride(self, stride: usize) -> Shape {
        Shape { stride, ..self }
    }
}

/// Optional per-row outputs and the upstream gradient of [`Kernels::cross_entropy`], for
/// logits of type `T`.
#[derive(Debug)]
pub struct CrossEntropyOutputs<'a, T = f32> {
    /// `rows` unreduced losses (0 for ignored rows).
    pub row_losses: Option<&'a mut [f32]>,
    /// `rows` log-sum-exps (0 for ignored rows unless `ignored_row_lse`).
    pub row_lse: Option<&'a mut [f32]>,
    /// Whether `row_lse` holds the log-sum-exps of ignored rows too (their logits are then
    /// read; ONNX-style callers want them). Default false: 0 there, as before.
    pub ignored_row_lse: bool,
    /// The log-softmax of every row (ignored rows included; ONNX's `log_prob`), into a buffer
    /// with its row stride (`>= cols`), within [`Kernels::log_softmax`]'s bound (from the loss
    /// pass's log-sum-exp: one more read of each row, in cache after the loss pass).
    pub log_prob: Option<(&'a mut [T], usize)>,
    /// Upstream gradient: `rows` values for [`Reduction::None`], one otherwise; `None` = 1.
    pub grad_output: Option<&'a [f32]>,
}

/// No outputs, upstream gradient 1 (for any element type: no `T: Default` bound).
impl<T> Default for CrossEntropyOutputs<'_, T> {
    fn default() -> Self {
        CrossEntropyOutputs {
            row_losses: None,
            row_lse: None,
            ignored_row_lse: false,
            log_prob: None,
            grad_output: None,
        }
    }
}

impl CrossEntropyOptions<'_> {
    /// Checks the options for `cols` classes.
    pub(crate) fn check(&self, cols: usize) -> Result<(), Error> {
        if let Some(w) = self.class_weights {
            if w.len() != cols {
                return Err(Error::WrongLength {
                    buffer: "class_weights",
                    len: w.len(),
                    expected: cols,
                });
            }
            if let Some((class, &weight)) = w
                .iter()
                .enumerate()
                .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
            {
                return Err(Error::InvalidWeight { class, weight });
            }
        }
        let eps = self.label_smoothing;
        if !(0.0..=1.0).contains(&eps) {
            return Err(Error::InvalidOption {
                name: "label_smoothing",
                value: eps,
            });
        }
        if !self.z_loss.is_finite() || self.z_loss < 0.0 {
            return Err(Error::InvalidOption {
                name: "z_loss",
                value: self.z_loss,
            });
        }
        Ok(())
    }

    fn weight(&self, class: usize) -> f64 {
        self.class_weights.map_or(1.0, |w| f64::from(w[class]))
    }

    /// The class index of `target`, `None` for an ignored row, or the error.
    fn class(&self, row: usize, target: i64, cols: usize) -> Result<Option<usize>, Error> {
        if Some(target) == self.ignore_index {
            return Ok(None);
        }
        match usize::try_from(target) {
            Ok(t) if t < cols => Ok(Some(t)),
            _ => Err(Error::TargetOutOfRange {
                row,
                target,
                classes: cols,
            }),
        }
    }
}

/// One row's cross-entropy, fed chunk by chunk: memory O(1), chunks in any order (they must
/// cover the row's columns exactly once). [`CrossEntropyStream::finish`] gives the loss; the
/// gradient then follows chunk by chunk from the finished row.
///
/// ```
/// use twopass::{CrossEntropyOptions, CrossEntropyStream, Kernels};
/// let logits = [0.5f32, 2.0, -1.0, 0.25, 3.0];
/// let options = CrossEntropyOptions::default();
/// let mut row = CrossEntropyStream::new(Kernels::active(), 5, 1, &options)?;
/// row.update(3, &logits[3..])?; // any order
/// row.update(0, &logits[..3])?;
/// let done = row.finish()?;
/// let mut grad = [0.0f32; 5];
/// done.gradient(0, &logits, &mut grad, 1.0)?;
/// assert!((grad.iter().sum::<f32>()).abs() < 1e-6);
/// # Ok::<(), twopass::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CrossEntropyStream<'w> {
    kernels: Kernels,
    options: CrossEntropyOptions<'w>,
    cols: usize,
    /// The target class; `None` for an ignored row.
    target: Option<usize>,
    /// `W = sum_c w_c` (C without weights).
    weights: WeightStats,
    /// `sum exp(x_j)` over the columns but the target and `h` (kept apart so `-ln p_t`,
    /// `1 - p_t` and `-ln p_h` keep their precision).
    others: LseState,
    /// `x_t`, once its chunk arrived.
    target_logit: f32,
    /// Whether `x_t`'s chunk arrived.
    target_seen: bool,
    /// With label smoothing, a class `h` of more than a quarter of the class weights, whose
    /// smoothing term `w_h (lse - x_h)` comes apart (`W (lse - m)` would multiply `ln s`'s
    /// rounding by `w_h`): kept out of the sums like the target, and its logit once its chunk
    /// arrived (unless `h` is the target).
    heavy: Option<Apart>,
    /// `sum_c w_c x_c` over the columns seen but `h` (zero-weight terms 0), against their max.
    logits: LogitSum,
    seen: usize,
    /// Whether an ignored row's log-sum-exp is computed (else it reads nothing and is 0).
    ignored_lse: bool,
}

impl<'w> CrossEntropyStream<'w> {
    /// A row of `cols` classes with class-index `target` (or the ignore index).
    pub fn new(
        kernels: Kernels,
        cols: usize,
        target: i64,
        options: &CrossEntropyOptions<'w>,
    ) -> Result<Self, Error> {
        if cols == 0 {
            return Err(Error::NoClasses);
        }
        options.check(cols)?;
        let target = options.class(0, target, cols)?;
        let (weights, heavy) = WeightStats::of(options, cols);
        Ok(Self::checked(
            kernels, *options, cols, target, weights, heavy, true,
        ))
    }

    fn checked(
        kernels: Kernels,
        options: CrossEntropyOptions<'w>,
        cols: usize,
        target: Option<usize>,
        weights: WeightStats,
        heavy: Option<Heavy>,
        ignored_lse: bool,
    ) -> Self {
        CrossEntropyStream {
            ignored_lse,
            kernels,
            heavy: Apart::of(target, &options, heavy),
            options,
            cols,
            target,
            weights,
            others: LseState::new(),
            target_logit: f32::NAN,
            target_seen: false,
            logits: LogitSum::ZERO,
            seen: 0,
        }
    }

    /// `h` when it is not the target: a column of its own.
    #[inline]
    fn apart(&self) -> Option<&Apart> {
        self.heavy.as_ref().filter(|h| Some(h.class) != self.target)
    }

    /// Takes the logits of columns `offset..offset + chunk.len()`.
    pub fn update<T: Float>(&mut self, offset: usize, chunk: &[T]) -> Result<(), Error> {
        if offset
            .checked_add(chunk.len())
            .is_none_or(|end| end > self.cols)
        {
            return Err(Error::ChunkOutOfRow {
                offset,
                len: chunk.len(),
                cols: self.cols,
            });
        }
        self.seen += chunk.len();
        let t = self.kernels.table::<T>();
        if self.target.is_none() {
            if !self.ignored_lse {
                return Ok(());
            }
            // An ignored row's loss and gradient are 0 whatever its logits (NaN included); only
            // its log-sum-exp is wanted.
            let algorithm = self.kernels.reduction_algorithm(chunk.len());
            self.others
                .add_sum(row::sum(t, chunk, algorithm), chunk.len());
            return Ok(());
        }
        let weights = self
            .options
            .class_weights
            .map(|w| &w[offset..offset + chunk.len()]);
        // The logit sum serves label smoothing only.
        let logits = match weights {
            _ if self.options.label_smoothing == 0.0 => SumOfLogits::Unused,
            Some(w) => SumOfLogits::Weighted(w),
            None => SumOfLogits::Plain,
        };
        let in_chunk = |class: usize| class.checked_sub(offset).filter(|&j| j < chunk.len());
        let skip = self.target.and_then(in_chunk);
        let skip_heavy = self.apart().and_then(|h| in_chunk(h.class));
        // The runs around the target and `h`: their terms stay out of the sum, so `1 - p_t` and
        // `-ln p_h` keep their precision.
        let runs = runs_around(chunk.len(), skip, skip_heavy).map(|r| (r.start, &chunk[r]));
        let runs = runs.into_iter().filter(|(_, run)| !run.is_empty());
        // Without smoothing only the sum is wanted: log_sum_exp's reduction (the max then the
        // sum on rows short enough to stay in cache, whose per-call cost is lower).
        let reduction = match logits {
            SumOfLogits::Unused => self.kernels.reduction_algorithm(chunk.len()),
            _ => Algorithm::TwoPass,
        };
        let (mut exp, mut weighted, mut fits) = (Ext::ZERO, LogitSum::ZERO, true);
        for (at, run) in runs.clone().filter(|_| reduction == Algorithm::TwoPass) {
            let logits = match logits {
                SumOfLogits::Weighted(w) => SumOfLogits::Weighted(&w[at..at + run.len()]),
                other => other,
            };
            let sums = (t.raddextexp_logits)(run, logits);
            // A NaN or inf run's sum does not survive adding another: each one checked.
            fits &= sums.exp.m.is_finite() && sums.exp.e.is_finite();
            exp.add(sums.exp);
            weighted.merge(&sums.logits);
        }
        if let (Some(h), Some(j)) = (self.heavy.as_mut(), skip_heavy) {
            h.logit = Some(chunk[j].to_f32());
        }
        if let Some(j) = skip {
            // Read after the passes, which bring it into cache.
            self.target_logit = chunk[j].to_f32();
            self.target_seen = true;
            let w = match logits {
                SumOfLogits::Unused => 0.0,
                SumOfLogits::Plain => 1.0,
                SumOfLogits::Weighted(w) => f64::from(w[j]),
            };
            if w > 0.0 && self.heavy.is_none_or(|h| h.class != j + offset) {
                let x_t = f64::from(self.target_logit);
                match x_t.is_finite() {
                    true => weighted.add(0.0, Some(x_t), w),
                    false => weighted.add(w * x_t, None, w),
                }
            }
        }
        if reduction != Algorithm::TwoPass {
            for (_, run) in runs {
                self.others.add_sum(row::sum(t, run, reduction), run.len());
            }
        } else if fits && exp.ln_in_range().is_some() {
            self.others.add_sum(Sum::Ext(exp), chunk.len());
        } else {
            // Beyond the extended kernel's range, NaN / inf, or nothing but the target: the
            // max-based path on the runs.
            for (_, run) in runs {
                let sum = row::sum(t, run, Algorithm::ThreePassRecompute);
                self.others.add_sum(sum, run.len());
            }
        }
        // The kernel sums in f32 blocks; logits near f32's limits can overflow those (or the
        // sum is a true infinity): then f64, term by term.
        if !weighted.sum.is_finite() {
            // Without `h`'s term, the target's too when that is `h` (found in review: it was
            // counted twice there).
            let skip = self.heavy.and_then(|h| in_chunk(h.class));
            weighted = logit_sum_f64(chunk, weights, skip);
        }
        self.logits.merge(&weighted);
        Ok(())
    }

    /// Folds in `other`, a stream of the same row (the same columns, target and options) fed
    /// other columns: each column must reach exactly one of the streams. This splits one row
    /// across threads: a stream per thread fed its chunk, the streams merged, then
    /// [`CrossEntropyStream::finish`], and each thread writes its chunk's gradient
    /// ([`CrossEntropyRow::gradient`] at the chunk's offset). Within the same bounds as one
    /// stream fed every chunk, not bitwise (the sums round in another order).
    pub fn merge(&mut self, other: &CrossEntropyStream<'_>) -> Result<(), Error> {
        let apart = |s: &CrossEntropyStream<'_>| s.heavy.map(|h| h.class);
        if other.cols != self.cols
            || other.target != self.target
            || other.options != self.options
            || apart(other) != apart(self)
        {
            return Err(Error::DifferentRows);
        }
        if self.seen + other.seen > self.cols {
            return Err(Error::ChunkOutOfRow {
                offset: self.seen,
                len: other.seen,
                cols: self.cols,
            });
        }
        self.seen += other.seen;
        self.others.merge(&other.others);
        self.logits.merge(&other.logits);
        if other.target_seen {
            self.target_logit = other.target_logit;
            self.target_seen = true;
        }
        if let (Some(h), Some(x_h)) = (self.heavy.as_mut(), other.heavy.and_then(|h| h.logit)) {
            h.logit = Some(x_h);
        }
        Ok(())
    }

    /// The row's loss and log-sum-exp, once every column was given. A row whose count of
    /// columns is full but whose target column was never given (some column came twice) is
    /// refused as unfinished too; other overlaps are the caller's to avoid.
    pub fn finish(&self) -> Result<CrossEntropyRow<'w>, Error> {
        let heavy_missing = self.apart().is_some_and(|h| h.logit.is_none());
        if self.seen != self.cols || (self.target.is_some() && !self.target_seen) || heavy_missing {
            return Err(Error::ChunkOutOfRow {
                offset: self.seen,
                len: 0,
                cols: self.cols,
            });
        }
        let Some(t) = self.target else {
            let lse = match self.ignored_lse {
                true => self.others.value_f64(),
                false => 0.0,
            };
            return Ok(CrossEntropyRow {
                kernels: self.kernels,
                options: self.options,
                cols: self.cols,
                weights: self.weights,
                target: None,
                loss: 0.0,
                lse,
                lse_split: if lse.is_finite() {
                    self.others.split()
                } else {
                    (lse, 0.0)
                },
                one_minus_p_t: 0.0,
            });
        };
        let o = &self.options;
        // `sum_{j != t} exp(x_j)`, then every term.
        let mut not_t = self.others;
        if let Some(x_h) = self.apart().and_then(|h| h.logit) {
            not_t.add_point(x_h);
        }
        let mut all = not_t;
        all.add_point(self.target_logit);
        let (lse, split) = all.value_and_split();
        let (reference, log_sum) = split;
        // sum_{j != t} p_j, from the sum that never held x_t: exact where p_t rounds to 1.
        let one_minus_p_t = not_t.ratio(&all);
        let (eps, c) = (f64::from(o.label_smoothing), self.cols as f64);
        let loss = if lse.is_nan() || lse == f64::INFINITY || lse == f64::NEG_INFINITY {
            f64::NAN // a NaN or +inf logit, or every logit -inf
        } else {
            let w_t = o.weight(t);
            let minus_ln_p_t = minus_ln_p(one_minus_p_t, f64::from(self.target_logit), split);
            let target_term = if (1.0 - eps) * w_t == 0.0 {
                0.0
            } else {
                (1.0 - eps) * w_t * minus_ln_p_t
            };
            let smooth_term = if eps == 0.0 || self.weights.sum == 0.0 {
                0.0
            } else {
                // `sum_c w_c (lse - x_c) = W (lse - m) - sum_c w_c (x_c - m)` over the classes
                // but `h`, with `m` their largest logit: both terms >= 0 (`lse = r + ln s`, `r`
                // near the max), so nothing cancels whatever offset the logits share. Never
                // negative. `h`'s term `w_h (lse - x_h)` comes apart: `lse - x_h` is small
                // where `h` holds the max, and `ln s` is only within a few f32 roundings.
                let (rest, heavy) = match self.heavy {
                    Some(h) if h.class == t => (h.rest, w_t * minus_ln_p_t),
                    Some(h) => {
                        let mut not_h = self.others;
                        not_h.add_point(self.target_logit);
                        let x_h = h.logit.map_or(f64::NAN, f64::from);
                        let minus_ln_p_h = minus_ln_p(not_h.ratio(&all), x_h, split);
                        (h.rest, o.weight(h.class) * minus_ln_p_h)
                    }
                    None => (self.weights.sum, 0.0),
                };
                let spread = match rest {
                    0.0 => 0.0,
                    _ => rest * ((reference - self.logits.max) + log_sum) - self.logits.sum,
                };
                (eps / c) * (spread.max(0.0) + heavy)
            };
            let z = f64::from(o.z_loss);
            target_term + smooth_term + if z == 0.0 { 0.0 } else { z * lse * lse }
        };
        Ok(CrossEntropyRow {
            kernels: self.kernels,
            options: self.options,
            cols: self.cols,
            weights: self.weights,
            target: Some(t),
            loss,
            lse,
            lse_split: split,
            one_minus_p_t,
        })
    }
}

/// `0..n` without the columns `a` and `b`: three runs, some empty.
#[inline]
fn runs_around(n: usize, a: Option<usize>, b: Option<usize>) -> [std::ops::Range<usize>; 3] {
    let (a, b) = (a.unwrap_or(n), b.unwrap_or(n));
    let (lo, hi) = (a.min(b), a.max(b));
    let after = |j: usize| (j + 1).min(n);
    [0..lo, after(lo)..hi.max(after(lo)), after(hi)..n]
}

/// `-ln p_c = lse - x_c` to relative precision, from `q = 1 - p_c` (the other terms' sum over
/// every term's) and `lse = r + ln s`: `-ln(1 - q)` while `q <= 1/2`, else `(r - x_c) + ln s`
/// (then at least `ln 2`, so its rounding is relative). Below 2^-30, `q` itself (within
/// relative 2^-31): `ln_1p` would square it, an f64 underflow from `q` < 2^-511 on.
fn minus_ln_p(q: f64, x_c: f64, (r, ln_s): (f64, f64)) -> f64 {
    if q < TINY_Q {
        q
    } else if q <= 0.5 {
        -(-q).ln_1p()
    } else {
        (r - x_c) + ln_s
    }
}

/// 2^-30.
const TINY_Q: f64 = 1.0 / (1u64 << 30) as f64;

/// The heavy class of a row with label smoothing (see [`CrossEntropyStream::heavy`]).
#[derive(Clone, Copy, Debug)]
struct Apart {
    class: usize,
    /// `sum_{c != h} w_c`, as [`Heavy::rest`].
    rest: f64,
    /// Its logit, once its chunk arrived.
    logit: Option<f32>,
}

impl Apart {
    /// The heavy class of a valid row with label smoothing.
    fn of(target: Option<usize>, o: &CrossEntropyOptions<'_>, h: Option<Heavy>) -> Option<Apart> {
        let h = h.filter(|_| target.is_some() && o.label_smoothing != 0.0)?;
        Some(Apart {
            class: h.class,
            rest: h.rest,
            logit: None,
        })
    }
}

/// The [`LogitSum`] of `x` in f64, term by term (`w_i = 1` without weights; zero-weight terms
/// and column `skip` 0), for the rare chunk whose f32 block sums overflow.
fn logit_sum_f64<T: Float>(x: &[T], weights: Option<&[f32]>, skip: Option<usize>) -> LogitSum {
    let w = |i: usize| match Some(i) == skip {
        true => 0.0,
        false => f64::from(weights.map_or(1.0, |w| w[i])),
    };
    let finite = x
        .iter()
        .map(|v| f64::from(v.to_f32()))
        .filter(|v| v.is_finite());
    let max = finite.fold(f64::NEG_INFINITY, f64::max);
    let mut sum = LogitSum::ZERO;
    for (i, v) in x.iter().enumerate().filter(|&(i, _)| w(i) != 0.0) {
        let v = f64::from(v.to_f32());
        match v.is_finite() {
            true => sum.add(w(i) * (v - max), Some(max), w(i)),
            false => sum.add(w(i) * v, None, w(i)),
        }
    }
    sum
}

/// The class weights' statistics, computed once per call or stream.
#[derive(Clone, Copy, Debug)]
struct WeightStats {
    /// `W = sum_c w_c` (C without weights).
    sum: f64,
    /// `max_c w_c` (1 without weights).
    max: f64,
}

/// The first class of the largest weight, `h`, when that weight is more than `W / 4`. Another
/// class `c` then carries at most `W - w_h`, and the loss is at least `(eps / C) ln 2 (W - w_d)`
/// (`d` the class with `p_d > 1/2`, if any), so `ln s`'s rounding times `sum_{c != h} w_c` stays
/// relative to the loss: docs/accuracy.md. (Without a heavy class, `W - w_d >= 3 W / 4`.)
#[derive(Clone, Copy, Debug)]
struct Heavy {
    class: usize,
    /// `sum_{c != h} w_c`, summed: `W - w_h` loses it under a huge `w_h`.
    rest: f64,
}

impl WeightStats {
    /// The statistics of `o`'s class weights for `cols` classes, and their heavy class.
    fn of(o: &CrossEntropyOptions<'_>, cols: usize) -> (WeightStats, Option<Heavy>) {
        let Some(w) = o.class_weights else {
            let stats = WeightStats {
                sum: cols as f64,
                max: 1.0,
            };
            return (stats, None);
        };
        let (sum, max) = (sum_f64(w), max_f32(w));
        let heavy = w
            .iter()
            .position(|&v| v == max)
            .filter(|_| f64::from(max) > sum / 4.0)
            .map(|h| Heavy {
                class: h,
                rest: sum_f64(&w[..h]) + sum_f64(&w[h + 1..]),
            });
        let stats = WeightStats {
            sum,
            max: f64::from(max),
        };
        (stats, heavy)
    }
}

/// `sum_i v_i` in f64, in eight partial sums (vectorised).
fn sum_f64(v: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f64::from(x);
        }
    }
    acc.iter().sum::<f64>() + tail.iter().map(|&x| f64::from(x)).sum::<f64>()
}

/// `max_i v_i` of finite values `>= 0` (0 when empty), in eight partial maxima (vectorised).
fn max_f32(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = a.max(x);
        }
    }
    acc.iter().chain(tail).fold(0.0, |a, &x| a.max(x))
}

/// A finished row: its loss and log-sum-exp, and the gradient chunk by chunk.
#[derive(Clone, Copy, Debug)]
pub struct CrossEntropyRow<'w> {
    kernels: Kernels,
    options: CrossEntropyOptions<'w>,
    cols: usize,
    target: Option<usize>,
    weights: WeightStats,
    loss: f64,
    lse: f64,
    /// `(r, ln s)` with `lse = r + ln s`, `r` near the max: `p_j = exp((x_j - r) - ln s)`.
    lse_split: (f64, f64),
    one_minus_p_t: f64,
}

impl CrossEntropyRow<'_> {
    /// The unreduced loss (0 for an ignored row; NaN with a NaN or `+inf` logit or when every
    /// logit is `-inf`; `+inf` when a `-inf` logit has a nonzero coefficient).
    pub fn loss(&self) -> f32 {
        // docs/accuracy.md's bound is at least 4e-6 T, and T at least the sum of the loss's
        // coefficients.
        let o = &self.options;
        let eps = f64::from(o.label_smoothing);
        let w_t = self.target.map_or(0.0, |t| o.weight(t));
        let coefficients = (1.0 - eps) * w_t + eps / self.cols as f64 * self.weights.sum;
        narrow_within(self.loss, 4e-6 * coefficients)
    }

    /// The row's log-sum-exp (of an ignored row too, from a stream).
    pub fn lse(&self) -> f32 {
        narrow(self.lse)
    }

    /// [`CrossEntropyRow::loss`] before rounding to f32.
    pub(crate) fn loss_f64(&self) -> f64 {
        self.loss
    }

    /// [`CrossEntropyRow::gradient_in_place`] with an f64 scale (checked chunk).
    pub(crate) fn gradient_with(&self, offset: usize, chunk: &mut [f32], k: f64) {
        self.write_gradient(offset, Io::InPlace(chunk), k);
    }

    /// Whether the row counts (its target is not the ignore index).
    pub fn is_valid(&self) -> bool {
        self.target.is_some()
    }

    /// Writes `grad = k * d loss / d logits` for columns `offset..offset + chunk.len()` of the
    /// row (`chunk` holds those logits; `k` is the caller's scale: the upstream gradient, divided
    /// by the mean's denominator for a mean).
    pub fn gradient<T: Float>(
        &self,
        offset: usize,
        chunk: &[T],
        grad: &mut [T],
        k: f32,
    ) -> Result<(), Error> {
        if chunk.len() != grad.len() {
            return Err(Error::LengthMismatch {
                input: chunk.len(),
                output: grad.len(),
            });
        }
        self.check_chunk(offset, chunk.len())?;
        self.write_gradient(offset, Io::Split(chunk, grad), f64::from(k));
        Ok(())
    }

    /// [`CrossEntropyRow::gradient`] written over the logits.
    pub fn gradient_in_place<T: Float>(
        &self,
        offset: usize,
        chunk: &mut [T],
        k: f32,
    ) -> Result<(), Error> {
        self.check_chunk(offset, chunk.len())?;
        self.write_gradient(offset, Io::InPlace(chunk), f64::from(k));
        Ok(())
    }

    /// Writes the row's log-softmax, `(x - hi) - lo` for its log-sum-exp split as
    /// `hi + lo` (`hi` an f32 value: exact near the max), NaN for a row whose log-sum-exp is not
    /// finite.
    fn write_log_prob<T: Float>(&self, x: &[T], y: &mut [T]) {
        if !self.lse.is_finite() {
            y.fill(T::from_f32(f32::NAN));
            return;
        }
        let (hi, lo) = self.lse_split;
        let store = self.kernels.crossover().store_for(x.len());
        (self.kernels.table::<T>().vsubtract)(Io::Split(x, y), (hi as f32, narrow(lo)), store);
    }

    fn check_chunk(&self, offset: usize, len: usize) -> Result<(), Error> {
        match offset.checked_add(len) {
            Some(end) if end <= self.cols => Ok(()),
            _ => Err(Error::ChunkOutOfRow {
                offset,
                len,
                cols: self.cols,
            }),
        }
    }

    /// `g_j = k * (A * p_j - B_j)` with `A = (1 - eps) w_t + (eps / C) W + 2 z lse` and
    /// `B_j = (eps / C) w_j + (1 - eps) w_t [j == t]`; the target entry is rewritten from
    /// `1 - p_t` so it keeps its precision when `p_t` is near 1.
    fn write_gradient<T: Float>(&self, offset: usize, mut io: Io<'_, T>, k: f64) {
        let n = io.input().len();
        let Some(t) = self.target else {
            io.output().fill(T::from_f32(0.0));
            return;
        };
        if !self.lse.is_finite() {
            io.output().fill(T::from_f32(f32::NAN)); // softmax of such a row is NaN
            return;
        }
        let o = &self.options;
        let (eps, c) = (f64::from(o.label_smoothing), self.cols as f64);
        let (w_t, z) = (o.weight(t), f64::from(o.z_loss));
        let big_w = self.weights.sum;
        let a_coef = (1.0 - eps) * w_t + (eps / c) * big_w + 2.0 * z * self.lse;
        let target_in_chunk = t.checked_sub(offset).filter(|&j| j < n);
        let x_t = target_in_chunk.map(|j| io.input()[j].to_f32());
        let (reference, log_sum) = self.lse_split;
        let a = reference as f32;
        let coefficients = GradCoefficients {
            a,
            scale: (k * a_coef * ((f64::from(a) - reference) - log_sum).exp()) as f32,
            bias: (k * eps / c) as f32,
        };
        let weights = o.class_weights.map(|w| &w[offset..offset + n]);
        // f32 keeps full precision only for normal coefficients (or 0), and the kernel's exp
        // term is 0 below `2^-126 (1 + 2^-10)` (it computes no subnormal): fine while that stays
        // inside docs/accuracy.md's absolute allowance `2e-7 |k| w_max` (a tiny upstream gradient
        // or all-zero weights break that).
        if coefficients.fit_the_pass()
            && GradCoefficients::FLUSH_ERROR <= 2e-7 * k.abs() * self.weights.max
        {
            let store = self.kernels.crossover().store_for(n);
            (self.kernels.table::<T>().vgradce)(io.reborrow(), weights, coefficients, store);
        } else {
            // A coefficient overflows f32 (a huge upstream gradient over a tiny mean
            // denominator) or comes near it, is subnormal (tiny class weights), or the flush
            // would cost more than the contract allows: each product from f64, rounded to f32
            // within the absolute allowance (0 rather than subnormal where it covers that;
            // found in review: a weight of 3e38 made entries of 4e-49).
            let allowance = 2e-7 * k.abs() * self.weights.max;
            for j in 0..n {
                let p = exp_or_zero((f64::from(io.input()[j].to_f32()) - reference) - log_sum);
                let w = weights.map_or(1.0, |w| f64::from(w[j]));
                let g = k * (a_coef * p - eps / c * w);
                io.output()[j] = T::from_f32(narrow_within(g, allowance));
            }
        }
        if let (Some(j), Some(x_t)) = (target_in_chunk, x_t) {
            let p_t = exp_or_zero((f64::from(x_t) - reference) - log_sum);
            let g = (1.0 - eps) * w_t * -self.one_minus_p_t
                + (eps / c) * (big_w * p_t - w_t)
                + 2.0 * z * self.lse * p_t;
            // The f32 gradient, rounded once to the output type. docs/accuracy.md holds `p_t - 1` to
            // relative precision while `1 - p_t >= 1e-30`, so only below that may a tiny value
            // (a tiny target weight's) become 0.
            let allowance = if self.one_minus_p_t >= 1e-30 {
                0.0
            } else {
                2e-7 * k.abs() * self.weights.max
            };
            io.output()[j] = T::from_f32(narrow_within(k * g, allowance));
        }
    }
}

/// What every row of a call shares: the options, the mean's denominator, the class weights'
/// statistics, the upstream gradient and which log-sum-exps are wanted.
pub(crate) struct Call<'a, 'w> {
    options: &'a CrossEntropyOptions<'w>,
    cols: usize,
    /// The mean's denominator `D`: the valid rows' target weights.
    total: f64,
    weights: WeightStats,
    heavy: Option<Heavy>,
    grad_output: Option<&'a [f32]>,
    /// Whether ignored rows are read (an output needs their log-sum-exp).
    ignored_lse: bool,
    /// Whether `row_lse` holds ignored rows' log-sum-exps.
    ignored_row_lse: bool,
}

impl<'a, 'w> Call<'a, 'w> {
    /// The shared part of a checked call on `targets.len()` rows of `cols` classes.
    pub(crate) fn new<T>(
        options: &'a CrossEntropyOptions<'w>,
        cols: usize,
        targets: &[i64],
        out: &CrossEntropyOutputs<'a, T>,
    ) -> Self {
        let total = targets
            .iter()
            .filter_map(|&t| class_of(options, t, cols))
            .map(|t| options.weight(t))
            .sum();
        let (weights, heavy) = WeightStats::of(options, cols);
        Call {
            options,
            cols,
            total,
            weights,
            heavy,
            grad_output: out.grad_output,
            ignored_lse: out.log_prob.is_some() || (out.ignored_row_lse && out.row_lse.is_some()),
            ignored_row_lse: out.ignored_row_lse,
        }
    }

    /// A stream of one row of the call with class-index `target` (checked).
    pub(crate) fn stream(&self, k: Kernels, target: i64) -> CrossEntropyStream<'w> {
        let class = class_of(self.options, target, self.cols);
        CrossEntropyStream::checked(
            k,
            *self.options,
            self.cols,
            class,
            self.weights,
            self.heavy,
            self.ignored_lse,
        )
    }

    /// The finished row of the call with class-index `target` (checked) and logits `x`.
    fn row<T: Float>(&self, k: Kernels, target: i64, x: &[T]) -> CrossEntropyRow<'w> {
        let mut stream = self.stream(k, target);
        stream
            .update(0, x)
            .expect("the row is the stream's whole width");
        stream.finish().expect("every column was given")
    }

    /// Writes row `r`'s loss and log-sum-exp into the outputs asked for (an ignored row's
    /// log-sum-exp as 0 unless the call wants it).
    pub(crate) fn write_row(
        &self,
        row: &CrossEntropyRow<'_>,
        r: usize,
        losses: Option<&mut [f32]>,
        lse: Option<&mut [f32]>,
    ) {
        if let Some(l) = losses {
            l[r] = row.loss();
        }
        if let Some(l) = lse {
            l[r] = if self.ignored_row_lse || row.is_valid() {
                row.lse()
            } else {
                0.0
            };
        }
    }

    /// Row `r`'s gradient scale `k_r`: `g / D` (mean), `g` (sum), `g[r]` (none).
    pub(crate) fn scale(&self, r: usize) -> f64 {
        let g = self
            .grad_output
            .map_or(1.0, |g| match self.options.reduction {
                Reduction::None => g[r],
                _ => g[0],
            });
        match self.options.reduction {
            Reduction::Mean if self.total == 0.0 => 0.0,
            Reduction::Mean => f64::from(g) / self.total,
            _ => f64::from(g),
        }
    }

    /// The reduced loss from the sum of the row losses.
    pub(crate) fn loss(&self, sum: f64) -> f32 {
        match self.options.reduction {
            Reduction::Mean if self.total == 0.0 => f32::NAN,
            Reduction::Mean => narrow(sum / self.total),
            _ => narrow(sum),
        }
    }

    /// Loss pass then gradient pass, row by row (the row is still in cache for the second),
    /// over a block of rows with row stride `stride`; the sum of their losses.
    pub(crate) fn rows<T: Float>(&self, k: &Kernels, stride: usize, block: RowBlock<'_, T>) -> f64 {
        let RowBlock {
            first,
            mut logits,
            targets,
            mut row_losses,
            mut row_lse,
            mut log_prob,
        } = block;
        let cols = self.cols;
        let mut sum = 0.0;
        for (r, &target) in targets.iter().enumerate() {
            let at = r * stride;
            // The log-probabilities come before the gradient, which may overwrite the logits.
            let mut log_prob_of = |row: &CrossEntropyRow<'_>, x: &[T]| {
                if let Some((y, s)) = log_prob.as_mut() {
                    row.write_log_prob(x, &mut y[r * *s..][..cols]);
                }
            };
            let (row, io) = match &mut logits {
                Logits::Separate(x, grad) => {
                    let x = &x[at..][..cols];
                    let row = self.row(*k, target, x);
                    log_prob_of(&row, x);
                    let io = grad
                        .as_mut()
                        .map(|(g, s)| Io::Split(x, &mut g[r * *s..][..cols]));
                    (row, io)
                }
                Logits::InPlace(x) => {
                    let x = &mut x[at..][..cols];
                    let row = self.row(*k, target, &*x);
                    log_prob_of(&row, x);
                    (row, Some(Io::InPlace(x)))
                }
            };
            sum += row.loss;
            self.write_row(&row, r, row_losses.as_deref_mut(), row_lse.as_deref_mut());
            if let Some(io) = io {
                row.write_gradient(0, io, self.scale(first + r));
            }
        }
        sum
    }
}

/// Rows whose losses are summed together, about [`ROW_BLOCK`] elements: the loss is the sum of
/// the blocks' sums in order, so a call split by rows across threads gives the same bits.
pub(crate) const ROW_BLOCK: usize = 1 << 18;

/// A block of a call's rows: the logits, targets and outputs from its first row on.
pub(crate) struct RowBlock<'a, T> {
    /// The call's index of the block's first row.
    first: usize,
    logits: Logits<'a, T>,
    targets: &'a [i64],
    row_losses: Option<&'a mut [f32]>,
    row_lse: Option<&'a mut [f32]>,
    log_prob: Option<(&'a mut [T], usize)>,
}

/// The rows of a checked call in blocks of about [`ROW_BLOCK`] elements.
pub(crate) fn row_blocks<'a, T: Float>(
    logits: Logits<'a, T>,
    shape: Shape,
    targets: &'a [i64],
    out: CrossEntropyOutputs<'a, T>,
) -> impl Iterator<Item = RowBlock<'a, T>> + 'a {
    let per = (ROW_BLOCK / shape.cols.max(1)).clamp(1, shape.rows.max(1));
    // Spans of `per` rows of a matrix with row stride `s` (the last may be shorter); an absent
    // buffer gives None for every block.
    fn spans<U>(
        buf: Option<(&mut [U], usize)>,
        per: usize,
    ) -> impl Iterator<Item = Option<(&mut [U], usize)>> {
        let mut chunks = buf.map(|(b, s)| (b.chunks_mut(per.saturating_mul(s).max(1)), s));
        std::iter::from_fn(move || {
            Some(chunks.as_mut().and_then(|(c, s)| c.next().map(|b| (b, *s))))
        })
    }
    let span = per.saturating_mul(shape.stride).max(1);
    let (mut separate, mut in_place) = match logits {
        Logits::Separate(x, g) => (Some((x.chunks(span), spans(g, per))), None),
        Logits::InPlace(x) => (None, Some(x.chunks_mut(span))),
    };
    let logits = std::iter::from_fn(move || match (&mut separate, &mut in_place) {
        (Some((x, g)), _) => x.next().map(|x| Logits::Separate(x, g.next().flatten())),
        (_, Some(x)) => x.next().map(Logits::InPlace),
        _ => None,
    });
    let row = |v: Option<&'a mut [f32]>| spans(v.map(|v| (v, 1)), per).map(|s| s.map(|(v, _)| v));
    targets
        .chunks(per)
        .zip(logits)
        .zip(row(out.row_losses).zip(row(out.row_lse)))
        .zip(spans(out.log_prob, per))
        .enumerate()
        .map(
            move |(b, (((targets, logits), (row_losses, row_lse)), log_prob))| RowBlock {
                first: b * per,
                logits,
                targets,
                row_losses,
                row_lse,
                log_prob,
            },
        )
}

/// A checked call on `shape.rows` rows, block by block.
pub(crate) fn run<T: Float>(
    k: &Kernels,
    logits: Logits<'_, T>,
    shape: Shape,
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: CrossEntropyOutputs<'_, T>,
) -> f32 {
    let call = Call::new(options, shape.cols, targets, &out);
    let sum = row_blocks(logits, shape, targets, out)
        .map(|b| call.rows(k, shape.stride, b))
        .fold(0.0, |a, s| a + s);
    call.loss(sum)
}

/// What [`run_axis`] does to a gathered chunk of a row: `(first class, logits, outputs)`.
type ChunkPass<'a, T> = &'a dyn Fn(usize, &[T], &mut [T]);

/// Classes gathered per chunk by [`run_axis`] (on the stack: no allocation).
const AXIS_CHUNK: usize = 256;

/// [`run`] for logits of shape `(outer, cols, inner)` (classes on the middle axis, ONNX's
/// `(N, C, d1, ...)` with `inner = d1 * ...`): row `(n, d)` is `x[(n * cols + c) * inner + d]`,
/// its target `targets[n * inner + d]`, its outputs at `n * inner + d`, its gradient and
/// log-probabilities in the logits' layout. Each row's classes are gathered [`AXIS_CHUNK`] at a
/// time into a stack buffer and streamed ([`CrossEntropyStream`] takes chunks), so every
/// semantic of the rows path holds; the log-probabilities and the gradient are scattered back
/// chunk by chunk (the gradient last: it may overwrite the logits).
pub(crate) fn run_axis<T: Float>(
    k: &Kernels,
    logits: Logits<'_, T>,
    (outer, cols, inner): (usize, usize, usize),
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: CrossEntropyOutputs<'_, T>,
) -> f32 {
    if inner == 1 {
        // Packed rows: the rows path, with the row strides the layout implies.
        let out = CrossEntropyOutputs {
            log_prob: out.log_prob.map(|(y, _)| (y, cols)),
            ..out
        };
        let logits = match logits {
            Logits::Separate(x, g) => Logits::Separate(x, g.map(|(g, _)| (g, cols))),
            in_place => in_place,
        };
        return run(k, logits, Shape::new(outer, cols), targets, options, out);
    }
    let call = Call::new(options, cols, targets, &out);
    let CrossEntropyOutputs {
        mut row_losses,
        mut row_lse,
        mut log_prob,
        ..
    } = out;
    let zero = T::from_f32(0.0);
    let (mut buf, mut res) = ([zero; AXIS_CHUNK], [zero; AXIS_CHUNK]);
    let (x, mut grad) = match logits {
        Logits::Separate(x, g) => (Some(x), g.map(|(g, _)| g)),
        Logits::InPlace(xy) => (None, Some(xy)),
    };
    let mut sum = 0.0;
    for (r, &target) in targets.iter().enumerate() {
        let (n, d) = (r / inner, r % inner);
        let at = |c: usize| (n * cols + c) * inner + d;
        let chunks = (0..cols)
            .step_by(AXIS_CHUNK)
            .map(|c0| (c0, (cols - c0).min(AXIS_CHUNK)));
        let mut stream = call.stream(*k, target);
        let logits = x.or(grad.as_deref()).expect("logits are given");
        for (c0, len) in chunks.clone() {
            for (i, b) in buf[..len].iter_mut().enumerate() {
                *b = logits[at(c0 + i)];
            }
            stream
                .update(c0, &buf[..len])
                .expect("the chunks cover the row once");
        }
        let row = stream.finish().expect("every column was given");
        sum += row.loss;
        call.write_row(&row, r, row_losses.as_deref_mut(), row_lse.as_deref_mut());
        // Each chunk gathered from `src` (`dst` itself when None: in place), passed through
        // `f` and scattered into `dst`; log_prob first, the gradient last (it may overwrite
        // the logits).
        let mut through = |src: Option<&[T]>, dst: &mut [T], f: ChunkPass<'_, T>| {
            for (c0, len) in chunks.clone() {
                let src = src.unwrap_or(dst);
                for (i, b) in buf[..len].iter_mut().enumerate() {
                    *b = src[at(c0 + i)];
                }
                f(c0, &buf[..len], &mut res[..len]);
                for (i, v) in res[..len].iter().enumerate() {
                    dst[at(c0 + i)] = *v;
                }
            }
        };
        if let Some((y, _)) = log_prob.as_mut() {
            let src = x.or(grad.as_deref());
            through(src, y, &|_, x, y| row.write_log_prob(x, y));
        }
        if let Some(g) = grad.as_deref_mut() {
            let k_r = call.scale(r);
            through(x, g, &|c0, x, y| {
                row.write_gradient(c0, Io::Split(x, y), k_r)
            });
        }
    }
    call.loss(sum)
}

/// Validates a cross-entropy call: shapes, then lengths and options, then targets.
pub(crate) fn check<T>(
    len: usize,
    shape: Shape,
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: &CrossEntropyOutputs<'_, T>,
) -> Result<(), Error> {
    let Shape { rows, cols, stride } = shape;
    if rows > 0 && cols == 0 {
        return Err(Error::NoClasses);
    }
    check_matrix("logits", len, stride, rows, cols)?;
    if let Some((y, s)) = &out.log_prob {
        check_matrix("log_prob", y.len(), *s, rows, cols)?;
    }
    check_rows(rows, cols, targets, options, out)
}

/// The checks of both layouts after the logits': the lengths of the targets, row outputs and
/// upstream gradient for `rows` rows, then the options, then the targets.
pub(crate) fn check_rows<T>(
    rows: usize,
    cols: usize,
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: &CrossEntropyOutputs<'_, T>,
) -> Result<(), Error> {
    let lengths = [
        ("targets", Some(targets.len()), rows),
        ("row_losses", out.row_losses.as_ref().map(|v| v.len()), rows),
        ("row_lse", out.row_lse.as_ref().map(|v| v.len()), rows),
        (
            "grad_output",
            out.grad_output.map(<[f32]>::len),
            if options.reduction == Reduction::None {
                rows
            } else {
                1
            },
        ),
    ];
    crate::error::check_lengths(&lengths)?;
    options.check(cols)?;
    for (r, &t) in targets.iter().enumerate() {
        options.class(r, t, cols)?;
    }
    Ok(())
}

/// Validates a cross-entropy call on `(outer, cols, inner)` logits ([`run_axis`]): lengths,
/// then options, then targets; the gradient's length is the caller's to check.
pub(crate) fn check_axis<T>(
    len: usize,
    (outer, cols, inner): (usize, usize, usize),
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: &CrossEntropyOutputs<'_, T>,
) -> Result<(), Error> {
    let rows = outer.checked_mul(inner).ok_or(Error::ShapeOverflow)?;
    if rows > 0 && cols == 0 {
        return Err(Error::NoClasses);
    }
    crate::error::check_axis("logits", len, (outer, cols, inner))?;
    if let Some((y, _)) = &out.log_prob {
        crate::error::check_axis("log_prob", y.len(), (outer, cols, inner))?;
    }
    check_rows(rows, cols, targets, options, out)
}

/// The class of a target already checked.
fn class_of(options: &CrossEntropyOptions<'_>, target: i64, cols: usize) -> Option<usize> {
    options
        .class(0, target, cols)
        .expect("targets are checked first")
}

/// The logits, and where the gradient goes.
pub(crate) enum Logits<'a, T> {
    /// Read-only logits, and a gradient buffer with its row stride when asked for.
    Separate(&'a [T], Option<(&'a mut [T], usize)>),
    /// The gradient is written over the logits.
    InPlace(&'a mut [T]),
}
