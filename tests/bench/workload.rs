//! The program the inits supervise during the benchmark: this binary, re-executed as
//! `podinit-bench workload ...` inside the pod. It talks to the benchmark over stdout and
//! ends when its stdin reaches end of file (the benchmark closes it), exiting 0.
//!
//! - `orphans N`: an intermediate process forks N children that exit at once, waits until
//!   every one of them is a zombie, then exits, so that all N are re-parented to PID 1 at once.
//!   Prints `burst <ns>`: the `CLOCK_MONOTONIC` time just before the intermediate's exit.
//! - `echo`: writes one byte to stdout for every SIGUSR1 it receives.
//!
//! Both print `ready` first. The pod start-up measurement (`podstart`) uses two more, which
//! talk over FIFOs instead: pod mode gives an app no descriptor podinit inherited.
//!
//! - `app READY GO`: one app of a pod. Writes the `CLOCK_MONOTONIC` time it started at (8
//!   bytes, little-endian, one atomic pipe write) to the FIFO READY, then reads the FIFO GO
//!   until end of file and exits 0.
//! - `exec-at FILE PROGRAM [ARGS...]`: writes the time to FILE the same way, then executes
//!   PROGRAM in its own place, so that the time is that of PROGRAM's exec, pid unchanged.
//!
//! The stage1 measurement (`stage1`) plays the runtime with one more:
//!
//! - `stage0 FILE POD RUN [ARGS...]`: what a runtime does last before it hands a pod to its
//!   stage1 (contract section 2): opens the pod directory POD read-only, takes an exclusive
//!   flock on it and clears the descriptor's close-on-exec flag, names it in `RKT_LOCK_FD`,
//!   changes into POD, then executes the `run` entrypoint RUN in its own place the way
//!   `exec-at` does, FILE noting the time.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::thread;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::{ForkResult, Pid, fork, pipe};
use rustix::fs::{FlockOperation, flock};
use rustix::io::{FdFlags, fcntl_setfd};

use crate::clock::monotonic_ns;
use crate::error::{Context, Error, Result};

const USAGE: &str = "usage: podinit-bench workload orphans N | echo | app READY GO | \
                     exec-at FILE PROGRAM [ARGS...] | stage0 FILE POD RUN [ARGS...]";

pub fn run(args: &[String]) -> Result<i32> {
    match args {
        [kind, count] if kind == "orphans" => {
            let count = count
                .parse()
                .context(|| format!("bad orphan count {count:?}"))?;
            orphans(count)
        }
        [kind] if kind == "echo" => echo(),
        [kind, ready, go] if kind == "app" => app(monotonic_ns(), ready, go),
        [kind, file, program, args @ ..] if kind == "exec-at" => exec_at(file, program, args),
        [kind, file, pod, run, args @ ..] if kind == "stage0" => stage0(file, pod, run, args),
        _ => Err(Error::new(USAGE)),
    }
}

fn say(line: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .context(|| "failed to write stdout".into())
}

fn orphans(count: usize) -> Result<i32> {
    say("ready")?;
    let (from_intermediate, to_parent) = pipe().context(|| "failed to create a pipe".into())?;

    // SAFETY: this process is single-threaded (no thread has been spawned yet), so the child
    // may run any code until it exits.
    let intermediate = match unsafe { fork() }.context(|| "failed to fork".into())? {
        ForkResult::Child => {
            drop(from_intermediate);
            let code = match burst(count, to_parent) {
                Ok(()) => 0,
                Err(error) => {
                    eprintln!("podinit-bench workload: {error}");
                    1
                }
            };
            // SAFETY: _exit ends the process without running anything inherited from the
            // parent (atexit handlers, buffered output), which belongs to the parent.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    };
    drop(to_parent);

    let burst_end = read_burst_end(from_intermediate)?;
    // The intermediate has left only once its children are re-parented to PID 1, so the
    // benchmark counts zombies only after this wait.
    expect_success(intermediate)?;
    say(&format!("burst {burst_end}"))?;
    wait_for_stdin_eof();
    Ok(0)
}

/// Runs in the intermediate: forks `count` children that exit at once, waits until every one
/// is a zombie, and sends the time to its parent just before exiting.
fn burst(count: usize, to_parent: OwnedFd) -> Result<()> {
    let mut children = Vec::with_capacity(count);
    for made in 0..count {
        // SAFETY: the intermediate is single-threaded (a fork of a single-threaded process),
        // and the child only calls _exit.
        let forked = unsafe { fork() }.map_err(|errno| fork_error(made + 1, errno))?;
        match forked {
            ForkResult::Child => exit_at_once(),
            ForkResult::Parent { child } => children.push(child),
        }
    }
    // WNOWAIT leaves each child a zombie: only PID 1 is to reap them.
    for child in children {
        waitid(Id::Pid(child), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
            .context(|| format!("failed to wait for orphan {child}"))?;
    }
    let burst_end = monotonic_ns();
    let mut pipe = std::fs::File::from(to_parent);
    pipe.write_all(&burst_end.to_le_bytes())
        .context(|| "failed to write the burst time".into())
}

/// Out of pids is the likely failure: name it, with what makes room.
fn fork_error(orphan: usize, errno: Errno) -> Error {
    let hint = match errno {
        Errno::EAGAIN => {
            " (out of pids or tasks? see kernel.pid_max and threads-max, other processes \
             running, or a smaller --orphans)"
        }
        _ => "",
    };
    Error::new(format!("failed to fork orphan {orphan}: {errno}{hint}"))
}

fn exit_at_once() -> ! {
    // SAFETY: a forked orphan-to-be runs nothing: _exit skips every handler of the parent.
    unsafe { libc::_exit(0) }
}

fn read_burst_end(from_intermediate: OwnedFd) -> Result<u64> {
    let mut bytes = [0u8; 8];
    std::fs::File::from(from_intermediate)
        .read_exact(&mut bytes)
        .context(|| "failed to read the burst time from the intermediate process".into())?;
    Ok(u64::from_le_bytes(bytes))
}

fn expect_success(child: Pid) -> Result<()> {
    match waitpid(child, None).context(|| format!("failed to wait for {child}"))? {
        WaitStatus::Exited(_, 0) => Ok(()),
        status => Err(Error::new(format!(
            "intermediate process failed: {status:?}"
        ))),
    }
}

fn wait_for_stdin_eof() {
    let mut sink = [0u8; 64];
    let mut stdin = io::stdin().lock();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
}

fn echo() -> Result<i32> {
    // Blocked before the watcher thread starts, so that the thread inherits the mask and the
    // signal is only ever taken by sigwait below.
    let mut usr1 = SigSet::empty();
    usr1.add(Signal::SIGUSR1);
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&usr1), None)
        .context(|| "failed to block SIGUSR1".into())?;
    thread::spawn(|| {
        wait_for_stdin_eof();
        std::process::exit(0);
    });

    say("ready")?;
    let stdout = io::stdout();
    let mut out = stdout
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .context(|| "failed to duplicate stdout".into())?;
    loop {
        usr1.wait()
            .context(|| "failed to wait for SIGUSR1".into())?;
        out.write_all(b"!")
            .context(|| "failed to write stdout".into())?;
    }
}

fn app(started_ns: u64, ready: &str, go: &str) -> Result<i32> {
    // GO is opened before READY is written to: once the benchmark has every start, it may
    // close GO at once, and an app that opened it only then would wait for a writer forever.
    // The benchmark holds both FIFOs open for reading and writing, so neither open blocks.
    let mut go = File::open(go).context(|| format!("failed to open {go}"))?;
    let mut ready = OpenOptions::new()
        .write(true)
        .open(ready)
        .context(|| format!("failed to open {ready}"))?;
    ready
        .write_all(&started_ns.to_le_bytes())
        .context(|| "failed to write the start time".into())?;
    drop(ready);
    let mut sink = [0u8; 64];
    while go
        .read(&mut sink)
        .context(|| "failed to read the go FIFO".into())?
        > 0
    {}
    Ok(0)
}

fn exec_at(file: &str, program: &str, args: &[String]) -> Result<i32> {
    let mut command = Command::new(program);
    command.args(args);
    exec_noting_time(file, command)
}

fn stage0(file: &str, pod: &str, run: &str, args: &[String]) -> Result<i32> {
    let lock = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(pod)
        .context(|| format!("failed to open {pod}"))?;
    flock(&lock, FlockOperation::NonBlockingLockExclusive)
        .context(|| format!("failed to lock {pod}"))?;
    // std opens every file close-on-exec; the runtime's lock must outlive the exec.
    fcntl_setfd(&lock, FdFlags::empty())
        .context(|| "failed to clear close-on-exec on the lock".into())?;
    let lock = lock.into_raw_fd();

    let mut command = Command::new(run);
    command
        .args(args)
        .current_dir(pod)
        .env_remove("PWD")
        .env("RKT_LOCK_FD", lock.to_string())
        .env("RKT_SELINUX_CONTEXT", "")
        .env("RKT_SELINUX_MOUNT_CONTEXT", "");
    exec_noting_time(file, command)
}

/// Writes the time to `file`, then executes `command` in this process's place.
fn exec_noting_time(file: &str, mut command: Command) -> Result<i32> {
    let mut out = File::create(file).context(|| format!("failed to create {file}"))?;
    out.write_all(&monotonic_ns().to_le_bytes())
        .context(|| format!("failed to write {file}"))?;
    drop(out);
    let error = command.exec();
    let program = command.get_program().to_string_lossy().into_owned();
    Err(error).context(|| format!("failed to execute {program}"))
}
