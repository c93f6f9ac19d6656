//! Pod mode: the apps of an appc pod manifest, run in podinit's own root.

use podinit_supervisor::manifest::PodManifest;
use podinit_supervisor::pod::{Pod, PodOptions, Roots};
use podinit_supervisor::signals::Signals;

use crate::Error;
use crate::cli::{Options, PodJob};
use crate::entrypoint::stop_leftovers;

/// Runs the pod of `job`; returns the pod's exit code.
pub fn run(options: &Options, job: &PodJob, signals: &Signals) -> Result<u8, Error> {
    // Everything is checked before the first app starts: the manifest,
    // the status directory, every app's user and group.
    let manifest = PodManifest::from_file(&job.manifest).map_err(Error::Manifest)?;

    // No descriptor podinit inherited reaches an app.
    crate::close_inherited_fds(&[signals.raw_fd()]);

    let pod_options = PodOptions {
        roots: Roots::Shared("/".into()),
        status_dir: job.status_dir.clone(),
        grace: options.grace,
        policy: job.policy.clone(),
        interactive: false,
    };
    let pod = Pod::prepare(&manifest, &pod_options, signals).map_err(Error::Pod)?;

    // From here on podinit must not die before the apps do: the loop
    // records and carries on.
    let code = pod.run().map_err(Error::Pod)?;
    stop_leftovers(options, signals)?;
    Ok(code)
}
