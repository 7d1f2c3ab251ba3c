//! The engine spec of a container configuration: the request over the image's defaults, and
//! what the agent can actually grant of the capabilities asked for. Pure; the network part
//! and the volumes are completed by [`crate::prepare`].

use std::path::Path;

use engine::spec::{Capabilities, ContainerSpec};

use super::AgentError;
use super::plan::{self, ImageDefaults};
use super::request::ContainerConfig;

/// The engine spec for `config` over `image`'s defaults (empty ones for a directory rootfs),
/// running in `rootfs`. Volumes keep their names (empty for the anonymous ones the node
/// creates); the network part is left to the node.
pub(crate) fn with_image(
    config: &ContainerConfig,
    image: &ImageDefaults,
    rootfs: &Path,
) -> Result<ContainerSpec, AgentError> {
    let args = plan::command(&config.command, image);
    if args.is_empty() {
        return Err(AgentError::Invalid(
            "no command specified: give one, or use an image that has one".into(),
        ));
    }
    let mut spec = ContainerSpec::new(rootfs, args);
    spec.env = plan::merge_env(&image.env, &config.env);
    match &config.working_dir {
        Some(dir) => spec.cwd = dir.clone(),
        None if !image.working_dir.is_empty() => spec.cwd = image.working_dir.clone().into(),
        None => {}
    }
    spec.user = config
        .user
        .clone()
        .or_else(|| (!image.user.is_empty()).then(|| image.user.clone()));
    spec.hostname = config.hostname.clone();
    spec.domainname = config.domainname.clone();
    spec.mounts = config.mounts.iter().map(|m| m.mount.clone()).collect();
    let mut anonymous = plan::image_volumes(image, &spec.mounts);
    spec.mounts.append(&mut anonymous);
    for m in &config.mounts {
        if let Some(propagation) = &m.propagation {
            spec.bind_propagation
                .insert(m.mount.target.clone(), propagation.clone());
        }
    }
    spec.resources = config.resources.clone();
    spec.additional_groups = config.group_add.clone();
    spec.no_new_privileges = config.no_new_privileges;
    spec.rlimits = config.ulimits.clone();
    spec.sysctls = config.sysctls.clone();
    if let Some(size) = config.shm_size {
        spec.shm_size = size;
    }
    spec.tty = config.tty;
    spec.stdin = config.stdin_open;
    spec.extra_hosts = config.extra_hosts.clone();
    spec.dns = config.dns.clone();
    if let Some(size) = config.log_max_size {
        spec.log_max_size = size;
    }
    if let Some(files) = config.log_max_files {
        spec.log_max_files = files;
    }
    spec.capabilities = config.capabilities.clone();
    if config.capabilities.privileged {
        spec.masked_paths.clear();
        spec.readonly_paths.clear();
    }
    spec.seccomp = config.seccomp.clone();
    spec.read_only_root = config.read_only;
    if let Some(signal) = config.stop_signal {
        spec.stop_signal = signal;
    }
    if let Some(grace) = config.stop_timeout {
        spec.stop_grace_period = grace;
    }
    spec.init = config.init;
    spec.restart = config.restart;
    spec.healthcheck = config.healthcheck.clone();
    Ok(spec)
}

/// Warnings for the capabilities a configuration asks for that this agent cannot grant, its
/// own bounding set lacking them: the container gets the others, and a line names these.
pub(crate) fn capability_warnings(asked: &Capabilities) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use engine::health::{HealthConfig, HealthTest};
    use engine::restart::RestartPolicy;
    use engine::spec::{Mount, MountKind};

    use super::*;
    use crate::request::MountRequest;

    fn config() -> ContainerConfig {
        ContainerConfig::new("/r", vec!["sh".into()])
    }

    fn image() -> ImageDefaults {
        ImageDefaults {
            cmd: vec!["serve".into()],
            env: vec!["A=image".into()],
            working_dir: "/srv".into(),
            user: "app".into(),
            volumes: vec!["/data".into()],
            ..ImageDefaults::default()
        }
    }

    #[test]
    fn capabilities_outside_the_agents_bounding_set_are_named() {
        let privileged = Capabilities {
            privileged: true,
            ..Capabilities::default()
        };
        let add = Capabilities {
            add: vec!["NET_ADMIN".into()],
            ..Capabilities::default()
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
                        capability_warnings(&Capabilities::default()),
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
    fn defaults_match_the_engine() {
        let spec = with_image(&config(), &ImageDefaults::default(), Path::new("/r")).unwrap();
        assert_eq!(spec, ContainerSpec::new("/r", ["sh"]));
    }

    #[test]
    fn the_image_fills_what_the_request_leaves_out() {
        let bare = ContainerConfig::new("/r", Vec::new());
        let spec = with_image(&bare, &image(), Path::new("/r")).unwrap();
        assert_eq!(spec.args, ["serve"]);
        assert_eq!(spec.env, ["A=image"]);
        assert_eq!(spec.cwd, PathBuf::from("/srv"));
        assert_eq!(spec.user.as_deref(), Some("app"));
        assert!(matches!(&spec.mounts[..], [m] if m.target == Path::new("/data")));
        let own = ContainerConfig {
            env: vec!["A=mine".into()],
            working_dir: Some("/w".into()),
            user: Some("alice".into()),
            mounts: vec![MountRequest {
                mount: Mount {
                    kind: MountKind::Volume {
                        name: "db".into(),
                        subpath: None,
                        no_copy: false,
                    },
                    target: "/data".into(),
                    read_only: false,
                },
                propagation: None,
                create_host_path: false,
                content: None,
            }],
            ..bare
        };
        let spec = with_image(&own, &image(), Path::new("/r")).unwrap();
        assert_eq!(
            (spec.env, spec.cwd, spec.user),
            (vec!["A=mine".into()], "/w".into(), Some("alice".into()))
        );
        assert_eq!(spec.mounts.len(), 1, "the image's /data is mounted already");
        let err = with_image(
            &ContainerConfig::new("/r", Vec::new()),
            &ImageDefaults::default(),
            Path::new("/r"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no command specified: give one, or use an image that has one"
        );
    }

    #[test]
    fn settings_reach_the_spec() {
        let health = HealthConfig {
            test: HealthTest::CmdShell("test -f /ok".into()),
            ..HealthConfig::default()
        };
        let c = ContainerConfig {
            hostname: Some("box".into()),
            capabilities: Capabilities {
                privileged: true,
                ..Capabilities::default()
            },
            read_only: true,
            stop_signal: Some(2),
            stop_timeout: Some(Duration::from_secs(3)),
            shm_size: Some(1 << 20),
            restart: RestartPolicy::OnFailure {
                max_retries: Some(3),
            },
            healthcheck: Some(health.clone()),
            ..config()
        };
        let s = with_image(&c, &ImageDefaults::default(), Path::new("/r")).unwrap();
        assert_eq!(s.hostname.as_deref(), Some("box"));
        assert!(s.capabilities.privileged && s.masked_paths.is_empty());
        assert!(s.read_only_root);
        assert_eq!(s.stop_signal, 2);
        assert_eq!(s.stop_grace_period, Duration::from_secs(3));
        assert_eq!(s.shm_size, 1 << 20);
        assert_eq!(s.restart, c.restart);
        assert_eq!(s.healthcheck, Some(health));
    }
}
