//! What each app of a stage1 pod sees (contract, section 6): its own
//! root, the kernel's file systems and device nodes, its volumes, a
//! read-only root when asked, its users, its environment.

use std::fs;

use podinit_tests::have_root;
use podinit_tests::pod::App;
use podinit_tests::stage1::{APP_GROUP, APP_USER, PodApp, Stage1Pod, empty_volume, host_volume};

/// Runs one pod of `apps` and `volumes`; fails the test unless it exits 0.
fn run_ok(pod: &Stage1Pod, apps: &[PodApp], volumes: &[String]) -> String {
    pod.write(apps, volumes);
    let finished = pod.run(&["--net=default"]);
    assert_eq!(finished.code, 0, "{finished:?}");
    finished.stdout
}

#[test]
fn each_app_sees_its_own_root() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("own-root");
    let apps = [
        PodApp::sh("mine", "cat /marker; test -e /usr && echo host usr; true"),
        PodApp::sh("other", "test -e /marker || echo no marker"),
    ];
    for app in &apps {
        pod.add_app_image(app);
    }
    fs::write(pod.app_root("mine").join("marker"), "mine only\n").expect("marker");
    let stdout = run_ok(&pod, &apps, &[]);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(lines, ["mine only", "no marker"]);
}

#[test]
fn the_kernels_file_systems_and_device_nodes_are_there() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("mounts");
    let script = "cat /proc/self/mountinfo; echo ---; \
        stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
        readlink /dev/ptmx; test -e /dev/console && echo console; \
        echo hi > /dev/shm/x && cat /dev/shm/x";
    let stdout = run_ok(&pod, &[PodApp::sh("looks", script)], &[]);
    let (mountinfo, rest) = stdout.split_once("---\n").expect("two parts");
    let mounts: Vec<(&str, &str)> = mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            Some((before.split(' ').nth(4)?, after.split(' ').next()?))
        })
        .collect();
    for expected in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
    ] {
        assert!(mounts.contains(&expected), "{expected:?} in {mounts:?}");
    }
    assert_eq!(
        rest.lines().collect::<Vec<_>>(),
        [
            "/dev/null character special file 1:3",
            "/dev/zero character special file 1:5",
            "/dev/full character special file 1:7",
            "/dev/random character special file 1:8",
            "/dev/urandom character special file 1:9",
            "/dev/tty character special file 5:0",
            "pts/ptmx",
            "console",
            "hi",
        ]
    );
}

#[test]
fn volumes_host_read_only_shared_empty_and_implicit() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("volumes");
    let source = pod.scratch().join("host-data");
    fs::create_dir_all(&source).expect("host dir");
    fs::write(source.join("file"), "from the host\n").expect("host file");
    let writer = App::sh(
        "writer",
        "cat /data/file; touch /data/no 2>/dev/null || echo data read-only; \
         echo shared > /shared/note; stat -c '%a %u %g' /shared; \
         touch /scratch/x && echo scratch writable",
    )
    .mount_point("scratch", "/scratch", false);
    let reader = "i=0; while [ ! -e /shared/note ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; \
        echo \"reader $(cat /shared/note)\"";
    let (uid, gid) = (APP_USER.1, APP_GROUP.1);
    let stdout = run_ok(
        &pod,
        &[
            PodApp::new(writer)
                .mount("data", "/data")
                .mount("shared", "/shared"),
            PodApp::sh("reader", reader).mount("shared", "/shared"),
        ],
        &[
            host_volume("data", &source, true),
            empty_volume("shared", "0770", uid, gid),
        ],
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    let owner = format!("770 {uid} {gid}");
    let mut expected = vec![
        "data read-only",
        "from the host",
        owner.as_str(),
        "reader shared",
        "scratch writable",
    ];
    expected.sort();
    assert_eq!(lines, expected);
    assert!(!source.join("no").exists());
}

#[test]
fn a_read_only_root_refuses_writes_but_its_mounts_do_not() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("read-only");
    let volume = pod.out_volume();
    let script = "touch /new 2>/dev/null || echo root read-only; \
        touch /out/ok && echo volume writable; touch /dev/shm/ok && echo shm writable";
    let apps = [
        PodApp::sh("ro", script).read_only().mount("out", "/out"),
        PodApp::sh("rw", "touch /new && echo rw writable"),
    ];
    let stdout = run_ok(&pod, &apps, &[volume]);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "root read-only",
            "rw writable",
            "shm writable",
            "volume writable"
        ]
    );
    assert!(!pod.app_root("ro").join("new").exists());
}

#[test]
fn users_and_groups_come_from_the_apps_own_files() {
    if !have_root() {
        return;
    }
    let host_passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert!(
        !host_passwd.contains(APP_USER.0),
        "the host must not know {}",
        APP_USER.0
    );
    let pod = Stage1Pod::new("users");
    let app = App::new("ids", &["id"])
        .user(Some(APP_USER.0))
        .group(Some(APP_GROUP.0));
    let stdout = run_ok(&pod, &[PodApp::new(app)], &[]);
    let expected = format!(
        "uid={}({}) gid={}({})",
        APP_USER.1, APP_USER.0, APP_GROUP.1, APP_GROUP.0
    );
    assert_eq!(stdout.trim_end(), expected);
}

#[test]
fn the_environment_is_the_apps_own() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("environment");
    let app = App::new("env", &["env"]).env("GREETING", "hello");
    let stdout = run_ok(&pod, &[PodApp::new(app)], &[]);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "AC_APP_NAME=env",
            "GREETING=hello",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ]
    );
}

/// The options of the mount at `point` in a `/proc/self/mountinfo` text:
/// the per-mount ones (field 6) and the super block's (after the ` - `).
fn mount_options<'a>(mountinfo: &'a str, point: &str) -> Option<Vec<&'a str>> {
    let line = mountinfo
        .lines()
        .filter(|line| line.split(' ').nth(4) == Some(point))
        .last()?;
    Some(line.split(' ').nth(5)?.split(',').collect())
}

/// Regression: `/proc/sys` was writable in an app that kept the default
/// capabilities, and without a user namespace its settings are the host's
/// (`kernel.core_pattern` names a program the host runs as root).
#[test]
fn the_hosts_kernel_settings_are_read_only_in_an_app() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("proc-sys");
    // Opening for append writes nothing, and a read-only mount refuses the
    // open itself (EROFS); busybox's `test -w` would not ask the kernel.
    let script = "for f in /proc/sys/kernel/core_pattern /proc/sysrq-trigger; do \
        (: >> $f) 2>/dev/null && echo writable $f; done; cat /proc/self/mountinfo";
    let stdout = run_ok(&pod, &[PodApp::sh("looks", script)], &[]);
    assert!(!stdout.contains("writable"), "{stdout}");
    let options = mount_options(&stdout, "/proc/sys").expect("a /proc/sys mount");
    assert!(options.contains(&"ro"), "{options:?}");
}

/// Regression: making the root or a volume read-only dropped the
/// `nosuid`, `nodev` and `noexec` of the mount below it. Device nodes an
/// app makes in its own root or an empty volume open nothing (`nodev`).
#[test]
fn read_only_mounts_keep_the_hosts_restrictions() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("ro-flags");
    let source = pod.scratch().join("noexec");
    fs::create_dir_all(&source).expect("volume source");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "nosuid,nodev,noexec", "podinit-test"])
        .arg(&source)
        .status()
        .expect("run mount");
    assert!(mounted.success());
    let app = PodApp::sh("looks", "cat /proc/self/mountinfo")
        .read_only()
        .mount("data", "/data")
        .mount("scratch", "/scratch");
    let volumes = [
        host_volume("data", &source, true),
        empty_volume("scratch", "0755", 0, 0),
    ];
    pod.write(&[app], &volumes);
    let finished = pod.run(&["--net=default"]);
    let _ = std::process::Command::new("umount").arg(&source).status();
    assert_eq!(finished.code, 0, "{finished:?}");
    let volume = mount_options(&finished.stdout, "/data").expect("a /data mount");
    for flag in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(volume.contains(&flag), "/data lacks {flag}: {volume:?}");
    }
    let scratch = mount_options(&finished.stdout, "/scratch").expect("a /scratch mount");
    assert!(
        scratch.contains(&"nodev"),
        "an empty volume opens devices: {scratch:?}"
    );
    let root = mount_options(&finished.stdout, "/").expect("a / mount");
    for flag in ["ro", "nodev"] {
        assert!(root.contains(&flag), "/ lacks {flag}: {root:?}");
    }
}

/// The apps share an IPC namespace, and so one `/dev/shm`: what one app
/// puts there the other finds.
#[test]
fn the_apps_share_dev_shm() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("shared-shm");
    let apps = [
        PodApp::sh("writer", "echo from-writer > /dev/shm/note"),
        PodApp::sh(
            "reader",
            "for i in $(seq 50); do test -e /dev/shm/note && break; sleep 0.1; done; \
             cat /dev/shm/note",
        ),
    ];
    let stdout = run_ok(&pod, &apps, &[]);
    assert_eq!(stdout, "from-writer\n");
}
