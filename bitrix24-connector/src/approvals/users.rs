//! Who is who: Bitrix24 users and their Telegram ids (from the user field, from events, from
//! self-service linking), and the one-time link codes (only their hashes are stored).

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::secrets::hex;
use crate::store::{Store, StoreError, now_ms};

/// Where a mapping came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The portal's user field (`user.get`, `ONUSERADD`/`ONUSERUPDATE`).
    Portal,
    /// `/start` with a one-time code.
    Code,
    /// A shared phone number matched to the user's profile.
    Phone,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Portal => "portal",
            Self::Code => "code",
            Self::Phone => "phone",
        }
    }
}

/// The `approval_users` and `approval_link_codes` tables.
#[derive(Debug, Clone)]
pub struct UserMap {
    store: Store,
}

impl UserMap {
    /// The mapping in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// A Bitrix24 user's Telegram id, if known.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn telegram_of(&self, member_id: &str, user: u64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT telegram_id FROM approval_users WHERE member_id = ? AND user_id = ?",
        )
        .bind(member_id)
        .bind(i64::try_from(user).unwrap_or(i64::MAX))
        .fetch_optional(self.store.pool())
        .await?
        .flatten())
    }

    /// Whether the user's mapping was ever read (a known "no Telegram id" counts).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn known(&self, member_id: &str, user: u64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM approval_users WHERE member_id = ? AND user_id = ?",
        )
        .bind(member_id)
        .bind(i64::try_from(user).unwrap_or(i64::MAX))
        .fetch_one(self.store.pool())
        .await?;
        Ok(n > 0)
    }

    /// Sets (or clears, with `None`) a user's Telegram id. A Telegram account belongs to one
    /// user per portal: linking it elsewhere unlinks it here.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set(
        &self,
        member_id: &str,
        user: u64,
        telegram_id: Option<i64>,
        source: Source,
    ) -> Result<(), StoreError> {
        let user = i64::try_from(user).unwrap_or(i64::MAX);
        let mut tx = self.store.pool().begin().await?;
        if let Some(telegram) = telegram_id {
            sqlx::query(
                "UPDATE approval_users SET telegram_id = NULL, updated_at = ? \
                 WHERE member_id = ? AND telegram_id = ? AND user_id <> ?",
            )
            .bind(now_ms())
            .bind(member_id)
            .bind(telegram)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO approval_users (member_id, user_id, telegram_id, source, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (member_id, user_id) DO UPDATE SET telegram_id = excluded.telegram_id, \
             source = excluded.source, updated_at = excluded.updated_at",
        )
        .bind(member_id)
        .bind(user)
        .bind(telegram_id)
        .bind(source.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The Bitrix24 users a Telegram account is linked to: `(member_id, user)`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn users_of(&self, telegram_id: i64) -> Result<Vec<(String, u64)>, StoreError> {
        let rows =
            sqlx::query("SELECT member_id, user_id FROM approval_users WHERE telegram_id = ?")
                .bind(telegram_id)
                .fetch_all(self.store.pool())
                .await?;
        rows.iter()
            .map(|r| {
                let user: i64 = r.try_get("user_id")?;
                Ok((
                    r.try_get("member_id")?,
                    u64::try_from(user).unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// A new one-time code for `user` to send to the bot, valid for `ttl_ms`.
    ///
    /// # Errors
    /// When randomness or the database fails.
    pub async fn new_code(
        &self,
        member_id: &str,
        user: u64,
        ttl_ms: i64,
    ) -> Result<String, StoreError> {
        let mut random = [0_u8; 9];
        getrandom::getrandom(&mut random).map_err(|error| StoreError::File {
            context: "reading random bytes for a link code".into(),
            source: std::io::Error::other(error.to_string()),
        })?;
        // `/start` payloads allow A-Z a-z 0-9 _ - (64 chars at most).
        let code = format!("link_{}", hex(&random));
        sqlx::query(
            "INSERT INTO approval_link_codes (code_hash, member_id, user_id, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(hash(&code))
        .bind(member_id)
        .bind(i64::try_from(user).unwrap_or(i64::MAX))
        .bind(now_ms().saturating_add(ttl_ms))
        .execute(self.store.pool())
        .await?;
        Ok(code)
    }

    /// Uses a code once: the user it was made for, if it is known, unused and not expired.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn redeem(&self, code: &str) -> Result<Option<(String, u64)>, StoreError> {
        let row = sqlx::query(
            "UPDATE approval_link_codes SET used_at = ? \
             WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING member_id, user_id",
        )
        .bind(now_ms())
        .bind(hash(code.trim()))
        .bind(now_ms())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| {
            let user: i64 = r.try_get("user_id")?;
            Ok((
                r.try_get("member_id")?,
                u64::try_from(user).unwrap_or_default(),
            ))
        })
        .transpose()
    }
}

fn hash(code: &str) -> String {
    hex(&Sha256::digest(code.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_code_works_once_and_a_telegram_account_belongs_to_one_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("c.db")).await.unwrap();
        let users = UserMap::new(store);
        let code = users.new_code("m", 3, 60_000).await.unwrap();
        assert!(code.len() <= 64);
        assert_eq!(users.redeem(&code).await.unwrap(), Some(("m".into(), 3)));
        assert_eq!(users.redeem(&code).await.unwrap(), None);
        let expired = users.new_code("m", 3, -1).await.unwrap();
        assert_eq!(users.redeem(&expired).await.unwrap(), None);

        users.set("m", 3, Some(77), Source::Code).await.unwrap();
        users.set("m", 4, Some(77), Source::Portal).await.unwrap();
        assert_eq!(users.telegram_of("m", 3).await.unwrap(), None);
        assert_eq!(users.telegram_of("m", 4).await.unwrap(), Some(77));
        assert!(users.known("m", 3).await.unwrap());
    }
}
