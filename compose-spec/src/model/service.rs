//! One service: every key of the compose specification's service definition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::blkio::BlkioConfig;
use crate::model::build::Build;
use crate::model::bytes::ByteSize;
use crate::model::depends_on::{self, DependsOn};
use crate::model::deploy::Deploy;
use crate::model::develop::Develop;
use crate::model::device::{self, Device, DeviceRequest};
use crate::model::duration::{self, Duration};
use crate::model::env_file::EnvFile;
use crate::model::extra::{self, CredentialSpec, Extends, Provider, ServiceModel};
use crate::model::healthcheck::Healthcheck;
use crate::model::hooks::{PreStartHook, ServiceHook};
use crate::model::logging::Logging;
use crate::model::network::{self, ServiceNetwork};
use crate::model::policy::{CgroupMode, PullPolicy, RestartPolicy};
use crate::model::port::{self, ServicePort};
use crate::model::scalar::{self, Extensions};
use crate::model::secret_config::ServiceFileRef;
use crate::model::ulimit::Ulimit;
use crate::model::volume_mount::ServiceVolume;
use crate::model::{command, lists, short};

/// A service definition in canonical form. Optional scalars are `None` when unset; lists and
/// maps are empty when unset. Paths (`build.context`, bind sources, `env_file`) are as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Annotations of the containers.
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Attach to the service's logs on `up` (true when unset).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub attach: Option<bool>,
    /// Block I/O limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blkio_config: Option<BlkioConfig>,
    /// How the image is built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// Added capabilities.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cap_add: Vec<String>,
    /// Dropped capabilities.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cap_drop: Vec<String>,
    /// Cgroup namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<CgroupMode>,
    /// Parent cgroup.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cgroup_parent: Option<String>,
    /// The command; `None` keeps the image's, `Some([])` clears it.
    #[serde(
        deserialize_with = "command::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub command: Option<Vec<String>>,
    /// Configs mounted in the container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ServiceFileRef>,
    /// Fixed container name.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub container_name: Option<String>,
    /// Usable CPUs (Windows).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_count: Option<i64>,
    /// Usable CPU percentage (Windows).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_percent: Option<i64>,
    /// CPU shares (relative weight).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_shares: Option<i64>,
    /// CFS quota in microseconds.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_period: Option<i64>,
    /// Real-time period in microseconds.
    #[serde(
        deserialize_with = "duration::opt_micros",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_rt_period: Option<i64>,
    /// Real-time runtime in microseconds.
    #[serde(
        deserialize_with = "duration::opt_micros",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs (fractional).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpus: Option<f64>,
    /// Allowed CPUs (`0-3`, `0,1`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpuset: Option<String>,
    /// Windows credential spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_spec: Option<CredentialSpec>,
    /// Services started before this one, and what to wait for.
    #[serde(
        deserialize_with = "depends_on::deserialize",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub depends_on: BTreeMap<String, DependsOn>,
    /// Deployment settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// Development settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub develop: Option<Develop>,
    /// Device cgroup rules.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub device_cgroup_rules: Vec<String>,
    /// Host devices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    /// DNS servers.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns: Vec<String>,
    /// DNS options.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns_opt: Vec<String>,
    /// DNS search domains.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns_search: Vec<String>,
    /// Domain name.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub domainname: Option<String>,
    /// The entrypoint; `None` keeps the image's, `Some([])` clears it.
    #[serde(
        deserialize_with = "command::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// Environment files, read by the loader.
    #[serde(
        deserialize_with = "short::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env_file: Vec<EnvFile>,
    /// Environment; `None` values are taken from the loader's environment.
    #[serde(
        deserialize_with = "lists::dict_opt",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: BTreeMap<String, Option<String>>,
    /// Exposed ports (`80`, `3000-3005`, `53/udp`).
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub expose: Vec<String>,
    /// The service this one extends (normally resolved by the loader).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends: Option<Extends>,
    /// Links to containers outside the project.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub external_links: Vec<String>,
    /// Extra `/etc/hosts` entries, host -> IPs.
    #[serde(
        deserialize_with = "lists::extra_hosts",
        serialize_with = "lists::serialize_extra_hosts",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub extra_hosts: BTreeMap<String, Vec<String>>,
    /// GPU requests (`gpus: all` is one request for every GPU).
    #[serde(
        deserialize_with = "device::gpus",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub gpus: Vec<DeviceRequest>,
    /// Supplementary groups.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub group_add: Vec<String>,
    /// Health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Host name.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub hostname: Option<String>,
    /// Image reference.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub image: Option<String>,
    /// Run an init process as PID 1.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub init: Option<bool>,
    /// IPC mode (`host`, `shareable`, `service:NAME`, `container:NAME`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipc: Option<String>,
    /// Isolation technology.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub isolation: Option<String>,
    /// Files of labels, read by the loader.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub label_file: Vec<String>,
    /// Container labels.
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Links (`SERVICE[:ALIAS]`).
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub links: Vec<String>,
    /// Logging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// MAC address.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac_address: Option<String>,
    /// Memory limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<ByteSize>,
    /// Memory soft limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_reservation: Option<ByteSize>,
    /// Swappiness, 0 to 100.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub mem_swappiness: Option<i64>,
    /// Memory plus swap limit (`-1`: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memswap_limit: Option<ByteSize>,
    /// AI models used.
    #[serde(
        deserialize_with = "extra::service_models",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub models: BTreeMap<String, ServiceModel>,
    /// Network mode (`bridge`, `host`, `none`, `service:NAME`, `container:NAME`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub network_mode: Option<String>,
    /// Networks joined, `None` for no options; empty means the project's `default` network
    /// (filled by the loader).
    #[serde(
        deserialize_with = "network::attachments",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub networks: BTreeMap<String, Option<ServiceNetwork>>,
    /// Disable the OOM killer.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub oom_kill_disable: bool,
    /// OOM score adjustment, -1000 to 1000.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub oom_score_adj: Option<i64>,
    /// PID mode (`host`, `service:NAME`, `container:NAME`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub pid: Option<String>,
    /// Process limit (`-1`: unlimited).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub pids_limit: Option<i64>,
    /// Platform (`linux/amd64`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub platform: Option<String>,
    /// Published ports, one entry per port.
    #[serde(
        deserialize_with = "port::deserialize_ports",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<ServicePort>,
    /// Commands run in the container after it starts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<ServiceHook>,
    /// Init containers run before the service starts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_start: Vec<PreStartHook>,
    /// Commands run in the container before it stops.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<ServiceHook>,
    /// Full privileges.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub privileged: bool,
    /// Profiles enabling the service; always enabled when empty.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub profiles: Vec<String>,
    /// Managed by an external provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// When the image is pulled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,
    /// Refresh interval for the `refresh` pull policy.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub pull_refresh_after: Option<String>,
    /// Read-only root file system.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub read_only: bool,
    /// Restart policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartPolicy>,
    /// OCI runtime.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub runtime: Option<String>,
    /// Number of containers.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub scale: Option<u64>,
    /// Secrets mounted in the container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<ServiceFileRef>,
    /// Security options (`no-new-privileges:true`, `seccomp=…`).
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub security_opt: Vec<String>,
    /// Size of `/dev/shm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<ByteSize>,
    /// Keep stdin open.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub stdin_open: bool,
    /// Wait before killing on stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    /// Stop signal.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_signal: Option<String>,
    /// Storage driver options.
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub storage_opt: BTreeMap<String, String>,
    /// Kernel parameters.
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub sysctls: BTreeMap<String, String>,
    /// Tmpfs mounts (`/run`, `/tmp:size=64m`).
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tmpfs: Vec<String>,
    /// Allocate a TTY.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub tty: bool,
    /// Resource limits.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Mount the engine API socket.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub use_api_socket: bool,
    /// User (`name`, `uid`, `uid:gid`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub user: Option<String>,
    /// User namespace mode.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub userns_mode: Option<String>,
    /// UTS namespace mode.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub uts: Option<String>,
    /// Mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolume>,
    /// Mount the volumes of other services or containers (`NAME[:ro|rw]`).
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes_from: Vec<String>,
    /// Working directory.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub working_dir: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

impl Service {
    /// The number of containers wanted: `scale`, else `deploy.replicas`, else 1.
    pub fn replicas(&self) -> u64 {
        self.scale
            .or_else(|| self.deploy.as_ref().and_then(|d| d.replicas))
            .unwrap_or(1)
    }
}
