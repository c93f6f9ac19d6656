//! Pseudo-terminal helpers for tests of the foreground process group, and
//! a reader that hands over output line by line with a time limit (a
//! terminal's output and a pipe's alike).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::pty::openpty;

/// Lines read from a source by a thread of their own, so that a test can
/// wait for the next one with a limit instead of blocking forever.
pub struct Lines {
    receiver: Receiver<String>,
}

impl Lines {
    /// Reads `source` to its end (or first error) in a new thread.
    pub fn new(source: impl Read + Send + 'static) -> Lines {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(source).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { receiver }
    }

    /// The next line, if one comes within `limit`; `None` on timeout or at
    /// the end of the source.
    pub fn next_within(&self, limit: Duration) -> Option<String> {
        self.receiver.recv_timeout(limit).ok()
    }

    /// Waits up to `limit` for a line containing `wanted`; returns the
    /// lines before it. Fails the test with what was seen otherwise.
    pub fn wait_for(&self, wanted: &str, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(line) if line.contains(wanted) => return seen,
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no line with {wanted:?} within {limit:?}; saw {seen:?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("output ended before a line with {wanted:?}; saw {seen:?}")
                }
            }
        }
    }

    /// Whether the source ends within `limit`; lines before the end are
    /// skipped.
    pub fn ends_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(_) => continue,
                Err(RecvTimeoutError::Disconnected) => return true,
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }

    /// Every line that comes until the source ends or `limit` passes.
    pub fn rest_within(&self, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while let Ok(line) = self
            .receiver
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            seen.push(line);
        }
        seen
    }
}

/// A command running with a new pseudo-terminal as its controlling
/// terminal and as its stdin, stdout and stderr.
pub struct PtyRun {
    pub child: Child,
    /// The terminal side the test writes keys to.
    master: File,
    /// What the command writes to the terminal (and the terminal echoes).
    pub output: Lines,
}

impl PtyRun {
    /// Starts `command` in a new session whose controlling terminal is a
    /// new pty.
    pub fn start(mut command: Command) -> PtyRun {
        let pty = openpty(None, None).expect("open a pty");
        let slave = pty.slave;
        command
            .stdin(stdio_of(&slave))
            .stdout(stdio_of(&slave))
            .stderr(stdio_of(&slave));
        // SAFETY: the closure makes two raw system calls (setsid, and the
        // TIOCSCTTY ioctl on fd 0, already the slave by then); it allocates
        // nothing and takes no lock, so it is sound between fork and exec
        // of a multi-threaded test process.
        unsafe {
            command.pre_exec(|| {
                rustix::process::setsid()?;
                rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())?;
                Ok(())
            });
        }
        let child = command.spawn().expect("start the command on a pty");
        // Only the child may hold the slave now, so that the master reads
        // EOF (EIO) once the child and its descendants are gone.
        drop(slave);
        let master = File::from(pty.master);
        let output = Lines::new(master.try_clone().expect("duplicate the pty master"));
        PtyRun {
            child,
            master,
            output,
        }
    }

    /// Types `bytes` on the terminal.
    pub fn type_keys(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.master
            .write_all(bytes)
            .expect("write to the pty master");
    }

    /// The terminal's foreground process group, as a pid of the test's
    /// PID namespace.
    pub fn foreground_group(&self) -> i32 {
        let pgrp =
            rustix::termios::tcgetpgrp(self.master.as_fd()).expect("TIOCGPGRP on the master");
        pgrp.as_raw_nonzero().get()
    }

    /// Waits up to `limit` for the command to exit; its exit code, or
    /// 128+n when killed by signal n. Kills it and fails on timeout.
    pub fn wait_within(mut self, limit: Duration) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the pty run") {
                return status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running on the pty after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for PtyRun {
    /// Kills the command if a failing test leaves it running. It is our
    /// child and not reaped yet, so its pid cannot have been reused.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn stdio_of(fd: &OwnedFd) -> Stdio {
    Stdio::from(fd.try_clone().expect("duplicate the pty slave"))
}
