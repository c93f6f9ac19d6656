//! `enter --pid=<pid> --appname=<app> -- <cmd> [args]`: runs a command in
//! a running pod, seeing what app `<app>` sees: the pod's namespaces, the
//! app's root with its mounts, the app's environment (stage1 contract,
//! section 5). stdin, stdout and stderr are passed through, signals
//! relayed, and the command's status returned.

use std::ffi::OsString;

use podinit_supervisor::Pid;
use podinit_supervisor::namespaces;
use podinit_supervisor::pod::app_environment;
use podinit_supervisor::rootfs;
use podinit_supervisor::signals::Signals;
use podinit_supervisor::spawn::{Program, SignalState};

use super::flags::{self, Kind, Spec};
use super::layout::PodDir;
use super::{Stage1Error, relay};
use crate::cli::UsageError;
use crate::{Error, logger};

const SPEC: &Spec = &[
    ("pid", Kind::Value),
    ("appname", Kind::Value),
    ("debug", Kind::Bool),
];

/// Runs the command in the pod; returns its exit code.
pub fn enter(args: impl Iterator<Item = OsString>, signals: &Signals) -> Result<u8, Error> {
    // 1. The command line.
    let parsed = flags::parse(args, SPEC)?;
    if parsed.is_set("debug") {
        logger::raise(2);
    }
    let pid = parsed
        .value("pid")
        .and_then(|text| text.parse().ok())
        .and_then(Pid::from_raw)
        .ok_or_else(|| UsageError("--pid: the pod's pid is needed".into()))?;
    let name = parsed
        .value("appname")
        .ok_or_else(|| UsageError("--appname: the app to enter is needed".into()))?;
    let command = if parsed.command.is_empty() {
        parsed.positional.clone()
    } else {
        parsed.command.clone()
    };
    let (file, args) = command
        .split_first()
        .ok_or_else(|| UsageError("no command given after --".into()))?;

    // 2. The app's environment and root, read before leaving the host's
    //    mount namespace; the root's path is the same in the pod's.
    let pod_dir = PodDir::current()?;
    let manifest = pod_dir.read_manifest()?;
    let app = manifest
        .app(name)
        .and_then(|runtime_app| runtime_app.app())
        .ok_or_else(|| Stage1Error::NoSuchApp(name.to_owned()))?;
    let mut program = Program::new(file.clone(), args.to_vec(), SignalState::Clean)
        .map_err(|_| UsageError("the command holds a NUL byte".into()))?;
    program
        .set_env(&app_environment(name, app))
        .map_err(|_| UsageError("the app's environment holds a NUL byte".into()))?;
    program.before_exec(rootfs::chroot_step(pod_dir.app_root(name)));

    // 3. The pod's namespaces; the command is the first child in its PID
    //    namespace from here. It gets stdin, stdout and stderr, and no other
    //    descriptor of the caller's: one naming a host directory would
    //    lead out of the app's root.
    crate::close_inherited_fds(&[signals.raw_fd()]);
    namespaces::join(pid).map_err(Stage1Error::Namespace)?;
    let child = program
        .spawn()
        .map_err(|error| Error::system(format!("cannot fork {}", program.name()), error))?;

    // 4. Its status is ours.
    relay::until_exit(child, signals)
}
