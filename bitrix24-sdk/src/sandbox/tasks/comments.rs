//! `task.commentitem.*`: the old comment methods. They read their parameters by name
//! (`TASKID`, `ITEMID`, `FIELDS`, `ORDER`, `FILTER`) or by position (`0`, `1`, `2`), and
//! report problems as `ERROR_CORE` with the old `TASKS_ERROR_EXCEPTION_#…` texts.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::super::disk::{self, Links, Owner};
use super::super::list::{matches, parse_filter};
use super::super::params::{value_str, value_u64};
use super::super::registry::{Ctx, Registry};
use super::super::reply::{Fail, Outcome, Reply};
use super::super::state::State;
use super::super::user;
use super::{ADMIN, core, items, normalize_date, open_topic};

/// Fields `task.commentitem.add`/`update` accept.
const WRITABLE: [&str; 7] = [
    "POST_MESSAGE",
    "AUTHOR_ID",
    "AUTHOR_NAME",
    "AUTHOR_EMAIL",
    "POST_DATE",
    "USE_SMILES",
    "UF_FORUM_MESSAGE_DOC",
];
/// Fields `ORDER` may name.
const SORTABLE: [&str; 5] = [
    "ID",
    "AUTHOR_ID",
    "AUTHOR_NAME",
    "AUTHOR_EMAIL",
    "POST_DATE",
];
/// Fields `FILTER` may name.
const FILTERABLE: [&str; 4] = ["ID", "AUTHOR_ID", "AUTHOR_NAME", "POST_DATE"];
/// The operator prefixes `FILTER` allows.
const PREFIXES: [&str; 7] = ["", "=", "!", "<=", "<", ">=", ">"];

/// Registers `task.commentitem.*`.
pub(super) fn register(registry: &mut Registry) {
    registry.method("task.commentitem.add", add);
    registry.method("task.commentitem.get", get);
    registry.method("task.commentitem.getlist", get_list);
    registry.method("task.commentitem.update", update);
    registry.method("task.commentitem.delete", delete);
}

/// The old API's exception, as the portal words it.
fn exception(number: u32, text: &str, tag: &str) -> Fail {
    Fail::bad_request(
        "ERROR_CORE",
        format!("TASKS_ERROR_EXCEPTION_#{number}; {text}; {number}/TE/{tag}.<br>"),
    )
}

/// Exception 256: a parameter of the wrong type, missing, or with a key it may not have.
fn wrong_arguments(text: &str) -> Fail {
    exception(256, text, "WRONG_ARGUMENTS")
}

/// Exception 4: no such comment, or not the caller's to change.
fn not_allowed() -> Fail {
    exception(4, "Action is not allowed", "ACTION_NOT_ALLOWED")
}

/// Exception 512: no such task or comment (the portal's text says "Check listitem").
fn not_found() -> Fail {
    exception(
        512,
        "Check listitem not found or not accessible",
        "ITEM_NOT_FOUND_OR_NOT_ACCESSIBLE",
    )
}

/// A parameter by name or by position.
fn param<'a>(ctx: &'a Ctx<'_>, name: &str, position: usize) -> Option<&'a Value> {
    ctx.params
        .get(name)
        .or_else(|| ctx.params.0.get(&position.to_string()))
}

/// `TASKID` (or position 0).
fn task_param(ctx: &Ctx<'_>, method: &str) -> Result<u64, Fail> {
    param(ctx, "TASKID", 0).and_then(value_u64).filter(|id| *id > 0).ok_or_else(|| {
        wrong_arguments(&format!(
            "Param #0 (taskId) for method ctaskcommentitem::{method}() expected to be of type \"integer\", but given something else."
        ))
    })
}

/// `ITEMID` (or position 1).
fn item_param(ctx: &Ctx<'_>, method: &str) -> Result<u64, Fail> {
    param(ctx, "ITEMID", 1)
        .and_then(value_u64)
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            wrong_arguments(&format!(
                "Param #1 (itemId) expected by method ctaskcommentitem::{method}(), but not given."
            ))
        })
}

/// `FIELDS` (or its position), with only the keys the method accepts.
fn fields_param(ctx: &Ctx<'_>, method: &str, position: usize) -> Result<Map<String, Value>, Fail> {
    let fields = param(ctx, "FIELDS", position).and_then(Value::as_object).ok_or_else(|| {
        wrong_arguments(&format!("Param #{position} (arFields) expected by method ctaskcommentitem::{method}(), but not given."))
    })?;
    let fields: Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
        .collect();
    if let Some(key) = fields.keys().find(|k| !WRITABLE.contains(&k.as_str())) {
        return Err(wrong_arguments(&format!(
            "Param #{position} (arFields) for method ctaskcommentitem::{method}() must not contain key \"{key}\"."
        )));
    }
    Ok(fields)
}

/// A comment of `task`.
fn comment_of(state: &State, task: u64, id: u64) -> Option<&Map<String, Value>> {
    state
        .tasks
        .comments
        .get(id)
        .filter(|c| c.get("TASK_ID").and_then(value_u64) == Some(task))
}

/// The attachments of a comment.
fn attachment_ids(comment: &Map<String, Value>) -> Vec<u64> {
    comment
        .get("ATTACHMENTS")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(value_u64).collect())
        .unwrap_or_default()
}

/// `UF_FORUM_MESSAGE_DOC`: `n123` attaches Disk file 123; a number keeps that attachment.
fn write_files(
    state: &mut State,
    current: &[u64],
    value: &Value,
    comment: u64,
    user: u64,
    now: &str,
) -> Result<Vec<u64>, Fail> {
    for item in items(value) {
        if let Some(object) =
            value_str(&item).and_then(|t| t.strip_prefix('n').and_then(|n| n.parse::<u64>().ok()))
            && disk::file_by_id(state, object).is_none()
        {
            return Err(core("Не удалось найти файл."));
        }
    }
    let mut kept = Vec::new();
    for item in items(value) {
        let text = value_str(&item).unwrap_or_default();
        if let Some(object) = text.strip_prefix('n').and_then(|n| n.parse::<u64>().ok()) {
            let owner = Owner {
                module: "forum",
                entity_type: "forum_message",
                entity_id: comment,
            };
            kept.extend(disk::attach(state, object, owner, user, now));
        } else if let Some(attachment) = value_u64(&item).filter(|a| current.contains(a)) {
            kept.push(attachment);
        }
    }
    for stale in current.iter().filter(|a| !kept.contains(a)) {
        disk::detach(state, *stale);
    }
    Ok(kept)
}

/// A comment as the methods return it.
fn present(state: &State, links: &Links, comment: &Map<String, Value>) -> Value {
    let attached: Map<String, Value> = attachment_ids(comment)
        .into_iter()
        .filter_map(|id| {
            disk::attachment_summary(state, links, id).map(|summary| (id.to_string(), summary))
        })
        .collect();
    let text = |name: &str| comment.get(name).cloned().unwrap_or(Value::Null);
    json!({
        "POST_MESSAGE_HTML": null,
        "ID": text("ID"),
        "AUTHOR_ID": text("AUTHOR_ID"),
        "AUTHOR_NAME": text("AUTHOR_NAME"),
        "AUTHOR_EMAIL": text("AUTHOR_EMAIL"),
        "POST_DATE": text("POST_DATE"),
        "POST_MESSAGE": text("POST_MESSAGE"),
        "ATTACHED_OBJECTS": attached,
    })
}

/// Keeps the task's `COMMENTS_COUNT` in step.
fn bump_count(state: &mut State, task: u64, delta: i64) {
    if let Some(row) = state.tasks.tasks.get_mut(task) {
        open_topic(row);
        let count = row
            .get("COMMENTS_COUNT")
            .and_then(value_u64)
            .unwrap_or_default();
        let count = count.saturating_add_signed(delta);
        row.insert("COMMENTS_COUNT".into(), json!(count.to_string()));
    }
}

/// The payload of comment events.
fn comment_event(id: u64, task: u64, action: Option<&str>) -> Value {
    let mut after = json!({ "ID": id, "TASK_ID": task });
    let before = match action {
        None => json!("undefined"),
        Some(action) => {
            after["ACTION"] = json!(action);
            json!({ "ID": id, "TASK_ID": task })
        }
    };
    json!({ "FIELDS_BEFORE": before, "FIELDS_AFTER": after, "IS_ACCESSIBLE_BEFORE": "undefined", "IS_ACCESSIBLE_AFTER": "undefined" })
}

/// `task.commentitem.add` → the new comment's id.
fn add(ctx: &mut Ctx<'_>) -> Outcome {
    let task = task_param(ctx, "add")?;
    let fields = fields_param(ctx, "add", 1)?;
    let denied = || core("Недостаточно прав для добавления комментария.");
    ctx.state.tasks.tasks.get(task).ok_or_else(denied)?;
    let message = fields
        .get("POST_MESSAGE")
        .and_then(value_str)
        .filter(|m| !m.trim().is_empty());
    let Some(message) = message else {
        return Err(core("Не указан текст комментария."));
    };
    // Anyone may post as someone else, as documented.
    let author = match fields.get("AUTHOR_ID") {
        Some(value) => value_u64(value)
            .filter(|id| user::get(ctx.state, *id).is_some())
            .ok_or_else(denied)?,
        None => ctx.caller.user_id,
    };
    let now = ctx.now_iso();
    let posted = fields
        .get("POST_DATE")
        .map(normalize_date)
        .filter(|d| !d.is_null())
        .unwrap_or_else(|| json!(now));
    let id = ctx.state.tasks.comments.next_id();
    let files = match fields.get("UF_FORUM_MESSAGE_DOC") {
        Some(value) => write_files(ctx.state, &[], value, id, author, &now)?,
        None => Vec::new(),
    };
    let Value::Object(row) = json!({
        "ID": id.to_string(),
        "TASK_ID": task.to_string(),
        "AUTHOR_ID": author.to_string(),
        "AUTHOR_NAME": user::display_name(ctx.state, author),
        "AUTHOR_EMAIL": "",
        "POST_DATE": posted,
        "POST_MESSAGE": message,
        "ATTACHMENTS": files,
    }) else {
        return Err(denied());
    };
    ctx.state.tasks.comments.put(id, row);
    bump_count(ctx.state, task, 1);
    ctx.emit("ONTASKCOMMENTADD", comment_event(id, task, None));
    Ok(Reply::new(json!(id)))
}

/// `task.commentitem.get`.
fn get(ctx: &mut Ctx<'_>) -> Outcome {
    let task = task_param(ctx, "get")?;
    let id = item_param(ctx, "get")?;
    let links = Links::new(ctx);
    let comment = comment_of(ctx.state, task, id).ok_or_else(not_found)?;
    Ok(Reply::new(present(ctx.state, &links, comment)))
}

/// Compares two comment fields: numbers as numbers, the rest as text.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    if let (Some(x), Some(y)) = (a.and_then(value_u64), b.and_then(value_u64)) {
        return x.cmp(&y);
    }
    let text = |v: Option<&Value>| v.and_then(value_str).unwrap_or_default();
    text(a).cmp(&text(b))
}

/// `task.commentitem.getlist`: every comment of the task (no paging), newest first unless
/// ordered otherwise.
fn get_list(ctx: &mut Ctx<'_>) -> Outcome {
    let task = task_param(ctx, "getlist")?;
    let mut order = Vec::new();
    if let Some(Value::Object(map)) = param(ctx, "ORDER", 1) {
        for (key, direction) in map {
            if !SORTABLE.iter().any(|f| f.eq_ignore_ascii_case(key)) {
                return Err(wrong_arguments(&format!(
                    "Param #1 (arOrder) for method ctaskcommentitem::getlist() must not contain key \"{key}\"."
                )));
            }
            let desc = value_str(direction).is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            order.push((key.to_ascii_uppercase(), desc));
        }
    }
    if order.is_empty() {
        order.push(("ID".to_owned(), true));
    }
    let mut filter = Map::new();
    if let Some(Value::Object(map)) = param(ctx, "FILTER", 2) {
        for (key, value) in map {
            let bare = key.trim_start_matches(['!', '=', '<', '>', '%', '@']);
            let prefix = &key[..key.len() - bare.len()];
            if !PREFIXES.contains(&prefix)
                || !FILTERABLE.iter().any(|f| f.eq_ignore_ascii_case(bare))
            {
                return Err(wrong_arguments(&format!(
                    "Param #2 (arFilter) for method ctaskcommentitem::getlist() must not contain key \"{key}\"."
                )));
            }
            let value = if bare.eq_ignore_ascii_case("POST_DATE") {
                normalize_date(value)
            } else {
                value.clone()
            };
            filter.insert(format!("{prefix}{}", bare.to_ascii_uppercase()), value);
        }
    }
    if ctx.state.tasks.tasks.get(task).is_none() {
        return Err(exception(
            8,
            "Action failed",
            "ACTION_FAILED_TO_BE_PROCESSED",
        ));
    }
    filter.insert("TASK_ID".into(), json!(task.to_string()));
    let conds = parse_filter(Some(&Value::Object(filter)))?;
    let links = Links::new(ctx);
    let state = &*ctx.state;
    let mut rows: Vec<&Map<String, Value>> = state
        .tasks
        .comments
        .rows
        .values()
        .filter(|c| matches(c, &conds))
        .collect();
    rows.sort_by(|a, b| {
        order
            .iter()
            .map(|(field, desc)| {
                let ordering = compare(a.get(field), b.get(field));
                if *desc { ordering.reverse() } else { ordering }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    Ok(Reply::new(Value::Array(
        rows.into_iter()
            .map(|c| present(state, &links, c))
            .collect(),
    )))
}

/// Only the author and the administrator may change or remove a comment.
fn editable(ctx: &Ctx<'_>, task: u64, id: u64) -> Result<Map<String, Value>, Fail> {
    let comment = comment_of(ctx.state, task, id).ok_or_else(not_allowed)?;
    let author = comment.get("AUTHOR_ID").and_then(value_u64);
    if ctx.caller.user_id != ADMIN && author != Some(ctx.caller.user_id) {
        return Err(not_allowed());
    }
    Ok(comment.clone())
}

/// `task.commentitem.update` → true.
fn update(ctx: &mut Ctx<'_>) -> Outcome {
    let task = task_param(ctx, "update")?;
    let id = item_param(ctx, "update")?;
    let fields = fields_param(ctx, "update", 2)?;
    let mut comment = editable(ctx, task, id)?;
    if let Some(message) = fields.get("POST_MESSAGE") {
        let message = value_str(message)
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| core("Не указан текст комментария."))?;
        comment.insert("POST_MESSAGE".into(), Value::String(message));
    }
    if let Some(date) = fields
        .get("POST_DATE")
        .map(normalize_date)
        .filter(|d| !d.is_null())
    {
        comment.insert("POST_DATE".into(), date);
    }
    if let Some(value) = fields.get("UF_FORUM_MESSAGE_DOC") {
        let now = ctx.now_iso();
        let current = attachment_ids(&comment);
        let author = comment
            .get("AUTHOR_ID")
            .and_then(value_u64)
            .unwrap_or(ctx.caller.user_id);
        let files = write_files(ctx.state, &current, value, id, author, &now)?;
        comment.insert("ATTACHMENTS".into(), json!(files));
    }
    ctx.state.tasks.comments.put(id, comment);
    ctx.emit("ONTASKCOMMENTUPDATE", comment_event(id, task, Some("EDIT")));
    Ok(Reply::new(json!(true)))
}

/// `task.commentitem.delete` → true.
fn delete(ctx: &mut Ctx<'_>) -> Outcome {
    let task = task_param(ctx, "delete")?;
    let id = item_param(ctx, "delete")?;
    let comment = editable(ctx, task, id)?;
    for attachment in attachment_ids(&comment) {
        disk::detach(ctx.state, attachment);
    }
    ctx.state.tasks.comments.remove(id);
    bump_count(ctx.state, task, -1);
    ctx.emit("ONTASKCOMMENTDELETE", comment_event(id, task, Some("DEL")));
    Ok(Reply::new(json!(true)))
}

/// Removes every comment of a deleted task.
pub(super) fn remove_all(state: &mut State, task: u64) {
    let ids: Vec<u64> = state
        .tasks
        .comments
        .rows
        .iter()
        .filter(|(_, c)| c.get("TASK_ID").and_then(value_u64) == Some(task))
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        if let Some(comment) = state.tasks.comments.remove(id) {
            for attachment in attachment_ids(&comment) {
                disk::detach(state, attachment);
            }
        }
    }
}

/// A task's comments, oldest first (for inspection).
pub(super) fn for_task(state: &State, links: &Links, task: u64) -> Vec<Value> {
    state
        .tasks
        .comments
        .rows
        .values()
        .filter(|c| c.get("TASK_ID").and_then(value_u64) == Some(task))
        .map(|c| present(state, links, c))
        .collect()
}
