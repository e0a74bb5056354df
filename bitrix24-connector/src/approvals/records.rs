//! Approvals as stored: each with its steps, and the compare-and-set that records a decision
//! together with the side effects it causes, in one transaction.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::effects::Effect;
use crate::store::{Store, StoreError, new_id, now_ms};

/// Where a decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A button (and reply) in Telegram.
    Telegram,
    /// The task itself, inside Bitrix24.
    Bitrix24,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Telegram => "telegram",
            Self::Bitrix24 => "bitrix24",
        }
    }
}

/// One approver's step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The approver's Bitrix24 user id.
    pub user: u64,
    /// `pending`, `approved`, `rejected`, or `skipped` (an earlier step rejected).
    pub state: String,
    /// When the step was decided (Unix milliseconds).
    #[serde(default)]
    pub decided_at: Option<i64>,
    /// Where it was decided.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// The reason given with a rejection.
    #[serde(default)]
    pub reason: Option<String>,
}

/// An approval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    /// Its id.
    pub id: String,
    /// The portal.
    pub member_id: String,
    /// What makes it unique for its source (an API idempotency key, a deal and stage).
    pub source_key: Option<String>,
    /// The task's title.
    pub title: String,
    /// The task's description.
    pub description: String,
    /// Who asked (notified of the outcome).
    pub initiator_id: Option<u64>,
    /// The approvers' steps, in order.
    pub steps: Vec<Step>,
    /// The step waiting for a decision.
    pub current_step: usize,
    /// The task, once created.
    pub task_id: Option<u64>,
    /// The CRM binding (`D_12`, `L_4`).
    pub crm_binding: Option<String>,
    /// The deal moved on a decision.
    pub deal_id: Option<u64>,
    /// Its stage when approved.
    pub stage_on_approve: Option<String>,
    /// Its stage when rejected.
    pub stage_on_reject: Option<String>,
    /// The deadline (Unix milliseconds).
    pub deadline_ms: Option<i64>,
    /// Disk file ids attached to the task.
    pub files: Vec<u64>,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    /// When it was created.
    pub created_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// The Bitrix24 user who made the final decision.
    pub decided_by: Option<u64>,
    /// Where the final decision was made.
    pub channel: Option<String>,
    /// The reason of a rejection.
    pub reason: Option<String>,
}

impl Approval {
    /// The approver of the current step.
    pub fn current_approver(&self) -> Option<u64> {
        self.steps.get(self.current_step).map(|s| s.user)
    }

    fn from_row(row: &SqliteRow) -> Result<Self, StoreError> {
        let steps: String = row.try_get("approvers")?;
        let files: String = row.try_get("files")?;
        let step: i64 = row.try_get("current_step")?;
        Ok(Self {
            id: row.try_get("id")?,
            member_id: row.try_get("member_id")?,
            source_key: row.try_get("source_key")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            initiator_id: row
                .try_get::<Option<i64>, _>("initiator_id")?
                .and_then(|v| u64::try_from(v).ok()),
            steps: serde_json::from_str(&steps)
                .map_err(|e| StoreError::Corrupt(format!("approval steps: {e}")))?,
            current_step: usize::try_from(step).unwrap_or_default(),
            task_id: row
                .try_get::<Option<i64>, _>("task_id")?
                .and_then(|v| u64::try_from(v).ok()),
            crm_binding: row.try_get("crm_binding")?,
            deal_id: row
                .try_get::<Option<i64>, _>("deal_id")?
                .and_then(|v| u64::try_from(v).ok()),
            stage_on_approve: row.try_get("stage_on_approve")?,
            stage_on_reject: row.try_get("stage_on_reject")?,
            deadline_ms: row.try_get("deadline_ms")?,
            files: serde_json::from_str(&files).unwrap_or_default(),
            state: row.try_get("state")?,
            created_at: row.try_get("created_at")?,
            decided_at: row.try_get("decided_at")?,
            decided_by: row
                .try_get::<Option<i64>, _>("decided_by")?
                .and_then(|v| u64::try_from(v).ok()),
            channel: row.try_get("channel")?,
            reason: row.try_get("reason")?,
        })
    }
}

/// What a new approval needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct NewApproval {
    /// The task's title.
    pub title: String,
    /// The task's description.
    #[serde(default)]
    pub description: String,
    /// The approvers' Bitrix24 user ids, decided in this order.
    pub approvers: Vec<u64>,
    /// Who asks; notified of the outcome.
    #[serde(default)]
    pub initiator: Option<u64>,
    /// The deadline, Unix milliseconds.
    #[serde(default)]
    pub deadline_ms: Option<i64>,
    /// The CRM binding, as `UF_CRM_TASK` takes it (`D_12`).
    #[serde(default)]
    pub crm_binding: Option<String>,
    /// The deal to move on a decision.
    #[serde(default)]
    pub deal_id: Option<u64>,
    /// The deal's stage when approved.
    #[serde(default)]
    pub stage_on_approve: Option<String>,
    /// The deal's stage when rejected.
    #[serde(default)]
    pub stage_on_reject: Option<String>,
    /// Disk file ids to attach to the task.
    #[serde(default)]
    pub files: Vec<u64>,
    /// Makes a repeated request create nothing new.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// A decision to record.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub step: usize,
    pub approve: bool,
    pub by: u64,
    pub channel: Channel,
    pub reason: Option<String>,
    /// Decides the whole approval at once (a decision on the task itself).
    pub whole: bool,
}

/// What a recorded decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The next approver's turn.
    Advanced,
    /// The approval is decided.
    Final,
}

/// The `approvals` table.
#[derive(Debug, Clone)]
pub struct Approvals {
    store: Store,
}

const COLUMNS: &str = "id, member_id, source_key, title, description, initiator_id, approvers, current_step, task_id, crm_binding, deal_id, stage_on_approve, stage_on_reject, deadline_ms, files, state, created_at, decided_at, decided_by, channel, reason";

impl Approvals {
    /// The approvals in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Stores a new approval with its first effects (create the task, ask the first
    /// approver), unless `source_key` is known: then the existing one is returned.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn insert(
        &self,
        member_id: &str,
        source_key: Option<&str>,
        new: &NewApproval,
    ) -> Result<(Approval, bool), StoreError> {
        if let Some(key) = source_key
            && let Some(existing) = self.by_source(key).await?
        {
            return Ok((existing, false));
        }
        let id = new_id()?;
        let steps: Vec<Step> = new
            .approvers
            .iter()
            .map(|user| Step {
                user: *user,
                state: "pending".into(),
                decided_at: None,
                channel: None,
                reason: None,
            })
            .collect();
        let steps = serde_json::to_string(&steps)
            .map_err(|e| StoreError::Corrupt(format!("approval steps: {e}")))?;
        let files = serde_json::to_string(&new.files)
            .map_err(|e| StoreError::Corrupt(format!("approval files: {e}")))?;
        let mut tx = self.store.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO approvals (id, member_id, source_key, title, description, initiator_id, approvers, \
             crm_binding, deal_id, stage_on_approve, stage_on_reject, deadline_ms, files, state, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (source_key) DO NOTHING",
        )
        .bind(&id)
        .bind(member_id)
        .bind(source_key)
        .bind(&new.title)
        .bind(&new.description)
        .bind(new.initiator.and_then(|v| i64::try_from(v).ok()))
        .bind(steps)
        .bind(&new.crm_binding)
        .bind(new.deal_id.and_then(|v| i64::try_from(v).ok()))
        .bind(&new.stage_on_approve)
        .bind(&new.stage_on_reject)
        .bind(new.deadline_ms)
        .bind(files)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            let key = source_key.unwrap_or_default();
            let existing = self
                .by_source(key)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("approval {key} vanished")))?;
            return Ok((existing, false));
        }
        Effect::CreateTask.enqueue(&mut tx, &id, "create").await?;
        Effect::AskStep { step: 0 }
            .enqueue(&mut tx, &id, "ask:0")
            .await?;
        tx.commit().await?;
        let approval = self
            .get(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("approval {id} vanished")))?;
        Ok((approval, true))
    }

    async fn by_source(&self, key: &str) -> Result<Option<Approval>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals WHERE source_key = ?"
        ))
        .bind(key)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(Approval::from_row).transpose()
    }

    /// An approval by id.
    ///
    /// # Errors
    /// When the database fails or the row is corrupt.
    pub async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(Approval::from_row).transpose()
    }

    /// The approval of a task.
    ///
    /// # Errors
    /// When the database fails or the row is corrupt.
    pub async fn by_task(
        &self,
        member_id: &str,
        task_id: u64,
    ) -> Result<Option<Approval>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals WHERE member_id = ? AND task_id = ?"
        ))
        .bind(member_id)
        .bind(i64::try_from(task_id).unwrap_or(i64::MAX))
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(Approval::from_row).transpose()
    }

    /// All approvals, newest first.
    ///
    /// # Errors
    /// When the database fails or a row is corrupt.
    pub async fn list(&self) -> Result<Vec<Approval>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(Approval::from_row).collect()
    }

    /// Pending approvals with a deadline before `until`.
    pub(crate) async fn due_for_reminder(&self, until: i64) -> Result<Vec<Approval>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals WHERE state = 'pending' AND deadline_ms IS NOT NULL \
             AND deadline_ms <= ?"
        ))
        .bind(until)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(Approval::from_row).collect()
    }

    pub(crate) async fn set_task(&self, id: &str, task_id: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE approvals SET task_id = ? WHERE id = ?")
            .bind(i64::try_from(task_id).unwrap_or(i64::MAX))
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Records `decision` if the approval is still pending at that step (compare-and-set),
    /// with the effects it causes, atomically; also clears `prompt_of` (the Telegram user whose
    /// reason prompt this answers). `None` when someone decided first.
    pub(crate) async fn decide(
        &self,
        approval: &Approval,
        decision: &Decision,
        prompt_of: Option<i64>,
    ) -> Result<Option<Outcome>, StoreError> {
        let now = now_ms();
        let mut steps = approval.steps.clone();
        let last = steps.len().saturating_sub(1);
        let range = if decision.whole {
            decision.step..steps.len()
        } else {
            decision.step..decision.step.saturating_add(1).min(steps.len())
        };
        for index in range.clone() {
            if let Some(step) = steps.get_mut(index) {
                step.state = if decision.approve {
                    "approved"
                } else {
                    "rejected"
                }
                .into();
                step.decided_at = Some(now);
                step.channel = Some(decision.channel);
                step.reason.clone_from(&decision.reason);
            }
        }
        let outcome = if decision.approve && !decision.whole && decision.step < last {
            Outcome::Advanced
        } else {
            if !decision.approve {
                for step in steps.iter_mut().skip(range.end) {
                    step.state = "skipped".into();
                }
            }
            Outcome::Final
        };
        let steps_json = serde_json::to_string(&steps)
            .map_err(|e| StoreError::Corrupt(format!("approval steps: {e}")))?;
        let mut tx = self.store.pool().begin().await?;
        let changed = match outcome {
            Outcome::Advanced => {
                sqlx::query(
                    "UPDATE approvals SET approvers = ?, current_step = current_step + 1 \
                 WHERE id = ? AND state = 'pending' AND current_step = ?",
                )
                .bind(&steps_json)
                .bind(&approval.id)
                .bind(i64::try_from(decision.step).unwrap_or(-1))
                .execute(&mut *tx)
                .await?
            }
            Outcome::Final => sqlx::query(
                "UPDATE approvals SET approvers = ?, state = ?, decided_at = ?, decided_by = ?, \
                 channel = ?, reason = ? WHERE id = ? AND state = 'pending' AND current_step = ?",
            )
            .bind(&steps_json)
            .bind(if decision.approve {
                "approved"
            } else {
                "rejected"
            })
            .bind(now)
            .bind(i64::try_from(decision.by).unwrap_or_default())
            .bind(decision.channel.as_str())
            .bind(&decision.reason)
            .bind(&approval.id)
            .bind(i64::try_from(decision.step).unwrap_or(-1))
            .execute(&mut *tx)
            .await?,
        };
        if changed.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        if let Some(telegram) = prompt_of {
            sqlx::query("DELETE FROM approval_prompts WHERE telegram_id = ?")
                .bind(telegram)
                .execute(&mut *tx)
                .await?;
        }
        for (key, effect) in effects_of(approval, decision, &outcome, now) {
            effect.enqueue(&mut tx, &approval.id, &key).await?;
        }
        tx.commit().await?;
        Ok(Some(outcome))
    }
}

/// The side effects of a decision, each with its idempotency key.
fn effects_of(
    approval: &Approval,
    decision: &Decision,
    outcome: &Outcome,
    now: i64,
) -> Vec<(String, Effect)> {
    let step = decision.step;
    let verdict = if decision.approve {
        "approved"
    } else {
        "rejected"
    };
    let mut effects = Vec::new();
    let place = match decision.channel {
        Channel::Telegram => "in Telegram",
        Channel::Bitrix24 => "in Bitrix24",
    };
    let when = super::page::format_time(now);
    let mut comment = format!(
        "[USER={}][/USER] {verdict} {place} at {when} (UTC)",
        decision.by
    );
    if let Some(reason) = &decision.reason {
        comment.push_str(": ");
        comment.push_str(reason);
    }
    if decision.channel == Channel::Telegram {
        effects.push((format!("comment:{step}"), Effect::Comment { text: comment }));
    }
    effects.push((format!("edit:{step}"), Effect::ShowOutcome { step }));
    match outcome {
        Outcome::Advanced => {
            let next = step.saturating_add(1);
            if let Some(user) = approval.steps.get(next).map(|s| s.user) {
                effects.push((format!("delegate:{next}"), Effect::Delegate { user }));
            }
            effects.push((format!("ask:{next}"), Effect::AskStep { step: next }));
        }
        Outcome::Final => {
            if decision.channel == Channel::Telegram {
                effects.push((
                    "task:final".into(),
                    if decision.approve {
                        Effect::CompleteTask
                    } else {
                        Effect::DeferTask
                    },
                ));
            }
            let stage = if decision.approve {
                approval.stage_on_approve.clone()
            } else {
                approval.stage_on_reject.clone()
            };
            if let (Some(deal), Some(stage)) = (approval.deal_id, stage) {
                effects.push(("deal:final".into(), Effect::MoveDeal { deal, stage }));
            }
            if let Some(initiator) = approval.initiator_id {
                let mut text = format!(
                    "Approval «{}» was {verdict} by [USER={}][/USER] {place}",
                    approval.title, decision.by
                );
                if let Some(reason) = &decision.reason {
                    text.push_str(": ");
                    text.push_str(reason);
                }
                effects.push((
                    "notify:final".into(),
                    Effect::Notify {
                        user: initiator,
                        text,
                        tag: format!("approval:{}:final", approval.id),
                    },
                ));
            }
        }
    }
    effects
}
