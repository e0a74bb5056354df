//! Raw HTTP for files: the multipart POST to an `uploadUrl` and the GET of a `DOWNLOAD_URL`.
//!
//! Both go through the client's own HTTP client (its pool, its TLS settings, redirects off)
//! and its rate limiter when they hit the portal. Neither URL ever reaches an error message
//! or a log line: both carry the caller's access token in their query.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, LOCATION, REFERER, USER_AGENT};
use tokio_util::io::ReaderStream;
use url::Url;

use crate::client::Client;
use crate::error::{ApiError, Error, Result};
use crate::portal::is_loopback;

use super::source::{Opened, OpenedBody, length_mismatch, local_io};

/// How much of the source the upload reads at a time, and so at most holds in memory (plus
/// what the HTTP stack buffers on its way to the socket).
pub(crate) const CHUNK: usize = 64 * 1024;

/// How many redirects a download follows before giving up.
const MAX_DOWNLOAD_REDIRECTS: u32 = 3;

/// How much of an error reply is read to find the portal's error code.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Reports `(bytes handed to the HTTP client, total bytes)` as an upload goes.
pub(crate) type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// The HTTP client transfers use: the one every call of `client` goes through.
///
/// This is the only place the files module reaches into the client's transport.
fn http(client: &Client) -> &reqwest::Client {
    client.http()
}

/// Refuses URLs that would send the token in them somewhere it should not go: anything but
/// `https`, except plain `http` to loopback or to the very origin the client already talks to
/// (a portal the caller allowed over `http`).
pub(crate) fn check_url(client: &Client, url: &Url, what: &str) -> Result<()> {
    let portal = client.portal();
    let same_origin = url.origin() == portal.as_url().origin();
    match url.scheme() {
        "https" => Ok(()),
        "http" if same_origin || is_loopback(url) => Ok(()),
        _ => Err(Error::invalid_input(format!(
            "the {what} must be an https:// URL"
        ))),
    }
}

/// Whether a request to `url` hits the portal, and so costs a unit of its rate limit.
fn on_portal(client: &Client, url: &Url) -> bool {
    url.host_str() == Some(client.portal().host())
}

/// The host of a URL, for log lines (never the path or query: they carry tokens).
fn host(url: &Url) -> &str {
    url.host_str().unwrap_or_default()
}

/// Step two of a two-step upload: POSTs the content as `multipart/form-data` in the part
/// `field`, streamed from the source, and returns the reply's status and body.
pub(crate) async fn post_file(
    client: &Client,
    url: Url,
    field: String,
    opened: Opened,
    timeout: Duration,
    progress: Option<Progress>,
) -> Result<(u16, Bytes)> {
    check_url(client, &url, "upload URL")?;
    let Opened { name, len, body } = opened;
    let chunks: Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>> = match body {
        OpenedBody::Bytes(bytes) => {
            Box::pin(futures::stream::iter(MemoryChunks { bytes, at: 0 }.map(Ok)))
        }
        OpenedBody::Reader(reader) => Box::pin(ReaderStream::with_capacity(reader, CHUNK)),
    };
    let failure = Arc::new(Mutex::new(None));
    let metered = Metered {
        inner: chunks,
        sent: 0,
        len,
        progress,
        failure: failure.clone(),
        done: false,
    };
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(metered), len)
            .file_name(name)
            .mime_str("application/octet-stream")
            .map_err(|error| Error::transport(error, false))?;
    let form = reqwest::multipart::Form::new().part(field, part);

    if on_portal(client, &url) {
        client.limiter().acquire().await;
    }
    tracing::debug!(host = %host(&url), bytes = len, "bitrix24.files: uploading");
    let sent = http(client)
        .post(url)
        .header(USER_AGENT, client.user_agent())
        .header(ACCEPT, "application/json")
        .timeout(timeout)
        .multipart(form)
        .send()
        .await;
    // A source that failed or lied about its length shows up as a broken request body; the
    // source's own story is the better error.
    if let Some(problem) = failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return Err(problem);
    }
    let response = sent.map_err(|error| {
        let outcome_unknown = !error.is_connect();
        Error::transport(error, outcome_unknown)
    })?;
    let status = response.status();
    if status.is_redirection() {
        // The file went into a request that was not accepted; following with a new POST
        // would need the content again.
        return Err(Error::from_api(ApiError::new(
            "",
            format!(
                "the upload URL answered HTTP {} (a redirect)",
                status.as_u16()
            ),
            status.as_u16(),
        )));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| Error::transport(error, true))?;
    Ok((status.as_u16(), body))
}

/// Sends a download request and follows redirects by hand, then checks the status.
pub(crate) async fn get(
    client: &Client,
    url: Url,
    timeout: Option<Duration>,
) -> Result<reqwest::Response> {
    let referer = client.portal().as_url().to_string();
    let mut url = url;
    let mut redirects = 0;
    loop {
        check_url(client, &url, "download URL")?;
        if on_portal(client, &url) {
            client.limiter().acquire().await;
        }
        tracing::debug!(host = %host(&url), "bitrix24.files: downloading");
        // The portal's nginx answers a bare GET of a signed link with 404; these are the
        // headers a browser would send (settings/how-to-call-rest-api/general-principles.md).
        let mut request = http(client)
            .get(url.clone())
            .header(USER_AGENT, client.user_agent())
            .header(ACCEPT, "*/*")
            .header(ACCEPT_LANGUAGE, "en-US,en;q=0.9,ru;q=0.8")
            .header(REFERER, &referer);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .await
            .map_err(|error| Error::transport(error, false))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_redirection()
            && let Some(location) = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
        {
            redirects += 1;
            if redirects > MAX_DOWNLOAD_REDIRECTS {
                return Err(Error::invalid_input(
                    "the download URL redirected too many times",
                ));
            }
            let next = url.join(location).map_err(|_| {
                Error::decode(
                    "the download answered a redirect with an invalid Location",
                    None,
                )
            })?;
            if url.scheme() == "https" && next.scheme() != "https" {
                return Err(Error::invalid_input(
                    "the download URL redirected from https to plain http",
                ));
            }
            url = next;
            continue;
        }
        return Err(error_reply(response).await);
    }
}

/// The error for a non-success download reply: the portal's error code when the body is its
/// JSON error envelope, otherwise just the status. The body itself is never repeated.
async fn error_reply(response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while body.len() < MAX_ERROR_BODY {
        match futures::StreamExt::next(&mut stream).await {
            Some(Ok(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    match crate::response::decode_reply::<serde_json::Value>(&body, status) {
        Err(error) => error,
        // A success status never gets here, so an "ok" envelope means a confused reply.
        Ok(_) => Error::from_api(ApiError::new(
            "",
            format!("HTTP {status} with a success body"),
            status,
        )),
    }
}

/// Splits bytes already in memory into chunks without copying them.
struct MemoryChunks {
    bytes: Bytes,
    at: usize,
}

impl Iterator for MemoryChunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let end = (self.at + CHUNK).min(self.bytes.len());
        let chunk = self.bytes.slice(self.at..end);
        self.at = end;
        Some(chunk)
    }
}

/// The upload body: counts what the HTTP client takes, reports progress, and holds the
/// source to the length it promised (the `Content-Length` already went out).
struct Metered {
    inner: Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>,
    sent: u64,
    len: u64,
    progress: Option<Progress>,
    failure: Arc<Mutex<Option<Error>>>,
    done: bool,
}

impl Metered {
    fn fail(
        &mut self,
        error: Error,
        message: &'static str,
    ) -> Poll<Option<std::io::Result<Bytes>>> {
        self.done = true;
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
        Poll::Ready(Some(Err(std::io::Error::other(message))))
    }
}

impl Stream for Metered {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                let sent = self.sent + chunk.len() as u64;
                if sent > self.len {
                    let error = length_mismatch(self.len, sent);
                    return self.fail(error, "the upload source is longer than it said");
                }
                self.sent = sent;
                if let Some(progress) = &self.progress {
                    progress(sent, self.len);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => {
                let error = local_io("the content to upload cannot be read", error);
                self.fail(error, "the upload source failed")
            }
            Poll::Ready(None) => {
                if self.sent < self.len {
                    let error = length_mismatch(self.len, self.sent);
                    return self.fail(error, "the upload source is shorter than it said");
                }
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn metered(chunks: Vec<&'static [u8]>, len: u64) -> (Metered, Arc<Mutex<Option<Error>>>) {
        let failure = Arc::new(Mutex::new(None));
        let stream = futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c))));
        (
            Metered {
                inner: Box::pin(stream),
                sent: 0,
                len,
                progress: None,
                failure: failure.clone(),
                done: false,
            },
            failure,
        )
    }

    #[tokio::test]
    async fn metered_body_holds_the_source_to_its_length() {
        let (exact, failure) = metered(vec![b"ab", b"c"], 3);
        let out: Vec<_> = exact.collect().await;
        assert!(out.iter().all(Result::is_ok));
        assert!(failure.lock().unwrap().is_none());

        let (short, failure) = metered(vec![b"ab"], 3);
        let out: Vec<_> = short.collect().await;
        assert!(out.last().unwrap().is_err());
        let error = failure.lock().unwrap().take().unwrap();
        assert!(error.to_string().contains("2 of its 3"), "{error}");

        let (long, failure) = metered(vec![b"ab", b"cd"], 3);
        let out: Vec<_> = long.collect().await;
        assert_eq!(out.len(), 2);
        assert!(out[1].is_err());
        assert!(failure.lock().unwrap().is_some());
    }

    #[tokio::test]
    async fn progress_counts_what_was_handed_over() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (mut body, _) = metered(vec![b"abc", b"de"], 5);
        let log = seen.clone();
        body.progress = Some(Arc::new(move |sent, total| {
            log.lock().unwrap().push((sent, total));
        }));
        let _: Vec<_> = body.collect().await;
        assert_eq!(*seen.lock().unwrap(), vec![(3, 5), (5, 5)]);
    }

    #[test]
    fn memory_chunks_cover_the_bytes_once() {
        let bytes = Bytes::from(vec![7u8; CHUNK * 2 + 5]);
        let chunks: Vec<Bytes> = MemoryChunks { bytes, at: 0 }.collect();
        assert_eq!(
            chunks.iter().map(Bytes::len).collect::<Vec<_>>(),
            vec![CHUNK, CHUNK, 5]
        );
        assert_eq!(
            MemoryChunks {
                bytes: Bytes::new(),
                at: 0
            }
            .count(),
            0
        );
    }
}
