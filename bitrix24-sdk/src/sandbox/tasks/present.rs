//! Tasks as `tasks.task.*` return them: camelCase keys, values as strings, PHP's `[]` for
//! empty maps, people as `{id, name, link, icon, workPosition}` cards, and the `action` map of
//! what the caller may do next.

use serde_json::{Map, Value, json};

use super::super::disk;
use super::super::params::value_u64;
use super::super::state::State;
use super::super::user;
use super::{Action, STATUS_IN_PROGRESS, allowed, group, status_of};

/// The stored fields a full task carries, in the portal's order (`UPPER_SNAKE`, the storage and
/// filter names; replies use their camelCase).
pub(super) const FIELDS: &[&str] = &[
    "ID",
    "PARENT_ID",
    "TITLE",
    "DESCRIPTION",
    "MARK",
    "PRIORITY",
    "MULTITASK",
    "NOT_VIEWED",
    "REPLICATE",
    "STAGE_ID",
    "SPRINT_ID",
    "BACKLOG_ID",
    "CREATED_BY",
    "CREATED_DATE",
    "RESPONSIBLE_ID",
    "CHANGED_BY",
    "CHANGED_DATE",
    "STATUS_CHANGED_BY",
    "CLOSED_BY",
    "CLOSED_DATE",
    "ACTIVITY_DATE",
    "DATE_START",
    "DEADLINE",
    "START_DATE_PLAN",
    "END_DATE_PLAN",
    "GUID",
    "XML_ID",
    "COMMENTS_COUNT",
    "SERVICE_COMMENTS_COUNT",
    "ALLOW_CHANGE_DEADLINE",
    "ALLOW_TIME_TRACKING",
    "TASK_CONTROL",
    "ADD_IN_REPORT",
    "FORKED_BY_TEMPLATE_ID",
    "TIME_ESTIMATE",
    "TIME_SPENT_IN_LOGS",
    "MATCH_WORK_TIME",
    "FORUM_TOPIC_ID",
    "FORUM_ID",
    "SITE_ID",
    "SUBORDINATE",
    "EXCHANGE_MODIFIED",
    "EXCHANGE_ID",
    "OUTLOOK_VERSION",
    "VIEWED_DATE",
    "SORTING",
    "DURATION_FACT",
    "IS_MUTED",
    "IS_PINNED",
    "IS_PINNED_IN_GROUP",
    "FLOW_ID",
    "DESCRIPTION_IN_BBCODE",
    "STATUS",
    "STATUS_CHANGED_DATE",
    "DURATION_PLAN",
    "DURATION_TYPE",
    "FAVORITE",
    "GROUP_ID",
    "AUDITORS",
    "ACCOMPLICES",
];

/// The user fields that come back only when selected; selecting one returns all three.
pub(super) const SYSTEM_UF: [&str; 3] = ["UF_CRM_TASK", "UF_TASK_WEBDAV_FILES", "UF_MAIL_MESSAGE"];

/// `UF_CRM_TASK` → `ufCrmTask`.
pub(super) fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (index, word) in name.split('_').filter(|w| !w.is_empty()).enumerate() {
        let lower = word.to_ascii_lowercase();
        if index == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

/// `subStatus` → `SUB_STATUS`; `UPPER_SNAKE` stays as it is.
pub(super) fn snake(name: &str) -> String {
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 4);
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// PHP sends an empty map as `[]`.
fn map_or_list(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        json!([])
    } else {
        Value::Object(map)
    }
}

/// Who is looking, for `favorite`, `action` and counters.
pub(super) struct View<'a> {
    pub(super) state: &'a State,
    pub(super) caller: u64,
    pub(super) now_iso: String,
}

/// Which fields a `select` asks for.
#[derive(Debug, Clone, Default)]
pub(super) struct TaskSelect {
    /// `None`: no `select` (the method's default set).
    names: Option<Vec<String>>,
}

impl TaskSelect {
    /// Reads `select`; names may be `UPPER_SNAKE` or camelCase.
    pub(super) fn parse(select: Option<&Value>) -> Self {
        let names = match select {
            Some(Value::Array(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .filter_map(super::super::params::value_str)
                    .map(|n| snake(n.trim()))
                    .collect(),
            ),
            _ => None,
        };
        Self { names }
    }

    /// Everything, user fields included (for inspection).
    pub(super) fn everything() -> Self {
        Self {
            names: Some(vec!["*".into(), "UF_*".into()]),
        }
    }

    /// No `select` at all.
    fn is_default(&self) -> bool {
        self.names.is_none()
    }

    /// `*` among the names.
    fn star(&self) -> bool {
        self.names
            .as_ref()
            .is_some_and(|n| n.iter().any(|n| n == "*"))
    }

    /// Names `name` explicitly.
    fn has(&self, name: &str) -> bool {
        self.names
            .as_ref()
            .is_some_and(|n| n.iter().any(|n| n.eq_ignore_ascii_case(name)))
    }

    /// Whether a standard field goes out.
    fn wants(&self, name: &str) -> bool {
        self.is_default() || self.star() || self.has(name)
    }

    /// Whether a user field goes out.
    fn user_field(&self, name: &str) -> bool {
        if self.has(name) || self.has("UF_*") {
            return true;
        }
        SYSTEM_UF.contains(&name) && SYSTEM_UF.iter().any(|uf| self.has(uf))
    }
}

/// Extra blocks `tasks.task.list` adds on request (`params`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Extras {
    pub(super) result_info: bool,
    pub(super) timer_info: bool,
    pub(super) parsed_description: bool,
}

/// A stored field, `null` when unset.
fn field<'a>(row: &'a Map<String, Value>, name: &str) -> &'a Value {
    row.get(name).unwrap_or(&Value::Null)
}

/// An id field, 0 when unset.
fn id_of(row: &Map<String, Value>, name: &str) -> u64 {
    row.get(name).and_then(value_u64).unwrap_or_default()
}

/// A list of ids.
fn ids(row: &Map<String, Value>, name: &str) -> Vec<u64> {
    row.get(name)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(value_u64).collect())
        .unwrap_or_default()
}

/// A person as tasks show them.
pub(super) fn card(state: &State, id: u64) -> Value {
    let position = user::get(state, id)
        .and_then(|u| u.get("WORK_POSITION"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    json!({
        "id": id.to_string(),
        "name": user::display_name(state, id),
        "link": format!("/company/personal/user/{id}/"),
        "icon": "/bitrix/images/tasks/default_avatar.png",
        "workPosition": position,
    })
}

/// People cards keyed by id (`[]` for nobody).
fn cards(state: &State, people: &[u64]) -> Value {
    map_or_list(
        people
            .iter()
            .map(|id| (id.to_string(), card(state, *id)))
            .collect(),
    )
}

/// Whether the caller marked the task as a favourite.
fn favorite(view: &View<'_>, id: u64) -> bool {
    view.state
        .tasks
        .favorites
        .get(&view.caller)
        .is_some_and(|set| set.contains(&id))
}

/// The `action` map: what the caller may do with the task now.
pub(super) fn actions(view: &View<'_>, row: &Map<String, Value>) -> Value {
    let caller = view.caller;
    let admin = caller == super::ADMIN;
    let creator = id_of(row, "CREATED_BY") == caller;
    let responsible = id_of(row, "RESPONSIBLE_ID") == caller;
    let member = creator || responsible || ids(row, "ACCOMPLICES").contains(&caller);
    let status = status_of(row);
    let is_favorite = favorite(view, id_of(row, "ID"));
    let flag = |name: &str| row.get(name).and_then(Value::as_str) == Some("Y");
    let can = |action: Action| allowed(action, row, caller);
    json!({
        "accept": status == 1 && responsible,
        "decline": status == 1 && responsible,
        "complete": can(Action::Complete),
        "approve": can(Action::Approve),
        "disapprove": can(Action::Disapprove),
        "start": can(Action::Start),
        "pause": can(Action::Pause),
        "delegate": can(Action::Delegate),
        "remove": admin || creator,
        "edit": admin || creator,
        "defer": can(Action::Defer),
        "renew": can(Action::Renew),
        "create": true,
        "changeDeadline": admin || creator || (responsible && flag("ALLOW_CHANGE_DEADLINE")),
        "checklistAddItems": admin || member,
        "addFavorite": !is_favorite,
        "deleteFavorite": is_favorite,
        "rate": admin || creator,
        "take": false,
        "edit.originator": false,
        "checklist.reorder": admin || member,
        "elapsedtime.add": admin || member,
        "dayplan.timer.toggle": flag("ALLOW_TIME_TRACKING") && (responsible || member),
        "edit.plan": admin || member,
        "checklist.add": admin || member,
        "favorite.add": !is_favorite,
        "favorite.delete": is_favorite,
    })
}

/// The checklist items of a task.
fn checklist_items(state: &State, task: u64) -> Vec<&Map<String, Value>> {
    state
        .tasks
        .checklist
        .rows
        .values()
        .filter(|item| id_of(item, "TASK_ID") == task)
        .collect()
}

/// `checklist`: the items keyed by id, as strings (the root's `parentId` is the number 0).
fn checklist(state: &State, task: u64) -> Value {
    let mut items = checklist_items(state, task);
    // The portal's order: by sort index, items before the list they belong to.
    items.sort_by_key(|item| {
        (
            id_of(item, "SORT_INDEX"),
            std::cmp::Reverse(id_of(item, "PARENT_ID")),
            id_of(item, "ID"),
        )
    });
    let mut out = Map::new();
    for item in items {
        let id = id_of(item, "ID");
        let parent = id_of(item, "PARENT_ID");
        out.insert(
            id.to_string(),
            json!({
                "id": id.to_string(),
                "taskId": task.to_string(),
                "createdBy": field(item, "CREATED_BY"),
                "parentId": if parent == 0 { json!(0) } else { json!(parent.to_string()) },
                "title": field(item, "TITLE"),
                "sortIndex": field(item, "SORT_INDEX"),
                "isComplete": field(item, "IS_COMPLETE"),
                "isImportant": field(item, "IS_IMPORTANT"),
                "toggledBy": field(item, "TOGGLED_BY"),
                "toggledDate": field(item, "TOGGLED_DATE"),
                "ufChecklistFiles": false,
                "members": [],
                "attachments": [],
                "entityId": task.to_string(),
                "action": checklist_action(),
            }),
        );
    }
    map_or_list(out)
}

/// What may be done with a checklist item.
fn checklist_action() -> Value {
    json!({ "modify": true, "remove": true, "toggle": true, "add": true, "addAccomplice": true })
}

/// `checkListTree`: a root node and the items as nested nodes, with numbers as numbers.
fn checklist_tree(state: &State, task: u64, caller: u64) -> Value {
    let items = checklist_items(state, task);
    let mut counter = 0u64;
    let descendants = tree_level(&items, 0, task, caller, &mut counter);
    json!({
        "nodeId": 0,
        "fields": {
            "id": null, "copiedId": null, "entityId": null, "userId": caller, "createdBy": null, "parentId": null,
            "title": "", "sortIndex": null, "displaySortIndex": "", "isComplete": false, "isImportant": false,
            "completedCount": 0, "members": [], "attachments": [], "nodeId": null,
        },
        "action": [],
        "descendants": descendants,
    })
}

/// The items under `parent`, as tree nodes numbered depth-first.
fn tree_level(
    items: &[&Map<String, Value>],
    parent: u64,
    task: u64,
    caller: u64,
    counter: &mut u64,
) -> Vec<Value> {
    let mut level: Vec<&&Map<String, Value>> = items
        .iter()
        .filter(|item| id_of(item, "PARENT_ID") == parent)
        .collect();
    level.sort_by_key(|item| (id_of(item, "SORT_INDEX"), id_of(item, "ID")));
    let mut out = Vec::with_capacity(level.len());
    for (position, item) in level.into_iter().enumerate() {
        *counter += 1;
        let node = *counter;
        let id = id_of(item, "ID");
        let yes = |name: &str| item.get(name).and_then(Value::as_str) == Some("Y");
        let children = tree_level(items, id, task, caller, counter);
        let completed = children
            .iter()
            .filter(|c| c["fields"]["isComplete"] == json!(true))
            .count();
        out.push(json!({
            "nodeId": node,
            "fields": {
                "id": id, "copiedId": null, "entityId": task, "userId": caller, "createdBy": id_of(item, "CREATED_BY"),
                "parentId": parent, "title": field(item, "TITLE"), "sortIndex": id_of(item, "SORT_INDEX"),
                "displaySortIndex": if parent == 0 { String::new() } else { (position + 1).to_string() },
                "isComplete": yes("IS_COMPLETE"), "isImportant": yes("IS_IMPORTANT"), "completedCount": completed,
                "members": [], "attachments": [], "nodeId": null,
            },
            "action": checklist_action(),
            "descendants": children,
        }));
    }
    out
}

/// The meta status: `-1` when overdue, else the status.
pub(super) fn sub_status(row: &Map<String, Value>, now_iso: &str) -> String {
    let status = status_of(row);
    let overdue = matches!(status, 2 | 3)
        && row
            .get("DEADLINE")
            .and_then(Value::as_str)
            .is_some_and(|deadline| deadline < now_iso);
    if overdue {
        "-1".into()
    } else {
        status.to_string()
    }
}

/// The task's workgroup card, or `[]`.
fn group_value(row: &Map<String, Value>) -> Value {
    group(id_of(row, "GROUP_ID")).map_or_else(
        || json!([]),
        |g| {
            json!({
                "id": g.id.to_string(),
                "name": g.name,
                "opened": g.opened,
                "membersCount": g.members,
                "image": "/bitrix/images/socialnetwork/workgroup/folder.png",
                "additionalData": [],
            })
        },
    )
}

/// The task's tags keyed by tag id, or `[]`.
fn tags(state: &State, row: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for name in row
        .get("TAGS")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(id) = state.tasks.tags.get(name) {
            out.insert(id.to_string(), json!({ "id": id, "title": name }));
        }
    }
    map_or_list(out)
}

/// The caller's counters for the task.
fn counter(view: &View<'_>, row: &Map<String, Value>) -> Value {
    let expired = u8::from(
        sub_status(row, &view.now_iso) == "-1" && id_of(row, "RESPONSIBLE_ID") == view.caller,
    );
    json!({
        "counters": {
            "expired": expired, "newComments": 0, "projectExpired": 0, "projectNewComments": 0,
            "mutedExpired": 0, "mutedNewComments": 0,
        },
        "color": if expired > 0 { "danger" } else { "gray" },
        "value": expired,
    })
}

/// A stored user field as it goes out: empty multiple fields are `false`.
fn user_field_value(row: &Map<String, Value>, name: &str) -> Value {
    match row.get(name) {
        Some(Value::Array(items)) if items.is_empty() => Value::Bool(false),
        Some(value) => value.clone(),
        None if name == "UF_MAIL_MESSAGE" => Value::Null,
        None => Value::Bool(false),
    }
}

/// A field's value for the caller (`FAVORITE` is personal).
fn stored_value(view: &View<'_>, row: &Map<String, Value>, name: &str) -> Value {
    match name {
        "FAVORITE" => json!(if favorite(view, id_of(row, "ID")) {
            "Y"
        } else {
            "N"
        }),
        _ => field(row, name).clone(),
    }
}

/// What the reply is for: a single task (`get`, `add`, status changes) or a list row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Single,
    List,
}

/// A task as the methods return it.
pub(super) fn task(
    view: &View<'_>,
    row: &Map<String, Value>,
    select: &TaskSelect,
    shape: Shape,
    extras: Extras,
) -> Value {
    let mut out = Map::new();
    let id = id_of(row, "ID");
    let full = select.is_default() || select.star();
    for name in FIELDS {
        if *name == "ID" || select.wants(name) {
            out.insert(camel(name), stored_value(view, row, name));
        }
    }
    let user_fields: Vec<&String> = row.keys().filter(|k| k.starts_with("UF_")).collect();
    for name in SYSTEM_UF
        .iter()
        .map(|s| (*s).to_owned())
        .chain(user_fields.into_iter().cloned())
    {
        if select.user_field(&name) && !out.contains_key(&camel(&name)) {
            out.insert(camel(&name), user_field_value(row, &name));
        }
    }
    if !full {
        // Always there, selected or not.
        out.insert(
            "descriptionInBbcode".into(),
            field(row, "DESCRIPTION_IN_BBCODE").clone(),
        );
        if shape == Shape::Single {
            out.insert("favorite".into(), stored_value(view, row, "FAVORITE"));
        }
    }
    if full || select.has("CHECKLIST") {
        out.insert("checklist".into(), checklist(view.state, id));
    }
    out.insert("group".into(), group_value(row));
    if select.wants("CREATED_BY") {
        out.insert("creator".into(), card(view.state, id_of(row, "CREATED_BY")));
    }
    if select.wants("RESPONSIBLE_ID") {
        out.insert(
            "responsible".into(),
            card(view.state, id_of(row, "RESPONSIBLE_ID")),
        );
    }
    if select.wants("ACCOMPLICES") {
        out.insert(
            "accomplicesData".into(),
            cards(view.state, &ids(row, "ACCOMPLICES")),
        );
    }
    if select.wants("AUDITORS") {
        out.insert(
            "auditorsData".into(),
            cards(view.state, &ids(row, "AUDITORS")),
        );
    }
    if full {
        out.insert("newCommentsCount".into(), json!(0));
    }
    if shape == Shape::Single {
        out.insert("action".into(), actions(view, row));
    }
    if full && shape == Shape::Single {
        out.insert(
            "checkListTree".into(),
            checklist_tree(view.state, id, view.caller),
        );
        out.insert("checkListCanAdd".into(), json!(true));
    }
    if select.has("DEADLINE") {
        out.insert(
            "lengthDeadline".into(),
            json!(if field(row, "DEADLINE").is_null() {
                "0"
            } else {
                "1"
            }),
        );
    }
    if select.has("TAGS") || select.has("TAG") {
        out.insert("tags".into(), tags(view.state, row));
    }
    if select.has("COUNTERS") {
        out.insert("counter".into(), counter(view, row));
    }
    if select.has("SUB_STATUS") || (full && shape == Shape::List) {
        out.insert("subStatus".into(), json!(sub_status(row, &view.now_iso)));
    }
    add_extras(view, row, extras, &mut out);
    Value::Object(out)
}

/// The blocks `params` of `tasks.task.list` asks for.
fn add_extras(
    view: &View<'_>,
    row: &Map<String, Value>,
    extras: Extras,
    out: &mut Map<String, Value>,
) {
    if extras.result_info {
        out.insert(
            "taskRequireResult".into(),
            field(row, "TASK_REQUIRE_RESULT").clone(),
        );
        out.insert("taskHasOpenResult".into(), json!("N"));
        out.insert("taskHasResult".into(), json!("N"));
    }
    if extras.timer_info {
        let running = view.state.tasks.running.contains_key(&id_of(row, "ID"))
            && status_of(row) == STATUS_IN_PROGRESS
            && id_of(row, "RESPONSIBLE_ID") == view.caller;
        out.insert("timeElapsed".into(), Value::Null);
        out.insert(
            "timerIsRunningForCurrentUser".into(),
            json!(if running { "Y" } else { "N" }),
        );
    }
    if extras.parsed_description {
        out.insert(
            "parsedDescription".into(),
            field(row, "DESCRIPTION").clone(),
        );
    }
}

/// A task's files as attachments: `ufTaskWebdavFiles` holds attachment ids; this resolves
/// them to Disk file ids (for inspection).
pub(super) fn attached_files(state: &State, row: &Map<String, Value>) -> Vec<u64> {
    ids(row, "UF_TASK_WEBDAV_FILES")
        .into_iter()
        .filter_map(|a| disk::attachment_object(state, a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_convert_both_ways() {
        assert_eq!(camel("UF_CRM_TASK"), "ufCrmTask");
        assert_eq!(camel("DESCRIPTION_IN_BBCODE"), "descriptionInBbcode");
        assert_eq!(camel("ID"), "id");
        assert_eq!(snake("subStatus"), "SUB_STATUS");
        assert_eq!(snake("RESPONSIBLE_ID"), "RESPONSIBLE_ID");
    }
}
