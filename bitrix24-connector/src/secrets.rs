//! Small helpers every flow uses for secrets and keys: random keys kept in the store, hex,
//! short digests for deduplication keys, constant-time comparison.

use crate::store::{Store, StoreError};

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The first 12 bytes of SHA-256 of `text`, in hex: enough to tell events apart in a
/// deduplication key.
pub(crate) fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(text.as_bytes())[..12])
}

/// Whether two secrets are equal, compared without revealing where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random secret kept in the store under `name`, made on first use.
pub(crate) async fn secret(store: &Store, name: &str, len: usize) -> Result<Vec<u8>, StoreError> {
    if let Some(value) = get_value(store, name).await? {
        return Ok(value);
    }
    let mut key = vec![0_u8; len];
    getrandom::getrandom(&mut key).map_err(|error| StoreError::File {
        context: "reading random bytes for a key".into(),
        source: std::io::Error::other(error.to_string()),
    })?;
    // Another process may have won the race: whatever is stored is the key.
    sqlx::query(
        "INSERT INTO bridge_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(&key)
    .execute(store.pool())
    .await?;
    get_value(store, name)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("the key {name} vanished")))
}

pub(crate) async fn get_value(store: &Store, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT value FROM bridge_keys WHERE name = ?")
            .bind(name)
            .fetch_optional(store.pool())
            .await?,
    )
}

pub(crate) async fn set_value(store: &Store, name: &str, value: &[u8]) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO bridge_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        .bind(name)
        .bind(value)
        .execute(store.pool())
        .await?;
    Ok(())
}
