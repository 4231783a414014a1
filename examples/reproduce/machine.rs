//! What this machine is: CPU model, the ISAs twopass can run, the data caches.

use std::fs;

#[path = "../../benches/common/cpu_model.rs"]
mod cpu_model;

/// One cache level of CPU 0, as Linux reports it.
#[derive(Clone, Debug)]
pub struct Cache {
    /// 1, 2, 3...
    pub level: u32,
    /// `Data`, `Unified` (instruction caches are left out).
    pub kind: String,
    /// Size in bytes.
    pub bytes: usize,
}

/// The machine as detected at start.
#[derive(Clone, Debug)]
pub struct Machine {
    /// `model name (family F, model M)` from /proc/cpuinfo, else the architecture.
    pub cpu: String,
    /// The ISAs twopass runs here, scalar first.
    pub isas: Vec<twopass::Isa>,
    /// Data and unified caches, smallest level first; empty when Linux does not say.
    pub caches: Vec<Cache>,
    /// Logical CPUs this process may run on.
    pub threads: usize,
}

/// Assumed last-level cache when none is detected: larger than most, so output rotation
/// still defeats it.
pub const FALLBACK_LLC: usize = 64 << 20;

impl Machine {
    /// Detects the machine.
    pub fn detect() -> Machine {
        Machine {
            cpu: cpu_model::cpu_model(),
            isas: twopass::available_isas().collect(),
            caches: caches(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// The largest cache in bytes, or [`FALLBACK_LLC`].
    pub fn llc_bytes(&self) -> usize {
        self.caches
            .iter()
            .map(|c| c.bytes)
            .max()
            .unwrap_or(FALLBACK_LLC)
    }

    /// `L1d 48 KiB, L2 1 MiB, L3 32 MiB`, or a note that none was found.
    pub fn cache_summary(&self) -> String {
        if self.caches.is_empty() {
            return format!(
                "not reported by the OS (assuming a {} last-level cache)",
                bytes(FALLBACK_LLC)
            );
        }
        let names: Vec<_> = self
            .caches
            .iter()
            .map(|c| format!("{} {}", c.label(), bytes(c.bytes)))
            .collect();
        names.join(", ")
    }
}

impl Cache {
    /// `L1d`, `L2`, `L3`.
    pub fn label(&self) -> String {
        let suffix = if self.kind == "Data" { "d" } else { "" };
        format!("L{}{suffix}", self.level)
    }
}

/// `48 KiB`, `32 MiB`.
pub fn bytes(b: usize) -> String {
    if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else {
        format!("{} KiB", b >> 10)
    }
}

/// CPU 0's data and unified caches from /sys/devices/system/cpu/cpu0/cache/index*.
fn caches() -> Vec<Cache> {
    let mut caches = Vec::new();
    let Ok(dir) = fs::read_dir("/sys/devices/system/cpu/cpu0/cache") else {
        return caches;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("index") {
            continue;
        }
        let read = |f: &str| fs::read_to_string(path.join(f)).map(|s| s.trim().to_string());
        let (Ok(level), Ok(kind), Ok(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        let (Ok(level), Some(bytes)) = (level.parse(), parse_size(&size)) else {
            continue;
        };
        if kind != "Instruction" {
            caches.push(Cache { level, kind, bytes });
        }
    }
    caches.sort_by_key(|c| c.level);
    caches
}

/// `48K`, `1024K`, `32M` (sysfs style) in bytes.
fn parse_size(s: &str) -> Option<usize> {
    let (digits, scale) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}
