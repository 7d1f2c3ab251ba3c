//! Networks: the top-level `networks` definitions and a service's attachments to them.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::model::external::ExternalSpec;
use crate::model::lists;
use crate::model::scalar::{self, Extensions, Lenient};

/// A top-level network definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Network {
    /// The engine-level name; defaults to `<project>_<key>` (set by the loader).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Network driver (`bridge`, `overlay`, …).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// Driver options.
    #[serde(
        default,
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub driver_opts: BTreeMap<String, String>,
    /// IP address management.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Ipam>,
    /// Managed outside the project: never created or removed.
    #[serde(default, skip_deserializing, skip_serializing_if = "scalar::is_false")]
    pub external: bool,
    /// `external` as written (folded into `external` and `name` when read; always default).
    #[doc(hidden)]
    #[serde(default, rename = "external", skip_serializing)]
    pub external_spec: ExternalSpec,
    /// No outside connectivity.
    #[serde(
        default,
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub internal: bool,
    /// Enable IPv4 (engine default when unset).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv4: Option<bool>,
    /// Enable IPv6 (engine default when unset).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv6: Option<bool>,
    /// Standalone containers may attach (overlay networks).
    #[serde(
        default,
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub attachable: bool,
    /// Labels.
    #[serde(
        default,
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

external_resource!(Network);

/// IP address management of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ipam {
    /// IPAM driver.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// Address pools.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamConfig>,
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

/// One address pool of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamConfig {
    /// Subnet in CIDR form.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub subnet: Option<String>,
    /// Range to allocate container IPs from.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_range: Option<String>,
    /// Gateway address.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway: Option<String>,
    /// Addresses reserved for other uses, by host name.
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub aux_addresses: BTreeMap<String, String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// A service's attachment to a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceNetwork {
    /// Extra DNS names of the service on this network.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    /// Name of the interface in the container.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub interface_name: Option<String>,
    /// Static IPv4 address.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_address: Option<String>,
    /// Static IPv6 address.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_address: Option<String>,
    /// Link-local addresses.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub link_local_ips: Vec<String>,
    /// MAC address on this network.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub mac_address: Option<String>,
    /// Driver options of the endpoint.
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub driver_opts: BTreeMap<String, String>,
    /// Connection order: higher first.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub priority: Option<i64>,
    /// Which network provides the default gateway: highest wins.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub gw_priority: Option<i64>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Reads a service's `networks`: a list of names, or a mapping of name to `null` or an
/// attachment. A listed name or a `null` is `None` (joined with no options); written back as
/// `null`. A `deserialize_with` function.
pub(super) fn attachments<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Option<ServiceNetwork>>, D::Error> {
    d.deserialize_any(AttachmentsVisitor)
}

struct AttachmentsVisitor;

impl<'de> Visitor<'de> for AttachmentsVisitor {
    type Value = BTreeMap<String, Option<ServiceNetwork>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of network names or a mapping of networks")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = seq.next_element::<Lenient<String>>()? {
            out.insert(name.0, None);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let attachment = map.next_value::<Option<ServiceNetwork>>()?;
            out.insert(name, attachment);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attachments_list_and_map() {
        let list = attachments(&json!(["front", "back"])).unwrap();
        assert_eq!(list.keys().collect::<Vec<_>>(), ["back", "front"]);
        assert_eq!(list["front"], None);
        let map = attachments(&json!({
            "front": null,
            "back": {"aliases": ["db"], "ipv4_address": "10.0.0.2", "ipv6_address": "fd00::2",
                     "link_local_ips": ["169.254.0.2"], "mac_address": "02:42:ac:11:00:02",
                     "priority": "100", "gw_priority": 1, "interface_name": "eth1",
                     "driver_opts": {"mtu": 1400}, "x-k": true}
        }))
        .unwrap();
        assert_eq!(map["front"], None);
        let back = map["back"].as_ref().unwrap();
        assert_eq!(back.aliases, ["db"]);
        assert_eq!(back.priority, Some(100));
        assert_eq!(back.driver_opts["mtu"], "1400");
        assert_eq!(back.extensions["x-k"], json!(true));
    }

    #[test]
    fn top_level_network_with_legacy_external_name() {
        let n: Network = serde_json::from_value(json!({"external": {"name": "shared"}})).unwrap();
        assert!(n.external);
        assert_eq!(n.name.as_deref(), Some("shared"));
        assert_eq!(n.external_spec, ExternalSpec::default());
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json, json!({"name": "shared", "external": true}));
        assert_eq!(serde_json::from_value::<Network>(json).unwrap(), n);
    }

    #[test]
    fn top_level_network_every_key() {
        let json = json!({
            "name": "n", "driver": "bridge", "driver_opts": {"a": "1"},
            "ipam": {"driver": "default", "options": {"o": "v"},
                     "config": [{"subnet": "10.0.0.0/24", "ip_range": "10.0.0.0/25",
                                 "gateway": "10.0.0.1", "aux_addresses": {"h": "10.0.0.5"}}]},
            "external": false, "internal": true, "enable_ipv4": true, "enable_ipv6": false,
            "attachable": true, "labels": {"l": "v"}, "x-e": 1
        });
        let n: Network = serde_json::from_value(json).unwrap();
        assert!(n.internal && n.attachable && !n.external);
        assert_eq!(n.enable_ipv6, Some(false));
        assert_eq!(
            n.ipam.as_ref().unwrap().config[0].aux_addresses["h"],
            "10.0.0.5"
        );
        let back: Network = serde_json::from_value(serde_json::to_value(&n).unwrap()).unwrap();
        assert_eq!(back, n);
    }
}
