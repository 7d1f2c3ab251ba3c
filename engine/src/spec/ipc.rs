//! The IPC namespace of a container: its own, the host's, or another container's (compose
//! `ipc: host | service:NAME | container:NAME`).

use serde::{Deserialize, Serialize};

/// The IPC namespace of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "container")]
pub enum IpcNamespace {
    /// A namespace of its own (Docker's `private` and `shareable`).
    #[default]
    Own,
    /// The host's namespace, with the host's /dev/shm.
    Host,
    /// The namespace of another container of this runtime (its id); it must be running. Its
    /// /dev/shm is shared too: mounted over this container's own.
    Container(String),
}

impl IpcNamespace {
    /// The container whose namespace this one joins.
    pub fn container(&self) -> Option<&str> {
        match self {
            Self::Container(id) => Some(id),
            Self::Own | Self::Host => None,
        }
    }
}
