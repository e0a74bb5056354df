//! Open Lines and custom-connector events (`ONIMCONNECTOR*`, `ONOPENLINEMESSAGE*`,
//! `ONSESSION*`).
//!
//! They fire only for an app's own connectors. Two id spaces meet here: Bitrix24's own ids
//! (chat, message, session, user: numbers) and the connector's external ids (the channel's chat
//! and user ids, its message ids: any text). External ids are `String`s.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::lenient;

/// `data` of `ONIMCONNECTORMESSAGEADD`, `…UPDATE` and `…DELETE`: an operator wrote, edited or
/// deleted a message that the connector must deliver to its channel.
///
/// Confirm delivery with `imconnector.send.status.delivery`, passing back the `im` block.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImConnectorMessagesData {
    /// `CONNECTOR`: the connector's id.
    #[serde(rename = "CONNECTOR", deserialize_with = "lenient::opt_string")]
    pub connector: Option<String>,
    /// `LINE`: the open line's id.
    #[serde(rename = "LINE", deserialize_with = "lenient::opt_u64")]
    pub line: Option<u64>,
    /// `MESSAGES`: the messages.
    #[serde(rename = "MESSAGES", deserialize_with = "lenient::list")]
    pub messages: Vec<ImConnectorMessage>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One item of `data[MESSAGES]` in a connector message event.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImConnectorMessage {
    /// `im`: the message on the Bitrix24 side.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub im: Option<ImMessageRef>,
    /// `message`: its content and external ids.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub message: Option<ImConnectorMessageBody>,
    /// `chat`: the channel's chat.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub chat: Option<ExternalChatRef>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `im{chat_id, message_id}`: a message in Bitrix24's own chat.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImMessageRef {
    /// `chat_id`: the Bitrix24 chat.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub chat_id: Option<u64>,
    /// `message_id`: the Bitrix24 message.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub message_id: Option<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `message{…}` of a connector message event.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImConnectorMessageBody {
    /// `id`: the channel's message ids. An update sends a list, a delete a single string; both
    /// end up here. An add has none.
    #[serde(rename = "id", deserialize_with = "lenient::ids")]
    pub ids: Vec<String>,
    /// `user_id`: the operator who wrote it.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub user_id: Option<u64>,
    /// `text`: the text, in BB-code (`[b]Name:[/b] [br]text` when the line signs messages).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub text: Option<String>,
    /// `date`, when sent.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub date: Option<String>,
    /// `files`: attachments. The docs leave their shape open; the portal's own connectors get
    /// `files[n]{name, link, type}`.
    #[serde(deserialize_with = "lenient::list")]
    pub files: Vec<ImConnectorFile>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImConnectorMessageBody {
    /// The first external message id (the only one in a delete).
    pub fn id(&self) -> Option<&str> {
        self.ids.first().map(String::as_str)
    }
}

/// One attachment of an outgoing connector message.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImConnectorFile {
    /// `name`: the file name.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// `link`: where to download it.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub link: Option<String>,
    /// `type`: the kind of file, when sent.
    #[serde(rename = "type", deserialize_with = "lenient::opt_string")]
    pub file_type: Option<String>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `chat{id}` in connector events: the channel's own chat id.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ExternalChatRef {
    /// `id`: the external chat id (for example a Telegram chat id).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `ONIMCONNECTORLINEDELETE`: the open line was deleted. Bitrix24 sends the line id
/// as `data` itself (`data=107`), not as a key.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ImConnectorLineDeleteData {
    /// The deleted line's id.
    pub line: Option<u64>,
}

impl<'de> Deserialize<'de> for ImConnectorLineDeleteData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        // Also take a map with the id under a key, in case a portal ever sends one.
        let scalar = match &value {
            Value::Object(map) => ["LINE", "line", "ID", "id"]
                .iter()
                .find_map(|key| map.get(*key))
                .unwrap_or(&Value::Null),
            other => other,
        };
        let line = lenient::u64_of(scalar)
            .map_err(|_| D::Error::custom("expected the line id as the event's data"))?;
        Ok(Self { line })
    }
}

/// `data` of `ONIMCONNECTORSTATUSDELETE`: the connector was switched off on a line. The keys
/// are lower case here (`data[connector]`, `data[line]`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImConnectorStatusDeleteData {
    /// `connector`: the connector's id.
    #[serde(alias = "CONNECTOR", deserialize_with = "lenient::opt_string")]
    pub connector: Option<String>,
    /// `line`: the open line's id.
    #[serde(alias = "LINE", deserialize_with = "lenient::opt_u64")]
    pub line: Option<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of the open-line events: `ONOPENLINEMESSAGEADD`, `…UPDATE`, `…DELETE`,
/// `ONSESSIONSTART`, `ONSESSIONFINISH`, and the connector dialog events
/// `ONIMCONNECTORDIALOGSTART` / `…FINISH`.
///
/// Every item of `data[DATA]` describes one message or session; which blocks are present
/// depends on the event (messages: `connector`, `chat`, `message`, `ref`, `extra`, or `im`,
/// `message`, `chat` for changes; sessions: `connector`, `session`, `chat`, `user`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenLineData {
    /// `CONNECTOR`: the connector's id, when sent.
    #[serde(rename = "CONNECTOR", deserialize_with = "lenient::opt_string")]
    pub connector: Option<String>,
    /// `LINE`: the open line's id, when sent (a string in dialog events).
    #[serde(rename = "LINE", deserialize_with = "lenient::opt_u64")]
    pub line: Option<u64>,
    /// `DATA`: the items.
    #[serde(rename = "DATA", deserialize_with = "lenient::list")]
    pub items: Vec<OpenLineItem>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One item of `data[DATA]` in an open-line event.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenLineItem {
    /// `connector{connector_id, line_id, chat_id, user_id}`.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub connector: Option<OpenLineConnector>,
    /// `chat{id}`: the Bitrix24 chat.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub chat: Option<OpenLineChat>,
    /// `message{…}`, in message events.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub message: Option<OpenLineMessage>,
    /// `im{chat_id, message_id}`, in message update and delete events.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub im: Option<ImMessageRef>,
    /// `session{…}`, in session and dialog events.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub session: Option<OpenLineSession>,
    /// `user{id}`: the customer, in session and dialog events.
    #[serde(deserialize_with = "lenient::opt_block")]
    pub user: Option<OpenLineUser>,
    /// `ref`: a reference the message quotes, when any.
    #[serde(rename = "ref", deserialize_with = "lenient::opt_value")]
    pub reference: Option<Value>,
    /// `extra{EXTRA_URL}`: where the customer wrote from, in message events.
    #[serde(rename = "extra", deserialize_with = "lenient::map")]
    pub extra_info: Map<String, Value>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `connector{…}` of an open-line item.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenLineConnector {
    /// `connector_id`: the connector's id.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub connector_id: Option<String>,
    /// `line_id`: the open line's id.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub line_id: Option<u64>,
    /// `chat_id`: the channel's chat id (external).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub chat_id: Option<String>,
    /// `user_id`: the channel's user id (external).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub user_id: Option<String>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `chat{id}` of an open-line item: the Bitrix24 chat.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenLineChat {
    /// `id`: the Bitrix24 chat id.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `message{…}` of an open-line item.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenLineMessage {
    /// `id`: the Bitrix24 message id.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// `date`, when sent (often `""`).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub date: Option<String>,
    /// `text`.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub text: Option<String>,
    /// `files`: attachments, as sent.
    #[serde(deserialize_with = "lenient::list")]
    pub files: Vec<Value>,
    /// `attach`: rich attachment blocks, as sent; `None` when empty.
    #[serde(deserialize_with = "lenient::opt_value")]
    pub attach: Option<Value>,
    /// `system` (`Y`/`N`): a system message rather than a person's.
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub system: Option<bool>,
    /// `user_id`: the author.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub user_id: Option<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `session{…}` of an open-line item.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenLineSession {
    /// `id`: the session's id.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// `closed` (`Y`/`N`).
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub closed: Option<bool>,
    /// `parent_id`: the session this one continues, 0 for none.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub parent_id: Option<u64>,
    /// `close_term`: minutes of silence after which the session closes.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub close_term: Option<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `user{id}` of an open-line item: the customer's Bitrix24 user.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenLineUser {
    /// `id`: the user id (0 when not known yet).
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
