//! Processes left behind: stopping them gracefully and waiting until none
//! is left.
//!
//! As PID 1 of a PID namespace podinit may signal everything in it at once
//! (kill(2) with pid -1 spares the caller). Anywhere else that would reach
//! processes that are not podinit's, so there it signals only its own
//! descendants, found by walking `/proc`, each through a pidfd opened and
//! then checked to be still the same process, so that a recycled pid never
//! sends a signal to a stranger.

use std::fs;
use std::io;
use std::time::Duration;

use rustix::process::{Pid, PidfdFlags, getpid, pidfd_open, pidfd_send_signal};

use crate::reap::{Children, reap_exited};
use crate::signals::{self, Signal, Signals};
use crate::status::ExitStatus;
use crate::sys::{self, Target};

/// How often SIGKILL is sent again while processes remain after the grace
/// period; only a descendant that forked between the `/proc` walk and the
/// signal can need it (a fork bomb, say).
const KILL_AGAIN: Duration = Duration::from_millis(100);

/// Which processes podinit may signal when it cleans up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything in podinit's PID namespace (podinit is its PID 1).
    Namespace,
    /// podinit's own descendants only.
    Descendants,
}

impl Scope {
    /// The widest scope podinit may use where it runs.
    pub fn here() -> Scope {
        if getpid() == Pid::INIT {
            Scope::Namespace
        } else {
            Scope::Descendants
        }
    }
}

/// Sends `signal` to every process in `scope`.
pub fn signal_all(scope: Scope, signal: Signal) -> io::Result<()> {
    match scope {
        Scope::Namespace => match sys::kill(Target::Everyone, signal.as_raw()) {
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            result => result,
        },
        Scope::Descendants => signal_descendants(signal),
    }
}

fn signal_descendants(signal: Signal) -> io::Result<()> {
    let signal = rustix::process::Signal::from_named_raw(signal.as_raw())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let me = getpid();
    for (pid, parent) in descendants(&read_parents()?, me) {
        signal_if_still_descendant(pid, &[parent, me], signal);
    }
    Ok(())
}

/// Signals `pid` only if, once pinned by a pidfd, its parent is one of
/// `parents`: the one seen in the walk, or podinit itself, which adopts it
/// when that parent dies meanwhile (as a subreaper). A process that has
/// exited needs no signal.
fn signal_if_still_descendant(pid: Pid, parents: &[Pid], signal: rustix::process::Signal) {
    let still_ours = || read_parent(pid).is_some_and(|parent| parents.contains(&parent));
    match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(pidfd) if still_ours() => {
            let _ = pidfd_send_signal(&pidfd, signal);
        }
        // XXX: before Linux 5.3 there are no pidfds: the parent is checked
        // just before a plain kill, which leaves a window of a few system
        // calls for the pid to be recycled.
        Err(rustix::io::Errno::NOSYS) if still_ours() => {
            let _ = sys::kill(Target::Process(pid), signal.as_raw());
        }
        _ => {}
    }
}

/// Every process with its parent, from `/proc/<pid>/stat`.
///
/// Refuses a `/proc` that belongs to another PID namespace (one mounted
/// before podinit's launcher unshared, say): its pids are not podinit's,
/// and signalling by them would reach strangers.
fn read_parents() -> io::Result<Vec<(Pid, Pid)>> {
    let own = getpid().as_raw_nonzero().to_string();
    if fs::read_link("/proc/self")?.as_os_str() != own.as_str() {
        return Err(io::Error::other("/proc belongs to another PID namespace"));
    }
    let mut parents = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.parse().ok())
            .and_then(Pid::from_raw)
        else {
            continue;
        };
        if let Some(parent) = read_parent(pid) {
            parents.push((pid, parent));
        }
    }
    Ok(parents)
}

/// The parent of `pid`: the field after the state, which follows the
/// command name in parentheses (which may itself hold spaces and `)`).
fn read_parent(pid: Pid) -> Option<Pid> {
    let stat = fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())).ok()?;
    parse_parent(&stat)
}

fn parse_parent(stat: &str) -> Option<Pid> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let parent = after_name.split_whitespace().nth(1)?;
    Pid::from_raw(parent.parse().ok()?)
}

/// The descendants of `root` among `(pid, parent)` pairs, each with its
/// parent, parents first.
fn descendants(parents: &[(Pid, Pid)], root: Pid) -> Vec<(Pid, Pid)> {
    let mut by_parent: Vec<(i32, Pid)> = parents
        .iter()
        .map(|&(pid, parent)| (parent.as_raw_nonzero().get(), pid))
        .collect();
    by_parent.sort_unstable_by_key(|&(parent, _)| parent);
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        let raw = parent.as_raw_nonzero().get();
        let first = by_parent.partition_point(|&(p, _)| p < raw);
        for &(_, pid) in by_parent[first..].iter().take_while(|&&(p, _)| p == raw) {
            found.push((pid, parent));
            frontier.push(pid);
        }
    }
    found
}

/// Stops every process left in `scope` and reaps them all: SIGTERM and
/// SIGCONT (a stopped process cannot act on SIGTERM), up to `grace` for
/// them to exit, then SIGKILL. Returns once podinit has no child left, or
/// at once if the processes left cannot be found (see [`signal_all`]):
/// waiting for what cannot be stopped could last for ever. Signals other
/// than SIGCHLD that arrive meanwhile are dropped.
pub fn stop_all(
    signals: &Signals,
    scope: Scope,
    grace: Duration,
    mut on_exit: impl FnMut(Pid, ExitStatus),
) -> io::Result<()> {
    if reap_exited(&mut on_exit)? == Children::None {
        return Ok(());
    }
    log::info!("stopping leftover processes: SIGTERM, then SIGKILL after {grace:?}");
    if let Err(error) =
        signal_all(scope, Signal::TERM).and_then(|()| signal_all(scope, Signal::CONT))
    {
        log::error!("cannot stop leftover processes, leaving them: {error}");
        return Ok(());
    }
    let mut deadline = signals::deadline_after(grace);
    let mut killing = false;
    loop {
        if signals.next(deadline)?.is_none() {
            // SIGKILL first, the message after: a stderr nobody reads must
            // not hold the signal back.
            let killed = signal_all(scope, Signal::KILL);
            if !killing {
                log::warn!("leftover processes outlived the grace period: sent SIGKILL");
                killing = true;
            }
            if let Err(error) = killed {
                log::error!("cannot kill leftover processes, leaving them: {error}");
                return Ok(());
            }
            deadline = signals::deadline_after(KILL_AGAIN);
        }
        if reap_exited(&mut on_exit)? == Children::None {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: i32) -> Pid {
        Pid::from_raw(n).unwrap()
    }

    #[test]
    fn parent_is_read_past_a_hostile_command_name() {
        let stat = "42 (a) b (c) ) S 7 42 42 0 -1 4194560";
        assert_eq!(parse_parent(stat), Some(pid(7)));
        assert_eq!(parse_parent("42 (x) Z 0 0 0"), None, "pid 0 is no parent");
        assert_eq!(parse_parent("garbage"), None);
    }

    #[test]
    fn descendants_follow_every_generation_and_nothing_else() {
        let parents =
            [(10, 1), (11, 10), (12, 11), (20, 1), (30, 99)].map(|(a, b)| (pid(a), pid(b)));
        let mut found = descendants(&parents, pid(10));
        found.sort_by_key(|(child, parent)| (child.as_raw_nonzero(), parent.as_raw_nonzero()));
        assert_eq!(found, vec![(pid(11), pid(10)), (pid(12), pid(11))]);
    }
}
