//! The sandbox's memory: chats and their messages, files, pending updates, faults.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;
use url::Url;

use super::html::Parsed;
use super::record::{CallbackAnswer, MediaKind, SentFile, SentMessage, WebhookAttempt};

/// A Telegram user: a simulated customer or the bot itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserInfo {
    pub(crate) id: i64,
    pub(crate) is_bot: bool,
    pub(crate) first_name: String,
    pub(crate) last_name: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) language_code: Option<String>,
}

/// A text or caption: what was sent and what Telegram made of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Formatted {
    pub(crate) source: String,
    pub(crate) parsed: Parsed,
}

impl Formatted {
    /// Plain text with no markup, as customers write it.
    pub(crate) fn plain(text: &str, entities: Vec<Value>) -> Self {
        Self {
            source: text.to_owned(),
            parsed: Parsed {
                text: text.to_owned(),
                entities,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Content {
    Text(Formatted),
    Media {
        kind: MediaKind,
        file_id: String,
        caption: Option<Formatted>,
        /// Seconds, for voice, audio and video.
        duration: u32,
        /// For stickers.
        emoji: Option<String>,
    },
    Contact {
        phone_number: String,
        first_name: String,
        last_name: Option<String>,
        user_id: Option<i64>,
    },
    Location {
        latitude: f64,
        longitude: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Msg {
    pub(crate) id: i32,
    pub(crate) from_bot: bool,
    pub(crate) date: i64,
    pub(crate) edit_date: Option<i64>,
    pub(crate) content: Content,
    pub(crate) parse_mode: Option<String>,
    pub(crate) reply_to: Option<i32>,
    pub(crate) reply_markup: Option<Value>,
    pub(crate) edit_count: u32,
    pub(crate) deleted: bool,
}

#[derive(Debug)]
pub(crate) struct Chat {
    pub(crate) customer: UserInfo,
    pub(crate) messages: Vec<Msg>,
    pub(crate) next_message_id: i32,
    pub(crate) blocked: bool,
    pub(crate) actions: Vec<String>,
}

impl Chat {
    pub(crate) fn message(&self, id: i32) -> Option<&Msg> {
        self.messages.iter().find(|m| m.id == id && !m.deleted)
    }

    pub(crate) fn message_mut(&mut self, id: i32) -> Option<&mut Msg> {
        self.messages.iter_mut().find(|m| m.id == id && !m.deleted)
    }

    pub(crate) fn take_message_id(&mut self) -> i32 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }
}

#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) kind: MediaKind,
    pub(crate) unique_id: String,
    pub(crate) path: String,
    pub(crate) bytes: Bytes,
    pub(crate) file_name: Option<String>,
    pub(crate) mime_type: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingUpdate {
    pub(crate) id: i64,
    /// The update's field name (`message`, `callback_query`, ...), for `allowed_updates`.
    pub(crate) kind: &'static str,
    pub(crate) body: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub(crate) url: Url,
    pub(crate) secret_token: Option<String>,
    pub(crate) max_connections: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingCallback {
    pub(crate) answered: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RateLimit {
    pub(crate) remaining: u32,
    pub(crate) retry_after: u32,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) chats: BTreeMap<i64, Chat>,
    pub(crate) files: HashMap<String, StoredFile>,
    pub(crate) file_seq: u64,
    pub(crate) updates: VecDeque<PendingUpdate>,
    pub(crate) last_update_id: i64,
    pub(crate) webhook: Option<Webhook>,
    pub(crate) allowed_updates: Option<Vec<String>>,
    pub(crate) last_webhook_error: Option<(i64, String)>,
    /// Bumped by every `getUpdates`, so an older long poll knows it was superseded.
    pub(crate) poll_generation: u64,
    pub(crate) callbacks: HashMap<String, PendingCallback>,
    pub(crate) callback_seq: u64,
    pub(crate) answers: Vec<CallbackAnswer>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) webhook_attempts: Vec<WebhookAttempt>,
}

/// Unix seconds now; the Bot API's `date` unit.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl State {
    /// Queues an update; its id is one more than any before.
    pub(crate) fn push_update(&mut self, kind: &'static str, payload: Value) -> i64 {
        self.last_update_id += 1;
        let id = self.last_update_id;
        let mut body = serde_json::Map::new();
        body.insert("update_id".to_owned(), id.into());
        body.insert(kind.to_owned(), payload);
        self.updates.push_back(PendingUpdate {
            id,
            kind,
            body: Value::Object(body),
        });
        id
    }

    /// Whether `allowed_updates` lets this kind through. The default list (empty) allows
    /// everything the sandbox produces.
    pub(crate) fn allows(&self, kind: &str) -> bool {
        self.allowed_updates
            .as_ref()
            .is_none_or(|allowed| allowed.is_empty() || allowed.iter().any(|a| a == kind))
    }

    /// Stores file content and gives it ids and a download path.
    pub(crate) fn store_file(
        &mut self,
        kind: MediaKind,
        bytes: Bytes,
        file_name: Option<String>,
        mime_type: Option<String>,
    ) -> String {
        self.file_seq += 1;
        let seq = self.file_seq;
        let file_id = format!("SBX{}{seq:06}", kind.field().to_ascii_uppercase());
        let extension = file_name
            .as_deref()
            .and_then(|name| name.rsplit_once('.'))
            .map_or_else(
                || default_extension(kind).to_owned(),
                |(_, ext)| ext.to_owned(),
            );
        let mime_type = mime_type.or_else(|| guess_mime(&extension).map(str::to_owned));
        let stored = StoredFile {
            kind,
            unique_id: format!("SBXU{seq:06}"),
            path: format!("{}/file_{seq}.{extension}", kind.folder()),
            bytes,
            file_name,
            mime_type,
        };
        self.files.insert(file_id.clone(), stored);
        file_id
    }

    pub(crate) fn sent_file(&self, file_id: &str) -> Option<SentFile> {
        self.files.get(file_id).map(|f| SentFile {
            kind: f.kind,
            file_id: file_id.to_owned(),
            file_name: f.file_name.clone(),
            mime_type: f.mime_type.clone(),
            bytes: f.bytes.clone(),
        })
    }

    /// The test-facing view of a bot message.
    pub(crate) fn sent_message(&self, chat_id: i64, msg: &Msg) -> SentMessage {
        let (text, caption, rendered, file) = match &msg.content {
            Content::Text(t) => (
                Some(t.source.clone()),
                None,
                Some(t.parsed.text.clone()),
                None,
            ),
            Content::Media {
                file_id, caption, ..
            } => (
                None,
                caption.as_ref().map(|c| c.source.clone()),
                caption.as_ref().map(|c| c.parsed.text.clone()),
                self.sent_file(file_id),
            ),
            Content::Contact { .. } | Content::Location { .. } => (None, None, None, None),
        };
        SentMessage {
            chat_id,
            message_id: msg.id,
            date: msg.date,
            text,
            caption,
            rendered,
            parse_mode: msg.parse_mode.clone(),
            file,
            reply_markup: msg.reply_markup.clone(),
            reply_to_message_id: msg.reply_to,
            edit_count: msg.edit_count,
            deleted: msg.deleted,
        }
    }
}

fn default_extension(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Photo => "jpg",
        MediaKind::Document => "bin",
        MediaKind::Voice => "oga",
        MediaKind::Audio => "mp3",
        MediaKind::Video => "mp4",
        MediaKind::Sticker => "webp",
    }
}

fn guess_mime(extension: &str) -> Option<&'static str> {
    Some(match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        "oga" | "ogg" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => return None,
    })
}
