//! The x86 floating-point environment (MXCSR) of the calling thread: read it, or run a closure
//! under another mode and see which exception flags it raised. For the tests and the
//! reproduction, which check that no kernel computes with subnormals: on Intel CPUs each
//! instruction with a subnormal result (FTZ off) or operand (DAZ off) takes a microcode assist.
//!
//! With FTZ on, every tiny result sets [`UNDERFLOW`] (exact or not), so the flag after a call
//! shows exactly the operations that would have made a subnormal; with FTZ and DAZ off,
//! [`DENORMAL`] shows the reads of one.

/// MXCSR's exception flags (invalid, denormal, divide-by-zero, overflow, underflow, precision).
pub const FLAGS: u32 = 0x3F;
/// The denormal-operand flag (DE): an instruction read a subnormal.
pub const DENORMAL: u32 = 1 << 1;
/// The underflow flag (UE): an instruction's result was tiny (with FTZ, flushed to 0).
pub const UNDERFLOW: u32 = 1 << 4;
/// Denormals-are-zero: subnormal operands read as 0.
pub const DENORMALS_ARE_ZERO: u32 = 1 << 6;
/// Flush-to-zero: tiny results become 0.
pub const FLUSH_TO_ZERO: u32 = 1 << 15;
/// The mode every Rust and C program starts in: all exceptions masked, round to nearest, FTZ
/// and DAZ off.
pub const DEFAULT: u32 = 0x1F80;

/// The thread's MXCSR.
#[cfg(target_arch = "x86_64")]
pub fn read() -> u32 {
    let mut v = 0u32;
    // SAFETY: stmxcsr writes the 4 bytes of `v`; SSE is part of x86-64.
    unsafe {
        core::arch::asm!("stmxcsr [{}]", in(reg) &mut v, options(nostack, preserves_flags));
    }
    v
}

/// Sets the thread's MXCSR to `mode` (its low 16 bits: the others are reserved).
#[cfg(target_arch = "x86_64")]
pub fn write(mode: u32) {
    let v = mode & 0xFFFF;
    // SAFETY: ldmxcsr reads the 4 bytes of `v`, whose reserved bits (16-31) are clear: a set
    // one would fault. Bits 0-15 all exist on x86-64 CPUs (DAZ, bit 6, since the first ones).
    unsafe {
        core::arch::asm!("ldmxcsr [{}]", in(reg) &v, options(nostack, readonly, preserves_flags));
    }
}

/// Runs `f` with MXCSR set to `mode` (flags cleared); returns its result and the exception
/// flags raised meanwhile. The previous MXCSR comes back afterwards, also if `f` panics.
#[cfg(target_arch = "x86_64")]
pub fn run_with<R>(mode: u32, f: impl FnOnce() -> R) -> (R, u32) {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            write(self.0);
        }
    }
    let _restore = Restore(read());
    write(mode & !FLAGS);
    // black_box: the compiler may not move the arithmetic behind `f`'s result past the read.
    let r = core::hint::black_box(f());
    (r, read() & FLAGS)
}
