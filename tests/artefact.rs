//! The artefact that ships: one statically linked binary, within its size
//! budget, which runs where there is nothing else. The slim build, the
//! container init alone, has the tighter budget of a tini replacement.

use std::fs;
use std::path::Path;
use std::process::Command;

use podinit_tests::{have_root, podinit, run, scratch_dir, slim_podinit, workload};

/// The size budget of the artefact: all three jobs in one binary.
const BUDGET: u64 = 768 * 1024;

/// The size budget of the slim build (`--no-default-features`).
const SLIM_BUDGET: u64 = 450 * 1024;

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().expect("2 bytes"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// A program header of a little-endian ELF64 file: type, offset, size.
struct Segment {
    kind: u32,
    offset: usize,
    size: usize,
}

/// The program headers of the little-endian ELF64 file `elf`.
fn segments(elf: &[u8]) -> Vec<Segment> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4..6], [2, 1], "not a little-endian 64-bit ELF file");
    let table = u64_at(elf, 32) as usize;
    let entry_size = usize::from(u16_at(elf, 54));
    (0..usize::from(u16_at(elf, 56)))
        .map(|index| {
            let header = &elf[table + index * entry_size..];
            Segment {
                kind: u32_at(header, 0),
                offset: u64_at(header, 8) as usize,
                size: u64_at(header, 32) as usize,
            }
        })
        .collect()
}

/// The tags of a dynamic section, up to DT_NULL.
fn dynamic_tags(elf: &[u8], dynamic: &Segment) -> Vec<u64> {
    elf[dynamic.offset..dynamic.offset + dynamic.size]
        .chunks_exact(16)
        .map(|entry| u64_at(entry, 0))
        .take_while(|&tag| tag != DT_NULL)
        .collect()
}

/// Static: no program interpreter (dynamic loader) and no shared library
/// needed. A static PIE has a dynamic section, but needs nothing.
#[test]
fn artefact_is_statically_linked() {
    assert_static(&podinit());
    assert_static(&slim_podinit());
}

fn assert_static(path: &Path) {
    let elf = fs::read(path).expect("read the artefact");
    let segments = segments(&elf);
    assert!(!segments.is_empty(), "no program headers");
    assert!(
        segments.iter().all(|segment| segment.kind != PT_INTERP),
        "the artefact asks for a dynamic loader"
    );
    for dynamic in segments.iter().filter(|segment| segment.kind == PT_DYNAMIC) {
        assert!(
            !dynamic_tags(&elf, dynamic).contains(&DT_NEEDED),
            "the artefact needs shared libraries"
        );
    }
}

#[test]
fn artefact_is_at_most_768_kib() {
    let size = fs::metadata(podinit()).expect("stat the artefact").len();
    assert!(size <= BUDGET, "{size} bytes, over the budget of {BUDGET}");
}

#[test]
fn slim_build_is_at_most_450_kib() {
    let size = fs::metadata(slim_podinit())
        .expect("stat the slim build")
        .len();
    assert!(
        size <= SLIM_BUDGET,
        "{size} bytes, over the budget of {SLIM_BUDGET}"
    );
}

/// In a root holding only podinit and the (static) workload: no libc, no
/// loader, no /proc.
#[test]
fn artefact_runs_as_pid1_in_an_otherwise_empty_root() {
    if !have_root() {
        return;
    }
    let root = scratch_dir("empty-root");
    fs::copy(podinit(), root.join("podinit")).expect("copy podinit");
    fs::copy(workload(), root.join("workload")).expect("copy the workload");
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--kill-child", "--root"]);
    command
        .arg(&root)
        .args(["--", "/podinit", "/workload", "exit", "3"]);
    let finished = run(command);
    let _ = fs::remove_dir_all(&root);
    assert_eq!(finished.code, 3, "{finished:?}");
    assert_eq!(finished.stderr, "", "{finished:?}");
}
