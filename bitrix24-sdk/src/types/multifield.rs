//! CRM multi-fields: phones, e-mails, web sites, messengers and links of leads, contacts and
//! companies.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};

use super::{Id, lenient, string_enum};

string_enum! {
    /// Which multi-field a value belongs to (`TYPE_ID` / `typeId`).
    pub enum MultiFieldType {
        /// `PHONE`.
        Phone = "PHONE",
        /// `EMAIL`.
        Email = "EMAIL",
        /// `WEB`: a web site.
        Web = "WEB",
        /// `IM`: a messenger or an open-line chat (`imol|…`).
        Im = "IM",
        /// `LINK`: a link to another system's record.
        Link = "LINK",
    }
}

/// One value of a CRM multi-field, as `crm.lead.get`, `crm.contact.get`, `crm.company.get` and
/// their `.list` methods return it under `PHONE`, `EMAIL`, `WEB`, `IM` and `LINK`, and as
/// `crm.item.*` returns it under `fm` (in camelCase, read here as well).
///
/// `value_type` is the kind of value: `WORK`, `HOME`, `MOBILE`, `FAX`, `PAGER`, `MAILING`,
/// `OTHER` for phones and e-mails; `TELEGRAM`, `VIBER`, `OPENLINE`, `IMOL`, … for messengers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MultiField {
    /// `ID`: the value's own id, needed to change or delete it.
    #[serde(rename = "ID", alias = "id", default, with = "lenient::opt")]
    pub id: Option<Id>,
    /// `VALUE_TYPE`: the kind of value (`WORK`, `MOBILE`, `TELEGRAM`, …).
    #[serde(
        rename = "VALUE_TYPE",
        alias = "valueType",
        default,
        with = "lenient::empty_as_none"
    )]
    pub value_type: Option<String>,
    /// `VALUE`: the phone number, address, URL or messenger handle.
    #[serde(
        rename = "VALUE",
        alias = "value",
        default,
        with = "lenient::empty_as_none"
    )]
    pub value: Option<String>,
    /// `TYPE_ID`: which multi-field this is (`PHONE`, `EMAIL`, …).
    #[serde(rename = "TYPE_ID", alias = "typeId", default, with = "lenient::opt")]
    pub type_id: Option<MultiFieldType>,
}

impl MultiField {
    /// The value, or `""` when absent.
    pub fn value(&self) -> &str {
        self.value.as_deref().unwrap_or_default()
    }
}

/// One multi-field change for `crm.lead.add`/`.update` and the contact and company
/// equivalents.
///
/// Updating a multi-field does not replace the list: values without an `ID` are added, values
/// with an `ID` are changed, and `DELETE: "Y"` removes one.
///
/// ```
/// use bitrix24::types::{Id, MultiFieldInput};
/// let add = MultiFieldInput::add("+1 555 0100", "WORK");
/// assert_eq!(
///     serde_json::to_value(&add).unwrap(),
///     serde_json::json!({"VALUE": "+1 555 0100", "VALUE_TYPE": "WORK"})
/// );
/// let delete = MultiFieldInput::delete(Id(7));
/// assert_eq!(
///     serde_json::to_value(&delete).unwrap(),
///     serde_json::json!({"ID": 7, "DELETE": "Y"})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiFieldInput {
    kind: InputKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum InputKind {
    Add {
        value: String,
        value_type: String,
    },
    Change {
        id: Id,
        value: String,
        value_type: String,
    },
    Delete {
        id: Id,
    },
}

impl MultiFieldInput {
    /// A new value: `{VALUE, VALUE_TYPE}`.
    pub fn add(value: impl Into<String>, value_type: impl Into<String>) -> Self {
        Self {
            kind: InputKind::Add {
                value: value.into(),
                value_type: value_type.into(),
            },
        }
    }

    /// A change to the existing value `id`: `{ID, VALUE, VALUE_TYPE}`.
    pub fn change(
        id: impl Into<Id>,
        value: impl Into<String>,
        value_type: impl Into<String>,
    ) -> Self {
        Self {
            kind: InputKind::Change {
                id: id.into(),
                value: value.into(),
                value_type: value_type.into(),
            },
        }
    }

    /// Removes the existing value `id`: `{ID, DELETE: "Y"}`.
    pub fn delete(id: impl Into<Id>) -> Self {
        Self {
            kind: InputKind::Delete { id: id.into() },
        }
    }

    /// The JSON object that is sent.
    pub(crate) fn to_value(&self) -> Value {
        match &self.kind {
            InputKind::Add { value, value_type } => {
                json!({ "VALUE": value, "VALUE_TYPE": value_type })
            }
            InputKind::Change {
                id,
                value,
                value_type,
            } => json!({ "ID": id.get(), "VALUE": value, "VALUE_TYPE": value_type }),
            InputKind::Delete { id } => json!({ "ID": id.get(), "DELETE": "Y" }),
        }
    }
}

impl Serialize for MultiFieldInput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.kind {
            InputKind::Add { value, value_type } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("VALUE", value)?;
                map.serialize_entry("VALUE_TYPE", value_type)?;
                map.end()
            }
            InputKind::Change {
                id,
                value,
                value_type,
            } => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("ID", id)?;
                map.serialize_entry("VALUE", value)?;
                map.serialize_entry("VALUE_TYPE", value_type)?;
                map.end()
            }
            InputKind::Delete { id } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("ID", id)?;
                map.serialize_entry("DELETE", "Y")?;
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_spellings() {
        let table = [
            (
                json!({"ID": "11658", "VALUE_TYPE": "OTHER", "VALUE": "+5454777777", "TYPE_ID": "PHONE"}),
                Some(Id(11658)),
                Some("OTHER"),
                "+5454777777",
                Some(MultiFieldType::Phone),
            ),
            (
                json!({"id": 101, "valueType": "WORK", "value": "a@example.com", "typeId": "EMAIL"}),
                Some(Id(101)),
                Some("WORK"),
                "a@example.com",
                Some(MultiFieldType::Email),
            ),
            (
                json!({"ID": "1", "VALUE_TYPE": "OPENLINE", "VALUE": "imol|x", "TYPE_ID": "IM"}),
                Some(Id(1)),
                Some("OPENLINE"),
                "imol|x",
                Some(MultiFieldType::Im),
            ),
            (
                json!({"VALUE": "x", "TYPE_ID": "FAX_LINE"}),
                None,
                None,
                "x",
                Some(MultiFieldType::Other("FAX_LINE".into())),
            ),
            (json!({}), None, None, "", None),
        ];
        for (json, id, value_type, value, type_id) in table {
            let field: MultiField = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(field.id, id, "{json}");
            assert_eq!(field.value_type.as_deref(), value_type, "{json}");
            assert_eq!(field.value(), value, "{json}");
            assert_eq!(field.type_id, type_id, "{json}");
        }
    }

    #[test]
    fn writes_the_three_input_forms() {
        let table = [
            (
                MultiFieldInput::add("555888", "WORK"),
                json!({"VALUE": "555888", "VALUE_TYPE": "WORK"}),
            ),
            (
                MultiFieldInput::change(Id(12), "555999", "HOME"),
                json!({"ID": 12, "VALUE": "555999", "VALUE_TYPE": "HOME"}),
            ),
            (
                MultiFieldInput::delete(13_u64),
                json!({"ID": 13, "DELETE": "Y"}),
            ),
        ];
        for (input, want) in table {
            assert_eq!(serde_json::to_value(&input).unwrap(), want);
            assert_eq!(input.to_value(), want);
        }
    }
}
