//! Network modes of a container: its own namespace on bridge networks (the default), the host's
//! namespace, a namespace with only loopback, or another container's namespace.

use std::fmt;
use std::str::FromStr;

use super::link::Links;
use super::netns::Netns;
use super::{NetworkError, Result};

/// How a container is networked (`--network`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Its own namespace attached to this network (`bridge` names the default network).
    Network(String),
    /// The host's namespace: no network namespace of its own.
    Host,
    /// Its own namespace with only loopback.
    None,
    /// The namespace of another container (name or id).
    Container(String),
}

impl FromStr for NetworkMode {
    type Err = NetworkError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "host" => Self::Host,
            "none" => Self::None,
            "" | "default" => Self::Network("bridge".into()),
            _ => match s.strip_prefix("container:") {
                Some("") => {
                    return Err(NetworkError::Invalid {
                        network: s.into(),
                        message: "container: needs a container name or id".into(),
                    });
                }
                Some(c) => Self::Container(c.to_string()),
                None => Self::Network(s.to_string()),
            },
        })
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(n) => f.write_str(n),
            Self::Host => f.write_str("host"),
            Self::None => f.write_str("none"),
            Self::Container(c) => write!(f, "container:{c}"),
        }
    }
}

impl NetworkMode {
    /// Whether the container gets a network namespace of its own (`CLONE_NEWNET`).
    #[cfg(test)]
    pub(crate) fn own_namespace(&self) -> bool {
        matches!(self, Self::Network(_) | Self::None)
    }

    /// Whether networks are attached to the container's namespace.
    pub fn attaches(&self) -> bool {
        matches!(self, Self::Network(_))
    }
}

/// Brings loopback up in `netns` (every mode with its own namespace needs it).
pub(crate) fn loopback_up(netns: &Netns) -> Result<()> {
    netns.run(|| Links::open()?.up_by_name("lo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        let cases = [
            ("host", NetworkMode::Host, false),
            ("none", NetworkMode::None, true),
            ("", NetworkMode::Network("bridge".into()), true),
            (
                "app_default",
                NetworkMode::Network("app_default".into()),
                true,
            ),
            ("container:web", NetworkMode::Container("web".into()), false),
        ];
        for (text, want, own) in cases {
            let got: NetworkMode = text.parse().unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.own_namespace(), own, "{text}");
            if !text.is_empty() {
                assert_eq!(got.to_string(), text);
            }
        }
        assert!(
            "container:"
                .parse::<NetworkMode>()
                .unwrap_err()
                .to_string()
                .contains("needs a container")
        );
    }
}
