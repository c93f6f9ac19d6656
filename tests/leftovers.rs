//! When the program exits, every process it left behind, including ones
//! in their own process group or session, stopped ones and double-forked
//! ones, gets SIGTERM, then SIGKILL after `--grace`; podinit exits only
//! once they are gone, with the program's status. Not PID 1, it signals
//! its own descendants and nothing else.

use std::process::Command;
use std::time::{Duration, Instant};

use podinit_tests::{Finished, as_pid1, assert_every_role, have_root, podinit, run, workload_arg};

/// podinit, not PID 1, under the workload's stand-in PID 1 in a fresh PID
/// namespace, next to a decoy that is not podinit's descendant. The
/// namespace also keeps a podinit that wrongly signals everything from
/// reaching the processes of the machine.
fn not_pid1_beside_a_decoy(args: &[&str]) -> Command {
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"]);
    command.args([&workload_arg(), "host", "--"]);
    command.arg(podinit()).args(args);
    command
}

/// Asserts what the stand-in PID 1 saw once podinit had exited.
fn assert_decoy_spared_and_nothing_left(finished: &Finished) {
    let lines: Vec<&str> = finished.stdout.lines().collect();
    assert!(
        lines.contains(&"decoy alive"),
        "podinit signalled a process outside its tree: {finished:?}"
    );
    assert!(
        lines.iter().any(|line| line.trim_end() == "strays 0"),
        "podinit exited before its leftovers were gone: {finished:?}"
    );
}

#[test]
fn leftovers_get_sigterm_and_podinit_waits_until_they_are_gone() {
    if !have_root() {
        return;
    }
    let start = Instant::now();
    let finished = run(as_pid1(&[
        "--grace",
        "30s",
        &workload_arg(),
        "leave",
        "obey",
        "7",
    ]));
    assert_eq!(finished.code, 7, "the program's status: {finished:?}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "podinit waited for the grace period although its leftovers stopped"
    );
    assert_every_role(&finished, "term");
    // Each says `gone` only after taking its time to stop: had podinit
    // exited first, the kernel would have killed them before that.
    assert_every_role(&finished, "gone");
    assert_eq!(finished.stderr, "", "{finished:?}");
}

#[test]
fn leftovers_that_ignore_sigterm_get_sigkill_after_the_grace_period() {
    if !have_root() {
        return;
    }
    let grace = Duration::from_millis(500);
    let start = Instant::now();
    let finished = run(as_pid1(&[
        "--grace",
        "500ms",
        &workload_arg(),
        "leave",
        "resist",
        "3",
    ]));
    let elapsed = start.elapsed();
    assert_eq!(finished.code, 3, "the program's status: {finished:?}");
    assert_every_role(&finished, "term");
    assert!(
        elapsed >= grace,
        "SIGKILL came before the grace period: {elapsed:?}"
    );
    assert!(elapsed < grace + Duration::from_secs(10), "{elapsed:?}");
    let lines = finished.stderr_lines();
    assert!(
        lines.len() == 1 && lines[0].starts_with("podinit: ") && lines[0].contains("SIGKILL"),
        "one warning that SIGKILL was sent: {lines:?}"
    );
}

#[test]
fn not_pid1_podinit_stops_its_descendants_and_waits_until_they_are_gone() {
    if !have_root() {
        return;
    }
    let workload = workload_arg();
    let finished = run(not_pid1_beside_a_decoy(&[
        "--grace", "30s", &workload, "leave", "obey", "7",
    ]));
    assert_eq!(finished.code, 7, "the program's status: {finished:?}");
    assert_every_role(&finished, "term");
    assert_every_role(&finished, "gone");
    assert_decoy_spared_and_nothing_left(&finished);
}

#[test]
fn not_pid1_podinit_never_signals_a_process_outside_its_tree() {
    if !have_root() {
        return;
    }
    let workload = workload_arg();
    let start = Instant::now();
    let finished = run(not_pid1_beside_a_decoy(&[
        "--grace", "300ms", &workload, "leave", "resist", "3",
    ]));
    assert_eq!(finished.code, 3, "the program's status: {finished:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "SIGKILL before the grace period"
    );
    // Both rounds, SIGTERM to all and SIGKILL to the resisting, spared it.
    assert_every_role(&finished, "term");
    assert_decoy_spared_and_nothing_left(&finished);
}
