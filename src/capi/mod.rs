//! The C ABI (cargo feature `capi`, on by default): the `twopass_*` functions and constants
//! `include/twopass.h` declares, generated from this module by cbindgen.
//!
//! Every entry point that computes or validates runs inside `guard` or `catch_unwind` (a panic
//! becomes `TWOPASS_ERROR_INTERNAL`, or NaN / 0 where no status is returned), checks the
//! process-wide ISA first when it computes, then validates every argument (`args::check`)
//! before anything is written, then calls the safe Rust API. The C caller's contract is that a
//! non-NULL pointer points to as many valid elements as the call's sizes say; the only
//! `unsafe` code turns such checked pointers into slices and references (module `args`).

#![cfg(feature = "capi")]

mod args;
mod f32;
mod half;
mod lse;
// After f32 and half, so that the header lists these after the row entry points.
mod axis;
mod double;

// Last, so that the header lists them after the others, in this order (cbindgen keeps the
// source order).
mod cross_entropy;
mod cross_entropy_split;
mod linear;
mod sample;

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{Algorithm, Error, Isa, Kernels};

pub use self::axis::*;
pub use self::cross_entropy::*;
pub use self::cross_entropy_split::*;
pub use self::double::*;
pub use self::f32::*;
pub use self::half::*;
pub use self::linear::*;
pub use self::lse::*;
pub use self::sample::*;

/// The version of this ABI; a change that breaks C callers increments it.
pub const TWOPASS_ABI_VERSION: u32 = 1;

/// Success.
pub const TWOPASS_OK: i32 = 0;
/// A pointer is NULL where an array has elements, or a required output is NULL.
pub const TWOPASS_ERROR_NULL_POINTER: i32 = 1;
/// A row stride below the columns, a size whose span overflows the address space, or rows of no
/// column where classes are needed (cross-entropy, sampling).
pub const TWOPASS_ERROR_SHAPE: i32 = 2;
/// A target class outside `[0, cols)` that is not the ignore index (cross-entropy).
pub const TWOPASS_ERROR_TARGET_OUT_OF_RANGE: i32 = 3;
/// An unknown enum value, a misaligned pointer, overlapping buffers, an unknown name in
/// `TWOPASS_ISA`, an option out of its range, or logits no token can be drawn from (a NaN or
/// `+inf`, or only `-inf`).
pub const TWOPASS_ERROR_INVALID_ARGUMENT: i32 = 4;
/// The CPU lacks the instruction set asked for (by `twopass_set_isa` or `TWOPASS_ISA`).
pub const TWOPASS_ERROR_UNSUPPORTED_ISA: i32 = 5;
/// A bug in twopass (a caught panic); please report it.
pub const TWOPASS_ERROR_INTERNAL: i32 = 6;

/// `twopass_set_isa`: the best ISA this CPU has.
pub const TWOPASS_ISA_AUTO: i32 = 0;
/// Portable code, one element at a time.
pub const TWOPASS_ISA_SCALAR: i32 = 1;
/// AVX2 + FMA + F16C, 8 lanes.
pub const TWOPASS_ISA_AVX2: i32 = 2;
/// AVX-512 F/BW/CD/DQ/VL, 16 lanes.
pub const TWOPASS_ISA_AVX512: i32 = 3;

/// The fastest algorithm for the row length on this CPU class.
pub const TWOPASS_ALGORITHM_AUTO: i32 = 0;
/// Sum of `exp(x)` with an extended exponent, then `y = exp(x) / sum`: no max pass.
pub const TWOPASS_ALGORITHM_TWO_PASS: i32 = 1;
/// Max; `y = exp(x - max)` and its sum; `y *= 1 / sum`.
pub const TWOPASS_ALGORITHM_THREE_PASS_RELOAD: i32 = 2;
/// Max; sum of `exp(x - max)`; `y = exp(x - max) / sum`.
pub const TWOPASS_ALGORITHM_THREE_PASS_RECOMPUTE: i32 = 3;
/// Max and sum in one pass, then `y = exp(x - max) / sum`.
pub const TWOPASS_ALGORITHM_ONLINE: i32 = 4;
/// Per L1-sized block: max, then `y = exp(x - block max)` and its sum; then each block scaled.
pub const TWOPASS_ALGORITHM_BLOCKED: i32 = 5;

/// Cross-entropy reduction: none (`row_losses` holds the per-row losses; `loss` their sum).
pub const TWOPASS_REDUCTION_NONE: i32 = 0;
/// Cross-entropy reduction: the sum divided by the total weight of the valid rows.
pub const TWOPASS_REDUCTION_MEAN: i32 = 1;
/// Cross-entropy reduction: the sum.
pub const TWOPASS_REDUCTION_SUM: i32 = 2;

/// What an entry point returns: `Ok` or a status code other than `TWOPASS_OK`.
type Status = Result<(), i32>;

/// Runs `f`, turning a panic into `TWOPASS_ERROR_INTERNAL`.
fn guard(f: impl FnOnce() -> Status) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => TWOPASS_OK,
        Ok(Err(status)) => status,
        Err(_) => TWOPASS_ERROR_INTERNAL,
    }
}

/// The status code of a Rust error.
fn status(e: &Error) -> i32 {
    match e {
        Error::LengthMismatch { .. }
        | Error::StrideTooSmall { .. }
        | Error::BufferTooShort { .. }
        | Error::ShapeOverflow
        | Error::WrongLength { .. }
        | Error::NoClasses
        | Error::EmptyRow
        | Error::ChunkOutOfRow { .. } => TWOPASS_ERROR_SHAPE,
        Error::TargetOutOfRange { .. } => TWOPASS_ERROR_TARGET_OUT_OF_RANGE,
        Error::InvalidOption { .. }
        | Error::InvalidWeight { .. }
        | Error::DifferentRows
        | Error::NonFiniteLogit
        | Error::AllMasked
        | Error::InvalidIsaVariable(_) => TWOPASS_ERROR_INVALID_ARGUMENT,
        Error::UnsupportedIsa(_) | Error::UnsupportedIsaVariable(_) => {
            TWOPASS_ERROR_UNSUPPORTED_ISA
        }
    }
}

/// The process-wide kernels, or the status of a bad `TWOPASS_ISA`: every computing call asks
/// for them before it checks anything else.
fn kernels() -> Result<&'static Kernels, i32> {
    Kernels::try_active_ref().map_err(|e| status(&e))
}

/// The C value of each ISA.
const ISA_CODES: [(Isa, i32); 3] = [
    (Isa::Scalar, TWOPASS_ISA_SCALAR),
    (Isa::Avx2, TWOPASS_ISA_AVX2),
    (Isa::Avx512, TWOPASS_ISA_AVX512),
];

/// The ISA with C value `code` (`None` for `TWOPASS_ISA_AUTO`).
fn isa_from(code: i32) -> Result<Option<Isa>, i32> {
    if code == TWOPASS_ISA_AUTO {
        return Ok(None);
    }
    ISA_CODES
        .iter()
        .find(|&&(_, c)| c == code)
        .map(|&(isa, _)| Some(isa))
        .ok_or(TWOPASS_ERROR_INVALID_ARGUMENT)
}

/// The C value of `isa` (0 for an ISA without one).
fn isa_code(isa: Isa) -> i32 {
    ISA_CODES
        .iter()
        .find(|&&(i, _)| i == isa)
        .map_or(0, |&(_, c)| c)
}

/// The algorithm with C value `code`.
fn algorithm_from(code: i32) -> Result<Algorithm, i32> {
    match code {
        TWOPASS_ALGORITHM_AUTO => Ok(Algorithm::Auto),
        TWOPASS_ALGORITHM_TWO_PASS => Ok(Algorithm::TwoPass),
        TWOPASS_ALGORITHM_THREE_PASS_RELOAD => Ok(Algorithm::ThreePassReload),
        TWOPASS_ALGORITHM_THREE_PASS_RECOMPUTE => Ok(Algorithm::ThreePassRecompute),
        TWOPASS_ALGORITHM_ONLINE => Ok(Algorithm::Online),
        TWOPASS_ALGORITHM_BLOCKED => Ok(Algorithm::Blocked),
        _ => Err(TWOPASS_ERROR_INVALID_ARGUMENT),
    }
}

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the version has no NUL byte"),
    };

/// The library version, e.g. `"0.1.0"` (a static string).
#[no_mangle]
pub extern "C" fn twopass_version() -> *const c_char {
    VERSION.as_ptr()
}

/// A static English description of `status`; for an unknown code, a static string saying so.
#[no_mangle]
pub extern "C" fn twopass_status_message(status: i32) -> *const c_char {
    let message = match status {
        TWOPASS_OK => c"success",
        TWOPASS_ERROR_NULL_POINTER => c"a pointer is NULL where an array has elements, or a required output is NULL",
        TWOPASS_ERROR_SHAPE => c"a row stride is below the columns, a size overflows the address space, or a row has no column",
        TWOPASS_ERROR_TARGET_OUT_OF_RANGE => c"a target class is outside [0, cols) and not the ignore index",
        TWOPASS_ERROR_INVALID_ARGUMENT => c"invalid argument: an unknown enum value, a misaligned pointer, overlapping buffers, an unknown name in TWOPASS_ISA, an option out of range, or logits no token can be drawn from",
        TWOPASS_ERROR_UNSUPPORTED_ISA => c"this CPU lacks the instruction set asked for (twopass_set_isa or TWOPASS_ISA)",
        TWOPASS_ERROR_INTERNAL => c"internal error in twopass (a bug; please report it)",
        _ => c"unknown twopass status code",
    };
    message.as_ptr()
}

/// The ISA computing calls use now (`TWOPASS_ISA_SCALAR`, `_AVX2` or `_AVX512`), or 0 while
/// `TWOPASS_ISA` names an unknown ISA or one this CPU lacks and `twopass_set_isa` has not
/// overridden it.
#[no_mangle]
pub extern "C" fn twopass_active_isa() -> i32 {
    catch_unwind(|| crate::active_isa().map_or(0, isa_code)).unwrap_or(0)
}

/// Makes every later call in the process use `isa` (`TWOPASS_ISA_AUTO`: the best this CPU has),
/// overriding `TWOPASS_ISA`. Thread-safe; a call already running finishes on its ISA.
///
/// Returns `TWOPASS_OK`, `TWOPASS_ERROR_INVALID_ARGUMENT` (unknown value) or
/// `TWOPASS_ERROR_UNSUPPORTED_ISA` (this CPU lacks it); on error the ISA is unchanged.
#[no_mangle]
pub extern "C" fn twopass_set_isa(isa: i32) -> i32 {
    guard(|| crate::set_isa(isa_from(isa)?).map_err(|e| status(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_an_internal_error() {
        assert_eq!(guard(|| panic!("a bug")), TWOPASS_ERROR_INTERNAL);
        assert_eq!(guard(|| Err(TWOPASS_ERROR_SHAPE)), TWOPASS_ERROR_SHAPE);
        assert_eq!(guard(|| Ok(())), TWOPASS_OK);
    }

    #[test]
    fn enum_values() {
        for (isa, code) in ISA_CODES {
            assert_eq!(isa_from(code), Ok(Some(isa)));
            assert_eq!(isa_code(isa), code);
        }
        assert_eq!(isa_from(TWOPASS_ISA_AUTO), Ok(None));
        for code in [-1, 4, i32::MAX] {
            assert_eq!(isa_from(code), Err(TWOPASS_ERROR_INVALID_ARGUMENT));
        }
        assert_eq!(algorithm_from(TWOPASS_ALGORITHM_AUTO), Ok(Algorithm::Auto));
        assert_eq!(
            algorithm_from(TWOPASS_ALGORITHM_ONLINE),
            Ok(Algorithm::Online)
        );
        assert_eq!(
            algorithm_from(TWOPASS_ALGORITHM_BLOCKED),
            Ok(Algorithm::Blocked)
        );
        for code in [-1, 6, i32::MIN] {
            assert_eq!(algorithm_from(code), Err(TWOPASS_ERROR_INVALID_ARGUMENT));
        }
    }

    #[test]
    fn status_of_errors() {
        let isa_variable = Error::UnsupportedIsaVariable("TWOPASS_ISA=avx512: this CPU lacks it");
        assert_eq!(status(&isa_variable), TWOPASS_ERROR_UNSUPPORTED_ISA);
        assert_eq!(
            status(&Error::InvalidIsaVariable("TWOPASS_ISA=sse9")),
            TWOPASS_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(status(&Error::NoClasses), TWOPASS_ERROR_SHAPE);
        assert_eq!(status(&Error::EmptyRow), TWOPASS_ERROR_SHAPE);
        for e in [Error::NonFiniteLogit, Error::AllMasked] {
            assert_eq!(status(&e), TWOPASS_ERROR_INVALID_ARGUMENT);
        }
        let target = Error::TargetOutOfRange {
            row: 0,
            target: 9,
            classes: 3,
        };
        assert_eq!(status(&target), TWOPASS_ERROR_TARGET_OUT_OF_RANGE);
    }
}
