//! The one error type of the benchmark: what failed, and the error beneath it.

use std::fmt;

pub type Result<T> = std::result::Result<T, Error>;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// A failed step, worded `<what failed> <object>`, with the error that caused it.
#[derive(Debug)]
pub struct Error {
    what: String,
    source: Option<Source>,
}

impl Error {
    /// An error no lower-level error caused.
    pub fn new(what: impl Into<String>) -> Self {
        Error {
            what: what.into(),
            source: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|source| source as _)
    }
}

/// Attaches what the failing step was to a lower-level error.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Source>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error {
            what: what(),
            source: Some(source.into()),
        })
    }
}
