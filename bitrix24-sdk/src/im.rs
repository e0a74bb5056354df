//! The `im` scope: typed requests, curated models and handles.
//!
//! `im.message.add` returns the new message's id and `im.notify.personal.add` /
//! `im.notify.system.add` the new notification's id; both are plain [`Id`]s, named here for
//! readability.

use crate::types::Id;

/// The id of a chat message (`im.message.add`, `im.message.update`, `im.message.delete`).
pub type MessageId = Id;

/// The id of a notification (`im.notify.personal.add`, `im.notify.system.add`,
/// `im.notify.delete`).
pub type NotificationId = Id;

pub use crate::handles::im::Im;
