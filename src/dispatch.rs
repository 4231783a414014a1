//! Which ISA's kernels run: detected once, forced by `TWOPASS_ISA` or [`set_isa`], cached.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use twopass_kernels::{table, Table};

use crate::{Error, Isa};

/// The ISA calls use, as `1 + index in Isa::ALL`: stored by `set_isa`, or by the first call
/// once `TWOPASS_ISA` and the CPU have decided it (if `set_isa` has not); 0 until then, and for
/// as long as `TWOPASS_ISA` is unusable. Every call reads it: one load, no lock.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The default table, decided once from `TWOPASS_ISA` and the CPU (or why the variable is bad).
static DEFAULT: OnceLock<Result<&'static Table, BadVariable>> = OnceLock::new();

/// Why `TWOPASS_ISA` cannot be honoured, as a message.
enum BadVariable {
    /// It names no known ISA.
    Unknown(String),
    /// It names an ISA this CPU lacks.
    Unsupported(String),
}

/// The best ISA this CPU runs.
pub fn detected_isa() -> Isa {
    twopass_kernels::tables()
        .last()
        .map_or(Isa::Scalar, |t| t.isa)
}

/// Every ISA this CPU runs, scalar first.
pub fn available_isas() -> impl Iterator<Item = Isa> {
    twopass_kernels::tables().map(|t| t.isa)
}

/// Whether this CPU runs `isa`'s kernels.
pub fn is_supported(isa: Isa) -> bool {
    table(isa).is_some()
}

/// Forces `isa` for every later call in the process (`None`: the best the CPU has). Wins over
/// `TWOPASS_ISA`. Thread-safe; a call already running finishes on the ISA it started with.
pub fn set_isa(isa: Option<Isa>) -> Result<(), Error> {
    let code = match isa {
        None => 1 + index(detected_isa()),
        Some(isa) if is_supported(isa) => 1 + index(isa),
        Some(isa) => return Err(Error::UnsupportedIsa(isa)),
    };
    ACTIVE.store(code, Ordering::Release);
    Ok(())
}

/// The ISA calls use now, or why `TWOPASS_ISA` is not usable.
pub fn active_isa() -> Result<Isa, Error> {
    match ACTIVE.load(Ordering::Acquire) {
        0 => {
            let isa = default_isa()?;
            // A concurrent `set_isa` wins: the default is stored only over "undecided".
            let _ = ACTIVE.compare_exchange(0, 1 + index(isa), Ordering::AcqRel, Ordering::Acquire);
            Ok(isa)
        }
        code => Ok(Isa::ALL[usize::from(code - 1)]),
    }
}

fn index(isa: Isa) -> u8 {
    Isa::ALL
        .iter()
        .position(|&i| i == isa)
        .expect("every Isa is in Isa::ALL") as u8
}

/// The ISA `TWOPASS_ISA` and the CPU choose, or why the variable is not usable.
fn default_isa() -> Result<Isa, Error> {
    match DEFAULT.get_or_init(default_table) {
        Ok(t) => Ok(t.isa),
        Err(BadVariable::Unknown(why)) => Err(Error::InvalidIsaVariable(why)),
        Err(BadVariable::Unsupported(why)) => Err(Error::UnsupportedIsaVariable(why)),
    }
}

/// Parses `TWOPASS_ISA` (`scalar`, `avx2`, `avx512`, `auto`, lowercase, surrounding spaces
/// ignored; unset or empty = `auto`; a value that is not UTF-8 names no ISA).
fn default_table() -> Result<&'static Table, BadVariable> {
    let value = std::env::var_os("TWOPASS_ISA").unwrap_or_default();
    let value = value.to_string_lossy();
    let wanted = match value.trim() {
        "" | "auto" => return Ok(table(detected_isa()).expect("the detected ISA runs")),
        name => Isa::ALL.into_iter().find(|i| i.name() == name),
    };
    let have: Vec<&str> = available_isas().map(Isa::name).collect();
    match wanted {
        Some(isa) => table(isa).ok_or_else(|| {
            BadVariable::Unsupported(format!(
                "TWOPASS_ISA={value}: this CPU lacks {}; it runs {} (or auto)",
                isa.name(),
                have.join(", ")
            ))
        }),
        None => Err(BadVariable::Unknown(format!(
            "TWOPASS_ISA={value} is not one of scalar, avx2, avx512, auto (this CPU runs {})",
            have.join(", ")
        ))),
    }
}
