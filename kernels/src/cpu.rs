//! What `Auto` needs to know about the running CPU, read once from CPUID: whose design it is and
//! the size of its caches (the deterministic cache parameters: leaf 4 on Intel, 0x8000001D on
//! AMD, which report each cache of one core).

use std::sync::OnceLock;

/// Whose design the CPU is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// GenuineIntel.
    Intel,
    /// AuthenticAMD.
    Amd,
    /// Another x86 vendor, or another architecture.
    Other,
}

/// The running CPU's vendor and per-core data caches (bytes; 0 where CPUID does not say).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// Who designed it (the crossover rules differ).
    pub vendor: Vendor,
    /// The L1 data cache.
    pub l1d: usize,
    /// The L2 cache (private to a core on every current x86 design).
    pub l2: usize,
    /// The L3 cache a core sees (shared with its neighbours).
    pub l3: usize,
}

/// The running CPU, detected once.
pub fn cpu() -> Cpu {
    static CPU: OnceLock<Cpu> = OnceLock::new();
    *CPU.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Cpu {
    use core::arch::x86_64::__cpuid_count;
    let id = __cpuid_count(0, 0);
    let vendor = match [id.ebx, id.edx, id.ecx] {
        // "GenuineIntel", "AuthenticAMD" as three little-endian registers.
        [0x756E_6547, 0x4965_6E69, 0x6C65_746E] => Vendor::Intel,
        [0x6874_7541, 0x6974_6E65, 0x444D_4163] => Vendor::Amd,
        _ => Vendor::Other,
    };
    let max_extended = __cpuid_count(0x8000_0000, 0).eax;
    let leaf = match vendor {
        Vendor::Amd if max_extended >= 0x8000_001D => 0x8000_001D,
        Vendor::Amd => return Cpu::unknown(vendor),
        _ if id.eax >= 4 => 4,
        _ => return Cpu::unknown(vendor),
    };
    let mut cpu = Cpu::unknown(vendor);
    for sub in 0..16 {
        let r = __cpuid_count(leaf, sub);
        let kind = r.eax & 0x1F; // 0 none, 1 data, 2 instruction, 3 unified
        if kind == 0 {
            break;
        }
        if kind == 2 {
            continue;
        }
        let field = |v: u32, shift: u32, bits: u32| ((v >> shift) & ((1 << bits) - 1)) as usize + 1;
        let bytes = field(r.ebx, 22, 10)
            * field(r.ebx, 12, 10)
            * field(r.ebx, 0, 12)
            * (r.ecx as usize + 1);
        match (r.eax >> 5) & 7 {
            1 => cpu.l1d = bytes,
            2 => cpu.l2 = bytes,
            3 => cpu.l3 = bytes,
            _ => {}
        }
    }
    cpu
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Cpu {
    Cpu::unknown(Vendor::Other)
}

impl Cpu {
    fn unknown(vendor: Vendor) -> Cpu {
        Cpu {
            vendor,
            l1d: 0,
            l2: 0,
            l3: 0,
        }
    }
}
