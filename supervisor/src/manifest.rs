//! The appc pod manifest: reading it, refusing it with one clear message, and
//! handing the runner typed values.
//!
//! This module owns no process state. It turns the bytes of the runtime's
//! `pod` file (and, for an app the pod manifest leaves without an `app`
//! object, of that app's image manifest) into a [`PodManifest`] whose every
//! value has been checked against the rules of the stage1 contract (sections
//! 6 and 7): names are safe as file names, paths are absolute, argv and
//! environment fit an execve, isolators the runner applies are parsed to
//! numbers. Everything a real runtime writes is accepted; anything else is
//! refused before a process starts, with one [`ManifestError`] of the form
//!
//! ```text
//! <file>: <json path> <value>: <rule>
//! ```
//!
//! for example `pod: apps[1].name "Web_1": must be lowercase letters, digits and
//! single dashes`.
//!
//! Parsing happens in two steps: `raw` holds serde structs that mirror the
//! JSON and accept its variants (nulls, omitted fields, both spellings of
//! `supplementaryGIDs`, unknown keys); `validate` checks them and builds the
//! typed model of `model`. A [`PodManifest`] serialises back to the JSON
//! shape it was read from, in a canonical form (quantities as plain numbers,
//! defaults written out).
//!
//! What is accepted, rule by rule:
//!
//! - `acKind` must be `"PodManifest"`; `acVersion` a semantic version
//!   (`1.30.0+git-local`).
//! - App, volume and mount-point names are appc AC names: lowercase letters
//!   and digits in runs separated by single dashes (`web`, `app-one`), 1 to
//!   [`limits::MAX_NAME_BYTES`] bytes. App names become file names
//!   (`rkt/status/<app>`, `opt/stage2/<app>`), and this rule already rules out
//!   `/`, `.`, `..` and the empty name. Isolator names are AC identifiers,
//!   which also allow `.`, `_`, `~` and `/` between the runs.
//! - `exec` is non-empty; `exec[0]` is an absolute path or a bare name looked
//!   up in the app's `PATH` (never a relative path such as `bin/sh`). No
//!   string handed to execve may hold a NUL byte.
//! - `workingDirectory`, `mountPoints[].path`, `mounts[].path` and a `user`
//!   or `group` given as a path are absolute and have no `..` component: they
//!   are joined to the app's root from outside it. A host volume's `source`
//!   is absolute.
//! - Environment names match `^[A-Za-z_][A-Za-z_0-9.-]*$`; a name given
//!   twice keeps its first position and its last value.
//! - Isolators: the same name twice, the later wins. Those the runner can
//!   apply are parsed (see [`Isolator`]); the others are kept as JSON for
//!   the runner to name to the user.
//! - Volumes have unique names and a kind of `host` or `empty`; a `mounts`
//!   entry names a volume of the pod or brings its own `appVolume`.
//! - Image fields, annotations, labels and ports are carried, not checked:
//!   podinit does not act on them.

mod capability;
mod error;
mod isolator;
mod json;
pub mod limits;
mod model;
mod quantity;
mod raw;
mod validate;
mod write;

pub use capability::{Capability, CapabilitySet};
pub use error::{ManifestError, Rule};
pub use isolator::Isolator;
pub use model::{
    App, AppMount, DEFAULT_PATH, EventHandler, EventKind, Image, Mount, MountPoint, MountSource,
    PodManifest, RuntimeApp, Volume, VolumeKind,
};
