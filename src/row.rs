//! One row: the reductions and the output passes, over one table of kernels.

use twopass_kernels::{Element, Ext, Io, MaxSum, Store, Table, SHORT_VECTORS};

use crate::sum::{narrow, Special, Sum};
use crate::Algorithm;

/// How a row runs: its concrete algorithm (`Auto` resolved) and how its output passes store.
pub(crate) type How = (Algorithm, Store);

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
    // Each algorithm returns whether it wrote the row; a special row (NaN, +inf, only -inf)
    // is all NaN.
    let written = match algorithm {
        Algorithm::Blocked => crate::blocked::softmax(t, io.reborrow()),
        // A row of a few vectors in registers, in one call (whose set-up dominates short rows).
        Algorithm::ThreePassReload if n <= SHORT_VECTORS * t.lanes => {
            (t.softmax_short)(io.reborrow(), store)
        }
        Algorithm::ThreePassReload => reload(t, io.reborrow(), store),
        // vscaleextexp divides by the paired sum.
        Algorithm::TwoPass => scale(
            t,
            extended(t, io.input(), t.raddextexp_paired),
            io.reborrow(),
            store,
        ),
        _ => scale(t, sum(t, io.input(), algorithm), io.reborrow(), store),
    };
    if !written {
        io.output().fill(E::from_f32(f32::NAN));
    }
}

/// Three-pass reload: the max, `y = exp(x - max)` and its sum, then `y *= 1 / sum`; false for
/// a special row.
fn reload<E: Element>(t: &Table<E>, mut io: Io<'_, E>, store: Store) -> bool {
    let max = (t.rmax)(io.input());
    if !max.is_finite() {
        return false;
    }
    let sum = (t.raddstoreexpminusmax)(io.reborrow(), max);
    if !sum.is_finite() {
        return false;
    }
    (t.vscale)(Io::InPlace(io.output()), (1.0 / sum) as f32, store);
    true
}

/// The output pass dividing by `sum`; false for a special row.
fn scale<E: Element>(t: &Table<E>, sum: Sum, io: Io<'_, E>, store: Store) -> bool {
    match sum {
        Sum::Ext(e) => (t.vscaleextexp)(io, e, store),
        Sum::MaxSum(s) => (t.vscaleexpminusmax)(io, s.max, (1.0 / s.sum) as f32, store),
        Sum::Special(_) => return false,
    }
    true
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

/// What [`softmax_finish`] adds to the log-sum-exp (relative error 4.8e-7 on each output, inside
/// docs/accuracy.md's 2e-6): the row's sum and this pass's `exp` are computed apart, each a few
/// ulp off, and without it the output at a row's dominant maximum can round to `1 + 2^-23`.
const FINISH_MARGIN: f64 = 1.0 / (1 << 21) as f64;

/// One chunk of a split row: `y_i = exp(x_i - lse)` for the whole row's log-sum-exp
/// `lse = hi + lo` (`hi` an f32 value; `None`: a special row, every output NaN), at most 1.
/// Computed as `exp(x_i - hi) * e^-(lo + FINISH_MARGIN)` while `|lo| <= 1` (every row whose
/// log-sum-exp is below 2^24 in magnitude); beyond, each output from f64.
pub(crate) fn softmax_finish<E: Element>(
    t: &Table<E>,
    mut io: Io<'_, E>,
    lse: Option<(f64, f64)>,
    store: Store,
) {
    let Some((hi, lo)) = lse else {
        io.output().fill(E::from_f32(f32::NAN));
        return;
    };
    if lo.abs() <= 1.0 {
        let scale = (-(lo + FINISH_MARGIN)).exp() as f32;
        (t.vscaleexpminusmax)(io, hi as f32, scale, store);
    } else {
        // Every step is safe for every element, as the compiler may vectorise the loop and
        // evaluate both sides of a branch: no exp of a tiny f64 value, no tiny value narrowed.
        let least = f64::from(f32::MIN_POSITIVE);
        for j in 0..io.input().len() {
            let d = (f64::from(io.input()[j].to_f32()) - hi) - lo;
            let p = d.max(-400.0).exp().min(1.0);
            io.output()[j] = E::from_f32(if p >= least { p } else { 0.0 } as f32);
        }
    }
}

/// One chunk of a split row: `y_i = (x_i - hi) - lo` for the whole row's log-sum-exp
/// `hi + lo` (`None`: a special row, every output NaN).
pub(crate) fn log_softmax_finish<E: Element>(
    t: &Table<E>,
    mut io: Io<'_, E>,
    lse: Option<(f64, f64)>,
    store: Store,
) {
    match lse {
        Some((hi, lo)) => (t.vsubtract)(io, (hi as f32, narrow(lo)), store),
        None => io.output().fill(E::from_f32(f32::NAN)),
    }
}
