//! `run` as a pod runtime starts it: the pod's statuses and exit code, its
//! `pid` file, its lock, its namespaces and its name.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use podinit_tests::have_root;
use podinit_tests::pod::processes_in_namespace_of;
use podinit_tests::stage1::{LOCK_FD, PodApp, Stage1Pod};

#[test]
fn several_apps_record_their_statuses_and_the_first_failure_is_the_pods() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("statuses");
    pod.write(
        &[
            PodApp::sh("done", "exit 0"),
            PodApp::sh("fails", "sleep 0.2; exit 3"),
            PodApp::sh("waits", "sleep 30"),
        ],
        &[],
    );
    let started = Instant::now();
    let finished = pod.run(&["--net=default", "--mds-token=abc", "--no-such-flag"]);
    eprintln!("pod ran for {:?}", started.elapsed());
    assert_eq!(finished.code, 3, "{finished:?}");
    assert_eq!(pod.status("done").as_deref(), Some("0\n"));
    assert_eq!(pod.status("fails").as_deref(), Some("3\n"));
    assert_eq!(
        pod.status("waits").as_deref(),
        Some("143\n"),
        "stopped by SIGTERM"
    );
    let unknown = "podinit: unknown flag --no-such-flag: ignored";
    assert!(finished.stderr_lines().contains(&unknown), "{finished:?}");
    // Left in place for the runtime.
    let text = pod.pid_text().expect("pid is left in place");
    assert!(
        text.ends_with('\n') && text.trim_end().parse::<i32>().is_ok(),
        "{text:?}"
    );
    let mode = fs::metadata(pod.dir.join("pid"))
        .expect("pid")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn an_app_without_an_app_object_runs_its_image_manifests() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("fallback");
    pod.write(&[PodApp::sh("imaged", "exit 42").app_in_image_only()], &[]);
    let finished = pod.run(&["--net=none"]);
    assert_eq!(finished.code, 42, "{finished:?}");
    assert_eq!(pod.status("imaged").as_deref(), Some("42\n"));
}

#[test]
fn pid_names_the_pods_pid_1_and_the_lock_stays_outside_the_apps() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("lock");
    let volume = pod.out_volume();
    pod.write(
        &[PodApp::sh("holder", "touch /out/ready; sleep 30").mount("out", "/out")],
        &[volume],
    );
    let run = pod.start(&["--net=default"]);
    let runtime = run.child.id() as i32;
    pod.wait_out("ready");

    // The runtime's process keeps the lock on its descriptor.
    let held = fs::read_link(format!("/proc/{runtime}/fd/{LOCK_FD}")).expect("lock fd");
    assert_eq!(held, pod.dir, "fd {LOCK_FD} of the runtime's process");
    assert!(!pod.lock_is_free(), "the lock is held while the pod runs");

    // pid is the pod's PID 1: PID 1 of a namespace the runtime is not in.
    let init = pod.pid();
    let status = fs::read_to_string(format!("/proc/{init}/status")).expect("pod's PID 1");
    let ns_pids = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .expect("NSpid");
    assert!(ns_pids.ends_with("\t1"), "{ns_pids}");
    let ppid = status
        .lines()
        .find(|l| l.starts_with("PPid:"))
        .expect("PPid");
    assert_eq!(
        ppid.split_whitespace().nth(1),
        Some(runtime.to_string().as_str())
    );

    // No process in the pod holds a descriptor on the pod directory.
    let inside = processes_in_namespace_of(init);
    assert!(inside.len() >= 2, "PID 1 and the app: {inside:?}");
    for (pid, comm) in &inside {
        for fd in fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("fds")
            .flatten()
        {
            let target = fs::read_link(fd.path()).unwrap_or_default();
            assert_ne!(target, pod.dir, "{comm} ({pid}) holds {:?}", fd.path());
        }
    }

    let stopped = pod.entry("stop", &[&pod.uuid]);
    assert_eq!(stopped.code, 0, "{stopped:?}");
    let finished = run.finish_within(std::time::Duration::from_secs(10));
    assert_eq!(finished.code, 0, "{finished:?}");
    assert!(pod.lock_is_free(), "the lock is released with podinit");
}

#[test]
fn apps_share_the_pods_namespaces_which_are_not_the_hosts() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("namespaces");
    let script = "for ns in pid ipc uts net mnt; do echo \"$AC_APP_NAME $ns $(readlink /proc/self/ns/$ns)\"; done";
    pod.write(&[PodApp::sh("one", script), PodApp::sh("two", script)], &[]);
    let finished = pod.run(&["--net=default"]);
    assert_eq!(finished.code, 0, "{finished:?}");
    for ns in ["pid", "ipc", "uts", "net", "mnt"] {
        let seen = |app: &str| -> String {
            let prefix = format!("{app} {ns} ");
            let line = finished.stdout.lines().find(|l| l.starts_with(&prefix));
            let line = line.unwrap_or_else(|| panic!("no {prefix:?}: {finished:?}"));
            line[prefix.len()..].to_owned()
        };
        let host = fs::read_link(format!("/proc/self/ns/{ns}")).expect("host ns");
        assert_eq!(seen("one"), seen("two"), "{ns} is shared");
        assert_ne!(seen("one"), host.to_string_lossy(), "{ns} is the pod's own");
    }
}

#[test]
fn net_host_keeps_the_callers_network() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("nethost");
    pod.write(&[PodApp::sh("net", "readlink /proc/self/ns/net")], &[]);
    let finished = pod.run(&["--net=host"]);
    assert_eq!(finished.code, 0, "{finished:?}");
    let host = fs::read_link("/proc/self/ns/net").expect("host ns");
    assert_eq!(finished.stdout.trim_end(), host.to_string_lossy());
}

#[test]
fn the_hostname_is_rkt_uuid_unless_given() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("hostname");
    pod.write(&[PodApp::sh("named", "hostname")], &[]);
    let finished = pod.run(&["--net=default"]);
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_eq!(finished.stdout, format!("rkt-{}\n", pod.uuid));
    let finished = pod.run(&["--net=default", "--hostname", "web.example"]);
    assert_eq!(finished.stdout, "web.example\n", "{finished:?}");
}

#[test]
fn loopback_is_up_in_a_private_network() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("loopback");
    // IFF_UP is bit 0 of the interface's flags.
    pod.write(
        &[PodApp::sh(
            "lo",
            "cat /sys/class/net/lo/flags; ls /sys/class/net",
        )],
        &[],
    );
    let finished = pod.run(&["--net=default"]);
    assert_eq!(finished.code, 0, "{finished:?}");
    let mut lines = finished.stdout.lines();
    let flags = lines.next().expect("lo's flags");
    let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).expect("hex flags");
    assert_eq!(flags & 1, 1, "lo is up: {finished:?}");
    assert_eq!(lines.collect::<Vec<_>>(), ["lo"], "loopback only");
}

#[test]
fn podinit_stage1_reaches_the_entrypoints_too() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("dispatch");
    let mut command = std::process::Command::new(podinit_tests::podinit());
    command.args(["stage1", "gc", "--local-config", "/etc/rkt", &pod.uuid]);
    command.current_dir(&pod.dir);
    let finished = podinit_tests::run(command);
    assert_eq!(finished.code, 0, "{finished:?}");
    let mut command = std::process::Command::new(podinit_tests::podinit());
    command.args(["stage1", "fly", &pod.uuid]);
    let finished = podinit_tests::run(command);
    assert_eq!(finished.code, 120, "{finished:?}");
}

#[test]
fn interactive_gives_the_app_the_callers_terminal() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("interactive");
    // Reading the terminal from a background group would stop the app
    // (SIGTTIN); Ctrl-C reaches the foreground group only.
    let script = "trap 'echo got INT; exit 3' INT; echo ready; read line; echo \"got $line\"; \
        while :; do sleep 1; done";
    pod.write(&[PodApp::sh("shell", script)], &[]);
    let (command, lock) = pod.run_command(&["--net=default", "--interactive"]);
    let mut run = podinit_tests::pty::PtyRun::start(command);
    drop(lock);
    let hop = std::time::Duration::from_secs(5);
    run.output.wait_for("ready", hop);
    run.type_keys(b"hello\n");
    run.output.wait_for("got hello", hop);
    run.type_keys(b"\x03");
    run.output.wait_for("got INT", hop);
    assert_eq!(run.wait_within(hop), 3);
    assert_eq!(pod.status("shell").as_deref(), Some("3\n"));
}

#[test]
fn interactive_needs_a_pod_of_one_app() {
    if !have_root() {
        return;
    }
    let pod = Stage1Pod::new("interactive-two");
    pod.write(&[PodApp::sh("a", "true"), PodApp::sh("b", "true")], &[]);
    let finished = pod.run(&["--interactive", "--net=default"]);
    assert_eq!(finished.code, 120, "{finished:?}");
    assert!(pod.pid_text().is_none());
}
