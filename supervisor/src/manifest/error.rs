//! The one error of the manifest module: which file, where in it, which
//! value, and the rule that value breaks.

use std::{error::Error, fmt, io};

/// Values longer than this are cut in messages, so that a 1 MiB string
/// does not become a 1 MiB line on the console.
const MAX_SHOWN_VALUE: usize = 64;

/// A manifest podinit refuses to run, printed as
/// `<file>: <json path> <value>: <rule>` (path and value when known).
#[derive(Debug)]
pub struct ManifestError {
    file: String,
    path: String,
    value: Option<String>,
    rule: Rule,
}

/// The rule a manifest breaks. Each displays as the lowercase end of the
/// message: what the value must be.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rule {
    /// The file could not be read.
    Read(io::Error),
    /// The file is larger than the limit.
    FileTooLarge { limit: usize },
    /// The bytes are not JSON.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// The JSON does not have the manifest's shape (a string where a list
    /// belongs, a number out of range).
    Shape {
        line: usize,
        column: usize,
        message: String,
    },
    /// `acKind` is not the expected kind.
    AcKind { expected: &'static str },
    /// `acVersion` is not a semantic version.
    Semver,
    /// A required value is missing or empty.
    Empty,
    /// Not an AC name (app, volume, mount point).
    AcName,
    /// Not an AC identifier (isolator name).
    AcIdentifier,
    /// A string longer than the limit, in bytes.
    TooLong { limit: usize },
    /// A list with more entries than the limit.
    TooMany { limit: usize },
    /// A list whose strings add up to more bytes than the limit.
    TooManyBytes { limit: usize },
    /// A name or path given twice; `first` is where it was given first.
    Duplicate { first: String },
    /// `exec[0]` is a relative path.
    Program,
    /// A path that must be absolute is not.
    NotAbsolute,
    /// A path that is joined to an app's root has a `..` component.
    DotDot,
    /// A string handed to the kernel holds a NUL byte.
    Nul,
    /// Not an environment variable name.
    EnvName,
    /// An event handler other than `pre-start` or `post-stop`.
    EventName,
    /// A volume kind other than `host` or `empty`.
    VolumeKind,
    /// A volume mode that is not octal up to 07777.
    Mode,
    /// A `mounts` entry names no volume of the pod.
    NoSuchVolume,
    /// An isolator value of the wrong shape; `expected` says the right one.
    IsolatorValue { expected: &'static str },
    /// An unknown Linux capability.
    Capability,
    /// Not a resource quantity.
    Quantity,
    /// A negative resource quantity.
    Negative,
    /// A quantity or number too large for its unit.
    TooLarge,
    /// An integer outside its range.
    Range { min: i64, max: i64 },
    /// Neither the pod manifest nor the image manifest gives the app.
    NoApp,
}

impl ManifestError {
    pub(crate) fn new(file: &str, path: String, value: Option<String>, rule: Rule) -> Self {
        ManifestError {
            file: file.to_owned(),
            path,
            value,
            rule,
        }
    }

    /// The file label given to the parser (the path for a file).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Where in the JSON the error is, as `apps[1].app.exec[0]`; empty for
    /// the whole file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The offending value as shown in the message (quoted, maybe cut).
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// The rule broken.
    pub fn rule(&self) -> &Rule {
        &self.rule
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = [Some(self.path.as_str()), self.value.as_deref()];
        let mut place = place.into_iter().flatten().filter(|part| !part.is_empty());
        write!(f, "{}", self.file)?;
        if let Some(first) = place.next() {
            write!(f, ": {first}")?;
        }
        for part in place {
            write!(f, " {part}")?;
        }
        write!(f, ": {}", self.rule)
    }
}

impl Error for ManifestError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.rule {
            Rule::Read(err) => Some(err),
            _ => None,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Read(err) => write!(f, "failed to read: {err}"),
            Rule::FileTooLarge { limit } => write!(f, "is larger than {limit} bytes"),
            Rule::Syntax {
                line,
                column,
                message,
            } => {
                write!(f, "invalid json at line {line} column {column}: {message}")
            }
            Rule::Shape {
                line,
                column,
                message,
            } => {
                write!(f, "{message} (line {line} column {column})")
            }
            Rule::AcKind { expected } => write!(f, "must be \"{expected}\""),
            Rule::Semver => f.write_str("must be a semantic version such as 1.30.0"),
            Rule::Empty => f.write_str("must not be empty"),
            Rule::AcName => f.write_str("must be lowercase letters, digits and single dashes"),
            Rule::AcIdentifier => f.write_str(
                "must be lowercase letters and digits joined by single '-', '.', '_', '~' or '/'",
            ),
            Rule::TooLong { limit } => write!(f, "is longer than {limit} bytes"),
            Rule::TooMany { limit } => write!(f, "has more than {limit} entries"),
            Rule::TooManyBytes { limit } => write!(f, "is larger than {limit} bytes in all"),
            Rule::Duplicate { first } => write!(f, "duplicates {first}"),
            Rule::Program => f.write_str("must be an absolute path or a bare program name"),
            Rule::NotAbsolute => f.write_str("must be an absolute path"),
            Rule::DotDot => f.write_str("must not have a \"..\" component"),
            Rule::Nul => f.write_str("must not hold a nul byte"),
            Rule::EnvName => f.write_str(
                "must start with a letter or '_' and hold only letters, digits, '_', '.' and '-'",
            ),
            Rule::EventName => f.write_str("must be \"pre-start\" or \"post-stop\""),
            Rule::VolumeKind => f.write_str("must be \"host\" or \"empty\""),
            Rule::Mode => f.write_str("must be an octal mode from \"0\" to \"07777\""),
            Rule::NoSuchVolume => f.write_str("names no volume of the pod"),
            Rule::IsolatorValue { expected } => write!(f, "must be {expected}"),
            Rule::Capability => f.write_str("is not a linux capability"),
            Rule::Quantity => {
                f.write_str("must be a quantity such as \"64Mi\", \"32M\", \"250m\" or 2")
            }
            Rule::Negative => f.write_str("must not be negative"),
            Rule::TooLarge => f.write_str("is too large"),
            Rule::Range { min, max } => write!(f, "must be an integer from {min} to {max}"),
            Rule::NoApp => f.write_str("is missing here and in the pod manifest"),
        }
    }
}

/// Shows a string value as a quoted, escaped literal, cut at
/// [`MAX_SHOWN_VALUE`] bytes. Escaping keeps control characters from a
/// manifest out of the user's terminal.
pub(crate) fn quote(value: &str) -> String {
    match cut(value) {
        Some(head) => format!("{head:?}..."),
        None => format!("{value:?}"),
    }
}

/// Shows any JSON value compactly, cut like [`quote`].
pub(crate) fn show_json(value: &serde_json::Value) -> String {
    if let serde_json::Value::String(text) = value {
        return quote(text);
    }
    let text = value.to_string();
    match cut(&text) {
        Some(head) => format!("{head}..."),
        None => text,
    }
}

/// The first [`MAX_SHOWN_VALUE`] bytes of `text` (on a character boundary)
/// when it is longer than that.
fn cut(text: &str) -> Option<&str> {
    if text.len() <= MAX_SHOWN_VALUE {
        return None;
    }
    let end = (0..=MAX_SHOWN_VALUE)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text.get(..end)
}
