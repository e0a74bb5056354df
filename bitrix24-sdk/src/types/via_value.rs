//! Decoding models through a JSON value, so a repeated key keeps its last value.
//!
//! A JSON object should not repeat a key, but when one does, JSON parsers keep the last value;
//! serde's derived structs reject it instead. The official docs' own `tasks.task.update` reply
//! repeats `description`, so the curated models read the object into a `serde_json::Value`
//! first (which keeps the last value) and decode the fields from that.

use serde::de::{DeserializeOwned, Error};
use serde_json::Value;

/// Decodes `value` into `T`, naming the path of the first mismatch inside it.
pub(crate) fn decode<T: DeserializeOwned, E: Error>(value: Value) -> Result<T, E> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            E::custom(inner)
        } else {
            E::custom(format!("{path}: {inner}"))
        }
    })
}

/// Implements `Serialize` and `Deserialize` for a model declared with
/// `#[serde(remote = "Self")]` (which turns the derived code into inherent functions),
/// deserializing through a `serde_json::Value`.
macro_rules! via_value {
    ($name:ident) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $name::serialize(self, serializer)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                /// The derived field decoding, as a `Deserialize` type.
                struct Fields($name);
                impl<'de> ::serde::Deserialize<'de> for Fields {
                    fn deserialize<D: ::serde::Deserializer<'de>>(
                        deserializer: D,
                    ) -> Result<Self, D::Error> {
                        $name::deserialize(deserializer).map(Fields)
                    }
                }
                let value =
                    <::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer)?;
                $crate::types::via_value::decode::<Fields, D::Error>(value).map(|fields| fields.0)
            }
        }
    };
}

pub(crate) use via_value;

#[cfg(test)]
mod tests {
    use crate::tasks::TaskEnvelope;

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let body = r#"{"task": {"id": "1", "description": "first", "description": "last"}}"#;
        let envelope: TaskEnvelope = serde_json::from_str(body).unwrap();
        assert_eq!(envelope.task.description.as_deref(), Some("last"));
    }

    #[test]
    fn errors_name_the_field_inside_the_model() {
        let body = r#"{"task": {"id": "1", "priority": "high"}}"#;
        let error = serde_json::from_str::<TaskEnvelope>(body)
            .unwrap_err()
            .to_string();
        assert!(error.contains("priority"), "{error}");
        let error = serde_json::from_str::<TaskEnvelope>(r#"{"task": {"title": "x"}}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("id"), "{error}");
    }
}
