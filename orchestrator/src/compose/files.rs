//! A service's `secrets:` and `configs:` resolved against the project's top-level definitions
//! and its environment, as Compose mounts them on one host: a `file:` source is bind-mounted,
//! an `environment:` or `content:` source is written to a file for the container. Secrets go to
//! `/run/secrets/<name>` and configs to `/<name>` unless the reference names a target.

use compose_spec::env::Environment;
use compose_spec::model::{Project, Service, ServiceFileRef};
use serde::Serialize;

use crate::compose::error::PlanError;

/// Whether a reference is to a secret or a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FileKind {
    /// `secrets:`.
    Secret,
    /// `configs:`.
    Config,
}

impl FileKind {
    /// The key as written in a compose file, singular (`secret`, `config`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Config => "config",
        }
    }
}

/// Where a mounted file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FileSource {
    /// A host file, bind-mounted read-only.
    Path(String),
    /// Bytes written to a file for the container (`environment:` or `content:`).
    Content(String),
}

/// One secret or config mounted in a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceFile {
    /// Secret or config.
    pub kind: FileKind,
    /// The key in the project.
    pub name: String,
    /// Absolute path inside the container.
    pub target: String,
    /// Where the bytes come from.
    pub source: FileSource,
    /// Owner user id of a written file (root when not given).
    pub uid: u32,
    /// Owner group id of a written file (root when not given).
    pub gid: u32,
    /// Permission bits of a written file (0400 for a secret, 0444 for a config, when not given).
    pub mode: u32,
}

/// The files service `name` mounts, in the order written: secrets, then configs.
pub fn service_files(
    project: &Project,
    environment: &Environment,
    name: &str,
    service: &Service,
) -> Result<Vec<ServiceFile>, PlanError> {
    files_of(project, environment, service).map_err(|message| PlanError::ServiceFile {
        service: name.to_string(),
        message,
    })
}

/// [`service_files`] with the error as a message naming the secret or config (not the
/// service).
pub fn files_of(
    project: &Project,
    environment: &Environment,
    service: &Service,
) -> Result<Vec<ServiceFile>, String> {
    let mut files = Vec::new();
    for reference in &service.secrets {
        let secret = project
            .secrets
            .get(&reference.source)
            .ok_or_else(|| format!("secret {} is not defined", reference.source))?;
        let definition = Definition {
            external: secret.external,
            file: secret.file.as_deref(),
            environment: secret.environment.as_deref(),
            content: None,
        };
        files.push(resolve(
            FileKind::Secret,
            reference,
            &definition,
            environment,
        )?);
    }
    for reference in &service.configs {
        let config = project
            .configs
            .get(&reference.source)
            .ok_or_else(|| format!("config {} is not defined", reference.source))?;
        let definition = Definition {
            external: config.external,
            file: config.file.as_deref(),
            environment: config.environment.as_deref(),
            content: config.content.as_deref(),
        };
        files.push(resolve(
            FileKind::Config,
            reference,
            &definition,
            environment,
        )?);
    }
    Ok(files)
}

/// The parts of a top-level secret or config that say where its bytes are.
struct Definition<'a> {
    external: bool,
    file: Option<&'a str>,
    environment: Option<&'a str>,
    content: Option<&'a str>,
}

fn resolve(
    kind: FileKind,
    reference: &ServiceFileRef,
    definition: &Definition<'_>,
    environment: &Environment,
) -> Result<ServiceFile, String> {
    let key = &reference.source;
    let what = kind.as_str();
    if definition.external {
        return Err(format!(
            "{what} {key} is external: external {what}s need a swarm, not one host"
        ));
    }
    let source = if let Some(file) = definition.file {
        FileSource::Path(file.to_string())
    } else if let Some(variable) = definition.environment {
        let value = environment.get(variable).ok_or_else(|| {
            format!("environment variable {variable} required by {what} {key} is not set")
        })?;
        FileSource::Content(value.to_string())
    } else if let Some(content) = definition.content {
        FileSource::Content(content.to_string())
    } else {
        return Err(format!("{what} {key} has no file, environment or content"));
    };
    let target = match (&reference.target, kind) {
        (Some(target), _) if target.starts_with('/') => target.clone(),
        (Some(target), FileKind::Secret) => format!("/run/secrets/{target}"),
        (Some(target), FileKind::Config) => format!("/{target}"),
        (None, FileKind::Secret) => format!("/run/secrets/{key}"),
        (None, FileKind::Config) => format!("/{key}"),
    };
    let id = |field: &str, value: &Option<String>| -> Result<u32, String> {
        match value {
            None => Ok(0),
            Some(text) => text
                .parse()
                .map_err(|_| format!("{what} {key}: {field} {text:?} is not a numeric id")),
        }
    };
    let default_mode = match kind {
        FileKind::Secret => 0o400,
        FileKind::Config => 0o444,
    };
    Ok(ServiceFile {
        kind,
        name: key.clone(),
        target,
        source,
        uid: id("uid", &reference.uid)?,
        gid: id("gid", &reference.gid)?,
        mode: reference.mode.map(|m| m.0).unwrap_or(default_mode),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project(value: serde_json::Value) -> Project {
        serde_json::from_value(value).unwrap()
    }

    fn files_of(project: &Project, environment: &Environment) -> Result<Vec<ServiceFile>, String> {
        service_files(project, environment, "app", &project.services["app"])
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sources_targets_owners_and_modes() {
        let p = project(json!({
            "services": {"app": {"image": "busybox",
                "secrets": ["from_file", {"source": "from_env", "target": "token", "uid": "1000", "gid": "1001", "mode": "0440"}],
                "configs": ["inline", {"source": "inline", "target": "/etc/app.conf"}]}},
            "secrets": {"from_file": {"file": "/p/secret.txt"}, "from_env": {"environment": "TOKEN"}},
            "configs": {"inline": {"content": "a=1"}}
        }));
        let env: Environment = [("TOKEN", "s3cr3t")].into_iter().collect();
        let files = files_of(&p, &env).unwrap();
        let summary: Vec<_> = files
            .iter()
            .map(|f| (f.target.as_str(), &f.source, f.uid, f.gid, f.mode))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "/run/secrets/from_file",
                    &FileSource::Path("/p/secret.txt".into()),
                    0,
                    0,
                    0o400
                ),
                (
                    "/run/secrets/token",
                    &FileSource::Content("s3cr3t".into()),
                    1000,
                    1001,
                    0o440
                ),
                ("/inline", &FileSource::Content("a=1".into()), 0, 0, 0o444),
                (
                    "/etc/app.conf",
                    &FileSource::Content("a=1".into()),
                    0,
                    0,
                    0o444
                ),
            ]
        );
    }

    #[test]
    fn unset_variable_external_and_undefined_are_errors_naming_the_key() {
        let p = project(json!({
            "services": {"app": {"image": "busybox", "secrets": ["token"]}},
            "secrets": {"token": {"environment": "TOKEN"}}
        }));
        assert_eq!(
            files_of(&p, &Environment::new()).unwrap_err(),
            "service app: environment variable TOKEN required by secret token is not set"
        );
        let p = project(json!({
            "services": {"app": {"image": "busybox", "secrets": ["token"]}},
            "secrets": {"token": {"external": true}}
        }));
        assert_eq!(
            files_of(&p, &Environment::new()).unwrap_err(),
            "service app: secret token is external: external secrets need a swarm, not one host"
        );
        let p = project(json!({"services": {"app": {"image": "busybox", "configs": ["nope"]}}}));
        assert_eq!(
            files_of(&p, &Environment::new()).unwrap_err(),
            "service app: config nope is not defined"
        );
    }
}
