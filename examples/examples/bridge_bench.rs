//! Measures the Telegram bridge on the sandboxes: how long a message takes each way (p50/p95)
//! and how many messages per second it carries, on an unlimited portal (the bridge's own cost)
//! and on the standard plan (the portal's rate limit).
//!
//! ```text
//! cargo run --release -p bitrix24-examples --example bridge_bench
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use bitrix24::Limits;
use bitrix24::sandbox::SandboxPortal;
use bitrix24_connector::bridge::{Bridge, BridgeSettings};
use bitrix24_connector::portals::Portals;
use bitrix24_connector::sandbox_telegram::SandboxTelegram;
use bitrix24_connector::store::Store;
use teloxide_core::Bot;

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct Rig {
    portal: SandboxPortal,
    telegram: SandboxTelegram,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn rig(limits: Limits) -> Result<Rig, Failure> {
    let portal = SandboxPortal::builder().limits(limits).start().await?;
    let telegram = SandboxTelegram::start().await?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("bridge.db")).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    // The client follows the portal's plan, as it would against a real portal.
    let portals = Portals::new(store.clone(), portal.oauth_app())
        .configure_clients(move |b| b.limits(limits));
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    let mut settings = BridgeSettings::new(url::Url::parse(&base)?);
    settings.poll_interval = Duration::from_millis(200);
    let bridge = Bridge::new(store, portals.clone(), bot, settings).await?;
    let app = portals.router().merge(bridge.router().await?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    portal
        .install_app_to(&format!("{base}/bitrix24/install"))
        .await?;
    bridge.setup(None).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bridge.run(async {
        let _ = stopped.await;
    }));
    Ok(Rig {
        portal,
        telegram,
        _stop: stop,
        _dir: dir,
    })
}

fn customer_count(portal: &SandboxPortal, chat: i64) -> usize {
    portal
        .openline_messages(&chat.to_string())
        .iter()
        .filter(|m| m["direction"] == "in")
        .count()
}

async fn wait_for_count(portal: &SandboxPortal, chat: i64, count: usize) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while customer_count(portal, chat) < count {
        if Instant::now() > deadline {
            return Err("timed out".into());
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<28} n={:<4} p50={:>7.1} ms  p95={:>7.1} ms  max={:>7.1} ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.95).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

async fn latency(rig: &Rig, messages: usize) -> Result<(), Failure> {
    let customer = rig.telegram.customer(100, "Bench");
    let mut inbound = Vec::with_capacity(messages);
    let mut outbound = Vec::with_capacity(messages);
    for n in 0..messages {
        let started = Instant::now();
        customer.send_text(&format!("message {n}"));
        wait_for_count(&rig.portal, 100, n + 1).await?;
        inbound.push(started.elapsed());

        let started = Instant::now();
        rig.portal
            .operator_reply("100", &format!("answer {n}"), &[])
            .await?;
        rig.telegram
            .wait_for_messages(100, n + 1, Duration::from_secs(60))
            .await?;
        outbound.push(started.elapsed());
    }
    report("Telegram → open line", inbound);
    report("operator → Telegram", outbound);
    Ok(())
}

async fn throughput(rig: &Rig, customers: i64, each: usize) -> Result<(), Failure> {
    let people: Vec<_> = (0..customers)
        .map(|n| rig.telegram.customer(1000 + n, "Load"))
        .collect();
    let started = Instant::now();
    for round in 0..each {
        for person in &people {
            person.send_text(&format!("load {round}"));
        }
    }
    for person in &people {
        wait_for_count(&rig.portal, person.chat_id(), each).await?;
    }
    let elapsed = started.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let total = (people.len() * each) as f64;
    println!(
        "{:<28} {} messages from {customers} customers in {:.2} s: {:.0} messages/s, {} portal requests",
        "Telegram → open line burst",
        total,
        elapsed.as_secs_f64(),
        total / elapsed.as_secs_f64(),
        rig.portal.requests().len()
    );
    let refused = rig.portal.limiter().refused;
    println!("{:<28} {refused}", "503s from the portal");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    for (plan, limits) in [
        ("unlimited portal", Limits::unlimited()),
        ("standard plan", Limits::standard()),
    ] {
        println!("== {plan}");
        let rig = rig(limits).await?;
        latency(&rig, 100).await?;
        let rig = self::rig(limits).await?;
        throughput(&rig, 20, 10).await?;
    }
    Ok(())
}
