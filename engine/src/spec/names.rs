//! Name resolution settings of a container: extra /etc/hosts entries and resolv.conf options.

use serde::{Deserialize, Serialize};

/// One extra line of /etc/hosts (`--add-host name:ip`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    /// The host name.
    pub name: String,
    /// Its address.
    pub ip: String,
}

/// /etc/resolv.conf settings; empty lists keep what the host's file says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsConfig {
    /// Name servers (`--dns`).
    pub servers: Vec<String>,
    /// Search domains (`--dns-search`).
    pub search: Vec<String>,
    /// Resolver options (`--dns-option`).
    pub options: Vec<String>,
}
