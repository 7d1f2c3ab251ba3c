//! The `raw` env-file format, as `docker run --env-file` reads it.
//!
//! Each non-blank line that does not start with `#` is `KEY=VALUE`, taken verbatim after the
//! first `=` (no quotes, escapes, inline comments or expansion), or a bare `KEY`, copied from the
//! lookup environment when set there.

use std::path::Path;
use std::sync::Arc;

use super::Vars;
use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::Mark;

/// Parses `source` into `vars`.
pub(super) fn parse(
    source: &str,
    file: &Arc<Path>,
    vars: &mut Vars,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    for (index, raw_line) in source.split('\n').enumerate() {
        let raw_line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let line = raw_line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let column = raw_line.chars().count() - line.chars().count() + 1;
        let error = |message: String| {
            let mark = Mark::new(file.clone(), index + 1, column);
            Error::invalid(ErrorKind::EnvFile, Some(mark), KeyPath::root(), message)
        };
        let (name, value) = match line.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (line, None),
        };
        if name.is_empty() {
            return Err(error(format!("no variable name on line {line:?}")));
        }
        if name.contains([' ', '\t']) {
            return Err(error(format!(
                "variable name {name:?} cannot contain whitespace"
            )));
        }
        match value {
            Some(value) => {
                vars.insert(name.to_owned(), value.to_owned());
            }
            None => {
                if let Some(value) = lookup(name) {
                    vars.insert(name.to_owned(), value);
                }
            }
        }
    }
    Ok(())
}
