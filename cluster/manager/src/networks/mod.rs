//! Cluster networks: overlays the managers keep in the store and services join.
//!
//! - [`alloc`]: the pure allocations — a network's VXLAN identifier and subnet, each task's
//!   address and MAC address (the leader's control loop gives them when it assigns a task).
//! - [`vips`]: each service's virtual addresses, one per network it joins in `vip` mode, from
//!   the same address book (the leader's control loop gives and releases them).
//! - [`ingress`]: the routing mesh's network, the ports published cluster-wide and each
//!   node's address on the network.
//! - [`keys`]: the keys of encrypted overlays — generated, rotated by a pure planner with the
//!   time given, written by the leader.
//! - [`attach`]: standalone containers joined to attachable overlays from their nodes, each
//!   given an address kept in the network record (the leader answers the nodes' calls).
//! - `api`: the network calls of the services API (`CreateNetwork`, `ListNetworks`,
//!   `InspectNetwork`, `RemoveNetwork`), on the leader for writes.
//!
//! The nodes' side is in [`crate::dispatcher::networks`] (what an assignment carries) and
//! `crate::tasks::overlays` (the overlay links on each node's agent).

pub(crate) mod alloc;
pub(crate) mod api;
pub(crate) mod attach;
pub(crate) mod ingress;
pub(crate) mod keys;
pub(crate) mod vips;
