//! The environment a project is loaded with: explicit, never read from the process.

use indexmap::IndexMap;

/// Variables available to interpolation, in precedence order already resolved
/// (the shell environment wins over `.env` / `--env-file`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: IndexMap<String, String>,
}

impl Environment {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Sets `name` to `value`, replacing an earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// Sets `name` only if it is not set yet (how `.env` fills in under the shell environment).
    pub(crate) fn set_default(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.entry(name.into()).or_insert_with(|| value.into());
    }

    /// Whether `name` is set (possibly to the empty string).
    pub fn contains(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// All variables in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_wins_over_defaults() {
        let mut env: Environment = [("A", "shell")].into_iter().collect();
        env.set_default("A", "dotenv");
        env.set_default("B", "dotenv");
        assert_eq!(env.get("A"), Some("shell"));
        assert_eq!(env.get("B"), Some("dotenv"));
        assert!(!env.contains("C"));
    }
}
