//! The connector's durable storage: one SQLite database (WAL, synchronous writes) holding every
//! flow's inbox, outbox and state, so a submission, update or event is on disk before anyone is
//! told it was received.

pub mod event_inbox;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqlitePool};

/// Schema changes, applied in order; `PRAGMA user_version` remembers how many ran.
/// Never edit a shipped entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: lead intake.
    "
    CREATE TABLE lead_submissions (
        id                TEXT PRIMARY KEY,
        idempotency_key   TEXT UNIQUE,
        received_at       INTEGER NOT NULL,
        client_ip         TEXT,
        fields            TEXT NOT NULL,
        spam              INTEGER NOT NULL DEFAULT 0,
        state             TEXT NOT NULL,
        attempts          INTEGER NOT NULL DEFAULT 0,
        next_attempt_at   INTEGER NOT NULL,
        lease_until       INTEGER NOT NULL DEFAULT 0,
        last_error        TEXT,
        folder_id         INTEGER,
        folder_attempted  INTEGER NOT NULL DEFAULT 0,
        create_attempted  INTEGER NOT NULL DEFAULT 0,
        lead_id           INTEGER,
        contact_id        INTEGER,
        repeat_lead       INTEGER NOT NULL DEFAULT 0,
        comment_attempted INTEGER NOT NULL DEFAULT 0,
        comment_id        INTEGER,
        notified          INTEGER NOT NULL DEFAULT 0,
        delivered_at      INTEGER
    );
    CREATE INDEX lead_submissions_due ON lead_submissions (state, next_attempt_at);
    CREATE TABLE lead_files (
        submission_id    TEXT NOT NULL REFERENCES lead_submissions (id),
        position         INTEGER NOT NULL,
        name             TEXT NOT NULL,
        mime             TEXT NOT NULL,
        size             INTEGER NOT NULL,
        path             TEXT NOT NULL,
        upload_attempted INTEGER NOT NULL DEFAULT 0,
        disk_file_id     INTEGER,
        disk_url         TEXT,
        PRIMARY KEY (submission_id, position)
    );
    ",
    // 2: Telegram updates, as received, per bot (several bots may share the database).
    "
    CREATE TABLE telegram_updates (
        bot_id          INTEGER NOT NULL,
        update_id       INTEGER NOT NULL,
        chat_id         INTEGER,
        raw             TEXT NOT NULL,
        received_at     INTEGER NOT NULL,
        state           TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_until     INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        finished_at     INTEGER,
        PRIMARY KEY (bot_id, update_id)
    ) WITHOUT ROWID;
    CREATE INDEX telegram_updates_due ON telegram_updates (bot_id, state, update_id);
    CREATE INDEX telegram_updates_chat ON telegram_updates (bot_id, chat_id, state, update_id);
    ",
    // 3: portals that installed the app (`portals`). `tokens` is the OAuth pair as JSON, NULL
    // until an install completes and after an uninstall; `install_seq` counts installs, so a
    // client of an earlier install cannot overwrite a later install's tokens.
    "
    CREATE TABLE portal_installations (
        member_id         TEXT PRIMARY KEY,
        domain            TEXT NOT NULL DEFAULT '',
        client_endpoint   TEXT NOT NULL DEFAULT '',
        scope             TEXT NOT NULL DEFAULT '',
        application_token TEXT,
        tokens            TEXT,
        install_seq       INTEGER NOT NULL DEFAULT 0,
        installed_at      INTEGER,
        updated_at        INTEGER NOT NULL,
        uninstalled_at    INTEGER
    );
    ",
    // 4: the Telegram bridge.
    "
    CREATE TABLE bridge_chats (
        tg_chat_id     INTEGER PRIMARY KEY,
        user_json      TEXT NOT NULL,
        phone          TEXT,
        start_payload  TEXT,
        deal_id        INTEGER,
        deal_announced INTEGER NOT NULL DEFAULT 0,
        ol_chat_id     INTEGER,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    );
    CREATE TABLE bridge_messages (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        direction      TEXT NOT NULL,
        tg_chat_id     INTEGER NOT NULL,
        tg_message_id  INTEGER,
        tg_message_ids TEXT NOT NULL DEFAULT '[]',
        im_chat_id     INTEGER,
        im_message_id  INTEGER,
        text           TEXT NOT NULL DEFAULT '',
        files          TEXT NOT NULL DEFAULT '[]',
        state          TEXT NOT NULL,
        error          TEXT,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX bridge_messages_in ON bridge_messages (tg_chat_id, tg_message_id)
        WHERE direction = 'in';
    CREATE UNIQUE INDEX bridge_messages_out ON bridge_messages (im_message_id)
        WHERE direction = 'out';
    CREATE TABLE bridge_events (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        dedup_key       TEXT NOT NULL UNIQUE,
        member_id       TEXT NOT NULL,
        event           TEXT NOT NULL,
        item            TEXT NOT NULL,
        order_key       TEXT,
        received_at     INTEGER NOT NULL,
        state           TEXT NOT NULL DEFAULT 'new',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_until     INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT
    );
    CREATE INDEX bridge_events_due ON bridge_events (state, next_attempt_at);
    CREATE TABLE bridge_keys (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    ",
    // 5: the approval flow. `approvers` is the JSON list of steps with their state; a
    // decision is a compare-and-set on (state, current_step). Effects are the outbox: one row
    // per side effect, unique by `idem_key`, run in order per approval.
    "
    CREATE TABLE approvals (
        id               TEXT PRIMARY KEY,
        member_id        TEXT NOT NULL,
        source_key       TEXT UNIQUE,
        title            TEXT NOT NULL,
        description      TEXT NOT NULL DEFAULT '',
        initiator_id     INTEGER,
        approvers        TEXT NOT NULL,
        current_step     INTEGER NOT NULL DEFAULT 0,
        task_id          INTEGER,
        crm_binding      TEXT,
        deal_id          INTEGER,
        stage_on_approve TEXT,
        stage_on_reject  TEXT,
        deadline_ms      INTEGER,
        files            TEXT NOT NULL DEFAULT '[]',
        state            TEXT NOT NULL,
        created_at       INTEGER NOT NULL,
        decided_at       INTEGER,
        decided_by       INTEGER,
        channel          TEXT,
        reason           TEXT
    );
    CREATE INDEX approvals_state ON approvals (state, created_at);
    CREATE INDEX approvals_task ON approvals (member_id, task_id);
    CREATE TABLE approval_messages (
        approval_id TEXT NOT NULL,
        step        INTEGER NOT NULL,
        chat_id     INTEGER NOT NULL,
        message_id  INTEGER NOT NULL,
        PRIMARY KEY (approval_id, step)
    );
    CREATE TABLE approval_users (
        member_id   TEXT NOT NULL,
        user_id     INTEGER NOT NULL,
        telegram_id INTEGER,
        source      TEXT NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (member_id, user_id)
    );
    CREATE INDEX approval_users_telegram ON approval_users (telegram_id);
    CREATE TABLE approval_link_codes (
        code_hash  TEXT PRIMARY KEY,
        member_id  TEXT NOT NULL,
        user_id    INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
    CREATE TABLE approval_prompts (
        telegram_id       INTEGER PRIMARY KEY,
        approval_id       TEXT NOT NULL,
        step              INTEGER NOT NULL,
        action            TEXT NOT NULL,
        prompt_message_id INTEGER,
        created_at        INTEGER NOT NULL
    );
    CREATE TABLE approval_events (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        dedup_key       TEXT NOT NULL UNIQUE,
        member_id       TEXT NOT NULL,
        event           TEXT NOT NULL,
        item            TEXT NOT NULL,
        order_key       TEXT,
        received_at     INTEGER NOT NULL,
        state           TEXT NOT NULL DEFAULT 'new',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_until     INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT
    );
    CREATE INDEX approval_events_due ON approval_events (state, next_attempt_at);
    CREATE TABLE approval_effects (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        approval_id     TEXT NOT NULL,
        idem_key        TEXT NOT NULL UNIQUE,
        kind            TEXT NOT NULL,
        payload         TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'new',
        attempted       INTEGER NOT NULL DEFAULT 0,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_until     INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        done_at         INTEGER
    );
    CREATE INDEX approval_effects_due ON approval_effects (state, next_attempt_at);
    ",
];

/// An error of the connector's storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("storage: {0}")]
    Database(#[from] sqlx::Error),
    /// A file beside the database could not be written or read.
    #[error("storage: {context}: {source}")]
    File {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored row does not have the shape this version expects.
    #[error("storage: a stored row is corrupt: {0}")]
    Corrupt(String),
    /// The database was written by a newer version of the connector.
    #[error("storage: the database has schema version {found}; this build knows up to {known}")]
    TooNew {
        /// The database's version.
        found: i64,
        /// The newest version this build can migrate to.
        known: i64,
    },
}

/// The connector's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating when missing) the SQLite database at `path` and brings its schema up to
    /// date.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the file cannot be opened or migrated,
    /// [`StoreError::TooNew`] when a newer connector wrote it.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new().filename(path.as_ref());
        Self::open_with(options).await
    }

    /// Opens a database by URL (`sqlite://path/to/file.db`, `sqlite::memory:`), as in
    /// `DATABASE_URL`.
    ///
    /// # Errors
    /// As [`Store::open`], and [`StoreError::Database`] for a URL that is not SQLite's.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?;
        Self::open_with(options).await
    }

    async fn open_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a transaction that returned is on disk even if the machine loses power
            // right after; the 202 a client gets relies on that.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The connection pool, for the flows' own queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut connection = self.pool.acquire().await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *connection)
            .await?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        for (index, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            let mut transaction = sqlx::Connection::begin(&mut *connection).await?;
            transaction.execute(*sql).await?;
            // PRAGMA takes no bound parameters; the number comes from this array, not input.
            transaction
                .execute(format!("PRAGMA user_version = {}", index + 1).as_str())
                .await?;
            transaction.commit().await?;
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch: the connector's timestamps.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// A new random identifier: 12 hex digits of milliseconds (so ids sort by arrival) and 16 of
/// randomness.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_id() -> Result<String, StoreError> {
    let mut random = [0_u8; 8];
    getrandom::getrandom(&mut random).map_err(|error| StoreError::File {
        context: "reading random bytes for an id".into(),
        source: std::io::Error::other(error.to_string()),
    })?;
    Ok(format!(
        "{:012x}{:016x}",
        now_ms() & 0xffff_ffff_ffff,
        u64::from_be_bytes(random)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opening_twice_migrates_once_and_keeps_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connector.db");
        let store = Store::open(&path).await.unwrap();
        sqlx::query(
            "INSERT INTO lead_submissions (id, received_at, fields, state, next_attempt_at) \
             VALUES ('a', 1, '{}', 'pending', 1)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        drop(store);
        let store = Store::open(&path).await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_submissions")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(count, 1);
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(version, i64::try_from(MIGRATIONS.len()).unwrap());
    }

    #[tokio::test]
    async fn a_database_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connector.db");
        let store = Store::open(&path).await.unwrap();
        sqlx::query("PRAGMA user_version = 999")
            .execute(store.pool())
            .await
            .unwrap();
        drop(store);
        let error = Store::open(&path).await.unwrap_err();
        assert!(
            matches!(error, StoreError::TooNew { found: 999, .. }),
            "{error}"
        );
    }

    #[test]
    fn ids_are_unique_and_sort_by_time() {
        let a = new_id().unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let b = new_id().unwrap();
        assert_eq!(a.len(), 28);
        assert!(a < b, "{a} {b}");
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
