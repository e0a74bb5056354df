//! Receiving a bot's updates into its inbox, the one way a flow is configured for.

use teloxide_core::Bot;
use url::Url;

use super::inbox::TelegramInbox;

/// Receives updates into `inbox` until `shutdown`: with `webhook_secret`, points Telegram's
/// webhook at `{public_url}/telegram/webhook` (the flow's router serves it) and returns; without
/// one, long-polls. Failures are logged: a flow keeps serving its other side.
pub async fn receive(
    bot: Bot,
    inbox: TelegramInbox,
    public_url: &Url,
    webhook_secret: Option<String>,
    shutdown: impl Future<Output = ()>,
) {
    if let Some(secret) = webhook_secret {
        if let Err(error) = super::webhook::set_webhook(&bot, public_url, &secret, Vec::new()).await
        {
            tracing::error!(%error, "setting the Telegram webhook failed");
        }
        return;
    }
    if let Err(error) = super::polling::poll(bot, inbox, Vec::new(), shutdown).await {
        tracing::error!(%error, "Telegram polling stopped");
    }
}
