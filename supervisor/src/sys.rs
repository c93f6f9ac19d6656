//! The only place podinit uses `unsafe`: the few system calls that neither
//! rustix nor nix wraps in a form podinit can use, and the steps that are
//! only sound in a single-threaded process (fork, the child before exec).
//!
//! Raw signal numbers are handled here because real-time signals
//! (SIGRTMIN..SIGRTMAX) have no name in nix's or rustix's signal types, yet
//! podinit must forward them like any other.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

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

/// The highest signal number (SIGRTMAX; the kernel's _NSIG is 64).
pub fn max_signal() -> i32 {
    64
}

/// SIGRTMIN as programs know it. musl says 35, keeping 32 to 34 for
/// itself; glibc says 34, and so do Docker, bash and nearly every program
/// that names one. podinit handles 32 to 34 as ordinary signals, so it
/// follows glibc: `RTMIN+2` means 36 here as everywhere else.
pub fn min_rt_signal() -> i32 {
    34
}

/// A set of signals 1 to 64 as the kernel takes it: bit n-1 for signal n.
///
/// The kernel's own calls are used for masks, dispositions and the
/// signalfd rather than libc's, because musl keeps signals 32 to 34 for
/// itself and silently leaves them out of sigfillset, sigaction and the
/// masks it reports. To the kernel they are ordinary signals that anyone
/// can send (34 is glibc's SIGRTMIN), and podinit must block, forward and
/// reset them like the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelSigset(pub u64);

impl KernelSigset {
    pub fn contains(self, signo: i32) -> bool {
        (1..=64).contains(&signo) && self.0 & (1 << (signo - 1)) != 0
    }
}

/// rt_sigprocmask(2) on the kernel's 8-byte set; returns the old mask.
pub fn sigprocmask(how: libc::c_int, set: KernelSigset) -> io::Result<KernelSigset> {
    let mut old: u64 = 0;
    // SAFETY: both pointers are valid for the 8 bytes the size argument
    // names, for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            &set.0 as *const u64,
            &mut old as *mut u64,
            8,
        )
    };
    if rc == 0 {
        Ok(KernelSigset(old))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// signalfd4(2) for `set`, close-on-exec.
pub fn signalfd(set: KernelSigset) -> io::Result<OwnedFd> {
    // SAFETY: the mask pointer is valid for the 8 bytes named.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            -1,
            &set.0 as *const u64,
            8,
            libc::SFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The kernel's `struct sigaction` for rt_sigaction(2) on x86_64.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

fn rt_sigaction(signo: i32, new: Option<&KernelSigaction>) -> io::Result<KernelSigaction> {
    let mut old = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    let new = new.map_or(std::ptr::null(), |new| new as *const KernelSigaction);
    // SAFETY: `new` is null or points to a valid KernelSigaction, `old` is
    // valid for writing one, and 8 is the size of their mask field. Only
    // SIG_DFL and SIG_IGN are ever installed, which run no code of ours, so
    // no restorer is needed.
    let rc = unsafe { libc::syscall(libc::SYS_rt_sigaction, signo, new, &mut old as *mut _, 8) };
    if rc == 0 {
        Ok(old)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether signal `signo` is currently ignored (SIG_IGN) by this process.
pub fn is_ignored(signo: i32) -> bool {
    rt_sigaction(signo, None).is_ok_and(|old| old.handler == libc::SIG_IGN)
}

/// Sets signal `signo`'s disposition to SIG_DFL or SIG_IGN. The kernel
/// refuses KILL and STOP: there is nothing to reset for them.
pub fn set_disposition(signo: i32, ignore: bool) {
    let handler = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    let _ = rt_sigaction(
        signo,
        Some(&KernelSigaction {
            handler,
            flags: 0,
            restorer: 0,
            mask: 0,
        }),
    );
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

/// Sets close-on-exec on descriptor `fd`, one podinit inherited by number
/// (the runtime's lock); fails with EBADF when it is not open.
pub fn set_cloexec(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl(2) with F_SETFD takes integers only and touches no
    // memory; no Rust object owns an inherited descriptor.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
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

/// unshare(2) of namespaces only (`CLONE_NEW*` flags).
pub fn unshare_namespaces(flags: rustix::thread::UnshareFlags) -> io::Result<()> {
    let files_or_fs = rustix::thread::UnshareFlags::FILES | rustix::thread::UnshareFlags::FS;
    if flags.intersects(files_or_fs) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: rustix marks unshare unsafe for CLONE_FILES, which would give
    // other threads a descriptor table of their own; it is refused above,
    // and podinit has one thread anyway.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(io::Error::from)
}

/// Sets `IFF_UP` on the network interface `name` (SIOCGIFFLAGS, then
/// SIOCSIFFLAGS, netdevice(7)) through `socket`, any socket of the network
/// namespace. Neither rustix nor nix wraps these ioctls.
pub fn set_interface_up(socket: &OwnedFd, name: &str) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut request: libc::ifreq = zeroed_ifreq();
    let bytes = name.as_bytes();
    if bytes.len() >= request.ifr_name.len() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    for (slot, &byte) in request.ifr_name.iter_mut().zip(bytes) {
        *slot = byte as libc::c_char;
    }
    let fd = socket.as_raw_fd();
    // SAFETY: `request` is a valid, NUL-terminated ifreq that outlives the
    // call; SIOCGIFFLAGS writes only its flags member.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS has just filled the flags member of the union.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; SIOCSIFFLAGS only reads the request.
    if unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn zeroed_ifreq() -> libc::ifreq {
    // SAFETY: ifreq is plain old data (a name array and a union of
    // integers and addresses): all zeroes is a valid value of it.
    unsafe { std::mem::zeroed() }
}
