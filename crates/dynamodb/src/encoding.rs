//! Byte encodings: key columns that sort like DynamoDB sorts, and the stored form of items.
//!
//! Key attributes are stored in their own BLOB columns so that SQLite's index order (memcmp) is
//! DynamoDB's order: S by UTF-8 bytes, B by bytes, N by [`Number::sort_bytes`]. Query walks that index
//! in sort-key order without decoding anything.
//!
//! Items are stored whole in a compact binary form: a tag byte per value and LEB128 lengths. The
//! encoding is canonical (attributes in name order, sets sorted, numbers normalised), so two equal
//! items have equal bytes. Decoding never trusts its input: a damaged blob is an error, not a panic.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use crate::error::Error;
use crate::number::Number;
use crate::value::{AttributeValue, Item};

const T_S: u8 = 1;
const T_N: u8 = 2;
const T_B: u8 = 3;
const T_TRUE: u8 = 4;
const T_FALSE: u8 = 5;
const T_NULL: u8 = 6;
const T_M: u8 = 7;
const T_L: u8 = 8;
const T_SS: u8 = 9;
const T_NS: u8 = 10;
const T_BS: u8 = 11;

/// The bytes of a key attribute for its index column.
pub fn key_bytes(value: &AttributeValue) -> Vec<u8> {
    match value {
        AttributeValue::S(s) => s.as_bytes().to_vec(),
        AttributeValue::B(b) => b.clone(),
        AttributeValue::N(n) => n.sort_bytes(),
        // Key attributes are checked to be S, N or B before they get here.
        _ => Vec::new(),
    }
}

/// A 32-bit FNV-1a hash of a partition key's bytes: the Scan order and the Segment a key falls in.
pub fn partition_hash(pk: &[u8]) -> i64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in pk {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i64::from(h)
}

pub(crate) fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// The stored form of an item.
pub fn encode_item(item: &Item) -> Vec<u8> {
    encode_pairs(item.len(), item.iter().map(|(k, v)| (k.as_str(), v)))
}

/// The stored form of an item whose size by AWS's rules is known ([`crate::value::item_size`]),
/// which bounds the buffer closely enough that it is sized once without walking the item twice.
pub fn encode_item_sized(item: &Item, size: usize) -> Vec<u8> {
    // Beyond the AWS size, each attribute costs a tag and two lengths, and a number's sortable form
    // (at most 21 bytes) may exceed its AWS size (at least 1 byte); an underestimate only regrows.
    let mut out = Vec::with_capacity(size + 24 * item.len() + 8);
    put_len(&mut out, item.len());
    for (name, value) in item {
        put_bytes(&mut out, name.as_bytes());
        encode_value(&mut out, value);
    }
    out
}

/// The stored form of an item given as `count` name-value pairs in name order (for example the key
/// attributes of a bigger item, without copying them out).
pub fn encode_pairs<'a>(
    count: usize,
    pairs: impl Iterator<Item = (&'a str, &'a AttributeValue)> + Clone,
) -> Vec<u8> {
    // Sizing the buffer once avoids regrowing it for every attribute.
    let capacity: usize = 2 + pairs
        .clone()
        .map(|(k, v)| k.len() + 4 + v.size() + 8)
        .sum::<usize>();
    let mut out = Vec::with_capacity(capacity);
    put_len(&mut out, count);
    for (name, value) in pairs {
        put_bytes(&mut out, name.as_bytes());
        encode_value(&mut out, value);
    }
    out
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.push(T_S);
    put_bytes(out, s.as_bytes());
}

fn put_number(out: &mut Vec<u8>, n: &Number) {
    out.push(T_N);
    put_len(out, n.sort_bytes_len());
    n.write_sort_bytes(out);
}

fn put_binary(out: &mut Vec<u8>, b: &[u8]) {
    out.push(T_B);
    put_bytes(out, b);
}

fn put_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { T_TRUE } else { T_FALSE });
}

fn encode_value(out: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::S(s) => put_string(out, s),
        AttributeValue::N(n) => put_number(out, n),
        AttributeValue::B(b) => put_binary(out, b),
        AttributeValue::Bool(b) => put_bool(out, *b),
        AttributeValue::Null => out.push(T_NULL),
        AttributeValue::M(m) => {
            out.push(T_M);
            put_len(out, m.len());
            for (k, v) in m {
                put_bytes(out, k.as_bytes());
                encode_value(out, v);
            }
        }
        AttributeValue::L(l) => {
            out.push(T_L);
            put_len(out, l.len());
            for v in l {
                encode_value(out, v);
            }
        }
        AttributeValue::Ss(s) => {
            out.push(T_SS);
            put_len(out, s.len());
            for v in s {
                put_bytes(out, v.as_bytes());
            }
        }
        AttributeValue::Ns(s) => {
            out.push(T_NS);
            put_len(out, s.len());
            for v in s {
                put_len(out, v.sort_bytes_len());
                v.write_sort_bytes(out);
            }
        }
        AttributeValue::Bs(s) => {
            out.push(T_BS);
            put_len(out, s.len());
            for v in s {
                put_bytes(out, v);
            }
        }
    }
}

/// One stream record inside a packed record batch (see [`put_record`]): the event code, the
/// record's size in AWS bytes, and the stored forms of its keys and images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedRecord<'b> {
    pub event: u8,
    pub size: usize,
    pub keys: &'b [u8],
    pub new_image: Option<&'b [u8]>,
    pub old_image: Option<&'b [u8]>,
}

/// An item in stored form, built by a [`StoredItemBuilder`] straight from its attributes as they
/// are read from the wire, without an [`Item`] in between: the endpoint reads the puts of a
/// BatchWriteItem this way. An `Item` costs a map, and a string or a number's digits for every
/// name and value, all freed once the item is encoded; without them W1 drained about 4% faster
/// (eight runs alternated with the build before, `cargo bench -p cascade --bench w1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub(crate) bytes: Vec<u8>,
    /// The item's size by AWS's rules ([`crate::item_size`]).
    pub(crate) size: usize,
}

impl StoredItem {
    /// The item, decoded.
    pub fn to_item(&self) -> Result<Item, Error> {
        decode_item(&self.bytes)
    }

    /// The item's size by AWS's rules.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The attributes named `names` that the item has, decoded, as an item of their own.
    pub(crate) fn attributes<'n>(
        &self,
        names: impl IntoIterator<Item = &'n str> + Clone,
    ) -> Result<Item, Error> {
        let mut r = Reader {
            bytes: &self.bytes,
            pos: 0,
        };
        let mut out = Item::new();
        for _ in 0..r.len()? {
            let name = r.bytes()?;
            match names.clone().into_iter().find(|n| n.as_bytes() == name) {
                Some(name) => {
                    out.insert(name.to_owned(), r.value()?);
                }
                None => r.skip_value()?,
            }
        }
        Ok(out)
    }
}

/// Builds a [`StoredItem`] from attributes given in any order, with the bytes the engine stores
/// for the same item: attributes in name order, a name given twice keeping its last value (as a
/// JSON object read into a map does). Scalar values are encoded from borrowed text, without an
/// [`AttributeValue`] of their own.
pub struct StoredItemBuilder<'a> {
    /// Each attribute's name, where its value's bytes sit in `values`, and its size.
    attributes: Vec<(Cow<'a, str>, Range<usize>, usize)>,
    values: Vec<u8>,
}

impl Default for StoredItemBuilder<'_> {
    fn default() -> Self {
        // Room for a typical item (a sale has nine attributes in about 150 bytes), so that the
        // buffers are not regrown attribute by attribute.
        StoredItemBuilder {
            attributes: Vec::with_capacity(16),
            values: Vec::with_capacity(256),
        }
    }
}

impl<'a> StoredItemBuilder<'a> {
    pub fn new() -> StoredItemBuilder<'a> {
        StoredItemBuilder::default()
    }

    fn push(&mut self, name: Cow<'a, str>, size: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        let start = self.values.len();
        encode(&mut self.values);
        self.attributes.push((name, start..self.values.len(), size));
    }

    pub fn string(&mut self, name: Cow<'a, str>, value: &str) {
        self.push(name, value.len(), |out| put_string(out, value));
    }

    pub fn number(&mut self, name: Cow<'a, str>, value: &Number) {
        self.push(name, crate::value::number_size(value), |out| {
            put_number(out, value)
        });
    }

    pub fn binary(&mut self, name: Cow<'a, str>, value: &[u8]) {
        self.push(name, value.len(), |out| put_binary(out, value));
    }

    pub fn boolean(&mut self, name: Cow<'a, str>, value: bool) {
        self.push(name, 1, |out| put_bool(out, value));
    }

    pub fn null(&mut self, name: Cow<'a, str>) {
        self.push(name, 1, |out| out.push(T_NULL));
    }

    /// A value of any type, checked as [`crate::value::validate_value`] checks it (its sets put
    /// in canonical order).
    pub fn value(&mut self, name: Cow<'a, str>, mut value: AttributeValue) -> Result<(), Error> {
        crate::value::validate_value(&mut value)?;
        self.push(name, value.size(), |out| encode_value(out, &value));
        Ok(())
    }

    /// The stored item, or the ValidationException of an item over 400 KB.
    pub fn finish(self) -> Result<StoredItem, Error> {
        let StoredItemBuilder {
            mut attributes,
            values,
        } = self;
        // A stable sort keeps a repeated name's values in the order given; the last one stays.
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        attributes.dedup_by(|later, earlier| {
            let repeated = later.0 == earlier.0;
            if repeated {
                std::mem::swap(later, earlier);
            }
            repeated
        });
        let size = attributes.iter().map(|(n, _, s)| n.len() + s).sum();
        crate::value::check_item_size(size)?;
        let capacity = 2 + attributes
            .iter()
            .map(|(n, span, _)| n.len() + 4 + span.len())
            .sum::<usize>();
        let mut bytes = Vec::with_capacity(capacity);
        put_len(&mut bytes, attributes.len());
        for (name, span, _) in &attributes {
            put_bytes(&mut bytes, name.as_bytes());
            bytes.extend_from_slice(&values[span.clone()]);
        }
        Ok(StoredItem { bytes, size })
    }
}

/// Appends one stream record to a packed batch: the event code, the size, the keys, then each
/// image as a presence byte and its bytes. The record's sequence number and time are those of its
/// batch row, so they are not repeated here.
pub fn put_record(out: &mut Vec<u8>, record: PackedRecord<'_>) {
    out.push(record.event);
    put_len(out, record.size);
    put_bytes(out, record.keys);
    for image in [record.new_image, record.old_image] {
        match image {
            Some(bytes) => {
                out.push(1);
                put_bytes(out, bytes);
            }
            None => out.push(0),
        }
    }
}

/// Reads the records of a packed batch back, in order. A damaged batch is an error.
pub fn read_records(bytes: &[u8]) -> impl Iterator<Item = Result<PackedRecord<'_>, Error>> {
    let mut r = Reader { bytes, pos: 0 };
    std::iter::from_fn(move || {
        if r.pos >= r.bytes.len() {
            return None;
        }
        let record = r.record();
        if record.is_err() {
            // Nothing after a damaged record can be trusted.
            r.pos = r.bytes.len();
        }
        Some(record)
    })
}

/// Reads the stored form back.
pub fn decode_item(bytes: &[u8]) -> Result<Item, Error> {
    let mut r = Reader { bytes, pos: 0 };
    let item = r.map()?;
    if r.pos != bytes.len() {
        return Err(corrupt());
    }
    Ok(item)
}

fn corrupt() -> Error {
    Error::Internal("a stored item is damaged and cannot be decoded".into())
}

struct Reader<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Reader<'b> {
    fn byte(&mut self) -> Result<u8, Error> {
        let b = *self.bytes.get(self.pos).ok_or_else(corrupt)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<usize, Error> {
        let mut n: usize = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt())
    }

    fn len(&mut self) -> Result<usize, Error> {
        let n = self.varint()?;
        // No length can exceed what is left of the blob.
        if n <= self.bytes.len() {
            Ok(n)
        } else {
            Err(corrupt())
        }
    }

    fn bytes(&mut self) -> Result<&'b [u8], Error> {
        let n = self.len()?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(corrupt)?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn record(&mut self) -> Result<PackedRecord<'b>, Error> {
        let event = self.byte()?;
        let size = self.varint()?;
        let keys = self.bytes()?;
        let mut image = || -> Result<Option<&'b [u8]>, Error> {
            match self.byte()? {
                0 => Ok(None),
                1 => Ok(Some(self.bytes()?)),
                _ => Err(corrupt()),
            }
        };
        let new_image = image()?;
        let old_image = image()?;
        Ok(PackedRecord {
            event,
            size,
            keys,
            new_image,
            old_image,
        })
    }

    fn string(&mut self) -> Result<String, Error> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt())
    }

    fn number(&mut self) -> Result<Number, Error> {
        Number::from_sort_bytes(self.bytes()?).ok_or_else(corrupt)
    }

    fn map(&mut self) -> Result<BTreeMap<String, AttributeValue>, Error> {
        let n = self.len()?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value()?;
            m.insert(k, v);
        }
        Ok(m)
    }

    /// Moves past one value without decoding it.
    fn skip_value(&mut self) -> Result<(), Error> {
        match self.byte()? {
            T_S | T_N | T_B => {
                self.bytes()?;
            }
            T_TRUE | T_FALSE | T_NULL => {}
            T_M => {
                for _ in 0..self.len()? {
                    self.bytes()?;
                    self.skip_value()?;
                }
            }
            T_L => {
                for _ in 0..self.len()? {
                    self.skip_value()?;
                }
            }
            T_SS | T_NS | T_BS => {
                for _ in 0..self.len()? {
                    self.bytes()?;
                }
            }
            _ => return Err(corrupt()),
        }
        Ok(())
    }

    fn value(&mut self) -> Result<AttributeValue, Error> {
        Ok(match self.byte()? {
            T_S => AttributeValue::S(self.string()?),
            T_N => AttributeValue::N(self.number()?),
            T_B => AttributeValue::B(self.bytes()?.to_vec()),
            T_TRUE => AttributeValue::Bool(true),
            T_FALSE => AttributeValue::Bool(false),
            T_NULL => AttributeValue::Null,
            T_M => AttributeValue::M(self.map()?),
            T_L => {
                let n = self.len()?;
                let mut l = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    l.push(self.value()?);
                }
                AttributeValue::L(l)
            }
            T_SS => {
                let n = self.len()?;
                let mut s = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    s.push(self.string()?);
                }
                AttributeValue::Ss(s)
            }
            T_NS => {
                let n = self.len()?;
                let mut s = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    s.push(self.number()?);
                }
                AttributeValue::Ns(s)
            }
            T_BS => {
                let n = self.len()?;
                let mut s = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    s.push(self.bytes()?.to_vec());
                }
                AttributeValue::Bs(s)
            }
            _ => return Err(corrupt()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::item;

    #[test]
    fn items_round_trip_and_damage_is_an_error() {
        let n = |s: &str| Number::parse(s).unwrap();
        let it = item([
            ("s", AttributeValue::s("héllo")),
            ("n", AttributeValue::N(n("-12.5"))),
            ("b", AttributeValue::B(vec![0, 255])),
            ("t", AttributeValue::Bool(true)),
            ("f", AttributeValue::Bool(false)),
            ("z", AttributeValue::Null),
            (
                "m",
                AttributeValue::M(item([(
                    "l",
                    AttributeValue::L(vec![AttributeValue::s(""), AttributeValue::N(n("0"))]),
                )])),
            ),
            ("ss", AttributeValue::Ss(vec!["a".into(), "b".into()])),
            ("ns", AttributeValue::Ns(vec![n("1"), n("1E100")])),
            ("bs", AttributeValue::Bs(vec![vec![1], vec![2; 200]])),
        ]);
        let bytes = encode_item(&it);
        assert_eq!(decode_item(&bytes).unwrap(), it);
        assert_eq!(encode_item_sized(&it, crate::value::item_size(&it)), bytes);
        assert_eq!(
            encode_item_sized(&it, 0),
            bytes,
            "a low size only regrows the buffer"
        );
        for cut in 0..bytes.len() {
            assert!(decode_item(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = bytes.clone();
        bad.push(0);
        assert!(decode_item(&bad).is_err());
    }

    /// The builder's bytes are [`encode_item`]'s, whatever the order the attributes come in, with
    /// a repeated name keeping its last value; its size is the item's; the key attributes read
    /// back past values of every type.
    #[test]
    fn a_built_item_has_the_bytes_and_size_of_the_item() {
        let n = |s: &str| Number::parse(s).unwrap();
        let mut b = StoredItemBuilder::new();
        b.string("s".into(), "first");
        b.number("n".into(), &n("-0012.50"));
        b.value(
            "m".into(),
            AttributeValue::M(item([(
                "x",
                AttributeValue::Ss(vec!["b".into(), "a".into()]),
            )])),
        )
        .unwrap();
        b.binary("b".into(), &[0, 255]);
        b.string("s".into(), "last");
        b.boolean("t".into(), false);
        b.null(String::from("é").into());
        b.value("l".into(), AttributeValue::L(vec![AttributeValue::Null]))
            .unwrap();
        b.string("a".into(), "");
        b.value("ns".into(), AttributeValue::Ns(vec![n("2"), n("1")]))
            .unwrap();
        b.value("bs".into(), AttributeValue::Bs(vec![vec![2], vec![1]]))
            .unwrap();
        let built = b.finish().unwrap();
        let mut expected = item([
            ("s", AttributeValue::s("last")),
            ("n", AttributeValue::N(n("-12.5"))),
            ("b", AttributeValue::B(vec![0, 255])),
            ("t", AttributeValue::Bool(false)),
            ("é", AttributeValue::Null),
            (
                "m",
                AttributeValue::M(item([(
                    "x",
                    AttributeValue::Ss(vec!["a".into(), "b".into()]),
                )])),
            ),
            ("l", AttributeValue::L(vec![AttributeValue::Null])),
            ("a", AttributeValue::s("")),
            ("ns", AttributeValue::Ns(vec![n("1"), n("2")])),
            ("bs", AttributeValue::Bs(vec![vec![1], vec![2]])),
        ]);
        let size = crate::value::validate_item_sized(&mut expected).unwrap();
        assert_eq!(built.bytes, encode_item(&expected));
        assert_eq!(built.size(), size);
        assert_eq!(built.to_item().unwrap(), expected);
        assert_eq!(
            built.attributes(["s", "é"]).unwrap(),
            item([
                ("s", AttributeValue::s("last")),
                ("é", AttributeValue::Null)
            ])
        );

        let mut bad = StoredItemBuilder::new();
        assert!(bad.value("e".into(), AttributeValue::Ss(vec![])).is_err());
        let mut big = StoredItemBuilder::new();
        big.string("s".into(), &"x".repeat(crate::value::MAX_ITEM_SIZE - 1));
        assert_eq!(big.finish().unwrap().size(), crate::value::MAX_ITEM_SIZE);
        let mut over = StoredItemBuilder::new();
        over.string("s".into(), &"x".repeat(crate::value::MAX_ITEM_SIZE));
        assert_eq!(
            over.finish().unwrap_err().to_string(),
            "Item size has exceeded the maximum allowed size"
        );
    }

    #[test]
    fn packed_records_round_trip_and_damage_is_an_error() {
        let records = [
            PackedRecord {
                event: 1,
                size: 300,
                keys: b"k1",
                new_image: Some(b"new"),
                old_image: None,
            },
            PackedRecord {
                event: 3,
                size: 7,
                keys: b"",
                new_image: None,
                old_image: Some(&[0; 200]),
            },
        ];
        let mut packed = Vec::new();
        for r in records {
            put_record(&mut packed, r);
        }
        let back: Vec<_> = read_records(&packed).collect::<Result<_, _>>().unwrap();
        assert_eq!(back, records);
        for cut in 1..packed.len() {
            let read: Result<Vec<_>, _> = read_records(&packed[..cut]).collect();
            // A cut at a record boundary reads fewer records; anywhere else it is an error.
            if let Ok(r) = read {
                assert_eq!(r, records[..1], "cut at {cut}");
            }
        }
    }
}
