//! Line configuration: `imopenlines.config.*`, `imopenlines.revision.get`.

use serde_json::{Map, Value, json};

use super::{Line, QueueEntry, create_line, live, queue_users, seed};
use crate::sandbox::event::is_admin;
use crate::sandbox::list::{Cond, matches, parse_filter};
use crate::sandbox::params::{value_str, value_u64};
use crate::sandbox::registry::{Ctx, Registry};
use crate::sandbox::reply::{Fail, Outcome, Reply};
use crate::sandbox::state::State;

/// The most rows `imopenlines.config.list.get` returns at once.
const MAX_LIMIT: u64 = 200;

fn config_id_empty() -> Fail {
    Fail::bad_request("CONFIG_ID_EMPTY", "Config ID can't be empty")
}

fn permission_denied() -> Fail {
    Fail::new(403, "CONFIG_WRONG_USER_PERMISSION", "Permission denied")
}

/// The line `CONFIG_ID` names; a missing, malformed or unknown id is `CONFIG_ID_EMPTY`.
fn config_id(ctx: &Ctx<'_>) -> Result<u64, Fail> {
    let id = ctx
        .params
        .u64("CONFIG_ID")
        .filter(|id| *id > 0)
        .ok_or_else(config_id_empty)?;
    if ctx.state.openlines.lines.contains_key(&id) {
        Ok(id)
    } else {
        Err(config_id_empty())
    }
}

/// A queue from `PARAMS.QUEUE`: `[{ENTITY_TYPE, ENTITY_ID}]`, or plain user ids as older
/// integrations send them.
fn parse_queue(value: &Value) -> Vec<QueueEntry> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => map.values().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::Object(entry) => {
                let get = |key: &str| {
                    entry
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v)
                };
                let entity_id = get("ENTITY_ID").and_then(value_u64).filter(|id| *id > 0)?;
                let entity_type = get("ENTITY_TYPE")
                    .and_then(value_str)
                    .unwrap_or_else(|| "user".into())
                    .to_ascii_lowercase();
                Some(QueueEntry {
                    entity_type,
                    entity_id,
                })
            }
            other => value_u64(other)
                .filter(|id| *id > 0)
                .map(|entity_id| QueueEntry {
                    entity_type: "user".into(),
                    entity_id,
                }),
        })
        .collect()
}

/// Writes `PARAMS` into a line: known settings only, stored as the portal returns them
/// (strings, `Y`/`N` for booleans, lists for the day lists).
pub(crate) fn apply_settings(line: &mut Line, params: &Map<String, Value>) {
    for (key, value) in params {
        let key = key.to_ascii_uppercase();
        if key == "QUEUE" {
            line.queue = parse_queue(value);
            continue;
        }
        if !line.settings.contains_key(&key) {
            continue;
        }
        let stored = match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| Value::String(value_str(i).unwrap_or_default()))
                    .collect(),
            ),
            Value::Object(map) => Value::Array(
                map.values()
                    .map(|i| Value::String(value_str(i).unwrap_or_default()))
                    .collect(),
            ),
            Value::Null => Value::Null,
            other => Value::String(value_str(other).unwrap_or_default()),
        };
        line.settings.insert(key, stored);
    }
}

/// A queue user's card; `config.get` writes the avatar id as a string, `config.list.get` as a
/// number.
fn user_fields(state: &State, user: u64, avatar_id: &Value) -> Value {
    let row = crate::sandbox::user::get(state, user);
    let field = |name: &str| {
        row.and_then(|r| r.get(name))
            .and_then(value_str)
            .filter(|s| !s.is_empty())
    };
    json!({
        "USER_NAME": super::display_name(state, user),
        "USER_WORK_POSITION": field("WORK_POSITION"),
        "USER_AVATAR": "",
        "USER_AVATAR_ID": avatar_id,
    })
}

/// A line as `imopenlines.config.get` returns it.
fn present(state: &State, line: &Line, with_queue: bool) -> Value {
    let mut out = Map::new();
    out.insert("ID".into(), Value::String(line.id.to_string()));
    for (key, value) in &line.settings {
        out.insert(key.clone(), value.clone());
    }
    // The portal serializes its date objects as `{}`.
    out.insert("DATE_CREATE".into(), json!({}));
    out.insert("DATE_MODIFY".into(), json!({}));
    out.insert(
        "MODIFY_USER_ID".into(),
        Value::String(line.modify_user.to_string()),
    );
    if with_queue {
        let users = queue_users(state, line);
        out.insert(
            "QUEUE".into(),
            Value::Array(users.iter().map(|u| Value::String(u.to_string())).collect()),
        );
        let mut full = Map::new();
        let mut fields = Map::new();
        for (sort, user) in users.iter().enumerate() {
            let user_fields = user_fields(state, *user, &json!("0"));
            let department = line
                .queue
                .iter()
                .find(|e| e.entity_type == "department")
                .map_or(0, |e| e.entity_id);
            let mut entry = json!({
                "ID": format!("{}", line.id * 1000 + *user),
                "SORT": sort.to_string(),
                "USER_ID": user.to_string(),
                "DEPARTMENT_ID": if line.queue.iter().any(|e| e.entity_type == "user" && e.entity_id == *user) { 0 } else { department }.to_string(),
            });
            if let (Value::Object(entry), Value::Object(extra)) = (&mut entry, &user_fields) {
                entry.extend(extra.clone());
            }
            full.insert(user.to_string(), entry);
            fields.insert(user.to_string(), user_fields);
        }
        out.insert("QUEUE_FULL".into(), Value::Object(full));
        out.insert("QUEUE_USERS_FIELDS".into(), Value::Object(fields));
        out.insert(
            "QUEUE_ONLINE".into(),
            Value::String(if users.is_empty() { "N" } else { "Y" }.into()),
        );
    }
    Value::Object(out)
}

/// `imopenlines.config.get`.
fn get(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let id = config_id(ctx)?;
    let with_queue = ctx.params.bool("WITH_QUEUE").unwrap_or(true);
    let line = &ctx.state.openlines.lines[&id];
    Ok(Reply::new(present(ctx.state, line, with_queue)))
}

/// `imopenlines.config.add`.
fn add(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    if !is_admin(ctx.caller.user_id) {
        return Err(permission_denied());
    }
    let params = ctx.params.object("PARAMS").cloned().unwrap_or_default();
    let name = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("LINE_NAME"))
        .and_then(|(_, v)| value_str(v))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("Open line {}", ctx.state.openlines.last_line_id + 1));
    let now = ctx.now_iso();
    let id = create_line(
        ctx.state,
        &name,
        &params,
        Vec::new(),
        &now,
        ctx.caller.user_id,
    );
    Ok(Reply::new(json!(id)))
}

/// `imopenlines.config.update`.
fn update(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let id = config_id(ctx)?;
    if !is_admin(ctx.caller.user_id) {
        return Err(permission_denied());
    }
    let params = ctx.params.object("PARAMS").cloned().unwrap_or_default();
    let now = ctx.now_iso();
    let user = ctx.caller.user_id;
    if let Some(line) = ctx.state.openlines.lines.get_mut(&id) {
        apply_settings(line, &params);
        line.modified = now;
        line.modify_user = user;
    }
    Ok(Reply::new(json!(true)))
}

/// `imopenlines.config.delete`: connectors on the line hear `ONIMCONNECTORLINEDELETE`.
fn delete(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let id = config_id(ctx)?;
    if !is_admin(ctx.caller.user_id) {
        return Err(permission_denied());
    }
    let mut live = live(ctx);
    live.state.openlines.lines.remove(&id);
    let custom_on_line = live
        .state
        .openlines
        .activations
        .values()
        .any(|a| a.line == id && live.state.openlines.connectors.contains_key(&a.connector));
    live.state.openlines.activations.retain(|_, a| a.line != id);
    let open: Vec<u64> = live
        .state
        .openlines
        .sessions
        .values()
        .filter(|s| s.line_id == id && !s.closed)
        .map(|s| s.id)
        .collect();
    for session in open {
        live.finish_session(session);
    }
    if custom_on_line {
        live.events.push(crate::sandbox::registry::Emitted {
            name: "ONIMCONNECTORLINEDELETE".into(),
            data: json!(id),
        });
    }
    Ok(Reply::new(json!(true)))
}

fn invalid(description: impl Into<String>) -> Fail {
    Fail::bad_request("INVALID_FORMAT", description)
}

/// The fields `imopenlines.config.list.get` can select, filter and order by.
fn known_field(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper == "ID"
        || upper == "DATE_CREATE"
        || upper == "DATE_MODIFY"
        || upper == "MODIFY_USER_ID"
        || super::default_settings("").contains_key(&upper)
}

/// Everything `imopenlines.config.list.get` reads from `PARAMS` and `OPTIONS`.
struct ListQuery {
    select: Vec<String>,
    order: Vec<(String, bool)>,
    conds: Vec<Cond>,
    limit: usize,
    offset: usize,
    queue: bool,
    config_queue: bool,
}

fn non_negative(params: &Map<String, Value>, name: &str, default: u64) -> Result<u64, Fail> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value_u64(value).ok_or_else(|| {
            invalid(format!(
                "A non-negative integer is expected in the PARAMS field '{name}'"
            ))
        }),
    }
}

/// `OPTIONS`: whether to add `QUEUE` and `CONFIG_QUEUE` to each line.
fn parse_options(ctx: &Ctx<'_>) -> Result<(bool, bool), Fail> {
    let options = match ctx.params.get("OPTIONS") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(Value::Array(items)) if items.is_empty() => Map::new(),
        Some(_) => return Err(invalid("A wrong format for the OPTIONS field is passed")),
    };
    let unsupported: Vec<&str> = options
        .keys()
        .map(String::as_str)
        .filter(|k| !["QUEUE", "CONFIG_QUEUE", "CHECK_PERMISSION"].contains(k))
        .collect();
    if !unsupported.is_empty() {
        return Err(invalid(format!(
            "Unsupported OPTIONS fields are passed: {}",
            unsupported.join(", ")
        )));
    }
    let flag = |name: &str| -> Result<bool, Fail> {
        match options.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Array(_) | Value::Object(_)) => Err(invalid(format!(
                "A wrong format for the OPTIONS field '{name}' is passed"
            ))),
            Some(value) => Ok(value_str(value).is_some_and(|v| v.eq_ignore_ascii_case("Y"))),
        }
    };
    let queue = (flag("QUEUE")?, flag("CONFIG_QUEUE")?);
    if let Some(action) = options.get("CHECK_PERMISSION").and_then(value_str)
        && !["view", "modify"].contains(&action.to_ascii_lowercase().as_str())
    {
        return Err(invalid(
            "An unknown value for the OPTIONS field 'CHECK_PERMISSION' is passed",
        ));
    }
    Ok(queue)
}

/// `PARAMS.select`.
fn parse_select(params: &Map<String, Value>) -> Result<Vec<String>, Fail> {
    let select: Vec<String> = match params.get("select") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut fields = Vec::new();
            for item in items {
                let name = value_str(item)
                    .filter(|n| !n.trim().is_empty())
                    .ok_or_else(|| {
                        invalid("A wrong field name is passed in the PARAMS field 'select'")
                    })?;
                if !known_field(&name) {
                    return Err(invalid(format!(
                        "An unknown field '{name}' is passed in the PARAMS field 'select'"
                    )));
                }
                fields.push(name.to_ascii_uppercase());
            }
            fields
        }
        Some(_) => {
            return Err(invalid(
                "A wrong format for the PARAMS field 'select' is passed",
            ));
        }
    };
    Ok(select)
}

/// `PARAMS.order`: known fields, `ASC` or `DESC`.
fn parse_list_order(params: &Map<String, Value>) -> Result<Vec<(String, bool)>, Fail> {
    let mut order = Vec::new();
    match params.get("order") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (field, direction) in map {
                if field.trim().is_empty() {
                    return Err(invalid(
                        "A wrong field name is passed in the PARAMS field 'order'",
                    ));
                }
                if !known_field(field) {
                    return Err(invalid(format!(
                        "An unknown field '{field}' is passed in the PARAMS field 'order'"
                    )));
                }
                let direction = value_str(direction)
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                if direction != "ASC" && direction != "DESC" {
                    return Err(invalid(
                        "A wrong sorting direction is passed in the PARAMS field 'order'",
                    ));
                }
                order.push((field.to_ascii_uppercase(), direction == "DESC"));
            }
        }
        Some(_) => {
            return Err(invalid(
                "A wrong format for the PARAMS field 'order' is passed",
            ));
        }
    }
    Ok(order)
}

/// `PARAMS.filter`: known fields, with the usual operator prefixes.
fn parse_list_filter(params: &Map<String, Value>) -> Result<Vec<Cond>, Fail> {
    let conds = match params.get("filter") {
        None | Some(Value::Null) => Vec::new(),
        Some(filter @ Value::Object(map)) => {
            if map.keys().any(|k| k.trim().is_empty()) {
                return Err(invalid(
                    "A wrong field name is passed in the PARAMS field 'filter'",
                ));
            }
            let conds = parse_filter(Some(filter))
                .map_err(|_| invalid("A wrong format for the PARAMS field 'filter' is passed"))?;
            for cond in &conds {
                if let Cond::Field { field, .. } = cond
                    && !known_field(field)
                {
                    return Err(invalid(format!(
                        "An unknown field '{field}' is passed in the PARAMS field 'filter'"
                    )));
                }
            }
            conds
        }
        Some(Value::Array(items)) if items.is_empty() => Vec::new(),
        Some(_) => {
            return Err(invalid(
                "A wrong format for the PARAMS field 'filter' is passed",
            ));
        }
    };
    Ok(conds)
}

fn parse_list_query(ctx: &Ctx<'_>) -> Result<ListQuery, Fail> {
    let params = match ctx.params.get("PARAMS") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(Value::Array(items)) if items.is_empty() => Map::new(),
        Some(_) => return Err(invalid("A wrong format for the PARAMS field is passed")),
    };
    let unsupported: Vec<&str> = params
        .keys()
        .map(String::as_str)
        .filter(|k| !["select", "filter", "order", "limit", "offset"].contains(k))
        .collect();
    if !unsupported.is_empty() {
        return Err(invalid(format!(
            "Unsupported PARAMS fields are passed: {}",
            unsupported.join(", ")
        )));
    }
    let select = parse_select(&params)?;
    let order = parse_list_order(&params)?;
    let conds = parse_list_filter(&params)?;
    let limit = non_negative(&params, "limit", 50)?.min(MAX_LIMIT);
    let offset = non_negative(&params, "offset", 0)?;

    let (queue, config_queue) = parse_options(ctx)?;
    Ok(ListQuery {
        select,
        order,
        conds,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        queue,
        config_queue,
    })
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    let text = |v: Option<&Value>| v.and_then(value_str).unwrap_or_default();
    let (a, b) = (text(a), text(b));
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

/// `imopenlines.config.list.get`: `PARAMS{select, filter, order, limit ≤ 200, offset}`,
/// `OPTIONS{QUEUE, CONFIG_QUEUE}`.
fn list(ctx: &mut Ctx<'_>) -> Outcome {
    seed(ctx.state, &ctx.clock);
    let query = parse_list_query(ctx)?;
    let state = &*ctx.state;
    let mut rows: Vec<(Map<String, Value>, &Line)> = state
        .openlines
        .lines
        .values()
        .filter_map(|line| match present(state, line, false) {
            Value::Object(row) => Some((row, line)),
            _ => None,
        })
        .filter(|(row, _)| matches(row, &query.conds))
        .collect();
    rows.sort_by(|(a, _), (b, _)| {
        for (field, desc) in &query.order {
            let ordering = compare(a.get(field), b.get(field));
            let ordering = if *desc { ordering.reverse() } else { ordering };
            if ordering.is_ne() {
                return ordering;
            }
        }
        compare(a.get("ID"), b.get("ID"))
    });
    let mut out = Vec::new();
    for (row, line) in rows.into_iter().skip(query.offset).take(query.limit) {
        let mut item = if query.select.is_empty() {
            row
        } else {
            query
                .select
                .iter()
                .filter_map(|field| row.get(field).map(|v| (field.clone(), v.clone())))
                .collect()
        };
        if query.queue {
            let users = queue_users(state, line);
            item.insert("QUEUE".into(), json!(users));
            let fields: Map<String, Value> = users
                .iter()
                .map(|u| (u.to_string(), user_fields(state, *u, &json!(0))))
                .collect();
            item.insert("QUEUE_USERS_FIELDS".into(), Value::Object(fields));
        }
        if query.config_queue {
            let entries: Vec<Value> = line
                .queue
                .iter()
                .map(|e| json!({ "ENTITY_ID": e.entity_id.to_string(), "ENTITY_TYPE": e.entity_type }))
                .collect();
            item.insert("CONFIG_QUEUE".into(), Value::Array(entries));
        }
        out.push(Value::Object(item));
    }
    Ok(Reply::new(Value::Array(out)))
}

/// `imopenlines.config.path.get`: where the contact center lives.
#[allow(clippy::unnecessary_wraps)] // every handler has the same signature
fn path_get(ctx: &mut Ctx<'_>) -> Outcome {
    let server = ctx.base_url.as_str().trim_end_matches('/').to_owned();
    Ok(Reply::new(
        json!({ "SERVER_ADDRESS": server, "PUBLIC_PATH": "/contact_center/" }),
    ))
}

/// `imopenlines.revision.get`: the API revisions this portal speaks.
#[allow(clippy::unnecessary_wraps)] // every handler has the same signature
fn revision_get(_ctx: &mut Ctx<'_>) -> Outcome {
    Ok(Reply::new(json!({ "rest": 2, "web": 1, "mobile": 1 })))
}

pub(crate) fn register(registry: &mut Registry) {
    registry.method("imopenlines.config.list.get", list);
    registry.method("imopenlines.config.get", get);
    registry.method("imopenlines.config.add", add);
    registry.method("imopenlines.config.update", update);
    registry.method("imopenlines.config.delete", delete);
    registry.method("imopenlines.config.path.get", path_get);
    registry.method("imopenlines.revision.get", revision_get);
}

// Scenario tests read top to bottom, one portal story each.
#[cfg(test)]
#[allow(clippy::too_many_lines)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sandbox::imopenlines::testing::{app, err, ok, state, webhook};

    #[test]
    fn lines_are_added_read_updated_and_deleted() {
        let mut state = state();
        let first = ok(&mut state, &webhook(), get, json!({ "CONFIG_ID": 1 }));
        assert_eq!(
            (
                first["ID"].as_str(),
                first["CRM"].as_str(),
                first["DATE_CREATE"].clone()
            ),
            (Some("1"), Some("Y"), json!({}))
        );
        assert_eq!(first["QUEUE"], json!(["1"]));
        assert_eq!(first["QUEUE_FULL"]["1"]["USER_NAME"], "John Doe");
        let params = json!({ "PARAMS": { "LINE_NAME": "Sales", "QUEUE": [{ "ENTITY_TYPE": "user", "ENTITY_ID": "2" }, { "ENTITY_TYPE": "user", "ENTITY_ID": "99" }], "QUEUE_TIME": 45, "WORKTIME_DAYOFF": ["SA", "SU"] } });
        let id = ok(&mut state, &webhook(), add, params).as_u64().unwrap();
        let line = ok(&mut state, &webhook(), get, json!({ "CONFIG_ID": id }));
        assert_eq!(
            (line["LINE_NAME"].as_str(), line["QUEUE_TIME"].as_str()),
            (Some("Sales"), Some("45"))
        );
        assert_eq!(
            line["QUEUE"],
            json!(["2"]),
            "unknown users are not in the queue"
        );
        assert_eq!(line["WORKTIME_DAYOFF"], json!(["SA", "SU"]));
        assert_eq!(
            err(&mut state, &app(2), add, json!({})).code,
            "CONFIG_WRONG_USER_PERMISSION"
        );
        ok(
            &mut state,
            &webhook(),
            update,
            json!({ "CONFIG_ID": id, "PARAMS": { "ACTIVE": "N", "LINE_NAME": "Sales 2" } }),
        );
        assert_eq!(
            ok(
                &mut state,
                &webhook(),
                get,
                json!({ "CONFIG_ID": id, "WITH_QUEUE": "N" })
            )["LINE_NAME"],
            "Sales 2"
        );
        for handler in [get, update, delete] {
            assert_eq!(
                err(&mut state, &webhook(), handler, json!({})).code,
                "CONFIG_ID_EMPTY"
            );
        }

        let active = ok(
            &mut state,
            &webhook(),
            list,
            json!({ "PARAMS": { "select": ["ID", "LINE_NAME"], "filter": { "ACTIVE": "Y" } }, "OPTIONS": { "QUEUE": "Y", "CONFIG_QUEUE": "Y" } }),
        );
        assert_eq!(active.as_array().unwrap().len(), 1);
        assert_eq!(active[0]["QUEUE"], json!([1]));
        assert_eq!(
            active[0]["CONFIG_QUEUE"],
            json!([{ "ENTITY_ID": "1", "ENTITY_TYPE": "user" }])
        );
        assert!(active[0].get("CRM").is_none(), "only the selected fields");
        let ordered = ok(
            &mut state,
            &webhook(),
            list,
            json!({ "PARAMS": { "order": { "ID": "DESC" }, "limit": 1 } }),
        );
        assert_eq!(ordered[0]["ID"], id.to_string());
        let page = ok(
            &mut state,
            &webhook(),
            list,
            json!({ "PARAMS": { "offset": 1 } }),
        );
        assert_eq!(page.as_array().unwrap().len(), 1);
        for (params, text) in [
            (
                json!({ "PARAMS": { "filter": "x" } }),
                "A wrong format for the PARAMS field 'filter' is passed",
            ),
            (
                json!({ "PARAMS": { "page": 1 } }),
                "Unsupported PARAMS fields are passed: page",
            ),
            (
                json!({ "PARAMS": { "select": ["NOPE"] } }),
                "An unknown field 'NOPE' is passed in the PARAMS field 'select'",
            ),
            (
                json!({ "PARAMS": { "order": { "ID": "UP" } } }),
                "A wrong sorting direction is passed in the PARAMS field 'order'",
            ),
            (
                json!({ "PARAMS": { "limit": -1 } }),
                "A non-negative integer is expected in the PARAMS field 'limit'",
            ),
            (
                json!({ "OPTIONS": { "QUEUE": ["Y"] } }),
                "A wrong format for the OPTIONS field 'QUEUE' is passed",
            ),
            (
                json!({ "OPTIONS": { "CHECK_PERMISSION": "fly" } }),
                "An unknown value for the OPTIONS field 'CHECK_PERMISSION' is passed",
            ),
        ] {
            let fail = err(&mut state, &webhook(), list, params);
            assert_eq!(
                (fail.code.as_str(), fail.description.as_str()),
                ("INVALID_FORMAT", text)
            );
        }

        ok(&mut state, &webhook(), delete, json!({ "CONFIG_ID": id }));
        assert_eq!(
            err(&mut state, &webhook(), get, json!({ "CONFIG_ID": id })).code,
            "CONFIG_ID_EMPTY"
        );
        let path = ok(&mut state, &webhook(), path_get, json!({}));
        assert_eq!(
            path,
            json!({ "SERVER_ADDRESS": "http://127.0.0.1:1", "PUBLIC_PATH": "/contact_center/" })
        );
        assert_eq!(
            ok(&mut state, &webhook(), revision_get, json!({}))["rest"],
            2
        );
    }

    #[test]
    fn deleting_a_line_tells_its_connectors() {
        let mut state = state();
        crate::sandbox::imopenlines::testing::customer_chat(&mut state, "u1", "");
        let (outcome, events) = crate::sandbox::imopenlines::testing::call(
            &mut state,
            &webhook(),
            delete,
            json!({ "CONFIG_ID": 1 }),
        );
        outcome.unwrap();
        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ONSESSIONFINISH",
                "ONIMCONNECTORDIALOGFINISH",
                "ONIMCONNECTORLINEDELETE"
            ]
        );
        assert_eq!(events[2].data, json!(1));
        assert!(state.openlines.activations.is_empty());
    }
}
