//! A container's networks: joined after its namespace exists and before its entrypoint is
//! released, left when it exits, stops or is removed. Its /etc/hosts then lists its own
//! addresses, and on a user-defined network its resolv.conf points at the network's DNS server
//! (the gateway address), unless the spec names servers.

use std::io::Write;
use std::path::Path;

use super::{Runtime, etc_files};
use crate::atomic::{Durability, write_private};
use crate::network::{AttachRequest, Endpoint, Netns, NetworkError, mode};
use crate::spec::{ContainerSpec, DnsConfig, NetworkAttachment, NetworkNamespace};

/// The default network, whose containers use the host's resolvers.
pub const DEFAULT_NETWORK: &str = "bridge";

impl Runtime {
    /// Connects the namespace of the container (init `pid`) to its networks; returns the
    /// endpoints. Stale endpoints of an earlier run are dropped first. On failure nothing of
    /// this call stays attached.
    pub(super) fn connect(
        &self,
        id: &str,
        spec: &ContainerSpec,
        pid: i32,
    ) -> crate::Result<Vec<Endpoint>> {
        if spec.network.namespace != NetworkNamespace::Own {
            return Ok(Vec::new());
        }
        let netns = Netns::of_pid(pid)?;
        mode::loopback_up(&netns)?;
        self.release_network(id)?;
        let mut endpoints = Vec::new();
        let mut first_gateway = None;
        for (n, a) in spec.network.attachments.iter().enumerate() {
            let req = AttachRequest {
                container_id: id.to_string(),
                container_name: spec.network.name.clone(),
                aliases: a.aliases.clone(),
                ipv4: a.ipv4,
                mac: a.mac.clone(),
                ports: if n == 0 {
                    spec.network.ports.clone()
                } else {
                    Vec::new()
                },
                netns: &netns,
                service_task: a.service_task,
            };
            let attached = self
                .networks
                .attach_named(&a.network, &req, None, a.interface_name.as_deref())
                .and_then(|ep| {
                    let rec = self.networks.inspect(&a.network)?;
                    Ok((ep, rec))
                });
            match attached {
                Ok((ep, rec)) => {
                    if n == 0 && rec.name != DEFAULT_NETWORK {
                        first_gateway = Some(rec.gateway);
                    }
                    endpoints.push(ep);
                }
                Err(err) => {
                    let _ = self.release_network(id);
                    return Err(err.into());
                }
            }
        }
        let dir = self.container_dir(id);
        let hostname = etc_files::hostname(id, spec);
        let mut hosts = etc_files::hosts(&spec.extra_hosts);
        for ep in &endpoints {
            hosts.push_str(&format!("{}\t{hostname}\n", ep.ipv4));
        }
        rewrite(&dir.join("hosts"), &hosts)?;
        if let Some(gateway) = first_gateway.filter(|_| spec.dns.servers.is_empty()) {
            let dns = DnsConfig {
                servers: vec![gateway.to_string()],
                ..spec.dns.clone()
            };
            let host = std::fs::read_to_string(etc_files::HOST_RESOLV_CONF).unwrap_or_default();
            rewrite(
                &dir.join("resolv.conf"),
                &etc_files::resolv_conf(&host, &dns),
            )?;
        }
        Ok(endpoints)
    }

    /// Detaches the container from every network (its addresses and published ports are
    /// freed). Nothing attached is not an error.
    pub fn release_network(&self, id: &str) -> crate::Result<()> {
        match self.networks.detach_all(id) {
            Ok(()) => Ok(()),
            Err(NetworkError::NotAttached { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Records in the container's spec that it joins network `network` with `attachment` at
    /// its next starts (`None`: that it no longer does), so that `network connect` and
    /// `disconnect` of a running container outlive its restart, as with Docker. Only for a
    /// container with a namespace of its own.
    pub fn record_attachment(
        &self,
        id: &str,
        network: &str,
        attachment: Option<NetworkAttachment>,
    ) -> crate::Result<()> {
        let mut spec = self.spec(id)?;
        if spec.network.namespace != NetworkNamespace::Own {
            return Ok(());
        }
        let target = self.networks.inspect(network)?.id;
        let networks = &self.networks;
        spec.network.attachments.retain(|a| {
            networks
                .inspect(&a.network)
                .map_or(a.network != network, |rec| rec.id != target)
        });
        spec.network.attachments.extend(attachment);
        let text = serde_json::to_vec_pretty(&spec).map_err(|e| crate::Error::Io {
            op: "encode",
            path: self.container_dir(id).join("config.json"),
            source: std::io::Error::other(e),
        })?;
        write_private(
            &self.container_dir(id).join("config.json"),
            &text,
            Durability::Durable,
        )
    }

    /// The container's current endpoints, with their network's name.
    pub fn endpoints(&self, id: &str) -> crate::Result<Vec<(String, Endpoint)>> {
        Ok(self
            .networks
            .list()?
            .into_iter()
            .filter_map(|rec| {
                let ep = rec.endpoints.get(id).cloned()?;
                Some((rec.name, ep))
            })
            .collect())
    }
}

/// Replaces the content of a file in place: it is bind-mounted into the container, so a new
/// inode (an atomic rename) would not be seen there. Not flushed: the file is derived from the
/// endpoints and written again before every start.
fn rewrite(path: &Path, content: &str) -> crate::Result<()> {
    let io = |source| crate::Error::Io {
        op: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io)?;
    file.write_all(content.as_bytes()).map_err(io)
}
