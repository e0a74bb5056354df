//! Task and task-comment events.
//!
//! Both carry the state before and after the change, `FIELDS_BEFORE` and `FIELDS_AFTER`, with
//! the literal string `"undefined"` for a side that does not exist (before an add, after a
//! delete); here such a side is `None`. Read the task itself with `tasks.task.get`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::lenient;

/// `data` of `ONTASKADD`, `ONTASKUPDATE` and `ONTASKDELETE`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TaskData {
    /// `FIELDS_BEFORE`: the task before the change; `None` for an add.
    #[serde(rename = "FIELDS_BEFORE", deserialize_with = "lenient::opt_block")]
    pub fields_before: Option<TaskRef>,
    /// `FIELDS_AFTER`: the task after the change; `None` for a delete.
    #[serde(rename = "FIELDS_AFTER", deserialize_with = "lenient::opt_block")]
    pub fields_after: Option<TaskRef>,
    /// `IS_ACCESSIBLE_BEFORE` (`Y`/`N`/`undefined`): whether the acting user could see the task
    /// before.
    #[serde(
        rename = "IS_ACCESSIBLE_BEFORE",
        deserialize_with = "lenient::opt_bool"
    )]
    pub is_accessible_before: Option<bool>,
    /// `IS_ACCESSIBLE_AFTER` (`Y`/`N`/`undefined`): whether they can see it after.
    #[serde(rename = "IS_ACCESSIBLE_AFTER", deserialize_with = "lenient::opt_bool")]
    pub is_accessible_after: Option<bool>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TaskData {
    /// The task's id, from `FIELDS_AFTER`, or from `FIELDS_BEFORE` for a delete.
    pub fn task_id(&self) -> Option<u64> {
        self.fields_after
            .as_ref()
            .and_then(|fields| fields.id)
            .or_else(|| self.fields_before.as_ref().and_then(|fields| fields.id))
    }
}

/// `FIELDS_BEFORE` / `FIELDS_AFTER` of a task event.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TaskRef {
    /// `ID`: the task's id.
    #[serde(rename = "ID", deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `ONTASKCOMMENTADD`, `ONTASKCOMMENTUPDATE` and `ONTASKCOMMENTDELETE`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TaskCommentData {
    /// `FIELDS_BEFORE`: the comment before the change; `None` for an add.
    #[serde(rename = "FIELDS_BEFORE", deserialize_with = "lenient::opt_block")]
    pub fields_before: Option<TaskCommentRef>,
    /// `FIELDS_AFTER`: the comment after the change.
    #[serde(rename = "FIELDS_AFTER", deserialize_with = "lenient::opt_block")]
    pub fields_after: Option<TaskCommentRef>,
    /// `IS_ACCESSIBLE_BEFORE` (`Y`/`N`/`undefined`).
    #[serde(
        rename = "IS_ACCESSIBLE_BEFORE",
        deserialize_with = "lenient::opt_bool"
    )]
    pub is_accessible_before: Option<bool>,
    /// `IS_ACCESSIBLE_AFTER` (`Y`/`N`/`undefined`).
    #[serde(rename = "IS_ACCESSIBLE_AFTER", deserialize_with = "lenient::opt_bool")]
    pub is_accessible_after: Option<bool>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TaskCommentData {
    fn side(&self) -> Option<&TaskCommentRef> {
        self.fields_after.as_ref().or(self.fields_before.as_ref())
    }

    /// The comment's id (`FIELDS_AFTER[ID]`, else `FIELDS_BEFORE[ID]`).
    pub fn comment_id(&self) -> Option<u64> {
        self.side().and_then(|fields| fields.id)
    }

    /// The task's id (`FIELDS_AFTER[TASK_ID]`, else `FIELDS_BEFORE[TASK_ID]`).
    pub fn task_id(&self) -> Option<u64> {
        self.side().and_then(|fields| fields.task_id)
    }
}

/// `FIELDS_BEFORE` / `FIELDS_AFTER` of a task-comment event.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TaskCommentRef {
    /// `ID`: the comment's id.
    #[serde(rename = "ID", deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// `TASK_ID`: the task the comment belongs to.
    #[serde(rename = "TASK_ID", deserialize_with = "lenient::opt_u64")]
    pub task_id: Option<u64>,
    /// `ACTION`: what happened to the comment in update and delete events (`EDIT`, `DEL`), when
    /// the portal says.
    #[serde(rename = "ACTION", deserialize_with = "lenient::opt_string")]
    pub action: Option<String>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
