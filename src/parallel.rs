//! The `rayon` feature: one long row split across rayon's threads in [`PAR_CHUNK`]-element
//! chunks (each chunk's [`LseState`], merged in chunk order, then each chunk's outputs), and
//! matrices split by rows; below [`PAR_MIN`] elements, the one-thread call. The chunking
//! depends on the row length only, never on the number of threads, so results are the same bits
//! on any pool.

use rayon::prelude::*;

use crate::cross_entropy::{self, row_blocks, Call, Logits};
use crate::error::check_matrix;
use crate::{
    CrossEntropyOptions, CrossEntropyOutputs, Error, Float, Kernels, LinearOutputs, LinearShape,
    LseState, RngState, SampleParams, Shape,
};

/// Elements per chunk of a split row, and about per task of a matrix split by rows (the
/// blocks cross-entropy sums its row losses by).
pub const PAR_CHUNK: usize = cross_entropy::ROW_BLOCK;

/// Rows (and matrices) of fewer elements run as the one-thread call: each thread's share must
/// outweigh waking the pool's threads (twice per split row). On an Intel Xeon guest with 2
/// vCPUs (KVM), 2 threads ran a 1M row at 0.78-0.94x one call's speed and 2M at 0.91-0.99x,
/// in every run, and 4M at 1.5-1.6x (the reproduction's "One row on 2 threads", and a loop of
/// 41 calls each way).
pub const PAR_MIN: usize = 1 << 22;

/// The row's merged state: each chunk's, merged in chunk order.
fn merged<T: Float>(k: &Kernels, x: &[T]) -> LseState {
    let parts: Vec<LseState> = x
        .par_chunks(PAR_CHUNK)
        .map(|c| {
            let mut s = LseState::new();
            k.lse_update(&mut s, c);
            s
        })
        .collect();
    let mut state = LseState::new();
    for p in &parts {
        state.merge(p);
    }
    state
}

type OneCall<T> = fn(&Kernels, &[T], &mut [T]) -> Result<(), Error>;
type FinishChunk<T> = fn(&Kernels, &LseState, &[T], &mut [T]) -> Result<(), Error>;

/// `x` into `y` by `one` for a row shorter than [`PAR_MIN`] (and for the length error, before
/// anything is written); else each chunk's state on the pool, merged, then `finish` per chunk.
fn split_row<T: Float>(
    k: &Kernels,
    x: &[T],
    y: &mut [T],
    one: OneCall<T>,
    finish: FinishChunk<T>,
) -> Result<(), Error> {
    if x.len() < PAR_MIN || x.len() != y.len() {
        return one(k, x, y);
    }
    let state = merged(k, x);
    x.par_chunks(PAR_CHUNK)
        .zip(y.par_chunks_mut(PAR_CHUNK))
        .try_for_each(|(xc, yc)| finish(k, &state, xc, yc))
}

/// How many rows a task of a row-split matrix takes: about [`PAR_CHUNK`] elements.
fn rows_per_task(cols: usize) -> usize {
    (PAR_CHUNK / cols.max(1)).max(1)
}

/// Runs `f` on blocks of [`rows_per_task`] rows of the checked matrices `x` and `y`, in
/// parallel; each block's slices start at its first row.
fn by_rows<T: Float>(
    (x, x_stride): (&[T], usize),
    (y, y_stride): (&mut [T], usize),
    rows: usize,
    cols: usize,
    f: impl Fn(&[T], &mut [T], usize) -> Result<(), Error> + Sync,
) -> Result<(), Error> {
    check_matrix("x", x.len(), x_stride, rows, cols)?;
    check_matrix("y", y.len(), y_stride, rows, cols)?;
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if rows.saturating_mul(cols) < PAR_MIN {
        return f(x, y, rows);
    }
    let per = rows_per_task(cols);
    x.par_chunks(per * x_stride)
        .zip(y.par_chunks_mut(per * y_stride))
        .enumerate()
        .try_for_each(
            |(b, (xb, yb))| match rows.saturating_sub(b * per).min(per) {
                0 => Ok(()),
                r => f(xb, yb, r),
            },
        )
}

/// A checked cross-entropy call with its blocks of rows on the pool; the blocks' loss sums
/// added in order, as [`cross_entropy::run`] does.
fn cross_entropy_rows<T: Float>(
    k: &Kernels,
    logits: Logits<'_, T>,
    shape: Shape,
    targets: &[i64],
    options: &CrossEntropyOptions<'_>,
    out: CrossEntropyOutputs<'_, T>,
) -> f32 {
    if shape.rows.saturating_mul(shape.cols) < PAR_MIN {
        return cross_entropy::run(k, logits, shape, targets, options, out);
    }
    let call = Call::new(options, shape.cols, targets, &out);
    let blocks: Vec<_> = row_blocks(logits, shape, targets, out).collect();
    let sums: Vec<f64> = blocks
        .into_par_iter()
        .map(|b| call.rows(k, shape.stride, b))
        .collect();
    call.loss(sums.iter().fold(0.0, |a, s| a + s))
}

impl Kernels {
    /// [`Kernels::softmax`] with one long row split across rayon's threads (feature `rayon`):
    /// chunks of [`PAR_CHUNK`] elements, each chunk's state, merged, then each chunk's
    /// outputs ([`Kernels::softmax_finish`]). Rows shorter than [`PAR_MIN`] run as
    /// [`Kernels::softmax`]. The same bits on any number of threads; within docs/accuracy.md's
    /// bounds of [`Kernels::softmax`], not bitwise equal to it.
    pub fn softmax_par<T: Float>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        split_row(self, x, y, Kernels::softmax, Kernels::softmax_finish)
    }

    /// [`Kernels::log_softmax`] split across rayon's threads, as [`Kernels::softmax_par`].
    pub fn log_softmax_par<T: Float>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        split_row(
            self,
            x,
            y,
            Kernels::log_softmax,
            Kernels::log_softmax_finish,
        )
    }

    /// [`Kernels::log_sum_exp`] split across rayon's threads, as [`Kernels::softmax_par`].
    pub fn log_sum_exp_par<T: Float>(&self, x: &[T]) -> f32 {
        if x.len() < PAR_MIN {
            return self.log_sum_exp(x);
        }
        merged(self, x).value()
    }

    /// [`Kernels::softmax_rows`] with blocks of rows on rayon's threads (about
    /// [`PAR_CHUNK`] elements each): the same bits as [`Kernels::softmax_rows`].
    pub fn softmax_rows_par<T: Float>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        by_rows((x, x_stride), (y, y_stride), rows, cols, |xb, yb, r| {
            self.softmax_rows(xb, x_stride, yb, y_stride, r, cols)
        })
    }

    /// [`Kernels::sample_rows`] with the rows on rayon's threads: the same tokens and counter
    /// whatever the pool (row `r` draws with counter `rng.counter + r`), nothing written on an
    /// error.
    pub fn sample_rows_par<T: Float>(
        &self,
        x: &[T],
        stride: usize,
        cols: usize,
        params: &SampleParams,
        rng: &mut RngState,
        out: &mut [usize],
    ) -> Result<(), Error> {
        self.sample_rows_by(x, stride, cols, params, rng, out, |rows, draw| {
            (0..rows).into_par_iter().map(draw).collect()
        })
    }

    /// [`Kernels::log_softmax_rows`] with blocks of rows on rayon's threads, as
    /// [`Kernels::softmax_rows_par`].
    pub fn log_softmax_rows_par<T: Float>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        by_rows((x, x_stride), (y, y_stride), rows, cols, |xb, yb, r| {
            self.log_softmax_rows(xb, x_stride, yb, y_stride, r, cols)
        })
    }

    /// [`Kernels::linear_cross_entropy`] with its matrix products on rayon's pool (split by
    /// blocks of their outputs): the same bits as the one-thread call on any pool.
    #[allow(clippy::too_many_arguments)]
    pub fn linear_cross_entropy_par<T: Float>(
        &self,
        hidden: &[T],
        weight: &[T],
        bias: Option<&[T]>,
        shape: LinearShape,
        targets: &[i64],
        options: &CrossEntropyOptions<'_>,
        out: LinearOutputs<'_>,
    ) -> Result<f32, Error> {
        let weights = (weight, bias);
        crate::linear::linear(self, hidden, weights, shape, targets, options, out, true)
    }

    /// [`Kernels::cross_entropy`] with blocks of rows (about [`PAR_CHUNK`] elements each) on
    /// rayon's threads: the same bits as [`Kernels::cross_entropy`] (every output, and the
    /// loss: both add the blocks' sums in order), nothing written on an error.
    pub fn cross_entropy_par<T: Float>(
        &self,
        logits: &[T],
        shape: Shape,
        targets: &[i64],
        options: &CrossEntropyOptions<'_>,
        out: CrossEntropyOutputs<'_, T>,
        grad: Option<(&mut [T], usize)>,
    ) -> Result<f32, Error> {
        cross_entropy::check(logits.len(), shape, targets, options, &out)?;
        if let Some((g, g_stride)) = &grad {
            check_matrix("grad", g.len(), *g_stride, shape.rows, shape.cols)?;
        }
        let logits = Logits::Separate(logits, grad);
        Ok(cross_entropy_rows(
            self, logits, shape, targets, options, out,
        ))
    }

    /// [`Kernels::cross_entropy_in_place`] with blocks of rows on rayon's threads, as
    /// [`Kernels::cross_entropy_par`].
    pub fn cross_entropy_in_place_par<T: Float>(
        &self,
        logits: &mut [T],
        shape: Shape,
        targets: &[i64],
        options: &CrossEntropyOptions<'_>,
        out: CrossEntropyOutputs<'_, T>,
    ) -> Result<f32, Error> {
        cross_entropy::check(logits.len(), shape, targets, options, &out)?;
        let logits = Logits::InPlace(logits);
        Ok(cross_entropy_rows(
            self, logits, shape, targets, options, out,
        ))
    }
}
