//! Webhook delivery: one update at a time, in order, retried with backoff.

use std::sync::Arc;

use super::record::WebhookAttempt;
use super::shared::Shared;
use super::state::{PendingUpdate, Webhook, now};

const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// Delivers queued updates while a webhook is set; returns on shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut changes = shared.subscribe();
    let mut shutdown = shared.shutdown.clone();
    loop {
        changes.borrow_and_update();
        let next = {
            let mut state = shared.lock();
            let webhook = state.webhook.clone();
            // Updates the filter excludes are never delivered; drop them as Telegram does.
            while let Some(front) = state.updates.front() {
                if state.allows(front.kind) {
                    break;
                }
                state.updates.pop_front();
            }
            webhook.zip(state.updates.front().cloned())
        };
        if let Some((webhook, update)) = next {
            tokio::select! {
                () = deliver(&shared, &webhook, &update) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        tokio::select! {
            result = changes.changed() => if result.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// Posts one update until the receiver accepts it or the attempts run out. Telegram retries
/// for much longer; a test wants a bounded outcome, so the update is dropped after the last
/// attempt and the failure is reported by `getWebhookInfo`.
async fn deliver(shared: &Shared, webhook: &Webhook, update: &PendingUpdate) {
    let mut backoff = shared.retry.first_backoff;
    for attempt in 1..=shared.retry.attempts.max(1) {
        let mut request = shared.http.post(webhook.url.clone()).json(&update.body);
        if let Some(secret) = &webhook.secret_token {
            request = request.header(SECRET_HEADER, secret);
        }
        let status = request.send().await.map(|r| r.status()).ok();
        let delivered = status.is_some_and(|s| s.is_success());
        let still_current = shared.modify(|state| {
            state.webhook_attempts.push(WebhookAttempt {
                update_id: update.id,
                attempt,
                status: status.map(|s| s.as_u16()),
            });
            if !delivered {
                let message = status.map_or_else(
                    || "Connection refused".to_owned(),
                    |s| format!("Wrong response from the webhook: {s}"),
                );
                state.last_webhook_error = Some((now(), message));
            }
            state.webhook.as_ref().is_some_and(|w| w.url == webhook.url)
        });
        if delivered || attempt == shared.retry.attempts.max(1) {
            shared.modify(|state| state.updates.retain(|u| u.id != update.id));
            return;
        }
        if !still_current {
            // The webhook changed or went away; the update is left for whoever takes over.
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = backoff.saturating_mul(2);
    }
}
