//! Stage1 start-up: podinit's `run` entrypoint started the way a pod runtime starts it, with
//! pods of 1, 10 and 100 busybox apps. The benchmark plays the runtime as the stage1 contract
//! (sections 2 and 3) describes it:
//!
//! 1. It lays out the pod directory: the `pod` manifest, the runtime's bookkeeping, the stage1
//!    image (`stage1/rootfs/run`, a link to podinit: podinit picks the entrypoint by the base
//!    name of argv[0]; an empty `rkt/status/`) and every app's image under
//!    `stage1/rootfs/opt/stage2/<app>/`, its rootfs a busybox-static root. busybox is hard
//!    linked, not copied: a hundred copies take ten times as long and leave as much more for
//!    the disk to write back while the pod runs.
//! 2. `workload stage0` opens and flocks the pod directory, clears close-on-exec on that
//!    descriptor, names it in `RKT_LOCK_FD`, changes into the pod directory and executes `run`
//!    with a runtime's argv (`--net=none`, then the pod's uuid), noting the time of the exec.
//!
//! The apps run chrooted in their own roots, so they reach the benchmark through a pod volume
//! of kind `host`: a directory mounted at `/bench` in every app that holds this (static)
//! benchmark binary and the FIFOs; each app is `/bench/podinit-bench workload app /bench/ready
//! /bench/go` (see `podrun`). A run measures
//!
//! - start: `run`'s exec until the last app has started;
//! - exit: the benchmark closing `go` until the runtime's process, which became `run`, has
//!   exited, seen on a pidfd;
//! - the peak RSS (VmHWM) of the pod's PID 1 (named in the pod's `pid` file) and of the `run`
//!   process, just before `go` is closed.
//!
//! A run only counts when `run` exited 0, wrote `pid` and a "0" status for every app, and left
//! no mount on the host below the pod directory.

use std::env;
use std::fs::{self, DirBuilder, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cli::Options;
use crate::clock::monotonic_ns;
use crate::error::{Context, Error, Result};
use crate::inits::{self, Init};
use crate::podrun::{self, Fifos, HostVolume, Names, PodProcess, Scratch};
use crate::reap::vm_hwm_kib;
use crate::stats::Summary;

/// The busybox the apps' roots hold: Debian's busybox-static.
const BUSYBOX: &str = "/bin/busybox";

/// Where every app finds the benchmark's directory.
const BENCH_MOUNT: &str = "/bench";

/// What every app runs: this benchmark, from the directory mounted at `BENCH_MOUNT`.
const APP_EXEC: [&str; 5] = [
    "/bench/podinit-bench",
    "workload",
    "app",
    "/bench/ready",
    "/bench/go",
];

/// Medians over rounds, one entry per pod size of `podrun::APP_COUNTS`.
pub struct Stage1Startup {
    pub build: Init,
    pub scratch: PathBuf,
    pub rounds: usize,
    pub net: String,
    pub laid_out_ms: Vec<Summary>,
    pub started_ms: Vec<Summary>,
    pub exited_ms: Vec<Summary>,
    pub pod_vm_hwm_kib: Vec<Summary>,
    pub run_vm_hwm_kib: Vec<Summary>,
}

/// One pod, from its layout to `run`'s exit.
struct Run {
    laid_out_ms: f64,
    started_ms: f64,
    exited_ms: f64,
    pod_vm_hwm_kib: u64,
    run_vm_hwm_kib: u64,
}

/// Every pod size in every round, after one untimed pod of one app.
pub fn measure(build: Init, options: &Options) -> Result<Stage1Startup> {
    let bench = env::current_exe().context(|| "failed to find the benchmark's binary".into())?;
    if !inits::is_static(&bench)? {
        let what = format!("{} is dynamically linked", bench.display());
        return Err(Error::new(format!(
            "{what}: apps in their own root need a static one"
        )));
    }
    let podinit = fs::canonicalize(&build.path)
        .context(|| format!("failed to resolve {}", build.path.display()))?;
    let scratch = Scratch::create("stage1")?;
    let one = |dir: &Path, apps| run(&podinit, &bench, &options.net, dir, apps);
    let runs = podrun::rounds("stage1 start-up", &scratch, options, one, print_run)?;
    Ok(Stage1Startup {
        laid_out_ms: podrun::medians(&runs, |run| run.laid_out_ms),
        started_ms: podrun::medians(&runs, |run| run.started_ms),
        exited_ms: podrun::medians(&runs, |run| run.exited_ms),
        pod_vm_hwm_kib: podrun::medians(&runs, |run| run.pod_vm_hwm_kib as f64),
        run_vm_hwm_kib: podrun::medians(&runs, |run| run.run_vm_hwm_kib as f64),
        build,
        scratch: scratch.path.clone(),
        rounds: options.rounds,
        net: options.net.clone(),
    })
}

fn print_run(apps: usize, run: &Run) {
    eprintln!(
        "podinit-bench:   {apps} apps: laid out in {:.2} ms, all started {:.2} ms after run's \
         exec, run exited {:.2} ms after go, VmHWM {} KiB (pod's PID 1), {} KiB (run)",
        run.laid_out_ms, run.started_ms, run.exited_ms, run.pod_vm_hwm_kib, run.run_vm_hwm_kib
    );
}

/// One pod of `apps` apps, in the fresh directory `dir`.
fn run(podinit: &Path, bench: &Path, net: &str, dir: &Path, apps: usize) -> Result<Run> {
    // 1. The runtime's work before the exec, timed for the table but not part of `run`'s.
    let laid_out = Instant::now();
    let files = PodFiles::lay_out(dir, podinit, bench, apps)?;
    let fifos = Fifos::create(&files.bench)?;
    let laid_out_ms = laid_out.elapsed().as_secs_f64() * 1e3;
    // What the layout left for the disk is written back now, not while `run` syncs records.
    rustix::fs::syncfs(&fifos.ready).context(|| "failed to sync the pod's file system".into())?;

    // 2. `run`, and every app started.
    let mut pod = RunningStage1::start(&files, bench, net)?;
    let last_start_ns = podrun::await_starts(&mut pod.process, &fifos.ready, apps)?;
    let exec_ns = podrun::read_ns(&files.exec_time)?;
    let pod_pid = pod.pod_pid()?;
    let pod_vm_hwm_kib = vm_hwm_kib(pod_pid)?;
    let run_vm_hwm_kib = vm_hwm_kib(pod.runtime_pid())?;
    let exited = podrun::exit_watch(pod.runtime_pid())?;

    // 3. The apps may exit: `run` must follow once all have. Closing the benchmark's end of
    // `go`, the last writer's, lets every app read its end.
    let go_ns = monotonic_ns();
    drop(fifos.go);
    podrun::await_exit(&pod.process, &exited, "run")?;
    let exit_ns = monotonic_ns();

    // 4. What the runtime would find afterwards.
    pod.process.expect_success()?;
    podrun::expect_records(&files.status_dir, apps)?;
    expect_no_mounts(&files.pod)?;
    Ok(Run {
        laid_out_ms,
        started_ms: last_start_ns.saturating_sub(exec_ns) as f64 / 1e6,
        exited_ms: exit_ns.saturating_sub(go_ns) as f64 / 1e6,
        pod_vm_hwm_kib,
        run_vm_hwm_kib,
    })
}

/// The stage1 keeps its mounts in the pod's own mount namespace (contract section 4).
fn expect_no_mounts(pod: &Path) -> Result<()> {
    match podrun::mounts_under(pod)?.first() {
        None => Ok(()),
        Some(mount) => Err(Error::new(format!("run left a mount on the host: {mount}"))),
    }
}

/// One pod's files: the pod directory, and beside it the benchmark's own.
struct PodFiles {
    /// The pod directory, the runtime's `pods/run/<uuid>`.
    pod: PathBuf,
    uuid: String,
    run: PathBuf,
    status_dir: PathBuf,
    /// The host volume's source: this benchmark and the FIFOs.
    bench: PathBuf,
    exec_time: PathBuf,
    log: PathBuf,
}

impl PodFiles {
    /// Lays out the pod directory of `apps` apps in `dir` as a runtime does (contract section
    /// 3): directories 0750, files 0640.
    fn lay_out(dir: &Path, podinit: &Path, bench: &Path, apps: usize) -> Result<PodFiles> {
        let pod = dir.join("pod");
        let stage1 = pod.join("stage1");
        let files = PodFiles {
            uuid: uuid(),
            run: stage1.join("rootfs/run"),
            status_dir: stage1.join("rootfs/rkt/status"),
            bench: dir.join("bench"),
            exec_time: dir.join("exec-time"),
            log: dir.join("run.log"),
            pod,
        };
        make_dir(&files.bench)?;
        link_or_copy(bench, &files.bench.join("podinit-bench"))?;

        make_dir(&files.status_dir)?;
        write_file(&stage1.join("manifest"), STAGE1_MANIFEST)?;
        symlink(podinit, &files.run)
            .context(|| format!("failed to link {}", files.run.display()))?;
        write_file(&files.pod.join("pod-created"), "")?;
        for app in 1..=apps {
            lay_out_app(&files.pod, &podrun::app_name(app))?;
        }
        let exec = APP_EXEC.map(Path::new);
        let volume = HostVolume {
            name: "bench",
            source: &files.bench,
            path: BENCH_MOUNT,
        };
        let manifest = podrun::runtime_manifest(&exec, apps, &volume)?;
        write_file(&files.pod.join("pod"), &manifest)?;
        Ok(files)
    }
}

/// The stage1 image's manifest, naming the entrypoint as an ACI does (contract section 1).
const STAGE1_MANIFEST: &str = concat!(
    r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/podinit-stage1","#,
    r#""labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],"#,
    r#""annotations":[{"name":"coreos.com/rkt/stage1/run","value":"/run"},"#,
    r#"{"name":"coreos.com/rkt/stage1/interface-version","value":"5"}]}"#
);

/// An app image's manifest; the pod manifest has each app's `app`, so this is not read.
const APP_IMAGE_MANIFEST: &str = concat!(
    r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/bench-app","#,
    r#""labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]}"#
);

/// App `name`'s image: its manifest (twice, as a runtime keeps it) and a busybox root with
/// the mount point of the benchmark's volume.
fn lay_out_app(pod: &Path, name: &str) -> Result<()> {
    let info = pod.join("appsinfo").join(name);
    make_dir(&info)?;
    write_file(&info.join("manifest"), APP_IMAGE_MANIFEST)?;
    let image = pod.join("stage1/rootfs/opt/stage2").join(name);
    make_dir(&image)?;
    write_file(&image.join("manifest"), APP_IMAGE_MANIFEST)?;

    let root = image.join("rootfs");
    for dir in ["bin", "etc", "dev", "proc", "sys", "tmp", &BENCH_MOUNT[1..]] {
        make_dir(&root.join(dir))?;
    }
    link_or_copy(Path::new(BUSYBOX), &root.join("bin/busybox"))?;
    let sh = root.join("bin/sh");
    symlink("busybox", &sh).context(|| format!("failed to link {}", sh.display()))?;
    write_file(&root.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")?;
    write_file(&root.join("etc/group"), "root:x:0:\n")
}

/// A hard link to `from` at `to`, or a copy where no link can be made (another file system).
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::CrossesDevices => fs::copy(from, to)
            .map(drop)
            .context(|| format!("failed to copy {} to {}", from.display(), to.display())),
        Err(error) => {
            let what = format!("failed to link {} to {}", from.display(), to.display());
            Err(error).context(|| what)
        }
    }
}

fn make_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .context(|| format!("failed to create {}", dir.display()))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .context(|| format!("failed to write {}", path.display()))
}

/// A random version 4 UUID (RFC 9562), as a runtime names a pod: std's hasher keys are random.
fn uuid() -> String {
    let random = |salt: u64| RandomState::new().hash_one(salt);
    let (high, low) = (random(1), random(2));
    let high = (high & !0xf000) | 0x4000;
    let low = (low & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// The runtime's process, which became `run`, and the pod it made. A pod still running when
/// dropped (a failed measurement) is killed: its PID 1 first, which takes every app with it,
/// then `run`.
struct RunningStage1<'a> {
    process: PodProcess,
    files: &'a PodFiles,
}

impl<'a> RunningStage1<'a> {
    fn start(files: &'a PodFiles, bench: &Path, net: &str) -> Result<RunningStage1<'a>> {
        let mut stage0 = Command::new(bench);
        stage0
            .args(["workload", "stage0"])
            .arg(&files.exec_time)
            .arg(&files.pod)
            .arg(&files.run)
            .arg(format!("--net={net}"))
            .arg(&files.uuid);
        let names = Names {
            process: "run",
            printer: "run",
            prefix: "",
        };
        let process = PodProcess::spawn(stage0, &files.log, names)?;
        Ok(RunningStage1 { process, files })
    }

    fn runtime_pid(&self) -> Pid {
        self.process.pid()
    }

    /// The pod's PID 1 as the `pid` file names it (contract section 4, step 2).
    fn pod_pid(&self) -> Result<Pid> {
        let path = self.files.pod.join("pid");
        let text = fs::read_to_string(&path);
        let failed = |what: String| self.process.failed(&what);
        let text = text.map_err(|error| failed(format!("no {}: {error}", path.display())))?;
        let pid = text.strip_suffix('\n').and_then(|pid| pid.parse().ok());
        let pid = pid.filter(|&pid| pid > 1).map(Pid::from_raw);
        pid.ok_or_else(|| failed(format!("{} holds {text:?}, not a pid", path.display())))
    }

    /// Whether `pid` runs below the runtime's process: a `pid` file naming anything else must
    /// not have it killed.
    fn is_ours(&self, pid: Pid) -> bool {
        let mut current = pid;
        for _ in 0..8 {
            match parent_of(current) {
                Some(parent) if parent == self.runtime_pid() => return true,
                Some(parent) if parent.as_raw() > 1 => current = parent,
                _ => return false,
            }
        }
        false
    }
}

/// The parent of `pid`, from /proc/PID/status (proc_pid_status(5)).
fn parent_of(pid: Pid) -> Option<Pid> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let ppid = status.lines().find_map(|line| line.strip_prefix("PPid:"))?;
    ppid.trim().parse().ok().map(Pid::from_raw)
}

impl Drop for RunningStage1<'_> {
    /// Runs before the process's own drop, which kills `run`.
    fn drop(&mut self) {
        if self.process.running()
            && let Some(pid) = self.pod_pid().ok().filter(|&pid| self.is_ours(pid))
        {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_random_version_4() {
        let (one, other) = (uuid(), uuid());
        assert_ne!(one, other);
        let groups: Vec<usize> = one.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{one}");
        assert_eq!(&one[14..15], "4", "{one}");
        assert!(matches!(&one[19..20], "8" | "9" | "a" | "b"), "{one}");
    }

    #[test]
    fn the_pod_directory_has_what_a_runtime_lays_out() {
        let dir = env::temp_dir().join(format!("podinit-bench-layout-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).expect("a scratch directory");
        let bench = env::current_exe().expect("own path");
        let files = PodFiles::lay_out(&dir, Path::new("/sbin/podinit"), &bench, 2);
        let files = files.expect("layout");
        for path in [
            "pod",
            "pod-created",
            "appsinfo/app-2/manifest",
            "stage1/manifest",
            "stage1/rootfs/rkt/status",
            "stage1/rootfs/opt/stage2/app-1/manifest",
            "stage1/rootfs/opt/stage2/app-2/rootfs/bin/busybox",
            "stage1/rootfs/opt/stage2/app-2/rootfs/bench",
        ] {
            let path = files.pod.join(path);
            assert!(path.exists(), "{} is missing", path.display());
        }
        let run = fs::read_link(&files.run).expect("run is a link");
        assert_eq!(run, Path::new("/sbin/podinit"));
        assert!(files.bench.join("podinit-bench").is_file());
        let manifest = fs::read_to_string(files.pod.join("pod")).expect("the pod manifest");
        assert!(manifest.contains(r#""exec":["/bench/podinit-bench","workload","app","#));
        fs::remove_dir_all(&dir).expect("remove the scratch directory");
    }
}
