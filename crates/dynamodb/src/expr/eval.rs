//! Evaluation of parsed expressions on items: conditions, projections and updates.
//!
//! Conditions never fail at evaluation: DynamoDB checks operand types of constants while parsing,
//! and a comparison on a missing attribute or on values of different types is simply false.
//! Updates can fail (a path into something that is not a map or list, arithmetic on a string), with
//! DynamoDB's messages.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{CmpOp, Condition, Operand, Path, PathElem, SetValue, Update, UpdateOperand};
use crate::error::Error;
use crate::value::{AttributeValue, Item};

/// The value at `path` in `item`, if there is one.
pub fn resolve<'i>(item: &'i Item, path: &Path) -> Option<&'i AttributeValue> {
    let mut elems = path.0.iter();
    let mut current = match elems.next()? {
        PathElem::Attr(name) => item.get(name)?,
        PathElem::Index(_) => return None,
    };
    for elem in elems {
        current = match (elem, current) {
            (PathElem::Attr(name), AttributeValue::M(m)) => m.get(name)?,
            (PathElem::Index(i), AttributeValue::L(l)) => l.get(*i as usize)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The order of two values, defined only for two S, two N or two B values (DynamoDB's ordered
/// types); S and B compare by bytes, as DynamoDB does.
pub fn compare(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn operand_value(item: &Item, operand: &Operand) -> Option<AttributeValue> {
    match operand {
        Operand::Path(p) => resolve(item, p).cloned(),
        Operand::Value(v) => Some(v.clone()),
        Operand::Size(p) => {
            let size = match resolve(item, p)? {
                // AWS documents "the length of the string" without the unit; this engine counts
                // UTF-8 bytes, the unit of every other string size in DynamoDB.
                AttributeValue::S(s) => s.len(),
                AttributeValue::B(b) => b.len(),
                AttributeValue::L(l) => l.len(),
                AttributeValue::M(m) => m.len(),
                AttributeValue::Ss(s) => s.len(),
                AttributeValue::Ns(s) => s.len(),
                AttributeValue::Bs(s) => s.len(),
                _ => return None,
            };
            Some(AttributeValue::N((size as i64).into()))
        }
    }
}

/// Evaluates a condition on an item (an absent item is evaluated as an empty one).
pub fn evaluate(condition: &Condition, item: &Item) -> bool {
    match condition {
        Condition::Compare(op, a, b) => {
            let (a, b) = (operand_value(item, a), operand_value(item, b));
            match (op, a, b) {
                (CmpOp::Eq, Some(a), Some(b)) => a == b,
                // A missing operand is never equal to anything, so `<>` holds.
                (CmpOp::Ne, Some(a), Some(b)) => a != b,
                (CmpOp::Ne, _, _) => true,
                (op, Some(a), Some(b)) => match compare(&a, &b) {
                    Some(order) => match op {
                        CmpOp::Lt => order == Ordering::Less,
                        CmpOp::Le => order != Ordering::Greater,
                        CmpOp::Gt => order == Ordering::Greater,
                        CmpOp::Ge => order != Ordering::Less,
                        CmpOp::Eq | CmpOp::Ne => false,
                    },
                    None => false,
                },
                _ => false,
            }
        }
        Condition::Between(x, low, high) => {
            match (
                operand_value(item, x),
                operand_value(item, low),
                operand_value(item, high),
            ) {
                (Some(x), Some(low), Some(high)) => {
                    compare(&x, &low).is_some_and(|o| o != Ordering::Less)
                        && compare(&x, &high).is_some_and(|o| o != Ordering::Greater)
                }
                _ => false,
            }
        }
        Condition::In(x, list) => match operand_value(item, x) {
            Some(x) => list
                .iter()
                .any(|o| operand_value(item, o).as_ref() == Some(&x)),
            None => false,
        },
        Condition::AttributeExists(p) => resolve(item, p).is_some(),
        Condition::AttributeNotExists(p) => resolve(item, p).is_none(),
        Condition::AttributeType(p, t) => match (resolve(item, p), operand_value(item, t)) {
            (Some(v), Some(AttributeValue::S(t))) => v.type_name() == t,
            _ => false,
        },
        Condition::BeginsWith(a, prefix) => {
            match (operand_value(item, a), operand_value(item, prefix)) {
                (Some(AttributeValue::S(s)), Some(AttributeValue::S(p))) => s.starts_with(&p),
                (Some(AttributeValue::B(s)), Some(AttributeValue::B(p))) => s.starts_with(&p),
                _ => false,
            }
        }
        Condition::Contains(a, needle) => {
            match (operand_value(item, a), operand_value(item, needle)) {
                (Some(AttributeValue::S(s)), Some(AttributeValue::S(n))) => s.contains(&n),
                (Some(AttributeValue::B(s)), Some(AttributeValue::B(n))) => {
                    n.is_empty() || s.windows(n.len()).any(|w| w == n.as_slice())
                }
                (Some(AttributeValue::Ss(s)), Some(AttributeValue::S(n))) => s.contains(&n),
                (Some(AttributeValue::Ns(s)), Some(AttributeValue::N(n))) => s.contains(&n),
                (Some(AttributeValue::Bs(s)), Some(AttributeValue::B(n))) => s.contains(&n),
                (Some(AttributeValue::L(l)), Some(n)) => l.contains(&n),
                _ => false,
            }
        }
        Condition::And(a, b) => evaluate(a, item) && evaluate(b, item),
        Condition::Or(a, b) => evaluate(a, item) || evaluate(b, item),
        Condition::Not(a) => !evaluate(a, item),
    }
}

/// The selection tree of a projection: whole values, or parts of maps and lists.
#[derive(Default)]
struct Selection {
    whole: bool,
    attrs: BTreeMap<String, Selection>,
    indexes: BTreeMap<u32, Selection>,
}

impl Selection {
    fn add(&mut self, elems: &[PathElem]) {
        match elems.split_first() {
            None => self.whole = true,
            Some((PathElem::Attr(a), rest)) => self.attrs.entry(a.clone()).or_default().add(rest),
            Some((PathElem::Index(i), rest)) => self.indexes.entry(*i).or_default().add(rest),
        }
    }

    fn apply(&self, value: &AttributeValue) -> Option<AttributeValue> {
        if self.whole {
            return Some(value.clone());
        }
        match value {
            AttributeValue::M(m) if !self.attrs.is_empty() => {
                let out: BTreeMap<String, AttributeValue> = self
                    .attrs
                    .iter()
                    .filter_map(|(k, sel)| Some((k.clone(), sel.apply(m.get(k)?)?)))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::M(out))
            }
            // Selected list elements come back as a shorter list, in index order.
            AttributeValue::L(l) if !self.indexes.is_empty() => {
                let out: Vec<AttributeValue> = self
                    .indexes
                    .iter()
                    .filter_map(|(i, sel)| sel.apply(l.get(*i as usize)?))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::L(out))
            }
            _ => None,
        }
    }
}

/// The parts of `item` named by `paths` (a ProjectionExpression).
pub fn project(item: &Item, paths: &[&Path]) -> Item {
    let mut selection = Selection::default();
    for path in paths {
        selection.add(&path.0);
    }
    selection
        .attrs
        .iter()
        .filter_map(|(k, sel)| Some((k.clone(), sel.apply(item.get(k)?)?)))
        .collect()
}

fn update_error(message: &str) -> Error {
    Error::validation(message)
}

fn invalid_path() -> Error {
    update_error("The document path provided in the update expression is invalid for update")
}

fn wrong_type() -> Error {
    update_error("An operand in the update expression has an incorrect data type")
}

fn update_operand(item: &Item, operand: &UpdateOperand) -> Result<AttributeValue, Error> {
    match operand {
        UpdateOperand::Value(v) => Ok(v.clone()),
        UpdateOperand::Path(p) => resolve(item, p).cloned().ok_or_else(|| {
            update_error(
                "The provided expression refers to an attribute that does not exist in the item",
            )
        }),
        UpdateOperand::IfNotExists(p, fallback) => match resolve(item, p) {
            Some(v) => Ok(v.clone()),
            None => update_operand(item, fallback),
        },
        UpdateOperand::ListAppend(a, b) => {
            match (update_operand(item, a)?, update_operand(item, b)?) {
                (AttributeValue::L(mut a), AttributeValue::L(b)) => {
                    a.extend(b);
                    Ok(AttributeValue::L(a))
                }
                _ => Err(wrong_type()),
            }
        }
    }
}

fn set_value(item: &Item, value: &SetValue) -> Result<AttributeValue, Error> {
    let arithmetic = |a: &UpdateOperand, b: &UpdateOperand, plus: bool| match (
        update_operand(item, a)?,
        update_operand(item, b)?,
    ) {
        (AttributeValue::N(x), AttributeValue::N(y)) => {
            let r = if plus { x.add(&y) } else { x.sub(&y) };
            r.map(AttributeValue::N)
                .map_err(|e| Error::Validation(e.to_string()))
        }
        _ => Err(wrong_type()),
    };
    match value {
        SetValue::Operand(o) => update_operand(item, o),
        SetValue::Plus(a, b) => arithmetic(a, b, true),
        SetValue::Minus(a, b) => arithmetic(a, b, false),
    }
}

/// The parent container of the last step of `path`, for writing into.
fn parent_mut<'i>(
    item: &'i mut Item,
    path: &Path,
) -> Result<Option<&'i mut AttributeValue>, Error> {
    let elems = &path.0;
    if elems.len() == 1 {
        return Ok(None);
    }
    let mut current = match &elems[0] {
        PathElem::Attr(name) => item.get_mut(name).ok_or_else(invalid_path)?,
        PathElem::Index(_) => return Err(invalid_path()),
    };
    for elem in &elems[1..elems.len() - 1] {
        current = match (elem, current) {
            (PathElem::Attr(name), AttributeValue::M(m)) => {
                m.get_mut(name).ok_or_else(invalid_path)?
            }
            (PathElem::Index(i), AttributeValue::L(l)) => {
                l.get_mut(*i as usize).ok_or_else(invalid_path)?
            }
            _ => return Err(invalid_path()),
        };
    }
    Ok(Some(current))
}

fn assign(item: &mut Item, path: &Path, value: AttributeValue) -> Result<(), Error> {
    let last = path.0.last().ok_or_else(invalid_path)?;
    match (parent_mut(item, path)?, last) {
        (None, PathElem::Attr(name)) => {
            item.insert(name.clone(), value);
        }
        (Some(AttributeValue::M(m)), PathElem::Attr(name)) => {
            m.insert(name.clone(), value);
        }
        // Setting past the end of a list appends, as DynamoDB does.
        (Some(AttributeValue::L(l)), PathElem::Index(i)) => match l.get_mut(*i as usize) {
            Some(slot) => *slot = value,
            None => l.push(value),
        },
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove(item: &mut Item, path: &Path) -> Result<(), Error> {
    let last = path.0.last().ok_or_else(invalid_path)?;
    match (parent_mut(item, path)?, last) {
        (None, PathElem::Attr(name)) => {
            item.remove(name);
        }
        (Some(AttributeValue::M(m)), PathElem::Attr(name)) => {
            m.remove(name);
        }
        (Some(AttributeValue::L(l)), PathElem::Index(i)) => {
            if (*i as usize) < l.len() {
                l.remove(*i as usize);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

/// Adds (`ADD`) a number or set members to what is at a path.
fn add_to(
    current: Option<&AttributeValue>,
    operand: &AttributeValue,
) -> Result<AttributeValue, Error> {
    fn union<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
        let mut out: Vec<T> = a.iter().chain(b.iter()).cloned().collect();
        out.sort();
        out.dedup();
        out
    }
    Ok(match (current, operand) {
        (None, v) => v.clone(),
        (Some(AttributeValue::N(a)), AttributeValue::N(b)) => {
            AttributeValue::N(a.add(b).map_err(|e| Error::Validation(e.to_string()))?)
        }
        (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => AttributeValue::Ss(union(a, b)),
        (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => AttributeValue::Ns(union(a, b)),
        (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => AttributeValue::Bs(union(a, b)),
        _ => return Err(wrong_type()),
    })
}

/// Removes (`DELETE`) set members; `None` when the set ends up empty.
fn delete_from(
    current: Option<&AttributeValue>,
    operand: &AttributeValue,
) -> Result<Option<AttributeValue>, Error> {
    fn minus<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
        a.iter().filter(|x| !b.contains(x)).cloned().collect()
    }
    let out = match (current, operand) {
        (None, _) => return Ok(None),
        (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => AttributeValue::Ss(minus(a, b)),
        (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => AttributeValue::Ns(minus(a, b)),
        (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => AttributeValue::Bs(minus(a, b)),
        _ => return Err(wrong_type()),
    };
    let empty = match &out {
        AttributeValue::Ss(s) => s.is_empty(),
        AttributeValue::Ns(s) => s.is_empty(),
        AttributeValue::Bs(s) => s.is_empty(),
        _ => false,
    };
    Ok((!empty).then_some(out))
}

/// Applies an update to an item and returns the new item. Every operand reads the item as it was
/// before the update, as in DynamoDB.
pub fn apply_update(old: &Item, update: &Update) -> Result<Item, Error> {
    let mut new = old.clone();
    // Compute every value first from the old item, then write.
    let mut sets = Vec::with_capacity(update.set.len() + update.add.len());
    for (path, value) in &update.set {
        sets.push((path, Some(set_value(old, value)?)));
    }
    for (path, operand) in &update.add {
        sets.push((path, Some(add_to(resolve(old, path), operand)?)));
    }
    for (path, operand) in &update.delete {
        match delete_from(resolve(old, path), operand)? {
            Some(v) => sets.push((path, Some(v))),
            None if resolve(old, path).is_some() => sets.push((path, None)),
            None => {}
        }
    }
    for (path, value) in sets {
        match value {
            Some(v) => assign(&mut new, path, v)?,
            None => remove(&mut new, path)?,
        }
    }
    // Removing list elements from the highest index down keeps the lower indexes meaning what they
    // meant in the old item.
    let mut removes: Vec<&Path> = update.remove.iter().collect();
    removes.sort_by(|a, b| b.0.cmp(&a.0));
    for path in removes {
        remove(&mut new, path)?;
    }
    Ok(new)
}
