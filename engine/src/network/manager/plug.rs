//! Plugging an endpoint into its network: the veth pair and the container side of it.

use super::Networks;
use crate::network::link::Links;
use crate::network::netns::Netns;
use crate::network::record::{Endpoint, NetworkRecord};
use crate::network::{NetworkError, Result, sysctl};

impl Networks {
    /// Creates the endpoint's veth pair (the peer right in the container's namespace, named,
    /// with its MAC, up) and configures the container side: addresses, loopback, default
    /// routes. Few netlink exchanges: this runs on every container start.
    pub(super) fn plug(
        rec: &NetworkRecord,
        ep: &Endpoint,
        mac: [u8; 6],
        netns: &Netns,
    ) -> Result<()> {
        let mut links = Links::open()?;
        let bridge = links
            .find(&rec.bridge)?
            .ok_or_else(|| NetworkError::Netlink {
                op: format!("find bridge {} of network {}", rec.bridge, rec.name),
                source: std::io::Error::from_raw_os_error(libc::ENODEV),
            })?;
        let create = |links: &mut Links| {
            links.create_endpoint_veth(
                &ep.host_ifname,
                bridge.index,
                rec.mtu,
                &ep.ifname,
                mac,
                netns.raw_fd(),
            )
        };
        match create(&mut links) {
            Err(NetworkError::Netlink { source, .. })
                if source.raw_os_error() == Some(libc::EEXIST) =>
            {
                // A start that died between creating the pair and recording the endpoint left
                // its container end behind under the same name: reclaim it (deleting one end
                // of a veth deletes the pair).
                let stale = ep.ifname.clone();
                tracing::warn!(container = %ep.container_id, link = %stale, "replacing a link left by an unfinished start");
                netns.run(move || Links::open()?.delete(&stale))?;
                // A new socket: the failed batch may have left the answer to its second
                // request unread on the old one.
                links = Links::open()?;
                create(&mut links)?;
            }
            other => other?,
        }
        crate::failpoint!("network-plugged");
        let (prefix, gateway, internal) = (rec.subnet.prefix_len(), rec.gateway, rec.internal);
        let v6 = ep
            .ipv6
            .zip(rec.subnet_v6)
            .map(|(ip, net)| (ip, net.prefix_len()));
        let gateway_v6 = rec.gateway_v6;
        netns.run(move || {
            let mut links = Links::open()?;
            let index =
                links
                    .find(&ep.ifname)?
                    .map(|l| l.index)
                    .ok_or_else(|| NetworkError::Netlink {
                        op: format!("find link {} in the container", ep.ifname),
                        source: std::io::Error::from_raw_os_error(libc::ENODEV),
                    })?;
            if v6.is_some() {
                sysctl::set(&format!("ipv6/conf/{}/disable_ipv6", ep.ifname), "0")?;
            }
            links.configure_endpoint(index, (ep.ipv4, prefix), v6)?;
            if !internal {
                links.add_default_route(gateway.into())?;
                if let (Some(_), Some(gw)) = (v6, gateway_v6) {
                    links.add_default_route(gw.into())?;
                }
            }
            Ok(())
        })
    }
}
