//! Container-init mode: one program, supervised until it exits, then
//! everything it left behind stopped, then its status returned.

use std::ffi::OsString;
use std::time::Instant;

use podinit_supervisor::Pid;
use podinit_supervisor::leftovers::{self, Scope};
use podinit_supervisor::reap::reap_exited;
use podinit_supervisor::signals::{self, Inherited, Received, Signal, Signals, Target};
use podinit_supervisor::spawn::{Program, SignalState};
use podinit_supervisor::status::ExitStatus;
use rustix::process::getpid;

use crate::Error;
use crate::cli::{Forward, Options};

/// Signals after which `--stop-timeout` starts counting.
const STOP_SIGNALS: [Signal; 4] = [Signal::TERM, Signal::INT, Signal::QUIT, Signal::HUP];

/// Runs the program; returns the exit code podinit should exit with.
pub fn run(
    options: &Options,
    program: &OsString,
    args: &[OsString],
    signals: &Signals,
    inherited: Inherited,
) -> Result<u8, Error> {
    // 5. Start the program.
    let program = make_program(options, program, args, inherited)?;
    let child = match program.spawn() {
        Ok(child) => child,
        Err(error) => {
            let error = Error::system(format!("cannot fork {}", program.name()), error);
            // Whatever is already running below podinit is still reaped.
            stop_leftovers(options, signals)?;
            return Err(error);
        }
    };
    log::debug!(
        "started {} as pid {}",
        program.name(),
        child.as_raw_nonzero()
    );

    // 6. The program holds its own copies of inherited descriptors now.
    crate::close_inherited_fds(&[signals.raw_fd()]);

    // 7. From here on podinit must not die before the program does: the loop
    // records and carries on, and only a failing signalfd ends it.
    let status = Supervision::new(options, &program, child).run(signals)?;
    log::debug!("{} ended: {status}", program.name());

    // 8. Stop and reap whatever it left behind.
    stop_leftovers(options, signals)?;

    // 9. Its status is podinit's.
    Ok(exit_code(options, status))
}

fn make_program(
    options: &Options,
    file: &OsString,
    args: &[OsString],
    inherited: Inherited,
) -> Result<Program, Error> {
    let signal_state = if options.keep_signals {
        SignalState::Inherited(inherited)
    } else {
        SignalState::Clean
    };
    let mut program = Program::new(file.clone(), args.to_vec(), signal_state).map_err(|_| {
        let usage = format!("{file:?}: an argument holds a NUL byte");
        Error::Usage(crate::cli::UsageError(usage))
    })?;
    let own_pid = getpid().as_raw_nonzero().to_string();
    program.rewrite_listen_pid(std::env::var("LISTEN_PID").is_ok_and(|pid| pid == own_pid));
    Ok(program)
}

/// Stops and reaps every process left below podinit.
pub fn stop_leftovers(options: &Options, signals: &Signals) -> Result<(), Error> {
    let mut orphans = 0u64;
    let result = leftovers::stop_all(signals, Scope::here(), options.grace, |_, _| orphans += 1);
    if orphans > 0 {
        log::debug!("reaped {orphans} leftover processes");
    }
    result.map_err(|error| Error::system("cannot stop leftover processes", error))
}

/// podinit's exit code for the program's status: its code, 128+n for a
/// signal, 0 for a code named by `-e`.
fn exit_code(options: &Options, status: ExitStatus) -> u8 {
    let code = status.code();
    if options.expect_exit.contains(&code) {
        0
    } else {
        code
    }
}

/// The supervision loop's state while the program runs.
struct Supervision<'a> {
    options: &'a Options,
    name: String,
    child: Pid,
    target: Target,
    own_pid: u32,
    /// When to SIGKILL the program after a forwarded stop signal.
    kill_at: Option<Instant>,
}

impl<'a> Supervision<'a> {
    fn new(options: &'a Options, program: &Program, child: Pid) -> Supervision<'a> {
        let target = match options.forward {
            Forward::Group => Target::Group(child),
            Forward::Child => Target::Process(child),
        };
        Supervision {
            options,
            name: program.name(),
            child,
            target,
            own_pid: getpid().as_raw_nonzero().get() as u32,
            kill_at: None,
        }
    }

    /// Waits for signals until the program has exited; returns its status.
    fn run(mut self, signals: &Signals) -> Result<ExitStatus, Error> {
        loop {
            let received = signals
                .next(self.kill_at)
                .map_err(|error| Error::system("cannot read signals", error))?;
            match received {
                None => self.kill_after_stop_timeout(),
                Some(received) if received.signal == Signal::CHLD => {
                    if let Some(status) = self.reap() {
                        return Ok(status);
                    }
                }
                Some(received) => self.forward(received),
            }
        }
    }

    /// Reaps everything that exited; the program's status if it did.
    fn reap(&self) -> Option<ExitStatus> {
        let mut program_status = None;
        let mut orphans = 0u32;
        let reaped = reap_exited(|pid, status| {
            if pid == self.child {
                program_status = Some(status);
            } else {
                orphans += 1;
                log::trace!("reaped orphan {}: {status}", pid.as_raw_nonzero());
            }
        });
        if let Err(error) = reaped {
            log::error!("cannot reap children: {error}");
        }
        if orphans > 0 {
            log::debug!("reaped {orphans} orphans");
        }
        program_status
    }

    fn forward(&mut self, received: Received) {
        if received.signal == Signal::PIPE && received.sender == self.own_pid {
            // podinit wrote to a closed stderr: that concerns podinit, not
            // the program. Other signals from podinit's own pid are
            // forwarded: they were raised by the launcher before it exec'd
            // podinit, and were pending since.
            return;
        }
        let Some(signal) = self.options.rewrite(received.signal) else {
            log::debug!("dropped {}", received.signal);
            return;
        };
        log::debug!("forwarding {signal} to {}", self.name);
        if let Err(error) = signals::send(self.target, signal) {
            log::debug!("cannot forward {signal} to {}: {error}", self.name);
        }
        if let Some(timeout) = self.options.stop_timeout {
            if self.kill_at.is_none() && STOP_SIGNALS.contains(&signal) {
                self.kill_at = signals::deadline_after(timeout);
            }
        }
    }

    fn kill_after_stop_timeout(&mut self) {
        let killed = signals::send(self.target, Signal::KILL);
        log::warn!("{} outlived --stop-timeout: sent SIGKILL", self.name);
        if let Err(error) = killed {
            log::debug!("cannot kill {}: {error}", self.name);
        }
        self.kill_at = None;
    }
}
