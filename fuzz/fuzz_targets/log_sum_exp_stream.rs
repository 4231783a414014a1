//! Arbitrary chunkings and merge orders of `LseState` agree with the one-shot log-sum-exp within
//! docs/accuracy.md's bound (not bitwise: merges round).
#![no_main]

use libfuzzer_sys::fuzz_target;
use twopass::LseState;

#[path = "../../tests/common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // Each record: a chunk length byte, a state-choice byte, then that many f32 values.
    let mut states = [LseState::new(); 4];
    let mut all = Vec::new();
    let mut rest = data;
    while let [len, which, tail @ ..] = rest {
        let take = (usize::from(*len) * 4).min(tail.len() / 4 * 4);
        let chunk: Vec<f32> = tail[..take]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        states[usize::from(*which % 4)].update(&chunk);
        all.extend_from_slice(&chunk);
        rest = &tail[take..];
    }
    let one_shot = twopass::log_sum_exp(&all);
    // Merge in two different orders.
    let [a, b, c, d] = states;
    let mut left = a;
    left.merge(&b);
    left.merge(&c);
    left.merge(&d);
    let mut right = d;
    let mut cb = c;
    cb.merge(&b);
    right.merge(&cb);
    right.merge(&a);
    for s in [left, right] {
        assert_eq!(s.count(), all.len() as u64);
        common::check_lse(&all, s.value(), 1.0).unwrap_or_else(|e| panic!("merged: {e}"));
    }
    common::check_lse(&all, one_shot, 1.0).unwrap_or_else(|e| panic!("one shot: {e}"));
});
