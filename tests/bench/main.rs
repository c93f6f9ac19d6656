//! podinit-bench: measures podinit against tini, tini-static, catatonit and dumb-init, then
//! podinit's pod mode alone, then podinit as a stage1 started the way a pod runtime does.
//!
//! `podinit-bench [options]` runs every measurement and prints one table and the project's
//! goals, then the pod start-up table and its goals, then the stage1 table and its goals;
//! `podinit-bench workload ...` is the program the inits supervise meanwhile (the benchmark
//! re-executes itself inside each pod, and plays the runtime's last step before `run`).
//! `podinit-bench --help` lists the options.

mod cli;
mod clock;
mod cpu;
mod error;
mod inits;
mod pod;
mod podreport;
mod podrun;
mod podstart;
mod reap;
mod report;
mod signals;
mod stage1;
mod stage1report;
mod startup;
mod stats;
mod workload;

use std::path::PathBuf;
use std::process::exit;

use crate::cli::{Command, Options};
use crate::cpu::Cpus;
use crate::error::{Error, Result};
use crate::inits::{Init, Slim};
use crate::podstart::PodStartup;
use crate::reap::Reaping;
use crate::report::{Results, Verdict};
use crate::signals::RoundTrips;
use crate::stage1::Stage1Startup;
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

    // 1. podinit against the peers: start-up, reaping, signal round trip, as selected; the
    // sizes always.
    let peers = compare(&options, &cpus)?;

    // 2. podinit's pod mode alone, after the peers, unpinned.
    let pod = match options.sections.pod {
        true => measure_pod(&options)?,
        false => PodSection::NotSelected,
    };

    // 3. podinit as a stage1, unpinned. `run` failing fails this section alone.
    let stage1 = match options.sections.stage1 {
        true => measure_stage1(&options)?,
        false => Stage1Section::NotSelected,
    };

    // 4. The tables and the goals; what could not be measured is said last, loudly.
    let mut all_met = print_peers(&peers.results);
    if let PodSection::Measured(pod) = &pod {
        all_met &= print_pod(pod, &cpus);
    }
    match &stage1 {
        Stage1Section::Measured(stage1) => all_met &= print_stage1(stage1, &cpus),
        Stage1Section::Failed(error) => stage1report::print_failure(&error.to_string()),
        Stage1Section::NotSelected | Stage1Section::Missing(_) => {}
    }
    if say_missing(peers, &pod, &stage1) {
        return Ok(1);
    }
    Ok(if options.check && !all_met { 1 } else { 0 })
}

/// Says what was not measured because its binary is missing or `run` failed; whether anything
/// was.
fn say_missing(peers: Comparison, pod: &PodSection, stage1: &Stage1Section) -> bool {
    let mut missing = false;
    if let Some(path) = peers.podinit_missing {
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
    match stage1 {
        Stage1Section::Missing(path) => eprintln!(
            "podinit-bench: stage1 was NOT measured: {} does not exist",
            path.display()
        ),
        Stage1Section::Failed(_) => {
            eprintln!("podinit-bench: stage1 was NOT measured: stage1 run failed (see its section)")
        }
        Stage1Section::NotSelected | Stage1Section::Measured(_) => return missing,
    }
    true
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

    let slim = inits::locate_slim(options.slim.as_deref())?;
    if let Slim::Missing(path) = &slim {
        eprintln!(
            "podinit-bench: slim build missing: {} does not exist; build it with `cargo build \
             --release -p podinit --no-default-features --target-dir target/slim`",
            path.display()
        );
    }
    let results = Results::new(inits, slim, options, startup, reaping, round_trips);
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
    match locate_podinit(options, "pod start-up")? {
        Ok(build) => podstart::measure(build, options).map(PodSection::Measured),
        Err(path) => Ok(PodSection::Missing(path)),
    }
}

enum Stage1Section {
    NotSelected,
    /// The build `run` links to does not exist at this path.
    Missing(PathBuf),
    /// `run` did not start and end a pod as the contract says; the other sections stand.
    Failed(Error),
    Measured(Stage1Startup),
}

fn measure_stage1(options: &Options) -> Result<Stage1Section> {
    Ok(match locate_podinit(options, "stage1 start-up")? {
        Ok(build) => match stage1::measure(build, options) {
            Ok(stage1) => Stage1Section::Measured(stage1),
            Err(error) => Stage1Section::Failed(error),
        },
        Err(path) => Stage1Section::Missing(path),
    })
}

/// The shipped build a section runs, or where it was looked for, said loudly.
fn locate_podinit(options: &Options, section: &str) -> Result<std::result::Result<Init, PathBuf>> {
    let path = match &options.podinit {
        Some(path) => path.clone(),
        None => inits::default_podinit()?,
    };
    match inits::locate("podinit", Some(&path))? {
        Some(build) => Ok(Ok(build)),
        None => {
            eprintln!(
                "podinit-bench: podinit missing: {} does not exist; build it with `cargo build \
                 --release -p podinit`. Skipping {section}.",
                path.display()
            );
            Ok(Err(path))
        }
    }
}

/// The pod start-up table and its goals; whether every goal was met.
fn print_pod(pod: &PodStartup, cpus: &Cpus) -> bool {
    podreport::print_table(pod, cpus.count());
    let goals = podreport::goals(pod);
    podreport::print_goals(&goals, cpus.count());
    goals.iter().all(|goal| goal.verdict == Verdict::Met)
}

/// The stage1 table and its goals; whether every goal was met.
fn print_stage1(stage1: &Stage1Startup, cpus: &Cpus) -> bool {
    stage1report::print_table(stage1, cpus.count());
    let goals = stage1report::goals(stage1);
    stage1report::print_goals(&goals, cpus.count());
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
