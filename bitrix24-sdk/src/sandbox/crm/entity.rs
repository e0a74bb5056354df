//! The old CRM entities (`crm.lead.*`, `crm.deal.*`, `crm.contact.*`, `crm.company.*`): one
//! engine, four schemas. Rows are stored sparsely and read back with every field of the
//! schema, `null` where unset, numbers and dates as strings, as the portal returns them.

use serde_json::{Map, Value, json};

use super::super::list::{
    Cond, ListShape, Select, Table, list, parse_filter, parse_order, parse_start,
};
use super::super::params::{value_str, value_u64};
use super::super::registry::Ctx;
use super::super::reply::{Fail, Outcome, Reply};
use super::CrmState;
use super::files::{self, FileOwner};

/// A field of a schema, as `crm.*.fields` describes it.
#[derive(Debug, Clone, Copy)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one flag per attribute `.fields` reports"
)]
pub(crate) struct FieldDef {
    pub(crate) name: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) title: &'static str,
    pub(crate) multiple: bool,
    pub(crate) read_only: bool,
    pub(crate) required: bool,
    pub(crate) status_type: Option<&'static str>,
    /// `isDeprecated` in `.fields` (the single `CONTACT_ID` of leads and deals).
    pub(crate) deprecated: bool,
    /// `settings` in `.fields`, as JSON text (`{"parentEntityTypeId":4}` for links).
    pub(crate) settings: Option<&'static str>,
}

/// A shorthand for schema tables.
pub(crate) const fn field(name: &'static str, kind: &'static str, title: &'static str) -> FieldDef {
    FieldDef {
        name,
        kind,
        title,
        multiple: false,
        read_only: false,
        required: false,
        status_type: None,
        deprecated: false,
        settings: None,
    }
}

impl FieldDef {
    pub(crate) const fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    pub(crate) const fn multiple(mut self) -> Self {
        self.multiple = true;
        self
    }

    pub(crate) const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) const fn status(mut self, status_type: &'static str) -> Self {
        self.status_type = Some(status_type);
        self
    }

    pub(crate) const fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    pub(crate) const fn settings(mut self, settings: &'static str) -> Self {
        self.settings = Some(settings);
        self
    }

    fn is_date(&self) -> bool {
        matches!(self.kind, "date" | "datetime")
    }

    fn is_multifield(&self) -> bool {
        self.kind == "crm_multifield"
    }
}

/// One old-CRM entity type.
#[derive(Debug)]
pub(crate) struct Entity {
    /// `lead`, `deal`, `contact`, `company`.
    pub(crate) name: &'static str,
    pub(crate) schema: &'static [FieldDef],
    /// Values set on add when the caller left them out.
    pub(crate) defaults: &'static [(&'static str, &'static str)],
    pub(crate) table: fn(&mut CrmState) -> &mut Table,
}

impl Entity {
    /// `Lead`, `Deal`, `Contact`, `Company`.
    pub(crate) fn title(&self) -> String {
        let mut chars = self.name.chars();
        chars
            .next()
            .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    }

    fn event(&self, action: &str) -> String {
        format!("ONCRM{}{action}", self.name.to_ascii_uppercase())
    }

    fn def(&self, name: &str) -> Option<&FieldDef> {
        self.schema
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// Stores a value as the portal returns it: numbers as strings, doubles with two decimals.
fn stored(def: Option<&FieldDef>, value: &Value) -> Value {
    match (def.map(|d| d.kind), value) {
        (_, Value::Null) => Value::Null,
        (Some("double"), v) => match value_str(v).and_then(|s| s.parse::<f64>().ok()) {
            Some(n) => Value::String(format!("{n:.2}")),
            None => v.clone(),
        },
        (Some("char"), Value::Bool(b)) => Value::String(if *b { "Y" } else { "N" }.into()),
        (_, Value::Number(n)) => Value::String(n.to_string()),
        (_, Value::Array(items)) => Value::Array(items.iter().map(|i| stored(None, i)).collect()),
        (_, v) => v.clone(),
    }
}

/// Applies multi-field changes: an item without `ID` adds; `{ID, VALUE}` changes;
/// `{ID, DELETE: "Y"}`, `{ID, VALUE: ""}` or a bare `{ID}` deletes.
fn apply_multifield(current: &mut Vec<Value>, type_id: &str, changes: &Value, last_id: &mut u64) {
    let items: Vec<&Value> = match changes {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => map.values().collect(),
        _ => return,
    };
    for item in items {
        let Some(item) = item.as_object() else {
            continue;
        };
        let get = |key: &str| {
            item.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        };
        let value = get("VALUE").and_then(value_str);
        let value_type = get("VALUE_TYPE").and_then(value_str);
        match get("ID").and_then(value_u64) {
            None => {
                let Some(value) = value.filter(|v| !v.is_empty()) else {
                    continue;
                };
                *last_id += 1;
                current.push(json!({
                    "ID": last_id.to_string(),
                    "VALUE_TYPE": value_type.unwrap_or_else(|| "WORK".into()),
                    "VALUE": value,
                    "TYPE_ID": type_id,
                }));
            }
            Some(id) => {
                let position = current
                    .iter()
                    .position(|v| v.get("ID").and_then(value_u64) == Some(id));
                let delete = get("DELETE")
                    .and_then(value_str)
                    .is_some_and(|d| d.eq_ignore_ascii_case("Y"))
                    || value.as_deref().is_none_or(str::is_empty);
                match (position, delete) {
                    (Some(at), true) => {
                        current.remove(at);
                    }
                    (Some(at), false) => {
                        if let Some(Value::Object(existing)) = current.get_mut(at) {
                            existing
                                .insert("VALUE".into(), Value::String(value.unwrap_or_default()));
                            if let Some(value_type) = value_type {
                                existing.insert("VALUE_TYPE".into(), Value::String(value_type));
                            }
                        }
                    }
                    (None, _) => {}
                }
            }
        }
    }
}

/// Stores a file field's value (`{"fileData": [name, base64]}`, a list of them, `{id}` to keep,
/// `""` to clear) and returns `true`, or returns `false` when `value` is not a file value.
fn write_file(
    entity: &Entity,
    crm: &mut CrmState,
    row: &mut Map<String, Value>,
    field: &str,
    value: &Value,
) -> bool {
    let text = |key: &str| row.get(key).and_then(value_str).unwrap_or_default();
    let (created, author) = (text("DATE_MODIFY"), text("MODIFY_BY_ID"));
    let owner = FileOwner {
        kind: entity.name,
        owner_id: row.get("ID").and_then(value_u64).unwrap_or_default(),
        field,
        created: &created,
        author_id: author.parse().unwrap_or_default(),
    };
    match files::write_value(crm, value, row.get(field), &owner) {
        Some(Value::Null) => {
            row.remove(field);
            true
        }
        Some(stored) => {
            row.insert(field.to_owned(), stored);
            true
        }
        None => false,
    }
}

/// Writes `fields` into `row`, ignoring unknown and read-only fields as the portal does.
fn write_fields(
    entity: &Entity,
    crm: &mut CrmState,
    row: &mut Map<String, Value>,
    fields: &Map<String, Value>,
) {
    for (name, value) in fields {
        let upper = name.to_ascii_uppercase();
        if upper.starts_with("UF_") {
            if !write_file(entity, crm, row, &upper, value) {
                row.insert(upper, stored(None, value));
            }
            continue;
        }
        if let Some(parent) = upper
            .strip_prefix("PARENT_ID_")
            .filter(|n| n.parse::<u64>().is_ok())
        {
            match value_u64(value).filter(|id| *id > 0) {
                Some(id) => {
                    row.insert(format!("PARENT_ID_{parent}"), Value::String(id.to_string()))
                }
                None => row.remove(&upper),
            };
            continue;
        }
        let Some(def) = entity.def(&upper) else {
            continue;
        };
        if def.read_only {
            continue;
        }
        if def.kind == "file" {
            write_file(entity, crm, row, def.name, value);
            continue;
        }
        if def.is_multifield() {
            let mut current = match row.remove(def.name) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            apply_multifield(&mut current, def.name, value, &mut crm.last_multifield_id);
            if !current.is_empty() {
                row.insert(def.name.to_owned(), Value::Array(current));
            }
            continue;
        }
        row.insert(def.name.to_owned(), stored(Some(def), value));
    }
    // A new stage brings its semantics along, as on the portal.
    for (stage, semantic) in [
        ("STATUS_ID", "STATUS_SEMANTIC_ID"),
        ("STAGE_ID", "STAGE_SEMANTIC_ID"),
    ] {
        let written = fields.keys().any(|k| k.eq_ignore_ascii_case(stage));
        if written && entity.def(semantic).is_some() {
            let value = row.get(stage).and_then(value_str).unwrap_or_default();
            let semantics = super::item::stage_semantics(entity.name == "lead", &value);
            row.insert(semantic.to_owned(), Value::String(semantics.to_owned()));
            if entity.def("CLOSED").is_some() {
                row.insert(
                    "CLOSED".into(),
                    Value::String(if semantics == "P" { "N" } else { "Y" }.into()),
                );
            }
        }
    }
    for (flag, multi) in [
        ("HAS_PHONE", "PHONE"),
        ("HAS_EMAIL", "EMAIL"),
        ("HAS_IMOL", "IM"),
    ] {
        if entity.def(flag).is_some() {
            let has = row
                .get(multi)
                .and_then(Value::as_array)
                .is_some_and(|items| !items.is_empty());
            row.insert(
                flag.to_owned(),
                Value::String(if has { "Y" } else { "N" }.into()),
            );
        }
    }
    if entity.name == "lead" {
        // A lead bound to an existing contact or company is a "repeat lead": the portal derives
        // the read-only IS_RETURN_CUSTOMER from the binding.
        let bound = ["CONTACT_ID", "COMPANY_ID"].iter().any(|field| {
            row.get(*field)
                .and_then(value_str)
                .is_some_and(|id| id.parse::<u64>().is_ok_and(|id| id > 0))
        });
        row.insert(
            "IS_RETURN_CUSTOMER".into(),
            Value::String(if bound { "Y" } else { "N" }.into()),
        );
    }
}

/// A stored row as the portal returns it: every field of `select`, `null` where unset (an empty
/// string for dates, as in the documented `crm.lead.get` reply), and a `PARENT_ID_<N>` for
/// every smart process in `parents` and every one the row is linked to.
fn present(entity: &Entity, row: &Map<String, Value>, select: &Select, parents: &[u64]) -> Value {
    let mut out = Map::new();
    for def in entity.schema {
        if def.name == "ID" || select.includes(def.name, def.is_multifield()) {
            if def.is_multifield() && !row.contains_key(def.name) {
                // Unset multi-fields are left out, not `null`.
                continue;
            }
            let unset = if def.is_date() {
                Value::String(String::new())
            } else {
                Value::Null
            };
            out.insert(
                def.name.to_owned(),
                row.get(def.name).cloned().unwrap_or(unset),
            );
        }
    }
    for parent in parents {
        let name = format!("PARENT_ID_{parent}");
        if select.includes(&name, false) {
            out.insert(name.clone(), row.get(&name).cloned().unwrap_or(Value::Null));
        }
    }
    for (name, value) in row {
        if (name.starts_with("UF_") || name.starts_with("PARENT_ID_"))
            && select.includes(name, false)
        {
            out.insert(name.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// The smart processes that exist: each is a possible parent, shown as `PARENT_ID_<N>`.
fn parents(crm: &CrmState) -> Vec<u64> {
    crm.dynamic.keys().copied().collect()
}

fn everything() -> Select {
    Select::parse(None)
}

/// `crm.<entity>.add`.
pub(crate) fn add(entity: &Entity, ctx: &mut Ctx<'_>) -> Outcome {
    let fields = ctx.params.require_object("fields")?.clone();
    for def in entity.schema.iter().filter(|d| d.required) {
        let missing = fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(def.name))
            .is_none_or(|(_, v)| value_str(v).is_none_or(|s| s.is_empty()) && !v.is_array());
        if missing {
            return Err(Fail::bad_request(
                "",
                format!("Required fields are not filled: {}.", def.title),
            ));
        }
    }
    if let Some(email) = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("EMAIL"))
        .map(|(_, v)| v)
    {
        for item in email.as_array().into_iter().flatten() {
            let value = item.get("VALUE").and_then(value_str).unwrap_or_default();
            if !(value.is_empty() || value.contains('@') && value.contains('.')) {
                return Err(Fail::bad_request(
                    "ERROR_CORE",
                    format!("Invalid email address: {value}<br>"),
                ));
            }
        }
    }
    let now = ctx.now_iso();
    let user = ctx.caller.user_id.to_string();
    let crm = &mut ctx.state.crm;
    let id = (entity.table)(crm).next_id();
    let mut row = Map::new();
    row.insert("ID".into(), Value::String(id.to_string()));
    for (name, value) in entity.defaults {
        row.insert((*name).to_owned(), Value::String((*value).to_owned()));
    }
    let stamps = [
        ("DATE_CREATE", &now),
        ("DATE_MODIFY", &now),
        ("CREATED_BY_ID", &user),
        ("MODIFY_BY_ID", &user),
        ("ASSIGNED_BY_ID", &user),
        ("MOVED_BY_ID", &user),
        ("MOVED_TIME", &now),
        ("LAST_ACTIVITY_BY", &user),
        ("LAST_ACTIVITY_TIME", &now),
    ];
    for (name, value) in stamps {
        if entity.def(name).is_some() {
            row.insert(name.to_owned(), Value::String(value.clone()));
        }
    }
    write_fields(entity, crm, &mut row, &fields);
    (entity.table)(crm).put(id, row);
    ctx.emit(&entity.event("ADD"), json!({ "FIELDS": { "ID": id } }));
    Ok(Reply::new(json!(id)))
}

/// `crm.<entity>.get`.
pub(crate) fn get(entity: &Entity, ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx.params.require_id("id")?;
    let parents = parents(&ctx.state.crm);
    let row = (entity.table)(&mut ctx.state.crm)
        .get(id)
        .ok_or_else(Fail::crm_not_found)?;
    let mut all = present(entity, row, &everything(), &parents);
    // `get` returns multi-fields and user fields without being asked.
    if let Value::Object(out) = &mut all {
        for def in entity.schema.iter().filter(|d| d.is_multifield()) {
            if let Some(value) = row.get(def.name) {
                out.insert(def.name.to_owned(), value.clone());
            }
        }
        for (name, value) in row.iter().filter(|(k, _)| k.starts_with("UF_")) {
            out.insert(name.clone(), value.clone());
        }
    }
    Ok(Reply::new(all))
}

/// Drops conditions on fields the entity does not have: the old list methods ignore unknown
/// filter keys (the documented `crm.contact.list` example filters by `IMPORT`, which contacts do
/// not have, and still gets contacts back).
fn known_conditions(entity: &Entity, conds: Vec<Cond>) -> Vec<Cond> {
    conds
        .into_iter()
        .filter_map(|cond| match cond {
            Cond::Field { field, op, value } => {
                let known =
                    entity.def(&field).is_some() || field.to_ascii_uppercase().starts_with("UF_");
                known.then_some(Cond::Field { field, op, value })
            }
            Cond::Group { any, conds } => Some(Cond::Group {
                any,
                conds: known_conditions(entity, conds),
            }),
        })
        .collect()
}

/// `crm.<entity>.list`.
pub(crate) fn list_rows(entity: &Entity, ctx: &mut Ctx<'_>) -> Outcome {
    let conds = known_conditions(entity, parse_filter(ctx.params.get("filter"))?);
    let order = parse_order(ctx.params.get("order"));
    let select = Select::parse(ctx.params.get("select"));
    let start = parse_start(ctx.params);
    let parents = parents(&ctx.state.crm);
    let table = (entity.table)(&mut ctx.state.crm);
    let page = list(
        table,
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
        .map(|row| present(entity, row, &select, &parents))
        .collect();
    // With `start=-1` the documented reply carries `total: 0` and no `next`.
    let total = page.total.or(Some(0));
    Ok(Reply::page(Value::Array(rows), total, page.next, page.work))
}

/// `crm.<entity>.update`.
pub(crate) fn update(entity: &Entity, ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx.params.require_id("id")?;
    let fields = ctx.params.require_object("fields")?.clone();
    let now = ctx.now_iso();
    let user = ctx.caller.user_id.to_string();
    let crm = &mut ctx.state.crm;
    // The old update methods name the entity: "Company is not found" (crm-company-update.md).
    let mut row = (entity.table)(crm)
        .remove(id)
        .ok_or_else(|| Fail::bad_request("", format!("{} is not found", entity.title())))?;
    write_fields(entity, crm, &mut row, &fields);
    row.insert("DATE_MODIFY".into(), Value::String(now));
    row.insert("MODIFY_BY_ID".into(), Value::String(user));
    (entity.table)(crm).put(id, row);
    ctx.emit(&entity.event("UPDATE"), json!({ "FIELDS": { "ID": id } }));
    Ok(Reply::new(json!(true)))
}

/// `crm.<entity>.delete`.
pub(crate) fn delete(entity: &Entity, ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx.params.require_id("id")?;
    (entity.table)(&mut ctx.state.crm)
        .remove(id)
        .ok_or_else(Fail::crm_not_found)?;
    super::timeline::forget_owner(&mut ctx.state.crm, entity.name, id);
    ctx.emit(&entity.event("DELETE"), json!({ "FIELDS": { "ID": id } }));
    Ok(Reply::new(json!(true)))
}

/// `crm.<entity>.fields`.
#[allow(
    clippy::unnecessary_wraps,
    reason = "every method handler returns an `Outcome`"
)]
pub(crate) fn fields(entity: &Entity, ctx: &mut Ctx<'_>) -> Outcome {
    let mut out = Map::new();
    for def in entity.schema {
        let mut desc = json!({
            "type": def.kind,
            "isRequired": def.required,
            "isReadOnly": def.read_only,
            "isImmutable": false,
            "isMultiple": def.multiple || def.is_multifield(),
            "isDynamic": false,
            "title": def.title,
        });
        if let Value::Object(map) = &mut desc {
            if let Some(status_type) = def.status_type {
                map.insert("statusType".into(), Value::String(status_type.to_owned()));
            }
            if def.deprecated {
                map.insert("isDeprecated".into(), Value::Bool(true));
            }
            if let Some(settings) = def
                .settings
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
            {
                map.insert("settings".into(), settings);
            }
        }
        out.insert(def.name.to_owned(), desc);
    }
    for (parent, smart_process) in &ctx.state.crm.dynamic {
        out.insert(
            format!("PARENT_ID_{parent}"),
            json!({
                "type": "crm_entity",
                "isRequired": false,
                "isReadOnly": false,
                "isImmutable": false,
                "isMultiple": false,
                "isDynamic": false,
                "title": smart_process.title,
                "settings": { "parentEntityTypeId": parent },
            }),
        );
    }
    Ok(Reply::new(Value::Object(out)))
}

/// Stores a row directly, bypassing events (test setup).
#[cfg(test)]
pub(crate) fn put_raw(entity: &Entity, crm: &mut CrmState, id: u64, fields: &Map<String, Value>) {
    let mut row = Map::new();
    row.insert("ID".into(), Value::String(id.to_string()));
    write_fields(entity, crm, &mut row, fields);
    (entity.table)(crm).put(id, row);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multifield_semantics() {
        let mut items = Vec::new();
        let mut last = 0;
        apply_multifield(
            &mut items,
            "PHONE",
            &json!([{ "VALUE": "1", "VALUE_TYPE": "WORK" }, { "VALUE": "2" }]),
            &mut last,
        );
        assert_eq!(items.len(), 2);
        apply_multifield(
            &mut items,
            "PHONE",
            &json!([{ "ID": "1", "VALUE": "11" }, { "VALUE": "3" }]),
            &mut last,
        );
        assert_eq!(
            items
                .iter()
                .map(|i| i["VALUE"].as_str().unwrap())
                .collect::<Vec<_>>(),
            vec!["11", "2", "3"]
        );
        apply_multifield(
            &mut items,
            "PHONE",
            &json!([{ "ID": 2, "DELETE": "Y" }, { "ID": "3" }]),
            &mut last,
        );
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["TYPE_ID"], "PHONE");
    }
}
