//! Inputs and flag bookkeeping of the floating-point-environment tests (`kernels/tests/fpenv.rs`
//! on every kernel, `tests/fpenv.rs` on every public operation). The including file brings the
//! MXCSR helpers in as `crate::fpenv`.

use crate::fpenv::{run_with, DEFAULT, DENORMAL, FLUSH_TO_ZERO, UNDERFLOW};

/// Rows of normal values, named: uniform in [-1000, 1000] and [-10, 10], Gaussian with sigma 30,
/// rising and falling ramps over [-1000, 1000], a ramp over [-2e6, 2e6], [-10, 10] with far outliers (1e6 beyond the
/// extended range, and 60 above the rest), +-3e38 among [-10, 10], fine grids below the max
/// (ordered and scattered), and -inf masks among [-1000, 1000]; at every length up to 70 (each tail of 8 and 16 lanes, and of four-vector
/// steps) and around block boundaries.
pub fn inputs() -> Vec<(String, Vec<f32>)> {
    let lengths = (0..=70).chain([127, 128, 129, 1023, 1024, 1025, 4097, 20000]);
    let mut rows = Vec::new();
    for n in lengths {
        let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ n as u64;
        let mut u = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 * 2f64.powi(-53)
        };
        let ramp = |i: usize| (i as f64 + 0.5) / n as f64 * 2000.0 - 1000.0;
        let mut kind = |name: &str, f: &mut dyn FnMut(usize) -> f64| {
            let row: Vec<f32> = (0..n).map(|i| f(i) as f32).collect();
            assert!(
                row.iter().all(|v| !v.is_subnormal()),
                "{name}: a subnormal input"
            );
            rows.push((format!("{name}, n = {n}"), row));
        };
        kind("uniform [-1000, 1000]", &mut |_| u() * 2000.0 - 1000.0);
        kind("uniform [-10, 10]", &mut |_| u() * 20.0 - 10.0);
        kind("gauss sigma 30", &mut |_| {
            let (a, b) = (u(), u());
            30.0 * (-2.0 * (a + 1e-300).ln()).sqrt() * (std::f64::consts::TAU * b).cos()
        });
        kind("rising ramp", &mut |i| ramp(i));
        kind("falling ramp", &mut |i| -ramp(i));
        // Far beyond the extended range, and far apart (as a linear layer's logits can be):
        // the extended sum's exponents of neighbours differ by 10^6 (its result is discarded).
        kind("wide ramp", &mut |i| ramp(i) * 2000.0);
        kind("far outliers", &mut |i| match i % 97 {
            13 => 1e6,
            50 => 60.0,
            _ => u() * 20.0 - 10.0,
        });
        kind("+-3e38 mix", &mut |i| match i % 5 {
            1 => 3e38,
            3 => -3e38,
            _ => u() * 20.0 - 10.0,
        });
        // Every x - max in [-130, 0] at steps of 0.03 or finer once n >= 4097: each flush
        // boundary (of every factor and exponent) has lanes just above and below it.
        kind("fine ramp [-130, 0]", &mut |i| {
            -130.0 + 130.0 * i as f64 / n as f64
        });
        kind("fine grid [-200, 0], scattered", &mut |i| {
            -200.0 * ((i * 7919) % n.max(1)) as f64 / n as f64
        });
        kind("-inf mask", &mut |i| {
            if i % 3 == 1 {
                f64::NEG_INFINITY
            } else {
                u() * 2000.0 - 1000.0
            }
        });
    }
    rows
}

/// The operations that raised a flag, for one report at the end.
#[derive(Default)]
pub struct Flags {
    /// The input being run, for the report.
    pub input: String,
    failures: Vec<String>,
    checked: usize,
}

impl Flags {
    /// Runs `f` with MXCSR = FTZ on (flags cleared), where a tiny result sets UE (checked when
    /// `underflow`), then with FTZ and DAZ off, where a subnormal operand sets DE; returns the
    /// second run's result.
    pub fn check<R>(&mut self, what: &str, underflow: bool, mut f: impl FnMut() -> R) -> R {
        let (_, ftz) = run_with(DEFAULT | FLUSH_TO_ZERO, &mut f);
        let (r, default) = run_with(DEFAULT, &mut f);
        self.checked += 1;
        if underflow && ftz & UNDERFLOW != 0 {
            self.failures
                .push(format!("{what} on {}: UE (a tiny result)", self.input));
        }
        if default & DENORMAL != 0 {
            self.failures.push(format!(
                "{what} on {}: DE (a subnormal operand)",
                self.input
            ));
        }
        r
    }

    /// Fails listing the operations that raised a flag.
    pub fn assert_clean(&self) {
        eprintln!("{} runs checked", self.checked);
        assert!(
            self.checked > 0 && self.failures.is_empty(),
            "{} of {} runs computed with subnormals; the first:\n{}",
            self.failures.len(),
            self.checked,
            self.failures[..self.failures.len().min(40)].join("\n")
        );
    }
}
