//! The agent's results onto the wire: container summaries, stats samples, processes and
//! ports, encoded once at the service edge (requests go the other way in [`crate::decode`]).

use engine::ContainerState;
use engine::health::HealthStatus;
use engine::network::{PortMapping, PortSpec};
use engine::runtime::{ProcessInfo, TOP_TITLES};
use engine::spec::MountKind;
use engine::volume::VolumeStore;

use super::proto;
use super::summary::{ContainerSummary, Endpoint, StatsSample};

/// The wire form of an engine container state.
fn wire_state(state: ContainerState) -> proto::ContainerState {
    match state {
        ContainerState::Created => proto::ContainerState::Created,
        ContainerState::Running => proto::ContainerState::Running,
        ContainerState::Paused => proto::ContainerState::Paused,
        ContainerState::Exited { .. } => proto::ContainerState::Exited,
    }
}

/// The wire form of a container's health (`None` without a healthcheck).
fn wire_health(status: Option<HealthStatus>) -> proto::Health {
    match status {
        None => proto::Health::None,
        Some(HealthStatus::Starting) => proto::Health::Starting,
        Some(HealthStatus::Healthy) => proto::Health::Healthy,
        Some(HealthStatus::Unhealthy) => proto::Health::Unhealthy,
    }
}

/// The wire form of a container summary; its volume mounts say where each volume is on the
/// host (`volumes`).
pub(crate) fn summary(s: ContainerSummary, volumes: &VolumeStore) -> proto::ContainerSummary {
    let (exit_code, oom_killed) = match s.state {
        ContainerState::Exited { code, oom_killed } => (code, oom_killed),
        _ => (0, false),
    };
    let mounts = mounts(&s, volumes);
    proto::ContainerSummary {
        id: s.id,
        name: s.name,
        command: s.command,
        state: wire_state(s.state) as i32,
        exit_code,
        oom_killed,
        created_at: s.created_at,
        started_at: s.started_at.unwrap_or(0),
        finished_at: s.finished_at.unwrap_or(0),
        pid: s.pid.unwrap_or(0),
        rootfs: s
            .rootfs
            .map(|r| r.display().to_string())
            .unwrap_or_default(),
        auto_remove: s.auto_remove,
        health: wire_health(s.health) as i32,
        health_output: s.health_output,
        // Measured only when a list asks for sizes (the service fills them in).
        size_rw: 0,
        size_root_fs: 0,
        restart_count: s.restart_count,
        labels: s.labels.into_iter().collect(),
        image: s.image,
        image_id: s.image_id,
        ports: s.ports.iter().map(binding).collect(),
        networks: s.networks.into_iter().map(endpoint).collect(),
        mounts,
    }
}

/// The wire form of one network of a container (addresses empty while not attached).
fn endpoint(e: Endpoint) -> proto::Endpoint {
    let attached = e.attached.as_ref();
    proto::Endpoint {
        network: e.network,
        network_id: e.network_id.unwrap_or_default(),
        ipv4_address: attached
            .map(|a| format!("{}/{}", a.ipv4, a.prefix_len))
            .unwrap_or_default(),
        mac_address: attached.map(|a| a.mac.clone()).unwrap_or_default(),
        gateway: attached.map(|a| a.gateway.to_string()).unwrap_or_default(),
        aliases: e.aliases,
        ..Default::default()
    }
}

/// The wire form of a container's mounts.
fn mounts(s: &ContainerSummary, volumes: &VolumeStore) -> Vec<proto::Mount> {
    s.mounts
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
                MountKind::Image { image, subpath } => (
                    "image",
                    image.clone(),
                    0,
                    0,
                    false,
                    subpath
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
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
                propagation: s
                    .bind_propagation
                    .get(&m.target)
                    .cloned()
                    .unwrap_or_default(),
                create_host_path: false,
                host_path: match &m.kind {
                    MountKind::Volume { name, .. } if !name.is_empty() => {
                        volumes.mountpoint(name).display().to_string()
                    }
                    _ => String::new(),
                },
                ..Default::default()
            }
        })
        .collect()
}

/// The wire form of a stats sample.
pub(crate) fn stats(sample: &StatsSample) -> proto::StatsResponse {
    let s = &sample.stats;
    proto::StatsResponse {
        memory_usage: s.memory_usage,
        memory_limit: s.memory_limit.unwrap_or(0),
        cpu_usage_ns: s.cpu_usage_ns,
        pids: s.pids_current,
        oom_kills: s.oom_kills,
        cpu_throttled_periods: s.cpu_throttled_periods,
        read_at: sample.read_at,
        block_read_bytes: s.block_read_bytes,
        block_write_bytes: s.block_write_bytes,
        net_rx_bytes: s.net_rx_bytes,
        net_tx_bytes: s.net_tx_bytes,
    }
}

/// The wire form of a container's processes, under `ps -ef`'s titles.
pub(crate) fn top(processes: &[ProcessInfo]) -> proto::TopResponse {
    proto::TopResponse {
        titles: TOP_TITLES.iter().map(|t| t.to_string()).collect(),
        processes: processes
            .iter()
            .map(|p| proto::TopRow {
                values: p.columns().to_vec(),
            })
            .collect(),
    }
}

/// The wire form of a port specification (`-p`), as [`crate::decode::port`] reads it back.
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

/// The wire form of a published port as bound.
pub(crate) fn binding(m: &PortMapping) -> proto::PortBinding {
    proto::PortBinding {
        host_ip: m.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        host_port: m.host_port.into(),
        container_port: m.container_port.into(),
        protocol: m.protocol.to_string(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use engine::network::Protocol;
    use engine::spec::Mount;

    use super::*;
    use crate::summary::Attached;

    fn exited() -> ContainerSummary {
        ContainerSummary {
            id: "abc".into(),
            name: "web".into(),
            command: vec!["sh".into()],
            state: ContainerState::Exited {
                code: 3,
                oom_killed: true,
            },
            created_at: 1,
            started_at: Some(2),
            finished_at: None,
            pid: None,
            rootfs: Some("/r".into()),
            auto_remove: false,
            health: None,
            health_output: String::new(),
            restart_count: 4,
            labels: BTreeMap::from([("tier".into(), "front".into())]),
            image: "busybox".into(),
            image_id: "sha256:ab".into(),
            ports: vec![PortMapping {
                protocol: Protocol::Udp,
                host_ip: None,
                host_port: 5353,
                container_port: 53,
            }],
            networks: vec![
                Endpoint {
                    network: "front".into(),
                    network_id: Some("9f".into()),
                    aliases: vec!["www".into()],
                    attached: Some(Attached {
                        ipv4: "10.1.0.2".parse().unwrap(),
                        prefix_len: 24,
                        mac: "02:42:0a:01:00:02".into(),
                        gateway: "10.1.0.1".parse().unwrap(),
                    }),
                },
                Endpoint {
                    network: "gone".into(),
                    network_id: None,
                    aliases: Vec::new(),
                    attached: None,
                },
            ],
            mounts: vec![
                Mount {
                    kind: MountKind::Bind {
                        source: "/src".into(),
                    },
                    target: "/dst".into(),
                    read_only: true,
                },
                Mount {
                    kind: MountKind::Volume {
                        name: "db".into(),
                        subpath: None,
                        no_copy: false,
                    },
                    target: "/data".into(),
                    read_only: false,
                },
            ],
            bind_propagation: BTreeMap::from([("/dst".into(), "rshared".into())]),
        }
    }

    #[test]
    fn a_summary_reads_on_the_wire_as_docker_shows_it() {
        let root = tempfile::tempdir().unwrap();
        let volumes = VolumeStore::open(root.path()).unwrap();
        let wire = summary(exited(), &volumes);
        assert_eq!(wire.state(), proto::ContainerState::Exited);
        assert_eq!((wire.exit_code, wire.oom_killed), (3, true));
        assert_eq!((wire.started_at, wire.finished_at, wire.pid), (2, 0, 0));
        assert_eq!(wire.health(), proto::Health::None);
        assert_eq!(wire.rootfs, "/r");
        assert_eq!(wire.labels["tier"], "front");
        assert_eq!(
            (wire.ports[0].host_port, wire.ports[0].protocol.as_str()),
            (5353, "udp")
        );
        let front = &wire.networks[0];
        assert_eq!(
            (front.ipv4_address.as_str(), front.gateway.as_str()),
            ("10.1.0.2/24", "10.1.0.1")
        );
        assert_eq!(front.network_id, "9f");
        let gone = &wire.networks[1];
        assert_eq!(
            (gone.network_id.as_str(), gone.ipv4_address.as_str()),
            ("", "")
        );
        let mount = &wire.mounts[0];
        assert_eq!(
            (
                mount.r#type.as_str(),
                mount.source.as_str(),
                mount.propagation.as_str()
            ),
            ("bind", "/src", "rshared")
        );
        assert_eq!(mount.host_path, "");
        // A volume names itself and says where it is on the host, as Docker's source.
        let volume = &wire.mounts[1];
        let place = root.path().join("volumes/db/_data").display().to_string();
        assert_eq!(
            (volume.source.as_str(), volume.host_path.as_str()),
            ("db", place.as_str())
        );
        assert_eq!(volume.docker_source(), place);
        let running = summary(
            ContainerSummary {
                state: ContainerState::Running,
                pid: Some(42),
                health: Some(HealthStatus::Starting),
                ..exited()
            },
            &volumes,
        );
        assert_eq!((running.exit_code, running.pid), (0, 42));
        assert_eq!(running.health(), proto::Health::Starting);
    }

    #[test]
    fn stats_carry_the_read_time() {
        let sample = StatsSample {
            stats: engine::cgroups::Stats {
                memory_usage: 10,
                memory_limit: None,
                oom_kills: 0,
                pids_current: 2,
                cpu_usage_ns: 5,
                cpu_throttled_periods: 0,
                block_read_bytes: 7,
                block_write_bytes: 8,
                net_rx_bytes: 3,
                net_tx_bytes: 4,
            },
            read_at: 99,
        };
        let wire = stats(&sample);
        assert_eq!((wire.memory_usage, wire.memory_limit), (10, 0));
        assert_eq!((wire.pids, wire.read_at), (2, 99));
        assert_eq!((wire.block_read_bytes, wire.block_write_bytes), (7, 8));
        assert_eq!((wire.net_rx_bytes, wire.net_tx_bytes), (3, 4));
    }
}
