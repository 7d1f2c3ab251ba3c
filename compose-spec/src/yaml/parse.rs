//! Source text to marked [`Node`] trees, one per YAML document.
//!
//! The tree is built from the parser's event stream with an explicit stack (no recursion, so
//! deeply nested input cannot overflow the call stack). Plain scalars are typed the way Go's
//! `yaml.v3` types them, which is what Compose reads files with; see the `scalar` module.
//! Anchors, aliases and `<<` merge keys are resolved here, so later stages see plain values.
//!
//! An alias is a copy of the anchored node: the copy's root carries the alias's mark (where
//! the value is used), the nodes inside keep the marks of the anchored text (where they are
//! written). Every node built, copies included, is charged against [`Limits::max_nodes`]
//! before it is made, so an alias bomb is refused in time and memory proportional to the
//! budget, not to its expansion.

mod builder;
mod merge;
mod scalar;
#[cfg(test)]
mod tests;

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser};

use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::{Mark, Node};

use builder::Builder;

/// Bounds on what one [`parse_with_limits`] call may build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// How many nodes the whole stream may expand to, alias copies included. A scalar also
    /// counts one extra node per 128 bytes of its text, so that copies of long strings are
    /// bounded in memory too.
    pub max_nodes: usize,
    /// How deeply sequences and mappings may nest, alias copies included.
    pub max_depth: usize,
}

impl Default for Limits {
    /// One million nodes, 256 levels: far above any real compose file.
    fn default() -> Self {
        Self {
            max_nodes: 1_000_000,
            max_depth: 256,
        }
    }
}

/// Parses every document of `source` (read from `file`) with the default [`Limits`].
///
/// Returns one node per document, in order; an input without documents gives an empty list.
pub(crate) fn parse(source: &str, file: Arc<Path>) -> Result<Vec<Node>> {
    parse_with_limits(source, file, &Limits::default())
}

/// Parses every document of `source` (read from `file`) within `limits`.
///
/// Errors are [`ErrorKind::Syntax`] (malformed YAML, unknown tags, complex keys, bad merge
/// values, nesting beyond the limit), [`ErrorKind::DuplicateKey`] and
/// [`ErrorKind::AliasLimit`] (alias expansion beyond the limits).
pub(crate) fn parse_with_limits(
    source: &str,
    file: Arc<Path>,
    limits: &Limits,
) -> Result<Vec<Node>> {
    let mut parser = Parser::new_from_str(source);
    let mut builder = Builder::new(file.clone(), *limits);
    loop {
        // The parser is a third-party state machine: a bug in it must not take the loader
        // down, so a panic inside it becomes a syntax error at the start of the file.
        let next = panic::catch_unwind(AssertUnwindSafe(|| parser.next_token()));
        let (event, marker) = match next {
            Ok(Ok(pair)) => pair,
            Ok(Err(err)) => {
                let mark = Mark::new(file, err.marker().line(), err.marker().col() + 1);
                return Err(syntax(mark, KeyPath::root(), err.info()));
            }
            Err(_) => {
                let mark = Mark::new(file, 1, 1);
                return Err(syntax(
                    mark,
                    KeyPath::root(),
                    "the yaml parser failed on this input",
                ));
            }
        };
        if event == Event::StreamEnd {
            return Ok(builder.finish());
        }
        builder.event(event, &marker)?;
    }
}

/// A syntax error at `mark`.
fn syntax(mark: Mark, path: KeyPath, message: impl Into<String>) -> Error {
    Error::invalid(ErrorKind::Syntax, Some(mark), path, message)
}
