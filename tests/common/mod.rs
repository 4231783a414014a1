//! Shared test support: the f64 reference, docs/accuracy.md's bounds, row generators, and the ISAs
//! under test.
#![allow(dead_code)]

pub mod cross_entropy;

use num_traits::Float;
use twopass::{Algorithm, Isa, Kernels};

/// The ISAs to test: every one this CPU runs, or (when `TWOPASS_ISA` names one) scalar and that
/// one. Prints the ones skipped and why.
pub fn isas_under_test() -> Vec<Isa> {
    let forced = std::env::var("TWOPASS_ISA")
        .ok()
        .filter(|v| !v.is_empty() && v != "auto");
    let mut out = Vec::new();
    for isa in Isa::ALL {
        if !twopass::is_supported(isa) {
            eprintln!("note: skipping {}: this CPU lacks it", isa.name());
        } else if forced
            .as_deref()
            .is_some_and(|f| f != isa.name() && isa != Isa::Scalar)
        {
            eprintln!(
                "note: skipping {}: TWOPASS_ISA={}",
                isa.name(),
                forced.as_deref().unwrap()
            );
        } else {
            out.push(isa);
        }
    }
    out
}

/// Every (ISA, algorithm) pair under test, `Auto` included.
pub fn variants() -> Vec<Kernels> {
    let mut out = Vec::new();
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        out.push(k);
        for a in Algorithm::CONCRETE {
            out.push(k.with_algorithm(a));
        }
    }
    out
}

/// What docs/accuracy.md says a row's results are, computed in `F` (f64 in the tests).
pub enum Reference<F> {
    /// NaN, +inf or only -inf (n >= 1): every softmax / log-softmax output NaN; lse as given.
    Special(F),
    /// Finite max `m` and `s = sum exp(x - m)`.
    Finite { m: F, s: F },
}

/// The generic reference (num-traits), instantiated at f64.
pub fn reference<F: Float>(x: &[f32]) -> Reference<F> {
    let x: Vec<F> = x.iter().map(|&v| F::from(v).unwrap()).collect();
    if x.iter().any(|v| v.is_nan()) {
        return Reference::Special(F::nan());
    }
    if x.iter().any(|&v| v == F::infinity()) {
        return Reference::Special(F::infinity());
    }
    let m = x.iter().fold(F::neg_infinity(), |a, &b| a.max(b));
    if m == F::neg_infinity() {
        return Reference::Special(F::neg_infinity());
    }
    let s = x.iter().fold(F::zero(), |a, &v| a + (v - m).exp());
    Reference::Finite { m, s }
}

/// The reference's max and sum for a finite row; `None` for a special row (NaN, `+inf`, only
/// `-inf`) whose outputs `y` are all NaN, as docs/accuracy.md requires, else the error.
pub fn finite_reference(
    x: &[f32],
    y: impl Iterator<Item = f64>,
) -> Result<Option<(f64, f64)>, String> {
    match reference::<f64>(x) {
        Reference::Special(_) => match y.enumerate().find(|(_, v)| !v.is_nan()) {
            None => Ok(None),
            Some((i, v)) => Err(format!("special row: y[{i}] = {v:e}, want NaN")),
        },
        Reference::Finite { m, s } => Ok(Some((m, s))),
    }
}

/// Checks `lse` against the reference, within `k` times docs/accuracy.md's bound.
pub fn check_lse(x: &[f32], lse: f32, k: f64) -> Result<(), String> {
    let want = match reference::<f64>(x) {
        Reference::Special(v) => v,
        Reference::Finite { m, s } => m + s.ln(),
    };
    let got = f64::from(lse);
    let ok = if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        got == want
    } else {
        (got - want).abs() <= k * 2e-6 * want.abs().max(1.0)
    };
    if ok {
        Ok(())
    } else {
        Err(format!("log_sum_exp = {got:e}, reference {want:e}"))
    }
}

/// Checks a softmax output against the reference, within `k` times docs/accuracy.md's bounds.
pub fn check_softmax(x: &[f32], y: &[f32], k: f64) -> Result<(), String> {
    assert_eq!(x.len(), y.len());
    let Some((m, s)) = finite_reference(x, y.iter().map(|&v| f64::from(v)))? else {
        return Ok(());
    };
    let refs: Vec<f64> = x.iter().map(|&v| (f64::from(v) - m).exp() / s).collect();
    let top = refs.iter().fold(0.0f64, |a, &b| a.max(b));
    let mut mass = 0.0;
    for (i, (&got, &want)) in y.iter().zip(&refs).enumerate() {
        let got = f64::from(got);
        if !(0.0..=1.0).contains(&got) {
            return Err(format!("y[{i}] = {got:e} outside [0, 1] (x = {:e})", x[i]));
        }
        let err = (got - want).abs();
        let bound = if want >= 1e-6 * top {
            2e-6 * want
        } else {
            1e-5 * want + 1e-37
        };
        if err > k * bound {
            return Err(format!(
                "y[{i}] = {got:e}, reference {want:e} (x = {:e}, max {m:e})",
                x[i]
            ));
        }
        mass += err;
    }
    if mass > k * 2e-6 {
        return Err(format!("total mass error {mass:e}"));
    }
    Ok(())
}

/// Checks a log-softmax output against the reference, within `k` times docs/accuracy.md's bound.
pub fn check_log_softmax(x: &[f32], y: &[f32], k: f64) -> Result<(), String> {
    assert_eq!(x.len(), y.len());
    let Some((m, s)) = finite_reference(x, y.iter().map(|&v| f64::from(v)))? else {
        return Ok(());
    };
    let ln_s = s.ln();
    for (i, (&got, &xi)) in y.iter().zip(x).enumerate() {
        let want = (f64::from(xi) - m) - ln_s;
        let got = f64::from(got);
        let ok = if want < -f64::from(f32::MAX) * (1.0 + 2f64.powi(-25)) {
            got == f64::NEG_INFINITY
        } else {
            (got - want).abs() <= k * 2e-6 * want.abs().max(1.0)
        };
        if !ok {
            return Err(format!("y[{i}] = {got:e}, reference {want:e} (x = {xi:e})"));
        }
    }
    Ok(())
}

/// Compares two softmax outputs of the same row (two ISAs, or ISA and scalar): each within
/// docs/accuracy.md's bounds of the reference, so within twice the bounds of each other.
pub fn check_softmax_pair(a: &[f32], b: &[f32]) -> Result<(), String> {
    let mut mass = 0.0;
    for (i, (&p, &q)) in a.iter().zip(b).enumerate() {
        if p.is_nan() != q.is_nan() {
            return Err(format!("y[{i}]: {p:e} vs {q:e}"));
        }
        if p.is_nan() {
            continue;
        }
        let (p, q) = (f64::from(p), f64::from(q));
        let err = (p - q).abs();
        if err > 2.0 * (1e-5 * p.max(q) + 1e-37) {
            return Err(format!("y[{i}]: {p:e} vs {q:e}"));
        }
        mass += err;
    }
    if mass > 4e-6 {
        return Err(format!("outputs differ by a total of {mass:e}"));
    }
    Ok(())
}

/// A small deterministic generator (xorshift64*), so a failing case is reproducible from its
/// seed without storing the row.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize
    }
}

/// The row shapes the property tests draw from.
#[derive(Clone, Copy, Debug)]
pub enum Dist {
    Normal1,
    Normal30,
    Uniform1000,
    Constant,
    Spike,
    NegInfMask,
    Sorted,
    Ramp,
    NearMax,
    Specials,
    Steps,
    /// N(0, 30) around +-8000..16000, near the extended reduction's bound, where the paired exp
    /// of two-pass softmax is off by up to 4.5e-5 per term (which must cancel).
    FarOffset,
}

impl Dist {
    pub const ALL: [Dist; 12] = [
        Dist::Normal1,
        Dist::Normal30,
        Dist::Uniform1000,
        Dist::Constant,
        Dist::Spike,
        Dist::NegInfMask,
        Dist::Sorted,
        Dist::Ramp,
        Dist::NearMax,
        Dist::Specials,
        Dist::Steps,
        Dist::FarOffset,
    ];

    /// A row of `n` values drawn from this shape.
    pub fn row(self, n: usize, seed: u64) -> Vec<f32> {
        let mut r = Rng::new(seed);
        let mut x: Vec<f32> = match self {
            Dist::Normal1 => (0..n).map(|_| r.normal() as f32).collect(),
            Dist::Normal30 => (0..n).map(|_| (30.0 * r.normal()) as f32).collect(),
            Dist::Uniform1000 | Dist::Sorted => (0..n)
                .map(|_| (2000.0 * r.uniform() - 1000.0) as f32)
                .collect(),
            Dist::Constant => vec![(200.0 * r.normal()) as f32; n],
            Dist::Spike => {
                let mut x: Vec<f32> = (0..n).map(|_| r.normal() as f32).collect();
                if n > 0 {
                    x[r.below(n)] = (1e4 * r.uniform()) as f32 + 100.0;
                }
                x
            }
            Dist::NegInfMask => (0..n)
                .map(|_| {
                    if r.uniform() < 0.5 {
                        f32::NEG_INFINITY
                    } else {
                        (10.0 * r.normal()) as f32
                    }
                })
                .collect(),
            Dist::Ramp => {
                let (start, step) = (200.0 * r.normal(), 50.0 * r.uniform() / n.max(1) as f64);
                (0..n).map(|i| (start + step * i as f64) as f32).collect()
            }
            // Rises by 70 every 512 elements (each block's max jumps past the last).
            Dist::Steps => (0..n)
                .map(|i| (i / 512) as f32 * 70.0 + r.normal() as f32)
                .collect(),
            Dist::FarOffset => {
                let sign = if r.uniform() < 0.5 { -1.0 } else { 1.0 };
                let offset = sign * 8000.0 * (1.0 + r.uniform());
                (0..n)
                    .map(|_| (offset + 30.0 * r.normal()) as f32)
                    .collect()
            }
            Dist::NearMax => (0..n)
                .map(|_| {
                    let sign = if r.uniform() < 0.5 { -1.0 } else { 1.0 };
                    sign * f32::MAX * (1.0 - 1e-3 * r.uniform() as f32)
                })
                .collect(),
            Dist::Specials => {
                let specials = [
                    f32::NAN,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    3e38,
                    -3e38,
                    f32::MAX,
                    -f32::MAX,
                    1e-40,
                    -1e-40,
                    f32::MIN_POSITIVE,
                    0.0,
                    -0.0,
                ];
                (0..n)
                    .map(|_| {
                        if r.uniform() < 0.02 {
                            specials[r.below(specials.len())]
                        } else {
                            (5.0 * r.normal()) as f32
                        }
                    })
                    .collect()
            }
        };
        if let Dist::Sorted = self {
            x.sort_by(f32::total_cmp);
        }
        x
    }
}
