//! Services' virtual addresses, pure: a service in `vip` mode holds one address on each
//! network of its spec, taken from the same address book as its tasks' addresses (the store
//! is the allocator's memory: an address is taken while a service or task record holds it).
//! An address is kept as long as the service stays on the network (so it survives leader
//! changes and spec updates), released when the service leaves the network, switches to
//! `dnsrr` or is removed (its record, and with it the address, is gone).

use cluster_state::{ServiceEndpoint, VirtualIp};
use orchestrator::swarm::{EndpointMode, ServiceSpec};

use super::alloc::AddressBook;

/// The virtual addresses `spec` wants, given those the service holds (`current`, whose
/// published ports are kept as they are): the held address of each network it stays on (the
/// ingress network counts when it publishes a port there), a new one from `book` for each network it joined,
/// none for the networks it left (nor any in `dnsrr` mode). Networks that are unknown or full
/// get none (the next pass tries again). In the spec's network order.
pub(crate) fn wanted(
    spec: &ServiceSpec,
    current: &ServiceEndpoint,
    book: &mut AddressBook,
) -> ServiceEndpoint {
    let mut out = ServiceEndpoint {
        ports: current.ports.clone(),
        ..ServiceEndpoint::default()
    };
    if spec.endpoint_mode == EndpointMode::Dnsrr {
        return out;
    }
    for network in &super::ingress::networks_of(spec) {
        let Some(id) = book.id_of(&network.target).map(str::to_owned) else {
            continue;
        };
        if let Some(held) = current.virtual_ips.iter().find(|v| v.network_id == id) {
            out.virtual_ips.push(held.clone());
            continue;
        }
        if let Some((ip, prefix)) = book.take(&id) {
            out.virtual_ips.push(VirtualIp {
                network_id: id,
                addr: format!("{ip}/{prefix}"),
            });
        }
    }
    out
}

/// Marks every address `endpoint` holds taken in `book`.
pub(crate) fn hold(book: &mut AddressBook, endpoint: &ServiceEndpoint) {
    for v in &endpoint.virtual_ips {
        if let Some(ip) = v.ip() {
            book.hold(&v.network_id, ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster_state::{Meta, Network, TaskAttachment};
    use orchestrator::swarm::NetworkAttachmentConfig;
    use std::net::Ipv4Addr;

    fn network(id: &str, name: &str, subnet: &str) -> Network {
        Network {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            name: name.into(),
            driver: "overlay".into(),
            subnet: Some(subnet.into()),
            gateway: None,
            vni: 4096,
            attachable: false,
            internal: false,
            ingress: None,
            encryption: None,
            attachments: Default::default(),
        }
    }

    fn spec(mode: EndpointMode, networks: &[&str]) -> ServiceSpec {
        ServiceSpec {
            endpoint_mode: mode,
            networks: networks
                .iter()
                .map(|n| NetworkAttachmentConfig {
                    target: (*n).into(),
                    aliases: Vec::new(),
                })
                .collect(),
            ..ServiceSpec::default()
        }
    }

    fn addrs(e: &ServiceEndpoint) -> Vec<(&str, &str)> {
        e.virtual_ips
            .iter()
            .map(|v| (v.network_id.as_str(), v.addr.as_str()))
            .collect()
    }

    fn networks() -> [Network; 2] {
        [
            network("n1", "front", "10.9.0.0/24"),
            network("n2", "back", "10.8.0.0/24"),
        ]
    }

    #[test]
    fn a_vip_service_gets_one_address_per_network_apart_from_tasks_addresses() {
        let held = [TaskAttachment {
            network_id: "n1".into(),
            network: "front".into(),
            ip: Ipv4Addr::new(10, 9, 0, 2),
            mac: String::new(),
            aliases: Vec::new(),
        }];
        let mut book = AddressBook::new(&networks(), &held);
        let got = wanted(
            &spec(EndpointMode::Vip, &["front", "back", "gone"]),
            &ServiceEndpoint::default(),
            &mut book,
        );
        assert_eq!(addrs(&got), [("n1", "10.9.0.3/24"), ("n2", "10.8.0.2/24")]);
        // The book holds them now: a task allocated after them in the pass gets the next one.
        let (tasks, _) = book.allocate(&spec(EndpointMode::Vip, &["front"]).networks);
        assert_eq!(tasks[0].ip, Ipv4Addr::new(10, 9, 0, 4));
        assert_eq!(got.vip_on("n2"), Some(Ipv4Addr::new(10, 8, 0, 2)));
    }

    #[test]
    fn held_addresses_are_kept_and_left_networks_release_theirs() {
        let mut book = AddressBook::new(&networks(), &[]);
        let first = wanted(
            &spec(EndpointMode::Vip, &["front", "back"]),
            &ServiceEndpoint::default(),
            &mut book,
        );
        // The next pass (another leader) reads the record back: same addresses, none new,
        // even though lower ones are free in a book that does not hold them.
        let mut book = AddressBook::new(&networks(), &[]);
        hold(&mut book, &first);
        let again = wanted(
            &spec(EndpointMode::Vip, &["front", "back"]),
            &first,
            &mut book,
        );
        assert_eq!(again, first);
        // Leaving `back`: its address goes; switching to dnsrr: every address goes.
        let left = wanted(&spec(EndpointMode::Vip, &["front"]), &first, &mut book);
        assert_eq!(addrs(&left), [("n1", "10.9.0.2/24")]);
        let dnsrr = wanted(&spec(EndpointMode::Dnsrr, &["front"]), &first, &mut book);
        assert!(dnsrr.is_empty());
    }

    #[test]
    fn a_removed_service_frees_its_address_for_the_next_one() {
        let mut book = AddressBook::new(&networks(), &[]);
        let one = wanted(
            &spec(EndpointMode::Vip, &["front"]),
            &ServiceEndpoint::default(),
            &mut book,
        );
        let two = wanted(
            &spec(EndpointMode::Vip, &["front"]),
            &ServiceEndpoint::default(),
            &mut book,
        );
        assert_eq!(addrs(&two), [("n1", "10.9.0.3/24")]);
        // `one` is removed: the next snapshot holds only `two`'s address.
        let mut book = AddressBook::new(&networks(), &[]);
        hold(&mut book, &two);
        let three = wanted(
            &spec(EndpointMode::Vip, &["front"]),
            &ServiceEndpoint::default(),
            &mut book,
        );
        assert_eq!(three, one);
    }
}
