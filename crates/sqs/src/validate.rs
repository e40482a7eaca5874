//! Input rules shared by the actions: names, batch entry ids, message bodies, message attributes,
//! and AWS's MD5 digests of bodies and attributes.
//!
//! Message attributes are stored in the exact byte encoding AWS hashes for MD5OfMessageAttributes
//! (per attribute, sorted by name: length-prefixed name, length-prefixed data type, a transport byte
//! 1 for String/Number or 2 for Binary, length-prefixed value; lengths are 4-byte big-endian). One
//! encoding then serves storage, decoding and the digest of any subset.

use md5::{Digest, Md5};

use crate::types::{MessageAttributeValue, MessageAttributes};
use crate::SqsError;

/// The most message attributes a message may carry.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Checks a queue name: 1 to 80 characters, alphanumeric, hyphens and underscores.
pub fn queue_name(name: &str) -> Result<(), SqsError> {
    let valid = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else if name.ends_with(".fifo") {
        Err(SqsError::UnsupportedOperation(format!(
            "FIFO queues are not supported: `{name}`"
        )))
    } else {
        Err(SqsError::InvalidParameterValue(format!(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in \
             length: `{name}`"
        )))
    }
}

/// Checks a batch entry id: 1 to 80 characters, alphanumeric, hyphens and underscores.
pub fn batch_entry_id(id: &str) -> Result<(), SqsError> {
    let valid = !id.is_empty()
        && id.len() <= 80
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(SqsError::InvalidBatchEntryId(id.to_owned()))
    }
}

/// Checks the ids of a batch request: 1 to 10 entries, each id valid and distinct.
pub fn batch_ids<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Result<(), SqsError> {
    let count = ids.len();
    if count == 0 {
        return Err(SqsError::EmptyBatchRequest);
    }
    if count > 10 {
        return Err(SqsError::TooManyEntriesInBatchRequest(count));
    }
    let mut seen = std::collections::HashSet::with_capacity(count);
    for id in ids {
        batch_entry_id(id)?;
        if !seen.insert(id) {
            return Err(SqsError::BatchEntryIdsNotDistinct(id.to_owned()));
        }
    }
    Ok(())
}

/// Whether `c` is allowed in a message (the XML 1.0 character range AWS accepts).
fn allowed_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Checks a message body: not empty, only allowed characters.
pub fn body(body: &str) -> Result<(), SqsError> {
    if body.is_empty() {
        return Err(SqsError::MissingParameter("MessageBody".into()));
    }
    if let Some((at, c)) = body.char_indices().find(|(_, c)| !allowed_char(*c)) {
        return Err(SqsError::InvalidMessageContents(format!(
            "character U+{:04X} at byte {at}",
            c as u32
        )));
    }
    Ok(())
}

/// The base type of a data type (`String`, `Number` or `Binary`), or an error naming the attribute.
fn base_type<'a>(name: &str, data_type: &'a str) -> Result<&'a str, SqsError> {
    let base = data_type.split('.').next().unwrap_or("");
    if data_type.len() > 256 || !matches!(base, "String" | "Number" | "Binary") {
        return Err(SqsError::InvalidParameterValue(format!(
            "The type of message (user) attribute `{name}` is invalid: `{data_type}`; it must be \
             String, Number or Binary, optionally followed by .label"
        )));
    }
    Ok(base)
}

fn number(value: &str) -> bool {
    let v = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (mantissa, exponent) = match v.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (v, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = int.len() + frac.len();
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    digits > 0
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        && int.trim_start_matches('0').len() + frac.len() <= 38
        && exponent_ok
}

/// Checks message attributes against AWS's rules.
pub fn message_attributes(attributes: &MessageAttributes) -> Result<(), SqsError> {
    if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(SqsError::InvalidParameterValue(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    for (name, value) in attributes {
        let lower = name.to_ascii_lowercase();
        let name_ok = !name.is_empty()
            && name.len() <= 256
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && !lower.starts_with("aws.")
            && !lower.starts_with("amazon.");
        if !name_ok {
            return Err(SqsError::InvalidParameterValue(format!(
                "Message (user) attribute name `{name}` is invalid"
            )));
        }
        let base = base_type(name, &value.data_type)?;
        match (base, &value.string_value, &value.binary_value) {
            ("Binary", None, Some(bytes)) if !bytes.is_empty() => {}
            ("String" | "Number", Some(s), None) if !s.is_empty() => {
                if let Some(c) = s.chars().find(|c| !allowed_char(*c)) {
                    return Err(SqsError::InvalidParameterValue(format!(
                        "Message (user) attribute `{name}` has an invalid character U+{:04X}",
                        c as u32
                    )));
                }
                if base == "Number" && !number(s) {
                    return Err(SqsError::InvalidParameterValue(format!(
                        "Can't cast the value of message (user) attribute `{name}` to a number: \
                         `{s}`"
                    )));
                }
            }
            _ => {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Message (user) attribute `{name}` must contain a non-empty value of type \
                     {base}"
                )))
            }
        }
    }
    Ok(())
}

/// The size AWS counts for a message: the body plus each attribute's name, type and value.
pub fn message_size(body: &str, attributes: &MessageAttributes) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, v)| {
                name.len()
                    + v.data_type.len()
                    + v.string_value.as_ref().map_or(0, String::len)
                    + v.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
}

/// Lowercase hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    let mut out = String::with_capacity(32);
    for b in digest.iter() {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

fn push_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// AWS's byte encoding of message attributes (sorted by name): what MD5OfMessageAttributes hashes.
pub fn encode_attributes<'a>(
    attributes: impl Iterator<Item = (&'a String, &'a MessageAttributeValue)>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in attributes {
        push_len_prefixed(&mut out, name.as_bytes());
        push_len_prefixed(&mut out, value.data_type.as_bytes());
        match (&value.string_value, &value.binary_value) {
            (_, Some(bytes)) => {
                out.push(2);
                push_len_prefixed(&mut out, bytes);
            }
            (Some(s), None) => {
                out.push(1);
                push_len_prefixed(&mut out, s.as_bytes());
            }
            (None, None) => {
                out.push(1);
                push_len_prefixed(&mut out, b"");
            }
        }
    }
    out
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if bytes.len() < n {
        return None;
    }
    let (head, tail) = bytes.split_at(n);
    *bytes = tail;
    Some(head)
}

fn take_len_prefixed<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(take(bytes, 4)?.try_into().ok()?) as usize;
    take(bytes, len)
}

/// Decodes [`encode_attributes`]'s bytes as read back from the database; `None` if they are corrupt.
pub fn decode_attributes(mut bytes: &[u8]) -> Option<MessageAttributes> {
    let mut out = MessageAttributes::new();
    while !bytes.is_empty() {
        let name = String::from_utf8(take_len_prefixed(&mut bytes)?.to_vec()).ok()?;
        let data_type = String::from_utf8(take_len_prefixed(&mut bytes)?.to_vec()).ok()?;
        let transport = take(&mut bytes, 1)?[0];
        let value = take_len_prefixed(&mut bytes)?.to_vec();
        let value = match transport {
            1 => MessageAttributeValue {
                data_type,
                string_value: Some(String::from_utf8(value).ok()?),
                binary_value: None,
            },
            2 => MessageAttributeValue {
                data_type,
                string_value: None,
                binary_value: Some(value),
            },
            _ => return None,
        };
        out.insert(name, value);
    }
    Some(out)
}

/// MD5OfMessageAttributes of `attributes`, or `None` when there are none (AWS then omits it).
pub fn attributes_md5(attributes: &MessageAttributes) -> Option<String> {
    if attributes.is_empty() {
        None
    } else {
        Some(md5_hex(&encode_attributes(attributes.iter())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(list: &[(&str, MessageAttributeValue)]) -> MessageAttributes {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    /// Digests published with AWS SDK tests and AWS's documentation example.
    #[test]
    fn attribute_md5_matches_aws_published_digests() {
        let check = |list: &[(&str, MessageAttributeValue)], expected: &str| {
            assert_eq!(attributes_md5(&attrs(list)).as_deref(), Some(expected));
        };
        check(
            &[("timestamp", MessageAttributeValue::number("1493147359900"))],
            "235c5c510d26fb653d073faed50ae77c",
        );
        check(
            &[("SellerName", MessageAttributeValue::string("Example Store"))],
            "cd28f3b68aeee4b2eac9c66f2f694b58",
        );
        check(
            &[
                ("ordinal", MessageAttributeValue::number("1")),
                ("category", MessageAttributeValue::string("test")),
            ],
            "d21ae90c49061e927f57df5f5d72be1f",
        );
        assert_eq!(attributes_md5(&MessageAttributes::new()), None);
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn attribute_encoding_round_trips() {
        let a = attrs(&[
            ("b", MessageAttributeValue::binary(vec![0u8, 1, 255])),
            ("n.x", MessageAttributeValue::number("-1.5e3")),
            ("s", MessageAttributeValue::string("héllo")),
        ]);
        assert_eq!(decode_attributes(&encode_attributes(a.iter())), Some(a));
        assert_eq!(decode_attributes(&[0, 0, 0, 9, b'x']), None);
    }

    #[test]
    fn message_attribute_rules() {
        let check = |list: &[(&str, MessageAttributeValue)]| match message_attributes(&attrs(list))
        {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("{}: {e}", e.code()),
        };
        assert_eq!(check(&[("a", MessageAttributeValue::string("x"))]), "ok");
        assert_eq!(check(&[("n", MessageAttributeValue::number("12.5"))]), "ok");
        assert!(check(&[("n", MessageAttributeValue::number("twelve"))])
            .starts_with("InvalidParameterValue"));
        assert!(
            check(&[("AWS.x", MessageAttributeValue::string("x"))]).contains("`AWS.x` is invalid")
        );
        assert!(check(&[("a..b", MessageAttributeValue::string("x"))]).contains("invalid"));
        assert!(check(&[("a", MessageAttributeValue::string(""))]).contains("non-empty"));
        let mut bad_type = MessageAttributeValue::string("x");
        bad_type.data_type = "Text".into();
        assert!(check(&[("a", bad_type)]).contains("type of message"));
        let eleven: Vec<(String, MessageAttributeValue)> = (0..11)
            .map(|i| (format!("a{i}"), MessageAttributeValue::string("x")))
            .collect();
        let eleven: Vec<(&str, MessageAttributeValue)> = eleven
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert!(check(&eleven).contains("[11] exceeds the allowed maximum [10]"));
    }

    #[test]
    fn body_rules() {
        assert!(body("ok \t\n\r \u{10FFFF}").is_ok());
        assert_eq!(body("").unwrap_err().code(), "MissingParameter");
        let err = body("a\u{0}b").unwrap_err();
        assert_eq!(err.code(), "InvalidMessageContents");
        assert!(err.to_string().contains("U+0000 at byte 1"), "{err}");
        assert_eq!(
            body("\u{FFFE}").unwrap_err().code(),
            "InvalidMessageContents"
        );
    }
}
