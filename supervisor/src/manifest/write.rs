//! From the checked model back to `raw` structs, for serialising. Defaults
//! are written out (`mode`, `recursive`) and quantities in canonical form,
//! so that what is written parses back to an equal model.

use super::model::{
    App, EventHandler, Image, Mount, MountPoint, PodManifest, RuntimeApp, Volume, VolumeKind,
};
use super::raw;

impl PodManifest {
    pub(super) fn to_raw(&self) -> raw::Pod {
        raw::Pod {
            ac_version: self.ac_version.clone(),
            ac_kind: "PodManifest".to_owned(),
            apps: self.apps.iter().map(runtime_app).collect(),
            volumes: self.volumes.iter().map(volume).collect(),
            isolators: self.isolators.iter().map(|i| i.to_raw()).collect(),
            annotations: pairs(&self.annotations),
            ports: self.ports.clone(),
        }
    }
}

fn runtime_app(app: &RuntimeApp) -> raw::RuntimeApp {
    raw::RuntimeApp {
        name: app.name.clone(),
        image: image(&app.image),
        app: app.app.as_ref().map(app_body),
        read_only_root_fs: app.read_only_rootfs,
        mounts: app.mounts.iter().map(mount).collect(),
        annotations: pairs(&app.annotations),
    }
}

fn image(image: &Image) -> raw::Image {
    raw::Image {
        name: image.name.clone(),
        id: image.id.clone(),
        labels: pairs(&image.labels),
    }
}

fn app_body(app: &App) -> raw::App {
    raw::App {
        exec: app.exec.clone(),
        user: app.user.clone(),
        group: app.group.clone(),
        supplementary_gids: app.supplementary_gids.clone(),
        working_directory: app.working_directory.clone(),
        environment: pairs(&app.environment),
        event_handlers: app.event_handlers.iter().map(event_handler).collect(),
        mount_points: app.mount_points.iter().map(mount_point).collect(),
        ports: app.ports.clone(),
        isolators: app.isolators.iter().map(|i| i.to_raw()).collect(),
    }
}

fn event_handler(handler: &EventHandler) -> raw::EventHandler {
    raw::EventHandler {
        name: handler.kind.name().to_owned(),
        exec: handler.exec.clone(),
    }
}

fn mount_point(point: &MountPoint) -> raw::MountPoint {
    raw::MountPoint {
        name: point.name.clone(),
        path: point.path.clone(),
        read_only: point.read_only,
    }
}

fn mount(mount: &Mount) -> raw::Mount {
    raw::Mount {
        volume: mount.volume.clone(),
        path: mount.path.clone(),
        app_volume: mount.app_volume.as_ref().map(volume),
    }
}

fn volume(volume: &Volume) -> raw::Volume {
    let mut out = raw::Volume {
        name: volume.name.clone(),
        read_only: volume.read_only,
        ..raw::Volume::default()
    };
    match &volume.kind {
        VolumeKind::Host { source, recursive } => {
            out.kind = "host".to_owned();
            out.source = Some(source.clone());
            out.recursive = Some(*recursive);
        }
        VolumeKind::Empty { mode, uid, gid } => {
            out.kind = "empty".to_owned();
            out.mode = Some(format!("{mode:04o}"));
            out.uid = Some(*uid);
            out.gid = Some(*gid);
        }
    }
    out
}

fn pairs(pairs: &[(String, String)]) -> Vec<raw::NameValue> {
    pairs
        .iter()
        .map(|(name, value)| raw::NameValue {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}
