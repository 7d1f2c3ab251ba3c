//! Container networking on one node: bridge networks with IPAM, overlay networks (a bridge and a
//! VXLAN device whose remote endpoints are programmed explicitly, `overlay`), veth attachments
//! into container network namespaces, and firewall rules (masquerade, published ports, isolation) in an nftables
//! table of Bosun's own.
//!
//! Everything talks netlink from Rust (`netlink` for links, addresses and routes; `nft` for
//! nftables); no `ip`, `iptables` or `nft` process is run. Records live under
//! `<data_root>/networks/` (`store`); the kernel state (bridges, veths, the `bosun` table) is
//! derived from them, so [`Networks::restore`] can rebuild it after an agent restart.
//!
//! Kernel objects carry recognisable names: bridges `bsn-<8 hex>`, VXLAN devices
//! `bsn-<8 hex>-vx`, host-side veths `bv<12 hex>`, the nftables table `bosun`.

pub mod dns;
mod firewall;
mod ingress;
mod ipam;
mod ipam6;
// The netlink link helpers are public only for tests (feature `testing`), which build their
// own bridges, veths and namespaces with them.
#[cfg(feature = "testing")]
pub mod link;
#[cfg(not(feature = "testing"))]
mod link;
mod manager;
pub(crate) mod mode;
mod netlink;
mod netns;
mod nft;
mod overlay;
pub mod ports;
mod proxy;
mod record;
// The record store is public only for tests (feature `testing`) that seed network records.
mod sealed;
#[cfg(feature = "testing")]
pub mod store;
#[cfg(not(feature = "testing"))]
mod store;
mod sysctl;
mod vip;
mod xfrm;

use std::path::PathBuf;

pub use ingress::{MeshPort, MeshProtocol};
pub use manager::{AttachRequest, CreateNetwork, Networks, OverlayRequest};
pub use mode::NetworkMode;
pub use netns::Netns;
pub use overlay::{OverlayConfig, Peer};
pub use ports::{PortMapping, PortSpec, Protocol};
pub use proxy::{PortProxy, ProxyPort};
#[cfg(feature = "testing")]
pub use record::bridge_mac;
pub use record::parse_mac;
pub use record::{Endpoint, NamespaceRef, NetworkRecord};
pub use vip::{VipPort, VipService};
pub use xfrm::{Encryption, KEY_LEN as OVERLAY_KEY_LEN, KeyTag, OverlayKey, Transport};

/// The nftables table Bosun owns for the default data root; see [`table_name`].
pub(crate) const TABLE: &str = "bosun";
/// The data root whose table is plainly [`TABLE`].
pub(crate) const DEFAULT_DATA_ROOT: &str = "/var/lib/bosun";

testing_pub! {
    /// The nftables table of the networks under `data_root`: [`TABLE`] for the default data root,
    /// `bosun-<8 hex of the root's path digest>` for any other, so that agents with different data
    /// roots in one network namespace (tests, side-by-side installs) never replace each other's
    /// rules.
    fn table_name(data_root: &std::path::Path) -> String {
        use sha2::Digest as _;
        if data_root == std::path::Path::new(DEFAULT_DATA_ROOT) {
            return TABLE.to_string();
        }
        let digest = sha2::Sha256::digest(data_root.as_os_str().as_encoded_bytes());
        format!("{TABLE}-{}", &hex::encode(digest)[..8])
    }
}

/// Prefix of every bridge Bosun creates.
pub(crate) const BRIDGE_PREFIX: &str = "bsn-";
/// Prefix of every host-side veth Bosun creates.
pub(crate) const VETH_PREFIX: &str = "bv";

/// Errors of network operations.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// No network with this name or id.
    #[error("network {0} not found")]
    NotFound(String),
    /// A network with this name exists.
    #[error("network with name {0} already exists")]
    AlreadyExists(String),
    /// The network still has containers attached.
    #[error("network {name} has active endpoints: {containers}")]
    InUse {
        /// The network name.
        name: String,
        /// The attached container ids, comma separated.
        containers: String,
    },
    /// The request is invalid (bad subnet, address outside the subnet, ...).
    #[error("network {network}: {message}")]
    Invalid {
        /// The network name.
        network: String,
        /// What is wrong.
        message: String,
    },
    /// No address or subnet is left.
    #[error("{0}")]
    Exhausted(String),
    /// A published port is already taken.
    #[error("port {0} is already allocated")]
    PortInUse(String),
    /// A published port cannot be bound on the host (not an address of this host, an address
    /// family the host lacks, ...).
    #[error("cannot publish port {port}: {source}")]
    Publish {
        /// The host side, `[::1]:8080/tcp`.
        port: String,
        /// Why.
        source: std::io::Error,
    },
    /// A port specification does not parse.
    #[error("invalid port specification {spec:?}: {message}")]
    BadPort {
        /// The specification as given.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// The container is already attached to the network.
    #[error("container {container} is already attached to network {network}")]
    AlreadyAttached {
        /// The container id.
        container: String,
        /// The network name.
        network: String,
    },
    /// The container is not attached to the network.
    #[error("container {container} is not attached to network {network}")]
    NotAttached {
        /// The container id.
        container: String,
        /// The network name.
        network: String,
    },
    /// A netlink request failed.
    #[error("netlink {op}: {source}")]
    Netlink {
        /// What was attempted ("create bridge bsn-1234abcd", ...).
        op: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// An I/O error on a named path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record does not parse.
    #[error("network record {path}: {message}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Result alias using [`NetworkError`].
pub type Result<T, E = NetworkError> = std::result::Result<T, E>;

pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> NetworkError {
    let path = path.into();
    move |source| NetworkError::Io { op, path, source }
}

pub(crate) fn nl_err(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
    let op = op.into();
    move |source| NetworkError::Netlink { op, source }
}
