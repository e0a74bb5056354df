//! Disk models: storages, folders, files and attached objects.

use std::collections::BTreeMap;

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, lenient, string_enum, via_value};

/// A Disk storage, as `disk.storage.get`, `disk.storage.getList` and `disk.storage.getForApp`
/// return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Storage {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `NAME`: name.
    #[serde(rename = "NAME", default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `CODE`: symbolic code (common storages).
    #[serde(rename = "CODE", default, with = "lenient::empty_as_none")]
    pub code: Option<String>,
    /// `MODULE_ID`: the owning module (`disk`).
    #[serde(rename = "MODULE_ID", default, with = "lenient::empty_as_none")]
    pub module_id: Option<String>,
    /// `ENTITY_TYPE`: whose storage it is.
    #[serde(rename = "ENTITY_TYPE", default, with = "lenient::opt")]
    pub entity_type: Option<StorageOwner>,
    /// `ENTITY_ID`: the owner's id (a user, group or app id, or a site code).
    #[serde(rename = "ENTITY_ID", default, with = "lenient::empty_as_none")]
    pub entity_id: Option<String>,
    /// `ROOT_OBJECT_ID`: the root folder.
    #[serde(rename = "ROOT_OBJECT_ID", default, with = "lenient::opt")]
    pub root_object_id: Option<Id>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Storage);

/// A Disk folder, as `disk.folder.get`, `disk.folder.addSubFolder`, `disk.storage.addFolder`
/// and the folder rows of `disk.folder.getChildren` / `disk.storage.getChildren` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Folder {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `NAME`: name.
    #[serde(rename = "NAME", default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `CODE`: symbolic code.
    #[serde(rename = "CODE", default, with = "lenient::empty_as_none")]
    pub code: Option<String>,
    /// `STORAGE_ID`: the storage it is in.
    #[serde(rename = "STORAGE_ID", default, with = "lenient::opt")]
    pub storage_id: Option<Id>,
    /// `TYPE`: `folder` or `file`.
    #[serde(rename = "TYPE", default, with = "lenient::opt")]
    pub object_type: Option<DiskObjectType>,
    /// `PARENT_ID`: the folder it is in.
    #[serde(rename = "PARENT_ID", default, with = "lenient::opt")]
    pub parent_id: Option<Id>,
    /// `REAL_OBJECT_ID`: the original folder, when this one is a link to a shared folder.
    #[serde(rename = "REAL_OBJECT_ID", default, with = "lenient::opt")]
    pub real_object_id: Option<Id>,
    /// `DELETED_TYPE`: `0` when not deleted; otherwise how it was deleted (in the trash).
    #[serde(rename = "DELETED_TYPE", default, with = "lenient::opt_u64")]
    pub deleted_type: Option<u64>,
    /// `CREATE_TIME`: when it was created.
    #[serde(rename = "CREATE_TIME", default, with = "lenient::opt")]
    pub create_time: Option<BxDateTime>,
    /// `UPDATE_TIME`: when it was changed last.
    #[serde(rename = "UPDATE_TIME", default, with = "lenient::opt")]
    pub update_time: Option<BxDateTime>,
    /// `DELETE_TIME`: when it was moved to the trash.
    #[serde(rename = "DELETE_TIME", default, with = "lenient::opt")]
    pub delete_time: Option<BxDateTime>,
    /// `CREATED_BY`: who created it.
    #[serde(rename = "CREATED_BY", default, with = "lenient::opt")]
    pub created_by: Option<Id>,
    /// `UPDATED_BY`: who changed it last.
    #[serde(rename = "UPDATED_BY", default, with = "lenient::opt")]
    pub updated_by: Option<Id>,
    /// `DELETED_BY`: who moved it to the trash (`0` when not deleted).
    #[serde(rename = "DELETED_BY", default, with = "lenient::opt")]
    pub deleted_by: Option<Id>,
    /// `DETAIL_URL`: its page in the portal.
    #[serde(rename = "DETAIL_URL", default, with = "lenient::empty_as_none")]
    pub detail_url: Option<String>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Folder);

/// A Disk file, as `disk.file.get`, `disk.folder.uploadFile`, `disk.storage.uploadFile` and
/// the file rows of `disk.folder.getChildren` / `disk.storage.getChildren` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct File {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `NAME`: name.
    #[serde(rename = "NAME", default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `CODE`: symbolic code.
    #[serde(rename = "CODE", default, with = "lenient::empty_as_none")]
    pub code: Option<String>,
    /// `STORAGE_ID`: the storage it is in.
    #[serde(rename = "STORAGE_ID", default, with = "lenient::opt")]
    pub storage_id: Option<Id>,
    /// `TYPE`: `folder` or `file`.
    #[serde(rename = "TYPE", default, with = "lenient::opt")]
    pub object_type: Option<DiskObjectType>,
    /// `PARENT_ID`: the folder it is in.
    #[serde(rename = "PARENT_ID", default, with = "lenient::opt")]
    pub parent_id: Option<Id>,
    /// `GLOBAL_CONTENT_VERSION`: the content version (grows with each upload).
    #[serde(rename = "GLOBAL_CONTENT_VERSION", default, with = "lenient::opt_u64")]
    pub global_content_version: Option<u64>,
    /// `FILE_ID`: the stored file's id.
    #[serde(rename = "FILE_ID", default, with = "lenient::opt")]
    pub file_id: Option<Id>,
    /// `SIZE`: size in bytes.
    #[serde(rename = "SIZE", default, with = "lenient::opt_u64")]
    pub size: Option<u64>,
    /// `DELETED_TYPE`: `0` when not deleted; otherwise how it was deleted (in the trash).
    #[serde(rename = "DELETED_TYPE", default, with = "lenient::opt_u64")]
    pub deleted_type: Option<u64>,
    /// `CREATE_TIME`: when it was created.
    #[serde(rename = "CREATE_TIME", default, with = "lenient::opt")]
    pub create_time: Option<BxDateTime>,
    /// `UPDATE_TIME`: when it was changed last.
    #[serde(rename = "UPDATE_TIME", default, with = "lenient::opt")]
    pub update_time: Option<BxDateTime>,
    /// `DELETE_TIME`: when it was moved to the trash.
    #[serde(rename = "DELETE_TIME", default, with = "lenient::opt")]
    pub delete_time: Option<BxDateTime>,
    /// `CREATED_BY`: who created it.
    #[serde(rename = "CREATED_BY", default, with = "lenient::opt")]
    pub created_by: Option<Id>,
    /// `UPDATED_BY`: who changed it last.
    #[serde(rename = "UPDATED_BY", default, with = "lenient::opt")]
    pub updated_by: Option<Id>,
    /// `DELETED_BY`: who moved it to the trash (`0` when not deleted).
    #[serde(rename = "DELETED_BY", default, with = "lenient::opt")]
    pub deleted_by: Option<Id>,
    /// `DETAIL_URL`: its page in the portal.
    #[serde(rename = "DETAIL_URL", default, with = "lenient::empty_as_none")]
    pub detail_url: Option<String>,
    /// `DOWNLOAD_URL`: a download link signed for the caller (short-lived; do not log it).
    #[serde(rename = "DOWNLOAD_URL", default, with = "lenient::empty_as_none")]
    pub download_url: Option<String>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(File);

/// A Disk file attached to a record (a task, comment, CRM activity …), as
/// `disk.attachedObject.get` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct AttachedObject {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `OBJECT_ID`: the Disk file.
    #[serde(rename = "OBJECT_ID", default, with = "lenient::opt")]
    pub object_id: Option<Id>,
    /// `MODULE_ID`: the module of the record (`tasks`, `forum`, `crm`, …).
    #[serde(rename = "MODULE_ID", default, with = "lenient::empty_as_none")]
    pub module_id: Option<String>,
    /// `ENTITY_TYPE`: the record's type.
    #[serde(rename = "ENTITY_TYPE", default, with = "lenient::empty_as_none")]
    pub entity_type: Option<String>,
    /// `ENTITY_ID`: the record's id.
    #[serde(rename = "ENTITY_ID", default, with = "lenient::opt")]
    pub entity_id: Option<Id>,
    /// `CREATE_TIME`: when it was attached.
    #[serde(rename = "CREATE_TIME", default, with = "lenient::opt")]
    pub create_time: Option<BxDateTime>,
    /// `CREATED_BY`: who attached it.
    #[serde(rename = "CREATED_BY", default, with = "lenient::opt")]
    pub created_by: Option<Id>,
    /// `DOWNLOAD_URL`: a download link signed for the caller (short-lived; do not log it).
    #[serde(rename = "DOWNLOAD_URL", default, with = "lenient::empty_as_none")]
    pub download_url: Option<String>,
    /// `NAME`: file name.
    #[serde(rename = "NAME", default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `SIZE`: size in bytes.
    #[serde(rename = "SIZE", default, with = "lenient::opt_u64")]
    pub size: Option<u64>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(AttachedObject);

string_enum! {
    /// Whose storage a [`Storage`] is (`ENTITY_TYPE`).
    pub enum StorageOwner {
        /// `user`: a user's own drive.
        User = "user",
        /// `common`: a shared company drive.
        Common = "common",
        /// `group`: a workgroup's drive.
        Group = "group",
        /// `restapp`: an application's storage (`disk.storage.getForApp`).
        RestApp = "restapp",
    }
}

string_enum! {
    /// What a Disk object is (`TYPE`).
    pub enum DiskObjectType {
        /// `folder`.
        Folder = "folder",
        /// `file`.
        File = "file",
    }
}

/// A row of `disk.folder.getChildren` / `disk.storage.getChildren`: a folder or a file,
/// told apart by `TYPE`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
// Rows are read and matched on right away; boxing the file would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum DiskObject {
    /// `TYPE` is `folder`.
    Folder(Folder),
    /// `TYPE` is `file`.
    File(File),
}

impl DiskObject {
    /// The object's id.
    pub fn id(&self) -> Id {
        match self {
            Self::Folder(folder) => folder.id,
            Self::File(file) => file.id,
        }
    }

    /// The object's name.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Folder(folder) => folder.name.as_deref(),
            Self::File(file) => file.name.as_deref(),
        }
    }

    /// The folder, if it is one.
    pub fn as_folder(&self) -> Option<&Folder> {
        match self {
            Self::Folder(folder) => Some(folder),
            Self::File(_) => None,
        }
    }

    /// The file, if it is one.
    pub fn as_file(&self) -> Option<&File> {
        match self {
            Self::File(file) => Some(file),
            Self::Folder(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for DiskObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let row = Value::deserialize(deserializer)?;
        // `TYPE` decides; a row without a known `TYPE` is a file when it has file-only fields.
        let is_file = match row.get("TYPE").and_then(Value::as_str) {
            Some("file") => true,
            Some("folder") => false,
            _ => row.get("FILE_ID").is_some() || row.get("SIZE").is_some(),
        };
        if is_file {
            File::deserialize(row)
                .map(Self::File)
                .map_err(D::Error::custom)
        } else {
            Folder::deserialize(row)
                .map(Self::Folder)
                .map_err(D::Error::custom)
        }
    }
}

impl Identified for Storage {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

impl Identified for Folder {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

impl Identified for File {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

impl Identified for DiskObject {
    fn row_id(&self) -> Option<u64> {
        Some(self.id().get())
    }
}

/// Where to upload a file's contents: the reply of `disk.folder.uploadFile` /
/// `disk.storage.uploadFile` called without `fileContent`.
///
/// POST the contents as `multipart/form-data` to `upload_url`, in the form field `field`; the
/// reply to that POST is the uploaded [`File`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadTarget {
    /// `field`: the form field name for the file.
    pub field: String,
    /// `uploadUrl`: a one-time upload address (it carries a token: do not log it).
    #[serde(rename = "uploadUrl")]
    pub upload_url: String,
}

/// The `result` of `disk.folder.uploadFile` and `disk.storage.uploadFile`: the new file when
/// the call carried `fileContent`, or the upload address when it did not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
// A reply is built once and taken apart at once; boxing the file would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum UploadResult {
    /// The file was uploaded inline (`fileContent`).
    Uploaded(File),
    /// Upload the contents to this address next.
    UploadUrl(UploadTarget),
}

impl UploadResult {
    /// The uploaded file, if the call uploaded one.
    pub fn file(&self) -> Option<&File> {
        match self {
            Self::Uploaded(file) => Some(file),
            Self::UploadUrl(_) => None,
        }
    }

    /// The upload address, if the call asked for one.
    pub fn upload_target(&self) -> Option<&UploadTarget> {
        match self {
            Self::UploadUrl(target) => Some(target),
            Self::Uploaded(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for UploadResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.get("uploadUrl").is_some() {
            UploadTarget::deserialize(value)
                .map(Self::UploadUrl)
                .map_err(D::Error::custom)
        } else {
            File::deserialize(value)
                .map(Self::Uploaded)
                .map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn children_are_told_apart_by_type() {
        let rows = json!([
            {"ID": "1", "NAME": "Docs", "TYPE": "folder", "REAL_OBJECT_ID": "1"},
            {"ID": 2, "NAME": "a.png", "TYPE": "file", "SIZE": "10", "FILE_ID": 5},
            {"ID": "3", "NAME": "b.png", "SIZE": 4},
            {"ID": "4", "NAME": "Other"}
        ]);
        let rows: Vec<DiskObject> = serde_json::from_value(rows).unwrap();
        assert_eq!(rows[0].as_folder().unwrap().real_object_id, Some(Id(1)));
        assert_eq!(rows[1].as_file().unwrap().size, Some(10));
        assert_eq!(rows[1].row_id(), Some(2));
        assert!(rows[2].as_file().is_some());
        assert!(rows[3].as_folder().is_some());
        assert_eq!(rows[3].name(), Some("Other"));
        assert_eq!(
            rows[1].as_file().unwrap().object_type,
            Some(DiskObjectType::File)
        );
    }

    #[test]
    fn upload_replies_are_a_file_or_an_address() {
        let step1: UploadResult =
            serde_json::from_value(json!({"field": "file", "uploadUrl": "https://x/upload"}))
                .unwrap();
        assert_eq!(step1.upload_target().unwrap().field, "file");
        assert!(step1.file().is_none());
        let done: UploadResult =
            serde_json::from_value(json!({"ID": 9, "NAME": "t.png", "TYPE": "file"})).unwrap();
        assert_eq!(done.file().unwrap().id, Id(9));
        assert!(done.upload_target().is_none());
    }
}
