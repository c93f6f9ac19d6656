//! podinit: a minimal static PID 1.
//!
//! `main` is the lifecycle in order; the README's "What podinit does, in
//! order" lists the same steps.

mod cli;
mod entrypoint;
mod logger;

use std::env;
use std::fmt;
use std::io;
use std::process::ExitCode;

use podinit_supervisor::signals::Signals;

use crate::cli::{Command, UsageError};

/// podinit's own exit codes; the program's codes, 126, 127 and 128+n pass
/// through unchanged.
pub mod exit {
    /// A bad command line.
    pub const USAGE: u8 = 120;
    /// podinit could not set itself up, or could not fork the program.
    pub const SYSTEM: u8 = 125;
}

fn main() -> ExitCode {
    // 1. Block signals before anything else: from here on a signal can
    //    neither kill podinit nor be lost; it waits in the signalfd.
    let (signals, inherited) = match Signals::block_all() {
        Ok(blocked) => blocked,
        Err(error) => return fail(&Error::system("cannot block signals", error)),
    };

    // 2. Logging and the command line.
    let bad_level = logger::init(|name| env::var(name).ok());
    if let Some(text) = bad_level {
        log::warn!("log level {text:?} is not one of off, error, warn, info, debug, trace, 0-5");
    }
    let mut options = match cli::parse(env::args_os().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => return print(cli::USAGE),
        Ok(Command::Version) => return print(concat!("podinit ", env!("CARGO_PKG_VERSION"), "\n")),
        Err(error) => return fail(&Error::Usage(error)),
    };
    options.apply_env(|name| env::var_os(name));
    logger::raise(options.verbose);

    // 3. Run the program until it and everything it left behind are gone.
    match entrypoint::run(&options, &signals, inherited) {
        Ok(code) => ExitCode::from(code),
        Err(error) => fail(&error),
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
            Error::System { .. } => exit::SYSTEM,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(error) => write!(f, "{error}"),
            Error::System { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Usage(_) => None,
            Error::System { source, .. } => Some(source),
        }
    }
}
