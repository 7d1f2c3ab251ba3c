//! The cluster's public key infrastructure: the root CA, node certificates that carry the
//! node id (CN) and role (OU), join tokens that pin the CA by digest, and renewal timing.

mod ca;
mod identity;
mod token;

pub use ca::{BACKDATE, CA_VALIDITY, ClusterCa, NODE_VALIDITY};
pub use identity::{
    CLUSTER_SERVER_NAME, NodeIdentity, PeerIdentity, ca_digest, new_key_and_csr, peer_identity,
    renewal_at, renewal_fraction,
};
pub use token::{JoinToken, new_secret};

use cluster_state::NodeRole;

/// Errors of certificate and token handling.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused to build or sign a certificate.
    #[error("cannot {what}: {source}")]
    Rcgen {
        /// What was being done.
        what: &'static str,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// A certificate could not be parsed.
    #[error("invalid certificate: {0}")]
    BadCertificate(String),
    /// A PEM file held no usable item.
    #[error("no {what} found in pem data")]
    NoPem {
        /// What was looked for.
        what: &'static str,
    },
    /// A join token is malformed.
    #[error("invalid join token: {0}")]
    BadToken(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The OU string of a role.
pub fn role_name(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Manager => "manager",
        NodeRole::Worker => "worker",
    }
}

/// The role named by an OU string.
pub fn parse_role(name: &str) -> Option<NodeRole> {
    match name {
        "manager" => Some(NodeRole::Manager),
        "worker" => Some(NodeRole::Worker),
        _ => None,
    }
}

pub(crate) use cluster_state::secure_random;
