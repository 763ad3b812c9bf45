//! Serde helpers used by the generated models.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::{self, DeserializeOwned, Visitor};

/// Deserializes an open enum from a string without allocating for known values.
pub(crate) struct OpenEnumVisitor<T> {
    name: &'static str,
    marker: PhantomData<fn() -> T>,
}

impl<T> OpenEnumVisitor<T> {
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            name,
            marker: PhantomData,
        }
    }
}

impl<T: for<'a> From<&'a str> + From<String>> Visitor<'_> for OpenEnumVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} string", self.name)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::from(v))
    }
}

/// Serializes `inner` (a struct) with a leading `"kind": tag` member.
pub(crate) fn serialize_tagged<T: Serialize, S: serde::Serializer>(
    tag: &str,
    inner: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut value = serde_json::to_value(inner).map_err(serde::ser::Error::custom)?;
    let mut map = serde_json::Map::new();
    map.insert("kind".to_owned(), serde_json::Value::String(tag.to_owned()));
    if let serde_json::Value::Object(fields) = &mut value {
        map.append(fields);
    }
    map.serialize(serializer)
}

/// Deserializes a variant struct from the union's JSON object.
pub(crate) fn from_map<T: DeserializeOwned, E: de::Error>(
    map: serde_json::Map<String, serde_json::Value>,
) -> Result<T, E> {
    serde_json::from_value(serde_json::Value::Object(map)).map_err(E::custom)
}
