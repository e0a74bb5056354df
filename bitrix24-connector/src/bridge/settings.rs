//! How the bridge presents itself to the portal and how it delivers.

use std::time::Duration;

use url::Url;

/// Settings of the Telegram ↔ Open Lines bridge.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BridgeSettings {
    /// The connector's id in the portal (`imconnector.register` `ID`: `[a-z0-9_]`).
    pub connector_id: String,
    /// The connector's name in the contact center.
    pub connector_name: String,
    /// The open line to activate; the portal's first line when `None`.
    pub line: Option<u64>,
    /// Where the portal and Telegram reach this bridge (event handler, file links, placement,
    /// Telegram webhook).
    pub public_url: Url,
    /// How long a file link given to the portal stays valid.
    pub file_link_ttl: Duration,
    /// Receive Telegram updates by webhook (needs an https `public_url`) instead of polling.
    pub telegram_webhook: bool,
    /// Messages delivered at once (different chats; one chat is always in order).
    pub concurrency: usize,
    /// Attempts after which a message that keeps failing for transient reasons is given up
    /// and reported in the open line.
    pub max_attempts: u32,
    /// The first retry's delay; doubled each attempt up to `backoff_max`.
    pub backoff_base: Duration,
    /// The longest delay between attempts.
    pub backoff_max: Duration,
    /// How long a worker owns a claimed item.
    pub lease: Duration,
    /// How often the workers look for due work when nothing wakes them.
    pub poll_interval: Duration,
}

impl BridgeSettings {
    /// Defaults for a bridge reachable at `public_url`.
    pub fn new(public_url: Url) -> Self {
        Self {
            connector_id: "telegram_bridge_rs".into(),
            connector_name: "Telegram (bridge)".into(),
            line: None,
            public_url,
            file_link_ttl: Duration::from_secs(3_600),
            telegram_webhook: false,
            concurrency: 8,
            max_attempts: 30,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(120),
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
        }
    }

    /// The delay before attempt `attempt + 1`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1_u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }

    /// An absolute URL under `public_url`.
    pub(crate) fn url(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}/{}", path.trim_start_matches('/'))
    }
}
