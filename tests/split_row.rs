//! One row cut into chunks on the caller's threads, in three steps: each chunk's `LseState`
//! (`Kernels::lse_update`), the states merged (`LseState::merge`, any order), then each chunk's
//! outputs from the merged state (`softmax_finish`, `log_softmax_finish`). Checked against the
//! f64 reference within docs/accuracy.md's bounds on every ISA, for every row shape of the
//! property tests, at cuts anywhere (empty chunks included), split and in place, and from
//! threads.

mod common;

use common::{check_log_softmax, check_softmax, isas_under_test, Dist, Rng};
use twopass::{Kernels, LseState};

/// Chunk boundaries of a row of `n`: 1-5 chunks cut at random places (some empty).
fn cuts(n: usize, r: &mut Rng) -> Vec<usize> {
    let mut b: Vec<usize> = (0..r.below(5)).map(|_| r.below(n + 1)).collect();
    b.extend([0, n]);
    b.sort_unstable();
    b
}

/// The row's merged state from its chunks' states, merged last chunk first.
fn merged(k: Kernels, x: &[f32], b: &[usize]) -> LseState {
    let parts: Vec<LseState> = b
        .windows(2)
        .map(|w| {
            let mut s = LseState::new();
            k.lse_update(&mut s, &x[w[0]..w[1]]);
            s
        })
        .collect();
    let mut total = LseState::new();
    for p in parts.iter().rev() {
        total.merge(p);
    }
    total
}

/// Softmax (or log-softmax) of `x` chunk by chunk, split, and again in place: they must agree
/// bit for bit.
fn finish(k: Kernels, x: &[f32], b: &[usize], log: bool) -> Result<Vec<f32>, String> {
    let state = merged(k, x, b);
    let mut y = vec![-7.0; x.len()];
    let mut z = x.to_vec();
    for w in b.windows(2) {
        let (c, r) = (&x[w[0]..w[1]], w[0]..w[1]);
        if log {
            k.log_softmax_finish(&state, c, &mut y[r.clone()])
                .map_err(|e| e.to_string())?;
            k.log_softmax_finish_in_place(&state, &mut z[r]);
        } else {
            k.softmax_finish(&state, c, &mut y[r.clone()])
                .map_err(|e| e.to_string())?;
            k.softmax_finish_in_place(&state, &mut z[r]);
        }
    }
    if y.iter().zip(&z).any(|(a, b)| a.to_bits() != b.to_bits()) {
        return Err("in place differs from split".into());
    }
    Ok(y)
}

#[test]
fn split_rows_meet_the_bounds_on_every_isa() {
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for dist in Dist::ALL {
            for n in [1, 2, 15, 16, 17, 100, 1000, 4099, 70_000] {
                for seed in 0..3 {
                    let x = dist.row(n, seed);
                    let b = cuts(n, &mut Rng::new(seed ^ n as u64));
                    let what = format!("{} {dist:?} n={n} seed={seed} cuts {b:?}", isa.name());
                    let y = finish(k, &x, &b, false).unwrap_or_else(|e| panic!("{what}: {e}"));
                    check_softmax(&x, &y, 1.0).unwrap_or_else(|e| panic!("softmax {what}: {e}"));
                    let l = finish(k, &x, &b, true).unwrap_or_else(|e| panic!("{what}: {e}"));
                    check_log_softmax(&x, &l, 1.0)
                        .unwrap_or_else(|e| panic!("log_softmax {what}: {e}"));
                }
            }
        }
    }
}

#[test]
fn a_special_value_in_one_chunk_reaches_every_chunk() {
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for special in [f32::NAN, f32::INFINITY] {
            let mut x: Vec<f32> = (0..300).map(|i| i as f32 * 0.01).collect();
            x[250] = special;
            for log in [false, true] {
                let y = finish(k, &x, &[0, 100, 200, 300], log).unwrap();
                assert!(y.iter().all(|v| v.is_nan()), "{} {special}", isa.name());
            }
        }
        // Only -inf in the row: NaN everywhere. -inf among finite values: 0, or -inf in log.
        let x = vec![f32::NEG_INFINITY; 40];
        assert!(finish(k, &x, &[0, 10, 40], false)
            .unwrap()
            .iter()
            .all(|v| v.is_nan()));
        let mut x = vec![f32::NEG_INFINITY; 40];
        x[35] = 2.0;
        let y = finish(k, &x, &[0, 20, 40], false).unwrap();
        assert_eq!(y[0], 0.0, "{}", isa.name());
        assert!(
            (1.0 - y[35]) <= 2e-6 && y[35] <= 1.0,
            "{}: {}",
            isa.name(),
            y[35]
        );
        let l = finish(k, &x, &[0, 20, 40], true).unwrap();
        assert_eq!(l[0], f32::NEG_INFINITY, "{}", isa.name());
        assert!(l[35].abs() <= 2e-6, "{}: {}", isa.name(), l[35]);
    }
}

#[test]
fn chunk_and_output_lengths_must_match() {
    let k = Kernels::new(twopass::Isa::Scalar).unwrap();
    let mut state = LseState::new();
    k.lse_update(&mut state, &[1.0f32, 2.0]);
    let mut y = [9.0f32; 3];
    assert!(k.softmax_finish(&state, &[1.0f32, 2.0], &mut y).is_err());
    assert!(k
        .log_softmax_finish(&state, &[1.0f32, 2.0], &mut y)
        .is_err());
    assert_eq!(y, [9.0; 3], "nothing written on an error");
}

/// Found by review: merging a state into itself doubles its count; 70 times over, the count
/// saturates at `u64::MAX` instead of wrapping (or panicking in a debug build).
#[test]
fn merged_counts_saturate() {
    let mut state = LseState::new();
    Kernels::active().lse_update(&mut state, &[1.0f32, 2.0, 3.0]);
    let value = state.value();
    for _ in 0..70 {
        let copy = state;
        state.merge(&copy);
    }
    assert_eq!(state.count(), u64::MAX);
    assert!((state.value() - (value + 70.0 * std::f32::consts::LN_2)).abs() < 1e-4);
}

#[test]
fn chunks_on_threads_match_the_one_thread_split() {
    let x = Dist::Normal30.row(1 << 18, 7);
    let b: Vec<usize> = (0..=4).map(|i| i * x.len() / 4).collect();
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        let parts: Vec<LseState> = std::thread::scope(|s| {
            let handles: Vec<_> = b
                .windows(2)
                .map(|w| {
                    let c = &x[w[0]..w[1]];
                    s.spawn(move || {
                        let mut st = LseState::new();
                        k.lse_update(&mut st, c);
                        st
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut state = LseState::new();
        for p in parts.iter().rev() {
            state.merge(p);
        }
        let mut y = vec![0.0f32; x.len()];
        std::thread::scope(|s| {
            for (c, out) in x.chunks(x.len() / 4).zip(y.chunks_mut(x.len() / 4)) {
                let state = &state;
                s.spawn(move || k.softmax_finish(state, c, out).unwrap());
            }
        });
        let one = finish(k, &x, &b, false).unwrap();
        assert!(
            y.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{}",
            isa.name()
        );
        check_softmax(&x, &y, 1.0).unwrap();
    }
}
