//! `RUN --mount=…`: `type=cache` (a directory kept under `<data_root>/build/cache-mounts/`
//! across builds), `type=bind` (read-only, from the context or a stage or image), `type=tmpfs`
//! and `type=secret` (a file given by the caller, read-only, at `/run/secrets/<id>` unless a
//! target is set). Bind mounts from the context see the whole directory, .dockerignore'd
//! files included.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use engine::spec::{Mount, MountKind};
use sha2::{Digest as _, Sha256};

use crate::build::Session;
use crate::error::{BuildError, Result};
use crate::run::StepRootfs;

/// One parsed `--mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountSpec {
    /// `type=cache`.
    Cache {
        /// Where.
        target: String,
        /// The cache's id (default: the target).
        id: String,
        /// Mode, owner and group of a new cache directory.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// `type=bind`.
    Bind {
        /// Where.
        target: String,
        /// The path in the source.
        source: String,
        /// A stage or image to take it from (default: the context).
        from: Option<String>,
    },
    /// `type=tmpfs`.
    Tmpfs {
        /// Where.
        target: String,
        /// Size limit in bytes (0 = none).
        size: u64,
    },
    /// `type=secret`.
    Secret {
        /// The secret's id.
        id: String,
        /// Where (default `/run/secrets/<id>`).
        target: String,
        /// Fail when the caller did not give it.
        required: bool,
    },
}

impl MountSpec {
    /// What the cache key of the RUN says about this mount.
    pub(crate) fn definition(&self) -> String {
        format!("{self:?}")
    }
}

/// Parses the value of `--mount=`.
pub(crate) fn parse_mount(text: &str) -> Result<MountSpec> {
    let bad = |why: String| BuildError::Invalid(format!("--mount={text}: {why}"));
    let mut kind = "bind".to_string();
    let mut fields = std::collections::BTreeMap::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, "true"));
        let k = k.to_ascii_lowercase();
        if k == "type" {
            kind = v.to_string();
        } else {
            fields.insert(k, v.to_string());
        }
    }
    let get = |k: &str| fields.get(k).cloned();
    let target = get("target")
        .or_else(|| get("dst"))
        .or_else(|| get("destination"));
    let flag = |k: &str| get(k).is_some_and(|v| v == "true" || v.is_empty());
    let number = |k: &str, radix: u32, default: u32| -> Result<u32> {
        match get(k) {
            Some(v) => u32::from_str_radix(&v, radix).map_err(|_| bad(format!("{k}={v}"))),
            None => Ok(default),
        }
    };
    match kind.as_str() {
        "cache" => {
            let target = target.ok_or_else(|| bad("a cache mount needs a target".into()))?;
            Ok(MountSpec::Cache {
                id: get("id").unwrap_or_else(|| target.clone()),
                target,
                mode: number("mode", 8, 0o755)?,
                uid: number("uid", 10, 0)?,
                gid: number("gid", 10, 0)?,
            })
        }
        "bind" => {
            if flag("rw") || flag("readwrite") {
                return Err(BuildError::Unsupported(format!(
                    "--mount={text} (read-write bind)"
                )));
            }
            Ok(MountSpec::Bind {
                target: target.ok_or_else(|| bad("a bind mount needs a target".into()))?,
                source: get("source")
                    .or_else(|| get("src"))
                    .unwrap_or_else(|| ".".into()),
                from: get("from"),
            })
        }
        "tmpfs" => Ok(MountSpec::Tmpfs {
            target: target.ok_or_else(|| bad("a tmpfs mount needs a target".into()))?,
            size: match get("size") {
                Some(v) => v.parse().map_err(|_| bad(format!("size={v}")))?,
                None => 0,
            },
        }),
        "secret" => {
            let id = get("id")
                .or_else(|| {
                    target
                        .as_ref()
                        .and_then(|t| t.rsplit('/').next().map(str::to_string))
                })
                .ok_or_else(|| bad("a secret mount needs an id or a target".into()))?;
            Ok(MountSpec::Secret {
                target: target.unwrap_or_else(|| format!("/run/secrets/{id}")),
                required: flag("required"),
                id,
            })
        }
        "ssh" => Err(BuildError::Unsupported(format!("--mount={text}"))),
        other => Err(bad(format!("unknown mount type {other:?}"))),
    }
}

fn absolute(target: &str) -> PathBuf {
    if target.starts_with('/') {
        PathBuf::from(target)
    } else {
        PathBuf::from("/").join(target)
    }
}

/// The engine mount for a spec (`None` for an optional secret the caller did not give);
/// stage and image sources are mounted into `guards`.
pub(crate) fn resolve<'a>(
    session: &Session<'a>,
    spec: &MountSpec,
    guards: &mut Vec<StepRootfs<'a>>,
) -> Result<Option<Mount>> {
    let builder: &'a crate::build::Builder = session.builder;
    let mount = match spec {
        MountSpec::Cache {
            target,
            id,
            mode,
            uid,
            gid,
        } => {
            let hash = hex::encode(Sha256::digest(id.as_bytes()));
            let dir = builder
                .data_root()
                .join("build")
                .join("cache-mounts")
                .join(&hash[..32]);
            if !dir.exists() {
                std::fs::create_dir_all(&dir).map_err(BuildError::io("create", &dir))?;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(*mode))
                    .map_err(BuildError::io("chmod", &dir))?;
                nix::unistd::chown(
                    &dir,
                    Some(nix::unistd::Uid::from_raw(*uid)),
                    Some(nix::unistd::Gid::from_raw(*gid)),
                )
                .map_err(|e| BuildError::io("chown", &dir)(e.into()))?;
            }
            Mount {
                kind: MountKind::Bind { source: dir },
                target: absolute(target),
                read_only: false,
            }
        }
        MountSpec::Bind {
            target,
            source,
            from,
        } => {
            let rel = crate::ignore::clean(&format!("/{source}"));
            let rel = rel.trim_start_matches('/');
            let root = match from {
                None => session.context.clone(),
                Some(f) => {
                    let layers = session
                        .source_snapshot(f, session.plans.len())?
                        .snapshot
                        .layers;
                    let m = StepRootfs::mount(builder.store(), builder.data_root(), &layers)?;
                    let merged = m.merged().to_path_buf();
                    guards.push(m);
                    merged
                }
            };
            let host = root.join(rel);
            if std::fs::symlink_metadata(&host).is_err() {
                return Err(BuildError::Invalid(format!(
                    "--mount source {source} not found"
                )));
            }
            Mount {
                kind: MountKind::Bind { source: host },
                target: absolute(target),
                read_only: true,
            }
        }
        MountSpec::Tmpfs { target, size } => Mount {
            kind: MountKind::Tmpfs {
                size: *size,
                mode: 0o1777,
                options: Vec::new(),
            },
            target: absolute(target),
            read_only: false,
        },
        MountSpec::Secret {
            id,
            target,
            required,
        } => match session.options.secrets.get(id) {
            Some(path) => Mount {
                kind: MountKind::Bind {
                    source: path.clone(),
                },
                target: absolute(target),
                read_only: true,
            },
            None if *required => {
                return Err(BuildError::Invalid(format!(
                    "secret {id} is required but was not given"
                )));
            }
            None => return Ok(None),
        },
    };
    Ok(Some(mount))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_table() {
        assert_eq!(
            parse_mount("type=cache,target=/root/.cache,uid=1000").expect("cache"),
            MountSpec::Cache {
                target: "/root/.cache".into(),
                id: "/root/.cache".into(),
                mode: 0o755,
                uid: 1000,
                gid: 0,
            }
        );
        assert_eq!(
            parse_mount("target=/src,from=build,source=/out").expect("bind"),
            MountSpec::Bind {
                target: "/src".into(),
                source: "/out".into(),
                from: Some("build".into()),
            }
        );
        assert_eq!(
            parse_mount("type=secret,id=tok").expect("secret"),
            MountSpec::Secret {
                id: "tok".into(),
                target: "/run/secrets/tok".into(),
                required: false,
            }
        );
        assert!(matches!(
            parse_mount("type=tmpfs,target=/t,size=1024").expect("tmpfs"),
            MountSpec::Tmpfs { size: 1024, .. }
        ));
        assert!(parse_mount("type=cache").is_err());
        assert!(parse_mount("type=bind,target=/x,rw").is_err());
        assert!(parse_mount("type=nope,target=/x").is_err());
    }
}
