//! The service graph: every service a service needs must exist, and the needs must not form a
//! cycle. A need comes from `depends_on` or implicitly from `links`, `volumes_from` and
//! `service:` namespace modes (normalization has added those to `depends_on`); messages name the
//! key the user wrote and point at its line.

use std::collections::BTreeSet;

use super::{Checker, service_path};
use crate::error::{ErrorKind, Result};
use crate::model::Service;
use crate::normalize::service_reference;
use crate::path::KeyPath;
use crate::yaml::Value;

/// Why `service` needs a dependency: the key that says so and how to say it.
struct Origin {
    path: KeyPath,
    /// `depends on`, `links to`, … (reads `service "a" links to service "b"`).
    how: String,
    /// Whether the need was written under `depends_on`.
    explicit: bool,
}

impl Checker<'_> {
    /// Where `name` declares its need of `dependency`.
    fn origin(&self, name: &str, service: &Service, dependency: &str) -> Origin {
        let path = service_path(name);
        let explicit = |path: KeyPath| Origin {
            path,
            how: "depends on".to_string(),
            explicit: true,
        };
        let depends_on = path.key("depends_on");
        match self.document.at(&depends_on).map(|n| &n.value) {
            Some(Value::Map(map)) if map.contains_key(dependency) => {
                return explicit(depends_on.key(dependency));
            }
            Some(Value::Seq(items)) => {
                if let Some(i) = items.iter().position(|n| n.as_str() == Some(dependency)) {
                    return explicit(depends_on.index(i));
                }
            }
            _ => {}
        }
        let implicit = |path: KeyPath, how: &str| Origin {
            path,
            how: how.to_string(),
            explicit: false,
        };
        if let Some(i) = service
            .links
            .iter()
            .position(|l| l.split(':').next() == Some(dependency))
        {
            return implicit(path.key("links").index(i), "links to");
        }
        if let Some(i) = service
            .volumes_from
            .iter()
            .position(|v| v.split(':').next() == Some(dependency))
        {
            return implicit(path.key("volumes_from").index(i), "mounts volumes from");
        }
        let modes = [
            (
                "network_mode",
                &service.network_mode,
                "uses the network stack of",
            ),
            ("ipc", &service.ipc, "shares the IPC namespace of"),
            ("pid", &service.pid, "shares the PID namespace of"),
        ];
        for (key, mode, how) in modes {
            if service_reference(mode.as_deref()) == Some(dependency) {
                return implicit(path.key(key), how);
            }
        }
        explicit(depends_on.key(dependency))
    }
}

/// Every service `name` needs exists (unless the need is a `depends_on` with `required: false`).
pub(super) fn check_references(check: &Checker<'_>, name: &str, service: &Service) -> Result<()> {
    for (dependency, spec) in &service.depends_on {
        if spec.required && !check.project.services.contains_key(dependency) {
            let origin = check.origin(name, service, dependency);
            return Err(check.error(
                ErrorKind::UndefinedReference,
                origin.path,
                format!(
                    "service \"{name}\" {} undefined service \"{dependency}\"",
                    origin.how
                ),
            ));
        }
    }
    Ok(())
}

/// No service needs itself, directly or through others; a cycle is printed `a -> b -> a`.
pub(super) fn check_cycles(check: &Checker<'_>) -> Result<()> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in check.project.services.keys() {
        let mut stack: Vec<&str> = Vec::new();
        visit(check, start, &mut stack, &mut done)?;
    }
    Ok(())
}

fn visit<'p>(
    check: &Checker<'p>,
    name: &'p str,
    stack: &mut Vec<&'p str>,
    done: &mut BTreeSet<&'p str>,
) -> Result<()> {
    if done.contains(name) {
        return Ok(());
    }
    if let Some(pos) = stack.iter().position(|s| *s == name) {
        let mut cycle: Vec<&str> = stack[pos..].to_vec();
        cycle.push(name);
        let mut first: Option<Origin> = None;
        let mut implicit: Vec<String> = Vec::new();
        for pair in cycle.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            let Some(service) = check.project.services.get(from) else {
                continue;
            };
            let origin = check.origin(from, service, to);
            if !origin.explicit {
                implicit.push(format!("\"{from}\" {} \"{to}\"", origin.how));
            }
            first.get_or_insert(origin);
        }
        let mut message = format!("dependency cycle detected: {}", cycle.join(" -> "));
        if !implicit.is_empty() {
            message.push_str(&format!(" ({})", implicit.join(", ")));
        }
        let path = first.map_or_else(|| service_path(cycle[0]), |o| o.path);
        return Err(check.error(ErrorKind::Cycle, path, message));
    }
    let Some(service) = check.project.services.get(name) else {
        return Ok(());
    };
    stack.push(name);
    for dependency in service.depends_on.keys() {
        visit(check, dependency, stack, done)?;
    }
    stack.pop();
    done.insert(name);
    Ok(())
}
