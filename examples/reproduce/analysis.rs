//! What the timings mean: logical traffic, the measured ceiling for it, speed-ups.

use twopass::{Algorithm, Crossover, Isa, Passes};

use crate::measure::{Ceiling, Op, Results, Row};

/// The paper's headline claims (Dukhan & Ablavatski 2020), quoted, not measured here.
pub const PAPER_CLAIMS: [&str; 3] = [
    "On Skylake-X, out of cache, two-pass softmax beats the three-pass algorithms by up to 28% \
     with AVX-512 (1.28x)",
    "and by up to 18% with AVX2 (1.18x)",
    "The two-pass algorithm also wins out of cache on Broadwell and on AMD Zen 2",
];

/// The paper's best out-of-cache speed-up for an ISA, where it states one.
pub fn paper_speedup(isa: Isa) -> Option<f64> {
    match isa {
        Isa::Avx512 => Some(1.28),
        Isa::Avx2 => Some(1.18),
        _ => None,
    }
}

/// The memory passes of what `row` ran (its resolved algorithm).
pub fn row_passes(row: &Row) -> Passes {
    match row.op {
        Op::Softmax => row.resolved.softmax_passes(),
        Op::LogSumExp => row.resolved.reduction_passes(),
    }
    .expect("rows hold resolved algorithms")
}

/// Logical bytes per element of what `row` ran: 4 per read or write of an element.
pub fn bytes_per_element(row: &Row) -> usize {
    row_passes(row).bytes_per_element(4)
}

/// How the ceiling of an algorithm is built from the probes: read-only passes, and copies
/// (read + write) of which the last stores as the library does at this length.
pub fn passes(row: &Row) -> String {
    let p = row_passes(row);
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let copies = p.cached_copies + p.copies;
    let mut parts = Vec::new();
    if p.reads > 0 {
        parts.push(count(p.reads, "read", "reads"));
    }
    if copies > 0 {
        parts.push(count(copies, "copy", "copies"));
    }
    let all = parts.join(" + ");
    if p.copies == 0 && p.cached_copies > 0 {
        format!("{all} (cached stores)")
    } else {
        all
    }
}

/// Where the library's output passes switch to non-temporal stores on this CPU.
pub fn non_temporal_from() -> usize {
    Crossover::of(Isa::Scalar).non_temporal_from
}

/// The copy probe that matches the library's output pass at length `n`: non-temporal stores
/// from [`non_temporal_from`] on, regular ones below.
pub fn store_copy_ns(c: &Ceiling) -> f64 {
    if c.n >= non_temporal_from() {
        c.copy_nt.median_ns
    } else {
        c.copy.median_ns
    }
}

/// The fastest `row` could run if each of its passes ran as fast as the probe moving the same
/// data: `reads * read + copies * copy` (ns). Three-pass reload's first copy stores regularly
/// (its output is read back).
pub fn ceiling_ns(row: &Row, c: &Ceiling) -> f64 {
    let p = row_passes(row);
    p.reads as f64 * c.read.median_ns
        + p.cached_copies as f64 * c.copy.median_ns
        + p.copies as f64 * store_copy_ns(c)
}

/// Derived figures of one row.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Elements per nanosecond.
    pub elem_per_ns: f64,
    /// Logical traffic, GB/s (bytes per ns).
    pub gb_per_s: f64,
    /// The ceiling's time (ns).
    pub ceiling_ns: f64,
    /// Ceiling time over measured time, in percent.
    pub pct_of_ceiling: f64,
}

impl Results {
    /// The probes at length `n`.
    pub fn ceiling(&self, n: usize) -> &Ceiling {
        self.ceilings
            .iter()
            .find(|c| c.n == n)
            .expect("every size has probes")
    }

    /// The derived figures of `row`.
    pub fn figures(&self, row: &Row) -> Figures {
        let t = row.t.median_ns;
        let ceiling_ns = ceiling_ns(row, self.ceiling(row.n));
        Figures {
            elem_per_ns: row.n as f64 / t,
            gb_per_s: (bytes_per_element(row) * row.n) as f64 / t,
            ceiling_ns,
            pct_of_ceiling: 100.0 * ceiling_ns / t,
        }
    }

    /// The row of `op`, `isa`, `algorithm`, `n`, if it was timed.
    pub fn find(&self, op: Op, isa: Isa, algorithm: Algorithm, n: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.op == op && r.isa == isa && r.algorithm == algorithm && r.n == n)
    }

    /// Softmax time of `other` over that of two-pass (above 1: two-pass is faster).
    pub fn speedup(&self, isa: Isa, other: Algorithm, n: usize) -> Option<f64> {
        let two = self.find(Op::Softmax, isa, Algorithm::TwoPass, n)?;
        let other = self.find(Op::Softmax, isa, other, n)?;
        Some(other.t.median_ns / two.t.median_ns)
    }

    /// The ISAs that have softmax rows, in order.
    pub fn isas(&self) -> Vec<Isa> {
        let mut isas: Vec<Isa> = self.rows.iter().map(|r| r.isa).collect();
        isas.sort();
        isas.dedup();
        isas
    }

    /// Out of cache: input and output together (8 bytes per element) exceed the largest cache.
    pub fn out_of_cache(&self, n: usize) -> bool {
        8 * n > self.machine.llc_bytes()
    }

    /// The best speed-up of two-pass over `other` on `isa` out of cache, and where.
    pub fn best_out_of_cache(&self, isa: Isa, other: Algorithm) -> Option<(f64, usize)> {
        self.sizes
            .iter()
            .filter(|&&n| self.out_of_cache(n))
            .filter_map(|&n| Some((self.speedup(isa, other, n)?, n)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }
}

/// `1K`, `64K`, `4M`.
pub fn size_label(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{}M", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{}K", n >> 10)
    } else {
        n.to_string()
    }
}
