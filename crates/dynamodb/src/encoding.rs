//! Byte encodings: key columns that sort like DynamoDB sorts, and the stored form of items.
//!
//! Key attributes are stored in their own BLOB columns so that SQLite's index order (memcmp) is
//! DynamoDB's order: S by UTF-8 bytes, B by bytes, N by [`Number::sort_bytes`]. Query walks that index
//! in sort-key order without decoding anything.
//!
//! Items are stored whole in a compact binary form: a tag byte per value and LEB128 lengths. The
//! encoding is canonical (attributes in name order, sets sorted, numbers normalised), so two equal
//! items have equal bytes. Decoding never trusts its input: a damaged blob is an error, not a panic.

use std::collections::BTreeMap;

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

fn encode_value(out: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::S(s) => {
            out.push(T_S);
            put_bytes(out, s.as_bytes());
        }
        AttributeValue::N(n) => {
            out.push(T_N);
            put_len(out, n.sort_bytes_len());
            n.write_sort_bytes(out);
        }
        AttributeValue::B(b) => {
            out.push(T_B);
            put_bytes(out, b);
        }
        AttributeValue::Bool(true) => out.push(T_TRUE),
        AttributeValue::Bool(false) => out.push(T_FALSE),
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
