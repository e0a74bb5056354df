//! Which portal a command talks to: `--webhook`, else `BITRIX24_WEBHOOK_URL`, else an OAuth
//! app from `BITRIX24_CLIENT_ID`, `BITRIX24_CLIENT_SECRET` and a tokens file. `.env` is read
//! first, without overriding variables already set.

use std::path::PathBuf;

use bitrix24::auth::{JsonFileTokenStore, TokenStore, WebhookUrl};
use bitrix24::{Client, ClientBuilder, OAuthApp};

/// Connection options shared by every command that talks to a portal.
#[derive(Clone, clap::Args)]
pub(crate) struct Connection {
    /// Incoming webhook URL, `https://<portal>/rest/<user>/<secret>/`; else `BITRIX24_WEBHOOK_URL`.
    #[arg(
        long,
        global = true,
        env = "BITRIX24_WEBHOOK_URL",
        hide_env_values = true
    )]
    pub(crate) webhook: Option<String>,
    /// Tokens file of an OAuth app (JSON written by the SDK's token store); used when no
    /// webhook is given, with `BITRIX24_CLIENT_ID` and `BITRIX24_CLIENT_SECRET`.
    #[arg(long, global = true, env = "BITRIX24_TOKENS_FILE")]
    pub(crate) tokens_file: Option<PathBuf>,
}

impl std::fmt::Debug for Connection {
    // The webhook URL carries its secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("webhook", &self.webhook.as_ref().map(|_| "<set>"))
            .field("tokens_file", &self.tokens_file)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A client for the configured portal.
    pub(crate) async fn client(&self) -> Result<Client, String> {
        self.builder().await?.build().map_err(|e| e.to_string())
    }

    /// A client builder for the configured portal, for commands that add to it.
    pub(crate) async fn builder(&self) -> Result<ClientBuilder, String> {
        if let Some(webhook) = &self.webhook {
            return Ok(Client::builder().webhook(webhook));
        }
        let (Ok(id), Ok(secret), Some(file)) = (
            std::env::var("BITRIX24_CLIENT_ID"),
            std::env::var("BITRIX24_CLIENT_SECRET"),
            &self.tokens_file,
        ) else {
            return Err("no portal: pass --webhook URL or set BITRIX24_WEBHOOK_URL (or BITRIX24_CLIENT_ID, \
                        BITRIX24_CLIENT_SECRET and --tokens-file for an OAuth app)"
                .to_owned());
        };
        let mut app = OAuthApp::new(id, secret);
        if let Ok(token_url) = std::env::var("BITRIX24_OAUTH_TOKEN_URL") {
            let url = url::Url::parse(&token_url)
                .map_err(|_| "BITRIX24_OAUTH_TOKEN_URL is not a URL".to_owned())?;
            app = app.with_token_url(url);
        }
        let store = JsonFileTokenStore::new(file);
        let tokens = store
            .load()
            .await
            .map_err(|e| format!("cannot read the tokens file: {e}"))?
            .ok_or_else(|| format!("{} holds no tokens", file.display()))?;
        Ok(Client::builder().oauth(app, tokens, store))
    }

    /// The secrets behind this connection, as text: the webhook's secret, or the OAuth app's
    /// client secret and the tokens in the tokens file now. For checks that none leaked.
    pub(crate) async fn secrets(&self) -> Vec<String> {
        if let Some(webhook) = &self.webhook {
            return WebhookUrl::parse(webhook)
                .map(|w| vec![w.secret().expose_secret().to_owned()])
                .unwrap_or_default();
        }
        let mut secrets: Vec<String> = std::env::var("BITRIX24_CLIENT_SECRET")
            .into_iter()
            .collect();
        if let Some(file) = &self.tokens_file
            && let Ok(Some(tokens)) = JsonFileTokenStore::new(file).load().await
        {
            secrets.push(tokens.access_token.expose_secret().to_owned());
            secrets.push(tokens.refresh_token.expose_secret().to_owned());
        }
        secrets.retain(|s| !s.is_empty());
        secrets
    }
}
