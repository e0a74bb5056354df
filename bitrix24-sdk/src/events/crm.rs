//! CRM events: leads, deals, contacts, companies, smart-process items and timeline comments.
//!
//! CRM events say *which* entity changed, not how: read it with the matching `get` method.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::lenient;

/// `data` of the CRM entity events (`ONCRMLEADADD`, `ONCRMDEALUPDATE`,
/// `ONCRMCONTACTDELETE`, `ONCRMDYNAMICITEMADD`, …): `data[FIELDS][ID]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CrmEntityData {
    /// `FIELDS`: which entity.
    #[serde(rename = "FIELDS", deserialize_with = "lenient::block")]
    pub fields: CrmEntityRef,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CrmEntityData {
    /// The entity's id (`data[FIELDS][ID]`).
    pub fn id(&self) -> Option<u64> {
        self.fields.id
    }
}

/// `data[FIELDS]` of a CRM entity event.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CrmEntityRef {
    /// `ID`: the entity's id.
    #[serde(rename = "ID", deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// `ENTITY_TYPE_ID`: the smart process's type, in `ONCRMDYNAMICITEM*` events.
    #[serde(rename = "ENTITY_TYPE_ID", deserialize_with = "lenient::opt_u64")]
    pub entity_type_id: Option<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `ONCRMTIMELINECOMMENTADD`, `…UPDATE` and `…DELETE`: `data[ID]` (some portals
/// send `data[FIELDS][ID]` instead; [`id`](Self::id) reads either).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CrmTimelineCommentData {
    /// `ID`: the comment's id.
    #[serde(rename = "ID", deserialize_with = "lenient::opt_u64")]
    pub comment_id: Option<u64>,
    /// `FIELDS`, when the portal sends the id there.
    #[serde(rename = "FIELDS", deserialize_with = "lenient::opt_block")]
    pub fields: Option<CrmEntityRef>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CrmTimelineCommentData {
    /// The comment's id, from `data[ID]` or `data[FIELDS][ID]`.
    pub fn id(&self) -> Option<u64> {
        self.comment_id
            .or_else(|| self.fields.as_ref().and_then(|fields| fields.id))
    }
}
