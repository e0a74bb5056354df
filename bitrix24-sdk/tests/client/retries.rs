//! Retries: what is repeated, what never is, and the limits on repeating.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bitrix24::{Client, ErrorKind, Limits, RetryClass, RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{api_error, builder, client, hook_path, ok};

/// Mounts `first` for the first `times` calls of `name`, then `then`.
async fn failing_then(
    server: &MockServer,
    name: &str,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(method("POST"))
        .and(path(hook_path(name)))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(hook_path(name)))
        .respond_with(then)
        .with_priority(2)
        .mount(server)
        .await;
}

#[tokio::test]
async fn query_limit_exceeded_is_retried_for_any_method() {
    let server = MockServer::start().await;
    failing_then(
        &server,
        "crm.lead.add",
        api_error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
        2,
        ok(json!(77)),
    )
    .await;
    let client = client(&server);
    let id: u64 = client
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "x" } }))
        .await
        .unwrap();
    assert_eq!(id, 77);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    let metrics = client.metrics();
    assert_eq!((metrics.rate_limited, metrics.retries), (2, 2));
}

#[tokio::test]
async fn a_create_is_never_repeated_after_a_server_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.add")))
        .respond_with(api_error(
            500,
            "INTERNAL_SERVER_ERROR",
            "Internal server error",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server)
        .call_raw::<u64>("crm.lead.add", json!({}))
        .await
        .unwrap_err();
    assert!(
        error.is_outcome_unknown(),
        "the caller must be told the lead may exist"
    );
    assert_eq!(error.attempts(), 1);
}

#[tokio::test]
async fn a_read_is_repeated_after_a_server_error() {
    let server = MockServer::start().await;
    failing_then(
        &server,
        "crm.lead.get",
        api_error(500, "INTERNAL_SERVER_ERROR", ""),
        1,
        ok(json!({ "ID": "1" })),
    )
    .await;
    let lead: Value = client(&server)
        .call_raw("crm.lead.get", json!({ "id": 1 }))
        .idempotent(true)
        .await
        .unwrap();
    assert_eq!(lead["ID"], "1");
}

#[tokio::test]
async fn a_create_is_never_repeated_after_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.add")))
        .respond_with(ok(json!(1)).set_delay(Duration::from_millis(500)))
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server)
        .call_raw::<u64>("crm.lead.add", json!({}))
        .timeout(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        error.is_timeout() && error.is_outcome_unknown(),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_read_is_repeated_after_a_timeout() {
    let server = MockServer::start().await;
    failing_then(
        &server,
        "crm.lead.get",
        ok(json!({})).set_delay(Duration::from_millis(500)),
        1,
        ok(json!({ "ID": "3" })),
    )
    .await;
    let lead: Value = client(&server)
        .call_raw("crm.lead.get", json!({ "id": 3 }))
        .idempotent(true)
        .timeout(Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(lead["ID"], "3");
}

#[tokio::test]
async fn nothing_sent_is_always_retried_up_to_the_attempt_limit() {
    // A port that was just free: connecting is refused, so nothing reaches any server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let attempts = Arc::new(AtomicU32::new(0));
    let seen = attempts.clone();
    let client = Client::builder()
        .webhook(format!("http://127.0.0.1:{port}/rest/1/abcdef/"))
        .limits(Limits::unlimited())
        .retry_policy(
            RetryPolicy::standard()
                .with_max_attempts(3)
                .with_backoff(Duration::ZERO, Duration::ZERO),
        )
        .on_retry(move |event| {
            assert_eq!(event.class, RetryClass::BeforeSend);
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let error = client
        .call_raw::<u64>("crm.lead.add", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport);
    assert!(
        !error.is_outcome_unknown(),
        "a refused connection sent nothing"
    );
    assert_eq!(error.attempts(), 3);
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        2,
        "two retries after the first attempt"
    );
}

#[tokio::test]
async fn per_call_policy_overrides_the_client() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.list")))
        .respond_with(api_error(503, "QUERY_LIMIT_EXCEEDED", ""))
        .expect(1)
        .mount(&server)
        .await;
    let error = builder(&server)
        .build()
        .unwrap()
        .call_raw::<Value>("crm.lead.list", ())
        .retry_policy(RetryPolicy::none())
        .await
        .unwrap_err();
    assert!(error.is_rate_limited());
}

#[tokio::test]
async fn fatal_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.get")))
        .respond_with(api_error(401, "NO_AUTH_FOUND", "Wrong authorization data"))
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server)
        .call_raw::<Value>("crm.lead.get", json!({ "id": 1 }))
        .idempotent(true)
        .await
        .unwrap_err();
    assert!(error.is_auth() && !error.is_retryable());
}
