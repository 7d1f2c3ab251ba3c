//! The routing mesh of this node: the ports published in ingress mode, recorded in the
//! ingress overlay's configuration and programmed as a table of their own in the host's
//! network namespace (see [`crate::network::ingress`]) — the whole table for the first port,
//! then only the ports that change, and no table once none is left.

use super::{Networks, invalid};
use crate::network::Result;
use crate::network::ingress::{self, MeshPort};
use crate::network::nft;
use crate::network::record::NetworkRecord;

impl Networks {
    /// Sets the ports the routing mesh publishes through overlay `network` (the ingress
    /// network) to exactly `ports`: a connection to any local address of this node at a
    /// published port is DNATed to one of the port's backends (addresses on the overlay) at
    /// its target port and masqueraded to the overlay bridge's address. Only the ports that
    /// changed are sent to the kernel; should that be refused (the table altered behind the
    /// agent's back), the whole table is installed again. On failure the record keeps the
    /// previous set, so the caller's next call applies the change again. Returns the updated
    /// record.
    pub fn set_mesh(&self, network: &str, ports: &[MeshPort]) -> Result<NetworkRecord> {
        let _lock = self.store.lock()?;
        let mut rec = self.store.find(network)?;
        let ports = ingress::check(&rec, ports).map_err(|m| invalid(&rec.name, m))?;
        let table = ingress::table_name(&self.table);
        let bridge = rec.bridge.clone();
        let Some(config) = rec.overlay.as_mut() else {
            return Err(invalid(
                &rec.name,
                "only overlay networks carry the routing mesh",
            ));
        };
        let changes = ingress::diff(&config.mesh, &ports);
        if !changes.is_empty() {
            if ports.is_empty() {
                nft::remove_mesh(&table)?;
            } else if config.mesh.is_empty() {
                nft::install_mesh(&table, &bridge, &ports)?;
            } else {
                nft::update_mesh(&table, &changes).or_else(|err| {
                    tracing::debug!(network = %network, cause = %err, "incremental mesh update refused; installing the whole table");
                    nft::install_mesh(&table, &bridge, &ports)
                })?;
            }
        }
        config.mesh = ports;
        self.store.save(&rec)?;
        Ok(rec)
    }

    /// Installs the mesh table of `rec` again (agent start), when it publishes ports.
    pub(super) fn restore_mesh(&self, rec: &NetworkRecord) -> Result<()> {
        match rec.overlay.as_ref().map(|o| &o.mesh) {
            Some(ports) if !ports.is_empty() => {
                nft::install_mesh(&ingress::table_name(&self.table), &rec.bridge, ports)
            }
            _ => Ok(()),
        }
    }

    /// Deletes the mesh table of `rec` (the network goes), when it published ports.
    pub(super) fn remove_mesh(&self, rec: &NetworkRecord) -> Result<()> {
        match rec.overlay.as_ref().map(|o| &o.mesh) {
            Some(ports) if !ports.is_empty() => nft::remove_mesh(&ingress::table_name(&self.table)),
            _ => Ok(()),
        }
    }
}
