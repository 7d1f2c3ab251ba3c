//! Conversions between the API's messages and the engine's types.

use std::path::PathBuf;
use std::time::Duration;

use engine::health::{HealthConfig, HealthStatus, HealthTest};
use engine::network::NetworkRecord;
use engine::seccomp::Seccomp;
use engine::spec::{Capabilities, ContainerSpec, MountKind, Resources};
use engine::{ContainerState, StateRecord};

use super::AgentError;
use super::meta::Meta;
use super::plan;
use super::proto;

/// The engine spec for an API container configuration with a directory rootfs.
pub fn spec_from_config(config: &proto::ContainerConfig) -> Result<ContainerSpec, AgentError> {
    if config.rootfs.is_empty() {
        return Err(AgentError::Invalid(
            "a root filesystem directory is required".into(),
        ));
    }
    spec_with_image(config, &plan::ImageDefaults::default(), &config.rootfs)
}

/// The engine spec for an API container configuration over `image`'s defaults (empty ones
/// for a directory rootfs), running in `rootfs`. Volumes keep their names (empty for the
/// anonymous ones the node creates); the network part is left to the node.
pub fn spec_with_image(
    config: &proto::ContainerConfig,
    image: &plan::ImageDefaults,
    rootfs: &str,
) -> Result<ContainerSpec, AgentError> {
    let args = plan::command(config, image);
    if args.is_empty() {
        return Err(AgentError::Invalid(
            "no command specified: give one, or use an image that has one".into(),
        ));
    }
    let mut spec = ContainerSpec::new(rootfs, args);
    spec.env = plan::merge_env(&image.env, &config.env);
    let working_dir = if config.working_dir.is_empty() {
        &image.working_dir
    } else {
        &config.working_dir
    };
    if !working_dir.is_empty() {
        spec.cwd = PathBuf::from(working_dir);
    }
    spec.user = non_empty(&config.user).or_else(|| non_empty(&image.user));
    spec.hostname = non_empty(&config.hostname);
    spec.domainname = non_empty(&config.domainname);
    spec.mounts = config
        .mounts
        .iter()
        .map(plan::mount)
        .collect::<Result<_, _>>()?;
    let mut anonymous = plan::image_volumes(image, &spec.mounts);
    spec.mounts.append(&mut anonymous);
    for m in &config.mounts {
        if !m.propagation.is_empty() {
            spec.bind_propagation
                .insert(PathBuf::from(&m.target), m.propagation.clone());
        }
    }
    spec.resources = resources(config)?;
    spec.additional_groups = config.group_add.clone();
    spec.no_new_privileges = config.no_new_privileges;
    spec.rlimits = config
        .ulimits
        .iter()
        .map(|u| {
            (
                u.name.clone(),
                engine::spec::Rlimit {
                    soft: u.soft,
                    hard: u.hard,
                },
            )
        })
        .collect();
    spec.sysctls = config
        .sysctls
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if config.shm_size > 0 {
        spec.shm_size = config.shm_size;
    }
    spec.tty = config.tty;
    spec.stdin = config.stdin_open;
    spec.extra_hosts = plan::extra_hosts(&config.extra_hosts)?;
    spec.dns = engine::spec::DnsConfig {
        servers: config.dns.clone(),
        search: config.dns_search.clone(),
        options: config.dns_options.clone(),
    };
    if config.log_max_size > 0 {
        spec.log_max_size = config.log_max_size;
    }
    if config.log_max_files > 0 {
        spec.log_max_files = config.log_max_files;
    }
    spec.capabilities = Capabilities {
        add: config.cap_add.clone(),
        drop: config.cap_drop.clone(),
        privileged: config.privileged,
    };
    if config.privileged {
        spec.masked_paths.clear();
        spec.readonly_paths.clear();
    }
    spec.seccomp = seccomp(&config.seccomp_profile)?;
    spec.read_only_root = config.read_only;
    if config.stop_signal != 0 {
        spec.stop_signal = config.stop_signal;
    }
    if let Some(secs) = config.stop_timeout {
        spec.stop_grace_period = Duration::from_secs(secs);
    }
    spec.init = config.init;
    spec.restart = config
        .restart
        .parse()
        .map_err(|e: engine::restart::PolicyError| AgentError::Invalid(e.to_string()))?;
    spec.healthcheck = config.healthcheck.as_ref().map(healthcheck).transpose()?;
    Ok(spec)
}

/// The seccomp setting of an API configuration: Docker's default profile, none, or a profile
/// in Docker's JSON format.
fn seccomp(profile: &str) -> Result<Seccomp, AgentError> {
    match profile.trim() {
        "" => Ok(Seccomp::Default),
        "unconfined" => Ok(Seccomp::Unconfined),
        text => engine::seccomp::parse_docker_profile(text)
            .map(Seccomp::Profile)
            .map_err(|e| AgentError::Invalid(e.to_string())),
    }
}

/// Warnings for the capabilities a configuration asks for that this agent cannot grant, its
/// own bounding set lacking them: the container gets the others, and a line names these.
pub fn capability_warnings(config: &proto::ContainerConfig) -> Vec<String> {
    let asked = Capabilities {
        add: config.cap_add.clone(),
        drop: config.cap_drop.clone(),
        privileged: config.privileged,
    };
    let Ok(wanted) = asked.resolve() else {
        return Vec::new();
    };
    let (_, missing) = engine::process::grantable(&wanted, &engine::process::own_bounding());
    if missing.is_empty() {
        return Vec::new();
    }
    let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
    vec![format!(
        "the agent's bounding set lacks {}: the container runs without {}",
        names.join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    )]
}

/// The engine healthcheck for an API one; zero durations and retries take the defaults.
pub(crate) fn healthcheck(h: &proto::Healthcheck) -> Result<HealthConfig, AgentError> {
    let defaults = HealthConfig::default();
    let or = |nanos: u64, default: Duration| {
        if nanos == 0 {
            default
        } else {
            Duration::from_nanos(nanos)
        }
    };
    Ok(HealthConfig {
        test: HealthTest::from_docker(&h.test).map_err(AgentError::Invalid)?,
        interval: or(h.interval, defaults.interval),
        timeout: or(h.timeout, defaults.timeout),
        retries: if h.retries == 0 {
            defaults.retries
        } else {
            h.retries
        },
        start_period: or(h.start_period, defaults.start_period),
        start_interval: defaults.start_interval,
    })
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The engine limits of an API configuration, checked with Docker's rules (as the engine
/// checks them again at create), so a client can refuse bad limits before anything is made.
pub fn resources(config: &proto::ContainerConfig) -> Result<Resources, AgentError> {
    let mut r = Resources {
        // Zero is "not set" on the wire; anything else, negative included, is checked.
        memory: (config.memory != 0).then_some(config.memory),
        memory_swap: (config.memory_swap != 0).then_some(config.memory_swap),
        cpu_shares: (config.cpu_shares > 0).then_some(config.cpu_shares),
        // Docker: zero or negative is unlimited.
        pids_limit: (config.pids_limit > 0).then_some(config.pids_limit),
        cpuset_cpus: non_empty(&config.cpuset_cpus),
        ..Resources::default()
    };
    if config.nano_cpus != 0 {
        r = r.with_cpus(config.nano_cpus as f64 / 1e9);
    }
    r.validate()
        .map_err(|e| AgentError::Invalid(e.to_string()))?;
    Ok(r)
}

/// The wire form of an engine container state.
fn wire_state(state: ContainerState) -> proto::ContainerState {
    match state {
        ContainerState::Created => proto::ContainerState::Created,
        ContainerState::Running => proto::ContainerState::Running,
        ContainerState::Paused => proto::ContainerState::Paused,
        ContainerState::Exited { .. } => proto::ContainerState::Exited,
    }
}

/// The wire form of a container's health (`None` while no probe has run: starting).
fn wire_health(status: Option<HealthStatus>) -> proto::Health {
    match status {
        None | Some(HealthStatus::Starting) => proto::Health::Starting,
        Some(HealthStatus::Healthy) => proto::Health::Healthy,
        Some(HealthStatus::Unhealthy) => proto::Health::Unhealthy,
    }
}

/// The listed form of a container; `networks` are the node's networks (its endpoints are
/// looked up there).
pub fn summary(
    meta: &Meta,
    record: &StateRecord,
    spec: Option<&ContainerSpec>,
    networks: &[NetworkRecord],
) -> proto::ContainerSummary {
    let (exit_code, oom_killed) = match record.state {
        ContainerState::Exited { code, oom_killed } => (code, oom_killed),
        _ => (0, false),
    };
    proto::ContainerSummary {
        id: meta.id.clone(),
        name: meta.name.clone(),
        command: spec.map(|s| s.args.clone()).unwrap_or_default(),
        state: wire_state(record.state) as i32,
        exit_code,
        oom_killed,
        created_at: record.created_at,
        started_at: record.started_at.unwrap_or(0),
        finished_at: record.finished_at.unwrap_or(0),
        pid: record.pid.filter(|_| record.state.is_alive()).unwrap_or(0),
        rootfs: spec
            .map(|s| s.rootfs.display().to_string())
            .unwrap_or_default(),
        auto_remove: meta.auto_remove,
        health: if spec.is_some_and(has_check) {
            wire_health(record.health.as_ref().map(|h| h.status)) as i32
        } else {
            proto::Health::None as i32
        },
        health_output: record
            .health
            .as_ref()
            .and_then(|h| h.log.last())
            .map(|probe| probe.output.clone())
            .unwrap_or_default(),
        restart_count: record.restart.restart_count,
        labels: meta.labels.clone().into_iter().collect(),
        image: meta.image.clone(),
        image_id: meta.image_id.clone(),
        ports: networks
            .iter()
            .filter_map(|n| n.endpoints.get(&meta.id))
            .flat_map(|e| e.ports.iter().map(plan::binding))
            .collect(),
        networks: endpoints(meta, networks),
        mounts: spec.map(mounts).unwrap_or_default(),
    }
}

/// The container's endpoints; a network it is configured for but not attached to (it is not
/// running) is listed without addresses.
fn endpoints(meta: &Meta, networks: &[NetworkRecord]) -> Vec<proto::Endpoint> {
    meta.networks
        .iter()
        .map(|plan| {
            let net = networks.iter().find(|n| {
                n.name == plan.network || n.id == plan.network || n.id.starts_with(&plan.network)
            });
            let ep = net.and_then(|n| n.endpoints.get(&meta.id));
            proto::Endpoint {
                network: net.map_or_else(|| plan.network.clone(), |n| n.name.clone()),
                network_id: net.map(|n| n.id.clone()).unwrap_or_default(),
                ipv4_address: match (net, ep) {
                    (Some(n), Some(e)) => format!("{}/{}", e.ipv4, n.subnet.prefix_len()),
                    _ => String::new(),
                },
                mac_address: ep.map(|e| e.mac.clone()).unwrap_or_default(),
                gateway: match (net, ep) {
                    (Some(n), Some(_)) => n.gateway.to_string(),
                    _ => String::new(),
                },
                aliases: plan.aliases.clone(),
                ..Default::default()
            }
        })
        .collect()
}

/// The API form of the spec's extra mounts.
fn mounts(spec: &ContainerSpec) -> Vec<proto::Mount> {
    spec.mounts
        .iter()
        .map(|m| {
            let (kind, source, tmpfs_size, tmpfs_mode, no_copy, subpath) = match &m.kind {
                MountKind::Bind { source } => (
                    "bind",
                    source.display().to_string(),
                    0,
                    0,
                    false,
                    String::new(),
                ),
                MountKind::Volume {
                    name,
                    subpath,
                    no_copy,
                } => (
                    "volume",
                    name.clone(),
                    0,
                    0,
                    *no_copy,
                    subpath
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
                MountKind::Tmpfs { size, mode, .. } => {
                    ("tmpfs", String::new(), *size, *mode, false, String::new())
                }
            };
            proto::Mount {
                r#type: kind.to_string(),
                source,
                target: m.target.display().to_string(),
                read_only: m.read_only,
                tmpfs_size,
                tmpfs_mode,
                no_copy,
                subpath,
                propagation: spec
                    .bind_propagation
                    .get(&m.target)
                    .cloned()
                    .unwrap_or_default(),
                create_host_path: false,
            }
        })
        .collect()
}

/// Whether the spec has a healthcheck that runs.
pub fn has_check(spec: &ContainerSpec) -> bool {
    spec.healthcheck
        .as_ref()
        .is_some_and(|h| h.test.argv().is_some())
}

/// The API form of a cgroup stats sample.
pub fn stats(s: &engine::cgroups::Stats, read_at: u64) -> proto::StatsResponse {
    proto::StatsResponse {
        memory_usage: s.memory_usage,
        memory_limit: s.memory_limit.unwrap_or(0),
        cpu_usage_ns: s.cpu_usage_ns,
        pids: s.pids_current,
        oom_kills: s.oom_kills,
        cpu_throttled_periods: s.cpu_throttled_periods,
        read_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> proto::ContainerConfig {
        proto::ContainerConfig {
            rootfs: "/r".into(),
            args: vec!["sh".into()],
            ..Default::default()
        }
    }

    #[test]
    fn capabilities_outside_the_agents_bounding_set_are_named() {
        let privileged = proto::ContainerConfig {
            privileged: true,
            ..config()
        };
        let add = proto::ContainerConfig {
            cap_add: vec!["NET_ADMIN".into()],
            ..config()
        };
        // The bounding set is per thread: reduce it on a thread of this test's own.
        let warnings = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    caps::drop(
                        None,
                        caps::CapSet::Bounding,
                        caps::Capability::CAP_NET_ADMIN,
                    )
                    .unwrap();
                    [
                        capability_warnings(&config()),
                        capability_warnings(&add),
                        capability_warnings(&privileged),
                    ]
                })
                .join()
                .unwrap()
        });
        let [defaults, add, privileged] = warnings;
        assert_eq!(defaults, Vec::<String>::new());
        assert_eq!(
            add,
            ["the agent's bounding set lacks CAP_NET_ADMIN: the container runs without it"]
        );
        assert_eq!(privileged.len(), 1);
        assert!(privileged[0].contains("CAP_NET_ADMIN, "), "{privileged:?}");
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
    fn defaults_match_the_engine() {
        let spec = spec_from_config(&config()).unwrap();
        assert_eq!(spec, ContainerSpec::new("/r", ["sh"]));
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
            ..config()
        };
        let s = spec_from_config(&c).unwrap();
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
        assert_eq!(s.resources.memory, Some(64 << 20));
        assert_eq!(s.resources.memory_swap, Some(-1));
        assert_eq!(s.resources.cpu_quota, Some(150_000));
        assert_eq!(s.resources.cpu_shares, Some(512));
        assert_eq!(s.resources.pids_limit, Some(10));
        assert!(s.capabilities.privileged && s.masked_paths.is_empty());
        assert!(s.read_only_root);
        assert_eq!(s.stop_signal, 2);
        assert_eq!(s.stop_grace_period, Duration::from_secs(3));
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
        let s = spec_from_config(&c).unwrap();
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
        ];
        for (c, want) in cases {
            let got = spec_from_config(&c).unwrap_err().to_string();
            assert!(got.starts_with(want), "{got} does not start with {want}");
        }
    }
}
