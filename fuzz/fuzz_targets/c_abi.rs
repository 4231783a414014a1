//! The C entry points with arbitrary lengths, strides, NULL / misaligned / overlapping pointers,
//! enum values and cross-entropy options over valid buffers, in f32, f16, bf16 and f64: never a
//! crash, only the status codes each function documents, nothing written on an error, and on
//! success the same bits (sampling: the same tokens and counter) as the Rust API, with the
//! header's value rules (special rows NaN, softmax in [0, 1] with a mass near 1, log-softmax
//! <= 0 within its bound, log-sum-exp between the max and the max + ln n, finite results from
//! tame inputs, ignored rows' losses 0, a mean over no weight NaN).
//!
//! Every `twopass_*` function declared in include/twopass.h is called here; none is left out.
#![no_main]

use std::ffi::CStr;

use libfuzzer_sys::fuzz_target;
use twopass::capi::*;
use twopass::{
    bf16, f16, Algorithm, CrossEntropyOptions, CrossEntropyOutputs, Float, Kernels, LinearShape,
    Reduction, RngState, SampleParams, Shape,
};

const SENTINEL: f32 = -1234.5;

#[path = "bytes.rs"]
mod bytes;

use bytes::Bytes;

/// A pointer into `buf` chosen by `how`: NULL, misaligned by a byte, or at `at`.
fn pointer<P>(buf: &mut [P], how: u8, at: usize) -> *mut P {
    let at = at.min(buf.len());
    match how % 8 {
        0 => std::ptr::null_mut(),
        1 => buf
            .as_mut_ptr()
            .wrapping_add(at)
            .cast::<u8>()
            .wrapping_add(1)
            .cast(),
        _ => buf.as_mut_ptr().wrapping_add(at),
    }
}

/// A value's bits, to compare results exactly (NaN payloads included).
trait Bits: Copy {
    fn bits(self) -> u64;
}

impl Bits for f32 {
    fn bits(self) -> u64 {
        self.to_bits().into()
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

impl Bits for f16 {
    fn bits(self) -> u64 {
        self.to_bits().into()
    }
}

impl Bits for bf16 {
    fn bits(self) -> u64 {
        self.to_bits().into()
    }
}

/// Fails with `what` unless `got` and `want` hold the same bits, element by element.
fn assert_same_bits<F: Bits>(got: &[F], want: &[F], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let same = got.iter().zip(want).all(|(&g, &w)| g.bits() == w.bits());
    assert!(same, "{what}");
}

type Map<R> = unsafe extern "C" fn(*const R, *mut R, usize) -> i32;
type MapWith<R> = unsafe extern "C" fn(i32, *const R, *mut R, usize) -> i32;
type Lse<R> = unsafe extern "C" fn(*const R, usize, *mut f32) -> i32;
type Rows<R> = unsafe extern "C" fn(*const R, usize, *mut R, usize, usize, usize) -> i32;
type LseRows<R> = unsafe extern "C" fn(*const R, usize, usize, usize, *mut f32) -> i32;
type Axis<R> = unsafe extern "C" fn(*const R, *mut R, usize, usize, usize) -> i32;
type LseAxis<R> = unsafe extern "C" fn(*const R, usize, usize, usize, *mut f32) -> i32;
type LseUpdate<R> = unsafe extern "C" fn(*mut twopass_lse_state, *const R, usize) -> i32;
type Finish<R> = unsafe extern "C" fn(*const twopass_lse_state, *const R, *mut R, usize) -> i32;
type Options = *const twopass_cross_entropy_options;
type CrossEntropy<R> = unsafe extern "C" fn(
    *const R,
    usize,
    usize,
    usize,
    *const i64,
    Options,
    *mut f32,
    *mut f32,
    *mut f32,
    *mut R,
    usize,
    *const f32,
) -> i32;
type LogProb<R> = unsafe extern "C" fn(
    *const R,
    usize,
    usize,
    usize,
    *const i64,
    Options,
    *mut f32,
    *mut f32,
    *mut f32,
    *mut R,
    usize,
    *const f32,
    *mut R,
    usize,
) -> i32;
type CrossEntropyAxis<R> = unsafe extern "C" fn(
    *const R,
    usize,
    usize,
    usize,
    *const i64,
    Options,
    *mut f32,
    *mut f32,
    *mut f32,
    *mut R,
    *const f32,
    *mut R,
) -> i32;
type RowUpdate<R> =
    unsafe extern "C" fn(*mut twopass_cross_entropy_state, Options, usize, *const R, usize) -> i32;
type RowGradient<R> = unsafe extern "C" fn(
    *const twopass_cross_entropy_state,
    Options,
    usize,
    *const R,
    *mut R,
    usize,
    f32,
) -> i32;
type Linear<R> = unsafe extern "C" fn(
    *const R,
    *const R,
    *const R,
    usize,
    usize,
    usize,
    *const i64,
    Options,
    *mut f32,
    *mut f32,
    *mut f32,
    *mut f32,
    *mut f32,
    *mut f32,
    *const f32,
) -> i32;

/// An element type of the C entry points: its C bits type and functions, its outputs' ulp
/// (relative; 0 for f32, bound by its mass instead) and smallest subnormal, the largest |x| of
/// rows whose log-softmax is finite, and how to read it.
trait Elem: Float + Bits + Into<f64> {
    type Raw;
    const ULP: f64;
    const TINY: f64;
    const TAME: f64;
    const SOFTMAX: Map<Self::Raw>;
    const SOFTMAX_WITH: MapWith<Self::Raw>;
    const LOG_SOFTMAX: Map<Self::Raw>;
    const LOG_SUM_EXP: Lse<Self::Raw>;
    const SOFTMAX_ROWS: Rows<Self::Raw>;
    const LOG_SOFTMAX_ROWS: Rows<Self::Raw>;
    const LOG_SUM_EXP_ROWS: LseRows<Self::Raw>;
    const SOFTMAX_AXIS: Axis<Self::Raw>;
    const LOG_SOFTMAX_AXIS: Axis<Self::Raw>;
    const LOG_SUM_EXP_AXIS: LseAxis<Self::Raw>;
    const LSE_UPDATE: LseUpdate<Self::Raw>;
    const SOFTMAX_FINISH: Finish<Self::Raw>;
    const LOG_SOFTMAX_FINISH: Finish<Self::Raw>;
    const CROSS_ENTROPY: CrossEntropy<Self::Raw>;
    const CROSS_ENTROPY_LOG_PROB: LogProb<Self::Raw>;
    const CROSS_ENTROPY_AXIS: CrossEntropyAxis<Self::Raw>;
    const ROW_UPDATE: RowUpdate<Self::Raw>;
    const ROW_GRADIENT: RowGradient<Self::Raw>;
    const LINEAR: Linear<Self::Raw>;
    fn from_ne(bytes: &[u8]) -> Self;
}

macro_rules! elem {
    ($t:ty, $raw:ty, $ulp:expr, $tiny:expr, $tame:expr, $from:expr, [$($f:ident),* $(,)?]) => {
        impl Elem for $t {
            type Raw = $raw;
            const ULP: f64 = $ulp;
            const TINY: f64 = $tiny;
            const TAME: f64 = $tame;
            elem!(@consts $raw, [$($f),*]);
            fn from_ne(bytes: &[u8]) -> Self {
                $from(<$raw>::from_ne_bytes(bytes.try_into().unwrap()))
            }
        }
    };
    (@consts $raw:ty, [$softmax:ident, $with:ident, $log_softmax:ident, $lse:ident,
        $rows:ident, $log_rows:ident, $lse_rows:ident, $axis:ident, $log_axis:ident,
        $lse_axis:ident, $update:ident, $finish:ident, $log_finish:ident, $ce:ident,
        $log_prob:ident, $ce_axis:ident, $row_update:ident, $row_gradient:ident,
        $linear:ident]) => {
        const SOFTMAX: Map<$raw> = $softmax;
        const SOFTMAX_WITH: MapWith<$raw> = $with;
        const LOG_SOFTMAX: Map<$raw> = $log_softmax;
        const LOG_SUM_EXP: Lse<$raw> = $lse;
        const SOFTMAX_ROWS: Rows<$raw> = $rows;
        const LOG_SOFTMAX_ROWS: Rows<$raw> = $log_rows;
        const LOG_SUM_EXP_ROWS: LseRows<$raw> = $lse_rows;
        const SOFTMAX_AXIS: Axis<$raw> = $axis;
        const LOG_SOFTMAX_AXIS: Axis<$raw> = $log_axis;
        const LOG_SUM_EXP_AXIS: LseAxis<$raw> = $lse_axis;
        const LSE_UPDATE: LseUpdate<$raw> = $update;
        const SOFTMAX_FINISH: Finish<$raw> = $finish;
        const LOG_SOFTMAX_FINISH: Finish<$raw> = $log_finish;
        const CROSS_ENTROPY: CrossEntropy<$raw> = $ce;
        const CROSS_ENTROPY_LOG_PROB: LogProb<$raw> = $log_prob;
        const CROSS_ENTROPY_AXIS: CrossEntropyAxis<$raw> = $ce_axis;
        const ROW_UPDATE: RowUpdate<$raw> = $row_update;
        const ROW_GRADIENT: RowGradient<$raw> = $row_gradient;
        const LINEAR: Linear<$raw> = $linear;
    };
}

elem!(
    f32,
    f32,
    0.0,
    0.0,
    1e30,
    std::convert::identity,
    [
        twopass_softmax_f32,
        twopass_softmax_with_f32,
        twopass_log_softmax_f32,
        twopass_log_sum_exp_f32,
        twopass_softmax_rows_f32,
        twopass_log_softmax_rows_f32,
        twopass_log_sum_exp_rows_f32,
        twopass_softmax_axis_f32,
        twopass_log_softmax_axis_f32,
        twopass_log_sum_exp_axis_f32,
        twopass_lse_update_f32,
        twopass_softmax_finish_f32,
        twopass_log_softmax_finish_f32,
        twopass_cross_entropy_f32,
        twopass_cross_entropy_log_prob_f32,
        twopass_cross_entropy_axis_f32,
        twopass_cross_entropy_row_update_f32,
        twopass_cross_entropy_row_gradient_f32,
        twopass_linear_cross_entropy_f32,
    ]
);

elem!(
    f16,
    u16,
    1.0 / 1024.0,
    5.960_464_477_539_063e-8,
    3e4,
    f16::from_bits,
    [
        twopass_softmax_f16,
        twopass_softmax_with_f16,
        twopass_log_softmax_f16,
        twopass_log_sum_exp_f16,
        twopass_softmax_rows_f16,
        twopass_log_softmax_rows_f16,
        twopass_log_sum_exp_rows_f16,
        twopass_softmax_axis_f16,
        twopass_log_softmax_axis_f16,
        twopass_log_sum_exp_axis_f16,
        twopass_lse_update_f16,
        twopass_softmax_finish_f16,
        twopass_log_softmax_finish_f16,
        twopass_cross_entropy_f16,
        twopass_cross_entropy_log_prob_f16,
        twopass_cross_entropy_axis_f16,
        twopass_cross_entropy_row_update_f16,
        twopass_cross_entropy_row_gradient_f16,
        twopass_linear_cross_entropy_f16,
    ]
);

elem!(
    bf16,
    u16,
    1.0 / 128.0,
    9.183_549_615_799_121e-41,
    1e30,
    bf16::from_bits,
    [
        twopass_softmax_bf16,
        twopass_softmax_with_bf16,
        twopass_log_softmax_bf16,
        twopass_log_sum_exp_bf16,
        twopass_softmax_rows_bf16,
        twopass_log_softmax_rows_bf16,
        twopass_log_sum_exp_rows_bf16,
        twopass_softmax_axis_bf16,
        twopass_log_softmax_axis_bf16,
        twopass_log_sum_exp_axis_bf16,
        twopass_lse_update_bf16,
        twopass_softmax_finish_bf16,
        twopass_log_softmax_finish_bf16,
        twopass_cross_entropy_bf16,
        twopass_cross_entropy_log_prob_bf16,
        twopass_cross_entropy_axis_bf16,
        twopass_cross_entropy_row_update_bf16,
        twopass_cross_entropy_row_gradient_bf16,
        twopass_linear_cross_entropy_bf16,
    ]
);

/// The elements of type `T` in the bytes of `x` (as a C call reads them).
fn elems<T: Elem>(x: &[f32]) -> Vec<T> {
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_ne_bytes()).collect();
    bytes.chunks_exact(size_of::<T>()).map(T::from_ne).collect()
}

fn widen<T: Elem>(x: &[T]) -> Vec<f64> {
    x.iter().map(|&v| v.into()).collect()
}

/// A row the header makes all NaN (log-sum-exp: NaN, +inf or -inf): a NaN, +inf, or no finite
/// value.
fn special(x: &[f64]) -> bool {
    x.iter().any(|v| v.is_nan() || *v == f64::INFINITY) || !x.iter().any(|v| v.is_finite())
}

/// The header's rules for a softmax (`log`: log-softmax) row `y` of `x`, outputs each within
/// `ulp` (relative) and `tiny` of the exact values: all NaN for a special row; else 0 (-inf)
/// at -inf, in [0, 1] with a mass near 1 (at most the bound 2e-6 above 0, finite when every
/// finite |x| <= `tame`).
fn softmax_rules(x: &[f64], y: &[f64], log: bool, (ulp, tiny): (f64, f64), tame: f64) {
    if special(x) {
        assert!(
            y.iter().all(|v| v.is_nan()),
            "special row not NaN: {x:?} -> {y:?}"
        );
        return;
    }
    let is_tame = x.iter().all(|v| v.abs() <= tame || *v == f64::NEG_INFINITY);
    for (&a, &v) in x.iter().zip(y) {
        if a == f64::NEG_INFINITY {
            assert_eq!(v, if log { a } else { 0.0 }, "-inf in {x:?} -> {y:?}");
        } else if log {
            assert!(v <= 2e-6 && (!is_tame || v.is_finite()), "{x:?} -> {y:?}");
        } else {
            assert!((0.0..=1.0).contains(&v), "{x:?} -> {y:?}");
        }
    }
    if !log {
        // The f32 mass bound 2e-6, a split row's 4.8e-7 relative more, each 16-bit output
        // within 2 ulp of its type.
        let mass: f64 = y.iter().sum();
        let tol = 3e-6 + 2.0 * ulp + 2.0 * tiny * y.len() as f64;
        assert!((mass - 1.0).abs() <= tol, "mass {mass}: {x:?} -> {y:?}");
    }
}

/// The header's rules for the log-sum-exp `v` of `x`: NaN, +inf or -inf for a special row, else
/// between the max and the max + ln n (within 2e-6 * max(1, |ref|)).
fn lse_rules(x: &[f64], v: f64) {
    if x.iter().any(|v| v.is_nan()) {
        assert!(v.is_nan(), "lse {v} of {x:?}");
    } else if x.contains(&f64::INFINITY) {
        assert_eq!(v, f64::INFINITY, "lse of {x:?}");
    } else if special(x) {
        assert_eq!(v, f64::NEG_INFINITY, "lse of {x:?}");
    } else {
        let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let top = max + (x.len() as f64).ln();
        let tol = 2e-6 * max.abs().max(top.abs()).max(1.0);
        assert!(v >= max - tol && v <= top + tol, "lse {v} of {x:?}");
    }
}

/// The rows of an `(outer, len, inner)` tensor, each gathered.
fn axis_rows<F: Copy>(x: &[F], (outer, len, inner): (usize, usize, usize)) -> Vec<Vec<F>> {
    let row = |o: usize, j: usize| (0..len).map(|k| x[(o * len + k) * inner + j]).collect();
    (0..outer)
        .flat_map(|o| (0..inner).map(move |j| (o, j)))
        .map(|(o, j)| row(o, j))
        .collect()
}

fn algorithm(code: i32) -> Option<Algorithm> {
    Some(match code {
        0 => Algorithm::Auto,
        1 => Algorithm::TwoPass,
        2 => Algorithm::ThreePassReload,
        3 => Algorithm::ThreePassRecompute,
        4 => Algorithm::Online,
        5 => Algorithm::Blocked,
        _ => return None,
    })
}

/// The options the library reads from `given` (its first `given.size` bytes; the defaults for
/// the fields past them, and for NULL), as the Rust API takes them, or None where the call must
/// fail (misaligned, `size` below 8, an unknown reduction).
fn rust_options<'a>(
    given: Option<&twopass_cross_entropy_options>,
    aligned: bool,
    weights: &'a [f32],
) -> Option<CrossEntropyOptions<'a>> {
    let d = twopass_cross_entropy_options_default();
    let o = given.copied().unwrap_or(d);
    let fits = |end: usize| o.size as usize >= end;
    if given.is_some() && (!aligned || !fits(8)) {
        return None;
    }
    let reduction = match o.reduction {
        TWOPASS_REDUCTION_NONE => Reduction::None,
        TWOPASS_REDUCTION_MEAN => Reduction::Mean,
        TWOPASS_REDUCTION_SUM => Reduction::Sum,
        _ => return None,
    };
    let ignore = if fits(16) {
        o.ignore_index
    } else {
        d.ignore_index
    };
    Some(CrossEntropyOptions {
        ignore_index: (ignore != TWOPASS_NO_IGNORE_INDEX).then_some(ignore),
        label_smoothing: if fits(20) { o.label_smoothing } else { 0.0 },
        reduction,
        z_loss: if fits(24) { o.z_loss } else { 0.0 },
        class_weights: (fits(size_of::<twopass_cross_entropy_options>())
            && !o.class_weights.is_null())
        .then_some(weights),
    })
}

/// Logits whose cross-entropy must be finite (the options come from tame sets): each finite
/// with |x| <= 1e4.
fn tame_logits(rows: &[Vec<f64>]) -> bool {
    rows.iter().flatten().all(|v| v.abs() <= 1e4)
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    // The op, and (for the ops of every element type) the type: f32, f16 or bf16.
    let v = b.u8();
    let op = v % 16;
    match v / 16 % 3 {
        0 => run::<f32>(op, b),
        1 => run::<f16>(op, b),
        _ => run::<bf16>(op, b),
    }
});

fn run<T: Elem>(op: u8, mut b: Bytes<'_>) {
    // An ISA to force first (valid or not); errors leave the previous choice.
    let isa = i32::from(b.u8() as i8) % 6;
    let set = twopass_set_isa(isa);
    assert!([
        TWOPASS_OK,
        TWOPASS_ERROR_INVALID_ARGUMENT,
        TWOPASS_ERROR_UNSUPPORTED_ISA
    ]
    .contains(&set));
    let active = twopass_active_isa();
    assert!((1..=3).contains(&active), "active ISA {active}");
    assert!(
        set != TWOPASS_OK || isa == 0 || active == isa,
        "{isa} set, {active} active"
    );
    // SAFETY: the version is a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(twopass_version()) }
        .to_str()
        .unwrap();
    assert!(
        version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "version {version}"
    );
    let (rows, cols) = (usize::from(b.u8() % 6), usize::from(b.u8() % 40));
    let (x_stride, y_stride) = (
        cols + usize::from(b.u8() % 4),
        cols + usize::from(b.u8() % 4),
    );
    let (x_how, y_how) = (b.u8(), b.u8());
    let (x_at, y_at) = (usize::from(b.u8() % 8), usize::from(b.u8() % 200));
    let alg = i32::from(b.u8() as i8) % 8;
    let mut buf = vec![SENTINEL; 512];
    for v in buf.iter_mut().take(256) {
        *v = b.f32();
    }
    let before = buf.clone();
    let n = rows * cols;
    // The axis calls take an (outer, len, inner) tensor of at most 5 * 7 * 8 = 280 floats.
    let (outer, len, inner) = (
        rows,
        cols % 8,
        1 + ((x_stride - cols) * 4 + (y_stride - cols)) % 8,
    );
    let total = outer * len * inner;
    // Cross-entropy targets for the axis form (classes `len`): mostly classes, some -100
    // (ignored), some out of range.
    let targets: Vec<i64> = (0..outer * inner)
        .map(|_| match b.u8() % 16 {
            0 => -100,
            1 => len as i64,
            v => i64::from(v) % len.max(1) as i64,
        })
        .collect();
    // Sampling (op 11): parameters in and out of range, a state that may wrap, the form (one
    // row of n logits, rows, or the kept probabilities of one row) and element type from
    // `alg`, the tokens or probabilities written at y.
    let pick = |b: &mut Bytes, values: &[f32]| values[usize::from(b.u8()) % values.len()];
    let mut params = twopass_sample_params {
        temperature: pick(&mut b, &[1.0, 0.0, 0.7, 1e-30, 1e30, -1.0, f32::NAN, 1e-40]),
        top_k: usize::from(b.u8() % 48),
        top_p: pick(&mut b, &[1.0, 0.9, 0.5, 1e-6, 0.0, 1.5, f32::NAN]),
        min_p: pick(&mut b, &[0.0, 0.1, 0.5, 1.0, -0.1, 1.5, f32::NAN]),
        ..twopass_sample_params_default()
    };
    params.size = [params.size, 0, 8, params.size - 4][usize::from(b.u8() % 4)];
    let seed = u64::from(b.u8()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let counter = match b.u8() % 4 {
        0 => 0,
        1 => u64::MAX,
        v => u64::from(v) << 40,
    };
    let mut rng = twopass_rng_state { seed, counter };
    let (params_at, rng_at) = match b.u8() % 8 {
        0 => (std::ptr::null(), &raw mut rng),
        1 => (&raw const params, std::ptr::null_mut()),
        _ => (&raw const params, &raw mut rng),
    };
    let sample_kind = alg.rem_euclid(9);
    // The fused linear cross-entropy (op 13): `rows` tokens of `cols % 8` features at x, the
    // weights of `classes` at buf[200..], a bias (if any) at buf[192..], d_hidden at y; targets
    // from `alg` (some out of range).
    let (features, classes) = (cols % 8, 1 + (x_stride - cols) + (y_stride - cols));
    let lin_targets: Vec<i64> = (0..rows as i64)
        .map(|i| (i + i64::from(alg)).rem_euclid(classes as i64 + 1))
        .collect();
    // The split cross-entropy row's target (op 12): ignored, a class, or `cols` (out of range).
    let ce_target = match alg {
        ..0 => -100,
        a => i64::from(a) % (cols as i64 + 1),
    };
    // Cross-entropy options (ops 8, 12, 13, 15), in and out of range, through a struct that
    // may be NULL, misaligned or shorter (`size`); class weights of tame values, one maybe bad.
    let mut weights: Vec<f32> = (0..40).map(|_| f32::from(b.u8() % 5) * 0.5).collect();
    let bad = b.u8();
    if bad.is_multiple_of(8) {
        weights[usize::from(bad / 8) % 40] = [-1.0, f32::NAN, f32::INFINITY][usize::from(bad % 3)];
    }
    let mut given = twopass_cross_entropy_options_default();
    given.reduction = [
        TWOPASS_REDUCTION_MEAN,
        TWOPASS_REDUCTION_SUM,
        TWOPASS_REDUCTION_NONE,
        3,
    ][usize::from(b.u8() % 4)];
    given.ignore_index = [-100, TWOPASS_NO_IGNORE_INDEX, 0, 1][usize::from(b.u8() % 4)];
    given.label_smoothing = pick(&mut b, &[0.0, 0.1, 1.0, 0.5, -0.5, 1.5, f32::NAN]);
    given.z_loss = pick(&mut b, &[0.0, 1e-4, 1.0, -1.0, f32::INFINITY, f32::NAN]);
    if b.u8() % 2 == 1 {
        given.class_weights = weights.as_ptr();
    }
    given.size = match b.u8() % 8 {
        3 => 4,
        4 => 8,
        5 => 16,
        6 => 20,
        7 => 24,
        _ => given.size,
    };
    let mut store = [0u64; 6];
    let options_how = b.u8() % 8;
    let options: Options = match options_how {
        0 => std::ptr::null(),
        h => {
            let at = store
                .as_mut_ptr()
                .cast::<u8>()
                .wrapping_add(if h == 1 { 4 } else { 0 });
            // SAFETY: `store` holds 48 bytes, the struct 32 from byte 0 or 4.
            unsafe {
                at.cast::<twopass_cross_entropy_options>()
                    .write_unaligned(given)
            };
            at.cast_const().cast()
        }
    };
    let options_given = (!options.is_null()).then_some(&given);
    // The classes of the op's rows: the axis form's `len`, the linear layer's `classes`.
    let ce_classes = match op {
        8 => len,
        13 => classes,
        _ => cols,
    };
    let rust = rust_options(options_given, options_how != 1, &weights[..ce_classes]);
    // Which optional cross-entropy outputs and inputs are given (bits of `outs`), the upstream
    // gradients, the rows form's targets (classes `cols`) and log_prob stride.
    let outs = b.u8();
    let upstream = [pick(&mut b, &[1.0, 0.5, -2.0, 0.0]); 40];
    let row_targets: Vec<i64> = (0..rows)
        .map(|_| match b.u8() % 16 {
            0 => -100,
            1 => cols as i64,
            2 => -1,
            v => i64::from(v) % cols.max(1) as i64,
        })
        .collect();
    let lp_stride = match b.u8() % 4 {
        0 => cols.saturating_sub(1),
        v => cols + usize::from(v),
    };
    // The optional outputs live in `aux`: row losses at 0, row lse at 64, log_prob at 128,
    // d_weight at 420 and d_bias at 480.
    let mut aux = vec![SENTINEL; 512];
    let aux_before = aux.clone();
    let mut ce_loss = SENTINEL;
    let given_if = |bit: u8, p: *mut f32| {
        if outs & 1 << bit != 0 {
            p
        } else {
            std::ptr::null_mut()
        }
    };
    let loss_at = given_if(0, &raw mut ce_loss);
    let row_losses = given_if(1, aux.as_mut_ptr());
    let row_lse = given_if(2, aux.as_mut_ptr().wrapping_add(64));
    let log_prob = given_if(3, aux.as_mut_ptr().wrapping_add(128)).cast::<T::Raw>();
    let grad_output = given_if(4, upstream.as_ptr().cast_mut()).cast_const();
    let d_weight = given_if(6, aux.as_mut_ptr().wrapping_add(420));
    let d_bias = given_if(7, aux.as_mut_ptr().wrapping_add(480));
    // The f64 entry points (op 9) read a widened copy; the form from `alg`.
    let mut wide: Vec<f64> = buf.iter().map(|&v| f64::from(v)).collect();
    let wide_before = wide.clone();
    let wide_x = pointer(&mut wide, x_how, x_at).cast_const();
    let wide_out = pointer(&mut wide, y_how, y_at);
    let wide_kind = alg.rem_euclid(7);
    let x = pointer(&mut buf, x_how, x_at);
    let y = pointer(&mut buf, y_how, y_at);
    let (tx, ty) = (x.cast::<T::Raw>().cast_const(), y.cast::<T::Raw>());
    let lin_weight = pointer(&mut buf, 2, 200).cast::<T::Raw>().cast_const();
    let lin_bias = given_if(5, pointer(&mut buf, 2, 192))
        .cast::<T::Raw>()
        .cast_const();
    let tokens = y.cast::<usize>();
    let mut lse_value = f32::NAN;
    // SAFETY: every pointer is NULL, misaligned, or inside `buf` (or `aux`, `wide`, `store`)
    // with room for what the call may touch (512 elements; the largest span here is
    // 5 * 43 + 39 + 200 < 512 f32 (16-bit types: half the bytes), the largest tensor 280 + 200,
    // the outputs in `aux` apart); the library must refuse the NULL and misaligned ones and
    // overlaps before touching memory.
    let status = unsafe {
        match op {
            0 => (T::SOFTMAX_WITH)(alg, tx, ty, n),
            1 => (T::LOG_SOFTMAX_ROWS)(tx, x_stride, ty, y_stride, rows, cols),
            2 => (T::LOG_SUM_EXP_ROWS)(tx, x_stride, rows, cols, y),
            3 => {
                let mut state = std::mem::MaybeUninit::<twopass_lse_state>::uninit();
                assert_eq!(twopass_lse_init(state.as_mut_ptr()), TWOPASS_OK);
                let s = (T::LSE_UPDATE)(state.as_mut_ptr(), tx, n);
                lse_value = twopass_lse_value(state.as_ptr());
                assert!(twopass_lse_value(std::ptr::null()).is_nan());
                s
            }
            5 => (T::SOFTMAX_AXIS)(tx, ty, outer, len, inner),
            6 => (T::LOG_SUM_EXP_AXIS)(tx, outer, len, inner, y),
            7 => (T::LOG_SOFTMAX_AXIS)(tx, ty, outer, len, inner),
            8 => (T::CROSS_ENTROPY_AXIS)(
                tx,
                outer,
                len,
                inner,
                targets.as_ptr(),
                options,
                row_losses,
                row_lse,
                loss_at,
                ty,
                grad_output,
                log_prob,
            ),
            9 => match wide_kind {
                0 => twopass_log_sum_exp_axis_f64(wide_x, outer, len, inner, wide_out),
                1 => twopass_softmax_axis_f64(wide_x, wide_out, outer, len, inner),
                2 => twopass_log_softmax_axis_f64(wide_x, wide_out, outer, len, inner),
                3 => twopass_softmax_f64(wide_x, wide_out, n),
                4 => twopass_log_softmax_f64(wide_x, wide_out, n),
                5 => twopass_log_sum_exp_f64(wide_x, n, wide_out),
                _ => twopass_log_sum_exp_rows_f64(wide_x, x_stride, rows, cols, wide_out),
            },
            10 => {
                // A row split in two: each half's state, merged, then the row's outputs.
                let mut parts = [std::mem::MaybeUninit::<twopass_lse_state>::uninit(); 2];
                for p in parts.iter_mut() {
                    assert_eq!(twopass_lse_init(p.as_mut_ptr()), TWOPASS_OK);
                }
                let half = n / 2;
                let s0 = (T::LSE_UPDATE)(parts[0].as_mut_ptr(), tx, half);
                // The second half of a NULL x is NULL (not a pointer near 0).
                let rest = if tx.is_null() {
                    tx
                } else {
                    tx.wrapping_add(half)
                };
                let s1 = (T::LSE_UPDATE)(parts[1].as_mut_ptr(), rest, n - half);
                match (s0, s1) {
                    (TWOPASS_OK, TWOPASS_OK) => {
                        assert_eq!(
                            twopass_lse_merge(parts[0].as_mut_ptr(), parts[1].as_ptr()),
                            TWOPASS_OK
                        );
                        match alg & 1 {
                            0 => (T::SOFTMAX_FINISH)(parts[0].as_ptr(), tx, ty, n),
                            _ => (T::LOG_SOFTMAX_FINISH)(parts[0].as_ptr(), tx, ty, n),
                        }
                    }
                    (TWOPASS_OK, e) | (e, _) => e,
                }
            }
            11 => {
                let h = x.cast::<u16>().cast_const();
                match sample_kind {
                    0 => twopass_sample_f32(x, n, params_at, rng_at, tokens),
                    1 => twopass_sample_f16(h, n, params_at, rng_at, tokens),
                    2 => twopass_sample_bf16(h, n, params_at, rng_at, tokens),
                    3 => {
                        twopass_sample_rows_f32(x, x_stride, rows, cols, params_at, rng_at, tokens)
                    }
                    4 => {
                        twopass_sample_rows_f16(h, x_stride, rows, cols, params_at, rng_at, tokens)
                    }
                    6 => twopass_kept_probabilities_f32(x, n, params_at, y),
                    7 => twopass_kept_probabilities_f16(h, n, params_at, y),
                    8 => twopass_kept_probabilities_bf16(h, n, params_at, y),
                    _ => {
                        twopass_sample_rows_bf16(h, x_stride, rows, cols, params_at, rng_at, tokens)
                    }
                }
            }
            12 => {
                // A row of `cols` classes in two halves: a state each, merged; the gradient
                // into y (over x when y == x) with the upstream gradient as its scale, then the
                // loss and lse.
                let mut parts = [std::mem::MaybeUninit::<twopass_cross_entropy_state>::uninit(); 2];
                match twopass_cross_entropy_row_init(
                    parts[0].as_mut_ptr(),
                    cols,
                    ce_target,
                    options,
                ) {
                    TWOPASS_OK => {
                        parts[1] = parts[0];
                        let half = cols / 2;
                        let rest = if tx.is_null() {
                            tx
                        } else {
                            tx.wrapping_add(half)
                        };
                        let (a, b) = (parts[0].as_mut_ptr(), parts[1].as_mut_ptr());
                        let s0 = (T::ROW_UPDATE)(a, options, 0, tx, half);
                        let s1 = (T::ROW_UPDATE)(b, options, half, rest, cols - half);
                        match (s0, s1) {
                            (TWOPASS_OK, TWOPASS_OK) => {
                                assert_eq!(twopass_cross_entropy_row_merge(a, b), TWOPASS_OK);
                                let g = (T::ROW_GRADIENT)(a, options, 0, tx, ty, cols, upstream[0]);
                                if g == TWOPASS_OK {
                                    let lse = &raw mut lse_value;
                                    let f =
                                        twopass_cross_entropy_row_finish(a, options, loss_at, lse);
                                    assert_eq!(f, TWOPASS_OK);
                                }
                                g
                            }
                            (TWOPASS_OK, e) | (e, _) => e,
                        }
                    }
                    e => e,
                }
            }
            13 => (T::LINEAR)(
                tx,
                lin_weight,
                lin_bias,
                rows,
                features,
                classes,
                lin_targets.as_ptr(),
                options,
                row_losses,
                row_lse,
                loss_at,
                y,
                d_weight,
                d_bias,
                grad_output,
            ),
            14 => match alg.rem_euclid(3) {
                0 => (T::SOFTMAX)(tx, ty, n),
                1 => (T::LOG_SOFTMAX)(tx, ty, n),
                _ => (T::LOG_SUM_EXP)(tx, n, y),
            },
            15 => match alg & 1 {
                0 => (T::CROSS_ENTROPY)(
                    tx,
                    x_stride,
                    rows,
                    cols,
                    row_targets.as_ptr(),
                    options,
                    row_losses,
                    row_lse,
                    loss_at,
                    ty,
                    y_stride,
                    grad_output,
                ),
                _ => (T::CROSS_ENTROPY_LOG_PROB)(
                    tx,
                    x_stride,
                    rows,
                    cols,
                    row_targets.as_ptr(),
                    options,
                    row_losses,
                    row_lse,
                    loss_at,
                    ty,
                    y_stride,
                    grad_output,
                    log_prob,
                    lp_stride,
                ),
            },
            _ => (T::SOFTMAX_ROWS)(tx, x_stride, ty, y_stride, rows, cols),
        }
    };
    let cross_entropy = [8, 12, 13, 15].contains(&op);
    assert!(
        (0..=4).contains(&status) && (cross_entropy || status != TWOPASS_ERROR_TARGET_OUT_OF_RANGE),
        "status {status}"
    );
    // SAFETY: every status has a static NUL-terminated message; so has an unknown code.
    for code in [status, 7, -1] {
        let message = unsafe { CStr::from_ptr(twopass_status_message(code)) };
        assert!(!message.is_empty(), "no message for {code}");
    }
    if status != TWOPASS_OK {
        assert!(
            buf.iter()
                .zip(&before)
                .all(|(a, b)| a.to_bits() == b.to_bits())
                && aux
                    .iter()
                    .zip(&aux_before)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
                && wide
                    .iter()
                    .zip(&wide_before)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
                && ce_loss == SENTINEL
                && (rng.seed, rng.counter) == (seed, counter),
            "wrote on error {status}"
        );
        return;
    }
    // On success, the Rust API on the same input gives the same bits.
    let k = match Kernels::try_active() {
        Ok(k) => k,
        Err(_) => return,
    };
    let rules = (T::ULP, T::TINY);
    let tame = T::TAME;
    let zero: T = elems(&[0.0])[0];
    let fin: Vec<f32> = if x.is_null() {
        Vec::new()
    } else {
        before[x_at.min(512)..].to_vec()
    };
    let xin: Vec<T> = elems(&fin);
    let out_before: Vec<T> = elems(&before[y_at.min(512)..]);
    let got: Vec<T> = elems(&buf[y_at.min(512)..]);
    let got_f32 = &buf[y_at.min(512)..];
    let span = |stride: usize| match rows * cols {
        0 => 0,
        _ => (rows - 1) * stride + cols,
    };
    match op {
        0 | 14 if op == 0 || alg.rem_euclid(3) < 2 => {
            let log = op == 14 && alg.rem_euclid(3) == 1;
            let mut want = vec![zero; n];
            match (op, log) {
                (0, _) => {
                    let a = algorithm(alg).expect("an unknown algorithm must be refused");
                    k.with_algorithm(a).softmax(&xin[..n], &mut want)
                }
                (_, false) => k.softmax(&xin[..n], &mut want),
                _ => k.log_softmax(&xin[..n], &mut want),
            }
            .unwrap();
            assert_same_bits(&got[..n], &want, "softmax differs");
            softmax_rules(&widen(&xin[..n]), &widen(&want), log, rules, tame);
        }
        14 => {
            let want = k.log_sum_exp(&xin[..n]);
            assert_same_bits(&got_f32[..1], &[want], "log_sum_exp differs");
            lse_rules(&widen(&xin[..n]), want.into());
        }
        1 | 4 => {
            let (xs, ys) = (span(x_stride), span(y_stride));
            let mut want = out_before[..ys].to_vec();
            let log = op == 1;
            match log {
                true => k.log_softmax_rows(&xin[..xs], x_stride, &mut want, y_stride, rows, cols),
                false => k.softmax_rows(&xin[..xs], x_stride, &mut want, y_stride, rows, cols),
            }
            .unwrap();
            assert_same_bits(&got[..ys], &want, "softmax rows differ");
            for r in 0..rows.min(n) {
                let row = widen(&xin[r * x_stride..][..cols]);
                softmax_rules(
                    &row,
                    &widen(&want[r * y_stride..][..cols]),
                    log,
                    rules,
                    tame,
                );
            }
        }
        2 if rows > 0 => {
            let got = &got_f32[..rows];
            for (r, g) in got.iter().enumerate() {
                // Rows of no column read nothing (x may be NULL): -inf.
                let w = match cols {
                    0 => f32::NEG_INFINITY,
                    _ => k.log_sum_exp(&xin[r * x_stride..][..cols]),
                };
                assert!(g.to_bits() == w.to_bits(), "row {r}: {g} vs {w}");
                let row = if cols == 0 {
                    vec![]
                } else {
                    widen(&xin[r * x_stride..][..cols])
                };
                lse_rules(&row, w.into());
            }
        }
        3 => {
            let want = k.log_sum_exp(&xin[..n]);
            let v = lse_value;
            assert!(
                v.to_bits() == want.to_bits()
                    || (v - want).abs() <= 4e-6 * want.abs().max(1.0)
                    || (v.is_nan() && want.is_nan())
            );
            lse_rules(&widen(&xin[..n]), v.into());
        }
        5 | 7 => {
            let mut want = vec![zero; total];
            let log = op == 7;
            match log {
                true => k.log_softmax_axis(&xin[..total], &mut want, outer, len, inner),
                false => k.softmax_axis(&xin[..total], &mut want, outer, len, inner),
            }
            .unwrap();
            assert_same_bits(&got[..total], &want, "softmax_axis differs");
            let shape = (outer, len, inner);
            let xs = axis_rows(&widen(&xin[..total]), shape);
            for (a, r) in xs.iter().zip(axis_rows(&widen(&want), shape)) {
                softmax_rules(a, &r, log, rules, tame);
            }
        }
        6 => {
            let mut want = vec![0.0; outer * inner];
            k.log_sum_exp_axis(&xin[..total], outer, len, inner, &mut want)
                .unwrap();
            assert_same_bits(&got_f32[..outer * inner], &want, "log_sum_exp_axis differs");
            let xs = axis_rows(&widen(&xin[..total]), (outer, len, inner));
            for (a, &w) in xs.iter().zip(&want) {
                lse_rules(a, w.into());
            }
        }
        8 | 15 => {
            // The gradient in y (or over the logits when y == x), the loss, the optional
            // outputs, as from Rust.
            let o = rust.expect("refused options accepted");
            let axis = op == 8;
            let (count, lp_len) = match axis {
                true => (outer * inner, total),
                false => (rows, span(lp_stride)),
            };
            let ts = if axis { &targets[..] } else { &row_targets[..] };
            let mut losses = vec![SENTINEL; count];
            let mut lses = vec![SENTINEL; count];
            let lp_init: Vec<T> = elems(&aux_before[128..]);
            let mut lp = lp_init[..lp_len].to_vec();
            let with_log_prob = axis || alg & 1 == 1;
            let upstream_len = if o.reduction == Reduction::None {
                count
            } else {
                1
            };
            let out = CrossEntropyOutputs {
                row_losses: (!row_losses.is_null()).then_some(&mut losses[..]),
                row_lse: (!row_lse.is_null()).then_some(&mut lses[..]),
                ignored_row_lse: with_log_prob,
                log_prob: (with_log_prob && !log_prob.is_null())
                    .then_some((&mut lp[..], if axis { len } else { lp_stride })),
                grad_output: (!grad_output.is_null()).then_some(&upstream[..upstream_len]),
            };
            let (xs, gs) = if axis {
                (total, total)
            } else {
                (span(x_stride), span(y_stride))
            };
            let mut want = out_before[..gs].to_vec();
            let loss = if y == x {
                want = xin[..xs].to_vec();
                match axis {
                    true => {
                        k.cross_entropy_axis_in_place(&mut want, (outer, len, inner), ts, &o, out)
                    }
                    false => {
                        let shape = Shape::new(rows, cols).with_stride(x_stride);
                        k.cross_entropy_in_place(&mut want, shape, ts, &o, out)
                    }
                }
            } else {
                let grad = (!y.is_null()).then_some(&mut want[..]);
                match axis {
                    true => {
                        k.cross_entropy_axis(&xin[..xs], (outer, len, inner), ts, &o, out, grad)
                    }
                    false => {
                        let shape = Shape::new(rows, cols).with_stride(x_stride);
                        let grad = grad.map(|g| (g, y_stride));
                        k.cross_entropy(&xin[..xs], shape, ts, &o, out, grad)
                    }
                }
            }
            .unwrap();
            if !loss_at.is_null() {
                assert_same_bits(&[ce_loss], &[loss], "cross-entropy loss differs");
            }
            if !y.is_null() {
                assert_same_bits(&got[..gs], &want, "cross-entropy gradient differs");
            }
            if !row_losses.is_null() {
                assert_same_bits(&aux[..count], &losses, "row losses differ");
            }
            if !row_lse.is_null() {
                assert_same_bits(&aux[64..][..count], &lses, "row lse differ");
            }
            if with_log_prob && !log_prob.is_null() {
                let lp_got: Vec<T> = elems(&aux[128..]);
                assert_same_bits(&lp_got[..lp_len], &lp, "log_prob differs");
            }
            let logit_rows = match axis {
                true => axis_rows(&widen(&xin[..total]), (outer, len, inner)),
                false => (0..rows)
                    .map(|r| widen(&xin[r * x_stride..][..cols]))
                    .collect(),
            };
            let given = (!row_losses.is_null()).then_some(&losses[..]);
            loss_rules(tame_logits(&logit_rows), ts, &o, loss, given);
        }
        9 => {
            let input: Vec<f64> = fin.iter().map(|&v| f64::from(v)).collect();
            let got = &wide[y_at..];
            match wide_kind {
                0 => {
                    let mut want = vec![0.0; outer * inner];
                    twopass::log_sum_exp_axis_f64(&input[..total], outer, len, inner, &mut want)
                        .unwrap();
                    assert_same_bits(&got[..outer * inner], &want, "log_sum_exp_axis_f64 differs");
                    let xs = axis_rows(&input[..total], (outer, len, inner));
                    for (a, &w) in xs.iter().zip(&want) {
                        lse_rules(a, w);
                    }
                }
                1 | 2 => {
                    let mut want = vec![0.0; total];
                    let log = wide_kind == 2;
                    match log {
                        true => twopass::log_softmax_axis_f64(
                            &input[..total],
                            &mut want,
                            outer,
                            len,
                            inner,
                        ),
                        false => {
                            twopass::softmax_axis_f64(&input[..total], &mut want, outer, len, inner)
                        }
                    }
                    .unwrap();
                    assert_same_bits(&got[..total], &want, "softmax_axis_f64 differs");
                    let shape = (outer, len, inner);
                    for (a, r) in axis_rows(&input[..total], shape)
                        .iter()
                        .zip(axis_rows(&want, shape))
                    {
                        softmax_rules(a, &r, log, (0.0, 0.0), 1e300);
                    }
                }
                3 | 4 => {
                    let mut want = vec![0.0; n];
                    let log = wide_kind == 4;
                    match log {
                        true => twopass::log_softmax_f64(&input[..n], &mut want),
                        false => twopass::softmax_f64(&input[..n], &mut want),
                    }
                    .unwrap();
                    assert_same_bits(&got[..n], &want, "softmax_f64 differs");
                    softmax_rules(&input[..n], &want, log, (0.0, 0.0), 1e300);
                }
                5 => {
                    let want = twopass::log_sum_exp_f64(&input[..n]);
                    assert_same_bits(&got[..1], &[want], "log_sum_exp_f64 differs");
                    lse_rules(&input[..n], want);
                }
                _ => {
                    let mut want = vec![0.0; rows];
                    let xs = span(x_stride);
                    twopass::log_sum_exp_rows_f64(&input[..xs], x_stride, rows, cols, &mut want)
                        .unwrap();
                    assert_same_bits(&got[..rows], &want, "log_sum_exp_rows_f64 differs");
                    for (r, &w) in want.iter().enumerate() {
                        let row = if cols == 0 {
                            &[][..]
                        } else {
                            &input[r * x_stride..][..cols]
                        };
                        lse_rules(row, w);
                    }
                }
            }
        }
        10 => {
            let mut state = twopass::LseState::new();
            let mut other = twopass::LseState::new();
            k.lse_update(&mut state, &xin[..n / 2]);
            k.lse_update(&mut other, &xin[n / 2..n]);
            state.merge(&other);
            let mut want = vec![zero; n];
            let log = alg & 1 == 1;
            match log {
                false => k.softmax_finish(&state, &xin[..n], &mut want),
                true => k.log_softmax_finish(&state, &xin[..n], &mut want),
            }
            .unwrap();
            assert_same_bits(&got[..n], &want, "softmax_finish differs");
            softmax_rules(&widen(&xin[..n]), &widen(&want), log, rules, tame);
        }
        11 => {
            // Tokens and counter as the Rust API's, drawn from the same memory.
            let p = SampleParams {
                temperature: params.temperature,
                top_k: params.top_k,
                top_p: params.top_p,
                min_p: params.min_p,
            };
            let mut want = RngState { seed, counter };
            let (f16s, bf16s) = (elems::<f16>(&fin), elems::<bf16>(&fin));
            if sample_kind >= 6 {
                let mut probs = vec![0.0; n];
                match sample_kind {
                    6 => k.kept_probabilities(&fin[..n], &p, &mut probs),
                    7 => k.kept_probabilities(&f16s[..n], &p, &mut probs),
                    _ => k.kept_probabilities(&bf16s[..n], &p, &mut probs),
                }
                .unwrap();
                assert_same_bits(&got_f32[..n], &probs, "kept probabilities differ");
                assert_eq!((rng.seed, rng.counter), (seed, counter), "state touched");
                return;
            }
            let (len, width, drawn) = match sample_kind {
                0..3 => (n, n, 1),
                _ if rows == 0 => (0, cols, 0),
                _ => ((rows - 1) * x_stride + cols, cols, rows),
            };
            let mut out = vec![0; drawn];
            match sample_kind {
                0 => k.sample(&fin[..n], &p, &mut want).map(|t| out[0] = t),
                1 => k.sample(&f16s[..n], &p, &mut want).map(|t| out[0] = t),
                2 => k.sample(&bf16s[..n], &p, &mut want).map(|t| out[0] = t),
                3 => k.sample_rows(&fin[..len], x_stride, cols, &p, &mut want, &mut out),
                4 => k.sample_rows(&f16s[..len], x_stride, cols, &p, &mut want, &mut out),
                _ => k.sample_rows(&bf16s[..len], x_stride, cols, &p, &mut want, &mut out),
            }
            .unwrap();
            // SAFETY: the call succeeded, so `tokens` holds `drawn` outputs inside buf.
            let got: Vec<usize> = (0..drawn)
                .map(|r| unsafe { tokens.add(r).read() })
                .collect();
            assert_eq!(got, out, "tokens differ");
            assert!(out.iter().all(|&t| t < width), "a token outside its row");
            let advanced = counter.wrapping_add(drawn as u64);
            assert_eq!((rng.counter, want.counter), (advanced, advanced), "counter");
        }
        12 => {
            let o = rust.expect("refused options accepted");
            let mut row = twopass::CrossEntropyStream::new(k, cols, ce_target, &o).unwrap();
            let mut other = row.clone();
            row.update(0, &xin[..cols / 2]).unwrap();
            other.update(cols / 2, &xin[cols / 2..cols]).unwrap();
            row.merge(&other).unwrap();
            let done = row.finish().unwrap();
            if !loss_at.is_null() {
                assert_same_bits(&[ce_loss], &[done.loss()], "split loss differs");
            }
            assert_same_bits(&[lse_value], &[done.lse()], "split lse differs");
            let mut want = vec![zero; cols];
            done.gradient(0, &xin[..cols], &mut want, upstream[0])
                .unwrap();
            assert_same_bits(&got[..cols], &want, "split cross-entropy gradient differs");
            let (loss, tame) = (done.loss(), tame_logits(&[widen(&xin[..cols])]));
            match done.is_valid() {
                false => assert!(
                    loss == 0.0 && widen(&want).iter().all(|&g| g == 0.0),
                    "ignored row: loss {loss}"
                ),
                true => assert!(!tame || loss.is_finite(), "loss {loss} of tame logits"),
            }
        }
        13 => {
            let o = rust.expect("refused options accepted");
            let shape = LinearShape {
                tokens: rows,
                features,
                classes,
            };
            let (mut dh, mut dw, mut db) = (
                vec![0.0f32; rows * features],
                vec![0.0f32; classes * features],
                vec![0.0f32; classes],
            );
            let (mut losses, mut lses) = (vec![SENTINEL; rows], vec![SENTINEL; rows]);
            let upstream_len = if o.reduction == Reduction::None {
                rows
            } else {
                1
            };
            let out = twopass::LinearOutputs {
                row_losses: (!row_losses.is_null()).then_some(&mut losses[..]),
                row_lse: (!row_lse.is_null()).then_some(&mut lses[..]),
                grad_output: (!grad_output.is_null()).then_some(&upstream[..upstream_len]),
                d_hidden: (!y.is_null()).then_some(&mut dh[..]),
                d_weight: (!d_weight.is_null()).then_some(&mut dw[..]),
                d_bias: (!d_bias.is_null()).then_some(&mut db[..]),
            };
            let (h, w, bias) = (
                &xin[..rows * features],
                &elems::<T>(&before[200..])[..classes * features],
                elems::<T>(&before[192..]),
            );
            let bias = (!lin_bias.is_null()).then_some(&bias[..classes]);
            let loss = k
                .linear_cross_entropy(h, w, bias, shape, &lin_targets, &o, out)
                .unwrap();
            if !loss_at.is_null() {
                assert_same_bits(&[ce_loss], &[loss], "linear cross-entropy loss differs");
            }
            for (p, got, want) in [
                (y, got_f32, &dh),
                (d_weight, &aux[420..], &dw),
                (d_bias, &aux[480..], &db),
                (row_losses, &aux[..], &losses),
                (row_lse, &aux[64..], &lses),
            ] {
                if !p.is_null() {
                    assert_same_bits(&got[..want.len()], want, "linear cross-entropy differs");
                }
            }
            // Logits from hidden, weight and bias within 100: finite losses.
            let small = |v: &[T]| v.iter().all(|&e| Into::<f64>::into(e).abs() <= 100.0);
            let tame = small(h) && small(w) && bias.is_none_or(small);
            let given = (!row_losses.is_null()).then_some(&losses[..]);
            loss_rules(tame, &lin_targets, &o, loss, given);
        }
        _ => {}
    }
}

/// The header's rules for a successful cross-entropy's `loss` and row losses (if given): an
/// ignored row's loss 0; from `tame` inputs finite losses, except a mean over no target weight
/// (the valid rows' class weights): NaN.
fn loss_rules(
    tame: bool,
    targets: &[i64],
    o: &CrossEntropyOptions<'_>,
    loss: f32,
    row_losses: Option<&[f32]>,
) {
    let weight = |t: i64| o.class_weights.map_or(1.0, |w| f64::from(w[t as usize]));
    let total: f64 = targets
        .iter()
        .filter(|&&t| Some(t) != o.ignore_index)
        .map(|&t| weight(t))
        .sum();
    for (r, &t) in targets.iter().enumerate() {
        let l = row_losses.map(|l| l[r]);
        if Some(t) == o.ignore_index {
            assert!(l.is_none_or(|l| l == 0.0), "ignored row {r}'s loss {l:?}");
        } else if tame {
            assert!(l.is_none_or(f32::is_finite), "row {r}'s loss {l:?}");
        }
    }
    if tame {
        match o.reduction == Reduction::Mean && total == 0.0 {
            true => assert!(loss.is_nan(), "a mean over no weight: {loss}"),
            false => assert!(loss.is_finite(), "loss {loss} of tame logits"),
        }
    }
}
