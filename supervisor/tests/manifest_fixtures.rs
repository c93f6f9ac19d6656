//! The pod manifests rkt 1.30 wrote (copied from shared/fixtures), read
//! whole and checked field by field.

use podinit_supervisor::manifest::{
    Capability, CapabilitySet, EventKind, Isolator, MountSource, PodManifest, VolumeKind,
};
use serde_json::json;

fn fixture(name: &str) -> PodManifest {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    PodManifest::from_file(&path).unwrap_or_else(|err| panic!("{err}"))
}

fn caps(names: &[&str]) -> CapabilitySet {
    names
        .iter()
        .filter_map(|name| Capability::from_name(name))
        .collect()
}

#[test]
fn one_app_pod() {
    let pod = fixture("pod-one-app.json");
    assert_eq!(pod.ac_version(), "1.30.0+git-local");
    assert!(pod.volumes().is_empty() && pod.isolators().is_empty() && pod.ports().is_empty());
    assert_eq!(
        pod.annotation("coreos.com/rkt/stage1/mutable"),
        Some("false")
    );

    let [runtime_app] = pod.apps() else {
        panic!("one app")
    };
    assert_eq!(runtime_app.name(), "busybox-hello");
    assert!(!runtime_app.read_only_rootfs());
    assert_eq!(runtime_app.image().name(), "example.com/busybox-hello");
    assert!(
        runtime_app
            .image()
            .id()
            .is_some_and(|id| id.starts_with("sha512-f1f113fa"))
    );
    assert_eq!(
        runtime_app.image().labels()[1],
        ("arch".to_owned(), "amd64".to_owned())
    );

    let app = runtime_app.app().expect("app object");
    assert_eq!(app.exec(), ["/bin/sh", "-c", "echo hello from app; exit 3"]);
    assert_eq!((app.user(), app.group()), ("alice", "staff"));
    assert_eq!(app.supplementary_gids(), [400, 500]);
    assert_eq!(app.working_directory(), "/");
    assert_eq!(app.environment(), [("FOO".to_owned(), "bar".to_owned())]);
    assert_eq!(app.env_var("FOO"), Some("bar"));
    assert_eq!(app.event_handler(EventKind::PreStart), None);
    assert_eq!(app.mount_points().len(), 1);
    assert_eq!(
        app.isolators(),
        [
            Isolator::CapabilitiesRetainSet(caps(&["NET_BIND_SERVICE"])),
            Isolator::Memory {
                limit_bytes: 64 << 20,
                request_bytes: None
            },
        ]
    );
}

#[test]
fn one_app_pod_mount_point_gets_an_implicit_volume() {
    let pod = fixture("pod-one-app.json");
    let mounts = pod.mounts_of(&pod.apps()[0]);
    let [mount] = mounts.as_slice() else {
        panic!("one mount")
    };
    assert_eq!(mount.path, "/data");
    assert_eq!(mount.source, MountSource::ImplicitEmpty { name: "data" });
    assert!(!mount.read_only);
}

#[test]
fn two_app_pod() {
    let pod = fixture("pod-two-apps.json");
    let names: Vec<&str> = pod.apps().iter().map(|a| a.name()).collect();
    assert_eq!(names, ["app-one", "app-two"]);

    let one = pod.app("app-one").and_then(|a| a.app()).expect("app-one");
    assert_eq!((one.user(), one.group()), ("0", "0"));
    assert_eq!(one.environment().len(), 2);
    assert_eq!(pod.apps()[0].mounts()[0].volume(), "work");
    assert_eq!(
        pod.apps()[0].annotations(),
        [("appann".to_owned(), "x".to_owned())]
    );

    let two_app = pod.app("app-two").expect("app-two");
    assert!(two_app.read_only_rootfs());
    let two = two_app.app().expect("app object");
    assert_eq!(two.exec(), ["/bin/sleep", "5"]);
    assert_eq!(two.working_directory(), "/bin");
    assert_eq!(two.supplementary_gids(), [7, 8]);
}

#[test]
fn two_app_pod_isolators_later_wins() {
    let pod = fixture("pod-two-apps.json");
    let two = pod.app("app-two").and_then(|a| a.app()).expect("app-two");
    let isolators = two.isolators();
    assert_eq!(isolators.len(), 6, "{isolators:?}");
    assert_eq!(
        isolators[0],
        Isolator::Memory {
            limit_bytes: 32_000_000,
            request_bytes: Some(32_000_000)
        }
    );
    assert_eq!(
        isolators[1],
        Isolator::Cpu {
            limit_millicores: 250,
            request_millicores: Some(250)
        }
    );
    assert_eq!(
        isolators[2],
        Isolator::Other {
            name: "os/linux/cpu-shares".to_owned(),
            value: json!(512)
        }
    );
    assert_eq!(isolators[3], Isolator::OomScoreAdj(100));
    assert_eq!(
        isolators[4],
        Isolator::CapabilitiesRemoveSet(caps(&["CAP_MKNOD"]))
    );
    assert_eq!(isolators[5].name(), "os/linux/seccomp-remove-set");
    assert_eq!(two.isolator("resource/cpu"), Some(&isolators[1]));
}

#[test]
fn two_app_pod_volumes_and_mounts() {
    let pod = fixture("pod-two-apps.json");
    let work = pod.volume("work").expect("work volume");
    assert_eq!(
        work.kind(),
        &VolumeKind::Host {
            source: "/srv/pod-data".to_owned(),
            recursive: true
        }
    );
    assert_eq!(work.read_only(), Some(true));
    let data = pod.volume("data").expect("data volume");
    assert_eq!(
        data.kind(),
        &VolumeKind::Empty {
            mode: 0o700,
            uid: 1000,
            gid: 1000
        }
    );

    let one = pod.mounts_of(&pod.apps()[0]);
    let paths: Vec<(&str, &str, bool)> = one
        .iter()
        .map(|m| match m.source {
            MountSource::Volume(v) => (m.path, v.name(), m.read_only),
            MountSource::ImplicitEmpty { name } => (m.path, name, m.read_only),
        })
        .collect();
    assert_eq!(paths, [("/work", "work", true), ("/data", "data", false)]);
    let two = pod.mounts_of(&pod.apps()[1]);
    assert_eq!(two.len(), 1);
    assert_eq!(two[0].source, MountSource::Volume(data));
}

#[test]
fn fixtures_survive_a_round_trip() {
    for name in ["pod-one-app.json", "pod-two-apps.json"] {
        let pod = fixture(name);
        let text = serde_json::to_string(&pod).expect("serialises");
        let again = PodManifest::from_slice(text.as_bytes(), "again").expect("parses back");
        assert_eq!(again, pod, "{text}");
    }
}

#[test]
fn canonical_form_of_the_two_app_pod() {
    let pod = fixture("pod-two-apps.json");
    let value = serde_json::to_value(&pod).expect("serialises");
    assert_eq!(value["acKind"], "PodManifest");
    assert_eq!(value["volumes"][1]["mode"], "0700");
    assert_eq!(value["volumes"][0]["recursive"], true);
    let isolators = &value["apps"][1]["app"]["isolators"];
    assert_eq!(
        isolators[0]["value"],
        json!({ "limit": "32000000", "request": "32000000" })
    );
    assert_eq!(
        isolators[1]["value"],
        json!({ "limit": "250m", "request": "250m" })
    );
    assert_eq!(isolators[4]["value"], json!({ "set": ["CAP_MKNOD"] }));
    assert_eq!(
        value["apps"][0]["app"]["supplementaryGIDs"],
        json!([400, 500])
    );
}
