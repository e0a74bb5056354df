//! [`YesNo`]: a boolean in the portal's `"Y"`/`"N"` spelling.

use std::fmt;

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::lenient::yes_no;

/// A boolean written as `"Y"`/`"N"`, read from any of the portal's spellings (`Y`/`N`, `1`/`0`,
/// `true`/`false`, as JSON or as text).
///
/// ```
/// use bitrix24::types::YesNo;
/// assert_eq!(serde_json::to_string(&YesNo(true)).unwrap(), "\"Y\"");
/// let no: YesNo = serde_json::from_str("0").unwrap();
/// assert!(!no.get());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YesNo(pub bool);

impl YesNo {
    /// The boolean.
    pub const fn get(self) -> bool {
        self.0
    }

    /// `"Y"` or `"N"`.
    pub const fn as_str(self) -> &'static str {
        if self.0 { "Y" } else { "N" }
    }
}

impl From<bool> for YesNo {
    fn from(value: bool) -> Self {
        Self(value)
    }
}

impl From<YesNo> for bool {
    fn from(value: YesNo) -> Self {
        value.0
    }
}

impl fmt::Display for YesNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for YesNo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for YesNo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match yes_no::parse(&Value::deserialize(deserializer)?) {
            Ok(Some(value)) => Ok(Self(value)),
            Ok(None) => Err(D::Error::custom("expected a boolean, found an empty value")),
            Err(message) => Err(D::Error::custom(message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_spelling_and_writes_y_or_n() {
        let table = [
            ("\"Y\"", true),
            ("\"N\"", false),
            ("\"1\"", true),
            ("\"0\"", false),
            ("1", true),
            ("0", false),
            ("true", true),
            ("false", false),
        ];
        for (json, want) in table {
            let got: YesNo = serde_json::from_str(json).unwrap();
            assert_eq!(got, YesNo(want), "{json}");
            let written = serde_json::to_string(&got).unwrap();
            assert_eq!(written, if want { "\"Y\"" } else { "\"N\"" });
        }
        for bad in ["\"\"", "null", "\"X\"", "5"] {
            assert!(serde_json::from_str::<YesNo>(bad).is_err(), "{bad}");
        }
        assert_eq!(YesNo::from(true).to_string(), "Y");
        assert!(bool::from(YesNo(true)));
    }
}
