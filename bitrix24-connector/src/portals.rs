//! The connector as a multi-portal Bitrix24 OAuth application: every portal that installs the
//! app is remembered by its `member_id`, with its OAuth tokens and its `application_token`, in
//! the connector's [`Store`].
//!
//! - [`Portals::router`] serves `POST /bitrix24/install`, the app's install handler (headless
//!   `ONAPPINSTALL`, or the install page of an app with a UI).
//! - [`Portals::client`] gives a [`Client`] per portal; refreshed tokens are saved to SQLite
//!   before they are used ([`SqliteTokenStore`]), and the same client is handed out each time,
//!   so the portal's rate limiter, time budget and single-flight refresh are shared.
//! - [`Portals::handle_lifecycle`] (or [`Portals::verify`]) checks every inbound event against
//!   the stored `application_token` ([`SqliteApplicationTokens`]); flows call it first in their
//!   own event routes, where `ONAPPUPDATE` and `ONAPPUNINSTALL` usually arrive.
//!
//! # Trust
//!
//! Bitrix24 signs nothing (PROTOCOL.md §G4). The first `ONAPPINSTALL` of an unknown portal is
//! trusted as the SDK's [`Event::verify`] describes; on top of that, unless turned off with
//! [`Portals::confirm_installs`], the install's refresh token is exchanged at the token server
//! (with the app's `client_secret`, at the app's configured token URL) and the reply must name
//! the same `member_id`: a forged install with made-up tokens, or with a real portal's
//! `member_id`, is refused and leaves nothing behind. The portal's REST address is then the
//! one the token server reports, not the one in the request.
//!
//! # Secrets at rest
//!
//! The access and refresh tokens and the application tokens are stored in plain text in the
//! SQLite file: whoever can read it can act as the app on every portal. Keep the file (and its
//! `-wal` and `-shm` companions and backups) readable only by the connector. Tokens never
//! appear in `Debug` output, logs or error messages.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use bitrix24_connector::portals::Portals;
//! use bitrix24_connector::store::Store;
//!
//! let store = Store::open("data/connector.db").await?;
//! let app = bitrix24::OAuthApp::new("local.abc123", "client-secret");
//! let portals = Portals::new(store, app).on_install(|installation, client| {
//!     Box::pin(async move {
//!         // Bind events, register the connector… for `installation.member_id`.
//!         let _ = (installation, client);
//!     })
//! });
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, portals.router()).await?;
//! # Ok(()) }
//! ```

mod application_tokens;
mod install_page;
mod installations;
mod member_id;
mod server;
mod token_store;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bitrix24::events::{Event, Verified};
use bitrix24::{Client, ClientBuilder, OAuthApp, TokenSet};
use futures::future::BoxFuture;
use url::Url;

pub use self::application_tokens::SqliteApplicationTokens;
pub use self::member_id::{MAX_MEMBER_ID_LEN, is_valid_member_id, validate_member_id};
pub use self::token_store::SqliteTokenStore;
use crate::store::{Store, StoreError, now_ms};

/// One portal that installed the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// The portal's unique id.
    pub member_id: String,
    /// The portal's host, for example `example.bitrix24.ru`.
    pub domain: String,
    /// The portal's REST endpoint, for example `https://example.bitrix24.ru/rest/`.
    pub client_endpoint: String,
    /// The scopes granted to the app.
    pub scope: Vec<String>,
    /// When the app was installed (milliseconds since the epoch); kept through updates and
    /// repeated install events, reset by an install after an uninstall.
    pub installed_at: i64,
    /// When the installation last changed (an install, an update or a token refresh).
    pub updated_at: i64,
}

/// Why a portal operation failed. No variant's message contains a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// The app is not installed on the portal with this `member_id` (or was uninstalled).
    #[error("the app is not installed on portal {0}")]
    NotInstalled(String),
    /// The connector's database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The SDK refused or failed: verification of an event (`is_auth()`), the token server's
    /// confirmation of an install, or building a client.
    #[error("bitrix24: {0}")]
    Sdk(#[source] bitrix24::Error),
    /// The install request is unusable: not an install event, no tokens, an invalid
    /// `member_id`, or tokens the token server says belong to another portal.
    #[error("bad install: {0}")]
    BadInstall(String),
}

impl From<bitrix24::Error> for PortalError {
    fn from(error: bitrix24::Error) -> Self {
        Self::Sdk(error)
    }
}

/// Clients handed out so far, one per portal.
pub(crate) type ClientCache = Arc<tokio::sync::Mutex<HashMap<String, Client>>>;

type InstallHook = Arc<dyn Fn(Installation, Client) -> BoxFuture<'static, ()> + Send + Sync>;
type Configure = Arc<dyn Fn(ClientBuilder) -> ClientBuilder + Send + Sync>;

/// The portals the app is installed on: their installs, tokens and clients.
///
/// Clones share the client cache and the hooks.
#[derive(Clone)]
pub struct Portals {
    store: Store,
    app: OAuthApp,
    http: reqwest::Client,
    clients: ClientCache,
    hooks: Vec<InstallHook>,
    configure: Option<Configure>,
    confirm_installs: bool,
}

impl fmt::Debug for Portals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Portals")
            .field("client_id", &self.app.client_id())
            .field("install_hooks", &self.hooks.len())
            .field("confirm_installs", &self.confirm_installs)
            .finish_non_exhaustive()
    }
}

impl Portals {
    /// The portals of the application `app` (its client id and secret; its token URL is where
    /// refreshes and install confirmations go), stored in `store`.
    pub fn new(store: Store, app: OAuthApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            store,
            app,
            http,
            clients: ClientCache::default(),
            hooks: Vec::new(),
            configure: None,
            confirm_installs: true,
        }
    }

    /// Runs `hook` after each successful install or update (for example to bind the flow's
    /// events or register its connector), with the installation and its client.
    ///
    /// Hooks run in a spawned task, after the install is stored, so the portal gets its answer
    /// at once; a hook that fails must log and retry by itself. Several hooks may be added.
    #[must_use]
    pub fn on_install(
        mut self,
        hook: impl Fn(Installation, Client) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Adjusts every portal's client before it is built (limits, retry policy, timeouts).
    #[must_use]
    pub fn configure_clients(
        mut self,
        configure: impl Fn(ClientBuilder) -> ClientBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// Whether a first install's tokens are confirmed at the token server (default `true`; see
    /// the module's "Trust"). Turn it off only where the token server cannot be reached and
    /// installs come from a trusted network.
    #[must_use]
    pub fn confirm_installs(mut self, confirm: bool) -> Self {
        self.confirm_installs = confirm;
        self
    }

    /// The store the installs are kept in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Handles a verified `ONAPPINSTALL` or `ONAPPUPDATE` event, or the install page's POST read
    /// as one: verifies it (again: it is idempotent), confirms a first install's tokens, stores
    /// the tokens and `application_token` under its `member_id`, and runs the install hooks.
    /// A repeated install replaces the stored tokens.
    ///
    /// # Errors
    /// - [`PortalError::BadInstall`]: another event, an invalid `member_id`, no tokens or no
    ///   `client_endpoint`, tokens of another portal, or the portal changed (an uninstall came)
    ///   while this ran.
    /// - [`PortalError::Sdk`]: the event failed verification (`is_auth()`), or the token server
    ///   refused (`is_auth()`) or could not be asked.
    /// - [`PortalError::Store`]: the database failed.
    pub async fn install_from_event(&self, event: &Event) -> Result<Installation, PortalError> {
        self.install(event)
            .await
            .map(|(installation, _)| installation)
    }

    async fn install(&self, event: &Event) -> Result<(Installation, Verified), PortalError> {
        if !matches!(event.name.as_str(), "ONAPPINSTALL" | "ONAPPUPDATE") {
            return Err(PortalError::BadInstall(
                "the event is neither ONAPPINSTALL nor ONAPPUPDATE".into(),
            ));
        }
        let member_id = event
            .member_id()
            .ok_or_else(|| PortalError::BadInstall("the event has no auth[member_id]".into()))?;
        validate_member_id(member_id)?;
        let application_token = event
            .application_token()
            .filter(|token| !token.expose_secret().is_empty())
            .ok_or_else(|| {
                PortalError::BadInstall("the event has no auth[application_token]".into())
            })?
            .clone();
        let tokens = event
            .auth
            .as_ref()
            .and_then(bitrix24::events::EventAuth::tokens)
            .ok_or_else(|| {
                PortalError::BadInstall("the event carries no access and refresh tokens".into())
            })?;

        let verified = self.verify(event).await?;
        let tokens = if self.confirm_installs && event.name == "ONAPPINSTALL" {
            match self.confirm(member_id, tokens).await {
                Ok(tokens) => tokens,
                Err(error) => {
                    // Undo what verification stored for a portal that never completed an
                    // install, so a forged install leaves nothing behind; an installed
                    // portal's row is left alone by the statement.
                    installations::forget_unconfirmed_application_token(
                        self.store.pool(),
                        member_id,
                        application_token.expose_secret(),
                        now_ms(),
                    )
                    .await?;
                    return Err(error);
                }
            }
        } else {
            tokens
        };

        let endpoint = tokens.client_endpoint.as_ref().ok_or_else(|| {
            PortalError::BadInstall("the install names no client_endpoint".into())
        })?;
        if !matches!(endpoint.scheme(), "https" | "http") {
            return Err(PortalError::BadInstall(
                "the client_endpoint is not an http(s) URL".into(),
            ));
        }
        let domain = endpoint
            .host_str()
            .map(|host| match endpoint.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
            .or_else(|| event.domain().map(str::to_owned))
            .unwrap_or_default();
        let new = installations::NewInstall {
            member_id,
            domain: &domain,
            client_endpoint: endpoint.as_str(),
            scope: &tokens.scope,
            application_token: application_token.expose_secret(),
            tokens: &tokens,
        };
        let (install_seq, installation) =
            installations::save_install(self.store.pool(), &new, now_ms())
                .await?
                .ok_or_else(|| {
                    PortalError::BadInstall(
                        "the portal was uninstalled or installed again meanwhile".into(),
                    )
                })?;

        // A client of the previous install holds tokens that may be revoked: replace it.
        let client = {
            let mut clients = self.clients.lock().await;
            let client = self.build_client(member_id, tokens, install_seq)?;
            clients.insert(member_id.to_owned(), client.clone());
            client
        };
        tracing::info!(event = %event.name, "a portal installed the app");
        for hook in &self.hooks {
            tokio::spawn(hook(installation.clone(), client.clone()));
        }
        Ok((installation, verified))
    }

    /// Exchanges the install's refresh token at the token server: proof that the tokens are
    /// real and belong to `member_id`. The reply's pair replaces the install's (the old refresh
    /// token is dead now).
    async fn confirm(&self, member_id: &str, tokens: TokenSet) -> Result<TokenSet, PortalError> {
        let mut fresh = self.app.refresh(&self.http, &tokens.refresh_token).await?;
        if fresh.member_id.as_deref() != Some(member_id) {
            return Err(PortalError::BadInstall(
                "the token server says the install's tokens belong to another portal".into(),
            ));
        }
        if fresh.client_endpoint.is_none() {
            fresh.client_endpoint = tokens.client_endpoint;
        }
        if fresh.scope.is_empty() {
            fresh.scope = tokens.scope;
        }
        if fresh.user_id.is_none() {
            fresh.user_id = tokens.user_id;
        }
        if fresh.server_endpoint.is_none() {
            fresh.server_endpoint = tokens.server_endpoint;
        }
        Ok(fresh)
    }

    /// Forgets the tokens and the `application_token` of `member_id` (the row stays, with
    /// `uninstalled_at`, as history) and drops its client. The caller has verified the
    /// `ONAPPUNINSTALL`; [`handle_lifecycle`](Self::handle_lifecycle) does both.
    ///
    /// # Errors
    /// [`PortalError::BadInstall`] for an invalid `member_id`, [`PortalError::Store`] when the
    /// database fails.
    pub async fn uninstall(&self, member_id: &str) -> Result<(), PortalError> {
        validate_member_id(member_id)?;
        forget(&self.store, &self.clients, member_id).await?;
        Ok(())
    }

    /// The installation of `member_id`; `None` when the app is not installed there.
    ///
    /// # Errors
    /// [`PortalError::BadInstall`] for an invalid `member_id`, [`PortalError::Store`] when the
    /// database fails.
    pub async fn get(&self, member_id: &str) -> Result<Option<Installation>, PortalError> {
        validate_member_id(member_id)?;
        Ok(installations::get(self.store.pool(), member_id).await?)
    }

    /// Every portal the app is installed on, oldest install first.
    ///
    /// # Errors
    /// [`PortalError::Store`] when the database fails.
    pub async fn list(&self) -> Result<Vec<Installation>, PortalError> {
        Ok(installations::list(self.store.pool()).await?)
    }

    /// The client of portal `member_id`, acting as the app with the stored tokens. Refreshed
    /// tokens are saved to the database ([`SqliteTokenStore`]). Later calls return the same
    /// client (until the portal installs again), so calls to one portal share its limiter,
    /// time budget and token refresh.
    ///
    /// # Errors
    /// [`PortalError::BadInstall`] for an invalid `member_id`, [`PortalError::NotInstalled`],
    /// [`PortalError::Store`], or [`PortalError::Sdk`] when the client cannot be built (an
    /// insecure stored endpoint, for instance).
    pub async fn client(&self, member_id: &str) -> Result<Client, PortalError> {
        validate_member_id(member_id)?;
        // Held while loading, so two first calls for one portal cannot build two clients.
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(member_id) {
            return Ok(client.clone());
        }
        let stored = installations::load_tokens(self.store.pool(), member_id)
            .await?
            .ok_or_else(|| PortalError::NotInstalled(member_id.to_owned()))?;
        let client = self.build_client(member_id, stored.tokens, stored.install_seq)?;
        clients.insert(member_id.to_owned(), client.clone());
        Ok(client)
    }

    fn build_client(
        &self,
        member_id: &str,
        tokens: TokenSet,
        install_seq: i64,
    ) -> Result<Client, PortalError> {
        let store = SqliteTokenStore::for_install(self.store.clone(), member_id, install_seq);
        let builder = Client::builder().oauth(self.app.clone(), tokens, store);
        let builder = match &self.configure {
            Some(configure) => configure(builder),
            None => builder,
        };
        Ok(builder.build()?)
    }

    /// The application tokens, for [`Event::verify`] or an
    /// [`EventVerifier`](bitrix24::events::EventVerifier), backed by the same table.
    pub fn application_tokens(&self) -> SqliteApplicationTokens {
        SqliteApplicationTokens::new(self.store.clone(), self.clients.clone())
    }

    /// Verifies an inbound event against the stored `application_token` of its portal, with
    /// the SDK's trust rule ([`Event::verify`]): `ONAPPINSTALL` of an unknown portal stores its
    /// token, `ONAPPUPDATE` stores it again, a verified `ONAPPUNINSTALL` uninstalls the portal
    /// (tokens forgotten). It stores no OAuth tokens: use
    /// [`handle_lifecycle`](Self::handle_lifecycle) in event routes, which does.
    ///
    /// # Errors
    /// An `is_auth()` error when the event is not from a portal the app is installed on.
    pub async fn verify(&self, event: &Event) -> Result<Verified, bitrix24::Error> {
        event.verify(&self.application_tokens()).await
    }

    /// What every flow's event route calls first: verifies `event` and applies the app's
    /// lifecycle events (`ONAPPINSTALL` and `ONAPPUPDATE` with tokens → [`install_from_event`](
    /// Self::install_from_event); `ONAPPUNINSTALL` → tokens forgotten). Any other event is only
    /// verified. Act on the event only when this returns `Ok`.
    ///
    /// # Errors
    /// As [`install_from_event`](Self::install_from_event) and [`verify`](Self::verify)
    /// ([`PortalError::Sdk`] with `is_auth()` for a refused event).
    pub async fn handle_lifecycle(&self, event: &Event) -> Result<Verified, PortalError> {
        let has_tokens = event
            .auth
            .as_ref()
            .is_some_and(|auth| auth.tokens().is_some());
        match event.name.as_str() {
            "ONAPPINSTALL" => Ok(self.install(event).await?.1),
            "ONAPPUPDATE" if has_tokens => Ok(self.install(event).await?.1),
            "ONAPPUNINSTALL" => {
                let verified = self.verify(event).await?;
                // `verify` removed the application token through the store, which uninstalls;
                // repeated here so the outcome does not hang on a logged-only failure there.
                if let Some(member_id) = event.member_id() {
                    self.uninstall(member_id).await?;
                }
                Ok(verified)
            }
            _ => Ok(self.verify(event).await?),
        }
    }

    /// The routes: `POST /bitrix24/install`, the app's install handler (for a headless app the
    /// "install event handler" / "initial install path"; for an app with a UI its install
    /// page). It also accepts `ONAPPUPDATE` and `ONAPPUNINSTALL` if they are bound to it.
    /// Answers `200` on success, `401` for an event that fails verification or an unknown
    /// portal, `400` for an unusable request.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }
}

/// Forgets a portal's tokens and drops its client.
pub(crate) async fn forget(
    store: &Store,
    clients: &ClientCache,
    member_id: &str,
) -> Result<(), StoreError> {
    let mut clients = clients.lock().await;
    clients.remove(member_id);
    if installations::uninstall(store.pool(), member_id, now_ms()).await? {
        tracing::info!("a portal uninstalled the app; its tokens are forgotten");
    }
    Ok(())
}

/// The install handler's URL under `base` (the connector's public address).
///
/// # Errors
/// When `base` cannot be a base URL.
pub fn install_url(base: &Url) -> Result<Url, url::ParseError> {
    base.join(server::INSTALL_PATH.trim_start_matches('/'))
}

#[cfg(test)]
mod tests;
