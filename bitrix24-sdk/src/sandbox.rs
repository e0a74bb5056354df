//! A Bitrix24 portal on loopback, for tests, demos and benchmarks (feature `sandbox`).
//!
//! It behaves like a real portal as documented, unpleasant parts included: the strict
//! request bucket (503 `QUERY_LIMIT_EXCEEDED`), the per-method operating-time window (429
//! `OPERATION_TIME_LIMIT`) with counted offset paging as expensive as on a real database,
//! webhook and OAuth auth (access tokens expire, refresh tokens rotate), `batch` with
//! `$result` references, lists with the documented filter operators, the old CRM's empty
//! error codes, events delivered as form posts without retries, and app-only methods that
//! refuse webhooks. Faults can be injected, and everything it saw can be inspected.
//!
//! ```no_run
//! # async fn run() -> bitrix24::Result<()> {
//! use bitrix24::sandbox::SandboxPortal;
//!
//! let portal = SandboxPortal::builder().seed_leads(100).start().await?;
//! let client = portal.client()?;
//! let leads: Vec<serde_json::Value> = client.call_raw("crm.lead.list", ()).idempotent(true).await?;
//! assert_eq!(leads.len(), 50);
//! # Ok(()) }
//! ```

mod batch;
mod clock;
mod common;
mod crm;
mod delivery;
mod disk;
mod event;
mod faults;
mod im;
mod imconnector;
mod imopenlines;
mod limits;
mod list;
mod oauth;
mod params;
mod registry;
mod reply;
mod server;
mod state;
mod tasks;
#[cfg(test)]
mod testing;
mod user;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use url::Url;

pub use faults::{Fault, FaultKind};
pub use limits::CostModel;
pub use reply::Work;

use self::event::{Binding, BindingOwner};
use self::oauth::{AppConfig, random_token};
use self::registry::Registry;
use self::server::{Config, KillableListener, Shared, lock};
use crate::auth::{ApplicationToken, MemoryTokenStore, TokenStore};
use crate::error::{Error, Result};
use crate::{Client, Limits, OAuthApp, TokenSet};

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthKind {
    /// An incoming webhook.
    Webhook,
    /// An OAuth access token.
    OAuth,
    /// None that the sandbox accepted.
    None,
}

/// One HTTP request the sandbox answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestRecord {
    /// The REST method (`batch` for batches).
    pub method: String,
    /// How it authenticated.
    pub auth: AuthKind,
    /// The HTTP status of the reply.
    pub status: u16,
    /// The error code, when the reply was an error.
    pub error: Option<String>,
    /// For a batch, how many commands it carried.
    pub commands: usize,
}

/// One event the sandbox POSTed to a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The event name, upper case.
    pub event: String,
    /// The handler URL.
    pub handler: String,
    /// The handler's HTTP status, or `None` when it could not be reached.
    pub status: Option<u16>,
    /// Why it could not be reached.
    pub error: Option<String>,
    /// The form fields sent, with their PHP-style keys.
    pub form: Vec<(String, String)>,
}

/// The request bucket's state.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct LimiterReport {
    /// Requests in the bucket now.
    pub level: f64,
    /// Requests admitted so far.
    pub admitted: u64,
    /// Requests refused with 503 so far.
    pub refused: u64,
    /// Calls refused with 429 so far.
    pub operating_blocked: u64,
}

/// Configures a [`SandboxPortal`].
#[must_use = "a builder does nothing until .start() is called"]
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    limits: Limits,
    cost: CostModel,
    latency: Duration,
    port: u16,
    seed_leads: u64,
    access_ttl: Duration,
    webhook_secret: Option<String>,
    redirect_uri: Option<Url>,
    restore: Option<Value>,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            limits: Limits::standard(),
            cost: CostModel::default(),
            latency: Duration::ZERO,
            port: 0,
            seed_leads: 0,
            access_ttl: Duration::from_secs(3600),
            webhook_secret: None,
            redirect_uri: None,
            restore: None,
        }
    }
}

impl SandboxBuilder {
    /// The plan's limits: the request bucket and the per-method operating budget
    /// (default [`Limits::standard`]: 50 requests, 2/s, 480 s; [`Limits::unlimited`] turns
    /// both off).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How many operating seconds calls cost.
    pub fn cost_model(mut self, cost: CostModel) -> Self {
        self.cost = cost;
        self
    }

    /// Extra delay before every reply, like the network between you and a real portal.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The port to listen on (default: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Creates this many leads at start (ids 1..=n).
    pub fn seed_leads(mut self, count: u64) -> Self {
        self.seed_leads = count;
        self
    }

    /// How long access tokens live (default one hour, as on the portal).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// The webhook's secret (default: random).
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// Where `/oauth/authorize/` redirects to with the code.
    pub fn redirect_uri(mut self, uri: Url) -> Self {
        self.redirect_uri = Some(uri);
        self
    }

    /// Starts from a [`SandboxPortal::snapshot`] instead of an empty portal.
    pub fn restore(mut self, snapshot: Value) -> Self {
        self.restore = Some(snapshot);
        self
    }

    /// Starts the portal on 127.0.0.1.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the port cannot be bound, the
    /// limits are invalid, or the snapshot does not parse.
    pub async fn start(self) -> Result<SandboxPortal> {
        self.limits.validate()?;
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|error| {
                Error::config("the sandbox could not bind its port").with_source(Box::new(error))
            })?;
        let addr = listener.local_addr().map_err(|error| {
            Error::config("the sandbox has no local address").with_source(Box::new(error))
        })?;
        let base_url = Url::parse(&format!("http://{addr}/"))
            .map_err(|_| Error::config("bad sandbox address"))?;

        let mut state = match self.restore {
            Some(snapshot) => serde_json::from_value(snapshot).map_err(|error| {
                Error::config("the sandbox snapshot does not parse").with_source(Box::new(error))
            })?,
            None => state::State::default(),
        };
        let clock = clock::Clock::new();
        user::seed(&mut state, &clock);
        imopenlines::seed(&mut state, &clock);
        crm::seed_leads(&mut state, self.seed_leads, &clock);

        let mut registry = Registry::default();
        for register in [
            common::register,
            crm::register,
            user::register,
            tasks::register,
            disk::register,
            im::register,
            event::register,
            imconnector::register,
            imopenlines::register,
        ] {
            register(&mut registry);
        }

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| {
                Error::config("the sandbox's HTTP client could not be created")
                    .with_source(Box::new(error))
            })?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            registry,
            bucket: Mutex::new(limits::Bucket::new(self.limits)),
            operating: Mutex::new(limits::Operating::new(self.limits.operating_budget())),
            cost: self.cost,
            faults: Mutex::new(faults::Faults::default()),
            log: Mutex::new(Vec::new()),
            deliveries: Mutex::new(Vec::new()),
            tokens: Mutex::new(oauth::Tokens::default()),
            config: Config {
                webhook_user: 1,
                webhook_secret: self.webhook_secret.unwrap_or_else(|| random_token("wh")),
                latency: self.latency,
                member_id: random_token("member"),
                app: AppConfig {
                    client_id: "local.sandbox.app".to_owned(),
                    client_secret: random_token("secret"),
                    application_token: random_token("apptoken"),
                    access_ttl: self.access_ttl,
                    scope: "crm,task,disk,user,im,imconnector,imopenlines,event".to_owned(),
                    redirect_uri: self.redirect_uri,
                },
            },
            clock,
            base_url,
            http,
        });

        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = server::router(shared.clone())
            .into_make_service_with_connect_info::<server::ConnectionKill>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(KillableListener(listener), app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        tracing::info!(%addr, "sandbox portal started");
        Ok(SandboxPortal {
            shared,
            addr,
            limits: self.limits,
            task: Some(task),
            shutdown: Some(shutdown),
        })
    }
}

/// A running sandbox portal. Stops when dropped.
pub struct SandboxPortal {
    shared: Arc<Shared>,
    addr: SocketAddr,
    limits: Limits,
    task: Option<JoinHandle<()>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl SandboxPortal {
    /// Starts configuring a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Starts a sandbox with the standard plan's limits and no data.
    ///
    /// # Errors
    /// As [`SandboxBuilder::start`].
    pub async fn start() -> Result<Self> {
        Self::builder().start().await
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn base_url(&self) -> Url {
        self.shared.base_url.clone()
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The incoming webhook of user 1 (an administrator):
    /// `http://127.0.0.1:<port>/rest/1/<secret>/`.
    pub fn webhook_url(&self) -> String {
        format!(
            "{}rest/{}/{}/",
            self.shared.base_url,
            self.shared.config.webhook_user,
            self.shared.config.webhook_secret
        )
    }

    /// The plan's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A webhook client for this portal, with the plan's limits.
    ///
    /// # Errors
    /// As [`ClientBuilder::build`](crate::ClientBuilder::build).
    pub fn client(&self) -> Result<Client> {
        Client::builder()
            .webhook(self.webhook_url())
            .limits(self.limits)
            .build()
    }

    /// The sandbox's OAuth application (client id and secret, token URL on the sandbox).
    pub fn oauth_app(&self) -> OAuthApp {
        let app = &self.shared.config.app;
        let token_url = self
            .shared
            .base_url
            .join("oauth/token/")
            .unwrap_or_else(|_| self.shared.base_url.clone());
        OAuthApp::new(app.client_id.clone(), app.client_secret.as_str()).with_token_url(token_url)
    }

    /// The application token the portal sends with every event to the app.
    pub fn application_token(&self) -> ApplicationToken {
        ApplicationToken::new(self.shared.config.app.application_token.clone())
    }

    /// The portal's `member_id`.
    pub fn member_id(&self) -> &str {
        &self.shared.config.member_id
    }

    /// Installs the app for user 1 and returns its tokens, as the install callback would get
    /// them.
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) if the token reply does not parse
    /// (it always does).
    pub fn install_app(&self) -> Result<TokenSet> {
        let reply = oauth::token_reply(&self.shared, 1, true);
        TokenSet::from_token_response(&reply, std::time::SystemTime::now())
    }

    /// Installs the app and POSTs `ONAPPINSTALL` (with tokens and `application_token`) to
    /// `handler`, as the portal calls an app's install handler.
    ///
    /// # Errors
    /// As [`install_app`](Self::install_app).
    pub async fn install_app_to(&self, handler: &str) -> Result<TokenSet> {
        let tokens = self.install_app()?;
        let binding = Binding {
            id: 0,
            event: "ONAPPINSTALL".to_owned(),
            handler: handler.to_owned(),
            auth_type: 1,
            offline: false,
            auth_connector: None,
            owner: BindingOwner::App {
                client_id: self.shared.config.app.client_id.clone(),
            },
        };
        let data = serde_json::json!({ "VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en" });
        delivery::post(&self.shared, &binding, "ONAPPINSTALL", &data, 1).await;
        Ok(tokens)
    }

    /// An OAuth client for this portal with `tokens` (see [`install_app`](Self::install_app)).
    ///
    /// # Errors
    /// As [`ClientBuilder::build`](crate::ClientBuilder::build).
    pub fn oauth_client(
        &self,
        tokens: TokenSet,
        store: impl TokenStore + 'static,
    ) -> Result<Client> {
        Client::builder()
            .oauth(self.oauth_app(), tokens, store)
            .limits(self.limits)
            .build()
    }

    /// Installs the app and returns a client using its tokens, kept in memory.
    ///
    /// # Errors
    /// As [`oauth_client`](Self::oauth_client).
    pub fn app_client(&self) -> Result<Client> {
        self.oauth_client(self.install_app()?, MemoryTokenStore::new())
    }

    /// Makes every access token expire now, so the next call of each client must refresh.
    pub fn expire_access_tokens(&self) {
        lock(&self.shared.tokens).expire_access(Instant::now());
    }

    /// How many refresh grants the token server has honoured.
    pub fn token_refreshes(&self) -> u64 {
        lock(&self.shared.tokens).refreshes
    }

    /// Sets up an outgoing webhook (the UI's "outgoing webhook"): `event` is POSTed to
    /// `handler` with a fixed application token, which is returned.
    pub fn add_outgoing_webhook(&self, event: &str, handler: &str) -> ApplicationToken {
        let token = delivery::outgoing_token();
        self.shared.with_state(|state| {
            state.events.bind(Binding {
                id: 0,
                event: event.to_owned(),
                handler: handler.to_owned(),
                auth_type: 0,
                offline: false,
                auth_connector: None,
                owner: BindingOwner::OutgoingWebhook {
                    token: token.clone(),
                },
            })
        });
        ApplicationToken::new(token)
    }

    /// Injects a fault.
    pub fn add_fault(&self, fault: Fault) {
        lock(&self.shared.faults).add(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// How many requests each method got.
    pub fn request_counts(&self) -> HashMap<String, u64> {
        server::counts(&lock(&self.shared.log))
    }

    /// The request bucket and the operating limit's refusals.
    pub fn limiter(&self) -> LimiterReport {
        let mut bucket = lock(&self.shared.bucket);
        LimiterReport {
            level: bucket.level(Instant::now()),
            admitted: bucket.admitted,
            refused: bucket.refused,
            operating_blocked: lock(&self.shared.operating).blocked,
        }
    }

    /// Operating seconds per method in the current windows, summed over callers.
    pub fn operating_seconds(&self) -> HashMap<String, f64> {
        lock(&self.shared.operating).per_method()
    }

    /// Every event delivery so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.shared.deliveries).clone()
    }

    /// Every stored row of a CRM entity type (`lead`, `deal`, `contact`, `company`), as stored.
    pub fn crm_rows(&self, kind: &str) -> Vec<Value> {
        self.shared
            .with_state(|state| crm::rows(state, kind).unwrap_or_default())
    }

    /// The methods this sandbox implements.
    pub fn methods(&self) -> Vec<&'static str> {
        self.shared.registry.names()
    }

    /// The whole portal state as JSON, for [`SandboxBuilder::restore`].
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) if the state cannot be serialized.
    pub fn snapshot(&self) -> Result<Value> {
        self.shared
            .with_state(|state| serde_json::to_value(&*state))
            .map_err(|error| {
                Error::decode(
                    "the sandbox state cannot be serialized",
                    Some(Box::new(error)),
                )
            })
    }

    /// Stops accepting requests and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SandboxPortal {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for SandboxPortal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxPortal")
            .field("addr", &self.addr)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
