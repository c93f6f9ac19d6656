//! The pod's namespaces: creating them for `run`, naming the pod in its
//! UTS namespace, and joining them again for `enter`.
//!
//! The pod gets one PID, IPC, UTS and mount namespace shared by every app,
//! and a network namespace of its own unless it keeps the caller's
//! (stage1 contract, section 4.4). The process that creates them stays
//! outside the new PID namespace (unshare(2) moves only the children made
//! afterwards), so its first child is the pod's PID 1 and its pid, as the
//! runtime sees it, is the one written to the pod's `pid` file.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use rustix::mount::{MountPropagationFlags, mount_change};
use rustix::process::Pid;
use rustix::thread::{LinkNameSpaceType, UnshareFlags, move_into_link_name_space};

use crate::sys;

/// Which namespaces the pod gets of its own, besides PID, UTS and mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Private {
    pub network: bool,
    pub ipc: bool,
}

/// What failed while making or joining namespaces.
#[derive(Debug)]
pub enum NamespaceError {
    Unshare(io::Error),
    /// Mounts could not be made private: they would reach the host.
    Propagation(io::Error),
    Hostname(String, io::Error),
    /// `/proc/<pid>/ns/<kind>` could not be opened: no such process, or
    /// not ours to enter.
    Open(String, io::Error),
    Join(&'static str, io::Error),
    /// The pid is not PID 1 of a PID namespace below ours.
    NotAPod(i32),
}

/// The namespaces `enter` joins, in the order it joins them: the mount
/// namespace last, since joining it also moves the caller's root and
/// working directory to that namespace's root (setns(2)).
const JOINED: [(&str, LinkNameSpaceType); 5] = [
    ("ipc", LinkNameSpaceType::InterProcessCommunication),
    ("uts", LinkNameSpaceType::HostNameAndNISDomainName),
    ("net", LinkNameSpaceType::Network),
    ("pid", LinkNameSpaceType::ProcessID),
    ("mnt", LinkNameSpaceType::Mount),
];

/// Gives the calling process the pod's namespaces: new mount and UTS
/// namespaces, new IPC and network ones as `private` asks, and a new PID
/// namespace for its children. Every mount is then made private, so that
/// nothing mounted for the pod propagates back to the host (the runtime's
/// pod directory often lies on a shared mount).
pub fn create(private: Private) -> Result<(), NamespaceError> {
    let mut flags = UnshareFlags::NEWNS | UnshareFlags::NEWUTS | UnshareFlags::NEWPID;
    if private.network {
        flags |= UnshareFlags::NEWNET;
    }
    if private.ipc {
        flags |= UnshareFlags::NEWIPC;
    }
    sys::unshare_namespaces(flags).map_err(NamespaceError::Unshare)?;
    let private = MountPropagationFlags::PRIVATE | MountPropagationFlags::REC;
    mount_change("/", private).map_err(|errno| NamespaceError::Propagation(errno.into()))
}

/// Sets the host name of the pod's UTS namespace.
pub fn set_hostname(name: &str) -> Result<(), NamespaceError> {
    rustix::system::sethostname(name.as_bytes())
        .map_err(|errno| NamespaceError::Hostname(name.to_owned(), errno.into()))
}

/// Moves the calling process into the IPC, UTS, network and mount
/// namespaces of `pid`, and its future children into its PID namespace.
/// Every namespace file is opened before the first is joined: once in the
/// pod's mount namespace, `/proc` may show another PID namespace.
pub fn join(pid: Pid) -> Result<(), NamespaceError> {
    if !is_pod_init(pid) {
        return Err(NamespaceError::NotAPod(pid.as_raw_nonzero().get()));
    }
    let pid = pid.as_raw_nonzero();
    let mut files = Vec::with_capacity(JOINED.len());
    for (kind, _) in JOINED {
        let path = format!("/proc/{pid}/ns/{kind}");
        let file = File::open(&path).map_err(|error| NamespaceError::Open(path, error))?;
        files.push(file);
    }
    for (file, (kind, space)) in files.iter().zip(JOINED) {
        move_into_link_name_space(file.as_fd(), Some(space))
            .map_err(|errno| NamespaceError::Join(kind, errno.into()))?;
    }
    Ok(())
}

/// Whether `pid` is PID 1 of a PID namespace below ours, as a pod's PID 1
/// is: the last of its pids in `/proc/<pid>/status` (`NSpid`, one per
/// namespace from ours down) is 1. A pid that a pod's `pid` file still
/// names after the pod has gone, and that the kernel gave to some other
/// process, is not.
pub fn is_pod_init(pid: Pid) -> bool {
    let path = format!("/proc/{}/status", pid.as_raw_nonzero());
    let Ok(status) = std::fs::read_to_string(path) else {
        return false;
    };
    let pids: Vec<&str> = status
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:"))
        .map(|pids| pids.split_whitespace().collect())
        .unwrap_or_default();
    pids.len() >= 2 && pids.last() == Some(&"1")
}

impl fmt::Display for NamespaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamespaceError::Unshare(error) => {
                write!(f, "cannot create the pod's namespaces: {error}")
            }
            NamespaceError::Propagation(error) => {
                write!(f, "cannot make the pod's mounts private: {error}")
            }
            NamespaceError::Hostname(name, error) => {
                write!(f, "cannot set host name {name:?}: {error}")
            }
            NamespaceError::Open(path, error) => write!(f, "cannot open {path}: {error}"),
            NamespaceError::Join(kind, error) => {
                write!(f, "cannot join the pod's {kind} namespace: {error}")
            }
            NamespaceError::NotAPod(pid) => {
                write!(
                    f,
                    "process {pid} is not a pod's PID 1 (no such pod, or it has exited)"
                )
            }
        }
    }
}

impl std::error::Error for NamespaceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NamespaceError::Unshare(error)
            | NamespaceError::Propagation(error)
            | NamespaceError::Hostname(_, error)
            | NamespaceError::Open(_, error)
            | NamespaceError::Join(_, error) => Some(error),
            NamespaceError::NotAPod(_) => None,
        }
    }
}
