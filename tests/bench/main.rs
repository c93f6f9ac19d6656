//! podinit-bench: measures podinit against tini, tini-static, catatonit and dumb-init.
//!
//! `podinit-bench [options]` runs every measurement and prints one table and the project's
//! goals; `podinit-bench workload ...` is the program the inits supervise meanwhile (the
//! benchmark re-executes itself inside each pod). `podinit-bench --help` lists the options.

mod cli;
mod clock;
mod cpu;
mod error;
mod inits;
mod pod;
mod reap;
mod report;
mod signals;
mod startup;
mod stats;
mod workload;

use std::path::PathBuf;
use std::process::exit;

use crate::cli::{Command, Options};
use crate::cpu::Cpus;
use crate::error::{Error, Result};
use crate::inits::Init;
use crate::reap::Reaping;
use crate::report::{Results, Verdict};
use crate::signals::RoundTrips;
use crate::startup::Startup;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((first, rest)) if first == "workload" => workload::run(rest),
        _ => cli::parse(&args).and_then(bench),
    };
    match result {
        Ok(code) => exit(code),
        Err(error) => {
            eprintln!("podinit-bench: {error}");
            exit(1);
        }
    }
}

fn bench(command: Command) -> Result<i32> {
    let options = match command {
        Command::Help => {
            println!("{}", cli::USAGE);
            return Ok(0);
        }
        Command::Run(options) => options,
    };
    let cpus = Cpus::of_this_process()?;

    // 1. The binaries. A missing podinit is said loudly, but the peers are still measured.
    let (inits, podinit_missing) = find_inits(&options)?;

    // 2. Start-up overhead, outside any namespace.
    let startup = match options.sections.startup {
        true => startup::measure(&inits, &options)?,
        false => Startup::not_measured(inits.len()),
    };

    // 3. Reaping an orphan burst, and the peak RSS it leaves, as PID 1 of a namespace.
    let reaping = match options.sections.reap {
        true => reap::measure(&inits, &options, &cpus)?,
        false => Reaping::not_measured(inits.len()),
    };

    // 4. Signal round trip, as PID 1 of a namespace.
    let round_trips = match options.sections.signals {
        true => signals::measure(&inits, &options, &cpus)?,
        false => RoundTrips::not_measured(inits.len()),
    };

    // 5. The table and the goals.
    let results = Results::new(inits, &options, startup, reaping, round_trips);
    report::print_table(&results);
    let goals = report::goals(&results);
    report::print_goals(&goals);

    if let Some(path) = podinit_missing {
        eprintln!(
            "podinit-bench: podinit was NOT measured: {} does not exist",
            path.display()
        );
        return Ok(1);
    }
    let all_met = goals.iter().all(|goal| goal.verdict == Verdict::Met);
    Ok(if options.check && !all_met { 1 } else { 0 })
}

/// The selected inits that exist, and where podinit was looked for when it is missing.
fn find_inits(options: &Options) -> Result<(Vec<Init>, Option<PathBuf>)> {
    let mut found = Vec::new();
    let mut podinit_missing = None;
    for &name in &options.inits {
        match inits::locate(name, options.podinit.as_deref())? {
            Some(init) => found.push(init),
            None if name == "podinit" => {
                let path = match &options.podinit {
                    Some(path) => path.clone(),
                    None => inits::default_podinit()?,
                };
                eprintln!(
                    "podinit-bench: podinit binary missing: {} does not exist; build it with \
                     `cargo build --release -p podinit`. Measuring the peers only.",
                    path.display()
                );
                podinit_missing = Some(path);
            }
            None => eprintln!("podinit-bench: {name} not found in PATH: left out"),
        }
    }
    if found.is_empty() {
        return Err(Error::new("none of the selected inits exists"));
    }
    Ok((found, podinit_missing))
}
