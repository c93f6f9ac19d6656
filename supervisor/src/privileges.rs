//! What an app may do: its capabilities, `no_new_privs` and OOM score, from
//! its isolators, and the steps that set them in the forked child.
//!
//! [`Privileges::from_isolators`] is pure: it turns the app's isolators
//! into a plan and names the isolators it does not apply, for one warning
//! per app at start ([`Privileges::warning`]).
//!
//! # Order
//!
//! In the parent, before fork: [`crate::credentials::resolve`],
//! [`Privileges::from_isolators`], then print [`Privileges::warning`] and,
//! if not empty, the capabilities [`Privileges::unavailable`] names.
//!
//! In the child, between fork and exec:
//!
//! 1. [`Privileges::before_credentials`], still as root with every
//!    capability podinit has. It writes `oom_score_adj` (lowering it needs
//!    CAP_SYS_RESOURCE, and once the ids change `/proc/self` belongs to
//!    root, not to the app's user), drops from the bounding set every
//!    capability not in the plan (PR_CAPBSET_DROP needs CAP_SETPCAP in the
//!    effective set, which setuid to a non-root user clears), and sets
//!    PR_SET_KEEPCAPS so that setuid keeps the permitted set. `/proc` must
//!    be reachable when the plan has an `oom_score_adj`.
//! 2. [`crate::credentials::apply`]: setgroups, setgid, setuid. They need
//!    CAP_SETGID and CAP_SETUID in the effective set, which step 1 leaves
//!    untouched: dropping from the bounding set limits what exec may grant,
//!    not what the process holds. Every other privileged step of the
//!    spawner (mounts, chroot, chdir into a directory the user cannot
//!    search) goes before this one; a PR_SET_PDEATHSIG goes after it, since
//!    a change of effective id clears it (prctl(2)).
//! 3. [`Privileges::after_credentials`]: capset sets effective, permitted
//!    and inheritable to the plan (setuid to non-root cleared the effective
//!    set; KEEPCAPS kept the permitted one); each capability is raised in
//!    the ambient set, the only set a non-root user's plain (no file
//!    capabilities) program keeps across exec; then PR_SET_NO_NEW_PRIVS
//!    when asked for. It constrains only execve, so it could come earlier;
//!    last keeps all of the plan in one step.
//! 4. exec.
//!
//! After exec, for a non-root user: P' = A = plan, E' = P', I and the
//! bounding set are kept, so `CapEff`, `CapPrm`, `CapInh`, `CapBnd` and
//! `CapAmb` in `/proc/<pid>/status` all equal the plan. For uid 0 the
//! kernel gives a program P' = bounding | inheritable (plus ambient) =
//! plan and E' = P', and keeps the ambient set (no file capabilities, no
//! set-id), so all five are equal too (capabilities(7), "Transformation of
//! capabilities during execve()").
//!
//! A capability podinit itself lacks (a runtime that started it with a
//! reduced set) cannot be granted; step 3 grants the plan minus those, and
//! [`Privileges::unavailable`] names them for the parent to warn about.

use std::error::Error;
use std::fmt;
use std::io::{self, Write as _};

use rustix::fs::{Mode, OFlags, open};
use rustix::io::Errno;
use rustix::thread::{
    CapabilitySet as Bits, CapabilitySets, capabilities, capability_is_in_bounding_set,
    clear_ambient_capability_set, configure_capability_in_ambient_set,
    remove_capability_from_bounding_set, set_capabilities, set_keep_capabilities, set_no_new_privs,
};

use crate::manifest::{Capability, CapabilitySet, Isolator};

/// What the isolators of one app ask for.
#[derive(Clone, Debug, PartialEq)]
pub struct Privileges {
    /// The capability set the app runs with (every one of the five sets).
    pub capabilities: CapabilitySet,
    /// `os/linux/no-new-privileges`.
    pub no_new_privs: bool,
    /// `os/linux/oom-score-adj`; `None` leaves the inherited value.
    pub oom_score_adj: Option<i16>,
    /// Names of the isolators podinit does not apply, each once, in
    /// manifest order.
    pub ignored: Vec<String>,
}

/// A step of [`Privileges::before_credentials`] or
/// [`Privileges::after_credentials`] that failed.
#[derive(Debug)]
pub enum PrivilegeError {
    OomScoreAdj(io::Error),
    ReadCapabilities(io::Error),
    DropFromBoundingSet { number: u8, source: io::Error },
    KeepCapabilities(io::Error),
    SetCapabilities(io::Error),
    ClearAmbient(io::Error),
    RaiseAmbient { number: u8, source: io::Error },
    NoNewPrivileges(io::Error),
}

impl Privileges {
    /// The plan for an app with these isolators (the app's own, each name
    /// once, as [`App::isolators`](crate::manifest::App::isolators) gives
    /// them; of two with one name the later wins).
    ///
    /// Capabilities: the appc default set ([`CapabilitySet::APPC_DEFAULT`])
    /// when neither set isolator is given; a retain set replaces it (an
    /// empty retain set means no capability); a remove set removes from
    /// it. Given both, the retain set is taken and the remove set removed
    /// from it. rkt refused that pair with an error ("cannot have both");
    /// podinit applies the narrower reading instead, since a plan cannot
    /// fail here and the result never holds more than either isolator
    /// alone allows. rkt also read an empty retain set as "the default";
    /// podinit reads it as written.
    pub fn from_isolators(isolators: &[Isolator]) -> Privileges {
        let mut retain = None;
        let mut remove = None;
        let mut plan = Privileges {
            capabilities: CapabilitySet::APPC_DEFAULT,
            no_new_privs: false,
            oom_score_adj: None,
            ignored: Vec::new(),
        };
        for isolator in isolators {
            match isolator {
                Isolator::CapabilitiesRetainSet(set) => retain = Some(*set),
                Isolator::CapabilitiesRemoveSet(set) => remove = Some(*set),
                Isolator::NoNewPrivileges(on) => plan.no_new_privs = *on,
                Isolator::OomScoreAdj(adj) => plan.oom_score_adj = Some(*adj),
                other => plan.ignore(other.name()),
            }
        }
        let base = retain.unwrap_or(CapabilitySet::APPC_DEFAULT);
        let remove = remove.unwrap_or_default();
        plan.capabilities = base.iter().filter(|cap| !remove.contains(*cap)).collect();
        plan
    }

    fn ignore(&mut self, name: &str) {
        if !self.ignored.iter().any(|known| known == name) {
            self.ignored.push(name.to_owned());
        }
    }

    /// One line naming every isolator not applied, for the start of `app`:
    /// `app web: isolators not applied: resource/memory, resource/cpu`.
    pub fn warning(&self, app: &str) -> Option<String> {
        if self.ignored.is_empty() {
            return None;
        }
        let names = self.ignored.join(", ");
        Some(format!("app {app}: isolators not applied: {names}"))
    }

    /// The capabilities of the plan that podinit itself does not hold
    /// (permitted and in its bounding set), and so cannot grant. For the
    /// parent, to warn before starting the app.
    pub fn unavailable(&self) -> io::Result<CapabilitySet> {
        let held = grantable(self.capabilities)?;
        Ok(self
            .capabilities
            .iter()
            .filter(|c| !held.contains(*c))
            .collect())
    }

    /// Step 1 in the child, as root: `oom_score_adj`, the bounding set,
    /// PR_SET_KEEPCAPS. See the module documentation for the order.
    /// Allocates nothing.
    pub fn before_credentials(&self) -> Result<(), PrivilegeError> {
        if let Some(adj) = self.oom_score_adj {
            write_oom_score_adj(adj).map_err(PrivilegeError::OomScoreAdj)?;
        }
        drop_bounding_set_except(self.capabilities)?;
        // Cleared by the kernel at execve: the app does not inherit it.
        set_keep_capabilities(true).map_err(|e| PrivilegeError::KeepCapabilities(e.into()))
    }

    /// Step 3 in the child, after setuid: the capability sets, the ambient
    /// set, then `no_new_privs`. Allocates nothing.
    pub fn after_credentials(&self) -> Result<(), PrivilegeError> {
        let granted = grantable(self.capabilities).map_err(PrivilegeError::ReadCapabilities)?;
        let bits = Bits::from_bits_retain(granted.bits());
        let sets = CapabilitySets {
            effective: bits,
            permitted: bits,
            inheritable: bits,
        };
        set_capabilities(None, sets).map_err(|e| PrivilegeError::SetCapabilities(e.into()))?;
        raise_ambient(granted)?;
        if self.no_new_privs {
            set_no_new_privs(true).map_err(|e| PrivilegeError::NoNewPrivileges(e.into()))?;
        }
        Ok(())
    }
}

/// The members of `wanted` this process holds: permitted, and in the
/// bounding set (capset(2) refuses an inheritable capability outside it).
fn grantable(wanted: CapabilitySet) -> io::Result<CapabilitySet> {
    let permitted = capabilities(None)?.permitted.bits();
    let mut held = CapabilitySet::new();
    for cap in wanted.iter() {
        let in_permitted = permitted & (1 << cap.number()) != 0;
        if in_permitted && capability_is_in_bounding_set(one(cap.number()))? {
            held.insert(cap);
        }
    }
    Ok(held)
}

/// rustix's set with the single capability `number`.
fn one(number: u8) -> Bits {
    Bits::from_bits_retain(1 << number)
}

/// Writes the score as a decimal into `/proc/self/oom_score_adj`, formatted
/// on the stack.
fn write_oom_score_adj(adj: i16) -> io::Result<()> {
    let mut buf = [0u8; 8];
    let room = buf.len();
    let mut cursor = &mut buf[..];
    write!(cursor, "{adj}")?;
    let len = room - cursor.len();
    let flags = OFlags::WRONLY | OFlags::CLOEXEC;
    let fd = open("/proc/self/oom_score_adj", flags, Mode::empty())?;
    rustix::io::write(&fd, &buf[..len])?;
    Ok(())
}

/// PR_CAPBSET_DROP for every capability the kernel knows (numbers up to
/// `cap_last_cap`, found by probing: PR_CAPBSET_READ fails with EINVAL past
/// it, which spares reading `/proc/sys`) that is not in `keep`. Ones
/// already out of the bounding set are skipped, so that a podinit without
/// CAP_SETPCAP still succeeds when there is nothing to drop.
fn drop_bounding_set_except(keep: CapabilitySet) -> Result<(), PrivilegeError> {
    for number in 0..64u8 {
        let drop_error = |source: Errno| PrivilegeError::DropFromBoundingSet {
            number,
            source: source.into(),
        };
        let present = match capability_is_in_bounding_set(one(number)) {
            Err(Errno::INVAL) => return Ok(()),
            result => result.map_err(drop_error)?,
        };
        if present && keep.bits() & (1 << number) == 0 {
            remove_capability_from_bounding_set(one(number)).map_err(drop_error)?;
        }
    }
    Ok(())
}

/// Empties the ambient set, then raises each of `set` in it: the kernel
/// allows a capability there only while it is both permitted and
/// inheritable, which capset has just made so.
fn raise_ambient(set: CapabilitySet) -> Result<(), PrivilegeError> {
    let raise_error = |number: u8, source: Errno| PrivilegeError::RaiseAmbient {
        number,
        source: source.into(),
    };
    clear_ambient_capability_set().map_err(|e| PrivilegeError::ClearAmbient(e.into()))?;
    for cap in set.iter() {
        configure_capability_in_ambient_set(one(cap.number()), true)
            .map_err(|e| raise_error(cap.number(), e))?;
    }
    Ok(())
}

/// `CAP_NET_RAW`, or `capability 45` for a number podinit has no name for.
struct CapName(u8);

impl fmt::Display for CapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Capability::from_number(self.0) {
            Some(cap) => write!(f, "{cap}"),
            None => write!(f, "capability {}", self.0),
        }
    }
}

impl fmt::Display for PrivilegeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivilegeError::OomScoreAdj(e) => {
                write!(f, "failed to write /proc/self/oom_score_adj: {e}")
            }
            PrivilegeError::ReadCapabilities(e) => {
                write!(f, "failed to read the capability sets: {e}")
            }
            PrivilegeError::DropFromBoundingSet { number, source } => {
                let cap = CapName(*number);
                write!(f, "failed to drop {cap} from the bounding set: {source}")
            }
            PrivilegeError::KeepCapabilities(e) => {
                write!(f, "failed to keep capabilities across setuid: {e}")
            }
            PrivilegeError::SetCapabilities(e) => {
                write!(f, "failed to set the capability sets: {e}")
            }
            PrivilegeError::ClearAmbient(e) => write!(f, "failed to clear the ambient set: {e}"),
            PrivilegeError::RaiseAmbient { number, source } => {
                let cap = CapName(*number);
                write!(f, "failed to raise {cap} in the ambient set: {source}")
            }
            PrivilegeError::NoNewPrivileges(e) => write!(f, "failed to set no_new_privs: {e}"),
        }
    }
}

impl PrivilegeError {
    /// The system call's error.
    pub fn os_error(&self) -> &io::Error {
        match self {
            PrivilegeError::OomScoreAdj(e)
            | PrivilegeError::ReadCapabilities(e)
            | PrivilegeError::KeepCapabilities(e)
            | PrivilegeError::SetCapabilities(e)
            | PrivilegeError::ClearAmbient(e)
            | PrivilegeError::NoNewPrivileges(e) => e,
            PrivilegeError::DropFromBoundingSet { source, .. }
            | PrivilegeError::RaiseAmbient { source, .. } => source,
        }
    }
}

impl Error for PrivilegeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.os_error())
    }
}

/// For `pre_exec` and other `io::Result` callers: keeps the message and
/// the error kind.
impl From<PrivilegeError> for io::Error {
    fn from(error: PrivilegeError) -> io::Error {
        io::Error::new(error.os_error().kind(), error)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn caps(names: &[&str]) -> CapabilitySet {
        names
            .iter()
            .filter_map(|n| Capability::from_name(n))
            .collect()
    }

    #[test]
    fn no_isolator_gives_the_appc_default() {
        let plan = Privileges::from_isolators(&[]);
        assert_eq!(plan.capabilities, CapabilitySet::APPC_DEFAULT);
        assert!(!plan.no_new_privs);
        assert_eq!(plan.oom_score_adj, None);
        assert_eq!(plan.warning("web"), None);
    }

    #[test]
    fn retain_set_replaces_the_default() {
        let retain = caps(&["CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE"]);
        let plan = Privileges::from_isolators(&[Isolator::CapabilitiesRetainSet(retain)]);
        assert_eq!(plan.capabilities, retain);
    }

    #[test]
    fn empty_retain_set_means_no_capability() {
        let plan = Privileges::from_isolators(&[Isolator::CapabilitiesRetainSet(caps(&[]))]);
        assert!(plan.capabilities.is_empty());
    }

    #[test]
    fn remove_set_removes_from_the_default() {
        let remove = caps(&["CAP_NET_RAW", "CAP_MKNOD", "CAP_SYS_ADMIN"]);
        let plan = Privileges::from_isolators(&[Isolator::CapabilitiesRemoveSet(remove)]);
        assert_eq!(plan.capabilities.len(), 12);
        assert!(
            !plan
                .capabilities
                .contains(caps(&["NET_RAW"]).iter().next().unwrap())
        );
        assert!(
            plan.capabilities
                .contains(caps(&["CHOWN"]).iter().next().unwrap())
        );
    }

    #[test]
    fn both_sets_retain_then_remove() {
        let retain = caps(&["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_KILL"]);
        let remove = caps(&["CAP_KILL", "CAP_NET_RAW"]);
        let isolators = [
            Isolator::CapabilitiesRemoveSet(remove),
            Isolator::CapabilitiesRetainSet(retain),
        ];
        let plan = Privileges::from_isolators(&isolators);
        assert_eq!(plan.capabilities, caps(&["CAP_SYS_ADMIN", "CAP_CHOWN"]));
    }

    #[test]
    fn flags_and_later_wins() {
        let isolators = [
            Isolator::OomScoreAdj(-500),
            Isolator::NoNewPrivileges(true),
            Isolator::OomScoreAdj(300),
        ];
        let plan = Privileges::from_isolators(&isolators);
        assert!(plan.no_new_privs);
        assert_eq!(plan.oom_score_adj, Some(300));
        assert!(plan.ignored.is_empty());
    }

    #[test]
    fn unapplied_isolators_are_named_once_in_order() {
        let other = |name: &str| Isolator::Other {
            name: name.to_owned(),
            value: json!({}),
        };
        let isolators = [
            Isolator::Memory {
                limit_bytes: 64 << 20,
                request_bytes: None,
            },
            other("os/linux/seccomp-retain-set"),
            Isolator::NoNewPrivileges(false),
            Isolator::Cpu {
                limit_millicores: 250,
                request_millicores: None,
            },
            other("os/linux/cpu-shares"),
            other("os/linux/seccomp-retain-set"),
        ];
        let plan = Privileges::from_isolators(&isolators);
        assert_eq!(
            plan.warning("web").as_deref(),
            Some(
                "app web: isolators not applied: resource/memory, os/linux/seccomp-retain-set, \
                 resource/cpu, os/linux/cpu-shares"
            )
        );
    }

    #[test]
    fn errors_name_the_capability() {
        let error = PrivilegeError::RaiseAmbient {
            number: 10,
            source: io::Error::from_raw_os_error(1),
        };
        assert!(
            error
                .to_string()
                .starts_with("failed to raise CAP_NET_BIND_SERVICE in")
        );
        let error = PrivilegeError::DropFromBoundingSet {
            number: 55,
            source: io::Error::from_raw_os_error(1),
        };
        assert!(error.to_string().contains("drop capability 55 from"));
    }
}
