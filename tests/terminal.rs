//! Under a terminal, the program is the terminal's foreground process
//! group, so the keys that raise signals (Ctrl-C) reach it directly.
//!
//! The test opens a pty, starts `unshare … podinit …` as a new session
//! with the pty as its controlling terminal and stdio, and looks at the
//! terminal from the master side.

use std::time::{Duration, Instant};

use podinit_tests::pty::PtyRun;
use podinit_tests::{as_pid1, have_root};

const HOP: Duration = Duration::from_secs(5);

/// The children of `pid`, from /proc.
fn children(pid: u32) -> Vec<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_whitespace()
        .map(|pid| pid.parse().expect("a pid"))
        .collect()
}

/// The one child of `pid`, waited for.
fn only_child(pid: u32) -> i32 {
    let deadline = Instant::now() + HOP;
    loop {
        if let [child] = children(pid)[..] {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "{pid} started no child within {HOP:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Field `index` (1-based, as in proc(5)) of /proc/<pid>/stat.
fn stat_field(pid: i32, index: usize) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // Fields after the command name, which is in parentheses and may hold
    // spaces; the state is field 3.
    let after_name = &stat[stat.rfind(')').expect("a command name") + 1..];
    let field = after_name
        .split_whitespace()
        .nth(index - 3)
        .expect("the field exists");
    field.parse().expect("a number")
}

#[test]
fn the_program_is_the_terminals_foreground_group() {
    if !have_root() {
        return;
    }
    let script = "echo ready; exec sleep 30";
    let run = PtyRun::start(as_pid1(&["/bin/busybox", "sh", "-c", script]));
    run.output.wait_for("ready", HOP);
    let init = only_child(run.child.id());
    let program = only_child(init as u32);
    let foreground = run.foreground_group();
    let group = stat_field(program, 5);
    let init_group = stat_field(init, 5);
    kill(init, libc::SIGTERM);
    let code = run.wait_within(HOP);

    assert_eq!(
        group, program,
        "the program is not the leader of its own process group"
    );
    assert_ne!(
        group, init_group,
        "the program is in podinit's process group"
    );
    assert_eq!(
        foreground, program,
        "the terminal's foreground group is not the program's"
    );
    assert_eq!(
        code,
        128 + libc::SIGTERM,
        "unshare's exit after SIGTERM to podinit"
    );
}

#[test]
fn ctrl_c_reaches_the_program_from_the_terminal() {
    if !have_root() {
        return;
    }
    // podinit drops INT (-r INT:0), so an INT the program sees came from
    // the terminal, which signals its foreground group only.
    let script = "trap 'echo got INT; exit 3' INT; echo ready; while :; do sleep 1; done";
    let mut run = PtyRun::start(as_pid1(&[
        "-r",
        "INT:0",
        "/bin/busybox",
        "sh",
        "-c",
        script,
    ]));
    run.output.wait_for("ready", HOP);
    run.type_keys(b"\x03");
    run.output.wait_for("got INT", HOP);
    let code = run.wait_within(HOP);
    assert_eq!(
        code, 3,
        "podinit should exit with the program's code after Ctrl-C"
    );
}

fn kill(pid: i32, signo: i32) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, signo) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signo}): {}",
        std::io::Error::last_os_error()
    );
}
