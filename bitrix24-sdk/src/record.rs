//! Recording calls as fixtures: each request and its reply, scrubbed, written to
//! `<dir>/<scope>/<method>/<case>.json` for replay tests and snapshots.
//!
//! Scrubbing happens before anything touches the disk:
//! - secrets (`auth`, access, refresh and application tokens, client secrets, passwords) become
//!   `[redacted]`;
//! - URLs keep their path but point at `https://portal.example`, and their `auth`/`token`
//!   query values become `[redacted]` (download and upload URLs are signed with tokens);
//! - personal data (names, e-mails, phones, addresses, birthdays, multi-field values) keep
//!   their shape — letters become `x`, digits `0` — so a fixture still reads like the real reply
//!   without naming anyone.
//!
//! The case name is a digest of the scrubbed request, so recording the same call again
//! replaces its fixture instead of adding one.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Keys whose values are secrets, compared without regard to case.
const SECRET_KEYS: [&str; 11] = [
    "auth",
    "access_token",
    "refresh_token",
    "application_token",
    "client_secret",
    "password",
    "auth_id",
    "refresh_id",
    "member_id",
    "secret",
    "token",
];

/// Keys whose values are personal data, compared without regard to case and `_`.
const PERSONAL_KEYS: [&str; 24] = [
    "name",
    "lastname",
    "secondname",
    "fullname",
    "email",
    "phone",
    "personalphone",
    "personalmobile",
    "workphone",
    "personalbirthday",
    "birthdate",
    "address",
    "address2",
    "addresscity",
    "addresspostalcode",
    "addressregion",
    "addressprovince",
    "personalstreet",
    "personalcity",
    "login",
    "ufphoneinner",
    "personalwww",
    "workcompany",
    "formattedname",
];

/// Multi-field keys: their items' `VALUE`s are personal data.
const MULTI_FIELDS: [&str; 5] = ["phone", "email", "im", "web", "fm"];

fn normalized(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Keeps the shape of a text, not its content.
fn mask(text: &str) -> String {
    if let Some((user, _)) = text.split_once('@') {
        let user: String = user.chars().map(|_| 'x').collect();
        return format!("{user}@example.com");
    }
    text.chars()
        .map(|c| {
            if c.is_alphabetic() {
                'x'
            } else if c.is_ascii_digit() {
                '0'
            } else {
                c
            }
        })
        .collect()
}

fn scrub_url(text: &str) -> Option<String> {
    let mut url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let _ = url.set_scheme("https");
    url.set_host(Some("portal.example")).ok()?;
    let _ = url.set_port(None);
    // Webhook paths carry their secret as the third segment: /rest/{user}/{secret}/…
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| s.map(str::to_owned).collect())
        .unwrap_or_default();
    if segments.first().map(String::as_str) == Some("rest")
        && segments.len() >= 3
        && segments[1].parse::<u64>().is_ok()
    {
        let mut rebuilt = segments;
        "[redacted]".clone_into(&mut rebuilt[2]);
        url.set_path(&rebuilt.join("/"));
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let secret = SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s));
            (
                k.into_owned(),
                if secret {
                    "[redacted]".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Some(url.to_string())
}

/// Scrubs a JSON tree in place.
pub fn scrub(value: &mut Value) {
    scrub_in(value, Context::Plain);
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    Plain,
    Personal,
    Multi,
}

fn scrub_in(value: &mut Value, context: Context) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                let key_norm = normalized(key);
                if SECRET_KEYS.iter().any(|s| normalized(s) == key_norm)
                    && !inner.is_object()
                    && !inner.is_array()
                {
                    if !inner.is_null() {
                        *inner = Value::String("[redacted]".into());
                    }
                    continue;
                }
                let next = if context == Context::Multi && (key_norm == "value") {
                    Context::Personal
                } else if MULTI_FIELDS.contains(&key_norm.as_str()) && inner.is_array() {
                    Context::Multi
                } else if PERSONAL_KEYS.contains(&key_norm.as_str()) {
                    Context::Personal
                } else if context == Context::Multi {
                    Context::Multi
                } else {
                    Context::Plain
                };
                scrub_in(inner, next);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scrub_in(item, context)),
        Value::String(text) => {
            if let Some(url) = scrub_url(text) {
                *text = url;
            } else if context == Context::Personal {
                *text = mask(text);
            }
        }
        _ => {}
    }
}

/// Writes fixtures for one client.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    dir: PathBuf,
}

impl Recorder {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where a fixture of `method` with this (scrubbed) request goes.
    pub(crate) fn path_for(&self, method: &str, request: &Value) -> PathBuf {
        let scope = method.split('.').next().unwrap_or("other");
        let text = request.to_string();
        let digest = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        self.dir
            .join(scope)
            .join(method)
            .join(format!("{digest:016x}.json"))
    }

    /// Records one exchange; a failure to write is logged, never turned into a call failure.
    pub(crate) async fn record(&self, method: &str, params: &[u8], status: u16, body: &[u8]) {
        let mut request: Value =
            serde_json::from_slice(params).unwrap_or_else(|_| Value::Object(Map::new()));
        let mut response: Value =
            serde_json::from_slice(body).unwrap_or_else(|_| Value::String("[not JSON]".into()));
        scrub(&mut request);
        scrub(&mut response);
        let path = self.path_for(method, &request);
        let fixture =
            json!({ "method": method, "request": request, "status": status, "response": response });
        let written = tokio::task::spawn_blocking(move || write_fixture(&path, &fixture)).await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::warn!(method, "a fixture could not be written");
        }
    }
}

fn write_fixture(path: &Path, fixture: &Value) -> Result<()> {
    let fail = |error: std::io::Error| {
        Error::config("a fixture could not be written").with_source(Box::new(error))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let text = serde_json::to_string_pretty(fixture)
        .map_err(|error| Error::decode("a fixture cannot be encoded", Some(Box::new(error))))?;
    std::fs::write(path, text + "\n").map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_urls_and_personal_data_are_scrubbed() {
        let mut value = json!({
            "auth": "tok-123",
            "fields": {
                "TITLE": "Order 42",
                "NAME": "Иван",
                "PHONE": [{ "VALUE": "+7 999 123-45-67", "VALUE_TYPE": "WORK" }],
                "EMAIL": [{ "VALUE": "ivan@mail.ru", "VALUE_TYPE": "WORK" }],
            },
            "DOWNLOAD_URL": "https://acme.bitrix24.ru/rest/download.json?auth=abc&token=disk%7C123&id=5",
            "hook": "https://acme.bitrix24.ru/rest/1/s3cr3t/crm.lead.add",
            "access_token": "a",
            "nested": [{ "refresh_token": "b", "application_token": "c" }],
            "ID": "42",
        });
        scrub(&mut value);
        let text = value.to_string();
        for leaked in [
            "tok-123",
            "Иван",
            "999",
            "ivan",
            "mail.ru",
            "acme",
            "s3cr3t",
            "abc",
            "disk%7C123",
        ] {
            assert!(!text.contains(leaked), "{leaked} leaked: {text}");
        }
        assert_eq!(
            value["fields"]["TITLE"], "Order 42",
            "ordinary data is kept"
        );
        assert_eq!(value["fields"]["PHONE"][0]["VALUE"], "+0 000 000-00-00");
        assert_eq!(value["fields"]["PHONE"][0]["VALUE_TYPE"], "WORK");
        assert_eq!(value["fields"]["EMAIL"][0]["VALUE"], "xxxx@example.com");
        assert_eq!(value["fields"]["NAME"], "xxxx");
        assert_eq!(value["ID"], "42");
        assert!(
            value["DOWNLOAD_URL"]
                .as_str()
                .unwrap()
                .starts_with("https://portal.example/rest/download.json?auth=%5Bredacted%5D")
        );
        assert_eq!(
            value["hook"],
            "https://portal.example/rest/1/[redacted]/crm.lead.add"
        );
    }

    #[test]
    fn fixture_paths_are_stable_per_request() {
        let recorder = Recorder::new("fx");
        let a = recorder.path_for("crm.lead.get", &json!({ "id": 1 }));
        assert_eq!(a, recorder.path_for("crm.lead.get", &json!({ "id": 1 })));
        assert_ne!(a, recorder.path_for("crm.lead.get", &json!({ "id": 2 })));
        assert!(a.starts_with("fx/crm/crm.lead.get"));
    }
}
