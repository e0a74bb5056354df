//! OAuth: the single-flight refresh on `expired_token`, saving before use, permanent failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bitrix24::auth::{MemoryTokenStore, TokenStore};
use bitrix24::error::BoxError;
use bitrix24::{Client, ErrorCode, ErrorKind, Limits, OAuthApp, TokenSet};
use futures::future::join_all;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{api_error, fast_retries, ok};

const OLD_ACCESS: &str = "old-access-token-111";
const OLD_REFRESH: &str = "old-refresh-token-222";
const NEW_ACCESS: &str = "new-access-token-333";
const NEW_REFRESH: &str = "new-refresh-token-444";
const CLIENT_SECRET: &str = "client-secret-555";

fn app(server: &MockServer) -> OAuthApp {
    OAuthApp::new("app.test", CLIENT_SECRET)
        .with_token_url(Url::parse(&format!("{}/oauth/token/", server.uri())).unwrap())
}

fn tokens(server: &MockServer) -> TokenSet {
    TokenSet::new(OLD_ACCESS, OLD_REFRESH)
        .with_client_endpoint(Url::parse(&format!("{}/rest/", server.uri())).unwrap())
        .with_member_id("member-1")
}

fn token_reply(server: &MockServer) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": NEW_ACCESS,
        "refresh_token": NEW_REFRESH,
        "expires": 4_102_444_800_u64,
        "expires_in": 3600,
        "client_endpoint": format!("{}/rest/", server.uri()),
        "server_endpoint": "https://oauth.bitrix24.tech/rest/",
        "member_id": "member-1",
        "domain": "oauth.bitrix24.tech",
        "scope": "crm,user",
        "status": "L",
        "user_id": 1
    }))
}

async fn mount_token_server(server: &MockServer, reply: ResponseTemplate, expected: u64) {
    Mock::given(method("GET"))
        .and(path("/oauth/token/"))
        .and(query_param("grant_type", "refresh_token"))
        .and(query_param("client_id", "app.test"))
        .and(query_param("client_secret", CLIENT_SECRET))
        .and(query_param("refresh_token", OLD_REFRESH))
        .respond_with(reply)
        .expect(expected)
        .mount(server)
        .await;
}

/// The portal: the old token has expired, the new one works but only once it has been saved.
struct Portal {
    saved: Arc<AtomicBool>,
    old_token_seen: Arc<AtomicU32>,
}

impl Respond for Portal {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        if request.url.query().is_some_and(|q| q.contains("auth")) {
            return api_error(400, "AUTH_IN_QUERY", "the token must travel in the body");
        }
        match body["auth"].as_str() {
            Some(OLD_ACCESS) => {
                self.old_token_seen.fetch_add(1, Ordering::SeqCst);
                api_error(
                    401,
                    "expired_token",
                    "The access token provided has expired.",
                )
            }
            Some(NEW_ACCESS) if self.saved.load(Ordering::SeqCst) => {
                ok(json!({ "ID": body["id"] }))
            }
            Some(NEW_ACCESS) => api_error(
                400,
                "USED_BEFORE_SAVED",
                "the new token was used before it was saved",
            ),
            _ => api_error(401, "NO_AUTH_FOUND", "Wrong authorization data"),
        }
    }
}

/// A store that takes a while to save and says when it has.
#[derive(Debug, Default)]
struct SlowStore {
    saved: Arc<AtomicBool>,
    inner: MemoryTokenStore,
}

#[async_trait]
impl TokenStore for SlowStore {
    async fn load(&self) -> Result<Option<TokenSet>, BoxError> {
        self.inner.load().await
    }

    async fn save(&self, tokens: &TokenSet) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.inner.save(tokens).await?;
        self.saved.store(true, Ordering::SeqCst);
        Ok(())
    }
}

async fn mount_portal(server: &MockServer, saved: Arc<AtomicBool>) -> Arc<AtomicU32> {
    let old_token_seen = Arc::new(AtomicU32::new(0));
    Mock::given(method("POST"))
        .and(path("/rest/crm.lead.get"))
        .respond_with(Portal {
            saved,
            old_token_seen: old_token_seen.clone(),
        })
        .mount(server)
        .await;
    old_token_seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_calls_share_one_refresh() {
    let server = MockServer::start().await;
    mount_token_server(&server, token_reply(&server), 1).await;
    let store = SlowStore::default();
    let saved = store.saved.clone();
    let memory = store.inner.clone();
    let old_token_seen = mount_portal(&server, saved).await;

    let client = Client::builder()
        .oauth(app(&server), tokens(&server), store)
        .limits(Limits::unlimited())
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let calls = (0..100).map(|id| {
        let client = client.clone();
        async move {
            client
                .call_raw::<Value>("crm.lead.get", json!({ "id": id }))
                .idempotent(true)
                .await
        }
    });
    let results = join_all(calls).await;

    for (id, result) in results.into_iter().enumerate() {
        let lead = result.unwrap_or_else(|e| panic!("call {id}: {e:?}"));
        assert_eq!(lead["ID"], id);
    }
    assert_eq!(client.metrics().token_refreshes, 1);
    assert!(old_token_seen.load(Ordering::SeqCst) >= 1);
    assert_eq!(memory.saves(), 1, "saved exactly once");
    assert_eq!(
        memory.current().unwrap().refresh_token.expose_secret(),
        NEW_REFRESH
    );
    let current = client.tokens().unwrap();
    assert_eq!(current.access_token.expose_secret(), NEW_ACCESS);
    assert_eq!(current.member_id.as_deref(), Some("member-1"));
    // `.expect(1)` on the token server is verified when the server drops.
}

#[tokio::test]
async fn a_create_is_retried_after_refresh_because_it_never_ran() {
    let server = MockServer::start().await;
    mount_token_server(&server, token_reply(&server), 1).await;
    let saved = Arc::new(AtomicBool::new(true));
    Mock::given(method("POST"))
        .and(path("/rest/crm.lead.get"))
        .respond_with(Portal {
            saved,
            old_token_seen: Arc::default(),
        })
        .mount(&server)
        .await;
    let client = Client::builder()
        .oauth(app(&server), tokens(&server), MemoryTokenStore::new())
        .limits(Limits::unlimited())
        .build()
        .unwrap();
    // Not marked idempotent: the refresh retry is still allowed.
    let lead: Value = client
        .call_raw("crm.lead.get", json!({ "id": 5 }))
        .await
        .unwrap();
    assert_eq!(lead["ID"], 5);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_the_call() {
    let server = MockServer::start().await;
    mount_token_server(&server, token_reply(&server), 1).await;
    let old_token_seen = mount_portal(&server, Arc::new(AtomicBool::new(true))).await;
    let expired = tokens(&server).with_expires_at(SystemTime::now() - Duration::from_secs(5));
    let client = Client::builder()
        .oauth(app(&server), expired, MemoryTokenStore::new())
        .limits(Limits::unlimited())
        .build()
        .unwrap();
    let lead: Value = client
        .call_raw("crm.lead.get", json!({ "id": 1 }))
        .await
        .unwrap();
    assert_eq!(lead["ID"], 1);
    assert_eq!(
        old_token_seen.load(Ordering::SeqCst),
        0,
        "the expired token was never sent"
    );
}

#[tokio::test]
async fn a_refused_refresh_token_is_a_permanent_auth_error() {
    let server = MockServer::start().await;
    let refused = ResponseTemplate::new(400)
        .set_body_json(json!({ "error": "invalid_grant", "error_description": "Invalid grant" }));
    mount_token_server(&server, refused, 1).await;
    let _ = mount_portal(&server, Arc::new(AtomicBool::new(true))).await;
    let client = Client::builder()
        .oauth(app(&server), tokens(&server), MemoryTokenStore::new())
        .limits(Limits::unlimited())
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let error = client
        .call_raw::<Value>("crm.lead.get", json!({ "id": 1 }))
        .idempotent(true)
        .await
        .unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    assert_eq!(error.code(), Some(&ErrorCode::InvalidGrant));
    assert_eq!(error.method(), Some("crm.lead.get"));
}

#[derive(Debug, Default)]
struct BrokenStore;

#[async_trait]
impl TokenStore for BrokenStore {
    async fn load(&self) -> Result<Option<TokenSet>, BoxError> {
        Ok(None)
    }

    async fn save(&self, _: &TokenSet) -> Result<(), BoxError> {
        Err("disk full".into())
    }
}

#[tokio::test]
async fn a_failing_store_is_reported_and_the_new_pair_kept_in_memory() {
    let server = MockServer::start().await;
    mount_token_server(&server, token_reply(&server), 1).await;
    let _ = mount_portal(&server, Arc::new(AtomicBool::new(true))).await;
    let client = Client::builder()
        .oauth(app(&server), tokens(&server), BrokenStore)
        .limits(Limits::unlimited())
        .build()
        .unwrap();
    let error = client
        .call_raw::<Value>("crm.lead.get", json!({ "id": 1 }))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TokenStore, "{error:?}");
    // The old refresh token is spent: the next call must use the new pair, not refresh again.
    let lead: Value = client
        .call_raw("crm.lead.get", json!({ "id": 2 }))
        .await
        .unwrap();
    assert_eq!(lead["ID"], 2);
}
