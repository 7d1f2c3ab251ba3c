//! The scheduler's filters, in pipeline order, each able to say why a node failed it
//! ([`FilterFailure`]). The static ones depend on the node and the spec only; the dynamic ones
//! also on what the node's tasks already hold ([`Usage`]).

use std::fmt;

use crate::swarm::constraint::Constraint;
use crate::swarm::container::Protocol;
use crate::swarm::node::{Availability, Node, NodeStatus};
use crate::swarm::resources::{Bytes, Cpus, Resources};
use crate::swarm::schedule::usage::Usage;
use crate::swarm::spec::ServiceSpec;

/// Why a node cannot take a task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FilterFailure {
    /// The node is down, or its liveness is not known yet.
    NotReady(NodeStatus),
    /// The node is paused or drained.
    Unavailable(Availability),
    /// A placement constraint does not hold.
    Constraint(Constraint),
    /// Not enough memory left for the reservation (bytes).
    Memory(u64),
    /// Not enough CPU left for the reservation (nano-CPUs).
    Cpu(u64),
    /// A host-mode published port is taken.
    Port(u16, Protocol),
    /// The service already has its maximum of tasks there.
    MaxReplicas(u64),
}

impl FilterFailure {
    /// Position of the filter in the pipeline, to order reasons that count the same nodes.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            FilterFailure::NotReady(_) => 0,
            FilterFailure::Unavailable(_) => 1,
            FilterFailure::Constraint(_) => 2,
            FilterFailure::Memory(_) => 3,
            FilterFailure::Cpu(_) => 4,
            FilterFailure::Port(..) => 5,
            FilterFailure::MaxReplicas(_) => 6,
        }
    }
}

impl fmt::Display for FilterFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterFailure::NotReady(NodeStatus::Down) => f.write_str("node down"),
            FilterFailure::NotReady(_) => f.write_str("node status unknown"),
            FilterFailure::Unavailable(Availability::Drain) => f.write_str("node drained"),
            FilterFailure::Unavailable(_) => f.write_str("node paused"),
            FilterFailure::Constraint(c) => write!(f, "constraint {c} not met"),
            FilterFailure::Memory(bytes) => {
                write!(f, "insufficient memory for a {} reservation", Bytes(*bytes))
            }
            FilterFailure::Cpu(nanos) => {
                write!(f, "insufficient CPU for a {} reservation", Cpus(*nanos))
            }
            FilterFailure::Port(port, protocol) => write!(f, "host port {port}/{protocol} in use"),
            FilterFailure::MaxReplicas(max) => {
                write!(f, "max replicas per node ({max}) reached")
            }
        }
    }
}

/// What a batch of tasks (one service, one spec version) asks of a node.
#[derive(Debug)]
pub(crate) struct Demand<'s> {
    pub spec: &'s ServiceSpec,
    pub reservation: Resources,
    pub host_ports: Vec<(u16, Protocol)>,
    pub max_per_node: Option<u64>,
}

impl<'s> Demand<'s> {
    pub(crate) fn new(spec: &'s ServiceSpec) -> Self {
        let mut host_ports: Vec<_> = spec.ports.iter().filter_map(|p| p.host_port()).collect();
        host_ports.sort();
        host_ports.dedup();
        Self {
            spec,
            reservation: spec.resources.reservations,
            host_ports,
            max_per_node: spec.placement.max_replicas_per_node,
        }
    }

    /// The filters that depend on the node alone: ready, active, constraints.
    pub(crate) fn static_failure(&self, node: &Node) -> Option<FilterFailure> {
        if node.status != NodeStatus::Ready {
            return Some(FilterFailure::NotReady(node.status));
        }
        if node.availability != Availability::Active {
            return Some(FilterFailure::Unavailable(node.availability));
        }
        self.spec
            .placement
            .unmet_constraint(node)
            .map(|c| FilterFailure::Constraint(c.clone()))
    }

    /// The filters that depend on what node `index` holds: resources, ports, max replicas
    /// (`service_tasks` of this service there).
    pub(crate) fn dynamic_failure(
        &self,
        node: &Node,
        usage: &Usage,
        index: usize,
        service_tasks: u32,
    ) -> Option<FilterFailure> {
        let free = node.resources.minus(usage.reserved(index));
        if free.memory_bytes < self.reservation.memory_bytes {
            return Some(FilterFailure::Memory(self.reservation.memory_bytes));
        }
        if free.nano_cpus < self.reservation.nano_cpus {
            return Some(FilterFailure::Cpu(self.reservation.nano_cpus));
        }
        if let Some(&(port, protocol)) = self
            .host_ports
            .iter()
            .find(|p| usage.port_taken(index, **p))
        {
            return Some(FilterFailure::Port(port, protocol));
        }
        match self.max_per_node {
            Some(max) if u64::from(service_tasks) >= max => Some(FilterFailure::MaxReplicas(max)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::node::tests::node;

    #[test]
    fn failures_read_as_the_reason_counts_them() {
        let c: Constraint = "node.labels.zone==east".parse().unwrap();
        assert_eq!(
            FilterFailure::Constraint(c).to_string(),
            "constraint node.labels.zone==east not met"
        );
        assert_eq!(
            FilterFailure::Memory(2 << 30).to_string(),
            "insufficient memory for a 2GiB reservation"
        );
        assert_eq!(
            FilterFailure::Cpu(1_500_000_000).to_string(),
            "insufficient CPU for a 1.5 CPUs reservation"
        );
        assert_eq!(
            FilterFailure::Port(80, Protocol::Tcp).to_string(),
            "host port 80/tcp in use"
        );
    }

    #[test]
    fn static_filters_run_in_order() {
        let mut spec = ServiceSpec::default();
        spec.placement.constraints = vec!["node.labels.zone==east".parse().unwrap()];
        let demand = Demand::new(&spec);
        let mut n = node("n1");
        assert!(matches!(
            demand.static_failure(&n),
            Some(FilterFailure::Constraint(_))
        ));
        n.availability = Availability::Drain;
        assert_eq!(
            demand.static_failure(&n),
            Some(FilterFailure::Unavailable(Availability::Drain))
        );
        n.status = NodeStatus::Down;
        assert_eq!(
            demand.static_failure(&n),
            Some(FilterFailure::NotReady(NodeStatus::Down))
        );
    }
}
