//! YAML reading: source text to a marked [`Node`] tree.

mod node;
mod parse;

pub use node::{Map, Mark, Node, Tag, Value};
pub use parse::{Limits, parse, parse_with_limits};
