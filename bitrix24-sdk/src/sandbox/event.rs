//! Event bindings, the offline queue, and the `event.*` / `events` methods.
//!
//! Every method here needs an application context, as on the portal: outgoing webhooks are set
//! up in the portal's UI (see [`SandboxPortal::add_outgoing_webhook`](super::SandboxPortal::add_outgoing_webhook)).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::list::{ListShape, Table, list, matches, parse_filter, parse_order, parse_start};
use super::params::{Params, value_bool, value_str, value_u64};
use super::registry::{CallerKind, Ctx, Registry};
use super::reply::{Fail, Outcome, Reply};

/// Who bound a handler, which decides the `auth[...]` block of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BindingOwner {
    /// An application (`event.bind` with OAuth): full auth with tokens.
    App { client_id: String },
    /// An outgoing webhook set up in the portal's UI: a fixed application token.
    OutgoingWebhook { token: String },
}

/// One `event.bind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Binding {
    pub(crate) id: u64,
    /// Upper case, e.g. `ONCRMLEADADD`.
    pub(crate) event: String,
    pub(crate) handler: String,
    /// The user whose token goes with the event; 0 = the user who acted.
    pub(crate) auth_type: u64,
    pub(crate) offline: bool,
    pub(crate) auth_connector: Option<String>,
    pub(crate) owner: BindingOwner,
}

/// One row of the offline queue (`event.offline.get`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OfflineEvent {
    pub(crate) id: u64,
    pub(crate) timestamp: String,
    pub(crate) event_name: String,
    pub(crate) event_data: Value,
    pub(crate) message_id: String,
    pub(crate) auth_connector: Option<String>,
    /// The `process_id` that reserved it, if any.
    pub(crate) process_id: Option<String>,
    pub(crate) error: bool,
}

impl OfflineEvent {
    pub(crate) fn new(
        name: &str,
        data: &Value,
        timestamp: String,
        auth_connector: Option<String>,
    ) -> Self {
        Self {
            id: 0,
            timestamp,
            event_name: name.to_ascii_uppercase(),
            event_data: data.clone(),
            message_id: format!("{:032x}", fastrand::u128(..)),
            auth_connector,
            process_id: None,
            error: false,
        }
    }
}

/// Bindings and the offline queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct EventState {
    pub(crate) bindings: Vec<Binding>,
    pub(crate) last_binding_id: u64,
    pub(crate) offline: Vec<OfflineEvent>,
    pub(crate) last_offline_id: u64,
    /// The `options` each binding was made with (`minTimeout` of `ONOFFLINEEVENT`), by binding id.
    pub(crate) options: BTreeMap<u64, Value>,
}

impl EventState {
    /// Adds a binding and returns its id.
    pub(crate) fn bind(&mut self, mut binding: Binding) -> u64 {
        self.last_binding_id += 1;
        binding.id = self.last_binding_id;
        binding.event = binding.event.to_ascii_uppercase();
        self.bindings.push(binding);
        self.last_binding_id
    }

    /// Queues an offline event. The queue keeps the latest state per object: a newer event of
    /// the same name about the same `FIELDS.ID` replaces the unreserved older one.
    pub(crate) fn queue(&mut self, mut event: OfflineEvent) {
        let object = object_id(&event.event_data);
        if object.is_some() {
            self.offline.retain(|old| {
                old.process_id.is_some()
                    || old.event_name != event.event_name
                    || object_id(&old.event_data) != object
            });
        }
        self.last_offline_id += 1;
        event.id = self.last_offline_id;
        self.offline.push(event);
    }
}

fn object_id(data: &Value) -> Option<String> {
    let id = data.get("FIELDS")?.get("ID")?;
    Some(id.as_str().map_or_else(|| id.to_string(), str::to_owned))
}

/// Events the sandbox knows, with the scope each belongs to (empty: every app gets it). The
/// names follow the `events` method's documented list plus the open-line and connector events.
const KNOWN_EVENTS: &[(&str, &str)] = &[
    ("ONAPPUNINSTALL", ""),
    ("ONAPPINSTALL", ""),
    ("ONAPPUPDATE", ""),
    ("ONAPPPAYMENT", ""),
    ("ONAPPTEST", ""),
    ("ONAPPMETHODCONFIRM", ""),
    ("ONOFFLINEEVENT", ""),
    ("ONUSERADD", "user"),
    ("ONCRMLEADADD", "crm"),
    ("ONCRMLEADUPDATE", "crm"),
    ("ONCRMLEADDELETE", "crm"),
    ("ONCRMLEADUSERFIELDADD", "crm"),
    ("ONCRMLEADUSERFIELDUPDATE", "crm"),
    ("ONCRMLEADUSERFIELDDELETE", "crm"),
    ("ONCRMLEADUSERFIELDSETENUMVALUES", "crm"),
    ("ONCRMDEALADD", "crm"),
    ("ONCRMDEALUPDATE", "crm"),
    ("ONCRMDEALDELETE", "crm"),
    ("ONCRMDEALMOVETOCATEGORY", "crm"),
    ("ONCRMDEALUSERFIELDADD", "crm"),
    ("ONCRMDEALUSERFIELDUPDATE", "crm"),
    ("ONCRMDEALUSERFIELDDELETE", "crm"),
    ("ONCRMDEALUSERFIELDSETENUMVALUES", "crm"),
    ("ONCRMCOMPANYADD", "crm"),
    ("ONCRMCOMPANYUPDATE", "crm"),
    ("ONCRMCOMPANYDELETE", "crm"),
    ("ONCRMCOMPANYUSERFIELDADD", "crm"),
    ("ONCRMCOMPANYUSERFIELDUPDATE", "crm"),
    ("ONCRMCOMPANYUSERFIELDDELETE", "crm"),
    ("ONCRMCOMPANYUSERFIELDSETENUMVALUES", "crm"),
    ("ONCRMCONTACTADD", "crm"),
    ("ONCRMCONTACTUPDATE", "crm"),
    ("ONCRMCONTACTDELETE", "crm"),
    ("ONCRMCONTACTUSERFIELDADD", "crm"),
    ("ONCRMCONTACTUSERFIELDUPDATE", "crm"),
    ("ONCRMCONTACTUSERFIELDDELETE", "crm"),
    ("ONCRMCONTACTUSERFIELDSETENUMVALUES", "crm"),
    ("ONCRMQUOTEADD", "crm"),
    ("ONCRMQUOTEUPDATE", "crm"),
    ("ONCRMQUOTEDELETE", "crm"),
    ("ONCRMINVOICEADD", "crm"),
    ("ONCRMINVOICEUPDATE", "crm"),
    ("ONCRMINVOICEDELETE", "crm"),
    ("ONCRMINVOICESETSTATUS", "crm"),
    ("ONCRMCURRENCYADD", "crm"),
    ("ONCRMCURRENCYUPDATE", "crm"),
    ("ONCRMCURRENCYDELETE", "crm"),
    ("ONCRMPRODUCTADD", "crm"),
    ("ONCRMPRODUCTUPDATE", "crm"),
    ("ONCRMPRODUCTDELETE", "crm"),
    ("ONCRMACTIVITYADD", "crm"),
    ("ONCRMACTIVITYUPDATE", "crm"),
    ("ONCRMACTIVITYDELETE", "crm"),
    ("ONCRMREQUISITEADD", "crm"),
    ("ONCRMREQUISITEUPDATE", "crm"),
    ("ONCRMREQUISITEDELETE", "crm"),
    ("ONCRMTIMELINECOMMENTADD", "crm"),
    ("ONCRMTIMELINECOMMENTUPDATE", "crm"),
    ("ONCRMTIMELINECOMMENTDELETE", "crm"),
    ("ONCRMDYNAMICITEMADD", "crm"),
    ("ONCRMDYNAMICITEMUPDATE", "crm"),
    ("ONCRMDYNAMICITEMDELETE", "crm"),
    ("ONCRMTYPEADD", "crm"),
    ("ONCRMTYPEUPDATE", "crm"),
    ("ONCRMTYPEDELETE", "crm"),
    ("ONTASKADD", "task"),
    ("ONTASKUPDATE", "task"),
    ("ONTASKDELETE", "task"),
    ("ONTASKCOMMENTADD", "task"),
    ("ONTASKCOMMENTUPDATE", "task"),
    ("ONTASKCOMMENTDELETE", "task"),
    ("ONIMCONNECTORMESSAGEADD", "imconnector"),
    ("ONIMCONNECTORMESSAGEUPDATE", "imconnector"),
    ("ONIMCONNECTORMESSAGEDELETE", "imconnector"),
    ("ONIMCONNECTORLINEDELETE", "imconnector"),
    ("ONIMCONNECTORSTATUSDELETE", "imconnector"),
    ("ONIMCONNECTORDIALOGSTART", "imconnector"),
    ("ONIMCONNECTORDIALOGFINISH", "imconnector"),
    ("ONOPENLINEMESSAGEADD", "imopenlines"),
    ("ONOPENLINEMESSAGEUPDATE", "imopenlines"),
    ("ONOPENLINEMESSAGEDELETE", "imopenlines"),
    ("ONSESSIONSTART", "imopenlines"),
    ("ONSESSIONFINISH", "imopenlines"),
];

/// Whether `event.bind` accepts `name` (upper case): a listed event, or a smart-process event
/// with its entity type (`ONCRMDYNAMICITEMADD_147`).
pub(crate) fn is_known_event(name: &str) -> bool {
    if KNOWN_EVENTS.iter().any(|(known, _)| *known == name) {
        return true;
    }
    [
        "ONCRMDYNAMICITEMADD_",
        "ONCRMDYNAMICITEMUPDATE_",
        "ONCRMDYNAMICITEMDELETE_",
    ]
    .iter()
    .any(|prefix| {
        name.strip_prefix(prefix)
            .is_some_and(|tail| !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The portal's administrator: user 1, who owns the webhook and installs the app.
pub(crate) fn is_admin(user_id: u64) -> bool {
    user_id == 1
}

/// The calling app's client id, or the documented refusal for other callers.
fn app_of(ctx: &Ctx<'_>) -> Result<String, Fail> {
    match &ctx.caller.kind {
        CallerKind::App { client_id } => Ok(client_id.clone()),
        CallerKind::Webhook => Err(Fail::wrong_auth_type()),
    }
}

fn non_empty(params: &Params, name: &str) -> Option<String> {
    params
        .str(name)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `event_type`: `online` (default) or `offline`.
fn is_offline(params: &Params) -> bool {
    non_empty(params, "event_type").is_some_and(|t| t.eq_ignore_ascii_case("offline"))
}

fn access_denied(description: &str) -> Fail {
    Fail::new(403, "ACCESS_DENIED", description)
}

/// `event.bind`.
fn bind(ctx: &mut Ctx<'_>) -> Outcome {
    let client_id = app_of(ctx)?;
    let event = non_empty(ctx.params, "event")
        .ok_or_else(|| Fail::argument_empty("EVENT"))?
        .to_ascii_uppercase();
    let offline = is_offline(ctx.params);
    let handler = non_empty(ctx.params, "handler").unwrap_or_default();
    // Offline bindings have no handler: the app fetches the queue itself.
    if !offline && handler.is_empty() {
        return Err(Fail::argument_empty("HANDLER"));
    }
    if !is_known_event(&event) {
        return Err(Fail::bad_request(
            "ERROR_EVENT_NOT_FOUND",
            "Event not found",
        ));
    }
    let user = ctx.caller.user_id;
    let admin = is_admin(user);
    if offline && !admin {
        return Err(access_denied(
            "Access denied! Offline events binding requires administrator access rights",
        ));
    }
    let requested = ctx.params.u64("auth_type").unwrap_or(0);
    if !admin && requested != 0 && requested != user {
        return Err(access_denied(
            "Access denied! Event binding with AUTH_TYPE requires administrator access rights",
        ));
    }
    // A non-administrator's handlers always run as that user.
    let auth_type = if admin { requested } else { user };
    let auth_connector = non_empty(ctx.params, "auth_connector");
    let owner = BindingOwner::App { client_id };
    let duplicate = ctx.state.events.bindings.iter().any(|b| {
        b.owner == owner
            && b.event == event
            && b.offline == offline
            && b.auth_type == auth_type
            && if offline {
                b.auth_connector == auth_connector
            } else {
                b.handler == handler
            }
    });
    if duplicate {
        return Err(Fail::bad_request(
            "ERROR_CORE",
            "Unable to set event handler: Handler already binded",
        ));
    }
    let id = ctx.state.events.bind(Binding {
        id: 0,
        event,
        handler,
        auth_type,
        offline,
        auth_connector,
        owner,
    });
    if let Some(options) = ctx.params.get("options").filter(|o| o.is_object()) {
        ctx.state.events.options.insert(id, options.clone());
    }
    Ok(Reply::new(json!(true)))
}

/// `event.unbind`: parameters left out match every handler of the event.
fn unbind(ctx: &mut Ctx<'_>) -> Outcome {
    let client_id = app_of(ctx)?;
    let event = non_empty(ctx.params, "event")
        .ok_or_else(|| Fail::argument_empty("EVENT"))?
        .to_ascii_uppercase();
    let offline = is_offline(ctx.params);
    let handler = non_empty(ctx.params, "handler");
    // `auth_type=0` or an empty value selects the handlers bound without a user.
    let auth_type = ctx
        .params
        .get("auth_type")
        .map(|v| value_u64(v).unwrap_or(0));
    let user = ctx.caller.user_id;
    let admin = is_admin(user);
    if offline && !admin {
        return Err(access_denied(
            "Access denied! Offline events unbinding requires administrator access rights",
        ));
    }
    if !admin && auth_type.is_some_and(|a| a != 0 && a != user) {
        return Err(access_denied(
            "Access denied! Event unbinding with AUTH_TYPE requires administrator access rights",
        ));
    }
    let owner = BindingOwner::App { client_id };
    let before = ctx.state.events.bindings.len();
    let mut removed = Vec::new();
    ctx.state.events.bindings.retain(|b| {
        let hit = b.owner == owner
            && b.event == event
            && b.offline == offline
            && handler.as_ref().is_none_or(|h| *h == b.handler)
            && auth_type.is_none_or(|a| a == b.auth_type)
            // Non-administrators only ever see their own handlers.
            && (admin || b.auth_type == user);
        if hit {
            removed.push(b.id);
        }
        !hit
    });
    for id in removed {
        ctx.state.events.options.remove(&id);
    }
    let count = before - ctx.state.events.bindings.len();
    Ok(Reply::new(json!({ "count": count })))
}

/// `event.get`: the calling app's handlers.
fn get(ctx: &mut Ctx<'_>) -> Outcome {
    let owner = BindingOwner::App {
        client_id: app_of(ctx)?,
    };
    let user = ctx.caller.user_id;
    let admin = is_admin(user);
    let rows: Vec<Value> = ctx
        .state
        .events
        .bindings
        .iter()
        .filter(|b| b.owner == owner && (admin || b.auth_type == user))
        .map(|b| {
            json!({
                "event": b.event,
                "handler": b.handler,
                "auth_type": b.auth_type.to_string(),
                "offline": u8::from(b.offline),
            })
        })
        .collect();
    Ok(Reply::new(Value::Array(rows)))
}

/// `events`: the codes of the events an app can bind, of one scope (`SCOPE`) or all.
fn events(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    let scope = non_empty(ctx.params, "SCOPE").map(|s| s.to_ascii_lowercase());
    let names: Vec<Value> = KNOWN_EVENTS
        .iter()
        .filter(|(_, event_scope)| scope.as_deref().is_none_or(|s| s == *event_scope))
        .map(|(name, _)| Value::String((*name).to_owned()))
        .collect();
    Ok(Reply::new(Value::Array(names)))
}

/// `event.test`: sends `ONAPPTEST` with the call's parameters under `data[QUERY]`.
fn test(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    let query = Value::Object(ctx.params.0.clone());
    ctx.emit("ONAPPTEST", json!({ "QUERY": query, "LANGUAGE_ID": "en" }));
    Ok(Reply::new(json!(1)))
}

/// The offline methods are for administrators only.
fn require_admin(ctx: &Ctx<'_>) -> Result<(), Fail> {
    if is_admin(ctx.caller.user_id) {
        Ok(())
    } else {
        Err(access_denied("Access denied!"))
    }
}

/// A queued row as the offline methods return it. `EVENT_DATA` is the event's `data[...]`
/// (what changed, e.g. `{"FIELDS":{"ID":"7"}}`); PHP's `false` stands for no data, as in the
/// docs' examples. The sandbox records nothing additional, so `EVENT_ADDITIONAL` is `false`.
fn offline_row(event: &OfflineEvent, with_state: bool) -> Map<String, Value> {
    let data = match &event.event_data {
        Value::Null => Value::Bool(false),
        Value::Object(map) if map.is_empty() => Value::Bool(false),
        Value::Array(items) if items.is_empty() => Value::Bool(false),
        other => other.clone(),
    };
    let mut row = Map::new();
    row.insert("ID".into(), Value::String(event.id.to_string()));
    row.insert("TIMESTAMP_X".into(), Value::String(event.timestamp.clone()));
    row.insert("EVENT_NAME".into(), Value::String(event.event_name.clone()));
    row.insert("EVENT_DATA".into(), data);
    row.insert("EVENT_ADDITIONAL".into(), Value::Bool(false));
    row.insert("MESSAGE_ID".into(), Value::String(event.message_id.clone()));
    if with_state {
        row.insert(
            "PROCESS_ID".into(),
            Value::String(event.process_id.clone().unwrap_or_default()),
        );
        row.insert(
            "ERROR".into(),
            Value::String(if event.error { "1" } else { "0" }.into()),
        );
    }
    row
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let text = |v: Option<&Value>| v.and_then(value_str).unwrap_or_default();
    let (a, b) = (text(a), text(b));
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(&b),
    }
}

fn sort_rows(rows: &mut [(usize, Map<String, Value>)], order: &[(String, bool)]) {
    rows.sort_by(|(_, a), (_, b)| {
        for (name, desc) in order {
            let ordering = compare_values(
                a.get(&name.to_ascii_uppercase()),
                b.get(&name.to_ascii_uppercase()),
            );
            let ordering = if *desc { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        compare_values(a.get("ID"), b.get("ID"))
    });
}

/// `event.offline.get`: takes up to `limit` rows of the queue; `clear=0` reserves them under a
/// `process_id` (hidden from other callers) instead of deleting them.
fn offline_get(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    require_admin(ctx)?;
    let conds = parse_filter(ctx.params.get("filter"))?;
    let mut order = parse_order(ctx.params.get("order"));
    if order.is_empty() {
        order.push(("TIMESTAMP_X".into(), false));
    }
    let limit = ctx.params.u64("limit").filter(|l| *l > 0).unwrap_or(50);
    let clear = ctx.params.get("clear").and_then(value_bool).unwrap_or(true);
    let with_errors = ctx
        .params
        .get("error")
        .and_then(value_bool)
        .unwrap_or(false);
    let process_id = non_empty(ctx.params, "process_id");
    let connector = non_empty(ctx.params, "auth_connector");

    let queue = &mut ctx.state.events.offline;
    let mut rows: Vec<(usize, Map<String, Value>)> = queue
        .iter()
        .enumerate()
        .filter(|(_, e)| e.auth_connector == connector)
        .filter(|(_, e)| e.process_id.is_none() || e.process_id == process_id)
        .filter(|(_, e)| with_errors || !e.error)
        .map(|(index, e)| (index, offline_row(e, false)))
        .filter(|(_, row)| matches(row, &conds))
        .collect();
    sort_rows(&mut rows, &order);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));

    let taken: Vec<usize> = rows.iter().map(|(index, _)| *index).collect();
    let reply_process = if clear {
        let mut index = 0;
        queue.retain(|_| {
            let keep = !taken.contains(&index);
            index += 1;
            keep
        });
        process_id.map_or(Value::Null, Value::String)
    } else {
        let process = process_id.unwrap_or_else(|| format!("{:032x}", fastrand::u128(..)));
        for index in &taken {
            if let Some(event) = queue.get_mut(*index) {
                event.process_id = Some(process.clone());
            }
        }
        Value::String(process)
    };
    let events: Vec<Value> = rows
        .into_iter()
        .map(|(_, row)| Value::Object(row))
        .collect();
    let count = events.len() as u64;
    Ok(Reply::page(
        json!({ "process_id": reply_process, "events": events }),
        None,
        None,
        super::reply::Work::new(count, 0, 0),
    ))
}

/// The ids listed in an array parameter (`id[]`, `message_id[]`).
fn listed(params: &Params, name: &str) -> Option<Vec<String>> {
    match params.get(name)? {
        Value::Array(items) => Some(items.iter().filter_map(value_str).collect()),
        Value::Object(map) => Some(map.values().filter_map(value_str).collect()),
        other => value_str(other).map(|one| vec![one]),
    }
}

/// `event.offline.clear`: deletes rows reserved by `process_id` (all, or those of `id[]` /
/// `message_id[]`).
fn offline_clear(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    require_admin(ctx)?;
    let process_id =
        non_empty(ctx.params, "process_id").ok_or_else(|| Fail::argument_empty("PROCESS_ID"))?;
    let ids = listed(ctx.params, "id");
    // `message_id` is ignored when `id` is given.
    let message_ids = if ids.is_some() {
        None
    } else {
        listed(ctx.params, "message_id")
    };
    ctx.state.events.offline.retain(|e| {
        let hit = e.process_id.as_deref() == Some(process_id.as_str())
            && ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&e.id.to_string()))
            && message_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&e.message_id));
        !hit
    });
    Ok(Reply::new(json!(true)))
}

/// `event.offline.error`: marks rows of `process_id` as failed; they leave the reservation and
/// come back only with `error=1`.
fn offline_error(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    require_admin(ctx)?;
    let process_id =
        non_empty(ctx.params, "process_id").ok_or_else(|| Fail::argument_empty("PROCESS_ID"))?;
    let message_ids = listed(ctx.params, "message_id");
    for event in &mut ctx.state.events.offline {
        if event.process_id.as_deref() == Some(process_id.as_str())
            && message_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&event.message_id))
        {
            event.error = true;
            event.process_id = None;
        }
    }
    Ok(Reply::new(json!(true)))
}

/// `event.offline.list`: reads the queue without changing it, in pages of 50 with `total`.
fn offline_list(ctx: &mut Ctx<'_>) -> Outcome {
    app_of(ctx)?;
    require_admin(ctx)?;
    let conds = parse_filter(ctx.params.get("filter"))?;
    let order = parse_order(ctx.params.get("order"));
    let connector = non_empty(ctx.params, "auth_connector");
    let mut table = Table::default();
    for event in ctx
        .state
        .events
        .offline
        .iter()
        .filter(|e| e.auth_connector == connector)
    {
        table.put(event.id, offline_row(event, true));
    }
    let page = list(
        &table,
        &conds,
        &order,
        parse_start(ctx.params),
        ListShape {
            id_field: "ID",
            default_desc: false,
        },
    );
    let rows: Vec<Value> = page
        .rows
        .iter()
        .map(|row| Value::Object((*row).clone()))
        .collect();
    Ok(Reply::page(
        Value::Array(rows),
        page.total,
        page.next,
        page.work,
    ))
}

/// Registers the `event.*` methods and `events`.
pub(crate) fn register(registry: &mut Registry) {
    registry.app_only("event.bind", bind);
    registry.app_only("event.unbind", unbind);
    registry.app_only("event.get", get);
    registry.app_only("events", events);
    registry.app_only("event.test", test);
    registry.app_only("event.offline.get", offline_get);
    registry.app_only("event.offline.clear", offline_clear);
    registry.app_only("event.offline.error", offline_error);
    registry.app_only("event.offline.list", offline_list);
}

// Scenario tests read top to bottom, one portal story each.
#[cfg(test)]
#[allow(clippy::too_many_lines)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sandbox::clock::Clock;
    use crate::sandbox::registry::Caller;
    use crate::sandbox::state::State;
    use crate::sandbox::testing::{app, call, err, ok};

    #[test]
    fn bind_validates_and_refuses_duplicates() {
        let mut state = State::default();
        let admin = app(1);
        let fail = err(
            &mut state,
            &admin,
            bind,
            json!({ "event": "ONNOTHING", "handler": "http://h/" }),
        );
        assert_eq!(
            (fail.status, fail.code.as_str(), fail.description.as_str()),
            (400, "ERROR_EVENT_NOT_FOUND", "Event not found")
        );
        assert_eq!(
            err(&mut state, &admin, bind, json!({ "event": "ONCRMLEADADD" })).code,
            "ERROR_ARGUMENT"
        );
        assert_eq!(
            ok(
                &mut state,
                &admin,
                bind,
                json!({ "event": "onCrmLeadAdd", "handler": "http://h/" })
            ),
            json!(true)
        );
        let fail = err(
            &mut state,
            &admin,
            bind,
            json!({ "EVENT": "ONCRMLEADADD", "HANDLER": "http://h/" }),
        );
        assert!(
            fail.description.starts_with("Unable to set event handler"),
            "{fail:?}"
        );
        assert_eq!(
            ok(
                &mut state,
                &admin,
                bind,
                json!({ "event": "ONCRMDYNAMICITEMADD_147", "handler": "http://h/" })
            ),
            json!(true)
        );
        let webhook = Caller {
            key: "webhook:1".into(),
            user_id: 1,
            kind: CallerKind::Webhook,
        };
        assert_eq!(
            err(
                &mut state,
                &webhook,
                bind,
                json!({ "event": "ONCRMLEADADD", "handler": "http://x/" })
            )
            .code,
            "WRONG_AUTH_TYPE"
        );
        assert_eq!(state.events.bindings[0].event, "ONCRMLEADADD");
    }

    #[test]
    fn non_administrators_are_limited() {
        let mut state = State::default();
        let user = app(2);
        let fail = err(
            &mut state,
            &user,
            bind,
            json!({ "event": "ONCRMLEADADD", "event_type": "offline" }),
        );
        assert_eq!((fail.status, fail.code.as_str()), (403, "ACCESS_DENIED"));
        assert_eq!(
            err(
                &mut state,
                &user,
                bind,
                json!({ "event": "ONCRMLEADADD", "handler": "h", "auth_type": 3 })
            )
            .status,
            403
        );
        ok(
            &mut state,
            &user,
            bind,
            json!({ "event": "ONCRMLEADADD", "handler": "h" }),
        );
        assert_eq!(state.events.bindings[0].auth_type, 2);
        assert_eq!(
            err(&mut state, &user, offline_get, json!({})).description,
            "Access denied!"
        );
        ok(
            &mut state,
            &app(1),
            bind,
            json!({ "event": "ONCRMLEADADD", "handler": "h" }),
        );
        assert_eq!(
            ok(&mut state, &user, get, json!({}))
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            ok(&mut state, &app(1), get, json!({}))
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn unbind_matches_what_was_given() {
        let mut state = State::default();
        let admin = app(1);
        ok(
            &mut state,
            &admin,
            bind,
            json!({ "event": "ONCRMLEADADD", "handler": "a" }),
        );
        ok(
            &mut state,
            &admin,
            bind,
            json!({ "event": "ONCRMLEADADD", "handler": "b", "auth_type": 3 }),
        );
        ok(
            &mut state,
            &admin,
            bind,
            json!({ "event": "ONCRMLEADUPDATE", "handler": "a" }),
        );
        assert_eq!(
            ok(
                &mut state,
                &admin,
                unbind,
                json!({ "event": "ONCRMLEADADD", "auth_type": "0" })
            ),
            json!({ "count": 1 })
        );
        assert_eq!(
            ok(
                &mut state,
                &admin,
                unbind,
                json!({ "event": "ONCRMLEADADD" })
            ),
            json!({ "count": 1 })
        );
        assert_eq!(
            ok(
                &mut state,
                &admin,
                unbind,
                json!({ "event": "ONCRMLEADADD" })
            ),
            json!({ "count": 0 })
        );
        let listed = ok(&mut state, &admin, get, json!({}));
        assert_eq!(
            listed,
            json!([{ "event": "ONCRMLEADUPDATE", "handler": "a", "auth_type": "0", "offline": 0 }])
        );
    }

    #[test]
    fn events_and_test() {
        let mut state = State::default();
        let admin = app(1);
        let all = ok(&mut state, &admin, events, json!({ "FULL": true }));
        assert!(
            all.as_array()
                .unwrap()
                .contains(&json!("ONIMCONNECTORMESSAGEADD"))
        );
        assert_eq!(
            ok(&mut state, &admin, events, json!({ "SCOPE": "user" })),
            json!(["ONUSERADD"])
        );
        let (outcome, emitted) = call(&mut state, &admin, test, json!({ "any": "data" }));
        assert_eq!(outcome.unwrap().result, json!(1));
        assert_eq!(emitted[0].name, "ONAPPTEST");
        assert_eq!(emitted[0].data["QUERY"]["any"], "data");
    }

    fn queued(state: &mut State, name: &str, id: u64) {
        state.events.queue(OfflineEvent::new(
            name,
            &json!({ "FIELDS": { "ID": id } }),
            Clock::new().iso(),
            None,
        ));
    }

    #[test]
    fn offline_queue_reserves_and_clears() {
        let mut state = State::default();
        let admin = app(1);
        for id in 1..=3 {
            queued(&mut state, "ONCRMLEADADD", id);
        }
        queued(&mut state, "ONCRMLEADADD", 2);
        assert_eq!(state.events.offline.len(), 3, "latest state per object");

        let first = ok(
            &mut state,
            &admin,
            offline_get,
            json!({ "clear": 0, "limit": 2 }),
        );
        let process = first["process_id"].as_str().unwrap().to_owned();
        assert_eq!(first["events"].as_array().unwrap().len(), 2);
        assert_eq!(first["events"][0]["EVENT_DATA"]["FIELDS"]["ID"], 1);
        assert_eq!(first["events"][0]["EVENT_ADDITIONAL"], false);
        // Another process sees only the unreserved row.
        let other = ok(&mut state, &admin, offline_get, json!({ "clear": 0 }));
        assert_eq!(other["events"].as_array().unwrap().len(), 1);
        let message = first["events"][1]["MESSAGE_ID"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(
            &mut state,
            &admin,
            offline_error,
            json!({ "process_id": process, "message_id": [message] }),
        );
        let id = first["events"][0]["ID"].as_str().unwrap().to_owned();
        ok(
            &mut state,
            &admin,
            offline_clear,
            json!({ "process_id": process, "id": [id] }),
        );
        let listed = ok(
            &mut state,
            &admin,
            offline_list,
            json!({ "order": { "ID": "DESC" } }),
        );
        let rows = listed.as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["ERROR"], "1");
        assert_eq!(rows[1]["PROCESS_ID"], "");
        assert_eq!(
            ok(
                &mut state,
                &admin,
                offline_list,
                json!({ "filter": { "ERROR": 0 } })
            )
            .as_array()
            .unwrap()
            .len(),
            1
        );

        // Default clear=1 takes and deletes, and errors stay unless asked for.
        let taken = ok(
            &mut state,
            &admin,
            offline_get,
            json!({ "process_id": other["process_id"] }),
        );
        assert_eq!(taken["events"].as_array().unwrap().len(), 1);
        assert_eq!(
            ok(&mut state, &admin, offline_get, json!({}))["events"],
            json!([])
        );
        let errors = ok(&mut state, &admin, offline_get, json!({ "error": 1 }));
        assert_eq!(errors["events"].as_array().unwrap().len(), 1);
        assert_eq!(errors["process_id"], Value::Null);
        assert!(state.events.offline.is_empty());
    }

    #[test]
    fn offline_filters_and_connectors() {
        let mut state = State::default();
        let admin = app(1);
        queued(&mut state, "ONCRMLEADADD", 1);
        queued(&mut state, "ONCRMDEALADD", 1);
        state.events.queue(OfflineEvent::new(
            "ONCRMLEADADD",
            &json!({}),
            Clock::new().iso(),
            Some("src".into()),
        ));
        let got = ok(
            &mut state,
            &admin,
            offline_get,
            json!({ "filter": { "=EVENT_NAME": "ONCRMDEALADD" }, "clear": 0 }),
        );
        assert_eq!(got["events"].as_array().unwrap().len(), 1);
        let got = ok(
            &mut state,
            &admin,
            offline_get,
            json!({ "auth_connector": "src", "clear": 0 }),
        );
        assert_eq!(got["events"][0]["EVENT_DATA"], false);
        assert_eq!(
            ok(
                &mut state,
                &admin,
                offline_list,
                json!({ "auth_connector": "src" })
            )
            .as_array()
            .unwrap()
            .len(),
            1
        );
    }
}
