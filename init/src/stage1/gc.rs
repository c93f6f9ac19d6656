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
    // `podinit-<uuid>-` and the 16 hex digits `run` adds, nothing else:
    // pod `abc`'s note must not fit pod `abc-def`'s cgroup.
    let stem = format!("podinit-{uuid}-");
    let named_for_pod = |name: &str| {
        name.strip_prefix(&stem).is_some_and(|rest| {
            rest.len() == 16 && rest.bytes().all(|byte| byte.is_ascii_hexdigit())
        })
    };
    dir.starts_with("/sys/fs/cgroup")
        && dir.components().all(|part| part != Component::ParentDir)
        && dir
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(named_for_pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cgroup_named_for_the_pod_is_collected() {
        let base = Path::new("/sys/fs/cgroup/unified");
        let of = |name: &str| base.join(name);
        assert!(is_pod_cgroup(&of("podinit-abc-0123456789abcdef"), "abc"));
        // Pod abc-def's cgroup, another pod's for `abc`.
        assert!(!is_pod_cgroup(
            &of("podinit-abc-def-0123456789abcdef"),
            "abc"
        ));
        assert!(!is_pod_cgroup(&of("podinit-0123456789abcdef"), "abc"));
        assert!(!is_pod_cgroup(
            &base.join("x/../podinit-abc-0123456789abcdef"),
            "abc"
        ));
        assert!(!is_pod_cgroup(
            Path::new("/tmp/podinit-abc-0123456789abcdef"),
            "abc"
        ));
    }
}
