//! How many requests per second the sandbox portal serves on this machine.
//!
//! ```text
//! cargo run --release -p bitrix24-examples --example sandbox_throughput -- [seconds] [concurrency]
//! ```
//!
//! The sandbox runs without limits, seeded with 100,000 leads; concurrent clients in the same
//! process send `crm.lead.get` (one row), `crm.lead.list` keyset pages (50 rows) and batches
//! of 50 `crm.lead.get`. Figures are requests answered per second, client included.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, Limits, RetryPolicy};
use serde_json::{Value, json};

const LEADS: u64 = 100_000;

#[derive(Clone, Copy, Debug)]
enum Load {
    Get,
    KeysetPage,
    Batch50,
}

async fn drive(
    client: Client,
    load: Load,
    until: Instant,
    done: Arc<AtomicU64>,
) -> bitrix24::Result<()> {
    let mut n: u64 = 0;
    while Instant::now() < until {
        n += 1;
        let id = n * 7919 % LEADS + 1;
        match load {
            Load::Get => {
                let _: Value = client
                    .call_raw("crm.lead.get", json!({ "id": id }))
                    .idempotent(true)
                    .await?;
            }
            Load::KeysetPage => {
                let _: Value = client
                    .call_raw(
                        "crm.lead.list",
                        json!({ "order": { "ID": "ASC" }, "filter": { ">ID": id }, "start": -1 }),
                    )
                    .idempotent(true)
                    .await?;
            }
            Load::Batch50 => {
                let cmd: Vec<String> = (0..50)
                    .map(|i| format!("crm.lead.get?id={}", (id + i) % LEADS + 1))
                    .collect();
                let _: Value = client
                    .call_raw("batch", json!({ "cmd": cmd }))
                    .idempotent(true)
                    .await?;
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .seed_leads(LEADS)
        .start()
        .await?;
    let client = Client::builder()
        .webhook(portal.webhook_url())
        .limits(Limits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()?;
    println!(
        "sandbox throughput: {seconds} s per load, {concurrency} concurrent clients, {LEADS} leads"
    );
    for load in [Load::Get, Load::KeysetPage, Load::Batch50] {
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let until = started + Duration::from_secs(seconds);
        let workers: Vec<_> = (0..concurrency)
            .map(|_| tokio::spawn(drive(client.clone(), load, until, done.clone())))
            .collect();
        for worker in workers {
            worker.await??;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let requests = done.load(Ordering::Relaxed) as f64;
        let rows = match load {
            Load::Get => 1.0,
            Load::KeysetPage | Load::Batch50 => 50.0,
        };
        println!(
            "{load:?}: {:.0} requests/s, {:.0} rows/s",
            requests / elapsed,
            requests * rows / elapsed
        );
    }
    Ok(())
}
