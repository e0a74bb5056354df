//! Telegram side of the Telegram ↔ Bitrix24 Open Lines bridge and of the approval flow.
//!
//! - [`markup`]: message text conversion between Bitrix24 BB-code and Telegram HTML, and splitting
//!   long messages to Telegram's size limits.
//! - [`inbox`]: the durable inbox of updates, handed out per chat in order.
//! - [`polling`]: `getUpdates` long polling into the inbox.
//! - [`webhook`]: the webhook route storing updates into the inbox, and `setWebhook`.
//! - [`send`]: sending messages and files, with failures classified for an outbox.

pub mod inbox;
pub mod markup;
pub mod polling;
pub mod receive;
pub mod send;
pub mod webhook;
