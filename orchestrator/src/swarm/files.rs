//! Secrets and configs a service's tasks get as files (`--secret`, `--config`): which
//! cluster object, where in the container, and with what owner and mode.

use serde::{Deserialize, Serialize};

/// Mode of a secret or config file when none is given (Docker's).
pub const DEFAULT_FILE_MODE: u32 = 0o444;

/// Where secrets given by a bare file name go in the container.
pub const SECRETS_DIR: &str = "/run/secrets";

/// Which kind of cluster object a file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A secret: sealed at rest, mounted under `/run/secrets` by default.
    Secret,
    /// A config: mounted at `/<name>` by default.
    Config,
}

impl FileKind {
    /// The lower-case name of the kind, as in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Secret => "secret",
            FileKind::Config => "config",
        }
    }

    /// The absolute path in the container of a file of this kind whose target is `target`
    /// (a bare name of a secret goes under `/run/secrets`, of a config under `/`).
    pub fn path_of(self, target: &str) -> String {
        if target.starts_with('/') {
            return target.to_owned();
        }
        match self {
            FileKind::Secret => format!("{SECRETS_DIR}/{target}"),
            FileKind::Config => format!("/{target}"),
        }
    }
}

/// A secret or config a service's tasks get as a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileReference {
    /// The secret's or config's name in the cluster.
    pub source: String,
    /// Where the file goes: an absolute path, or a file name (under `/run/secrets` for a
    /// secret, under `/` for a config).
    pub target: String,
    /// Owner user id.
    #[serde(default)]
    pub uid: u32,
    /// Owner group id.
    #[serde(default)]
    pub gid: u32,
    /// Permission bits.
    #[serde(default = "default_mode")]
    pub mode: u32,
}

fn default_mode() -> u32 {
    DEFAULT_FILE_MODE
}

impl FileReference {
    /// A reference to `source` at its default place, owned by root, mode 0444.
    pub fn named(source: impl Into<String>) -> Self {
        let source = source.into();
        FileReference {
            target: source.clone(),
            source,
            uid: 0,
            gid: 0,
            mode: DEFAULT_FILE_MODE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_targets_go_to_each_kind_s_default_place() {
        assert_eq!(FileKind::Secret.path_of("db"), "/run/secrets/db");
        assert_eq!(FileKind::Config.path_of("app.conf"), "/app.conf");
        assert_eq!(FileKind::Secret.path_of("/etc/key"), "/etc/key");
    }

    #[test]
    fn a_reference_without_mode_reads_as_0444() {
        let r: FileReference = serde_json::from_str(r#"{"source":"a","target":"a"}"#).unwrap();
        assert_eq!(r, FileReference::named("a"));
    }
}
