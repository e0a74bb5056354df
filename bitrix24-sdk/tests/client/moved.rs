//! A portal that changed its address answers 302: the call is POSTed again to the new one.

use std::sync::{Arc, Mutex};

use bitrix24::{Client, ErrorKind, Limits};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{SECRET, builder, hook_path, ok};

async fn moved_to(old: &MockServer, location: &str) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", location))
        .mount(old)
        .await;
}

#[tokio::test]
async fn a_302_is_followed_by_a_new_post_and_remembered() {
    let old = MockServer::start().await;
    let new = MockServer::start().await;
    moved_to(&old, &format!("{}/rest/1/{SECRET}/crm.lead.add", new.uri())).await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.add")))
        .and(body_json(json!({ "fields": { "TITLE": "moved" } })))
        .respond_with(ok(json!(15)))
        .expect(2)
        .mount(&new)
        .await;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = seen.clone();
    let client = builder(&old)
        .on_portal_moved(move |portal| hook_seen.lock().unwrap().push(portal.to_string()))
        .build()
        .unwrap();
    let id: u64 = client
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "moved" } }))
        .await
        .unwrap();
    assert_eq!(id, 15);
    assert_eq!(client.portal().to_string(), new.uri());
    assert_eq!(*seen.lock().unwrap(), vec![new.uri()]);

    // The next call goes straight to the new address.
    let _: u64 = client
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "moved" } }))
        .await
        .unwrap();
    assert_eq!(old.received_requests().await.unwrap().len(), 1);
    assert_eq!(client.metrics().portal_moves, 1);
}

#[tokio::test]
async fn a_move_to_plain_http_elsewhere_is_refused() {
    let old = MockServer::start().await;
    moved_to(&old, "http://example.com/rest/1/whatever/crm.lead.add").await;
    let error = builder(&old)
        .build()
        .unwrap()
        .call_raw::<Value>("crm.lead.add", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(!error.to_string().contains(SECRET));
}

#[tokio::test]
async fn redirect_loops_end() {
    let old = MockServer::start().await;
    moved_to(&old, &format!("{}/rest/1/{SECRET}/x", old.uri())).await;
    let client = builder(&old).build().unwrap();
    // Moving to the same origin changes nothing, so the call keeps being redirected.
    let error = client
        .call_raw::<Value>("crm.lead.add", json!({}))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("redirected too many times"),
        "{error}"
    );
}

#[tokio::test]
async fn a_caller_client_that_follows_redirects_is_detected() {
    let old = MockServer::start().await;
    let new = MockServer::start().await;
    moved_to(&old, &format!("{}/rest/1/{SECRET}/crm.lead.add", new.uri())).await;
    // reqwest turns the POST into a GET on 302; the portal would see no parameters.
    Mock::given(method("GET"))
        .respond_with(ok(json!("lost body")))
        .mount(&new)
        .await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.add")))
        .and(body_json(json!({ "fields": { "TITLE": "kept" } })))
        .respond_with(ok(json!(16)))
        .expect(1)
        .mount(&new)
        .await;
    let client = Client::builder()
        .webhook(format!("{}/rest/1/{SECRET}/", old.uri()))
        .limits(Limits::unlimited())
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    let id: u64 = client
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "kept" } }))
        .await
        .unwrap();
    assert_eq!(id, 16);
}
