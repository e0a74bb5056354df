//! The OAuth server: `/oauth/token/` (authorization code and refresh grants, by GET as
//! documented, POST accepted too) and `/oauth/authorize/`.
//!
//! Refresh tokens rotate: each one works once, and presenting a used one is `invalid_grant`.
//! Access tokens expire after the configured time, after which calls get 401 `expired_token`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;

use super::params::parse_query;
use super::reply::Fail;
use super::server::{Shared, error_response, json_response, lock};

/// The one application the sandbox knows.
#[derive(Debug, Clone)]
pub(crate) struct AppConfig {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) application_token: String,
    pub(crate) access_ttl: Duration,
    pub(crate) scope: String,
    pub(crate) redirect_uri: Option<Url>,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub(crate) client_id: String,
    pub(crate) user_id: u64,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct RefreshGrant {
    client_id: String,
    user_id: u64,
}

#[derive(Debug, Clone)]
struct CodeGrant {
    client_id: String,
    user_id: u64,
    expires: Instant,
}

/// Issued and used tokens.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
    codes: HashMap<String, CodeGrant>,
    pub(crate) refreshes: u64,
}

/// A fresh pair.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in: u64,
}

pub(crate) fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

impl Tokens {
    /// The grant behind an access token, or the portal's 401.
    pub(crate) fn check_access(&self, token: &str, now: Instant) -> Result<AccessGrant, Fail> {
        match self.access.get(token) {
            Some(grant) if grant.expires > now => Ok(grant.clone()),
            Some(_) => Err(Fail::new(
                401,
                "expired_token",
                "The access token provided has expired.",
            )),
            None => Err(Fail::new(401, "NO_AUTH_FOUND", "Wrong authorization data")),
        }
    }

    pub(crate) fn issue(
        &mut self,
        client_id: &str,
        user_id: u64,
        ttl: Duration,
        now: Instant,
    ) -> Issued {
        let access_token = random_token("acc");
        let refresh_token = random_token("ref");
        self.access.insert(
            access_token.clone(),
            AccessGrant {
                client_id: client_id.to_owned(),
                user_id,
                expires: now + ttl,
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            RefreshGrant {
                client_id: client_id.to_owned(),
                user_id,
            },
        );
        Issued {
            access_token,
            refresh_token,
            expires_in: ttl.as_secs(),
        }
    }

    pub(crate) fn issue_code(&mut self, client_id: &str, user_id: u64, now: Instant) -> String {
        let code = random_token("code");
        // The documented lifetime of a code: 30 seconds.
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: client_id.to_owned(),
                user_id,
                expires: now + Duration::from_secs(30),
            },
        );
        code
    }

    /// Makes every access token of `client_id` expire now (to test refresh).
    pub(crate) fn expire_access(&mut self, now: Instant) {
        for grant in self.access.values_mut() {
            grant.expires = now;
        }
    }
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({ "error": code, "error_description": description }),
    )
}

/// `/oauth/token/`.
pub(crate) async fn token(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let query = request.uri().query().unwrap_or_default().to_owned();
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body: Bytes = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let mut params = parse_query(&query);
    if is_form {
        params.extend(parse_query(&String::from_utf8_lossy(&body)));
    }
    let text = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let app = &shared.config.app;
    if text("client_id") != app.client_id || text("client_secret") != app.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials",
        );
    }
    let now = Instant::now();
    let (user_id, refreshing) = {
        let mut tokens = lock(&shared.tokens);
        match text("grant_type").as_str() {
            "authorization_code" => match tokens.codes.remove(&text("code")) {
                Some(code) if code.expires > now && code.client_id == app.client_id => {
                    (code.user_id, false)
                }
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid authorization code",
                    );
                }
            },
            "refresh_token" => {
                let presented = text("refresh_token");
                match tokens.refresh.remove(&presented) {
                    Some(grant) if grant.client_id == app.client_id => {
                        tokens.refreshes += 1;
                        (grant.user_id, true)
                    }
                    _ => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "Invalid refresh token",
                        );
                    }
                }
            }
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Unknown grant_type",
                );
            }
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        token_reply(&shared, user_id, refreshing).to_string(),
    )
        .into_response()
}

/// Issues a pair for `user_id` and describes it as the token server does.
pub(crate) fn token_reply(shared: &Shared, user_id: u64, with_expires: bool) -> Value {
    let app = &shared.config.app;
    let issued =
        lock(&shared.tokens).issue(&app.client_id, user_id, app.access_ttl, Instant::now());
    let endpoint = format!("{}rest/", shared.base_url);
    let mut reply = json!({
        "access_token": issued.access_token,
        "client_endpoint": endpoint,
        "domain": shared.base_url.host_str().unwrap_or("127.0.0.1"),
        "expires_in": issued.expires_in,
        "member_id": shared.config.member_id,
        "refresh_token": issued.refresh_token,
        "scope": app.scope,
        "server_endpoint": endpoint,
        "status": "L",
    });
    if with_expires && let Value::Object(map) = &mut reply {
        map.insert(
            "expires".into(),
            json!(shared.clock.unix_secs() + i64::try_from(issued.expires_in).unwrap_or(3600)),
        );
        map.insert("user_id".into(), json!(user_id));
    }
    reply
}

/// `/oauth/authorize/`: the user is taken as logged in (user 1) and approves at once.
pub(crate) async fn authorize(
    AxumState(shared): AxumState<Arc<Shared>>,
    request: Request,
) -> Response {
    let params = parse_query(request.uri().query().unwrap_or_default());
    let client_id = params
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let app = &shared.config.app;
    if client_id != app.client_id {
        return error_response(&Fail::bad_request("invalid_client", "Unknown application"));
    }
    let code = lock(&shared.tokens).issue_code(&app.client_id, 1, Instant::now());
    let state = params
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let domain = shared.base_url.host_str().unwrap_or("127.0.0.1").to_owned();
    let Some(redirect) = &app.redirect_uri else {
        // Apps without a redirect URI get the code shown on a page, as on the portal.
        return (StatusCode::OK, format!("code={code}")).into_response();
    };
    let mut target = redirect.clone();
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state)
        .append_pair("domain", &domain)
        .append_pair("member_id", &shared.config.member_id)
        .append_pair("scope", &app.scope)
        .append_pair("server_domain", &domain);
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}
