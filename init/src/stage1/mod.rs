//! podinit as the stage1 of a pod runtime (the rkt contract): the `run`,
//! `enter`, `stop` and `gc` entrypoints.
//!
//! The runtime execs (or starts) an entrypoint by path; in the stage1
//! image those paths are links to the one podinit binary, so the
//! entrypoint is argv[0]'s base name. People reach them as
//! `podinit stage1 <entrypoint> ...`. Every entrypoint runs in the pod
//! directory (its working directory).

mod enter;
mod flags;
mod gc;
mod layout;
mod relay;
mod run;
mod stop;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use podinit_supervisor::namespaces::NamespaceError;
use podinit_supervisor::rootfs::RootfsError;
use podinit_supervisor::signals::Signals;
use podinit_supervisor::volumes::VolumeError;

use crate::cli::UsageError;
use crate::{Error, exit};

/// One of the entrypoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entrypoint {
    Run,
    Enter,
    Stop,
    Gc,
}

impl Entrypoint {
    fn from_name(name: &str) -> Option<Entrypoint> {
        match name {
            "run" => Some(Entrypoint::Run),
            "enter" => Some(Entrypoint::Enter),
            "stop" => Some(Entrypoint::Stop),
            "gc" => Some(Entrypoint::Gc),
            _ => None,
        }
    }
}

/// The entrypoint `argv` asks for and its arguments, if it asks for one:
/// argv[0] named `run`, `enter`, `stop` or `gc`, or `podinit stage1
/// <entrypoint>`. `None` for podinit's own command line.
pub fn select(argv: &[OsString]) -> Option<Result<(Entrypoint, &[OsString]), UsageError>> {
    let name = argv.first().map(Path::new)?.file_name()?.to_str()?;
    if let Some(entrypoint) = Entrypoint::from_name(name) {
        return Some(Ok((entrypoint, &argv[1..])));
    }
    if argv.get(1).is_none_or(|arg| arg != "stage1") {
        return None;
    }
    let Some(wanted) = argv.get(2).map(|arg| arg.to_string_lossy()) else {
        return Some(Err(UsageError(
            "stage1: which entrypoint: run, enter, stop or gc?".into(),
        )));
    };
    Some(match Entrypoint::from_name(&wanted) {
        Some(entrypoint) => Ok((entrypoint, &argv[3..])),
        None => Err(UsageError(format!(
            "stage1: {wanted:?} is not run, enter, stop or gc"
        ))),
    })
}

/// Runs `entrypoint`; returns the code to exit with.
pub fn main(entrypoint: Entrypoint, args: &[OsString], signals: &Signals) -> Result<u8, Error> {
    let args = args.iter().cloned();
    match entrypoint {
        Entrypoint::Run => run::run(args, signals),
        Entrypoint::Enter => enter::enter(args, signals),
        Entrypoint::Stop => stop::stop(args),
        Entrypoint::Gc => gc::gc(args),
    }
}

/// Why an entrypoint failed, before or around the pod itself.
#[derive(Debug)]
pub enum Stage1Error {
    /// An app's root file system is missing.
    MissingRootfs(RootfsError),
    /// A mount into an app's root failed.
    Rootfs(RootfsError),
    Volume(VolumeError),
    Namespace(NamespaceError),
    /// The pod directory names no such app.
    NoSuchApp(String),
    /// A file of the pod directory could not be read or written.
    File {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    /// The pod was never started: it has no `pid` file.
    NotStarted(PathBuf),
}

impl Stage1Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Stage1Error::Namespace(NamespaceError::NotAPod(_)) => exit::POD,
            Stage1Error::Namespace(_) => exit::SYSTEM,
            Stage1Error::Rootfs(_) => exit::SYSTEM,
            Stage1Error::MissingRootfs(_)
            | Stage1Error::Volume(_)
            | Stage1Error::NoSuchApp(_)
            | Stage1Error::File { .. }
            | Stage1Error::NotStarted(_) => exit::POD,
        }
    }
}

impl fmt::Display for Stage1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage1Error::MissingRootfs(error) | Stage1Error::Rootfs(error) => write!(f, "{error}"),
            Stage1Error::Volume(error) => write!(f, "{error}"),
            Stage1Error::Namespace(error) => write!(f, "{error}"),
            Stage1Error::NoSuchApp(app) => write!(f, "the pod has no app {app:?}"),
            Stage1Error::File { what, path, error } => {
                write!(f, "cannot {what} {}: {error}", path.display())
            }
            Stage1Error::NotStarted(path) => {
                write!(f, "the pod was never started: no {}", path.display())
            }
        }
    }
}

impl From<Stage1Error> for Error {
    fn from(error: Stage1Error) -> Error {
        Error::Stage1(error)
    }
}

impl From<UsageError> for Error {
    fn from(error: UsageError) -> Error {
        Error::Usage(error)
    }
}
