//! `ls --filter` as Docker reads it: `id=`, `name=`, `status=`, `exited=`, `label=key[=value]`,
//! `ancestor=`, `network=`, `volume=`, `health=`, `before=`, `since=`. Different keys must all
//! match; several values of one key match when any does, except labels, which must all match
//! (as Docker). `before=` and `since=` name a container: only those created before (after) it
//! pass, once [`Filters::anchor`] has found it among the listed containers.

use engine::ContainerState;
use engine::spec::MountKind;

use super::AgentError;
use super::summary::ContainerSummary;

const STATES: [&str; 4] = ["created", "running", "paused", "exited"];
const HEALTHS: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// A parsed set of filters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filters {
    ids: Vec<String>,
    names: Vec<String>,
    /// State names, as [`ContainerState::name`] gives them.
    statuses: Vec<&'static str>,
    exit_codes: Vec<i32>,
    labels: Vec<(String, Option<String>)>,
    ancestors: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
    /// Health names, as [`HealthStatus::name`] gives them, or `none`.
    healths: Vec<&'static str>,
    /// `before=` and `since=` as written (a container's name, id or id prefix).
    before: Option<String>,
    since: Option<String>,
    /// The creation times of the `before=` and `since=` containers, once anchored.
    created_before: Option<u64>,
    created_after: Option<u64>,
}

/// Whether `value` names the container's image: as written, normalized, or by (short) id.
fn is_ancestor(c: &ContainerSummary, value: &str) -> bool {
    if c.image.is_empty() {
        return false;
    }
    let normal = |s: &str| {
        engine::image::ImageRef::parse(s)
            .map(|r| r.to_string())
            .unwrap_or_else(|_| s.to_string())
    };
    let hex = c.image_id.strip_prefix("sha256:").unwrap_or(&c.image_id);
    let v = value.strip_prefix("sha256:").unwrap_or(value);
    c.image == value || normal(&c.image) == normal(value) || (v.len() >= 4 && hex.starts_with(v))
}

impl Filters {
    /// Parses `key=value` filters.
    pub fn parse(filters: &[String]) -> Result<Self, AgentError> {
        let mut out = Filters::default();
        for filter in filters {
            let Some((key, value)) = filter.split_once('=') else {
                return Err(AgentError::Invalid(format!(
                    "bad format of filter {filter:?}: expected name=value"
                )));
            };
            match key {
                "id" => out.ids.push(value.to_string()),
                "name" => out.names.push(value.trim_start_matches('/').to_string()),
                "status" if let Some(state) = STATES.iter().find(|s| **s == value) => {
                    out.statuses.push(state)
                }
                "status" => {
                    return Err(AgentError::Invalid(format!(
                        "invalid filter status={value}: use one of {}",
                        STATES.join(", ")
                    )));
                }
                "exited" => out.exit_codes.push(value.parse().map_err(|_| {
                    AgentError::Invalid(format!("invalid filter exited={value}: not an exit code"))
                })?),
                "label" => out.labels.push(match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (value.to_string(), None),
                }),
                "ancestor" => out.ancestors.push(value.to_string()),
                "network" => out.networks.push(value.to_string()),
                "volume" => out.volumes.push(value.to_string()),
                "health" if let Some(health) = HEALTHS.iter().find(|h| **h == value) => {
                    out.healths.push(health)
                }
                "health" => {
                    return Err(AgentError::Invalid(format!(
                        "invalid filter health={value}: use one of {}",
                        HEALTHS.join(", ")
                    )));
                }
                "before" => out.before = Some(value.to_string()),
                "since" => out.since = Some(value.to_string()),
                _ => return Err(AgentError::Invalid(format!("invalid filter {key:?}"))),
            }
        }
        Ok(out)
    }

    /// Finds the containers `before=` and `since=` name among `all` (every container of the
    /// node), so that [`Filters::matches`] can compare creation times; an unknown one is an
    /// error, as in Docker.
    pub fn anchor(&mut self, all: &[ContainerSummary]) -> Result<(), AgentError> {
        let find = |reference: &str| {
            all.iter()
                .find(|c| c.id == reference || c.name == reference.trim_start_matches('/'))
                .or_else(|| {
                    let mut prefixed = all.iter().filter(|c| c.id.starts_with(reference));
                    match (prefixed.next(), prefixed.next()) {
                        (Some(one), None) => Some(one),
                        _ => None,
                    }
                })
                .map(|c| c.created_at)
                .ok_or_else(|| AgentError::NotFound(reference.to_string()))
        };
        if let Some(before) = &self.before {
            self.created_before = Some(find(before)?);
        }
        if let Some(since) = &self.since {
            self.created_after = Some(find(since)?);
        }
        Ok(())
    }

    /// Whether filtering by state was asked for (which implies listing stopped containers).
    pub fn selects_state(&self) -> bool {
        !self.statuses.is_empty() || !self.exit_codes.is_empty()
    }

    /// Whether the container passes every filter.
    pub fn matches(&self, c: &ContainerSummary) -> bool {
        let any = |values: &[String], f: &dyn Fn(&str) -> bool| {
            values.is_empty() || values.iter().any(|v| f(v))
        };
        any(&self.ids, &|v| c.id.starts_with(v))
            && any(&self.names, &|v| c.name.contains(v))
            && (self.statuses.is_empty() || self.statuses.contains(&c.state.name()))
            && (self.exit_codes.is_empty()
                || matches!(c.state, ContainerState::Exited { code, .. } if self.exit_codes.contains(&code)))
            && self.labels.iter().all(|(k, v)| match (c.labels.get(k), v) {
                (Some(have), Some(want)) => have == want,
                (Some(_), None) => true,
                (None, _) => false,
            })
            && any(&self.ancestors, &|v| is_ancestor(c, v))
            && any(&self.networks, &|v| {
                c.networks.iter().any(|n| {
                    n.network == v
                        || n.network_id
                            .as_ref()
                            .is_some_and(|id| !id.is_empty() && id.starts_with(v))
                })
            })
            && (self.healths.is_empty()
                || self
                    .healths
                    .contains(&c.health.map_or("none", |h| h.name())))
            && self.created_before.is_none_or(|t| c.created_at < t)
            && self.created_after.is_none_or(|t| c.created_at > t)
            && any(&self.volumes, &|v| {
                c.mounts.iter().any(|m| {
                    matches!(&m.kind, MountKind::Volume { name, .. } if name == v)
                        || m.target.as_os_str() == v
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Endpoint;
    use engine::spec::Mount;

    fn c(id: &str, name: &str, state: &str, code: i32) -> ContainerSummary {
        let state = match state {
            "created" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            _ => ContainerState::Exited {
                code,
                oom_killed: false,
            },
        };
        ContainerSummary {
            id: id.into(),
            name: name.into(),
            command: Vec::new(),
            state,
            created_at: 0,
            started_at: None,
            finished_at: None,
            pid: None,
            rootfs: None,
            auto_remove: false,
            health: None,
            health_output: String::new(),
            restart_count: 0,
            labels: Default::default(),
            image: String::new(),
            image_id: String::new(),
            ports: Vec::new(),
            networks: Vec::new(),
            mounts: Vec::new(),
            bind_propagation: Default::default(),
        }
    }

    #[test]
    fn matching_table() {
        let web = c("abc", "web-1", "running", 0);
        let job = c("def", "job", "exited", 3);
        let cases: [(&[&str], bool, bool); 7] = [
            (&[], true, true),
            (&["name=web"], true, false),
            (&["id=de"], false, true),
            (&["status=exited"], false, true),
            (&["status=running", "status=exited"], true, true),
            (&["exited=3"], false, true),
            (&["exited=0"], false, false),
        ];
        for (filters, want_web, want_job) in cases {
            let f =
                Filters::parse(&filters.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            assert_eq!(
                (f.matches(&web), f.matches(&job)),
                (want_web, want_job),
                "{filters:?}"
            );
        }
    }

    #[test]
    fn label_image_network_volume_filters() {
        let mut web = c("abc", "web-1", "running", 0);
        web.labels = [
            ("com.docker.compose.project".to_string(), "shop".to_string()),
            ("tier".to_string(), "front".to_string()),
        ]
        .into();
        web.image = "busybox".into();
        web.image_id = format!("sha256:{}", "ab12".repeat(16));
        web.networks = vec![Endpoint {
            network: "shop_default".into(),
            network_id: Some("9f".repeat(32)),
            aliases: Vec::new(),
            attached: None,
        }];
        web.mounts = vec![Mount {
            kind: MountKind::Volume {
                name: "shop_data".into(),
                subpath: None,
                no_copy: false,
            },
            target: "/data".into(),
            read_only: false,
        }];
        let plain = c("def", "job", "running", 0);
        let cases: [(&[&str], bool); 14] = [
            (&["label=tier"], true),
            (&["label=tier=front"], true),
            (&["label=tier=back"], false),
            (
                &["label=tier", "label=com.docker.compose.project=shop"],
                true,
            ),
            (&["label=tier", "label=missing"], false),
            (&["ancestor=busybox"], true),
            (&["ancestor=docker.io/library/busybox:latest"], true),
            (&["ancestor=ab12ab12"], true),
            (&["ancestor=redis"], false),
            (&["network=shop_default"], true),
            (&["network=9f9f"], true),
            (&["volume=shop_data"], true),
            (&["volume=other"], false),
            (&["volume=/data"], true),
        ];
        for (filters, want) in cases {
            let f =
                Filters::parse(&filters.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            assert_eq!(f.matches(&web), want, "{filters:?}");
            if !filters.is_empty() {
                assert!(!f.matches(&plain), "{filters:?} matched a plain container");
            }
        }
    }

    #[test]
    fn bad_filters() {
        for (f, want) in [
            ("name", "bad format of filter \"name\": expected name=value"),
            ("color=red", "invalid filter \"color\""),
            (
                "status=dead",
                "invalid filter status=dead: use one of created, running, paused, exited",
            ),
            ("exited=x", "invalid filter exited=x: not an exit code"),
            (
                "health=sick",
                "invalid filter health=sick: use one of starting, healthy, unhealthy, none",
            ),
        ] {
            assert_eq!(
                Filters::parse(&[f.to_string()]).unwrap_err().to_string(),
                want
            );
        }
    }

    #[test]
    fn health_filter() {
        let mut healthy = c("abc", "web", "running", 0);
        healthy.health = Some(engine::health::HealthStatus::Healthy);
        let plain = c("def", "job", "running", 0);
        let parse = |f: &str| Filters::parse(&[f.to_string()]).unwrap();
        assert!(parse("health=healthy").matches(&healthy));
        assert!(!parse("health=healthy").matches(&plain));
        assert!(parse("health=none").matches(&plain));
        assert!(!parse("health=none").matches(&healthy));
    }

    #[test]
    fn before_and_since_compare_creation_times() {
        let mut all: Vec<ContainerSummary> = ["a1", "b2", "c3"]
            .iter()
            .map(|id| c(id, &format!("n{id}"), "running", 0))
            .collect();
        for (i, container) in all.iter_mut().enumerate() {
            container.created_at = 100 * (i as u64 + 1);
        }
        let names = |filters: &[&str]| -> Vec<String> {
            let mut f =
                Filters::parse(&filters.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            f.anchor(&all).unwrap();
            all.iter()
                .filter(|c| f.matches(c))
                .map(|c| c.id.clone())
                .collect()
        };
        assert_eq!(names(&["before=c3"]), ["a1", "b2"]);
        assert_eq!(names(&["since=na1"]), ["b2", "c3"]);
        assert_eq!(names(&["since=a1", "before=c3"]), ["b2"]);
        let mut unknown = Filters::parse(&["before=zz".to_string()]).unwrap();
        assert_eq!(
            unknown.anchor(&all).unwrap_err().to_string(),
            "no such container: zz"
        );
    }
}
