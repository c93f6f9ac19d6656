//! Not PID 1, podinit becomes a child subreaper on its own, so orphans of
//! the program are re-parented to it and reaped by it; `-s`,
//! PODINIT_SUBREAPER and TINI_SUBREAPER make that a requirement and fail
//! loudly (exit 125) when it cannot be met.
//!
//! To make it impossible, the launcher installs a seccomp filter that
//! fails prctl(PR_SET_CHILD_SUBREAPER) with EPERM.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use podinit_tests::pty::Lines;
use podinit_tests::{Run, have_root, not_pid1, run};

const HOP: Duration = Duration::from_secs(5);
const BUSYBOX: &str = "/bin/busybox";
/// Options and environment variables of one case.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

/// The parent and state of `pid` from /proc/<pid>/stat, if it exists.
fn parent_and_state(pid: i32) -> Option<(i32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state, then parent.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((fields.next()?.parse().ok()?, state))
}

fn send(pid: i32, signo: i32) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, signo) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signo}): {}",
        std::io::Error::last_os_error()
    );
}

/// Polls `check` every few milliseconds until it holds or `HOP` passes.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + HOP;
    while !check() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// Runs podinit (not PID 1) with `options` and `env` over a program that
/// orphans a `sleep`; checks that podinit adopts the orphan and, once the
/// orphan is killed, reaps it.
fn orphan_is_adopted_and_reaped(options: &[&str], env: &[(&str, &str)]) {
    // The inner shell prints the sleep's pid and exits: the sleep is then
    // an orphan, which goes to the nearest subreaper.
    let script = format!("{BUSYBOX} sh -c 'sleep 30 & echo $!'; exec sleep 30");
    let mut args = options.to_vec();
    args.extend([BUSYBOX, "sh", "-c", &script]);
    let mut command = not_pid1(&args);
    command.envs(env.iter().copied());
    let mut run = Run::start(command);
    let podinit = run.child.id() as i32;
    let lines = Lines::new(run.child.stdout.take().expect("stdout is piped"));
    let orphan: i32 = lines
        .next_within(HOP)
        .expect("the orphan's pid")
        .parse()
        .expect("a pid");

    let adopted = eventually(|| parent_and_state(orphan).is_some_and(|(p, _)| p == podinit));
    let before_kill = parent_and_state(orphan);
    send(orphan, libc::SIGKILL);
    // Gone from /proc, not a zombie: someone reaped it, and only its
    // parent can.
    let reaped = eventually(|| parent_and_state(orphan).is_none());
    let left = parent_and_state(orphan);
    send(podinit, libc::SIGTERM);
    let finished = run.finish_within(HOP);

    let case = format!("{options:?} {env:?}");
    assert!(
        adopted,
        "{case}: orphan {orphan} (parent, state) {before_kill:?}, not podinit {podinit}"
    );
    assert!(
        reaped,
        "{case}: the killed orphan was not reaped: (parent, state) {left:?}"
    );
    assert_eq!(finished.code, 128 + libc::SIGTERM, "{case}: {finished:?}");
}

#[test]
fn orphans_go_to_podinit_when_it_is_not_pid1() {
    if !have_root() {
        return;
    }
    orphan_is_adopted_and_reaped(&[], &[]);
}

#[test]
fn forced_subreaper_adopts_orphans() {
    if !have_root() {
        return;
    }
    orphan_is_adopted_and_reaped(&["-s"], &[]);
    orphan_is_adopted_and_reaped(&["--subreaper"], &[]);
    orphan_is_adopted_and_reaped(&[], &[("PODINIT_SUBREAPER", "1")]);
    orphan_is_adopted_and_reaped(&[], &[("TINI_SUBREAPER", "")]);
}

/// A classic BPF instruction.
fn bpf(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// A seccomp program: prctl(PR_SET_CHILD_SUBREAPER, ...) fails with
/// EPERM; every other call is allowed. Offsets are those of struct
/// seccomp_data: nr at 0, arch at 4, args[0] (low half) at 16.
fn deny_subreaper_filter() -> Vec<libc::sock_filter> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let jump_eq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    vec![
        bpf(load, 0, 0, 4),
        bpf(jump_eq, 0, 5, AUDIT_ARCH_X86_64),
        bpf(load, 0, 0, 0),
        bpf(jump_eq, 0, 3, libc::SYS_prctl as u32),
        bpf(load, 0, 0, 16),
        bpf(jump_eq, 0, 1, libc::PR_SET_CHILD_SUBREAPER as u32),
        bpf(ret, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        bpf(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

/// Makes `command`'s process (and so podinit) unable to become a child
/// subreaper.
fn forbid_subreaper(command: &mut Command) {
    let filter = deny_subreaper_filter();
    // SAFETY: between fork and exec the closure makes two prctl calls on
    // a filter built before the fork, which outlives the child's use of it
    // (the closure owns it); no allocation, no lock.
    unsafe {
        command.pre_exec(move || {
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_required_subreaper_that_is_impossible_fails_with_125() {
    if !have_root() {
        return;
    }
    let cases: [Case; 4] = [
        (&["-s"], &[]),
        (&["--subreaper"], &[]),
        (&[], &[("PODINIT_SUBREAPER", "1")]),
        (&[], &[("TINI_SUBREAPER", "")]),
    ];
    for (options, env) in cases {
        let mut args = options.to_vec();
        args.extend([BUSYBOX, "true"]);
        let mut command = not_pid1(&args);
        command.envs(env.iter().copied());
        forbid_subreaper(&mut command);
        let finished = run(command);
        assert_eq!(finished.code, 125, "{options:?} {env:?}: {finished:?}");
        assert!(
            finished.stderr.starts_with("podinit: ") && finished.stderr.contains("subreaper"),
            "{options:?} {env:?}: the message should name the subreaper: {:?}",
            finished.stderr
        );
    }
}

#[test]
fn an_impossible_automatic_subreaper_only_warns() {
    if !have_root() {
        return;
    }
    let mut command = not_pid1(&[BUSYBOX, "sh", "-c", "exit 4"]);
    forbid_subreaper(&mut command);
    let finished = run(command);
    assert_eq!(
        finished.code, 4,
        "the program should still run: {finished:?}"
    );
    assert!(
        finished.stderr.contains("subreaper"),
        "podinit should warn that it is no subreaper: {:?}",
        finished.stderr
    );
}
