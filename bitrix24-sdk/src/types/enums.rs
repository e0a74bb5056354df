//! Macros for enums that keep values this SDK does not know.
//!
//! Portals add statuses, types and stages over time (and administrators add their own), so an
//! enum that rejected unknown values would make whole replies undecodable. These enums keep the
//! unknown value verbatim instead.

/// An enum written as a string, with an `Other(String)` variant for unknown values.
///
/// Reads a string, or a number/boolean as its text (some methods write codes as numbers).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this SDK does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The value as the portal writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $text => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => Self::$variant, )+
                    _ => Self::Other(text),
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                match value {
                    $name::Other(other) => other,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(text))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::types::lenient::string_like(d).map(Self::from)
            }
        }
    };
}

/// An enum written as an integer (or a numeric string), with an `Unknown(i64)` variant.
macro_rules! int_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A code this SDK does not know, kept verbatim.
            Unknown(i64),
        }

        impl $name {
            /// The numeric code the portal uses.
            pub const fn code(self) -> i64 {
                match self {
                    $( Self::$variant => $code, )+
                    Self::Unknown(code) => code,
                }
            }

            /// The variant of a numeric code.
            pub const fn from_code(code: i64) -> Self {
                match code {
                    $( $code => Self::$variant, )+
                    other => Self::Unknown(other),
                }
            }
        }

        impl From<i64> for $name {
            fn from(code: i64) -> Self {
                Self::from_code(code)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.code(), f)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64(self.code())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use ::serde::de::Error as _;
                let text = $crate::types::lenient::string_like(d)?;
                text.trim()
                    .parse::<i64>()
                    .map(Self::from_code)
                    .map_err(|_| D::Error::custom(concat!(
                        "expected a numeric ", stringify!($name), " code"
                    )))
            }
        }
    };
}

pub(crate) use {int_enum, string_enum};

#[cfg(test)]
#[allow(unreachable_pub)]
mod tests {
    string_enum! {
        /// A test enum.
        pub(crate) enum Colour {
            /// Red.
            Red = "RED",
            /// Blue.
            Blue = "blue",
        }
    }

    int_enum! {
        /// A test enum.
        pub(crate) enum Level {
            /// Low.
            Low = 0,
            /// High.
            High = 2,
        }
    }

    #[test]
    fn string_enums_keep_unknown_values() {
        let table = [
            ("\"RED\"", Colour::Red),
            ("\"blue\"", Colour::Blue),
            ("\"red\"", Colour::Other("red".into())),
            ("\"\"", Colour::Other(String::new())),
            ("7", Colour::Other("7".into())),
        ];
        for (json, want) in table {
            let got: Colour = serde_json::from_str(json).unwrap();
            assert_eq!(got, want, "{json}");
            let back = serde_json::to_string(&got).unwrap();
            let expected = if json.starts_with('"') {
                json.to_owned()
            } else {
                format!("\"{json}\"")
            };
            assert_eq!(back, expected);
        }
        assert!(serde_json::from_str::<Colour>("null").is_err());
        assert_eq!("RED".parse::<Colour>().unwrap(), Colour::Red);
        assert_eq!(Colour::from(String::from("x")).to_string(), "x");
        assert_eq!(Colour::Blue.as_str(), "blue");
        assert_eq!(String::from(Colour::Red), "RED");
        assert_eq!(String::from(Colour::Other("z".into())), "z");
    }

    #[test]
    fn int_enums_keep_unknown_codes() {
        let table = [
            ("0", Level::Low),
            ("\"2\"", Level::High),
            ("\" 2 \"", Level::High),
            ("1", Level::Unknown(1)),
            ("\"-4\"", Level::Unknown(-4)),
        ];
        for (json, want) in table {
            let got: Level = serde_json::from_str(json).unwrap();
            assert_eq!(got, want, "{json}");
            assert_eq!(serde_json::to_string(&got).unwrap(), got.code().to_string());
        }
        for bad in ["\"x\"", "\"\"", "null", "[]"] {
            assert!(serde_json::from_str::<Level>(bad).is_err(), "{bad}");
        }
        assert_eq!(Level::from(2), Level::High);
        assert_eq!(Level::Unknown(9).to_string(), "9");
    }
}
