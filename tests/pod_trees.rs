//! Each app is its whole process tree: when its main process exits, or the
//! app is stopped, everything it started (also in another process group or
//! session, stopped, or re-parented to podinit) gets SIGTERM, the grace
//! period, then SIGKILL; its post-stop handler runs only once they are
//! gone; no other app is touched, and no cgroup is left behind.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use podinit_tests::pod::{
    App, GRACE, GRACE_MS, PodDir, TestCgroup, processes_in_namespace_of, wait_until,
};
use podinit_tests::{Run, as_pid1, assert_every_role, have_root, run, workload_arg};

/// How the kernel names the workload in /proc/<pid>/comm (15 bytes).
const WORKLOAD_COMM: &str = "podinit-workloa";

/// An app that writes `out/<name>` on SIGTERM and exits 0; `out/<name>-ready`
/// once its trap is set.
fn bystander(pod: &PodDir, name: &str) -> App {
    let script = format!(
        "trap 'echo TERM >> {}; exit 0' TERM; touch {}; while :; do sleep 0.05; done",
        pod.out(name),
        pod.out(&format!("{name}-ready"))
    );
    App::sh(name, &script)
}

/// An app whose main process exits 0 leaving the workload's five
/// leftovers (`mode`: obey or resist), with a post-stop handler that
/// writes `out/<name>-post`.
fn leaver(pod: &PodDir, name: &str, mode: &str) -> App {
    let post = format!("touch {}", pod.out(&format!("{name}-post")));
    App::new(name, &[&workload_arg(), "leave", mode, "0"]).post_stop(&["/bin/sh", "-c", &post])
}

fn workloads_in(init: i32) -> Vec<(i32, String)> {
    let all = processes_in_namespace_of(init);
    all.into_iter()
        .filter(|(_, comm)| comm == WORKLOAD_COMM)
        .collect()
}

#[test]
fn leftovers_of_an_exited_app_are_killed_after_the_grace_and_others_are_spared() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("tree-resist");
    let cgroup = TestCgroup::new("tree-resist");
    pod.write(&[
        bystander(&pod, "bystander"),
        leaver(&pod, "leaver", "resist"),
    ]);
    let running = Run::start(pod.command(&cgroup, &["--grace", GRACE]));
    pod.wait_out("bystander-ready", Duration::from_secs(10));
    wait_until(Duration::from_secs(10), "leaver's record", || {
        pod.status("leaver").is_some()
    });
    let exited = Instant::now();
    pod.wait_out("leaver-post", Duration::from_secs(10));
    let drained_after = exited.elapsed();
    let init = running.init_pid();
    let left = workloads_in(init);
    let bystander_saw = pod.read_out("bystander");
    kill(Pid::from_raw(init), Signal::SIGTERM).expect("stop the pod");
    let finished = running.finish_within(Duration::from_secs(10));

    assert_every_role(&finished, "term");
    assert!(
        drained_after >= Duration::from_millis(GRACE_MS - 50),
        "post-stop ran {drained_after:?} after the exit, before the grace was over"
    );
    assert_eq!(
        left,
        [],
        "leftovers outlived the grace period: {finished:?}"
    );
    assert_eq!(bystander_saw, "", "another app got SIGTERM: {finished:?}");
    assert_eq!(pod.status_code("leaver"), 0);
    assert_eq!(pod.status_code("bystander"), 0);
}

#[test]
fn post_stop_waits_for_leftovers_that_take_their_time_but_not_the_grace() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("tree-obey");
    let cgroup = TestCgroup::new("tree-obey");
    pod.write(&[leaver(&pod, "leaver", "obey")]);
    let start = Instant::now();
    let finished = run(pod.command(&cgroup, &["--grace", "20s"]));
    assert_eq!(finished.code, 0, "{finished:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "podinit waited for the grace period although the leftovers stopped"
    );
    assert_every_role(&finished, "term");
    // Each says `gone` 150 ms after SIGTERM: the post-stop handler ran
    // after that, or the kernel would have killed them with the pod.
    assert_every_role(&finished, "gone");
    assert!(
        pod.dir.join("out/leaver-post").exists(),
        "post-stop did not run: {finished:?}"
    );
}

#[test]
fn a_stopped_app_takes_its_whole_tree_with_it() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("tree-stopped");
    let cgroup = TestCgroup::new("tree-stopped");
    let ready = pod.out("holder-ready");
    let post = format!("touch {}", pod.out("holder-post"));
    let script = format!(
        "{} leave resist 0; touch {ready}; exec sleep 30",
        workload_arg()
    );
    let holder = App::sh("holder", &script).post_stop(&["/bin/sh", "-c", &post]);
    pod.write(&[holder]);
    let running = Run::start(pod.command(&cgroup, &["--grace", GRACE]));
    pod.wait_out("holder-ready", Duration::from_secs(10));
    let start = Instant::now();
    kill(Pid::from_raw(running.init_pid()), Signal::SIGTERM).expect("stop the pod");
    let finished = running.finish_within(Duration::from_secs(10));
    assert!(
        start.elapsed() >= Duration::from_millis(GRACE_MS),
        "podinit ended before the grace although leftovers ignored SIGTERM"
    );
    assert_every_role(&finished, "term");
    assert!(
        pod.dir.join("out/holder-post").exists(),
        "post-stop did not run: {finished:?}"
    );
    assert_eq!(pod.status_code("holder"), 143);
}

#[test]
fn no_cgroup_is_left_behind() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("tree-cgroups");
    let cgroup = TestCgroup::new("tree-cgroups");
    if cgroup.dir.is_none() {
        eprintln!("skipped: no writable cgroup v2");
        return;
    }
    pod.write(&[
        leaver(&pod, "leaver", "resist"),
        App::sh("failing", "sleep 0.5; exit 1"),
        App::new("missing", &["/nonexistent"]),
    ]);
    let finished = run(pod.command(
        &cgroup,
        &["--grace", GRACE, "--exit-policy", "main=failing"],
    ));
    assert_eq!(finished.code, 1, "{finished:?}");
    assert_eq!(cgroup.children(), Vec::<String>::new(), "{finished:?}");
}

/// Regression: every podinit is PID 1 of its pod, so cgroups named after
/// the pid alone were shared by pods running side by side in one cgroup,
/// and one pod's SIGKILL reached the other's app of the same name.
#[test]
fn pods_side_by_side_in_one_cgroup_leave_each_other_alone() {
    if !have_root() {
        return;
    }
    let quiet = PodDir::new("tree-side-quiet");
    let rough = PodDir::new("tree-side-rough");
    quiet.write(&[App::sh("web", "sleep 1.5; exit 0")]);
    rough.write(&[
        App::sh("web", "trap '' TERM; while :; do sleep 0.05; done"),
        App::sh("quit", "sleep 0.3; exit 1"),
    ]);
    let command = |pod: &PodDir| {
        let status = pod.status_dir();
        let manifest = pod.manifest();
        let args = [
            "--grace",
            GRACE,
            "--pod",
            manifest.to_str().expect("utf-8"),
            "--status-dir",
            status.to_str().expect("utf-8"),
        ];
        as_pid1(&args)
    };
    let quiet_run = Run::start(command(&quiet));
    let rough_finished = run(command(&rough));
    let quiet_finished = quiet_run.finish_within(Duration::from_secs(10));
    assert_eq!(rough_finished.code, 1, "{rough_finished:?}");
    assert_eq!(rough.status_code("web"), 137);
    assert_eq!(quiet_finished.code, 0, "{quiet_finished:?}");
    assert_eq!(
        quiet.status_code("web"),
        0,
        "the other pod's SIGKILL hit it"
    );
}

#[test]
fn without_cgroup_v2_the_process_group_stands_in_for_the_tree() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("tree-no-cgroup");
    let cgroup = TestCgroup::new("tree-no-cgroup");
    // Hide cgroup v2 from this mount namespace (it may be mounted twice).
    let setup = "grep -w cgroup2 /proc/self/mounts | while read -r _ dir _; do \
                 umount -l \"$dir\" || exit 97; done";
    pod.write(&[leaver(&pod, "leaver", "resist")]);
    let start = Instant::now();
    let finished = run(pod.command_after(&cgroup, setup, &["--grace", GRACE]));
    assert_eq!(finished.code, 0, "{finished:?}");
    // The leftovers still in the app's group are stopped with the app;
    // those that left it are stopped when the pod ends: all got SIGTERM,
    // and podinit did not leave before the grace had run out for them.
    assert_every_role(&finished, "term");
    assert!(
        start.elapsed() >= Duration::from_millis(GRACE_MS),
        "{finished:?}"
    );
    assert!(pod.dir.join("out/leaver-post").exists(), "{finished:?}");
}
