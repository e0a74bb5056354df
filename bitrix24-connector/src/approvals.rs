//! The approval flow: requests for approval live in Bitrix24 as tasks, approvers decide from
//! Telegram with one tap, and everything is mirrored back to Bitrix24.
//!
//! - **Creating**: `POST /approvals` (JSON [`NewApproval`]) or a CRM event matching a rule
//!   ([`DealRule`], [`LeadRule`]). The approval is stored first; the task
//!   (`tasks.task.add` with `RESPONSIBLE_ID`, `DEADLINE`, `UF_CRM_TASK`, files) and the
//!   approver's Telegram message (Approve / Reject / Comment) follow from the [`effects`]
//!   outbox. An approver without a known Telegram id gets `im.notify.personal.add` instead.
//! - **Deciding**: a button press is accepted only from the approver's own Telegram account
//!   (`callback_query.from.id`). The decision is a compare-and-set on the step
//!   ([`records`]), written with all its side effects in one transaction; the outbox then
//!   comments the task, completes or defers it (or delegates it to the next approver), moves
//!   the deal, notifies the initiator and edits the Telegram message, each exactly once.
//!   Reject and Comment ask for the reason with a `ForceReply` prompt.
//! - **Decided in Bitrix24**: `ONTASKUPDATE` with the task completed or deferred decides the
//!   approval (channel `bitrix24`); Telegram and the page follow.
//! - **Users**: a user field (`UF_TELEGRAM_ID`) read with `user.get` and kept in sync by
//!   `ONUSERADD`/`ONUSERUPDATE` (app events or an outgoing webhook), or self-service linking
//!   ([`users`]): `/start link_…` with a code from the approvals page, or a shared phone.
//! - **Page**: `GET /approvals` (and the app frame's POST with `AUTH_ID`), with filters,
//!   counts, the median decision time and CSV export.
//!
//! Exactly once, with one exception: the Bot API has no idempotency key, so an approver's
//! message that Telegram accepted just before a crash is sent again on restart.

pub mod effects;
mod page;
pub mod records;
mod routes;
pub mod settings;
mod telegram;
pub mod users;
mod workers;

use std::sync::Arc;

use bitrix24::Client;
use serde_json::json;
use teloxide_core::Bot;
use tokio::sync::Notify;

use self::effects::Outbox;
pub use self::records::{Approval, Approvals, Channel, NewApproval, Step};
pub use self::settings::{ApprovalSettings, DealRule, LeadRule};
use self::users::UserMap;
use crate::portals::{PortalError, Portals};
use crate::store::event_inbox::EventInbox;
use crate::store::{Store, StoreError};
use crate::telegram::inbox::TelegramInbox;
use crate::telegram::send::TelegramSender;

/// The events the flow binds (app mode) or expects from an outgoing webhook.
pub const EVENTS: [&str; 6] = [
    "ONTASKUPDATE",
    "ONCRMDEALADD",
    "ONCRMDEALUPDATE",
    "ONCRMLEADADD",
    "ONUSERADD",
    "ONUSERUPDATE",
];

/// Why an approval operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The portal is not installed, or its client cannot be built.
    #[error(transparent)]
    Portal(#[from] PortalError),
    /// The portal refused or failed a call.
    #[error("the portal: {0}")]
    Api(#[from] bitrix24::Error),
    /// No portal has installed the app yet (or several have and none was named).
    #[error("no single portal to serve: install the app, or name the portal")]
    NoPortal,
    /// The request is not a valid approval.
    #[error("invalid approval: {0}")]
    Invalid(String),
}

/// How the flow reaches Bitrix24.
#[derive(Debug, Clone)]
pub enum PortalAccess {
    /// As an OAuth application installed on any number of portals.
    App(Portals),
    /// With an incoming webhook of one portal.
    Webhook {
        /// The portal's `member_id` (as its outgoing webhook's events carry it).
        member_id: String,
        /// The webhook client.
        client: Client,
    },
}

impl PortalAccess {
    async fn client(&self, member_id: &str) -> Result<Client, ApprovalError> {
        match self {
            Self::App(portals) => Ok(portals.client(member_id).await?),
            Self::Webhook { client, .. } => Ok(client.clone()),
        }
    }

    async fn default_member(&self) -> Result<String, ApprovalError> {
        match self {
            Self::App(portals) => match portals.list().await?.as_slice() {
                [one] => Ok(one.member_id.clone()),
                _ => Err(ApprovalError::NoPortal),
            },
            Self::Webhook { member_id, .. } => Ok(member_id.clone()),
        }
    }

    async fn members(&self) -> Result<Vec<String>, ApprovalError> {
        match self {
            Self::App(portals) => Ok(portals
                .list()
                .await?
                .into_iter()
                .map(|i| i.member_id)
                .collect()),
            Self::Webhook { member_id, .. } => Ok(vec![member_id.clone()]),
        }
    }
}

/// The approval flow over one store.
#[derive(Debug, Clone)]
pub struct ApprovalFlow {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: ApprovalSettings,
    store: Store,
    access: PortalAccess,
    approvals: Approvals,
    users: UserMap,
    events: EventInbox,
    outbox: Outbox,
    inbox: TelegramInbox,
    sender: TelegramSender,
    bot: Bot,
    wake: Notify,
}

impl ApprovalFlow {
    /// A flow for `bot`, reaching Bitrix24 through `access`, storing in `store`.
    pub fn new(store: Store, access: PortalAccess, bot: Bot, settings: ApprovalSettings) -> Self {
        let bot_id = crate::telegram::inbox::bot_id_of_token(bot.token()).unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                approvals: Approvals::new(store.clone()),
                users: UserMap::new(store.clone()),
                events: EventInbox::new(store.clone(), "approval_events"),
                outbox: Outbox::new(store.clone()),
                inbox: TelegramInbox::new(store.clone(), bot_id),
                sender: TelegramSender::new(bot.clone()),
                wake: Notify::new(),
                settings,
                store,
                access,
                bot,
            }),
        }
    }

    /// The stored approvals.
    pub fn approvals(&self) -> &Approvals {
        &self.inner.approvals
    }

    /// The Telegram ↔ Bitrix24 user mapping.
    pub fn users(&self) -> &UserMap {
        &self.inner.users
    }

    /// The side-effect outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    /// The settings in use.
    pub fn settings(&self) -> &ApprovalSettings {
        &self.inner.settings
    }

    /// Creates an approval on `member_id` (or the only portal). A repeated
    /// `idempotency_key` returns the approval made the first time. Returns it and whether it
    /// is new.
    ///
    /// # Errors
    /// [`ApprovalError::Invalid`] without a title or approvers; storage errors.
    pub async fn create(
        &self,
        member_id: Option<&str>,
        new: &NewApproval,
    ) -> Result<(Approval, bool), ApprovalError> {
        if new.title.trim().is_empty() {
            return Err(ApprovalError::Invalid("title is empty".into()));
        }
        if new.approvers.is_empty() || new.approvers.contains(&0) {
            return Err(ApprovalError::Invalid(
                "approvers must be Bitrix24 user ids".into(),
            ));
        }
        let member_id = match member_id {
            Some(id) => id.to_owned(),
            None => self.inner.access.default_member().await?,
        };
        let key = new
            .idempotency_key
            .as_ref()
            .map(|k| format!("api:{member_id}:{k}"));
        let created = self
            .inner
            .approvals
            .insert(&member_id, key.as_deref(), new)
            .await?;
        self.inner.wake.notify_one();
        Ok(created)
    }

    /// Binds the flow's events on `member_id` (or the only portal) to `{public_url}/approvals/events`,
    /// skipping those already bound; returns one line per event. App mode only (webhooks
    /// subscribe through the portal's outgoing-webhook settings).
    ///
    /// # Errors
    /// When the portal refuses.
    pub async fn setup(&self, member_id: Option<&str>) -> Result<Vec<String>, ApprovalError> {
        let member_id = match member_id {
            Some(id) => id.to_owned(),
            None => self.inner.access.default_member().await?,
        };
        let client = self.inner.access.client(&member_id).await?;
        let handler = self.inner.settings.url("approvals/events");
        let bound: serde_json::Value = client
            .call_raw("event.get", json!({}))
            .idempotent(true)
            .await?;
        let mut report = Vec::new();
        for event in EVENTS {
            let already = bound.as_array().is_some_and(|list| {
                list.iter().any(|b| {
                    b["event"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(event))
                        && b["handler"].as_str() == Some(handler.as_str())
                })
            });
            if already {
                report.push(format!("{event} already bound"));
                continue;
            }
            let bound: Result<serde_json::Value, _> = client
                .call_raw("event.bind", json!({ "event": event, "handler": handler }))
                .await;
            match bound {
                Ok(_) => report.push(format!("bound {event} to {handler}")),
                // Not every portal offers every event to apps (ONUSERUPDATE is not in the
                // documented list): it can still come from an outgoing webhook.
                Err(error)
                    if error
                        .api()
                        .is_some_and(|api| api.description.contains("not found")) =>
                {
                    report.push(format!(
                        "{event} is not offered to apps here: use an outgoing webhook"
                    ));
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(report)
    }

    /// The HTTP routes: `POST /approvals` (create, JSON), `GET|POST /approvals` (the page;
    /// `?format=csv` exports), `POST /approvals/events` (portal events) and, in webhook mode,
    /// `POST /telegram/webhook`.
    ///
    /// # Errors
    /// When the webhook secret cannot be stored.
    pub async fn router(&self) -> Result<axum::Router, ApprovalError> {
        routes::router(self.clone()).await
    }

    /// Runs the Telegram side, the event and effect workers and the reminders until
    /// `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        workers::run(self, shutdown).await;
    }
}
