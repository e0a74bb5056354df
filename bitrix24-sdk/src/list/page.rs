//! One page of a list, and decoding its rows wherever the method puts them.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The rows (at most 50).
    pub items: Vec<T>,
    /// How many rows matched, when the portal counted (`start >= 0`).
    pub total: Option<u64>,
    /// The `start` of the next page, when there is one.
    pub next: Option<u64>,
}

impl<T> Page<T> {
    /// A page from its parts.
    pub fn new(items: Vec<T>, total: Option<u64>, next: Option<u64>) -> Self {
        Self { items, total, next }
    }
}

/// The rows of a list `result`: the list itself, or a map holding it (`{"items": […]}`,
/// `{"tasks": […]}`). Decoded straight into `T`, without an intermediate JSON tree, because
/// exports decode millions of rows. In a map, the first list found is taken; other members are
/// skipped.
pub(crate) enum Rows<T> {
    List(Vec<T>),
    Keyed(Vec<(String, Vec<T>)>),
}

impl<T> Rows<T> {
    /// The rows, from under `key` when the result is a map.
    pub(crate) fn into_vec(self, key: Option<&str>) -> Vec<T> {
        match self {
            Self::List(rows) => rows,
            Self::Keyed(lists) => {
                let position = key
                    .and_then(|key| lists.iter().position(|(k, _)| k == key))
                    .unwrap_or(0);
                lists
                    .into_iter()
                    .nth(position)
                    .map(|(_, rows)| rows)
                    .unwrap_or_default()
            }
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Rows<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowsVisitor<T>(PhantomData<fn() -> T>);

        impl<'de, T: DeserializeOwned> Visitor<'de> for RowsVisitor<T> {
            type Value = Rows<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of rows or a map holding one")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(50).min(50));
                while let Some(row) = seq.next_element()? {
                    rows.push(row);
                }
                Ok(Rows::List(rows))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut lists = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    match map.next_value::<MaybeRows<T>>()? {
                        MaybeRows::Rows(rows) => lists.push((key, rows)),
                        MaybeRows::Other => {}
                    }
                }
                Ok(Rows::Keyed(lists))
            }
        }

        deserializer.deserialize_any(RowsVisitor(PhantomData))
    }
}

/// A member of a wrapper map: a list of rows, or something else to skip.
enum MaybeRows<T> {
    Rows(Vec<T>),
    Other,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for MaybeRows<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MaybeVisitor<T>(PhantomData<fn() -> T>);

        impl<'de, T: DeserializeOwned> Visitor<'de> for MaybeVisitor<T> {
            type Value = MaybeRows<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut rows = Vec::new();
                while let Some(row) = seq.next_element()? {
                    rows.push(row);
                }
                Ok(MaybeRows::Rows(rows))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeRows::Other)
            }

            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeRows::Other)
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeRows::Other)
            }

            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeRows::Other)
            }

            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeRows::Other)
            }

            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeRows::Other)
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeRows::Other)
            }
        }

        deserializer.deserialize_any(MaybeVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn plain_and_wrapped_lists() {
        let plain: Rows<Value> = serde_json::from_value(json!([{ "ID": "1" }])).unwrap();
        assert_eq!(plain.into_vec(None).len(), 1);
        let items: Rows<Value> =
            serde_json::from_value(json!({ "items": [{ "id": 1 }, { "id": 2 }] })).unwrap();
        assert_eq!(items.into_vec(Some("items")).len(), 2);
        let tasks: Rows<Value> = serde_json::from_value(
            json!({ "meta": { "x": 1 }, "count": 2, "tasks": [{ "id": "1" }] }),
        )
        .unwrap();
        assert_eq!(tasks.into_vec(Some("tasks")).len(), 1);
        let empty: Rows<Value> = serde_json::from_value(json!([])).unwrap();
        assert!(empty.into_vec(Some("items")).is_empty());
    }
}
