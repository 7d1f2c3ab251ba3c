//! IPv4 address management, pure: choosing a subnet from the pools that overlaps nothing already
//! routed or used, and handing out addresses inside a subnet (or its `ip_range`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// A pool of automatic subnets: `base` cut into subnets of prefix length `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pool {
    /// The address block.
    pub base: Ipv4Net,
    /// The prefix length of each subnet taken from it.
    pub size: u8,
}

/// The default pools: 172.16-31.0.0/16, then 192.168.0.0/16 in /20 blocks, as Docker does
/// (callers add [`reserved`] to the taken subnets).
pub(super) fn default_pools() -> Vec<Pool> {
    vec![
        Pool {
            base: Ipv4Net::new(Ipv4Addr::new(172, 17, 0, 0), 12).expect("valid prefix length"),
            size: 16,
        },
        Pool {
            base: Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("valid prefix length"),
            size: 20,
        },
    ]
}

/// Subnets never handed out automatically (Docker's default bridge).
pub(super) fn reserved() -> Vec<Ipv4Net> {
    vec![Ipv4Net::new(Ipv4Addr::new(172, 17, 0, 0), 16).expect("valid prefix length")]
}

/// Whether two subnets share any address.
pub(super) fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first subnet of the pools that overlaps none of `taken`.
pub(super) fn pick_subnet(pools: &[Pool], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    pools.iter().find_map(|pool| {
        pool.base
            .subnets(pool.size)
            .ok()?
            .find(|candidate| !taken.iter().any(|t| overlaps(candidate, t)))
    })
}

/// Why an address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddressError {
    /// Outside the subnet.
    #[error("address {0} is not in subnet {1}")]
    OutsideSubnet(Ipv4Addr, Ipv4Net),
    /// The subnet's network or broadcast address.
    #[error("address {0} is the network or broadcast address of {1}")]
    Reserved(Ipv4Addr, Ipv4Net),
    /// The gateway.
    #[error("address {0} is the gateway")]
    Gateway(Ipv4Addr),
    /// Already given to another endpoint.
    #[error("address {0} is already in use")]
    InUse(Ipv4Addr),
}

/// The address plan of one network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ipam {
    /// The subnet.
    pub subnet: Ipv4Net,
    /// The gateway (the bridge's address).
    pub gateway: Ipv4Addr,
    /// Where dynamic addresses come from (the whole subnet when `None`).
    pub ip_range: Option<Ipv4Net>,
}

impl Ipam {
    /// Checks a user's subnet, gateway and range; the gateway defaults to the first host address.
    pub(crate) fn new(
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        ip_range: Option<Ipv4Net>,
    ) -> Result<Self, String> {
        if subnet != subnet.trunc() {
            return Err(format!(
                "subnet {subnet} has host bits set (use {})",
                subnet.trunc()
            ));
        }
        if subnet.prefix_len() > 30 {
            return Err(format!("subnet {subnet} is too small: use /30 or larger"));
        }
        let gateway = match gateway {
            Some(g) => g,
            None => subnet
                .hosts()
                .next()
                .ok_or_else(|| format!("subnet {subnet} has no host address"))?,
        };
        if !subnet.contains(&gateway)
            || gateway == subnet.network()
            || gateway == subnet.broadcast()
        {
            return Err(format!(
                "gateway {gateway} is not a host address of subnet {subnet}"
            ));
        }
        if let Some(range) = ip_range
            && (range.prefix_len() < subnet.prefix_len() || !subnet.contains(&range.network()))
        {
            return Err(format!("ip range {range} is not inside subnet {subnet}"));
        }
        Ok(Self {
            subnet,
            gateway,
            ip_range,
        })
    }

    /// Checks that `addr` may be given to a new endpoint (static addresses may lie outside
    /// `ip_range`, as Docker allows).
    pub(crate) fn check(
        &self,
        addr: Ipv4Addr,
        used: &BTreeSet<Ipv4Addr>,
    ) -> Result<(), AddressError> {
        if !self.subnet.contains(&addr) {
            return Err(AddressError::OutsideSubnet(addr, self.subnet));
        }
        if addr == self.subnet.network() || addr == self.subnet.broadcast() {
            return Err(AddressError::Reserved(addr, self.subnet));
        }
        if addr == self.gateway {
            return Err(AddressError::Gateway(addr));
        }
        if used.contains(&addr) {
            return Err(AddressError::InUse(addr));
        }
        Ok(())
    }

    /// The lowest free address of the range, or `None` when it is full.
    pub(crate) fn allocate(&self, used: &BTreeSet<Ipv4Addr>) -> Option<Ipv4Addr> {
        let range = self.ip_range.unwrap_or(self.subnet);
        let (first, last) = (u32::from(range.network()), u32::from(range.broadcast()));
        (first..=last)
            .map(Ipv4Addr::from)
            .find(|a| self.check(*a, used).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn picks_the_first_pool_subnet_free_of_routes_and_reserved() {
        let cases: &[(&[&str], &str)] = &[
            (&["172.17.0.0/16"], "172.16.0.0/16"),
            (
                &["172.16.0.0/16", "172.17.0.0/16", "172.18.5.0/24"],
                "172.19.0.0/16",
            ),
            (&["172.16.0.0/12"], "192.168.0.0/20"),
            (&["172.16.0.0/12", "192.168.0.0/24"], "192.168.16.0/20"),
            (&["10.0.0.0/8", "0.0.0.0/0"], "172.16.0.0/16"),
        ];
        for (taken, want) in cases {
            let mut taken: Vec<Ipv4Net> = taken.iter().map(|s| net(s)).collect();
            // A default route overlaps everything; callers leave it out, and so does this case.
            taken.retain(|t| t.prefix_len() > 0);
            assert_eq!(
                pick_subnet(&default_pools(), &taken),
                Some(net(want)),
                "{taken:?}"
            );
        }
    }

    #[test]
    fn no_subnet_when_every_pool_is_taken() {
        let taken = [net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert_eq!(pick_subnet(&default_pools(), &taken), None);
    }

    #[test]
    fn allocates_lowest_free_address_skipping_gateway_and_used() {
        let ipam = Ipam::new(net("10.9.0.0/29"), None, None).unwrap();
        assert_eq!(ipam.gateway, Ipv4Addr::new(10, 9, 0, 1));
        let mut used = BTreeSet::new();
        let mut got = vec![];
        while let Some(a) = ipam.allocate(&used) {
            used.insert(a);
            got.push(a.octets()[3]);
        }
        assert_eq!(got, vec![2, 3, 4, 5, 6]);
        used.remove(&Ipv4Addr::new(10, 9, 0, 4));
        assert_eq!(ipam.allocate(&used), Some(Ipv4Addr::new(10, 9, 0, 4)));
    }

    #[test]
    fn allocates_inside_ip_range_only() {
        let ipam = Ipam::new(net("10.9.0.0/24"), None, Some(net("10.9.0.128/30"))).unwrap();
        let mut used = BTreeSet::new();
        let a = ipam.allocate(&used).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 9, 0, 128));
        used.extend([
            a,
            Ipv4Addr::new(10, 9, 0, 129),
            Ipv4Addr::new(10, 9, 0, 130),
        ]);
        assert_eq!(ipam.allocate(&used), Some(Ipv4Addr::new(10, 9, 0, 131)));
        used.insert(Ipv4Addr::new(10, 9, 0, 131));
        assert_eq!(ipam.allocate(&used), None);
    }

    #[test]
    fn static_address_checks() {
        let ipam = Ipam::new(net("10.9.0.0/24"), Some(Ipv4Addr::new(10, 9, 0, 254)), None).unwrap();
        let used = BTreeSet::from([Ipv4Addr::new(10, 9, 0, 7)]);
        let cases = [
            ("10.9.0.8", Ok(())),
            ("10.9.1.8", Err("not in subnet")),
            ("10.9.0.0", Err("network or broadcast")),
            ("10.9.0.255", Err("network or broadcast")),
            ("10.9.0.254", Err("gateway")),
            ("10.9.0.7", Err("in use")),
        ];
        for (addr, want) in cases {
            let got = ipam
                .check(addr.parse().unwrap(), &used)
                .map_err(|e| e.to_string());
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(w)) => assert!(e.contains(w), "{addr}: {e}"),
                (got, want) => panic!("{addr}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn rejects_bad_user_ipam() {
        let cases = [
            ("10.9.0.5/24", None, None, "host bits"),
            ("10.9.0.0/31", None, None, "too small"),
            ("10.9.0.0/24", Some("10.8.0.1"), None, "gateway"),
            ("10.9.0.0/24", None, Some("10.9.0.0/16"), "ip range"),
            ("10.9.0.0/24", None, Some("10.10.0.0/28"), "ip range"),
        ];
        for (subnet, gw, range, want) in cases {
            let err =
                Ipam::new(net(subnet), gw.map(|g| g.parse().unwrap()), range.map(net)).unwrap_err();
            assert!(err.contains(want), "{subnet}: {err}");
        }
    }
}
