//! Machine mode: podinit as the first process of a machine (an initramfs,
//! a micro VM, an appliance), where the kernel gives it nothing.
//!
//! The rule: podinit is the machine's init when it is PID 1 of the initial
//! PID namespace. It asks the kernel, which needs no /proc: as PID 1 it
//! disables Ctrl-Alt-Del (reboot(2), `LINUX_REBOOT_CMD_CAD_OFF`), which
//! the kernel allows only in the initial PID namespace (any other answers
//! EINVAL) and only with CAP_SYS_BOOT (EPERM). It is the call a machine's
//! init makes anyway, so that the key combination reaches it as SIGINT
//! instead of resetting the machine; elsewhere it changes nothing. PID 1
//! of a container is never taken for a machine's init, whatever its
//! arguments, and the probe is never made by a process that is not PID 1.
//!
//! The command line is then the kernel's, not a user's: the kernel passes
//! unknown parameters without a dot as arguments (`single`) or, with `=`,
//! as environment variables (`PODINIT_LOG=debug` works that way). podinit
//! takes no argument as a machine's init: those it is given are named
//! and ignored. Its own parameters are in [`params`].
//!
//! A machine's init must never exit (the kernel panics when it does), so
//! [`run`] never returns: whatever fails is reported on the console and
//! the machine is powered off.

mod params;
mod system;

use std::ffi::OsString;
use std::fs;
use std::time::Duration;

use podinit_supervisor::Pid;
use podinit_supervisor::pod::PodEnd;
use podinit_supervisor::reap::reap_exited;
use podinit_supervisor::signals::{Signal, Signals};
use rustix::process::getpid;
use rustix::system::RebootCommand;

use crate::cli::{Options, PodJob};
use crate::entrypoint::stop_leftovers;
use crate::podmode;
use params::{BootParams, Halt};

/// Whether podinit is the machine's init (see the module's rule). As
/// one, it has disabled Ctrl-Alt-Del by finding out.
pub fn is_machine_init() -> bool {
    detect(getpid() == Pid::INIT, || {
        rustix::system::reboot(RebootCommand::CadOff)
    })
}

/// The rule, with the probe passed in; the probe runs only for PID 1.
fn detect(pid1: bool, disable_cad: impl FnOnce() -> rustix::io::Result<()>) -> bool {
    pid1 && disable_cad().is_ok()
}

/// The machine's life, in order; the README's "Machine init" lists the
/// same steps. Never returns.
pub fn run(mut signals: Signals, args: impl Iterator<Item = OsString>) -> ! {
    // 1. The system: API file systems, the console, the hostname.
    system::mount_api_filesystems();
    system::console_on_stdio(&mut signals);
    system::set_hostname();

    // 2. podinit's kernel parameters; the kernel's leftovers are named.
    let params = read_params();
    let ignored: Vec<OsString> = args.collect();
    if !ignored.is_empty() {
        log::info!("ignoring the arguments the kernel passed: {ignored:?}");
    }

    // 3. The pod, until it has ended and nothing it left runs. From here
    //    on every failure is reported and leads to the halt.
    let options = Options {
        grace: params.grace,
        ..Options::default()
    };
    let job = PodJob {
        manifest: params.manifest.clone(),
        status_dir: params.status_dir.clone(),
        policy: params.policy.clone(),
    };
    let (end, apps) = run_pod(&options, &job, &signals);

    // 4. Whatever is still running: SIGTERM, grace, SIGKILL.
    if let Err(error) = stop_leftovers(&options, &signals) {
        log::error!("{error}");
    }

    // 5. Sync, take the statuses while /run is there, unmount.
    system::sync();
    let statuses = read_statuses(&job, &apps);
    system::unmount_all();
    system::sync();

    // 6. Each app's status on the console.
    let halt = halt_after(params.halt, end.and_then(|end| end.stopped_by));
    report(&statuses, end, halt);

    // 7. Power off, or reboot.
    finish(halt, &signals)
}

/// The parameters of `/proc/cmdline`, each problem reported.
fn read_params() -> BootParams {
    let cmdline = match fs::read_to_string("/proc/cmdline") {
        Ok(cmdline) => cmdline,
        Err(error) => {
            log::error!("cannot read /proc/cmdline, using the defaults: {error}");
            String::new()
        }
    };
    let (params, problems) = BootParams::parse(&cmdline);
    for problem in problems {
        log::warn!("{problem}");
    }
    params
}

/// Runs the pod; gives how it ended (nothing if it could not run) and the
/// names of its apps.
fn run_pod(options: &Options, job: &PodJob, signals: &Signals) -> (Option<PodEnd>, Vec<String>) {
    let manifest = match podmode::load(job) {
        Ok(manifest) => manifest,
        Err(error) => {
            log::error!("{error}");
            return (None, Vec::new());
        }
    };
    let apps = manifest
        .apps()
        .iter()
        .map(|app| app.name().to_owned())
        .collect();
    // SIGUSR2 powers a machine off, as busybox and s6 init have it.
    match podmode::run_manifest(options, job, &manifest, signals, &[Signal::USR2]) {
        Ok(end) => (Some(end), apps),
        Err(error) => {
            log::error!("{error}");
            (None, apps)
        }
    }
}

/// What follows the pod: Ctrl-Alt-Del (SIGINT) reboots, SIGTERM and
/// SIGUSR2 power off; a pod that ended by itself follows `podinit.halt`.
fn halt_after(configured: Halt, stopped_by: Option<Signal>) -> Halt {
    match stopped_by {
        Some(Signal::INT) => Halt::Reboot,
        Some(_) => Halt::PowerOff,
        None => configured,
    }
}

/// Each app's record as the pod left it in the status directory: the
/// JSON line, or why there is none.
fn read_statuses(job: &PodJob, apps: &[String]) -> Vec<(String, String)> {
    apps.iter()
        .map(|app| {
            let path = job.status_dir.join(format!("{app}.json"));
            let status = match fs::read_to_string(&path) {
                Ok(json) => json.trim_end().to_owned(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    "no record: it never ran".to_owned()
                }
                Err(error) => format!("cannot read {}: {error}", path.display()),
            };
            (app.clone(), status)
        })
        .collect()
}

/// Prints the statuses and what comes next on the console, whatever the
/// log level: they are the machine's last words.
fn report(statuses: &[(String, String)], end: Option<PodEnd>, halt: Halt) {
    use std::io::Write;
    let mut text = String::new();
    for (app, status) in statuses {
        text.push_str(&format!("podinit: app {app}: {status}\n"));
    }
    match end {
        Some(end) => text.push_str(&format!("podinit: the pod ended with {}\n", end.code)),
        None => text.push_str("podinit: the pod did not run\n"),
    }
    // Milliseconds by hand: formatting a float would pull float
    // formatting into the binary for this one line.
    let uptime = uptime().map_or(String::new(), |up| {
        format!(" after {}.{:03} s", up.as_secs(), up.subsec_millis())
    });
    let action = match halt {
        Halt::PowerOff => "powering off",
        Halt::Reboot => "rebooting",
    };
    text.push_str(&format!("podinit: {action}{uptime}\n"));
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Time since boot.
fn uptime() -> Option<Duration> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    Duration::try_from(now).ok()
}

/// Powers off or reboots. Should the kernel refuse, PID 1 stays, reaping
/// whatever appears, rather than exit and panic the kernel.
fn finish(halt: Halt, signals: &Signals) -> ! {
    let (command, what) = match halt {
        Halt::PowerOff => (RebootCommand::PowerOff, "power off"),
        Halt::Reboot => (RebootCommand::Restart, "reboot"),
    };
    if let Err(errno) = rustix::system::reboot(command) {
        log::error!("cannot {what}: {errno}; halting instead");
        if let Err(errno) = rustix::system::reboot(RebootCommand::Halt) {
            log::error!("cannot halt: {errno}; waiting for ever");
        }
    }
    loop {
        match signals.next(None) {
            Ok(_) => {
                let _ = reap_exited(|_, _| {});
            }
            // XXX: a signalfd that fails leaves nothing to wait on but
            // time; a second's sleep keeps PID 1 alive without spinning.
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pid_1_probes_and_only_a_yes_makes_a_machine() {
        let mut probed = false;
        assert!(!detect(false, || {
            probed = true;
            Ok(())
        }));
        assert!(
            !probed,
            "a process that is not PID 1 must not touch reboot(2)"
        );
        assert!(detect(true, || Ok(())));
        assert!(
            !detect(true, || Err(rustix::io::Errno::INVAL)),
            "a container"
        );
        assert!(
            !detect(true, || Err(rustix::io::Errno::PERM)),
            "no CAP_SYS_BOOT"
        );
    }

    #[test]
    fn signals_decide_the_halt_over_the_kernel_parameter() {
        assert_eq!(halt_after(Halt::PowerOff, Some(Signal::INT)), Halt::Reboot);
        assert_eq!(halt_after(Halt::Reboot, Some(Signal::TERM)), Halt::PowerOff);
        assert_eq!(halt_after(Halt::Reboot, Some(Signal::USR2)), Halt::PowerOff);
        assert_eq!(halt_after(Halt::Reboot, None), Halt::Reboot);
        assert_eq!(halt_after(Halt::PowerOff, None), Halt::PowerOff);
    }
}
