//! `POST /containers/create`: Docker's container configuration (its `ContainerConfig` with
//! `HostConfig` and `NetworkingConfig`) as the agent's create request.

use std::collections::HashMap;

use api::agent::{self as proto, ContainerConfig, CreateRequest, NetworkAttachment};
use hyper::body::Incoming;
use serde::Deserialize;

use super::signals;
use crate::context::Context;
use crate::filters::Query;
use crate::reply::{ApiError, Reply, created};

/// A string or a list of strings (Docker takes both for `Cmd`, `Entrypoint`, `Healthcheck.Test`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Strings {
    One(String),
    Many(Vec<String>),
}

impl Strings {
    fn into_vec(self) -> Vec<String> {
        match self {
            Strings::One(s) => vec![s],
            Strings::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Body {
    #[serde(deserialize_with = "crate::containers::nullable")]
    hostname: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    domainname: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    user: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    tty: bool,
    #[serde(deserialize_with = "crate::containers::nullable")]
    open_stdin: bool,
    env: Option<Vec<String>>,
    cmd: Option<Strings>,
    entrypoint: Option<Strings>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    image: String,
    labels: Option<HashMap<String, String>>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    working_dir: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    stop_signal: String,
    stop_timeout: Option<u64>,
    healthcheck: Option<Healthcheck>,
    host_config: Option<HostConfig>,
    networking_config: Option<NetworkingConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Healthcheck {
    test: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    interval: u64,
    #[serde(deserialize_with = "crate::containers::nullable")]
    timeout: u64,
    #[serde(deserialize_with = "crate::containers::nullable")]
    retries: u32,
    #[serde(deserialize_with = "crate::containers::nullable")]
    start_period: u64,
    #[serde(deserialize_with = "crate::containers::nullable")]
    start_interval: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfig {
    binds: Option<Vec<String>>,
    port_bindings: Option<HashMap<String, Option<Vec<HostPort>>>>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    network_mode: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    auto_remove: bool,
    restart_policy: Option<RestartPolicy>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    privileged: bool,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    dns: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    extra_hosts: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    memory: i64,
    #[serde(deserialize_with = "crate::containers::nullable")]
    memory_swap: i64,
    #[serde(deserialize_with = "crate::containers::nullable")]
    nano_cpus: i64,
    #[serde(deserialize_with = "crate::containers::nullable")]
    cpu_shares: u64,
    pids_limit: Option<i64>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    readonly_rootfs: bool,
    init: Option<bool>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    shm_size: u64,
    publish_all_ports: bool,
    volumes_from: Option<Vec<String>>,
    group_add: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    ipc_mode: String,
    tmpfs: Option<HashMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostPort {
    #[serde(deserialize_with = "crate::containers::nullable")]
    host_ip: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicy {
    #[serde(deserialize_with = "crate::containers::nullable")]
    name: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    maximum_retry_count: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkingConfig {
    endpoints_config: Option<HashMap<String, Option<EndpointConfig>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct EndpointConfig {
    pub(crate) aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    pub(crate) ipam_config: Option<IpamConfig>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    pub(crate) mac_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IpamConfig {
    #[serde(rename = "IPv4Address")]
    #[serde(deserialize_with = "crate::containers::nullable")]
    pub(crate) ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    #[serde(deserialize_with = "crate::containers::nullable")]
    pub(crate) ipv6_address: String,
}

/// A `Binds` entry, `source:target[:options]`: a host path (absolute) or a volume name.
pub(crate) fn bind(spec: &str) -> Result<proto::Mount, ApiError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => {
            return Err(ApiError::bad_request(format!(
                "invalid volume specification: {spec:?}"
            )));
        }
    };
    if !target.starts_with('/') {
        return Err(ApiError::bad_request(format!(
            "invalid volume specification: {spec:?}: the destination must be an absolute path"
        )));
    }
    let host = source.starts_with('/');
    let mut mount = proto::Mount {
        r#type: if host { "bind" } else { "volume" }.into(),
        source: source.into(),
        target: target.into(),
        create_host_path: host,
        ..Default::default()
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => mount.read_only = true,
            "rw" | "z" | "Z" => {}
            "nocopy" => mount.no_copy = true,
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" if host => {
                mount.propagation = option.into();
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid volume specification: {spec:?}: unknown option {other:?}"
                )));
            }
        }
    }
    Ok(mount)
}

/// `PortBindings` (`"80/tcp": [{"HostIp": "", "HostPort": "8080"}]`) as the agent's bindings.
fn port_bindings(
    map: HashMap<String, Option<Vec<HostPort>>>,
) -> Result<Vec<proto::PortBinding>, ApiError> {
    let mut out = Vec::new();
    for (key, hosts) in map {
        let (port, protocol) = key.split_once('/').unwrap_or((&key, "tcp"));
        let (first, last) = port.split_once('-').unwrap_or((port, port));
        let parse = |p: &str| {
            p.parse::<u32>()
                .map_err(|_| ApiError::bad_request(format!("invalid port {key:?}")))
        };
        let (container_port, container_end) = (parse(first)?, parse(last)?);
        let hosts = hosts.unwrap_or_default();
        let hosts = if hosts.is_empty() {
            vec![HostPort::default()]
        } else {
            hosts
        };
        for host in hosts {
            let (hfirst, hlast) = host
                .host_port
                .split_once('-')
                .unwrap_or((&host.host_port, &host.host_port));
            let number = |p: &str| if p.is_empty() { Ok(0) } else { parse(p) };
            let (host_port, host_end) = (number(hfirst)?, number(hlast)?);
            out.push(proto::PortBinding {
                host_ip: host.host_ip,
                host_port,
                host_port_end: if host_end != host_port { host_end } else { 0 },
                container_port,
                container_port_end: if container_end != container_port {
                    container_end
                } else {
                    0
                },
                protocol: protocol.into(),
            });
        }
    }
    out.sort_by_key(|p| (p.container_port, p.host_port));
    Ok(out)
}

fn restart(policy: Option<RestartPolicy>) -> String {
    match policy {
        Some(p) if p.name == "on-failure" && p.maximum_retry_count > 0 => {
            format!("on-failure:{}", p.maximum_retry_count)
        }
        Some(p) => p.name,
        None => String::new(),
    }
}

/// Docker's network mode and endpoints as the agent's mode and attachments.
fn networking(
    mode: &str,
    endpoints: HashMap<String, Option<EndpointConfig>>,
) -> (String, Vec<NetworkAttachment>) {
    let attachment = |name: &str, config: Option<&EndpointConfig>| NetworkAttachment {
        network: name.to_string(),
        aliases: config.and_then(|c| c.aliases.clone()).unwrap_or_default(),
        ipv4_address: config
            .and_then(|c| c.ipam_config.as_ref())
            .map(|i| i.ipv4_address.clone())
            .unwrap_or_default(),
        ipv6_address: config
            .and_then(|c| c.ipam_config.as_ref())
            .map(|i| i.ipv6_address.clone())
            .unwrap_or_default(),
        mac_address: config.map(|c| c.mac_address.clone()).unwrap_or_default(),
        ..Default::default()
    };
    match mode {
        "" | "default" | "bridge" => {
            let mut attachments: Vec<NetworkAttachment> = endpoints
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "bridge" | "default"))
                .map(|(name, config)| attachment(name, config.as_ref()))
                .collect();
            attachments.sort_by(|a, b| a.network.cmp(&b.network));
            (String::new(), attachments)
        }
        "host" | "none" => (mode.to_string(), Vec::new()),
        m if m.starts_with("container:") => (m.to_string(), Vec::new()),
        name => {
            let mut attachments = vec![attachment(
                name,
                endpoints.get(name).and_then(Option::as_ref),
            )];
            let mut others: Vec<NetworkAttachment> = endpoints
                .iter()
                .filter(|(n, _)| n.as_str() != name)
                .map(|(n, config)| attachment(n, config.as_ref()))
                .collect();
            others.sort_by(|a, b| a.network.cmp(&b.network));
            attachments.extend(others);
            (name.to_string(), attachments)
        }
    }
}

/// The agent's create request for a Docker body and name.
fn create_request(body: Body, name: String) -> Result<CreateRequest, ApiError> {
    if body.image.is_empty() {
        return Err(ApiError::bad_request("config: Image is required"));
    }
    let host = body.host_config.unwrap_or_default();
    let mut mounts = Vec::new();
    for spec in host.binds.unwrap_or_default() {
        mounts.push(bind(&spec)?);
    }
    for (target, options) in host.tmpfs.unwrap_or_default() {
        let read_only = options.split(',').any(|o| o == "ro");
        mounts.push(proto::Mount {
            r#type: "tmpfs".into(),
            target,
            read_only,
            ..Default::default()
        });
    }
    let endpoints = body
        .networking_config
        .and_then(|n| n.endpoints_config)
        .unwrap_or_default();
    let (network_mode, networks) = networking(&host.network_mode, endpoints);
    let stop_signal = match body.stop_signal.as_str() {
        "" => 0,
        s => signals::number(s)
            .ok_or_else(|| ApiError::bad_request(format!("invalid StopSignal {s:?}")))?,
    };
    let cmd = body.cmd.map(Strings::into_vec);
    let entrypoint = body.entrypoint.map(Strings::into_vec);
    let config = ContainerConfig {
        image: body.image,
        has_cmd: cmd.is_some(),
        cmd: cmd.unwrap_or_default(),
        has_entrypoint: entrypoint.is_some(),
        entrypoint: entrypoint.unwrap_or_default(),
        env: body.env.unwrap_or_default(),
        labels: body.labels.unwrap_or_default(),
        working_dir: body.working_dir,
        user: body.user,
        hostname: body.hostname,
        domainname: body.domainname,
        tty: body.tty,
        stdin_open: body.open_stdin,
        stop_signal,
        stop_timeout: body.stop_timeout,
        healthcheck: body.healthcheck.and_then(|h| {
            h.test.map(|test| proto::Healthcheck {
                test,
                interval: h.interval,
                timeout: h.timeout,
                retries: h.retries,
                start_period: h.start_period,
                start_interval: h.start_interval,
            })
        }),
        mounts,
        network_mode,
        networks,
        ports: port_bindings(host.port_bindings.unwrap_or_default())?,
        publish_all: host.publish_all_ports,
        restart: restart(host.restart_policy),
        privileged: host.privileged,
        cap_add: host.cap_add.unwrap_or_default(),
        cap_drop: host.cap_drop.unwrap_or_default(),
        dns: host.dns.unwrap_or_default(),
        dns_search: host.dns_search.unwrap_or_default(),
        dns_options: host.dns_options.unwrap_or_default(),
        extra_hosts: host.extra_hosts.unwrap_or_default(),
        memory: host.memory,
        memory_swap: host.memory_swap,
        nano_cpus: host.nano_cpus,
        cpu_shares: host.cpu_shares,
        pids_limit: host.pids_limit.unwrap_or(0).max(0),
        read_only: host.readonly_rootfs,
        init: host.init.unwrap_or(false),
        shm_size: host.shm_size,
        volumes_from: host.volumes_from.unwrap_or_default(),
        group_add: host.group_add.unwrap_or_default(),
        ipc_mode: host.ipc_mode,
        ..Default::default()
    };
    Ok(CreateRequest {
        name,
        config: Some(config),
        auto_remove: host.auto_remove,
    })
}

/// `POST /containers/create?name=…`.
pub(crate) async fn create(context: &Context, request: hyper::Request<Incoming>) -> Reply {
    let query = Query::of(request.uri());
    let name = query
        .get("name")
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let body: Body = crate::containers::read_json(request).await?;
    let image = body.image.clone();
    let create = create_request(body, name)?;
    let response = context
        .containers()
        .create(create)
        .await
        .map_err(|status| {
            let err = ApiError::from(status);
            if err.status == http::StatusCode::NOT_FOUND && err.message.contains(&image) {
                ApiError::not_found(format!("No such image: {image}"))
            } else {
                err
            }
        })?
        .into_inner();
    created(&serde_json::json!({ "Id": response.id, "Warnings": response.warnings }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_table() {
        let m = bind("/srv/data:/data:ro").unwrap();
        assert_eq!(
            (m.r#type.as_str(), m.read_only, m.create_host_path),
            ("bind", true, true)
        );
        let v = bind("cache:/cache").unwrap();
        assert_eq!((v.r#type.as_str(), v.source.as_str()), ("volume", "cache"));
        assert!(bind("x").is_err());
        assert!(bind("a:relative").is_err());
        assert!(bind("/a:/b:bogus").is_err());
    }

    #[test]
    fn a_docker_run_body_becomes_a_create_request() {
        let body: Body = serde_json::from_str(
            r#"{"Image":"busybox","Cmd":["echo","hi"],"Env":["A=1"],"Labels":{"l":"v"},
                "StopSignal":"SIGINT",
                "HostConfig":{"AutoRemove":true,"NetworkMode":"front",
                  "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},
                  "RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}},
                "NetworkingConfig":{"EndpointsConfig":{"front":{"Aliases":["web"]}}}}"#,
        )
        .unwrap();
        let req = create_request(body, "web".into()).unwrap();
        let c = req.config.unwrap();
        assert!(req.auto_remove);
        assert_eq!(c.cmd, vec!["echo", "hi"]);
        assert!(c.has_cmd && !c.has_entrypoint);
        assert_eq!(c.stop_signal, 2);
        assert_eq!(c.restart, "on-failure:3");
        assert_eq!(c.network_mode, "front");
        assert_eq!(c.networks[0].aliases, vec!["web"]);
        assert_eq!(
            (c.ports[0].container_port, c.ports[0].host_port),
            (80, 8080)
        );
    }

    #[test]
    fn nulls_are_defaults() {
        // docker-py sends unset numbers and strings as null.
        let body: Body = serde_json::from_str(
            r#"{"Image":"redis","User":null,"StopTimeout":null,
                "HostConfig":{"Memory":null,"NetworkMode":null,"Privileged":null}}"#,
        )
        .unwrap();
        let req = create_request(body, String::new()).unwrap();
        let c = req.config.unwrap();
        assert_eq!(
            (c.memory, c.user.as_str(), c.network_mode.as_str()),
            (0, "", "")
        );
    }

    #[test]
    fn the_default_network_mode_is_the_agents_default() {
        let (mode, nets) = networking("default", HashMap::new());
        assert_eq!((mode.as_str(), nets.len()), ("", 0));
        let (mode, _) = networking("host", HashMap::new());
        assert_eq!(mode, "host");
    }
}
