//! The `telegram-bridge` binary with no configuration: it brings up the sandbox portal and a
//! sandbox Telegram, installs itself as the portal's app and sets the connector up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use bitrix24_e2e::binary;

#[test]
fn the_bridge_runs_on_the_sandboxes_with_no_configuration() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary("telegram-bridge"))
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("BITRIX24_CLIENT_ID")
        .env_remove("BITRIX24_CLIENT_SECRET")
        .env_remove("TELEGRAM_BOT_TOKEN")
        .env_remove("WEBHOOK_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("telegram-bridge starts");
    // A bridge that never gets ready must fail the test, not hang it.
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(90));
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("status:");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = seen.join("\n");
    assert!(
        text.contains("telegram bridge listening on http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("registered connector"), "{text}");
    assert!(text.contains("bound ONIMCONNECTORMESSAGEADD"), "{text}");
    assert!(text.contains("activated on open line"), "{text}");
    assert!(
        text.contains("status: configured=true working=true error=false"),
        "{text}"
    );
}
