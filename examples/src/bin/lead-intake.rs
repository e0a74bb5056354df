//! `lead-intake`: a website's contact form endpoint that never loses or duplicates a lead.
//!
//! ```text
//! lead-intake                      # serve POST /leads; the embedded sandbox portal when no webhook
//! lead-intake doctor               # check the portal connection, one line per problem
//! ```
//!
//! Configuration comes from flags or the environment (and `.env`): `BITRIX24_WEBHOOK_URL`,
//! `BITRIX24_RESPONSIBLE_USER_ID`, `LEADS_LISTEN`, `LEADS_DATA_DIR`, `LEADS_CORS_ORIGINS`, …
//! (`lead-intake --help` lists them all).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, Limits};
use bitrix24_connector::leads::doctor;
use bitrix24_connector::leads::{IntakeSettings, LeadIntake, TelegramNotify};
use bitrix24_connector::store::Store;
use clap::{Parser, Subcommand};

// No Debug: the options hold the webhook URL and tokens.
#[derive(Parser)]
#[command(
    name = "lead-intake",
    version,
    about = "Website form → Bitrix24 CRM leads, exactly once"
)]
struct Cli {
    /// Incoming webhook URL of the portal (scopes crm, disk, user); the embedded sandbox when unset.
    #[arg(
        long,
        global = true,
        env = "BITRIX24_WEBHOOK_URL",
        hide_env_values = true
    )]
    webhook: Option<String>,
    /// Address to serve on.
    #[arg(long, env = "LEADS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Where submissions and their files are kept until delivered.
    #[arg(
        long,
        global = true,
        env = "LEADS_DATA_DIR",
        default_value = "data/lead-intake"
    )]
    data_dir: PathBuf,
    /// `ASSIGNED_BY_ID` of new leads.
    #[arg(long, global = true, env = "BITRIX24_RESPONSIBLE_USER_ID")]
    responsible_user_id: Option<u64>,
    /// The lead's title; `{name}` is the customer's name.
    #[arg(
        long,
        env = "LEADS_TITLE_TEMPLATE",
        default_value = "Заявка с сайта - {name}"
    )]
    title_template: String,
    /// The Disk folder (common storage) that receives attachments.
    #[arg(
        long,
        global = true,
        env = "LEADS_DISK_FOLDER",
        default_value = "Заявки с сайта"
    )]
    disk_folder: String,
    /// Origins allowed to post from a browser, comma-separated (`*` for any).
    #[arg(long, env = "LEADS_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Region for phone numbers written without a country code (ISO 3166 code).
    #[arg(long, env = "LEADS_PHONE_REGION", default_value = "RU")]
    phone_region: String,
    /// Submissions accepted per client address per minute (0: no limit).
    #[arg(long, env = "LEADS_RATE_LIMIT_PER_MINUTE", default_value_t = 30)]
    rate_limit_per_minute: u32,
    /// The header carrying the client's address behind a reverse proxy (e.g. X-Forwarded-For).
    #[arg(long, env = "LEADS_CLIENT_IP_HEADER")]
    client_ip_header: Option<String>,
    /// Do not look for an existing contact by phone and e-mail.
    #[arg(long, env = "LEADS_NO_DUPLICATE_CHECK")]
    no_duplicate_check: bool,
    /// Bearer token for `POST /leads/{id}/retry`; without one only loopback clients may re-drive.
    #[arg(long, env = "LEADS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Telegram chat told about every new lead (needs the bot's token too).
    #[arg(long, env = "LEADS_TELEGRAM_CHAT_ID")]
    telegram_chat_id: Option<i64>,
    /// The bot for notifications.
    #[arg(long, env = "TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    telegram_bot_token: Option<String>,
    /// The Bot API server (a sandbox Telegram's URL in tests).
    #[arg(long, env = "TELEGRAM_API_URL")]
    telegram_api_url: Option<url::Url>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks the portal connection and prints one line per check; exit 1 if any fails.
    Doctor,
}

impl Cli {
    fn settings(&self) -> Result<IntakeSettings, String> {
        let mut settings = IntakeSettings::default();
        settings.form.default_region = phonenumber::country::Id::from_str(
            &self.phone_region.to_ascii_uppercase(),
        )
        .map_err(|_| {
            format!(
                "LEADS_PHONE_REGION: {:?} is not a region code like RU",
                self.phone_region
            )
        })?;
        settings.title_template.clone_from(&self.title_template);
        settings.responsible_user_id = self.responsible_user_id;
        settings.disk_folder.clone_from(&self.disk_folder);
        settings.files_dir = self.data_dir.join("files");
        settings.cors_origins = self
            .cors_origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        settings.rate_limit_per_minute = self.rate_limit_per_minute;
        settings.client_ip_header.clone_from(&self.client_ip_header);
        settings.duplicate_check = !self.no_duplicate_check;
        settings.admin_token.clone_from(&self.admin_token);
        settings.notify = match (self.telegram_chat_id, &self.telegram_bot_token) {
            (Some(chat), Some(token)) => {
                let mut notify = TelegramNotify::new(token.clone(), chat);
                if let Some(url) = &self.telegram_api_url {
                    notify = notify.api_url(url.clone());
                }
                Some(notify)
            }
            (Some(_), None) => {
                return Err("LEADS_TELEGRAM_CHAT_ID is set but TELEGRAM_BOT_TOKEN is not".into());
            }
            _ => None,
        };
        Ok(settings)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    bitrix24_examples::init_logging();
    match run(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("lead-intake: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let settings = cli.settings()?;
    // The sandbox lives as long as this function: it is the portal when no webhook is set.
    let (client, _sandbox) = if let Some(webhook) = &cli.webhook {
        let client =
            Client::from_webhook(webhook).map_err(|e| format!("invalid webhook URL: {e}"))?;
        (client, None)
    } else {
        let sandbox = SandboxPortal::builder()
            .limits(Limits::standard())
            .start()
            .await
            .map_err(|e| format!("the sandbox portal cannot start: {e}"))?;
        eprintln!(
            "BITRIX24_WEBHOOK_URL is not set: delivering to the embedded sandbox portal at {}",
            sandbox.base_url()
        );
        let client = sandbox.client().map_err(|e| e.to_string())?;
        (client, Some(sandbox))
    };
    let findings = doctor::diagnose(&client, &settings).await;
    let healthy = findings.iter().all(doctor::Finding::passed);
    if matches!(cli.command, Some(Command::Doctor)) {
        for finding in &findings {
            println!("{finding}");
        }
        return Ok(if healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    for finding in findings.iter().filter(|f| !f.passed()) {
        // Submissions are still accepted and kept: they are delivered once this is fixed.
        eprintln!("lead-intake: warning: {finding}");
    }
    tokio::fs::create_dir_all(&cli.data_dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", cli.data_dir.display()))?;
    let store = match std::env::var("DATABASE_URL") {
        Ok(url) => Store::open_url(&url).await,
        Err(_) => Store::open(cli.data_dir.join("connector.db")).await,
    }
    .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("lead intake listening on http://{address} (POST /leads, GET /leads/{{id}})");
    LeadIntake::new(client, store, settings)
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("the server failed: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
