//! Conformance preparation for `event.*`, `events`, `imconnector.*` and `imopenlines.*`: the
//! connectors, lines, chats, sessions and queued events the documented requests refer to.
#![allow(clippy::too_many_lines)] // one arm per documented method

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::conformance::{Env, Prepared};

/// A handler nobody listens on: deliveries fail fast instead of leaving loopback.
const DEAD_HANDLER: &str = "http://127.0.0.1:9/handler/";

/// The connector most documented requests name.
const CONNECTOR: &str = "myconnector";

/// The chat id `session.history.get`'s documented reply is keyed by (`usersMessage.chat1763`).
const HISTORY_CHAT: u64 = 1763;

/// Distinct customers for every chat the preparation opens.
static CUSTOMERS: AtomicU64 = AtomicU64::new(1);

async fn call(env: &Env, method: &str, params: Value) -> Option<Value> {
    env.app.call_raw::<Value>(method, params).await.ok()
}

async fn hook(env: &Env, method: &str, params: Value) -> Option<Value> {
    env.webhook.call_raw::<Value>(method, params).await.ok()
}

/// Registers (or re-registers) `id` and switches it on for `line`.
async fn connector(env: &Env, id: &str, group: bool, line: u64) {
    let registration = json!({
        "ID": id,
        "NAME": "Sandbox connector",
        "ICON": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E" },
        "PLACEMENT_HANDLER": "https://example.com/connector/settings",
        "CHAT_GROUP": group,
    });
    call(env, "imconnector.register", registration).await;
    call(
        env,
        "imconnector.activate",
        json!({ "CONNECTOR": id, "LINE": line, "ACTIVE": "1" }),
    )
    .await;
}

/// A customer's chat opened through `CONNECTOR` on `line`: (chat id, session id, external chat).
/// With `phone`, line 1's CRM tracker creates a lead and posts its notice first.
async fn chat_on(env: &Env, line: u64, phone: bool, file: bool) -> Option<(u64, u64, String)> {
    connector(env, CONNECTOR, false, line).await;
    let n = CUSTOMERS.fetch_add(1, Ordering::SeqCst);
    let external = format!("prep-chat-{n}");
    let mut user =
        json!({ "id": format!("prep-user-{n}"), "name": "Ivan", "last_name": "Prepared" });
    if phone {
        user["phone"] = json!(format!("+7999{n:07}"));
    }
    let mut message = json!({ "id": format!("prep-msg-{n}"), "text": "Hello" });
    if file {
        message["files"] =
            json!([{ "url": "https://example.com/files/photo.png", "name": "photo.png" }]);
    }
    let messages = json!([{ "user": user, "message": message, "chat": { "id": external } }]);
    let reply = call(
        env,
        "imconnector.send.messages",
        json!({ "CONNECTOR": CONNECTOR, "LINE": line, "MESSAGES": messages }),
    )
    .await?;
    let session = &reply["DATA"]["RESULT"][0]["session"];
    let id = |key: &str| session[key].as_str().and_then(|v| v.parse::<u64>().ok());
    Some((id("CHAT_ID")?, id("ID")?, external))
}

/// A chat on line 1 (operator: user 1, the CRM tracker on).
async fn chat(env: &Env) -> Option<(u64, u64, String)> {
    chat_on(env, 1, true, true).await
}

/// The lead the tracker bound to the chat of `external`.
fn lead_of(env: &Env, external: &str) -> Option<u64> {
    env.portal.openline_sessions(external).first()?["crm"]["LEAD"].as_u64()
}

/// A line whose sessions a chat-bot leads, with user 1 behind it.
async fn bot_line(env: &Env) -> Option<u64> {
    let params = json!({ "PARAMS": {
        "LINE_NAME": "Bot line", "CRM": "N", "WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": 900,
        "QUEUE": [{ "ENTITY_TYPE": "user", "ENTITY_ID": 1 }],
    } });
    hook(env, "imopenlines.config.add", params).await?.as_u64()
}

/// A chat whose session the bot leads.
async fn bot_chat(env: &Env) -> Option<u64> {
    let line = bot_line(env).await?;
    chat_on(env, line, false, false)
        .await
        .map(|(chat, _, _)| chat)
}

/// A line of its own for requests that change or delete it.
async fn spare_line(env: &Env) -> Option<u64> {
    hook(
        env,
        "imopenlines.config.add",
        json!({ "PARAMS": { "LINE_NAME": "Spare line", "CRM": "N" } }),
    )
    .await?
    .as_u64()
}

/// Waits until the offline queue has a row, and reserves it: (process id, row).
async fn reserved_offline_row(env: &Env) -> Option<(String, Value)> {
    call(
        env,
        "event.bind",
        json!({ "event": "ONCRMCONTACTADD", "event_type": "offline" }),
    )
    .await;
    hook(
        env,
        "crm.contact.add",
        json!({ "fields": { "NAME": "Queued" } }),
    )
    .await?;
    for _ in 0..100 {
        let got = call(env, "event.offline.get", json!({ "clear": 0, "limit": 1 })).await?;
        if let Some(row) = got["events"].get(0) {
            return Some((got["process_id"].as_str()?.to_owned(), row.clone()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn set(request: &mut Value, key: &str, value: impl Into<Value>) {
    if let Value::Object(map) = request {
        map.insert(key.to_owned(), value.into());
    }
}

/// Opens chats until the next one gets `HISTORY_CHAT`, on a line without the CRM tracker.
async fn chats_up_to_history_chat(env: &Env) -> Option<()> {
    let line = spare_line(env).await?;
    let (probe, _, _) = chat_on(env, line, false, false).await?;
    let missing = HISTORY_CHAT.checked_sub(probe + 1)?;
    if missing == 0 {
        return Some(());
    }
    let messages: Vec<Value> = (0..missing)
        .map(|n| {
            json!({
                "user": { "id": format!("filler-{n}") },
                "message": { "id": format!("filler-{n}"), "text": "." },
                "chat": { "id": format!("filler-{n}") },
            })
        })
        .collect();
    call(
        env,
        "imconnector.send.messages",
        json!({ "CONNECTOR": CONNECTOR, "LINE": line, "MESSAGES": messages }),
    )
    .await?;
    Some(())
}

/// Gets the portal ready for the documented request of `method` (create the entities it refers
/// to, rewrite ids in `request` to the ones created). Return Prepared::NotMine for methods of
/// other scopes.
pub(crate) async fn prepare(env: &Env, method: &str, request: &mut Value) -> Prepared {
    let Some(scope) = ["event.", "events", "imconnector.", "imopenlines."]
        .iter()
        .find(|p| method.starts_with(**p))
    else {
        return Prepared::NotMine;
    };
    let outcome = match *scope {
        "imopenlines." => prepare_openlines(env, method, request).await,
        "imconnector." => prepare_connector(env, method, request).await,
        _ => prepare_events(env, method, request).await,
    };
    outcome.unwrap_or(Prepared::Skip("the preparation failed"))
}

async fn prepare_events(env: &Env, method: &str, request: &mut Value) -> Option<Prepared> {
    match method {
        "event.bind" | "event.unbind" => {
            set(request, "handler", DEAD_HANDLER);
            // `bind` must not find its handler bound already; `unbind` must find it.
            let (prior, params) = if method == "event.bind" {
                ("event.unbind", json!({ "event": "ONCRMLEADADD" }))
            } else {
                (
                    "event.bind",
                    json!({ "event": "ONCRMLEADADD", "handler": DEAD_HANDLER }),
                )
            };
            call(env, prior, params).await;
        }
        "event.get" => {
            call(
                env,
                "event.bind",
                json!({ "event": "ONCRMDEALADD", "handler": DEAD_HANDLER }),
            )
            .await;
        }
        "event.offline.get" | "event.offline.list" => {
            return Some(Prepared::Skip(
                "the documented EVENT_DATA `false` is a row without data; the sandbox keeps each queued event's data[...] \
                 (FIELDS.ID), which the offline-events page says the queue holds",
            ));
        }
        "event.offline.clear" => {
            let (process, row) = reserved_offline_row(env).await?;
            set(request, "process_id", process);
            set(request, "id", json!([row["ID"]]));
        }
        "event.offline.error" => {
            let (process, row) = reserved_offline_row(env).await?;
            set(request, "process_id", process);
            set(request, "message_id", json!([row["MESSAGE_ID"]]));
        }
        _ => {}
    }
    Some(Prepared::Ready)
}

async fn prepare_connector(env: &Env, method: &str, request: &mut Value) -> Option<Prepared> {
    set(request, "LINE", 1);
    match method {
        "imconnector.register" | "imconnector.list" => {}
        "imconnector.chat.name.set" => {
            // The documented request names no USER_ID: a group-chat connector.
            let connector_id = request["CONNECTOR"].as_str()?.to_owned();
            let chat = request["CHAT_ID"].as_str()?.to_owned();
            connector(env, &connector_id, true, 1).await;
            let messages = json!([{ "user": { "id": "prep-group-user" }, "message": { "id": "g1", "text": "Hi" }, "chat": { "id": chat } }]);
            call(
                env,
                "imconnector.send.messages",
                json!({ "CONNECTOR": connector_id, "LINE": 1, "MESSAGES": messages }),
            )
            .await?;
        }
        "imconnector.status" => {
            set(request, "LINE", "1");
            connector(env, CONNECTOR, false, 1).await;
        }
        "imconnector.delete.messages" | "imconnector.update.messages" => {
            connector(env, CONNECTOR, false, 1).await;
            let mut message = request["MESSAGES"][0].clone();
            message["message"]["text"] = json!("Hello");
            call(
                env,
                "imconnector.send.messages",
                json!({ "CONNECTOR": CONNECTOR, "LINE": 1, "MESSAGES": [message] }),
            )
            .await?;
        }
        _ => connector(env, CONNECTOR, false, 1).await,
    }
    Some(Prepared::Ready)
}

async fn prepare_openlines(env: &Env, method: &str, request: &mut Value) -> Option<Prepared> {
    match method {
        "imopenlines.config.get" => set(request, "CONFIG_ID", 1),
        "imopenlines.config.update" | "imopenlines.config.delete" => {
            set(request, "CONFIG_ID", spare_line(env).await?);
        }
        "imopenlines.operator.transfer" => {
            set(request, "CHAT_ID", chat(env).await?.0);
            set(request, "USER_ID", 2);
        }
        "imopenlines.session.intercept" => {
            let (chat_id, _, _) = chat(env).await?;
            hook(
                env,
                "imopenlines.operator.transfer",
                json!({ "CHAT_ID": chat_id, "USER_ID": 2 }),
            )
            .await?;
            set(request, "CHAT_ID", chat_id);
        }
        "imopenlines.session.mode.pinAll" => {
            chat(env).await?;
        }
        "imopenlines.session.mode.unpinAll" => {
            let (chat_id, _, _) = chat(env).await?;
            hook(
                env,
                "imopenlines.session.mode.pin",
                json!({ "CHAT_ID": chat_id, "ACTIVATE": "Y" }),
            )
            .await?;
        }
        "imopenlines.session.open" | "imopenlines.dialog.get" => {
            let (chat_id, _, _) = chat(env).await?;
            let dialog = hook(env, "imopenlines.dialog.get", json!({ "CHAT_ID": chat_id })).await?;
            set(request, "USER_CODE", dialog["entity_id"].clone());
        }
        "imopenlines.session.head.vote" => set(request, "SESSION_ID", chat(env).await?.1),
        "imopenlines.session.history.get" => {
            if chats_up_to_history_chat(env).await.is_none() {
                return Some(Prepared::Skip(
                    "the reply is keyed by chat1763 and the portal's chat ids are past it",
                ));
            }
            let (chat_id, session, _) = chat(env).await?;
            if chat_id != HISTORY_CHAT {
                return Some(Prepared::Skip(
                    "the reply is keyed by chat1763, which the chat did not get",
                ));
            }
            set(request, "SESSION_ID", session);
        }
        "imopenlines.message.quick.save" | "imopenlines.message.session.start" => {
            let (chat_id, _, external) = chat(env).await?;
            let message = env
                .portal
                .openline_messages(&external)
                .iter()
                .rev()
                .find(|m| m["direction"] == "in")?["id"]
                .clone();
            set(request, "CHAT_ID", chat_id);
            set(request, "MESSAGE_ID", message);
        }
        "imopenlines.crm.chat.get"
        | "imopenlines.crm.chat.getLastId"
        | "imopenlines.crm.chat.user.add"
        | "imopenlines.crm.chat.user.delete"
        | "imopenlines.crm.message.add" => {
            let (chat_id, _, external) = chat(env).await?;
            let lead = lead_of(env, &external)?;
            set(request, "CRM_ENTITY_TYPE", "lead");
            set(request, "CRM_ENTITY", lead);
            if request.get("CHAT_ID").is_some() {
                set(request, "CHAT_ID", chat_id);
            }
            if method == "imopenlines.crm.message.add" {
                set(request, "USER_ID", 1);
            } else if request.get("USER_ID").is_some() {
                set(request, "USER_ID", 2);
            }
            if method == "imopenlines.crm.chat.user.delete" {
                hook(
                    env,
                    "imopenlines.crm.chat.user.add",
                    json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": lead, "USER_ID": 2 }),
                )
                .await?;
            }
        }
        "imopenlines.bot.session.message.send"
        | "imopenlines.bot.session.operator"
        | "imopenlines.bot.session.finish" => {
            set(request, "CHAT_ID", bot_chat(env).await?);
        }
        "imopenlines.bot.session.transfer" => {
            set(request, "CHAT_ID", bot_chat(env).await?);
            set(request, "USER_ID", 2);
        }
        "imopenlines.network.join" | "imopenlines.network.message.add" => {
            set(request, "CODE", env.portal.network_line_code());
        }
        _ if request.get("CHAT_ID").is_some() => set(request, "CHAT_ID", chat(env).await?.0),
        _ => {}
    }
    Some(Prepared::Ready)
}

/// A request that makes `method` fail with the documented error `documented` (its "error" code),
/// or None when the error cannot be provoked (explain in a comment).
pub(crate) async fn error_request(env: &Env, method: &str, _documented: &Value) -> Option<Value> {
    let request = match method {
        "event.bind" => json!({ "event": "ONNOSUCHEVENT", "handler": DEAD_HANDLER }),
        // Not provoked: `ACCESS_DENIED` of the offline methods, `event.unbind` and
        // `imconnector.list` is for users without administrator rights, and the sandbox installs
        // its app for user 1, the administrator; `register` and `unregister` document failures
        // inside an HTTP-200 `result`, not as error replies (the unit and end-to-end tests check
        // that shape).
        "event.unbind"
        | "event.offline.get"
        | "event.offline.list"
        | "event.offline.clear"
        | "event.offline.error"
        | "imconnector.register"
        | "imconnector.unregister"
        | "imconnector.list" => return None,
        "imconnector.activate" | "imconnector.connector.data.set" | "imconnector.send.messages" => {
            json!({ "CONNECTOR": CONNECTOR, "LINE": 1 })
        }
        "imconnector.update.messages" => json!({ "CONNECTOR": CONNECTOR }),
        "imconnector.chat.name.set" => {
            connector(env, CONNECTOR, false, 1).await;
            json!({ "CONNECTOR": CONNECTOR, "LINE": 424_242, "CHAT_ID": "x", "NAME": "x", "USER_ID": "x" })
        }
        "imconnector.delete.messages"
        | "imconnector.status"
        | "imconnector.send.status.delivery"
        | "imconnector.send.status.reading" => {
            json!({})
        }
        "imopenlines.config.list.get" => json!({ "PARAMS": { "filter": "ACTIVE" } }),
        "imopenlines.crm.chat.get" => json!({ "CRM_ENTITY_TYPE": "lead" }),
        "imopenlines.crm.chat.user.add" => {
            json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": 1, "USER_ID": 2, "CHAT_ID": 999_999 })
        }
        "imopenlines.crm.chat.user.delete" => {
            json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": "abc", "USER_ID": 2 })
        }
        "imopenlines.crm.message.add" => {
            json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": 1, "USER_ID": 1, "CHAT_ID": 999_999, "MESSAGE": "x" })
        }
        "imopenlines.crm.lead.create"
        | "imopenlines.dialog.get"
        | "imopenlines.bot.session.operator" => json!({ "CHAT_ID": 999_999 }),
        "imopenlines.message.quick.save" => {
            json!({ "CHAT_ID": chat(env).await?.0, "MESSAGE_ID": 999_999 })
        }
        "imopenlines.network.join" => json!({ "CODE": "0".repeat(32) }),
        "imopenlines.network.message.add" => json!({ "CODE": "short" }),
        "imopenlines.operator.transfer" | "imopenlines.bot.session.transfer" => {
            json!({ "CHAT_ID": 1 })
        }
        "imopenlines.session.head.vote" => json!({ "SESSION_ID": 1 }),
        "imopenlines.session.open" => json!({ "USER_CODE": "nobody|1|nothing|none" }),
        m if m.starts_with("imopenlines.") => json!({}),
        _ => return None,
    };
    Some(request)
}
