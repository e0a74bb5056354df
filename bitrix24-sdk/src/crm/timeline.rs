//! [`TimelineComment`]: a comment of `crm.timeline.comment.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, lenient, via_value};

/// A timeline comment, as `crm.timeline.comment.get` and `crm.timeline.comment.list` return
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct TimelineComment {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `ENTITY_ID`: the CRM record the comment is on.
    #[serde(rename = "ENTITY_ID", default, with = "lenient::opt")]
    pub entity_id: Option<Id>,
    /// `ENTITY_TYPE`: that record's type (`lead`, `deal`, `contact`, `company`, `dynamic_<id>`, …).
    #[serde(rename = "ENTITY_TYPE", default, with = "lenient::empty_as_none")]
    pub entity_type: Option<String>,
    /// `CREATED`: when it was written.
    #[serde(rename = "CREATED", default, with = "lenient::opt")]
    pub created: Option<BxDateTime>,
    /// `COMMENT`: the text (BB-code).
    #[serde(rename = "COMMENT", default, with = "lenient::empty_as_none")]
    pub comment: Option<String>,
    /// `AUTHOR_ID`: who wrote it.
    #[serde(rename = "AUTHOR_ID", default, with = "lenient::opt")]
    pub author_id: Option<Id>,
    /// `FILES`: attached files, by attachment id.
    #[serde(rename = "FILES", default, with = "lenient::map")]
    pub files: BTreeMap<String, TimelineFile>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(TimelineComment);

impl Identified for TimelineComment {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

/// A file attached to a [`TimelineComment`] (`FILES` values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct TimelineFile {
    /// `id`: the id.
    pub id: Id,
    /// `date`: when it was attached.
    #[serde(default, with = "lenient::opt")]
    pub date: Option<BxDateTime>,
    /// `type`: `image` or `file`.
    #[serde(rename = "type", default, with = "lenient::empty_as_none")]
    pub file_type: Option<String>,
    /// `name`: file name.
    #[serde(default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `size`: size in bytes.
    #[serde(default, with = "lenient::opt_u64")]
    pub size: Option<u64>,
    /// `image`: `{width, height}` of an image.
    #[serde(default)]
    pub image: Option<Value>,
    /// `authorId`: who attached it.
    #[serde(rename = "authorId", default, with = "lenient::opt")]
    pub author_id: Option<Id>,
    /// `authorName`: that user's name.
    #[serde(rename = "authorName", default, with = "lenient::empty_as_none")]
    pub author_name: Option<String>,
    /// `urlPreview`: preview URL (images).
    #[serde(rename = "urlPreview", default, with = "lenient::empty_as_none")]
    pub url_preview: Option<String>,
    /// `urlShow`: view URL.
    #[serde(rename = "urlShow", default, with = "lenient::empty_as_none")]
    pub url_show: Option<String>,
    /// `urlDownload`: download URL.
    #[serde(rename = "urlDownload", default, with = "lenient::empty_as_none")]
    pub url_download: Option<String>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(TimelineFile);
