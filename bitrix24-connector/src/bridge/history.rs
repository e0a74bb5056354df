//! What the bridge remembers: each Telegram chat and its customer, and every message both ways
//! with its ids on each side, timestamps and delivery state, queryable as history.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::store::{Store, StoreError, now_ms};

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer in Telegram to the open line.
    In,
    /// From an operator in the open line to Telegram.
    Out,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

/// What earlier attempts at sending a customer's message left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// None: send it.
    First,
    /// One was started and never recorded as finished: the portal may have it.
    Uncertain,
    /// It was sent already.
    Done,
}

/// One message of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryMessage {
    /// The row id.
    pub id: i64,
    /// Which way it went.
    pub direction: Direction,
    /// The Telegram chat.
    pub telegram_chat_id: i64,
    /// The Telegram message ids (an operator's long text becomes several messages).
    pub telegram_message_ids: Vec<i64>,
    /// The portal's chat (`im[chat_id]`) of an operator's message.
    pub portal_chat_id: Option<u64>,
    /// The portal's message (`im[message_id]`) of an operator's message.
    pub portal_message_id: Option<u64>,
    /// The text as it was sent on.
    pub text: String,
    /// The files, `[{name, …}]`.
    pub files: Value,
    /// `sending` (an attempt is under way), `sent`, `delivered`, `edited`, `deleted` or
    /// `failed`.
    pub state: String,
    /// Why it failed.
    pub error: Option<String>,
    /// When the bridge first saw it (Unix milliseconds).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// A Telegram chat the bridge knows, and how it is tied to the portal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRecord {
    /// The Telegram chat (a private chat's id is the customer's user id).
    pub telegram_chat_id: i64,
    /// The customer as last sent to the portal (`user{…}` of `imconnector.send.messages`).
    pub user: Value,
    /// The phone number the customer shared, E.164 as Telegram gives it.
    pub phone: Option<String>,
    /// The `/start` payload the customer came with.
    pub start_payload: Option<String>,
    /// The deal the payload named, once announced in the open line.
    pub deal_id: Option<u64>,
    /// Whether the deal was announced in the open-line chat.
    pub deal_announced: bool,
    /// The open-line chat (`session.CHAT_ID` of the last send).
    pub portal_chat_id: Option<u64>,
}

/// The history tables.
#[derive(Debug, Clone)]
pub struct History {
    store: Store,
}

impl History {
    /// The history in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The chat, if the bridge has seen it.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn chat(&self, telegram_chat_id: i64) -> Result<Option<ChatRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM bridge_chats WHERE tg_chat_id = ?")
            .bind(telegram_chat_id)
            .fetch_optional(self.store.pool())
            .await?;
        row.map(|row| chat_from_row(&row)).transpose()
    }

    /// Creates or refreshes a chat's customer.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn upsert_chat(&self, telegram_chat_id: i64, user: &Value) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO bridge_chats (tg_chat_id, user_json, created_at, updated_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (tg_chat_id) DO UPDATE SET \
             user_json = excluded.user_json, updated_at = excluded.updated_at",
        )
        .bind(telegram_chat_id)
        .bind(user.to_string())
        .bind(now)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Records a phone number the customer shared.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_phone(&self, telegram_chat_id: i64, phone: &str) -> Result<(), StoreError> {
        self.update_chat(telegram_chat_id, "phone", Value::from(phone))
            .await
    }

    /// Records the `/start` payload and the deal it names.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_start(
        &self,
        telegram_chat_id: i64,
        payload: &str,
        deal_id: Option<u64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE bridge_chats SET start_payload = ?, deal_id = ?, deal_announced = 0, \
             updated_at = ? WHERE tg_chat_id = ?",
        )
        .bind(payload)
        .bind(deal_id.and_then(|id| i64::try_from(id).ok()))
        .bind(now_ms())
        .bind(telegram_chat_id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Records that the deal was announced in the open line.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_deal_announced(&self, telegram_chat_id: i64) -> Result<(), StoreError> {
        self.update_chat(telegram_chat_id, "deal_announced", Value::from(1))
            .await
    }

    /// Records the open-line chat of a Telegram chat.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_portal_chat(
        &self,
        telegram_chat_id: i64,
        chat: u64,
    ) -> Result<(), StoreError> {
        self.update_chat(telegram_chat_id, "ol_chat_id", Value::from(chat))
            .await
    }

    async fn update_chat(
        &self,
        telegram_chat_id: i64,
        column: &str,
        value: Value,
    ) -> Result<(), StoreError> {
        // `column` is one of this module's literals, never input.
        let query =
            format!("UPDATE bridge_chats SET {column} = ?, updated_at = ? WHERE tg_chat_id = ?");
        let query = sqlx::query(&query);
        let query = match value {
            Value::String(text) => query.bind(text),
            Value::Number(number) => query.bind(number.as_i64()),
            _ => query.bind(Option::<i64>::None),
        };
        query
            .bind(now_ms())
            .bind(telegram_chat_id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Records that a customer's message is about to be sent to the portal, before the call,
    /// and says what earlier attempts left behind.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn begin_in(
        &self,
        telegram_chat_id: i64,
        telegram_message_id: i64,
    ) -> Result<Attempt, StoreError> {
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO bridge_messages \
             (direction, tg_chat_id, tg_message_id, tg_message_ids, state, created_at, updated_at) \
             VALUES ('in', ?, ?, ?, 'sending', ?, ?) \
             ON CONFLICT (tg_chat_id, tg_message_id) WHERE direction = 'in' DO NOTHING",
        )
        .bind(telegram_chat_id)
        .bind(telegram_message_id)
        .bind(Value::from(vec![telegram_message_id]).to_string())
        .bind(now)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Attempt::First);
        }
        let state: String = sqlx::query_scalar(
            "SELECT state FROM bridge_messages WHERE direction = 'in' AND tg_chat_id = ? AND tg_message_id = ?",
        )
        .bind(telegram_chat_id)
        .bind(telegram_message_id)
        .fetch_one(self.store.pool())
        .await?;
        Ok(if state == "sending" {
            Attempt::Uncertain
        } else {
            Attempt::Done
        })
    }

    /// Records a customer's message as passed to the portal (`edited` for an edit).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_in(
        &self,
        telegram_chat_id: i64,
        telegram_message_id: i64,
        text: &str,
        files: &Value,
        edited: bool,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO bridge_messages \
             (direction, tg_chat_id, tg_message_id, tg_message_ids, text, files, state, created_at, updated_at) \
             VALUES ('in', ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (tg_chat_id, tg_message_id) WHERE direction = 'in' DO UPDATE SET \
             text = excluded.text, files = excluded.files, state = excluded.state, \
             updated_at = excluded.updated_at",
        )
        .bind(telegram_chat_id)
        .bind(telegram_message_id)
        .bind(Value::from(vec![telegram_message_id]).to_string())
        .bind(text)
        .bind(files.to_string())
        .bind(if edited { "edited" } else { "sent" })
        .bind(now)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The operator's message `portal_message_id`, if it went out.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn outgoing(
        &self,
        portal_message_id: u64,
    ) -> Result<Option<HistoryMessage>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM bridge_messages WHERE direction = 'out' AND im_message_id = ?",
        )
        .bind(to_i64(portal_message_id))
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|row| message_from_row(&row)).transpose()
    }

    /// Records an operator's message sent to Telegram as `telegram_message_ids`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_out(
        &self,
        telegram_chat_id: i64,
        telegram_message_ids: &[i64],
        portal_chat_id: Option<u64>,
        portal_message_id: u64,
        text: &str,
        files: &Value,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO bridge_messages \
             (direction, tg_chat_id, tg_message_id, tg_message_ids, im_chat_id, im_message_id, text, files, \
              state, created_at, updated_at) \
             VALUES ('out', ?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?) \
             ON CONFLICT (im_message_id) WHERE direction = 'out' DO NOTHING",
        )
        .bind(telegram_chat_id)
        .bind(telegram_message_ids.first().copied())
        .bind(Value::from(telegram_message_ids.to_vec()).to_string())
        .bind(portal_chat_id.map(to_i64))
        .bind(to_i64(portal_message_id))
        .bind(text)
        .bind(files.to_string())
        .bind(now)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Changes the state of an operator's message (`delivered`, `edited`, `deleted`, `failed`).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_out_state(
        &self,
        portal_message_id: u64,
        state: &str,
        text: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE bridge_messages SET state = ?, text = coalesce(?, text), error = ?, updated_at = ? \
             WHERE direction = 'out' AND im_message_id = ?",
        )
        .bind(state)
        .bind(text)
        .bind(error)
        .bind(now_ms())
        .bind(to_i64(portal_message_id))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Marks a customer's message deleted.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_in_state(
        &self,
        telegram_chat_id: i64,
        telegram_message_id: i64,
        state: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE bridge_messages SET state = ?, updated_at = ? \
             WHERE direction = 'in' AND tg_chat_id = ? AND tg_message_id = ?",
        )
        .bind(state)
        .bind(now_ms())
        .bind(telegram_chat_id)
        .bind(telegram_message_id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// A chat's messages, both ways, oldest first.
    ///
    /// # Errors
    /// When the database fails or a row is corrupt.
    pub async fn messages(&self, telegram_chat_id: i64) -> Result<Vec<HistoryMessage>, StoreError> {
        let rows = sqlx::query("SELECT * FROM bridge_messages WHERE tg_chat_id = ? ORDER BY id")
            .bind(telegram_chat_id)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// How many messages went each way (`in`, `out`) in each state.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT direction, state, count(*) AS n FROM bridge_messages GROUP BY direction, state",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let n: i64 = row.try_get("n")?;
                Ok((
                    row.try_get("direction")?,
                    row.try_get("state")?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }
}

fn chat_from_row(row: &SqliteRow) -> Result<ChatRecord, StoreError> {
    let user: String = row.try_get("user_json")?;
    let deal: Option<i64> = row.try_get("deal_id")?;
    let chat: Option<i64> = row.try_get("ol_chat_id")?;
    Ok(ChatRecord {
        telegram_chat_id: row.try_get("tg_chat_id")?,
        user: serde_json::from_str(&user)
            .map_err(|e| StoreError::Corrupt(format!("chat user: {e}")))?,
        phone: row.try_get("phone")?,
        start_payload: row.try_get("start_payload")?,
        deal_id: deal.and_then(|id| u64::try_from(id).ok()),
        deal_announced: row.try_get("deal_announced")?,
        portal_chat_id: chat.and_then(|id| u64::try_from(id).ok()),
    })
}

fn message_from_row(row: &SqliteRow) -> Result<HistoryMessage, StoreError> {
    let direction: String = row.try_get("direction")?;
    let ids: String = row.try_get("tg_message_ids")?;
    let files: String = row.try_get("files")?;
    let chat: Option<i64> = row.try_get("im_chat_id")?;
    let message: Option<i64> = row.try_get("im_message_id")?;
    Ok(HistoryMessage {
        id: row.try_get("id")?,
        direction: if direction == Direction::Out.as_str() {
            Direction::Out
        } else {
            Direction::In
        },
        telegram_chat_id: row.try_get("tg_chat_id")?,
        telegram_message_ids: serde_json::from_str(&ids)
            .map_err(|e| StoreError::Corrupt(format!("message ids: {e}")))?,
        portal_chat_id: chat.and_then(|id| u64::try_from(id).ok()),
        portal_message_id: message.and_then(|id| u64::try_from(id).ok()),
        text: row.try_get("text")?,
        files: serde_json::from_str(&files)
            .map_err(|e| StoreError::Corrupt(format!("files: {e}")))?,
        state: row.try_get("state")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
