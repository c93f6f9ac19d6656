//! The privileges an app really ends up with: a child is set up with
//! `Privileges::before_credentials`, `credentials::apply` and
//! `Privileges::after_credentials` in the spawner's order, then execs
//! busybox, which prints its own `/proc/self/status`. Every one of the five
//! capability sets must equal the plan, for a non-root user and for root.
//!
//! Needs root with the capabilities of the plans, and Debian's
//! busybox-static at /bin/busybox.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use podinit_supervisor::credentials::{self, Credentials};
use podinit_supervisor::manifest::{Capability, CapabilitySet, Isolator};
use podinit_supervisor::privileges::Privileges;

const BUSYBOX: &str = "/bin/busybox";

/// The lines of `/proc/self/status` this test reads, as the app saw them.
struct Status {
    text: String,
}

impl Status {
    fn field(&self, name: &str) -> &str {
        let prefix = format!("{name}:");
        self.text
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} line in:\n{}", self.text))
    }

    fn caps(&self, name: &str) -> u64 {
        let hex = self.field(name);
        u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{name}: {hex:?}"))
    }

    fn words(&self, name: &str) -> Vec<String> {
        self.field(name)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Asserts that all five capability sets hold exactly `set`.
    fn assert_all_sets(&self, set: CapabilitySet) {
        for name in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(
                self.caps(name),
                set.bits(),
                "{name} should be {:#x}; status:\n{}",
                set.bits(),
                self.text
            );
        }
    }
}

fn require_root_and_busybox() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test sets uids and capabilities: run it as root"
    );
    assert!(
        Path::new(BUSYBOX).is_file(),
        "this test needs {BUSYBOX} (Debian's busybox-static) to print the app's status"
    );
}

/// Runs `busybox cat /proc/self/status <extra>` set up as an app with
/// `plan` and `creds`, and returns what it printed.
fn run_app(plan: &Privileges, creds: &Credentials, extra: &[&str]) -> Status {
    require_root_and_busybox();
    let missing = plan.unavailable().expect("read podinit's own capabilities");
    assert!(
        missing.is_empty(),
        "the test process lacks {:?}, which the plan grants",
        missing.iter().map(|c| c.to_string()).collect::<Vec<_>>()
    );
    let mut command = Command::new(BUSYBOX);
    command.args(["cat", "/proc/self/status"]).args(extra);
    let (plan, creds) = (plan.clone(), creds.clone());
    // SAFETY: the closure runs in the child of fork(2), which has one
    // thread. It makes system calls, and allocates once (the group list in
    // `credentials::apply`); musl's fork (1.2.1 and later, which Rust's musl
    // target ships) takes the malloc lock across fork, so no other thread
    // of the test harness can have left it held. Formatting an error to
    // stderr happens only on failure.
    unsafe {
        command.pre_exec(move || {
            let steps = || -> std::io::Result<()> {
                plan.before_credentials()?;
                credentials::apply(&creds)?;
                plan.after_credentials()?;
                Ok(())
            };
            steps().inspect_err(|err| eprintln!("child set-up failed: {err}"))
        });
    }
    let output = command.output().expect("run busybox");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "busybox failed: {:?}\nstderr: {}\nstdout: {text}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Status { text }
}

fn caps(names: &[&str]) -> CapabilitySet {
    names
        .iter()
        .map(|name| Capability::from_name(name).expect("a capability name"))
        .collect()
}

#[test]
fn a_non_root_user_has_exactly_the_retained_set_in_all_five_sets() {
    let retained = caps(&["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]);
    let plan = Privileges::from_isolators(&[
        Isolator::CapabilitiesRetainSet(retained),
        Isolator::NoNewPrivileges(true),
    ]);
    let creds = Credentials {
        uid: 1000,
        gid: 1001,
        supplementary: vec![1002, 1003],
    };
    let status = run_app(&plan, &creds, &[]);
    status.assert_all_sets(retained);
    assert_eq!(status.caps("CapEff"), 0x401);
    assert_eq!(status.field("NoNewPrivs"), "1");
    assert_eq!(status.words("Uid"), ["1000"; 4]);
    assert_eq!(status.words("Gid"), ["1001"; 4]);
    assert_eq!(status.words("Groups"), ["1002", "1003"]);
}

#[test]
fn a_non_root_user_without_isolators_has_the_appc_default_set() {
    let plan = Privileges::from_isolators(&[]);
    let creds = Credentials {
        uid: 4242,
        gid: 4242,
        supplementary: vec![],
    };
    let status = run_app(&plan, &creds, &[]);
    status.assert_all_sets(CapabilitySet::APPC_DEFAULT);
    assert_eq!(status.field("NoNewPrivs"), "0");
    assert_eq!(status.words("Groups"), Vec::<String>::new());
}

#[test]
fn root_has_the_plan_in_all_five_sets_too() {
    let remove = caps(&["CAP_NET_RAW", "CAP_MKNOD"]);
    let plan = Privileges::from_isolators(&[Isolator::CapabilitiesRemoveSet(remove)]);
    let creds = Credentials {
        uid: 0,
        gid: 0,
        supplementary: vec![],
    };
    let status = run_app(&plan, &creds, &[]);
    assert_eq!(plan.capabilities.len(), 12);
    status.assert_all_sets(plan.capabilities);
    assert_eq!(status.words("Uid"), ["0"; 4]);
}

#[test]
fn an_empty_retain_set_leaves_no_capability() {
    let plan = Privileges::from_isolators(&[Isolator::CapabilitiesRetainSet(caps(&[]))]);
    for uid in [0, 1000] {
        let creds = Credentials {
            uid,
            gid: uid,
            supplementary: vec![],
        };
        run_app(&plan, &creds, &[]).assert_all_sets(CapabilitySet::new());
    }
}

#[test]
fn oom_score_adj_reaches_the_app() {
    let plan = Privileges::from_isolators(&[Isolator::OomScoreAdj(500)]);
    let creds = Credentials {
        uid: 1000,
        gid: 1000,
        supplementary: vec![],
    };
    let status = run_app(&plan, &creds, &["/proc/self/oom_score_adj"]);
    assert_eq!(status.text.lines().last(), Some("500"), "{}", status.text);
}
