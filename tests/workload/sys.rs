//! The process primitives the workload needs, and its only `unsafe`.
//!
//! The workload never starts a thread, which is what makes forking and
//! then running ordinary Rust code in the child sound.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::Duration;

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{ForkResult, Pid};
use rustix::time::{ClockId, clock_gettime};

/// Forks; the child runs `child` and exits with the code it returns.
/// Returns the child's pid to the parent.
pub fn spawn(child: impl FnOnce() -> i32) -> Pid {
    // SAFETY: the workload is single-threaded, so the child inherits no
    // lock that another thread held at the moment of the fork.
    match unsafe { nix::unistd::fork() }.expect("fork") {
        ForkResult::Parent { child } => child,
        ForkResult::Child => exit_now(child()),
    }
}

/// Ends the process at once: a forked child must not run the exit
/// handlers or flush the buffers it copied from its parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// Writes `line` and a newline to stdout in one write(2): lines of several
/// processes sharing the pipe never interleave, and nothing sits in a
/// buffer that a fork would duplicate.
pub fn say(line: &str) {
    let text = format!("{line}\n");
    let _ = nix::unistd::write(std::io::stdout(), text.as_bytes());
}

/// A pipe: (read end, write end).
pub fn pipe() -> (std::fs::File, OwnedFd) {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    (std::fs::File::from(read), write)
}

/// Writes `count` bytes to `fd`, one for each reader to take: "ready",
/// or "you may go".
pub fn post(fd: &OwnedFd, count: usize) {
    let bytes = vec![b'.'; count];
    let mut written = 0;
    while written < count {
        written += nix::unistd::write(fd, &bytes[written..]).expect("write to a pipe");
    }
}

/// Reads exactly `count` bytes from `pipe`.
pub fn collect(pipe: &mut std::fs::File, count: usize) {
    let mut bytes = vec![0; count];
    pipe.read_exact(&mut bytes).expect("read from a pipe");
}

/// Blocks `signal`, so that it waits to be taken by [`wait_for`].
pub fn block(signal: Signal) {
    let mut set = SigSet::empty();
    set.add(signal);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).expect("block a signal");
}

/// Waits until the blocked `signal` arrives.
pub fn wait_for(signal: Signal) {
    let mut set = SigSet::empty();
    set.add(signal);
    while set.wait().expect("sigwait") != signal {}
}

/// Gives `signal` its default action and unblocks it. SIGKILL has no
/// other.
pub fn default_action(signal: Signal) {
    if signal == Signal::SIGKILL {
        return;
    }
    // SAFETY: SIG_DFL runs no code of ours, so no handler can observe a
    // half-updated state.
    unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) }.expect("reset a signal");
    let mut set = SigSet::empty();
    set.add(signal);
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None).expect("unblock a signal");
}

/// The monotonic clock in nanoseconds: comparable between processes,
/// unlike `Instant`.
pub fn now_nanos() -> i128 {
    let now = clock_gettime(ClockId::Monotonic);
    i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec)
}

/// The time from `nanos` (a [`now_nanos`]) until now.
pub fn since(nanos: i128) -> Duration {
    let elapsed = (now_nanos() - nanos).max(0);
    Duration::from_nanos(u64::try_from(elapsed).unwrap_or(u64::MAX))
}
