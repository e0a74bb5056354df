//! Lenient readers for event payloads: on the wire every value is a string, the docs' JSON
//! renderings use numbers, and missing sides are `""`, `"undefined"` or absent.
//!
//! Each reader takes the field as a [`Value`] first, so they work the same under
//! `#[serde(flatten)]`. A value that is present but cannot be read (a number field holding
//! `"abc"`) is an error: the event then arrives as [`EventData::Unknown`](super::EventData)
//! with its data untouched, rather than with the value silently dropped.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A value that is present but cannot be read as the type asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unreadable;

/// `Ok(None)`: nothing there; `Ok(Some(_))`: read; `Err`: there, but not readable.
pub(crate) type Read<T> = Result<Option<T>, Unreadable>;

/// Whether a value means "nothing here": null, `""`, `"undefined"`, `[]` or `{}`.
pub(crate) fn is_nothing(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => {
            let text = text.trim();
            text.is_empty() || text == "undefined"
        }
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

pub(crate) fn u64_of(value: &Value) -> Read<u64> {
    if is_nothing(value) {
        return Ok(None);
    }
    match value {
        Value::Number(number) => number.as_u64().map(Some).ok_or(Unreadable),
        Value::String(text) => text.trim().parse().map(Some).map_err(|_| Unreadable),
        _ => Err(Unreadable),
    }
}

pub(crate) fn i64_of(value: &Value) -> Read<i64> {
    if is_nothing(value) {
        return Ok(None);
    }
    match value {
        Value::Number(number) => number.as_i64().map(Some).ok_or(Unreadable),
        Value::String(text) => text.trim().parse().map(Some).map_err(|_| Unreadable),
        _ => Err(Unreadable),
    }
}

pub(crate) fn string_of(value: &Value) -> Read<String> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.is_empty() => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        Value::Number(number) => Ok(Some(number.to_string())),
        Value::Bool(flag) => Ok(Some(if *flag { "1" } else { "0" }.to_owned())),
        Value::Array(items) if items.is_empty() => Ok(None),
        _ => Err(Unreadable),
    }
}

pub(crate) fn bool_of(value: &Value) -> Read<bool> {
    if is_nothing(value) {
        return Ok(None);
    }
    match value {
        Value::Bool(flag) => Ok(Some(*flag)),
        Value::Number(number) => match number.as_u64() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => Err(Unreadable),
        },
        Value::String(text) => match text.trim().to_ascii_uppercase().as_str() {
            "Y" | "1" | "TRUE" => Ok(Some(true)),
            "N" | "0" | "FALSE" => Ok(Some(false)),
            _ => Err(Unreadable),
        },
        _ => Err(Unreadable),
    }
}

/// A number sent as a number or a string.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    u64_of(&value).map_err(|_| D::Error::custom("expected a whole number"))
}

/// Text sent as a string or a number; `""` is `None`.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    string_of(&value).map_err(|_| D::Error::custom("expected text"))
}

/// `Y`/`N`, `1`/`0` or a boolean; `"undefined"` and `""` are `None`.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    bool_of(&value).map_err(|_| D::Error::custom("expected Y/N, 1/0 or a boolean"))
}

/// Any value, with the "nothing" forms as `None`.
pub(crate) fn opt_value<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok((!is_nothing(&value)).then_some(value))
}

/// A map of anything; the "nothing" forms are an empty map.
pub(crate) fn map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Object(map) => Ok(map),
        Value::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item))
            .collect()),
        value if is_nothing(&value) => Ok(Map::new()),
        _ => Err(D::Error::custom("expected a map")),
    }
}

/// A nested block; `"undefined"`, `""`, `[]` and null are `None`.
pub(crate) fn opt_block<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    if is_nothing(&value) {
        return Ok(None);
    }
    if !value.is_object() {
        return Err(D::Error::custom("expected a map"));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(D::Error::custom)
}

/// A nested block that is always there in practice; the "nothing" forms are its default.
pub(crate) fn block<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    opt_block(deserializer).map(Option::unwrap_or_default)
}

/// A list: a JSON array, a map with numeric keys (a PHP array that is not `0..n`, in its own
/// order), or nothing (PHP sends no key at all for an empty array).
pub(crate) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let items = match Value::deserialize(deserializer)? {
        Value::Array(items) => items,
        Value::Object(map) => map.into_iter().map(|(_, item)| item).collect(),
        value if is_nothing(&value) => Vec::new(),
        _ => return Err(D::Error::custom("expected a list")),
    };
    items
        .into_iter()
        .map(|item| serde_json::from_value(item).map_err(D::Error::custom))
        .collect()
}

/// One or several ids, as a string, a number or a list of them.
pub(crate) fn ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(map) => map.into_iter().map(|(_, item)| item).collect(),
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        match string_of(item) {
            Ok(Some(id)) => out.push(id),
            Ok(None) => {}
            Err(Unreadable) => return Err(D::Error::custom("expected an id or a list of ids")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_and_flags() {
        assert_eq!(u64_of(&json!("12")), Ok(Some(12)));
        assert_eq!(u64_of(&json!(12)), Ok(Some(12)));
        assert_eq!(u64_of(&json!("undefined")), Ok(None));
        assert_eq!(u64_of(&json!("x")), Err(Unreadable));
        assert_eq!(i64_of(&json!("-5")), Ok(Some(-5)));
        assert_eq!(bool_of(&json!("Y")), Ok(Some(true)));
        assert_eq!(bool_of(&json!(0)), Ok(Some(false)));
        assert_eq!(bool_of(&json!("maybe")), Err(Unreadable));
        assert_eq!(string_of(&json!(7)), Ok(Some("7".to_owned())));
        assert_eq!(string_of(&json!({ "a": 1 })), Err(Unreadable));
    }
}
