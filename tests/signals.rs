//! Signals sent to podinit from outside reach the program: every
//! forwardable one, to the whole process group by default or to the
//! program alone with `-c`, after `--rewrite`; a signal pending before
//! podinit starts is not lost; `--stop-timeout` and `-p` do what they say.
//!
//! The program is Debian's static busybox `sh`, which traps each signal
//! and prints `got <number>` on stdout; the test sends one signal at a time
//! to podinit's host pid and waits for that line.

use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use podinit_tests::pty::Lines;
use podinit_tests::{Finished, Run, as_pid1, have_root, not_pid1};
use rustix::process::{Pid, PidfdFlags, pidfd_open, pidfd_send_signal};

const BUSYBOX: &str = "/bin/busybox";
/// Options and environment variables of one case.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
/// How long one signal may take to travel through podinit to the program.
const HOP: Duration = Duration::from_secs(5);
/// The signal that ends the trap script (SIGRTMAX).
const END: i32 = 64;

/// Every standard signal a program can catch, except SIGCHLD, which
/// podinit keeps for itself.
const STANDARD: [(&str, i32); 21] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CONT", libc::SIGCONT),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
];

/// Real-time signals a glibc or musl program may use (musl's SIGRTMIN is
/// 35, glibc's 34; 34 has a test of its own below).
const REALTIME: [i32; 4] = [35, 36, 50, 63];

/// A busybox script that prints `got N` for each signal N in `signals`,
/// `ready` once its traps are set, and exits 0 on [`END`]. It waits in
/// `wait`, which a trapped signal interrupts; the `sleep` it waits for is
/// in its process group, so group-forwarded signals hit it too. The sleep
/// is short because a child forked just as podinit's leftover SIGTERM
/// comes still runs the shell's trap handler, which swallows the SIGTERM,
/// and then runs its sleep to the end.
fn trap_script(signals: &[i32]) -> String {
    let mut script = String::new();
    for signo in signals {
        script += &format!("trap 'echo got {signo}' {signo}\n");
    }
    script += &format!("trap 'echo got end; exit 0' {END}\n");
    script += "echo ready\nwhile :; do sleep 1 & wait $!; done\n";
    script
}

/// A run of `unshare … podinit …` that is killed, and its PID namespace
/// with it (`--kill-child`), if the test fails before the run ends: the
/// scripts here loop until told to stop.
struct Guarded(Option<Run>);

impl Guarded {
    fn new(run: Run) -> Guarded {
        Guarded(Some(run))
    }

    fn child(&mut self) -> &mut std::process::Child {
        &mut self.0.as_mut().expect("the run is not finished").child
    }

    fn finish_within(mut self, limit: Duration) -> Finished {
        self.0
            .take()
            .expect("the run is not finished")
            .finish_within(limit)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // The child is unshare, ours and not yet reaped: its pid cannot
        // have been reused.
        if let Some(run) = &mut self.0 {
            let _ = run.child.kill();
            let _ = run.child.wait();
        }
    }
}

/// podinit started as PID 1 with `options`, running [`trap_script`].
struct Trapping {
    run: Guarded,
    init: i32,
    lines: Lines,
}

impl Trapping {
    fn start(options: &[&str], signals: &[i32]) -> Trapping {
        let mut run = Guarded::new(Run::start(as_pid1_owned(&with_script(options, signals))));
        let init = run.0.as_ref().expect("just started").init_pid();
        let lines = Lines::new(run.child().stdout.take().expect("stdout is piped"));
        lines.wait_for("ready", HOP);
        Trapping { run, init, lines }
    }

    /// Sends `signo` to podinit and returns the next line the program
    /// prints.
    fn send(&self, signo: i32) -> String {
        send_signal(self.init, signo);
        self.lines
            .next_within(HOP)
            .unwrap_or_else(|| panic!("signal {signo} sent to podinit: no output within {HOP:?}"))
    }

    /// Ends the script with [`END`]; fails unless podinit then exits 0.
    fn end(self) {
        assert_eq!(
            self.send(END),
            "got end",
            "the script did not see its end signal"
        );
        let finished = self.run.finish_within(HOP);
        assert_eq!(
            finished.code, 0,
            "podinit after the script's exit 0: {finished:?}"
        );
    }
}

/// `options`, then `busybox sh -c <trap script>`.
fn with_script(options: &[&str], signals: &[i32]) -> Vec<String> {
    let mut args: Vec<String> = options.iter().map(|option| option.to_string()).collect();
    args.extend([
        BUSYBOX.into(),
        "sh".into(),
        "-c".into(),
        trap_script(signals),
    ]);
    args
}

fn as_pid1_owned(args: &[String]) -> Command {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    as_pid1(&args)
}

fn send_signal(pid: i32, signo: i32) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, signo) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signo}): {}",
        std::io::Error::last_os_error()
    );
}

/// The State line of /proc/<pid>/status, e.g. `S (sleeping)`.
fn process_state(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status.lines().find(|line| line.starts_with("State:"));
    line.expect("a State line")["State:".len()..]
        .trim()
        .to_owned()
}

#[test]
fn every_standard_catchable_signal_reaches_the_program() {
    if !have_root() {
        return;
    }
    let numbers: Vec<i32> = STANDARD.iter().map(|(_, signo)| *signo).collect();
    let program = Trapping::start(&[], &numbers);
    for (name, signo) in STANDARD {
        assert_eq!(
            program.send(signo),
            format!("got {signo}"),
            "SIG{name} was not forwarded"
        );
        // TSTP, TTIN and TTOU would stop podinit if it did not block them.
        let state = process_state(program.init);
        assert!(
            !state.starts_with('T'),
            "podinit is {state} after SIG{name}"
        );
    }
    program.end();
}

#[test]
fn realtime_signals_reach_the_program() {
    if !have_root() {
        return;
    }
    let program = Trapping::start(&[], &REALTIME);
    for signo in REALTIME {
        assert_eq!(
            program.send(signo),
            format!("got {signo}"),
            "signal {signo} was not forwarded"
        );
    }
    program.end();
}

/// Regression: glibc's SIGRTMIN is 34, one of the numbers musl keeps for
/// itself (32–34) and leaves out of the sets it fills; a glibc program
/// under podinit uses it like any other real-time signal.
#[test]
fn signal_34_glibc_sigrtmin_reaches_the_program() {
    if !have_root() {
        return;
    }
    let program = Trapping::start(&[], &[34]);
    assert_eq!(program.send(34), "got 34", "signal 34 was not forwarded");
    program.end();
}

#[test]
fn rewrites_apply_before_forwarding_and_zero_drops() {
    if !have_root() {
        return;
    }
    let options = [
        "-r",
        "USR1:USR2",
        "--rewrite=SIGHUP:sigwinch",
        "-r",
        "TERM:0",
        "-r",
        "40:35",
    ];
    let signals = [
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGTERM,
        libc::SIGINT,
        35,
        40,
    ];
    let program = Trapping::start(&options, &signals);
    assert_eq!(
        program.send(libc::SIGUSR1),
        "got 12",
        "USR1 should arrive as USR2"
    );
    assert_eq!(
        program.send(libc::SIGHUP),
        "got 28",
        "HUP should arrive as WINCH"
    );
    assert_eq!(program.send(40), "got 35", "signal 40 should arrive as 35");
    // TERM is dropped: the next line is the INT sent after it. podinit
    // handles signals in the order it reads them, and both are standard
    // signals, so a forwarded TERM would show up before or with INT.
    send_signal(program.init, libc::SIGTERM);
    assert_eq!(
        program.send(libc::SIGINT),
        "got 2",
        "TERM (rewritten to 0) reached the program"
    );
    assert_eq!(
        program.send(libc::SIGUSR2),
        "got 12",
        "a signal named by no rewrite"
    );
    program.end();
}

/// A script whose background child traps USR1 and USR2 too, both saying
/// who they are. The parent passes USR2 on to the child. The parent sets
/// its traps first: the test sends USR1 as soon as the child is ready.
fn family_script() -> String {
    let child = "trap 'echo child got 10' 10; trap 'echo child got 12' 12; \
                 echo child ready; while :; do sleep 1 & wait \\$!; done";
    format!(
        "trap 'echo parent got 10' 10\n\
         trap 'kill -12 $kid' 12\n\
         trap 'kill -9 $kid; exit 0' {END}\n\
         {BUSYBOX} sh -c \"{child}\" & kid=$!\n\
         while :; do sleep 1 & wait $!; done\n"
    )
}

/// Starts [`family_script`] under podinit with `options` and `env`, sends
/// podinit USR1, then USR2; returns the child's first line.
///
/// podinit forwards one signal after the other, so a group-forwarded USR1
/// is pending in the child before podinit even reads USR2, let alone
/// before the parent passes USR2 on; and the lower number is delivered
/// first. The child's first line is `child got 10` when USR1 went to the
/// group, `child got 12` when it went to the program alone.
fn family_first_child_line(options: &[&str], env: &[(&str, &str)]) -> String {
    let mut args: Vec<&str> = options.to_vec();
    let script = family_script();
    args.extend([BUSYBOX, "sh", "-c", &script]);
    let mut command = as_pid1(&args);
    command.envs(env.iter().copied());
    let mut run = Guarded::new(Run::start(command));
    let init = run.0.as_ref().expect("just started").init_pid();
    let lines = Lines::new(run.child().stdout.take().expect("stdout is piped"));
    lines.wait_for("child ready", HOP);
    send_signal(init, libc::SIGUSR1);
    let seen = lines.wait_for("parent got 10", HOP);
    send_signal(init, libc::SIGUSR2);
    let later = std::iter::from_fn(|| lines.next_within(HOP));
    let child_line = seen
        .into_iter()
        .chain(later)
        .find(|line| line.starts_with("child"))
        .expect("the child printed nothing after USR1 and USR2");
    send_signal(init, END);
    let finished = run.finish_within(HOP);
    assert_eq!(
        finished.code, 0,
        "podinit after the script's exit 0: {finished:?}"
    );
    child_line
}

#[test]
fn signals_go_to_the_whole_process_group_by_default() {
    if !have_root() {
        return;
    }
    let line = family_first_child_line(&[], &[]);
    assert_eq!(
        line, "child got 10",
        "the program's child did not get the forwarded USR1"
    );
}

#[test]
fn group_option_and_variables_forward_to_the_group() {
    if !have_root() {
        return;
    }
    let cases: [Case; 4] = [
        (&["-g"], &[]),
        (&["--group"], &[]),
        (&[], &[("PODINIT_KILL_PROCESS_GROUP", "1")]),
        (&[], &[("TINI_KILL_PROCESS_GROUP", "")]),
    ];
    for (options, env) in cases {
        let line = family_first_child_line(options, env);
        assert_eq!(
            line, "child got 10",
            "with {options:?} {env:?}: not forwarded to the group"
        );
    }
}

#[test]
fn single_child_forwards_to_the_program_only() {
    if !have_root() {
        return;
    }
    for option in ["-c", "--single-child"] {
        let line = family_first_child_line(&[option], &[]);
        assert_eq!(
            line, "child got 12",
            "with {option}: the program's child got USR1 too"
        );
    }
}

#[test]
fn stop_timeout_kills_a_program_that_outlives_term() {
    if !have_root() {
        return;
    }
    let timeout = Duration::from_millis(400);
    let mut program = Trapping::start(
        &["--stop-timeout", "400ms"],
        &[libc::SIGUSR1, libc::SIGTERM],
    );

    // USR1 is not a stop signal: it starts no countdown.
    assert_eq!(program.send(libc::SIGUSR1), "got 10");
    std::thread::sleep(timeout * 2);
    let ended = program.run.child().try_wait().expect("wait for podinit");
    assert!(ended.is_none(), "podinit ended after USR1: {ended:?}");
    assert_eq!(
        program.send(libc::SIGUSR1),
        "got 10",
        "the program died after a USR1"
    );

    // TERM is trapped and survived: after the timeout the group is killed.
    let sent = Instant::now();
    assert_eq!(program.send(libc::SIGTERM), "got 15");
    let finished = program.run.finish_within(HOP);
    let took = sent.elapsed();
    assert_eq!(
        finished.code,
        128 + libc::SIGKILL,
        "exit status after --stop-timeout: {finished:?}"
    );
    assert!(
        took >= timeout,
        "killed after {took:?}, before --stop-timeout 400ms"
    );
}

#[test]
fn a_signal_pending_before_podinit_starts_reaches_the_program() {
    if !have_root() {
        return;
    }
    // Not PID 1: `unshare --fork` would clear the pending signal at fork.
    // The sleep outlasts the wait below, and ends soon after if it fails.
    let mut command = not_pid1(&[BUSYBOX, "sleep", "6"]);
    // SAFETY: between fork and exec the closure only makes async-signal-
    // safe calls (sigemptyset, sigaddset, sigprocmask, getpid, kill) on a
    // set on its own stack.
    unsafe {
        command.pre_exec(|| {
            let mut set = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), libc::SIGUSR1);
            Ok(())
        });
    }
    let finished = Run::start(command).finish_within(HOP);
    assert_eq!(
        finished.code,
        128 + libc::SIGUSR1,
        "the program should die of the USR1 pending at start: {finished:?}"
    );
}

/// SIGKILLs a process when dropped, through a pidfd so that a pid reused
/// meanwhile is never hit: podinit, once its launcher is gone, is no child
/// of the test to hold its pid.
struct KillOnDrop(OwnedFd);

impl KillOnDrop {
    fn new(pid: i32) -> KillOnDrop {
        let pid = Pid::from_raw(pid).expect("a positive pid");
        KillOnDrop(pidfd_open(pid, PidfdFlags::empty()).expect("open a pidfd for podinit"))
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = pidfd_send_signal(&self.0, rustix::process::Signal::KILL);
    }
}

#[test]
fn parent_death_signal_is_forwarded_when_the_launcher_dies() {
    if !have_root() {
        return;
    }
    // -p replaces the SIGKILL `unshare --kill-child` set as podinit's
    // parent-death signal: killing unshare must bring USR1, not death.
    let mut program = Trapping::start(&["-p", "USR1"], &[libc::SIGUSR1]);
    let _guard = KillOnDrop::new(program.init);
    program.run.child().kill().expect("kill unshare");
    program.run.child().wait().expect("reap unshare");
    let line = program
        .lines
        .next_within(HOP)
        .expect("no output after the launcher died");
    assert_eq!(
        line, "got 10",
        "the parent-death signal USR1 did not reach the program"
    );
    send_signal(program.init, END);
    assert_eq!(program.lines.next_within(HOP).as_deref(), Some("got end"));
}

/// Regression: the same signal 34, sent to podinit when it is not PID 1,
/// must be forwarded, not end podinit (which would orphan the program).
#[test]
fn signal_34_sent_to_podinit_not_pid1_is_forwarded() {
    if !have_root() {
        return;
    }
    // Bounded: the program ends by itself within 3 s if 34 never comes.
    let script = "trap 'echo got 34; exit 0' 34; echo ready; sleep 3 & wait $!; exit 9";
    let mut run = Run::start(not_pid1(&[BUSYBOX, "sh", "-c", script]));
    let lines = Lines::new(run.child.stdout.take().expect("stdout is piped"));
    lines.wait_for("ready", HOP);
    send_signal(run.child.id() as i32, 34);
    let line = lines.next_within(HOP);
    let finished = run.finish_within(HOP);
    assert_eq!(
        line.as_deref(),
        Some("got 34"),
        "the program's output; podinit: {finished:?}"
    );
    assert_eq!(
        finished.code, 0,
        "podinit after the program's exit 0: {finished:?}"
    );
}
