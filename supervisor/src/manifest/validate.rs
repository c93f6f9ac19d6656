//! From `raw` structs to the checked model: every rule of the module
//! documentation, checked in manifest order, failing at the first broken
//! one with its JSON path.

use std::collections::HashMap;

use super::error::{ManifestError, Rule, quote};
use super::isolator::{self, Isolator};
use super::json::{self, JsonPath};
use super::limits::*;
use super::model::{
    App, EventHandler, EventKind, Image, Mount, MountPoint, PodManifest, RuntimeApp, Volume,
    VolumeKind,
};
use super::raw;

/// The file being checked, for messages.
pub(crate) struct Ctx<'f> {
    file: &'f str,
}

impl Ctx<'_> {
    pub(crate) fn fail(
        &self,
        at: &JsonPath<'_>,
        value: Option<String>,
        rule: Rule,
    ) -> ManifestError {
        ManifestError::new(self.file, at.to_string(), value, rule)
    }

    /// A failure about a string value, shown quoted.
    fn bad(&self, at: &JsonPath<'_>, value: &str, rule: Rule) -> ManifestError {
        self.fail(at, Some(quote(value)), rule)
    }
}

type Result<T> = std::result::Result<T, ManifestError>;

/// Checks a whole pod manifest.
pub(super) fn pod(raw: raw::Pod, file: &str) -> Result<PodManifest> {
    let cx = Ctx { file };
    let root = JsonPath::Root;
    kind(&cx, &root.key("acKind"), &raw.ac_kind, "PodManifest")?;
    semver(&cx, &root.key("acVersion"), &raw.ac_version)?;
    let apps = apps(&cx, &root.key("apps"), raw.apps)?;
    let volumes = volumes(&cx, &root.key("volumes"), raw.volumes)?;
    mounts_name_volumes(&cx, &root.key("apps"), &apps, &volumes)?;
    Ok(PodManifest {
        ac_version: raw.ac_version,
        apps,
        volumes,
        isolators: isolators(&cx, &root.key("isolators"), raw.isolators)?,
        annotations: pairs(raw.annotations),
        ports: raw.ports,
    })
}

/// Checks the `app` of an image manifest, for an app the pod manifest
/// gives none.
pub(super) fn image_app(bytes: &[u8], file: &str) -> Result<App> {
    let raw: raw::ImageManifest = json::parse(bytes, file)?;
    let cx = Ctx { file };
    let root = JsonPath::Root;
    kind(&cx, &root.key("acKind"), &raw.ac_kind, "ImageManifest")?;
    let at = root.key("app");
    let app = raw.app.ok_or_else(|| cx.fail(&at, None, Rule::NoApp))?;
    app_body(&cx, &at, app)
}

fn kind(cx: &Ctx<'_>, at: &JsonPath<'_>, found: &str, expected: &'static str) -> Result<()> {
    if found == expected {
        return Ok(());
    }
    Err(cx.bad(at, found, Rule::AcKind { expected }))
}

/// `MAJOR.MINOR.PATCH`, then optionally `-pre` and `+build`, each a
/// dot-separated list of `[0-9A-Za-z-]+`.
fn semver(cx: &Ctx<'_>, at: &JsonPath<'_>, version: &str) -> Result<()> {
    let (rest, build) = version
        .split_once('+')
        .map_or((version, None), |(r, b)| (r, Some(b)));
    let (core, pre) = rest
        .split_once('-')
        .map_or((rest, None), |(c, p)| (c, Some(p)));
    let numbers: Vec<&str> = core.split('.').collect();
    let core_ok = numbers.len() == 3 && numbers.iter().all(|n| is_all(n, |c| c.is_ascii_digit()));
    let tag_ok = |tag: Option<&str>| {
        tag.is_none_or(|t| {
            t.split('.')
                .all(|p| is_all(p, |c| c.is_ascii_alphanumeric() || c == '-'))
        })
    };
    if core_ok && tag_ok(pre) && tag_ok(build) {
        return Ok(());
    }
    Err(cx.bad(at, version, Rule::Semver))
}

/// Non-empty and every character passing `test`.
fn is_all(text: &str, test: impl Fn(char) -> bool) -> bool {
    !text.is_empty() && text.chars().all(test)
}

fn count(cx: &Ctx<'_>, at: &JsonPath<'_>, len: usize, limit: usize) -> Result<()> {
    if len > limit {
        return Err(cx.fail(at, None, Rule::TooMany { limit }));
    }
    Ok(())
}

/// Remembers the names of a list and fails on the second of a name, citing
/// the first.
struct Unique<'l> {
    list: &'l JsonPath<'l>,
    field: &'static str,
    seen: HashMap<String, usize>,
}

impl<'l> Unique<'l> {
    fn new(list: &'l JsonPath<'l>, field: &'static str) -> Self {
        Unique {
            list,
            field,
            seen: HashMap::new(),
        }
    }

    fn check(&mut self, cx: &Ctx<'_>, index: usize, name: &str) -> Result<()> {
        if let Some(&first) = self.seen.get(name) {
            let first = self.list.index(first).key(self.field).to_string();
            let at = self.list.index(index);
            return Err(cx.bad(&at.key(self.field), name, Rule::Duplicate { first }));
        }
        self.seen.insert(name.to_owned(), index);
        Ok(())
    }
}

// Names.

/// An AC name: runs of `[a-z0-9]` joined by single dashes.
fn ac_name(cx: &Ctx<'_>, at: &JsonPath<'_>, name: &str) -> Result<()> {
    ac_word(cx, at, name, &['-'], Rule::AcName)
}

/// An AC identifier: runs of `[a-z0-9]` joined by single `-._~/`.
fn ac_identifier(cx: &Ctx<'_>, at: &JsonPath<'_>, name: &str) -> Result<()> {
    ac_word(cx, at, name, &['-', '.', '_', '~', '/'], Rule::AcIdentifier)
}

fn ac_word(cx: &Ctx<'_>, at: &JsonPath<'_>, name: &str, joins: &[char], rule: Rule) -> Result<()> {
    if name.is_empty() {
        return Err(cx.bad(at, name, Rule::Empty));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(cx.bad(
            at,
            name,
            Rule::TooLong {
                limit: MAX_NAME_BYTES,
            },
        ));
    }
    let run = |part: &str| is_all(part, |c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !name.split(joins).all(run) {
        return Err(cx.bad(at, name, rule));
    }
    Ok(())
}

/// `^[A-Za-z_][A-Za-z_0-9.-]*$`
fn env_name(cx: &Ctx<'_>, at: &JsonPath<'_>, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(cx.bad(at, name, Rule::Empty));
    }
    let first_ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !(first_ok && rest_ok) {
        return Err(cx.bad(at, name, Rule::EnvName));
    }
    Ok(())
}

/// A string for the kernel: no NUL, at most `limit` bytes.
fn c_string(cx: &Ctx<'_>, at: &JsonPath<'_>, text: &str, limit: usize) -> Result<()> {
    if text.contains('\0') {
        return Err(cx.bad(at, text, Rule::Nul));
    }
    if text.len() > limit {
        return Err(cx.bad(at, text, Rule::TooLong { limit }));
    }
    Ok(())
}

/// An absolute path, as for a host volume's source.
fn absolute(cx: &Ctx<'_>, at: &JsonPath<'_>, path: &str) -> Result<()> {
    if !path.starts_with('/') {
        return Err(cx.bad(at, path, Rule::NotAbsolute));
    }
    c_string(cx, at, path, MAX_PATH_BYTES)
}

/// An absolute path joined to an app's root from outside it: a `..`
/// component could climb out of the root.
fn in_root(cx: &Ctx<'_>, at: &JsonPath<'_>, path: &str) -> Result<()> {
    absolute(cx, at, path)?;
    if path.split('/').any(|part| part == "..") {
        return Err(cx.bad(at, path, Rule::DotDot));
    }
    Ok(())
}

// Apps.

fn apps(cx: &Ctx<'_>, at: &JsonPath<'_>, raw: Vec<raw::RuntimeApp>) -> Result<Vec<RuntimeApp>> {
    count(cx, at, raw.len(), MAX_APPS)?;
    let mut names = Unique::new(at, "name");
    let mut out = Vec::with_capacity(raw.len());
    for (i, app) in raw.into_iter().enumerate() {
        let at = at.index(i);
        ac_name(cx, &at.key("name"), &app.name)?;
        if app.name.len() > MAX_APP_NAME_BYTES {
            let limit = MAX_APP_NAME_BYTES;
            return Err(cx.bad(&at.key("name"), &app.name, Rule::TooLong { limit }));
        }
        names.check(cx, i, &app.name)?;
        out.push(runtime_app(cx, &at, app)?);
    }
    Ok(out)
}

fn runtime_app(cx: &Ctx<'_>, at: &JsonPath<'_>, raw: raw::RuntimeApp) -> Result<RuntimeApp> {
    let app = match raw.app {
        Some(app) => Some(app_body(cx, &at.key("app"), app)?),
        None => None,
    };
    Ok(RuntimeApp {
        name: raw.name,
        image: image(raw.image),
        app,
        read_only_rootfs: raw.read_only_root_fs,
        mounts: mounts(cx, &at.key("mounts"), raw.mounts)?,
        annotations: pairs(raw.annotations),
    })
}

fn image(raw: raw::Image) -> Image {
    Image {
        name: raw.name,
        id: raw.id,
        labels: pairs(raw.labels),
    }
}

fn pairs(raw: Vec<raw::NameValue>) -> Vec<(String, String)> {
    raw.into_iter().map(|nv| (nv.name, nv.value)).collect()
}

/// Checks an `app` object, of the pod manifest or of an image manifest.
fn app_body(cx: &Ctx<'_>, at: &JsonPath<'_>, raw: raw::App) -> Result<App> {
    let exec = argv(cx, &at.key("exec"), raw.exec)?;
    identity(cx, &at.key("user"), raw.user.as_deref())?;
    identity(cx, &at.key("group"), raw.group.as_deref())?;
    let gids = &raw.supplementary_gids;
    count(
        cx,
        &at.key("supplementaryGIDs"),
        gids.len(),
        MAX_SUPPLEMENTARY_GIDS,
    )?;
    if let Some(dir) = &raw.working_directory {
        in_root(cx, &at.key("workingDirectory"), dir)?;
    }
    Ok(App {
        exec,
        user: raw.user,
        group: raw.group,
        supplementary_gids: raw.supplementary_gids,
        working_directory: raw.working_directory,
        environment: environment(cx, &at.key("environment"), raw.environment)?,
        event_handlers: event_handlers(cx, &at.key("eventHandlers"), raw.event_handlers)?,
        mount_points: mount_points(cx, &at.key("mountPoints"), raw.mount_points)?,
        ports: raw.ports,
        isolators: isolators(cx, &at.key("isolators"), raw.isolators)?,
    })
}

/// argv for execve: non-empty, `exec[0]` absolute or a bare name, every
/// string kernel-safe, the whole within the limits.
fn argv(cx: &Ctx<'_>, at: &JsonPath<'_>, exec: Vec<String>) -> Result<Vec<String>> {
    let Some(program) = exec.first() else {
        return Err(cx.fail(at, None, Rule::Empty));
    };
    count(cx, at, exec.len(), MAX_ARGV_ENTRIES)?;
    let first = at.index(0);
    if program.is_empty() {
        return Err(cx.bad(&first, program, Rule::Empty));
    }
    if program.contains('/') && !program.starts_with('/') {
        return Err(cx.bad(&first, program, Rule::Program));
    }
    let mut total = 0;
    for (i, arg) in exec.iter().enumerate() {
        c_string(cx, &at.index(i), arg, MAX_ARG_BYTES)?;
        total += arg.len() + 1;
    }
    if total > MAX_ARGV_BYTES {
        return Err(cx.fail(
            at,
            None,
            Rule::TooManyBytes {
                limit: MAX_ARGV_BYTES,
            },
        ));
    }
    Ok(exec)
}

/// A user or group: a name or number, or a path in the app's root whose
/// owner is meant. Absent means root; empty is refused.
fn identity(cx: &Ctx<'_>, at: &JsonPath<'_>, value: Option<&str>) -> Result<()> {
    match value {
        None => Ok(()),
        Some("") => Err(cx.bad(at, "", Rule::Empty)),
        Some(path) if path.starts_with('/') => in_root(cx, at, path),
        Some(name) => c_string(cx, at, name, MAX_NAME_BYTES),
    }
}

/// Environment entries; a name given twice keeps its first place and its
/// last value.
fn environment(
    cx: &Ctx<'_>,
    at: &JsonPath<'_>,
    raw: Vec<raw::NameValue>,
) -> Result<Vec<(String, String)>> {
    count(cx, at, raw.len(), MAX_ENV_ENTRIES)?;
    let mut out: Vec<(String, String)> = Vec::with_capacity(raw.len());
    let mut places: HashMap<String, usize> = HashMap::new();
    let mut total = 0;
    for (i, entry) in raw.into_iter().enumerate() {
        let at = at.index(i);
        env_name(cx, &at.key("name"), &entry.name)?;
        let limit = MAX_ARG_BYTES.saturating_sub(entry.name.len() + 1);
        c_string(cx, &at.key("value"), &entry.value, limit)?;
        total += entry.name.len() + entry.value.len() + 2;
        match places
            .get(&entry.name)
            .and_then(|&place| out.get_mut(place))
        {
            Some(slot) => slot.1 = entry.value,
            None => {
                places.insert(entry.name.clone(), out.len());
                out.push((entry.name, entry.value));
            }
        }
    }
    if total > MAX_ENV_BYTES {
        return Err(cx.fail(
            at,
            None,
            Rule::TooManyBytes {
                limit: MAX_ENV_BYTES,
            },
        ));
    }
    Ok(out)
}

/// At most one `pre-start` and one `post-stop`.
fn event_handlers(
    cx: &Ctx<'_>,
    at: &JsonPath<'_>,
    raw: Vec<raw::EventHandler>,
) -> Result<Vec<EventHandler>> {
    let mut names = Unique::new(at, "name");
    let mut out = Vec::with_capacity(raw.len());
    for (i, handler) in raw.into_iter().enumerate() {
        let at = at.index(i);
        let kind = match handler.name.as_str() {
            "pre-start" => EventKind::PreStart,
            "post-stop" => EventKind::PostStop,
            other => return Err(cx.bad(&at.key("name"), other, Rule::EventName)),
        };
        names.check(cx, i, &handler.name)?;
        out.push(EventHandler {
            kind,
            exec: argv(cx, &at.key("exec"), handler.exec)?,
        });
    }
    Ok(out)
}

fn mount_points(
    cx: &Ctx<'_>,
    at: &JsonPath<'_>,
    raw: Vec<raw::MountPoint>,
) -> Result<Vec<MountPoint>> {
    count(cx, at, raw.len(), MAX_MOUNTS)?;
    let mut out = Vec::with_capacity(raw.len());
    for (i, point) in raw.into_iter().enumerate() {
        let at = at.index(i);
        ac_name(cx, &at.key("name"), &point.name)?;
        in_root(cx, &at.key("path"), &point.path)?;
        out.push(MountPoint {
            name: point.name,
            path: point.path,
            read_only: point.read_only,
        });
    }
    Ok(out)
}

/// Explicit mounts: each path once. Whether the volume exists is checked
/// once the pod's volumes are read ([`mounts_name_volumes`]).
fn mounts(cx: &Ctx<'_>, at: &JsonPath<'_>, raw: Vec<raw::Mount>) -> Result<Vec<Mount>> {
    count(cx, at, raw.len(), MAX_MOUNTS)?;
    let mut paths = Unique::new(at, "path");
    let mut out = Vec::with_capacity(raw.len());
    for (i, mount) in raw.into_iter().enumerate() {
        let at = at.index(i);
        ac_name(cx, &at.key("volume"), &mount.volume)?;
        in_root(cx, &at.key("path"), &mount.path)?;
        paths.check(cx, i, &mount.path)?;
        let app_volume = match mount.app_volume {
            Some(raw) => Some(volume(cx, &at.key("appVolume"), raw)?),
            None => None,
        };
        out.push(Mount {
            volume: mount.volume,
            path: mount.path,
            app_volume,
        });
    }
    Ok(out)
}

/// Every `mounts` entry without its own volume names a pod volume.
fn mounts_name_volumes(
    cx: &Ctx<'_>,
    at: &JsonPath<'_>,
    apps: &[RuntimeApp],
    volumes: &[Volume],
) -> Result<()> {
    for (i, app) in apps.iter().enumerate() {
        for (j, mount) in app.mounts.iter().enumerate() {
            let known = volumes.iter().any(|v| v.name == mount.volume);
            if mount.app_volume.is_none() && !known {
                let at = at.index(i);
                let at = at.key("mounts");
                let at = at.index(j);
                return Err(cx.bad(&at.key("volume"), &mount.volume, Rule::NoSuchVolume));
            }
        }
    }
    Ok(())
}

// Volumes.

fn volumes(cx: &Ctx<'_>, at: &JsonPath<'_>, raw: Vec<raw::Volume>) -> Result<Vec<Volume>> {
    count(cx, at, raw.len(), MAX_MOUNTS)?;
    let mut names = Unique::new(at, "name");
    let mut out = Vec::with_capacity(raw.len());
    for (i, raw) in raw.into_iter().enumerate() {
        let at = at.index(i);
        let volume = volume(cx, &at, raw)?;
        names.check(cx, i, &volume.name)?;
        out.push(volume);
    }
    Ok(out)
}

fn volume(cx: &Ctx<'_>, at: &JsonPath<'_>, raw: raw::Volume) -> Result<Volume> {
    ac_name(cx, &at.key("name"), &raw.name)?;
    let kind = match raw.kind.as_str() {
        "host" => host_volume(cx, at, &raw)?,
        "empty" => VolumeKind::Empty {
            mode: mode(cx, &at.key("mode"), raw.mode.as_deref())?,
            uid: raw.uid.unwrap_or(0),
            gid: raw.gid.unwrap_or(0),
        },
        "" => return Err(cx.fail(&at.key("kind"), None, Rule::VolumeKind)),
        other => return Err(cx.bad(&at.key("kind"), other, Rule::VolumeKind)),
    };
    Ok(Volume {
        name: raw.name,
        kind,
        read_only: raw.read_only,
    })
}

fn host_volume(cx: &Ctx<'_>, at: &JsonPath<'_>, raw: &raw::Volume) -> Result<VolumeKind> {
    let at = at.key("source");
    let Some(source) = &raw.source else {
        return Err(cx.fail(&at, None, Rule::NotAbsolute));
    };
    absolute(cx, &at, source)?;
    Ok(VolumeKind::Host {
        source: source.clone(),
        recursive: raw.recursive.unwrap_or(true),
    })
}

/// An octal mode string, `"0755"` when absent.
fn mode(cx: &Ctx<'_>, at: &JsonPath<'_>, mode: Option<&str>) -> Result<u32> {
    let Some(text) = mode else { return Ok(0o755) };
    let octal = is_all(text, |c| ('0'..='7').contains(&c)) && text.len() <= 6;
    match u32::from_str_radix(text, 8) {
        Ok(mode) if octal && mode <= 0o7777 => Ok(mode),
        _ => Err(cx.bad(at, text, Rule::Mode)),
    }
}

// Isolators.

/// Isolators by name, the later of two with the same name replacing the
/// earlier in its place. Every entry is checked, the replaced ones too.
fn isolators(cx: &Ctx<'_>, at: &JsonPath<'_>, raw: Vec<raw::Isolator>) -> Result<Vec<Isolator>> {
    count(cx, at, raw.len(), MAX_ISOLATORS)?;
    let mut out: Vec<Isolator> = Vec::with_capacity(raw.len());
    for (i, entry) in raw.into_iter().enumerate() {
        let at = at.index(i);
        ac_identifier(cx, &at.key("name"), &entry.name)?;
        let parsed = isolator::parse(cx, &at, entry.name, entry.value)?;
        match out.iter_mut().find(|known| known.name() == parsed.name()) {
            Some(slot) => *slot = parsed,
            None => out.push(parsed),
        }
    }
    Ok(out)
}
