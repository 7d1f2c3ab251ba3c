//! The event-to-tree builder: a stack of open collections, the anchors of the current document,
//! and the node budget.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::Path;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Tag as RawTag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::merge::{check_duplicate, merge_into};
use super::scalar::{self, NodeTag, ScalarTag};
use super::{Limits, syntax};
use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::{Map, Mark, Node, Value};

/// Scalar text bytes that count as one more node against the budget.
const BYTES_PER_NODE: usize = 128;

/// A finished node with what it cost and how deep it nests (0 for a scalar).
struct Built {
    node: Node,
    cost: usize,
    height: usize,
}

/// What every open collection knows about itself.
struct Open {
    mark: Mark,
    tag: NodeTag,
    anchor: usize,
    path: KeyPath,
    cost: usize,
    height: usize,
}

/// A mapping key waiting for its value.
pub(super) struct PendingKey {
    pub(super) text: String,
    pub(super) mark: Mark,
    merge: bool,
}

/// An open sequence or mapping.
enum Frame {
    Seq { open: Open, items: Vec<Node> },
    Map(Box<MapFrame>),
}

/// An open mapping.
pub(super) struct MapFrame {
    open: Open,
    pub(super) entries: Map,
    /// Keys written in this mapping, with the line of their first occurrence.
    pub(super) explicit: HashMap<String, usize>,
    /// Keys that came from a `<<` merge and may still be overridden.
    pub(super) merged: HashSet<String>,
    key: Option<PendingKey>,
}

/// Builds the documents of one stream.
pub(super) struct Builder {
    file: Arc<Path>,
    limits: Limits,
    used: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Built>,
    root: Option<Node>,
    documents: Vec<Node>,
}

impl Builder {
    pub(super) fn new(file: Arc<Path>, limits: Limits) -> Self {
        Self {
            file,
            limits,
            used: 0,
            stack: Vec::new(),
            anchors: HashMap::default(),
            root: None,
            documents: Vec::new(),
        }
    }

    /// The documents built so far.
    pub(super) fn finish(self) -> Vec<Node> {
        self.documents
    }

    /// Handles one parser event.
    pub(super) fn event(&mut self, event: Event, marker: &Marker) -> Result<()> {
        let mark = Mark::new(self.file.clone(), marker.line(), marker.col() + 1);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd => Ok(()),
            Event::DocumentStart => {
                self.anchors.clear();
                self.root = None;
                Ok(())
            }
            Event::DocumentEnd => {
                let root = self
                    .root
                    .take()
                    .unwrap_or_else(|| Node::new(Value::Null, mark));
                self.documents.push(root);
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.scalar(text, style, anchor, tag.as_ref(), mark)
            }
            Event::Alias(id) => self.alias(id, mark),
            Event::SequenceStart(anchor, tag) => self.open(false, anchor, tag.as_ref(), mark),
            Event::MappingStart(anchor, tag) => self.open(true, anchor, tag.as_ref(), mark),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
        }
    }

    /// Whether the next node is a mapping key.
    fn wants_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map(m)) if m.key.is_none())
    }

    /// The key path of the next node.
    fn child_path(&self) -> KeyPath {
        match self.stack.last() {
            None => KeyPath::root(),
            Some(Frame::Seq { open, items }) => open.path.index(items.len()),
            Some(Frame::Map(m)) => match &m.key {
                Some(key) => m.open.path.key(key.text.clone()),
                None => m.open.path.clone(),
            },
        }
    }

    /// Counts `cost` nodes against the budget.
    fn charge(&mut self, cost: usize, mark: &Mark) -> Result<()> {
        self.used = self.used.saturating_add(cost);
        if self.used > self.limits.max_nodes {
            return Err(Error::invalid(
                ErrorKind::AliasLimit,
                Some(mark.clone()),
                self.child_path(),
                format!(
                    "the document expands to more than {} nodes (counting alias expansions)",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }

    fn classify(&self, tag: Option<&RawTag>, mark: &Mark) -> Result<NodeTag> {
        scalar::classify_tag(tag).map_err(|msg| syntax(mark.clone(), self.child_path(), msg))
    }

    fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tag: Option<&RawTag>,
        mark: Mark,
    ) -> Result<()> {
        let tag = self.classify(tag, &mark)?;
        let value = scalar::resolve(&text, style, tag)
            .map_err(|msg| syntax(mark.clone(), self.child_path(), msg))?;
        let cost = 1 + text.len() / BYTES_PER_NODE;
        self.charge(cost, &mark)?;
        let node = Node {
            value,
            mark: mark.clone(),
            tag: tag.compose(),
        };
        if anchor != 0 {
            self.anchors.insert(
                anchor,
                Built {
                    node: node.clone(),
                    cost,
                    height: 0,
                },
            );
        }
        if self.wants_key() {
            let merge = text == "<<" && style == TScalarStyle::Plain && tag == NodeTag::None;
            return self.set_key(PendingKey { text, mark, merge }, cost);
        }
        self.attach(Built {
            node,
            cost,
            height: 0,
        })
    }

    fn alias(&mut self, id: usize, mark: Mark) -> Result<()> {
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(syntax(
                mark,
                self.child_path(),
                "the alias refers to an anchor that is not defined before it in this document",
            ));
        };
        let (cost, height) = (anchored.cost, anchored.height);
        if self.wants_key() {
            let Some(text) = scalar::key_text(&anchored.node.value) else {
                return Err(complex_key(mark, self.child_path()));
            };
            self.charge(cost, &mark)?;
            return self.set_key(
                PendingKey {
                    text,
                    mark,
                    merge: false,
                },
                cost,
            );
        }
        if self.stack.len() + height > self.limits.max_depth {
            return Err(Error::invalid(
                ErrorKind::AliasLimit,
                Some(mark),
                self.child_path(),
                format!(
                    "the alias expands deeper than {} levels",
                    self.limits.max_depth
                ),
            ));
        }
        self.charge(cost, &mark)?;
        let mut node = self
            .anchors
            .get(&id)
            .map(|a| a.node.clone())
            .ok_or_else(|| {
                syntax(
                    mark.clone(),
                    self.child_path(),
                    "the alias refers to an unknown anchor",
                )
            })?;
        node.mark = mark;
        self.attach(Built { node, cost, height })
    }

    fn open(&mut self, map: bool, anchor: usize, tag: Option<&RawTag>, mark: Mark) -> Result<()> {
        if self.wants_key() {
            return Err(complex_key(mark, self.child_path()));
        }
        let tag = self.classify(tag, &mark)?;
        let misplaced = match tag {
            NodeTag::Seq if map => Some("!!seq"),
            NodeTag::Map if !map => Some("!!map"),
            NodeTag::Scalar(t) => Some(match t {
                ScalarTag::Str => "!!str",
                ScalarTag::Int => "!!int",
                ScalarTag::Bool => "!!bool",
                ScalarTag::Float => "!!float",
                ScalarTag::Null => "!!null",
            }),
            _ => None,
        };
        if let Some(name) = misplaced {
            let what = if map { "mapping" } else { "sequence" };
            return Err(syntax(
                mark,
                self.child_path(),
                format!("the {name} tag is not allowed on a {what}"),
            ));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(syntax(
                mark,
                self.child_path(),
                format!(
                    "the document nests deeper than {} levels",
                    self.limits.max_depth
                ),
            ));
        }
        self.charge(1, &mark)?;
        let open = Open {
            mark,
            tag,
            anchor,
            path: self.child_path(),
            cost: 1,
            height: 1,
        };
        self.stack.push(if map {
            Frame::Map(Box::new(MapFrame {
                open,
                entries: Map::default(),
                explicit: HashMap::default(),
                merged: HashSet::default(),
                key: None,
            }))
        } else {
            Frame::Seq {
                open,
                items: Vec::new(),
            }
        });
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let (open, value) = match self.stack.pop() {
            Some(Frame::Seq { open, items }) => (open, Value::Seq(items)),
            Some(Frame::Map(m)) => (m.open, Value::Map(m.entries)),
            None => return Ok(()),
        };
        let node = Node {
            value,
            mark: open.mark,
            tag: open.tag.compose(),
        };
        let built = Built {
            node,
            cost: open.cost,
            height: open.height,
        };
        if open.anchor != 0 {
            let copy = Built {
                node: built.node.clone(),
                ..built
            };
            self.anchors.insert(open.anchor, copy);
        }
        self.attach(built)
    }

    fn set_key(&mut self, key: PendingKey, cost: usize) -> Result<()> {
        if let Some(Frame::Map(m)) = self.stack.last_mut() {
            m.open.cost = m.open.cost.saturating_add(cost);
            m.key = Some(key);
        }
        Ok(())
    }

    /// Puts a finished node where the stack says it goes.
    fn attach(&mut self, built: Built) -> Result<()> {
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(built.node);
            return Ok(());
        };
        let open = match frame {
            Frame::Seq { open, .. } => open,
            Frame::Map(m) => &mut m.open,
        };
        open.cost = open.cost.saturating_add(built.cost);
        open.height = open.height.max(built.height + 1);
        match frame {
            Frame::Seq { items, .. } => {
                items.push(built.node);
                Ok(())
            }
            Frame::Map(m) => {
                let Some(key) = m.key.take() else {
                    // A value always follows a key in the event stream.
                    return Ok(());
                };
                let merge = key.merge;
                if m.explicit.contains_key(&key.text) {
                    let path = m.open.path.key(key.text.clone());
                    check_duplicate(m, &key, &path)?;
                }
                m.explicit.insert(key.text.clone(), key.mark.line);
                if merge {
                    let path = m.open.path.key(key.text.clone());
                    merge_into(m, built.node, path)
                } else {
                    m.merged.remove(&key.text);
                    m.entries.insert(key.text, built.node);
                    Ok(())
                }
            }
        }
    }
}

fn complex_key(mark: Mark, path: KeyPath) -> Error {
    syntax(
        mark,
        path,
        "a mapping key must be a scalar, not a sequence or mapping",
    )
}
