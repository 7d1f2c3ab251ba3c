//! `--filter` for network lists and prune, as Docker reads them: values of one key are
//! alternatives (labels excepted: every label filter must match), different keys must all
//! match.

use std::collections::BTreeMap;

use engine::network::NetworkRecord;

use crate::node::DEFAULT_NETWORK;

/// Parsed filters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NetworkFilters {
    by_key: BTreeMap<String, Vec<String>>,
}

/// The keys understood.
const KEYS: &[&str] = &["name", "id", "label", "driver", "type"];

impl NetworkFilters {
    /// Parses `key=value` words.
    pub fn parse(words: &[String]) -> Result<Self, String> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                return Err(format!("bad filter {word:?}: use key=value"));
            };
            let key = key.trim().to_ascii_lowercase();
            if !KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "invalid filter {key:?}: use one of {}",
                    KEYS.join(", ")
                ));
            }
            if key == "type" && !matches!(value, "custom" | "builtin") {
                return Err(format!(
                    "invalid filter type={value:?}: use custom or builtin"
                ));
            }
            by_key.entry(key).or_default().push(value.to_string());
        }
        Ok(Self { by_key })
    }

    /// Whether `rec` passes.
    pub fn matches(&self, rec: &NetworkRecord) -> bool {
        self.by_key.iter().all(|(key, values)| {
            let test = |v: &String| match key.as_str() {
                "name" => rec.name.contains(v.as_str()),
                "id" => rec.id.starts_with(v.as_str()),
                "driver" => rec.driver == *v,
                "type" => (v == "builtin") == (rec.name == DEFAULT_NETWORK),
                "label" => match v.split_once('=') {
                    Some((k, want)) => rec.labels.get(k).is_some_and(|got| got == want),
                    None => rec.labels.contains_key(v.as_str()),
                },
                _ => false,
            };
            if key == "label" {
                values.iter().all(test)
            } else {
                values.iter().any(test)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, id: &str, labels: &[(&str, &str)]) -> NetworkRecord {
        NetworkRecord {
            id: id.into(),
            name: name.into(),
            driver: "bridge".into(),
            internal: false,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            subnet: "10.0.0.0/24".parse().unwrap(),
            gateway: "10.0.0.1".parse().unwrap(),
            ip_range: None,
            subnet_v6: None,
            gateway_v6: None,
            mtu: 1500,
            bridge: "bsn-x".into(),
            created: 0,
            endpoints: Default::default(),
            overlay: None,
        }
    }

    #[test]
    fn matches_like_docker() {
        let nets = [
            rec("bridge", "aaa111", &[]),
            rec(
                "app_front",
                "bbb222",
                &[("com.docker.compose.project", "app")],
            ),
            rec(
                "app_back",
                "ccc333",
                &[("com.docker.compose.project", "app"), ("tier", "db")],
            ),
            rec("other", "ddd444", &[("tier", "web")]),
        ];
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &["bridge", "app_front", "app_back", "other"]),
            (&["name=app"], &["app_front", "app_back"]),
            (&["name=front", "name=other"], &["app_front", "other"]),
            (&["id=ccc"], &["app_back"]),
            (&["label=tier"], &["app_back", "other"]),
            (&["label=tier=db"], &["app_back"]),
            (
                &["label=com.docker.compose.project=app", "label=tier"],
                &["app_back"],
            ),
            (&["name=app", "label=tier=web"], &[]),
            (&["type=builtin"], &["bridge"]),
            (
                &["type=custom", "driver=bridge"],
                &["app_front", "app_back", "other"],
            ),
        ];
        for (words, want) in cases {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            let f = NetworkFilters::parse(&words).unwrap();
            let got: Vec<&str> = nets
                .iter()
                .filter(|r| f.matches(r))
                .map(|r| r.name.as_str())
                .collect();
            assert_eq!(got, *want, "{words:?}");
        }
    }

    #[test]
    fn rejects_unknown_filters() {
        for (word, want) in [
            ("name", "use key=value"),
            ("dangling=true", "invalid filter \"dangling\""),
            ("type=weird", "custom or builtin"),
        ] {
            let err = NetworkFilters::parse(&[word.to_string()]).unwrap_err();
            assert!(err.contains(want), "{word}: {err}");
        }
    }
}
