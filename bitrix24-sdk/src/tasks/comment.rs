//! [`TaskComment`]: a comment of `task.commentitem.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, lenient, via_value};

/// A task comment, as `task.commentitem.get` and `task.commentitem.getlist` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct TaskComment {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `AUTHOR_ID`: who wrote it.
    #[serde(rename = "AUTHOR_ID", default, with = "lenient::opt")]
    pub author_id: Option<Id>,
    /// `AUTHOR_NAME`: that user's name.
    #[serde(rename = "AUTHOR_NAME", default, with = "lenient::empty_as_none")]
    pub author_name: Option<String>,
    /// `AUTHOR_EMAIL`: that user's e-mail.
    #[serde(rename = "AUTHOR_EMAIL", default, with = "lenient::empty_as_none")]
    pub author_email: Option<String>,
    /// `POST_DATE`: when it was written.
    #[serde(rename = "POST_DATE", default, with = "lenient::opt")]
    pub post_date: Option<BxDateTime>,
    /// `POST_MESSAGE`: the text (BB-code).
    #[serde(rename = "POST_MESSAGE", default, with = "lenient::empty_as_none")]
    pub post_message: Option<String>,
    /// `POST_MESSAGE_HTML`: the text as HTML, when requested.
    #[serde(rename = "POST_MESSAGE_HTML", default, with = "lenient::empty_as_none")]
    pub post_message_html: Option<String>,
    /// `ATTACHED_OBJECTS`: attached files, by attachment id.
    #[serde(rename = "ATTACHED_OBJECTS", default, with = "lenient::map")]
    pub attached_objects: BTreeMap<String, TaskCommentFile>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(TaskComment);

impl Identified for TaskComment {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

/// A file attached to a [`TaskComment`] (`ATTACHED_OBJECTS` values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct TaskCommentFile {
    /// `ATTACHMENT_ID`: the attachment id.
    #[serde(rename = "ATTACHMENT_ID", default, with = "lenient::opt")]
    pub attachment_id: Option<Id>,
    /// `NAME`: file name.
    #[serde(rename = "NAME", default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `SIZE`: size in bytes.
    #[serde(rename = "SIZE", default, with = "lenient::opt_u64")]
    pub size: Option<u64>,
    /// `FILE_ID`: the stored file id.
    #[serde(rename = "FILE_ID", default, with = "lenient::opt")]
    pub file_id: Option<Id>,
    /// `DOWNLOAD_URL`: download path.
    #[serde(rename = "DOWNLOAD_URL", default, with = "lenient::empty_as_none")]
    pub download_url: Option<String>,
    /// `VIEW_URL`: view path.
    #[serde(rename = "VIEW_URL", default, with = "lenient::empty_as_none")]
    pub view_url: Option<String>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(TaskCommentFile);
