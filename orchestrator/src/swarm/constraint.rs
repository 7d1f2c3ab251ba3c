//! Placement constraints (`node.labels.zone==east`) and preferences (`spread=node.labels.zone`):
//! parsed once from the user's text into typed values, matched against a [`Node`].
//!
//! Both are stored and sent as their text (serde goes through [`FromStr`] and [`Display`]), so
//! a spec in the store can only hold constraints that parse.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::swarm::node::Node;

/// What a constraint or preference could not be parsed from, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConstraintError {
    /// No `==` or `!=` in the text.
    #[error("invalid constraint {text:?}: expected KEY==VALUE or KEY!=VALUE")]
    NoOperator {
        /// The text given.
        text: String,
    },
    /// The key is not one the scheduler knows.
    #[error(
        "invalid constraint {text:?}: unknown key {key:?}, expected node.id, node.hostname, node.role, node.labels.NAME, node.platform.os or node.platform.arch"
    )]
    UnknownKey {
        /// The text given.
        text: String,
        /// The key found.
        key: String,
    },
    /// `engine.labels.X`: engine labels are not reported by bosun nodes.
    #[error(
        "invalid constraint {text:?}: engine labels are not supported, use node labels (node.labels.NAME) set with `bosun node update --label-add`"
    )]
    EngineLabels {
        /// The text given.
        text: String,
    },
    /// `node.labels.` with no label name, or an empty value.
    #[error("invalid constraint {text:?}: {what} must not be empty")]
    Empty {
        /// The text given.
        text: String,
        /// What is empty (`the label name`, `the value`).
        what: &'static str,
    },
    /// `node.role` compared with something other than manager or worker.
    #[error("invalid constraint {text:?}: node.role is manager or worker")]
    Role {
        /// The text given.
        text: String,
    },
    /// A placement preference that is not `spread=node.labels.NAME`.
    #[error("invalid placement preference {text:?}: expected spread=node.labels.NAME")]
    Preference {
        /// The text given.
        text: String,
    },
}

/// The node attribute a constraint looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConstraintKey {
    /// `node.id`.
    NodeId,
    /// `node.hostname`.
    Hostname,
    /// `node.role`.
    Role,
    /// `node.labels.NAME`.
    Label(String),
    /// `node.platform.os`.
    Os,
    /// `node.platform.arch`.
    Arch,
}

impl ConstraintKey {
    fn parse(text: &str, key: &str) -> Result<Self, ConstraintError> {
        let key = key.trim();
        if let Some(name) = key.strip_prefix("node.labels.") {
            if name.is_empty() {
                return Err(ConstraintError::Empty {
                    text: text.to_string(),
                    what: "the label name",
                });
            }
            return Ok(ConstraintKey::Label(name.to_string()));
        }
        if key.starts_with("engine.labels.") {
            return Err(ConstraintError::EngineLabels {
                text: text.to_string(),
            });
        }
        match key {
            "node.id" => Ok(ConstraintKey::NodeId),
            "node.hostname" => Ok(ConstraintKey::Hostname),
            "node.role" => Ok(ConstraintKey::Role),
            "node.platform.os" => Ok(ConstraintKey::Os),
            "node.platform.arch" => Ok(ConstraintKey::Arch),
            _ => Err(ConstraintError::UnknownKey {
                text: text.to_string(),
                key: key.to_string(),
            }),
        }
    }

    /// The node's value for this key, if it has one.
    fn value<'n>(&self, node: &'n Node) -> Option<&'n str> {
        match self {
            ConstraintKey::NodeId => Some(node.id.as_str()),
            ConstraintKey::Hostname => Some(&node.hostname),
            ConstraintKey::Role => Some(node.role.as_str()),
            ConstraintKey::Label(name) => node.labels.get(name).map(String::as_str),
            ConstraintKey::Os => Some(&node.platform.os),
            ConstraintKey::Arch => Some(&node.platform.arch),
        }
    }

    /// Role, os and arch compare without regard to case; ids, host names and labels exactly.
    fn case_insensitive(&self) -> bool {
        matches!(
            self,
            ConstraintKey::Role | ConstraintKey::Os | ConstraintKey::Arch
        )
    }
}

impl fmt::Display for ConstraintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstraintKey::NodeId => f.write_str("node.id"),
            ConstraintKey::Hostname => f.write_str("node.hostname"),
            ConstraintKey::Role => f.write_str("node.role"),
            ConstraintKey::Label(name) => write!(f, "node.labels.{name}"),
            ConstraintKey::Os => f.write_str("node.platform.os"),
            ConstraintKey::Arch => f.write_str("node.platform.arch"),
        }
    }
}

/// A placement constraint: `KEY==VALUE` or `KEY!=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Constraint {
    /// What it looks at.
    pub key: ConstraintKey,
    /// `true` for `==`, `false` for `!=`.
    pub equal: bool,
    /// The value compared with.
    pub value: String,
}

impl Constraint {
    /// Whether `node` satisfies the constraint. A node without the label never satisfies
    /// `==` and always satisfies `!=`.
    pub fn matches(&self, node: &Node) -> bool {
        let same = match self.key.value(node) {
            None => false,
            Some(found) if self.key.case_insensitive() => found.eq_ignore_ascii_case(&self.value),
            Some(found) => found == self.value,
        };
        same == self.equal
    }
}

impl FromStr for Constraint {
    type Err = ConstraintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, equal, value) = if let Some((key, value)) = text.split_once("==") {
            (key, true, value)
        } else if let Some((key, value)) = text.split_once("!=") {
            (key, false, value)
        } else {
            return Err(ConstraintError::NoOperator {
                text: text.to_string(),
            });
        };
        let key = ConstraintKey::parse(text, key)?;
        let value = value.trim();
        if value.is_empty() {
            return Err(ConstraintError::Empty {
                text: text.to_string(),
                what: "the value",
            });
        }
        if key == ConstraintKey::Role
            && !value.eq_ignore_ascii_case("manager")
            && !value.eq_ignore_ascii_case("worker")
        {
            return Err(ConstraintError::Role {
                text: text.to_string(),
            });
        }
        Ok(Constraint {
            key,
            equal,
            value: value.to_string(),
        })
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operator = if self.equal { "==" } else { "!=" };
        write!(f, "{}{operator}{}", self.key, self.value)
    }
}

impl TryFrom<String> for Constraint {
    type Error = ConstraintError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Constraint> for String {
    fn from(value: Constraint) -> Self {
        value.to_string()
    }
}

/// A placement preference: spread the tasks evenly over the values of a node label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Spread {
    /// The label name (`zone` in `spread=node.labels.zone`).
    pub label: String,
}

impl Spread {
    /// The node's value for the label; nodes without it form a group of their own.
    pub fn value<'n>(&self, node: &'n Node) -> Option<&'n str> {
        node.labels.get(&self.label).map(String::as_str)
    }
}

impl FromStr for Spread {
    type Err = ConstraintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let label = text
            .split_once('=')
            .filter(|(kind, _)| kind.trim() == "spread")
            .and_then(|(_, key)| key.trim().strip_prefix("node.labels."))
            .filter(|label| !label.is_empty());
        match label {
            Some(label) => Ok(Spread {
                label: label.to_string(),
            }),
            None => Err(ConstraintError::Preference {
                text: text.to_string(),
            }),
        }
    }
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spread=node.labels.{}", self.label)
    }
}

impl TryFrom<String> for Spread {
    type Error = ConstraintError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Spread> for String {
    fn from(value: Spread) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::node::tests::node;

    fn parse(text: &str) -> Result<Constraint, ConstraintError> {
        text.parse()
    }

    #[test]
    fn every_key_parses_and_prints_back() {
        for text in [
            "node.id==abc",
            "node.hostname!=web-1",
            "node.role==manager",
            "node.labels.zone==east",
            "node.platform.os==linux",
            "node.platform.arch!=aarch64",
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            parse(" node.labels.zone == east ").unwrap().to_string(),
            "node.labels.zone==east"
        );
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert_eq!(
            parse("zone=east").unwrap_err().to_string(),
            "invalid constraint \"zone=east\": expected KEY==VALUE or KEY!=VALUE"
        );
        assert!(matches!(
            parse("node.name==x"),
            Err(ConstraintError::UnknownKey { key, .. }) if key == "node.name"
        ));
        assert!(
            parse("engine.labels.disk==ssd")
                .unwrap_err()
                .to_string()
                .contains("engine labels are not supported")
        );
        assert!(matches!(
            parse("node.labels.==x"),
            Err(ConstraintError::Empty { .. })
        ));
        assert!(matches!(
            parse("node.labels.zone=="),
            Err(ConstraintError::Empty { .. })
        ));
        assert!(matches!(
            parse("node.role==boss"),
            Err(ConstraintError::Role { .. })
        ));
    }

    #[test]
    fn constraints_match_nodes() {
        let mut n = node("n1");
        n.labels.insert("zone".into(), "east".into());
        assert!(parse("node.labels.zone==east").unwrap().matches(&n));
        assert!(!parse("node.labels.zone!=east").unwrap().matches(&n));
        assert!(!parse("node.labels.disk==ssd").unwrap().matches(&n));
        assert!(parse("node.labels.disk!=ssd").unwrap().matches(&n));
        assert!(parse("node.role==WORKER").unwrap().matches(&n));
        assert!(parse("node.platform.os==Linux").unwrap().matches(&n));
        assert!(parse("node.id==n1").unwrap().matches(&n));
        assert!(!parse("node.hostname==N1").unwrap().matches(&n));
    }

    #[test]
    fn constraints_are_stored_as_text() {
        let c = parse("node.labels.zone==east").unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, "\"node.labels.zone==east\"");
        assert_eq!(serde_json::from_str::<Constraint>(&json).unwrap(), c);
        assert!(serde_json::from_str::<Constraint>("\"zone\"").is_err());
    }

    #[test]
    fn spread_preferences_parse() {
        let s: Spread = "spread=node.labels.zone".parse().unwrap();
        assert_eq!(s.label, "zone");
        assert_eq!(s.to_string(), "spread=node.labels.zone");
        for bad in [
            "spread=node.id",
            "pack=node.labels.zone",
            "spread=node.labels.",
        ] {
            assert_eq!(
                bad.parse::<Spread>().unwrap_err(),
                ConstraintError::Preference {
                    text: bad.to_string()
                }
            );
        }
    }
}
