//! podinit-bench: measures podinit against tini, tini-static, catatonit and dumb-init, then
//! podinit's pod mode alone.
//!
//! `podinit-bench [options]` runs every measurement and prints one table and the project's
//! goals, then the pod start-up table and its goals; `podinit-bench workload ...` is the
//! program the inits supervise meanwhile (the benchmark re-executes itself inside each pod).
//! `podinit-bench --help` lists the options.

mod cli;
mod clock;
mod cpu;
mod error;
mod inits;
mod pod;
mod podreport;
mod podstart;
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
use crate::podstart::PodStartup;
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

    // 1. podinit against the peers: start-up, reaping, signal round trip.
    let peers = match options.sections.any_peer() {
        true => Some(compare(&options, &cpus)?),
        false => None,
    };

    // 2. podinit's pod mode alone, after the peers, unpinned.
    let pod = match options.sections.pod {
        true => measure_pod(&options)?,
        false => PodSection::NotSelected,
    };

    // 3. The tables and the goals; what could not be measured is said last, loudly.
    let mut all_met = true;
    if let Some(peers) = &peers {
        all_met &= print_peers(&peers.results);
    }
    if let PodSection::Measured(pod) = &pod {
        all_met &= print_pod(pod, &cpus);
    }
    if say_missing(peers, &pod) {
        return Ok(1);
    }
    Ok(if options.check && !all_met { 1 } else { 0 })
}

/// Says what was not measured because its binary is missing; whether anything was.
fn say_missing(peers: Option<Comparison>, pod: &PodSection) -> bool {
    let mut missing = false;
    if let Some(path) = peers.and_then(|peers| peers.podinit_missing) {
        eprintln!(
            "podinit-bench: podinit was NOT measured: {} does not exist",
            path.display()
        );
        missing = true;
    }
    if let PodSection::Missing(path) = pod {
        eprintln!(
            "podinit-bench: pod mode was NOT measured: {} does not exist",
            path.display()
        );
        missing = true;
    }
    missing
}

/// podinit and the peers, measured, and where podinit was looked for when it is missing.
struct Comparison {
    results: Results,
    podinit_missing: Option<PathBuf>,
}

/// The measurements against the peers, in order.
fn compare(options: &Options, cpus: &Cpus) -> Result<Comparison> {
    // 1. The binaries. A missing podinit is said loudly, but the peers are still measured.
    let (inits, podinit_missing) = find_inits(options)?;

    // 2. Start-up overhead, outside any namespace.
    let startup = match options.sections.startup {
        true => startup::measure(&inits, options)?,
        false => Startup::not_measured(inits.len()),
    };

    // 3. Reaping an orphan burst, and the peak RSS it leaves, as PID 1 of a namespace.
    let reaping = match options.sections.reap {
        true => reap::measure(&inits, options, cpus)?,
        false => Reaping::not_measured(inits.len()),
    };

    // 4. Signal round trip, as PID 1 of a namespace.
    let round_trips = match options.sections.signals {
        true => signals::measure(&inits, options, cpus)?,
        false => RoundTrips::not_measured(inits.len()),
    };

    let results = Results::new(inits, options, startup, reaping, round_trips);
    Ok(Comparison {
        results,
        podinit_missing,
    })
}

/// The table against the peers and its goals; whether every goal was met.
fn print_peers(results: &Results) -> bool {
    report::print_table(results);
    let goals = report::goals(results);
    report::print_goals(&goals);
    goals.iter().all(|goal| goal.verdict == Verdict::Met)
}

enum PodSection {
    NotSelected,
    /// The pod build does not exist at this path.
    Missing(PathBuf),
    Measured(PodStartup),
}

fn measure_pod(options: &Options) -> Result<PodSection> {
    let path = match &options.podinit {
        Some(path) => path.clone(),
        None => inits::default_podinit()?,
    };
    let Some(build) = inits::locate("podinit", Some(&path))? else {
        eprintln!(
            "podinit-bench: pod build missing: {} does not exist; build it with `cargo build \
             --release -p podinit`. Skipping pod start-up.",
            path.display()
        );
        return Ok(PodSection::Missing(path));
    };
    podstart::measure(build, options).map(PodSection::Measured)
}

/// The pod start-up table and its goals; whether every goal was met.
fn print_pod(pod: &PodStartup, cpus: &Cpus) -> bool {
    podreport::print_table(pod, cpus.count());
    let goals = podreport::goals(pod);
    podreport::print_goals(&goals, cpus.count());
    goals.iter().all(|goal| goal.verdict == Verdict::Met)
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
