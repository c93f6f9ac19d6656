//! What the workload reads from `/proc`: children, states, every pid.

use std::fs;
use std::time::{Duration, Instant};

use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};

use crate::sys;

/// The children of single-threaded process `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let text = fs::read_to_string(path).unwrap_or_default();
    text.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The state letter of `pid` (`R`, `S`, `Z`...), `None` when it is gone.
/// It follows the command name, which may hold spaces and `)`.
pub fn state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Every pid in this PID namespace.
pub fn all_pids() -> Vec<i32> {
    let entries = fs::read_dir("/proc").expect("read /proc");
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Every zombie in this PID namespace.
pub fn zombies() -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&pid| state(pid) == Some('Z'))
        .collect()
}

/// Waits until every one of `pids`, children of the caller, is a zombie;
/// false when some are not after `limit`. Asks waitid(2) without reaping
/// rather than reading `/proc/<pid>`: each `/proc/<pid>` looked up leaves
/// an entry the kernel must drop again when that process is reaped, which
/// would slow podinit's reaping down in the test that times it.
pub fn await_zombies(pids: &[i32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut running = pids.to_vec();
    loop {
        running.retain(|&pid| !is_zombie_child(pid));
        if running.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn is_zombie_child(pid: i32) -> bool {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    let pid = Pid::from_raw(pid).expect("a child's pid");
    matches!(waitid(WaitId::Pid(pid), options), Ok(Some(_)))
}

/// Waits until `parent` has no child but the caller (a child of it); returns how long
/// after `since` (a [`sys::now_nanos`]) that was, or `None` after `limit`.
pub fn await_only_child(parent: i32, since: i128, limit: Duration) -> Option<Duration> {
    let me = std::process::id() as i32;
    let deadline = Instant::now() + limit;
    loop {
        if children(parent) == [me] {
            return Some(sys::since(since));
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}
