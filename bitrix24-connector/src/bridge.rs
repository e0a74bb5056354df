//! The Telegram ↔ Bitrix24 Open Lines bridge: customers write in Telegram, operators answer in
//! an open line, both ways, with files, edits, deletions and delivery status (PROTOCOL
//! §H11–H12).
//!
//! - **Telegram → portal**: updates arrive by long polling or webhook and are stored in the
//!   [`TelegramInbox`] before Telegram is told; a worker turns each customer message into
//!   `imconnector.send.messages` (edits into `imconnector.update.messages`), in order per chat.
//!   Files are given to the portal as signed links to this bridge ([`links`]), never as
//!   Telegram URLs (they contain the bot token). A customer who shares their phone is passed
//!   with `user.phone` so the open line's CRM tracker binds the chat; a `/start deal_N` payload
//!   is announced in the chat with `imopenlines.crm.message.add`.
//! - **Portal → Telegram**: `ONIMCONNECTORMESSAGEADD/UPDATE/DELETE` are verified by the app's
//!   `application_token`, stored (an [`EventInbox`]) and answered at once; a worker converts
//!   BB-code to Telegram HTML, sends text and files, records the Telegram message ids
//!   ([`history`]) and confirms with `imconnector.send.status.delivery`. A customer who blocked
//!   the bot, or a message that keeps failing, is reported in the open-line chat as a system
//!   message: nothing is dropped silently.
//!
//! Exactly once, with one exception. Every customer message is marked as being sent before the
//! call; a mark left by a crash or a lost reply is resolved by asking the portal
//! (`imopenlines.session.history.get`, whose messages keep the connector's message ids) before
//! sending again. The Bot API offers no such lookup and no idempotency key: an operator's
//! message that Telegram accepted just before the bridge died is sent again on restart (at
//! most the messages in flight at that moment).

pub mod history;
pub mod links;
mod routes;
pub mod settings;
pub mod setup;
pub mod to_portal;
mod workers;

use std::sync::Arc;

use bitrix24::Client;
use teloxide_core::Bot;
use tokio::sync::Notify;

pub use self::history::{ChatRecord, Direction, History, HistoryMessage};
use self::links::LinkSigner;
pub use self::settings::BridgeSettings;
pub use self::setup::{SetupError, SetupReport};
use crate::portals::{PortalError, Portals};
use crate::secrets::{get_value, secret, set_value};
use crate::store::event_inbox::EventInbox;
use crate::store::{Store, StoreError};
use crate::telegram::inbox::TelegramInbox;
use crate::telegram::send::TelegramSender;

/// Why a bridge operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The portal is not installed, or its client cannot be built.
    #[error(transparent)]
    Portal(#[from] PortalError),
    /// Setting the connector up failed.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// No portal has installed the app yet.
    #[error("no portal has installed the app yet: install it, then run setup")]
    NoPortal,
}

/// The bridge: its routes, workers and history over one store.
#[derive(Debug, Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: BridgeSettings,
    store: Store,
    portals: Portals,
    history: History,
    portal_events: EventInbox,
    inbox: TelegramInbox,
    sender: TelegramSender,
    bot: Bot,
    signer: LinkSigner,
    wake_out: Notify,
}

impl Bridge {
    /// A bridge for `bot`, delivering to the portals in `portals`, storing in `store`.
    ///
    /// # Errors
    /// When the store cannot give the bridge its signing key.
    pub async fn new(
        store: Store,
        portals: Portals,
        bot: Bot,
        settings: BridgeSettings,
    ) -> Result<Self, BridgeError> {
        let key = secret(&store, "file_link_key", 32).await?;
        let bot_id = bot_id(&bot);
        Ok(Self {
            inner: Arc::new(Inner {
                history: History::new(store.clone()),
                portal_events: EventInbox::new(store.clone(), "bridge_events"),
                inbox: TelegramInbox::new(store.clone(), bot_id),
                sender: TelegramSender::new(bot.clone()),
                signer: LinkSigner::new(key),
                wake_out: Notify::new(),
                settings,
                store,
                portals,
                bot,
            }),
        })
    }

    /// The message history, both ways.
    pub fn history(&self) -> &History {
        &self.inner.history
    }

    /// The settings in use.
    pub fn settings(&self) -> &BridgeSettings {
        &self.inner.settings
    }

    /// Sets the connector up on the portal `member_id` (or the only installed one) and
    /// remembers the line for delivery.
    ///
    /// # Errors
    /// [`BridgeError::NoPortal`] before an install; the failing setup step otherwise.
    pub async fn setup(&self, member_id: Option<&str>) -> Result<SetupReport, BridgeError> {
        self.setup_on(member_id, None).await
    }

    /// [`setup`](Self::setup) on `line` instead of the configured one.
    ///
    /// # Errors
    /// As [`setup`](Self::setup).
    pub async fn setup_on(
        &self,
        member_id: Option<&str>,
        line: Option<u64>,
    ) -> Result<SetupReport, BridgeError> {
        let (member_id, client) = self.portal(member_id).await?;
        let mut settings = self.inner.settings.clone();
        if line.is_some() {
            settings.line = line;
        }
        let report = setup::setup(&client, &settings).await?;
        set_value(
            &self.inner.store,
            &format!("line:{member_id}"),
            report.line.to_string().as_bytes(),
        )
        .await?;
        Ok(report)
    }

    /// The portal the bridge serves and a client for it: `member_id`, or the only installed
    /// portal.
    async fn portal(&self, member_id: Option<&str>) -> Result<(String, Client), BridgeError> {
        let member_id = if let Some(id) = member_id {
            id.to_owned()
        } else {
            let installed = self.inner.portals.list().await?;
            match installed.as_slice() {
                [one] => one.member_id.clone(),
                _ => return Err(BridgeError::NoPortal),
            }
        };
        let client = self.inner.portals.client(&member_id).await?;
        Ok((member_id, client))
    }

    /// The open line set up on `member_id`.
    async fn line(&self, member_id: &str) -> Result<Option<u64>, BridgeError> {
        if let Some(line) = self.inner.settings.line {
            return Ok(Some(line));
        }
        let stored = get_value(&self.inner.store, &format!("line:{member_id}")).await?;
        Ok(stored.and_then(|v| String::from_utf8(v).ok()?.parse().ok()))
    }

    /// The HTTP routes: `POST /bridge/events` (portal events), `GET /files/{token}` (customer
    /// files for the portal), `GET|POST /bridge/placement` (the connector's settings page),
    /// `GET /bridge/history/{chat}` and, in webhook mode, `POST /telegram/webhook`. Merge the
    /// portals' install routes beside them.
    ///
    /// # Errors
    /// When the webhook secret cannot be stored.
    pub async fn router(&self) -> Result<axum::Router, BridgeError> {
        routes::router(self.clone()).await
    }

    /// Runs the Telegram side (polling, or setting the webhook) and both delivery workers
    /// until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        workers::run(self, shutdown).await;
    }
}

/// The bot's user id: the number before `:` in its token.
fn bot_id(bot: &Bot) -> i64 {
    bot.token()
        .split(':')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_default()
}
