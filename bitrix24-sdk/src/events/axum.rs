//! An axum extractor that reads, parses and verifies an inbound event (feature `axum`).
//!
//! Put an [`EventVerifier`] in the router's state (or make it reachable with `FromRef`), and
//! take a [`VerifiedEvent`] in the handler. The extractor answers by itself when the request
//! is not a genuine event:
//!
//! | status | when |
//! |---|---|
//! | 400 Bad Request | the body cannot be read or parsed, or has no `event` name |
//! | 401 Unauthorized | verification failed (no or wrong `application_token`, unknown portal) |
//! | 413 Payload Too Large | the body is over [`EventVerifier::body_limit`] (1 MiB by default) |
//! | 415 Unsupported Media Type | neither a form nor JSON |
//!
//! Each answer has a short plain-text reason, never a token. Form bodies
//! (`application/x-www-form-urlencoded`, what Bitrix24 sends, also assumed when the type is
//! missing) and JSON bodies (the docs' rendering, handy for tests) are both read.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use axum::{Router, http::StatusCode, routing::post};
//! use bitrix24::events::axum::VerifiedEvent;
//! use bitrix24::events::{EventData, EventVerifier, MemoryApplicationTokens};
//!
//! async fn on_event(VerifiedEvent(event): VerifiedEvent) -> StatusCode {
//!     // Bitrix24 does not retry: store the event durably here and answer at once;
//!     // a worker does the slow part.
//!     match &event.data {
//!         EventData::AppInstall(_) => { /* save event.auth's tokens() */ }
//!         EventData::CrmLeadAdd(lead) => println!("lead {:?} added", lead.id()),
//!         _ => {}
//!     }
//!     StatusCode::OK
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! // Use a durable `ApplicationTokens` implementation in production.
//! let verifier = EventVerifier::new(MemoryApplicationTokens::new());
//! let app = Router::new()
//!     .route("/bitrix24/events", post(on_event))
//!     .with_state(verifier);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! For an outgoing webhook, use `EventVerifier::outgoing(token)` with the token from the
//! webhook's settings; `EventVerifier::new(store).with_outgoing(token)` accepts both kinds on
//! one route. With a larger application state, implement `FromRef<AppState>` for
//! `EventVerifier`.

use std::fmt;

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::{Event, EventVerifier, Verified};

/// An event that was parsed and verified with the state's [`EventVerifier`].
#[derive(Debug, Clone)]
pub struct VerifiedEvent(pub Event);

/// Like [`VerifiedEvent`], with how it was verified and the raw body, for handlers that
/// store the body as received (see the module documentation of `events`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedEventBody {
    /// The event.
    pub event: Event,
    /// How it passed verification.
    pub verified: Verified,
    /// The request body, as received.
    pub body: Bytes,
    /// Whether the body was JSON rather than a form.
    pub json: bool,
}

/// Why the extractor refused a request; answers with its status and a plain-text reason.
#[derive(Debug, Clone)]
pub struct EventRejection {
    status: StatusCode,
    message: String,
}

impl EventRejection {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::warn!(status = status.as_u16(), reason = %message, "inbound Bitrix24 event refused");
        Self { status, message }
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason, as sent in the body.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for EventRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for EventRejection {}

impl IntoResponse for EventRejection {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

impl<S> FromRequest<S> for VerifiedEventBody
where
    EventVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = EventRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = EventVerifier::from_ref(state);
        let json = body_is_json(request.headers())?;
        let body = read_body(request.into_body(), verifier.body_limit()).await?;
        let parsed = if json {
            Event::from_json(&body)
        } else {
            Event::from_form(&body)
        };
        let event = parsed.map_err(|error| {
            EventRejection::new(
                StatusCode::BAD_REQUEST,
                format!("not a Bitrix24 event: {error}"),
            )
        })?;
        let outcome = verifier
            .verify(&event)
            .await
            .map_err(|error| EventRejection::new(StatusCode::UNAUTHORIZED, error.to_string()))?;
        Ok(Self {
            event,
            verified: outcome,
            body,
            json,
        })
    }
}

impl<S> FromRequest<S> for VerifiedEvent
where
    EventVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = EventRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        VerifiedEventBody::from_request(request, state)
            .await
            .map(|verified| Self(verified.event))
    }
}

/// Whether the body is JSON (`true`) or a form (`false`), from `Content-Type`.
fn body_is_json(headers: &HeaderMap) -> Result<bool, EventRejection> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(false);
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" | "" => Ok(false),
        "application/json" => Ok(true),
        _ => Err(EventRejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a Bitrix24 event is sent as application/x-www-form-urlencoded",
        )),
    }
}

/// Reads the whole body, refusing more than `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, EventRejection> {
    let too_large = || {
        EventRejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an event body may not exceed {limit} bytes"),
        )
    };
    let mut stream = body.into_data_stream();
    let mut buffer = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            EventRejection::new(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
        })?;
        if buffer.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}
