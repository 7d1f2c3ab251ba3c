//! `pre_start` hooks as Compose runs them: each hook is a container of its own, made from the
//! hook's image (the service's when unset) with the hook's command (the image's when unset),
//! the service's environment plus the hook's, the volumes of the service's container
//! (`volumes_from`) and its networks (without the service's DNS aliases or published ports).
//! It runs to completion before the service's containers start; a non-zero exit fails the
//! start, naming the hook's index and code with the end of its output.

use orchestrator::compose::PreStartSpec;

use super::translate::{self, TranslateError};
use crate::proto;

/// Lines of a failed hook's output shown in the error.
pub const TAIL_LINES: i64 = 10;

/// The name of the container running hook `index` beside `container`.
pub fn container_name(container: &str, index: usize) -> String {
    format!("{container}-pre_start-{index}")
}

/// The configuration of the container running hook `index` of `spec`.
pub fn hook_config(
    spec: &PreStartSpec,
    index: usize,
) -> Result<proto::ContainerConfig, TranslateError> {
    let service = &spec.container;
    let hook = spec.hooks.get(index).ok_or_else(|| {
        TranslateError::new(&service.service, format!("no pre_start hook {index}"))
    })?;
    let mut config = translate::container_config(service)?;
    if let Some(image) = &hook.image {
        config.image.clone_from(image);
    }
    // The image's entrypoint, and the hook's command (or the image's).
    config.args.clear();
    config.entrypoint.clear();
    config.has_entrypoint = false;
    config.cmd = hook.command.clone().unwrap_or_default();
    config.has_cmd = hook.command.is_some();
    config.env.extend(
        hook.environment
            .iter()
            .filter_map(|(key, value)| value.as_ref().map(|value| format!("{key}={value}"))),
    );
    config.user = hook.user.clone().unwrap_or_default();
    config.working_dir = hook.working_dir.clone().unwrap_or_default();
    config.privileged = hook.privileged;
    // The service container's mounts, its networks under no name of the service's.
    config.mounts.clear();
    config.volumes_from = vec![service.name.clone()];
    for network in &mut config.networks {
        network.aliases.clear();
        network.ipv4_address.clear();
        network.ipv6_address.clear();
        network.mac_address.clear();
    }
    config.ports.clear();
    config.publish_all = false;
    config.hostname.clear();
    config.healthcheck = None;
    config.restart.clear();
    config.tty = false;
    config.stdin_open = false;
    config.ipc_mode.clear();
    // Not one of the service's containers: no compose labels, so nothing counts it as one.
    config.labels.clear();
    Ok(config)
}

/// How a failed hook reads: Compose's words, then the end of its output.
pub fn failure(service: &str, index: usize, code: i32, tail: &str) -> String {
    let tail = tail.trim_end();
    if tail.is_empty() {
        format!("service {service:?} pre_start[{index}] exited with code {code}")
    } else {
        format!("service {service:?} pre_start[{index}] exited with code {code}: {tail}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use compose_spec::model::PreStartHook;
    use orchestrator::compose::ContainerSpec;
    use serde_json::json;

    use super::*;

    fn spec(hooks: Vec<PreStartHook>) -> PreStartSpec {
        let project = compose_spec::model::from_json(&json!({"services": {"web": {
            "image": "app:1",
            "entrypoint": ["/entry"],
            "command": ["serve"],
            "user": "app",
            "environment": {"FROM_SERVICE": "1"},
            "ports": ["8080:80"],
            "volumes": ["data:/data"],
            "networks": {"front": {"aliases": ["www"]}},
            "healthcheck": {"test": ["CMD", "true"]},
            "labels": {"tier": "web"},
        }}, "networks": {"front": {}}, "volumes": {"data": {}}}))
        .expect("project");
        let definition = project.services["web"].clone();
        PreStartSpec {
            container: Box::new(ContainerSpec {
                name: "demo-web-1".into(),
                project: "demo".into(),
                service: "web".into(),
                number: 1,
                image: "app:1".into(),
                definition,
                labels: BTreeMap::from([("tier".into(), "web".into())]),
                networks: BTreeMap::from([("front".into(), "demo_front".into())]),
                volumes: BTreeMap::from([("data".into(), "demo_data".into())]),
                carried_volumes: BTreeMap::new(),
                files: Ok(Vec::new()),
            }),
            hooks,
        }
    }

    #[test]
    fn a_hook_runs_its_command_with_the_service_volumes_and_networks_but_nothing_public() {
        let hook = PreStartHook {
            command: Some(vec!["sh".into(), "-c".into(), "echo init > /data/x".into()]),
            environment: BTreeMap::from([
                ("FROM_HOOK".into(), Some("2".into())),
                ("UNSET".into(), None),
            ]),
            working_dir: Some("/data".into()),
            ..Default::default()
        };
        let config = hook_config(&spec(vec![hook]), 0).expect("translates");
        assert_eq!(config.image, "app:1");
        assert!(!config.has_entrypoint && config.entrypoint.is_empty() && config.args.is_empty());
        assert!(config.has_cmd);
        assert_eq!(config.cmd, ["sh", "-c", "echo init > /data/x"]);
        assert!(
            config.env.contains(&"FROM_SERVICE=1".to_string()),
            "{:?}",
            config.env
        );
        assert!(config.env.contains(&"FROM_HOOK=2".to_string()));
        assert!(!config.env.iter().any(|e| e.starts_with("UNSET")));
        assert_eq!(config.user, "", "the image's user, not the service's");
        assert_eq!(config.working_dir, "/data");
        assert!(config.mounts.is_empty());
        assert_eq!(config.volumes_from, ["demo-web-1"]);
        assert_eq!(config.networks.len(), 1);
        assert_eq!(config.networks[0].network, "demo_front");
        assert!(config.networks[0].aliases.is_empty());
        assert!(config.ports.is_empty());
        assert!(config.healthcheck.is_none());
        assert!(config.labels.is_empty());
    }

    #[test]
    fn a_hook_image_without_command_runs_the_image_default() {
        let hook = PreStartHook {
            image: Some("tools:2".into()),
            ..Default::default()
        };
        let hooks = vec![PreStartHook::default(), hook];
        let config = hook_config(&spec(hooks), 1).expect("translates");
        assert_eq!(config.image, "tools:2");
        assert!(!config.has_cmd && config.cmd.is_empty());
        assert!(hook_config(&spec(Vec::new()), 0).is_err());
    }

    #[test]
    fn names_and_failures_read_as_compose() {
        assert_eq!(container_name("demo-web-1", 2), "demo-web-1-pre_start-2");
        assert_eq!(
            failure("web", 1, 17, "boom\n"),
            "service \"web\" pre_start[1] exited with code 17: boom"
        );
        assert_eq!(
            failure("web", 0, 3, ""),
            "service \"web\" pre_start[0] exited with code 3"
        );
    }
}
