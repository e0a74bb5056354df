//! The export benchmark: how close an export gets to the portal's rate ceiling.
//!
//! ```text
//! cargo build --release -p bitrix24-examples --bins --examples
//! target/release/examples/export_bench                         # 1,000,000 leads, standard plan, 50 ms
//! target/release/examples/export_bench --rows 100000 --plan off --latency-ms 0
//! ```
//!
//! The sandbox runs as a separate `b24 sandbox` process, so the figures below are the
//! client's alone: wall time, rows per second, HTTP requests, 503s and 429s received, the
//! ratio of the achieved throughput to the leaky bucket's ceiling (2,500 rows per request),
//! CPU seconds and peak resident memory.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitrix24::{Client, Limits, ListMethod, Method};
use clap::Parser;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, Parser)]
struct Args {
    /// Leads in the sandbox, all exported.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// `standard` (50, 2/s, 480 s per method) or `off`.
    #[arg(long, default_value = "standard")]
    plan: String,
    /// Delay the sandbox adds to every reply.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Id ranges exported concurrently.
    #[arg(long, default_value_t = 4)]
    shards: usize,
    /// Port for the sandbox process.
    #[arg(long, default_value_t = 18088)]
    port: u16,
}

/// `crm.lead.list` with the fields an export usually takes.
#[derive(Debug, Clone, Serialize)]
struct ListLeads {
    select: [&'static str; 6],
}

/// A lead as exported: typed, the way an application would read it.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Lead {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "TITLE")]
    title: Option<String>,
    #[serde(rename = "NAME")]
    name: Option<String>,
    #[serde(rename = "STATUS_ID")]
    status: Option<String>,
    #[serde(rename = "OPPORTUNITY")]
    opportunity: Option<String>,
    #[serde(rename = "DATE_CREATE")]
    created: Option<String>,
}

impl Method for ListLeads {
    const NAME: &'static str = "crm.lead.list";
    const IDEMPOTENT: bool = true;
    type Output = Vec<Lead>;
}

impl ListMethod for ListLeads {
    type Item = Lead;

    fn item_id(item: &Lead) -> Option<u64> {
        item.id.parse().ok()
    }
}

/// The sandbox process; stopped when dropped.
struct Sandbox(Child);

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sandbox(args: &Args) -> Result<(Sandbox, String), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let b24 = exe
        .parent()
        .and_then(|dir| dir.parent())
        .map(|dir| dir.join("b24"))
        .filter(|path| path.exists())
        .ok_or("the b24 binary is missing: build with `cargo build --release -p bitrix24-examples --bins --examples`")?;
    let mut child = Command::new(b24)
        .args([
            "sandbox",
            "--port",
            &args.port.to_string(),
            "--plan",
            &args.plan,
        ])
        .args([
            "--seed-leads",
            &args.rows.to_string(),
            "--latency-ms",
            &args.latency_ms.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start b24 sandbox: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from b24 sandbox")?;
    let sandbox = Sandbox(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(url) = line.strip_prefix("webhook: ") {
            return Ok((sandbox, url.trim().to_owned()));
        }
    }
    Err("b24 sandbox exited without printing its webhook".into())
}

/// CPU seconds (user + system) of this process, from /proc.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Peak resident memory of this process, in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let limits = match args.plan.as_str() {
        "standard" => Limits::standard(),
        "off" => Limits::unlimited(),
        other => return Err(format!("unknown plan {other}").into()),
    };
    let seeding = Instant::now();
    let (_sandbox, webhook) = start_sandbox(&args)?;
    println!(
        "sandbox with {} leads ready in {:.1} s",
        args.rows,
        seeding.elapsed().as_secs_f64()
    );

    let client = Client::builder().webhook(&webhook).limits(limits).build()?;
    let cpu_before = cpu_seconds().unwrap_or_default();
    let started = Instant::now();
    let mut rows = 0u64;
    let mut pages = Box::pin(
        client
            .call(ListLeads {
                select: [
                    "ID",
                    "TITLE",
                    "NAME",
                    "STATUS_ID",
                    "OPPORTUNITY",
                    "DATE_CREATE",
                ],
            })
            .export()
            .shards(args.shards)
            .pages(),
    );
    let mut last_report = Instant::now();
    while let Some(page) = pages.try_next().await? {
        rows += page.rows.len() as u64;
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {rows} rows after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().unwrap_or_default() - cpu_before;
    let metrics = client.metrics();

    println!("exported rows:        {rows}");
    println!("wall time:            {wall:.1} s");
    println!("rows per second:      {:.0}", rows as f64 / wall);
    println!("HTTP requests:        {}", metrics.requests);
    println!("503 received:         {}", metrics.rate_limited);
    println!("429 received:         {}", metrics.operating_limited);
    if let (Some(burst), Some(drain)) = (limits.burst(), limits.drain_per_sec()) {
        // The ceiling: every request of the bucket's budget carrying 2,500 rows.
        let ideal_requests = (rows as f64 / 2_500.0).ceil() + 1.0;
        let ideal = ((ideal_requests - f64::from(burst)).max(0.0) / drain).max(f64::EPSILON);
        println!(
            "ceiling time:         {ideal:.1} s ({ideal_requests:.0} requests at the bucket's rate)"
        );
        println!("share of the ceiling: {:.1} %", 100.0 * ideal / wall);
    }
    println!(
        "client CPU:           {cpu:.2} s ({:.2} µs per row)",
        cpu * 1e6 / rows.max(1) as f64
    );
    println!(
        "client peak RSS:      {:.1} MiB",
        peak_rss_mib().unwrap_or_default()
    );
    Ok(())
}
