//! Orphans re-parented to podinit are reaped: every one of a burst of
//! 20,000 zombies, double-forked processes when they exit, and reaping is
//! not logged orphan by orphan. How fast is the benchmark's to show
//! (`musl-target/bench`: zombies left 100 ms after the burst), not a test's:
//! a timed test fails on a busy machine, not on slow code.

use std::sync::Mutex;

use podinit_tests::{Finished, as_pid1, have_root, run, workload_arg};

/// The tests of this file run one at a time: each forks thousands of
/// processes, and two at once could run the machine out of pids.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The numbers of the workload's report line:
/// `<kind> <count> left-at-<ms>ms <left> cleared-us <µs|never> zombies <n>`.
#[derive(Debug)]
struct Report {
    /// podinit's children other than the program at the deadline.
    left: usize,
    /// When none was left, in µs after the orphans were let go; `None`
    /// when that never happened.
    cleared_us: Option<u64>,
    /// Zombies in the namespace after that.
    zombies: usize,
}

fn report(finished: &Finished, kind: &str) -> Report {
    assert_eq!(finished.code, 0, "{finished:?}");
    let line = finished.stdout.lines().find(|line| line.starts_with(kind));
    let line = line.unwrap_or_else(|| panic!("no `{kind}` report: {finished:?}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let number = |index: usize| words[index].parse().ok();
    Report {
        left: number(3).unwrap_or_else(|| panic!("a count at the deadline: {line}")),
        cleared_us: number(5).map(|n: usize| n as u64),
        zombies: number(7).unwrap_or_else(|| panic!("a zombie count: {line}")),
    }
}

#[test]
fn every_orphan_of_a_burst_of_20000_is_reaped() {
    if !have_root() {
        return;
    }
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let finished = run(as_pid1(&[&workload_arg(), "orphans", "20000", "100"]));
    let report = report(&finished, "orphans 20000 ");
    assert!(
        report.cleared_us.is_some(),
        "orphans never all reaped: {report:?}"
    );
    assert_eq!(report.zombies, 0, "{report:?}");
}

#[test]
fn double_forked_processes_are_reaped_when_they_exit() {
    if !have_root() {
        return;
    }
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // They exit when let go: the time is theirs to be scheduled, so the
    // check is only that podinit reaps them, not how fast.
    let finished = run(as_pid1(&[&workload_arg(), "double-fork", "500", "1000"]));
    let report = report(&finished, "double-forks 500 ");
    assert_eq!(report.left, 0, "double-forked processes left: {report:?}");
    assert_eq!(report.zombies, 0, "{report:?}");
}

/// STYLE.md: lines an app can trigger in a loop are summarised. At the
/// default level, and one `-v` above it, a burst of orphans says nothing.
#[test]
fn reaping_orphans_is_not_logged_per_orphan_by_default() {
    if !have_root() {
        return;
    }
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for verbose in [&[][..], &["-v"]] {
        let mut args = verbose.to_vec();
        let workload = workload_arg();
        args.extend([workload.as_str(), "orphans", "2000", "100"]);
        let mut command = as_pid1(&args);
        command
            .env_remove("PODINIT_LOG")
            .env_remove("TINI_VERBOSITY");
        let finished = run(command);
        report(&finished, "orphans 2000 ");
        assert_eq!(finished.stderr, "", "podinit {args:?} logged");
    }
}
