//! The services' virtual addresses of an overlay on this node: recorded in the network's
//! overlay configuration (the embedded DNS answers their names from there) and programmed as
//! nftables objects in the network namespace of every container attached to the overlay here
//! — the whole table when a container joins, then only the services that change.

use super::{Networks, invalid};
use crate::network::netns::Netns;
use crate::network::nft;
use crate::network::record::{Endpoint, NetworkRecord};
use crate::network::vip::{self, VipChanges, VipService};
use crate::network::{NetworkError, Result};

/// The namespace of `ep` when it still is the one recorded at attach (its process alive).
fn namespace(ep: &Endpoint) -> Option<Netns> {
    let recorded = ep.netns.as_ref()?;
    let netns = Netns::open(&recorded.path).ok()?;
    (netns.inode().ok()? == recorded.inode).then_some(netns)
}

impl Networks {
    /// Installs the table of overlay `rec`'s virtual addresses in `netns` (a container
    /// joining it); nothing on other networks or while the overlay has none.
    pub(super) fn install_vips(rec: &NetworkRecord, netns: &Netns) -> Result<()> {
        let Some(services) = rec.overlay.as_ref().map(|o| &o.services) else {
            return Ok(());
        };
        if services.is_empty() {
            return Ok(());
        }
        let table = vip::table_name(rec);
        netns.run(|| nft::install_vips(&table, services))
    }

    /// Deletes the table of overlay `rec` from the namespace of `ep` (a running container
    /// leaving it); a namespace that is gone took its table with it.
    pub(super) fn uninstall_vips(rec: &NetworkRecord, ep: &Endpoint) {
        if rec.overlay.is_none() {
            return;
        }
        let Some(netns) = namespace(ep) else { return };
        let table = vip::table_name(rec);
        if let Err(err) = netns.run(|| nft::remove_vips(&table)) {
            tracing::debug!(network = %rec.name, container = %ep.container_id, cause = %err, "cannot delete the virtual address table");
        }
    }

    /// Sets the services' virtual addresses of overlay `network` to exactly `services`: each
    /// virtual address (in the subnet, used by no endpoint) leads to its backends by rules in
    /// the namespace of every container attached here, and its names answer it in the
    /// embedded DNS. Only the services that changed are sent to each namespace; a namespace
    /// whose table refuses the change gets the whole table again. When a namespace still
    /// fails, the record keeps the previous set (so the caller's next call applies the
    /// change again). Returns the updated record.
    pub fn set_services(&self, network: &str, services: &[VipService]) -> Result<NetworkRecord> {
        let _lock = self.store.lock()?;
        let mut rec = self.store.find(network)?;
        let services = vip::check(&rec, services).map_err(|m| invalid(&rec.name, m))?;
        let Some(config) = rec.overlay.as_mut() else {
            return Err(invalid(
                &rec.name,
                "only overlay networks have service addresses",
            ));
        };
        let changes = vip::diff(&config.services, &services);
        config.services = services;
        if !changes.is_empty() {
            program_all(&rec, &changes)?;
        }
        self.store.save(&rec)?;
        Ok(rec)
    }
}

/// Applies `changes` in the namespace of every container attached to overlay `rec`. A failed
/// update falls back to the whole table; a namespace still failing is an error (after every
/// other namespace was tried), so the caller tries again.
fn program_all(rec: &NetworkRecord, changes: &VipChanges) -> Result<()> {
    let table = vip::table_name(rec);
    let services = rec.overlay.as_ref().map_or(&[][..], |o| &o.services[..]);
    let mut failed = None;
    for ep in rec.endpoints.values() {
        let Some(netns) = namespace(ep) else {
            tracing::debug!(network = %rec.name, container = %ep.container_id, "no namespace to program (the container is gone)");
            continue;
        };
        let result = netns.run(|| {
            nft::update_vips(&table, changes).or_else(|err| {
                tracing::debug!(network = %rec.name, cause = %err, "incremental update refused; installing the whole table");
                nft::install_vips(&table, services)
            })
        });
        if let Err(err) = result {
            tracing::warn!(network = %rec.name, container = %ep.container_id, cause = %err, "cannot program the virtual addresses");
            failed = Some(err);
        }
    }
    match failed {
        None => Ok(()),
        Some(err) => Err(NetworkError::Invalid {
            network: rec.name.clone(),
            message: format!("virtual addresses not programmed in every container: {err}"),
        }),
    }
}
