//! The command line and the environment variables podinit reads.
//!
//! Options stop at the first argument that is not one, so that
//! `podinit sh -c 'exit 3'` runs `sh` with its own options; `--` also ends
//! them. Parsing is pure: the environment is read in [`Options::apply_env`].

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use podinit_supervisor::pod::ExitPolicy;
use podinit_supervisor::signals::Signal;

/// The grace period leftover processes get between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Where pod mode writes its status records unless told.
pub const DEFAULT_STATUS_DIR: &str = "/run/podinit/status";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Run(Options),
    Help,
    Version,
}

/// Where forwarded signals go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    /// The program's process group: the program and what it started.
    Group,
    /// The program's process only.
    Child,
}

/// A signal rewrite: `from` is forwarded as `to`, or dropped when `to` is
/// `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewrite {
    pub from: Signal,
    pub to: Option<Signal>,
}

#[derive(Debug, PartialEq)]
pub struct Options {
    pub subreaper: bool,
    pub forward: Forward,
    pub rewrites: Vec<Rewrite>,
    pub expect_exit: Vec<u8>,
    pub pdeathsig: Option<Signal>,
    pub grace: Duration,
    pub stop_timeout: Option<Duration>,
    pub keep_signals: bool,
    /// How many `-v` were given.
    pub verbose: u8,
    pub job: Job,
}

/// What podinit runs.
#[derive(Debug, PartialEq)]
pub enum Job {
    /// One program: container-init mode.
    Program {
        program: OsString,
        args: Vec<OsString>,
    },
    /// The apps of a pod manifest.
    Pod(PodJob),
}

#[derive(Debug, PartialEq)]
pub struct PodJob {
    pub manifest: PathBuf,
    pub status_dir: PathBuf,
    pub policy: ExitPolicy,
}

/// A bad command line; the message names the argument.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (see podinit --help)", self.0)
    }
}

pub const USAGE: &str = "\
usage: podinit [options] [--] program [args...]
       podinit [options] --pod MANIFEST [--status-dir DIR] [--exit-policy POLICY]
       podinit stage1 run|enter|stop|gc [flags] ...   (pod builds: a pod runtime's stage1)

Runs program as its child, reaps every zombie, forwards signals to the
program's process group and exits with the program's status.

options:
  -s, --subreaper            become a child subreaper; fail if impossible
  -g, --group                forward signals to the program's group (default)
  -c, --single-child         forward signals to the program only
  -r, --rewrite FROM:TO      forward signal FROM as TO (TO 0: drop); repeatable
  -e, --expect-exit CODE     exit 0 when the program exits with CODE; repeatable
  -p, --pdeathsig SIGNAL     receive SIGNAL when podinit's parent dies
      --grace DURATION       leftovers get DURATION between TERM and KILL (5s)
      --stop-timeout DURATION
                             SIGKILL the program DURATION after a forwarded
                             TERM, INT, QUIT or HUP (off)
      --keep-signals         start the program with the inherited signal mask
                             and ignored signals
      --pod MANIFEST         run the apps of an appc pod manifest instead
                             (pod builds only; see the README)
      --status-dir DIR       where pod mode records each app's exit
                             (/run/podinit/status)
      --exit-policy POLICY   when the pod ends: all (default: every app has
                             exited, or one failed), any, main=APP
  -v, --verbose              log more; repeatable
  -h, --help                 print this help
  -V, --version              print the version

environment: PODINIT_SUBREAPER, PODINIT_KILL_PROCESS_GROUP, PODINIT_LOG,
TINI_SUBREAPER, TINI_KILL_PROCESS_GROUP, TINI_VERBOSITY, LISTEN_PID.

exit status: the program's code, 128+n when signal n killed it, 126 when it
cannot be executed, 127 when it is not found; podinit's own: 120 usage
error, 121 pod manifest refused, 122 pod cannot start, 125 set-up failure.
";

impl Options {
    fn new() -> Options {
        Options {
            subreaper: false,
            forward: Forward::Group,
            rewrites: Vec::new(),
            expect_exit: Vec::new(),
            pdeathsig: None,
            grace: DEFAULT_GRACE,
            stop_timeout: None,
            keep_signals: false,
            verbose: 0,
            job: Job::Program {
                program: OsString::new(),
                args: Vec::new(),
            },
        }
    }

    /// Applies the environment variables that stand for options. The
    /// `*_KILL_PROCESS_GROUP` variables ask for what is already the
    /// default, so they change nothing, and `-c` still wins over them.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<OsString>) {
        if var("PODINIT_SUBREAPER").is_some() || var("TINI_SUBREAPER").is_some() {
            self.subreaper = true;
        }
    }

    /// What `sig` is forwarded as, after the rewrites; the last rewrite of
    /// a signal wins.
    pub fn rewrite(&self, sig: Signal) -> Option<Signal> {
        match self
            .rewrites
            .iter()
            .rev()
            .find(|rewrite| rewrite.from == sig)
        {
            Some(rewrite) => rewrite.to,
            None => Some(sig),
        }
    }
}

/// Parses the arguments after argv[0].
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let mut flags = Flags::default();
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            if arg.as_encoded_bytes().starts_with(b"-") {
                let shown = arg.to_string_lossy();
                return Err(UsageError(format!("option {shown:?} is not UTF-8")));
            }
            return finish(flags, arg, args);
        };
        if text == "--" {
            let program = args.next().ok_or_else(missing_program)?;
            return finish(flags, program, args);
        }
        if let Some(long) = text.strip_prefix("--") {
            if let Some(done) = flags.long(long, &mut args)? {
                return Ok(done);
            }
        } else if text.len() > 1 && text.starts_with('-') {
            if let Some(done) = flags.short_cluster(&text[1..], &mut args)? {
                return Ok(done);
            }
        } else {
            return finish(flags, arg, args);
        }
    }
    flags.finish_pod()
}

fn missing_program() -> UsageError {
    UsageError("no program given".into())
}

fn finish(
    flags: Flags,
    program: OsString,
    rest: impl Iterator<Item = OsString>,
) -> Result<Command, UsageError> {
    if flags.pod.is_some() {
        let program = program.to_string_lossy();
        return Err(UsageError(format!(
            "--pod runs the manifest's apps: unexpected {program:?}"
        )));
    }
    flags.pod_only_options()?;
    let mut options = flags.options;
    options.job = Job::Program {
        program,
        args: rest.collect(),
    };
    Ok(Command::Run(options))
}

/// Options seen so far.
#[derive(Default)]
struct Flags {
    options: Options,
    pod: Option<PathBuf>,
    status_dir: Option<PathBuf>,
    policy: Option<ExitPolicy>,
}

impl Default for Options {
    fn default() -> Options {
        Options::new()
    }
}

impl Flags {
    /// The arguments ended without a program: fine with `--pod`.
    fn finish_pod(self) -> Result<Command, UsageError> {
        if self.pod.is_some() {
            self.program_only_options()?;
        }
        let Some(manifest) = self.pod else {
            return Err(missing_program());
        };
        let mut options = self.options;
        options.job = Job::Pod(PodJob {
            manifest,
            status_dir: self.status_dir.unwrap_or_else(|| DEFAULT_STATUS_DIR.into()),
            policy: self.policy.unwrap_or(ExitPolicy::AllExit),
        });
        Ok(Command::Run(options))
    }

    /// Refuses pod-mode options given without `--pod`.
    fn pod_only_options(&self) -> Result<(), UsageError> {
        let stray = [
            (self.status_dir.is_some(), "--status-dir"),
            (self.policy.is_some(), "--exit-policy"),
        ];
        match stray.iter().find(|(given, _)| *given) {
            Some((_, name)) => Err(UsageError(format!("{name} needs --pod"))),
            None => Ok(()),
        }
    }

    /// Refuses options about the one program given with `--pod`: a pod
    /// has several apps, and an option that would be silently ignored is
    /// worse than one refused.
    fn program_only_options(&self) -> Result<(), UsageError> {
        let options = &self.options;
        let stray = [
            (!options.expect_exit.is_empty(), "-e"),
            (options.forward == Forward::Child, "-c"),
            (!options.rewrites.is_empty(), "--rewrite"),
            (options.stop_timeout.is_some(), "--stop-timeout"),
            (options.keep_signals, "--keep-signals"),
        ];
        match stray.iter().find(|(given, _)| *given) {
            Some((_, name)) => Err(UsageError(format!(
                "{name} applies to a program, not to --pod"
            ))),
            None => Ok(()),
        }
    }

    /// `--name` or `--name=value`.
    fn long(
        &mut self,
        text: &str,
        rest: &mut impl Iterator<Item = OsString>,
    ) -> Result<Option<Command>, UsageError> {
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (text, None),
        };
        let option = LONG
            .iter()
            .find(|option| option.long == name)
            .ok_or_else(|| UsageError(format!("unknown option --{name}")))?;
        let shown = format!("--{name}");
        match (option.takes_value, inline) {
            (false, Some(_)) => Err(UsageError(format!("{shown} takes no value"))),
            (false, None) => self.flag(option.short),
            (true, Some(value)) => self.value(option.short, &shown, &value).map(|()| None),
            (true, None) => {
                let value = next_value(&shown, rest)?;
                self.value(option.short, &shown, &value).map(|()| None)
            }
        }
    }

    /// `-sv`, `-e3`, `-e 3`.
    fn short_cluster(
        &mut self,
        cluster: &str,
        rest: &mut impl Iterator<Item = OsString>,
    ) -> Result<Option<Command>, UsageError> {
        for (index, letter) in cluster.char_indices() {
            let shown = format!("-{letter}");
            let option = LONG
                .iter()
                .find(|option| option.short == letter && !LONG_ONLY.contains(&letter))
                .ok_or_else(|| UsageError(format!("unknown option {shown}")))?;
            if !option.takes_value {
                if let Some(done) = self.flag(letter)? {
                    return Ok(Some(done));
                }
                continue;
            }
            let attached = &cluster[index + letter.len_utf8()..];
            let value = if attached.is_empty() {
                next_value(&shown, rest)?
            } else {
                attached.to_owned()
            };
            self.value(letter, &shown, &value)?;
            return Ok(None);
        }
        Ok(None)
    }

    fn flag(&mut self, key: char) -> Result<Option<Command>, UsageError> {
        let options = &mut self.options;
        match key {
            's' => options.subreaper = true,
            'g' => options.forward = Forward::Group,
            'c' => options.forward = Forward::Child,
            'K' => options.keep_signals = true,
            'v' => options.verbose = options.verbose.saturating_add(1),
            'h' => return Ok(Some(Command::Help)),
            'V' => return Ok(Some(Command::Version)),
            _ => unreachable!("every flag in LONG is handled"),
        }
        Ok(None)
    }

    fn value(&mut self, key: char, shown: &str, value: &str) -> Result<(), UsageError> {
        let bad = |why: &str| UsageError(format!("{shown} {value:?}: {why}"));
        let options = &mut self.options;
        match key {
            'r' => options
                .rewrites
                .push(parse_rewrite(value).map_err(|why| bad(&why))?),
            'e' => options
                .expect_exit
                .push(value.parse().map_err(|_| bad("not a code 0-255"))?),
            'p' => options.pdeathsig = Some(parse_pdeathsig(value).map_err(&bad)?),
            'G' => options.grace = parse_duration(value).ok_or_else(|| bad("not a duration"))?,
            'T' => {
                let timeout = parse_duration(value).ok_or_else(|| bad("not a duration"))?;
                options.stop_timeout = Some(timeout);
            }
            'P' => once(&mut self.pod, shown, value.into())?,
            'D' => once(&mut self.status_dir, shown, value.into())?,
            'X' => {
                let policy =
                    ExitPolicy::parse(value).ok_or_else(|| bad("must be all, any or main=APP"))?;
                once(&mut self.policy, shown, policy)?;
            }
            _ => unreachable!("every valued option in LONG is handled"),
        }
        Ok(())
    }
}

/// Sets an option that makes no sense twice: the second would silently win.
fn once<T>(slot: &mut Option<T>, shown: &str, value: T) -> Result<(), UsageError> {
    if slot.is_some() {
        return Err(UsageError(format!("{shown} given twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn next_value(
    shown: &str,
    rest: &mut impl Iterator<Item = OsString>,
) -> Result<String, UsageError> {
    let value = rest
        .next()
        .ok_or_else(|| UsageError(format!("{shown} needs a value")))?;
    value
        .into_string()
        .map_err(|_| UsageError(format!("{shown}: value is not UTF-8")))
}

/// One option. Long-only options have a private key letter that is not
/// accepted as a short option (upper case ones other than `V`).
struct Spec {
    long: &'static str,
    short: char,
    takes_value: bool,
}

const LONG: &[Spec] = &[
    Spec {
        long: "subreaper",
        short: 's',
        takes_value: false,
    },
    Spec {
        long: "group",
        short: 'g',
        takes_value: false,
    },
    Spec {
        long: "single-child",
        short: 'c',
        takes_value: false,
    },
    Spec {
        long: "rewrite",
        short: 'r',
        takes_value: true,
    },
    Spec {
        long: "expect-exit",
        short: 'e',
        takes_value: true,
    },
    Spec {
        long: "pdeathsig",
        short: 'p',
        takes_value: true,
    },
    Spec {
        long: "grace",
        short: 'G',
        takes_value: true,
    },
    Spec {
        long: "stop-timeout",
        short: 'T',
        takes_value: true,
    },
    Spec {
        long: "keep-signals",
        short: 'K',
        takes_value: false,
    },
    Spec {
        long: "pod",
        short: 'P',
        takes_value: true,
    },
    Spec {
        long: "status-dir",
        short: 'D',
        takes_value: true,
    },
    Spec {
        long: "exit-policy",
        short: 'X',
        takes_value: true,
    },
    Spec {
        long: "verbose",
        short: 'v',
        takes_value: false,
    },
    Spec {
        long: "help",
        short: 'h',
        takes_value: false,
    },
    Spec {
        long: "version",
        short: 'V',
        takes_value: false,
    },
];

/// Key letters of long-only options: not accepted after a single dash.
const LONG_ONLY: [char; 6] = ['G', 'T', 'K', 'P', 'D', 'X'];

fn parse_signal(text: &str) -> Result<Signal, String> {
    let signal = Signal::parse(text).ok_or("not a signal")?;
    if signal == Signal::KILL || signal == Signal::STOP {
        return Err("cannot be caught".into());
    }
    Ok(signal)
}

/// Any signal but a fault one: podinit leaves those unblocked for its own
/// faults, so one sent at its parent's death would kill it.
fn parse_pdeathsig(text: &str) -> Result<Signal, &'static str> {
    let signal = Signal::parse(text).ok_or("not a signal")?;
    if signal.is_fault() {
        return Err("a fault signal would kill podinit itself");
    }
    Ok(signal)
}

/// `FROM:TO`; a `TO` of 0 drops `FROM`.
fn parse_rewrite(text: &str) -> Result<Rewrite, String> {
    let (from, to) = text.split_once(':').ok_or("must be FROM:TO")?;
    let from = parse_signal(from)?;
    if from == Signal::CHLD || from.is_fault() {
        return Err(format!("{from} is never forwarded"));
    }
    let to = if to == "0" {
        None
    } else {
        Some(Signal::parse(to).ok_or("not a signal")?)
    };
    Ok(Rewrite { from, to })
}

/// `500ms`, `5s`, `1.5s`, `2m`, `1h`; a bare number is seconds. Parsed
/// in whole nanoseconds: floating point would pull a float parser into
/// the binary for this one use.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let nanos_per_unit: u128 = match unit {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || fraction.contains('.') || fraction.len() > 9 {
        return None;
    }
    let whole: u128 = whole.parse().ok()?;
    let fraction_nanos: u128 = format!("{fraction:0<9}").parse().ok()?;
    let nanos =
        whole.checked_mul(nanos_per_unit)? + fraction_nanos * nanos_per_unit / 1_000_000_000;
    let seconds = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(seconds, (nanos % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn run(list: &[&str]) -> Options {
        match parse(args(list)) {
            Ok(Command::Run(options)) => options,
            other => panic!("{list:?} gave {other:?}"),
        }
    }

    pub(super) fn program(options: &Options) -> (&OsString, &Vec<OsString>) {
        match &options.job {
            Job::Program { program, args } => (program, args),
            Job::Pod(pod) => panic!("a pod job: {pod:?}"),
        }
    }

    #[test]
    fn pod_mode_takes_a_manifest_and_no_program() {
        let options = run(&["--pod", "pod.json", "--exit-policy=main=web"]);
        let expected = PodJob {
            manifest: "pod.json".into(),
            status_dir: DEFAULT_STATUS_DIR.into(),
            policy: ExitPolicy::Main("web".into()),
        };
        assert_eq!(options.job, Job::Pod(expected));
        assert_eq!(
            usage(&["--pod", "p.json", "sh"]),
            r#"--pod runs the manifest's apps: unexpected "sh""#
        );
        assert_eq!(
            usage(&["--status-dir", "/s", "sh"]),
            "--status-dir needs --pod"
        );
        assert_eq!(
            usage(&["--pod", "p", "--exit-policy", "some"]),
            r#"--exit-policy "some": must be all, any or main=APP"#
        );
        assert_eq!(
            usage(&["--pod", "p", "--exit-policy", "any", "--exit-policy=all"]),
            "--exit-policy given twice"
        );
        assert_eq!(usage(&["--pod", "p", "--pod", "q"]), "--pod given twice");
        for (args, name) in [
            (&["-e", "3"][..], "-e"),
            (&["-c"][..], "-c"),
            (&["-r", "USR1:USR2"][..], "--rewrite"),
            (&["--stop-timeout", "1s"][..], "--stop-timeout"),
            (&["--keep-signals"][..], "--keep-signals"),
        ] {
            let mut all = args.to_vec();
            all.extend(["--pod", "p"]);
            let expected = format!("{name} applies to a program, not to --pod");
            assert_eq!(usage(&all), expected);
        }
        assert_eq!(
            usage(&["--status-dir", "a", "--status-dir", "b"]),
            "--status-dir given twice"
        );
    }

    fn usage(list: &[&str]) -> String {
        match parse(args(list)) {
            Err(UsageError(message)) => message,
            other => panic!("{list:?} gave {other:?}"),
        }
    }

    #[test]
    fn options_stop_at_the_program() {
        let options = run(&["-s", "sh", "-c", "exit 3", "--grace", "1"]);
        assert!(options.subreaper);
        assert_eq!(
            program(&options),
            (&"sh".into(), &args(&["-c", "exit 3", "--grace", "1"]))
        );
    }

    #[test]
    fn double_dash_ends_options() {
        let options = run(&["-v", "--", "-s", "x"]);
        assert_eq!(program(&options).0, "-s");
        assert_eq!(options.verbose, 1);
    }

    #[test]
    fn values_come_in_every_form() {
        let options = run(&[
            "-e3",
            "-e",
            "4",
            "--expect-exit=5",
            "--expect-exit",
            "6",
            "x",
        ]);
        assert_eq!(options.expect_exit, vec![3, 4, 5, 6]);
    }

    #[test]
    fn durations_and_signals_parse() {
        let options = run(&["--grace=1.5s", "--stop-timeout", "250ms", "-p", "usr1", "x"]);
        assert_eq!(options.grace, Duration::from_millis(1500));
        assert_eq!(options.stop_timeout, Some(Duration::from_millis(250)));
        assert_eq!(options.pdeathsig, Some(Signal::USR1));
    }

    #[test]
    fn flags_combine() {
        let options = run(&["-svv", "-c", "x"]);
        assert!(options.subreaper);
        assert_eq!(options.verbose, 2);
        assert_eq!(options.forward, Forward::Child);
    }

    #[test]
    fn rewrites_apply_last_one_winning() {
        let options = run(&["-r", "TERM:QUIT", "--rewrite=usr1:0", "-r", "15:INT", "x"]);
        assert_eq!(options.rewrite(Signal::TERM), Some(Signal::INT));
        assert_eq!(options.rewrite(Signal::USR1), None);
        assert_eq!(options.rewrite(Signal::HUP), Some(Signal::HUP));
    }

    #[test]
    fn help_and_version_win_wherever_they_stand() {
        assert_eq!(parse(args(&["-s", "--help", "--bogus"])), Ok(Command::Help));
        assert_eq!(parse(args(&["-V"])), Ok(Command::Version));
        assert_eq!(parse(args(&["-vh"])), Ok(Command::Help));
    }

    #[test]
    fn usage_errors_name_the_argument() {
        assert_eq!(usage(&[]), "no program given");
        assert_eq!(usage(&["-v", "--"]), "no program given");
        assert_eq!(usage(&["--bogus", "x"]), "unknown option --bogus");
        assert_eq!(usage(&["-x", "x"]), "unknown option -x");
        assert_eq!(usage(&["-G", "1", "x"]), "unknown option -G");
        assert_eq!(usage(&["-e", "256", "x"]), r#"-e "256": not a code 0-255"#);
        assert_eq!(
            usage(&["--grace", "soon", "x"]),
            r#"--grace "soon": not a duration"#
        );
        assert_eq!(usage(&["--grace"]), "--grace needs a value");
        assert_eq!(usage(&["-r", "TERM", "x"]), r#"-r "TERM": must be FROM:TO"#);
        assert_eq!(
            usage(&["-r", "CHLD:TERM", "x"]),
            r#"-r "CHLD:TERM": SIGCHLD is never forwarded"#
        );
        assert_eq!(
            usage(&["-r", "TERM:BOGUS", "x"]),
            r#"-r "TERM:BOGUS": not a signal"#
        );
        assert_eq!(
            usage(&["-p", "SIGNOPE", "x"]),
            r#"-p "SIGNOPE": not a signal"#
        );
        assert_eq!(
            run(&["-p", "SIGKILL", "x"]).pdeathsig,
            Some(Signal::KILL),
            "tini's example"
        );
        assert_eq!(
            usage(&["--subreaper=yes", "x"]),
            "--subreaper takes no value"
        );
    }

    #[test]
    fn environment_forces_subreaper() {
        let mut options = run(&["x"]);
        options.apply_env(|name| (name == "TINI_SUBREAPER").then(|| "".into()));
        assert!(options.subreaper);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.25m"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("2.000000001"), Some(Duration::new(2, 1)));
        for bad in [
            "",
            "s",
            "-1",
            "1x",
            ".5",
            "1e3",
            "1.2.3s",
            "1.0000000001",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    proptest! {
        /// Whatever stands after the program reaches it untouched.
        #[test]
        fn program_arguments_pass_untouched(
            program in "[a-z/][a-z0-9/._-]{0,12}",
            rest in prop::collection::vec(".{0,12}", 0..6),
        ) {
            let mut list = vec!["-s".to_owned(), program.clone()];
            list.extend(rest.iter().cloned());
            let options = run(&list.iter().map(String::as_str).collect::<Vec<_>>());
            let rest: Vec<OsString> = rest.into_iter().map(OsString::from).collect();
            prop_assert_eq!(super::tests::program(&options), (&OsString::from(program), &rest));
        }

        /// No argument list makes the parser panic.
        #[test]
        fn any_arguments_parse_or_fail_cleanly(list in prop::collection::vec(".{0,8}", 0..8)) {
            let _ = parse(list.into_iter().map(OsString::from));
        }

        /// Every code given with -e is kept.
        #[test]
        fn expected_codes_round_trip(codes in prop::collection::vec(0u8..=255, 1..5)) {
            let mut list = Vec::new();
            for code in &codes {
                list.push(format!("-e{code}"));
            }
            list.push("x".into());
            let options = run(&list.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(options.expect_exit, codes);
        }
    }
}
