//! [`SqliteTokenStore`]: one portal's OAuth token pair in the connector's database, where the
//! SDK saves every refreshed pair before using it.

use std::fmt;

use bitrix24::TokenSet;
use bitrix24::auth::TokenStore;
use bitrix24::error::BoxError;

use super::PortalError;
use super::installations;
use super::member_id::validate_member_id;
use crate::store::{Store, StoreError, now_ms};

/// The OAuth tokens of one portal (`member_id`) in the `portal_installations` table.
///
/// It belongs to one install: once the portal uninstalls the app or installs it again, saving
/// fails instead of overwriting the newer state with a pair of the dead install. Saving is a
/// single durable (`synchronous = FULL`) update, so a saved pair survives a crash.
#[derive(Clone)]
pub struct SqliteTokenStore {
    store: Store,
    member_id: String,
    install_seq: i64,
}

impl SqliteTokenStore {
    /// The store of the current install of `member_id`.
    ///
    /// # Errors
    /// [`PortalError::BadInstall`] for an invalid `member_id`, [`PortalError::NotInstalled`]
    /// when the app is not installed there, [`PortalError::Store`] when the database fails.
    pub async fn open(store: Store, member_id: &str) -> Result<Self, PortalError> {
        validate_member_id(member_id)?;
        let stored = installations::load_tokens(store.pool(), member_id)
            .await?
            .ok_or_else(|| PortalError::NotInstalled(member_id.to_owned()))?;
        Ok(Self::for_install(store, member_id, stored.install_seq))
    }

    pub(crate) fn for_install(store: Store, member_id: &str, install_seq: i64) -> Self {
        Self {
            store,
            member_id: member_id.to_owned(),
            install_seq,
        }
    }

    /// The portal whose tokens these are.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }
}

impl fmt::Debug for SqliteTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteTokenStore")
            .field("member_id", &self.member_id)
            .field("install_seq", &self.install_seq)
            .finish_non_exhaustive()
    }
}

/// Why a refreshed pair was not saved: its install is gone.
#[derive(Debug, thiserror::Error)]
#[error(
    "the portal uninstalled the app or installed it again since this client was made; \
     the refreshed tokens were not saved"
)]
struct InstallGone;

#[async_trait::async_trait]
impl TokenStore for SqliteTokenStore {
    async fn load(&self) -> Result<Option<TokenSet>, BoxError> {
        let stored = installations::load_tokens(self.store.pool(), &self.member_id).await?;
        Ok(stored
            .filter(|stored| stored.install_seq == self.install_seq)
            .map(|stored| stored.tokens))
    }

    async fn save(&self, tokens: &TokenSet) -> Result<(), BoxError> {
        let saved = installations::save_tokens(
            self.store.pool(),
            &self.member_id,
            self.install_seq,
            tokens,
            now_ms(),
        )
        .await
        .map_err(|error: StoreError| Box::new(error) as BoxError)?;
        if saved {
            Ok(())
        } else {
            Err(Box::new(InstallGone))
        }
    }
}
