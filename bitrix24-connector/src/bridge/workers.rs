//! The two delivery workers and the Telegram side's runner.

use std::collections::HashMap;
use std::time::Duration;

use bitrix24::Client;
use bitrix24::events::ImConnectorMessage;
use bitrix24::files::FilesExt;
use futures::StreamExt;
use serde_json::{Value, json};
use teloxide_core::types::{ChatId, MessageId};

use super::history::Attempt as Sent;
use super::to_portal::{CustomerMessage, customer_message};
use super::{Bridge, BridgeError};
use crate::store::event_inbox::InboxEvent as PortalEvent;
use crate::store::{StoreError, now_ms};
use crate::telegram::inbox::InboxUpdate;
use crate::telegram::markup::{TELEGRAM_TEXT_LIMIT, bbcode_to_telegram_html, split_telegram_html};
use crate::telegram::send::{FileKind, SendFailure};

/// Why one attempt did not finish.
#[derive(Debug, Clone, thiserror::Error)]
enum Attempt {
    /// Try again after a backoff.
    #[error("{0}")]
    Transient(String),
    /// Try again after exactly this long (Telegram's `retry_after`).
    #[error("rate limited for {0:?}")]
    After(Duration),
    /// Trying again will not help.
    #[error("{0}")]
    Permanent(String),
    /// The customer blocked the bot.
    #[error("the customer blocked the bot")]
    Blocked,
}

impl From<bitrix24::Error> for Attempt {
    fn from(error: bitrix24::Error) -> Self {
        let text = error.to_string();
        if error.is_retryable() || error.is_outcome_unknown() || error.is_auth() {
            Self::Transient(text)
        } else {
            Self::Permanent(text)
        }
    }
}

impl From<StoreError> for Attempt {
    fn from(error: StoreError) -> Self {
        Self::Transient(error.to_string())
    }
}

impl From<BridgeError> for Attempt {
    fn from(error: BridgeError) -> Self {
        // No portal yet, or it cannot be reached: wait for it.
        Self::Transient(error.to_string())
    }
}

impl From<SendFailure> for Attempt {
    fn from(failure: SendFailure) -> Self {
        match failure {
            SendFailure::RetryAfter(wait) => Self::After(wait),
            SendFailure::Blocked => Self::Blocked,
            SendFailure::Permanent(reason) => Self::Permanent(reason),
            SendFailure::Transient(reason) => Self::Transient(reason),
        }
    }
}

pub(super) async fn run(bridge: Bridge, shutdown: impl Future<Output = ()> + Send + 'static) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // A JoinSet aborts its tasks when dropped: if this future is cancelled (the caller aborts
    // it), no worker lives on beside a successor.
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(telegram_side(bridge.clone(), stopped.clone()));
    tasks.spawn(inbound_loop(bridge.clone(), stopped.clone()));
    tasks.spawn(outbound_loop(bridge, stopped));
    shutdown.await;
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
}

async fn until_stopped(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Polls Telegram, or points its webhook at the bridge.
async fn telegram_side(bridge: Bridge, stopped: tokio::sync::watch::Receiver<bool>) {
    let inner = &bridge.inner;
    let secret = if inner.settings.telegram_webhook {
        match super::routes::webhook_secret(&inner.store).await {
            Ok(secret) => Some(secret),
            Err(error) => {
                tracing::error!(%error, "the Telegram webhook secret cannot be stored");
                return;
            }
        }
    } else {
        None
    };
    crate::telegram::receive::receive(
        inner.bot.clone(),
        inner.inbox.clone(),
        &inner.settings.public_url,
        secret,
        until_stopped(stopped),
    )
    .await;
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

// ---- Telegram → portal --------------------------------------------------------------------------

/// Customer messages claimed at once: one per chat, so each chat stays in order.
const INBOUND_CLAIM: u32 = 50;
/// Customer messages sent to the portal in one `imconnector.send.messages` call: under the
/// portal's request limit, one call carries many chats' messages.
const MESSAGES_PER_CALL: usize = 20;

async fn inbound_loop(bridge: Bridge, stopped: tokio::sync::watch::Receiver<bool>) {
    let inner = &bridge.inner;
    let _ = inner.inbox.release_claims().await;
    let wake = inner.inbox.wake();
    loop {
        if *stopped.borrow() {
            return;
        }
        let claimed = match inner.inbox.claim(INBOUND_CLAIM, inner.settings.lease).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "bridge: reading the Telegram inbox failed");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = until_stopped(stopped.clone()) => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(inner.settings.poll_interval) => {}
            }
            continue;
        }
        bridge.deliver_updates(claimed).await;
    }
}

impl Bridge {
    /// Prepares each update, then sends the ready ones to the portal in shared calls.
    async fn deliver_updates(&self, claimed: Vec<InboxUpdate>) {
        let concurrency = self.inner.settings.concurrency.max(1);
        let prepared: Vec<(InboxUpdate, Result<Option<Ready>, Attempt>)> =
            futures::stream::iter(claimed)
                .map(|update| async move {
                    let prepared = self.prepare(&update).await;
                    (update, prepared)
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        let mut groups: HashMap<(String, u64, bool), Vec<(InboxUpdate, Ready)>> = HashMap::new();
        for (update, prepared) in prepared {
            match prepared {
                Ok(Some(ready)) => groups
                    .entry((ready.member_id.clone(), ready.line, ready.message.edited))
                    .or_default()
                    .push((update, ready)),
                Ok(None) => self.settle_update(&update, Ok(())).await,
                Err(error) => self.settle_update(&update, Err(error)).await,
            }
        }
        let mut calls: Vec<Vec<(InboxUpdate, Ready)>> = Vec::new();
        for mut group in groups.into_values() {
            while !group.is_empty() {
                let rest = group.split_off(group.len().min(MESSAGES_PER_CALL));
                calls.push(std::mem::replace(&mut group, rest));
            }
        }
        futures::stream::iter(calls)
            .for_each_concurrent(concurrency, |call| async move {
                let ready: Vec<&Ready> = call.iter().map(|(_, ready)| ready).collect();
                let results = self.send_ready(&ready).await;
                for ((update, _), result) in call.iter().zip(results) {
                    self.settle_update(update, result).await;
                }
            })
            .await;
    }
}

impl Bridge {
    async fn settle_update(&self, update: &InboxUpdate, result: Result<(), Attempt>) {
        let inbox = &self.inner.inbox;
        let settings = &self.inner.settings;
        let stored = match result {
            Ok(()) => inbox.done(update.update_id).await,
            Err(Attempt::After(wait)) => {
                inbox
                    .retry_later(update.update_id, "rate limited", wait)
                    .await
            }
            Err(Attempt::Transient(reason))
                if update.attempts.saturating_add(1) < settings.max_attempts =>
            {
                tracing::warn!(update = update.update_id, %reason, "customer message will be retried");
                inbox
                    .retry_later(update.update_id, &reason, settings.backoff(update.attempts))
                    .await
            }
            Err(error) => {
                tracing::error!(update = update.update_id, %error, "customer message not delivered to the portal");
                inbox.fail(update.update_id, &error.to_string()).await
            }
        };
        if let Err(error) = stored {
            tracing::error!(update = update.update_id, %error, "bridge: cannot record an update's outcome");
        }
    }

    /// Everything before the portal call: the chat's record, the attempt mark, a lookup after
    /// an uncertain attempt. `None` when there is nothing to send.
    async fn prepare(&self, update: &InboxUpdate) -> Result<Option<Ready>, Attempt> {
        let Some(message) = customer_message(&update.raw) else {
            return Ok(None);
        };
        let (member_id, client) = self.portal(None).await?;
        let line = self.line(&member_id).await?.ok_or_else(|| {
            Attempt::Transient("the connector is not set up on a line yet: run setup".into())
        })?;
        let history = &self.inner.history;
        history.upsert_chat(message.chat_id, &message.user).await?;
        if let Some(phone) = &message.shared_phone {
            history.set_phone(message.chat_id, phone).await?;
        }
        if let Some(payload) = &message.start_payload {
            history
                .set_start(message.chat_id, payload, deal_of(payload))
                .await?;
        }
        let chat = history.chat(message.chat_id).await?;
        let connector = self.inner.settings.connector_id.to_ascii_lowercase();
        if !message.edited {
            // An edit sent twice changes nothing; a message sent twice shows twice.
            match history
                .begin_in(message.chat_id, message.message_id)
                .await?
            {
                Sent::First => {}
                Sent::Done => return Ok(None),
                Sent::Uncertain => {
                    let portal_chat = chat.as_ref().and_then(|c| c.portal_chat_id);
                    if self
                        .portal_has(&client, &connector, line, &message, portal_chat)
                        .await?
                    {
                        history
                            .record_in(
                                message.chat_id,
                                message.message_id,
                                &message.text,
                                &file_names(&message),
                                false,
                            )
                            .await?;
                        return Ok(None);
                    }
                }
            }
        }
        let item = self.portal_item(&message, chat.as_ref().and_then(|c| c.phone.as_deref()));
        Ok(Some(Ready {
            member_id,
            client,
            line,
            connector,
            message,
            item,
        }))
    }

    /// One `imconnector.send.messages` (or `update.messages`) call for messages of one portal
    /// and line; each message's own outcome.
    async fn send_ready(&self, ready: &[&Ready]) -> Vec<Result<(), Attempt>> {
        let Some(first) = ready.first() else {
            return Vec::new();
        };
        let method = if first.message.edited {
            "imconnector.update.messages"
        } else {
            "imconnector.send.messages"
        };
        let items: Vec<&Value> = ready.iter().map(|r| &r.item).collect();
        let reply: Result<Value, _> = first
            .client
            .call_raw(
                method,
                json!({ "CONNECTOR": first.connector, "LINE": first.line, "MESSAGES": items }),
            )
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                // Each message keeps its attempt mark: the next try looks it up first.
                let failure = Attempt::from(error);
                return ready.iter().map(|_| Err(failure.clone())).collect();
            }
        };
        let mut outcomes = Vec::with_capacity(ready.len());
        for (index, one) in ready.iter().enumerate() {
            let result = &reply["DATA"]["RESULT"][index];
            outcomes.push(self.finish_ready(one, method, result).await);
        }
        outcomes
    }

    /// Records one message's outcome in the history and ties the chat to the open line.
    async fn finish_ready(
        &self,
        ready: &Ready,
        method: &str,
        result: &Value,
    ) -> Result<(), Attempt> {
        let message = &ready.message;
        if result["SUCCESS"] != json!(true) {
            return Err(Attempt::Permanent(format!(
                "{method} refused the message: {}",
                result["ERRORS"]
            )));
        }
        let history = &self.inner.history;
        history
            .record_in(
                message.chat_id,
                message.message_id,
                &message.text,
                &file_names(message),
                message.edited,
            )
            .await?;
        let portal_chat = result["session"]["CHAT_ID"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .or_else(|| result["session"]["CHAT_ID"].as_u64());
        if let Some(portal_chat) = portal_chat {
            history
                .set_portal_chat(message.chat_id, portal_chat)
                .await?;
            let customer = result["user"]
                .as_str()
                .and_then(|id| id.parse::<u64>().ok());
            self.announce_deal(&ready.client, message.chat_id, portal_chat, customer)
                .await?;
        }
        Ok(())
    }

    /// Whether the open line already has a customer's message: after an attempt whose outcome
    /// is unknown (a crash or a lost reply), the portal's history says, by the connector message
    /// ids it keeps (`params.connectorMid`).
    async fn portal_has(
        &self,
        client: &Client,
        connector: &str,
        line: u64,
        message: &CustomerMessage,
        portal_chat: Option<u64>,
    ) -> Result<bool, Attempt> {
        let portal_chat = if let Some(chat) = portal_chat {
            chat
        } else {
            let user = message.user["id"].as_str().unwrap_or_default();
            let code = format!("{connector}|{line}|{}|{user}", message.chat_id);
            let dialog: Result<Value, _> = client
                .call_raw("imopenlines.dialog.get", json!({ "USER_CODE": code }))
                .idempotent(true)
                .await;
            let id = match dialog {
                Ok(dialog) => dialog["id"]
                    .as_u64()
                    .or_else(|| dialog["id"].as_str()?.parse().ok()),
                // No chat for this customer yet: the first message never arrived.
                Err(error) if error.api().is_some() && !error.is_retryable() => None,
                Err(error) => return Err(error.into()),
            };
            let Some(id) = id else { return Ok(false) };
            id
        };
        let history: Value = client
            .call_raw(
                "imopenlines.session.history.get",
                json!({ "CHAT_ID": portal_chat }),
            )
            .idempotent(true)
            .await?;
        let wanted = message.message_id.to_string();
        let messages = match &history["message"] {
            Value::Object(map) => map.values().cloned().collect(),
            Value::Array(list) => list.clone(),
            _ => Vec::new(),
        };
        Ok(messages.iter().any(|m| {
            let ids = &m["params"]["connectorMid"];
            ids.as_array()
                .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(wanted.as_str())))
                || ids.as_str() == Some(wanted.as_str())
        }))
    }

    /// The `MESSAGES` element for the portal, with file links and the shared phone.
    fn portal_item(&self, message: &CustomerMessage, phone: Option<&str>) -> Value {
        let settings = &self.inner.settings;
        let expires = now_ms() / 1000
            + i64::try_from(settings.file_link_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let files: Vec<Value> = message
            .files
            .iter()
            .map(|file| {
                let token = self.inner.signer.sign(&file.file_id, &file.name, expires);
                json!({ "url": settings.url(&format!("files/{token}")), "name": file.name })
            })
            .collect();
        let mut user = message.user.clone();
        if let Some(phone) = phone {
            user["phone"] = json!(phone);
        }
        let mut body = json!({ "id": message.message_id.to_string(), "date": message.date });
        if !message.text.is_empty() {
            body["text"] = json!(message.text);
        }
        if !files.is_empty() {
            body["files"] = json!(files);
        }
        json!({ "user": user, "message": body, "chat": message.chat })
    }

    /// Posts "came from deal N" into the open-line chat once, so operators see the context.
    async fn announce_deal(
        &self,
        client: &Client,
        telegram_chat: i64,
        portal_chat: u64,
        customer: Option<u64>,
    ) -> Result<(), Attempt> {
        let history = &self.inner.history;
        let Some(chat) = history.chat(telegram_chat).await? else {
            return Ok(());
        };
        let (Some(deal), false, Some(customer)) = (chat.deal_id, chat.deal_announced, customer)
        else {
            return Ok(());
        };
        let posted: Result<Value, _> = client
            .call_raw(
                "imopenlines.crm.message.add",
                json!({
                    "CRM_ENTITY_TYPE": "deal",
                    "CRM_ENTITY": deal,
                    "USER_ID": customer,
                    "CHAT_ID": portal_chat,
                    "MESSAGE": format!("Клиент пришёл из Telegram по ссылке на сделку #{deal}"),
                }),
            )
            .await;
        match posted {
            Ok(_) => {}
            Err(error) if error.is_retryable() || error.is_outcome_unknown() => {
                return Err(error.into());
            }
            // A deal that does not exist or is not bound to the chat: say so once, move on.
            Err(error) => {
                tracing::warn!(deal, %error, "the deal reference could not be posted to the chat");
            }
        }
        history.set_deal_announced(telegram_chat).await?;
        Ok(())
    }
}

/// A customer message ready for the portal.
struct Ready {
    member_id: String,
    client: Client,
    line: u64,
    connector: String,
    message: CustomerMessage,
    item: Value,
}

/// The history's record of a message's files.
fn file_names(message: &CustomerMessage) -> Value {
    Value::from(
        message
            .files
            .iter()
            .map(|f| json!({ "name": f.name }))
            .collect::<Vec<_>>(),
    )
}

/// The deal a `/start` payload names: `deal_15`, `deal-15`, `d15` or `15`.
pub(crate) fn deal_of(payload: &str) -> Option<u64> {
    let lower = payload.to_ascii_lowercase();
    let digits = lower
        .strip_prefix("deal_")
        .or_else(|| lower.strip_prefix("deal-"))
        .or_else(|| lower.strip_prefix("deal"))
        .or_else(|| lower.strip_prefix('d'))
        .unwrap_or(&lower);
    digits.parse().ok().filter(|id| *id > 0)
}

// ---- portal → Telegram --------------------------------------------------------------------------

async fn outbound_loop(bridge: Bridge, stopped: tokio::sync::watch::Receiver<bool>) {
    let inner = &bridge.inner;
    let _ = inner.portal_events.release_claims().await;
    loop {
        if *stopped.borrow() {
            return;
        }
        let limit = u32::try_from(inner.settings.concurrency.max(1)).unwrap_or(1);
        let claimed = match inner
            .portal_events
            .claim(limit, millis(inner.settings.lease))
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "bridge: reading the portal events failed");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            let idle = match inner.portal_events.next_due_at().await {
                Ok(Some(due)) => Duration::from_millis(
                    u64::try_from(due.saturating_sub(now_ms()).max(0)).unwrap_or(0),
                ),
                _ => inner.settings.poll_interval,
            }
            .min(inner.settings.poll_interval);
            tokio::select! {
                () = until_stopped(stopped.clone()) => return,
                () = inner.wake_out.notified() => {}
                () = tokio::time::sleep(idle) => {}
            }
            continue;
        }
        futures::stream::iter(claimed)
            .for_each_concurrent(inner.settings.concurrency.max(1), |event| {
                let bridge = bridge.clone();
                async move {
                    let result = bridge.deliver_event(&event).await;
                    bridge.settle_event(&event, result).await;
                }
            })
            .await;
    }
}

/// What an operator's message item says.
struct Outgoing {
    connector: String,
    line: u64,
    chat: i64,
    portal_chat: Option<u64>,
    portal_message: u64,
    message: ImConnectorMessage,
}

fn outgoing(item: &Value) -> Result<Outgoing, Attempt> {
    let message: ImConnectorMessage = serde_json::from_value(item.clone())
        .map_err(|e| Attempt::Permanent(format!("unreadable connector message: {e}")))?;
    let chat = message
        .chat
        .as_ref()
        .and_then(|c| c.id.as_deref())
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Attempt::Permanent("the message names no Telegram chat".into()))?;
    let im = message.im.as_ref();
    let portal_message = im
        .and_then(|im| im.message_id)
        .ok_or_else(|| Attempt::Permanent("the message has no im[message_id]".into()))?;
    Ok(Outgoing {
        connector: item["_connector"].as_str().unwrap_or_default().to_owned(),
        line: item["_line"].as_u64().unwrap_or_default(),
        chat,
        portal_chat: im.and_then(|im| im.chat_id),
        portal_message,
        message,
    })
}

impl Bridge {
    async fn settle_event(&self, event: &PortalEvent, result: Result<(), Attempt>) {
        let events = &self.inner.portal_events;
        let settings = &self.inner.settings;
        let stored = match result {
            Ok(()) => events.done(event.id).await,
            Err(Attempt::After(wait)) => {
                events
                    .retry_later(event.id, "Telegram rate limit", millis(wait))
                    .await
            }
            Err(Attempt::Transient(reason))
                if event.attempts.saturating_add(1) < settings.max_attempts =>
            {
                tracing::warn!(event = event.id, %reason, "operator message will be retried");
                events
                    .retry_later(event.id, &reason, millis(settings.backoff(event.attempts)))
                    .await
            }
            Err(error) => {
                tracing::error!(event = event.id, %error, "operator message not delivered to Telegram");
                self.report_failure(event, &error).await;
                events.fail(event.id, &error.to_string()).await
            }
        };
        if let Err(error) = stored {
            tracing::error!(event = event.id, %error, "bridge: cannot record an event's outcome");
        }
    }

    /// Tells the operator, in the open-line chat, that their message did not reach Telegram.
    async fn report_failure(&self, event: &PortalEvent, error: &Attempt) {
        let Ok(item) = outgoing(&event.item) else {
            return;
        };
        if let Err(store) = self
            .inner
            .history
            .set_out_state(
                item.portal_message,
                "failed",
                None,
                Some(&error.to_string()),
            )
            .await
        {
            tracing::error!(%store, "bridge: cannot record a failed message");
        }
        let Some(portal_chat) = item.portal_chat else {
            return;
        };
        let reason = match error {
            Attempt::Blocked => "клиент заблокировал бота в Telegram".to_owned(),
            other => other.to_string(),
        };
        let Ok(client) = self.inner.portals.client(&event.member_id).await else {
            return;
        };
        let posted: Result<Value, _> = client
            .call_raw(
                "im.message.add",
                json!({
                    "DIALOG_ID": format!("chat{portal_chat}"),
                    "MESSAGE": format!("Сообщение не доставлено в Telegram: {reason}"),
                    "SYSTEM": "Y",
                }),
            )
            .await;
        if let Err(error) = posted {
            tracing::error!(%error, "the delivery failure could not be reported in the open line");
        }
    }

    async fn deliver_event(&self, event: &PortalEvent) -> Result<(), Attempt> {
        match event.event.as_str() {
            "ONIMCONNECTORMESSAGEADD" => self.deliver_operator_message(event).await,
            "ONIMCONNECTORMESSAGEUPDATE" => self.edit_operator_message(event).await,
            "ONIMCONNECTORMESSAGEDELETE" => self.delete_operator_message(event).await,
            other => {
                // The connector was switched off or its line deleted: visible in the log and
                // in `imconnector.status`; setup brings it back.
                tracing::error!(event = other, data = %event.item, "the portal disconnected the connector");
                Ok(())
            }
        }
    }

    async fn deliver_operator_message(&self, event: &PortalEvent) -> Result<(), Attempt> {
        let item = outgoing(&event.item)?;
        let client = self
            .inner
            .portals
            .client(&event.member_id)
            .await
            .map_err(BridgeError::from)?;
        let history = &self.inner.history;
        let ids = if let Some(sent) = history.outgoing(item.portal_message).await? {
            sent.telegram_message_ids
        } else {
            let text = item
                .message
                .message
                .as_ref()
                .and_then(|m| m.text.clone())
                .unwrap_or_default();
            let files = item
                .message
                .message
                .as_ref()
                .map(|m| m.files.clone())
                .unwrap_or_default();
            // Every file is fetched before anything is sent, so a failed download does not
            // leave half a message in Telegram to be sent again.
            let mut downloaded = Vec::with_capacity(files.len());
            for file in &files {
                let Some(link) = file.link.as_deref() else {
                    continue;
                };
                let bytes = client.files().download(link).bytes().await?;
                let name = file.name.clone().unwrap_or_else(|| "file".to_owned());
                let kind = if file.file_type.as_deref() == Some("image") {
                    FileKind::Photo
                } else {
                    FileKind::Document
                };
                downloaded.push((kind, name, bytes));
            }
            let chat = ChatId(item.chat);
            let mut ids = Vec::new();
            let html = bbcode_to_telegram_html(&text);
            if !html.trim().is_empty() {
                ids.extend(self.inner.sender.send_html(chat, &html, None, None).await?);
            }
            for (kind, name, bytes) in downloaded {
                ids.push(
                    self.inner
                        .sender
                        .send_file(chat, kind, &name, bytes, None)
                        .await?,
                );
            }
            let ids: Vec<i64> = ids.iter().map(|id| i64::from(id.0)).collect();
            let names: Vec<Value> = files.iter().map(|f| json!({ "name": f.name })).collect();
            history
                .record_out(
                    item.chat,
                    &ids,
                    item.portal_chat,
                    item.portal_message,
                    &text,
                    &Value::from(names),
                )
                .await?;
            ids
        };
        self.confirm(&client, &item, &ids).await?;
        history
            .set_out_state(item.portal_message, "delivered", None, None)
            .await?;
        Ok(())
    }

    async fn edit_operator_message(&self, event: &PortalEvent) -> Result<(), Attempt> {
        let item = outgoing(&event.item)?;
        let client = self
            .inner
            .portals
            .client(&event.member_id)
            .await
            .map_err(BridgeError::from)?;
        let history = &self.inner.history;
        let Some(sent) = history.outgoing(item.portal_message).await? else {
            // Never delivered (or from before the bridge's history): nothing to edit.
            return Ok(());
        };
        let text = item
            .message
            .message
            .as_ref()
            .and_then(|m| m.text.clone())
            .unwrap_or_default();
        let html = bbcode_to_telegram_html(&text);
        let parts = split_telegram_html(&html, TELEGRAM_TEXT_LIMIT);
        let chat = ChatId(item.chat);
        // The edit goes to the first Telegram message; an edit that grew past the limit keeps
        // its first part there (Telegram cannot add messages to an edit).
        if let (Some(first), Some(part)) = (sent.telegram_message_ids.first(), parts.first()) {
            let id = MessageId(i32::try_from(*first).unwrap_or_default());
            self.inner.sender.edit_html(chat, id, part, None).await?;
        }
        history
            .set_out_state(item.portal_message, "edited", Some(&text), None)
            .await?;
        self.confirm(&client, &item, &sent.telegram_message_ids)
            .await?;
        Ok(())
    }

    async fn delete_operator_message(&self, event: &PortalEvent) -> Result<(), Attempt> {
        let item = outgoing(&event.item)?;
        let history = &self.inner.history;
        let Some(sent) = history.outgoing(item.portal_message).await? else {
            return Ok(());
        };
        for id in &sent.telegram_message_ids {
            let id = MessageId(i32::try_from(*id).unwrap_or_default());
            self.inner.sender.delete(ChatId(item.chat), id).await?;
        }
        history
            .set_out_state(item.portal_message, "deleted", None, None)
            .await?;
        Ok(())
    }

    /// `imconnector.send.status.delivery`: the operator sees "delivered".
    async fn confirm(&self, client: &Client, item: &Outgoing, ids: &[i64]) -> Result<(), Attempt> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let _: Value = client
            .call_raw(
                "imconnector.send.status.delivery",
                json!({
                    "CONNECTOR": item.connector,
                    "LINE": item.line,
                    "MESSAGES": [{
                        "im": { "chat_id": item.portal_chat, "message_id": item.portal_message },
                        "message": { "id": ids, "date": now_ms() / 1000 },
                        "chat": { "id": item.chat.to_string() },
                    }],
                }),
            )
            // Reporting delivery twice is harmless.
            .idempotent(true)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_payloads_name_deals() {
        assert_eq!(deal_of("deal_15"), Some(15));
        assert_eq!(deal_of("DEAL-7"), Some(7));
        assert_eq!(deal_of("d42"), Some(42));
        assert_eq!(deal_of("99"), Some(99));
        assert_eq!(deal_of("promo"), None);
        assert_eq!(deal_of("deal_0"), None);
    }
}
