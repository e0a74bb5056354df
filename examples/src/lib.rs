//! Example programs for the `bitrix24` SDK; see the `examples/` folder of this package.
//!
//! Each example is a small program about one idea. They use the portal named by the
//! `BITRIX24_WEBHOOK_URL` environment variable, or bring up the embedded sandbox portal when it
//! is not set, so every example runs on a fresh machine.

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, Limits};

/// The portal an example talks to.
pub struct Portal {
    /// A client for it (an incoming webhook).
    pub client: Client,
    /// The embedded sandbox, when `BITRIX24_WEBHOOK_URL` is not set; it stops when dropped.
    pub sandbox: Option<SandboxPortal>,
}

/// Connects to `BITRIX24_WEBHOOK_URL`, or starts a sandbox portal with `seed_leads` leads and
/// the standard plan's limits.
///
/// # Errors
/// When the webhook URL is malformed or the sandbox cannot start.
pub async fn connect(seed_leads: u64) -> bitrix24::Result<Portal> {
    if let Ok(webhook) = std::env::var("BITRIX24_WEBHOOK_URL") {
        return Ok(Portal {
            client: Client::from_webhook(webhook)?,
            sandbox: None,
        });
    }
    let sandbox = SandboxPortal::builder()
        .limits(Limits::standard())
        .seed_leads(seed_leads)
        .start()
        .await?;
    eprintln!("BITRIX24_WEBHOOK_URL is not set: using the embedded sandbox portal");
    Ok(Portal {
        client: sandbox.client()?,
        sandbox: Some(sandbox),
    })
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("client", &self.client)
            .field("sandbox", &self.sandbox.is_some())
            .finish()
    }
}
