//! `serde(with = …)` modules that read the portal's loose JSON into plain Rust types.
//!
//! Each module has a `deserialize` and a `serialize` function, so it works with both
//! `#[serde(with = "…")]` and `#[serde(deserialize_with = "…")]`. Use them with
//! `#[serde(default)]` so an absent field is `None` / empty as well:
//!
//! ```
//! use bitrix24::types::lenient;
//!
//! #[derive(serde::Deserialize)]
//! struct Row {
//!     #[serde(default, with = "lenient::opt_f64")]
//!     opportunity: Option<f64>,
//!     #[serde(default, with = "lenient::yes_no")]
//!     opened: Option<bool>,
//!     #[serde(default, with = "lenient::empty_as_none")]
//!     comments: Option<String>,
//! }
//!
//! let row: Row =
//!     serde_json::from_str(r#"{"opportunity": "15000.00", "opened": "Y", "comments": ""}"#)
//!         .unwrap();
//! assert_eq!(row.opportunity, Some(15000.0));
//! assert_eq!(row.opened, Some(true));
//! assert_eq!(row.comments, None);
//! ```
//!
//! "Empty" means `null`, `""`, `{}`, `[]` (PHP writes an empty map as `[]`) and, except for
//! booleans, `false` (PHP's usual "nothing").

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Deserializer, Error as DeError};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Whether `value` stands for "no value" in a field that is not a boolean.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(true) | Value::Number(_) => false,
    }
}

/// A short name of a JSON value's type, for error messages (never the value: it may be a
/// customer's phone number).
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Reads a string-like scalar (a string, a number or a boolean) as text; used by the string
/// enums, which the portal sometimes writes as numbers.
pub(crate) fn string_like<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if b { "Y" } else { "N" }.to_owned()),
        other => Err(D::Error::custom(format!(
            "expected a string or a number, found {}",
            kind(&other)
        ))),
    }
}

fn float_of(value: &Value) -> Result<Option<f64>, String> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<f64>().ok()
        }
        other if is_empty(other) => return Ok(None),
        other => return Err(format!("expected a number, found {}", kind(other))),
    };
    match number {
        Some(n) if n.is_finite() => Ok(Some(n)),
        _ => Err("expected a number, found text that is not one".to_owned()),
    }
}

fn integer_of<T: TryFrom<i128>>(value: &Value) -> Result<Option<T>, String> {
    const MESSAGE: &str = "expected an integer in range";
    let wide: i128 = match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                i128::from(u)
            } else if let Some(i) = n.as_i64() {
                i128::from(i)
            } else {
                integral(n.as_f64()).ok_or(MESSAGE)?
            }
        }
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            // "12.00" is how the portal writes some integer columns (money-like counters).
            match s.parse::<i128>() {
                Ok(n) => n,
                Err(_) => integral(s.parse::<f64>().ok()).ok_or(MESSAGE)?,
            }
        }
        other if is_empty(other) => return Ok(None),
        other => return Err(format!("expected an integer, found {}", kind(other))),
    };
    T::try_from(wide).map(Some).map_err(|_| MESSAGE.to_owned())
}

#[allow(clippy::cast_possible_truncation)]
fn integral(float: Option<f64>) -> Option<i128> {
    // The bound keeps the cast exact; fractions are not integers.
    float
        .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 1e18)
        .map(|f| f as i128)
}

/// `Option<u64>` from a number, a numeric string (`"12"`, `"12.00"`) or an empty value.
pub mod opt_u64 {
    use super::{
        DeError as _, Deserialize, Deserializer, Serialize, Serializer, Value, integer_of,
    };

    /// Reads the field.
    ///
    /// # Errors
    /// When the value is not a non-negative integer or empty.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        integer_of(&Value::deserialize(d)?).map_err(D::Error::custom)
    }

    /// Writes the field as a number (or `null`).
    ///
    /// # Errors
    /// When the serializer fails.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
}

/// `Option<i64>` from a number, a numeric string or an empty value.
pub mod opt_i64 {
    use super::{
        DeError as _, Deserialize, Deserializer, Serialize, Serializer, Value, integer_of,
    };

    /// Reads the field.
    ///
    /// # Errors
    /// When the value is not an integer or empty.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        integer_of(&Value::deserialize(d)?).map_err(D::Error::custom)
    }

    /// Writes the field as a number (or `null`).
    ///
    /// # Errors
    /// When the serializer fails.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(value: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
}

/// `Option<f64>` from a number, a numeric string (`"15000.00"`) or an empty value.
pub mod opt_f64 {
    use super::{DeError as _, Deserialize, Deserializer, Serialize, Serializer, Value, float_of};

    /// Reads the field.
    ///
    /// # Errors
    /// When the value is not a finite number or empty.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        float_of(&Value::deserialize(d)?).map_err(D::Error::custom)
    }

    /// Writes the field as a number (or `null`).
    ///
    /// # Errors
    /// When the serializer fails.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
}

/// `Option<bool>` from `Y`/`N`, `1`/`0`, `true`/`false` (as JSON or as text) or an empty value;
/// written back as `"Y"`/`"N"`, the form every method accepts.
pub mod yes_no {
    use super::{DeError as _, Deserialize, Deserializer, Serializer, Value, kind};

    pub(crate) fn parse(value: &Value) -> Result<Option<bool>, String> {
        match value {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::Number(n) => match n.as_u64() {
                Some(1) => Ok(Some(true)),
                Some(0) => Ok(Some(false)),
                _ => Err("expected a boolean, found a number other than 1 or 0".to_owned()),
            },
            Value::String(s) => match s.trim() {
                "" => Ok(None),
                "Y" | "y" | "1" | "true" | "TRUE" | "True" => Ok(Some(true)),
                "N" | "n" | "0" | "false" | "FALSE" | "False" => Ok(Some(false)),
                _ => Err("expected a boolean (Y/N, 1/0, true/false)".to_owned()),
            },
            Value::Array(items) if items.is_empty() => Ok(None),
            Value::Object(map) if map.is_empty() => Ok(None),
            other => Err(format!("expected a boolean, found {}", kind(other))),
        }
    }

    /// Reads the field.
    ///
    /// # Errors
    /// When the value is not one of the boolean spellings or empty.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        parse(&Value::deserialize(d)?).map_err(D::Error::custom)
    }

    /// Writes `"Y"`, `"N"` or `null`.
    ///
    /// # Errors
    /// When the serializer fails.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(value: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(true) => s.serialize_str("Y"),
            Some(false) => s.serialize_str("N"),
            None => s.serialize_none(),
        }
    }
}

/// `Option<String>` where `""` (and `null`, `false`, `{}`, `[]`) is `None`; numbers are kept as
/// their decimal text.
pub mod empty_as_none {
    use super::{
        DeError as _, Deserialize, Deserializer, Serialize, Serializer, Value, is_empty, kind,
    };

    /// Reads the field.
    ///
    /// # Errors
    /// When the value is a non-empty list or object.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if !s.is_empty() => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(true) => Ok(Some("Y".to_owned())),
            other if is_empty(&other) => Ok(None),
            other => Err(D::Error::custom(format!(
                "expected text, found {}",
                kind(&other)
            ))),
        }
    }

    /// Writes the text or `null`.
    ///
    /// # Errors
    /// When the serializer fails.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
}

/// `Option<T>` for any `T`, where an empty value (`null`, `""`, `false`, `{}`, `[]`) is `None`.
///
/// Used for ids, dates and enums. Not for booleans: `false` is empty here; use [`yes_no`].
pub mod opt {
    use super::{
        DeError as _, Deserialize, DeserializeOwned, Deserializer, Serialize, Serializer, Value,
        is_empty,
    };

    /// Reads the field.
    ///
    /// # Errors
    /// When a non-empty value does not decode into `T`.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        let value = Value::deserialize(d)?;
        if is_empty(&value) {
            return Ok(None);
        }
        T::deserialize(value).map(Some).map_err(D::Error::custom)
    }

    /// Writes the value or `null`.
    ///
    /// # Errors
    /// When the serializer fails.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
}

/// `Vec<T>` from a list, from an object (a PHP array with keys: its values in order) or from an
/// empty value.
pub mod seq {
    use super::{
        DeError as _, Deserialize, DeserializeOwned, Deserializer, Serialize, Serializer, Value,
        is_empty, kind,
    };

    /// Reads the field.
    ///
    /// # Errors
    /// When an item does not decode into `T`, or the value is a scalar.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        let items: Vec<Value> = match Value::deserialize(d)? {
            Value::Array(items) => items,
            Value::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
            other if is_empty(&other) => Vec::new(),
            other => {
                return Err(D::Error::custom(format!(
                    "expected a list, found {}",
                    kind(&other)
                )));
            }
        };
        items
            .into_iter()
            .map(|item| T::deserialize(item).map_err(D::Error::custom))
            .collect()
    }

    /// Writes a list.
    ///
    /// # Errors
    /// When the serializer fails.
    pub fn serialize<S: Serializer, T: Serialize>(value: &[T], s: S) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
}

/// `BTreeMap<String, T>` from an object, from a list (keyed by position) or from an empty value
/// (PHP writes an empty map as `[]`).
pub mod map {
    use super::{
        BTreeMap, DeError as _, Deserialize, DeserializeOwned, Deserializer, Serialize, Serializer,
        Value, is_empty, kind,
    };

    /// Reads the field.
    ///
    /// # Errors
    /// When an entry does not decode into `T`, or the value is a scalar.
    pub fn deserialize<'de, D, T>(d: D) -> Result<BTreeMap<String, T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        let entries: Vec<(String, Value)> = match Value::deserialize(d)? {
            Value::Object(map) => map.into_iter().collect(),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            other if is_empty(&other) => Vec::new(),
            other => {
                return Err(D::Error::custom(format!(
                    "expected an object, found {}",
                    kind(&other)
                )));
            }
        };
        entries
            .into_iter()
            .map(|(key, value)| {
                T::deserialize(value)
                    .map(|value| (key, value))
                    .map_err(D::Error::custom)
            })
            .collect()
    }

    /// Writes an object.
    ///
    /// # Errors
    /// When the serializer fails.
    pub fn serialize<S: Serializer, T: Serialize>(
        value: &BTreeMap<String, T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    use crate::types::{BxDateTime, Id};

    #[derive(Debug, Default, Deserialize, Serialize)]
    struct Row {
        #[serde(default, with = "super::opt_u64")]
        u: Option<u64>,
        #[serde(default, with = "super::opt_i64")]
        i: Option<i64>,
        #[serde(default, with = "super::opt_f64")]
        f: Option<f64>,
        #[serde(default, with = "super::yes_no")]
        b: Option<bool>,
        #[serde(default, with = "super::empty_as_none")]
        s: Option<String>,
        #[serde(default, with = "super::opt")]
        id: Option<Id>,
        #[serde(default, with = "super::opt")]
        date: Option<BxDateTime>,
        #[serde(default, with = "super::seq")]
        ids: Vec<Id>,
        #[serde(default, with = "super::map")]
        names: BTreeMap<String, String>,
    }

    fn row(field: &str, value: &Value) -> Result<Row, serde_json::Error> {
        serde_json::from_value(json!({ field: value }))
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn optional_numbers() {
        let table: &[(&str, Value, Option<u64>, Option<i64>, Option<f64>)] = &[
            ("number", json!(12), Some(12), Some(12), Some(12.0)),
            ("string", json!("12"), Some(12), Some(12), Some(12.0)),
            ("padded", json!(" 12 "), Some(12), Some(12), Some(12.0)),
            (
                "money",
                json!("15000.00"),
                Some(15000),
                Some(15000),
                Some(15000.0),
            ),
            ("float", json!(999.9), None, None, Some(999.9)),
            ("negative", json!("-3"), None, Some(-3), Some(-3.0)),
            ("empty", json!(""), None, None, None),
            ("null", json!(null), None, None, None),
            ("false", json!(false), None, None, None),
            ("php empty", json!([]), None, None, None),
            ("empty object", json!({}), None, None, None),
        ];
        for (name, value, u, i, f) in table {
            let fractional = name == &"float";
            let negative = name == &"negative";
            let got_u = row("u", value);
            if fractional || negative {
                assert!(got_u.is_err(), "{name}: u64 must reject");
            } else {
                assert_eq!(got_u.unwrap().u, *u, "{name}: u64");
            }
            let got_i = row("i", value);
            if fractional {
                assert!(got_i.is_err(), "{name}: i64 must reject");
            } else {
                assert_eq!(got_i.unwrap().i, *i, "{name}: i64");
            }
            assert_eq!(row("f", value).unwrap().f, *f, "{name}: f64");
        }
        for bad in [
            json!("abc"),
            json!(true),
            json!({"a": 1}),
            json!([1]),
            json!("NaN"),
        ] {
            assert!(row("u", &bad).is_err(), "{bad}");
            assert!(row("f", &bad).is_err(), "{bad}");
        }
        assert!(row("u", &json!(-1)).is_err());
        assert_eq!(Row::default().u, None);
        assert_eq!(serde_json::from_value::<Row>(json!({})).unwrap().f, None);
    }

    #[test]
    fn booleans() {
        let table = [
            (json!("Y"), Some(true)),
            (json!("N"), Some(false)),
            (json!("y"), Some(true)),
            (json!("n"), Some(false)),
            (json!("1"), Some(true)),
            (json!("0"), Some(false)),
            (json!(1), Some(true)),
            (json!(0), Some(false)),
            (json!(true), Some(true)),
            (json!(false), Some(false)),
            (json!("true"), Some(true)),
            (json!("false"), Some(false)),
            (json!(""), None),
            (json!(null), None),
            (json!([]), None),
            (json!({}), None),
        ];
        for (value, want) in table {
            assert_eq!(row("b", &value).unwrap().b, want, "{value}");
        }
        for bad in [json!("maybe"), json!(2), json!([true]), json!("D")] {
            assert!(row("b", &bad).is_err(), "{bad}");
        }
        let written = serde_json::to_value(Row {
            b: Some(true),
            ..Row::default()
        })
        .unwrap();
        assert_eq!(written["b"], "Y");
        let written = serde_json::to_value(Row {
            b: Some(false),
            ..Row::default()
        })
        .unwrap();
        assert_eq!(written["b"], "N");
    }

    #[test]
    fn strings_with_empty_as_none() {
        let table = [
            (json!("text"), Some("text")),
            (json!(" "), Some(" ")),
            (json!(""), None),
            (json!(null), None),
            (json!(false), None),
            (json!([]), None),
            (json!({}), None),
            (json!(42), Some("42")),
            (json!(1.5), Some("1.5")),
        ];
        for (value, want) in table {
            assert_eq!(row("s", &value).unwrap().s.as_deref(), want, "{value}");
        }
        assert!(row("s", &json!(["a"])).is_err());
        assert!(row("s", &json!({"a": "b"})).is_err());
    }

    #[test]
    fn generic_optional_values() {
        let table = [
            (json!(7), Some(Id(7))),
            (json!("7"), Some(Id(7))),
            (json!(""), None),
            (json!(null), None),
            (json!({}), None),
            (json!([]), None),
            (json!(false), None),
        ];
        for (value, want) in table {
            assert_eq!(row("id", &value).unwrap().id, want, "{value}");
        }
        assert!(row("id", &json!("x")).is_err());
        let date = row("date", &json!("2024-05-23T18:18:25+03:00"))
            .unwrap()
            .date
            .unwrap();
        assert_eq!(date.raw(), "2024-05-23T18:18:25+03:00");
        assert_eq!(row("date", &json!({})).unwrap().date, None);
        assert_eq!(row("date", &json!("")).unwrap().date, None);
    }

    #[test]
    fn lists_and_maps() {
        let lists = [
            (json!([1, "2"]), vec![Id(1), Id(2)]),
            (json!({"a": 3, "b": "4"}), vec![Id(3), Id(4)]),
            (json!([]), vec![]),
            (json!({}), vec![]),
            (json!(null), vec![]),
            (json!(""), vec![]),
            (json!(false), vec![]),
        ];
        for (value, want) in lists {
            assert_eq!(row("ids", &value).unwrap().ids, want, "{value}");
        }
        assert!(row("ids", &json!(5)).is_err());
        assert!(row("ids", &json!(["x"])).is_err());

        let one = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let by_position = BTreeMap::from([("0".to_owned(), "v".to_owned())]);
        let maps = [
            (json!({"k": "v"}), one),
            (json!(["v"]), by_position),
            (json!([]), BTreeMap::new()),
            (json!({}), BTreeMap::new()),
            (json!(null), BTreeMap::new()),
        ];
        for (value, want) in maps {
            assert_eq!(row("names", &value).unwrap().names, want, "{value}");
        }
        assert!(row("names", &json!("x")).is_err());
    }

    #[test]
    fn string_like_scalars() {
        #[derive(Deserialize)]
        struct S(#[serde(deserialize_with = "super::string_like")] String);
        let table = [
            (json!("a"), "a"),
            (json!(5), "5"),
            (json!(true), "Y"),
            (json!(false), "N"),
        ];
        for (value, want) in table {
            assert_eq!(serde_json::from_value::<S>(value).unwrap().0, want);
        }
        assert!(serde_json::from_value::<S>(json!([1])).is_err());
        assert!(serde_json::from_value::<S>(json!(null)).is_err());
    }
}
