//! Wide results of the reductions.

use crate::exp::{EXT_BOUND, EXT_MARGIN, LN2_LO};

/// `m * 2^e` with `e` integral: a sum of exponentials with an exponent of its own, so it
/// neither overflows nor underflows for any input the extended kernels accept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ext {
    /// Mantissa (not necessarily normalised); NaN when an input was NaN.
    pub m: f64,
    /// Exponent (an integer).
    pub e: f64,
}

impl Ext {
    /// The empty sum.
    pub const ZERO: Ext = Ext { m: 0.0, e: 0.0 };

    /// `self += other`, rescaling by exact powers of two.
    pub fn add(&mut self, other: Ext) {
        if other.m == 0.0 {
            return;
        }
        if self.m == 0.0 {
            *self = other;
            return;
        }
        let e = self.e.max(other.e);
        self.m = self.m * pow2(self.e - e) + other.m * pow2(other.e - e);
        self.e = e;
    }

    /// The same value with `m` in `[1, 2)` (unchanged when `m` is 0, NaN or infinite).
    pub fn normalized(self) -> Ext {
        if !(self.m.is_finite() && self.m > 0.0) {
            return self;
        }
        let k = self.m.log2().floor();
        Ext {
            m: self.m * 2f64.powi(-k as i32),
            e: self.e + k,
        }
    }

    /// `ln(m * 2^e)`.
    pub fn ln(self) -> f64 {
        self.m.ln() + self.e * std::f64::consts::LN_2
    }

    /// The sum of exact `exp` terms, from this sum of short ones (each `e^(n_i * LN2_LO)` times
    /// its exact value, see [`crate::exp`]): `ln S~ = lse + LN2_LO * n_mean` with
    /// `n_mean = (lse - H) / ln 2 + r` for the row's entropy `H <= ln(len)` and `|r| <= 1/2`,
    /// so `lse = ln S~ / (1 + LN2_LO / ln 2)` within `1.9e-9 * (1.45 H + 0.5)`: below 1.3e-7
    /// for any length (the short sum alone is off by up to `|lse| * 2.7e-9`, 4.5e-5 at 16384).
    pub fn unshortened(self) -> Ext {
        let l = self.ln();
        if !l.is_finite() {
            return self;
        }
        let exact = l / (1.0 + f64::from(LN2_LO) * std::f64::consts::LOG2_E);
        Ext {
            m: self.m * (exact - l).exp(),
            e: self.e,
        }
    }

    /// `ln(m * 2^e)` when it proves no clamped input mattered: inside
    /// `(-EXT_BOUND + EXT_MARGIN, EXT_BOUND - 1)`. `None` (NaN, infinities, all `-inf`, or
    /// inputs beyond the bound) sends the caller to a max-based path.
    pub fn ln_in_range(self) -> Option<f64> {
        let l = self.ln();
        let lo = f64::from(-EXT_BOUND + EXT_MARGIN);
        let hi = f64::from(EXT_BOUND - 1.0);
        (l > lo && l < hi).then_some(l)
    }
}

/// Below `2^NEGLIGIBLE` a factor of the f64 bookkeeping (moving sums between exponents or
/// references) is taken as 0. The sums it scales lie within [2^-252, 2^200], so every kept
/// product is normal in f64 (a subnormal would cost a microcode assist on Intel CPUs, as in f32),
/// and what is dropped is below 2^-400 of the total it would join, which holds a term of at
/// least 2^-126 of its own exponent.
const NEGLIGIBLE: f64 = -600.0;

/// `2^d` for integral `d <= 0`, 0 below `2^NEGLIGIBLE` (and for NaN).
pub(crate) fn pow2(d: f64) -> f64 {
    if d >= NEGLIGIBLE {
        f64::from_bits(((d as i64 + 1023) as u64) << 52)
    } else {
        0.0
    }
}

/// `exp(d)` for `d <= 0` (a factor of the f64 bookkeeping), 0 below `2^NEGLIGIBLE` (and for
/// NaN): never an f64 subnormal, nor a product with one.
pub fn exp_or_zero(d: f64) -> f64 {
    if d >= NEGLIGIBLE * std::f64::consts::LN_2 {
        d.exp()
    } else {
        0.0
    }
}

/// A row's maximum and `sum_i exp(x_i - max)` in f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxSum {
    /// `max_i x_i` (`-inf` for an empty or all `-inf` row).
    pub max: f32,
    /// `sum_i exp(x_i - max)`: at least 1 for a finite max; NaN when an input was NaN.
    pub sum: f64,
}

/// The coefficients of the cross-entropy gradient pass `y_i = exp(x_i - a) * scale - bias * w_i`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCoefficients {
    /// Subtracted before `exp`: the f32 nearest the row's log-sum-exp (so `x_i - a <= 16`).
    pub a: f32,
    /// Multiplies `exp(x_i - a)`.
    pub scale: f32,
    /// Multiplies the class weight (or 1) and is subtracted.
    pub bias: f32,
}

impl GradCoefficients {
    /// The most the exp term of an element may lose to the gradient pass's flush (its exp
    /// term is 0 below `2^-126 (1 + 2^-10)`): `2^-125`.
    pub const FLUSH_ERROR: f64 = 1.0 / (1u128 << 125) as f64;
    /// The largest `|scale|` the gradient pass takes (its power of two joins the exp's, which
    /// must stay below `2^125`).
    pub const MAX_SCALE: f32 = f32::MAX / 8.0;

    /// Whether the gradient pass computes these exactly as f32 allows: `scale` and `bias`
    /// normal (or 0), so no product of them is subnormal for lack of precision, and `|scale|`
    /// at most [`GradCoefficients::MAX_SCALE`].
    pub fn fit_the_pass(&self) -> bool {
        let normal = |v: f32| v == 0.0 || v.is_normal();
        normal(self.scale) && normal(self.bias) && self.scale.abs() <= Self::MAX_SCALE
    }
}

/// Which sum of the logits the cross-entropy loss pass takes besides the sum of `exp`.
#[derive(Clone, Copy, Debug)]
pub enum SumOfLogits<'a> {
    /// None ([`LogitSums::logits`] is 0): label smoothing off.
    Unused,
    /// `sum_i x_i`.
    Plain,
    /// `sum_i w_i * x_i`, zero-weight terms 0 (even for an infinite `x_i`); the weights cover
    /// the run.
    Weighted(&'a [f32]),
}

/// What the cross-entropy loss pass reads off a run of logits in one pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogitSums {
    /// `sum_i exp(x_i)`, extended.
    pub exp: Ext,
    /// The sum of the logits [`SumOfLogits`] asked for ([`LogitSum::ZERO`] for
    /// [`SumOfLogits::Unused`]).
    pub logits: LogitSum,
}

/// `sum_i w_i x_i` (`w_i = 1` without weights; zero-weight terms 0) kept as
/// `sum_i w_i (x_i - max) + W * max`, against the largest finite logit seen, with `W = sum_i w_i`:
/// every term of `sum` is at most 0, so moving `max` up (`sum -= W * (new - old)`) and adding
/// parts never cancels, and label smoothing's `W lse - sum_i w_i x_i = W (lse - max) - sum`
/// keeps its precision whatever offset the logits share.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogitSum {
    /// `sum_i w_i (x_i - max)`: at most 0; `-inf` with a `-inf` logit of nonzero weight, NaN
    /// with a NaN (or `+inf`) one.
    pub sum: f64,
    /// The largest finite logit seen (`-inf` before one).
    pub max: f64,
    /// `W`, the weights seen.
    pub weight: f64,
}

impl LogitSum {
    /// Nothing seen.
    pub const ZERO: LogitSum = LogitSum {
        sum: 0.0,
        max: f64::NEG_INFINITY,
        weight: 0.0,
    };

    /// Adds a part: `sum = sum_i w_i (x_i - around)` over logits whose weights sum to
    /// `weight`, `around` their largest finite logit (`None` when they have none: then `sum` is
    /// 0, `-inf` or NaN, which does not depend on a reference).
    pub fn add(&mut self, sum: f64, around: Option<f64>, weight: f64) {
        let mut part = sum;
        if let Some(a) = around {
            if a > self.max {
                if self.weight != 0.0 && self.max > f64::NEG_INFINITY {
                    self.sum -= self.weight * (a - self.max);
                }
                self.max = a;
            } else if weight != 0.0 {
                part -= weight * (self.max - a);
            }
        }
        self.sum += part;
        self.weight += weight;
    }

    /// Adds another sum (the union of both parts).
    pub fn merge(&mut self, other: &LogitSum) {
        let around = (other.max > f64::NEG_INFINITY).then_some(other.max);
        self.add(other.sum, around, other.weight);
    }
}
