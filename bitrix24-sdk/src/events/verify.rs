//! Verifying that an event comes from the portal: `auth[application_token]` against the token
//! stored for `auth[member_id]`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::Event;
use crate::auth::{ApplicationToken, constant_time_eq};
use crate::error::{Error, Result};

/// Where the `application_token` of each portal the app is installed on is kept, keyed by
/// `member_id`.
///
/// [`Event::verify`] reads it for every event, writes it on `ONAPPINSTALL` and
/// `ONAPPUPDATE`, and removes the entry on `ONAPPUNINSTALL`. Keep it durable (a database
/// table next to the OAuth tokens): if it is lost, every event of every portal is rejected
/// until the app is installed again. [`MemoryApplicationTokens`] is for tests and
/// single-process demos.
#[async_trait]
pub trait ApplicationTokens: Send + Sync {
    /// The token stored for `member_id`.
    async fn get(&self, member_id: &str) -> Option<ApplicationToken>;

    /// Stores `token` for `member_id`, replacing any previous one.
    async fn put(&self, member_id: &str, token: ApplicationToken);

    /// Forgets the token of `member_id`.
    async fn remove(&self, member_id: &str);

    /// Stores `token` for `member_id` unless one is stored already; `true` when it stored it.
    ///
    /// Used on a first install, so that two concurrent install events for the same portal
    /// cannot both register different tokens. The default reads then writes (not atomic);
    /// override it with a conditional insert (`INSERT … ON CONFLICT DO NOTHING`) where the
    /// storage has one.
    async fn put_if_absent(&self, member_id: &str, token: ApplicationToken) -> bool {
        if self.get(member_id).await.is_some() {
            return false;
        }
        self.put(member_id, token).await;
        true
    }
}

#[async_trait]
impl<T: ApplicationTokens + ?Sized> ApplicationTokens for Arc<T> {
    async fn get(&self, member_id: &str) -> Option<ApplicationToken> {
        (**self).get(member_id).await
    }

    async fn put(&self, member_id: &str, token: ApplicationToken) {
        (**self).put(member_id, token).await;
    }

    async fn remove(&self, member_id: &str) {
        (**self).remove(member_id).await;
    }

    async fn put_if_absent(&self, member_id: &str, token: ApplicationToken) -> bool {
        (**self).put_if_absent(member_id, token).await
    }
}

/// Application tokens kept in memory: for tests, demos and single-process apps that re-read
/// them from elsewhere at start-up. Lost on restart.
#[derive(Default)]
pub struct MemoryApplicationTokens {
    tokens: Mutex<HashMap<String, ApplicationToken>>,
}

impl MemoryApplicationTokens {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that already knows `token` for `member_id`.
    #[must_use]
    pub fn with_token(self, member_id: impl Into<String>, token: ApplicationToken) -> Self {
        self.lock().insert(member_id.into(), token);
        self
    }

    /// How many portals have a token.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no portal has a token.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ApplicationToken>> {
        // A panic while holding the lock cannot leave the map half-written: every operation
        // is a single insert or remove.
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryApplicationTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryApplicationTokens")
            .field("portals", &self.len())
            .finish()
    }
}

#[async_trait]
impl ApplicationTokens for MemoryApplicationTokens {
    async fn get(&self, member_id: &str) -> Option<ApplicationToken> {
        self.lock().get(member_id).cloned()
    }

    async fn put(&self, member_id: &str, token: ApplicationToken) {
        self.lock().insert(member_id.to_owned(), token);
    }

    async fn remove(&self, member_id: &str) {
        self.lock().remove(member_id);
    }

    async fn put_if_absent(&self, member_id: &str, token: ApplicationToken) -> bool {
        let mut tokens = self.lock();
        if tokens.contains_key(member_id) {
            return false;
        }
        tokens.insert(member_id.to_owned(), token);
        true
    }
}

/// How an event passed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verified {
    /// The token matched the one stored for the portal.
    Matched,
    /// `ONAPPINSTALL` from a portal with no stored token: its token is now stored.
    Installed,
    /// `ONAPPINSTALL` from a portal already known, with the same token.
    Reinstalled,
    /// `ONAPPUPDATE` with the stored token; stored again.
    Updated,
    /// `ONAPPUNINSTALL` with the stored token; the stored token is now removed.
    Uninstalled,
    /// The token matched an outgoing webhook's fixed token.
    Outgoing,
}

fn rejected(reason: &str) -> Error {
    Error::auth(format!("inbound event rejected: {reason}"), None)
}

/// `a == b` in constant time.
fn same(a: &ApplicationToken, b: &ApplicationToken) -> bool {
    constant_time_eq(a.expose_secret().as_bytes(), b.expose_secret().as_bytes())
}

impl Event {
    /// The `member_id` and `application_token` to verify by, or why the event has none.
    fn credentials(&self) -> Result<(&str, &ApplicationToken)> {
        let auth = self
            .auth
            .as_ref()
            .ok_or_else(|| rejected("it has no auth block"))?;
        let member = auth
            .member_id
            .as_deref()
            .filter(|member| !member.trim().is_empty())
            .ok_or_else(|| rejected("it has no auth[member_id]"))?;
        let token = auth
            .application_token
            .as_ref()
            .filter(|token| !token.expose_secret().is_empty())
            .ok_or_else(|| rejected("it has no auth[application_token]"))?;
        Ok((member, token))
    }

    /// Verifies an event sent to an **application**: `auth[application_token]` must equal, in
    /// constant time, the token stored for `auth[member_id]`. Call it before touching any data.
    ///
    /// The lifecycle events also maintain the store. The trust rule:
    /// - `ONAPPINSTALL` for a `member_id` with no stored token is accepted and its token
    ///   stored ([`Verified::Installed`]): the first install is trusted, since nothing else is
    ///   known about the portal yet (Bitrix24 documents no signature). For a known `member_id`
    ///   the token must match ([`Verified::Reinstalled`]); a different token is rejected, since
    ///   it cannot be told from a forgery. If the app was removed while its `ONAPPUNINSTALL`
    ///   was lost (Bitrix24 does not retry), remove the stale entry with
    ///   [`ApplicationTokens::remove`] before installing again.
    /// - `ONAPPUPDATE` must carry the stored token, and stores it again
    ///   ([`Verified::Updated`]).
    /// - `ONAPPUNINSTALL` must carry the stored token; the entry is removed only after that
    ///   check ([`Verified::Uninstalled`]), so a forged uninstall cannot lock a portal out.
    /// - Any other event must carry the stored token ([`Verified::Matched`]); an unknown
    ///   `member_id` is rejected.
    ///
    /// Use [`verify_outgoing`](Self::verify_outgoing) for outgoing webhooks instead.
    ///
    /// # Errors
    /// [`ErrorKind::Auth`](crate::ErrorKind::Auth) when the event has no `auth[member_id]` or
    /// `auth[application_token]`, the portal is unknown, or the token does not match. The
    /// message says which, and never contains a token.
    pub async fn verify<S: ApplicationTokens + ?Sized>(&self, store: &S) -> Result<Verified> {
        let (member, received) = self.credentials()?;
        let stored = store.get(member).await;
        match self.name.as_str() {
            "ONAPPINSTALL" => match stored {
                None => {
                    if store.put_if_absent(member, received.clone()).await {
                        return Ok(Verified::Installed);
                    }
                    // Another install of the same portal won the race: compare with it.
                    match store.get(member).await {
                        Some(winner) if same(&winner, received) => Ok(Verified::Reinstalled),
                        _ => Err(rejected(
                            "a concurrent ONAPPINSTALL registered a different application_token for this member_id",
                        )),
                    }
                }
                Some(stored) if same(&stored, received) => Ok(Verified::Reinstalled),
                Some(_) => Err(rejected(
                    "ONAPPINSTALL for an installed member_id carries a different application_token \
                     (remove the stored token first if the app was really reinstalled)",
                )),
            },
            name => {
                let stored = stored.ok_or_else(|| {
                    rejected(
                        "no application_token is stored for its member_id (the app is not installed \
                         there, or its ONAPPINSTALL was never received)",
                    )
                })?;
                if !same(&stored, received) {
                    return Err(rejected(
                        "auth[application_token] does not match the token stored for its member_id",
                    ));
                }
                match name {
                    "ONAPPUPDATE" => {
                        store.put(member, received.clone()).await;
                        Ok(Verified::Updated)
                    }
                    "ONAPPUNINSTALL" => {
                        store.remove(member).await;
                        Ok(Verified::Uninstalled)
                    }
                    _ => Ok(Verified::Matched),
                }
            }
        }
    }

    /// Verifies an event sent to an **outgoing webhook**: `auth[application_token]` must equal,
    /// in constant time, the fixed token shown when the webhook was created.
    ///
    /// # Errors
    /// [`ErrorKind::Auth`](crate::ErrorKind::Auth) when the event has no
    /// `auth[application_token]` or it does not match; the message never contains a token.
    pub fn verify_outgoing(&self, expected: &ApplicationToken) -> Result<()> {
        let (_, received) = self.credentials()?;
        if same(expected, received) {
            Ok(())
        } else {
            Err(rejected(
                "auth[application_token] does not match the outgoing webhook's token",
            ))
        }
    }
}

/// What an HTTP endpoint accepts: events of an application (checked against a token store),
/// events of outgoing webhooks (checked against fixed tokens), or both.
///
/// This is the state the axum extractor reads (through `FromRef`), and it can be used without
/// axum through [`verify`](Self::verify).
#[derive(Clone)]
pub struct EventVerifier {
    store: Option<Arc<dyn ApplicationTokens>>,
    outgoing: Vec<ApplicationToken>,
    body_limit: usize,
}

impl EventVerifier {
    /// The default cap on an event body: 1 MiB. Real events are a few kilobytes.
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

    /// Verifies application events against `store` (see [`Event::verify`]).
    pub fn new(store: impl ApplicationTokens + 'static) -> Self {
        Self::from_shared(Arc::new(store))
    }

    /// Like [`new`](Self::new), for a store already shared.
    pub fn from_shared(store: Arc<dyn ApplicationTokens>) -> Self {
        Self {
            store: Some(store),
            outgoing: Vec::new(),
            body_limit: Self::DEFAULT_BODY_LIMIT,
        }
    }

    /// Verifies outgoing-webhook events against `token`, the webhook's fixed
    /// `application_token` (see [`Event::verify_outgoing`]).
    pub fn outgoing(token: ApplicationToken) -> Self {
        Self {
            store: None,
            outgoing: vec![token],
            body_limit: Self::DEFAULT_BODY_LIMIT,
        }
    }

    /// Also accepts events carrying `token`, an outgoing webhook's fixed token.
    #[must_use]
    pub fn with_outgoing(mut self, token: ApplicationToken) -> Self {
        self.outgoing.push(token);
        self
    }

    /// Caps the body size the axum extractor reads (default
    /// [`DEFAULT_BODY_LIMIT`](Self::DEFAULT_BODY_LIMIT)).
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The body-size cap.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The application-token store, if any.
    pub fn store(&self) -> Option<&Arc<dyn ApplicationTokens>> {
        self.store.as_ref()
    }

    /// Verifies `event`: first against the outgoing-webhook tokens (every one is compared,
    /// in constant time), then against the store.
    ///
    /// # Errors
    /// [`ErrorKind::Auth`](crate::ErrorKind::Auth), as [`Event::verify`] and
    /// [`Event::verify_outgoing`].
    pub async fn verify(&self, event: &Event) -> Result<Verified> {
        if !self.outgoing.is_empty() {
            let (_, received) = event.credentials()?;
            // `|`, not `any`: compare with every token so the time does not say which matched.
            let matched = self
                .outgoing
                .iter()
                .fold(false, |found, token| found | same(token, received));
            if matched {
                return Ok(Verified::Outgoing);
            }
        }
        match &self.store {
            Some(store) => event.verify(&**store).await,
            None => Err(rejected(
                "auth[application_token] does not match the outgoing webhook's token",
            )),
        }
    }
}

impl fmt::Debug for EventVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventVerifier")
            .field(
                "store",
                &self.store.as_ref().map(|_| "dyn ApplicationTokens"),
            )
            .field("outgoing_tokens", &self.outgoing.len())
            .field("body_limit", &self.body_limit)
            .finish()
    }
}
