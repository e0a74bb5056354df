//! The `imconnector` scope: custom open-line connectors, and the operator's side of their chats.
//!
//! Every method needs an application context (webhooks get 403 `WRONG_AUTH_TYPE`). The setup
//! order is the documented one: `imconnector.register` → `event.bind OnImConnectorMessageAdd`
//! → `imconnector.activate` → `imconnector.connector.data.set` → `imconnector.status`. Customers
//! come in with `imconnector.send.messages`; operators answer with
//! [`SandboxPortal::operator_reply`], which reaches the connector's handler as
//! `ONIMCONNECTORMESSAGEADD`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::SandboxPortal;
use super::delivery;
use super::event::is_admin;
use super::imopenlines::{
    Activation, BUILT_IN_CONNECTORS, Connector, Direction, Live, OpenLinesState, activation_key,
    display_name, live, seed,
};
use super::params::{value_bool, value_str, value_u64};
use super::registry::{Caller, CallerKind, Ctx, Emitted, Registry};
use super::reply::{Fail, Outcome, Reply};
use crate::error::{Error, Result};

/// The calling app, or the documented refusal.
fn app_of(ctx: &Ctx<'_>) -> std::result::Result<String, Fail> {
    match &ctx.caller.kind {
        CallerKind::App { client_id } => Ok(client_id.clone()),
        CallerKind::Webhook => Err(Fail::wrong_auth_type()),
    }
}

/// A required parameter: absent or empty is `ERROR_ARGUMENT` "Argument 'X' is null or empty".
fn required(ctx: &Ctx<'_>, name: &str) -> std::result::Result<String, Fail> {
    ctx.params
        .str(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Fail::argument_empty(name))
}

fn required_line(ctx: &Ctx<'_>) -> std::result::Result<u64, Fail> {
    let line = required(ctx, "LINE")?;
    line.parse().map_err(|_| {
        Fail::bad_request(
            "ERROR_ARGUMENT",
            "The value of an argument 'LINE' has an invalid type",
        )
    })
}

fn no_provider() -> Fail {
    Fail::bad_request(
        "IMCONNECTOR_NO_CORRECT_PROVIDER",
        "Could not find a suitable provider for the connector",
    )
}

fn not_active_line() -> Fail {
    Fail::bad_request(
        "NOT_ACTIVE_LINE",
        "The line with this ID is inactive or does not exist",
    )
}

/// A connector an app registered (the REST methods serve custom connectors only).
fn custom<'s>(
    state: &'s OpenLinesState,
    connector: &str,
) -> std::result::Result<&'s Connector, Fail> {
    state
        .connectors
        .get(&connector.to_ascii_lowercase())
        .ok_or_else(no_provider)
}

/// Whether `connector` is switched on for an existing `line`.
fn is_active(state: &OpenLinesState, connector: &str, line: u64) -> bool {
    state.lines.get(&line).is_some_and(|l| {
        l.settings
            .get("ACTIVE")
            .and_then(value_str)
            .is_none_or(|a| a != "N")
    }) && state
        .activations
        .get(&activation_key(connector, line))
        .is_some_and(|a| a.active)
}

/// The HTTP-200 failure of `register`/`unregister`: `{result:false, error, error_description}`.
fn soft_error(code: &str, description: &str) -> Reply {
    Reply::new(json!({ "result": false, "error": code, "error_description": description }))
}

/// The registration flags and their defaults.
const FLAGS: [&str; 6] = [
    "DEL_EXTERNAL_MESSAGES",
    "EDIT_INTERNAL_MESSAGES",
    "DEL_INTERNAL_MESSAGES",
    "NEWSLETTER",
    "NEED_SYSTEM_MESSAGES",
    "NEED_SIGNATURE",
];

/// A non-empty string parameter (other types are refused, as by `register`).
fn text_param(ctx: &Ctx<'_>, name: &str) -> Option<String> {
    ctx.params
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The connector `register` describes, or the code and text of the documented HTTP-200 failure.
fn registration(
    ctx: &Ctx<'_>,
    client_id: String,
) -> std::result::Result<Connector, (&'static str, &'static str)> {
    let id = match ctx.params.get("ID") {
        Some(Value::String(id)) => id.trim().to_ascii_lowercase(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if id.is_empty() {
        return Err(("CONNECTOR_ID_REQUIRED", "Connector ID is not specified"));
    }
    if id.contains('.') {
        return Err((
            "APPLICATION_REGISTRATION_ERROR_POINT",
            "Application registration error. The connector ID must not contain a dot",
        ));
    }
    let name =
        text_param(ctx, "NAME").ok_or(("NAME_REQUIRED", "Connector name is not specified"))?;
    let icon = ctx.params.get("ICON").cloned().unwrap_or(Value::Null);
    if icon
        .get("DATA_IMAGE")
        .and_then(Value::as_str)
        .is_none_or(|d| d.trim().is_empty())
    {
        return Err(("ICON_REQUIRED", "Connector icon is not specified"));
    }
    let handler = text_param(ctx, "PLACEMENT_HANDLER").ok_or((
        "NO_PLACEMENT_HANDLER",
        "Could not get the URL of the placement handler",
    ))?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err((
            "GENERAL_CONNECTOR_REGISTRATION_ERROR",
            "General connector registration error",
        ));
    }
    let taken = BUILT_IN_CONNECTORS.iter().any(|(code, _)| *code == id)
        || ctx
            .state
            .openlines
            .connectors
            .get(&id)
            .is_some_and(|c| c.client_id != client_id);
    if taken {
        return Err((
            "APPLICATION_REGISTRATION_ERROR",
            "Application registration error",
        ));
    }
    let flag =
        |name: &str, default: bool| ctx.params.get(name).and_then(value_bool).unwrap_or(default);
    Ok(Connector {
        id,
        name,
        client_id,
        icon,
        icon_disabled: ctx
            .params
            .get("ICON_DISABLED")
            .cloned()
            .unwrap_or(Value::Null),
        placement_handler: handler,
        flags: FLAGS
            .iter()
            .map(|name| ((*name).to_owned(), flag(name, true)))
            .collect::<BTreeMap<_, _>>(),
        chat_group: flag("CHAT_GROUP", false),
    })
}

/// `imconnector.register`; registering an id again updates the connector.
fn register_connector(ctx: &mut Ctx<'_>) -> Outcome {
    let client_id = app_of(ctx)?;
    seed(ctx.state, &ctx.clock);
    match registration(ctx, client_id) {
        Ok(connector) => {
            ctx.state
                .openlines
                .connectors
                .insert(connector.id.clone(), connector);
            Ok(Reply::new(json!({ "result": true })))
        }
        Err((code, description)) => Ok(soft_error(code, description)),
    }
}

/// `imconnector.unregister`.
fn unregister(ctx: &mut Ctx<'_>) -> Outcome {
    let client_id = app_of(ctx)?;
    let id = ctx
        .params
        .str("ID")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let ol = &mut ctx.state.openlines;
    if ol
        .connectors
        .get(&id)
        .is_none_or(|c| c.client_id != client_id)
    {
        return Ok(soft_error(
            "APPLICATION_UNREGISTRATION_ERROR",
            "Application unregistration error",
        ));
    }
    ol.connectors.remove(&id);
    ol.activations.retain(|_, a| a.connector != id);
    Ok(Reply::new(json!({ "result": true })))
}

/// `imconnector.activate`: `ACTIVE` switches the connector on for the line (`0`, `N` or empty
/// switch it off, and the app hears `ONIMCONNECTORSTATUSDELETE`).
fn activate(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    seed(ctx.state, &ctx.clock);
    let connector = required(ctx, "CONNECTOR")?.to_ascii_lowercase();
    let line = required_line(ctx)?;
    let active = ctx
        .params
        .get("ACTIVE")
        .ok_or_else(|| Fail::argument_empty("ACTIVE"))?;
    let on = value_str(active)
        .is_some_and(|a| !matches!(a.trim().to_ascii_uppercase().as_str(), "" | "0" | "N"));
    custom(&ctx.state.openlines, &connector)?;
    if !ctx.state.openlines.lines.contains_key(&line) {
        return Err(not_active_line());
    }
    let key = activation_key(&connector, line);
    let entry = ctx
        .state
        .openlines
        .activations
        .entry(key)
        .or_insert_with(|| Activation {
            connector: connector.clone(),
            line,
            active: false,
            data: Value::Null,
        });
    let was_active = entry.active;
    entry.active = on;
    if was_active && !on {
        ctx.emit(
            "ONIMCONNECTORSTATUSDELETE",
            json!({ "connector": connector, "line": line }),
        );
    }
    Ok(Reply::new(json!(true)))
}

/// `imconnector.status`: `LINE` defaults to 0, which is never configured.
fn status(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    seed(ctx.state, &ctx.clock);
    let connector = required(ctx, "CONNECTOR")?.to_ascii_lowercase();
    let line = ctx.params.u64("LINE").unwrap_or(0);
    let ol = &ctx.state.openlines;
    let registered = ol.connectors.contains_key(&connector);
    let configured = registered
        && ol
            .activations
            .get(&activation_key(&connector, line))
            .is_some_and(|a| a.active);
    let active = configured && is_active(ol, &connector, line);
    Ok(Reply::new(json!({
        "LINE": line,
        "CONNECTOR": connector,
        "ERROR": false,
        "CONFIGURED": configured,
        "STATUS": active,
    })))
}

/// `imconnector.connector.data.set`: the channel's data, replaced as a whole.
fn data_set(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    seed(ctx.state, &ctx.clock);
    let connector = required(ctx, "CONNECTOR")?.to_ascii_lowercase();
    let line = required_line(ctx)?;
    let data = ctx
        .params
        .get("DATA")
        .filter(|d| d.as_object().is_some_and(|m| !m.is_empty()))
        .cloned()
        .ok_or_else(|| Fail::argument_empty("DATA"))?;
    custom(&ctx.state.openlines, &connector)?;
    let entry = ctx
        .state
        .openlines
        .activations
        .entry(activation_key(&connector, line))
        .or_insert_with(|| Activation {
            connector: connector.clone(),
            line,
            active: false,
            data: Value::Null,
        });
    entry.data = data;
    Ok(Reply::new(json!(true)))
}

/// `imconnector.list`: every connector of the portal, `{code: title}`.
fn list(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    if !is_admin(ctx.caller.user_id) {
        return Err(Fail::bad_request(
            "ACCESS_DENIED",
            "You dont have access to this action",
        ));
    }
    let mut out = Map::new();
    for (code, title) in BUILT_IN_CONNECTORS {
        out.insert((*code).to_owned(), Value::String((*title).to_owned()));
    }
    for connector in ctx.state.openlines.connectors.values() {
        out.insert(connector.id.clone(), Value::String(connector.name.clone()));
    }
    Ok(Reply::new(Value::Object(out)))
}

/// `MESSAGES`: a non-empty list of objects.
fn messages(ctx: &Ctx<'_>) -> std::result::Result<Vec<Map<String, Value>>, Fail> {
    let raw = ctx
        .params
        .get("MESSAGES")
        .ok_or_else(|| Fail::argument_empty("MESSAGES"))?;
    let items = match raw {
        Value::Array(items) if !items.is_empty() => items,
        Value::Array(_) | Value::Null => return Err(Fail::argument_empty("MESSAGES")),
        Value::String(s) if s.is_empty() => return Err(Fail::argument_empty("MESSAGES")),
        _ => {
            return Err(Fail::bad_request(
                "ERROR_ARGUMENT",
                "The value of an argument 'MESSAGES' must be of type array",
            ));
        }
    };
    items
        .iter()
        .map(|item| {
            item.as_object().cloned().ok_or_else(|| {
                Fail::bad_request(
                    "ERROR_ARGUMENT",
                    "The MESSAGES parameter must be an array of messages (arrays)",
                )
            })
        })
        .collect()
}

fn structure_error() -> Fail {
    Fail::bad_request(
        "ERROR_ARGUMENT",
        "The incorrect structure of a message inside MESSAGES parameter",
    )
}

/// `CONNECTOR`, `LINE`, `MESSAGES`, a registered connector, an active line.
/// A message call's connector, line and messages.
type ConnectorCall = (String, u64, Vec<Map<String, Value>>);

fn connector_call(ctx: &Ctx<'_>, blocks: &[&str]) -> std::result::Result<ConnectorCall, Fail> {
    app_of(ctx)?;
    let connector = required(ctx, "CONNECTOR")?.to_ascii_lowercase();
    let line = required_line(ctx)?;
    let items = messages(ctx)?;
    custom(&ctx.state.openlines, &connector)?;
    if !is_active(&ctx.state.openlines, &connector, line) {
        return Err(not_active_line());
    }
    if items.iter().any(|item| {
        blocks
            .iter()
            .any(|block| !item.get(*block).is_some_and(Value::is_object))
    }) {
        return Err(structure_error());
    }
    Ok((connector, line, items))
}

/// The reply of the message methods: each element's outcome, failures as `SUCCESS:false`.
fn per_item(
    results: Vec<std::result::Result<Value, Vec<String>>>,
    items: &[Map<String, Value>],
) -> Reply {
    let result: Vec<Value> = results
        .into_iter()
        .zip(items)
        .map(|(outcome, item)| match outcome {
            Ok(value) => value,
            Err(errors) => json!({
                "message": item.get("message").cloned().unwrap_or(Value::Null),
                "chat": item.get("chat").cloned().unwrap_or(Value::Null),
                "SUCCESS": false,
                "ERRORS": errors,
            }),
        })
        .collect();
    Reply::new(json!({ "SUCCESS": true, "DATA": { "RESULT": result } }))
}

/// `imconnector.send.messages`: customers' messages into the line.
fn send_messages(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (connector, line, items) = connector_call(ctx, &["user", "message", "chat"])?;
    let mut model = live(ctx);
    let results = items
        .iter()
        .map(|item| model.incoming(&connector, line, item))
        .collect();
    Ok(per_item(results, &items))
}

/// `imconnector.update.messages`: a customer edited a message.
fn update_messages(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (connector, line, items) = connector_call(ctx, &["user", "message", "chat"])?;
    let mut model = live(ctx);
    let results = items
        .iter()
        .map(|item| model.update_incoming(&connector, line, item))
        .collect();
    Ok(per_item(results, &items))
}

/// `imconnector.delete.messages`: a customer deleted a message.
fn delete_messages(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (connector, line, items) = connector_call(ctx, &["user", "message", "chat"])?;
    let mut model = live(ctx);
    let results = items
        .iter()
        .map(|item| model.delete_incoming(&connector, line, item))
        .collect();
    Ok(per_item(results, &items))
}

/// The external ids of `message[id]`: a list, or one id.
fn external_ids(message: Option<&Value>) -> Vec<String> {
    match message.and_then(|m| m.get("id")) {
        Some(Value::Array(ids)) => ids.iter().filter_map(value_str).collect(),
        Some(other) => value_str(other).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `send.status.delivery` / `send.status.reading`: recorded, and the messages marked.
fn send_status(ctx: &mut Ctx<'_>, kind: &str) -> Outcome {
    app_of(ctx)?;
    seed(ctx.state, &ctx.clock);
    let connector = required(ctx, "CONNECTOR")?.to_ascii_lowercase();
    let line = required_line(ctx)?;
    let items = messages(ctx)?;
    custom(&ctx.state.openlines, &connector)?;
    let now = ctx.now_iso();
    for item in &items {
        let im = item.get("im");
        let chat_id = im
            .and_then(|i| i.get("chat_id"))
            .and_then(value_u64)
            .unwrap_or(0);
        let message_id = im
            .and_then(|i| i.get("message_id"))
            .and_then(value_u64)
            .unwrap_or(0);
        let ids = external_ids(item.get("message"));
        let record = json!({
            "kind": kind,
            "connector": connector,
            "line": line,
            "chat_id": chat_id,
            "message_id": message_id,
            "external_ids": ids,
            "external_chat_id": item.get("chat").and_then(|c| c.get("id")).and_then(value_str),
            "date": item.get("message").and_then(|m| m.get("date")).cloned().unwrap_or(Value::Null),
            "received": now,
        });
        ctx.state.openlines.statuses.push(record);
        if let Some(message) = ctx
            .state
            .openlines
            .messages
            .get_mut(&message_id)
            .filter(|m| m.chat_id == chat_id)
        {
            // Delivery implies reading on the portal's side.
            message.read = true;
            if kind == "delivery" {
                message.delivered = true;
                for id in ids {
                    if !message.external_ids.contains(&id) {
                        message.external_ids.push(id);
                    }
                }
            }
        }
    }
    Ok(Reply::new(json!({ "SUCCESS": true, "DATA": [] })))
}

fn status_delivery(ctx: &mut Ctx<'_>) -> Outcome {
    send_status(ctx, "delivery")
}

fn status_reading(ctx: &mut Ctx<'_>) -> Outcome {
    send_status(ctx, "reading")
}

/// `imconnector.chat.name.set`: renames the chat of an external chat (and user, for one-to-one
/// connectors).
fn chat_name_set(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    seed(ctx.state, &ctx.clock);
    let connector = required(ctx, "CONNECTOR")?.to_ascii_lowercase();
    let line = required_line(ctx)?;
    let chat = required(ctx, "CHAT_ID")?;
    let name = required(ctx, "NAME")?;
    let group = custom(&ctx.state.openlines, &connector).map(|c| c.chat_group);
    let user = if group == Ok(false) {
        Some(required(ctx, "USER_ID")?)
    } else {
        ctx.params.str("USER_ID")
    };
    custom(&ctx.state.openlines, &connector)?;
    if !is_active(&ctx.state.openlines, &connector, line) {
        return Err(not_active_line());
    }
    let target = ctx.state.openlines.chats.values_mut().rev().find(|c| {
        c.connector == connector
            && c.line_id == line
            && c.external_chat_id == chat
            && user.as_ref().is_none_or(|u| *u == c.external_user_id)
    });
    let Some(target) = target else {
        return Err(Fail::bad_request(
            "CHAT_RENAMING_FAILED",
            "Could not rename the chat",
        ));
    };
    target.external_name.clone_from(&name);
    target.name = name;
    Ok(Reply::new(
        json!({ "SUCCESS": true, "DATA": { "RESULT": {} } }),
    ))
}

/// Registers the `imconnector.*` methods.
pub(crate) fn register(registry: &mut Registry) {
    registry.app_only("imconnector.register", register_connector);
    registry.app_only("imconnector.unregister", unregister);
    registry.app_only("imconnector.activate", activate);
    registry.app_only("imconnector.status", status);
    registry.app_only("imconnector.connector.data.set", data_set);
    registry.app_only("imconnector.list", list);
    registry.app_only("imconnector.send.messages", send_messages);
    registry.app_only("imconnector.update.messages", update_messages);
    registry.app_only("imconnector.delete.messages", delete_messages);
    registry.app_only("imconnector.send.status.delivery", status_delivery);
    registry.app_only("imconnector.send.status.reading", status_reading);
    registry.app_only("imconnector.chat.name.set", chat_name_set);
}

/// The operator side of open lines, and what the sandbox saw of them.
impl SandboxPortal {
    /// Runs `change` on the open-line model as `user` and delivers the events it raised, in
    /// order, as the portal would after an operator acted in its UI.
    async fn as_operator<T>(
        &self,
        user: u64,
        change: impl FnOnce(&mut Live<'_>) -> Result<T>,
    ) -> Result<T> {
        let caller = Caller {
            key: format!("user:{user}"),
            user_id: user,
            kind: CallerKind::Webhook,
        };
        let mut events: Vec<Emitted> = Vec::new();
        let outcome = self.shared.with_state(|state| {
            seed(state, &self.shared.clock);
            let mut live = Live {
                state,
                clock: self.shared.clock,
                caller: &caller,
                base_url: &self.shared.base_url,
                events: &mut events,
            };
            change(&mut live)
        })?;
        for event in &events {
            delivery::deliver(&self.shared, &caller, event).await;
        }
        Ok(outcome)
    }

    /// An operator answers in the open-line chat of the external chat `chat` (the `chat.id`
    /// the connector sent with `imconnector.send.messages`). The message is stored and, for an
    /// app's connector, posted to the handler bound to `ONIMCONNECTORMESSAGEADD` in the
    /// documented shape: `data[CONNECTOR]`, `data[LINE]`,
    /// `data[MESSAGES][0][im][chat_id|message_id]`, `…[message][user_id]`, `…[message][text]`
    /// (prefixed `[b]Operator Name:[/b] [br]` unless the connector registered
    /// `NEED_SIGNATURE: false`) and `…[chat][id]`. `files` are `(name, url)` pairs; they go in
    /// `…[message][files][n][name|link|type]`, a shape the docs leave undocumented.
    ///
    /// The dialog's operator answers; when no session is running, the line's queue starts one.
    /// Returns the portal's message id (`im[message_id]`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when no open-line chat has
    /// that external id.
    pub async fn operator_reply(
        &self,
        chat: &str,
        text: &str,
        files: &[(String, String)],
    ) -> Result<u64> {
        let (chat_id, operator) = self.shared.with_state(|state| {
            seed(state, &self.shared.clock);
            let found = state
                .openlines
                .chats
                .values()
                .rev()
                .find(|c| c.external_chat_id == chat)
                .cloned();
            let Some(found) = found else {
                return Err(Error::invalid_input(format!(
                    "no open-line chat has the external id {chat:?}"
                )));
            };
            let session = state
                .openlines
                .sessions
                .get(&found.session_id)
                .filter(|s| !s.closed && !s.bot && s.operator_id > 0);
            let operator = session.map(|s| s.operator_id).or_else(|| {
                let line = state.openlines.lines.get(&found.line_id)?;
                super::imopenlines::queue_users(state, line)
                    .first()
                    .copied()
            });
            Ok((found.id, operator.unwrap_or(1)))
        })?;
        self.as_operator(operator, |live| {
            let running = live.open_session(chat_id).map(|s| (s.id, s.operator_id));
            match running {
                Some((session, current)) if current != operator => {
                    if let Some(session) = live.state.openlines.sessions.get_mut(&session) {
                        session.operator_id = operator;
                        session.bot = false;
                    }
                }
                Some(_) => {}
                None => {
                    let parent = live
                        .state
                        .openlines
                        .chats
                        .get(&chat_id)
                        .map_or(0, |c| c.session_id);
                    live.start_session(chat_id, Some(operator), parent);
                }
            }
            Ok(live.send_outgoing(chat_id, operator, text, files))
        })
        .await
    }

    /// The operator edits their message `message_id` (from [`operator_reply`](Self::operator_reply));
    /// the connector hears `ONIMCONNECTORMESSAGEUPDATE` with the external ids it reported
    /// through `imconnector.send.status.delivery`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when there is no such
    /// operator message (or it was deleted).
    pub async fn operator_edit(&self, message_id: u64, text: &str) -> Result<()> {
        let author = self.operator_message_author(message_id)?;
        self.as_operator(author, |live| {
            if live.edit_outgoing(message_id, text) {
                Ok(())
            } else {
                Err(Error::invalid_input("the message was deleted"))
            }
        })
        .await
    }

    /// The operator deletes their message `message_id`; the connector hears
    /// `ONIMCONNECTORMESSAGEDELETE`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when there is no such
    /// operator message (or it was deleted already).
    pub async fn operator_delete(&self, message_id: u64) -> Result<()> {
        let author = self.operator_message_author(message_id)?;
        self.as_operator(author, |live| {
            if live.delete_outgoing(message_id) {
                Ok(())
            } else {
                Err(Error::invalid_input("the message was deleted already"))
            }
        })
        .await
    }

    fn operator_message_author(&self, message_id: u64) -> Result<u64> {
        self.shared.with_state(|state| {
            state
                .openlines
                .messages
                .get(&message_id)
                .filter(|m| m.direction == Direction::Out)
                .map(|m| m.author_id)
                .ok_or_else(|| Error::invalid_input(format!("no operator message {message_id}")))
        })
    }

    /// Every message of the open-line chats of the external chat `chat`, both ways, oldest
    /// first: `{id, chat_id, session_id, direction ("in" | "out" | "system"), author_id,
    /// author_name, text, files: [{name, url}], external_ids, date, deleted, delivered, read}`.
    pub fn openline_messages(&self, chat: &str) -> Vec<Value> {
        self.shared.with_state(|state| {
            let chats: Vec<u64> = state.openlines.chats.values().filter(|c| c.external_chat_id == chat).map(|c| c.id).collect();
            state
                .openlines
                .messages
                .values()
                .filter(|m| chats.contains(&m.chat_id))
                .map(|m| {
                    let files: Vec<Value> = m
                        .files
                        .iter()
                        .filter_map(|id| state.openlines.files.get(id))
                        .map(|f| json!({ "name": f.name, "url": f.url }))
                        .collect();
                    json!({
                        "id": m.id,
                        "chat_id": m.chat_id,
                        "session_id": m.session_id,
                        "direction": m.direction,
                        "author_id": m.author_id,
                        "author_name": if m.author_id == 0 { String::new() } else { display_name(state, m.author_id) },
                        "text": m.text,
                        "files": files,
                        "external_ids": m.external_ids,
                        "date": m.date,
                        "deleted": m.deleted,
                        "delivered": m.delivered,
                        "read": m.read,
                    })
                })
                .collect()
        })
    }

    /// Every `imconnector.send.status.delivery` / `.reading` report, in order:
    /// `{kind ("delivery" | "reading"), connector, line, chat_id, message_id, external_ids,
    /// external_chat_id, date, received}`.
    pub fn delivery_statuses(&self) -> Vec<Value> {
        self.shared
            .with_state(|state| state.openlines.statuses.clone())
    }

    /// The open-line sessions of the external chat `chat`, oldest first: `{id, chat_id,
    /// line_id, operator_id, closed, answered, spam, pinned, bot, crm: {LEAD|CONTACT|…: id}}`.
    pub fn openline_sessions(&self, chat: &str) -> Vec<Value> {
        self.shared.with_state(|state| {
            state
                .openlines
                .sessions
                .values()
                .filter_map(|s| {
                    let owner = state
                        .openlines
                        .chats
                        .get(&s.chat_id)
                        .filter(|c| c.external_chat_id == chat)?;
                    Some(json!({
                        "id": s.id,
                        "chat_id": s.chat_id,
                        "line_id": s.line_id,
                        "operator_id": s.operator_id,
                        "closed": s.closed,
                        "answered": s.answered,
                        "spam": s.spam,
                        "pinned": s.pinned,
                        "bot": s.bot,
                        "crm": owner.crm,
                    }))
                })
                .collect()
        })
    }

    /// The code of the Bitrix24.Network line this sandbox lets `imopenlines.network.join` and
    /// `imopenlines.network.message.add` find.
    pub fn network_line_code(&self) -> String {
        self.shared.with_state(|state| {
            seed(state, &self.shared.clock);
            state
                .openlines
                .network
                .keys()
                .next()
                .cloned()
                .unwrap_or_default()
        })
    }
}

// Scenario tests read top to bottom, one portal story each.
#[cfg(test)]
#[allow(clippy::too_many_lines)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::sandbox::imopenlines::testing::{app, call, err, ok, state, webhook};
    use crate::sandbox::state::State;

    fn registered(state: &mut State, id: &str, group: bool) {
        let reply = ok(
            state,
            &app(1),
            register_connector,
            json!({
                "ID": id, "NAME": "My connector", "ICON": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%2F%3E" },
                "PLACEMENT_HANDLER": "https://example.com/settings", "CHAT_GROUP": group,
            }),
        );
        assert_eq!(reply, json!({ "result": true }));
        assert_eq!(
            ok(
                state,
                &app(1),
                activate,
                json!({ "CONNECTOR": id, "LINE": 1, "ACTIVE": "1" })
            ),
            json!(true)
        );
    }

    fn message(user: &str, chat: &str, id: &str, extra: Value) -> Value {
        let mut item = json!({
            "user": { "id": user, "name": "Ivan", "last_name": "Petrov", "phone": "+7 (999) 000-00-01" },
            "message": { "id": id, "date": 1_773_265_993, "text": "Hello" },
            "chat": { "id": chat, "name": "Support", "url": "https://example.com/chat" },
        });
        if let (Value::Object(item), Value::Object(extra)) = (&mut item, extra) {
            for (key, value) in extra {
                if let (Some(Value::Object(block)), Value::Object(more)) =
                    (item.get_mut(&key), value)
                {
                    block.extend(more);
                }
            }
        }
        item
    }

    fn send(state: &mut State, connector: &str, items: &Value) -> (Value, Vec<Emitted>) {
        let (outcome, events) = call(
            state,
            &app(1),
            send_messages,
            json!({ "CONNECTOR": connector, "LINE": 1, "MESSAGES": items }),
        );
        (outcome.unwrap().result, events)
    }

    #[test]
    fn registration_failures_are_http_200_results() {
        let mut state = state();
        let base = json!({ "NAME": "n", "ICON": { "DATA_IMAGE": "data:image/svg+xml,x" }, "PLACEMENT_HANDLER": "https://h/" });
        let attempt = |state: &mut State, id: Value| {
            let mut params = base.clone();
            params["ID"] = id;
            ok(state, &app(1), register_connector, params)
        };
        assert_eq!(
            attempt(&mut state, json!(""))["error"],
            "CONNECTOR_ID_REQUIRED"
        );
        assert_eq!(
            attempt(&mut state, json!("my.conn"))["error"],
            "APPLICATION_REGISTRATION_ERROR_POINT"
        );
        assert_eq!(
            attempt(&mut state, json!("livechat"))["error"],
            "APPLICATION_REGISTRATION_ERROR"
        );
        assert_eq!(
            attempt(&mut state, json!("bad-id"))["error"],
            "GENERAL_CONNECTOR_REGISTRATION_ERROR"
        );
        assert_eq!(attempt(&mut state, json!("MyConn"))["result"], true);
        assert!(
            state.openlines.connectors.contains_key("myconn"),
            "ids are lower-cased"
        );
        let no_icon = ok(
            &mut state,
            &app(1),
            register_connector,
            json!({ "ID": "x", "NAME": "n", "PLACEMENT_HANDLER": "h" }),
        );
        assert_eq!(
            no_icon,
            json!({ "result": false, "error": "ICON_REQUIRED", "error_description": "Connector icon is not specified" })
        );
        assert_eq!(
            err(&mut state, &webhook(), register_connector, base).code,
            "WRONG_AUTH_TYPE"
        );
        assert_eq!(
            ok(&mut state, &app(1), unregister, json!({ "ID": "nope" }))["error"],
            "APPLICATION_UNREGISTRATION_ERROR"
        );
        assert_eq!(
            ok(&mut state, &app(1), unregister, json!({ "ID": "myconn" })),
            json!({ "result": true })
        );
    }

    #[test]
    fn activation_and_status() {
        let mut state = state();
        let status_of = |state: &mut State, line: Value| {
            ok(
                state,
                &app(1),
                status,
                json!({ "CONNECTOR": "myconn", "LINE": line }),
            )
        };
        assert_eq!(
            err(
                &mut state,
                &app(1),
                activate,
                json!({ "CONNECTOR": "myconn", "LINE": 1 })
            )
            .description,
            "Argument 'ACTIVE' is null or empty"
        );
        assert_eq!(
            err(
                &mut state,
                &app(1),
                activate,
                json!({ "CONNECTOR": "myconn", "LINE": 1, "ACTIVE": 1 })
            )
            .code,
            "IMCONNECTOR_NO_CORRECT_PROVIDER"
        );
        registered(&mut state, "myconn", false);
        assert_eq!(
            status_of(&mut state, json!("1")),
            json!({ "LINE": 1, "CONNECTOR": "myconn", "ERROR": false, "CONFIGURED": true, "STATUS": true })
        );
        assert_eq!(status_of(&mut state, json!(0))["STATUS"], false);
        assert_eq!(
            err(&mut state, &app(1), status, json!({})).code,
            "ERROR_ARGUMENT"
        );
        ok(
            &mut state,
            &app(1),
            data_set,
            json!({ "CONNECTOR": "myconn", "LINE": 1, "DATA": { "ID": "c", "URL": "u", "NAME": "n" } }),
        );
        assert_eq!(state.openlines.activations["myconn|1"].data["ID"], "c");
        assert_eq!(
            err(
                &mut state,
                &app(1),
                data_set,
                json!({ "CONNECTOR": "myconn", "LINE": 1 })
            )
            .description,
            "Argument 'DATA' is null or empty"
        );
        let (outcome, events) = call(
            &mut state,
            &app(1),
            activate,
            json!({ "CONNECTOR": "myconn", "LINE": 1, "ACTIVE": "0" }),
        );
        outcome.unwrap();
        assert_eq!(events[0].name, "ONIMCONNECTORSTATUSDELETE");
        assert_eq!(events[0].data, json!({ "connector": "myconn", "line": 1 }));
        assert_eq!(status_of(&mut state, json!(1))["STATUS"], false);
        let listed = ok(&mut state, &app(1), list, json!({}));
        assert_eq!(listed["myconn"], "My connector");
        assert_eq!(listed["livechat"], "Live chat");
        assert_eq!(
            err(&mut state, &app(2), list, json!({})).code,
            "ACCESS_DENIED"
        );
    }

    #[test]
    fn incoming_messages_open_chats_sessions_and_leads() {
        let mut state = state();
        let items = json!([message("u1", "c1", "m1", json!({}))]);
        let fail = err(
            &mut state,
            &app(1),
            send_messages,
            json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": items }),
        );
        assert_eq!(fail.code, "IMCONNECTOR_NO_CORRECT_PROVIDER");
        registered(&mut state, "myconn", false);
        let fail = err(
            &mut state,
            &app(1),
            send_messages,
            json!({ "CONNECTOR": "myconn", "LINE": 7, "MESSAGES": items }),
        );
        assert_eq!(fail.code, "NOT_ACTIVE_LINE");
        let fail = err(
            &mut state,
            &app(1),
            send_messages,
            json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [{ "user": {} }] }),
        );
        assert_eq!(
            fail.description,
            "The incorrect structure of a message inside MESSAGES parameter"
        );

        let (reply, events) = send(&mut state, "myconn", &items);
        let item = &reply["DATA"]["RESULT"][0];
        assert_eq!(reply["SUCCESS"], true);
        assert_eq!(item["SUCCESS"], true);
        assert_eq!(item["message"]["date"], json!({}));
        assert_eq!(
            item["chat"]["description"],
            "Link to the original post: https://example.com/chat"
        );
        let chat_id: u64 = item["session"]["CHAT_ID"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ONSESSIONSTART",
                "ONIMCONNECTORDIALOGSTART",
                "ONCRMLEADADD",
                "ONOPENLINEMESSAGEADD",
                "ONOPENLINEMESSAGEADD"
            ]
        );
        assert_eq!(events[1].data["LINE"], "1");
        assert_eq!(events[1].data["DATA"][0]["connector"]["chat_id"], "c1");
        let chat = &state.openlines.chats[&chat_id];
        let lead = chat.crm["LEAD"];
        let row = state.crm.leads.get(lead).unwrap();
        assert_eq!(row["NAME"], "Ivan");
        assert_eq!(row["IM"][0]["VALUE"], "imol|myconn|1|c1|u1");
        assert_eq!(row["SOURCE_ID"], "1|MYCONN");

        // The same customer again: same chat and session, no second lead.
        let (again, events) = send(
            &mut state,
            "myconn",
            &json!([message("u1", "c1", "m2", json!({}))]),
        );
        assert_eq!(again["DATA"]["RESULT"][0]["session"], item["session"]);
        assert_eq!(events.len(), 1);
        // Another customer with the same phone: the existing lead is bound, none is created.
        let (other, events) = send(
            &mut state,
            "myconn",
            &json!([message("u2", "c2", "m3", json!({}))]),
        );
        let other_chat: u64 = other["DATA"]["RESULT"][0]["session"]["CHAT_ID"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_ne!(other_chat, chat_id);
        assert_eq!(state.openlines.chats[&other_chat].crm["LEAD"], lead);
        assert!(events.iter().all(|e| e.name != "ONCRMLEADADD"));
        // disable_crm: no tracker.
        let quiet = json!({ "user": { "phone": "" }, "message": { "disable_crm": "Y" } });
        let (reply, _) = send(
            &mut state,
            "myconn",
            &json!([message("u3", "c3", "m4", quiet)]),
        );
        assert_eq!(reply["DATA"]["RESULT"][0]["extra"]["disable_tracker"], "Y");
        assert_eq!(state.crm.leads.len(), 1);
        // An empty message fails alone.
        let (reply, _) = send(
            &mut state,
            "myconn",
            &json!([{ "user": { "id": "u9" }, "message": {}, "chat": { "id": "c9" } }]),
        );
        assert_eq!(reply["DATA"]["RESULT"][0]["SUCCESS"], false);
        assert_eq!(
            reply["DATA"]["RESULT"][0]["ERRORS"][0],
            "The message is empty"
        );
    }

    #[test]
    fn group_connectors_share_a_chat_per_external_chat() {
        let mut state = state();
        registered(&mut state, "grp", true);
        let (first, _) = send(
            &mut state,
            "grp",
            &json!([message("u1", "room", "m1", json!({}))]),
        );
        let (second, _) = send(
            &mut state,
            "grp",
            &json!([message("u2", "room", "m2", json!({}))]),
        );
        assert_eq!(
            first["DATA"]["RESULT"][0]["session"],
            second["DATA"]["RESULT"][0]["session"]
        );
        assert_eq!(
            first["DATA"]["RESULT"][0]["extra"]["disable_tracker"], "Y",
            "no CRM tracker for group chats"
        );
        assert_eq!(state.crm.leads.len(), 0);
        let renamed = ok(
            &mut state,
            &app(1),
            chat_name_set,
            json!({ "CONNECTOR": "grp", "LINE": 1, "CHAT_ID": "room", "NAME": "Lobby" }),
        );
        assert_eq!(
            renamed,
            json!({ "SUCCESS": true, "DATA": { "RESULT": {} } })
        );
        assert_eq!(state.openlines.chats.values().next().unwrap().name, "Lobby");
        let missing = err(
            &mut state,
            &app(1),
            chat_name_set,
            json!({ "CONNECTOR": "grp", "LINE": 1, "CHAT_ID": "nope", "NAME": "x" }),
        );
        assert_eq!(missing.code, "CHAT_RENAMING_FAILED");
    }

    #[test]
    fn operators_answer_edit_and_delete_through_the_connector() {
        let mut state = state();
        registered(&mut state, "myconn", false);
        send(
            &mut state,
            "myconn",
            &json!([message("u1", "c1", "m1", json!({}))]),
        );
        let chat_id = *state.openlines.chats.keys().next().unwrap();
        let caller = app(1);
        let base = url::Url::parse("http://127.0.0.1:1/").unwrap();
        let mut events = Vec::new();
        let mut model = Live {
            state: &mut state,
            clock: crate::sandbox::clock::Clock::new(),
            caller: &caller,
            base_url: &base,
            events: &mut events,
        };
        let files = [("a.png".to_owned(), "https://example.com/a.png".to_owned())];
        let id = model.send_outgoing(chat_id, 1, "Hi there", &files);
        let add = events
            .iter()
            .find(|e| e.name == "ONIMCONNECTORMESSAGEADD")
            .unwrap();
        assert_eq!(add.data["CONNECTOR"], "myconn");
        assert_eq!(add.data["LINE"], 1);
        let sent = &add.data["MESSAGES"][0];
        assert_eq!(sent["im"], json!({ "chat_id": chat_id, "message_id": id }));
        assert_eq!(sent["message"]["text"], "[b]John Doe:[/b] [br]Hi there");
        assert_eq!(sent["message"]["user_id"], 1);
        assert_eq!(
            sent["message"]["files"][0]["link"],
            "https://example.com/a.png"
        );
        assert_eq!(sent["chat"]["id"], "c1");

        let report = json!({
            "CONNECTOR": "myconn", "LINE": 1,
            "MESSAGES": [{ "im": { "chat_id": chat_id, "message_id": id }, "message": { "id": ["ext-9"], "date": 1 }, "chat": { "id": "c1" } }],
        });
        assert_eq!(
            ok(&mut state, &app(1), status_delivery, report),
            json!({ "SUCCESS": true, "DATA": [] })
        );
        assert!(state.openlines.messages[&id].delivered);
        assert_eq!(
            state.openlines.statuses[0]["external_ids"],
            json!(["ext-9"])
        );
        assert_eq!(
            err(&mut state, &webhook(), status_reading, json!({})).code,
            "WRONG_AUTH_TYPE"
        );

        let mut events = Vec::new();
        let mut model = Live {
            state: &mut state,
            clock: crate::sandbox::clock::Clock::new(),
            caller: &caller,
            base_url: &base,
            events: &mut events,
        };
        assert!(model.edit_outgoing(id, "Edited"));
        assert!(model.delete_outgoing(id));
        assert!(!model.delete_outgoing(id));
        let update = events
            .iter()
            .find(|e| e.name == "ONIMCONNECTORMESSAGEUPDATE")
            .unwrap();
        assert_eq!(
            update.data["MESSAGES"][0]["message"]["id"],
            json!(["ext-9"])
        );
        let delete = events
            .iter()
            .find(|e| e.name == "ONIMCONNECTORMESSAGEDELETE")
            .unwrap();
        assert_eq!(delete.data["MESSAGES"][0]["message"]["id"], "ext-9");
    }

    #[test]
    fn customers_edit_and_delete_their_messages() {
        let mut state = state();
        registered(&mut state, "myconn", false);
        send(
            &mut state,
            "myconn",
            &json!([message("u1", "c1", "m1", json!({}))]),
        );
        let edit = json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [{ "user": { "id": "u1" }, "message": { "id": "m1", "text": "Fixed" }, "chat": { "id": "c1" } }] });
        let (outcome, events) = call(&mut state, &app(1), update_messages, edit);
        let reply = outcome.unwrap().result;
        assert_eq!(reply["DATA"]["RESULT"][0]["message"]["text"], "Fixed");
        assert_eq!(events[0].name, "ONOPENLINEMESSAGEUPDATE");
        assert!(state.openlines.messages.values().any(|m| m.text == "Fixed"));
        let gone = json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [{ "user": { "id": "u1" }, "message": { "id": "m1" }, "chat": { "id": "c1" } }] });
        let reply = ok(&mut state, &app(1), delete_messages, gone.clone());
        assert_eq!(
            reply["DATA"]["RESULT"][0],
            json!({ "user": state.openlines.clients["myconn|u1"].id.to_string(), "message": { "id": "m1" }, "chat": { "id": "c1" }, "SUCCESS": true })
        );
        let again = ok(&mut state, &app(1), delete_messages, gone);
        assert_eq!(again["DATA"]["RESULT"][0]["SUCCESS"], false);
        assert_eq!(
            err(
                &mut state,
                &app(1),
                update_messages,
                json!({ "CONNECTOR": "myconn" })
            )
            .description,
            "Argument 'LINE' is null or empty"
        );
    }
}
