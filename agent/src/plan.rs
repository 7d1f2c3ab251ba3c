//! What a container is made of beyond the plain process settings: the image's defaults
//! (command, environment, working directory, user, exposed ports, volumes) merged with the
//! request, the anonymous volumes it needs, its networks and its published ports. Pure
//! functions of the (decoded) request and the image; the node applies the result.

use std::path::PathBuf;
use std::time::Duration;

use engine::health::{HealthConfig, HealthTest};
use engine::image::{ImageRecord, ImageStore};
use engine::network::{PortSpec, Protocol};
use engine::spec::{Mount, MountKind, NetworkAttachment};

use super::AgentError;
use super::request::{Command, NetworkMode};

/// The defaults an image's configuration gives a container.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ImageDefaults {
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
    pub healthcheck: Option<DockerHealthcheck>,
}

impl ImageDefaults {
    /// The defaults of a stored image.
    pub(crate) fn of(store: &ImageStore, image: &ImageRecord) -> Result<Self, AgentError> {
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

/// A healthcheck in Docker's form, as an image config or a request gives it: zero durations
/// and retries stand for the defaults, and the test is not checked yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DockerHealthcheck {
    /// `["CMD", arg...]`, `["CMD-SHELL", line]` or `["NONE"]`.
    pub test: Vec<String>,
    /// Time between probes (zero = the default).
    pub interval: Duration,
    /// Probe timeout (zero = the default).
    pub timeout: Duration,
    /// Consecutive failures before unhealthy (zero = the default).
    pub retries: u32,
    /// Grace period after start (zero = the default).
    pub start_period: Duration,
    /// Time between probes during the start period (zero = the default).
    pub start_interval: Duration,
}

impl DockerHealthcheck {
    /// The engine healthcheck; zero durations and retries take the defaults.
    pub(crate) fn config(&self) -> Result<HealthConfig, AgentError> {
        let defaults = HealthConfig::default();
        let or = |given: Duration, default: Duration| {
            if given.is_zero() { default } else { given }
        };
        Ok(HealthConfig {
            test: HealthTest::from_docker(&self.test).map_err(AgentError::Invalid)?,
            interval: or(self.interval, defaults.interval),
            timeout: or(self.timeout, defaults.timeout),
            retries: if self.retries == 0 {
                defaults.retries
            } else {
                self.retries
            },
            start_period: or(self.start_period, defaults.start_period),
            start_interval: or(self.start_interval, defaults.start_interval),
        })
    }
}

/// A healthcheck in Docker's image config form (`Test`, durations in nanoseconds), if any.
pub(crate) fn image_healthcheck(value: &serde_json::Value) -> Option<DockerHealthcheck> {
    let test: Vec<String> = value["Test"]
        .as_array()?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    if test.is_empty() {
        return None;
    }
    let nanos = |key: &str| value[key].as_u64().unwrap_or(0);
    Some(DockerHealthcheck {
        test,
        interval: Duration::from_nanos(nanos("Interval")),
        timeout: Duration::from_nanos(nanos("Timeout")),
        retries: u32::try_from(nanos("Retries")).unwrap_or(u32::MAX),
        start_period: Duration::from_nanos(nanos("StartPeriod")),
        start_interval: Duration::from_nanos(nanos("StartInterval")),
    })
}

/// The command line: `args` when given; else the entrypoint (the request's when it has one,
/// else the image's) followed by the cmd (the request's; else the image's unless the
/// entrypoint was overridden, as Docker does).
pub(crate) fn command(command: &Command, image: &ImageDefaults) -> Vec<String> {
    if !command.args.is_empty() {
        return command.args.clone();
    }
    let entrypoint = command
        .entrypoint
        .clone()
        .unwrap_or_else(|| image.entrypoint.clone());
    let cmd = match (&command.cmd, &command.entrypoint) {
        (Some(cmd), _) => cmd.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => image.cmd.clone(),
    };
    entrypoint.into_iter().chain(cmd).collect()
}

/// The request's environment followed by the image's entries it does not set (the request
/// wins by key), in Docker's order: `run -e A=1` on an image with `PATH` is `[A=1 PATH=…]`.
pub(crate) fn merge_env(image: &[String], request: &[String]) -> Vec<String> {
    let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
    let mut out = request.to_vec();
    out.extend(
        image
            .iter()
            .filter(|e| !request.iter().any(|r| key(r) == key(e)))
            .cloned(),
    );
    out
}

/// Anonymous volume mounts for the image's `VOLUME` paths no requested mount covers.
pub(crate) fn image_volumes(image: &ImageDefaults, mounts: &[Mount]) -> Vec<Mount> {
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

/// The requested published ports, plus (with `publish_all`) every port the image exposes
/// that is not published yet, to random host ports.
pub(crate) fn ports(
    requested: &[PortSpec],
    publish_all: bool,
    image: &ImageDefaults,
) -> Result<Vec<PortSpec>, AgentError> {
    let mut out = requested.to_vec();
    if publish_all {
        for exposed in &image.exposed_ports {
            let (number, protocol_name) = exposed.split_once('/').unwrap_or((exposed, "tcp"));
            let number: u32 = number.parse().map_err(|_| {
                AgentError::Invalid(format!("image exposes an invalid port {exposed:?}"))
            })?;
            let port = port_number(number, "container port")?;
            let spec = PortSpec {
                host_ip: None,
                host_ports: None,
                container_ports: (port, port),
                protocol: protocol(protocol_name)?,
            };
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

/// A port number, 1-65535; `what` names it in the error.
pub(crate) fn port_number(value: u32, what: &str) -> Result<u16, AgentError> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| AgentError::Invalid(format!("invalid {what} {value}: use 1-65535")))
}

/// A port's protocol: `tcp` (also when empty) or `udp`.
pub(crate) fn protocol(text: &str) -> Result<Protocol, AgentError> {
    match text {
        "" | "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(AgentError::Invalid(format!(
            "invalid protocol {other:?}: use tcp or udp"
        ))),
    }
}

/// The networks a container's own namespace joins: the listed ones, with the mode's network
/// first when it is not listed (`Unspecified` and `default` mean the default network; with
/// networks listed, `Unspecified` adds nothing). Modes without an own namespace join none.
pub(crate) fn attachments(
    networks: &[NetworkAttachment],
    mode: &NetworkMode,
    default_network: &str,
) -> Vec<NetworkAttachment> {
    let mode_network = match mode {
        NetworkMode::Host | NetworkMode::None | NetworkMode::Container(_) => return Vec::new(),
        NetworkMode::Unspecified if !networks.is_empty() => return networks.to_vec(),
        NetworkMode::Unspecified | NetworkMode::Default => default_network,
        NetworkMode::Network(name) => name,
    };
    let mut out = networks.to_vec();
    if !out.iter().any(|a| a.network == mode_network) {
        out.insert(
            0,
            NetworkAttachment {
                network: mode_network.to_string(),
                aliases: Vec::new(),
                ipv4: None,
                mac: None,
                service_task: false,
                interface_name: None,
            },
        );
    }
    out
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

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
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
        assert_eq!(
            (h.interval, h.timeout, h.retries),
            (Duration::from_secs(1), Duration::ZERO, 5)
        );
        let config = h.config().unwrap();
        assert_eq!(config.test, HealthTest::CmdShell("test -f /ready".into()));
        assert_eq!(config.timeout, HealthConfig::default().timeout);
        assert_eq!(image_healthcheck(&serde_json::Value::Null), None);
        assert_eq!(image_healthcheck(&serde_json::json!({"Test": []})), None);
        let bad = image_healthcheck(&serde_json::json!({"Test": ["CMD"]})).unwrap();
        assert_eq!(
            bad.config().unwrap_err().to_string(),
            "invalid healthcheck test [\"CMD\"]"
        );
    }

    #[test]
    fn command_table() {
        let cases = [
            (Command::default(), vec!["/entry", "serve", "--fast"]),
            (
                Command {
                    cmd: Some(strings(&["sh"])),
                    ..Command::default()
                },
                vec!["/entry", "sh"],
            ),
            (
                Command {
                    entrypoint: Some(strings(&["/bin/x"])),
                    ..Command::default()
                },
                vec!["/bin/x"],
            ),
            (
                Command {
                    entrypoint: Some(Vec::new()),
                    cmd: Some(strings(&["ls"])),
                    ..Command::default()
                },
                vec!["ls"],
            ),
            (
                Command {
                    args: strings(&["true"]),
                    ..Command::default()
                },
                vec!["true"],
            ),
        ];
        for (given, want) in cases {
            assert_eq!(command(&given, &image()), want, "{given:?}");
        }
    }

    #[test]
    fn env_request_wins_by_key() {
        assert_eq!(
            merge_env(&image().env, &["A=mine".into(), "B=2".into()]),
            ["A=mine", "B=2", "PATH=/img"]
        );
    }

    #[test]
    fn image_volumes_skip_mounted_paths() {
        let mounted = vec![Mount {
            kind: MountKind::Volume {
                name: "db".into(),
                subpath: None,
                no_copy: false,
            },
            target: "/data".into(),
            read_only: false,
        }];
        let extra = image_volumes(&image(), &mounted);
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].target, PathBuf::from("/cache"));
        assert!(matches!(&extra[0].kind, MountKind::Volume { name, .. } if name.is_empty()));
    }

    #[test]
    fn ports_and_publish_all() {
        let requested: PortSpec = "8080:80".parse().unwrap();
        let got = ports(std::slice::from_ref(&requested), true, &image()).unwrap();
        assert_eq!(got.len(), 2, "80/tcp is published once: {got:?}");
        assert_eq!(got[0], requested);
        assert_eq!(
            (got[1].container_ports, got[1].protocol),
            ((53, 53), Protocol::Udp)
        );
        assert_eq!(got[1].host_ports, None);
        assert_eq!(
            ports(std::slice::from_ref(&requested), false, &image()).unwrap(),
            [requested]
        );
        for (exposed, want) in [
            ("http/tcp", "image exposes an invalid port \"http/tcp\""),
            ("70000/tcp", "invalid container port 70000: use 1-65535"),
            ("80/sctp", "invalid protocol \"sctp\": use tcp or udp"),
        ] {
            let image = ImageDefaults {
                exposed_ports: vec![exposed.into()],
                ..ImageDefaults::default()
            };
            assert_eq!(
                ports(&[], true, &image).unwrap_err().to_string(),
                want,
                "{exposed}"
            );
        }
    }

    #[test]
    fn attachments_table() {
        let att = |mode: &str, nets: &[&str]| {
            let networks: Vec<NetworkAttachment> = nets
                .iter()
                .map(|n| NetworkAttachment {
                    network: n.to_string(),
                    aliases: Vec::new(),
                    ipv4: None,
                    mac: None,
                    service_task: false,
                    interface_name: None,
                })
                .collect();
            attachments(&networks, &NetworkMode::parse(mode), "bridge")
                .into_iter()
                .map(|a| a.network)
                .collect::<Vec<_>>()
        };
        assert_eq!(att("", &[]), ["bridge"]);
        assert_eq!(att("default", &[]), ["bridge"]);
        assert_eq!(att("bridge", &[]), ["bridge"]);
        assert_eq!(att("app", &[]), ["app"]);
        assert_eq!(att("", &["front", "back"]), ["front", "back"]);
        assert_eq!(att("default", &["front"]), ["bridge", "front"]);
        assert_eq!(att("back", &["front", "back"]), ["front", "back"]);
        assert_eq!(att("db", &["front"]), ["db", "front"]);
        assert_eq!(att("host", &["front"]), Vec::<String>::new());
        assert_eq!(att("none", &[]), Vec::<String>::new());
    }
}
