//! The `user` scope: the portal's people, and the `user.*` methods.
//!
//! Users are stored sparsely, the way the portal returns them: a field the user never had is
//! left out of replies, one set to empty comes back as `""`. `ACTIVE` is a JSON boolean,
//! `IS_ONLINE` is `Y`/`N`, `UF_DEPARTMENT` a list of numbers; `user.get` sends the two
//! timestamps as `{}` (serialised date objects), `user.current` as text.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::clock::Clock;
use super::disk;
use super::list::{ListShape, Select, Table, list, parse_filter, parse_order, parse_start};
use super::params::{Params, value_bool, value_str, value_u64};
use super::registry::{Ctx, Registry};
use super::reply::{Fail, Outcome, Reply};
use super::state::State;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct UserState {
    pub(crate) users: Table,
}

/// The people every sandbox starts with: user 1 is the administrator who owns the webhook.
const SEED: [(&str, &str, &str, &str); 4] = [
    ("John", "Doe", "john.doe@example.com", "Administrator"),
    ("Anna", "Smith", "anna.smith@example.com", "Sales manager"),
    ("Ivan", "Petrov", "ivan.petrov@example.com", "Operator"),
    (
        "Maria",
        "Ivanova",
        "maria.ivanova@example.com",
        "Head of sales",
    ),
];

/// Who may add and edit other people: the portal's administrator.
const ADMIN: u64 = 1;

/// The departments of `department.get`, by name, for `user.search`'s `UF_DEPARTMENT_NAME`.
const DEPARTMENTS: [(u64, &str); 3] = [(1, "Company"), (2, "Sales"), (3, "Support")];

/// `user.fields`: every standard field and its label.
const FIELDS: &[(&str, &str)] = &[
    ("ID", "ID"),
    ("XML_ID", "External ID"),
    ("ACTIVE", "Active"),
    ("NAME", "First name"),
    ("LAST_NAME", "Last name"),
    ("SECOND_NAME", "Second name"),
    ("TITLE", "Title"),
    ("EMAIL", "E-mail"),
    ("LAST_LOGIN", "Last login"),
    ("DATE_REGISTER", "Registered on"),
    ("TIME_ZONE", "TIME_ZONE"),
    ("IS_ONLINE", "IS_ONLINE"),
    ("TIMESTAMP_X", "TIMESTAMP_X"),
    ("LAST_ACTIVITY_DATE", "LAST_ACTIVITY_DATE"),
    ("PERSONAL_GENDER", "Gender"),
    ("PERSONAL_PROFESSION", "Profession"),
    ("PERSONAL_WWW", "Personal website"),
    ("PERSONAL_BIRTHDAY", "Date of birth"),
    ("PERSONAL_PHOTO", "Photo"),
    ("PERSONAL_ICQ", "ICQ"),
    ("PERSONAL_PHONE", "Personal phone"),
    ("PERSONAL_FAX", "Fax"),
    ("PERSONAL_MOBILE", "Personal mobile"),
    ("PERSONAL_PAGER", "Pager"),
    ("PERSONAL_STREET", "Street address"),
    ("PERSONAL_CITY", "City"),
    ("PERSONAL_STATE", "Region / state"),
    ("PERSONAL_ZIP", "Zip code"),
    ("PERSONAL_COUNTRY", "Country"),
    ("PERSONAL_MAILBOX", "Mailbox"),
    ("PERSONAL_NOTES", "Additional notes"),
    ("WORK_PHONE", "Company phone"),
    ("WORK_COMPANY", "Company"),
    ("WORK_POSITION", "Position"),
    ("WORK_DEPARTMENT", "Department"),
    ("WORK_WWW", "Company website"),
    ("WORK_FAX", "WORK_FAX"),
    ("WORK_PAGER", "WORK_PAGER"),
    ("WORK_STREET", "WORK_STREET"),
    ("WORK_MAILBOX", "WORK_MAILBOX"),
    ("WORK_CITY", "Work city"),
    ("WORK_STATE", "WORK_STATE"),
    ("WORK_ZIP", "WORK_ZIP"),
    ("WORK_COUNTRY", "WORK_COUNTRY"),
    ("WORK_PROFILE", "WORK_PROFILE"),
    ("WORK_LOGO", "WORK_LOGO"),
    ("WORK_NOTES", "WORK_NOTES"),
    ("UF_SKYPE_LINK", "Skype chat link"),
    ("UF_ZOOM", "Zoom"),
    ("UF_EMPLOYMENT_DATE", "Employment date"),
    ("UF_TIMEMAN", "Time tracking"),
    ("UF_DEPARTMENT", "Departments"),
    ("UF_INTERESTS", "Interests"),
    ("UF_SKILLS", "Skills"),
    ("UF_WEB_SITES", "Other websites"),
    ("UF_XING", "Xing"),
    ("UF_LINKEDIN", "LinkedIn"),
    ("UF_TWITTER", "Twitter"),
    ("UF_SKYPE", "Skype"),
    ("UF_DISTRICT", "District"),
    ("UF_PHONE_INNER", "Extension number"),
    ("USER_TYPE", "USER_TYPE"),
];

/// Fields the portal sets itself; `user.add`/`user.update` ignore them.
const READ_ONLY: [&str; 7] = [
    "ID",
    "LAST_LOGIN",
    "DATE_REGISTER",
    "IS_ONLINE",
    "TIMESTAMP_X",
    "LAST_ACTIVITY_DATE",
    "USER_TYPE",
];

/// Parameters of `user.get`/`user.search` that are not filter keys when given at top level.
const NOT_FILTER: [&str; 9] = [
    "sort",
    "order",
    "filter",
    "admin_mode",
    "select",
    "image_resize",
    "start",
    "auth",
    "find",
];

/// `2024-07-23T08:08:50+00:00` → `2024-07-23 08:08:50`, as `LAST_ACTIVITY_DATE` is written.
fn activity_date(iso: &str) -> String {
    iso.get(..19).unwrap_or(iso).replacen('T', " ", 1)
}

/// Creates the seed users if the portal has none, and the Disk storages everyone has.
pub(crate) fn seed(state: &mut State, clock: &Clock) {
    if state.users.users.len() == 0 {
        for (index, (name, last_name, email, position)) in SEED.iter().enumerate() {
            let id = state.users.users.next_id();
            let Value::Object(row) = json!({
                "ID": id.to_string(),
                "XML_ID": format!("{}", 1000 + index),
                "ACTIVE": true,
                "NAME": name,
                "LAST_NAME": last_name,
                "SECOND_NAME": "",
                "EMAIL": email,
                "LAST_LOGIN": clock.iso(),
                "DATE_REGISTER": clock.iso(),
                "TIME_ZONE": "",
                "IS_ONLINE": if id == ADMIN { "Y" } else { "N" },
                "TIMESTAMP_X": clock.iso(),
                "LAST_ACTIVITY_DATE": activity_date(&clock.iso()),
                "PERSONAL_GENDER": "",
                "PERSONAL_WWW": "",
                "PERSONAL_BIRTHDAY": "",
                "PERSONAL_PHONE": "",
                "PERSONAL_MOBILE": format!("+7999000000{id}"),
                "PERSONAL_CITY": "",
                "WORK_PHONE": "",
                "WORK_POSITION": position,
                "UF_EMPLOYMENT_DATE": "",
                "UF_DEPARTMENT": [1],
                "USER_TYPE": "employee",
            }) else {
                continue;
            };
            state.users.users.put(id, row);
        }
    }
    disk::ensure_storages(state, clock);
}

/// A user by id, as stored.
pub(crate) fn get(state: &State, id: u64) -> Option<&Map<String, Value>> {
    state.users.users.get(id)
}

/// "First Last", or the e-mail for people who have not given a name.
pub(crate) fn display_name(state: &State, id: u64) -> String {
    let Some(user) = get(state, id) else {
        return String::new();
    };
    let text = |key: &str| {
        user.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let name = format!("{} {}", text("NAME"), text("LAST_NAME"))
        .trim()
        .to_owned();
    if name.is_empty() { text("EMAIL") } else { name }
}

/// Registers the `user.*` methods.
pub(crate) fn register(registry: &mut Registry) {
    registry.method("user.current", current);
    registry.method("user.get", user_get);
    registry.method("user.search", search);
    registry.method("user.fields", |ctx| Ok(fields(ctx)));
    registry.method("user.update", update);
    registry.method("user.add", add);
}

/// How dates go out: `user.get` serialises two of them as objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    List,
    Current,
}

fn present(row: &Map<String, Value>, select: Option<&Select>, form: Form) -> Value {
    let mut out = Map::new();
    for (key, value) in row {
        if value.is_null() || !(key == "ID" || select.is_none_or(|s| s.includes(key, false))) {
            continue;
        }
        let value = match (form, key.as_str()) {
            (Form::List, "TIMESTAMP_X" | "LAST_ACTIVITY_DATE") => json!({}),
            (Form::Current, "TIMESTAMP_X") => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

/// `user.current`.
fn current(ctx: &mut Ctx<'_>) -> Outcome {
    let row = get(ctx.state, ctx.caller.user_id)
        .ok_or_else(|| Fail::bad_request("ERROR_CORE", "access_denied"))?;
    Ok(Reply::new(present(row, None, Form::Current)))
}

/// The filter of `user.get`/`user.search`: `FILTER` plus filter keys given at top level.
fn gather_filter(params: &Params) -> Map<String, Value> {
    let mut filter = Map::new();
    if let Some(Value::Object(map)) = params.get("FILTER") {
        filter.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (key, value) in &params.0 {
        if !NOT_FILTER.iter().any(|name| name.eq_ignore_ascii_case(key)) {
            filter.insert(key.clone(), value.clone());
        }
    }
    filter
}

/// The key without its operator prefix.
fn bare(key: &str) -> &str {
    key.trim_start_matches(['!', '=', '<', '>', '@', '%'])
}

/// Rewrites the portal's special filter keys into plain conditions and lists them.
fn listing(ctx: &mut Ctx<'_>, mut filter: Map<String, Value>) -> Outcome {
    let mut rewritten = Map::new();
    let mut groups = 0u32;
    let mut typed = false;
    for (key, value) in std::mem::take(&mut filter) {
        let name = bare(&key).to_ascii_uppercase();
        match name.as_str() {
            "ACTIVE" => {
                let wanted = value_bool(&value).unwrap_or(true);
                let prefix = &key[..key.len() - bare(&key).len()];
                rewritten.insert(format!("{prefix}ACTIVE"), Value::Bool(wanted));
            }
            "NAME_SEARCH" => {
                let needle = value_str(&value).unwrap_or_default();
                let mut group = Map::new();
                group.insert("logic".into(), json!("OR"));
                for field in ["NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "WORK_POSITION"] {
                    group.insert(format!("%{field}"), Value::String(needle.clone()));
                }
                rewritten.insert(format!("{}", 1_000_000 + groups), Value::Object(group));
                groups += 1;
            }
            _ => {
                typed |= name == "USER_TYPE";
                rewritten.insert(key, value);
            }
        }
    }
    // Bots, e-mail and open-line users are left out unless asked for by type.
    if !typed {
        rewritten.insert("@USER_TYPE".into(), json!(["employee", "extranet"]));
    }
    let conds = parse_filter(Some(&Value::Object(rewritten)))?;
    let sort = ctx
        .params
        .str("sort")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ID".into());
    let direction = ctx.params.str("order").unwrap_or_else(|| "ASC".into());
    let order = parse_order(Some(&json!({ sort: direction })));
    let select = match ctx.params.get("select") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.is_empty() => None,
        Some(other) => Some(Select::parse(Some(other))),
    };
    let page = list(
        &ctx.state.users.users,
        &conds,
        &order,
        parse_start(ctx.params),
        ListShape {
            id_field: "ID",
            default_desc: false,
        },
    );
    let rows = page
        .rows
        .iter()
        .map(|row| present(row, select.as_ref(), Form::List))
        .collect();
    Ok(Reply::page(
        Value::Array(rows),
        page.total.or(Some(0)),
        page.next,
        page.work,
    ))
}

/// `user.get`.
fn user_get(ctx: &mut Ctx<'_>) -> Outcome {
    let filter = gather_filter(ctx.params);
    listing(ctx, filter)
}

/// `user.search`: `FIND` across names, e-mail and position, or `NAME`/`LAST_NAME`/
/// `WORK_POSITION`/`UF_DEPARTMENT_NAME` as substrings.
fn search(ctx: &mut Ctx<'_>) -> Outcome {
    let mut filter = gather_filter(ctx.params);
    let find = ctx
        .params
        .get("FIND")
        .or_else(|| filter.get("FIND"))
        .and_then(value_str);
    filter.remove("FIND");
    let mut out = Map::new();
    if let Some(find) = find.filter(|f| !f.trim().is_empty()) {
        let mut group = Map::new();
        group.insert("logic".into(), json!("OR"));
        for field in ["NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "WORK_POSITION"] {
            group.insert(format!("%{field}"), Value::String(find.trim().to_owned()));
        }
        out.insert("1000000".into(), Value::Object(group));
        for (key, value) in filter {
            if !matches!(
                bare(&key).to_ascii_uppercase().as_str(),
                "NAME" | "LAST_NAME" | "WORK_POSITION" | "UF_DEPARTMENT_NAME"
            ) {
                out.insert(key, value);
            }
        }
    } else {
        for (key, value) in filter {
            match key.to_ascii_uppercase().as_str() {
                "NAME" | "LAST_NAME" | "WORK_POSITION" => {
                    out.insert(format!("%{}", key.to_ascii_uppercase()), value);
                }
                "UF_DEPARTMENT_NAME" => {
                    let needle = value_str(&value).unwrap_or_default().to_lowercase();
                    let ids: Vec<u64> = DEPARTMENTS
                        .iter()
                        .filter(|(_, name)| name.to_lowercase().contains(&needle))
                        .map(|(id, _)| *id)
                        .collect();
                    // No department by that name: nobody matches.
                    out.insert(
                        "@UF_DEPARTMENT".into(),
                        if ids.is_empty() {
                            json!([0])
                        } else {
                            json!(ids)
                        },
                    );
                }
                _ => {
                    out.insert(key, value);
                }
            }
        }
    }
    listing(ctx, out)
}

/// `user.fields`: the standard fields and every user field in use.
fn fields(ctx: &mut Ctx<'_>) -> Reply {
    let mut out: Map<String, Value> = FIELDS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    for row in ctx.state.users.users.rows.values() {
        for key in row.keys().filter(|k| k.starts_with("UF_")) {
            out.entry(key.clone())
                .or_insert_with(|| Value::String(key.clone()));
        }
    }
    Reply::new(Value::Object(out))
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.contains(char::is_whitespace)
}

/// Writes top-level user fields into `row`; unknown fields other than `UF_*` are ignored, as
/// on the portal.
fn write_fields(ctx: &mut Ctx<'_>, row: &mut Map<String, Value>) -> Vec<String> {
    let mut changed = Vec::new();
    let params: Vec<(String, Value)> = ctx
        .params
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in params {
        let name = key.to_ascii_uppercase();
        let known = FIELDS.iter().any(|(field, _)| *field == name);
        if !(known || name.starts_with("UF_")) || READ_ONLY.contains(&name.as_str()) {
            continue;
        }
        let stored = match name.as_str() {
            "ACTIVE" => Value::Bool(value_bool(&value).unwrap_or(true)),
            "UF_DEPARTMENT" => {
                let items = match &value {
                    Value::Array(items) => items.iter().filter_map(value_u64).collect(),
                    other => value_u64(other).into_iter().collect::<Vec<_>>(),
                };
                json!(items)
            }
            "PERSONAL_PHOTO" => match &value {
                Value::Array(items) if items.len() >= 2 => {
                    let file_name = items
                        .first()
                        .and_then(value_str)
                        .unwrap_or_else(|| "photo.jpg".into());
                    let bytes =
                        disk::decode_base64(&items.get(1).and_then(value_str).unwrap_or_default());
                    let file_id = disk::store_blob(ctx.state, bytes);
                    let links = disk::Links::new(ctx);
                    // The portal's photo links are permanent.
                    Value::String(links.download(file_id, 0, &file_name, 0))
                }
                _ => continue,
            },
            _ => match &value {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|item| value_str(item).map_or(Value::Null, Value::String))
                        .collect(),
                ),
                Value::Null => Value::Null,
                other => value_str(other).map_or(Value::Null, Value::String),
            },
        };
        row.insert(name.clone(), stored);
        changed.push(name);
    }
    row.insert("TIMESTAMP_X".into(), Value::String(ctx.now_iso()));
    changed
}

/// The `data` of `ONUSERADD`/`ONUSERUPDATE`: the user's main fields, flat.
fn event_data(row: &Map<String, Value>, id: u64) -> Value {
    let mut data = Map::new();
    data.insert("ID".into(), json!(id));
    let active = row.get("ACTIVE").and_then(Value::as_bool).unwrap_or(true);
    data.insert("ACTIVE".into(), json!(if active { "Y" } else { "N" }));
    for key in [
        "EMAIL",
        "NAME",
        "LAST_NAME",
        "PERSONAL_GENDER",
        "PERSONAL_BIRTHDAY",
        "UF_DEPARTMENT",
        "DATE_REGISTER",
        "WORK_POSITION",
        "UF_EMPLOYMENT_DATE",
    ] {
        if let Some(value) = row.get(key).filter(|v| !v.is_null()) {
            data.insert(key.to_owned(), value.clone());
        }
    }
    Value::Object(data)
}

fn access_denied() -> Fail {
    Fail::bad_request("ERROR_CORE", "access_denied")
}

/// `user.update`: `ID` plus fields at top level; people may edit themselves, only the
/// administrator may edit others.
fn update(ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx
        .params
        .u64("ID")
        .filter(|id| *id > 0)
        .ok_or_else(|| Fail::bad_request("ERROR_CORE", ""))?;
    if ctx.caller.user_id != ADMIN && ctx.caller.user_id != id {
        return Err(access_denied());
    }
    let mut row = get(ctx.state, id).cloned().ok_or_else(access_denied)?;
    if let Some(email) = ctx.params.str("EMAIL")
        && !is_email(&email)
    {
        return Err(Fail::bad_request("ERROR_CORE", "wrong_email"));
    }
    write_fields(ctx, &mut row);
    let data = event_data(&row, id);
    ctx.state.users.users.put(id, row);
    ctx.emit("ONUSERUPDATE", data);
    Ok(Reply::new(json!(true)))
}

/// `user.add`: adds a person by e-mail; returns the new id. The sandbox has no invitation step:
/// the person counts as registered and signed in at once (hence `ONUSERADD` right away, which
/// the portal sends when an invited person completes registration).
fn add(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.caller.user_id != ADMIN {
        return Err(access_denied());
    }
    let email = ctx
        .params
        .str("EMAIL")
        .map(|e| e.trim().to_owned())
        .unwrap_or_default();
    if !is_email(&email) {
        return Err(Fail::bad_request("ERROR_ARGUMENT", "wrong_email"));
    }
    let taken = ctx.state.users.users.rows.values().any(|u| {
        u.get("EMAIL")
            .and_then(Value::as_str)
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    });
    if taken {
        return Err(Fail::bad_request(
            "ERROR_ARGUMENT",
            "Пользователь с таким email уже существует",
        ));
    }
    let extranet = ctx.params.bool("EXTRANET").unwrap_or(false);
    if extranet
        && ctx
            .params
            .get("SONET_GROUP_ID")
            .is_none_or(|v| value_str(v).is_none_or(|s| s.is_empty()) && !v.is_array())
    {
        return Err(Fail::bad_request("ERROR_GROUPID", "Не указан код группы"));
    }
    let now = ctx.now_iso();
    let id = ctx.state.users.users.next_id();
    let Value::Object(mut row) = json!({
        "ID": id.to_string(),
        "XML_ID": "",
        "ACTIVE": true,
        "NAME": "",
        "LAST_NAME": "",
        "SECOND_NAME": "",
        "EMAIL": email,
        "LAST_LOGIN": now,
        "DATE_REGISTER": now,
        "TIME_ZONE": "",
        "IS_ONLINE": "N",
        "LAST_ACTIVITY_DATE": activity_date(&now),
        "PERSONAL_GENDER": "",
        "PERSONAL_WWW": "",
        "PERSONAL_BIRTHDAY": "",
        "PERSONAL_MOBILE": "",
        "PERSONAL_CITY": "",
        "WORK_PHONE": "",
        "WORK_POSITION": "",
        "UF_EMPLOYMENT_DATE": "",
        "UF_DEPARTMENT": if extranet { json!([]) } else { json!([1]) },
        "USER_TYPE": if extranet { "extranet" } else { "employee" },
    }) else {
        return Err(Fail::bad_request("ERROR_CORE", ""));
    };
    write_fields(ctx, &mut row);
    let data = event_data(&row, id);
    ctx.state.users.users.put(id, row);
    disk::ensure_user_storage(ctx.state, id, &now);
    ctx.emit("ONUSERADD", data);
    Ok(Reply::new(json!(id)))
}

#[cfg(test)]
mod tests {
    use super::super::registry::{Caller, CallerKind, Emitted};
    use super::*;

    fn state() -> State {
        let mut state = State::default();
        seed(&mut state, &Clock::new());
        state
    }

    fn call_as(
        state: &mut State,
        user: u64,
        handler: fn(&mut Ctx<'_>) -> Outcome,
        params: Value,
    ) -> (Outcome, Vec<Emitted>) {
        let caller = Caller {
            key: "test".into(),
            user_id: user,
            kind: CallerKind::Webhook,
        };
        crate::sandbox::testing::call(state, &caller, handler, params)
    }

    fn call(state: &mut State, handler: fn(&mut Ctx<'_>) -> Outcome, params: Value) -> Outcome {
        call_as(state, 1, handler, params).0
    }

    #[test]
    fn get_filters_sorts_and_types_values() {
        let mut state = state();
        let all = call(&mut state, user_get, json!({})).unwrap();
        assert_eq!(all.total, Some(4));
        let first = &all.result[0];
        assert_eq!(first["ACTIVE"], json!(true));
        assert_eq!(first["UF_DEPARTMENT"], json!([1]));
        assert_eq!(first["TIMESTAMP_X"], json!({}));
        let desc = call(
            &mut state,
            user_get,
            json!({ "sort": "ID", "order": "DESC", "FILTER": { "!ID": 4 } }),
        )
        .unwrap();
        assert_eq!(desc.result[0]["ID"], "3");
        let top = call(
            &mut state,
            user_get,
            json!({ "NAME": "Anna", "select": ["ID", "EMAIL"] }),
        )
        .unwrap();
        assert_eq!(
            top.result,
            json!([{ "ID": "2", "EMAIL": "anna.smith@example.com" }])
        );
        let none = call(&mut state, user_get, json!({ "ACTIVE": "N" })).unwrap();
        assert_eq!(none.total, Some(0));
    }

    #[test]
    fn search_by_find_and_fields() {
        let mut state = state();
        let found = call(&mut state, search, json!({ "FILTER": { "FIND": "petr" } })).unwrap();
        assert_eq!(found.result.as_array().unwrap().len(), 1);
        let by_position = call(&mut state, search, json!({ "WORK_POSITION": "sales" })).unwrap();
        assert_eq!(by_position.total, Some(2));
        let by_department = call(
            &mut state,
            search,
            json!({ "UF_DEPARTMENT_NAME": "Support" }),
        )
        .unwrap();
        assert_eq!(by_department.total, Some(0));
    }

    #[test]
    fn update_rights_user_fields_and_events() {
        let mut state = state();
        let (outcome, emitted) = call_as(
            &mut state,
            1,
            update,
            json!({ "ID": 2, "UF_TELEGRAM_ID": 12345, "NAME": "Ann" }),
        );
        assert_eq!(outcome.unwrap().result, json!(true));
        assert_eq!(emitted[0].name, "ONUSERUPDATE");
        assert_eq!(get(&state, 2).unwrap()["UF_TELEGRAM_ID"], "12345");
        let denied = call_as(&mut state, 2, update, json!({ "ID": 3, "NAME": "X" }))
            .0
            .unwrap_err();
        assert_eq!(
            (denied.code.as_str(), denied.description.as_str()),
            ("ERROR_CORE", "access_denied")
        );
        assert!(
            call_as(&mut state, 2, update, json!({ "ID": 2, "NAME": "Me" }))
                .0
                .is_ok()
        );
        assert_eq!(
            call(&mut state, update, json!({ "ID": 99 }))
                .unwrap_err()
                .description,
            "access_denied"
        );
        let labels = call(&mut state, |ctx| Ok(fields(ctx)), json!({}))
            .unwrap()
            .result;
        assert_eq!(labels["UF_TELEGRAM_ID"], "UF_TELEGRAM_ID");
    }

    #[test]
    fn add_validates_and_creates_storage() {
        let mut state = state();
        assert_eq!(
            call(&mut state, add, json!({ "EMAIL": "nope" }))
                .unwrap_err()
                .description,
            "wrong_email"
        );
        let (outcome, emitted) = call_as(
            &mut state,
            1,
            add,
            json!({ "EMAIL": "new@example.com", "NAME": "New" }),
        );
        let id = outcome.unwrap().result.as_u64().unwrap();
        assert_eq!(emitted[0].name, "ONUSERADD");
        assert_eq!(emitted[0].data["ID"], json!(id));
        assert!(call(&mut state, add, json!({ "EMAIL": "NEW@example.com" })).is_err());
        let storages = state
            .disk
            .storages
            .rows
            .values()
            .filter(|s| value_u64(&s["ENTITY_ID"]) == Some(id))
            .count();
        assert_eq!(storages, 1);
        let current = call_as(&mut state, 1, current, json!({})).0.unwrap().result;
        assert!(current["LAST_ACTIVITY_DATE"].is_string() && current.get("TIMESTAMP_X").is_none());
    }
}
