//! The `im` scope: notifications (`im.notify.*`) and chat messages (`im.message.*`),
//! kept in memory so tests can see what would have reached people
//! (api-reference/chats/notifications/*.md, api-reference/chats/messages/*.md).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::SandboxPortal;
use super::params::{value_str, value_u64};
use super::registry::{CallerKind, Ctx, Registry};
use super::reply::{Fail, Outcome, Reply};
use super::user;

/// The documented size limit of `ATTACH`, in characters of its JSON.
const ATTACH_LIMIT: usize = 60_000;

/// One notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Notification {
    pub(crate) id: u64,
    /// `system` or `personal`.
    pub(crate) kind: String,
    pub(crate) user_id: u64,
    /// The sender: 0 for system notifications.
    pub(crate) author_id: u64,
    pub(crate) message: String,
    pub(crate) message_out: String,
    pub(crate) tag: String,
    pub(crate) sub_tag: String,
    /// The application the tags belong to: the app's client id, or `CLIENT_ID` of a webhook.
    pub(crate) client_id: String,
    pub(crate) attach: Value,
    pub(crate) date: String,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Message {
    pub(crate) id: u64,
    /// `chat<N>`, `sg<N>` or a user id, as sent.
    pub(crate) dialog_id: String,
    pub(crate) author_id: u64,
    pub(crate) text: String,
    pub(crate) attach: Value,
    pub(crate) keyboard: Value,
    pub(crate) menu: Value,
    pub(crate) system: bool,
    pub(crate) url_preview: bool,
    pub(crate) reply_id: Option<u64>,
    pub(crate) date: String,
    pub(crate) edited: bool,
}

/// What the `im` methods stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ImState {
    pub(crate) notifications: Vec<Notification>,
    pub(crate) messages: Vec<Message>,
    /// Notifications and messages share one sequence, as on the portal (both are messages).
    pub(crate) last_id: u64,
}

impl ImState {
    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }
}

fn fail(code: &str, description: &str) -> Fail {
    Fail::bad_request(code, description)
}

/// `ATTACH`, `KEYBOARD` and `MENU` come as an object, a list or a JSON string; `N` or an empty
/// value means none.
fn rich(value: Option<&Value>, code: &str, description: &str) -> Result<Value, Fail> {
    match value {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::String(s)) if s.trim().is_empty() || s.trim().eq_ignore_ascii_case("N") => {
            Ok(Value::Null)
        }
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(parsed @ (Value::Object(_) | Value::Array(_))) => Ok(parsed),
            _ => Err(fail(code, description)),
        },
        Some(value @ (Value::Object(_) | Value::Array(_))) => Ok(value.clone()),
        Some(_) => Err(fail(code, description)),
    }
}

fn attach(ctx: &Ctx<'_>) -> Result<Value, Fail> {
    let attach = rich(
        ctx.params.get("ATTACH"),
        "ATTACH_ERROR",
        "Incorrect attach params",
    )?;
    if attach.to_string().chars().count() > ATTACH_LIMIT {
        return Err(fail(
            "ATTACH_OVERSIZE",
            "You have exceeded the maximum allowable size of attach",
        ));
    }
    Ok(attach)
}

/// The application whose tags a call uses: the app itself, or `CLIENT_ID` for a webhook.
fn client_id(ctx: &Ctx<'_>) -> String {
    match &ctx.caller.kind {
        CallerKind::App { client_id } => client_id.clone(),
        CallerKind::Webhook => ctx.params.str("CLIENT_ID").unwrap_or_default(),
    }
}

/// `im.notify.system.add` and `im.notify.personal.add` → the notification's id. A `TAG` the
/// application used before replaces the earlier notification.
fn notify(ctx: &mut Ctx<'_>, kind: &str) -> Outcome {
    let user_id = ctx
        .params
        .u64("USER_ID")
        .filter(|id| *id > 0)
        .ok_or_else(|| fail("USER_ID_EMPTY", "User ID can't be empty"))?;
    let message = ctx
        .params
        .str("MESSAGE")
        .map(|m| m.trim().to_owned())
        .unwrap_or_default();
    let attach = attach(ctx)?;
    if message.is_empty() && attach.is_null() {
        return Err(fail("MESSAGE_EMPTY", "Message can't be empty"));
    }
    let notification = Notification {
        id: 0,
        kind: kind.to_owned(),
        user_id,
        author_id: if kind == "system" {
            0
        } else {
            ctx.caller.user_id
        },
        message,
        message_out: ctx.params.str("MESSAGE_OUT").unwrap_or_default(),
        tag: ctx.params.str("TAG").unwrap_or_default(),
        sub_tag: ctx.params.str("SUB_TAG").unwrap_or_default(),
        client_id: client_id(ctx),
        attach,
        date: ctx.now_iso(),
    };
    let im = &mut ctx.state.im;
    if !notification.tag.is_empty() {
        im.notifications
            .retain(|old| old.tag != notification.tag || old.client_id != notification.client_id);
    }
    let id = im.next_id();
    im.notifications.push(Notification { id, ..notification });
    Ok(Reply::new(json!(id)))
}

fn notify_system(ctx: &mut Ctx<'_>) -> Outcome {
    notify(ctx, "system")
}

fn notify_personal(ctx: &mut Ctx<'_>) -> Outcome {
    notify(ctx, "personal")
}

/// `im.notify.delete` by `ID`, or by `TAG` / `SUB_TAG` of the calling application → whether
/// anything was deleted.
fn notify_delete(ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx.params.u64("ID").filter(|id| *id > 0);
    let tag = ctx.params.str("TAG").filter(|t| !t.is_empty());
    let sub_tag = ctx.params.str("SUB_TAG").filter(|t| !t.is_empty());
    if id.is_none() && tag.is_none() && sub_tag.is_none() {
        return Err(fail("PARAMS_ERROR", "Incorrect params"));
    }
    let client = client_id(ctx);
    if id.is_none() && client.is_empty() {
        return Err(fail(
            "ACCESS_DENIED",
            "Access denied! Client ID not specified",
        ));
    }
    let notifications = &mut ctx.state.im.notifications;
    let before = notifications.len();
    notifications.retain(|n| {
        let doomed = match (id, &tag, &sub_tag) {
            (Some(id), _, _) => n.id == id,
            (None, Some(tag), _) => n.client_id == client && &n.tag == tag,
            (None, None, Some(sub_tag)) => n.client_id == client && &n.sub_tag == sub_tag,
            (None, None, None) => false,
        };
        !doomed
    });
    Ok(Reply::new(json!(notifications.len() < before)))
}

/// Whether `DIALOG_ID` names a dialog: `chat<N>`, `sg<N>`, or an existing user.
fn check_dialog(ctx: &Ctx<'_>, dialog: &str) -> Result<(), Fail> {
    let numbered = |prefix: &str| {
        dialog
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
    };
    if numbered("chat").is_some() || numbered("sg").is_some() {
        return Ok(());
    }
    let user_id = dialog
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| fail("USER_ID_EMPTY", "User ID can't be empty"))?;
    if user::get(ctx.state, user_id).is_none() {
        return Err(fail("USER_NOT_FOUND", "User not found"));
    }
    Ok(())
}

fn flag(ctx: &Ctx<'_>, name: &str, default: bool) -> bool {
    ctx.params.bool(name).unwrap_or(default)
}

/// `im.message.add` → the message's id.
fn message_add(ctx: &mut Ctx<'_>) -> Outcome {
    let dialog = ctx
        .params
        .str("DIALOG_ID")
        .map(|d| d.trim().to_owned())
        .unwrap_or_default();
    check_dialog(ctx, &dialog)?;
    let message = ctx
        .params
        .str("MESSAGE")
        .map(|m| m.trim().to_owned())
        .unwrap_or_default();
    let attach = attach(ctx)?;
    if message.is_empty() && attach.is_null() {
        return Err(fail("MESSAGE_EMPTY", "Message can't be empty"));
    }
    let keyboard = rich(
        ctx.params.get("KEYBOARD"),
        "KEYBOARD_ERROR",
        "Incorrect keyboard params",
    )?;
    let menu = rich(
        ctx.params.get("MENU"),
        "MENU_ERROR",
        "Incorrect menu params",
    )?;
    let reply_id = ctx.params.u64("REPLY_ID").filter(|id| *id > 0);
    if let Some(reply_id) = reply_id {
        let original = ctx
            .state
            .im
            .messages
            .iter()
            .find(|m| m.id == reply_id)
            .ok_or_else(|| fail("REPLY_ACCESS_ERROR", "Action unavailable"))?;
        if original.dialog_id != dialog {
            return Err(fail(
                "REPLY_FROM_OTHER_CHAT_ERROR",
                "You can only reply to a message within the same chat",
            ));
        }
    }
    let record = Message {
        id: 0,
        dialog_id: dialog,
        author_id: ctx.caller.user_id,
        text: message,
        attach,
        keyboard,
        menu,
        system: flag(ctx, "SYSTEM", false),
        url_preview: flag(ctx, "URL_PREVIEW", true),
        reply_id,
        date: ctx.now_iso(),
        edited: false,
    };
    let open_line_chat = record
        .dialog_id
        .strip_prefix("chat")
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| ctx.state.openlines.chats.contains_key(n));
    let (system, text, author) = (record.system, record.text.clone(), record.author_id);
    let im = &mut ctx.state.im;
    let id = im.next_id();
    im.messages.push(Message { id, ..record });
    // A message posted into an open-line chat is part of that chat: a system notice stays
    // there, anything else goes out to the customer like an operator's answer.
    if let Some(chat) = open_line_chat {
        let mut model = super::imopenlines::live(ctx);
        if system {
            model.add_message(
                chat,
                author,
                &text,
                &[],
                super::imopenlines::Direction::System,
            );
        } else {
            model.send_outgoing(chat, author, &text, &[]);
        }
    }
    Ok(Reply::new(json!(id)))
}

/// The message `MESSAGE_ID` that the caller may change: the author's own.
fn own_message(ctx: &Ctx<'_>) -> Result<usize, Fail> {
    let id = ctx
        .params
        .get("MESSAGE_ID")
        .and_then(value_u64)
        .filter(|id| *id > 0)
        .ok_or_else(|| fail("MESSAGE_ID_ERROR", "Message ID can't be empty"))?;
    let cant = || {
        fail(
            "CANT_EDIT_MESSAGE",
            "Time has expired for modification or you don't have access",
        )
    };
    let at = ctx
        .state
        .im
        .messages
        .iter()
        .position(|m| m.id == id)
        .ok_or_else(cant)?;
    if ctx.state.im.messages[at].author_id != ctx.caller.user_id {
        return Err(cant());
    }
    Ok(at)
}

/// `im.message.update` → `true`. An empty `MESSAGE` deletes the message, as documented.
fn message_update(ctx: &mut Ctx<'_>) -> Outcome {
    let at = own_message(ctx)?;
    let text = ctx
        .params
        .get("MESSAGE")
        .map(|m| value_str(m).unwrap_or_default().trim().to_owned());
    let attach = ctx.params.get("ATTACH").map(|_| attach(ctx)).transpose()?;
    let keyboard = ctx
        .params
        .get("KEYBOARD")
        .map(|k| rich(Some(k), "KEYBOARD_ERROR", "Incorrect keyboard params"))
        .transpose()?;
    let menu = ctx
        .params
        .get("MENU")
        .map(|m| rich(Some(m), "MENU_ERROR", "Incorrect menu params"))
        .transpose()?;
    let url_preview = ctx.params.bool("URL_PREVIEW");
    let messages = &mut ctx.state.im.messages;
    if text.as_deref().is_some_and(str::is_empty) {
        messages.remove(at);
        return Ok(Reply::new(json!(true)));
    }
    let message = &mut messages[at];
    if let Some(text) = text {
        message.text = text;
        message.edited = true;
    }
    if let Some(attach) = attach {
        message.attach = attach;
        message.edited = true;
    }
    if let Some(keyboard) = keyboard {
        message.keyboard = keyboard;
    }
    if let Some(menu) = menu {
        message.menu = menu;
    }
    if let Some(url_preview) = url_preview {
        message.url_preview = url_preview;
    }
    Ok(Reply::new(json!(true)))
}

/// `im.message.delete` → `true`.
fn message_delete(ctx: &mut Ctx<'_>) -> Outcome {
    let at = own_message(ctx)?;
    ctx.state.im.messages.remove(at);
    Ok(Reply::new(json!(true)))
}

/// Registers the `im.*` methods. The docs refuse `im.notify.*` only to session (browser)
/// authorization, which the sandbox does not have: webhooks and apps may call them.
pub(crate) fn register(registry: &mut Registry) {
    registry.method("im.notify.system.add", notify_system);
    registry.method("im.notify.personal.add", notify_personal);
    registry.method("im.notify.delete", notify_delete);
    registry.method("im.message.add", message_add);
    registry.method("im.message.update", message_update);
    registry.method("im.message.delete", message_delete);
}

impl SandboxPortal {
    /// Every notification the portal holds (`im.notify.system.add`, `im.notify.personal.add`;
    /// replaced and deleted ones are gone), oldest first: `{id, type ("system" | "personal"),
    /// userId, authorId, message, messageOut, tag, subTag, clientId, attach, date}`.
    pub fn notifications(&self) -> Vec<Value> {
        self.shared.with_state(|state| {
            state
                .im
                .notifications
                .iter()
                .map(|n| {
                    json!({
                        "id": n.id,
                        "type": n.kind,
                        "userId": n.user_id,
                        "authorId": n.author_id,
                        "message": n.message,
                        "messageOut": n.message_out,
                        "tag": n.tag,
                        "subTag": n.sub_tag,
                        "clientId": n.client_id,
                        "attach": n.attach,
                        "date": n.date,
                    })
                })
                .collect()
        })
    }

    /// Every chat message sent with `im.message.add` and not deleted, oldest first:
    /// `{id, dialogId, authorId, message, attach, keyboard, menu, system, urlPreview, replyId,
    /// edited, date}`.
    pub fn im_messages(&self) -> Vec<Value> {
        self.shared.with_state(|state| {
            state
                .im
                .messages
                .iter()
                .map(|m| {
                    json!({
                        "id": m.id,
                        "dialogId": m.dialog_id,
                        "authorId": m.author_id,
                        "message": m.text,
                        "attach": m.attach,
                        "keyboard": m.keyboard,
                        "menu": m.menu,
                        "system": m.system,
                        "urlPreview": m.url_preview,
                        "replyId": m.reply_id,
                        "edited": m.edited,
                        "date": m.date,
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::clock::Clock;
    use crate::sandbox::crm::testing::{call, call_as, ok};
    use crate::sandbox::state::State;

    fn seeded() -> State {
        let mut state = State::default();
        user::seed(&mut state, &Clock::new());
        state
    }

    #[test]
    fn tags_replace_notifications_per_application() {
        let mut state = seeded();
        let first = ok(
            &mut state,
            notify_system,
            json!({ "USER_ID": 2, "MESSAGE": " Hi ", "TAG": "T", "CLIENT_ID": "a" }),
        );
        let other_app = ok(
            &mut state,
            notify_system,
            json!({ "USER_ID": 2, "MESSAGE": "Other", "TAG": "T", "CLIENT_ID": "b" }),
        );
        let second = ok(
            &mut state,
            notify_personal,
            json!({ "USER_ID": 2, "MESSAGE": "Again", "TAG": "T", "CLIENT_ID": "a" }),
        );
        assert_ne!(first, second);
        let ids: Vec<u64> = state.im.notifications.iter().map(|n| n.id).collect();
        assert_eq!(
            ids,
            vec![other_app.as_u64().unwrap(), second.as_u64().unwrap()]
        );
        assert_eq!(state.im.notifications[1].author_id, 1);
        assert_eq!(state.im.notifications[0].message, "Other");
        let error = call(&mut state, notify_system, json!({ "MESSAGE": "x" }))
            .0
            .unwrap_err();
        assert_eq!(error.code, "USER_ID_EMPTY");
        let error = call(
            &mut state,
            notify_system,
            json!({ "USER_ID": 2, "MESSAGE": "  " }),
        )
        .0
        .unwrap_err();
        assert_eq!(error.code, "MESSAGE_EMPTY");
        let error = call(
            &mut state,
            notify_system,
            json!({ "USER_ID": 2, "MESSAGE": "x", "ATTACH": "{nope" }),
        )
        .0
        .unwrap_err();
        assert_eq!(error.code, "ATTACH_ERROR");
    }

    #[test]
    fn notifications_are_deleted_by_id_or_tag() {
        let mut state = seeded();
        let id = ok(
            &mut state,
            notify_system,
            json!({ "USER_ID": 2, "MESSAGE": "a" }),
        );
        call_as(
            &mut state,
            notify_system,
            json!({ "USER_ID": 3, "MESSAGE": "b", "SUB_TAG": "S" }),
            true,
        )
        .0
        .unwrap();
        assert_eq!(
            ok(&mut state, notify_delete, json!({ "ID": id })),
            json!(true)
        );
        assert_eq!(
            ok(&mut state, notify_delete, json!({ "ID": id })),
            json!(false)
        );
        assert_eq!(
            call(&mut state, notify_delete, json!({}))
                .0
                .unwrap_err()
                .code,
            "PARAMS_ERROR"
        );
        assert_eq!(
            call(&mut state, notify_delete, json!({ "TAG": "x" }))
                .0
                .unwrap_err()
                .code,
            "ACCESS_DENIED"
        );
        assert_eq!(
            call_as(&mut state, notify_delete, json!({ "SUB_TAG": "S" }), true)
                .0
                .unwrap()
                .result,
            json!(true)
        );
        assert!(state.im.notifications.is_empty());
    }

    #[test]
    fn messages_are_kept_changed_and_deleted() {
        let mut state = seeded();
        let id = ok(
            &mut state,
            message_add,
            json!({ "DIALOG_ID": "chat7", "MESSAGE": "Hello", "KEYBOARD": "[{\"TEXT\":\"Ok\"}]" }),
        );
        assert_eq!(state.im.messages[0].keyboard, json!([{ "TEXT": "Ok" }]));
        let reply = ok(
            &mut state,
            message_add,
            json!({ "DIALOG_ID": "chat7", "MESSAGE": "Re", "REPLY_ID": id }),
        );
        let error = call(
            &mut state,
            message_add,
            json!({ "DIALOG_ID": "2", "MESSAGE": "x", "REPLY_ID": id }),
        )
        .0
        .unwrap_err();
        assert_eq!(error.code, "REPLY_FROM_OTHER_CHAT_ERROR");
        assert_eq!(
            call(
                &mut state,
                message_add,
                json!({ "DIALOG_ID": "99", "MESSAGE": "x" })
            )
            .0
            .unwrap_err()
            .code,
            "USER_NOT_FOUND"
        );
        assert_eq!(
            call(&mut state, message_add, json!({ "DIALOG_ID": "chat7" }))
                .0
                .unwrap_err()
                .code,
            "MESSAGE_EMPTY"
        );
        assert_eq!(
            ok(
                &mut state,
                message_update,
                json!({ "MESSAGE_ID": id, "MESSAGE": "Edited", "KEYBOARD": "N" })
            ),
            json!(true)
        );
        assert_eq!(
            (
                state.im.messages[0].text.as_str(),
                state.im.messages[0].keyboard.clone()
            ),
            ("Edited", Value::Null)
        );
        assert!(state.im.messages[0].edited);
        assert_eq!(
            ok(
                &mut state,
                message_update,
                json!({ "MESSAGE_ID": reply, "MESSAGE": "" })
            ),
            json!(true)
        );
        assert_eq!(
            ok(&mut state, message_delete, json!({ "MESSAGE_ID": id })),
            json!(true)
        );
        assert!(state.im.messages.is_empty());
        assert_eq!(
            call(&mut state, message_delete, json!({}))
                .0
                .unwrap_err()
                .code,
            "MESSAGE_ID_ERROR"
        );
        assert_eq!(
            call(&mut state, message_delete, json!({ "MESSAGE_ID": id }))
                .0
                .unwrap_err()
                .code,
            "CANT_EDIT_MESSAGE"
        );
    }
}
