//! Everything podinit says goes to stderr, one line each, as
//! `podinit: <message>`; stdout belongs to the program.
//!
//! The level comes from `PODINIT_LOG` (or tini's `TINI_VERBOSITY`) and
//! each `-v`; warnings and errors show by default.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::time::Timespec;

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) || !stderr_has_room() {
            return;
        }
        // One write per line, so lines from podinit and the program it
        // forked (before exec) never interleave mid-line; control
        // characters from arguments or names are escaped, so one message
        // stays one line.
        let text = escape_controls(&record.args().to_string());
        let line = match record.level() {
            Level::Error | Level::Warn | Level::Info => format!("podinit: {text}\n"),
            level => format!("podinit: {}: {text}\n", level.as_str().to_lowercase()),
        };
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Whether a line can be written to stderr without blocking. PID 1 must
/// never wait on a reader: a full pipe nobody drains would stop reaping
/// and signalling. A line that finds no room is dropped. (POLLOUT on a
/// pipe means room for at least one page, more than any line podinit
/// writes.)
fn stderr_has_room() -> bool {
    let stderr = rustix::stdio::stderr();
    let mut fds = [PollFd::new(&stderr, PollFlags::OUT)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&now)), Ok(1)) && fds[0].revents().contains(PollFlags::OUT)
}

/// `text` with every control character escaped (`\n`, `\u{1b}`).
fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

const LEVELS: [LevelFilter; 6] = [
    LevelFilter::Off,
    LevelFilter::Error,
    LevelFilter::Warn,
    LevelFilter::Info,
    LevelFilter::Debug,
    LevelFilter::Trace,
];

/// Installs the logger at the level the environment asks for. Returns the
/// text of a variable that made no sense, to be reported once logging
/// works.
pub fn init(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let _ = log::set_logger(&Stderr);
    let (level, bad) = match var("PODINIT_LOG").or_else(|| var("TINI_VERBOSITY")) {
        None => (2, None),
        Some(text) => match parse_level(&text) {
            Some(level) => (level, None),
            None => (2, Some(text)),
        },
    };
    log::set_max_level(LEVELS[level]);
    bad
}

/// Raises the level by `steps` (each `-v`).
pub fn raise(steps: u8) {
    let current = LEVELS
        .iter()
        .position(|&level| level == log::max_level())
        .unwrap_or(2);
    log::set_max_level(LEVELS[(current + usize::from(steps)).min(LEVELS.len() - 1)]);
}

/// `off`, `error`, `warn`, `info`, `debug`, `trace`, or `0` to `5`.
fn parse_level(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_lowercase();
    if let Ok(number) = text.parse::<usize>() {
        return (number < LEVELS.len()).then_some(number);
    }
    LEVELS
        .iter()
        .position(|level| level.as_str().eq_ignore_ascii_case(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_start_a_line() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
    }

    #[test]
    fn levels_parse_by_name_and_number() {
        assert_eq!(parse_level("off"), Some(0));
        assert_eq!(parse_level("WARN"), Some(2));
        assert_eq!(parse_level("trace"), Some(5));
        assert_eq!(parse_level("3"), Some(3));
        assert_eq!(parse_level("6"), None);
        assert_eq!(parse_level("loud"), None);
    }
}
