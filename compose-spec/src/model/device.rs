//! Devices: `devices` mappings (`/dev/fuse:/dev/fuse:rwm`) and device requests (`gpus`,
//! `deploy.resources.reservations.devices`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::lists;
use crate::model::scalar::{self, Extensions, Scalar};
use crate::model::short::ShortSyntax;

/// A host device made available in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Device {
    /// The device on the host.
    #[serde(deserialize_with = "scalar::scalar")]
    pub source: String,
    /// The path in the container; the source path when not set.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// Cgroup permissions, a combination of `r`, `w`, `m`; `rwm` when not set.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub permissions: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

short_or_long!(Device);

impl Device {
    /// The path in the container.
    pub fn target_path(&self) -> &str {
        self.target.as_deref().unwrap_or(&self.source)
    }

    /// The cgroup permissions.
    pub fn permissions(&self) -> &str {
        self.permissions.as_deref().unwrap_or("rwm")
    }
}

fn is_permissions(text: &str) -> bool {
    !text.is_empty() && text.len() <= 3 && text.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

impl ShortSyntax for Device {
    const EXPECTING: &'static str = "a device such as /dev/fuse:/dev/fuse:rwm or a device mapping";

    /// `SOURCE`, `SOURCE:TARGET`, `SOURCE:PERMISSIONS` or `SOURCE:TARGET:PERMISSIONS`, as Docker.
    fn parse_short(text: &str) -> Result<Self, String> {
        let error = || format!("invalid device {text:?}: expected SOURCE[:TARGET][:PERMISSIONS]");
        let parts: Vec<&str> = text.split(':').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(error());
        }
        let (source, target, permissions) = match parts.as_slice() {
            [source] => (*source, None, None),
            [source, p] if is_permissions(p) => (*source, None, Some(*p)),
            [source, target] => (*source, Some(*target), None),
            [source, target, p] if is_permissions(p) => (*source, Some(*target), Some(*p)),
            _ => return Err(error()),
        };
        Ok(Self {
            source: source.to_owned(),
            target: Some(target.unwrap_or(source).to_owned()),
            permissions: Some(permissions.unwrap_or("rwm").to_owned()),
            extensions: Extensions::new(),
        })
    }
}

/// How many devices a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceCount {
    /// Every matching device.
    All,
    /// This many.
    Count(u64),
}

impl Scalar for DeviceCount {
    const EXPECTING: &'static str = "a number of devices or all";

    fn from_text(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("all") || text == "-1" {
            return Ok(Self::All);
        }
        text.parse::<u64>()
            .map(Self::Count)
            .map_err(|_| format!("invalid device count {text:?}: expected a number or all"))
    }
}

impl Serialize for DeviceCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => s.serialize_str("all"),
            Self::Count(n) => s.serialize_u64(*n),
        }
    }
}

impl<'de> Deserialize<'de> for DeviceCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar::scalar(d)
    }
}

/// A request for devices of a kind (GPUs) from a device driver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceRequest {
    /// Required capabilities (`gpu`, `compute`, …).
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub capabilities: Vec<String>,
    /// How many devices; when neither this nor `device_ids` is set, all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<DeviceCount>,
    /// Specific device ids.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub device_ids: Vec<String>,
    /// The device driver (`nvidia`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// Driver options.
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

impl DeviceRequest {
    /// The effective count: `count`, else all devices unless specific ids are requested.
    pub fn effective_count(&self) -> Option<DeviceCount> {
        match self.count {
            Some(c) => Some(c),
            None if self.device_ids.is_empty() => Some(DeviceCount::All),
            None => None,
        }
    }
}

/// Reads `gpus`: `all` (every GPU) or a list of device requests. A `deserialize_with` function.
pub(super) fn gpus<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DeviceRequest>, D::Error> {
    d.deserialize_any(GpusVisitor)
}

struct GpusVisitor;

impl<'de> Visitor<'de> for GpusVisitor {
    type Value = Vec<DeviceRequest>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("all or a list of device requests")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.eq_ignore_ascii_case("all") {
            Ok(vec![DeviceRequest {
                count: Some(DeviceCount::All),
                ..DeviceRequest::default()
            }])
        } else {
            Err(E::custom(format!(
                "invalid gpus {v:?}: expected all or a list of device requests"
            )))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(request) = seq.next_element::<DeviceRequest>()? {
            out.push(request);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device(source: &str, target: &str, permissions: &str) -> Device {
        Device {
            source: source.to_owned(),
            target: Some(target.to_owned()),
            permissions: Some(permissions.to_owned()),
            extensions: Extensions::new(),
        }
    }

    #[test]
    fn short_syntax() {
        let cases = [
            ("/dev/fuse", device("/dev/fuse", "/dev/fuse", "rwm")),
            ("/dev/sda:/dev/xvda", device("/dev/sda", "/dev/xvda", "rwm")),
            ("/dev/sda:r", device("/dev/sda", "/dev/sda", "r")),
            (
                "/dev/sda:/dev/xvda:rw",
                device("/dev/sda", "/dev/xvda", "rw"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Device::parse_short(text), Ok(want), "{text}");
        }
        for bad in ["", "/a:/b:xyz", "/a:/b:r:w", "/a::r"] {
            assert_eq!(
                Device::parse_short(bad),
                Err(format!(
                    "invalid device {bad:?}: expected SOURCE[:TARGET][:PERMISSIONS]"
                ))
            );
        }
    }

    #[test]
    fn long_syntax_defaults() {
        let d: Device = serde_json::from_value(json!({"source": "/dev/kvm"})).unwrap();
        assert_eq!(d.target_path(), "/dev/kvm");
        assert_eq!(d.permissions(), "rwm");
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(serde_json::from_value::<Device>(json).unwrap(), d);
    }

    #[test]
    fn gpus_all_and_requests() {
        let all = gpus(&json!("all")).unwrap();
        assert_eq!(all[0].count, Some(DeviceCount::All));
        let list = gpus(&json!([
            {"driver": "nvidia", "count": 2, "capabilities": ["gpu"], "options": {"a": "b"}},
            {"device_ids": ["0", "3"]},
            {"capabilities": ["gpu"]},
            {"count": "all"}
        ]))
        .unwrap();
        assert_eq!(list[0].effective_count(), Some(DeviceCount::Count(2)));
        assert_eq!(list[1].effective_count(), None);
        assert_eq!(list[2].effective_count(), Some(DeviceCount::All));
        assert_eq!(list[3].count, Some(DeviceCount::All));
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json[3], json!({"count": "all"}));
        assert_eq!(gpus(&json).unwrap(), list);
        assert!(gpus(&json!("some")).is_err());
        assert!(serde_json::from_value::<DeviceCount>(json!("many")).is_err());
    }
}
