//! The HTTP side of the lead intake: `POST /leads`, `GET /leads/{id}`,
//! `POST /leads/{id}/retry`, `GET /healthz`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::Notify;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::form::{FieldError, FormErrors, LeadForm, codes};
use super::settings::IntakeSettings;
use super::submissions::Submissions;
use crate::secrets::constant_time_eq;

/// The header that makes a submission idempotent.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The longest idempotency key accepted.
const MAX_KEY_LEN: usize = 200;

/// What the routes share.
#[derive(Debug, Clone)]
pub(crate) struct IntakeState {
    pub(crate) submissions: Submissions,
    pub(crate) settings: Arc<IntakeSettings>,
    pub(crate) wake: Arc<Notify>,
    pub(crate) limiter: Arc<IpLimiter>,
}

/// The routes, with the body limit and CORS applied. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the per-IP limit sees clients.
pub(crate) fn router(state: IntakeState) -> Router {
    let body_limit = state.settings.max_body_bytes;
    let cors = cors_layer(&state.settings.cors_origins);
    let router = Router::new()
        .route("/leads", post(accept))
        .route("/leads/{id}", get(status))
        .route("/leads/{id}/retry", post(redrive))
        .route("/healthz", get(health))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::POST, Method::GET])
            .allow_headers([
                header::CONTENT_TYPE,
                HeaderName::from_static(IDEMPOTENCY_KEY),
            ]),
    )
}

/// A JSON error reply.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

async fn accept(State(state): State<IntakeState>, request: Request) -> Response {
    let ip = client_ip(&request, state.settings.client_ip_header.as_deref());
    if let Some(ip) = ip
        && let Err(wait) = state.limiter.check(ip)
    {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many submissions from this address; try again later",
        );
        if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let key = match idempotency_key(request.headers()) {
        Ok(key) => key,
        Err(response) => return *response,
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > state.settings.max_body_bytes) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is too large",
        );
    }
    let form = match parse_form(request, &state.settings).await {
        Ok(form) => form,
        Err(response) => return *response,
    };
    match state.submissions.insert(&form, key.as_deref(), ip).await {
        Ok(accepted) => {
            if !accepted.replayed && !form.spam {
                state.wake.notify_one();
            }
            let mut response = (
                StatusCode::ACCEPTED,
                Json(json!({ "id": accepted.id, "status": "pending" })),
            )
                .into_response();
            if accepted.replayed {
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            response
        }
        Err(store_error) => {
            tracing::error!(error = %store_error, "a submission could not be stored");
            // Nothing was accepted: the site should try again.
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the submission could not be stored; try again",
            )
        }
    }
}

/// Reads and validates the form, JSON or multipart; a ready error reply when it is not valid.
async fn parse_form(
    request: Request,
    settings: &IntakeSettings,
) -> Result<LeadForm, Box<Response>> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let rules = &settings.form;
    let parsed = if content_type.starts_with("application/json") {
        match axum::body::to_bytes(request.into_body(), settings.max_body_bytes).await {
            Ok(body) => LeadForm::from_json(&body, rules),
            Err(_) => {
                return Err(Box::new(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the request body is too large",
                )));
            }
        }
    } else if content_type.starts_with("multipart/form-data") {
        match Multipart::from_request(request, &()).await {
            Ok(multipart) => LeadForm::from_multipart(multipart, rules).await,
            Err(rejection) => Err(FormErrors(vec![FieldError {
                field: "body".into(),
                code: codes::MALFORMED,
                message: rejection.body_text(),
            }])),
        }
    } else {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json or multipart/form-data",
        )));
    };
    match parsed {
        Ok(form) => Ok(form),
        Err(errors) => {
            let too_large = [
                codes::BODY_TOO_LARGE,
                codes::FILE_TOO_LARGE,
                codes::FILES_TOO_LARGE,
            ];
            let status = if errors.fields().iter().any(|e| too_large.contains(&e.code)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Err(Box::new((status, Json(errors)).into_response()))
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Box<Response>> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if !key.is_empty()
                && key.len() <= MAX_KEY_LEN
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_owned()))
        }
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
        ))),
    }
}

fn client_ip(request: &Request, header: Option<&str>) -> Option<IpAddr> {
    if let Some(name) = header {
        // Behind a proxy every client is the proxy: trust its header (and only when told to).
        return request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .and_then(|v| v.trim().parse().ok());
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

async fn status(State(state): State<IntakeState>, Path(id): Path<String>) -> Response {
    match state.submissions.status(&id).await {
        Ok(Some(status)) => Json(status.public()).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no submission with this id",
        ),
        Err(store_error) => {
            tracing::error!(error = %store_error, "a submission status could not be read");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "try again",
            )
        }
    }
}

async fn redrive(
    State(state): State<IntakeState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    if !is_admin(&request, state.settings.admin_token.as_deref()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an admin token is required",
        );
    }
    match state.submissions.redrive(&id).await {
        Ok(true) => {
            state.wake.notify_one();
            (
                StatusCode::ACCEPTED,
                Json(json!({ "id": id, "status": "pending" })),
            )
                .into_response()
        }
        Ok(false) => error(
            StatusCode::CONFLICT,
            "not_failed",
            "only a failed submission can be re-driven",
        ),
        Err(store_error) => {
            tracing::error!(error = %store_error, "a submission could not be re-driven");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "try again",
            )
        }
    }
}

fn is_admin(request: &Request, token: Option<&str>) -> bool {
    match token {
        Some(token) => request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes())),
        None => request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|info| info.0.ip().is_loopback()),
    }
}

async fn health(State(state): State<IntakeState>) -> Response {
    match state.submissions.counts().await {
        Ok(counts) => {
            let counts: HashMap<_, _> = counts.into_iter().collect();
            Json(json!({ "ok": true, "submissions": counts })).into_response()
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "storage fails",
        ),
    }
}

/// Submissions per client IP: a token bucket of `per_minute` places per address.
#[derive(Debug)]
pub(crate) struct IpLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl IpLimiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a place for `ip`, or says how many seconds until one frees up.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Addresses whose buckets have refilled carry no state worth keeping.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_second < capacity
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            // Whole seconds, rounded up, for Retry-After.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "small positive"
            )]
            let wait = ((1.0 - *tokens) / per_second).ceil() as u64;
            Err(wait.max(1))
        }
    }
}
