//! How a service is reached on its overlay networks: through one virtual address per network,
//! load-balanced over its tasks (`vip`, the default), or by DNS round robin over the tasks'
//! own addresses (`dnsrr`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A service's endpoint mode (`--endpoint-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointMode {
    /// One virtual IP per network: the service's name answers it, and connections to it are
    /// spread over the running tasks.
    #[default]
    Vip,
    /// No virtual IP: the service's name answers every running task's address.
    Dnsrr,
}

impl EndpointMode {
    /// Whether this is the default mode (left out of serialized specs).
    pub fn is_vip(&self) -> bool {
        *self == EndpointMode::Vip
    }

    /// The mode's name as the flag takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointMode::Vip => "vip",
            EndpointMode::Dnsrr => "dnsrr",
        }
    }
}

impl fmt::Display for EndpointMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EndpointMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vip" => Ok(EndpointMode::Vip),
            "dnsrr" => Ok(EndpointMode::Dnsrr),
            other => Err(format!("invalid endpoint mode {other:?}: use vip or dnsrr")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_modes_and_refuses_others() {
        assert_eq!("vip".parse::<EndpointMode>(), Ok(EndpointMode::Vip));
        assert_eq!("dnsrr".parse::<EndpointMode>(), Ok(EndpointMode::Dnsrr));
        assert!("VIP".parse::<EndpointMode>().is_err());
        assert_eq!(EndpointMode::default(), EndpointMode::Vip);
        assert_eq!(
            serde_json::to_string(&EndpointMode::Dnsrr).unwrap(),
            "\"dnsrr\""
        );
    }
}
