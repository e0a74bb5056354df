//! The lead intake end to end against the sandbox portal: what a website posts reaches the CRM
//! once, through outages, lost replies and bursts.
// Test helpers: a failure should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use bitrix24::sandbox::{Fault, FaultKind, SandboxPortal};
use bitrix24::{Client, Limits, RetryPolicy};
use bitrix24_connector::leads::{IntakeSettings, LeadIntake};
use bitrix24_connector::store::Store;
use serde_json::{Value, json};

/// A running intake on loopback, delivering to a sandbox portal.
struct Harness {
    portal: SandboxPortal,
    intake: LeadIntake,
    base: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

fn quick_settings(dir: &std::path::Path) -> IntakeSettings {
    let mut settings = IntakeSettings::default();
    settings.files_dir = dir.join("files");
    settings.rate_limit_per_minute = 0;
    settings.delivery.backoff_base = Duration::from_millis(20);
    settings.delivery.backoff_max = Duration::from_millis(200);
    settings.delivery.poll_interval = Duration::from_millis(50);
    settings
}

async fn start(limits: Limits, tune: impl FnOnce(&mut IntakeSettings)) -> Harness {
    let portal = SandboxPortal::builder()
        .limits(limits)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = quick_settings(dir.path());
    tune(&mut settings);
    let store = Store::open(dir.path().join("connector.db")).await.unwrap();
    // The worker retries across attempts; the client's own retries are kept short so that an
    // outage reaches the worker quickly.
    let client = Client::builder()
        .webhook(portal.webhook_url())
        .limits(portal.limits())
        .retry_policy(
            RetryPolicy::standard()
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    let intake = LeadIntake::new(client, store, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(intake.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    Harness {
        portal,
        intake,
        base,
        http: reqwest::Client::new(),
        stop: Some(stop),
        _dir: dir,
    }
}

impl Harness {
    async fn post_json(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/leads", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn status(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/leads/{id}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until every submission is delivered (or failed), and returns their statuses.
    async fn settled(&self, ids: &[String]) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let mut statuses = Vec::with_capacity(ids.len());
            for id in ids {
                statuses.push(self.status(id).await);
            }
            if statuses.iter().all(|s| s["state"] != "pending") {
                return statuses;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still pending: {:?}",
                statuses
                    .iter()
                    .filter(|s| s["state"] == "pending")
                    .take(3)
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn leads_with_origin(&self, id: &str) -> Vec<Value> {
        self.portal
            .crm_rows("lead")
            .into_iter()
            .filter(|lead| lead["ORIGIN_ID"] == json!(id))
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn form(name: &str, phone: &str) -> Value {
    json!({
        "name": name,
        "phone": phone,
        "email": format!("{}@example.com", name.to_lowercase()),
        "message": "Позвоните мне <b>завтра</b>",
        "utm_source": "google",
        "utm_campaign": "spring",
        "page_url": "https://shop.example.com/contacts",
    })
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_files_becomes_one_lead_with_its_attachments() {
    let harness = start(Limits::unlimited(), |_| {}).await;
    let multipart = reqwest::multipart::Form::new()
        .text("name", "Анна")
        .text("phone", "8 (999) 123-45-67")
        .text("email", "anna@example.com")
        .text("message", "Смета во вложении")
        .text("utm_source", "yandex")
        .part(
            "files[]",
            reqwest::multipart::Part::bytes(PDF).file_name("смета.pdf"),
        )
        .part(
            "files[]",
            reqwest::multipart::Part::bytes(PNG).file_name("plan.png"),
        );
    let response = harness
        .http
        .post(format!("{}/leads", harness.base))
        .multipart(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let status = &harness.settled(std::slice::from_ref(&id)).await[0];
    assert_eq!(status["state"], "delivered", "{status}");
    let leads = harness.leads_with_origin(&id);
    assert_eq!(leads.len(), 1, "{leads:?}");
    let lead = &leads[0];
    assert_eq!(
        status["lead_id"].to_string(),
        lead["ID"].to_string().trim_matches('"')
    );
    assert_eq!(lead["TITLE"], "Заявка с сайта - Анна");
    assert_eq!(lead["NAME"], "Анна");
    assert_eq!(lead["SOURCE_ID"], "WEB");
    assert_eq!(lead["ORIGINATOR_ID"], "bitrix24-connector");
    assert_eq!(lead["UTM_SOURCE"], "yandex");
    assert_eq!(lead["PHONE"][0]["VALUE"], "+79991234567", "{lead}");
    assert_eq!(lead["EMAIL"][0]["VALUE"], "anna@example.com");

    // The files are on Disk, in the submission's own folder…
    let client = harness.portal.client().unwrap();
    let storages: Vec<Value> = client
        .call_raw(
            "disk.storage.getlist",
            json!({ "filter": { "ENTITY_TYPE": "common" } }),
        )
        .await
        .unwrap();
    let root = &storages[0]["ROOT_OBJECT_ID"];
    let folders: Vec<Value> = client
        .call_raw(
            "disk.folder.getchildren",
            json!({ "id": root, "filter": { "NAME": "Заявки с сайта" } }),
        )
        .await
        .unwrap();
    let submissions: Vec<Value> = client
        .call_raw(
            "disk.folder.getchildren",
            json!({ "id": folders[0]["ID"], "filter": { "NAME": id } }),
        )
        .await
        .unwrap();
    assert_eq!(submissions.len(), 1);
    let files: Vec<Value> = client
        .call_raw(
            "disk.folder.getchildren",
            json!({ "id": submissions[0]["ID"] }),
        )
        .await
        .unwrap();
    let mut names: Vec<&str> = files.iter().filter_map(|f| f["NAME"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["plan.png", "смета.pdf"]);
    // …and on the lead's timeline, in one comment that names the submission.
    let comments: Vec<Value> = client
        .call_raw(
            "crm.timeline.comment.list",
            json!({ "filter": { "ENTITY_TYPE": "lead", "ENTITY_ID": lead["ID"] }, "select": ["ID", "COMMENT", "FILES"] }),
        )
        .await
        .unwrap();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0]["COMMENT"].as_str().unwrap().contains(&id));
    assert_eq!(
        comments[0]["FILES"]
            .as_object()
            .map_or(0, serde_json::Map::len),
        2,
        "{}",
        comments[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_stores_one_submission() {
    let harness = start(Limits::unlimited(), |_| {}).await;
    let mut ids = HashSet::new();
    for _ in 0..3 {
        let response = harness
            .http
            .post(format!("{}/leads", harness.base))
            .header("Idempotency-Key", "form-42")
            .json(&form("Boris", "+79990000042"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
        ids.insert(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids.len(), 1);
    let id = ids.into_iter().next().unwrap();
    harness.settled(std::slice::from_ref(&id)).await;
    assert_eq!(harness.leads_with_origin(&id).len(), 1);
    assert_eq!(harness.portal.crm_rows("lead").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_store_nothing() {
    let harness = start(Limits::unlimited(), |s| s.max_body_bytes = 64 * 1024).await;
    let (status, body) = harness.post_json(&json!({ "phone": "+79990000000" })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "validation_failed");
    assert!(
        body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field"] == "name"),
        "{body}"
    );

    let response = harness
        .http
        .post(format!("{}/leads", harness.base))
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);

    // A body declared bigger than the limit is refused before it is read. (Sent with the
    // request, the client could see the connection close before it finished writing.)
    let address = harness.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /leads HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 10000000\r\nConnection: close\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .unwrap();
    let mut reply = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut reply)
        .await
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");

    let response = harness
        .http
        .post(format!("{}/leads", harness.base))
        .header("Idempotency-Key", "has spaces")
        .json(&form("Vera", "+79990000001"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    let counts = harness.intake.submissions().counts().await.unwrap();
    assert!(counts.is_empty(), "{counts:?}");
    let response = harness
        .http
        .get(format!("{}/leads/nope", harness.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spam_looks_accepted_but_never_reaches_the_crm() {
    let harness = start(Limits::unlimited(), |_| {}).await;
    let mut spam = form("Bot", "+79990000002");
    spam["website"] = json!("http://spam.example");
    let (status, body) = harness.post_json(&spam).await;
    assert_eq!(status, 202);
    let id = body["id"].as_str().unwrap();
    let (_, real) = harness.post_json(&form("Galina", "+79990000003")).await;
    harness
        .settled(&[real["id"].as_str().unwrap().to_owned()])
        .await;
    assert_eq!(harness.status(id).await["state"], "pending");
    assert!(harness.leads_with_origin(id).is_empty());
    assert_eq!(harness.portal.crm_rows("lead").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_outage_delays_delivery_and_loses_nothing() {
    let harness = start(Limits::unlimited(), |_| {}).await;
    // Every request fails for a while: connections dropped before anything runs.
    harness
        .portal
        .add_fault(Fault::new(FaultKind::Drop).times(30));
    let mut ids = Vec::new();
    for n in 0..5 {
        let (status, body) = harness
            .post_json(&form(&format!("Outage{n}"), &format!("+7999100000{n}")))
            .await;
        assert_eq!(status, 202);
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let statuses = harness.settled(&ids).await;
    assert!(
        statuses.iter().all(|s| s["state"] == "delivered"),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s["attempts"].as_u64() > Some(1)),
        "the outage was not seen: {statuses:?}"
    );
    for id in &ids {
        assert_eq!(harness.leads_with_origin(id).len(), 1, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_reply_is_lost_is_looked_up_not_repeated() {
    // Without the contact check the create batch is the worker's first request, so the
    // fault below hits it and not a lookup the SDK would quietly repeat.
    let harness = start(Limits::unlimited(), |s| s.duplicate_check = false).await;
    // Plain submissions go in a batch: the batch runs, then its reply is lost.
    harness.portal.add_fault(
        Fault::new(FaultKind::CommitThenDrop)
            .method("batch")
            .times(1),
    );
    let (_, body) = harness.post_json(&form("Lost", "+79992000001")).await;
    let plain = body["id"].as_str().unwrap().to_owned();
    let status = &harness.settled(std::slice::from_ref(&plain)).await[0];
    assert_eq!(harness.leads_with_origin(&plain).len(), 1);
    // The lost reply was seen, and the retry looked the lead up instead of creating it again.
    assert_eq!(status["attempts"], 2, "{status}");
    assert_eq!(
        harness.portal.request_counts().get("crm.lead.list"),
        Some(&1)
    );

    // With files the lead is created alone: it is written, then the portal answers 500.
    harness.portal.add_fault(
        Fault::new(FaultKind::CommitThenError(500))
            .method("crm.lead.add")
            .times(2),
    );
    let multipart = reqwest::multipart::Form::new()
        .text("name", "Files")
        .text("phone", "+79992000002")
        .part(
            "files[]",
            reqwest::multipart::Part::bytes(PDF).file_name("a.pdf"),
        );
    let response = harness
        .http
        .post(format!("{}/leads", harness.base))
        .multipart(multipart)
        .send()
        .await
        .unwrap();
    let with_files = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = &harness.settled(std::slice::from_ref(&with_files)).await[0];
    assert_eq!(status["state"], "delivered", "{status}");
    assert_eq!(harness.leads_with_origin(&with_files).len(), 1);
    assert_eq!(harness.portal.crm_rows("lead").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_submission_says_why_and_can_be_redriven() {
    let harness = start(Limits::unlimited(), |s| s.delivery.max_attempts = 1).await;
    harness.portal.add_fault(Fault::new(FaultKind::Drop));
    let (_, body) = harness.post_json(&form("Later", "+79993000001")).await;
    let id = body["id"].as_str().unwrap().to_owned();
    let status = &harness.settled(std::slice::from_ref(&id)).await[0];
    assert_eq!(status["state"], "failed", "{status}");
    assert!(
        status["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}"
    );

    harness.portal.clear_faults();
    let retry = harness
        .http
        .post(format!("{}/leads/{id}/retry", harness.base))
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status().as_u16(), 202);
    let status = &harness.settled(std::slice::from_ref(&id)).await[0];
    assert_eq!(status["state"], "delivered", "{status}");
    assert_eq!(harness.leads_with_origin(&id).len(), 1);
    let again = harness
        .http
        .post(format!("{}/leads/{id}/retry", harness.base))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_is_limited_per_minute() {
    let harness = start(Limits::unlimited(), |s| s.rate_limit_per_minute = 2).await;
    assert_eq!(harness.post_json(&form("A", "+79994000001")).await.0, 202);
    assert_eq!(harness.post_json(&form("B", "+79994000002")).await.0, 202);
    let response = harness
        .http
        .post(format!("{}/leads", harness.base))
        .json(&form("C", "+79994000003"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_contact_is_linked_and_the_lead_marked_as_repeat() {
    let harness = start(Limits::unlimited(), |_| {}).await;
    let client = harness.portal.client().unwrap();
    let contact: Value = client
        .call_raw(
            "crm.contact.add",
            json!({ "fields": { "NAME": "Dmitry", "PHONE": [{ "VALUE": "+79995000001", "VALUE_TYPE": "WORK" }] } }),
        )
        .await
        .unwrap();
    let (_, body) = harness.post_json(&form("Dmitry", "+79995000001")).await;
    let id = body["id"].as_str().unwrap().to_owned();
    harness.settled(std::slice::from_ref(&id)).await;
    let lead = &harness.leads_with_origin(&id)[0];
    assert_eq!(
        lead["CONTACT_ID"].to_string().trim_matches('"'),
        contact.to_string().trim_matches('"'),
        "{lead}"
    );
    assert_eq!(lead["IS_RETURN_CUSTOMER"], "Y", "{lead}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_submissions_in_a_burst_arrive_once_without_a_503() {
    let harness = start(Limits::standard(), |_| {}).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..1000_u32 {
        let http = harness.http.clone();
        let url = format!("{}/leads", harness.base);
        tasks.spawn(async move {
            let response = http
                .post(url)
                .json(&form(
                    &format!("Burst{n}"),
                    &format!("+7999{:07}", 6_000_000 + n),
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 202);
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        });
    }
    let ids: Vec<String> = tasks.join_all().await;
    let statuses = harness.settled(&ids).await;
    assert!(statuses.iter().all(|s| s["state"] == "delivered"));
    let leads = harness.portal.crm_rows("lead");
    assert_eq!(leads.len(), 1000);
    let origins: HashSet<&str> = leads
        .iter()
        .filter_map(|l| l["ORIGIN_ID"].as_str())
        .collect();
    assert_eq!(origins.len(), 1000);
    assert_eq!(
        harness.portal.limiter().refused,
        0,
        "the portal refused requests"
    );
    let requests = harness.portal.requests().len();
    assert!(requests < 200, "{requests} requests for 1000 leads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_managers_chat_hears_about_each_delivered_lead() {
    let telegram = bitrix24_connector::sandbox_telegram::SandboxTelegram::start()
        .await
        .unwrap();
    let managers = telegram.customer(-1, "Managers").chat_id();
    let token = telegram.token().to_owned();
    let api = telegram.api_url();
    let harness = start(Limits::unlimited(), move |s| {
        s.notify =
            Some(bitrix24_connector::leads::TelegramNotify::new(token, managers).api_url(api));
    })
    .await;
    let (_, body) = harness.post_json(&form("Зоя", "+79996000001")).await;
    let id = body["id"].as_str().unwrap().to_owned();
    let status = &harness.settled(std::slice::from_ref(&id)).await[0];
    let sent = telegram
        .wait_for_messages(managers, 1, Duration::from_secs(20))
        .await
        .unwrap();
    let text = sent[0].text.clone().unwrap();
    let lead = status["lead_id"].as_u64().unwrap();
    assert!(text.contains("Заявка с сайта - Зоя"), "{text}");
    assert!(
        text.contains(&format!("/crm/lead/details/{lead}/")),
        "{text}"
    );
    assert!(text.contains("+79996000001"), "{text}");
    // The customer's markup is shown, not interpreted.
    assert!(text.contains("&lt;b&gt;завтра&lt;/b&gt;"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_names_each_problem_in_one_line() {
    use bitrix24_connector::leads::doctor::{Finding, diagnose};
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .start()
        .await
        .unwrap();
    let client = portal.client().unwrap();
    let mut settings = IntakeSettings::default();
    settings.responsible_user_id = Some(1);
    let findings = diagnose(&client, &settings).await;
    assert!(findings.iter().all(Finding::passed), "{findings:?}");
    let checks: Vec<&str> = findings.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(
        checks,
        [
            "portal",
            "scope crm",
            "scope disk",
            "responsible user",
            "disk folder"
        ]
    );

    settings.responsible_user_id = Some(999_999);
    let findings = diagnose(&client, &settings).await;
    let problem = findings
        .iter()
        .find(|f| f.check == "responsible user")
        .unwrap();
    assert_eq!(
        problem.to_string(),
        "FAIL  responsible user: user 999999 not found (BITRIX24_RESPONSIBLE_USER_ID)"
    );

    // A portal that does not answer stops the checks at the first line.
    let gone = Client::builder()
        .webhook("http://127.0.0.1:9/rest/1/secret/")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let findings = diagnose(&gone, &settings).await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    let line = findings[0].to_string();
    assert!(
        line.starts_with("FAIL  portal: portal unreachable"),
        "{line}"
    );
    assert!(!line.contains("secret"), "{line}");
}
