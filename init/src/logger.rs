//! Everything podinit says goes to stderr, one line each, as
//! `podinit: <message>`; stdout belongs to the program.
//!
//! The level comes from `PODINIT_LOG` (or tini's `TINI_VERBOSITY`) and
//! each `-v`; warnings and errors show by default.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::net::SendFlags;
use rustix::time::Timespec;

struct Stderr;

/// Where podinit's lines go, and how they avoid blocking. PID 1 must never
/// wait on a reader: a full pipe nobody drains would stop reaping and
/// signalling. A line that finds no room is dropped. Atomics, not a lock:
/// the logger must be `Sync`, and this is all the state it has.
static SINK: AtomicU8 = AtomicU8::new(UNKNOWN);

/// podinit's own open of the pipe, FIFO or terminal on fd 2, non-blocking,
/// when `SINK` is `OWN`. Setting O_NONBLOCK on fd 2 itself would change the
/// open file description the program shares, and its writes would fail
/// where they should wait.
static OWN_FD: OnceLock<OwnedFd> = OnceLock::new();

/// Not decided yet: there was no /proc to reopen stderr through.
const UNKNOWN: u8 = 0;
/// A regular file or anything else that does not wait for a reader.
const PLAIN: u8 = 1;
/// A pipe podinit cannot reopen (of another user, say): each write is
/// checked for room first, which a writer racing podinit could defeat.
const CHECKED: u8 = 2;
/// A socket (a log collector's stream): sends on fd 2 that do not wait.
const SOCKET: u8 = 3;
/// `OWN_FD`.
const OWN: u8 = 4;

/// The longest line written: up to PIPE_BUF, a write to a pipe is whole or
/// not at all (pipe(7)), so a line is never cut by a full pipe.
const MAX_LINE: usize = 4096;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // One write per line, so lines from podinit and the program it
        // forked (before exec) never interleave mid-line; control
        // characters from arguments or names are escaped, so one message
        // stays one line.
        let text = escape_controls(&record.args().to_string());
        let line = match record.level() {
            Level::Error | Level::Warn | Level::Info => format!("podinit: {text}\n"),
            Level::Debug => format!("podinit: debug: {text}\n"),
            Level::Trace => format!("podinit: trace: {text}\n"),
        };
        write_line(shorten(line).as_bytes());
    }

    fn flush(&self) {}
}

/// Writes `line` to stderr, or drops it rather than wait.
fn write_line(line: &[u8]) {
    let stderr = rustix::stdio::stderr();
    let _ = match sink() {
        PLAIN => rustix::io::write(stderr, line),
        SOCKET => rustix::net::send(stderr, line, SendFlags::DONTWAIT | SendFlags::NOSIGNAL),
        // XXX: no /proc yet (a machine's first moments), or a pipe podinit
        // cannot reopen: a writer racing podinit between the check and the
        // write could still block it.
        UNKNOWN | CHECKED if has_room(stderr) => rustix::io::write(stderr, line),
        UNKNOWN | CHECKED => Ok(0),
        _ => match OWN_FD.get() {
            Some(own) => rustix::io::write(own, line),
            None => Ok(0),
        },
    };
}

/// The descriptor the logger opened of its own, which must stay open.
pub fn descriptor() -> Option<i32> {
    sink();
    OWN_FD.get().map(AsRawFd::as_raw_fd)
}

/// The sink, decided on first use, and again while it is `UNKNOWN`.
fn sink() -> u8 {
    let sink = SINK.load(Ordering::Relaxed);
    if sink != UNKNOWN {
        return sink;
    }
    let sink = open_sink();
    SINK.store(sink, Ordering::Relaxed);
    sink
}

/// Decides how to write to stderr without blocking; `Unknown` while there
/// is no /proc.
fn open_sink() -> u8 {
    let stderr = rustix::stdio::stderr();
    // No fd 2 yet (a machine's init before its console is open): decide
    // again once there is one.
    let Ok(stat) = rustix::fs::fstat(stderr) else {
        return UNKNOWN;
    };
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Socket => return SOCKET,
        FileType::Fifo | FileType::CharacterDevice => {}
        _ => return PLAIN,
    }
    // Opening a pipe or terminal through /proc gives a new open file
    // description of the same pipe or terminal (proc(5)), whose flags are
    // podinit's alone. NOCTTY: a terminal must not become podinit's own.
    let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    match rustix::fs::open("/proc/self/fd/2", flags, Mode::empty()) {
        Ok(fd) => match OWN_FD.set(fd) {
            Ok(()) => OWN,
            Err(_) => CHECKED,
        },
        // No /proc yet, or no fd 2 to reopen: try again with the next line.
        Err(Errno::NOENT) => UNKNOWN,
        // A FIFO with no reader (ENXIO), a pipe of another user (EACCES):
        // a check before each write is the best left.
        Err(_) => CHECKED,
    }
}

/// Whether a write to `fd` would not block now. (POLLOUT on a pipe means
/// room for at least PIPE_BUF bytes, as much as any line podinit writes.)
fn has_room(fd: impl std::os::fd::AsFd) -> bool {
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&now)), Ok(1)) && fds[0].revents().contains(PollFlags::OUT)
}

/// `line` cut to `MAX_LINE` bytes, on a character boundary, still ending
/// in a newline.
fn shorten(mut line: String) -> String {
    if line.len() > MAX_LINE {
        let mut end = MAX_LINE - " [cut]\n".len();
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str(" [cut]\n");
    }
    line
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
    fn long_lines_are_cut_to_one_atomic_pipe_write() {
        let long = format!("podinit: {}\n", "é".repeat(3000));
        let cut = shorten(long);
        assert!(cut.len() <= MAX_LINE, "{}", cut.len());
        assert!(cut.ends_with(" [cut]\n"));
        assert_eq!(shorten("podinit: short\n".into()), "podinit: short\n");
    }

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
