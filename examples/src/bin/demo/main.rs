//! The demo: the SDK against the embedded sandbox portal, end to end, with a transcript.
//!
//! ```text
//! cargo run --release -p bitrix24-examples --bin demo
//! ```
//!
//! It starts a sandbox portal with the standard plan's limits, then walks through what an
//! integration does every day — webhook and OAuth auth with a token refresh, a batch with
//! references, bulk creates, an export at the portal's rate ceiling, a write whose reply is lost
//! and is not duplicated, and events delivered to a handler — then runs the connector's lead
//! intake in-process: a website form with a PDF posted twice and a delivery whose reply is lost,
//! each ending in exactly one CRM lead. Then the Telegram bridge: a customer writes to the bot,
//! the message and a photo reach an open line, and the operator's answer comes back to Telegram.
//! Last the approval flow: a request becomes a task, the approver approves it with one tap in
//! Telegram, and the task is completed with a comment. It prints a summary and exits non-zero
//! when anything came out wrong.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

mod approvals;
mod bridge;
mod lead_intake;

use std::future::IntoFuture;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitrix24::auth::MemoryTokenStore;
use bitrix24::crm::LeadFields;
use bitrix24::events::{Event, EventData};
use bitrix24::sandbox::{Fault, FaultKind, SandboxPortal};
use bitrix24::{Client, Limits};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

/// One line of the summary table.
struct Step {
    name: &'static str,
    requests: u64,
    seconds: f64,
    outcome: String,
}

pub(crate) type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Demo {
    portal: Arc<SandboxPortal>,
    client: Client,
    steps: Vec<Step>,
}

/// Polls `check` every 20 ms until it gives a value; an error after 20 s.
pub(crate) async fn eventually<T>(
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> DemoResult<T> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Prints a message as the reader would see it, one indented line per line of text.
pub(crate) fn print_block(text: &str) {
    for line in text.lines() {
        println!("     | {}", line.trim_end());
    }
}

impl Demo {
    /// Runs one step on the demo's portal, timing it and counting the HTTP requests the
    /// portal answered.
    async fn step<F, Fut>(&mut self, name: &'static str, run: F) -> DemoResult<()>
    where
        F: FnOnce(Client, Arc<SandboxPortal>) -> Fut,
        Fut: Future<Output = DemoResult<String>>,
    {
        let portal = self.portal.clone();
        let run = run(self.client.clone(), portal.clone());
        self.step_on(name, &portal, run).await
    }

    /// Runs one step that works on `portal`, counting that portal's requests.
    async fn step_on(
        &mut self,
        name: &'static str,
        portal: &SandboxPortal,
        run: impl Future<Output = DemoResult<String>>,
    ) -> DemoResult<()> {
        println!("\n== {name}");
        let before = portal.requests().len();
        let started = Instant::now();
        let outcome = run.await?;
        let seconds = started.elapsed().as_secs_f64();
        let requests = (portal.requests().len() - before) as u64;
        println!("   -> {outcome}");
        self.steps.push(Step {
            name,
            requests,
            seconds,
            outcome,
        });
        Ok(())
    }
}

async fn who_am_i(client: Client, _: Arc<SandboxPortal>) -> DemoResult<String> {
    let me: Value = client.call_raw("user.current", ()).idempotent(true).await?;
    let name = format!(
        "{} {}",
        me["NAME"].as_str().unwrap_or("?"),
        me["LAST_NAME"].as_str().unwrap_or("?")
    );
    println!(
        "   the webhook calls as {name} (user {})",
        me["ID"].as_str().unwrap_or("?")
    );
    Ok(format!("signed in as {name}"))
}

async fn oauth_refresh(_: Client, portal: Arc<SandboxPortal>) -> DemoResult<String> {
    let store = MemoryTokenStore::new();
    let app = portal.oauth_client(portal.install_app()?, store.clone())?;
    let _: Value = app.call_raw("profile", ()).idempotent(true).await?;
    println!("   the app is installed and calls with its access token");
    portal.expire_access_tokens();
    println!("   the portal expires every access token; 20 calls go out at once");
    let calls = (0..20).map(|_| {
        app.call_raw::<Value>("profile", ())
            .idempotent(true)
            .into_future()
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    println!(
        "   {ok} of 20 succeeded after one refresh, saved to the store {} time(s)",
        store.saves()
    );
    Ok(format!(
        "{ok}/20 calls succeeded with {} token refresh",
        app.metrics().token_refreshes
    ))
}

async fn batch_with_references(client: Client, _: Arc<SandboxPortal>) -> DemoResult<String> {
    let mut batch = client.batch();
    let added = batch.add_raw::<u64>(
        "crm.lead.add",
        json!({ "fields": { "TITLE": "Demo lead", "ORIGIN_ID": "demo-1" } }),
        false,
    );
    let read = batch.add_raw::<Value>("crm.lead.get", json!({ "id": added.reference("") }), true);
    let count = batch.add_raw::<Value>(
        "crm.lead.list",
        json!({ "select": ["ID"], "filter": { "STATUS_ID": "NEW" } }),
        true,
    );
    let mut reply = batch.send().await?;
    let id = reply.take(&added)?;
    let lead = reply.take(&read)?;
    println!(
        "   one request: created lead {id}, read it back through $result[..] ({:?})",
        lead["TITLE"].as_str().unwrap_or("")
    );
    Ok(format!(
        "lead {id} created and read back; {} NEW leads counted",
        reply.total(&count).unwrap_or(0)
    ))
}

async fn bulk_create(client: Client, _: Arc<SandboxPortal>) -> DemoResult<String> {
    #[derive(serde::Serialize)]
    struct AddLead {
        fields: Value,
    }
    impl bitrix24::Method for AddLead {
        const NAME: &'static str = "crm.lead.add";
        const IDEMPOTENT: bool = false;
        type Output = u64;
    }
    let leads = (0..150).map(|i| AddLead {
        fields: json!({ "TITLE": format!("Bulk lead {i}"), "SOURCE_ID": "WEB" }),
    });
    let ids: Vec<u64> = client.batch_all(leads).try_collect().await?;
    println!("   150 leads, 50 per batch, every request paced by the rate limiter");
    Ok(format!("{} leads created", ids.len()))
}

async fn export(client: Client, _: Arc<SandboxPortal>) -> DemoResult<String> {
    let started = Instant::now();
    let mut rows = 0u64;
    let mut pages = Box::pin(
        client
            .list_raw(
                "crm.lead.list",
                json!({ "select": ["ID", "TITLE", "STATUS_ID"] }),
            )
            .export()
            .pages(),
    );
    while let Some(page) = pages.next().await {
        rows += page?.rows.len() as u64;
    }
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    println!("   keyset pages chained in batches: up to 2,500 rows per request, no counting");
    Ok(format!(
        "{rows} leads exported at {rate:.0} rows/s, {} rate-limit refusals",
        client.metrics().rate_limited
    ))
}

async fn lost_reply(client: Client, portal: Arc<SandboxPortal>) -> DemoResult<String> {
    portal.add_fault(
        Fault::new(FaultKind::CommitThenDrop)
            .method("crm.lead.add")
            .times(1),
    );
    let created = client
        .call_raw::<u64>(
            "crm.lead.add",
            json!({ "fields": { "TITLE": "Web order", "ORIGIN_ID": "order-77" } }),
        )
        .await;
    let error = match created {
        Ok(id) => return Ok(format!("lead {id} created (no fault fired)")),
        Err(error) => error,
    };
    println!("   the portal saved the lead but the connection dropped: {error}");
    println!(
        "   outcome unknown: {}; the SDK did not send the create again",
        error.is_outcome_unknown()
    );
    let found: Vec<Value> = client
        .call_raw(
            "crm.lead.list",
            json!({ "filter": { "ORIGIN_ID": "order-77" }, "select": ["ID"] }),
        )
        .idempotent(true)
        .await?;
    println!("   looked up by ORIGIN_ID: {} lead(s)", found.len());
    Ok(format!(
        "exactly {} lead for order-77, no duplicate",
        found.len()
    ))
}

async fn events(client: Client, portal: Arc<SandboxPortal>) -> DemoResult<String> {
    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                if let Ok(mut seen) = seen.lock() {
                    seen.push(body);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/events", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let token = portal.add_outgoing_webhook("ONCRMLEADADD", &url);
    let id = client
        .crm()
        .leads()
        .add(LeadFields::new().title("Lead that fires an event"))
        .await?;
    for _ in 0..50 {
        if received.lock().is_ok_and(|r| !r.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body = received
        .lock()
        .map(|r| r.first().cloned().unwrap_or_default())
        .unwrap_or_default();
    // What a real handler does: parse the PHP-style form, then check the token before
    // trusting anything in it.
    let event = Event::from_form(body.as_bytes())?;
    let verified = event.verify_outgoing(&token).is_ok();
    let lead = match &event.data {
        EventData::CrmLeadAdd(data) => data.id(),
        _ => None,
    };
    println!(
        "   the portal POSTed {} for lead {} to the handler; application_token verified: {verified}",
        event.name,
        lead.map_or_else(|| "?".to_owned(), |id| id.to_string())
    );
    Ok(format!(
        "{} for lead {id} delivered, token {}",
        event.name,
        if verified { "verified" } else { "NOT verified" }
    ))
}

async fn run() -> DemoResult<()> {
    println!("bitrix24-rs demo: the SDK against an embedded sandbox portal");
    let portal = SandboxPortal::builder()
        .limits(Limits::standard())
        .seed_leads(30_000)
        .latency(Duration::from_millis(20))
        .start()
        .await?;
    println!(
        "sandbox portal at {} (standard plan: 50 requests, 2/s; 30,000 leads; 20 ms latency)",
        portal.base_url()
    );
    let client = portal.client()?;
    let mut demo = Demo {
        portal: Arc::new(portal),
        client,
        steps: Vec::new(),
    };

    demo.step("Webhook auth", who_am_i).await?;
    demo.step("Export of every lead, 2,500 rows per request", export)
        .await?;
    demo.step(
        "A batch with references between commands",
        batch_with_references,
    )
    .await?;
    demo.step("Bulk creates with batch_all", bulk_create)
        .await?;
    demo.step("OAuth app and a single-flight token refresh", oauth_refresh)
        .await?;
    demo.step("A create whose reply is lost is not duplicated", lost_reply)
        .await?;
    demo.step("Events delivered to a handler", events).await?;

    let (intake, running) = lead_intake::start(demo.client.clone()).await?;
    let posted = intake.clone();
    demo.step(
        "Lead intake: a form with a PDF, posted twice",
        |client, portal| async move { lead_intake::posted_twice(client, &portal, posted).await },
    )
    .await?;
    demo.step(
        "Lead intake: a lost reply is looked up, not redone",
        |_, portal| async move { lead_intake::lost_reply(&portal, intake).await },
    )
    .await?;
    running.shutdown().await?;

    println!("\n-- the Telegram <-> Open Lines bridge");
    let bridge = bridge::start().await?;
    demo.step_on(
        "Bridge: a Telegram message reaches an open line",
        &bridge.portal,
        bridge::conversation(&bridge),
    )
    .await?;
    bridge.shutdown().await?;

    println!("\n-- the approval flow");
    let approvals = approvals::start().await?;
    demo.step_on(
        "Approvals: decided from Telegram, task updated",
        &approvals.portal,
        approvals::approve_from_telegram(&approvals),
    )
    .await?;
    approvals.shutdown().await?;

    println!(
        "\n{:<52} {:>9} {:>9}  outcome",
        "step", "requests", "seconds"
    );
    for step in &demo.steps {
        println!(
            "{:<52} {:>9} {:>9.2}  {}",
            step.name, step.requests, step.seconds, step.outcome
        );
    }
    let limiter = demo.portal.limiter();
    println!(
        "\nportal: {} requests admitted, {} refused with 503, {} refused with 429",
        limiter.admitted, limiter.refused, limiter.operating_blocked
    );
    println!("(the bridge and approval steps count the requests of their own unlimited portals)");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}
