//! A planned container ([`ContainerSpec`]: the compose service plus its resolved names) → the
//! agent's [`ContainerConfig`](proto::ContainerConfig).
//!
//! Keys the agent cannot honour are never dropped silently: those that would change what the
//! container is (privileged exec hooks, per-replica `pre_start` hooks and the mount types it
//! lacks) are errors
//! naming the key ([`check_limits`] finds them
//! before anything is created); [`unsupported`] lists the others as warnings (the CLI prints
//! them before acting).

use std::str::FromStr;

use compose_spec::model::Service;
use nix::sys::signal::Signal;
use orchestrator::compose::{ContainerSpec, labels};

use crate::proto;

mod mounts;
mod network;
mod refused;

/// Why a service cannot become a container configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service {service}: {message}")]
pub struct TranslateError {
    /// The service.
    pub service: String,
    /// What is wrong.
    pub message: String,
}

impl TranslateError {
    pub(crate) fn new(service: &str, message: impl Into<String>) -> Self {
        Self {
            service: service.to_string(),
            message: message.into(),
        }
    }
}

/// The agent configuration of one planned container.
pub fn container_config(spec: &ContainerSpec) -> Result<proto::ContainerConfig, TranslateError> {
    let service = &spec.definition;
    let name = spec.service.as_str();
    super::hooks::check(name, service)?;
    refused::check(name, service)?;
    let mut config = proto::ContainerConfig {
        image: spec.image.clone(),
        labels: spec.labels.clone().into_iter().collect(),
        working_dir: service.working_dir.clone().unwrap_or_default(),
        user: service.user.clone().unwrap_or_default(),
        hostname: service.hostname.clone().unwrap_or_default(),
        domainname: service.domainname.clone().unwrap_or_default(),
        cap_add: service.cap_add.clone(),
        cap_drop: service.cap_drop.clone(),
        privileged: service.privileged,
        read_only: service.read_only,
        init: service.init.unwrap_or(false),
        tty: service.tty,
        stdin_open: service.stdin_open,
        group_add: service.group_add.clone(),
        dns: service.dns.clone(),
        dns_search: service.dns_search.clone(),
        dns_options: service.dns_opt.clone(),
        sysctls: service.sysctls.clone().into_iter().collect(),
        cpuset_cpus: service.cpuset.clone().unwrap_or_default(),
        ..Default::default()
    };
    if let Some(entrypoint) = &service.entrypoint {
        config.entrypoint = entrypoint.clone();
        config.has_entrypoint = true;
    }
    if let Some(command) = &service.command {
        config.cmd = command.clone();
        config.has_cmd = true;
    }
    config.env = service
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    config.extra_hosts = service
        .extra_hosts
        .iter()
        .flat_map(|(host, ips)| ips.iter().map(move |ip| format!("{host}:{ip}")))
        .collect();
    config.ulimits = service
        .ulimits
        .iter()
        .map(|(name, limit)| {
            let soft = u64::try_from(limit.soft)
                .map_err(|_| TranslateError::new(name, format!("negative ulimit {name}")))?;
            let hard = u64::try_from(limit.hard)
                .map_err(|_| TranslateError::new(name, format!("negative ulimit {name}")))?;
            Ok(proto::Ulimit {
                name: name.clone(),
                soft,
                hard,
            })
        })
        .collect::<Result<_, TranslateError>>()?;
    let supported: Vec<String> = service
        .security_opt
        .iter()
        .filter(|o| crate::security_opt::is_supported(o))
        .cloned()
        .collect();
    crate::security_opt::apply(&supported, &mut config)
        .map_err(|e| TranslateError::new(name, e.to_string()))?;
    if let Some(restart) = &service.restart {
        config.restart = restart.to_string();
    }
    // As Compose on one host: `deploy.restart_policy` over `restart` (delay and window are
    // for a swarm's scheduler).
    if let Some(policy) = service
        .deploy
        .as_ref()
        .and_then(|d| d.restart_policy.as_ref())
    {
        config.restart = restart_policy(policy);
    }
    if let Some(signal) = &service.stop_signal {
        config.stop_signal = signal_number(signal)
            .ok_or_else(|| TranslateError::new(name, format!("unknown stop_signal {signal}")))?;
    }
    if let Some(grace) = &service.stop_grace_period {
        config.stop_timeout = Some(grace.as_std().as_secs());
    }
    if let Some(check) = &service.healthcheck {
        check_start_interval(name, check)?;
        config.healthcheck = Some(healthcheck(check));
    }
    resources(service, &mut config);
    check_resources(name, &config)?;
    logging(service, &mut config);
    config.pull_policy = pull_policy(service).to_string();
    if let Some(shm) = &service.shm_size {
        config.shm_size = u64::try_from(shm.bytes()).unwrap_or(0);
    }
    network::apply(spec, &mut config)?;
    mounts::apply(spec, &mut config)?;
    shared(spec, &mut config)?;
    Ok(config)
}

/// `ipc` and `volumes_from`: another service's or container's namespace and mounts. The
/// planner names a service's first container (`container:<name>`); a bare service left is
/// named the same way.
fn shared(spec: &ContainerSpec, config: &mut proto::ContainerConfig) -> Result<(), TranslateError> {
    let service = &spec.definition;
    let first = |other: &str| labels::container_name(&spec.project, other, 1);
    config.ipc_mode = match service.ipc.as_deref() {
        None | Some("private" | "shareable") => String::new(),
        Some("host") => "host".to_string(),
        Some(mode) => match (
            mode.strip_prefix("service:"),
            mode.strip_prefix("container:"),
        ) {
            (Some(other), _) => format!("container:{}", first(other)),
            (_, Some(_)) => mode.to_string(),
            _ => {
                return Err(TranslateError::new(
                    &spec.service,
                    format!(
                        "ipc: unknown mode {mode:?} (use private, shareable, host, service:NAME or container:NAME)"
                    ),
                ));
            }
        },
    };
    config.volumes_from = service
        .volumes_from
        .iter()
        .map(|from| match from.strip_prefix("container:") {
            Some(container) => container.to_string(),
            None => match from.split_once(':') {
                Some((other, access)) => format!("{}:{access}", first(other)),
                None => first(from),
            },
        })
        .collect();
    Ok(())
}

/// `deploy.restart_policy` as a container restart policy, as Compose maps it.
fn restart_policy(policy: &compose_spec::model::RestartPolicyConfig) -> String {
    use compose_spec::model::RestartCondition;
    match policy.condition {
        Some(RestartCondition::None) => "no".to_string(),
        Some(RestartCondition::OnFailure) => match policy.max_attempts {
            Some(n) if n > 0 => format!("on-failure:{n}"),
            _ => "on-failure".to_string(),
        },
        Some(RestartCondition::Any) | None => "always".to_string(),
    }
}

/// A signal name (`SIGTERM`, `TERM`) or number.
pub fn signal_number(text: &str) -> Option<i32> {
    if let Ok(number) = text.parse::<i32>() {
        return Some(number);
    }
    let upper = text.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&full).ok().map(|s| s as i32)
}

fn healthcheck(check: &compose_spec::model::Healthcheck) -> proto::Healthcheck {
    let nanos = |d: &Option<compose_spec::model::Duration>| {
        d.as_ref()
            .map(|d| u64::try_from(d.as_std().as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    };
    let test = if check.is_disabled() {
        vec!["NONE".to_string()]
    } else {
        check.test.clone().unwrap_or_default()
    };
    proto::Healthcheck {
        test,
        interval: nanos(&check.interval),
        timeout: nanos(&check.timeout),
        retries: check
            .retries
            .map(|r| u32::try_from(r).unwrap_or(u32::MAX))
            .unwrap_or(0),
        start_period: nanos(&check.start_period),
        start_interval: nanos(&check.start_interval),
    }
}

/// `deploy.resources.limits` over `mem_limit` / `cpus` / `pids_limit`.
fn resources(service: &Service, config: &mut proto::ContainerConfig) {
    let limits = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    let memory = limits
        .and_then(|l| l.memory)
        .or(service.mem_limit)
        .map(|m| m.bytes());
    config.memory = memory.unwrap_or(0);
    if let Some(swap) = service.memswap_limit {
        config.memory_swap = swap.bytes();
    }
    let cpus = limits.and_then(|l| l.cpus).or(service.cpus);
    config.nano_cpus = cpus.map(|c| (c * 1e9) as i64).unwrap_or(0);
    config.pids_limit = limits
        .and_then(|l| l.pids)
        .or(service.pids_limit)
        .unwrap_or(0);
    config.cpu_shares = service
        .cpu_shares
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(0);
}

/// Compose's rule: `start_interval` only applies during `start_period`, so it needs one.
fn check_start_interval(
    name: &str,
    check: &compose_spec::model::Healthcheck,
) -> Result<(), TranslateError> {
    if check.start_interval.is_some() && check.start_period.is_none() {
        return Err(TranslateError::new(
            name,
            "healthcheck.start_interval requires healthcheck.start_period to be set",
        ));
    }
    Ok(())
}

/// Checks the service's resource limits with Docker's bounds (as the agent checks them) and
/// its healthcheck's `start_interval` rule, so `up` can refuse them, naming the service,
/// before it creates anything.
pub fn check_limits(name: &str, service: &Service) -> Result<(), TranslateError> {
    if let Some(check) = &service.healthcheck {
        check_start_interval(name, check)?;
    }
    super::hooks::check(name, service)?;
    refused::check(name, service)?;
    let mut config = proto::ContainerConfig {
        cpuset_cpus: service.cpuset.clone().unwrap_or_default(),
        ..Default::default()
    };
    resources(service, &mut config);
    check_resources(name, &config)
}

fn check_resources(name: &str, config: &proto::ContainerConfig) -> Result<(), TranslateError> {
    crate::decode::resources(config)
        .map(drop)
        .map_err(|e| TranslateError::new(name, e.to_string()))
}

/// `logging.options` max-size / max-file of the json-file and local drivers.
fn logging(service: &Service, config: &mut proto::ContainerConfig) {
    let Some(logging) = &service.logging else {
        return;
    };
    if let Some(size) = logging.options.get("max-size")
        && let Ok(size) = compose_spec::model::ByteSize::parse(size)
    {
        config.log_max_size = u64::try_from(size.bytes()).unwrap_or(0);
    }
    if let Some(files) = logging.options.get("max-file")
        && let Ok(files) = files.parse()
    {
        config.log_max_files = files;
    }
}

fn pull_policy(service: &Service) -> &'static str {
    use compose_spec::model::PullPolicy;
    match service.pull_policy {
        Some(PullPolicy::Always) => "always",
        Some(PullPolicy::Never | PullPolicy::Build) => "never",
        _ if service.build.is_some() => "never",
        _ => "missing",
    }
}

/// Warnings for the keys of `service` that the agent does not honour, one per key.
pub fn unsupported(name: &str, service: &Service) -> Vec<String> {
    let mut found: Vec<&str> = Vec::new();
    let mut check = |set: bool, key: &'static str| {
        if set {
            found.push(key);
        }
    };
    check(!service.devices.is_empty(), "devices");
    check(!service.gpus.is_empty(), "gpus");
    check(!service.external_links.is_empty(), "external_links");
    check(service.pid.is_some(), "pid");
    check(service.uts.is_some(), "uts");
    check(service.userns_mode.is_some(), "userns_mode");
    check(service.cgroup_parent.is_some(), "cgroup_parent");
    check(service.cgroup.is_some(), "cgroup");
    check(service.runtime.is_some(), "runtime");
    check(service.mem_reservation.is_some(), "mem_reservation");
    check(service.mem_swappiness.is_some(), "mem_swappiness");
    check(service.oom_score_adj.is_some(), "oom_score_adj");
    check(service.oom_kill_disable, "oom_kill_disable");
    check(service.blkio_config.is_some(), "blkio_config");
    check(service.cpu_quota.is_some(), "cpu_quota");
    check(service.cpu_period.is_some(), "cpu_period");
    check(service.cpu_rt_period.is_some(), "cpu_rt_period");
    check(service.cpu_rt_runtime.is_some(), "cpu_rt_runtime");
    check(
        !service.device_cgroup_rules.is_empty(),
        "device_cgroup_rules",
    );
    check(!service.storage_opt.is_empty(), "storage_opt");
    check(
        service
            .security_opt
            .iter()
            .any(|o| !crate::security_opt::is_supported(o)),
        "security_opt (other than no-new-privileges and seccomp)",
    );
    check(
        service.logging.as_ref().is_some_and(|l| {
            l.driver
                .as_deref()
                .is_some_and(|d| !matches!(d, "json-file" | "local"))
        }),
        "logging.driver (logs are kept by the agent)",
    );
    found
        .into_iter()
        .map(|key| format!("service {name}: {key} is not supported by bosun and is ignored"))
        .collect()
}

/// The DNS names of a container on its networks: its service name, before the network's own
/// aliases.
pub fn service_aliases(spec: &ContainerSpec) -> Vec<String> {
    let mut names = vec![spec.service.clone()];
    if spec
        .labels
        .get(labels::ONEOFF)
        .is_some_and(|v| v == labels::TRUE)
    {
        names.clear();
    }
    names
}

#[cfg(test)]
mod tests;
