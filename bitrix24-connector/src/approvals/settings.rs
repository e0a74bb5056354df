//! What the approval flow does and how it retries.

use std::time::Duration;

use url::Url;

/// An approval started when a deal enters a stage (`ONCRMDEALADD` / `ONCRMDEALUPDATE`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DealRule {
    /// The stage that starts an approval (`stageId`, e.g. `PREPARATION` or `C3:NEW`).
    pub stage: String,
    /// The approvers, in order.
    pub approvers: Vec<u64>,
    /// The stage the deal moves to when approved.
    pub stage_on_approve: Option<String>,
    /// The stage the deal moves to when rejected.
    pub stage_on_reject: Option<String>,
    /// How long the approvers have, from the moment the deal entered the stage.
    pub deadline_in: Option<Duration>,
}

impl DealRule {
    /// A rule: deals entering `stage` are approved by `approvers` in order.
    pub fn new(stage: impl Into<String>, approvers: Vec<u64>) -> Self {
        Self {
            stage: stage.into(),
            approvers,
            stage_on_approve: None,
            stage_on_reject: None,
            deadline_in: None,
        }
    }
}

/// An approval started for every new lead (`ONCRMLEADADD`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LeadRule {
    /// The approvers, in order.
    pub approvers: Vec<u64>,
    /// How long the approvers have.
    pub deadline_in: Option<Duration>,
}

impl LeadRule {
    /// Every new lead is approved by `approvers` in order.
    pub fn new(approvers: Vec<u64>) -> Self {
        Self {
            approvers,
            deadline_in: None,
        }
    }
}

/// Settings of the approval flow.
#[derive(Clone)]
#[non_exhaustive]
pub struct ApprovalSettings {
    /// Where the portal and browsers reach the flow (event handler, approvals page).
    pub public_url: Url,
    /// The user field holding a person's Telegram id.
    pub telegram_field: String,
    /// The token of the portal's outgoing webhook (`BITRIX24_OUTGOING_WEBHOOK_TOKEN`): events
    /// carrying it are accepted besides the app's own. Every outgoing webhook has its own
    /// token: with several (say one for tasks, one for users), separate them with commas.
    pub outgoing_webhook_token: Option<String>,
    /// Required as `Authorization: Bearer …` by `POST /approvals` and, as `?key=`, by the page
    /// opened outside the portal. `None` leaves both open (sandbox and local use only).
    pub api_token: Option<String>,
    /// Deal stages that start approvals.
    pub deal_rules: Vec<DealRule>,
    /// Approvals for new leads.
    pub lead_rule: Option<LeadRule>,
    /// Reminders go out this long before a deadline.
    pub remind_before: Duration,
    /// How long a self-service link code stays valid.
    pub link_code_ttl: Duration,
    /// Receive Telegram updates by webhook instead of polling.
    pub telegram_webhook: bool,
    /// Attempts after which a side effect that keeps failing is given up (and logged).
    pub max_attempts: u32,
    /// The first retry's delay; doubled each attempt up to `backoff_max`.
    pub backoff_base: Duration,
    /// The longest delay between attempts.
    pub backoff_max: Duration,
    /// How long a worker owns a claimed item.
    pub lease: Duration,
    /// How often the workers look for due work (and reminders) when nothing wakes them.
    pub poll_interval: Duration,
}

impl std::fmt::Debug for ApprovalSettings {
    // The tokens are secrets: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalSettings")
            .field("public_url", &self.public_url.as_str())
            .field("telegram_field", &self.telegram_field)
            .field(
                "outgoing_webhook_token",
                &self.outgoing_webhook_token.as_ref().map(|_| "<set>"),
            )
            .field("api_token", &self.api_token.as_ref().map(|_| "<set>"))
            .field("deal_rules", &self.deal_rules)
            .field("lead_rule", &self.lead_rule)
            .field("remind_before", &self.remind_before)
            .finish_non_exhaustive()
    }
}

impl ApprovalSettings {
    /// Defaults for a flow reachable at `public_url`.
    pub fn new(public_url: Url) -> Self {
        Self {
            public_url,
            telegram_field: "UF_TELEGRAM_ID".into(),
            outgoing_webhook_token: None,
            api_token: None,
            deal_rules: Vec::new(),
            lead_rule: None,
            remind_before: Duration::from_secs(3_600),
            link_code_ttl: Duration::from_secs(900),
            telegram_webhook: false,
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

    /// The outgoing webhooks' tokens (`outgoing_webhook_token`, split at commas).
    pub fn outgoing_webhook_tokens(&self) -> impl Iterator<Item = &str> {
        self.outgoing_webhook_token
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|token| !token.is_empty())
    }

    /// An absolute URL under `public_url`.
    pub(crate) fn url(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}/{}", path.trim_start_matches('/'))
    }
}
