//! The pod directory the runtime lays out (stage1 contract, section 3),
//! and what podinit reads from it and writes to it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use podinit_supervisor::Pid;
use podinit_supervisor::manifest::PodManifest;

use super::Stage1Error;
use crate::Error;

/// Permissions of the files podinit writes into the pod directory.
const FILE_MODE: u32 = 0o640;

/// The pod directory: the entrypoints' working directory.
#[derive(Clone, Debug)]
pub struct PodDir {
    pub dir: PathBuf,
}

impl PodDir {
    /// The working directory, absolute: the runtime does not set `PWD`.
    pub fn current() -> Result<PodDir, Error> {
        let dir = std::env::current_dir()
            .map_err(|error| Error::system("cannot find the pod directory", error))?;
        Ok(PodDir { dir })
    }

    /// The pod manifest.
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("pod")
    }

    /// `stage1/rootfs/opt/stage2`: one directory per app.
    pub fn stage2(&self) -> PathBuf {
        self.dir.join("stage1/rootfs/opt/stage2")
    }

    /// App `name`'s root file system.
    pub fn app_root(&self, name: &str) -> PathBuf {
        self.stage2().join(name).join("rootfs")
    }

    /// Where apps' exit statuses go.
    pub fn status_dir(&self) -> PathBuf {
        self.dir.join("stage1/rootfs/rkt/status")
    }

    /// Where empty volumes are made.
    pub fn volumes(&self) -> PathBuf {
        self.dir.join("stage1/rootfs/rkt/volumes")
    }

    /// Where the pod's PID 1 mounts the `/dev/shm` the apps share.
    pub fn shm(&self) -> PathBuf {
        self.dir.join("stage1/rootfs/rkt/shm")
    }

    /// Names the cgroup directory of the pod's apps, for `gc`.
    pub fn cgroup_note(&self) -> PathBuf {
        self.dir.join("stage1/rootfs/rkt/cgroup")
    }

    /// The `pid` file `enter` and `stop` act on.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    /// Reads the pod manifest, filling an app without an `app` object from
    /// its image manifest (`opt/stage2/<app>/manifest`, contract 4.3).
    pub fn read_manifest(&self) -> Result<PodManifest, Error> {
        let mut manifest = PodManifest::from_file(self.manifest()).map_err(Error::Manifest)?;
        let missing: Vec<String> = manifest
            .apps()
            .iter()
            .filter(|app| app.app().is_none())
            .map(|app| app.name().to_owned())
            .collect();
        for name in missing {
            let image_manifest = self.stage2().join(&name).join("manifest");
            if let Some(app) = manifest.app_mut(&name) {
                app.fill_from_image_manifest_file(&image_manifest)
                    .map_err(Error::Manifest)?;
            }
        }
        Ok(manifest)
    }

    /// Writes `pid` as `"%d\n"`: to a temporary file, renamed over the
    /// final name, so that a reader finds a whole number or nothing.
    pub fn write_pid(&self, pid: Pid) -> Result<(), Stage1Error> {
        let path = self.pid_file();
        let text = format!("{}\n", pid.as_raw_nonzero());
        self.write_file(&path, &text)
    }

    /// Reads the `pid` file.
    pub fn read_pid(&self) -> Result<Pid, Stage1Error> {
        let path = self.pid_file();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Stage1Error::NotStarted(path));
            }
            Err(error) => return Err(file_error("read", &path, error)),
        };
        text.trim()
            .parse()
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| file_error("read", &path, std::io::Error::other("not a pid")))
    }

    /// Writes `text` to `path` in the pod directory, whole or not at all.
    pub fn write_file(&self, path: &Path, text: &str) -> Result<(), Stage1Error> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let temporary = path.with_file_name(format!(".{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(FILE_MODE)
                .open(&temporary)?;
            file.write_all(text.as_bytes())?;
            fs::rename(&temporary, path)
        };
        write().map_err(|error| file_error("write", path, error))
    }
}

fn file_error(what: &'static str, path: &Path, error: std::io::Error) -> Stage1Error {
    Stage1Error::File {
        what,
        path: path.to_owned(),
        error,
    }
}
