//! A pod runtime, played by the tests exactly as the stage1 contract
//! describes one (sections 2 and 3): the pod directory laid out with
//! directories 0750 and files 0640, each app's root a busybox-static tree
//! with its own `/etc/passwd` and `/etc/group`, the pod manifest written
//! as one line of JSON, the directory opened and flocked on a high
//! descriptor with close-on-exec cleared and named by `RKT_LOCK_FD`, and
//! the `run` entrypoint exec'd in the pod directory, through a link named
//! `run` to the podinit artefact, with the runtime's argv.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::pod::{App, json_string};
use crate::{Finished, Run, podinit, run, scratch_dir};

/// The descriptor the lock is handed down on, high as the runtime's are.
pub const LOCK_FD: i32 = 100;

/// What each app root holds besides busybox: the applets the tests use.
const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "ls", "sleep", "hostname", "id", "touch", "mkdir", "readlink", "stat",
    "test", "wc", "grep", "true", "false", "printf", "env", "pwd", "kill", "head", "sed", "tr",
];

/// The passwd and group of every app root: a user and a group the host
/// does not have, so that finding them proves the app's own files were
/// read.
pub const APP_USER: (&str, u32) = ("stageuser", 3456);
pub const APP_GROUP: (&str, u32) = ("stagegroup", 4567);

/// One app of a stage1 pod: the app object and the runtime app's own
/// fields.
#[derive(Clone, Debug)]
pub struct PodApp {
    pub app: App,
    pub read_only_rootfs: bool,
    /// `mounts` entries: volume name and path.
    pub mounts: Vec<(String, String)>,
    /// Write the `app` object into the image manifest only, not the pod
    /// manifest (contract 4.3).
    pub app_in_image_only: bool,
}

impl PodApp {
    pub fn new(app: App) -> PodApp {
        PodApp {
            app,
            read_only_rootfs: false,
            mounts: Vec::new(),
            app_in_image_only: false,
        }
    }

    /// An app running `script` with the app root's own `/bin/sh`.
    pub fn sh(name: &str, script: &str) -> PodApp {
        PodApp::new(App::sh(name, script))
    }

    pub fn read_only(mut self) -> PodApp {
        self.read_only_rootfs = true;
        self
    }

    pub fn mount(mut self, volume: &str, path: &str) -> PodApp {
        self.mounts.push((volume.to_owned(), path.to_owned()));
        self
    }

    pub fn app_in_image_only(mut self) -> PodApp {
        self.app_in_image_only = true;
        self
    }

    fn json(&self) -> String {
        let name = json_string(self.app.name());
        let mut fields = vec![
            format!("\"name\":{name}"),
            format!("\"image\":{{\"name\":\"example.com/{}\"}}", self.app.name()),
        ];
        if !self.app_in_image_only {
            fields.push(format!("\"app\":{}", self.app.app_json()));
        }
        if self.read_only_rootfs {
            fields.push("\"readOnlyRootFS\":true".into());
        }
        let mounts: Vec<String> = self
            .mounts
            .iter()
            .map(|(volume, path)| {
                let (volume, path) = (json_string(volume), json_string(path));
                format!("{{\"volume\":{volume},\"path\":{path}}}")
            })
            .collect();
        fields.push(format!("\"mounts\":[{}]", mounts.join(",")));
        format!("{{{}}}", fields.join(","))
    }
}

/// A pod directory `<scratch>/pods/run/<uuid>` as the runtime makes it.
pub struct Stage1Pod {
    scratch: PathBuf,
    pub dir: PathBuf,
    pub uuid: String,
}

impl Stage1Pod {
    /// A fresh pod directory for the test named `tag`, with the stage1
    /// image (the entrypoint links, an empty `rkt/status/`) in place.
    pub fn new(tag: &str) -> Stage1Pod {
        let scratch = scratch_dir(&format!("stage1-{tag}"));
        let uuid = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            std::process::id(),
            tag.len()
        );
        let dir = scratch.join("pods/run").join(&uuid);
        let pod = Stage1Pod { scratch, dir, uuid };
        pod.make_dir("stage1/rootfs/rkt/status");
        pod.make_dir("stage1/rootfs/opt/stage2");
        pod.make_dir("appsinfo");
        pod.write_file("stage1/manifest", STAGE1_MANIFEST);
        pod.write_file("pod-created", "");
        pod.write_file("pod.lck", "");
        for entrypoint in ["run", "enter", "stop", "gc"] {
            symlink(podinit(), pod.dir.join("stage1/rootfs").join(entrypoint))
                .expect("link an entrypoint");
        }
        pod
    }

    /// Lays out each app's image and root, and writes the pod manifest with
    /// `apps` and the `volumes` given as JSON objects.
    pub fn write(&self, apps: &[PodApp], volumes: &[String]) {
        for app in apps {
            self.add_app_image(app);
        }
        let apps: Vec<String> = apps.iter().map(PodApp::json).collect();
        let text = format!(
            "{{\"acVersion\":\"1.30.0\",\"acKind\":\"PodManifest\",\"apps\":[{}],\"volumes\":[{}]}}",
            apps.join(","),
            volumes.join(",")
        );
        self.write_manifest_text(&text);
    }

    /// Writes `text` as the pod manifest, as is.
    pub fn write_manifest_text(&self, text: &str) {
        self.write_file("pod", text);
    }

    /// The image manifest and the root file system of `app`.
    pub fn add_app_image(&self, app: &PodApp) {
        let name = app.app.name();
        let image_manifest = format!(
            "{{\"acKind\":\"ImageManifest\",\"acVersion\":\"0.8.11\",\"name\":\"example.com/{name}\",\"app\":{}}}",
            app.app.app_json()
        );
        self.make_dir(&format!("appsinfo/{name}"));
        self.make_dir(&format!("stage1/rootfs/opt/stage2/{name}"));
        self.write_file(&format!("appsinfo/{name}/manifest"), &image_manifest);
        self.write_file(
            &format!("stage1/rootfs/opt/stage2/{name}/manifest"),
            &image_manifest,
        );
        self.add_rootfs(name);
    }

    /// `opt/stage2/<name>/rootfs`: busybox and its applets in `/bin`, and
    /// an `/etc/passwd` and `/etc/group` of the app's own.
    pub fn add_rootfs(&self, name: &str) {
        let root = format!("stage1/rootfs/opt/stage2/{name}/rootfs");
        if self.dir.join(&root).exists() {
            return;
        }
        self.make_dir(&format!("{root}/bin"));
        self.make_dir(&format!("{root}/etc"));
        // The root is image content, not the runtime's: 0755 as images
        // have it, so that an app of any user can use it.
        for dir in ["", "/bin", "/etc"] {
            let path = self.dir.join(format!("{root}{dir}"));
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod root");
        }
        let bin = self.dir.join(&root).join("bin");
        fs::copy("/bin/busybox", bin.join("busybox")).expect("copy busybox");
        for applet in APPLETS {
            symlink("busybox", bin.join(applet)).expect("link an applet");
        }
        let (user, uid) = APP_USER;
        let (group, gid) = APP_GROUP;
        let passwd = format!("root:x:0:0:root:/:/bin/sh\n{user}:x:{uid}:{gid}::/:/bin/sh\n");
        self.write_file(&format!("{root}/etc/passwd"), &passwd);
        self.write_file(
            &format!("{root}/etc/group"),
            &format!("root:x:0:\n{group}:x:{gid}:\n"),
        );
    }

    /// The root of app `name`, as the host sees it.
    pub fn app_root(&self, name: &str) -> PathBuf {
        self.dir
            .join("stage1/rootfs/opt/stage2")
            .join(name)
            .join("rootfs")
    }

    /// `rkt/status/<app>`, if written.
    pub fn status(&self, app: &str) -> Option<String> {
        fs::read_to_string(self.dir.join("stage1/rootfs/rkt/status").join(app)).ok()
    }

    /// The names in `rkt/status/`, sorted.
    pub fn status_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.join("stage1/rootfs/rkt/status"))
            .expect("read rkt/status")
            .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names
    }

    /// The pod's `pid` file, as written.
    pub fn pid_text(&self) -> Option<String> {
        fs::read_to_string(self.dir.join("pid")).ok()
    }

    /// The pid in `pid`; fails the test when missing or malformed.
    pub fn pid(&self) -> i32 {
        let text = self.pid_text().expect("a pid file");
        text.strip_suffix('\n')
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("pid file is {text:?}, not \"%d\\n\""))
    }

    /// `out/<name>` of the test's scratch directory: apps that mount the
    /// [`Stage1Pod::out_volume`] at `/out` write there.
    pub fn out(&self, name: &str) -> PathBuf {
        self.scratch.join("out").join(name)
    }

    /// A host volume `out` on the scratch directory's `out/`, writable by
    /// every user.
    pub fn out_volume(&self) -> String {
        let dir = self.scratch.join("out");
        fs::create_dir_all(&dir).expect("create out/");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).expect("chmod out/");
        host_volume("out", &dir, false)
    }

    /// Waits up to 10 s for `out/<name>`; returns its contents.
    pub fn wait_out(&self, name: &str) -> String {
        let path = self.out(name);
        crate::pod::wait_until(Duration::from_secs(10), &format!("{name} in out/"), || {
            path.exists()
        });
        fs::read_to_string(&path).unwrap_or_default()
    }

    /// The scratch directory holding the pod directory and `out/`.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// The `run` command as the runtime execs it: `flags`, then the UUID;
    /// the lock is held on [`LOCK_FD`] until the returned descriptor and
    /// the child's copy are both closed.
    pub fn run_command(&self, flags: &[&str]) -> (Command, OwnedFd) {
        let lock = self.lock().expect("flock the pod directory");
        let raw = lock.as_raw_fd();
        let mut command = Command::new(self.entrypoint("run"));
        command
            .args(flags)
            .arg(&self.uuid)
            .current_dir(&self.dir)
            .env("RKT_LOCK_FD", LOCK_FD.to_string())
            .env("RKT_SELINUX_CONTEXT", "")
            .env("RKT_SELINUX_MOUNT_CONTEXT", "");
        // SAFETY: dup2 is async-signal-safe and touches no memory; the
        // copy it makes has close-on-exec cleared, as the runtime's lock
        // descriptor has.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(raw, LOCK_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        (command, lock)
    }

    /// Starts `run` with `flags` (then the UUID); the test's own copy of
    /// the lock is closed once the child holds it.
    pub fn start(&self, flags: &[&str]) -> Run {
        let (command, lock) = self.run_command(flags);
        let started = Run::start(command);
        drop(lock);
        started
    }

    /// Runs the pod to its end (at most 20 s).
    pub fn run(&self, flags: &[&str]) -> Finished {
        self.start(flags).finish_within(Duration::from_secs(20))
    }

    /// The path of an entrypoint link in the stage1 root.
    pub fn entrypoint(&self, name: &str) -> PathBuf {
        self.dir.join("stage1/rootfs").join(name)
    }

    /// Runs entrypoint `name` with `args` in the pod directory, as the
    /// runtime starts `enter`, `stop` and `gc`.
    pub fn entry(&self, name: &str, args: &[&str]) -> Finished {
        let mut command = Command::new(self.entrypoint(name));
        command.args(args).current_dir(&self.dir);
        run(command)
    }

    /// Whether the pod directory's lock is free: nobody holds it.
    pub fn lock_is_free(&self) -> bool {
        let dir = fs::File::open(&self.dir).expect("open the pod directory");
        // SAFETY: flock on a descriptor this function owns; no memory.
        let rc = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        rc == 0
    }

    fn lock(&self) -> std::io::Result<OwnedFd> {
        let dir = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&self.dir)?;
        // SAFETY: flock on a descriptor this function owns; no memory.
        if unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OwnedFd::from(dir))
    }

    fn make_dir(&self, relative: &str) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(self.dir.join(relative))
            .expect("create a pod directory");
        // The umask may have narrowed the mode of every level made.
        let mut path = self.dir.join(relative);
        while path.starts_with(&self.scratch) && path != self.scratch {
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o750));
            path.pop();
        }
    }

    fn write_file(&self, relative: &str, text: &str) {
        let path = self.dir.join(relative);
        fs::write(&path, text).expect("write a pod file");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod a pod file");
    }
}

impl Drop for Stage1Pod {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.scratch);
        }
    }
}

/// The stage1 image manifest, as the runtime copies it into the pod.
const STAGE1_MANIFEST: &str = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/podinit-stage1","labels":[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}],"annotations":[{"name":"coreos.com/rkt/stage1/run","value":"/run"},{"name":"coreos.com/rkt/stage1/enter","value":"/enter"},{"name":"coreos.com/rkt/stage1/stop","value":"/stop"},{"name":"coreos.com/rkt/stage1/gc","value":"/gc"},{"name":"coreos.com/rkt/stage1/interface-version","value":"5"}]}"#;

/// A host volume JSON object.
pub fn host_volume(name: &str, source: &Path, read_only: bool) -> String {
    format!(
        "{{\"name\":{},\"kind\":\"host\",\"source\":{},\"readOnly\":{read_only}}}",
        json_string(name),
        json_string(source.to_str().expect("a UTF-8 path"))
    )
}

/// An empty volume JSON object.
pub fn empty_volume(name: &str, mode: &str, uid: u32, gid: u32) -> String {
    format!(
        "{{\"name\":{},\"kind\":\"empty\",\"mode\":{},\"uid\":{uid},\"gid\":{gid}}}",
        json_string(name),
        json_string(mode)
    )
}

/// The mount points of the host's mount namespace whose path contains
/// `part`: what a pod must not leave behind.
pub fn host_mounts_under(part: &Path) -> Vec<String> {
    let part = part.to_str().expect("a UTF-8 path");
    fs::read_to_string("/proc/self/mountinfo")
        .expect("read mountinfo")
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|mount| mount.contains(part))
        .map(str::to_owned)
        .collect()
}

/// Every process whose working directory or root lies under `dir`, or
/// that runs an entrypoint of it: what a pod must not leave behind.
pub fn processes_under(dir: &Path) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let inside = ["cwd", "root", "exe"].iter().any(|link| {
            fs::read_link(format!("/proc/{pid}/{link}")).is_ok_and(|path| path.starts_with(dir))
        });
        if inside {
            found.push(pid);
        }
    }
    found
}
