//! `client.disk()`.

use super::crm::to_i64;
use crate::client::Client;
use crate::files::{Download, Files, Upload, UploadSource};
use crate::method::Call;
use crate::methods::disk as m;

/// The `disk` scope (`client.disk()`).
#[derive(Debug, Clone, Copy)]
pub struct Disk<'a> {
    client: &'a Client,
}

impl<'a> Disk<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `disk.storage.getlist`: the storages the caller can see.
    pub fn storages(&self) -> Call<m::storage::GetList> {
        self.client.call(m::storage::GetList::new())
    }

    /// `disk.storage.getforapp`: the application's own storage (created on first call).
    pub fn app_storage(&self) -> Call<m::storage::GetForApp> {
        self.client.call(m::storage::GetForApp::new())
    }

    /// One folder.
    pub fn folder(&self, id: u64) -> FolderHandle<'a> {
        FolderHandle {
            client: self.client,
            id,
        }
    }

    /// One file.
    pub fn file(&self, id: u64) -> FileHandle<'a> {
        FileHandle {
            client: self.client,
            id,
        }
    }
}

/// A Disk folder.
#[derive(Debug, Clone, Copy)]
pub struct FolderHandle<'a> {
    client: &'a Client,
    id: u64,
}

impl FolderHandle<'_> {
    /// `disk.folder.get`.
    pub fn get(&self) -> Call<m::folder::Get> {
        self.client.call(m::folder::Get::new(to_i64(self.id)))
    }

    /// `disk.folder.getchildren`: its folders and files.
    pub fn children(&self) -> Call<m::folder::GetChildren> {
        self.client
            .call(m::folder::GetChildren::new(to_i64(self.id)))
    }

    /// `disk.folder.addsubfolder`.
    pub fn add_subfolder(&self, name: &str) -> Call<m::folder::AddSubFolder> {
        self.client.call(m::folder::AddSubFolder::new(
            to_i64(self.id),
            serde_json::json!({ "NAME": name }),
        ))
    }

    /// `disk.folder.uploadfile`: inline for small files, a streamed two-step upload for large
    /// ones; see [`files`](crate::files).
    pub fn upload(&self, source: UploadSource) -> Upload {
        Files::new(self.client.clone()).upload_to_folder(self.id, source)
    }
}

/// A Disk file.
#[derive(Debug, Clone, Copy)]
pub struct FileHandle<'a> {
    client: &'a Client,
    id: u64,
}

impl FileHandle<'_> {
    /// `disk.file.get`: the file with its signed `DOWNLOAD_URL`.
    pub fn get(&self) -> Call<m::file::Get> {
        self.client.call(m::file::Get::new(to_i64(self.id)))
    }

    /// `disk.file.delete`.
    pub fn delete(&self) -> Call<m::file::Delete> {
        self.client.call(m::file::Delete::new(to_i64(self.id)))
    }

    /// Downloads a `DOWNLOAD_URL` obtained from [`get`](Self::get), as a stream.
    pub fn download(&self, download_url: &str) -> Download {
        Files::new(self.client.clone()).download(download_url)
    }
}
