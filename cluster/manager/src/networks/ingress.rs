//! The routing mesh's side of the managers, pure: the `ingress` network (made with the first
//! service that publishes a port in ingress mode, from the default pool like any overlay),
//! the networks a service's tasks join because of it, the ports published cluster-wide (a
//! published port belongs to one service; one left out is chosen from
//! [`DYNAMIC_PORTS`], as Docker does) and each node's own address on the network (its end of
//! the mesh, allocated by the leader from the same address book as the tasks').

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use cluster_state::{EndpointPort, IngressNodes, Meta, Network};
use orchestrator::swarm::{NetworkAttachmentConfig, Protocol, PublishMode, ServiceSpec};

use super::alloc::{self, AddressBook, AllocError};

/// The name of the routing mesh's network (Docker's).
pub(crate) const NAME: &str = "ingress";

/// Where a port published in ingress mode without a number is taken from (Docker's range).
pub(crate) const DYNAMIC_PORTS: RangeInclusive<u16> = 30000..=32767;

/// A service's ports cannot be published as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PortError {
    /// Another service publishes the port.
    #[error("port {port}/{protocol} is already published by service {service}")]
    InUse {
        /// The port.
        port: u16,
        /// Its protocol.
        protocol: Protocol,
        /// The service holding it.
        service: String,
    },
    /// The spec publishes one port twice.
    #[error("port {port}/{protocol} is published twice")]
    Twice {
        /// The port.
        port: u16,
        /// Its protocol.
        protocol: Protocol,
    },
    /// The routing mesh cannot carry the protocol.
    #[error(
        "port {target}/sctp: the routing mesh carries tcp and udp only (publish it with mode=host)"
    )]
    Sctp {
        /// The target port.
        target: u16,
    },
    /// Every port of [`DYNAMIC_PORTS`] is taken.
    #[error("no free port left in {}-{} to publish port {target}/{protocol}", DYNAMIC_PORTS.start(), DYNAMIC_PORTS.end())]
    Exhausted {
        /// The target port.
        target: u16,
        /// Its protocol.
        protocol: Protocol,
    },
}

/// Whether `spec` publishes a port in ingress mode.
pub(crate) fn uses_mesh(spec: &ServiceSpec) -> bool {
    spec.ports.iter().any(|p| p.mode == PublishMode::Ingress)
}

/// The networks the tasks of `spec` join: those of the spec, and the ingress network when it
/// publishes a port in ingress mode.
pub(crate) fn networks_of(spec: &ServiceSpec) -> Vec<NetworkAttachmentConfig> {
    let mut out = spec.networks.clone();
    if uses_mesh(spec) && !out.iter().any(|n| n.target == NAME) {
        out.push(NetworkAttachmentConfig {
            target: NAME.to_owned(),
            aliases: Vec::new(),
        });
    }
    out
}

/// The ingress network among `networks`.
pub(crate) fn find(networks: &[Network]) -> Option<&Network> {
    networks.iter().find(|n| n.ingress.is_some())
}

/// The record of a new ingress network: a VXLAN identifier and a subnet of the default pool
/// that no network in `existing` holds, like any overlay.
pub(crate) fn new_network(existing: &[Network], id: String) -> Result<Network, AllocError> {
    let vni = alloc::next_vni(existing)?;
    let (subnet, gateway) = alloc::addresses(None, None, existing)?;
    Ok(Network {
        meta: Meta {
            id,
            ..Meta::default()
        },
        name: NAME.to_owned(),
        driver: "overlay".to_owned(),
        subnet: Some(subnet.to_string()),
        gateway: Some(gateway.to_string()),
        vni,
        attachable: false,
        internal: false,
        ingress: Some(IngressNodes::default()),
        encryption: None,
        attachments: Default::default(),
    })
}

/// Marks every node's address on `network` taken in `book`.
pub(crate) fn hold_nodes(book: &mut AddressBook, network: &Network) {
    for ip in network.ingress.iter().flat_map(|i| i.nodes.values()) {
        book.hold(&network.meta.id, *ip);
    }
}

/// The nodes' addresses on ingress network `network` for the nodes `nodes`: a node keeps the
/// address it holds, a new node gets the lowest free one of `book`, a node gone loses its
/// (free again). A node the network has no room for gets none (the next pass tries again).
pub(crate) fn node_addresses<'a>(
    network: &Network,
    nodes: impl IntoIterator<Item = &'a str>,
    book: &mut AddressBook,
) -> IngressNodes {
    let held = network.ingress.clone().unwrap_or_default();
    let mut out = IngressNodes::default();
    for node in nodes {
        let ip = match held.nodes.get(node) {
            Some(ip) => Some(*ip),
            None => book.take(&network.meta.id).map(|(ip, _)| ip),
        };
        if let Some(ip) = ip {
            out.nodes.insert(node.to_owned(), ip);
        }
    }
    out
}

fn protocol_name(p: Protocol) -> String {
    p.to_string()
}

/// The ports `spec` (of service `service`) publishes, as `Endpoint.Ports` shows them: a
/// published port no other service (`others`: each service's name and its allocated ports)
/// publishes with the same protocol; an ingress port without a number keeps the one it was
/// given before (`current`), or gets the lowest free one of [`DYNAMIC_PORTS`]. A host-mode
/// port clashes with another service's ingress port only (two host-mode services may share
/// a port on different nodes).
pub(crate) fn allocate_ports(
    spec: &ServiceSpec,
    current: &[EndpointPort],
    others: &[(&str, &[EndpointPort])],
) -> Result<Vec<EndpointPort>, PortError> {
    let mut taken: BTreeMap<(String, u16), (&str, bool)> = BTreeMap::new();
    for (service, ports) in others {
        for p in ports.iter() {
            if let Some(port) = p.published_port {
                taken
                    .entry((p.protocol.clone(), port))
                    .or_insert((service, p.is_ingress()));
            }
        }
    }
    let mut out = Vec::new();
    let mut mine: BTreeSet<(String, u16)> = BTreeSet::new();
    // Fixed ports first, so that a dynamic one never takes a number the spec names.
    for p in spec.ports.iter().filter(|p| p.published.is_some()) {
        let ingress = p.mode == PublishMode::Ingress;
        if ingress && p.protocol == Protocol::Sctp {
            return Err(PortError::Sctp { target: p.target });
        }
        let port = p.published.expect("filtered on a published port");
        let key = (protocol_name(p.protocol), port);
        if let Some((service, other_ingress)) = taken.get(&key)
            && (ingress || *other_ingress)
        {
            return Err(PortError::InUse {
                port,
                protocol: p.protocol,
                service: (*service).to_owned(),
            });
        }
        if ingress && !mine.insert(key) {
            return Err(PortError::Twice {
                port,
                protocol: p.protocol,
            });
        }
        out.push(EndpointPort {
            protocol: protocol_name(p.protocol),
            target_port: p.target,
            published_port: Some(port),
            publish_mode: if ingress { "ingress" } else { "host" }.to_owned(),
        });
    }
    for p in spec.ports.iter().filter(|p| p.published.is_none()) {
        let protocol = protocol_name(p.protocol);
        if p.mode == PublishMode::Host {
            out.push(EndpointPort {
                protocol,
                target_port: p.target,
                published_port: None,
                publish_mode: "host".to_owned(),
            });
            continue;
        }
        if p.protocol == Protocol::Sctp {
            return Err(PortError::Sctp { target: p.target });
        }
        let free = |port: u16| {
            let key = (protocol.clone(), port);
            !taken.contains_key(&key) && !mine.contains(&key)
        };
        let kept = current
            .iter()
            .filter(|c| c.is_ingress() && c.protocol == protocol && c.target_port == p.target)
            .filter_map(|c| c.published_port)
            .find(|port| DYNAMIC_PORTS.contains(port) && free(*port));
        let port = kept
            .or_else(|| DYNAMIC_PORTS.clone().find(|port| free(*port)))
            .ok_or(PortError::Exhausted {
                target: p.target,
                protocol: p.protocol,
            })?;
        mine.insert((protocol.clone(), port));
        out.push(EndpointPort {
            protocol,
            target_port: p.target,
            published_port: Some(port),
            publish_mode: "ingress".to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::PublishedPort;

    fn spec(ports: &[(u16, Option<u16>, Protocol, PublishMode)]) -> ServiceSpec {
        ServiceSpec {
            ports: ports
                .iter()
                .map(|(target, published, protocol, mode)| PublishedPort {
                    target: *target,
                    published: *published,
                    protocol: *protocol,
                    mode: *mode,
                    name: None,
                })
                .collect(),
            ..ServiceSpec::default()
        }
    }

    fn ingress(target: u16, published: Option<u16>) -> (u16, Option<u16>, Protocol, PublishMode) {
        (target, published, Protocol::Tcp, PublishMode::Ingress)
    }

    fn published(ports: &[EndpointPort]) -> Vec<Option<u16>> {
        ports.iter().map(|p| p.published_port).collect()
    }

    #[test]
    fn a_fixed_port_belongs_to_one_service_and_the_error_names_it() {
        let web = allocate_ports(&spec(&[ingress(80, Some(8080))]), &[], &[]).unwrap();
        assert_eq!(
            web,
            [EndpointPort {
                protocol: "tcp".into(),
                target_port: 80,
                published_port: Some(8080),
                publish_mode: "ingress".into(),
            }]
        );
        let others = [("web", web.as_slice())];
        let err = allocate_ports(&spec(&[ingress(81, Some(8080))]), &[], &others).unwrap_err();
        assert_eq!(
            err.to_string(),
            "port 8080/tcp is already published by service web"
        );
        // Another protocol is another port; a host-mode port clashes with an ingress one.
        let udp = spec(&[(53, Some(8080), Protocol::Udp, PublishMode::Ingress)]);
        assert!(allocate_ports(&udp, &[], &others).is_ok());
        let host = spec(&[(80, Some(8080), Protocol::Tcp, PublishMode::Host)]);
        assert!(matches!(
            allocate_ports(&host, &[], &others),
            Err(PortError::InUse { .. })
        ));
        // Two host-mode services may share a number (on different nodes).
        let host_ports = allocate_ports(&host, &[], &[]).unwrap();
        assert!(allocate_ports(&host, &[], &[("other", host_ports.as_slice())]).is_ok());
        // Twice in one spec.
        let twice = spec(&[ingress(80, Some(8080)), ingress(81, Some(8080))]);
        assert!(matches!(
            allocate_ports(&twice, &[], &[]),
            Err(PortError::Twice { port: 8080, .. })
        ));
    }

    #[test]
    fn a_port_left_out_takes_the_lowest_free_dynamic_port_and_keeps_it() {
        let taken = allocate_ports(&spec(&[ingress(80, Some(30000))]), &[], &[]).unwrap();
        let others = [("web", taken.as_slice())];
        // Fixed ports of the spec are taken before dynamic ones are chosen.
        let got = allocate_ports(
            &spec(&[
                ingress(80, None),
                ingress(81, Some(30001)),
                ingress(82, None),
            ]),
            &[],
            &others,
        )
        .unwrap();
        assert_eq!(published(&got), [Some(30001), Some(30002), Some(30003)]);
        assert_eq!(got[1].target_port, 80);
        // An update keeps what the port had, even with lower ones free again.
        let again = allocate_ports(&spec(&[ingress(82, None)]), &got, &[]).unwrap();
        assert_eq!(published(&again), [Some(30003)]);
        // A host-mode port without a number is left to the node.
        let host = spec(&[(80, None, Protocol::Tcp, PublishMode::Host)]);
        assert_eq!(published(&allocate_ports(&host, &[], &[]).unwrap()), [None]);
    }

    #[test]
    fn the_range_runs_out_and_sctp_stays_off_the_mesh() {
        let all: Vec<EndpointPort> = DYNAMIC_PORTS
            .map(|p| EndpointPort {
                protocol: "tcp".into(),
                target_port: 80,
                published_port: Some(p),
                publish_mode: "ingress".into(),
            })
            .collect();
        let err = allocate_ports(&spec(&[ingress(80, None)]), &[], &[("big", &all)]).unwrap_err();
        assert!(
            matches!(err, PortError::Exhausted { target: 80, .. }),
            "{err}"
        );
        let sctp = spec(&[(80, Some(8080), Protocol::Sctp, PublishMode::Ingress)]);
        assert!(matches!(
            allocate_ports(&sctp, &[], &[]),
            Err(PortError::Sctp { target: 80 })
        ));
    }

    #[test]
    fn tasks_join_the_ingress_network_only_for_an_ingress_port() {
        let mut s = spec(&[(80, Some(8080), Protocol::Tcp, PublishMode::Host)]);
        assert!(networks_of(&s).is_empty());
        s.ports[0].mode = PublishMode::Ingress;
        let joined = networks_of(&s);
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].target, NAME);
    }

    #[test]
    fn nodes_keep_their_addresses_and_new_ones_take_free_ones() {
        let mut net = new_network(&[], "ing".into()).unwrap();
        assert_eq!(net.subnet.as_deref(), Some("10.32.0.0/20"));
        let mut book = AddressBook::new(std::slice::from_ref(&net), []);
        let first = node_addresses(&net, ["n1", "n2"], &mut book);
        let ips: Vec<String> = first.nodes.values().map(ToString::to_string).collect();
        assert_eq!(ips, ["10.32.0.2", "10.32.0.3"]);
        net.ingress = Some(first.clone());
        // The next pass (any leader): n1 gone, n3 new; n2 keeps its address and n3 does not
        // take n1's while the record still holds it.
        let mut book = AddressBook::new(std::slice::from_ref(&net), []);
        hold_nodes(&mut book, &net);
        let next = node_addresses(&net, ["n2", "n3"], &mut book);
        assert_eq!(next.nodes["n2"], first.nodes["n2"]);
        assert_eq!(next.nodes["n3"].to_string(), "10.32.0.4");
        assert!(!next.nodes.contains_key("n1"));
    }
}
