//! Pod mode: the apps of an appc pod manifest, run in podinit's own root.

use podinit_supervisor::manifest::PodManifest;
use podinit_supervisor::pod::{Pod, PodEnd, PodOptions, Roots};
use podinit_supervisor::signals::{Signal, Signals};

use crate::Error;
use crate::cli::{Options, PodJob};
use crate::entrypoint::stop_leftovers;

/// Runs the pod of `job`; returns the pod's exit code.
pub fn run(options: &Options, job: &PodJob, signals: &Signals) -> Result<u8, Error> {
    let manifest = load(job)?;
    run_manifest(options, job, &manifest, signals, &[]).map(|end| end.code)
}

/// Reads and checks the manifest of `job`.
pub fn load(job: &PodJob) -> Result<PodManifest, Error> {
    PodManifest::from_file(&job.manifest).map_err(Error::Manifest)
}

/// Runs the apps of `manifest` until the pod has ended and nothing it
/// left is running. Besides SIGTERM and SIGINT, each of `stop_signals`
/// stops the pod instead of reaching the apps.
pub fn run_manifest(
    options: &Options,
    job: &PodJob,
    manifest: &PodManifest,
    signals: &Signals,
    stop_signals: &[Signal],
) -> Result<PodEnd, Error> {
    // No descriptor podinit inherited reaches an app.
    crate::close_inherited_fds(&[signals.raw_fd()]);

    // Everything is checked before the first app starts: the manifest
    // (by `load`), the status directory, every app's user and group.
    let pod_options = PodOptions {
        roots: Roots::Shared("/".into()),
        status_dir: job.status_dir.clone(),
        grace: options.grace,
        policy: job.policy.clone(),
        interactive: false,
        cgroup_tag: None,
    };
    let mut pod = Pod::prepare(manifest, &pod_options, signals).map_err(Error::Pod)?;
    for &signal in stop_signals {
        pod.stop_on(signal);
    }

    // From here on podinit must not die before the apps do: the loop
    // records and carries on.
    let end = pod.run_to_end().map_err(Error::Pod)?;
    stop_leftovers(options, signals)?;
    Ok(end)
}
