//! Orphans for podinit to reap: a burst of zombies re-parented at once,
//! and double-forked processes re-parented while still running.
//!
//! Both take a delay, CHECK, and report one line:
//! `<kind> <count> left-at-<CHECK>ms <n> cleared-us <µs|never> zombies <n>`:
//! how many of podinit's children other than this program were left CHECK
//! after the orphans were let go (the deadline itself, hence a sleep), how
//! long until none was, and how many zombies the namespace held after that.
//! The check is a single read: polling podinit's list of children while it
//! reaps takes the kernel's tasklist lock and slows the reaping down.

use std::time::Duration;

use nix::sys::wait::waitpid;
use nix::unistd::getppid;

use crate::proc;
use crate::sys::{self, say, spawn};

/// How long podinit gets to reap before the report says "never".
const REAP_LIMIT: Duration = Duration::from_secs(10);
/// How long the forked children get to become zombies.
const EXIT_LIMIT: Duration = Duration::from_secs(30);

/// An intermediate forks `count` children that exit at once, waits until
/// they are all zombies, then exits: its exit re-parents them to podinit
/// together. The burst ends when the intermediate starts exiting.
pub fn burst(count: usize, check: Duration) -> i32 {
    let (mut times, times_writer) = sys::pipe();
    let intermediate = spawn(|| {
        let pids: Vec<i32> = (0..count).map(|_| spawn(|| 0).as_raw()).collect();
        if !proc::await_zombies(&pids, EXIT_LIMIT) {
            say("orphans: children did not exit");
            return 1;
        }
        let end = sys::now_nanos().to_le_bytes();
        nix::unistd::write(&times_writer, &end).expect("send the burst's end");
        0
    });
    drop(times_writer);
    let mut end = [0; 16];
    std::io::Read::read_exact(&mut times, &mut end).expect("the burst's end");
    waitpid(intermediate, None).expect("reap the intermediate");
    report("orphans", count, i128::from_le_bytes(end), check)
}

/// Starts `count` processes through a parent that exits at once, so that
/// each is re-parented to podinit while running; then lets them all exit
/// together.
pub fn double_fork(count: usize, check: Duration) -> i32 {
    let (mut release, releaser) = sys::pipe();
    for _ in 0..count {
        let middle = spawn(|| {
            spawn(|| {
                sys::collect(&mut release, 1);
                0
            });
            0
        });
        waitpid(middle, None).expect("reap the middle process");
    }
    let start = sys::now_nanos();
    sys::post(&releaser, count);
    report("double-forks", count, start, check)
}

fn report(kind: &str, count: usize, since: i128, check: Duration) -> i32 {
    let parent = getppid().as_raw();
    std::thread::sleep(check.saturating_sub(sys::since(since)));
    let me = std::process::id() as i32;
    let children = proc::children(parent);
    // Not a child of the reaper: no count would mean anything.
    let left = match children.contains(&me) {
        true => (children.len() - 1).to_string(),
        false => format!("unknown (not a child of {parent})"),
    };
    let cleared = match proc::await_only_child(parent, since, REAP_LIMIT) {
        Some(after) => after.as_micros().to_string(),
        None => "never".into(),
    };
    let zombies = proc::zombies().len();
    let checked = check.as_millis();
    say(&format!(
        "{kind} {count} left-at-{checked}ms {left} cleared-us {cleared} zombies {zombies}"
    ));
    0
}
