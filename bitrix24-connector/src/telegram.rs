//! Telegram side of the Telegram ↔ Bitrix24 Open Lines bridge.
//!
//! - [`markup`]: message text conversion between Bitrix24 BB-code and Telegram HTML, and splitting
//!   long messages to Telegram's size limits.

pub mod markup;
