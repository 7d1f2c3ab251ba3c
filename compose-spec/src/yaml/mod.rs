//! YAML reading: source text to a marked [`Node`] tree.

mod node;
mod parse;

pub use node::Mark;
pub(crate) use node::{Map, Node, Tag, Value};
pub(crate) use parse::parse;
