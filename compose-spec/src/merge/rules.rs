//! Which merge rule applies at which key path (`services.*.command` replaces, …).

/// How two values at the same key path combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// The override replaces the base wholesale.
    Replace,
    /// A string is the short form of a mapping with this one key (`build: .`, `extends: svc`).
    LongForm(&'static str),
    /// A list of `KEY=value` strings or a mapping (`environment`, `labels` …), merged as a mapping.
    KeyValue,
    /// A list of names or a mapping keyed by name (`networks`, `depends_on` …), merged as a mapping.
    Names(NameDefault),
    /// A string or a list of strings (`dns`, `env_file` …), merged as a list.
    StringOrList,
    /// `extra_hosts`: merged as a list without exact duplicates.
    ExtraHosts,
    /// `logging`: options merge only when both sides name the same driver (or one names none).
    Logging,
    /// `ipam.config`: entries with the same subnet merge.
    IpamConfig,
    /// The default: mappings deep-merge, sequences append, scalars are replaced.
    Deep,
}

/// The value a name listed in the short form stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameDefault {
    /// `null` (networks, models).
    Null,
    /// `{condition: service_started, required: true}` (depends_on).
    DependsOn,
}

/// Patterns (`*` matches any one key) and their rules; the first match wins.
const RULES: &[(&str, Rule)] = &[
    ("services.*.command", Rule::Replace),
    ("services.*.entrypoint", Rule::Replace),
    ("services.*.healthcheck.test", Rule::Replace),
    ("services.*.ulimits.*", Rule::Replace),
    ("services.*.build", Rule::LongForm("context")),
    ("services.*.extends", Rule::LongForm("service")),
    ("services.*.annotations", Rule::KeyValue),
    ("services.*.build.args", Rule::KeyValue),
    ("services.*.build.additional_contexts", Rule::KeyValue),
    ("services.*.build.labels", Rule::KeyValue),
    ("services.*.deploy.labels", Rule::KeyValue),
    ("services.*.environment", Rule::KeyValue),
    ("services.*.labels", Rule::KeyValue),
    ("services.*.sysctls", Rule::KeyValue),
    ("networks.*.labels", Rule::KeyValue),
    ("volumes.*.labels", Rule::KeyValue),
    ("secrets.*.labels", Rule::KeyValue),
    ("configs.*.labels", Rule::KeyValue),
    ("services.*.depends_on", Rule::Names(NameDefault::DependsOn)),
    ("services.*.networks", Rule::Names(NameDefault::Null)),
    ("services.*.models", Rule::Names(NameDefault::Null)),
    ("services.*.dns", Rule::StringOrList),
    ("services.*.dns_opt", Rule::StringOrList),
    ("services.*.dns_search", Rule::StringOrList),
    ("services.*.env_file", Rule::StringOrList),
    ("services.*.label_file", Rule::StringOrList),
    ("services.*.tmpfs", Rule::StringOrList),
    ("services.*.extra_hosts", Rule::ExtraHosts),
    ("services.*.build.extra_hosts", Rule::ExtraHosts),
    ("services.*.logging", Rule::Logging),
    ("networks.*.ipam.config", Rule::IpamConfig),
];

/// The rule for the value at `path`.
pub(super) fn rule_for(path: &[String]) -> Rule {
    RULES
        .iter()
        .find(|(pattern, _)| matches(path, pattern))
        .map_or(Rule::Deep, |(_, rule)| *rule)
}

/// Whether `path` matches the dotted `pattern`, where `*` stands for any one key.
pub(super) fn matches(path: &[String], pattern: &str) -> bool {
    let mut parts = pattern.split('.');
    for key in path {
        match parts.next() {
            Some("*") => {}
            Some(part) if part == key => {}
            _ => return false,
        }
    }
    parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> Vec<String> {
        text.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn rules_by_path() {
        let cases = [
            ("services.web.command", Rule::Replace),
            ("services.web.healthcheck.test", Rule::Replace),
            ("services.web.healthcheck.interval", Rule::Deep),
            ("services.web.environment", Rule::KeyValue),
            ("services.web.build", Rule::LongForm("context")),
            ("services.web.build.args", Rule::KeyValue),
            (
                "services.web.depends_on",
                Rule::Names(NameDefault::DependsOn),
            ),
            ("services.web.ulimits.nofile", Rule::Replace),
            ("services.web.ulimits", Rule::Deep),
            ("x-command", Rule::Deep),
            ("services", Rule::Deep),
        ];
        for (p, rule) in cases {
            assert_eq!(rule_for(&path(p)), rule, "{p}");
        }
    }
}
