//! Secrets never show up: not in `Debug` of the client, not in errors, not in the logs.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitrix24::auth::MemoryTokenStore;
use bitrix24::{Client, Error, Limits, OAuthApp, TokenSet};
use serde_json::{Value, json};
use tracing_subscriber::fmt::MakeWriter;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{SECRET, api_error, builder, hook_path, ok, on};

const ACCESS: &str = "access-tok-777";
const REFRESH: &str = "refresh-tok-888";
const CLIENT_SECRET: &str = "client-sec-999";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Lead {
    #[serde(rename = "ID")]
    id: u64,
}

/// Every `Display` and `Debug` along an error's source chain.
fn describe(error: &Error) -> String {
    let mut text = format!("{error}\n{error:?}\n");
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        writeln!(text, "{inner}\n{inner:?}").unwrap();
        source = inner.source();
    }
    text
}

fn assert_clean(text: &str) {
    for secret in [SECRET, ACCESS, REFRESH, CLIENT_SECRET] {
        assert!(!text.contains(secret), "a secret leaked into:\n{text}");
    }
}

/// One failure of each kind: decode, 5xx, 503, slow reply, expired token, refused refresh.
async fn mount_failures(server: &MockServer) {
    on(server, "crm.lead.get", ok(json!({ "ID": "not a number" }))).await;
    on(
        server,
        "crm.lead.add",
        api_error(500, "INTERNAL_SERVER_ERROR", "Internal server error"),
    )
    .await;
    on(
        server,
        "crm.lead.list",
        api_error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.deal.get")))
        .respond_with(ok(json!({})).set_delay(Duration::from_millis(300)))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/user.current"))
        .respond_with(api_error(401, "expired_token", "expired"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "error": "invalid_grant" })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn no_secret_in_debug_errors_or_logs() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    mount_failures(&server).await;

    let webhook = builder(&server).build().unwrap();
    let oauth = Client::builder()
        .oauth(
            OAuthApp::new("app.1", CLIENT_SECRET)
                .with_token_url(Url::parse(&format!("{}/oauth/token/", server.uri())).unwrap()),
            TokenSet::new(ACCESS, REFRESH)
                .with_client_endpoint(Url::parse(&format!("{}/rest/", server.uri())).unwrap()),
            MemoryTokenStore::new(),
        )
        .limits(Limits::unlimited())
        .build()
        .unwrap();
    let unreachable = Client::builder()
        .webhook(format!("http://127.0.0.1:1/rest/1/{SECRET}/"))
        .retry_policy(bitrix24::RetryPolicy::none())
        .build()
        .unwrap();

    let errors: Vec<Error> = vec![
        webhook
            .call_raw::<Lead>("crm.lead.get", json!({ "id": 1 }))
            .await
            .unwrap_err(),
        webhook
            .call_raw::<Value>("crm.lead.add", json!({ "fields": { "PHONE": "+7999" } }))
            .await
            .unwrap_err(),
        webhook
            .call_raw::<Value>("crm.lead.list", ())
            .await
            .unwrap_err(),
        webhook
            .call_raw::<Value>("crm.deal.get", ())
            .timeout(Duration::from_millis(50))
            .await
            .unwrap_err(),
        oauth
            .call_raw::<Value>("user.current", ())
            .await
            .unwrap_err(),
        unreachable
            .call_raw::<Value>("profile", ())
            .await
            .unwrap_err(),
        Client::from_webhook(format!("http://example.com/rest/1/{SECRET}/")).unwrap_err(),
        Client::from_webhook(format!("https://example.com/rest/x/{SECRET}/")).unwrap_err(),
    ];

    let mut text = format!(
        "{webhook:?}\n{oauth:?}\n{unreachable:?}\n{:?}\n",
        oauth.tokens().unwrap()
    );
    for error in &errors {
        text.push_str(&describe(error));
    }
    assert_clean(&text);

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("bitrix24.call"),
        "spans were captured:\n{logs}"
    );
    assert!(logs.contains("retrying"), "retries were logged:\n{logs}");
    assert_clean(&logs);
}
