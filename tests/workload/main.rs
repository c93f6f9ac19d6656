//! `podinit-workload`: the programs the black-box tests run under podinit.
//!
//! ```text
//! podinit-workload exit CODE           exit with CODE
//! podinit-workload kill-self SIGNAL    die by SIGNAL (default action, no core)
//! podinit-workload orphans N CHECK_MS  a burst of N orphaned zombies
//! podinit-workload double-fork N CHECK_MS
//!                                      N double-forked processes
//! podinit-workload leave obey|resist CODE
//!                                      exit CODE, leaving processes behind
//! podinit-workload host -- COMMAND...  be PID 1 around a podinit that is not
//! ```
//!
//! Everything it reports goes to stdout, one line per write.

mod orphans;
mod proc;
mod sys;
mod tree;

use std::str::FromStr;

use nix::sys::signal::{Signal, raise};
use rustix::process::{Resource, Rlimit, setrlimit};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match words.as_slice() {
        ["exit", code] => number(code),
        ["kill-self", signal] => kill_self(signal),
        ["orphans", count, check] => orphans::burst(number(count) as usize, millis(check)),
        ["double-fork", count, check] => {
            orphans::double_fork(number(count) as usize, millis(check))
        }
        ["leave", mode, code] => match tree::Mode::parse(mode) {
            Some(mode) => tree::leave(mode, number(code)),
            None => usage(),
        },
        ["host", "--", _, ..] => tree::host(&args[2..]),
        _ => usage(),
    };
    std::process::exit(code);
}

fn number(text: &str) -> i32 {
    text.parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a number"))
}

fn millis(text: &str) -> std::time::Duration {
    std::time::Duration::from_millis(number(text) as u64)
}

fn usage() -> i32 {
    eprintln!("podinit-workload: unknown command; see tests/workload/main.rs");
    2
}

/// Dies by `name` (`SIGTERM`, `TERM`) with its default action; a core
/// dump is turned off so that SEGV and friends leave no file behind.
fn kill_self(name: &str) -> i32 {
    let full = if name.starts_with("SIG") {
        name.to_owned()
    } else {
        format!("SIG{name}")
    };
    let signal = Signal::from_str(&full).unwrap_or_else(|_| panic!("{name}: not a signal"));
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    setrlimit(Resource::Core, none).expect("turn core dumps off");
    sys::default_action(signal);
    raise(signal).expect("raise");
    sys::say(&format!("still alive after {signal}"));
    1
}
