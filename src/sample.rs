//! Drawing a token from a row of logits: temperature, top-k, top-p and min-p, without sorting
//! the row or writing its softmax.
//!
//! With temperature `T > 0` the token is `i` with probability `w_i / sum_K w_j` over the kept
//! set `K = {i : x_i >= floor}`, `w_i = exp((x_i - max) / T)`, the floor being the highest of
//! the filters':
//! - top-k: the k-th largest logit (ties at it kept, as Hugging Face's warper);
//! - top-p, on the top-k survivors: the least logit whose higher logits hold less than `p` of
//!   their mass (so the smallest set of top tokens holding at least `p`, ties at its edge kept);
//! - min-p: `max + T ln(min_p)` (tokens with at least `min_p` times the top probability).
//!
//! `T = 0` is greedy: the first index of the max, in one read. Temperature alone reads the row
//! once for each block's max, which bounds the block's masses, and draws by rejection from those
//! bounds (`Kernels::draw_bounded`). The filters read the row for its max and their floors
//! (top-p two more), then one read sums the masses per block against the block's max
//! ([`twopass_kernels::sample`]); the draw's uniform `u` (Philox4x32-10 at the draw's counter)
//! picks the block whose running mass passes `u` of the total, then the element within it.
//! The masses are IEEE operations (fused multiply-adds rounded once) in a fixed order, so the
//! same seed and counter give the same token on every ISA. `Kernels::kept_probabilities`
//! writes the distribution itself: the same floor, the masses, then a scaling by their total.

use twopass_kernels::sample::{first_past, uniform, uniform_pair, BlockMass, Masses, Scan};
use twopass_kernels::{Io, Store};

use envelope::Envelope;

use crate::error::check_matrix;
use crate::{Error, Float, Kernels};

mod envelope;

/// How to draw: temperature and the filters (each off at its default).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleParams {
    /// 0 (greedy: the first max) or a normal positive f32 of at most 2^126 (so that `1 / T` is
    /// normal too). Default 1.
    pub temperature: f32,
    /// Keep the `top_k` largest logits (and ties); 0 (the default) keeps all.
    pub top_k: usize,
    /// In `(0, 1]`: keep the top tokens holding `top_p` of the mass; 1 (the default) keeps all.
    pub top_p: f32,
    /// In `[0, 1]`: keep tokens of at least `min_p` times the top probability; 0 (the default)
    /// keeps all.
    pub min_p: f32,
}

impl Default for SampleParams {
    fn default() -> Self {
        SampleParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
        }
    }
}

/// The largest temperature taken: 2^126, whose reciprocal is f32's least normal.
const TEMPERATURE_MAX: f32 = 1.0 / f32::MIN_POSITIVE;

impl SampleParams {
    /// [`Error::InvalidOption`] for a value outside its domain.
    fn check(&self) -> Result<(), Error> {
        let invalid = |name, value| Err(Error::InvalidOption { name, value });
        let t = self.temperature;
        // Above 2^126, 1 / T would be subnormal (and x - max / T past f32's range).
        if !(t == 0.0 || (t.is_normal() && t > 0.0 && t <= TEMPERATURE_MAX)) {
            return invalid("temperature", t);
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return invalid("top_p", self.top_p);
        }
        if !(self.min_p >= 0.0 && self.min_p <= 1.0) {
            return invalid("min_p", self.min_p);
        }
        Ok(())
    }
}

/// Where draws come from: `seed` keys the uniforms, `counter` numbers the draw (each row drawn
/// takes the next). The same pair gives the same token for the same row and parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RngState {
    /// The key.
    pub seed: u64,
    /// The next draw's number.
    pub counter: u64,
}

impl RngState {
    /// Draws numbered from 0 under `seed`.
    pub fn new(seed: u64) -> RngState {
        RngState { seed, counter: 0 }
    }
}

impl Kernels {
    /// A token drawn from `logits` (see the module docs), with draw `rng.counter`, which then
    /// advances by one. Errors, with `rng` unchanged: [`Error::InvalidOption`],
    /// [`Error::EmptyRow`], [`Error::NonFiniteLogit`] (NaN or `+inf`), [`Error::AllMasked`]
    /// (every logit `-inf`).
    ///
    /// ```
    /// use twopass::{Kernels, RngState, SampleParams};
    /// let logits = [1.0f32, 3.0, 2.0, f32::NEG_INFINITY];
    /// let mut rng = RngState::new(42);
    /// let k = Kernels::active();
    /// let greedy = SampleParams { temperature: 0.0, ..SampleParams::default() };
    /// assert_eq!(k.sample(&logits, &greedy, &mut rng)?, 1);
    /// let token = k.sample(&logits, &SampleParams { top_k: 2, ..SampleParams::default() }, &mut rng)?;
    /// assert!(token == 1 || token == 2);
    /// # Ok::<(), twopass::Error>(())
    /// ```
    pub fn sample<T: Float>(
        &self,
        logits: &[T],
        params: &SampleParams,
        rng: &mut RngState,
    ) -> Result<usize, Error> {
        params.check()?;
        let token = self.draw(logits, params, rng.seed, rng.counter)?;
        rng.counter = rng.counter.wrapping_add(1);
        Ok(token)
    }

    /// [`Kernels::sample`] on each of `out.len()` rows of `cols` logits (row `r` at
    /// `x[r * stride..]`), row `r` with draw `rng.counter + r`; `out[r]` is its token and
    /// `rng.counter` advances by the rows. Nothing is written unless every row can be drawn
    /// from.
    pub fn sample_rows<T: Float>(
        &self,
        x: &[T],
        stride: usize,
        cols: usize,
        params: &SampleParams,
        rng: &mut RngState,
        out: &mut [usize],
    ) -> Result<(), Error> {
        self.sample_rows_by(x, stride, cols, params, rng, out, |rows, draw| {
            (0..rows).map(draw).collect()
        })
    }

    /// [`Kernels::sample_rows`] with the tokens of all rows from `all` (given the row count and
    /// row `r`'s draw): checks first, then `out` and the counter once every row is drawn.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sample_rows_by<T: Float>(
        &self,
        x: &[T],
        stride: usize,
        cols: usize,
        params: &SampleParams,
        rng: &mut RngState,
        out: &mut [usize],
        all: impl FnOnce(usize, &RowDraw<'_>) -> Result<Vec<usize>, Error>,
    ) -> Result<(), Error> {
        params.check()?;
        let rows = out.len();
        check_matrix("x", x.len(), stride, rows, cols)?;
        if rows > 0 && cols == 0 {
            // Before any row is sliced: with no columns the matrix check holds for any buffer.
            return Err(Error::EmptyRow);
        }
        let (seed, first) = (rng.seed, rng.counter);
        let draw = |r: usize| {
            let counter = first.wrapping_add(r as u64);
            self.draw(&x[r * stride..][..cols], params, seed, counter)
        };
        out.copy_from_slice(&all(rows, &draw)?);
        rng.counter = first.wrapping_add(rows as u64);
        Ok(())
    }

    /// The distribution [`Kernels::sample`] draws from with `params`, one probability per logit
    /// into `out`: `p_i = w_i / sum_K w_j` over the kept set `K` (module docs), `w_i = exp((x_i -
    /// max) / T)`, and 0 outside it; greedy (`T = 0`) is 1 at the first max. For speculative
    /// decoding, where the verifier needs the target's probabilities of the drafted tokens and
    /// the kept distribution to resample from. Each `p_i` is within `2 (1e-5 max(p_i, q_i) +
    /// 1e-37)` of the exact `q_i` (below 2^-126: 0), and 0 exactly off the kept set: a token
    /// `sample` draws has `p_i > 0` unless its probability is within rounding of f32's least
    /// normal (`sample` weighs against each block's max, this against the row's). Reads the
    /// logits twice (the max, then the masses) besides the filters' own reads, then scales
    /// `out` in place.
    ///
    /// Errors as [`Kernels::sample`], and [`Error::LengthMismatch`] when `out` is not as long
    /// as `logits`; nothing is written then.
    ///
    /// ```
    /// use twopass::{Kernels, SampleParams};
    /// let logits = [1.0f32, 3.0, 2.0, f32::NEG_INFINITY];
    /// let mut p = [0.0f32; 4];
    /// let params = SampleParams { top_k: 2, ..SampleParams::default() };
    /// Kernels::active().kept_probabilities(&logits, &params, &mut p)?;
    /// let e = 1f32.exp();
    /// assert!((p[1] - e / (1.0 + e)).abs() < 1e-6 && p[0] == 0.0 && p[3] == 0.0);
    /// # Ok::<(), twopass::Error>(())
    /// ```
    pub fn kept_probabilities<T: Float>(
        &self,
        logits: &[T],
        params: &SampleParams,
        out: &mut [f32],
    ) -> Result<(), Error> {
        params.check()?;
        if out.len() != logits.len() {
            return Err(Error::LengthMismatch {
                input: logits.len(),
                output: out.len(),
            });
        }
        let scan = self.scan(logits)?;
        if params.temperature == 0.0 {
            out.fill(0.0);
            out[scan.first] = 1.0;
            return Ok(());
        }
        let masses = Masses {
            max: scan.max,
            inv_t: 1.0 / params.temperature,
            floor: floor(self, logits, &scan, params),
        };
        // Weighed a chunk at a time and summed while the chunk is in L1; the max weighs 1, so
        // the total is at least 1 and its reciprocal normal.
        let rweights = self.table::<T>().rweights;
        let mut total = 0.0;
        for (x, w) in logits.chunks(WEIGHED).zip(out.chunks_mut(WEIGHED)) {
            rweights(x, &masses, w);
            total += sum_f64(w);
        }
        (self.table::<f32>().vscale)(Io::InPlace(out), (1.0 / total) as f32, Store::Cached);
        Ok(())
    }

    /// The row's [`Scan`], or why it cannot be drawn from.
    fn scan<T: Float>(&self, x: &[T]) -> Result<Scan, Error> {
        if x.is_empty() {
            return Err(Error::EmptyRow);
        }
        let scan = (self.table::<T>().rscan)(x);
        if !scan.finite {
            Err(Error::NonFiniteLogit)
        } else if scan.max == f32::NEG_INFINITY {
            Err(Error::AllMasked)
        } else {
            Ok(scan)
        }
    }

    /// The token of draw `counter` from `x` with checked parameters: greedy from the scan;
    /// else the block, then the element, where the running mass passes `u` of the total.
    fn draw<T: Float>(
        &self,
        x: &[T],
        params: &SampleParams,
        seed: u64,
        counter: u64,
    ) -> Result<usize, Error> {
        let filtered = params.top_k > 0 || params.top_p < 1.0 || params.min_p > 0.0;
        if params.temperature == 0.0 || filtered {
            let scan = self.scan(x)?;
            if params.temperature == 0.0 {
                return Ok(scan.first);
            }
            let floor = floor(self, x, &scan, params);
            return self.draw_above(x, params.temperature, floor, seed, counter);
        }
        if x.is_empty() {
            return Err(Error::EmptyRow);
        }
        self.draw_bounded(x, params.temperature, seed, counter)
    }

    /// [`Kernels::draw`] at temperature `t` alone, by rejection from an envelope: one read
    /// takes each block's max `m_b`, whose weight against the row's max, `f_b`, bounds the
    /// block's (`f_b w_i <= f_b`). Try `k` (from 1) of the draw's counter takes a pair of
    /// uniforms: the first a slot of the envelope (the blocks' `count_b f_b`, an element each),
    /// the second accepts the slot's element with probability `w_i`. A rejected block's
    /// envelope becomes its mass (summed as [`Kernels::draw_above`] does), its slots the
    /// element search of an exact draw; the envelope stays above the masses, so every
    /// accepted token has the draw's distribution, and after [`TRIES`] rejections the exact
    /// draw decides.
    fn draw_bounded<T: Float>(
        &self,
        x: &[T],
        t: f32,
        seed: u64,
        counter: u64,
    ) -> Result<usize, Error> {
        let table = self.table::<T>();
        let inv_t = 1.0 / t;
        let block = mass_block(x.len());
        let mut maxima = [0.0f32; MASS_BLOCKS];
        let maxima = &mut maxima[..x.len().div_ceil(block)];
        (table.rblockmax)(x, block, maxima);
        if maxima.iter().any(|m| m.is_nan()) {
            return Err(Error::NonFiniteLogit);
        }
        let max = maxima.iter().fold(f32::NEG_INFINITY, |m, &b| m.max(b));
        if max == f32::NEG_INFINITY {
            return Err(Error::AllMasked);
        }
        let mut factor = [0.0f32; MASS_BLOCKS];
        let factor = self.factors(maxima, max, inv_t, &mut factor);
        let part = |b: usize| &x[b * block..x.len().min((b + 1) * block)];
        let mut envelope =
            Envelope::new((0..maxima.len()).map(|b| part(b).len() as f64 * f64::from(factor[b])));
        let mut exact = [false; MASS_BLOCKS];
        for k in 1..=TRIES {
            let [u, v] = uniform_pair(seed, counter, k);
            let (b, left) = envelope.find(u * envelope.total());
            let (start, part) = (b * block, part(b));
            let masses = Masses {
                max: maxima[b],
                inv_t,
                floor: f32::NEG_INFINITY,
            };
            let left = left / f64::from(factor[b]);
            if exact[b] {
                return Ok(start + self.pick(part, &masses, left));
            }
            // Float to int saturates: a slot past the end by rounding is the last.
            let j = (left as usize).min(part.len() - 1);
            let mut w = [0.0f32];
            (table.rweights)(&part[j..=j], &masses, &mut w);
            if v < f64::from(w[0]) {
                return Ok(start + j);
            }
            let mut mass = [BlockMass::default()];
            (table.rblockmass)(part, inv_t, f32::NEG_INFINITY, block, &mut mass);
            envelope.set(b, f64::from(mass[0].mass) * f64::from(factor[b]));
            exact[b] = true;
        }
        self.draw_above(x, t, f32::NEG_INFINITY, seed, counter)
    }

    /// `out[b] = exp((maxima[b] - max) / T)` ([`Masses`]) for each block, the same bits on
    /// every ISA; `out` cut to the maxima's length.
    fn factors<'a>(
        &self,
        maxima: &[f32],
        max: f32,
        inv_t: f32,
        out: &'a mut [f32; MASS_BLOCKS],
    ) -> &'a [f32] {
        let row = Masses {
            max,
            inv_t,
            floor: f32::NEG_INFINITY,
        };
        let out = &mut out[..maxima.len()];
        (self.table::<f32>().rweights)(maxima, &row, out);
        out
    }

    /// [`Kernels::draw`] over the logits at or above `floor`, at temperature `t`.
    fn draw_above<T: Float>(
        &self,
        x: &[T],
        t: f32,
        floor: f32,
        seed: u64,
        counter: u64,
    ) -> Result<usize, Error> {
        let inv_t = 1.0 / t;
        let block = mass_block(x.len());
        let mut blocks = [BlockMass::default(); MASS_BLOCKS];
        let blocks = &mut blocks[..x.len().div_ceil(block)];
        (self.table::<T>().rblockmass)(x, inv_t, floor, block, blocks);
        if blocks.iter().any(|b| b.mass.is_nan()) {
            return Err(Error::NonFiniteLogit);
        }
        let max = blocks.iter().fold(f32::NEG_INFINITY, |m, b| m.max(b.max));
        if max == f32::NEG_INFINITY {
            return Err(Error::AllMasked);
        }
        // Each block's maximum weighed against the row's: the factor of its masses.
        let mut maxima = [0.0f32; MASS_BLOCKS];
        let maxima = &mut maxima[..blocks.len()];
        for (m, b) in maxima.iter_mut().zip(blocks.iter()) {
            *m = b.max;
        }
        let mut factor = [0.0f32; MASS_BLOCKS];
        let factor = self.factors(maxima, max, inv_t, &mut factor);
        let share = |b: usize| f64::from(blocks[b].mass) * f64::from(factor[b]);
        let total: f64 = (0..blocks.len()).map(share).sum();
        let u = uniform(seed, counter) * total;
        let (chosen, target) = first_past((0..blocks.len()).map(share), u);
        let start = chosen * block;
        let part = &x[start..x.len().min(start + block)];
        let masses = Masses {
            max: blocks[chosen].max,
            inv_t,
            floor,
        };
        Ok(start + self.pick(part, &masses, target / f64::from(factor[chosen])))
    }

    /// [`first_past`] over the [`Masses`] of `x` (a block).
    fn pick<T: Float>(&self, x: &[T], masses: &Masses, target: f64) -> usize {
        first_past(self.weighed(x, masses).map(|(_, w)| f64::from(w)), target).0
    }

    /// Each logit of `x` with its mass, computed [`WEIGHED`] at a time.
    fn weighed<'a, T: Float>(
        &self,
        x: &'a [T],
        masses: &'a Masses,
    ) -> impl Iterator<Item = (f32, f32)> + 'a {
        let rweights = self.table::<T>().rweights;
        x.chunks(WEIGHED).flat_map(move |part| {
            let mut w = [0.0f32; WEIGHED];
            rweights(part, masses, &mut w[..part.len()]);
            part.iter().zip(w).map(|(v, w)| (v.to_f32(), w))
        })
    }
}

/// `sum_i w_i` in f64, in four running sums.
fn sum_f64(w: &[f32]) -> f64 {
    let mut acc = [0f64; 4];
    let mut quads = w.chunks_exact(4);
    for q in &mut quads {
        for (a, &v) in acc.iter_mut().zip(q) {
            *a += f64::from(v);
        }
    }
    let rest: f64 = quads.remainder().iter().map(|&v| f64::from(v)).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest
}

/// Row `r`'s token, drawn with the row's counter.
pub(crate) type RowDraw<'a> = dyn Fn(usize) -> Result<usize, Error> + Sync + 'a;

/// Tries of a temperature-only draw before the exact draw decides.
const TRIES: u32 = 64;

/// Elements weighed at a time outside the block sums (a stack array).
const WEIGHED: usize = 256;

/// At most this many blocks of masses (a stack array): rows of more than `256 * MASS_BLOCKS`
/// elements take longer blocks.
const MASS_BLOCKS: usize = 1024;

/// The block length for a row of `n`: 256, or the power of two that keeps the blocks within
/// [`MASS_BLOCKS`] (so the element search reads at most `max(256, n / 1024)` elements).
fn mass_block(n: usize) -> usize {
    n.div_ceil(MASS_BLOCKS).next_power_of_two().max(256)
}

/// The least logit kept by the filters (`-inf` when they keep every one), `scan` the row's.
fn floor<T: Float>(k: &Kernels, x: &[T], scan: &Scan, params: &SampleParams) -> f32 {
    let unfiltered = &Masses {
        max: scan.max,
        inv_t: 1.0 / params.temperature,
        floor: f32::NEG_INFINITY,
    };
    let mut floor = f32::NEG_INFINITY;
    if params.top_k > 0 && params.top_k < x.len() {
        floor = top_k_floor(k, x, params.top_k);
    }
    if params.top_p < 1.0 {
        let masses = Masses {
            floor,
            ..*unfiltered
        };
        floor = floor.max(top_p_floor(k, x, &masses, f64::from(params.top_p)));
    }
    if params.min_p > 0.0 {
        // max + T ln(min_p), rounded up: the least f32 at or above it.
        let t = 1.0 / f64::from(unfiltered.inv_t);
        let v = f64::from(unfiltered.max) + f64::from(params.min_p).ln() * t;
        let f = v as f32;
        floor = floor.max(if f64::from(f) < v { f.next_up() } else { f });
    }
    floor
}

/// The k-th largest logit (`0 < k < x.len()`), in one read: a buffer keeps the logits above a
/// bound `tau` that at least `k` logits seen reach; when it fills, `tau` rises to its k-th
/// largest and the buffer keeps only what is above. A chunk whose max (a vector kernel) is not
/// above `tau` is passed over.
fn top_k_floor<T: Float>(kernels: &Kernels, x: &[T], k: usize) -> f32 {
    let cap = (4 * k).max(256);
    let mut tau = f32::NEG_INFINITY;
    let mut above = Vec::with_capacity(cap);
    let kth = |b: &mut Vec<f32>| *b.select_nth_unstable_by(k - 1, |p, q| q.total_cmp(p)).1;
    let rmax = kernels.table::<T>().rmax;
    for part in x.chunks(WEIGHED) {
        if rmax(part) <= tau {
            continue;
        }
        for &v in part {
            let v = v.to_f32();
            if v > tau {
                above.push(v);
                if above.len() == cap {
                    tau = kth(&mut above);
                    above.retain(|&a| a > tau);
                }
            }
        }
    }
    if above.len() >= k {
        kth(&mut above)
    } else {
        tau
    }
}

/// Histogram buckets per unit of `(x - max) / T` for top-p ...
const BUCKETS_PER_NAT: f32 = 8.0;
/// ... and how many: 24 nats, then one bucket for everything below.
const BUCKETS: usize = 8 * 24 + 1;
/// Copies of the top-p histogram, taking turns by element.
const TURNS: usize = 8;
/// Parts each refinement splits the boundary's logits into, by value.
const PARTS: usize = 64;
/// At most this many boundary logits are sorted.
const SORTED: usize = 64;

/// Top-p's floor over the logits of nonzero mass: the least logit whose higher logits hold less
/// than `p` of the mass. Masses summed into a histogram over `(x - max) / T`; the bucket where
/// the running mass from the top reaches `p` of the total holds the edge, which repeated
/// splits by value (then a sort of at most [`SORTED`] logits) find.
fn top_p_floor<T: Float>(k: &Kernels, x: &[T], masses: &Masses, p: f64) -> f32 {
    // Histograms taking turns, so that a run of logits in one bucket is not one chain of
    // dependent adds. A mass of 0 adds nothing: a bucket's mass is 0 exactly when it is empty
    // of logits of nonzero mass. A chunk's buckets first, in a loop of its own (vectorised).
    let mut hist = [[0f64; BUCKETS]; TURNS];
    let rweights = k.table::<T>().rweights;
    let (mut w, mut b, mut v) = ([0f32; WEIGHED], [0u32; WEIGHED], [0f32; WEIGHED]);
    for part in x.chunks(WEIGHED) {
        let (w, b) = (&mut w[..part.len()], &mut b[..part.len()]);
        rweights(part, masses, w);
        for (b, &v) in b.iter_mut().zip(widened(part, &mut v)) {
            *b = bucket_of(masses, v);
        }
        for (b, w) in b.chunks(TURNS).zip(w.chunks(TURNS)) {
            for (h, (&b, &w)) in hist.iter_mut().zip(b.iter().zip(w)) {
                h[b as usize] += f64::from(w);
            }
        }
    }
    let mass: [f64; BUCKETS] = std::array::from_fn(|b| hist.iter().map(|h| h[b]).sum());
    let target = p * mass.iter().sum::<f64>();
    let (edge, above) = reach(&mass, 0.0, target, 0..BUCKETS);
    // The boundary bucket's logits (a range of values), then their masses.
    let (lo, hi) = bucket_range(masses, edge as u32);
    // A chunk is counted first (vectorised) and gathered only when it holds one: the edge's
    // bucket is usually sparse.
    let mut values = Vec::new();
    let mut kept = [0f32; WEIGHED];
    for part in x.chunks(WEIGHED) {
        let v = widened(part, &mut v);
        let inside = |v: f32| v >= lo && v <= hi;
        if v.iter().map(|&v| u32::from(inside(v))).sum::<u32>() == 0 {
            continue;
        }
        let mut len = 0;
        for &v in v.iter() {
            kept[len] = v;
            len += usize::from(inside(v));
        }
        values.extend_from_slice(&kept[..len]);
    }
    let mut w = vec![0f32; values.len()];
    (k.table::<f32>().rweights)(&values, masses, &mut w);
    let boundary = values.into_iter().zip(w).filter(|c| c.1 > 0.0).collect();
    edge_of(boundary, above, target)
}

/// A chunk of at most [`WEIGHED`] logits as f32, in `buf`.
#[inline(always)]
fn widened<'a, T: Float>(part: &[T], buf: &'a mut [f32; WEIGHED]) -> &'a [f32] {
    let v = &mut buf[..part.len()];
    for (v, e) in v.iter_mut().zip(part) {
        *v = e.to_f32();
    }
    v
}

/// The top-p histogram's bucket of a logit `v <= max`: `-d * 8` (`d = (v - max) / T`) rounded
/// to the nearest integer by adding 2^23 (whose ulp is 1) and read from the bits, at most
/// `BUCKETS - 1`. A monotone bucket (each step rounds monotonically; non-increasing in `v`)
/// without a float-to-int conversion (which saturates, in a branchy sequence of instructions).
#[inline(always)]
fn bucket_of(masses: &Masses, v: f32) -> u32 {
    let d = (v - masses.max) * masses.inv_t;
    let y = (-d * BUCKETS_PER_NAT).min((BUCKETS - 1) as f32) + 8_388_608.0;
    (y.to_bits() - 8_388_608f32.to_bits()).min(BUCKETS as u32 - 1)
}

/// The logits in `bucket`, as the range `[lo, hi]` of values: `bucket_of` is monotone, so a
/// bisection over the f32 order finds the ends (values above the max count in bucket 0).
fn bucket_range(masses: &Masses, bucket: u32) -> (f32, f32) {
    let of = |v: f32| bucket_of(masses, v.min(masses.max));
    (
        first_f32(|v| of(v) <= bucket),
        first_f32(|v| of(v) < bucket).next_down(),
    )
}

/// The least finite f32 at which `up` (false, then true, over the f32 order) holds, `+inf` if
/// none does.
fn first_f32(up: impl Fn(f32) -> bool) -> f32 {
    // Finite f32 in order as integers: the bits of v >= 0 are increasing, those of v < 0
    // decreasing; `key` maps them onto one increasing range of i32.
    let key = |v: f32| {
        let b = v.to_bits() as i32;
        if b < 0 {
            i32::MIN - b
        } else {
            b
        }
    };
    let value = |k: i32| {
        f32::from_bits(if k < 0 {
            (i32::MIN - k) as u32
        } else {
            k as u32
        })
    };
    let (mut lo, mut hi) = (key(f32::MIN), key(f32::MAX));
    if !up(f32::MAX) {
        return f32::INFINITY;
    }
    while lo < hi {
        let mid = ((i64::from(lo) + i64::from(hi)) >> 1) as i32;
        if up(value(mid)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    value(lo)
}

/// The first of `order`'s bins of nonzero mass at which the mass from the top reaches `target`
/// (or the last such bin), and the mass before it.
fn reach(
    mass: &[f64],
    mut above: f64,
    target: f64,
    order: impl Iterator<Item = usize> + Clone,
) -> (usize, f64) {
    let last = order
        .clone()
        .filter(|&b| mass[b] > 0.0)
        .last()
        .expect("the max is in a bin");
    for b in order.filter(|&b| mass[b] > 0.0) {
        if b == last || above + mass[b] >= target {
            return (b, above);
        }
        above += mass[b];
    }
    unreachable!("the last nonempty bin returns")
}

/// The least logit of `cand` (the boundary bin's logits and masses, with `above` the mass of
/// every higher logit) whose higher logits hold less than `target`.
fn edge_of(mut cand: Vec<(f32, f32)>, mut above: f64, target: f64) -> f32 {
    loop {
        let lo = cand.iter().fold(f32::INFINITY, |a, c| a.min(c.0));
        let hi = cand.iter().fold(f32::NEG_INFINITY, |a, c| a.max(c.0));
        if cand.len() <= SORTED || lo == hi {
            break;
        }
        let span = f64::from(hi) - f64::from(lo);
        let part = |v: f32| {
            (((f64::from(v) - f64::from(lo)) / span * PARTS as f64) as usize).min(PARTS - 1)
        };
        let mut mass = [0f64; PARTS];
        for &(v, w) in &cand {
            mass[part(v)] += f64::from(w);
        }
        let (chosen, before) = reach(&mass, above, target, (0..PARTS).rev());
        above = before;
        cand.retain(|&(v, _)| part(v) == chosen);
    }
    cand.sort_unstable_by(|p, q| q.0.total_cmp(&p.0));
    let mut edge = cand[0].0;
    for group in cand.chunk_by(|p, q| p.0 == q.0) {
        if above >= target {
            break;
        }
        edge = group[0].0;
        above += group.iter().map(|c| f64::from(c.1)).sum::<f64>();
    }
    edge
}

#[cfg(test)]
mod tests {
    use super::{bucket_of, bucket_range, first_f32, Masses, BUCKETS};

    /// Every bucket's range holds exactly the values of that bucket: f32 values near each
    /// bucket's edges, f16 values, zeros and subnormals, for a few maxima and temperatures.
    #[test]
    fn bucket_ranges_are_the_buckets() {
        for (max, t) in [
            (0.0f32, 1.0f32),
            (20.0, 0.7),
            (-3.5, 2.0),
            (1e4, 1.0),
            (5.0, 1e-3),
        ] {
            let masses = Masses {
                max,
                inv_t: 1.0 / t,
                floor: f32::NEG_INFINITY,
            };
            let ranges: Vec<(f32, f32)> = (0..BUCKETS as u32)
                .map(|b| bucket_range(&masses, b))
                .collect();
            let mut values = vec![max, 0.0, -0.0, 1e-40, -1e-40, f32::MIN, -1e30];
            for &(lo, hi) in &ranges {
                values.extend([lo, hi, lo.next_down(), hi.next_up()]);
            }
            for i in -4000..4000 {
                values.push(half::f16::from_f32(max + i as f32 * t / 64.0).to_f32());
                values.push(max + i as f32 * t * 0.0031);
            }
            for v in values.into_iter().filter(|v| v.is_finite() && *v <= max) {
                let b = bucket_of(&masses, v) as usize;
                for (c, &(lo, hi)) in ranges.iter().enumerate() {
                    assert_eq!(
                        c == b,
                        lo <= v && v <= hi,
                        "max {max} T {t}: {v} in bucket {b}, range {c} is [{lo}, {hi}]"
                    );
                }
            }
        }
    }

    /// The threshold of `v >= t` over the whole f32 order, subnormals, zeros and the ends
    /// included.
    #[test]
    fn first_f32_finds_thresholds() {
        for t in [
            f32::MIN,
            -1e30,
            -1.5,
            -f32::MIN_POSITIVE,
            -1e-45,
            0.0,
            1e-40,
            1.0,
            3e38,
            f32::MAX,
        ] {
            assert_eq!(first_f32(|v| v >= t), t, "{t}");
            assert_eq!(first_f32(|v| v > t), t.next_up(), "{t}");
        }
        assert_eq!(first_f32(|_| false), f32::INFINITY);
        assert_eq!(first_f32(|_| true), f32::MIN);
    }
}
