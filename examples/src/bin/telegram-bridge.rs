//! `telegram-bridge`: customers write in Telegram, operators answer in Bitrix24 Open Lines.
//!
//! ```text
//! telegram-bridge            # serve; the embedded sandbox portal and sandbox Telegram when unconfigured
//! telegram-bridge setup      # register the connector, bind its events, activate it on the line
//! ```
//!
//! It runs as a Bitrix24 OAuth application (imconnector methods refuse webhooks): register it
//! with the install handler `{WEBHOOK_URL}/bitrix24/install`. Configuration from flags or the
//! environment (and `.env`): `BITRIX24_CLIENT_ID`, `BITRIX24_CLIENT_SECRET`,
//! `TELEGRAM_BOT_TOKEN`, `WEBHOOK_URL` (the bridge's public base URL), `BRIDGE_LINE`, …
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bitrix24_connector::bridge::{Bridge, BridgeSettings};
use bitrix24_connector::portals::Portals;
use bitrix24_connector::store::Store;
use clap::{Parser, Subcommand};
use tokio::sync::OnceCell;
use url::Url;

#[derive(Parser)]
#[command(
    name = "telegram-bridge",
    version,
    about = "Telegram ↔ Bitrix24 Open Lines"
)]
struct Cli {
    /// Address to serve on.
    #[arg(long, env = "BRIDGE_LISTEN", default_value = "127.0.0.1:8090")]
    listen: String,
    /// Where the bridge keeps its database.
    #[arg(
        long,
        global = true,
        env = "BRIDGE_DATA_DIR",
        default_value = "data/telegram-bridge"
    )]
    data_dir: PathBuf,
    /// The bridge's public base URL (the portal's event handler, file links, Telegram's webhook).
    #[arg(long, env = "WEBHOOK_URL")]
    public_url: Option<Url>,
    /// Receive Telegram updates by webhook at the public URL instead of long polling.
    #[arg(long, env = "BRIDGE_TELEGRAM_WEBHOOK")]
    telegram_webhook: bool,
    #[command(flatten)]
    telegram: bitrix24_examples::TelegramArgs,
    #[command(flatten)]
    app: bitrix24_examples::AppArgs,
    /// The open line to connect (the portal's first line when unset).
    #[arg(long, global = true, env = "BRIDGE_LINE")]
    line: Option<u64>,
    /// The portal to serve when several installed the app.
    #[arg(long, global = true, env = "BRIDGE_MEMBER_ID")]
    member_id: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Registers the connector, binds its events and activates it on the line; prints each step.
    Setup,
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    bitrix24_examples::init_logging();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("telegram-bridge: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    tokio::fs::create_dir_all(&cli.data_dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", cli.data_dir.display()))?;
    let store = Store::open(cli.data_dir.join("connector.db"))
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = match &cli.public_url {
        Some(url) => url.clone(),
        None => Url::parse(&format!("http://{address}/")).map_err(|e| e.to_string())?,
    };

    let (app, sandbox_portal) = cli.app.app().await?;
    let (bot, sandbox_telegram) = cli.telegram.bot().await?;

    let mut settings = BridgeSettings::new(public_url.clone());
    settings.line = cli.line;
    settings.telegram_webhook = cli.telegram_webhook;
    // Every install and update (which drops event bindings) runs setup again.
    let bridge_cell: Arc<OnceCell<Bridge>> = Arc::new(OnceCell::new());
    let hook_cell = bridge_cell.clone();
    let portals = Portals::new(store.clone(), app).on_install(move |installation, _client| {
        let cell = hook_cell.clone();
        Box::pin(async move {
            let Some(bridge) = cell.get() else { return };
            match bridge.setup(Some(&installation.member_id)).await {
                Ok(report) => {
                    for step in report.steps {
                        println!("setup {}: {step}", installation.domain);
                    }
                }
                Err(error) => eprintln!(
                    "telegram-bridge: setup on {} failed: {error}",
                    installation.domain
                ),
            }
        })
    });
    let bridge = Bridge::new(store, portals.clone(), bot, settings)
        .await
        .map_err(|e| e.to_string())?;
    let _ = bridge_cell.set(bridge.clone());

    if matches!(cli.command, Some(Command::Setup)) {
        let report = bridge
            .setup(cli.member_id.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        for step in &report.steps {
            println!("{step}");
        }
        return if report.is_ready() {
            Ok(())
        } else {
            Err(format!(
                "the portal reports the connector not ready: {}",
                report.status
            ))
        };
    }

    let app = portals
        .router()
        .merge(bridge.router().await.map_err(|e| e.to_string())?)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("telegram bridge listening on http://{address} (public URL {public_url})");
    if let Some(portal) = &sandbox_portal {
        portal
            .install_app_to(&format!(
                "{}/bitrix24/install",
                public_url.as_str().trim_end_matches('/')
            ))
            .await
            .map_err(|e| format!("installing the app on the sandbox portal failed: {e}"))?;
        println!(
            "sandbox portal: {} (app installed, connector set up)",
            portal.base_url()
        );
    }
    if let Some(telegram) = &sandbox_telegram {
        println!(
            "sandbox Telegram Bot API: {} (token {})",
            telegram.api_url(),
            telegram.token()
        );
    }
    let workers = tokio::spawn(bridge.run(async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    let _ = workers.await;
    server.abort();
    Ok(())
}
