//! Query strings: parameters by name, Docker's boolean forms, and its `filters` JSON
//! (`{"label":{"a=b":true}}` or the older `{"label":["a=b"]}`) as the agent's `key=value` list.

use std::collections::HashMap;

use super::reply::ApiError;

/// A request's query parameters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    /// The parameters of `uri`.
    pub(crate) fn of(uri: &http::Uri) -> Self {
        let pairs = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes());
        Self(
            pairs
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The parameter's value.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean parameter: Docker takes `1`, `true` and `True` (anything but `0`/`false` when
    /// present).
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| !matches!(v, "" | "0" | "false" | "False"))
    }

    /// A number parameter.
    pub(crate) fn number(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
        }
    }

    /// The `filters` parameter as `key=value` strings.
    pub(crate) fn filters(&self) -> Result<Vec<String>, ApiError> {
        match self.get("filters") {
            None | Some("") => Ok(Vec::new()),
            Some(text) => parse_filters(text),
        }
    }
}

/// Docker's filters JSON as `key=value` strings, sorted.
pub(crate) fn parse_filters(text: &str) -> Result<Vec<String>, ApiError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("invalid filters: {e}")))?;
    let Some(map) = value.as_object() else {
        return Err(ApiError::bad_request("invalid filters: not an object"));
    };
    let mut out = Vec::new();
    for (key, values) in map {
        match values {
            serde_json::Value::Object(set) => {
                for (v, on) in set {
                    if on.as_bool().unwrap_or(true) {
                        out.push(format!("{key}={v}"));
                    }
                }
            }
            serde_json::Value::Array(list) => {
                for v in list {
                    if let Some(v) = v.as_str() {
                        out.push(format!("{key}={v}"));
                    }
                }
            }
            _ => return Err(ApiError::bad_request(format!("invalid filter {key:?}"))),
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_in_both_forms() {
        assert_eq!(
            parse_filters(r#"{"label":{"a=b":true},"status":{"exited":true}}"#).unwrap(),
            vec!["label=a=b", "status=exited"]
        );
        assert_eq!(
            parse_filters(r#"{"name":["web","db"]}"#).unwrap(),
            vec!["name=db", "name=web"]
        );
        assert!(parse_filters("[1]").is_err());
    }

    #[test]
    fn flags() {
        let q = Query::of(&"/x?a=1&b=true&c=0&d=false".parse().unwrap());
        assert!(q.flag("a") && q.flag("b"));
        assert!(!q.flag("c") && !q.flag("d") && !q.flag("e"));
    }
}
