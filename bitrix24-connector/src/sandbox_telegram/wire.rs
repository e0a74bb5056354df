//! Bot API JSON for users, chats and messages, in the shapes Telegram sends.

use serde_json::{Map, Value, json};

use super::record::MediaKind;
use super::state::{Chat, Content, Formatted, Msg, State, UserInfo};

/// Fixed dimensions: the sandbox does not decode images or videos.
const PHOTO_SIDE: (u32, u32) = (800, 600);
const STICKER_SIDE: u32 = 512;

pub(crate) fn user(user: &UserInfo) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), user.id.into());
    out.insert("is_bot".into(), user.is_bot.into());
    out.insert("first_name".into(), user.first_name.clone().into());
    insert_opt(&mut out, "last_name", user.last_name.as_deref());
    insert_opt(&mut out, "username", user.username.as_deref());
    insert_opt(&mut out, "language_code", user.language_code.as_deref());
    Value::Object(out)
}

/// A private chat has the customer's id and names.
pub(crate) fn private_chat(customer: &UserInfo) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), customer.id.into());
    out.insert("type".into(), "private".into());
    out.insert("first_name".into(), customer.first_name.clone().into());
    insert_opt(&mut out, "last_name", customer.last_name.as_deref());
    insert_opt(&mut out, "username", customer.username.as_deref());
    Value::Object(out)
}

fn insert_opt(out: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.insert(key.to_owned(), value.into());
    }
}

/// A message with its replied-to message nested one level deep, as Telegram does.
pub(crate) fn message(state: &State, bot: &UserInfo, chat: &Chat, msg: &Msg) -> Value {
    let mut out = message_flat(state, bot, chat, msg);
    if let Some(reply) = msg
        .reply_to
        .and_then(|id| chat.messages.iter().find(|m| m.id == id))
        && let Value::Object(map) = &mut out
    {
        map.insert(
            "reply_to_message".into(),
            message_flat(state, bot, chat, reply),
        );
    }
    out
}

fn message_flat(state: &State, bot: &UserInfo, chat: &Chat, msg: &Msg) -> Value {
    let mut out = Map::new();
    out.insert("message_id".into(), msg.id.into());
    let from = if msg.from_bot { bot } else { &chat.customer };
    out.insert("from".into(), user(from));
    out.insert("chat".into(), private_chat(&chat.customer));
    out.insert("date".into(), msg.date.into());
    if let Some(edit_date) = msg.edit_date {
        out.insert("edit_date".into(), edit_date.into());
    }
    match &msg.content {
        Content::Text(text) => {
            out.insert("text".into(), text.parsed.text.clone().into());
            put_entities(&mut out, "entities", text);
        }
        Content::Media {
            kind,
            file_id,
            caption,
            duration,
            emoji,
        } => {
            out.insert(
                kind.field().into(),
                media(state, *kind, file_id, *duration, emoji.as_deref()),
            );
            if let Some(caption) = caption {
                out.insert("caption".into(), caption.parsed.text.clone().into());
                put_entities(&mut out, "caption_entities", caption);
            }
        }
        Content::Contact {
            phone_number,
            first_name,
            last_name,
            user_id,
        } => {
            let mut contact = Map::new();
            contact.insert("phone_number".into(), phone_number.clone().into());
            contact.insert("first_name".into(), first_name.clone().into());
            insert_opt(&mut contact, "last_name", last_name.as_deref());
            if let Some(user_id) = user_id {
                contact.insert("user_id".into(), (*user_id).into());
            }
            out.insert("contact".into(), Value::Object(contact));
        }
        Content::Location {
            latitude,
            longitude,
        } => {
            out.insert(
                "location".into(),
                json!({ "latitude": latitude, "longitude": longitude }),
            );
        }
    }
    // Only inline keyboards are part of a message; reply keyboards live in the client.
    if let Some(markup) = &msg.reply_markup
        && markup.get("inline_keyboard").is_some()
    {
        out.insert("reply_markup".into(), markup.clone());
    }
    Value::Object(out)
}

fn put_entities(out: &mut Map<String, Value>, key: &str, text: &Formatted) {
    if !text.parsed.entities.is_empty() {
        out.insert(key.to_owned(), Value::Array(text.parsed.entities.clone()));
    }
}

/// The `photo`/`document`/... object of a message.
pub(crate) fn media(
    state: &State,
    kind: MediaKind,
    file_id: &str,
    duration: u32,
    emoji: Option<&str>,
) -> Value {
    let Some(file) = state.files.get(file_id) else {
        return Value::Null;
    };
    let mut out = Map::new();
    out.insert("file_id".into(), file_id.into());
    out.insert("file_unique_id".into(), file.unique_id.clone().into());
    out.insert("file_size".into(), file.bytes.len().into());
    match kind {
        MediaKind::Photo => {
            out.insert("width".into(), PHOTO_SIDE.0.into());
            out.insert("height".into(), PHOTO_SIDE.1.into());
            return Value::Array(vec![Value::Object(out)]);
        }
        MediaKind::Sticker => {
            out.insert("type".into(), "regular".into());
            out.insert("width".into(), STICKER_SIDE.into());
            out.insert("height".into(), STICKER_SIDE.into());
            out.insert("is_animated".into(), false.into());
            out.insert("is_video".into(), false.into());
            insert_opt(&mut out, "emoji", emoji);
            return Value::Object(out);
        }
        MediaKind::Video => {
            out.insert("width".into(), PHOTO_SIDE.0.into());
            out.insert("height".into(), PHOTO_SIDE.1.into());
            out.insert("duration".into(), duration.into());
        }
        MediaKind::Voice | MediaKind::Audio => {
            out.insert("duration".into(), duration.into());
        }
        MediaKind::Document => {}
    }
    if kind != MediaKind::Voice {
        insert_opt(&mut out, "file_name", file.file_name.as_deref());
    }
    insert_opt(&mut out, "mime_type", file.mime_type.as_deref());
    Value::Object(out)
}

/// `getFile`'s answer.
pub(crate) fn file(state: &State, file_id: &str) -> Option<Value> {
    state.files.get(file_id).map(|f| {
        json!({
            "file_id": file_id,
            "file_unique_id": f.unique_id,
            "file_size": f.bytes.len(),
            "file_path": f.path,
        })
    })
}
