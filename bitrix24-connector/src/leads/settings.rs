//! What the lead intake does with a submission: the form's rules, how the CRM lead is filled,
//! where files go, who may call, how delivery retries.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::form::FormRules;

/// Settings of the lead intake endpoint and its delivery worker.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IntakeSettings {
    /// What a valid form is.
    pub form: FormRules,
    /// The lead's `TITLE`; `{name}` is replaced by the customer's name.
    pub title_template: String,
    /// `ASSIGNED_BY_ID` of new leads (`BITRIX24_RESPONSIBLE_USER_ID`); the portal's default when
    /// unset.
    pub responsible_user_id: Option<u64>,
    /// `SOURCE_ID` of new leads.
    pub source_id: String,
    /// `SOURCE_DESCRIPTION` of new leads; the page URL is appended when the form sent one.
    pub source_description: String,
    /// `ORIGINATOR_ID` of new leads: with `ORIGIN_ID` = the submission id, the key that finds a
    /// lead whose creation had an unknown outcome.
    pub originator_id: String,
    /// The Disk folder (in the portal's common storage) that receives attachments, one
    /// subfolder per submission. Created when missing.
    pub disk_folder: String,
    /// Where received files wait for delivery.
    pub files_dir: PathBuf,
    /// Attachments up to this many bytes in total are also attached to the lead's timeline
    /// comment; bigger ones are linked from it.
    pub inline_comment_bytes: u64,
    /// Look for an existing contact by phone and e-mail (`crm.duplicate.findbycomm`), link it
    /// and mark the lead as a repeat one.
    pub duplicate_check: bool,
    /// Origins allowed to post from a browser (`*` for any); none means no CORS headers.
    pub cors_origins: Vec<String>,
    /// Submissions accepted per client IP per minute.
    pub rate_limit_per_minute: u32,
    /// The header holding the client's address when a reverse proxy is in front (for example
    /// `X-Forwarded-For`, whose last entry is used); the TCP peer's address when `None`.
    pub client_ip_header: Option<String>,
    /// The biggest request body read, in bytes.
    pub max_body_bytes: usize,
    /// A bearer token for re-driving failed submissions; without one, only loopback clients may.
    pub admin_token: Option<String>,
    /// How delivery retries.
    pub delivery: DeliverySettings,
    /// Where to announce new leads in Telegram.
    pub notify: Option<TelegramNotify>,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        let form = FormRules::default();
        let max_body_bytes = usize::try_from(form.max_total_file_bytes)
            .unwrap_or(usize::MAX)
            .saturating_add(1 << 20);
        Self {
            form,
            title_template: "Заявка с сайта - {name}".into(),
            responsible_user_id: None,
            source_id: "WEB".into(),
            source_description: "Website form".into(),
            originator_id: "bitrix24-connector".into(),
            disk_folder: "Заявки с сайта".into(),
            files_dir: PathBuf::from("data/lead-files"),
            inline_comment_bytes: 10 << 20,
            duplicate_check: true,
            cors_origins: Vec::new(),
            rate_limit_per_minute: 30,
            client_ip_header: None,
            max_body_bytes,
            admin_token: None,
            delivery: DeliverySettings::default(),
            notify: None,
        }
    }
}

impl IntakeSettings {
    /// The lead's title for a customer's name.
    pub fn title_for(&self, name: &str) -> String {
        self.title_template.replace("{name}", name)
    }
}

/// How the delivery worker retries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliverySettings {
    /// Submissions delivered at once (plain ones also go 50 to a batch).
    pub concurrency: usize,
    /// Attempts after which a submission that keeps failing for transient reasons is marked
    /// failed (it can be re-driven).
    pub max_attempts: u32,
    /// The first retry's delay; doubled each attempt.
    pub backoff_base: Duration,
    /// The longest delay between attempts.
    pub backoff_max: Duration,
    /// How long a worker owns a claimed submission before another may take it over.
    pub lease: Duration,
    /// How often the worker looks for due submissions when nothing wakes it.
    pub poll_interval: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_attempts: 60,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl DeliverySettings {
    /// The delay before attempt `attempt + 1`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1_u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// A Telegram chat that hears about every delivered lead.
#[derive(Clone)]
#[non_exhaustive]
pub struct TelegramNotify {
    /// The bot's token.
    pub bot_token: String,
    /// The managers' chat.
    pub chat_id: i64,
    /// The Bot API's address (the sandbox Telegram's in tests); Telegram's own when `None`.
    pub api_url: Option<Url>,
}

impl TelegramNotify {
    /// Notifications through `bot_token` to `chat_id`.
    pub fn new(bot_token: impl Into<String>, chat_id: i64) -> Self {
        Self {
            bot_token: bot_token.into(),
            chat_id,
            api_url: None,
        }
    }

    /// Uses another Bot API server.
    #[must_use]
    pub fn api_url(mut self, url: Url) -> Self {
        self.api_url = Some(url);
        self
    }
}

impl std::fmt::Debug for TelegramNotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramNotify")
            .field("bot_token", &"<redacted>")
            .field("chat_id", &self.chat_id)
            .field("api_url", &self.api_url)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let delivery = DeliverySettings::default();
        assert_eq!(delivery.backoff(0), Duration::from_secs(1));
        assert_eq!(delivery.backoff(3), Duration::from_secs(8));
        assert_eq!(delivery.backoff(40), Duration::from_secs(300));
    }

    #[test]
    fn the_title_names_the_customer_and_the_token_stays_hidden() {
        let settings = IntakeSettings::default();
        assert_eq!(settings.title_for("Анна"), "Заявка с сайта - Анна");
        let notify = TelegramNotify::new("123:SECRET", 5);
        assert!(!format!("{notify:?}").contains("SECRET"));
    }
}
