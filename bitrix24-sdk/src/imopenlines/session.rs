//! [`Session`]: an open-line session of `imopenlines.session.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{BxDateTime, Id, lenient, via_value};

/// An open-line session with its messages, as `imopenlines.session.history.get` returns it.
///
/// The messages are keyed by message id in [`Session::messages`]; users, chats and files are kept
/// as the portal writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Session {
    /// `chatId`: the open-line chat.
    #[serde(rename = "chatId")]
    pub id: Id,
    /// `sessionId`: the session.
    #[serde(rename = "sessionId", default, with = "lenient::opt")]
    pub session_id: Option<Id>,
    /// `userId`: the dialog id the history is for (`chat<id>`).
    #[serde(rename = "userId", default, with = "lenient::empty_as_none")]
    pub user_id: Option<String>,
    /// `canJoin`: whether the caller may join the conversation.
    #[serde(rename = "canJoin", default, with = "lenient::yes_no")]
    pub can_join: Option<bool>,
    /// `canVoteHead`: whether the caller may rate the session as a supervisor.
    #[serde(rename = "canVoteHead", default, with = "lenient::yes_no")]
    pub can_vote_head: Option<bool>,
    /// `sessionVoteHead`: the supervisor's rating.
    #[serde(rename = "sessionVoteHead", default, with = "lenient::opt_i64")]
    pub session_vote_head: Option<i64>,
    /// `sessionCommentHead`: the supervisor's comment.
    #[serde(
        rename = "sessionCommentHead",
        default,
        with = "lenient::empty_as_none"
    )]
    pub session_comment_head: Option<String>,
    /// `message`: the messages, by message id.
    #[serde(rename = "message", default, with = "lenient::map")]
    pub messages: BTreeMap<String, HistoryMessage>,
    /// `usersMessage`: message ids per dialog.
    #[serde(rename = "usersMessage", default)]
    pub users_message: Option<Value>,
    /// `users`: the users taking part, by user id.
    #[serde(default)]
    pub users: Option<Value>,
    /// `chat`: the chat, by chat id.
    #[serde(default)]
    pub chat: Option<Value>,
    /// `files`: the files sent, by file id.
    #[serde(default)]
    pub files: Option<Value>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Session);

/// One message of a [`Session`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct HistoryMessage {
    /// `id`: the id.
    pub id: Id,
    /// `chatid`: the chat.
    #[serde(rename = "chatid", default, with = "lenient::opt")]
    pub chat_id: Option<Id>,
    /// `senderid`: the author (`0` for system messages).
    #[serde(rename = "senderid", default, with = "lenient::opt")]
    pub sender_id: Option<Id>,
    /// `recipientid`: the dialog (`chat<id>`).
    #[serde(rename = "recipientid", default, with = "lenient::empty_as_none")]
    pub recipient_id: Option<String>,
    /// `date`: when it was sent.
    #[serde(default, with = "lenient::opt")]
    pub date: Option<BxDateTime>,
    /// `text`: the text (BB-code).
    #[serde(default, with = "lenient::empty_as_none")]
    pub text: Option<String>,
    /// `textlegacy`: the text as HTML.
    #[serde(rename = "textlegacy", default, with = "lenient::empty_as_none")]
    pub text_legacy: Option<String>,
    /// `params`: message parameters (`fileId`, `attach`, `connectorMid`, …).
    #[serde(default)]
    pub params: Option<Value>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(HistoryMessage);

/// The `result` of `imopenlines.session.open`: the chat of a client's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct SessionChat {
    /// `chatId`: the open-line chat.
    #[serde(rename = "chatId")]
    pub id: Id,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(SessionChat);
