//! `bosun network peers`: sets the remote endpoints of an overlay network on this node — what
//! the managers will do from the cluster store; by hand (or by a test) until then.

use std::process::ExitCode;

use agent::networks::client::NetworksClient;
use agent::proto::OverlayPeer;
use anyhow::{Context as _, bail};
use clap::Args;

/// Arguments of `peers`.
#[derive(Debug, Args)]
pub(super) struct PeersArgs {
    /// A remote endpoint, NODE=IP/MAC: the container's overlay address and MAC address, on the
    /// node with underlay address NODE (repeat, or separate with commas).
    #[arg(long = "peer", value_name = "NODE=IP/MAC", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Withdraw every peer (needed to set an empty list on purpose).
    #[arg(long, conflicts_with = "peers")]
    pub none: bool,
    /// The overlay network.
    pub network: String,
}

/// Parses `NODE=IP/MAC`.
pub(super) fn parse_peer(text: &str) -> anyhow::Result<OverlayPeer> {
    let (node, endpoint) = text
        .split_once('=')
        .with_context(|| format!("invalid peer {text:?}: use NODE=IP/MAC"))?;
    let (ip, mac) = endpoint
        .split_once('/')
        .with_context(|| format!("invalid peer {text:?}: use NODE=IP/MAC"))?;
    if [node, ip, mac].iter().any(|s| s.trim().is_empty()) {
        bail!("invalid peer {text:?}: use NODE=IP/MAC");
    }
    Ok(OverlayPeer {
        ip: ip.trim().to_string(),
        mac: mac.trim().to_string(),
        node: node.trim().to_string(),
        names: Vec::new(),
    })
}

/// Runs `peers`: sets them and prints the peers now programmed, one per line.
pub(super) async fn run(client: &mut NetworksClient, args: PeersArgs) -> anyhow::Result<ExitCode> {
    if args.peers.is_empty() && !args.none {
        bail!("give the peers with --peer NODE=IP/MAC, or --none to withdraw them all");
    }
    let peers = args
        .peers
        .iter()
        .map(|p| parse_peer(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let network = client.set_peers(&args.network, peers).await?;
    for p in network.overlay.iter().flat_map(|o| &o.peers) {
        println!("{}={}/{}", p.node, p.ip, p.mac);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_from_node_ip_mac() {
        let p = parse_peer("192.0.2.2=10.9.0.3/02:42:0a:09:00:03").unwrap();
        assert_eq!(
            (p.node.as_str(), p.ip.as_str(), p.mac.as_str()),
            ("192.0.2.2", "10.9.0.3", "02:42:0a:09:00:03")
        );
        for bad in [
            "10.9.0.3/02:42:0a:09:00:03",
            "192.0.2.2=10.9.0.3",
            "=1/2",
            "a=/m",
        ] {
            assert!(
                parse_peer(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("NODE=IP/MAC"),
                "{bad}"
            );
        }
    }
}
