//! Shared helpers: a wiremock portal speaking the Bitrix24 envelope.

use std::time::Duration;

use bitrix24::{Client, ClientBuilder, Limits, RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The webhook secret every test client uses; redaction tests search for it.
pub(crate) const SECRET: &str = "hooksecret4242xyz";

/// The path a webhook call of `name` is POSTed to.
pub(crate) fn hook_path(name: &str) -> String {
    format!("/rest/1/{SECRET}/{name}")
}

/// A webhook URL on the mock server.
pub(crate) fn hook_url(server: &MockServer) -> String {
    format!("{}/rest/1/{SECRET}/", server.uri())
}

/// A builder for a webhook client on `server`, unlimited, with fast retries.
pub(crate) fn builder(server: &MockServer) -> ClientBuilder {
    Client::builder()
        .webhook(hook_url(server))
        .limits(Limits::unlimited())
        .retry_policy(fast_retries())
}

/// Retries with millisecond backoff, so tests on real time stay quick.
pub(crate) fn fast_retries() -> RetryPolicy {
    RetryPolicy::standard()
        .with_max_attempts(4)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
}

pub(crate) fn client(server: &MockServer) -> Client {
    builder(server).build().unwrap()
}

/// A realistic `time` object.
pub(crate) fn time() -> Value {
    json!({
        "start": 1_724_068_028.331_234,
        "finish": 1_724_068_028.726_591,
        "duration": 0.395,
        "processing": 0.35,
        "date_start": "2024-08-19T14:47:08+03:00",
        "date_finish": "2024-08-19T14:47:08+03:00",
        "operating": 0.1,
        "operating_reset_at": 1_724_068_628
    })
}

/// A success reply.
pub(crate) fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "result": result, "time": time() }))
}

/// An error reply.
pub(crate) fn api_error(status: u16, code: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({ "error": code, "error_description": description }))
}

/// Mounts a reply for webhook method `name`.
pub(crate) async fn on(server: &MockServer, name: &str, reply: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(hook_path(name)))
        .respond_with(reply)
        .mount(server)
        .await;
}
