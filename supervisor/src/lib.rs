//! podinit's library: everything a PID 1 does with processes and signals,
//! apart from the command line.
//!
//! - [`signals`]: blocking signals and receiving them from one descriptor;
//! - [`spawn`]: starting a program in a clean state;
//! - [`reap`]: collecting exited children, orphans included;
//! - [`status`]: how a process ended, and the exit-code rule;
//! - [`leftovers`]: stopping what is left, gracefully, and waiting for it;
//! - [`manifest`]: the appc pod manifest.
//!
//! `unsafe` lives in one private module, `sys`.
#![deny(unsafe_code)]

pub mod leftovers;
pub mod manifest;
pub mod reap;
pub mod signals;
pub mod spawn;
pub mod status;
mod sys;

pub use rustix::process::Pid;
