//! What tests observe: the bot's messages, files and callback answers as plain data.

use bytes::Bytes;
use serde_json::Value;

/// The kind of file a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaKind {
    /// `photo`: the bot API reports it as a list of sizes; the sandbox reports one.
    Photo,
    /// `document`: any file sent as is.
    Document,
    /// `voice`: an OGG/Opus voice note.
    Voice,
    /// `audio`: a music file.
    Audio,
    /// `video`: an MP4 video.
    Video,
    /// `sticker`: a static WEBP sticker.
    Sticker,
}

impl MediaKind {
    /// The message field and the `send*` method suffix for this kind (`photo`, `voice`, ...).
    pub fn field(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Document => "document",
            Self::Voice => "voice",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Sticker => "sticker",
        }
    }

    /// The folder Telegram puts this kind of file in, which shows in `file_path`.
    pub(crate) fn folder(self) -> &'static str {
        match self {
            Self::Photo => "photos",
            Self::Document => "documents",
            Self::Voice => "voice",
            Self::Audio => "music",
            Self::Video => "videos",
            Self::Sticker => "stickers",
        }
    }
}

/// A file the sandbox holds: uploaded by the bot or sent by a simulated customer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SentFile {
    /// How the message carries it.
    pub kind: MediaKind,
    /// The `file_id` the bot can reuse or pass to `getFile`.
    pub file_id: String,
    /// The file name, when the upload had one.
    pub file_name: Option<String>,
    /// The MIME type, from the upload or guessed from the file name.
    pub mime_type: Option<String>,
    /// The content.
    pub bytes: Bytes,
}

/// One message the bot sent, as it stands now (after edits, possibly deleted).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The private chat it went to (the customer's user id).
    pub chat_id: i64,
    /// Its id inside that chat.
    pub message_id: i32,
    /// Unix seconds when it was sent.
    pub date: i64,
    /// The text exactly as the bot sent it, markup included (`None` for media).
    pub text: Option<String>,
    /// The caption exactly as the bot sent it, markup included.
    pub caption: Option<String>,
    /// The text or caption as the customer sees it: markup removed, entities decoded.
    pub rendered: Option<String>,
    /// The `parse_mode` of the latest text or caption (`HTML`, `MarkdownV2`, ...).
    pub parse_mode: Option<String>,
    /// The attached file, for media messages.
    pub file: Option<SentFile>,
    /// The `reply_markup` as sent (inline keyboards and the other keyboard kinds).
    pub reply_markup: Option<Value>,
    /// The message this one replies to.
    pub reply_to_message_id: Option<i32>,
    /// How many times the bot edited it.
    pub edit_count: u32,
    /// Whether the bot deleted it.
    pub deleted: bool,
}

impl SentMessage {
    /// The `callback_data` of every inline button, row by row.
    pub fn callback_data(&self) -> Vec<String> {
        self.reply_markup
            .as_ref()
            .and_then(|markup| markup["inline_keyboard"].as_array())
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|button| button["callback_data"].as_str().map(str::to_owned))
            .collect()
    }
}

/// The bot's answer to a pressed inline button (`answerCallbackQuery`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackAnswer {
    /// The `callback_query.id` that was answered.
    pub callback_query_id: String,
    /// The notification text, if any.
    pub text: Option<String>,
    /// Whether the text is shown as an alert instead of a toast.
    pub show_alert: bool,
    /// The URL the client should open, if any.
    pub url: Option<String>,
}

/// One attempt to deliver an update to the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookAttempt {
    /// The update that was posted.
    pub update_id: i64,
    /// 1 for the first try, then 2, 3, ...
    pub attempt: u32,
    /// The HTTP status the webhook answered, `None` when the request itself failed.
    pub status: Option<u16>,
}
