//! `<<` merge keys and the duplicate-key rule: keys written in a mapping win over merged ones,
//! an earlier merged mapping wins over a later one, and a key written twice is an error.

use super::builder::{MapFrame, PendingKey};
use super::syntax;
use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::{Mark, Node, Value};

/// Refuses a key written twice in one mapping.
pub(super) fn check_duplicate(m: &MapFrame, key: &PendingKey, path: &KeyPath) -> Result<()> {
    match m.explicit.get(&key.text) {
        Some(first) => Err(Error::invalid(
            ErrorKind::DuplicateKey,
            Some(key.mark.clone()),
            path.clone(),
            format!(
                "duplicate key {:?} (first defined at line {first})",
                key.text
            ),
        )),
        None => Ok(()),
    }
}

/// Applies a `<<` merge: keys already in the mapping win, and among several merged mappings the
/// earlier one wins.
pub(super) fn merge_into(m: &mut MapFrame, value: Node, path: KeyPath) -> Result<()> {
    let mark = value.mark.clone();
    let sources = match value.value {
        Value::Map(map) => vec![map],
        Value::Seq(items) => {
            let mut maps = Vec::with_capacity(items.len());
            for item in items {
                match item.value {
                    Value::Map(map) => maps.push(map),
                    _ => return Err(bad_merge(item.mark, path)),
                }
            }
            maps
        }
        _ => return Err(bad_merge(mark, path)),
    };
    for source in sources {
        for (key, node) in source {
            if !m.entries.contains_key(&key) {
                m.merged.insert(key.clone());
                m.entries.insert(key, node);
            }
        }
    }
    Ok(())
}

fn bad_merge(mark: Mark, path: KeyPath) -> Error {
    syntax(
        mark,
        path,
        "a merge key (<<) needs a mapping or a sequence of mappings",
    )
}
