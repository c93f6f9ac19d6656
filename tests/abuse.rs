//! Regressions found by attacking podinit: each test names the abuse it
//! guards against, and fails if podinit hangs, panics or harms a stranger.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use podinit_tests::{Run, as_pid1, have_root, podinit, run};

/// `--grace` and `--stop-timeout` beyond what the clock can represent mean
/// "no deadline", not a panic on the first addition to the clock.
#[test]
fn durations_too_large_for_the_clock_do_not_panic() {
    if !have_root() {
        return;
    }
    let huge = "10000000000000000000";
    let finished = run(as_pid1(&["--grace", huge, "sh", "-c", "exit 4"]));
    assert_eq!(finished.code, 4, "{finished:?}");
    let run = Run::start(as_pid1(&[
        "--stop-timeout",
        huge,
        "sh",
        "-c",
        "sleep 0.3; exit 5",
    ]));
    let init = run.init_pid();
    std::thread::sleep(Duration::from_millis(100));
    // The forwarded SIGTERM kills the shell (143) and starts the stop
    // timeout: no panic (134, or 139 as PID 1).
    let _ = Command::new("kill")
        .args(["-TERM", &init.to_string()])
        .status();
    let finished = run.finish_within(Duration::from_secs(10));
    assert_eq!(finished.code, 143, "{finished:?}");
    assert!(!finished.stderr.contains("panicked"), "{finished:?}");
}

/// A flood of real-time signals from inside the namespace keeps the
/// signalfd readable; the SIGKILL due after the grace period still goes.
#[test]
fn a_signal_flood_cannot_hold_back_the_sigkill_after_grace() {
    if !have_root() {
        return;
    }
    // The program ignores 36 too: podinit forwards the flood to it.
    let program = "trap '' 36; setsid sh -c 'trap \"\" TERM 36; while :; do kill -36 1; done' & \
                   sleep 0.2; exit 3";
    let start = Instant::now();
    let finished = Run::start(as_pid1(&["--grace", "500ms", "sh", "-c", program]))
        .finish_within(Duration::from_secs(20));
    assert_eq!(finished.code, 3, "{finished:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "SIGKILL held back: {finished:?}"
    );
}

/// A stderr pipe that nobody reads must not stop PID 1: the SIGKILL after
/// the grace period goes out, the lines that find no room are dropped.
#[test]
fn a_full_stderr_pipe_does_not_block_podinit() {
    if !have_root() {
        return;
    }
    let program = "head -c 200000 /dev/zero >&2 & sh -c 'trap \"\" TERM; sleep 8' & \
                   sleep 0.3; exit 3";
    let mut command = as_pid1(&["-vvv", "--grace", "500ms", "sh", "-c", program]);
    // The pipe's read end stays open in this process and is never read.
    let (_reader, writer) = std::io::pipe().expect("a pipe");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(writer);
    let start = Instant::now();
    let mut child = command.spawn().expect("start podinit");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(6) {
            let _ = child.kill();
            panic!("podinit blocked on its full stderr");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(3));
}

/// Not PID 1, under a `/proc` of another PID namespace, podinit must not
/// take that namespace's pids for its own descendants: it leaves its
/// leftovers rather than signal strangers.
#[test]
fn a_foreign_proc_is_not_walked() {
    if !have_root() {
        return;
    }
    // A new PID namespace without its own /proc: podinit's pids are small,
    // the /proc it sees is the machine's. Three decoys, children of the
    // shell and not of podinit, must survive.
    let podinit = podinit();
    let script = format!(
        "for i in 1 2 3; do sleep 30 & done; \
         {} --grace 300ms -- sh -c 'sleep 30 & exit 3'; echo podinit $?; \
         sleep 0.2; n=0; for j in $(jobs -p); do kill -0 $j 2>/dev/null && n=$((n+1)); done; \
         echo decoys $n; kill $(jobs -p) 2>/dev/null; pkill -P $$ sleep; exit 0",
        podinit.display()
    );
    let mut command = Command::new("unshare");
    command.args([
        "--pid",
        "--fork",
        "--kill-child",
        "--",
        "bash",
        "-c",
        &script,
    ]);
    let finished = run(command);
    assert!(finished.stdout.contains("podinit 3"), "{finished:?}");
    assert!(
        finished.stdout.contains("decoys 3"),
        "a stranger was signalled: {finished:?}"
    );
    assert!(
        finished.stderr.contains("another PID namespace"),
        "{finished:?}"
    );
}
