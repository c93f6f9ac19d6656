//! Property tests of the pod manifest parser: no input panics it, and every
//! valid manifest it reads survives being written and read again.

use podinit_supervisor::manifest::{Isolator, PodManifest, Rule};
use proptest::prelude::*;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/pod-two-apps.json");

// Inputs that are not manifests: the parser answers, never panics.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = PodManifest::from_slice(&bytes, "pod");
    }

    #[test]
    fn json_like_text_never_panics(text in r#"[\[\]{}",:0-9a-z\\. -]{0,200}"#) {
        let _ = PodManifest::from_slice(text.as_bytes(), "pod");
    }

    #[test]
    fn damaged_fixture_never_panics(
        cut in 0..FIXTURE.len(),
        edits in prop::collection::vec((0..FIXTURE.len(), any::<u8>()), 0..8),
    ) {
        let mut bytes = FIXTURE.as_bytes().to_vec();
        for (at, byte) in edits {
            if let Some(slot) = bytes.get_mut(at) {
                *slot = byte;
            }
        }
        let _ = PodManifest::from_slice(&bytes, "pod");
        let _ = PodManifest::from_slice(&bytes[..cut], "pod");
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    json_with(
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .boxed(),
    )
}

/// JSON whose numbers survive a round trip through text: serde_json, built
/// without its `float_roundtrip` feature, may read back an arbitrary float
/// one unit in the last place off.
fn exact_json() -> impl Strategy<Value = Value> {
    json_with(any::<i32>().prop_map(|n| f64::from(n) / 8.0).boxed())
}

fn json_with(floats: BoxedStrategy<f64>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        floats.prop_map(|f| json!(f)),
        "[a-zA-Z0-9_ .-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("(set|limit|request|[a-z]{1,4})", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KNOWN_ISOLATORS: [&str; 6] = [
    "os/linux/capabilities-retain-set",
    "os/linux/capabilities-remove-set",
    "os/linux/no-new-privileges",
    "os/linux/oom-score-adj",
    "resource/memory",
    "resource/cpu",
];

proptest! {
    #[test]
    fn any_isolator_value_is_parsed_or_refused(
        name in prop::sample::select(&KNOWN_ISOLATORS[..]),
        value in any_json(),
    ) {
        let mut pod: Value = serde_json::from_str(FIXTURE).expect("fixture is json");
        pod["apps"][0]["app"]["isolators"] = json!([{ "name": name, "value": value }]);
        let bytes = serde_json::to_vec(&pod).expect("serialises");
        match PodManifest::from_slice(&bytes, "pod") {
            Ok(parsed) => {
                let app = parsed.apps()[0].app().expect("app");
                prop_assert!(app.isolators()[0].is_known());
            }
            Err(err) => prop_assert!(err.path().starts_with("apps[0].app.isolators[0]"), "{err}"),
        }
    }

    #[test]
    fn memory_quantities_scale_exactly(n in any::<u64>(), suffix in 0..3usize) {
        let (text, factor) = [("", 1u128), ("Ki", 1 << 10), ("M", 1_000_000)][suffix];
        let mut pod: Value = serde_json::from_str(FIXTURE).expect("fixture is json");
        let value = json!({ "limit": format!("{n}{text}") });
        pod["apps"][0]["app"]["isolators"] = json!([{ "name": "resource/memory", "value": value }]);
        let bytes = serde_json::to_vec(&pod).expect("serialises");
        let expected = u64::try_from(u128::from(n) * factor).ok();
        match PodManifest::from_slice(&bytes, "pod") {
            Ok(parsed) => {
                let isolator = parsed.apps()[0].app().expect("app").isolators()[0].clone();
                let limit = expected.expect("accepted only when it fits");
                let memory = Isolator::Memory { limit_bytes: limit, request_bytes: None };
                prop_assert_eq!(isolator, memory);
            }
            Err(err) => {
                prop_assert!(expected.is_none(), "{}", err);
                prop_assert!(matches!(err.rule(), Rule::TooLarge));
            }
        }
    }
}

// Valid manifests, generated.

fn ac_name() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,2}"
}

/// Any text a kernel string may hold: no NUL.
fn text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,12}"
}

/// An absolute path without `..`.
fn abs_path() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,6}", 0..4)
        .prop_map(|parts| format!("/{}", parts.join("/")))
}

fn program() -> impl Strategy<Value = String> {
    prop_oneof![abs_path(), "[a-z][a-z0-9_-]{0,8}"]
}

fn argv() -> impl Strategy<Value = Vec<String>> {
    (program(), prop::collection::vec(text(), 0..4)).prop_map(|(program, mut args)| {
        args.insert(0, program);
        args
    })
}

fn capability_names() -> impl Strategy<Value = Value> {
    let name = (0..41usize, any::<bool>(), any::<bool>()).prop_map(|(n, prefix, lower)| {
        let bare = podinit_supervisor::manifest::Capability::from_number(n as u8)
            .map(|c| c.bare_name())
            .unwrap_or("CHOWN");
        let name = if prefix {
            format!("CAP_{bare}")
        } else {
            bare.to_owned()
        };
        if lower { name.to_lowercase() } else { name }
    });
    prop::collection::vec(name, 0..5).prop_map(|set| json!({ "set": set }))
}

fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            0u64..1 << 30,
            prop::sample::select(vec!["", "Ki", "Mi", "k", "M", "m"])
        )
            .prop_map(|(n, suffix)| json!(format!("{n}{suffix}"))),
        (0u64..1 << 40).prop_map(|n| json!(n)),
        (0u32..1000).prop_map(|n| json!(format!("0.{n:03}"))),
    ]
}

fn isolator() -> impl Strategy<Value = Value> {
    prop_oneof![
        capability_names().prop_map(|v| json!({ "name": KNOWN_ISOLATORS[0], "value": v })),
        capability_names().prop_map(|v| json!({ "name": KNOWN_ISOLATORS[1], "value": v })),
        any::<bool>().prop_map(|v| json!({ "name": KNOWN_ISOLATORS[2], "value": v })),
        (-1000i64..=1000).prop_map(|v| json!({ "name": KNOWN_ISOLATORS[3], "value": v })),
        (quantity(), any::<bool>()).prop_map(|(q, d)| {
            json!({ "name": KNOWN_ISOLATORS[4], "value": { "limit": q, "default": d } })
        }),
        (quantity(), quantity()).prop_map(|(limit, request)| {
            json!({ "name": KNOWN_ISOLATORS[5], "value": { "limit": limit, "request": request } })
        }),
        ("[a-z]{1,5}/[a-z]{1,5}", exact_json()).prop_map(|(n, v)| json!({ "name": n, "value": v })),
    ]
}

fn environment() -> impl Strategy<Value = Value> {
    prop::collection::vec(("[A-Za-z_][A-Za-z0-9_.-]{0,8}", text()), 0..5).prop_map(|entries| {
        entries
            .into_iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect()
    })
}

fn app_body() -> impl Strategy<Value = Value> {
    let identity = prop::option::of(prop_oneof!["[a-z0-9]{1,8}", abs_path()]);
    (
        (
            argv(),
            identity.clone(),
            identity,
            prop::collection::vec(any::<u32>(), 0..3),
        ),
        (any::<bool>(), prop::option::of(abs_path()), environment()),
        (prop::option::of(argv()), prop::option::of(argv())),
        prop::collection::vec((ac_name(), abs_path(), any::<bool>()), 0..3),
        prop::collection::vec(isolator(), 0..5),
    )
        .prop_map(
            |((exec, user, group, gids), (lower, dir, env), handlers, points, isolators)| {
                let mut app = json!({ "exec": exec, "environment": env, "isolators": isolators });
                let gid_key = if lower {
                    "supplementaryGids"
                } else {
                    "supplementaryGIDs"
                };
                app[gid_key] = json!(gids);
                let points: Vec<Value> = points
                    .into_iter()
                    .map(|(name, path, ro)| json!({ "name": name, "path": path, "readOnly": ro }))
                    .collect();
                app["mountPoints"] = json!(points);
                set_some(&mut app, "user", user);
                set_some(&mut app, "group", group);
                set_some(&mut app, "workingDirectory", dir);
                let mut events = Vec::new();
                if let Some(exec) = handlers.0 {
                    events.push(json!({ "name": "pre-start", "exec": exec }));
                }
                if let Some(exec) = handlers.1 {
                    events.push(json!({ "name": "post-stop", "exec": exec }));
                }
                app["eventHandlers"] = json!(events);
                app
            },
        )
}

fn set_some(object: &mut Value, key: &str, value: Option<String>) {
    if let Some(value) = value {
        object[key] = json!(value);
    }
}

fn volume(index: usize) -> impl Strategy<Value = Value> {
    let name = format!("v{index}");
    let host = (
        abs_path(),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
    );
    let empty = (
        0u32..=0o7777,
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
    );
    let name2 = name.clone();
    prop_oneof![
        host.prop_map(move |(source, ro, rec)| {
            let mut v = json!({ "name": name, "kind": "host", "source": source });
            if let Some(ro) = ro {
                v["readOnly"] = json!(ro);
            }
            if let Some(rec) = rec {
                v["recursive"] = json!(rec);
            }
            v
        }),
        empty.prop_map(move |(mode, uid, gid)| {
            let mut v = json!({ "name": name2, "kind": "empty", "mode": format!("{mode:o}") });
            if let Some(uid) = uid {
                v["uid"] = json!(uid);
            }
            if let Some(gid) = gid {
                v["gid"] = json!(gid);
            }
            v
        }),
    ]
}

fn runtime_app(index: usize, volumes: usize) -> impl Strategy<Value = Value> {
    (
        ac_name(),
        prop::option::of(app_body()),
        any::<bool>(),
        prop::collection::vec((0..volumes.max(1), abs_path()), 0..3),
        prop::collection::vec((text(), text()), 0..2),
    )
        .prop_map(move |(name, app, ro, mounts, annotations)| {
            let mut out = json!({
                "name": format!("{name}-{index}"),
                "image": { "name": "example.com/image", "id": "sha512-00" },
                "readOnlyRootFS": ro,
            });
            if let Some(app) = app {
                out["app"] = app;
            }
            let mounts: Vec<Value> = mounts
                .into_iter()
                .enumerate()
                .filter(|_| volumes > 0)
                .map(|(k, (v, path))| (format!("v{v}"), format!("{path}/m{k}")))
                .map(|(volume, path)| json!({ "volume": volume, "path": path }))
                .collect();
            out["mounts"] = json!(mounts);
            let annotations: Vec<Value> = annotations
                .into_iter()
                .map(|(n, v)| json!({ "name": n, "value": v }))
                .collect();
            out["annotations"] = json!(annotations);
            out
        })
}

fn pod() -> impl Strategy<Value = Value> {
    (0..3usize, 0..4usize).prop_flat_map(|(volume_count, app_count)| {
        let volumes: Vec<_> = (0..volume_count).map(volume).collect();
        let apps: Vec<_> = (0..app_count)
            .map(|i| runtime_app(i, volume_count))
            .collect();
        let isolators = prop::collection::vec(isolator(), 0..3);
        (
            volumes,
            apps,
            isolators,
            "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}(\\+[a-z0-9-]{1,6})?",
        )
            .prop_map(|(volumes, apps, isolators, version)| {
                json!({
                    "acVersion": version,
                    "acKind": "PodManifest",
                    "apps": apps,
                    "volumes": volumes,
                    "isolators": isolators,
                    "annotations": [{ "name": "coreos.com/rkt/stage1/mutable", "value": "false" }],
                    "ports": [],
                })
            })
    })
}

proptest! {
    #[test]
    fn valid_manifests_round_trip(pod in pod()) {
        let bytes = serde_json::to_vec(&pod).expect("serialises");
        let first = PodManifest::from_slice(&bytes, "pod");
        prop_assert!(first.is_ok(), "{}: {}", first.unwrap_err(), pod);
        let first = first.expect("checked above");
        let written = serde_json::to_vec(&first).expect("serialises");
        let second = PodManifest::from_slice(&written, "pod");
        prop_assert!(second.is_ok(), "{}", second.unwrap_err());
        prop_assert_eq!(second.expect("checked above"), first);
    }
}
