//! The `approval-flow` binary with no configuration: it brings up the sandbox portal and a
//! sandbox Telegram, installs itself as the portal's app, binds its events and serves the
//! approvals page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use bitrix24_e2e::binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_flow_runs_on_the_sandboxes_with_no_configuration() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary("approval-flow"))
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("BITRIX24_CLIENT_ID")
        .env_remove("BITRIX24_CLIENT_SECRET")
        .env_remove("BITRIX24_WEBHOOK_URL")
        .env_remove("TELEGRAM_BOT_TOKEN")
        .env_remove("WEBHOOK_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("approval-flow starts");
    // A flow that never gets ready must fail the test, not hang it.
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(90));
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let stdout = child.stdout.take().unwrap();
    let seen = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.contains("ONUSERUPDATE");
            seen.push(line);
            if done {
                break;
            }
        }
        seen.join("\n")
    })
    .await
    .unwrap();
    assert!(
        seen.contains("approval flow listening on http://127.0.0.1:"),
        "{seen}"
    );
    assert!(seen.contains("bound ONTASKUPDATE"), "{seen}");
    assert!(seen.contains("bound ONCRMDEALUPDATE"), "{seen}");
    let page = seen
        .lines()
        .find_map(|line| line.split("approvals page ").nth(1))
        .map(|rest| rest.trim_end_matches(')').to_owned())
        .unwrap();
    let response = reqwest::get(&page).await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{body}");
    assert!(body.to_lowercase().contains("approval"), "{body}");
}
