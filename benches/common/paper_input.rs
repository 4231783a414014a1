//! The paper's inputs, shared by the benchmarks, the reproduction and the peer comparison
//! (each includes this file with `#[path]`).

/// `n` values uniform in [-1000, 1000], as in the paper (xorshift64, fixed seed).
#[allow(dead_code)] // Not every includer uses both functions.
pub fn input(n: usize) -> Vec<f32> {
    uniform(n, 0x9E37_79B9_7F4A_7C15, 1000.0)
}

/// `n` values uniform in [-w, w] from the xorshift64 stream of `seed`.
pub fn uniform(n: usize, seed: u64, w: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * (2.0 * w) - w
        })
        .collect()
}
