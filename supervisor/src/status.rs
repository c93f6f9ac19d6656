//! How a process ended, and the one rule that turns that into an exit code.

use std::fmt;

use rustix::process::WaitStatus;

use crate::signals::Signal;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called exit with this code.
    Code(u8),
    /// A signal killed it.
    Killed(Signal),
}

impl ExitStatus {
    /// Reads a status from waitpid; `None` for a stop or continue report.
    pub fn from_wait(status: WaitStatus) -> Option<ExitStatus> {
        ExitStatus::from_raw(status.as_raw())
    }

    /// Decodes a raw wait(2) status: the signal number in bits 0..7 (0 for
    /// a normal exit, 0x7f for a stop), the exit code in bits 8..16.
    pub fn from_raw(raw: i32) -> Option<ExitStatus> {
        match raw & 0x7f {
            0 => Some(ExitStatus::Code(((raw >> 8) & 0xff) as u8)),
            // Stopped (0x..7f) or continued (0xffff): not an end.
            0x7f => None,
            signo => Signal::from_raw(signo).map(ExitStatus::Killed),
        }
    }

    /// The exit code that stands for this status, as shells report it:
    /// a code passes through unchanged, death by signal n becomes 128 + n.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Code(code) => code,
            ExitStatus::Killed(signal) => 128u8.saturating_add(signal.as_raw() as u8),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit code {code}"),
            ExitStatus::Killed(signal) => write!(f, "killed by {signal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn codes_pass_through(code in 0u8..=255) {
            prop_assert_eq!(ExitStatus::Code(code).code(), code);
        }

        #[test]
        fn signal_deaths_are_128_plus_n(signo in 1i32..=64) {
            let signal = Signal::from_raw(signo).unwrap();
            prop_assert_eq!(ExitStatus::Killed(signal).code() as i32, 128 + signo);
        }
    }

    #[test]
    fn wait_statuses_decode() {
        // The raw layouts of wait(2): code in bits 8..16, signal in 0..7.
        assert_eq!(ExitStatus::from_raw(3 << 8), Some(ExitStatus::Code(3)));
        assert_eq!(ExitStatus::from_raw(255 << 8), Some(ExitStatus::Code(255)));
        assert_eq!(
            ExitStatus::from_raw(9),
            Some(ExitStatus::Killed(Signal::KILL))
        );
        assert_eq!(
            ExitStatus::from_raw(0x80 | 11),
            Some(ExitStatus::Killed(Signal::SEGV)),
            "core"
        );
        assert_eq!(ExitStatus::from_raw(15).map(ExitStatus::code), Some(143));
        assert_eq!(ExitStatus::from_raw(0x137f), None, "stopped by SIGSTOP");
        assert_eq!(ExitStatus::from_raw(0xffff), None, "continued");
    }
}
