//! The client and the pipeline every call goes through.
//!
//! ```text
//! auth (webhook URL | OAuth token, refreshed single-flight) → operating budget (per method)
//!   → leaky bucket (per portal) → transport (POST JSON, redirects off) → envelope decode
//!   → classify → retry policy → back to the top, or return
//! ```

mod builder;
mod metrics;

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tracing::Instrument;
use url::Url;

pub use builder::ClientBuilder;
pub use metrics::{ClientMetrics, RetryEvent};

use crate::auth::session::{OAuthSession, Refreshed, TokenView};
use crate::auth::{AccessToken, TokenSet};
use crate::error::{Error, ErrorCode, Result};
use crate::method::{Call, Method, RawCall, Request, params_object};
use crate::portal::{PortalUrl, require_https, with_origin};
use crate::ratelimit::{OperatingBudget, RateLimiter};
use crate::response::{Response, decode_result, parse_envelope};
use crate::retry::{RetryClass, RetryContext, RetryDecision, RetryPolicy};
use crate::transport::{Outcome, Transport};

/// How many portal moves one call follows before giving up (a redirect loop otherwise).
const MAX_MOVES_PER_CALL: u32 = 3;

/// A Bitrix24 REST client for one portal.
///
/// Cloning is cheap and clones share everything: the HTTP connection pool, the OAuth tokens and
/// their refresh, the rate limiter and the per-method operating budget.
///
/// ```no_run
/// # async fn run() -> bitrix24::Result<()> {
/// let client = bitrix24::Client::from_webhook("https://example.bitrix24.ru/rest/1/secret/")?;
/// let me: serde_json::Value = client.call_raw("user.current", ()).idempotent(true).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) type PortalMovedHook = Arc<dyn Fn(&PortalUrl) + Send + Sync>;
pub(crate) type RetryHook = Arc<dyn Fn(&RetryEvent<'_>) + Send + Sync>;

pub(crate) enum Auth {
    Webhook { user_id: u64 },
    OAuth(Box<OAuthSession>),
}

struct Address {
    /// The REST base that method names are appended to. For webhooks it holds the secret.
    endpoint: Url,
    portal: PortalUrl,
}

pub(crate) struct Inner {
    transport: Transport,
    auth: Auth,
    address: RwLock<Address>,
    follow_client_endpoint: bool,
    allow_insecure_http: bool,
    limiter: RateLimiter,
    operating: OperatingBudget,
    retry_policy: RetryPolicy,
    timeout: Duration,
    on_portal_moved: Option<PortalMovedHook>,
    on_retry: Option<RetryHook>,
    recorder: Option<crate::record::Recorder>,
    metrics: metrics::Counters,
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client for an incoming webhook, with the standard limits and retry policy.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the URL is not a webhook URL or is
    /// plain `http://` to a host other than loopback.
    pub fn from_webhook(url: impl AsRef<str>) -> Result<Self> {
        Self::builder().webhook(url).build()
    }

    /// Prepares a typed call; `.await` it or call [`Call::send`].
    pub fn call<M: Method>(&self, method: M) -> Call<M> {
        Call::new(self.clone(), method)
    }

    /// Prepares a call to any method by name, with any serializable parameters.
    ///
    /// Treated as non-idempotent unless marked with [`RawCall::idempotent`].
    pub fn call_raw<T: DeserializeOwned + Send + 'static>(
        &self,
        name: &str,
        params: impl Serialize,
    ) -> RawCall<T> {
        RawCall::new(self.clone(), name, params_object(&params))
    }

    /// A list method by name, for paging, streaming by id and exporting its rows as JSON.
    ///
    /// ```no_run
    /// # async fn run(client: bitrix24::Client) -> bitrix24::Result<()> {
    /// use futures::TryStreamExt;
    /// let open: Vec<serde_json::Value> = client
    ///     .list_raw("crm.deal.list", serde_json::json!({ "filter": { "CLOSED": "N" }, "select": ["ID", "TITLE"] }))
    ///     .stream_by_id()
    ///     .into_stream()
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn list_raw(&self, name: &str, params: impl Serialize) -> crate::list::RawList<Value> {
        crate::list::RawList::new(self.clone(), name, params)
    }

    /// Starts a batch of up to 50 commands sent as one request.
    pub fn batch(&self) -> crate::batch::Batch {
        crate::batch::Batch::new(self.clone())
    }

    /// Sends any number of calls, 50 per `batch`, several batches at a time under the rate
    /// limiter, and yields one result per call in input order. The input is read lazily, so
    /// memory stays bounded by the batches in flight.
    ///
    /// A failed command yields its error and the others still yield their results; if a whole
    /// batch fails, each of its commands yields that error.
    pub fn batch_all<M, I>(
        &self,
        methods: I,
    ) -> impl futures::Stream<Item = Result<M::Output>> + Send + 'static
    where
        M: Method,
        I: IntoIterator<Item = M>,
        I::IntoIter: Send + 'static,
    {
        crate::batch::batch_all(self.clone(), methods, crate::batch::IN_FLIGHT)
    }

    /// The portal this client talks to now (it changes if the portal moves).
    pub fn portal(&self) -> PortalUrl {
        self.address().portal.clone()
    }

    /// The leaky-bucket limiter shared by every client on this portal in this process.
    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// This client's per-method operating-time budget.
    pub fn operating_budget(&self) -> &OperatingBudget {
        &self.inner.operating
    }

    /// Counters of requests, retries, throttling and refreshes since the client was built.
    pub fn metrics(&self) -> ClientMetrics {
        self.inner.metrics.snapshot()
    }

    /// The current OAuth tokens, or `None` for a webhook client.
    pub fn tokens(&self) -> Option<TokenSet> {
        match &self.inner.auth {
            Auth::OAuth(session) => Some(session.tokens()),
            Auth::Webhook { .. } => None,
        }
    }

    /// Refreshes the OAuth tokens now, saving them through the token store first.
    ///
    /// Calls refresh by themselves when the portal says the token expired; this is for apps
    /// that want fresh tokens for another purpose (for example to hand them to a browser).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a webhook client; otherwise as the
    /// token request or the token store fail.
    pub async fn refresh_tokens(&self) -> Result<TokenSet> {
        let Auth::OAuth(session) = &self.inner.auth else {
            return Err(Error::config(
                "a webhook client has no OAuth tokens to refresh",
            ));
        };
        self.refresh(session, session.view().generation).await?;
        Ok(session.tokens())
    }

    /// The HTTP client calls go through (redirects off), for transfers outside the JSON API
    /// such as file uploads to an `uploadUrl` and downloads.
    pub(crate) fn http(&self) -> &reqwest::Client {
        self.inner.transport.http()
    }

    /// The `User-Agent` the client sends.
    pub(crate) fn user_agent(&self) -> &str {
        self.inner.transport.user_agent()
    }

    fn address(&self) -> std::sync::RwLockReadGuard<'_, Address> {
        self.inner
            .address
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one call through the whole pipeline.
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        request: Request,
    ) -> Result<Response<T>> {
        let span = tracing::debug_span!(
            "bitrix24.call",
            method = %request.name,
            portal = %self.address().portal.host(),
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let name = request.name.clone();
        self.execute_in_span(request)
            .instrument(span)
            .await
            .map_err(|error| error.with_method(&name))
    }

    async fn execute_in_span<T: DeserializeOwned>(&self, request: Request) -> Result<Response<T>> {
        let Request {
            name,
            params,
            idempotent,
            options,
        } = request;
        validate_method_name(&name)?;
        let mut params = params?;
        // The client authenticates the call itself; a caller's own `auth` would end up as a
        // second `auth` key in the body, and the portal would read the wrong one.
        if params.remove("auth").is_some() {
            tracing::debug!(method = %name, "dropped an `auth` parameter: the client sends its own");
        }
        let params = serde_json::to_vec(&params).map_err(|error| {
            Error::invalid_input(format!("parameters cannot be encoded: {error}"))
        })?;
        let policy = options
            .retry_policy
            .as_ref()
            .unwrap_or(&self.inner.retry_policy);
        let timeout = options.timeout.unwrap_or(self.inner.timeout);
        let started = tokio::time::Instant::now();
        let mut attempts = 0u32;
        let mut refreshed_for_this_call = false;
        let mut moves = 0u32;

        loop {
            let token = match self.current_token().await {
                Ok(token) => token,
                Err(error) => {
                    // The call itself was not sent, so a transient token-server failure may be
                    // retried even for a create; a refused refresh token may not.
                    let class = refresh_class(&error);
                    self.retry_or_give_up(
                        policy,
                        class,
                        &name,
                        attempts.max(1),
                        started,
                        true,
                        error,
                    )
                    .await?;
                    continue;
                }
            };
            attempts += 1;
            let error = match self
                .attempt(&name, &params, token.as_ref(), timeout, attempts)
                .await
            {
                Ok(Step::Done(response)) => return Ok(response),
                Ok(Step::Moved(target)) => {
                    moves += 1;
                    if moves > MAX_MOVES_PER_CALL {
                        return Err(Error::config("the portal redirected too many times")
                            .with_attempts(attempts));
                    }
                    // The request was not carried out at the old address, so sending it again
                    // is safe even for a create.
                    self.portal_moved(&target)?;
                    attempts -= 1;
                    continue;
                }
                Err(error) => error,
            };

            if error.code() == Some(&ErrorCode::ExpiredToken)
                && !refreshed_for_this_call
                && let (Auth::OAuth(session), Some(view)) = (&self.inner.auth, token.as_ref())
            {
                // The portal refused the token before running the method, so the retry
                // cannot duplicate anything.
                refreshed_for_this_call = true;
                if let Err(refresh_error) = self.refresh(session, view.generation).await {
                    let class = refresh_class(&refresh_error);
                    self.retry_or_give_up(
                        policy,
                        class,
                        &name,
                        attempts,
                        started,
                        true,
                        refresh_error,
                    )
                    .await?;
                }
                continue;
            }

            let class = RetryClass::of(&error);
            self.note_throttling(class, &name);
            self.retry_or_give_up(policy, class, &name, attempts, started, idempotent, error)
                .await?;
        }
    }

    /// One attempt: wait for the operating budget and the bucket, send, decode.
    async fn attempt<T: DeserializeOwned>(
        &self,
        name: &str,
        params: &[u8],
        token: Option<&TokenView>,
        timeout: Duration,
        attempt: u32,
    ) -> Result<Step<T>> {
        let body = with_auth(params, token.map(|view| &view.access_token));
        let waited =
            self.inner.operating.wait_ready(name).await + self.inner.limiter.acquire().await;
        self.inner.metrics.throttle_wait(waited);

        let span = tracing::Span::current();
        span.record("attempt", attempt);
        let url = self
            .address()
            .endpoint
            .join(name)
            .map_err(|_| Error::invalid_input("the method name does not form a valid URL"))?;
        let sent_at = tokio::time::Instant::now();
        self.inner.metrics.request();
        let outcome = self.inner.transport.post_json(url, body, timeout).await;
        span.record(
            "duration_ms",
            u64::try_from(sent_at.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        match outcome? {
            Outcome::Moved(target) => Ok(Step::Moved(target)),
            Outcome::Reply { status, body } => {
                span.record("status", status);
                if let Some(recorder) = &self.inner.recorder {
                    let access = token.map(|view| view.access_token.expose_secret());
                    recorder.record(name, params, access, status, &body).await;
                }
                self.decode_reply(name, status, &body).map(Step::Done)
            }
        }
    }

    /// Tells the limiter what the portal said, so every caller slows down, not just this one.
    fn note_throttling(&self, class: RetryClass, name: &str) {
        match class {
            RetryClass::Throttled => {
                self.inner.metrics.rate_limited();
                self.inner.limiter.note_query_limit_exceeded();
            }
            RetryClass::MethodBlocked => {
                self.inner.metrics.operating_limited();
                let pause = self.inner.operating.note_limit_exceeded(name);
                tracing::info!(method = %name, pause_s = pause.as_secs_f64(), "method paused by its operating-time limit");
            }
            _ => {}
        }
    }

    /// Asks the policy about a failure; when it says retry, reports it and waits, otherwise
    /// hands the error back.
    #[allow(clippy::too_many_arguments)]
    async fn retry_or_give_up(
        &self,
        policy: &RetryPolicy,
        class: RetryClass,
        name: &str,
        attempts: u32,
        started: tokio::time::Instant,
        idempotent: bool,
        error: Error,
    ) -> Result<()> {
        let context = RetryContext::new(attempts, started.elapsed(), idempotent, fastrand::f64());
        let RetryDecision::Retry { after } = policy.decide(class, context) else {
            return Err(error.with_attempts(attempts));
        };
        self.inner.metrics.retry();
        tracing::warn!(
            method = %name,
            attempt = attempts,
            ?class,
            delay_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            error = %error,
            "retrying"
        );
        if let Some(hook) = &self.inner.on_retry {
            hook(&RetryEvent {
                method: name,
                attempt: attempts,
                class,
                delay: after,
                error: &error,
            });
        }
        tokio::time::sleep(after).await;
        Ok(())
    }

    /// The access token to send, refreshed first when it is known to have expired.
    async fn current_token(&self) -> Result<Option<TokenView>> {
        let Auth::OAuth(session) = &self.inner.auth else {
            return Ok(None);
        };
        let view = session.view();
        if view.expires_at.is_some_and(|at| at <= SystemTime::now()) {
            self.refresh(session, view.generation).await?;
            return Ok(Some(session.view()));
        }
        Ok(Some(view))
    }

    async fn refresh(&self, session: &OAuthSession, seen_generation: u64) -> Result<()> {
        match session
            .refresh(self.inner.transport.http(), seen_generation)
            .await?
        {
            Refreshed::Already => Ok(()),
            Refreshed::Now(tokens) => {
                self.inner.metrics.token_refresh();
                if self.inner.follow_client_endpoint
                    && let Some(endpoint) = &tokens.client_endpoint
                {
                    self.adopt_client_endpoint(endpoint)?;
                }
                Ok(())
            }
        }
    }

    /// The token server names the portal's REST endpoint; a changed one means the portal moved.
    fn adopt_client_endpoint(&self, endpoint: &Url) -> Result<()> {
        if self.address().endpoint == *endpoint {
            return Ok(());
        }
        require_https(
            endpoint,
            self.inner.allow_insecure_http,
            "the portal's client_endpoint",
        )?;
        self.set_address(endpoint.clone())
    }

    fn portal_moved(&self, target: &Url) -> Result<()> {
        // The webhook secret travels in the path, so never follow a move to plain HTTP.
        require_https(
            target,
            self.inner.allow_insecure_http,
            "the portal's new address",
        )?;
        let endpoint = with_origin(&self.address().endpoint, target)?;
        self.set_address(endpoint)
    }

    fn set_address(&self, endpoint: Url) -> Result<()> {
        let portal = PortalUrl::from_url(&endpoint)?;
        {
            let mut address = self
                .inner
                .address
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if address.portal == portal && address.endpoint == endpoint {
                return Ok(());
            }
            *address = Address {
                endpoint,
                portal: portal.clone(),
            };
        }
        self.inner.metrics.portal_move();
        tracing::info!(portal = %portal, "the portal moved; calls now go to its new address");
        if let Some(hook) = &self.inner.on_portal_moved {
            hook(&portal);
        }
        Ok(())
    }

    fn decode_reply<T: DeserializeOwned>(
        &self,
        name: &str,
        status: u16,
        body: &[u8],
    ) -> Result<Response<T>> {
        match parse_envelope(body, status)? {
            Ok(raw) => {
                if let Some(time) = &raw.time {
                    self.inner
                        .operating
                        .record(name, time.operating, time.operating_reset_at);
                }
                let result = decode_result(raw.result)?;
                Ok(Response::new(result, raw.total, raw.next, raw.time))
            }
            Err(api) => Err(Error::from_api(api)),
        }
    }
}

/// What one attempt led to.
enum Step<T> {
    Done(Response<T>),
    Moved(Url),
}

/// A failed refresh is retried like a request that was never sent, unless the token server
/// refused the refresh token itself.
fn refresh_class(error: &Error) -> RetryClass {
    if error.is_retryable() {
        RetryClass::BeforeSend
    } else {
        RetryClass::Fatal
    }
}

/// Method names become a URL path segment: anything but letters, digits, dots and
/// underscores could change the path (`../`) or the query.
fn validate_method_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "a method name may only contain letters, digits, dots and underscores",
        ))
    }
}

/// Puts `"auth": token` first in the already encoded JSON object, so the parameters are
/// encoded once per call rather than once per attempt.
fn with_auth(params: &[u8], token: Option<&AccessToken>) -> Vec<u8> {
    let Some(token) = token else {
        return params.to_vec();
    };
    let mut auth = Map::new();
    auth.insert(
        "auth".to_owned(),
        Value::String(token.expose_secret().to_owned()),
    );
    let auth = Value::Object(auth).to_string();
    let rest = &params[1..];
    let mut body = Vec::with_capacity(auth.len() + params.len());
    body.extend_from_slice(&auth.as_bytes()[..auth.len() - 1]);
    if rest != b"}" {
        body.push(b',');
    }
    body.extend_from_slice(rest);
    body
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Client");
        debug.field("portal", &self.address().portal);
        match &self.inner.auth {
            Auth::Webhook { user_id } => {
                debug.field("auth", &format_args!("webhook (user {user_id})"))
            }
            Auth::OAuth(session) => debug.field(
                "auth",
                &format_args!("oauth (client {})", session.app().client_id()),
            ),
        };
        debug
            .field("limits", &self.inner.limiter.limits())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_is_spliced_into_the_body() {
        let token = AccessToken::new("tok");
        let body = with_auth(br#"{"id":5}"#, Some(&token));
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            serde_json::json!({"auth": "tok", "id": 5})
        );
        let body = with_auth(b"{}", Some(&token));
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            serde_json::json!({"auth": "tok"})
        );
        assert_eq!(with_auth(br#"{"a":1}"#, None), br#"{"a":1}"#);
        let tricky = AccessToken::new("a\"b\\c");
        let body = with_auth(br#"{"x":[1]}"#, Some(&tricky));
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["auth"],
            "a\"b\\c"
        );
    }

    #[test]
    fn method_names_cannot_escape_the_path() {
        for good in [
            "crm.lead.add",
            "batch",
            "imopenlines.crm.chat.getLastId",
            "user_option.get",
        ] {
            assert!(validate_method_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../1/other/crm.lead.add",
            "crm.lead.add?auth=x",
            "a/b",
            ".hidden",
            "crm lead",
        ] {
            assert!(validate_method_name(bad).is_err(), "{bad}");
        }
    }
}
