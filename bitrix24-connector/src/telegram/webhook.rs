//! Receiving updates by webhook: `POST /telegram/webhook` stores each update in the
//! [`TelegramInbox`] before answering `200`, so an update Telegram considers delivered is on
//! disk.
//!
//! Telegram proves a request is its own with the secret token given to `setWebhook`, sent back
//! in `X-Telegram-Bot-Api-Secret-Token`; a request without the right one is refused.

use std::fmt;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine as _;
use serde_json::Value;
use teloxide_core::payloads::SetWebhookSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::AllowedUpdate;
use teloxide_core::{Bot, RequestError};
use url::Url;

use super::inbox::TelegramInbox;

/// The route [`webhook_router`] serves, relative to the public URL.
pub const WEBHOOK_PATH: &str = "telegram/webhook";

/// The header Telegram puts the secret token in.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// The largest update body accepted. Telegram's updates are a few kilobytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// The receiver's state. The secret stays out of `Debug`.
#[derive(Clone)]
struct Receiver {
    inbox: TelegramInbox,
    secret_token: String,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

/// `POST /telegram/webhook`: checks the secret token (401 when wrong or missing), reads at most
/// [`MAX_BODY`] bytes (413 beyond), stores the update (400 when it is not an update's JSON) and
/// answers 200 once it is on disk — also for an update already stored. When storage fails it
/// answers 500, so Telegram delivers the update again later.
///
/// `secret_token` must be the one given to [`set_webhook`]; an empty one refuses everything.
pub fn webhook_router(inbox: TelegramInbox, secret_token: String) -> Router {
    Router::new()
        .route(&format!("/{WEBHOOK_PATH}"), post(receive))
        .with_state(Receiver {
            inbox,
            secret_token,
        })
}

async fn receive(State(receiver): State<Receiver>, request: Request<Body>) -> StatusCode {
    // Checked before the body is read: a stranger does not get to make us buffer a megabyte.
    let presented = request
        .headers()
        .get(SECRET_HEADER)
        .map(axum::http::HeaderValue::as_bytes);
    if !secret_matches(presented, &receiver.secret_token) {
        tracing::warn!("Telegram webhook: a request without the right secret token");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let Ok(update) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if update.get("update_id").and_then(Value::as_i64).is_none() {
        return StatusCode::BAD_REQUEST;
    }
    match receiver.inbox.insert(&update).await {
        Ok(_) => StatusCode::OK,
        Err(error) => {
            tracing::error!(%error, "Telegram webhook: cannot store an update");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// Whether the presented header value is the secret, compared in constant time so response
/// timing does not reveal how much of a guess was right. An empty secret matches nothing.
fn secret_matches(presented: Option<&[u8]>, secret: &str) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    let secret = secret.as_bytes();
    if secret.is_empty() || presented.len() != secret.len() {
        // The length of the secret is not the secret: Telegram's rule allows any up to 256.
        return false;
    }
    let difference = presented
        .iter()
        .zip(secret)
        .fold(0_u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// Whether `token` is acceptable to Telegram as a webhook secret: 1 to 256 characters of
/// `A-Z`, `a-z`, `0-9`, `_` and `-`.
pub fn is_valid_secret_token(token: &str) -> bool {
    (1..=256).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A new random webhook secret: 32 random bytes as 43 characters of URL-safe base64, which
/// fits Telegram's rule (see [`is_valid_secret_token`]).
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_secret_token() -> Result<String, std::io::Error> {
    let mut random = [0_u8; 32];
    getrandom::getrandom(&mut random).map_err(|error| std::io::Error::other(error.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random))
}

/// The webhook URL for a public base URL: `public_url` joined with [`WEBHOOK_PATH`], as a
/// directory (`https://example.com/bot` → `https://example.com/bot/telegram/webhook`).
///
/// # Errors
/// When `public_url` cannot be a base (`mailto:`, `data:`).
pub fn webhook_url(public_url: &Url) -> Result<Url, url::ParseError> {
    let mut base = public_url.clone();
    if !base.path().ends_with('/') {
        // Url::join replaces the last segment of a path without a trailing slash.
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(WEBHOOK_PATH)
}

/// Points Telegram at [`webhook_router`] behind `public_url`, with `secret_token` (see
/// [`new_secret_token`]). An empty `allowed_updates` keeps Telegram's default. Pending updates
/// are kept.
///
/// # Errors
/// The request's error; a `public_url` that cannot be a base or a secret outside Telegram's
/// rule is refused before any request, as `RequestError::Api(ApiError::Unknown(..))` with the
/// reason.
pub async fn set_webhook(
    bot: &Bot,
    public_url: &Url,
    secret_token: &str,
    allowed_updates: Vec<AllowedUpdate>,
) -> Result<(), RequestError> {
    let refuse =
        |reason: &str| RequestError::Api(teloxide_core::ApiError::Unknown(reason.to_owned()));
    let url = webhook_url(public_url).map_err(|_| refuse("the public URL cannot be a base"))?;
    if !is_valid_secret_token(secret_token) {
        return Err(refuse(
            "the webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
        ));
    }
    let mut request = bot.set_webhook(url).secret_token(secret_token);
    if !allowed_updates.is_empty() {
        request = request.allowed_updates(allowed_updates);
    }
    request.await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_matches() {
        let secret = "s3cret_-TOKEN";
        assert!(secret_matches(Some(b"s3cret_-TOKEN"), secret));
        assert!(!secret_matches(Some(b"s3cret_-TOKEm"), secret));
        assert!(!secret_matches(Some(b"s3cret_-TOKEN2"), secret));
        assert!(!secret_matches(Some(b""), secret));
        assert!(!secret_matches(None, secret));
        assert!(!secret_matches(Some(b""), ""));
        assert!(!secret_matches(None, ""));
    }

    #[test]
    fn secrets_follow_telegram_rule_and_are_random() {
        let a = new_secret_token().unwrap();
        let b = new_secret_token().unwrap();
        assert_ne!(a, b);
        assert!(is_valid_secret_token(&a), "{a}");
        assert_eq!(a.len(), 43);
        assert!(!is_valid_secret_token(""));
        assert!(!is_valid_secret_token("has space"));
        assert!(!is_valid_secret_token(&"a".repeat(257)));
        assert!(is_valid_secret_token(&"a".repeat(256)));
    }

    #[test]
    fn the_webhook_url_is_below_the_public_url() {
        let url = |s: &str| webhook_url(&Url::parse(s).unwrap()).unwrap().to_string();
        assert_eq!(
            url("https://example.com"),
            "https://example.com/telegram/webhook"
        );
        assert_eq!(
            url("https://example.com/bot"),
            "https://example.com/bot/telegram/webhook"
        );
        assert_eq!(
            url("https://example.com/bot/"),
            "https://example.com/bot/telegram/webhook"
        );
    }
}
