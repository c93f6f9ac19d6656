//! Machine fixtures: an initramfs with podinit as `/init`, booted by a
//! real kernel under qemu, its serial console read back as text.
//!
//! `musl-target/test` installs qemu and fetches the kernel (Debian's cloud
//! kernel, into `target/kernel/vmlinuz`) before the tests run. Without
//! them a boot test skips, except under `CI=true`, where it fails: CI has
//! them, so their absence there is a broken set-up.
//!
//! Software emulation only (no KVM), no network, no reboot: a guest that
//! powers off or reboots ends qemu, which exits 0 either way, so the
//! console is the only witness of what happened.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{podinit, root, scratch_dir};

/// How long a boot may take from qemu's start to its exit. A boot takes a
/// few seconds; this leaves room for a loaded machine.
pub const BOOT_LIMIT: Duration = Duration::from_secs(120);

/// What every boot passes the kernel; tests add their own parameters.
const BASE_APPEND: &str = "console=ttyS0 panic=-1 quiet";

/// The kernel and qemu, when both are there; `None` (the test skips)
/// when one is missing outside CI.
pub fn machine_tools() -> Option<PathBuf> {
    let kernel = root().join("target/kernel/vmlinuz");
    let qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if kernel.is_file() && qemu && Path::new("/bin/busybox").is_file() {
        return Some(kernel);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "a boot test needs qemu-system-x86_64, /bin/busybox and {} (musl-target/test \
         installs and fetches them); under CI=true it fails without them",
        kernel.display()
    );
    eprintln!("skipped: needs qemu, busybox-static and the kernel");
    None
}

/// An initramfs built by `musl-target/build-initramfs` from `manifest`
/// (JSON text) with busybox, plus `files` (text, path in the image).
pub fn initramfs(tag: &str, manifest: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = scratch_dir(&format!("machine-{tag}"));
    let manifest_path = dir.join("pod.json");
    fs::write(&manifest_path, manifest).expect("write the manifest");
    let out = dir.join("initramfs.cpio.gz");
    let mut command = Command::new(root().join("musl-target/build-initramfs"));
    command
        .arg(&manifest_path)
        .arg(&out)
        .arg("--busybox")
        .arg("--podinit")
        .arg(podinit());
    for (index, (text, dest)) in files.iter().enumerate() {
        let source = dir.join(format!("file-{index}"));
        fs::write(&source, text).expect("write a file for the image");
        command
            .arg("--file")
            .arg(format!("{}:{dest}", source.display()));
    }
    let output = command.output().expect("run musl-target/build-initramfs");
    assert!(
        output.status.success(),
        "build-initramfs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// A machine booting under qemu.
pub struct Boot {
    child: Child,
    /// qemu's monitor, to press keys with.
    monitor: ChildStdin,
    console: PathBuf,
    started: Instant,
}

impl Drop for Boot {
    /// No qemu outlives its test. A boot the test gave up on keeps its
    /// files for a look; one that finished leaves nothing.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            if let Some(dir) = self.console.parent() {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }
}

/// What a boot left.
#[derive(Debug)]
pub struct Booted {
    /// Everything the serial console showed.
    pub console: String,
    /// From qemu's start to its exit.
    pub took: Duration,
}

impl Booted {
    /// The console's lines that start with `prefix`.
    pub fn lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.console
            .lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| line.starts_with(prefix))
            .collect()
    }

    /// Whether a console line is exactly `line`.
    pub fn has_line(&self, line: &str) -> bool {
        self.console
            .lines()
            .any(|seen| seen.trim_end_matches('\r') == line)
    }

    /// The record podinit printed for `app`: the text after
    /// `podinit: app <app>: `. Fails the test when there is not exactly one.
    pub fn status_of(&self, app: &str) -> &str {
        let prefix = format!("podinit: app {app}: ");
        let lines = self.lines_starting(&prefix);
        assert_eq!(lines.len(), 1, "one status line for {app}: {self}");
        &lines[0][prefix.len()..]
    }

    /// Fails the test unless the kernel powered the machine off (or
    /// restarted it, with `reboot`) and never panicked.
    pub fn assert_halted(&self, reboot: bool) {
        let (said, kernel) = if reboot {
            ("podinit: rebooting after ", "reboot: Restarting system")
        } else {
            ("podinit: powering off after ", "reboot: Power down")
        };
        assert!(!self.console.contains("Kernel panic"), "{self}");
        assert_eq!(self.lines_starting(said).len(), 1, "no {said:?}: {self}");
        assert!(self.console.contains(kernel), "no {kernel:?}: {self}");
    }

    /// The kernel's timestamp of its last line ("[    2.72] reboot: ..."),
    /// the guest's own boot-to-halt time.
    pub fn guest_seconds(&self) -> Option<f64> {
        let line = self
            .console
            .lines()
            .rfind(|line| line.contains("] reboot: "))?;
        let stamp = line.split_once('[')?.1.split_once(']')?.0;
        stamp.trim().parse().ok()
    }
}

impl std::fmt::Display for Booted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "after {:?}, the console:\n{}", self.took, self.console)
    }
}

impl Boot {
    /// Starts qemu: `kernel`, `initrd`, the base parameters and `append`.
    /// The initramfs's directory becomes the boot's: its console log is
    /// kept there, and it is removed when the boot went well.
    pub fn start(kernel: &Path, initrd: &Path, append: &str) -> Boot {
        let console = initrd.with_file_name("console.log");
        let _ = fs::remove_file(&console);
        let mut command = Command::new("qemu-system-x86_64");
        command
            .args(["-M", "pc", "-accel", "tcg", "-m", "256M", "-smp", "1"])
            .args(["-nographic", "-no-reboot", "-nic", "none"])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .args(["-monitor", "stdio"])
            .arg("-kernel")
            .arg(kernel)
            .arg("-initrd")
            .arg(initrd)
            .arg("-append")
            .arg(format!("{BASE_APPEND} {append}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let started = Instant::now();
        let mut child = command.spawn().expect("start qemu-system-x86_64");
        let monitor = child.stdin.take().expect("qemu's stdin");
        Boot {
            child,
            monitor,
            console,
            started,
        }
    }

    /// The console so far: the guest's lines, without the firmware's
    /// banner and the terminal escape sequences it sends.
    pub fn console(&self) -> String {
        let bytes = fs::read(&self.console).unwrap_or_default();
        after_firmware(&without_escapes(&String::from_utf8_lossy(&bytes))).to_owned()
    }

    /// Waits until the console shows `line` (a whole line); fails the test
    /// when the machine ends or [`BOOT_LIMIT`] passes first.
    pub fn wait_for_line(&mut self, line: &str) {
        while !self
            .console()
            .lines()
            .any(|seen| seen.trim_end_matches('\r') == line)
        {
            let ended = self.child.try_wait().expect("poll qemu").is_some();
            if ended || self.started.elapsed() > BOOT_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("no {line:?} on the console:\n{}", self.console());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Presses Ctrl-Alt-Del on the machine's keyboard.
    pub fn ctrl_alt_del(&mut self) {
        self.monitor
            .write_all(b"sendkey ctrl-alt-delete\n")
            .expect("write to qemu's monitor");
    }

    /// Waits for qemu to exit by itself: the guest powered off or
    /// rebooted. Kills it and fails the test after [`BOOT_LIMIT`].
    pub fn finish(&mut self) -> Booted {
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for qemu") {
                let booted = Booted {
                    console: self.console(),
                    took: self.started.elapsed(),
                };
                assert!(status.success(), "qemu exited with {status}: {booted}");
                return booted;
            }
            if self.started.elapsed() > BOOT_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the machine was still up after {BOOT_LIMIT:?}:\n{}",
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What follows the firmware's last words, `Booting from ROM...`: its
/// dots do not always come before the kernel's first output, and would
/// otherwise start the guest's first line.
fn after_firmware(text: &str) -> &str {
    const LAST_WORDS: &str = "Booting from ROM";
    match text.find(LAST_WORDS) {
        Some(at) => text[at + LAST_WORDS.len()..].trim_start_matches(['.', '\r', '\n']),
        None => text,
    }
}

/// `text` without ESC sequences: `ESC [ parameters letter`, or ESC and one
/// character. A terminal reset (`ESC c`), which the kernel sends with no
/// line break after the firmware's last words, becomes one.
fn without_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('c') => out.push('\n'),
            Some('[') => {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}
