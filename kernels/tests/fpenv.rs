//! No kernel computes with a subnormal on normal inputs, on any ISA or element type: each such
//! instruction takes a microcode assist on Intel CPUs in the default floating-point environment
//! (10-30x slower kernels), which AMD CPUs hide. This holds the property on any x86-64: every
//! entry of every table runs with MXCSR's FTZ on and its flags cleared, where every tiny result
//! sets UE (underflow), and again with FTZ and DAZ off, where a subnormal operand sets DE.
//!
//! One exception, by contract: f16 outputs below f16's normal range in magnitude (6.1e-5: small
//! probabilities, log-probabilities near 0) are f16 subnormals (docs/accuracy.md keeps them exact),
//! and VCVTPS2PH (F16C, AVX-512, and `half`'s conversion, which uses it where the CPU has F16C)
//! sets UE making them. Where f16 kernels store, only DE is checked; their f32 arithmetic is the
//! bf16 kernels' (the same coarse exp), where UE is.

#![cfg(target_arch = "x86_64")]

#[path = "../../tests/common/fpenv.rs"]
mod common;

use common::{inputs, Flags};
use twopass_kernels::fpenv;
use twopass_kernels::{
    table_bf16, table_bf16_exact, table_f16, tables, Element, GradCoefficients, Io, Store,
    SumOfLogits, Table,
};

/// Every entry of `t` on `x`, with the arguments the public operations pass (the row's max and
/// sum, its extended sum, a cross-entropy gradient's coefficients), in both store modes.
/// With `stores_checked` false (f16), UE is not checked where the entry stores (see the module
/// doc).
fn run_table<E: Element>(t: &Table<E>, x: &[f32], flags: &mut Flags, stores_checked: bool) {
    let x: Vec<E> = x.iter().map(|&v| E::from_f32(v)).collect();
    let x = &x[..];
    let mut y = x.to_vec();
    let w: Vec<f32> = (0..x.len()).map(|i| 0.5 + (i % 7) as f32 * 0.25).collect();
    let name = |op: &str| format!("{} {op}", t.name);
    let max = flags.check(&name("rmax"), true, || (t.rmax)(x));
    let paired = flags.check(&name("raddextexp_paired"), true, || {
        (t.raddextexp_paired)(x)
    });
    flags.check(&name("raddextexp"), true, || (t.raddextexp)(x));
    flags.check(&name("raddonline"), true, || (t.raddonline)(x));
    for logits in [
        SumOfLogits::Unused,
        SumOfLogits::Plain,
        SumOfLogits::Weighted(&w),
    ] {
        flags.check(&name("raddextexp_logits"), true, || {
            (t.raddextexp_logits)(x, logits)
        });
    }
    if max.is_finite() {
        let sum = flags.check(&name("raddexpminusmax"), true, || {
            (t.raddexpminusmax)(x, max)
        });
        for store in [Store::Cached, Store::NonTemporal] {
            let stored = flags.check(&name("raddstoreexpminusmax"), stores_checked, || {
                (t.raddstoreexpminusmax)(Io::Split(x, &mut y), max)
            });
            flags.check(&name("vscale"), stores_checked, || {
                (t.vscale)(Io::InPlace(&mut y), (1.0 / stored) as f32, store)
            });
            flags.check(&name("vscaleexpminusmax"), stores_checked, || {
                (t.vscaleexpminusmax)(Io::Split(x, &mut y), max, (1.0 / sum) as f32, store)
            });
            flags.check(&name("vsubtract"), stores_checked, || {
                (t.vsubtract)(Io::Split(x, &mut y), (max, sum.ln() as f32), store)
            });
            if paired.ln_in_range().is_some() {
                flags.check(&name("vscaleextexp"), stores_checked, || {
                    (t.vscaleextexp)(Io::Split(x, &mut y), paired, store)
                });
            }
            let lse = f64::from(max) + sum.ln();
            for (weights, bias) in [(None, 0.0), (Some(&w[..]), 0.1 / 1000.0)] {
                // A mean over 64 rows with label smoothing 0.1 over 1000 classes, as
                // cross-entropy passes them (`scale` = k * A * e^(a - lse)).
                let a = lse as f32;
                let c = GradCoefficients {
                    a,
                    scale: ((f64::from(a) - lse).exp() / 64.0) as f32,
                    bias,
                };
                flags.check(&name("vgradce"), stores_checked, || {
                    (t.vgradce)(Io::Split(x, &mut y), weights, c, store)
                });
            }
        }
    }
}

#[test]
fn no_kernel_computes_with_subnormals() {
    let mut flags = Flags::default();
    for (input, x) in inputs() {
        flags.input = input;
        for t in tables() {
            let isa = t.isa;
            run_table(t, &x, &mut flags, true);
            run_table(table_f16(isa).unwrap(), &x, &mut flags, false);
            run_table(table_bf16(isa).unwrap(), &x, &mut flags, true);
            run_table(table_bf16_exact(isa).unwrap(), &x, &mut flags, true);
        }
    }
    flags.assert_clean();
}
