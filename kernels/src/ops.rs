//! The microkernels, written once over [`Simd`] and instantiated per ISA.
//!
//! Reductions walk the row in blocks of `BLOCK_STEPS * 4 * LANES` elements from its start:
//! inside a block four vector accumulators take turns, at the end of a block they are summed and
//! each lane folded into its own f64 total (the lanes meet at the end of the row). Each f32
//! partial therefore adds at most [`BLOCK_STEPS`] terms, so the error does not grow with n, and
//! the order of operations depends only on the index, never on the buffer's address.

use crate::element::Element;
use crate::exp::{cutoff, exp_ext, split_pow2, EXP_CUTOFF, EXT_BOUND, EXT_EXPONENTS, LOG2E};
use crate::ext::{exp_or_zero, pow2};
use crate::simd::Simd;
use crate::{Ext, GradCoefficients, LogitSum, LogitSums, MaxSum, SumOfLogits};

/// Terms each f32 accumulator lane adds before it is folded into the f64 total. A constant row
/// is the worst case (every rounding goes the same way): 256 terms left 2.4e-6 relative.
pub const BLOCK_STEPS: usize = 16;

/// The online pass moves its per-lane reference only when an input reaches this far above it
/// (`jumps`). `x - r` is then below 16 (rounded by at most 2^-21) and exp's argument stays
/// small.
pub const ONLINE_JUMP: f32 = 16.0;

/// Whether some lane of `d = x - r` (rounded) reaches [`ONLINE_JUMP`], so the reference must
/// move; NaN lanes never do. Where none does, every exact `x - r` is below 16 and its `d` within
/// 2^-21 of it. (Not `d > 16`: an exact `x - r` just above 16 rounds to 16, and a term `e^16`
/// off by 2^-20 relative, with the partials' own roundings, put softmax outputs 2.03e-6 from
/// the f64 value on a crafted row: test `online_jump_rounding`.)
#[inline(always)]
pub(crate) fn jumps<S: Simd>(s: S, d: S::V) -> bool {
    s.any(s.lt(s.splat(ONLINE_JUMP.next_down()), d))
}

/// How far a term's exponent may exceed its lane's in [`raddextexp`] before the lane's exponent
/// moves: partial sums stay below `16 * 1.42 * 2^64`, far inside f32's range.
pub const EXT_HEADROOM: f32 = 64.0;

/// A block of [`raddextexp`] summed without checking exponents is refused (and summed again
/// carefully) when a lane's partial exceeds this: every term is exact up to `2^127` and comes
/// out above `2^127` or +inf beyond (`Simd::exp_scaled` with `WIDE`), so an accepted
/// partial holds exact terms only.
const EXT_REFUSE: f32 = 1.2676506e30; // 2^100

/// An exponent below every `n` of [`exp_ext`], for empty extended accumulators.
const EXT_EMPTY_EXPONENT: f32 = -65536.0;

/// Where a vector lies in the row: its first element, and for the tail vector its length and
/// the mask of the lanes that hold data (passes reading a second stream load it from here).
#[derive(Clone, Copy)]
struct At<S: Simd> {
    i: usize,
    tail: Option<(usize, S::M)>,
}

impl<S: Simd> At<S> {
    #[inline(always)]
    fn full(i: usize) -> At<S> {
        At { i, tail: None }
    }

    /// The vector of `w` at this position (tail lanes `fill`).
    ///
    /// # Safety
    /// `w` must be readable wherever the row being walked is.
    #[inline(always)]
    unsafe fn load(self, s: S, w: *const f32, fill: f32) -> S::V {
        // SAFETY: the caller guarantees w..w + n is readable, and i + len <= n.
        unsafe {
            match self.tail {
                None => s.load(w.add(self.i)),
                Some((len, _)) => s.load_tail(w.add(self.i), len, fill),
            }
        }
    }
}

/// One reduction over a row, a vector at a time.
trait Pass<S: Simd> {
    /// What tail lanes are loaded as; must contribute nothing.
    const FILL: f32;
    /// Takes vector `x` (at `at`) into accumulator `J` and returns the vector to store, for
    /// passes that store.
    fn step<const J: usize>(&mut self, s: S, x: S::V, at: At<S>) -> S::V;
    /// `step` for a block walked again after `end_block` refused it.
    #[inline(always)]
    fn careful<const J: usize>(&mut self, s: S, x: S::V, at: At<S>) -> S::V {
        self.step::<J>(s, x, at)
    }
    /// Folds the block's partials into the wide total. A pass without outputs may instead
    /// discard them after `step`s and return false: the block is then walked again with
    /// `careful`, after which it must accept.
    fn end_block(&mut self, s: S, careful: bool) -> bool;
}

/// Rows of at least this many bytes are read with software prefetches ([`PREFETCH_AHEAD`]):
/// longer than any L1d, they stream from L2 or beyond. Shorter rows skip the extra loads.
pub(crate) const PREFETCH_FROM: usize = 64 << 10;

/// How far ahead of its loads a pass over a long row prefetches (bytes), so its lines are on
/// their way before the hardware prefetchers, which stop at page boundaries, would ask. On an
/// Intel Xeon (2 MiB L2) log-sum-exp went from 2.5 to 3.8-4.6 elements per ns at 16M and two-pass
/// softmax from 1.19 to 1.36-1.44; 1, 4, 8 and 16 KiB were no better (`docs/algorithms.md`).
pub(crate) const PREFETCH_AHEAD: usize = 2048;

/// Runs `pass` over `x[..n]`, storing its outputs to `y[..n]` when `y` is given, prefetching
/// rows of [`PREFETCH_FROM`] bytes or more.
///
/// # Safety
/// `x..x + n` readable, `y..y + n` writable when given (it may equal `x`).
#[inline(always)]
unsafe fn reduce<S: Simd, E: Element, P: Pass<S>>(
    s: S,
    pass: &mut P,
    x: *const E,
    y: Option<*mut E>,
    n: usize,
) {
    let block = BLOCK_STEPS * 4 * S::LANES;
    let prefetch = n * size_of::<E>() >= PREFETCH_FROM;
    let mut i = 0;
    while i < n {
        let end = if n - i > block { i + block } else { n };
        // SAFETY: end <= n.
        unsafe { walk::<S, E, P, false>(s, pass, x, y, i, end, prefetch) };
        if !pass.end_block(s, false) {
            debug_assert!(y.is_none(), "a pass with outputs refused a block");
            // SAFETY: as above.
            unsafe { walk::<S, E, P, true>(s, pass, x, y, i, end, prefetch) };
            pass.end_block(s, true);
        }
        i = end;
    }
}

/// One block of [`reduce`]: `x[i..end]` through `pass`'s `step`s (`careful`s with `CAREFUL`).
///
/// # Safety
/// As [`reduce`], with `end <= n`.
#[inline(always)]
unsafe fn walk<S: Simd, E: Element, P: Pass<S>, const CAREFUL: bool>(
    s: S,
    pass: &mut P,
    x: *const E,
    y: Option<*mut E>,
    mut i: usize,
    end: usize,
    prefetch: bool,
) {
    #[inline(always)]
    fn step<S: Simd, P: Pass<S>, const J: usize, const CAREFUL: bool>(
        pass: &mut P,
        s: S,
        x: S::V,
        at: At<S>,
    ) -> S::V {
        if CAREFUL {
            pass.careful::<J>(s, x, at)
        } else {
            pass.step::<J>(s, x, at)
        }
    }
    let l = S::LANES;
    while i + 4 * l <= end {
        if prefetch {
            let ahead = x.wrapping_add(i).cast::<u8>().wrapping_add(PREFETCH_AHEAD);
            for line in (0..4 * l * size_of::<E>()).step_by(64) {
                s.prefetch(ahead.wrapping_add(line));
            }
        }
        // SAFETY: i + 4 * l <= end <= n.
        unsafe {
            let v0 = step::<S, P, 0, CAREFUL>(pass, s, E::load(s, x.add(i)), At::full(i));
            let v1 = step::<S, P, 1, CAREFUL>(pass, s, E::load(s, x.add(i + l)), At::full(i + l));
            let v2 = step::<S, P, 2, CAREFUL>(
                pass,
                s,
                E::load(s, x.add(i + 2 * l)),
                At::full(i + 2 * l),
            );
            let v3 = step::<S, P, 3, CAREFUL>(
                pass,
                s,
                E::load(s, x.add(i + 3 * l)),
                At::full(i + 3 * l),
            );
            if let Some(y) = y {
                E::store(s, y.add(i), v0);
                E::store(s, y.add(i + l), v1);
                E::store(s, y.add(i + 2 * l), v2);
                E::store(s, y.add(i + 3 * l), v3);
            }
        }
        i += 4 * l;
    }
    while i + l <= end {
        // SAFETY: i + l <= end <= n.
        unsafe {
            let v = step::<S, P, 0, CAREFUL>(pass, s, E::load(s, x.add(i)), At::full(i));
            if let Some(y) = y {
                E::store(s, y.add(i), v);
            }
        }
        i += l;
    }
    if i < end {
        let len = end - i;
        // SAFETY: i + len == end <= n.
        unsafe {
            let at = At {
                i,
                tail: Some((len, s.tail_mask(len))),
            };
            let v = step::<S, P, 0, CAREFUL>(pass, s, E::load_tail(s, x.add(i), len, P::FILL), at);
            if let Some(y) = y {
                E::store_tail(s, y.add(i), len, v);
            }
        }
    }
}

/// Per-lane f64 totals of a pass's block partials: folding a block is one widening add per
/// lane, independent across lanes (a horizontal sum per block would cost a large part of a fast pass);
/// the lanes meet once, at the end of the row, in lane order.
struct Wide<S: Simd>(S::WideLanes);

impl<S: Simd> Clone for Wide<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: Simd> Copy for Wide<S> {}

impl<S: Simd> Wide<S> {
    const ZERO: Wide<S> = Wide(S::WIDE_ZERO);

    /// The lanes of `a + b + c + d`.
    #[inline(always)]
    fn of_sum(s: S, [a, b, c, d]: [S::V; 4]) -> Self {
        let mut w = Self::ZERO;
        w.add(s, s.add(s.add(a, b), s.add(c, d)));
        w
    }

    /// `self_k += v_k` for every lane `k`.
    #[inline(always)]
    fn add(&mut self, s: S, v: S::V) {
        for (w, v) in self.0.as_mut().iter_mut().zip(s.lanes(v).as_ref()) {
            *w += f64::from(*v);
        }
    }

    /// `self_k *= f_k` for every lane `k`.
    #[inline(always)]
    fn scale(&mut self, s: S, f: S::V, to_f64: impl Fn(f32) -> f64) {
        for (w, f) in self.0.as_mut().iter_mut().zip(s.lanes(f).as_ref()) {
            *w *= to_f64(*f);
        }
    }

    /// `sum_k self_k * f_k`, pairwise ([`Wide::sum`]).
    #[inline(always)]
    fn dot(&self, f: impl Fn(usize) -> f64) -> f64 {
        let mut w = *self;
        for (k, w) in w.0.as_mut().iter_mut().enumerate() {
            *w *= f(k);
        }
        w.sum()
    }

    /// `sum_k self_k`, pairwise in a fixed order: `log2(LANES)` dependent additions, not
    /// `LANES` (they are on every short row's critical path).
    #[inline(always)]
    fn sum(&self) -> f64 {
        let mut lanes = self.0;
        let l = lanes.as_mut();
        let mut w = S::LANES;
        while w > 1 {
            w /= 2;
            for i in 0..w {
                l[i] += l[i + w];
            }
        }
        l[0]
    }
}

/// `c * exp(x) * 2^-e` for a loop-invariant factor `c` and exponent `e`, 0 (never subnormal)
/// where below `2^-126 (1 + 2^-10)`: `c = m * 2^k` ([`split_pow2`]) with `k` moved into the
/// exponent, and the cutoff on `x` ([`cutoff`]) computed once.
#[derive(Clone, Copy)]
pub(crate) struct ScaledExp<S: Simd> {
    c: S::V,
    e: S::V,
    cutoff: S::V,
}

impl<S: Simd> ScaledExp<S> {
    #[inline(always)]
    fn new(s: S, c: f32, e: f64) -> Self {
        let (m, k) = split_pow2(c);
        ScaledExp {
            c: s.splat(m),
            e: s.splat((e - k) as f32),
            cutoff: s.splat(cutoff(m, e - k)),
        }
    }

    /// `exp(x)` itself (`c = 1`, `e = 0`), with constants the compiler sees.
    #[inline(always)]
    pub(crate) fn unit(s: S) -> Self {
        ScaledExp {
            c: s.splat(1.0),
            e: s.splat(0.0),
            cutoff: s.splat(EXP_CUTOFF),
        }
    }

    /// The value at `x` (for `n - e <= 127`; below the cutoff 0 with `ZERO`, else the value
    /// there: [`Simd::exp_scaled`]).
    #[inline(always)]
    pub(crate) fn at<const SHORT: bool, const COARSE: bool, const ZERO: bool>(
        &self,
        s: S,
        x: S::V,
    ) -> S::V {
        s.exp_scaled::<SHORT, COARSE, ZERO, false>(x, self.e, self.c, self.cutoff)
            .0
    }
}

/// An element-wise map `y = f(x)`.
trait Map<S: Simd> {
    fn apply(&self, s: S, x: S::V, at: At<S>) -> S::V;
}

/// What a map's lanes past the row's end hold (they are computed, not stored): `-inf`, below
/// every flush cutoff, so an exp of `x - m` there is 0 whatever `m` (0 would give `exp(-m)`,
/// past the range for a row far below 0, and make a tiny value on the way).
pub(crate) const DEAD_LANES: f32 = f32::NEG_INFINITY;

/// Writes `y[i] = f(x[i])` for `i < n`; with `nt`, through non-temporal stores (the values are
/// the same either way: only the store instruction depends on the address).
///
/// # Safety
/// `x..x + n` readable, `y..y + n` writable (it may equal `x`).
#[inline(always)]
unsafe fn map<S: Simd, E: Element, F: Map<S>>(
    s: S,
    f: &F,
    x: *const E,
    y: *mut E,
    n: usize,
    nt: bool,
) {
    let l = S::LANES;
    let mut i = 0;
    if nt && l > 1 {
        // Stores of the head go through the cache until `y + i` is aligned to the vector.
        let size = std::mem::size_of::<E>();
        let head = ((l - (y as usize / size) % l) % l).min(n);
        if head > 0 {
            let at = At {
                i: 0,
                tail: Some((head, s.tail_mask(head))),
            };
            // SAFETY: head <= n.
            unsafe {
                let v = E::load_tail(s, x, head, DEAD_LANES);
                E::store_tail(s, y, head, f.apply(s, v, at))
            };
            i = head;
        }
        while i + l <= n {
            // SAFETY: i + l <= n, and y + i is aligned to l * 4 bytes by the head above.
            unsafe { E::stream(s, y.add(i), f.apply(s, E::load(s, x.add(i)), At::full(i))) };
            i += l;
        }
    } else {
        while i + 4 * l <= n {
            // SAFETY: i + 4 * l <= n; all four loads precede the stores (in place is fine).
            unsafe {
                let v0 = f.apply(s, E::load(s, x.add(i)), At::full(i));
                let v1 = f.apply(s, E::load(s, x.add(i + l)), At::full(i + l));
                let v2 = f.apply(s, E::load(s, x.add(i + 2 * l)), At::full(i + 2 * l));
                let v3 = f.apply(s, E::load(s, x.add(i + 3 * l)), At::full(i + 3 * l));
                E::store(s, y.add(i), v0);
                E::store(s, y.add(i + l), v1);
                E::store(s, y.add(i + 2 * l), v2);
                E::store(s, y.add(i + 3 * l), v3);
            }
            i += 4 * l;
        }
        while i + l <= n {
            // SAFETY: i + l <= n.
            unsafe { E::store(s, y.add(i), f.apply(s, E::load(s, x.add(i)), At::full(i))) };
            i += l;
        }
    }
    if i < n {
        let len = n - i;
        let at = At {
            i,
            tail: Some((len, s.tail_mask(len))),
        };
        // SAFETY: i + len == n.
        unsafe {
            E::store_tail(
                s,
                y.add(i),
                len,
                f.apply(s, E::load_tail(s, x.add(i), len, DEAD_LANES), at),
            )
        };
    }
    if nt {
        s.fence();
    }
}

/// `max_i x_i`, `-inf` for an empty row (a NaN may or may not win).
#[inline(always)]
pub(crate) fn rmax<S: Simd, E: Element>(s: S, x: &[E]) -> f32 {
    struct Max<S: Simd>([S::V; 4]);
    impl<S: Simd> Pass<S> for Max<S> {
        const FILL: f32 = f32::NEG_INFINITY;
        #[inline(always)]
        fn step<const J: usize>(&mut self, s: S, x: S::V, _: At<S>) -> S::V {
            self.0[J] = s.max(self.0[J], x);
            x
        }
        #[inline(always)]
        fn end_block(&mut self, _: S, _: bool) -> bool {
            true
        }
    }
    let mut pass = Max([s.splat(f32::NEG_INFINITY); 4]);
    // SAFETY: reads x[..x.len()] only.
    unsafe { reduce(s, &mut pass, x.as_ptr(), None, x.len()) };
    let [a, b, c, d] = pass.0;
    s.hmax(s.max(s.max(a, b), s.max(c, d)))
}

/// Sums `exp(x - m)` in blocks, with the short reduction (each term off by `e^(n * LN2_LO)`:
/// at most 2.4e-7 relative where `|n| <= 126`, and the sum's log by at most `ln(len) * 2.7e-9`,
/// as most of the sum comes from `n` near 0) and the coarse exp with `COARSE`; stores each term
/// when the caller asks, which then wants `ZERO` (terms below the cutoff 0, not the value
/// there).
struct SumExp<S: Simd, const COARSE: bool, const ZERO: bool> {
    m: S::V,
    exp: ScaledExp<S>,
    acc: [S::V; 4],
    total: Wide<S>,
}

impl<S: Simd, const COARSE: bool, const ZERO: bool> SumExp<S, COARSE, ZERO> {
    #[inline(always)]
    fn new(s: S, m: f32) -> Self {
        SumExp {
            m: s.splat(m),
            exp: ScaledExp::unit(s),
            acc: [s.splat(0.0); 4],
            total: Wide::ZERO,
        }
    }
}

impl<S: Simd, const COARSE: bool, const ZERO: bool> Pass<S> for SumExp<S, COARSE, ZERO> {
    const FILL: f32 = f32::NEG_INFINITY;
    #[inline(always)]
    fn step<const J: usize>(&mut self, s: S, x: S::V, _: At<S>) -> S::V {
        let e = self.exp.at::<true, COARSE, ZERO>(s, s.sub(x, self.m));
        self.acc[J] = s.add(self.acc[J], e);
        e
    }
    #[inline(always)]
    fn end_block(&mut self, s: S, _: bool) -> bool {
        let [a, b, c, d] = self.acc;
        self.total.add(s, s.add(s.add(a, b), s.add(c, d)));
        self.acc = [s.splat(0.0); 4];
        true
    }
}

/// `sum_i exp(x_i - m)` for a finite `m`, in f64 (short reduction: [`SumExp`]).
#[inline(always)]
pub(crate) fn raddexpminusmax<S: Simd, E: Element>(s: S, x: &[E], m: f32) -> f64 {
    let mut pass = SumExp::<S, false, false>::new(s, m);
    // SAFETY: reads x[..x.len()] only.
    unsafe { reduce(s, &mut pass, x.as_ptr(), None, x.len()) };
    pass.total.sum()
}

/// `y_i = exp(x_i - m)` for a finite `m` (the coarse exp for half outputs); returns
/// `sum_i y_i` in f64.
///
/// # Safety
/// `x..x + n` readable and `y..y + n` writable (`y` may equal `x`).
#[inline(always)]
pub(crate) unsafe fn raddstoreexpminusmax<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    n: usize,
    m: f32,
) -> f64 {
    #[inline(always)]
    unsafe fn run<S: Simd, E: Element, const COARSE: bool>(
        s: S,
        x: *const E,
        y: *mut E,
        n: usize,
        m: f32,
    ) -> f64 {
        let mut pass = SumExp::<S, COARSE, true>::new(s, m);
        // SAFETY: forwarded from the caller.
        unsafe { reduce(s, &mut pass, x, Some(y), n) };
        pass.total.sum()
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        if E::COARSE_EXP {
            run::<S, E, true>(s, x, y, n, m)
        } else {
            run::<S, E, false>(s, x, y, n, m)
        }
    }
}

/// Sums `exp(x)` with an extended exponent, and with `LOGITS` also `sum_i w_i * x_i` (terms
/// with `w_i = 0` count 0 even for an infinite `x_i`; `w_i = 1` without weights).
///
/// Each lane sums `p * 2^(n - e)` against its own exponent `e`, shared by its four accumulators,
/// all starting at the `n` of the first block's largest element. A block is first summed
/// without looking at `n` (a term costs one `exp_scaled` and an add); if a lane's partial then
/// exceeds [`EXT_REFUSE`], some term was beyond its lane's range (or close to it) and the block
/// is summed again carefully: a term whose `n` exceeds its lane's `e` by more than
/// [`EXT_HEADROOM`] first raises `e` to `n`, rescaling the lane's sums by an exact power of two.
struct SumExt<S: Simd, const LOGITS: bool, const COARSE: bool> {
    m: [S::V; 4],
    e: S::V,
    /// Each lane's [`cutoff`] at its exponent: smaller terms are 0.
    cutoff: S::V,
    /// Each lane's total, against its exponent `e`.
    total: Wide<S>,
    weights: Option<*const f32>,
    /// The largest logit before this block (0 before a finite one), `reference` as a vector:
    /// each block sums `w_i (x_i - reference)` into `logits`, its weights into `weight` (its
    /// length into `len` without weights) and its max into `block_max`. A block whose max
    /// exceeds the reference is refused and walked again around its max, so every term is at
    /// most 0 and no sum cancels. The block starts at `start`.
    around: S::V,
    reference: Option<f32>,
    block_max: S::V,
    start: usize,
    len: usize,
    logits: [S::V; 4],
    weight: [S::V; 4],
    /// The blocks' sums, against the largest logit so far.
    logit_sum: LogitSum,
}

impl<S: Simd, const LOGITS: bool, const COARSE: bool> SumExt<S, LOGITS, COARSE> {
    /// Lane exponents start at the `n` of the first block's largest element (a max pass over
    /// the block, which the sum then reads from L1; at most `EXT_BOUND`'s): unless the row
    /// later rises by more than 2^100 (or starts with NaN), no block is refused.
    #[inline(always)]
    fn new<E: Element>(s: S, x: &[E], weights: Option<*const f32>) -> Self {
        let first = rmax(s, &x[..x.len().min(BLOCK_STEPS * 4 * S::LANES)]);
        let top = first.min(EXT_BOUND);
        let e = if top.is_finite() {
            s.hmax(exp_ext::<S, COARSE>(s, s.splat(top), s.splat(1.0)).1)
        } else {
            EXT_EMPTY_EXPONENT
        };
        SumExt {
            m: [s.splat(0.0); 4],
            e: s.splat(e),
            cutoff: s.splat(cutoff(1.0, f64::from(e))),
            total: Wide::ZERO,
            weights,
            around: s.splat(if first.is_finite() { first } else { 0.0 }),
            reference: first.is_finite().then_some(first),
            block_max: s.splat(f32::NEG_INFINITY),
            start: 0,
            len: 0,
            logits: [s.splat(0.0); 4],
            weight: [s.splat(0.0); 4],
            logit_sum: LogitSum::ZERO,
        }
    }

    /// The term of `x` after raising the lane exponents to its `n` where that exceeds them (the
    /// careful path): lanes past the row's end neither add nor raise. The block's partials join
    /// the lanes' f64 totals first, which move to the new exponents there (an f32 rescale could
    /// make subnormals).
    #[inline(always)]
    fn raise_exponent(&mut self, s: S, x: S::V, at: At<S>) -> S::V {
        let (_, mut n) = exp_ext::<S, COARSE>(s, x, s.splat(1.0));
        if let Some((_, live)) = at.tail {
            n = s.select(live, n, s.splat(EXT_EMPTY_EXPONENT));
        }
        // Operand order: a NaN `n` (NaN input, flagged on some ISAs) leaves `e` alone.
        let e = s.max(n, self.e);
        let [m0, m1, m2, m3] = self.m;
        self.total.add(s, s.add(s.add(m0, m1), s.add(m2, m3)));
        self.m = [s.splat(0.0); 4];
        self.total
            .scale(s, s.sub(self.e, e), |d| pow2(f64::from(d)));
        self.e = e;
        let mut cutoffs = s.lanes(e);
        for c in cutoffs.as_mut() {
            // An exponent past the extended range comes from an input past EXT_BOUND, and the
            // sum is discarded (`Ext::ln_in_range`); an f32 argument near `e ln 2` is then too
            // coarse for the reduction (its ulp reaches 2^16 at 1e12), so a lane computed at
            // the cutoff could be tiny. Every lane is below +inf: computed there it is NaN,
            // never tiny, in a sum discarded all the same.
            *c = match c.abs() > EXT_EXPONENTS {
                true => f32::INFINITY,
                false => cutoff(1.0, f64::from(*c)),
            };
        }
        // SAFETY: `cutoffs` holds LANES values.
        self.cutoff = unsafe { s.load(cutoffs.as_ref().as_ptr()) };
        s.exp_scaled::<true, COARSE, false, false>(x, e, s.splat(1.0), self.cutoff)
            .0
    }

    /// Adds `term` (the term of `x`) to accumulator `J`, and the logit term with `LOGITS`.
    #[inline(always)]
    fn add<const J: usize>(&mut self, s: S, x: S::V, mut term: S::V, at: At<S>) -> S::V {
        if let Some((_, live)) = at.tail {
            term = s.select(live, term, s.splat(0.0));
        }
        self.m[J] = s.add(self.m[J], term);
        self.add_logit::<J>(s, x, at);
        x
    }

    /// With `LOGITS`, the logit term of `x` into accumulator `J` (and the block's max).
    #[inline(always)]
    fn add_logit<const J: usize>(&mut self, s: S, x: S::V, at: At<S>) {
        if LOGITS {
            let d = s.sub(x, self.around);
            self.block_max = match at.tail {
                Some((len, live)) => {
                    self.len += len;
                    s.max(
                        self.block_max,
                        s.select(live, x, s.splat(f32::NEG_INFINITY)),
                    )
                }
                None => {
                    self.len += S::LANES;
                    s.max(self.block_max, x)
                }
            };
            let term = match (self.weights, at.tail) {
                (Some(w), _) => {
                    // SAFETY: the weights cover the row (checked by the entry point); lanes
                    // past its end load weight 0.
                    let w = unsafe { at.load(s, w, 0.0) };
                    self.weight[J] = s.add(self.weight[J], w);
                    s.select(s.lt(s.splat(0.0), w), s.mul(w, d), s.splat(0.0))
                }
                (None, Some((_, live))) => s.select(live, d, s.splat(0.0)),
                (None, None) => d,
            };
            self.logits[J] = s.add(self.logits[J], term);
        }
    }

    /// The row's sum: the lanes' totals brought to the largest lane exponent. A lane exponent
    /// above every `n` of an input within `EXT_BOUND` was raised by an input beyond it, whose
    /// terms are garbage (they may even vanish, and an empty sum would pass for a valid part
    /// of a larger one): the sum is then `2^e` at that exponent, out of range above.
    #[inline(always)]
    fn sum(&self, s: S) -> Ext {
        let lanes = s.lanes(self.e);
        let e = lanes.as_ref();
        let top = f64::from(s.hmax(self.e));
        if top > f64::from(EXT_BOUND) * f64::from(LOG2E) + 1.0 {
            return Ext { m: 1.0, e: top };
        }
        let m = self.total.dot(|k| pow2(f64::from(e[k]) - top));
        if m == 0.0 {
            Ext::ZERO
        } else {
            Ext { m, e: top }
        }
    }
}

impl<S: Simd, const LOGITS: bool, const COARSE: bool> Pass<S> for SumExt<S, LOGITS, COARSE> {
    const FILL: f32 = 0.0;
    #[inline(always)]
    fn step<const J: usize>(&mut self, s: S, x: S::V, at: At<S>) -> S::V {
        // Terms below 2^-126 of the lane's exponent are 0; terms beyond its range come out
        // huge or +inf, which end_block sees.
        let term = match (COARSE, at.tail) {
            (true, _) => {
                s.exp_scaled::<true, true, false, true>(x, self.e, s.splat(1.0), self.cutoff)
                    .0
            }
            (false, None) => {
                self.m[J] = s.exp_sum_add(x, self.e, self.cutoff, self.m[J]);
                self.add_logit::<J>(s, x, at);
                return x;
            }
            (false, Some(_)) => s.exp_sum_add(x, self.e, self.cutoff, s.splat(0.0)),
        };
        self.add::<J>(s, x, term, at)
    }
    #[inline(always)]
    fn careful<const J: usize>(&mut self, s: S, x: S::V, at: At<S>) -> S::V {
        let (mut term, d) =
            s.exp_scaled::<true, COARSE, false, true>(x, self.e, s.splat(1.0), self.cutoff);
        if s.any(s.lt(s.splat(EXT_HEADROOM), d)) {
            term = self.raise_exponent(s, x, at);
        }
        self.add::<J>(s, x, term, at)
    }
    #[inline(always)]
    fn end_block(&mut self, s: S, careful: bool) -> bool {
        let [m0, m1, m2, m3] = self.m;
        let m = s.add(s.add(m0, m1), s.add(m2, m3));
        self.m = [s.splat(0.0); 4];
        let mut refuse = !careful && s.any(s.lt(s.splat(EXT_REFUSE), m));
        if LOGITS {
            // Operand order: a NaN lane does not win (the NaN is in the sum already).
            let top = s.hmax(self.block_max);
            if !careful && top > self.reference.unwrap_or(f32::NEG_INFINITY) {
                // The row's max rose: the block again, around its own max.
                refuse = true;
                self.reference = Some(top);
                self.around = s.splat(top);
            }
            if !refuse {
                let weight = match self.weights {
                    Some(w) => match Wide::<S>::of_sum(s, self.weight).sum() {
                        // Weights near f32's limit overflow the f32 lanes: f64, term by term.
                        w if w.is_finite() => w,
                        // SAFETY: the weights cover the row, and this block is part of it.
                        _ => unsafe { std::slice::from_raw_parts(w.add(self.start), self.len) }
                            .iter()
                            .map(|&w| f64::from(w))
                            .sum(),
                    },
                    None => self.len as f64,
                };
                let sum = Wide::<S>::of_sum(s, self.logits).sum();
                self.logit_sum
                    .add(sum, self.reference.map(f64::from), weight);
                self.start += self.len;
            }
            self.logits = [s.splat(0.0); 4];
            self.weight = [s.splat(0.0); 4];
            self.block_max = s.splat(f32::NEG_INFINITY);
            self.len = 0;
        }
        if !refuse {
            self.total.add(s, m);
        }
        !refuse
    }
}

/// `sum_i exp(x_i)` as an extended-exponent pair, without a max pass. Inputs are clamped below
/// at `-EXT_BOUND`, and a row with an input beyond `EXT_BOUND` comes out above the range; the
/// caller checks the result's range ([`Ext::ln_in_range`]). The terms use
/// the short reduction ([`crate::exp::reduced_poly`]); with `PAIRED` the sum is theirs, for
/// [`vscaleextexp`], whose outputs divide by it (its log is off by up to `|ln| * 3e-9`), else
/// corrected to the sum of exact terms ([`Ext::unshortened`]).
#[inline(always)]
pub(crate) fn raddextexp<S: Simd, E: Element, const PAIRED: bool>(s: S, x: &[E]) -> Ext {
    #[inline(always)]
    fn run<S: Simd, E: Element, const COARSE: bool>(s: S, x: &[E]) -> Ext {
        let mut pass = SumExt::<S, false, COARSE>::new(s, x, None);
        // SAFETY: reads x[..x.len()] only.
        unsafe { reduce(s, &mut pass, x.as_ptr(), None, x.len()) };
        pass.sum(s)
    }
    if !PAIRED {
        run::<S, E, false>(s, x).unshortened()
    } else if E::COARSE_EXP {
        run::<S, E, true>(s, x)
    } else {
        run::<S, E, false>(s, x)
    }
}

/// The cross-entropy loss pass, one read of the logits: `sum_i exp(x_i)` as [`raddextexp`] and
/// the sum of the logits `logits` asks for, in f64.
///
/// # Panics
/// When the weights' length differs from `x`'s.
#[inline(always)]
pub(crate) fn raddextexp_logits<S: Simd, E: Element>(
    s: S,
    x: &[E],
    logits: SumOfLogits<'_>,
) -> LogitSums {
    #[inline(always)]
    fn run<S: Simd, E: Element, const LOGITS: bool>(s: S, x: &[E], w: Option<&[f32]>) -> LogitSums {
        if let Some(w) = w {
            assert_eq!(w.len(), x.len(), "weights and logits lengths differ");
        }
        let mut pass = SumExt::<S, LOGITS, false>::new(s, x, w.map(<[f32]>::as_ptr));
        // SAFETY: reads x[..x.len()] and w[..x.len()] only.
        unsafe { reduce(s, &mut pass, x.as_ptr(), None, x.len()) };
        LogitSums {
            exp: pass.sum(s).unshortened(),
            logits: pass.logit_sum,
        }
    }
    match logits {
        SumOfLogits::Unused => run::<S, E, false>(s, x, None),
        SumOfLogits::Plain => run::<S, E, true>(s, x, None),
        SumOfLogits::Weighted(w) => run::<S, E, true>(s, x, Some(w)),
    }
}

/// Moves an online reference `r` up to `max(r, x)`, lane by lane ([`raddonline`]'s, and the
/// axis passes' per column): each lane's f32 partial `acc` joins its f64 total in `wide`, which is
/// rescaled there by `exp(r - r_new)`. A lane's total is 0 or at least 2^-126 (it holds the term
/// 1 of its last move), and so is the factor, so the product is normal in f64 (it might not be
/// in f32). Returns the new reference.
#[inline(always)]
pub(crate) fn rebase<S: Simd>(
    s: S,
    exp: &ScaledExp<S>,
    wide: &mut [f64],
    acc: S::V,
    r: S::V,
    x: S::V,
) -> S::V {
    let moved = s.max(r, x);
    let f = exp.at::<false, false, false>(s, s.sub(r, moved));
    let (acc, f) = (s.lanes(acc), s.lanes(f));
    for ((w, a), f) in wide.iter_mut().zip(acc.as_ref()).zip(f.as_ref()) {
        *w = (*w + f64::from(*a)) * f64::from(*f);
    }
    moved
}

/// `acc + exp(d)`, a term `d = x - r` of an online sum ([`raddonline`], the axis passes'): as
/// an extended sum's term ([`Simd::exp_sum_add`]: the short reduction, whose factor
/// `e^(n LN2_LO)` is within 5e-8 of 1 for the `d <= ONLINE_JUMP` that carry the sum's mass and
/// within 2.4e-7 for any kept term; AVX2's table form, three FMA-port operations fewer than
/// the full exp and its add). Lanes below the cutoff add its value, negligible beside the
/// reference's own term 1. On Zen 4, `log_sum_exp_axis` down 16 columns (in cache and at 16M
/// elements) ran 2.5-2.9 -> 3.6-3.7 elements/ns with AVX2 and 5.4 -> 5.8 with AVX-512; the rows'
/// online softmax 1.4-1.6 -> 1.7-1.9 with AVX2.
#[inline(always)]
pub(crate) fn add_online_term<S: Simd>(s: S, d: S::V, acc: S::V) -> S::V {
    s.exp_sum_add(d, s.splat(0.0), s.splat(EXP_CUTOFF), acc)
}

/// One pass computing the row's max and `sum_i exp(x_i - max)` (online softmax).
///
/// Each lane keeps its own reference `r` and sums `exp(x - r)`; `r` moves (with an exact
/// rescale of the lane's sums by `exp(r_old - r_new)`) only when some input reaches
/// [`ONLINE_JUMP`] above it ([`jumps`]), so a steadily rising row rescales rarely and each
/// rescale touches only mass that is `e^-16` of what follows. The lanes meet in f64 at the end.
#[inline(always)]
pub(crate) fn raddonline<S: Simd, E: Element>(s: S, x: &[E]) -> MaxSum {
    struct Online<S: Simd> {
        exp: ScaledExp<S>,
        r: S::V,
        max: S::V,
        acc: [S::V; 4],
        wide: Wide<S>,
    }
    impl<S: Simd> Online<S> {
        #[inline(always)]
        fn move_reference(&mut self, s: S, x: S::V) {
            let [a, b, c, d] = self.acc;
            let acc = s.add(s.add(a, b), s.add(c, d));
            self.r = rebase(s, &self.exp, self.wide.0.as_mut(), acc, self.r, x);
            self.acc = [s.splat(0.0); 4];
        }
    }
    impl<S: Simd> Pass<S> for Online<S> {
        const FILL: f32 = f32::NEG_INFINITY;
        #[inline(always)]
        fn step<const J: usize>(&mut self, s: S, x: S::V, _: At<S>) -> S::V {
            let mut d = s.sub(x, self.r);
            if jumps(s, d) {
                self.move_reference(s, x);
                d = s.sub(x, self.r);
            }
            self.max = s.max(self.max, x);
            self.acc[J] = add_online_term(s, d, self.acc[J]);
            x
        }
        #[inline(always)]
        fn end_block(&mut self, s: S, _: bool) -> bool {
            let [a, b, c, d] = self.acc;
            self.wide.add(s, s.add(s.add(a, b), s.add(c, d)));
            self.acc = [s.splat(0.0); 4];
            true
        }
    }
    let mut pass = Online {
        exp: ScaledExp::unit(s),
        r: s.splat(-f32::MAX),
        max: s.splat(f32::NEG_INFINITY),
        acc: [s.splat(0.0); 4],
        wide: Wide::ZERO,
    };
    // SAFETY: reads x[..x.len()] only.
    unsafe { reduce(s, &mut pass, x.as_ptr(), None, x.len()) };
    let max = s
        .lanes(pass.max)
        .as_ref()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let refs = s.lanes(pass.r);
    let refs = refs.as_ref();
    // A lane that never saw a finite input keeps the reference `-f32::MAX` with 0 or tiny terms
    // (below the exp's cutoff: `ColumnSum`); where the row's max is `-inf`, that lies above it
    // (tiny * inf): skipped. Every other lane's reference is at most `max`.
    let sum = pass.wide.dot(|k| {
        if refs[k] > max {
            0.0
        } else {
            exp_or_zero(f64::from(refs[k]) - f64::from(max))
        }
    });
    // The max's own term is exactly 1, but each term here is `exp` of `x - r` rounded to f32
    // (up to 16 * 2^-24 off: 1e-6 relative), so the sum may come out below 1 and the max's
    // output above 1. The true sum is at least 1: raising it there only removes error. (A NaN
    // sum stays NaN.)
    let sum = if max.is_finite() && sum < 1.0 {
        1.0
    } else {
        sum
    };
    MaxSum { max, sum }
}

/// Rows of at most this many vectors take softmax in registers ([`crate::Table::softmax_short`]).
pub const SHORT_VECTORS: usize = 4;

/// Softmax of a row of at most [`SHORT_VECTORS`] vectors in registers ([`softmax_in_registers`]);
/// a longer one as three-pass reload: [`rmax`], [`raddstoreexpminusmax`], then [`vscale`] by
/// `1 / sum`. False for a special row (NaN, `+inf`, or only `-inf`), whose output is then
/// partly written.
///
/// # Safety
/// `x..x + n` readable and `y..y + n` writable (`y` may equal `x`).
#[inline(always)]
pub(crate) unsafe fn softmax_short<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    n: usize,
    nt: bool,
) -> bool {
    // Each arm: `n` fills the vectors named (the caller's buffers hold `n`).
    match n.div_ceil(S::LANES) {
        // SAFETY: as above.
        1 => return unsafe { softmax_in_registers::<S, E, 1>(s, x, y, n) },
        // SAFETY: as above.
        2 => return unsafe { softmax_in_registers::<S, E, 2>(s, x, y, n) },
        // SAFETY: as above.
        3 => return unsafe { softmax_in_registers::<S, E, 3>(s, x, y, n) },
        // SAFETY: as above.
        SHORT_VECTORS => return unsafe { softmax_in_registers::<S, E, SHORT_VECTORS>(s, x, y, n) },
        _ => {}
    }
    // SAFETY: x..x + n is readable, and nothing is written while the slice lives.
    let max = rmax(s, unsafe { core::slice::from_raw_parts(x, n) });
    if !max.is_finite() {
        return false;
    }
    // SAFETY: forwarded from the caller.
    let sum = unsafe { raddstoreexpminusmax(s, x, y, n, max) };
    if !sum.is_finite() {
        return false;
    }
    // SAFETY: y..y + n is readable and writable.
    unsafe { vscale(s, y, y, n, (1.0 / sum) as f32, nt) };
    true
}

/// Softmax of a row of `n` elements in `K` vectors (`(K - 1) * LANES < n <= K * LANES`), in
/// registers: the max, `e = exp(x - max)` (the short reduction, 0 below the cutoff, as
/// [`raddstoreexpminusmax`]), their sum in f32, pairwise over the lanes (within `(K - 1 +
/// log2(LANES)) * 2^-24` relative, 4.2e-7 at most), then `y = e * (1 / sum)`, 0 where below
/// 2^-126 (as [`vscale`]). False for a special row, with nothing written.
///
/// # Safety
/// `x..x + n` readable and `y..y + n` writable (`y` may equal `x`).
#[inline(always)]
unsafe fn softmax_in_registers<S: Simd, E: Element, const K: usize>(
    s: S,
    x: *const E,
    y: *mut E,
    n: usize,
) -> bool {
    let l = S::LANES;
    // Vector j holds x[j * l..][..len(j)]: whole vectors, then a tail (`load_tail` and
    // `store_tail` take fewer than `l` elements).
    let len = |j: usize| (n - j * l).min(l);
    // SAFETY: vector j reads x[j * l..][..len(j)], within n.
    let mut v: [S::V; K] = core::array::from_fn(|j| unsafe {
        match len(j) {
            w if w == l => E::load(s, x.add(j * l)),
            w => E::load_tail(s, x.add(j * l), w, DEAD_LANES),
        }
    });
    let max = s.hmax(v.iter().fold(v[0], |m, &x| s.max(m, x)));
    if !max.is_finite() {
        return false;
    }
    let (m, exp) = (s.splat(max), ScaledExp::unit(s));
    let mut sum = s.splat(0.0);
    for v in v.iter_mut() {
        *v = match E::COARSE_EXP {
            true => exp.at::<true, true, true>(s, s.sub(*v, m)),
            false => exp.at::<true, false, true>(s, s.sub(*v, m)),
        };
        sum = s.add(sum, *v);
    }
    let mut lanes = s.lanes(sum);
    let lanes = lanes.as_mut();
    let mut w = l;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            lanes[i] += lanes[i + w];
        }
    }
    // At least 1 (the max's term), unless a NaN lane lost the max.
    if !lanes[0].is_finite() {
        return false;
    }
    let c = 1.0 / lanes[0];
    let (c, least) = (s.splat(c), s.splat(least_normal_factor(c)));
    for (j, &e) in v.iter().enumerate() {
        let out = s.mul_or_zero(s.nlt(e, least), e, c);
        // SAFETY: vector j writes y[j * l..][..len(j)], within n.
        unsafe {
            match len(j) {
                w if w == l => E::store(s, y.add(j * l), out),
                w => E::store_tail(s, y.add(j * l), w, out),
            }
        }
    }
    true
}

/// `y_i = x_i * c`, 0 where `|x_i * c|` (or `|x_i|`) is below 2^-126: no subnormal operand or
/// result is ever computed.
///
/// # Safety
/// `x..x + n` readable and `y..y + n` writable (`y` may equal `x`).
#[inline(always)]
pub(crate) unsafe fn vscale<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    n: usize,
    c: f32,
    nt: bool,
) {
    struct Scale<S: Simd> {
        c: S::V,
        least: S::V,
    }
    impl<S: Simd> Map<S> for Scale<S> {
        #[inline(always)]
        fn apply(&self, s: S, x: S::V, _: At<S>) -> S::V {
            s.mul_or_zero(s.nlt(s.abs(x), self.least), x, self.c)
        }
    }
    let f = Scale {
        c: s.splat(c),
        least: s.splat(least_normal_factor(c)),
    };
    // SAFETY: forwarded from the caller.
    unsafe { map(s, &f, x, y, n, nt) }
}

/// The least f32 `t >= 2^-126` with `t * |c| >= 2^-126` exactly (so `|x| >= t` makes `x * c`
/// normal, and `|x| < t` puts it below 2^-126 or `x` itself subnormal); +inf for `c = 0`, NaN for
/// NaN.
pub(crate) fn least_normal_factor(c: f32) -> f32 {
    let (min, c) = (f64::from(f32::MIN_POSITIVE), f64::from(c).abs());
    let q = min / c;
    if q <= min {
        return f32::MIN_POSITIVE;
    }
    // `q` lies in (2^-126, 2^23] (or is inf or NaN): its f32 is normal.
    let t = q as f32;
    if f64::from(t) * c < min {
        t.next_up()
    } else {
        t
    }
}

/// `y_i = exp(x_i - m) * c` for `x_i - m <= 16` and `|c| < 2^100`, 0 where below
/// `2^-126 (1 + 2^-10)`.
///
/// # Safety
/// `x..x + n` readable and `y..y + n` writable (`y` may equal `x`).
#[inline(always)]
pub(crate) unsafe fn vscaleexpminusmax<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    n: usize,
    m: f32,
    c: f32,
    nt: bool,
) {
    struct ScaleExp<S: Simd, const COARSE: bool> {
        m: S::V,
        exp: ScaledExp<S>,
    }
    impl<S: Simd, const COARSE: bool> Map<S> for ScaleExp<S, COARSE> {
        #[inline(always)]
        fn apply(&self, s: S, x: S::V, _: At<S>) -> S::V {
            self.exp.at::<COARSE, COARSE, true>(s, s.sub(x, self.m))
        }
    }
    let (m, exp) = (s.splat(m), ScaledExp::new(s, c, 0.0));
    // SAFETY: forwarded from the caller.
    unsafe {
        if E::COARSE_EXP {
            map(s, &ScaleExp::<S, true> { m, exp }, x, y, n, nt)
        } else {
            map(s, &ScaleExp::<S, false> { m, exp }, x, y, n, nt)
        }
    }
}

/// `y_i = exp(x_i) / sum` for the paired extended `sum` of [`raddextexp`] (in range), both
/// with the paired exp: `p_i * (1 / sum.m) * 2^(n_i - sum.e)` (`sum` normalised, `1 / sum.m`
/// folded into the polynomial), clamped to at most 1; 0 where below `2^-126 (1 + 2^-10)`.
///
/// # Safety
/// `x..x + n` readable and `y..y + n` writable (`y` may equal `x`).
#[inline(always)]
pub(crate) unsafe fn vscaleextexp<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    n: usize,
    sum: Ext,
    nt: bool,
) {
    struct ScaleExt<S: Simd, const COARSE: bool>(ScaledExp<S>);
    impl<S: Simd, const COARSE: bool> Map<S> for ScaleExt<S, COARSE> {
        #[inline(always)]
        fn apply(&self, s: S, x: S::V, _: At<S>) -> S::V {
            // Every n - e is at most 1: no term exceeds the sum. The folded 1 / sum.m can round
            // the largest output of a one-term sum above 1 by a few f32 ulp (a NaN stays), which
            // a half-precision store rounds back to 1.
            let y = self.0.at::<true, COARSE, true>(s, x);
            if COARSE {
                y
            } else {
                s.min(s.splat(1.0), y)
            }
        }
    }
    let sum = sum.normalized();
    let exp = ScaledExp::new(s, (1.0 / sum.m) as f32, sum.e);
    // SAFETY: forwarded from the caller.
    unsafe {
        if E::COARSE_EXP {
            map(s, &ScaleExt::<S, true>(exp), x, y, n, nt)
        } else {
            map(s, &ScaleExt::<S, false>(exp), x, y, n, nt)
        }
    }
}

/// `y_i = (x_i - a) - b`. With `a` the max (or the f32 nearest the log-sum-exp) the first
/// difference is exact near the max, so `log_softmax` keeps full precision at large |x|.
///
/// # Safety
/// `x..x + n` readable and `y..y + n` writable (`y` may equal `x`).
#[inline(always)]
pub(crate) unsafe fn vsubtract<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    n: usize,
    (a, b): (f32, f32),
    nt: bool,
) {
    struct Sub<S: Simd> {
        a: S::V,
        b: S::V,
    }
    impl<S: Simd> Map<S> for Sub<S> {
        #[inline(always)]
        fn apply(&self, s: S, x: S::V, _: At<S>) -> S::V {
            s.sub(s.sub(x, self.a), self.b)
        }
    }
    let f = Sub {
        a: s.splat(a),
        b: s.splat(b),
    };
    // SAFETY: forwarded from the caller.
    unsafe { map(s, &f, x, y, n, nt) }
}

/// The cross-entropy gradient pass: `y_i = exp(x_i - a) * scale - bias * w_i` (`w_i = 1`
/// without weights), i.e. `k * (A * p_i - (eps / C) * w_i)` with `p_i = exp(x_i - lse)`,
/// `a` the f32 nearest the log-sum-exp and the rest of it folded into `scale`
/// ([`GradCoefficients::fit_the_pass`]). `exp(x_i - a) * scale` is 0 where it lies below
/// `2^-126 (1 + 2^-10)`.
///
/// # Safety
/// `x..x + n` readable, `y..y + n` writable (`y` may equal `x`), `w..w + n` readable if given.
#[inline(always)]
pub(crate) unsafe fn vgradce<S: Simd, E: Element>(
    s: S,
    x: *const E,
    y: *mut E,
    n: usize,
    w: Option<*const f32>,
    c: GradCoefficients,
    nt: bool,
) {
    /// With `WEIGHTED`, `w` points at the weights (a separate type, so the loop never tests
    /// for them); without `BIASED` (bias +0, no label smoothing) the bias term, which would add
    /// -0 to every output and change none, is left out.
    struct Grad<S: Simd, const WEIGHTED: bool, const BIASED: bool> {
        a: S::V,
        scale: ScaledExp<S>,
        minus_bias: S::V,
        w: *const f32,
    }
    impl<S: Simd, const WEIGHTED: bool, const BIASED: bool> Grad<S, WEIGHTED, BIASED> {
        #[inline(always)]
        fn new(s: S, c: GradCoefficients, w: Option<*const f32>) -> Self {
            Grad {
                a: s.splat(c.a),
                scale: ScaledExp::new(s, c.scale, 0.0),
                minus_bias: s.splat(-c.bias),
                w: w.unwrap_or(core::ptr::null()),
            }
        }
    }
    impl<S: Simd, const WEIGHTED: bool, const BIASED: bool> Map<S> for Grad<S, WEIGHTED, BIASED> {
        #[inline(always)]
        fn apply(&self, s: S, x: S::V, at: At<S>) -> S::V {
            // `scale * exp(x - a)`; the short reduction costs at most |n| * 1.9e-9 relative,
            // where |n| <= 126 + 124 for a kept term.
            let p = self.scale.at::<true, false, true>(s, s.sub(x, self.a));
            if !BIASED {
                p
            } else if WEIGHTED {
                // SAFETY: the weights cover the row (the caller's contract).
                s.fma(self.minus_bias, unsafe { at.load(s, self.w, 0.0) }, p)
            } else {
                s.add(p, self.minus_bias)
            }
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        match (w, c.bias.to_bits() != 0) {
            (_, false) => map(s, &Grad::<S, false, false>::new(s, c, None), x, y, n, nt),
            (Some(_), true) => map(s, &Grad::<S, true, true>::new(s, c, w), x, y, n, nt),
            (None, true) => map(s, &Grad::<S, false, true>::new(s, c, None), x, y, n, nt),
        }
    }
}
