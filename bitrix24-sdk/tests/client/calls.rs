//! Request shape, envelope decoding and error mapping for single calls.

use bitrix24::{ErrorCode, ErrorKind, Method};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{api_error, client, hook_path, ok, on, time};

#[derive(Serialize)]
struct GetLead {
    id: u64,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Lead {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "TITLE")]
    title: String,
}

impl Method for GetLead {
    const NAME: &'static str = "crm.lead.get";
    const IDEMPOTENT: bool = true;
    type Output = Lead;
}

#[tokio::test]
async fn typed_call_posts_json_to_the_webhook_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hook_path("crm.lead.get")))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(body_json(json!({ "id": 42 })))
        .respond_with(ok(json!({ "ID": "42", "TITLE": "Test lead" })))
        .expect(1)
        .mount(&server)
        .await;

    let lead = client(&server).call(GetLead { id: 42 }).await.unwrap();
    assert_eq!(
        lead,
        Lead {
            id: "42".into(),
            title: "Test lead".into()
        }
    );

    let request = &server.received_requests().await.unwrap()[0];
    let agent = request.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(agent.starts_with("bitrix24-rs/"), "{agent}");
}

#[tokio::test]
async fn send_with_meta_exposes_total_next_and_time() {
    let server = MockServer::start().await;
    let body = json!({
        "result": [{ "ID": "1" }, { "ID": "2" }],
        "total": 120,
        "next": 50,
        "time": time(),
    });
    on(
        &server,
        "crm.lead.list",
        ResponseTemplate::new(200).set_body_json(body),
    )
    .await;

    let response = client(&server)
        .call_raw::<Vec<Value>>("crm.lead.list", json!({ "select": ["ID"] }))
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(response.result.len(), 2);
    assert_eq!((response.total, response.next), (Some(120), Some(50)));
    let time = response.time.unwrap();
    assert_eq!(time.operating, Some(0.1));
    assert_eq!(time.operating_reset_at, Some(1_724_068_628));
    assert_eq!(
        time.date_start.as_deref(),
        Some("2024-08-19T14:47:08+03:00")
    );
}

#[tokio::test]
async fn unit_parameters_send_an_empty_object() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hook_path("user.current")))
        .and(body_json(json!({})))
        .respond_with(ok(json!({ "ID": "1" })))
        .expect(1)
        .mount(&server)
        .await;
    let me: Value = client(&server).call_raw("user.current", ()).await.unwrap();
    assert_eq!(me["ID"], "1");
}

#[tokio::test]
async fn old_crm_error_with_empty_code_is_not_found() {
    let server = MockServer::start().await;
    on(&server, "crm.lead.get", api_error(400, "", "Not found")).await;

    let error = client(&server).call(GetLead { id: 9 }).await.unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(error.kind(), ErrorKind::Api);
    let api = error.api().unwrap();
    assert_eq!((api.code.clone(), api.http_status), (ErrorCode::Empty, 400));
    assert_eq!(error.method(), Some("crm.lead.get"));
    assert_eq!(error.attempts(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn documented_errors_keep_code_status_and_description() {
    let server = MockServer::start().await;
    on(
        &server,
        "crm.lead.get",
        api_error(
            403,
            "insufficient_scope",
            "The request requires higher privileges",
        ),
    )
    .await;
    let error = client(&server).call(GetLead { id: 1 }).await.unwrap_err();
    assert!(error.is_auth());
    assert_eq!(error.code(), Some(&ErrorCode::InsufficientScope));
    assert_eq!(error.http_status(), Some(403));
    assert!(
        error
            .to_string()
            .contains("The request requires higher privileges"),
        "{error}"
    );
}

#[tokio::test]
async fn decode_errors_name_the_json_path() {
    let server = MockServer::start().await;
    on(&server, "crm.lead.get", ok(json!({ "ID": "5" }))).await;
    let error = client(&server).call(GetLead { id: 5 }).await.unwrap_err();
    assert!(error.is_decode());
    assert!(error.to_string().contains("TITLE"), "{error}");
    assert_eq!(
        error.attempts(),
        1,
        "a decode error means the call ran: never repeat it"
    );
}

#[tokio::test]
async fn html_error_pages_become_api_errors_without_the_body() {
    let server = MockServer::start().await;
    on(
        &server,
        "crm.lead.get",
        ResponseTemplate::new(404).set_body_string("<html>nginx 404 secret-page</html>"),
    )
    .await;
    let error = client(&server).call(GetLead { id: 5 }).await.unwrap_err();
    assert_eq!(error.http_status(), Some(404));
    assert!(!error.to_string().contains("secret-page"), "{error}");
}

#[tokio::test]
async fn bad_method_names_are_refused_before_sending() {
    let server = MockServer::start().await;
    let client = client(&server);
    for name in ["../2/other/crm.lead.add", "crm.lead.add?x=1", ""] {
        let error = client.call_raw::<Value>(name, ()).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{name}");
    }
    let error = client
        .call_raw::<Value>("crm.lead.add", [1, 2, 3])
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_callers_auth_parameter_is_dropped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(hook_path("profile")))
        .and(body_json(json!({ "x": 1 })))
        .respond_with(ok(json!({ "ID": "1" })))
        .expect(1)
        .mount(&server)
        .await;
    let _: Value = client(&server)
        .call_raw("profile", json!({ "auth": "placeholder", "x": 1 }))
        .await
        .unwrap();
}

#[tokio::test]
async fn metrics_count_requests() {
    let server = MockServer::start().await;
    on(&server, "profile", ok(json!({ "ID": "1" }))).await;
    let client = client(&server);
    for _ in 0..3 {
        let _: Value = client.call_raw("profile", ()).await.unwrap();
    }
    let metrics = client.clone().metrics();
    assert_eq!((metrics.requests, metrics.retries), (3, 0));
}
