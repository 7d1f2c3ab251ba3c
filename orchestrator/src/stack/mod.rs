//! `stack deploy` as pure logic: a loaded compose [`Project`](compose_spec::model::Project)
//! and a stack name become the swarm [`ServiceSpec`](crate::swarm::ServiceSpec)s of its
//! services ([`services`]), with one [`Warning`] per compose key the cluster does not honour;
//! and the desired services against the stack's existing ones become the changes to make
//! ([`diff`]). Its secrets and configs become the cluster's ([`secrets`]).
//!
//! Nothing here loads files or talks to the managers: the CLI loads the project with the same
//! loader as `bosun up`, maps it here, lists the services, and applies the [`Change`]s.

mod convert;
mod diff;
mod error;
mod images;
mod mounts;
mod networks;
mod order;
mod ports;
mod rolling;
pub mod secrets;
mod warnings;

pub use convert::{StackService, services};
pub use diff::{Change, Existing, diff};
pub use error::StackError;
pub use images::{ResolveImage, pin, to_resolve, without_digest};
pub use networks::{ExistingNetwork, NetworkChanges, StackNetwork, network_changes, networks};
pub use order::{Dependency, Start, start_order};
pub use warnings::{Subject, Support, Warning};

use std::collections::BTreeMap;

/// Label on every service of a stack (and its tasks' containers): the stack's name.
pub const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";
/// Label on every service of a stack: the image its compose file names.
pub const IMAGE_LABEL: &str = "com.docker.stack.image";

/// The cluster service name of a compose service: `<stack>_<service>`.
pub fn service_name(stack: &str, service: &str) -> String {
    format!("{stack}_{service}")
}

/// The stack a service belongs to, from its labels.
pub fn stack_of(labels: &BTreeMap<String, String>) -> Option<&str> {
    labels.get(NAMESPACE_LABEL).map(String::as_str)
}

#[cfg(test)]
mod tests;
