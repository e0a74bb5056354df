//! Errors of the control API (starting the sandbox, simulating customers, waiting).

use std::time::Duration;

/// What went wrong while driving the sandbox from a test.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxTelegramError {
    /// The listening socket could not be bound or has no local address.
    #[error("the sandbox Telegram server could not listen on 127.0.0.1:{port}")]
    Bind {
        /// The port that was asked for (0 means any free port).
        port: u16,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox's own HTTP client (used for webhook delivery) could not be built.
    #[error("the sandbox's webhook HTTP client could not be created")]
    HttpClient(#[source] reqwest::Error),
    /// A customer referred to a message that does not exist (or was deleted) in their chat.
    #[error("message {message_id} does not exist in chat {chat_id}")]
    MessageNotFound {
        /// The private chat (the customer's user id).
        chat_id: i64,
        /// The message that was referred to.
        message_id: i32,
    },
    /// A customer tried to edit a message they did not write.
    #[error("message {message_id} in chat {chat_id} was not written by the customer")]
    NotEditable {
        /// The private chat (the customer's user id).
        chat_id: i64,
        /// The message that was referred to.
        message_id: i32,
    },
    /// A customer pressed a button that the message's inline keyboard does not have.
    #[error(
        "message {message_id} in chat {chat_id} has no inline button with callback data {data:?}"
    )]
    NoSuchButton {
        /// The private chat (the customer's user id).
        chat_id: i64,
        /// The bot message that was pressed.
        message_id: i32,
        /// The callback data that was looked for.
        data: String,
    },
    /// A wait ended before the condition held.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
}
