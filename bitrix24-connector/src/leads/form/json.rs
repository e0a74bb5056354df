//! Reading a JSON body into a [`RawForm`].

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use bytes::Bytes;
use serde_json::Value;

use super::{
    FieldError, FormErrors, FormRules, RawFile, RawForm, RawText, TextField, codes, file_too_large,
    text,
};

pub(super) fn read(body: &[u8], rules: &FormRules) -> Result<RawForm, FormErrors> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Err(FormErrors::body(
            codes::MALFORMED,
            "The request body is not a JSON object.",
        ));
    };
    let mut raw = RawForm::default();
    for (key, value) in object {
        if key == rules.honeypot_field {
            raw.spam |= match &value {
                Value::Null => false,
                Value::Bool(checked) => *checked,
                Value::String(text) => !text::clean(text, false).is_empty(),
                Value::Number(_) | Value::Array(_) | Value::Object(_) => true,
            };
        } else if let Some(field) = TextField::from_key(&key) {
            let text = match value {
                Value::Null => continue,
                Value::String(text) => RawText::Value(text),
                Value::Number(number) => RawText::Value(number.to_string()),
                Value::Bool(_) | Value::Array(_) | Value::Object(_) => RawText::NotText,
            };
            raw.set(field, text);
        } else if key == "files" {
            read_files(value, rules, &mut raw);
        }
    }
    Ok(raw)
}

fn read_files(value: Value, rules: &FormRules, raw: &mut RawForm) {
    let items = match value {
        Value::Null => return,
        Value::Array(items) => items,
        _ => {
            raw.files_error = Some(FieldError::new(
                "files",
                codes::MALFORMED,
                "files must be a list of {\"name\", \"content_base64\"} objects.",
            ));
            return;
        }
    };
    let mut index = 0;
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let content = item.get("content_base64").and_then(Value::as_str);
        if name.is_empty() && content.is_none_or(str::is_empty) {
            continue;
        }
        if index >= rules.max_files {
            raw.too_many_files = true;
            break;
        }
        let content = match content {
            Some(content) => decode(index, &name, content, rules),
            None => Err(not_base64(index)),
        };
        raw.files.push(RawFile {
            index,
            file_name: name,
            content,
        });
        index += 1;
    }
}

fn decode(index: usize, name: &str, content: &str, rules: &FormRules) -> Result<Bytes, FieldError> {
    // Front-ends often hand over what FileReader.readAsDataURL gives them.
    let content = match content.split_once(";base64,") {
        Some((prefix, data)) if prefix.starts_with("data:") => data,
        _ => content,
    };
    // Four base64 characters carry three bytes: refuse what is too large before decoding it.
    // Line breaks of MIME-wrapped base64 carry nothing, so they are not counted.
    let data_chars = content.bytes().filter(|b| !b.is_ascii_whitespace()).count();
    let decoded_at_least = u64::try_from(data_chars / 4 * 3)
        .unwrap_or(u64::MAX)
        .saturating_sub(3);
    if decoded_at_least > rules.max_file_bytes {
        return Err(file_too_large(index, name, rules));
    }
    let content: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = if content.ends_with('=') {
        STANDARD.decode(&content)
    } else {
        STANDARD_NO_PAD.decode(&content)
    }
    .map_err(|_| not_base64(index))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > rules.max_file_bytes {
        return Err(file_too_large(index, name, rules));
    }
    Ok(Bytes::from(bytes))
}

fn not_base64(index: usize) -> FieldError {
    FieldError::new(
        format!("files[{index}]"),
        codes::MALFORMED,
        format!("files[{index}] must have a content_base64 string with base64 data."),
    )
}
