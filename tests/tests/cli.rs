//! The `b24` command-line tool and the demo, run as a user runs them: as processes, against a
//! sandbox portal started with `b24 sandbox`, checking their output and exit status.
// The helpers below are test code too: a failure should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use bitrix24_e2e::{Sandbox, binary, text};

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
    let secret = sandbox.secret();
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
    assert!(reply["missing"].get("result").is_none());
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // References between commands resolve in order; all succeeding means exit status 0.
    std::fs::write(
        &file,
        r#"{ "add": "crm.lead.add?fields[TITLE]=from%20a%20batch", "read": "crm.lead.get?id=$result[add]" }"#,
    )
    .unwrap();
    let out = sandbox.b24(&["batch", file.to_str().unwrap(), "--raw"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["add"]["result"], 2);
    assert_eq!(reply["read"]["result"]["TITLE"], "from a batch");
}

/// Every file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn record_writes_scrubbed_fixtures_and_says_which() {
    let sandbox = Sandbox::start(2);
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("fixtures");
    let out_arg = out_dir.to_str().unwrap();

    let out = sandbox.b24(&["record", "--out", out_arg, "user.current"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("user.current: wrote "), "{stdout}");

    let script = dir.path().join("calls.json");
    std::fs::write(
        &script,
        r#"{
            "lead": { "method": "crm.lead.get", "params": { "id": 1 } },
            "add": { "method": "crm.lead.add", "params": { "fields": { "TITLE": "x", "NAME": "Ivan", "PHONE": [{ "VALUE": "+79990001122" }] } } },
            "missing": "crm.lead.get?id=999"
        }"#,
    )
    .unwrap();
    let out = sandbox.b24(&[
        "record",
        "--out",
        out_arg,
        "--script",
        script.to_str().unwrap(),
    ]);
    // The failed call is reported and its error reply recorded, like the others.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "lead (crm.lead.get): wrote",
        "add (crm.lead.add): wrote",
        "missing (crm.lead.get): wrote",
        "recorded 2 of 3 calls",
    ] {
        assert!(stdout.contains(expected), "`{expected}` missing: {stdout}");
    }
    assert!(
        text(&out.stderr).contains("Not found"),
        "{}",
        text(&out.stderr)
    );

    let files = files_under(&out_dir);
    assert_eq!(files.len(), 4, "{files:?}");
    let mut statuses = Vec::new();
    for file in &files {
        let body = std::fs::read_to_string(file).unwrap();
        for secret in [sandbox.secret(), "127.0.0.1", "Ivan", "79990001122"] {
            assert!(
                !body.contains(secret),
                "{secret} leaked into {}: {body}",
                file.display()
            );
        }
        let fixture: serde_json::Value = serde_json::from_str(&body).unwrap();
        let method = fixture["method"].as_str().unwrap();
        assert!(file.ends_with(format!(
            "{}/{method}/{}",
            method.split('.').next().unwrap(),
            file.file_name().unwrap().to_str().unwrap()
        )));
        assert!(fixture["request"].is_object() && !fixture["response"].is_null());
        statuses.push(fixture["status"].as_u64().unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 400]);
    assert!(out_dir.join("user/user.current").is_dir());
}

#[test]
fn the_demo_runs_to_the_end() {
    let out = Command::new(binary("demo")).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        !stdout.contains("to come"),
        "the demo still announces flows to come:\n{stdout}"
    );
    for expected in [
        "signed in as",
        "token refresh",
        "leads exported",
        "no duplicate",
        "delivered",
        // The lead intake, in-process: a double click and a lost reply, one lead each.
        "the customer sends the form",
        "POST /leads (multipart/form-data, Idempotency-Key: form-7f3a9c2e-1) -> 202",
        "POST /leads again, same key (a double click) -> 202",
        "replayed: true",
        "Access-Control-Allow-Origin: https://shop.example.com",
        "CRM lead",
        "\"Заявка с сайта - Анна Смирнова\", phone +79991234567",
        "holds смета.pdf",
        "exactly once: 1 lead for 2 posts",
        "delivered after 2 attempts",
        "crm.lead.add sent 1 time(s)",
        "exactly once: 1 lead for 1 post and 2 delivery attempts",
        "Lead intake: a form with a PDF, posted twice",
        "Lead intake: a lost reply is looked up, not redone",
        // The Telegram bridge: the customer's message in the open line, the answer in Telegram.
        "Анна writes to the bot in Telegram: \"Здравствуйте! Сколько стоит доставка в Казань?\"",
        "from the customer, message",
        ": \"Здравствуйте! Сколько стоит доставка в Казань?\"",
        "+ file ",
        "Анна receives in Telegram (parse_mode HTML):",
        "| Добрый день, <b>Анна</b>! Доставка в Казань — <i>1 500 ₽</i>",
        "the bridge confirms: imconnector.send.status.delivery",
        "Bridge: a Telegram message reaches an open line",
        // The approval flow: approved from Telegram, the task completed.
        "buttons: ✅ Approve | ❌ Reject | 💬 Comment",
        "she presses Approve; the bot answers the button: \"Approved.\"",
        ": approved in telegram by user 4",
        "(completed), comment:",
        "buttons: removed",
        "| <b>✅ Approved</b> in Telegram",
        "is notified in Bitrix24: \"Approval «Оплата счёта поставщику: 48 000 ₽» was approved",
        "Approvals: decided from Telegram, task updated",
    ] {
        assert!(
            stdout.contains(expected),
            "`{expected}` missing from the demo's output:\n{stdout}"
        );
    }
}

/// Sends one HTTP POST to `address` and returns the status code.
fn post(address: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /handler HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn events_listen_prints_verified_events_and_refuses_forged_ones() {
    let mut child = Command::new(binary("b24"))
        .args(["events", "listen", "--port", "0", "--token", "tok-42"])
        .env_remove("BITRIX24_APPLICATION_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let address = first
        .strip_prefix("listening: http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();

    let event = "event=ONCRMLEADADD&event_handler_id=7&data%5BFIELDS%5D%5BID%5D=42&ts=1700000000\
                 &auth%5Bdomain%5D=example.bitrix24.com&auth%5Bmember_id%5D=m1&auth%5Baccess_token%5D=secret-access";
    assert_eq!(
        post(
            &address,
            &format!("{event}&auth%5Bapplication_token%5D=forged")
        ),
        401
    );
    assert_eq!(post(&address, "not-an-event"), 400);
    assert_eq!(
        post(
            &address,
            &format!("{event}&auth%5Bapplication_token%5D=tok-42")
        ),
        200
    );

    // Only the accepted event is printed, and never its tokens.
    let line = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !line.contains("secret-access") && !line.contains("tok-42"),
        "{line}"
    );
    let printed: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(printed["event"], "ONCRMLEADADD");
    assert_eq!(printed["verified"], true);
    assert_eq!(printed["typed"], true);
    assert_eq!(printed["data"]["FIELDS"]["ID"], "42");
}

#[test]
fn events_bind_needs_an_application_and_says_so() {
    let sandbox = Sandbox::start(0);
    let out = sandbox.b24(&["events", "bind", "ONCRMLEADADD", "https://example.com/h"]);
    let stderr = text(&out.stderr);
    // An incoming webhook has no application context; the portal's refusal is one line.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("event.bind"), "{stderr}");
}

#[test]
fn the_examples_run_on_the_embedded_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let leads = dir.path().join("leads.ndjson");
    let table: [(&str, &[&str], &str); 6] = [
        ("quickstart", &[], "signed in as"),
        (
            "export_leads",
            &[leads.to_str().unwrap()],
            "exported 20000 leads",
        ),
        ("upload_file", &[], "downloaded 23 bytes back"),
        ("event_receiver", &[], "verified ONCRMLEADADD for lead 1"),
        ("oauth_app", &[], "token refreshes: 1"),
        (
            "batch",
            &[],
            "batch_all: 120 of 120 leads created in 3 requests",
        ),
    ];
    for (example, args, expected) in table {
        let out = Command::new(binary(&format!("examples/{example}")))
            .args(args)
            .env_remove("BITRIX24_WEBHOOK_URL")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(expected),
            "{example}: {stdout}{}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_to_string(&leads).unwrap().lines().count(),
        20_000
    );
    // oauth_app: the install left one portal's tokens, and the refresh replaced them there.
    let tokens: Vec<PathBuf> = files_under(&dir.path().join("tokens"));
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tokens[0]).unwrap()).unwrap();
    assert!(
        stored["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
}
