//! Reaping: a burst of orphans re-parented to the init, as PID 1, all at once.
//!
//! The zombies are counted from outside the namespace in the init's
//! /proc/PID/task/PID/children (proc(5)), which lists every child not yet reaped, zombies
//! included. Besides the zombies it holds one live child: the workload, which waits for the
//! benchmark. Whether any zombie is left needs only the head of that list, a read of a few
//! bytes; the whole list is read once, 100 ms after the burst, only if zombies are left then.
//! The polling runs on another CPU than the pod, and the init's own CPU time (from
//! /proc/PID/schedstat) is reported beside the wall time as a figure polling cannot touch.
//! Polling every 20 µs, 200 µs or 2 ms moved neither figure beyond the rounds' spread; on a
//! loaded machine the wall time spreads widely (the init waits for a CPU), its CPU time little.

use std::fs::{self, File};
use std::io::Read;
use std::thread;
use std::time::Duration;

use nix::unistd::Pid;

use crate::cli::Options;
use crate::clock::monotonic_ns;
use crate::cpu::Cpus;
use crate::error::{Context, Error, Result};
use crate::inits::Init;
use crate::pod::Pod;
use crate::stats::{Summary, rotated, summary_of};

/// When, after the burst, the zombies left are counted.
const SAMPLE_AFTER_NS: u64 = 100_000_000;

/// How long an init gets to reap the burst before the run is marked timed out.
const TIMEOUT_NS: u64 = 30_000_000_000;

/// Medians over rounds, one entry per init, in the inits' order. A reap time is infinite
/// when the init did not reap a burst within the timeout.
pub struct Reaping {
    pub reap_ms: Vec<Summary>,
    pub cpu_ms: Vec<Summary>,
    pub zombies_at_100ms: Vec<Summary>,
    pub vm_hwm_kib: Vec<Summary>,
}

impl Reaping {
    /// Figures of a run that skipped reaping: not numbers, printed as "-".
    pub fn not_measured(inits: usize) -> Self {
        let nan = vec![Summary::NOT_MEASURED; inits];
        Reaping {
            reap_ms: nan.clone(),
            cpu_ms: nan.clone(),
            zombies_at_100ms: nan.clone(),
            vm_hwm_kib: nan,
        }
    }
}

/// One burst: how long the init took to reap it, the CPU time the init spent meanwhile, how
/// many zombies were left 100 ms after it, and the init's peak RSS after it.
struct Burst {
    reap_ms: f64,
    cpu_ms: f64,
    zombies_at_100ms: usize,
    vm_hwm_kib: u64,
}

/// One burst of `options.orphans` for each init in every round. The pod runs on one CPU and
/// this benchmark, polling, on another, so that the polling never preempts the init.
pub fn measure(inits: &[Init], options: &Options, cpus: &Cpus) -> Result<Reaping> {
    let (pod_cpu, bench_cpu) = match cpus.two() {
        Some((pod, bench)) if options.pin => (Some(pod), Some(bench)),
        _ => (None, None),
    };
    let mut bursts: Vec<Vec<Burst>> = inits.iter().map(|_| Vec::new()).collect();
    for round in 0..options.rounds {
        eprintln!(
            "podinit-bench: reaping, round {} of {}",
            round + 1,
            options.rounds
        );
        for index in rotated(inits.len(), round) {
            cpus.pin(pod_cpu)?;
            let mut pod = Pod::start(&inits[index], &["orphans", &options.orphans.to_string()])?;
            cpus.pin(bench_cpu)?;
            let burst = watch_burst(&mut pod, options.poll)?;
            pod.finish()?;
            if options.verbose {
                print_burst(inits[index].name, &burst);
            }
            bursts[index].push(burst);
        }
    }
    cpus.unpin()?;
    let medians = |value: fn(&Burst) -> f64| -> Vec<Summary> {
        bursts
            .iter()
            .map(|bursts| summary_of(bursts, value))
            .collect()
    };
    Ok(Reaping {
        reap_ms: medians(|burst| burst.reap_ms),
        cpu_ms: medians(|burst| burst.cpu_ms),
        zombies_at_100ms: medians(|burst| burst.zombies_at_100ms as f64),
        vm_hwm_kib: medians(|burst| burst.vm_hwm_kib as f64),
    })
}

fn print_burst(name: &str, burst: &Burst) {
    eprintln!(
        "podinit-bench:   {name}: reaped in {:.2} ms, {:.2} ms CPU, {} zombies at 100 ms, \
         VmHWM {} KiB",
        burst.reap_ms, burst.cpu_ms, burst.zombies_at_100ms, burst.vm_hwm_kib
    );
}

fn watch_burst(pod: &mut Pod, poll: Duration) -> Result<Burst> {
    // The init is idle until the burst ends: the orphans' exits concern only the intermediate.
    let cpu_before = cpu_ns(pod.init_pid())?;
    let burst_end = parse_burst(&pod.read_line()?)?;
    let children = Children::of(pod.init_pid());
    let (reap_ms, zombies_at_100ms) = watch(&children, burst_end, poll)?;
    let cpu_ms = cpu_ns(pod.init_pid())?.saturating_sub(cpu_before) as f64 / 1e6;
    let vm_hwm_kib = vm_hwm_kib(pod.init_pid())?;
    Ok(Burst {
        reap_ms,
        cpu_ms,
        zombies_at_100ms,
        vm_hwm_kib,
    })
}

fn parse_burst(line: &str) -> Result<u64> {
    let time = line
        .strip_prefix("burst ")
        .and_then(|time| time.parse().ok());
    time.ok_or_else(|| {
        Error::new(format!(
            "expected `burst <ns>` from the workload, got {line:?}"
        ))
    })
}

/// Polls until no zombie is left; returns the time that took since the burst, in ms, and the
/// zombies counted 100 ms after the burst.
fn watch(children: &Children, burst_end: u64, poll: Duration) -> Result<(f64, usize)> {
    let mut at_100ms = None;
    loop {
        let zombies_left = children.any_zombie()?;
        let since = monotonic_ns().saturating_sub(burst_end);
        if !zombies_left {
            return Ok((since as f64 / 1e6, at_100ms.unwrap_or(0)));
        }
        if at_100ms.is_none() && since >= SAMPLE_AFTER_NS {
            at_100ms = Some(children.count_zombies()?);
        }
        if since >= TIMEOUT_NS {
            return Ok((f64::INFINITY, at_100ms.unwrap_or(0)));
        }
        thread::sleep(poll);
    }
}

/// The children list of the init, whose one live child is the workload.
struct Children {
    path: String,
}

impl Children {
    fn of(init: Pid) -> Self {
        Children {
            path: format!("/proc/{init}/task/{init}/children"),
        }
    }

    /// Whether the list holds more than the workload. Two pids take at most 16 bytes
    /// ("4194304 " each), so reading 16 tells one child from several.
    fn any_zombie(&self) -> Result<bool> {
        let mut head = Vec::with_capacity(16);
        File::open(&self.path)
            .and_then(|file| file.take(16).read_to_end(&mut head))
            .context(|| format!("failed to read {}", self.path))?;
        Ok(head
            .split(u8::is_ascii_whitespace)
            .filter(|pid| !pid.is_empty())
            .count()
            > 1)
    }

    fn count_zombies(&self) -> Result<usize> {
        let list =
            fs::read_to_string(&self.path).context(|| format!("failed to read {}", self.path))?;
        Ok(list.split_whitespace().count().saturating_sub(1))
    }
}

/// The init's peak resident set size, `VmHWM` of /proc/PID/status, in KiB.
pub fn vm_hwm_kib(init: Pid) -> Result<u64> {
    let path = format!("/proc/{init}/status");
    let status = fs::read_to_string(&path).context(|| format!("failed to read {path}"))?;
    let value = status.lines().find_map(|line| line.strip_prefix("VmHWM:"));
    let kib = value.and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok());
    kib.ok_or_else(|| Error::new(format!("no VmHWM in {path}")))
}

/// The CPU time the init has run, in ns: the first field of /proc/PID/schedstat, kept by the
/// scheduler to the nanosecond, unlike the clock ticks of /proc/PID/stat.
fn cpu_ns(init: Pid) -> Result<u64> {
    let path = format!("/proc/{init}/schedstat");
    let stat = fs::read_to_string(&path).context(|| format!("failed to read {path}"))?;
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok());
    ns.ok_or_else(|| Error::new(format!("no run time in {path}")))
}
