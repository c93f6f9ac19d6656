//! Harness for black-box tests of the real podinit binary.
//!
//! The tests run the release artefact, the static binary that ships, not
//! a debug build: `musl-target/test` builds it (and the static workload
//! program the tests start under it) before running them.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A release binary built by `musl-target/test`.
fn release_binary(name: &str) -> PathBuf {
    let path = root()
        .join("target/x86_64-unknown-linux-musl/release")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --release --bins` (musl-target/test does)",
        path.display()
    );
    path
}

/// The podinit artefact under test.
pub fn podinit() -> PathBuf {
    release_binary("podinit")
}

/// The slim podinit, the container init alone (`--no-default-features`,
/// into `target/slim`).
pub fn slim_podinit() -> PathBuf {
    let path = root().join("target/slim/x86_64-unknown-linux-musl/release/podinit");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --release -p podinit \
         --no-default-features --target-dir target/slim` (musl-target/test does)",
        path.display()
    );
    path
}

/// The static workload program (tests/workload).
pub fn workload() -> PathBuf {
    release_binary("podinit-workload")
}

/// The workload's path as a command-line argument.
pub fn workload_arg() -> String {
    workload()
        .into_os_string()
        .into_string()
        .expect("a UTF-8 path")
}

/// A fresh, empty directory for one test, named after `tag` and this
/// process, under the system's temporary directory.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("podinit-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).expect("create a scratch directory");
    path
}

/// Whether the tests may do what needs root. Without root a test skips,
/// except under `CI=true`, where it fails: CI runs as root, so a missing
/// privilege there is a broken set-up, not a reason to pass.
pub fn have_root() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "this test needs root and CI=true"
    );
    eprintln!("skipped: needs root");
    false
}

/// A command that runs podinit with `args` as PID 1 of a fresh PID and
/// mount namespace, with its own /proc, through util-linux `unshare`.
/// `--kill-child` makes sure nothing outlives a failed test.
pub fn as_pid1(args: &[&str]) -> Command {
    in_new_pid_namespace(&[], podinit(), args)
}

/// Like [`as_pid1`], with `wrapper` (a program and its arguments) between
/// `unshare` and podinit: it sets something up and execs podinit, which
/// is then PID 1.
pub fn as_pid1_under(wrapper: &[&str], args: &[&str]) -> Command {
    in_new_pid_namespace(wrapper, podinit(), args)
}

fn in_new_pid_namespace(wrapper: &[&str], init: PathBuf, args: &[&str]) -> Command {
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"]);
    command.args(wrapper).arg(init).args(args);
    command
}

/// A command that runs podinit with `args` directly: not PID 1.
pub fn not_pid1(args: &[&str]) -> Command {
    let mut command = Command::new(podinit());
    command.args(args);
    command
}

/// A started test run with its output captured.
pub struct Run {
    pub child: Child,
}

/// What a finished run gave.
#[derive(Debug)]
pub struct Finished {
    /// The exit code, or 128+n when killed by signal n.
    pub code: i32,
    /// The signal that killed the process, when one did: tells a podinit
    /// that exited with 128+n from one that died by signal n.
    pub killed_by: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The lines podinit (or anything else) wrote to stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

impl Run {
    /// Starts `command` with stdout and stderr captured.
    pub fn start(mut command: Command) -> Run {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Run {
            child: command.spawn().expect("start the command under test"),
        }
    }

    /// The host pid of podinit when started by [`as_pid1`]: the one child of
    /// `unshare`. Waits for it to exist.
    pub fn init_pid(&self) -> i32 {
        let unshare = self.child.id();
        let path = format!("/proc/{unshare}/task/{unshare}/children");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let children = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                return pid.parse().expect("a pid");
            }
            assert!(
                Instant::now() < deadline,
                "podinit did not start under unshare"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to `limit` for the run to end; kills it and fails the test
    /// if it does not.
    pub fn finish_within(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        while self.child.try_wait().expect("wait for the run").is_none() {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let output = self.child.wait_with_output().expect("collect output");
                panic!(
                    "still running after {limit:?}; stderr: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let output = self.child.wait_with_output().expect("collect output");
        Finished {
            code: output
                .status
                .code()
                .unwrap_or_else(|| 128 + output.status.signal().unwrap_or(0)),
            killed_by: output.status.signal(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The leftovers the workload's `leave` starts, each a different way out
/// of the program's reach: a plain child, one in its own process group, one
/// in its own session, one stopped, and one double-forked (re-parented to
/// podinit). Each prints `term <role>` on SIGTERM.
pub const LEFTOVER_ROLES: [&str; 5] = ["plain", "group", "session", "stopped", "orphan"];

/// Asserts that stdout holds `<event> <role>` for every leftover role.
pub fn assert_every_role(finished: &Finished, event: &str) {
    for role in LEFTOVER_ROLES {
        let line = format!("{event} {role}");
        assert!(
            finished.stdout.lines().any(|l| l == line),
            "no `{line}`: {finished:?}"
        );
    }
}

/// Runs `command` to the end (at most 30 s).
pub fn run(command: Command) -> Finished {
    Run::start(command).finish_within(Duration::from_secs(30))
}

pub mod pty;

pub mod pod;

pub mod machine;
pub mod stage1;
