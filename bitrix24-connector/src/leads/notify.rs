//! Tells a Telegram chat (the managers') about every delivered lead, with a link to it.

use std::time::Duration;

use teloxide_core::Bot;
use teloxide_core::RequestError;
use teloxide_core::payloads::SendMessageSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::{ChatId, LinkPreviewOptions, ParseMode};

use super::form::LeadForm;
use super::settings::TelegramNotify;

/// How many times a notification is tried before it is given up (and logged).
const ATTEMPTS: u32 = 3;
/// The longest `retry_after` honoured inline; a longer one gives the notification up.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// Sends lead notifications through a bot.
#[derive(Clone)]
pub(crate) struct Notifier {
    bot: Bot,
    chat: ChatId,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Bot`'s own Debug shows its token.
        f.debug_struct("Notifier")
            .field("chat", &self.chat)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    pub(crate) fn new(settings: TelegramNotify) -> Self {
        let mut bot = Bot::new(settings.bot_token);
        if let Some(url) = settings.api_url {
            bot = bot.set_api_url(url);
        }
        Self {
            bot,
            chat: ChatId(settings.chat_id),
        }
    }

    /// Posts "new lead" with its title linked to the lead, and the customer's contacts.
    pub(crate) async fn new_lead(
        &self,
        title: &str,
        link: &str,
        form: &LeadForm,
    ) -> Result<(), RequestError> {
        let text = notification_text(title, link, form);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .bot
                .send_message(self.chat, text.clone())
                .parse_mode(ParseMode::Html)
                .link_preview_options(LinkPreviewOptions {
                    is_disabled: true,
                    url: None,
                    prefer_small_media: false,
                    prefer_large_media: false,
                    show_above_text: false,
                })
                .await;
            let wait = match &sent {
                Ok(_) => return Ok(()),
                Err(RequestError::RetryAfter(seconds)) => seconds.duration(),
                Err(RequestError::Network(_) | RequestError::Io(_)) => Duration::from_secs(1),
                Err(_) => return sent.map(|_| ()),
            };
            if attempt >= ATTEMPTS || wait > LONGEST_WAIT {
                return sent.map(|_| ());
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// The notification's HTML.
pub(crate) fn notification_text(title: &str, link: &str, form: &LeadForm) -> String {
    let mut text = format!(
        "Новая заявка: <a href=\"{}\">{}</a>",
        escape(link).replace('"', "&quot;"),
        escape(title)
    );
    for contact in [&form.phone, &form.email].into_iter().flatten() {
        text.push('\n');
        text.push_str(&escape(contact));
    }
    if let Some(message) = &form.message {
        text.push_str("\n\n");
        // Telegram refuses messages over 4096 characters; the CRM has the whole text.
        let short: String = message.chars().take(1000).collect();
        text.push_str(&escape(&short));
        if short.len() < message.len() {
            text.push('…');
        }
    }
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
