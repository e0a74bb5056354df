//! The `lead-intake` binary as an operator runs it: killed with SIGKILL in the middle of
//! delivering, restarted, and every lead still reaches the CRM exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bitrix24_e2e::{Sandbox, binary, text};
use serde_json::Value;

/// A `lead-intake` process and the address it serves.
struct Intake {
    child: Child,
    base: String,
}

impl Intake {
    fn start(webhook: &str, data_dir: &Path) -> Self {
        let mut child = Command::new(binary("lead-intake"))
            .args(["--listen", "127.0.0.1:0", "--rate-limit-per-minute", "0"])
            .arg("--data-dir")
            .arg(data_dir)
            .env("BITRIX24_WEBHOOK_URL", webhook)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("lead-intake starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .by_ref()
            .map(Result::unwrap)
            .find(|line| line.contains("listening on"))
            .expect("lead-intake says where it listens");
        std::thread::spawn(move || lines.for_each(drop));
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap()
            .to_owned();
        Self { child, base }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

async fn submit(http: &reqwest::Client, base: &str, n: u32) -> String {
    let form = reqwest::multipart::Form::new()
        .text("name", format!("Customer {n}"))
        .text("phone", format!("+7999{:07}", 7_000_000 + n))
        .part(
            "files[]",
            reqwest::multipart::Part::bytes(PDF).file_name(format!("order-{n}.pdf")),
        );
    let response = http
        .post(format!("{base}/leads"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn states(http: &reqwest::Client, base: &str, ids: &[String]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        let status: Value = http
            .get(format!("{base}/leads/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        *counts
            .entry(status["state"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_intake_delivers_every_lead_exactly_once_after_restart() {
    // Every portal call takes 40 ms, so delivery is still under way when the kill comes.
    let portal = Sandbox::start_with(&["--latency-ms", "40"]);
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();

    let intake = Intake::start(&portal.webhook, data.path());
    let mut ids = Vec::new();
    for n in 0..30 {
        ids.push(submit(&http, &intake.base, n).await);
    }
    // Kill once some, not all, are delivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let delivered = states(&http, &intake.base, &ids)
            .await
            .get("delivered")
            .copied();
        if delivered.unwrap_or(0) >= 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    intake.kill();

    let intake = Intake::start(&portal.webhook, data.path());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let counts = states(&http, &intake.base, &ids).await;
        if counts.get("delivered") == Some(&ids.len()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all delivered: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let out = data.path().join("leads.ndjson");
    let export = portal.b24(&[
        "export",
        "crm.lead.list",
        "--select",
        "ID",
        "--select",
        "ORIGIN_ID",
        "--format",
        "ndjson",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let mut per_origin: HashMap<String, u32> = HashMap::new();
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        *per_origin
            .entry(row["ORIGIN_ID"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    for id in &ids {
        assert_eq!(per_origin.get(id), Some(&1), "lead for {id}");
    }
    assert_eq!(per_origin.values().sum::<u32>(), 30, "{per_origin:?}");
}
