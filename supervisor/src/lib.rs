//! podinit's library: everything a PID 1 does with processes and signals,
//! apart from the command line.
//!
//! - [`signals`]: blocking signals and receiving them from one descriptor;
//! - [`spawn`]: starting a program in a clean state;
//! - [`reap`]: collecting exited children, orphans included;
//! - [`status`]: how a process ended, and the exit-code rule;
//! - [`leftovers`]: stopping what is left, gracefully, and waiting for it;
//! - [`manifest`]: the appc pod manifest;
//! - [`pod`]: running a pod's apps, with [`credentials`], [`privileges`],
//!   [`tree`] (each app's processes) and [`records`] (exit statuses);
//! - for a pod runtime's stage1: [`namespaces`] (the pod's, and joining
//!   them), [`network`] (loopback), [`rootfs`] (each app's root and its
//!   mounts) and [`volumes`].
//!
//! `unsafe` lives in one private module, `sys`.
#![deny(unsafe_code)]

pub mod credentials;
pub mod leftovers;
pub mod manifest;
pub mod namespaces;
pub mod network;
pub mod pod;
pub mod privileges;
pub mod reap;
pub mod records;
pub mod rootfs;
pub mod signals;
pub mod spawn;
pub mod status;
mod sys;
pub mod tree;
pub mod volumes;

pub use rustix::process::Pid;
