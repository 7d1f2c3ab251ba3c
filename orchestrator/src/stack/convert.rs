//! A compose project → the swarm specs of its services: `deploy.*` into mode, resources,
//! restart policy, placement, update and rollback knobs and service labels; the container keys into the task's
//! container; every service and task container labelled with the stack's namespace.

use std::collections::BTreeMap;

use compose_spec::model::{
    self as compose, DeployMode, Project, RestartCondition as ComposeCondition,
    RestartPolicy as ComposeRestart, Service,
};

use super::error::StackError;
use super::warnings::{Subject, Support, Warning, Warnings};
use super::{IMAGE_LABEL, NAMESPACE_LABEL, mounts, networks, ports, rolling};
use crate::swarm::{
    Constraint, Healthcheck, Mode, NANO_CPUS_PER_CPU, Placement, ResourceRequirements, Resources,
    RestartCondition, RestartPolicy, ServiceSpec, Spread, Ulimit,
};

/// One compose service as a cluster service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackService {
    /// The compose service's name (`web`).
    pub service: String,
    /// The cluster service's name (`<stack>_web`).
    pub name: String,
    /// Its spec.
    pub spec: ServiceSpec,
}

/// Maps `project` to the services of stack `stack`, sorted by name, with one warning per
/// compose key they use that the stack ignores.
pub fn services(
    project: &Project,
    stack: &str,
) -> Result<(Vec<StackService>, Vec<Warning>), StackError> {
    let valid = stack.starts_with(|c: char| c.is_ascii_alphanumeric())
        && stack
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(StackError::Name(stack.to_owned()));
    }
    if project.services.is_empty() {
        return Err(StackError::NoServices);
    }
    let mut warnings = Warnings::default();
    let mut out = Vec::new();
    for (name, definition) in &project.services {
        let keys = match serde_json::to_value(definition) {
            Ok(serde_json::Value::Object(map)) => map.into_iter().map(|(k, _)| k).collect(),
            _ => Vec::new(),
        };
        warnings.unread_keys(name, keys.into_iter());
        out.push(StackService {
            service: name.clone(),
            name: super::service_name(stack, name),
            spec: spec(project, stack, name, definition, &mut warnings)?,
        });
    }
    mounts::volume_warnings(project, &mut warnings);
    Ok((out, warnings.into_vec()))
}

fn spec(
    project: &Project,
    stack: &str,
    name: &str,
    service: &Service,
    warnings: &mut Warnings,
) -> Result<ServiceSpec, StackError> {
    let image = service
        .image
        .clone()
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| StackError::NoImage(name.to_owned()))?;
    let deploy = service.deploy.clone().unwrap_or_default();
    deploy_warnings(name, &deploy, warnings);
    if service.depends_on.values().any(|d| d.restart) {
        warnings.add(
            Subject::Services,
            "depends_on.restart",
            Support::Never,
            Some("depends_on orders the first deploy only; services are then updated on their own"),
            name,
        );
    }
    let mut labels = deploy.labels.clone();
    labels.insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
    labels.insert(IMAGE_LABEL.to_owned(), image.clone());
    let mut container_labels = service.labels.clone();
    container_labels.insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
    Ok(ServiceSpec {
        entrypoint: service.entrypoint.clone(),
        command: service.command.clone(),
        env: service
            .environment
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect(),
        user: service.user.clone(),
        workdir: service.working_dir.clone(),
        hostname: service.hostname.clone(),
        labels,
        container_labels,
        mounts: mounts::mounts(project, stack, name, service, warnings)?,
        healthcheck: healthcheck(name, service, warnings)?,
        stop_signal: service.stop_signal.clone(),
        stop_grace_period: service.stop_grace_period.map(|d| d.as_std()),
        init: service.init,
        read_only: service.read_only,
        cap_add: service.cap_add.clone(),
        cap_drop: service.cap_drop.clone(),
        sysctls: service.sysctls.clone(),
        ulimits: ulimits(name, &service.ulimits)?,
        resources: resources(name, &deploy)?,
        ports: ports::ports(name, service, warnings)?,
        restart_policy: restart_policy(&deploy, service.restart),
        placement: placement(name, &deploy)?,
        mode: mode(name, service, &deploy)?,
        // A compose file has no such setting: a stack's tasks keep running when cut off.
        stop_on_disconnect: None,
        update_config: rolling::update_config(
            name,
            "deploy.update_config",
            deploy.update_config.as_ref(),
        )?,
        rollback_config: rolling::update_config(
            name,
            "deploy.rollback_config",
            deploy.rollback_config.as_ref(),
        )?,
        networks: networks::attachments(project, stack, name, service, warnings)?,
        endpoint_mode: match deploy.endpoint_mode {
            Some(compose::EndpointMode::Dnsrr) => crate::swarm::EndpointMode::Dnsrr,
            _ => crate::swarm::EndpointMode::Vip,
        },
        secrets: Vec::new(),
        configs: Vec::new(),
        image,
    })
}

fn deploy_warnings(name: &str, deploy: &compose::Deploy, warnings: &mut Warnings) {
    if let Some(resources) = &deploy.resources {
        if resources.limits.as_ref().is_some_and(|l| l.pids.is_some()) {
            warnings.not_yet("deploy.resources.limits.pids", None, name);
        }
        if let Some(reservations) = &resources.reservations {
            if !reservations.generic_resources.is_empty() {
                warnings.not_yet(
                    "deploy.resources.reservations.generic_resources",
                    None,
                    name,
                );
            }
            if !reservations.devices.is_empty() {
                warnings.not_yet("deploy.resources.reservations.devices", None, name);
            }
        }
    }
}

fn mode_name(mode: DeployMode) -> &'static str {
    mode.as_str()
}

fn mode(name: &str, service: &Service, deploy: &compose::Deploy) -> Result<Mode, StackError> {
    let replicas = service.scale.or(deploy.replicas);
    let wanted = deploy.mode.unwrap_or(DeployMode::Replicated);
    Ok(match wanted {
        DeployMode::Replicated => Mode::Replicated {
            replicas: replicas.unwrap_or(1),
        },
        DeployMode::ReplicatedJob => {
            let total = replicas.unwrap_or(1);
            Mode::ReplicatedJob {
                total_completions: total,
                max_concurrent: total.max(1),
            }
        }
        DeployMode::Global | DeployMode::GlobalJob if replicas.is_some() => {
            return Err(StackError::ReplicasWithoutSlots {
                service: name.to_owned(),
                mode: mode_name(wanted),
            });
        }
        DeployMode::Global => Mode::Global,
        DeployMode::GlobalJob => Mode::GlobalJob,
    })
}

fn nano_cpus(name: &str, key: &'static str, cpus: Option<f64>) -> Result<u64, StackError> {
    let Some(cpus) = cpus else { return Ok(0) };
    let nanos = cpus * NANO_CPUS_PER_CPU as f64;
    if !nanos.is_finite() || nanos < 0.0 || nanos > u64::MAX as f64 {
        return Err(StackError::value(
            name,
            key,
            cpus.to_string(),
            "expected a number of CPUs such as 0.5 or 2",
        ));
    }
    Ok(nanos.round() as u64)
}

fn memory(
    name: &str,
    key: &'static str,
    size: Option<compose::ByteSize>,
) -> Result<u64, StackError> {
    let Some(size) = size else { return Ok(0) };
    u64::try_from(size.bytes()).map_err(|_| {
        StackError::value(
            name,
            key,
            size.bytes().to_string(),
            "a size must not be negative",
        )
    })
}

fn resources(name: &str, deploy: &compose::Deploy) -> Result<ResourceRequirements, StackError> {
    let Some(resources) = &deploy.resources else {
        return Ok(ResourceRequirements::default());
    };
    let limits = resources.limits.clone().unwrap_or_default();
    let reservations = resources.reservations.clone().unwrap_or_default();
    Ok(ResourceRequirements {
        limits: Resources {
            nano_cpus: nano_cpus(name, "deploy.resources.limits.cpus", limits.cpus)?,
            memory_bytes: memory(name, "deploy.resources.limits.memory", limits.memory)?,
        },
        reservations: Resources {
            nano_cpus: nano_cpus(
                name,
                "deploy.resources.reservations.cpus",
                reservations.cpus,
            )?,
            memory_bytes: memory(
                name,
                "deploy.resources.reservations.memory",
                reservations.memory,
            )?,
        },
    })
}

/// `deploy.restart_policy`, else `restart:` (`no` → none, `on-failure[:N]` → on-failure
/// with N attempts, `always` and `unless-stopped` → any). Zero attempts means unlimited, as
/// in Docker.
fn restart_policy(deploy: &compose::Deploy, restart: Option<ComposeRestart>) -> RestartPolicy {
    let mut policy = RestartPolicy::default();
    let attempts = |n: Option<u64>| n.filter(|n| *n > 0);
    if let Some(given) = &deploy.restart_policy {
        if let Some(condition) = given.condition {
            policy.condition = match condition {
                ComposeCondition::None => RestartCondition::None,
                ComposeCondition::OnFailure => RestartCondition::OnFailure,
                ComposeCondition::Any => RestartCondition::Any,
            };
        }
        if let Some(delay) = given.delay {
            policy.delay = delay.as_std();
        }
        policy.max_attempts = attempts(given.max_attempts);
        policy.window = given.window.map(|w| w.as_std());
        return policy;
    }
    match restart {
        None => {}
        Some(ComposeRestart::No) => policy.condition = RestartCondition::None,
        Some(ComposeRestart::Always | ComposeRestart::UnlessStopped) => {
            policy.condition = RestartCondition::Any
        }
        Some(ComposeRestart::OnFailure { max_retries }) => {
            policy.condition = RestartCondition::OnFailure;
            policy.max_attempts = attempts(max_retries);
        }
    }
    policy
}

fn placement(name: &str, deploy: &compose::Deploy) -> Result<Placement, StackError> {
    let Some(given) = &deploy.placement else {
        return Ok(Placement::default());
    };
    let constraints = given
        .constraints
        .iter()
        .map(|c| {
            c.parse::<Constraint>().map_err(|e| {
                StackError::value(name, "deploy.placement.constraints", c, e.to_string())
            })
        })
        .collect::<Result<_, _>>()?;
    let preferences = given
        .preferences
        .iter()
        .filter_map(|p| p.spread.as_deref())
        .map(|label| {
            format!("spread={label}").parse::<Spread>().map_err(|_| {
                StackError::value(
                    name,
                    "deploy.placement.preferences.spread",
                    label,
                    "expected node.labels.NAME",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Placement {
        constraints,
        preferences,
        max_replicas_per_node: given.max_replicas_per_node,
    })
}

fn healthcheck(
    name: &str,
    service: &Service,
    warnings: &mut Warnings,
) -> Result<Option<Healthcheck>, StackError> {
    let Some(check) = &service.healthcheck else {
        return Ok(None);
    };
    if check.start_interval.is_some() {
        warnings.not_yet("healthcheck.start_interval", None, name);
    }
    let retries = check
        .retries
        .map(|r| {
            u32::try_from(r).map_err(|_| {
                StackError::value(name, "healthcheck.retries", r.to_string(), "too large")
            })
        })
        .transpose()?;
    let std = |d: Option<compose::Duration>| d.map(|d| d.as_std());
    Ok(Some(Healthcheck {
        test: check.test.clone().unwrap_or_default(),
        interval: std(check.interval),
        timeout: std(check.timeout),
        retries,
        start_period: std(check.start_period),
    }))
}

/// Limits by name; `-1` is unlimited.
fn ulimits(
    name: &str,
    given: &BTreeMap<String, compose::Ulimit>,
) -> Result<Vec<Ulimit>, StackError> {
    let value = |key: &str, n: i64| match n {
        -1 => Ok(u64::MAX),
        n => u64::try_from(n).map_err(|_| {
            StackError::value(
                name,
                "ulimits",
                format!("{key}={n}"),
                "expected a limit, or -1 for unlimited",
            )
        }),
    };
    given
        .iter()
        .map(|(key, limit)| {
            Ok(Ulimit {
                name: key.clone(),
                soft: value(key, limit.soft)?,
                hard: value(key, limit.hard)?,
            })
        })
        .collect()
}
