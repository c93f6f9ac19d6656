//! A program that cannot be started: 127 when it is not found, 126 when it
//! is found but cannot be executed, and one line on stderr,
//! `podinit: cannot exec <program>: <os error>`.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use podinit_tests::{Finished, as_pid1, have_root, not_pid1, run, scratch_dir};

/// The one message podinit must print for `program` failing with `errno`,
/// worded by the same libc (both are musl builds).
fn message(program: &str, errno: i32) -> String {
    let error = io::Error::from_raw_os_error(errno);
    format!("podinit: cannot exec {program}: {error}\n")
}

fn assert_exec_failure(finished: &Finished, program: &str, errno: i32, code: i32) {
    assert_eq!(finished.code, code, "{program}: {finished:?}");
    assert_eq!(finished.stderr, message(program, errno), "{program}");
    assert_eq!(finished.stdout, "", "{program}");
}

/// A file in a scratch directory with `mode` and `contents`.
fn file(dir: &Path, name: &str, mode: u32, contents: &[u8]) -> String {
    let path = dir.join(name);
    fs::write(&path, contents).expect("write a test file");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path.into_os_string().into_string().expect("a UTF-8 path")
}

#[test]
fn program_not_in_path_exits_127() {
    if !have_root() {
        return;
    }
    let program = "podinit-test-no-such-program";
    let finished = run(as_pid1(&[program, "arg"]));
    assert_exec_failure(&finished, program, libc::ENOENT, 127);
}

#[test]
fn missing_path_exits_127() {
    if !have_root() {
        return;
    }
    let program = "/nonexistent/podinit-test/program";
    assert_exec_failure(&run(as_pid1(&[program])), program, libc::ENOENT, 127);
}

#[test]
fn file_without_execute_permission_exits_126() {
    if !have_root() {
        return;
    }
    let dir = scratch_dir("exec-noperm");
    let program = file(&dir, "script", 0o644, b"#!/bin/sh\nexit 0\n");
    let finished = run(as_pid1(&[&program]));
    let _ = fs::remove_dir_all(&dir);
    assert_exec_failure(&finished, &program, libc::EACCES, 126);
}

#[test]
fn executable_file_in_no_known_format_exits_126() {
    if !have_root() {
        return;
    }
    let dir = scratch_dir("exec-noformat");
    let program = file(&dir, "garbage", 0o755, b"\x01\x02 not a program\n");
    let finished = run(as_pid1(&[&program]));
    let _ = fs::remove_dir_all(&dir);
    assert_exec_failure(&finished, &program, libc::ENOEXEC, 126);
}

#[test]
fn directory_exits_126() {
    if !have_root() {
        return;
    }
    let dir = scratch_dir("exec-dir");
    let program = dir.to_str().expect("a UTF-8 path").to_owned();
    let finished = run(as_pid1(&[&program]));
    let _ = fs::remove_dir_all(&dir);
    assert_exec_failure(&finished, &program, libc::EACCES, 126);
}

#[test]
fn exec_failure_is_reported_the_same_when_not_pid1() {
    let program = "podinit-test-no-such-program";
    let finished = run(not_pid1(&[program]));
    assert_exec_failure(&finished, program, libc::ENOENT, 127);
    assert_eq!(finished.killed_by, None, "{finished:?}");
}
