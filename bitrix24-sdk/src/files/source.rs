//! What an upload reads from: bytes in memory, a file on disk, or any async reader.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{Error, Result};

/// The content of an upload and the name it gets on Disk.
///
/// Small sources are sent inline in one call; large ones are streamed to the portal without
/// being read into memory (see [`Upload`](super::Upload)). The length must be known up front:
/// the portal's upload endpoint needs a `Content-Length`.
///
/// ```
/// use bitrix24::files::UploadSource;
///
/// let note = UploadSource::from_bytes("note.txt", "Hello, Disk!");
/// assert_eq!(note.len(), Some(12));
/// assert_eq!(note.name(), Some("note.txt"));
///
/// // Name and length of a file path are read when the upload starts.
/// let report = UploadSource::from_path("/var/reports/2024-q4.pdf");
/// assert_eq!(report.name(), Some("2024-q4.pdf"));
/// ```
pub struct UploadSource {
    name: Option<String>,
    content: Content,
}

enum Content {
    Bytes(Bytes),
    Path(PathBuf),
    Reader {
        len: u64,
        reader: Pin<Box<dyn AsyncRead + Send>>,
    },
}

/// A source with its length resolved and its file (if any) open.
pub(crate) struct Opened {
    pub(crate) name: String,
    pub(crate) len: u64,
    pub(crate) body: OpenedBody,
}

pub(crate) enum OpenedBody {
    Bytes(Bytes),
    Reader(Pin<Box<dyn AsyncRead + Send>>),
}

impl UploadSource {
    /// Content already in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Self {
            name: Some(name.into()),
            content: Content::Bytes(bytes.into()),
        }
    }

    /// A file on disk, named after its file name unless [`with_name`](Self::with_name) says
    /// otherwise. It is opened, measured and read only when the upload runs.
    pub fn from_path(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        Self {
            name: path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned()),
            content: Content::Path(path),
        }
    }

    /// Any async reader that yields exactly `len` bytes.
    ///
    /// A reader that ends early or runs on past `len` fails the upload with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
    pub fn from_reader(
        name: impl Into<String>,
        len: u64,
        reader: impl AsyncRead + Send + 'static,
    ) -> Self {
        Self {
            name: Some(name.into()),
            content: Content::Reader {
                len,
                reader: Box::pin(reader),
            },
        }
    }

    /// Sets the name the file gets on Disk.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The name the file will get, if known yet.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The length in bytes, when known without touching the file system.
    pub fn len(&self) -> Option<u64> {
        match &self.content {
            Content::Bytes(bytes) => Some(bytes.len() as u64),
            Content::Path(_) => None,
            Content::Reader { len, .. } => Some(*len),
        }
    }

    /// Whether the content is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Resolves the name and length; opens a file source.
    pub(crate) async fn open(self) -> Result<Opened> {
        let name = self
            .name
            .filter(|name| !name.trim().is_empty())
            .ok_or_else(|| Error::invalid_input("an upload needs a file name"))?;
        let (len, body) = match self.content {
            Content::Bytes(bytes) => (bytes.len() as u64, OpenedBody::Bytes(bytes)),
            Content::Reader { len, reader } => (len, OpenedBody::Reader(reader)),
            Content::Path(path) => {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|error| local_io("the file to upload cannot be opened", error))?;
                let metadata = file
                    .metadata()
                    .await
                    .map_err(|error| local_io("the file to upload cannot be read", error))?;
                if !metadata.is_file() {
                    return Err(Error::invalid_input("the path to upload is not a file"));
                }
                (metadata.len(), OpenedBody::Reader(Box::pin(file)))
            }
        };
        Ok(Opened { name, len, body })
    }
}

impl Opened {
    /// Reads the whole content into memory, for an inline upload of a small file.
    pub(crate) async fn into_bytes(self) -> Result<Bytes> {
        match self.body {
            OpenedBody::Bytes(bytes) => Ok(bytes),
            OpenedBody::Reader(reader) => {
                let capacity = usize::try_from(self.len)
                    .map_err(|_| Error::invalid_input("the file is too large to hold in memory"))?;
                let mut bytes = Vec::with_capacity(capacity);
                // One byte past the promised length is enough to notice a longer source.
                reader
                    .take(self.len.saturating_add(1))
                    .read_to_end(&mut bytes)
                    .await
                    .map_err(|error| local_io("the content to upload cannot be read", error))?;
                if bytes.len() as u64 != self.len {
                    return Err(length_mismatch(self.len, bytes.len() as u64));
                }
                Ok(Bytes::from(bytes))
            }
        }
    }
}

/// The error for a source whose length is not what it promised.
pub(crate) fn length_mismatch(promised: u64, got: u64) -> Error {
    if got < promised {
        Error::invalid_input(format!(
            "the upload source ended after {got} of its {promised} bytes"
        ))
    } else {
        Error::invalid_input(format!(
            "the upload source holds more than the {promised} bytes it promised"
        ))
    }
}

/// A failure of the local file system or reader, kept as the source of the error.
pub(crate) fn local_io(what: &str, error: std::io::Error) -> Error {
    Error::invalid_input(what).with_source(Box::new(error))
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("name", &self.name)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("UploadSource");
        debug.field("name", &self.name);
        match &self.content {
            Content::Bytes(bytes) => debug.field("bytes", &bytes.len()),
            Content::Path(path) => debug.field("path", path),
            Content::Reader { len, .. } => debug.field("reader_len", len),
        };
        debug.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_must_hold_exactly_their_length() {
        let exact = UploadSource::from_reader("a.bin", 3, &b"abc"[..]);
        let bytes = exact.open().await.unwrap().into_bytes().await.unwrap();
        assert_eq!(&bytes[..], b"abc");

        let short = UploadSource::from_reader("a.bin", 4, &b"abc"[..]);
        let error = short.open().await.unwrap().into_bytes().await.unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("3 of its 4"), "{error}");

        let long = UploadSource::from_reader("a.bin", 2, &b"abc"[..]);
        let error = long.open().await.unwrap().into_bytes().await.unwrap_err();
        assert!(error.to_string().contains("more than the 2"), "{error}");
    }

    #[tokio::test]
    async fn paths_are_named_and_measured_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.csv");
        std::fs::write(&path, b"a,b\n1,2\n").unwrap();
        let source = UploadSource::from_path(&path);
        assert_eq!(source.name(), Some("report.csv"));
        assert_eq!(source.len(), None);
        let opened = source.open().await.unwrap();
        assert_eq!((opened.name.as_str(), opened.len), ("report.csv", 8));

        let renamed = UploadSource::from_path(&path).with_name("renamed.csv");
        assert_eq!(renamed.open().await.unwrap().name, "renamed.csv");

        let missing = UploadSource::from_path(dir.path().join("missing.csv"));
        let error = missing.open().await.unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
        assert!(std::error::Error::source(&error).is_some());

        let directory = UploadSource::from_path(dir.path()).with_name("x");
        assert!(directory.open().await.is_err());
    }

    #[tokio::test]
    async fn a_name_is_required() {
        let error = UploadSource::from_bytes("  ", "x")
            .open()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
    }
}
