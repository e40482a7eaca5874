//! The vendor's pages read straight into [`RawRecord`]s.
//!
//! A page is `{"result": LIST, "next": CURSOR}`, or `{"result": {"<name>": LIST}, ...}` for the
//! employee and sale lists (`source-api.md`). Each record keeps only the members of its kind
//! ([`BRANCH`], [`EMPLOYEE`], [`SALE`]), as JSON values, unchecked: `records.rs` checks them.
//! Reading goes through serde visitors rather than a `serde_json::Value` tree of the page, so a
//! member's name is matched in place and never becomes a string of its own, and unknown members
//! are skipped unread: in a profile of W1, building and dropping that tree took about a tenth of
//! the sale collector's time.
//!
//! Anything JSON allows is read the way a JSON object would be: the last of a repeated member
//! wins, and a list element that is not an object is a record with no members, which the checks
//! reject for its missing `id`.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The members of a kind of record, in the order `source-api.md` lists them.
pub type Members = &'static [&'static str];

/// BRANCH: `id`, `branch_name`, `city`, `state`, `address`, `phone`.
pub const BRANCH: Members = &["id", "branch_name", "city", "state", "address", "phone"];
/// EMPLOYEE: `id`, `branch_id`, names, `occupation`, `email`, `hired_on`.
pub const EMPLOYEE: Members = &[
    "id",
    "branch_id",
    "first_name",
    "last_name",
    "occupation",
    "email",
    "hired_on",
];
/// SALE: `id`, `salesperson_id`, `branch_id`, `customer`, `product`, `quantity`, `unit_price`,
/// `total`, `transaction_timestamp`.
pub const SALE: Members = &[
    "id",
    "salesperson_id",
    "branch_id",
    "customer",
    "product",
    "quantity",
    "unit_price",
    "total",
    "transaction_timestamp",
];

/// A vendor record as served: the value of each member of its kind that it has.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    members: Members,
    values: Vec<Option<Value>>,
}

impl RawRecord {
    fn empty(members: Members) -> RawRecord {
        RawRecord {
            members,
            values: vec![None; members.len()],
        }
    }

    /// One JSON record of kind `members` (as a page holds it).
    pub fn from_json(members: Members, json: &str) -> serde_json::Result<RawRecord> {
        RecordSeed(members).deserialize(&mut serde_json::Deserializer::from_str(json))
    }

    /// The value of member `name`; `None` when the record lacks it or its kind has no such
    /// member.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values[self.position(name)?].as_ref()
    }

    /// Takes the value of member `name` out of the record.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        let at = self.position(name)?;
        self.values[at].take()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|member| *member == name)
    }
}

/// The shapes of the three lists.
#[derive(Debug, Clone, Copy)]
pub enum ListShape {
    /// `{"result": [...], "next": ...}`
    Plain,
    /// `{"result": {"<name>": [...]}, "next": ...}`
    Nested(&'static str),
}

/// The records of a page and its `next` cursor (a string, or an integer some vendors send).
pub fn read_page(
    body: &[u8],
    shape: ListShape,
    members: Members,
) -> Result<(Vec<RawRecord>, Option<String>), String> {
    let page = PageSeed { shape, members }
        .deserialize(&mut serde_json::Deserializer::from_slice(body))
        .map_err(|error| format!("not a page of the expected shape: {error}"))?;
    let next = match page.next {
        Value::Null => None,
        Value::String(cursor) => Some(cursor),
        Value::Number(cursor) => Some(cursor.to_string()),
        other => return Err(format!("`next` is neither a cursor nor null: {other}")),
    };
    match (page.records, shape) {
        (Some(records), _) => Ok((records, next)),
        (None, ListShape::Plain) => Err("`result` is missing".to_owned()),
        (None, ListShape::Nested(name)) => Err(format!("`result.{name}` is missing")),
    }
}

struct Page {
    records: Option<Vec<RawRecord>>,
    next: Value,
}

/// The index of a member's name in a list of names, matched without copying it.
struct NameSeed<'a>(&'a [&'a str]);

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|known| *known == name))
    }
}

struct PageSeed {
    shape: ListShape,
    members: Members,
}

impl<'de> DeserializeSeed<'de> for PageSeed {
    type Value = Page;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Page, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed {
    type Value = Page;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page object with `result` and `next`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Page, A::Error> {
        let mut page = Page {
            records: None,
            next: Value::Null,
        };
        while let Some(name) = map.next_key_seed(NameSeed(&["result", "next"]))? {
            match (name, self.shape) {
                (Some(0), ListShape::Plain) => {
                    page.records = Some(map.next_value_seed(ListSeed(self.members))?);
                }
                (Some(0), ListShape::Nested(list)) => {
                    page.records = map.next_value_seed(NestedSeed {
                        list,
                        members: self.members,
                    })?;
                }
                (Some(_), _) => page.next = map.next_value()?,
                (None, _) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
}

/// `{"<list>": [...], ...}`: the records of member `list`, if it is there.
struct NestedSeed {
    list: &'static str,
    members: Members,
}

impl<'de> DeserializeSeed<'de> for NestedSeed {
    type Value = Option<Vec<RawRecord>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for NestedSeed {
    type Value = Option<Vec<RawRecord>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with the list `{}`", self.list)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut records = None;
        while let Some(name) = map.next_key_seed(NameSeed(&[self.list]))? {
            match name {
                Some(_) => records = Some(map.next_value_seed(ListSeed(self.members))?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(records)
    }
}

struct ListSeed(Members);

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Vec<RawRecord>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = Vec<RawRecord>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(record) = seq.next_element_seed(RecordSeed(self.0))? {
            records.push(record);
        }
        Ok(records)
    }
}

/// One list element: an object's known members, or no members for anything else.
struct RecordSeed(Members);

impl<'de> DeserializeSeed<'de> for RecordSeed {
    type Value = RawRecord;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawRecord, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed {
    type Value = RawRecord;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRecord, A::Error> {
        let mut record = RawRecord::empty(self.0);
        while let Some(name) = map.next_key_seed(NameSeed(self.0))? {
            match name {
                Some(at) => record.values[at] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(record)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRecord, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawRecord::empty(self.0))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawRecord, E> {
        Ok(RawRecord::empty(self.0))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawRecord, E> {
        Ok(RawRecord::empty(self.0))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawRecord, E> {
        Ok(RawRecord::empty(self.0))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawRecord, E> {
        Ok(RawRecord::empty(self.0))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawRecord, E> {
        Ok(RawRecord::empty(self.0))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawRecord, E> {
        Ok(RawRecord::empty(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_each_shape_are_read() {
        let (records, next) = read_page(
            br#"{"result":[{"id":1,"city":"Utica","extra":[1,{"a":2}]},7,null,"x",[1]],"next":"2"}"#,
            ListShape::Plain,
            BRANCH,
        )
        .unwrap();
        assert_eq!(records.len(), 5);
        assert_eq!(records[0].get("id"), Some(&Value::from(1)));
        assert_eq!(records[0].get("city"), Some(&Value::from("Utica")));
        assert_eq!(records[0].get("extra"), None);
        assert!(records[1..].iter().all(|r| *r == RawRecord::empty(BRANCH)));
        assert_eq!(next.as_deref(), Some("2"));

        let (records, next) = read_page(
            br#"{"next":null,"other":{"sales":1},"result":{"x":[],"sales":[{"id":1,"id":2}]}}"#,
            ListShape::Nested("sales"),
            SALE,
        )
        .unwrap();
        assert_eq!((records.len(), next), (1, None));
        assert_eq!(records[0].get("id"), Some(&Value::from(2)), "the last wins");

        let (_, next) = read_page(br#"{"result":[],"next":17}"#, ListShape::Plain, BRANCH).unwrap();
        assert_eq!(next.as_deref(), Some("17"));
    }

    #[test]
    fn pages_of_another_shape_are_errors() {
        let sales = ListShape::Nested("sales");
        let cases: [(&[u8], ListShape); 6] = [
            (br#"{"result":{"employees":[]}}"#, sales),
            (br#"{"next":null}"#, ListShape::Plain),
            (br#"{"result":{"sales":[]},"next":true}"#, sales),
            (br#"{"result":{"sales":{}}}"#, sales),
            (br#"[]"#, ListShape::Plain),
            (br#"{"result":[{"id":1}"#, ListShape::Plain),
        ];
        let errors: Vec<String> = cases
            .into_iter()
            .map(|(body, shape)| read_page(body, shape, SALE).unwrap_err())
            .collect();
        expect_test::expect![[r#"
            [
                "`result.sales` is missing",
                "`result` is missing",
                "`next` is neither a cursor nor null: true",
                "not a page of the expected shape: invalid type: map, expected a list of records at line 1 column 19",
                "not a page of the expected shape: invalid type: sequence, expected a page object with `result` and `next` at line 1 column 0",
                "not a page of the expected shape: EOF while parsing a list at line 1 column 19",
            ]
        "#]]
        .assert_debug_eq(&errors);
    }

    #[test]
    fn members_can_be_taken() {
        let mut record = RawRecord::from_json(SALE, r#"{"customer":"Dunmore High"}"#).unwrap();
        assert_eq!(record.take("customer"), Some(Value::from("Dunmore High")));
        assert_eq!(record.take("customer"), None);
        assert_eq!(record.take("not a member"), None);
        assert_eq!(record, RawRecord::empty(SALE));
    }
}
