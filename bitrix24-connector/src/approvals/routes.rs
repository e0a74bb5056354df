//! The flow's HTTP side: creation, the page, portal events.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use bitrix24::auth::ApplicationToken;
use bitrix24::events::{Event, parse_form};
use serde_json::{Value, json};

use super::{ApprovalError, ApprovalFlow, NewApproval, PortalAccess, page};
use crate::secrets::digest;
use crate::store::{StoreError, now_ms};

/// The largest body read.
const MAX_BODY_BYTES: usize = 1 << 20;

pub(super) async fn router(flow: ApprovalFlow) -> Result<Router, ApprovalError> {
    let mut router = Router::new()
        .route("/approvals", post(create_or_frame).get(page_get))
        .route("/approvals/events", post(portal_event))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(flow.clone());
    if flow.inner.settings.telegram_webhook {
        let secret = webhook_secret(&flow).await?;
        router = router.merge(crate::telegram::webhook::webhook_router(
            flow.inner.inbox.clone(),
            secret,
        ));
    }
    Ok(router)
}

pub(super) async fn webhook_secret(flow: &ApprovalFlow) -> Result<String, StoreError> {
    let key = crate::secrets::secret(&flow.inner.store, "approvals_webhook_secret", 24).await?;
    Ok(crate::secrets::hex(&key))
}

/// Compares secrets without revealing where they differ.
fn same(a: &str, b: &str) -> bool {
    crate::secrets::constant_time_eq(a.as_bytes(), b.as_bytes())
}

fn bearer_ok(flow: &ApprovalFlow, headers: &HeaderMap) -> bool {
    let Some(expected) = &flow.inner.settings.api_token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim(), expected))
}

/// `POST /approvals`: JSON creates an approval; a form with `AUTH_ID` is the app frame
/// opening the page.
async fn create_or_frame(
    State(flow): State<ApprovalFlow>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        let form = parse_form(&body).unwrap_or(Value::Null);
        return frame(&flow, &form, &query).await;
    }
    if !bearer_ok(&flow, &headers) {
        return (StatusCode::UNAUTHORIZED, "a valid bearer token is required").into_response();
    }
    let mut new: NewApproval = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, format!("not an approval: {error}")).into_response();
        }
    };
    if new.idempotency_key.is_none() {
        new.idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    let member = query.get("member_id").map(String::as_str);
    match flow.create(member, &new).await {
        Ok((approval, fresh)) => (
            if fresh {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            },
            axum::Json(json!({ "id": approval.id, "state": approval.state })),
        )
            .into_response(),
        Err(ApprovalError::Invalid(reason)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, reason).into_response()
        }
        Err(ApprovalError::NoPortal) => {
            (StatusCode::CONFLICT, "no single portal: pass ?member_id=").into_response()
        }
        Err(error) => {
            tracing::error!(%error, "an approval could not be stored");
            (StatusCode::SERVICE_UNAVAILABLE, "storage failed").into_response()
        }
    }
}

/// The page in the Bitrix24 app frame: `AUTH_ID` is checked against the portal (`profile`),
/// which also says who is looking, so the page can give them a Telegram link code.
async fn frame(flow: &ApprovalFlow, form: &Value, query: &HashMap<String, String>) -> Response {
    let member = form["member_id"]
        .as_str()
        .or_else(|| query.get("member_id").map(String::as_str));
    let (Some(member), Some(auth)) = (member, form["AUTH_ID"].as_str()) else {
        return (
            StatusCode::UNAUTHORIZED,
            Html(page::message("Open this page from Bitrix24.")),
        )
            .into_response();
    };
    let user = match whoami(flow, member, auth).await {
        Ok(user) => user,
        Err(reason) => {
            return (StatusCode::UNAUTHORIZED, Html(page::message(&reason))).into_response();
        }
    };
    let ttl = i64::try_from(flow.inner.settings.link_code_ttl.as_millis()).unwrap_or(i64::MAX);
    let code = match flow.inner.users.new_code(member, user, ttl).await {
        Ok(code) => Some(code),
        Err(error) => {
            tracing::error!(%error, "a link code could not be stored");
            None
        }
    };
    render(flow, query, code.as_deref()).await
}

/// The user id behind an app frame's `AUTH_ID`, asked of the portal it claims to come from.
async fn whoami(flow: &ApprovalFlow, member: &str, auth: &str) -> Result<u64, String> {
    let PortalAccess::App(portals) = &flow.inner.access else {
        return Err("this flow runs with a webhook: open the page with its key".into());
    };
    let installation = portals
        .get(member)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "this portal has not installed the app".to_owned())?;
    let url = format!(
        "{}/profile",
        installation.client_endpoint.trim_end_matches('/')
    );
    let reply: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({ "auth": auth }))
        .send()
        .await
        .map_err(|_| "the portal could not be asked who you are".to_owned())?
        .json()
        .await
        .map_err(|_| "the portal did not accept the page's credentials".to_owned())?;
    if reply.get("error").is_some() {
        return Err("the portal did not accept the page's credentials".to_owned());
    }
    reply["result"]["ID"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .or_else(|| reply["result"]["ID"].as_u64())
        .ok_or_else(|| "the portal did not say who you are".to_owned())
}

/// `GET /approvals`: the page in a browser (`?key=` when an API token is set).
async fn page_get(
    State(flow): State<ApprovalFlow>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(expected) = &flow.inner.settings.api_token
        && !query.get("key").is_some_and(|k| same(k, expected))
    {
        return (
            StatusCode::UNAUTHORIZED,
            Html(page::message("A valid ?key= is required.")),
        )
            .into_response();
    }
    render(&flow, &query, None).await
}

async fn render(
    flow: &ApprovalFlow,
    query: &HashMap<String, String>,
    code: Option<&str>,
) -> Response {
    let all = match flow.inner.approvals.list().await {
        Ok(all) => all,
        Err(error) => {
            tracing::error!(%error, "approvals could not be read");
            return (StatusCode::SERVICE_UNAVAILABLE, "storage failed").into_response();
        }
    };
    let filter = page::Filter::from_query(query);
    let shown: Vec<_> = all.into_iter().filter(|a| filter.matches(a)).collect();
    if query.get("format").map(String::as_str) == Some("csv") {
        return (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"approvals.csv\"",
                ),
            ],
            page::csv(&shown),
        )
            .into_response();
    }
    let bot = flow.inner.bot.clone();
    let username = match teloxide_core::requests::Requester::get_me(&bot).await {
        Ok(me) => me.username.clone(),
        Err(_) => None,
    };
    Html(page::html(&shown, &filter, code, username.as_deref())).into_response()
}

/// `POST /approvals/events`: verify, store, answer.
async fn portal_event(State(flow): State<ApprovalFlow>, body: Bytes) -> Response {
    let Ok(value) = parse_form(&body) else {
        return (StatusCode::BAD_REQUEST, "not a Bitrix24 event").into_response();
    };
    let Ok(event) = Event::from_value(value.clone()) else {
        return (StatusCode::BAD_REQUEST, "not a Bitrix24 event").into_response();
    };
    // Each outgoing webhook has its own token: any of the configured ones will do.
    let outgoing_ok = flow.inner.settings.outgoing_webhook_tokens().any(|token| {
        event
            .verify_outgoing(&ApplicationToken::new(token.to_owned()))
            .is_ok()
    });
    if !outgoing_ok {
        let verified = match &flow.inner.access {
            PortalAccess::App(portals) => portals.handle_lifecycle(&event).await.is_ok(),
            PortalAccess::Webhook { .. } => false,
        };
        if !verified {
            tracing::warn!(event = %event.name, "an unverified portal event was refused");
            return (StatusCode::UNAUTHORIZED, "not verified").into_response();
        }
    }
    let member_id = match (&flow.inner.access, event.member_id()) {
        (PortalAccess::Webhook { member_id, .. }, _) => member_id.clone(),
        (_, Some(member)) => member.to_owned(),
        (_, None) => return (StatusCode::BAD_REQUEST, "no member_id").into_response(),
    };
    let name = event.name.to_ascii_uppercase();
    let data = &value["data"];
    let stored = match name.as_str() {
        "ONTASKUPDATE" => {
            let id =
                id_of(&data["FIELDS_AFTER"]["ID"]).or_else(|| id_of(&data["FIELDS_BEFORE"]["ID"]));
            match id {
                // Every delivery counts (the task may change again); per task in order.
                Some(id) => {
                    store(
                        &flow,
                        &format!("{member_id}:task:{id}:{}", now_ms()),
                        &member_id,
                        &name,
                        data,
                        &format!("task:{id}"),
                    )
                    .await
                }
                None => Ok(()),
            }
        }
        "ONCRMDEALADD" | "ONCRMDEALUPDATE" | "ONCRMLEADADD" => match id_of(&data["FIELDS"]["ID"]) {
            Some(id) => {
                store(
                    &flow,
                    &format!("{member_id}:{name}:{id}:{}", now_ms()),
                    &member_id,
                    &name,
                    data,
                    &format!("crm:{id}"),
                )
                .await
            }
            None => Ok(()),
        },
        "ONUSERADD" | "ONUSERUPDATE" => {
            match id_of(&data["ID"]).or_else(|| id_of(&data["FIELDS"]["ID"])) {
                // The same change delivered to the app binding and the outgoing webhook is one.
                Some(id) => {
                    let key = format!("{member_id}:user:{id}:{}", digest(&data.to_string()));
                    store(&flow, &key, &member_id, &name, data, &format!("user:{id}")).await
                }
                None => Ok(()),
            }
        }
        _ => Ok(()),
    };
    match stored {
        Ok(()) => {
            flow.inner.wake.notify_one();
            (StatusCode::OK, "ok").into_response()
        }
        Err(error) => {
            tracing::error!(event = %name, %error, "a portal event could not be stored");
            (StatusCode::INTERNAL_SERVER_ERROR, "storage failed").into_response()
        }
    }
}

async fn store(
    flow: &ApprovalFlow,
    key: &str,
    member_id: &str,
    name: &str,
    data: &Value,
    order: &str,
) -> Result<(), StoreError> {
    flow.inner
        .events
        .insert(
            key,
            member_id,
            name,
            data,
            Some(&format!("{member_id}:{order}")),
        )
        .await?;
    Ok(())
}

pub(super) fn id_of(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str()?.trim().parse().ok())
        .filter(|id| *id > 0)
}
