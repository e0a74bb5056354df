//! Bot API answers: `{"ok":true,"result":..}` and Telegram's error envelope.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Bot API error as Telegram reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) description: String,
    pub(crate) retry_after: Option<u32>,
}

impl ApiError {
    pub(crate) fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 with the `Bad Request: ` prefix Telegram puts on every validation error.
    pub(crate) fn bad_request(reason: impl AsRef<str>) -> Self {
        Self::new(400, format!("Bad Request: {}", reason.as_ref()))
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    pub(crate) fn not_found() -> Self {
        Self::new(404, "Not Found")
    }

    pub(crate) fn blocked() -> Self {
        Self::new(403, "Forbidden: bot was blocked by the user")
    }

    pub(crate) fn too_many_requests(retry_after: u32) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    pub(crate) fn conflict(reason: &str) -> Self {
        Self::new(409, format!("Conflict: {reason}"))
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": retry_after });
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

/// The success envelope.
pub(crate) fn ok(result: Value) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("ok".to_owned(), true.into());
    body.insert("result".to_owned(), result);
    Json(Value::Object(body)).into_response()
}
