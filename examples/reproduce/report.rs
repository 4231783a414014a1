//! report.md and report.json.

use std::fmt::Write as _;

use serde_json::{json, Value};
use twopass::{Algorithm, Isa};

use crate::analysis::{
    bytes_per_element, non_temporal_from, paper_speedup, passes, size_label, PAPER_CLAIMS,
};
use crate::measure::{lse_name, Op, Results, Timing, LSE_ALGORITHMS, SCALAR_MAX_N};

/// The three-pass variants two-pass is compared with.
const THREE_PASS: [Algorithm; 2] = [Algorithm::ThreePassReload, Algorithm::ThreePassRecompute];

/// The command line that reproduces `r` (the output directory left out).
pub fn command(r: &Results) -> String {
    let o = &r.options;
    let mut args = Vec::new();
    if o.quick {
        args.push("--quick".to_string());
    }
    if o.max_n != crate::args::default_max_n(o.quick) {
        args.push(format!("--max-n {}", o.max_n));
    }
    if o.isas != r.machine.isas {
        let names: Vec<_> = o.isas.iter().map(|i| i.name()).collect();
        args.push(format!("--isa {}", names.join(",")));
    }
    if o.algorithms != crate::args::ALGORITHMS {
        let names: Vec<_> = o.algorithms.iter().map(|a| a.name()).collect();
        args.push(format!("--algorithm {}", names.join(",")));
    }
    let mut c = String::from("cargo run --release --example reproduce");
    if !args.is_empty() {
        c.push_str(" -- ");
        c.push_str(&args.join(" "));
    }
    c
}

/// Methodology paragraph, shared by report.md and report.json.
pub fn methodology(r: &Results) -> Vec<String> {
    let p = &r.plan;
    vec![
        "Every kernel runs through twopass's public API (`Kernels::new(isa)?.with_algorithm(a)`), \
             one thread, on inputs uniform in [-1000, 1000] as in the paper. The input is the same \
             buffer for every call (hot when it fits in cache)."
            .to_string(),
        format!(
            "Outputs rotate over a ring of {} (twice the largest cache, or one row when larger): \
             each call writes the next slot, whose lines have been evicted, as in the paper, so \
             in-cache results are not flattered by an output already in L1/L2.",
            crate::machine::bytes(r.ring_bytes)
        ),
        format!(
            "Timing: a warm-up of about {:.1} ms, then repetitions of a calibrated number of calls \
             (each about {:.1} ms, at least one call); {}-{} repetitions, fewer for long calls \
             (about {:.0} ms per kernel and size); the kernels of one size (probes included) take \
             turns, one repetition each per round, so a slow moment of the memory system falls \
             on all of them alike; the figure is the median repetition's time per call (min and \
             max are in report.json).",
            p.rep_ns / 1e6,
            p.rep_ns / 1e6,
            p.min_reps,
            p.max_reps,
            p.budget_ns / 1e6
        ),
        format!(
            "Ceilings: the {} kernel table's read-only pass (`rmax`) and its copy (`vscale` by 1) with \
             regular and with non-temporal stores, timed the same way at each size. The ceiling of an \
             algorithm is the time its passes would take at those speeds: reads x read pass + copies x \
             copy (two-pass and online: 1 read + 1 copy; three-pass recompute: 2 reads + 1 copy; \
             three-pass reload: 1 read + 2 copies; log-sum-exp: 1 or 2 reads). The output copy uses \
             non-temporal stores from {} elements on, as the library does; reload's first copy always \
             stores regularly. Percent of ceiling = ceiling time / measured time: 100% means the \
             algorithm moves its data as fast as plain passes do; it can pass 100% where a pass finds \
             the previous pass's output still in cache.",
            r.probe_isa.name(),
            size_label(non_temporal_from())
        ),
        "GB/s counts logical traffic, 4 bytes per element read or written: softmax two-pass and \
         online 12, three-pass recompute 16, three-pass reload 20; log-sum-exp one pass 4, max then \
         sum 8; auto as what it resolves to. Regular stores also cost a write-allocate read (the line \
         is read before it is overwritten), which non-temporal stores avoid; that read is not counted."
            .to_string(),
        "Pinning: run on one otherwise idle core (`taskset -c 1 cargo run --release --example \
         reproduce`), with frequency scaling set to performance if you can; numbers from a shared or \
         virtual machine move by several percent between runs."
            .to_string(),
    ]
}

fn algorithm_label(a: Algorithm, resolved: Algorithm) -> String {
    if a == Algorithm::Auto {
        format!("auto ({})", resolved.name())
    } else {
        a.name().to_string()
    }
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.2}x"))
}

/// The head of report.md, also printed at the end of a run: machine, the comparison with the
/// paper, softmax and log-sum-exp speeds.
pub fn summary(r: &Results) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let isas: Vec<_> = m.isas.iter().map(|i| i.name()).collect();
    let _ = writeln!(
        s,
        "# twopass: \"The Two-Pass Softmax Algorithm\" on this CPU\n\n\
         Reproduce with `{}` ({:.0} s of measurements).\n\n\
         - CPU: {} ({} CPUs available to this process)\n- ISAs: {}\n- caches: {}\n",
        command(r),
        r.seconds,
        m.cpu,
        m.threads,
        isas.join(", "),
        m.cache_summary()
    );

    s.push_str("## Two-pass against three-pass, next to the paper\n\n");
    s.push_str("The paper's headline claims (its per-size figures are not quoted):\n\n");
    for c in PAPER_CLAIMS {
        let _ = writeln!(s, "- {c}.");
    }
    let largest = r.sizes.last().copied().unwrap_or(0);
    let _ = writeln!(
        s,
        "\nHere: softmax time of each three-pass variant over two-pass's (above 1.00x, two-pass is \
         faster). Out of cache means input and output together exceed the largest cache \
         (n > {}).\n\n\
         | ISA | vs reload, best out of cache | vs recompute, best out of cache | vs reload at {} | vs recompute at {} | paper (Skylake-X) |\n\
         |---|---|---|---|---|---|",
        size_label(m.llc_bytes() / 8),
        size_label(largest),
        size_label(largest)
    );
    for isa in r.isas() {
        let best = |a| {
            r.best_out_of_cache(isa, a)
                .map_or("- (no out-of-cache size)".into(), |(v, n)| {
                    format!("{v:.2}x at {}", size_label(n))
                })
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            isa.name(),
            best(Algorithm::ThreePassReload),
            best(Algorithm::ThreePassRecompute),
            ratio(r.speedup(isa, Algorithm::ThreePassReload, largest)),
            ratio(r.speedup(isa, Algorithm::ThreePassRecompute, largest)),
            paper_speedup(isa).map_or("-".into(), |v| format!("up to {v:.2}x"))
        );
    }

    s.push_str("\n## Softmax, elements per nanosecond\n");
    for isa in r.isas() {
        let algorithms: Vec<Algorithm> = r
            .options
            .algorithms
            .iter()
            .copied()
            .filter(|&a| {
                r.rows
                    .iter()
                    .any(|x| x.isa == isa && x.algorithm == a && x.op == Op::Softmax)
            })
            .collect();
        if algorithms.is_empty() {
            continue;
        }
        let _ = write!(s, "\n### {}\n\n| n |", isa.name());
        for a in &algorithms {
            let _ = write!(s, " {} |", a.name());
        }
        s.push_str(" reload / two-pass | recompute / two-pass |\n|---:|");
        s.push_str(&"---:|".repeat(algorithms.len() + 2));
        s.push('\n');
        for &n in &r.sizes {
            if isa == Isa::Scalar && n > SCALAR_MAX_N {
                continue;
            }
            let _ = write!(s, "| {} |", size_label(n));
            for &a in &algorithms {
                let cell = r.find(Op::Softmax, isa, a, n).map_or("-".into(), |row| {
                    let e = r.figures(row).elem_per_ns;
                    if a == Algorithm::Auto {
                        format!("{e:.2} ({})", short(row.resolved))
                    } else {
                        format!("{e:.2}")
                    }
                });
                let _ = write!(s, " {cell} |");
            }
            let _ = writeln!(
                s,
                " {} | {} |",
                ratio(r.speedup(isa, THREE_PASS[0], n)),
                ratio(r.speedup(isa, THREE_PASS[1], n))
            );
        }
    }

    let lse: Vec<Algorithm> = LSE_ALGORITHMS
        .into_iter()
        .filter(|a| r.options.algorithms.contains(a))
        .collect();
    if !lse.is_empty() {
        s.push_str(
            "\n## Log-sum-exp, elements per nanosecond\n\n\
             One pass (two-pass reduction, 4 bytes per element) against the max, then the sum \
             (8 bytes per element); percent of the read-pass ceiling in brackets.\n\n\
             | ISA | n |",
        );
        for &a in &lse {
            let _ = write!(s, " {} |", lse_name(a));
        }
        s.push_str(" one-pass / max-then-sum |\n|---|---:|");
        s.push_str(&"---:|".repeat(lse.len() + 1));
        s.push('\n');
        for isa in r.isas() {
            for &n in &r.sizes {
                let rows: Vec<_> = lse
                    .iter()
                    .map(|&a| r.find(Op::LogSumExp, isa, a, n))
                    .collect();
                if rows.iter().all(Option::is_none) {
                    continue;
                }
                let _ = write!(s, "| {} | {} |", isa.name(), size_label(n));
                for row in &rows {
                    let cell = row.map_or("-".into(), |row| {
                        let f = r.figures(row);
                        format!("{:.2} ({})", f.elem_per_ns, percent(f.pct_of_ceiling))
                    });
                    let _ = write!(s, " {cell} |");
                }
                let speed = match rows.as_slice() {
                    [Some(one), Some(two)] => ratio(Some(two.t.median_ns / one.t.median_ns)),
                    _ => "-".into(),
                };
                let _ = writeln!(s, " {speed} |");
            }
        }
    }

    s.push_str(&environment_section(r));
    s.push_str(&split_section(r));
    s.push_str(&sampling_section(r));
    s
}

/// One long row on two threads against one call.
fn split_section(r: &Results) -> String {
    let mut s = format!(
        "\n## One row on {} threads\n\n\
         Softmax of one row split across a pool of {} threads (`Kernels::softmax_par`, the \
         `rayon` feature: each chunk's log-sum-exp state, merged, then each chunk's outputs) \
         against one `softmax` call on one thread, elements per nanosecond, side by side. Rows \
         shorter than `PAR_MIN` ({} elements) run as the one call.\n\n\
         | ISA | n | one thread | split | split / one |\n|---|---:|---:|---:|---:|\n",
        crate::split::THREADS,
        crate::split::THREADS,
        twopass::PAR_MIN
    );
    for e in &r.split_rows {
        let speed = |t: &Timing| e.n as f64 / t.median_ns;
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {:.2} | {:.2}x |",
            e.isa.name(),
            size_label(e.n),
            speed(&e.one),
            speed(&e.split),
            e.speedup()
        );
    }
    s
}

/// One token drawn from one row: fused against unfused, for temperature and for top-p.
fn sampling_section(r: &Results) -> String {
    use crate::measure::sampling::{TARGETS, TARGET_N, TOP_P};
    let mut s = format!(
        "\n## Sampling one row\n\n\
         One token drawn from one row of logits, median microseconds per token: fused \
         (`Kernels::sample`, temperature 1, and top-p {TOP_P}) against the unfused sequence an \
         engine runs (`softmax` into a buffer, then a cumulative draw: the first index whose \
         running sum reaches a uniform; for top-p, the indices sorted by probability first and \
         cut where the running sum reaches {TOP_P}), all four timed side by side. The row is the \
         `llm` row of `benches/sample.rs` (a bulk of N(0, 3) with 16 tokens at 10-20, the shape \
         of a language model's next-token logits), not the paper's input: uniform in \
         [-1000, 1000], its softmax is nearly one-hot (about 95% of the probabilities are 0 in \
         f32), which leaves the sort of unfused top-p little to do. The issue's targets (#15) \
         at {}: unfused / fused at least {:.0}x for temperature, at least {:.0}x for top-p.\n\n\
         | ISA | n | temperature fused | unfused | unfused / fused | top-p fused | unfused | unfused / fused |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
        size_label(TARGET_N),
        TARGETS.0,
        TARGETS.1
    );
    for e in &r.sample_rows {
        let us = |t: &Timing| t.median_ns / 1e3;
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} | {:.2}x | {:.1} | {:.1} | {:.2}x |",
            e.isa.name(),
            size_label(e.n),
            us(&e.temperature),
            us(&e.temperature_unfused),
            e.temperature_ratio(),
            us(&e.top_p),
            us(&e.top_p_unfused),
            e.top_p_ratio()
        );
    }
    s
}

/// The floating-point environment: each operation by every algorithm with the default MXCSR and with
/// FTZ/DAZ on.
fn environment_section(r: &Results) -> String {
    let mut s = String::from(
        "\n## Floating-point environment\n\n\
         Each operation by each algorithm, elements per nanosecond, with MXCSR as every program starts \
         (FTZ and DAZ off) and with flush-to-zero and denormals-are-zero on, timed side by side. \
         On Intel CPUs an instruction that makes or reads a subnormal costs a microcode assist \
         in the default environment (AMD hides most of it); twopass computes none, so its speed \
         does not depend on FTZ/DAZ, and the ratio is 1 within noise on every CPU \
         (`kernels/tests/fpenv.rs` checks the flags on every kernel).\n\n\
         | operation | algorithm | ISA | n | default | FTZ/DAZ on | time FTZ/DAZ / time default |\n\
         |---|---|---|---:|---:|---:|---:|\n",
    );
    for e in &r.environment {
        let speed = |t: &Timing| e.n as f64 / t.median_ns;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} |",
            e.op.name(),
            e.algorithm.name(),
            e.isa.name(),
            size_label(e.n),
            speed(&e.default),
            speed(&e.ftz_daz),
            e.ratio()
        );
    }
    s
}

/// report.md: [`summary`], then the ceilings, every measurement and the methodology.
pub fn markdown(r: &Results) -> String {
    let mut s = summary(r);
    let _ = writeln!(
        s,
        "\n## Memory ceilings ({} passes)\n\n\
         GB/s of logical traffic: a read pass moves 4 bytes per element, a copy 8 (its regular \
         stores also read each output line first: write-allocate; non-temporal stores do not).\n\n\
         | n | read pass GB/s | copy GB/s | copy, non-temporal GB/s |\n|---:|---:|---:|---:|",
        r.probe_isa.name()
    );
    for c in &r.ceilings {
        let gb = |t: &Timing, b: usize| (b * c.n) as f64 / t.median_ns;
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {:.1} |",
            size_label(c.n),
            gb(&c.read, 4),
            gb(&c.copy, 8),
            gb(&c.copy_nt, 8)
        );
    }

    s.push_str(
        "\n## Every measurement\n\n\
         | op | ISA | algorithm | n | median us | min-max us | elem/ns | B/elem | GB/s | ceiling | % of ceiling |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n",
    );
    for row in &r.rows {
        let f = r.figures(row);
        let (op, alg) = match row.op {
            Op::Softmax => ("softmax", algorithm_label(row.algorithm, row.resolved)),
            Op::LogSumExp => ("log_sum_exp", lse_name(row.algorithm).to_string()),
        };
        let _ = writeln!(
            s,
            "| {op} | {} | {alg} | {} | {:.2} | {:.2}-{:.2} | {:.3} | {} | {:.1} | {} | {} |",
            row.isa.name(),
            size_label(row.n),
            row.t.median_ns / 1e3,
            row.t.min_ns / 1e3,
            row.t.max_ns / 1e3,
            f.elem_per_ns,
            bytes_per_element(row),
            f.gb_per_s,
            passes(row),
            percent(f.pct_of_ceiling)
        );
    }

    s.push_str("\n## Methodology\n\n");
    for p in methodology(r) {
        let _ = writeln!(s, "- {p}");
    }
    s
}

/// `87%`, `4.2%`, `0.31%`: two significant digits below 10%.
fn percent(p: f64) -> String {
    if p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

fn short(a: Algorithm) -> &'static str {
    match a {
        Algorithm::TwoPass => "two-pass",
        Algorithm::ThreePassReload => "reload",
        Algorithm::ThreePassRecompute => "recompute",
        Algorithm::Online => "online",
        Algorithm::Blocked => "blocked",
        _ => "auto",
    }
}

fn timing(t: &Timing) -> Value {
    json!({
        "median_ns": t.median_ns,
        "min_ns": t.min_ns,
        "max_ns": t.max_ns,
        "repetitions": t.reps,
        "calls_per_repetition": t.calls,
    })
}

/// report.json: every figure of report.md, and the raw timings.
pub fn json(r: &Results) -> Value {
    let m = &r.machine;
    let ceilings: Vec<Value> = r
        .ceilings
        .iter()
        .map(|c| {
            json!({
                "n": c.n,
                "read": timing(&c.read),
                "copy": timing(&c.copy),
                "copy_non_temporal": timing(&c.copy_nt),
                "read_gb_per_s": 4.0 * c.n as f64 / c.read.median_ns,
                "copy_gb_per_s": 8.0 * c.n as f64 / c.copy.median_ns,
                "copy_non_temporal_gb_per_s": 8.0 * c.n as f64 / c.copy_nt.median_ns,
            })
        })
        .collect();
    let rows: Vec<Value> = r
        .rows
        .iter()
        .map(|row| {
            let f = r.figures(row);
            json!({
                "op": match row.op { Op::Softmax => "softmax", Op::LogSumExp => "log_sum_exp" },
                "isa": row.isa.name(),
                "algorithm": row.algorithm.name(),
                "resolved": row.resolved.name(),
                "n": row.n,
                "timing": timing(&row.t),
                "elements_per_ns": f.elem_per_ns,
                "bytes_per_element": bytes_per_element(row),
                "gb_per_s": f.gb_per_s,
                "ceiling": passes(row),
                "ceiling_ns": f.ceiling_ns,
                "percent_of_ceiling": f.pct_of_ceiling,
            })
        })
        .collect();
    let mut speedups = Vec::new();
    for isa in r.isas() {
        for &n in &r.sizes {
            for other in THREE_PASS {
                if let Some(v) = r.speedup(isa, other, n) {
                    speedups.push(json!({
                        "isa": isa.name(),
                        "n": n,
                        "over": other.name(),
                        "two_pass_speedup": v,
                        "out_of_cache": r.out_of_cache(n),
                    }));
                }
            }
        }
    }
    let paper: Vec<Value> = [Isa::Avx512, Isa::Avx2]
        .into_iter()
        .map(|isa| json!({ "isa": isa.name(), "cpu": "Skylake-X", "up_to": paper_speedup(isa) }))
        .collect();
    json!({
        "command": command(r),
        "machine": {
            "cpu": m.cpu,
            "cpus_available": m.threads,
            "isas": m.isas.iter().map(|i| i.name()).collect::<Vec<_>>(),
            "caches": m.caches.iter().map(|c| json!({
                "level": c.level, "type": c.kind, "bytes": c.bytes,
            })).collect::<Vec<_>>(),
            "last_level_cache_bytes": m.llc_bytes(),
        },
        "options": {
            "quick": r.options.quick,
            "max_n": r.options.max_n,
            "isas": r.options.isas.iter().map(|i| i.name()).collect::<Vec<_>>(),
            "algorithms": r.options.algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
        },
        "methodology": methodology(r),
        "plan": {
            "repetition_ns": r.plan.rep_ns,
            "min_repetitions": r.plan.min_reps,
            "max_repetitions": r.plan.max_reps,
            "budget_ns": r.plan.budget_ns,
            "output_ring_bytes": r.ring_bytes,
            "probe_isa": r.probe_isa.name(),
            "non_temporal_from": non_temporal_from(),
        },
        "seconds": r.seconds,
        "sizes": r.sizes,
        "ceilings": ceilings,
        "rows": rows,
        "two_pass_speedups": speedups,
        "floating_point_environment": r.environment.iter().map(|e| json!({
            "op": e.op.name(),
            "algorithm": e.algorithm.name(),
            "isa": e.isa.name(),
            "n": e.n,
            "default": timing(&e.default),
            "ftz_daz": timing(&e.ftz_daz),
            "time_ratio_ftz_daz_over_default": e.ratio(),
        })).collect::<Vec<_>>(),
        "split_row": r.split_rows.iter().map(|e| json!({
            "isa": e.isa.name(),
            "n": e.n,
            "threads": crate::split::THREADS,
            "one_thread": timing(&e.one),
            "split": timing(&e.split),
            "speedup": e.speedup(),
        })).collect::<Vec<_>>(),
        "sample_row": r.sample_rows.iter().map(|e| json!({
            "isa": e.isa.name(),
            "n": e.n,
            "logits": "llm",
            "temperature": {
                "fused": timing(&e.temperature),
                "unfused": timing(&e.temperature_unfused),
                "unfused_over_fused": e.temperature_ratio(),
            },
            "top_p": {
                "p": crate::measure::sampling::TOP_P,
                "fused": timing(&e.top_p),
                "unfused": timing(&e.top_p_unfused),
                "unfused_over_fused": e.top_p_ratio(),
            },
        })).collect::<Vec<_>>(),
        "paper_claims": { "text": PAPER_CLAIMS, "speedups": paper },
    })
}
