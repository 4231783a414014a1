//! Arbitrary f32 bit patterns (NaN payloads, infinities, subnormals, +-3.4e38), lengths up to a
//! few thousand and any misalignment: every algorithm on every ISA under test meets
//! docs/accuracy.md's bounds, agrees with scalar, and writes nothing outside its output.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/mod.rs"]
mod common;

const GUARD: f32 = -7.25;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let offset = usize::from(head % 16);
    let x: Vec<f32> = rest
        .chunks_exact(4)
        .take(4096)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n = x.len();
    let mut buf = vec![GUARD; n + 32];
    buf[offset..offset + n].copy_from_slice(&x);
    let xs = &buf[offset..offset + n];
    for k in common::variants() {
        let mut out = vec![GUARD; n + 32];
        k.softmax(xs, &mut out[offset..offset + n]).unwrap();
        assert!(
            out[..offset]
                .iter()
                .chain(&out[offset + n..])
                .all(|&v| v == GUARD),
            "{k:?} wrote outside"
        );
        common::check_softmax(&x, &out[offset..offset + n], 1.0)
            .unwrap_or_else(|e| panic!("{k:?} softmax: {e}"));
        let scalar = twopass::Kernels::new(twopass::Isa::Scalar)
            .unwrap()
            .with_algorithm(k.algorithm());
        let mut ys = vec![0.0; n];
        scalar.softmax(&x, &mut ys).unwrap();
        common::check_softmax_pair(&out[offset..offset + n], &ys)
            .unwrap_or_else(|e| panic!("{k:?} vs scalar: {e}"));
        let mut inplace = buf.clone();
        k.log_softmax_in_place(&mut inplace[offset..offset + n]);
        common::check_log_softmax(&x, &inplace[offset..offset + n], 1.0)
            .unwrap_or_else(|e| panic!("{k:?} log_softmax: {e}"));
        common::check_lse(&x, k.log_sum_exp(xs), 1.0).unwrap_or_else(|e| panic!("{k:?} lse: {e}"));
    }
});
