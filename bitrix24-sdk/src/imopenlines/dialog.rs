//! [`Dialog`]: an open-line chat of `imopenlines.dialog.get`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{BxDateTime, Id, lenient, via_value};

/// An open-line dialog (its chat), as `imopenlines.dialog.get` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Dialog {
    /// `id`: the id.
    pub id: Id,
    /// `dialog_id`: the dialog id for `im.*` calls (`chat<id>`).
    #[serde(default, with = "lenient::empty_as_none")]
    pub dialog_id: Option<String>,
    /// `name`: the chat's name.
    #[serde(default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `description`: description.
    #[serde(default, with = "lenient::empty_as_none")]
    pub description: Option<String>,
    /// `owner`: the operator who owns the chat.
    #[serde(default, with = "lenient::opt")]
    pub owner: Option<Id>,
    /// `type`: chat type (`lines`).
    #[serde(rename = "type", default, with = "lenient::empty_as_none")]
    pub chat_type: Option<String>,
    /// `entity_type`: `LINES` for open-line chats.
    #[serde(default, with = "lenient::empty_as_none")]
    pub entity_type: Option<String>,
    /// `entity_id`: the line and client (`<connector>|<line>|<external chat>|<user>`).
    #[serde(default, with = "lenient::empty_as_none")]
    pub entity_id: Option<String>,
    /// `entity_data_1`: session state, `|`-separated (CRM binding, session id, …).
    #[serde(default, with = "lenient::empty_as_none")]
    pub entity_data_1: Option<String>,
    /// `entity_data_2`: linked CRM records, `|`-separated (`LEAD|1209|COMPANY|0|…`).
    #[serde(default, with = "lenient::empty_as_none")]
    pub entity_data_2: Option<String>,
    /// `entity_data_3`: more session state.
    #[serde(default, with = "lenient::empty_as_none")]
    pub entity_data_3: Option<String>,
    /// `parent_chat_id`: the parent chat.
    #[serde(default, with = "lenient::opt")]
    pub parent_chat_id: Option<Id>,
    /// `parent_message_id`: the parent message.
    #[serde(default, with = "lenient::opt")]
    pub parent_message_id: Option<Id>,
    /// `extranet`: whether external users take part.
    #[serde(default, with = "lenient::yes_no")]
    pub extranet: Option<bool>,
    /// `avatar`: avatar URL.
    #[serde(default, with = "lenient::empty_as_none")]
    pub avatar: Option<String>,
    /// `color`: the chat's colour.
    #[serde(default, with = "lenient::empty_as_none")]
    pub color: Option<String>,
    /// `date_create`: when the chat was created.
    #[serde(default, with = "lenient::opt")]
    pub date_create: Option<BxDateTime>,
    /// `message_count`: number of messages.
    #[serde(default, with = "lenient::opt_u64")]
    pub message_count: Option<u64>,
    /// `user_counter`: number of members.
    #[serde(default, with = "lenient::opt_u64")]
    pub user_counter: Option<u64>,
    /// `counter`: unread messages of the caller.
    #[serde(default, with = "lenient::opt_u64")]
    pub counter: Option<u64>,
    /// `unread_id`: the caller's first unread message.
    #[serde(default, with = "lenient::opt")]
    pub unread_id: Option<Id>,
    /// `last_message_id`: the last message.
    #[serde(default, with = "lenient::opt")]
    pub last_message_id: Option<Id>,
    /// `last_id`: the caller's last read message.
    #[serde(default, with = "lenient::opt")]
    pub last_id: Option<Id>,
    /// `marked_id`: the message the caller marked unread.
    #[serde(default, with = "lenient::opt")]
    pub marked_id: Option<Id>,
    /// `disk_folder_id`: the chat's Disk folder.
    #[serde(default, with = "lenient::opt")]
    pub disk_folder_id: Option<Id>,
    /// `manager_list`: the chat's managers.
    #[serde(default, with = "lenient::seq")]
    pub manager_list: Vec<Id>,
    /// `mute_list`: who muted the chat.
    #[serde(default)]
    pub mute_list: Option<Value>,
    /// `role`: the caller's role (`owner`, `manager`, `member`).
    #[serde(default, with = "lenient::empty_as_none")]
    pub role: Option<String>,
    /// `message_type`: message type (`L` for lines).
    #[serde(default, with = "lenient::empty_as_none")]
    pub message_type: Option<String>,
    /// `is_new`: whether the dialog is new to the caller.
    #[serde(default, with = "lenient::yes_no")]
    pub is_new: Option<bool>,
    /// `restrictions`: what the chat allows (`avatar`, `rename`, `send`, …).
    #[serde(default)]
    pub restrictions: Option<Value>,
    /// `permissions`: who may do what in the chat.
    #[serde(default)]
    pub permissions: Option<Value>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Dialog);
