//! Where OAuth tokens are kept between runs.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::oauth::TokenSet;
use crate::error::BoxError;

/// Where OAuth tokens live between runs.
///
/// [`save`](Self::save) is called with a freshly refreshed pair *before* it is used. By then
/// the token server has already invalidated the old refresh token, so a store must persist the
/// new pair durably before returning `Ok`: a pair that is lost cannot be recovered without the
/// user authorizing the application again.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Loads the stored pair; `Ok(None)` if nothing has been stored yet.
    ///
    /// # Errors
    /// Whatever kept the store from reading its tokens.
    async fn load(&self) -> Result<Option<TokenSet>, BoxError>;

    /// Stores `tokens`, replacing the previous pair, durably.
    ///
    /// # Errors
    /// Whatever kept the store from saving. The client still uses the new pair in memory
    /// (the old refresh token is already dead) and reports
    /// [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore) to the call that refreshed.
    async fn save(&self, tokens: &TokenSet) -> Result<(), BoxError>;
}

#[async_trait]
impl<T: TokenStore + ?Sized> TokenStore for Arc<T> {
    async fn load(&self) -> Result<Option<TokenSet>, BoxError> {
        (**self).load().await
    }

    async fn save(&self, tokens: &TokenSet) -> Result<(), BoxError> {
        (**self).save(tokens).await
    }
}

/// A [`TokenStore`] in memory: tokens are lost when the process exits.
///
/// Clones share the same tokens. Useful for tests and for short-lived programs that receive
/// their tokens from elsewhere.
#[derive(Clone, Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Arc<Mutex<Option<TokenSet>>>,
    saves: Arc<AtomicU64>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `tokens`.
    pub fn with_tokens(tokens: TokenSet) -> Self {
        Self {
            tokens: Arc::new(Mutex::new(Some(tokens))),
            saves: Arc::default(),
        }
    }

    /// The pair stored now.
    pub fn current(&self) -> Option<TokenSet> {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many times [`save`](TokenStore::save) has been called on this store or its clones.
    pub fn saves(&self) -> u64 {
        self.saves.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self) -> Result<Option<TokenSet>, BoxError> {
        Ok(self.current())
    }

    async fn save(&self, tokens: &TokenSet) -> Result<(), BoxError> {
        *self.tokens.lock().unwrap_or_else(PoisonError::into_inner) = Some(tokens.clone());
        self.saves.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A [`TokenStore`] in a JSON file.
///
/// Saving writes a new file next to the old one (readable only by its owner on unix), flushes
/// it to disk and renames it over the old one, so a crash leaves either the old pair or the
/// new one, never a torn file. The directory must exist. The file holds the tokens in plain
/// text: keep it out of backups and shared folders.
#[derive(Clone, Debug)]
pub struct JsonFileTokenStore {
    path: PathBuf,
}

impl JsonFileTokenStore {
    /// A store in the file at `path`; nothing is read or written until it is used.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl TokenStore for JsonFileTokenStore {
    async fn load(&self) -> Result<Option<TokenSet>, BoxError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || read_tokens(&path)).await?
    }

    async fn save(&self, tokens: &TokenSet) -> Result<(), BoxError> {
        let json = serde_json::to_vec_pretty(tokens)?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &json)).await??;
        Ok(())
    }
}

fn read_tokens(path: &Path) -> Result<Option<TokenSet>, BoxError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    // serde_json's messages can quote the offending value, which may be a token, so only its
    // position is kept.
    serde_json::from_slice(&bytes).map(Some).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a valid token file (at line {}, column {})",
                path.display(),
                error.line(),
                error.column()
            ),
        )
        .into()
    })
}

fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "token file path has no file name",
        )
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    let temp_path = dir.join(temp_name);

    let written = write_new_file(&temp_path, contents).and_then(|()| fs::rename(&temp_path, path));
    if let Err(error) = written {
        let _ = fs::remove_file(&temp_path);
        return Err(error);
    }
    sync_dir(dir);
    Ok(())
}

fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    // Set at creation, so the tokens are never readable by others, not even for a moment.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Makes the rename itself durable; best effort, since some file systems refuse to sync a
/// directory and the data is already on disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) {
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn tokens(n: u32) -> TokenSet {
        TokenSet::new(format!("access-{n}"), format!("refresh-{n}"))
            .with_expires_at(UNIX_EPOCH + Duration::from_secs(1_780_000_000 + u64::from(n)))
            .with_member_id("member")
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn memory_store_clones_share_and_count_saves() {
        let store = MemoryTokenStore::new();
        assert!(store.load().await.unwrap().is_none());
        let clone = store.clone();
        clone.save(&tokens(1)).await.unwrap();
        clone.save(&tokens(2)).await.unwrap();
        assert_eq!(store.current(), Some(tokens(2)));
        assert_eq!(store.load().await.unwrap(), Some(tokens(2)));
        assert_eq!(store.saves(), 2);

        let seeded = MemoryTokenStore::with_tokens(tokens(3));
        assert_eq!(seeded.current(), Some(tokens(3)));
        assert_eq!(seeded.saves(), 0);

        let shared: Arc<dyn TokenStore> = Arc::new(store.clone());
        shared.save(&tokens(4)).await.unwrap();
        assert_eq!(Arc::clone(&shared).load().await.unwrap(), Some(tokens(4)));
        assert_eq!(store.saves(), 3);
    }

    #[tokio::test]
    async fn file_store_round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonFileTokenStore::new(dir.path().join("tokens.json"));
        assert_eq!(store.path(), dir.path().join("tokens.json"));
        assert!(store.load().await.unwrap().is_none());

        store.save(&tokens(1)).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(tokens(1)));
        store.save(&tokens(2)).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(tokens(2)));

        assert_eq!(dir_entries(dir.path()), ["tokens.json"]);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn file_store_file_is_private() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        fs::write(&path, b"{}").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

        JsonFileTokenStore::new(&path)
            .save(&tokens(1))
            .await
            .unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn file_store_corrupt_file_is_an_error_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        fs::write(
            &path,
            br#"{"access_token": 5, "refresh_token": "s3cret-refresh"}"#,
        )
        .unwrap();
        let error = JsonFileTokenStore::new(&path).load().await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("tokens.json"), "{message}");
        assert!(!message.contains("s3cret") && !format!("{error:?}").contains("s3cret"));

        fs::write(&path, b"not json s3cret").unwrap();
        let error = JsonFileTokenStore::new(&path).load().await.unwrap_err();
        assert!(!error.to_string().contains("s3cret") && !format!("{error:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn file_store_save_into_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonFileTokenStore::new(dir.path().join("missing").join("tokens.json"));
        assert!(store.save(&tokens(1)).await.is_err());
        assert!(dir_entries(dir.path()).is_empty());
    }
}
