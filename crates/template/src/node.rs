//! The source tree of a template: every YAML or JSON value as a [`Node`] with the [`Span`] it came
//! from. Short-form tags (`!Ref`, `!Sub`, ...) are already rewritten to their long forms here, so
//! the rest of the engine sees one shape (`{"Ref": ...}`, `{"Fn::Sub": ...}`) whatever the author
//! wrote.

use std::fmt;
use std::sync::Arc;

/// A place in a template file. `file` is relative to the root template's folder with `/`
/// separators; `line` and `column` are 1-based (columns count characters, not bytes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub fn new(file: Arc<str>, line: u32, column: u32) -> Span {
        Span { file, line, column }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One value of a template with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

/// A mapping key with its own position, so that diagnostics about a key point at the key.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in source order. Duplicate keys are reported by the parser and only the first kept.
    Map(Vec<(Key, Node)>),
}

impl Node {
    pub fn new(kind: NodeKind, span: Span) -> Node {
        Node { kind, span }
    }

    pub fn str(s: impl Into<String>, span: Span) -> Node {
        Node::new(NodeKind::Str(s.into()), span)
    }

    /// A one-key mapping such as `{"Ref": target}`, as the SAM transform builds them.
    pub fn call(name: &str, arg: Node, span: Span) -> Node {
        let key = Key {
            name: name.to_string(),
            span: span.clone(),
        };
        Node::new(NodeKind::Map(vec![(key, arg)]), span)
    }

    pub fn map<K: Into<String>>(entries: Vec<(K, Node)>, span: Span) -> Node {
        let entries = entries
            .into_iter()
            .map(|(k, v)| {
                (
                    Key {
                        name: k.into(),
                        span: span.clone(),
                    },
                    v,
                )
            })
            .collect();
        Node::new(NodeKind::Map(entries), span)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar, whatever its YAML type (CloudFormation reads most scalars as strings).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(f) => Some(f.to_string()),
            NodeKind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The node at a dotted property path below this one (`Environment.Variables.DB`, list
    /// indices as numbers), used to point diagnostics about resolved values at their source.
    pub fn lookup(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            node = match &node.kind {
                NodeKind::Map(_) => node.get(part)?,
                NodeKind::Seq(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// When this node is an intrinsic call (a one-key mapping whose key is `Ref`, `Condition` or
    /// starts with `Fn::`), its name and argument.
    pub fn intrinsic(&self) -> Option<(&str, &Node)> {
        match &self.kind {
            NodeKind::Map(m) if m.len() == 1 => {
                let (k, v) = &m[0];
                if k.name == "Ref" || k.name == "Condition" || k.name.starts_with("Fn::") {
                    Some((&k.name, v))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) | NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}
