//! Reading a `multipart/form-data` body into a [`RawForm`].

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};

use super::{
    FormErrors, FormRules, RawFile, RawForm, RawText, TextField, codes, file_too_large, text,
};

/// Enough to tell whether a bot typed something into the honeypot.
const HONEYPOT_CAP: u64 = 1024;

pub(super) async fn read(
    mut multipart: Multipart,
    rules: &FormRules,
) -> Result<RawForm, FormErrors> {
    let mut raw = RawForm::default();
    let mut kept_bytes: u64 = 0;
    let mut file_parts = 0;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|error| body_error(&error))?
    {
        let Some(key) = field.name().map(str::to_owned) else {
            continue;
        };
        if key == rules.honeypot_field {
            let part = read_capped(&mut field, HONEYPOT_CAP).await?;
            raw.spam |= part.cut_off
                || !text::clean(&String::from_utf8_lossy(&part.bytes), false).is_empty();
        } else if let Some(text_field) = TextField::from_key(&key) {
            let part = read_capped(&mut field, text_field.read_cap(rules)).await?;
            let value = if part.cut_off {
                RawText::TooLong
            } else {
                RawText::Value(String::from_utf8_lossy(&part.bytes).into_owned())
            };
            raw.set(text_field, value);
        } else if is_file_field(&key) {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let index = file_parts;
            // Past the count or total limit a part is only probed (cap 0) to see whether it is
            // the empty placeholder of an unused file input; its content is never kept.
            let keep = index < rules.max_files && kept_bytes <= rules.max_total_file_bytes;
            let part = read_capped(&mut field, if keep { rules.max_file_bytes } else { 0 }).await?;
            if file_name.is_empty() && part.bytes.is_empty() && !part.cut_off {
                continue;
            }
            file_parts += 1;
            if index >= rules.max_files {
                raw.too_many_files = true;
            } else if !keep {
                raw.files_too_large = true;
            } else if part.cut_off {
                let content = Err(file_too_large(index, &file_name, rules));
                raw.files.push(RawFile {
                    index,
                    file_name,
                    content,
                });
            } else {
                kept_bytes =
                    kept_bytes.saturating_add(u64::try_from(part.bytes.len()).unwrap_or(u64::MAX));
                raw.files.push(RawFile {
                    index,
                    file_name,
                    content: Ok(part.bytes),
                });
            }
        }
        // Any other field is dropped unread; multer skips its content.
    }
    Ok(raw)
}

/// `files[]` and `files` (one input with `multiple`), `file`, and the indexed `files[0]`,
/// `files[1]`, … some form libraries send.
fn is_file_field(key: &str) -> bool {
    matches!(key, "files" | "file")
        || key
            .strip_prefix("files[")
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|index| index.bytes().all(|b| b.is_ascii_digit()))
}

struct Part {
    bytes: Bytes,
    /// The content passed the cap; `bytes` is then empty.
    cut_off: bool,
}

/// Reads a field's content chunk by chunk, giving up as soon as it passes `cap` bytes so an
/// oversized upload never sits in memory whole.
async fn read_capped(field: &mut Field<'_>, cap: u64) -> Result<Part, FormErrors> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(|error| body_error(&error))? {
        let len = u64::try_from(buffer.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if len > cap {
            return Ok(Part {
                bytes: Bytes::new(),
                cut_off: true,
            });
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Part {
        bytes: buffer.freeze(),
        cut_off: false,
    })
}

fn body_error(error: &MultipartError) -> FormErrors {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        FormErrors::body(codes::BODY_TOO_LARGE, "The request body is too large.")
    } else {
        FormErrors::body(
            codes::MALFORMED,
            "The request body is not valid multipart/form-data.",
        )
    }
}
