//! What an app runs as: its user, group and supplementary groups, resolved
//! against the app's own root, and set in the forked child before exec.
//!
//! This module owns no process state until [`apply`], which the spawner
//! calls in the child. Resolution follows the stage1 contract (section 6),
//! for the user and the group alike:
//!
//! 1. a name in the root's own `/etc/passwd` (user) or `/etc/group` (group),
//!    parsed here: the host's NSS databases describe another root;
//! 2. else a decimal number;
//! 3. else, for a string starting with `/`, the owner (user) or group
//!    (group) of that path inside the root.
//!
//! Anything else is an error for that app, never a fall-back to root. So
//! is a database that exists but cannot be read (not a regular file, over
//! [`MAX_DATABASE_BYTES`], an I/O error), even for a number or a path: the
//! name lookup comes first, and podinit does not guess past a failed one.
//! A missing database is an empty one (a `scratch` image has no `/etc`).
//!
//! The group is never taken from the user's `/etc/passwd` line: appc names
//! it separately, and [`App::group`](crate::manifest::App::group) gives
//! `"0"` when the manifest leaves it out. Supplementary groups are likewise
//! exactly the manifest's `supplementaryGIDs`, numeric and used as given,
//! even when the user is a name: the memberships listed in `/etc/group` are
//! not added (appc semantics: the list is explicit, and an empty one clears
//! the groups the child inherited from podinit).
//!
//! Files are opened inside the root with openat2(2) and `RESOLVE_IN_ROOT`,
//! which resolves every symbolic link and `..` as if the root were `/`: an
//! absolute link such as `/etc/passwd -> /host/etc/passwd` lands inside the
//! root, as the app itself would see it after chroot, and never on the host.
//! Kernels before 5.6 lack openat2; there, each component is opened with
//! `O_NOFOLLOW`, so a symbolic link anywhere on the path, or a `..`, is
//! refused rather than followed (see `open_in_root`).

use std::error::Error;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::Stat;
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, fstat, open, openat, openat2};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use rustix::thread::{set_thread_gid, set_thread_groups, set_thread_uid};

/// The largest `/etc/passwd` or `/etc/group` read: far beyond any real
/// image, small enough that a hostile one cannot exhaust PID 1's memory.
pub const MAX_DATABASE_BYTES: u64 = 4 << 20;

/// How many more times openat2 is tried when it reports a race (EAGAIN).
const OPENAT2_RETRIES: usize = 3;

/// The ids an app runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Set with setgroups(2), in this order; may be empty.
    pub supplementary: Vec<u32>,
}

/// Which id a [`CredentialError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    User,
    Group,
    SupplementaryGroup,
}

/// The id asked for, as written in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub kind: IdKind,
    pub value: String,
}

/// Why a user or group could not be resolved.
#[derive(Debug)]
pub enum CredentialError {
    /// Not a name in the database, not a number, not a path.
    NotFound {
        id: Wanted,
        file: PathBuf,
        file_missing: bool,
    },
    /// 4294967295 is (uid_t)-1, which setuid(2) and setgroups(2) refuse.
    ReservedId { id: Wanted },
    /// `/etc/passwd` or `/etc/group` exists but could not be read.
    ReadDatabase {
        id: Wanted,
        file: PathBuf,
        source: io::Error,
    },
    /// The database is a directory, FIFO, device node...: never opened for
    /// reading, since a FIFO would block PID 1 and a device can act when
    /// opened.
    NotRegularFile { id: Wanted, file: PathBuf },
    /// The database is larger than [`MAX_DATABASE_BYTES`].
    TooLarge { id: Wanted, file: PathBuf },
    /// The path whose owner was asked for could not be opened in the root.
    PathOwner {
        id: Wanted,
        root: PathBuf,
        source: io::Error,
    },
}

/// Resolves `user`, `group` and the supplementary GIDs of an app whose root
/// is `root` (the host path of `opt/stage2/<app>/rootfs`).
pub fn resolve(
    root: &Path,
    user: &str,
    group: &str,
    supplementary: &[u32],
) -> Result<Credentials, CredentialError> {
    let uid = resolve_one(root, Wanted::new(IdKind::User, user))?;
    let gid = resolve_one(root, Wanted::new(IdKind::Group, group))?;
    if let Some(&bad) = supplementary.iter().find(|&&g| g == u32::MAX) {
        let id = Wanted::new(IdKind::SupplementaryGroup, &bad.to_string());
        return Err(CredentialError::ReservedId { id });
    }
    Ok(Credentials {
        uid,
        gid,
        supplementary: supplementary.to_vec(),
    })
}

/// Sets the credentials of the calling process: setgroups, setgid, setuid,
/// in that order. setuid comes last because the other two need CAP_SETGID,
/// which a setuid away from root clears from the effective set.
///
/// For the forked child before exec. rustix issues the raw system calls,
/// which change the calling thread only (musl's setuid(3) instead signals
/// every thread to change them all); in a child of fork(2), which has one
/// thread, the two are the same. As root, each call sets the real,
/// effective and saved ids alike.
///
/// Allocates once (the group list), which the single-threaded child of
/// [`crate::spawn`] may do.
pub fn apply(creds: &Credentials) -> io::Result<()> {
    // `from_raw_unchecked`: a hand-built -1 is refused by the kernel with
    // EINVAL rather than tripping rustix's debug assertion in the child.
    let groups: Vec<Gid> = creds
        .supplementary
        .iter()
        .map(|&g| Gid::from_raw_unchecked(g))
        .collect();
    set_thread_groups(&groups)?;
    set_thread_gid(Gid::from_raw_unchecked(creds.gid))?;
    set_thread_uid(Uid::from_raw_unchecked(creds.uid))?;
    Ok(())
}

impl Wanted {
    fn new(kind: IdKind, value: &str) -> Wanted {
        Wanted {
            kind,
            value: value.to_owned(),
        }
    }

    /// The database names are looked up in, relative to the root.
    fn database(&self) -> &'static str {
        match self.kind {
            IdKind::User => "etc/passwd",
            IdKind::Group | IdKind::SupplementaryGroup => "etc/group",
        }
    }
}

/// One user or group, by the contract's order: name, number, path.
fn resolve_one(root: &Path, id: Wanted) -> Result<u32, CredentialError> {
    let file = root.join(id.database());
    let database = read_database(root, &id, &file)?;
    if let Some(found) = database
        .as_deref()
        .and_then(|db| find_id(db, id.value.as_bytes()))
    {
        return Ok(found);
    }
    if let Some(number) = decimal(id.value.as_bytes()) {
        return match number {
            u32::MAX => Err(CredentialError::ReservedId { id }),
            number => Ok(number),
        };
    }
    if id.value.starts_with('/') {
        return path_owner(root, id);
    }
    let file_missing = database.is_none();
    Err(CredentialError::NotFound {
        id,
        file,
        file_missing,
    })
}

/// The whole database, or `None` when the root has no such file (a
/// `scratch` image holds no `/etc`).
fn read_database(
    root: &Path,
    id: &Wanted,
    file: &Path,
) -> Result<Option<Vec<u8>>, CredentialError> {
    let (id, file) = (id.clone(), file.to_owned());
    read_regular(root, id.database()).map_err(|error| match error {
        ReadError::Io(source) => CredentialError::ReadDatabase { id, file, source },
        ReadError::NotRegular => CredentialError::NotRegularFile { id, file },
        ReadError::TooLarge => CredentialError::TooLarge { id, file },
    })
}

/// Why [`read_regular`] failed.
enum ReadError {
    Io(io::Error),
    NotRegular,
    TooLarge,
}

/// Reads a regular file of at most [`MAX_DATABASE_BYTES`] inside the root.
///
/// The file is looked at through `O_PATH`, which does not reach the file's
/// driver, before it is opened for reading: opening a FIFO would block PID 1, and opening a
/// device node can act (a watchdog starts counting down, a tape rewinds).
fn read_regular(root: &Path, relative: &str) -> Result<Option<Vec<u8>>, ReadError> {
    let probe = match open_in_root(root, relative, OFlags::PATH) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        result => result.map_err(ReadError::Io)?,
    };
    let identity = regular_identity(&probe)?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = open_in_root(root, relative, flags).map_err(ReadError::Io)?;
    // XXX: whoever can write the app's image while podinit sets it up
    // could swap the file between the two opens; this check then refuses
    // it, but after the open. Reopening `/proc/self/fd/<probe>` would close
    // the gap, at the cost of needing /proc in podinit's own root.
    if regular_identity(&fd)? != identity {
        let replaced = io::Error::other("replaced while being opened");
        return Err(ReadError::Io(replaced));
    }
    let mut bytes = Vec::new();
    let mut limited = File::from(fd).take(MAX_DATABASE_BYTES + 1);
    limited.read_to_end(&mut bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_DATABASE_BYTES {
        return Err(ReadError::TooLarge);
    }
    Ok(Some(bytes))
}

/// The device and inode of a regular file.
fn regular_identity(fd: &OwnedFd) -> Result<(u64, u64), ReadError> {
    let stat = fstat(fd).map_err(|e| ReadError::Io(e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(ReadError::NotRegular);
    }
    Ok((stat.st_dev, stat.st_ino))
}

/// The id (third field) of the first entry named `name` in a passwd or
/// group database. Both formats start `name:password:id:` (passwd lines
/// have seven fields, group lines four; podinit asks only that one more
/// field follow the id). Lines that are empty, comments, NIS `+`/`-`
/// entries, short, or whose id is not a plain decimal are skipped, as the
/// C library's parsers skip them.
fn find_id(database: &[u8], name: &[u8]) -> Option<u32> {
    if name.is_empty() {
        return None;
    }
    database
        .split(|&b| b == b'\n')
        .filter_map(entry)
        .find(|(entry_name, _)| *entry_name == name)
        .map(|(_, id)| id)
}

/// `(name, id)` of one well-formed line.
fn entry(line: &[u8]) -> Option<(&[u8], u32)> {
    let mut fields = line.split(|&b| b == b':');
    let name = fields.next()?;
    let id = fields.nth(1)?;
    // At least one field follows the id: a group's members, a user's gid.
    fields.next()?;
    let first = *name.first()?;
    if matches!(first, b'#' | b'+' | b'-') {
        return None;
    }
    decimal(id)
        .filter(|&id| id != u32::MAX)
        .map(|id| (name, id))
}

/// A plain decimal: ASCII digits only (no sign, no space), within u32.
fn decimal(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The owner (for a user) or group (for a group) of `id.value`, a path
/// inside the root. The last component is followed if it is a symbolic
/// link, inside the root, as stat(2) would.
fn path_owner(root: &Path, id: Wanted) -> Result<u32, CredentialError> {
    let stat = open_in_root(root, &id.value, OFlags::PATH)
        .and_then(|fd| fstat(&fd).map_err(io::Error::from));
    match stat {
        Ok(Stat { st_uid, .. }) if id.kind == IdKind::User => Ok(st_uid),
        Ok(Stat { st_gid, .. }) => Ok(st_gid),
        Err(source) => Err(CredentialError::PathOwner {
            id,
            root: root.to_owned(),
            source,
        }),
    }
}

/// Opens `path` (absolute or relative: both are taken from `root`) without
/// ever leaving `root`.
///
/// openat2(2) with `RESOLVE_IN_ROOT` is chosen over checking each
/// component by hand because the kernel does the resolution atomically:
/// no component can be swapped for a link between a check and the open,
/// and links that stay in the root, common in images
/// (`/etc/passwd -> ../usr/share/...`), still work. `RESOLVE_NO_MAGICLINKS`
/// also refuses `/proc/<pid>/root`-style links, which would jump out.
pub(crate) fn open_in_root(root: &Path, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dir = open(root, dir_flags, Mode::empty())?;
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() { "." } else { relative };
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let flags_in = flags | OFlags::CLOEXEC;
    // EAGAIN: a rename raced with a `..` and the kernel could not prove
    // the walk stayed inside; openat2(2) says to retry.
    let mut result = openat2(&dir, relative, flags_in, Mode::empty(), resolve);
    for _ in 0..OPENAT2_RETRIES {
        if !matches!(result, Err(Errno::AGAIN)) {
            break;
        }
        result = openat2(&dir, relative, flags_in, Mode::empty(), resolve);
    }
    match result {
        Err(Errno::NOSYS) => open_without_links(dir, relative, flags).map_err(io::Error::from),
        result => result.map_err(io::Error::from),
    }
}

/// For kernels without openat2: walks `relative` one component at a time
/// with `O_NOFOLLOW`, refusing `..` (EXDEV, as openat2's `RESOLVE_BENEATH`
/// does) and any symbolic link (ELOOP or ENOTDIR): podinit cannot resolve
/// a link inside the root by hand without racing the app's image.
fn open_without_links(dir: OwnedFd, relative: &str, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let mut parts: Vec<&str> = relative
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(Errno::XDEV);
    }
    let Some(last) = parts.pop() else {
        return Ok(dir);
    };
    let step_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = dir;
    for part in parts {
        dir = openat(&dir, part, step_flags, Mode::empty())?;
    }
    let fd = openat(
        &dir,
        last,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // O_PATH | O_NOFOLLOW opens a link itself instead of failing.
    if FileType::from_raw_mode(fstat(fd.as_fd())?.st_mode) == FileType::Symlink {
        return Err(Errno::LOOP);
    }
    Ok(fd)
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::User => "user",
            IdKind::Group => "group",
            IdKind::SupplementaryGroup => "supplementary group",
        })
    }
}

/// Shows `user "alice"`, the value quoted and escaped as Rust strings are.
impl fmt::Display for Wanted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.value)
    }
}

impl CredentialError {
    /// The user or group that failed.
    pub fn wanted(&self) -> &Wanted {
        match self {
            CredentialError::NotFound { id, .. }
            | CredentialError::ReservedId { id }
            | CredentialError::ReadDatabase { id, .. }
            | CredentialError::NotRegularFile { id, .. }
            | CredentialError::TooLarge { id, .. }
            | CredentialError::PathOwner { id, .. } => id,
        }
    }
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.wanted())?;
        match self {
            CredentialError::NotFound {
                file,
                file_missing: false,
                ..
            } => write!(f, "not in {} and not a number", file.display()),
            CredentialError::NotFound { file, .. } => {
                write!(f, "not a number, and {} does not exist", file.display())
            }
            CredentialError::ReservedId { .. } => f.write_str("4294967295 is (uid_t)-1, not an id"),
            CredentialError::ReadDatabase { file, source, .. } => {
                write!(f, "failed to read {}: {source}", file.display())
            }
            CredentialError::NotRegularFile { file, .. } => {
                write!(f, "{} is not a regular file", file.display())
            }
            CredentialError::TooLarge { file, .. } => {
                let mib = MAX_DATABASE_BYTES >> 20;
                write!(f, "{} is larger than {mib} MiB", file.display())
            }
            CredentialError::PathOwner { root, source, .. } => {
                write!(f, "failed to open it inside {}: {source}", root.display())
            }
        }
    }
}

impl Error for CredentialError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CredentialError::ReadDatabase { source, .. }
            | CredentialError::PathOwner { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_well_formed_entry_wins() {
        let db = b"root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/:/bin/false\nweb:x:99:99::/:/x\n";
        assert_eq!(find_id(db, b"web"), Some(33));
        assert_eq!(find_id(db, b"root"), Some(0));
        assert_eq!(find_id(db, b"nobody"), None);
        assert_eq!(find_id(db, b""), None);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let db = b"#web:x:1:1::/:/bin/sh\n\
                   web\n\
                   web:x\n\
                   web:x:2\n\
                   web:x:-3:3::/:/bin/sh\n\
                   web:x:+4:4::/:/bin/sh\n\
                   web:x: 5:5::/:/bin/sh\n\
                   web:x:4294967295:0::/:/bin/sh\n\
                   web:x:99999999999:0::/:/bin/sh\n\
                   +web:x:6:6::/:/bin/sh\n\
                   :x:7:7::/:/bin/sh\n\
                   web:x:8:8::/:/bin/sh\r\n";
        assert_eq!(find_id(db, b"web"), Some(8));
        assert_eq!(find_id(db, b"+web"), None);
    }

    #[test]
    fn group_lines_have_four_fields() {
        let db = b"wheel:x:10:alice,bob\nstaff:x:50:\n";
        assert_eq!(find_id(db, b"wheel"), Some(10));
        assert_eq!(find_id(db, b"staff"), Some(50));
    }

    #[test]
    fn binary_garbage_does_not_panic() {
        let db: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        assert_eq!(find_id(&db, b"web"), None);
        assert_eq!(find_id(b"\xff\xfe:x:1:1\n", b"\xff\xfe"), Some(1));
    }

    #[test]
    fn decimals_are_plain_digits() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"001000"), Some(1000));
        assert_eq!(decimal(b"4294967295"), Some(u32::MAX));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"4294967296",
            b"0x10",
            b"\xd9\xa3",
        ] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn walk_without_links_refuses_links_and_dotdot() {
        let root = tempdir("walk");
        std::fs::create_dir_all(root.join("etc/sub")).unwrap();
        std::fs::write(root.join("etc/passwd"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        std::os::unix::fs::symlink("passwd", root.join("etc/alias")).unwrap();
        let open = |rel: &str| {
            let dir = rustix::fs::open(&root, OFlags::PATH | OFlags::DIRECTORY, Mode::empty());
            open_without_links(dir.unwrap(), rel, OFlags::PATH)
        };
        assert!(open("etc/passwd").is_ok());
        assert!(open("./etc//sub/").is_ok());
        assert!(open("").is_ok());
        assert_eq!(open("etc/../etc/passwd").err(), Some(Errno::XDEV));
        assert_eq!(open("link/passwd").err(), Some(Errno::NOTDIR));
        assert_eq!(open("etc/alias").err(), Some(Errno::LOOP));
        assert_eq!(open("link").err(), Some(Errno::LOOP));
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("podinit-cred-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
