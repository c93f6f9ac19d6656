//! What is refused before any app starts: a bad manifest exits 121 with
//! one line `podinit: <file>: <path> <value>: <rule>`; a status directory
//! that cannot be written, or `main=` naming no app, exits 122. And what
//! is accepted: the manifests rkt wrote (supervisor/tests/fixtures).

use std::fs;
use std::path::Path;

use podinit_tests::pod::{App, GRACE, PodDir, TestCgroup, manifest, path_text};
use podinit_tests::{Finished, have_root, root, run};

/// An app that leaves `out/started` if it ever runs.
fn marker(pod: &PodDir, name: &str) -> App {
    App::sh(name, &format!("touch {}", pod.out("started")))
}

/// Runs the pod whose manifest is already written; asserts that it exits
/// with `code`, writing only `line` on stderr, and that nothing started.
fn assert_refused(pod: &PodDir, tag: &str, args: &[&str], code: i32, line: &str) -> Finished {
    let cgroup = TestCgroup::new(tag);
    let mut all_args = vec!["--grace", GRACE];
    all_args.extend_from_slice(args);
    let finished = run(pod.command(&cgroup, &all_args));
    assert_eq!(finished.code, code, "{tag}: {finished:?}");
    assert_eq!(finished.stderr, format!("{line}\n"), "{tag}");
    assert_eq!(finished.stdout, "", "{tag}");
    assert!(!pod.dir.join("out/started").exists(), "{tag}: an app ran");
    let records: Vec<String> = pod
        .status_names()
        .into_iter()
        .filter(|name| !name.starts_with('.'))
        .collect();
    assert_eq!(records, Vec::<String>::new(), "{tag}: records written");
    finished
}

/// Asserts that the manifest of `apps` is refused with `rule_text`, the
/// message after `podinit: <file>: `.
fn assert_manifest_refused(tag: &str, apps: impl FnOnce(&PodDir) -> Vec<App>, rule_text: &str) {
    let pod = PodDir::new(tag);
    let apps = apps(&pod);
    pod.write(&apps);
    let line = format!("podinit: {}: {rule_text}", path_text(&pod.manifest()));
    assert_refused(&pod, tag, &[], 121, &line);
}

#[test]
fn an_app_name_that_is_not_an_ac_name() {
    if !have_root() {
        return;
    }
    assert_manifest_refused(
        "reject-name",
        |pod| vec![marker(pod, "ok"), marker(pod, "Web_1")],
        r#"apps[1].name "Web_1": must be lowercase letters, digits and single dashes"#,
    );
}

#[test]
fn an_app_name_given_twice() {
    if !have_root() {
        return;
    }
    assert_manifest_refused(
        "reject-duplicate",
        |pod| vec![marker(pod, "web"), marker(pod, "web")],
        r#"apps[1].name "web": duplicates apps[0].name"#,
    );
}

#[test]
fn a_relative_program() {
    if !have_root() {
        return;
    }
    assert_manifest_refused(
        "reject-program",
        |pod| vec![marker(pod, "ok"), App::new("rel", &["bin/sh"])],
        r#"apps[1].app.exec[0] "bin/sh": must be an absolute path or a bare program name"#,
    );
}

#[test]
fn a_working_directory_that_climbs_out() {
    if !have_root() {
        return;
    }
    assert_manifest_refused(
        "reject-workdir",
        |pod| vec![marker(pod, "up").working_directory("/tmp/../etc")],
        r#"apps[0].app.workingDirectory "/tmp/../etc": must not have a ".." component"#,
    );
}

#[test]
fn an_environment_name_that_is_not_one() {
    if !have_root() {
        return;
    }
    assert_manifest_refused(
        "reject-env",
        |pod| vec![marker(pod, "env").env("GOOD", "1").env("1BAD", "x")],
        "apps[0].app.environment[1].name \"1BAD\": must start with a letter or '_' and hold \
         only letters, digits, '_', '.' and '-'",
    );
}

#[test]
fn an_empty_user() {
    if !have_root() {
        return;
    }
    assert_manifest_refused(
        "reject-user",
        |pod| vec![marker(pod, "nouser").user(Some(""))],
        r#"apps[0].app.user "": must not be empty"#,
    );
}

#[test]
fn an_unknown_event_handler() {
    if !have_root() {
        return;
    }
    let tag = "reject-handler";
    let pod = PodDir::new(tag);
    let app = marker(&pod, "handled")
        .post_stop(&["/bin/true"])
        .pre_start(&["/bin/true"]);
    pod.write_text(&manifest(&[app]).replace("\"pre-start\"", "\"on-start\""));
    let line = format!(
        "podinit: {}: apps[0].app.eventHandlers[1].name \"on-start\": \
         must be \"pre-start\" or \"post-stop\"",
        path_text(&pod.manifest())
    );
    assert_refused(&pod, tag, &[], 121, &line);
}

#[test]
fn an_unknown_capability() {
    if !have_root() {
        return;
    }
    assert_manifest_refused(
        "reject-capability",
        |pod| {
            let set = r#"{"set":["CAP_CHOWN","CAP_FLY"]}"#;
            vec![marker(pod, "caps").isolator("os/linux/capabilities-retain-set", set)]
        },
        r#"apps[0].app.isolators[0].value.set[1] "CAP_FLY": is not a linux capability"#,
    );
}

/// Writes `text` as the manifest and checks the refusal `rule_text`.
fn assert_text_refused(tag: &str, text: &str, rule_text: &str) {
    let pod = PodDir::new(tag);
    pod.write_text(text);
    let line = format!("podinit: {}: {rule_text}", path_text(&pod.manifest()));
    assert_refused(&pod, tag, &[], 121, &line);
}

#[test]
fn a_manifest_of_another_kind() {
    if !have_root() {
        return;
    }
    assert_text_refused(
        "reject-kind",
        r#"{"acVersion":"1.30.0","acKind":"ImageManifest","apps":[]}"#,
        r#"acKind "ImageManifest": must be "PodManifest""#,
    );
}

#[test]
fn text_that_is_not_json() {
    if !have_root() {
        return;
    }
    assert_text_refused(
        "reject-syntax",
        r#"{"acKind": "PodManifest","#,
        "invalid json at line 1 column 25: EOF while parsing a value",
    );
}

#[test]
fn a_manifest_that_cannot_be_read() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("reject-missing");
    let line = format!(
        "podinit: {}: failed to read: No such file or directory (os error 2)",
        path_text(&pod.manifest())
    );
    assert_refused(&pod, "reject-missing", &[], 121, &line);
}

#[test]
fn main_naming_no_app_is_refused_with_122() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("reject-main");
    pod.write(&[marker(&pod, "web")]);
    let line = "podinit: --exit-policy main=db: no such app in the pod";
    assert_refused(
        &pod,
        "reject-main",
        &["--exit-policy", "main=db"],
        122,
        line,
    );
}

#[test]
fn an_app_without_an_app_object_is_refused_with_122() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("reject-no-app");
    let text = format!(
        "{{\"acVersion\":\"1.30.0\",\"acKind\":\"PodManifest\",\"apps\":[{},\
         {{\"name\":\"bare\",\"image\":{{\"name\":\"example.com/bare\"}}}}]}}",
        marker(&pod, "web").json()
    );
    pod.write_text(&text);
    let line = "podinit: app bare: the manifest gives no \"app\" object to run";
    assert_refused(&pod, "reject-no-app", &[], 122, line);
}

/// Mounts a read-only tmpfs on `dir` in the pod's mount namespace.
fn read_only(dir: &Path) -> String {
    format!("mount -t tmpfs -o ro tmpfs {} || exit 96", path_text(dir))
}

/// Runs the pod of one marker app after `setup`; asserts the refusal with
/// 122, a message starting `podinit: ` and naming `dir`.
fn assert_status_dir_refused(pod: &PodDir, tag: &str, setup: &str, dir: &Path) {
    pod.write(&[marker(pod, "web")]);
    let cgroup = TestCgroup::new(tag);
    let finished = run(pod.command_after(&cgroup, setup, &["--grace", GRACE]));
    assert_eq!(finished.code, 122, "{tag}: {finished:?}");
    let lines = finished.stderr_lines();
    assert_eq!(lines.len(), 1, "{tag}: one line: {finished:?}");
    assert!(
        lines[0].starts_with("podinit: ") && lines[0].contains(&path_text(dir)),
        "{tag}: the message names {}: {finished:?}",
        dir.display()
    );
    assert!(!pod.dir.join("out/started").exists(), "{tag}: an app ran");
}

#[test]
fn a_read_only_status_dir_is_refused_with_122() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("reject-ro-status");
    let status = pod.status_dir();
    fs::create_dir(&status).expect("create status/");
    assert_status_dir_refused(&pod, "reject-ro-status", &read_only(&status), &status);
}

#[test]
fn a_status_dir_that_cannot_be_created_is_refused_with_122() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("reject-ro-parent");
    let parent = pod.dir.join("ro");
    fs::create_dir(&parent).expect("create ro/");
    let cgroup = TestCgroup::new("reject-ro-parent");
    pod.write(&[marker(&pod, "web")]);
    let status = parent.join("status");
    let mut command = podinit_tests::pod::podinit_in(&cgroup, &read_only(&parent));
    command
        .arg("--pod")
        .arg(pod.manifest())
        .arg("--status-dir")
        .arg(&status);
    let finished = run(command);
    assert_eq!(finished.code, 122, "{finished:?}");
    assert!(
        finished.stderr.contains(&path_text(&status)),
        "{finished:?}"
    );
    assert!(!pod.dir.join("out/started").exists(), "an app ran");
}

#[test]
fn a_status_path_that_is_a_file_is_refused_with_122() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("reject-status-file");
    let status = pod.status_dir();
    fs::write(&status, "").expect("a file where the directory belongs");
    assert_status_dir_refused(&pod, "reject-status-file", "", &status);
}

/// The manifests rkt 1.30 wrote. Their apps name busybox-image users
/// (alice, staff) that the host may lack: such an app fails to start,
/// which is not a refusal of the manifest.
#[test]
fn the_fixtures_written_by_rkt_are_accepted() {
    if !have_root() {
        return;
    }
    let fixtures = root().join("supervisor/tests/fixtures");
    let mut seen = 0;
    for entry in fs::read_dir(&fixtures).expect("read the fixtures") {
        let path = entry.expect("a fixture").path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        seen += 1;
        let name = path_text(&path);
        let pod = PodDir::new(&format!("fixture-{seen}"));
        fs::copy(&path, pod.manifest()).expect("copy the fixture");
        let cgroup = TestCgroup::new(&format!("fixture-{seen}"));
        let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
        assert_ne!(finished.code, 121, "{name} refused: {finished:?}");
        assert_ne!(finished.code, 122, "{name} could not start: {finished:?}");
        assert!(
            !pod.status_names().is_empty(),
            "{name}: no app was recorded: {finished:?}"
        );
    }
    assert!(seen >= 2, "found {seen} fixtures in {}", fixtures.display());
}
