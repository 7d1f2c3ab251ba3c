//! Container ids and names: generating them, checking names, and resolving what a user typed
//! (full id, unique id prefix, or name) to an id.

use std::collections::BTreeMap;

use super::AgentError;
use super::meta::Meta;

/// A fresh random 64-hex-digit container id.
pub fn new_id() -> String {
    let mut rng = fastrand::Rng::new();
    (0..4).map(|_| format!("{:016x}", rng.u64(..))).collect()
}

/// The 12-character short form of an id, as listed.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

const ADJECTIVES: [&str; 16] = [
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nimble", "proud", "quiet", "swift", "tidy", "witty",
];
const NOUNS: [&str; 16] = [
    "anchor", "beacon", "compass", "dinghy", "galley", "harbor", "keel", "lantern", "mast", "oar",
    "pilot", "rudder", "sail", "skiff", "tide", "wharf",
];

/// A generated name (`adjective_noun`, with a number when that is taken).
pub fn generate_name(taken: impl Fn(&str) -> bool) -> String {
    let mut rng = fastrand::Rng::new();
    loop {
        let base = format!(
            "{}_{}",
            ADJECTIVES[rng.usize(..ADJECTIVES.len())],
            NOUNS[rng.usize(..NOUNS.len())]
        );
        if !taken(&base) {
            return base;
        }
        let numbered = format!("{base}{}", rng.u32(1..10_000));
        if !taken(&numbered) {
            return numbered;
        }
    }
}

/// Checks a user-given name (Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 bytes).
pub fn check_name(name: &str) -> Result<(), AgentError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 128;
    if ok {
        Ok(())
    } else {
        Err(AgentError::Invalid(format!(
            "invalid container name {name:?}: use [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        )))
    }
}

/// Resolves `reference` among `containers` (keyed by id): exact id, then exact name (a leading
/// `/` is ignored, as Docker does), then a unique id prefix.
pub fn resolve(containers: &BTreeMap<String, Meta>, reference: &str) -> Result<String, AgentError> {
    if reference.is_empty() {
        return Err(AgentError::Invalid("container reference is empty".into()));
    }
    if containers.contains_key(reference) {
        return Ok(reference.to_string());
    }
    let name = reference.strip_prefix('/').unwrap_or(reference);
    if let Some(meta) = containers.values().find(|m| m.name == name) {
        return Ok(meta.id.clone());
    }
    let mut matches = containers.keys().filter(|id| id.starts_with(reference));
    match (matches.next(), matches.next()) {
        (Some(id), None) => Ok(id.clone()),
        (Some(_), Some(_)) => Err(AgentError::Ambiguous(reference.to_string())),
        (None, _) => Err(AgentError::NotFound(reference.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, name: &str) -> (String, Meta) {
        (id.to_string(), Meta::new(id.to_string(), name.to_string()))
    }

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = new_id();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_id());
        assert_eq!(short_id(&a).len(), 12);
    }

    #[test]
    fn resolve_table() {
        let all: BTreeMap<String, Meta> = [
            meta("abc123", "web"),
            meta("abd456", "db"),
            meta("ffff", "abc"),
        ]
        .into();
        let cases = [
            ("abc123", Ok("abc123")),
            ("web", Ok("abc123")),
            ("/db", Ok("abd456")),
            ("abc", Ok("ffff")),
            ("abd", Ok("abd456")),
            (
                "ab",
                Err("multiple containers match \"ab\": use more of the id or the name"),
            ),
            ("zz", Err("no such container: zz")),
            ("", Err("container reference is empty")),
        ];
        for (reference, want) in cases {
            let got = resolve(&all, reference).map_err(|e| e.to_string());
            assert_eq!(
                got,
                want.map(str::to_string).map_err(str::to_string),
                "{reference}"
            );
        }
    }

    #[test]
    fn names() {
        for ok in ["web", "a", "proj-web_1.x"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-web", "a b", "a/b", &"x".repeat(129)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let name = generate_name(|n| n.starts_with("brave"));
        assert!(!name.starts_with("brave"));
        assert!(check_name(&name).is_ok());
    }
}
