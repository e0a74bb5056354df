//! Connector models: per-message outcomes and connector status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{Id, lenient, via_value};

/// The `result` of `imconnector.send.messages`, `imconnector.update.messages`,
/// `imconnector.delete.messages` and `imconnector.send.status.delivery` / `.reading`.
///
/// `SUCCESS` says the call was accepted; each message has its own outcome in
/// [`SendMessagesResult::results`] (a rejected message is `SUCCESS: false` with `ERRORS`, inside
/// an HTTP 200 reply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct SendMessagesResult {
    /// `SUCCESS`: whether the call was accepted.
    #[serde(rename = "SUCCESS", default, with = "lenient::yes_no")]
    pub success: Option<bool>,
    /// `DATA`: the per-message outcomes (`[]` for the status methods).
    #[serde(rename = "DATA", default, with = "lenient::opt")]
    pub data: Option<SendMessagesData>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(SendMessagesResult);

/// `DATA` of a [`SendMessagesResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct SendMessagesData {
    /// `RESULT`: one outcome per message, in the order sent.
    #[serde(rename = "RESULT", default, with = "lenient::seq")]
    pub result: Vec<MessageOutcome>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(SendMessagesData);

/// The outcome of one message of `imconnector.send.messages` (and the update, delete and status
/// methods).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct MessageOutcome {
    /// `SUCCESS`: whether this message was accepted.
    #[serde(rename = "SUCCESS", default, with = "lenient::yes_no")]
    pub success: Option<bool>,
    /// `ERRORS`: why it was not (text or error objects).
    #[serde(rename = "ERRORS", default, with = "lenient::seq")]
    pub errors: Vec<Value>,
    /// `user`: the portal's id of the external user who wrote it.
    #[serde(default, with = "lenient::empty_as_none")]
    pub user: Option<String>,
    /// `message`: the message as the portal stored it (`id`, `date`, `text`, `files`).
    #[serde(default)]
    pub message: Option<Value>,
    /// `chat`: the external chat (`id`, `name`, `description`, …).
    #[serde(default)]
    pub chat: Option<Value>,
    /// `session`: the open-line session and chat the message went to.
    #[serde(default, with = "lenient::opt")]
    pub session: Option<ConnectorSession>,
    /// Every other field, verbatim (`extra` echoed back, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(MessageOutcome);

/// The open-line session a connector message went to (`session` of a [`MessageOutcome`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct ConnectorSession {
    /// `ID`: the session id.
    #[serde(rename = "ID", default, with = "lenient::opt")]
    pub session_id: Option<Id>,
    /// `CHAT_ID`: the open-line chat id (for `imopenlines.*` and `im.*` calls).
    #[serde(rename = "CHAT_ID", default, with = "lenient::opt")]
    pub chat_id: Option<Id>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(ConnectorSession);

/// The `result` of `imconnector.status`: whether a connector is set up on an open line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct ConnectorStatus {
    /// `LINE`: the open line.
    #[serde(rename = "LINE", default, with = "lenient::opt")]
    pub line: Option<Id>,
    /// `CONNECTOR`: the connector id.
    #[serde(rename = "CONNECTOR", default, with = "lenient::empty_as_none")]
    pub connector: Option<String>,
    /// `ERROR`: whether the connector is in an error state.
    #[serde(rename = "ERROR", default, with = "lenient::yes_no")]
    pub error: Option<bool>,
    /// `CONFIGURED`: whether it is configured on the line.
    #[serde(rename = "CONFIGURED", default, with = "lenient::yes_no")]
    pub configured: Option<bool>,
    /// `STATUS`: whether it is active.
    #[serde(rename = "STATUS", default, with = "lenient::yes_no")]
    pub status: Option<bool>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(ConnectorStatus);

impl SendMessagesResult {
    /// The per-message outcomes, in the order the messages were sent.
    pub fn results(&self) -> &[MessageOutcome] {
        self.data
            .as_ref()
            .map_or(&[], |data| data.result.as_slice())
    }

    /// Whether the call and every message succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.success == Some(true) && self.results().iter().all(MessageOutcome::succeeded)
    }
}

impl MessageOutcome {
    /// Whether this message was accepted.
    pub fn succeeded(&self) -> bool {
        self.success == Some(true)
    }

    /// The external message id echoed back (`message.id`).
    pub fn message_id(&self) -> Option<&str> {
        self.message.as_ref()?.get("id")?.as_str()
    }

    /// The external chat id echoed back (`chat.id`).
    pub fn external_chat_id(&self) -> Option<&str> {
        self.chat.as_ref()?.get("id")?.as_str()
    }

    /// The open-line chat the message went to (`session.CHAT_ID`).
    pub fn chat_id(&self) -> Option<Id> {
        self.session.as_ref()?.chat_id
    }

    /// The error texts (error objects are shown as JSON).
    pub fn error_messages(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|error| match error {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn per_message_outcomes() {
        let reply: SendMessagesResult = serde_json::from_value(json!({
            "SUCCESS": true,
            "DATA": {"RESULT": [
                {"user": "585", "message": {"id": "m1", "date": {}}, "chat": {"id": "c1"},
                 "SUCCESS": true, "session": {"ID": "323", "CHAT_ID": "1767"}},
                {"message": {"id": "m2"}, "chat": {"id": "c1"}, "SUCCESS": false,
                 "ERRORS": ["The message is empty"]}
            ]}
        }))
        .unwrap();
        assert_eq!(reply.results().len(), 2);
        assert!(!reply.all_succeeded());
        let first = &reply.results()[0];
        assert_eq!(first.chat_id(), Some(Id(1767)));
        assert_eq!(first.message_id(), Some("m1"));
        assert_eq!(first.external_chat_id(), Some("c1"));
        assert_eq!(first.session.as_ref().unwrap().session_id, Some(Id(323)));
        assert_eq!(
            reply.results()[1].error_messages(),
            vec!["The message is empty"]
        );

        for empty in [
            json!({"SUCCESS": true, "DATA": []}),
            json!({"SUCCESS": true, "DATA": {"RESULT": {}}}),
        ] {
            let reply: SendMessagesResult = serde_json::from_value(empty).unwrap();
            assert!(reply.results().is_empty());
            assert!(reply.all_succeeded());
        }
    }
}
