//! A compose service's `ports` as published ports of its tasks: `mode: ingress` (compose's
//! default) through the routing mesh on every node, `mode: host` on the task's node.

use compose_spec::model::{PortMode, Protocol as ComposeProtocol, Service};

use super::error::StackError;
use super::warnings::Warnings;
use crate::swarm::{Protocol, PublishMode, PublishedPort};

fn protocol(protocol: ComposeProtocol) -> Protocol {
    match protocol {
        ComposeProtocol::Tcp => Protocol::Tcp,
        ComposeProtocol::Udp => Protocol::Udp,
        ComposeProtocol::Sctp => Protocol::Sctp,
    }
}

/// The published ports of `definition` (compose service `service`).
pub(super) fn ports(
    service: &str,
    definition: &Service,
    warnings: &mut Warnings,
) -> Result<Vec<PublishedPort>, StackError> {
    let mut out = Vec::new();
    for port in &definition.ports {
        if port.host_ip.is_some() {
            warnings.not_yet("ports.host_ip", None, service);
        }
        let published = match (port.published.as_deref(), port.published_range()) {
            (None, _) => None,
            (Some(_), Some((start, end))) if start == end => Some(start),
            (Some(text), _) => {
                return Err(StackError::value(
                    service,
                    "ports.published",
                    text,
                    "a service publishes one port per entry, not a range",
                ));
            }
        };
        out.push(PublishedPort {
            target: port.target,
            published,
            protocol: protocol(port.protocol),
            mode: match port.mode {
                PortMode::Ingress => PublishMode::Ingress,
                PortMode::Host => PublishMode::Host,
            },
            name: port.name.clone(),
        });
    }
    Ok(out)
}
