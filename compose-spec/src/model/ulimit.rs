//! `ulimits`: `nofile: 1024` or `nofile: {soft: 1024, hard: 2048}`.

use serde::{Deserialize, Serialize};

use crate::model::scalar::{self, Extensions};
use crate::model::short::ShortSyntax;

/// A resource limit; the single-number form sets both values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Ulimit {
    /// The soft limit.
    #[serde(deserialize_with = "scalar::scalar")]
    pub soft: i64,
    /// The hard limit.
    #[serde(deserialize_with = "scalar::scalar")]
    pub hard: i64,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

short_or_long!(Ulimit);

impl ShortSyntax for Ulimit {
    const EXPECTING: &'static str = "a limit or a mapping with soft and hard";

    fn parse_short(text: &str) -> Result<Self, String> {
        let value = text.trim().parse::<i64>().map_err(|_| {
            format!("invalid ulimit {text:?}: expected an integer or soft and hard limits")
        })?;
        Ok(Self {
            soft: value,
            hard: value,
            extensions: Extensions::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn single_and_pair_forms() {
        let limits: BTreeMap<String, Ulimit> = serde_json::from_value(json!({
            "nproc": 65535, "memlock": "-1", "nofile": {"soft": "20000", "hard": 40000}
        }))
        .unwrap();
        assert_eq!((limits["nproc"].soft, limits["nproc"].hard), (65535, 65535));
        assert_eq!((limits["memlock"].soft, limits["memlock"].hard), (-1, -1));
        assert_eq!(
            (limits["nofile"].soft, limits["nofile"].hard),
            (20000, 40000)
        );
        let json = serde_json::to_value(&limits).unwrap();
        assert_eq!(json["nproc"], json!({"soft": 65535, "hard": 65535}));
        assert_eq!(
            serde_json::from_value::<BTreeMap<String, Ulimit>>(json).unwrap(),
            limits
        );
        let err = serde_json::from_value::<Ulimit>(json!("lots"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid ulimit \"lots\": expected an integer or soft and hard limits"
        );
        let err = serde_json::from_value::<Ulimit>(json!({"soft": 1}))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "missing field `hard`");
    }
}
