//! The benchmark's command line.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Context, Error, Result};

/// Every init the benchmark knows, in the order of the table's columns.
pub const INITS: [&str; 5] = ["podinit", "tini", "tini-static", "catatonit", "dumb-init"];

pub const USAGE: &str = "\
usage: podinit-bench [options]
       podinit-bench workload orphans N | echo | app READY GO | exec-at FILE PROGRAM [ARGS...]
                              | stage0 FILE POD RUN [ARGS...]

Measures podinit against tini, tini-static, catatonit and dumb-init: start-up overhead,
reaping of an orphan burst (as PID 1 of a fresh PID namespace), signal round trip, peak RSS
and binary size, podinit's size being that of the shipped build and of the slim one, each
against its budget. Then podinit's pod mode alone: the start and the exit of pods of 1, 10
and 100 apps, and podinit's peak RSS with 100. Then podinit as a stage1: its `run`
entrypoint executed the way a pod runtime does, with pods of 1, 10 and 100 busybox apps:
until every app runs, and until `run` has exited. Needs root (namespaces), util-linux
unshare and Debian's busybox-static.

options:
  --quick              a reduced run: one round, fewer start-ups and signals
  --inits LIST         comma-separated inits to measure (default: all of
                       podinit,tini,tini-static,catatonit,dumb-init)
  --only LIST          comma-separated measurements to make (default: all of
                       startup,reap,signals,pod,stage1); sizes are always reported
  --podinit PATH       the podinit binary (default: `podinit` next to this program); `run`
                       links to it in the stage1 measurement
  --slim PATH          the slim build, sized only (default: TARGET/slim/TRIPLE/release/
                       podinit, TARGET being the target directory this program is in)
  --net NET            what `run` gets as --net=NET (default none; a runtime's own default
                       is `default`)
  --rounds N           rounds of every measurement, whose median is reported (default 7;
                       quick 1)
  --runs N             start-ups of each init, split over the rounds (default 1000; quick 200)
  --orphans N          orphans in the burst (default 20000)
  --signals N          signals per round trip measurement (default 2000; quick 500)
  --poll-us N          interval between zombie counts while reaping (default 200)
  --no-pin             let the scheduler place every process (default: round trips run on
                       one CPU, and a reaping init on another CPU than the benchmark)
  --check              exit 1 when podinit misses a goal
  -v, --verbose        print every round's figures to stderr
  -h, --help           print this and exit

`workload` is the program the inits and pods run; the benchmark starts it itself.";

/// What a run measures, and how often.
#[derive(Debug, Clone)]
pub struct Options {
    pub inits: Vec<&'static str>,
    pub sections: Sections,
    pub podinit: Option<PathBuf>,
    pub slim: Option<PathBuf>,
    pub net: String,
    pub rounds: usize,
    pub runs: usize,
    pub orphans: usize,
    pub signals: usize,
    pub poll: Duration,
    pub pin: bool,
    pub check: bool,
    pub verbose: bool,
}

/// Which measurements to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    pub startup: bool,
    pub reap: bool,
    pub signals: bool,
    pub pod: bool,
    pub stage1: bool,
}

impl Sections {
    const ALL: Sections = Sections {
        startup: true,
        reap: true,
        signals: true,
        pod: true,
        stage1: true,
    };

    const NONE: Sections = Sections {
        startup: false,
        reap: false,
        signals: false,
        pod: false,
        stage1: false,
    };

    /// Whether any measurement compares podinit with the peers.
    pub fn any_peer(&self) -> bool {
        self.startup || self.reap || self.signals
    }
}

pub enum Command {
    Run(Options),
    Help,
}

/// Values given on the command line; `None` takes the default of a full or quick run.
#[derive(Default)]
struct Given {
    quick: bool,
    inits: Option<Vec<&'static str>>,
    sections: Option<Sections>,
    podinit: Option<PathBuf>,
    slim: Option<PathBuf>,
    net: Option<String>,
    rounds: Option<usize>,
    runs: Option<usize>,
    orphans: Option<usize>,
    signals: Option<usize>,
    poll_us: Option<u64>,
    no_pin: bool,
    check: bool,
    verbose: bool,
}

pub fn parse(args: &[String]) -> Result<Command> {
    let mut given = Given::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| Error::new(format!("missing value of {name}")))
        };
        match name {
            "-h" | "--help" => return Ok(Command::Help),
            "--quick" => given.quick = true,
            "--check" => given.check = true,
            "--no-pin" => given.no_pin = true,
            "-v" | "--verbose" => given.verbose = true,
            "--inits" => given.inits = Some(parse_inits(&value()?)?),
            "--only" => given.sections = Some(parse_sections(&value()?)?),
            "--podinit" => given.podinit = Some(PathBuf::from(value()?)),
            "--slim" => given.slim = Some(PathBuf::from(value()?)),
            "--net" => given.net = Some(parse_net(&value()?)?),
            "--rounds" => given.rounds = Some(parse_count(name, &value()?)?),
            "--runs" => given.runs = Some(parse_count(name, &value()?)?),
            "--orphans" => given.orphans = Some(parse_count(name, &value()?)?),
            "--signals" => given.signals = Some(parse_count(name, &value()?)?),
            "--poll-us" => given.poll_us = Some(parse_count(name, &value()?)? as u64),
            _ => return Err(Error::new(format!("unknown option {arg} (try --help)"))),
        }
    }
    Ok(Command::Run(given.into_options()))
}

impl Given {
    fn into_options(self) -> Options {
        let (rounds, runs, signals) = if self.quick {
            (1, 200, 500)
        } else {
            (7, 1000, 2000)
        };
        Options {
            inits: self.inits.unwrap_or_else(|| INITS.to_vec()),
            sections: self.sections.unwrap_or(Sections::ALL),
            podinit: self.podinit,
            slim: self.slim,
            net: self.net.unwrap_or_else(|| "none".into()),
            rounds: self.rounds.unwrap_or(rounds),
            runs: self.runs.unwrap_or(runs),
            orphans: self.orphans.unwrap_or(20_000),
            signals: self.signals.unwrap_or(signals),
            poll: Duration::from_micros(self.poll_us.unwrap_or(200)),
            pin: !self.no_pin,
            check: self.check,
            verbose: self.verbose,
        }
    }
}

/// A comma-separated list of known inits, kept in the table's order.
fn parse_inits(list: &str) -> Result<Vec<&'static str>> {
    let mut wanted = Vec::new();
    for name in list.split(',').filter(|name| !name.is_empty()) {
        let known = INITS.iter().find(|known| **known == name);
        let known = known.ok_or_else(|| {
            Error::new(format!("unknown init {name} (known: {})", INITS.join(",")))
        })?;
        wanted.push(*known);
    }
    if wanted.is_empty() {
        return Err(Error::new("empty --inits list"));
    }
    Ok(INITS
        .into_iter()
        .filter(|known| wanted.contains(known))
        .collect())
}

fn parse_sections(list: &str) -> Result<Sections> {
    let mut sections = Sections::NONE;
    for name in list.split(',').filter(|name| !name.is_empty()) {
        match name {
            "startup" => sections.startup = true,
            "reap" => sections.reap = true,
            "signals" => sections.signals = true,
            "pod" => sections.pod = true,
            "stage1" => sections.stage1 = true,
            _ => {
                let known = "known: startup,reap,signals,pod,stage1";
                return Err(Error::new(format!("unknown measurement {name} ({known})")));
            }
        }
    }
    Ok(sections)
}

/// A value for `run`'s `--net=`: one argument, no flag of its own.
fn parse_net(net: &str) -> Result<String> {
    match net.is_empty() || net.starts_with('-') || net.contains(char::is_whitespace) {
        true => Err(Error::new(format!("bad value of --net: {net:?}"))),
        false => Ok(net.to_string()),
    }
}

fn parse_count(name: &str, value: &str) -> Result<usize> {
    let count: usize = value
        .parse()
        .context(|| format!("bad value of {name}: {value:?}"))?;
    if count == 0 {
        return Err(Error::new(format!(
            "bad value of {name}: must be at least 1"
        )));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        match parse(&args) {
            Ok(Command::Run(options)) => options,
            Ok(Command::Help) => panic!("help instead of options"),
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn inits_keep_table_order() {
        let chosen = options(&["--inits", "dumb-init,podinit"]).inits;
        assert_eq!(chosen, ["podinit", "dumb-init"]);
    }

    #[test]
    fn quick_lowers_defaults_but_not_explicit_values() {
        let quick = options(&["--quick", "--runs=50"]);
        assert_eq!((quick.rounds, quick.runs, quick.signals), (1, 50, 500));
    }

    #[test]
    fn only_picks_measurements() {
        let only = options(&["--only=reap,signals"]).sections;
        assert_eq!(
            only,
            Sections {
                reap: true,
                signals: true,
                ..Sections::NONE
            }
        );
        let stage1 = options(&["--only", "stage1"]).sections;
        assert_eq!(
            stage1,
            Sections {
                stage1: true,
                ..Sections::NONE
            }
        );
        assert_eq!(options(&[]).sections, Sections::ALL);
    }

    #[test]
    fn net_defaults_to_none() {
        assert_eq!(options(&[]).net, "none");
        assert_eq!(options(&["--net=default"]).net, "default");
    }

    #[test]
    fn unknown_init_and_zero_are_refused() {
        let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();
        assert!(parse(&args(&["--inits", "systemd"])).is_err());
        assert!(parse(&args(&["--rounds", "0"])).is_err());
        assert!(parse(&args(&["--bogus"])).is_err());
        assert!(parse(&args(&["--only", "stage2"])).is_err());
        assert!(parse(&args(&["--net", "--debug"])).is_err());
    }
}
