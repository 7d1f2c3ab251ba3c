//! The manager: its gRPC API over mutual TLS, the raft thread behind it, the transport between
//! managers, and the daemon that ties them to a data root.

/// Declares modules `pub` with the `testing` feature, private otherwise: the deterministic
/// simulation (`tests/sim_control.rs`) drives the control loop, the dispatcher, the node's task
/// machine and the workers' liveness directly, and the revocation test builds TLS
/// configurations; no product build exposes them.
macro_rules! testing_mod {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(feature = "testing")]
            pub mod $name;
            #[cfg(not(feature = "testing"))]
            mod $name;
        )*
    };
}

mod admin;
pub mod bench;
mod blobs;
mod client;
mod daemon;
mod driver;
pub mod launch;
pub mod logs;
mod networks;
pub mod node_daemon;
mod peers;
pub mod pki;
mod renewal;
mod roles;
mod roster;
mod secrets;
mod sender;
mod service;
pub mod services;
mod state;
mod view;
mod worker;
testing_mod!(control, dispatcher, tasks, tls, workers);

#[cfg(test)]
mod init_tests;

/// The generated protobuf and gRPC code of the managers' API (`api/proto/manager.proto`).
pub use api::manager as proto;

pub use client::ManagerClient;
pub use daemon::{Manager, serve};
pub use driver::{Progress, Query, RaftHandle, Refused, StatusView};
pub use state::{LocalState, cluster_dir};
pub use tasks::attached::{GivenAttachment, attach_network};
pub use tasks::overlays::NETWORK_ID;

/// Errors of the manager.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// A TLS configuration could not be built.
    #[error("tls: cannot {what}: {message}")]
    Tls {
        /// What was being done.
        what: &'static str,
        /// The rustls error.
        message: String,
    },
    /// Certificates or tokens.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// An address that is not `host:port`.
    #[error("invalid address {addr:?}: {message}")]
    BadAddress {
        /// The address.
        addr: String,
        /// Why.
        message: String,
    },
    /// A manager answered with an error.
    #[error("{0}")]
    Remote(String),
    /// Too few managers are reachable to commit a change (the manager marked its answer
    /// with [`api::Reason::NoQuorum`]); nothing was written.
    #[error("{0}")]
    NoQuorum(String),
    /// A manager could not be reached.
    #[error("cannot reach manager at {addr}: {message}")]
    Unreachable {
        /// The address.
        addr: String,
        /// The transport error and its causes.
        message: String,
    },
    /// The raft node failed to open or run.
    #[error(transparent)]
    Node(#[from] cluster_raft::NodeError),
    /// Reading or writing local state.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A malformed local state file or payload.
    #[error("{what}: {message}")]
    Decode {
        /// What was decoded.
        what: String,
        /// Why it failed.
        message: String,
    },
    /// The data root is not in the state the command needs.
    #[error("{0}")]
    State(String),
    /// This node is no longer part of the cluster.
    #[error("{0}")]
    Removed(String),
}

/// The full chain of an error's causes on one line.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(cause) = current {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        current = cause.source();
    }
    text
}
