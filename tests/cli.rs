//! The command line: usage errors exit 120 with a message that names the
//! bad argument, `--help` and `--version` print on stdout and exit 0,
//! options end at the program, and everything podinit says goes to stderr
//! as `podinit: …` lines.

use podinit_tests::{Finished, as_pid1, have_root, not_pid1, root, run, workload_arg};

/// Bad command lines and the text their message must hold. The program,
/// when there is one, would print: nothing must run.
const USAGE_ERRORS: &[(&[&str], &str)] = &[
    (&["--bogus", "echo", "ran"], "--bogus"),
    (&["-x", "echo", "ran"], "-x"),
    (&["-sx", "echo", "ran"], "-x"),
    (&["--grace", "soon", "echo", "ran"], "soon"),
    (&["--grace=5parsecs", "echo", "ran"], "5parsecs"),
    (&["--stop-timeout", "-1", "echo", "ran"], "-1"),
    (&["-e", "256", "echo", "ran"], "256"),
    (&["-e", "three", "echo", "ran"], "three"),
    (&["-e"], "-e"),
    (&["--grace"], "--grace"),
    (&["-r", "TERM", "echo", "ran"], "TERM"),
    (&["-r", "TERM:NOPE", "echo", "ran"], "TERM:NOPE"),
    (&["-p", "SIGNOPE", "echo", "ran"], "SIGNOPE"),
    (&["--subreaper=yes", "echo", "ran"], "--subreaper"),
    // Long-only options have no short form.
    (&["-G", "1", "echo", "ran"], "-G"),
    (&[], "program"),
    (&["-s", "-v"], "program"),
    (&["--"], "program"),
];

#[test]
fn usage_errors_exit_120_and_name_the_bad_argument() {
    for (args, named) in USAGE_ERRORS {
        let finished = run(not_pid1(args));
        assert_eq!(finished.code, 120, "podinit {args:?}: {finished:?}");
        assert_eq!(finished.stdout, "", "podinit {args:?} ran the program");
        let lines = finished.stderr_lines();
        assert_eq!(lines.len(), 1, "podinit {args:?}: one line: {lines:?}");
        assert!(
            lines[0].starts_with("podinit: ") && lines[0].contains(named),
            "podinit {args:?}: the message must name {named:?}: {:?}",
            lines[0]
        );
    }
}

#[test]
fn help_prints_usage_on_stdout_and_exits_0() {
    for args in [&["-h"][..], &["--help"], &["-v", "--help", "echo", "ran"]] {
        let finished = run(not_pid1(args));
        assert_eq!(finished.code, 0, "podinit {args:?}: {finished:?}");
        assert!(
            finished.stdout.starts_with("usage: podinit "),
            "podinit {args:?}: {}",
            finished.stdout
        );
        assert_eq!(finished.stderr, "", "podinit {args:?}");
    }
}

/// Every option the README's table lists appears in `--help`.
#[test]
fn help_lists_every_option_of_the_readme() {
    let help = run(not_pid1(&["--help"])).stdout;
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let options = readme_options(&readme);
    assert!(
        options.len() >= 12,
        "options found in the README: {options:?}"
    );
    for option in options {
        assert!(help.contains(&option), "--help does not list {option}");
    }
}

/// The `--name` in the first column of each row of the README's option
/// table.
fn readme_options(readme: &str) -> Vec<String> {
    readme
        .lines()
        .filter(|line| line.starts_with("| `-"))
        .filter_map(|line| {
            let cell = line.split('|').nth(1)?;
            let long = cell.split('`').find(|part| part.starts_with("--"))?;
            Some(long.split_whitespace().next()?.to_owned())
        })
        .collect()
}

#[test]
fn version_prints_the_package_version_on_stdout_and_exits_0() {
    let expected = format!("podinit {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["-V", "--version"] {
        let finished = run(not_pid1(&[flag]));
        assert_eq!(finished.code, 0, "{flag}: {finished:?}");
        assert_eq!(finished.stdout, expected, "{flag}");
        assert_eq!(finished.stderr, "", "{flag}");
    }
}

/// Options stop at the program, so its own options need no `--`.
#[test]
fn options_end_at_the_program() {
    if !have_root() {
        return;
    }
    let finished = run(as_pid1(&[
        "-s",
        "sh",
        "-c",
        "echo \"$@\"; exit 3",
        "sh",
        "-e",
        "9",
    ]));
    assert_eq!(finished.code, 3, "{finished:?}");
    assert_eq!(finished.stdout, "-e 9\n");
    let finished = run(as_pid1(&["--", "sh", "-c", "exit 4"]));
    assert_eq!(finished.code, 4, "{finished:?}");
}

/// At the most verbose level, with orphans and leftovers to talk about,
/// every line podinit writes is on stderr as `podinit: <lowercase text>`,
/// and stdout holds only what the program printed.
#[test]
fn logs_go_to_stderr_only_as_podinit_lines() {
    if !have_root() {
        return;
    }
    let mut command = as_pid1(&["--grace", "0", &workload_arg(), "leave", "resist", "5"]);
    command.env("PODINIT_LOG", "trace");
    let finished = run(command);
    assert_eq!(finished.code, 5, "{finished:?}");
    assert_log_lines(&finished);
    assert!(
        finished.stderr.contains("podinit: debug: "),
        "trace level logs debug lines: {}",
        finished.stderr
    );
    for line in finished.stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            matches!(words.as_slice(), ["ready", _, _] | ["term", _]),
            "a line on stdout that the program did not print: {line:?}"
        );
    }
}

fn assert_log_lines(finished: &Finished) {
    for line in finished.stderr_lines() {
        let text = line.strip_prefix("podinit: ");
        let first = text.and_then(|text| text.chars().next());
        assert!(
            first.is_some_and(|c| !c.is_uppercase()),
            "not a `podinit: <lowercase text>` line: {line:?}"
        );
    }
}
