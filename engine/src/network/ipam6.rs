//! IPv6 address management, pure: a unique local /64 derived from the network id when the user
//! gives no subnet (RFC 4193: `fd` + a 40-bit global id), and addresses handed out inside it.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

/// The largest prefix length accepted: room for a gateway and containers.
pub(super) const MAX_PREFIX: u8 = 120;

/// How many addresses [`Ipam6::allocate`] scans at most.
const SCAN_LIMIT: u128 = 1 << 16;

/// The unique local /64 of a network id (64 hex characters): `fdXX:XXXX:XXXX::/64` with the
/// global id taken from the id's first ten hex digits.
pub(super) fn ula_subnet(id: &str) -> Option<Ipv6Net> {
    let hex = id.get(..10)?;
    let global = u64::from_str_radix(hex, 16).ok()?;
    let prefix = (0xfd_u128 << 120) | (u128::from(global) << 80);
    Ipv6Net::new(Ipv6Addr::from(prefix), 64).ok()
}

/// The IPv6 address plan of one network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ipam6 {
    /// The subnet.
    pub subnet: Ipv6Net,
    /// The gateway (on the bridge).
    pub gateway: Ipv6Addr,
}

impl Ipam6 {
    /// Checks a subnet and gateway; the gateway defaults to the subnet's `::1`.
    pub(super) fn new(subnet: Ipv6Net, gateway: Option<Ipv6Addr>) -> Result<Self, String> {
        if subnet != subnet.trunc() {
            return Err(format!(
                "IPv6 subnet {subnet} has host bits set (use {})",
                subnet.trunc()
            ));
        }
        if subnet.prefix_len() > MAX_PREFIX {
            return Err(format!(
                "IPv6 subnet {subnet} is too small: use /{MAX_PREFIX} or larger"
            ));
        }
        let first = Ipv6Addr::from(u128::from(subnet.network()) + 1);
        let gateway = gateway.unwrap_or(first);
        if !subnet.contains(&gateway) || gateway == subnet.network() {
            return Err(format!(
                "IPv6 gateway {gateway} is not a host address of subnet {subnet}"
            ));
        }
        Ok(Self { subnet, gateway })
    }

    /// Checks that `addr` may be given to a new endpoint.
    pub(super) fn check(&self, addr: Ipv6Addr, used: &BTreeSet<Ipv6Addr>) -> Result<(), String> {
        if !self.subnet.contains(&addr) {
            return Err(format!("address {addr} is not in subnet {}", self.subnet));
        }
        if addr == self.subnet.network() {
            return Err(format!(
                "address {addr} is the subnet-router anycast address of {}",
                self.subnet
            ));
        }
        if addr == self.gateway {
            return Err(format!("address {addr} is the gateway"));
        }
        if used.contains(&addr) {
            return Err(format!("address {addr} is already in use"));
        }
        Ok(())
    }

    /// The lowest free address after the subnet's start, or `None` when none is free among
    /// the first 65,536.
    pub(super) fn allocate(&self, used: &BTreeSet<Ipv6Addr>) -> Option<Ipv6Addr> {
        let first = u128::from(self.subnet.network());
        let last = u128::from(self.subnet.broadcast());
        (1..SCAN_LIMIT)
            .map(|n| first + n)
            .take_while(|a| *a <= last)
            .map(Ipv6Addr::from)
            .find(|a| self.check(*a, used).is_ok())
    }
}

/// Whether two IPv6 subnets share any address.
pub(super) fn overlaps(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ula_from_the_id() {
        let net = ula_subnet(&format!("0123456789{}", "0".repeat(54))).unwrap();
        assert_eq!(net.to_string(), "fd01:2345:6789::/64");
        assert_eq!(ula_subnet("xyz"), None);
    }

    #[test]
    fn allocates_after_the_gateway_and_checks_static_ones() {
        let ipam = Ipam6::new("fd00:1::/64".parse().unwrap(), None).unwrap();
        assert_eq!(ipam.gateway, "fd00:1::1".parse::<Ipv6Addr>().unwrap());
        let mut used = BTreeSet::new();
        let a = ipam.allocate(&used).unwrap();
        assert_eq!(a.to_string(), "fd00:1::2");
        used.insert(a);
        assert_eq!(ipam.allocate(&used).unwrap().to_string(), "fd00:1::3");
        let cases = [
            ("fd00:1::99", None),
            ("fd00:2::5", Some("not in subnet")),
            ("fd00:1::", Some("anycast")),
            ("fd00:1::1", Some("gateway")),
            ("fd00:1::2", Some("in use")),
        ];
        for (addr, want) in cases {
            let got = ipam.check(addr.parse().unwrap(), &used);
            match want {
                None => assert!(got.is_ok(), "{addr}"),
                Some(w) => assert!(got.unwrap_err().contains(w), "{addr}"),
            }
        }
    }

    #[test]
    fn rejects_bad_plans() {
        let cases = [
            ("fd00::1/64", None, "host bits"),
            ("fd00::/124", None, "too small"),
            ("fd00::/64", Some("fd01::1"), "not a host address"),
        ];
        for (subnet, gw, want) in cases {
            let err =
                Ipam6::new(subnet.parse().unwrap(), gw.map(|g| g.parse().unwrap())).unwrap_err();
            assert!(err.contains(want), "{subnet}: {err}");
        }
        let full = Ipam6::new("fd00::/126".parse().unwrap(), None);
        assert!(full.unwrap_err().contains("too small"));
        let tiny = Ipam6::new("fd00::/120".parse().unwrap(), None).unwrap();
        let used: BTreeSet<Ipv6Addr> = (2..=255u128)
            .map(|n| Ipv6Addr::from(u128::from(tiny.subnet.network()) + n))
            .collect();
        assert_eq!(tiny.allocate(&used), None);
        assert!(overlaps(
            &"fd00::/48".parse().unwrap(),
            &"fd00:0:0:1::/64".parse().unwrap()
        ));
    }
}
