//! Reproduces "The Two-Pass Softmax Algorithm" (Dukhan & Ablavatski, 2020) on this CPU: memory
//! ceilings, softmax for every algorithm and ISA at 1K-64M floats, log-sum-exp one pass against
//! max-then-sum; writes report.md, report.json and softmax.svg.
//!
//! `cargo run --release --example reproduce` (about a minute after the build; `-- --quick` for under 20 s,
//! `-- --help` for the options).

mod analysis;
mod args;
mod environment;
mod machine;
mod measure;
#[path = "../../benches/common/paper_input.rs"]
mod paper_input;
mod plot;
mod report;
mod run;
mod split;

fn main() {
    std::process::exit(run::run(std::env::args().skip(1)));
}
