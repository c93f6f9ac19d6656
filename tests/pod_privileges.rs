//! Capabilities and no_new_privs as the app reads them in
//! /proc/self/status: the appc default set unless an isolator retains or
//! removes some, for root and for other users alike (through the ambient
//! set), and NoNewPrivs only when asked.

use podinit_tests::pod::{App, GRACE, PodDir, TestCgroup};
use podinit_tests::{have_root, run};

/// Bits of the appc default set: AUDIT_WRITE CHOWN DAC_OVERRIDE FSETID
/// FOWNER KILL MKNOD NET_RAW NET_BIND_SERVICE SETUID SETGID SETPCAP
/// SETFCAP SYS_CHROOT.
const APPC_DEFAULT: u64 = 0xa804_25fb;
const CAP_NET_RAW: u64 = 1 << 13;
const CAP_MKNOD: u64 = 1 << 27;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;
const CAP_SYS_ADMIN: u64 = 1 << 21;

/// The capability sets and NoNewPrivs an app sees.
#[derive(Debug, PartialEq)]
struct Seen {
    inheritable: u64,
    permitted: u64,
    effective: u64,
    bounding: u64,
    ambient: u64,
    no_new_privs: bool,
}

fn parse(status: &str) -> Seen {
    let value = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {status:?}"))
            .trim()
            .to_owned()
    };
    let hex = |key: &str| u64::from_str_radix(&value(key), 16).expect("hex capabilities");
    Seen {
        inheritable: hex("CapInh:"),
        permitted: hex("CapPrm:"),
        effective: hex("CapEff:"),
        bounding: hex("CapBnd:"),
        ambient: hex("CapAmb:"),
        no_new_privs: value("NoNewPrivs:") == "1",
    }
}

/// What the test itself may grant: podinit cannot give more than its
/// own bounding set holds.
fn ours() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read own status");
    parse(&status).bounding
}

/// What the one app `app` (reading its /proc/self/status) sees.
fn seen_by(tag: &str, app: App) -> Seen {
    let pod = PodDir::new(tag);
    let cgroup = TestCgroup::new(tag);
    pod.write(&[app]);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(finished.code, 0, "{tag}: {finished:?}");
    parse(&finished.stdout)
}

fn status_app(user: &str) -> App {
    App::new("caps", &["/bin/cat", "/proc/self/status"])
        .user(Some(user))
        .group(Some(user))
}

/// The same set in all five: what the app was granted.
fn granted(set: u64) -> Seen {
    Seen {
        inheritable: set,
        permitted: set,
        effective: set,
        bounding: set,
        ambient: set,
        no_new_privs: false,
    }
}

#[test]
fn root_apps_get_the_appc_default_set() {
    if !have_root() {
        return;
    }
    let seen = seen_by("caps-default", status_app("0"));
    assert_eq!(seen, granted(APPC_DEFAULT & ours()));
}

#[test]
fn other_users_get_the_same_set_through_the_ambient_set() {
    if !have_root() {
        return;
    }
    let seen = seen_by("caps-nobody", status_app("65534"));
    assert_eq!(seen, granted(APPC_DEFAULT & ours()));
}

#[test]
fn a_retain_set_replaces_the_default() {
    if !have_root() {
        return;
    }
    let app = status_app("0").isolator(
        "os/linux/capabilities-retain-set",
        r#"{"set":["CAP_NET_BIND_SERVICE","CAP_SYS_ADMIN"]}"#,
    );
    let seen = seen_by("caps-retain", app);
    assert_eq!(
        seen,
        granted((CAP_NET_BIND_SERVICE | CAP_SYS_ADMIN) & ours())
    );
}

/// Regression: the app's first process must join its cgroup while it is
/// still root with every capability, not after dropping to its user.
#[test]
fn a_non_root_app_without_dac_override_starts_with_its_retain_set() {
    if !have_root() {
        return;
    }
    let app = status_app("1000").isolator(
        "os/linux/capabilities-retain-set",
        r#"{"set":["CAP_NET_BIND_SERVICE"]}"#,
    );
    let seen = seen_by("caps-retain-user", app);
    assert_eq!(seen, granted(CAP_NET_BIND_SERVICE & ours()));
}

#[test]
fn a_remove_set_removes_from_the_default() {
    if !have_root() {
        return;
    }
    let app = status_app("0").isolator(
        "os/linux/capabilities-remove-set",
        r#"{"set":["CAP_NET_RAW","CAP_MKNOD"]}"#,
    );
    let seen = seen_by("caps-remove", app);
    assert_eq!(
        seen,
        granted(APPC_DEFAULT & !CAP_NET_RAW & !CAP_MKNOD & ours())
    );
}

#[test]
fn an_empty_retain_set_leaves_no_capability() {
    if !have_root() {
        return;
    }
    let app = status_app("0").isolator("os/linux/capabilities-retain-set", r#"{"set":[]}"#);
    assert_eq!(seen_by("caps-none", app), granted(0));
}

#[test]
fn no_new_privileges_is_set_only_when_asked() {
    if !have_root() {
        return;
    }
    let asked = status_app("0").isolator("os/linux/no-new-privileges", "true");
    assert!(seen_by("nnp-on", asked).no_new_privs, "asked for");
    let off = status_app("0").isolator("os/linux/no-new-privileges", "false");
    assert!(!seen_by("nnp-off", off).no_new_privs, "set to false");
    assert!(
        !seen_by("nnp-unset", status_app("0")).no_new_privs,
        "not asked"
    );
}

#[test]
fn an_isolator_not_applied_is_named_to_the_user() {
    if !have_root() {
        return;
    }
    let pod = PodDir::new("isolator-named");
    let cgroup = TestCgroup::new("isolator-named");
    let app =
        App::new("limited", &["/bin/true"]).isolator("resource/memory", r#"{"limit":"64Mi"}"#);
    pod.write(&[app]);
    let finished = run(pod.command(&cgroup, &["--grace", GRACE]));
    assert_eq!(finished.code, 0, "{finished:?}");
    assert_eq!(
        finished.stderr,
        "podinit: app limited: isolators not applied: resource/memory\n"
    );
}
