//! The process the runtime exec'd, waiting outside: every signal it gets
//! goes on to its one child (the pod's PID 1, or the command `enter`
//! runs), and the child's status becomes its own.

use podinit_supervisor::Pid;
use podinit_supervisor::reap::reap_exited;
use podinit_supervisor::signals::{self, Signal, Signals, Target};
use rustix::process::getpid;

use crate::Error;

/// Relays signals to `child` until it has exited; returns its status by
/// the exit-code rule (its code, or 128+n for signal n).
pub fn until_exit(child: Pid, signals: &Signals) -> Result<u8, Error> {
    let own_pid = getpid().as_raw_nonzero().get() as u32;
    loop {
        let next = signals.next(None);
        let Some(received) = next.map_err(|error| Error::system("cannot read signals", error))?
        else {
            continue;
        };
        if received.signal == Signal::CHLD {
            let mut code = None;
            let reaped = reap_exited(|pid, status| {
                if pid == child {
                    code = Some(status.code());
                }
            });
            if let Err(error) = reaped {
                return Err(Error::system("cannot reap the pod", error));
            }
            if let Some(code) = code {
                return Ok(code);
            }
            continue;
        }
        // A SIGPIPE this process raised itself, writing to a closed
        // stderr, concerns nobody else.
        if received.signal == Signal::PIPE && received.sender == own_pid {
            continue;
        }
        log::debug!("relaying {} to {}", received.signal, child.as_raw_nonzero());
        if let Err(error) = signals::send(Target::Process(child), received.signal) {
            log::debug!("cannot relay {}: {error}", received.signal);
        }
    }
}
