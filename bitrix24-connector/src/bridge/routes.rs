//! The bridge's HTTP side.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use bitrix24::events::{Event, parse_form};
use futures::TryStreamExt;
use serde_json::{Value, json};
use teloxide_core::net::Download;
use teloxide_core::requests::Requester;

use super::{Bridge, BridgeError};
use crate::secrets::{digest, hex, secret};
use crate::store::{Store, StoreError, now_ms};

/// The largest event body read (the SDK's extractor uses the same bound).
const MAX_EVENT_BYTES: usize = 1 << 20;

pub(super) async fn router(bridge: Bridge) -> Result<Router, BridgeError> {
    let mut router = Router::new()
        .route("/bridge/events", post(portal_event))
        .route("/files/{token}", get(file))
        .route("/bridge/placement", get(placement).post(placement))
        .route("/bridge/history/{chat}", get(history))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_EVENT_BYTES))
        .with_state(bridge.clone());
    if bridge.inner.settings.telegram_webhook {
        let secret = webhook_secret(&bridge.inner.store).await?;
        router = router.merge(crate::telegram::webhook::webhook_router(
            bridge.inner.inbox.clone(),
            secret,
        ));
    }
    Ok(router)
}

/// The secret Telegram sends with webhook updates, made once and kept.
pub(super) async fn webhook_secret(store: &Store) -> Result<String, StoreError> {
    let key = secret(store, "telegram_webhook_secret", 24).await?;
    // Telegram allows A-Z a-z 0-9 _ - in secret tokens.
    Ok(hex(&key))
}

/// `POST /bridge/events`: verify, store, answer. Nothing is sent anywhere before the reply.
async fn portal_event(State(bridge): State<Bridge>, body: Bytes) -> Response {
    let Ok(value) = parse_form(&body) else {
        return (StatusCode::BAD_REQUEST, "not a Bitrix24 event").into_response();
    };
    let Ok(event) = Event::from_value(value.clone()) else {
        return (StatusCode::BAD_REQUEST, "not a Bitrix24 event").into_response();
    };
    if let Err(error) = bridge.inner.portals.handle_lifecycle(&event).await {
        tracing::warn!(event = %event.name, %error, "a portal event was refused");
        return (StatusCode::UNAUTHORIZED, "not verified").into_response();
    }
    let member_id = event.member_id().unwrap_or_default().to_owned();
    match store_event(&bridge, &member_id, &event.name, &value["data"]).await {
        Ok(()) => {
            bridge.inner.wake_out.notify_one();
            (StatusCode::OK, "ok").into_response()
        }
        Err(error) => {
            tracing::error!(event = %event.name, %error, "a portal event could not be stored");
            (StatusCode::INTERNAL_SERVER_ERROR, "storage failed").into_response()
        }
    }
}

/// Splits a connector event into one stored item per message.
async fn store_event(
    bridge: &Bridge,
    member_id: &str,
    name: &str,
    data: &Value,
) -> Result<(), StoreError> {
    let events = &bridge.inner.portal_events;
    let ours = bridge.inner.settings.connector_id.to_ascii_lowercase();
    let connector = data["CONNECTOR"]
        .as_str()
        .or_else(|| data["connector"].as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match name {
        "ONIMCONNECTORMESSAGEADD" | "ONIMCONNECTORMESSAGEUPDATE" | "ONIMCONNECTORMESSAGEDELETE" => {
            if connector != ours {
                return Ok(());
            }
            let line = data["LINE"]
                .as_u64()
                .or_else(|| data["LINE"].as_str()?.parse().ok());
            let messages = match &data["MESSAGES"] {
                Value::Array(items) => items.clone(),
                // PHP-style keys that were not a list arrive as a map.
                Value::Object(map) => map.values().cloned().collect(),
                _ => Vec::new(),
            };
            for mut item in messages {
                item["_connector"] = json!(connector);
                item["_line"] = json!(line);
                let message_id = item["im"]["message_id"].to_string();
                let chat = item["chat"]["id"].as_str().map(str::to_owned);
                let key = match name {
                    "ONIMCONNECTORMESSAGEADD" => format!("{member_id}:add:{message_id}"),
                    "ONIMCONNECTORMESSAGEDELETE" => format!("{member_id}:delete:{message_id}"),
                    // Each distinct edit is its own item; the same edit sent twice is one.
                    _ => format!(
                        "{member_id}:update:{message_id}:{}",
                        digest(&item["message"]["text"].to_string())
                    ),
                };
                events
                    .insert(&key, member_id, name, &item, chat.as_deref())
                    .await?;
            }
            Ok(())
        }
        "ONIMCONNECTORLINEDELETE" | "ONIMCONNECTORSTATUSDELETE" => {
            let key = format!(
                "{member_id}:{name}:{}:{}",
                digest(&data.to_string()),
                now_ms() / 60_000
            );
            events.insert(&key, member_id, name, data, None).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `GET /files/{token}`: a customer's file, streamed from Telegram.
async fn file(State(bridge): State<Bridge>, Path(token): Path<String>) -> Response {
    let linked = match bridge.inner.signer.verify(&token, now_ms() / 1000) {
        Ok(linked) => linked,
        Err(super::links::LinkError::Expired) => {
            return (StatusCode::GONE, "the link has expired").into_response();
        }
        Err(super::links::LinkError::Invalid) => {
            return (StatusCode::NOT_FOUND, "no such file").into_response();
        }
    };
    let bot = &bridge.inner.bot;
    let file = match bot
        .get_file(teloxide_core::types::FileId(linked.file_id.clone()))
        .await
    {
        Ok(file) => file,
        Err(error) => {
            tracing::warn!(%error, "a Telegram file could not be looked up");
            return (StatusCode::BAD_GATEWAY, "Telegram did not give the file").into_response();
        }
    };
    let stream = bot
        .download_file_stream(&file.path)
        .map_err(std::io::Error::other);
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if file.size > 0
        && let Ok(length) = HeaderValue::from_str(&file.size.to_string())
    {
        headers.insert(header::CONTENT_LENGTH, length);
    }
    let disposition = format!(
        "attachment; filename*=UTF-8''{}",
        percent_encode(&linked.name)
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn percent_encode(name: &str) -> String {
    use std::fmt::Write as _;
    name.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

/// The connector's settings page the contact center opens (`PLACEMENT_HANDLER`), as a POST
/// with the admin's `AUTH_ID`, `member_id` and `PLACEMENT_OPTIONS` (`{"LINE": …}`): checks that
/// the caller is a portal administrator, then sets the connector up on that line.
async fn placement(State(bridge): State<Bridge>, body: Bytes) -> Response {
    let form = parse_form(&body).unwrap_or(Value::Null);
    let (Some(member), Some(auth)) = (form["member_id"].as_str(), form["AUTH_ID"].as_str()) else {
        return (
            StatusCode::BAD_REQUEST,
            Html(page(
                "Telegram bridge",
                "<p>Open this page from the Bitrix24 contact center.</p>",
            )),
        )
            .into_response();
    };
    match is_admin(&bridge, member, auth).await {
        Ok(true) => {}
        Ok(false) => {
            return (
                StatusCode::FORBIDDEN,
                Html(page(
                    "Telegram bridge",
                    "<p>Only a portal administrator can set the connector up.</p>",
                )),
            )
                .into_response();
        }
        Err(reason) => {
            return (
                StatusCode::UNAUTHORIZED,
                Html(page(
                    "Telegram bridge",
                    &format!("<p>{}</p>", escape(&reason)),
                )),
            )
                .into_response();
        }
    }
    let line = form["PLACEMENT_OPTIONS"]
        .as_str()
        .and_then(|o| serde_json::from_str::<Value>(o).ok())
        .or_else(|| {
            form["PLACEMENT_OPTIONS"]
                .as_object()
                .map(|o| Value::Object(o.clone()))
        })
        .and_then(|o| {
            o["LINE"]
                .as_u64()
                .or_else(|| o["LINE"].as_str()?.parse().ok())
        });
    let report = match bridge.setup_on(Some(member), line).await {
        Ok(report) => report,
        Err(error) => {
            return Html(page(
                "Telegram bridge",
                &format!("<p>Setup failed: {}</p>", escape(&error.to_string())),
            ))
            .into_response();
        }
    };
    let steps: String = report.steps.iter().fold(String::new(), |mut out, step| {
        out.push_str("<li>");
        out.push_str(&escape(step));
        out.push_str("</li>");
        out
    });
    Html(page(
        "Telegram bridge",
        &format!(
            "<p>The connector is {} on open line {}.</p><ul>{steps}</ul>",
            if report.is_ready() {
                "working"
            } else {
                "not ready"
            },
            report.line
        ),
    ))
    .into_response()
}

/// Asks the portal (`profile`, with the page's own `AUTH_ID`) whether the caller is an admin.
async fn is_admin(bridge: &Bridge, member: &str, auth: &str) -> Result<bool, String> {
    let installation = bridge
        .inner
        .portals
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
    Ok(reply["result"]["ADMIN"] == json!(true))
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /bridge/history/{chat}`: a chat's messages both ways, as JSON.
async fn history(State(bridge): State<Bridge>, Path(chat): Path<i64>) -> Response {
    match bridge.inner.history.messages(chat).await {
        Ok(messages) => axum::Json(messages).into_response(),
        Err(error) => {
            tracing::error!(%error, "history could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, "storage failed").into_response()
        }
    }
}
