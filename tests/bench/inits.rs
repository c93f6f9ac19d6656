//! The inits under test: where their binaries are, how big, and whether they are static.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};

/// One init binary to measure.
#[derive(Debug, Clone)]
pub struct Init {
    pub name: &'static str,
    pub path: PathBuf,
    pub size: u64,
    pub is_static: bool,
}

impl Init {
    /// The command line that runs `program` under this init. Every one of them takes `--`;
    /// catatonit built with glibc even needs it, or getopt would take the program's options.
    pub fn command<S: AsRef<OsStr>>(&self, program: &[S]) -> Vec<OsString> {
        let mut argv = vec![self.path.clone().into_os_string(), OsString::from("--")];
        argv.extend(program.iter().map(|arg| arg.as_ref().to_os_string()));
        argv
    }
}

/// The binary of init `name`: podinit's build artefact, or the peer found in `PATH`.
/// `Ok(None)` when it does not exist.
pub fn locate(name: &'static str, podinit: Option<&Path>) -> Result<Option<Init>> {
    let path = match name {
        "podinit" => Some(podinit.map_or_else(default_podinit, |path| Ok(path.to_path_buf()))?),
        _ => search_path(name),
    };
    match path {
        Some(path) if path.is_file() => describe(name, path).map(Some),
        _ => Ok(None),
    }
}

/// Where `cargo build --release` leaves podinit: beside this benchmark binary.
pub fn default_podinit() -> Result<PathBuf> {
    let exe = env::current_exe().context(|| "failed to find the benchmark's own binary".into())?;
    Ok(exe.with_file_name("podinit"))
}

/// Whether the ELF executable at `path` is statically linked.
pub fn is_static(path: &Path) -> Result<bool> {
    describe("", path.to_path_buf()).map(|binary| binary.is_static)
}

/// Where `cargo build --release -p podinit --no-default-features --target-dir target/slim`
/// leaves the slim build, `target` being the target directory this benchmark was built in.
pub fn default_slim() -> Result<PathBuf> {
    let exe = env::current_exe().context(|| "failed to find the benchmark's own binary".into())?;
    let release = exe.parent();
    let triple = release.and_then(Path::parent);
    let target = triple.and_then(Path::parent);
    match (release, triple, target) {
        (Some(release), Some(triple), Some(target)) => {
            let (triple, profile) = (triple.file_name(), release.file_name());
            let slim = target.join("slim").join(triple.unwrap_or_default());
            Ok(slim.join(profile.unwrap_or_default()).join("podinit"))
        }
        _ => Err(Error::new(format!(
            "no target directory above {}",
            exe.display()
        ))),
    }
}

/// The slim build, sized beside the shipped one, or where it was looked for.
pub enum Slim {
    Found(Init),
    Missing(PathBuf),
}

/// The slim build at `path` (default: `default_slim`), named `podinit slim`.
pub fn locate_slim(path: Option<&Path>) -> Result<Slim> {
    let path = path.map_or_else(default_slim, |path| Ok(path.to_path_buf()))?;
    match path.is_file() {
        true => describe("podinit slim", path).map(Slim::Found),
        false => Ok(Slim::Missing(path)),
    }
}

fn search_path(name: &str) -> Option<PathBuf> {
    let dirs = env::var_os("PATH")?;
    env::split_paths(&dirs)
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn describe(name: &'static str, path: PathBuf) -> Result<Init> {
    let image = fs::read(&path).context(|| format!("failed to read {}", path.display()))?;
    let is_static = !has_interpreter(&image)
        .ok_or_else(|| Error::new(format!("not a 64-bit ELF file: {}", path.display())))?;
    Ok(Init {
        name,
        path,
        size: image.len() as u64,
        is_static,
    })
}

/// Whether a little-endian ELF64 image names a program interpreter (`PT_INTERP`), i.e. is
/// dynamically linked; `None` when the image is no such ELF file. See elf(5).
fn has_interpreter(image: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if image.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let phoff = usize::try_from(read_u64(image, 0x20)?).ok()?;
    let phentsize = usize::from(read_u16(image, 0x36)?);
    let phnum = usize::from(read_u16(image, 0x38)?);
    for index in 0..phnum {
        let p_type = read_u32(image, phoff + index * phentsize)?;
        if p_type == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

fn read_u16(image: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(image.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(image: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(image.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(image: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(image.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF64 header with one program header of type `p_type`.
    fn image(p_type: u32) -> Vec<u8> {
        let mut image = vec![0u8; 0x40 + 0x38];
        image[..6].copy_from_slice(b"\x7fELF\x02\x01");
        image[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        image[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        image[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        image[0x40..0x44].copy_from_slice(&p_type.to_le_bytes());
        image
    }

    #[test]
    fn interpreter_means_dynamic() {
        assert_eq!(has_interpreter(&image(3)), Some(true));
        assert_eq!(has_interpreter(&image(1)), Some(false));
    }

    #[test]
    fn non_elf_and_truncated_images_are_refused() {
        assert_eq!(has_interpreter(b"#!/bin/sh\n"), None);
        assert_eq!(has_interpreter(&image(3)[..0x42]), None);
    }

    #[test]
    fn this_test_binary_is_recognised() {
        let exe = env::current_exe().expect("own path");
        let image = fs::read(exe).expect("own image");
        assert!(has_interpreter(&image).is_some());
    }
}
