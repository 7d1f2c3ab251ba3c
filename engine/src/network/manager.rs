//! The network API of a node: create and remove networks, attach and detach containers. Each
//! operation updates the records under the store lock, then brings the kernel in line (bridge,
//! veth, the `bosun` nftables table), undoing its own partial work when a step fails.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};

use ipnet::{Ipv4Net, Ipv6Net};

use super::ipam::{self, Ipam};
use super::ipam6::{self, Ipam6};
use super::link::Links;
use super::netns::Netns;
use super::ports::{self, PortSpec};
use super::proxy::PortProxy;
use super::record::{self, Endpoint, NetworkRecord};
use super::store::Store;
use super::{NetworkError, Result, sysctl};
use crate::events::{Action, Event, EventLog, Kind as EventKind};
use addresses::addresses;
pub use overlay::OverlayRequest;

mod addresses;
mod encryption;
mod ingress;
mod overlay;
mod plug;
mod proxied;
mod rules;
mod sealed;
mod vip;

/// What `network create` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateNetwork {
    /// The network name.
    pub name: String,
    /// No outbound traffic.
    pub internal: bool,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// The subnet (chosen from the pools when `None`).
    pub subnet: Option<Ipv4Net>,
    /// The gateway (the subnet's first host address when `None`).
    pub gateway: Option<Ipv4Addr>,
    /// Where dynamic addresses come from.
    pub ip_range: Option<Ipv4Net>,
    /// Give the network IPv6 too.
    pub enable_ipv6: bool,
    /// The IPv6 subnet (a unique local /64 when `None` and IPv6 is enabled).
    pub subnet_v6: Option<Ipv6Net>,
    /// The IPv6 gateway (the subnet's first host address when `None`).
    pub gateway_v6: Option<Ipv6Addr>,
    /// MTU (1500 when `None`; on an overlay, its underlay's less the VXLAN overhead).
    pub mtu: Option<u32>,
    /// Make an overlay network (driver `overlay`) rather than a bridge network.
    pub overlay: Option<OverlayRequest>,
}

/// What attaching one container to one network asks for.
#[derive(Debug)]
pub struct AttachRequest<'a> {
    /// The container id.
    pub container_id: String,
    /// The container name (answered by DNS).
    pub container_name: String,
    /// Extra DNS names on this network.
    pub aliases: Vec<String>,
    /// A static address (`--ip`), or `None` for the next free one.
    pub ipv4: Option<Ipv4Addr>,
    /// A MAC address `aa:bb:cc:dd:ee:ff`, or `None` to derive it from the address.
    pub mac: Option<String>,
    /// Ports published to this endpoint's address.
    pub ports: Vec<PortSpec>,
    /// The container's network namespace.
    pub netns: &'a Netns,
    /// The container is the task of a cluster service (see
    /// [`crate::spec::NetworkAttachment::service_task`]).
    pub service_task: bool,
}

/// The networks of one node, over `<data_root>/networks`. Kernel objects are made in the
/// network namespace of the calling thread.
#[derive(Debug, Clone)]
pub struct Networks {
    store: Store,
    table: String,
    /// Who serves the ports DNAT cannot (shared by every clone; none in the engine alone).
    proxy: Arc<Mutex<Option<Arc<dyn PortProxy>>>>,
    /// The keys of encrypted overlays, in memory only.
    keys: encryption::KeyRing,
    /// The running data paths of the overlays sealed in user space.
    tunnels: sealed::Tunnels,
    /// The node's event log (creations, removals, connections).
    events: EventLog,
}

fn invalid(network: &str, message: impl Into<String>) -> NetworkError {
    NetworkError::Invalid {
        network: network.to_string(),
        message: message.into(),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Networks {
    /// The networks recorded under `data_root`.
    pub fn new(data_root: &Path) -> Result<Self> {
        Ok(Self {
            store: Store::open(data_root)?,
            table: super::table_name(data_root),
            proxy: Arc::new(Mutex::new(None)),
            keys: encryption::KeyRing::default(),
            tunnels: sealed::Tunnels::default(),
            events: EventLog::new(data_root),
        })
    }

    /// Records what happened to network `rec` (to `container`, when given) in the node's
    /// event log, with Docker's attributes.
    fn event(&self, rec: &NetworkRecord, action: Action, container: Option<&str>) {
        let mut event = Event::of(EventKind::Network, &rec.id, action)
            .with("name", &rec.name)
            .with("type", &rec.driver);
        if let Some(container) = container {
            event = event.with("container", container);
        }
        self.events.emit_or_warn(&event);
    }

    /// Every network, oldest first.
    pub fn list(&self) -> Result<Vec<NetworkRecord>> {
        self.store.list()
    }

    /// The network with this name, id or unique id prefix.
    pub fn inspect(&self, key: &str) -> Result<NetworkRecord> {
        self.store.find(key)
    }

    /// The nftables table holding these networks' rules.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates a network: record, bridge with the gateway address (and, for an overlay, its VXLAN
    /// device enslaved to the bridge), firewall rules.
    pub fn create(&self, req: &CreateNetwork) -> Result<NetworkRecord> {
        let _lock = self.store.lock()?;
        let existing = self.store.list()?;
        if req.name.is_empty() {
            return Err(invalid("\"\"", "a network needs a name"));
        }
        if existing.iter().any(|r| r.name == req.name) {
            return Err(NetworkError::AlreadyExists(req.name.clone()));
        }
        if req.overlay.is_some() && req.enable_ipv6 {
            return Err(invalid(&req.name, "overlay networks are IPv4 only for now"));
        }
        let subnet = match req.subnet {
            Some(s) => {
                if let Some(other) = existing.iter().find(|r| ipam::overlaps(&r.subnet, &s)) {
                    return Err(invalid(
                        &req.name,
                        format!(
                            "subnet {s} overlaps network {} ({})",
                            other.name, other.subnet
                        ),
                    ));
                }
                s
            }
            None => {
                let mut taken = Links::open()?.routed_subnets()?;
                taken.extend(existing.iter().map(|r| r.subnet));
                taken.extend(ipam::reserved());
                ipam::pick_subnet(&ipam::default_pools(), &taken).ok_or_else(|| {
                    NetworkError::Exhausted(format!(
                        "network {}: every automatic subnet is in use",
                        req.name
                    ))
                })?
            }
        };
        let plan =
            Ipam::new(subnet, req.gateway, req.ip_range).map_err(|m| invalid(&req.name, m))?;
        let id = loop {
            let id = record::random_hex(32).map_err(super::io_err("read", "/dev/urandom"))?;
            if !existing
                .iter()
                .any(|r| r.bridge == record::bridge_name(&id))
            {
                break id;
            }
        };
        let v6 = if req.enable_ipv6 {
            let subnet = match req.subnet_v6 {
                Some(s) => s,
                None => ipam6::ula_subnet(&id).ok_or_else(|| {
                    invalid(
                        &req.name,
                        "cannot derive an IPv6 subnet from the network id",
                    )
                })?,
            };
            if let Some(other) = existing
                .iter()
                .find(|r| r.subnet_v6.is_some_and(|o| ipam6::overlaps(&o, &subnet)))
            {
                return Err(invalid(
                    &req.name,
                    format!("IPv6 subnet {subnet} overlaps network {}", other.name),
                ));
            }
            Some(Ipam6::new(subnet, req.gateway_v6).map_err(|m| invalid(&req.name, m))?)
        } else {
            None
        };
        let bridge = record::bridge_name(&id);
        let (overlay, mtu) = match &req.overlay {
            Some(o) => {
                let (config, mtu) = overlay::plan(&req.name, &bridge, o, req.mtu)?;
                if let Some(other) = sealed::port_taken(&existing, &config) {
                    return Err(invalid(
                        &req.name,
                        format!(
                            "its encrypted traffic would use udp port {}, as network {other} does: give it another vni",
                            super::sealed::sealed_port(config.vni)
                        ),
                    ));
                }
                if let Some(other) = existing.iter().find(|r| {
                    r.overlay
                        .as_ref()
                        .is_some_and(|c| (c.vni, c.port) == (config.vni, config.port))
                }) {
                    return Err(invalid(
                        &req.name,
                        format!(
                            "vni {} on port {} is taken by network {}",
                            config.vni, config.port, other.name
                        ),
                    ));
                }
                (Some(config), mtu)
            }
            None => (None, req.mtu.unwrap_or(1500)),
        };
        let rec = NetworkRecord {
            bridge,
            id,
            name: req.name.clone(),
            driver: if overlay.is_some() {
                "overlay"
            } else {
                "bridge"
            }
            .into(),
            internal: req.internal,
            labels: req.labels.clone(),
            subnet: plan.subnet,
            gateway: plan.gateway,
            ip_range: plan.ip_range,
            subnet_v6: v6.map(|p| p.subnet),
            gateway_v6: v6.map(|p| p.gateway),
            mtu,
            created: now(),
            endpoints: BTreeMap::new(),
            overlay,
        };
        let mut all = existing;
        all.push(rec.clone());
        // The record first: should the process die before the bridge is made, the next agent's
        // restore makes it from the record; the other way round it would leave a bridge nobody
        // knows of.
        let result = self
            .store
            .save(&rec)
            .and_then(|()| Self::make_bridge(&rec))
            .and_then(|()| self.start_sealed(&rec))
            .and_then(|()| self.sync_firewall(&all));
        if let Err(e) = result {
            let _ = self.stop_sealed(&rec);
            let _ = Self::delete_links(&rec);
            let _ = self.store.delete(&rec.id);
            all.pop();
            let _ = self.sync_firewall(&all);
            return Err(e);
        }
        self.event(&rec, Action::Create, None);
        Ok(rec)
    }

    fn make_bridge(rec: &NetworkRecord) -> Result<()> {
        let mut links = Links::open()?;
        let index = match links.find(&rec.bridge)? {
            Some(link) => {
                // A bridge made before its address was fixed: pin the address it has now, so
                // that it stops following its ports without changing under running containers.
                if link.mac.len() == 6 {
                    links.set_mac(link.index, &link.mac)?;
                }
                link.index
            }
            None => {
                let mac = rec
                    .overlay
                    .as_ref()
                    .and_then(|o| o.bridge_mac.as_deref())
                    .and_then(record::parse_mac)
                    .unwrap_or_else(|| record::bridge_mac(&rec.id));
                let index = links.create_bridge_with_mac(&rec.bridge, rec.mtu, mac)?;
                links.add_address(index, rec.gateway, rec.subnet.prefix_len())?;
                if let (Some(subnet), Some(gateway)) = (rec.subnet_v6, rec.gateway_v6) {
                    sysctl::set(&format!("ipv6/conf/{}/disable_ipv6", rec.bridge), "0")
                        .map_err(|_| invalid(&rec.name, "IPv6 is disabled on this host"))?;
                    links.add_address_v6(index, gateway, subnet.prefix_len())?;
                }
                index
            }
        };
        links.up(index)?;
        Self::make_vxlan(rec, &mut links, index)?;
        if !rec.internal {
            sysctl::set("ipv4/ip_forward", "1")?;
        }
        sysctl::set(&format!("ipv4/conf/{}/route_localnet", rec.bridge), "1")
    }

    /// Removes a network without endpoints, its bridge and its rules.
    pub fn remove(&self, key: &str) -> Result<()> {
        let _lock = self.store.lock()?;
        let rec = self.store.find(key)?;
        if !rec.endpoints.is_empty() {
            return Err(NetworkError::InUse {
                name: rec.name.clone(),
                containers: rec.endpoints.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        self.remove_mesh(&rec)?;
        let mut rec = rec;
        self.clear_esp(&mut rec)?;
        self.stop_sealed(&rec)?;
        Self::delete_links(&rec)?;
        self.store.delete(&rec.id)?;
        self.event(&rec, Action::Destroy, None);
        self.sync_firewall(&self.store.list()?)
    }

    /// Deletes the links of a network: its VXLAN device (with every forwarding and neighbour
    /// entry on it) or TAP device, then its bridge.
    fn delete_links(rec: &NetworkRecord) -> Result<()> {
        let mut links = Links::open()?;
        if let Some(config) = &rec.overlay {
            links.delete(&config.vxlan)?;
            links.delete(&super::sealed::tap_name(&rec.bridge))?;
        }
        links.delete(&rec.bridge)
    }

    /// Rebuilds the kernel side from the records (after an agent restart): bridges that are
    /// missing, and the firewall. Running containers' veths are left alone.
    pub fn restore(&self) -> Result<()> {
        let _lock = self.store.lock()?;
        let all = self.store.list()?;
        for rec in &all {
            Self::make_bridge(rec)?;
            // A sealed overlay that cannot start carries nothing (nothing in clear either);
            // the node's other networks are still restored.
            if let Err(e) = self.start_sealed(rec) {
                tracing::warn!(network = %rec.name, cause = %e, "cannot restart the encrypted overlay's data path");
            }
        }
        self.sync_firewall(&all)?;
        for rec in &all {
            self.restore_mesh(rec)?;
        }
        self.serve_proxied(&all)
    }

    /// Attaches a container: veth pair, address, MAC, MTU, default route (non-internal
    /// networks, when the container has none yet), published ports. Returns the endpoint.
    pub fn attach(&self, network: &str, req: &AttachRequest<'_>) -> Result<Endpoint> {
        self.attach_with_v6(network, req, None)
    }

    /// [`Networks::attach`] with a static IPv6 address (`None`: the next free one, on networks
    /// with IPv6).
    pub fn attach_with_v6(
        &self,
        network: &str,
        req: &AttachRequest<'_>,
        static_v6: Option<Ipv6Addr>,
    ) -> Result<Endpoint> {
        self.attach_named(network, req, static_v6, None)
    }

    /// [`Networks::attach_with_v6`] with the interface's name inside the container (`None`:
    /// the next free `ethN`); a name the container already uses is refused.
    pub fn attach_named(
        &self,
        network: &str,
        req: &AttachRequest<'_>,
        static_v6: Option<Ipv6Addr>,
        ifname: Option<&str>,
    ) -> Result<Endpoint> {
        let _lock = self.store.lock()?;
        let all = self.store.list()?;
        let mut rec = self.store.find(network)?;
        if !req.service_task && rec.overlay.as_ref().is_some_and(|o| !o.attachable) {
            return Err(invalid(
                &rec.name,
                "the overlay is not attachable: only networks created with --attachable take standalone containers",
            ));
        }
        if rec.endpoints.contains_key(&req.container_id) {
            return Err(NetworkError::AlreadyAttached {
                container: req.container_id.clone(),
                network: rec.name.clone(),
            });
        }
        let (ipv4, ipv6) = addresses(&rec, req.ipv4, static_v6)?;
        let mac = req.mac.clone().unwrap_or_else(|| record::mac_for(ipv4));
        let mac_bytes = record::parse_mac(&mac)
            .ok_or_else(|| invalid(&rec.name, format!("invalid mac address {mac:?}")))?;
        let taken: Vec<_> = all
            .iter()
            .flat_map(|r| r.endpoints.values())
            .flat_map(|e| e.ports.iter().copied())
            .collect();
        let ports = ports::resolve(
            &req.ports,
            &taken,
            ipv6.is_some(),
            &mut ports::host_port_free,
        )?;
        let in_use: Vec<&str> = all
            .iter()
            .filter_map(|r| r.endpoints.get(&req.container_id))
            .map(|e| e.ifname.as_str())
            .collect();
        let ifname = match ifname {
            Some(name) if in_use.contains(&name) => {
                return Err(invalid(
                    &rec.name,
                    format!("interface name {name} is already used in the container"),
                ));
            }
            Some(name) => name.to_string(),
            None => (0..)
                .map(|n| format!("eth{n}"))
                .find(|n| !in_use.contains(&n.as_str()))
                .expect("an unbounded range always has a free name"),
        };
        let tag = record::random_hex(6).map_err(super::io_err("read", "/dev/urandom"))?;
        let ep = Endpoint {
            container_id: req.container_id.clone(),
            container_name: req.container_name.clone(),
            aliases: req.aliases.clone(),
            ipv4,
            ipv6,
            mac,
            ifname,
            host_ifname: format!("{}{tag}", super::VETH_PREFIX),
            ports,
            // Overlays program their virtual addresses in the namespace later on.
            netns: match rec.overlay {
                Some(_) => Some(record::NamespaceRef {
                    path: req.netns.path().to_path_buf(),
                    inode: req.netns.inode()?,
                }),
                None => None,
            },
        };
        rec.endpoints.insert(ep.container_id.clone(), ep.clone());
        let mut updated: Vec<NetworkRecord> = all.into_iter().filter(|r| r.id != rec.id).collect();
        updated.push(rec.clone());
        // The endpoint's own rules only; should the tables have been changed behind our back,
        // they are rebuilt whole from the records.
        let result = Self::plug(&rec, &ep, mac_bytes, req.netns)
            .and_then(|()| Self::install_vips(&rec, req.netns))
            .and_then(|()| self.store.save(&rec))
            .and_then(|()| {
                self.add_endpoint_rules(&ep).or_else(|err| {
                    tracing::warn!(network = %rec.name, cause = %err, "cannot add the endpoint's rules; rebuilding the tables");
                    self.sync_firewall(&updated)
                })
            })
            .and_then(|()| self.serve_proxied(&updated));
        if let Err(e) = result {
            let _ = Links::open().and_then(|mut l| l.delete(&ep.host_ifname));
            rec.endpoints.remove(&ep.container_id);
            let _ = self.store.save(&rec);
            let left = self.store.list().unwrap_or_default();
            let _ = self.sync_firewall(&left);
            let _ = self.serve_proxied(&left);
            return Err(e);
        }
        self.event(&rec, Action::Connect, Some(&ep.container_id));
        Ok(ep)
    }

    /// Detaches a container from a network: its veth and its rules go.
    pub fn detach(&self, network: &str, container_id: &str) -> Result<()> {
        let _lock = self.store.lock()?;
        let mut rec = self.store.find(network)?;
        let Some(ep) = rec.endpoints.remove(container_id) else {
            return Err(NetworkError::NotAttached {
                container: container_id.to_string(),
                network: rec.name.clone(),
            });
        };
        Links::open()?.delete(&ep.host_ifname)?;
        Self::uninstall_vips(&rec, &ep);
        self.store.save(&rec)?;
        self.event(&rec, Action::Disconnect, Some(container_id));
        self.delete_endpoint_rules(&ep).or_else(|err| {
            tracing::warn!(network = %rec.name, cause = %err, "cannot delete the endpoint's rules; rebuilding the tables");
            self.sync_firewall(&self.store.list()?)
        })?;
        if !ep.ports.is_empty()
            && let Err(err) = self.serve_proxied(&self.store.list()?)
        {
            tracing::warn!(network = %rec.name, cause = %err, "cannot update the published ports served in user space");
        }
        Ok(())
    }

    testing_pub! {
        /// Detaches a container from every network (when it is removed or has exited).
        fn detach_all(&self, container_id: &str) -> Result<()> {
            let attached: Vec<String> = self
                .list()?
                .into_iter()
                .filter(|r| r.endpoints.contains_key(container_id))
                .map(|r| r.id)
                .collect();
            for id in attached {
                self.detach(&id, container_id)?;
            }
            Ok(())
        }
    }
}
