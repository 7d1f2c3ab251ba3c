//! Service policies: `restart`, `pull_policy` and `cgroup`.

use std::fmt;

use serde::{Deserializer, Serialize, Serializer};

use crate::model::duration::Duration;
use crate::model::scalar::{self, Scalar};

/// When the engine restarts a service's containers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    /// Never (the default).
    #[default]
    No,
    /// Always, also after the daemon restarts.
    Always,
    /// After a non-zero exit, at most `max_retries` times when set.
    OnFailure {
        /// The retry limit.
        max_retries: Option<u64>,
    },
    /// Always, unless the container was stopped by the user.
    UnlessStopped,
}

impl RestartPolicy {
    /// Parses `no`, `always`, `on-failure`, `on-failure:N` or `unless-stopped`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let error = || {
            format!(
                "invalid restart policy {text:?}: expected one of no, always, on-failure[:MAX_RETRIES], unless-stopped"
            )
        };
        match text {
            "no" | "" => Ok(Self::No),
            "always" => Ok(Self::Always),
            "unless-stopped" => Ok(Self::UnlessStopped),
            "on-failure" => Ok(Self::OnFailure { max_retries: None }),
            _ => {
                let retries = text.strip_prefix("on-failure:").ok_or_else(error)?;
                let retries = retries.parse::<u64>().map_err(|_| error())?;
                Ok(Self::OnFailure {
                    max_retries: Some(retries),
                })
            }
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::No => f.write_str("no"),
            Self::Always => f.write_str("always"),
            Self::OnFailure { max_retries: None } => f.write_str("on-failure"),
            Self::OnFailure {
                max_retries: Some(n),
            } => write!(f, "on-failure:{n}"),
            Self::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

impl Scalar for RestartPolicy {
    const EXPECTING: &'static str = "a restart policy";

    fn from_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }

    /// YAML 1.1 reads `restart: no` as `false`.
    fn from_bool(value: bool) -> Result<Self, String> {
        if value {
            Self::parse("true")
        } else {
            Ok(Self::No)
        }
    }
}

impl Serialize for RestartPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RestartPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar::scalar(d)
    }
}

/// When images are pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullPolicy {
    /// Always pull.
    Always,
    /// Never pull; the image must exist.
    Never,
    /// Pull when missing (`missing`, also spelled `if_not_present`).
    Missing,
    /// Build the image (even if present).
    Build,
    /// Pull when the registry has a newer image.
    Refresh,
    /// Pull when the local image is older than a day.
    Daily,
    /// Pull when the local image is older than a week.
    Weekly,
    /// Pull when the local image is older than the duration (`every_12h`).
    Every(Duration),
}

impl PullPolicy {
    /// Parses a pull policy.
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "always" => Self::Always,
            "never" => Self::Never,
            "missing" | "if_not_present" => Self::Missing,
            "build" => Self::Build,
            "refresh" => Self::Refresh,
            "daily" => Self::Daily,
            "weekly" => Self::Weekly,
            _ => {
                let every = text
                    .strip_prefix("every_")
                    .and_then(|d| Duration::parse(d).ok());
                match every {
                    Some(d) if d != Duration::default() => Self::Every(d),
                    _ => {
                        return Err(format!(
                            "invalid pull policy {text:?}: expected one of always, never, missing, build, refresh, daily, weekly, every_<duration>"
                        ));
                    }
                }
            }
        })
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Always => f.write_str("always"),
            Self::Never => f.write_str("never"),
            Self::Missing => f.write_str("missing"),
            Self::Build => f.write_str("build"),
            Self::Refresh => f.write_str("refresh"),
            Self::Daily => f.write_str("daily"),
            Self::Weekly => f.write_str("weekly"),
            Self::Every(d) => write!(f, "every_{d}"),
        }
    }
}

impl Scalar for PullPolicy {
    const EXPECTING: &'static str = "a pull policy";

    fn from_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl Serialize for PullPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PullPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar::scalar(d)
    }
}

string_enum! {
    /// The cgroup namespace of a container.
    pub enum CgroupMode ("cgroup mode") {
        /// The host's cgroup namespace.
        Host = "host",
        /// A private cgroup namespace.
        Private = "private",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn restart_policies() {
        let cases = [
            ("no", RestartPolicy::No),
            ("always", RestartPolicy::Always),
            ("on-failure", RestartPolicy::OnFailure { max_retries: None }),
            (
                "on-failure:3",
                RestartPolicy::OnFailure {
                    max_retries: Some(3),
                },
            ),
            ("unless-stopped", RestartPolicy::UnlessStopped),
        ];
        for (text, want) in cases {
            assert_eq!(RestartPolicy::parse(text), Ok(want), "{text}");
            assert_eq!(want.to_string(), text);
        }
        assert_eq!(
            scalar::scalar::<_, RestartPolicy>(&json!(false)).unwrap(),
            RestartPolicy::No
        );
        for bad in ["sometimes", "on-failure:x", "on-failure:"] {
            assert_eq!(
                RestartPolicy::parse(bad),
                Err(format!(
                    "invalid restart policy {bad:?}: expected one of no, always, on-failure[:MAX_RETRIES], unless-stopped"
                ))
            );
        }
    }

    #[test]
    fn pull_policies() {
        let cases = [
            ("always", PullPolicy::Always, "always"),
            ("never", PullPolicy::Never, "never"),
            ("missing", PullPolicy::Missing, "missing"),
            ("if_not_present", PullPolicy::Missing, "missing"),
            ("build", PullPolicy::Build, "build"),
            ("refresh", PullPolicy::Refresh, "refresh"),
            ("daily", PullPolicy::Daily, "daily"),
            ("weekly", PullPolicy::Weekly, "weekly"),
            (
                "every_12h",
                PullPolicy::Every(Duration::from_secs(43_200)),
                "every_12h0m0s",
            ),
        ];
        for (text, want, canonical) in cases {
            assert_eq!(PullPolicy::parse(text), Ok(want), "{text}");
            assert_eq!(want.to_string(), canonical);
            assert_eq!(PullPolicy::parse(canonical), Ok(want));
        }
        assert!(PullPolicy::parse("every_").is_err());
        assert!(
            PullPolicy::parse("sometimes")
                .unwrap_err()
                .starts_with("invalid pull policy \"sometimes\"")
        );
    }

    #[test]
    fn cgroup_modes() {
        assert_eq!("host".parse::<CgroupMode>(), Ok(CgroupMode::Host));
        assert_eq!("private".parse::<CgroupMode>(), Ok(CgroupMode::Private));
        assert_eq!(
            "shared".parse::<CgroupMode>(),
            Err("invalid cgroup mode \"shared\": expected one of host, private".to_owned())
        );
    }
}
