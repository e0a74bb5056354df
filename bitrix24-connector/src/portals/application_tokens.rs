//! [`SqliteApplicationTokens`]: the `application_token` of every portal, for
//! [`Event::verify`](bitrix24::events::Event::verify), in the same table as the OAuth tokens.

use std::fmt;

use bitrix24::auth::ApplicationToken;
use bitrix24::events::ApplicationTokens;

use super::ClientCache;
use super::installations;
use super::member_id::is_valid_member_id;
use crate::store::{Store, now_ms};

/// The application tokens of all portals, in the `portal_installations` table.
///
/// [`ApplicationTokens`] has no way to report a failure, so a database error is logged and
/// treated as "no token": events are refused (fail closed) rather than accepted unchecked.
/// An invalid `member_id` is likewise never looked up or stored. Removing a token (a verified
/// `ONAPPUNINSTALL`) uninstalls the portal: its OAuth tokens are forgotten too.
#[derive(Clone)]
pub struct SqliteApplicationTokens {
    store: Store,
    clients: ClientCache,
}

impl SqliteApplicationTokens {
    pub(crate) fn new(store: Store, clients: ClientCache) -> Self {
        Self { store, clients }
    }
}

impl fmt::Debug for SqliteApplicationTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteApplicationTokens")
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ApplicationTokens for SqliteApplicationTokens {
    async fn get(&self, member_id: &str) -> Option<ApplicationToken> {
        if !is_valid_member_id(member_id) {
            return None;
        }
        match installations::application_token(self.store.pool(), member_id).await {
            Ok(token) => token.map(ApplicationToken::new),
            Err(error) => {
                tracing::error!(%error, "reading an application token failed; the event is refused");
                None
            }
        }
    }

    async fn put(&self, member_id: &str, token: ApplicationToken) {
        if !is_valid_member_id(member_id) {
            return;
        }
        let put = installations::put_application_token(
            self.store.pool(),
            member_id,
            token.expose_secret(),
            now_ms(),
        )
        .await;
        if let Err(error) = put {
            tracing::error!(%error, "storing an application token failed");
        }
    }

    async fn remove(&self, member_id: &str) {
        if !is_valid_member_id(member_id) {
            return;
        }
        if let Err(error) = super::forget(&self.store, &self.clients, member_id).await {
            tracing::error!(%error, "forgetting an uninstalled portal failed");
        }
    }

    async fn put_if_absent(&self, member_id: &str, token: ApplicationToken) -> bool {
        if !is_valid_member_id(member_id) {
            return false;
        }
        installations::put_application_token_if_absent(
            self.store.pool(),
            member_id,
            token.expose_secret(),
            now_ms(),
        )
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "storing an application token failed; the install is refused");
            false
        })
    }
}
