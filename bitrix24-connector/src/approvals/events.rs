//! The inbox of portal events (tasks, deals, leads, users): each verified event is stored,
//! deduplicated, before the portal gets its `200`, then handled in order per object.

use serde_json::Value;
use sqlx::Row;

use crate::store::{Store, StoreError, now_ms};

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The row id.
    pub id: i64,
    /// The portal.
    pub member_id: String,
    /// The event name, upper case.
    pub event: String,
    /// Its `data`.
    pub data: Value,
    /// Attempts before this one.
    pub attempts: u32,
}

/// The `approval_events` table.
#[derive(Debug, Clone)]
pub struct ApprovalEvents {
    store: Store,
}

impl ApprovalEvents {
    /// The inbox in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Stores an event unless `dedup_key` was seen; `order_key` orders events of one object.
    /// Returns whether it was new.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn insert(
        &self,
        dedup_key: &str,
        member_id: &str,
        event: &str,
        data: &Value,
        order_key: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO approval_events (dedup_key, member_id, event, data, order_key, received_at, next_attempt_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(dedup_key)
        .bind(member_id)
        .bind(event)
        .bind(data.to_string())
        .bind(order_key)
        .bind(now)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Claims due events, the oldest waiting one per object.
    ///
    /// # Errors
    /// When the database fails or a row is corrupt.
    pub async fn claim(&self, limit: u32, lease_ms: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE approval_events SET lease_until = ? WHERE id IN ( \
                 SELECT e.id FROM approval_events e \
                 WHERE e.state = 'new' AND e.next_attempt_at <= ? AND e.lease_until <= ? \
                   AND NOT EXISTS (SELECT 1 FROM approval_events p \
                                   WHERE p.order_key = e.order_key AND p.id < e.id AND p.state = 'new') \
                 ORDER BY e.id LIMIT ?) \
             RETURNING id, member_id, event, data, attempts",
        )
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut events = rows
            .iter()
            .map(|row| {
                let data: String = row.try_get("data")?;
                Ok(StoredEvent {
                    id: row.try_get("id")?,
                    member_id: row.try_get("member_id")?,
                    event: row.try_get("event")?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(format!("event data: {e}")))?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Takes over what a previous process had claimed.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE approval_events SET lease_until = 0 WHERE state = 'new' AND lease_until > 0",
        )
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Marks an event handled (`done`) or given up (`failed`, with the reason).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn finish(&self, id: i64, failed: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE approval_events SET state = ?, last_error = ?, attempts = attempts + 1, lease_until = 0 \
             WHERE id = ?",
        )
        .bind(if failed.is_some() { "failed" } else { "done" })
        .bind(failed)
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
        sqlx::query(
            "UPDATE approval_events SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, \
             lease_until = 0 WHERE id = ?",
        )
        .bind(error)
        .bind(now_ms().saturating_add(delay_ms))
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }
}
