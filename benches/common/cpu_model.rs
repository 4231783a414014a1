//! The CPU a figure was measured on, for the benchmarks and examples that print figures (each
//! includes this file with `#[path]`).

/// `model name (family F, model M)` from /proc/cpuinfo: a guest may report only a vendor's
/// generic name, and the CPUID family and model still tell the part. The architecture where
/// /proc/cpuinfo has no model name.
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim())
    };
    match (field("model name"), field("cpu family"), field("model")) {
        (Some(name), Some(family), Some(model)) => {
            format!("{name} (family {family}, model {model})")
        }
        (Some(name), ..) => name.to_string(),
        _ => format!("unknown {} CPU", std::env::consts::ARCH),
    }
}
