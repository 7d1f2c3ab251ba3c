//! The container specification: everything needed to create one container, typed and serde-able.
//!
//! A [`ContainerSpec`] is written to the container's directory at create time and read back by the
//! re-exec'd setup process, so it is the single source of truth for what runs.

mod cpuset;
mod ipc;
mod mounts;
mod names;
mod network;
mod resources;
mod security;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::health::HealthConfig;
use crate::restart::RestartPolicy;

pub use ipc::IpcNamespace;
pub use mounts::{Mount, MountKind, is_root_target};
pub use names::{DnsConfig, HostEntry};
pub use network::{NetworkAttachment, NetworkConfig, NetworkNamespace};
pub(crate) use resources::DEFAULT_CPU_PERIOD;
pub use resources::{LimitError, Resources};
#[cfg(test)]
pub(crate) use security::DEFAULT_CAPABILITIES;
pub use security::{Capabilities, Rlimit};
pub(crate) use security::{DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, rlimit_resource};

/// The default PATH given to a container that does not set one (Docker's value).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Errors found while validating a [`ContainerSpec`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// The command line is empty.
    #[error("container spec has no command to run")]
    EmptyArgs,
    /// The rootfs path is not absolute.
    #[error("rootfs {0} must be an absolute path")]
    RelativeRootfs(PathBuf),
    /// The working directory is not absolute.
    #[error("working directory {0} must be an absolute path")]
    RelativeCwd(PathBuf),
    /// A mount target is not absolute.
    #[error("mount target {0} must be an absolute path")]
    RelativeMountTarget(PathBuf),
    /// A mount target is the container's root.
    #[error("invalid mount config: destination can't be '/' (mount target {0})")]
    RootMountTarget(PathBuf),
    /// An environment entry is not `KEY=VALUE`.
    #[error("environment entry {0:?} is not KEY=VALUE")]
    BadEnv(String),
    /// A capability name is unknown.
    #[error("unknown capability {0:?}")]
    UnknownCapability(String),
    /// A sysctl is not namespaced, so a container may not set it.
    #[error("sysctl {0:?} is not namespaced and cannot be set in a container")]
    ForbiddenSysctl(String),
    /// An rlimit name is unknown.
    #[error("unknown rlimit {0:?}")]
    UnknownRlimit(String),
    /// A resource limit is out of bounds.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// A volume subpath is unusable.
    #[error("volume {volume}: subpath {}: {reason}", subpath.display())]
    BadSubpath {
        /// The volume.
        volume: String,
        /// The subpath as given.
        subpath: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A bind propagation mode is unknown.
    #[error(
        "invalid mount propagation {0:?}: use private, rprivate, shared, rshared, slave or rslave"
    )]
    BadPropagation(String),
    /// The seccomp profile is unusable.
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// The hostname is not a valid host name.
    #[error("invalid hostname {0:?}")]
    BadHostname(String),
}

/// Everything needed to create and run one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// The root filesystem directory on the host (absolute).
    pub rootfs: PathBuf,
    /// The command line: entrypoint followed by cmd. `args[0]` is looked up in `PATH` when it has
    /// no slash.
    pub args: Vec<String>,
    /// Environment entries, `KEY=VALUE`.
    pub env: Vec<String>,
    /// Working directory inside the container (absolute); created when missing.
    pub cwd: PathBuf,
    /// `user[:group]`, numeric or by name (from the rootfs's /etc/passwd and /etc/group).
    pub user: Option<String>,
    /// Extra supplementary groups, numeric or by name.
    pub additional_groups: Vec<String>,
    /// Host name inside the container (defaults to the first 12 characters of the id).
    pub hostname: Option<String>,
    /// NIS domain name inside the container.
    pub domainname: Option<String>,
    /// Capability set adjustments.
    pub capabilities: Capabilities,
    /// Set the no_new_privs bit before running the entrypoint.
    pub no_new_privileges: bool,
    /// The seccomp filter (Docker's default profile unless set; none when privileged).
    pub seccomp: crate::seccomp::Seccomp,
    /// Resource limits (ulimits), by lower-case name without `RLIMIT_` (e.g. `nofile`).
    pub rlimits: BTreeMap<String, Rlimit>,
    /// Namespaced sysctls (`net.*`, `kernel.shm*`, ...).
    pub sysctls: BTreeMap<String, String>,
    /// Mount the root filesystem read-only.
    pub read_only_root: bool,
    /// Paths hidden from the container (Docker's list by default; empty when privileged).
    pub masked_paths: Vec<PathBuf>,
    /// Paths made read-only in the container (Docker's list by default; empty when privileged).
    pub readonly_paths: Vec<PathBuf>,
    /// Extra mounts (binds and tmpfs), in order.
    pub mounts: Vec<Mount>,
    /// cgroup limits.
    pub resources: Resources,
    /// Size of /dev/shm in bytes (64 MiB by default, as Docker).
    pub shm_size: u64,
    /// Run a minimal init as PID 1 that forwards signals and reaps zombies.
    pub init: bool,
    /// The healthcheck (`None`, or a `NONE` test, runs no checks).
    pub healthcheck: Option<HealthConfig>,
    /// The restart policy the node's supervisor applies.
    pub restart: RestartPolicy,
    /// Extra /etc/hosts entries.
    pub extra_hosts: Vec<HostEntry>,
    /// /etc/resolv.conf settings.
    pub dns: DnsConfig,
    /// Give the container a terminal (a pty of its own devpts) as stdio; its output is logged
    /// as stdout.
    pub tty: bool,
    /// Keep stdin open: the shim holds it and serves attach connections (`run -i`).
    pub stdin: bool,
    /// The signal `stop` sends first (a number; 15 = SIGTERM by default).
    pub stop_signal: i32,
    /// How long `stop` waits before SIGKILL.
    #[serde(with = "duration_nanos")]
    pub stop_grace_period: Duration,
    /// Log rotation: the size at which the log file is rotated (0 = never).
    pub log_max_size: u64,
    /// Log rotation: how many files are kept, the live one included (at least 1).
    pub log_max_files: u32,
    /// The image (id) whose layers make the rootfs; the runtime then mounts an overlay at
    /// `rootfs`. `None`: `rootfs` is a plain directory.
    pub image: Option<String>,
    /// The network namespace, networks and published ports.
    pub network: NetworkConfig,
    /// Mount propagation of bind mounts by target (`rprivate` when absent).
    pub bind_propagation: BTreeMap<PathBuf, String>,
    /// The IPC namespace (and with it /dev/shm).
    pub ipc: IpcNamespace,
    /// Attributes every event of the container carries in the node's event log (Docker's
    /// `name`, `image` and the container's labels, as the caller names them).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub event_attributes: BTreeMap<String, String>,
}

impl Default for ContainerSpec {
    fn default() -> Self {
        Self {
            rootfs: PathBuf::new(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: PathBuf::from("/"),
            user: None,
            additional_groups: Vec::new(),
            hostname: None,
            domainname: None,
            capabilities: Capabilities::default(),
            no_new_privileges: false,
            seccomp: crate::seccomp::Seccomp::default(),
            rlimits: BTreeMap::new(),
            sysctls: BTreeMap::new(),
            read_only_root: false,
            masked_paths: DEFAULT_MASKED_PATHS.iter().map(PathBuf::from).collect(),
            readonly_paths: DEFAULT_READONLY_PATHS.iter().map(PathBuf::from).collect(),
            mounts: Vec::new(),
            resources: Resources::default(),
            shm_size: 64 << 20,
            init: false,
            healthcheck: None,
            restart: RestartPolicy::No,
            extra_hosts: Vec::new(),
            dns: DnsConfig::default(),
            tty: false,
            stdin: false,
            stop_signal: libc::SIGTERM,
            stop_grace_period: Duration::from_secs(10),
            log_max_size: 0,
            log_max_files: 1,
            image: None,
            network: NetworkConfig::default(),
            bind_propagation: BTreeMap::new(),
            ipc: IpcNamespace::Own,
            event_attributes: BTreeMap::new(),
        }
    }
}

impl ContainerSpec {
    /// A spec running `args` in `rootfs` with every other setting at Docker's default.
    pub fn new(
        rootfs: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            rootfs: rootfs.into(),
            args: args.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Checks the spec for errors a container would only hit at start.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.args.is_empty() {
            return Err(SpecError::EmptyArgs);
        }
        if !self.rootfs.is_absolute() {
            return Err(SpecError::RelativeRootfs(self.rootfs.clone()));
        }
        if !self.cwd.is_absolute() {
            return Err(SpecError::RelativeCwd(self.cwd.clone()));
        }
        if let Some(entry) = self
            .env
            .iter()
            .find(|e| !e.contains('=') || e.starts_with('='))
        {
            return Err(SpecError::BadEnv(entry.clone()));
        }
        if let Some(m) = self.mounts.iter().find(|m| !m.target.is_absolute()) {
            return Err(SpecError::RelativeMountTarget(m.target.clone()));
        }
        if let Some(m) = self.mounts.iter().find(|m| is_root_target(&m.target)) {
            return Err(SpecError::RootMountTarget(m.target.clone()));
        }
        if let Some(h) = &self.hostname {
            let ok = !h.is_empty()
                && h.len() <= 64
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !ok {
                return Err(SpecError::BadHostname(h.clone()));
            }
        }
        for p in self.bind_propagation.values() {
            if propagation_flags(p).is_none() {
                return Err(SpecError::BadPropagation(p.clone()));
            }
        }
        if self.network.namespace == NetworkNamespace::Host
            && let Some(key) = self.sysctls.keys().find(|k| k.starts_with("net."))
        {
            return Err(SpecError::ForbiddenSysctl(key.clone()));
        }
        let caps = self.capabilities.resolve()?;
        if let crate::seccomp::Seccomp::Profile(_) = &self.seccomp {
            self.seccomp.programs(self.capabilities.privileged, &caps)?;
        }
        for name in self.rlimits.keys() {
            security::rlimit_resource(name)?;
        }
        for key in self.sysctls.keys() {
            security::check_sysctl(key)?;
        }
        Ok(self.resources.validate()?)
    }

    /// The environment the entrypoint sees: `PATH` (defaulted) followed by the spec's entries,
    /// later entries overriding earlier ones with the same key.
    pub(crate) fn effective_env(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(self.env.len() + 1);
        if !self.env.iter().any(|e| e.starts_with("PATH=")) {
            out.push(format!("PATH={DEFAULT_PATH}"));
        }
        for entry in &self.env {
            let key = entry.split('=').next().unwrap_or_default();
            out.retain(|e| e.split('=').next() != Some(key));
            out.push(entry.clone());
        }
        out
    }
}

/// The mount flags of a propagation mode name.
pub(crate) fn propagation_flags(name: &str) -> Option<nix::mount::MsFlags> {
    use nix::mount::MsFlags;
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Serde helper storing a [`Duration`] as integer nanoseconds, so records stay plain JSON.
pub(crate) mod duration_nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_nanos(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_table() {
        let ok = ContainerSpec::new("/r", ["sh"]);
        let cases: Vec<(ContainerSpec, Result<(), SpecError>)> = vec![
            (ok.clone(), Ok(())),
            (
                ContainerSpec {
                    args: vec![],
                    ..ok.clone()
                },
                Err(SpecError::EmptyArgs),
            ),
            (
                ContainerSpec {
                    rootfs: "r".into(),
                    ..ok.clone()
                },
                Err(SpecError::RelativeRootfs("r".into())),
            ),
            (
                ContainerSpec {
                    cwd: "tmp".into(),
                    ..ok.clone()
                },
                Err(SpecError::RelativeCwd("tmp".into())),
            ),
            (
                ContainerSpec {
                    env: vec!["NOEQ".into()],
                    ..ok.clone()
                },
                Err(SpecError::BadEnv("NOEQ".into())),
            ),
            (
                ContainerSpec {
                    hostname: Some("bad host".into()),
                    ..ok.clone()
                },
                Err(SpecError::BadHostname("bad host".into())),
            ),
            (
                ContainerSpec {
                    sysctls: [("kernel.panic".to_string(), "1".to_string())].into(),
                    ..ok.clone()
                },
                Err(SpecError::ForbiddenSysctl("kernel.panic".into())),
            ),
            (
                ContainerSpec {
                    sysctls: [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
                    ..ok.clone()
                },
                Ok(()),
            ),
            (
                ContainerSpec {
                    sysctls: [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
                    network: NetworkConfig {
                        namespace: NetworkNamespace::Host,
                        ..Default::default()
                    },
                    ..ok.clone()
                },
                Err(SpecError::ForbiddenSysctl("net.ipv4.ip_forward".into())),
            ),
            (
                ContainerSpec {
                    bind_propagation: [(PathBuf::from("/m"), "sideways".to_string())].into(),
                    ..ok.clone()
                },
                Err(SpecError::BadPropagation("sideways".into())),
            ),
            (
                ContainerSpec {
                    mounts: vec![Mount {
                        kind: MountKind::Bind {
                            source: "/srv".into(),
                        },
                        target: "/a/..".into(),
                        read_only: false,
                    }],
                    ..ok.clone()
                },
                Err(SpecError::RootMountTarget("/a/..".into())),
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(spec.validate(), want, "{spec:?}");
        }
    }

    #[test]
    fn env_defaults_path_and_later_entries_win() {
        let spec = ContainerSpec {
            env: vec!["A=1".into(), "B=2".into(), "A=3".into()],
            ..ContainerSpec::new("/r", ["sh"])
        };
        assert_eq!(
            spec.effective_env(),
            vec![format!("PATH={DEFAULT_PATH}"), "B=2".into(), "A=3".into()]
        );
        let spec = ContainerSpec {
            env: vec!["PATH=/x".into()],
            ..spec
        };
        assert_eq!(spec.effective_env(), vec!["PATH=/x".to_string()]);
    }

    #[test]
    fn spec_round_trips_through_json() {
        let spec = ContainerSpec::new("/r", ["sh", "-c", "true"]);
        let text = serde_json::to_string(&spec).unwrap();
        let back: ContainerSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, spec);
        assert_eq!(back.stop_grace_period, Duration::from_secs(10));
        assert_eq!(back.masked_paths.len(), DEFAULT_MASKED_PATHS.len());
    }
}
