//! Long polling: `getUpdates` into the [`TelegramInbox`].
//!
//! Each batch is stored before the next `getUpdates` call, whose offset
//! ([`TelegramInbox::next_offset`]) is what confirms the batch to Telegram: a crash between the
//! two only makes Telegram send the batch again, and the inbox ignores what it already has.
//!
//! `getUpdates` is called with `reqwest` rather than through teloxide so the inbox gets each
//! update exactly as Telegram sent it: teloxide parses into `Update`, which drops fields it does
//! not model.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use teloxide_core::requests::Requester;
use teloxide_core::types::AllowedUpdate;
use teloxide_core::{ApiError, Bot, RequestError};

use super::inbox::TelegramInbox;

/// How [`poll`] talks to Telegram.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PollSettings {
    /// How long one `getUpdates` waits for an update (Telegram's long poll). 25 s by default.
    pub timeout: Duration,
    /// Most updates per call, 1 to 100. 100 by default.
    pub limit: u8,
    /// The first pause after a failure; doubled each time up to [`max_backoff`](Self::max_backoff).
    /// 1 s by default.
    pub first_backoff: Duration,
    /// The longest pause after failures. 30 s by default.
    pub max_backoff: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(25),
            limit: 100,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl PollSettings {
    /// Sets [`timeout`](Self::timeout).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`limit`](Self::limit) (clamped to 1..=100).
    #[must_use]
    pub fn limit(mut self, limit: u8) -> Self {
        self.limit = limit.clamp(1, 100);
        self
    }

    /// Sets the pauses after failures.
    #[must_use]
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }
}

/// Why [`poll`] stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// Telegram does not know the token (401): polling again will not help.
    #[error("Telegram refused the bot token (revoked or mistyped)")]
    Unauthorized,
}

/// What one `getUpdates` call gave.
#[derive(Debug)]
enum Fetch {
    Updates(Vec<Value>),
    /// Telegram asked to wait (429).
    RetryAfter(Duration),
    /// 409: a webhook is set or another process polls with this token.
    Conflict(String),
    Unauthorized,
    /// Network trouble, 5xx, a reply that is not Telegram's.
    Failed(String),
}

#[derive(Debug, Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    result: Option<Vec<Value>>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

/// Receives updates by long polling into `inbox` until `shutdown` resolves.
///
/// Deletes any webhook first (pending updates are kept), since Telegram refuses `getUpdates`
/// while one is set. Network failures and 5xx are retried with a growing pause (1 s to 30 s by
/// default), as are storage failures (the batch is fetched again) and 409 Conflict (a webhook
/// set again, or another poller with the same token — logged, since only one may run).
///
/// # Errors
/// [`PollError::Unauthorized`] when Telegram refuses the token.
pub async fn poll(
    bot: Bot,
    inbox: TelegramInbox,
    allowed_updates: Vec<AllowedUpdate>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), PollError> {
    poll_with(
        bot,
        inbox,
        allowed_updates,
        PollSettings::default(),
        shutdown,
    )
    .await
}

/// [`poll`] with explicit [`PollSettings`].
///
/// # Errors
/// As [`poll`].
pub async fn poll_with(
    bot: Bot,
    inbox: TelegramInbox,
    allowed_updates: Vec<AllowedUpdate>,
    settings: PollSettings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), PollError> {
    tokio::pin!(shutdown);
    let mut backoff = Backoff::new(&settings);
    loop {
        let deleted = tokio::select! {
            () = &mut shutdown => return Ok(()),
            result = bot.delete_webhook() => result,
        };
        match deleted {
            Ok(_) => break,
            Err(RequestError::Api(ApiError::InvalidToken)) => return Err(PollError::Unauthorized),
            Err(error) => {
                let pause = backoff.next();
                tracing::warn!(%error, ?pause, "Telegram: cannot delete the webhook; retrying");
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
    backoff.reset();
    loop {
        let offset = match inbox.next_offset().await {
            Ok(offset) => offset,
            Err(error) => {
                let pause = backoff.next();
                tracing::error!(%error, ?pause, "Telegram polling: storage failed");
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = tokio::time::sleep(pause) => {}
                }
                continue;
            }
        };
        let fetched = tokio::select! {
            // Dropping an in-flight call loses nothing: its updates are not confirmed.
            () = &mut shutdown => return Ok(()),
            fetched = get_updates(&bot, offset, &allowed_updates, &settings) => fetched,
        };
        let pause = match fetched {
            Fetch::Updates(updates) => match store_all(&inbox, &updates).await {
                Ok(()) => {
                    backoff.reset();
                    continue;
                }
                Err(error) => {
                    let pause = backoff.next();
                    tracing::error!(%error, ?pause, "Telegram polling: storage failed");
                    pause
                }
            },
            Fetch::RetryAfter(pause) => {
                tracing::warn!(?pause, "Telegram polling: flood limit");
                pause
            }
            Fetch::Conflict(description) => {
                let pause = backoff.next();
                tracing::warn!(
                    %description,
                    ?pause,
                    "Telegram polling: conflict (a webhook is set or another process polls \
                     with this token)"
                );
                pause
            }
            Fetch::Unauthorized => return Err(PollError::Unauthorized),
            Fetch::Failed(reason) => {
                let pause = backoff.next();
                tracing::warn!(%reason, ?pause, "Telegram polling failed; retrying");
                pause
            }
        };
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(pause) => {}
        }
    }
}

async fn store_all(
    inbox: &TelegramInbox,
    updates: &[Value],
) -> Result<(), crate::store::StoreError> {
    for update in updates {
        if update.get("update_id").and_then(Value::as_i64).is_none() {
            // Cannot be stored by id, and cannot block the offset either: the next one confirms it.
            tracing::error!("Telegram sent an update without update_id; skipped");
            continue;
        }
        inbox.insert(update).await?;
    }
    Ok(())
}

async fn get_updates(
    bot: &Bot,
    offset: i64,
    allowed_updates: &[AllowedUpdate],
    settings: &PollSettings,
) -> Fetch {
    let mut url = bot.api_url();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
        segments.push(&format!("bot{}", bot.token()));
        segments.push("getUpdates");
    } else {
        return Fetch::Failed("the API URL cannot take a path".into());
    }
    let mut body = json!({
        "offset": offset,
        "limit": settings.limit.clamp(1, 100),
        "timeout": settings.timeout.as_secs(),
    });
    if !allowed_updates.is_empty() {
        body["allowed_updates"] = json!(allowed_updates);
    }
    let response = bot
        .client()
        .post(url)
        .json(&body)
        // The client's own timeout (teloxide's default is 17 s) would cut a longer long poll.
        .timeout(settings.timeout + Duration::from_secs(10))
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        // without_url: the URL carries the token.
        Err(error) => return Fetch::Failed(error.without_url().to_string()),
    };
    let status = response.status();
    let envelope: Envelope = match response.json().await {
        Ok(envelope) => envelope,
        Err(error) => {
            return Fetch::Failed(format!("HTTP {status}: {}", error.without_url()));
        }
    };
    classify(status.as_u16(), envelope)
}

fn classify(status: u16, envelope: Envelope) -> Fetch {
    if envelope.ok {
        return Fetch::Updates(envelope.result.unwrap_or_default());
    }
    let code = envelope.error_code.unwrap_or(status);
    let description = envelope.description.unwrap_or_default();
    match code {
        401 | 404 => Fetch::Unauthorized,
        409 => Fetch::Conflict(description),
        429 => Fetch::RetryAfter(Duration::from_secs(
            envelope
                .parameters
                .and_then(|p| p.retry_after)
                .unwrap_or(1)
                .max(1),
        )),
        _ => Fetch::Failed(format!("{code} {description}")),
    }
}

struct Backoff {
    first: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    fn new(settings: &PollSettings) -> Self {
        Self {
            first: settings.first_backoff,
            max: settings.max_backoff.max(settings.first_backoff),
            current: settings.first_backoff,
        }
    }

    fn next(&mut self) -> Duration {
        let pause = self.current;
        self.current = self.current.saturating_mul(2).min(self.max);
        pause
    }

    fn reset(&mut self) {
        self.current = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(value: Value) -> Envelope {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn replies_are_classified_by_telegram_error_code() {
        let ok = classify(
            200,
            envelope(json!({"ok": true, "result": [{"update_id": 1}]})),
        );
        assert!(matches!(ok, Fetch::Updates(u) if u.len() == 1));
        let conflict = classify(
            409,
            envelope(json!({"ok": false, "error_code": 409, "description": "Conflict: x"})),
        );
        assert!(matches!(conflict, Fetch::Conflict(_)));
        let unauthorized = classify(
            401,
            envelope(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        );
        assert!(matches!(unauthorized, Fetch::Unauthorized));
        let flood = classify(
            429,
            envelope(json!({"ok": false, "error_code": 429, "parameters": {"retry_after": 7}})),
        );
        assert!(matches!(flood, Fetch::RetryAfter(d) if d == Duration::from_secs(7)));
        let down = classify(502, envelope(json!({"ok": false})));
        assert!(matches!(down, Fetch::Failed(_)));
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap_and_resets() {
        let settings = PollSettings::default();
        let mut backoff = Backoff::new(&settings);
        let pauses: Vec<_> = (0..7).map(|_| backoff.next().as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 30, 30]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_secs(1));
    }
}
