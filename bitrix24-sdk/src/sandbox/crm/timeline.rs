//! `crm.timeline.comment.*` (api-reference/crm/timeline/comments/*.md): comments on a lead,
//! deal, contact, company or smart-process item, with files.
//!
//! Quirks kept: only lowercase `fields` is accepted by add and update (since crm 23.100.0),
//! `update` returns the comment's id, `delete` returns `null`, `get` and `list` fail the old
//! CRM way (`error: ""`), and `FILES` replaces every earlier file of the comment.

use serde_json::{Map, Value, json};

use super::CrmState;
use super::files::{self, Upload};
use super::item::{DYNAMIC_START, Target, missing_parameter};
use crate::sandbox::list::{Cond, ListShape, Op, list, parse_order, parse_start};
use crate::sandbox::params::{value_str, value_u64};
use crate::sandbox::registry::{Ctx, Registry};
use crate::sandbox::reply::{Fail, Outcome, Reply};
use crate::sandbox::state::State;
use crate::sandbox::user;

const SELECTABLE: [&str; 7] = [
    "ID",
    "CREATED",
    "ENTITY_ID",
    "ENTITY_TYPE",
    "AUTHOR_ID",
    "COMMENT",
    "FILES",
];

fn not_found() -> Fail {
    Fail::bad_request("NOT_FOUND", "Not found.")
}

fn owner_not_found() -> Fail {
    Fail::bad_request("OWNER_NOT_FOUND", "Owner element not found.")
}

/// The `entityTypeId` of a timeline owner type: `lead`, `deal`, `contact`, `company`,
/// `dynamic_<N>`.
pub(crate) fn owner_type_id(kind: &str) -> Option<u64> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "lead" => Some(1),
        "deal" => Some(2),
        "contact" => Some(3),
        "company" => Some(4),
        other => other
            .strip_prefix("dynamic_")?
            .parse()
            .ok()
            .filter(|id| *id >= DYNAMIC_START),
    }
}

/// Whether the CRM has the item `id` of type `entity_type_id`.
pub(crate) fn owner_exists(crm: &CrmState, entity_type_id: u64, id: u64) -> bool {
    crm.table(entity_type_id)
        .is_some_and(|table| table.get(id).is_some())
}

/// Deletes the comments of an item that was deleted, as the portal does.
pub(crate) fn forget_owner(crm: &mut CrmState, kind: &str, id: u64) {
    let doomed: Vec<u64> = crm
        .comments
        .rows
        .iter()
        .filter(|(_, row)| {
            row.get("ENTITY_TYPE").and_then(Value::as_str) == Some(kind)
                && row.get("ENTITY_ID").and_then(value_u64) == Some(id)
        })
        .map(|(comment, _)| *comment)
        .collect();
    for comment in doomed {
        crm.comments.remove(comment);
    }
}

/// `fields` exactly: `FIELDS`, `Fields` or `arFields` are refused since crm 23.100.0.
fn lowercase_fields(ctx: &Ctx<'_>) -> Result<Map<String, Value>, Fail> {
    match ctx.params.0.get("fields") {
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(Fail::bad_request(
            "100",
            "Invalid value to match with parameter {fields}. Should be value of type array.",
        )),
        None => Err(missing_parameter("fields")),
    }
}

fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).or_else(|| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// `FILES`: `[[name, base64], …]`; entries that are not a name and content are skipped.
fn uploads(value: &Value) -> Vec<Upload> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(files::upload_from_named_pair)
            .collect(),
        Value::Object(map) => map
            .values()
            .filter_map(files::upload_from_named_pair)
            .collect(),
        _ => Vec::new(),
    }
}

fn store_files(crm: &mut CrmState, value: &Value, now: &str, author: u64) -> Value {
    Value::Array(
        uploads(value)
            .into_iter()
            .map(|upload| json!(files::store(crm, upload, now, author)))
            .collect(),
    )
}

fn comment_text(value: Option<&Value>) -> Result<String, Fail> {
    let text = value
        .and_then(value_str)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    if text.is_empty() {
        return Err(Fail::bad_request("INVALID_ARG_VALUE", "Empty comment."));
    }
    Ok(text)
}

/// `crm.timeline.comment.add` → the new comment's id.
fn add(ctx: &mut Ctx<'_>) -> Outcome {
    let fields = lowercase_fields(ctx)?;
    let (Some(entity_id), Some(kind)) = (
        field(&fields, "ENTITY_ID"),
        field(&fields, "ENTITY_TYPE").and_then(value_str),
    ) else {
        return Err(Fail::bad_request(
            "100",
            "Required fields are not filled: ENTITY_ID, ENTITY_TYPE.",
        ));
    };
    let entity_type_id = owner_type_id(&kind).ok_or_else(not_found)?;
    let entity_id = value_u64(entity_id)
        .filter(|id| *id > 0)
        .ok_or_else(owner_not_found)?;
    if !owner_exists(&ctx.state.crm, entity_type_id, entity_id) {
        return Err(owner_not_found());
    }
    let text = comment_text(field(&fields, "COMMENT"))?;
    let now = ctx.now_iso();
    let author = ctx.caller.user_id;
    let kind = Target::new(entity_type_id).map_or(kind, |target| target.kind());
    let crm = &mut ctx.state.crm;
    let stored_files = field(&fields, "FILES")
        .map_or_else(|| json!([]), |value| store_files(crm, value, &now, author));
    let id = crm.comments.next_id();
    let Value::Object(row) = json!({
        "ID": id.to_string(),
        "ENTITY_ID": entity_id.to_string(),
        "ENTITY_TYPE": kind,
        "CREATED": now,
        "COMMENT": text,
        "AUTHOR_ID": author.to_string(),
        "FILES": stored_files,
    }) else {
        return Err(Fail::new(
            500,
            "INTERNAL_SERVER_ERROR",
            "Internal server error",
        ));
    };
    crm.comments.put(id, row);
    ctx.emit("ONCRMTIMELINECOMMENTADD", json!({ "ID": id }));
    Ok(Reply::new(json!(id)))
}

/// A comment as `get` and `list` return it: the files as a map keyed by file id.
fn present(state: &State, row: &Map<String, Value>, base_url: &str, select: &[String]) -> Value {
    let mut out = Map::new();
    for name in SELECTABLE {
        if !select.is_empty()
            && !select
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name) || s == "*")
            && name != "ID"
        {
            continue;
        }
        if name == "FILES" {
            let mut map = Map::new();
            for id in row
                .get("FILES")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(value_u64)
            {
                let Some(file) = state.crm.files.get(&id) else {
                    continue;
                };
                let author = user::get(state, file.author_id)
                    .map(|u| {
                        let part = |key: &str| {
                            u.get(key)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        format!("{} {}", part("NAME"), part("LAST_NAME"))
                            .trim()
                            .to_owned()
                    })
                    .unwrap_or_default();
                map.insert(id.to_string(), files::attachment(file, &author, base_url));
            }
            out.insert(name.into(), Value::Object(map));
            continue;
        }
        out.insert(name.into(), row.get(name).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// `crm.timeline.comment.get`.
fn get(ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx.params.require_id("id")?;
    let row = ctx
        .state
        .crm
        .comments
        .get(id)
        .ok_or_else(|| Fail::bad_request("", "Not found."))?;
    Ok(Reply::new(present(
        ctx.state,
        row,
        ctx.base_url.as_str(),
        &[],
    )))
}

/// `crm.timeline.comment.list`: the comments of one item (`ENTITY_ID` and `ENTITY_TYPE` are
/// required in `filter`). Without them, or for an item that does not exist, the portal cannot
/// check read access and says "Access denied."
fn list_comments(ctx: &mut Ctx<'_>) -> Outcome {
    let denied = || Fail::bad_request("", "Access denied.");
    let filter = ctx.params.object("filter").ok_or_else(denied)?;
    let kind = field(filter, "ENTITY_TYPE")
        .and_then(value_str)
        .ok_or_else(denied)?;
    let entity_id = field(filter, "ENTITY_ID")
        .and_then(value_u64)
        .ok_or_else(denied)?;
    let entity_type_id = owner_type_id(&kind).ok_or_else(denied)?;
    if !owner_exists(&ctx.state.crm, entity_type_id, entity_id) {
        return Err(denied());
    }
    let kind = Target::new(entity_type_id).map_or(kind, |target| target.kind());
    let conds = vec![
        Cond::Field {
            field: "ENTITY_TYPE".into(),
            op: Op::Eq,
            value: json!(kind),
        },
        Cond::Field {
            field: "ENTITY_ID".into(),
            op: Op::Eq,
            value: json!(entity_id),
        },
    ];
    // Sorting is documented for ID, CREATED and AUTHOR_ID only.
    let order: Vec<(String, bool)> = parse_order(ctx.params.get("order"))
        .into_iter()
        .filter(|(name, _)| {
            ["ID", "CREATED", "AUTHOR_ID"]
                .iter()
                .any(|allowed| name.eq_ignore_ascii_case(allowed))
        })
        .map(|(name, desc)| (name.to_ascii_uppercase(), desc))
        .collect();
    let select: Vec<String> = match ctx.params.get("select") {
        Some(Value::Array(items)) => items.iter().filter_map(value_str).collect(),
        _ => Vec::new(),
    };
    let start = parse_start(ctx.params);
    let state: &State = ctx.state;
    let page = list(
        &state.crm.comments,
        &conds,
        &order,
        start,
        ListShape {
            id_field: "ID",
            default_desc: false,
        },
    );
    let rows: Vec<Value> = page
        .rows
        .iter()
        .map(|row| present(state, row, ctx.base_url.as_str(), &select))
        .collect();
    Ok(Reply::page(
        Value::Array(rows),
        page.total,
        page.next,
        page.work,
    ))
}

/// Checks the optional `ownerTypeId` and `ownerId` of update and delete against the comment.
fn check_owner(ctx: &Ctx<'_>, row: &Map<String, Value>) -> Result<(), Fail> {
    let owner_type = ctx.params.u64("ownerTypeId");
    let owner_id = ctx.params.u64("ownerId");
    if owner_type.is_none() && owner_id.is_none() {
        return Ok(());
    }
    let kind = row
        .get("ENTITY_TYPE")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bound_type = owner_type_id(kind);
    let bound_id = row.get("ENTITY_ID").and_then(value_u64);
    let type_matches = owner_type.is_none_or(|t| Some(t) == bound_type);
    let id_matches = owner_id.is_none_or(|i| Some(i) == bound_id);
    if type_matches && id_matches {
        Ok(())
    } else {
        Err(owner_not_found())
    }
}

/// `crm.timeline.comment.update` → the comment's id.
fn update(ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx
        .params
        .u64("id")
        .filter(|id| *id > 0)
        .ok_or_else(|| missing_parameter("id"))?;
    let fields = lowercase_fields(ctx)?;
    let row = ctx.state.crm.comments.get(id).ok_or_else(not_found)?;
    check_owner(ctx, row)?;
    let comment = match field(&fields, "COMMENT") {
        Some(value) => Some(comment_text(Some(value))?),
        None => None,
    };
    let now = ctx.now_iso();
    let author = ctx.caller.user_id;
    let crm = &mut ctx.state.crm;
    // FILES replaces every earlier file (api-reference/files/how-to-update-files.md).
    let stored_files = field(&fields, "FILES").map(|value| store_files(crm, value, &now, author));
    let Some(row) = crm.comments.get_mut(id) else {
        return Err(not_found());
    };
    if let Some(comment) = comment {
        row.insert("COMMENT".into(), Value::String(comment));
    }
    if let Some(stored_files) = stored_files {
        row.insert("FILES".into(), stored_files);
    }
    ctx.emit("ONCRMTIMELINECOMMENTUPDATE", json!({ "ID": id }));
    Ok(Reply::new(json!(id)))
}

/// `crm.timeline.comment.delete` → `null`.
fn delete(ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx
        .params
        .u64("id")
        .filter(|id| *id > 0)
        .ok_or_else(|| missing_parameter("id"))?;
    let row = ctx.state.crm.comments.get(id).ok_or_else(not_found)?;
    check_owner(ctx, row)?;
    ctx.state.crm.comments.remove(id);
    ctx.emit("ONCRMTIMELINECOMMENTDELETE", json!({ "ID": id }));
    Ok(Reply::new(Value::Null))
}

/// `crm.timeline.comment.fields`.
#[allow(
    clippy::unnecessary_wraps,
    reason = "every method handler returns an `Outcome`"
)]
fn fields(_ctx: &mut Ctx<'_>) -> Outcome {
    let describe = |ty: &str,
                    required: bool,
                    read_only: bool,
                    immutable: bool,
                    multiple: bool,
                    title: &str| {
        json!({
            "type": ty,
            "isRequired": required,
            "isReadOnly": read_only,
            "isImmutable": immutable,
            "isMultiple": multiple,
            "isDynamic": false,
            "title": title,
        })
    };
    Ok(Reply::new(json!({
        "ID": describe("integer", false, true, false, false, "ID"),
        "CREATED": describe("datetime", false, true, false, false, "Created on"),
        "ENTITY_ID": describe("integer", true, false, true, false, "ID of the item the comment is bound to"),
        "ENTITY_TYPE": describe("string", true, false, true, false, "Type of the item the comment is bound to"),
        "AUTHOR_ID": describe("integer", false, false, true, false, "Author"),
        "COMMENT": describe("string", false, false, false, false, "Comment text"),
        "FILES": describe("attached_diskfile", false, false, false, true, "Files"),
    })))
}

/// Registers `crm.timeline.comment.*`.
pub(crate) fn register(registry: &mut Registry) {
    registry.method("crm.timeline.comment.add", add);
    registry.method("crm.timeline.comment.get", get);
    registry.method("crm.timeline.comment.list", list_comments);
    registry.method("crm.timeline.comment.update", update);
    registry.method("crm.timeline.comment.delete", delete);
    registry.method("crm.timeline.comment.fields", fields);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::crm::item;
    use crate::sandbox::crm::testing::{call, ok};

    const GIF: &str = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==";

    fn state_with_deal() -> State {
        let mut state = State::default();
        crate::sandbox::user::seed(&mut state, &crate::sandbox::clock::Clock::new());
        ok(
            &mut state,
            item_add(),
            json!({ "entityTypeId": 2, "fields": { "title": "Deal" } }),
        );
        state
    }

    fn item_add() -> fn(&mut Ctx<'_>) -> Outcome {
        let mut registry = Registry::default();
        item::register(&mut registry);
        registry
            .get("crm.item.add")
            .map(|spec| spec.handler)
            .unwrap()
    }

    #[test]
    fn comments_with_files() {
        let mut state = state_with_deal();
        let (outcome, emitted) = call(
            &mut state,
            add,
            json!({ "fields": { "ENTITY_ID": 1, "ENTITY_TYPE": "deal", "COMMENT": "Hi", "FILES": [["1.gif", GIF], ["a.txt", "aGk="]] } }),
        );
        assert_eq!(outcome.unwrap().result, json!(1));
        assert_eq!(
            (emitted[0].name.as_str(), &emitted[0].data),
            ("ONCRMTIMELINECOMMENTADD", &json!({ "ID": 1 }))
        );
        let comment = ok(&mut state, get, json!({ "id": 1 }));
        assert_eq!(comment["ENTITY_TYPE"], "deal");
        assert_eq!(
            comment["FILES"]["1"]["image"],
            json!({ "width": 1, "height": 1 })
        );
        assert_eq!(comment["FILES"]["2"]["type"], "file");
        assert_eq!(comment["FILES"]["2"]["size"], 2);
        assert_eq!(comment["FILES"]["1"]["authorName"], "John Doe");
        assert_eq!(
            ok(
                &mut state,
                update,
                json!({ "id": 1, "fields": { "COMMENT": "Changed", "FILES": [] } })
            ),
            json!(1)
        );
        let comment = ok(&mut state, get, json!({ "id": 1 }));
        assert_eq!(
            (comment["COMMENT"].as_str(), comment["FILES"].clone()),
            (Some("Changed"), json!({}))
        );
        let listed = call(
            &mut state,
            list_comments,
            json!({ "filter": { "ENTITY_ID": 1, "ENTITY_TYPE": "DEAL" }, "select": ["COMMENT"] }),
        )
        .0
        .unwrap();
        assert_eq!(listed.total, Some(1));
        assert_eq!(listed.result, json!([{ "ID": "1", "COMMENT": "Changed" }]));
        assert_eq!(
            ok(
                &mut state,
                delete,
                json!({ "id": 1, "ownerTypeId": 2, "ownerId": 1 })
            ),
            Value::Null
        );
        assert!(state.crm.comments.rows.is_empty());
    }

    #[test]
    fn documented_errors() {
        let mut state = state_with_deal();
        let fail = |state: &mut State, handler: fn(&mut Ctx<'_>) -> Outcome, params: Value| {
            call(state, handler, params).0.unwrap_err()
        };
        let upper = fail(
            &mut state,
            add,
            json!({ "FIELDS": { "ENTITY_ID": 1, "ENTITY_TYPE": "deal", "COMMENT": "x" } }),
        );
        assert_eq!(
            (upper.code.as_str(), upper.description.as_str()),
            ("100", "Could not find value for parameter {fields}")
        );
        let owner = fail(
            &mut state,
            add,
            json!({ "fields": { "ENTITY_ID": 9, "ENTITY_TYPE": "deal", "COMMENT": "x" } }),
        );
        assert_eq!(owner.code, "OWNER_NOT_FOUND");
        let kind = fail(
            &mut state,
            add,
            json!({ "fields": { "ENTITY_ID": 1, "ENTITY_TYPE": "spaceship", "COMMENT": "x" } }),
        );
        assert_eq!(kind.code, "NOT_FOUND");
        let empty = fail(
            &mut state,
            add,
            json!({ "fields": { "ENTITY_ID": 1, "ENTITY_TYPE": "deal", "COMMENT": " " } }),
        );
        assert_eq!(empty.code, "INVALID_ARG_VALUE");
        assert_eq!(
            fail(&mut state, get, json!({ "id": 5 })).description,
            "Not found."
        );
        assert_eq!(
            fail(
                &mut state,
                update,
                json!({ "id": 5, "fields": { "COMMENT": "x" } })
            )
            .code,
            "NOT_FOUND"
        );
        assert_eq!(
            fail(&mut state, delete, json!({ "id": 5 })).code,
            "NOT_FOUND"
        );
        let denied = fail(
            &mut state,
            list_comments,
            json!({ "filter": { "ENTITY_ID": 7, "ENTITY_TYPE": "deal" } }),
        );
        assert_eq!(
            (denied.code.as_str(), denied.description.as_str()),
            ("", "Access denied.")
        );
        ok(
            &mut state,
            add,
            json!({ "fields": { "ENTITY_ID": 1, "ENTITY_TYPE": "deal", "COMMENT": "x" } }),
        );
        assert_eq!(
            fail(
                &mut state,
                delete,
                json!({ "id": 1, "ownerTypeId": 1, "ownerId": 1 })
            )
            .code,
            "OWNER_NOT_FOUND"
        );
    }
}
