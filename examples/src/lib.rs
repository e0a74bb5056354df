//! Example programs for the `bitrix24` SDK; see the `examples/` folder of this package.
//!
//! Each example is a small program about one idea. They use the portal named by the
//! `BITRIX24_WEBHOOK_URL` environment variable, or bring up the embedded sandbox portal when it
//! is not set, so every example runs on a fresh machine.

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, Limits};
use bitrix24_connector::sandbox_telegram::SandboxTelegram;

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

/// Logs to standard error: the connector at `info`, the SDK at `warn`, unless `RUST_LOG` says
/// otherwise. For the ready binaries.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bitrix24_connector=info,bitrix24=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// The bot for `token` (at `api_url` when given), or a sandbox Telegram and its bot when no
/// token is configured; the sandbox stops when dropped.
///
/// # Errors
/// When the sandbox Telegram cannot start.
pub async fn telegram_or_sandbox(
    token: Option<&str>,
    api_url: Option<&url::Url>,
) -> Result<(teloxide_core::Bot, Option<SandboxTelegram>), String> {
    if let Some(token) = token {
        let mut bot = teloxide_core::Bot::new(token);
        if let Some(url) = api_url {
            bot = bot.set_api_url(url.clone());
        }
        return Ok((bot, None));
    }
    let telegram = SandboxTelegram::start()
        .await
        .map_err(|e| format!("the sandbox Telegram cannot start: {e}"))?;
    eprintln!(
        "TELEGRAM_BOT_TOKEN is not set: using a sandbox Telegram at {}",
        telegram.api_url()
    );
    let bot = teloxide_core::Bot::new(telegram.token()).set_api_url(telegram.api_url());
    Ok((bot, Some(telegram)))
}

/// The registered Bitrix24 application (`client_id` and `client_secret`), or, with neither, a
/// sandbox portal (standard plan) and its application; the sandbox stops when dropped.
///
/// # Errors
/// When only one of the two is given, or the sandbox cannot start.
pub async fn app_or_sandbox(
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Result<(bitrix24::OAuthApp, Option<SandboxPortal>), String> {
    match (client_id, client_secret) {
        (Some(id), Some(secret)) => Ok((bitrix24::OAuthApp::new(id, secret), None)),
        (Some(_), None) | (None, Some(_)) => {
            Err("set both BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET".into())
        }
        (None, None) => {
            let portal = SandboxPortal::builder()
                .limits(Limits::standard())
                .start()
                .await
                .map_err(|e| format!("the sandbox portal cannot start: {e}"))?;
            eprintln!(
                "BITRIX24_CLIENT_ID is not set: using the embedded sandbox portal at {}",
                portal.base_url()
            );
            Ok((portal.oauth_app(), Some(portal)))
        }
    }
}

/// The Telegram options of the binaries that talk to a bot.
#[derive(Clone, clap::Args)]
pub struct TelegramArgs {
    /// The bot's token; a sandbox Telegram when unset.
    #[arg(long, env = "TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    pub telegram_bot_token: Option<String>,
    /// Another Bot API server.
    #[arg(long, env = "TELEGRAM_API_URL")]
    pub telegram_api_url: Option<url::Url>,
}

impl TelegramArgs {
    /// The configured bot, or a sandbox Telegram (see [`telegram_or_sandbox`]).
    ///
    /// # Errors
    /// When the sandbox Telegram cannot start.
    pub async fn bot(&self) -> Result<(teloxide_core::Bot, Option<SandboxTelegram>), String> {
        telegram_or_sandbox(
            self.telegram_bot_token.as_deref(),
            self.telegram_api_url.as_ref(),
        )
        .await
    }
}

impl std::fmt::Debug for TelegramArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramArgs")
            .field(
                "telegram_bot_token",
                &self.telegram_bot_token.as_ref().map(|_| "<set>"),
            )
            .field("telegram_api_url", &self.telegram_api_url)
            .finish()
    }
}

/// The Bitrix24 application options of the binaries that run as an OAuth app.
#[derive(Clone, clap::Args)]
pub struct AppArgs {
    /// The Bitrix24 application's client id; the embedded sandbox portal when unset.
    #[arg(long, env = "BITRIX24_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The Bitrix24 application's client secret.
    #[arg(long, env = "BITRIX24_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
}

impl AppArgs {
    /// The registered application, or a sandbox portal and its app (see [`app_or_sandbox`]).
    ///
    /// # Errors
    /// When only one of the two is given, or the sandbox cannot start.
    pub async fn app(&self) -> Result<(bitrix24::OAuthApp, Option<SandboxPortal>), String> {
        app_or_sandbox(self.client_id.as_deref(), self.client_secret.as_deref()).await
    }
}

impl std::fmt::Debug for AppArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppArgs")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}
