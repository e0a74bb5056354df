//! Simulated customers: a Telegram user in a private chat with the bot.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::error::SandboxTelegramError;
use super::record::MediaKind;
use super::shared::Shared;
use super::state::{Content, Formatted, Msg, PendingCallback, State, UserInfo, now};
use super::wire;

/// A Telegram user talking to the bot in a private chat. Every action queues the update
/// the bot would receive and returns the id of the customer's new message.
///
/// Cheap to clone; clones act as the same user.
#[derive(Clone)]
pub struct Customer {
    shared: Arc<Shared>,
    user: UserInfo,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("id", &self.user.id)
            .field("first_name", &self.user.first_name)
            .finish_non_exhaustive()
    }
}

impl Customer {
    pub(crate) fn new(shared: Arc<Shared>, user: UserInfo) -> Self {
        Self { shared, user }
    }

    /// The user's id, which is also the id of their private chat with the bot.
    pub fn id(&self) -> i64 {
        self.user.id
    }

    /// The private chat's id (equal to [`id`](Self::id), as in Telegram).
    pub fn chat_id(&self) -> i64 {
        self.user.id
    }

    /// The user's first name.
    pub fn first_name(&self) -> &str {
        &self.user.first_name
    }

    /// Writes a text message. A leading `/command` gets a `bot_command` entity.
    pub fn send_text(&self, text: &str) -> i32 {
        self.post(text_content(text), None)
    }

    /// Writes a text message that replies to `reply_to` (the bot's or their own).
    ///
    /// # Errors
    /// [`SandboxTelegramError::MessageNotFound`] when the chat has no such message.
    pub fn reply_text(&self, reply_to: i32, text: &str) -> Result<i32, SandboxTelegramError> {
        self.existing(reply_to)?;
        Ok(self.post(text_content(text), Some(reply_to)))
    }

    /// Opens the bot through a `t.me/<bot>?start=PAYLOAD` link: sends `/start PAYLOAD`, or
    /// just `/start` without a payload.
    pub fn start(&self, payload: Option<&str>) -> i32 {
        match payload {
            Some(payload) => self.send_text(&format!("/start {payload}")),
            None => self.send_text("/start"),
        }
    }

    /// Edits one of their own text messages; the bot gets an `edited_message` update.
    ///
    /// # Errors
    /// [`SandboxTelegramError::MessageNotFound`] for an unknown or deleted message,
    /// [`SandboxTelegramError::NotEditable`] for a message the customer did not write.
    pub fn edit_text(&self, message_id: i32, text: &str) -> Result<(), SandboxTelegramError> {
        let chat_id = self.chat_id();
        self.shared.modify(|state| {
            let chat =
                state
                    .chats
                    .get_mut(&chat_id)
                    .ok_or(SandboxTelegramError::MessageNotFound {
                        chat_id,
                        message_id,
                    })?;
            let msg =
                chat.message_mut(message_id)
                    .ok_or(SandboxTelegramError::MessageNotFound {
                        chat_id,
                        message_id,
                    })?;
            if msg.from_bot || !matches!(msg.content, Content::Text(_)) {
                return Err(SandboxTelegramError::NotEditable {
                    chat_id,
                    message_id,
                });
            }
            msg.content = text_content(text);
            msg.edit_date = Some(now());
            msg.edit_count += 1;
            let payload = self.render(state, message_id);
            state.push_update("edited_message", payload);
            Ok(())
        })
    }

    /// Sends a photo. The sandbox keeps the bytes, so `getFile` and the download return them.
    pub fn send_photo(&self, bytes: impl Into<Bytes>, caption: Option<&str>) -> i32 {
        self.media(MediaKind::Photo, bytes.into(), None, caption, 0, None)
    }

    /// Sends a file as a document.
    pub fn send_document(
        &self,
        bytes: impl Into<Bytes>,
        file_name: &str,
        caption: Option<&str>,
    ) -> i32 {
        self.media(
            MediaKind::Document,
            bytes.into(),
            Some(file_name),
            caption,
            0,
            None,
        )
    }

    /// Records a voice note of `duration_secs` seconds.
    pub fn send_voice(&self, bytes: impl Into<Bytes>, duration_secs: u32) -> i32 {
        self.media(
            MediaKind::Voice,
            bytes.into(),
            None,
            None,
            duration_secs,
            None,
        )
    }

    /// Sends a music file.
    pub fn send_audio(&self, bytes: impl Into<Bytes>, file_name: &str, duration_secs: u32) -> i32 {
        self.media(
            MediaKind::Audio,
            bytes.into(),
            Some(file_name),
            None,
            duration_secs,
            None,
        )
    }

    /// Sends a video.
    pub fn send_video(
        &self,
        bytes: impl Into<Bytes>,
        duration_secs: u32,
        caption: Option<&str>,
    ) -> i32 {
        self.media(
            MediaKind::Video,
            bytes.into(),
            None,
            caption,
            duration_secs,
            None,
        )
    }

    /// Sends a static sticker showing `emoji`.
    pub fn send_sticker(&self, bytes: impl Into<Bytes>, emoji: &str) -> i32 {
        self.media(MediaKind::Sticker, bytes.into(), None, None, 0, Some(emoji))
    }

    /// Shares their own phone number (the "share contact" button): the contact's `user_id`
    /// is the customer's, which is how a bot knows the number is verified.
    pub fn share_contact(&self, phone_number: &str) -> i32 {
        self.post(
            Content::Contact {
                phone_number: phone_number.to_owned(),
                first_name: self.user.first_name.clone(),
                last_name: self.user.last_name.clone(),
                user_id: Some(self.user.id),
            },
            None,
        )
    }

    /// Forwards somebody else's contact card (no `user_id`).
    pub fn send_contact(&self, phone_number: &str, first_name: &str) -> i32 {
        self.post(
            Content::Contact {
                phone_number: phone_number.to_owned(),
                first_name: first_name.to_owned(),
                last_name: None,
                user_id: None,
            },
            None,
        )
    }

    /// Sends a location pin.
    pub fn send_location(&self, latitude: f64, longitude: f64) -> i32 {
        self.post(
            Content::Location {
                latitude,
                longitude,
            },
            None,
        )
    }

    /// Presses an inline button of a bot message; the bot gets a `callback_query` update.
    /// Returns the query id the bot must answer with `answerCallbackQuery`.
    ///
    /// # Errors
    /// [`SandboxTelegramError::MessageNotFound`] for an unknown or deleted message,
    /// [`SandboxTelegramError::NoSuchButton`] when its keyboard has no button with `data`.
    pub fn press_button(
        &self,
        message_id: i32,
        data: &str,
    ) -> Result<String, SandboxTelegramError> {
        let chat_id = self.chat_id();
        self.shared.modify(|state| {
            let sent = state
                .chats
                .get(&chat_id)
                .and_then(|chat| chat.message(message_id))
                .filter(|msg| msg.from_bot)
                .map(|msg| state.sent_message(chat_id, msg))
                .ok_or(SandboxTelegramError::MessageNotFound {
                    chat_id,
                    message_id,
                })?;
            if !sent.callback_data().iter().any(|d| d == data) {
                return Err(SandboxTelegramError::NoSuchButton {
                    chat_id,
                    message_id,
                    data: data.to_owned(),
                });
            }
            state.callback_seq += 1;
            let id = format!("{}{:06}", self.user.id.unsigned_abs(), state.callback_seq);
            state
                .callbacks
                .insert(id.clone(), PendingCallback { answered: false });
            let payload = json!({
                "id": id,
                "from": wire::user(&self.user),
                "message": self.render(state, message_id),
                "chat_instance": format!("-{}", self.user.id.unsigned_abs()),
                "data": data,
            });
            state.push_update("callback_query", payload);
            Ok(id)
        })
    }

    /// Stops the bot: the bot's sends to this chat fail with 403 until
    /// [`unblock_bot`](Self::unblock_bot).
    pub fn block_bot(&self) {
        self.set_blocked(true);
    }

    /// Restarts the bot after [`block_bot`](Self::block_bot).
    pub fn unblock_bot(&self) {
        self.set_blocked(false);
    }

    fn set_blocked(&self, blocked: bool) {
        let chat_id = self.chat_id();
        self.shared.modify(|state| {
            if let Some(chat) = state.chats.get_mut(&chat_id) {
                chat.blocked = blocked;
            }
        });
    }

    fn existing(&self, message_id: i32) -> Result<(), SandboxTelegramError> {
        let chat_id = self.chat_id();
        let state = self.shared.lock();
        state
            .chats
            .get(&chat_id)
            .and_then(|chat| chat.message(message_id))
            .map(|_| ())
            .ok_or(SandboxTelegramError::MessageNotFound {
                chat_id,
                message_id,
            })
    }

    fn media(
        &self,
        kind: MediaKind,
        bytes: Bytes,
        file_name: Option<&str>,
        caption: Option<&str>,
        duration: u32,
        emoji: Option<&str>,
    ) -> i32 {
        let file_id = self
            .shared
            .modify(|state| state.store_file(kind, bytes, file_name.map(str::to_owned), None));
        self.post(
            Content::Media {
                kind,
                file_id,
                caption: caption.map(|c| Formatted::plain(c, Vec::new())),
                duration,
                emoji: emoji.map(str::to_owned),
            },
            None,
        )
    }

    fn post(&self, content: Content, reply_to: Option<i32>) -> i32 {
        let chat_id = self.chat_id();
        self.shared.modify(|state| {
            let Some(chat) = state.chats.get_mut(&chat_id) else {
                return 0;
            };
            let id = chat.take_message_id();
            chat.messages.push(Msg {
                id,
                from_bot: false,
                date: now(),
                edit_date: None,
                content,
                parse_mode: None,
                reply_to,
                reply_markup: None,
                edit_count: 0,
                deleted: false,
            });
            let payload = self.render(state, id);
            state.push_update("message", payload);
            id
        })
    }

    fn render(&self, state: &State, message_id: i32) -> Value {
        state
            .chats
            .get(&self.chat_id())
            .and_then(|chat| {
                chat.messages
                    .iter()
                    .find(|m| m.id == message_id)
                    .map(|m| (chat, m))
            })
            .map_or(Value::Null, |(chat, msg)| {
                wire::message(state, &self.shared.bot, chat, msg)
            })
    }
}

/// A customer's text: a leading `/command` is marked the way Telegram clients mark it.
fn text_content(text: &str) -> Content {
    let mut entities = Vec::new();
    if text.starts_with('/') {
        let command = text.split_whitespace().next().unwrap_or_default();
        entities.push(json!({
            "type": "bot_command",
            "offset": 0,
            "length": command.encode_utf16().count(),
        }));
    }
    Content::Text(Formatted::plain(text, entities))
}
