//! Uploads to Disk, inline or in two steps depending on the size.

use std::fmt;
use std::future::IntoFuture;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use url::Url;

use crate::client::Client;
use crate::disk::{File, UploadTarget};
use crate::error::{Error, Result};
use crate::method::BoxFuture;

use super::source::{Opened, UploadSource};
use super::transfer::{self, Progress};
use super::{Files, base64};

/// The time allowed for an upload regardless of its size.
const BASE_DEADLINE: Duration = Duration::from_secs(70);
/// The slowest upload speed the default deadline allows for, in bytes per second.
const MIN_THROUGHPUT: u64 = 128 * 1024;

/// Where an upload goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `disk.folder.uploadFile` with a folder id.
    Folder(u64),
    /// `disk.storage.uploadFile` with a storage id (its root folder).
    Storage(u64),
}

impl Target {
    fn method(self) -> &'static str {
        match self {
            Self::Folder(_) => "disk.folder.uploadFile",
            Self::Storage(_) => "disk.storage.uploadFile",
        }
    }

    fn id(self) -> u64 {
        match self {
            Self::Folder(id) | Self::Storage(id) => id,
        }
    }
}

/// A Disk access right for an uploaded file: `{"TASK_ID": 42, "ACCESS_CODE": "U35"}`.
///
/// `task_id` is an access level from `disk.rights.getTasks`; `access_code` names who gets it:
/// `U35` (user 35), `D7` (department 7), `DR7` (department 7 with sub-departments), `G2`
/// (a group) and so on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRight {
    #[serde(rename = "TASK_ID")]
    task_id: u64,
    #[serde(rename = "ACCESS_CODE")]
    access_code: String,
}

impl AccessRight {
    /// The access level `task_id` for `access_code`.
    pub fn new(task_id: u64, access_code: impl Into<String>) -> Self {
        Self {
            task_id,
            access_code: access_code.into(),
        }
    }
}

/// An upload to a Disk folder or storage root, ready to send: `.await` it or call
/// [`send`](Upload::send).
///
/// Files up to the [inline threshold](Upload::inline_threshold) (1 MiB by default) go inline:
/// one `disk.folder.uploadFile` call carrying `fileContent: [name, base64]`. Larger ones (and
/// empty ones, which the inline form cannot carry) go in two steps: a call without content
/// returns `{field, uploadUrl}`, then the content is streamed to `uploadUrl` as
/// `multipart/form-data` in the part `field`, straight from the source, without base64 and
/// without holding the file in memory.
///
/// The result is the new [`File`] (its `id` is what attachments take, its `download_url`
/// what [`Files::download`](super::Files::download) takes); [`output`](Upload::output) picks
/// another type, such as [`serde_json::Value`].
///
/// ```no_run
/// # async fn run(client: bitrix24::Client) -> bitrix24::Result<()> {
/// use bitrix24::files::{FilesExt, UploadSource};
///
/// let file = client
///     .files()
///     .upload_to_folder(8930, UploadSource::from_path("/var/reports/2024-q4.pdf"))
///     .generate_unique_name(true)
///     .await?;
/// println!("uploaded as Disk file {}", file.id);
/// # Ok(()) }
/// ```
#[must_use = "an upload does nothing until awaited or sent"]
pub struct Upload<T = File> {
    client: Client,
    target: Target,
    source: UploadSource,
    unique: bool,
    rights: Vec<AccessRight>,
    inline_threshold: u64,
    timeout: Option<Duration>,
    progress: Option<Progress>,
    output: PhantomData<fn() -> T>,
}

impl Upload {
    pub(crate) fn to_folder(files: &Files, folder_id: u64, source: UploadSource) -> Self {
        Self::new(files, Target::Folder(folder_id), source)
    }

    pub(crate) fn to_storage(files: &Files, storage_id: u64, source: UploadSource) -> Self {
        Self::new(files, Target::Storage(storage_id), source)
    }

    fn new(files: &Files, target: Target, source: UploadSource) -> Self {
        Self {
            client: files.client.clone(),
            target,
            source,
            unique: false,
            rights: Vec::new(),
            inline_threshold: files.inline_threshold,
            timeout: files.timeout,
            progress: None,
            output: PhantomData,
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> Upload<T> {
    /// On a name clash, store the file as `name (1).ext` instead of failing (default `false`).
    pub fn generate_unique_name(mut self, unique: bool) -> Self {
        self.unique = unique;
        self
    }

    /// Access rights for the new file.
    ///
    /// The portal applies them to inline uploads; whether it carries them over to the second
    /// step of a two-step upload is not documented, so set them with Disk's rights methods
    /// afterwards if they matter for large files.
    pub fn rights(mut self, rights: impl IntoIterator<Item = AccessRight>) -> Self {
        self.rights = rights.into_iter().collect();
        self
    }

    /// The largest file (in bytes) sent inline; larger ones take the two-step path.
    pub fn inline_threshold(mut self, bytes: u64) -> Self {
        self.inline_threshold = bytes;
        self
    }

    /// A deadline for the transfer of the content. The default grows with the size: 70 s
    /// plus one second per 128 KiB.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Called with `(bytes handed to the HTTP client, total bytes)` as the content goes out:
    /// once per chunk of at most 64 KiB on the two-step path, once for an inline upload.
    pub fn on_progress(mut self, progress: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Decodes the new file into `U` instead (any type that reads the file object).
    pub fn output<U: DeserializeOwned + Send + 'static>(self) -> Upload<U> {
        Upload {
            client: self.client,
            target: self.target,
            source: self.source,
            unique: self.unique,
            rights: self.rights,
            inline_threshold: self.inline_threshold,
            timeout: self.timeout,
            progress: self.progress,
            output: PhantomData,
        }
    }

    /// Uploads the file and returns the new file object.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when the source has no name,
    /// cannot be read or does not hold the length it promised; the portal's errors
    /// (`ERROR_NOT_FOUND` for a missing folder, `DISK_BASE_SERVICE_22001`, `ACCESS_DENIED`,
    /// a name clash without [`generate_unique_name`](Self::generate_unique_name), …);
    /// transport and timeout errors. Neither the upload URL nor the content appear in them.
    pub async fn send(self) -> Result<T> {
        let method = self.target.method();
        let Self {
            client,
            target,
            source,
            unique,
            rights,
            inline_threshold,
            timeout,
            progress,
            output: _,
        } = self;
        let plan = Plan {
            client,
            target,
            unique,
            rights,
            progress,
        };
        let result = async {
            let opened = source.open().await?;
            let deadline = timeout.unwrap_or_else(|| default_deadline(opened.len));
            if opened.len > 0 && opened.len <= inline_threshold {
                plan.inline(opened, deadline).await
            } else {
                plan.two_step(opened, deadline).await
            }
        }
        .await;
        result.map_err(|error| error.with_method(method))
    }
}

/// Everything an upload needs once its source is open.
struct Plan {
    client: Client,
    target: Target,
    unique: bool,
    rights: Vec<AccessRight>,
    progress: Option<Progress>,
}

impl Plan {
    fn params(&self, name: &str) -> Map<String, Value> {
        let mut params = Map::new();
        params.insert("id".into(), json!(self.target.id()));
        params.insert("data".into(), json!({ "NAME": name }));
        if self.unique {
            params.insert("generateUniqueName".into(), json!(true));
        }
        if !self.rights.is_empty() {
            params.insert("rights".into(), json!(self.rights));
        }
        params
    }

    async fn inline<T: DeserializeOwned + Send + 'static>(
        self,
        opened: Opened,
        deadline: Duration,
    ) -> Result<T> {
        let len = opened.len;
        let mut params = self.params(&opened.name);
        let name = opened.name.clone();
        let bytes = opened.into_bytes().await?;
        params.insert("fileContent".into(), json!([name, base64::encode(&bytes)]));
        drop(bytes);
        if let Some(progress) = &self.progress {
            progress(len, len);
        }
        // Not idempotent: a repeat after an unclear failure could store the file twice.
        self.client
            .call_raw::<T>(self.target.method(), params)
            .timeout(deadline)
            .await
    }

    async fn two_step<T: DeserializeOwned + Send + 'static>(
        self,
        opened: Opened,
        deadline: Duration,
    ) -> Result<T> {
        let params = self.params(&opened.name);
        // Step one only hands out a single-use link, so repeating it is harmless.
        let ticket: UploadTarget = self
            .client
            .call_raw(self.target.method(), params)
            .idempotent(true)
            .await?;
        let url = Url::parse(&ticket.upload_url)
            .map_err(|_| Error::decode("the portal returned an invalid upload URL", None))?;
        if ticket.field.is_empty() {
            return Err(Error::decode(
                "the portal returned an empty upload field name",
                None,
            ));
        }
        let (status, body) = transfer::post_file(
            &self.client,
            url,
            ticket.field,
            opened,
            deadline,
            self.progress,
        )
        .await?;
        Ok(crate::response::decode_reply::<T>(&body, status)?.result)
    }
}

/// The default deadline for moving `len` bytes.
fn default_deadline(len: u64) -> Duration {
    BASE_DEADLINE + Duration::from_secs(len / MIN_THROUGHPUT)
}

impl<T: DeserializeOwned + Send + 'static> IntoFuture for Upload<T> {
    type Output = Result<T>;
    type IntoFuture = BoxFuture<'static, Result<T>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl<T> fmt::Debug for Upload<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("method", &self.target.method())
            .field("id", &self.target.id())
            .field("source", &self.source)
            .field("generate_unique_name", &self.unique)
            .field("rights", &self.rights)
            .field("inline_threshold", &self.inline_threshold)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Upload {
        fn plan(&self) -> Plan {
            Plan {
                client: self.client.clone(),
                target: self.target,
                unique: self.unique,
                rights: self.rights.clone(),
                progress: None,
            }
        }
    }

    #[test]
    fn deadlines_grow_with_the_size() {
        assert_eq!(default_deadline(0), Duration::from_secs(70));
        assert_eq!(
            default_deadline(50 * 1024 * 1024),
            Duration::from_secs(70 + 400)
        );
    }

    #[test]
    fn parameters_match_the_documented_request() {
        // fixtures-docs/disk.folder.uploadFile.request.json, minus fileContent (added later).
        let client = Client::from_webhook("https://example.bitrix24.ru/rest/1/secret/").unwrap();
        let files = Files::new(client);
        let upload = Upload::to_folder(&files, 8930, UploadSource::from_bytes("test.png", "x"))
            .generate_unique_name(true)
            .rights([AccessRight::new(75, "U1271")]);
        assert_eq!(
            Value::Object(upload.plan().params("test.png")),
            json!({
                "id": 8930,
                "data": { "NAME": "test.png" },
                "generateUniqueName": true,
                "rights": [{ "TASK_ID": 75, "ACCESS_CODE": "U1271" }],
            })
        );
        let plain = Upload::to_storage(&files, 1357, UploadSource::from_bytes("a", "x"));
        assert_eq!(plain.target.method(), "disk.storage.uploadFile");
        assert_eq!(
            Value::Object(plain.plan().params("a")),
            json!({ "id": 1357, "data": { "NAME": "a" } })
        );
    }
}
