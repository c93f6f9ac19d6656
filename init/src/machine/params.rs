//! The kernel command line, as far as it speaks to podinit.
//!
//! Parameters with a dot in their name never reach init as arguments or
//! environment: the kernel takes them for parameters of modules (see
//! `unknown_bootoption` in the kernel's init/main.c). podinit's own
//! (`podinit.pod=...`) are therefore read from `/proc/cmdline`. Parsing is
//! pure; reading the file is the caller's.

use std::path::PathBuf;
use std::time::Duration;

use podinit_supervisor::pod::ExitPolicy;

use crate::cli::{DEFAULT_GRACE, DEFAULT_STATUS_DIR, parse_duration};

/// Where the machine's pod manifest is unless `podinit.pod` says.
pub const DEFAULT_MANIFEST: &str = "/etc/podinit/pod.json";

/// What the machine does once the pod has ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    PowerOff,
    Reboot,
}

/// podinit's parameters on the kernel command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootParams {
    /// `podinit.pod=PATH`: the pod manifest.
    pub manifest: PathBuf,
    /// `podinit.status=DIR`: where the apps' status records go.
    pub status_dir: PathBuf,
    /// `podinit.halt=poweroff|reboot`: what follows the pod's end.
    pub halt: Halt,
    /// `podinit.grace=DURATION`: between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// `podinit.policy=all|any|main=APP`: when the pod ends, as
    /// `--exit-policy`.
    pub policy: ExitPolicy,
}

impl Default for BootParams {
    fn default() -> BootParams {
        BootParams {
            manifest: DEFAULT_MANIFEST.into(),
            status_dir: DEFAULT_STATUS_DIR.into(),
            halt: Halt::PowerOff,
            grace: DEFAULT_GRACE,
            policy: ExitPolicy::AllExit,
        }
    }
}

impl BootParams {
    /// podinit's parameters in `cmdline` (the text of `/proc/cmdline`),
    /// and a message for each `podinit.` parameter that made no sense.
    /// A parameter given twice takes its last value, as the kernel's own
    /// do; what follows `--` belongs to init's arguments, not here.
    pub fn parse(cmdline: &str) -> (BootParams, Vec<String>) {
        let mut params = BootParams::default();
        let mut problems = Vec::new();
        for word in words(cmdline).into_iter().take_while(|word| word != "--") {
            let Some(key) = word.strip_prefix("podinit.") else {
                continue;
            };
            if let Err(why) = params.set(key) {
                problems.push(format!("kernel parameter {word:?}: {why}"));
            }
        }
        (params, problems)
    }

    /// Applies `key=value` (the part after `podinit.`).
    fn set(&mut self, key_value: &str) -> Result<(), &'static str> {
        let (key, value) = key_value.split_once('=').ok_or("needs a value")?;
        if value.is_empty() {
            return Err("needs a value");
        }
        match key {
            "pod" => self.manifest = value.into(),
            "status" => self.status_dir = value.into(),
            "halt" => {
                self.halt = match value {
                    "poweroff" => Halt::PowerOff,
                    "reboot" => Halt::Reboot,
                    _ => return Err("must be poweroff or reboot"),
                }
            }
            "grace" => self.grace = parse_duration(value).ok_or("not a duration")?,
            "policy" => {
                self.policy = ExitPolicy::parse(value).ok_or("must be all, any or main=APP")?
            }
            _ => return Err("not one of pod, status, halt, grace, policy"),
        }
        Ok(())
    }
}

/// The words of a kernel command line: separated by white space, where
/// double quotes keep spaces in a word and are themselves dropped, as the
/// kernel's `next_arg` does (`name="a b"` is `name=a b`).
///
/// XXX: every quote is dropped, where the kernel drops only those around
/// the value or the whole word; a path with a quote in it is not read as
/// the kernel would.
fn words(cmdline: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parse(cmdline: &str) -> BootParams {
        let (params, problems) = BootParams::parse(cmdline);
        assert_eq!(problems, Vec::<String>::new(), "{cmdline}");
        params
    }

    #[test]
    fn nothing_for_podinit_gives_the_defaults() {
        let params = parse("BOOT_IMAGE=/vmlinuz console=ttyS0 quiet panic=-1\n");
        assert_eq!(params, BootParams::default());
        assert_eq!(params.manifest, PathBuf::from("/etc/podinit/pod.json"));
        assert_eq!(params.status_dir, PathBuf::from("/run/podinit/status"));
        assert_eq!(params.halt, Halt::PowerOff);
    }

    #[test]
    fn every_parameter_is_read() {
        let params = parse(
            "console=ttyS0 podinit.pod=/srv/pod.json podinit.status=/tmp/st \
             podinit.halt=reboot podinit.grace=1500ms podinit.policy=main=web",
        );
        assert_eq!(
            params,
            BootParams {
                manifest: "/srv/pod.json".into(),
                status_dir: "/tmp/st".into(),
                halt: Halt::Reboot,
                grace: Duration::from_millis(1500),
                policy: ExitPolicy::Main("web".into()),
            }
        );
    }

    #[test]
    fn the_last_of_a_repeated_parameter_wins() {
        let params =
            parse("podinit.halt=reboot podinit.halt=poweroff podinit.pod=/a podinit.pod=/b");
        assert_eq!(params.halt, Halt::PowerOff);
        assert_eq!(params.manifest, PathBuf::from("/b"));
    }

    #[test]
    fn quotes_keep_spaces_and_are_dropped() {
        let params = parse(r#"podinit.pod="/my pods/a.json" "podinit.status=/x y" quiet"#);
        assert_eq!(params.manifest, PathBuf::from("/my pods/a.json"));
        assert_eq!(params.status_dir, PathBuf::from("/x y"));
    }

    /// Regression: what follows `--` is init's argument list, which a
    /// program of the pod could be handed, not podinit's parameters.
    #[test]
    fn nothing_after_a_double_dash_is_read() {
        let params = parse("quiet -- podinit.halt=reboot");
        assert_eq!(params.halt, Halt::PowerOff);
    }

    #[test]
    fn bad_parameters_are_named_and_leave_the_default() {
        let (params, problems) = BootParams::parse(
            "podinit.halt=sleep podinit.grace=soon podinit.pod podinit.status= podinit.bogus=1 \
             podinit.policy=some",
        );
        assert_eq!(params, BootParams::default());
        assert_eq!(
            problems,
            [
                r#"kernel parameter "podinit.halt=sleep": must be poweroff or reboot"#,
                r#"kernel parameter "podinit.grace=soon": not a duration"#,
                r#"kernel parameter "podinit.pod": needs a value"#,
                r#"kernel parameter "podinit.status=": needs a value"#,
                r#"kernel parameter "podinit.bogus=1": not one of pod, status, halt, grace, policy"#,
                r#"kernel parameter "podinit.policy=some": must be all, any or main=APP"#,
            ]
        );
    }

    #[test]
    fn words_split_like_the_kernel() {
        assert_eq!(words("  a  b\tc\n"), ["a", "b", "c"]);
        assert_eq!(words(r#"x="1 2" "y z" """#), ["x=1 2", "y z", ""]);
        assert_eq!(words(""), Vec::<String>::new());
    }

    proptest! {
        /// No command line makes the parser panic, and a podinit.pod
        /// without spaces or quotes is always found.
        #[test]
        fn any_command_line_parses(
            before in "[ -~]{0,40}",
            path in "/[a-zA-Z0-9/._-]{1,20}",
        ) {
            let _ = BootParams::parse(&before);
            let cmdline = format!("{} podinit.pod={path}", before.replace(['"', '-'], ""));
            let (params, _) = BootParams::parse(&cmdline);
            prop_assert_eq!(params.manifest, PathBuf::from(path));
        }
    }
}
