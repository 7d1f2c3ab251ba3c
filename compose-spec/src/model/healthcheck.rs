//! `healthcheck`: the test command, its timing, and `disable`.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::model::duration::Duration;
use crate::model::scalar::{self, Extensions, Lenient};

/// A container health check. `disable: true` is kept as the equivalent `test: ["NONE"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Healthcheck {
    /// `["CMD", args…]`, `["CMD-SHELL", command]` or `["NONE"]`; a string is `CMD-SHELL`.
    #[serde(
        default,
        deserialize_with = "test",
        skip_serializing_if = "Option::is_none"
    )]
    pub test: Option<Vec<String>>,
    /// Time between checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time after which one check fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Consecutive failures before unhealthy.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub retries: Option<u64>,
    /// Grace period during which failures do not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    /// Time between checks during the start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    /// `disable` as written; folded into `test` when read, always false afterwards.
    #[doc(hidden)]
    #[serde(default, deserialize_with = "scalar::flag", skip_serializing)]
    pub disable: bool,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

impl Healthcheck {
    /// Whether the check is switched off (`test: ["NONE"]`, or `disable: true`).
    pub fn is_disabled(&self) -> bool {
        self.disable
            || self
                .test
                .as_ref()
                .is_some_and(|t| t.first().is_some_and(|w| w == "NONE"))
    }
}

impl Serialize for Healthcheck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Healthcheck::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Healthcheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut check = Healthcheck::deserialize(d)?;
        if std::mem::take(&mut check.disable) {
            check.test = Some(vec!["NONE".to_owned()]);
        }
        Ok(check)
    }
}

fn test<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<Test>::deserialize(d).map(|t| t.map(|t| t.0))
}

struct Test(Vec<String>);

impl<'de> Deserialize<'de> for Test {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TestVisitor).map(Test)
    }
}

struct TestVisitor;

impl<'de> Visitor<'de> for TestVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a shell command string or a list such as [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(vec!["CMD-SHELL".to_owned(), v.to_owned()])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(word) = seq.next_element::<Lenient<String>>()? {
            out.push(word.0);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: serde_json::Value) -> Healthcheck {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn test_forms() {
        let shell = read(json!({"test": "curl -f http://localhost || exit 1"}));
        assert_eq!(
            shell.test,
            Some(vec![
                "CMD-SHELL".to_owned(),
                "curl -f http://localhost || exit 1".to_owned()
            ])
        );
        let cmd = read(json!({"test": ["CMD", "pg_isready"]}));
        assert_eq!(
            cmd.test,
            Some(vec!["CMD".to_owned(), "pg_isready".to_owned()])
        );
        assert!(!cmd.is_disabled());
    }

    #[test]
    fn disable_equals_test_none() {
        let disabled = read(json!({"disable": true}));
        let none = read(json!({"test": ["NONE"]}));
        assert_eq!(disabled, none);
        assert!(disabled.is_disabled());
        assert_eq!(
            serde_json::to_value(&disabled).unwrap(),
            json!({"test": ["NONE"]})
        );
        assert_eq!(
            read(json!({"disable": "false", "test": "true"}))
                .test
                .unwrap()[0],
            "CMD-SHELL"
        );
    }

    #[test]
    fn timings_round_trip() {
        let check = read(json!({
            "test": ["CMD", "true"], "interval": "1m30s", "timeout": "10s", "retries": "3",
            "start_period": "40s", "start_interval": "5s", "x-a": 1
        }));
        assert_eq!(check.interval, Some(Duration::from_secs(90)));
        assert_eq!(check.retries, Some(3));
        let json = serde_json::to_value(&check).unwrap();
        assert_eq!(json["interval"], json!("1m30s"));
        assert_eq!(read(json), check);
        let err = serde_json::from_value::<Healthcheck>(json!({"interval": "10x"}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid duration \"10x\": expected a number with a unit such as 10s, 1m30s, 500ms"
        );
    }
}
