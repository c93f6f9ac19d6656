//! The only place podinit uses `unsafe`: the few system calls that neither
//! rustix nor nix wraps in a form podinit can use, and the steps that are
//! only sound in a single-threaded process (fork, the child before exec).
//!
//! Raw signal numbers are handled here because real-time signals
//! (SIGRTMIN..SIGRTMAX) have no name in nix's or rustix's signal types, yet
//! podinit must forward them like any other.
#![allow(unsafe_code)]

use std::io;

use rustix::process::Pid;

/// Where a signal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// One process.
    Process(Pid),
    /// Every process of a process group.
    Group(Pid),
    /// Every process podinit may signal: as PID 1 of a PID namespace, all
    /// the others in it. See kill(2), "pid equals -1".
    Everyone,
}

/// Sends signal number `signo` to `target`.
pub fn kill(target: Target, signo: i32) -> io::Result<()> {
    let pid = match target {
        Target::Process(pid) => pid.as_raw_nonzero().get(),
        Target::Group(pgid) => -pgid.as_raw_nonzero().get(),
        Target::Everyone => -1,
    };
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, signo) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The highest signal number of this libc (SIGRTMAX).
pub fn max_signal() -> i32 {
    libc::SIGRTMAX()
}

/// The lowest real-time signal number this libc leaves to programs.
pub fn min_rt_signal() -> i32 {
    libc::SIGRTMIN()
}

/// Whether signal `signo` is currently ignored (SIG_IGN) by this process.
pub fn is_ignored(signo: i32) -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only queries; `old` is valid for writing
    // one sigaction for the duration of the call.
    let rc = unsafe { libc::sigaction(signo, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: sigaction(2) filled `old` when it returned 0; zeroed is a
    // valid sigaction otherwise.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// Sets signal `signo`'s disposition to SIG_DFL or SIG_IGN. Numbers the
/// kernel or libc refuses (KILL, STOP, libc-internal ones) are left as
/// they are: there is nothing to reset for them.
pub fn set_disposition(signo: i32, ignore: bool) {
    let handler = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: SIG_DFL and SIG_IGN run no code of ours, so no handler can
    // observe a half-initialised state; signal(3) touches no memory of ours.
    unsafe { libc::signal(signo, handler) };
}

/// Closes every descriptor from `first` up, except those in `keep`.
pub fn close_from(first: i32, keep: &[i32]) -> io::Result<()> {
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    let mut ranges = Vec::new();
    let mut next = first;
    for fd in keep.into_iter().filter(|&fd| fd >= first) {
        ranges.push((next, fd - 1));
        next = fd + 1;
    }
    ranges.push((next, i32::MAX));
    match ranges
        .iter()
        .try_for_each(|&(low, high)| close_range(low, high))
    {
        Err(error) if error.raw_os_error() == Some(libc::ENOSYS) => close_listed(&ranges),
        result => result,
    }
}

/// close_range(2) arrived in Linux 5.9; before it, close what
/// `/proc/self/fd` lists in `ranges`.
fn close_listed(ranges: &[(i32, i32)]) -> io::Result<()> {
    let listed: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own descriptor is closed by now; if listed, closing
    // it again fails with EBADF, which is ignored like every other error.
    for fd in listed
        .into_iter()
        .filter(|fd| ranges.iter().any(|r| (r.0..=r.1).contains(fd)))
    {
        // SAFETY: as for close_range below: only inherited descriptors,
        // owned by no Rust object, lie in `ranges`.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

fn close_range(first: i32, last: i32) -> io::Result<()> {
    if last < first {
        return Ok(());
    }
    // SAFETY: close_range(2) takes integers only. Closing a descriptor that
    // Rust code still owns would be unsound, so callers pass ranges that
    // hold only descriptors inherited from the launcher, which no Rust
    // object owns.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What fork returned to the caller.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// fork(2).
///
/// Callers must be single-threaded: the child may then allocate, format
/// and use the standard library freely until it execs or exits, because
/// no other thread can have held a lock at the moment of the fork.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: podinit never starts a thread (see the caller's contract
    // above), so the child inherits no lock held by another thread.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(
            Pid::from_raw(child.as_raw()).expect("fork returns a positive pid"),
        )),
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

/// Sets an environment variable in a freshly forked child.
pub fn set_env_in_child(name: &str, value: &str) {
    // SAFETY: called only in the child of `fork` before exec, where the
    // process has exactly one thread, so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var(name, value) };
}

/// Ends a forked child at once, without running exit handlers that
/// belong to the parent's state.
pub fn exit_child(code: u8) -> ! {
    // SAFETY: _exit(2) never returns and touches no memory of ours.
    unsafe { libc::_exit(i32::from(code)) }
}

/// Sets the signal this process receives when its parent dies
/// (PR_SET_PDEATHSIG). rustix's wrapper takes only named signals.
pub fn set_parent_death_signal(signo: i32) -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG reads its second argument as a plain
    // integer; no pointer is passed.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signo as libc::c_ulong) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
