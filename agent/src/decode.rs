//! Requests off the wire into the agent's own types ([`crate::request`]), once, at the
//! service edge: every string parsed, every number range-checked. Bad input is one
//! [`AgentError::Invalid`] line, which the service returns as `invalid argument`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use builder::container::CommitOptions;
use engine::archive::{Owner, Packed};
use engine::image::ImageRef;
use engine::network::PortSpec;
use engine::restart::RestartPolicy;
use engine::runtime::Update;
use engine::seccomp::Seccomp;
use engine::spec::{Capabilities, HostEntry, Mount, MountKind, NetworkAttachment, Resources};

use super::AgentError;
use super::names;
use super::plan::{self, DockerHealthcheck};
use super::proto;
use super::request::{
    Command, ContainerConfig, ContainerRequest, FileContent, IpcMode, MountRequest, NetworkMode,
    RootSource, VolumesFrom,
};

/// A create request.
pub(crate) fn create(request: proto::CreateRequest) -> Result<ContainerRequest, AgentError> {
    let name = if request.name.is_empty() {
        None
    } else {
        names::check_name(&request.name)?;
        Some(request.name)
    };
    let config = request
        .config
        .ok_or_else(|| AgentError::Invalid("create: missing container config".into()))?;
    Ok(ContainerRequest {
        name,
        config: config_of(&config)?,
        auto_remove: request.auto_remove,
    })
}

/// A container configuration.
pub(crate) fn config_of(c: &proto::ContainerConfig) -> Result<ContainerConfig, AgentError> {
    let root = match (c.image.is_empty(), c.rootfs.is_empty()) {
        (false, true) => RootSource::Image(c.image.clone()),
        (false, false) => {
            return Err(AgentError::Invalid(
                "give an image or a rootfs directory, not both".into(),
            ));
        }
        (true, false) => RootSource::Rootfs(PathBuf::from(&c.rootfs)),
        (true, true) => {
            return Err(AgentError::Invalid(
                "a root filesystem directory is required".into(),
            ));
        }
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(ContainerConfig {
        root,
        command: Command {
            args: c.args.clone(),
            entrypoint: c.has_entrypoint.then(|| c.entrypoint.clone()),
            cmd: c.has_cmd.then(|| c.cmd.clone()),
        },
        env: c.env.clone(),
        working_dir: non_empty(&c.working_dir).map(PathBuf::from),
        user: non_empty(&c.user),
        hostname: non_empty(&c.hostname),
        domainname: non_empty(&c.domainname),
        mounts: c.mounts.iter().map(mount).collect::<Result<_, _>>()?,
        resources: resources(c)?,
        group_add: c.group_add.clone(),
        no_new_privileges: c.no_new_privileges,
        ulimits: c
            .ulimits
            .iter()
            .map(|u| {
                let limit = engine::spec::Rlimit {
                    soft: u.soft,
                    hard: u.hard,
                };
                (u.name.clone(), limit)
            })
            .collect(),
        sysctls: c
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        shm_size: (c.shm_size > 0).then_some(c.shm_size),
        tty: c.tty,
        stdin_open: c.stdin_open,
        extra_hosts: extra_hosts(&c.extra_hosts)?,
        dns: engine::spec::DnsConfig {
            servers: c.dns.clone(),
            search: c.dns_search.clone(),
            options: c.dns_options.clone(),
        },
        log_max_size: (c.log_max_size > 0).then_some(c.log_max_size),
        log_max_files: (c.log_max_files > 0).then_some(c.log_max_files),
        capabilities: Capabilities {
            add: c.cap_add.clone(),
            drop: c.cap_drop.clone(),
            privileged: c.privileged,
        },
        seccomp: seccomp(&c.seccomp_profile)?,
        read_only: c.read_only,
        stop_signal: (c.stop_signal != 0).then_some(c.stop_signal),
        stop_timeout: c.stop_timeout.map(Duration::from_secs),
        init: c.init,
        restart: c
            .restart
            .parse()
            .map_err(|e: engine::restart::PolicyError| AgentError::Invalid(e.to_string()))?,
        healthcheck: c
            .healthcheck
            .as_ref()
            .map(|h| healthcheck(h).config())
            .transpose()?,
        labels: c
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        network_mode: NetworkMode::parse(&c.network_mode),
        ipc: IpcMode::parse(&c.ipc_mode).map_err(AgentError::Invalid)?,
        volumes_from: c
            .volumes_from
            .iter()
            .map(|v| VolumesFrom::parse(v).map_err(AgentError::Invalid))
            .collect::<Result<_, _>>()?,
        networks: networks(&c.networks)?,
        ports: c.ports.iter().map(port).collect::<Result<_, _>>()?,
        publish_all: c.publish_all,
    })
}

/// A healthcheck in Docker's form (durations in nanoseconds on the wire).
/// How an `Attach` request joins its container.
pub(crate) fn attach(req: &proto::AttachRequest) -> super::request::AttachOptions {
    super::request::AttachOptions {
        close_stdin_on_detach: req.close_stdin_on_detach,
        size: req.size.as_ref().map(super::attach::cells),
    }
}

/// The engine exec of an `ExecAttach` request (`attached`: stdin, terminal and its size as
/// asked) or of a plain `Exec` (neither, whatever the request says).
pub(crate) fn exec(
    req: &proto::ExecRequest,
    attached: bool,
) -> Result<engine::ExecSpec, AgentError> {
    if req.args.is_empty() {
        return Err(AgentError::Invalid("exec: a command is required".into()));
    }
    Ok(engine::ExecSpec {
        args: req.args.clone(),
        env: req.env.clone(),
        user: (!req.user.is_empty()).then(|| req.user.clone()),
        cwd: (!req.working_dir.is_empty()).then(|| PathBuf::from(&req.working_dir)),
        stdin: attached && req.stdin,
        tty: attached && req.tty,
        size: req
            .size
            .as_ref()
            .filter(|_| attached)
            .map(super::attach::cells),
    })
}

pub(crate) fn healthcheck(h: &proto::Healthcheck) -> DockerHealthcheck {
    DockerHealthcheck {
        test: h.test.clone(),
        interval: Duration::from_nanos(h.interval),
        timeout: Duration::from_nanos(h.timeout),
        retries: h.retries,
        start_period: Duration::from_nanos(h.start_period),
        start_interval: Duration::from_nanos(h.start_interval),
    }
}

/// One mount. A volume mount without a source gets an empty name: the node creates an
/// anonymous volume for it.
pub(crate) fn mount(m: &proto::Mount) -> Result<MountRequest, AgentError> {
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
        // The source is the file the agent writes at create.
        "file" => MountKind::Bind {
            source: PathBuf::new(),
        },
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
        "image" => {
            if m.source.is_empty() {
                return Err(AgentError::Invalid(format!(
                    "image mount at {:?} names no image",
                    m.target
                )));
            }
            MountKind::Image {
                image: m.source.clone(),
                subpath: (!m.subpath.is_empty()).then(|| PathBuf::from(&m.subpath)),
            }
        }
        other => {
            return Err(AgentError::Invalid(format!(
                "unknown mount type {other:?}: use bind, volume, tmpfs, image or file"
            )));
        }
    };
    let image = matches!(kind, MountKind::Image { .. });
    Ok(MountRequest {
        mount: Mount {
            kind,
            target: PathBuf::from(&m.target),
            read_only: m.read_only || image,
        },
        propagation: (!m.propagation.is_empty()).then(|| m.propagation.clone()),
        create_host_path: m.create_host_path,
        content: (m.r#type == "file").then(|| FileContent {
            bytes: m.content.clone(),
            uid: m.file_uid,
            gid: m.file_gid,
            mode: m.file_mode & 0o7777,
            in_memory: m.file_in_memory,
        }),
    })
}

/// One published port.
pub(crate) fn port(b: &proto::PortBinding) -> Result<PortSpec, AgentError> {
    let protocol = plan::protocol(&b.protocol)?;
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
    let first = plan::port_number(b.container_port, "container port")?;
    let last = if b.container_port_end == 0 {
        first
    } else {
        plan::port_number(b.container_port_end, "container port")?
    };
    let host_ports = if b.host_port == 0 {
        None
    } else {
        let h = plan::port_number(b.host_port, "host port")?;
        let end = if b.host_port_end == 0 {
            h.saturating_add(last - first.min(last))
        } else {
            plan::port_number(b.host_port_end, "host port")?
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

/// The listed networks: addresses parsed, each network once.
pub(crate) fn networks(
    listed: &[proto::NetworkAttachment],
) -> Result<Vec<NetworkAttachment>, AgentError> {
    let mut out: Vec<NetworkAttachment> = Vec::new();
    for n in listed {
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
        if out.iter().any(|a| a.network == n.network) {
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
            service_task: n.service_task,
            interface_name: interface_name(&n.interface_name, &n.network)?,
        });
    }
    Ok(out)
}

/// A requested interface name: a valid Linux interface name (at most 15 bytes, no `/`, `:`
/// or white space, not `.`, `..` or `lo`); empty for the next free `ethN`.
fn interface_name(name: &str, network: &str) -> Result<Option<String>, AgentError> {
    if name.is_empty() {
        return Ok(None);
    }
    let valid = name.len() <= 15
        && !matches!(name, "." | ".." | "lo")
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if !valid {
        return Err(AgentError::Invalid(format!(
            "invalid interface name {name:?} on network {network}: at most 15 bytes, no '/', \
             ':' or spaces"
        )));
    }
    Ok(Some(name.to_string()))
}

/// `name:ip` entries (`--add-host`) as the engine's host entries.
pub(crate) fn extra_hosts(entries: &[String]) -> Result<Vec<HostEntry>, AgentError> {
    entries
        .iter()
        .map(|e| {
            let (name, ip) = e.split_once(':').ok_or_else(|| {
                AgentError::Invalid(format!("invalid extra host {e:?}: use name:ip"))
            })?;
            if ip.parse::<IpAddr>().is_err() || name.is_empty() {
                return Err(AgentError::Invalid(format!(
                    "invalid extra host {e:?}: use name:ip"
                )));
            }
            Ok(HostEntry {
                name: name.to_string(),
                ip: ip.to_string(),
            })
        })
        .collect()
}

/// The seccomp setting: Docker's default profile, none, or a profile in Docker's JSON format.
fn seccomp(profile: &str) -> Result<Seccomp, AgentError> {
    match profile.trim() {
        "" => Ok(Seccomp::Default),
        "unconfined" => Ok(Seccomp::Unconfined),
        text => engine::seccomp::parse_docker_profile(text)
            .map(Seccomp::Profile)
            .map_err(|e| AgentError::Invalid(e.to_string())),
    }
}

/// The engine limits of a configuration, checked with Docker's rules (as the engine checks
/// them again at create), so a client can refuse bad limits before anything is made.
pub fn resources(config: &proto::ContainerConfig) -> Result<Resources, AgentError> {
    let mut r = Resources {
        // Zero is "not set" on the wire; anything else, negative included, is checked.
        memory: (config.memory != 0).then_some(config.memory),
        memory_swap: (config.memory_swap != 0).then_some(config.memory_swap),
        cpu_shares: (config.cpu_shares > 0).then_some(config.cpu_shares),
        // Docker: zero or negative is unlimited.
        pids_limit: (config.pids_limit > 0).then_some(config.pids_limit),
        cpuset_cpus: (!config.cpuset_cpus.is_empty()).then(|| config.cpuset_cpus.clone()),
        ..Resources::default()
    };
    if config.nano_cpus != 0 {
        r = r.with_cpus(config.nano_cpus as f64 / 1e9);
    }
    r.validate()
        .map_err(|e| AgentError::Invalid(e.to_string()))?;
    Ok(r)
}

/// A `cp` into a container: the container, the destination, what the tar holds and who
/// owns the copy (the archive's owners with `archive`, else root).
pub(crate) fn copy_target(
    target: Option<&proto::CopyTarget>,
) -> Result<(String, PathBuf, Packed, Owner), AgentError> {
    let target = target.ok_or_else(|| {
        AgentError::Invalid("copy: the first message must name the target".into())
    })?;
    let source = target
        .source
        .as_ref()
        .ok_or_else(|| AgentError::Invalid("copy: the target does not say what is sent".into()))?;
    if target.container.is_empty() || target.path.is_empty() {
        return Err(AgentError::Invalid(
            "copy: a container and a destination path are needed".into(),
        ));
    }
    if source.name.is_empty() || source.name.contains('/') || source.name == ".." {
        return Err(AgentError::Invalid(format!(
            "copy: invalid source name {:?}",
            source.name
        )));
    }
    let owner = if target.archive {
        Owner::FromArchive
    } else {
        Owner::Set(0, 0)
    };
    Ok((
        target.container.clone(),
        PathBuf::from(&target.path),
        Packed {
            name: source.name.clone(),
            is_dir: source.is_dir,
        },
        owner,
    ))
}

/// A `container update`: the container and the change, its numbers range-checked and its
/// restart policy parsed.
pub(crate) fn update(req: &proto::UpdateRequest) -> Result<Update, AgentError> {
    if let Some(cpus) = req.cpus
        && !(cpus.is_finite() && cpus > 0.0)
    {
        return Err(AgentError::Invalid(format!(
            "update: --cpus must be a positive number, not {cpus}"
        )));
    }
    let restart = if req.restart.is_empty() {
        None
    } else {
        Some(
            req.restart
                .parse::<RestartPolicy>()
                .map_err(|e| AgentError::Invalid(format!("update: --restart: {e}")))?,
        )
    };
    Ok(Update {
        memory: req.memory,
        memory_swap: req.memory_swap,
        cpu_shares: req.cpu_shares,
        cpus: req.cpus,
        cpuset_cpus: req.cpuset_cpus.clone(),
        pids_limit: req.pids_limit,
        restart,
    })
}

/// A `commit`: the options of the new image (its name parsed) and whether to pause.
pub(crate) fn commit(req: &proto::CommitRequest) -> Result<(CommitOptions, bool), AgentError> {
    let reference = if req.reference.is_empty() {
        None
    } else {
        Some(
            ImageRef::parse(&req.reference)
                .map_err(|e| AgentError::Invalid(format!("commit: {e}")))?,
        )
    };
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok((
        CommitOptions {
            reference,
            message: some(&req.message),
            author: some(&req.author),
            changes: req.changes.clone(),
            created_by: String::new(),
            created: String::new(),
        },
        req.pause,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use engine::health::HealthTest;
    use engine::network::Protocol;
    use engine::spec::ContainerSpec;

    use super::*;
    use crate::plan::ImageDefaults;

    fn config() -> proto::ContainerConfig {
        proto::ContainerConfig {
            rootfs: "/r".into(),
            args: vec!["sh".into()],
            ..Default::default()
        }
    }

    /// The spec a directory-rootfs configuration becomes, through the edge.
    fn spec(c: &proto::ContainerConfig) -> Result<ContainerSpec, AgentError> {
        let config = config_of(c)?;
        crate::spec::with_image(&config, &ImageDefaults::default(), Path::new(&c.rootfs))
    }

    #[test]
    fn seccomp_settings_decode() {
        assert!(matches!(seccomp(""), Ok(Seccomp::Default)));
        assert!(matches!(seccomp("unconfined"), Ok(Seccomp::Unconfined)));
        let custom = seccomp(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
        assert!(matches!(custom, Seccomp::Profile(_)));
        let err = seccomp(r#"{"defaultAction": "SCMP_ACT_NEVER"}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown seccomp action \"SCMP_ACT_NEVER\""),
            "{err}"
        );
    }

    #[test]
    fn the_root_and_the_command_decode() {
        let image = proto::ContainerConfig {
            rootfs: String::new(),
            image: "busybox".into(),
            entrypoint: Vec::new(),
            has_entrypoint: true,
            cmd: vec!["ls".into()],
            has_cmd: true,
            ..config()
        };
        let c = config_of(&image).unwrap();
        assert_eq!(c.root, RootSource::Image("busybox".into()));
        assert_eq!(c.command.entrypoint, Some(Vec::new()));
        assert_eq!(c.command.cmd, Some(vec!["ls".to_string()]));
        let plain = config_of(&config()).unwrap();
        assert_eq!(plain.root, RootSource::Rootfs("/r".into()));
        assert_eq!((plain.command.entrypoint, plain.command.cmd), (None, None));
        let named = create(proto::CreateRequest {
            name: "web".into(),
            config: Some(config()),
            auto_remove: true,
        })
        .unwrap();
        assert_eq!(named.name.as_deref(), Some("web"));
        assert!(named.auto_remove);
        let generated = create(proto::CreateRequest {
            config: Some(config()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(generated.name, None);
        let missing = create(proto::CreateRequest::default()).unwrap_err();
        assert_eq!(missing.to_string(), "create: missing container config");
    }

    #[test]
    fn flags_reach_the_spec() {
        let c = proto::ContainerConfig {
            env: vec!["A=1".into()],
            working_dir: "/w".into(),
            user: "alice".into(),
            hostname: "box".into(),
            mounts: vec![proto::Mount {
                r#type: "bind".into(),
                source: "/src".into(),
                target: "/dst".into(),
                read_only: true,
                propagation: "rshared".into(),
                ..Default::default()
            }],
            memory: 64 << 20,
            memory_swap: -1,
            nano_cpus: 1_500_000_000,
            cpu_shares: 512,
            pids_limit: 10,
            cap_add: vec!["NET_ADMIN".into()],
            privileged: true,
            read_only: true,
            stop_signal: 2,
            stop_timeout: Some(3),
            ulimits: vec![proto::Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048,
            }],
            ..config()
        };
        let s = spec(&c).unwrap();
        assert_eq!(s.env, vec!["A=1".to_string()]);
        assert_eq!(s.cwd, PathBuf::from("/w"));
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.hostname.as_deref(), Some("box"));
        assert_eq!(
            s.mounts[0].kind,
            MountKind::Bind {
                source: "/src".into()
            }
        );
        assert!(s.mounts[0].read_only);
        assert_eq!(
            s.bind_propagation
                .get(Path::new("/dst"))
                .map(String::as_str),
            Some("rshared")
        );
        assert_eq!(s.resources.memory, Some(64 << 20));
        assert_eq!(s.resources.memory_swap, Some(-1));
        assert_eq!(s.resources.cpu_quota, Some(150_000));
        assert_eq!(s.resources.cpu_shares, Some(512));
        assert_eq!(s.resources.pids_limit, Some(10));
        assert!(s.capabilities.privileged && s.masked_paths.is_empty());
        assert!(s.read_only_root);
        assert_eq!(s.stop_signal, 2);
        assert_eq!(s.stop_grace_period, Duration::from_secs(3));
        assert_eq!(s.rlimits["nofile"].hard, 2048);
    }

    #[test]
    fn restart_and_healthcheck_reach_the_spec() {
        let c = proto::ContainerConfig {
            restart: "on-failure:3".into(),
            healthcheck: Some(proto::Healthcheck {
                test: vec!["CMD-SHELL".into(), "test -f /ok".into()],
                interval: 1_000_000_000,
                retries: 0,
                ..Default::default()
            }),
            ..config()
        };
        let s = spec(&c).unwrap();
        assert_eq!(
            s.restart,
            engine::restart::RestartPolicy::OnFailure {
                max_retries: Some(3)
            }
        );
        let h = s.healthcheck.unwrap();
        assert_eq!(h.test, HealthTest::CmdShell("test -f /ok".into()));
        assert_eq!(h.interval, Duration::from_secs(1));
        assert_eq!(h.timeout, Duration::from_secs(30));
        assert_eq!(h.retries, 3);
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                proto::ContainerConfig {
                    rootfs: String::new(),
                    ..config()
                },
                "a root filesystem directory is required",
            ),
            (
                proto::ContainerConfig {
                    image: "busybox".into(),
                    ..config()
                },
                "give an image or a rootfs directory, not both",
            ),
            (
                proto::ContainerConfig {
                    memory_swap: 100,
                    ..config()
                },
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ),
            (
                proto::ContainerConfig {
                    memory: -5,
                    ..config()
                },
                "Minimum memory limit allowed is 6MB (memory limit given: -5 bytes)",
            ),
            (
                proto::ContainerConfig {
                    memory: 1,
                    ..config()
                },
                "Minimum memory limit allowed is 6MB (memory limit given: 1 bytes)",
            ),
            (
                proto::ContainerConfig {
                    nano_cpus: 100,
                    ..config()
                },
                "Range of CPUs is from 0.01 to",
            ),
            (
                proto::ContainerConfig {
                    pids_limit: 1 << 40,
                    ..config()
                },
                "invalid pids limit 1099511627776: the kernel allows at most 4194304",
            ),
            (
                proto::ContainerConfig {
                    mounts: vec![proto::Mount {
                        r#type: "bind".into(),
                        source: "rel".into(),
                        target: "/x".into(),
                        ..Default::default()
                    }],
                    ..config()
                },
                "bind mount source \"rel\" must be an absolute path",
            ),
            (
                proto::ContainerConfig {
                    mounts: vec![proto::Mount {
                        r#type: "nfs".into(),
                        ..Default::default()
                    }],
                    ..config()
                },
                "unknown mount type \"nfs\": use bind, volume, tmpfs, image or file",
            ),
            (
                proto::ContainerConfig {
                    restart: "sometimes".into(),
                    ..config()
                },
                "invalid restart policy \"sometimes\": use no, on-failure[:N], always or unless-stopped",
            ),
            (
                proto::ContainerConfig {
                    healthcheck: Some(proto::Healthcheck {
                        test: vec!["CMD".into()],
                        ..Default::default()
                    }),
                    ..config()
                },
                "invalid healthcheck test [\"CMD\"]",
            ),
            (
                proto::ContainerConfig {
                    extra_hosts: vec!["nocolon".into()],
                    ..config()
                },
                "invalid extra host \"nocolon\": use name:ip",
            ),
            (
                proto::ContainerConfig {
                    networks: vec![
                        proto::NetworkAttachment {
                            network: "front".into(),
                            ..Default::default()
                        },
                        proto::NetworkAttachment {
                            network: "front".into(),
                            ..Default::default()
                        },
                    ],
                    ..config()
                },
                "network front is listed twice",
            ),
            (
                proto::ContainerConfig {
                    networks: vec![proto::NetworkAttachment {
                        network: "front".into(),
                        ipv4_address: "10.0.0".into(),
                        ..Default::default()
                    }],
                    ..config()
                },
                "invalid IPv4 address \"10.0.0\" on network front",
            ),
        ];
        for (c, want) in cases {
            let got = config_of(&c).unwrap_err().to_string();
            assert!(got.starts_with(want), "{got} does not start with {want}");
        }
    }

    #[test]
    fn ports_decode_and_refuse() {
        let range = port(&proto::PortBinding {
            host_port: 9000,
            container_port: 80,
            container_port_end: 81,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(range.host_ports, Some((9000, 9001)));
        assert_eq!(range.protocol, Protocol::Tcp);
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
            let binding = crate::convert::spec_binding(&spec);
            assert_eq!(port(&binding).unwrap(), spec, "{text}");
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

    #[test]
    fn exec_request_to_spec() {
        let req = proto::ExecRequest {
            container: "web".into(),
            args: vec!["ls".into(), "/".into()],
            env: vec!["A=1".into()],
            user: "nobody".into(),
            working_dir: "/tmp".into(),
            stdin: true,
            tty: true,
            size: Some(proto::TerminalSize { rows: 24, cols: 80 }),
        };
        let spec = exec(&req, false).unwrap();
        assert_eq!(spec.args, ["ls", "/"]);
        assert_eq!(spec.env, ["A=1"]);
        assert_eq!(spec.user.as_deref(), Some("nobody"));
        assert_eq!(spec.cwd, Some(PathBuf::from("/tmp")));
        assert_eq!((spec.stdin, spec.tty, spec.size), (false, false, None));
        let attached = exec(&req, true).unwrap();
        assert_eq!(
            (attached.stdin, attached.tty, attached.size),
            (true, true, Some((24, 80)))
        );
        let bare = exec(
            &proto::ExecRequest {
                args: vec!["true".into()],
                ..Default::default()
            },
            false,
        )
        .unwrap();
        assert_eq!((bare.user, bare.cwd), (None, None));
        assert_eq!(
            exec(&proto::ExecRequest::default(), false)
                .unwrap_err()
                .to_string(),
            "exec: a command is required"
        );
    }
}
