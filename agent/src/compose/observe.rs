//! The agent's listings → the planner's [`Observed`](orchestrator::compose::Observed): containers by the project label, every
//! network and volume (so external ones can be found), and the local images under every name a
//! compose file may use for them.

use std::collections::{BTreeMap, BTreeSet};

use orchestrator::compose::{
    ContainerState, ContainerStatus, Health, HealthStatus, Mount, MountSource, ObservedContainer,
    ObservedNetwork, ObservedVolume,
};

use crate::proto;

/// A listed container as the planner sees it; `anonymous` names the anonymous volumes.
pub fn container(
    summary: &proto::ContainerSummary,
    anonymous: &BTreeSet<String>,
) -> ObservedContainer {
    ObservedContainer {
        id: summary.id.clone(),
        name: summary.name.clone(),
        labels: summary
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        image: summary.image.clone(),
        image_digest: (!summary.image_id.is_empty()).then(|| summary.image_id.clone()),
        status: status(summary),
        networks: summary.networks.iter().map(|e| e.network.clone()).collect(),
        mounts: summary
            .mounts
            .iter()
            .filter_map(|m| mount(m, anonymous))
            .collect(),
    }
}

/// The run state and health of a listed container.
pub fn status(summary: &proto::ContainerSummary) -> ContainerStatus {
    let state = match summary.state() {
        proto::ContainerState::Created => ContainerState::Created,
        proto::ContainerState::Running => ContainerState::Running,
        proto::ContainerState::Paused => ContainerState::Paused,
        proto::ContainerState::Exited => ContainerState::Exited {
            code: summary.exit_code,
        },
        proto::ContainerState::Unspecified => ContainerState::Dead,
    };
    let health = match summary.health() {
        proto::Health::Starting => Some(HealthStatus::Starting),
        proto::Health::Healthy => Some(HealthStatus::Healthy),
        proto::Health::Unhealthy => Some(HealthStatus::Unhealthy),
        proto::Health::None => None,
    };
    ContainerStatus {
        state,
        health: health.map(|status| Health {
            status,
            last_output: summary.health_output.clone(),
        }),
    }
}

fn mount(mount: &proto::Mount, anonymous: &BTreeSet<String>) -> Option<Mount> {
    let source = match mount.r#type.as_str() {
        "volume" => MountSource::Volume {
            name: mount.source.clone(),
            anonymous: anonymous.contains(&mount.source),
        },
        "bind" => MountSource::Bind {
            path: mount.source.clone(),
        },
        "tmpfs" => MountSource::Tmpfs,
        _ => return None,
    };
    Some(Mount {
        destination: mount.target.clone(),
        source,
    })
}

/// A listed network.
pub fn network(network: &proto::Network) -> ObservedNetwork {
    ObservedNetwork {
        id: network.id.clone(),
        name: network.name.clone(),
        labels: network
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// A listed volume.
pub fn volume(volume: &proto::Volume) -> ObservedVolume {
    ObservedVolume {
        name: volume.name.clone(),
        labels: volume
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Local images: every name a compose file may use for each tag (`docker.io/library/redis:7`,
/// `library/redis:7`, `redis:7`, and without `:latest` when it is the tag) → the image id.
pub fn images(images: &[proto::ImageSummary]) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for image in images {
        for tag in &image.repo_tags {
            for name in reference_forms(tag) {
                found.entry(name).or_insert_with(|| image.id.clone());
            }
        }
        // Services may name an image by id too.
        found.insert(image.id.clone(), image.id.clone());
    }
    found
}

/// The spellings of one image reference.
pub fn reference_forms(reference: &str) -> Vec<String> {
    let mut forms = vec![reference.to_string()];
    let short = reference
        .strip_prefix("docker.io/")
        .unwrap_or(reference)
        .to_string();
    let shorter = short.strip_prefix("library/").unwrap_or(&short).to_string();
    for name in [short.clone(), shorter] {
        if !forms.contains(&name) {
            forms.push(name);
        }
    }
    let untagged: Vec<String> = forms
        .iter()
        .filter_map(|f| f.strip_suffix(":latest").map(str::to_string))
        .collect();
    for name in untagged {
        if !forms.contains(&name) {
            forms.push(name);
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_cover_the_short_forms() {
        assert_eq!(
            reference_forms("docker.io/library/redis:latest"),
            [
                "docker.io/library/redis:latest",
                "library/redis:latest",
                "redis:latest",
                "docker.io/library/redis",
                "library/redis",
                "redis"
            ]
        );
        assert_eq!(reference_forms("busybox:1.36"), ["busybox:1.36"]);
        let listed = [proto::ImageSummary {
            id: "sha256:aa".into(),
            repo_tags: vec!["busybox:latest".into()],
            ..Default::default()
        }];
        let map = images(&listed);
        assert_eq!(map.get("busybox").map(String::as_str), Some("sha256:aa"));
        assert_eq!(map.get("sha256:aa").map(String::as_str), Some("sha256:aa"));
    }

    #[test]
    fn states_health_and_mounts_are_read() {
        let summary = proto::ContainerSummary {
            id: "abc".into(),
            name: "demo-web-1".into(),
            state: proto::ContainerState::Exited as i32,
            exit_code: 3,
            health: proto::Health::Unhealthy as i32,
            image_id: "sha256:bb".into(),
            mounts: vec![
                proto::Mount {
                    r#type: "volume".into(),
                    source: "f00".into(),
                    target: "/cache".into(),
                    ..Default::default()
                },
                proto::Mount {
                    r#type: "bind".into(),
                    source: "/srv".into(),
                    target: "/srv".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let anonymous = BTreeSet::from(["f00".to_string()]);
        let c = container(&summary, &anonymous);
        assert_eq!(c.status.state, ContainerState::Exited { code: 3 });
        assert_eq!(
            c.status.health.as_ref().map(|h| h.status),
            Some(HealthStatus::Unhealthy)
        );
        assert_eq!(c.image_digest.as_deref(), Some("sha256:bb"));
        assert_eq!(
            c.anonymous_volumes().collect::<Vec<_>>(),
            [("/cache", "f00")]
        );
        assert_eq!(
            c.mounts[1].source,
            MountSource::Bind {
                path: "/srv".into()
            }
        );
    }
}
