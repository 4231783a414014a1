//! The in-kernel f16 / bf16 conversions of every ISA: loads widen exactly, stores round to
//! nearest even (NaN stays NaN), at every tail length: `vscale` by `c` must give exactly
//! `round(x * c)` computed with `half`'s conversions, or 0 where `x * c` or `x` lies below f32's
//! normal range (`vscale` computes no subnormal; f16 holds no such value anyway).

use half::{bf16, f16};
use twopass_kernels::{table_bf16, table_bf16_exact, table_f16, tables, Io, Store};

fn lcg(seed: &mut u64) -> u16 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 48) as u16
}

#[test]
fn scale_rounds_like_half() {
    let mut seed = 1;
    for isa in tables().map(|t| t.isa) {
        let (t16, tb) = (table_f16(isa).unwrap(), table_bf16(isa).unwrap());
        for n in 0..70 {
            for c in [1.0f32, 0.1, 3.0, 1.0 + f32::EPSILON, 1e-30] {
                let bits: Vec<u16> = (0..n).map(|_| lcg(&mut seed)).collect();
                let x16: Vec<f16> = bits.iter().map(|&b| f16::from_bits(b)).collect();
                let mut y16 = vec![f16::ZERO; n];
                (t16.vscale)(Io::Split(&x16, &mut y16), c, Store::Cached);
                for (x, y) in x16.iter().zip(&y16) {
                    let want = f16::from_f32(x.to_f32() * c);
                    assert!(
                        y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                        "{isa:?} f16 {x:?} * {c}: {y:?} vs {want:?}"
                    );
                }
                let xb: Vec<bf16> = bits.iter().map(|&b| bf16::from_bits(b)).collect();
                // The exact sequence everywhere; the AVX-512 BF16 instruction where the CPU
                // has it.
                for t in [tb, table_bf16_exact(isa).unwrap()] {
                    let mut yb = vec![bf16::ZERO; n];
                    (t.vscale)(Io::Split(&xb, &mut yb), c, Store::NonTemporal);
                    for (x, y) in xb.iter().zip(&yb) {
                        let exact = x.to_f32() * c;
                        let want = bf16::from_f32(exact);
                        let flushed = y.to_f32() == 0.0
                            && (exact.abs() < f32::MIN_POSITIVE
                                || x.to_f32().abs() < f32::MIN_POSITIVE);
                        assert!(
                            y.to_bits() == want.to_bits()
                                || (y.is_nan() && want.is_nan())
                                || flushed,
                            "{} bf16 {x:?} * {c}: {y:?} vs {want:?}",
                            t.name
                        );
                    }
                }
            }
        }
    }
}
