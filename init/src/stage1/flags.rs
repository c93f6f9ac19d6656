//! The command line of the stage1 entrypoints, parsed as leniently as the
//! runtime parses its own (stage1 contract, section 2): `--x=v` or
//! `--x v` for values, `--x` or `--x=true|false` for booleans, one dash or
//! two, flags and plain arguments in any order, `--` before a command.
//! A flag the entrypoint does not know is warned about and skipped: a
//! newer runtime may pass flags podinit has never heard of.

use std::ffi::OsString;

use crate::cli::UsageError;

/// Whether a flag takes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Value,
}

/// The flags one entrypoint knows.
pub type Spec = [(&'static str, Kind)];

/// A parsed command line.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    /// Known flags with their values, in order (`"true"` for a bare
    /// boolean); a flag given twice appears twice.
    flags: Vec<(&'static str, String)>,
    /// The plain arguments; the runtime puts the pod's UUID last.
    pub positional: Vec<OsString>,
    /// What follows `--`.
    pub command: Vec<OsString>,
}

impl Parsed {
    /// The last value given for `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(flag, _)| *flag == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the boolean `name` was set (and not to false).
    pub fn is_set(&self, name: &str) -> bool {
        self.value(name) == Some("true")
    }

    /// The last plain argument: the pod's UUID.
    pub fn uuid(&self) -> Result<String, UsageError> {
        let uuid = self
            .positional
            .last()
            .ok_or_else(|| UsageError("no pod UUID given".into()))?;
        // It names the pod's host name and cgroup: letters, digits and
        // dashes only, as a UUID is written, so that it cannot lead into
        // another directory; and short enough that `rkt-<uuid>` is a host
        // name (64 bytes at most).
        match uuid.to_str() {
            Some(text) if is_uuid_like(text) => Ok(text.to_owned()),
            _ => Err(UsageError(format!(
                "pod UUID {uuid:?}: must be 1 to 60 letters, digits and dashes"
            ))),
        }
    }
}

fn is_uuid_like(text: &str) -> bool {
    (1..=60).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

/// Parses `args` (argv after argv[0]) against `spec`.
pub fn parse(args: impl IntoIterator<Item = OsString>, spec: &Spec) -> Result<Parsed, UsageError> {
    let mut parsed = Parsed::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            parsed.command = args.collect();
            break;
        }
        let text = arg.to_string_lossy();
        let Some(flag) = text.strip_prefix("--").or_else(|| text.strip_prefix('-')) else {
            parsed.positional.push(arg);
            continue;
        };
        if flag.is_empty() {
            parsed.positional.push(arg);
            continue;
        }
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (flag, None),
        };
        let Some(&(known, kind)) = spec.iter().find(|(known, _)| *known == name) else {
            log::warn!("unknown flag --{name}: ignored");
            continue;
        };
        let value = match (kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (Kind::Bool, Some(value)) => boolean(name, &value)?,
            (Kind::Value, Some(value)) => value,
            (Kind::Value, None) => args
                .next()
                .ok_or_else(|| UsageError(format!("--{name} needs a value")))?
                .into_string()
                .map_err(|_| UsageError(format!("--{name}: value is not UTF-8")))?,
        };
        parsed.flags.push((known, value));
    }
    Ok(parsed)
}

/// A boolean's value as Go's flag package accepts it.
fn boolean(name: &str, value: &str) -> Result<String, UsageError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok("true".into()),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok("false".into()),
        _ => Err(UsageError(format!("--{name} {value:?}: not true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &Spec = &[
        ("net", Kind::Value),
        ("debug", Kind::Bool),
        ("interactive", Kind::Bool),
        ("local-config", Kind::Value),
    ];

    fn parse_list(list: &[&str]) -> Result<Parsed, UsageError> {
        parse(list.iter().map(OsString::from), SPEC)
    }

    #[test]
    fn values_booleans_and_the_uuid_last() {
        let parsed = parse_list(&[
            "--net=default",
            "--debug",
            "--interactive=false",
            "-local-config",
            "/etc/rkt",
            "--mystery=1",
            "--mds-token",
            "abc-123",
        ])
        .expect("parses");
        assert_eq!(parsed.value("net"), Some("default"));
        assert!(parsed.is_set("debug"));
        assert!(!parsed.is_set("interactive"));
        assert_eq!(parsed.value("local-config"), Some("/etc/rkt"));
        // An unknown flag without `=` cannot say whether it takes a value:
        // what follows it is a plain argument, and the last one wins.
        assert_eq!(parsed.uuid().expect("a uuid"), "abc-123");
    }

    #[test]
    fn a_uuid_cannot_lead_into_another_directory() {
        for bad in ["../../x", "a/b", "", "a.b", &"0".repeat(61)] {
            let parsed = parse_list(&["--net=none", bad]).expect("parses");
            assert!(parsed.uuid().is_err(), "{bad:?} was taken");
        }
        let uuid = "6f9c5c52-0000-4000-8000-000000000001";
        assert_eq!(
            parse_list(&[uuid]).expect("parses").uuid().as_deref(),
            Ok(uuid)
        );
    }

    #[test]
    fn a_command_follows_the_double_dash() {
        let parsed = parse_list(&["--net", "host", "--", "/bin/sh", "--debug"]).expect("parses");
        assert_eq!(parsed.value("net"), Some("host"));
        assert_eq!(parsed.command, ["/bin/sh", "--debug"]);
        assert!(!parsed.is_set("debug"));
    }

    #[test]
    fn errors_name_the_flag() {
        assert_eq!(
            parse_list(&["--net"]),
            Err(UsageError("--net needs a value".into()))
        );
        assert_eq!(
            parse_list(&["--debug=maybe", "u"]),
            Err(UsageError(r#"--debug "maybe": not true or false"#.into()))
        );
        let parsed = parse_list(&["--debug"]).expect("parses");
        assert_eq!(parsed.uuid(), Err(UsageError("no pod UUID given".into())));
    }
}
