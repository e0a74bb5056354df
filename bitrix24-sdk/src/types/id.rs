//! [`Id`]: the id newtype every model uses.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An entity id (lead, deal, task, user, file, …).
///
/// The portal writes ids as numbers in some methods and as numeric strings in others (often in
/// the same reply), so this reads both; it always writes a number, which every method accepts.
///
/// ```
/// use bitrix24::types::Id;
/// let a: Id = serde_json::from_str("\"42\"").unwrap();
/// let b: Id = serde_json::from_str("42").unwrap();
/// assert_eq!(a, b);
/// assert_eq!(serde_json::to_string(&a).unwrap(), "42");
/// assert_eq!(a.to_string(), "42");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub u64);

impl Id {
    /// Wraps a raw id.
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u64> for Id {
    fn from(id: u64) -> Self {
        Self(id)
    }
}

impl From<u32> for Id {
    fn from(id: u32) -> Self {
        Self(u64::from(id))
    }
}

impl From<Id> for u64 {
    fn from(id: Id) -> Self {
        id.0
    }
}

/// For the generated requests, which take integer parameters as `impl Into<i64>`
/// (`methods::crm::lead::Get::new(lead.id)`).
///
/// Portal ids are database keys far below `i64::MAX`; a larger value, which no portal issues,
/// saturates rather than wrapping to a negative id.
impl From<Id> for i64 {
    fn from(id: Id) -> Self {
        i64::try_from(id.0).unwrap_or(i64::MAX)
    }
}

impl PartialEq<u64> for Id {
    fn eq(&self, other: &u64) -> bool {
        self.0 == *other
    }
}

/// The text was not a non-negative integer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError(());

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id must be a non-negative integer")
    }
}

impl std::error::Error for ParseIdError {}

impl FromStr for Id {
    type Err = ParseIdError;

    /// Parses a decimal id; surrounding whitespace is ignored because the portal pads some
    /// legacy fields.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        // `u64::from_str` accepts a leading `+`, which is not an id.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseIdError(()));
        }
        s.parse().map(Self).map_err(|_| ParseIdError(()))
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = Id;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id as a number or a numeric string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
        Ok(Id(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
        u64::try_from(v)
            .map(Id)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::float_cmp
    )]
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
        // `12.0` is an integer written by a float-happy serializer; anything else is not an id.
        // The range check makes the cast exact.
        if v >= 0.0 && v.fract() == 0.0 && v < 18_446_744_073_709_551_616.0 {
            Ok(Id(v as u64))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
        v.parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_and_numeric_strings() {
        let ok = [
            ("42", 42),
            ("\"42\"", 42),
            ("\" 7 \"", 7),
            ("0", 0),
            ("\"0\"", 0),
            ("12.0", 12),
            ("18446744073709551615", u64::MAX),
        ];
        for (json, want) in ok {
            let id: Id = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(id, Id(want), "{json}");
        }
        let bad = [
            "-1", "\"-1\"", "\"\"", "\"abc\"", "\"+5\"", "1.5", "null", "{}", "[]", "true",
        ];
        for json in bad {
            assert!(serde_json::from_str::<Id>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn writes_a_number_and_displays_digits() {
        assert_eq!(serde_json::to_string(&Id(5)).unwrap(), "5");
        assert_eq!(Id(5).to_string(), "5");
        assert_eq!("5".parse::<Id>(), Ok(Id(5)));
        assert!("x".parse::<Id>().is_err());
        assert_eq!(u64::from(Id::from(9_u64)), 9);
        assert_eq!(Id::from(3_u32).get(), 3);
        assert!(Id(1) < Id(2));
        assert_eq!(Id(4), 4);
        assert_eq!(i64::from(Id(7)), 7);
        assert_eq!(i64::from(Id(u64::MAX)), i64::MAX);
    }
}
