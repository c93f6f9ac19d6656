//! Starting the program: fork, set the child up, exec.
//!
//! The child is set up between fork and exec, in this order: its own
//! process group (so that a signal to the group reaches the program and
//! everything it starts, as a terminal's Ctrl-C would), the terminal's
//! foreground group, `LISTEN_PID`, signal dispositions, the signal mask last
//! (so that nothing can interrupt the steps before), then exec.

use std::ffi::{CStr, CString, NulError, OsString};
use std::io;
use std::os::unix::ffi::OsStringExt;

use nix::sys::signal::SigSet;
use rustix::process::{Pid, getpid, setpgid};
use rustix::stdio::stdin;
use rustix::termios::tcsetpgrp;

use crate::signals::{self, Inherited, Signal};
use crate::sys::{self, Forked};

/// Exit code of a program that was not found (as shells use it).
pub const NOT_FOUND: u8 = 127;
/// Exit code of a program that was found but could not be executed.
pub const CANNOT_EXECUTE: u8 = 126;

/// The signal state the program starts with.
#[derive(Clone, Debug)]
pub enum SignalState {
    /// Nothing blocked, every disposition default, whatever podinit got.
    Clean,
    /// The mask and ignored signals podinit inherited (tini's behaviour).
    Inherited(Inherited),
}

/// A program to start.
pub struct Program {
    argv: Vec<CString>,
    signal_state: SignalState,
    listen_pid: bool,
}

impl Program {
    /// A program and its arguments; `file` is searched in PATH unless it
    /// holds a `/`, and is also the program's argv[0]. Fails on a NUL byte.
    pub fn new(
        file: OsString,
        args: Vec<OsString>,
        signal_state: SignalState,
    ) -> Result<Program, NulError> {
        let argv = std::iter::once(file).chain(args);
        let argv = argv
            .map(|arg| CString::new(arg.into_vec()))
            .collect::<Result<_, _>>()?;
        Ok(Program {
            argv,
            signal_state,
            listen_pid: false,
        })
    }

    /// Sets `LISTEN_PID` to the program's own pid (socket activation, where
    /// the launcher named podinit's pid).
    pub fn rewrite_listen_pid(&mut self, yes: bool) {
        self.listen_pid = yes;
    }

    /// The program's name as given, for messages.
    pub fn name(&self) -> String {
        self.argv[0].to_string_lossy().into_owned()
    }

    /// Forks and execs the program in its own process group; returns its
    /// pid. Must be called while podinit is single-threaded.
    ///
    /// An exec failure is reported by the child itself, which then exits
    /// with [`NOT_FOUND`] or [`CANNOT_EXECUTE`]: the parent sees it as the
    /// program's exit status, as after a shell's failed exec.
    pub fn spawn(&self) -> io::Result<Pid> {
        match sys::fork()? {
            Forked::Child => self.exec_in_child(),
            Forked::Parent(child) => {
                // Also set the group from this side, so that it exists before
                // the first signal is forwarded to it, whichever process runs
                // first. EACCES means the child has exec'd: it set it itself.
                let _ = setpgid(Some(child), Some(child));
                Ok(child)
            }
        }
    }

    fn exec_in_child(&self) -> ! {
        let _ = setpgid(None, None);
        // Fails harmlessly (ENOTTY) when stdin is not podinit's terminal.
        let _ = tcsetpgrp(stdin(), getpid());
        if self.listen_pid {
            sys::set_env_in_child("LISTEN_PID", &getpid().as_raw_nonzero().to_string());
        }
        let mask = match &self.signal_state {
            SignalState::Clean => {
                reset_dispositions();
                SigSet::empty()
            }
            SignalState::Inherited(inherited) => {
                // XXX: Rust's runtime sets SIGPIPE to "ignore" before main,
                // so the launcher's own setting is unknown here; the program
                // gets the default, which is what nearly every launcher has.
                sys::set_disposition(Signal::PIPE.as_raw(), false);
                if inherited.sigchld_ignored {
                    sys::set_disposition(Signal::CHLD.as_raw(), true);
                }
                inherited.mask
            }
        };
        if let Err(error) = signals::set_mask(&mask) {
            log::error!(
                "cannot restore the signal mask for {}: {error}",
                self.name()
            );
            sys::exit_child(CANNOT_EXECUTE);
        }
        let argv: Vec<&CStr> = self.argv.iter().map(CString::as_c_str).collect();
        let error = match nix::unistd::execvp(argv[0], &argv) {
            Err(errno) => io::Error::from(errno),
            Ok(never) => match never {},
        };
        log::error!("cannot exec {}: {error}", self.name());
        sys::exit_child(exec_failure_code(&error));
    }
}

/// Closes every descriptor above 2 except podinit's own ones in `keep`:
/// what is closed are podinit's copies of those it inherited. Run once the
/// program has its own copies, so that a pipe the launcher handed down
/// reaches EOF when the program closes it.
pub fn close_inherited_fds(keep: &[i32]) -> io::Result<()> {
    sys::close_from(3, keep)
}

/// Sets every signal back to its default action, undoing what podinit's
/// launcher set to "ignore" (exec keeps ignored signals ignored: execve(2)).
fn reset_dispositions() {
    for signo in 1..=sys::max_signal() {
        if signo != Signal::KILL.as_raw() && signo != Signal::STOP.as_raw() {
            sys::set_disposition(signo, false);
        }
    }
}

/// 127 when the program does not exist, 126 when it exists but cannot run.
fn exec_failure_code(error: &io::Error) -> u8 {
    match error.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG | libc::ELOOP) => NOT_FOUND,
        _ => CANNOT_EXECUTE,
    }
}
