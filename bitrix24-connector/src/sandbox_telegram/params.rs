//! Request parameters from any of the encodings the Bot API accepts: query string,
//! URL-encoded form, JSON body, `multipart/form-data` (text fields and uploaded files).

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::reply::ApiError;

/// A file part of a multipart request.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) file_name: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) bytes: Bytes,
}

/// Parameters by name. Values from forms are strings, so the getters accept a JSON value or
/// its text form, like Telegram does.
#[derive(Debug, Default)]
pub(crate) struct Params {
    fields: Map<String, Value>,
    uploads: HashMap<String, Upload>,
}

impl Params {
    /// Reads every parameter of `request`.
    pub(crate) async fn from_request(request: Request) -> Result<Self, ApiError> {
        let mut params = Self::default();
        if let Some(query) = request.uri().query() {
            params.add_form(query.as_bytes());
        }
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(request, &())
                .await
                .map_err(|_| ApiError::bad_request("invalid multipart body"))?;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|_| ApiError::bad_request("invalid multipart body"))?
            {
                let Some(name) = field.name().map(str::to_owned) else {
                    continue;
                };
                let file_name = field.file_name().map(str::to_owned);
                let field_type = field.content_type().map(str::to_owned);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| ApiError::bad_request("invalid multipart body"))?;
                if file_name.is_some() {
                    params.uploads.insert(
                        name,
                        Upload {
                            file_name,
                            content_type: field_type,
                            bytes,
                        },
                    );
                } else {
                    params
                        .fields
                        .insert(name, String::from_utf8_lossy(&bytes).into_owned().into());
                }
            }
            return Ok(params);
        }
        let body = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024)
            .await
            .map_err(|_| ApiError::bad_request("request body is too big"))?;
        if body.is_empty() {
            return Ok(params);
        }
        if content_type.starts_with("application/json") {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => params.fields.extend(map),
                _ => return Err(ApiError::bad_request("can't parse JSON object")),
            }
        } else {
            params.add_form(&body);
        }
        Ok(params)
    }

    fn add_form(&mut self, form: &[u8]) {
        for (key, value) in url::form_urlencoded::parse(form) {
            self.fields
                .insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.fields.get(key).is_some_and(|v| !v.is_null())
    }

    /// A string parameter; numbers are accepted in their decimal form.
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// An integer parameter; a present value that is not an integer is a 400.
    pub(crate) fn i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("invalid {key}"))),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid {key} specified"))),
            Some(_) => Err(ApiError::bad_request(format!("invalid {key} specified"))),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> bool {
        match self.fields.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// A structured parameter (`reply_markup`, `reply_parameters`, `allowed_updates`): forms
    /// carry it as serialized JSON text.
    pub(crate) fn json(&self, key: &str) -> Result<Option<Value>, ApiError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("can't parse {key} JSON object"))),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// The uploaded part with this name (`attach://name` or the field itself).
    pub(crate) fn upload(&self, name: &str) -> Option<&Upload> {
        self.uploads.get(name)
    }
}
