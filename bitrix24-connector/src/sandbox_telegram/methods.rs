//! The Bot API methods the sandbox serves.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use super::html;
use super::params::Params;
use super::record::{CallbackAnswer, MediaKind};
use super::reply::ApiError;
use super::shared::Shared;
use super::state::{Chat, Content, Formatted, Msg, RateLimit, State, Webhook, now};
use super::wire;

const MAX_TEXT: usize = 4096;
const MAX_CAPTION: usize = 1024;
const MAX_CALLBACK_DATA: usize = 64;

/// The fields that give an inline button something to do; one of them is required.
const BUTTON_ACTIONS: [&str; 9] = [
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
];

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply \
    markup are exactly the same as a current content and reply markup of the message";

/// Runs one Bot API method. Names are matched case-insensitively, as Telegram does.
pub(crate) async fn call(shared: &Shared, method: &str, params: Params) -> Result<Value, ApiError> {
    match method.to_ascii_lowercase().as_str() {
        "getme" => Ok(get_me(shared)),
        "getupdates" => get_updates(shared, &params).await,
        "setwebhook" => set_webhook(shared, &params),
        "deletewebhook" => Ok(delete_webhook(shared, &params)),
        "getwebhookinfo" => Ok(webhook_info(shared)),
        "sendmessage" => send_message(shared, &params),
        "sendphoto" => send_media(shared, &params, MediaKind::Photo).await,
        "senddocument" => send_media(shared, &params, MediaKind::Document).await,
        "sendvoice" => send_media(shared, &params, MediaKind::Voice).await,
        "sendaudio" => send_media(shared, &params, MediaKind::Audio).await,
        "sendvideo" => send_media(shared, &params, MediaKind::Video).await,
        "sendsticker" => send_media(shared, &params, MediaKind::Sticker).await,
        "editmessagetext" => edit_message_text(shared, &params),
        "editmessagecaption" => edit_message_caption(shared, &params),
        "editmessagereplymarkup" => edit_message_reply_markup(shared, &params),
        "deletemessage" => delete_message(shared, &params),
        "getfile" => get_file(shared, &params),
        "answercallbackquery" => answer_callback_query(shared, &params),
        "sendchataction" => send_chat_action(shared, &params),
        _ => Err(ApiError::not_found()),
    }
}

fn get_me(shared: &Shared) -> Value {
    let mut me = wire::user(&shared.bot);
    me["can_join_groups"] = true.into();
    me["can_read_all_group_messages"] = false.into();
    me["supports_inline_queries"] = false.into();
    me["can_connect_to_business"] = false.into();
    me["has_main_web_app"] = false.into();
    me
}

async fn get_updates(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let offset = params.i64("offset")?.unwrap_or(0);
    let limit = usize::try_from(params.i64("limit")?.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
    let timeout = params.i64("timeout")?.unwrap_or(0).max(0);
    let allowed = allowed_updates(params)?;
    let mut changes = shared.subscribe();
    let generation = shared.modify(|state| {
        if state.webhook.is_some() {
            return Err(webhook_active());
        }
        if let Some(allowed) = allowed {
            state.allowed_updates = Some(allowed);
        }
        confirm(state, offset);
        state.poll_generation += 1;
        Ok(state.poll_generation)
    })?;
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(u64::try_from(timeout).unwrap_or(0));
    let mut shutdown = shared.shutdown.clone();
    loop {
        changes.borrow_and_update();
        {
            let mut state = shared.lock();
            if state.poll_generation != generation {
                return Err(ApiError::conflict(
                    "terminated by other getUpdates request; make sure that only one bot \
                     instance is running",
                ));
            }
            if state.webhook.is_some() {
                return Err(webhook_active());
            }
            let batch = take_batch(&mut state, limit);
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(Value::Array(batch));
            }
        }
        tokio::select! {
            result = changes.changed() => if result.is_err() { return Ok(json!([])) },
            () = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.changed() => return Ok(json!([])),
        }
    }
}

fn webhook_active() -> ApiError {
    ApiError::conflict(
        "can't use getUpdates method while webhook is active; use deleteWebhook to delete the \
         webhook first",
    )
}

/// Telegram's offset rule: a positive offset confirms every earlier update, a negative one
/// keeps only that many of the newest.
fn confirm(state: &mut State, offset: i64) {
    if offset > 0 {
        state.updates.retain(|u| u.id >= offset);
    } else if offset < 0 {
        let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
        while state.updates.len() > keep {
            state.updates.pop_front();
        }
    }
}

/// The next updates to hand out, dropping those `allowed_updates` excludes (Telegram never
/// delivers those). Handed-out updates stay queued until confirmed.
fn take_batch(state: &mut State, limit: usize) -> Vec<Value> {
    let allowed: Vec<bool> = state.updates.iter().map(|u| state.allows(u.kind)).collect();
    let mut index = 0;
    state.updates.retain(|_| {
        index += 1;
        allowed[index - 1]
    });
    state
        .updates
        .iter()
        .take(limit)
        .map(|u| u.body.clone())
        .collect()
}

fn allowed_updates(params: &Params) -> Result<Option<Vec<String>>, ApiError> {
    match params.json("allowed_updates")? {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        )),
        Some(_) => Err(ApiError::bad_request("can't parse allowed updates")),
    }
}

fn set_webhook(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let url = params.str("url").unwrap_or_default();
    if url.is_empty() {
        return Ok(delete_webhook(shared, params));
    }
    let url = url::Url::parse(&url)
        .map_err(|_| ApiError::bad_request("invalid webhook URL specified"))?;
    // Telegram insists on HTTPS; the sandbox delivers to local test receivers, so plain HTTP
    // is accepted too.
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::bad_request(
            "bad webhook: HTTPS url must be provided for webhook",
        ));
    }
    let secret_token = params.str("secret_token").filter(|s| !s.is_empty());
    if let Some(secret) = &secret_token
        && (secret.len() > 256
            || !secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(ApiError::bad_request(
            "secret token contains unallowed characters",
        ));
    }
    let max_connections =
        u32::try_from(params.i64("max_connections")?.unwrap_or(40).clamp(1, 100)).unwrap_or(40);
    let allowed = allowed_updates(params)?;
    let drop_pending = params.bool("drop_pending_updates");
    shared.modify(|state| {
        if drop_pending {
            state.updates.clear();
        }
        if let Some(allowed) = allowed {
            state.allowed_updates = Some(allowed);
        }
        state.last_webhook_error = None;
        state.webhook = Some(Webhook {
            url,
            secret_token,
            max_connections,
        });
    });
    Ok(true.into())
}

fn delete_webhook(shared: &Shared, params: &Params) -> Value {
    let drop_pending = params.bool("drop_pending_updates");
    shared.modify(|state| {
        if drop_pending {
            state.updates.clear();
        }
        state.webhook = None;
    });
    true.into()
}

fn webhook_info(shared: &Shared) -> Value {
    let state = shared.lock();
    let mut info = json!({
        "url": state.webhook.as_ref().map_or_else(String::new, |w| w.url.to_string()),
        "has_custom_certificate": false,
        "pending_update_count": state.updates.len(),
    });
    if let Some(webhook) = &state.webhook {
        info["ip_address"] = "127.0.0.1".into();
        info["max_connections"] = webhook.max_connections.into();
    }
    if let Some(allowed) = &state.allowed_updates {
        info["allowed_updates"] = json!(allowed);
    }
    if let Some((date, message)) = &state.last_webhook_error {
        info["last_error_date"] = (*date).into();
        info["last_error_message"] = message.clone().into();
    }
    info
}

fn chat_id(params: &Params) -> Result<i64, ApiError> {
    match params.i64("chat_id") {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(ApiError::bad_request("chat_id is empty")),
        // `@username` targets only public chats, and the sandbox has only private ones.
        Err(_) => Err(ApiError::bad_request("chat not found")),
    }
}

fn message_id(params: &Params) -> Result<i32, ApiError> {
    params
        .i64("message_id")?
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Applies `parse_mode` (or explicit `entities`) to a text or caption.
fn format(
    source: &str,
    parse_mode: Option<&str>,
    entities: Option<Value>,
) -> Result<Formatted, ApiError> {
    match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        Some("html") => html::parse(source)
            .map(|parsed| Formatted {
                source: source.to_owned(),
                parsed,
            })
            .map_err(|description| ApiError::new(400, description)),
        // Markdown is passed through unchecked: the sandbox does not implement its escaping
        // rules, so the customer sees the source text.
        Some("markdown" | "markdownv2") | None => {
            let entities = match entities {
                Some(Value::Array(list)) if parse_mode.is_none() => list,
                _ => Vec::new(),
            };
            Ok(Formatted::plain(source, entities))
        }
        Some(_) => Err(ApiError::bad_request("unsupported parse_mode")),
    }
}

fn text_param(params: &Params, max: usize, too_long: &str) -> Result<Formatted, ApiError> {
    let source = params.str("text").unwrap_or_default();
    let text = format(
        &source,
        params.str("parse_mode").as_deref(),
        params.json("entities")?,
    )?;
    if text.parsed.text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if utf16_len(&text.parsed.text) > max {
        return Err(ApiError::bad_request(too_long));
    }
    Ok(text)
}

fn caption_param(params: &Params) -> Result<Option<Formatted>, ApiError> {
    let Some(source) = params.str("caption").filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let caption = format(
        &source,
        params.str("parse_mode").as_deref(),
        params.json("caption_entities")?,
    )?;
    if utf16_len(&caption.parsed.text) > MAX_CAPTION {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    Ok(Some(caption))
}

/// `reply_markup`, with the inline keyboard checks Telegram applies.
fn reply_markup(params: &Params) -> Result<Option<Value>, ApiError> {
    let Some(markup) = params.json("reply_markup")? else {
        return Ok(None);
    };
    if !markup.is_object() {
        return Err(ApiError::bad_request(
            "can't parse reply keyboard markup JSON object",
        ));
    }
    let Some(rows) = markup.get("inline_keyboard") else {
        return Ok(Some(markup));
    };
    let bad_rows = || {
        ApiError::bad_request(
            "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays",
        )
    };
    for row in rows.as_array().ok_or_else(bad_rows)? {
        for button in row.as_array().ok_or_else(bad_rows)? {
            if !button["text"].is_string() {
                return Err(ApiError::bad_request(
                    "can't parse inline keyboard button: Field \"text\" must be of type String",
                ));
            }
            if let Some(data) = button.get("callback_data") {
                let len = data.as_str().map_or(0, str::len);
                if len == 0 || len > MAX_CALLBACK_DATA {
                    return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
                }
                continue;
            }
            if !BUTTON_ACTIONS
                .iter()
                .any(|action| button.get(*action).is_some())
            {
                return Err(ApiError::bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the \
                     inline keyboard",
                ));
            }
        }
    }
    Ok(Some(markup))
}

/// The message to reply to, from `reply_parameters` or the older `reply_to_message_id`.
fn reply_target(params: &Params) -> Result<Option<(i32, bool)>, ApiError> {
    if let Some(reply) = params.json("reply_parameters")? {
        let id = reply["message_id"]
            .as_i64()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| ApiError::bad_request("message to be replied not found"))?;
        let allow = reply["allow_sending_without_reply"]
            .as_bool()
            .unwrap_or(false);
        return Ok(Some((id, allow)));
    }
    let id = params
        .i64("reply_to_message_id")?
        .and_then(|id| i32::try_from(id).ok());
    Ok(id.map(|id| (id, params.bool("allow_sending_without_reply"))))
}

/// Checks that a send may go to `chat_id`: the chat exists, no injected rate limit applies,
/// the customer has not blocked the bot.
fn gate(state: &mut State, chat_id: i64) -> Result<(), ApiError> {
    if !state.chats.contains_key(&chat_id) {
        return Err(ApiError::bad_request("chat not found"));
    }
    if let Some(limit) = state.rate_limit {
        state.rate_limit = (limit.remaining > 1).then_some(RateLimit {
            remaining: limit.remaining - 1,
            ..limit
        });
        return Err(ApiError::too_many_requests(limit.retry_after));
    }
    if state.chats.get(&chat_id).is_some_and(|chat| chat.blocked) {
        return Err(ApiError::blocked());
    }
    Ok(())
}

fn resolve_reply(chat: &Chat, target: Option<(i32, bool)>) -> Result<Option<i32>, ApiError> {
    match target {
        Some((id, _)) if chat.message(id).is_some() => Ok(Some(id)),
        Some((_, true)) | None => Ok(None),
        Some((_, false)) => Err(ApiError::bad_request("message to be replied not found")),
    }
}

/// Adds a bot message to the chat and renders it.
fn post(
    shared: &Shared,
    state: &mut State,
    chat_id: i64,
    target: Option<(i32, bool)>,
    build: impl FnOnce(&mut State, i32, Option<i32>) -> Msg,
) -> Result<Value, ApiError> {
    gate(state, chat_id)?;
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| ApiError::bad_request("chat not found"))?;
    let reply_to = resolve_reply(chat, target)?;
    let id = chat.take_message_id();
    let msg = build(state, id, reply_to);
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| ApiError::bad_request("chat not found"))?;
    chat.messages.push(msg);
    Ok(render(shared, state, chat_id, id))
}

fn render(shared: &Shared, state: &State, chat_id: i64, message_id: i32) -> Value {
    state
        .chats
        .get(&chat_id)
        .and_then(|chat| {
            chat.messages
                .iter()
                .find(|m| m.id == message_id)
                .map(|m| (chat, m))
        })
        .map_or(Value::Null, |(chat, msg)| {
            wire::message(state, &shared.bot, chat, msg)
        })
}

fn bot_message(id: i32, content: Content, parse_mode: Option<String>) -> Msg {
    Msg {
        id,
        from_bot: true,
        date: now(),
        edit_date: None,
        content,
        parse_mode,
        reply_to: None,
        reply_markup: None,
        edit_count: 0,
        deleted: false,
    }
}

fn send_message(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let text = text_param(params, MAX_TEXT, "message is too long")?;
    let markup = reply_markup(params)?;
    let target = reply_target(params)?;
    let parse_mode = params.str("parse_mode");
    shared.modify(|state| {
        post(shared, state, chat_id, target, |_, id, reply_to| Msg {
            reply_to,
            reply_markup: markup,
            ..bot_message(id, Content::Text(text), parse_mode)
        })
    })
}

/// Where the file of a `send*` call comes from.
enum Source {
    Upload {
        bytes: Bytes,
        file_name: Option<String>,
        mime_type: Option<String>,
    },
    Existing(String),
}

async fn media_source(
    shared: &Shared,
    params: &Params,
    kind: MediaKind,
) -> Result<Source, ApiError> {
    let field = kind.field();
    let upload = |name: &str| {
        params.upload(name).map(|u| Source::Upload {
            bytes: u.bytes.clone(),
            file_name: u.file_name.clone(),
            // reqwest sends file parts as octet-stream unless told otherwise; the file name
            // is the better hint then.
            mime_type: u
                .content_type
                .clone()
                .filter(|t| t != "application/octet-stream"),
        })
    };
    if let Some(source) = upload(field) {
        return Ok(source);
    }
    let value = params
        .str(field)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("there is no {field} in the request")))?;
    if let Some(name) = value.strip_prefix("attach://") {
        return upload(name)
            .ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"));
    }
    if value.starts_with("http://") || value.starts_with("https://") {
        return fetch(shared, &value).await;
    }
    if shared.lock().files.contains_key(&value) {
        Ok(Source::Existing(value))
    } else {
        Err(ApiError::bad_request(
            "wrong file identifier/HTTP URL specified",
        ))
    }
}

/// Telegram downloads files given by URL itself; so does the sandbox.
async fn fetch(shared: &Shared, url: &str) -> Result<Source, ApiError> {
    let failed = || ApiError::bad_request("failed to get HTTP URL content");
    let response = shared
        .http
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|_| failed())?;
    if !response.status().is_success() {
        return Err(failed());
    }
    let file_name = response
        .url()
        .path_segments()
        .and_then(|mut segments| segments.next_back().map(str::to_owned))
        .filter(|name| !name.is_empty());
    let mime_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response.bytes().await.map_err(|_| failed())?;
    Ok(Source::Upload {
        bytes,
        file_name,
        mime_type,
    })
}

async fn send_media(shared: &Shared, params: &Params, kind: MediaKind) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let caption = caption_param(params)?;
    let markup = reply_markup(params)?;
    let target = reply_target(params)?;
    let duration = u32::try_from(params.i64("duration")?.unwrap_or(0)).unwrap_or(0);
    let emoji = params.str("emoji");
    let parse_mode = caption.as_ref().and_then(|_| params.str("parse_mode"));
    let source = media_source(shared, params, kind).await?;
    shared.modify(|state| {
        post(shared, state, chat_id, target, |state, id, reply_to| {
            let file_id = match source {
                Source::Existing(file_id) => file_id,
                Source::Upload {
                    bytes,
                    file_name,
                    mime_type,
                } => state.store_file(kind, bytes, file_name, mime_type),
            };
            let content = Content::Media {
                kind,
                file_id,
                caption,
                duration,
                emoji,
            };
            Msg {
                reply_to,
                reply_markup: markup,
                ..bot_message(id, content, parse_mode)
            }
        })
    })
}

/// The bot message an edit targets.
fn editable<'a>(state: &'a mut State, params: &Params) -> Result<(i64, &'a mut Msg), ApiError> {
    if params.has("inline_message_id") && !params.has("chat_id") {
        // Inline-mode messages are not emulated.
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat_id = chat_id(params)?;
    let message_id = message_id(params)?;
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| ApiError::bad_request("chat not found"))?;
    let msg = chat
        .message_mut(message_id)
        .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if !msg.from_bot {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    Ok((chat_id, msg))
}

fn mark_edited(msg: &mut Msg) {
    msg.edit_date = Some(now());
    msg.edit_count += 1;
}

fn edit_message_text(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let text = text_param(params, MAX_TEXT, "MESSAGE_TOO_LONG")?;
    let markup = reply_markup(params)?;
    let parse_mode = params.str("parse_mode");
    shared.modify(|state| {
        let (chat_id, msg) = editable(state, params)?;
        let Content::Text(current) = &msg.content else {
            return Err(ApiError::bad_request(
                "there is no text in the message to edit",
            ));
        };
        if current.parsed == text.parsed && msg.reply_markup == markup {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        let id = msg.id;
        msg.content = Content::Text(text);
        msg.parse_mode = parse_mode;
        // Telegram drops the keyboard of an edited message unless the edit repeats it.
        msg.reply_markup = markup;
        mark_edited(msg);
        Ok(render(shared, state, chat_id, id))
    })
}

fn edit_message_caption(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let caption = caption_param(params)?;
    let markup = reply_markup(params)?;
    let parse_mode = caption.as_ref().and_then(|_| params.str("parse_mode"));
    shared.modify(|state| {
        let (chat_id, msg) = editable(state, params)?;
        let Content::Media {
            caption: current, ..
        } = &mut msg.content
        else {
            return Err(ApiError::bad_request(
                "there is no caption in the message to edit",
            ));
        };
        let same = current.as_ref().map(|c| &c.parsed) == caption.as_ref().map(|c| &c.parsed);
        if same && msg.reply_markup == markup {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        *current = caption;
        let id = msg.id;
        msg.parse_mode = parse_mode;
        msg.reply_markup = markup;
        mark_edited(msg);
        Ok(render(shared, state, chat_id, id))
    })
}

fn edit_message_reply_markup(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let markup = reply_markup(params)?;
    shared.modify(|state| {
        let (chat_id, msg) = editable(state, params)?;
        if msg.reply_markup == markup {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        let id = msg.id;
        msg.reply_markup = markup;
        mark_edited(msg);
        Ok(render(shared, state, chat_id, id))
    })
}

fn delete_message(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let message_id = message_id(params)?;
    shared.modify(|state| {
        let msg = state
            .chats
            .get_mut(&chat_id)
            .and_then(|chat| chat.message_mut(message_id))
            .ok_or_else(|| ApiError::bad_request("message to delete not found"))?;
        msg.deleted = true;
        Ok(true.into())
    })
}

fn get_file(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let file_id = params.str("file_id").unwrap_or_default();
    wire::file(&shared.lock(), &file_id).ok_or_else(|| ApiError::bad_request("invalid file_id"))
}

fn answer_callback_query(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    let id = params.str("callback_query_id").unwrap_or_default();
    let answer = CallbackAnswer {
        callback_query_id: id.clone(),
        text: params.str("text").filter(|t| !t.is_empty()),
        show_alert: params.bool("show_alert"),
        url: params.str("url"),
    };
    shared.modify(|state| {
        match state.callbacks.get_mut(&id) {
            Some(pending) if !pending.answered => pending.answered = true,
            // A query can be answered once; later answers get the same error as stale ones.
            _ => {
                return Err(ApiError::bad_request(
                    "query is too old and response timeout expired or query id is invalid",
                ));
            }
        }
        state.answers.push(answer);
        Ok(true.into())
    })
}

fn send_chat_action(shared: &Shared, params: &Params) -> Result<Value, ApiError> {
    const ACTIONS: [&str; 11] = [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ];
    let chat_id = chat_id(params)?;
    let action = params.str("action").unwrap_or_default();
    if !ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_request("wrong parameter action in request"));
    }
    shared.modify(|state| {
        let chat = state
            .chats
            .get_mut(&chat_id)
            .ok_or_else(|| ApiError::bad_request("chat not found"))?;
        if chat.blocked {
            return Err(ApiError::blocked());
        }
        chat.actions.push(action);
        Ok(true.into())
    })
}
