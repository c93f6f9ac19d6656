//! An app's process tree: every process the app started, wherever it moved.
//!
//! Where a cgroup v2 hierarchy is mounted and writable, each app gets its
//! own cgroup below podinit's, joined by the app's first process before
//! exec: everything it forks stays inside, whatever process group or
//! session it moves to, and `cgroup.kill` ends them all at once. Without
//! one, the app's process group stands in for the tree, and processes that
//! leave it escape (the README says so).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rustix::process::Pid;

use crate::signals::{self, Signal, Target};
use crate::spawn::{Step, StepError};

/// Where podinit's app cgroups live: a directory of its own below the
/// cgroup podinit runs in.
#[derive(Clone, Debug)]
pub struct CgroupRoot {
    dir: PathBuf,
}

impl CgroupRoot {
    /// Creates `podinit-<pid>-<n>` below podinit's own cgroup v2 directory;
    /// `None` (with the reason logged at debug) where that is impossible.
    pub fn create() -> Option<CgroupRoot> {
        match Self::try_create() {
            Ok(root) => Some(root),
            Err(error) => {
                log::debug!("no cgroup v2 for app trees, using process groups: {error}");
                None
            }
        }
    }

    fn try_create() -> io::Result<CgroupRoot> {
        let mount = cgroup2_mount()?;
        let own = own_cgroup()?;
        let parent = mount.join(own.trim_start_matches('/'));
        let dir = create_unique(&parent, &format!("podinit-{}", std::process::id()))?;
        if !dir.join("cgroup.kill").exists() {
            let _ = fs::remove_dir(&dir);
            return Err(io::Error::other(
                "cgroup.kill is missing (Linux before 5.14)",
            ));
        }
        Ok(CgroupRoot { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the directory once every app cgroup in it is gone.
    pub fn remove(&self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Creates `<parent>/<stem>-<n>` for the first `n` not taken: several
/// pods may run at once, each podinit as PID 1 of its own namespace, so the
/// pid alone does not make the name unique.
fn create_unique(parent: &Path, stem: &str) -> io::Result<PathBuf> {
    for n in 0..1000 {
        let dir = parent.join(format!("{stem}-{n}"));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::from(io::ErrorKind::AlreadyExists))
}

/// The mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo.
/// Only a mount of the whole hierarchy as podinit's cgroup namespace sees
/// it will do: in a cgroup namespace, a mount made outside it shows a root
/// such as `/..`, and `0::` paths would then lead to the wrong place.
fn cgroup2_mount() -> io::Result<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
    let (root, mount_point) = mountinfo
        .lines()
        .find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fields: Vec<&str> = before.split(' ').collect();
            after
                .starts_with("cgroup2 ")
                .then(|| (fields.get(3).copied(), fields.get(4).copied()))
        })
        .ok_or_else(|| io::Error::other("no cgroup2 file system is mounted"))?;
    match (root, mount_point) {
        (Some("/"), Some(mount_point)) => Ok(PathBuf::from(mount_point)),
        _ => Err(io::Error::other(
            "the cgroup2 mount does not show the namespace's root",
        )),
    }
}

/// podinit's own cgroup v2 path, the `0::` line of /proc/self/cgroup.
fn own_cgroup() -> io::Result<String> {
    let cgroups = fs::read_to_string("/proc/self/cgroup")?;
    cgroups
        .lines()
        .find_map(|line| line.strip_prefix("0::").map(str::to_owned))
        .ok_or_else(|| io::Error::other("podinit is in no cgroup v2"))
}

/// The processes of one app.
#[derive(Debug)]
pub enum Tree {
    /// The app's own cgroup directory.
    Cgroup(PathBuf),
    /// The app's process group, led by its first process.
    Group(Pid),
}

/// A tree about to be started: its cgroup is made before the fork, so the
/// child can join it.
pub enum Plan {
    Cgroup(PathBuf),
    Group,
}

impl Plan {
    /// Plans the tree of app `name`: a new cgroup under `root` if there is
    /// one and it can be made.
    pub fn new(root: Option<&CgroupRoot>, name: &str) -> Plan {
        let Some(root) = root else { return Plan::Group };
        let dir = root.dir.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => Plan::Cgroup(dir),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Plan::Cgroup(dir),
            Err(error) => {
                log::warn!(
                    "cannot create cgroup {}: {error}: using its process group",
                    dir.display()
                );
                Plan::Group
            }
        }
    }

    /// The step that puts the app's first process into the cgroup.
    pub fn join_step(&self) -> Option<Step> {
        let Plan::Cgroup(dir) = self else { return None };
        let procs = dir.join("cgroup.procs");
        Some(Box::new(move || {
            fs::write(&procs, "0").map_err(|error| StepError {
                what: format!("join cgroup {}", procs.display()),
                error,
            })
        }))
    }

    /// The tree once its first process `pid` exists.
    pub fn started(self, pid: Pid) -> Tree {
        match self {
            Plan::Cgroup(dir) => Tree::Cgroup(dir),
            Plan::Group => Tree::Group(pid),
        }
    }
}

impl Tree {
    /// Sends `signal` to every process of the tree.
    pub fn signal(&self, signal: Signal) {
        match self {
            Tree::Cgroup(dir) if signal == Signal::KILL => {
                if let Err(error) = fs::write(dir.join("cgroup.kill"), "1") {
                    log::debug!("cannot write {}/cgroup.kill: {error}", dir.display());
                }
            }
            Tree::Cgroup(dir) => {
                for pid in members(dir) {
                    let _ = signals::send(Target::Process(pid), signal);
                }
            }
            Tree::Group(pgid) => {
                let _ = signals::send(Target::Group(*pgid), signal);
            }
        }
    }

    /// Whether no process of the tree is left (zombies excepted: they are
    /// reaped by the loop). For a cgroup, `populated` in `cgroup.events`
    /// counts the cgroups the app made below its own too.
    pub fn is_empty(&self) -> bool {
        match self {
            Tree::Cgroup(dir) => fs::read_to_string(dir.join("cgroup.events"))
                .map(|events| events.lines().any(|line| line == "populated 0"))
                .unwrap_or(true),
            Tree::Group(pgid) => rustix::process::test_kill_process_group(*pgid).is_err(),
        }
    }

    /// Removes the app's cgroup, once empty, with those the app made
    /// below it.
    pub fn remove(&self) {
        if let Tree::Cgroup(dir) = self {
            remove_cgroup(dir);
        }
    }
}

/// Kills whatever is left in `dir`, the [`CgroupRoot`] directory of a pod
/// that ended without removing it (killed outright), and removes it with
/// everything below. A directory already gone is fine.
pub fn remove_leftover(dir: &Path) -> io::Result<()> {
    match fs::write(dir.join("cgroup.kill"), "1") {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        result => result?,
    }
    // cgroup.kill returns before the processes are gone: a cgroup that
    // still holds one cannot be removed (EBUSY).
    for _ in 0..200 {
        if Tree::Cgroup(dir.to_owned()).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    remove_cgroup(dir);
    match dir.exists() {
        true => Err(io::Error::other("still holds processes")),
        false => Ok(()),
    }
}

/// Removes `dir` and the cgroups below it, deepest first.
fn remove_cgroup(dir: &Path) {
    for child in subgroups(dir) {
        remove_cgroup(&child);
    }
    if let Err(error) = fs::remove_dir(dir) {
        log::debug!("cannot remove cgroup {}: {error}", dir.display());
    }
}

/// The cgroups directly below `dir`.
fn subgroups(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.path())
        .collect()
}

/// The pids in a cgroup's `cgroup.procs` and in those of the cgroups the
/// app made below it.
fn members(dir: &Path) -> Vec<Pid> {
    let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    let mut pids: Vec<Pid> = procs
        .lines()
        .filter_map(|line| Pid::from_raw(line.trim().parse().ok()?))
        .collect();
    for child in subgroups(dir) {
        pids.extend(members(&child));
    }
    pids
}
