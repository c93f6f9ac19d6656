//! The JSON as the runtime writes it: serde structs that accept every
//! variant seen in the wild and check nothing. Every list may be `null` or
//! absent; every scalar may be absent; unknown keys are ignored. Strings
//! stay strings here; `validate` decides what they mean.
//!
//! Serialising writes the same shape back, leaving out empty lists and
//! absent values, as the runtime does.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `null` reads as an empty list, like an absent key.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "a pod manifest object")]
pub(super) struct Pod {
    #[serde(default)]
    pub ac_version: String,
    #[serde(default)]
    pub ac_kind: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub apps: Vec<RuntimeApp>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes: Vec<Volume>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub isolators: Vec<Isolator>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub annotations: Vec<NameValue>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<Value>,
}

/// An image manifest, read only for its `app` (stage1 contract 4.3).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an image manifest object")]
pub(super) struct ImageManifest {
    #[serde(default)]
    pub ac_kind: String,
    #[serde(default)]
    pub app: Option<App>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "an app object")]
pub(super) struct RuntimeApp {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: Image,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<App>,
    #[serde(default, rename = "readOnlyRootFS", skip_serializing_if = "is_false")]
    pub read_only_root_fs: bool,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mounts: Vec<Mount>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub annotations: Vec<NameValue>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "an image object")]
pub(super) struct Image {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub labels: Vec<NameValue>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "an app object")]
pub(super) struct App {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub exec: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(
        default,
        rename = "supplementaryGIDs",
        alias = "supplementaryGids",
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub supplementary_gids: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub environment: Vec<NameValue>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub event_handlers: Vec<EventHandler>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mount_points: Vec<MountPoint>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<Value>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub isolators: Vec<Isolator>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(expecting = "an event handler object")]
pub(super) struct EventHandler {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub exec: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "a mount point object")]
pub(super) struct MountPoint {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "a mount object")]
pub(super) struct Mount {
    #[serde(default)]
    pub volume: String,
    #[serde(default)]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_volume: Option<Volume>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "a volume object")]
pub(super) struct Volume {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(expecting = "an isolator object")]
pub(super) struct Isolator {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

/// Environment entries, annotations and labels.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(expecting = "a {\"name\", \"value\"} object")]
pub(super) struct NameValue {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

fn is_false(value: &bool) -> bool {
    !*value
}
