//! Quick start: who am I, and what is in the CRM?
//!
//! ```text
//! cargo run -p bitrix24-examples --example quickstart          # on the embedded sandbox
//! BITRIX24_WEBHOOK_URL=https://<portal>/rest/<user>/<secret>/ \
//!     cargo run -p bitrix24-examples --example quickstart      # on your portal
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use bitrix24::sandbox::SandboxPortal;
use serde_json::Value;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    // Without a portal of your own, the example brings up the embedded sandbox.
    let (webhook, _sandbox) = match std::env::var("BITRIX24_WEBHOOK_URL") {
        Ok(webhook) => (webhook, None),
        Err(_) => match SandboxPortal::builder().seed_leads(120).start().await {
            Ok(portal) => {
                println!("BITRIX24_WEBHOOK_URL is not set: using the embedded sandbox portal");
                (portal.webhook_url(), Some(portal))
            }
            Err(error) => {
                eprintln!("error: the sandbox portal did not start: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    match run(&webhook).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(webhook: &str) -> bitrix24::Result<()> {
    let client = bitrix24::Client::from_webhook(webhook)?;
    println!("portal: {}", client.portal());

    let me = client
        .call_raw::<Value>("user.current", ())
        .idempotent(true)
        .send_with_meta()
        .await?;
    let name = |key: &str| {
        me.result
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    println!(
        "signed in as: {} {} (id {})",
        name("NAME"),
        name("LAST_NAME"),
        name("ID")
    );
    if let Some(time) = &me.time {
        println!("portal time for this call: {:.3} s", time.duration);
    }

    let leads = client
        .call_raw::<Value>(
            "crm.lead.list",
            serde_json::json!({ "select": ["ID", "TITLE"], "order": { "ID": "DESC" } }),
        )
        .idempotent(true)
        .send_with_meta()
        .await?;
    println!("leads on the portal: {}", leads.total.unwrap_or(0));
    for lead in leads.result.as_array().into_iter().flatten().take(5) {
        println!(
            "  #{} {}",
            lead["ID"].as_str().unwrap_or("?"),
            lead["TITLE"].as_str().unwrap_or("")
        );
    }
    let metrics = client.metrics();
    println!(
        "requests sent: {}, retries: {}",
        metrics.requests, metrics.retries
    );
    Ok(())
}
