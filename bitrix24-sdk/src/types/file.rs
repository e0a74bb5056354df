//! [`FileData`]: a file sent inline with a create or update call.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::Id;

/// A file value for a file field (`PHOTO`, `LOGO`, a file user field, …) of an add or update
/// call: `{"fileData": [name, base64]}`, or a request to remove the stored file.
///
/// ```
/// use bitrix24::types::FileData;
/// let photo = FileData::new("photo.png", b"\x89PNG");
/// assert_eq!(
///     serde_json::to_value(&photo).unwrap(),
///     serde_json::json!({"fileData": ["photo.png", "iVBORw=="]})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    kind: Kind,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Upload { name: String, base64: String },
    Remove { id: Id },
}

// File contents can be large and private: Debug shows the name and size only.
impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Upload { name, base64 } => f
                .debug_struct("Upload")
                .field("name", name)
                .field("base64_len", &base64.len())
                .finish(),
            Self::Remove { id } => f.debug_struct("Remove").field("id", id).finish(),
        }
    }
}

impl FileData {
    /// A file named `name` with the given contents (encoded as base64 here).
    pub fn new(name: impl Into<String>, contents: impl AsRef<[u8]>) -> Self {
        Self::from_base64(name, crate::files::base64::encode(contents.as_ref()))
    }

    /// A file whose contents are already base64-encoded.
    pub fn from_base64(name: impl Into<String>, base64: impl Into<String>) -> Self {
        Self {
            kind: Kind::Upload {
                name: name.into(),
                base64: base64.into(),
            },
        }
    }

    /// Removes the stored file `id` from the field: `{"id": id, "remove": "Y"}`.
    pub fn remove(id: impl Into<Id>) -> Self {
        Self {
            kind: Kind::Remove { id: id.into() },
        }
    }

    /// The JSON object that is sent.
    pub(crate) fn to_value(&self) -> Value {
        match &self.kind {
            Kind::Upload { name, base64 } => json!({ "fileData": [name, base64] }),
            Kind::Remove { id } => json!({ "id": id.get(), "remove": "Y" }),
        }
    }

    /// The `[name, base64]` pair that `disk.folder.uploadFile`, `disk.storage.uploadFile` and
    /// `disk.file.uploadVersion` take as `fileContent` (`None` for [`FileData::remove`]).
    pub fn file_content(&self) -> Option<Value> {
        match &self.kind {
            Kind::Upload { name, base64 } => Some(json!([name, base64])),
            Kind::Remove { .. } => None,
        }
    }

    /// The file name, for an upload.
    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Upload { name, .. } => Some(name),
            Kind::Remove { .. } => None,
        }
    }
}

impl Serialize for FileData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        match &self.kind {
            Kind::Upload { name, base64 } => {
                map.serialize_entry("fileData", &[name, base64])?;
            }
            Kind::Remove { id } => {
                map.serialize_entry("id", id)?;
                map.serialize_entry("remove", "Y")?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_upload_and_remove_forms() {
        let table = [
            (
                FileData::new("a.txt", "hi"),
                json!({"fileData": ["a.txt", "aGk="]}),
            ),
            (
                FileData::from_base64("b.png", "AAAA"),
                json!({"fileData": ["b.png", "AAAA"]}),
            ),
            (FileData::remove(5_u64), json!({"id": 5, "remove": "Y"})),
        ];
        for (file, want) in table {
            assert_eq!(serde_json::to_value(&file).unwrap(), want);
            assert_eq!(file.to_value(), want);
        }
        assert_eq!(FileData::new("a.txt", "hi").name(), Some("a.txt"));
        assert_eq!(
            FileData::new("a.txt", "hi").file_content(),
            Some(json!(["a.txt", "aGk="]))
        );
        assert_eq!(FileData::remove(1_u64).file_content(), None);
        assert_eq!(FileData::remove(1_u64).name(), None);
        assert!(!format!("{:?}", FileData::new("a.txt", "secret")).contains("c2VjcmV0"));
    }
}
