//! An inbox of portal events: every verified event (or each item of one, such as each message
//! of a connector event) is stored before the portal gets its `200`, deduplicated by a key,
//! then handled by a worker in order per object (a chat, a task, a deal).
//!
//! Each flow has its own table of the same shape (`bridge_events`, `approval_events`).

use serde_json::Value;
use sqlx::Row;

use crate::store::{Store, StoreError, now_ms};

/// One stored event item.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEvent {
    /// The row id.
    pub id: i64,
    /// The portal it came from.
    pub member_id: String,
    /// The event name, upper case.
    pub event: String,
    /// The item (the event's `data`, or one element of it).
    pub item: Value,
    /// Attempts before this one.
    pub attempts: u32,
}

/// One flow's event table.
#[derive(Debug, Clone)]
pub struct EventInbox {
    store: Store,
    table: &'static str,
}

impl EventInbox {
    /// The inbox kept in `table` of `store` (one of the tables the migrations create).
    pub fn new(store: Store, table: &'static str) -> Self {
        Self { store, table }
    }

    /// Stores an item unless `dedup_key` was seen (the portal may send an event twice).
    /// `order_key` orders items of one object (a chat, a task). Returns whether it was new.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn insert(
        &self,
        dedup_key: &str,
        member_id: &str,
        event: &str,
        item: &Value,
        order_key: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        // `table` is one of the flows' literals, never input.
        let sql = format!(
            "INSERT INTO {} (dedup_key, member_id, event, item, order_key, received_at, next_attempt_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
            self.table
        );
        let inserted = sqlx::query(&sql)
            .bind(dedup_key)
            .bind(member_id)
            .bind(event)
            .bind(item.to_string())
            .bind(order_key)
            .bind(now)
            .bind(now)
            .execute(self.store.pool())
            .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Claims due items, at most one per chat and only the oldest waiting one of each chat, so
    /// a chat's messages, edits and deletions reach Telegram in the order they happened.
    ///
    /// # Errors
    /// When the database fails or a row is corrupt.
    pub async fn claim(&self, limit: u32, lease_ms: i64) -> Result<Vec<InboxEvent>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(&format!("UPDATE {table} SET lease_until = ? WHERE id IN ( \
                 SELECT e.id FROM {table} e \
                 WHERE e.state = 'new' AND e.next_attempt_at <= ? AND e.lease_until <= ? \
                   AND NOT EXISTS (SELECT 1 FROM {table} p \
                                   WHERE p.order_key = e.order_key AND p.id < e.id AND p.state = 'new') \
                 ORDER BY e.id LIMIT ?) \
             RETURNING id, member_id, event, item, attempts", table = self.table))
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut events = rows
            .iter()
            .map(|row| {
                let item: String = row.try_get("item")?;
                Ok(InboxEvent {
                    id: row.try_get("id")?,
                    member_id: row.try_get("member_id")?,
                    event: row.try_get("event")?,
                    item: serde_json::from_str(&item)
                        .map_err(|e| StoreError::Corrupt(format!("event item: {e}")))?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Takes over what a previous process had claimed (one worker per database).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE {table} SET lease_until = 0 WHERE state = 'new' AND lease_until > 0",
            table = self.table
        ))
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Marks an item handled.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn done(&self, id: i64) -> Result<(), StoreError> {
        self.finish(id, "done", None).await
    }

    /// Gives an item up (it stays in the table with the reason).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn fail(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.finish(id, "failed", Some(error)).await
    }

    async fn finish(&self, id: i64, state: &str, error: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(&format!("UPDATE {table} SET state = ?, last_error = ?, attempts = attempts + 1, lease_until = 0 \
             WHERE id = ?", table = self.table))
        .bind(state)
        .bind(error)
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Schedules another attempt after `delay_ms`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn retry_later(&self, id: i64, error: &str, delay_ms: i64) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE {table} SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, \
             lease_until = 0 WHERE id = ?",
            table = self.table
        ))
        .bind(error)
        .bind(now_ms().saturating_add(delay_ms))
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// When the next waiting item falls due (Unix milliseconds).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT min(max(next_attempt_at, lease_until)) FROM {table} WHERE state = 'new'",
            table = self.table
        ))
        .fetch_one(self.store.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    async fn inbox() -> (EventInbox, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("c.db")).await.unwrap();
        (EventInbox::new(store, "bridge_events"), dir)
    }

    #[tokio::test]
    async fn repeats_are_ignored_and_each_chat_goes_in_order() {
        let (inbox, _dir) = inbox().await;
        assert!(
            inbox
                .insert("add:1", "m", "ADD", &json!({"n": 1}), Some("a"))
                .await
                .unwrap()
        );
        assert!(
            !inbox
                .insert("add:1", "m", "ADD", &json!({"n": 1}), Some("a"))
                .await
                .unwrap()
        );
        inbox
            .insert("add:2", "m", "ADD", &json!({"n": 2}), Some("a"))
            .await
            .unwrap();
        inbox
            .insert("add:3", "m", "ADD", &json!({"n": 3}), Some("b"))
            .await
            .unwrap();
        inbox
            .insert("line", "m", "LINE", &json!({}), None)
            .await
            .unwrap();

        let first: Vec<i64> = inbox
            .claim(10, 60_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.item["n"].as_i64().unwrap_or(0))
            .collect();
        assert_eq!(first, [1, 3, 0]);
        // Chat a's second message waits for its first, even once the lease is gone.
        inbox.release_claims().await.unwrap();
        let again: Vec<i64> = inbox
            .claim(10, 60_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.item["n"].as_i64().unwrap_or(0))
            .collect();
        assert_eq!(again, [1, 3, 0]);
        let ids: Vec<i64> = inbox
            .claim(10, 60_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert!(ids.is_empty(), "leased items are not handed out twice");
        inbox.done(1).await.unwrap();
        inbox.release_claims().await.unwrap();
        let next: Vec<i64> = inbox
            .claim(10, 60_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.item["n"].as_i64().unwrap_or(0))
            .collect();
        assert_eq!(next, [2, 3, 0]);
    }

    #[tokio::test]
    async fn a_retried_item_waits_its_delay() {
        let (inbox, _dir) = inbox().await;
        inbox
            .insert("k", "m", "ADD", &json!({}), Some("a"))
            .await
            .unwrap();
        let id = inbox.claim(1, 60_000).await.unwrap()[0].id;
        inbox
            .retry_later(id, "telegram down", 60_000)
            .await
            .unwrap();
        assert!(inbox.claim(1, 60_000).await.unwrap().is_empty());
        assert!(inbox.next_due_at().await.unwrap().unwrap() > now_ms());
    }
}
