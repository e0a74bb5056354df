//! Conformance preparation for the `crm` and `im` methods: the documented requests refer to
//! items of the docs' portal (lead 123, deal 10, comment 999, message 34239…); these create
//! such items on the sandbox, from the documented replies where the reply's shape depends on
//! the item's data, and rewrite the ids.

use serde_json::{Map, Value, json};

use super::conformance::{Env, Prepared, fixtures_dir};

/// A 1×1 GIF, as in the documented timeline-comment requests.
const GIF: &str = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==";

const OLD_ENTITIES: [&str; 4] = ["lead", "deal", "contact", "company"];

async fn call(env: &Env, method: &str, params: Value) -> Value {
    match env.webhook.call_raw::<Value>(method, params.clone()).await {
        Ok(result) => result,
        Err(error) => panic!("preparing with {method} {params}: {error}"),
    }
}

async fn create(env: &Env, method: &str, params: Value) -> u64 {
    let result = call(env, method, params).await;
    result
        .as_u64()
        .or_else(|| result["item"]["id"].as_u64())
        .unwrap_or_else(|| panic!("{method} returned {result}"))
}

/// The `result` of the documented reply of `method`.
fn documented(method: &str) -> Option<Value> {
    let path = fixtures_dir()?.join(format!("{method}.json"));
    let reply: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    reply.get("result").cloned()
}

/// Sets whichever of `keys` the request uses (the docs mix `id` and `ID`) to `id`.
fn set_id(request: &mut Value, keys: &[&str], id: u64) {
    let Some(map) = request.as_object_mut() else {
        return;
    };
    let key = keys
        .iter()
        .find(|k| map.contains_key(**k))
        .copied()
        .unwrap_or(keys[0]);
    map.insert(key.to_owned(), json!(id));
}

/// Replaces the docs' placeholders for dates (shell substitutions, `formatDate(…)`,
/// `**put_…_date_here**`) with real dates.
fn real_dates(value: &mut Value) {
    match value {
        Value::String(text) => {
            if text.starts_with("SHELL_SUBST:") && text.contains("%Y-%m-%d")
                || text.starts_with("**put_") && text.contains("date")
            {
                "2000-01-01".clone_into(text);
            } else if text.starts_with("SHELL_SUBST:") || text.starts_with("formatDate(") {
                "2030-01-10T10:00:00+00:00".clone_into(text);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(real_dates),
        Value::Object(map) => map.values_mut().for_each(real_dates),
        _ => {}
    }
}

/// A documented old-CRM row as `fields` for `crm.<entity>.add`: the multi-fields lose their ids
/// (which would address values of the docs' portal).
fn old_fields(row: &Value) -> Map<String, Value> {
    let mut fields = row.as_object().cloned().unwrap_or_default();
    fields.remove("ID");
    for value in fields.values_mut() {
        if let Value::Array(items) = value {
            for item in items.iter_mut() {
                if let Some(item) = item.as_object_mut() {
                    item.remove("ID");
                }
            }
        }
    }
    fields
}

/// Plain (`KEY: value`) conditions of a documented filter, which the created rows must meet.
fn equalities(filter: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in filter.and_then(Value::as_object).into_iter().flatten() {
        let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if plain && !value.is_array() && !value.is_object() {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// Makes `fields` meet the documented filter's LIKE conditions (`"=%NAME": "И%"`): the
/// documented `crm.contact.list` reply itself has rows that do not.
fn fit_patterns(fields: &mut Map<String, Value>, filter: Option<&Value>) {
    for (key, pattern) in filter.and_then(Value::as_object).into_iter().flatten() {
        let (Some(name), Some(pattern)) = (
            key.strip_prefix("=%").or_else(|| key.strip_prefix("%=")),
            pattern.as_str(),
        ) else {
            continue;
        };
        let current = fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("x")
            .to_owned();
        let fitted = match (pattern.strip_prefix('%'), pattern.strip_suffix('%')) {
            (Some(suffix), _)
                if !suffix.contains('%')
                    && !current.to_lowercase().ends_with(&suffix.to_lowercase()) =>
            {
                format!("{current}{suffix}")
            }
            (_, Some(prefix))
                if !prefix.contains('%')
                    && !current.to_lowercase().starts_with(&prefix.to_lowercase()) =>
            {
                format!("{prefix}{current}")
            }
            _ => current,
        };
        fields.insert(name.to_owned(), Value::String(fitted));
    }
}

/// Makes smart processes `ids` exist (the first use of a type creates it), so items show their
/// `parentId<N>` / `PARENT_ID_<N>` links as on the docs' portal.
async fn ensure_types(env: &Env, ids: impl IntoIterator<Item = u64>) {
    for id in ids {
        if id >= 128 {
            call(
                env,
                "crm.item.list",
                json!({ "entityTypeId": id, "start": -1 }),
            )
            .await;
        }
    }
}

fn parent_types(value: &Value) -> Vec<u64> {
    value
        .as_object()
        .into_iter()
        .flat_map(|map| map.keys())
        .filter_map(|key| {
            key.strip_prefix("PARENT_ID_")
                .or_else(|| key.strip_prefix("parentId"))
        })
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// An old-CRM item made from the documented `crm.<entity>.get` reply.
async fn old_item(env: &Env, entity: &str) -> u64 {
    let row =
        documented(&format!("crm.{entity}.get")).unwrap_or_else(|| json!({ "TITLE": "Prepared" }));
    ensure_types(env, parent_types(&row)).await;
    create(
        env,
        &format!("crm.{entity}.add"),
        json!({ "fields": old_fields(&row) }),
    )
    .await
}

/// An item made from a documented `crm.item.*` reply.
async fn new_item(env: &Env, entity_type_id: u64, documented_item: Option<Value>) -> u64 {
    let mut fields = documented_item.unwrap_or_else(|| json!({ "title": "Prepared" }));
    ensure_types(env, parent_types(&fields)).await;
    if let Some(map) = fields.as_object_mut() {
        map.remove("id");
        map.remove("entityTypeId");
    }
    create(
        env,
        "crm.item.add",
        json!({ "entityTypeId": entity_type_id, "fields": fields }),
    )
    .await
}

async fn deal_with_comment(env: &Env, with_files: bool) -> (u64, u64) {
    let deal = create(
        env,
        "crm.deal.add",
        json!({ "fields": { "TITLE": "Deal with comments" } }),
    )
    .await;
    let comment = comment(env, deal, with_files).await;
    (deal, comment)
}

async fn comment(env: &Env, deal: u64, with_files: bool) -> u64 {
    let mut fields =
        json!({ "ENTITY_ID": deal, "ENTITY_TYPE": "deal", "COMMENT": "New comment was added" });
    if with_files {
        fields["FILES"] = json!([["1.gif", GIF], ["2.gif", GIF]]);
    }
    create(env, "crm.timeline.comment.add", json!({ "fields": fields })).await
}

/// Gets the portal ready for the documented request of `method`.
pub(crate) async fn prepare(env: &Env, method: &str, request: &mut Value) -> Prepared {
    if method.starts_with("crm.") {
        real_dates(request);
    }
    let parts: Vec<&str> = method.split('.').collect();
    match parts.as_slice() {
        ["crm", entity, action] if OLD_ENTITIES.contains(entity) => {
            prepare_old(env, entity, action, request).await
        }
        ["crm", "item", action] => prepare_item(env, action, request).await,
        ["crm", "timeline", "comment", action] => prepare_comment(env, action, request).await,
        ["im", "message", "add"] => {
            let dialog = request["DIALOG_ID"].as_str().unwrap_or("chat1").to_owned();
            let earlier = create(
                env,
                "im.message.add",
                json!({ "DIALOG_ID": dialog, "MESSAGE": "Earlier message" }),
            )
            .await;
            set_id(request, &["REPLY_ID"], earlier);
            Prepared::Ready
        }
        ["im", "message", "update" | "delete"] => {
            let message = create(
                env,
                "im.message.add",
                json!({ "DIALOG_ID": "chat1", "MESSAGE": "To change" }),
            )
            .await;
            set_id(request, &["MESSAGE_ID"], message);
            Prepared::Ready
        }
        ["im", "notify", "delete"] => {
            let notification = create(
                env,
                "im.notify.system.add",
                json!({ "USER_ID": 1, "MESSAGE": "To delete" }),
            )
            .await;
            set_id(request, &["ID"], notification);
            Prepared::Ready
        }
        ["im", "notify", "system" | "personal", "add"] | ["crm", "duplicate", "findbycomm"] => {
            Prepared::Ready
        }
        _ => Prepared::NotMine,
    }
}

async fn prepare_old(env: &Env, entity: &str, action: &str, request: &mut Value) -> Prepared {
    match action {
        "add" => {
            // The documented photo is a placeholder, not base64.
            if let Some(photo) = request.pointer_mut("/FIELDS/PHOTO") {
                *photo = json!({ "fileData": ["photo.gif", GIF] });
            }
            Prepared::Ready
        }
        "get" | "update" | "delete" => {
            let id = old_item(env, entity).await;
            set_id(request, &["ID", "id"], id);
            Prepared::Ready
        }
        "list" => {
            let rows = documented(&format!("crm.{entity}.list"))
                .and_then(|r| r.as_array().cloned())
                .unwrap_or_default();
            let filter = request
                .get("filter")
                .or_else(|| request.get("FILTER"))
                .cloned();
            let plain = equalities(filter.as_ref());
            let start = request.get("start").and_then(Value::as_u64).unwrap_or(0);
            // Enough rows for the documented page to have one.
            let wanted = usize::try_from(start).unwrap_or(0) + rows.len().max(1);
            for index in 0..wanted {
                let mut fields = rows
                    .get(index % rows.len().max(1))
                    .map(old_fields)
                    .unwrap_or_default();
                for (key, value) in &plain {
                    fields.entry(key.clone()).or_insert_with(|| value.clone());
                }
                fit_patterns(&mut fields, filter.as_ref());
                create(
                    env,
                    &format!("crm.{entity}.add"),
                    json!({ "fields": fields }),
                )
                .await;
            }
            Prepared::Ready
        }
        _ => Prepared::Ready,
    }
}

async fn prepare_item(env: &Env, action: &str, request: &mut Value) -> Prepared {
    let entity_type_id = request["entityTypeId"].as_u64().unwrap_or(2);
    let documented_item =
        documented(&format!("crm.item.{action}")).and_then(|r| r.get("item").cloned());
    match action {
        "add" => {
            ensure_types(
                env,
                documented_item
                    .as_ref()
                    .map(parent_types)
                    .unwrap_or_default(),
            )
            .await;
            Prepared::Ready
        }
        "get" | "update" => {
            let id = new_item(env, entity_type_id, documented_item).await;
            set_id(request, &["id"], id);
            Prepared::Ready
        }
        "delete" => {
            let id = new_item(env, entity_type_id, None).await;
            set_id(request, &["id"], id);
            Prepared::Ready
        }
        "list" => {
            let items = documented("crm.item.list")
                .and_then(|r| r["items"].as_array().cloned())
                .unwrap_or_default();
            for item in items {
                new_item(env, entity_type_id, Some(item)).await;
            }
            Prepared::Ready
        }
        "fields" => {
            let fields = documented("crm.item.fields")
                .map(|r| r["fields"].clone())
                .unwrap_or_default();
            ensure_types(
                env,
                parent_types(&fields)
                    .into_iter()
                    .filter(|id| *id != entity_type_id),
            )
            .await;
            Prepared::Ready
        }
        _ => Prepared::Ready,
    }
}

async fn prepare_comment(env: &Env, action: &str, request: &mut Value) -> Prepared {
    match action {
        "add" => {
            let deal = create(
                env,
                "crm.deal.add",
                json!({ "fields": { "TITLE": "Deal to comment" } }),
            )
            .await;
            if let Some(fields) = request.get_mut("fields") {
                fields["ENTITY_ID"] = json!(deal);
            }
            Prepared::Ready
        }
        "get" | "update" => {
            let (_, comment) = deal_with_comment(env, true).await;
            set_id(request, &["id"], comment);
            Prepared::Ready
        }
        "delete" => {
            let (deal, comment) = deal_with_comment(env, true).await;
            set_id(request, &["id"], comment);
            set_id(request, &["ownerId"], deal);
            Prepared::Ready
        }
        "list" => {
            // As documented: a comment with two files, then one without.
            let (deal, _) = deal_with_comment(env, true).await;
            comment(env, deal, false).await;
            if let Some(filter) = request.get_mut("filter") {
                filter["ENTITY_ID"] = json!(deal);
            }
            Prepared::Ready
        }
        _ => Prepared::Ready,
    }
}

/// A request that provokes the documented error of `method`.
#[allow(
    clippy::unused_async,
    reason = "the harness awaits the error request of every scope"
)]
pub(crate) async fn error_request(_env: &Env, method: &str, documented: &Value) -> Option<Value> {
    let description = documented["error_description"].as_str().unwrap_or_default();
    let parts: Vec<&str> = method.split('.').collect();
    match parts.as_slice() {
        ["crm", entity, action] if OLD_ENTITIES.contains(entity) => old_error(action, description),
        ["crm", "item", "add" | "update" | "fields"] => {
            Some(json!({ "entityTypeId": 5, "id": 1, "fields": { "title": "x" } }))
        }
        ["crm", "item", "get" | "delete"] => Some(json!({ "entityTypeId": 2, "id": 999_999 })),
        ["crm", "item", "list"] => Some(json!({ "entityTypeId": 2, "filter": { "FIELD": 1 } })),
        ["crm", "timeline", "comment", action] => match *action {
            "add" => Some(
                json!({ "fields": { "ENTITY_ID": 1, "ENTITY_TYPE": "spaceship", "COMMENT": "x" } }),
            ),
            "update" => Some(json!({ "id": 999_999, "fields": { "COMMENT": "x" } })),
            "get" | "delete" => Some(json!({ "id": 999_999 })),
            "list" => Some(json!({ "filter": { "ENTITY_ID": 999_999, "ENTITY_TYPE": "deal" } })),
            // `0` / "error" stands for fatal errors of the portal itself.
            _ => None,
        },
        ["im", "message", "add"] => Some(json!({ "DIALOG_ID": "chat1", "MESSAGE": "   " })),
        ["im", "message", "update" | "delete"] | ["im", "notify", "delete"] => Some(json!({})),
        ["im", "notify", "system" | "personal", "add"] => {
            Some(json!({ "MESSAGE": "No recipient" }))
        }
        _ => None,
    }
}

/// The old CRM's documented errors, by their text (their code is always empty).
fn old_error(action: &str, description: &str) -> Option<Value> {
    match description {
        "Parameter 'fields' must be array." if action != "get" => {
            Some(json!({ "id": 1, "fields": "not an array" }))
        }
        "Parameter 'filter' must be array." => Some(json!({ "filter": "not an array" })),
        "ID is not defined or invalid." => Some(json!({ "id": 0, "fields": { "TITLE": "x" } })),
        "Not found" => Some(json!({ "id": 999_999 })),
        d if d.ends_with(" is not found") => {
            Some(json!({ "id": 999_999, "fields": { "TITLE": "x" } }))
        }
        // "Access denied." needs a user without CRM rights; the sandbox's webhook is an
        // administrator's. `crm.deal.get`'s documented "Parameter 'fields' must be array." is
        // a copy-paste slip of the docs: `get` has no `fields`.
        _ => None,
    }
}
