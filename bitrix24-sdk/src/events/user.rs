//! User events: a user was added (invited or registered) or changed.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::lenient;

/// `data` of `ONUSERADD` and `ONUSERUPDATE`: the user's fields, upper-case keys as in
/// `user.get`. The common ones are typed; everything else (`PERSONAL_*`, `UF_*` …) stays in
/// [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UserData {
    /// `ID`: the user's id.
    #[serde(rename = "ID", deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// `ACTIVE` (`Y`/`N` or a boolean): whether the user may log in.
    #[serde(rename = "ACTIVE", deserialize_with = "lenient::opt_bool")]
    pub active: Option<bool>,
    /// `EMAIL`.
    #[serde(rename = "EMAIL", deserialize_with = "lenient::opt_string")]
    pub email: Option<String>,
    /// `NAME`: the first name.
    #[serde(rename = "NAME", deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// `LAST_NAME`.
    #[serde(rename = "LAST_NAME", deserialize_with = "lenient::opt_string")]
    pub last_name: Option<String>,
    /// `SECOND_NAME`: the middle name.
    #[serde(rename = "SECOND_NAME", deserialize_with = "lenient::opt_string")]
    pub second_name: Option<String>,
    /// `WORK_POSITION`: the job title.
    #[serde(rename = "WORK_POSITION", deserialize_with = "lenient::opt_string")]
    pub work_position: Option<String>,
    /// `UF_DEPARTMENT`: the ids of the user's departments.
    #[serde(rename = "UF_DEPARTMENT", deserialize_with = "departments")]
    pub departments: Vec<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A list of department ids, or one id on its own.
fn departments<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(map) => map.into_iter().map(|(_, item)| item).collect(),
        other => vec![other],
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in &items {
        match lenient::u64_of(item) {
            Ok(Some(id)) => ids.push(id),
            Ok(None) => {}
            Err(_) => return Err(D::Error::custom("expected department ids")),
        }
    }
    Ok(ids)
}
