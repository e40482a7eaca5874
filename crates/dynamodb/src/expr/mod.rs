//! DynamoDB expressions: one parser for every kind, and their evaluation on items.
//!
//! Layout: `parse.rs` is the lexer and a hand-written recursive-descent parser that turns the text
//! of a ConditionExpression, FilterExpression, KeyConditionExpression, ProjectionExpression or
//! UpdateExpression into the syntax tree below, substituting `#name` and `:value` placeholders as it
//! goes (so the tree holds real names and values). `eval.rs` evaluates conditions, projects items
//! and applies updates. `reserved.rs` is DynamoDB's reserved-word list.
//!
//! One [`Placeholders`] is shared by all expressions of a request, because DynamoDB's "unused
//! placeholder" rule is about the request as a whole: a value used only by the ConditionExpression
//! of an UpdateItem is used.

mod eval;
mod parse;
mod reserved;

use std::collections::{BTreeSet, HashMap};
use std::fmt;

pub use eval::{apply_update, evaluate, project, resolve};
pub use parse::{parse_condition, parse_projection, parse_update};
pub use reserved::is_reserved;

use crate::error::Error;
use crate::value::{validate_value, AttributeValue};

/// The kinds of expression, named as in DynamoDB's messages ("Invalid UpdateExpression: ...").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprKind {
    Condition,
    Filter,
    KeyCondition,
    Projection,
    Update,
}

impl ExprKind {
    pub fn name(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Projection => "ProjectionExpression",
            ExprKind::Update => "UpdateExpression",
        }
    }

    /// A ValidationException about an expression of this kind.
    pub(crate) fn error(self, message: impl fmt::Display) -> Error {
        Error::Validation(format!("Invalid {}: {message}", self.name()))
    }
}

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElem {
    Attr(String),
    Index(u32),
}

/// A document path such as `a.b[3].c`, with placeholders already replaced. Never empty, and its
/// first step is always an attribute name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<PathElem>);

impl Path {
    /// A path of one top-level attribute.
    pub fn attr(name: &str) -> Path {
        Path(vec![PathElem::Attr(name.to_string())])
    }

    /// The top-level attribute the path starts at.
    pub fn top(&self) -> &str {
        match self.0.first() {
            Some(PathElem::Attr(name)) => name,
            _ => "",
        }
    }
}

/// DynamoDB prints paths in messages as `[a, b, [3]]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match e {
                PathElem::Attr(a) => f.write_str(a)?,
                PathElem::Index(n) => write!(f, "[{n}]")?,
            }
        }
        f.write_str("]")
    }
}

/// A value in a condition: a path, a placeholder's value, or `size(path)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(AttributeValue),
    Size(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A condition (ConditionExpression, FilterExpression, KeyConditionExpression).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(CmpOp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    AttributeExists(Path),
    AttributeNotExists(Path),
    AttributeType(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

/// The right-hand side of a SET action.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Operand(UpdateOperand),
    Plus(UpdateOperand, UpdateOperand),
    Minus(UpdateOperand, UpdateOperand),
}

/// An operand of a SET action.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOperand {
    Path(Path),
    Value(AttributeValue),
    IfNotExists(Path, Box<UpdateOperand>),
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

/// A parsed UpdateExpression: its four sections, each possibly empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    pub set: Vec<(Path, SetValue)>,
    pub remove: Vec<Path>,
    pub add: Vec<(Path, AttributeValue)>,
    pub delete: Vec<(Path, AttributeValue)>,
}

impl Update {
    /// Every path the update writes, in section order.
    pub fn target_paths(&self) -> Vec<&Path> {
        let set = self.set.iter().map(|(p, _)| p);
        let add = self.add.iter().map(|(p, _)| p);
        let delete = self.delete.iter().map(|(p, _)| p);
        set.chain(self.remove.iter())
            .chain(add)
            .chain(delete)
            .collect()
    }
}

/// The ExpressionAttributeNames and ExpressionAttributeValues of one request, and which of them
/// the request's expressions used.
pub struct Placeholders<'a> {
    names: &'a HashMap<String, String>,
    values: &'a HashMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl<'a> Placeholders<'a> {
    /// Checks the maps themselves (keys spelled `#x` and `:x`, values valid) and starts tracking use.
    pub fn new(
        names: &'a HashMap<String, String>,
        values: &'a HashMap<String, AttributeValue>,
    ) -> Result<Placeholders<'a>, Error> {
        for key in names.keys() {
            if !is_placeholder(key, '#') {
                return Err(Error::validation(format!(
                    "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
                )));
            }
        }
        for (key, value) in values {
            if !is_placeholder(key, ':') {
                return Err(Error::validation(format!(
                    "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
                )));
            }
            // Values are checked by the same rules as item values; a clone keeps the caller's map
            // untouched, and the checked copy is what `value` hands out.
            let mut checked = value.clone();
            validate_value(&mut checked).map_err(|e| {
                Error::validation(format!(
                    "ExpressionAttributeValues contains invalid value: {e} for key {key}"
                ))
            })?;
        }
        Ok(Placeholders {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        })
    }

    fn name(&mut self, kind: ExprKind, key: &str) -> Result<String, Error> {
        match self.names.get(key) {
            Some(name) => {
                self.used_names.insert(key.to_string());
                Ok(name.clone())
            }
            None => Err(kind.error(format!(
                "An expression attribute name used in the document path is not defined; attribute name: {key}"
            ))),
        }
    }

    fn value(&mut self, kind: ExprKind, key: &str) -> Result<AttributeValue, Error> {
        match self.values.get(key) {
            Some(value) => {
                self.used_values.insert(key.to_string());
                let mut value = value.clone();
                // Already checked in `new`; this only puts sets in canonical order.
                validate_value(&mut value)?;
                Ok(value)
            }
            None => Err(kind.error(format!(
                "An expression attribute value used in expression is not defined; attribute value: {key}"
            ))),
        }
    }

    /// After all of a request's expressions are parsed: every placeholder must have been used.
    pub fn finish(self) -> Result<(), Error> {
        let unused_names: Vec<&String> = self
            .names
            .keys()
            .filter(|k| !self.used_names.contains(*k))
            .collect();
        if !unused_names.is_empty() {
            return Err(Error::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                sorted_list(unused_names)
            )));
        }
        let unused_values: Vec<&String> = self
            .values
            .keys()
            .filter(|k| !self.used_values.contains(*k))
            .collect();
        if !unused_values.is_empty() {
            return Err(Error::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                sorted_list(unused_values)
            )));
        }
        Ok(())
    }
}

fn sorted_list(mut keys: Vec<&String>) -> String {
    keys.sort();
    keys.iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_placeholder(key: &str, sigil: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(sigil)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks the maps of a request that has no expression at all: DynamoDB rejects placeholders then.
pub fn reject_unexpected_placeholders(
    names: &HashMap<String, String>,
    values: &HashMap<String, AttributeValue>,
) -> Result<(), Error> {
    if !names.is_empty() {
        return Err(Error::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    if !values.is_empty() {
        return Err(Error::validation(
            "ExpressionAttributeValues can only be specified when using expressions",
        ));
    }
    Ok(())
}

/// Rejects two paths where one is the other or a prefix of it, as DynamoDB does for updates and
/// projections.
pub(crate) fn check_overlaps(kind: ExprKind, paths: &[&Path]) -> Result<(), Error> {
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            let n = a.0.len().min(b.0.len());
            if a.0[..n] == b.0[..n] {
                let what = if a.0.len() == b.0.len() {
                    "Two document paths conflict with each other"
                } else {
                    "Two document paths overlap with each other"
                };
                return Err(kind.error(format!(
                    "{what}; must remove or rewrite one of these paths; path one: {a}, path two: {b}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
