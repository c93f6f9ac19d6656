//! How much of each thing a manifest may hold. Going over a limit is a
//! [`Rule::TooLong`](super::Rule::TooLong), `TooMany` or `TooManyBytes`
//! error naming the field; nothing is truncated.
//!
//! The exec limits keep one app's argv and environment together well under
//! the kernel's ARG_MAX (a quarter of the 8 MiB default stack), leaving room
//! for what the runner adds (`AC_APP_NAME`, `PATH`).

/// The largest manifest file read, pod or image: 1 MiB. rkt writes a few
/// kilobytes per app.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// Apps in one pod.
pub const MAX_APPS: usize = 1024;

/// Volumes of the pod; mount points and mounts of one app, each.
pub const MAX_MOUNTS: usize = 1024;

/// Isolators in one list (pod or app).
pub const MAX_ISOLATORS: usize = 256;

/// An app, volume or mount-point name, and a user or group name.
pub const MAX_NAME_BYTES: usize = 512;

/// An app name, tighter: it names the files `<app>` and `<app>.json` of the
/// status directory and their temporaries `.<app>.json.tmp`, which must fit
/// a file name's 255 bytes (NAME_MAX).
pub const MAX_APP_NAME_BYTES: usize = 245;

/// A path, without its terminating NUL: PATH_MAX is 4096 with it.
pub const MAX_PATH_BYTES: usize = 4095;

/// Entries of `exec` (and of an event handler's `exec`).
pub const MAX_ARGV_ENTRIES: usize = 4096;

/// One argv string or one `NAME=value` environment string, without its NUL:
/// the kernel's MAX_ARG_STRLEN (32 pages) is 131072 with it.
pub const MAX_ARG_BYTES: usize = 128 * 1024 - 1;

/// All of `exec`, each string counted with its NUL.
pub const MAX_ARGV_BYTES: usize = 256 * 1024;

/// Entries of `environment`.
pub const MAX_ENV_ENTRIES: usize = 4096;

/// All of `environment`, each entry counted as `NAME=value` plus NUL.
pub const MAX_ENV_BYTES: usize = 256 * 1024;

/// `supplementaryGIDs`: the kernel's NGROUPS_MAX.
pub const MAX_SUPPLEMENTARY_GIDS: usize = 65536;
