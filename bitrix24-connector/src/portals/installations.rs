//! The `portal_installations` table: one row per portal that ever installed the app, holding
//! its `application_token` and its OAuth token pair.
//!
//! Every change is a single statement, so two requests racing for one portal each see the row
//! before or after the other's change, never half of it.

use bitrix24::TokenSet;
use sqlx::{Row, SqlitePool};

use super::Installation;
use crate::store::StoreError;

/// A row's token pair as stored, and the install it belongs to.
pub(crate) struct StoredTokens {
    pub(crate) tokens: TokenSet,
    pub(crate) install_seq: i64,
}

/// What an install writes.
pub(crate) struct NewInstall<'a> {
    pub(crate) member_id: &'a str,
    pub(crate) domain: &'a str,
    pub(crate) client_endpoint: &'a str,
    pub(crate) scope: &'a [String],
    pub(crate) application_token: &'a str,
    pub(crate) tokens: &'a TokenSet,
}

/// The `application_token` stored for `member_id`.
pub(crate) async fn application_token(
    pool: &SqlitePool,
    member_id: &str,
) -> Result<Option<String>, StoreError> {
    let token: Option<Option<String>> = sqlx::query_scalar(
        "SELECT application_token FROM portal_installations WHERE member_id = ?",
    )
    .bind(member_id)
    .fetch_optional(pool)
    .await?;
    Ok(token.flatten())
}

/// Stores `token` for `member_id`, replacing any other.
pub(crate) async fn put_application_token(
    pool: &SqlitePool,
    member_id: &str,
    token: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO portal_installations (member_id, application_token, updated_at) \
         VALUES (?1, ?2, ?3) \
         ON CONFLICT (member_id) DO UPDATE SET \
             application_token = excluded.application_token, updated_at = excluded.updated_at",
    )
    .bind(member_id)
    .bind(token)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Stores `token` for `member_id` unless a token is stored; `true` when it stored it. One
/// conditional upsert, so of two first installs racing exactly one wins.
pub(crate) async fn put_application_token_if_absent(
    pool: &SqlitePool,
    member_id: &str,
    token: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO portal_installations (member_id, application_token, updated_at) \
         VALUES (?1, ?2, ?3) \
         ON CONFLICT (member_id) DO UPDATE SET \
             application_token = excluded.application_token, updated_at = excluded.updated_at \
         WHERE portal_installations.application_token IS NULL",
    )
    .bind(member_id)
    .bind(token)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets `token` for `member_id` if it is stored and no install ever completed with it: the
/// undo of a first install whose tokens the token server refused.
pub(crate) async fn forget_unconfirmed_application_token(
    pool: &SqlitePool,
    member_id: &str,
    token: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE portal_installations SET application_token = NULL, updated_at = ?3 \
         WHERE member_id = ?1 AND application_token = ?2 AND tokens IS NULL",
    )
    .bind(member_id)
    .bind(token)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records an install (or update) with its tokens. `None` when the row's `application_token`
/// changed since the event was verified (an uninstall or another install came in between):
/// the caller must not act on a portal state it did not verify.
pub(crate) async fn save_install(
    pool: &SqlitePool,
    install: &NewInstall<'_>,
    now: i64,
) -> Result<Option<(i64, Installation)>, StoreError> {
    let tokens = encode_tokens(install.tokens)?;
    let row = sqlx::query(
        "INSERT INTO portal_installations \
             (member_id, domain, client_endpoint, scope, application_token, tokens, \
              install_seq, installed_at, updated_at, uninstalled_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, NULL) \
         ON CONFLICT (member_id) DO UPDATE SET \
             domain = excluded.domain, \
             client_endpoint = excluded.client_endpoint, \
             scope = excluded.scope, \
             tokens = excluded.tokens, \
             install_seq = portal_installations.install_seq + 1, \
             installed_at = CASE \
                 WHEN portal_installations.tokens IS NULL \
                   OR portal_installations.installed_at IS NULL \
                 THEN excluded.installed_at \
                 ELSE portal_installations.installed_at END, \
             updated_at = excluded.updated_at, \
             uninstalled_at = NULL \
         WHERE portal_installations.application_token = excluded.application_token \
         RETURNING install_seq, installed_at, updated_at",
    )
    .bind(install.member_id)
    .bind(install.domain)
    .bind(install.client_endpoint)
    .bind(install.scope.join(","))
    .bind(install.application_token)
    .bind(tokens)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let installed_at: Option<i64> = row.try_get("installed_at")?;
    Ok(Some((
        row.try_get("install_seq")?,
        Installation {
            member_id: install.member_id.to_owned(),
            domain: install.domain.to_owned(),
            client_endpoint: install.client_endpoint.to_owned(),
            scope: install.scope.to_vec(),
            installed_at: installed_at.unwrap_or(now),
            updated_at: row.try_get("updated_at")?,
        },
    )))
}

/// Forgets the tokens and the `application_token` of `member_id`, keeping the row (with
/// `uninstalled_at`) as history. `true` when the portal was known.
pub(crate) async fn uninstall(
    pool: &SqlitePool,
    member_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE portal_installations SET \
             tokens = NULL, application_token = NULL, \
             uninstalled_at = COALESCE(uninstalled_at, ?2), updated_at = ?2 \
         WHERE member_id = ?1",
    )
    .bind(member_id)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

const INSTALLED: &str = "SELECT member_id, domain, client_endpoint, scope, installed_at, updated_at \
     FROM portal_installations \
     WHERE tokens IS NOT NULL AND uninstalled_at IS NULL AND installed_at IS NOT NULL";

/// The installation of `member_id`, if the app is installed there.
pub(crate) async fn get(
    pool: &SqlitePool,
    member_id: &str,
) -> Result<Option<Installation>, StoreError> {
    let row = sqlx::query(&format!("{INSTALLED} AND member_id = ?"))
        .bind(member_id)
        .fetch_optional(pool)
        .await?;
    row.map(|row| installation(&row)).transpose()
}

/// Every portal the app is installed on, oldest install first.
pub(crate) async fn list(pool: &SqlitePool) -> Result<Vec<Installation>, StoreError> {
    let rows = sqlx::query(&format!("{INSTALLED} ORDER BY installed_at, member_id"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(installation).collect()
}

fn installation(row: &sqlx::sqlite::SqliteRow) -> Result<Installation, StoreError> {
    let scope: String = row.try_get("scope")?;
    Ok(Installation {
        member_id: row.try_get("member_id")?,
        domain: row.try_get("domain")?,
        client_endpoint: row.try_get("client_endpoint")?,
        scope: scope
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        installed_at: row.try_get("installed_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The token pair of an installed portal.
pub(crate) async fn load_tokens(
    pool: &SqlitePool,
    member_id: &str,
) -> Result<Option<StoredTokens>, StoreError> {
    let row = sqlx::query(
        "SELECT tokens, install_seq FROM portal_installations \
         WHERE member_id = ? AND tokens IS NOT NULL AND uninstalled_at IS NULL",
    )
    .bind(member_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let json: String = row.try_get("tokens")?;
    Ok(Some(StoredTokens {
        tokens: decode_tokens(&json)?,
        install_seq: row.try_get("install_seq")?,
    }))
}

/// Replaces the token pair of install `install_seq` of `member_id`; `false` when the portal
/// was uninstalled or installed again since (the pair then belongs to a dead install).
pub(crate) async fn save_tokens(
    pool: &SqlitePool,
    member_id: &str,
    install_seq: i64,
    tokens: &TokenSet,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE portal_installations SET tokens = ?3, updated_at = ?4 \
         WHERE member_id = ?1 AND install_seq = ?2 \
           AND tokens IS NOT NULL AND uninstalled_at IS NULL",
    )
    .bind(member_id)
    .bind(install_seq)
    .bind(encode_tokens(tokens)?)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn encode_tokens(tokens: &TokenSet) -> Result<String, StoreError> {
    serde_json::to_string(tokens)
        .map_err(|_| StoreError::Corrupt("a token pair could not be encoded".into()))
}

fn decode_tokens(json: &str) -> Result<TokenSet, StoreError> {
    // serde_json's messages can quote the offending value, which may be a token: only the
    // position is kept.
    serde_json::from_str(json).map_err(|error| {
        StoreError::Corrupt(format!(
            "a stored token pair is not valid (at line {}, column {})",
            error.line(),
            error.column()
        ))
    })
}
