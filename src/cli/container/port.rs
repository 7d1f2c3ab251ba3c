//! `bosun container port` and `bosun container rename`.

use std::process::ExitCode;

use agent::AgentClient;
use agent::proto::PortBinding;
use anyhow::bail;
use clap::Args;

/// Arguments of `port`.
#[derive(Debug, Args)]
pub(crate) struct PortArgs {
    /// Container name or id.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Only this container port: PORT[/PROTO].
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// Arguments of `rename`.
#[derive(Debug, Args)]
pub(crate) struct RenameArgs {
    /// Container name or id.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The new name.
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

/// The host side of a binding, `0.0.0.0:8080` or, for IPv6, `[::1]:8080`.
pub(crate) fn host_side(p: &PortBinding) -> String {
    match p.host_ip.as_str() {
        "" => format!("0.0.0.0:{}", p.host_port),
        ip if ip.contains(':') => format!("[{ip}]:{}", p.host_port),
        ip => format!("{ip}:{}", p.host_port),
    }
}

/// `80/tcp -> 0.0.0.0:8080` lines (`80/tcp -> [::1]:8080` for IPv6), as docker prints them.
pub(crate) fn lines(ports: &[PortBinding], only: Option<(u32, &str)>) -> Vec<String> {
    ports
        .iter()
        .filter(|p| only.is_none_or(|(n, proto)| p.container_port == n && p.protocol == proto))
        .map(|p| format!("{}/{} -> {}", p.container_port, p.protocol, host_side(p)))
        .collect()
}

/// The PORTS column of `ls`: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, …`.
pub(crate) fn column(ports: &[PortBinding]) -> String {
    ports
        .iter()
        .map(|p| format!("{}->{}/{}", host_side(p), p.container_port, p.protocol))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `port`.
pub(crate) async fn port(client: &mut AgentClient, args: PortArgs) -> anyhow::Result<ExitCode> {
    let ports = client.port(&args.container).await?;
    let only = match &args.port {
        None => None,
        Some(text) => {
            let (n, proto) = text.split_once('/').unwrap_or((text, "tcp"));
            let Ok(n) = n.parse::<u32>() else {
                bail!("invalid port {text:?}: use PORT[/PROTO]");
            };
            Some((n, proto))
        }
    };
    let out = lines(&ports, only);
    if out.is_empty()
        && let Some(text) = &args.port
    {
        bail!("no public port {text} published for {}", args.container);
    }
    for line in out {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `rename`.
pub(crate) async fn rename(client: &mut AgentClient, args: RenameArgs) -> anyhow::Result<ExitCode> {
    client.rename(&args.container, &args.new_name).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_formats() {
        let ports = vec![
            PortBinding {
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
                ..Default::default()
            },
            PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: 5353,
                container_port: 53,
                protocol: "udp".into(),
                ..Default::default()
            },
            PortBinding {
                host_ip: "::1".into(),
                host_port: 8443,
                container_port: 443,
                protocol: "tcp".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            lines(&ports, None),
            [
                "80/tcp -> 0.0.0.0:8080",
                "53/udp -> 127.0.0.1:5353",
                "443/tcp -> [::1]:8443"
            ]
        );
        assert_eq!(
            lines(&ports, Some((53, "udp"))),
            ["53/udp -> 127.0.0.1:5353"]
        );
        assert!(lines(&ports, Some((53, "tcp"))).is_empty());
        assert_eq!(
            column(&ports),
            "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp, [::1]:8443->443/tcp"
        );
    }
}
