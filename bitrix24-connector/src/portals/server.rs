//! `POST /bitrix24/install`: the install handler, for both kinds of install.
//!
//! - A headless install (and `ONAPPUPDATE` / `ONAPPUNINSTALL` when bound here): a lifecycle
//!   event, form-encoded → [`Portals::handle_lifecycle`] → `200 ok`.
//! - An app with a UI: the install page's POST (`AUTH_ID`, `REFRESH_ID`, …) → stored as an
//!   install → `200` with a page that calls `BX24.installFinish()`.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use bitrix24::events::{Event, parse_form};
use serde_json::Value;

use super::install_page::{self, AUTH_ID, FINISH_PAGE};
use super::{PortalError, Portals};

/// The install handler's path.
pub(crate) const INSTALL_PATH: &str = "/bitrix24/install";

/// Install bodies are a few kilobytes; this leaves room and no more.
const BODY_LIMIT: usize = 256 * 1024;

pub(crate) fn router(portals: Portals) -> Router {
    Router::new()
        .route(INSTALL_PATH, post(install))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(portals)
}

async fn install(
    State(portals): State<Portals>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    let tree = if json {
        serde_json::from_slice::<Value>(&body).map_err(|_| "the body is not JSON")
    } else {
        parse_form(&body).map_err(|_| "the body is not a form")
    };
    let Ok(Value::Object(fields)) = tree else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body is not an install request",
        );
    };

    if fields.contains_key("event") {
        let Ok(event) = Event::from_value(Value::Object(fields)) else {
            return refuse(StatusCode::BAD_REQUEST, "the event has no name");
        };
        return match portals.handle_lifecycle(&event).await {
            Ok(_) => (StatusCode::OK, "ok").into_response(),
            Err(error) => refusal(&error),
        };
    }

    if fields.contains_key(AUTH_ID) {
        let query: HashMap<String, String> = query
            .map(|query| {
                url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let installed = match install_page::to_event(&query, &fields) {
            Ok(event) => portals.install_from_event(&event).await,
            Err(error) => Err(error),
        };
        return match installed {
            Ok(_) => Html(FINISH_PAGE).into_response(),
            Err(error) => refusal(&error),
        };
    }

    refuse(
        StatusCode::BAD_REQUEST,
        "the body is neither an install event nor the install page's form",
    )
}

/// The status an install failure is answered with. Messages never carry tokens (none of the
/// errors' texts do), so the reason is sent as is.
fn refusal(error: &PortalError) -> Response {
    let status = match error {
        PortalError::NotInstalled(_) => StatusCode::UNAUTHORIZED,
        PortalError::BadInstall(_) => StatusCode::BAD_REQUEST,
        PortalError::Sdk(error) if error.is_auth() => StatusCode::UNAUTHORIZED,
        PortalError::Sdk(error) if error.is_decode() => StatusCode::BAD_REQUEST,
        PortalError::Sdk(_) => StatusCode::BAD_GATEWAY,
        PortalError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let reason = match error {
        // The member id names a customer; it stays out of replies to unknown senders.
        PortalError::NotInstalled(_) => "the app is not installed on that portal".to_owned(),
        PortalError::Store(store) => {
            tracing::error!(error = %store, "an install could not be stored");
            "the install could not be stored".to_owned()
        }
        other => other.to_string(),
    };
    refuse(status, &reason)
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    tracing::warn!(status = status.as_u16(), %reason, "Bitrix24 install request refused");
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        reason.to_owned(),
    )
        .into_response()
}
