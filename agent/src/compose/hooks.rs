//! Lifecycle hooks (`post_start`, `pre_stop`): commands run as execs in a service's container
//! right after it starts and right before it stops, as Compose runs them. The hooks are read
//! from the service definition recorded on the container, so commands that act on a project
//! without its compose file run them too. A hook that exits non-zero fails the command.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use compose_spec::model::{Service, ServiceHook};
use orchestrator::compose::labels;

use super::translate::TranslateError;
use crate::proto;

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    /// After the container started.
    PostStart,
    /// Before the container is stopped.
    PreStop,
}

impl HookPoint {
    /// The service key that lists these hooks.
    pub fn key(self) -> &'static str {
        match self {
            Self::PostStart => "post_start",
            Self::PreStop => "pre_stop",
        }
    }
}

/// The hooks of `point` recorded in a container's labels (none when it has no recorded
/// definition, or the definition lists none).
pub fn recorded(
    container_labels: &HashMap<String, String>,
    point: HookPoint,
) -> Result<Vec<ServiceHook>, String> {
    let Some(text) = container_labels.get(labels::SERVICE_CONFIG) else {
        return Ok(Vec::new());
    };
    let definition: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("unreadable recorded service definition: {e}"))?;
    match definition.get(point.key()) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(hooks) => serde_json::from_value(hooks.clone())
            .map_err(|e| format!("unreadable recorded {}: {e}", point.key())),
    }
}

/// What a backend knows of its containers' hooks, learned from the definitions it created them
/// with and the labels it observed, so that starting or stopping a container known to have no
/// hooks at that point costs no call to read its definition again. A container it knows nothing
/// of may have hooks.
#[derive(Debug, Default, Clone)]
pub struct KnownHooks(Arc<Mutex<HashMap<String, Points>>>);

/// Whether a container has hooks at each point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Points {
    post_start: bool,
    pre_stop: bool,
}

impl KnownHooks {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Points>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Container `name` was created from `service`.
    pub fn created(&self, name: &str, service: &Service) {
        let points = Points {
            post_start: !service.post_start.is_empty(),
            pre_stop: !service.pre_stop.is_empty(),
        };
        self.with(|known| known.insert(name.to_owned(), points));
    }

    /// Container `name` was seen with `container_labels`; an unreadable recorded definition
    /// leaves it unknown (the hooks' run reports the error).
    pub fn observed(&self, name: &str, container_labels: &HashMap<String, String>) {
        let points = recorded(container_labels, HookPoint::PostStart).and_then(|post| {
            recorded(container_labels, HookPoint::PreStop).map(|pre| Points {
                post_start: !post.is_empty(),
                pre_stop: !pre.is_empty(),
            })
        });
        self.with(|known| match points {
            Ok(points) => known.insert(name.to_owned(), points),
            Err(_) => known.remove(name),
        });
    }

    /// Container `from` is now called `to`.
    pub fn renamed(&self, from: &str, to: &str) {
        self.with(|known| {
            if let Some(points) = known.remove(from) {
                known.insert(to.to_owned(), points);
            }
        });
    }

    /// Container `name` is gone.
    pub fn removed(&self, name: &str) {
        self.with(|known| known.remove(name));
    }

    /// Whether container `name` may have hooks at `point` (it has, or it is unknown).
    pub fn may_have(&self, name: &str, point: HookPoint) -> bool {
        self.with(|known| match (known.get(name), point) {
            (None, _) => true,
            (Some(points), HookPoint::PostStart) => points.post_start,
            (Some(points), HookPoint::PreStop) => points.pre_stop,
        })
    }
}

/// The exec that runs `hook` in `container`.
pub fn exec_request(container: &str, hook: &ServiceHook) -> proto::ExecRequest {
    proto::ExecRequest {
        container: container.to_string(),
        args: hook.command.clone(),
        env: hook
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect(),
        user: hook.user.clone().unwrap_or_default(),
        working_dir: hook.working_dir.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// How a hook's failure reads, as Compose words it.
pub fn failure(service: &str, code: i32) -> String {
    format!("{service} hook exited with status {code}")
}

/// Refuses what the agent cannot run of the service's hooks: `privileged` `post_start` and
/// `pre_stop` hooks (an exec gets the container's capabilities, never more) and, as Compose,
/// `pre_start` hooks with `per_replica` (they run once per service).
pub fn check(name: &str, service: &Service) -> Result<(), TranslateError> {
    for (key, hooks) in [
        ("post_start", &service.post_start),
        ("pre_stop", &service.pre_stop),
    ] {
        if hooks.iter().any(|h| h.privileged) {
            return Err(TranslateError::new(
                name,
                format!("{key}: privileged hooks are not supported by bosun"),
            ));
        }
    }
    if let Some(index) = service.pre_start.iter().position(|h| h.per_replica) {
        return Err(TranslateError::new(
            name,
            format!(
                "pre_start[{index}]: per_replica is not yet supported; remove per_replica or set it to false"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(value: serde_json::Value) -> Service {
        let project = compose_spec::model::from_json(&json!({"services": {"web": value}})).unwrap();
        project.services["web"].clone()
    }

    #[test]
    fn known_hooks_follow_creates_observations_renames_and_removals() {
        let known = KnownHooks::default();
        assert!(
            known.may_have("a", HookPoint::PostStart),
            "unknown may have hooks"
        );
        let web = service(json!({"image": "busybox", "post_start": [{"command": "echo up"}]}));
        known.created("a", &web);
        assert!(known.may_have("a", HookPoint::PostStart));
        assert!(!known.may_have("a", HookPoint::PreStop));
        known.renamed("a", "b");
        assert!(
            known.may_have("a", HookPoint::PreStop),
            "a is unknown again"
        );
        assert!(!known.may_have("b", HookPoint::PreStop));
        let plain = service(json!({"image": "busybox"}));
        let labels = HashMap::from([(
            labels::SERVICE_CONFIG.to_string(),
            labels::service_config(&plain).to_string(),
        )]);
        known.observed("b", &labels);
        assert!(!known.may_have("b", HookPoint::PostStart));
        known.observed(
            "b",
            &HashMap::from([(labels::SERVICE_CONFIG.to_string(), "{".into())]),
        );
        assert!(
            known.may_have("b", HookPoint::PostStart),
            "unreadable: unknown"
        );
        known.created("c", &plain);
        known.removed("c");
        assert!(known.may_have("c", HookPoint::PreStop));
    }

    #[test]
    fn hooks_come_from_the_recorded_definition() {
        let web = service(json!({"image": "busybox",
            "post_start": [{"command": "echo up", "user": "nobody", "working_dir": "/tmp",
                            "environment": {"A": "1", "B": null}}],
            "pre_stop": [{"command": ["echo", "down"]}]}));
        let container_labels = HashMap::from([(
            labels::SERVICE_CONFIG.to_string(),
            labels::service_config(&web).to_string(),
        )]);
        let post = recorded(&container_labels, HookPoint::PostStart).unwrap();
        assert_eq!(post, web.post_start);
        let request = exec_request("demo-web-1", &post[0]);
        assert_eq!(
            (
                request.args,
                request.env,
                request.user.as_str(),
                request.working_dir.as_str()
            ),
            (
                vec!["echo".to_string(), "up".to_string()],
                vec!["A=1".to_string()],
                "nobody",
                "/tmp"
            )
        );
        assert_eq!(
            recorded(&container_labels, HookPoint::PreStop).unwrap(),
            web.pre_stop
        );
        assert!(
            recorded(&HashMap::new(), HookPoint::PreStop)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn privileged_and_per_replica_pre_start_hooks_are_refused() {
        let privileged = service(json!({"image": "busybox",
            "post_start": [{"command": "id", "privileged": true}]}));
        assert_eq!(
            check("web", &privileged).unwrap_err().to_string(),
            "service web: post_start: privileged hooks are not supported by bosun"
        );
        let pre_start = service(json!({"image": "busybox", "pre_start": [{"command": "id"}]}));
        assert_eq!(check("web", &pre_start), Ok(()));
        let per_replica = service(json!({"image": "busybox", "pre_start": [
            {"command": "id"}, {"command": "id", "per_replica": true}]}));
        assert_eq!(
            check("web", &per_replica).unwrap_err().to_string(),
            "service web: pre_start[1]: per_replica is not yet supported; remove per_replica or set it to false"
        );
        assert_eq!(check("web", &service(json!({"image": "busybox"}))), Ok(()));
    }
}
