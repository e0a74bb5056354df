//! The shapes Bitrix24 takes files in, as typed values.
//!
//! | where | shape | type |
//! |---|---|---|
//! | tasks `UF_TASK_WEBDAV_FILES`, task comment `UF_FORUM_MESSAGE_DOC` | `["n123", …]` | [`DiskAttachment`] |
//! | the same fields on update, keeping attachments | `[567, "n9851"]` | [`TaskFile`] |
//! | `crm.item.*` file fields, `user.*` `PERSONAL_PHOTO`, timeline `FILES` items, Disk `fileContent` | `[name, base64]` | [`FileContent`] |
//! | old `crm.lead/deal/contact/company.*` file fields | `{"fileData": [name, base64]}` | [`FileData`](crate::types::FileData) |

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use super::base64;

/// A Disk file attached through a Disk-linked field: serializes as `"n123"` (`n` and the
/// Disk file id), the form `UF_TASK_WEBDAV_FILES` and `UF_FORUM_MESSAGE_DOC` take.
///
/// ```
/// use bitrix24::files::DiskAttachment;
///
/// let fields = serde_json::json!({
///     "TITLE": "Review the contract",
///     "RESPONSIBLE_ID": 1,
///     "UF_TASK_WEBDAV_FILES": [DiskAttachment::new(123), DiskAttachment::new(124)],
/// });
/// assert_eq!(fields["UF_TASK_WEBDAV_FILES"], serde_json::json!(["n123", "n124"]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiskAttachment(u64);

impl DiskAttachment {
    /// The Disk file with this id (the `ID` of `disk.file.get`, not its `FILE_ID`).
    pub fn new(file_id: u64) -> Self {
        Self(file_id)
    }

    /// The Disk file id.
    pub fn file_id(self) -> u64 {
        self.0
    }
}

impl From<u64> for DiskAttachment {
    fn from(file_id: u64) -> Self {
        Self(file_id)
    }
}

impl fmt::Display for DiskAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl std::str::FromStr for DiskAttachment {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        text.strip_prefix('n')
            .and_then(|id| id.parse().ok())
            .map(Self)
            .ok_or_else(|| Error::invalid_input("a Disk attachment looks like `n123`"))
    }
}

impl Serialize for DiskAttachment {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DiskAttachment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct NId;
        impl Visitor<'_> for NId {
            type Value = DiskAttachment;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Disk attachment such as \"n123\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Self::Value, E> {
                text.parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(NId)
    }
}

/// One value of `UF_TASK_WEBDAV_FILES` (or `UF_FORUM_MESSAGE_DOC`) when updating: an
/// attachment the entity already has, kept by its **attachment id as a number**, or a Disk
/// file to attach, as `"n…"`. Attachments left out of the list are unlinked (their files
/// stay on Disk).
///
/// ```
/// use bitrix24::files::TaskFile;
///
/// let files = vec![TaskFile::keep(567), TaskFile::attach(9851)];
/// assert_eq!(serde_json::to_value(&files).unwrap(), serde_json::json!([567, "n9851"]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskFile {
    /// An existing attachment, by its attachment id.
    Keep(u64),
    /// A Disk file to attach.
    Attach(DiskAttachment),
}

impl TaskFile {
    /// Keeps the existing attachment `attachment_id`.
    pub fn keep(attachment_id: u64) -> Self {
        Self::Keep(attachment_id)
    }

    /// Attaches the Disk file `file_id`.
    pub fn attach(file_id: u64) -> Self {
        Self::Attach(DiskAttachment::new(file_id))
    }
}

impl From<DiskAttachment> for TaskFile {
    fn from(file: DiskAttachment) -> Self {
        Self::Attach(file)
    }
}

impl Serialize for TaskFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Keep(id) => serializer.serialize_u64(*id),
            Self::Attach(file) => file.serialize(serializer),
        }
    }
}

/// A file sent inline: serializes as `[name, base64]`.
///
/// That is the shape of `crm.item.*` file fields (a list of them for multiple fields), of
/// `PERSONAL_PHOTO` in `user.add`/`user.update`, of each entry of a timeline comment's
/// `FILES`, and of Disk's `fileContent`. Base64 inflates the content by a third and the whole
/// request must fit the portal's limits, so keep inline files small; upload large ones to
/// Disk (see [`Files::upload_to_folder`](super::Files::upload_to_folder)).
///
/// ```
/// use bitrix24::files::FileContent;
///
/// let photo = FileContent::from_bytes("avatar.png", b"\x89PNG...");
/// let fields = serde_json::json!({ "ufCrm5Photo": photo, "title": "Deal" });
/// assert_eq!(fields["ufCrm5Photo"], serde_json::json!(["avatar.png", "iVBORy4uLg=="]));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct FileContent {
    name: String,
    base64: String,
}

impl FileContent {
    /// Encodes `bytes` as the content of a file called `name`.
    pub fn from_bytes(name: impl Into<String>, bytes: impl AsRef<[u8]>) -> Self {
        Self {
            name: name.into(),
            base64: base64::encode(bytes.as_ref()),
        }
    }

    /// Content that is base64 already. A `data:…;base64,` prefix is dropped: the portal wants
    /// the bare base64.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for empty content, which the
    /// portal refuses.
    pub fn from_base64(name: impl Into<String>, base64: impl Into<String>) -> Result<Self> {
        let mut base64 = base64.into();
        if base64.starts_with("data:")
            && let Some(comma) = base64.find(',')
        {
            base64.drain(..=comma);
        }
        if base64.trim().is_empty() {
            return Err(Error::invalid_input("inline file content cannot be empty"));
        }
        Ok(Self {
            name: name.into(),
            base64,
        })
    }

    /// Reads a (small) file and names it after its file name.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when the file cannot be read
    /// or the path has no file name.
    pub async fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| Error::invalid_input("the path has no file name"))?;
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|error| super::source::local_io("the file cannot be read", error))?;
        Ok(Self::from_bytes(name, bytes))
    }

    /// The file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The base64 text of the content.
    pub fn base64(&self) -> &str {
        &self.base64
    }
}

impl Serialize for FileContent {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut pair = serializer.serialize_tuple(2)?;
        pair.serialize_element(&self.name)?;
        pair.serialize_element(&self.base64)?;
        pair.end()
    }
}

impl fmt::Debug for FileContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The content may be anything, a passport scan included; its size is enough.
        f.debug_struct("FileContent")
            .field("name", &self.name)
            .field("base64_len", &self.base64.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn disk_attachments_are_n_ids_both_ways() {
        let attachment = DiskAttachment::new(4755);
        assert_eq!(serde_json::to_value(attachment).unwrap(), json!("n4755"));
        assert_eq!(attachment.to_string(), "n4755");
        assert_eq!(
            serde_json::from_value::<DiskAttachment>(json!("n4753")).unwrap(),
            DiskAttachment::new(4753)
        );
        assert!(serde_json::from_value::<DiskAttachment>(json!("4753")).is_err());
        assert!(serde_json::from_value::<DiskAttachment>(json!(4753)).is_err());
        assert!("nx".parse::<DiskAttachment>().is_err());
    }

    #[test]
    fn the_documented_comment_request_is_reproduced() {
        // fixtures-docs/task.commentitem.add.request.json
        let fields = json!({
            "POST_MESSAGE": "Текст нового комментария к задаче",
            "UF_FORUM_MESSAGE_DOC": [DiskAttachment::new(4755), DiskAttachment::new(4753)],
        });
        assert_eq!(fields["UF_FORUM_MESSAGE_DOC"], json!(["n4755", "n4753"]));
    }

    #[test]
    fn task_files_keep_numbers_and_attach_strings() {
        let files = [
            TaskFile::keep(567),
            TaskFile::attach(9851),
            DiskAttachment::new(3).into(),
        ];
        assert_eq!(
            serde_json::to_value(files).unwrap(),
            json!([567, "n9851", "n3"])
        );
    }

    #[test]
    fn inline_content_is_a_name_and_base64_pair() {
        let file = FileContent::from_bytes("a.txt", "hi");
        assert_eq!(
            serde_json::to_value(&file).unwrap(),
            json!(["a.txt", "aGk="])
        );
        let many = vec![file.clone(), FileContent::from_bytes("b.bin", [0u8, 1, 2])];
        assert_eq!(
            serde_json::to_value(many).unwrap(),
            json!([["a.txt", "aGk="], ["b.bin", "AAEC"]])
        );
        assert!(!format!("{file:?}").contains("aGk="));
    }

    #[test]
    fn base64_given_by_the_caller_loses_its_data_prefix() {
        let file = FileContent::from_base64("p.png", "data:image/png;base64,iVBORw0K").unwrap();
        assert_eq!(file.base64(), "iVBORw0K");
        assert_eq!(
            FileContent::from_base64("p.png", "iVBORw0K")
                .unwrap()
                .base64(),
            "iVBORw0K"
        );
        assert!(FileContent::from_base64("p.png", "").is_err());
        assert!(FileContent::from_base64("p.png", "data:image/png;base64,").is_err());
    }

    #[tokio::test]
    async fn files_on_disk_are_read_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("note.txt");
        std::fs::write(&path, "hi").unwrap();
        let file = FileContent::read(&path).await.unwrap();
        assert_eq!((file.name(), file.base64()), ("note.txt", "aGk="));
        assert!(FileContent::read(dir.path().join("none")).await.is_err());
    }
}
