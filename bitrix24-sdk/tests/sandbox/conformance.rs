//! Conformance with the official documentation: for every method the sandbox implements, its
//! reply to the documented request has the shape of the documented reply, and documented
//! errors can be provoked.
//!
//! The documentation's examples are read from `BITRIX24_DOCS_FIXTURES` (`.ci/run` points it at
//! `../shared/fixtures-docs`); without it the test says so and checks nothing.
//!
//! "Same shape" means: every key of a documented object is present with the same JSON type,
//! recursively; extra keys are allowed; a documented `null` matches anything; a documented
//! non-empty list needs a non-empty list whose items have the documented items' shape; objects
//! keyed by numbers (maps by id) are compared by their values; user fields (`UF_…`), which every
//! portal defines for itself, are compared only when present. PHP's `[]` for an empty map
//! matches `{}` both ways.

use std::fmt::Write as _;
use std::path::PathBuf;

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, ErrorCode, Limits, RetryPolicy};
use serde_json::{Value, json};

use super::{prepare_crm, prepare_events_openlines, prepare_tasks_disk_user};

/// What a conformance test needs: a portal, a webhook client and an app (OAuth) client.
pub(crate) struct Env {
    pub(crate) portal: SandboxPortal,
    pub(crate) webhook: Client,
    pub(crate) app: Client,
}

/// The outcome of preparing for a documented request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prepared {
    /// Send the (possibly rewritten) request.
    Ready,
    /// The documented request cannot be reproduced; the reason is reported.
    Skip(&'static str),
    /// The method belongs to another scope's preparer.
    NotMine,
}

impl Env {
    pub(crate) async fn start() -> Self {
        let portal = SandboxPortal::builder()
            .limits(Limits::unlimited())
            .start()
            .await
            .unwrap();
        let webhook = Client::builder()
            .webhook(portal.webhook_url())
            .limits(Limits::unlimited())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let app = Client::builder()
            .oauth(
                portal.oauth_app(),
                portal.install_app().unwrap(),
                bitrix24::auth::MemoryTokenStore::new(),
            )
            .limits(Limits::unlimited())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        Self {
            portal,
            webhook,
            app,
        }
    }

    /// Calls `method` with the webhook, or with the app when the method needs an app context.
    pub(crate) async fn call(
        &self,
        method: &str,
        request: &Value,
    ) -> bitrix24::Result<bitrix24::Response<Value>> {
        let reply = self
            .webhook
            .call_raw::<Value>(method, request.clone())
            .send_with_meta()
            .await;
        match reply {
            // Methods that need an application context say so in two ways.
            Err(error)
                if error.code() == Some(&ErrorCode::WrongAuthType)
                    || error.api().is_some_and(|api| {
                        api.description.contains("Application context required")
                    }) =>
            {
                self.app
                    .call_raw::<Value>(method, request.clone())
                    .send_with_meta()
                    .await
            }
            other => other,
        }
    }
}

pub(crate) fn fixtures_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BITRIX24_DOCS_FIXTURES")
        .map(PathBuf::from)
        .or_else(|| {
            let beside =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures-docs");
            beside.is_dir().then_some(beside)
        })?;
    dir.is_dir().then_some(dir)
}

fn read_json(path: &PathBuf) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

async fn prepare(env: &Env, method: &str, request: &mut Value) -> Prepared {
    for outcome in [
        prepare_core(env, method, request),
        prepare_crm::prepare(env, method, request).await,
        prepare_tasks_disk_user::prepare(env, method, request).await,
        prepare_events_openlines::prepare(env, method, request).await,
    ] {
        if outcome != Prepared::NotMine {
            return outcome;
        }
    }
    Prepared::Ready
}

async fn error_request(env: &Env, method: &str, documented: &Value) -> Option<Value> {
    // `app.info` through the webhook: no application context.
    if method == "app.info" {
        return Some(json!({}));
    }
    if let Some(request) = prepare_crm::error_request(env, method, documented).await {
        return Some(request);
    }
    if let Some(request) = prepare_tasks_disk_user::error_request(env, method, documented).await {
        return Some(request);
    }
    prepare_events_openlines::error_request(env, method, documented).await
}

/// The core's own methods: the documented requests run as they are.
fn prepare_core(_env: &Env, method: &str, _request: &mut Value) -> Prepared {
    match method {
        "batch" | "app.info" | "department.get" | "profile" => Prepared::Ready,
        _ => Prepared::NotMine,
    }
}

/// Compares shapes; returns the paths where they differ.
pub(crate) fn shape_mismatches(
    documented: &Value,
    ours: &Value,
    path: &str,
    out: &mut Vec<String>,
) {
    match (documented, ours) {
        (Value::Null, _)
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_)) => {}
        (Value::Array(doc), Value::Object(map)) if doc.is_empty() && map.is_empty() => {}
        (Value::Object(doc), Value::Array(list)) if doc.is_empty() && list.is_empty() => {}
        (Value::Array(doc), Value::Array(list)) => {
            if !doc.is_empty() && list.is_empty() {
                out.push(format!(
                    "{path}: documented a non-empty list, got an empty one"
                ));
            }
            for (index, (d, o)) in doc.iter().zip(list).enumerate() {
                shape_mismatches(d, o, &format!("{path}[{index}]"), out);
            }
        }
        (Value::Object(doc), Value::Object(map)) => {
            let keyed_by_ids = !doc.is_empty() && doc.keys().all(|k| k.parse::<u64>().is_ok());
            if keyed_by_ids {
                match (doc.values().next(), map.values().next()) {
                    (Some(d), Some(o)) => shape_mismatches(d, o, &format!("{path}.<id>"), out),
                    (Some(_), None) => {
                        out.push(format!("{path}: documented entries keyed by id, got none"));
                    }
                    _ => {}
                }
                return;
            }
            for (key, d) in doc {
                match map.get(key) {
                    Some(o) => shape_mismatches(d, o, &format!("{path}.{key}"), out),
                    // User fields (`UF_…`) are made per portal: the docs' portal has its own.
                    None if key.starts_with("UF_") => {}
                    None => out.push(format!("{path}.{key}: missing")),
                }
            }
        }
        (d, o) => out.push(format!("{path}: documented {}, got {}", kind(d), kind(o))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Our reply as an envelope, to compare with the documented one.
fn envelope(response: &bitrix24::Response<Value>, documented: &Value) -> Value {
    let mut out = json!({ "result": response.result });
    if let Value::Object(map) = &mut out {
        if let Some(total) = response.total {
            map.insert("total".into(), json!(total));
        }
        // `next` depends on how many rows there are; it is compared when both have it.
        match response.next {
            Some(next) => {
                map.insert("next".into(), json!(next));
            }
            None if documented.get("next").is_some() => {
                map.insert("next".into(), documented["next"].clone());
            }
            None => {}
        }
        if let Some(time) = &response.time {
            map.insert(
                "time".into(),
                serde_json::to_value(time).unwrap_or_default(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_replies_and_errors_are_reproduced() {
    let Some(dir) = fixtures_dir() else {
        eprintln!(
            "conformance: BITRIX24_DOCS_FIXTURES is not set and ../shared/fixtures-docs is absent; nothing checked"
        );
        return;
    };
    let env = Env::start().await;
    let methods = env.portal.methods();
    let mut report = String::new();
    let (mut passed, mut failed, mut skipped, mut without_fixture) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut errors_passed, mut errors_failed, mut errors_unprovoked) =
        (Vec::new(), Vec::new(), Vec::new());

    for method in methods {
        let reply_path = dir.join(format!("{method}.json"));
        let Some(mut documented) = read_json(&reply_path) else {
            without_fixture.push(method);
            continue;
        };
        // Some published examples close a brace too late, so `time` sits inside `result`.
        if documented.get("time").is_none()
            && let Some(time) = documented
                .get_mut("result")
                .and_then(Value::as_object_mut)
                .and_then(|result| result.remove("time"))
            && let Value::Object(map) = &mut documented
        {
            map.insert("time".into(), time);
        }
        let mut request =
            read_json(&dir.join(format!("{method}.request.json"))).unwrap_or_else(|| json!({}));
        // The documented requests carry a placeholder token; the clients bring real ones.
        if let Value::Object(map) = &mut request {
            map.remove("auth");
        }
        match prepare(&env, method, &mut request).await {
            Prepared::Skip(reason) => {
                skipped.push(format!("{method} ({reason})"));
            }
            _ => match env.call(method, &request).await {
                Ok(response) => {
                    let mut mismatches = Vec::new();
                    shape_mismatches(
                        &documented,
                        &envelope(&response, &documented),
                        "$",
                        &mut mismatches,
                    );
                    if mismatches.is_empty() {
                        passed.push(method);
                    } else {
                        failed.push(format!("{method}: {}", mismatches.join("; ")));
                    }
                }
                Err(error) => {
                    failed.push(format!("{method}: the documented request failed: {error}"));
                }
            },
        }

        if let Some(documented_error) = read_json(&dir.join(format!("{method}.error.json"))) {
            let code = documented_error
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match error_request(&env, method, &documented_error).await {
                None => errors_unprovoked.push(method),
                Some(request) => {
                    let matches = |error: &bitrix24::Error| {
                        error.code().map(ErrorCode::as_str) == Some(code.as_str())
                    };
                    // The webhook first: some documented errors are about the missing app context.
                    let outcome = match env.webhook.call_raw::<Value>(method, request.clone()).await
                    {
                        Err(error) if matches(&error) => Err(error),
                        _ => env
                            .call(method, &request)
                            .await
                            .map(|response| response.result),
                    };
                    match outcome {
                        Err(error) if matches(&error) => errors_passed.push(method),
                        Err(error) => {
                            errors_failed.push(format!("{method}: expected `{code}`, got {error}"));
                        }
                        Ok(_) => errors_failed
                            .push(format!("{method}: expected `{code}`, the call succeeded")),
                    }
                }
            }
        }
    }

    let _ = writeln!(
        report,
        "conformance: {} methods with documented replies checked: {} passed, {} failed, {} skipped; {} implemented methods have no documented reply",
        passed.len() + failed.len() + skipped.len(),
        passed.len(),
        failed.len(),
        skipped.len(),
        without_fixture.len()
    );
    let _ = writeln!(
        report,
        "conformance: documented errors: {} reproduced, {} wrong, {} not provoked",
        errors_passed.len(),
        errors_failed.len(),
        errors_unprovoked.len()
    );
    for line in &failed {
        let _ = writeln!(report, "  FAILED {line}");
    }
    for line in &errors_failed {
        let _ = writeln!(report, "  ERROR FAILED {line}");
    }
    for line in &skipped {
        let _ = writeln!(report, "  skipped {line}");
    }
    let _ = writeln!(report, "  not provoked: {}", errors_unprovoked.join(", "));
    let _ = writeln!(
        report,
        "  no documented reply: {}",
        without_fixture.join(", ")
    );
    eprintln!("{report}");
    assert!(!passed.is_empty(), "no method was checked");
    assert!(failed.is_empty() && errors_failed.is_empty(), "{report}");
}

#[test]
fn shapes_compare_as_documented() {
    let mut out = Vec::new();
    shape_mismatches(
        &json!({ "ID": "1", "N": null, "L": [{ "a": 1 }], "E": [], "M": { "5": { "x": "y" } } }),
        &json!({ "ID": "2", "N": 3, "L": [{ "a": 2, "extra": true }], "E": {}, "M": { "9": { "x": "z" } }, "more": 1 }),
        "$",
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    shape_mismatches(
        &json!({ "ID": "1", "L": [{ "a": 1 }] }),
        &json!({ "ID": 1, "L": [] }),
        "$",
        &mut out,
    );
    assert_eq!(
        out,
        vec![
            "$.ID: documented a string, got a number",
            "$.L: documented a non-empty list, got an empty one"
        ]
    );
}
