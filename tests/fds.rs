//! Descriptors: the program gets what the launcher handed down and
//! nothing podinit opened; once the program runs, podinit holds only its
//! signalfd and stdio, so a pipe the launcher handed down reaches EOF when
//! the program closes it. `LISTEN_PID` naming podinit names the program.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use podinit_tests::pty::Lines;
use podinit_tests::{Run, as_pid1, have_root, not_pid1, run};

const HOP: Duration = Duration::from_secs(5);
const BUSYBOX: &str = "/bin/busybox";
/// Where the launcher hands its two extra descriptors down.
const HANDED_DOWN: [i32; 2] = [3, 7];

/// Makes `command`'s process start with `sources[i]` open as descriptor
/// `HANDED_DOWN[i]`, and no other descriptor above 2: what this test
/// process itself inherited is marked close-on-exec.
fn hand_down(command: &mut Command, sources: [&OwnedFd; 2]) {
    let sources = sources.map(AsRawFd::as_raw_fd);
    // SAFETY: between fork and exec the closure makes only fcntl, dup2,
    // close and close_range calls on integers: async-signal-safe, no
    // allocation. The copies above 100 come first, so that no dup2 can
    // overwrite a source before it is copied.
    unsafe {
        command.pre_exec(move || {
            let copies = sources.map(|fd| libc::fcntl(fd, libc::F_DUPFD, 100));
            for (&copy, &target) in copies.iter().zip(&HANDED_DOWN) {
                if copy < 0 || libc::dup2(copy, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(copy);
            }
            for (first, last) in [(4u32, 6u32), (8, u32::MAX)] {
                let cloexec = libc::CLOSE_RANGE_CLOEXEC;
                if libc::syscall(libc::SYS_close_range, first, last, cloexec) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// A pipe: (read end, write end), both close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("create a pipe")
}

fn dev_null() -> OwnedFd {
    File::open("/dev/null").expect("open /dev/null").into()
}

/// The open descriptors of `pid` and what each points to.
fn descriptors(pid: i32) -> BTreeMap<i32, String> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("list /proc/<pid>/fd");
    let entries = dir.map(|entry| entry.expect("an fd entry").path());
    let read = |path: std::path::PathBuf| {
        let fd = path.file_name().unwrap().to_str().unwrap().parse().unwrap();
        let target = std::fs::read_link(&path).map(|t| t.display().to_string());
        (fd, target.unwrap_or_default())
    };
    entries.map(read).collect()
}

/// The program podinit (`init`) runs, once it has exec'd `exe`.
fn program_running(init: i32, exe: &str) -> i32 {
    let exe = std::fs::canonicalize(exe).expect("resolve the program's path");
    let path = format!("/proc/{init}/task/{init}/children");
    let deadline = Instant::now() + HOP;
    loop {
        let children = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(child) = children.split_whitespace().next() {
            let child: i32 = child.parse().expect("a pid");
            let running = std::fs::read_link(format!("/proc/{child}/exe"));
            if running.is_ok_and(|path| path == exe) {
                return child;
            }
        }
        assert!(
            Instant::now() < deadline,
            "podinit did not exec {exe:?} within {HOP:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn terminate(pid: i32) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill({pid}): {}", std::io::Error::last_os_error());
}

/// Starts podinit as PID 1 running `sleep 30`, with /dev/null and a
/// pipe's write end handed down; returns the run and podinit's host pid.
fn start_with_handed_down_fds() -> (Run, i32) {
    let (_read, write) = pipe();
    let null = dev_null();
    let mut command = as_pid1(&[BUSYBOX, "sleep", "30"]);
    hand_down(&mut command, [&null, &write]);
    let run = Run::start(command);
    let init = run.init_pid();
    (run, init)
}

#[test]
fn the_program_holds_only_the_descriptors_it_inherited() {
    if !have_root() {
        return;
    }
    let (run, init) = start_with_handed_down_fds();
    let program = program_running(init, BUSYBOX);
    let fds = descriptors(program);
    terminate(init);
    let finished = run.finish_within(HOP);

    let numbers: Vec<i32> = fds.keys().copied().collect();
    assert_eq!(
        numbers,
        [0, 1, 2, 3, 7],
        "the program's descriptors: {fds:?}"
    );
    assert_eq!(fds[&3], "/dev/null", "descriptor 3 handed down: {fds:?}");
    assert!(
        fds[&7].starts_with("pipe:"),
        "descriptor 7 handed down: {fds:?}"
    );
    assert_eq!(finished.code, 128 + libc::SIGTERM, "{finished:?}");
}

/// What podinit should hold while its program runs: stdio, one signalfd
/// and, when stderr is a pipe, its own open of that pipe.
fn only_stdio_and_signalfd(fds: &BTreeMap<i32, String>) -> bool {
    let stderr = fds.get(&2);
    let others: Vec<&String> = fds
        .iter()
        .filter(|(fd, target)| **fd > 2 && Some(*target) != stderr)
        .map(|(_, t)| t)
        .collect();
    fds.contains_key(&0)
        && fds.contains_key(&1)
        && stderr.is_some()
        && others.len() == 1
        && others[0] == "anon_inode:[signalfd]"
}

/// The `flags:` of `/proc/<pid>/fdinfo/<fd>`, an octal number.
fn open_flags(pid: i32, fd: i32) -> i32 {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).expect("read fdinfo");
    let flags = info.lines().find_map(|line| line.strip_prefix("flags:"));
    i32::from_str_radix(flags.expect("a flags line").trim(), 8).expect("octal flags")
}

/// Regression: podinit checked for room and then wrote to the stderr it
/// shares with its program, so a program filling the pipe in between left
/// PID 1 blocked for ever. It writes through its own non-blocking open of
/// the pipe; the program's stderr stays blocking.
#[test]
fn podinit_logs_through_a_non_blocking_open_of_its_own() {
    if !have_root() {
        return;
    }
    let run = Run::start(as_pid1(&["-vv", BUSYBOX, "sleep", "30"]));
    let init = run.init_pid();
    let program = program_running(init, BUSYBOX);
    let deadline = Instant::now() + HOP;
    let own = loop {
        let fds = descriptors(init);
        let own = fds
            .iter()
            .find(|(fd, target)| **fd > 2 && Some(*target) == fds.get(&2));
        if let Some((fd, _)) = own {
            break *fd;
        }
        assert!(Instant::now() < deadline, "no open of its own: {fds:?}");
        std::thread::sleep(Duration::from_millis(5));
    };
    let (own_flags, shared_flags) = (open_flags(init, own), open_flags(program, 2));
    terminate(init);
    let finished = run.finish_within(HOP);
    assert_ne!(own_flags & libc::O_NONBLOCK, 0, "podinit's own open blocks");
    assert_eq!(
        shared_flags & libc::O_NONBLOCK,
        0,
        "the program's stderr was made non-blocking"
    );
    assert!(
        finished.stderr.contains("podinit: "),
        "podinit's lines were lost: {finished:?}"
    );
}

#[test]
fn podinit_closes_its_copies_of_inherited_descriptors() {
    if !have_root() {
        return;
    }
    let (run, init) = start_with_handed_down_fds();
    program_running(init, BUSYBOX);
    // podinit closes them right after the fork: poll a little for it.
    let deadline = Instant::now() + HOP;
    let mut fds = descriptors(init);
    while !only_stdio_and_signalfd(&fds) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        fds = descriptors(init);
    }
    terminate(init);
    let finished = run.finish_within(HOP);
    assert!(only_stdio_and_signalfd(&fds), "podinit still holds {fds:?}");
    assert_eq!(finished.code, 128 + libc::SIGTERM, "{finished:?}");
}

#[test]
fn a_pipe_handed_down_sees_eof_when_the_program_closes_it() {
    if !have_root() {
        return;
    }
    // Not PID 1: `unshare` would hold a copy of the pipe itself.
    let (read, write) = pipe();
    let null = dev_null();
    let script = "echo hello >&7; exec 7>&-; exec sleep 30";
    let mut command = not_pid1(&[BUSYBOX, "sh", "-c", script]);
    hand_down(&mut command, [&null, &write]);
    let mut run = Run::start(command);
    drop(write);
    let lines = Lines::new(File::from(read));

    assert_eq!(
        lines.next_within(HOP).as_deref(),
        Some("hello"),
        "the program's line"
    );
    let ended = lines.ends_within(HOP);
    let still_running = run.child.try_wait().expect("wait for podinit").is_none();
    terminate(run.child.id() as i32);
    let finished = run.finish_within(HOP);
    assert!(
        ended,
        "no EOF on the handed-down pipe after the program closed it"
    );
    assert!(
        still_running,
        "podinit ended before the test saw EOF: {finished:?}"
    );
    assert_eq!(finished.code, 128 + libc::SIGTERM, "{finished:?}");
}

#[test]
fn listen_pid_naming_podinit_names_the_program_instead() {
    if !have_root() {
        return;
    }
    let script = "echo \"$LISTEN_PID $$\"";
    for (listen_pid, expected) in [("1", "2 2\n"), ("5", "5 2\n")] {
        let mut command = as_pid1(&[BUSYBOX, "sh", "-c", script]);
        command.env("LISTEN_PID", listen_pid);
        let finished = run(command);
        assert_eq!(finished.code, 0, "{finished:?}");
        assert_eq!(
            finished.stdout, expected,
            "LISTEN_PID={listen_pid} for podinit as PID 1: the program's LISTEN_PID and pid"
        );
    }
}
