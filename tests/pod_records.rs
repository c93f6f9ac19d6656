//! Status records: `<app>` holds the status as `"<n>\n"` and `<app>.json`
//! one line of JSON, both mode 0640, both only once the app has exited,
//! and never partial, even when podinit is SIGKILLed while writing them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use podinit_tests::pod::{
    App, GRACE, PodDir, TestCgroup, is_rfc3339_millis, json_fields, podinit_in, sh_wait_for,
};
use podinit_tests::{Finished, Run, have_root, run, workload_arg};

/// The keys of `<app>.json`, in their documented order.
const KEYS: [&str; 8] = [
    "app", "pid", "status", "exitCode", "signal", "started", "exited", "start",
];

/// The fields of `app`'s JSON record, checked for shape: one line, the
/// documented keys in order.
fn record_fields(pod: &PodDir, app: &str) -> Vec<(String, String)> {
    let text = pod
        .record(app)
        .unwrap_or_else(|| panic!("no {app}.json: {}", pod.listing()));
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "{app}.json is not one line and a newline: {text:?}"
    );
    let fields = json_fields(&text).unwrap_or_else(|| panic!("{app}.json: {text:?}"));
    let keys: Vec<&str> = fields.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, KEYS, "{app}.json keys: {text}");
    fields
}

fn field<'f>(fields: &'f [(String, String)], key: &str) -> &'f str {
    &fields
        .iter()
        .find(|(k, _)| k == key)
        .expect("a known key")
        .1
}

/// Asserts the record of an app that ran and ended with `status`.
fn assert_ran(pod: &PodDir, app: &str, status: u8, code: &str, signal: &str) {
    assert_eq!(pod.status(app).as_deref(), Some(&*format!("{status}\n")));
    let fields = record_fields(pod, app);
    let text = pod.record(app).unwrap_or_default();
    assert_eq!(field(&fields, "app"), format!("\"{app}\""), "{text}");
    let pid = field(&fields, "pid");
    assert!(pid.parse::<u32>().is_ok_and(|pid| pid > 1), "pid: {text}");
    assert_eq!(field(&fields, "status"), status.to_string(), "{text}");
    assert_eq!(field(&fields, "exitCode"), code, "{text}");
    assert_eq!(field(&fields, "signal"), signal, "{text}");
    let (started, exited) = (field(&fields, "started"), field(&fields, "exited"));
    assert!(is_rfc3339_millis(started), "started: {text}");
    assert!(is_rfc3339_millis(exited), "exited: {text}");
    assert!(started <= exited, "started after it exited: {text}");
    assert_eq!(field(&fields, "start"), "\"ok\"", "{text}");
}

fn run_pod(pod: &PodDir, tag: &str, apps: &[App], args: &[&str]) -> Finished {
    let cgroup = TestCgroup::new(tag);
    pod.write(apps);
    let mut all_args = vec!["--grace", GRACE];
    all_args.extend_from_slice(args);
    run(pod.command(&cgroup, &all_args))
}

#[test]
fn records_hold_the_code_or_the_signal_of_each_app() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("records");
    let status = pod.status_dir();
    let last = format!(
        "{}; {}; exit 0",
        sh_wait_for(&format!("{}/coded", status.display()), 10),
        sh_wait_for(&format!("{}/killed", status.display()), 10),
    );
    let apps = [
        App::sh("coded", "exit 3"),
        App::new("killed", &[&workload_arg(), "kill-self", "SIGUSR2"]),
        App::sh("last", &last),
    ];
    let finished = run_pod(&pod, "records", &apps, &["--exit-policy", "main=last"]);
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_ran(&pod, "coded", 3, "3", "null");
    assert_ran(&pod, "killed", 140, "null", "\"SIGUSR2\"");
    assert_ran(&pod, "last", 0, "0", "null");
}

#[test]
fn records_are_mode_0640_and_no_temporary_file_is_left() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("record-files");
    let finished = run_pod(&pod, "record-files", &[App::sh("one", "exit 0")], &[]);
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_eq!(pod.status_names(), ["one", "one.json"], "{}", pod.listing());
    for name in ["one", "one.json"] {
        let mode = fs::metadata(pod.status_dir().join(name))
            .expect("a record")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640, "{name} has mode {mode:o}");
    }
}

#[test]
fn an_app_that_never_started_is_recorded_with_the_reason() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("record-missing");
    let apps = [App::new("ghost", &["/nonexistent/ghost"])];
    let finished = run_pod(&pod, "record-missing", &apps, &[]);
    assert_eq!(finished.code, 127, "{finished:?}");
    assert_eq!(pod.status("ghost").as_deref(), Some("127\n"));
    let fields = record_fields(&pod, "ghost");
    let text = pod.record("ghost").unwrap_or_default();
    assert_eq!(field(&fields, "status"), "127", "{text}");
    for key in ["exitCode", "signal", "started", "exited"] {
        assert_eq!(field(&fields, key), "null", "{key}: {text}");
    }
    let start = field(&fields, "start");
    assert!(
        start.starts_with("{\"error\":\"") && start.contains("/nonexistent/ghost"),
        "start names the program: {text}"
    );
}

/// records.rs documents `pid` as null for an app that never started, with
/// a failed exec as its example.
#[test]
fn an_app_whose_exec_failed_has_no_pid() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("record-no-pid");
    let apps = [App::new("ghost", &["/nonexistent/ghost"])];
    let finished = run_pod(&pod, "record-no-pid", &apps, &[]);
    assert_eq!(finished.code, 127, "{finished:?}");
    let fields = record_fields(&pod, "ghost");
    let text = pod.record("ghost").unwrap_or_default();
    assert_eq!(field(&fields, "pid"), "null", "{text}");
}

#[test]
fn a_record_appears_when_its_app_exits_and_not_before() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("record-timing");
    let cgroup = TestCgroup::new("record-timing");
    let go = pod.out("go");
    let apps = [
        App::sh("waiter", &format!("{}; exit 0", sh_wait_for(&go, 20))),
        App::sh("quick", "exit 0"),
    ];
    pod.write(&apps);
    let running = Run::start(pod.command(&cgroup, &["--grace", GRACE]));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pod.status("quick").is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let names = pod.status_names();
    fs::write(&go, "").expect("let waiter exit");
    let finished = running.finish_within(Duration::from_secs(20));
    assert_eq!(
        names,
        ["quick", "quick.json"],
        "while waiter ran: {finished:?}"
    );
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_eq!(pod.status_code("waiter"), 0);
}

#[test]
fn the_default_status_dir_is_run_podinit_status() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("record-default-dir");
    let cgroup = TestCgroup::new("record-default-dir");
    let copy = format!(
        "{}; cat /run/podinit/status/first > {}",
        sh_wait_for("/run/podinit/status/first", 10),
        pod.out("seen")
    );
    pod.write(&[App::sh("first", "exit 0"), App::sh("copier", &copy)]);
    // A tmpfs of this mount namespace over /run keeps the host's /run out.
    let mut command = podinit_in(&cgroup, "mount -t tmpfs tmpfs /run || exit 98");
    command.arg("--pod").arg(pod.manifest());
    let finished = run(command);
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_eq!(pod.read_out("seen"), "0\n", "{finished:?}");
}

/// Checks that every record file in the status directory is whole: each
/// `<app>` is `"<n>\n"` with its `<app>.json` next to it, and each
/// `<app>.json` a whole record. Hidden temporary files may stay.
fn assert_only_whole_records(pod: &PodDir, attempt: u32) -> usize {
    let names = pod.status_names();
    let visible: Vec<&String> = names.iter().filter(|n| !n.starts_with('.')).collect();
    for name in &visible {
        let text = fs::read_to_string(pod.status_dir().join(name)).expect("read a record");
        let context = format!("attempt {attempt}, {name}: {text:?}");
        if let Some(app) = name.strip_suffix(".json") {
            let fields = json_fields(&text).unwrap_or_else(|| panic!("partial: {context}"));
            assert_eq!(fields.len(), KEYS.len(), "{context}");
            assert!(text.ends_with("}\n"), "{context}");
            assert!(text.contains(&format!("\"app\":\"{app}\"")), "{context}");
        } else {
            assert_eq!(text, "0\n", "{context}");
            assert!(
                names.contains(&format!("{name}.json")),
                "{name} exists without {name}.json (attempt {attempt})"
            );
        }
    }
    visible.len()
}

#[test]
fn sigkill_while_recording_leaves_only_whole_files() {
    if !have_root() {
        return;
    }
    let apps: Vec<App> = (0..24)
        .map(|i| App::sh(&format!("app-{i}"), "exit 0"))
        .collect();
    let mut seen_partway = 0;
    for attempt in 0..12 {
        let tag = format!("record-kill-{attempt}");
        let pod = PodDir::new(&tag);
        let cgroup = TestCgroup::new(&tag);
        pod.write(&apps);
        let running = Run::start(pod.command(&cgroup, &["--grace", GRACE]));
        let init = running.init_pid();
        std::thread::sleep(Duration::from_millis(5 + 4 * u64::from(attempt)));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(init),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = running.finish_within(Duration::from_secs(20));
        let count = assert_only_whole_records(&pod, attempt);
        if count > 0 && count < 48 {
            seen_partway += 1;
        }
    }
    eprintln!("runs killed part-way through the records: {seen_partway} of 12");
}

#[test]
fn a_second_run_in_the_same_status_dir_records_its_own_exits() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("record-rerun");
    let first = run_pod(&pod, "record-rerun-1", &[App::sh("web", "exit 3")], &[]);
    assert_eq!(first.code, 3, "{first:?}");
    let second = run_pod(&pod, "record-rerun-2", &[App::sh("web", "exit 4")], &[]);
    assert_eq!(second.code, 4, "{second:?}");
    assert_eq!(pod.status("web").as_deref(), Some("4\n"), "{second:?}");
    let fields = record_fields(&pod, "web");
    assert_eq!(field(&fields, "exitCode"), "4");
}

#[test]
fn temporary_files_of_a_killed_podinit_do_not_spoil_the_records() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("record-stale-temp");
    let status = pod.status_dir();
    fs::create_dir(&status).expect("create status/");
    fs::write(status.join(".web.json.tmp"), "{\"app\":\"web\",\"pi").expect("a stale temp");
    fs::write(status.join(".web.tmp"), "1").expect("a stale temp");
    let finished = run_pod(&pod, "record-stale-temp", &[App::sh("web", "exit 5")], &[]);
    assert_eq!(finished.code, 5, "{finished:?}");
    assert_eq!(pod.status_names(), ["web", "web.json"], "{}", pod.listing());
    assert_ran(&pod, "web", 5, "5", "null");
}
