//! From bytes to `raw` structs, and JSON paths for messages.
//!
//! serde_json reports where it failed as a line and column. Users think in
//! JSON paths (`apps[0].app.exec`), so on an error the bytes before that
//! point are scanned again, tracking the open objects and arrays, to name
//! the value that failed.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::error::{ManifestError, Rule};
use super::limits::MAX_MANIFEST_BYTES;

/// A place in the manifest, built on the stack as validation descends:
/// `Root.key("apps").index(1).key("name")` displays as `apps[1].name`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum JsonPath<'a> {
    Root,
    Key(&'a JsonPath<'a>, &'static str),
    Index(&'a JsonPath<'a>, usize),
}

impl<'a> JsonPath<'a> {
    pub(crate) fn key(&'a self, key: &'static str) -> JsonPath<'a> {
        JsonPath::Key(self, key)
    }

    pub(crate) fn index(&'a self, index: usize) -> JsonPath<'a> {
        JsonPath::Index(self, index)
    }
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Root => Ok(()),
            JsonPath::Key(JsonPath::Root, key) => f.write_str(key),
            JsonPath::Key(parent, key) => write!(f, "{parent}.{key}"),
            JsonPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Parses a manifest of at most [`MAX_MANIFEST_BYTES`] into `T`.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8], file: &str) -> Result<T, ManifestError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        let rule = Rule::FileTooLarge {
            limit: MAX_MANIFEST_BYTES,
        };
        return Err(ManifestError::new(file, String::new(), None, rule));
    }
    serde_json::from_slice(bytes).map_err(|err| json_error(bytes, file, &err))
}

/// Turns a serde_json error into a [`ManifestError`] at the path where the
/// parser stopped.
fn json_error(bytes: &[u8], file: &str, err: &serde_json::Error) -> ManifestError {
    let (line, column) = (err.line(), err.column());
    let full = err.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    // A missing field is noticed at the closing brace, when the last value
    // of the object is complete; any other error is about the token that
    // ends where the parser stopped.
    let last_complete = message.starts_with("missing field");
    let rule = match err.classify() {
        Category::Data => Rule::Shape {
            line,
            column,
            message,
        },
        Category::Io | Category::Syntax | Category::Eof => Rule::Syntax {
            line,
            column,
            message,
        },
    };
    let path = offset_of(bytes, line, column)
        .map(|at| path_at(bytes, at, last_complete))
        .unwrap_or_default();
    ManifestError::new(file, path, None, rule)
}

/// The byte offset serde_json means by a 1-based line and a column that
/// counts the bytes already read on that line.
fn offset_of(bytes: &[u8], line: usize, column: usize) -> Option<usize> {
    let start = if line <= 1 {
        0
    } else {
        let newline = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)?;
        newline.0 + 1
    };
    Some((start + column).min(bytes.len()))
}

/// One open container while scanning.
enum Frame {
    /// An object, with the key whose value is being read.
    Object(Option<String>),
    /// An array, with the index of the element last started and whether
    /// that element is still being read.
    Array(usize, bool),
}

/// The JSON path of the value being read when the parser had consumed
/// `offset` bytes; `last_complete` when a token ending exactly there had
/// been read whole. Best effort on broken JSON; never panics.
pub(crate) fn path_at(bytes: &[u8], offset: usize, last_complete: bool) -> String {
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < offset.min(bytes.len()) {
        let Some(&byte) = bytes.get(i) else { break };
        let end = token_end(bytes, i);
        let complete = end < offset || (last_complete && end == offset);
        match byte {
            b'{' => start_value(&mut stack, Frame::Object(None)),
            b'[' => start_value(&mut stack, Frame::Array(0, false)),
            b'}' | b']' => {
                stack.pop();
                end_value(&mut stack);
            }
            b',' => next_element(&mut stack),
            b'"' => string(
                &mut stack,
                bytes.get(i + 1..end.saturating_sub(1)),
                complete,
            ),
            b if b.is_ascii_whitespace() || b == b':' => {}
            _ => scalar(&mut stack, complete),
        }
        i = end.max(i + 1);
    }
    render(&stack)
}

/// Where the token starting at `start` ends (exclusive).
fn token_end(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        Some(b'"') => {
            let mut i = start + 1;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'\\' => i += 2,
                    b'"' => return i + 1,
                    _ => i += 1,
                }
            }
            bytes.len()
        }
        Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') => {
            let rest = bytes.get(start..).unwrap_or_default();
            let len = rest
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                .count();
            start + len
        }
        _ => start + 1,
    }
}

/// A value begins: in an array it is the next element.
fn start_value(stack: &mut Vec<Frame>, frame: Frame) {
    if let Some(Frame::Array(_, reading)) = stack.last_mut() {
        *reading = true;
    }
    stack.push(frame);
}

/// A value is complete: its key or element is no longer being read.
fn end_value(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Object(key)) => *key = None,
        Some(Frame::Array(_, reading)) => *reading = false,
        None => {}
    }
}

fn next_element(stack: &mut [Frame]) {
    if let Some(Frame::Array(index, _)) = stack.last_mut() {
        *index += 1;
    }
}

/// A string is a key when its object has none yet, else a value.
fn string(stack: &mut [Frame], text: Option<&[u8]>, complete: bool) {
    if let Some(Frame::Object(key @ None)) = stack.last_mut() {
        *key = Some(String::from_utf8_lossy(text.unwrap_or_default()).into_owned());
        return;
    }
    scalar(stack, complete);
}

/// A number, string value, `true`, `false` or `null`: begun, and complete
/// unless the parser stopped inside it.
fn scalar(stack: &mut [Frame], complete: bool) {
    if let Some(Frame::Array(_, reading)) = stack.last_mut() {
        *reading = true;
    }
    if complete {
        end_value(stack);
    }
}

fn render(stack: &[Frame]) -> String {
    let mut out = String::new();
    for frame in stack {
        match frame {
            Frame::Object(Some(key)) => push_key(&mut out, key),
            Frame::Array(index, true) => out.push_str(&format!("[{index}]")),
            Frame::Object(None) | Frame::Array(_, false) => {}
        }
    }
    out
}

/// Appends `.key`, or `["key"]` for a key that is not a plain word.
fn push_key(out: &mut String, key: &str) {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        out.push_str(&format!("[{key:?}]"));
        return;
    }
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(json: &str, before: &str) -> String {
        let offset = json.find(before).expect("marker in test json");
        path_at(json.as_bytes(), offset, true)
    }

    #[test]
    fn path_of_a_key_value() {
        let json = r#"{"apps":[{"name":"a"},{"name":5}]}"#;
        assert_eq!(
            path_at(json.as_bytes(), json.find('5').unwrap() + 1, false),
            "apps[1].name"
        );
    }

    #[test]
    fn path_after_a_complete_value_is_its_container() {
        assert_eq!(at(r#"{"apps":[{"name":"a"}]}"#, "}]"), "apps[0]");
    }

    #[test]
    fn path_of_an_unterminated_string() {
        let json = r#"{"apps":[{"name":"ab"#;
        assert_eq!(path_at(json.as_bytes(), json.len(), false), "apps[0].name");
    }

    #[test]
    fn odd_keys_are_quoted() {
        let json = r#"{"a b":{"x":1"#;
        assert_eq!(path_at(json.as_bytes(), json.len(), false), "[\"a b\"].x");
    }

    #[test]
    fn path_display() {
        let root = JsonPath::Root;
        let apps = root.key("apps");
        let app = apps.index(3);
        assert_eq!(app.key("name").to_string(), "apps[3].name");
        assert_eq!(root.to_string(), "");
    }
}
