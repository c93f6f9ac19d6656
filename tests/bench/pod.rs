//! An init running as PID 1 of a fresh PID namespace, supervising this benchmark's workload.
//!
//! `unshare --pid --fork --mount-proc --kill-child INIT -- podinit-bench workload ...`: unshare
//! forks the init into the new namespace and SIGKILLs it if unshare itself dies, which takes
//! the whole namespace with it. The workload's stdin and stdout are pipes to the benchmark.

use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::clock::monotonic_ns;
use crate::error::{Context, Error, Result};
use crate::inits::Init;

/// How long a line from the workload may take: the orphan burst forks for a while first.
const LINE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the workload's answer to one signal may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an init gets to exit once its workload has.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Pod {
    name: &'static str,
    unshare: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    init: Pid,
    watchdog: Watchdog,
}

impl Pod {
    /// Starts `init` with the workload `args` and waits until the workload says `ready`.
    pub fn start(init: &Init, args: &[&str]) -> Result<Pod> {
        let exe = env::current_exe().context(|| "failed to find the benchmark's binary".into())?;
        let mut program = vec![exe.into_os_string(), "workload".into()];
        program.extend(args.iter().map(|arg| arg.into()));
        let mut unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(init.command(&program))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context(|| format!("failed to start unshare for {}", init.name))?;
        let stdin = unshare.stdin.take();
        let stdout = unshare.stdout.take().map(BufReader::new);
        let stdout = stdout.ok_or_else(|| Error::new("unshare has no stdout pipe"))?;
        let unshare_pid = Pid::from_raw(unshare.id() as i32);
        let watchdog = Watchdog::start(unshare_pid);
        let init_pid = Pid::from_raw(0);
        let mut pod = Pod {
            name: init.name,
            unshare,
            stdin,
            stdout,
            init: init_pid,
            watchdog,
        };

        pod.expect_line("ready")?;
        pod.init = only_child(unshare_pid)?;
        Ok(pod)
    }

    /// The init's pid as this benchmark (outside the namespace) sees it.
    pub fn init_pid(&self) -> Pid {
        self.init
    }

    /// The next line the workload printed.
    pub fn read_line(&mut self) -> Result<String> {
        self.watchdog.arm(LINE_TIMEOUT);
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line);
        self.watchdog.disarm();
        match read {
            Ok(0) => Err(self.ended(LINE_TIMEOUT)),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(error) => Err(error).context(|| format!("failed to read from {}", self.name)),
        }
    }

    /// Starts the clock on a reply: call it before `read_byte`, outside any timed section, as
    /// it costs a clock read.
    pub fn expect_reply(&self) {
        self.watchdog.arm(REPLY_TIMEOUT);
    }

    /// Waits for one byte from the workload.
    pub fn read_byte(&mut self) -> Result<()> {
        let mut byte = [0u8];
        match self.stdout.read(&mut byte) {
            Ok(0) => Err(self.ended(REPLY_TIMEOUT)),
            Ok(_) => Ok(()),
            Err(error) => Err(error).context(|| format!("failed to read from {}", self.name)),
        }
    }

    /// Why the workload's output ended.
    fn ended(&self, timeout: Duration) -> Error {
        match self.watchdog.fired() {
            true => Error::new(format!("{} did not answer within {timeout:?}", self.name)),
            false => Error::new(format!("the workload under {} ended early", self.name)),
        }
    }

    fn expect_line(&mut self, expected: &str) -> Result<()> {
        let line = self.read_line()?;
        if line != expected {
            let name = self.name;
            let got = format!("expected {expected:?} from the workload under {name}, got {line:?}");
            return Err(Error::new(got));
        }
        Ok(())
    }

    /// Ends the workload by closing its stdin and waits until the init has exited with 0.
    pub fn finish(mut self) -> Result<()> {
        self.watchdog.disarm();
        drop(self.stdin.take());
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            let status = self.unshare.try_wait();
            let status = status.context(|| format!("failed to wait for {}", self.name))?;
            match status {
                Some(status) if status.success() => return Ok(()),
                Some(status) => {
                    return Err(Error::new(format!("{} exited with {status}", self.name)));
                }
                None if Instant::now() > deadline => {
                    let timeout = EXIT_TIMEOUT;
                    let error = format!("{} did not exit within {timeout:?}", self.name);
                    return Err(Error::new(error));
                }
                None => thread::sleep(Duration::from_millis(2)),
            }
        }
    }
}

impl Drop for Pod {
    /// Kills a pod still running (a failed measurement): unshare's --kill-child then kills
    /// the init, and with it every process of its namespace.
    fn drop(&mut self) {
        self.watchdog.stop();
        if let Ok(None) = self.unshare.try_wait() {
            let _ = self.unshare.kill();
            let _ = self.unshare.wait();
        }
    }
}

/// The one child of `parent`, read from /proc/PID/task/PID/children (proc(5)).
pub fn only_child(parent: Pid) -> Result<Pid> {
    let path = format!("/proc/{parent}/task/{parent}/children");
    let list = fs::read_to_string(&path).context(|| format!("failed to read {path}"))?;
    match list.split_whitespace().collect::<Vec<_>>()[..] {
        [pid] => pid
            .parse()
            .map(Pid::from_raw)
            .context(|| format!("bad pid {pid:?} in {path}")),
        _ => Err(Error::new(format!(
            "expected one child in {path}, found {list:?}"
        ))),
    }
}

/// Kills unshare, and so the pod, when the benchmark waits on the pod past a deadline: a
/// stuck init then fails its measurement with a message instead of stalling the benchmark.
/// Arming costs a clock read and a store, so that it can sit next to timed sections.
struct Watchdog {
    shared: Arc<Shared>,
}

struct Shared {
    /// `CLOCK_MONOTONIC` ns after which the pod is killed; 0 when nothing is awaited.
    deadline_ns: AtomicU64,
    fired: AtomicBool,
    stopped: AtomicBool,
}

impl Watchdog {
    /// How often the watchdog looks at the deadline: rarely enough to disturb no measurement.
    const TICK: Duration = Duration::from_millis(250);

    fn start(unshare: Pid) -> Watchdog {
        let shared = Arc::new(Shared {
            deadline_ns: AtomicU64::new(0),
            fired: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        });
        let watched = Arc::clone(&shared);
        thread::spawn(move || Self::watch(&watched, unshare));
        Watchdog { shared }
    }

    fn watch(shared: &Shared, unshare: Pid) {
        while !shared.stopped.load(Ordering::Acquire) {
            let deadline = shared.deadline_ns.load(Ordering::Acquire);
            if deadline != 0 && monotonic_ns() > deadline {
                shared.fired.store(true, Ordering::Release);
                let _ = kill(unshare, Signal::SIGKILL);
                return;
            }
            thread::sleep(Self::TICK);
        }
    }

    fn arm(&self, timeout: Duration) {
        let deadline = monotonic_ns() + timeout.as_nanos() as u64;
        self.shared.deadline_ns.store(deadline, Ordering::Release);
    }

    fn disarm(&self) {
        self.shared.deadline_ns.store(0, Ordering::Release);
    }

    fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::Acquire)
    }

    /// Ends the watch before unshare is reaped, so that its pid is never signalled once free.
    fn stop(&self) {
        self.disarm();
        self.shared.stopped.store(true, Ordering::Release);
    }
}
