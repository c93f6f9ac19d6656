//! When a pod ends and with which code: `all` (the default) waits for
//! every app and stops the others at the first failure, which decides the
//! code; `any` ends at the first exit; `main=APP` ends with APP and takes
//! its status.

use std::time::{Duration, Instant};

use podinit_tests::pod::{App, GRACE, PodDir, TestCgroup, sh_wait_for};
use podinit_tests::{Finished, have_root, run};

/// Runs the pod of `apps` with `args` (after `--grace 300ms`).
fn run_pod(tag: &str, apps: &[App], args: &[&str]) -> (PodDir, Finished) {
    let pod = PodDir::new(tag);
    let cgroup = TestCgroup::new(tag);
    pod.write(apps);
    let mut all_args = vec!["--grace", GRACE];
    all_args.extend_from_slice(args);
    let finished = run(pod.command(&cgroup, &all_args));
    (pod, finished)
}

/// An app that exits with `code` after `secs` seconds.
fn exits(name: &str, secs: &str, code: u8) -> App {
    App::sh(name, &format!("sleep {secs}; exit {code}"))
}

/// An app that runs until stopped (SIGTERM kills it: status 143).
fn runs(name: &str) -> App {
    App::new(name, &["/bin/sleep", "30"])
}

#[test]
fn two_apps_that_succeed_end_the_pod_with_0_once_both_have_exited() {
    if !have_root() {
        return;
    }
    let start = Instant::now();
    let (pod, finished) = run_pod(
        "two-ok",
        &[exits("quick", "0.1", 0), exits("slow", "0.6", 0)],
        &[],
    );
    assert_eq!(finished.code, 0, "{finished:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "the pod ended before its slower app: {finished:?}"
    );
    assert_eq!(pod.status_code("quick"), 0);
    assert_eq!(pod.status_code("slow"), 0);
    assert_eq!(finished.stderr, "", "{finished:?}");
}

#[test]
fn ten_apps_all_run_and_are_all_recorded() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("ten");
    let cgroup = TestCgroup::new("ten");
    let apps: Vec<App> = (0..10)
        .map(|i| {
            let name = format!("app-{i}");
            let script = format!("sleep 0.{i}; echo $AC_APP_NAME > {}", pod.out(&name));
            App::sh(&name, &script)
        })
        .collect();
    pod.write(&apps);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(finished.code, 0, "{finished:?}");
    for i in 0..10 {
        let name = format!("app-{i}");
        assert_eq!(
            pod.read_out(&name),
            format!("{name}\n"),
            "{name} did not run"
        );
        assert_eq!(pod.status_code(&name), 0, "{name}");
    }
    assert_eq!(pod.status_names().len(), 20, "{}", pod.listing());
}

#[test]
fn a_failing_app_stops_the_others_and_gives_the_pod_its_code() {
    if !have_root() {
        return;
    }
    let start = Instant::now();
    let (pod, finished) = run_pod(
        "one-fails",
        &[runs("server"), exits("batch", "0.2", 3), runs("worker")],
        &[],
    );
    assert_eq!(finished.code, 3, "the failing app's code: {finished:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the others were not stopped: {finished:?}"
    );
    assert_eq!(pod.status_code("batch"), 3);
    assert_eq!(pod.status_code("server"), 143, "stopped by SIGTERM");
    assert_eq!(pod.status_code("worker"), 143, "stopped by SIGTERM");
}

#[test]
fn under_all_a_success_does_not_stop_the_others() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("all-success");
    let cgroup = TestCgroup::new("all-success");
    // `late` sees `early`'s record appear while it still runs, then fails.
    let seen = pod.out("late-saw-early");
    let early_record = pod.status_dir().join("early");
    let script = format!(
        "{}; [ -e {} ] && echo yes > {seen}; exit 4",
        sh_wait_for(early_record.to_str().expect("utf-8"), 10),
        early_record.display()
    );
    pod.write(&[exits("early", "0.1", 0), App::sh("late", &script)]);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(pod.read_out("late-saw-early"), "yes\n", "{finished:?}");
    assert_eq!(finished.code, 4, "{finished:?}");
    assert_eq!(pod.status_code("early"), 0);
    assert_eq!(pod.status_code("late"), 4);
}

#[test]
fn any_ends_the_pod_at_the_first_exit_even_a_successful_one() {
    if !have_root() {
        return;
    }
    let start = Instant::now();
    let (pod, finished) = run_pod(
        "any-ok",
        &[runs("server"), exits("oneshot", "0.2", 0)],
        &["--exit-policy", "any"],
    );
    assert_eq!(finished.code, 0, "{finished:?}");
    assert!(start.elapsed() < Duration::from_secs(5), "{finished:?}");
    assert_eq!(pod.status_code("oneshot"), 0);
    assert_eq!(pod.status_code("server"), 143);
}

#[test]
fn any_takes_the_code_of_the_first_app_to_exit() {
    if !have_root() {
        return;
    }
    let (pod, finished) = run_pod(
        "any-code",
        &[exits("second", "1", 9), exits("first", "0.1", 6)],
        &["--exit-policy=any"],
    );
    assert_eq!(finished.code, 6, "{finished:?}");
    assert_eq!(pod.status_code("first"), 6);
    assert_eq!(pod.status_code("second"), 143);
}

#[test]
fn main_ends_with_the_main_app_and_takes_its_status() {
    if !have_root() {
        return;
    }
    let start = Instant::now();
    let (pod, finished) = run_pod(
        "main",
        &[
            exits("helper", "0.1", 5),
            exits("web", "0.7", 7),
            runs("sidecar"),
        ],
        &["--exit-policy", "main=web"],
    );
    assert_eq!(finished.code, 7, "web's status: {finished:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(700),
        "a failing helper stopped the pod before its main app ended: {finished:?}"
    );
    assert_eq!(pod.status_code("helper"), 5);
    assert_eq!(pod.status_code("web"), 7, "web ran to its end");
    assert_eq!(pod.status_code("sidecar"), 143);
}

#[test]
fn main_that_is_killed_gives_128_plus_the_signal() {
    if !have_root() {
        return;
    }
    let (pod, finished) = run_pod(
        "main-killed",
        &[App::sh("web", "sleep 0.2; kill -KILL $$"), runs("sidecar")],
        &["--exit-policy", "main=web"],
    );
    assert_eq!(finished.code, 137, "{finished:?}");
    assert_eq!(finished.killed_by, None, "podinit exits, it is not killed");
    assert_eq!(pod.status_code("web"), 137);
}

#[test]
fn main_that_cannot_start_ends_the_pod_with_its_failure_status() {
    if !have_root() {
        return;
    }
    let start = Instant::now();
    let (pod, finished) = run_pod(
        "main-missing",
        &[App::new("web", &["/nonexistent/web"]), runs("sidecar")],
        &["--exit-policy", "main=web"],
    );
    assert_eq!(finished.code, 127, "{finished:?}");
    assert!(start.elapsed() < Duration::from_secs(5), "{finished:?}");
    assert_eq!(pod.status_code("web"), 127);
    assert_eq!(pod.status_code("sidecar"), 143);
}
