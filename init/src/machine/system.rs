//! The system a machine's init prepares and takes down: the API file
//! systems, the console, the hostname; at the end, sync and unmount.
//!
//! Every step here reports its failure and lets the machine go on: a
//! missing /tmp must not keep the pod from running, nor the machine from
//! powering off.

use std::ffi::CStr;
use std::fs;
use std::path::Path;

use podinit_supervisor::signals::Signals;
use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountFlags, UnmountFlags};

/// A file system the machine needs.
struct Mount {
    target: &'static str,
    fstype: &'static CStr,
    flags: MountFlags,
    data: Option<&'static CStr>,
}

const NOSUID_NODEV: MountFlags = MountFlags::NOSUID.union(MountFlags::NODEV);
const NOSUID_NODEV_NOEXEC: MountFlags = NOSUID_NODEV.union(MountFlags::NOEXEC);

/// In the order they are mounted: /dev/pts and /dev/shm live on /dev. The
/// devpts options give new terminals the group `tty` (5) and mode 620, as
/// the Debian, Fedora and busybox defaults do.
const MOUNTS: [Mount; 7] = [
    Mount {
        target: "/proc",
        fstype: c"proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    Mount {
        target: "/sys",
        fstype: c"sysfs",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    Mount {
        target: "/dev",
        fstype: c"devtmpfs",
        flags: MountFlags::NOSUID,
        data: Some(c"mode=0755"),
    },
    Mount {
        target: "/dev/pts",
        fstype: c"devpts",
        flags: MountFlags::NOSUID.union(MountFlags::NOEXEC),
        data: Some(c"gid=5,mode=0620,ptmxmode=0666"),
    },
    Mount {
        target: "/dev/shm",
        fstype: c"tmpfs",
        flags: NOSUID_NODEV,
        data: Some(c"mode=1777"),
    },
    Mount {
        target: "/run",
        fstype: c"tmpfs",
        flags: NOSUID_NODEV,
        data: Some(c"mode=0755"),
    },
    Mount {
        target: "/tmp",
        fstype: c"tmpfs",
        flags: NOSUID_NODEV,
        data: Some(c"mode=1777"),
    },
];

/// Mounts each of [`MOUNTS`] that is not mounted yet, creating its
/// directory when missing.
pub fn mount_api_filesystems() {
    for mount in &MOUNTS {
        if is_mount_point(mount.target) {
            log::debug!("{} is mounted already", mount.target);
            continue;
        }
        if let Err(error) = fs::create_dir_all(mount.target) {
            log::warn!("cannot create {}: {error}", mount.target);
            continue;
        }
        let source = mount.fstype;
        if let Err(errno) =
            rustix::mount::mount(source, mount.target, mount.fstype, mount.flags, mount.data)
        {
            log::warn!("cannot mount {}: {errno}", mount.target);
        }
    }
}

/// Whether `path` is the root of a mount: it lies on another device than
/// its parent.
///
/// XXX: a bind mount of a directory onto its own file system is missed
/// and mounted over; the kernel makes none before init runs, and reading
/// /proc/self/mountinfo would need /proc first.
fn is_mount_point(path: &str) -> bool {
    let parent = Path::new(path).parent().unwrap_or(Path::new("/"));
    match (rustix::fs::stat(path), rustix::fs::stat(parent)) {
        (Ok(own), Ok(parent)) => own.st_dev != parent.st_dev,
        _ => false,
    }
}

/// Puts `/dev/console` on descriptors 0, 1 and 2, for podinit and every
/// app. It is opened without becoming podinit's controlling terminal: the
/// apps get no terminal signals from it (no Ctrl-C), as under any init
/// that keeps the console for messages.
pub fn console_on_stdio(signals: &mut Signals) {
    // A kernel that found no console starts init with 0 to 2 closed; the
    // signalfd may then sit on one of them.
    if let Err(error) = signals.keep_off_stdio() {
        log::warn!("cannot move the signal descriptor off 0-2: {error}");
        return;
    }
    let console = match rustix::fs::open(
        "/dev/console",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(console) => console,
        Err(errno) => return log::warn!("cannot open /dev/console: {errno}"),
    };
    let placed = rustix::stdio::dup2_stdin(&console)
        .and_then(|()| rustix::stdio::dup2_stdout(&console))
        .and_then(|()| rustix::stdio::dup2_stderr(&console));
    if let Err(errno) = placed {
        log::warn!("cannot put /dev/console on descriptors 0-2: {errno}");
    }
}

/// Sets the hostname from the first line of `/etc/hostname`, if there is
/// one; the kernel's `(none)` stays otherwise.
pub fn set_hostname() {
    let text = match fs::read_to_string("/etc/hostname") {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
        Err(error) => return log::warn!("cannot read /etc/hostname: {error}"),
    };
    let Some(name) = hostname_in(&text) else {
        return;
    };
    match rustix::system::sethostname(name.as_bytes()) {
        Ok(()) => log::debug!("hostname {name}"),
        Err(errno) => log::warn!("cannot set hostname {name:?}: {errno}"),
    }
}

/// The hostname in the text of `/etc/hostname`: its first line that is
/// neither empty nor a comment, trimmed.
fn hostname_in(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
}

/// Flushes every file system's dirty data to its device.
pub fn sync() {
    rustix::fs::sync();
}

/// Unmounts every file system but the root, the most recently mounted
/// first; one that is busy is made read-only instead, so that nothing is
/// left half-written when the power goes.
pub fn unmount_all() {
    let table = match fs::read_to_string("/proc/self/mounts") {
        Ok(table) => table,
        Err(error) => return log::warn!("cannot read /proc/self/mounts: {error}"),
    };
    for target in mount_points(&table).into_iter().rev() {
        match rustix::mount::unmount(target.as_str(), UnmountFlags::empty()) {
            Ok(()) => log::debug!("unmounted {target}"),
            Err(errno) => {
                let read_only = MountFlags::RDONLY;
                match rustix::mount::mount_remount(target.as_str(), read_only, "") {
                    Ok(()) => log::debug!("cannot unmount {target} ({errno}): made it read-only"),
                    Err(again) => log::debug!(
                        "cannot unmount {target} ({errno}) nor make it read-only ({again})"
                    ),
                }
            }
        }
    }
}

/// The mount points of a `/proc/self/mounts` table, in its order, but the
/// root. Spaces and other white space in a path are written there as
/// octal escapes (`\040`), which are undone.
fn mount_points(table: &str) -> Vec<String> {
    table
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(unescape_octal)
        .filter(|target| target != "/")
        .collect()
}

fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let octal = bytes
            .get(at + 1..at + 4)
            .filter(|digits| bytes[at] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)))
            .map(|digits| {
                digits
                    .iter()
                    .fold(0u32, |value, d| value * 8 + u32::from(d - b'0'))
            })
            .and_then(|value| u8::try_from(value).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                at += 4;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_is_the_first_real_line() {
        assert_eq!(hostname_in("box\n"), Some("box"));
        assert_eq!(
            hostname_in("# made by hand\n\n  pod-7  \nother\n"),
            Some("pod-7")
        );
        assert_eq!(hostname_in("\n# nothing\n"), None);
    }

    #[test]
    fn mount_points_skip_the_root_and_unescape() {
        let table = "rootfs / rootfs rw 0 0\n\
                     proc /proc proc rw,nosuid 0 0\n\
                     tmpfs /run/my\\040pods tmpfs rw 0 0\n\
                     tmpfs /odd\\9 tmpfs rw 0 0\n\
                     tmpfs /a\\+12\\400 tmpfs rw 0 0\n";
        let expected = ["/proc", "/run/my pods", "/odd\\9", "/a\\+12\\400"];
        assert_eq!(mount_points(table), expected);
    }

    #[test]
    fn the_api_file_systems_come_in_a_mountable_order() {
        let targets: Vec<&str> = MOUNTS.iter().map(|mount| mount.target).collect();
        for (index, target) in targets.iter().enumerate() {
            let parent = Path::new(target).parent().and_then(Path::to_str);
            if let Some(parent) = parent.filter(|parent| *parent != "/") {
                assert!(
                    targets[..index].contains(&parent),
                    "{target} before {parent}"
                );
            }
        }
    }
}
