//! A JSON object reader that refuses duplicate member names.
//!
//! `serde_json` keeps the last of two equal names silently; in a signed header that would let two
//! parsers disagree about what was signed (RFC 7515 §5.2 step 4), so the envelope and its
//! protected header are read through [`StrictObject`] instead.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// The members of one JSON object in document order, names unique.
#[derive(Debug)]
pub struct StrictObject(pub Vec<(String, Value)>);

impl StrictObject {
    /// Parses `bytes` as one JSON object with unique member names and nothing after it but
    /// whitespace. The error names the duplicate when there is one.
    pub fn parse(bytes: &[u8]) -> Result<Self, ObjectError> {
        serde_json::from_slice::<StrictObject>(bytes).map_err(|e| {
            let msg = alloc::format!("{e}");
            match msg.strip_prefix(DUPLICATE_PREFIX) {
                Some(rest) => ObjectError::Duplicate(
                    rest.split(" at line")
                        .next()
                        .unwrap_or(rest)
                        .trim_matches('"')
                        .into(),
                ),
                None => ObjectError::Syntax(msg),
            }
        })
    }

    /// The value of member `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Member names in document order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

/// Why [`StrictObject::parse`] failed.
#[derive(Debug, PartialEq, Eq)]
pub enum ObjectError {
    /// A member name occurs twice.
    Duplicate(String),
    /// Not JSON, not an object, or trailing data.
    Syntax(String),
}

const DUPLICATE_PREFIX: &str = "duplicate member ";

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut members: Vec<(String, Value)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if members.iter().any(|(k, _)| *k == name) {
                        return Err(de::Error::custom(alloc::format!(
                            "{DUPLICATE_PREFIX}\"{name}\""
                        )));
                    }
                    let value: Value = map.next_value()?;
                    members.push((name, value));
                }
                Ok(StrictObject(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_names_are_refused() {
        let err = StrictObject::parse(br#"{"alg":"PS256","x":1,"alg":"none"}"#).unwrap_err();
        assert_eq!(err, ObjectError::Duplicate("alg".into()));
    }

    #[test]
    fn non_objects_and_trailing_data_are_refused() {
        for input in [&b"[1]"[..], b"\"s\"", b"{} x", b"{", b"{}{}"] {
            assert!(
                matches!(StrictObject::parse(input), Err(ObjectError::Syntax(_))),
                "{input:?}"
            );
        }
        let ok = StrictObject::parse(b" {\"a\": {\"b\": 1}} \n").unwrap();
        assert_eq!(ok.names().collect::<Vec<_>>(), ["a"]);
    }
}
