//! Compose keys a stack does not honour, gathered into one warning line per key naming the
//! services (or volumes, networks) that use it, so nothing in the file is dropped silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What a warning's names are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// Compose services.
    Services,
    /// Top-level named volumes.
    Volumes,
    /// Top-level networks.
    Networks,
}

impl Subject {
    fn as_str(self) -> &'static str {
        match self {
            Subject::Services => "services",
            Subject::Volumes => "volumes",
            Subject::Networks => "networks",
        }
    }
}

/// Why a key is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Support {
    /// It cannot apply to services spread over a cluster.
    Never,
    /// The cluster does not do it yet.
    NotYet,
}

/// One compose key the stack ignores, and who uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The key (`build`, `deploy.update_config`, `ports.host_ip`).
    pub key: String,
    /// Never or not yet.
    pub support: Support,
    /// What the user can do instead, or what happens instead.
    pub hint: Option<&'static str>,
    /// What the names are.
    pub subject: Subject,
    /// The services (or volumes, networks) using it, sorted.
    pub names: Vec<String>,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yet = match self.support {
            Support::Never => "",
            Support::NotYet => " yet",
        };
        write!(
            f,
            "{} is not supported by stack deploy{yet} and is ignored",
            self.key
        )?;
        if let Some(hint) = self.hint {
            write!(f, "; {hint}")?;
        }
        write!(f, " ({}: {})", self.subject.as_str(), self.names.join(", "))
    }
}

/// Service keys that cannot apply on a cluster, with a hint where one helps.
const NEVER: &[(&str, Option<&str>)] = &[
    ("attach", None),
    (
        "build",
        Some("build and push the image, then name it in image"),
    ),
    ("cgroup", None),
    ("cgroup_parent", None),
    (
        "container_name",
        Some("task containers are named <service>.<slot>.<task>"),
    ),
    ("develop", None),
    ("device_cgroup_rules", None),
    ("devices", None),
    ("external_links", None),
    ("ipc", None),
    ("links", None),
    ("mac_address", None),
    ("network_mode", None),
    ("pid", None),
    ("provider", None),
    ("stdin_open", None),
    ("tty", None),
    ("userns_mode", None),
    ("uts", None),
    ("volumes_from", None),
];

/// Service keys not yet supported whose hint names what works instead.
const NOT_YET_HINTS: &[(&str, &str)] = &[
    ("cpus", "use deploy.resources.limits.cpus"),
    ("mem_limit", "use deploy.resources.limits.memory"),
    (
        "mem_reservation",
        "use deploy.resources.reservations.memory",
    ),
];

/// Service keys the mapping reads (some with parts checked on their own), or that the loader
/// has already applied (`env_file`, `extends`, `profiles`).
pub(super) const HANDLED: &[&str] = &[
    "cap_add",
    "cap_drop",
    "command",
    "configs",
    "depends_on",
    "deploy",
    "entrypoint",
    "env_file",
    "environment",
    "extends",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "labels",
    "networks",
    "ports",
    "profiles",
    "read_only",
    "restart",
    "scale",
    "secrets",
    "stop_grace_period",
    "stop_signal",
    "sysctls",
    "tmpfs",
    "ulimits",
    "user",
    "volumes",
    "working_dir",
];

/// Why a key is ignored, its hint, and who uses it.
type Found = (Support, Option<&'static str>, BTreeSet<String>);

/// The warnings gathered while mapping a project.
#[derive(Debug, Default)]
pub(super) struct Warnings {
    found: BTreeMap<(Subject, String), Found>,
}

impl Warnings {
    /// `name` (of `subject`) uses `key`, which is ignored.
    pub(super) fn add(
        &mut self,
        subject: Subject,
        key: impl Into<String>,
        support: Support,
        hint: Option<&'static str>,
        name: &str,
    ) {
        self.found
            .entry((subject, key.into()))
            .or_insert_with(|| (support, hint, BTreeSet::new()))
            .2
            .insert(name.to_owned());
    }

    /// Service `name` uses `key`, which this version does not do yet.
    pub(super) fn not_yet(
        &mut self,
        key: impl Into<String>,
        hint: Option<&'static str>,
        name: &str,
    ) {
        self.add(Subject::Services, key, Support::NotYet, hint, name);
    }

    /// Notes every top-level key of service `name` (as serialized: only the keys that are
    /// set) that the mapping does not read.
    pub(super) fn unread_keys(&mut self, name: &str, keys: impl Iterator<Item = String>) {
        for key in keys {
            if key.starts_with("x-") || HANDLED.contains(&key.as_str()) {
                continue;
            }
            if let Some((_, hint)) = NEVER.iter().find(|(k, _)| *k == key) {
                self.add(Subject::Services, key, Support::Never, *hint, name);
            } else {
                let hint = NOT_YET_HINTS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, h)| *h);
                self.not_yet(key, hint, name);
            }
        }
    }

    /// The warnings, services first, then by key.
    pub(super) fn into_vec(self) -> Vec<Warning> {
        self.found
            .into_iter()
            .map(|((subject, key), (support, hint, names))| Warning {
                key,
                support,
                hint,
                subject,
                names: names.into_iter().collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_with_every_service_using_it() {
        let mut warnings = Warnings::default();
        warnings.unread_keys(
            "worker",
            ["build", "x-meta", "image", "cpus"]
                .map(String::from)
                .into_iter(),
        );
        warnings.unread_keys("web", ["build".to_owned()].into_iter());
        let lines: Vec<String> = warnings
            .into_vec()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "build is not supported by stack deploy and is ignored; build and push the image, then name it in image (services: web, worker)",
                "cpus is not supported by stack deploy yet and is ignored; use deploy.resources.limits.cpus (services: worker)",
            ]
        );
    }

    #[test]
    fn a_key_no_table_knows_is_still_reported() {
        let mut warnings = Warnings::default();
        warnings.unread_keys("web", ["some_new_key".to_owned()].into_iter());
        assert_eq!(
            warnings.into_vec()[0].to_string(),
            "some_new_key is not supported by stack deploy yet and is ignored (services: web)"
        );
    }
}
