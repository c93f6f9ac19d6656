//! Signal round trip: SIGUSR1 sent to the init from outside its namespace, forwarded to the
//! workload, answered with one byte on the workload's stdout.

use std::time::Instant;

use nix::sys::signal::{Signal, kill};

use crate::cli::Options;
use crate::cpu::Cpus;
use crate::error::{Context, Result};
use crate::inits::Init;
use crate::pod::Pod;
use crate::stats::{Summary, percentile, rotated, summary_of};

/// Round trips before the timed ones.
const WARMUP_SIGNALS: usize = 100;

/// Medians over rounds of each round's percentiles, one entry per init, in µs.
pub struct RoundTrips {
    pub p50_us: Vec<Summary>,
    pub p99_us: Vec<Summary>,
}

impl RoundTrips {
    /// Figures of a run that skipped the round trips: not numbers, printed as "-".
    pub fn not_measured(inits: usize) -> Self {
        let nan = vec![Summary::NOT_MEASURED; inits];
        RoundTrips {
            p50_us: nan.clone(),
            p99_us: nan,
        }
    }
}

struct RoundTrip {
    p50_us: f64,
    p99_us: f64,
}

/// `options.signals` round trips through each init in every round, with the benchmark, the
/// init and the workload on one CPU: what is left to compare is the work on the path.
pub fn measure(inits: &[Init], options: &Options, cpus: &Cpus) -> Result<RoundTrips> {
    cpus.pin(cpus.one().filter(|_| options.pin))?;
    let mut runs: Vec<Vec<RoundTrip>> = inits.iter().map(|_| Vec::new()).collect();
    for round in 0..options.rounds {
        eprintln!(
            "podinit-bench: signal round trip, round {} of {}",
            round + 1,
            options.rounds
        );
        for index in rotated(inits.len(), round) {
            let run = run(&inits[index], options.signals)?;
            if options.verbose {
                let name = inits[index].name;
                eprintln!(
                    "podinit-bench:   {name}: p50 {:.1} µs, p99 {:.1} µs",
                    run.p50_us, run.p99_us
                );
            }
            runs[index].push(run);
        }
    }
    cpus.unpin()?;
    Ok(RoundTrips {
        p50_us: runs
            .iter()
            .map(|runs| summary_of(runs, |run| run.p50_us))
            .collect(),
        p99_us: runs
            .iter()
            .map(|runs| summary_of(runs, |run| run.p99_us))
            .collect(),
    })
}

fn run(init: &Init, count: usize) -> Result<RoundTrip> {
    let mut pod = Pod::start(init, &["echo"])?;
    let target = pod.init_pid();
    let mut samples = Vec::with_capacity(count);
    // One signal at a time: the next is sent only once the reply is in, so none coalesce.
    for sent in 0..WARMUP_SIGNALS + count {
        pod.expect_reply();
        let start = Instant::now();
        kill(target, Signal::SIGUSR1).context(|| format!("failed to signal {}", init.name))?;
        pod.read_byte()?;
        if sent >= WARMUP_SIGNALS {
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    pod.finish()?;
    Ok(RoundTrip {
        p50_us: percentile(&samples, 50.0).unwrap_or(f64::NAN),
        p99_us: percentile(&samples, 99.0).unwrap_or(f64::NAN),
    })
}
