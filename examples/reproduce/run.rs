//! The whole run: options, machine, measurements, the three files, the summary.

use std::fs;

use crate::args::{parse, Parsed, USAGE};
use crate::machine::Machine;
use crate::{measure, plot, report};

/// Runs `reproduce` with `args` (without the program name); returns the exit code: 0 done,
/// 1 the files could not be written, 2 bad arguments.
pub fn run(args: impl IntoIterator<Item = String>) -> i32 {
    let options = match parse(args) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return 0;
        }
        Err(e) => {
            eprintln!("reproduce: {e}");
            return 2;
        }
    };
    let out = &options.out;
    if let Err(e) = fs::create_dir_all(out) {
        eprintln!("reproduce: cannot create {}: {e}", out.display());
        return 1;
    }
    let machine = Machine::detect();
    let isas: Vec<_> = machine.isas.iter().map(|i| i.name()).collect();
    println!(
        "CPU: {} ({} CPUs available to this process)",
        machine.cpu, machine.threads
    );
    println!("ISAs: {}", isas.join(", "));
    println!("caches: {}", machine.cache_summary());
    if cfg!(debug_assertions) {
        println!("warning: a debug build; use --release for meaningful numbers");
    }
    println!("timing (progress on stderr)...");

    let results = measure::run(&machine, &options);
    let written = fs::write(out.join("report.md"), report::markdown(&results))
        .and_then(|()| {
            let json = serde_json::to_string_pretty(&report::json(&results))?;
            fs::write(out.join("report.json"), json + "\n")
        })
        .map_err(|e| e.to_string())
        .and_then(|()| {
            plot::softmax_svg(&results, &out.join("softmax.svg")).map_err(|e| e.to_string())
        });
    println!("\n{}", report::summary(&results));
    match written {
        Ok(()) => {
            println!(
                "wrote {0}/report.md, {0}/report.json, {0}/softmax.svg",
                out.display()
            );
            0
        }
        Err(e) => {
            eprintln!("reproduce: cannot write to {}: {e}", out.display());
            1
        }
    }
}
