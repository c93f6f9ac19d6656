//! Event handlers: `pre-start` runs to its end before the app starts, and a
//! failing one keeps the app from starting; `post-stop` runs once the app
//! and everything it left behind are gone, also when the pod is stopped.

use std::time::Duration;

use podinit_tests::pod::{App, GRACE, PodDir, TestCgroup, json_fields};
use podinit_tests::{Run, have_root, run};

/// A handler that appends `word` to `log` (after `delay` seconds).
fn note(log: &str, word: &str, delay: &str) -> Vec<String> {
    let script = format!("sleep {delay}; echo {word} >> {log}");
    vec!["/bin/sh".into(), "-c".into(), script]
}

fn strs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

#[test]
fn pre_start_then_app_then_post_stop_after_the_tree_is_gone() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("handlers-order");
    let cgroup = TestCgroup::new("handlers-order");
    let log = pod.out("log");
    // The app leaves a child that takes a while to stop on SIGTERM: the
    // post-stop handler must wait for it.
    let main = format!(
        "echo main >> {log}; \
         (trap 'sleep 0.2; echo child-gone >> {log}; exit 0' TERM; \
          while :; do sleep 0.05; done) & \
         sleep 0.1; exit 0"
    );
    let app = App::sh("ordered", &main)
        .pre_start(&strs(&note(&log, "pre-start", "0.3")))
        .post_stop(&strs(&note(&log, "post-stop", "0")));
    pod.write(&[app]);
    let finished = run(pod.command(&cgroup, &["--grace", "5s"]));
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_eq!(
        pod.read_out("log"),
        "pre-start\nmain\nchild-gone\npost-stop\n",
        "{finished:?}"
    );
    assert_eq!(pod.status_code("ordered"), 0);
}

#[test]
fn a_failing_pre_start_keeps_the_app_from_starting() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("handlers-pre-fails");
    let cgroup = TestCgroup::new("handlers-pre-fails");
    let log = pod.out("log");
    let app = App::sh("guarded", &format!("echo main >> {log}"))
        .pre_start(&["/bin/sh", "-c", "exit 3"])
        .post_stop(&strs(&note(&log, "post-stop", "0")));
    pod.write(&[app, App::new("other", &["/bin/sleep", "30"])]);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(pod.read_out("log"), "", "the app or its post-stop ran");
    assert_ne!(
        finished.code, 0,
        "a failed start fails the pod: {finished:?}"
    );
    let status = pod.status_code("guarded");
    assert_ne!(status, 0, "recorded as failed");
    assert_eq!(finished.code, i32::from(status), "{finished:?}");
    let record = pod.record("guarded").unwrap_or_default();
    let fields = json_fields(&record).unwrap_or_default();
    let start = fields.iter().find(|(key, _)| key == "start");
    assert!(
        start.is_some_and(|(_, value)| value.contains("pre-start")),
        "the record names the pre-start handler: {record}"
    );
    assert_eq!(pod.status_code("other"), 143, "the others are stopped");
}

#[test]
fn post_stop_runs_when_the_pod_is_stopped() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("handlers-stopped");
    let cgroup = TestCgroup::new("handlers-stopped");
    let log = pod.out("log");
    let ready = pod.out("ready");
    let app = App::sh("served", &format!("touch {ready}; exec sleep 30")).post_stop(&strs(&note(
        &log,
        "post-stop",
        "0",
    )));
    pod.write(&[app]);
    let running = Run::start(pod.command(&cgroup, &["--grace", GRACE]));
    pod.wait_out("ready", Duration::from_secs(10));
    let init = nix::unistd::Pid::from_raw(running.init_pid());
    nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM podinit");
    let finished = running.finish_within(Duration::from_secs(10));
    assert_eq!(pod.read_out("log"), "post-stop\n", "{finished:?}");
    assert_eq!(pod.status_code("served"), 143);
}

#[test]
fn a_pre_start_that_hangs_is_stopped_with_the_pod() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("handlers-pre-hangs");
    let cgroup = TestCgroup::new("handlers-pre-hangs");
    let log = pod.out("log");
    let app = App::sh("never", &format!("echo main >> {log}")).pre_start(&[
        "/bin/sh",
        "-c",
        "trap '' TERM; while :; do sleep 0.05; done",
    ]);
    pod.write(&[app, App::sh("failing", "sleep 0.2; exit 2")]);
    let start = std::time::Instant::now();
    let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(finished.code, 2, "{finished:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the hanging pre-start was not killed after the grace: {finished:?}"
    );
    assert_eq!(
        pod.read_out("log"),
        "",
        "the app started after its pod stopped"
    );
    assert_eq!(pod.status_code("never"), 143, "recorded as never started");
}
