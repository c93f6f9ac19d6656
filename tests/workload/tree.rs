//! Processes left behind when the program exits, and a stand-in PID 1
//! that watches a podinit which is not PID 1.

use std::os::fd::OwnedFd;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{Signal, raise};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid, pause, setpgid, setsid};

// The leftovers: the harness's list, shared with the tests that check them.
use podinit_tests::LEFTOVER_ROLES as ROLES;

use crate::proc;
use crate::sys::{self, say, spawn};

/// What a leftover does with SIGTERM.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Says `term <role>`, takes [`LINGER`] to stop, says `gone <role>`
    /// and exits.
    Obey,
    /// Says `term <role>` and carries on: only SIGKILL ends it.
    Resist,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "obey" => Some(Mode::Obey),
            "resist" => Some(Mode::Resist),
            _ => None,
        }
    }
}

/// How long an obeying leftover takes to stop after SIGTERM: podinit must
/// wait for it rather than exit as soon as the signal is sent.
const LINGER: Duration = Duration::from_millis(150);

/// Starts one leftover per role, waits until each is ready (and the
/// stopped one stopped), then returns `code` for the program to exit with.
pub fn leave(mode: Mode, code: i32) -> i32 {
    let (mut ready, ready_writer) = sys::pipe();
    let mut stopped = None;
    for role in ROLES {
        match role {
            "orphan" => {
                let middle = spawn(|| {
                    spawn(|| leftover(role, mode, &ready_writer));
                    0
                });
                waitpid(middle, None).expect("reap the middle process");
            }
            "stopped" => stopped = Some(spawn(|| leftover(role, mode, &ready_writer))),
            _ => drop(spawn(|| leftover(role, mode, &ready_writer))),
        }
    }
    sys::collect(&mut ready, ROLES.len());
    let stopped = stopped.expect("a stopped role");
    match waitpid(stopped, Some(WaitPidFlag::WUNTRACED)) {
        Ok(WaitStatus::Stopped(..)) => code,
        other => panic!("the stopped leftover did not stop: {other:?}"),
    }
}

/// One leftover: sets itself up for `role`, says `ready <role> <pid>`,
/// then waits for SIGTERM.
fn leftover(role: &str, mode: Mode, ready: &OwnedFd) -> i32 {
    sys::block(Signal::SIGTERM);
    match role {
        "group" => setpgid(Pid::from_raw(0), Pid::from_raw(0)).expect("setpgid"),
        "session" => drop(setsid().expect("setsid")),
        _ => {}
    }
    say(&format!("ready {role} {}", getpid()));
    sys::post(ready, 1);
    if role == "stopped" {
        raise(Signal::SIGSTOP).expect("stop");
    }
    loop {
        sys::wait_for(Signal::SIGTERM);
        say(&format!("term {role}"));
        if mode == Mode::Obey {
            std::thread::sleep(LINGER);
            say(&format!("gone {role}"));
            return 0;
        }
    }
}

/// Plays PID 1 around `command` (a podinit that is then not PID 1): starts
/// a decoy outside podinit's tree, runs `command`, then says
/// `decoy alive` or `decoy <how it ended>`, and `strays <n> <pids...>`: the
/// processes other than itself and the decoy still there once `command`
/// has exited. Exits with `command`'s status.
pub fn host(command: &[String]) -> i32 {
    let decoy = spawn(|| {
        loop {
            pause();
        }
    });
    let status = Command::new(&command[0])
        .args(&command[1..])
        .status()
        .expect("run the command");
    match waitpid(decoy, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => say("decoy alive"),
        other => say(&format!("decoy {other:?}")),
    }
    let strays: Vec<String> = proc::all_pids()
        .into_iter()
        .filter(|&pid| pid != getpid().as_raw() && pid != decoy.as_raw())
        .map(|pid| pid.to_string())
        .collect();
    let some = strays[..strays.len().min(20)].join(" ");
    say(&format!("strays {} {some}", strays.len()));
    std::os::unix::process::ExitStatusExt::signal(&status)
        .map_or_else(|| status.code().unwrap_or(1), |signal| 128 + signal)
}
