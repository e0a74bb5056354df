//! OAuth 2.0 for Bitrix24 applications: the authorize redirect, its callback, and the token server.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::ACCEPT;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::secret::{AccessToken, ClientSecret, RefreshToken, constant_time_eq};
use crate::error::{ApiError, Error, ErrorKind, Result};

/// The token server every cloud portal uses.
const DEFAULT_TOKEN_URL: &str = "https://oauth.bitrix24.tech/oauth/token/";

/// An OAuth application registered on a portal or in the Bitrix24 partner area: its
/// `client_id`, `client_secret` and the token server it talks to.
///
/// Its `Debug` shows the client id and the token URL; the client secret is redacted.
#[derive(Clone)]
pub struct OAuthApp {
    client_id: String,
    client_secret: ClientSecret,
    token_url: Url,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("token_url", &self.token_url.as_str())
            .finish()
    }
}

impl OAuthApp {
    /// Describes an application that uses the cloud token server
    /// `https://oauth.bitrix24.tech/oauth/token/`.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<ClientSecret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_url: default_token_url(),
        }
    }

    /// Uses another token server, for example an on-premise portal's `/oauth/token/` or a test
    /// server.
    #[must_use]
    pub fn with_token_url(mut self, token_url: Url) -> Self {
        self.token_url = token_url;
        self
    }

    /// The application's `client_id`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token server's URL.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The application's `client_secret`.
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }

    /// Builds `https://{portal}/oauth/authorize/?client_id=…&state=…`, where to send the user
    /// to grant the application access.
    ///
    /// `portal` is a host name (`example.bitrix24.ru`, optionally with a port) or a URL
    /// (`https://example.bitrix24.ru/`, whose path is ignored). No `redirect_uri` is sent: the
    /// portal redirects to the one set in the application's settings.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `portal` is neither a host name nor an `http(s)` URL.
    pub fn authorize_url(&self, portal: &str, state: &CsrfState) -> Result<Url> {
        let mut url = portal_base(portal)?;
        url.set_path("/oauth/authorize/");
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("state", state.as_str());
        Ok(url)
    }

    /// GET `oauth/token/` with `grant_type=authorization_code`: trades the `code` from an
    /// [`AuthorizationCallback`] for a token pair.
    ///
    /// The code is valid for 30 seconds, so call this as soon as the callback arrives. `http`
    /// should not follow redirects.
    ///
    /// # Errors
    /// - [`ErrorKind::Auth`] (with [`Error::api`]) if the token server refuses the request,
    ///   for example `invalid_grant` for an expired or used code.
    /// - [`ErrorKind::Transport`], [`ErrorKind::Timeout`] or a retryable [`ErrorKind::Api`]
    ///   (HTTP 5xx) if the token server could not be reached or failed.
    /// - [`ErrorKind::Decode`] if the reply is not a token reply.
    pub async fn exchange_code(&self, http: &reqwest::Client, code: &str) -> Result<TokenSet> {
        self.request_token(http, "authorization_code", ("code", code))
            .await
    }

    /// GET `oauth/token/` with `grant_type=refresh_token`: gets a new token pair.
    ///
    /// The token server rotates the refresh token: once this succeeds, `refresh_token` is dead,
    /// so save the returned pair before using it.
    ///
    /// # Errors
    /// - [`ErrorKind::Auth`] (with [`Error::api`]) if the token server refuses the request;
    ///   `invalid_grant` means the refresh token is dead and the user must authorize again.
    /// - [`ErrorKind::Transport`], [`ErrorKind::Timeout`] or a retryable [`ErrorKind::Api`]
    ///   (HTTP 5xx) if the token server could not be reached or failed.
    /// - [`ErrorKind::Decode`] if the reply is not a token reply.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &RefreshToken,
    ) -> Result<TokenSet> {
        self.request_token(
            http,
            "refresh_token",
            ("refresh_token", refresh_token.expose_secret()),
        )
        .await
    }

    async fn request_token(
        &self,
        http: &reqwest::Client,
        grant_type: &'static str,
        grant: (&str, &str),
    ) -> Result<TokenSet> {
        let mut url = self.token_url.clone();
        url.query_pairs_mut()
            .append_pair("grant_type", grant_type)
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose_secret())
            .append_pair(grant.0, grant.1);

        let response = http
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| Error::transport(error, false))?;
        let status = response.status();
        tracing::debug!(
            grant_type,
            status = status.as_u16(),
            "OAuth token server answered"
        );
        let body = response
            .bytes()
            .await
            .map_err(|error| Error::transport(error, false))?;

        let json = serde_json::from_slice::<Value>(&body).ok();
        if let Some(api) = json
            .as_ref()
            .and_then(|json| token_error(json, status.as_u16()))
        {
            // A server-side failure dressed as an OAuth error (say `internal_error` with a 503)
            // may pass; refusals of the credentials themselves will not.
            if status.is_server_error() && api.kind() != ErrorKind::Auth {
                return Err(Error::from_api(api));
            }
            return Err(Error::auth("token request refused", Some(api)));
        }
        if !status.is_success() {
            return Err(Error::from_api(ApiError::new(
                "",
                format!("token server answered HTTP {}", status.as_u16()),
                status.as_u16(),
            )));
        }
        match json {
            Some(json) => TokenSet::from_token_response(&json, SystemTime::now()),
            None => Err(Error::decode("token server reply is not JSON", None)),
        }
    }
}

fn default_token_url() -> Url {
    match Url::parse(DEFAULT_TOKEN_URL) {
        Ok(url) => url,
        Err(_) => unreachable!("the default token URL is a valid URL"),
    }
}

/// Turns a portal given as a host or a URL into `scheme://host[:port]/`.
fn portal_base(portal: &str) -> Result<Url> {
    let invalid = || {
        Error::invalid_input(
            "portal must be a host name such as `example.bitrix24.ru` or an http(s) URL",
        )
    };
    let portal = portal.trim();
    let url = if portal.contains("://") {
        Url::parse(portal).map_err(|_| invalid())?
    } else {
        if portal.is_empty()
            || portal.contains(['/', '?', '#', '@', '\\'])
            || portal.contains(char::is_whitespace)
        {
            return Err(invalid());
        }
        Url::parse(&format!("https://{portal}/")).map_err(|_| invalid())?
    };
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(invalid());
    }
    let mut base = url;
    base.set_path("/");
    base.set_query(None);
    base.set_fragment(None);
    Ok(base)
}

/// Reads `{"error": …, "error_description": …}`; `None` if the reply is not an OAuth error.
fn token_error(json: &Value, http_status: u16) -> Option<ApiError> {
    let code = json
        .get("error")?
        .as_str()
        .filter(|code| !code.is_empty())?;
    let description = json
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(ApiError::new(code, description, http_status))
}

/// The opaque `state` sent with the authorize redirect and checked when the user comes back,
/// so that a callback cannot be forged by another site.
///
/// Keep it in the user's session between the redirect and the callback. Its `Debug` is
/// redacted.
#[derive(Clone)]
pub struct CsrfState(String);

impl fmt::Debug for CsrfState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfState([redacted])")
    }
}

impl CsrfState {
    /// A fresh state: 32 bytes from the operating system's secure random source, hex-encoded.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the system's random source is unavailable (it never is
    /// on the systems Rust supports in practice, but a predictable state would be worse than
    /// an error).
    pub fn new_random() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes)
            .map_err(|_| Error::config("the operating system's random source is unavailable"))?;
        Ok(Self(bytes.iter().fold(
            String::with_capacity(64),
            |mut hex, byte| {
                hex.push(char::from(HEX[usize::from(byte >> 4)]));
                hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
                hex
            },
        )))
    }

    /// A state kept from an earlier [`new_random`](Self::new_random), for example in a session.
    pub fn from_stored(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The state's value, to put in the session and the authorize URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `received` (the callback's `state`) is this state; compared in constant time.
    pub fn matches(&self, received: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), received.as_bytes())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The query a portal sends to the application's redirect URI after the user authorizes it:
/// `code`, `state`, `domain`, `member_id`, `scope`, `server_domain`.
///
/// Its `Debug` redacts the code and the state.
#[derive(Clone)]
#[non_exhaustive]
pub struct AuthorizationCallback {
    /// The authorization code, valid for 30 seconds; see [`OAuthApp::exchange_code`].
    pub code: String,
    /// The `state` given to [`OAuthApp::authorize_url`]; see [`verify_state`](Self::verify_state).
    pub state: Option<String>,
    /// The portal's host, for example `example.bitrix24.ru`.
    pub domain: String,
    /// The portal's unique id.
    pub member_id: Option<String>,
    /// The scopes granted to the application.
    pub scope: Vec<String>,
    /// The token server's host, for example `oauth.bitrix24.tech`.
    pub server_domain: Option<String>,
}

impl fmt::Debug for AuthorizationCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCallback")
            .field("code", &"[redacted]")
            .field("state", &self.state.as_ref().map(|_| "[redacted]"))
            .field("domain", &self.domain)
            .field("member_id", &self.member_id)
            .field("scope", &self.scope)
            .field("server_domain", &self.server_domain)
            .finish()
    }
}

impl AuthorizationCallback {
    /// Parses the callback's query string (with or without the leading `?`), percent-decoding
    /// its values.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `code` or `domain` is missing or empty.
    pub fn from_query(query: &str) -> Result<Self> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut code = None;
        let mut state = None;
        let mut domain = None;
        let mut member_id = None;
        let mut scope = None;
        let mut server_domain = None;
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut code,
                "state" => &mut state,
                "domain" => &mut domain,
                "member_id" => &mut member_id,
                "scope" => &mut scope,
                "server_domain" => &mut server_domain,
                _ => continue,
            };
            // The first occurrence wins, so a parameter appended later cannot override it.
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value.into_owned());
            }
        }
        Ok(Self {
            code: code
                .ok_or_else(|| Error::invalid_input("authorization callback has no `code`"))?,
            state,
            domain: domain
                .ok_or_else(|| Error::invalid_input("authorization callback has no `domain`"))?,
            member_id,
            scope: scope.as_deref().map(split_scope).unwrap_or_default(),
            server_domain,
        })
    }

    /// Checks the callback's `state` against the one kept since the redirect, in constant time.
    ///
    /// # Errors
    /// [`ErrorKind::Auth`] if the callback has no `state` or a different one.
    pub fn verify_state(&self, expected: &CsrfState) -> Result<()> {
        match &self.state {
            None => Err(Error::auth("authorization callback has no `state`", None)),
            Some(received) if expected.matches(received) => Ok(()),
            Some(_) => Err(Error::auth(
                "authorization callback `state` does not match",
                None,
            )),
        }
    }
}

/// An OAuth token pair and what the token server sent with it.
///
/// It serializes to JSON for [`TokenStore`](super::TokenStore)s, with `expires_at` in unix
/// seconds. Its `Debug` redacts both tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token, valid for about an hour.
    pub access_token: AccessToken,
    /// The refresh token; each refresh replaces it.
    pub refresh_token: RefreshToken,
    /// When the access token expires, if known.
    #[serde(default, with = "unix_seconds")]
    pub expires_at: Option<SystemTime>,
    /// The portal's unique id.
    #[serde(default)]
    pub member_id: Option<String>,
    /// The portal's REST endpoint, for example `https://example.bitrix24.ru/rest/`.
    #[serde(default, with = "optional_url")]
    pub client_endpoint: Option<Url>,
    /// The token server's REST endpoint, for example `https://oauth.bitrix24.tech/rest/`.
    #[serde(default, with = "optional_url")]
    pub server_endpoint: Option<Url>,
    /// The `domain` the token server reported (its own host for token replies, the portal's
    /// host in event `auth` blocks).
    #[serde(default)]
    pub domain: Option<String>,
    /// The scopes granted to the application.
    #[serde(default)]
    pub scope: Vec<String>,
    /// The id of the user the tokens act for, when the server says.
    #[serde(default)]
    pub user_id: Option<u64>,
    /// The application's status: `F` free, `D` demo, `T` trial, `P` paid, `L` local, `S`
    /// subscription.
    #[serde(default)]
    pub status: Option<String>,
}

impl TokenSet {
    /// A token pair with nothing else known.
    pub fn new(
        access_token: impl Into<AccessToken>,
        refresh_token: impl Into<RefreshToken>,
    ) -> Self {
        Self {
            access_token: access_token.into(),
            refresh_token: refresh_token.into(),
            expires_at: None,
            member_id: None,
            client_endpoint: None,
            server_endpoint: None,
            domain: None,
            scope: Vec::new(),
            user_id: None,
            status: None,
        }
    }

    /// Sets when the access token expires.
    #[must_use]
    pub fn with_expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the portal's REST endpoint.
    #[must_use]
    pub fn with_client_endpoint(mut self, url: Url) -> Self {
        self.client_endpoint = Some(url);
        self
    }

    /// Sets the portal's unique id.
    #[must_use]
    pub fn with_member_id(mut self, id: impl Into<String>) -> Self {
        self.member_id = Some(id.into());
        self
    }

    /// Whether the access token has expired at `now`; `false` when its expiry is unknown.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Reads a token server's reply: the JSON object with `access_token`, `refresh_token`,
    /// `expires`, `expires_in`, `member_id`, `client_endpoint`, `server_endpoint`, `domain`,
    /// `scope`, `user_id` and `status`.
    ///
    /// `expires` (unix seconds) wins over `expires_in` (seconds from `now`). Numbers may come as
    /// strings, and `scope` is split on commas and whitespace. Events and the install callback
    /// carry an `auth[…]` block with the same names; pass it as an object of strings.
    ///
    /// # Errors
    /// [`ErrorKind::Decode`] if `json` is not an object, a token is missing or a field has the
    /// wrong form. The message names the field, never its value.
    pub fn from_token_response(json: &Value, now: SystemTime) -> Result<Self> {
        let object = json
            .as_object()
            .ok_or_else(|| Error::decode("token reply is not an object", None))?;
        let field = |name: &str| object.get(name).filter(|value| !is_blank(value));

        let token = |name: &'static str| {
            field(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Error::decode(format!("token reply has no `{name}`"), None))
        };
        let number = |name: &'static str| {
            field(name)
                .map(|value| {
                    as_u64(value).ok_or_else(|| {
                        Error::decode(format!("token reply `{name}` is not a number"), None)
                    })
                })
                .transpose()
        };
        let text = |name: &str| {
            field(name).and_then(|value| match value {
                Value::String(text) => Some(text.trim().to_owned()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            })
        };
        let endpoint = |name: &'static str| {
            text(name)
                .map(|text| {
                    Url::parse(&text).map_err(|_| {
                        Error::decode(format!("token reply `{name}` is not a URL"), None)
                    })
                })
                .transpose()
        };

        let expires_at = match (number("expires")?, number("expires_in")?) {
            (Some(expires), _) => UNIX_EPOCH.checked_add(Duration::from_secs(expires)),
            // Whole seconds, so that a stored and reloaded set compares equal.
            (None, Some(expires_in)) => {
                let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                UNIX_EPOCH.checked_add(Duration::from_secs(now.saturating_add(expires_in)))
            }
            (None, None) => None,
        };
        let scope = match field("scope") {
            Some(Value::String(scope)) => split_scope(scope),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .flat_map(split_scope)
                .collect(),
            Some(_) => return Err(Error::decode("token reply `scope` is not a string", None)),
            None => Vec::new(),
        };

        Ok(Self {
            access_token: AccessToken::new(token("access_token")?),
            refresh_token: RefreshToken::new(token("refresh_token")?),
            expires_at,
            member_id: text("member_id"),
            client_endpoint: endpoint("client_endpoint")?,
            server_endpoint: endpoint("server_endpoint")?,
            domain: text("domain"),
            scope,
            user_id: number("user_id")?,
            status: text("status"),
        })
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn split_scope(scope: &str) -> Vec<String> {
    scope
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

mod unix_seconds {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` hands over a reference to the field
    pub(super) fn serialize<S: Serializer>(
        at: &Option<SystemTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_some(
                &at.duration_since(UNIX_EPOCH)
                    .map_or(0, |since| since.as_secs()),
            ),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        Option::<u64>::deserialize(deserializer)?
            .map(|seconds| {
                UNIX_EPOCH
                    .checked_add(Duration::from_secs(seconds))
                    .ok_or_else(|| serde::de::Error::custom("expires_at is out of range"))
            })
            .transpose()
    }
}

mod optional_url {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    #[allow(clippy::ref_option)] // serde's `with` hands over a reference to the field
    pub(super) fn serialize<S: Serializer>(
        url: &Option<Url>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match url {
            Some(url) => serializer.serialize_some(url.as_str()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Url>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| Url::parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fixture(name: &str) -> Option<Value> {
        let dir = std::env::var_os("BITRIX24_DOCS_FIXTURES").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures-docs"),
            PathBuf::from,
        );
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap()),
            Err(error) => {
                println!(
                    "skipped: fixture {} is not available ({error})",
                    path.display()
                );
                None
            }
        }
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn authorization_code_reply_uses_expires_in() {
        let Some(json) = fixture("oauth.token.authorization_code.json") else {
            return;
        };
        let tokens = TokenSet::from_token_response(&json, at(1_700_000_000)).unwrap();
        assert_eq!(
            tokens.access_token.expose_secret(),
            "s1morf609228iwyjjpvfv6wsvuja4p8u"
        );
        assert_eq!(
            tokens.refresh_token.expose_secret(),
            "4f9k4jpmg13usmybzuqknt2v9fh0q6rl"
        );
        assert_eq!(tokens.expires_at, Some(at(1_700_003_600)));
        assert_eq!(
            tokens.member_id.as_deref(),
            Some("a223c6b3710f85df22e9377d6c4f7553")
        );
        assert_eq!(
            tokens.client_endpoint.as_ref().map(Url::as_str),
            Some("https://portal.bitrix24.ru/rest/")
        );
        assert_eq!(
            tokens.server_endpoint.as_ref().map(Url::as_str),
            Some("https://oauth.bitrix24.tech/rest/")
        );
        assert_eq!(tokens.domain.as_deref(), Some("oauth.bitrix24.tech"));
        assert_eq!(tokens.scope, ["crm", "entity", "im", "task"]);
        assert_eq!(tokens.status.as_deref(), Some("F"));
        assert_eq!(tokens.user_id, None);
    }

    #[test]
    fn refresh_reply_prefers_expires_over_expires_in() {
        let Some(json) = fixture("oauth.token.refresh_token.json") else {
            return;
        };
        let tokens = TokenSet::from_token_response(&json, at(1_700_000_000)).unwrap();
        assert_eq!(tokens.expires_at, Some(at(1_780_319_382)));
        assert_eq!(tokens.user_id, Some(67));
        assert_eq!(
            tokens.refresh_token.expose_secret(),
            "3s6lr4kr3cv2od4v853gvrchb875bwxb"
        );
    }

    #[test]
    fn numbers_may_arrive_as_strings() {
        let json = serde_json::json!({
            "access_token": "a-1",
            "refresh_token": "r-1",
            "expires_in": "3600",
            "user_id": " 67 ",
            "scope": " crm, user  task ",
            "member_id": "m-1",
            "client_endpoint": "",
        });
        let tokens = TokenSet::from_token_response(&json, at(100)).unwrap();
        assert_eq!(tokens.expires_at, Some(at(3700)));
        assert_eq!(tokens.user_id, Some(67));
        assert_eq!(tokens.scope, ["crm", "user", "task"]);
        assert_eq!(tokens.client_endpoint, None);

        let json = serde_json::json!({"access_token": "a", "refresh_token": "r", "expires": "50", "expires_in": 1});
        assert_eq!(
            TokenSet::from_token_response(&json, at(100))
                .unwrap()
                .expires_at,
            Some(at(50))
        );
    }

    #[test]
    fn malformed_replies_are_decode_errors_without_values() {
        let missing = serde_json::json!({"access_token": "secret-access"});
        let error = TokenSet::from_token_response(&missing, at(0)).unwrap_err();
        assert!(error.is_decode());
        assert!(error.to_string().contains("refresh_token"));

        let bad = serde_json::json!({"access_token": "a", "refresh_token": "r", "expires_in": "soon-ish"});
        let error = TokenSet::from_token_response(&bad, at(0)).unwrap_err();
        assert!(error.is_decode());
        assert!(!error.to_string().contains("soon-ish"));

        assert!(
            TokenSet::from_token_response(&Value::Null, at(0))
                .unwrap_err()
                .is_decode()
        );
    }

    #[test]
    fn expiry() {
        let tokens = TokenSet::new("a", "r");
        assert!(!tokens.is_expired(at(u64::from(u32::MAX))));
        let tokens = tokens.with_expires_at(at(1000));
        assert!(!tokens.is_expired(at(999)));
        assert!(tokens.is_expired(at(1000)));
        assert!(tokens.is_expired(at(1001)));
    }

    #[test]
    fn serde_round_trip() {
        let tokens = TokenSet::new("a-1", "r-1")
            .with_expires_at(at(1_780_319_382))
            .with_member_id("m-1")
            .with_client_endpoint(Url::parse("https://portal.bitrix24.ru/rest/").unwrap());
        let json = serde_json::to_value(&tokens).unwrap();
        assert_eq!(json["expires_at"], 1_780_319_382);
        assert_eq!(json["access_token"], "a-1");
        assert_eq!(json["client_endpoint"], "https://portal.bitrix24.ru/rest/");
        let back: TokenSet = serde_json::from_value(json).unwrap();
        assert_eq!(back, tokens);

        let minimal: TokenSet =
            serde_json::from_str(r#"{"access_token": "a", "refresh_token": "r"}"#).unwrap();
        assert_eq!(minimal, TokenSet::new("a", "r"));

        let Some(json) = fixture("oauth.token.authorization_code.json") else {
            return;
        };
        let tokens = TokenSet::from_token_response(&json, SystemTime::now()).unwrap();
        let back: TokenSet =
            serde_json::from_str(&serde_json::to_string(&tokens).unwrap()).unwrap();
        assert_eq!(back, tokens);
    }

    #[test]
    fn callback_from_doc_like_query() {
        let query = "?code=c0de-123&state=st4te&domain=example.bitrix24.ru\
                     &member_id=a223c6b3710f85df22e9377d6c4f7553&scope=crm%2Cuser\
                     &server_domain=oauth.bitrix24.tech";
        let callback = AuthorizationCallback::from_query(query).unwrap();
        assert_eq!(callback.code, "c0de-123");
        assert_eq!(callback.state.as_deref(), Some("st4te"));
        assert_eq!(callback.domain, "example.bitrix24.ru");
        assert_eq!(
            callback.member_id.as_deref(),
            Some("a223c6b3710f85df22e9377d6c4f7553")
        );
        assert_eq!(callback.scope, ["crm", "user"]);
        assert_eq!(
            callback.server_domain.as_deref(),
            Some("oauth.bitrix24.tech")
        );

        callback
            .verify_state(&CsrfState::from_stored("st4te"))
            .unwrap();
        let mismatch = callback
            .verify_state(&CsrfState::from_stored("other"))
            .unwrap_err();
        assert!(mismatch.is_auth());

        let no_state = AuthorizationCallback::from_query("code=c&domain=d.bitrix24.ru").unwrap();
        assert!(
            no_state
                .verify_state(&CsrfState::from_stored("st4te"))
                .unwrap_err()
                .is_auth()
        );
    }

    #[test]
    fn callback_without_code_or_domain_is_invalid_input() {
        let error = AuthorizationCallback::from_query("domain=d.bitrix24.ru").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        let error = AuthorizationCallback::from_query("code=c&domain=").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn authorize_url_for_a_host_and_a_url() {
        let app = OAuthApp::new("app.123", "client-s3cret");
        let state = CsrfState::from_stored("st4te");
        let expected = "https://example.bitrix24.ru/oauth/authorize/?client_id=app.123&state=st4te";
        assert_eq!(
            app.authorize_url("example.bitrix24.ru", &state)
                .unwrap()
                .as_str(),
            expected
        );
        assert_eq!(
            app.authorize_url("https://example.bitrix24.ru/rest/?x=1", &state)
                .unwrap()
                .as_str(),
            expected
        );
        assert_eq!(
            app.authorize_url("http://portal.local:8080", &state)
                .unwrap()
                .as_str(),
            "http://portal.local:8080/oauth/authorize/?client_id=app.123&state=st4te"
        );
        for bad in [
            "",
            "example.bitrix24.ru/path",
            "ftp://example.bitrix24.ru",
            "user@host",
            "a b",
        ] {
            let error = app.authorize_url(bad, &state).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn random_states_differ_and_match_themselves() {
        let first = CsrfState::new_random().unwrap();
        let second = CsrfState::new_random().unwrap();
        assert_eq!(first.as_str().len(), 64);
        assert!(first.as_str().bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first.as_str(), second.as_str());
        assert!(first.matches(first.as_str()));
        assert!(!first.matches(second.as_str()));
        assert!(!first.matches(""));
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let app = OAuthApp::new("app.123", "client-s3cret");
        let debug = format!("{app:?}");
        assert!(debug.contains("app.123") && debug.contains("oauth.bitrix24.tech"));
        assert!(!debug.contains("client-s3cret"));

        let tokens = TokenSet::new("access-s3cret", "refresh-s3cret");
        let debug = format!("{tokens:?}");
        assert!(!debug.contains("access-s3cret") && !debug.contains("refresh-s3cret"));

        let state = CsrfState::from_stored("state-s3cret");
        assert_eq!(format!("{state:?}"), "CsrfState([redacted])");

        let callback =
            AuthorizationCallback::from_query("code=code-s3cret&state=state-s3cret&domain=d.ru")
                .unwrap();
        let debug = format!("{callback:?}");
        assert!(debug.contains("d.ru"));
        assert!(!debug.contains("code-s3cret") && !debug.contains("state-s3cret"));
    }

    #[test]
    fn default_token_url_is_the_cloud_server() {
        let app = OAuthApp::new("id", "secret");
        assert_eq!(app.token_url().as_str(), DEFAULT_TOKEN_URL);
        let app = app.with_token_url(Url::parse("http://127.0.0.1:1/oauth/token/").unwrap());
        assert_eq!(app.token_url().as_str(), "http://127.0.0.1:1/oauth/token/");
        assert_eq!(app.client_id(), "id");
        assert_eq!(app.client_secret().expose_secret(), "secret");
    }
}
