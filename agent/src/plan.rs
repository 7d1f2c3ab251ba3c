//! What a container is made of beyond the plain process settings: the image's defaults
//! (command, environment, working directory, user, exposed ports, volumes) merged with the
//! request, the volume mounts it needs, its network mode and its published ports. Pure
//! functions of the request and the image; the node applies the result.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use engine::image::{ImageRecord, ImageStore};
use engine::network::{PortSpec, Protocol};
use engine::spec::{Mount, MountKind, NetworkAttachment};

use super::AgentError;
use super::proto;

/// The defaults an image's configuration gives a container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageDefaults {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Env`, `KEY=VALUE`.
    pub env: Vec<String>,
    /// `WorkingDir` (empty = none).
    pub working_dir: String,
    /// `User` (empty = root).
    pub user: String,
    /// `ExposedPorts` keys, `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// `Volumes` keys, container paths.
    pub volumes: Vec<String>,
    /// `Healthcheck` (Docker's extension of the OCI config, written by `HEALTHCHECK`).
    pub healthcheck: Option<proto::Healthcheck>,
}

impl ImageDefaults {
    /// The defaults of a stored image.
    pub fn of(store: &ImageStore, image: &ImageRecord) -> Result<Self, AgentError> {
        let config = store.config(image).map_err(engine::Error::from)?;
        let Some(c) = config.config().as_ref() else {
            return Ok(Self::default());
        };
        // The OCI types drop Docker's extensions: read the healthcheck from the raw config.
        let raw = store.blobs().read(&image.id).map_err(engine::Error::from)?;
        let healthcheck = serde_json::from_slice::<serde_json::Value>(&raw)
            .ok()
            .and_then(|doc| image_healthcheck(&doc["config"]["Healthcheck"]));
        let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
        Ok(Self {
            entrypoint: list(c.entrypoint()),
            cmd: list(c.cmd()),
            env: list(c.env()),
            working_dir: c.working_dir().clone().unwrap_or_default(),
            user: c.user().clone().unwrap_or_default(),
            exposed_ports: list(c.exposed_ports()),
            volumes: list(c.volumes()),
            healthcheck,
        })
    }
}

/// A healthcheck in Docker's image config form (`Test`, durations in nanoseconds), if any.
pub fn image_healthcheck(value: &serde_json::Value) -> Option<proto::Healthcheck> {
    let test: Vec<String> = value["Test"]
        .as_array()?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    if test.is_empty() {
        return None;
    }
    let nanos = |key: &str| value[key].as_u64().unwrap_or(0);
    Some(proto::Healthcheck {
        test,
        interval: nanos("Interval"),
        timeout: nanos("Timeout"),
        retries: u32::try_from(nanos("Retries")).unwrap_or(u32::MAX),
        start_period: nanos("StartPeriod"),
    })
}

/// The command line: `args` when given; else the entrypoint (the request's when it has one,
/// else the image's) followed by the cmd (the request's; else the image's unless the
/// entrypoint was overridden, as Docker does).
pub fn command(config: &proto::ContainerConfig, image: &ImageDefaults) -> Vec<String> {
    if !config.args.is_empty() {
        return config.args.clone();
    }
    let entrypoint = if config.has_entrypoint {
        config.entrypoint.clone()
    } else {
        image.entrypoint.clone()
    };
    let cmd = if config.has_cmd {
        config.cmd.clone()
    } else if config.has_entrypoint {
        Vec::new()
    } else {
        image.cmd.clone()
    };
    entrypoint.into_iter().chain(cmd).collect()
}

/// The image's environment with the request's entries over it (the request wins by key).
pub fn merge_env(image: &[String], request: &[String]) -> Vec<String> {
    let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
    let mut out: Vec<String> = image
        .iter()
        .filter(|e| !request.iter().any(|r| key(r) == key(e)))
        .cloned()
        .collect();
    out.extend(request.iter().cloned());
    out
}

/// The engine mount for an API mount. A volume mount without a source gets an empty name: the
/// node creates an anonymous volume for it.
pub fn mount(m: &proto::Mount) -> Result<Mount, AgentError> {
    let kind = match m.r#type.as_str() {
        "bind" | "" => {
            let source = PathBuf::from(&m.source);
            if !source.is_absolute() {
                return Err(AgentError::Invalid(format!(
                    "bind mount source {:?} must be an absolute path",
                    m.source
                )));
            }
            MountKind::Bind { source }
        }
        "tmpfs" => MountKind::Tmpfs {
            size: m.tmpfs_size,
            mode: if m.tmpfs_mode == 0 {
                0o1777
            } else {
                m.tmpfs_mode
            },
            options: Vec::new(),
        },
        "volume" => {
            if !m.source.is_empty() && !engine::volume::valid_name(&m.source) {
                return Err(AgentError::Invalid(format!(
                    "invalid volume name {:?}: use [a-zA-Z0-9][a-zA-Z0-9_.-]+",
                    m.source
                )));
            }
            MountKind::Volume {
                name: m.source.clone(),
                subpath: (!m.subpath.is_empty()).then(|| PathBuf::from(&m.subpath)),
                no_copy: m.no_copy,
            }
        }
        other => {
            return Err(AgentError::Invalid(format!(
                "unknown mount type {other:?}: use bind, volume or tmpfs"
            )));
        }
    };
    Ok(Mount {
        kind,
        target: PathBuf::from(&m.target),
        read_only: m.read_only,
    })
}

/// Anonymous volume mounts for the image's `VOLUME` paths no requested mount covers.
pub fn image_volumes(image: &ImageDefaults, mounts: &[Mount]) -> Vec<Mount> {
    let mut paths: Vec<&String> = image.volumes.iter().collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .map(PathBuf::from)
        .filter(|p| !mounts.iter().any(|m| &m.target == p))
        .map(|target| Mount {
            kind: MountKind::Volume {
                name: String::new(),
                subpath: None,
                no_copy: false,
            },
            target,
            read_only: false,
        })
        .collect()
}

/// The published ports of the request, plus (with `publish_all`) every port the image
/// exposes that is not published yet, to random host ports.
pub fn ports(
    config: &proto::ContainerConfig,
    image: &ImageDefaults,
) -> Result<Vec<PortSpec>, AgentError> {
    let mut out = Vec::new();
    for b in &config.ports {
        out.push(port(b)?);
    }
    if config.publish_all {
        for exposed in &image.exposed_ports {
            let (number, proto) = exposed.split_once('/').unwrap_or((exposed, "tcp"));
            let spec = port(&proto::PortBinding {
                container_port: number.parse().map_err(|_| {
                    AgentError::Invalid(format!("image exposes an invalid port {exposed:?}"))
                })?,
                protocol: proto.to_string(),
                ..Default::default()
            })?;
            let covered = out.iter().any(|p| {
                p.protocol == spec.protocol
                    && p.container_ports.0 <= spec.container_ports.0
                    && spec.container_ports.0 <= p.container_ports.1
            });
            if !covered {
                out.push(spec);
            }
        }
    }
    Ok(out)
}

fn port_number(value: u32, what: &str) -> Result<u16, AgentError> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| AgentError::Invalid(format!("invalid {what} {value}: use 1-65535")))
}

/// The engine form of one published port.
pub fn port(b: &proto::PortBinding) -> Result<PortSpec, AgentError> {
    let protocol = match b.protocol.as_str() {
        "" | "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => {
            return Err(AgentError::Invalid(format!(
                "invalid protocol {other:?}: use tcp or udp"
            )));
        }
    };
    // IPv6 addresses come bare (`::1`) or, as written in a port specification, in brackets.
    let bare = b
        .host_ip
        .strip_prefix('[')
        .and_then(|ip| ip.strip_suffix(']'))
        .unwrap_or(&b.host_ip);
    let host_ip = if bare.is_empty() {
        None
    } else {
        Some(bare.parse::<IpAddr>().map_err(|_| {
            AgentError::Invalid(format!("invalid host address {:?} for a port", b.host_ip))
        })?)
    };
    let first = port_number(b.container_port, "container port")?;
    let last = if b.container_port_end == 0 {
        first
    } else {
        port_number(b.container_port_end, "container port")?
    };
    let host_ports = if b.host_port == 0 {
        None
    } else {
        let h = port_number(b.host_port, "host port")?;
        let end = if b.host_port_end == 0 {
            h.saturating_add(last - first.min(last))
        } else {
            port_number(b.host_port_end, "host port")?
        };
        Some((h, end))
    };
    // A host range for one container port is the ports it may take one of (`-p 8000-8010:80`).
    let mismatched = |(a, z): (u16, u16)| z < a || (last > first && z - a != last - first);
    if last < first || host_ports.is_some_and(mismatched) {
        return Err(AgentError::Invalid(format!(
            "invalid port range {}-{} -> {}-{}",
            b.host_port, b.host_port_end, b.container_port, b.container_port_end
        )));
    }
    Ok(PortSpec {
        host_ip,
        host_ports,
        container_ports: (first, last),
        protocol,
    })
}

/// The API form of a port specification (`-p`), as [`port`] reads it back.
pub fn spec_binding(spec: &PortSpec) -> proto::PortBinding {
    let single = |(first, last): (u16, u16)| if first == last { 0 } else { last.into() };
    proto::PortBinding {
        host_ip: spec.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        host_port: spec.host_ports.map_or(0, |(first, _)| first.into()),
        host_port_end: spec.host_ports.map_or(0, single),
        container_port: spec.container_ports.0.into(),
        container_port_end: single(spec.container_ports),
        protocol: spec.protocol.to_string(),
    }
}

/// The API form of a published port as bound.
pub fn binding(m: &engine::network::PortMapping) -> proto::PortBinding {
    proto::PortBinding {
        host_ip: m.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        host_port: m.host_port.into(),
        container_port: m.container_port.into(),
        protocol: m.protocol.to_string(),
        ..Default::default()
    }
}

/// The networks a container's own namespace joins: the request's list, or the mode's network
/// (`""` and `bridge` mean the default network).
pub fn attachments(
    config: &proto::ContainerConfig,
    default_network: &str,
) -> Result<Vec<NetworkAttachment>, AgentError> {
    let mut out = Vec::new();
    for n in &config.networks {
        let ipv4 = if n.ipv4_address.is_empty() {
            None
        } else {
            Some(n.ipv4_address.parse::<Ipv4Addr>().map_err(|_| {
                AgentError::Invalid(format!(
                    "invalid IPv4 address {:?} on network {}",
                    n.ipv4_address, n.network
                ))
            })?)
        };
        if out
            .iter()
            .any(|a: &NetworkAttachment| a.network == n.network)
        {
            return Err(AgentError::Invalid(format!(
                "network {} is listed twice",
                n.network
            )));
        }
        out.push(NetworkAttachment {
            network: n.network.clone(),
            aliases: n.aliases.clone(),
            ipv4,
            mac: (!n.mac_address.is_empty()).then(|| n.mac_address.clone()),
        });
    }
    let mode_network = match config.network_mode.as_str() {
        "" | "default" => default_network,
        other => other,
    };
    if !out.iter().any(|a| a.network == mode_network) {
        if !config.networks.is_empty() && config.network_mode.is_empty() {
            return Ok(out);
        }
        out.insert(
            0,
            NetworkAttachment {
                network: mode_network.to_string(),
                aliases: Vec::new(),
                ipv4: None,
                mac: None,
            },
        );
    }
    Ok(out)
}

/// `name:ip` entries (`--add-host`) as the engine's host entries.
pub fn extra_hosts(entries: &[String]) -> Result<Vec<engine::spec::HostEntry>, AgentError> {
    entries
        .iter()
        .map(|e| {
            let (name, ip) = e.split_once(':').ok_or_else(|| {
                AgentError::Invalid(format!("invalid extra host {e:?}: use name:ip"))
            })?;
            if ip.parse::<std::net::IpAddr>().is_err() || name.is_empty() {
                return Err(AgentError::Invalid(format!(
                    "invalid extra host {e:?}: use name:ip"
                )));
            }
            Ok(engine::spec::HostEntry {
                name: name.to_string(),
                ip: ip.to_string(),
            })
        })
        .collect()
}

/// Labels as a sorted map.
pub fn labels(labels: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageDefaults {
        ImageDefaults {
            entrypoint: vec!["/entry".into()],
            cmd: vec!["serve".into(), "--fast".into()],
            env: vec!["PATH=/img".into(), "A=image".into()],
            exposed_ports: vec!["80/tcp".into(), "53/udp".into()],
            volumes: vec!["/data".into(), "/cache".into()],
            ..Default::default()
        }
    }

    #[test]
    fn the_image_healthcheck_is_read_from_docker_config_form() {
        let doc = serde_json::json!({
            "Test": ["CMD-SHELL", "test -f /ready"],
            "Interval": 1_000_000_000u64,
            "Retries": 5,
        });
        let h = image_healthcheck(&doc).expect("a healthcheck");
        assert_eq!(h.test, ["CMD-SHELL", "test -f /ready"]);
        assert_eq!((h.interval, h.timeout, h.retries), (1_000_000_000, 0, 5));
        assert_eq!(image_healthcheck(&serde_json::Value::Null), None);
        assert_eq!(image_healthcheck(&serde_json::json!({"Test": []})), None);
    }

    #[test]
    fn command_table() {
        let base = proto::ContainerConfig::default();
        let cases = [
            (base.clone(), vec!["/entry", "serve", "--fast"]),
            (
                proto::ContainerConfig {
                    cmd: vec!["sh".into()],
                    has_cmd: true,
                    ..base.clone()
                },
                vec!["/entry", "sh"],
            ),
            (
                proto::ContainerConfig {
                    entrypoint: vec!["/bin/x".into()],
                    has_entrypoint: true,
                    ..base.clone()
                },
                vec!["/bin/x"],
            ),
            (
                proto::ContainerConfig {
                    has_entrypoint: true,
                    cmd: vec!["ls".into()],
                    has_cmd: true,
                    ..base.clone()
                },
                vec!["ls"],
            ),
            (
                proto::ContainerConfig {
                    args: vec!["true".into()],
                    ..base.clone()
                },
                vec!["true"],
            ),
        ];
        for (config, want) in cases {
            assert_eq!(command(&config, &image()), want, "{config:?}");
        }
    }

    #[test]
    fn env_request_wins_by_key() {
        assert_eq!(
            merge_env(&image().env, &["A=mine".into(), "B=2".into()]),
            ["PATH=/img", "A=mine", "B=2"]
        );
    }

    #[test]
    fn image_volumes_skip_mounted_paths() {
        let mounted = vec![
            mount(&proto::Mount {
                r#type: "volume".into(),
                source: "db".into(),
                target: "/data".into(),
                ..Default::default()
            })
            .unwrap(),
        ];
        let extra = image_volumes(&image(), &mounted);
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].target, PathBuf::from("/cache"));
        assert!(matches!(&extra[0].kind, MountKind::Volume { name, .. } if name.is_empty()));
    }

    #[test]
    fn ports_and_publish_all() {
        let config = proto::ContainerConfig {
            ports: vec![proto::PortBinding {
                host_port: 8080,
                container_port: 80,
                ..Default::default()
            }],
            publish_all: true,
            ..Default::default()
        };
        let got = ports(&config, &image()).unwrap();
        assert_eq!(got.len(), 2, "80/tcp is published once: {got:?}");
        assert_eq!(got[0].host_ports, Some((8080, 8080)));
        assert_eq!(
            (got[1].container_ports, got[1].protocol),
            ((53, 53), Protocol::Udp)
        );
        assert_eq!(got[1].host_ports, None);
        let range = port(&proto::PortBinding {
            host_port: 9000,
            container_port: 80,
            container_port_end: 81,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(range.host_ports, Some((9000, 9001)));
        for bad in [
            proto::PortBinding {
                container_port: 0,
                ..Default::default()
            },
            proto::PortBinding {
                container_port: 80,
                protocol: "sctp".into(),
                ..Default::default()
            },
            proto::PortBinding {
                host_port: 9000,
                host_port_end: 9005,
                container_port: 80,
                container_port_end: 81,
                ..Default::default()
            },
        ] {
            assert!(port(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_host_range_for_one_container_port_is_a_choice() {
        let spec = port(&proto::PortBinding {
            host_port: 6005,
            host_port_end: 6015,
            container_port: 80,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(spec.host_ports, Some((6005, 6015)));
        assert_eq!(spec.container_ports, (80, 80));
    }

    #[test]
    fn port_specifications_travel_with_ipv6_host_addresses() {
        for text in [
            "80",
            "8080:80/udp",
            "127.0.0.1::80",
            "[::1]:8080:80",
            "[2001:db8::1]:8080:80/udp",
            "[::]:9000-9001:80-81",
        ] {
            let spec: PortSpec = text.parse().unwrap();
            assert_eq!(port(&spec_binding(&spec)).unwrap(), spec, "{text}");
        }
        let bracketed = port(&proto::PortBinding {
            host_ip: "[::1]".into(),
            container_port: 80,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(bracketed.host_ip, Some("::1".parse().unwrap()));
        for bad in ["[::1", "zz::1", "::1]"] {
            let err = port(&proto::PortBinding {
                host_ip: bad.into(),
                container_port: 80,
                ..Default::default()
            })
            .unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn attachments_table() {
        let att = |mode: &str, nets: &[&str]| {
            let config = proto::ContainerConfig {
                network_mode: mode.into(),
                networks: nets
                    .iter()
                    .map(|n| proto::NetworkAttachment {
                        network: n.to_string(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            attachments(&config, "bridge")
                .unwrap()
                .into_iter()
                .map(|a| a.network)
                .collect::<Vec<_>>()
        };
        assert_eq!(att("", &[]), ["bridge"]);
        assert_eq!(att("bridge", &[]), ["bridge"]);
        assert_eq!(att("app", &[]), ["app"]);
        assert_eq!(att("", &["front", "back"]), ["front", "back"]);
        assert_eq!(att("back", &["front", "back"]), ["front", "back"]);
        assert_eq!(att("db", &["front"]), ["db", "front"]);
    }

    #[test]
    fn extra_hosts_parse() {
        let hosts = extra_hosts(&["db:10.0.0.5".into(), "v6:::1".into()]).unwrap();
        assert_eq!(
            (hosts[0].name.as_str(), hosts[0].ip.as_str()),
            ("db", "10.0.0.5")
        );
        assert_eq!(hosts[1].ip, "::1");
        assert!(extra_hosts(&["nocolon".into()]).is_err());
        assert!(extra_hosts(&["db:notanip".into()]).is_err());
    }
}
