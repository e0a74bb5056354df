//! Replays the recorded fixtures (`fixtures/`, recorded from the sandbox by
//! `examples/examples/record_fixtures.rs`) and pins what the typed calls produce with insta:
//!
//! - every step of the script must send exactly the request body recorded for it (after the
//!   same scrubbing), or the mock portal does not answer and the test fails;
//! - every recorded fixture must be replayed;
//! - the decoded typed outputs are snapshots (`tests/snapshots/`).
#![allow(clippy::unwrap_used)]

#[path = "replay/script.rs"]
mod script;

use std::path::{Path, PathBuf};

use bitrix24::auth::MemoryTokenStore;
use bitrix24::{Client, Limits, OAuthApp, RetryPolicy, TokenSet};
use serde_json::Value;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

struct Fixture {
    file: PathBuf,
    method: String,
    request: Value,
    status: u16,
    response: Value,
}

fn load(dir: &Path, into: &mut Vec<Fixture>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            load(&path, into);
        } else if path.extension().is_some_and(|e| e == "json") {
            let value: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            into.push(Fixture {
                file: path,
                method: value["method"].as_str().unwrap().to_owned(),
                request: value["request"].clone(),
                status: u16::try_from(value["status"].as_u64().unwrap()).unwrap(),
                response: value["response"].clone(),
            });
        }
    }
}

/// Matches a call of `method` whose scrubbed body is the recorded one.
struct Recorded {
    method: String,
    body: Value,
}

impl wiremock::Match for Recorded {
    fn matches(&self, request: &Request) -> bool {
        if !request.url.path().ends_with(&format!("/{}", self.method)) {
            return false;
        }
        let Ok(mut body) = serde_json::from_slice::<Value>(&request.body) else {
            return false;
        };
        if let Value::Object(map) = &mut body {
            map.remove("auth");
        }
        bitrix24::record::scrub(&mut body);
        body == self.body
    }
}

#[tokio::test]
async fn typed_calls_replay_the_recorded_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut fixtures = Vec::new();
    load(&dir, &mut fixtures);
    assert!(
        fixtures.len() >= 30,
        "the recorded fixtures are missing: run the record_fixtures example"
    );

    let server = MockServer::start().await;
    for fixture in &fixtures {
        Mock::given(Recorded {
            method: fixture.method.clone(),
            body: fixture.request.clone(),
        })
        .respond_with(ResponseTemplate::new(fixture.status).set_body_json(&fixture.response))
        .named(fixture.file.display().to_string())
        .expect(1..)
        .mount(&server)
        .await;
    }
    let webhook = Client::builder()
        .webhook(format!("{}/rest/1/replay/", server.uri()))
        .limits(Limits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let tokens = TokenSet::new("replay-access", "replay-refresh")
        .with_client_endpoint(url::Url::parse(&format!("{}/rest/", server.uri())).unwrap());
    let app = Client::builder()
        .oauth(
            OAuthApp::new("replay.app", "replay-secret"),
            tokens,
            MemoryTokenStore::new(),
        )
        .limits(Limits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();

    let outcomes = script::run(&webhook, &app)
        .await
        .unwrap_or_else(|error| panic!("a typed call sent a request no fixture records ({error}); re-record with the record_fixtures example if the change is intended"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/replay");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for outcome in &outcomes {
            insta::assert_snapshot!(outcome.label, outcome.rendered);
        }
    });
    eprintln!(
        "replay: {} fixtures, {} typed steps snapshotted",
        fixtures.len(),
        outcomes.len()
    );
    // `.expect(1..)` on every fixture is checked when the server drops.
}
