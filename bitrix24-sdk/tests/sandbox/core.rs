//! The sandbox's protocol core: auth, encodings, quirks, limits, batch, OAuth, faults, events.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitrix24::sandbox::{CostModel, Fault, FaultKind, SandboxPortal};
use bitrix24::{Client, ErrorCode, ErrorKind, Limits, RetryPolicy};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::{quick_client, unlimited};

#[tokio::test]
async fn a_wrong_webhook_secret_is_refused() {
    let portal = unlimited().await;
    let wrong = portal.webhook_url().replace("/rest/1/", "/rest/1/x");
    let client = Client::builder()
        .webhook(wrong)
        .limits(Limits::unlimited())
        .build()
        .unwrap();
    let error = client.call_raw::<Value>("profile", ()).await.unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::NoAuthFound));
    assert_eq!(error.http_status(), Some(401));
}

#[tokio::test]
async fn unknown_methods_are_404() {
    let portal = unlimited().await;
    let error = quick_client(&portal)
        .call_raw::<Value>("crm.nothing.here", ())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::MethodNotFound));
    assert_eq!(error.http_status(), Some(404));
}

#[tokio::test]
async fn json_form_and_query_requests_mean_the_same() {
    let portal = unlimited().await;
    let http = reqwest::Client::new();
    let url = format!("{}crm.lead.add.json", portal.webhook_url());
    let form = "fields%5BTITLE%5D=Form&fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=%2B7999&fields%5BPHONE%5D%5B0%5D%5BVALUE_TYPE%5D=WORK";
    let by_form: Value = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_query: Value = http
        .get(format!("{url}?{form}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_json: Value = http
        .post(&url)
        .json(&json!({ "fields": { "TITLE": "Form", "PHONE": [{ "VALUE": "+7999", "VALUE_TYPE": "WORK" }] } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = quick_client(&portal);
    for reply in [by_form, by_query, by_json] {
        let id = reply["result"].as_u64().unwrap();
        let lead: Value = client
            .call_raw("crm.lead.get", json!({ "id": id }))
            .await
            .unwrap();
        assert_eq!(lead["TITLE"], "Form");
        assert_eq!(lead["PHONE"][0]["VALUE"], "+7999");
        assert_eq!(lead["HAS_PHONE"], "Y");
        assert!(
            reply["time"]["operating"].is_number()
                && reply["time"]["operating_reset_at"].is_number()
        );
    }
}

#[tokio::test]
async fn old_crm_quirks_are_kept() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let error = client
        .call_raw::<Value>("crm.lead.get", json!({ "id": 999 }))
        .await
        .unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(
        (error.code(), error.http_status()),
        (Some(&ErrorCode::Empty), Some(400))
    );
    let error = client
        .call_raw::<Value>("crm.lead.get", json!({}))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("ID is not defined or invalid"),
        "{error}"
    );
}

#[tokio::test]
async fn lists_page_by_fifty_and_skip_the_count_with_start_minus_one() {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .seed_leads(120)
        .start()
        .await
        .unwrap();
    let client = quick_client(&portal);
    let first = client
        .call_raw::<Vec<Value>>("crm.lead.list", json!({ "select": ["ID", "TITLE"] }))
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(
        (first.result.len(), first.total, first.next),
        (50, Some(120), Some(50))
    );
    assert_eq!(
        first.result[0].as_object().unwrap().len(),
        2,
        "only the selected fields"
    );
    let last = client
        .call_raw::<Vec<Value>>("crm.lead.list", json!({ "start": 100 }))
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!((last.result.len(), last.next), (20, None));
    let keyset = client
        .call_raw::<Vec<Value>>(
            "crm.lead.list",
            json!({ "order": { "ID": "ASC" }, "filter": { ">ID": 110 }, "start": -1 }),
        )
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(keyset.result.len(), 10);
    assert_eq!(keyset.next, None);
    assert_eq!(keyset.result[0]["ID"], "111");
}

#[tokio::test]
async fn the_bucket_refuses_the_fifty_first_request_of_a_burst() {
    // A drain slow enough that no place frees up while the burst is answered.
    let portal = SandboxPortal::builder()
        .limits(Limits::custom(50, 0.01))
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .webhook(portal.webhook_url())
        .limits(Limits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let calls = (0..55).map(|_| client.call_raw::<Value>("profile", ()).into_future());
    let results = join_all(calls).await;
    let refused = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(bitrix24::Error::is_rate_limited))
        .count();
    assert_eq!(refused, 5, "the bucket holds 50, never more");
    assert_eq!(portal.limiter().refused, 5);
}

#[tokio::test]
async fn the_sdk_limiter_keeps_a_burst_under_the_bucket() {
    let portal = SandboxPortal::builder()
        .limits(Limits::custom(10, 50.0))
        .start()
        .await
        .unwrap();
    let client = portal.client().unwrap();
    let calls = (0..60).map(|_| {
        client
            .call_raw::<Value>("profile", ())
            .idempotent(true)
            .into_future()
    });
    assert!(join_all(calls).await.iter().all(Result::is_ok));
    assert_eq!(portal.limiter().refused, 0);
    assert_eq!(client.metrics().rate_limited, 0);
}

/// Keeps tokio's paused clock still while requests travel over real sockets: a running
/// blocking task stops auto-advance, which would otherwise jump to the next timer (a request
/// timeout) whenever the runtime waits for the network. Time then moves only by `advance`.
struct FrozenClock(Arc<AtomicBool>);

impl FrozenClock {
    fn new() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let running = stop.clone();
        tokio::task::spawn_blocking(move || {
            while !running.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Self(stop)
    }
}

impl Drop for FrozenClock {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn an_operating_limit_blocks_one_method_until_its_window_recovers() {
    let _frozen = FrozenClock::new();
    let cost = CostModel::default().with_per_call(4.0);
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited().with_operating_budget(Some(Duration::from_secs(10))))
        .cost_model(cost)
        .start()
        .await
        .unwrap();
    let client = quick_client(&portal);
    for _ in 0..3 {
        let _: Value = client.call_raw("profile", ()).await.unwrap();
    }
    // 12 s spent > 10 s: the next call of `profile` is refused, other methods are not.
    let error = client.call_raw::<Value>("profile", ()).await.unwrap_err();
    assert!(error.is_operating_limit());
    assert_eq!(error.http_status(), Some(429));
    let _: Value = client.call_raw("department.get", ()).await.unwrap();
    tokio::time::advance(Duration::from_secs(601)).await;
    let _: Value = client.call_raw("profile", ()).await.unwrap();
    assert_eq!(portal.limiter().operating_blocked, 1);
}

#[tokio::test]
async fn counted_offset_pages_cost_more_operating_time_than_keyset_pages() {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .seed_leads(20_000)
        .start()
        .await
        .unwrap();
    let client = quick_client(&portal);
    let offset = client
        .call_raw::<Value>("crm.lead.list", json!({ "start": 19_950 }))
        .send_with_meta()
        .await
        .unwrap();
    let keyset = client
        .call_raw::<Value>(
            "crm.lead.list",
            json!({ "filter": { ">ID": 19_950 }, "order": { "ID": "ASC" }, "start": -1 }),
        )
        .send_with_meta()
        .await
        .unwrap();
    let offset_cost = offset.time.unwrap().processing;
    let keyset_cost = keyset.time.unwrap().processing;
    assert!(
        offset_cost > 50.0 * keyset_cost,
        "offset {offset_cost} s vs keyset {keyset_cost} s"
    );
}

#[tokio::test]
async fn batch_runs_in_order_with_references_and_per_command_results() {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .seed_leads(60)
        .start()
        .await
        .unwrap();
    let client = quick_client(&portal);
    let reply: Value = client
        .call_raw(
            "batch",
            json!({
                "halt": 0,
                "cmd": {
                    "add": "crm.lead.add?fields[TITLE]=Batch%20lead",
                    "get": "crm.lead.get?id=$result[add]",
                    "missing": "crm.lead.get?id=999999",
                    "page": "crm.lead.list?select[]=ID&start=0",
                    "nested": "batch?cmd[0]=profile",
                }
            }),
        )
        .await
        .unwrap();
    assert_eq!(reply["result"]["get"]["TITLE"], "Batch lead");
    assert_eq!(reply["result"]["page"].as_array().unwrap().len(), 50);
    assert_eq!(reply["result_total"]["page"], 61);
    assert_eq!(reply["result_next"]["page"], 50);
    assert_eq!(
        reply["result_error"]["missing"]["error_description"],
        "Not found"
    );
    assert_eq!(
        reply["result_error"]["nested"]["error"],
        "ERROR_BATCH_METHOD_NOT_ALLOWED"
    );
    assert!(reply["result_time"]["get"]["duration"].is_number());
    assert_eq!(portal.requests().last().unwrap().commands, 5);

    let halted: Value = client
        .call_raw(
            "batch",
            json!({ "halt": 1, "cmd": ["crm.lead.get?id=999999", "profile"] }),
        )
        .await
        .unwrap();
    assert_eq!(halted["result"], json!([]), "an empty map is sent as []");
    assert!(halted["result_error"]["0"].is_object());

    // Past 50 commands, each extra one fails on its own, as live portals answer.
    let too_many: Vec<String> = (0..51).map(|_| "profile".to_owned()).collect();
    let reply: Value = client
        .call_raw("batch", json!({ "cmd": too_many }))
        .await
        .unwrap();
    assert_eq!(reply["result"].as_object().unwrap().len(), 50);
    assert_eq!(
        reply["result_error"]["50"]["error"],
        "ERROR_BATCH_LENGTH_EXCEEDED"
    );
}

#[tokio::test]
async fn oauth_tokens_expire_refresh_and_rotate() {
    let portal = unlimited().await;
    let tokens = portal.install_app().unwrap();
    let client = portal
        .oauth_client(tokens.clone(), bitrix24::auth::MemoryTokenStore::new())
        .unwrap();
    let _: Value = client.call_raw("profile", ()).await.unwrap();
    portal.expire_access_tokens();
    let _: Value = client.call_raw("profile", ()).await.unwrap();
    assert_eq!(portal.token_refreshes(), 1);
    assert_eq!(client.metrics().token_refreshes, 1);

    // The original refresh token was used by that refresh: presenting it again is refused.
    let http = reqwest::Client::new();
    let error = portal
        .oauth_app()
        .refresh(&http, &tokens.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::InvalidGrant));
    assert!(error.is_auth());
}

#[tokio::test]
async fn the_authorize_redirect_carries_a_code_that_can_be_exchanged() {
    let redirect = url::Url::parse("https://app.example/callback").unwrap();
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .redirect_uri(redirect)
        .start()
        .await
        .unwrap();
    let app = portal.oauth_app();
    let state = bitrix24::auth::CsrfState::new_random().unwrap();
    let authorize = app
        .authorize_url(portal.base_url().as_str(), &state)
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(authorize).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let callback =
        bitrix24::auth::AuthorizationCallback::from_query(location.query().unwrap()).unwrap();
    callback.verify_state(&state).unwrap();
    assert_eq!(callback.member_id.as_deref(), Some(portal.member_id()));
    let tokens = app.exchange_code(&http, &callback.code).await.unwrap();
    let client = portal
        .oauth_client(tokens, bitrix24::auth::MemoryTokenStore::new())
        .unwrap();
    let me: Value = client.call_raw("profile", ()).await.unwrap();
    assert_eq!(me["ID"], "1");
    // A code works once.
    assert!(
        app.exchange_code(&http, &callback.code)
            .await
            .unwrap_err()
            .is_auth()
    );
}

#[tokio::test]
async fn faults_before_the_write_leave_nothing_behind() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    portal.add_fault(
        Fault::new(FaultKind::Error(500))
            .method("crm.lead.add")
            .times(1),
    );
    let error = client
        .call_raw::<u64>("crm.lead.add", json!({ "fields": { "TITLE": "x" } }))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::InternalServerError));
    portal.add_fault(Fault::new(FaultKind::Drop).method("crm.lead.add").times(1));
    let error = client
        .call_raw::<u64>("crm.lead.add", json!({ "fields": { "TITLE": "x" } }))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert!(portal.crm_rows("lead").is_empty());
}

#[tokio::test]
async fn commit_then_fail_writes_while_the_client_sees_a_failure() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    portal.add_fault(
        Fault::new(FaultKind::CommitThenError(500))
            .method("crm.lead.add")
            .times(1),
    );
    let error = client
        .call_raw::<u64>("crm.lead.add", json!({ "fields": { "TITLE": "a" } }))
        .await
        .unwrap_err();
    assert!(error.is_outcome_unknown());
    portal.add_fault(
        Fault::new(FaultKind::CommitThenDrop)
            .method("crm.lead.add")
            .times(1),
    );
    let error = client
        .call_raw::<u64>("crm.lead.add", json!({ "fields": { "TITLE": "b" } }))
        .await
        .unwrap_err();
    assert!(
        error.is_outcome_unknown() && error.is_transport(),
        "{error:?}"
    );
    let titles: Vec<Value> = portal
        .crm_rows("lead")
        .iter()
        .map(|row| row["TITLE"].clone())
        .collect();
    assert_eq!(titles, vec![json!("a"), json!("b")]);
}

#[tokio::test]
async fn slow_replies_time_out_and_latency_is_added() {
    let portal = unlimited().await;
    portal.add_fault(
        Fault::new(FaultKind::Hang(Duration::from_millis(400)))
            .method("profile")
            .times(1),
    );
    let error = quick_client(&portal)
        .call_raw::<Value>("profile", ())
        .timeout(Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(error.is_timeout());
    portal.add_fault(Fault::new(FaultKind::Latency(Duration::from_millis(60))).times(1));
    let started = std::time::Instant::now();
    let _: Value = quick_client(&portal).call_raw("profile", ()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60));
}

/// A handler that records what the portal POSTs to it.
async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), bodies)
}

#[tokio::test]
async fn outgoing_webhooks_receive_form_posts_with_their_token_and_are_not_retried() {
    let portal = unlimited().await;
    let (url, bodies) = receiver(500).await;
    let token = portal.add_outgoing_webhook("ONCRMLEADADD", &url);
    let id: u64 = quick_client(&portal)
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "evt" } }))
        .await
        .unwrap();
    for _ in 0..100 {
        if !portal.deliveries().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deliveries = portal.deliveries();
    assert_eq!(
        deliveries.len(),
        1,
        "delivered once, not retried after the 500"
    );
    assert_eq!(deliveries[0].status, Some(500));
    let body = bodies.lock().unwrap()[0].clone();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(get("event").as_deref(), Some("ONCRMLEADADD"));
    assert_eq!(get("data[FIELDS][ID]"), Some(id.to_string()));
    assert_eq!(
        get("auth[application_token]").as_deref(),
        Some(token.expose_secret())
    );
    assert_eq!(
        get("auth[access_token]"),
        None,
        "outgoing webhooks carry no tokens"
    );
}

#[tokio::test]
async fn the_install_callback_gets_tokens_and_the_application_token() {
    let portal = unlimited().await;
    let (url, bodies) = receiver(200).await;
    let tokens = portal.install_app_to(&url).await.unwrap();
    let body = bodies.lock().unwrap()[0].clone();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(get("event").as_deref(), Some("ONAPPINSTALL"));
    assert_eq!(
        get("auth[application_token]").as_deref(),
        Some(portal.application_token().expose_secret())
    );
    assert_eq!(get("auth[member_id]").as_deref(), Some(portal.member_id()));
    assert!(get("auth[access_token]").is_some());
    assert!(tokens.client_endpoint.is_some());
}

#[tokio::test]
async fn snapshots_restore_the_same_portal() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let id: u64 = client
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "kept" } }))
        .await
        .unwrap();
    let snapshot = portal.snapshot().unwrap();
    drop(portal);
    let restored = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .restore(snapshot)
        .start()
        .await
        .unwrap();
    let lead: Value = quick_client(&restored)
        .call_raw("crm.lead.get", json!({ "id": id }))
        .await
        .unwrap();
    assert_eq!(lead["TITLE"], "kept");
    let next: u64 = quick_client(&restored)
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "new" } }))
        .await
        .unwrap();
    assert_eq!(next, id + 1, "ids continue after a restore");
}

#[tokio::test]
async fn the_request_log_records_method_auth_and_status() {
    let portal = unlimited().await;
    let _: Value = quick_client(&portal).call_raw("profile", ()).await.unwrap();
    let _: Value = portal
        .app_client()
        .unwrap()
        .call_raw("profile", ())
        .await
        .unwrap();
    let log = portal.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].method.as_str(), log[0].auth, log[0].status),
        ("profile", bitrix24::sandbox::AuthKind::Webhook, 200)
    );
    assert_eq!(log[1].auth, bitrix24::sandbox::AuthKind::OAuth);
    assert_eq!(portal.request_counts()["profile"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_survives_a_flaky_portal_without_duplicating_reads() {
    let portal = unlimited().await;
    portal.add_fault(Fault::new(FaultKind::Error(503)).probability(0.3));
    let client = Client::builder()
        .webhook(portal.webhook_url())
        .limits(Limits::unlimited())
        .retry_policy(
            RetryPolicy::standard()
                .with_max_attempts(20)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(2)),
        )
        .build()
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let calls = (0..50).map(|_| {
        let client = client.clone();
        let done = done.clone();
        let failed = failed.clone();
        async move {
            if client
                .call_raw::<Value>("profile", ())
                .idempotent(true)
                .await
                .is_ok()
            {
                done.fetch_add(1, Ordering::SeqCst);
            } else {
                failed.store(true, Ordering::SeqCst);
            }
        }
    });
    join_all(calls).await;
    assert!(!failed.load(Ordering::SeqCst));
    assert_eq!(done.load(Ordering::SeqCst), 50);
    assert!(client.metrics().rate_limited > 0, "the fault did fire");
}
