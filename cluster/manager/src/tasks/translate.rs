//! A task's container on its node's agent: its name, its labels (Swarm's keys, so the
//! ecosystem's tools recognise it), and the agent's container config made from the task's
//! service spec.

use std::collections::HashMap;
use std::str::FromStr as _;

use api::agent as agent_proto;
use nix::sys::signal::Signal;

use crate::dispatcher::Assignment;
use orchestrator::swarm::{MountKind, NodeId, PublishMode, TaskSlot};

/// Label: the service's name.
pub const SERVICE_NAME: &str = "com.docker.swarm.service.name";
/// Label: the service's id.
pub const SERVICE_ID: &str = "com.docker.swarm.service.id";
/// Label: the task's id (how a restarted node daemon finds its containers again).
pub const TASK_ID: &str = "com.docker.swarm.task.id";
/// Label: the task's name (the container's name).
pub const TASK_NAME: &str = "com.docker.swarm.task.name";
/// Label: the node's id.
pub const NODE_ID: &str = "com.docker.swarm.node.id";

/// A spec the node cannot run as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The stop signal is not a signal name or number.
    #[error("invalid stop signal {0:?}")]
    StopSignal(String),
    /// A secret or config the task uses that its assignment does not carry (removed from
    /// the cluster).
    #[error("{0} is not available: it is no longer in the cluster")]
    MissingFile(String),
    /// A limit does not fit the agent's field.
    #[error("{what} {value} is too large")]
    TooLarge {
        /// Which limit.
        what: &'static str,
        /// Its value.
        value: u64,
    },
}

/// The container's name: `<service>.<slot>.<task id>`, or `<service>.<node id>.<task id>`
/// for a global task.
pub fn container_name(assignment: &Assignment) -> String {
    let place = match &assignment.slot {
        TaskSlot::Slot(n) => n.to_string(),
        TaskSlot::Node(node) => node.to_string(),
    };
    format!("{}.{place}.{}", assignment.service_name, assignment.task_id)
}

/// A signal name (`SIGTERM`, `TERM`) or number as its number.
fn signal_number(text: &str) -> Result<i32, TranslateError> {
    let bad = || TranslateError::StopSignal(text.to_owned());
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number)
            .map(|s| s as i32)
            .map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map(|s| s as i32).map_err(|_| bad())
}

fn signed(what: &'static str, value: u64) -> Result<i64, TranslateError> {
    i64::try_from(value).map_err(|_| TranslateError::TooLarge { what, value })
}

fn nanos(duration: Option<std::time::Duration>) -> u64 {
    duration.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The agent's create request for `assignment` on node `node`. The image is pulled before
/// (the request never pulls), and the agent never restarts the container: a task runs once,
/// and the managers make a new task to restart it.
pub fn create_request(
    assignment: &Assignment,
    node: &NodeId,
) -> Result<agent_proto::CreateRequest, TranslateError> {
    let spec = &assignment.spec;
    let name = container_name(assignment);
    let mut labels: HashMap<String, String> = spec
        .container_labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in [
        (SERVICE_NAME, assignment.service_name.clone()),
        (SERVICE_ID, assignment.service_id.to_string()),
        (TASK_ID, assignment.task_id.to_string()),
        (TASK_NAME, name.clone()),
        (NODE_ID, node.to_string()),
    ] {
        labels.insert(key.to_owned(), value);
    }
    if let Some(name) = crate::dispatcher::files::missing(spec, &assignment.files) {
        return Err(TranslateError::MissingFile(name));
    }
    let mut mounts: Vec<agent_proto::Mount> = spec
        .mounts
        .iter()
        .map(|m| {
            let mut mount = agent_proto::Mount {
                target: m.target.clone(),
                read_only: m.read_only,
                ..agent_proto::Mount::default()
            };
            match &m.kind {
                MountKind::Bind { source } => {
                    mount.r#type = "bind".into();
                    mount.source = source.clone();
                }
                MountKind::Volume {
                    source, no_copy, ..
                } => {
                    mount.r#type = "volume".into();
                    mount.source = source.clone().unwrap_or_default();
                    mount.no_copy = *no_copy;
                }
                MountKind::Tmpfs { size_bytes, mode } => {
                    mount.r#type = "tmpfs".into();
                    mount.tmpfs_size = size_bytes.unwrap_or(0);
                    mount.tmpfs_mode = mode.unwrap_or(0);
                }
            }
            mount
        })
        .collect();
    // Secrets and configs: files the agent keeps on a tmpfs of the container's own, bound
    // read-only at their targets.
    mounts.extend(assignment.files.iter().map(|f| agent_proto::Mount {
        r#type: "file".into(),
        target: f.target.clone(),
        read_only: true,
        content: f.data.clone(),
        file_uid: f.uid,
        file_gid: f.gid,
        file_mode: f.mode,
        file_in_memory: true,
        ..agent_proto::Mount::default()
    }));
    let healthcheck = spec.healthcheck.as_ref().map(|h| agent_proto::Healthcheck {
        test: h.test.clone(),
        interval: nanos(h.interval),
        timeout: nanos(h.timeout),
        retries: h.retries.unwrap_or(0),
        start_period: nanos(h.start_period),
        // A service's healthcheck has no start_interval: the engine's default.
        start_interval: 0,
    });
    let ports = spec
        .ports
        .iter()
        .filter(|p| p.mode == PublishMode::Host)
        .filter_map(|p| {
            Some(agent_proto::PortBinding {
                host_port: u32::from(p.published?),
                container_port: u32::from(p.target),
                protocol: p.protocol.to_string(),
                ..agent_proto::PortBinding::default()
            })
        })
        .collect();
    let limits = spec.resources.limits;
    let config = agent_proto::ContainerConfig {
        image: spec.image.clone(),
        pull_policy: "never".into(),
        restart: "no".into(),
        entrypoint: spec.entrypoint.clone().unwrap_or_default(),
        has_entrypoint: spec.entrypoint.is_some(),
        cmd: spec.command.clone().unwrap_or_default(),
        has_cmd: spec.command.is_some(),
        env: spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        user: spec.user.clone().unwrap_or_default(),
        working_dir: spec.workdir.clone().unwrap_or_default(),
        hostname: spec.hostname.clone().unwrap_or_default(),
        mounts,
        healthcheck,
        stop_signal: spec
            .stop_signal
            .as_deref()
            .map(signal_number)
            .transpose()?
            .unwrap_or(0),
        stop_timeout: spec
            .stop_grace_period
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)),
        init: spec.init.unwrap_or(false),
        read_only: spec.read_only,
        cap_add: spec.cap_add.clone(),
        cap_drop: spec.cap_drop.clone(),
        sysctls: spec
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ulimits: spec
            .ulimits
            .iter()
            .map(|u| agent_proto::Ulimit {
                name: u.name.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        memory: signed("memory limit", limits.memory_bytes)?,
        nano_cpus: signed("cpu limit", limits.nano_cpus)?,
        labels,
        ports,
        network_mode: assignment
            .networks
            .first()
            .map(|n| n.name.clone())
            .unwrap_or_default(),
        networks: assignment
            .networks
            .iter()
            .map(|n| agent_proto::NetworkAttachment {
                network: n.name.clone(),
                aliases: n.names.clone(),
                ipv4_address: n.ip.to_string(),
                mac_address: n.mac.clone(),
                service_task: true,
                ..agent_proto::NetworkAttachment::default()
            })
            .collect(),
        ..agent_proto::ContainerConfig::default()
    };
    Ok(agent_proto::CreateRequest {
        name,
        config: Some(config),
        auto_remove: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::{
        DesiredState, Healthcheck, Mount, Protocol, PublishedPort, ResourceRequirements, Resources,
        ServiceSpec, Ulimit,
    };
    use std::time::Duration;

    fn assignment(spec: ServiceSpec, slot: TaskSlot) -> Assignment {
        Assignment {
            task_id: "t9".into(),
            service_id: "s1".into(),
            service_name: "web".into(),
            slot,
            desired_state: DesiredState::Running,
            finished: false,
            spec_version: 1,
            registry_auth: None,
            files: Vec::new(),
            spec: std::sync::Arc::new(spec),
            networks: Vec::new(),
        }
    }

    #[test]
    fn secrets_and_configs_become_in_memory_read_only_files_and_a_missing_one_fails() {
        use crate::dispatcher::files::TaskFile;
        use orchestrator::swarm::{FileKind, FileReference};
        let spec = ServiceSpec {
            image: "busybox".into(),
            secrets: vec![FileReference::named("db")],
            ..ServiceSpec::default()
        };
        let mut a = assignment(spec, TaskSlot::Slot(1));
        let err = create_request(&a, &"n1".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret db is not available: it is no longer in the cluster"
        );
        a.files = vec![TaskFile {
            kind: FileKind::Secret,
            name: "db".into(),
            target: "/run/secrets/db".into(),
            uid: 1,
            gid: 2,
            mode: 0o400,
            data: b"hunter2".to_vec(),
        }];
        let request = create_request(&a, &"n1".into()).unwrap();
        let m = &request.config.unwrap().mounts[0];
        assert_eq!(
            (m.r#type.as_str(), m.target.as_str(), m.content.as_slice()),
            ("file", "/run/secrets/db", &b"hunter2"[..])
        );
        assert!(m.read_only && m.file_in_memory);
        assert_eq!((m.file_uid, m.file_gid, m.file_mode), (1, 2, 0o400));
    }

    #[test]
    fn names_follow_slot_or_node() {
        let spec = ServiceSpec::default();
        assert_eq!(
            container_name(&assignment(spec.clone(), TaskSlot::Slot(3))),
            "web.3.t9"
        );
        assert_eq!(
            container_name(&assignment(spec, TaskSlot::Node("n7".into()))),
            "web.n7.t9"
        );
    }

    #[test]
    fn a_full_spec_becomes_the_agents_config() {
        let spec = ServiceSpec {
            image: "busybox:test".into(),
            entrypoint: Some(vec!["sh".into(), "-c".into()]),
            command: Some(vec!["sleep 60".into()]),
            env: [("A".to_owned(), "1".to_owned())].into(),
            user: Some("1000:1000".into()),
            workdir: Some("/srv".into()),
            hostname: Some("box".into()),
            container_labels: [
                ("team".to_owned(), "red".to_owned()),
                (TASK_ID.to_owned(), "forged".to_owned()),
            ]
            .into(),
            mounts: vec![
                Mount {
                    target: "/data".into(),
                    read_only: true,
                    kind: MountKind::Volume {
                        source: Some("data".into()),
                        driver: None,
                        no_copy: true,
                    },
                },
                Mount {
                    target: "/tmp".into(),
                    read_only: false,
                    kind: MountKind::Tmpfs {
                        size_bytes: Some(1 << 20),
                        mode: Some(0o700),
                    },
                },
            ],
            healthcheck: Some(Healthcheck {
                test: vec!["CMD".into(), "true".into()],
                interval: Some(Duration::from_secs(2)),
                timeout: None,
                retries: Some(4),
                start_period: None,
            }),
            stop_signal: Some("SIGINT".into()),
            stop_grace_period: Some(Duration::from_millis(2500)),
            init: Some(true),
            read_only: true,
            cap_add: vec!["NET_ADMIN".into()],
            cap_drop: vec!["CHOWN".into()],
            sysctls: [("net.ipv4.ip_forward".to_owned(), "1".to_owned())].into(),
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048,
            }],
            resources: ResourceRequirements {
                limits: Resources {
                    nano_cpus: 500_000_000,
                    memory_bytes: 64 << 20,
                },
                reservations: Resources::ZERO,
            },
            ports: vec![
                PublishedPort {
                    target: 80,
                    published: Some(8080),
                    protocol: Protocol::Tcp,
                    mode: PublishMode::Host,
                    name: None,
                },
                PublishedPort {
                    target: 81,
                    published: Some(8081),
                    protocol: Protocol::Tcp,
                    mode: PublishMode::Ingress,
                    name: None,
                },
            ],
            ..ServiceSpec::default()
        };
        let request = create_request(&assignment(spec, TaskSlot::Slot(2)), &"n1".into()).unwrap();
        assert_eq!(request.name, "web.2.t9");
        let c = request.config.unwrap();
        assert_eq!(c.image, "busybox:test");
        assert_eq!(c.pull_policy, "never");
        assert_eq!(c.restart, "no");
        assert!(c.has_entrypoint && c.has_cmd);
        assert_eq!(c.entrypoint, ["sh", "-c"]);
        assert_eq!(c.cmd, ["sleep 60"]);
        assert_eq!(c.env, ["A=1"]);
        assert_eq!(
            (c.user.as_str(), c.working_dir.as_str()),
            ("1000:1000", "/srv")
        );
        assert_eq!(c.hostname, "box");
        assert_eq!(c.labels["team"], "red");
        // The task's own labels win over the spec's.
        assert_eq!(c.labels[TASK_ID], "t9");
        assert_eq!(c.labels[TASK_NAME], "web.2.t9");
        assert_eq!(c.labels[SERVICE_NAME], "web");
        assert_eq!(c.labels[SERVICE_ID], "s1");
        assert_eq!(c.labels[NODE_ID], "n1");
        assert_eq!(c.mounts.len(), 2);
        assert_eq!(
            (c.mounts[0].r#type.as_str(), c.mounts[0].source.as_str()),
            ("volume", "data")
        );
        assert!(c.mounts[0].read_only && c.mounts[0].no_copy);
        assert_eq!(c.mounts[1].r#type, "tmpfs");
        assert_eq!(
            (c.mounts[1].tmpfs_size, c.mounts[1].tmpfs_mode),
            (1 << 20, 0o700)
        );
        let health = c.healthcheck.unwrap();
        assert_eq!((health.interval, health.retries), (2_000_000_000, 4));
        assert_eq!(c.stop_signal, 2);
        assert_eq!(c.stop_timeout, Some(3));
        assert!(c.init && c.read_only);
        assert_eq!(
            (c.cap_add, c.cap_drop),
            (vec!["NET_ADMIN".to_owned()], vec!["CHOWN".to_owned()])
        );
        assert_eq!(c.sysctls["net.ipv4.ip_forward"], "1");
        assert_eq!((c.ulimits[0].soft, c.ulimits[0].hard), (1024, 2048));
        assert_eq!((c.memory, c.nano_cpus), (64 << 20, 500_000_000));
        assert_eq!(
            c.ports.len(),
            1,
            "only host-mode ports are published on the node"
        );
        assert_eq!(
            (c.ports[0].host_port, c.ports[0].container_port),
            (8080, 80)
        );
    }

    #[test]
    fn defaults_leave_the_image_in_charge() {
        let spec = ServiceSpec {
            image: "busybox".into(),
            ..ServiceSpec::default()
        };
        let c = create_request(&assignment(spec, TaskSlot::Slot(1)), &"n1".into())
            .unwrap()
            .config
            .unwrap();
        assert!(!c.has_entrypoint && !c.has_cmd);
        assert_eq!((c.stop_signal, c.stop_timeout), (0, None));
        assert!(c.mounts.is_empty() && c.healthcheck.is_none());
    }

    #[test]
    fn stop_signals_by_name_or_number() {
        assert_eq!(signal_number("TERM"), Ok(15));
        assert_eq!(signal_number("sigkill"), Ok(9));
        assert_eq!(signal_number("10"), Ok(10));
        assert_eq!(
            signal_number("SIGNOPE").unwrap_err().to_string(),
            "invalid stop signal \"SIGNOPE\""
        );
    }
}
