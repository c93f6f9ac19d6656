//! The checked pod manifest the runner works from. Values are built only by
//! `validate`, so each accessor returns something that already satisfies
//! the rules in the module documentation.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::error::{ManifestError, Rule};
use super::isolator::Isolator;
use super::limits::MAX_MANIFEST_BYTES;
use super::{json, raw, validate};

/// The `PATH` an app gets when its environment sets none (stage1 contract,
/// section 6).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A checked appc pod manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct PodManifest {
    pub(super) ac_version: String,
    pub(super) apps: Vec<RuntimeApp>,
    pub(super) volumes: Vec<Volume>,
    pub(super) isolators: Vec<Isolator>,
    pub(super) annotations: Vec<(String, String)>,
    pub(super) ports: Vec<Value>,
}

/// One app of the pod: its name, its image, and what to run.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeApp {
    pub(super) name: String,
    pub(super) image: Image,
    pub(super) app: Option<App>,
    pub(super) read_only_rootfs: bool,
    pub(super) mounts: Vec<Mount>,
    pub(super) annotations: Vec<(String, String)>,
}

/// The image an app comes from. Carried, not checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Image {
    pub(super) name: String,
    pub(super) id: Option<String>,
    pub(super) labels: Vec<(String, String)>,
}

/// What to run and how: the appc `app` object.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    pub(super) exec: Vec<String>,
    pub(super) user: Option<String>,
    pub(super) group: Option<String>,
    pub(super) supplementary_gids: Vec<u32>,
    pub(super) working_directory: Option<String>,
    pub(super) environment: Vec<(String, String)>,
    pub(super) event_handlers: Vec<EventHandler>,
    pub(super) mount_points: Vec<MountPoint>,
    pub(super) ports: Vec<Value>,
    pub(super) isolators: Vec<Isolator>,
}

/// When an event handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `pre-start`: before the app, in its root.
    PreStart,
    /// `post-stop`: after the app has exited.
    PostStop,
}

/// A command run at an event of the app's life.
#[derive(Clone, Debug, PartialEq)]
pub struct EventHandler {
    pub(super) kind: EventKind,
    pub(super) exec: Vec<String>,
}

/// A place in the app's root where a volume may be mounted.
#[derive(Clone, Debug, PartialEq)]
pub struct MountPoint {
    pub(super) name: String,
    pub(super) path: String,
    pub(super) read_only: bool,
}

/// An explicit mount of the pod manifest: a volume at a path of the app.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    pub(super) volume: String,
    pub(super) path: String,
    pub(super) app_volume: Option<Volume>,
}

/// A volume of the pod (or of one mount).
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    pub(super) name: String,
    pub(super) kind: VolumeKind,
    pub(super) read_only: Option<bool>,
}

/// What a volume is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeKind {
    /// A directory of the host, bound in; `recursive` (default true) binds
    /// the mounts under it too.
    Host { source: String, recursive: bool },
    /// A fresh directory shared by the apps that mount it; defaults `0755`,
    /// uid 0, gid 0.
    Empty { mode: u32, uid: u32, gid: u32 },
}

/// One mount an app gets, after matching its mount points to volumes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AppMount<'a> {
    /// The absolute target path inside the app's root.
    pub path: &'a str,
    /// What is mounted there.
    pub source: MountSource<'a>,
    /// Whether the mount is read-only.
    pub read_only: bool,
}

/// What an [`AppMount`] mounts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MountSource<'a> {
    /// A volume of the pod, or a mount's own `appVolume`.
    Volume(&'a Volume),
    /// A mount point that no volume matches gets a fresh empty directory
    /// of its own, named after the mount point.
    ImplicitEmpty { name: &'a str },
}

impl PodManifest {
    /// Reads and checks a pod manifest file; the path labels the messages.
    pub fn from_file(path: impl AsRef<Path>) -> Result<PodManifest, ManifestError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let bytes = read_limited(path, &label)?;
        PodManifest::from_slice(&bytes, &label)
    }

    /// Parses and checks a pod manifest; `file` labels the messages.
    pub fn from_slice(bytes: &[u8], file: &str) -> Result<PodManifest, ManifestError> {
        let raw: raw::Pod = json::parse(bytes, file)?;
        validate::pod(raw, file)
    }

    /// The version of the runtime that wrote the manifest.
    pub fn ac_version(&self) -> &str {
        &self.ac_version
    }

    /// The apps, in manifest order. May be empty (a pod waiting for apps).
    pub fn apps(&self) -> &[RuntimeApp] {
        &self.apps
    }

    pub fn app(&self, name: &str) -> Option<&RuntimeApp> {
        self.apps.iter().find(|app| app.name == name)
    }

    /// For filling in a missing `app` (see
    /// [`RuntimeApp::fill_from_image_manifest`]).
    pub fn app_mut(&mut self, name: &str) -> Option<&mut RuntimeApp> {
        self.apps.iter_mut().find(|app| app.name == name)
    }

    pub fn volumes(&self) -> &[Volume] {
        &self.volumes
    }

    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes.iter().find(|volume| volume.name == name)
    }

    /// Pod-level isolators, each name once (the later of two wins).
    pub fn isolators(&self) -> &[Isolator] {
        &self.isolators
    }

    pub fn annotations(&self) -> &[(String, String)] {
        &self.annotations
    }

    /// The value of an annotation, the last if given twice.
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.annotations
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The pod's port forwards, as JSON: podinit publishes none.
    pub fn ports(&self) -> &[Value] {
        &self.ports
    }

    /// The mounts `app` gets, by the appc rule: each `mounts` entry
    /// first; then each mount point whose path no entry covers, matched to
    /// the pod volume of its name, else to an implicit empty volume. A
    /// volume's `readOnly`, when given, overrides the mount point's. Of two
    /// mount points with one path, the first wins. Paths are compared as
    /// written (`/data` and `/data/` differ).
    pub fn mounts_of<'a>(&'a self, app: &'a RuntimeApp) -> Vec<AppMount<'a>> {
        let points = app
            .app
            .as_ref()
            .map_or(&[][..], |a| a.mount_points.as_slice());
        let mut out: Vec<AppMount<'a>> = app
            .mounts
            .iter()
            .filter_map(|m| self.explicit(m, points))
            .collect();
        for point in points {
            if out.iter().any(|m| m.path == point.path) {
                continue;
            }
            out.push(self.implicit(point));
        }
        out
    }

    /// An explicit mount; `None` only for a volume that validation has
    /// already refused.
    fn explicit<'a>(&'a self, mount: &'a Mount, points: &[MountPoint]) -> Option<AppMount<'a>> {
        let volume = mount
            .app_volume
            .as_ref()
            .or_else(|| self.volume(&mount.volume))?;
        let point_read_only = points.iter().any(|p| p.path == mount.path && p.read_only);
        let read_only = volume.read_only.unwrap_or(point_read_only);
        Some(AppMount {
            path: &mount.path,
            source: MountSource::Volume(volume),
            read_only,
        })
    }

    fn implicit<'a>(&'a self, point: &'a MountPoint) -> AppMount<'a> {
        match self.volume(&point.name) {
            Some(volume) => AppMount {
                path: &point.path,
                source: MountSource::Volume(volume),
                read_only: volume.read_only.unwrap_or(point.read_only),
            },
            None => AppMount {
                path: &point.path,
                source: MountSource::ImplicitEmpty { name: &point.name },
                read_only: point.read_only,
            },
        }
    }
}

/// Writes the manifest back as appc JSON, in canonical form.
impl Serialize for PodManifest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(serializer)
    }
}

impl RuntimeApp {
    /// The app's name: an AC name, safe as a file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn image(&self) -> &Image {
        &self.image
    }

    /// What to run; `None` until filled in from the image manifest when the
    /// pod manifest gives none.
    pub fn app(&self) -> Option<&App> {
        self.app.as_ref()
    }

    pub fn read_only_rootfs(&self) -> bool {
        self.read_only_rootfs
    }

    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    pub fn annotations(&self) -> &[(String, String)] {
        &self.annotations
    }

    /// Fills in a missing `app` from the app's image manifest
    /// (`stage1/rootfs/opt/stage2/<app>/manifest`), checked by the same
    /// rules; `file` labels the messages. Does nothing when the pod
    /// manifest gave an `app`: that one wins.
    pub fn fill_from_image_manifest(
        &mut self,
        bytes: &[u8],
        file: &str,
    ) -> Result<(), ManifestError> {
        if self.app.is_none() {
            self.app = Some(validate::image_app(bytes, file)?);
        }
        Ok(())
    }

    /// As [`RuntimeApp::fill_from_image_manifest`], reading the file.
    pub fn fill_from_image_manifest_file(
        &mut self,
        path: impl AsRef<Path>,
    ) -> Result<(), ManifestError> {
        if self.app.is_some() {
            return Ok(());
        }
        let path = path.as_ref();
        let label = path.display().to_string();
        let bytes = read_limited(path, &label)?;
        self.fill_from_image_manifest(&bytes, &label)
    }
}

impl Image {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }
}

impl App {
    /// argv: never empty; `exec[0]` absolute or a bare name for PATH.
    pub fn exec(&self) -> &[String] {
        &self.exec
    }

    /// The user as written (a name, a number or a path); `"0"` when absent.
    pub fn user(&self) -> &str {
        self.user.as_deref().unwrap_or("0")
    }

    /// The group as written (a name, a number or a path); `"0"` when absent.
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or("0")
    }

    pub fn supplementary_gids(&self) -> &[u32] {
        &self.supplementary_gids
    }

    /// An absolute path; `/` when absent.
    pub fn working_directory(&self) -> &str {
        self.working_directory.as_deref().unwrap_or("/")
    }

    /// The app's own environment, each name once, in manifest order. The
    /// runner adds `AC_APP_NAME` and, when absent, `PATH` ([`DEFAULT_PATH`]).
    pub fn environment(&self) -> &[(String, String)] {
        &self.environment
    }

    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.environment
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The argv of the handler for `kind`, if any.
    pub fn event_handler(&self, kind: EventKind) -> Option<&[String]> {
        self.event_handlers
            .iter()
            .find(|h| h.kind == kind)
            .map(|h| h.exec.as_slice())
    }

    pub fn event_handlers(&self) -> &[EventHandler] {
        &self.event_handlers
    }

    pub fn mount_points(&self) -> &[MountPoint] {
        &self.mount_points
    }

    /// The app's ports, as JSON: podinit does not act on them.
    pub fn ports(&self) -> &[Value] {
        &self.ports
    }

    /// The app's isolators, each name once (the later of two wins).
    pub fn isolators(&self) -> &[Isolator] {
        &self.isolators
    }

    pub fn isolator(&self, name: &str) -> Option<&Isolator> {
        self.isolators.iter().find(|i| i.name() == name)
    }
}

impl EventKind {
    /// `pre-start` or `post-stop`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::PreStart => "pre-start",
            EventKind::PostStop => "post-stop",
        }
    }
}

impl EventHandler {
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    pub fn exec(&self) -> &[String] {
        &self.exec
    }
}

impl MountPoint {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }
}

impl Mount {
    /// The name of the volume mounted.
    pub fn volume(&self) -> &str {
        &self.volume
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The mount's own volume, when it brings one.
    pub fn app_volume(&self) -> Option<&Volume> {
        self.app_volume.as_ref()
    }
}

impl Volume {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &VolumeKind {
        &self.kind
    }

    /// The volume's `readOnly`, when given: it overrides the mount
    /// point's.
    pub fn read_only(&self) -> Option<bool> {
        self.read_only
    }
}

/// Reads at most [`MAX_MANIFEST_BYTES`] + 1 bytes, so that a huge file is
/// refused without being read whole.
fn read_limited(path: &Path, label: &str) -> Result<Vec<u8>, ManifestError> {
    let read_err = |err| ManifestError::new(label, String::new(), None, Rule::Read(err));
    let file = File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_MANIFEST_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    file.take(limit).read_to_end(&mut bytes).map_err(read_err)?;
    Ok(bytes)
}
