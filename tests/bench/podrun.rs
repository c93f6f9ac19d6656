//! What the pod section (`podstart`) and the stage1 section (`stage1`) share: pods of 1, 10
//! and 100 apps started round after round, apps that report their start through a FIFO and
//! wait on another, a pidfd that says when the pod's process has exited, the pod manifest
//! and the apps' exit records.
//!
//! Every app is this benchmark's `workload app READY GO`: it writes the `CLOCK_MONOTONIC` time
//! it started at to the FIFO `ready`, then waits until the benchmark closes the FIFO `go` and
//! exits 0. The process that starts the pod notes the time it is executed at in a file
//! (`workload exec-at` or `workload stage0`), on the same clock.

use std::env;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{PidfdFlags, pidfd_open};

use crate::cli::Options;
use crate::error::{Context, Error, Result};
use crate::stats::{Summary, rotated, summary_of};

/// The pod sizes measured, in the tables' order.
pub const APP_COUNTS: [usize; 3] = [1, 10, 100];

/// How long a pod may take to start all its apps, and to exit once they may.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How often a wait for the apps' starts looks whether the pod is still there.
const LIVENESS_TICK: Duration = Duration::from_millis(100);

/// One untimed pod of one app, then every pod size in every round, the sizes in another order
/// each round. `one(dir, apps)` runs a pod of `apps` apps in the fresh directory `dir`;
/// returns every round's runs, one list per pod size of `APP_COUNTS`.
pub fn rounds<T>(
    section: &str,
    scratch: &Scratch,
    options: &Options,
    mut one: impl FnMut(&Path, usize) -> Result<T>,
    print: impl Fn(usize, &T),
) -> Result<Vec<Vec<T>>> {
    one(&scratch.dir("warm-up")?, 1)?;
    let mut runs: Vec<Vec<T>> = APP_COUNTS.iter().map(|_| Vec::new()).collect();
    for round in 0..options.rounds {
        let count = options.rounds;
        eprintln!("podinit-bench: {section}, round {} of {count}", round + 1);
        for index in rotated(APP_COUNTS.len(), round) {
            let apps = APP_COUNTS[index];
            let run = one(&scratch.dir(&format!("{apps}-apps-round-{round}"))?, apps)?;
            if options.verbose {
                print(apps, &run);
            }
            runs[index].push(run);
        }
    }
    Ok(runs)
}

/// The summary of one figure over the rounds, for every pod size.
pub fn medians<T>(runs: &[Vec<T>], figure: impl Fn(&T) -> f64) -> Vec<Summary> {
    runs.iter().map(|runs| summary_of(runs, &figure)).collect()
}

/// A directory of this benchmark's own for the pods' files, removed at the end unless a mount
/// is left under it: removing files through a mount could reach beyond the directory.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn create(tag: &str) -> Result<Scratch> {
        let name = format!("podinit-bench-{tag}-{}", std::process::id());
        let path = env::temp_dir().join(name);
        // A directory of that name is a leftover of an earlier benchmark with the same pid.
        if mounts_under(&path)?.is_empty() {
            let _ = fs::remove_dir_all(&path);
        }
        fs::create_dir(&path).context(|| format!("failed to create {}", path.display()))?;
        Ok(Scratch { path })
    }

    /// A new directory for one pod.
    pub fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path.join(name);
        fs::create_dir(&dir).context(|| format!("failed to create {}", dir.display()))?;
        Ok(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match mounts_under(&self.path) {
            Ok(mounts) if mounts.is_empty() => {
                let _ = fs::remove_dir_all(&self.path);
            }
            Ok(mounts) => eprintln!(
                "podinit-bench: left {} in place: {} mount(s) under it, first {}",
                self.path.display(),
                mounts.len(),
                mounts[0]
            ),
            Err(error) => eprintln!(
                "podinit-bench: left {} in place: {error}",
                self.path.display()
            ),
        }
    }
}

/// The mount points of this mount namespace at or below `dir` (proc_pid_mountinfo(5): the
/// fifth field, with space, tab, newline and backslash octal-escaped).
pub fn mounts_under(dir: &Path) -> Result<Vec<String>> {
    let path = "/proc/self/mountinfo";
    let info = fs::read_to_string(path).context(|| format!("failed to read {path}"))?;
    let dir = dir.to_string_lossy();
    let below = format!("{}/", dir.trim_end_matches('/'));
    let points = info.lines().filter_map(|line| line.split(' ').nth(4));
    Ok(points
        .filter(|point| *point == dir || point.starts_with(&below))
        .map(str::to_string)
        .collect())
}

/// The two FIFOs of one pod, held open by the benchmark for reading and writing.
pub struct Fifos {
    pub ready: File,
    pub go: File,
}

impl Fifos {
    /// Makes `ready` and `go` in `dir`, readable and writable by their owner, and opens them.
    pub fn create(dir: &Path) -> Result<Fifos> {
        let (ready, go) = (dir.join("ready"), dir.join("go"));
        for fifo in [&ready, &go] {
            mkfifo(fifo, Mode::from_bits_truncate(0o600))
                .context(|| format!("failed to create the FIFO {}", fifo.display()))?;
        }
        Ok(Fifos {
            ready: open_fifo(&ready)?,
            go: open_fifo(&go)?,
        })
    }
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
pub fn read_ns(path: &Path) -> Result<u64> {
    let bytes = fs::read(path).context(|| format!("failed to read {}", path.display()))?;
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::new(format!("{} does not hold 8 bytes", path.display())))?;
    Ok(u64::from_le_bytes(bytes))
}

/// A descriptor that turns readable when `process` has exited (pidfd_open(2)).
pub fn exit_watch(process: Pid) -> Result<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(process.as_raw())
        .ok_or_else(|| Error::new(format!("bad pid {process}")))?;
    pidfd_open(pid, PidfdFlags::empty()).context(|| format!("failed to open a pidfd of {process}"))
}

/// How a section names the process that starts its pods, in its messages.
pub struct Names {
    /// The process: `unshare`, `run`.
    pub process: &'static str,
    /// Whose output the log holds: `podinit`, `run`.
    pub printer: &'static str,
    /// What every message of the section starts with, or "".
    pub prefix: &'static str,
}

/// The process a pod was started with, its output in `log`; killed when dropped still
/// running (a failed measurement).
pub struct PodProcess {
    child: Child,
    log: PathBuf,
    names: Names,
}

impl PodProcess {
    /// Starts `command`, its stdin empty, its stdout and stderr the new file `log`.
    pub fn spawn(mut command: Command, log: &Path, names: Names) -> Result<PodProcess> {
        let out = File::create(log).context(|| format!("failed to create {}", log.display()))?;
        let err = out
            .try_clone()
            .context(|| "failed to duplicate the log".into())?;
        let child = command.stdin(Stdio::null()).stdout(out).stderr(err).spawn();
        let what = || format!("{}failed to start {}", names.prefix, names.process);
        Ok(PodProcess {
            child: child.context(what)?,
            log: log.to_path_buf(),
            names,
        })
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Fails when the pod ended before its apps had all started.
    fn expect_running(&mut self, started: usize, apps: usize) -> Result<()> {
        let status = self.child.try_wait();
        let process = self.names.process;
        match status.context(|| format!("failed to wait for {process}"))? {
            None => Ok(()),
            Some(status) => {
                let what = format!("{process} exited ({status}) after {started} of {apps} apps");
                Err(self.failed(&what))
            }
        }
    }

    /// Waits for the process, which exits with the pod's status: 0, every app having exited 0.
    pub fn expect_success(&mut self) -> Result<()> {
        let process = self.names.process;
        let status = self.child.wait();
        let status = status.context(|| format!("failed to wait for {process}"))?;
        match status.success() {
            true => Ok(()),
            false => Err(self.failed(&format!("{process} exited with {status}"))),
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// An error saying `what` went wrong, with the last lines of the log.
    pub fn failed(&self, what: &str) -> Error {
        let tail = log_tail(&self.log, self.names.printer);
        Error::new(format!("{}{what}; {tail}", self.names.prefix))
    }
}

impl Drop for PodProcess {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads the start times of `apps` apps from `ready`; returns the latest.
pub fn await_starts(pod: &mut PodProcess, ready: &File, apps: usize) -> Result<u64> {
    let deadline = Instant::now() + TIMEOUT;
    let mut bytes = Vec::with_capacity(apps * 8);
    while bytes.len() < apps * 8 {
        if Instant::now() > deadline {
            let started = bytes.len() / 8;
            let what = format!("{started} of {apps} apps started within {TIMEOUT:?}");
            return Err(pod.failed(&what));
        }
        if !readable(ready, LIVENESS_TICK)? {
            pod.expect_running(bytes.len() / 8, apps)?;
            continue;
        }
        read_available(ready, &mut bytes)?;
    }
    let starts = bytes
        .chunks_exact(8)
        .map(|time| u64::from_le_bytes(time.try_into().expect("chunks of 8 bytes")));
    Ok(starts.max().unwrap_or(0))
}

/// Waits until the pidfd `exited` of `who`, a process of the pod, turns readable.
pub fn await_exit(pod: &PodProcess, exited: &OwnedFd, who: &str) -> Result<()> {
    match readable(exited, TIMEOUT)? {
        true => Ok(()),
        false => Err(pod.failed(&format!("{who} did not exit within {TIMEOUT:?}"))),
    }
}

/// Whether `fd` turns readable within `timeout` (poll(2)).
fn readable(fd: &impl AsFd, timeout: Duration) -> Result<bool> {
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

/// Checks that every app's record in `status_dir` says it exited 0: that the pod ran what was
/// timed.
pub fn expect_records(status_dir: &Path, apps: usize) -> Result<()> {
    for app in 1..=apps {
        let path = status_dir.join(app_name(app));
        let record =
            fs::read_to_string(&path).context(|| format!("failed to read {}", path.display()))?;
        if record != "0\n" {
            let what = format!("{} holds {record:?}, not \"0\\n\"", path.display());
            return Err(Error::new(what));
        }
    }
    Ok(())
}

/// The last lines `who` printed to `log`, for an error message.
fn log_tail(log: &Path, who: &str) -> String {
    let log = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join("\n  ");
    match tail.is_empty() {
        true => format!("{who} printed nothing"),
        false => format!("{who}'s last lines:\n  {tail}"),
    }
}

pub fn app_name(app: usize) -> String {
    format!("app-{app}")
}

/// A host directory every app mounts: pod volume `name` (kind `host`) at `path` in each app.
pub struct HostVolume<'a> {
    pub name: &'a str,
    pub source: &'a Path,
    pub path: &'a str,
}

/// A pod manifest of `apps` apps that each run `exec`, for pod mode: nothing but the apps.
pub fn manifest(exec: &[&Path], apps: usize) -> Result<String> {
    let apps = app_list(exec, apps, "", "")?;
    Ok(format!(
        r#"{{"acVersion":"0.8.11","acKind":"PodManifest","apps":[{apps}]}}"#
    ))
}

/// A pod manifest of `apps` apps that each run `exec` as root and mount `volume`, in the shape
/// a runtime writes (one line, its own version as `acVersion`, nulls; contract section 7).
pub fn runtime_manifest(exec: &[&Path], apps: usize, volume: &HostVolume) -> Result<String> {
    let (name, path) = (volume.name, json_string(volume.path));
    let source = path_json(volume.source)?;
    let in_app =
        format!(r#","user":"0","group":"0","mountPoints":[{{"name":"{name}","path":{path}}}]"#);
    let beside_app = format!(r#","mounts":[{{"volume":"{name}","path":{path}}}]"#);
    let apps = app_list(exec, apps, &in_app, &beside_app)?;
    let volumes = format!(r#"[{{"name":"{name}","kind":"host","source":{source}}}]"#);
    let kind = r#""acVersion":"1.30.0","acKind":"PodManifest""#;
    let nulls = r#""isolators":null,"annotations":null"#;
    Ok(format!(
        r#"{{{kind},"apps":[{apps}],"volumes":{volumes},{nulls}}}"#
    ))
}

/// The `apps` entries of a pod manifest, comma-separated: each runs `exec`, with the JSON
/// members `in_app` added to its `app` object and `beside_app` to the entry itself.
fn app_list(exec: &[&Path], apps: usize, in_app: &str, beside_app: &str) -> Result<String> {
    let exec: Vec<String> = exec
        .iter()
        .map(|arg| path_json(arg))
        .collect::<Result<_>>()?;
    let exec = exec.join(",");
    let image = r#"{"name":"example.com/bench-app"}"#;
    let apps: Vec<String> = (1..=apps)
        .map(|app| {
            let name = app_name(app);
            let app = format!(r#"{{"exec":[{exec}]{in_app}}}"#);
            format!(r#"{{"name":"{name}","image":{image},"app":{app}{beside_app}}}"#)
        })
        .collect();
    Ok(apps.join(","))
}

fn path_json(path: &Path) -> Result<String> {
    let text = path.to_str();
    text.map(json_string)
        .ok_or_else(|| Error::new(format!("not UTF-8: {}", path.display())))
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
        assert!(!json.contains("mounts") && !json.contains("user"));
    }

    #[test]
    fn manifest_mounts_the_host_volume_in_every_app() {
        let volume = HostVolume {
            name: "bench",
            source: Path::new("/tmp/a \"b\""),
            path: "/bench",
        };
        let json = runtime_manifest(&[Path::new("/bench/x")], 2, &volume).expect("UTF-8");
        let volumes = r#""volumes":[{"name":"bench","kind":"host","source":"/tmp/a \"b\""}]"#;
        assert!(json.contains(volumes), "{json}");
        let mount_point = r#""mountPoints":[{"name":"bench","path":"/bench"}]"#;
        let mount = r#""mounts":[{"volume":"bench","path":"/bench"}]"#;
        assert_eq!(json.matches(mount_point).count(), 2, "{json}");
        assert_eq!(json.matches(mount).count(), 2, "{json}");
    }

    #[test]
    fn mounts_under_matches_whole_components() {
        assert!(
            mounts_under(Path::new("/proc"))
                .expect("mountinfo")
                .contains(&"/proc".into())
        );
        assert!(
            mounts_under(Path::new("/pro"))
                .expect("mountinfo")
                .is_empty()
        );
    }
}
