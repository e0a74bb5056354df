//! A customer's Telegram message as an element of `imconnector.send.messages` (PROTOCOL §H11):
//! `user` (id, name, last name, profile link, phone when shared), `message` (id, date, text,
//! files) and `chat` (id, name, link).
//!
//! Works on the update's raw JSON, so fields teloxide does not model yet still pass through.

use serde_json::{Map, Value, json};

use crate::telegram::markup::{escape_bbcode, telegram_quote_to_bbcode};

/// A file the customer sent, to be linked for the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFile {
    /// Telegram's `file_id`.
    pub file_id: String,
    /// The name the portal shows.
    pub name: String,
}

/// A customer's message, ready to be sent on once its files have links.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerMessage {
    /// The Telegram chat.
    pub chat_id: i64,
    /// The Telegram message.
    pub message_id: i64,
    /// Unix seconds.
    pub date: i64,
    /// `true` for an edit of an earlier message.
    pub edited: bool,
    /// The `user` block (phone added by the caller when the chat shared one).
    pub user: Value,
    /// The `chat` block.
    pub chat: Value,
    /// The text as the portal shows it (BB-code-safe).
    pub text: String,
    /// Files to link.
    pub files: Vec<CustomerFile>,
    /// The customer shared their own phone number (the "share contact" button).
    pub shared_phone: Option<String>,
    /// `/start PAYLOAD`.
    pub start_payload: Option<String>,
}

/// Reads a Telegram update. `None` for updates the bridge does not pass on (button presses,
/// membership changes, channel posts, bots).
pub fn customer_message(update: &Value) -> Option<CustomerMessage> {
    let (message, edited) = match (update.get("message"), update.get("edited_message")) {
        (Some(message), _) => (message, false),
        (None, Some(message)) => (message, true),
        _ => return None,
    };
    let from = message.get("from")?;
    if from["is_bot"].as_bool() == Some(true) {
        return None;
    }
    let chat = message.get("chat")?;
    let chat_id = chat["id"].as_i64()?;
    let message_id = message["message_id"].as_i64()?;
    let date = message["edit_date"]
        .as_i64()
        .filter(|_| edited)
        .or_else(|| message["date"].as_i64())
        .unwrap_or_default();

    let mut text = message["text"]
        .as_str()
        .or_else(|| message["caption"].as_str())
        .unwrap_or_default()
        .to_owned();
    let (files, sticker_text) = media_files(message, message_id);
    if let Some(sticker) = sticker_text {
        text = sticker;
    }
    let mut shared_phone = None;
    if let Some(contact) = message.get("contact") {
        let own = contact["user_id"].as_i64().is_some() && contact["user_id"] == from["id"];
        if own {
            shared_phone = contact["phone_number"].as_str().map(normalize_phone);
        }
        push_line(&mut text, &describe_contact(contact));
    }
    if let Some(location) = message
        .get("location")
        .filter(|_| message.get("venue").is_none())
    {
        push_line(&mut text, &describe_location(location, None));
    }
    if let Some(venue) = message.get("venue") {
        push_line(
            &mut text,
            &describe_location(&venue["location"], Some(venue)),
        );
    }
    if let Some(original) = message.get("reply_to_message") {
        let author = full_name(&original["from"]);
        let quoted = original["text"]
            .as_str()
            .or_else(|| original["caption"].as_str())
            .unwrap_or("…");
        // The quote escapes all three parts itself.
        text = telegram_quote_to_bbcode(&author, quoted, &text);
    } else {
        // The customer's brackets are shown, not read as markup.
        text = escape_bbcode(&text);
    }
    let start_payload = message["text"]
        .as_str()
        .and_then(|t| t.strip_prefix("/start"))
        .filter(|rest| rest.is_empty() || rest.starts_with(' '))
        .map(|rest| rest.trim().to_owned())
        .filter(|payload| !payload.is_empty());
    if text.trim().is_empty() && files.is_empty() {
        // Polls, dice, games…: tell the operator something arrived.
        "(a message type the bridge does not forward)".clone_into(&mut text);
    }

    Some(CustomerMessage {
        chat_id,
        message_id,
        date,
        edited,
        user: user_block(from),
        chat: chat_block(chat, from),
        text,
        files,
        shared_phone,
        start_payload,
    })
}

/// The files of a message (photos at their biggest size, documents, audio, video, voice,
/// stickers as images), and the text a sticker without an image stands for.
fn media_files(message: &Value, message_id: i64) -> (Vec<CustomerFile>, Option<String>) {
    let mut files = Vec::new();
    let mut sticker_text = None;
    let kind_name = |kind: &str, ext: &str| format!("{kind}_{message_id}.{ext}");
    if let Some(sizes) = message["photo"].as_array() {
        // The last size is the biggest.
        if let Some(file_id) = sizes.last().and_then(|s| s["file_id"].as_str()) {
            files.push(CustomerFile {
                file_id: file_id.to_owned(),
                name: kind_name("photo", "jpg"),
            });
        }
    }
    for (field, kind, ext) in [
        ("document", "document", "bin"),
        ("audio", "audio", "mp3"),
        ("video", "video", "mp4"),
        ("voice", "voice", "ogg"),
        ("video_note", "video", "mp4"),
        ("animation", "animation", "mp4"),
    ] {
        if field == "document" && message.get("animation").is_some() {
            // An animation also carries its document twin; send it once.
            continue;
        }
        if let Some(file_id) = message[field]["file_id"].as_str() {
            let name = message[field]["file_name"]
                .as_str()
                .map_or_else(|| kind_name(kind, ext), sanitize_name);
            files.push(CustomerFile {
                file_id: file_id.to_owned(),
                name,
            });
        }
    }
    if let Some(sticker) = message.get("sticker") {
        // Stickers go as images: the static WebP itself, or an animated one's thumbnail.
        let is_static = sticker["is_animated"].as_bool() != Some(true)
            && sticker["is_video"].as_bool() != Some(true);
        let file = if is_static {
            sticker["file_id"].as_str().map(|id| (id, "webp"))
        } else {
            sticker["thumbnail"]["file_id"]
                .as_str()
                .or_else(|| sticker["thumb"]["file_id"].as_str())
                .map(|id| (id, "webp"))
        };
        match file {
            Some((id, ext)) => files.push(CustomerFile {
                file_id: id.to_owned(),
                name: kind_name("sticker", ext),
            }),
            None => {
                sticker_text = Some(sticker["emoji"].as_str().unwrap_or("(sticker)").to_owned());
            }
        }
    }
    (files, sticker_text)
}

/// `user{id, name, last_name, url}`.
fn user_block(from: &Value) -> Value {
    let mut user = Map::new();
    user.insert(
        "id".into(),
        json!(from["id"].as_i64().unwrap_or_default().to_string()),
    );
    let first = from["first_name"].as_str().unwrap_or("Telegram user");
    user.insert("name".into(), json!(first));
    if let Some(last) = from["last_name"]
        .as_str()
        .map(clean_last_name)
        .filter(|l| !l.is_empty())
    {
        user.insert("last_name".into(), json!(last));
    }
    if let Some(username) = from["username"].as_str() {
        user.insert("url".into(), json!(format!("https://t.me/{username}")));
    }
    Value::Object(user)
}

/// `chat{id, name, url}`.
fn chat_block(chat: &Value, from: &Value) -> Value {
    let name = chat["title"]
        .as_str()
        .map_or_else(|| full_name(from), str::to_owned);
    let mut block = json!({ "id": chat["id"].as_i64().unwrap_or_default().to_string(), "name": format!("Telegram: {name}") });
    if let Some(username) = chat["username"]
        .as_str()
        .or_else(|| from["username"].as_str())
    {
        block["url"] = json!(format!("https://t.me/{username}"));
    }
    block
}

fn full_name(user: &Value) -> String {
    let first = user["first_name"].as_str().unwrap_or_default();
    match user["last_name"].as_str() {
        Some(last) if !last.is_empty() => format!("{first} {last}"),
        _ => first.to_owned(),
    }
}

/// The portal accepts last names of letters, spaces, `-` and `'`, at most 25 characters.
fn clean_last_name(last: &str) -> String {
    last.chars()
        .filter(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\''))
        .take(25)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Telegram sends numbers without `+`; the CRM matches E.164.
fn normalize_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

fn sanitize_name(name: &str) -> String {
    let clean: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if clean.trim().is_empty() {
        "file".to_owned()
    } else {
        clean
    }
}

/// A shared contact as a line of text.
fn describe_contact(contact: &Value) -> String {
    let name = full_name(contact);
    let phone = contact["phone_number"].as_str().unwrap_or_default();
    format!("Контакт: {name} {phone}").replace("  ", " ")
}

/// A location (or a venue) as text with a map link.
fn describe_location(location: &Value, venue: Option<&Value>) -> String {
    let (lat, lon) = (
        location["latitude"].as_f64().unwrap_or_default(),
        location["longitude"].as_f64().unwrap_or_default(),
    );
    let place = venue
        .map(|v| {
            format!(
                "{}, {} — ",
                v["title"].as_str().unwrap_or_default(),
                v["address"].as_str().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    format!("{place}Геолокация: {lat}, {lon} https://maps.google.com/?q={lat},{lon}")
}

fn push_line(text: &mut String, line: &str) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(message: Value) -> Value {
        let mut update = json!({ "update_id": 1 });
        update["message"] = message;
        update
    }

    fn customer() -> Value {
        json!({ "id": 42, "is_bot": false, "first_name": "Анна", "last_name": "Петрова-Ли 2", "username": "anna" })
    }

    #[test]
    fn text_becomes_user_message_and_chat_blocks() {
        let message = customer_message(&update(json!({
            "message_id": 7, "date": 1_700_000_000, "chat": { "id": 42, "type": "private", "first_name": "Анна" },
            "from": customer(), "text": "Здравствуйте [b]!"
        })))
        .unwrap();
        assert_eq!(message.chat_id, 42);
        assert_eq!(message.message_id, 7);
        assert!(!message.edited);
        assert_eq!(message.user["id"], "42");
        assert_eq!(message.user["name"], "Анна");
        assert_eq!(message.user["last_name"], "Петрова-Ли");
        assert_eq!(message.user["url"], "https://t.me/anna");
        assert_eq!(message.chat["id"], "42");
        assert_eq!(message.chat["name"], "Telegram: Анна Петрова-Ли 2");
        // The customer's brackets are shown, not interpreted.
        assert!(message.text.starts_with("Здравствуйте ["));
        assert_ne!(message.text, "Здравствуйте [b]!");
        assert!(message.files.is_empty());
    }

    #[test]
    fn media_become_files_with_names() {
        let photo = customer_message(&update(json!({
            "message_id": 8, "date": 1, "chat": { "id": 42 }, "from": customer(), "caption": "Вот",
            "photo": [{ "file_id": "small" }, { "file_id": "big" }]
        })))
        .unwrap();
        assert_eq!(photo.text, "Вот");
        assert_eq!(
            photo.files,
            [CustomerFile {
                file_id: "big".into(),
                name: "photo_8.jpg".into()
            }]
        );
        let document = customer_message(&update(json!({
            "message_id": 9, "date": 1, "chat": { "id": 42 }, "from": customer(),
            "document": { "file_id": "doc", "file_name": "../../смета.pdf" }
        })))
        .unwrap();
        assert_eq!(document.files[0].name, "смета.pdf");
        let voice = customer_message(&update(json!({
            "message_id": 10, "date": 1, "chat": { "id": 42 }, "from": customer(), "voice": { "file_id": "v" }
        })))
        .unwrap();
        assert_eq!(voice.files[0].name, "voice_10.ogg");
        let sticker = customer_message(&update(json!({
            "message_id": 11, "date": 1, "chat": { "id": 42 }, "from": customer(),
            "sticker": { "file_id": "s", "is_animated": true, "thumbnail": { "file_id": "t" }, "emoji": "👍" }
        })))
        .unwrap();
        assert_eq!(sticker.files[0].file_id, "t");
    }

    #[test]
    fn a_shared_own_contact_carries_the_phone_and_a_foreign_one_does_not() {
        let own = customer_message(&update(json!({
            "message_id": 12, "date": 1, "chat": { "id": 42 }, "from": customer(),
            "contact": { "phone_number": "79991234567", "first_name": "Анна", "user_id": 42 }
        })))
        .unwrap();
        assert_eq!(own.shared_phone.as_deref(), Some("+79991234567"));
        assert!(own.text.contains("79991234567"), "{}", own.text);
        let other = customer_message(&update(json!({
            "message_id": 13, "date": 1, "chat": { "id": 42 }, "from": customer(),
            "contact": { "phone_number": "+1 555 0100", "first_name": "Bob", "user_id": 7 }
        })))
        .unwrap();
        assert_eq!(other.shared_phone, None);
    }

    #[test]
    fn edits_replies_locations_and_start_payloads() {
        let edit = customer_message(&json!({ "update_id": 2, "edited_message": {
            "message_id": 7, "date": 1, "edit_date": 5, "chat": { "id": 42 }, "from": customer(), "text": "fixed"
        }}))
        .unwrap();
        assert!(edit.edited);
        assert_eq!(edit.date, 5);
        let reply = customer_message(&update(json!({
            "message_id": 14, "date": 1, "chat": { "id": 42 }, "from": customer(), "text": "Да",
            "reply_to_message": { "message_id": 3, "from": { "id": 1, "is_bot": true, "first_name": "Shop" }, "text": "Доставка завтра?" }
        })))
        .unwrap();
        assert!(
            reply.text.contains("Доставка завтра?") && reply.text.ends_with("Да"),
            "{}",
            reply.text
        );
        let location = customer_message(&update(json!({
            "message_id": 15, "date": 1, "chat": { "id": 42 }, "from": customer(),
            "location": { "latitude": 55.75, "longitude": 37.61 }
        })))
        .unwrap();
        assert!(
            location.text.contains("55.75") && location.text.contains("37.61"),
            "{}",
            location.text
        );
        let start = customer_message(&update(json!({
            "message_id": 16, "date": 1, "chat": { "id": 42 }, "from": customer(), "text": "/start deal_15"
        })))
        .unwrap();
        assert_eq!(start.start_payload.as_deref(), Some("deal_15"));
        let not_start = customer_message(&update(json!({
            "message_id": 17, "date": 1, "chat": { "id": 42 }, "from": customer(), "text": "/starting"
        })))
        .unwrap();
        assert_eq!(not_start.start_payload, None);
    }

    #[test]
    fn button_presses_and_bots_are_not_customer_messages() {
        assert!(
            customer_message(&json!({ "update_id": 3, "callback_query": { "id": "x" } })).is_none()
        );
        assert!(customer_message(&update(json!({
            "message_id": 1, "date": 1, "chat": { "id": 42 }, "from": { "id": 5, "is_bot": true, "first_name": "B" }, "text": "hi"
        })))
        .is_none());
    }
}
