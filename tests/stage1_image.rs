//! The stage1 image that `musl-target/build-aci` builds: an appc image a
//! pod runtime accepts as its stage1, holding the static podinit, the
//! entrypoint links and the status directory, reproducible byte for byte.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use podinit_tests::{have_root, root, run, scratch_dir};

/// The entrypoints, each a link named after it at the top of the rootfs.
const ENTRYPOINTS: [&str; 4] = ["run", "enter", "stop", "gc"];

/// Every entry of the archive, in order, with its type (`-` file, `d`
/// directory, `l` symlink) and a symlink's target.
const LAYOUT: [(&str, char, Option<&str>); 9] = [
    ("manifest", '-', None),
    ("rootfs/", 'd', None),
    ("rootfs/enter", 'l', Some("podinit")),
    ("rootfs/gc", 'l', Some("podinit")),
    ("rootfs/podinit", '-', None),
    ("rootfs/rkt/", 'd', None),
    ("rootfs/rkt/status/", 'd', None),
    ("rootfs/run", 'l', Some("podinit")),
    ("rootfs/stop", 'l', Some("podinit")),
];

/// The built image.
fn image() -> PathBuf {
    let path = root().join("target/podinit-stage1.aci");
    assert!(
        path.is_file(),
        "{} is missing: build it with musl-target/build-aci (musl-target/test does)",
        path.display()
    );
    path
}

/// One line of `tar --list --verbose`.
#[derive(Debug)]
struct Entry {
    kind: char,
    mode: String,
    owner: String,
    time: String,
    name: String,
    target: Option<String>,
}

/// The archive's entries, as GNU tar lists them (numeric owners, times to
/// the second).
fn entries() -> Vec<Entry> {
    let mut command = Command::new("tar");
    command.args([
        "--list",
        "--verbose",
        "--gzip",
        "--numeric-owner",
        "--full-time",
    ]);
    command.arg("--file").arg(image());
    let listed = run(command);
    assert_eq!(listed.code, 0, "tar cannot list the image: {listed:?}");
    listed.stdout.lines().map(entry).collect()
}

fn entry(line: &str) -> Entry {
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(fields.len() >= 6, "an unexpected listing line: {line}");
    let target = match fields.get(6..) {
        Some(["->", target]) => Some(target.to_string()),
        Some([]) => None,
        _ => panic!("an unexpected listing line: {line}"),
    };
    Entry {
        kind: fields[0].chars().next().expect("a mode"),
        mode: fields[0].to_string(),
        owner: fields[1].to_string(),
        time: format!("{} {}", fields[3], fields[4]),
        name: fields[5].to_string(),
        target,
    }
}

/// The image unpacked into a fresh directory named after `tag`.
fn extracted(tag: &str) -> PathBuf {
    let dir = scratch_dir(&format!("stage1-image-{tag}"));
    let mut command = Command::new("tar");
    command.args(["--extract", "--gzip", "--file"]).arg(image());
    command.arg("--directory").arg(&dir);
    let unpacked = run(command);
    assert_eq!(
        unpacked.code, 0,
        "tar cannot unpack the image: {unpacked:?}"
    );
    dir
}

/// The image's manifest, parsed.
fn manifest(dir: &Path) -> Value {
    let text = fs::read_to_string(dir.join("manifest")).expect("read the manifest");
    serde_json::from_str(&text).expect("the manifest is JSON")
}

/// The value of the `name` entry of a manifest list (labels, annotations).
fn named<'a>(list: &'a Value, name: &str) -> Option<&'a str> {
    let list = list.as_array().expect("a list of name/value pairs");
    list.iter()
        .find(|item| item["name"] == name)
        .map(|item| item["value"].as_str().expect("a string value"))
}

/// An appc AC identifier: `^[a-z0-9]+([-._~/][a-z0-9]+)*$`.
fn is_ac_identifier(name: &str) -> bool {
    let separator = |c: char| "-._~/".contains(c);
    name.split(separator).all(|word| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

#[test]
fn image_is_a_gzip_tar_of_exactly_manifest_and_rootfs() {
    let bytes = fs::read(image()).expect("read the image");
    assert_eq!(bytes[..2], [0x1f, 0x8b], "not gzip");
    let listed: Vec<(String, char, Option<String>)> = entries()
        .into_iter()
        .map(|entry| (entry.name, entry.kind, entry.target))
        .collect();
    let expected: Vec<(String, char, Option<String>)> = LAYOUT
        .iter()
        .map(|(name, kind, target)| (name.to_string(), *kind, target.map(str::to_string)))
        .collect();
    assert_eq!(listed, expected);
}

/// What makes two builds of the same binary give the same bytes.
#[test]
fn image_entries_have_one_time_root_owner_and_fixed_modes() {
    let entries = entries();
    for entry in &entries {
        assert_eq!(entry.owner, "0/0", "{entry:?}");
        assert_eq!(entry.time, entries[0].time, "{entry:?}");
        let mode = match entry.kind {
            'd' => "drwxr-xr-x",
            'l' => "lrwxrwxrwx",
            _ if entry.name == "rootfs/podinit" => "-rwxr-xr-x",
            _ => "-rw-r--r--",
        };
        assert_eq!(entry.mode, mode, "{entry:?}");
    }
    let bytes = fs::read(image()).expect("read the image");
    assert_eq!(bytes[4..8], [0; 4], "gzip recorded a time");
    assert_eq!(bytes[3] & 0x08, 0, "gzip recorded a file name");
}

#[test]
fn manifest_names_the_image_and_its_platform() {
    let dir = extracted("manifest");
    let manifest = manifest(&dir);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(manifest["acKind"], "ImageManifest");
    assert_eq!(manifest["acVersion"], "0.8.11");
    let name = manifest["name"].as_str().expect("a name");
    assert!(is_ac_identifier(name), "not an AC identifier: {name}");
    assert_eq!(name, "podinit/stage1");
    let labels = &manifest["labels"];
    assert_eq!(named(labels, "version"), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(named(labels, "os"), Some("linux"));
    assert_eq!(named(labels, "arch"), Some("amd64"));
}

#[test]
fn manifest_annotates_every_entrypoint_and_the_interface_version() {
    let dir = extracted("annotations");
    let manifest = manifest(&dir);
    let _ = fs::remove_dir_all(&dir);
    let annotations = &manifest["annotations"];
    for entrypoint in ENTRYPOINTS {
        let annotation = format!("coreos.com/rkt/stage1/{entrypoint}");
        assert_eq!(
            named(annotations, &annotation),
            Some(format!("/{entrypoint}").as_str()),
            "{annotation}"
        );
    }
    assert_eq!(
        named(annotations, "coreos.com/rkt/stage1/interface-version"),
        Some("5")
    );
}

/// The runtime execs `<rootfs><annotation>` from the host, without a
/// chroot: each link must resolve inside the rootfs, to the binary.
#[test]
fn every_entrypoint_resolves_to_podinit_inside_the_rootfs() {
    let dir = extracted("entrypoints");
    let rootfs = dir.join("rootfs");
    let manifest = manifest(&dir);
    let binary = rootfs.join("podinit");
    let metadata = fs::symlink_metadata(&binary).expect("stat rootfs/podinit");
    assert!(metadata.is_file(), "rootfs/podinit is not a regular file");
    assert_eq!(metadata.permissions().mode() & 0o777, 0o755);
    let binary = binary.canonicalize().expect("resolve rootfs/podinit");
    for entrypoint in ENTRYPOINTS {
        let annotation = format!("coreos.com/rkt/stage1/{entrypoint}");
        let value = named(&manifest["annotations"], &annotation).expect("an annotation");
        let path = rootfs.join(value.strip_prefix('/').expect("an absolute path"));
        let link = fs::read_link(&path).expect("the entrypoint is a link");
        assert!(
            link.is_relative(),
            "{value} -> {}: absolute",
            link.display()
        );
        let resolved = path.canonicalize().expect("the entrypoint resolves");
        assert_eq!(resolved, binary, "{value}");
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn status_directory_exists_and_is_empty() {
    let dir = extracted("status");
    let status = dir.join("rootfs/rkt/status");
    let metadata = fs::symlink_metadata(&status).expect("rootfs/rkt/status exists");
    assert!(metadata.is_dir(), "rootfs/rkt/status is not a directory");
    let count = fs::read_dir(&status)
        .expect("list rootfs/rkt/status")
        .count();
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(count, 0, "rootfs/rkt/status is not empty");
}

/// Whether Debian's `actool` (package appc-spec) can be run. Without it the
/// test skips, except under `CI=true`, where `musl-target/test` installs it.
fn have_actool() -> bool {
    if Command::new("actool").arg("version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "this test needs actool (Debian package appc-spec) and CI=true"
    );
    eprintln!("skipped: needs actool (Debian package appc-spec)");
    false
}

#[test]
fn actool_accepts_the_image() {
    if !have_actool() {
        return;
    }
    let mut command = Command::new("actool");
    command.arg("validate").arg(image());
    let validated = run(command);
    assert_eq!(validated.code, 0, "{validated:?}");
}

/// The binary runs from the unpacked image; as root also chrooted into the
/// rootfs, where nothing else exists: no loader, no libc.
#[test]
fn binary_runs_from_the_unpacked_image() {
    let dir = extracted("runs");
    let rootfs = dir.join("rootfs");
    let version = format!("podinit {}\n", env!("CARGO_PKG_VERSION"));

    let mut command = Command::new(rootfs.join("podinit"));
    command.arg("--version");
    let finished = run(command);
    assert_eq!(
        (finished.code, finished.stdout.as_str()),
        (0, version.as_str()),
        "{finished:?}"
    );

    if have_root() {
        let mut command = Command::new("unshare");
        command
            .arg("--root")
            .arg(&rootfs)
            .args(["--", "/podinit", "--version"]);
        let finished = run(command);
        assert_eq!(
            (finished.code, finished.stdout.as_str()),
            (0, version.as_str()),
            "{finished:?}"
        );
    }
    let _ = fs::remove_dir_all(&dir);
}
