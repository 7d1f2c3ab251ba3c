//! Cluster networks through `bosun network` on a manager: `create --driver overlay` writes
//! the network through the managers (they allocate its VXLAN identifier and subnet), `ls`
//! shows the cluster's networks beside the agent's, `inspect` and `rm` act on a cluster
//! network when one has that name (or id), else on the agent's. On a node in no cluster,
//! everything stays with the agent (a standalone overlay, as before).

use std::path::Path;

use anyhow::bail;
use cluster_manager::Manager;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::client::NetworkInfo;
use cluster_manager::services::proto::CreateNetworkRequest;
use cluster_state::NodeRole;
use serde_json::json;

use super::create::CreateArgs;

/// The label the node daemon puts on the agent's copy of a cluster network.
pub(super) const NETWORK_ID: &str = cluster_manager::NETWORK_ID;

/// Where this node stands.
pub(super) enum Scope {
    /// In no cluster: only the agent's networks.
    Standalone,
    /// A worker: cluster networks are made and listed on managers.
    Worker,
    /// A manager, with its services API.
    Manager(Box<ServicesClient>),
}

/// This node's scope, from the cluster state under `data_root`.
pub(super) fn scope(data_root: &Path) -> anyhow::Result<Scope> {
    if !cluster_manager::cluster_dir(data_root).exists() {
        return Ok(Scope::Standalone);
    }
    let manager = Manager::open(data_root)?;
    if manager.state().role != NodeRole::Manager {
        return Ok(Scope::Worker);
    }
    Ok(Scope::Manager(Box::new(manager.services_client()?)))
}

/// The request of `create --driver overlay` for the managers; the options only an agent
/// honours are refused.
pub(super) fn request(args: &CreateArgs) -> anyhow::Result<CreateNetworkRequest> {
    if args.ipv6
        || args
            .subnets
            .iter()
            .chain(&args.gateways)
            .any(|s| s.contains(':'))
    {
        bail!("cluster overlay networks are IPv4 only");
    }
    if args.ip_range.is_some() {
        bail!("--ip-range is not supported on cluster networks");
    }
    let (mut encrypted, mut key_rotation_secs) = (false, 0);
    for opt in &args.opts {
        match opt.split_once('=') {
            None if opt == "encrypted" => encrypted = true,
            Some(("encrypted", "true")) => encrypted = true,
            Some(("encrypted", "false")) => encrypted = false,
            Some(("encrypted.rotation", secs)) => {
                key_rotation_secs = secs.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    anyhow::anyhow!(
                        "invalid encrypted.rotation {secs:?}: give the seconds between key rotations"
                    )
                })?;
            }
            _ => bail!(
                "option {opt:?} is not supported on cluster networks: the managers choose the VXLAN identifier, and each node its underlay address (options: encrypted, encrypted.rotation=SECONDS)"
            ),
        }
    }
    if key_rotation_secs > 0 && !encrypted {
        bail!("option encrypted.rotation needs --opt encrypted");
    }
    let one = |list: &[String], flag: &str| -> anyhow::Result<String> {
        match list {
            [] => Ok(String::new()),
            [one] => Ok(one.clone()),
            _ => bail!("only one {flag} is supported"),
        }
    };
    Ok(CreateNetworkRequest {
        name: args.name.clone(),
        driver: args.driver.clone(),
        subnet: one(&args.subnets, "--subnet")?,
        gateway: one(&args.gateways, "--gateway")?,
        attachable: args.attachable,
        internal: args.internal,
        labels: args.labels.clone(),
        encrypted,
        key_rotation_secs,
    })
}

/// The cluster network `name` designates among `networks` (id, name or unique id prefix).
pub(super) fn find<'a>(networks: &'a [NetworkInfo], name: &str) -> Option<&'a NetworkInfo> {
    networks
        .iter()
        .find(|n| n.record.meta.id == name || n.record.name == name)
        .or_else(|| {
            let matches: Vec<&NetworkInfo> = networks
                .iter()
                .filter(|n| !name.is_empty() && n.record.meta.id.starts_with(name))
                .collect();
            match matches.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        })
}

/// Whether a cluster network passes the `ls` filters (`name=`, `id=`, `driver=`; any other
/// filter leaves the cluster networks out).
pub(super) fn passes(n: &NetworkInfo, filters: &[String]) -> bool {
    filters.iter().all(|f| match f.split_once('=') {
        Some(("name", v)) => n.record.name.contains(v),
        Some(("id", v)) => n.record.meta.id.starts_with(v),
        Some(("driver", v)) => n.record.driver == v,
        _ => false,
    })
}

/// The driver options `inspect` shows: the VXLAN identifier, and `encrypted` as Docker shows
/// it (an empty value) on an encrypted network.
fn options(r: &cluster_state::Network) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert(
        "com.docker.network.driver.overlay.vxlanid_list".into(),
        r.vni.to_string().into(),
    );
    if r.encryption.is_some() {
        o.insert("encrypted".into(), "".into());
    }
    serde_json::Value::Object(o)
}

/// `network inspect` of a cluster network, in Docker's shape.
pub(super) fn document(n: &NetworkInfo) -> serde_json::Value {
    let r = &n.record;
    json!({
        "Name": r.name,
        "Id": r.meta.id,
        "Created": r.meta.created_at_ms,
        "Scope": "swarm",
        "Driver": r.driver,
        "Internal": r.internal,
        "Attachable": r.attachable,
        "IPAM": {
            "Driver": "default",
            "Config": [{
                "Subnet": r.subnet.clone().unwrap_or_default(),
                "Gateway": r.gateway.clone().unwrap_or_default(),
            }],
        },
        "Options": options(r),
        "Labels": r.meta.labels,
        "Services": n.services,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CreateArgs,
    }

    fn args(words: &[&str]) -> CreateArgs {
        Cli::try_parse_from(std::iter::once("create").chain(words.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn overlay_flags_become_the_managers_request() {
        let r = request(&args(&[
            "--driver",
            "overlay",
            "--subnet",
            "10.50.0.0/24",
            "--gateway",
            "10.50.0.254",
            "--attachable",
            "--internal",
            "--label",
            "a=b",
            "front",
        ]))
        .unwrap();
        assert_eq!(
            (r.name.as_str(), r.subnet.as_str(), r.gateway.as_str()),
            ("front", "10.50.0.0/24", "10.50.0.254")
        );
        assert!(r.attachable && r.internal);
        assert_eq!(r.labels, ["a=b"]);
        assert!(!r.encrypted);
        let e = request(&args(&["--driver", "overlay", "--opt", "encrypted", "x"])).unwrap();
        assert!(e.encrypted && e.key_rotation_secs == 0);
        let e = request(&args(&[
            "-d",
            "overlay",
            "-o",
            "encrypted=true",
            "-o",
            "encrypted.rotation=20",
            "x",
        ]))
        .unwrap();
        assert!(e.encrypted && e.key_rotation_secs == 20);
        for bad in [
            &["--driver", "overlay", "-o", "vni=5000", "x"][..],
            &["--driver", "overlay", "-o", "encrypted.rotation=20", "x"],
            &[
                "--driver",
                "overlay",
                "-o",
                "encrypted",
                "-o",
                "encrypted.rotation=0",
                "x",
            ],
            &["--driver", "overlay", "--ipv6", "x"],
            &[
                "--driver",
                "overlay",
                "--subnet",
                "10.1.0.0/24",
                "--subnet",
                "10.2.0.0/24",
                "x",
            ],
        ] {
            assert!(request(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
