//! podinit: a minimal static PID 1.
//!
//! `main` is the lifecycle in order; the README's "What podinit does, in
//! order" lists the same steps with the same numbers (5 to 9 are in
//! `entrypoint::run`). The machine's init leaves at step 3 for
//! `machine::run`, whose steps the README's "Machine init" lists.

mod cli;
mod entrypoint;
mod logger;
#[cfg(feature = "pod")]
mod machine;
#[cfg(feature = "pod")]
mod podmode;
#[cfg(feature = "pod")]
mod stage1;

use std::env;
use std::fmt;
use std::io;
use std::process::ExitCode;

use podinit_supervisor::Pid;
#[cfg(feature = "pod")]
use podinit_supervisor::manifest::ManifestError;
#[cfg(feature = "pod")]
use podinit_supervisor::pod::PodError;
use podinit_supervisor::signals::{self, Signals};
use podinit_supervisor::spawn;
use rustix::process::{getpid, set_child_subreaper};

use crate::cli::{Command, Job, Options, UsageError};

/// podinit's own exit codes; the program's codes, 126, 127 and 128+n pass
/// through unchanged.
pub mod exit {
    /// A bad command line.
    pub const USAGE: u8 = 120;
    /// The pod manifest was refused.
    pub const MANIFEST: u8 = 121;
    /// The pod could not be started (status directory, exit policy; for
    /// stage1 also a missing app root or volume source, an unknown app, a
    /// pod directory file that cannot be read or written).
    pub const POD: u8 = 122;
    /// podinit could not set itself up, or could not fork the program.
    pub const SYSTEM: u8 = 125;
}

fn main() -> ExitCode {
    // 1-2. Block signals before anything else: from here on a signal can
    //    neither kill podinit nor be lost; it waits in the signalfd.
    //    XXX: a machine's init that fails here exits and the kernel
    //    panics; these two calls fail only without signalfd (Linux 2.6.27).
    let (signals, inherited) = match Signals::block_all() {
        Ok(blocked) => blocked,
        Err(error) => return fail(&Error::system("cannot block signals", error)),
    };

    // 3. Logging and the command line.
    let bad_level = logger::init(|name| env::var(name).ok());
    if let Some(text) = bad_level {
        log::warn!("log level {text:?} is not one of off, error, warn, info, debug, trace, 0-5");
    }
    // 3a. A stage1 entrypoint (argv[0] `run`, `enter`, `stop`, `gc`, or
    //    `podinit stage1 ...`) has its own command line and lifecycle.
    #[cfg(feature = "pod")]
    {
        let argv: Vec<std::ffi::OsString> = env::args_os().collect();
        if let Some(selected) = stage1::select(&argv) {
            let result = selected
                .map_err(Error::Usage)
                .and_then(|(entrypoint, args)| stage1::main(entrypoint, args, &signals));
            return finish(result);
        }
    }
    // 3b. The machine's init takes its orders from the kernel command line
    //    instead, and never returns.
    #[cfg(feature = "pod")]
    if machine::is_machine_init() {
        machine::run(signals, env::args_os().skip(1));
    }
    let mut options = match cli::parse(env::args_os().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => return print(cli::USAGE),
        Ok(Command::Version) => return print(concat!("podinit ", env!("CARGO_PKG_VERSION"), "\n")),
        Err(error) => return fail(&Error::Usage(error)),
    };
    options.apply_env(|name| env::var_os(name));
    logger::raise(options.verbose);

    // 4. Become the reaper of every orphan below podinit; hear of the
    //    parent's death (-p).
    if let Err(error) = reap_and_watch_parent(&options) {
        return fail(&error);
    }

    // 5-9. Run the program, or the pod, until it and everything it left
    //    behind are gone.
    let result = match &options.job {
        Job::Program { program, args } => {
            entrypoint::run(&options, program, args, &signals, inherited)
        }
        #[cfg(feature = "pod")]
        Job::Pod(job) => podmode::run(&options, job, &signals),
        #[cfg(not(feature = "pod"))]
        Job::Pod(_) => Err(Error::Usage(UsageError(
            "--pod: this podinit is the slim build, without pod mode".into(),
        ))),
    };
    finish(result)
}

/// The exit code of a finished job, its error reported.
fn finish(result: Result<u8, Error>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => fail(&error),
    }
}

/// Makes podinit the reaper of orphans below it when it is not PID 1, and
/// sets its parent-death signal.
fn reap_and_watch_parent(options: &Options) -> Result<(), Error> {
    if getpid() != Pid::INIT {
        match set_child_subreaper(Some(getpid())) {
            Ok(()) => {}
            Err(errno) if options.subreaper => {
                return Err(Error::system(
                    "cannot become a child subreaper",
                    errno.into(),
                ));
            }
            Err(errno) => log::warn!(
                "not PID 1 and cannot become a child subreaper ({errno}): orphans are not reaped"
            ),
        }
    }
    if let Some(signal) = options.pdeathsig {
        signals::set_parent_death_signal(signal).map_err(|error| {
            Error::system(format!("cannot set parent-death signal {signal}"), error)
        })?;
    }
    Ok(())
}

/// Closes every descriptor podinit inherited but `keep` and the logger's
/// own: nothing of the launcher's reaches a program through podinit.
pub fn close_inherited_fds(keep: &[i32]) {
    let mut keep = keep.to_vec();
    keep.extend(logger::descriptor());
    if let Err(error) = spawn::close_inherited_fds(&keep) {
        log::warn!("cannot close inherited descriptors: {error}");
    }
}

fn print(text: &str) -> ExitCode {
    use std::io::Write;
    let _ = io::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// Reports `error`, the one place errors are printed, and gives its code.
fn fail(error: &Error) -> ExitCode {
    log::error!("{error}");
    ExitCode::from(error.exit_code())
}

/// Why podinit itself failed.
#[derive(Debug)]
pub enum Error {
    Usage(UsageError),
    #[cfg(feature = "pod")]
    Manifest(ManifestError),
    #[cfg(feature = "pod")]
    Pod(PodError),
    #[cfg(feature = "pod")]
    Stage1(stage1::Stage1Error),
    /// A system call podinit needs failed: what it tried, and why.
    System {
        what: String,
        source: io::Error,
    },
}

impl Error {
    pub fn system(what: impl Into<String>, source: io::Error) -> Error {
        Error::System {
            what: what.into(),
            source,
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            #[cfg(feature = "pod")]
            Error::Manifest(_) => exit::MANIFEST,
            #[cfg(feature = "pod")]
            Error::Pod(_) => exit::POD,
            #[cfg(feature = "pod")]
            Error::Stage1(error) => error.exit_code(),
            Error::System { .. } => exit::SYSTEM,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(error) => write!(f, "{error}"),
            #[cfg(feature = "pod")]
            Error::Manifest(error) => write!(f, "{error}"),
            #[cfg(feature = "pod")]
            Error::Pod(error) => write!(f, "{error}"),
            #[cfg(feature = "pod")]
            Error::Stage1(error) => write!(f, "{error}"),
            Error::System { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::System { source, .. } => Some(source),
            _ => None,
        }
    }
}
