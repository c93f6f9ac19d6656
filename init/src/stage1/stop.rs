//! `stop [--force] <uuid>`: asks the pod to stop (SIGTERM to its PID 1,
//! which stops every app as pod mode does), or kills it outright
//! (`--force`: SIGKILL, and nothing can be recorded then).

use std::ffi::OsString;

use podinit_supervisor::namespaces;
use podinit_supervisor::signals::{self, Signal, Target};

use super::flags::{self, Kind, Spec};
use super::layout::PodDir;
use crate::Error;

const SPEC: &Spec = &[("force", Kind::Bool), ("debug", Kind::Bool)];

/// Signals the pod; 0 once sent, or when the pod has already exited.
pub fn stop(args: impl Iterator<Item = OsString>) -> Result<u8, Error> {
    let parsed = flags::parse(args, SPEC)?;
    parsed.uuid()?;
    let signal = if parsed.is_set("force") {
        Signal::KILL
    } else {
        Signal::TERM
    };
    let pid = PodDir::current()?.read_pid()?;
    // The pid may have been given to another process since the pod ended.
    if !namespaces::is_pod_init(pid) {
        log::info!("the pod has already exited");
        return Ok(0);
    }
    match signals::send(Target::Process(pid), signal) {
        Ok(()) => Ok(0),
        Err(error) if error.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => {
            log::info!("the pod has already exited");
            Ok(0)
        }
        Err(error) => Err(Error::system(
            format!("cannot send {signal} to the pod ({})", pid.as_raw_nonzero()),
            error,
        )),
    }
}
