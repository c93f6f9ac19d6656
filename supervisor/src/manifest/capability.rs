//! Linux capabilities by name and number, and sets of them, for the
//! `os/linux/capabilities-*-set` isolators.

use std::fmt;

/// Capability names in number order, without the `CAP_` prefix, from
/// linux/capability.h (CAP_CHOWN is 0, CAP_CHECKPOINT_RESTORE is 40).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// One Linux capability, by its kernel number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Capability(u8);

impl Capability {
    /// Reads `CAP_NET_RAW`, `NET_RAW` or `net_raw`.
    pub fn from_name(name: &str) -> Option<Capability> {
        let upper = name.to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        let number = NAMES.iter().position(|known| *known == bare)?;
        u8::try_from(number).ok().map(Capability)
    }

    /// The capability with this kernel number, if podinit knows it.
    pub fn from_number(number: u8) -> Option<Capability> {
        (usize::from(number) < NAMES.len()).then_some(Capability(number))
    }

    /// The kernel number, as capset(2) and prctl(2) take it.
    pub fn number(self) -> u8 {
        self.0
    }

    /// The name without the `CAP_` prefix.
    pub fn bare_name(self) -> &'static str {
        NAMES.get(usize::from(self.0)).copied().unwrap_or("UNKNOWN")
    }
}

/// Shows `CAP_NET_RAW`.
impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CAP_{}", self.bare_name())
    }
}

/// A set of capabilities, one bit per number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CapabilitySet(u64);

impl CapabilitySet {
    /// appc's default set for an app that names no capability isolator
    /// (stage1 contract, section 6).
    pub const APPC_DEFAULT: CapabilitySet = CapabilitySet(
        1 << 29 // AUDIT_WRITE
            | 1 << 0 // CHOWN
            | 1 << 1 // DAC_OVERRIDE
            | 1 << 4 // FSETID
            | 1 << 3 // FOWNER
            | 1 << 5 // KILL
            | 1 << 27 // MKNOD
            | 1 << 13 // NET_RAW
            | 1 << 10 // NET_BIND_SERVICE
            | 1 << 7 // SETUID
            | 1 << 6 // SETGID
            | 1 << 8 // SETPCAP
            | 1 << 31 // SETFCAP
            | 1 << 18, // SYS_CHROOT
    );

    /// The empty set.
    pub fn new() -> Self {
        CapabilitySet(0)
    }

    /// Adds one capability.
    pub fn insert(&mut self, cap: Capability) {
        self.0 |= 1 << cap.0;
    }

    pub fn contains(self, cap: Capability) -> bool {
        self.0 & (1 << cap.0) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// One bit per capability number, as in `/proc/<pid>/status`.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// The members in number order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        (0..64u8)
            .filter(move |n| self.0 & (1 << n) != 0)
            .map(Capability)
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(caps: I) -> Self {
        let mut set = CapabilitySet::new();
        caps.into_iter().for_each(|cap| set.insert(cap));
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_prefix() {
        assert_eq!(
            Capability::from_name("CAP_NET_BIND_SERVICE").map(Capability::number),
            Some(10)
        );
        assert_eq!(
            Capability::from_name("net_bind_service").map(Capability::number),
            Some(10)
        );
        assert_eq!(
            Capability::from_name("CAP_CHECKPOINT_RESTORE").map(Capability::number),
            Some(40)
        );
        assert_eq!(Capability::from_name("CAP_NOPE"), None);
        assert_eq!(Capability::from_name(""), None);
    }

    #[test]
    fn every_name_reads_back() {
        for number in 0..41u8 {
            let cap = Capability::from_number(number).expect("known number");
            assert_eq!(Capability::from_name(&cap.to_string()), Some(cap));
        }
        assert_eq!(Capability::from_number(41), None);
    }

    #[test]
    fn default_set_has_the_fourteen_of_the_contract() {
        let set = CapabilitySet::APPC_DEFAULT;
        assert_eq!(set.len(), 14);
        let names: Vec<String> = set.iter().map(|c| c.to_string()).collect();
        assert!(names.contains(&"CAP_SYS_CHROOT".to_owned()));
        assert!(!names.contains(&"CAP_SYS_ADMIN".to_owned()));
    }
}
