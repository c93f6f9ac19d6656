//! Starting the program: fork, set the child up, exec.
//!
//! The child is set up between fork and exec, in this order: its own
//! process group (so that a signal to the group reaches the program and
//! everything it starts, as a terminal's Ctrl-C would), the terminal's
//! foreground group, `LISTEN_PID`, signal dispositions, the signal mask last
//! (so that nothing can interrupt the steps before), then exec.

use std::ffi::{CStr, CString, NulError, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;

use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{Pid, getpid, setpgid};
use rustix::stdio::stdin;
use rustix::termios::tcsetpgrp;

use crate::signals::{self, Inherited, Signal};
pub use crate::sys::Forked;
use crate::sys::{self, KernelSigset};

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

/// A step run in the child before exec (joining a cgroup, changing
/// credentials...). Its error says what failed, for the message.
pub type Step = Box<dyn Fn() -> Result<(), StepError>>;

/// A failed step in the child: "cannot <what>: <error>".
#[derive(Debug)]
pub struct StepError {
    pub what: String,
    pub error: io::Error,
}

/// Exit code of a child whose set-up before exec failed (podinit's own
/// "could not set up" code; 126 and 127 stay with exec failures).
pub const CANNOT_SET_UP: u8 = 125;

/// A program to start.
pub struct Program {
    argv: Vec<CString>,
    /// The environment to exec with; `None` keeps podinit's own.
    env: Option<Vec<CString>>,
    signal_state: SignalState,
    listen_pid: bool,
    foreground: bool,
    steps: Vec<Step>,
    /// What messages from the child start with (`app web`), if anything.
    label: Option<String>,
}

/// A started program.
pub struct Started {
    pub pid: Pid,
    /// Read end of a pipe on which the child writes why it could not start;
    /// end of file without a word means exec succeeded.
    pub report: OwnedFd,
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
            env: None,
            signal_state,
            listen_pid: false,
            foreground: true,
            steps: Vec::new(),
            label: None,
        })
    }

    /// Sets `LISTEN_PID` to the program's own pid (socket activation, where
    /// the launcher named podinit's pid).
    pub fn rewrite_listen_pid(&mut self, yes: bool) {
        self.listen_pid = yes;
    }

    /// Whether the program becomes the terminal's foreground process group
    /// when stdin is a terminal (the default).
    pub fn take_terminal(&mut self, yes: bool) {
        self.foreground = yes;
    }

    /// Execs with exactly `env` (`NAME=value` strings) instead of podinit's
    /// environment; a file without `/` is then searched in `env`'s `PATH`.
    pub fn set_env(&mut self, env: &[(String, String)]) -> Result<(), NulError> {
        let env = env
            .iter()
            .map(|(name, value)| CString::new(format!("{name}={value}")));
        self.env = Some(env.collect::<Result<_, _>>()?);
        Ok(())
    }

    /// Adds a step the child runs before exec, after its process group and
    /// before its signal state is reset.
    pub fn before_exec(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Starts the child's messages with `label` (`app web: cannot exec...`).
    pub fn set_label(&mut self, label: String) {
        self.label = Some(label);
    }

    /// The program's name as given, for messages.
    pub fn name(&self) -> String {
        self.argv[0].to_string_lossy().into_owned()
    }

    /// Forks and execs the program in its own process group; returns its
    /// pid. Must be called while podinit is single-threaded.
    ///
    /// A failure in the child is reported by the child itself, which then
    /// exits with [`NOT_FOUND`], [`CANNOT_EXECUTE`] or [`CANNOT_SET_UP`]:
    /// the parent sees it as the program's exit status, as after a shell's
    /// failed exec.
    pub fn spawn(&self) -> io::Result<Pid> {
        self.fork(None)
    }

    /// As [`Program::spawn`], and the child also writes why it could not
    /// start on a pipe whose read end is returned.
    pub fn spawn_reporting(&self) -> io::Result<Started> {
        let (report, write_end) = pipe_with(PipeFlags::CLOEXEC)?;
        let pid = self.fork(Some(&write_end))?;
        Ok(Started { pid, report })
    }

    fn fork(&self, report: Option<&OwnedFd>) -> io::Result<Pid> {
        match sys::fork()? {
            Forked::Child => self.exec_in_child(report),
            Forked::Parent(child) => {
                // Also set the group from this side, so that it exists before
                // the first signal is forwarded to it, whichever process runs
                // first. EACCES means the child has exec'd: it set it itself.
                let _ = setpgid(Some(child), Some(child));
                Ok(child)
            }
        }
    }

    fn exec_in_child(&self, report: Option<&OwnedFd>) -> ! {
        let fail = |what: String, error: io::Error, code: u8| -> ! {
            let message = format!("cannot {what}: {error}");
            if let Some(report) = report {
                let _ = rustix::io::write(report, message.as_bytes());
            }
            match &self.label {
                Some(label) => log::error!("{label}: {message}"),
                None => log::error!("{message}"),
            }
            sys::exit_child(code)
        };
        let _ = setpgid(None, None);
        if self.foreground {
            // Fails harmlessly (ENOTTY) when stdin is not podinit's terminal.
            let _ = tcsetpgrp(stdin(), getpid());
        }
        if self.listen_pid {
            sys::set_env_in_child("LISTEN_PID", &getpid().as_raw_nonzero().to_string());
        }
        for step in &self.steps {
            if let Err(StepError { what, error }) = step() {
                fail(what, error, CANNOT_SET_UP);
            }
        }
        if let Err(error) = self.reset_signals() {
            fail(
                format!("restore the signal mask for {}", self.name()),
                error,
                CANNOT_SET_UP,
            );
        }
        let error = self.exec();
        let code = exec_failure_code(&error);
        fail(format!("exec {}", self.name()), error, code);
    }

    /// Gives the child the signal state it should start with; the mask is
    /// set last, so nothing can interrupt the steps before.
    fn reset_signals(&self) -> io::Result<()> {
        let mask = match &self.signal_state {
            SignalState::Clean => {
                reset_dispositions();
                KernelSigset(0)
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
        signals::set_mask(mask)
    }

    /// Execs the program; returns only the error of a failed exec.
    fn exec(&self) -> io::Error {
        let argv: Vec<&CStr> = self.argv.iter().map(CString::as_c_str).collect();
        match &self.env {
            None => match nix::unistd::execvp(argv[0], &argv) {
                Err(errno) => io::Error::from(errno),
                Ok(never) => match never {},
            },
            Some(env) => exec_in_path(&argv, env),
        }
    }
}

/// execve with an explicit environment, searching `argv[0]` in that
/// environment's `PATH` as execvp(3) would search podinit's own: the first
/// directory where it exists wins; "not found" only if it exists nowhere.
fn exec_in_path(argv: &[&CStr], env: &[CString]) -> io::Error {
    let file = argv[0].to_bytes();
    let candidates: Vec<Vec<u8>> = if file.contains(&b'/') {
        vec![file.to_vec()]
    } else {
        search_path(env)
            .split(|&b| b == b':')
            .map(|dir| join(dir, file))
            .collect()
    };
    let mut error = io::Error::from_raw_os_error(libc::ENOENT);
    for candidate in candidates {
        let Ok(path) = CString::new(candidate) else {
            continue;
        };
        let errno = match nix::unistd::execve(&path, argv, env) {
            Err(errno) => errno,
            Ok(never) => match never {},
        };
        // Keep the most telling error: a file that exists but cannot run
        // says more than the directories where it is missing.
        if !matches!(
            errno,
            nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR
        ) {
            error = io::Error::from(errno);
        }
    }
    error
}

/// The value of `PATH` in `env`, or the appc default.
fn search_path(env: &[CString]) -> &[u8] {
    env.iter()
        .find_map(|entry| entry.to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

fn join(dir: &[u8], file: &[u8]) -> Vec<u8> {
    let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
    [dir, b"/", file].concat()
}

/// fork(2) without exec: the child goes on running podinit (the pod's
/// PID 1 in a new PID namespace). The caller must be single-threaded,
/// which podinit always is.
pub fn fork() -> io::Result<Forked> {
    sys::fork()
}

/// Marks descriptor `fd`, inherited by number, close-on-exec, so that no
/// program podinit starts gets it; EBADF when it is not open.
pub fn keep_from_exec(fd: i32) -> io::Result<()> {
    sys::set_cloexec(fd)
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
