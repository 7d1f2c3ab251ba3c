//! `bosun network create`.

use std::collections::HashMap;
use std::process::ExitCode;

use agent::networks::client::NetworksClient;
use agent::proto::NetworkCreateRequest;
use anyhow::bail;
use clap::Args;

/// Arguments of `create`.
#[derive(Debug, Args)]
pub(super) struct CreateArgs {
    /// Driver to manage the network: bridge, or overlay (a VXLAN segment across nodes).
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR form (once for IPv4, once more for IPv6).
    #[arg(long = "subnet", value_name = "CIDR")]
    pub subnets: Vec<String>,
    /// Gateway for the subnet (IPv4 and/or IPv6).
    #[arg(long = "gateway", value_name = "IP")]
    pub gateways: Vec<String>,
    /// Allocate container addresses from a sub-range.
    #[arg(long, value_name = "CIDR")]
    pub ip_range: Option<String>,
    /// Restrict external access to the network.
    #[arg(long)]
    pub internal: bool,
    /// Overlays: let standalone containers join.
    #[arg(long)]
    pub attachable: bool,
    /// Enable IPv6 networking.
    #[arg(long)]
    pub ipv6: bool,
    /// Set metadata on the network (key=value).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Driver options: mtu=N (also com.docker.network.driver.mtu=N); on overlays also
    /// encrypted (IPsec ESP between nodes), vni=N, vxlan.port=N and underlay=ADDR.
    #[arg(short = 'o', long = "opt", value_name = "OPT")]
    pub opts: Vec<String>,
    /// The network name.
    pub name: String,
}

/// The request for these arguments.
pub(super) fn request(args: &CreateArgs) -> anyhow::Result<NetworkCreateRequest> {
    let mut req = NetworkCreateRequest {
        name: args.name.clone(),
        driver: args.driver.clone(),
        internal: args.internal,
        attachable: args.attachable,
        enable_ipv6: args.ipv6,
        ip_range: args.ip_range.clone().unwrap_or_default(),
        ..Default::default()
    };
    for subnet in &args.subnets {
        let slot = if subnet.contains(':') {
            &mut req.subnet_v6
        } else {
            &mut req.subnet
        };
        if !slot.is_empty() {
            bail!("only one IPv4 and one IPv6 --subnet are supported");
        }
        *slot = subnet.clone();
    }
    for gateway in &args.gateways {
        let slot = if gateway.contains(':') {
            &mut req.gateway_v6
        } else {
            &mut req.gateway
        };
        if !slot.is_empty() {
            bail!("only one IPv4 and one IPv6 --gateway are supported");
        }
        *slot = gateway.clone();
    }
    let mut labels = HashMap::new();
    for label in &args.labels {
        let (k, v) = label.split_once('=').unwrap_or((label.as_str(), ""));
        labels.insert(k.to_string(), v.to_string());
    }
    req.labels = labels;
    for opt in &args.opts {
        match opt.split_once('=') {
            Some(("mtu" | "com.docker.network.driver.mtu", n)) => {
                req.mtu = n
                    .parse()
                    .map_err(|_| anyhow::anyhow!("invalid mtu {n:?}"))?;
            }
            Some((key @ ("vni" | "vxlan.port" | "underlay"), value))
                if args.driver == "overlay" =>
            {
                req.options.insert(key.to_string(), value.to_string());
            }
            _ if args.driver == "overlay" => bail!(
                "unsupported overlay option {opt:?}: use mtu=N, vni=N, vxlan.port=N or underlay=ADDR"
            ),
            _ => bail!("unsupported network option {opt:?}: only mtu=N is supported"),
        }
    }
    Ok(req)
}

/// Runs `create`: prints the new network's id.
pub(super) async fn run(client: &mut NetworksClient, args: CreateArgs) -> anyhow::Result<ExitCode> {
    let network = client.create(request(&args)?).await?;
    println!("{}", network.id);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_reach_the_request() {
        let req = request(&CreateArgs {
            driver: "overlay".into(),
            attachable: true,
            ..args(
                &["10.9.0.0/24"],
                &[],
                &[
                    "vni=4242",
                    "vxlan.port=4790",
                    "underlay=192.0.2.1",
                    "mtu=1400",
                ],
            )
        })
        .unwrap();
        assert_eq!(req.driver, "overlay");
        assert!(req.attachable);
        assert_eq!(req.mtu, 1400);
        let get = |k: &str| req.options.get(k).map(String::as_str);
        assert_eq!(
            (get("vni"), get("vxlan.port"), get("underlay")),
            (Some("4242"), Some("4790"), Some("192.0.2.1"))
        );
    }

    fn args(subnets: &[&str], gateways: &[&str], opts: &[&str]) -> CreateArgs {
        CreateArgs {
            driver: "bridge".into(),
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            gateways: gateways.iter().map(|s| s.to_string()).collect(),
            ip_range: None,
            internal: false,
            attachable: false,
            ipv6: true,
            labels: vec!["tier=db".into(), "flag".into()],
            opts: opts.iter().map(|s| s.to_string()).collect(),
            name: "n".into(),
        }
    }

    #[test]
    fn splits_families_and_reads_options() {
        let req = request(&args(
            &["10.1.0.0/24", "fd00:1::/64"],
            &["fd00:1::fe", "10.1.0.254"],
            &["com.docker.network.driver.mtu=1400"],
        ))
        .unwrap();
        assert_eq!(
            (req.subnet.as_str(), req.subnet_v6.as_str()),
            ("10.1.0.0/24", "fd00:1::/64")
        );
        assert_eq!(
            (req.gateway.as_str(), req.gateway_v6.as_str()),
            ("10.1.0.254", "fd00:1::fe")
        );
        assert_eq!(req.mtu, 1400);
        assert_eq!(req.labels.get("tier").map(String::as_str), Some("db"));
        assert_eq!(req.labels.get("flag").map(String::as_str), Some(""));
        for (a, want) in [
            (
                args(&["10.1.0.0/24", "10.2.0.0/24"], &[], &[]),
                "one IPv4 and one IPv6 --subnet",
            ),
            (
                args(&[], &[], &["parent=eth0"]),
                "unsupported network option",
            ),
            (args(&[], &[], &["mtu=big"]), "invalid mtu"),
            (args(&[], &[], &["vni=7"]), "only mtu=N"),
            (
                CreateArgs {
                    driver: "overlay".into(),
                    ..args(&[], &[], &["parent=eth0"])
                },
                "unsupported overlay option",
            ),
        ] {
            assert!(
                request(&a).unwrap_err().to_string().contains(want),
                "{want}"
            );
        }
    }
}
