//! `env_file`: a path, a list of paths, or a list of `{path, required, format}`.

use serde::{Deserialize, Serialize};

use crate::model::scalar::{self, Extensions};
use crate::model::short::ShortSyntax;

/// One environment file of a service. The path is kept as written; the loader resolves it
/// against the project directory and reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct EnvFile {
    /// The file.
    #[serde(deserialize_with = "scalar::scalar")]
    pub path: String,
    /// A missing file is an error (the default) or ignored.
    #[serde(default = "scalar::yes", deserialize_with = "scalar::scalar")]
    pub required: bool,
    /// The file format (`raw` for no interpolation or quoting); dotenv when unset.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub format: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

short_or_long!(EnvFile);

impl EnvFile {
    /// A required dotenv file.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            required: true,
            format: None,
            extensions: Extensions::new(),
        }
    }
}

impl ShortSyntax for EnvFile {
    const EXPECTING: &'static str = "a path or a mapping with path, required and format";

    fn parse_short(text: &str) -> Result<Self, String> {
        Ok(Self::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::short::one_or_many;
    use serde_json::json;

    #[test]
    fn string_list_and_long_forms() {
        assert_eq!(
            one_or_many::<_, EnvFile>(&json!("a.env")).unwrap(),
            vec![EnvFile::new("a.env")]
        );
        let files: Vec<EnvFile> = one_or_many(&json!([
            "a.env",
            {"path": "b.env", "required": false},
            {"path": "c.env", "format": "raw"}
        ]))
        .unwrap();
        assert_eq!(files[0], EnvFile::new("a.env"));
        assert!(!files[1].required);
        assert!(files[2].required);
        assert_eq!(files[2].format.as_deref(), Some("raw"));
        let json = serde_json::to_value(&files).unwrap();
        assert_eq!(json[0], json!({"path": "a.env", "required": true}));
        assert_eq!(one_or_many::<_, EnvFile>(&json).unwrap(), files);
        let err = one_or_many::<_, EnvFile>(&json!([{"required": true}]))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "missing field `path`");
    }
}
