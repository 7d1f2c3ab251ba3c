//! What the managers allocate for cluster networks, pure: a new overlay's VXLAN identifier and
//! (when none is given) its subnet from the default pool, and each task's address and MAC
//! address on the networks of its spec. The store is the allocator's memory: an identifier or
//! a subnet is taken while a network record holds it, an address while a task record does.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use cluster_state::{Network, TaskAttachment};
use orchestrator::swarm::NetworkAttachmentConfig;

/// The first VXLAN identifier the managers hand out (those below are left to standalone
/// overlays created by hand on one node).
pub(crate) const FIRST_VNI: u32 = 4096;
/// The largest VXLAN identifier (24 bits).
pub(crate) const MAX_VNI: u32 = (1 << 24) - 1;

/// The pool overlay subnets come from when none is given: 10.32.0.0/11, cut in /20s (512
/// networks of 4094 addresses). It stays clear of the 10.0.0.0/16 that cloud networks
/// default to, of Kubernetes' 10.96.0.0/12 and 10.244.0.0/16, of the agents' bridge pools
/// (172.16.0.0/12, 192.168.0.0/16) and of the test bed's 10.213.0.0/16 underlay.
pub(crate) fn default_pool() -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(10, 32, 0, 0), 11).expect("valid prefix length")
}
/// The prefix length of each subnet taken from [`default_pool`].
pub(crate) const POOL_PREFIX: u8 = 20;
/// The longest prefix a given subnet may have (room for a gateway and a few tasks).
pub(crate) const MAX_PREFIX: u8 = 29;

/// A network the managers cannot create as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AllocError {
    /// The subnet or gateway text does not parse or does not fit.
    #[error("{0}")]
    Invalid(String),
    /// The subnet overlaps another cluster network's.
    #[error("subnet {subnet} overlaps network {other} ({other_subnet})")]
    Overlaps {
        /// The subnet asked for.
        subnet: Ipv4Net,
        /// The network holding an overlapping one.
        other: String,
        /// Its subnet.
        other_subnet: Ipv4Net,
    },
    /// Every identifier or pool subnet is taken.
    #[error("every {0} is in use")]
    Exhausted(&'static str),
}

/// The subnet and gateway a network record holds, when they parse.
pub(crate) fn addressing(network: &Network) -> Option<(Ipv4Net, Ipv4Addr)> {
    let subnet: Ipv4Net = network.subnet.as_deref()?.parse().ok()?;
    let subnet = subnet.trunc();
    let gateway = match network.gateway.as_deref() {
        Some(g) => g.parse().ok()?,
        None => first_host(&subnet),
    };
    Some((subnet, gateway))
}

fn first_host(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The smallest VXLAN identifier from [`FIRST_VNI`] that no network in `existing` holds.
pub(crate) fn next_vni(existing: &[Network]) -> Result<u32, AllocError> {
    let used: BTreeSet<u32> = existing.iter().map(|n| n.vni).collect();
    (FIRST_VNI..=MAX_VNI)
        .find(|v| !used.contains(v))
        .ok_or(AllocError::Exhausted("VXLAN identifier"))
}

/// The subnet and gateway of a new network: `subnet` and `gateway` as given (checked, and
/// refused when they overlap another network), else the first /20 of [`default_pool`] that
/// overlaps none, with its first host address as gateway.
pub(crate) fn addresses(
    subnet: Option<&str>,
    gateway: Option<&str>,
    existing: &[Network],
) -> Result<(Ipv4Net, Ipv4Addr), AllocError> {
    let taken: Vec<(Ipv4Net, &str)> = existing
        .iter()
        .filter_map(|n| Some((addressing(n)?.0, n.name.as_str())))
        .collect();
    let subnet = match subnet {
        Some(text) => {
            let net: Ipv4Net = text.parse().map_err(|_| {
                AllocError::Invalid(format!("invalid subnet {text:?}: expected a.b.c.d/len"))
            })?;
            if net.prefix_len() > MAX_PREFIX {
                return Err(AllocError::Invalid(format!(
                    "subnet {text} is too small: at most /{MAX_PREFIX}"
                )));
            }
            let net = net.trunc();
            if let Some((other_subnet, other)) = taken.iter().find(|(t, _)| overlaps(t, &net)) {
                return Err(AllocError::Overlaps {
                    subnet: net,
                    other: (*other).to_owned(),
                    other_subnet: *other_subnet,
                });
            }
            net
        }
        None => {
            if gateway.is_some() {
                return Err(AllocError::Invalid("--gateway needs --subnet".to_owned()));
            }
            default_pool()
                .subnets(POOL_PREFIX)
                .expect("the pool prefix is longer than the pool's")
                .find(|s| !taken.iter().any(|(t, _)| overlaps(t, s)))
                .ok_or(AllocError::Exhausted("subnet of the default pool"))?
        }
    };
    let gateway = match gateway {
        Some(text) => {
            let g: Ipv4Addr = text.parse().map_err(|_| {
                AllocError::Invalid(format!("invalid gateway {text:?}: expected a.b.c.d"))
            })?;
            if !subnet.contains(&g) || g == subnet.network() || g == subnet.broadcast() {
                return Err(AllocError::Invalid(format!(
                    "gateway {g} is not a host address of subnet {subnet}"
                )));
            }
            g
        }
        None => first_host(&subnet),
    };
    Ok((subnet, gateway))
}

/// The MAC address of the interface holding `ip`: `02:42:` and the address's four bytes (a
/// locally administered unicast address, as Docker derives them).
pub(crate) fn mac_of(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// The addresses of every network, taken and free, as of one store snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressBook {
    /// Per network id: subnet, gateway and the addresses tasks hold.
    networks: BTreeMap<String, (Ipv4Net, Ipv4Addr, BTreeSet<Ipv4Addr>)>,
    /// Network name → id.
    names: BTreeMap<String, String>,
}

impl AddressBook {
    /// The book of `networks`, with the addresses held by `held` (every task record's
    /// attachments) taken.
    pub(crate) fn new<'a>(
        networks: &[Network],
        held: impl IntoIterator<Item = &'a TaskAttachment>,
    ) -> Self {
        let mut book = AddressBook::default();
        for n in networks {
            if let Some((subnet, gateway)) = addressing(n) {
                // Standalone containers' addresses are taken like tasks'.
                let held = n.attachments.values().map(|a| a.ip).collect();
                book.networks
                    .insert(n.meta.id.clone(), (subnet, gateway, held));
                book.names.insert(n.name.clone(), n.meta.id.clone());
            }
        }
        for a in held {
            if let Some((_, _, used)) = book.networks.get_mut(&a.network_id) {
                used.insert(a.ip);
            }
        }
        book
    }

    /// Marks `ip` taken on network `network_id` (a service's virtual address).
    pub(crate) fn hold(&mut self, network_id: &str, ip: Ipv4Addr) {
        if let Some((_, _, used)) = self.networks.get_mut(network_id) {
            used.insert(ip);
        }
    }

    /// The id of the network named `name`, when the book knows it.
    pub(crate) fn id_of(&self, name: &str) -> Option<&str> {
        self.names.get(name).map(String::as_str)
    }

    /// Takes the lowest host address of network `network_id` that is neither its gateway nor
    /// held; returns it with the subnet's prefix length (`None`: unknown network, or full).
    pub(crate) fn take(&mut self, network_id: &str) -> Option<(Ipv4Addr, u8)> {
        let (subnet, gateway, used) = self.networks.get_mut(network_id)?;
        let first = u32::from(subnet.network()) + 1;
        let last = u32::from(subnet.broadcast());
        let ip = (first..last)
            .map(Ipv4Addr::from)
            .find(|ip| ip != gateway && !used.contains(ip))?;
        used.insert(ip);
        Some((ip, subnet.prefix_len()))
    }

    /// Takes the highest host address of network `network_id` that is neither its gateway nor
    /// held (standalone containers' addresses, apart from the tasks' at the bottom).
    pub(crate) fn take_highest(&mut self, network_id: &str) -> Option<Ipv4Addr> {
        let (subnet, gateway, used) = self.networks.get_mut(network_id)?;
        let first = u32::from(subnet.network()) + 1;
        let last = u32::from(subnet.broadcast());
        let ip = (first..last)
            .rev()
            .map(Ipv4Addr::from)
            .find(|ip| ip != gateway && !used.contains(ip))?;
        used.insert(ip);
        Some(ip)
    }

    /// Allocates one address on each network of `wanted` (by name): the lowest host address
    /// that is neither the gateway nor held. Returns the attachments, and the names of the
    /// networks that are unknown or full (the task goes without them).
    pub(crate) fn allocate(
        &mut self,
        wanted: &[NetworkAttachmentConfig],
    ) -> (Vec<TaskAttachment>, Vec<String>) {
        let mut out = Vec::new();
        let mut failed = Vec::new();
        for config in wanted {
            let Some(id) = self.names.get(&config.target).cloned() else {
                failed.push(config.target.clone());
                continue;
            };
            match self.take(&id) {
                Some((ip, _)) => {
                    out.push(TaskAttachment {
                        network_id: id,
                        network: config.target.clone(),
                        ip,
                        mac: mac_of(ip),
                        aliases: config.aliases.clone(),
                    });
                }
                None => failed.push(config.target.clone()),
            }
        }
        (out, failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster_state::Meta;

    fn network(id: &str, name: &str, subnet: &str, vni: u32) -> Network {
        Network {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            name: name.into(),
            driver: "overlay".into(),
            subnet: Some(subnet.into()),
            gateway: None,
            vni,
            attachable: false,
            internal: false,
            ingress: None,
            encryption: None,
            attachments: Default::default(),
        }
    }

    fn wanted(names: &[&str]) -> Vec<NetworkAttachmentConfig> {
        names
            .iter()
            .map(|n| NetworkAttachmentConfig {
                target: (*n).into(),
                aliases: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn identifiers_start_at_4096_and_fill_the_lowest_gap() {
        assert_eq!(next_vni(&[]).unwrap(), 4096);
        let existing = [
            network("a", "a", "10.1.0.0/24", 4096),
            network("b", "b", "10.2.0.0/24", 4098),
        ];
        assert_eq!(next_vni(&existing).unwrap(), 4097);
    }

    #[test]
    fn subnets_come_from_the_pool_in_twenties_skipping_taken_ones() {
        let (s, g) = addresses(None, None, &[]).unwrap();
        assert_eq!(
            (s.to_string(), g.to_string()),
            ("10.32.0.0/20".into(), "10.32.0.1".into())
        );
        let existing = [network("a", "a", "10.32.4.0/24", 4096)];
        let (s, _) = addresses(None, None, &existing).unwrap();
        assert_eq!(s.to_string(), "10.32.16.0/20");
    }

    #[test]
    fn given_subnets_and_gateways_are_checked() {
        let existing = [network("a", "front", "10.9.0.0/16", 4096)];
        let err = addresses(Some("10.9.3.0/24"), None, &existing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "subnet 10.9.3.0/24 overlaps network front (10.9.0.0/16)"
        );
        let (s, g) = addresses(Some("10.8.0.7/24"), Some("10.8.0.254"), &existing).unwrap();
        assert_eq!(
            (s.to_string(), g.to_string()),
            ("10.8.0.0/24".into(), "10.8.0.254".into())
        );
        for (subnet, gateway) in [
            (Some("10.8.0.0/30"), None),
            (Some("10.8.0.0"), None),
            (Some("10.8.0.0/24"), Some("10.8.1.1")),
            (Some("10.8.0.0/24"), Some("10.8.0.255")),
            (None, Some("10.8.0.1")),
        ] {
            assert!(
                matches!(
                    addresses(subnet, gateway, &existing),
                    Err(AllocError::Invalid(_))
                ),
                "{subnet:?} {gateway:?}"
            );
        }
    }

    #[test]
    fn tasks_get_the_lowest_free_address_and_a_derived_mac() {
        let networks = [network("n1", "front", "10.9.0.0/29", 4096)];
        let held = [TaskAttachment {
            network_id: "n1".into(),
            network: "front".into(),
            ip: Ipv4Addr::new(10, 9, 0, 2),
            mac: mac_of(Ipv4Addr::new(10, 9, 0, 2)),
            aliases: Vec::new(),
        }];
        let mut book = AddressBook::new(&networks, &held);
        let (got, failed) = book.allocate(&wanted(&["front", "gone"]));
        assert_eq!(failed, ["gone"]);
        assert_eq!(got[0].ip, Ipv4Addr::new(10, 9, 0, 3));
        assert_eq!(got[0].mac, "02:42:0a:09:00:03");
        assert_eq!(got[0].network_id, "n1");
        // .1 is the gateway, .2 held, .3 just given: then .4 to .6, then full (.7 broadcasts).
        let ips: Vec<_> = (0..3)
            .map(|_| book.allocate(&wanted(&["front"])).0[0].ip.octets()[3])
            .collect();
        assert_eq!(ips, [4, 5, 6]);
        assert_eq!(book.allocate(&wanted(&["front"])).1, ["front"]);
    }

    #[test]
    fn an_address_is_free_again_once_no_task_record_holds_it() {
        let networks = [network("n1", "front", "10.9.0.0/24", 4096)];
        let mut book = AddressBook::new(&networks, &[]);
        let first = book.allocate(&wanted(&["front"])).0;
        assert_eq!(first[0].ip, Ipv4Addr::new(10, 9, 0, 2));
        // The next snapshot still has the task: the address stays taken.
        let mut book = AddressBook::new(&networks, &first);
        assert_eq!(book.allocate(&wanted(&["front"])).0[0].ip.octets()[3], 3);
        // The task record is gone: its address is handed out again.
        let mut book = AddressBook::new(&networks, &[]);
        assert_eq!(book.allocate(&wanted(&["front"])).0[0].ip.octets()[3], 2);
    }
}
