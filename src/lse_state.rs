//! [`LseState`]: log-sum-exp of a row that arrives in chunks, or of shards merged later.

use twopass_kernels::exp_or_zero;

use crate::sum::{Special, Sum};
use crate::{Error, Kernels};

/// A streaming log-sum-exp accumulator: `value() = ln(sum exp(x))` over every element given to
/// [`LseState::update`] and every state given to [`LseState::merge`], in any order (equal to
/// the one-shot value within docs/accuracy.md's bound; not bitwise).
///
/// Layout (`#[repr(C)]`, 32 bytes, native endianness; the same on every ISA):
///
/// | offset | field | meaning |
/// |---|---|---|
/// | 0 | `reference: f64` | a reference point `r` in natural-log units (the chunks' max, or their extended exponent times ln 2) |
/// | 8 | `sum: f64` | `s` with `sum exp(x) = s * e^r`; 0 when nothing finite was seen |
/// | 16 | `count: u64` | elements seen |
/// | 24 | `flags: u64` | bit 0: a NaN was seen; bit 1: `+inf` was seen; other bits 0 |
///
/// `r` moves only to a larger chunk reference and `s` is rescaled by `exp(r_old - r_new)` in
/// f64 (error ~1e-16 per move), so 2^26 one-element updates stay far inside the bound, and `r`
/// has the range of any f32 input (up to +-3.4e38).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LseState {
    reference: f64,
    sum: f64,
    count: u64,
    flags: u64,
}

const NAN_SEEN: u64 = 1;
const POS_INF_SEEN: u64 = 2;

impl LseState {
    /// The empty state (`value()` is `-inf`).
    pub const fn new() -> LseState {
        LseState {
            reference: 0.0,
            sum: 0.0,
            count: 0,
            flags: 0,
        }
    }

    /// Folds the chunk `x` in, with the process-wide kernels.
    ///
    /// # Panics
    /// As [`Kernels::active`].
    pub fn update<T: crate::Float>(&mut self, x: &[T]) {
        self.update_with(Kernels::active_ref(), x);
    }

    /// Folds the chunk `x` in, with the kernels `k` ([`Kernels::lse_update`]).
    pub(crate) fn update_with<T: crate::Float>(&mut self, k: &Kernels, x: &[T]) {
        if !x.is_empty() {
            let sum = crate::row::sum(k.table(), x, k.reduction_algorithm(x.len()));
            self.add_sum(sum, x.len());
        }
    }

    /// Softmax of the chunk `x` of the row this state covers, from the whole row's log-sum-exp:
    /// the last step of a row split across threads, with the process-wide kernels (see
    /// [`Kernels::lse_update`] for the three steps, [`Kernels::softmax_finish`] for the rest).
    pub fn softmax_finish<T: crate::Float>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        Kernels::active_ref().softmax_finish(self, x, y)
    }

    /// Log-softmax of the chunk `x` of the row this state covers, as
    /// [`LseState::softmax_finish`] ([`Kernels::log_softmax_finish`]).
    pub fn log_softmax_finish<T: crate::Float>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        Kernels::active_ref().log_softmax_finish(self, x, y)
    }

    /// Folds another state in (the union of both inputs).
    pub fn merge(&mut self, other: &LseState) {
        self.flags |= other.flags;
        self.count = self.count.saturating_add(other.count);
        self.add(other.reference, other.sum);
    }

    /// `ln(sum exp(x))` over everything seen: NaN if a NaN was seen, else `+inf` if `+inf` was,
    /// else `-inf` when nothing finite was seen.
    pub fn value(&self) -> f32 {
        crate::sum::narrow(self.value_f64())
    }

    /// [`LseState::value`] before rounding to f32.
    pub fn value_f64(&self) -> f64 {
        self.value_with(|| self.sum.ln())
    }

    /// [`LseState::value_f64`] with `ln s` from `log_sum`, called when needed.
    fn value_with(&self, log_sum: impl FnOnce() -> f64) -> f64 {
        if self.flags & NAN_SEEN != 0 {
            f64::NAN
        } else if self.flags & POS_INF_SEEN != 0 {
            f64::INFINITY
        } else if self.sum == 0.0 {
            f64::NEG_INFINITY
        } else {
            self.reference + log_sum()
        }
    }

    /// [`LseState::value_f64`] and [`LseState::split`], from one logarithm.
    pub(crate) fn value_and_split(&self) -> (f64, (f64, f64)) {
        let log_sum = self.sum.ln();
        (self.value_with(|| log_sum), self.split_from(log_sum))
    }

    /// `(hi, lo)` with `hi + lo` the finite log-sum-exp, `hi` an f32 value at (or next to) it
    /// and `lo` the rest, kept apart: at |x| near 3e38 adding `ln s` to `r` is lost even in
    /// f64, and the reference `r` itself may lie far below the max (the extended sum moves it
    /// lazily), so `exp(x - lse)` is `exp((x - hi) - lo)` with `x - hi` exact near the max.
    pub(crate) fn split(&self) -> (f64, f64) {
        self.split_from(self.sum.ln())
    }

    /// [`LseState::split`] with `ln s` given.
    fn split_from(&self, log_sum: f64) -> (f64, f64) {
        let hi = f64::from((self.reference + log_sum) as f32);
        (hi, (self.reference - hi) + log_sum)
    }

    /// [`LseState::split`] when the log-sum-exp is finite (no NaN or `+inf` seen, and some
    /// finite element); `None` for a special row.
    pub(crate) fn finite_split(&self) -> Option<(f64, f64)> {
        (self.flags == 0 && self.sum > 0.0).then(|| self.split())
    }

    /// `sum(self) / sum(total)` (0 when `self` holds nothing finite), without forming either
    /// log-sum-exp: exact where one is `e^1e30` and the other a little larger.
    pub(crate) fn ratio(&self, total: &LseState) -> f64 {
        if self.sum == 0.0 {
            0.0
        } else {
            // The sums lie within [2^-252, 2^200] (one ln: the quotient is normal).
            exp_or_zero((self.reference - total.reference) + (self.sum / total.sum).ln())
        }
    }

    /// The state's four words: the layout above, each field's bits.
    #[cfg(feature = "capi")]
    pub(crate) fn to_words(self) -> [u64; 4] {
        [
            self.reference.to_bits(),
            self.sum.to_bits(),
            self.count,
            self.flags,
        ]
    }

    /// The state of [`LseState::to_words`] (any bits are a state).
    #[cfg(feature = "capi")]
    pub(crate) fn from_words(w: [u64; 4]) -> LseState {
        LseState {
            reference: f64::from_bits(w[0]),
            sum: f64::from_bits(w[1]),
            count: w[2],
            flags: w[3],
        }
    }

    /// How many elements were folded in (at most `u64::MAX`: the count saturates, as it may
    /// when a state is merged into itself or comes from a caller's bytes).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Folds one element in (`exp(x)`), without a kernel.
    pub(crate) fn add_point(&mut self, x: f32) {
        self.count = self.count.saturating_add(1);
        if x.is_nan() {
            self.flags |= NAN_SEEN;
        } else if x == f32::INFINITY {
            self.flags |= POS_INF_SEEN;
        } else if x != f32::NEG_INFINITY {
            self.add(f64::from(x), 1.0);
        }
    }

    pub(crate) fn add_sum(&mut self, sum: Sum, n: usize) {
        self.count = self.count.saturating_add(n as u64);
        match sum {
            Sum::Ext(e) => self.add(e.e * std::f64::consts::LN_2, e.m),
            Sum::MaxSum(s) => self.add(f64::from(s.max), s.sum),
            Sum::Special(Special::Nan) => self.flags |= NAN_SEEN,
            Sum::Special(Special::PosInf) => self.flags |= POS_INF_SEEN,
            Sum::Special(Special::NegInf) => {}
        }
    }

    /// `s_self * e^r_self += sum * e^reference`.
    fn add(&mut self, reference: f64, sum: f64) {
        if sum == 0.0 {
            return;
        }
        if self.sum == 0.0 {
            (self.reference, self.sum) = (reference, sum);
            return;
        }
        // One exp: the side at the new reference keeps its factor, 1.
        let r = self.reference.max(reference);
        if r == self.reference {
            self.sum += sum * exp_or_zero(reference - r);
        } else {
            self.sum = self.sum * exp_or_zero(self.reference - r) + sum;
            self.reference = r;
        }
    }
}
