//! The operations of [`Kernels`]: every entry point of the Rust API.

use twopass_kernels::{Io, Table, AXIS_TILE};

use crate::axis::{self, Output};
use crate::cross_entropy::{self, Logits};
use crate::error::{check_axis, check_matrix};
use crate::row::How;
use crate::{
    row, Algorithm, CrossEntropyOptions, CrossEntropyOutputs, Error, Float, Kernels, Shape,
};

/// A row's output pass (`row::softmax`, `row::log_softmax`) on one table.
type RowPass<T> = fn(&Table<T>, Io<'_, T>, How);

/// A finishing step of a split row ([`row::softmax_finish`], [`row::log_softmax_finish`]).
type Finish<T> = fn(&Table<T>, Io<'_, T>, Option<(f64, f64)>, twopass_kernels::Store);

impl Kernels {
    /// `y_i = exp(x_i - max) / sum_j exp(x_j - max)`. NaN, `+inf` or only `-inf` in `x`:
    /// every `y_i` NaN; `-inf` among finite values: 0 there.
    pub fn softmax<T: Float>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        same_len(x, y)?;
        row::softmax(
            self.table(),
            Io::Split(x, y),
            self.softmax_how::<T>(x.len()),
        );
        Ok(())
    }

    /// [`Kernels::softmax`] overwriting `x`.
    pub fn softmax_in_place<T: Float>(&self, x: &mut [T]) {
        let how = self.softmax_how::<T>(x.len());
        row::softmax(self.table(), Io::InPlace(x), how);
    }

    /// `y_i = (x_i - max) - ln(sum_j exp(x_j - max))`. Special rows as [`Kernels::softmax`];
    /// `-inf` among finite values gives `-inf` there.
    pub fn log_softmax<T: Float>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        same_len(x, y)?;
        row::log_softmax(self.table(), Io::Split(x, y), self.log_softmax_how(x.len()));
        Ok(())
    }

    /// [`Kernels::log_softmax`] overwriting `x`.
    pub fn log_softmax_in_place<T: Float>(&self, x: &mut [T]) {
        let how = self.log_softmax_how(x.len());
        row::log_softmax(self.table(), Io::InPlace(x), how);
    }

    /// `ln(sum_i exp(x_i))`: `-inf` for an empty or all `-inf` row, NaN with a NaN, `+inf`
    /// with `+inf` (and no NaN).
    pub fn log_sum_exp<T: Float>(&self, x: &[T]) -> f32 {
        row::log_sum_exp(self.table(), x, self.reduction_algorithm(x.len()))
    }

    /// [`Kernels::softmax`] on each of `rows` rows of `cols` elements, row `r` at
    /// `x[r * x_stride..]` and `y[r * y_stride..]` (strides in elements, `>= cols`).
    pub fn softmax_rows<T: Float>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let how = self.softmax_how::<T>(cols);
        self.map_rows(x, x_stride, y, y_stride, rows, cols, how, row::softmax)
    }

    /// [`Kernels::softmax_rows`] overwriting `x`.
    pub fn softmax_rows_in_place<T: Float>(
        &self,
        x: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let how = self.softmax_how::<T>(cols);
        self.map_rows_in_place(x, stride, rows, cols, how, row::softmax)
    }

    /// [`Kernels::log_softmax`] on each row, as [`Kernels::softmax_rows`].
    pub fn log_softmax_rows<T: Float>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let how = self.log_softmax_how(cols);
        self.map_rows(x, x_stride, y, y_stride, rows, cols, how, row::log_softmax)
    }

    /// [`Kernels::log_softmax_rows`] overwriting `x`.
    pub fn log_softmax_rows_in_place<T: Float>(
        &self,
        x: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let how = self.log_softmax_how(cols);
        self.map_rows_in_place(x, stride, rows, cols, how, row::log_softmax)
    }

    /// `out[r] = ln(sum_i exp(x_r,i))` for each of `rows` rows (`out.len() == rows`).
    pub fn log_sum_exp_rows<T: Float>(
        &self,
        x: &[T],
        stride: usize,
        rows: usize,
        cols: usize,
        out: &mut [f32],
    ) -> Result<(), Error> {
        check_matrix("x", x.len(), stride, rows, cols)?;
        if out.len() != rows {
            return Err(Error::LengthMismatch {
                input: rows,
                output: out.len(),
            });
        }
        if cols == 0 {
            out.fill(f32::NEG_INFINITY);
            return Ok(());
        }
        for (r, o) in out.iter_mut().enumerate() {
            *o = self.log_sum_exp(&x[r * stride..][..cols]);
        }
        Ok(())
    }

    /// [`Kernels::softmax`] along the middle axis of a contiguous `(outer, len, inner)` tensor
    /// (last index fastest, `x.len() == y.len() == outer * len * inner`): each of the
    /// `outer * inner` rows is `x[(o * len + k) * inner + j]` for `k < len`, softmax over `k`
    /// (an ONNX or torch `axis` with `outer` the product of the dims before it, `inner` of those
    /// after). Special rows as [`Kernels::softmax`], each row on its own. With `inner == 1` the
    /// rows are contiguous and run as [`Kernels::softmax_rows`]; otherwise vectors of adjacent
    /// rows are reduced together, one lane per row: three-pass reload down the columns under
    /// [`Algorithm::ThreePassReload`], and under `Auto` while a tile of up to 1024 columns is
    /// below [`crate::Crossover::axis_online_from`] (always on scalar); else an online
    /// max-and-sum pass, then the output pass (docs/accuracy.md).
    pub fn softmax_axis<T: Float>(
        &self,
        x: &[T],
        y: &mut [T],
        outer: usize,
        len: usize,
        inner: usize,
    ) -> Result<(), Error> {
        self.map_axis(Io::Split(x, y), (outer, len, inner), Output::Softmax)
    }

    /// [`Kernels::softmax_axis`] overwriting `x`.
    pub fn softmax_axis_in_place<T: Float>(
        &self,
        x: &mut [T],
        outer: usize,
        len: usize,
        inner: usize,
    ) -> Result<(), Error> {
        self.map_axis(Io::InPlace(x), (outer, len, inner), Output::Softmax)
    }

    /// [`Kernels::log_softmax`] along the middle axis, as [`Kernels::softmax_axis`].
    pub fn log_softmax_axis<T: Float>(
        &self,
        x: &[T],
        y: &mut [T],
        outer: usize,
        len: usize,
        inner: usize,
    ) -> Result<(), Error> {
        self.map_axis(Io::Split(x, y), (outer, len, inner), Output::LogSoftmax)
    }

    /// [`Kernels::log_softmax_axis`] overwriting `x`.
    pub fn log_softmax_axis_in_place<T: Float>(
        &self,
        x: &mut [T],
        outer: usize,
        len: usize,
        inner: usize,
    ) -> Result<(), Error> {
        self.map_axis(Io::InPlace(x), (outer, len, inner), Output::LogSoftmax)
    }

    /// `out[o * inner + j] = ln(sum_k exp(x[(o * len + k) * inner + j]))`: log-sum-exp along
    /// the middle axis, as [`Kernels::softmax_axis`] (`out.len() == outer * inner`; `-inf`
    /// where `len == 0`; special rows as [`Kernels::log_sum_exp`]).
    pub fn log_sum_exp_axis<T: Float>(
        &self,
        x: &[T],
        outer: usize,
        len: usize,
        inner: usize,
        out: &mut [f32],
    ) -> Result<(), Error> {
        check_axis("x", x.len(), (outer, len, inner))?;
        if check_axis("out", out.len(), (outer, 1, inner))? == 0 {
            return Ok(());
        }
        if inner == 1 {
            return self.log_sum_exp_rows(x, len, outer, len, out);
        }
        let columns = self.axis_columns::<T>(x.len(), (len, inner));
        axis::log_sum_exp(self.table(), x, (outer, len, inner), columns, out);
        Ok(())
    }

    /// Folds `x` into `state` (see [`crate::LseState`]), with these kernels.
    ///
    /// This is also the first of three steps for one long row cut into chunks, each chunk on a
    /// thread of the caller's: (1) each thread folds its chunk into a state of its own
    /// (`lse_update`); (2) the states are merged into the row's ([`crate::LseState::merge`],
    /// in any order); (3) each thread writes its chunk's outputs from the merged state
    /// ([`Kernels::softmax_finish`], [`Kernels::log_softmax_finish`]). One read of each chunk
    /// per step, no max pass, and no thread waits for another except at the merge.
    pub fn lse_update<T: Float>(&self, state: &mut crate::LseState, x: &[T]) {
        state.update_with(self, x);
    }

    /// Runs a finishing step `f` over `io` from the merged `state`, storing as the whole row
    /// would (`state` counts its elements): the chunks of a long row store non-temporally, as
    /// one call over the row does.
    fn finish<T: Float>(&self, state: &crate::LseState, io: Io<'_, T>, f: Finish<T>) {
        let row = usize::try_from(state.count()).unwrap_or(usize::MAX);
        let store = self.crossover().store_for(row.max(io.input().len()));
        f(self.table(), io, state.finite_split(), store);
    }

    /// Softmax of one chunk `x` of a row whose log-sum-exp `state` holds (the last of the
    /// three steps of [`Kernels::lse_update`]): `y_i = exp(x_i - lse)`. The chunks' outputs
    /// agree with [`Kernels::softmax`] of the whole row within docs/accuracy.md's bound (not
    /// bitwise). A row with a NaN or `+inf`, or with nothing but `-inf`, gives NaN in every
    /// chunk, as softmax does, and so does a state with no finite element (a new one); `x`
    /// must come from the row `state` covers (else outputs are `exp(x_i - lse)` all the same,
    /// and may exceed 1). Stores as a call over the whole row would: non-temporally when the
    /// row (`state.count()` elements) is at least `Crossover::non_temporal_from` long, so a
    /// chunk read straight back comes from memory.
    pub fn softmax_finish<T: Float>(
        &self,
        state: &crate::LseState,
        x: &[T],
        y: &mut [T],
    ) -> Result<(), Error> {
        same_len(x, y)?;
        self.finish(state, Io::Split(x, y), row::softmax_finish);
        Ok(())
    }

    /// [`Kernels::softmax_finish`] overwriting `x`.
    pub fn softmax_finish_in_place<T: Float>(&self, state: &crate::LseState, x: &mut [T]) {
        self.finish(state, Io::InPlace(x), row::softmax_finish);
    }

    /// Log-softmax of one chunk `x` of a row whose log-sum-exp `state` holds (the last of the
    /// three steps of [`Kernels::lse_update`]): `y_i = x_i - lse`, within docs/accuracy.md's
    /// bound of [`Kernels::log_softmax`] of the whole row. Special rows as
    /// [`Kernels::softmax_finish`]; `-inf` among finite values gives `-inf` there.
    pub fn log_softmax_finish<T: Float>(
        &self,
        state: &crate::LseState,
        x: &[T],
        y: &mut [T],
    ) -> Result<(), Error> {
        same_len(x, y)?;
        self.finish(state, Io::Split(x, y), row::log_softmax_finish);
        Ok(())
    }

    /// [`Kernels::log_softmax_finish`] overwriting `x`.
    pub fn log_softmax_finish_in_place<T: Float>(&self, state: &crate::LseState, x: &mut [T]) {
        self.finish(state, Io::InPlace(x), row::log_softmax_finish);
    }

    /// Cross-entropy of `rows x cols` logits (row stride `shape.stride`) against class-index
    /// `targets`, torch semantics (see [`CrossEntropyOptions`] and docs/accuracy.md):
    /// `loss_r = (1 - eps) w_t (lse - x_t) + (eps / C) (W lse - sum_c w_c x_c) + z lse^2`.
    /// Writes the outputs asked for, and the gradient w.r.t. the logits into `grad` (a buffer and
    /// its row stride) when given; returns the reduced loss (for [`Reduction::None`](crate::Reduction::None), the sum).
    /// Everything is checked before anything is written.
    pub fn cross_entropy<T: Float>(
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
        Ok(cross_entropy::run(
            self,
            Logits::Separate(logits, grad),
            shape,
            targets,
            options,
            out,
        ))
    }

    /// [`Kernels::cross_entropy`] on logits with the classes on the middle axis of a contiguous
    /// `(outer, cols, inner)` tensor (ONNX's `(N, C, d1, ...)`, `inner = d1 * ...`): row
    /// `(n, d)` is `logits[(n * cols + c) * inner + d]`, `c < cols`, its target
    /// `targets[n * inner + d]`; the `outer * inner` rows reduce together, `row_losses` /
    /// `row_lse` / `grad_output` (for [`Reduction::None`](crate::Reduction::None)) have
    /// `outer * inner` entries, and `grad` and `out.log_prob` (whose stride is unused) the
    /// logits' layout. Every semantic and bound of [`Kernels::cross_entropy`] holds per row;
    /// with `inner == 1` it is that call. Otherwise each row's classes are gathered a chunk at a
    /// time (no transposing copy, no allocation), which costs a strided read per element.
    pub fn cross_entropy_axis<T: Float>(
        &self,
        logits: &[T],
        shape: (usize, usize, usize),
        targets: &[i64],
        options: &CrossEntropyOptions<'_>,
        out: CrossEntropyOutputs<'_, T>,
        grad: Option<&mut [T]>,
    ) -> Result<f32, Error> {
        cross_entropy::check_axis(logits.len(), shape, targets, options, &out)?;
        if let Some(g) = &grad {
            check_axis("grad", g.len(), shape)?;
        }
        let grad = grad.map(|g| (g, 0));
        Ok(cross_entropy::run_axis(
            self,
            Logits::Separate(logits, grad),
            shape,
            targets,
            options,
            out,
        ))
    }

    /// [`Kernels::cross_entropy_axis`] writing the gradient over the logits.
    pub fn cross_entropy_axis_in_place<T: Float>(
        &self,
        logits: &mut [T],
        shape: (usize, usize, usize),
        targets: &[i64],
        options: &CrossEntropyOptions<'_>,
        out: CrossEntropyOutputs<'_, T>,
    ) -> Result<f32, Error> {
        cross_entropy::check_axis(logits.len(), shape, targets, options, &out)?;
        Ok(cross_entropy::run_axis(
            self,
            Logits::InPlace(logits),
            shape,
            targets,
            options,
            out,
        ))
    }

    /// [`Kernels::cross_entropy`] writing the gradient over the logits (same stride).
    pub fn cross_entropy_in_place<T: Float>(
        &self,
        logits: &mut [T],
        shape: Shape,
        targets: &[i64],
        options: &CrossEntropyOptions<'_>,
        out: CrossEntropyOutputs<'_, T>,
    ) -> Result<f32, Error> {
        cross_entropy::check(logits.len(), shape, targets, options, &out)?;
        Ok(cross_entropy::run(
            self,
            Logits::InPlace(logits),
            shape,
            targets,
            options,
            out,
        ))
    }

    /// Checks the buffers of an `(outer, len, inner)` tensor and writes `output` (softmax or
    /// log-softmax) of every row: with `inner == 1` the contiguous rows as the rows functions
    /// do, else down the columns (softmax's form chosen by [`Kernels::axis_softmax`]).
    fn map_axis<T: Float>(
        &self,
        mut io: Io<'_, T>,
        shape: (usize, usize, usize),
        output: Output,
    ) -> Result<(), Error> {
        let n = check_axis("x", io.input().len(), shape)?;
        if let Io::Split(_, y) = &io {
            check_axis("y", y.len(), shape)?;
        }
        let (outer, len, inner) = shape;
        if n == 0 {
            // No row has an element (nor any work, whatever `outer`).
            return Ok(());
        }
        if inner == 1 {
            let (f, how): (RowPass<T>, How) = match output {
                Output::LogSoftmax => (row::log_softmax, self.log_softmax_how(len)),
                _ => (row::softmax, self.softmax_how::<T>(len)),
            };
            for o in 0..outer {
                f(
                    self.table(),
                    axis::part(&mut io, o * len..(o + 1) * len),
                    how,
                );
            }
            return Ok(());
        }
        let columns = self.axis_columns::<T>(n, (len, inner));
        let output = match output {
            Output::LogSoftmax => output,
            _ => self.axis_softmax(len, inner.min(columns)),
        };
        // Non-temporal stores where the rows would take them: the output outgrows the caches.
        let store = self.crossover().store_for(n);
        axis::map(self.table(), io, shape, columns, (output, store));
        Ok(())
    }

    /// Columns per tile along an axis of `len` rows of `inner` columns in a tensor of `n`
    /// elements: one strip's (`Table::strip`) for an axis of at most four strips below
    /// `Crossover::axis_strips_below` elements, else up to `AXIS_TILE`; a folded axis's whole
    /// width (`axis::tile_columns`).
    fn axis_columns<T: Float>(&self, n: usize, (len, inner): (usize, usize)) -> usize {
        let t = self.table::<T>();
        let columns = if inner <= 4 * t.strip && n < self.crossover().axis_strips_below {
            t.strip
        } else {
            AXIS_TILE
        };
        axis::tile_columns((len, inner), columns, (t.lanes, t.strip))
    }

    /// How softmax runs along the axis of a tensor of `len` rows of tiles `columns` wide: by
    /// three-pass reload under `ThreePassReload`, and under `Auto` while a tile (`len *
    /// columns` elements) is below `Crossover::axis_online_from`; else by the online pass.
    fn axis_softmax(&self, len: usize, columns: usize) -> Output {
        let tile = len.saturating_mul(columns);
        let reload = match self.algorithm() {
            Algorithm::ThreePassReload => true,
            Algorithm::Auto => tile < self.crossover().axis_online_from,
            _ => false,
        };
        if reload {
            Output::SoftmaxReload
        } else {
            Output::Softmax
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn map_rows<T: Float>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
        how: How,
        f: RowPass<T>,
    ) -> Result<(), Error> {
        check_matrix("x", x.len(), x_stride, rows, cols)?;
        check_matrix("y", y.len(), y_stride, rows, cols)?;
        if cols == 0 {
            return Ok(());
        }
        for r in 0..rows {
            let xr = &x[r * x_stride..][..cols];
            let yr = &mut y[r * y_stride..][..cols];
            f(self.table(), Io::Split(xr, yr), how);
        }
        Ok(())
    }

    fn map_rows_in_place<T: Float>(
        &self,
        x: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
        how: How,
        f: RowPass<T>,
    ) -> Result<(), Error> {
        check_matrix("x", x.len(), stride, rows, cols)?;
        if cols == 0 {
            return Ok(());
        }
        for r in 0..rows {
            f(self.table(), Io::InPlace(&mut x[r * stride..][..cols]), how);
        }
        Ok(())
    }
}

/// [`Error::LengthMismatch`] unless `x` and `y` are as long.
pub(crate) fn same_len<T>(x: &[T], y: &[T]) -> Result<(), Error> {
    if x.len() == y.len() {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            input: x.len(),
            output: y.len(),
        })
    }
}
