//! A row's `sum_i exp(x_i)` in the forms the reductions give, the special rows, and the
//! rounding of per-row results to f32.

use twopass_kernels::{Element, Ext, MaxSum};

/// `v` rounded to f32, 0 (of `v`'s sign) where `|v|` lies below f32's normal range: results
/// are never subnormal, so no caller pays for one (a microcode assist per subnormal operand on
/// Intel CPUs), and docs/accuracy.md's bounds allow far more than 2^-126 wherever this rounds.
pub(crate) fn narrow(v: f64) -> f32 {
    // The flush on the bits, then one conversion: with a conversion in each branch the compiler
    // converted `v` anyway and selected (an f64 loss of 7e-44 raised UE).
    let keep = match v.abs() < f64::from(f32::MIN_POSITIVE) {
        true => 1u64 << 63, // the sign
        false => u64::MAX,
    };
    f64::from_bits(v.to_bits() & keep) as f32
}

/// [`narrow`] where `allowance`, the absolute error the result is held to, covers f32's
/// normal range; `v` rounded to f32 (subnormal if need be) where it does not (subnormal inputs,
/// such as class weights, make results that must stay subnormal).
pub(crate) fn narrow_within(v: f64, allowance: f64) -> f32 {
    if allowance >= f64::from(f32::MIN_POSITIVE) {
        narrow(v)
    } else {
        v as f32
    }
}

/// What makes a row's result non-finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    /// A NaN: every output NaN, log-sum-exp NaN.
    Nan,
    /// `+inf` and no NaN: outputs NaN, log-sum-exp `+inf`.
    PosInf,
    /// Only `-inf` (or empty): outputs NaN, log-sum-exp `-inf`.
    NegInf,
}

impl Special {
    pub(crate) fn of<E: Element>(x: &[E]) -> Special {
        Special::of_values(x.iter().map(|v| v.to_f32()))
    }

    /// [`Special::of`] for the values a (strided) row yields.
    pub(crate) fn of_values(x: impl Iterator<Item = f32> + Clone) -> Special {
        if x.clone().any(f32::is_nan) {
            Special::Nan
        } else if x.clone().any(|v| v == f32::INFINITY) {
            Special::PosInf
        } else {
            Special::NegInf
        }
    }

    pub(crate) fn log_sum_exp(self) -> f64 {
        match self {
            Special::Nan => f64::NAN,
            Special::PosInf => f64::INFINITY,
            Special::NegInf => f64::NEG_INFINITY,
        }
    }
}

/// `sum_i exp(x_i)` in one of its forms.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sum {
    /// From the two-pass reduction, in range.
    Ext(Ext),
    /// From a max-based reduction, max finite.
    MaxSum(MaxSum),
    Special(Special),
}

impl Sum {
    /// `(a, b)` with `a + b = ln(sum_i exp(x_i))` and `a` near the max, for `log_softmax`'s
    /// `(x - a) - b`: the max and `ln(sum exp(x - max))`, or the log-sum-exp split into the
    /// f32 nearest it and the rest. (Not the log-sum-exp rounded once: at |x| = 3e38 adding
    /// `ln(sum)` to the max is lost even in f64.)
    pub(crate) fn offsets(self) -> (f32, f32) {
        match self {
            Sum::MaxSum(s) => (s.max, narrow(s.sum.ln())),
            other => {
                let l = other.ln();
                let hi = narrow(l);
                (hi, narrow(l - f64::from(hi)))
            }
        }
    }

    /// `ln(sum_i exp(x_i))` in f64.
    pub(crate) fn ln(self) -> f64 {
        match self {
            Sum::Ext(e) => e.ln(),
            Sum::MaxSum(s) => f64::from(s.max) + s.sum.ln(),
            Sum::Special(s) => s.log_sum_exp(),
        }
    }
}
