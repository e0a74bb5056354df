//! Files: uploads to Disk, downloads, attachments.
//!
//! Start from [`FilesExt::files`] on a [`Client`]:
//!
//! ```no_run
//! # async fn run(client: bitrix24::Client) -> bitrix24::Result<()> {
//! use bitrix24::files::{DiskAttachment, FilesExt, UploadSource};
//!
//! let files = client.files();
//!
//! // Upload: inline up to 1 MiB, streamed in two steps above that.
//! let file = files
//!     .upload_to_folder(8930, UploadSource::from_path("contract.pdf"))
//!     .await?;
//!
//! // Attach it to a task, and mention it in a comment.
//! let attachment_id = files.attach_to_task(8017, file.id.get()).await?;
//! files
//!     .comment_task(8017, "Signed copy attached", [DiskAttachment::new(file.id.get())])
//!     .await?;
//!
//! // Download it again.
//! if let Some(url) = &file.download_url {
//!     files.download(url).to_path("contract-copy.pdf").await?;
//! }
//! # let _ = attachment_id;
//! # Ok(()) }
//! ```
//!
//! The shapes other methods take files in are typed values that serialize to exactly what
//! the portal expects: [`DiskAttachment`] (`"n123"`), [`TaskFile`] (`567` or `"n123"`),
//! [`FileContent`] (`[name, base64]`) and [`FileData`] (`{"fileData": [name, base64]}`).
//!
//! Upload and download links carry access tokens: they are never logged and never appear in
//! errors or `Debug` output.

mod attach;
pub(crate) mod base64;
mod download;
mod source;
mod transfer;
mod upload;

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::Result;
use crate::types::Id;

/// Old CRM file fields, `{"fileData": [name, base64]}`; defined with the other field types.
pub use crate::types::FileData;
pub use attach::{DiskAttachment, FileContent, TaskFile};
pub use download::{Download, DownloadStream};
pub use source::UploadSource;
pub use upload::{AccessRight, Upload};

/// The default size up to which uploads go inline, base64 in one call: 1 MiB.
pub const DEFAULT_INLINE_THRESHOLD: u64 = 1024 * 1024;

/// `client.files()`: file transfers and attachments for a [`Client`].
pub trait FilesExt {
    /// File operations through this client (its auth, rate limiter and HTTP pool).
    fn files(&self) -> Files;
}

impl FilesExt for Client {
    fn files(&self) -> Files {
        Files::new(self.clone())
    }
}

/// File operations for one client: uploads to Disk, downloads, attachments to tasks, task
/// comments and CRM timeline comments. Cheap to clone.
#[derive(Clone)]
pub struct Files {
    client: Client,
    inline_threshold: u64,
    timeout: Option<Duration>,
}

impl Files {
    /// File operations through `client`; the same as [`FilesExt::files`].
    pub fn new(client: Client) -> Self {
        Self {
            client,
            inline_threshold: DEFAULT_INLINE_THRESHOLD,
            timeout: None,
        }
    }

    /// The largest file (in bytes) uploaded inline as base64 in one call; larger files take
    /// the two-step, streamed path. Default [`DEFAULT_INLINE_THRESHOLD`].
    #[must_use]
    pub fn inline_threshold(mut self, bytes: u64) -> Self {
        self.inline_threshold = bytes;
        self
    }

    /// A deadline for every transfer started from here. Without it uploads get 70 s plus one
    /// second per 128 KiB, and downloads have none (a download is as long as the file).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Uploads into a Disk folder (`disk.folder.uploadFile`), inline or in two steps by size.
    pub fn upload_to_folder(&self, folder_id: u64, source: UploadSource) -> Upload {
        Upload::to_folder(self, folder_id, source)
    }

    /// Uploads into the root folder of a Disk storage (`disk.storage.uploadFile`).
    pub fn upload_to_storage(&self, storage_id: u64, source: UploadSource) -> Upload {
        Upload::to_storage(self, storage_id, source)
    }

    /// Downloads a file link: a Disk `DOWNLOAD_URL`, a CRM `urlMachine`, or a link relative to
    /// the portal. See [`Download`].
    pub fn download(&self, url: &str) -> Download {
        Download::new(self.client.clone(), url, self.timeout)
    }

    /// Attaches a Disk file to a task (`tasks.task.files.attach`) and returns the new
    /// attachment id (which [`TaskFile::keep`] takes to keep it on a later update).
    ///
    /// # Errors
    /// The portal's errors (no such task or file, no rights) and the usual call errors.
    pub async fn attach_to_task(&self, task_id: u64, file_id: u64) -> Result<Id> {
        #[derive(Deserialize)]
        struct Attached {
            #[serde(rename = "attachmentId")]
            attachment_id: Id,
        }
        let attached: Attached = self
            .client
            .call_raw(
                "tasks.task.files.attach",
                json!({ "taskId": task_id, "fileId": file_id }),
            )
            .await?;
        Ok(attached.attachment_id)
    }

    /// Sets a task's attachments (`tasks.task.update` with `UF_TASK_WEBDAV_FILES`): existing
    /// ones to keep by attachment id, Disk files to add. Attachments left out are unlinked;
    /// their files stay on Disk. Returns the updated task as the portal sends it.
    ///
    /// # Errors
    /// The portal's errors and the usual call errors.
    pub async fn set_task_files(
        &self,
        task_id: u64,
        files: impl IntoIterator<Item = TaskFile>,
    ) -> Result<Value> {
        let files: Vec<TaskFile> = files.into_iter().collect();
        self.client
            .call_raw(
                "tasks.task.update",
                json!({ "taskId": task_id, "fields": { "UF_TASK_WEBDAV_FILES": files } }),
            )
            .await
    }

    /// Adds a task comment (`task.commentitem.add`) with Disk files attached through
    /// `UF_FORUM_MESSAGE_DOC`, and returns the comment id.
    ///
    /// # Errors
    /// The portal's errors (an unknown file or task, an empty message) and the usual call
    /// errors.
    pub async fn comment_task(
        &self,
        task_id: u64,
        message: &str,
        files: impl IntoIterator<Item = DiskAttachment>,
    ) -> Result<Id> {
        let files: Vec<DiskAttachment> = files.into_iter().collect();
        let mut fields = json!({ "POST_MESSAGE": message });
        if !files.is_empty() {
            fields["UF_FORUM_MESSAGE_DOC"] = json!(files);
        }
        self.client
            .call_raw(
                "task.commentitem.add",
                json!({ "TASKID": task_id, "FIELDS": fields }),
            )
            .await
    }

    /// Adds a CRM timeline comment (`crm.timeline.comment.add`) with files sent inline as
    /// `FILES: [[name, base64], …]`, and returns the comment id.
    ///
    /// `entity_type` is `lead`, `deal`, `contact`, `company`, `order` or `dynamic_{id}`.
    ///
    /// # Errors
    /// The portal's errors (`OWNER_NOT_FOUND`, `ACCESS_DENIED`, an empty comment) and the usual
    /// call errors.
    pub async fn add_timeline_comment(
        &self,
        entity_type: &str,
        entity_id: u64,
        comment: &str,
        files: impl IntoIterator<Item = FileContent>,
    ) -> Result<Id> {
        let files: Vec<FileContent> = files.into_iter().collect();
        let mut fields = json!({
            "ENTITY_ID": entity_id,
            "ENTITY_TYPE": entity_type,
            "COMMENT": comment,
        });
        if !files.is_empty() {
            fields["FILES"] = json!(files);
        }
        // Lowercase `fields`: the only spelling crm 23.100.0 and later accept.
        self.client
            .call_raw("crm.timeline.comment.add", json!({ "fields": fields }))
            .await
    }
}

impl fmt::Debug for Files {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Files")
            .field("portal", &self.client.portal())
            .field("inline_threshold", &self.inline_threshold)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_carry_over_to_uploads() {
        let client = Client::from_webhook("https://example.bitrix24.ru/rest/1/secret/").unwrap();
        let files = client
            .files()
            .inline_threshold(10)
            .timeout(Duration::from_secs(5));
        let debug = format!("{files:?}");
        assert!(debug.contains("inline_threshold: 10"), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");
        let upload = files.upload_to_folder(1, UploadSource::from_bytes("a", "b"));
        assert!(format!("{upload:?}").contains("inline_threshold: 10"));
    }
}
