//! The `imopenlines` scope, and the open-line state the connector methods share.
//!
//! One model serves both sides: `imconnector.send.messages` brings customers in (a chat per
//! external user or chat, a session per conversation, a CRM lead when the line's tracker is on),
//! operators answer through the portal ([`SandboxPortal::operator_reply`](super::SandboxPortal::operator_reply),
//! `imopenlines.crm.message.add`), and the `imopenlines.*` methods read and steer the same
//! chats and sessions. Events (`ONOPENLINE*`, `ONSESSION*`, `ONIMCONNECTOR*`) fire only for
//! chats of connectors an app registered, as the docs say.

mod config;
mod sessions;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use super::clock::Clock;
use super::crm;
use super::params::{Params, value_str, value_u64};
use super::registry::{Caller, Ctx, Emitted, Registry};
use super::state::State;

/// Everything the open lines and the connectors keep.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct OpenLinesState {
    /// Whether the first line has been created (it is not re-created after a delete).
    pub(crate) seeded: bool,
    pub(crate) lines: BTreeMap<u64, Line>,
    pub(crate) last_line_id: u64,
    /// Connectors registered by apps (`imconnector.register`), by id.
    pub(crate) connectors: BTreeMap<String, Connector>,
    /// Connector activations and channel data, by `connector|line`.
    pub(crate) activations: BTreeMap<String, Activation>,
    /// Customers known through connectors, by `connector|external user id`.
    pub(crate) clients: BTreeMap<String, Client>,
    pub(crate) chats: BTreeMap<u64, Chat>,
    pub(crate) last_chat_id: u64,
    pub(crate) sessions: BTreeMap<u64, Session>,
    pub(crate) last_session_id: u64,
    pub(crate) messages: BTreeMap<u64, Message>,
    pub(crate) last_message_id: u64,
    pub(crate) files: BTreeMap<u64, File>,
    pub(crate) last_file_id: u64,
    /// Delivery and reading reports (`imconnector.send.status.*`), in order.
    pub(crate) statuses: Vec<Value>,
    /// Messages saved as quick answers.
    pub(crate) quick_answers: Vec<Value>,
    /// Bitrix24.Network lines that can be joined, by their 32-character code.
    pub(crate) network: BTreeMap<String, NetworkLine>,
    /// Messages sent with `imopenlines.network.message.add`.
    pub(crate) network_messages: Vec<Value>,
}

/// One open line and its settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Line {
    pub(crate) id: u64,
    /// The settings as `imopenlines.config.get` returns them (`LINE_NAME`, `ACTIVE`, `CRM`…).
    pub(crate) settings: Map<String, Value>,
    /// The queue as configured: users and departments.
    pub(crate) queue: Vec<QueueEntry>,
    pub(crate) created: String,
    pub(crate) modified: String,
    pub(crate) modify_user: u64,
}

impl Line {
    fn setting(&self, name: &str) -> String {
        self.settings
            .get(name)
            .and_then(value_str)
            .unwrap_or_default()
    }

    fn flag(&self, name: &str) -> bool {
        self.setting(name).eq_ignore_ascii_case("Y")
    }

    pub(crate) fn name(&self) -> String {
        self.setting("LINE_NAME")
    }
}

/// One queue entry of a line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct QueueEntry {
    /// `user` or `department`.
    pub(crate) entity_type: String,
    pub(crate) entity_id: u64,
}

/// A custom connector (`imconnector.register`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Connector {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) client_id: String,
    pub(crate) icon: Value,
    pub(crate) icon_disabled: Value,
    pub(crate) placement_handler: String,
    /// `DEL_EXTERNAL_MESSAGES`, `EDIT_INTERNAL_MESSAGES`, … as registered.
    pub(crate) flags: BTreeMap<String, bool>,
    /// One chat per external chat (true) or per external user (false).
    pub(crate) chat_group: bool,
}

impl Connector {
    fn flag(&self, name: &str) -> bool {
        self.flags.get(name).copied().unwrap_or(true)
    }
}

/// A connector on a line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Activation {
    pub(crate) connector: String,
    pub(crate) line: u64,
    pub(crate) active: bool,
    /// What `imconnector.connector.data.set` stored (`ID`, `URL`, `URL_IM`, `NAME`).
    pub(crate) data: Value,
}

/// A customer behind a connector: a Bitrix24 user of its own, as on the portal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Client {
    pub(crate) id: u64,
    pub(crate) connector: String,
    pub(crate) external_id: String,
    pub(crate) name: String,
    pub(crate) last_name: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) picture: String,
    pub(crate) url: String,
    pub(crate) gender: String,
}

impl Client {
    fn full_name(&self) -> String {
        let name = format!("{} {}", self.name, self.last_name)
            .trim()
            .to_owned();
        if name.is_empty() {
            format!("Guest {}", self.id)
        } else {
            name
        }
    }
}

/// An open-line chat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Chat {
    pub(crate) id: u64,
    pub(crate) line_id: u64,
    pub(crate) connector: String,
    pub(crate) external_chat_id: String,
    pub(crate) external_user_id: String,
    /// The customer's Bitrix24 user.
    pub(crate) client_id: u64,
    pub(crate) name: String,
    pub(crate) external_name: String,
    pub(crate) external_url: String,
    pub(crate) color: String,
    pub(crate) created: String,
    pub(crate) created_unix: i64,
    pub(crate) members: Vec<u64>,
    /// The latest session.
    pub(crate) session_id: u64,
    /// CRM bindings: `LEAD`, `CONTACT`, `COMPANY`, `DEAL` → id.
    pub(crate) crm: BTreeMap<String, u64>,
}

impl Chat {
    /// `connector|line|external chat|external user`, the chat's `entity_id`.
    pub(crate) fn user_code(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.connector, self.line_id, self.external_chat_id, self.external_user_id
        )
    }
}

/// One conversation in a chat.
// Independent Y/N flags, as the portal keeps them per session.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Session {
    pub(crate) id: u64,
    pub(crate) chat_id: u64,
    pub(crate) line_id: u64,
    pub(crate) operator_id: u64,
    pub(crate) client_id: u64,
    pub(crate) closed: bool,
    pub(crate) answered: bool,
    pub(crate) spam: bool,
    pub(crate) pinned: bool,
    pub(crate) silent: bool,
    /// Whether a chat-bot (not a person) leads it.
    pub(crate) bot: bool,
    pub(crate) parent_id: u64,
    pub(crate) created: String,
    pub(crate) created_unix: i64,
    pub(crate) closed_at: Option<String>,
    pub(crate) vote_head: u64,
    pub(crate) comment_head: Option<String>,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    /// From the customer, through the connector.
    #[default]
    In,
    /// From an operator or a bot, to the customer.
    Out,
    /// A system notice in the chat.
    System,
}

/// A message in an open-line chat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Message {
    pub(crate) id: u64,
    pub(crate) chat_id: u64,
    pub(crate) session_id: u64,
    /// The Bitrix24 user who wrote it; 0 for system messages.
    pub(crate) author_id: u64,
    pub(crate) text: String,
    pub(crate) files: Vec<u64>,
    pub(crate) attach: Option<Value>,
    pub(crate) date: String,
    pub(crate) direction: Direction,
    /// The message's ids in the external channel (its own id for incoming messages; for
    /// outgoing ones, what `imconnector.send.status.delivery` reported).
    pub(crate) external_ids: Vec<String>,
    pub(crate) deleted: bool,
    pub(crate) delivered: bool,
    pub(crate) read: bool,
}

/// A file attached to a message (kept by URL; the sandbox does not download it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct File {
    pub(crate) id: u64,
    pub(crate) chat_id: u64,
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) author_id: u64,
    pub(crate) date: String,
}

/// A Bitrix24.Network line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct NetworkLine {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) active: bool,
    /// The network bot once joined, 0 before.
    pub(crate) bot_id: u64,
}

/// The connectors every portal has, with their titles (`imconnector.list`).
pub(crate) const BUILT_IN_CONNECTORS: &[(&str, &str)] = &[
    ("livechat", "Live chat"),
    ("telegrambot", "Telegram"),
    ("network", "Bitrix24.Network"),
    ("whatsappbyedna", "WhatsApp"),
    ("vkgroup", "VK"),
    ("facebook", "Facebook"),
    ("avito", "Avito"),
];

/// A connector's title: the registered name or the built-in one.
pub(crate) fn connector_title(state: &OpenLinesState, id: &str) -> String {
    state.connectors.get(id).map_or_else(
        || {
            BUILT_IN_CONNECTORS
                .iter()
                .find(|(code, _)| *code == id)
                .map_or_else(|| id.to_owned(), |(_, title)| (*title).to_owned())
        },
        |c| c.name.clone(),
    )
}

/// `connector|line`, the key of an activation.
pub(crate) fn activation_key(connector: &str, line: u64) -> String {
    format!("{connector}|{line}")
}

const COLORS: [&str; 8] = [
    "#df532d", "#58cc47", "#ba9c7b", "#4ba984", "#6fc8e5", "#ab7761", "#29619b", "#e898b4",
];

/// Every setting of a new line, with the portal's defaults (values are strings, as stored).
#[allow(clippy::too_many_lines)] // one row per documented setting
fn default_settings(name: &str) -> Map<String, Value> {
    let mut settings = Map::new();
    let text = |s: &str| Value::String(s.to_owned());
    for (key, value) in [
        ("ACTIVE", "Y"),
        ("LINE_NAME", name),
        ("CRM", "Y"),
        ("CRM_CREATE", "lead"),
        ("CRM_CREATE_SECOND", "0"),
        ("CRM_CREATE_THIRD", "Y"),
        ("CRM_FORWARD", "Y"),
        ("CRM_CHAT_TRACKER", "N"),
        ("CRM_TRANSFER_CHANGE", "Y"),
        ("CRM_SOURCE", "create"),
        ("QUEUE_TIME", "60"),
        ("NO_ANSWER_TIME", "60"),
        ("QUEUE_TYPE", "evenly"),
        ("CHECK_AVAILABLE", "N"),
        ("WATCH_TYPING", "Y"),
        ("WELCOME_BOT_ENABLE", "N"),
        ("WELCOME_MESSAGE", "Y"),
        (
            "WELCOME_MESSAGE_TEXT",
            "Welcome to the open line. The first available operator will answer you.",
        ),
        ("VOTE_MESSAGE", "Y"),
        ("VOTE_TIME_LIMIT", "0"),
        ("VOTE_BEFORE_FINISH", "Y"),
        ("VOTE_CLOSING_DELAY", "N"),
        ("VOTE_MESSAGE_1_TEXT", "Please rate the quality of service."),
        ("VOTE_MESSAGE_1_LIKE", "Thank you for your rating!"),
        (
            "VOTE_MESSAGE_1_DISLIKE",
            "We are sorry we could not help you; we will do better.",
        ),
        (
            "VOTE_MESSAGE_2_TEXT",
            "Please rate the quality of service. Send 1 for good, 0 for bad.",
        ),
        ("VOTE_MESSAGE_2_LIKE", "Thank you for your rating!"),
        (
            "VOTE_MESSAGE_2_DISLIKE",
            "We are sorry we could not help you; we will do better.",
        ),
        ("AGREEMENT_MESSAGE", "N"),
        ("AGREEMENT_ID", "0"),
        ("CATEGORY_ENABLE", "N"),
        ("CATEGORY_ID", "0"),
        ("WELCOME_BOT_JOIN", "always"),
        ("WELCOME_BOT_ID", "0"),
        ("WELCOME_BOT_TIME", "600"),
        ("WELCOME_BOT_LEFT", "queue"),
        ("NO_ANSWER_RULE", "none"),
        ("NO_ANSWER_FORM_ID", "0"),
        ("NO_ANSWER_BOT_ID", "0"),
        (
            "NO_ANSWER_TEXT",
            "Sorry, we cannot answer you right now; we will contact you later.",
        ),
        ("WORKTIME_ENABLE", "N"),
        ("WORKTIME_FROM", "9"),
        ("WORKTIME_TO", "18.30"),
        ("WORKTIME_TIMEZONE", "UTC"),
        ("WORKTIME_DAYOFF_RULE", "text"),
        ("WORKTIME_DAYOFF_FORM_ID", "0"),
        ("WORKTIME_DAYOFF_BOT_ID", "0"),
        (
            "WORKTIME_DAYOFF_TEXT",
            "We are closed now. Leave your question and we will answer during working hours.",
        ),
        ("CLOSE_RULE", "none"),
        ("CLOSE_FORM_ID", "0"),
        ("CLOSE_BOT_ID", "0"),
        ("CLOSE_TEXT", "Thank you for contacting us."),
        ("FULL_CLOSE_TIME", "10"),
        ("AUTO_CLOSE_RULE", "none"),
        ("AUTO_CLOSE_FORM_ID", "0"),
        ("AUTO_CLOSE_BOT_ID", "0"),
        ("AUTO_CLOSE_TIME", "3600"),
        ("AUTO_CLOSE_TEXT", ""),
        ("AUTO_EXPIRE_TIME", "86400"),
        ("TEMPORARY", "N"),
        ("LANGUAGE_ID", "en"),
        ("QUICK_ANSWERS_IBLOCK_ID", "0"),
        ("SESSION_PRIORITY", "0"),
        ("TYPE_MAX_CHAT", "answered_new"),
        ("MAX_CHAT", "0"),
        ("OPERATOR_DATA", "profile"),
        ("KPI_FIRST_ANSWER_TIME", "0"),
        ("KPI_FIRST_ANSWER_ALERT", "N"),
        (
            "KPI_FIRST_ANSWER_TEXT",
            "#OPERATOR# exceeded the first response time in dialog #DIALOG#.",
        ),
        ("KPI_FURTHER_ANSWER_TIME", "0"),
        ("KPI_FURTHER_ANSWER_ALERT", "N"),
        (
            "KPI_FURTHER_ANSWER_TEXT",
            "#OPERATOR# exceeded the response time in dialog #DIALOG#.",
        ),
        ("KPI_CHECK_OPERATOR_ACTIVITY", "N"),
        ("SEND_NOTIFICATION_EMPTY_QUEUE", "N"),
        ("USE_WELCOME_FORM", "N"),
        ("WELCOME_FORM_ID", "0"),
        ("WELCOME_FORM_DELAY", "Y"),
        ("SEND_WELCOME_EACH_SESSION", "N"),
        ("CONFIRM_CLOSE", "Y"),
        ("IGNORE_WELCOME_FORM_RESPONSIBLE", "N"),
    ] {
        settings.insert(key.to_owned(), text(value));
    }
    settings.insert("WORKTIME_HOLIDAYS".into(), json!([""]));
    settings.insert("WORKTIME_DAYOFF".into(), json!([""]));
    settings.insert("DEFAULT_OPERATOR_DATA".into(), json!([]));
    settings.insert("KPI_FIRST_ANSWER_LIST".into(), Value::Null);
    settings.insert("KPI_FURTHER_ANSWER_LIST".into(), Value::Null);
    settings.insert("XML_ID".into(), Value::Null);
    settings
}

/// Creates a line with `name` and the portal's defaults; `settings` override them.
pub(crate) fn create_line(
    state: &mut State,
    name: &str,
    settings: &Map<String, Value>,
    queue: Vec<QueueEntry>,
    now: &str,
    user: u64,
) -> u64 {
    let ol = &mut state.openlines;
    ol.last_line_id += 1;
    let id = ol.last_line_id;
    let mut line = Line {
        id,
        settings: default_settings(name),
        queue,
        created: now.to_owned(),
        modified: now.to_owned(),
        modify_user: user,
    };
    config::apply_settings(&mut line, settings);
    ol.lines.insert(id, line);
    id
}

/// Creates the portal's first open line (ID 1, user 1 in its queue, the CRM tracker on) and a
/// joinable Bitrix24.Network line, once.
pub(crate) fn seed(state: &mut State, clock: &Clock) {
    if state.openlines.seeded {
        return;
    }
    state.openlines.seeded = true;
    if state.openlines.lines.is_empty() {
        let queue = vec![QueueEntry {
            entity_type: "user".into(),
            entity_id: 1,
        }];
        create_line(
            state,
            "Sandbox open line",
            &Map::new(),
            queue,
            &clock.iso(),
            1,
        );
    }
    if state.openlines.network.is_empty() {
        let code = format!("{:032x}", fastrand::u128(..));
        state.openlines.network.insert(
            code.clone(),
            NetworkLine {
                code,
                name: "Sandbox partner line".into(),
                active: true,
                bot_id: 0,
            },
        );
    }
}

/// The users a line's queue names: users directly (those who exist), and the members of its
/// departments.
pub(crate) fn queue_users(state: &State, line: &Line) -> Vec<u64> {
    let mut users = Vec::new();
    for entry in &line.queue {
        if entry.entity_type == "department" {
            for (id, row) in &state.users.users.rows {
                let in_department = row
                    .get("UF_DEPARTMENT")
                    .and_then(Value::as_array)
                    .is_some_and(|deps| deps.iter().any(|d| value_u64(d) == Some(entry.entity_id)));
                if in_department && !users.contains(id) {
                    users.push(*id);
                }
            }
        } else if !users.contains(&entry.entity_id)
            && super::user::get(state, entry.entity_id).is_some()
        {
            users.push(entry.entity_id);
        }
    }
    users
}

/// A person's first and last name: an employee, a customer, or a bot.
pub(crate) fn person_name(state: &State, id: u64) -> (String, String) {
    if let Some(row) = super::user::get(state, id) {
        let field = |name: &str| row.get(name).and_then(value_str).unwrap_or_default();
        return (field("NAME"), field("LAST_NAME"));
    }
    if let Some(client) = state.openlines.clients.values().find(|c| c.id == id) {
        return if client.name.is_empty() && client.last_name.is_empty() {
            (format!("Guest {id}"), String::new())
        } else {
            (client.name.clone(), client.last_name.clone())
        };
    }
    ("Bot".into(), id.to_string())
}

/// "First Last", trimmed.
pub(crate) fn display_name(state: &State, id: u64) -> String {
    let (first, last) = person_name(state, id);
    format!("{first} {last}").trim().to_owned()
}

/// What a handler or the portal's operator side works with: the state, the time, who acts, and
/// where raised events go.
pub(crate) struct Live<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) clock: Clock,
    pub(crate) caller: &'a Caller,
    pub(crate) base_url: &'a Url,
    pub(crate) events: &'a mut Vec<Emitted>,
}

impl std::fmt::Debug for Live<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

/// A [`Live`] over a handler's context (the open line is seeded on first use).
pub(crate) fn live<'a>(ctx: &'a mut Ctx<'_>) -> Live<'a> {
    seed(ctx.state, &ctx.clock);
    Live {
        state: &mut *ctx.state,
        clock: ctx.clock,
        caller: ctx.caller,
        base_url: ctx.base_url,
        events: &mut ctx.emitted,
    }
}

/// An incoming message that could not be taken, with the reasons (`ERRORS` of the reply item).
pub(crate) type ItemErrors = Vec<String>;

impl Live<'_> {
    fn emit(&mut self, name: &str, data: Value) {
        self.events.push(Emitted {
            name: name.to_owned(),
            data,
        });
    }

    fn now(&self) -> String {
        self.clock.iso()
    }

    /// Whether a chat's events go to apps: only chats of connectors an app registered.
    fn is_custom(&self, chat: &Chat) -> bool {
        self.state
            .openlines
            .connectors
            .contains_key(&chat.connector)
    }

    /// The `connector{…}`, `chat{id}`, `user{id}` and `session{…}` block of session events.
    fn session_block(&self, chat: &Chat, session: &Session) -> Value {
        let close_term = self
            .state
            .openlines
            .lines
            .get(&chat.line_id)
            .and_then(|line| line.settings.get("AUTO_CLOSE_TIME").and_then(value_u64))
            .unwrap_or(3600)
            / 60;
        json!({
            "connector": {
                "connector_id": chat.connector,
                "line_id": chat.line_id,
                "chat_id": chat.external_chat_id,
                "user_id": chat.external_user_id,
            },
            "session": {
                "id": session.id,
                "closed": if session.closed { "Y" } else { "N" },
                "parent_id": session.parent_id,
                "close_term": close_term,
            },
            "chat": { "id": chat.id },
            "user": { "id": chat.client_id },
        })
    }

    fn emit_session_event(&mut self, session_id: u64, start: bool) {
        let Some(session) = self.state.openlines.sessions.get(&session_id).cloned() else {
            return;
        };
        let Some(chat) = self.state.openlines.chats.get(&session.chat_id).cloned() else {
            return;
        };
        if !self.is_custom(&chat) {
            return;
        }
        let block = self.session_block(&chat, &session);
        let (session_event, dialog_event) = if start {
            ("ONSESSIONSTART", "ONIMCONNECTORDIALOGSTART")
        } else {
            ("ONSESSIONFINISH", "ONIMCONNECTORDIALOGFINISH")
        };
        self.emit(session_event, json!({ "DATA": [block.clone()] }));
        self.emit(dialog_event, json!({ "CONNECTOR": chat.connector, "LINE": chat.line_id.to_string(), "DATA": [block] }));
    }

    /// Who takes a new session: the line's welcome bot when it has one, else the queue user with
    /// the fewest open sessions (`strictly`: always the first).
    pub(crate) fn pick_operator(&self, line_id: u64, allow_bot: bool) -> (u64, bool) {
        let Some(line) = self.state.openlines.lines.get(&line_id) else {
            return (1, false);
        };
        let bot = line
            .settings
            .get("WELCOME_BOT_ID")
            .and_then(value_u64)
            .unwrap_or(0);
        if allow_bot && line.flag("WELCOME_BOT_ENABLE") && bot > 0 {
            return (bot, true);
        }
        let queue = queue_users(self.state, line);
        if line.setting("QUEUE_TYPE") == "strictly" {
            return (queue.first().copied().unwrap_or(1), false);
        }
        let load = |user: u64| {
            self.state
                .openlines
                .sessions
                .values()
                .filter(|s| !s.closed && s.operator_id == user)
                .count()
        };
        (
            queue
                .iter()
                .copied()
                .min_by_key(|user| load(*user))
                .unwrap_or(1),
            false,
        )
    }

    /// Opens a new session in `chat_id`; `operator` overrides the queue.
    pub(crate) fn start_session(
        &mut self,
        chat_id: u64,
        operator: Option<u64>,
        parent_id: u64,
    ) -> u64 {
        let Some(chat) = self.state.openlines.chats.get(&chat_id).cloned() else {
            return 0;
        };
        let (operator_id, bot) = match operator {
            Some(user) => (user, false),
            None => self.pick_operator(chat.line_id, true),
        };
        let now = self.now();
        let unix = self.clock.unix_secs();
        let ol = &mut self.state.openlines;
        ol.last_session_id += 1;
        let id = ol.last_session_id;
        ol.sessions.insert(
            id,
            Session {
                id,
                chat_id,
                line_id: chat.line_id,
                operator_id,
                client_id: chat.client_id,
                bot,
                parent_id,
                created: now,
                created_unix: unix,
                ..Session::default()
            },
        );
        if let Some(chat) = ol.chats.get_mut(&chat_id) {
            chat.session_id = id;
            if !chat.members.contains(&operator_id) {
                chat.members.push(operator_id);
            }
        }
        self.emit_session_event(id, true);
        id
    }

    /// Closes a session (no-op when it is closed already).
    pub(crate) fn finish_session(&mut self, session_id: u64) {
        let now = self.now();
        let Some(session) = self.state.openlines.sessions.get_mut(&session_id) else {
            return;
        };
        if session.closed {
            return;
        }
        session.closed = true;
        session.pinned = false;
        session.closed_at = Some(now);
        self.emit_session_event(session_id, false);
    }

    /// The chat's open session, if any.
    pub(crate) fn open_session(&self, chat_id: u64) -> Option<&Session> {
        let chat = self.state.openlines.chats.get(&chat_id)?;
        self.state
            .openlines
            .sessions
            .get(&chat.session_id)
            .filter(|s| !s.closed)
    }

    fn store_files(&mut self, chat_id: u64, author: u64, files: &[(String, String)]) -> Vec<u64> {
        let now = self.now();
        let ol = &mut self.state.openlines;
        files
            .iter()
            .map(|(name, url)| {
                ol.last_file_id += 1;
                let id = ol.last_file_id;
                ol.files.insert(
                    id,
                    File {
                        id,
                        chat_id,
                        name: name.clone(),
                        url: url.clone(),
                        author_id: author,
                        date: now.clone(),
                    },
                );
                id
            })
            .collect()
    }

    /// Stores a message and raises `ONOPENLINEMESSAGEADD` for it.
    pub(crate) fn add_message(
        &mut self,
        chat_id: u64,
        author: u64,
        text: &str,
        files: &[(String, String)],
        direction: Direction,
    ) -> u64 {
        let file_ids = self.store_files(chat_id, author, files);
        let now = self.now();
        let ol = &mut self.state.openlines;
        let session_id = ol.chats.get(&chat_id).map_or(0, |c| c.session_id);
        ol.last_message_id += 1;
        let id = ol.last_message_id;
        ol.messages.insert(
            id,
            Message {
                id,
                chat_id,
                session_id,
                author_id: author,
                text: text.to_owned(),
                files: file_ids,
                date: now,
                direction,
                ..Message::default()
            },
        );
        if let Some(chat) = self.state.openlines.chats.get(&chat_id).cloned()
            && self.is_custom(&chat)
        {
            let data = json!({ "DATA": [{
                "connector": {
                    "connector_id": chat.connector,
                    "line_id": chat.line_id,
                    "chat_id": chat.external_chat_id,
                    "user_id": chat.external_user_id,
                },
                "chat": { "id": chat_id },
                "message": self.event_message(id),
                "ref": [],
                "extra": { "EXTRA_URL": "" },
            }]});
            self.emit("ONOPENLINEMESSAGEADD", data);
        }
        id
    }

    fn event_message(&self, id: u64) -> Value {
        let Some(message) = self.state.openlines.messages.get(&id) else {
            return Value::Null;
        };
        json!({
            "id": id,
            "date": message.date,
            "text": message.text,
            "files": self.files_json(&message.files),
            "attach": message.attach.clone().unwrap_or_else(|| Value::String(String::new())),
            "system": if message.direction == Direction::System { "Y" } else { "N" },
            "user_id": message.author_id,
        })
    }

    fn files_json(&self, ids: &[u64]) -> Value {
        Value::Array(
            ids.iter()
                .filter_map(|id| self.state.openlines.files.get(id))
                .map(|f| json!({ "id": f.id, "name": f.name, "link": f.url, "type": file_type(&f.name) }))
                .collect(),
        )
    }

    /// An operator's (or bot's) message to the customer: stored, then sent to the connector
    /// with `ONIMCONNECTORMESSAGEADD` (text signed `[b]Name:[/b] [br]` unless the connector
    /// registered `NEED_SIGNATURE: false`).
    pub(crate) fn send_outgoing(
        &mut self,
        chat_id: u64,
        author: u64,
        text: &str,
        files: &[(String, String)],
    ) -> u64 {
        if let Some(chat) = self.state.openlines.chats.get_mut(&chat_id)
            && !chat.members.contains(&author)
        {
            chat.members.push(author);
        }
        if let Some(session) = self.open_session(chat_id).map(|s| s.id)
            && let Some(session) = self.state.openlines.sessions.get_mut(&session)
            && session.operator_id == author
        {
            session.answered = true;
        }
        let id = self.add_message(chat_id, author, text, files, Direction::Out);
        let Some(chat) = self.state.openlines.chats.get(&chat_id).cloned() else {
            return id;
        };
        let Some(connector) = self
            .state
            .openlines
            .connectors
            .get(&chat.connector)
            .cloned()
        else {
            return id;
        };
        let signed = if connector.flag("NEED_SIGNATURE") && author > 0 {
            format!("[b]{}:[/b] [br]{text}", display_name(self.state, author))
        } else {
            text.to_owned()
        };
        let mut message = json!({ "user_id": author, "text": signed });
        let files = self.files_json(
            &self
                .state
                .openlines
                .messages
                .get(&id)
                .map(|m| m.files.clone())
                .unwrap_or_default(),
        );
        if files.as_array().is_some_and(|f| !f.is_empty())
            && let Value::Object(map) = &mut message
        {
            // The docs leave outgoing attachments undocumented; the portal's own connectors
            // receive them as `files[n][name|link|type]`.
            map.insert("files".into(), files);
        }
        self.emit(
            "ONIMCONNECTORMESSAGEADD",
            json!({
                "CONNECTOR": chat.connector,
                "LINE": chat.line_id,
                "MESSAGES": [{
                    "im": { "chat_id": chat_id, "message_id": id },
                    "message": message,
                    "chat": { "id": chat.external_chat_id },
                }],
            }),
        );
        id
    }

    /// An operator edits their message: stored, then `ONIMCONNECTORMESSAGEUPDATE` with the
    /// external ids the connector reported for it.
    pub(crate) fn edit_outgoing(&mut self, message_id: u64, text: &str) -> bool {
        let Some(message) = self.state.openlines.messages.get_mut(&message_id) else {
            return false;
        };
        if message.deleted {
            return false;
        }
        text.clone_into(&mut message.text);
        let (chat_id, author, external_ids) = (
            message.chat_id,
            message.author_id,
            message.external_ids.clone(),
        );
        self.emit_message_change("ONOPENLINEMESSAGEUPDATE", chat_id, message_id);
        let Some(chat) = self.state.openlines.chats.get(&chat_id).cloned() else {
            return true;
        };
        let Some(connector) = self
            .state
            .openlines
            .connectors
            .get(&chat.connector)
            .cloned()
        else {
            return true;
        };
        if connector.flag("EDIT_INTERNAL_MESSAGES") {
            let signed = if connector.flag("NEED_SIGNATURE") && author > 0 {
                format!("[b]{}:[/b] [br]{text}", display_name(self.state, author))
            } else {
                text.to_owned()
            };
            self.emit(
                "ONIMCONNECTORMESSAGEUPDATE",
                json!({
                    "CONNECTOR": chat.connector,
                    "LINE": chat.line_id,
                    "MESSAGES": [{
                        "im": { "chat_id": chat_id, "message_id": message_id },
                        "message": { "id": external_ids, "text": signed },
                        "chat": { "id": chat.external_chat_id },
                    }],
                }),
            );
        }
        true
    }

    /// An operator deletes their message: `ONIMCONNECTORMESSAGEDELETE` with its external id.
    pub(crate) fn delete_outgoing(&mut self, message_id: u64) -> bool {
        let Some(message) = self.state.openlines.messages.get_mut(&message_id) else {
            return false;
        };
        if message.deleted {
            return false;
        }
        message.deleted = true;
        let (chat_id, external) = (
            message.chat_id,
            message.external_ids.first().cloned().unwrap_or_default(),
        );
        self.emit_message_change("ONOPENLINEMESSAGEDELETE", chat_id, message_id);
        let Some(chat) = self.state.openlines.chats.get(&chat_id).cloned() else {
            return true;
        };
        let Some(connector) = self
            .state
            .openlines
            .connectors
            .get(&chat.connector)
            .cloned()
        else {
            return true;
        };
        if connector.flag("DEL_INTERNAL_MESSAGES") {
            self.emit(
                "ONIMCONNECTORMESSAGEDELETE",
                json!({
                    "CONNECTOR": chat.connector,
                    "LINE": chat.line_id,
                    "MESSAGES": [{
                        "im": { "chat_id": chat_id, "message_id": message_id },
                        "message": { "id": external },
                        "chat": { "id": chat.external_chat_id },
                    }],
                }),
            );
        }
        true
    }

    /// `ONOPENLINEMESSAGEUPDATE` / `ONOPENLINEMESSAGEDELETE` for a custom connector's chat.
    pub(crate) fn emit_message_change(&mut self, event: &str, chat_id: u64, message_id: u64) {
        let Some(chat) = self.state.openlines.chats.get(&chat_id).cloned() else {
            return;
        };
        if !self.is_custom(&chat) {
            return;
        }
        self.emit(
            event,
            json!({
                "CONNECTOR": chat.connector,
                "LINE": chat.line_id,
                "DATA": [{
                    "im": { "chat_id": chat_id, "message_id": message_id },
                    "message": { "id": message_id },
                    "chat": { "id": chat_id },
                }],
            }),
        );
    }

    /// The customer behind `connector` with external id `user`, created or updated from the
    /// `user{…}` block of an incoming message.
    fn client(&mut self, connector: &str, user: &Map<String, Value>) -> u64 {
        let external = user.get("id").and_then(value_str).unwrap_or_default();
        let key = format!("{connector}|{external}");
        let text = |name: &str| user.get(name).and_then(value_str);
        let id = match self.state.openlines.clients.get(&key) {
            Some(client) => client.id,
            // Customers are portal users of their own (hidden from user.get), so their ids
            // come from the same sequence as employees'.
            None => self.state.users.users.next_id(),
        };
        let client = self
            .state
            .openlines
            .clients
            .entry(key)
            .or_insert_with(|| Client {
                id,
                connector: connector.to_owned(),
                external_id: external.clone(),
                ..Client::default()
            });
        for (field, value) in [
            (&mut client.name, text("name")),
            (&mut client.last_name, text("last_name")),
            (&mut client.email, text("email")),
            (&mut client.phone, text("phone")),
            (&mut client.url, text("url")),
            (&mut client.gender, text("gender")),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                *field = value;
            }
        }
        if let Some(picture) = user
            .get("picture")
            .and_then(|p| p.get("url"))
            .and_then(value_str)
        {
            client.picture = picture;
        }
        id
    }

    /// The chat an incoming message belongs to, created when new.
    fn chat_for(
        &mut self,
        connector: &str,
        line: u64,
        external_chat_id: &str,
        external_user_id: &str,
        client: u64,
        chat: &Map<String, Value>,
    ) -> u64 {
        let group = self
            .state
            .openlines
            .connectors
            .get(connector)
            .is_some_and(|c| c.chat_group);
        let found = self.state.openlines.chats.values().find(|c| {
            c.connector == connector
                && c.line_id == line
                && c.external_chat_id == external_chat_id
                && (group || c.external_user_id == external_user_id)
        });
        if let Some(found) = found {
            let id = found.id;
            if let Some(existing) = self.state.openlines.chats.get_mut(&id) {
                if let Some(name) = chat
                    .get("name")
                    .and_then(value_str)
                    .filter(|n| !n.is_empty())
                {
                    existing.external_name = name;
                }
                if let Some(url) = chat
                    .get("url")
                    .and_then(value_str)
                    .filter(|u| !u.is_empty())
                {
                    existing.external_url = url;
                }
                if !existing.members.contains(&client) {
                    existing.members.push(client);
                }
            }
            return id;
        }
        let line_name = self
            .state
            .openlines
            .lines
            .get(&line)
            .map(Line::name)
            .unwrap_or_default();
        let external_name = chat.get("name").and_then(value_str).unwrap_or_default();
        let name = if group && !external_name.is_empty() {
            format!("{external_name} - {line_name}")
        } else {
            format!("{} - {line_name}", display_name(self.state, client))
        };
        let now = self.now();
        let unix = self.clock.unix_secs();
        let ol = &mut self.state.openlines;
        ol.last_chat_id += 1;
        let id = ol.last_chat_id;
        let color = COLORS[usize::try_from(id).unwrap_or(0) % COLORS.len()].to_owned();
        ol.chats.insert(
            id,
            Chat {
                id,
                line_id: line,
                connector: connector.to_owned(),
                external_chat_id: external_chat_id.to_owned(),
                external_user_id: external_user_id.to_owned(),
                client_id: client,
                name,
                external_name,
                external_url: chat.get("url").and_then(value_str).unwrap_or_default(),
                color,
                created: now,
                created_unix: unix,
                members: vec![client],
                ..Chat::default()
            },
        );
        id
    }

    /// Takes one element of `imconnector.send.messages` and returns its reply item.
    pub(crate) fn incoming(
        &mut self,
        connector: &str,
        line: u64,
        item: &Map<String, Value>,
    ) -> Result<Value, ItemErrors> {
        let block = |name: &str| {
            item.get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let (user, message, chat) = (block("user"), block("message"), block("chat"));
        let external_user_id = user.get("id").and_then(value_str).unwrap_or_default();
        let external_chat_id = chat.get("id").and_then(value_str).unwrap_or_default();
        let mut errors = Vec::new();
        if external_user_id.is_empty() {
            errors.push("The user ID is not specified".to_owned());
        }
        if external_chat_id.is_empty() {
            errors.push("The chat ID is not specified".to_owned());
        }
        let text = message.get("text").and_then(value_str).unwrap_or_default();
        let files = message_files(&message);
        if text.trim().is_empty() && files.is_empty() {
            errors.push("The message is empty".to_owned());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let client = self.client(connector, &user);
        let chat_id = self.chat_for(
            connector,
            line,
            &external_chat_id,
            &external_user_id,
            client,
            &chat,
        );
        let group = self
            .state
            .openlines
            .connectors
            .get(connector)
            .is_some_and(|c| c.chat_group);
        let disable_crm = message
            .get("disable_crm")
            .and_then(value_str)
            .is_some_and(|v| v.eq_ignore_ascii_case("Y"));
        let new_session = self.open_session(chat_id).is_none();
        if new_session {
            let parent = self
                .state
                .openlines
                .chats
                .get(&chat_id)
                .map_or(0, |c| c.session_id);
            self.start_session(chat_id, None, parent);
        }
        if new_session && !group && !disable_crm {
            self.track_crm(chat_id);
        }
        // `user_id` sends the message as that manager (e.g. answered from the channel's side).
        let author = message
            .get("user_id")
            .and_then(value_u64)
            .filter(|id| *id > 0)
            .unwrap_or(client);
        let message_id = self.add_message(chat_id, author, &text, &files, Direction::In);
        let external_message = message.get("id").and_then(value_str).unwrap_or_default();
        if let Some(stored) = self.state.openlines.messages.get_mut(&message_id)
            && !external_message.is_empty()
        {
            stored.external_ids.push(external_message.clone());
        }
        let mut extra = Map::new();
        if user
            .get("skip_phone_validate")
            .and_then(value_str)
            .is_some_and(|v| v.eq_ignore_ascii_case("Y"))
        {
            extra.insert("skip_phone_validate".into(), json!("Y"));
        }
        if disable_crm || group {
            extra.insert("disable_tracker".into(), json!("Y"));
        }
        let session_id = self
            .state
            .openlines
            .chats
            .get(&chat_id)
            .map_or(0, |c| c.session_id);
        Ok(json!({
            "user": client.to_string(),
            "message": {
                "id": external_message,
                // The portal serializes its date object as `{}`.
                "date": {},
                "text": text,
                "files": files.iter().map(|(name, url)| json!({ "name": name, "url": url })).collect::<Vec<_>>(),
            },
            "chat": self.external_chat_id_json(chat_id),
            "extra": extra,
            "SUCCESS": true,
            "session": { "ID": session_id.to_string(), "CHAT_ID": chat_id.to_string() },
        }))
    }

    /// `chat{id, name, description}` of connector replies.
    fn external_chat_id_json(&self, chat_id: u64) -> Value {
        let Some(chat) = self.state.openlines.chats.get(&chat_id) else {
            return json!({});
        };
        let mut out = json!({ "id": chat.external_chat_id, "name": chat.external_name });
        if !chat.external_url.is_empty()
            && let Value::Object(map) = &mut out
        {
            map.insert(
                "description".into(),
                Value::String(format!("Link to the original post: {}", chat.external_url)),
            );
        }
        out
    }

    /// Finds the chat and the incoming message an `update`/`delete` element refers to.
    fn find_incoming(
        &self,
        connector: &str,
        line: u64,
        item: &Map<String, Value>,
    ) -> Option<(u64, u64, u64)> {
        let get = |block: &str| {
            item.get(block)
                .and_then(|b| b.get("id"))
                .and_then(value_str)
                .unwrap_or_default()
        };
        let (external_user_id, external_message, external_chat_id) =
            (get("user"), get("message"), get("chat"));
        let client = self
            .state
            .openlines
            .clients
            .get(&format!("{connector}|{external_user_id}"))?
            .id;
        let message = self.state.openlines.messages.values().rev().find(|m| {
            !m.deleted
                && m.direction == Direction::In
                && m.external_ids.contains(&external_message)
                && self.state.openlines.chats.get(&m.chat_id).is_some_and(|c| {
                    c.connector == connector
                        && c.line_id == line
                        && c.external_chat_id == external_chat_id
                })
        })?;
        Some((client, message.chat_id, message.id))
    }

    /// One element of `imconnector.update.messages`.
    pub(crate) fn update_incoming(
        &mut self,
        connector: &str,
        line: u64,
        item: &Map<String, Value>,
    ) -> Result<Value, ItemErrors> {
        let Some((client, chat_id, message_id)) = self.find_incoming(connector, line, item) else {
            return Err(vec!["The message to update was not found".into()]);
        };
        let message = item
            .get("message")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let text = message.get("text").and_then(value_str).unwrap_or_default();
        if let Some(stored) = self.state.openlines.messages.get_mut(&message_id) {
            stored.text.clone_from(&text);
        }
        self.emit_message_change("ONOPENLINEMESSAGEUPDATE", chat_id, message_id);
        Ok(json!({
            "user": client.to_string(),
            "message": { "id": message.get("id").and_then(value_str).unwrap_or_default(), "date": {}, "text": text },
            "chat": self.external_chat_id_json(chat_id),
            "SUCCESS": true,
        }))
    }

    /// One element of `imconnector.delete.messages`.
    pub(crate) fn delete_incoming(
        &mut self,
        connector: &str,
        line: u64,
        item: &Map<String, Value>,
    ) -> Result<Value, ItemErrors> {
        let allowed = self
            .state
            .openlines
            .connectors
            .get(connector)
            .is_none_or(|c| c.flag("DEL_EXTERNAL_MESSAGES"));
        if !allowed {
            return Err(vec![
                "The connector does not allow deleting messages".into(),
            ]);
        }
        let Some((client, chat_id, message_id)) = self.find_incoming(connector, line, item) else {
            return Err(vec!["The message to delete was not found".into()]);
        };
        if let Some(stored) = self.state.openlines.messages.get_mut(&message_id) {
            stored.deleted = true;
        }
        self.emit_message_change("ONOPENLINEMESSAGEDELETE", chat_id, message_id);
        let external = item
            .get("message")
            .and_then(|m| m.get("id"))
            .and_then(value_str)
            .unwrap_or_default();
        let external_chat_id = self
            .state
            .openlines
            .chats
            .get(&chat_id)
            .map(|c| c.external_chat_id.clone())
            .unwrap_or_default();
        Ok(json!({
            "user": client.to_string(),
            "message": { "id": external },
            "chat": { "id": external_chat_id },
            "SUCCESS": true,
        }))
    }

    /// Runs `crm::entity::add` for `entity` with `fields`, keeping its events.
    fn crm_add(&mut self, entity: &crm::entity::Entity, fields: &Value) -> Option<u64> {
        let Value::Object(map) = json!({ "fields": fields }) else {
            return None;
        };
        let params = Params::new(map);
        let mut ctx = Ctx {
            state: &mut *self.state,
            params: &params,
            caller: self.caller,
            clock: self.clock,
            base_url: self.base_url,
            emitted: Vec::new(),
        };
        let outcome = crm::entity::add(entity, &mut ctx);
        self.events.extend(ctx.emitted);
        outcome.ok().and_then(|reply| value_u64(&reply.result))
    }

    /// The CRM tracker: binds a new session's chat to the contact or lead with the customer's
    /// phone or e-mail, or creates one as the line's `CRM_CREATE` says.
    pub(crate) fn track_crm(&mut self, chat_id: u64) {
        let Some(chat) = self.state.openlines.chats.get(&chat_id).cloned() else {
            return;
        };
        let Some(line) = self.state.openlines.lines.get(&chat.line_id).cloned() else {
            return;
        };
        if !line.flag("CRM") || !chat.crm.is_empty() {
            return;
        }
        let Some(client) = self
            .state
            .openlines
            .clients
            .values()
            .find(|c| c.id == chat.client_id)
            .cloned()
        else {
            return;
        };
        if let Some((kind, id)) = find_crm_match(self.state, &client) {
            self.bind_crm(chat_id, &kind, id);
            return;
        }
        match line.setting("CRM_CREATE").as_str() {
            "lead" => {
                self.create_lead(chat_id);
            }
            "deal" => {
                let fields = self.person_fields(&chat, &client, &line);
                let Some(contact) = self.crm_add(&crm::CONTACT, &fields) else {
                    return;
                };
                self.bind_crm(chat_id, "CONTACT", contact);
                let title = format!("{} - {}", client.full_name(), line.name());
                let operator = self.open_session(chat_id).map_or(1, |s| s.operator_id);
                let deal = json!({ "TITLE": title, "CONTACT_ID": contact, "SOURCE_ID": source_id(&line, &chat), "ASSIGNED_BY_ID": operator });
                if let Some(deal) = self.crm_add(&crm::DEAL, &deal) {
                    self.bind_crm(chat_id, "DEAL", deal);
                    self.crm_notice(chat_id, "deal", deal, &client);
                }
            }
            _ => {}
        }
    }

    fn person_fields(&self, chat: &Chat, client: &Client, line: &Line) -> Value {
        let operator = self.open_session(chat.id).map_or(1, |s| s.operator_id);
        let mut fields = json!({
            "NAME": if client.name.is_empty() { format!("Guest {}", client.id) } else { client.name.clone() },
            "LAST_NAME": client.last_name,
            "SOURCE_ID": source_id(line, chat),
            "ASSIGNED_BY_ID": operator,
            "IM": [{ "VALUE": format!("imol|{}", chat.user_code()), "VALUE_TYPE": "IMOL" }],
        });
        if let Value::Object(map) = &mut fields {
            if !client.phone.is_empty() {
                map.insert(
                    "PHONE".into(),
                    json!([{ "VALUE": client.phone, "VALUE_TYPE": "WORK" }]),
                );
            }
            if client.email.contains('@') && client.email.contains('.') {
                map.insert(
                    "EMAIL".into(),
                    json!([{ "VALUE": client.email, "VALUE_TYPE": "WORK" }]),
                );
            }
        }
        fields
    }

    /// Creates a lead for the chat's customer and binds it (`imopenlines.crm.lead.create` and
    /// the tracker). Returns the lead's id, or `None` when the chat has one already.
    pub(crate) fn create_lead(&mut self, chat_id: u64) -> Option<u64> {
        let chat = self.state.openlines.chats.get(&chat_id).cloned()?;
        if chat.crm.contains_key("LEAD") {
            return None;
        }
        let line = self
            .state
            .openlines
            .lines
            .get(&chat.line_id)
            .cloned()
            .unwrap_or_default();
        let client = self
            .state
            .openlines
            .clients
            .values()
            .find(|c| c.id == chat.client_id)
            .cloned()
            .unwrap_or_default();
        let mut fields = self.person_fields(&chat, &client, &line);
        if let Value::Object(map) = &mut fields {
            map.insert(
                "TITLE".into(),
                Value::String(format!("{} - {}", client.full_name(), line.name())),
            );
        }
        let lead = self.crm_add(&crm::LEAD, &fields)?;
        self.bind_crm(chat_id, "LEAD", lead);
        self.crm_notice(chat_id, "lead", lead, &client);
        Some(lead)
    }

    pub(crate) fn bind_crm(&mut self, chat_id: u64, kind: &str, id: u64) {
        if let Some(chat) = self.state.openlines.chats.get_mut(&chat_id) {
            chat.crm.insert(kind.to_owned(), id);
        }
    }

    /// The system message the portal posts when the tracker creates an entity.
    fn crm_notice(&mut self, chat_id: u64, kind: &str, id: u64, client: &Client) {
        let attach = json!([{
            "id": self.clock.unix_secs(),
            "blocks": [
                { "link": [{ "name": format!("{} {}: {}", capitalized(kind), id, client.full_name()), "link": format!("/crm/{kind}/details/{id}/") }] },
                { "grid": [
                    { "display": "ROW", "name": "Name", "value": client.full_name(), "colorToken": "base" },
                    { "display": "LINE", "name": "Phone", "value": client.phone, "height": 20, "colorToken": "base" },
                ] },
            ],
            "description": "",
            "color": "#df532d",
        }]);
        let text = format!("[b]New {kind} created[/b]");
        let message = self.add_message(chat_id, 0, &text, &[], Direction::System);
        if let Some(stored) = self.state.openlines.messages.get_mut(&message) {
            stored.attach = Some(attach);
        }
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The lead source of a line: its own (`create`: `<line>|<CONNECTOR>`) or the one configured.
fn source_id(line: &Line, chat: &Chat) -> String {
    match line.setting("CRM_SOURCE").as_str() {
        "" | "create" => format!("{}|{}", line.id, chat.connector.to_ascii_uppercase()),
        other => other.to_owned(),
    }
}

/// `files[{url, name}]` of an incoming message.
pub(crate) fn message_files(message: &Map<String, Value>) -> Vec<(String, String)> {
    let items: Vec<&Value> = match message.get("files") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => map.values().collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|file| {
            let url = file
                .get("url")
                .and_then(value_str)
                .filter(|u| !u.is_empty())?;
            let name = file
                .get("name")
                .and_then(value_str)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| url.rsplit('/').next().unwrap_or("file").to_owned());
            Some((name, url))
        })
        .collect()
}

/// `image` for pictures (the chat shows them inline), `file` otherwise.
pub(crate) fn file_type(name: &str) -> &'static str {
    let extension = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ["jpe", "jpg", "jpeg", "png", "webp", "gif", "bmp"].contains(&extension.as_str()) {
        "image"
    } else {
        "file"
    }
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// A contact, then a lead, whose phone or e-mail is the customer's.
fn find_crm_match(state: &State, client: &Client) -> Option<(String, u64)> {
    let phone = digits(&client.phone);
    let email = client.email.to_ascii_lowercase();
    if phone.is_empty() && email.is_empty() {
        return None;
    }
    let matches = |row: &Map<String, Value>| {
        let values = |field: &str| -> Vec<String> {
            row.get(field)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.get("VALUE").and_then(value_str))
                        .collect()
                })
                .unwrap_or_default()
        };
        (!phone.is_empty() && values("PHONE").iter().any(|p| digits(p) == phone))
            || (!email.is_empty()
                && values("EMAIL")
                    .iter()
                    .any(|e| e.to_ascii_lowercase() == email))
    };
    for (kind, table) in [("CONTACT", &state.crm.contacts), ("LEAD", &state.crm.leads)] {
        if let Some((id, _)) = table.rows.iter().find(|(_, row)| matches(row)) {
            return Some((kind.to_owned(), *id));
        }
    }
    None
}

/// Registers the `imopenlines.*` methods.
pub(crate) fn register(registry: &mut Registry) {
    config::register(registry);
    sessions::register(registry);
}

/// Calling handlers on a bare [`State`] in unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::Value;
    use url::Url;

    use crate::sandbox::clock::Clock;
    use crate::sandbox::registry::Emitted;
    use crate::sandbox::state::State;
    pub(crate) use crate::sandbox::testing::{app, call, err, ok, webhook};

    /// A state with the seed users and the first open line.
    pub(crate) fn state() -> State {
        let mut state = State::default();
        let clock = Clock::new();
        crate::sandbox::user::seed(&mut state, &clock);
        super::seed(&mut state, &clock);
        state
    }

    /// A customer chat on line 1 through the connector `myconn` (registered and activated on
    /// first use); returns the chat and session ids and the events raised.
    pub(crate) fn customer_chat(
        state: &mut State,
        customer: &str,
        phone: &str,
    ) -> (u64, u64, Vec<Emitted>) {
        state
            .openlines
            .connectors
            .entry("myconn".into())
            .or_insert_with(|| super::Connector {
                id: "myconn".into(),
                name: "My connector".into(),
                client_id: "x".into(),
                ..super::Connector::default()
            });
        state.openlines.activations.insert(
            "myconn|1".into(),
            super::Activation {
                connector: "myconn".into(),
                line: 1,
                active: true,
                data: Value::Null,
            },
        );
        let caller = app(1);
        let base = Url::parse("http://127.0.0.1:1/").unwrap();
        let mut events = Vec::new();
        let mut live = super::Live {
            state,
            clock: Clock::new(),
            caller: &caller,
            base_url: &base,
            events: &mut events,
        };
        let item = serde_json::json!({
            "user": { "id": customer, "name": "Client", "phone": phone },
            "message": { "id": format!("{customer}-1"), "text": "Hello", "files": [{ "url": "https://example.com/p.png", "name": "p.png" }] },
            "chat": { "id": customer },
        });
        let reply = live
            .incoming("myconn", 1, item.as_object().unwrap())
            .unwrap();
        let id = |key: &str| {
            reply["session"][key]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        (id("CHAT_ID"), id("ID"), events)
    }
}
