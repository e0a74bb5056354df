//! [`EventAuth`]: the `auth[...]` block of an event.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use url::Url;

use super::lenient;
use crate::auth::{AccessToken, ApplicationToken, RefreshToken, TokenSet};

/// The `auth[...]` block of an event.
///
/// - For an **application**: `access_token`, `expires_in`, `scope`, `domain`,
///   `server_endpoint`, `status`, `client_endpoint`, `member_id`, `application_token`, and
///   sometimes `refresh_token`, `expires` and `user_id`. The tokens belong to the user whose
///   action fired the event (or to the binding's `auth_type`). **No tokens** are sent when a
///   robot, a business process or an agent fired it.
/// - For an **outgoing webhook**: only `domain`, `client_endpoint`, `server_endpoint`,
///   `member_id` and `application_token`.
/// - `ONAPPUNINSTALL` has no tokens either (they are revoked by then).
///
/// Every token is a secret newtype: `Debug` prints `[redacted]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EventAuth {
    /// `access_token`: an OAuth access token for the acting user, valid for about an hour.
    pub access_token: Option<AccessToken>,
    /// `refresh_token`, when sent (install, offline events, and some others).
    pub refresh_token: Option<RefreshToken>,
    /// `application_token`: the secret to verify the sender by (see
    /// [`Event::verify`](super::Event::verify)).
    pub application_token: Option<ApplicationToken>,
    /// `member_id`: the portal's unique id.
    pub member_id: Option<String>,
    /// `domain`: the portal's host, for example `example.bitrix24.ru`.
    pub domain: Option<String>,
    /// `client_endpoint`: the portal's REST endpoint, `https://example.bitrix24.ru/rest/`.
    pub client_endpoint: Option<String>,
    /// `server_endpoint`: the token server's REST endpoint.
    pub server_endpoint: Option<String>,
    /// `expires`: when the access token expires, in unix seconds.
    pub expires: Option<i64>,
    /// `expires_in`: the access token's lifetime in seconds (3600).
    pub expires_in: Option<u64>,
    /// `scope`, as sent: comma-separated, sometimes with spaces (`"imconnector, imopenlines"`).
    /// See [`scopes`](Self::scopes).
    pub scope: Option<String>,
    /// `status`: the app's status, `F` free, `D` demo, `T` trial, `P` paid, `L` local, `S`
    /// subscription.
    pub status: Option<String>,
    /// `user_id`: the user the tokens act for, when sent.
    pub user_id: Option<u64>,
    /// Any other keys, as sent (and any of the above that could not be read).
    pub extra: Map<String, Value>,
}

impl EventAuth {
    /// Reads an `auth` block. Lenient: numbers may be strings, and a value that cannot be read
    /// stays in [`extra`](Self::extra). `None` when `value` is not a map.
    pub fn from_value(value: &Value) -> Option<Self> {
        let map = value.as_object()?;
        let mut auth = Self::default();
        for (key, value) in map {
            let text = || lenient::string_of(value).ok().flatten();
            let read = match key.as_str() {
                "access_token" => text().map(|t| auth.access_token = Some(AccessToken::new(t))),
                "refresh_token" => text().map(|t| auth.refresh_token = Some(RefreshToken::new(t))),
                "application_token" => {
                    text().map(|t| auth.application_token = Some(ApplicationToken::new(t)))
                }
                "member_id" => text().map(|t| auth.member_id = Some(t)),
                "domain" => text().map(|t| auth.domain = Some(t)),
                "client_endpoint" => text().map(|t| auth.client_endpoint = Some(t)),
                "server_endpoint" => text().map(|t| auth.server_endpoint = Some(t)),
                "scope" => text().map(|t| auth.scope = Some(t)),
                "status" => text().map(|t| auth.status = Some(t)),
                "expires" => lenient::i64_of(value).ok().map(|n| auth.expires = n),
                "expires_in" => lenient::u64_of(value).ok().map(|n| auth.expires_in = n),
                "user_id" => lenient::u64_of(value).ok().map(|n| auth.user_id = n),
                _ => None,
            };
            let known = matches!(
                key.as_str(),
                "access_token"
                    | "refresh_token"
                    | "application_token"
                    | "member_id"
                    | "domain"
                    | "client_endpoint"
                    | "server_endpoint"
                    | "scope"
                    | "status"
                    | "expires"
                    | "expires_in"
                    | "user_id"
            );
            // Secrets are never kept raw: an unreadable token is simply absent.
            let secret = key.ends_with("_token");
            if (read.is_none() || !known) && !secret && !lenient::is_nothing(value) {
                auth.extra.insert(key.clone(), value.clone());
            }
        }
        Some(auth)
    }

    /// The granted scopes: `scope` split on commas and whitespace.
    pub fn scopes(&self) -> Vec<&str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|scope| !scope.is_empty())
            .collect()
    }

    /// The OAuth tokens in this block, ready for
    /// [`ClientBuilder::oauth`](crate::ClientBuilder::oauth): `None` unless both
    /// `access_token` and `refresh_token` are present.
    ///
    /// Meant for `ONAPPINSTALL` and `ONAPPUPDATE`, whose `auth` block is the app's first (or
    /// renewed) token pair; verify the event first. The expiry is `expires` when sent, else
    /// now plus `expires_in`.
    pub fn tokens(&self) -> Option<TokenSet> {
        let access = self.access_token.clone()?;
        let refresh = self.refresh_token.clone()?;
        let mut tokens = TokenSet::new(access, refresh);
        tokens.expires_at = match (self.expires, self.expires_in) {
            (Some(expires), _) => u64::try_from(expires)
                .ok()
                .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs))),
            (None, Some(expires_in)) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                UNIX_EPOCH.checked_add(Duration::from_secs(now.saturating_add(expires_in)))
            }
            (None, None) => None,
        };
        tokens.member_id.clone_from(&self.member_id);
        tokens.client_endpoint = self
            .client_endpoint
            .as_deref()
            .and_then(|url| Url::parse(url).ok());
        tokens.server_endpoint = self
            .server_endpoint
            .as_deref()
            .and_then(|url| Url::parse(url).ok());
        tokens.domain.clone_from(&self.domain);
        tokens.scope = self.scopes().into_iter().map(str::to_owned).collect();
        tokens.user_id = self.user_id;
        tokens.status.clone_from(&self.status);
        Some(tokens)
    }
}
