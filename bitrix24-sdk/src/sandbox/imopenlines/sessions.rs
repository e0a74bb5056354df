//! Dialogs, sessions, operators, CRM chats, chat-bots and Bitrix24.Network:
//! the `imopenlines.*` methods that act on chats.

use serde_json::{Map, Value, json};

use super::{Chat, Live, Session, display_name, live, person_name, queue_users, seed};
use crate::sandbox::event::is_admin;
use crate::sandbox::params::{value_str, value_u64};
use crate::sandbox::registry::{Ctx, Registry};
use crate::sandbox::reply::{Fail, Outcome, Reply};
use crate::sandbox::state::State;

fn chat_id_incorrect() -> Fail {
    Fail::bad_request("CHAT_ID", "Chat ID is incorrect")
}

fn chat_id_empty() -> Fail {
    Fail::bad_request("CHAT_ID_EMPTY", "Chat ID can't be empty")
}

fn not_open_line() -> Fail {
    Fail::bad_request("CHAT_TYPE", "The chat is not an Open Channel chat")
}

fn access_denied() -> Fail {
    Fail::bad_request(
        "ACCESS_DENIED",
        "You cannot open this conversation because you do not have permission",
    )
}

fn operator_wrong() -> Fail {
    Fail::bad_request("OPERATOR_WRONG", "You can not redirect to this operator")
}

/// How a method reports a missing `CHAT_ID`: the operator methods say `CHAT_ID`, the newer ones
/// `CHAT_ID_EMPTY`.
#[derive(Debug, Clone, Copy)]
enum Missing {
    Incorrect,
    Empty,
}

/// `CHAT_ID`, then the open-line chat it names: an id that is not an open-line chat (including
/// one that does not exist) is `CHAT_TYPE`, as the portal reads the chat's type first.
fn chat_of(ctx: &Ctx<'_>, missing: Missing) -> Result<u64, Fail> {
    let id = ctx
        .params
        .u64("CHAT_ID")
        .filter(|id| *id > 0)
        .ok_or_else(|| match missing {
            Missing::Incorrect => chat_id_incorrect(),
            Missing::Empty => chat_id_empty(),
        })?;
    if ctx.state.openlines.chats.contains_key(&id) {
        Ok(id)
    } else {
        Err(not_open_line())
    }
}

/// Whether `user` may work with `chat`: administrators, members and the line's queue.
fn can_access(state: &State, chat: &Chat, user: u64) -> bool {
    is_admin(user)
        || chat.members.contains(&user)
        || state
            .openlines
            .lines
            .get(&chat.line_id)
            .is_some_and(|line| queue_users(state, line).contains(&user))
}

/// An open-line chat the caller may work with.
fn accessible_chat(ctx: &Ctx<'_>, missing: Missing) -> Result<u64, Fail> {
    let id = chat_of(ctx, missing)?;
    let chat = &ctx.state.openlines.chats[&id];
    if can_access(ctx.state, chat, ctx.caller.user_id) {
        Ok(id)
    } else {
        Err(access_denied())
    }
}

fn open_session_id(state: &State, chat_id: u64) -> Option<u64> {
    let chat = state.openlines.chats.get(&chat_id)?;
    state
        .openlines
        .sessions
        .get(&chat.session_id)
        .filter(|s| !s.closed)
        .map(|s| s.id)
}

fn session_mut<'l>(live: &'l mut Live<'_>, id: u64) -> Option<&'l mut Session> {
    live.state.openlines.sessions.get_mut(&id)
}

fn add_member(live: &mut Live<'_>, chat_id: u64, user: u64) {
    if let Some(chat) = live.state.openlines.chats.get_mut(&chat_id)
        && !chat.members.contains(&user)
    {
        chat.members.push(user);
    }
}

fn yes(ctx: &Ctx<'_>, name: &str, default: bool) -> bool {
    ctx.params
        .get(name)
        .and_then(value_str)
        .map_or(default, |v| v.eq_ignore_ascii_case("Y"))
}

/// `CRM|TYPE|ID|PINNED|SILENT|SESSION|DATE|0|0|0`, the session data of a chat.
fn entity_data_1(state: &State, chat: &Chat) -> String {
    let crm = state
        .openlines
        .lines
        .get(&chat.line_id)
        .is_some_and(|l| l.flag("CRM"));
    let (kind, id) = ["LEAD", "DEAL", "CONTACT", "COMPANY"]
        .iter()
        .find_map(|kind| chat.crm.get(*kind).map(|id| ((*kind).to_owned(), *id)))
        .unwrap_or_else(|| ("NONE".into(), 0));
    let session = state.openlines.sessions.get(&chat.session_id);
    let flag = |on: bool| if on { "Y" } else { "N" };
    format!(
        "{}|{kind}|{id}|{}|{}|{}|{}|0|0|0",
        flag(crm),
        flag(session.is_some_and(|s| s.pinned)),
        flag(session.is_some_and(|s| s.silent)),
        chat.session_id,
        session.map_or(chat.created_unix, |s| s.created_unix),
    )
}

/// `LEAD|id|COMPANY|id|CONTACT|id|DEAL|id`, the CRM bindings of a chat.
fn entity_data_2(chat: &Chat) -> String {
    let id = |kind: &str| chat.crm.get(kind).copied().unwrap_or(0);
    format!(
        "LEAD|{}|COMPANY|{}|CONTACT|{}|DEAL|{}",
        id("LEAD"),
        id("COMPANY"),
        id("CONTACT"),
        id("DEAL")
    )
}

fn operator_of(state: &State, chat: &Chat) -> u64 {
    state
        .openlines
        .sessions
        .get(&chat.session_id)
        .map_or(0, |s| s.operator_id)
}

fn chat_messages(state: &State, chat_id: u64) -> impl Iterator<Item = &super::Message> {
    state
        .openlines
        .messages
        .values()
        .filter(move |m| m.chat_id == chat_id && !m.deleted)
}

/// A chat as `imopenlines.dialog.get` returns it.
fn dialog_json(state: &State, chat: &Chat, user: u64) -> Value {
    let messages: Vec<&super::Message> = chat_messages(state, chat.id).collect();
    let last = messages.last().map_or(0, |m| m.id);
    let last_author = messages.last().map_or(0, |m| m.author_id);
    let operator = operator_of(state, chat);
    let role = if operator == user {
        "owner"
    } else if chat.members.contains(&user) {
        "member"
    } else {
        "guest"
    };
    let readed: Vec<Value> = chat
        .members
        .iter()
        .filter(|member| **member != user)
        .map(|member| json!({ "user_id": member, "user_name": display_name(state, *member), "message_id": last, "date": null }))
        .collect();
    let viewers: Vec<Value> = chat
        .members
        .iter()
        .filter(|member| **member != last_author)
        .map(|member| json!({ "user_id": member, "user_name": display_name(state, *member), "date": messages.last().map(|m| m.date.clone()) }))
        .collect();
    json!({
        "id": chat.id,
        "parent_chat_id": 0,
        "parent_message_id": 0,
        "name": chat.name,
        "description": null,
        "owner": operator,
        "extranet": false,
        "avatar": "",
        "color": chat.color,
        "type": "lines",
        "counter": 0,
        "user_counter": chat.members.len(),
        "message_count": messages.len(),
        "unread_id": 0,
        "restrictions": {
            "avatar": true, "rename": true, "extend": true, "call": true, "mute": true,
            "leave": true, "leave_owner": true, "send": true, "user_list": true,
        },
        "last_message_id": last,
        "last_id": last,
        "marked_id": 0,
        "disk_folder_id": 0,
        "entity_type": "LINES",
        "entity_id": chat.user_code(),
        "entity_data_1": entity_data_1(state, chat),
        "entity_data_2": entity_data_2(chat),
        "entity_data_3": "N",
        "mute_list": [],
        "date_create": chat.created,
        "message_type": "L",
        "public": "",
        "role": role,
        "entity_link": { "type": "LINES", "url": "", "id": chat.user_code() },
        "text_field_enabled": true,
        "background_id": null,
        "permissions": {
            "manage_users_add": "member",
            "manage_users_delete": "manager",
            "manage_ui": "member",
            "manage_settings": "owner",
            "manage_messages": "member",
            "can_post": "member",
        },
        "is_new": false,
        "readed_list": readed,
        "manager_list": [operator],
        "last_message_views": { "message_id": last, "first_viewers": viewers, "count_of_viewers": viewers.len() },
        "dialog_id": format!("chat{}", chat.id),
    })
}

/// `imopenlines.dialog.get`: by `CHAT_ID`, `DIALOG_ID` (`chatN`), `SESSION_ID` or `USER_CODE`.
fn dialog_get(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let ol = &ctx.state.openlines;
    let id = if let Some(id) = ctx.params.u64("CHAT_ID") {
        Some(id)
    } else if let Some(dialog) = ctx.params.str("DIALOG_ID") {
        dialog.strip_prefix("chat").and_then(|n| n.parse().ok())
    } else if let Some(session) = ctx.params.u64("SESSION_ID") {
        ol.sessions.get(&session).map(|s| s.chat_id)
    } else {
        ctx.params.str("USER_CODE").and_then(|code| {
            ol.chats
                .values()
                .find(|c| c.user_code() == code)
                .map(|c| c.id)
        })
    };
    let user = ctx.caller.user_id;
    let chat = id
        .and_then(|id| ol.chats.get(&id))
        .filter(|chat| can_access(ctx.state, chat, user))
        .ok_or_else(|| {
            Fail::bad_request(
                "ACCESS_ERROR",
                "You do not have access to the specified dialog",
            )
        })?;
    Ok(Reply::new(dialog_json(ctx.state, chat, user)))
}

/// `imopenlines.session.open`: the chat of a `USER_CODE`.
fn session_open(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let code = ctx.params.str("USER_CODE").unwrap_or_default();
    let user = ctx.caller.user_id;
    let chat = ctx
        .state
        .openlines
        .chats
        .values()
        .find(|c| c.user_code() == code)
        .filter(|chat| can_access(ctx.state, chat, user))
        .ok_or_else(access_denied)?;
    Ok(Reply::new(json!({ "chatId": chat.id.to_string() })))
}

/// `imopenlines.session.start`: a new session led by the caller, unless one is running.
fn session_start(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let user = ctx.caller.user_id;
    if open_session_id(ctx.state, chat_id).is_none() {
        let mut live = live(ctx);
        let parent = live
            .state
            .openlines
            .chats
            .get(&chat_id)
            .map_or(0, |c| c.session_id);
        live.start_session(chat_id, Some(user), parent);
    }
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.session.join`: the caller joins the chat.
fn session_join(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let user = ctx.caller.user_id;
    add_member(&mut live(ctx), chat_id, user);
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.session.intercept`: the caller takes over the running session.
fn session_intercept(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = chat_of(ctx, Missing::Empty).map_err(|fail| {
        if fail.code == "CHAT_TYPE" {
            operator_wrong()
        } else {
            fail
        }
    })?;
    let user = ctx.caller.user_id;
    let session = open_session_id(ctx.state, chat_id).ok_or_else(operator_wrong)?;
    if ctx.state.openlines.sessions[&session].operator_id == user
        || !can_access(ctx.state, &ctx.state.openlines.chats[&chat_id], user)
    {
        return Err(operator_wrong());
    }
    let mut live = live(ctx);
    if let Some(session) = session_mut(&mut live, session) {
        session.operator_id = user;
        session.bot = false;
    }
    add_member(&mut live, chat_id, user);
    Ok(Reply::new(json!(true)))
}

/// The running session of an accessible chat, for the operator actions.
fn running(ctx: &Ctx<'_>) -> Result<(u64, u64), Fail> {
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let session = open_session_id(ctx.state, chat_id).ok_or_else(access_denied)?;
    Ok((chat_id, session))
}

/// `imopenlines.operator.answer`: the caller accepts the dialog.
fn operator_answer(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (chat_id, session) = running(ctx)?;
    let user = ctx.caller.user_id;
    let mut live = live(ctx);
    if let Some(session) = session_mut(&mut live, session) {
        session.operator_id = user;
        session.answered = true;
        session.bot = false;
    }
    add_member(&mut live, chat_id, user);
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.operator.skip`: the caller passes the dialog to the next operator of the queue.
fn operator_skip(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let session = open_session_id(ctx.state, chat_id).ok_or_else(|| {
        Fail::bad_request(
            "ACCESS_DENIED_KICK",
            "You do not have permission to remove participants from this chat",
        )
    })?;
    let user = ctx.caller.user_id;
    let line_id = ctx.state.openlines.chats[&chat_id].line_id;
    let next = ctx
        .state
        .openlines
        .lines
        .get(&line_id)
        .map(|line| queue_users(ctx.state, line))
        .unwrap_or_default()
        .into_iter()
        .find(|candidate| *candidate != user)
        .unwrap_or(0);
    let mut live = live(ctx);
    if let Some(session) = session_mut(&mut live, session) {
        session.operator_id = next;
        session.answered = false;
    }
    if let Some(chat) = live.state.openlines.chats.get_mut(&chat_id) {
        chat.members.retain(|member| *member != user);
    }
    if next > 0 {
        add_member(&mut live, chat_id, next);
    }
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.operator.spam`: marks the dialog as spam and closes it.
fn operator_spam(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (_, session) = running(ctx)?;
    let mut live = live(ctx);
    if let Some(session) = session_mut(&mut live, session) {
        session.spam = true;
    }
    live.finish_session(session);
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.operator.finish`: the caller closes their dialog.
fn operator_finish(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let user = ctx.caller.user_id;
    if let Some(session) = open_session_id(ctx.state, chat_id) {
        if ctx.state.openlines.sessions[&session].operator_id != user && !is_admin(user) {
            return Err(access_denied());
        }
        live(ctx).finish_session(session);
    }
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.operator.another.finish`: closes a dialog another operator leads.
fn operator_another_finish(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    if let Some(session) = open_session_id(ctx.state, chat_id) {
        live(ctx).finish_session(session);
    }
    Ok(Reply::new(json!(true)))
}

/// Where a transfer goes.
enum Target {
    User(u64),
    Line(u64),
}

/// `USER_ID`, `QUEUE_ID` or `TRANSFER_ID` (`123` or `queue5`).
fn transfer_target(ctx: &Ctx<'_>) -> Result<Target, Fail> {
    if let Some(user) = ctx.params.get("USER_ID") {
        return value_u64(user)
            .filter(|id| *id > 0)
            .map(Target::User)
            .ok_or_else(|| Fail::bad_request("USER_ID_EMPTY", "User ID can't be empty"));
    }
    if let Some(queue) = ctx.params.get("QUEUE_ID") {
        return value_u64(queue)
            .filter(|id| *id > 0)
            .map(Target::Line)
            .ok_or_else(|| Fail::bad_request("QUEUE_ID_EMPTY", "QUEUE ID can't be empty"));
    }
    let transfer = ctx.params.str("TRANSFER_ID").unwrap_or_default();
    if let Some(line) = transfer
        .strip_prefix("queue")
        .and_then(|n| n.parse::<u64>().ok())
    {
        return Ok(Target::Line(line));
    }
    transfer
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .map(Target::User)
        .ok_or_else(|| Fail::bad_request("TRANSFER_ID_EMPTY", "Queue ID or User ID can't be empty"))
}

/// Moves the running session of `chat_id` to a user or to another line's queue.
fn transfer(live: &mut Live<'_>, chat_id: u64, target: &Target) -> Result<(), Fail> {
    let session = open_session_id(live.state, chat_id).ok_or_else(operator_wrong)?;
    let current = live.state.openlines.sessions[&session].operator_id;
    let operator = match target {
        Target::User(user) => {
            if *user == current || crate::sandbox::user::get(live.state, *user).is_none() {
                return Err(operator_wrong());
            }
            *user
        }
        Target::Line(queue) => {
            if !live.state.openlines.lines.contains_key(queue) {
                return Err(operator_wrong());
            }
            if let Some(chat) = live.state.openlines.chats.get_mut(&chat_id) {
                chat.line_id = *queue;
            }
            if let Some(session) = session_mut(live, session) {
                session.line_id = *queue;
            }
            live.pick_operator(*queue, false).0
        }
    };
    if let Some(session) = session_mut(live, session) {
        session.operator_id = operator;
        session.answered = false;
        session.bot = false;
    }
    add_member(live, chat_id, operator);
    Ok(())
}

/// `imopenlines.operator.transfer`.
fn operator_transfer(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    ctx.params
        .u64("CHAT_ID")
        .filter(|id| *id > 0)
        .ok_or_else(chat_id_empty)?;
    let target = transfer_target(ctx)?;
    let chat_id = accessible_chat(ctx, Missing::Empty)?;
    transfer(&mut live(ctx), chat_id, &target)?;
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.session.mode.pin`: pins (or unpins) the dialog to its operator.
fn mode_pin(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Empty)?;
    let session = open_session_id(ctx.state, chat_id).ok_or_else(access_denied)?;
    let pin = yes(ctx, "ACTIVATE", true);
    if let Some(session) = session_mut(&mut live(ctx), session) {
        session.pinned = pin;
    }
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.session.mode.silent`: hidden-message mode on or off.
fn mode_silent(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let session = open_session_id(ctx.state, chat_id).ok_or_else(access_denied)?;
    let silent = yes(ctx, "ACTIVATE", false);
    if let Some(session) = session_mut(&mut live(ctx), session) {
        session.silent = silent;
    }
    Ok(Reply::new(json!(true)))
}

/// `pinAll` / `unpinAll`: the caller's running sessions whose pin changed.
fn pin_all(ctx: &mut Ctx<'_>, pin: bool) -> Reply {
    seed(ctx.state, &ctx.clock);
    let user = ctx.caller.user_id;
    let mut changed = Vec::new();
    for session in ctx.state.openlines.sessions.values_mut().rev() {
        if !session.closed && session.operator_id == user && session.pinned != pin {
            session.pinned = pin;
            changed.push(session.id);
        }
    }
    Reply::new(json!(changed))
}

/// `imopenlines.session.mode.pinAll`.
#[allow(clippy::unnecessary_wraps)] // every handler has the same signature
fn mode_pin_all(ctx: &mut Ctx<'_>) -> Outcome {
    Ok(pin_all(ctx, true))
}

/// `imopenlines.session.mode.unpinAll`.
#[allow(clippy::unnecessary_wraps)] // every handler has the same signature
fn mode_unpin_all(ctx: &mut Ctx<'_>) -> Outcome {
    Ok(pin_all(ctx, false))
}

/// `imopenlines.session.head.vote`: a supervisor's rating and comment.
fn head_vote(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let session = ctx
        .params
        .u64("SESSION_ID")
        .filter(|id| *id > 0)
        .ok_or_else(|| Fail::bad_request("EMPTY_SESSION_ID", "Session ID can't be empty"))?;
    let rating = ctx.params.u64("RATING").filter(|r| (1..=5).contains(r));
    let comment = ctx.params.str("COMMENT").filter(|c| !c.trim().is_empty());
    if rating.is_none() && comment.is_none() {
        return Err(Fail::bad_request(
            "EMPTY_VOTE_PARAMS",
            "At least one of the parameters RATING or COMMENT must be specified",
        ));
    }
    if !is_admin(ctx.caller.user_id) {
        return Err(access_denied());
    }
    let session = ctx
        .state
        .openlines
        .sessions
        .get_mut(&session)
        .ok_or_else(access_denied)?;
    if let Some(rating) = rating {
        session.vote_head = rating;
    }
    if comment.is_some() {
        session.comment_head = comment;
    }
    Ok(Reply::new(json!(true)))
}

/// BB-code as the old web client shows it (`textlegacy`).
fn legacy_text(text: &str) -> String {
    text.replace("[b]", "<b>")
        .replace("[/b]", "</b>")
        .replace("[br]", "<br />")
        .replace("[i]", "<i>")
        .replace("[/i]", "</i>")
}

/// A person in `users` of `session.history.get`.
fn user_json(state: &State, id: u64) -> Value {
    let (first, last) = person_name(state, id);
    let row = crate::sandbox::user::get(state, id);
    let client = state.openlines.clients.values().find(|c| c.id == id);
    let field = |name: &str| {
        row.and_then(|r| r.get(name))
            .and_then(value_str)
            .unwrap_or_default()
    };
    let departments: Vec<u64> = row
        .and_then(|r| r.get("UF_DEPARTMENT"))
        .and_then(Value::as_array)
        .map(|d| d.iter().filter_map(value_u64).collect())
        .unwrap_or_default();
    let bot = row.is_none() && client.is_none();
    let gender = match client
        .map_or_else(|| field("PERSONAL_GENDER"), |c| c.gender.clone())
        .to_ascii_lowercase()
        .as_str()
    {
        "f" | "female" => "F",
        _ => "M",
    };
    json!({
        "id": id.to_string(),
        "name": format!("{first} {last}").trim(),
        "active": true,
        "firstName": first,
        "lastName": last,
        "workPosition": field("WORK_POSITION"),
        "color": super::COLORS[usize::try_from(id).unwrap_or(0) % super::COLORS.len()],
        "avatar": client.map(|c| c.picture.clone()).unwrap_or_default(),
        "avatarId": "0",
        "birthday": "",
        "gender": gender,
        "phoneDevice": false,
        "phones": false,
        "extranet": client.is_some(),
        "network": false,
        "bot": bot,
        "connector": client.is_some(),
        "profile": format!("/company/personal/user/{id}/"),
        "externalAuthId": if client.is_some() { "imconnector" } else if bot { "bot" } else { "socservices" },
        "status": "online",
        "idle": false,
        "lastActivityDate": field("LAST_LOGIN"),
        "mobileLastDate": false,
        "desktopLastDate": false,
        "departments": departments,
        "absent": false,
        "type": if client.is_some() { "extranet" } else if bot { "bot" } else { "user" },
        "services": null,
        "botData": null,
    })
}

/// A file in `files` of `session.history.get`, served from its original URL.
fn file_json(state: &State, file: &super::File) -> Value {
    let extension = file
        .name
        .rsplit('.')
        .next()
        .filter(|e| *e != file.name)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let kind = super::file_type(&file.name);
    let image = if kind == "image" {
        json!({ "height": 0, "width": 0 })
    } else {
        json!(false)
    };
    json!({
        "id": file.id,
        "chatid": file.chat_id,
        "date": file.date,
        "type": kind,
        "name": file.name,
        "extension": extension,
        "size": 0,
        "image": image,
        "status": "done",
        "progress": 100,
        "authorid": file.author_id,
        "authorname": display_name(state, file.author_id),
        "urlpreview": file.url,
        "urlshow": file.url,
        "urldownload": file.url,
        "viewerattrs": {
            "viewer": "",
            "viewertype": kind,
            "src": file.url,
            "viewerresized": "",
            "objectid": file.id.to_string(),
            "viewergroupby": file.chat_id.to_string(),
            "imchatid": file.chat_id,
            "title": file.name,
            "actions": "[{\"type\":\"download\"}]",
        },
        "mediaurl": { "preview": { "250": file.url } },
        "istranscribable": false,
        "isvideonote": false,
        "isvoicenote": false,
    })
}

/// The `chat` entry of `session.history.get`.
fn history_chat_json(state: &State, chat: &Chat) -> Value {
    let operator = operator_of(state, chat);
    let mute: Map<String, Value> = chat
        .members
        .iter()
        .map(|m| (m.to_string(), Value::Bool(false)))
        .collect();
    json!({
        "id": chat.id.to_string(),
        "parentChatId": 0,
        "parentMessageId": 0,
        "name": chat.name,
        "owner": operator.to_string(),
        "color": chat.color,
        "extranet": false,
        "avatar": "",
        "call": "0",
        "callNumber": "",
        "entityType": "LINES",
        "entityId": chat.user_code(),
        "entityData1": entity_data_1(state, chat),
        "entityData2": entity_data_2(chat),
        "entityData3": "",
        "messageCount": chat_messages(state, chat.id).count(),
        "public": "",
        "muteList": mute,
        "managerList": [operator],
        "dateCreate": chat.created,
        "type": "lines",
        "entityLink": { "type": "LINES", "url": "", "id": chat.user_code() },
        "permissions": {
            "manageUsersAdd": "member",
            "manageUsersDelete": "manager",
            "manageUi": "member",
            "manageSettings": "owner",
            "manageMessages": "member",
            "canPost": "member",
        },
        "textFieldEnabled": true,
        "backgroundId": null,
        "messageType": "L",
        "isNew": false,
    })
}

/// `userInGroup` (people by department) and `woUserInGroup` (people in none) of a history.
fn departments_of(state: &State, people: &[u64]) -> (Map<String, Value>, Vec<Value>) {
    let mut groups: Map<String, Value> = Map::new();
    let mut outside = Vec::new();
    for person in people {
        let departments: Vec<u64> = crate::sandbox::user::get(state, *person)
            .and_then(|r| r.get("UF_DEPARTMENT"))
            .and_then(Value::as_array)
            .map(|d| d.iter().filter_map(value_u64).collect())
            .unwrap_or_default();
        if departments.is_empty() {
            outside.push(Value::String(person.to_string()));
        }
        for department in departments {
            let entry = groups
                .entry(department.to_string())
                .or_insert_with(|| json!({ "id": department, "users": [] }));
            if let Some(Value::Array(list)) = entry.get_mut("users") {
                list.push(Value::String(person.to_string()));
            }
        }
    }
    (groups, outside)
}

/// A message in `message` of `session.history.get`.
fn history_message_json(message: &super::Message, dialog: &str) -> Value {
    let mut params = Map::new();
    if !message.external_ids.is_empty() {
        params.insert("connectorMid".into(), json!(message.external_ids));
    }
    if !message.files.is_empty() {
        params.insert("fileId".into(), json!(message.files));
    }
    if let Some(attach) = &message.attach {
        params.insert("attach".into(), attach.clone());
    }
    json!({
        "id": message.id.to_string(),
        "chatid": message.chat_id.to_string(),
        "senderid": message.author_id.to_string(),
        "recipientid": dialog,
        "date": message.date,
        "text": message.text,
        "textlegacy": legacy_text(&message.text),
        "params": params,
    })
}

/// The session `session.history.get` is about: `SESSION_ID`, or the latest of `CHAT_ID`.
fn history_session<'s>(ctx: &'s Ctx<'_>) -> Result<&'s Session, Fail> {
    let state = &*ctx.state;
    let session = match (
        ctx.params.u64("SESSION_ID").filter(|id| *id > 0),
        ctx.params.u64("CHAT_ID").filter(|id| *id > 0),
    ) {
        (Some(session), _) => state
            .openlines
            .sessions
            .get(&session)
            .ok_or_else(access_denied)?,
        (None, Some(chat)) => state
            .openlines
            .sessions
            .values()
            .rev()
            .find(|s| s.chat_id == chat)
            .ok_or_else(|| {
                Fail::bad_request(
                    "INVALID_SESSION_ID",
                    "Unable to determine session ID from provided parameters",
                )
            })?,
        (None, None) => {
            return Err(Fail::bad_request(
                "MISSING_REQUIRED_PARAM",
                "Session ID or Chat ID must be provided",
            ));
        }
    };
    Ok(session)
}

/// `imopenlines.session.history.get`: the messages of one session, with the people, the chat
/// and the files they refer to.
fn history_get(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let state = &*ctx.state;
    let user = ctx.caller.user_id;
    let session = history_session(ctx)?;
    let chat = state
        .openlines
        .chats
        .get(&session.chat_id)
        .ok_or_else(access_denied)?;
    if !can_access(state, chat, user) {
        return Err(access_denied());
    }
    let dialog = format!("chat{}", chat.id);
    let messages: Vec<&super::Message> = chat_messages(state, chat.id)
        .filter(|m| m.session_id == session.id)
        .collect();
    let mut by_id = Map::new();
    let mut people = vec![];
    let mut files = Map::new();
    // Newest first, as the portal lists them.
    for message in messages.iter().rev() {
        by_id.insert(
            message.id.to_string(),
            history_message_json(message, &dialog),
        );
        if message.author_id > 0 && !people.contains(&message.author_id) {
            people.push(message.author_id);
        }
        for file in message
            .files
            .iter()
            .filter_map(|id| state.openlines.files.get(id))
        {
            files.insert(file.id.to_string(), file_json(state, file));
        }
    }
    for member in &chat.members {
        if !people.contains(member) {
            people.push(*member);
        }
    }
    // Employees first, then customers and bots.
    people.sort_by_key(|id| crate::sandbox::user::get(state, *id).is_none());
    let users: Map<String, Value> = people
        .iter()
        .map(|id| (id.to_string(), user_json(state, *id)))
        .collect();
    let (groups, outside) = departments_of(state, &people);
    let ids: Vec<String> = messages.iter().rev().map(|m| m.id.to_string()).collect();
    let or_empty = |map: Map<String, Value>| {
        if map.is_empty() {
            json!([])
        } else {
            Value::Object(map)
        }
    };
    let blocked: Map<String, Value> = chat
        .members
        .iter()
        .map(|m| (m.to_string(), Value::Bool(false)))
        .collect();
    Ok(Reply::new(json!({
        "chatId": chat.id,
        "canJoin": if chat.members.contains(&user) { "N" } else { "Y" },
        "canVoteHead": if is_admin(user) { "Y" } else { "N" },
        "sessionId": session.id,
        "sessionVoteHead": session.vote_head,
        "sessionCommentHead": session.comment_head,
        "userId": dialog,
        "message": or_empty(by_id),
        "usersMessage": { dialog.clone(): ids },
        "users": users,
        "openlines": { "canvoteashead": { chat.line_id.to_string(): is_admin(user) } },
        "userInGroup": or_empty(groups),
        "woUserInGroup": outside,
        "chat": { chat.id.to_string(): history_chat_json(state, chat) },
        "userBlockChat": { chat.id.to_string(): blocked },
        "userInChat": { chat.id.to_string(): chat.members },
        "files": or_empty(files),
    })))
}

/// `imopenlines.message.session.start`: closes the running session and starts a new one with
/// `MESSAGE_ID` moved into it.
fn message_session_start(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let message = ctx
        .params
        .u64("MESSAGE_ID")
        .filter(|id| {
            ctx.state
                .openlines
                .messages
                .get(id)
                .is_some_and(|m| m.chat_id == chat_id)
        })
        .ok_or_else(access_denied)?;
    let user = ctx.caller.user_id;
    let mut live = live(ctx);
    let previous = live
        .state
        .openlines
        .chats
        .get(&chat_id)
        .map_or(0, |c| c.session_id);
    live.finish_session(previous);
    let session = live.start_session(chat_id, Some(user), previous);
    if let Some(message) = live.state.openlines.messages.get_mut(&message) {
        message.session_id = session;
    }
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.message.quick.save`: keeps a chat message as a quick answer.
fn quick_save(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let message = ctx
        .params
        .u64("MESSAGE_ID")
        .and_then(|id| ctx.state.openlines.messages.get(&id))
        .filter(|m| m.chat_id == chat_id && !m.deleted && !m.text.trim().is_empty())
        .cloned()
        .ok_or_else(|| {
            Fail::bad_request("CANT_SAVE_QUICK_ANSWER", "Could not save the quick answer")
        })?;
    let saved = json!({ "ID": ctx.state.openlines.quick_answers.len() + 1, "TEXT": message.text, "MESSAGE_ID": message.id, "CHAT_ID": chat_id, "USER_ID": ctx.caller.user_id });
    ctx.state.openlines.quick_answers.push(saved);
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.crm.lead.create`: a lead from the chat's customer, by the session's operator.
fn crm_lead_create(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = accessible_chat(ctx, Missing::Incorrect)?;
    let user = ctx.caller.user_id;
    if let Some(session) = open_session_id(ctx.state, chat_id)
        && ctx.state.openlines.sessions[&session].operator_id != user
    {
        return Err(Fail::bad_request(
            "ERROR_USER_NOT_OPERATOR",
            "Attempt to save a CRM entity by a user who is not an operator",
        ));
    }
    live(ctx).create_lead(chat_id);
    Ok(Reply::new(json!(true)))
}

fn argument_empty(name: &str) -> Fail {
    Fail::argument_empty(name)
}

fn invalid_type(name: &str) -> Fail {
    Fail::bad_request(
        "ERROR_ARGUMENT",
        format!("The value of an argument '{name}' has an invalid type"),
    )
}

/// `CRM_ENTITY_TYPE` and `CRM_ENTITY` as (`LEAD`, 42), with `ERROR_ARGUMENT` when missing or bad.
fn crm_entity(ctx: &Ctx<'_>) -> Result<(String, u64), Fail> {
    let kind = ctx
        .params
        .str("CRM_ENTITY_TYPE")
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| argument_empty("CRM_ENTITY_TYPE"))?;
    let kind = kind.to_ascii_uppercase();
    if !["LEAD", "DEAL", "CONTACT", "COMPANY"].contains(&kind.as_str()) {
        return Err(invalid_type("CRM_ENTITY_TYPE"));
    }
    let raw = ctx
        .params
        .get("CRM_ENTITY")
        .filter(|v| value_str(v).is_some_and(|s| !s.trim().is_empty()))
        .ok_or_else(|| argument_empty("CRM_ENTITY"))?;
    let id = value_u64(raw)
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid_type("CRM_ENTITY"))?;
    Ok((kind, id))
}

fn chat_not_in_crm() -> Fail {
    Fail::bad_request(
        "CHAT_NOT_IN_CRM",
        "Chat does not belong to the CRM entity being checked",
    )
}

fn bound(chat: &Chat, kind: &str, id: u64) -> bool {
    chat.crm.get(kind) == Some(&id)
}

/// `imopenlines.crm.message.add`: a message from `USER_ID` into a chat bound to the entity; it
/// goes out to the customer like any operator message.
fn crm_message_add(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (kind, entity) = crm_entity(ctx)?;
    let user = ctx
        .params
        .get("USER_ID")
        .filter(|v| value_str(v).is_some_and(|s| !s.is_empty()))
        .ok_or_else(|| argument_empty("USER_ID"))?;
    let user = value_u64(user)
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid_type("USER_ID"))?;
    let chat = ctx
        .params
        .get("CHAT_ID")
        .filter(|v| value_str(v).is_some_and(|s| !s.is_empty()))
        .ok_or_else(|| argument_empty("CHAT_ID"))?;
    let chat_id = value_u64(chat)
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid_type("CHAT_ID"))?;
    let text = ctx
        .params
        .str("MESSAGE")
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| argument_empty("MESSAGE"))?;
    let chat = ctx
        .state
        .openlines
        .chats
        .get(&chat_id)
        .filter(|c| bound(c, &kind, entity))
        .ok_or_else(chat_not_in_crm)?;
    if crate::sandbox::user::get(ctx.state, user).is_none() && !chat.members.contains(&user) {
        return Err(Fail::new(
            403,
            "ACCESS_DENIED",
            "Access denied! User dont have access to this entity",
        ));
    }
    let id = live(ctx).send_outgoing(chat_id, user, &text, &[]);
    Ok(Reply::new(json!(id)))
}

/// Chats bound to a CRM entity, newest first.
fn crm_chats(state: &State, kind: &str, id: u64, active_only: bool) -> Vec<u64> {
    let mut chats: Vec<u64> = state
        .openlines
        .chats
        .values()
        .filter(|c| bound(c, kind, id))
        .filter(|c| !active_only || open_session_id(state, c.id).is_some())
        .map(|c| c.id)
        .collect();
    chats.reverse();
    chats
}

/// `imopenlines.crm.chat.get`.
fn crm_chat_get(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (kind, entity) = crm_entity(ctx)?;
    let active_only = yes(ctx, "ACTIVE_ONLY", true);
    let state = &*ctx.state;
    let rows: Vec<Value> = crm_chats(state, &kind, entity, active_only)
        .into_iter()
        .filter_map(|id| state.openlines.chats.get(&id))
        .map(|chat| {
            json!({
                "CHAT_ID": chat.id.to_string(),
                "CONNECTOR_ID": chat.connector,
                "CONNECTOR_TITLE": super::connector_title(&state.openlines, &chat.connector),
            })
        })
        .collect();
    Ok(Reply::new(Value::Array(rows)))
}

fn empty_crm_data() -> Fail {
    Fail::bad_request("CRM_CHAT_EMPTY_CRM_DATA", "Empty CRM data")
}

/// `CRM_ENTITY_TYPE`/`CRM_ENTITY` for the `crm.chat.*` methods that report missing ones as
/// `CRM_CHAT_EMPTY_CRM_DATA`.
fn crm_data(ctx: &Ctx<'_>) -> Result<(String, u64), Fail> {
    let present = |name: &str| {
        ctx.params
            .get(name)
            .and_then(value_str)
            .is_some_and(|v| !v.trim().is_empty())
    };
    if !present("CRM_ENTITY_TYPE") || !present("CRM_ENTITY") {
        return Err(empty_crm_data());
    }
    crm_entity(ctx)
}

/// `imopenlines.crm.chat.getLastId`.
fn crm_chat_last_id(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (kind, entity) = crm_data(ctx)?;
    let last = crm_chats(ctx.state, &kind, entity, false)
        .first()
        .copied()
        .ok_or_else(|| Fail::bad_request("CRM_CHAT_EMPTY_CRM_DATA", "Could not find CRM entity"))?;
    Ok(Reply::new(json!(last)))
}

/// The chat `CHAT_ID` names (it must be bound to the entity) or the entity's latest chat.
fn crm_chat_for(ctx: &Ctx<'_>, kind: &str, entity: u64) -> Result<u64, Fail> {
    match ctx.params.u64("CHAT_ID").filter(|id| *id > 0) {
        Some(id) => ctx
            .state
            .openlines
            .chats
            .get(&id)
            .filter(|c| bound(c, kind, entity))
            .map(|c| c.id)
            .ok_or_else(chat_not_in_crm),
        None => crm_chats(ctx.state, kind, entity, false)
            .first()
            .copied()
            .ok_or_else(chat_not_in_crm),
    }
}

fn user_not_active() -> Fail {
    Fail::bad_request("CRM_CHAT_USER_NOT_ACTIVE", "User not active")
}

/// `imopenlines.crm.chat.user.add`: adds an employee to the entity's chat.
fn crm_chat_user_add(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let (kind, entity) = crm_entity(ctx)?;
    let user = ctx
        .params
        .u64("USER_ID")
        .filter(|id| *id > 0)
        .ok_or_else(|| argument_empty("Empty USER_ID"))?;
    let chat_id = crm_chat_for(ctx, &kind, entity)?;
    if crate::sandbox::user::get(ctx.state, user).is_none() {
        return Err(user_not_active());
    }
    if ctx.state.openlines.chats[&chat_id].members.contains(&user) {
        return Err(Fail::bad_request(
            "WRONG_REQUEST",
            "You don't have access or user already member in chat",
        ));
    }
    add_member(&mut live(ctx), chat_id, user);
    Ok(Reply::new(json!(chat_id)))
}

/// `imopenlines.crm.chat.user.delete`: removes an employee from the entity's chat.
fn crm_chat_user_delete(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let user = ctx
        .params
        .u64("USER_ID")
        .filter(|id| *id > 0)
        .ok_or_else(|| Fail::bad_request("CRM_CHAT_EMPTY_USER", "Empty User ID"))?;
    let (kind, entity) = crm_data(ctx)?;
    let chat_id = crm_chat_for(ctx, &kind, entity)?;
    if crate::sandbox::user::get(ctx.state, user).is_none() {
        return Err(user_not_active());
    }
    let chat = ctx
        .state
        .openlines
        .chats
        .get_mut(&chat_id)
        .ok_or_else(chat_not_in_crm)?;
    if !chat.members.contains(&user) {
        return Err(Fail::bad_request(
            "WRONG_REQUEST",
            "You don't have access or user already not in chat",
        ));
    }
    chat.members.retain(|m| *m != user);
    Ok(Reply::new(json!(chat_id)))
}

/// The chat of a bot method: `CHAT_ID_EMPTY` when missing, `WRONG_CHAT` when unknown.
fn bot_chat(ctx: &Ctx<'_>) -> Result<u64, Fail> {
    let id = ctx
        .params
        .u64("CHAT_ID")
        .filter(|id| *id > 0)
        .ok_or_else(chat_id_empty)?;
    if ctx.state.openlines.chats.contains_key(&id) {
        Ok(id)
    } else {
        Err(Fail::bad_request("WRONG_CHAT", "Chat not found"))
    }
}

/// The running session of a chat, when a chat-bot leads it.
fn bot_session(state: &State, chat_id: u64) -> Option<u64> {
    open_session_id(state, chat_id).filter(|id| state.openlines.sessions[id].bot)
}

fn bot_not_found() -> Fail {
    Fail::bad_request("BOT_ID_ERROR", "Bot not found")
}

/// `imopenlines.bot.session.message.send`: the line's bot writes to the customer.
fn bot_message_send(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = bot_chat(ctx)?;
    let text = ctx.params.str("MESSAGE").unwrap_or_default();
    let state = &*ctx.state;
    let chat = &state.openlines.chats[&chat_id];
    let author = bot_session(state, chat_id).map_or_else(
        || {
            state
                .openlines
                .lines
                .get(&chat.line_id)
                .and_then(|l| l.settings.get("WELCOME_BOT_ID"))
                .and_then(value_u64)
                .unwrap_or(0)
        },
        |id| state.openlines.sessions[&id].operator_id,
    );
    if !text.trim().is_empty() {
        live(ctx).send_outgoing(chat_id, author, &text, &[]);
    }
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.bot.session.operator`: the bot hands the dialog to the queue.
fn bot_operator(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = bot_chat(ctx)?;
    bot_session(ctx.state, chat_id)
        .ok_or_else(|| Fail::bad_request("WRONG_CHAT", "Operator is not a bot"))?;
    let line = ctx.state.openlines.chats[&chat_id].line_id;
    transfer(&mut live(ctx), chat_id, &Target::Line(line))?;
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.bot.session.transfer`: the bot hands the dialog to a user or a line.
fn bot_transfer(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    ctx.params
        .u64("CHAT_ID")
        .filter(|id| *id > 0)
        .ok_or_else(chat_id_empty)?;
    let target = transfer_target(ctx)?;
    let chat_id = bot_chat(ctx)?;
    let session = bot_session(ctx.state, chat_id).ok_or_else(bot_not_found)?;
    let bot = ctx.state.openlines.sessions[&session].operator_id;
    let leave = yes(ctx, "LEAVE", false);
    let mut live = live(ctx);
    transfer(&mut live, chat_id, &target)?;
    if leave && let Some(chat) = live.state.openlines.chats.get_mut(&chat_id) {
        chat.members.retain(|m| *m != bot);
    }
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.bot.session.finish`: the bot closes the dialog.
fn bot_finish(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let chat_id = bot_chat(ctx)?;
    let session = bot_session(ctx.state, chat_id).ok_or_else(bot_not_found)?;
    live(ctx).finish_session(session);
    Ok(Reply::new(json!(true)))
}

/// A Bitrix24.Network line by `CODE`: 32 characters, known, and (for joining) active.
fn network_line(ctx: &Ctx<'_>) -> Result<String, Fail> {
    let code = ctx.params.str("CODE").unwrap_or_default();
    if code.chars().count() != 32 {
        return Err(Fail::bad_request("CODE", "You entered an invalid code"));
    }
    if !ctx.state.openlines.network.contains_key(&code) {
        return Err(Fail::bad_request("NOT_FOUND", "Line not found"));
    }
    Ok(code)
}

/// `imopenlines.network.join`: connects a Bitrix24.Network line; returns its bot.
fn network_join(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let code = network_line(ctx)?;
    if !ctx.state.openlines.network[&code].active {
        return Err(Fail::bad_request("INACTIVE", "Openline is inactive"));
    }
    let existing = ctx.state.openlines.network[&code].bot_id;
    let bot = if existing > 0 {
        existing
    } else {
        ctx.state.users.users.next_id()
    };
    if let Some(line) = ctx.state.openlines.network.get_mut(&code) {
        line.bot_id = bot;
    }
    Ok(Reply::new(json!(bot)))
}

/// The largest `ATTACH`, serialized.
const MAX_ATTACH: usize = 30 * 1024;

/// `imopenlines.network.message.add`: a line's message to a portal user, at most one per user
/// a week.
fn network_message_add(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let code = network_line(ctx)?;
    let user = ctx
        .params
        .u64("USER_ID")
        .filter(|id| *id > 0)
        .ok_or_else(|| Fail::bad_request("USER_ID_EMPTY", "User ID can't be empty"))?;
    let text = ctx
        .params
        .str("MESSAGE")
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| Fail::bad_request("MESSAGE_EMPTY", "Message can't be empty"))?;
    if let Some(attach) = ctx.params.get("ATTACH") {
        if !(attach.is_object() || attach.is_array()) {
            return Err(Fail::bad_request("ATTACH_ERROR", "Incorrect attach params"));
        }
        if attach.to_string().len() > MAX_ATTACH {
            return Err(Fail::bad_request(
                "ATTACH_OVERSIZE",
                "You have exceeded the maximum allowable size of attach",
            ));
        }
    }
    if let Some(keyboard) = ctx.params.get("KEYBOARD")
        && !(keyboard.is_object() || keyboard.is_array())
    {
        return Err(Fail::bad_request(
            "KEYBOARD_ERROR",
            "Incorrect keyboard params",
        ));
    }
    let now = ctx.now_unix();
    let week = 7 * 24 * 3600;
    let recent = ctx.state.openlines.network_messages.iter().any(|m| {
        m["CODE"] == code
            && value_u64(&m["USER_ID"]) == Some(user)
            && m["SENT"].as_i64().is_some_and(|sent| now - sent < week)
    });
    if recent {
        return Err(Fail::bad_request(
            "USER_MESSAGE_LIMIT",
            "You cant send more than one message per week to each user",
        ));
    }
    let message = json!({
        "CODE": code,
        "USER_ID": user,
        "MESSAGE": text,
        "ATTACH": ctx.params.get("ATTACH"),
        "KEYBOARD": ctx.params.get("KEYBOARD"),
        "SENT": now,
        "DATE": ctx.now_iso(),
    });
    ctx.state.openlines.network_messages.push(message);
    Ok(Reply::new(json!(true)))
}

pub(crate) fn register(registry: &mut Registry) {
    registry.method("imopenlines.dialog.get", dialog_get);
    registry.method("imopenlines.session.open", session_open);
    registry.method("imopenlines.session.start", session_start);
    registry.method("imopenlines.session.join", session_join);
    registry.method("imopenlines.session.intercept", session_intercept);
    registry.method("imopenlines.session.history.get", history_get);
    registry.method("imopenlines.session.head.vote", head_vote);
    registry.method("imopenlines.session.mode.pin", mode_pin);
    registry.method("imopenlines.session.mode.silent", mode_silent);
    registry.method("imopenlines.session.mode.pinAll", mode_pin_all);
    registry.method("imopenlines.session.mode.unpinAll", mode_unpin_all);
    registry.method("imopenlines.message.session.start", message_session_start);
    registry.method("imopenlines.message.quick.save", quick_save);
    registry.method("imopenlines.operator.answer", operator_answer);
    registry.method("imopenlines.operator.skip", operator_skip);
    registry.method("imopenlines.operator.spam", operator_spam);
    registry.method("imopenlines.operator.finish", operator_finish);
    registry.method(
        "imopenlines.operator.another.finish",
        operator_another_finish,
    );
    registry.method("imopenlines.operator.transfer", operator_transfer);
    registry.method("imopenlines.crm.message.add", crm_message_add);
    registry.method("imopenlines.crm.lead.create", crm_lead_create);
    registry.method("imopenlines.crm.chat.get", crm_chat_get);
    registry.method("imopenlines.crm.chat.getLastId", crm_chat_last_id);
    registry.method("imopenlines.crm.chat.user.add", crm_chat_user_add);
    registry.method("imopenlines.crm.chat.user.delete", crm_chat_user_delete);
    registry.method("imopenlines.bot.session.message.send", bot_message_send);
    registry.method("imopenlines.bot.session.operator", bot_operator);
    registry.method("imopenlines.bot.session.transfer", bot_transfer);
    registry.method("imopenlines.bot.session.finish", bot_finish);
    registry.method("imopenlines.network.join", network_join);
    registry.method("imopenlines.network.message.add", network_message_add);
}

// Scenario tests read top to bottom, one portal story each.
#[cfg(test)]
#[allow(clippy::too_many_lines)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sandbox::imopenlines::testing::{app, call, customer_chat, err, ok, state, webhook};

    #[test]
    fn dialogs_are_found_every_documented_way() {
        let mut state = state();
        let (chat, session, _) = customer_chat(&mut state, "u1", "+1 555 0100");
        let by_chat = ok(
            &mut state,
            &webhook(),
            dialog_get,
            json!({ "CHAT_ID": chat }),
        );
        assert_eq!(by_chat["dialog_id"], format!("chat{chat}"));
        assert_eq!(by_chat["entity_id"], "myconn|1|u1|u1");
        let data: Vec<String> = by_chat["entity_data_1"]
            .as_str()
            .unwrap()
            .split('|')
            .map(str::to_owned)
            .collect();
        assert_eq!(
            (data[1].as_str(), data[5].clone()),
            ("LEAD", session.to_string())
        );
        assert_eq!(by_chat["role"], "owner");
        for params in [
            json!({ "DIALOG_ID": format!("chat{chat}") }),
            json!({ "SESSION_ID": session }),
            json!({ "USER_CODE": "myconn|1|u1|u1" }),
        ] {
            assert_eq!(ok(&mut state, &webhook(), dialog_get, params)["id"], chat);
        }
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                dialog_get,
                json!({ "CHAT_ID": 999 })
            )
            .code,
            "ACCESS_ERROR"
        );
        assert_eq!(
            err(&mut state, &app(3), dialog_get, json!({ "CHAT_ID": chat })).code,
            "ACCESS_ERROR"
        );
        assert_eq!(
            ok(
                &mut state,
                &webhook(),
                session_open,
                json!({ "USER_CODE": "myconn|1|u1|u1" })
            ),
            json!({ "chatId": chat.to_string() })
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                session_open,
                json!({ "USER_CODE": "x|1|2|3" })
            )
            .code,
            "ACCESS_DENIED"
        );
    }

    #[test]
    fn operators_work_the_session() {
        let mut state = state();
        let (chat, session, _) = customer_chat(&mut state, "u1", "");
        assert_eq!(
            err(&mut state, &webhook(), operator_answer, json!({})).code,
            "CHAT_ID"
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                operator_answer,
                json!({ "CHAT_ID": 999 })
            )
            .code,
            "CHAT_TYPE"
        );
        assert_eq!(
            err(
                &mut state,
                &app(3),
                operator_answer,
                json!({ "CHAT_ID": chat })
            )
            .code,
            "ACCESS_DENIED"
        );
        ok(
            &mut state,
            &webhook(),
            operator_answer,
            json!({ "CHAT_ID": chat }),
        );
        assert!(state.openlines.sessions[&session].answered);

        assert_eq!(
            err(
                &mut state,
                &webhook(),
                operator_transfer,
                json!({ "CHAT_ID": chat })
            )
            .code,
            "TRANSFER_ID_EMPTY"
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                operator_transfer,
                json!({ "CHAT_ID": chat, "USER_ID": 0 })
            )
            .code,
            "USER_ID_EMPTY"
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                operator_transfer,
                json!({ "CHAT_ID": chat, "USER_ID": 77 })
            )
            .code,
            "OPERATOR_WRONG"
        );
        ok(
            &mut state,
            &webhook(),
            operator_transfer,
            json!({ "CHAT_ID": chat, "USER_ID": 2 }),
        );
        assert_eq!(state.openlines.sessions[&session].operator_id, 2);
        assert_eq!(
            err(&mut state, &webhook(), session_intercept, json!({})).code,
            "CHAT_ID_EMPTY"
        );
        ok(
            &mut state,
            &webhook(),
            session_intercept,
            json!({ "CHAT_ID": chat }),
        );
        assert_eq!(state.openlines.sessions[&session].operator_id, 1);
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                session_intercept,
                json!({ "CHAT_ID": chat })
            )
            .code,
            "OPERATOR_WRONG"
        );

        ok(&mut state, &webhook(), mode_pin, json!({ "CHAT_ID": chat }));
        assert!(state.openlines.sessions[&session].pinned);
        assert_eq!(
            ok(&mut state, &webhook(), mode_unpin_all, json!({})),
            json!([session])
        );
        assert_eq!(
            ok(&mut state, &webhook(), mode_pin_all, json!({})),
            json!([session])
        );
        assert_eq!(
            ok(&mut state, &webhook(), mode_pin_all, json!({})),
            json!([])
        );
        ok(
            &mut state,
            &webhook(),
            mode_silent,
            json!({ "CHAT_ID": chat, "ACTIVATE": "Y" }),
        );
        assert!(state.openlines.sessions[&session].silent);

        let (outcome, events) = call(
            &mut state,
            &webhook(),
            operator_finish,
            json!({ "CHAT_ID": chat }),
        );
        outcome.unwrap();
        assert!(state.openlines.sessions[&session].closed);
        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["ONSESSIONFINISH", "ONIMCONNECTORDIALOGFINISH"]);
        assert_eq!(events[0].data["DATA"][0]["session"]["closed"], "Y");
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                operator_skip,
                json!({ "CHAT_ID": chat })
            )
            .code,
            "ACCESS_DENIED_KICK"
        );

        // A new session, then spam closes it.
        ok(
            &mut state,
            &webhook(),
            session_start,
            json!({ "CHAT_ID": chat }),
        );
        let second = state.openlines.chats[&chat].session_id;
        assert_ne!(second, session);
        assert_eq!(state.openlines.sessions[&second].parent_id, session);
        ok(
            &mut state,
            &webhook(),
            operator_spam,
            json!({ "CHAT_ID": chat }),
        );
        assert!(state.openlines.sessions[&second].spam && state.openlines.sessions[&second].closed);
    }

    #[test]
    fn votes_history_and_messages() {
        let mut state = state();
        let (chat, session, _) = customer_chat(&mut state, "u1", "+1 555 0101");
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                head_vote,
                json!({ "SESSION_ID": session })
            )
            .code,
            "EMPTY_VOTE_PARAMS"
        );
        assert_eq!(
            err(&mut state, &webhook(), head_vote, json!({})).code,
            "EMPTY_SESSION_ID"
        );
        ok(
            &mut state,
            &webhook(),
            head_vote,
            json!({ "SESSION_ID": session, "RATING": 5, "COMMENT": "Good" }),
        );

        let history = ok(
            &mut state,
            &webhook(),
            history_get,
            json!({ "SESSION_ID": session }),
        );
        assert_eq!(history["sessionId"], session);
        assert_eq!(history["sessionVoteHead"], 5);
        assert_eq!(history["sessionCommentHead"], "Good");
        let messages = history["message"].as_object().unwrap();
        assert_eq!(
            messages.len(),
            2,
            "the lead notice and the customer's message"
        );
        assert!(
            messages
                .values()
                .any(|m| m["params"]["attach"][0]["blocks"][1]["grid"][1]["height"] == 20)
        );
        let file = history["files"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        assert_eq!(
            (file["type"].as_str(), file["name"].as_str()),
            (Some("image"), Some("p.png"))
        );
        assert_eq!(
            history["usersMessage"][format!("chat{chat}")]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert!(
            history["users"]["1"]["departments"]
                .as_array()
                .is_some_and(|d| !d.is_empty())
        );
        assert_eq!(history["chat"][chat.to_string()]["entityType"], "LINES");
        assert_eq!(
            ok(
                &mut state,
                &webhook(),
                history_get,
                json!({ "CHAT_ID": chat })
            )["sessionId"],
            session
        );
        assert_eq!(
            err(&mut state, &webhook(), history_get, json!({})).code,
            "MISSING_REQUIRED_PARAM"
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                history_get,
                json!({ "CHAT_ID": 999 })
            )
            .code,
            "INVALID_SESSION_ID"
        );

        let message = *state.openlines.messages.keys().last().unwrap();
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                quick_save,
                json!({ "CHAT_ID": chat, "MESSAGE_ID": 999 })
            )
            .code,
            "CANT_SAVE_QUICK_ANSWER"
        );
        ok(
            &mut state,
            &webhook(),
            quick_save,
            json!({ "CHAT_ID": chat, "MESSAGE_ID": message }),
        );
        assert_eq!(state.openlines.quick_answers[0]["TEXT"], "Hello");
        ok(
            &mut state,
            &webhook(),
            message_session_start,
            json!({ "CHAT_ID": chat, "MESSAGE_ID": message }),
        );
        let new_session = state.openlines.chats[&chat].session_id;
        assert!(state.openlines.sessions[&session].closed);
        assert_eq!(state.openlines.messages[&message].session_id, new_session);
    }

    #[test]
    fn crm_chats() {
        let mut state = state();
        let (chat, _, _) = customer_chat(&mut state, "u1", "+1 555 0102");
        let lead = state.openlines.chats[&chat].crm["LEAD"];
        let listed = ok(
            &mut state,
            &webhook(),
            crm_chat_get,
            json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": lead }),
        );
        assert_eq!(
            listed,
            json!([{ "CHAT_ID": chat.to_string(), "CONNECTOR_ID": "myconn", "CONNECTOR_TITLE": "My connector" }])
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                crm_chat_get,
                json!({ "CRM_ENTITY_TYPE": "lead" })
            )
            .description,
            "Argument 'CRM_ENTITY' is null or empty"
        );
        assert_eq!(
            ok(
                &mut state,
                &webhook(),
                crm_chat_last_id,
                json!({ "CRM_ENTITY_TYPE": "LEAD", "CRM_ENTITY": lead })
            ),
            json!(chat)
        );
        assert_eq!(
            err(&mut state, &webhook(), crm_chat_last_id, json!({})).code,
            "CRM_CHAT_EMPTY_CRM_DATA"
        );
        let member = json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": lead, "USER_ID": 2 });
        assert_eq!(
            ok(&mut state, &webhook(), crm_chat_user_add, member.clone()),
            json!(chat)
        );
        assert_eq!(
            err(&mut state, &webhook(), crm_chat_user_add, member.clone()).code,
            "WRONG_REQUEST"
        );
        assert_eq!(
            ok(&mut state, &webhook(), crm_chat_user_delete, member.clone()),
            json!(chat)
        );
        assert_eq!(
            err(&mut state, &webhook(), crm_chat_user_delete, member).code,
            "WRONG_REQUEST"
        );
        let bad = json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": "abc", "USER_ID": 2 });
        assert_eq!(
            err(&mut state, &webhook(), crm_chat_user_delete, bad).description,
            "The value of an argument 'CRM_ENTITY' has an invalid type"
        );
        let other =
            json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": lead, "USER_ID": 2, "CHAT_ID": 999 });
        assert_eq!(
            err(&mut state, &webhook(), crm_chat_user_add, other).code,
            "CHAT_NOT_IN_CRM"
        );

        let note = json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": lead, "USER_ID": 1, "CHAT_ID": chat, "MESSAGE": "From CRM" });
        let (outcome, events) = call(&mut state, &webhook(), crm_message_add, note);
        let id = outcome.unwrap().result;
        assert!(
            id.as_u64()
                .is_some_and(|id| state.openlines.messages[&id].text == "From CRM")
        );
        assert!(events.iter().any(|e| e.name == "ONIMCONNECTORMESSAGEADD"));
        let wrong = json!({ "CRM_ENTITY_TYPE": "deal", "CRM_ENTITY": lead, "USER_ID": 1, "CHAT_ID": chat, "MESSAGE": "x" });
        assert_eq!(
            err(&mut state, &webhook(), crm_message_add, wrong).code,
            "CHAT_NOT_IN_CRM"
        );

        assert_eq!(
            err(
                &mut state,
                &webhook(),
                crm_lead_create,
                json!({ "CHAT_ID": 999 })
            )
            .code,
            "CHAT_TYPE"
        );
        assert_eq!(
            err(
                &mut state,
                &app(2),
                crm_lead_create,
                json!({ "CHAT_ID": chat })
            )
            .code,
            "ACCESS_DENIED"
        );
        ok(
            &mut state,
            &webhook(),
            crm_lead_create,
            json!({ "CHAT_ID": chat }),
        );
        assert_eq!(state.crm.leads.len(), 1, "the chat has its lead already");
    }

    #[test]
    fn bots_lead_sessions_on_lines_with_a_welcome_bot() {
        let mut state = state();
        if let Some(line) = state.openlines.lines.get_mut(&1) {
            line.settings
                .insert("WELCOME_BOT_ENABLE".into(), json!("Y"));
            line.settings.insert("WELCOME_BOT_ID".into(), json!("900"));
        }
        let (chat, session, _) = customer_chat(&mut state, "u1", "");
        assert!(state.openlines.sessions[&session].bot);
        ok(
            &mut state,
            &webhook(),
            bot_message_send,
            json!({ "CHAT_ID": chat, "NAME": "DEFAULT", "MESSAGE": "Hi from the bot" }),
        );
        assert!(
            state
                .openlines
                .messages
                .values()
                .any(|m| m.author_id == 900 && m.text == "Hi from the bot")
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                bot_transfer,
                json!({ "CHAT_ID": chat })
            )
            .code,
            "TRANSFER_ID_EMPTY"
        );
        ok(
            &mut state,
            &webhook(),
            bot_operator,
            json!({ "CHAT_ID": chat }),
        );
        assert_eq!(state.openlines.sessions[&session].operator_id, 1);
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                bot_operator,
                json!({ "CHAT_ID": chat })
            )
            .description,
            "Operator is not a bot"
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                bot_finish,
                json!({ "CHAT_ID": chat })
            )
            .code,
            "BOT_ID_ERROR"
        );
        assert_eq!(
            err(&mut state, &webhook(), bot_finish, json!({})).code,
            "CHAT_ID_EMPTY"
        );

        let (chat, session, _) = customer_chat(&mut state, "u2", "");
        ok(
            &mut state,
            &webhook(),
            bot_transfer,
            json!({ "CHAT_ID": chat, "USER_ID": 2, "LEAVE": "Y" }),
        );
        assert_eq!(state.openlines.sessions[&session].operator_id, 2);
        assert!(!state.openlines.chats[&chat].members.contains(&900));
        let (chat, session, _) = customer_chat(&mut state, "u3", "");
        ok(
            &mut state,
            &webhook(),
            bot_finish,
            json!({ "CHAT_ID": chat }),
        );
        assert!(state.openlines.sessions[&session].closed);
    }

    #[test]
    fn network_lines() {
        let mut state = state();
        let code = state.openlines.network.keys().next().unwrap().clone();
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                network_join,
                json!({ "CODE": "short" })
            )
            .code,
            "CODE"
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                network_join,
                json!({ "CODE": "0".repeat(32) })
            )
            .code,
            "NOT_FOUND"
        );
        let bot = ok(
            &mut state,
            &webhook(),
            network_join,
            json!({ "CODE": code }),
        );
        assert_eq!(
            ok(
                &mut state,
                &webhook(),
                network_join,
                json!({ "CODE": code })
            ),
            bot,
            "joining twice returns the same bot"
        );
        let message = json!({ "CODE": code, "USER_ID": 2, "MESSAGE": "News" });
        assert_eq!(
            ok(&mut state, &webhook(), network_message_add, message.clone()),
            json!(true)
        );
        assert_eq!(
            err(&mut state, &webhook(), network_message_add, message).code,
            "USER_MESSAGE_LIMIT"
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                network_message_add,
                json!({ "CODE": code, "USER_ID": 3 })
            )
            .code,
            "MESSAGE_EMPTY"
        );
        assert_eq!(
            err(
                &mut state,
                &webhook(),
                network_message_add,
                json!({ "CODE": code, "MESSAGE": "x" })
            )
            .code,
            "USER_ID_EMPTY"
        );
        let oversize = json!({ "CODE": code, "USER_ID": 3, "MESSAGE": "x", "ATTACH": { "BLOCKS": [{ "MESSAGE": "y".repeat(40_000) }] } });
        assert_eq!(
            err(&mut state, &webhook(), network_message_add, oversize).code,
            "ATTACH_OVERSIZE"
        );
    }
}
