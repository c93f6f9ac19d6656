//! An app's process tree: every process the app started, wherever it moved.
//!
//! Where a cgroup v2 hierarchy is mounted and writable, each app gets its
//! own cgroup below podinit's, joined by the app's first process before
//! exec: everything it forks stays inside, whatever process group or
//! session it moves to, and `cgroup.kill` ends them all at once. Without
//! one, the app's process group stands in for the tree, and processes that
//! leave it escape (the README says so).

use std::ffi::CStr;
use std::fs;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, RawDir, openat};
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
    /// Creates `podinit-[<tag>-]<random>` below podinit's own cgroup v2
    /// directory;
    /// `None` (with the reason logged at debug) where that is impossible.
    pub fn create(tag: Option<&str>) -> Option<CgroupRoot> {
        match Self::try_create(tag) {
            Ok(root) => Some(root),
            Err(error) => {
                log::debug!("no cgroup v2 for app trees, using process groups: {error}");
                None
            }
        }
    }

    fn try_create(tag: Option<&str>) -> io::Result<CgroupRoot> {
        let mount = cgroup2_mount()?;
        let own = own_cgroup()?;
        let parent = mount.join(own.trim_start_matches('/'));
        let stem = match tag {
            Some(tag) => format!("podinit-{tag}-"),
            None => "podinit-".to_owned(),
        };
        let dir = create_unique(&parent, &stem)?;
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

/// Creates `<parent>/<stem><random>`. Several pods may run at once, each
/// podinit as PID 1 of its own namespace, so a pid would not make the name
/// unique; and a SIGKILLed podinit leaves its directory behind, which a
/// counter would trip over for ever.
fn create_unique(parent: &Path, stem: &str) -> io::Result<PathBuf> {
    for _ in 0..8 {
        let dir = parent.join(format!("{stem}{:016x}", unique_number()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::from(io::ErrorKind::AlreadyExists))
}

/// A number no other podinit is likely to pick. Uniqueness, not secrecy,
/// is wanted, so the pool need not be ready: early in a machine's boot a
/// blocking read could stall PID 1. Kernels before 5.6 refuse the flag;
/// the clock and the pid then have to do.
fn unique_number() -> u64 {
    let mut bytes = [0u8; 8];
    match rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::INSECURE) {
        Ok(8) => u64::from_ne_bytes(bytes),
        _ => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (now.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
        }
    }
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
///
/// Signalling a tree and asking whether it is empty happen in the loop, as
/// often as signals and orphans arrive: they allocate nothing, reading the
/// cgroup's files through descriptors into buffers on the stack.
#[derive(Debug)]
pub enum Tree {
    /// The app's own cgroup: its path, and the directory opened once.
    Cgroup(PathBuf, OwnedFd),
    /// The app's process group, led by its first process.
    Group(Pid),
}

/// How deep below an app's cgroup the cgroups it made get SIGTERM one by
/// one: it bounds podinit's stack. Deeper ones still get SIGKILL, which
/// `cgroup.kill` sends to the whole subtree.
const MAX_DEPTH: usize = 16;

/// Open flags for a cgroup directory or file: read-only, never inherited.
const READ: OFlags = OFlags::RDONLY.union(OFlags::CLOEXEC);

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
        let Plan::Cgroup(dir) = self else {
            return Tree::Group(pid);
        };
        match rustix::fs::open(&dir, READ | OFlags::DIRECTORY, Mode::empty()) {
            Ok(fd) => Tree::Cgroup(dir, fd),
            Err(error) => {
                // The child joined the cgroup (or failed to start): its
                // process group is the next best thing.
                log::warn!(
                    "cannot open cgroup {}: {error}: using its process group",
                    dir.display()
                );
                Tree::Group(pid)
            }
        }
    }
}

impl Tree {
    /// Sends `signal` to every process of the tree. `leader` is the app's
    /// main process while it runs: the child joins its cgroup itself, just
    /// before exec, and a signal sent before then would find the cgroup
    /// empty. The leader gets it directly unless the cgroup lists it, so
    /// that no process gets it twice.
    pub fn signal(&self, signal: Signal, leader: Option<Pid>) {
        match self {
            Tree::Cgroup(dir, fd) if signal == Signal::KILL => {
                if let Err(error) = write_kill(fd.as_fd()) {
                    log::debug!("cannot write {}/cgroup.kill: {error}", dir.display());
                }
                if let Some(leader) = leader {
                    let _ = signals::send(Target::Process(leader), signal);
                }
            }
            Tree::Cgroup(_, fd) => {
                let mut seen = leader.is_none();
                signal_members(fd.as_fd(), signal, 0, &mut |pid| {
                    seen |= Some(pid) == leader
                });
                if let (false, Some(leader)) = (seen, leader) {
                    let _ = signals::send(Target::Process(leader), signal);
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
            Tree::Cgroup(_, fd) => !is_populated(fd.as_fd()).unwrap_or(false),
            Tree::Group(pgid) => rustix::process::test_kill_process_group(*pgid).is_err(),
        }
    }

    /// Removes the app's cgroup, once empty, with those the app made
    /// below it.
    pub fn remove(&self) {
        if let Tree::Cgroup(dir, _) = self {
            remove_cgroup(dir);
        }
    }
}

/// Kills whatever is left in `dir`, the [`CgroupRoot`] directory of a pod
/// that ended without removing it (killed outright), and removes it with
/// everything below. A directory already gone is fine.
pub fn remove_leftover(dir: &Path) -> io::Result<()> {
    let cgroup = match rustix::fs::open(dir, READ | OFlags::DIRECTORY, Mode::empty()) {
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        result => result?,
    };
    write_kill(cgroup.as_fd())?;
    // cgroup.kill returns before the processes are gone: a cgroup that
    // still holds one cannot be removed (EBUSY).
    for _ in 0..200 {
        if !is_populated(cgroup.as_fd()).unwrap_or(false) {
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

fn write_kill(cgroup: BorrowedFd<'_>) -> io::Result<()> {
    let kill = openat(
        cgroup,
        c"cgroup.kill",
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::io::write(&kill, b"1")?;
    Ok(())
}

/// Whether `cgroup.events` says a process is left in the cgroup or below
/// it: the file is a few short lines, read whole into a small buffer.
fn is_populated(cgroup: BorrowedFd<'_>) -> io::Result<bool> {
    let events = openat(cgroup, c"cgroup.events", READ, Mode::empty())?;
    let mut buffer = [0u8; 256];
    let length = rustix::io::read(&events, &mut buffer)?;
    let text = &buffer[..length];
    Ok(!text
        .split(|&byte| byte == b'\n')
        .any(|line| line == b"populated 0"))
}

/// Sends `signal` to every process in the cgroup `cgroup` and, to
/// `MAX_DEPTH`, in the cgroups the app made below it;
/// `sent` hears of every pid signalled.
fn signal_members(cgroup: BorrowedFd<'_>, signal: Signal, depth: usize, sent: &mut dyn FnMut(Pid)) {
    if let Ok(procs) = openat(cgroup, c"cgroup.procs", READ, Mode::empty()) {
        for_each_pid(&procs, |pid| {
            let _ = signals::send(Target::Process(pid), signal);
            sent(pid);
        });
    }
    if depth < MAX_DEPTH {
        for_each_subgroup(cgroup, |child| {
            signal_members(child, signal, depth + 1, sent)
        });
    }
}

/// Calls `each` with every pid of a `cgroup.procs` file, one decimal per
/// line, read in chunks: a number may straddle two reads.
fn for_each_pid(procs: &OwnedFd, mut each: impl FnMut(Pid)) {
    let mut buffer = [0u8; 512];
    let mut number: i32 = 0;
    while let Ok(length @ 1..) = rustix::io::read(procs, &mut buffer) {
        for &byte in &buffer[..length] {
            match byte {
                b'0'..=b'9' => {
                    number = number
                        .saturating_mul(10)
                        .saturating_add(i32::from(byte - b'0'))
                }
                _ => {
                    if let Some(pid) = Pid::from_raw(number) {
                        each(pid);
                    }
                    number = 0;
                }
            }
        }
    }
    if let Some(pid) = Pid::from_raw(number) {
        each(pid);
    }
}

/// Calls `each` with every cgroup directly below `cgroup`, opened.
fn for_each_subgroup(cgroup: BorrowedFd<'_>, mut each: impl FnMut(BorrowedFd<'_>)) {
    // Reading entries moves a descriptor's offset: list through one of
    // our own, not the tree's.
    let Ok(listing) = openat(cgroup, c".", READ | OFlags::DIRECTORY, Mode::empty()) else {
        return;
    };
    let mut buffer = [MaybeUninit::<u8>::uninit(); 1024];
    let mut entries = RawDir::new(listing, &mut buffer);
    while let Some(Ok(entry)) = entries.next() {
        let name: &CStr = entry.file_name();
        if entry.file_type() != FileType::Directory || name == c"." || name == c".." {
            continue;
        }
        if let Ok(child) = openat(cgroup, name, READ | OFlags::DIRECTORY, Mode::empty()) {
            each(child.as_fd());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More pids than one read holds, so that some straddle two reads,
    /// and a last one with no newline.
    #[test]
    fn every_pid_of_a_procs_file_is_read() {
        let pids: Vec<i32> = (1..400).map(|n| n * 7919).collect();
        let mut text: String = pids.iter().map(|pid| format!("{pid}\n")).collect();
        text.push_str("4194304");
        let (reader, writer) = rustix::pipe::pipe().expect("a pipe");
        std::thread::spawn(move || rustix::io::write(&writer, text.as_bytes()));
        let mut seen = Vec::new();
        for_each_pid(&reader, |pid| seen.push(pid.as_raw_nonzero().get()));
        let mut expected = pids;
        expected.push(4_194_304);
        assert_eq!(seen, expected);
    }
}
