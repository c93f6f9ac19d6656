//! Signals to podinit: SIGTERM and SIGINT stop every app (SIGTERM, the
//! grace period, SIGKILL for those that ignore it); other signals, such as
//! SIGUSR1 and SIGHUP, are forwarded to every app.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use podinit_tests::pod::{App, GRACE, GRACE_MS, PodDir, TestCgroup, path_text};
use podinit_tests::{Run, have_root};

/// An app that notes each of USR1 and HUP in `out/<name>` and exits 0 on
/// SIGTERM; `out/<name>-ready` once its traps are set.
fn listener(pod: &PodDir, name: &str) -> App {
    let out = pod.out(name);
    let script = format!(
        "trap 'echo USR1 >> {out}' USR1; trap 'echo HUP >> {out}' HUP; \
         trap 'exit 0' TERM; touch {}; while :; do sleep 0.05; done",
        pod.out(&format!("{name}-ready"))
    );
    App::sh(name, &script)
}

/// An app that ignores SIGTERM (its `sleep` children die of it, it does
/// not): only SIGKILL ends it.
fn ignorer(pod: &PodDir, name: &str) -> App {
    let script = format!(
        "trap '' TERM; touch {}; while :; do sleep 0.05; done",
        pod.out(&format!("{name}-ready"))
    );
    App::sh(name, &script)
}

fn wait_ready(pod: &PodDir, names: &[&str]) {
    for name in names {
        pod.wait_out(&format!("{name}-ready"), Duration::from_secs(10));
    }
}

fn signal(run: &Run, signal: Signal) {
    kill(Pid::from_raw(run.init_pid()), signal).expect("signal podinit");
}

#[test]
fn usr1_and_hup_reach_every_app() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("forward");
    let cgroup = TestCgroup::new("forward");
    let names = ["one", "two", "three"];
    let apps: Vec<App> = names.iter().map(|name| listener(&pod, name)).collect();
    pod.write(&apps);
    let running = Run::start(pod.command(&cgroup, &["--grace", GRACE]));
    wait_ready(&pod, &names);
    signal(&running, Signal::SIGUSR1);
    for name in names {
        podinit_tests::pod::wait_until(Duration::from_secs(5), &format!("USR1 in {name}"), || {
            pod.read_out(name).contains("USR1")
        });
    }
    signal(&running, Signal::SIGHUP);
    for name in names {
        podinit_tests::pod::wait_until(Duration::from_secs(5), &format!("HUP in {name}"), || {
            pod.read_out(name).contains("HUP")
        });
    }
    signal(&running, Signal::SIGTERM);
    let finished = running.finish_within(Duration::from_secs(10));
    for name in names {
        assert_eq!(pod.read_out(name), "USR1\nHUP\n", "{name}: {finished:?}");
        assert_eq!(pod.status_code(name), 0, "{name} exited by its TERM trap");
    }
}

#[test]
fn sigterm_stops_every_app_and_kills_those_that_ignore_it_after_the_grace() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("stop-term");
    let cgroup = TestCgroup::new("stop-term");
    pod.write(&[
        listener(&pod, "obeys"),
        ignorer(&pod, "ignores"),
        App::new("plain", &["/bin/sleep", "30"]),
    ]);
    let running = Run::start(pod.command(&cgroup, &["--grace", GRACE]));
    wait_ready(&pod, &["obeys", "ignores"]);
    let start = Instant::now();
    signal(&running, Signal::SIGTERM);
    let finished = running.finish_within(Duration::from_secs(10));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(GRACE_MS),
        "podinit did not wait the grace period for the app that ignores SIGTERM: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}: {finished:?}");
    assert_eq!(pod.status_code("obeys"), 0);
    assert_eq!(pod.status_code("plain"), 143, "killed by SIGTERM");
    assert_eq!(pod.status_code("ignores"), 137, "killed by SIGKILL");
    assert_eq!(finished.code, 0, "stopped from outside: {finished:?}");
    assert_eq!(finished.killed_by, None, "{finished:?}");
}

#[test]
fn sigint_stops_the_pod_too() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("stop-int");
    let cgroup = TestCgroup::new("stop-int");
    pod.write(&[listener(&pod, "obeys")]);
    let running = Run::start(pod.command(&cgroup, &["--grace", "10s"]));
    wait_ready(&pod, &["obeys"]);
    signal(&running, Signal::SIGINT);
    let finished = running.finish_within(Duration::from_secs(5));
    assert_eq!(pod.status_code("obeys"), 0, "{finished:?}");
    assert_eq!(pod.read_out("obeys"), "", "SIGINT is not forwarded as such");
}

#[test]
fn under_main_a_stopped_pod_exits_with_the_main_apps_status() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("stop-main");
    let cgroup = TestCgroup::new("stop-main");
    pod.write(&[ignorer(&pod, "web"), listener(&pod, "side")]);
    let args = ["--grace", GRACE, "--exit-policy", "main=web"];
    let running = Run::start(pod.command(&cgroup, &args));
    wait_ready(&pod, &["web", "side"]);
    signal(&running, Signal::SIGTERM);
    let finished = running.finish_within(Duration::from_secs(10));
    assert_eq!(finished.code, 137, "web was SIGKILLed: {finished:?}");
    assert_eq!(pod.status_code("web"), 137);
}

/// Regression: a `main=` pod stopped while its main app was still in its
/// pre-start handler exited 0, and the app had no record.
#[test]
fn term_before_the_main_app_started_gives_its_never_started_status() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("term-before-main");
    let cgroup = TestCgroup::new("term-before-main");
    let ready = pod.out("web-pre-start");
    let web = App::sh("web", "exit 0").pre_start(&[
        "/bin/sh",
        "-c",
        &format!("touch {ready}; while :; do sleep 0.05; done"),
    ]);
    pod.write(&[web, ignorer(&pod, "sidecar")]);
    let running =
        Run::start(pod.command(&cgroup, &["--grace", GRACE, "--exit-policy", "main=web"]));
    pod.wait_out("web-pre-start", Duration::from_secs(10));
    wait_ready(&pod, &["sidecar"]);
    signal(&running, Signal::SIGTERM);
    let finished = running.finish_within(Duration::from_secs(10));
    assert_eq!(finished.code, 143, "{finished:?}");
    assert_eq!(pod.status_code("web"), 143);
    let record = pod.record("web").expect("web's JSON record");
    assert!(
        record.contains("stopped before the app started"),
        "{record}"
    );
    assert_eq!(pod.status_code("sidecar"), 137, "sidecar ignores TERM");
}

/// Regression: an app joins its cgroup itself, just before exec, 10 to 16
/// ms after the fork on some kernels; a SIGTERM in that window found the
/// cgroup empty, reached nobody, and the app was killed after the grace.
/// An app that cannot start right after another stops the pod in it.
#[test]
fn a_stop_right_after_an_app_started_reaches_it() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("stop-at-start");
    pod.write(&[
        App::new("sleeper", &["/bin/sleep", "30"]),
        App::new("bad-user", &["/bin/true"]).user(Some("no-such-user-here")),
    ]);
    // In podinit's own cgroup, where the join takes its time, not in a
    // test cgroup of its own.
    let (manifest, status_dir) = (path_text(&pod.manifest()), path_text(&pod.status_dir()));
    let args = [
        "--grace",
        "5s",
        "--pod",
        &manifest,
        "--status-dir",
        &status_dir,
    ];
    let start = Instant::now();
    let finished = podinit_tests::run(podinit_tests::as_pid1(&args));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "the app waited for the grace: {finished:?}"
    );
    assert_eq!(finished.code, 125, "{finished:?}");
    assert_eq!(pod.status_code("sleeper"), 143, "{finished:?}");
}
