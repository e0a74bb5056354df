//! `approval-flow`: approvals as Bitrix24 tasks, decided from Telegram with one tap.
//!
//! ```text
//! approval-flow            # serve; the embedded sandbox portal and sandbox Telegram when unconfigured
//! approval-flow setup      # bind the flow's events on the installed portal
//! ```
//!
//! It runs as a Bitrix24 OAuth application (install handler `{WEBHOOK_URL}/bitrix24/install`)
//! or, with `BITRIX24_WEBHOOK_URL` and `BITRIX24_MEMBER_ID`, with one portal's incoming
//! webhook (events then come from an outgoing webhook verified by
//! `BITRIX24_OUTGOING_WEBHOOK_TOKEN`). Configuration from flags or the environment (and `.env`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bitrix24::Client;
use bitrix24::sandbox::SandboxPortal;
use bitrix24_connector::approvals::{
    ApprovalFlow, ApprovalSettings, DealRule, LeadRule, PortalAccess,
};
use bitrix24_connector::portals::Portals;
use bitrix24_connector::store::Store;
use clap::{Parser, Subcommand};
use tokio::sync::OnceCell;
use url::Url;

#[derive(Parser)]
#[command(
    name = "approval-flow",
    version,
    about = "Bitrix24 approvals decided from Telegram"
)]
struct Cli {
    /// Address to serve on.
    #[arg(long, env = "APPROVALS_LISTEN", default_value = "127.0.0.1:8091")]
    listen: String,
    /// Where the flow keeps its database.
    #[arg(
        long,
        global = true,
        env = "APPROVALS_DATA_DIR",
        default_value = "data/approval-flow"
    )]
    data_dir: PathBuf,
    /// The flow's public base URL (event handler, approvals page, Telegram webhook).
    #[arg(long, env = "WEBHOOK_URL")]
    public_url: Option<Url>,
    /// Receive Telegram updates by webhook at the public URL instead of long polling.
    #[arg(long, env = "APPROVALS_TELEGRAM_WEBHOOK")]
    telegram_webhook: bool,
    #[command(flatten)]
    telegram: bitrix24_examples::TelegramArgs,
    #[command(flatten)]
    app: bitrix24_examples::AppArgs,
    /// An incoming webhook of one portal (webhook mode).
    #[arg(long, env = "BITRIX24_WEBHOOK_URL", hide_env_values = true)]
    webhook: Option<String>,
    /// The portal's `member_id` in webhook mode (its outgoing webhook's events carry it).
    #[arg(long, env = "BITRIX24_MEMBER_ID")]
    member_id: Option<String>,
    /// The outgoing webhook's token, for ONUSERADD/ONUSERUPDATE and CRM events (several
    /// outgoing webhooks: their tokens separated by commas).
    #[arg(long, env = "BITRIX24_OUTGOING_WEBHOOK_TOKEN", hide_env_values = true)]
    outgoing_webhook_token: Option<String>,
    /// Required as a bearer token by `POST /approvals` and as `?key=` by the page outside the portal.
    #[arg(long, env = "APPROVALS_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// The user field with a person's Telegram id.
    #[arg(
        long,
        env = "APPROVALS_TELEGRAM_FIELD",
        default_value = "UF_TELEGRAM_ID"
    )]
    telegram_field: String,
    /// A deal stage that starts an approval, as STAGE=APPROVER[,APPROVER…] (repeatable).
    #[arg(
        long = "deal-stage",
        env = "APPROVALS_DEAL_STAGES",
        value_delimiter = ';'
    )]
    deal_stages: Vec<String>,
    /// Approvers of every new lead, comma-separated Bitrix24 user ids.
    #[arg(long, env = "APPROVALS_LEAD_APPROVERS", value_delimiter = ',')]
    lead_approvers: Vec<u64>,
    /// Reminders go out this many minutes before a deadline.
    #[arg(long, env = "APPROVALS_REMIND_BEFORE_MINUTES", default_value_t = 60)]
    remind_before_minutes: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Binds the flow's events on the installed portal and prints each step.
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
            eprintln!("approval-flow: {message}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli, public_url: Url) -> Result<ApprovalSettings, String> {
    let mut settings = ApprovalSettings::new(public_url);
    settings.telegram_field.clone_from(&cli.telegram_field);
    settings
        .outgoing_webhook_token
        .clone_from(&cli.outgoing_webhook_token);
    let real_portal = cli.app.client_id.is_some() || cli.webhook.is_some();
    if real_portal && cli.api_token.is_none() {
        // Without a token anyone who can reach the flow could create approvals and read the
        // page; only the embedded sandbox runs open.
        return Err(
            "set APPROVALS_API_TOKEN: POST /approvals and the page need it outside the sandbox"
                .into(),
        );
    }
    settings.api_token.clone_from(&cli.api_token);
    settings.telegram_webhook = cli.telegram_webhook;
    settings.remind_before = Duration::from_secs(cli.remind_before_minutes.saturating_mul(60));
    for rule in &cli.deal_stages {
        let (stage, approvers) = rule
            .split_once('=')
            .ok_or_else(|| format!("--deal-stage {rule:?}: expected STAGE=APPROVER[,APPROVER…]"))?;
        let approvers = approvers
            .split(',')
            .map(|id| id.trim().parse::<u64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("--deal-stage {rule:?}: approvers are Bitrix24 user ids"))?;
        settings
            .deal_rules
            .push(DealRule::new(stage.trim(), approvers));
    }
    if !cli.lead_approvers.is_empty() {
        settings.lead_rule = Some(LeadRule::new(cli.lead_approvers.clone()));
    }
    Ok(settings)
}

/// How the flow reaches Bitrix24: webhook, registered app, or the sandbox as an app.
async fn portal_access(
    cli: &Cli,
    store: &Store,
    flow_cell: &Arc<OnceCell<ApprovalFlow>>,
) -> Result<(PortalAccess, Option<Portals>, Option<SandboxPortal>), String> {
    if let Some(webhook) = &cli.webhook {
        let member_id = cli
            .member_id
            .clone()
            .ok_or("BITRIX24_WEBHOOK_URL needs BITRIX24_MEMBER_ID (the portal's member_id)")?;
        let client =
            Client::from_webhook(webhook).map_err(|e| format!("invalid webhook URL: {e}"))?;
        return Ok((PortalAccess::Webhook { member_id, client }, None, None));
    }
    let (app, sandbox) = cli.app.app().await?;
    // Every install and update (which drops event bindings) binds the events again.
    let hook_cell = flow_cell.clone();
    let portals = Portals::new(store.clone(), app).on_install(move |installation, _client| {
        let cell = hook_cell.clone();
        Box::pin(async move {
            let Some(flow) = cell.get() else { return };
            match flow.setup(Some(&installation.member_id)).await {
                Ok(steps) => {
                    for step in steps {
                        println!("setup {}: {step}", installation.domain);
                    }
                }
                Err(error) => eprintln!(
                    "approval-flow: setup on {} failed: {error}",
                    installation.domain
                ),
            }
        })
    });
    Ok((PortalAccess::App(portals.clone()), Some(portals), sandbox))
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
    let settings = settings(&cli, public_url.clone())?;
    let (bot, sandbox_telegram) = cli.telegram.bot().await?;
    let flow_cell: Arc<OnceCell<ApprovalFlow>> = Arc::new(OnceCell::new());
    let (access, portals, sandbox_portal) = portal_access(&cli, &store, &flow_cell).await?;
    let flow = ApprovalFlow::new(store, access, bot, settings);
    let _ = flow_cell.set(flow.clone());

    if matches!(cli.command, Some(Command::Setup)) {
        for step in flow
            .setup(cli.member_id.as_deref())
            .await
            .map_err(|e| e.to_string())?
        {
            println!("{step}");
        }
        return Ok(());
    }

    let mut app = flow.router().await.map_err(|e| e.to_string())?;
    if let Some(portals) = &portals {
        app = portals.router().merge(app);
    }
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let base = public_url.as_str().trim_end_matches('/');
    println!("approval flow listening on http://{address} (approvals page {base}/approvals)");
    if let Some(portal) = &sandbox_portal {
        portal
            .install_app_to(&format!("{base}/bitrix24/install"))
            .await
            .map_err(|e| format!("installing the app on the sandbox portal failed: {e}"))?;
        println!(
            "sandbox portal: {} (app installed, events bound)",
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
    let workers = tokio::spawn(flow.run(async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    let _ = workers.await;
    server.abort();
    Ok(())
}
