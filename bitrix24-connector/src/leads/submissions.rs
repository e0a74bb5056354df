//! Submissions on disk: received, waiting, delivered or failed, with every delivery step's
//! progress, so a restart resumes exactly where the previous process stopped.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::form::LeadForm;
use crate::store::{Store, StoreError, new_id, now_ms};

/// Where a submission is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Stored, not yet in the CRM.
    Pending,
    /// The CRM lead exists.
    Delivered,
    /// Delivery gave up; it can be re-driven.
    Failed,
    /// The honeypot was filled: kept, never forwarded.
    Spam,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Spam => "spam",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            "spam" => Self::Spam,
            other => return Err(StoreError::Corrupt(format!("submission state {other:?}"))),
        })
    }
}

/// What `GET /leads/{id}` tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmissionStatus {
    /// The submission id.
    pub id: String,
    /// Where it is. Spam reads as `delivered` to the outside (see [`SubmissionStatus::public`]).
    pub state: DeliveryState,
    /// The CRM lead, once delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<u64>,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was received (Unix milliseconds).
    pub received_at: i64,
    /// When it was delivered (Unix milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
}

impl SubmissionStatus {
    /// The status as shown to the submitter: a spam submission looks accepted and pending, so
    /// a bot learns nothing from polling it.
    #[must_use]
    pub fn public(mut self) -> Self {
        if self.state == DeliveryState::Spam {
            self.state = DeliveryState::Pending;
        }
        self
    }
}

/// A file received with a submission.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Its place in the form (0-based).
    pub position: u32,
    /// Its (sanitized) name.
    pub name: String,
    /// Its content type, detected from its bytes.
    pub mime: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where it waits on local disk.
    pub path: PathBuf,
    /// An upload was started (its outcome may be unknown).
    pub upload_attempted: bool,
    /// The Disk file, once uploaded.
    pub disk_file_id: Option<u64>,
    /// The Disk file's page.
    pub disk_url: Option<String>,
}

/// A submission claimed for delivery, with how far delivery got.
#[derive(Debug, Clone)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one flag per delivery step, as stored; they are independent"
)]
pub struct Submission {
    /// Its id: the lead's `ORIGIN_ID`.
    pub id: String,
    /// The form, without files.
    pub form: LeadForm,
    /// Attempts before this one.
    pub attempts: u32,
    /// The submission's Disk folder.
    pub folder_id: Option<u64>,
    /// Creating the folder was started.
    pub folder_attempted: bool,
    /// `crm.lead.add` was sent at least once (the lead may exist).
    pub create_attempted: bool,
    /// The CRM lead.
    pub lead_id: Option<u64>,
    /// The existing contact linked to the lead.
    pub contact_id: Option<u64>,
    /// The timeline comment with the files was started.
    pub comment_attempted: bool,
    /// The timeline comment.
    pub comment_id: Option<u64>,
    /// The managers' chat was told.
    pub notified: bool,
    /// Its files.
    pub files: Vec<StoredFile>,
}

/// What storing a submission gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The submission id.
    pub id: String,
    /// The idempotency key had been seen: nothing new was stored.
    pub replayed: bool,
}

/// The submissions table and the files directory.
#[derive(Debug, Clone)]
pub struct Submissions {
    store: Store,
    files_dir: PathBuf,
}

impl Submissions {
    /// Submissions in `store`, their files under `files_dir`.
    pub fn new(store: Store, files_dir: impl Into<PathBuf>) -> Self {
        Self {
            store,
            files_dir: files_dir.into(),
        }
    }

    /// Stores a submission and its files durably: files first (synced), then one transaction.
    /// A spam submission is stored without its files.
    ///
    /// # Errors
    /// When the disk or the database fails; nothing is half-stored in the database then.
    pub async fn insert(
        &self,
        form: &LeadForm,
        idempotency_key: Option<&str>,
        client_ip: Option<IpAddr>,
    ) -> Result<Accepted, StoreError> {
        if let Some(key) = idempotency_key
            && let Some(id) = self.by_idempotency_key(key).await?
        {
            return Ok(Accepted { id, replayed: true });
        }
        let id = new_id()?;
        let files = if form.spam {
            Vec::new()
        } else {
            self.write_files(&id, form).await?
        };
        let fields = serde_json::to_string(form)
            .map_err(|error| StoreError::Corrupt(format!("form does not serialize: {error}")))?;
        let state = if form.spam {
            DeliveryState::Spam
        } else {
            DeliveryState::Pending
        };
        let now = now_ms();
        let mut transaction = self.store.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO lead_submissions \
             (id, idempotency_key, received_at, client_ip, fields, spam, state, next_attempt_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&id)
        .bind(idempotency_key)
        .bind(now)
        .bind(client_ip.map(|ip| ip.to_string()))
        .bind(fields)
        .bind(form.spam)
        .bind(state.as_str())
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        if inserted.rows_affected() == 0 {
            // Two requests with one key raced; the other one won.
            transaction.rollback().await?;
            remove_dir(&self.files_dir.join(&id)).await;
            let key = idempotency_key.unwrap_or_default();
            let id = self
                .by_idempotency_key(key)
                .await?
                .ok_or_else(|| StoreError::Corrupt("idempotency key vanished".into()))?;
            return Ok(Accepted { id, replayed: true });
        }
        for file in &files {
            sqlx::query(
                "INSERT INTO lead_files (submission_id, position, name, mime, size, path) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(file.position)
            .bind(&file.name)
            .bind(&file.mime)
            .bind(i64::try_from(file.size).unwrap_or(i64::MAX))
            .bind(file.path.to_string_lossy().into_owned())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(Accepted {
            id,
            replayed: false,
        })
    }

    async fn by_idempotency_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM lead_submissions WHERE idempotency_key = ?")
                .bind(key)
                .fetch_optional(self.store.pool())
                .await?,
        )
    }

    async fn write_files(&self, id: &str, form: &LeadForm) -> Result<Vec<StoredFile>, StoreError> {
        if form.files.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.files_dir.join(id);
        let io = |context: String| move |source| StoreError::File { context, source };
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io(format!("creating {}", dir.display())))?;
        let mut stored = Vec::with_capacity(form.files.len());
        for (position, file) in (0_u32..).zip(&form.files) {
            // The name is the customer's: it stays in the database, never in a path.
            let path = dir.join(position.to_string());
            write_synced(&path, &file.bytes)
                .await
                .map_err(io(format!("writing {}", path.display())))?;
            stored.push(StoredFile {
                position,
                name: file.name.clone(),
                mime: file.kind.mime().to_owned(),
                size: file.bytes.len() as u64,
                path,
                upload_attempted: false,
                disk_file_id: None,
                disk_url: None,
            });
        }
        sync_dir(&dir)
            .await
            .map_err(io(format!("syncing {}", dir.display())))?;
        Ok(stored)
    }

    /// The status of one submission.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn status(&self, id: &str) -> Result<Option<SubmissionStatus>, StoreError> {
        let row = sqlx::query(
            "SELECT id, state, lead_id, attempts, last_error, received_at, delivered_at \
             FROM lead_submissions WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|row| {
            Ok(SubmissionStatus {
                id: row.try_get("id")?,
                state: DeliveryState::parse(row.try_get("state")?)?,
                lead_id: optional_u64(&row, "lead_id")?,
                attempts: row.try_get("attempts")?,
                error: row.try_get("last_error")?,
                received_at: row.try_get("received_at")?,
                delivered_at: row.try_get("delivered_at")?,
            })
        })
        .transpose()
    }

    /// How many submissions are in each state.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn counts(&self) -> Result<Vec<(DeliveryState, u64)>, StoreError> {
        let rows = sqlx::query("SELECT state, count(*) AS n FROM lead_submissions GROUP BY state")
            .fetch_all(self.store.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let n: i64 = row.try_get("n")?;
                Ok((
                    DeliveryState::parse(row.try_get("state")?)?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// Claims up to `limit` due pending submissions for `lease_ms`, oldest first.
    ///
    /// # Errors
    /// When the database fails or a stored row is corrupt.
    pub async fn claim_due(
        &self,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<Submission>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE lead_submissions SET lease_until = ? WHERE id IN ( \
                 SELECT id FROM lead_submissions \
                 WHERE state = 'pending' AND next_attempt_at <= ? AND lease_until <= ? \
                 ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING *",
        )
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let mut submission = submission_from_row(&row)?;
            submission.files = self.files_of(&submission.id).await?;
            claimed.push(submission);
        }
        claimed.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(claimed)
    }

    /// Releases every claim: a worker starting up takes over what a previous process (killed,
    /// crashed) had claimed instead of waiting for those leases to run out. One worker per
    /// database.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        let released = sqlx::query(
            "UPDATE lead_submissions SET lease_until = 0 WHERE state = 'pending' AND lease_until > 0",
        )
        .execute(self.store.pool())
        .await?;
        Ok(released.rows_affected())
    }

    /// When the next pending submission falls due (Unix milliseconds).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT min(max(next_attempt_at, lease_until)) FROM lead_submissions WHERE state = 'pending'",
        )
        .fetch_one(self.store.pool())
        .await?)
    }

    async fn files_of(&self, id: &str) -> Result<Vec<StoredFile>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM lead_files WHERE submission_id = ? ORDER BY position")
                .bind(id)
                .fetch_all(self.store.pool())
                .await?;
        rows.iter()
            .map(|row| {
                let size: i64 = row.try_get("size")?;
                let path: String = row.try_get("path")?;
                Ok(StoredFile {
                    position: row.try_get("position")?,
                    name: row.try_get("name")?,
                    mime: row.try_get("mime")?,
                    size: u64::try_from(size).unwrap_or(0),
                    path: PathBuf::from(path),
                    upload_attempted: row.try_get("upload_attempted")?,
                    disk_file_id: optional_u64(row, "disk_file_id")?,
                    disk_url: row.try_get("disk_url")?,
                })
            })
            .collect()
    }

    /// Records a step about to start, before its request is sent, so that a crash leaves a
    /// trace that the outcome must be looked up. `step` is one of the `*_attempted` columns.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_attempted(&self, ids: &[&str], step: Step) -> Result<(), StoreError> {
        let mut transaction = self.store.pool().begin().await?;
        for id in ids {
            sqlx::query(step.mark_sql())
                .bind(id)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Records a file's upload being started.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_upload_attempted(&self, id: &str, position: u32) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lead_files SET upload_attempted = 1 WHERE submission_id = ? AND position = ?",
        )
        .bind(id)
        .bind(position)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Records a file's Disk copy.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_uploaded(
        &self,
        id: &str,
        position: u32,
        disk_file_id: u64,
        disk_url: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lead_files SET disk_file_id = ?, disk_url = ? \
             WHERE submission_id = ? AND position = ?",
        )
        .bind(to_i64(disk_file_id))
        .bind(disk_url)
        .bind(id)
        .bind(position)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Records the submission's Disk folder.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_folder(&self, id: &str, folder_id: u64) -> Result<(), StoreError> {
        self.set_column(id, "folder_id", folder_id).await
    }

    /// Records the CRM lead (and the existing contact it was linked to).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_lead(
        &self,
        id: &str,
        lead_id: u64,
        contact_id: Option<u64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lead_submissions SET lead_id = ?, contact_id = ?, repeat_lead = ? WHERE id = ?",
        )
        .bind(to_i64(lead_id))
        .bind(contact_id.map(to_i64))
        .bind(contact_id.is_some())
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Records the timeline comment.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_comment(&self, id: &str, comment_id: u64) -> Result<(), StoreError> {
        self.set_column(id, "comment_id", comment_id).await
    }

    /// Records that the managers' chat was told (or that telling it was given up).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_notified(&self, id: &str) -> Result<(), StoreError> {
        self.set_column(id, "notified", 1).await
    }

    async fn set_column(&self, id: &str, column: &str, value: u64) -> Result<(), StoreError> {
        // `column` is one of this module's literals, never input.
        sqlx::query(&format!(
            "UPDATE lead_submissions SET {column} = ? WHERE id = ?"
        ))
        .bind(to_i64(value))
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Marks a submission delivered and deletes its local files (the portal has them).
    ///
    /// # Errors
    /// When the database fails. A file that cannot be deleted is only logged.
    pub async fn delivered(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lead_submissions SET state = 'delivered', delivered_at = ?, last_error = NULL, \
             lease_until = 0, attempts = attempts + 1 WHERE id = ?",
        )
        .bind(now_ms())
        .bind(id)
        .execute(self.store.pool())
        .await?;
        remove_dir(&self.files_dir.join(id)).await;
        Ok(())
    }

    /// Schedules another attempt after `delay_ms`, remembering why this one failed.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn retry_later(
        &self,
        id: &str,
        error: &str,
        delay_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lead_submissions SET attempts = attempts + 1, last_error = ?, \
             next_attempt_at = ?, lease_until = 0 WHERE id = ?",
        )
        .bind(error)
        .bind(now_ms().saturating_add(delay_ms))
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Gives up on a submission; its files stay for a re-drive.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn fail(&self, id: &str, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lead_submissions SET state = 'failed', attempts = attempts + 1, \
             last_error = ?, lease_until = 0 WHERE id = ?",
        )
        .bind(error)
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Puts a failed submission back in the queue, due now. `false` when it is not failed.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn redrive(&self, id: &str) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE lead_submissions SET state = 'pending', attempts = 0, next_attempt_at = ?, \
             lease_until = 0 WHERE id = ? AND state = 'failed'",
        )
        .bind(now_ms())
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(changed.rows_affected() == 1)
    }
}

/// A delivery step whose start is recorded before its request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Creating the submission's Disk folder.
    Folder,
    /// `crm.lead.add`.
    Create,
    /// `crm.timeline.comment.add`.
    Comment,
}

impl Step {
    fn mark_sql(self) -> &'static str {
        match self {
            Self::Folder => "UPDATE lead_submissions SET folder_attempted = 1 WHERE id = ?",
            Self::Create => "UPDATE lead_submissions SET create_attempted = 1 WHERE id = ?",
            Self::Comment => "UPDATE lead_submissions SET comment_attempted = 1 WHERE id = ?",
        }
    }
}

fn submission_from_row(row: &SqliteRow) -> Result<Submission, StoreError> {
    let fields: String = row.try_get("fields")?;
    let form: LeadForm = serde_json::from_str(&fields)
        .map_err(|error| StoreError::Corrupt(format!("stored form: {error}")))?;
    Ok(Submission {
        id: row.try_get("id")?,
        form,
        attempts: row.try_get("attempts")?,
        folder_id: optional_u64(row, "folder_id")?,
        folder_attempted: row.try_get("folder_attempted")?,
        create_attempted: row.try_get("create_attempted")?,
        lead_id: optional_u64(row, "lead_id")?,
        contact_id: optional_u64(row, "contact_id")?,
        comment_attempted: row.try_get("comment_attempted")?,
        comment_id: optional_u64(row, "comment_id")?,
        notified: row.try_get("notified")?,
        files: Vec::new(),
    })
}

fn optional_u64(row: &SqliteRow, column: &str) -> Result<Option<u64>, StoreError> {
    let value: Option<i64> = row.try_get(column)?;
    Ok(value.and_then(|v| u64::try_from(v).ok()))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

async fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::create(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    // A directory fsync makes the new entries themselves durable (POSIX); not on Windows.
    tokio::task::spawn_blocking(move || {
        if cfg!(unix) {
            std::fs::File::open(dir)?.sync_all()
        } else {
            Ok(())
        }
    })
    .await
    .map_err(std::io::Error::other)?
}

async fn remove_dir(dir: &Path) {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "could not delete delivered files");
        }
    }
}
