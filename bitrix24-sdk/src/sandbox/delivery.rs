//! Delivering events the way the portal does: a form-encoded POST with PHP-style keys to each
//! bound handler, `auth[application_token]` to verify by, no retries, no back-pressure.
//! Offline bindings queue the event instead.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::Delivery;
use super::event::{Binding, BindingOwner, OfflineEvent};
use super::oauth::random_token;
use super::registry::{Caller, Emitted};
use super::server::{Shared, flatten_form, lock};

/// Delivers `emitted` in the background, in order.
pub(crate) fn spawn(shared: Arc<Shared>, caller: Caller, emitted: Vec<Emitted>) {
    tokio::spawn(async move {
        for event in emitted {
            deliver(&shared, &caller, &event).await;
        }
    });
}

/// Delivers one event to every handler bound to it.
pub(crate) async fn deliver(shared: &Shared, caller: &Caller, event: &Emitted) {
    let (online, queued) = shared.with_state(|state| {
        let mut online = Vec::new();
        let mut queued = false;
        for binding in state.events.bindings.clone() {
            if !binding.event.eq_ignore_ascii_case(&event.name) {
                continue;
            }
            if binding.offline {
                state.events.queue(OfflineEvent::new(
                    &event.name,
                    &event.data,
                    shared.clock.iso(),
                    binding.auth_connector.clone(),
                ));
                queued = true;
            } else {
                online.push(binding);
            }
        }
        // ONOFFLINEEVENT only says "the queue has rows".
        if queued {
            online.extend(
                state
                    .events
                    .bindings
                    .iter()
                    .filter(|b| !b.offline && b.event.eq_ignore_ascii_case("ONOFFLINEEVENT"))
                    .cloned(),
            );
        }
        (online, queued)
    });
    for binding in online {
        let is_notice = queued
            && binding.event.eq_ignore_ascii_case("ONOFFLINEEVENT")
            && !event.name.eq_ignore_ascii_case("ONOFFLINEEVENT");
        let (name, data) = if is_notice {
            ("ONOFFLINEEVENT", json!({}))
        } else {
            (event.name.as_str(), event.data.clone())
        };
        post(shared, &binding, name, &data, caller.user_id).await;
    }
}

/// The `auth[...]` block for a delivery.
fn auth_block(shared: &Shared, binding: &Binding, acting_user: u64) -> Value {
    let endpoint = format!("{}rest/", shared.base_url);
    let domain = shared.base_url.host_str().unwrap_or("127.0.0.1").to_owned();
    match &binding.owner {
        BindingOwner::OutgoingWebhook { token } => json!({
            "domain": domain,
            "client_endpoint": endpoint,
            "server_endpoint": endpoint,
            "member_id": shared.config.member_id,
            "application_token": token,
        }),
        BindingOwner::App { client_id } => {
            let app = &shared.config.app;
            let user = if binding.auth_type > 0 {
                binding.auth_type
            } else {
                acting_user
            };
            let issued =
                lock(&shared.tokens).issue(client_id, user, app.access_ttl, Instant::now());
            json!({
                "access_token": issued.access_token,
                "expires": shared.clock.unix_secs() + i64::try_from(issued.expires_in).unwrap_or(3600),
                "expires_in": issued.expires_in,
                "scope": app.scope,
                "domain": domain,
                "server_endpoint": endpoint,
                "status": "L",
                "client_endpoint": endpoint,
                "member_id": shared.config.member_id,
                "user_id": user,
                "refresh_token": issued.refresh_token,
                "application_token": app.application_token,
            })
        }
    }
}

/// POSTs one event to one handler and records what happened.
pub(crate) async fn post(
    shared: &Shared,
    binding: &Binding,
    name: &str,
    data: &Value,
    acting_user: u64,
) {
    let upper = name.to_ascii_uppercase();
    let mut auth = auth_block(shared, binding, acting_user);
    // Connector events describe their scope their own way (and with a space).
    if upper.starts_with("ONIMCONNECTOR")
        && let Some(scope) = auth.get_mut("scope")
    {
        *scope = Value::from("imconnector, imopenlines");
    }
    // Open-line and connector dialog events name the handler `eventId`, not
    // `event_handler_id` (api-reference/imopenlines/openlines/events/on-session-start.md).
    let handler_key = if ["ONSESSION", "ONOPENLINE", "ONIMCONNECTORDIALOG"]
        .iter()
        .any(|p| upper.starts_with(p))
    {
        "eventId"
    } else {
        "event_handler_id"
    };
    let mut payload = json!({
        "event": upper,
        "data": data,
        "ts": shared.clock.unix_secs(),
        "auth": auth,
    });
    if let Value::Object(map) = &mut payload {
        map.insert(handler_key.to_owned(), Value::from(binding.id.to_string()));
    }
    let mut form = Vec::new();
    flatten_form("", &payload, &mut form);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let sent = shared
        .http
        .post(&binding.handler)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await;
    let (status, error) = match sent {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(error) => (None, Some(error.without_url().to_string())),
    };
    lock(&shared.deliveries).push(Delivery {
        event: name.to_ascii_uppercase(),
        handler: binding.handler.clone(),
        status,
        error,
        form,
    });
}

/// A fresh application token for an outgoing webhook.
pub(crate) fn outgoing_token() -> String {
    random_token("whk")
}
