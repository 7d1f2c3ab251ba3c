//! `command` and `entrypoint`: a string split like a POSIX shell would, or a list as is.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::model::scalar::Lenient;

/// Splits a command string into words like a POSIX shell (quotes and backslashes, no expansion).
pub(super) fn split(text: &str) -> Result<Vec<String>, String> {
    shell_words::split(text).map_err(|_| format!("invalid command {text:?}: unbalanced quotes"))
}

struct Command(Vec<String>);

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CommandVisitor).map(Command)
    }
}

struct CommandVisitor;

impl<'de> Visitor<'de> for CommandVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a command string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        split(v).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(word) = seq.next_element::<Lenient<String>>()? {
            out.push(word.0);
        }
        Ok(out)
    }
}

/// Reads an optional command: `null` or absent is `None`, `[]` is an explicit empty command.
/// A `deserialize_with` function.
pub(super) fn opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<Command>::deserialize(d).map(|c| c.map(|c| c.0))
}

/// Reads a required command. A `deserialize_with` function.
pub(super) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    opt(d).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_split_like_a_shell() {
        let cases: &[(&str, &[&str])] = &[
            ("echo hello", &["echo", "hello"]),
            (
                "sh -c 'echo $HOME && ls'",
                &["sh", "-c", "echo $HOME && ls"],
            ),
            (r#"echo "a b" c\ d"#, &["echo", "a b", "c d"]),
            ("  spaced   out ", &["spaced", "out"]),
            ("", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(
                opt(&json!(text)).unwrap(),
                Some(want.iter().map(|s| s.to_string()).collect()),
                "{text}"
            );
        }
    }

    #[test]
    fn lists_are_kept_and_absence_differs_from_empty() {
        assert_eq!(
            opt(&json!(["a b", "c"])).unwrap(),
            Some(vec!["a b".to_owned(), "c".to_owned()])
        );
        assert_eq!(opt(&json!([])).unwrap(), Some(vec![]));
        assert_eq!(opt(&json!(null)).unwrap(), None);
    }

    #[test]
    fn unbalanced_quotes_are_an_error() {
        let err = opt(&json!("echo 'oops")).unwrap_err().to_string();
        assert_eq!(err, "invalid command \"echo 'oops\": unbalanced quotes");
    }
}
