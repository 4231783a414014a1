//! Command-line options of `reproduce`, parsed by hand (a handful of flags needs no clap).

use std::path::PathBuf;

use twopass::{Algorithm, Isa};

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
Reproduce \"The Two-Pass Softmax Algorithm\" (Dukhan & Ablavatski, 2020) on this CPU.

usage: cargo run --release --example reproduce -- [options]

options:
  --quick              a few sizes, few repetitions (under 20 s; for CI)
  --max-n N            largest row length in floats (default 64M; suffixes K and M are powers
                       of two: 1K = 1024); the smallest is 1K
  --isa LIST           ISAs to time, comma-separated: scalar, avx2, avx512 (default: every
                       ISA this CPU has; scalar only up to 64K)
  --algorithm LIST     softmax algorithms, comma-separated: auto, two-pass, three-pass-reload,
                       three-pass-recompute, online, blocked (default: all six); log-sum-exp keeps
                       the ones among two-pass (one pass) and three-pass-recompute
                       (max, then sum)
  --out DIR            where report.md, report.json and softmax.svg go
                       (default: $CARGO_TARGET_DIR or <workspace>/target, then
                       twopass-reproduce/)
  -h, --help           this text

Pin it to one core for steadier numbers: taskset -c 1 cargo run --release --example reproduce
";

/// Every algorithm a user may name, in report order.
pub const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::Auto,
    Algorithm::TwoPass,
    Algorithm::ThreePassReload,
    Algorithm::ThreePassRecompute,
    Algorithm::Online,
    Algorithm::Blocked,
];

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The short run for CI.
    pub quick: bool,
    /// The largest row length.
    pub max_n: usize,
    /// The ISAs to time (each one this CPU has).
    pub isas: Vec<Isa>,
    /// The softmax algorithms to time.
    pub algorithms: Vec<Algorithm>,
    /// The output directory.
    pub out: PathBuf,
}

/// The outcome of parsing: options to run, or a request for the usage text.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// Run with these options.
    Run(Options),
    /// Print [`USAGE`] and stop.
    Help,
}

/// Parses the arguments after the program name. The error names the accepted values.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let available: Vec<Isa> = twopass::available_isas().collect();
    let mut options = Options {
        quick: false,
        max_n: default_max_n(false),
        isas: available.clone(),
        algorithms: ALGORITHMS.to_vec(),
        out: default_out(),
    };
    let mut max_n = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value (see --help)"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--quick" => options.quick = true,
            "--max-n" => max_n = Some(parse_n(&value()?)?),
            "--isa" => options.isas = parse_isas(&value()?, &available)?,
            "--algorithm" => options.algorithms = parse_algorithms(&value()?)?,
            "--out" => options.out = PathBuf::from(value()?),
            _ => {
                return Err(format!(
                    "unknown argument `{arg}`; accepted: --quick, --max-n N, --isa LIST, \
                     --algorithm LIST, --out DIR, --help"
                ))
            }
        }
    }
    options.max_n = max_n.unwrap_or(default_max_n(options.quick));
    Ok(Parsed::Run(options))
}

/// The largest row length unless `--max-n` says otherwise: 64M, or 32M for `--quick`.
pub fn default_max_n(quick: bool) -> usize {
    if quick {
        1 << 25
    } else {
        1 << 26
    }
}

/// `$CARGO_TARGET_DIR/twopass-reproduce`, else `<workspace>/target/twopass-reproduce`.
fn default_out() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("twopass-reproduce")
}

/// `65536`, `64K` or `64M` (binary suffixes), at least 1K.
fn parse_n(s: &str) -> Result<usize, String> {
    let (digits, scale) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1 << 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    let bad = || format!("--max-n: `{s}` is not a row length such as 65536, 64K or 64M");
    let n = digits
        .parse::<usize>()
        .ok()
        .and_then(|d| d.checked_mul(scale))
        .ok_or_else(bad)?;
    if n < 1 << 10 {
        return Err(format!(
            "--max-n: {n} is below the smallest size, 1K (1024)"
        ));
    }
    Ok(n)
}

fn parse_isas(s: &str, available: &[Isa]) -> Result<Vec<Isa>, String> {
    let names: Vec<_> = available.iter().map(|i| i.name()).collect();
    let mut isas = Vec::new();
    for name in s.split(',') {
        let isa = Isa::ALL
            .into_iter()
            .find(|i| i.name() == name)
            .ok_or_else(|| {
                format!("--isa: unknown ISA `{name}`; accepted: scalar, avx2, avx512")
            })?;
        if !available.contains(&isa) {
            return Err(format!(
                "--isa: this CPU lacks {name}; it runs: {}",
                names.join(", ")
            ));
        }
        if !isas.contains(&isa) {
            isas.push(isa);
        }
    }
    isas.sort();
    Ok(isas)
}

fn parse_algorithms(s: &str) -> Result<Vec<Algorithm>, String> {
    let mut chosen = Vec::new();
    for name in s.split(',') {
        let a = ALGORITHMS
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = ALGORITHMS.iter().map(|a| a.name()).collect();
                format!(
                    "--algorithm: unknown algorithm `{name}`; accepted: {}",
                    names.join(", ")
                )
            })?;
        if !chosen.contains(&a) {
            chosen.push(a);
        }
    }
    Ok(ALGORITHMS
        .into_iter()
        .filter(|a| chosen.contains(a))
        .collect())
}
