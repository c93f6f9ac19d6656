//! Reaping: collecting every child that has exited.
//!
//! SIGCHLD is a standard signal, so several exits arriving together are
//! reported once (signal(7), "standard signals do not queue"). Each report
//! is therefore answered by waiting without blocking until the kernel says
//! nothing more has exited, which reaps the program and adopted orphans
//! alike.

use std::io;

use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions, wait};

use crate::status::ExitStatus;

/// What is left after a round of reaping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Children {
    /// Some children are still running.
    Running,
    /// podinit has no child at all. As PID 1 of a PID namespace, or as a
    /// subreaper, that means no descendant is left either: orphans are
    /// re-parented to podinit.
    None,
}

/// Reaps every child that has exited, calling `on_exit` for each, and tells
/// whether any child remains.
pub fn reap_exited(mut on_exit: impl FnMut(Pid, ExitStatus)) -> io::Result<Children> {
    loop {
        // __WALL: also children whose exit signal is not SIGCHLD (made with
        // a bare clone), which a plain wait never reports.
        let options = WaitOptions::NOHANG | WaitOptions::from_bits_retain(libc::__WALL as u32);
        match wait(options) {
            Ok(Some((pid, status))) => {
                if let Some(status) = ExitStatus::from_wait(status) {
                    on_exit(pid, status);
                }
            }
            Ok(None) => return Ok(Children::Running),
            Err(Errno::CHILD) => return Ok(Children::None),
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
}
