//! podinit as the ENTRYPOINT of an OCI container run by runc: the exit
//! status passes out of `runc run`, `runc kill <id> TERM` reaches the app
//! through podinit, and orphans re-parented to podinit are reaped.
//!
//! Each test builds its own bundle in the temp directory: a rootfs that
//! holds only Debian's static busybox and the podinit artefact, and the
//! config.json `runc spec` writes, with `process.args` set to
//! `/podinit -- sh -c <script>`, no terminal and a writable root (the
//! scripts tell the test they are ready by creating a file). Nothing else
//! of the default spec changes: runc 1.1 places the container in cgroups
//! named after its id, on cgroup v1 and on hybrid hosts alike, and its
//! default `pivot_root` works because the temp directory is on a real
//! filesystem, so `--no-pivot` is not used.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use podinit_tests::{Run, have_root, run};

use bundle::Bundle;

#[test]
fn exit_code_passes_out_of_runc_run() {
    if !have_root() {
        return;
    }
    let bundle = Bundle::new("exit-code", "echo hello from the container; exit 7");
    let finished = run(bundle.runc_run());
    assert_eq!(finished.code, 7, "{finished:?}");
    assert_eq!(
        finished.stdout, "hello from the container\n",
        "{finished:?}"
    );
}

#[test]
fn app_killed_by_a_signal_passes_out_as_128_plus_n() {
    if !have_root() {
        return;
    }
    let bundle = Bundle::new("killed", "kill -KILL $$");
    let finished = run(bundle.runc_run());
    assert_eq!(finished.code, 128 + 9, "{finished:?}");
}

#[test]
fn runc_kill_term_reaches_the_app_through_podinit() {
    if !have_root() {
        return;
    }
    // The trap is set before /ready exists, so the TERM cannot come early.
    let script = "trap 'echo got TERM; exit 42' TERM; touch /ready; \
                  while :; do sleep 0.05; done";
    let bundle = Bundle::new("kill-term", script);
    let started = Run::start(bundle.runc_run());
    let started = await_file(started, &bundle.rootfs().join("ready"));

    runc(&["kill", bundle.id(), "TERM"]);
    let finished = started.finish_within(Duration::from_secs(20));
    assert_eq!(finished.code, 42, "{finished:?}");
    assert!(finished.stdout.contains("got TERM"), "{finished:?}");
}

/// The app leaves orphans that live until the test creates /go, so the
/// test can see them adopted by podinit, then lets them all exit at once
/// and waits until podinit has none left, zombie or alive. The app waits
/// for /done before it exits, so the orphans are reaped by the supervision
/// loop, not by podinit's clean-up after the app has gone.
#[test]
fn orphans_in_the_container_are_reaped() {
    if !have_root() {
        return;
    }
    let script = "echo $$ > /app.pid; \
                  for i in 1 2 3 4 5 6 7 8; do \
                    (while [ ! -e /go ]; do sleep 0.05; done &); \
                  done; \
                  touch /orphaned; \
                  while [ ! -e /done ]; do sleep 0.05; done; \
                  zombies=0; \
                  for f in /proc/[0-9]*/stat; do \
                    read -r stat 2>/dev/null < \"$f\"; \
                    case \"$stat\" in *') Z '*) zombies=$((zombies + 1));; esac; \
                  done; \
                  echo \"zombies inside: $zombies\"";
    let bundle = Bundle::new("orphans", script);
    let started = Run::start(bundle.runc_run());
    let started = await_file(started, &bundle.rootfs().join("orphaned"));

    let init = init_host_pid(bundle.id());
    let app: i32 = read_trimmed(&bundle.rootfs().join("app.pid"))
        .parse()
        .expect("a pid");
    let orphans = other_children(init, app);
    assert_eq!(
        orphans.len(),
        8,
        "podinit (pid {init}) should have adopted 8 orphans: {orphans:?}"
    );

    touch(&bundle.rootfs().join("go"));
    await_no_other_children(init, app, Duration::from_secs(10));
    touch(&bundle.rootfs().join("done"));
    let finished = started.finish_within(Duration::from_secs(20));
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_eq!(finished.stdout, "zombies inside: 0\n", "{finished:?}");
}

/// Waits up to 10 s for `path` to exist. Fails the test with runc's output
/// if `runc run` ends first.
fn await_file(mut started: Run, path: &Path) -> Run {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        if started.child.try_wait().expect("poll runc run").is_some() {
            let finished = started.finish_within(Duration::from_secs(1));
            panic!(
                "runc run ended before {} existed: {finished:?}",
                path.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear within 10 s",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    started
}

/// Waits until `init` has no child but the app. Fails the test with the
/// children left and their states (`Z` is a zombie podinit did not reap).
fn await_no_other_children(init: i32, app: i32, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let left = other_children(init, app);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "podinit (pid {init}) still has children other than the app after {limit:?}: \
             {left:?} (pid, state)"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The children of host pid `init` other than the app, whose pid in the
/// container is `app`, each with its host pid and state letter from
/// /proc/<pid>/stat. A zombie is listed until it is reaped.
fn other_children(init: i32, app: i32) -> Vec<(i32, char)> {
    let path = format!("/proc/{init}/task/{init}/children");
    let children = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    children
        .split_whitespace()
        .map(|pid| pid.parse().expect("a pid"))
        .filter(|&pid| pid_in_container(pid) != Some(app))
        .map(|pid| (pid, process_state(pid)))
        .collect()
}

/// The pid that host pid `pid` has in its own (innermost) pid namespace:
/// the last field of `NSpid:` in /proc/<pid>/status. None if it is gone.
fn pid_in_container(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// The state letter of host pid `pid`, `?` if it is gone.
fn process_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which may hold spaces and ')'.
    let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    after_name.chars().next().unwrap_or('?')
}

/// The host pid of the container's init (podinit), from `runc state`.
fn init_host_pid(id: &str) -> i32 {
    let state = runc(&["state", id]);
    let field = state
        .split("\"pid\":")
        .nth(1)
        .unwrap_or_else(|| panic!("no pid in {state}"));
    let digits: String = field
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no pid in {state}"))
}

/// A small file a script wrote, trimmed.
fn read_trimmed(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    text.trim().to_owned()
}

fn touch(path: &Path) {
    std::fs::write(path, "").unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
}

/// Runs `runc args...` to the end; fails the test unless it succeeds.
/// Returns its stdout.
fn runc(args: &[&str]) -> String {
    let output = Command::new("runc")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("start runc: {e}: runc is missing? musl-target/test installs it")
        });
    assert!(
        output.status.success(),
        "runc {args:?}: {}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An OCI bundle in the temp directory and the container runc runs from
/// it. Dropping it deletes the container, forcefully, and the bundle.
mod bundle {
    use std::os::unix::fs::symlink;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    use podinit_tests::podinit;

    /// Debian's busybox-static; musl-target/test installs it.
    const BUSYBOX: &str = "/bin/busybox";

    /// The busybox applets the scripts run, as links in the rootfs /bin.
    const APPLETS: &[&str] = &["sh", "sleep", "touch", "kill", "cat", "ps"];

    pub struct Bundle {
        dir: PathBuf,
        id: String,
    }

    impl Bundle {
        /// A bundle whose process is `/podinit -- sh -c <script>`, for a
        /// container named after `name` and this test process.
        pub fn new(name: &str, script: &str) -> Bundle {
            require_tools();
            let id = format!("podinit-test-{name}-{}", std::process::id());
            let dir = std::env::temp_dir().join(&id);
            let _ = std::fs::remove_dir_all(&dir);
            let bundle = Bundle { dir, id };
            bundle.fill_rootfs();
            bundle.write_config(&["/podinit", "--", "sh", "-c", script]);
            bundle
        }

        pub fn id(&self) -> &str {
            &self.id
        }

        pub fn rootfs(&self) -> PathBuf {
            self.dir.join("rootfs")
        }

        /// `runc run` of this bundle in the foreground: it returns the
        /// container init's exit status.
        pub fn runc_run(&self) -> Command {
            let mut command = Command::new("runc");
            command
                .arg("run")
                .arg("--bundle")
                .arg(&self.dir)
                .arg(&self.id);
            command
        }

        fn fill_rootfs(&self) {
            let bin = self.rootfs().join("bin");
            std::fs::create_dir_all(&bin).expect("create the rootfs");
            copy(Path::new(BUSYBOX), &bin.join("busybox"));
            for applet in APPLETS {
                let link = bin.join(applet);
                symlink("busybox", &link).unwrap_or_else(|e| panic!("link {link:?}: {e}"));
            }
            copy(&podinit(), &self.rootfs().join("podinit"));
        }

        /// The config `runc spec` writes, edited as text: the tests crate
        /// has no JSON library, and runc 1.1 writes these keys once each.
        fn write_config(&self, args: &[&str]) {
            let status = Command::new("runc")
                .arg("spec")
                .arg("--bundle")
                .arg(&self.dir)
                .status()
                .expect("run runc spec");
            assert!(
                status.success(),
                "runc spec --bundle {:?}: {status}",
                self.dir
            );
            let path = self.dir.join("config.json");
            let spec = std::fs::read_to_string(&path).expect("read config.json");
            let spec = replace_once(&spec, "\"terminal\": true", "\"terminal\": false");
            let spec = replace_once(&spec, "\"readonly\": true", "\"readonly\": false");
            let spec = replace_args(&spec, args);
            std::fs::write(&path, spec).expect("write config.json");
        }
    }

    impl Drop for Bundle {
        fn drop(&mut self) {
            // Kills a container a failed test left running; quiet, since
            // after a passing test there is nothing left to delete.
            let _ = Command::new("runc")
                .args(["delete", "--force", &self.id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Fails the test with what to do when runc or a static busybox is
    /// missing.
    fn require_tools() {
        let runc = Command::new("runc")
            .arg("--version")
            .stdout(Stdio::null())
            .status();
        assert!(
            runc.is_ok_and(|status| status.success()),
            "runc is missing: run musl-target/test, which installs it"
        );
        assert!(
            is_static(Path::new(BUSYBOX)),
            "{BUSYBOX} is missing or not static: run musl-target/test, which installs \
             busybox-static"
        );
    }

    /// Whether the ELF file at `path` has no program interpreter (PT_INTERP),
    /// so it runs in a rootfs without a dynamic loader.
    fn is_static(path: &Path) -> bool {
        const PT_INTERP: u32 = 3;
        let Ok(elf) = std::fs::read(path) else {
            return false;
        };
        if elf.len() < 64 || &elf[..4] != b"\x7fELF" {
            return false;
        }
        let number = |at: usize, len: usize| {
            elf[at..at + len]
                .iter()
                .rev()
                .fold(0usize, |n, &byte| n << 8 | usize::from(byte))
        };
        let (offset, size, count) = (number(0x20, 8), number(0x36, 2), number(0x38, 2));
        (0..count)
            .map(|i| offset + i * size)
            .take_while(|&at| at + 4 <= elf.len())
            .all(|at| number(at, 4) as u32 != PT_INTERP)
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {from:?} to {to:?}: {e}"));
    }

    fn replace_once(text: &str, from: &str, to: &str) -> String {
        assert_eq!(
            text.matches(from).count(),
            1,
            "runc spec wrote {from} not exactly once"
        );
        text.replacen(from, to, 1)
    }

    /// Replaces the one `"args": [...]` array (process.args) with `args`.
    fn replace_args(spec: &str, args: &[&str]) -> String {
        let key = "\"args\": [";
        assert_eq!(
            spec.matches(key).count(),
            1,
            "runc spec wrote {key} not exactly once"
        );
        let start = spec.find(key).expect("counted above");
        let end = start + spec[start..].find(']').expect("args ends with ]") + 1;
        let quoted: Vec<String> = args.iter().map(|arg| json_string(arg)).collect();
        format!(
            "{}\"args\": [{}]{}",
            &spec[..start],
            quoted.join(", "),
            &spec[end..]
        )
    }

    /// `text` as a JSON string literal.
    fn json_string(text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}
