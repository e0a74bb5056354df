//! `b24 sandbox`: a sandbox portal on 127.0.0.1 for other tools and languages.

use std::path::PathBuf;
use std::time::Duration;

use bitrix24::Limits;
use bitrix24::sandbox::SandboxPortal;
use clap::ValueEnum;

#[derive(Debug, clap::Args)]
pub(crate) struct SandboxArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8088)]
    port: u16,
    /// Rate and operating limits to enforce, as on the portal's plan.
    #[arg(long, value_enum, default_value_t = Plan::Standard)]
    plan: Plan,
    /// Leads to create at start.
    #[arg(long, default_value_t = 0)]
    seed_leads: u64,
    /// Extra delay before every reply, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// The webhook's secret (default: random).
    #[arg(long)]
    webhook_secret: Option<String>,
    /// Load the portal's state from this file if it exists, and save it there on exit.
    #[arg(long)]
    snapshot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Plan {
    /// 50 requests, 2 per second; 480 s per method in 10 minutes.
    Standard,
    /// 250 requests, 5 per second; 480 s per method in 10 minutes.
    Enterprise,
    /// No limits.
    Off,
}

impl Plan {
    fn limits(self) -> Limits {
        match self {
            Self::Standard => Limits::standard(),
            Self::Enterprise => Limits::enterprise(),
            Self::Off => Limits::unlimited(),
        }
    }
}

/// Waits for Ctrl-C, or for SIGTERM where there is one (a supervisor stopping the process).
async fn stopped() -> Result<(), String> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map_err(|e| format!("cannot wait for Ctrl-C: {e}")),
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))
    }
}

pub(crate) async fn sandbox(args: SandboxArgs) -> Result<(), String> {
    let mut builder = SandboxPortal::builder()
        .port(args.port)
        .limits(args.plan.limits())
        .seed_leads(args.seed_leads)
        .latency(Duration::from_millis(args.latency_ms));
    if let Some(secret) = args.webhook_secret {
        builder = builder.webhook_secret(secret);
    }
    if let Some(path) = &args.snapshot
        && path.exists()
    {
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let snapshot = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a sandbox snapshot: {e}", path.display()))?;
        builder = builder.restore(snapshot);
    }
    let portal = builder.start().await.map_err(|e| e.to_string())?;
    let app = portal.oauth_app();
    say!("sandbox portal: {}", portal.base_url());
    say!("webhook: {}", portal.webhook_url());
    say!(
        "oauth app: client_id={} token_url={}",
        app.client_id(),
        app.token_url()
    );
    say!(
        "oauth app client_secret: {}",
        app.client_secret().expose_secret()
    );
    say!("plan: {:?}; seeded leads: {}", args.plan, args.seed_leads);
    say!("press Ctrl-C to stop");

    stopped().await?;
    if let Some(path) = &args.snapshot {
        let snapshot = portal.snapshot().map_err(|e| e.to_string())?;
        tokio::fs::write(path, snapshot.to_string())
            .await
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        say!("state saved to {}", path.display());
    }
    portal.shutdown().await;
    Ok(())
}
