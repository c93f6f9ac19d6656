//! A pod `run` refuses: one clear message naming the file, field or app,
//! a documented exit code, and nothing left behind: no `pid`, no mount in
//! the host's namespace, no process.

use std::fs;

use podinit_tests::have_root;
use podinit_tests::stage1::{PodApp, Stage1Pod, empty_volume, host_mounts_under, processes_under};

/// Runs the pod; checks the code and that it left nothing; returns the
/// one line it printed.
fn refused(pod: &Stage1Pod, code: i32) -> String {
    let finished = pod.run(&["--net=default"]);
    assert_eq!(finished.code, code, "{finished:?}");
    let lines: Vec<&str> = finished
        .stderr_lines()
        .into_iter()
        .filter(|line| !line.contains("loopback only"))
        .collect();
    assert_eq!(lines.len(), 1, "one message: {finished:?}");
    assert!(pod.pid_text().is_none(), "no pid for a pod that never ran");
    assert_eq!(host_mounts_under(&pod.dir), Vec::<String>::new());
    assert_eq!(processes_under(&pod.dir), Vec::<i32>::new());
    lines[0].to_owned()
}

#[test]
fn a_malformed_pod_manifest_names_file_and_field() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("malformed");
    pod.add_rootfs("web");
    pod.write_manifest_text(
        r#"{"acVersion":"1.30.0","acKind":"PodManifest","apps":[{"name":"Web_1","image":{"name":"x"},"app":{"exec":["/bin/true"]}}]}"#,
    );
    let message = refused(&pod, 121);
    let file = pod.dir.join("pod");
    assert!(
        message.starts_with(&format!("podinit: {}: ", file.display())),
        "{message}"
    );
    assert!(message.contains("apps[0].name \"Web_1\""), "{message}");
}

#[test]
fn a_pod_manifest_that_is_not_json_is_refused() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("not-json");
    pod.write_manifest_text("{\"acKind\": \"PodManifest\", \"apps\": [");
    let message = refused(&pod, 121);
    assert!(
        message.contains(&pod.dir.join("pod").display().to_string()),
        "{message}"
    );
}

#[test]
fn a_missing_app_root_names_the_app_and_the_path() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("no-rootfs");
    pod.write(
        &[PodApp::sh("here", "true"), PodApp::sh("gone", "true")],
        &[],
    );
    fs::remove_dir_all(pod.app_root("gone")).expect("remove gone's rootfs");
    let message = refused(&pod, 122);
    let root = pod.app_root("gone");
    assert!(message.starts_with("podinit: app gone: "), "{message}");
    assert!(message.contains(&root.display().to_string()), "{message}");
    assert!(
        message.ends_with("No such file or directory (os error 2)"),
        "{message}"
    );
    assert!(pod.status_names().is_empty());
}

#[test]
fn a_missing_host_volume_source_names_the_volume() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("no-source");
    let missing = pod.scratch().join("not-there");
    let volume = podinit_tests::stage1::host_volume("data", &missing, false);
    pod.write(
        &[PodApp::sh("user", "true").mount("data", "/data")],
        &[volume],
    );
    let message = refused(&pod, 122);
    assert!(message.starts_with("podinit: volume data: "), "{message}");
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
}

/// Regression: `RKT_LOCK_FD=1` was taken for the lock, stdout was made
/// close-on-exec, and every app lost it.
#[test]
fn a_lock_descriptor_of_stdio_is_refused() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("lock-stdio");
    pod.write(&[PodApp::sh("web", "echo out")], &[]);
    // Stdio, and a number the runtime never opened (podinit may have).
    for fd in ["0", "1", "2", "3", "77"] {
        let (mut command, _lock) = pod.run_command(&["--net=none"]);
        command.env("RKT_LOCK_FD", fd);
        let finished = podinit_tests::run(command);
        assert_eq!(finished.code, 120, "RKT_LOCK_FD={fd}: {finished:?}");
        assert!(finished.stderr.contains("RKT_LOCK_FD"), "{finished:?}");
        assert!(pod.pid_text().is_none(), "RKT_LOCK_FD={fd}: the pod ran");
    }
}

/// Regression: `pid` was written even when the pod's PID 1 failed to mount
/// an app's root, naming a process that was gone.
#[test]
fn a_mount_that_fails_in_the_pod_leaves_no_pid() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("mount-fails");
    // A mount point below a file: it cannot be made.
    let app = PodApp::sh("web", "true").mount("data", "/bin/busybox/data");
    pod.write(&[app], &[empty_volume("data", "0755", 0, 0)]);
    let line = refused(&pod, 125);
    assert!(line.contains("/bin/busybox/data"), "{line}");
}
