//! Pod start-up: podinit's pod mode (`--pod`) running a manifest of 1, 10 and 100 apps, as
//! PID 1 of a fresh PID namespace. Only podinit has a pod mode: there are no peers here.
//!
//! Every app is this benchmark's `workload app`: it writes the time it started at to the FIFO
//! `ready`, then waits until the benchmark closes the FIFO `go` and exits 0. The pod runs as
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
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{PidfdFlags, pidfd_open};

use crate::cli::Options;
use crate::clock::monotonic_ns;
use crate::error::{Context, Error, Result};
use crate::inits::Init;
use crate::pod::only_child;
use crate::reap::vm_hwm_kib;
use crate::stats::{Summary, rotated, summary_of};

/// The pod sizes measured, in the table's order.
pub const APP_COUNTS: [usize; 3] = [1, 10, 100];

/// How long a pod may take to start all its apps, and to exit once they may.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How often a wait for the apps' starts looks whether the pod is still there.
const LIVENESS_TICK: Duration = Duration::from_millis(100);

/// Medians over rounds, one entry per pod size of `APP_COUNTS`.
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
    let scratch = Scratch::create()?;
    run(&build, &scratch.dir("warm-up")?, 1)?;
    let mut runs: Vec<Vec<Run>> = APP_COUNTS.iter().map(|_| Vec::new()).collect();
    for round in 0..options.rounds {
        eprintln!(
            "podinit-bench: pod start-up, round {} of {}",
            round + 1,
            options.rounds
        );
        for index in rotated(APP_COUNTS.len(), round) {
            let apps = APP_COUNTS[index];
            let dir = scratch.dir(&format!("{apps}-apps-round-{round}"))?;
            let run = run(&build, &dir, apps)?;
            if options.verbose {
                print_run(apps, &run);
            }
            runs[index].push(run);
        }
    }
    let medians = |value: fn(&Run) -> f64| -> Vec<Summary> {
        runs.iter().map(|runs| summary_of(runs, value)).collect()
    };
    Ok(PodStartup {
        started_ms: medians(|run| run.started_ms),
        exited_ms: medians(|run| run.exited_ms),
        vm_hwm_kib: medians(|run| run.vm_hwm_kib as f64),
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
    let ready = open_fifo(&files.ready)?;
    let go = open_fifo(&files.go)?;
    let mut pod = RunningPod::start(build, &files)?;

    let last_start_ns = pod.await_starts(&ready, apps)?;
    let exec_ns = read_ns(&files.exec_time)?;
    let podinit = only_child(pod.unshare_pid())?;
    let vm_hwm_kib = vm_hwm_kib(podinit)?;
    let exited = exit_watch(podinit)?;

    // Closing the benchmark's end of `go`, the last writer's, lets every app read its end.
    let go_ns = monotonic_ns();
    drop(go);
    pod.await_exit(&exited)?;
    let exit_ns = monotonic_ns();

    pod.expect_success()?;
    files.expect_records(apps)?;
    Ok(Run {
        started_ms: last_start_ns.saturating_sub(exec_ns) as f64 / 1e6,
        exited_ms: exit_ns.saturating_sub(go_ns) as f64 / 1e6,
        vm_hwm_kib,
    })
}

/// A directory of this benchmark's own for the pods' files, removed at the end.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn create() -> Result<Scratch> {
        let path = env::temp_dir().join(format!("podinit-bench-pod-{}", std::process::id()));
        // A directory of that name is a leftover of an earlier benchmark with the same pid.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).context(|| format!("failed to create {}", path.display()))?;
        Ok(Scratch { path })
    }

    /// A new directory for one pod.
    fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path.join(name);
        fs::create_dir(&dir).context(|| format!("failed to create {}", dir.display()))?;
        Ok(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The files of one pod.
struct RunFiles {
    manifest: PathBuf,
    status_dir: PathBuf,
    ready: PathBuf,
    go: PathBuf,
    exec_time: PathBuf,
    log: PathBuf,
}

impl RunFiles {
    /// Makes both FIFOs and writes the manifest of `apps` apps.
    fn create(dir: &Path, apps: usize) -> Result<RunFiles> {
        let files = RunFiles {
            manifest: dir.join("pod.json"),
            status_dir: dir.join("status"),
            ready: dir.join("ready"),
            go: dir.join("go"),
            exec_time: dir.join("exec-time"),
            log: dir.join("podinit.log"),
        };
        for fifo in [&files.ready, &files.go] {
            mkfifo(fifo, Mode::from_bits_truncate(0o600))
                .context(|| format!("failed to create the FIFO {}", fifo.display()))?;
        }
        let bench =
            env::current_exe().context(|| "failed to find the benchmark's binary".into())?;
        let json = manifest(
            &[
                &bench,
                "workload".as_ref(),
                "app".as_ref(),
                &files.ready,
                &files.go,
            ],
            apps,
        )?;
        fs::write(&files.manifest, json)
            .context(|| format!("failed to write {}", files.manifest.display()))?;
        Ok(files)
    }

    /// Checks that every app's record says it exited 0: that the pod ran what was timed.
    fn expect_records(&self, apps: usize) -> Result<()> {
        for app in 1..=apps {
            let path = self.status_dir.join(app_name(app));
            let record = fs::read_to_string(&path)
                .context(|| format!("failed to read {}", path.display()))?;
            if record != "0\n" {
                let what = format!("{} holds {record:?}, not \"0\\n\"", path.display());
                return Err(Error::new(what));
            }
        }
        Ok(())
    }

    /// The end of podinit's output, for an error message.
    fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n  ");
        match tail.is_empty() {
            true => "podinit printed nothing".into(),
            false => format!("podinit's last lines:\n  {tail}"),
        }
    }
}

fn app_name(app: usize) -> String {
    format!("app-{app}")
}

/// A pod manifest of `apps` apps that each run `exec`.
fn manifest(exec: &[&Path], apps: usize) -> Result<String> {
    let exec: Vec<String> = exec
        .iter()
        .map(|arg| {
            let text = arg.to_str();
            text.map(json_string)
                .ok_or_else(|| Error::new(format!("not UTF-8: {}", arg.display())))
        })
        .collect::<Result<_>>()?;
    let exec = exec.join(",");
    let image = r#"{"name":"example.com/bench-app"}"#;
    let apps: Vec<String> = (1..=apps)
        .map(|app| {
            let name = app_name(app);
            format!(r#"{{"name":"{name}","image":{image},"app":{{"exec":[{exec}]}}}}"#)
        })
        .collect();
    Ok(format!(
        r#"{{"acVersion":"0.8.11","acKind":"PodManifest","apps":[{}]}}"#,
        apps.join(",")
    ))
}

/// `text` as a JSON string (RFC 8259, section 7).
fn json_string(text: &str) -> String {
    let mut json = String::from('"');
    for c in text.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            c if c < ' ' => json.push_str(&format!("\\u{:04x}", c as u32)),
            c => json.push(c),
        }
    }
    json.push('"');
    json
}

/// A FIFO opened for reading and writing (fifo(7)), and non-blocking: the open waits for no
/// peer, the FIFO reads no end of file while the benchmark holds it, and a read finds what
/// is there. Close-on-exec, as every file std opens: no init or app inherits it.
fn open_fifo(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .context(|| format!("failed to open {}", path.display()))
}

/// A `CLOCK_MONOTONIC` time a workload wrote to `path`.
fn read_ns(path: &Path) -> Result<u64> {
    let bytes = fs::read(path).context(|| format!("failed to read {}", path.display()))?;
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::new(format!("{} does not hold 8 bytes", path.display())))?;
    Ok(u64::from_le_bytes(bytes))
}

/// A descriptor that turns readable when `podinit` has exited (pidfd_open(2)).
fn exit_watch(podinit: Pid) -> Result<std::os::fd::OwnedFd> {
    let pid = rustix::process::Pid::from_raw(podinit.as_raw())
        .ok_or_else(|| Error::new(format!("bad pid {podinit}")))?;
    pidfd_open(pid, PidfdFlags::empty()).context(|| format!("failed to open a pidfd of {podinit}"))
}

/// unshare and the pod below it; killed when dropped still running (a failed measurement):
/// unshare's --kill-child then kills podinit, and with it every app.
struct RunningPod<'a> {
    unshare: Child,
    files: &'a RunFiles,
}

impl<'a> RunningPod<'a> {
    fn start(build: &Init, files: &'a RunFiles) -> Result<RunningPod<'a>> {
        let bench =
            env::current_exe().context(|| "failed to find the benchmark's binary".into())?;
        let log = File::create(&files.log)
            .context(|| format!("failed to create {}", files.log.display()))?;
        let log_too = log
            .try_clone()
            .context(|| "failed to duplicate the log".into())?;
        let unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(bench)
            .args(["workload", "exec-at"])
            .arg(&files.exec_time)
            .arg(&build.path)
            .arg("--pod")
            .arg(&files.manifest)
            .arg("--status-dir")
            .arg(&files.status_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_too)
            .spawn()
            .context(|| "failed to start unshare for the pod".into())?;
        Ok(RunningPod { unshare, files })
    }

    fn unshare_pid(&self) -> Pid {
        Pid::from_raw(self.unshare.id() as i32)
    }

    /// Reads the start times of `apps` apps from `ready`; returns the latest.
    fn await_starts(&mut self, ready: &File, apps: usize) -> Result<u64> {
        let deadline = Instant::now() + TIMEOUT;
        let mut bytes = Vec::with_capacity(apps * 8);
        while bytes.len() < apps * 8 {
            if Instant::now() > deadline {
                let started = bytes.len() / 8;
                let what = format!("{started} of {apps} apps started within {TIMEOUT:?}");
                return Err(self.failed(&what));
            }
            if !readable(ready, LIVENESS_TICK)? {
                self.expect_running(bytes.len() / 8, apps)?;
                continue;
            }
            read_available(ready, &mut bytes)?;
        }
        let starts = bytes
            .chunks_exact(8)
            .map(|time| u64::from_le_bytes(time.try_into().expect("chunks of 8 bytes")));
        Ok(starts.max().unwrap_or(0))
    }

    /// Fails when the pod ended before its apps had all started.
    fn expect_running(&mut self, started: usize, apps: usize) -> Result<()> {
        let status = self.unshare.try_wait();
        match status.context(|| "failed to wait for unshare".into())? {
            None => Ok(()),
            Some(status) => {
                let what = format!("the pod exited ({status}) after {started} of {apps} apps");
                Err(self.failed(&what))
            }
        }
    }

    fn await_exit(&mut self, exited: &std::os::fd::OwnedFd) -> Result<()> {
        match readable(exited, TIMEOUT)? {
            true => Ok(()),
            false => Err(self.failed(&format!("podinit did not exit within {TIMEOUT:?}"))),
        }
    }

    /// Waits for unshare, which exits with podinit's status: 0, every app having exited 0.
    fn expect_success(&mut self) -> Result<()> {
        let status = self.unshare.wait();
        let status = status.context(|| "failed to wait for unshare".into())?;
        match status.success() {
            true => Ok(()),
            false => Err(self.failed(&format!("the pod exited with {status}"))),
        }
    }

    fn failed(&self, what: &str) -> Error {
        Error::new(format!("pod mode: {what}; {}", self.files.log_tail()))
    }
}

impl Drop for RunningPod<'_> {
    fn drop(&mut self) {
        if let Ok(None) = self.unshare.try_wait() {
            let _ = self.unshare.kill();
            let _ = self.unshare.wait();
        }
    }
}

/// Whether `fd` turns readable within `timeout` (poll(2)).
fn readable(fd: &impl std::os::fd::AsFd, timeout: Duration) -> Result<bool> {
    let timeout = Timespec {
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    loop {
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(ready) => return Ok(ready > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error).context(|| "failed to poll".into()),
        }
    }
}

/// Appends what the non-blocking FIFO `ready` holds to `bytes`.
fn read_available(mut ready: &File, bytes: &mut Vec<u8>) -> Result<()> {
    let mut buffer = [0u8; 4096];
    loop {
        match ready.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(length) => bytes.extend_from_slice(&buffer[..length]),
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error).context(|| "failed to read the ready FIFO".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(json_string("tab\there"), r#""tab\u0009here""#);
    }

    #[test]
    fn manifest_names_every_app() {
        let json = manifest(&[Path::new("/bin/x")], 3).expect("UTF-8 paths");
        for name in ["app-1", "app-2", "app-3"] {
            assert!(json.contains(&format!(r#""name":"{name}""#)));
        }
        assert!(json.starts_with(r#"{"acVersion":"0.8.11","acKind":"PodManifest""#));
    }
}
