//! The secret and config files of each task, with their payloads, carried in its
//! assignment: a node receives a payload only in the assignment of a task of its own that
//! is still to run and uses it, so a node that runs no such task never sees it.

use std::collections::BTreeMap;
use std::fmt;

use cluster_state::{Blob, Record};
use orchestrator::swarm::{FileKind, ServiceSpec};

use crate::dispatcher::proto;

/// One file of a task: where it goes in the container, its owner and mode, and its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskFile {
    /// A secret or a config.
    pub kind: FileKind,
    /// The secret's or config's name.
    pub name: String,
    /// The absolute path in the container.
    pub target: String,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// The payload.
    pub data: Vec<u8>,
}

impl fmt::Debug for TaskFile {
    /// Everything but the payload, so that no log line ever carries a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFile")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("target", &self.target)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl TaskFile {
    /// The wire form.
    pub fn to_proto(&self) -> proto::TaskFile {
        proto::TaskFile {
            secret: self.kind == FileKind::Secret,
            name: self.name.clone(),
            target: self.target.clone(),
            uid: self.uid,
            gid: self.gid,
            mode: self.mode,
            data: self.data.clone(),
        }
    }

    /// From the wire.
    pub fn from_proto(wire: proto::TaskFile) -> Self {
        TaskFile {
            kind: if wire.secret {
                FileKind::Secret
            } else {
                FileKind::Config
            },
            name: wire.name,
            target: wire.target,
            uid: wire.uid,
            gid: wire.gid,
            mode: wire.mode & 0o777,
            data: wire.data,
        }
    }
}

/// The secrets and configs of a store, by kind and name (payloads as the read opened them).
#[derive(Debug, Default)]
pub struct Payloads<'a> {
    by_name: BTreeMap<(FileKind, &'a str), &'a Blob>,
}

impl<'a> Payloads<'a> {
    /// The secrets and configs among `records`.
    pub fn new(records: &'a [Record]) -> Self {
        let by_name = records
            .iter()
            .filter_map(|r| match r {
                Record::Secret(b) => Some(((FileKind::Secret, b.name.as_str()), b)),
                Record::Config(b) => Some(((FileKind::Config, b.name.as_str()), b)),
                _ => None,
            })
            .collect();
        Payloads { by_name }
    }

    /// The files a task of `spec` gets. A reference to a secret or config the store no longer
    /// holds is left out: the node then refuses to create the task's container, naming it
    /// (see [`missing`]).
    pub fn files_of(&self, spec: &ServiceSpec) -> Vec<TaskFile> {
        let refs = spec
            .secrets
            .iter()
            .map(|r| (FileKind::Secret, r))
            .chain(spec.configs.iter().map(|r| (FileKind::Config, r)));
        refs.filter_map(|(kind, r)| {
            let blob = self.by_name.get(&(kind, r.source.as_str()))?;
            Some(TaskFile {
                kind,
                name: r.source.clone(),
                target: kind.path_of(&r.target),
                uid: r.uid,
                gid: r.gid,
                mode: r.mode,
                data: blob.data.clone(),
            })
        })
        .collect()
    }
}

/// The first secret or config `spec` uses that `files` does not carry, as `secret NAME`.
pub fn missing(spec: &ServiceSpec, files: &[TaskFile]) -> Option<String> {
    let has = |kind: FileKind, name: &str| files.iter().any(|f| f.kind == kind && f.name == name);
    spec.secrets
        .iter()
        .map(|r| (FileKind::Secret, r))
        .chain(spec.configs.iter().map(|r| (FileKind::Config, r)))
        .find(|(kind, r)| !has(*kind, &r.source))
        .map(|(kind, r)| format!("{} {}", kind.as_str(), r.source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster_state::Meta;
    use orchestrator::swarm::FileReference;

    fn blob(name: &str, data: &[u8]) -> Blob {
        Blob {
            meta: Meta::default(),
            name: name.into(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn a_spec_gets_its_files_at_their_paths_and_nothing_else() {
        let records = vec![
            Record::Secret(blob("db", b"hunter2")),
            Record::Secret(blob("other", b"not-mine")),
            Record::Config(blob("db", b"port=5432")),
        ];
        let payloads = Payloads::new(&records);
        let mut secret = FileReference::named("db");
        secret.mode = 0o400;
        secret.uid = 1;
        let spec = ServiceSpec {
            secrets: vec![secret],
            configs: vec![FileReference {
                target: "/etc/db.conf".into(),
                ..FileReference::named("db")
            }],
            ..ServiceSpec::default()
        };
        let files = payloads.files_of(&spec);
        let got: Vec<(&str, &[u8], u32, u32)> = files
            .iter()
            .map(|f| (f.target.as_str(), f.data.as_slice(), f.mode, f.uid))
            .collect();
        assert_eq!(
            got,
            [
                ("/run/secrets/db", &b"hunter2"[..], 0o400, 1),
                ("/etc/db.conf", &b"port=5432"[..], 0o444, 0),
            ]
        );
        assert_eq!(missing(&spec, &files), None);
        let dangling = ServiceSpec {
            secrets: vec![FileReference::named("gone")],
            ..ServiceSpec::default()
        };
        assert!(payloads.files_of(&dangling).is_empty());
        assert_eq!(
            missing(&dangling, &[]).as_deref(),
            Some("secret gone"),
            "a dangling reference is named"
        );
    }

    #[test]
    fn debug_never_shows_the_payload() {
        let file = TaskFile {
            kind: FileKind::Secret,
            name: "db".into(),
            target: "/run/secrets/db".into(),
            uid: 0,
            gid: 0,
            mode: 0o444,
            data: b"hunter2".to_vec(),
        };
        let shown = format!("{file:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("104"), "{shown}");
        assert_eq!(TaskFile::from_proto(file.to_proto()), file);
    }
}
