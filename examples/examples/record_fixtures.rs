//! Records the fixtures the snapshot tests replay: runs the replay script
//! (`bitrix24-sdk/tests/replay/script.rs`) against a fresh sandbox portal with recording on.
//!
//! ```text
//! cargo run -p bitrix24-examples --example record_fixtures            # writes ./fixtures
//! cargo run -p bitrix24-examples --example record_fixtures -- DIR
//! ```
//!
//! Recording a real portal works the same way: build the clients with
//! `ClientBuilder::record_to(dir)`; the fixtures are scrubbed of secrets, hosts and personal
//! data before they are written.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../../bitrix24-sdk/tests/replay/script.rs"]
mod script;

use bitrix24::auth::MemoryTokenStore;
use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, Limits};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures".to_owned());
    if std::path::Path::new(&dir).exists() {
        // Old fixtures of calls that changed would never be replayed again; files at the top
        // (the README) are not recordings and stay.
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(path)?;
            }
        }
    }
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .start()
        .await?;
    let webhook = Client::builder()
        .webhook(portal.webhook_url())
        .limits(Limits::unlimited())
        .record_to(&dir)
        .build()?;
    let app = Client::builder()
        .oauth(
            portal.oauth_app(),
            portal.install_app()?,
            MemoryTokenStore::new(),
        )
        .limits(Limits::unlimited())
        .record_to(&dir)
        .build()?;
    let outcomes = script::run(&webhook, &app).await?;
    println!("recorded {} steps into {dir}", outcomes.len());
    Ok(())
}
