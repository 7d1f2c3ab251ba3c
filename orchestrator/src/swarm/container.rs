//! The parts of a service spec that describe one container: mounts, healthcheck, ulimits and
//! published ports. The node turns them into an engine container; the scheduler only looks at
//! host-mode published ports.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A filesystem mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Path inside the container.
    pub target: String,
    /// Mounted read-only.
    #[serde(default)]
    pub read_only: bool,
    /// What is mounted.
    pub kind: MountKind,
}

/// The source of a [`Mount`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum MountKind {
    /// A path of the node's filesystem.
    Bind {
        /// Path on the node.
        source: String,
    },
    /// A named volume of the node, or an anonymous one when `source` is absent.
    Volume {
        /// Volume name.
        source: Option<String>,
        /// Volume driver, `local` when absent.
        #[serde(default)]
        driver: Option<String>,
        /// Do not copy the image's content into a new volume.
        #[serde(default)]
        no_copy: bool,
    },
    /// A tmpfs.
    Tmpfs {
        /// Size limit in bytes.
        #[serde(default)]
        size_bytes: Option<u64>,
        /// Permission bits of its root.
        #[serde(default)]
        mode: Option<u32>,
    },
}

/// How the node checks that a container is healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// The command, as docker has it: `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    /// Time between checks.
    #[serde(default)]
    pub interval: Option<Duration>,
    /// Time a check may take.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Consecutive failures before unhealthy.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Time after start during which failures do not count.
    #[serde(default)]
    pub start_period: Option<Duration>,
}

/// A resource limit of the container's processes (`nofile=1024:2048`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// Name without the `RLIMIT_` prefix, lower case (`nofile`).
    pub name: String,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// Transport protocol of a published port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        })
    }
}

/// How a port is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// On every node, routed to any task (the routing mesh).
    #[default]
    Ingress,
    /// On the node that runs the task only: two tasks cannot share it on one node.
    Host,
}

/// A container port published outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// Port inside the container.
    pub target: u16,
    /// Port outside; chosen by the node when absent.
    #[serde(default)]
    pub published: Option<u16>,
    /// Transport protocol.
    #[serde(default)]
    pub protocol: Protocol,
    /// Ingress or host.
    #[serde(default)]
    pub mode: PublishMode,
    /// The port's name (Docker's `PortConfig.Name`, compose's long syntax `name`): a named
    /// port of a service on an overlay answers the DNS SRV name
    /// `_<name>._<protocol>.<service>` there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl PublishedPort {
    /// The fixed port this publication takes on the node that runs the task, if any.
    pub fn host_port(&self) -> Option<(u16, Protocol)> {
        match (self.mode, self.published) {
            (PublishMode::Host, Some(port)) => Some((port, self.protocol)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fixed_host_ports_take_a_node_port() {
        let mut port = PublishedPort {
            target: 80,
            published: Some(8080),
            protocol: Protocol::Tcp,
            mode: PublishMode::Ingress,
            name: None,
        };
        assert_eq!(port.host_port(), None);
        port.mode = PublishMode::Host;
        assert_eq!(port.host_port(), Some((8080, Protocol::Tcp)));
        port.published = None;
        assert_eq!(port.host_port(), None);
    }

    #[test]
    fn mounts_are_tagged_by_type() {
        let mount = Mount {
            target: "/data".into(),
            read_only: false,
            kind: MountKind::Tmpfs {
                size_bytes: Some(1 << 20),
                mode: None,
            },
        };
        let json = serde_json::to_value(&mount).unwrap();
        assert_eq!(json["kind"]["type"], "tmpfs");
        assert_eq!(serde_json::from_value::<Mount>(json).unwrap(), mount);
    }
}
