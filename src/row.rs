//! One row: the reductions, the special values of REFERENCE.md, and the output passes.

use twopass_kernels::{Element, Ext, Io, MaxSum, Store, Table};

use crate::Algorithm;

/// `v` rounded to f32, 0 (of `v`'s sign) where `|v|` lies below f32's normal range: results
/// are never subnormal, so no caller pays for one (a microcode assist per subnormal operand on
/// Intel CPUs), and REFERENCE.md's bounds allow far more than 2^-126 wherever this rounds.
pub(crate) fn narrow(v: f64) -> f32 {
    if v.abs() < f64::from(f32::MIN_POSITIVE) {
        (0.0f64).copysign(v) as f32
    } else {
        v as f32
    }
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

/// How a row runs: its concrete algorithm (`Auto` resolved) and how its output passes store.
pub(crate) type How = (Algorithm, Store);

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
        if x.iter().any(|v| v.to_f32().is_nan()) {
            Special::Nan
        } else if x.iter().any(|v| v.to_f32() == f32::INFINITY) {
            Special::PosInf
        } else {
            Special::NegInf
        }
    }

    fn log_sum_exp(self) -> f64 {
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
    fn offsets(self) -> (f32, f32) {
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

/// The sum of a non-empty row by `algorithm` (concrete; `ThreePassReload` reduces like
/// `ThreePassRecompute`). Rows the extended reduction cannot take fall back to max-based.
pub(crate) fn sum<E: Element>(t: &Table<E>, x: &[E], algorithm: Algorithm) -> Sum {
    match algorithm {
        Algorithm::TwoPass => extended(t, x, t.raddextexp),
        Algorithm::Online => checked((t.raddonline)(x), x),
        Algorithm::Blocked => crate::blocked::sum(t, x),
        _ => max_based(t, x),
    }
}

/// The sum by `reduce` (`raddextexp` or its paired form), or max-based when out of its range.
fn extended<E: Element>(t: &Table<E>, x: &[E], reduce: fn(&[E]) -> Ext) -> Sum {
    let e = reduce(x);
    match e.ln_in_range() {
        Some(_) => Sum::Ext(e),
        None => max_based(t, x),
    }
}

fn max_based<E: Element>(t: &Table<E>, x: &[E]) -> Sum {
    let max = (t.rmax)(x);
    if !max.is_finite() {
        return Sum::Special(Special::of(x));
    }
    checked(
        MaxSum {
            max,
            sum: (t.raddexpminusmax)(x, max),
        },
        x,
    )
}

fn checked<E: Element>(s: MaxSum, x: &[E]) -> Sum {
    if s.max.is_finite() && s.sum.is_finite() && s.sum > 0.0 {
        Sum::MaxSum(s)
    } else {
        Sum::Special(Special::of(x))
    }
}

/// `ln(sum_i exp(x_i))` by the reduction `algorithm` (`Auto` resolved by the caller), `-inf` for
/// an empty row.
pub(crate) fn log_sum_exp<E: Element>(t: &Table<E>, x: &[E], algorithm: Algorithm) -> f32 {
    if x.is_empty() {
        return f32::NEG_INFINITY;
    }
    narrow(sum(t, x, algorithm).ln())
}

/// `y_i = exp(x_i - max) / sum` by `algorithm` (`Auto` resolved by the caller).
pub(crate) fn softmax<E: Element>(t: &Table<E>, mut io: Io<'_, E>, (algorithm, store): How) {
    let n = io.input().len();
    if n == 0 {
        return;
    }
    if algorithm == Algorithm::Blocked {
        if !crate::blocked::softmax(t, io.reborrow()) {
            io.output().fill(E::from_f32(f32::NAN));
        }
        return;
    }
    if algorithm == Algorithm::ThreePassReload {
        let max = (t.rmax)(io.input());
        if max.is_finite() {
            let sum = (t.raddstoreexpminusmax)(io.reborrow(), max);
            if sum.is_finite() {
                (t.vscale)(Io::InPlace(io.output()), (1.0 / sum) as f32, store);
                return;
            }
        }
        io.output().fill(E::from_f32(f32::NAN));
        return;
    }
    let sum = match algorithm {
        // vscaleextexp divides by the paired sum.
        Algorithm::TwoPass => extended(t, io.input(), t.raddextexp_paired),
        _ => sum(t, io.input(), algorithm),
    };
    match sum {
        Sum::Ext(e) => (t.vscaleextexp)(io, e, store),
        Sum::MaxSum(s) => (t.vscaleexpminusmax)(io, s.max, (1.0 / s.sum) as f32, store),
        Sum::Special(_) => io.output().fill(E::from_f32(f32::NAN)),
    }
}

/// `y_i = x_i - ln(sum_j exp(x_j))` by the reduction `algorithm` (`Auto` resolved by the
/// caller).
pub(crate) fn log_softmax<E: Element>(t: &Table<E>, mut io: Io<'_, E>, (algorithm, store): How) {
    let n = io.input().len();
    if n == 0 {
        return;
    }
    match sum(t, io.input(), algorithm) {
        Sum::Special(_) => io.output().fill(E::from_f32(f32::NAN)),
        s => (t.vsubtract)(io, s.offsets(), store),
    }
}
