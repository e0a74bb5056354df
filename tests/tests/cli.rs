//! The `b24` command-line tool and the demo, run as a user runs them: as processes, against a
//! sandbox portal started with `b24 sandbox`, checking their output and exit status.
// The helpers below are test code too: a failure should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// The path of a binary of the `bitrix24-examples` package, built once if missing.
fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let path = dir.join(name);
    if !path.exists() {
        BUILT.get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "bitrix24-examples", "--bins"])
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the binaries failed");
        });
    }
    path
}

/// A `b24 sandbox` process, stopped when dropped.
struct Sandbox {
    child: Child,
    webhook: String,
}

impl Sandbox {
    fn start(seed_leads: u32) -> Self {
        let mut child = Command::new(binary("b24"))
            .args([
                "sandbox",
                "--port",
                "0",
                "--plan",
                "standard",
                "--seed-leads",
                &seed_leads.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("b24 sandbox starts");
        let stdout = child.stdout.take().unwrap();
        let mut webhook = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(url) = line.strip_prefix("webhook: ") {
                webhook = Some(url.trim().to_owned());
                break;
            }
        }
        let webhook = webhook.expect("b24 sandbox prints a `webhook: …` line");
        assert!(
            webhook.starts_with("http://127.0.0.1:") && webhook.contains("/rest/1/"),
            "{webhook}"
        );
        Self { child, webhook }
    }

    fn b24(&self, args: &[&str]) -> Output {
        Command::new(binary("b24"))
            .args(args)
            .args(["--webhook", &self.webhook])
            .env_remove("BITRIX24_WEBHOOK_URL")
            .output()
            .unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn call_prints_the_result_and_errors_are_one_line() {
    let sandbox = Sandbox::start(10);
    let out = sandbox.b24(&[
        "call",
        "crm.lead.add",
        "fields[TITLE]=x",
        "fields[PHONE][0][VALUE]=+79990001122",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id: u64 = text(&out.stdout).trim().parse().expect("the new id alone");
    assert_eq!(id, 11);

    let out = sandbox.b24(&["call", "crm.lead.get", &format!("id={id}")]);
    let lead: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(lead["PHONE"][0]["VALUE"], "+79990001122");

    let out = sandbox.b24(&["call", "crm.lead.get", "id=999999"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("crm.lead.get") && stderr.contains("Not found"),
        "{stderr}"
    );
    let secret = sandbox
        .webhook
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap();
    assert!(
        !stderr.contains(secret),
        "the webhook secret leaked: {stderr}"
    );
}

#[test]
fn insecure_or_missing_portals_are_refused_clearly() {
    let out = Command::new(binary("b24"))
        .args([
            "call",
            "profile",
            "--webhook",
            "http://example.com/rest/1/abc/",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("https"), "{}", text(&out.stderr));
    let out = Command::new(binary("b24"))
        .args(["call", "profile"])
        .env_remove("BITRIX24_WEBHOOK_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("BITRIX24_WEBHOOK_URL"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn export_writes_every_row_once_with_the_portals_field_names() {
    let sandbox = Sandbox::start(3000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.ndjson");
    let out = sandbox.b24(&[
        "export",
        "crm.lead.list",
        "--select",
        "ID",
        "--select",
        "TITLE",
        "--format",
        "ndjson",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = std::fs::read_to_string(&file).unwrap();
    let ids: Vec<u64> = body
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(row.get("TITLE").is_some(), "{line}");
            row["ID"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 3000);
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>().len(),
        3000,
        "every row once"
    );

    let out = sandbox.b24(&[
        "export",
        "crm.lead.list",
        "--select",
        "ID",
        "--select",
        "TITLE",
        "--filter",
        "STATUS_ID=NEW",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    assert_eq!(csv.lines().next(), Some("ID,TITLE"));
    assert_eq!(
        csv.lines().count(),
        1 + 750,
        "a quarter of the seeded leads are NEW"
    );
}

#[test]
fn batch_prints_each_commands_result() {
    let sandbox = Sandbox::start(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("commands.json");
    std::fs::write(
        &file,
        r#"{ "me": "user.current", "lead": { "method": "crm.lead.get", "params": { "id": "1" } }, "missing": "crm.lead.get?id=999" }"#,
    )
    .unwrap();
    let out = sandbox.b24(&["batch", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "one command failed");
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["me"]["result"]["ID"], "1");
    assert_eq!(reply["lead"]["result"]["ID"], "1");
    assert_eq!(reply["missing"]["error_description"], "Not found");
}

#[test]
fn the_demo_runs_to_the_end() {
    let out = Command::new(binary("demo")).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for expected in [
        "signed in as",
        "token refresh",
        "leads exported",
        "no duplicate",
        "delivered",
        "still to come",
    ] {
        assert!(
            stdout.contains(expected),
            "`{expected}` missing from the demo's output:\n{stdout}"
        );
    }
}
