//! The `tasks` scope: `tasks.task.*` and the old `task.commentitem.*`.
//!
//! Tasks are stored with the portal's `UPPER_SNAKE` field names (which filters and `order` use)
//! and values as strings; replies rename them to camelCase. Status changes follow the portal's
//! rules: what is allowed depends on the status and on the caller's role, and a task under
//! control that someone other than its creator completes waits for approval (status 4).

/// `task.commentitem.*`.
mod comments;
/// How tasks look in replies.
mod present;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use self::present::{Extras, Shape, TaskSelect, View, snake};
use super::SandboxPortal;
use super::disk::{self, Links, Owner};
use super::list::{ListShape, Table, list, parse_filter, parse_order, parse_start};
use super::params::{Params, value_bool, value_i64, value_str, value_u64};
use super::registry::{Ctx, Registry};
use super::reply::{Fail, Outcome, Reply};
use super::state::State;
use super::user;

/// Everything the tasks module stores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct TasksState {
    pub(crate) tasks: Table,
    /// `task.commentitem.*` comments.
    pub(crate) comments: Table,
    /// Checklist items (`CHECKLIST` / `SE_CHECKLIST` on add and update).
    pub(crate) checklist: Table,
    /// Tag ids by name.
    pub(crate) tags: BTreeMap<String, u64>,
    /// Favourite tasks by user (the flag is personal on the portal).
    pub(crate) favorites: BTreeMap<u64, BTreeSet<u64>>,
    /// Tasks whose time is being counted (in progress), with the unix second it started.
    pub(crate) running: BTreeMap<u64, i64>,
}

/// The administrator (the webhook's user), who may do anything a status allows.
const ADMIN: u64 = 1;

/// Status 2: waiting to be started.
const STATUS_PENDING: u64 = 2;
/// Status 3: being worked on.
const STATUS_IN_PROGRESS: u64 = 3;
/// Status 4: done, waiting for the creator to approve.
const STATUS_AWAITING_CONTROL: u64 = 4;
/// Status 5: done.
const STATUS_COMPLETED: u64 = 5;
/// Status 6: put off.
const STATUS_DEFERRED: u64 = 6;

/// A workgroup tasks can belong to. Groups are not managed through this sandbox's API; these
/// are the portal's, fixed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pub(crate) id: u64,
    pub(crate) name: &'static str,
    pub(crate) opened: bool,
    pub(crate) members: u64,
    /// A scrum group's backlog, which its tasks report as `backlogId`.
    pub(crate) backlog: Option<u64>,
}

/// The portal's workgroups.
const GROUPS: [Group; 2] = [
    Group {
        id: 1,
        name: "Sales team",
        opened: false,
        members: 3,
        backlog: None,
    },
    Group {
        id: 2,
        name: "Product scrum",
        opened: true,
        members: 4,
        backlog: Some(1),
    },
];

/// A workgroup by id.
pub(crate) fn group(id: u64) -> Option<Group> {
    GROUPS.iter().copied().find(|g| g.id == id)
}

/// A status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Start,
    Pause,
    Complete,
    Defer,
    Renew,
    Approve,
    Disapprove,
    Delegate,
}

impl Action {
    /// The `error` the portal answers with when the action is not allowed (it differs by
    /// method, as documented).
    fn refusal(self) -> Fail {
        let code = match self {
            Self::Start | Self::Complete | Self::Delegate => "0",
            _ => "1048582",
        };
        Fail::bad_request(code, "Действие над задачей не разрешено")
    }
}

/// A task's status number.
fn status_of(row: &Map<String, Value>) -> u64 {
    row.get("STATUS")
        .and_then(value_u64)
        .unwrap_or(STATUS_PENDING)
}

/// A list of user (or attachment) ids stored as strings or numbers.
fn user_ids(row: &Map<String, Value>, name: &str) -> Vec<u64> {
    row.get(name)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(value_u64).collect())
        .unwrap_or_default()
}

/// An id field, 0 when unset.
fn id_field(row: &Map<String, Value>, name: &str) -> u64 {
    row.get(name).and_then(value_u64).unwrap_or_default()
}

/// Whether `caller` may do `action` with the task in its current status.
fn allowed(action: Action, row: &Map<String, Value>, caller: u64) -> bool {
    let admin = caller == ADMIN;
    let creator = id_field(row, "CREATED_BY") == caller;
    let responsible = id_field(row, "RESPONSIBLE_ID") == caller;
    let accomplice = user_ids(row, "ACCOMPLICES").contains(&caller);
    let status = status_of(row);
    match action {
        Action::Start => matches!(status, 1 | 2) && (admin || responsible || accomplice),
        Action::Pause => status == STATUS_IN_PROGRESS && (admin || responsible || accomplice),
        Action::Complete => {
            matches!(status, 1 | 2 | 3 | 6) && (admin || responsible || accomplice || creator)
        }
        Action::Defer => matches!(status, 1 | 2) && (admin || responsible || creator),
        Action::Renew => matches!(status, 4..=6) && (admin || responsible || creator),
        Action::Approve | Action::Disapprove => {
            status == STATUS_AWAITING_CONTROL && (admin || creator)
        }
        Action::Delegate => matches!(status, 1 | 2 | 3 | 6) && (admin || responsible),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// `ERROR_CORE` with the `<br>` the portal appends.
fn core(text: &str) -> Fail {
    Fail::bad_request("ERROR_CORE", format!("{text}<br>"))
}

/// `taskId` missing: the portal cannot build its task object.
fn missing_task_id() -> Fail {
    Fail::bad_request(
        "100",
        "CTaskItem All parameters in the constructor must have real class type (internal error)",
    )
}

/// `taskId`: missing is `100`, not a positive integer is `0` "wrong task id".
fn task_id(params: &Params) -> Result<u64, Fail> {
    let value = params
        .get_any(&["taskId", "TASKID", "id"])
        .ok_or_else(missing_task_id)?;
    value_u64(value)
        .filter(|id| *id > 0)
        .ok_or_else(|| Fail::bad_request("0", "wrong task id"))
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// A date as the portal stores it: ISO-8601 with an offset (`+00:00` when none was given).
fn normalize_date(value: &Value) -> Value {
    let Some(text) = value_str(value)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
    else {
        return Value::Null;
    };
    // `31.12.2025 23:59:59`, the portal's own display format.
    let text = match text.get(..10).map(|d| d.split('.').collect::<Vec<_>>()) {
        Some(parts) if parts.len() == 3 && parts[2].len() == 4 => {
            format!("{}-{}-{}{}", parts[2], parts[1], parts[0], &text[10..])
        }
        _ => text,
    };
    let mut text = text.replacen(' ', "T", 1);
    if text.len() == 10 {
        text.push_str("T00:00:00");
    }
    if text.len() == 16 {
        text.push_str(":00");
    }
    if let Some(stripped) = text.strip_suffix('Z') {
        text = format!("{stripped}+00:00");
    }
    let has_offset = text.len() > 19 && matches!(text.as_bytes().get(19), Some(b'+' | b'-'));
    if text.len() == 19 && !has_offset {
        text.push_str("+00:00");
    }
    Value::String(text)
}

/// A flag as `Y`/`N`.
fn yes_no(value: &Value) -> Value {
    json!(if value_bool(value).unwrap_or(false) {
        "Y"
    } else {
        "N"
    })
}

/// A scalar as text, as the portal stores it.
fn as_text(value: &Value) -> Value {
    value_str(value).map_or(Value::Null, Value::String)
}

/// A list of values (a JSON list, a form list, or one value / comma-separated text).
fn items(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Object(map) => map.values().cloned().collect(),
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        other => vec![other.clone()],
    }
}

/// User ids as a list of strings, without repeats.
fn people(value: &Value) -> Value {
    let mut seen = BTreeSet::new();
    let ids: Vec<Value> = items(value)
        .iter()
        .filter_map(value_u64)
        .filter(|id| *id > 0 && seen.insert(*id))
        .map(|id| Value::String(id.to_string()))
        .collect();
    Value::Array(ids)
}

// ---------------------------------------------------------------------------------------------
// Writing fields
// ---------------------------------------------------------------------------------------------

/// What a write needs besides the fields.
struct Writer {
    task: u64,
    user: u64,
    now: String,
}

/// The fields of a call, upper-cased.
fn upper(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
        .collect()
}

/// The portal's checks of task fields, with its messages.
fn validate(
    state: &State,
    fields: &Map<String, Value>,
    task: Option<u64>,
    adding: bool,
) -> Result<(), Fail> {
    let present = |name: &str| {
        fields
            .get(name)
            .and_then(value_str)
            .is_some_and(|v| !v.trim().is_empty())
    };
    if adding && !present("TITLE") || fields.get("TITLE").is_some() && !present("TITLE") {
        return Err(core("Не указано название задачи"));
    }
    if adding && !present("RESPONSIBLE_ID") {
        return Err(core("Не указан исполнитель"));
    }
    if let Some(value) = fields.get("RESPONSIBLE_ID")
        && value_u64(value)
            .and_then(|id| user::get(state, id))
            .is_none()
    {
        return Err(core(
            "Пользователь указанный в поле \"Исполнитель\" не найден",
        ));
    }
    if let Some(value) = fields.get("CREATED_BY")
        && value_u64(value)
            .and_then(|id| user::get(state, id))
            .is_none()
    {
        return Err(core(
            "Пользователь указанный в поле \"Постановщик\" не найден",
        ));
    }
    if let Some(value) = fields.get("STATUS")
        && !value_u64(value).is_some_and(|s| (1..=7).contains(&s))
    {
        return Err(core("Некорректный статус"));
    }
    if let Some(parent) = fields
        .get("PARENT_ID")
        .and_then(value_u64)
        .filter(|p| *p > 0)
    {
        if Some(parent) == task {
            return Err(core("Невозможно привязать узел к самому себе"));
        }
        if state.tasks.tasks.get(parent).is_none() {
            return Err(core("Задача указанная в поле \"Надзадача\" не найдена"));
        }
        // Walking up from the new parent must not reach this task.
        let mut current = Some(parent);
        for _ in 0..=state.tasks.tasks.len() {
            let Some(id) = current else { break };
            if Some(id) == task {
                return Err(core("Создание зацикленных связей в задачах запрещено"));
            }
            current = state
                .tasks
                .tasks
                .get(id)
                .and_then(|row| row.get("PARENT_ID"))
                .and_then(value_u64)
                .filter(|p| *p > 0);
        }
    }
    let start = fields.get("START_DATE_PLAN").map(normalize_date);
    let end = fields.get("END_DATE_PLAN").map(normalize_date);
    if let (Some(Value::String(start)), Some(Value::String(end))) = (&start, &end)
        && end < start
    {
        return Err(core(
            "В планировании сроков указана дата окончания меньшая даты старта",
        ));
    }
    // `n123` must name a Disk file the portal has.
    for item in fields
        .get("UF_TASK_WEBDAV_FILES")
        .map(items)
        .unwrap_or_default()
    {
        if let Some(object) =
            value_str(&item).and_then(|s| s.strip_prefix('n').and_then(|n| n.parse::<u64>().ok()))
            && disk::file_by_id(state, object).is_none()
        {
            return Err(core("Не удалось найти файл"));
        }
    }
    Ok(())
}

/// Writes `fields` (already validated) into the task `row`.
fn write(
    state: &mut State,
    row: &mut Map<String, Value>,
    fields: &Map<String, Value>,
    writer: &Writer,
) {
    for (name, value) in fields {
        let stored = match name.as_str() {
            "TITLE" | "DESCRIPTION" | "XML_ID" | "SITE_ID" | "DURATION_TYPE" | "PRIORITY"
            | "TIME_ESTIMATE" | "STAGE_ID" | "SORTING" | "CREATED_BY" | "RESPONSIBLE_ID" => {
                as_text(value)
            }
            "PARENT_ID" | "FLOW_ID" => value_u64(value)
                .filter(|v| *v > 0)
                .map_or(Value::Null, |v| json!(v.to_string())),
            "GROUP_ID" => json!(value_u64(value).unwrap_or_default().to_string()),
            "MARK" => value_str(value)
                .map(|m| m.to_ascii_uppercase())
                .filter(|m| m == "P" || m == "N")
                .map_or(Value::Null, Value::String),
            "DEADLINE" | "START_DATE_PLAN" | "END_DATE_PLAN" => normalize_date(value),
            "ALLOW_CHANGE_DEADLINE"
            | "ALLOW_TIME_TRACKING"
            | "TASK_CONTROL"
            | "ADD_IN_REPORT"
            | "MATCH_WORK_TIME"
            | "REPLICATE"
            | "MULTITASK"
            | "DESCRIPTION_IN_BBCODE"
            | "IS_MUTED" => yes_no(value),
            "ACCOMPLICES" | "AUDITORS" => people(value),
            "TAGS" => {
                let names: Vec<String> = items(value)
                    .iter()
                    .filter_map(value_str)
                    .flat_map(|s| {
                        s.split(',')
                            .map(|t| t.trim().to_owned())
                            .collect::<Vec<_>>()
                    })
                    .filter(|t| !t.is_empty())
                    .collect();
                for tag in &names {
                    let next = state.tasks.tags.len() as u64 + 1;
                    state.tasks.tags.entry(tag.clone()).or_insert(next);
                }
                json!(names)
            }
            "UF_CRM_TASK" => Value::Array(
                items(value)
                    .iter()
                    .filter_map(value_str)
                    .map(Value::String)
                    .collect(),
            ),
            "UF_TASK_WEBDAV_FILES" => attachments(state, row, value, writer),
            "SE_PARAMETER" => {
                for parameter in items(value) {
                    let code = parameter.get("CODE").and_then(value_u64);
                    let on = parameter.get("VALUE").and_then(value_bool).unwrap_or(false);
                    // Code 3: the responsible person must report a result.
                    if code == Some(3) {
                        row.insert(
                            "TASK_REQUIRE_RESULT".into(),
                            json!(if on { "Y" } else { "N" }),
                        );
                    }
                }
                continue;
            }
            "CHECKLIST" | "SE_CHECKLIST" => {
                replace_checklist(state, value, writer);
                continue;
            }
            "STATUS" => {
                set_status(
                    state,
                    row,
                    value_u64(value).unwrap_or(STATUS_PENDING),
                    writer,
                );
                continue;
            }
            other if other.starts_with("UF_") => match value {
                Value::Array(list) => Value::Array(list.iter().map(as_text).collect()),
                other => as_text(other),
            },
            // Unknown and read-only fields are ignored, as on the portal.
            _ => continue,
        };
        row.insert(name.clone(), stored);
    }
    if let (Some(Value::String(start)), Some(Value::String(end))) =
        (row.get("START_DATE_PLAN"), row.get("END_DATE_PLAN"))
    {
        let days = days_between(start, end);
        row.insert("DURATION_PLAN".into(), json!(days.to_string()));
    }
    let group = row.get("GROUP_ID").and_then(value_u64).and_then(group);
    row.insert(
        "BACKLOG_ID".into(),
        group
            .and_then(|g| g.backlog)
            .map_or(Value::Null, |b| json!(b.to_string())),
    );
}

/// Whole days from one ISO date to another (the portal's `DURATION_TYPE` default is days).
fn days_between(start: &str, end: &str) -> i64 {
    let day = |text: &str| -> Option<i64> {
        let date = text.get(..10)?;
        let mut parts = date.split('-').map(str::parse::<i64>);
        let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        // Days from civil (Howard Hinnant), enough for differences.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(era * 146_097 + doe)
    };
    match (day(start), day(end)) {
        (Some(a), Some(b)) => (b - a).max(0),
        _ => 0,
    }
}

/// `UF_TASK_WEBDAV_FILES`: `n123` attaches Disk file 123; a number keeps the attachment with
/// that id; attachments left out are unlinked (the files stay on Disk).
fn attachments(
    state: &mut State,
    row: &Map<String, Value>,
    value: &Value,
    writer: &Writer,
) -> Value {
    let current: Vec<u64> = user_ids(row, "UF_TASK_WEBDAV_FILES");
    let mut kept = Vec::new();
    for item in items(value) {
        let text = value_str(&item).unwrap_or_default();
        if let Some(object) = text.strip_prefix('n').and_then(|n| n.parse::<u64>().ok()) {
            let owner = Owner {
                module: "tasks",
                entity_type: "tasks_task",
                entity_id: writer.task,
            };
            if let Some(attachment) = disk::attach(state, object, owner, writer.user, &writer.now) {
                kept.push(attachment);
            }
        } else if let Some(attachment) = value_u64(&item).filter(|a| current.contains(a)) {
            kept.push(attachment);
        }
    }
    for attachment in current.iter().filter(|a| !kept.contains(a)) {
        disk::detach(state, *attachment);
    }
    json!(kept)
}

/// Replaces the task's checklist: a root "Checklist 1" with the given items under it.
fn replace_checklist(state: &mut State, value: &Value, writer: &Writer) {
    let old_items: Vec<u64> = state
        .tasks
        .checklist
        .rows
        .iter()
        .filter(|(_, item)| id_field(item, "TASK_ID") == writer.task)
        .map(|(id, _)| *id)
        .collect();
    for id in old_items {
        state.tasks.checklist.remove(id);
    }
    let entries = items(value);
    if entries.is_empty() {
        return;
    }
    let add = |state: &mut State,
               parent: u64,
               title: &str,
               sort: usize,
               complete: bool,
               important: bool| {
        let id = state.tasks.checklist.next_id();
        let Value::Object(item) = json!({
            "ID": id.to_string(),
            "TASK_ID": writer.task.to_string(),
            "CREATED_BY": writer.user.to_string(),
            "PARENT_ID": parent.to_string(),
            "TITLE": title,
            "SORT_INDEX": sort.to_string(),
            "IS_COMPLETE": if complete { "Y" } else { "N" },
            "IS_IMPORTANT": if important { "Y" } else { "N" },
            "TOGGLED_BY": null,
            "TOGGLED_DATE": null,
        }) else {
            return id;
        };
        state.tasks.checklist.put(id, item);
        id
    };
    let root = add(state, 0, "Checklist 1", 0, false, false);
    for (index, entry) in entries.iter().enumerate() {
        let get = |key: &str| {
            entry.as_object().and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
        };
        let title = get("TITLE")
            .and_then(value_str)
            .or_else(|| value_str(entry))
            .unwrap_or_default();
        let complete = get("IS_COMPLETE").and_then(value_bool).unwrap_or(false);
        let important = get("IS_IMPORTANT").and_then(value_bool).unwrap_or(false);
        add(state, root, &title, index, complete, important);
    }
}

/// Sets the status and what goes with it (dates, who changed it), without permission checks.
fn set_status(state: &mut State, row: &mut Map<String, Value>, status: u64, writer: &Writer) {
    let previous = status_of(row);
    row.insert("STATUS".into(), json!(status.to_string()));
    if previous == status {
        return;
    }
    row.insert("STATUS_CHANGED_BY".into(), json!(writer.user.to_string()));
    row.insert("STATUS_CHANGED_DATE".into(), json!(writer.now));
    if previous == STATUS_IN_PROGRESS {
        stop_timer(state, row, writer);
    }
    match status {
        STATUS_IN_PROGRESS => {
            if row.get("DATE_START").is_none_or(Value::is_null) {
                row.insert("DATE_START".into(), json!(writer.now));
            }
            if row.get("DURATION_FACT").is_none_or(Value::is_null) {
                row.insert("DURATION_FACT".into(), json!("0"));
            }
            state
                .tasks
                .running
                .insert(writer.task, unix_of(&writer.now));
        }
        STATUS_AWAITING_CONTROL | STATUS_COMPLETED => {
            if row.get("CLOSED_DATE").is_none_or(Value::is_null)
                || previous != STATUS_AWAITING_CONTROL
            {
                row.insert("CLOSED_BY".into(), json!(writer.user.to_string()));
                row.insert("CLOSED_DATE".into(), json!(writer.now));
            }
        }
        _ => {
            row.insert("CLOSED_DATE".into(), Value::Null);
        }
    }
}

/// Unix seconds of an ISO date written by the sandbox's clock.
fn unix_of(iso: &str) -> i64 {
    let days = days_between("1970-01-01", iso);
    let seconds = |from: usize| {
        iso.get(from..from + 2)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or_default()
    };
    days * 86_400 + seconds(11) * 3600 + seconds(14) * 60 + seconds(17)
}

/// Stops counting time: adds the minutes since the start to `DURATION_FACT` and, with time
/// tracking on, the seconds to `TIME_SPENT_IN_LOGS`.
fn stop_timer(state: &mut State, row: &mut Map<String, Value>, writer: &Writer) {
    let Some(started) = state.tasks.running.remove(&writer.task) else {
        return;
    };
    let seconds = (unix_of(&writer.now) - started).max(0);
    let add = |row: &mut Map<String, Value>, name: &str, amount: i64| {
        let current = row.get(name).and_then(value_i64).unwrap_or_default();
        row.insert(name.to_owned(), json!((current + amount).to_string()));
    };
    add(row, "DURATION_FACT", seconds / 60);
    if row.get("ALLOW_TIME_TRACKING").and_then(Value::as_str) == Some("Y") {
        add(row, "TIME_SPENT_IN_LOGS", seconds);
    }
}

/// What every change does: who and when, the service comment in the task's discussion.
fn touch(row: &mut Map<String, Value>, writer: &Writer) {
    row.insert("CHANGED_BY".into(), json!(writer.user.to_string()));
    row.insert("CHANGED_DATE".into(), json!(writer.now));
    row.insert("ACTIVITY_DATE".into(), json!(writer.now));
    row.insert("VIEWED_DATE".into(), json!(writer.now));
    if row.get("CLOSED_BY").is_none_or(Value::is_null) {
        row.insert("CLOSED_BY".into(), json!("0"));
    }
    if row.get("DURATION_PLAN").is_none_or(Value::is_null) {
        row.insert("DURATION_PLAN".into(), json!("0"));
    }
    let version = row.get("OUTLOOK_VERSION").and_then(value_u64).unwrap_or(1) + 1;
    row.insert("OUTLOOK_VERSION".into(), json!(version.to_string()));
    open_topic(row);
    let bump = |row: &mut Map<String, Value>, name: &str| {
        let count = row.get(name).and_then(value_u64).unwrap_or_default() + 1;
        row.insert(name.to_owned(), json!(count.to_string()));
    };
    bump(row, "COMMENTS_COUNT");
    bump(row, "SERVICE_COMMENTS_COUNT");
}

/// The task's discussion topic, opened with its first message.
fn open_topic(row: &mut Map<String, Value>) {
    if row.get("FORUM_TOPIC_ID").is_none_or(Value::is_null) {
        let id = id_field(row, "ID");
        row.insert("FORUM_TOPIC_ID".into(), json!(id.to_string()));
        row.insert("FORUM_ID".into(), json!("11"));
    }
}

/// A GUID-looking identifier.
fn guid() -> String {
    let a = fastrand::u128(..);
    let hex = format!("{a:032x}");
    format!(
        "{{{}-{}-{}-{}-{}}}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A new task with the portal's defaults.
fn new_row(id: u64, user: u64, now: &str) -> Map<String, Value> {
    let text = |v: &str| Value::String(v.to_owned());
    let null = || Value::Null;
    let user = user.to_string();
    let mut row = Map::new();
    let fields: Vec<(&str, Value)> = vec![
        ("ID", Value::String(id.to_string())),
        ("PARENT_ID", null()),
        ("TITLE", text("")),
        ("DESCRIPTION", text("")),
        ("MARK", null()),
        ("PRIORITY", text("1")),
        ("MULTITASK", text("N")),
        ("NOT_VIEWED", text("N")),
        ("REPLICATE", text("N")),
        ("STAGE_ID", text("0")),
        ("SPRINT_ID", null()),
        ("BACKLOG_ID", null()),
        ("CREATED_BY", text(&user)),
        ("CREATED_DATE", text(now)),
        ("RESPONSIBLE_ID", text(&user)),
        ("CHANGED_BY", text(&user)),
        ("CHANGED_DATE", text(now)),
        ("STATUS_CHANGED_BY", null()),
        ("CLOSED_BY", null()),
        ("CLOSED_DATE", null()),
        ("ACTIVITY_DATE", text(now)),
        ("DATE_START", null()),
        ("DEADLINE", null()),
        ("START_DATE_PLAN", null()),
        ("END_DATE_PLAN", null()),
        ("GUID", Value::String(guid())),
        ("XML_ID", null()),
        ("COMMENTS_COUNT", null()),
        ("SERVICE_COMMENTS_COUNT", null()),
        ("ALLOW_CHANGE_DEADLINE", text("N")),
        ("ALLOW_TIME_TRACKING", text("N")),
        ("TASK_CONTROL", text("N")),
        ("ADD_IN_REPORT", text("N")),
        ("FORKED_BY_TEMPLATE_ID", null()),
        ("TIME_ESTIMATE", text("0")),
        ("TIME_SPENT_IN_LOGS", null()),
        ("MATCH_WORK_TIME", text("N")),
        ("FORUM_TOPIC_ID", null()),
        ("FORUM_ID", null()),
        ("SITE_ID", text("s1")),
        ("SUBORDINATE", text("Y")),
        ("EXCHANGE_MODIFIED", null()),
        ("EXCHANGE_ID", null()),
        ("OUTLOOK_VERSION", text("1")),
        ("VIEWED_DATE", null()),
        ("SORTING", null()),
        ("DURATION_FACT", null()),
        ("IS_MUTED", text("N")),
        ("IS_PINNED", text("N")),
        ("IS_PINNED_IN_GROUP", text("N")),
        ("FLOW_ID", null()),
        ("DESCRIPTION_IN_BBCODE", text("Y")),
        ("STATUS", text("2")),
        ("STATUS_CHANGED_DATE", text(now)),
        ("DURATION_PLAN", null()),
        ("DURATION_TYPE", text("days")),
        ("GROUP_ID", text("0")),
        ("AUDITORS", json!([])),
        ("ACCOMPLICES", json!([])),
        ("TAGS", json!([])),
        ("UF_CRM_TASK", json!([])),
        ("UF_TASK_WEBDAV_FILES", json!([])),
        ("UF_MAIL_MESSAGE", null()),
        ("TASK_REQUIRE_RESULT", text("N")),
    ];
    for (name, value) in fields {
        row.insert(name.to_owned(), value);
    }
    row
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// The payload of task events: missing sides are the literal text `undefined`.
fn task_event(
    before: Option<u64>,
    after: Option<u64>,
    accessible_before: &str,
    accessible_after: &str,
) -> Value {
    let side = |id: Option<u64>| id.map_or_else(|| json!("undefined"), |id| json!({ "ID": id }));
    json!({
        "FIELDS_BEFORE": side(before),
        "FIELDS_AFTER": side(after),
        "IS_ACCESSIBLE_BEFORE": accessible_before,
        "IS_ACCESSIBLE_AFTER": accessible_after,
    })
}

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

/// Registers the methods of this scope.
pub(crate) fn register(registry: &mut Registry) {
    registry.method("tasks.task.add", add);
    registry.method("tasks.task.update", update);
    registry.method("tasks.task.get", get);
    registry.method("tasks.task.list", list_tasks);
    registry.method("tasks.task.delete", delete);
    registry.method("tasks.task.getFields", |ctx| Ok(get_fields(ctx)));
    registry.method("tasks.task.files.attach", files_attach);
    registry.method("tasks.task.favorite.add", favorite_add);
    registry.method("tasks.task.favorite.remove", favorite_remove);
    registry.method("tasks.task.start", |ctx| transition(ctx, Action::Start));
    registry.method("tasks.task.pause", |ctx| transition(ctx, Action::Pause));
    registry.method("tasks.task.complete", |ctx| {
        transition(ctx, Action::Complete)
    });
    registry.method("tasks.task.defer", |ctx| transition(ctx, Action::Defer));
    registry.method("tasks.task.renew", |ctx| transition(ctx, Action::Renew));
    registry.method("tasks.task.approve", |ctx| transition(ctx, Action::Approve));
    registry.method("tasks.task.disapprove", |ctx| {
        transition(ctx, Action::Disapprove)
    });
    registry.method("tasks.task.delegate", |ctx| {
        transition(ctx, Action::Delegate)
    });
    comments::register(registry);
}

/// Presents one stored task for the caller.
fn reply_task(ctx: &mut Ctx<'_>, id: u64, select: &TaskSelect) -> Outcome {
    let view = View {
        state: ctx.state,
        caller: ctx.caller.user_id,
        now_iso: ctx.now_iso(),
    };
    let row = ctx.state.tasks.tasks.get(id).ok_or_else(missing_task_id)?;
    let task = present::task(&view, row, select, Shape::Single, Extras::default());
    Ok(Reply::new(json!({ "task": task })))
}

/// `fields`, required and not empty.
fn fields_param(ctx: &Ctx<'_>) -> Result<Map<String, Value>, Fail> {
    ctx.params
        .object("fields")
        .filter(|f| !f.is_empty())
        .map(upper)
        .ok_or_else(|| {
            Fail::bad_request(
                "100",
                "Could not find value for parameter {fields} (internal error)",
            )
        })
}

/// `tasks.task.add`.
fn add(ctx: &mut Ctx<'_>) -> Outcome {
    let fields = fields_param(ctx)?;
    validate(ctx.state, &fields, None, true)?;
    let now = ctx.now_iso();
    let id = ctx.state.tasks.tasks.next_id();
    let writer = Writer {
        task: id,
        user: ctx.caller.user_id,
        now: now.clone(),
    };
    let mut row = new_row(id, ctx.caller.user_id, &now);
    write(ctx.state, &mut row, &fields, &writer);
    if row.get("ALLOW_TIME_TRACKING").and_then(Value::as_str) == Some("Y") {
        row.insert("TIME_SPENT_IN_LOGS".into(), json!("0"));
    }
    ctx.state.tasks.tasks.put(id, row);
    ctx.emit("ONTASKADD", task_event(None, Some(id), "N", "undefined"));
    reply_task(ctx, id, &TaskSelect::default())
}

/// Fetches a task for a change, or the portal's refusal.
fn existing(
    ctx: &Ctx<'_>,
    id: u64,
    refusal: impl FnOnce() -> Fail,
) -> Result<Map<String, Value>, Fail> {
    ctx.state.tasks.tasks.get(id).cloned().ok_or_else(refusal)
}

/// `tasks.task.update`.
fn update(ctx: &mut Ctx<'_>) -> Outcome {
    let id = task_id(ctx.params)?;
    let refusal = || Fail::bad_request("0", "Действие над задачей не разрешено (internal error)");
    let mut row = existing(ctx, id, refusal)?;
    let caller = ctx.caller.user_id;
    let editor = caller == ADMIN
        || id_field(&row, "CREATED_BY") == caller
        || id_field(&row, "RESPONSIBLE_ID") == caller;
    if !editor {
        return Err(refusal());
    }
    let fields = fields_param(ctx)?;
    validate(ctx.state, &fields, Some(id), false)?;
    let writer = Writer {
        task: id,
        user: caller,
        now: ctx.now_iso(),
    };
    write(ctx.state, &mut row, &fields, &writer);
    touch(&mut row, &writer);
    ctx.state.tasks.tasks.put(id, row);
    ctx.emit(
        "ONTASKUPDATE",
        task_event(Some(id), Some(id), "undefined", "undefined"),
    );
    reply_task(ctx, id, &TaskSelect::default())
}

/// `tasks.task.get`: `select` must be a list when given.
fn get(ctx: &mut Ctx<'_>) -> Outcome {
    let id = task_id(ctx.params)?;
    let select = match ctx.params.get("select") {
        None | Some(Value::Null) => TaskSelect::default(),
        Some(Value::Array(items)) if !items.is_empty() => {
            TaskSelect::parse(ctx.params.get("select"))
        }
        Some(other) => {
            let shown = match other {
                Value::Array(_) | Value::Object(_) => "{}".to_owned(),
                scalar => value_str(scalar).unwrap_or_default(),
            };
            return Err(Fail::bad_request(
                "100",
                format!(
                    "Invalid value {shown} to match with parameter {{select}}. Should be value of type array. (internal error)"
                ),
            ));
        }
    };
    if ctx.state.tasks.tasks.get(id).is_none() {
        return Err(Fail::bad_request("0", "Access denied"));
    }
    reply_task(ctx, id, &select)
}

/// Fields `order` may name, besides user fields.
fn sortable(name: &str) -> bool {
    present::FIELDS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name) && !matches!(*f, "AUDITORS" | "ACCOMPLICES"))
        || [
            "REAL_STATUS",
            "STATUS_COMPLETE",
            "TIME_SPENT_IN_LOGS",
            "ORIGINATOR_NAME",
            "RESPONSIBLE_NAME",
            "GROUP_NAME",
        ]
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
        || name.to_ascii_uppercase().starts_with("UF_")
}

/// A filter group (AND unless `any`) under a key `parse_filter` reads as a group.
fn group_entry(out: &mut Map<String, Value>, any: bool, mut conds: Map<String, Value>) {
    conds.insert("logic".into(), json!(if any { "OR" } else { "AND" }));
    let key = format!("{}", 1_000_000 + out.len());
    out.insert(key, Value::Object(conds));
}

/// The conditions of a meta status (`-1` overdue, `-2` not viewed, `-3` almost overdue).
fn meta_status(status: i64, now: &str, soon: &str) -> Map<String, Value> {
    let mut conds = Map::new();
    match status {
        -1 => {
            conds.insert("<DEADLINE".into(), json!(now));
            conds.insert("@STATUS".into(), json!(["2", "3"]));
        }
        -2 => {
            conds.insert("VIEWED_DATE".into(), Value::Null);
        }
        _ => {
            conds.insert(">=DEADLINE".into(), json!(now));
            conds.insert("<DEADLINE".into(), json!(soon));
            conds.insert("@STATUS".into(), json!(["2", "3"]));
        }
    }
    conds
}

/// Rewrites the portal's special filter keys (`::SUBFILTER-PARAMS`, `REAL_STATUS`, meta
/// statuses, `FAVORITE`, `MEMBER`, …) into plain conditions.
fn rewrite_filter(ctx: &Ctx<'_>, filter: &Map<String, Value>, out: &mut Map<String, Value>) {
    let now = ctx.now_iso();
    let soon = super::clock::iso8601(ctx.now_unix() + 86_400);
    for (key, value) in filter {
        if key.starts_with("::") {
            if let Value::Object(inner) = value {
                rewrite_filter(ctx, inner, out);
            }
            continue;
        }
        let bare = key.trim_start_matches(['!', '=', '<', '>', '@', '%']);
        let prefix = &key[..key.len() - bare.len()];
        let name = match snake(bare).as_str() {
            "REAL_STATUS" => "STATUS".to_owned(),
            "ACCOMPLICE" => "ACCOMPLICES".to_owned(),
            "AUDITOR" => "AUDITORS".to_owned(),
            "TAG" => "TAGS".to_owned(),
            other => other.to_owned(),
        };
        match name.as_str() {
            "FAVORITE" => {
                let wanted = value_bool(value).unwrap_or(true) != prefix.starts_with('!');
                let ids: Vec<String> = ctx
                    .state
                    .tasks
                    .favorites
                    .get(&ctx.caller.user_id)
                    .map(|set| set.iter().map(u64::to_string).collect())
                    .unwrap_or_default();
                // An empty IN list would match nothing only by accident; spell it out.
                let ids = if ids.is_empty() {
                    vec!["0".to_owned()]
                } else {
                    ids
                };
                out.insert(if wanted { "@ID" } else { "!@ID" }.to_owned(), json!(ids));
            }
            "MEMBER" => {
                let mut any = Map::new();
                for field in ["CREATED_BY", "RESPONSIBLE_ID", "ACCOMPLICES", "AUDITORS"] {
                    any.insert(field.into(), value.clone());
                }
                group_entry(out, true, any);
            }
            "STATUS" if matches!(prefix, "" | "=" | "@") => {
                let wanted: Vec<i64> = items(value).iter().filter_map(value_i64).collect();
                if wanted.iter().all(|s| *s > 0) {
                    out.insert(format!("{prefix}STATUS"), value.clone());
                    continue;
                }
                let mut any = Map::new();
                for status in wanted {
                    if status > 0 {
                        let mut plain = Map::new();
                        plain.insert("STATUS".into(), json!(status.to_string()));
                        group_entry(&mut any, false, plain);
                    } else {
                        group_entry(&mut any, false, meta_status(status, &now, &soon));
                    }
                }
                group_entry(out, true, any);
            }
            _ => {
                out.insert(format!("{prefix}{name}"), value.clone());
            }
        }
    }
}

/// `tasks.task.list`: newest first unless ordered otherwise.
fn list_tasks(ctx: &mut Ctx<'_>) -> Outcome {
    let mut filter = Map::new();
    match ctx.params.get("filter") {
        Some(Value::Object(map)) => rewrite_filter(ctx, map, &mut filter),
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.is_empty() => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(_) => return Err(Fail::bad_request("0", "Invalid filter (internal error)")),
    }
    let conds = parse_filter(Some(&Value::Object(filter)))?;
    let mut order = Vec::new();
    for (name, desc) in parse_order(ctx.params.get("order")) {
        let name = snake(&name);
        if !sortable(&name) {
            return Err(Fail::bad_request(
                "0",
                "Неверный ключ сортировки (internal error)",
            ));
        }
        order.push((
            if name.eq_ignore_ascii_case("REAL_STATUS") {
                "STATUS".to_owned()
            } else {
                name
            },
            desc,
        ));
    }
    let select = TaskSelect::parse(ctx.params.get("select"));
    let options = ctx.params.object("params").cloned().unwrap_or_default();
    let flag = |name: &str| {
        options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| value_bool(v))
            .unwrap_or(false)
    };
    let extras = Extras {
        result_info: flag("WITH_RESULT_INFO"),
        timer_info: flag("WITH_TIMER_INFO"),
        parsed_description: flag("WITH_PARSED_DESCRIPTION"),
    };
    let start = parse_start(ctx.params);
    let view = View {
        state: ctx.state,
        caller: ctx.caller.user_id,
        now_iso: ctx.now_iso(),
    };
    let page = list(
        &ctx.state.tasks.tasks,
        &conds,
        &order,
        start,
        ListShape {
            id_field: "ID",
            default_desc: true,
        },
    );
    let rows: Vec<Value> = page
        .rows
        .iter()
        .map(|row| present::task(&view, row, &select, Shape::List, extras))
        .collect();
    Ok(Reply::page(
        json!({ "tasks": rows }),
        page.total.or(Some(0)),
        page.next,
        page.work,
    ))
}

/// `tasks.task.delete`: the task, its comments and checklist go; its files stay on Disk.
fn delete(ctx: &mut Ctx<'_>) -> Outcome {
    let id = task_id(ctx.params)?;
    let refusal = || Fail::bad_request("1048582", "Нет доступа к удалению задачи");
    let row = existing(ctx, id, refusal)?;
    let caller = ctx.caller.user_id;
    if caller != ADMIN && id_field(&row, "CREATED_BY") != caller {
        return Err(refusal());
    }
    for attachment in user_ids(&row, "UF_TASK_WEBDAV_FILES") {
        disk::detach(ctx.state, attachment);
    }
    comments::remove_all(ctx.state, id);
    let state = &mut *ctx.state;
    state
        .tasks
        .checklist
        .rows
        .retain(|_, item| id_field(item, "TASK_ID") != id);
    state.tasks.running.remove(&id);
    for favorites in state.tasks.favorites.values_mut() {
        favorites.remove(&id);
    }
    for child in state
        .tasks
        .tasks
        .rows
        .values_mut()
        .filter(|r| id_field(r, "PARENT_ID") == id)
    {
        child.insert("PARENT_ID".into(), Value::Null);
    }
    state.tasks.tasks.remove(id);
    ctx.emit("ONTASKDELETE", task_event(Some(id), None, "undefined", "N"));
    Ok(Reply::new(json!({ "task": true })))
}

/// The status methods.
fn transition(ctx: &mut Ctx<'_>, action: Action) -> Outcome {
    let id = task_id(ctx.params)?;
    let mut row = existing(ctx, id, || action.refusal())?;
    let caller = ctx.caller.user_id;
    if !allowed(action, &row, caller) {
        return Err(action.refusal());
    }
    let writer = Writer {
        task: id,
        user: caller,
        now: ctx.now_iso(),
    };
    match action {
        Action::Start => set_status(ctx.state, &mut row, STATUS_IN_PROGRESS, &writer),
        Action::Pause | Action::Renew | Action::Disapprove => {
            set_status(ctx.state, &mut row, STATUS_PENDING, &writer);
        }
        Action::Defer => set_status(ctx.state, &mut row, STATUS_DEFERRED, &writer),
        Action::Approve => set_status(ctx.state, &mut row, STATUS_COMPLETED, &writer),
        Action::Complete => {
            let controlled = row.get("TASK_CONTROL").and_then(Value::as_str) == Some("Y")
                && id_field(&row, "CREATED_BY") != caller;
            let status = if controlled {
                STATUS_AWAITING_CONTROL
            } else {
                STATUS_COMPLETED
            };
            set_status(ctx.state, &mut row, status, &writer);
        }
        Action::Delegate => {
            let target = ctx
                .params
                .get_any(&["userId", "USERID", "USER_ID"])
                .ok_or_else(|| {
                    Fail::bad_request("100", "Could not find value for parameter {userId}")
                })?;
            let target = value_u64(target)
                .filter(|u| user::get(ctx.state, *u).is_some())
                .ok_or_else(|| core("Пользователь указанный в поле \"Исполнитель\" не найден"))?;
            let previous = id_field(&row, "RESPONSIBLE_ID");
            let mut auditors = user_ids(&row, "AUDITORS");
            if previous != target && previous > 0 && !auditors.contains(&previous) {
                auditors.push(previous);
            }
            auditors.retain(|a| *a != target);
            row.insert(
                "AUDITORS".into(),
                json!(auditors.iter().map(u64::to_string).collect::<Vec<_>>()),
            );
            row.insert("RESPONSIBLE_ID".into(), json!(target.to_string()));
            set_status(ctx.state, &mut row, STATUS_PENDING, &writer);
        }
    }
    touch(&mut row, &writer);
    ctx.state.tasks.tasks.put(id, row);
    ctx.emit(
        "ONTASKUPDATE",
        task_event(Some(id), Some(id), "undefined", "undefined"),
    );
    reply_task(ctx, id, &TaskSelect::default())
}

/// `tasks.task.files.attach`: attaches a Disk file; returns the attachment id.
fn files_attach(ctx: &mut Ctx<'_>) -> Outcome {
    let id = task_id(ctx.params)?;
    let file = ctx
        .params
        .get_any(&["fileId", "FILEID", "FILE_ID"])
        .ok_or_else(|| {
            Fail::bad_request(
                "100",
                "Could not find value for parameter {fileId} (internal error)",
            )
        })?;
    let Some(file) = value_u64(file) else {
        let shown = value_str(file).unwrap_or_default();
        return Err(Fail::bad_request(
            "100",
            format!(
                "Invalid value {shown} to match with parameter {{fileId}}. Should be value of type int. (internal error)"
            ),
        ));
    };
    let refusal = || Fail::bad_request("0", "Access denied (internal error)");
    let mut row = existing(ctx, id, refusal)?;
    let caller = ctx.caller.user_id;
    let member = caller == ADMIN
        || id_field(&row, "CREATED_BY") == caller
        || id_field(&row, "RESPONSIBLE_ID") == caller
        || user_ids(&row, "ACCOMPLICES").contains(&caller);
    if !member {
        return Err(refusal());
    }
    let now = ctx.now_iso();
    let owner = Owner {
        module: "tasks",
        entity_type: "tasks_task",
        entity_id: id,
    };
    let attachment = disk::attach(ctx.state, file, owner, caller, &now)
        .ok_or_else(|| core("Недостаточно прав."))?;
    let mut files = user_ids(&row, "UF_TASK_WEBDAV_FILES");
    files.push(attachment);
    row.insert("UF_TASK_WEBDAV_FILES".into(), json!(files));
    let writer = Writer {
        task: id,
        user: caller,
        now,
    };
    touch(&mut row, &writer);
    ctx.state.tasks.tasks.put(id, row);
    ctx.emit(
        "ONTASKUPDATE",
        task_event(Some(id), Some(id), "undefined", "undefined"),
    );
    Ok(Reply::new(json!({ "attachmentId": attachment })))
}

/// `tasks.task.favorite.add`.
fn favorite_add(ctx: &mut Ctx<'_>) -> Outcome {
    let id = task_id(ctx.params)?;
    existing(ctx, id, || Fail::bad_request("0", "Access denied"))?;
    ctx.state
        .tasks
        .favorites
        .entry(ctx.caller.user_id)
        .or_default()
        .insert(id);
    Ok(Reply::new(json!(true)))
}

/// `tasks.task.favorite.remove`.
fn favorite_remove(ctx: &mut Ctx<'_>) -> Outcome {
    let id = task_id(ctx.params)?;
    existing(ctx, id, || Fail::bad_request("0", "Access denied"))?;
    if let Some(set) = ctx.state.tasks.favorites.get_mut(&ctx.caller.user_id) {
        set.remove(&id);
    }
    Ok(Reply::new(json!(true)))
}

/// `tasks.task.getFields`: every field with its title, type and defaults.
#[allow(clippy::too_many_lines, reason = "one entry per documented field")]
fn get_fields(ctx: &mut Ctx<'_>) -> Reply {
    let yes_no = || json!({ "Y": "Yes", "N": "No" });
    let mut fields = Map::new();
    let mut put = |name: &str, spec: Value| {
        fields.insert(name.to_owned(), spec);
    };
    put(
        "ID",
        json!({ "title": "ID", "type": "integer", "primary": true }),
    );
    put(
        "PARENT_ID",
        json!({ "title": "Parent task ID", "type": "integer", "default": 0 }),
    );
    put(
        "TITLE",
        json!({ "title": "Name", "type": "string", "required": true }),
    );
    put(
        "DESCRIPTION",
        json!({ "title": "Description", "type": "string" }),
    );
    put(
        "MARK",
        json!({ "title": "Rating", "type": "enum", "values": { "N": "Negative", "P": "Positive" }, "default": null }),
    );
    put(
        "PRIORITY",
        json!({ "title": "Priority", "type": "enum", "values": { "2": "High", "1": "Medium", "0": "Low" }, "default": 1 }),
    );
    put(
        "STATUS",
        json!({ "title": "Status", "type": "enum", "values": {
            "2": "Pending", "3": "In progress", "4": "Supposedly completed", "5": "Completed", "6": "Deferred"
        }, "default": 2 }),
    );
    put(
        "MULTITASK",
        json!({ "title": "Multiple task", "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "NOT_VIEWED",
        json!({ "title": null, "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "REPLICATE",
        json!({ "title": "Recurring task", "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "GROUP_ID",
        json!({ "title": "Project", "type": "integer", "default": 0 }),
    );
    put(
        "STAGE_ID",
        json!({ "title": "Stage", "type": "integer", "default": 0 }),
    );
    put(
        "SPRINT_ID",
        json!({ "title": "Sprint", "type": "integer", "default": 0 }),
    );
    put(
        "BACKLOG_ID",
        json!({ "title": "Backlog", "type": "integer", "default": 0 }),
    );
    put(
        "CREATED_BY",
        json!({ "title": "Created by", "type": "integer", "required": true }),
    );
    put("CREATED_DATE", json!({ "title": null, "type": "datetime" }));
    put(
        "RESPONSIBLE_ID",
        json!({ "title": "Assignee", "type": "integer", "required": true }),
    );
    put("ACCOMPLICES", json!({ "title": null, "type": "array" }));
    put("AUDITORS", json!({ "title": null, "type": "array" }));
    put(
        "CHANGED_BY",
        json!({ "title": "Modified by", "type": "integer" }),
    );
    put(
        "CHANGED_DATE",
        json!({ "title": "Modified on", "type": "datetime" }),
    );
    put(
        "STATUS_CHANGED_BY",
        json!({ "title": "Status changed by", "type": "integer" }),
    );
    put(
        "STATUS_CHANGED_DATE",
        json!({ "title": "Status changed on", "type": "datetime" }),
    );
    put(
        "CLOSED_BY",
        json!({ "title": "Closed by", "type": "integer", "default": null }),
    );
    put(
        "CLOSED_DATE",
        json!({ "title": "Closed on", "type": "datetime", "default": null }),
    );
    put(
        "ACTIVITY_DATE",
        json!({ "title": null, "type": "datetime", "default": null }),
    );
    put(
        "DATE_START",
        json!({ "title": "Start date", "type": "datetime", "default": null }),
    );
    put(
        "DEADLINE",
        json!({ "title": "Deadline", "type": "datetime", "default": null }),
    );
    put(
        "START_DATE_PLAN",
        json!({ "title": "Planned start", "type": "datetime", "default": null }),
    );
    put(
        "END_DATE_PLAN",
        json!({ "title": "Planned completion", "type": "datetime", "default": null }),
    );
    put(
        "GUID",
        json!({ "title": "GUID", "type": "string", "default": null }),
    );
    put(
        "XML_ID",
        json!({ "title": "XML_ID", "type": "string", "default": null }),
    );
    put(
        "COMMENTS_COUNT",
        json!({ "title": "Comments", "type": "integer", "default": 0 }),
    );
    put(
        "SERVICE_COMMENTS_COUNT",
        json!({ "title": null, "type": "integer", "default": 0 }),
    );
    put(
        "NEW_COMMENTS_COUNT",
        json!({ "title": null, "type": "integer", "default": 0 }),
    );
    put(
        "ALLOW_CHANGE_DEADLINE",
        json!({ "title": null, "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "ALLOW_TIME_TRACKING",
        json!({ "title": null, "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "TASK_CONTROL",
        json!({ "title": "Approve task", "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "ADD_IN_REPORT",
        json!({ "title": "Add to report", "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "FORKED_BY_TEMPLATE_ID",
        json!({ "title": "Created from template", "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "TIME_ESTIMATE",
        json!({ "title": "Time spent", "type": "integer" }),
    );
    put(
        "TIME_SPENT_IN_LOGS",
        json!({ "title": "Time spent from change log", "type": "integer" }),
    );
    put(
        "MATCH_WORK_TIME",
        json!({ "title": "Skip weekends", "type": "integer" }),
    );
    put(
        "FORUM_TOPIC_ID",
        json!({ "title": "FORUM_TOPIC_ID", "type": "integer" }),
    );
    put(
        "FORUM_ID",
        json!({ "title": "FORUM_ID", "type": "integer" }),
    );
    put("SITE_ID", json!({ "title": "SITE_ID", "type": "string" }));
    put(
        "SUBORDINATE",
        json!({ "title": "Subordinate task", "type": "enum", "values": yes_no(), "default": null }),
    );
    put(
        "FAVORITE",
        json!({ "title": null, "type": "enum", "values": yes_no(), "default": null }),
    );
    put(
        "EXCHANGE_MODIFIED",
        json!({ "title": "EXCHANGE_MODIFIED", "type": "datetime", "default": null }),
    );
    put(
        "EXCHANGE_ID",
        json!({ "title": "EXCHANGE_ID", "type": "integer", "default": null }),
    );
    put(
        "OUTLOOK_VERSION",
        json!({ "title": "OUTLOOK_VERSION", "type": "integer", "default": null }),
    );
    put(
        "VIEWED_DATE",
        json!({ "title": "Last viewed on", "type": "datetime" }),
    );
    put(
        "SORTING",
        json!({ "title": "Sort index", "type": "double" }),
    );
    put(
        "DURATION_PLAN",
        json!({ "title": "Time spent (planned)", "type": "integer" }),
    );
    put(
        "DURATION_FACT",
        json!({ "title": "Time spent (actual)", "type": "integer" }),
    );
    put("CHECKLIST", json!({ "title": null, "type": "array" }));
    put(
        "DURATION_TYPE",
        json!({ "title": "DURATION_TYPE", "type": "enum", "values": ["secs", "mins", "hours", "days", "weeks", "monts", "years"], "default": "days" }),
    );
    put(
        "IS_MUTED",
        json!({ "title": null, "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "IS_PINNED",
        json!({ "title": null, "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "IS_PINNED_IN_GROUP",
        json!({ "title": null, "type": "enum", "values": yes_no(), "default": "N" }),
    );
    put(
        "FLOW_ID",
        json!({ "title": "Flow", "type": "integer", "default": 0 }),
    );
    put(
        "UF_CRM_TASK",
        json!({ "title": "CRM items", "type": "crm" }),
    );
    put(
        "UF_TASK_WEBDAV_FILES",
        json!({ "title": "Upload files", "type": "disk_file" }),
    );
    put(
        "UF_MAIL_MESSAGE",
        json!({ "title": null, "type": "mail_message" }),
    );
    // User fields the portal's tasks carry.
    let custom: BTreeSet<String> = ctx
        .state
        .tasks
        .tasks
        .rows
        .values()
        .flat_map(|row| {
            row.keys()
                .filter(|k| k.starts_with("UF_") && !present::SYSTEM_UF.contains(&k.as_str()))
                .cloned()
        })
        .collect();
    for name in custom {
        put(&name, json!({ "title": name, "type": "string" }));
    }
    Reply::new(json!({ "fields": fields }))
}

impl SandboxPortal {
    /// A task as `tasks.task.get` returns it with every field selected (user fields
    /// included), seen by user 1.
    pub fn task(&self, id: u64) -> Option<Value> {
        self.shared.with_state(|state| {
            let view = View {
                state,
                caller: ADMIN,
                now_iso: self.shared.clock.iso(),
            };
            let row = state.tasks.tasks.get(id)?;
            let mut task = present::task(
                &view,
                row,
                &TaskSelect::everything(),
                Shape::Single,
                Extras::default(),
            );
            if let Value::Object(map) = &mut task {
                // The Disk files behind the attachments, for convenience.
                map.insert(
                    "diskFiles".into(),
                    json!(present::attached_files(state, row)),
                );
            }
            Some(task)
        })
    }

    /// A task's comments as `task.commentitem.getlist` returns them, oldest first.
    pub fn task_comments(&self, task_id: u64) -> Vec<Value> {
        self.shared.with_state(|state| {
            let links = Links::outside(state, &self.shared.base_url, &self.shared.clock, ADMIN);
            comments::for_task(state, &links, task_id)
        })
    }
}

#[cfg(test)]
mod tests;
