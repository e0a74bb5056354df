//! Files the CRM keeps: uploads into file fields and timeline-comment attachments.
//!
//! The portal takes file content inline, base64-encoded (api-reference/files/how-to-upload-files.md):
//! the old methods (`crm.lead.add`…) want `{"fileData": [name, base64]}` in a field of type
//! "file", `crm.item.*` wants `[name, base64]`, and `crm.timeline.comment.add` wants
//! `FILES: [[name, base64], …]`. Reading back, the old methods return `{id, showUrl,
//! downloadUrl}` (tutorials/crm/how-to-add-crm-objects/how-to-add-lead-with-files.md) and
//! `crm.item.*` returns `{id, url, urlMachine}` (api-reference/files/how-to-update-files.md).
//! The URLs are shaped like the portal's; the sandbox does not serve them, so tests read the
//! content back with `SandboxPortal::crm_file`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::CrmState;
use crate::sandbox::SandboxPortal;
use crate::sandbox::params::{value_str, value_u64};

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CrmFile {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) size: u64,
    /// The content, base64-encoded, so that snapshots stay plain JSON text.
    pub(crate) content: String,
    pub(crate) created: String,
    pub(crate) author_id: u64,
}

impl CrmFile {
    /// The decoded content.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        STANDARD.decode(&self.content).unwrap_or_default()
    }

    /// Width and height, when the content is a GIF, PNG or JPEG image.
    pub(crate) fn image_size(&self) -> Option<(u32, u32)> {
        image_size(&self.bytes())
    }
}

/// A decoded upload: a name and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upload {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
}

/// Decodes base64 the way PHP's lenient `base64_decode` would accept it: whitespace ignored,
/// padding optional, the URL-safe alphabet too.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
}

/// `[name, base64]` (the form of `crm.item.*`), or `[base64]`. In a field the name needs an
/// extension, which keeps a two-string list value (`["a", "b"]`) from being read as a file.
pub(crate) fn upload_from_pair(value: &Value) -> Option<Upload> {
    pair(value, true)
}

/// `[name, base64]` where nothing else can be meant (timeline `FILES`): any name.
pub(crate) fn upload_from_named_pair(value: &Value) -> Option<Upload> {
    pair(value, false)
}

fn pair(value: &Value, strict: bool) -> Option<Upload> {
    let items = value.as_array()?;
    match items.as_slice() {
        [name, content] => {
            let name = name.as_str()?.trim();
            if name.is_empty() || (strict && !name.contains('.')) {
                return None;
            }
            let bytes = decode_base64(content.as_str()?)?;
            Some(Upload {
                name: name.to_owned(),
                bytes,
            })
        }
        [content] => {
            let bytes = decode_base64(content.as_str()?)?;
            Some(Upload {
                name: "file".to_owned(),
                bytes,
            })
        }
        _ => None,
    }
}

/// `{"fileData": [name, base64]}` or `{"fileData": base64}` (the old methods' form).
pub(crate) fn upload_from_file_data(value: &Value) -> Option<Upload> {
    let data = value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("fileData"))
        .map(|(_, v)| v)?;
    match data {
        Value::String(content) => Some(Upload {
            name: "file".to_owned(),
            bytes: decode_base64(content)?,
        }),
        other => upload_from_pair(other),
    }
}

/// Keeps an upload and returns its id.
pub(crate) fn store(crm: &mut CrmState, upload: Upload, created: &str, author_id: u64) -> u64 {
    crm.last_file_id += 1;
    let id = crm.last_file_id;
    let file = CrmFile {
        id,
        name: upload.name,
        size: upload.bytes.len() as u64,
        content: STANDARD.encode(&upload.bytes),
        created: created.to_owned(),
        author_id,
    };
    crm.files.insert(id, file);
    id
}

/// Whose field a file is written to, for the URLs the portal hands out.
#[derive(Debug, Clone)]
pub(crate) struct FileOwner<'a> {
    /// `lead`, `deal`, `contact`, `company` or `dynamic_<entityTypeId>`.
    pub(crate) kind: &'a str,
    pub(crate) owner_id: u64,
    /// The stored field name (`PHOTO`, `UF_CRM_…`).
    pub(crate) field: &'a str,
    pub(crate) created: &'a str,
    pub(crate) author_id: u64,
}

/// The stored form of a file in a field: what the old methods return
/// (`/bitrix/components/bitrix/crm.lead.show/show_file.php?…`, relative, as documented).
fn stored_ref(owner: &FileOwner<'_>, file_id: u64) -> Value {
    let dynamic = if owner.field.starts_with("UF_") {
        "Y"
    } else {
        "N"
    };
    let page = format!(
        "/bitrix/components/bitrix/crm.{}.show/show_file.php",
        owner.kind
    );
    let query = format!(
        "ownerId={}&fieldName={}&dynamic={dynamic}&fileId={file_id}",
        owner.owner_id, owner.field
    );
    json!({
        "id": file_id,
        "showUrl": format!("{page}?{query}"),
        "downloadUrl": format!("{page}?auth=&{query}"),
    })
}

/// The file id of a stored reference.
pub(crate) fn ref_id(value: &Value) -> Option<u64> {
    let map = value.as_object()?;
    if !map.contains_key("showUrl") {
        return None;
    }
    map.get("id").and_then(value_u64)
}

/// Whether a stored value holds file references.
pub(crate) fn holds_files(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Array(items)) => {
            !items.is_empty() && items.iter().all(|item| ref_id(item).is_some())
        }
        Some(other) => ref_id(other).is_some(),
        None => false,
    }
}

fn current_ids(current: Option<&Value>) -> Vec<u64> {
    match current {
        Some(Value::Array(items)) => items.iter().filter_map(ref_id).collect(),
        Some(other) => ref_id(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn is_removal(value: &Value) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    ["remove", "del", "delete"].iter().any(|flag| {
        map.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case(flag)
                && value_str(v).is_some_and(|s| s.eq_ignore_ascii_case("Y"))
        })
    })
}

/// One element of a file value: a new upload, or the id of a file the field already holds.
enum Part {
    New(Upload),
    Keep(u64),
    Drop,
}

fn part(value: &Value, kept: &[u64]) -> Option<Part> {
    if let Some(upload) = upload_from_file_data(value).or_else(|| upload_from_pair(value)) {
        return Some(Part::New(upload));
    }
    let id = match value {
        Value::Object(map) => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("id"))
            .and_then(|(_, v)| value_u64(v)),
        other => value_u64(other),
    }?;
    if is_removal(value) || !kept.contains(&id) {
        return Some(Part::Drop);
    }
    Some(Part::Keep(id))
}

/// The new stored value of a file field written with `value`, or `None` when `value` is not a
/// file value and is to be stored as it is. `Some(Value::Null)` clears the field.
///
/// A single upload replaces the field; a list sets a multiple field as a whole: uploads are
/// added, ids of files the field holds are kept, the rest is dropped
/// (api-reference/files/how-to-update-files.md). An empty string or `{id, remove: "Y"}` clears
/// a field holding a file.
pub(crate) fn write_value(
    crm: &mut CrmState,
    value: &Value,
    current: Option<&Value>,
    owner: &FileOwner<'_>,
) -> Option<Value> {
    let kept = current_ids(current);
    let has_files = !kept.is_empty();
    let single = upload_from_file_data(value).or_else(|| upload_from_pair(value));
    if let Some(upload) = single {
        let id = store(crm, upload, owner.created, owner.author_id);
        return Some(stored_ref(owner, id));
    }
    match value {
        Value::Array(items) => {
            let parts: Vec<Option<Part>> = items.iter().map(|item| part(item, &kept)).collect();
            let any_upload = parts.iter().any(|p| matches!(p, Some(Part::New(_))));
            if !(any_upload || has_files && parts.iter().all(Option::is_some)) {
                return None;
            }
            let mut out = Vec::new();
            for part in parts.into_iter().flatten() {
                match part {
                    Part::New(upload) => {
                        let id = store(crm, upload, owner.created, owner.author_id);
                        out.push(stored_ref(owner, id));
                    }
                    Part::Keep(id) => out.push(stored_ref(owner, id)),
                    Part::Drop => {}
                }
            }
            Some(Value::Array(out))
        }
        Value::Null => has_files.then_some(Value::Null),
        Value::String(s) if s.is_empty() => has_files.then_some(Value::Null),
        Value::Object(_) if has_files => match part(value, &kept) {
            Some(Part::Keep(id)) => Some(stored_ref(owner, id)),
            Some(Part::Drop) => Some(Value::Null),
            _ => None,
        },
        _ => None,
    }
}

/// A stored file reference as `crm.item.*` returns it: `{id, url, urlMachine}`.
pub(crate) fn item_ref(
    stored: &Value,
    base_url: &str,
    entity_type_id: u64,
    owner_id: u64,
    field: &str,
) -> Value {
    let convert = |value: &Value| {
        let Some(id) = ref_id(value) else {
            return value.clone();
        };
        json!({
            "id": id,
            "url": format!(
                "{base_url}bitrix/services/main/ajax.php?action=crm.controller.item.getFile&SITE_ID=s1&entityTypeId={entity_type_id}&id={owner_id}&fieldName={field}&fileId={id}"
            ),
            "urlMachine": format!("{base_url}rest/crm.controller.item.getFile.json?token=crm%7C{entity_type_id}%7C{owner_id}%7C{id}"),
        })
    };
    match stored {
        Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
        other => convert(other),
    }
}

/// A timeline attachment as `crm.timeline.comment.get` returns it (the `FILES` map's values).
pub(crate) fn attachment(file: &CrmFile, author_name: &str, base_url: &str) -> Value {
    let ts = file.id;
    let name = &file.name;
    let mut out = Map::new();
    out.insert("id".into(), json!(file.id));
    out.insert("date".into(), json!(file.created));
    let image = file.image_size();
    out.insert(
        "type".into(),
        json!(if image.is_some() { "image" } else { "file" }),
    );
    out.insert("name".into(), json!(name));
    out.insert("size".into(), json!(file.size));
    if let Some((width, height)) = image {
        out.insert("image".into(), json!({ "width": width, "height": height }));
    }
    out.insert("authorId".into(), json!(file.author_id));
    out.insert("authorName".into(), json!(author_name));
    if image.is_some() {
        out.insert(
            "urlPreview".into(),
            json!(format!(
                "{base_url}disk/showFile/{}/?&ncc=1&width=640&height=640&ts={ts}&filename={name}",
                file.id
            )),
        );
    }
    out.insert(
        "urlShow".into(),
        json!(format!(
            "{base_url}disk/showFile/{}/?&ncc=1&ts={ts}&filename={name}",
            file.id
        )),
    );
    out.insert(
        "urlDownload".into(),
        json!(format!(
            "{base_url}disk/downloadFile/{}/?&ncc=1&filename={name}",
            file.id
        )),
    );
    Value::Object(out)
}

/// Width and height of a GIF, PNG or JPEG image.
pub(crate) fn image_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let le16 = |at: usize| {
        Some(u32::from(u16::from_le_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    let be16 = |at: usize| {
        Some(u32::from(u16::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    let be32 = |at: usize| {
        Some(u32::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]))
    };
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some((le16(6)?, le16(8)?));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be32(16)?, be32(20)?));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut at = 2;
        while at + 9 < bytes.len() {
            if bytes[at] != 0xFF {
                return None;
            }
            let marker = bytes[at + 1];
            let length = usize::try_from(be16(at + 2)?).ok()?;
            // Start-of-frame markers carry the size; 0xC4, 0xC8 and 0xCC are not frames.
            if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                return Some((be16(at + 7)?, be16(at + 5)?));
            }
            at += 2 + length;
        }
    }
    None
}

impl SandboxPortal {
    /// A file the CRM keeps (a file field's upload or a timeline-comment attachment), by the
    /// id the portal returned: its name and content. The URLs in replies point at the
    /// portal's own pages, which the sandbox does not serve.
    pub fn crm_file(&self, id: u64) -> Option<(String, Vec<u8>)> {
        self.shared.with_state(|state| {
            state
                .crm
                .files
                .get(&id)
                .map(|file| (file.name.clone(), file.bytes()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIF: &str = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==";

    #[test]
    fn uploads_in_both_forms() {
        let pair = upload_from_pair(&json!(["1.gif", GIF])).unwrap();
        assert_eq!((pair.name.as_str(), pair.bytes.len()), ("1.gif", 43));
        assert_eq!(image_size(&pair.bytes), Some((1, 1)));
        let data = upload_from_file_data(&json!({ "fileData": ["a.txt", "aGVsbG8"] })).unwrap();
        assert_eq!(data.bytes, b"hello");
        assert!(upload_from_pair(&json!(["plain", "words"])).is_none());
        assert!(upload_from_file_data(&json!({ "other": 1 })).is_none());
    }

    #[test]
    fn file_fields_replace_keep_and_clear() {
        let mut crm = CrmState::default();
        let owner = FileOwner {
            kind: "lead",
            owner_id: 5,
            field: "UF_CRM_FILES",
            created: "",
            author_id: 1,
        };
        let first = write_value(
            &mut crm,
            &json!([{ "fileData": ["a.txt", "YQ=="] }, { "fileData": ["b.txt", "Yg=="] }]),
            None,
            &owner,
        )
        .unwrap();
        assert_eq!(first.as_array().unwrap().len(), 2);
        assert!(
            first[0]["showUrl"]
                .as_str()
                .unwrap()
                .contains("crm.lead.show/show_file.php?ownerId=5&fieldName=UF_CRM_FILES")
        );
        let kept = write_value(
            &mut crm,
            &json!([{ "id": first[1]["id"] }, { "fileData": ["c.txt", "Yw=="] }]),
            Some(&first),
            &owner,
        )
        .unwrap();
        let ids: Vec<u64> = kept.as_array().unwrap().iter().filter_map(ref_id).collect();
        assert_eq!(ids, vec![2, 3]);
        assert_eq!(
            write_value(&mut crm, &json!(""), Some(&kept), &owner),
            Some(Value::Null)
        );
        assert_eq!(write_value(&mut crm, &json!("text"), None, &owner), None);
        assert_eq!(
            write_value(&mut crm, &json!(["x", "y"]), None, &owner),
            None
        );
        assert_eq!(crm.files.len(), 3);
        assert_eq!(crm.files[&3].bytes(), b"c");
    }

    #[test]
    fn image_sizes() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 2]);
        assert_eq!(image_size(&png), Some((3, 2)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 7, 0, 9, 3, 0, 0, 0,
        ];
        assert_eq!(image_size(&jpeg), Some((9, 7)));
        assert_eq!(image_size(b"hello world"), None);
    }
}
