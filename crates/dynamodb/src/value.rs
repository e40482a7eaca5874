//! Attribute values, items, and DynamoDB's rules on them: validation and item size.
//!
//! Values arrive from callers unchecked; [`validate_item`] and [`validate_value`] apply DynamoDB's
//! input rules (no empty sets, no duplicate set members, nesting depth) and put sets in a canonical
//! order, so that two equal sets compare equal whatever order they were sent in. Numbers are
//! already checked by [`Number::parse`]. [`item_size`] follows the AWS "Item sizes and formats" page.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::Error;
use crate::number::Number;

/// An item: attribute names to values. A `BTreeMap` gives a deterministic order for encoding and
/// for equality.
pub type Item = BTreeMap<String, AttributeValue>;

/// The largest item DynamoDB stores, 400 KB.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;
/// The deepest nesting of lists and maps DynamoDB accepts.
const MAX_NESTING: usize = 32;

/// One DynamoDB attribute value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
}

/// The type tags of DynamoDB, as used in messages and by `attribute_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    /// The wire tag, `S`, `N` or `B`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    /// Parses a wire tag.
    pub fn parse(s: &str) -> Option<ScalarType> {
        match s {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }
}

impl AttributeValue {
    /// A string value.
    pub fn s(s: impl Into<String>) -> AttributeValue {
        AttributeValue::S(s.into())
    }

    /// A number value from text, checked by DynamoDB's rules.
    pub fn n(text: &str) -> Result<AttributeValue, Error> {
        Number::parse(text)
            .map(AttributeValue::N)
            .map_err(|e| Error::Validation(e.to_string()))
    }

    /// The wire type tag: `S`, `N`, `B`, `BOOL`, `NULL`, `M`, `L`, `SS`, `NS` or `BS`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }

    /// The scalar type of an S, N or B value.
    pub fn scalar_type(&self) -> Option<ScalarType> {
        match self {
            AttributeValue::S(_) => Some(ScalarType::S),
            AttributeValue::N(_) => Some(ScalarType::N),
            AttributeValue::B(_) => Some(ScalarType::B),
            _ => None,
        }
    }

    /// The size of the value alone by AWS's rules (without any attribute name).
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => number_size(n),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            // A list or map costs 3 bytes, and each element 1 byte more than its own size.
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
            AttributeValue::Ns(s) => s.iter().map(number_size).sum(),
            AttributeValue::Bs(s) => s.iter().map(Vec::len).sum(),
        }
    }
}

/// "Numbers are variable length, with up to 38 significant digits ... approximately 1 byte per two
/// significant digits, plus 1 byte."
pub(crate) fn number_size(n: &Number) -> usize {
    n.significant_digits().div_ceil(2) + 1
}

/// The size of an item: each attribute name's UTF-8 bytes plus its value's size.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// Checks an item from a caller: every value valid, and the item within 400 KB. Sets are put in
/// canonical order.
pub fn validate_item(item: &mut Item) -> Result<(), Error> {
    validate_item_sized(item).map(|_| ())
}

/// [`validate_item`], returning the item's size ([`item_size`]) so that a caller that needs it
/// does not walk the item again.
pub fn validate_item_sized(item: &mut Item) -> Result<usize, Error> {
    for value in item.values_mut() {
        validate_value(value)?;
    }
    let size = item_size(item);
    check_item_size(size)?;
    Ok(size)
}

/// The ValidationException of an item over 400 KB.
pub(crate) fn check_item_size(size: usize) -> Result<(), Error> {
    if size > MAX_ITEM_SIZE {
        return Err(Error::Validation(
            "Item size has exceeded the maximum allowed size".into(),
        ));
    }
    Ok(())
}

/// Checks one value from a caller and puts its sets in canonical order.
pub fn validate_value(value: &mut AttributeValue) -> Result<(), Error> {
    validate_at_depth(value, 0)
}

fn validate_at_depth(value: &mut AttributeValue, depth: usize) -> Result<(), Error> {
    match value {
        AttributeValue::M(m) => {
            if depth >= MAX_NESTING {
                return Err(nesting_error());
            }
            for v in m.values_mut() {
                validate_at_depth(v, depth + 1)?;
            }
        }
        AttributeValue::L(l) => {
            if depth >= MAX_NESTING {
                return Err(nesting_error());
            }
            for v in l.iter_mut() {
                validate_at_depth(v, depth + 1)?;
            }
        }
        AttributeValue::Ss(s) => canonical_set(s, "string", |a| a.to_string())?,
        AttributeValue::Ns(s) => canonical_set(s, "number", |a| a.to_string())?,
        AttributeValue::Bs(s) => canonical_set(s, "binary", |a| format!("{a:?}"))?,
        _ => {}
    }
    Ok(())
}

fn nesting_error() -> Error {
    Error::Validation("Nesting Levels have exceeded supported limits".into())
}

/// Sorts a set and rejects an empty one or one with duplicates, with DynamoDB's messages.
fn canonical_set<T: Ord + Clone>(
    set: &mut [T],
    kind: &str,
    show: impl Fn(&T) -> String,
) -> Result<(), Error> {
    if set.is_empty() {
        return Err(Error::Validation(format!(
            "One or more parameter values were invalid: An {kind} set  may not be empty"
        )));
    }
    let original: Vec<String> = set.iter().map(&show).collect();
    set.sort();
    if set.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Validation(format!(
            "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
            original.join(", ")
        )));
    }
    Ok(())
}

/// Debug output in the wire's shape, `{"S":"x"}`, which reads well in tests.
impl fmt::Debug for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::S(s) => write!(f, "{{S:{s:?}}}"),
            AttributeValue::N(n) => write!(f, "{{N:{n}}}"),
            AttributeValue::B(b) => write!(f, "{{B:{b:?}}}"),
            AttributeValue::Bool(b) => write!(f, "{{BOOL:{b}}}"),
            AttributeValue::Null => write!(f, "{{NULL:true}}"),
            AttributeValue::M(m) => {
                f.write_str("{M:{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v:?}")?;
                }
                f.write_str("}}")
            }
            AttributeValue::L(l) => write!(f, "{{L:{l:?}}}"),
            AttributeValue::Ss(s) => write!(f, "{{SS:{s:?}}}"),
            AttributeValue::Ns(s) => write!(f, "{{NS:{s:?}}}"),
            AttributeValue::Bs(s) => write!(f, "{{BS:{s:?}}}"),
        }
    }
}

/// Builds an item from pairs; handy in tests and examples.
pub fn item<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> AttributeValue {
        AttributeValue::n(s).unwrap()
    }

    #[test]
    fn sizes_follow_aws_rules() {
        assert_eq!(
            item_size(&item([("ab", AttributeValue::s("héllo"))])),
            2 + 6
        );
        // 5 significant digits: 3 bytes + 1.
        assert_eq!(item_size(&item([("n", n("123.45"))])), 1 + 4);
        assert_eq!(item_size(&item([("n", n("1000"))])), 1 + 2);
        assert_eq!(item_size(&item([("b", AttributeValue::Bool(true))])), 2);
        let list = AttributeValue::L(vec![AttributeValue::s("ab"), AttributeValue::Null]);
        assert_eq!(list.size(), 3 + (2 + 1) + (1 + 1));
        let map = AttributeValue::M(item([("k", AttributeValue::s("v"))]));
        assert_eq!(map.size(), 3 + 1 + 1 + 1);
        assert_eq!(AttributeValue::Ss(vec!["a".into(), "bc".into()]).size(), 3);
    }

    #[test]
    fn sets_are_checked_and_sorted() {
        let mut ok = AttributeValue::Ns(vec![
            Number::parse("3").unwrap(),
            Number::parse("-1").unwrap(),
        ]);
        validate_value(&mut ok).unwrap();
        assert_eq!(format!("{ok:?}"), "{NS:[-1, 3]}");
        let mut empty = AttributeValue::Ss(vec![]);
        assert_eq!(
            validate_value(&mut empty).unwrap_err().to_string(),
            "One or more parameter values were invalid: An string set  may not be empty"
        );
        let mut dup = AttributeValue::Ns(vec![
            Number::parse("1.0").unwrap(),
            Number::parse("1").unwrap(),
        ]);
        assert_eq!(
            validate_value(&mut dup).unwrap_err().to_string(),
            "One or more parameter values were invalid: Input collection [1, 1] contains duplicates."
        );
    }

    #[test]
    fn item_limit_is_400_kb() {
        let name_len = 1;
        let mut at_limit = item([("a", AttributeValue::s("x".repeat(MAX_ITEM_SIZE - name_len)))]);
        validate_item(&mut at_limit).unwrap();
        let mut over = item([("a", AttributeValue::s("x".repeat(MAX_ITEM_SIZE)))]);
        assert_eq!(
            validate_item(&mut over).unwrap_err().to_string(),
            "Item size has exceeded the maximum allowed size"
        );
    }

    #[test]
    fn nesting_is_limited() {
        let mut v = AttributeValue::Null;
        for _ in 0..33 {
            v = AttributeValue::L(vec![v]);
        }
        assert!(validate_value(&mut v).is_err());
        let mut ok = AttributeValue::Null;
        for _ in 0..32 {
            ok = AttributeValue::L(vec![ok]);
        }
        validate_value(&mut ok).unwrap();
    }
}
