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
//!   without naming anyone;
//! - `domain` values become `portal.example`; URLs inside longer texts and the query strings of
//!   batch commands (`crm.lead.get?id=1&auth=…`) are scrubbed like whole values;
//! - last, whatever the client itself knows to be secret — the webhook secret, the portal's
//!   host, the OAuth client secret and access token — is replaced wherever it still appears,
//!   in values and in keys, so a secret echoed in an unexpected place cannot reach the disk.
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

/// Keys whose values name the portal's host, compared without regard to case and `_`.
const DOMAIN_KEYS: [&str; 3] = ["domain", "serverdomain", "clientdomain"];

/// What a portal's host becomes.
const PORTAL: &str = "portal.example";

fn is_secret_key(key: &str) -> bool {
    let key = normalized(key);
    SECRET_KEYS.iter().any(|s| normalized(s) == key)
}

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
    url.set_host(Some(PORTAL)).ok()?;
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
            let secret = is_secret_key(&k);
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

/// Scrubs a batch command, `method?query`: secret parameters become `[redacted]`, personal
/// ones are masked, URLs are scrubbed. `None` when `text` is not a command.
fn scrub_command(text: &str) -> Option<String> {
    let (method, query) = text.split_once('?')?;
    let is_method = !method.is_empty()
        && method
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'));
    // Commands are URL-encoded: a space means prose that happens to hold a `?`.
    if !is_method || !query.contains('=') || query.contains(char::is_whitespace) {
        return None;
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| {
            // `fields[PHONE][0][VALUE]`: judge the value by every segment of its key.
            let segments: Vec<String> = key
                .split(['[', ']'])
                .filter(|segment| !segment.is_empty())
                .map(normalized)
                .collect();
            let has = |names: &[&str]| segments.iter().any(|s| names.contains(&s.as_str()));
            let value = if segments.iter().any(|s| is_secret_key(s)) {
                "[redacted]".to_owned()
            } else if has(&DOMAIN_KEYS) {
                PORTAL.to_owned()
            } else if let Some(url) = scrub_url(&value) {
                url
            } else if has(&PERSONAL_KEYS) || has(&MULTI_FIELDS) {
                mask(&value)
            } else {
                value.into_owned()
            };
            (key.into_owned(), value)
        })
        .collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Some(format!("{method}?{query}"))
}

/// Scrubs the URLs inside a longer text (an error description, a comment).
fn scrub_embedded_urls(text: &str) -> Option<String> {
    if !text.contains("http://") && !text.contains("https://") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(tail.len());
        let candidate = &tail[..end];
        // Trailing punctuation belongs to the sentence, not to the URL.
        let trimmed = candidate.trim_end_matches(['.', ',', ';', ':', ')', ']', '!', '?']);
        match scrub_url(trimmed) {
            Some(url) => out.push_str(&url),
            // Not a URL after all: keep nothing of it rather than risk a secret.
            None => out.push_str("[redacted]"),
        }
        out.push_str(&candidate[trimmed.len()..]);
        rest = &tail[end..];
    }
    out.push_str(rest);
    Some(out)
}

/// Scrubs a JSON tree in place.
pub fn scrub(value: &mut Value) {
    scrub_in(value, Context::Plain);
}

/// Scrubs a JSON tree in place, then replaces every occurrence of the `known` secrets (each
/// with its replacement) in values and keys. Empty secrets are ignored.
pub fn scrub_known(value: &mut Value, known: &[(String, String)]) {
    scrub(value);
    let known: Vec<&(String, String)> = known.iter().filter(|(s, _)| !s.is_empty()).collect();
    if !known.is_empty() {
        replace_known(value, &known);
    }
}

fn replace_text(text: &str, known: &[&(String, String)]) -> Option<String> {
    let mut out: Option<String> = None;
    for (secret, replacement) in known {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(secret.as_str()) {
            out = Some(current.replace(secret.as_str(), replacement));
        }
    }
    out
}

fn replace_known(value: &mut Value, known: &[&(String, String)]) {
    match value {
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut inner) in entries {
                replace_known(&mut inner, known);
                map.insert(replace_text(&key, known).unwrap_or(key), inner);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| replace_known(item, known)),
        Value::String(text) => {
            if let Some(replaced) = replace_text(text, known) {
                *text = replaced;
            }
        }
        _ => {}
    }
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
                if is_secret_key(key) && !inner.is_object() && !inner.is_array() {
                    if !inner.is_null() {
                        *inner = Value::String("[redacted]".into());
                    }
                    continue;
                }
                if DOMAIN_KEYS.contains(&key_norm.as_str()) && inner.is_string() {
                    *inner = Value::String(PORTAL.into());
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
            } else if let Some(command) = scrub_command(text) {
                *text = command;
            } else if let Some(scrubbed) = scrub_embedded_urls(text) {
                *text = scrubbed;
            }
        }
        _ => {}
    }
}

/// Writes fixtures for one client.
#[derive(Clone)]
pub(crate) struct Recorder {
    dir: PathBuf,
    /// Literal secrets the client knows, with what replaces them.
    known: Vec<(String, String)>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.dir)
            .field("known", &self.known.len())
            .finish()
    }
}

impl Recorder {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            known: Vec::new(),
        }
    }

    /// Replaces `secret` with `replacement` wherever it appears in a fixture.
    #[must_use]
    pub(crate) fn with_known(mut self, secret: &str, replacement: &str) -> Self {
        if !secret.is_empty() {
            self.known.push((secret.to_owned(), replacement.to_owned()));
            // Longer first, so a secret that contains another is replaced whole.
            self.known.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        }
        self
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
    /// `access_token` is the token the request was sent with, if any: replaced like the
    /// other known secrets.
    pub(crate) async fn record(
        &self,
        method: &str,
        params: &[u8],
        access_token: Option<&str>,
        status: u16,
        body: &[u8],
    ) {
        let mut request: Value =
            serde_json::from_slice(params).unwrap_or_else(|_| Value::Object(Map::new()));
        let mut response: Value =
            serde_json::from_slice(body).unwrap_or_else(|_| Value::String("[not JSON]".into()));
        let mut known = self.known.clone();
        if let Some(token) = access_token.filter(|t| !t.is_empty()) {
            known.insert(0, (token.to_owned(), "[redacted]".to_owned()));
        }
        scrub_known(&mut request, &known);
        scrub_known(&mut response, &known);
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
    fn domains_commands_and_embedded_urls_are_scrubbed() {
        let mut value = json!({
            "domain": "acme.bitrix24.ru",
            "DOMAIN": "acme.bitrix24.ru",
            "cmd": {
                "a": "crm.lead.get?id=1&auth=tok-9",
                "b": "crm.lead.add?fields%5BNAME%5D=Ivan&fields%5BTITLE%5D=Order&fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=%2B7999",
            },
            "error_description": "See https://acme.bitrix24.ru/rest/1/s3cr3t/profile, then retry.",
            "text": "Order? no=1 stays",
        });
        scrub(&mut value);
        let text = value.to_string();
        for leaked in ["acme", "tok-9", "Ivan", "7999", "s3cr3t"] {
            assert!(!text.contains(leaked), "{leaked} leaked: {text}");
        }
        assert_eq!(value["domain"], "portal.example");
        assert_eq!(value["DOMAIN"], "portal.example");
        assert_eq!(value["cmd"]["a"], "crm.lead.get?id=1&auth=%5Bredacted%5D");
        assert!(
            value["cmd"]["b"]
                .as_str()
                .unwrap()
                .contains("fields%5BTITLE%5D=Order"),
            "{text}"
        );
        assert_eq!(
            value["error_description"],
            "See https://portal.example/rest/1/[redacted]/profile, then retry."
        );
        assert_eq!(value["text"], "Order? no=1 stays");
    }

    #[test]
    fn secrets_the_client_knows_are_replaced_everywhere() {
        let mut value = json!({
            "TITLE": "pasted wh-secret-1 by mistake",
            "COMMENTS": "from 127.0.0.1:8088",
            "wh-secret-1": { "ID": "1" },
        });
        let known = [
            ("wh-secret-1".to_owned(), "[redacted]".to_owned()),
            ("127.0.0.1".to_owned(), "portal.example".to_owned()),
            (String::new(), "never".to_owned()),
        ];
        scrub_known(&mut value, &known);
        assert_eq!(value["TITLE"], "pasted [redacted] by mistake");
        assert_eq!(value["COMMENTS"], "from portal.example:8088");
        assert_eq!(value["[redacted]"]["ID"], "1", "keys too");
        assert!(
            !value.to_string().contains("never"),
            "an empty secret matches nothing"
        );
    }

    #[tokio::test]
    async fn a_recorded_fixture_holds_no_known_secret() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(dir.path())
            .with_known("wh-secret-1", "[redacted]")
            .with_known("acme.bitrix24.ru", "portal.example");
        recorder
            .record(
                "user.current",
                br#"{"note":"acme.bitrix24.ru"}"#,
                Some("acc-token-7"),
                200,
                br#"{"result":{"ID":"1","echo":"acc-token-7 wh-secret-1"}}"#,
            )
            .await;
        let file = std::fs::read_dir(dir.path().join("user").join("user.current"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(file).unwrap();
        for leaked in ["wh-secret-1", "acme", "acc-token-7"] {
            assert!(!text.contains(leaked), "{leaked} leaked: {text}");
        }
        let fixture: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(fixture["response"]["result"]["ID"], "1");
        assert_eq!(fixture["status"], 200);
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
