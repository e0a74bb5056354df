//! The live OAuth state of one client and all its clones: the current tokens and the
//! single-flight refresh.
//!
//! Bitrix24 rotates the refresh token on every refresh, so two refreshes racing with the same
//! refresh token would leave one of them holding a dead token. All clones therefore share one
//! session; a refresh runs under an async mutex, and a generation counter lets every caller that
//! saw the same expired token wait for that one refresh instead of starting its own. The new
//! pair goes to the [`TokenStore`] before anyone uses it.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use super::oauth::{OAuthApp, TokenSet};
use super::secret::AccessToken;
use super::store::TokenStore;
use crate::error::{Error, Result};

/// A consistent view of the tokens at one generation.
#[derive(Debug, Clone)]
pub(crate) struct TokenView {
    pub(crate) generation: u64,
    pub(crate) access_token: AccessToken,
    pub(crate) expires_at: Option<SystemTime>,
}

#[derive(Debug)]
struct State {
    generation: u64,
    tokens: TokenSet,
}

#[derive(Debug)]
pub(crate) struct OAuthSession {
    app: OAuthApp,
    store: Arc<dyn TokenStore>,
    state: RwLock<State>,
    refresh_lock: tokio::sync::Mutex<()>,
}

/// What a refresh did.
#[derive(Debug)]
pub(crate) enum Refreshed {
    /// This caller refreshed; the new tokens are stored and in use.
    Now(Box<TokenSet>),
    /// Another caller had already refreshed since `seen_generation`.
    Already,
}

impl OAuthSession {
    pub(crate) fn new(app: OAuthApp, tokens: TokenSet, store: Arc<dyn TokenStore>) -> Self {
        Self {
            app,
            store,
            state: RwLock::new(State {
                generation: 0,
                tokens,
            }),
            refresh_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn view(&self) -> TokenView {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        TokenView {
            generation: state.generation,
            access_token: state.tokens.access_token.clone(),
            expires_at: state.tokens.expires_at,
        }
    }

    pub(crate) fn tokens(&self) -> TokenSet {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .tokens
            .clone()
    }

    pub(crate) fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// Refreshes the tokens unless someone already did since `seen_generation`.
    pub(crate) async fn refresh(
        &self,
        http: &reqwest::Client,
        seen_generation: u64,
    ) -> Result<Refreshed> {
        let _single_flight = self.refresh_lock.lock().await;
        let current = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            if state.generation != seen_generation {
                return Ok(Refreshed::Already);
            }
            state.tokens.clone()
        };
        tracing::debug!(
            generation = seen_generation,
            "refreshing the OAuth access token"
        );
        let mut fresh = self.app.refresh(http, &current.refresh_token).await?;
        // Refresh replies may leave out what the install or the previous refresh told us.
        if fresh.member_id.is_none() {
            fresh.member_id = current.member_id.clone();
        }
        if fresh.client_endpoint.is_none() {
            fresh.client_endpoint = current.client_endpoint.clone();
        }
        if fresh.server_endpoint.is_none() {
            fresh.server_endpoint = current.server_endpoint.clone();
        }
        if fresh.scope.is_empty() {
            fresh.scope.clone_from(&current.scope);
        }
        if fresh.user_id.is_none() {
            fresh.user_id = current.user_id;
        }
        let saved = self.store.save(&fresh).await;
        // The old refresh token is dead now whatever the store says, so the new pair is used
        // even when saving failed; the caller is told, because a restart would lose it.
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            state.tokens = fresh.clone();
            state.generation += 1;
        }
        if let Err(source) = saved {
            tracing::error!(
                "the refreshed OAuth tokens could not be saved; they are in use but will be lost on restart"
            );
            return Err(Error::token_store(
                "saving the refreshed OAuth tokens failed",
                source,
            ));
        }
        Ok(Refreshed::Now(Box::new(fresh)))
    }
}
