//! Pod start-up: podinit's pod mode (`--pod`) running a manifest of 1, 10 and 100 apps, as
//! PID 1 of a fresh PID namespace. Only podinit has a pod mode: there are no peers here.
//!
//! Every app is this benchmark's `workload app` (see `podrun`). The pod runs as
//! `unshare ... podinit-bench workload exec-at FILE PODINIT --pod ...`, which notes in FILE the
//! time podinit is executed at (same pid, PID 1). A run measures
//!
//! - start: podinit's exec until the last app has started, both times taken by the
//!   processes themselves on the one `CLOCK_MONOTONIC`;
//! - exit: the benchmark closing `go` until podinit has exited, seen on a pidfd, which turns
//!   readable only once PID 1 has exited, and so once its namespace is empty (pid_namespaces(7));
//! - podinit's peak RSS (VmHWM) just before `go` is closed.
//!
//! Nothing is pinned: the apps start on every CPU the benchmark may use.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::Options;
use crate::clock::monotonic_ns;
use crate::error::{Context, Result};
use crate::inits::Init;
use crate::pod::only_child;
use crate::podrun::{self, Fifos, Names, PodProcess, Scratch};
use crate::reap::vm_hwm_kib;
use crate::stats::Summary;

/// Medians over rounds, one entry per pod size of `podrun::APP_COUNTS`.
pub struct PodStartup {
    pub build: Init,
    pub scratch: PathBuf,
    pub rounds: usize,
    pub started_ms: Vec<Summary>,
    pub exited_ms: Vec<Summary>,
    pub vm_hwm_kib: Vec<Summary>,
}

/// One pod, start to end.
struct Run {
    started_ms: f64,
    exited_ms: f64,
    vm_hwm_kib: u64,
}

/// Every pod size in every round, after one untimed pod of one app.
pub fn measure(build: Init, options: &Options) -> Result<PodStartup> {
    let scratch = Scratch::create("pod")?;
    let one = |dir: &Path, apps| run(&build, dir, apps);
    let runs = podrun::rounds("pod start-up", &scratch, options, one, print_run)?;
    Ok(PodStartup {
        started_ms: podrun::medians(&runs, |run| run.started_ms),
        exited_ms: podrun::medians(&runs, |run| run.exited_ms),
        vm_hwm_kib: podrun::medians(&runs, |run| run.vm_hwm_kib as f64),
        build,
        scratch: scratch.path.clone(),
        rounds: options.rounds,
    })
}

fn print_run(apps: usize, run: &Run) {
    eprintln!(
        "podinit-bench:   {apps} apps: all started in {:.2} ms, exited {:.2} ms after go, \
         VmHWM {} KiB",
        run.started_ms, run.exited_ms, run.vm_hwm_kib
    );
}

/// One pod of `apps` apps, in the fresh directory `dir`.
fn run(build: &Init, dir: &Path, apps: usize) -> Result<Run> {
    let files = RunFiles::create(dir, apps)?;
    let fifos = Fifos::create(dir)?;
    let mut pod = start(build, &files)?;

    let last_start_ns = podrun::await_starts(&mut pod, &fifos.ready, apps)?;
    let exec_ns = podrun::read_ns(&files.exec_time)?;
    let podinit = only_child(pod.pid())?;
    let vm_hwm_kib = vm_hwm_kib(podinit)?;
    let exited = podrun::exit_watch(podinit)?;

    // Closing the benchmark's end of `go`, the last writer's, lets every app read its end.
    let go_ns = monotonic_ns();
    drop(fifos.go);
    podrun::await_exit(&pod, &exited, "podinit")?;
    let exit_ns = monotonic_ns();

    pod.expect_success()?;
    podrun::expect_records(&files.status_dir, apps)?;
    Ok(Run {
        started_ms: last_start_ns.saturating_sub(exec_ns) as f64 / 1e6,
        exited_ms: exit_ns.saturating_sub(go_ns) as f64 / 1e6,
        vm_hwm_kib,
    })
}

/// The files of one pod.
struct RunFiles {
    manifest: PathBuf,
    status_dir: PathBuf,
    exec_time: PathBuf,
    log: PathBuf,
}

impl RunFiles {
    /// Writes the manifest of `apps` apps, each waiting on the FIFOs of `dir`.
    fn create(dir: &Path, apps: usize) -> Result<RunFiles> {
        let files = RunFiles {
            manifest: dir.join("pod.json"),
            status_dir: dir.join("status"),
            exec_time: dir.join("exec-time"),
            log: dir.join("podinit.log"),
        };
        let bench =
            env::current_exe().context(|| "failed to find the benchmark's binary".into())?;
        let (ready, go) = (dir.join("ready"), dir.join("go"));
        let exec: [&Path; 5] = [&bench, "workload".as_ref(), "app".as_ref(), &ready, &go];
        let json = podrun::manifest(&exec, apps)?;
        fs::write(&files.manifest, json)
            .context(|| format!("failed to write {}", files.manifest.display()))?;
        Ok(files)
    }
}

/// Starts unshare and the pod below it. Dropped still running (a failed measurement), it is
/// killed: unshare's --kill-child then kills podinit, and with it every app.
fn start(build: &Init, files: &RunFiles) -> Result<PodProcess> {
    let bench = env::current_exe().context(|| "failed to find the benchmark's binary".into())?;
    let mut unshare = Command::new("unshare");
    unshare
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(bench)
        .args(["workload", "exec-at"])
        .arg(&files.exec_time)
        .arg(&build.path)
        .arg("--pod")
        .arg(&files.manifest)
        .arg("--status-dir")
        .arg(&files.status_dir);
    let names = Names {
        process: "unshare",
        printer: "podinit",
        prefix: "pod mode: ",
    };
    PodProcess::spawn(unshare, &files.log, names)
}
