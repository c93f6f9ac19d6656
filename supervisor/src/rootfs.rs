//! An app's root file system as the app sees it (stage1 contract, section
//! 6): its own directory, bound onto itself, with `/proc`, `/sys`, a small
//! `/dev`, its volumes, and read-only when the manifest says so.
//!
//! Every mount is made from the pod's PID 1, which keeps the host's root
//! in the pod's private mount namespace, onto paths inside the app's
//! directory. The app's image may hold symbolic links anywhere, so a
//! target is never joined to the directory as text: it is opened inside
//! the root (openat2 with `RESOLVE_IN_ROOT`, as the app would resolve it
//! after chroot), missing directories are created on the way, and the
//! mount goes onto the opened descriptor (`/proc/self/fd/<n>`). A link
//! `/data -> /etc` in an image thus lands on the image's `/etc`, never on
//! the host's.
//!
//! The apps share one `/dev/shm`, as they share an IPC namespace: POSIX
//! shared memory made by one app is there for the others.
//!
//! XXX: each app gets its own devpts instance, so apps share no
//! pseudo-terminals; rkt's own stage1 shares them across the pod.

use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, StatVfsMountFlags, mkdirat, openat};
use rustix::io::Errno;
use rustix::mount::{MountFlags, mount, mount_bind, mount_bind_recursive, mount_remount};

use crate::credentials::open_in_root;
use crate::spawn::{Step, StepError};
use crate::volumes::VolumeMount;

/// What of an app's `/proc` is made read-only: the kernel's settings and
/// triggers, which without a user namespace are the whole machine's
/// (`/proc/sys/kernel/core_pattern` names a program the kernel runs as
/// root on the host).
const PROC_READ_ONLY: [&str; 4] = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"];

/// Device nodes every app gets, bound from the host's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// One app's root and what goes into it.
#[derive(Debug)]
pub struct AppRoot {
    /// The app, for messages.
    pub app: String,
    /// The root as podinit sees it: `.../opt/stage2/<app>/rootfs`.
    pub path: PathBuf,
    /// `readOnlyRootFS`.
    pub read_only: bool,
    /// What `/dev/console` is: the caller's terminal, or `/dev/null`.
    pub console: PathBuf,
    /// The pod's shared `/dev/shm`, made by [`mount_pod_shm`].
    pub shm: PathBuf,
    pub volumes: Vec<VolumeMount>,
}

/// A mount of an app's root that failed.
#[derive(Debug)]
pub struct RootfsError {
    pub app: String,
    /// What podinit could not do: a verb and its object (`mount /proc`).
    pub what: String,
    pub error: io::Error,
}

/// Checks that the app's root exists and is a directory, before anything
/// is set up for the pod.
pub fn check(app: &str, path: &Path) -> Result<(), RootfsError> {
    let error = match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => io::Error::from_raw_os_error(libc::ENOTDIR),
        Err(error) => error,
    };
    Err(RootfsError {
        app: app.to_owned(),
        what: format!("use its root file system {}", path.display()),
        error,
    })
}

impl AppRoot {
    /// Makes every mount of the app's root, in order: the root onto
    /// itself (so that it is a mount of its own, which can be made
    /// read-only, and which the mounts below land on), the kernel's file
    /// systems, `/dev`, the volumes, and read-only last, once every mount
    /// point has been created.
    pub fn mount(&self) -> Result<(), RootfsError> {
        mount_bind_recursive(&self.path, &self.path).map_err(self.fail("bind the root"))?;
        // Device nodes an app makes in its own root (it keeps CAP_MKNOD by
        // default) must not open the host's disks: those it needs are
        // bound into `/dev`, mounts of their own.
        let root = self.path.as_path();
        remount_adding(root, MountFlags::NODEV).map_err(self.fail("bind the root"))?;
        let nosuid = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        self.mount_new("/proc", "proc", nosuid, "")?;
        for target in PROC_READ_ONLY {
            self.make_read_only(target)?;
        }
        self.mount_new("/sys", "sysfs", nosuid | MountFlags::RDONLY, "")?;
        self.mount_dev()?;
        for volume in &self.volumes {
            self.mount_volume(volume)?;
        }
        if self.read_only {
            remount_adding(root, MountFlags::RDONLY)
                .map_err(self.fail("make the root read-only"))?;
        }
        Ok(())
    }

    /// `/dev`: a tmpfs holding the host's device nodes of [`DEVICES`],
    /// `console`, a private devpts at `pts` with `ptmx` linked to it, and
    /// the pod's shared tmpfs at `shm`. The tmpfs is new, so paths inside
    /// it are podinit's own and are joined as text.
    fn mount_dev(&self) -> Result<(), RootfsError> {
        let nosuid = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        let dev = self.mount_new("/dev", "tmpfs", nosuid, "mode=0755")?;
        let dev = PathBuf::from(fd_path(&dev));
        let dev = fs::canonicalize(&dev).map_err(self.fail_io("find /dev"))?;
        for name in DEVICES {
            self.bind_file(&Path::new("/dev").join(name), &dev.join(name))?;
        }
        self.bind_file(&self.console, &dev.join("console"))?;
        let pts = dev.join("pts");
        fs::create_dir(&pts).map_err(self.fail_io("create /dev/pts"))?;
        let options = "newinstance,ptmxmode=0666,mode=0620";
        mount(
            "devpts",
            &pts,
            "devpts",
            MountFlags::NOSUID | MountFlags::NOEXEC,
            &*cstr(options),
        )
        .map_err(self.fail("mount /dev/pts"))?;
        std::os::unix::fs::symlink("pts/ptmx", dev.join("ptmx"))
            .map_err(self.fail_io("link /dev/ptmx"))?;
        let shm = dev.join("shm");
        fs::create_dir(&shm).map_err(self.fail_io("create /dev/shm"))?;
        mount_bind(&self.shm, &shm).map_err(self.fail("mount /dev/shm"))
    }

    /// Binds the host file `source` onto a new empty file `target`.
    fn bind_file(&self, source: &Path, target: &Path) -> Result<(), RootfsError> {
        let what = || format!("bind {} at {}", source.display(), target.display());
        fs::File::create(target).map_err(|error| self.error(what(), error))?;
        mount_bind(source, target).map_err(|errno| self.error(what(), errno.into()))
    }

    /// Mounts a new file system of `kind` at `target` inside the root;
    /// returns the mount point, opened.
    fn mount_new(
        &self,
        target: &str,
        kind: &str,
        flags: MountFlags,
        options: &str,
    ) -> Result<OwnedFd, RootfsError> {
        let point = self.mount_point(target, true)?;
        mount(kind, fd_path(&point).as_str(), kind, flags, &*cstr(options))
            .map_err(self.fail(&format!("mount {target}")))?;
        // The descriptor still names the directory below the new mount:
        // open the mount's root through it.
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        open_in_root(&self.path, target, flags).map_err(self.fail_io(&format!("open {target}")))
    }

    /// Binds `target` of the app's `/proc` onto itself, read-only: the
    /// host's knobs behind it are the machine's, not the pod's.
    fn make_read_only(&self, target: &str) -> Result<(), RootfsError> {
        let what = format!("make {target} read-only");
        let flags = OFlags::PATH | OFlags::CLOEXEC;
        let point = match open_in_root(&self.path, target, flags) {
            Ok(point) => point,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(self.error(what, error)),
        };
        let path = fd_path(&point);
        mount_bind(path.as_str(), path.as_str())
            .map_err(|errno| self.error(what.clone(), errno.into()))?;
        // The descriptor names what lies below the new mount: open it again.
        let point =
            open_in_root(&self.path, target, flags).map_err(|e| self.error(what.clone(), e))?;
        remount_adding(fd_path(&point).as_str(), MountFlags::RDONLY)
            .map_err(|errno| self.error(what, errno.into()))
    }

    /// Binds a volume at its path, read-only if asked.
    fn mount_volume(&self, volume: &VolumeMount) -> Result<(), RootfsError> {
        let what = format!("mount volume {} at {}", volume.name, volume.target);
        let source_is_dir = fs::metadata(&volume.source)
            .map(|meta| meta.is_dir())
            .map_err(|error| self.error(what.clone(), error))?;
        let point = self.mount_point(&volume.target, source_is_dir)?;
        let target = fd_path(&point);
        let bound = if volume.recursive {
            mount_bind_recursive(&volume.source, target.as_str())
        } else {
            mount_bind(&volume.source, target.as_str())
        };
        bound.map_err(|errno| self.error(what.clone(), errno.into()))?;
        // XXX: only the volume's top mount turns read-only; mounts below a
        // recursive host volume stay as they are. Recursive read-only needs
        // mount_setattr(2), which rustix lacks.
        let mut restrict = MountFlags::empty();
        if volume.read_only {
            restrict |= MountFlags::RDONLY;
        }
        if !volume.devices {
            restrict |= MountFlags::NODEV;
        }
        if !restrict.is_empty() {
            let point = self.mount_point(&volume.target, source_is_dir)?;
            remount_adding(fd_path(&point).as_str(), restrict)
                .map_err(|errno| self.error(what, errno.into()))?;
        }
        Ok(())
    }

    /// Opens `target` inside the root, creating what is missing: the
    /// directories on the way, and the last component as a directory
    /// (`dir`) or an empty file.
    fn mount_point(&self, target: &str, dir: bool) -> Result<OwnedFd, RootfsError> {
        let flags = OFlags::PATH | OFlags::CLOEXEC;
        let fail = self.fail_io(&format!("create mount point {target}"));
        let parts: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
        let mut parent = open_in_root(&self.path, "/", flags).map_err(&fail)?;
        for (index, part) in parts.iter().enumerate() {
            let prefix = parts[..=index].join("/");
            let last = index + 1 == parts.len();
            parent = match open_in_root(&self.path, &prefix, flags) {
                Ok(fd) => fd,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    create(&parent, part, dir || !last)
                        .map_err(io::Error::from)
                        .map_err(&fail)?;
                    open_in_root(&self.path, &prefix, flags).map_err(&fail)?
                }
                Err(error) => return Err(fail(error)),
            };
        }
        Ok(parent)
    }

    fn error(&self, what: String, error: io::Error) -> RootfsError {
        RootfsError {
            app: self.app.clone(),
            what,
            error,
        }
    }

    fn fail(&self, what: &str) -> impl Fn(Errno) -> RootfsError + use<> {
        let fail = self.fail_io(what);
        move |errno| fail(errno.into())
    }

    fn fail_io(&self, what: &str) -> impl Fn(io::Error) -> RootfsError + use<> {
        let (app, what) = (self.app.clone(), what.to_owned());
        move |error| RootfsError {
            app: app.clone(),
            what: what.clone(),
            error,
        }
    }
}

/// Creates `name` in the directory `parent` as a directory or an empty
/// file; one that appeared meanwhile is fine.
fn create(parent: &OwnedFd, name: &str, dir: bool) -> rustix::io::Result<()> {
    let made = if dir {
        mkdirat(parent, name, Mode::from_raw_mode(0o755))
    } else {
        let flags = OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(parent, name, flags, Mode::from_raw_mode(0o644)).map(drop)
    };
    match made {
        Err(Errno::EXIST) => Ok(()),
        result => result,
    }
}

/// The step, for an app's child before exec, that makes `root` its root
/// directory and `/` its working directory until it enters its own.
/// Before the credentials change: chroot(2) needs CAP_SYS_CHROOT.
pub fn chroot_step(root: PathBuf) -> Step {
    Box::new(move || {
        let fail = |error: Errno| StepError {
            what: format!("change root to {}", root.display()),
            error: error.into(),
        };
        rustix::process::chroot(&root).map_err(fail)?;
        rustix::process::chdir("/").map_err(fail)
    })
}

/// The path through which the kernel reaches what `fd` names.
/// Mounts the pod's shared `/dev/shm` at `dir`, creating it: a tmpfs every
/// app's `/dev/shm` is bound to. It lives in the pod's mount namespace and
/// goes with it.
pub fn mount_pod_shm(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    mount("shm", dir, "tmpfs", flags, &*cstr("mode=1777"))?;
    Ok(())
}

/// Remounts the bind mount at `path` with `extra` added to the flags it has.
/// A bind remount sets the flags it is given and clears the others
/// (mount(2)): dropping a `nosuid`, `nodev` or `noexec` the host set would
/// widen what the app may do.
fn remount_adding<P: rustix::path::Arg + Copy>(path: P, extra: MountFlags) -> Result<(), Errno> {
    let have = rustix::fs::statvfs(path)?.f_flag;
    let kept = [
        (StatVfsMountFlags::RDONLY, MountFlags::RDONLY),
        (StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
        (StatVfsMountFlags::NODEV, MountFlags::NODEV),
        (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
        (StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
        (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
        (StatVfsMountFlags::RELATIME, MountFlags::RELATIME),
    ];
    let flags = kept
        .into_iter()
        .filter(|(flag, _)| have.contains(*flag))
        .fold(MountFlags::BIND | extra, |flags, (_, mount_flag)| {
            flags | mount_flag
        });
    mount_remount(path, flags, "")
}

fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn cstr(text: &str) -> CString {
    CString::new(text).expect("mount options hold no NUL byte")
}

impl fmt::Display for RootfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "app {}: cannot {}: {}", self.app, self.what, self.error)
    }
}

impl std::error::Error for RootfsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
