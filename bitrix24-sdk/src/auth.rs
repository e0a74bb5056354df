//! Authentication: incoming webhooks and OAuth 2.0 applications.
//!
//! - [`WebhookUrl`]: an incoming webhook, `https://{portal}/rest/{user_id}/{secret}/`. Calls run
//!   as the webhook's user with the scopes picked for it.
//! - [`OAuthApp`] + [`TokenSet`] + a [`TokenStore`]: an application. The access token lives an
//!   hour; when the portal answers `expired_token`, the client refreshes it once for all clones,
//!   saves the new pair through the store and repeats the call.
//!
//! Every secret is a newtype whose `Debug` prints `[redacted]` and which has no `Display`.

mod oauth;
mod secret;
pub(crate) mod session;
mod store;
mod webhook;

pub use oauth::{AuthorizationCallback, CsrfState, OAuthApp, TokenSet};
pub use secret::{
    AccessToken, ApplicationToken, ClientSecret, RefreshToken, WebhookSecret, constant_time_eq,
};
pub use store::{JsonFileTokenStore, MemoryTokenStore, TokenStore};
pub use webhook::WebhookUrl;
