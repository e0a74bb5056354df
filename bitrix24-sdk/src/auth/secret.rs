//! Newtypes for secrets: a redacted `Debug`, no `Display`, and an explicit `expose_secret()`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// Its `Debug` prints `[redacted]` and it has no `Display`, so it cannot end up in a log
        /// or an error message by accident. Equality is checked in constant time.
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself.
            ///
            /// # Security
            /// Whatever you do with the returned string, do not log or display it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self)
            }
        }
    };
}

secret_type!(
    /// The secret code of an incoming webhook (the part after the user id in its URL).
    WebhookSecret
);
secret_type!(
    /// An OAuth application's `client_secret`.
    ClientSecret
);
secret_type!(
    /// An OAuth access token (`access_token`, `AUTH_ID`), valid for about an hour.
    AccessToken
);
secret_type!(
    /// An OAuth refresh token (`refresh_token`, `REFRESH_ID`); each refresh rotates it.
    RefreshToken
);
secret_type!(
    /// The `application_token` a portal sends with every event, used to verify the sender.
    ApplicationToken
);

/// Compares two byte strings in time that depends only on their lengths, not their contents.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = WebhookSecret::new("s3cr3t-value");
        assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
        assert_eq!(secret.expose_secret(), "s3cr3t-value");
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(AccessToken::new("abc"), AccessToken::new("abc"));
        assert_ne!(AccessToken::new("abc"), AccessToken::new("abd"));
        assert_ne!(AccessToken::new("abc"), AccessToken::new("abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn serde_is_transparent() {
        let token: RefreshToken = serde_json::from_str("\"r-1\"").unwrap();
        assert_eq!(serde_json::to_string(&token).unwrap(), "\"r-1\"");
    }
}
