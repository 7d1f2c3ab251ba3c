//! Decodes a service spec as the user wrote it ([`proto::SpecRequest`]) into the swarm's
//! [`ServiceSpec`], validating it on the way: every mistake is one [`SpecError`] line. Mounts and
//! published ports are in `container.rs`.

mod container;
mod files;
mod network;
mod update_config;

pub use container::{mount, publish};
pub use files::{check_spec_files, edited, file_ref, file_refs};
pub use network::{network, networks};
pub use update_config::{Knobs, check_start_first, update_config};

use std::collections::BTreeMap;
use std::time::Duration;

use orchestrator::swarm::{
    Constraint, EndpointMode, FileKind, Healthcheck, Mode, NANO_CPUS_PER_CPU, RestartCondition,
    ServiceSpec, Spread,
};

use super::proto;

/// A spec field that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// No image.
    #[error("an image is required")]
    NoImage,
    /// A service name that is not allowed.
    #[error(
        "invalid service name {0:?}: use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit"
    )]
    Name(String),
    /// An unknown mode.
    #[error("unknown mode {0:?}: expected replicated, global, replicated-job or global-job")]
    Mode(String),
    /// `--replicas` on a mode without replicas.
    #[error("--replicas can only be used with replicated or replicated-job mode, not {0}")]
    ReplicasWithoutSlots(&'static str),
    /// `--max-concurrent` on a mode other than replicated-job.
    #[error("--max-concurrent can only be used with replicated-job mode, not {0}")]
    MaxConcurrent(&'static str),
    /// A malformed value of a flag.
    #[error("invalid {flag} {value:?}: {why}")]
    Value {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What is expected.
        why: String,
    },
    /// A placement constraint or preference.
    #[error(transparent)]
    Constraint(#[from] orchestrator::swarm::ConstraintError),
    /// An endpoint mode other than vip or dnsrr.
    #[error("{0}")]
    EndpointMode(String),
    /// Two flags that exclude each other.
    #[error("{0} and {1} cannot be used together")]
    Conflict(&'static str, &'static str),
    /// A whole spec (json) that does not decode.
    #[error("invalid service spec: {0}")]
    Json(String),
    /// Registry credentials without a registry, or without a user and password or token.
    #[error(
        "incomplete registry credentials for {0:?}: a registry and a user name with a password (or an identity token) are needed"
    )]
    RegistryAuth(String),
    /// A start-first update with a host-mode published port.
    #[error(
        "start-first updates cannot be used with host-mode published port {0}: the new task could not bind it beside the old one; use stop-first"
    )]
    StartFirstHostPort(u16),
    /// An update request that does not apply to the service as it is.
    #[error(transparent)]
    Update(#[from] orchestrator::swarm::UpdateRequestError),
}

pub(super) fn invalid(flag: &'static str, value: &str, why: impl Into<String>) -> SpecError {
    SpecError::Value {
        flag,
        value: value.to_owned(),
        why: why.into(),
    }
}

/// The mode's name, as `--mode` spells it.
pub fn mode_name(mode: &Mode) -> &'static str {
    match mode {
        Mode::Replicated { .. } => "replicated",
        Mode::Global => "global",
        Mode::ReplicatedJob { .. } => "replicated-job",
        Mode::GlobalJob => "global-job",
    }
}

/// A service name: given, or the image's last path component without tag or digest.
pub fn service_name(given: &str, image: &str) -> Result<String, SpecError> {
    let name = if given.is_empty() {
        let base = image.rsplit('/').next().unwrap_or(image);
        let base = base.split('@').next().unwrap_or(base);
        base.split(':').next().unwrap_or(base).to_owned()
    } else {
        given.to_owned()
    };
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(name)
    } else {
        Err(SpecError::Name(name))
    }
}

fn mode(spec: &proto::SpecRequest) -> Result<Mode, SpecError> {
    let replicas = spec.replicas.as_ref().map(|c| c.value);
    let max_concurrent = spec.max_concurrent.as_ref().map(|c| c.value);
    let mode = match spec.mode.as_str() {
        "" | "replicated" => Mode::Replicated {
            replicas: replicas.unwrap_or(1),
        },
        "global" => Mode::Global,
        "replicated-job" => {
            let total = replicas.unwrap_or(1);
            Mode::ReplicatedJob {
                total_completions: total,
                max_concurrent: max_concurrent.unwrap_or(total).max(1),
            }
        }
        "global-job" => Mode::GlobalJob,
        other => return Err(SpecError::Mode(other.to_owned())),
    };
    if replicas.is_some() && !mode.is_replicated() {
        return Err(SpecError::ReplicasWithoutSlots(mode_name(&mode)));
    }
    if max_concurrent.is_some() && !matches!(mode, Mode::ReplicatedJob { .. }) {
        return Err(SpecError::MaxConcurrent(mode_name(&mode)));
    }
    Ok(mode)
}

/// `NAME=VALUE` pairs into a map (`--env`).
pub fn env_pairs(
    flag: &'static str,
    items: &[String],
) -> Result<BTreeMap<String, String>, SpecError> {
    let mut map = BTreeMap::new();
    for item in items {
        match item.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                map.insert(name.to_owned(), value.to_owned());
            }
            _ => return Err(invalid(flag, item, "expected NAME=VALUE")),
        }
    }
    Ok(map)
}

/// `KEY=VALUE` or `KEY` (empty value) pairs into a map (`--label`).
pub fn label_pairs(
    flag: &'static str,
    items: &[String],
) -> Result<BTreeMap<String, String>, SpecError> {
    let mut map = BTreeMap::new();
    for item in items {
        let (key, value) = item.split_once('=').unwrap_or((item.as_str(), ""));
        if key.is_empty() {
            return Err(invalid(flag, item, "expected KEY=VALUE or KEY"));
        }
        map.insert(key.to_owned(), value.to_owned());
    }
    Ok(map)
}

fn duration(flag: &'static str, text: &str) -> Result<Option<Duration>, SpecError> {
    if text.is_empty() {
        return Ok(None);
    }
    humantime::parse_duration(text)
        .map(Some)
        .map_err(|e| invalid(flag, text, e.to_string()))
}

/// CPUs as a decimal (`0.5`, `2`) into nano-CPUs.
pub fn nano_cpus(flag: &'static str, text: &str) -> Result<u64, SpecError> {
    if text.is_empty() {
        return Ok(0);
    }
    let bad = || invalid(flag, text, "expected a number of CPUs such as 0.5 or 2");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if (whole.is_empty() && fraction.is_empty())
        || fraction.len() > 9
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let padded = format!("{fraction:0<9}");
    let fraction: u64 = padded.parse().map_err(|_| bad())?;
    whole
        .checked_mul(NANO_CPUS_PER_CPU)
        .and_then(|n| n.checked_add(fraction))
        .ok_or_else(bad)
}

/// A size (`512m`, `2GiB`) in bytes.
pub fn bytes(flag: &'static str, text: &str) -> Result<u64, SpecError> {
    if text.is_empty() {
        return Ok(0);
    }
    compose_spec::model::ram_in_bytes(text)
        .ok()
        .and_then(|b| u64::try_from(b).ok())
        .ok_or_else(|| invalid(flag, text, "expected a size such as 512m or 2g"))
}

fn restart_condition(text: &str) -> Result<Option<RestartCondition>, SpecError> {
    match text {
        "" => Ok(None),
        "none" => Ok(Some(RestartCondition::None)),
        "on-failure" => Ok(Some(RestartCondition::OnFailure)),
        "any" => Ok(Some(RestartCondition::Any)),
        other => Err(invalid(
            "--restart-condition",
            other,
            "expected none, on-failure or any",
        )),
    }
}

fn healthcheck(spec: &proto::SpecRequest) -> Result<Option<Healthcheck>, SpecError> {
    if spec.no_healthcheck {
        if !spec.health_cmd.is_empty() {
            return Err(SpecError::Conflict("--no-healthcheck", "--health-cmd"));
        }
        return Ok(Some(Healthcheck {
            test: vec!["NONE".to_owned()],
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        }));
    }
    let tuned = !spec.health_interval.is_empty()
        || !spec.health_timeout.is_empty()
        || spec.health_retries.is_some()
        || !spec.health_start_period.is_empty();
    if spec.health_cmd.is_empty() && !tuned {
        return Ok(None);
    }
    let retries = match &spec.health_retries {
        Some(count) => Some(
            u32::try_from(count.value)
                .map_err(|_| invalid("--health-retries", &count.value.to_string(), "too large"))?,
        ),
        None => None,
    };
    Ok(Some(Healthcheck {
        test: if spec.health_cmd.is_empty() {
            Vec::new()
        } else {
            vec!["CMD-SHELL".to_owned(), spec.health_cmd.clone()]
        },
        interval: duration("--health-interval", &spec.health_interval)?,
        timeout: duration("--health-timeout", &spec.health_timeout)?,
        retries,
        start_period: duration("--health-start-period", &spec.health_start_period)?,
    }))
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// Decodes and validates `spec`.
pub fn spec(spec: &proto::SpecRequest) -> Result<ServiceSpec, SpecError> {
    if spec.image.trim().is_empty() {
        return Err(SpecError::NoImage);
    }
    let mut out = ServiceSpec {
        image: spec.image.trim().to_owned(),
        mode: mode(spec)?,
        ..ServiceSpec::default()
    };
    if !spec.entrypoint.trim().is_empty() {
        out.entrypoint = Some(
            spec.entrypoint
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        );
    }
    if !spec.args.is_empty() {
        out.command = Some(spec.args.clone());
    }
    out.env = env_pairs("--env", &spec.env)?;
    out.labels = label_pairs("--label", &spec.labels)?;
    out.container_labels = label_pairs("--container-label", &spec.container_labels)?;
    out.mounts = spec
        .mounts
        .iter()
        .map(|m| mount(m))
        .collect::<Result<_, _>>()?;
    out.ports = spec
        .publish
        .iter()
        .map(|p| publish(p))
        .collect::<Result<_, _>>()?;
    out.placement.constraints = spec
        .constraints
        .iter()
        .map(|c| c.parse::<Constraint>())
        .collect::<Result<_, _>>()?;
    out.placement.preferences = spec
        .placement_prefs
        .iter()
        .map(|p| p.parse::<Spread>())
        .collect::<Result<_, _>>()?;
    out.placement.max_replicas_per_node = spec.max_replicas_per_node.as_ref().map(|c| c.value);
    let resources = &mut out.resources;
    resources.reservations.nano_cpus = nano_cpus("--reserve-cpu", &spec.reserve_cpu)?;
    resources.reservations.memory_bytes = bytes("--reserve-memory", &spec.reserve_memory)?;
    resources.limits.nano_cpus = nano_cpus("--limit-cpu", &spec.limit_cpu)?;
    resources.limits.memory_bytes = bytes("--limit-memory", &spec.limit_memory)?;
    let policy = &mut out.restart_policy;
    if let Some(condition) = restart_condition(&spec.restart_condition)? {
        policy.condition = condition;
    }
    if let Some(delay) = duration("--restart-delay", &spec.restart_delay)? {
        policy.delay = delay;
    }
    policy.max_attempts = spec.restart_max_attempts.as_ref().map(|c| c.value);
    policy.window = duration("--restart-window", &spec.restart_window)?;
    out.healthcheck = healthcheck(spec)?;
    out.user = non_empty(&spec.user);
    out.workdir = non_empty(&spec.workdir);
    out.hostname = non_empty(&spec.hostname);
    out.stop_grace_period = duration("--stop-grace-period", &spec.stop_grace_period)?;
    out.stop_signal = non_empty(&spec.stop_signal);
    out.init = spec.init.then_some(true);
    out.read_only = spec.read_only;
    out.stop_on_disconnect = stop_on_disconnect(&spec.stop_on_disconnect)?.flatten();
    out.update_config = update_config(
        Knobs::Update,
        spec.update_config.as_ref(),
        out.update_config,
    )?;
    out.rollback_config = update_config(
        Knobs::Rollback,
        spec.rollback_config.as_ref(),
        out.rollback_config,
    )?;
    check_start_first(&out)?;
    out.networks = networks("--network", &spec.networks)?;
    out.endpoint_mode = endpoint_mode(&spec.endpoint_mode)?.unwrap_or_default();
    out.secrets = file_refs("--secret", FileKind::Secret, &spec.secrets)?;
    out.configs = file_refs("--config", FileKind::Config, &spec.configs)?;
    Ok(out)
}

/// `--endpoint-mode`: `None` when not given.
pub fn endpoint_mode(text: &str) -> Result<Option<EndpointMode>, SpecError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(SpecError::EndpointMode)
}

/// `--stop-on-disconnect`: `None` when not given, `Some(None)` for 0 (never), else the
/// duration.
pub fn stop_on_disconnect(text: &str) -> Result<Option<Option<Duration>>, SpecError> {
    Ok(duration("--stop-on-disconnect", text)?.map(|d| (!d.is_zero()).then_some(d)))
}

/// Registry credentials sent with a create or update (`--with-registry-auth`): a registry,
/// and a user name with a password or an identity token.
pub fn registry_auth(
    wire: Option<&proto::RegistryAuth>,
) -> Result<Option<cluster_state::RegistryAuth>, SpecError> {
    let Some(wire) = wire else { return Ok(None) };
    let complete = !wire.registry.trim().is_empty()
        && ((!wire.username.is_empty() && !wire.password.is_empty())
            || !wire.identity_token.is_empty());
    if !complete {
        return Err(SpecError::RegistryAuth(wire.registry.clone()));
    }
    Ok(Some(cluster_state::RegistryAuth {
        registry: wire.registry.trim().to_owned(),
        username: wire.username.clone(),
        password: wire.password.clone(),
        identity_token: wire.identity_token.clone(),
    }))
}

/// Decodes and validates a whole spec sent as json (`stack deploy`): the checks of [`spec`]
/// that the types do not already make (an image; a job running at least one task at once).
pub fn spec_json(data: &[u8]) -> Result<ServiceSpec, SpecError> {
    let mut spec: ServiceSpec =
        serde_json::from_slice(data).map_err(|e| SpecError::Json(e.to_string()))?;
    spec.image = spec.image.trim().to_owned();
    if spec.image.is_empty() {
        return Err(SpecError::NoImage);
    }
    if let Mode::ReplicatedJob { max_concurrent, .. } = &mut spec.mode {
        *max_concurrent = (*max_concurrent).max(1);
    }
    check_start_first(&spec)?;
    check_spec_files(&spec)?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::Protocol;

    fn request(image: &str) -> proto::SpecRequest {
        proto::SpecRequest {
            image: image.into(),
            ..Default::default()
        }
    }

    #[test]
    fn endpoint_mode_defaults_to_vip() {
        assert_eq!(
            spec(&request("nginx")).unwrap().endpoint_mode,
            EndpointMode::Vip
        );
        let mut r = request("nginx");
        r.endpoint_mode = "dnsrr".into();
        assert_eq!(spec(&r).unwrap().endpoint_mode, EndpointMode::Dnsrr);
    }

    #[test]
    fn flags_decode_into_the_spec() {
        let mut r = request("nginx:1.27");
        r.replicas = Some(proto::Count { value: 6 });
        r.env = vec!["A=1".into(), "B=".into()];
        r.constraints = vec!["node.labels.zone==east".into()];
        r.reserve_cpu = "0.5".into();
        r.reserve_memory = "2g".into();
        r.publish = vec![
            "mode=host,target=80,published=8080,name=http".into(),
            "53:53/udp".into(),
        ];
        r.mounts = vec!["type=bind,source=/srv,target=/data,readonly".into()];
        r.restart_delay = "2s".into();
        r.health_cmd = "true".into();
        r.stop_on_disconnect = "10s".into();
        let spec = spec(&r).unwrap();
        assert_eq!(spec.stop_on_disconnect, Some(Duration::from_secs(10)));
        assert_eq!(spec.mode, Mode::Replicated { replicas: 6 });
        assert_eq!(spec.env["B"], "");
        assert_eq!(spec.resources.reservations.nano_cpus, 500_000_000);
        assert_eq!(spec.resources.reservations.memory_bytes, 2 << 30);
        assert_eq!(spec.ports[0].host_port(), Some((8080, Protocol::Tcp)));
        assert_eq!(spec.ports[0].name.as_deref(), Some("http"));
        assert_eq!(spec.ports[1].protocol, Protocol::Udp);
        assert_eq!(spec.ports[1].name, None);
        assert!(spec.mounts[0].read_only);
        assert_eq!(spec.restart_policy.delay, Duration::from_secs(2));
        assert_eq!(spec.healthcheck.unwrap().test, ["CMD-SHELL", "true"]);
        assert_eq!(
            service_name("", "registry:5000/team/nginx:1.27").unwrap(),
            "nginx"
        );
    }

    #[test]
    fn registry_credentials_need_a_registry_and_a_secret() {
        assert_eq!(registry_auth(None).unwrap(), None);
        let wire = proto::RegistryAuth {
            registry: "reg.lan:5000".into(),
            username: "alice".into(),
            password: "s3cret".into(),
            identity_token: String::new(),
        };
        let auth = registry_auth(Some(&wire)).unwrap().unwrap();
        assert_eq!(
            (auth.registry.as_str(), auth.password.as_str()),
            ("reg.lan:5000", "s3cret")
        );
        let no_password = proto::RegistryAuth {
            password: String::new(),
            ..wire
        };
        assert_eq!(
            registry_auth(Some(&no_password)).unwrap_err().to_string(),
            "incomplete registry credentials for \"reg.lan:5000\": a registry and a user name with a password (or an identity token) are needed"
        );
    }

    #[test]
    fn a_whole_spec_decodes_from_json_and_is_checked() {
        let whole = ServiceSpec {
            image: "nginx".into(),
            env: [("A".to_owned(), "1".to_owned())].into(),
            ..ServiceSpec::default()
        };
        let data = serde_json::to_vec(&whole).unwrap();
        assert_eq!(spec_json(&data).unwrap(), whole);
        assert_eq!(
            spec_json(br#"{"image":" "}"#).unwrap_err().to_string(),
            "an image is required"
        );
        assert!(
            spec_json(br#"{"image":"x","placement":{"constraints":["zone"]}}"#)
                .unwrap_err()
                .to_string()
                .starts_with("invalid service spec: invalid constraint \"zone\"")
        );
    }

    #[test]
    fn mistakes_are_one_clear_line() {
        type Change = Box<dyn Fn(&mut proto::SpecRequest)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|r| {
                    r.mode = "global".into();
                    r.replicas = Some(proto::Count { value: 2 });
                }),
                "--replicas can only be used with replicated or replicated-job mode, not global",
            ),
            (
                Box::new(|r| r.mode = "daemonset".into()),
                "unknown mode \"daemonset\": expected replicated, global, replicated-job or global-job",
            ),
            (
                Box::new(|r| r.constraints = vec!["zone=east".into()]),
                "invalid constraint \"zone=east\": expected KEY==VALUE or KEY!=VALUE",
            ),
            (
                Box::new(|r| r.reserve_memory = "lots".into()),
                "invalid --reserve-memory \"lots\": expected a size such as 512m or 2g",
            ),
            (
                Box::new(|r| r.max_concurrent = Some(proto::Count { value: 2 })),
                "--max-concurrent can only be used with replicated-job mode, not replicated",
            ),
            (Box::new(|r| r.image = " ".into()), "an image is required"),
            (
                Box::new(|r| r.stop_on_disconnect = "soon".into()),
                "invalid --stop-on-disconnect \"soon\": expected number at 0",
            ),
            (
                Box::new(|r| r.endpoint_mode = "ipvs".into()),
                "invalid endpoint mode \"ipvs\": use vip or dnsrr",
            ),
        ];
        for (change, message) in cases {
            let mut r = request("nginx");
            change(&mut r);
            assert_eq!(spec(&r).unwrap_err().to_string(), message);
        }
        assert_eq!(
            service_name("-web", "nginx").unwrap_err().to_string(),
            "invalid service name \"-web\": use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit"
        );
    }
}
