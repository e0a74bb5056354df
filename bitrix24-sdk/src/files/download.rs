//! Downloads of `DOWNLOAD_URL` / `urlMachine` links as a byte stream.

use std::fmt;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use url::Url;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::method::BoxFuture;

use super::transfer;

/// A download of a file link, ready to start: take it as a [`stream`](Download::stream),
/// write it to a [path](Download::to_path) or a [writer](Download::to_writer), or `.await`
/// it for the bytes.
///
/// The link is sent with the headers the portal wants (`User-Agent`, `Accept`,
/// `Accept-Language`, `Referer: https://{portal}/`); redirects are followed by hand (at most
/// three, never from `https` to `http`). Errors never contain the link: it carries an access
/// token.
#[must_use = "a download does nothing until it is started"]
pub struct Download {
    client: Client,
    url: Result<Url>,
    timeout: Option<Duration>,
}

impl Download {
    pub(crate) fn new(client: Client, url: &str, timeout: Option<Duration>) -> Self {
        let url = resolve(&client, url);
        Self {
            client,
            url,
            timeout,
        }
    }

    /// A deadline for the whole download, reply and body (default: the one set on
    /// [`Files::timeout`](super::Files::timeout), otherwise none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Starts the download and returns the body as a stream of chunks once the portal has
    /// answered with a success status.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a malformed or non-https
    /// link; [`ErrorKind::Api`](crate::ErrorKind::Api) with the portal's code (or an empty
    /// code and the HTTP status) when it refuses; transport and timeout errors.
    pub async fn stream(self) -> Result<DownloadStream> {
        let url = self.url?;
        let response = transfer::get(&self.client, url, self.timeout).await?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
                .map(str::to_owned)
        };
        let file_name = header(CONTENT_DISPOSITION).and_then(|value| disposition_name(&value));
        let content_type = header(CONTENT_TYPE);
        let content_length = response.content_length();
        Ok(DownloadStream {
            body: Box::pin(response.bytes_stream()),
            content_length,
            file_name,
            content_type,
        })
    }

    /// Downloads into `writer` and returns the number of bytes written. The writer is
    /// flushed, not shut down.
    ///
    /// # Errors
    /// As [`stream`](Self::stream); a failing writer gives
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) with the I/O error as its
    /// source.
    pub async fn to_writer<W>(self, writer: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut stream = self.stream().await?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            writer.write_all(&chunk).await.map_err(write_error)?;
            written += chunk.len() as u64;
        }
        writer.flush().await.map_err(write_error)?;
        Ok(written)
    }

    /// Downloads into the file at `path`, replacing it, and returns the number of bytes.
    ///
    /// The content goes to a `.part` file next to it first, renamed into place once
    /// complete, so `path` never holds half a download.
    ///
    /// # Errors
    /// As [`to_writer`](Self::to_writer).
    pub async fn to_path(self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let partial = partial_path(path);
        let outcome = async {
            let mut file = tokio::fs::File::create(&partial)
                .await
                .map_err(write_error)?;
            let written = self.to_writer(&mut file).await?;
            file.sync_all().await.map_err(write_error)?;
            drop(file);
            tokio::fs::rename(&partial, path)
                .await
                .map_err(write_error)?;
            Ok(written)
        }
        .await;
        if outcome.is_err() {
            // Best effort: the error that matters is the one being returned.
            let _ = tokio::fs::remove_file(&partial).await;
        }
        outcome
    }

    /// Downloads the whole file into memory. Meant for small files; use
    /// [`stream`](Self::stream) or [`to_path`](Self::to_path) for large ones.
    ///
    /// # Errors
    /// As [`stream`](Self::stream).
    pub async fn bytes(self) -> Result<Bytes> {
        let mut stream = self.stream().await?;
        let capacity = stream
            .content_length()
            .and_then(|len| usize::try_from(len).ok())
            .unwrap_or(0);
        let mut out = Vec::with_capacity(capacity);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(out))
    }
}

impl IntoFuture for Download {
    type Output = Result<Bytes>;
    type IntoFuture = BoxFuture<'static, Result<Bytes>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.bytes())
    }
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The link is left out: it carries an access token.
        f.debug_struct("Download")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The body of a download: a stream of chunks, with what the reply said about the file.
pub struct DownloadStream {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    content_length: Option<u64>,
    file_name: Option<String>,
    content_type: Option<String>,
}

impl DownloadStream {
    /// The size the reply announced, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The file name from `Content-Disposition`, if the reply named one.
    pub fn file_name(&self) -> Option<&str> {
        self.file_name.as_deref()
    }

    /// The `Content-Type` of the reply.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
}

impl Stream for DownloadStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.body
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|chunk| chunk.map_err(|error| Error::transport(error, false))))
    }
}

impl fmt::Debug for DownloadStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadStream")
            .field("content_length", &self.content_length)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// Absolute links are taken as they are; relative ones (`/bitrix/tools/…`) are on the portal.
fn resolve(client: &Client, url: &str) -> Result<Url> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::invalid_input("the download URL is empty"));
    }
    let parsed = match Url::parse(url) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => client
            .portal()
            .as_url()
            .join(url)
            .map_err(|_| Error::invalid_input("the download URL is not a valid URL"))?,
        Err(_) => return Err(Error::invalid_input("the download URL is not a valid URL")),
    };
    transfer::check_url(client, &parsed, "download URL")?;
    Ok(parsed)
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}

fn write_error(error: std::io::Error) -> Error {
    super::source::local_io("the download cannot be written", error)
}

/// The file name in a `Content-Disposition` value: `filename*` (RFC 5987, UTF-8) first, then
/// the plain `filename`.
fn disposition_name(value: &str) -> Option<String> {
    let mut plain = None;
    for param in value.split(';').map(str::trim) {
        let Some((key, raw)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let raw = raw.trim();
        if key == "filename*" {
            let (charset, rest) = raw.split_once('\'')?;
            let (_, encoded) = rest.split_once('\'')?;
            if charset.eq_ignore_ascii_case("utf-8")
                && let Some(name) = percent_decode(encoded)
            {
                return Some(name);
            }
        } else if key == "filename" {
            plain = Some(raw.trim_matches('"').replace("\\\"", "\""));
        }
    }
    plain.filter(|name| !name.is_empty())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_content_disposition() {
        assert_eq!(
            disposition_name(
                "attachment; filename=\"_____.txt\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.txt"
            )
            .as_deref(),
            Some("отчёт.txt")
        );
        assert_eq!(
            disposition_name("attachment; filename=\"report 1.pdf\"").as_deref(),
            Some("report 1.pdf")
        );
        assert_eq!(
            disposition_name("inline; FILENAME=plain.txt").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(disposition_name("attachment"), None);
        assert_eq!(percent_decode("%zz"), None);
    }

    #[test]
    fn partial_files_sit_next_to_the_target() {
        assert_eq!(
            partial_path(Path::new("/tmp/x/report.pdf")),
            PathBuf::from("/tmp/x/report.pdf.part")
        );
    }

    #[test]
    fn links_are_checked_and_resolved_against_the_portal() {
        let client = Client::from_webhook("https://example.bitrix24.ru/rest/1/secret/").unwrap();
        let absolute = resolve(&client, "https://cdn.example.com/file?token=t").unwrap();
        assert_eq!(absolute.host_str(), Some("cdn.example.com"));
        let relative = resolve(&client, "/bitrix/tools/disk/uf.php?attachedId=5").unwrap();
        assert_eq!(
            relative.as_str(),
            "https://example.bitrix24.ru/bitrix/tools/disk/uf.php?attachedId=5"
        );
        for bad in [
            "",
            "http://elsewhere.example.com/rest/download.json?auth=SECRET",
            "ftp://x/y",
        ] {
            let error = resolve(&client, bad).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidInput, "{bad}");
            assert!(!error.to_string().contains("SECRET"));
            assert!(!format!("{error:?}").contains("SECRET"));
        }
    }
}
