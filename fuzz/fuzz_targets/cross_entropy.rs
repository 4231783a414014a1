//! Arbitrary shapes, targets (in range, out of range, the ignore index), options (valid and
//! invalid) and chunkings: either a clear error with nothing written, or results within
//! docs/accuracy.md's bounds on every ISA under test, in place and chunked alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twopass::{CrossEntropyOutputs, Kernels, Reduction, Shape};

#[path = "../../tests/common/mod.rs"]
mod common;

use common::cross_entropy::{check_case, check_chunked, Case};

#[path = "bytes.rs"]
mod bytes;

use bytes::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let rows = usize::from(b.u8() % 5);
    let cols = usize::from(b.u8() % 70);
    let flags = b.u8();
    let ignore_index = i64::from(b.u8() as i8);
    let eps = if flags & 1 != 0 {
        b.f32()
    } else {
        f32::from(b.u8() % 5) * 0.25
    };
    let z = if flags & 2 != 0 {
        b.f32()
    } else {
        f32::from(b.u8() % 3) * 1e-3
    };
    let reduction = [Reduction::None, Reduction::Mean, Reduction::Sum][usize::from(b.u8() % 3)];
    let weights = (flags & 4 != 0).then(|| {
        (0..cols)
            .map(|_| {
                if flags & 8 != 0 {
                    b.f32()
                } else {
                    f32::from(b.u8() % 4)
                }
            })
            .collect::<Vec<_>>()
    });
    let targets: Vec<i64> = (0..rows)
        .map(|_| i64::from(b.u8() as i8) % (cols as i64 + 3))
        .collect();
    let logits: Vec<f32> = (0..rows * cols).map(|_| b.f32()).collect();
    let grad_output = (flags & 16 != 0).then(|| {
        let n = if reduction == Reduction::None {
            rows
        } else {
            1
        };
        (0..n)
            .map(|_| f32::from(b.u8()) / 64.0 - 2.0)
            .collect::<Vec<_>>()
    });
    let case = Case {
        rows,
        cols,
        logits,
        targets,
        ignore_index,
        eps,
        z,
        weights,
        reduction,
        grad_output,
    };

    let options = case.options();
    for isa in common::isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        let (mut losses, mut grad) = (vec![9.5f32; rows], vec![9.5f32; rows * cols]);
        let out = CrossEntropyOutputs {
            row_losses: Some(&mut losses),
            grad_output: case.grad_output.as_deref(),
            ..Default::default()
        };
        let result = k.cross_entropy(
            &case.logits,
            Shape::new(rows, cols),
            &case.targets,
            &options,
            out,
            Some((&mut grad, cols)),
        );
        if result.is_err() {
            assert!(
                losses.iter().chain(&grad).all(|&v| v == 9.5),
                "{isa:?}: wrote on error {result:?}"
            );
            continue;
        }
        check_case(k, &case).unwrap_or_else(|e| panic!("{isa:?}: {e}\n{case:?}"));
        check_chunked(k, &case, u64::from(flags))
            .unwrap_or_else(|e| panic!("{isa:?} chunked: {e}\n{case:?}"));
    }
});
