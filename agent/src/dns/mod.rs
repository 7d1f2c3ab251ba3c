//! The embedded DNS of user-defined networks: containers resolve each other by container name,
//! network alias (compose service names, every replica) and `name.<network>`; other names are
//! relayed to the host's resolvers.
//!
//! One server per network listens on the network's gateway address, port 53, UDP and TCP, in
//! the host's namespace, and answers only clients inside that network's subnet. Containers
//! reach it through their resolv.conf.
//!
//! Built on hickory-proto's message codec with a small tokio loop rather than hickory-server:
//! forwarded queries must come back to the container exactly as the upstream sent them (flags,
//! EDNS, DNSSEC records, any record type), which hickory-server's response builder, made for
//! records it assembles itself, cannot relay; the per-client subnet check and the live reads of
//! the network records are a few lines each here.

pub(crate) mod answer;
pub(crate) mod manager;
pub(crate) mod server;
pub(crate) mod upstream;

pub(crate) use manager::{DNS_PORT, DnsServers};

#[cfg(test)]
mod tests;
