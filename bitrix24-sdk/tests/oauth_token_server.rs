//! `OAuthApp` against a mock token server.

// The helpers below are not `#[test]`s, but a panic in them is a test failure all the same.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitrix24::ErrorCode;
use bitrix24::auth::{OAuthApp, RefreshToken};
use url::Url;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_SECRET: &str = "client-s3cret-value";
const REFRESH_TOKEN: &str = "refresh-s3cret-value";

fn fixture(name: &str) -> Option<serde_json::Value> {
    let dir = std::env::var_os("BITRIX24_DOCS_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures-docs"),
        PathBuf::from,
    );
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap()),
        Err(error) => {
            println!(
                "skipped: fixture {} is not available ({error})",
                path.display()
            );
            None
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn app(server: &MockServer) -> OAuthApp {
    let token_url = Url::parse(&format!("{}/oauth/token/", server.uri())).unwrap();
    OAuthApp::new("app.test", CLIENT_SECRET).with_token_url(token_url)
}

fn assert_no_secrets(error: &bitrix24::Error, server: &MockServer) {
    for text in [error.to_string(), format!("{error:?}")] {
        for secret in [
            CLIENT_SECRET,
            REFRESH_TOKEN,
            "client_secret",
            "grant_type",
            "the-code",
        ] {
            assert!(!text.contains(secret), "{secret:?} leaked into {text:?}");
        }
        assert!(
            !text.contains(&server.uri()),
            "server URL leaked into {text:?}"
        );
    }
}

#[tokio::test]
async fn exchange_code_sends_a_get_with_the_grant() {
    let Some(reply) = fixture("oauth.token.authorization_code.json") else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/"))
        .and(header("accept", "application/json"))
        .and(query_param("grant_type", "authorization_code"))
        .and(query_param("client_id", "app.test"))
        .and(query_param("client_secret", CLIENT_SECRET))
        .and(query_param("code", "the-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .expect(1)
        .mount(&server)
        .await;

    let before = SystemTime::now();
    let tokens = app(&server)
        .exchange_code(&http(), "the-code")
        .await
        .unwrap();
    assert_eq!(
        tokens.access_token.expose_secret(),
        "s1morf609228iwyjjpvfv6wsvuja4p8u"
    );
    assert_eq!(
        tokens.refresh_token.expose_secret(),
        "4f9k4jpmg13usmybzuqknt2v9fh0q6rl"
    );
    assert_eq!(tokens.scope, ["crm", "entity", "im", "task"]);
    let expires_at = tokens.expires_at.unwrap();
    assert!(expires_at > before + Duration::from_secs(3590));
    assert!(expires_at <= SystemTime::now() + Duration::from_secs(3600));
}

#[tokio::test]
async fn refresh_sends_a_get_with_the_refresh_token() {
    let Some(reply) = fixture("oauth.token.refresh_token.json") else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/"))
        .and(query_param("grant_type", "refresh_token"))
        .and(query_param("client_id", "app.test"))
        .and(query_param("client_secret", CLIENT_SECRET))
        .and(query_param("refresh_token", REFRESH_TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .expect(1)
        .mount(&server)
        .await;

    let tokens = app(&server)
        .refresh(&http(), &RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap();
    assert_eq!(
        tokens.refresh_token.expose_secret(),
        "3s6lr4kr3cv2od4v853gvrchb875bwxb"
    );
    assert_eq!(
        tokens.expires_at,
        Some(UNIX_EPOCH + Duration::from_secs(1_780_319_382))
    );
    assert_eq!(tokens.user_id, Some(67));
    assert_eq!(
        tokens.member_id.as_deref(),
        Some("a223c6b3710f85df22e9377d6c4f7553")
    );
}

#[tokio::test]
async fn invalid_grant_is_an_auth_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant",
            "error_description": "Invalid grant",
        })))
        .mount(&server)
        .await;

    let error = app(&server)
        .refresh(&http(), &RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert!(error.is_auth());
    assert!(!error.is_retryable());
    assert_eq!(error.api().unwrap().code, ErrorCode::InvalidGrant);
    assert_eq!(error.api().unwrap().http_status, 400);
    assert_no_secrets(&error, &server);
}

#[tokio::test]
async fn documented_error_reply_is_an_auth_error() {
    let Some(reply) = fixture("oauth.token.error.json") else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(&server)
        .await;

    let error = app(&server)
        .exchange_code(&http(), "the-code")
        .await
        .unwrap_err();
    assert!(error.is_auth());
    assert_eq!(error.api().unwrap().code, ErrorCode::PaymentRequired);
    assert_no_secrets(&error, &server);
}

#[tokio::test]
async fn bad_gateway_without_json_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .mount(&server)
        .await;

    let error = app(&server)
        .refresh(&http(), &RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert!(!error.is_auth());
    assert_eq!(error.http_status(), Some(502));
    assert_no_secrets(&error, &server);
}

#[tokio::test]
async fn unreachable_server_is_a_retryable_transport_error() {
    // A port that was free a moment ago; wiremock keeps dropped servers listening in a pool.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token_url = Url::parse(&format!("http://127.0.0.1:{port}/oauth/token/")).unwrap();
    let app = OAuthApp::new("app.test", CLIENT_SECRET).with_token_url(token_url);

    let error = app
        .refresh(&http(), &RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert!(error.is_transport() && error.is_retryable(), "{error:?}");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(
            !text.contains(CLIENT_SECRET) && !text.contains(REFRESH_TOKEN),
            "{text}"
        );
        assert!(!text.contains("client_secret"), "{text}");
    }
}

#[tokio::test]
async fn success_reply_that_is_not_json_is_a_decode_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>hello</html>"))
        .mount(&server)
        .await;

    let error = app(&server)
        .exchange_code(&http(), "the-code")
        .await
        .unwrap_err();
    assert!(error.is_decode(), "{error:?}");
    assert_no_secrets(&error, &server);
}
