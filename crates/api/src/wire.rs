//! Reading request members out of a parsed JSON body, with AWS's errors for each kind of mistake.
//!
//! [`Obj`] wraps one JSON object. A member of the wrong JSON type is a [`WireError::Type`] (AWS
//! answers `SerializationException`), a required member that is absent a [`WireError::Missing`].
//! Each protocol turns these into its own error shape. Requests of the SQS query protocol arrive
//! as form text and are first rebuilt into the same JSON shape, where every scalar is a string; an
//! `Obj` made with `lenient` set therefore also reads numbers and booleans from strings.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A mistake in the request body, before any engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// A member of the wrong type: `(member, expected type)`.
    Type(String, &'static str),
    /// A required member that is absent.
    Missing(String),
}

impl WireError {
    pub fn message(&self) -> String {
        match self {
            WireError::Type(member, expected) => {
                format!("The member `{member}` must be {expected}")
            }
            WireError::Missing(member) => {
                format!("The request must contain the parameter {member}")
            }
        }
    }
}

pub type WireResult<T> = Result<T, WireError>;

/// One JSON object of a request.
#[derive(Clone, Copy)]
pub struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    /// Accept numbers and booleans written as strings (the query protocol).
    pub lenient: bool,
}

/// The top-level object of a body, or a type error if the body is another JSON value.
pub fn top(value: &Value, lenient: bool) -> WireResult<Obj<'_>> {
    match value {
        Value::Object(map) => Ok(Obj { map, lenient }),
        _ => Err(WireError::Type("(request body)".into(), "an object")),
    }
}

impl<'a> Obj<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn str(&self, key: &str) -> WireResult<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(WireError::Type(key.into(), "a string")),
        }
    }

    pub fn req_str(&self, key: &str) -> WireResult<&'a str> {
        self.str(key)?.ok_or_else(|| WireError::Missing(key.into()))
    }

    pub fn string(&self, key: &str) -> WireResult<Option<String>> {
        Ok(self.str(key)?.map(str::to_owned))
    }

    pub fn i64(&self, key: &str) -> WireResult<Option<i64>> {
        let wrong = || WireError::Type(key.into(), "an integer");
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(wrong),
            Some(Value::String(s)) if self.lenient => {
                s.trim().parse().map(Some).map_err(|_| wrong())
            }
            Some(_) => Err(wrong()),
        }
    }

    /// A non-negative count (`Limit`, `Segment`).
    pub fn usize(&self, key: &str) -> WireResult<Option<usize>> {
        match self.i64(key)? {
            None => Ok(None),
            Some(n) => usize::try_from(n)
                .map(Some)
                .map_err(|_| WireError::Type(key.into(), "a non-negative integer")),
        }
    }

    pub fn bool(&self, key: &str) -> WireResult<Option<bool>> {
        let wrong = || WireError::Type(key.into(), "a boolean");
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if self.lenient => match s.as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(wrong()),
            },
            Some(_) => Err(wrong()),
        }
    }

    pub fn obj(&self, key: &str) -> WireResult<Option<Obj<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                lenient: self.lenient,
            })),
            Some(_) => Err(WireError::Type(key.into(), "an object")),
        }
    }

    pub fn req_obj(&self, key: &str) -> WireResult<Obj<'a>> {
        self.obj(key)?.ok_or_else(|| WireError::Missing(key.into()))
    }

    pub fn list(&self, key: &str) -> WireResult<&'a [Value]> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(WireError::Type(key.into(), "a list")),
        }
    }

    /// A list of objects.
    pub fn objs(&self, key: &str) -> WireResult<Vec<Obj<'a>>> {
        self.list(key)?
            .iter()
            .map(|v| match v {
                Value::Object(map) => Ok(Obj {
                    map,
                    lenient: self.lenient,
                }),
                _ => Err(WireError::Type(format!("{key}[]"), "an object")),
            })
            .collect()
    }

    pub fn str_list(&self, key: &str) -> WireResult<Vec<String>> {
        self.list(key)?
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(WireError::Type(format!("{key}[]"), "a string")),
            })
            .collect()
    }

    pub fn str_map(&self, key: &str) -> WireResult<BTreeMap<String, String>> {
        let Some(map) = self.obj(key)? else {
            return Ok(BTreeMap::new());
        };
        map.map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(WireError::Type(format!("{key}.{k}"), "a string")),
            })
            .collect()
    }

    /// The members of a map-shaped member as `(key, object)` pairs.
    pub fn obj_map(&self, key: &str) -> WireResult<Vec<(&'a String, Obj<'a>)>> {
        let Some(map) = self.obj(key)? else {
            return Ok(Vec::new());
        };
        map.map
            .iter()
            .map(|(k, v)| match v {
                Value::Object(inner) => Ok((
                    k,
                    Obj {
                        map: inner,
                        lenient: self.lenient,
                    },
                )),
                _ => Err(WireError::Type(format!("{key}.{k}"), "an object")),
            })
            .collect()
    }
}

/// Builds a JSON object from pairs, leaving out `None` members.
#[macro_export]
macro_rules! object {
    ($($key:literal => $value:expr),* $(,)?) => {{
        let mut map = serde_json::Map::new();
        $( $crate::wire::put(&mut map, $key, $value); )*
        serde_json::Value::Object(map)
    }};
}

/// Inserts `value` under `key` unless it converts to JSON null.
pub fn put(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    let value = value.into();
    if !value.is_null() {
        map.insert(key.to_owned(), value);
    }
}
