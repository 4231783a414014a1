//! `c = a b` and `c += a b` on f32 matrix views, by the `gemm` crate (packed, cache-blocked
//! AVX2 / AVX-512 microkernels, chosen at run time): the only call of its `unsafe` entry point,
//! behind bounds checks. Its microkernels are not ours: a product or sum of small entries may
//! be tiny, so they run [`flushing`] subnormals (FTZ and DAZ set, no microcode assist on
//! Intel, the same bits whatever the caller's MXCSR), the caller's MXCSR restored after.

/// A read-only `rows x cols` matrix in a slice: element `(i, j)` at
/// `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Elements from one row to the next.
    pub row_stride: usize,
    /// Elements from one column to the next.
    pub col_stride: usize,
}

impl<'a> Mat<'a> {
    /// `rows x cols`, row-major, rows `stride` elements apart.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize, stride: usize) -> Mat<'a> {
        Mat {
            data,
            rows,
            cols,
            row_stride: stride,
            col_stride: 1,
        }
    }

    /// The transpose (the same elements).
    pub fn t(self) -> Mat<'a> {
        Mat {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element lies in `data` (and every offset fits an `isize`).
    fn fits(&self) -> bool {
        fits(
            self.data.len(),
            self.rows,
            self.cols,
            self.row_stride,
            self.col_stride,
        )
    }
}

/// Whether `(rows - 1) * row_stride + (cols - 1) * col_stride < len` (true for no element),
/// with both strides fitting an `isize`.
fn fits(len: usize, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1)
        .checked_mul(row_stride)
        .zip((cols - 1).checked_mul(col_stride))
        .and_then(|(a, b)| a.checked_add(b));
    last.is_some_and(|l| l < len) && isize::try_from(row_stride.max(col_stride)).is_ok()
}

/// Runs `f` with MXCSR's flush-to-zero and denormals-are-zero set: tiny results are 0 and
/// subnormal operands read as 0, without the microcode assist Intel cores take for them. The
/// calling thread's MXCSR (mode and flags) comes back afterwards, also if `f` panics.
pub fn flushing<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::fpenv::{read, run_with, DENORMALS_ARE_ZERO, FLUSH_TO_ZERO};
        run_with(read() | FLUSH_TO_ZERO | DENORMALS_ARE_ZERO, f).0
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

/// [`flushing`] on every thread of rayon's current pool too (where `gemm` runs its parts),
/// each thread's MXCSR restored after.
#[cfg(feature = "rayon")]
fn flushing_on_pool<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::fpenv::{read, write, DENORMALS_ARE_ZERO, FLUSH_TO_ZERO};
        let saved: Vec<u32> = rayon::broadcast(|_| {
            let m = read();
            write(m | FLUSH_TO_ZERO | DENORMALS_ARE_ZERO);
            m
        });
        struct Restore(Vec<u32>);
        impl Drop for Restore {
            fn drop(&mut self) {
                rayon::broadcast(|ctx| write(self.0[ctx.index()]));
            }
        }
        let _restore = Restore(saved);
        flushing(f)
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

/// `c = a b` (`accumulate` false) or `c += a b` (true), `c` row-major `a.rows x b.cols` with
/// rows `c_stride` apart, in f32 with the products summed in blocks by the microkernels,
/// [`flushing`] subnormals. With `parallel` (and the feature `rayon`) on rayon's current pool,
/// split by blocks of `c`: each entry is summed in the same order, so the same bits on any
/// pool.
///
/// # Panics
/// When `a.cols != b.rows` or a matrix reaches past its slice.
pub fn matmul(
    c: &mut [f32],
    c_stride: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
    parallel: bool,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert_eq!(k, b.rows, "inner dimensions differ");
    assert!(
        a.fits() && b.fits() && fits(c.len(), m, n, c_stride, 1),
        "a matrix reaches past its slice"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(c_stride.max(1)).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let s = |v: usize| v as isize; // every stride fits an isize (checked above)
    #[cfg(feature = "rayon")]
    let threads = match parallel {
        true => gemm::Parallelism::Rayon(0), // the current pool's threads
        false => gemm::Parallelism::None,
    };
    #[cfg(not(feature = "rayon"))]
    let threads = {
        let _ = parallel;
        gemm::Parallelism::None
    };
    // SAFETY: every offset gemm forms, `i * rs + j * cs` for `i` and `j` below a matrix's rows
    // and columns, lies inside that matrix's slice (`fits`); `c` is exclusively borrowed, so
    // it overlaps neither input; the strides fit an isize.
    let product = || unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            s(c_stride),
            accumulate,
            a.data.as_ptr(),
            s(a.col_stride),
            s(a.row_stride),
            b.data.as_ptr(),
            s(b.col_stride),
            s(b.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    };
    #[cfg(feature = "rayon")]
    if parallel {
        return flushing_on_pool(product);
    }
    flushing(product)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: Mat<'_>, b: Mat<'_>) -> Vec<f64> {
        let at =
            |m: Mat<'_>, i: usize, j: usize| f64::from(m.data[i * m.row_stride + j * m.col_stride]);
        let mut c = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                c[i * b.cols + j] = (0..a.cols).map(|p| at(a, i, p) * at(b, p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn products_of_views_and_transposes() {
        let data: Vec<f32> = (0..40000)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 70, 130), (2, 3, 0)] {
            let a = Mat::rows(&data, m, k, k + 1);
            let bt = Mat::rows(&data[7..], n, k, k); // b = bt^T: column stride k
            let want = naive(a, bt.t());
            let mut c = vec![5.0f32; m * (n + 2)];
            matmul(&mut c, n + 2, a, bt.t(), false, false);
            for i in 0..m {
                for j in 0..n {
                    let (g, w) = (f64::from(c[i * (n + 2) + j]), want[i * n + j]);
                    assert!(
                        (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                        "{m}x{n}x{k} ({i}, {j})"
                    );
                }
                assert_eq!(c[i * (n + 2) + n], 5.0, "past the row untouched");
            }
            matmul(&mut c, n + 2, a, bt.t(), true, true);
            for i in 0..m {
                for j in 0..n {
                    let (g, w) = (f64::from(c[i * (n + 2) + j]), 2.0 * want[i * n + j]);
                    assert!(
                        (g - w).abs() <= 2e-5 * (1.0 + w.abs()),
                        "accumulated ({i}, {j})"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "reaches past")]
    fn a_view_past_its_slice_panics() {
        let data = [1.0f32; 10];
        let mut c = [0.0f32; 4];
        matmul(
            &mut c,
            2,
            Mat::rows(&data, 2, 3, 4),
            Mat::rows(&data, 3, 2, 5),
            false,
            false,
        );
    }
}
