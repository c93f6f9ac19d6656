//! Every rule of the pod manifest, refused with its exact message, and the
//! variants real runtimes write, accepted.

use podinit_supervisor::manifest::{Isolator, PodManifest, Rule, VolumeKind};
use serde_json::{Value, json};

/// A small valid pod: two apps and one volume.
fn base() -> Value {
    json!({
        "acVersion": "1.30.0",
        "acKind": "PodManifest",
        "apps": [
            {
                "name": "web",
                "image": { "name": "example.com/web" },
                "app": { "exec": ["/bin/web", "--port", "80"], "user": "0", "group": "0" }
            },
            {
                "name": "db",
                "image": { "name": "example.com/db" },
                "app": { "exec": ["db"], "user": "0", "group": "0" }
            }
        ],
        "volumes": [{ "name": "data", "kind": "empty" }]
    })
}

fn parse(value: &Value) -> Result<PodManifest, String> {
    let bytes = serde_json::to_vec(value).expect("test json serialises");
    PodManifest::from_slice(&bytes, "pod.json").map_err(|err| err.to_string())
}

/// The message for the base pod changed by `edit`.
fn refusal(edit: impl FnOnce(&mut Value)) -> String {
    let mut pod = base();
    edit(&mut pod);
    match parse(&pod) {
        Ok(_) => panic!("accepted: {pod}"),
        Err(message) => message,
    }
}

fn accepted(edit: impl FnOnce(&mut Value)) -> PodManifest {
    let mut pod = base();
    edit(&mut pod);
    parse(&pod).unwrap_or_else(|err| panic!("refused: {err}"))
}

fn refusal_of_text(text: &str) -> String {
    match PodManifest::from_slice(text.as_bytes(), "pod.json") {
        Ok(_) => panic!("accepted: {text}"),
        Err(err) => err.to_string(),
    }
}

fn app(pod: &mut Value, i: usize) -> &mut Value {
    &mut pod["apps"][i]["app"]
}

#[test]
fn base_is_valid() {
    let pod = accepted(|_| {});
    assert_eq!(pod.apps().len(), 2);
}

// JSON and shape.

#[test]
fn invalid_json_names_line_and_column() {
    assert_eq!(
        refusal_of_text(r#"{"acKind": "PodManifest","#),
        "pod.json: invalid json at line 1 column 25: EOF while parsing a value"
    );
    assert_eq!(
        refusal_of_text("{\n  \"apps\": [\n    {\"name\": \"a\",,}\n  ]\n}"),
        "pod.json: apps[0]: invalid json at line 3 column 18: key must be a string"
    );
    assert_eq!(
        refusal_of_text(""),
        "pod.json: invalid json at line 1 column 0: EOF while parsing a value"
    );
}

#[test]
fn wrong_types_name_the_path() {
    assert_eq!(
        refusal_of_text(r#"{"acKind":"PodManifest","acVersion":"1.0.0","apps":5}"#),
        "pod.json: apps: invalid type: integer `5`, expected a sequence (line 1 column 52)"
    );
    let pod = r#"{"acKind":"PodManifest","acVersion":"1.0.0","#;
    assert_eq!(
        refusal_of_text(&format!(
            r#"{pod}"apps":[{{"name":"a","app":{{"exec":"/bin/db"}}}}]}}"#
        )),
        "pod.json: apps[0].app.exec: invalid type: string \"/bin/db\", expected a sequence \
         (line 1 column 87)"
    );
    assert_eq!(
        refusal_of_text(&format!(
            r#"{pod}"apps":[{{"name":"a","app":{{"exec":["a",5]}}}}]}}"#
        )),
        "pod.json: apps[0].app.exec[1]: invalid type: integer `5`, expected a string \
         (line 1 column 84)"
    );
    assert_eq!(
        refusal_of_text(&format!(r#"{pod}"volumes":[{{"name":"v","uid":-1}}]}}"#)),
        "pod.json: volumes[0].uid: invalid value: integer `-1`, expected u32 (line 1 column 75)"
    );
    assert_eq!(
        refusal_of_text(&format!(
            r#"{pod}"apps":[{{"name":"a","app":{{"supplementaryGids":["x"]}}}}]}}"#
        )),
        "pod.json: apps[0].app.supplementaryGids[0]: invalid type: string \"x\", expected u32 \
         (line 1 column 95)"
    );
    assert_eq!(
        refusal_of_text("5"),
        "pod.json: invalid type: integer `5`, expected a pod manifest object (line 1 column 1)"
    );
    assert_eq!(
        refusal_of_text(r#"{"apps":[{"name":"web","name":"x"}]}"#),
        "pod.json: apps[0].name: duplicate field `name` (line 1 column 29)"
    );
}

#[test]
fn too_large_a_file_is_refused_unread() {
    let big = vec![b' '; (1 << 20) + 1];
    assert_eq!(
        PodManifest::from_slice(&big, "pod.json")
            .unwrap_err()
            .to_string(),
        "pod.json: is larger than 1048576 bytes"
    );
}

#[test]
fn unreadable_file() {
    let err = PodManifest::from_file("/nonexistent/pod").unwrap_err();
    assert!(matches!(err.rule(), Rule::Read(_)));
    assert_eq!(
        err.to_string(),
        "/nonexistent/pod: failed to read: No such file or directory (os error 2)"
    );
}

// Kind and version.

#[test]
fn ac_kind_must_be_pod_manifest() {
    assert_eq!(
        refusal(|p| p["acKind"] = json!("ImageManifest")),
        "pod.json: acKind \"ImageManifest\": must be \"PodManifest\""
    );
    assert_eq!(
        refusal(|p| p
            .as_object_mut()
            .map(|o| o.remove("acKind"))
            .map(drop)
            .unwrap_or_default()),
        "pod.json: acKind \"\": must be \"PodManifest\""
    );
}

#[test]
fn ac_version_must_be_semver() {
    assert_eq!(
        refusal(|p| p["acVersion"] = json!("1.30")),
        "pod.json: acVersion \"1.30\": must be a semantic version such as 1.30.0"
    );
    for good in ["0.8.11", "1.30.0+git-local", "1.0.0-rc.1+build.5"] {
        accepted(|p| p["acVersion"] = json!(good));
    }
}

// App names.

#[test]
fn app_names_are_ac_names() {
    let cases = [
        (
            "Web_1",
            "must be lowercase letters, digits and single dashes",
        ),
        (
            "../x",
            "must be lowercase letters, digits and single dashes",
        ),
        ("a/b", "must be lowercase letters, digits and single dashes"),
        ("..", "must be lowercase letters, digits and single dashes"),
        (
            "a--b",
            "must be lowercase letters, digits and single dashes",
        ),
        ("-a", "must be lowercase letters, digits and single dashes"),
        ("a.b", "must be lowercase letters, digits and single dashes"),
        ("", "must not be empty"),
    ];
    for (name, rule) in cases {
        assert_eq!(
            refusal(|p| p["apps"][1]["name"] = json!(name)),
            format!("pod.json: apps[1].name {name:?}: {rule}")
        );
    }
}

#[test]
fn app_names_are_at_most_245_bytes_to_fit_their_status_files() {
    accepted(|p| p["apps"][1]["name"] = json!("a".repeat(245)));
    assert_eq!(
        refusal(|p| p["apps"][1]["name"] = json!("a".repeat(246))),
        format!(
            "pod.json: apps[1].name \"{}\"...: is longer than 245 bytes",
            "a".repeat(64)
        )
    );
}

#[test]
fn app_names_are_unique() {
    assert_eq!(
        refusal(|p| p["apps"][1]["name"] = json!("web")),
        "pod.json: apps[1].name \"web\": duplicates apps[0].name"
    );
}

// Exec.

#[test]
fn exec_must_not_be_empty() {
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = json!([])),
        "pod.json: apps[0].app.exec: must not be empty"
    );
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = Value::Null),
        "pod.json: apps[0].app.exec: must not be empty"
    );
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = json!([""])),
        "pod.json: apps[0].app.exec[0] \"\": must not be empty"
    );
}

#[test]
fn exec_program_is_absolute_or_bare() {
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = json!(["bin/web"])),
        "pod.json: apps[0].app.exec[0] \"bin/web\": must be an absolute path or a bare program name"
    );
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = json!(["./web"])),
        "pod.json: apps[0].app.exec[0] \"./web\": must be an absolute path or a bare program name"
    );
    let pod = accepted(|p| app(p, 0)["exec"] = json!(["sh", "-c", ""]));
    assert_eq!(pod.apps()[0].app().map(|a| a.exec().len()), Some(3));
}

#[test]
fn exec_strings_hold_no_nul() {
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = json!(["/bin/web", "a\u{0}b"])),
        "pod.json: apps[0].app.exec[1] \"a\\0b\": must not hold a nul byte"
    );
}

#[test]
fn exec_limits() {
    let many = vec!["x"; 4097];
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = json!(many)),
        "pod.json: apps[0].app.exec: has more than 4096 entries"
    );
    let long = "x".repeat(128 * 1024);
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = json!(["/bin/web", long])),
        format!(
            "pod.json: apps[0].app.exec[1] \"{}\"...: is longer than 131071 bytes",
            "x".repeat(64)
        )
    );
    let chunk = "x".repeat(100 * 1024);
    assert_eq!(
        refusal(|p| app(p, 0)["exec"] = json!(["/bin/web", chunk, chunk, chunk])),
        "pod.json: apps[0].app.exec: is larger than 262144 bytes in all"
    );
}

#[test]
fn event_handlers() {
    assert_eq!(
        refusal(|p| app(p, 0)["eventHandlers"] = json!([{ "name": "post-start", "exec": ["x"] }])),
        "pod.json: apps[0].app.eventHandlers[0].name \"post-start\": \
         must be \"pre-start\" or \"post-stop\""
    );
    let twice =
        json!([{ "name": "pre-start", "exec": ["a"] }, { "name": "pre-start", "exec": ["b"] }]);
    assert_eq!(
        refusal(|p| app(p, 0)["eventHandlers"] = twice),
        "pod.json: apps[0].app.eventHandlers[1].name \"pre-start\": \
         duplicates apps[0].app.eventHandlers[0].name"
    );
    assert_eq!(
        refusal(|p| app(p, 0)["eventHandlers"] = json!([{ "name": "post-stop" }])),
        "pod.json: apps[0].app.eventHandlers[0].exec: must not be empty"
    );
}

// User, group, working directory.

#[test]
fn user_and_group() {
    assert_eq!(
        refusal(|p| app(p, 0)["user"] = json!("")),
        "pod.json: apps[0].app.user \"\": must not be empty"
    );
    assert_eq!(
        refusal(|p| app(p, 0)["group"] = json!("/etc/../../x")),
        "pod.json: apps[0].app.group \"/etc/../../x\": must not have a \"..\" component"
    );
    let pod = accepted(|p| {
        let app = app(p, 0).as_object_mut().expect("app object");
        app.remove("user");
        app.insert("group".to_owned(), json!("/var/data"));
    });
    let app = pod.apps()[0].app().expect("app");
    assert_eq!((app.user(), app.group()), ("0", "/var/data"));
}

#[test]
fn working_directory_is_absolute_inside_the_root() {
    assert_eq!(
        refusal(|p| app(p, 0)["workingDirectory"] = json!("tmp")),
        "pod.json: apps[0].app.workingDirectory \"tmp\": must be an absolute path"
    );
    assert_eq!(
        refusal(|p| app(p, 0)["workingDirectory"] = json!("/srv/..")),
        "pod.json: apps[0].app.workingDirectory \"/srv/..\": must not have a \"..\" component"
    );
    let pod = accepted(|_| {});
    assert_eq!(
        pod.apps()[0].app().map(|a| a.working_directory()),
        Some("/")
    );
}

#[test]
fn supplementary_gids_limit() {
    let gids: Vec<u32> = (0..65537).collect();
    assert_eq!(
        refusal(|p| app(p, 0)["supplementaryGIDs"] = json!(gids)),
        "pod.json: apps[0].app.supplementaryGIDs: has more than 65536 entries"
    );
}

// Environment.

#[test]
fn environment_names() {
    for (name, rule) in [
        (
            "1X",
            "must start with a letter or '_' and hold only letters, digits, '_', '.' and '-'",
        ),
        (
            "A=B",
            "must start with a letter or '_' and hold only letters, digits, '_', '.' and '-'",
        ),
        ("", "must not be empty"),
    ] {
        assert_eq!(
            refusal(|p| app(p, 0)["environment"] = json!([{ "name": name, "value": "v" }])),
            format!("pod.json: apps[0].app.environment[0].name {name:?}: {rule}")
        );
    }
    accepted(|p| app(p, 0)["environment"] = json!([{ "name": "_a.b-C9", "value": "" }]));
}

#[test]
fn environment_values_hold_no_nul() {
    assert_eq!(
        refusal(|p| app(p, 0)["environment"] = json!([{ "name": "A", "value": "\u{0}" }])),
        "pod.json: apps[0].app.environment[0].value \"\\0\": must not hold a nul byte"
    );
}

#[test]
fn environment_limits() {
    let many: Vec<Value> = (0..4097)
        .map(|i| json!({ "name": format!("V{i}"), "value": "" }))
        .collect();
    assert_eq!(
        refusal(|p| app(p, 0)["environment"] = json!(many)),
        "pod.json: apps[0].app.environment: has more than 4096 entries"
    );
    let value = "x".repeat(100 * 1024);
    let big: Vec<Value> = (0..3)
        .map(|i| json!({ "name": format!("V{i}"), "value": value }))
        .collect();
    assert_eq!(
        refusal(|p| app(p, 0)["environment"] = json!(big)),
        "pod.json: apps[0].app.environment: is larger than 262144 bytes in all"
    );
}

#[test]
fn environment_later_value_wins_in_first_place() {
    let pod = accepted(|p| {
        app(p, 0)["environment"] = json!([
            { "name": "A", "value": "1" },
            { "name": "B", "value": "2" },
            { "name": "A", "value": "3" }
        ])
    });
    let env = pod.apps()[0].app().expect("app").environment().to_vec();
    assert_eq!(
        env,
        [
            ("A".to_owned(), "3".to_owned()),
            ("B".to_owned(), "2".to_owned())
        ]
    );
}

// Isolators.

fn isolator_refusal(name: &str, value: Value) -> String {
    refusal(|p| app(p, 0)["isolators"] = json!([{ "name": name, "value": value }]))
}

#[test]
fn capability_sets() {
    assert_eq!(
        isolator_refusal("os/linux/capabilities-retain-set", json!(["CAP_CHOWN"])),
        "pod.json: apps[0].app.isolators[0].value [\"CAP_CHOWN\"]: \
         must be {\"set\": [capability names]}"
    );
    assert_eq!(
        isolator_refusal(
            "os/linux/capabilities-remove-set",
            json!({ "set": ["CHOWN", "CAP_FLY"] })
        ),
        "pod.json: apps[0].app.isolators[0].value.set[1] \"CAP_FLY\": is not a linux capability"
    );
    assert_eq!(
        isolator_refusal("os/linux/capabilities-remove-set", json!({ "set": [10] })),
        "pod.json: apps[0].app.isolators[0].value.set[0] 10: is not a linux capability"
    );
}

#[test]
fn no_new_privileges_is_a_bool() {
    assert_eq!(
        isolator_refusal("os/linux/no-new-privileges", json!("yes")),
        "pod.json: apps[0].app.isolators[0].value \"yes\": must be true or false"
    );
}

#[test]
fn oom_score_adj_range() {
    for bad in [json!(1001), json!(-1001), json!("100"), json!(1.5)] {
        assert_eq!(
            isolator_refusal("os/linux/oom-score-adj", bad.clone()),
            format!(
                "pod.json: apps[0].app.isolators[0].value {bad}: \
                 must be an integer from -1000 to 1000"
            )
        );
    }
}

#[test]
fn resource_quantities() {
    let quantity = "must be a quantity such as \"64Mi\", \"32M\", \"250m\" or 2";
    assert_eq!(
        isolator_refusal("resource/memory", json!({ "request": "1" })),
        "pod.json: apps[0].app.isolators[0].value {\"request\":\"1\"}: \
         must be {\"limit\": quantity}"
    );
    assert_eq!(
        isolator_refusal("resource/memory", json!("64Mi")),
        "pod.json: apps[0].app.isolators[0].value \"64Mi\": must be {\"limit\": quantity}"
    );
    assert_eq!(
        isolator_refusal("resource/memory", json!({ "limit": "64Qi" })),
        format!("pod.json: apps[0].app.isolators[0].value.limit \"64Qi\": {quantity}")
    );
    assert_eq!(
        isolator_refusal("resource/memory", json!({ "limit": true })),
        format!("pod.json: apps[0].app.isolators[0].value.limit true: {quantity}")
    );
    assert_eq!(
        isolator_refusal("resource/cpu", json!({ "limit": "1", "request": "-250m" })),
        "pod.json: apps[0].app.isolators[0].value.request \"-250m\": must not be negative"
    );
    assert_eq!(
        isolator_refusal("resource/memory", json!({ "limit": "16Ei" })),
        "pod.json: apps[0].app.isolators[0].value.limit \"16Ei\": is too large"
    );
}

#[test]
fn isolator_names_are_ac_identifiers() {
    assert_eq!(
        isolator_refusal("Resource/Memory", json!({ "limit": 1 })),
        "pod.json: apps[0].app.isolators[0].name \"Resource/Memory\": must be lowercase letters \
         and digits joined by single '-', '.', '_', '~' or '/'"
    );
}

#[test]
fn isolators_later_wins_and_unknown_kept() {
    let pod = accepted(|p| {
        app(p, 0)["isolators"] = json!([
            { "name": "resource/memory", "value": { "limit": "64Mi" } },
            { "name": "os/linux/seccomp-retain-set", "value": { "set": ["@appc.io/all"] } },
            { "name": "resource/memory", "value": { "default": false, "limit": 1024 } },
            { "name": "resource/cpu", "value": { "limit": 0.5 } },
            { "name": "os/linux/no-new-privileges", "value": true },
            { "name": "os/linux/oom-score-adj", "value": -1000 }
        ])
    });
    let isolators = pod.apps()[0].app().expect("app").isolators().to_vec();
    assert_eq!(isolators.len(), 5);
    assert_eq!(
        isolators[0],
        Isolator::Memory {
            limit_bytes: 1024,
            request_bytes: None
        }
    );
    assert_eq!(isolators[1].name(), "os/linux/seccomp-retain-set");
    assert!(!isolators[1].is_known());
    assert_eq!(
        isolators[2],
        Isolator::Cpu {
            limit_millicores: 500,
            request_millicores: None
        }
    );
    assert_eq!(isolators[3], Isolator::NoNewPrivileges(true));
    assert_eq!(isolators[4], Isolator::OomScoreAdj(-1000));
}

#[test]
fn isolator_list_limit() {
    let many: Vec<Value> = (0..257)
        .map(|_| json!({ "name": "os/linux/no-new-privileges", "value": true }))
        .collect();
    assert_eq!(
        refusal(|p| app(p, 0)["isolators"] = json!(many)),
        "pod.json: apps[0].app.isolators: has more than 256 entries"
    );
    assert_eq!(
        refusal(|p| p["isolators"] = json!([{ "name": "x", "value": null }, { "name": "" }])),
        "pod.json: isolators[1].name \"\": must not be empty"
    );
}

// Volumes and mounts.

#[test]
fn volume_kinds() {
    assert_eq!(
        refusal(|p| p["volumes"][0]["kind"] = json!("nfs")),
        "pod.json: volumes[0].kind \"nfs\": must be \"host\" or \"empty\""
    );
    assert_eq!(
        refusal(|p| p["volumes"] = json!([{ "name": "data" }])),
        "pod.json: volumes[0].kind: must be \"host\" or \"empty\""
    );
}

#[test]
fn host_volumes_need_an_absolute_source() {
    assert_eq!(
        refusal(|p| p["volumes"] = json!([{ "name": "data", "kind": "host" }])),
        "pod.json: volumes[0].source: must be an absolute path"
    );
    assert_eq!(
        refusal(|p| p["volumes"] = json!([{ "name": "data", "kind": "host", "source": "srv" }])),
        "pod.json: volumes[0].source \"srv\": must be an absolute path"
    );
}

#[test]
fn volume_names_and_modes() {
    assert_eq!(
        refusal(|p| p["volumes"][0]["name"] = json!("My Data")),
        "pod.json: volumes[0].name \"My Data\": must be lowercase letters, digits and single dashes"
    );
    let twice = json!([{ "name": "data", "kind": "empty" }, { "name": "data", "kind": "empty" }]);
    assert_eq!(
        refusal(|p| p["volumes"] = twice),
        "pod.json: volumes[1].name \"data\": duplicates volumes[0].name"
    );
    for bad in ["999", "", "0x1ff", "17777", "+755"] {
        assert_eq!(
            refusal(|p| p["volumes"][0]["mode"] = json!(bad)),
            format!(
                "pod.json: volumes[0].mode {bad:?}: must be an octal mode from \"0\" to \"07777\""
            )
        );
    }
    let pod = accepted(|p| p["volumes"][0]["mode"] = json!("1777"));
    assert_eq!(
        pod.volumes()[0].kind(),
        &VolumeKind::Empty {
            mode: 0o1777,
            uid: 0,
            gid: 0
        }
    );
}

#[test]
fn mount_point_and_mount_paths() {
    assert_eq!(
        refusal(|p| app(p, 0)["mountPoints"] = json!([{ "name": "data", "path": "data" }])),
        "pod.json: apps[0].app.mountPoints[0].path \"data\": must be an absolute path"
    );
    assert_eq!(
        refusal(|p| app(p, 0)["mountPoints"] = json!([{ "name": "Data", "path": "/data" }])),
        "pod.json: apps[0].app.mountPoints[0].name \"Data\": \
         must be lowercase letters, digits and single dashes"
    );
    assert_eq!(
        refusal(|p| p["apps"][0]["mounts"] = json!([{ "volume": "data", "path": "/../etc" }])),
        "pod.json: apps[0].mounts[0].path \"/../etc\": must not have a \"..\" component"
    );
    assert_eq!(
        refusal(|p| p["apps"][0]["mounts"] = json!([{ "volume": "data", "path": "" }])),
        "pod.json: apps[0].mounts[0].path \"\": must be an absolute path"
    );
}

#[test]
fn mounts_name_volumes_once_per_path() {
    assert_eq!(
        refusal(|p| p["apps"][1]["mounts"] = json!([{ "volume": "logs", "path": "/logs" }])),
        "pod.json: apps[1].mounts[0].volume \"logs\": names no volume of the pod"
    );
    let twice = json!([{ "volume": "data", "path": "/d" }, { "volume": "data", "path": "/d" }]);
    assert_eq!(
        refusal(|p| p["apps"][0]["mounts"] = twice),
        "pod.json: apps[0].mounts[1].path \"/d\": duplicates apps[0].mounts[0].path"
    );
    let own = json!([{ "volume": "logs", "path": "/logs",
                       "appVolume": { "name": "logs", "kind": "host", "source": "/var/log" } }]);
    accepted(|p| p["apps"][1]["mounts"] = own);
}

#[test]
fn apps_limit() {
    let apps: Vec<Value> = (0..1025)
        .map(|i| json!({ "name": format!("a{i}"), "app": { "exec": ["x"] } }))
        .collect();
    assert_eq!(
        refusal(|p| p["apps"] = json!(apps)),
        "pod.json: apps: has more than 1024 entries"
    );
}

#[test]
fn mount_point_limit() {
    let points: Vec<Value> = (0..1025)
        .map(|i| json!({ "name": format!("m{i}"), "path": format!("/m{i}") }))
        .collect();
    assert_eq!(
        refusal(|p| app(p, 0)["mountPoints"] = json!(points)),
        "pod.json: apps[0].app.mountPoints: has more than 1024 entries"
    );
}

// What runtimes write, accepted.

#[test]
fn nulls_omissions_and_unknown_fields() {
    let text = r#"{"acVersion":"1.30.0","acKind":"PodManifest","apps":[{"name":"a",
        "image":{"name":"x","labels":null},"app":{"exec":["/a"],"environment":null,
        "isolators":null,"mountPoints":null,"future":{"x":1}},"mounts":null,"annotations":null}],
        "volumes":null,"isolators":null,"annotations":null,"ports":null,"extra":[1,2]}"#;
    let pod = PodManifest::from_slice(text.as_bytes(), "pod.json").expect("accepted");
    let app = pod.apps()[0].app().expect("app");
    assert!(app.environment().is_empty() && app.isolators().is_empty());
    assert!(pod.volumes().is_empty() && pod.isolators().is_empty());
}

#[test]
fn both_spellings_of_supplementary_gids() {
    for key in ["supplementaryGIDs", "supplementaryGids"] {
        let pod = accepted(|p| app(p, 0)[key] = json!([7, 8]));
        assert_eq!(
            pod.apps()[0].app().map(|a| a.supplementary_gids().to_vec()),
            Some(vec![7, 8])
        );
    }
}

#[test]
fn an_app_without_app_is_filled_from_its_image() {
    let mut pod = accepted(|p| {
        p["apps"][1].as_object_mut().expect("app").remove("app");
    });
    assert!(pod.apps()[1].app().is_none());
    let image = json!({ "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/db",
                        "app": { "exec": ["/bin/db"], "user": "0", "group": "0" } });
    let bytes = serde_json::to_vec(&image).expect("json");
    let db = pod.app_mut("db").expect("db app");
    db.fill_from_image_manifest(&bytes, "db/manifest")
        .expect("filled");
    assert_eq!(
        db.app().map(|a| a.exec().to_vec()),
        Some(vec!["/bin/db".to_owned()])
    );
}

#[test]
fn image_manifest_refusals() {
    let mut pod = accepted(|p| {
        p["apps"][1].as_object_mut().expect("app").remove("app");
    });
    let db = pod.app_mut("db").expect("db app");
    let cases = [
        (
            json!({ "acKind": "ImageManifest" }),
            "db/manifest: app: is missing here and in the pod manifest",
        ),
        (
            json!({ "acKind": "PodManifest", "app": { "exec": ["x"] } }),
            "db/manifest: acKind \"PodManifest\": must be \"ImageManifest\"",
        ),
        (
            json!({ "acKind": "ImageManifest", "app": { "exec": ["x/y"] } }),
            "db/manifest: app.exec[0] \"x/y\": must be an absolute path or a bare program name",
        ),
    ];
    for (image, message) in cases {
        let bytes = serde_json::to_vec(&image).expect("json");
        let err = db
            .fill_from_image_manifest(&bytes, "db/manifest")
            .expect_err("refused");
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn a_pod_manifest_app_is_not_replaced_by_the_image() {
    let mut pod = accepted(|_| {});
    let web = pod.app_mut("web").expect("web");
    web.fill_from_image_manifest(b"not even json", "web/manifest")
        .expect("ignored");
    assert_eq!(web.app().map(|a| a.exec()[0].as_str()), Some("/bin/web"));
}

#[test]
fn error_parts_are_available() {
    let mut pod = base();
    pod["apps"][1]["name"] = json!("Web_1");
    let bytes = serde_json::to_vec(&pod).expect("json");
    let err = PodManifest::from_slice(&bytes, "pod.json").expect_err("refused");
    assert_eq!(err.file(), "pod.json");
    assert_eq!(err.path(), "apps[1].name");
    assert_eq!(err.value(), Some("\"Web_1\""));
    assert!(matches!(err.rule(), Rule::AcName));
}

#[test]
fn control_characters_are_escaped_in_messages() {
    assert_eq!(
        refusal(|p| p["apps"][0]["name"] = json!("\u{1b}[31mred")),
        "pod.json: apps[0].name \"\\u{1b}[31mred\": \
         must be lowercase letters, digits and single dashes"
    );
}
