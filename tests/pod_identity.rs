//! Who an app runs as: `user` and `group` as a name of the root's
//! `/etc/passwd` and `/etc/group`, a number, or the owner of a path;
//! `supplementaryGIDs` exactly as given; group 0 when none is named. Read
//! from /proc/self/status inside the app.

use std::os::unix::fs::chown;

use podinit_tests::pod::{App, GRACE, PodDir, TestCgroup, path_text};
use podinit_tests::{have_root, run};

/// The Uid, Gid and Groups lines the app `app` sees, as `uid gid groups`
/// with the real ids (first column), groups space-separated.
fn identity_of(tag: &str, app: App) -> String {
    let pod = PodDir::new(tag);
    let cgroup = TestCgroup::new(tag);
    pod.write(&[app]);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(finished.code, 0, "{tag}: {finished:?}");
    identity_in(&finished.stdout)
}

/// `uid gid [groups]` from the text of /proc/self/status.
fn identity_in(status: &str) -> String {
    let line = |key: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {status:?}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first = |text: String| text.split(' ').next().unwrap_or_default().to_owned();
    let groups = line("Groups:");
    format!("{} {} [{groups}]", first(line("Uid:")), first(line("Gid:")))
}

fn status_app(name: &str) -> App {
    App::new(name, &["/bin/cat", "/proc/self/status"])
}

#[test]
fn names_resolve_in_the_roots_passwd_and_group() {
    if !have_root() {
        return;
    }
    let app = status_app("names")
        .user(Some("nobody"))
        .group(Some("nogroup"));
    assert_eq!(identity_of("id-names", app), "65534 65534 []");
}

#[test]
fn numbers_are_used_as_given() {
    if !have_root() {
        return;
    }
    let app = status_app("numbers").user(Some("4321")).group(Some("8765"));
    assert_eq!(identity_of("id-numbers", app), "4321 8765 []");
}

#[test]
fn supplementary_gids_are_exactly_the_manifests() {
    if !have_root() {
        return;
    }
    let app = status_app("groups")
        .user(Some("nobody"))
        .group(Some("nogroup"))
        .supplementary_gids(&[400, 500, 7]);
    let identity = identity_of("id-groups", app);
    let groups = identity.split_once('[').map(|(_, g)| g).unwrap_or_default();
    let mut seen: Vec<&str> = groups.trim_end_matches(']').split(' ').collect();
    seen.sort();
    assert_eq!(seen, ["400", "500", "7"], "{identity}");
    assert!(identity.starts_with("65534 65534 "), "{identity}");
}

#[test]
fn a_path_means_the_owner_of_that_path() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("id-path-owner");
    let owned = pod.dir.join("owned");
    std::fs::write(&owned, "").expect("create a file");
    chown(&owned, Some(2345), Some(3456)).expect("chown");
    let owned = path_text(&owned);
    let app = status_app("owner").user(Some(&owned)).group(Some(&owned));
    assert_eq!(identity_of("id-path", app), "2345 3456 []");
}

#[test]
fn without_a_group_the_app_runs_with_group_0_and_no_supplementary_group() {
    if !have_root() {
        return;
    }
    // nobody's own group is 65534: it is not taken from /etc/passwd.
    let app = status_app("nogroup").user(Some("nobody")).group(None);
    assert_eq!(identity_of("id-default-group", app), "65534 0 []");
}

#[test]
fn without_user_and_group_the_app_runs_as_root() {
    if !have_root() {
        return;
    }
    let app = status_app("root").user(None).group(None);
    assert_eq!(identity_of("id-root", app), "0 0 []");
}

#[test]
fn handlers_run_as_the_app_user() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("id-handlers");
    let cgroup = TestCgroup::new("id-handlers");
    let pre = format!("id -u > {}", pod.out("pre"));
    let post = format!("id -u > {}", pod.out("post"));
    let app = App::new("handled", &["/bin/true"])
        .user(Some("1234"))
        .group(Some("1234"))
        .pre_start(&["/bin/sh", "-c", &pre])
        .post_stop(&["/bin/sh", "-c", &post]);
    pod.write(&[app]);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_eq!(pod.read_out("pre"), "1234\n", "pre-start: {finished:?}");
    assert_eq!(pod.read_out("post"), "1234\n", "post-stop: {finished:?}");
}
