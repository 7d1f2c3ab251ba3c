//! List-or-dict helpers: `environment`, `labels`, `sysctls`, `extra_hosts`, string-or-list and
//! maps whose values may be `null`, each as a `deserialize_with` function.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};

use crate::model::scalar::Lenient;

/// Splits a list entry `KEY=VALUE`; `KEY` alone gives `None`.
pub(super) fn parse_key_value(entry: &str) -> Result<(String, Option<String>), String> {
    let (key, value) = match entry.split_once('=') {
        Some((k, v)) => (k, Some(v.to_owned())),
        None => (entry, None),
    };
    if key.trim().is_empty() {
        return Err(format!(
            "invalid entry {entry:?}: expected KEY=VALUE or KEY"
        ));
    }
    Ok((key.to_owned(), value))
}

/// Reads a list (`["K=V", "K"]`) or a mapping (`{K: V, K: null}`) keeping absent values as
/// `None` (`environment`, `build.args`: the value is taken from the environment later).
pub(super) fn dict_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    d.deserialize_any(DictVisitor)
}

/// Reads a list or a mapping where an absent value is the empty string (`labels`, `sysctls`,
/// `driver_opts`, `annotations`).
pub(super) fn dict<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = d.deserialize_any(DictVisitor)?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

struct DictVisitor;

impl<'de> Visitor<'de> for DictVisitor {
    type Value = BTreeMap<String, Option<String>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or a list of KEY=VALUE strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Option<Lenient<String>>>()?;
            out.insert(key, value.map(|v| v.0));
        }
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(entry) = seq.next_element::<Lenient<String>>()? {
            let (key, value) = parse_key_value(&entry.0).map_err(de::Error::custom)?;
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// Reads a string or a list of strings (numbers accepted); `null` is the empty list.
pub(super) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(StringsVisitor)
}

struct StringsVisitor;

impl<'de> Visitor<'de> for StringsVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(vec![v.to_owned()])
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<String>, E> {
        Ok(vec![v.to_string()])
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<String>, E> {
        Ok(vec![v.to_string()])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Lenient<String>>()? {
            out.push(item.0);
        }
        Ok(out)
    }
}

/// Reads a mapping whose values may be `null`, which stands for the default value
/// (`networks: {front: null}`).
pub(super) fn nullable_map<'de, D, T>(d: D) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    d.deserialize_any(NullableMapVisitor(PhantomData))
}

struct NullableMapVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for NullableMapVisitor<T> {
    type Value = BTreeMap<String, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Option<T>>()?;
            out.insert(key, value.unwrap_or_default());
        }
        Ok(out)
    }
}

/// Parses one `extra_hosts` list entry: `host=ip`, `host:ip`, or several IPs `host=ip1,ip2`.
pub(super) fn parse_extra_host(entry: &str) -> Result<(String, Vec<String>), String> {
    let expected = "expected HOST=IP or HOST:IP";
    let (host, ips) = entry
        .split_once('=')
        .or_else(|| entry.split_once(':'))
        .ok_or_else(|| format!("invalid extra host {entry:?}: missing IP, {expected}"))?;
    let ips: Vec<String> = ips.split(',').map(clean_host_ip).collect();
    if ips.iter().any(String::is_empty) {
        return Err(format!(
            "invalid extra host {entry:?}: empty IP, {expected}"
        ));
    }
    check_host_name(host).map_err(|e| format!("invalid extra host {entry:?}: {e}"))?;
    Ok((host.to_owned(), ips))
}

fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() || host.contains([':', '=']) {
        Err(format!("bad host name {host:?}"))
    } else {
        Ok(())
    }
}

/// Strips the brackets of `[::1]`.
fn clean_host_ip(ip: &str) -> String {
    let ip = ip.trim();
    match ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
        Some(inner) if !inner.is_empty() => inner.to_owned(),
        _ => ip.to_owned(),
    }
}

/// Reads `extra_hosts` as a list (`["host=ip", "host:ip"]`) or a mapping (`{host: ip}` or
/// `{host: [ip1, ip2]}`) into host -> IPs, keeping the order of the IPs.
pub(super) fn extra_hosts<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    d.deserialize_any(ExtraHostsVisitor)
}

struct ExtraHostsVisitor;

impl<'de> Visitor<'de> for ExtraHostsVisitor {
    type Value = BTreeMap<String, Vec<String>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of host names to IPs or a list of HOST=IP strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(host) = map.next_key::<String>()? {
            check_host_name(&host).map_err(de::Error::custom)?;
            let ips = map.next_value_seed(StringsSeed)?;
            out.insert(host, ips.iter().map(|ip| clean_host_ip(ip)).collect());
        }
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        while let Some(entry) = seq.next_element::<Lenient<String>>()? {
            let (host, ips) = parse_extra_host(&entry.0).map_err(de::Error::custom)?;
            out.entry(host).or_default().extend(ips);
        }
        Ok(out)
    }
}

struct StringsSeed;

impl<'de> de::DeserializeSeed<'de> for StringsSeed {
    type Value = Vec<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
        strings(d)
    }
}

/// Writes `extra_hosts` as a sorted list of `host=ip` strings, one per IP.
pub(super) fn serialize_extra_hosts<S: Serializer>(
    hosts: &BTreeMap<String, Vec<String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let count = hosts.values().map(Vec::len).sum();
    let mut seq = s.serialize_seq(Some(count))?;
    for (host, ips) in hosts {
        for ip in ips {
            seq.serialize_element(&format!("{host}={ip}"))?;
        }
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environment_list_and_dict_forms() {
        let from_list = dict_opt(&json!(["A=1", "B", "C=", "D=x=y"])).unwrap();
        let from_dict = dict_opt(&json!({"A": 1, "B": null, "C": "", "D": "x=y"})).unwrap();
        let want: BTreeMap<String, Option<String>> = [
            ("A", Some("1")),
            ("B", None),
            ("C", Some("")),
            ("D", Some("x=y")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
        .collect();
        assert_eq!(from_list, want);
        assert_eq!(from_dict, want);
    }

    #[test]
    fn labels_without_value_are_empty() {
        let labels = dict(&json!(["a=b", "flag"])).unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["flag"], "");
        assert_eq!(dict(&json!({"n": 1.5, "t": true})).unwrap()["t"], "true");
        let err = dict(&json!(["=x"])).unwrap_err().to_string();
        assert_eq!(err, "invalid entry \"=x\": expected KEY=VALUE or KEY");
    }

    #[test]
    fn string_or_list() {
        assert_eq!(strings(&json!("8.8.8.8")).unwrap(), vec!["8.8.8.8"]);
        assert_eq!(strings(&json!(["a", 1])).unwrap(), vec!["a", "1"]);
        assert!(strings(&json!(null)).unwrap().is_empty());
        assert!(strings(&json!({"a": 1})).is_err());
    }

    #[test]
    fn extra_hosts_forms() {
        let cases = [
            (
                json!(["somehost:162.242.195.82", "other=50.31.209.229"]),
                vec![
                    ("other", vec!["50.31.209.229"]),
                    ("somehost", vec!["162.242.195.82"]),
                ],
            ),
            (
                json!(["multi=1.1.1.1,2.2.2.2", "multi=[::1]"]),
                vec![("multi", vec!["1.1.1.1", "2.2.2.2", "::1"])],
            ),
            (json!(["v6=::1"]), vec![("v6", vec!["::1"])]),
            (
                json!({"a": "1.2.3.4", "b": ["5.6.7.8", "[::2]"]}),
                vec![("a", vec!["1.2.3.4"]), ("b", vec!["5.6.7.8", "::2"])],
            ),
        ];
        for (input, want) in cases {
            let got = extra_hosts(&input).unwrap();
            let want: BTreeMap<String, Vec<String>> = want
                .into_iter()
                .map(|(h, ips)| (h.to_owned(), ips.into_iter().map(str::to_owned).collect()))
                .collect();
            assert_eq!(got, want, "{input}");
        }
        let err = extra_hosts(&json!(["nohost"])).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid extra host \"nohost\": missing IP, expected HOST=IP or HOST:IP"
        );
    }

    #[test]
    fn extra_hosts_serialize_as_sorted_list() {
        let hosts = extra_hosts(&json!({"b": ["2.2.2.2", "::1"], "a": "1.1.1.1"})).unwrap();
        let out = serialize_extra_hosts(&hosts, serde_json::value::Serializer).unwrap();
        assert_eq!(out, json!(["a=1.1.1.1", "b=2.2.2.2", "b=::1"]));
        assert_eq!(extra_hosts(&out).unwrap(), hosts);
    }
}
