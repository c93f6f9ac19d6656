//! Volumes: what each of an app's mounts binds, and where empty volumes
//! live (stage1 contract, section 6).
//!
//! A `host` volume binds its `source`, which must exist. An `empty` volume
//! is a directory made once for the pod, with the volume's mode and owner,
//! under the pod's own directory, so that every app mounting it sees the
//! same files and the runtime removes it with the pod. A mount point that
//! no volume matches gets an implicit empty volume of the app's own.
//!
//! XXX: a mount's own `appVolume` that shares its name with a pod volume
//! shares that volume's directory too; the manifest module hands both out
//! as the same kind of value.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt, chown};
use std::path::{Path, PathBuf};

use crate::manifest::{MountSource, PodManifest, RuntimeApp, VolumeKind};

/// One bind an app gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeMount {
    /// The volume's name, for messages.
    pub name: String,
    /// What is bound: a host path, or an empty volume's directory.
    pub source: PathBuf,
    /// The absolute path inside the app's root.
    pub target: String,
    pub recursive: bool,
    pub read_only: bool,
    /// Whether device nodes in it open: a host volume keeps what its
    /// mount allows (an operator may bind `/dev/kvm`); an empty volume,
    /// made by podinit in the pod directory, opens none, or an app with
    /// CAP_MKNOD could make a node of the host's disk there and open it.
    pub devices: bool,
}

/// Why a volume cannot be given to an app.
#[derive(Debug)]
pub enum VolumeError {
    /// A host volume's source does not exist (or cannot be looked at).
    MissingSource {
        volume: String,
        source: PathBuf,
        error: io::Error,
    },
    /// An empty volume's directory could not be made.
    Create {
        volume: String,
        dir: PathBuf,
        error: io::Error,
    },
}

/// Checks every host volume the pod's apps mount, before anything is set
/// up: a missing source is an error naming the volume.
pub fn check_sources(manifest: &PodManifest) -> Result<(), VolumeError> {
    for app in manifest.apps() {
        for mount in manifest.mounts_of(app) {
            let MountSource::Volume(volume) = mount.source else {
                continue;
            };
            if let VolumeKind::Host { source, .. } = volume.kind() {
                if let Err(error) = fs::metadata(source) {
                    return Err(VolumeError::MissingSource {
                        volume: volume.name().to_owned(),
                        source: source.into(),
                        error,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The binds of `app`, making the directories of its empty volumes under
/// `dir` where they do not exist yet: `<dir>/<volume>` for named volumes,
/// `<dir>/.<app>/<mount point>` for implicit ones (an AC name never starts
/// with a dot, so the two never meet).
pub fn mounts_of(
    manifest: &PodManifest,
    app: &RuntimeApp,
    dir: &Path,
) -> Result<Vec<VolumeMount>, VolumeError> {
    let mut binds = Vec::new();
    for mount in manifest.mounts_of(app) {
        let (name, source, recursive, devices) = match mount.source {
            MountSource::Volume(volume) => match volume.kind() {
                VolumeKind::Host { source, recursive } => {
                    (volume.name(), PathBuf::from(source), *recursive, true)
                }
                VolumeKind::Empty { mode, uid, gid } => {
                    let path = dir.join(volume.name());
                    make_empty(volume.name(), &path, *mode, *uid, *gid)?;
                    (volume.name(), path, false, false)
                }
            },
            MountSource::ImplicitEmpty { name } => {
                let path = dir.join(format!(".{}", app.name())).join(name);
                make_empty(name, &path, 0o755, 0, 0)?;
                (name, path, false, false)
            }
        };
        binds.push(VolumeMount {
            name: name.to_owned(),
            source,
            target: mount.path.to_owned(),
            recursive,
            read_only: mount.read_only,
            devices,
        });
    }
    Ok(binds)
}

/// Makes an empty volume's directory with its mode and owner, once: the
/// first app to mount it creates it, the others find it.
fn make_empty(volume: &str, path: &Path, mode: u32, uid: u32, gid: u32) -> Result<(), VolumeError> {
    let fail = |error| VolumeError::Create {
        volume: volume.to_owned(),
        dir: path.to_owned(),
        error,
    };
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(parent)
            .map_err(fail)?;
    }
    fs::create_dir(path).map_err(fail)?;
    // The umask narrowed the mode given to mkdir: set it as asked.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(fail)?;
    chown(path, Some(uid), Some(gid)).map_err(fail)
}

impl fmt::Display for VolumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VolumeError::MissingSource {
                volume,
                source,
                error,
            } => write!(
                f,
                "volume {volume}: cannot use host source {}: {error}",
                source.display()
            ),
            VolumeError::Create { volume, dir, error } => write!(
                f,
                "volume {volume}: cannot create {}: {error}",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for VolumeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VolumeError::MissingSource { error, .. } | VolumeError::Create { error, .. } => {
                Some(error)
            }
        }
    }
}
