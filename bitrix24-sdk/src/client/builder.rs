//! Configuring a [`Client`].

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use url::Url;

use super::{Address, Auth, Client, Inner, PortalMovedHook, RetryEvent, RetryHook, metrics};
use crate::auth::session::OAuthSession;
use crate::auth::{OAuthApp, TokenSet, TokenStore, WebhookUrl};
use crate::error::{Error, Result};
use crate::portal::{PortalUrl, require_https, with_origin};
use crate::ratelimit::{Limits, OperatingBudget, RateLimiter};
use crate::retry::RetryPolicy;
use crate::transport::{DEFAULT_USER_AGENT, Transport};

/// The portal cuts a request off after 60 s; a little more lets its own error arrive.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(70);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

enum AuthConfig {
    Webhook(WebhookUrl),
    OAuth {
        app: OAuthApp,
        tokens: Box<TokenSet>,
        store: Arc<dyn TokenStore>,
    },
}

/// Configures and builds a [`Client`].
///
/// Setters never fail; a bad value (such as a malformed webhook URL) is reported by
/// [`build`](ClientBuilder::build).
///
/// ```no_run
/// use std::time::Duration;
/// use bitrix24::{Client, Limits, RetryPolicy};
///
/// # fn run() -> bitrix24::Result<()> {
/// let client = Client::builder()
///     .webhook("https://example.bitrix24.ru/rest/1/secret/")
///     .limits(Limits::enterprise())
///     .retry_policy(RetryPolicy::standard().with_max_attempts(5))
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until .build() is called"]
pub struct ClientBuilder {
    auth: Option<AuthConfig>,
    deferred_error: Option<Error>,
    limits: Limits,
    retry_policy: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    http_client: Option<reqwest::Client>,
    base_url: Option<Url>,
    allow_insecure_http: bool,
    on_portal_moved: Option<PortalMovedHook>,
    on_retry: Option<RetryHook>,
    record_to: Option<std::path::PathBuf>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientBuilder {
    /// A builder with the standard limits, the standard retry policy and a 70 s timeout.
    pub fn new() -> Self {
        Self {
            auth: None,
            deferred_error: None,
            limits: Limits::standard(),
            retry_policy: RetryPolicy::standard(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            http_client: None,
            base_url: None,
            allow_insecure_http: false,
            on_portal_moved: None,
            on_retry: None,
            record_to: None,
        }
    }

    /// Authenticates with an incoming webhook: `https://{portal}/rest/{user_id}/{secret}/`.
    pub fn webhook(mut self, url: impl AsRef<str>) -> Self {
        match WebhookUrl::parse(url.as_ref()) {
            Ok(webhook) => self.auth = Some(AuthConfig::Webhook(webhook)),
            Err(error) => self.deferred_error = Some(error),
        }
        self
    }

    /// Authenticates as an OAuth application with the given tokens.
    ///
    /// Refreshed tokens are saved through `store` before they are used. The portal's REST
    /// address comes from `tokens.client_endpoint` (or from [`base_url`](Self::base_url)).
    pub fn oauth(
        mut self,
        app: OAuthApp,
        tokens: TokenSet,
        store: impl TokenStore + 'static,
    ) -> Self {
        self.auth = Some(AuthConfig::OAuth {
            app,
            tokens: Box::new(tokens),
            store: Arc::new(store),
        });
        self
    }

    /// The portal's limits: [`Limits::standard`] (default), [`Limits::enterprise`],
    /// [`Limits::custom`] or [`Limits::unlimited`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The retry policy for every call (a call can override it).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// The timeout of one attempt, from connecting to the end of the reply (default 70 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout for opening a connection (default 10 s). Ignored with
    /// [`http_client`](Self::http_client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `bitrix24-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Uses this HTTP client (to share a connection pool or set a proxy).
    ///
    /// Build it with `redirect(reqwest::redirect::Policy::none())`: a followed redirect turns
    /// the POST into a GET and drops its body. The SDK notices when that happened and sends
    /// the call again to the new address, but the extra request is wasted.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Sends every call to this origin (scheme, host, port) instead of the portal's, keeping
    /// the REST path. Meant for tests against a local server.
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        match Url::parse(url.as_ref()) {
            Ok(url) => self.base_url = Some(url),
            Err(_) => self.deferred_error = Some(Error::config("base_url is not a valid URL")),
        }
        self
    }

    /// Accepts plain `http://` for hosts other than loopback (default `false`).
    ///
    /// Bitrix24 itself refuses HTTP, and a webhook URL sent in clear text gives its secret away;
    /// loopback hosts (the sandbox, local tests) are always allowed.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Called when the portal answers with a redirect to a new address (its domain changed).
    /// The client has already switched to the new address; persist it if you store the URL.
    pub fn on_portal_moved(mut self, hook: impl Fn(&PortalUrl) + Send + Sync + 'static) -> Self {
        self.on_portal_moved = Some(Arc::new(hook));
        self
    }

    /// Called before every retry, for metrics on throttling and failures.
    pub fn on_retry(mut self, hook: impl Fn(&RetryEvent<'_>) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(Arc::new(hook));
        self
    }

    /// Records every call's request and reply, scrubbed of secrets, hosts and personal
    /// data, as `<dir>/<scope>/<method>/<case>.json` fixtures for replay tests (see
    /// [`record::scrub`](crate::record::scrub)).
    ///
    /// Without this call, the environment variable `BITRIX24_RECORD_DIR` (when set and not
    /// empty) turns recording on for every client the program builds, so fixtures can be
    /// recorded from an existing program without changing its code.
    pub fn record_to(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.record_to = Some(dir.into());
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when no auth was given, a URL is
    /// malformed or insecure, the limits are invalid, OAuth tokens name no portal, or the HTTP
    /// client cannot be created.
    pub fn build(self) -> Result<Client> {
        if let Some(error) = self.deferred_error {
            return Err(error);
        }
        self.limits.validate()?;
        let auth = self.auth.ok_or_else(|| {
            Error::config("no authentication: call .webhook(url) or .oauth(app, tokens, store)")
        })?;
        let mut recorder = recording_dir(self.record_to, std::env::var_os(RECORD_DIR_VAR))
            .map(crate::record::Recorder::new);
        let (endpoint, auth, follow_client_endpoint) = match auth {
            AuthConfig::Webhook(webhook) => {
                recorder =
                    recorder.map(|r| r.with_known(webhook.secret().expose_secret(), "[redacted]"));
                (
                    webhook.endpoint(),
                    Auth::Webhook {
                        user_id: webhook.user_id(),
                    },
                    false,
                )
            }
            AuthConfig::OAuth { app, tokens, store } => {
                recorder = recorder.map(|r| {
                    r.with_known(app.client_secret().expose_secret(), "[redacted]")
                        .with_known(tokens.refresh_token.expose_secret(), "[redacted]")
                });
                require_https(
                    app.token_url(),
                    self.allow_insecure_http,
                    "the OAuth token URL",
                )?;
                let endpoint = match (&tokens.client_endpoint, &self.base_url) {
                    (Some(endpoint), _) => endpoint.clone(),
                    (None, Some(base)) => base
                        .join("/rest/")
                        .map_err(|_| Error::config("base_url is not a valid URL"))?,
                    (None, None) => {
                        return Err(Error::config(
                            "the OAuth tokens carry no client_endpoint: set it with TokenSet::with_client_endpoint",
                        ));
                    }
                };
                let session = OAuthSession::new(app, *tokens, store);
                (
                    endpoint,
                    Auth::OAuth(Box::new(session)),
                    self.base_url.is_none(),
                )
            }
        };
        let endpoint = match &self.base_url {
            Some(base) => with_origin(&endpoint, base)?,
            None => endpoint,
        };
        require_https(&endpoint, self.allow_insecure_http, "the portal URL")?;
        let portal = PortalUrl::from_url(&endpoint)?;
        // The host names the customer; fixtures say `portal.example` instead.
        let recorder = recorder.map(|r| r.with_known(portal.host(), "portal.example"));

        let http = match self.http_client {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(self.connect_timeout)
                .use_rustls_tls()
                .build()
                .map_err(|error| {
                    Error::config("the HTTP client could not be created")
                        .with_source(Box::new(error))
                })?,
        };
        let limiter = RateLimiter::shared(&portal.host_port(), self.limits);
        let operating = OperatingBudget::new(self.limits.operating_budget());
        let inner = Inner {
            transport: Transport::new(http, self.user_agent),
            auth,
            address: RwLock::new(Address { endpoint, portal }),
            follow_client_endpoint,
            allow_insecure_http: self.allow_insecure_http,
            limiter,
            operating,
            retry_policy: self.retry_policy,
            timeout: self.timeout,
            on_portal_moved: self.on_portal_moved,
            on_retry: self.on_retry,
            recorder,
            metrics: metrics::Counters::default(),
        };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            None => "none",
            Some(AuthConfig::Webhook(_)) => "webhook",
            Some(AuthConfig::OAuth { .. }) => "oauth",
        };
        f.debug_struct("ClientBuilder")
            .field("auth", &auth)
            .field("limits", &self.limits)
            .field("retry_policy", &self.retry_policy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The environment variable that turns recording on when the builder did not.
const RECORD_DIR_VAR: &str = "BITRIX24_RECORD_DIR";

/// Where to record: the builder's own choice wins over the environment; an empty variable is
/// treated as unset.
fn recording_dir(
    explicit: Option<std::path::PathBuf>,
    from_env: Option<std::ffi::OsString>,
) -> Option<std::path::PathBuf> {
    explicit.or_else(|| from_env.filter(|dir| !dir.is_empty()).map(Into::into))
}

#[cfg(test)]
mod tests {
    use super::recording_dir;
    use std::path::PathBuf;

    #[test]
    fn recording_dir_prefers_the_builder_and_ignores_an_empty_variable() {
        let table = [
            (None, None, None),
            (None, Some(""), None),
            (None, Some("env"), Some("env")),
            (Some("own"), Some("env"), Some("own")),
            (Some("own"), None, Some("own")),
        ];
        for (explicit, env, want) in table {
            assert_eq!(
                recording_dir(explicit.map(PathBuf::from), env.map(Into::into)),
                want.map(PathBuf::from),
                "explicit {explicit:?}, env {env:?}"
            );
        }
    }
}
