//! The network side of a container spec: which network namespace it runs in, the networks its
//! own namespace joins at every start, and the ports published on them.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::network::PortSpec;

/// The network namespace of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "container")]
pub enum NetworkNamespace {
    /// A namespace of its own (bridge networks, or only loopback without attachments).
    #[default]
    Own,
    /// The host's namespace.
    Host,
    /// The namespace of another container of this runtime (its id); it must be running.
    Container(String),
}

/// One network a container's namespace joins at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// The network name or id.
    pub network: String,
    /// Extra DNS names on this network.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A static IPv4 address.
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
    /// A fixed MAC address, `aa:bb:cc:dd:ee:ff`.
    #[serde(default)]
    pub mac: Option<String>,
    /// Joined as the task of a cluster service: an overlay that is not attachable takes
    /// these only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service_task: bool,
    /// The interface's name inside the container; `None` for the next free `ethN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
}

/// How a container is networked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkConfig {
    /// The namespace.
    pub namespace: NetworkNamespace,
    /// The name DNS answers for the container on its networks.
    pub name: String,
    /// Networks joined at every start, in order (only with [`NetworkNamespace::Own`]).
    pub attachments: Vec<NetworkAttachment>,
    /// Ports published on the first network.
    pub ports: Vec<PortSpec>,
}

impl NetworkConfig {
    /// Whether the runtime connects networks at start.
    pub fn attaches(&self) -> bool {
        self.namespace == NetworkNamespace::Own && !self.attachments.is_empty()
    }
}
