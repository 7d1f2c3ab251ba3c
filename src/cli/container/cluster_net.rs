//! `container run --network NET` (and `create`) where NET is a cluster overlay: on a node of
//! a cluster, a network the agent does not have as its own is asked of the managers, which
//! give the container an address on it (refused, in Docker's words, unless the network was
//! created with `--attachable`); the node daemon then makes the overlay on this node and
//! peers it, and the container is created with that address and its MAC. Its name is its DNS
//! name on the network for the other nodes, so a container without `--name` gets one here.
//! The node daemon withdraws the attachment once the container is gone.

use std::path::Path;
use std::time::{Duration, Instant};

use agent::networks::client::NetworksClient;
use anyhow::{Context, bail};
use api::agent::{CreateRequest, NetworkAttachment};

/// How long the node daemon may take to make the overlay on this node.
const OVERLAY_WAIT: Duration = Duration::from_secs(60);
/// How often the agent is asked whether it has the overlay yet.
const POLL: Duration = Duration::from_millis(50);

/// Network modes that are not a network's name.
fn names_a_network(mode: &str) -> bool {
    !matches!(mode, "" | "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// The cluster network id label of the agent's network `name`: `Ok(None)` when the agent has
/// it as its own, `Err` when it has no such network.
async fn cluster_label(
    networks: &mut NetworksClient,
    name: &str,
) -> Result<Option<String>, api::ClientError> {
    let network = networks.inspect(name).await?;
    Ok(network.labels.get(cluster_manager::NETWORK_ID).cloned())
}

/// Joins the container of `request` to the cluster overlay it names, when it names one: the
/// managers give its address and MAC, put into the request, and the call returns once the
/// node has the overlay. Anything else (no cluster, a network of the agent's own) is left to
/// the agent.
pub(super) async fn join(
    data_root: &Path,
    host: Option<&str>,
    request: &mut CreateRequest,
) -> anyhow::Result<()> {
    let Some(config) = request.config.as_mut() else {
        return Ok(());
    };
    let mode = config.network_mode.clone();
    if !names_a_network(&mode) || !cluster_manager::cluster_dir(data_root).exists() {
        return Ok(());
    }
    let mut networks = super::connect::connect_with(host, NetworksClient::connect).await?;
    match cluster_label(&mut networks, &mode).await {
        // The agent's own network.
        Ok(None) => return Ok(()),
        Ok(Some(_)) => {}
        Err(err) if err.code() == Some(tonic::Code::NotFound) => {}
        Err(err) => return Err(err.into()),
    }
    let position = config.networks.iter().position(|n| n.network == mode);
    if let Some(n) = position.map(|i| &config.networks[i])
        && (!n.ipv4_address.is_empty() || !n.mac_address.is_empty())
    {
        bail!(
            "--ip and --mac-address are not supported on cluster network {mode}: the managers give the address"
        );
    }
    if request.name.is_empty() {
        request.name = agent::names::generate_name(|_| false);
    }
    let aliases = position
        .map(|i| config.networks[i].aliases.clone())
        .unwrap_or_default();
    let given = cluster_manager::attach_network(data_root, &mode, &request.name, &aliases)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let attachment = NetworkAttachment {
        network: mode.clone(),
        aliases,
        ipv4_address: given.ip.clone(),
        mac_address: given.mac.clone(),
        ..Default::default()
    };
    match position {
        Some(i) => config.networks[i] = attachment,
        None => config.networks.push(attachment),
    }
    // The node daemon makes the overlay once the attachment reaches it.
    let deadline = Instant::now() + OVERLAY_WAIT;
    loop {
        match cluster_label(&mut networks, &mode).await {
            Ok(Some(id)) if id == given.network_id => return Ok(()),
            Ok(_) => {}
            Err(err) if err.code() == Some(tonic::Code::NotFound) => {}
            Err(err) => {
                return Err(err).with_context(|| format!("cannot look for network {mode}"));
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "network {mode} was not made on this node within {}s: is the node daemon running?",
                OVERLAY_WAIT.as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_are_asked_of_the_managers() {
        for mode in ["", "default", "bridge", "host", "none", "container:web"] {
            assert!(!names_a_network(mode), "{mode}");
        }
        assert!(names_a_network("front"));
    }
}
