//! HTTP routing: `/bot{token}/{method}` and `/file/bot{token}/{path}`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use super::methods;
use super::params::Params;
use super::reply::{self, ApiError};
use super::shared::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{bot_token}/{method}", any(method))
        .route("/file/{bot_token}/{*path}", get(download))
        .fallback(|| async { ApiError::not_found() })
        .with_state(shared)
}

/// Whether the path segment is `bot` followed by this sandbox's token.
fn authorized(shared: &Shared, segment: &str) -> Result<(), ApiError> {
    match segment.strip_prefix("bot") {
        Some(token) if token == shared.token => Ok(()),
        Some(_) => Err(ApiError::unauthorized()),
        None => Err(ApiError::not_found()),
    }
}

async fn method(
    State(shared): State<Arc<Shared>>,
    Path((bot_token, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    if let Err(error) = authorized(&shared, &bot_token) {
        return error.into_response();
    }
    let result = match Params::from_request(request).await {
        Ok(params) => methods::call(&shared, &method, params).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(value) => reply::ok(value),
        Err(error) => {
            tracing::debug!(%method, code = error.code, description = %error.description, "sandbox Telegram error");
            error.into_response()
        }
    }
}

async fn download(
    State(shared): State<Arc<Shared>>,
    Path((bot_token, path)): Path<(String, String)>,
) -> Response {
    if let Err(error) = authorized(&shared, &bot_token) {
        return error.into_response();
    }
    let state = shared.lock();
    match state.files.values().find(|f| f.path == path) {
        Some(file) => {
            let mime = file
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            ([(CONTENT_TYPE, mime)], file.bytes.clone()).into_response()
        }
        None => ApiError::not_found().into_response(),
    }
}
