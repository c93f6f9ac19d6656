//! Signals: their names, and the one descriptor podinit receives them on.
//!
//! podinit installs no signal handler. It blocks every signal it can and
//! reads them from a signalfd in its one loop, so a signal is never lost
//! between two checks and no work runs in a handler. The exceptions are
//! the signals the kernel raises for podinit's own faults: blocking those
//! would turn a crash into a hang (see signal(7), "synchronously generated").

use std::fmt;
use std::io;
use std::time::Instant;

use std::os::fd::OwnedFd;

use rustix::event::{PollFd, PollFlags, poll};
use rustix::time::Timespec;

pub use crate::sys::Target;
use crate::sys::{self, KernelSigset};

/// A signal number, named or real-time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// Names of the standard signals, by number (index 0 is unused).
const NAMES: [&str; 32] = [
    "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// Signals the kernel raises for a fault of the process itself; podinit
/// leaves them unblocked and never forwards them.
pub const FAULTS: [Signal; 7] = [
    Signal::ILL,
    Signal::TRAP,
    Signal::ABRT,
    Signal::BUS,
    Signal::FPE,
    Signal::SEGV,
    Signal::SYS,
];

impl Signal {
    pub const HUP: Signal = Signal(1);
    pub const INT: Signal = Signal(2);
    pub const QUIT: Signal = Signal(3);
    pub const ILL: Signal = Signal(4);
    pub const TRAP: Signal = Signal(5);
    pub const ABRT: Signal = Signal(6);
    pub const BUS: Signal = Signal(7);
    pub const FPE: Signal = Signal(8);
    pub const KILL: Signal = Signal(9);
    pub const USR1: Signal = Signal(10);
    pub const SEGV: Signal = Signal(11);
    pub const USR2: Signal = Signal(12);
    pub const PIPE: Signal = Signal(13);
    pub const TERM: Signal = Signal(15);
    pub const CHLD: Signal = Signal(17);
    pub const CONT: Signal = Signal(18);
    pub const STOP: Signal = Signal(19);
    pub const TSTP: Signal = Signal(20);
    pub const TTIN: Signal = Signal(21);
    pub const TTOU: Signal = Signal(22);
    pub const SYS: Signal = Signal(31);

    /// The signal with number `signo`, if this system has one.
    pub fn from_raw(signo: i32) -> Option<Signal> {
        (1..=sys::max_signal())
            .contains(&signo)
            .then_some(Signal(signo))
    }

    pub fn as_raw(self) -> i32 {
        self.0
    }

    /// Parses `TERM`, `SIGTERM`, `term`, `15`, `RTMIN`, `RTMIN+2`,
    /// `SIGRTMAX-1`.
    pub fn parse(text: &str) -> Option<Signal> {
        if let Ok(number) = text.parse::<i32>() {
            return Signal::from_raw(number);
        }
        let upper = text.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(index) = NAMES.iter().position(|n| !n.is_empty() && *n == name) {
            return Signal::from_raw(index as i32);
        }
        Signal::parse_realtime(name)
    }

    fn parse_realtime(name: &str) -> Option<Signal> {
        let (min, max) = (sys::min_rt_signal(), sys::max_signal());
        let (base, rest) = if let Some(rest) = name.strip_prefix("RTMIN") {
            (min, rest)
        } else if let Some(rest) = name.strip_prefix("RTMAX") {
            (max, rest)
        } else {
            return None;
        };
        let offset = match rest.as_bytes().first() {
            None => 0,
            Some(b'+') => rest[1..].parse::<i32>().ok()?,
            Some(b'-') => -rest[1..].parse::<i32>().ok()?,
            Some(_) => return None,
        };
        let signo = base.checked_add(offset)?;
        (min..=max).contains(&signo).then_some(Signal(signo))
    }

    /// Whether this is one of the [`FAULTS`].
    pub fn is_fault(self) -> bool {
        FAULTS.contains(&self)
    }
}

impl fmt::Display for Signal {
    /// `SIGTERM`, `SIGRTMIN+2`, or the bare number for unnamed ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let min = sys::min_rt_signal();
        match NAMES.get(self.0 as usize) {
            Some(name) if !name.is_empty() => write!(f, "SIG{name}"),
            _ if self.0 >= min => write!(f, "SIGRTMIN+{}", self.0 - min),
            _ => write!(f, "signal {}", self.0),
        }
    }
}

/// The instant `after` from now; `None` (no deadline) when that lies beyond
/// what the clock can represent, as `--grace 99999999999h` asks.
pub fn deadline_after(after: std::time::Duration) -> Option<Instant> {
    Instant::now().checked_add(after)
}

/// Sends `signal` to `target`.
pub fn send(target: Target, signal: Signal) -> io::Result<()> {
    sys::kill(target, signal.as_raw())
}

/// Asks the kernel to send `signal` to podinit when its parent dies.
pub fn set_parent_death_signal(signal: Signal) -> io::Result<()> {
    sys::set_parent_death_signal(signal.as_raw())
}

/// The signal state podinit inherited from its launcher, kept so that the
/// program can be given the same state when asked (`--keep-signals`).
#[derive(Clone, Debug)]
pub struct Inherited {
    pub mask: KernelSigset,
    pub sigchld_ignored: bool,
}

/// A signal as received, with who sent it.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub signal: Signal,
    /// The sender's pid as seen from podinit's PID namespace; 0 for the
    /// kernel or a sender outside the namespace.
    pub sender: u32,
}

/// The one descriptor every blocked signal arrives on.
pub struct Signals {
    fd: OwnedFd,
}

impl Signals {
    /// Blocks every signal but the faults and opens the signalfd for them.
    ///
    /// Call this first: from then on no signal can interrupt or kill
    /// podinit, and one that is already pending is read like any other.
    /// An inherited "ignore SIGCHLD" is undone here too, since with it the
    /// kernel reaps children itself and their statuses are lost (wait(2),
    /// NOTES).
    pub fn block_all() -> io::Result<(Signals, Inherited)> {
        let faults = FAULTS
            .iter()
            .fold(0u64, |bits, fault| bits | 1 << (fault.0 - 1));
        let set = KernelSigset(!faults);
        let mask = sys::sigprocmask(libc::SIG_BLOCK, set)?;
        let sigchld_ignored = sys::is_ignored(Signal::CHLD.0);
        if sigchld_ignored {
            sys::set_disposition(Signal::CHLD.0, false);
        }
        let fd = sys::signalfd(set)?;
        Ok((
            Signals { fd },
            Inherited {
                mask,
                sigchld_ignored,
            },
        ))
    }

    /// Waits for the next signal, or until `deadline` passes (then `None`).
    ///
    /// A deadline that has passed wins over signals still queued, so that a
    /// flood of signals cannot hold back a SIGKILL that is due.
    pub fn next(&self, deadline: Option<Instant>) -> io::Result<Option<Received>> {
        if let Some(deadline) = deadline {
            if Instant::now() >= deadline || !self.wait_readable(deadline)? {
                return Ok(None);
            }
        }
        // struct signalfd_siginfo (signalfd(2)): 128 bytes, the signal
        // number at offset 0, the sender's pid at offset 12.
        let mut info = [0u8; 128];
        loop {
            match rustix::io::read(&self.fd, &mut info) {
                Ok(128) => break,
                Ok(_) | Err(rustix::io::Errno::INTR) => continue,
                Err(errno) => return Err(errno.into()),
            }
        }
        let word = |offset: usize| u32::from_ne_bytes([0, 1, 2, 3].map(|i| info[offset + i]));
        Ok(Some(Received {
            signal: Signal(word(0) as i32),
            sender: word(12),
        }))
    }

    /// Polls the signalfd until it is readable (true) or `deadline` passes.
    fn wait_readable(&self, deadline: Instant) -> io::Result<bool> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) if left.is_zero() => return Ok(false),
                Ok(0) => continue,
                Ok(_) => return Ok(true),
                Err(rustix::io::Errno::INTR) => continue,
                Err(errno) => return Err(errno.into()),
            }
        }
    }

    /// Moves the descriptor above 2 when it sits on 0, 1 or 2, as it does
    /// when podinit was started with those closed (a kernel that found no
    /// console), so that a console can take their place.
    pub fn keep_off_stdio(&mut self) -> io::Result<()> {
        if self.raw_fd() > 2 {
            return Ok(());
        }
        self.fd = rustix::io::fcntl_dupfd_cloexec(&self.fd, 3)?;
        Ok(())
    }

    /// The descriptor's number, so that closing inherited descriptors can
    /// spare it.
    pub fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.fd.as_raw_fd()
    }
}

/// Restores a signal mask in the child before exec.
pub(crate) fn set_mask(mask: KernelSigset) -> io::Result<()> {
    sys::sigprocmask(libc::SIG_SETMASK, mask).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_every_spelling() {
        for text in ["TERM", "SIGTERM", "term", "sigterm", "15"] {
            assert_eq!(Signal::parse(text), Some(Signal::TERM), "{text}");
        }
        assert_eq!(Signal::parse("rtmin"), Some(Signal(sys::min_rt_signal())));
        assert_eq!(
            Signal::parse("SIGRTMIN+2"),
            Some(Signal(sys::min_rt_signal() + 2))
        );
        assert_eq!(
            Signal::parse("RTMAX-1"),
            Some(Signal(sys::max_signal() - 1))
        );
    }

    #[test]
    fn nonsense_is_not_a_signal() {
        for text in [
            "",
            "0",
            "-1",
            "65",
            "TERMS",
            "SIG",
            "RTMIN+100",
            "RTMAX+1",
            "RTMIN-1",
        ] {
            assert_eq!(Signal::parse(text), None, "{text}");
        }
    }

    #[test]
    fn every_signal_prints_a_name_that_parses_back() {
        for signo in 1..=sys::max_signal() {
            let signal = Signal(signo);
            let name = signal.to_string();
            if let Some(parsed) = Signal::parse(&name) {
                assert_eq!(parsed, signal, "{name}");
            } else {
                // Only the libc-internal numbers between 31 and SIGRTMIN
                // have no name.
                assert!(signo > 31 && signo < sys::min_rt_signal(), "{name}");
            }
        }
    }
}
