//! The paper's inputs, shared by the benchmarks, the reproduction and the peer comparison
//! (each includes this file with `#[path]`).

/// `n` values uniform in [-1000, 1000], as in the paper (xorshift64, fixed seed).
pub fn input(n: usize) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2000.0 - 1000.0
        })
        .collect()
}
