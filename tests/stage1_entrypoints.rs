//! `enter`, `stop` and `gc` on pods `run` started, as the runtime runs
//! them: in the pod directory, with the runtime's argv.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use podinit_tests::have_root;
use podinit_tests::pod::{App, processes_in_namespace_of};
use podinit_tests::stage1::{PodApp, Stage1Pod};

/// A pod of apps that each say they run (`out/<app>`), then sleep.
fn sleeping_pod(tag: &str, apps: &[&str]) -> (Stage1Pod, podinit_tests::Run) {
    let pod = Stage1Pod::new(tag);
    let volume = pod.out_volume();
    let apps: Vec<PodApp> = apps
        .iter()
        .map(|name| {
            let app = App::sh(name, "touch /out/$AC_APP_NAME; exec sleep 30").env("FOO", "bar");
            PodApp::new(app).mount("out", "/out")
        })
        .collect();
    pod.write(&apps, &[volume]);
    let run = pod.start(&["--net=default"]);
    for app in &apps {
        pod.wait_out(app.app.name());
    }
    (pod, run)
}

#[test]
fn enter_runs_a_command_with_the_apps_view() {
    if !have_root() {
        return;
    }
    let (pod, run) = sleeping_pod("enter", &["web"]);
    fs::write(pod.app_root("web").join("marker"), "web's root\n").expect("marker");
    let pid = pod.pid();
    let script = "echo \"$FOO $AC_APP_NAME\"; cat /marker; hostname; \
        readlink /proc/self/ns/net; test -c /dev/null && echo dev; exit 7";
    let finished = pod.entry(
        "enter",
        &[
            &format!("--pid={pid}"),
            "--appname=web",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert_eq!(finished.code, 7, "{finished:?}");
    let pod_net = fs::read_link(format!("/proc/{pid}/ns/net")).expect("pod's net ns");
    let expected = format!(
        "bar web\nweb's root\nrkt-{}\n{}\ndev\n",
        pod.uuid,
        pod_net.to_string_lossy()
    );
    assert_eq!(finished.stdout, expected);
    assert_eq!(pod.entry("stop", &[&pod.uuid]).code, 0);
    run.finish_within(Duration::from_secs(10));
}

#[test]
fn stop_stops_every_app_and_records_them() {
    if !have_root() {
        return;
    }
    let (pod, run) = sleeping_pod("stop", &["one", "two"]);
    let stopped = pod.entry("stop", &[&pod.uuid]);
    assert_eq!(stopped.code, 0, "{stopped:?}");
    let finished = run.finish_within(Duration::from_secs(10));
    assert_eq!(
        finished.code, 0,
        "stopped apps are no failure: {finished:?}"
    );
    assert_eq!(pod.status("one").as_deref(), Some("143\n"));
    assert_eq!(pod.status("two").as_deref(), Some("143\n"));
    // Stopping a pod that has exited is no error.
    assert_eq!(pod.entry("stop", &[&pod.uuid]).code, 0);
}

#[test]
fn stop_force_kills_the_pod_and_gc_releases_its_cgroups() {
    if !have_root() {
        return;
    }
    let (pod, run) = sleeping_pod("force", &["one", "two"]);
    let init = pod.pid();
    let note = pod.dir.join("stage1/rootfs/rkt/cgroup");
    let cgroup = fs::read_to_string(&note)
        .ok()
        .map(|t| PathBuf::from(t.trim_end()));
    let stopped = pod.entry("stop", &["--force", &pod.uuid]);
    assert_eq!(stopped.code, 0, "{stopped:?}");
    let finished = run.finish_within(Duration::from_secs(10));
    assert_eq!(finished.code, 137, "the pod died by SIGKILL: {finished:?}");
    assert_eq!(pod.status_names(), Vec::<String>::new(), "nothing recorded");
    assert!(processes_in_namespace_of(init).is_empty());

    let collected = pod.entry("gc", &["--local-config", "/etc/rkt", &pod.uuid]);
    assert_eq!(collected.code, 0, "{collected:?}");
    if let Some(cgroup) = &cgroup {
        assert!(!cgroup.exists(), "gc removed {}", cgroup.display());
    }
    let again = pod.entry("gc", &["--local-config", "/etc/rkt", &pod.uuid]);
    assert_eq!(again.code, 0, "gc is idempotent: {again:?}");
}

#[test]
fn gc_and_stop_on_a_pod_that_never_started() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("never");
    pod.write(&[PodApp::sh("idle", "true")], &[]);
    let collected = pod.entry("gc", &["--debug", "--local-config", "/etc/rkt", &pod.uuid]);
    assert_eq!(collected.code, 0, "{collected:?}");
    let stopped = pod.entry("stop", &[&pod.uuid]);
    assert_eq!(stopped.code, 122, "{stopped:?}");
    assert!(stopped.stderr.contains("never started"), "{stopped:?}");
}

/// Regression: `pid` was written as soon as the pod's namespaces existed,
/// before its PID 1 had mounted the apps' roots, so an `enter` right then
/// found a root without `/proc` or `/dev`. The last of many apps is
/// entered the moment `pid` appears.
#[test]
fn enter_as_soon_as_pid_appears_finds_the_apps_mounts() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("enter-early");
    let names: Vec<String> = (1..=40).map(|n| format!("app-{n}")).collect();
    let apps: Vec<PodApp> = names
        .iter()
        .map(|name| PodApp::new(App::sh(name, "exec sleep 30")))
        .collect();
    pod.write(&apps, &[]);
    let run = pod.start(&["--net=default"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pod.pid_text().is_none() {
        assert!(std::time::Instant::now() < deadline, "no pid file");
        std::thread::sleep(Duration::from_micros(200));
    }
    let pid = pod.pid();
    let check = "test -c /dev/null && test -e /proc/self/stat && echo mounted";
    let last = format!("--appname={}", names[names.len() - 1]);
    let args = [&format!("--pid={pid}"), &last, "--", "/bin/sh", "-c", check];
    let entered = pod.entry("enter", &args);
    assert_eq!(pod.entry("stop", &[&pod.uuid]).code, 0);
    run.finish_within(Duration::from_secs(10));
    assert_eq!(entered.stdout, "mounted\n", "{entered:?}");
}

/// Regression: `enter` passed every descriptor its caller had down to the
/// command, and one naming a host directory leads out of the app's root.
#[test]
fn enter_passes_no_descriptor_but_stdio() {
    if !have_root() {
        return;
    }
    let (pod, run) = sleeping_pod("enter-fds", &["web"]);
    let pid = pod.pid();
    let enter = pod.entrypoint("enter");
    // A shell between the test and `enter` hands down the host's /etc on 7.
    let script = format!(
        "exec 7</etc; exec {} --pid={pid} --appname=web -- /bin/sh -c 'ls /proc/self/fd'",
        enter.display()
    );
    let mut command = std::process::Command::new("/bin/sh");
    command.args(["-c", &script]).current_dir(&pod.dir);
    let entered = podinit_tests::run(command);
    assert_eq!(pod.entry("stop", &[&pod.uuid]).code, 0);
    run.finish_within(Duration::from_secs(10));
    assert_eq!(entered.code, 0, "{entered:?}");
    // ls itself holds one more, for the directory it lists.
    let fds: Vec<&str> = entered.stdout.lines().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{entered:?}");
}

/// Regression: `stop` signalled whatever process `pid` named, and after a
/// pod has gone its pid may be another process's. `enter` would join that
/// process's namespaces.
#[test]
fn stop_and_enter_leave_a_process_that_is_not_a_pod_alone() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("not-a-pod");
    pod.write(&[PodApp::sh("web", "true")], &[]);
    let mut stranger = std::process::Command::new("/bin/sleep")
        .arg("30")
        .spawn()
        .expect("start a stranger");
    fs::write(pod.dir.join("pid"), format!("{}\n", stranger.id())).expect("write pid");
    let stopped = pod.entry("stop", &["--force", &pod.uuid]);
    let entered = pod.entry(
        "enter",
        &[
            &format!("--pid={}", stranger.id()),
            "--appname=web",
            "--",
            "/bin/true",
        ],
    );
    let alive = stranger.try_wait().expect("wait").is_none();
    let _ = stranger.kill();
    let _ = stranger.wait();
    assert_eq!(stopped.code, 0, "an exited pod is no error: {stopped:?}");
    assert!(alive, "stop killed a process that was not the pod");
    assert_eq!(entered.code, 122, "{entered:?}");
    assert!(entered.stderr.contains("not a pod's PID 1"), "{entered:?}");
}

/// Regression: `gc` of one pod, whose cgroup note was copied from another
/// running pod, killed that other pod: the note named any podinit cgroup.
#[test]
fn gc_leaves_another_pods_cgroup_alone() {
    if !have_root() {
        return;
    }
    let (running, run) = sleeping_pod("gc-other-running", &["web"]);
    let note = running.dir.join("stage1/rootfs/rkt/cgroup");
    let Ok(text) = fs::read_to_string(&note) else {
        // No cgroup v2 here: the pod has no cgroup to be pointed at.
        assert_eq!(running.entry("stop", &[&running.uuid]).code, 0);
        run.finish_within(Duration::from_secs(10));
        return;
    };
    let other = Stage1Pod::new("gc-other");
    other.write(&[PodApp::sh("web", "true")], &[]);
    fs::write(other.dir.join("stage1/rootfs/rkt/cgroup"), &text).expect("copy the note");
    let collected = other.entry("gc", &[&other.uuid]);
    let cgroup = PathBuf::from(text.trim_end());
    let still_there = cgroup.exists();
    let alive =
        running.pid_text().is_some() && !processes_in_namespace_of(running.pid()).is_empty();
    assert_eq!(running.entry("stop", &[&running.uuid]).code, 0);
    let finished = run.finish_within(Duration::from_secs(10));
    assert_eq!(collected.code, 0, "{collected:?}");
    assert!(
        still_there,
        "gc removed another pod's cgroup {}",
        cgroup.display()
    );
    assert!(alive, "gc killed another pod");
    assert_eq!(
        finished.code, 0,
        "the other pod stopped cleanly: {finished:?}"
    );
}
