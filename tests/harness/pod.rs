//! Pod mode fixtures: manifests written as JSON text, a scratch directory
//! per pod, a cgroup per run, and readers for what the apps and podinit
//! leave behind.
//!
//! Apps run in podinit's own root, so they use the host's `/bin/sh`,
//! coreutils and users. Each run starts podinit as PID 1 of a fresh PID
//! and mount namespace, as [`as_pid1`](crate::as_pid1) does, but
//! inside a cgroup v2 directory of its own ([`TestCgroup`]), so that a test
//! can check what podinit leaves there and nothing outlives the test.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{podinit, scratch_dir};

/// The grace period most pod tests give: short, so that a test waiting
/// for a SIGKILL stays fast.
pub const GRACE: &str = "300ms";

/// [`GRACE`] as a duration.
pub const GRACE_MS: u64 = 300;

/// One app of a manifest.
#[derive(Clone, Debug)]
pub struct App {
    name: String,
    exec: Vec<String>,
    user: Option<String>,
    group: Option<String>,
    supplementary: Vec<u32>,
    working_directory: Option<String>,
    environment: Vec<(String, String)>,
    handlers: Vec<(&'static str, Vec<String>)>,
    /// Isolators as JSON objects, written as given.
    isolators: Vec<String>,
    /// Mount points as JSON objects.
    mount_points: Vec<String>,
}

impl App {
    /// An app that runs `exec` as root with nothing else set.
    pub fn new(name: &str, exec: &[&str]) -> App {
        App {
            name: name.to_owned(),
            exec: strings(exec),
            user: Some("0".into()),
            group: Some("0".into()),
            supplementary: Vec::new(),
            working_directory: None,
            environment: Vec::new(),
            handlers: Vec::new(),
            isolators: Vec::new(),
            mount_points: Vec::new(),
        }
    }

    /// The app's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a mount point `name` at `path`.
    pub fn mount_point(mut self, name: &str, path: &str, read_only: bool) -> App {
        let json = format!(
            "{{\"name\":{},\"path\":{},\"readOnly\":{read_only}}}",
            json_string(name),
            json_string(path)
        );
        self.mount_points.push(json);
        self
    }

    /// An app that runs `script` with `/bin/sh -c`.
    pub fn sh(name: &str, script: &str) -> App {
        App::new(name, &["/bin/sh", "-c", script])
    }

    /// `user`, or no `user` key at all with `None`.
    pub fn user(mut self, user: Option<&str>) -> App {
        self.user = user.map(str::to_owned);
        self
    }

    /// `group`, or no `group` key at all with `None`.
    pub fn group(mut self, group: Option<&str>) -> App {
        self.group = group.map(str::to_owned);
        self
    }

    pub fn supplementary_gids(mut self, gids: &[u32]) -> App {
        self.supplementary = gids.to_vec();
        self
    }

    pub fn working_directory(mut self, dir: &str) -> App {
        self.working_directory = Some(dir.to_owned());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> App {
        self.environment.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn pre_start(mut self, exec: &[&str]) -> App {
        self.handlers.push(("pre-start", strings(exec)));
        self
    }

    pub fn post_stop(mut self, exec: &[&str]) -> App {
        self.handlers.push(("post-stop", strings(exec)));
        self
    }

    /// Adds an isolator: `name` and its value as JSON text.
    pub fn isolator(mut self, name: &str, value_json: &str) -> App {
        let json = format!("{{\"name\":{},\"value\":{value_json}}}", json_string(name));
        self.isolators.push(json);
        self
    }

    /// The runtime app object of a pod manifest.
    pub fn json(&self) -> String {
        format!(
            "{{\"name\":{},\"image\":{{\"name\":\"example.com/{}\"}},\"app\":{}}}",
            json_string(&self.name),
            self.name,
            self.app_json()
        )
    }

    /// The appc `app` object alone.
    pub fn app_json(&self) -> String {
        let mut fields = vec![format!("\"exec\":{}", json_list(&self.exec))];
        if let Some(user) = &self.user {
            fields.push(format!("\"user\":{}", json_string(user)));
        }
        if let Some(group) = &self.group {
            fields.push(format!("\"group\":{}", json_string(group)));
        }
        let gids: Vec<String> = self.supplementary.iter().map(u32::to_string).collect();
        fields.push(format!("\"supplementaryGIDs\":[{}]", gids.join(",")));
        if let Some(dir) = &self.working_directory {
            fields.push(format!("\"workingDirectory\":{}", json_string(dir)));
        }
        fields.push(format!("\"environment\":{}", self.environment_json()));
        fields.push(format!("\"eventHandlers\":{}", self.handlers_json()));
        fields.push(format!("\"isolators\":[{}]", self.isolators.join(",")));
        if !self.mount_points.is_empty() {
            let points = self.mount_points.join(",");
            fields.push(format!("\"mountPoints\":[{points}]"));
        }
        format!("{{{}}}", fields.join(","))
    }

    fn environment_json(&self) -> String {
        let entries: Vec<String> = self
            .environment
            .iter()
            .map(|(name, value)| {
                format!(
                    "{{\"name\":{},\"value\":{}}}",
                    json_string(name),
                    json_string(value)
                )
            })
            .collect();
        format!("[{}]", entries.join(","))
    }

    fn handlers_json(&self) -> String {
        let entries: Vec<String> = self
            .handlers
            .iter()
            .map(|(name, exec)| format!("{{\"name\":\"{name}\",\"exec\":{}}}", json_list(exec)))
            .collect();
        format!("[{}]", entries.join(","))
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|&s| s.to_owned()).collect()
}

/// A pod manifest holding `apps`, as one line of JSON.
pub fn manifest(apps: &[App]) -> String {
    let apps: Vec<String> = apps.iter().map(App::json).collect();
    format!(
        "{{\"acVersion\":\"1.30.0\",\"acKind\":\"PodManifest\",\"apps\":[{}]}}",
        apps.join(",")
    )
}

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_list(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| json_string(s)).collect();
    format!("[{}]", items.join(","))
}

/// The scratch directory of one pod: `pod.json`, `status/` (not created:
/// podinit does that), and `out/`, where apps of any user may write.
pub struct PodDir {
    pub dir: PathBuf,
}

impl PodDir {
    /// A fresh directory for the test named `tag` (unique per test binary).
    pub fn new(tag: &str) -> PodDir {
        let dir = scratch_dir(&format!("pod-{tag}"));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod scratch");
        let out = dir.join("out");
        fs::create_dir(&out).expect("create out/");
        fs::set_permissions(&out, fs::Permissions::from_mode(0o1777)).expect("chmod out/");
        PodDir { dir }
    }

    /// Writes `apps` as the pod manifest; returns its path.
    pub fn write(&self, apps: &[App]) -> PathBuf {
        self.write_text(&manifest(apps))
    }

    /// Writes `text` as the pod manifest; returns its path.
    pub fn write_text(&self, text: &str) -> PathBuf {
        let path = self.manifest();
        fs::write(&path, text).expect("write the manifest");
        path
    }

    pub fn manifest(&self) -> PathBuf {
        self.dir.join("pod.json")
    }

    pub fn status_dir(&self) -> PathBuf {
        self.dir.join("status")
    }

    /// `out/<name>`, as a string for scripts.
    pub fn out(&self, name: &str) -> String {
        path_text(&self.dir.join("out").join(name))
    }

    /// The contents of `out/<name>`, or "" while it does not exist.
    pub fn read_out(&self, name: &str) -> String {
        fs::read_to_string(self.out(name)).unwrap_or_default()
    }

    /// Waits up to `limit` for `out/<name>` to exist; returns its contents.
    pub fn wait_out(&self, name: &str, limit: Duration) -> String {
        let path = self.out(name);
        wait_until(limit, &format!("{path} to exist"), || {
            Path::new(&path).exists()
        });
        fs::read_to_string(&path).unwrap_or_default()
    }

    /// The rkt status file `status/<app>`, if written.
    pub fn status(&self, app: &str) -> Option<String> {
        fs::read_to_string(self.status_dir().join(app)).ok()
    }

    /// `status/<app>.json`, if written.
    pub fn record(&self, app: &str) -> Option<String> {
        fs::read_to_string(self.status_dir().join(format!("{app}.json"))).ok()
    }

    /// The recorded status of `app` as a number; fails the test if absent
    /// or malformed.
    pub fn status_code(&self, app: &str) -> u8 {
        let text = self
            .status(app)
            .unwrap_or_else(|| panic!("no status file for app {app}: {}", self.listing()));
        text.strip_suffix('\n')
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("status file of {app} is {text:?}, not \"<code>\\n\""))
    }

    /// The names in the status directory, sorted, for messages.
    pub fn listing(&self) -> String {
        format!("status dir holds {:?}", self.status_names())
    }

    /// The names in the status directory, sorted; empty if it is missing.
    pub fn status_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.status_dir())
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// A command that runs podinit (pod mode) as PID 1 with `--pod`,
    /// `--status-dir` and `args`, in a cgroup of its own (`cgroup`).
    pub fn command(&self, cgroup: &TestCgroup, args: &[&str]) -> Command {
        self.command_after(cgroup, "", args)
    }

    /// As [`PodDir::command`], running the shell commands `setup` in the
    /// new namespaces just before podinit is exec'd as PID 1.
    pub fn command_after(&self, cgroup: &TestCgroup, setup: &str, args: &[&str]) -> Command {
        let mut command = podinit_in(cgroup, setup);
        command.arg("--pod").arg(self.manifest());
        command.arg("--status-dir").arg(self.status_dir());
        command.args(args);
        command
    }
}

/// A command that runs podinit (pod mode) as PID 1 of a fresh PID and
/// mount namespace, in `cgroup`, after the shell commands `setup`; the
/// caller adds podinit's arguments.
pub fn podinit_in(cgroup: &TestCgroup, setup: &str) -> Command {
    let join = match &cgroup.dir {
        Some(dir) => format!("echo 0 > {}/cgroup.procs || exit 99; ", path_text(dir)),
        None => String::new(),
    };
    let script = format!("{join}{setup}\nexec \"$@\"");
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"]);
    command.args(["/bin/sh", "-c", &script, "pod-wrapper"]);
    command.arg(podinit());
    command
}

impl Drop for PodDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A path as UTF-8 text (scratch paths are).
pub fn path_text(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// A cgroup v2 directory of one test, directly below the hierarchy's root;
/// `dir` is `None` where there is no writable cgroup v2, and the pod then
/// runs in the test's own cgroup. Dropping it kills what is left inside
/// and removes it with everything below.
pub struct TestCgroup {
    pub dir: Option<PathBuf>,
}

impl TestCgroup {
    pub fn new(tag: &str) -> TestCgroup {
        let Some(mount) = cgroup2_mount() else {
            return TestCgroup { dir: None };
        };
        let dir = mount.join(format!("podinit-test-{tag}-{}", std::process::id()));
        remove_cgroup(&dir);
        match fs::create_dir(&dir) {
            Ok(()) => TestCgroup { dir: Some(dir) },
            Err(_) => TestCgroup { dir: None },
        }
    }

    /// The cgroup directories left below this one, relative to it.
    pub fn children(&self) -> Vec<String> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let mut found = Vec::new();
        collect_dirs(dir, dir, &mut found);
        found.sort();
        found
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            remove_cgroup(dir);
        }
    }
}

fn collect_dirs(base: &Path, dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|entry| entry.ok()) {
        let path = entry.path();
        if path.is_dir() {
            let relative = path.strip_prefix(base).expect("below base");
            found.push(path_text(relative));
            collect_dirs(base, &path, found);
        }
    }
}

/// Kills everything in `dir` and removes it, children first.
fn remove_cgroup(dir: &Path) {
    if !dir.is_dir() {
        return;
    }
    let _ = fs::write(dir.join("cgroup.kill"), "1");
    let mut below = Vec::new();
    collect_dirs(dir, dir, &mut below);
    below.sort_by_key(|relative| std::cmp::Reverse(relative.len()));
    let deadline = Instant::now() + Duration::from_secs(5);
    for path in below.iter().map(|r| dir.join(r)).chain([dir.to_path_buf()]) {
        while fs::remove_dir(&path).is_err() && path.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Where the cgroup v2 hierarchy is mounted, if it is.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let mount = before.split(' ').nth(4)?;
        after.starts_with("cgroup2 ").then(|| PathBuf::from(mount))
    })
}

/// Polls `done` every 5 ms for up to `limit`; fails the test with `what`
/// if it never holds.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "gave up after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A shell script line that makes the app wait, for up to `secs`
/// seconds, until `path` exists.
pub fn sh_wait_for(path: &str, secs: u32) -> String {
    let tries = secs * 20;
    format!("i=0; while [ ! -e {path} ] && [ $i -lt {tries} ]; do sleep 0.05; i=$((i+1)); done")
}

/// The keys and raw values of a one-level JSON object such as a status
/// record, in order: strings stay quoted, a nested object stays whole.
/// `None` when `text` is not such an object.
pub fn json_fields(text: &str) -> Option<Vec<(String, String)>> {
    let body = text.trim_end().strip_prefix('{')?.strip_suffix('}')?;
    let mut fields = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after_key) = json_string_token(rest)?;
        let after_colon = after_key.strip_prefix(':')?;
        let length = json_value_length(after_colon)?;
        let (value, after_value) = after_colon.split_at(length);
        fields.push((key[1..key.len() - 1].to_owned(), value.to_owned()));
        rest = match after_value.strip_prefix(',') {
            Some(more) if !more.is_empty() => more,
            Some(_) => return None,
            None if after_value.is_empty() => after_value,
            None => return None,
        };
    }
    Some(fields)
}

/// A string literal at the start of `text` and what follows it.
fn json_string_token(text: &str) -> Option<(&str, &str)> {
    let length = json_value_length(text)?;
    text.starts_with('"').then(|| text.split_at(length))
}

/// The length of the JSON value at the start of `text`: a string, an
/// object (by nesting), or a bare literal up to the next `,` or `}`.
fn json_value_length(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => {
                in_string = false;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            (true, false, _) => {}
            (false, _, '"') => in_string = true,
            (false, _, '{') => depth += 1,
            (false, _, '}') if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            (false, _, ',' | '}') if depth == 0 => return (i > 0).then_some(i),
            _ => {}
        }
    }
    (!in_string && depth == 0 && !text.is_empty()).then_some(text.len())
}

/// Whether `value` is a quoted RFC 3339 UTC time with milliseconds:
/// `"2026-12-04T18:20:01.123Z"`.
pub fn is_rfc3339_millis(value: &str) -> bool {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return false;
    };
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    inner.len() == shape.len()
        && inner.chars().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            _ => c == s,
        })
}

/// The host pids of the processes in the PID namespace of `init` (a host
/// pid), with their command names.
pub fn processes_in_namespace_of(init: i32) -> Vec<(i32, String)> {
    let Ok(namespace) = fs::read_link(format!("/proc/{init}/ns/pid")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() != Some(&namespace) {
            continue;
        }
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let state = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Zombies are waiting for podinit's reaper; they run nothing.
        if state
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
        {
            continue;
        }
        found.push((pid, comm.trim_end().to_owned()));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_split_a_record() {
        let text = r#"{"app":"a","pid":null,"status":127,"start":{"error":"x, \"y\" }"}}"#;
        let fields = json_fields(text).expect("an object");
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["app", "pid", "status", "start"]);
        assert_eq!(fields[3].1, r#"{"error":"x, \"y\" }"}"#);
        assert_eq!(json_fields(r#"{"a":1,}"#), None);
    }

    #[test]
    fn manifests_escape_strings() {
        let app = App::sh("a", "echo \"hi\"\\").env("X", "1");
        assert!(
            app.json()
                .contains(r#""exec":["/bin/sh","-c","echo \"hi\"\\"]"#)
        );
        assert!(is_rfc3339_millis("\"2026-12-04T18:20:01.123Z\""));
        assert!(!is_rfc3339_millis("\"2026-12-04T18:20:01Z\""));
    }
}
