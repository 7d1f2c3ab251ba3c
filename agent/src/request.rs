//! What a create request asks for, in the agent's own types: the wire form is decoded once at
//! the service edge ([`crate::decode`]), so the node, the planner and the preparation see parsed
//! durations, enums, typed mounts and ports, never strings to interpret again.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use engine::health::HealthConfig;
use engine::network::PortSpec;
use engine::restart::RestartPolicy;
use engine::seccomp::Seccomp;
use engine::spec::{Capabilities, DnsConfig, HostEntry, Mount, NetworkAttachment};
use engine::spec::{Resources, Rlimit};

/// A request to create one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRequest {
    /// The unique name (checked); `None` = a generated one.
    pub name: Option<String>,
    /// What the container is made of.
    pub config: ContainerConfig,
    /// Remove the container once it has exited.
    pub auto_remove: bool,
}

/// Where the container's root filesystem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// An overlay of a stored image's layers (the reference as the user wrote it); the image's
    /// config supplies the defaults.
    Image(String),
    /// A directory on the host, used as it is.
    Rootfs(PathBuf),
}

/// The command the request gives; what is `None` comes from the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// The whole command line; when non-empty it replaces entrypoint and cmd.
    pub args: Vec<String>,
    /// The entrypoint override (an empty list clears the image's).
    pub entrypoint: Option<Vec<String>>,
    /// The cmd override.
    pub cmd: Option<Vec<String>>,
}

/// One requested mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    /// The engine mount (a volume without a name is an anonymous one, made at create).
    pub mount: Mount,
    /// The bind propagation (`rprivate`, `shared`, …), when asked for.
    pub propagation: Option<String>,
    /// A missing bind source is created as a directory instead of refused.
    pub create_host_path: bool,
    /// A file to write for the container and bind at the target (its source is set when the
    /// file is written, see [`crate::files`]).
    pub content: Option<FileContent>,
}

/// The bytes and owner of a file written for a container (a compose secret or config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// Kept on a tmpfs of the container's own, never on the node's disk.
    pub in_memory: bool,
}

/// The IPC namespace as the request gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IpcMode {
    /// Its own (`""`, `private`, `shareable`).
    #[default]
    Own,
    /// The host's.
    Host,
    /// Another container's (name, id or id prefix).
    Container(String),
}

impl IpcMode {
    /// Reads the wire form: `""`, `private`, `shareable`, `host` or `container:<x>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "" | "private" | "shareable" => Ok(Self::Own),
            "host" => Ok(Self::Host),
            other => match other.strip_prefix("container:") {
                Some(target) if !target.is_empty() => Ok(Self::Container(target.to_string())),
                _ => Err(format!(
                    "invalid IPC mode {other:?}: use private, shareable, host or container:NAME"
                )),
            },
        }
    }
}

/// A container whose mounts another mounts too (`volumes_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    /// The container (name, id or id prefix).
    pub container: String,
    /// Mount them read-only (`:ro`), else as the donor has them.
    pub read_only: bool,
}

impl VolumesFrom {
    /// Reads `<container>[:ro|:rw]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (container, read_only) = match text.rsplit_once(':') {
            Some((container, "ro")) => (container, true),
            Some((container, "rw")) => (container, false),
            Some(_) | None => (text, false),
        };
        if container.is_empty() || container.contains(':') {
            return Err(format!(
                "invalid volumes_from {text:?}: use CONTAINER[:ro|:rw]"
            ));
        }
        Ok(Self {
            container: container.to_string(),
            read_only,
        })
    }
}

/// The network mode as the request gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Not given: the listed networks, or the default network when none is listed.
    Unspecified,
    /// `default`: the default network, plus any listed ones.
    Default,
    /// `host`: the host's namespace.
    Host,
    /// `none`: an own namespace with loopback only.
    None,
    /// `container:<reference>`: another container's namespace (name, id or id prefix).
    Container(String),
    /// A network by name or id (`bridge` included), plus any listed ones.
    Network(String),
}

impl NetworkMode {
    /// Reads the wire form: `""`, `default`, `host`, `none`, `container:<x>` or a network.
    pub fn parse(text: &str) -> Self {
        match text {
            "" => Self::Unspecified,
            "default" => Self::Default,
            "host" => Self::Host,
            "none" => Self::None,
            other => match other.strip_prefix("container:") {
                Some(target) => Self::Container(target.to_string()),
                None => Self::Network(other.to_string()),
            },
        }
    }
}

/// The wire form again, as [`NetworkMode::parse`] reads it (empty for `Unspecified`).
impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unspecified => Ok(()),
            Self::Default => f.write_str("default"),
            Self::Host => f.write_str("host"),
            Self::None => f.write_str("none"),
            Self::Container(target) => write!(f, "container:{target}"),
            Self::Network(name) => f.write_str(name),
        }
    }
}

/// A container's configuration, every field checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerConfig {
    /// The root filesystem.
    pub root: RootSource,
    /// The command overrides.
    pub command: Command,
    /// `KEY=VALUE` entries over the image's.
    pub env: Vec<String>,
    /// The working directory (`None` = the image's, else `/`).
    pub working_dir: Option<PathBuf>,
    /// `user[:group]` (`None` = the image's, else root).
    pub user: Option<String>,
    /// The host name.
    pub hostname: Option<String>,
    /// The domain name.
    pub domainname: Option<String>,
    /// The requested mounts, in order.
    pub mounts: Vec<MountRequest>,
    /// Limits, checked with Docker's rules.
    pub resources: Resources,
    /// Supplementary groups (names or numbers).
    pub group_add: Vec<String>,
    /// Set `no_new_privs` on the container's processes.
    pub no_new_privileges: bool,
    /// Resource limits by name (`nofile`, …).
    pub ulimits: BTreeMap<String, Rlimit>,
    /// Namespaced sysctls.
    pub sysctls: BTreeMap<String, String>,
    /// The size of `/dev/shm` (`None` = the engine's default).
    pub shm_size: Option<u64>,
    /// Allocate a pseudo-terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin_open: bool,
    /// Entries added to `/etc/hosts`.
    pub extra_hosts: Vec<HostEntry>,
    /// resolv.conf settings.
    pub dns: DnsConfig,
    /// Log rotation: bytes per file (`None` = the default).
    pub log_max_size: Option<u64>,
    /// Log rotation: files kept (`None` = the default).
    pub log_max_files: Option<u32>,
    /// Capability adjustments and privileged mode.
    pub capabilities: Capabilities,
    /// The seccomp filter.
    pub seccomp: Seccomp,
    /// Mount the root filesystem read-only.
    pub read_only: bool,
    /// The signal stop sends first (`None` = SIGTERM).
    pub stop_signal: Option<i32>,
    /// How long stop waits before SIGKILL (`None` = the default).
    pub stop_timeout: Option<Duration>,
    /// Run the built-in init as PID 1.
    pub init: bool,
    /// The restart policy.
    pub restart: RestartPolicy,
    /// The request's own healthcheck (a `NONE` test disables the image's); `None` = the
    /// image's, if any.
    pub healthcheck: Option<HealthConfig>,
    /// Container labels.
    pub labels: BTreeMap<String, String>,
    /// The network mode.
    pub network_mode: NetworkMode,
    /// The networks listed, in order (each once).
    pub networks: Vec<NetworkAttachment>,
    /// Published ports.
    pub ports: Vec<PortSpec>,
    /// Publish every port the image exposes to a random host port.
    pub publish_all: bool,
    /// The IPC namespace.
    pub ipc: IpcMode,
    /// Containers whose mounts this one mounts too.
    pub volumes_from: Vec<VolumesFrom>,
}

impl ContainerConfig {
    /// A configuration running `args` in the directory `rootfs`, everything else unset.
    pub fn new(rootfs: impl Into<PathBuf>, args: Vec<String>) -> Self {
        Self {
            root: RootSource::Rootfs(rootfs.into()),
            command: Command {
                args,
                ..Command::default()
            },
            env: Vec::new(),
            working_dir: None,
            user: None,
            hostname: None,
            domainname: None,
            mounts: Vec::new(),
            resources: Resources::default(),
            group_add: Vec::new(),
            no_new_privileges: false,
            ulimits: BTreeMap::new(),
            sysctls: BTreeMap::new(),
            shm_size: None,
            tty: false,
            stdin_open: false,
            extra_hosts: Vec::new(),
            dns: DnsConfig::default(),
            log_max_size: None,
            log_max_files: None,
            capabilities: Capabilities::default(),
            seccomp: Seccomp::Default,
            read_only: false,
            stop_signal: None,
            stop_timeout: None,
            init: false,
            restart: RestartPolicy::default(),
            healthcheck: None,
            labels: BTreeMap::new(),
            network_mode: NetworkMode::Unspecified,
            networks: Vec::new(),
            ports: Vec::new(),
            publish_all: false,
            ipc: IpcMode::Own,
            volumes_from: Vec::new(),
        }
    }
}

/// How an `Attach` session joins a container's stdin and terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AttachOptions {
    /// Close the container's stdin when the session ends (an attached `run -i`).
    pub(crate) close_stdin_on_detach: bool,
    /// The caller's terminal size (rows, columns), set before any output.
    pub(crate) size: Option<(u16, u16)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_modes_read_back_as_written() {
        for (text, mode) in [
            ("", NetworkMode::Unspecified),
            ("default", NetworkMode::Default),
            ("host", NetworkMode::Host),
            ("none", NetworkMode::None),
            ("container:web", NetworkMode::Container("web".into())),
            ("bridge", NetworkMode::Network("bridge".into())),
            ("shop_back", NetworkMode::Network("shop_back".into())),
        ] {
            assert_eq!(NetworkMode::parse(text), mode, "{text}");
            assert_eq!(mode.to_string(), text);
        }
    }
}
