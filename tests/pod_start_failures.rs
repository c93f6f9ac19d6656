//! An app that cannot start is recorded (127 not found, 126 not
//! executable, 125 for a bad user or a missing working directory) and
//! counts as failed; it never takes podinit or the other apps down.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use podinit_tests::pod::{App, GRACE, PodDir, TestCgroup, json_fields, path_text};
use podinit_tests::{Finished, have_root, run};

/// A script that is not executable (mode 0644).
fn not_executable(pod: &PodDir) -> String {
    let path = pod.dir.join("script.sh");
    fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write the script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    path_text(&path)
}

/// Every way an app can fail to start, with the status it is recorded with.
fn failing_apps(pod: &PodDir) -> Vec<(App, u8)> {
    let script = not_executable(pod);
    vec![
        (App::new("missing", &["/nonexistent/program"]), 127),
        (App::new("missing-in-path", &["no-such-program-here"]), 127),
        (App::new("not-executable", &[&script]), 126),
        (
            App::new("bad-user", &["/bin/true"]).user(Some("no-such-user-here")),
            125,
        ),
        (
            App::new("bad-group", &["/bin/true"]).group(Some("no-such-group-here")),
            125,
        ),
        (
            App::new("no-workdir", &["/bin/true"]).working_directory("/nonexistent/dir"),
            125,
        ),
    ]
}

/// The `start` field of `app`'s JSON record.
fn start_field(pod: &PodDir, app: &str) -> String {
    let text = pod.record(app).unwrap_or_else(|| panic!("no {app}.json"));
    let fields = json_fields(&text).unwrap_or_else(|| panic!("{app}.json: {text:?}"));
    let (_, start) = fields
        .into_iter()
        .find(|(key, _)| key == "start")
        .unwrap_or_else(|| panic!("{app}.json has no start: {text}"));
    start
}

#[test]
fn apps_that_cannot_start_are_recorded_and_the_main_app_carries_on() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("start-failures");
    let cgroup = TestCgroup::new("start-failures");
    let failing = failing_apps(&pod);
    let mut apps: Vec<App> = failing.iter().map(|(app, _)| app.clone()).collect();
    apps.push(App::sh("web", "sleep 0.5; exit 0"));
    pod.write(&apps);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE, "--exit-policy", "main=web"]));
    assert_eq!(finished.code, 0, "web's status decides: {finished:?}");
    assert_eq!(pod.status_code("web"), 0, "web ran to its end");
    for (app, status) in &failing {
        let name = app_name(app);
        assert_eq!(pod.status_code(&name), *status, "{name}: {finished:?}");
        let start = start_field(&pod, &name);
        assert!(
            start.starts_with("{\"error\":\""),
            "{name} is recorded as started: {start}"
        );
    }
}

#[test]
fn each_start_failure_is_reported_once_naming_its_app() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("start-messages");
    let cgroup = TestCgroup::new("start-messages");
    let failing = failing_apps(&pod);
    let mut apps: Vec<App> = failing.iter().map(|(app, _)| app.clone()).collect();
    apps.push(App::sh("web", "sleep 0.3; exit 0"));
    pod.write(&apps);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE, "--exit-policy", "main=web"]));
    assert_eq!(finished.code, 0, "{finished:?}");
    let lines = finished.stderr_lines();
    for (app, _) in &failing {
        let name = app_name(app);
        let naming: Vec<&&str> = lines
            .iter()
            .filter(|line| line.starts_with(&format!("podinit: app {name}: ")))
            .collect();
        assert_eq!(
            naming.len(),
            1,
            "one `podinit: app {name}: ...` line: {:#?}",
            lines
        );
    }
    assert_eq!(
        lines.len(),
        failing.len(),
        "one line per failure: {lines:#?}"
    );
}

fn app_name(app: &App) -> String {
    let json = app.json();
    let start = json.find("\"name\":\"").expect("a name") + 8;
    let end = json[start..].find('"').expect("end of name") + start;
    json[start..end].to_owned()
}

/// Under the default policy, an app that cannot start counts as failed:
/// the others are stopped, and the pod exits with its status.
fn assert_failure_stops_the_pod(tag: &str, failing: App, status: u8) {
    let pod = PodDir::new(tag);
    let cgroup = TestCgroup::new(tag);
    let name = app_name(&failing);
    pod.write(&[App::new("server", &["/bin/sleep", "30"]), failing]);
    let start = Instant::now();
    let finished: Finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(finished.code, i32::from(status), "{tag}: {finished:?}");
    assert!(start.elapsed() < Duration::from_secs(5), "{finished:?}");
    assert_eq!(pod.status_code(&name), status);
    assert_eq!(pod.status_code("server"), 143, "server was stopped");
}

#[test]
fn a_missing_program_fails_the_pod_with_127() {
    if !have_root() {
        return;
    }
    let app = App::new("missing", &["/nonexistent/program"]);
    assert_failure_stops_the_pod("start-127", app, 127);
}

#[test]
fn a_program_that_cannot_execute_fails_the_pod_with_126() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("start-126-script");
    let app = App::new("noexec", &[&not_executable(&pod)]);
    assert_failure_stops_the_pod("start-126", app, 126);
}

#[test]
fn an_unknown_user_fails_the_pod_with_125() {
    if !have_root() {
        return;
    }
    let app = App::new("baduser", &["/bin/true"]).user(Some("no-such-user-here"));
    assert_failure_stops_the_pod("start-125-user", app, 125);
}

#[test]
fn a_missing_working_directory_fails_the_pod_with_125() {
    if !have_root() {
        return;
    }
    let app = App::new("nodir", &["/bin/true"]).working_directory("/nonexistent/dir");
    assert_failure_stops_the_pod("start-125-dir", app, 125);
}

/// Regression: an app after one that could not start was recorded twice as
/// never started (once when the failure stopped the pod, once at its own
/// turn), and the second record was refused with an error.
#[test]
fn an_app_after_a_failed_start_is_recorded_once() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("after-failed-start");
    let cgroup = TestCgroup::new("after-failed-start");
    pod.write(&[
        App::new("first", &["/bin/sleep", "1"]),
        App::new("bad-user", &["/bin/true"]).user(Some("no-such-user-here")),
        App::new("last", &["/bin/sleep", "1"]),
    ]);
    let finished = run(pod.command(&cgroup, &["-v", "--grace", GRACE]));
    assert_eq!(finished.code, 125, "{finished:?}");
    let never = finished
        .stderr_lines()
        .into_iter()
        .filter(|line| line.contains("app last: the pod stopped before it started"))
        .count();
    assert_eq!(never, 1, "{finished:?}");
    assert!(
        !finished.stderr.contains("already recorded"),
        "{finished:?}"
    );
    assert_eq!(pod.status_code("last"), 143);
}
