//! `gc [--local-config <dir>] <uuid>`: releases what a pod left outside its
//! directory. The only such thing is the cgroup directory of its apps,
//! which a pod killed outright (`stop --force`) could not remove; its path
//! is noted in the pod directory. Idempotent, and a pod that never started
//! has nothing to release.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use podinit_supervisor::tree;

use super::flags::{self, Kind, Spec};
use super::layout::PodDir;
use crate::Error;

const SPEC: &Spec = &[("local-config", Kind::Value), ("debug", Kind::Bool)];

/// Releases the pod's leftovers; 0 when nothing is left.
pub fn gc(args: impl Iterator<Item = OsString>) -> Result<u8, Error> {
    let parsed = flags::parse(args, SPEC)?;
    let uuid = parsed.uuid()?;
    let pod_dir = PodDir::current()?;
    let note = pod_dir.cgroup_note();
    let Ok(text) = std::fs::read_to_string(&note) else {
        log::debug!("no {}: nothing to release", note.display());
        return Ok(0);
    };
    let dir = PathBuf::from(text.trim_end());
    if !is_pod_cgroup(&dir, &uuid) {
        log::warn!(
            "{}: {} is no pod cgroup: left alone",
            note.display(),
            dir.display()
        );
        return Ok(0);
    }
    tree::remove_leftover(&dir)
        .map_err(|error| Error::system(format!("cannot remove cgroup {}", dir.display()), error))?;
    if let Err(error) = std::fs::remove_file(&note) {
        log::debug!("cannot remove {}: {error}", note.display());
    }
    Ok(0)
}

/// Whether `dir` looks like what the pod noted: an absolute path below the
/// cgroup file system, without `..`, named as `run` names the cgroups of
/// pod `uuid`. The note lies in the pod directory, which the runtime's
/// user can write: gc must not kill and remove any cgroup it is pointed
/// at, another pod's least of all.
///
/// XXX: a cgroup2 hierarchy mounted elsewhere than below `/sys/fs/cgroup`
/// is refused, and its leftovers stay for the runtime to remove.
fn is_pod_cgroup(dir: &Path, uuid: &str) -> bool {
    let stem = format!("podinit-{uuid}-");
    dir.starts_with("/sys/fs/cgroup")
        && dir.components().all(|part| part != Component::ParentDir)
        && dir
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(&stem))
}
