//! `examples/reproduce`: its modules compiled into this test and run in-process (no nested
//! cargo): `--quick` end to end into a temporary directory, and the argument errors.

#[path = "../examples/reproduce/analysis.rs"]
mod analysis;
#[path = "../examples/reproduce/args.rs"]
mod args;
#[path = "../examples/reproduce/environment.rs"]
mod environment;
#[path = "../examples/reproduce/machine.rs"]
mod machine;
#[path = "../examples/reproduce/measure.rs"]
mod measure;
#[path = "../benches/common/paper_input.rs"]
mod paper_input;
#[path = "../examples/reproduce/plot.rs"]
mod plot;
#[path = "../examples/reproduce/report.rs"]
mod report;
#[path = "../examples/reproduce/run.rs"]
mod run;
#[path = "../examples/reproduce/split.rs"]
mod split;

use serde_json::Value;
use twopass::{Algorithm, Isa};

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn bad_arguments_exit_2_and_name_the_accepted_values() {
    for (bad, accepted) in [
        (&["--isa", "sse9"][..], "scalar, avx2, avx512"),
        (&["--algorithm", "fast"], "two-pass, three-pass-reload"),
        (&["--max-n", "12"], "1K"),
        (&["--max-n", "lots"], "64M"),
        (&["--max-n"], "needs a value"),
        (&["--bogus"], "--quick"),
    ] {
        let e = args::parse(strings(bad)).expect_err(&format!("{bad:?} is refused"));
        assert!(e.contains(accepted), "{bad:?}: `{e}` names {accepted}");
        assert_eq!(run::run(strings(bad)), 2, "{bad:?}");
    }
    assert_eq!(run::run(strings(&["--help"])), 0);
}

#[test]
fn arguments_narrow_the_run() {
    let args::Parsed::Run(o) = args::parse(strings(&[
        "--max-n=4M",
        "--isa",
        "scalar",
        "--algorithm",
        "online,two-pass",
        "--out",
        "/tmp/x",
    ]))
    .unwrap() else {
        panic!("options expected");
    };
    assert_eq!(o.max_n, 4 << 20);
    assert_eq!(o.isas, [Isa::Scalar]);
    assert_eq!(o.algorithms, [Algorithm::TwoPass, Algorithm::Online]);
    assert_eq!(o.out, std::path::Path::new("/tmp/x"));
    assert_eq!(measure::sizes(o.max_n, false).len(), 13);
    assert_eq!(
        measure::sizes(1 << 25, true),
        [1 << 10, 1 << 15, 1 << 20, 1 << 25]
    );
}

/// One `--quick` run (about 2 s in release). Skipped in debug builds (far too slow to mean
/// anything) and when `TWOPASS_ISA` is set, so CI's per-ISA reruns of the suite skip it.
#[test]
fn quick_run_writes_report_json_and_plot() {
    if cfg!(debug_assertions) || std::env::var_os("TWOPASS_ISA").is_some() {
        eprintln!("skipped: runs in a release build without TWOPASS_ISA");
        return;
    }
    let dir = std::env::temp_dir().join(format!("twopass-reproduce-{}", std::process::id()));
    let out = dir.to_str().unwrap();
    assert_eq!(run::run(strings(&["--quick", "--out", out])), 0);

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let svg = std::fs::read_to_string(dir.join("softmax.svg")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let isas: Vec<Isa> = twopass::available_isas().collect();
    let sizes = [1usize << 10, 1 << 15, 1 << 20, 1 << 25];
    for heading in [
        "## Two-pass against three-pass, next to the paper",
        "## Softmax, elements per nanosecond",
        "## Log-sum-exp",
        "## Memory ceilings",
        "## Floating-point environment",
        "## Every measurement",
        "## Methodology",
    ] {
        assert!(md.contains(heading), "report.md lacks {heading}");
    }
    assert!(md.contains("cargo run --release --example reproduce -- --quick"));
    assert!(md.contains("write-allocate"));

    assert_eq!(json["sizes"], serde_json::json!(sizes));
    assert_eq!(json["ceilings"].as_array().unwrap().len(), sizes.len());
    for c in json["ceilings"].as_array().unwrap() {
        for k in [
            "read_gb_per_s",
            "copy_gb_per_s",
            "copy_non_temporal_gb_per_s",
        ] {
            let v = c[k].as_f64().unwrap();
            assert!(v > 0.1 && v < 10_000.0, "{k} = {v}");
        }
    }
    let rows = json["rows"].as_array().unwrap();
    let expected: usize = sizes
        .iter()
        .map(|&n| {
            let isas = isas
                .iter()
                .filter(|&&i| i != Isa::Scalar || n <= measure::SCALAR_MAX_N);
            isas.count() * (args::ALGORITHMS.len() + 2)
        })
        .sum();
    assert_eq!(rows.len(), expected);
    for row in rows {
        let (n, isa) = (row["n"].as_u64().unwrap() as usize, &row["isa"]);
        let isa = *isas.iter().find(|i| i.name() == isa).unwrap();
        let e = row["elements_per_ns"].as_f64().unwrap();
        let t = row["timing"]["median_ns"].as_f64().unwrap();
        assert!((e - n as f64 / t).abs() < 1e-9 * e && e > 0.01, "{row}");
        assert!(row["percent_of_ceiling"].as_f64().unwrap() > 0.0, "{row}");
        if row["op"] == "softmax" && row["algorithm"] == "auto" {
            let resolved = Algorithm::Auto.resolve(n, isa).name();
            assert_eq!(row["resolved"], resolved, "{row}");
            let bytes = if resolved == "three-pass-reload" {
                20
            } else {
                12
            };
            assert_eq!(row["bytes_per_element"], bytes, "{row}");
        }
    }
    let env = json["floating_point_environment"].as_array().unwrap();
    assert_eq!(env.len(), environment::count(&isas, 1 << 25) / 2);
    for e in env {
        let r = e["time_ratio_ftz_daz_over_default"].as_f64().unwrap();
        assert!(r > 0.0 && r.is_finite(), "{e}");
    }
    let speedups = json["two_pass_speedups"].as_array().unwrap();
    assert_eq!(speedups.len(), 2 * expected / (args::ALGORITHMS.len() + 2));

    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for isa in &isas {
        for a in args::ALGORITHMS {
            let label = format!("{} {}", isa.name(), a.name());
            assert!(svg.contains(&label), "softmax.svg lacks {label}");
        }
    }
    if let Some(l1) = machine::Machine::detect().caches.first() {
        let mark = format!("{} = ", l1.label());
        assert!(svg.contains(&mark), "softmax.svg marks the caches");
    }
}

#[test]
fn ceilings_add_the_probe_passes_each_algorithm_makes() {
    let t = |median_ns| measure::Timing {
        median_ns,
        min_ns: median_ns,
        max_ns: median_ns,
        reps: 1,
        calls: 1,
    };
    // read 1, copy 10, non-temporal copy 100: each sum below names its passes.
    let probes = |n| measure::Ceiling {
        n,
        read: t(1.0),
        copy: t(10.0),
        copy_nt: t(100.0),
    };
    let row = |op, resolved, n| measure::Row {
        op,
        isa: Isa::Scalar,
        algorithm: resolved,
        resolved,
        n,
        t: t(1.0),
    };
    let (small, large) = (1 << 10, analysis::non_temporal_from());
    use measure::Op::{LogSumExp, Softmax};
    for (op, a, at_small, at_large, bytes) in [
        (Softmax, Algorithm::TwoPass, 11.0, 101.0, 12),
        (Softmax, Algorithm::Online, 11.0, 101.0, 12),
        (Softmax, Algorithm::ThreePassRecompute, 12.0, 102.0, 16),
        (Softmax, Algorithm::ThreePassReload, 21.0, 111.0, 20),
        (LogSumExp, Algorithm::TwoPass, 1.0, 1.0, 4),
        (LogSumExp, Algorithm::ThreePassRecompute, 2.0, 2.0, 8),
    ] {
        let r = row(op, a, small);
        assert_eq!(
            analysis::ceiling_ns(&r, &probes(small)),
            at_small,
            "{op:?} {a:?}"
        );
        let r = row(op, a, large);
        assert_eq!(
            analysis::ceiling_ns(&r, &probes(large)),
            at_large,
            "{op:?} {a:?}"
        );
        assert_eq!(analysis::bytes_per_element(&r), bytes, "{op:?} {a:?}");
    }
}
