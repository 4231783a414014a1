//! The public API's contracts: errors before any write, row-batched forms, `LseState`,
//! determinism across threads.

mod common;

use common::{check_lse, isas_under_test, variants, Dist, Rng};
use twopass::{Error, Kernels, LseState};

#[test]
fn length_mismatch_is_an_error_and_writes_nothing() {
    for k in variants() {
        let x = [1.0f32, 2.0, 3.0];
        let mut y = [7.0f32; 4];
        let want = Err(Error::LengthMismatch {
            input: 3,
            output: 4,
        });
        assert_eq!(k.softmax(&x, &mut y), want);
        assert_eq!(k.log_softmax(&x, &mut y), want);
        assert_eq!(y, [7.0; 4]);
    }
}

#[test]
fn rows_match_single_rows_and_leave_padding_alone() {
    let (rows, cols, xs, ys) = (5, 37, 40, 45);
    let x = Dist::Normal30.row(rows * xs, 9);
    for k in variants() {
        let mut y = vec![-1.0f32; rows * ys];
        k.softmax_rows(&x, xs, &mut y, ys, rows, cols).unwrap();
        let mut l = vec![-1.0f32; rows * ys];
        k.log_softmax_rows(&x, xs, &mut l, ys, rows, cols).unwrap();
        let mut lse = vec![0.0f32; rows];
        k.log_sum_exp_rows(&x, xs, rows, cols, &mut lse).unwrap();
        let mut inplace = x.clone();
        k.softmax_rows_in_place(&mut inplace, xs, rows, cols)
            .unwrap();
        let mut log_inplace = x.clone();
        k.log_softmax_rows_in_place(&mut log_inplace, xs, rows, cols)
            .unwrap();
        for r in 0..rows {
            let row = &x[r * xs..][..cols];
            let mut one = vec![0.0; cols];
            k.softmax(row, &mut one).unwrap();
            assert_eq!(&y[r * ys..][..cols], &one[..]);
            assert_eq!(&inplace[r * xs..][..cols], &one[..]);
            assert!(y[r * ys + cols..(r + 1) * ys].iter().all(|&v| v == -1.0));
            assert_eq!(
                &inplace[r * xs + cols..(r + 1) * xs],
                &x[r * xs + cols..(r + 1) * xs]
            );
            k.log_softmax(row, &mut one).unwrap();
            assert_eq!(&l[r * ys..][..cols], &one[..]);
            assert_eq!(&log_inplace[r * xs..][..cols], &one[..]);
            assert_eq!(lse[r].to_bits(), k.log_sum_exp(row).to_bits());
        }
    }
}

#[test]
fn bad_shapes_are_errors_and_write_nothing() {
    let k = Kernels::active();
    let x = vec![1.0f32; 100];
    let mut y = vec![5.0f32; 100];
    let mut out = vec![5.0f32; 4];
    assert_eq!(
        k.softmax_rows(&x, 9, &mut y, 10, 4, 10),
        Err(Error::StrideTooSmall {
            buffer: "x",
            stride: 9,
            cols: 10
        })
    );
    assert_eq!(
        k.softmax_rows(&x, 10, &mut y, 31, 4, 10),
        Err(Error::BufferTooShort {
            buffer: "y",
            needed: 103,
            len: 100
        })
    );
    assert_eq!(
        k.log_softmax_rows(&x, usize::MAX / 2, &mut y, 10, 4, 10),
        Err(Error::ShapeOverflow)
    );
    assert_eq!(
        k.log_sum_exp_rows(&x, 10, 5, 10, &mut out),
        Err(Error::LengthMismatch {
            input: 5,
            output: 4
        })
    );
    let mut z = x.clone();
    assert_eq!(
        k.softmax_rows_in_place(&mut z, 10, 11, 10),
        Err(Error::BufferTooShort {
            buffer: "x",
            needed: 110,
            len: 100
        })
    );
    assert!(y.iter().chain(&out).all(|&v| v == 5.0));
    assert_eq!(z, x);
    // Degenerate shapes are fine: no rows, or rows of no columns.
    k.softmax_rows::<f32>(&[], 0, &mut [], 0, 0, 10).unwrap();
    k.softmax_rows::<f32>(&[], 0, &mut [], 0, 3, 0).unwrap();
    let mut lse = [0.0f32; 3];
    k.log_sum_exp_rows::<f32>(&[], 0, 3, 0, &mut lse).unwrap();
    assert_eq!(lse, [f32::NEG_INFINITY; 3]);
}

/// Matrices of no element (rows of no column) fit in any buffer, empty ones included: nothing is
/// read, and log-sum-exp is `-inf` per row.
#[test]
fn rows_of_no_column_need_no_buffer() {
    let k = Kernels::active();
    let mut out = [7.0f32; 3];
    k.softmax_rows::<f32>(&[], 5, &mut [], 5, 3, 0).unwrap();
    k.log_softmax_rows_in_place::<f32>(&mut [], 5, 3, 0)
        .unwrap();
    k.log_sum_exp_rows::<f32>(&[], 4, 3, 0, &mut out).unwrap();
    assert_eq!(out, [f32::NEG_INFINITY; 3]);
}

#[test]
fn errors_read_well() {
    let e = Error::BufferTooShort {
        buffer: "y",
        needed: 103,
        len: 100,
    };
    assert_eq!(e.to_string(), "y has 100 elements but the shape spans 103");
}

#[test]
fn lse_state_layout_is_32_bytes() {
    assert_eq!(std::mem::size_of::<LseState>(), 32);
    assert_eq!(std::mem::align_of::<LseState>(), 8);
    assert_eq!(LseState::new().value(), f32::NEG_INFINITY);
}

#[test]
fn lse_state_chunked_and_merged_matches_one_shot() {
    let mut rng = Rng::new(5);
    for dist in Dist::ALL {
        for k in variants() {
            let n = 1 + rng.below(5000);
            let x = dist.row(n, rng.next_u64());
            let whole = k.log_sum_exp(&x);
            // Chunks of random sizes, folded into two states merged in either order.
            let (mut a, mut b) = (LseState::new(), LseState::new());
            let mut i = 0;
            while i < n {
                let len = (1 + rng.below(700)).min(n - i);
                let target = if rng.uniform() < 0.5 { &mut a } else { &mut b };
                k.lse_update(target, &x[i..i + len]);
                i += len;
            }
            let (mut ab, mut ba) = (a, b);
            ab.merge(&b);
            ba.merge(&a);
            assert_eq!(ab.count(), n as u64);
            for v in [ab.value(), ba.value()] {
                check_lse(&x, v, 1.0).unwrap_or_else(|e| panic!("{k:?} {dist:?} n={n}: {e}"));
                if whole.is_nan() || whole.is_infinite() {
                    assert_eq!(v.to_bits(), whole.to_bits());
                }
            }
        }
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "2^26 updates: run with --release")]
fn lse_state_takes_2_pow_26_single_updates() {
    let n = 1usize << 26;
    let x: Vec<f32> = (0..n)
        .map(|i| (i % 4096) as f32 * 0.01 + (i >> 12) as f32 * 1e-3)
        .collect();
    let k = Kernels::active();
    let mut s = LseState::new();
    for v in x.chunks(1) {
        k.lse_update(&mut s, v);
    }
    check_lse(&x, s.value(), 1.0).unwrap();
}

#[test]
fn results_do_not_depend_on_the_thread() {
    let x = Dist::Uniform1000.row(10_000, 4);
    for k in variants() {
        let mut here = vec![0.0; x.len()];
        k.softmax(&x, &mut here).unwrap();
        let there = std::thread::scope(|s| {
            s.spawn(|| {
                let mut y = vec![0.0; x.len()];
                k.softmax(&x, &mut y).unwrap();
                y
            })
            .join()
            .unwrap()
        });
        assert!(here
            .iter()
            .zip(&there)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

#[test]
fn every_isa_under_test_is_reachable() {
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        assert_eq!(k.isa(), isa);
        assert!(!k.variant().is_empty());
    }
}
