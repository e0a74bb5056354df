//! The outbox: every side effect of an approval (create the task, ask an approver, comment,
//! complete, move the deal, notify, edit the Telegram message) is a row, unique by its
//! idempotency key, written in the same transaction as the decision that causes it, and run
//! in order per approval by a worker that survives restarts.

use serde::{Deserialize, Serialize};
use sqlx::{Row, Sqlite, Transaction};

use crate::store::{Store, StoreError, now_ms};

/// One side effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    /// `tasks.task.add` for the approval (looked up before repeating an uncertain attempt).
    CreateTask,
    /// Asks a step's approver: a Telegram message with buttons, or `im.notify.personal.add`.
    AskStep {
        /// The step.
        step: usize,
    },
    /// `task.commentitem.add` (looked up before repeating an uncertain attempt).
    Comment {
        /// The comment, BB-code.
        text: String,
    },
    /// `tasks.task.delegate` to the next approver.
    Delegate {
        /// The next approver.
        user: u64,
    },
    /// `tasks.task.complete` unless already completed.
    CompleteTask,
    /// `tasks.task.defer` unless already deferred or completed.
    DeferTask,
    /// `crm.item.update` of the deal's stage.
    MoveDeal {
        /// The deal.
        deal: u64,
        /// The stage.
        stage: String,
    },
    /// `im.notify.personal.add` with a tag, so a repeat replaces rather than adds.
    Notify {
        /// The recipient.
        user: u64,
        /// The text, BB-code.
        text: String,
        /// The notification tag.
        tag: String,
    },
    /// Edits a step's Telegram message to show the outcome, without buttons.
    ShowOutcome {
        /// The step.
        step: usize,
    },
    /// A reminder to the current approver before the deadline.
    Remind {
        /// The step.
        step: usize,
    },
    /// Writes a self-linked Telegram id back to the user field.
    WriteTelegramId {
        /// The portal.
        member_id: String,
        /// The Bitrix24 user.
        user: u64,
        /// The Telegram id.
        telegram_id: i64,
    },
}

impl Effect {
    /// Adds the effect to the outbox inside `tx`, unless `approval:key` is there already.
    pub(crate) async fn enqueue(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        approval_id: &str,
        key: &str,
    ) -> Result<bool, StoreError> {
        let payload =
            serde_json::to_string(self).map_err(|e| StoreError::Corrupt(format!("effect: {e}")))?;
        let kind = payload_kind(self);
        let done = sqlx::query(
            "INSERT INTO approval_effects (approval_id, idem_key, kind, payload, next_attempt_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING",
        )
        .bind(approval_id)
        .bind(format!("{approval_id}:{key}"))
        .bind(kind)
        .bind(payload)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn payload_kind(effect: &Effect) -> &'static str {
    match effect {
        Effect::CreateTask => "create_task",
        Effect::AskStep { .. } => "ask_step",
        Effect::Comment { .. } => "comment",
        Effect::Delegate { .. } => "delegate",
        Effect::CompleteTask => "complete_task",
        Effect::DeferTask => "defer_task",
        Effect::MoveDeal { .. } => "move_deal",
        Effect::Notify { .. } => "notify",
        Effect::ShowOutcome { .. } => "show_outcome",
        Effect::Remind { .. } => "remind",
        Effect::WriteTelegramId { .. } => "write_telegram_id",
    }
}

/// A claimed effect.
#[derive(Debug, Clone)]
pub struct PendingEffect {
    /// The row id.
    pub id: i64,
    /// The approval.
    pub approval_id: String,
    /// What to do.
    pub effect: Effect,
    /// Whether an earlier attempt may have reached the portal (crash or lost reply).
    pub attempted: bool,
    /// Attempts before this one.
    pub attempts: u32,
}

/// The `approval_effects` table.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Store,
}

impl Outbox {
    /// The outbox in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Adds an effect outside any decision (reminders, write-backs).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn add(
        &self,
        approval_id: &str,
        key: &str,
        effect: &Effect,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.pool().begin().await?;
        let added = effect.enqueue(&mut tx, approval_id, key).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Claims due effects: only the oldest waiting one of each approval, so an approval's
    /// effects happen in the order they were decided (the task exists before it is commented).
    ///
    /// # Errors
    /// When the database fails or a row is corrupt.
    pub async fn claim(&self, limit: u32, lease_ms: i64) -> Result<Vec<PendingEffect>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE approval_effects SET lease_until = ? WHERE id IN ( \
                 SELECT e.id FROM approval_effects e \
                 WHERE e.state = 'new' AND e.next_attempt_at <= ? AND e.lease_until <= ? \
                   AND NOT EXISTS (SELECT 1 FROM approval_effects p \
                                   WHERE p.approval_id = e.approval_id AND p.id < e.id AND p.state = 'new') \
                 ORDER BY e.id LIMIT ?) \
             RETURNING id, approval_id, payload, attempted, attempts",
        )
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                Ok(PendingEffect {
                    id: row.try_get("id")?,
                    approval_id: row.try_get("approval_id")?,
                    effect: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(format!("effect: {e}")))?,
                    attempted: row.try_get::<i64, _>("attempted")? != 0,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by_key(|e| e.id);
        Ok(claimed)
    }

    /// Marks that the call is about to be made: after a crash, the next attempt looks first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_attempted(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE approval_effects SET attempted = 1 WHERE id = ?")
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Takes over what a previous process had claimed (one worker per database).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE approval_effects SET lease_until = 0 WHERE state = 'new' AND lease_until > 0",
        )
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Marks an effect done.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn done(&self, id: i64) -> Result<(), StoreError> {
        self.finish(id, "done", None).await
    }

    /// Gives an effect up (it stays with the reason).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn fail(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.finish(id, "failed", Some(error)).await
    }

    async fn finish(&self, id: i64, state: &str, error: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE approval_effects SET state = ?, last_error = ?, attempts = attempts + 1, \
             lease_until = 0, done_at = ? WHERE id = ?",
        )
        .bind(state)
        .bind(error)
        .bind(now_ms())
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
            "UPDATE approval_effects SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, \
             lease_until = 0 WHERE id = ?",
        )
        .bind(error)
        .bind(now_ms().saturating_add(delay_ms))
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// How many effects of each kind are done, for tests and diagnostics: `(kind, state)`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn states(&self, approval_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, state FROM approval_effects WHERE approval_id = ? ORDER BY id",
        )
        .bind(approval_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("state")?)))
            .collect()
    }
}
