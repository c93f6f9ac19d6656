//! The pod's network: in a network namespace of its own, loopback is
//! brought up and nothing else is set up.
//!
//! TODO: runtimes name further networks (rkt's `default` is a bridged CNI
//! network); podinit sets up none of them, and the pod has loopback only.
//! A CNI plugin runner would resolve this.

use std::io;

use rustix::net::{AddressFamily, SocketType, socket};

use crate::sys;

/// The loopback interface's name.
const LOOPBACK: &str = "lo";

/// Brings the loopback interface of the caller's network namespace up (a
/// new namespace has it, down).
pub fn loopback_up() -> io::Result<()> {
    let socket = socket(AddressFamily::INET, SocketType::DGRAM, None)?;
    sys::set_interface_up(&socket, LOOPBACK)
}
