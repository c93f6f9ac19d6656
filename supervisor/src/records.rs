//! Status records: what podinit leaves behind, in pod mode, for each app
//! that has exited (stage1 contract, sections 4.6, 4.8 and 8).
//!
//! For every app, when and only when it has exited, the status directory
//! holds two files:
//!
//! - `<app>`: the status as decimal text and a newline (`"143\n"`), the
//!   format `rkt status` reads. Its existence means "the app has exited".
//! - `<app>.json`: one line of JSON and a newline, with these keys in this
//!   order:
//!   - `app`: the app's name;
//!   - `pid`: its pid in the pod, or `null` if it never started;
//!   - `status`: the same number as `<app>`;
//!   - `exitCode`: the code it passed to exit, or `null`;
//!   - `signal`: the signal that killed it (`"SIGTERM"`, `"SIGRTMIN+2"`),
//!     or `null`;
//!   - `started`: when it started, RFC 3339 in UTC with milliseconds
//!     (`"2026-12-04T18:20:01.123Z"`), or `null` if it never started;
//!   - `exited`: when podinit reaped it, same format, or `null`;
//!   - `start`: `"ok"`, or `{"error": "<why it failed to start>"}`.
//!
//! Two records, each one line in the file:
//!
//! ```text
//! {"app":"web","pid":4,"status":143,"exitCode":null,"signal":"SIGTERM",
//!  "started":"2026-12-04T18:20:01.123Z","exited":"2026-12-04T18:21:07.940Z","start":"ok"}
//! {"app":"db","pid":null,"status":127,"exitCode":null,"signal":null,"started":null,
//!  "exited":null,"start":{"error":"cannot execute /bin/pg: No such file or directory"}}
//! ```
//!
//! The status is the exit-code rule of [`ExitStatus::code`] (a code passes,
//! death by signal n is 128 + n). An app that never started has
//! [`NOT_FOUND`] (127), [`CANNOT_EXECUTE`] (126) or [`START_FAILED`] (125).
//!
//! # Crash safety
//!
//! A reader never sees a partial file, even if podinit is killed mid-write:
//! each file is written to a temporary `.<name>.tmp`, flushed with fsync,
//! renamed over its final name (rename(2) is atomic), and the directory is
//! flushed so that the rename itself survives a power loss. The JSON goes
//! first, so whoever sees `<app>` also finds `<app>.json`. A temporary file
//! left by a killed podinit is removed by the next write of the same name.
//!
//! Every write is relative to the directory descriptor taken at
//! [`StatusDir::open`], so a path renamed or replaced afterwards cannot
//! redirect it.
//!
//! # Written once
//!
//! The contract says "write it once, complete, only then": a record for an
//! app whose `<app>` already exists is refused with
//! [`RecordError::AlreadyRecorded`] and changes nothing. A second record is
//! a bug in the caller, and overwriting would let a reader see two
//! different statuses for one exit.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Mode, OFlags};
use serde::Serialize;

pub use crate::spawn::{CANNOT_EXECUTE, NOT_FOUND};
use crate::status::ExitStatus;

/// Status of an app that failed to start for a reason other than its
/// program being missing (127) or not executable (126): a missing working
/// directory, an unknown user, a failed chroot or fork. 125 is podinit's
/// own failure code, and what coreutils' `timeout`, `env` and `chroot` exit
/// with when they fail themselves, next to their 126 and 127.
pub const START_FAILED: u8 = 125;

/// Permissions of every file written (contract, section 3).
const FILE_MODE: u32 = 0o640;

/// The status directory, held open.
#[derive(Debug)]
pub struct StatusDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// What to record about one app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub app: String,
    /// Its pid; `None` when it never started.
    pub pid: Option<u32>,
    pub outcome: Outcome,
}

/// How an app's life went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It started and ended.
    Exited {
        status: ExitStatus,
        started_at: SystemTime,
        exited_at: SystemTime,
    },
    /// It never ran its program; `status` is [`NOT_FOUND`],
    /// [`CANNOT_EXECUTE`] or [`START_FAILED`].
    FailedToStart { reason: String, status: u8 },
}

/// A failed step of opening the status directory or writing a record.
#[derive(Debug)]
pub enum RecordError {
    /// The directory cannot be opened, or is not a directory.
    Open { path: PathBuf, source: io::Error },
    /// A probe file cannot be created or removed in the directory.
    NotWritable { path: PathBuf, source: io::Error },
    /// The app name could be read as a path; `reason` says why.
    BadName { app: String, reason: &'static str },
    /// The app's record already exists.
    AlreadyRecorded { path: PathBuf },
    /// Whether the record exists cannot be checked.
    Check { path: PathBuf, source: io::Error },
    /// A temporary file cannot be created.
    Create { path: PathBuf, source: io::Error },
    /// A temporary file left by a killed podinit cannot be removed.
    Remove { path: PathBuf, source: io::Error },
    /// A temporary file cannot be written.
    Write { path: PathBuf, source: io::Error },
    /// A temporary file or the directory cannot be flushed to disk. For the
    /// directory, the record is visible already, only maybe not durable.
    Sync { path: PathBuf, source: io::Error },
    /// A temporary file cannot be renamed over its final name.
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
}

impl StatusDir {
    /// Opens the status directory and checks, by creating and removing a
    /// probe file, that records can be written in it.
    pub fn open(path: impl Into<PathBuf>) -> Result<StatusDir, RecordError> {
        let path = path.into();
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd =
            rustix::fs::open(&path, flags, Mode::empty()).map_err(|errno| RecordError::Open {
                path: path.clone(),
                source: errno.into(),
            })?;
        let dir = StatusDir { fd, path };
        dir.probe()?;
        Ok(dir)
    }

    /// The directory's path, as given to [`StatusDir::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `<app>.json`, then `<app>`, each complete or not at all.
    pub fn record(&self, record: &Record) -> Result<(), RecordError> {
        check_name(&record.app)?;
        self.refuse_existing(&record.app)?;
        self.replace(&format!("{}.json", record.app), record.json().as_bytes())?;
        self.replace(&record.app, record.rkt_text().as_bytes())
    }

    /// Creates and removes `.podinit-probe-<pid>`, after removing one a
    /// killed podinit with the same pid may have left.
    fn probe(&self) -> Result<(), RecordError> {
        let name = format!(".podinit-probe-{}", std::process::id());
        let _ = rustix::fs::unlinkat(&self.fd, &name, AtFlags::empty());
        let not_writable = |errno: rustix::io::Errno| RecordError::NotWritable {
            path: self.path.clone(),
            source: errno.into(),
        };
        drop(self.create(&name).map_err(not_writable)?);
        rustix::fs::unlinkat(&self.fd, &name, AtFlags::empty()).map_err(not_writable)
    }

    /// Removes the records of `app` left by an earlier run in the same
    /// directory, so that this run can record it; returns whether there
    /// were any. Call before the app starts.
    pub fn clear(&self, app: &str) -> Result<bool, RecordError> {
        check_name(app)?;
        let mut found = false;
        for name in [app.to_owned(), format!("{app}.json")] {
            match rustix::fs::unlinkat(&self.fd, name.as_str(), AtFlags::empty()) {
                Ok(()) => found = true,
                Err(rustix::io::Errno::NOENT) => {}
                Err(errno) => {
                    let path = self.path.join(&name);
                    return Err(RecordError::Remove {
                        path,
                        source: errno.into(),
                    });
                }
            }
        }
        Ok(found)
    }

    /// XXX: checked before writing, not atomically with the final rename:
    /// podinit is the directory's only writer, and renameat2's
    /// RENAME_NOREPLACE, which would close the gap, is not supported by
    /// every filesystem.
    fn refuse_existing(&self, app: &str) -> Result<(), RecordError> {
        match rustix::fs::statat(&self.fd, app, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Err(RecordError::AlreadyRecorded {
                path: self.path.join(app),
            }),
            Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(errno) => Err(RecordError::Check {
                path: self.path.join(app),
                source: errno.into(),
            }),
        }
    }

    /// Puts `contents` under `name` atomically: temporary file, fsync,
    /// rename over `name`, fsync of the directory.
    fn replace(&self, name: &str, contents: &[u8]) -> Result<(), RecordError> {
        let temp = format!(".{name}.tmp");
        let file = self.create_fresh(&temp)?;
        let written = self
            .fill(file, &temp, contents)
            .and_then(|()| self.rename(&temp, name));
        if written.is_err() {
            // Best effort: a leftover is removed by the next write anyway.
            let _ = rustix::fs::unlinkat(&self.fd, &temp, AtFlags::empty());
        }
        written?;
        self.sync_dir()
    }

    /// Creates `name` as a new, empty file with mode 0640, first removing
    /// one a killed podinit may have left. O_EXCL also refuses to follow a
    /// symlink planted under that name.
    fn create_fresh(&self, name: &str) -> Result<File, RecordError> {
        let path = || self.path.join(name);
        match self.create(name) {
            Err(rustix::io::Errno::EXIST) => {
                rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(|errno| {
                    RecordError::Remove {
                        path: path(),
                        source: errno.into(),
                    }
                })?;
                self.create(name)
            }
            created => created,
        }
        .map_err(|errno| RecordError::Create {
            path: path(),
            source: errno.into(),
        })
    }

    fn create(&self, name: &str) -> rustix::io::Result<File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(FILE_MODE))?;
        // The umask may have taken bits away; the contract wants 0640.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(FILE_MODE))?;
        Ok(File::from(fd))
    }

    fn fill(&self, mut file: File, name: &str, contents: &[u8]) -> Result<(), RecordError> {
        let path = || self.path.join(name);
        file.write_all(contents)
            .map_err(|source| RecordError::Write {
                path: path(),
                source,
            })?;
        file.sync_all().map_err(|source| RecordError::Sync {
            path: path(),
            source,
        })
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), RecordError> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(|errno| RecordError::Rename {
            from: self.path.join(from),
            to: self.path.join(to),
            source: errno.into(),
        })
    }

    fn sync_dir(&self) -> Result<(), RecordError> {
        rustix::fs::fsync(&self.fd).map_err(|errno| RecordError::Sync {
            path: self.path.clone(),
            source: errno.into(),
        })
    }
}

/// App names are checked as AC names by the manifest already; this only
/// makes sure that a name cannot leave the directory or hide in it.
fn check_name(app: &str) -> Result<(), RecordError> {
    let reason = if app.is_empty() {
        "is empty"
    } else if app.contains('/') {
        "contains a slash"
    } else if app.starts_with('.') {
        "starts with a dot"
    } else if app.contains('\0') {
        "contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(RecordError::BadName {
        app: app.to_owned(),
        reason,
    })
}

impl Record {
    /// The number both files hold: the exit-code rule for an app that ran,
    /// the failure status for one that did not.
    pub fn status(&self) -> u8 {
        match &self.outcome {
            Outcome::Exited { status, .. } => status.code(),
            Outcome::FailedToStart { status, .. } => *status,
        }
    }

    /// The contents of `<app>`: `"<status>\n"`.
    pub fn rkt_text(&self) -> String {
        format!("{}\n", self.status())
    }

    /// The contents of `<app>.json`: one line of JSON and a newline.
    pub fn json(&self) -> String {
        let mut text = match serde_json::to_string(&self.json_fields()) {
            Ok(text) => text,
            // Strings, numbers and nulls only: serde_json cannot fail on them.
            Err(error) => unreachable!("serialising a status record: {error}"),
        };
        text.push('\n');
        text
    }

    fn json_fields(&self) -> JsonRecord<'_> {
        let mut fields = JsonRecord {
            app: &self.app,
            pid: self.pid,
            status: self.status(),
            exit_code: None,
            signal: None,
            started: None,
            exited: None,
            start: Start::Ok,
        };
        match &self.outcome {
            Outcome::Exited {
                status,
                started_at,
                exited_at,
            } => {
                match status {
                    ExitStatus::Code(code) => fields.exit_code = Some(*code),
                    ExitStatus::Killed(signal) => fields.signal = Some(signal.to_string()),
                }
                fields.started = Some(rfc3339_millis(*started_at));
                fields.exited = Some(rfc3339_millis(*exited_at));
            }
            Outcome::FailedToStart { reason, .. } => fields.start = Start::Error(reason),
        }
        fields
    }
}

/// `<app>.json`, keys in the documented order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonRecord<'a> {
    app: &'a str,
    pid: Option<u32>,
    status: u8,
    exit_code: Option<u8>,
    signal: Option<String>,
    started: Option<String>,
    exited: Option<String>,
    start: Start<'a>,
}

/// `"ok"` or `{"error": "..."}`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Start<'a> {
    Ok,
    Error(&'a str),
}

/// Formats `time` as RFC 3339 in UTC with milliseconds, rounded down:
/// `2026-12-04T18:20:01.123Z`. Years outside 0..=9999 are written with
/// more digits or a sign, which RFC 3339 does not allow; no clock of a
/// running system reads that.
pub fn rfc3339_millis(time: SystemTime) -> String {
    let (secs, millis) = unix_millis(time);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
    )
}

/// Whole seconds since the Unix epoch (negative before it) and the
/// milliseconds after them, both rounded towards the past.
fn unix_millis(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (after.as_secs() as i64, after.subsec_millis()),
        Err(before) => {
            let before = before.duration();
            let secs = -(before.as_secs() as i64);
            match before.subsec_nanos() {
                0 => (secs, 0),
                // 0.25 s before a second is 0.75 s after the one before it.
                nanos => (secs - 1, (1_000_000_000 - nanos) / 1_000_000),
            }
        }
    }
}

/// The proleptic Gregorian date of the day `days` after 1970-01-01.
///
/// Howard Hinnant's "civil_from_days": count from 0000-03-01 so that the
/// leap day falls at the end of a year, split into 400-year eras of
/// 146 097 days (the calendar repeats every era), then find the year of
/// the era, the day of that year, and the month from a linear formula
/// over the March-based months (153 days every 5 months).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let from_march_0000 = days + 719_468;
    let era = from_march_0000.div_euclid(146_097);
    let day_of_era = from_march_0000.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * march_month + 2) / 5 + 1) as u32;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    } as u32;
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RecordError::*;
        match self {
            Open { path, source } => write!(f, "cannot open {}: {source}", path.display()),
            NotWritable { path, source } => {
                write!(f, "cannot write to {}: {source}", path.display())
            }
            BadName { app, reason } => write!(f, "cannot record app {app:?}: its name {reason}"),
            AlreadyRecorded { path } => {
                write!(f, "cannot record {}: already recorded", path.display())
            }
            Check { path, source } => write!(f, "cannot check {}: {source}", path.display()),
            Create { path, source } => write!(f, "cannot create {}: {source}", path.display()),
            Remove { path, source } => write!(f, "cannot remove {}: {source}", path.display()),
            Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            Sync { path, source } => write!(f, "cannot sync {}: {source}", path.display()),
            Rename { from, to, source } => write!(
                f,
                "cannot rename {} to {}: {source}",
                from.display(),
                to.display()
            ),
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        use RecordError::*;
        match self {
            Open { source, .. }
            | NotWritable { source, .. }
            | Check { source, .. }
            | Create { source, .. }
            | Remove { source, .. }
            | Write { source, .. }
            | Sync { source, .. }
            | Rename { source, .. } => Some(source),
            BadName { .. } | AlreadyRecorded { .. } => None,
        }
    }
}
