//! What an app finds around it: exactly its manifest environment plus
//! `AC_APP_NAME` (and the appc `PATH` when it sets none), nothing of
//! podinit's own; its working directory (`/` by default); and no
//! descriptor but 0, 1 and 2.

use podinit_tests::pod::{App, GRACE, PodDir, TestCgroup};
use podinit_tests::{Finished, have_root, run};

/// The appc default `PATH` (stage1 contract, section 6).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs the one app `app` with `LEAKED=yes` in podinit's environment.
fn run_one(tag: &str, app: App) -> Finished {
    run_one_after(tag, app, "")
}

fn run_one_after(tag: &str, app: App, setup: &str) -> Finished {
    let pod = PodDir::new(tag);
    let cgroup = TestCgroup::new(tag);
    pod.write(&[app]);
    let mut command = pod.command_after(&cgroup, setup, &["--grace", GRACE]);
    command.env("LEAKED", "yes").env("PODINIT_LOG", "warn");
    let finished = run(command);
    assert_eq!(finished.code, 0, "{tag}: {finished:?}");
    finished
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    lines
}

#[test]
fn the_environment_is_the_manifests_plus_ac_app_name_and_the_default_path() {
    if !have_root() {
        return;
    }
    let app = App::new("printenv", &["/usr/bin/env"])
        .env("GREETING", "hello world")
        .env("EMPTY", "");
    let finished = run_one("env-exact", app);
    let path = format!("PATH={DEFAULT_PATH}");
    assert_eq!(
        sorted_lines(&finished.stdout),
        sorted_lines(&format!(
            "GREETING=hello world\nEMPTY=\nAC_APP_NAME=printenv\n{path}\n"
        )),
        "{finished:?}"
    );
}

#[test]
fn an_app_path_replaces_the_default_and_is_searched() {
    if !have_root() {
        return;
    }
    // `env` is a bare name: found through the app's own PATH.
    let app = App::new("ownpath", &["env"]).env("PATH", "/nonexistent:/usr/bin");
    let finished = run_one("env-own-path", app);
    assert_eq!(
        sorted_lines(&finished.stdout),
        ["AC_APP_NAME=ownpath", "PATH=/nonexistent:/usr/bin"],
        "{finished:?}"
    );
}

#[test]
fn a_bare_program_is_searched_in_the_default_path() {
    if !have_root() {
        return;
    }
    let finished = run_one("env-bare", App::new("bare", &["env"]));
    assert!(
        finished.stdout.lines().any(|l| l == "AC_APP_NAME=bare"),
        "{finished:?}"
    );
}

#[test]
fn the_manifest_cannot_rename_the_app() {
    if !have_root() {
        return;
    }
    let app = App::new("truename", &["/usr/bin/env"]).env("AC_APP_NAME", "impostor");
    let finished = run_one("env-name", app);
    let names: Vec<&str> = finished
        .stdout
        .lines()
        .filter(|l| l.starts_with("AC_APP_NAME="))
        .collect();
    assert_eq!(names, ["AC_APP_NAME=truename"], "{finished:?}");
}

#[test]
fn the_working_directory_is_root_by_default() {
    if !have_root() {
        return;
    }
    let finished = run_one("cwd-default", App::new("cwd", &["/bin/pwd"]));
    assert_eq!(finished.stdout, "/\n", "{finished:?}");
}

#[test]
fn the_working_directory_is_the_manifests() {
    if !have_root() {
        return;
    }
    let app = App::new("cwd", &["/bin/pwd"])
        .working_directory("/usr/share")
        .user(Some("nobody"));
    let finished = run_one("cwd-given", app);
    assert_eq!(finished.stdout, "/usr/share\n", "{finished:?}");
}

/// Lists the app's descriptors into `out`: `ls` itself opens one on its
/// /proc/self/fd, which [`descriptors`] leaves out.
fn list_fds_into(out: &str) -> String {
    format!("exec ls -l /proc/self/fd > {out}")
}

/// The descriptor numbers of an `ls -l /proc/self/fd` listing, but the
/// one `ls` reads the directory with.
fn descriptors(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|line| line.split_once(" -> "))
        .filter(|(_, target)| !(target.starts_with("/proc/") && target.ends_with("/fd")))
        .filter_map(|(left, _)| left.rsplit(' ').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_descriptor_of_podinit_reaches_an_app() {
    if !have_root() {
        return;
    }
    // Descriptors 5 and 7 are open when podinit starts, as a launcher's
    // leaked ones would be; podinit's own (signalfd, status directory,
    // report pipes) come on top.
    let setup = "exec 5</dev/null 7>/dev/null";
    let app = App::new("fds", &["/bin/ls", "-l", "/proc/self/fd"]);
    let finished = run_one_after("fds", app, setup);
    assert_eq!(
        descriptors(&finished.stdout),
        ["0", "1", "2"],
        "{finished:?}"
    );
}

#[test]
fn no_descriptor_reaches_handlers_or_later_apps() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("fds-many");
    let cgroup = TestCgroup::new("fds-many");
    let list = |name: &str| list_fds_into(&pod.out(name));
    let apps = [
        App::sh("first", &format!("sleep 0.2; {}", list("first")))
            .pre_start(&["/bin/sh", "-c", &list("first-pre")])
            .post_stop(&["/bin/sh", "-c", &list("first-post")]),
        App::sh("second", &format!("sleep 0.3; {}", list("second"))),
    ];
    pod.write(&apps);
    let finished = run(pod.command_after(&cgroup, "exec 9</dev/null", &["--grace", GRACE]));
    assert_eq!(finished.code, 0, "{finished:?}");
    for name in ["first-pre", "first", "first-post", "second"] {
        let listing = pod.read_out(name);
        assert_eq!(
            descriptors(&listing),
            ["0", "1", "2"],
            "{name}: {listing}\n{finished:?}"
        );
    }
}
