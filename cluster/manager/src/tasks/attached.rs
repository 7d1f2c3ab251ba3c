//! This node's standalone containers on attachable overlays (`container run --network NET`
//! on the node): the managers stream them with the assignments; the overlay of each is made
//! and peered like a task's (`overlays`), and an attachment whose container is gone is
//! withdrawn from the managers, which takes its address off every other node.
//!
//! An attachment is given before its container exists (the address goes into the container's
//! create request), so one is withdrawn only once its container has been missing and the
//! attachment is older than [`GRACE_MS`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::dispatcher::networks::{NodeAttachment, NodeAttachments};
use crate::dispatcher::proto;
use crate::ManagerError;
use crate::tasks::session::{client, managers};

/// How long after it was given an attachment may go without its container.
pub(crate) const GRACE_MS: u64 = 30_000;
/// Wait before a withdrawal no manager took is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// Time allowed for one manager to answer a withdrawal.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What the node knows of its standalone containers on overlays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Attached {
    /// Nothing yet (no manager has answered since the node daemon started): overlays no task
    /// needs are left as they are.
    #[default]
    Unknown,
    /// What the managers said.
    Known(NodeAttachments),
}

impl Attached {
    /// The attachments known (none while unknown).
    pub fn list(&self) -> &[NodeAttachment] {
        match self {
            Attached::Unknown => &[],
            Attached::Known(list) => list,
        }
    }
}

/// The ids of the attachments of `attached` to withdraw at `now_ms`: those whose container is
/// not in `present` and that were given more than [`GRACE_MS`] ago.
pub fn orphans(attached: &[NodeAttachment], present: &BTreeSet<String>, now_ms: u64) -> Vec<String> {
    attached
        .iter()
        .filter(|a| !present.contains(&a.container))
        .filter(|a| now_ms.saturating_sub(a.created_ms) > GRACE_MS)
        .map(|a| a.id.clone())
        .collect()
}

/// Sends each attachment id received on `rx` to the managers' `DetachNetwork` (the leader
/// answers; every manager is tried in turn), until the channel closes. An id is sent once;
/// one no manager took is tried again.
pub(crate) async fn withdraw(data_root: PathBuf, mut rx: mpsc::UnboundedReceiver<String>) {
    let mut done: BTreeSet<String> = BTreeSet::new();
    while let Some(id) = rx.recv().await {
        if done.contains(&id) {
            continue;
        }
        loop {
            match withdraw_once(&data_root, &id).await {
                Ok(removed) => {
                    tracing::info!(attachment = %id, removed, "standalone container's attachment withdrawn");
                    done.insert(id);
                    break;
                }
                Err(err) => {
                    tracing::debug!(attachment = %id, cause = %err, "attachment not withdrawn yet");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}

/// An address the managers gave a standalone container of this node on a cluster overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenAttachment {
    /// The attachment's id.
    pub id: String,
    /// The network's record id (the label of its overlay on the agent).
    pub network_id: String,
    /// The network's name.
    pub network: String,
    /// The container's address.
    pub ip: String,
    /// The container's MAC address.
    pub mac: String,
}

/// Asks the managers (of the node whose cluster state is under `data_root`, with its own
/// certificate) to attach its container `container`, with DNS aliases `aliases`, to the
/// cluster overlay `network`. Every manager is tried in turn until the leader answers; a
/// refusal (the network is not attachable, unknown) is the error at once.
pub async fn attach_network(
    data_root: &std::path::Path,
    network: &str,
    container: &str,
    aliases: &[String],
) -> Result<GivenAttachment, ManagerError> {
    let (list, identity) = managers(data_root)?;
    let mut last = ManagerError::Remote("no manager known".to_owned());
    for addr in &list {
        let mut c = client(addr, &identity)?;
        let request = proto::AttachNetworkRequest {
            network: network.to_owned(),
            container: container.to_owned(),
            aliases: aliases.to_vec(),
        };
        match tokio::time::timeout(CALL_TIMEOUT, c.attach_network(request)).await {
            Ok(Ok(answer)) => {
                let a = answer.into_inner();
                return Ok(GivenAttachment {
                    id: a.attachment_id,
                    network_id: a.network_id,
                    network: a.network,
                    ip: a.ip,
                    mac: a.mac,
                });
            }
            Ok(Err(status))
                if matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::Aborted | tonic::Code::Unknown
                ) =>
            {
                last = ManagerError::Remote(format!("{addr}: {}", status.message()));
            }
            Ok(Err(status)) => return Err(ManagerError::Remote(status.message().to_owned())),
            Err(_) => {
                last = ManagerError::Unreachable {
                    addr: addr.clone(),
                    message: "no answer".to_owned(),
                };
            }
        }
    }
    Err(last)
}

async fn withdraw_once(data_root: &std::path::Path, id: &str) -> Result<bool, String> {
    let (list, identity) = managers(data_root).map_err(|e| e.to_string())?;
    let mut last = String::from("no manager known");
    for addr in &list {
        let mut c = client(addr, &identity).map_err(|e| e.to_string())?;
        let request = proto::DetachNetworkRequest {
            attachment_id: id.to_owned(),
        };
        match tokio::time::timeout(CALL_TIMEOUT, c.detach_network(request)).await {
            Ok(Ok(answer)) => return Ok(answer.into_inner().removed),
            Ok(Err(status)) => last = format!("{addr}: {}", status.message()),
            Err(_) => last = format!("{addr}: no answer"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::networks::TaskNetwork;
    use std::net::Ipv4Addr;

    fn attachment(id: &str, container: &str, created_ms: u64) -> NodeAttachment {
        NodeAttachment {
            id: id.into(),
            container: container.into(),
            created_ms,
            network: TaskNetwork {
                id: "n1".into(),
                name: "front".into(),
                vni: 4096,
                subnet: "10.32.0.0/20".into(),
                gateway: Ipv4Addr::new(10, 32, 0, 1),
                internal: false,
                attachable: true,
                underlay: Ipv4Addr::new(10, 213, 0, 1),
                ip: Ipv4Addr::new(10, 32, 15, 254),
                mac: "02:42:0a:20:0f:fe".into(),
                names: vec![container.into()],
                peers: Vec::new(),
                services: Vec::new(),
                bridge_mac: None,
                keys: None,
            },
        }
    }

    #[test]
    fn an_attachment_goes_once_its_container_is_missing_past_the_grace() {
        let list = [attachment("a1", "c1", 1_000), attachment("a2", "c2", 1_000)];
        let present = BTreeSet::from(["c1".to_owned()]);
        // Within the grace, a missing container may still be being created.
        assert!(orphans(&list, &present, 1_000 + GRACE_MS).is_empty());
        assert_eq!(orphans(&list, &present, 1_001 + GRACE_MS), ["a2"]);
        // A present container keeps its attachment however old.
        assert!(orphans(&list[..1], &present, u64::MAX).is_empty());
        assert!(Attached::Unknown.list().is_empty());
    }
}
