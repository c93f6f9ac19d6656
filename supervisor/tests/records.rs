//! Status records on real files: their exact contents, the refusals, and
//! that a reader never sees a partial record, even when the writer is
//! SIGKILLed mid-write.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use podinit_supervisor::records::{
    NOT_FOUND, Outcome, Record, RecordError, START_FAILED, StatusDir, rfc3339_millis,
};
use podinit_supervisor::signals::Signal;
use podinit_supervisor::status::ExitStatus;
use podinit_tests::have_root;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Set in a re-run of this test binary to the directory the helper works in.
const HELPER_DIR: &str = "PODINIT_RECORDS_HELPER_DIR";

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "podinit-records-{}-{unique}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a scratch directory");
        Scratch(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.0.join(name)).expect("read a record")
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .expect("list the status directory")
            .map(|entry| entry.expect("read an entry").file_name())
            .map(|name| name.into_string().expect("a UTF-8 name"))
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// 2026-12-04T18:20:01.123Z plus `millis`.
fn at(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_796_408_401_123 + millis)
}

fn exited(app: &str, pid: u32, status: ExitStatus) -> Record {
    Record {
        app: app.to_owned(),
        pid: Some(pid),
        outcome: Outcome::Exited {
            status,
            started_at: at(0),
            exited_at: at(66_817),
        },
    }
}

fn open(scratch: &Scratch) -> StatusDir {
    StatusDir::open(scratch.path()).expect("open the status directory")
}

// What is written.

#[test]
fn an_exit_code_is_written_to_both_files_exactly() {
    let scratch = Scratch::new("code");
    let dir = open(&scratch);

    dir.record(&exited("web", 4, ExitStatus::Code(3)))
        .expect("record");

    assert_eq!(scratch.read("web"), "3\n");
    assert_eq!(
        scratch.read("web.json"),
        concat!(
            r#"{"app":"web","pid":4,"status":3,"exitCode":3,"signal":null,"#,
            r#""started":"2026-12-04T18:20:01.123Z","exited":"2026-12-04T18:21:07.940Z","#,
            r#""start":"ok"}"#,
            "\n"
        )
    );
    assert_eq!(
        scratch.names(),
        ["web", "web.json"],
        "no temporary file left"
    );
}

#[test]
fn a_signal_death_is_128_plus_n_and_named() {
    let scratch = Scratch::new("signal");
    let dir = open(&scratch);

    dir.record(&exited("web", 9, ExitStatus::Killed(Signal::TERM)))
        .expect("record");

    assert_eq!(scratch.read("web"), "143\n");
    let json: Value = serde_json::from_str(&scratch.read("web.json")).expect("JSON");
    assert_eq!(json["status"], 143);
    assert_eq!(json["exitCode"], Value::Null);
    assert_eq!(json["signal"], "SIGTERM");
    assert_eq!(json["pid"], 9);
    assert_eq!(json["start"], "ok");
}

#[test]
fn a_failed_start_has_no_pid_no_times_and_the_reason() {
    let scratch = Scratch::new("failed");
    let dir = open(&scratch);
    let record = Record {
        app: "db".to_owned(),
        pid: None,
        outcome: Outcome::FailedToStart {
            reason: "cannot execute /bin/pg: No such file or directory".to_owned(),
            status: NOT_FOUND,
        },
    };

    dir.record(&record).expect("record");

    assert_eq!(scratch.read("db"), "127\n");
    let json: Value = serde_json::from_str(&scratch.read("db.json")).expect("JSON");
    let expected = json!({
        "app": "db", "pid": null, "status": 127, "exitCode": null, "signal": null,
        "started": null, "exited": null,
        "start": {"error": "cannot execute /bin/pg: No such file or directory"},
    });
    assert_eq!(json, expected);
}

#[test]
fn other_start_failures_are_125() {
    assert_eq!(START_FAILED, 125);
    let record = Record {
        app: "db".to_owned(),
        pid: None,
        outcome: Outcome::FailedToStart {
            reason: "no such user".to_owned(),
            status: START_FAILED,
        },
    };
    assert_eq!(record.rkt_text(), "125\n");
}

#[test]
fn records_are_0640_whatever_the_umask() {
    let scratch = Scratch::new("mode");

    let output = run_helper(&[], "umask 077", "umask_helper", scratch.path());

    assert!(output.status.success(), "{output:?}");
    for name in ["web", "web.json"] {
        let mode = fs::metadata(scratch.path().join(name))
            .expect("stat a record")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640, "{name}");
    }
}

/// Run by `records_are_0640_whatever_the_umask` under umask 077; does
/// nothing in an ordinary test run.
#[test]
fn umask_helper() {
    let Some(path) = std::env::var_os(HELPER_DIR) else {
        return;
    };
    let dir = StatusDir::open(&path).expect("open the status directory");
    dir.record(&exited("web", 4, ExitStatus::Code(0)))
        .expect("record");
}

/// Runs the test `helper` of this binary with `HELPER_DIR` set to `dir`,
/// under `sh -c "<setup> && exec <helper>"`, itself run by `wrapper`.
fn run_helper(wrapper: &[&str], setup: &str, helper: &str, dir: &Path) -> Output {
    let script = format!(r#"{setup} && exec "$0" --exact {helper} --nocapture --test-threads=1"#);
    let shell = ["sh", "-c", &script];
    let mut argv = wrapper.iter().chain(&shell);
    let program = argv.next().expect("a program");
    Command::new(program)
        .args(argv)
        .arg(std::env::current_exe().expect("the test binary"))
        .arg(dir)
        .env(HELPER_DIR, dir)
        .output()
        .expect("run the helper")
}

// What is refused.

#[test]
fn a_second_record_for_an_app_is_refused_and_changes_nothing() {
    let scratch = Scratch::new("twice");
    let dir = open(&scratch);
    dir.record(&exited("web", 4, ExitStatus::Code(0)))
        .expect("first record");
    let json = scratch.read("web.json");

    let error = dir
        .record(&exited("web", 5, ExitStatus::Code(1)))
        .expect_err("second record");

    assert!(
        matches!(error, RecordError::AlreadyRecorded { .. }),
        "{error:?}"
    );
    let path = scratch.path().join("web");
    assert_eq!(
        error.to_string(),
        format!("cannot record {}: already recorded", path.display())
    );
    assert_eq!(scratch.read("web"), "0\n");
    assert_eq!(scratch.read("web.json"), json);
    assert_eq!(scratch.names(), ["web", "web.json"]);
}

#[test]
fn names_that_could_leave_or_hide_in_the_directory_are_refused() {
    let scratch = Scratch::new("names");
    let dir = open(&scratch);

    for app in ["", "../web", "a/b", ".web", "..", "web\0"] {
        let error = dir
            .record(&exited(app, 4, ExitStatus::Code(0)))
            .expect_err(app);
        assert!(
            matches!(error, RecordError::BadName { .. }),
            "{app:?}: {error:?}"
        );
    }
    assert!(scratch.names().is_empty(), "{:?}", scratch.names());
}

#[test]
fn a_file_is_not_a_status_directory() {
    let scratch = Scratch::new("file");
    let file = scratch.path().join("status");
    fs::write(&file, "").expect("create a file");

    let error = StatusDir::open(&file).expect_err("a file");

    assert!(matches!(error, RecordError::Open { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot open {}: Not a directory (os error 20)",
            file.display()
        )
    );
}

#[test]
fn a_missing_status_directory_is_refused() {
    let scratch = Scratch::new("missing");
    let missing = scratch.path().join("status");

    let error = StatusDir::open(&missing).expect_err("missing");

    assert!(
        error
            .to_string()
            .ends_with("No such file or directory (os error 2)"),
        "{error}"
    );
}

#[test]
fn a_read_only_status_directory_is_refused_at_open() {
    if !have_root() {
        return;
    }
    let scratch = Scratch::new("read-only");
    // A read-only bind mount of the directory onto itself, in a mount
    // namespace that dies with the helper: nothing to clean up.
    let setup = r#"mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1""#;
    let unshare = ["unshare", "-m", "--propagation", "private"];

    let output = run_helper(&unshare, setup, "read_only_helper", scratch.path());

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let expected = format!(
        "refused: cannot write to {}: Read-only file system (os error 30)",
        scratch.path().display()
    );
    assert!(stdout.contains(&expected), "{stdout}");
}

/// Run by `a_read_only_status_directory_is_refused_at_open` in its mount
/// namespace; does nothing in an ordinary test run.
#[test]
fn read_only_helper() {
    let Some(path) = std::env::var_os(HELPER_DIR) else {
        return;
    };
    match StatusDir::open(&path) {
        Err(error @ RecordError::NotWritable { .. }) => println!("refused: {error}"),
        other => panic!("a read-only directory was accepted or misreported: {other:?}"),
    }
}

// What a crashed writer leaves, and what it cannot do.

#[test]
fn stale_temporary_files_do_not_break_a_write() {
    let scratch = Scratch::new("stale");
    let outside = scratch.path().join("outside");
    fs::create_dir(&outside).expect("create a second directory");
    let status = scratch.path().join("status");
    fs::create_dir(&status).expect("create the status directory");
    fs::write(status.join(".web.json.tmp"), "{\"app\":\"w").expect("plant a torn file");
    // A symlink left under the temporary name must not be written through.
    symlink(outside.join("target"), status.join(".web.tmp")).expect("plant a symlink");
    let dir = StatusDir::open(&status).expect("open");

    dir.record(&exited("web", 4, ExitStatus::Code(2)))
        .expect("record");

    assert_eq!(fs::read_to_string(status.join("web")).expect("read"), "2\n");
    let json = fs::read_to_string(status.join("web.json")).expect("read");
    serde_json::from_str::<Value>(&json).expect("a whole JSON record");
    assert!(
        !outside.join("target").exists(),
        "wrote through the symlink"
    );
    let mut names: Vec<_> = fs::read_dir(&status)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["web", "web.json"]);
}

#[test]
fn records_follow_the_directory_opened_not_its_path() {
    let scratch = Scratch::new("moved");
    let status = scratch.path().join("status");
    let moved = scratch.path().join("moved");
    fs::create_dir(&status).expect("create the status directory");
    let dir = StatusDir::open(&status).expect("open");
    fs::rename(&status, &moved).expect("move the directory");
    fs::create_dir(&status).expect("put another in its place");

    dir.record(&exited("web", 4, ExitStatus::Code(0)))
        .expect("record");

    assert!(moved.join("web").exists());
    assert!(!status.join("web").exists());
}

/// The status `crash_writer_helper` records for its `n`th app.
fn nth_status(n: u64) -> ExitStatus {
    match n % 3 {
        0 => ExitStatus::Code((n % 256) as u8),
        1 => ExitStatus::Killed(Signal::TERM),
        _ => ExitStatus::Killed(Signal::KILL),
    }
}

#[test]
fn a_reader_never_sees_a_partial_record_when_the_writer_is_killed() {
    let scratch = Scratch::new("crash");
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut random = XorShift::seeded();
    let (mut kills, mut torn) = (0, 0);

    while kills < 300 && Instant::now() < deadline {
        kill_writer_at_random(scratch.path(), &mut random);
        kills += 1;
        torn += check_records(&scratch);
    }

    let recorded = scratch.names().iter().filter(|name| is_final(name)).count();
    eprintln!("{kills} kills, {recorded} records, {torn} kills left a temporary file");
    assert!(kills >= 50, "only {kills} kills in the time allowed");
    assert!(recorded > 0, "the writer never got a record through");
    assert!(
        torn > 0,
        "no kill landed mid-write: the test proves nothing"
    );
}

/// Starts `crash_writer_helper`, waits until it writes, lets it write for
/// up to 4 ms, and kills it with SIGKILL.
fn kill_writer_at_random(path: &Path, random: &mut XorShift) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "crash_writer_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_DIR, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().expect("the writer's stdout");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("writer ready"));
    assert!(ready, "the writer ended before it was ready");
    std::thread::sleep(Duration::from_micros(random.below(4000)));
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
}

/// Checks every visible record; returns 1 if a temporary file is left.
fn check_records(scratch: &Scratch) -> usize {
    let names = scratch.names();
    for name in names.iter().filter(|name| is_final(name)) {
        let n: u64 = name["app-".len()..].parse().expect("an app number");
        let expected = nth_status(n).code();
        assert_eq!(scratch.read(name), format!("{expected}\n"), "{name}");
        assert!(
            names.contains(&format!("{name}.json")),
            "{name} without its JSON"
        );
    }
    for name in names.iter().filter(|name| name.ends_with(".json")) {
        let json: Value = serde_json::from_str(&scratch.read(name))
            .unwrap_or_else(|error| panic!("{name} is not whole JSON: {error}"));
        assert_eq!(json["app"].as_str(), name.strip_suffix(".json"));
        assert!(json["status"].is_u64(), "{name}: {json}");
    }
    usize::from(names.iter().any(|name| name.ends_with(".tmp")))
}

fn is_final(name: &str) -> bool {
    !name.starts_with('.') && !name.ends_with(".json")
}

/// Run by `a_reader_never_sees_a_partial_record_when_the_writer_is_killed`;
/// does nothing in an ordinary test run. Records `app-0`, `app-1`, ... and
/// skips those a killed writer before it finished, until it is killed.
#[test]
fn crash_writer_helper() {
    let Some(path) = std::env::var_os(HELPER_DIR) else {
        return;
    };
    let dir = StatusDir::open(&path).expect("open the status directory");
    println!("writer ready");
    // Bounded, in case the parent died and nobody kills us.
    let deadline = Instant::now() + Duration::from_secs(10);
    for n in 0.. {
        if Instant::now() > deadline {
            break;
        }
        match dir.record(&exited(&format!("app-{n}"), 2, nth_status(n))) {
            Ok(()) | Err(RecordError::AlreadyRecorded { .. }) => {}
            Err(error) => panic!("{error}"),
        }
    }
}

/// Enough randomness for kill delays, without a dependency.
struct XorShift(u64);

impl XorShift {
    fn seeded() -> XorShift {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |since| since.subsec_nanos());
        XorShift(u64::from(nanos) | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

// The time format.

#[test]
fn known_instants_format_as_rfc3339_millis() {
    let cases: [(i64, u32, &str); 7] = [
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (1_796_408_401, 123_456_789, "2026-12-04T18:20:01.123Z"),
        (951_782_400, 999_999_999, "2000-02-29T00:00:00.999Z"),
        (4_107_542_399, 0, "2100-02-28T23:59:59.000Z"),
        (253_402_300_799, 0, "9999-12-31T23:59:59.000Z"),
        (-1, 500_000_000, "1969-12-31T23:59:59.500Z"),
        (-62_135_596_800, 0, "0001-01-01T00:00:00.000Z"),
    ];
    for (secs, nanos, text) in cases {
        assert_eq!(
            rfc3339_millis(instant(secs, nanos)),
            text,
            "{secs}.{nanos:09}"
        );
    }
}

#[test]
fn a_nanosecond_before_the_epoch_is_its_last_millisecond() {
    let time = UNIX_EPOCH - Duration::from_nanos(1);
    assert_eq!(rfc3339_millis(time), "1969-12-31T23:59:59.999Z");
}

/// `secs` seconds (negative: before) and `nanos` after the Unix epoch.
fn instant(secs: i64, nanos: u32) -> SystemTime {
    let whole = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    whole + Duration::from_nanos(u64::from(nanos))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn month_days(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date, counted year by year and month by month:
/// slow, but obviously right.
fn days_since_epoch(year: i64, month: u32, day: u32) -> i64 {
    let year_days = |y| if is_leap(y) { 366 } else { 365 };
    let mut days: i64 = if year >= 1970 {
        (1970..year).map(year_days).sum()
    } else {
        -(year..1970).map(year_days).sum::<i64>()
    };
    days += (1..month)
        .map(|m| i64::from(month_days(year, m)))
        .sum::<i64>();
    days + i64::from(day) - 1
}

proptest! {
    #[test]
    fn every_instant_formats_as_its_calendar_date(
        year in 1i64..=9999,
        month in 1u32..=12,
        day in 1u32..=31,
        second_of_day in 0i64..86_400,
        nanos in 0u32..1_000_000_000,
    ) {
        let day = day.min(month_days(year, month));
        let secs = days_since_epoch(year, month, day) * 86_400 + second_of_day;
        let expected = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
            nanos / 1_000_000,
        );
        prop_assert_eq!(rfc3339_millis(instant(secs, nanos)), expected);
    }
}
