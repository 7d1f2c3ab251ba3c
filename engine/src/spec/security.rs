//! Security settings of a spec: capabilities, masked and read-only paths, rlimits, sysctls.

use std::str::FromStr;

use caps::{Capability, CapsHashSet};
use nix::sys::resource::Resource;
use serde::{Deserialize, Serialize};

use super::SpecError;

/// Docker's 14 default capabilities.
pub(crate) const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// Docker's default masked paths.
pub(crate) const DEFAULT_MASKED_PATHS: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's default read-only paths.
pub(crate) const DEFAULT_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Capability adjustments over Docker's default set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// Capabilities added (`CAP_` prefix optional, case-insensitive, `ALL` allowed).
    pub add: Vec<String>,
    /// Capabilities dropped (`CAP_` prefix optional, case-insensitive, `ALL` allowed).
    pub drop: Vec<String>,
    /// Every capability, no masked or read-only paths.
    pub privileged: bool,
}

impl Capabilities {
    /// The resulting capability set: defaults, minus `drop`, plus `add` (Docker's order: a
    /// capability both dropped and added is kept).
    pub fn resolve(&self) -> Result<CapsHashSet, SpecError> {
        if self.privileged {
            return Ok(caps::all());
        }
        let mut set: CapsHashSet = DEFAULT_CAPABILITIES.into_iter().collect();
        for name in &self.drop {
            match parse_cap(name)? {
                None => set.clear(),
                Some(cap) => {
                    set.remove(&cap);
                }
            }
        }
        for name in &self.add {
            match parse_cap(name)? {
                None => set = caps::all(),
                Some(cap) => {
                    set.insert(cap);
                }
            }
        }
        Ok(set)
    }
}

/// Parses a capability name; `None` means `ALL`.
fn parse_cap(name: &str) -> Result<Option<Capability>, SpecError> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(None);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&full)
        .map(Some)
        .map_err(|_| SpecError::UnknownCapability(name.to_string()))
}

/// A soft and hard resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// The soft limit.
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
}

/// Maps an rlimit name (`nofile`, `nproc`, ...) to its resource number.
pub(crate) fn rlimit_resource(name: &str) -> Result<Resource, SpecError> {
    let resource = match name.to_ascii_lowercase().trim_start_matches("rlimit_") {
        "as" => Resource::RLIMIT_AS,
        "core" => Resource::RLIMIT_CORE,
        "cpu" => Resource::RLIMIT_CPU,
        "data" => Resource::RLIMIT_DATA,
        "fsize" => Resource::RLIMIT_FSIZE,
        "locks" => Resource::RLIMIT_LOCKS,
        "memlock" => Resource::RLIMIT_MEMLOCK,
        "msgqueue" => Resource::RLIMIT_MSGQUEUE,
        "nice" => Resource::RLIMIT_NICE,
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "rss" => Resource::RLIMIT_RSS,
        "rtprio" => Resource::RLIMIT_RTPRIO,
        "rttime" => Resource::RLIMIT_RTTIME,
        "sigpending" => Resource::RLIMIT_SIGPENDING,
        "stack" => Resource::RLIMIT_STACK,
        _ => return Err(SpecError::UnknownRlimit(name.to_string())),
    };
    Ok(resource)
}

/// Accepts only sysctls that are namespaced by the namespaces a container has (Docker's list).
pub(crate) fn check_sysctl(key: &str) -> Result<(), SpecError> {
    const EXACT: [&str; 5] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
    ];
    let allowed = EXACT.contains(&key)
        || key == "kernel.shmmax"
        || key == "kernel.shmmni"
        || key == "kernel.shm_rmid_forced"
        || key.starts_with("fs.mqueue.")
        || key.starts_with("net.");
    if allowed && !key.contains("..") && !key.contains('/') {
        Ok(())
    } else {
        Err(SpecError::ForbiddenSysctl(key.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(add: &[&str], drop: &[&str], privileged: bool) -> Result<CapsHashSet, SpecError> {
        Capabilities {
            add: add.iter().map(|s| s.to_string()).collect(),
            drop: drop.iter().map(|s| s.to_string()).collect(),
            privileged,
        }
        .resolve()
    }

    #[test]
    fn capability_resolution_table() {
        let defaults: CapsHashSet = DEFAULT_CAPABILITIES.into_iter().collect();
        assert_eq!(caps(&[], &[], false).unwrap(), defaults);
        let with_admin = caps(&["sys_admin"], &[], false).unwrap();
        assert!(with_admin.contains(&Capability::CAP_SYS_ADMIN));
        assert_eq!(with_admin.len(), 15);
        let no_chown = caps(&[], &["CAP_CHOWN"], false).unwrap();
        assert!(!no_chown.contains(&Capability::CAP_CHOWN));
        assert_eq!(no_chown.len(), 13);
        let only_kill = caps(&["KILL"], &["ALL"], false).unwrap();
        assert_eq!(only_kill, [Capability::CAP_KILL].into_iter().collect());
        assert_eq!(caps(&[], &[], true).unwrap(), caps::all());
        assert_eq!(caps(&["ALL"], &[], false).unwrap(), caps::all());
        assert_eq!(
            caps(&["nope"], &[], false),
            Err(SpecError::UnknownCapability("nope".into()))
        );
    }

    #[test]
    fn default_capability_mask_is_dockers() {
        let mask: u64 = DEFAULT_CAPABILITIES.iter().map(|c| c.bitmask()).sum();
        assert_eq!(mask, 0xa80425fb);
    }

    #[test]
    fn sysctl_and_rlimit_names() {
        for ok in [
            "net.core.somaxconn",
            "kernel.shmmax",
            "fs.mqueue.msg_max",
            "kernel.sem",
        ] {
            assert_eq!(check_sysctl(ok), Ok(()), "{ok}");
        }
        for bad in [
            "kernel.hostname.x",
            "vm.overcommit_memory",
            "net/../kernel",
            "kernel.panic",
        ] {
            assert!(check_sysctl(bad).is_err(), "{bad}");
        }
        assert_eq!(rlimit_resource("nofile"), Ok(Resource::RLIMIT_NOFILE));
        assert_eq!(rlimit_resource("RLIMIT_NPROC"), Ok(Resource::RLIMIT_NPROC));
        assert!(rlimit_resource("bogus").is_err());
    }
}
