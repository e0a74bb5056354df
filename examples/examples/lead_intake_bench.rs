//! The lead intake benchmark: how fast `POST /leads` accepts, and how long delivery to a
//! rate-limited portal takes.
//!
//! ```text
//! cargo run --release -p bitrix24-examples --example lead_intake_bench
//! cargo run --release -p bitrix24-examples --example lead_intake_bench -- --posts 500 --file-posts 20
//! ```
//!
//! Each scenario gets a fresh sandbox portal on the standard plan (50-request burst, 2 requests
//! per second) and a fresh intake with its SQLite database and files in a temporary directory,
//! with the default settings except the per-IP limit (off: every post comes from loopback).
//! Posts go `--in-flight` at a time. Accept latency is measured by the client; delivery times
//! come from `GET /leads/{id}` (`received_at`, `delivered_at`, the server's clock, milliseconds).
//! The portal's figures (requests answered, 503s) come from the sandbox itself.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bitrix24::Limits;
use bitrix24::sandbox::SandboxPortal;
use bitrix24_connector::leads::{IntakeSettings, LeadIntake};
use bitrix24_connector::store::{Store, now_ms};
use clap::Parser;
use futures::StreamExt;
use serde_json::{Value, json};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Parser)]
struct Args {
    /// Plain JSON forms posted.
    #[arg(long, default_value_t = 2_000)]
    posts: usize,
    /// Multipart forms with a PDF attachment posted. Each costs about five portal requests
    /// (contact lookup, folder, upload, lead, comment), at 2 requests a second.
    #[arg(long, default_value_t = 50)]
    file_posts: usize,
    /// The attachment's size in bytes.
    #[arg(long, default_value_t = 100 * 1024)]
    file_bytes: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    in_flight: usize,
}

/// What one scenario measured.
struct Figures {
    name: String,
    posts: usize,
    accept_seconds: f64,
    accept_p50_ms: f64,
    accept_p95_ms: f64,
    end_to_end_seconds: f64,
    delivery_p50_ms: f64,
    delivery_p95_ms: f64,
    portal_requests: usize,
    refused: u64,
}

/// A PDF whose one content stream is padded to about `size` bytes, with a valid xref table.
fn pdf_of_size(size: usize) -> Vec<u8> {
    let content = "% padding\n".repeat(size / 10);
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len() + 1
        ),
    ];
    // ASCII throughout, so string lengths are the byte offsets the xref table needs; writing
    // to a String cannot fail.
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::with_capacity(objects.len());
    for (n, object) in (1..).zip(&objects) {
        offsets.push(pdf.len());
        let _ = write!(pdf, "{n} 0 obj\n{object}\nendobj\n");
    }
    let xref = pdf.len();
    let count = objects.len() + 1;
    let _ = write!(pdf, "xref\n0 {count}\n0000000000 65535 f \n");
    for offset in offsets {
        let _ = writeln!(pdf, "{offset:010} 00000 n ");
    }
    let _ = write!(
        pdf,
        "trailer\n<< /Size {count} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    );
    pdf.into_bytes()
}

/// The `q`-quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "an index into a non-empty slice"
    )]
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// Posts form `n` (`pdf` attached when given) and returns its id and how long the 202 took.
async fn post_one(
    http: &reqwest::Client,
    base: &str,
    n: usize,
    pdf: Option<Vec<u8>>,
) -> BenchResult<(String, f64)> {
    let phone = format!("+7999{:07}", 1_000_000 + n);
    let request = http
        .post(format!("{base}/leads"))
        .header("Idempotency-Key", format!("bench-{n}"));
    let request = match pdf {
        Some(pdf) => request.multipart(
            reqwest::multipart::Form::new()
                .text("name", format!("Client {n}"))
                .text("phone", phone)
                .text("message", "Quote attached")
                .part(
                    "files[]",
                    reqwest::multipart::Part::bytes(pdf)
                        .file_name(format!("quote-{n}.pdf"))
                        .mime_str("application/pdf")?,
                ),
        ),
        None => request.json(&json!({
            "name": format!("Client {n}"),
            "phone": phone,
            "email": format!("client{n}@example.com"),
            "message": "Please call me back",
            "utm_source": "bench",
        })),
    };
    let sent = Instant::now();
    let response = request.send().await?;
    let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match (status, body["id"].as_str()) {
        (202, Some(id)) => Ok((id.to_owned(), latency_ms)),
        _ => Err(format!("POST /leads answered {status} {body}").into()),
    }
}

/// Posts `posts` forms (`pdf` attached when given) to a fresh intake and waits for delivery.
async fn scenario(
    name: &str,
    posts: usize,
    in_flight: usize,
    pdf: Option<Vec<u8>>,
) -> BenchResult<Figures> {
    let portal = SandboxPortal::builder()
        .limits(Limits::standard())
        .start()
        .await?;
    let dir = tempfile::tempdir()?;
    let mut settings = IntakeSettings::default();
    settings.files_dir = dir.path().join("files");
    // Every post comes from 127.0.0.1: the per-address limit would refuse all but 30 a minute.
    settings.rate_limit_per_minute = 0;
    let store = Store::open(dir.path().join("connector.db")).await?;
    let intake = LeadIntake::new(portal.client()?, store, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(intake.serve(listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    eprintln!("{name}: posting {posts} forms, {in_flight} in flight…");
    let first_post_ms = now_ms();
    let started = Instant::now();
    let results: Vec<BenchResult<(String, f64)>> = futures::stream::iter(0..posts)
        .map(|n| post_one(&http, &base, n, pdf.clone()))
        .buffer_unordered(in_flight.max(1))
        .collect()
        .await;
    let accept_seconds = started.elapsed().as_secs_f64();
    let mut ids = Vec::with_capacity(posts);
    let mut latencies = Vec::with_capacity(posts);
    for result in results {
        let (id, latency) = result?;
        ids.push(id);
        latencies.push(latency);
    }
    let latencies = sorted(latencies);

    // /healthz counts by state: one cheap request per poll instead of one per submission.
    let deadline = Instant::now() + Duration::from_secs(1_800);
    loop {
        let health: Value = http
            .get(format!("{base}/healthz"))
            .send()
            .await?
            .json()
            .await?;
        let delivered = health["submissions"]["delivered"].as_u64().unwrap_or(0);
        let failed = health["submissions"]["failed"].as_u64().unwrap_or(0);
        if failed > 0 {
            return Err(format!("{failed} submission(s) failed: {health}").into());
        }
        if delivered == posts as u64 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("not delivered after 30 minutes: {health}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut deliveries = Vec::with_capacity(posts);
    let mut last_delivered_ms = first_post_ms;
    for id in &ids {
        let status: Value = http
            .get(format!("{base}/leads/{id}"))
            .send()
            .await?
            .json()
            .await?;
        let received = status["received_at"].as_i64().unwrap_or(0);
        let delivered = status["delivered_at"]
            .as_i64()
            .ok_or_else(|| format!("{id} has no delivered_at: {status}"))?;
        last_delivered_ms = last_delivered_ms.max(delivered);
        deliveries.push((delivered - received) as f64);
    }
    let deliveries = sorted(deliveries);
    let leads = portal.crm_rows("lead").len();
    if leads != posts {
        return Err(format!("{leads} leads for {posts} submissions").into());
    }
    // The status polls went to the intake, not to the portal: its log is the worker's alone.
    let portal_requests = portal.requests().len();
    let refused = portal.limiter().refused;
    let _ = stop.send(());
    served.await??;
    Ok(Figures {
        name: name.to_owned(),
        posts,
        accept_seconds,
        accept_p50_ms: quantile(&latencies, 0.50),
        accept_p95_ms: quantile(&latencies, 0.95),
        end_to_end_seconds: (last_delivered_ms - first_post_ms) as f64 / 1000.0,
        delivery_p50_ms: quantile(&deliveries, 0.50),
        delivery_p95_ms: quantile(&deliveries, 0.95),
        portal_requests,
        refused,
    })
}

async fn run(args: Args) -> BenchResult<Vec<Figures>> {
    let mut figures = Vec::new();
    if args.posts > 0 {
        figures.push(scenario("plain JSON form", args.posts, args.in_flight, None).await?);
    }
    if args.file_posts > 0 {
        let pdf = pdf_of_size(args.file_bytes);
        let name = format!("multipart + {} KB PDF", pdf.len() / 1024);
        figures.push(scenario(&name, args.file_posts, args.in_flight, Some(pdf)).await?);
    }
    Ok(figures)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let in_flight = args.in_flight;
    match run(args).await {
        Ok(figures) => {
            println!(
                "\nlead intake on the sandbox, standard plan (50 burst, 2 req/s), {in_flight} posts in flight"
            );
            println!(
                "| scenario | posts | accepted/s | accept p50 | accept p95 | first post → last delivered | received → delivered p50 | p95 | portal requests | 503s |"
            );
            println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for f in &figures {
                println!(
                    "| {} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} s | {:.0} ms | {:.0} ms | {} | {} |",
                    f.name,
                    f.posts,
                    f.posts as f64 / f.accept_seconds,
                    f.accept_p50_ms,
                    f.accept_p95_ms,
                    f.end_to_end_seconds,
                    f.delivery_p50_ms,
                    f.delivery_p95_ms,
                    f.portal_requests,
                    f.refused,
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lead_intake_bench failed: {error}");
            ExitCode::FAILURE
        }
    }
}
