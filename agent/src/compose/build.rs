//! A planned compose build ([`BuildSpec`]) → the agent's [`proto::BuildRequest`]. Every key of
//! `build:` is either carried, or refused with an error naming it: the builder has no way to
//! honour it, and building without it would give another image than the file asks for.

use std::path::Path;

use orchestrator::compose::BuildSpec;

use super::translate::TranslateError;
use crate::proto;

/// The build request of `spec`; an error names the first key that cannot be honoured.
pub fn build_request(spec: &BuildSpec) -> Result<proto::BuildRequest, TranslateError> {
    let build = &spec.definition;
    let refuse = |key: &str, why: &str| {
        Err(TranslateError::new(
            &spec.service,
            format!("build.{key} is not supported: {why}"),
        ))
    };
    let unsupported: [(bool, &str, &str); 11] = [
        (
            !build.ssh.is_empty(),
            "ssh",
            "the builder has no ssh mounts",
        ),
        (
            !build.additional_contexts.is_empty(),
            "additional_contexts",
            "the builder reads one context",
        ),
        (
            !build.extra_hosts.is_empty(),
            "extra_hosts",
            "RUN steps use the host's /etc/hosts",
        ),
        (
            build.shm_size.is_some(),
            "shm_size",
            "RUN steps get the engine's default /dev/shm",
        ),
        (
            !build.ulimits.is_empty(),
            "ulimits",
            "RUN steps get the agent's limits",
        ),
        (
            build.privileged || !build.entitlements.is_empty(),
            if build.privileged {
                "privileged"
            } else {
                "entitlements"
            },
            "RUN steps are never privileged",
        ),
        (
            !build.cache_from.is_empty() || !build.cache_to.is_empty(),
            if build.cache_from.is_empty() {
                "cache_to"
            } else {
                "cache_from"
            },
            "the build cache is local to this node",
        ),
        (
            !build.no_cache_filter.is_empty(),
            "no_cache_filter",
            "use no_cache for the whole build",
        ),
        (
            build.isolation.is_some(),
            "isolation",
            "builds run in Linux containers only",
        ),
        (
            build.provenance.is_some() || build.sbom.is_some(),
            if build.provenance.is_some() {
                "provenance"
            } else {
                "sbom"
            },
            "the builder writes no attestations",
        ),
        (
            build.platforms.iter().any(|p| *p != builder::platform()),
            "platforms",
            "only this host's platform is built",
        ),
    ];
    if let Some((_, key, why)) = unsupported.iter().find(|(set, _, _)| *set) {
        return refuse(key, why);
    }
    if build.context.contains("://") || build.context.starts_with("git@") {
        return refuse(
            "context",
            "the context must be a local directory, not a URL",
        );
    }
    let network = match build.network.as_deref() {
        None | Some("default") => "default",
        Some("none") => "none",
        Some("host") => "host",
        Some(other) => {
            return refuse(
                "network",
                &format!("{other:?}: RUN steps can use default, none or host"),
            );
        }
    };
    let context = Path::new(&build.context);
    Ok(proto::BuildRequest {
        context: build.context.clone(),
        dockerfile: match (&build.dockerfile_inline, &build.dockerfile) {
            (None, Some(file)) => context.join(file).display().to_string(),
            _ => String::new(),
        },
        dockerfile_text: build.dockerfile_inline.clone().unwrap_or_default(),
        tags: spec.tags.clone(),
        build_args: spec.args.clone().into_iter().collect(),
        target: build.target.clone().unwrap_or_default(),
        labels: build.labels.clone().into_iter().collect(),
        no_cache: spec.no_cache,
        pull: spec.pull,
        network: network.to_string(),
        secrets: spec.secrets.clone().into_iter().collect(),
        registry_auths: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use compose_spec::model::Build;

    use super::*;

    fn spec(build: Build) -> BuildSpec {
        BuildSpec {
            service: "web".into(),
            image: "demo-web".into(),
            tags: vec!["demo-web".into(), "web:1".into()],
            definition: build,
            args: BTreeMap::from([("A".into(), "1".into())]),
            secrets: BTreeMap::from([("token".into(), "/p/token".into())]),
            no_cache: true,
            pull: false,
        }
    }

    #[test]
    fn supported_keys_are_carried() {
        let mut build = Build::new("/p/web");
        build.dockerfile = Some("web.Dockerfile".into());
        build.target = Some("runtime".into());
        build.labels = BTreeMap::from([("team".into(), "a".into())]);
        build.network = Some("none".into());
        let request = build_request(&spec(build.clone())).expect("supported");
        assert_eq!(request.context, "/p/web");
        assert_eq!(request.dockerfile, "/p/web/web.Dockerfile");
        assert_eq!(request.dockerfile_text, "");
        assert_eq!(request.tags, ["demo-web", "web:1"]);
        assert_eq!(request.build_args["A"], "1");
        assert_eq!(request.labels["team"], "a");
        assert_eq!(request.secrets["token"], "/p/token");
        assert_eq!(
            (request.target.as_str(), request.network.as_str()),
            ("runtime", "none")
        );
        assert!(request.no_cache && !request.pull);

        build.dockerfile_inline = Some("FROM scratch\n".into());
        let inline = build_request(&spec(build)).expect("supported");
        assert_eq!(
            (inline.dockerfile.as_str(), inline.dockerfile_text.as_str()),
            ("", "FROM scratch\n")
        );
    }

    #[test]
    fn unsupported_keys_are_one_error_naming_the_key() {
        type Set = fn(&mut Build);
        let cases: [(&str, Set); 6] = [
            ("build.ssh", |b| {
                b.ssh.insert("default".into(), None);
            }),
            ("build.additional_contexts", |b| {
                b.additional_contexts.insert("x".into(), "../x".into());
            }),
            ("build.extra_hosts", |b| {
                b.extra_hosts.insert("h".into(), vec!["10.0.0.1".into()]);
            }),
            ("build.platforms", |b| {
                b.platforms = vec!["linux/s390x".into()]
            }),
            ("build.context", |b| {
                b.context = "https://example.invalid/repo.git".into()
            }),
            ("build.network", |b| b.network = Some("bridge".into())),
        ];
        for (key, set) in cases {
            let mut build = Build::new("/p/web");
            set(&mut build);
            let err = build_request(&spec(build)).expect_err(key);
            assert!(
                err.to_string()
                    .starts_with(&format!("service web: {key} is not supported")),
                "{err}"
            );
        }
    }
}
