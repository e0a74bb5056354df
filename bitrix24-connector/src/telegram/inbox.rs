//! The durable inbox of Telegram updates: every update is on disk before Telegram is told it
//! was received (the next `getUpdates` offset, or the webhook's `200`), and is handed to the
//! flow that handles it under a lease, retried, and never lost.
//!
//! Updates of one chat are handed out one at a time, in `update_id` order: a customer's message
//! and its later edit must reach the portal in the order they were written.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::Row;
use teloxide_core::types::Update;
use tokio::sync::Notify;

use crate::store::{Store, StoreError, now_ms};

/// Top-level update fields whose object carries the chat directly as `chat`.
const CHAT_CARRIERS: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// The inbox of one bot in the connector's [`Store`].
#[derive(Clone)]
pub struct TelegramInbox {
    store: Store,
    bot_id: i64,
    wake: Arc<Notify>,
}

impl fmt::Debug for TelegramInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramInbox")
            .field("bot_id", &self.bot_id)
            .finish_non_exhaustive()
    }
}

/// An update claimed for handling.
#[derive(Debug, Clone)]
pub struct InboxUpdate {
    /// Telegram's `update_id`.
    pub update_id: i64,
    /// The update exactly as received.
    pub raw: Value,
    /// The update as teloxide reads it; `None` when it does not parse (it is still stored and
    /// can be handled from [`raw`](Self::raw)). Kinds teloxide does not know parse as
    /// `UpdateKind::Error`.
    pub update: Option<Update>,
    /// Attempts before this one.
    pub attempts: u32,
}

/// The bot id of a token: the number before `:` (`123456:ABC…` → `123456`), which Telegram
/// also uses as the bot's user id. `None` when the token does not have that shape.
pub fn bot_id_of_token(token: &str) -> Option<i64> {
    token.split_once(':').and_then(|(id, _)| id.parse().ok())
}

/// The chat an update belongs to, for ordering: `message.chat.id` and the like,
/// `callback_query.message.chat.id` for a button press. `None` for updates outside any chat
/// (inline queries, polls, a button under an inline-mode message).
pub fn update_chat_id(update: &Value) -> Option<i64> {
    if let Some(query) = update.get("callback_query") {
        return query.get("message")?.get("chat")?.get("id")?.as_i64();
    }
    CHAT_CARRIERS
        .iter()
        .find_map(|field| update.get(field)?.get("chat")?.get("id")?.as_i64())
}

impl TelegramInbox {
    /// The inbox of the bot `bot_id` (see [`bot_id_of_token`]) in `store`.
    pub fn new(store: Store, bot_id: i64) -> Self {
        Self {
            store,
            bot_id,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The bot this inbox belongs to.
    pub fn bot_id(&self) -> i64 {
        self.bot_id
    }

    /// Stores an update (raw JSON as received) unless its `update_id` was seen. Returns `true`
    /// when it was new. When it returns `Ok`, the update is on disk.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the JSON has no integer `update_id` (it is not an update),
    /// [`StoreError::Database`] when the database fails.
    pub async fn insert(&self, update: &Value) -> Result<bool, StoreError> {
        let update_id = update
            .get("update_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| StoreError::Corrupt("a Telegram update without update_id".into()))?;
        let raw = serde_json::to_string(update)
            .map_err(|error| StoreError::Corrupt(format!("update does not serialize: {error}")))?;
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO telegram_updates \
             (bot_id, update_id, chat_id, raw, received_at, state, next_attempt_at) \
             VALUES (?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
        )
        .bind(self.bot_id)
        .bind(update_id)
        .bind(update_chat_id(update))
        .bind(raw)
        .bind(now)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        let new = inserted.rows_affected() == 1;
        if new {
            // notify_one keeps a permit when no worker is waiting yet, so no wake-up is lost.
            self.wake.notify_one();
        }
        Ok(new)
    }

    /// Claims up to `limit` due updates for `lease`, oldest `update_id` first.
    ///
    /// Never more than one update of a chat at a time: an update is only handed out when no
    /// earlier update of its chat is still pending (claimed, or waiting for a retry). Updates
    /// outside any chat are not ordered.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<InboxUpdate>, StoreError> {
        let now = now_ms();
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "UPDATE telegram_updates SET lease_until = ?1 \
             WHERE bot_id = ?2 AND update_id IN ( \
                 SELECT u.update_id FROM telegram_updates u \
                 WHERE u.bot_id = ?2 AND u.state = 'pending' \
                   AND u.next_attempt_at <= ?3 AND u.lease_until <= ?3 \
                   AND (u.chat_id IS NULL OR NOT EXISTS ( \
                       SELECT 1 FROM telegram_updates e \
                       WHERE e.bot_id = ?2 AND e.chat_id = u.chat_id \
                         AND e.state = 'pending' AND e.update_id < u.update_id)) \
                 ORDER BY u.update_id LIMIT ?4) \
             RETURNING update_id, raw, attempts",
        )
        .bind(now.saturating_add(lease_ms))
        .bind(self.bot_id)
        .bind(now)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                let raw: String = row.try_get("raw")?;
                let raw: Value = serde_json::from_str(&raw)
                    .map_err(|error| StoreError::Corrupt(format!("stored update: {error}")))?;
                let update = serde_json::from_value(raw.clone()).ok();
                Ok(InboxUpdate {
                    update_id: row.try_get("update_id")?,
                    raw,
                    update,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // RETURNING gives rows in no particular order.
        claimed.sort_by_key(|u| u.update_id);
        Ok(claimed)
    }

    /// Releases every claim of this bot: a worker starting up takes over what a previous
    /// process (killed, crashed) had claimed instead of waiting for those leases to run out.
    /// One worker per bot and database.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        let released = sqlx::query(
            "UPDATE telegram_updates SET lease_until = 0 \
             WHERE bot_id = ? AND state = 'pending' AND lease_until > 0",
        )
        .bind(self.bot_id)
        .execute(self.store.pool())
        .await?;
        Ok(released.rows_affected())
    }

    /// Marks an update handled; the next update of its chat becomes claimable.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn done(&self, update_id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE telegram_updates SET state = 'done', attempts = attempts + 1, \
             last_error = NULL, lease_until = 0, finished_at = ? \
             WHERE bot_id = ? AND update_id = ?",
        )
        .bind(now_ms())
        .bind(self.bot_id)
        .bind(update_id)
        .execute(self.store.pool())
        .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Schedules another attempt after `delay`, remembering why this one failed. Later updates
    /// of the same chat wait for it.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn retry_later(
        &self,
        update_id: i64,
        error: &str,
        delay: Duration,
    ) -> Result<(), StoreError> {
        let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE telegram_updates SET attempts = attempts + 1, last_error = ?, \
             next_attempt_at = ?, lease_until = 0 WHERE bot_id = ? AND update_id = ?",
        )
        .bind(error)
        .bind(now_ms().saturating_add(delay))
        .bind(self.bot_id)
        .bind(update_id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Gives up on an update (it stays stored, with the reason); the next update of its chat
    /// becomes claimable.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn fail(&self, update_id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE telegram_updates SET state = 'failed', attempts = attempts + 1, \
             last_error = ?, lease_until = 0, finished_at = ? WHERE bot_id = ? AND update_id = ?",
        )
        .bind(error)
        .bind(now_ms())
        .bind(self.bot_id)
        .bind(update_id)
        .execute(self.store.pool())
        .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// The `getUpdates` offset: the largest stored `update_id` plus one, 0 when none is stored.
    /// Handled updates are kept so this survives them.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn next_offset(&self) -> Result<i64, StoreError> {
        let max: Option<i64> =
            sqlx::query_scalar("SELECT max(update_id) FROM telegram_updates WHERE bot_id = ?")
                .bind(self.bot_id)
                .fetch_one(self.store.pool())
                .await?;
        Ok(max.map_or(0, |id| id.saturating_add(1)))
    }

    /// When the next pending update falls due or its lease runs out (Unix milliseconds), for a
    /// worker's idle wait.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT min(max(next_attempt_at, lease_until)) FROM telegram_updates \
             WHERE bot_id = ? AND state = 'pending'",
        )
        .bind(self.bot_id)
        .fetch_one(self.store.pool())
        .await?)
    }

    /// Notified on every newly stored update and every finished one (which may unblock the
    /// next update of its chat): a worker waits on it instead of polling the database.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_chat_is_found_wherever_the_update_kind_keeps_it() {
        let chat = json!({"id": -1_000_042, "type": "supergroup"});
        for kind in [
            "message",
            "edited_message",
            "my_chat_member",
            "chat_join_request",
        ] {
            let update = json!({"update_id": 1, kind: {"chat": chat}});
            assert_eq!(update_chat_id(&update), Some(-1_000_042), "{kind}");
        }
        let press = json!({"update_id": 2, "callback_query": {
            "id": "q", "message": {"message_id": 5, "chat": {"id": 1001}}}});
        assert_eq!(update_chat_id(&press), Some(1001));
        let inline_press =
            json!({"update_id": 3, "callback_query": {"id": "q", "inline_message_id": "x"}});
        assert_eq!(update_chat_id(&inline_press), None);
        assert_eq!(
            update_chat_id(&json!({"update_id": 4, "inline_query": {"id": "i"}})),
            None
        );
        assert_eq!(
            update_chat_id(&json!({"update_id": 5, "poll": {"id": "p"}})),
            None
        );
    }

    #[test]
    fn the_bot_id_is_the_number_before_the_colon() {
        assert_eq!(bot_id_of_token("123456:ABC-def"), Some(123_456));
        assert_eq!(bot_id_of_token("not-a-token"), None);
        assert_eq!(bot_id_of_token("x:y"), None);
    }

    async fn inbox() -> (tempfile::TempDir, TelegramInbox) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("c.db")).await.unwrap();
        (dir, TelegramInbox::new(store, 1))
    }

    #[tokio::test]
    async fn a_failed_update_unblocks_its_chat_and_a_retried_one_keeps_it_blocked() {
        let (_dir, inbox) = inbox().await;
        for id in 1..=3 {
            inbox
                .insert(&json!({"update_id": id, "message": {"chat": {"id": 7}}}))
                .await
                .unwrap();
        }
        let lease = Duration::from_secs(60);
        let first = inbox.claim(10, lease).await.unwrap();
        assert_eq!(first.iter().map(|u| u.update_id).collect::<Vec<_>>(), [1]);
        inbox
            .retry_later(1, "portal down", Duration::ZERO)
            .await
            .unwrap();
        let again = inbox.claim(10, lease).await.unwrap();
        assert_eq!(again.iter().map(|u| u.update_id).collect::<Vec<_>>(), [1]);
        assert_eq!(again[0].attempts, 1);
        inbox.fail(1, "gave up").await.unwrap();
        let next = inbox.claim(10, lease).await.unwrap();
        assert_eq!(next.iter().map(|u| u.update_id).collect::<Vec<_>>(), [2]);
        assert_eq!(inbox.next_offset().await.unwrap(), 4);
    }

    #[tokio::test]
    async fn an_update_that_is_not_json_of_an_update_is_refused_and_bots_do_not_mix() {
        let (_dir, inbox) = inbox().await;
        assert!(matches!(
            inbox.insert(&json!({"message": {}})).await,
            Err(StoreError::Corrupt(_))
        ));
        inbox.insert(&json!({"update_id": 10})).await.unwrap();
        let other = TelegramInbox::new(inbox.store.clone(), 2);
        assert_eq!(other.next_offset().await.unwrap(), 0);
        assert!(other.insert(&json!({"update_id": 10})).await.unwrap());
        assert_eq!(
            other.claim(10, Duration::from_secs(1)).await.unwrap().len(),
            1
        );
        assert_eq!(
            inbox.claim(10, Duration::from_secs(1)).await.unwrap().len(),
            1
        );
    }
}
