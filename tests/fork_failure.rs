//! When podinit cannot fork the program (no process left to the user), it
//! says so in one line, `podinit: cannot fork <program>: <os error>`, and
//! exits with its documented code for that, 125.
//!
//! PID exhaustion is made without exhausting anything: podinit runs as a
//! user no process runs as, with RLIMIT_NPROC 1, so its own process is
//! the user's last one and fork(2) fails with EAGAIN.

use std::fs;
use std::io;
use std::process::Command;

use podinit_tests::{Finished, as_pid1_under, have_root, podinit, run};

const PROGRAM: &str = "true";

/// The wrapper that gives up root for `uid` with one process allowed.
fn one_process_as(uid: u32) -> Vec<String> {
    assert_unused(uid);
    let id = uid.to_string();
    ["prlimit", "--nproc=1", "--", "setpriv"]
        .map(String::from)
        .into_iter()
        .chain([
            format!("--reuid={id}"),
            format!("--regid={id}"),
            "--clear-groups".into(),
            "--".into(),
        ])
        .collect()
}

/// Fails the test when a process runs as `uid`: its processes would
/// count against the limit too.
fn assert_unused(uid: u32) {
    let wanted = format!("Uid:\t{uid}\t");
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        assert!(
            !status.lines().any(|line| line.starts_with(&wanted)),
            "uid {uid} is in use by {:?}; the test needs an unused one",
            entry.file_name()
        );
    }
}

fn assert_fork_failure(finished: &Finished) {
    let error = io::Error::from_raw_os_error(libc::EAGAIN);
    let message = format!("podinit: cannot fork {PROGRAM}: {error}\n");
    assert_eq!(finished.code, 125, "{finished:?}");
    assert_eq!(finished.stderr, message);
    assert_eq!(finished.stdout, "");
}

#[test]
fn fork_failure_as_pid1_exits_125_with_one_message() {
    if !have_root() {
        return;
    }
    let wrapper = one_process_as(61_234);
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    assert_fork_failure(&run(as_pid1_under(&wrapper, &[PROGRAM])));
}

#[test]
fn fork_failure_not_as_pid1_exits_125_with_one_message() {
    if !have_root() {
        return;
    }
    let wrapper = one_process_as(61_235);
    let mut command = Command::new(&wrapper[0]);
    command.args(&wrapper[1..]).arg(podinit()).arg(PROGRAM);
    let finished = run(command);
    assert_eq!(finished.killed_by, None, "{finished:?}");
    assert_fork_failure(&finished);
}
