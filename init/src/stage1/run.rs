//! `run`: the runtime has exec'd podinit in the pod directory; podinit
//! makes the pod and lives as long as it does (stage1 contract, sections
//! 2 to 4).
//!
//! Two processes: this one, the runtime's (it keeps the lock, stays
//! outside the pod's PID namespace, relays signals and exits with the
//! pod's status), and its one child, the pod's PID 1, which mounts each
//! app's root and runs the pod-mode supervisor over the apps.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};

use podinit_supervisor::manifest::PodManifest;
use podinit_supervisor::namespaces::{self, Private};
use podinit_supervisor::network;
use podinit_supervisor::pod::{ExitPolicy, Pod, PodOptions, Roots};
use podinit_supervisor::rootfs::{self, AppRoot};
use podinit_supervisor::signals::{self, Signal, Signals, Target};
use podinit_supervisor::spawn::{self, Forked};
use podinit_supervisor::volumes;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};

use super::flags::{self, Kind, Parsed, Spec};
use super::layout::PodDir;
use super::{Stage1Error, relay};
use crate::cli::{Options, UsageError};
use crate::entrypoint::stop_leftovers;
use crate::{Error, logger};

/// The flags `run` receives (contract, section 2). Those podinit does not
/// act on are accepted quietly or with a warning, by what ignoring them
/// means.
const SPEC: &Spec = &[
    ("net", Kind::Value),
    ("debug", Kind::Bool),
    ("interactive", Kind::Bool),
    ("hostname", Kind::Value),
    ("ipc", Kind::Value),
    ("private-users", Kind::Value),
    ("mds-token", Kind::Value),
    ("local-config", Kind::Value),
    ("dns-conf-mode", Kind::Value),
    ("disable-capabilities-restriction", Kind::Bool),
    ("disable-paths", Kind::Bool),
    ("disable-seccomp", Kind::Bool),
    ("mutable", Kind::Bool),
];

/// What `run` was asked for.
struct RunFlags {
    uuid: String,
    private: Private,
    hostname: String,
    interactive: bool,
}

/// Runs the pod; returns its exit code.
pub fn run(args: impl Iterator<Item = OsString>, signals: &Signals) -> Result<u8, Error> {
    // 1. The command line; the UUID is last.
    let parsed = flags::parse(args, SPEC)?;
    if parsed.is_set("debug") {
        logger::raise(2);
    }
    let flags = run_flags(&parsed)?;

    // 2. The lock: kept here for the pod's whole life, never in an app.
    let lock = take_lock()?;

    // 3. Everything is read and checked before anything is made, so that
    //    a refused pod leaves no namespace, mount or process behind.
    let pod_dir = PodDir::current()?;
    let manifest = pod_dir.read_manifest()?;
    check(&pod_dir, &manifest, &flags)?;

    // 4. The pod's namespaces, its name, its loopback.
    namespaces::create(flags.private).map_err(Stage1Error::Namespace)?;
    namespaces::set_hostname(&flags.hostname).map_err(Stage1Error::Namespace)?;
    if flags.private.network {
        network::loopback_up().map_err(|error| Error::system("cannot bring up loopback", error))?;
    }

    // 5. The pod's PID 1. It writes a byte to `mounted` once every app's
    //    root is mounted, or dies trying.
    let (wait_mounted, mounted) = pipe_with(PipeFlags::CLOEXEC)
        .map_err(|error| Error::system("cannot make a pipe", error.into()))?;
    let child = match spawn::fork() {
        Ok(Forked::Child) => return pod_init(&pod_dir, &manifest, &flags, signals, mounted),
        Ok(Forked::Parent(child)) => child,
        Err(error) => return Err(Error::system("cannot fork the pod", error)),
    };
    drop(mounted);
    if !await_mounted(&wait_mounted) {
        // It has said why; a `pid` naming it would soon name nobody, or
        // another process.
        return relay::until_exit(child, signals);
    }

    // 6. `pid` names it now that its namespaces exist and its apps' roots
    //    are mounted, so that `enter` finds them as the apps do; from here
    //    on this process holds only the lock and the signals.
    if let Err(error) = pod_dir.write_pid(child) {
        // A pod the runtime cannot find must not run on unseen.
        let _ = signals::send(Target::Process(child), Signal::KILL);
        return Err(error.into());
    }
    let mut keep = vec![signals.raw_fd()];
    keep.extend(lock);
    crate::close_inherited_fds(&keep);

    // 7. Wait for the pod; its status is ours.
    relay::until_exit(child, signals)
}

fn run_flags(parsed: &Parsed) -> Result<RunFlags, UsageError> {
    let uuid = parsed.uuid()?;
    let network = private_network(parsed.value("net").unwrap_or("default"));
    let ipc = match parsed.value("ipc").unwrap_or("auto") {
        "auto" | "private" => true,
        "parent" => false,
        other => {
            let why = "must be auto, private or parent";
            return Err(UsageError(format!("--ipc {other:?}: {why}")));
        }
    };
    if parsed.value("private-users").is_some() {
        log::warn!("--private-users: podinit makes no user namespace; apps run as host ids");
    }
    let hostname = match parsed.value("hostname") {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => format!("rkt-{uuid}"),
    };
    // sethostname(2) takes at most 64 bytes (HOST_NAME_MAX).
    if hostname.len() > 64 {
        let why = format!("--hostname {hostname:?}: longer than 64 bytes");
        return Err(UsageError(why));
    }
    Ok(RunFlags {
        uuid: uuid.to_owned(),
        private: Private { network, ipc },
        hostname,
        interactive: parsed.is_set("interactive"),
    })
}

/// Whether `--net=<list>` asks for a network namespace of the pod's own:
/// anything but `host`. Only loopback is set up in it.
fn private_network(list: &str) -> bool {
    let names: Vec<&str> = list
        .split(',')
        .map(|entry| entry.split(':').next().unwrap_or_default())
        .filter(|name| !name.is_empty())
        .collect();
    if names.contains(&"host") {
        if names.len() > 1 {
            log::warn!("--net={list}: host wins; the pod keeps the caller's network");
        }
        return false;
    }
    for name in names.iter().filter(|name| **name != "none") {
        // `default` is what a runtime passes when its user asked for
        // nothing: worth a note, not a warning on every pod.
        let level = if *name == "default" {
            log::Level::Info
        } else {
            log::Level::Warn
        };
        log::log!(
            level,
            "--net: network {name:?} is not set up; the pod has loopback only"
        );
    }
    true
}

/// Takes over the runtime's lock descriptor (`RKT_LOCK_FD`): close-on-exec
/// at once, so that no app inherits it and keeps the pod "running" after
/// podinit has gone. Its number, to keep it open.
fn take_lock() -> Result<Option<i32>, Error> {
    let Ok(text) = std::env::var("RKT_LOCK_FD") else {
        log::debug!("RKT_LOCK_FD is not set: no lock to keep");
        return Ok(None);
    };
    // 0 to 2 are the pod's stdio, never a lock: taking one would close
    // the apps' stdout or stderr on exec.
    let fd: i32 = match text.trim().parse() {
        Ok(fd @ 3..) => fd,
        _ => {
            let why = format!("RKT_LOCK_FD={text:?}: not a descriptor number above 2");
            return Err(Error::Usage(UsageError(why)));
        }
    };
    // The lock is the pod directory, opened (contract, section 2): a number
    // the caller never opened may name one of podinit's own descriptors.
    if !names_current_dir(fd) {
        let why = format!("RKT_LOCK_FD={fd}: not open on the pod directory");
        return Err(Error::Usage(UsageError(why)));
    }
    spawn::keep_from_exec(fd)
        .map_err(|error| Error::system(format!("cannot keep lock descriptor {fd}"), error))?;
    Ok(Some(fd))
}

/// Whether descriptor `fd` is open on the current directory.
fn names_current_dir(fd: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let opened = std::fs::metadata(format!("/proc/self/fd/{fd}"));
    let current = std::fs::metadata(".");
    match (opened, current) {
        (Ok(opened), Ok(current)) => (opened.dev(), opened.ino()) == (current.dev(), current.ino()),
        _ => false,
    }
}

/// What can be checked before the pod exists: each app's root, the
/// volumes' host sources, one app for `--interactive`.
fn check(pod_dir: &PodDir, manifest: &PodManifest, flags: &RunFlags) -> Result<(), Error> {
    if flags.interactive && manifest.apps().len() != 1 {
        let why = format!(
            "--interactive needs a pod of one app, not {}",
            manifest.apps().len()
        );
        return Err(Error::Usage(UsageError(why)));
    }
    for app in manifest.apps() {
        rootfs::check(app.name(), &pod_dir.app_root(app.name()))
            .map_err(Stage1Error::MissingRootfs)?;
    }
    volumes::check_sources(manifest).map_err(Stage1Error::Volume)?;
    Ok(())
}

/// The pod's PID 1: mounts every app's root, then supervises the apps as
/// pod mode does, each chrooted into its own root.
fn pod_init(
    pod_dir: &PodDir,
    manifest: &PodManifest,
    flags: &RunFlags,
    signals: &Signals,
    mounted: OwnedFd,
) -> Result<u8, Error> {
    // The pod dies with the process that holds its lock. Should that one
    // have died before the death signal was set, the pipe tells: its pid
    // is 0 from inside the new PID namespace, so getppid() cannot.
    if let Err(error) = signals::set_parent_death_signal(Signal::KILL) {
        log::warn!("cannot tie the pod to its parent: {error}");
    }
    if reader_gone(&mounted) {
        return Err(Error::system(
            "the runtime's process died",
            Errno::PIPE.into(),
        ));
    }
    // No descriptor inherited, the lock included, reaches an app.
    crate::close_inherited_fds(&[signals.raw_fd(), mounted.as_raw_fd()]);

    let console = console(flags.interactive);
    rootfs::mount_pod_shm(&pod_dir.shm())
        .map_err(|error| Error::system("cannot mount the pod's /dev/shm", error))?;
    for app in manifest.apps() {
        let volumes =
            volumes::mounts_of(manifest, app, &pod_dir.volumes()).map_err(Stage1Error::Volume)?;
        let root = AppRoot {
            app: app.name().to_owned(),
            path: pod_dir.app_root(app.name()),
            read_only: app.read_only_rootfs(),
            console: console.clone(),
            shm: pod_dir.shm(),
            volumes,
        };
        root.mount().map_err(Stage1Error::Rootfs)?;
    }
    let _ = rustix::io::write(&mounted, b"m");
    drop(mounted);

    let options = Options::default();
    let pod_options = PodOptions {
        roots: Roots::PerApp(pod_dir.stage2()),
        status_dir: pod_dir.status_dir(),
        grace: options.grace,
        policy: ExitPolicy::AllExit,
        interactive: flags.interactive,
        cgroup_tag: Some(flags.uuid.clone()),
    };
    let pod = Pod::prepare(manifest, &pod_options, signals).map_err(Error::Pod)?;
    if let Some(dir) = pod.cgroup_dir() {
        // Without the note a pod killed outright leaves its cgroups to the
        // runtime's own clean-up; the apps need not wait for that.
        // XXX: the cgroup exists a moment before its note: a pod killed
        // right then leaves an empty `podinit-<uuid>-...` that gc cannot
        // find. Naming it before making it would close that window.
        let note = format!("{}\n", dir.display());
        if let Err(error) = pod_dir.write_file(&pod_dir.cgroup_note(), &note) {
            log::warn!("{error}");
        }
    }

    // From here on the pod's PID 1 must not die before the apps do: the
    // loop records and carries on.
    let code = pod.run().map_err(Error::Pod)?;
    stop_leftovers(&options, signals)?;
    Ok(code)
}

/// Waits until the pod's PID 1 has mounted the apps' roots (a byte on
/// `pipe`) or has died trying (end of file).
fn await_mounted(pipe: &OwnedFd) -> bool {
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(pipe, &mut byte) {
            Err(Errno::INTR) => continue,
            Ok(read) => return read == 1,
            Err(_) => return false,
        }
    }
}

/// Whether the read end of the pipe whose write end is `pipe` is closed
/// everywhere (POLLERR on a write end: poll(2)).
fn reader_gone(pipe: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pipe, PollFlags::OUT)];
    let now = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&now)), Ok(1)) && fds[0].revents().contains(PollFlags::ERR)
}

/// What the apps' `/dev/console` is: the caller's terminal when the pod is
/// interactive and has one, else `/dev/null`.
fn console(interactive: bool) -> std::path::PathBuf {
    let terminal = interactive
        .then(|| std::fs::read_link("/proc/self/fd/0").ok())
        .flatten()
        .filter(|path| rustix::termios::isatty(rustix::stdio::stdin()) && path.is_absolute());
    terminal.unwrap_or_else(|| "/dev/null".into())
}
