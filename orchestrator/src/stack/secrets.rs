//! A stack's secrets and configs: the compose file's top-level `secrets` and `configs` (from a
//! file, an environment variable or inline content) that its services use become cluster
//! secrets and configs named `<stack>_<key>`, labelled with the stack's namespace, and the
//! services reference them.
//!
//! A secret's payload cannot be changed in place, so a payload that differs from the one the
//! cluster holds under `<stack>_<key>` becomes a new version, `<stack>_<key>_<digest>` (the
//! first 10 hex digits of the payload's SHA-256): the services that use it then change, and
//! roll. Each object carries its payload's digest in a label, so a redeploy of the same
//! payload finds the version it made and changes nothing. An `external` one is referenced by
//! its name (`name:`, else its key) and never created.
//!
//! Pure: the CLI reads the files ([`Payload::Path`]), lists what the cluster has, and creates
//! what [`plan`] asks for before it creates or updates the services.

use std::collections::BTreeMap;

use compose_spec::env::Environment;
use compose_spec::model::{Project, ServiceFileRef};
use sha2::{Digest as _, Sha256};

use super::error::StackError;
use super::{NAMESPACE_LABEL, StackService};
use crate::swarm::{FileKind, FileReference};

/// Label of a stack's secret or config: the SHA-256 of its payload, hex.
pub const DIGEST_LABEL: &str = "com.bosun.stack.digest";

/// Where the bytes of one of the stack's secrets or configs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A file, for the caller to read.
    Path(String),
    /// The bytes themselves (`environment:` or `content:`).
    Bytes(Vec<u8>),
}

/// One top-level secret or config a service of the stack uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Secret or config.
    pub kind: FileKind,
    /// Its key in the compose file.
    pub key: String,
    /// Its bytes; `None` for an external one.
    pub payload: Option<Payload>,
    /// The cluster name of an external one.
    pub external_name: Option<String>,
    /// Its labels in the compose file.
    pub labels: BTreeMap<String, String>,
}

/// What the cluster already has: one secret or config with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingBlob {
    /// Secret or config.
    pub kind: FileKind,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

/// One secret or config to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlob {
    /// Secret or config.
    pub kind: FileKind,
    /// Its cluster name.
    pub name: String,
    /// Its payload.
    pub data: Vec<u8>,
    /// Its labels: the compose file's, the stack's namespace and the payload's digest.
    pub labels: BTreeMap<String, String>,
}

/// What a deploy does about secrets and configs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// To create before the services.
    pub create: Vec<NewBlob>,
    /// The cluster name of each (kind, key) the services use.
    pub names: BTreeMap<(FileKind, String), String>,
}

fn refs(kind: FileKind, service: &compose_spec::model::Service) -> &[ServiceFileRef] {
    match kind {
        FileKind::Secret => &service.secrets,
        FileKind::Config => &service.configs,
    }
}

/// The top-level secrets and configs the services of `project` use, with where their bytes
/// come from (`environment` gives the variables).
pub fn wanted(project: &Project, environment: &Environment) -> Result<Vec<Wanted>, StackError> {
    let mut out: BTreeMap<(FileKind, String), Wanted> = BTreeMap::new();
    for (service, definition) in &project.services {
        for kind in [FileKind::Secret, FileKind::Config] {
            for reference in refs(kind, definition) {
                let key = reference.source.clone();
                if out.contains_key(&(kind, key.clone())) {
                    continue;
                }
                let bad = |why: String| StackError::Value {
                    service: service.clone(),
                    key: match kind {
                        FileKind::Secret => "secrets",
                        FileKind::Config => "configs",
                    },
                    value: key.clone(),
                    why,
                };
                let (external, name, file, variable, content, labels) = match kind {
                    FileKind::Secret => {
                        let s = project.secrets.get(&key).ok_or_else(|| {
                            bad(format!("secret {key} is not defined at the top level"))
                        })?;
                        let (e, n, f, v) = (s.external, &s.name, &s.file, &s.environment);
                        (e, n, f, v, &None, &s.labels)
                    }
                    FileKind::Config => {
                        let c = project.configs.get(&key).ok_or_else(|| {
                            bad(format!("config {key} is not defined at the top level"))
                        })?;
                        let (e, n, f, v) = (c.external, &c.name, &c.file, &c.environment);
                        (e, n, f, v, &c.content, &c.labels)
                    }
                };
                let payload = if external {
                    None
                } else if let Some(file) = file {
                    Some(Payload::Path(file.clone()))
                } else if let Some(variable) = variable {
                    let value = environment.get(variable).ok_or_else(|| {
                        bad(format!("environment variable {variable} is not set"))
                    })?;
                    Some(Payload::Bytes(value.as_bytes().to_vec()))
                } else if let Some(content) = content {
                    Some(Payload::Bytes(content.as_bytes().to_vec()))
                } else {
                    return Err(bad("it has no file, environment or content".to_owned()));
                };
                out.insert(
                    (kind, key.clone()),
                    Wanted {
                        kind,
                        external_name: external
                            .then(|| name.clone().unwrap_or_else(|| key.clone())),
                        key,
                        payload,
                        labels: labels.clone(),
                    },
                );
            }
        }
    }
    Ok(out.into_values().collect())
}

/// The hex SHA-256 of `data`.
pub fn digest(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64);
    for byte in Sha256::digest(data) {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Decides the cluster name of each secret and config of stack `stack`, and what to create:
/// `wanted` with the payloads read (`data`, by kind and key; external ones have none)
/// against what the cluster has. `<stack>_<key>` when it is free or holds the same payload,
/// else `<stack>_<key>_<digest>` (reused when it holds the same payload).
pub fn plan(
    stack: &str,
    wanted: &[Wanted],
    data: &BTreeMap<(FileKind, String), Vec<u8>>,
    existing: &[ExistingBlob],
) -> Plan {
    let mut plan = Plan::default();
    for w in wanted {
        let slot = (w.kind, w.key.clone());
        if let Some(name) = &w.external_name {
            plan.names.insert(slot, name.clone());
            continue;
        }
        let Some(bytes) = data.get(&slot) else {
            continue;
        };
        let sum = digest(bytes);
        let base = format!("{stack}_{}", w.key);
        let versioned = format!("{base}_{}", &sum[..10]);
        let holder = |name: &str| existing.iter().find(|e| e.kind == w.kind && e.name == name);
        let same = |e: &ExistingBlob| e.labels.get(DIGEST_LABEL) == Some(&sum);
        let name = match (holder(&base), holder(&versioned)) {
            (Some(e), _) if same(e) => base,
            (None, _) => {
                plan.create.push(new_blob(w, stack, &base, bytes, &sum));
                base
            }
            (Some(_), Some(_)) => versioned,
            (Some(_), None) => {
                plan.create
                    .push(new_blob(w, stack, &versioned, bytes, &sum));
                versioned
            }
        };
        plan.names.insert(slot, name);
    }
    plan
}

fn new_blob(w: &Wanted, stack: &str, name: &str, data: &[u8], sum: &str) -> NewBlob {
    let mut labels = w.labels.clone();
    labels.insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
    labels.insert(DIGEST_LABEL.to_owned(), sum.to_owned());
    NewBlob {
        kind: w.kind,
        name: name.to_owned(),
        data: data.to_vec(),
        labels,
    }
}

/// Sets the secrets and configs of each of `services` from its compose definition in
/// `project`, by the cluster names `names` gives; a file goes where the compose reference
/// says (by default `/run/secrets/<key>` or `/<key>`, whatever the cluster name).
pub fn attach(
    project: &Project,
    names: &BTreeMap<(FileKind, String), String>,
    services: &mut [StackService],
) -> Result<(), StackError> {
    for service in services {
        let Some(definition) = project.services.get(&service.service) else {
            continue;
        };
        for kind in [FileKind::Secret, FileKind::Config] {
            let mut out = Vec::new();
            for r in refs(kind, definition) {
                let Some(name) = names.get(&(kind, r.source.clone())) else {
                    continue;
                };
                let id = |field: &'static str, value: &Option<String>| match value {
                    None => Ok(0),
                    Some(text) => text.parse().map_err(|_| StackError::Value {
                        service: service.service.clone(),
                        key: field,
                        value: text.clone(),
                        why: "expected a numeric id".to_owned(),
                    }),
                };
                out.push(FileReference {
                    source: name.clone(),
                    target: r.target.clone().unwrap_or_else(|| r.source.clone()),
                    uid: id("uid", &r.uid)?,
                    gid: id("gid", &r.gid)?,
                    mode: r.mode.map_or(crate::swarm::DEFAULT_FILE_MODE, |m| m.0),
                });
            }
            match kind {
                FileKind::Secret => service.spec.secrets = out,
                FileKind::Config => service.spec.configs = out,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project() -> Project {
        serde_json::from_value(json!({
            "services": {
                "api": {"image": "busybox",
                    "secrets": ["db", {"source": "token", "target": "/etc/token", "uid": "1", "mode": "0400"}],
                    "configs": ["app"]},
                "web": {"image": "busybox", "secrets": ["db"]}
            },
            "secrets": {
                "db": {"file": "/srv/db.txt"},
                "token": {"environment": "TOKEN"},
                "unused": {"file": "/nope"}
            },
            "configs": {"app": {"content": "port=1", "labels": {"team": "red"}}}
        }))
        .unwrap()
    }

    fn env() -> Environment {
        [("TOKEN".to_owned(), "t0k".to_owned())]
            .into_iter()
            .collect()
    }

    fn read(wanted: &[Wanted]) -> BTreeMap<(FileKind, String), Vec<u8>> {
        wanted
            .iter()
            .filter_map(|w| {
                let bytes = match w.payload.as_ref()? {
                    Payload::Path(_) => b"from-file".to_vec(),
                    Payload::Bytes(b) => b.clone(),
                };
                Some(((w.kind, w.key.clone()), bytes))
            })
            .collect()
    }

    #[test]
    fn used_definitions_are_wanted_with_their_sources() {
        let wanted = wanted(&project(), &env()).unwrap();
        let got: Vec<(FileKind, &str, Option<&Payload>)> = wanted
            .iter()
            .map(|w| (w.kind, w.key.as_str(), w.payload.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    FileKind::Secret,
                    "db",
                    Some(&Payload::Path("/srv/db.txt".into()))
                ),
                (
                    FileKind::Secret,
                    "token",
                    Some(&Payload::Bytes(b"t0k".to_vec()))
                ),
                (
                    FileKind::Config,
                    "app",
                    Some(&Payload::Bytes(b"port=1".to_vec()))
                ),
            ]
        );
        let err = super::wanted(&project(), &Environment::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("environment variable TOKEN is not set"),
            "{err}"
        );
    }

    #[test]
    fn first_deploy_creates_labelled_objects_and_services_reference_them() {
        let p = project();
        let wanted = wanted(&p, &env()).unwrap();
        let plan = plan("shop", &wanted, &read(&wanted), &[]);
        let created: Vec<&str> = plan.create.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(created, ["shop_db", "shop_token", "shop_app"]);
        let app = &plan.create[2];
        assert_eq!(app.labels[NAMESPACE_LABEL], "shop");
        assert_eq!(app.labels["team"], "red");
        assert_eq!(app.labels[DIGEST_LABEL], digest(b"port=1"));
        let (mut services, _) = super::super::services(&p, "shop").unwrap();
        attach(&p, &plan.names, &mut services).unwrap();
        let api = &services[0].spec;
        assert_eq!(
            api.secrets[0],
            FileReference {
                source: "shop_db".into(),
                target: "db".into(),
                uid: 0,
                gid: 0,
                mode: 0o444
            }
        );
        assert_eq!(
            api.secrets[1],
            FileReference {
                source: "shop_token".into(),
                target: "/etc/token".into(),
                uid: 1,
                gid: 0,
                mode: 0o400
            }
        );
        assert_eq!(api.configs[0].source, "shop_app");
        assert_eq!(services[1].spec.secrets[0].source, "shop_db");
    }

    #[test]
    fn a_redeploy_reuses_the_same_payload_and_versions_a_changed_one() {
        let p = project();
        let wanted = wanted(&p, &env()).unwrap();
        let first = plan("shop", &wanted, &read(&wanted), &[]);
        let existing: Vec<ExistingBlob> = first
            .create
            .iter()
            .map(|b| ExistingBlob {
                kind: b.kind,
                name: b.name.clone(),
                labels: b.labels.clone(),
            })
            .collect();
        let again = plan("shop", &wanted, &read(&wanted), &existing);
        assert!(again.create.is_empty(), "{again:?}");
        assert_eq!(again.names, first.names);
        let mut changed = read(&wanted);
        changed.insert((FileKind::Secret, "db".into()), b"new".to_vec());
        let next = plan("shop", &wanted, &changed, &existing);
        let version = format!("shop_db_{}", &digest(b"new")[..10]);
        let created: Vec<&str> = next.create.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(created, [version.as_str()]);
        assert_eq!(next.names[&(FileKind::Secret, "db".to_owned())], version);
        // Once made, the version is reused; and going back to the first payload, so is the base.
        let mut later = existing.clone();
        later.push(ExistingBlob {
            kind: FileKind::Secret,
            name: version.clone(),
            labels: next.create[0].labels.clone(),
        });
        assert!(plan("shop", &wanted, &changed, &later).create.is_empty());
        assert_eq!(
            plan("shop", &wanted, &read(&wanted), &later).names,
            first.names
        );
    }

    #[test]
    fn external_ones_are_referenced_by_name_and_never_created() {
        let p: Project = serde_json::from_value(json!({
            "services": {"api": {"image": "busybox", "secrets": ["db"]}},
            "secrets": {"db": {"external": true, "name": "prod_db"}}
        }))
        .unwrap();
        let wanted = wanted(&p, &env()).unwrap();
        let plan = plan("shop", &wanted, &read(&wanted), &[]);
        assert!(plan.create.is_empty());
        assert_eq!(plan.names[&(FileKind::Secret, "db".to_owned())], "prod_db");
    }
}
