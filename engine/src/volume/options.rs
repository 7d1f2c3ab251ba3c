//! The local driver's options, as Docker's local driver takes them: `type`, `device` and `o`.
//!
//! Two kinds are served: `type=none,o=bind,device=/host/path` (the volume is the host
//! directory, bind-mounted into each container that uses it) and
//! `type=tmpfs,device=tmpfs,o=size=100m,uid=1000,...` (a tmpfs with those options). A tmpfs
//! volume is mounted inside each container's own mount namespace, so it goes away with the
//! container: nothing is ever mounted on the host, so nothing can leak. Unlike Docker's, two
//! containers using one tmpfs volume at the same time each see their own. The content of an
//! option volume is never copied up from the image.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::VolumeError;

/// What a volume's driver options ask the local driver to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LocalMount {
    /// No options: the volume's own directory under the data root.
    Directory,
    /// `type=none,o=bind`: a host directory.
    Bind {
        /// The host path (absolute).
        device: PathBuf,
        /// `o=ro`.
        read_only: bool,
    },
    /// `type=tmpfs`: a fresh tmpfs per container.
    Tmpfs {
        /// The mount data (`size=…,uid=…`), as checked.
        data: Vec<String>,
        /// `o=ro`.
        read_only: bool,
    },
}

/// The tmpfs `o=` keys taken (with a value).
const TMPFS_KEYS: [&str; 6] = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"];

fn bad(message: impl Into<String>) -> VolumeError {
    VolumeError::BadOption(message.into())
}

impl LocalMount {
    /// Reads and checks a volume's options; unknown options, types and mount options are
    /// refused by name.
    pub(crate) fn parse(options: &BTreeMap<String, String>) -> Result<Self, VolumeError> {
        if options.is_empty() {
            return Ok(Self::Directory);
        }
        if let Some(key) = options
            .keys()
            .find(|k| !["type", "device", "o"].contains(&k.as_str()))
        {
            return Err(bad(format!(
                "invalid option {key:?}: the local driver takes type, device and o"
            )));
        }
        let get = |key: &str| {
            options
                .get(key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| bad(format!("missing required option: {key:?}")))
        };
        let kind = get("type")?;
        let device = get("device")?;
        let flags: Vec<&str> = options
            .get("o")
            .map(|o| o.split(',').filter(|f| !f.is_empty()).collect())
            .unwrap_or_default();
        let read_only = flags.contains(&"ro");
        match kind.as_str() {
            "none" => {
                if let Some(flag) = flags
                    .iter()
                    .find(|f| !["bind", "rbind", "ro", "rw"].contains(f))
                {
                    return Err(bad(format!(
                        "invalid mount option {flag:?} for type none: use bind, rbind, ro or rw"
                    )));
                }
                if !flags.iter().any(|f| *f == "bind" || *f == "rbind") {
                    return Err(bad(
                        "type none needs o=bind: the local driver only binds host directories",
                    ));
                }
                let device = PathBuf::from(device);
                if !device.is_absolute() {
                    return Err(bad(format!(
                        "device {}: a bind device must be an absolute host path",
                        device.display()
                    )));
                }
                Ok(Self::Bind { device, read_only })
            }
            "tmpfs" => {
                let mut data = Vec::new();
                for flag in flags {
                    match flag.split_once('=') {
                        Some((key, value)) if TMPFS_KEYS.contains(&key) => {
                            check_tmpfs_value(key, value)?;
                            data.push(flag.to_string());
                        }
                        None if ["ro", "rw"].contains(&flag) => {}
                        _ => {
                            return Err(bad(format!(
                                "invalid tmpfs option {flag:?}: use size, mode, uid, gid, \
                                 nr_inodes or nr_blocks (key=value), ro or rw"
                            )));
                        }
                    }
                }
                Ok(Self::Tmpfs { data, read_only })
            }
            other => Err(bad(format!(
                "unsupported volume type {other:?}: the local driver mounts type none (o=bind) \
                 or tmpfs"
            ))),
        }
    }
}

/// A tmpfs option value the kernel would take: digits, with a size suffix for the sizes, octal
/// for the mode.
fn check_tmpfs_value(key: &str, value: &str) -> Result<(), VolumeError> {
    let ok = match key {
        "mode" => !value.is_empty() && value.bytes().all(|b| (b'0'..=b'7').contains(&b)),
        "uid" | "gid" => value.parse::<u32>().is_ok(),
        _ => {
            let digits = value.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
            value.len() - digits.len() <= 1
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
        }
    };
    if ok {
        Ok(())
    } else {
        Err(bad(format!("invalid tmpfs option {key}={value}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_table() {
        assert_eq!(
            LocalMount::parse(&opts(&[])).unwrap(),
            LocalMount::Directory
        );
        assert_eq!(
            LocalMount::parse(&opts(&[
                ("type", "none"),
                ("o", "bind"),
                ("device", "/srv")
            ]))
            .unwrap(),
            LocalMount::Bind {
                device: "/srv".into(),
                read_only: false
            }
        );
        assert_eq!(
            LocalMount::parse(&opts(&[
                ("type", "tmpfs"),
                ("device", "tmpfs"),
                ("o", "size=100m,uid=1000,ro")
            ]))
            .unwrap(),
            LocalMount::Tmpfs {
                data: vec!["size=100m".into(), "uid=1000".into()],
                read_only: true
            }
        );
        let refused = [
            (opts(&[("foo", "bar")]), "invalid option \"foo\""),
            (
                opts(&[("type", "none"), ("o", "bind")]),
                "missing required option: \"device\"",
            ),
            (
                opts(&[("device", "/x")]),
                "missing required option: \"type\"",
            ),
            (
                opts(&[("type", "nfs"), ("device", ":/x")]),
                "unsupported volume type \"nfs\"",
            ),
            (
                opts(&[("type", "none"), ("device", "/x")]),
                "type none needs o=bind",
            ),
            (
                opts(&[("type", "none"), ("o", "bind,sync"), ("device", "/x")]),
                "invalid mount option \"sync\"",
            ),
            (
                opts(&[("type", "none"), ("o", "bind"), ("device", "rel")]),
                "must be an absolute host path",
            ),
            (
                opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "huge=yes")]),
                "invalid tmpfs option \"huge=yes\"",
            ),
            (
                opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=lots")]),
                "invalid tmpfs option size=lots",
            ),
        ];
        for (options, want) in refused {
            let err = LocalMount::parse(&options).unwrap_err().to_string();
            assert!(err.contains(want), "{options:?}: want {want:?}, got {err}");
        }
    }
}
