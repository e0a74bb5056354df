//! The workers: Telegram updates, portal events, the outbox of side effects, reminders.

// Retry-or-give-up reads best as the two arms of one match.
#![allow(clippy::single_match_else)]

use std::time::Duration;

use bitrix24::Client;
use futures::StreamExt;
use serde_json::{Value, json};
use teloxide_core::types::{ChatId, MessageId};

use super::effects::{Effect, PendingEffect};
use super::records::{Channel, Decision};
use super::users::Source;
use super::{Approval, ApprovalError, ApprovalFlow, NewApproval};
use crate::store::event_inbox::InboxEvent as StoredEvent;
use crate::store::{StoreError, now_ms};
use crate::telegram::inbox::InboxUpdate;
use crate::telegram::send::SendFailure;

/// Why one attempt did not finish.
#[derive(Debug, thiserror::Error)]
pub(super) enum Attempt {
    /// Try again after a backoff.
    #[error("{0}")]
    Transient(String),
    /// Try again after exactly this long (Telegram's `retry_after`).
    #[error("rate limited for {0:?}")]
    After(Duration),
    /// Trying again will not help.
    #[error("{0}")]
    Permanent(String),
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

impl From<ApprovalError> for Attempt {
    fn from(error: ApprovalError) -> Self {
        match error {
            ApprovalError::Api(error) => error.into(),
            ApprovalError::Invalid(reason) => Self::Permanent(reason),
            other => Self::Transient(other.to_string()),
        }
    }
}

impl From<SendFailure> for Attempt {
    fn from(failure: SendFailure) -> Self {
        match failure {
            SendFailure::RetryAfter(wait) => Self::After(wait),
            SendFailure::Permanent(reason) => Self::Permanent(reason),
            SendFailure::Blocked => Self::Permanent("the approver blocked the bot".into()),
            SendFailure::Transient(reason) => Self::Transient(reason),
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

pub(super) async fn run(flow: ApprovalFlow, shutdown: impl Future<Output = ()> + Send + 'static) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // A JoinSet aborts its tasks when dropped: if this future is cancelled (the caller aborts
    // it), no worker lives on beside a successor.
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(telegram_side(flow.clone(), stopped.clone()));
    tasks.spawn(updates_loop(flow.clone(), stopped.clone()));
    tasks.spawn(work_loop(flow, stopped));
    shutdown.await;
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
}

async fn until_stopped(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn telegram_side(flow: ApprovalFlow, stopped: tokio::sync::watch::Receiver<bool>) {
    let inner = &flow.inner;
    let secret = if inner.settings.telegram_webhook {
        match super::routes::webhook_secret(&flow).await {
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

async fn updates_loop(flow: ApprovalFlow, stopped: tokio::sync::watch::Receiver<bool>) {
    let inner = &flow.inner;
    let _ = inner.inbox.release_claims().await;
    let wake = inner.inbox.wake();
    loop {
        if *stopped.borrow() {
            return;
        }
        let claimed = match inner.inbox.claim(8, inner.settings.lease).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "approvals: reading the Telegram inbox failed");
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
        futures::stream::iter(claimed)
            .for_each_concurrent(8, |update| {
                let flow = flow.clone();
                async move {
                    let result = flow.handle_update(&update.raw).await;
                    flow.settle_update(&update, result).await;
                }
            })
            .await;
    }
}

/// Events, effects and reminders share one loop: each pass does what is due.
async fn work_loop(flow: ApprovalFlow, stopped: tokio::sync::watch::Receiver<bool>) {
    let inner = &flow.inner;
    let _ = inner.events.release_claims().await;
    let _ = inner.outbox.release_claims().await;
    loop {
        if *stopped.borrow() {
            return;
        }
        if let Err(error) = flow.schedule_reminders().await {
            tracing::error!(%error, "approvals: reminders could not be scheduled");
        }
        let lease = millis(inner.settings.lease);
        let events = inner.events.claim(8, lease).await.unwrap_or_else(|error| {
            tracing::error!(%error, "approvals: reading the events failed");
            Vec::new()
        });
        let effects = inner.outbox.claim(8, lease).await.unwrap_or_else(|error| {
            tracing::error!(%error, "approvals: reading the outbox failed");
            Vec::new()
        });
        if events.is_empty() && effects.is_empty() {
            tokio::select! {
                () = until_stopped(stopped.clone()) => return,
                () = inner.wake.notified() => {}
                () = tokio::time::sleep(inner.settings.poll_interval) => {}
            }
            continue;
        }
        futures::stream::iter(events)
            .for_each_concurrent(8, |event| {
                let flow = flow.clone();
                async move {
                    let result = flow.handle_event(&event).await;
                    flow.settle_event(&event, result).await;
                }
            })
            .await;
        futures::stream::iter(effects)
            .for_each_concurrent(8, |effect| {
                let flow = flow.clone();
                async move {
                    let result = flow.execute(&effect).await;
                    flow.settle_effect(&effect, result).await;
                }
            })
            .await;
    }
}

impl ApprovalFlow {
    fn delay(&self, attempts: u32, result: &Attempt) -> Option<i64> {
        let settings = &self.inner.settings;
        match result {
            Attempt::After(wait) => Some(millis(*wait)),
            Attempt::Transient(_) if attempts.saturating_add(1) < settings.max_attempts => {
                Some(millis(settings.backoff(attempts)))
            }
            _ => None,
        }
    }

    async fn settle_update(&self, update: &InboxUpdate, result: Result<(), Attempt>) {
        let inbox = &self.inner.inbox;
        let stored = match result {
            Ok(()) => inbox.done(update.update_id).await,
            Err(error) => match self.delay(update.attempts, &error) {
                Some(delay) => {
                    tracing::warn!(update = update.update_id, %error, "a Telegram update will be retried");
                    inbox
                        .retry_later(
                            update.update_id,
                            &error.to_string(),
                            Duration::from_millis(u64::try_from(delay).unwrap_or(0)),
                        )
                        .await
                }
                None => {
                    tracing::error!(update = update.update_id, %error, "a Telegram update was given up");
                    inbox.fail(update.update_id, &error.to_string()).await
                }
            },
        };
        if let Err(error) = stored {
            tracing::error!(%error, "approvals: cannot record an update's outcome");
        }
    }

    async fn settle_event(&self, event: &StoredEvent, result: Result<(), Attempt>) {
        let events = &self.inner.events;
        let stored = match result {
            Ok(()) => events.done(event.id).await,
            Err(error) => match self.delay(event.attempts, &error) {
                Some(delay) => {
                    events
                        .retry_later(event.id, &error.to_string(), delay)
                        .await
                }
                None => {
                    tracing::error!(event = event.id, %error, "a portal event was given up");
                    events.fail(event.id, &error.to_string()).await
                }
            },
        };
        if let Err(error) = stored {
            tracing::error!(%error, "approvals: cannot record an event's outcome");
        }
    }

    async fn settle_effect(&self, effect: &PendingEffect, result: Result<(), Attempt>) {
        let outbox = &self.inner.outbox;
        let stored = match result {
            Ok(()) => outbox.done(effect.id).await,
            Err(error) => match self.delay(effect.attempts, &error) {
                Some(delay) => {
                    tracing::warn!(effect = effect.id, %error, "a side effect will be retried");
                    outbox
                        .retry_later(effect.id, &error.to_string(), delay)
                        .await
                }
                None => {
                    tracing::error!(effect = effect.id, approval = %effect.approval_id, %error, "a side effect was given up");
                    outbox.fail(effect.id, &error.to_string()).await
                }
            },
        };
        if let Err(error) = stored {
            tracing::error!(%error, "approvals: cannot record an effect's outcome");
        }
        self.inner.wake.notify_one();
    }

    async fn schedule_reminders(&self) -> Result<(), StoreError> {
        let until = now_ms().saturating_add(millis(self.inner.settings.remind_before));
        for approval in self.inner.approvals.due_for_reminder(until).await? {
            let step = approval.current_step;
            if self
                .inner
                .outbox
                .add(
                    &approval.id,
                    &format!("remind:{step}"),
                    &Effect::Remind { step },
                )
                .await?
            {
                self.inner.wake.notify_one();
            }
        }
        Ok(())
    }

    /// The approver's Telegram id: stored, or read once from the user field.
    async fn telegram_for(
        &self,
        client: &Client,
        member: &str,
        user: u64,
    ) -> Result<Option<i64>, Attempt> {
        let users = &self.inner.users;
        if let Some(id) = users.telegram_of(member, user).await? {
            return Ok(Some(id));
        }
        if users.known(member, user).await? {
            return Ok(None);
        }
        let telegram = self.read_field(client, user).await?;
        users.set(member, user, telegram, Source::Portal).await?;
        Ok(telegram)
    }

    /// The user field's Telegram id, per `user.get`.
    async fn read_field(&self, client: &Client, user: u64) -> Result<Option<i64>, Attempt> {
        let found: Value = client
            .call_raw(
                "user.get",
                json!({ "FILTER": { "ID": user }, "select": ["*", "UF_*"] }),
            )
            .idempotent(true)
            .await?;
        let field = &found[0][self.inner.settings.telegram_field.as_str()];
        Ok(field
            .as_i64()
            .or_else(|| field.as_str()?.trim().parse().ok())
            .filter(|id| *id != 0))
    }

    // ---- portal events ----------------------------------------------------------------------

    async fn handle_event(&self, event: &StoredEvent) -> Result<(), Attempt> {
        let client = self.inner.access.client(&event.member_id).await?;
        let data = &event.item;
        let member = event.member_id.as_str();
        match event.event.as_str() {
            "ONTASKUPDATE" => {
                let Some(task) = super::routes::id_of(&data["FIELDS_AFTER"]["ID"]) else {
                    return Ok(());
                };
                self.task_changed(&client, member, task).await
            }
            "ONCRMDEALADD" | "ONCRMDEALUPDATE" => {
                let Some(deal) = super::routes::id_of(&data["FIELDS"]["ID"]) else {
                    return Ok(());
                };
                self.deal_changed(&client, member, deal).await
            }
            "ONCRMLEADADD" => {
                let Some(lead) = super::routes::id_of(&data["FIELDS"]["ID"]) else {
                    return Ok(());
                };
                self.lead_added(&client, member, lead).await
            }
            "ONUSERADD" | "ONUSERUPDATE" => {
                let Some(user) = super::routes::id_of(&data["ID"])
                    .or_else(|| super::routes::id_of(&data["FIELDS"]["ID"]))
                else {
                    return Ok(());
                };
                // Events say that something changed; the field itself is read from the portal.
                if let Some(telegram) = self.read_field(&client, user).await? {
                    self.inner
                        .users
                        .set(member, user, Some(telegram), Source::Portal)
                        .await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A task completed or deferred inside Bitrix24 decides its pending approval.
    async fn task_changed(&self, client: &Client, member: &str, task: u64) -> Result<(), Attempt> {
        let Some(approval) = self.inner.approvals.by_task(member, task).await? else {
            return Ok(());
        };
        if approval.state != "pending" {
            return Ok(());
        }
        let got: Value = client
            .call_raw("tasks.task.get", json!({ "taskId": task }))
            .idempotent(true)
            .await?;
        let task = &got["task"];
        let status = task["status"]
            .as_str()
            .map_or_else(|| task["status"].to_string(), str::to_owned);
        let approve = match status.as_str() {
            "5" => true,
            "6" => false,
            _ => return Ok(()),
        };
        let by = super::routes::id_of(&task["closedBy"])
            .filter(|_| approve)
            .or_else(|| super::routes::id_of(&task["changedBy"]))
            .or_else(|| approval.current_approver())
            .unwrap_or_default();
        let decision = Decision {
            step: approval.current_step,
            approve,
            by,
            channel: Channel::Bitrix24,
            reason: None,
            whole: true,
        };
        self.inner
            .approvals
            .decide(&approval, &decision, None)
            .await?;
        Ok(())
    }

    async fn deal_changed(&self, client: &Client, member: &str, deal: u64) -> Result<(), Attempt> {
        if self.inner.settings.deal_rules.is_empty() {
            return Ok(());
        }
        let got: Value = client
            .call_raw("crm.item.get", json!({ "entityTypeId": 2, "id": deal }))
            .idempotent(true)
            .await?;
        let item = &got["item"];
        let stage = item["stageId"].as_str().unwrap_or_default();
        for rule in self
            .inner
            .settings
            .deal_rules
            .iter()
            .filter(|r| r.stage == stage)
        {
            let new = NewApproval {
                title: format!("Approve deal: {}", item["title"].as_str().unwrap_or("deal")),
                description: format!("Deal #{deal} entered stage {stage}."),
                approvers: rule.approvers.clone(),
                initiator: super::routes::id_of(&item["assignedById"]),
                deadline_ms: rule.deadline_in.map(|d| now_ms().saturating_add(millis(d))),
                crm_binding: Some(format!("D_{deal}")),
                deal_id: Some(deal),
                stage_on_approve: rule.stage_on_approve.clone(),
                stage_on_reject: rule.stage_on_reject.clone(),
                files: Vec::new(),
                idempotency_key: None,
            };
            // One approval per deal and stage, however often the portal repeats the event.
            self.inner
                .approvals
                .insert(member, Some(&format!("deal:{member}:{deal}:{stage}")), &new)
                .await?;
        }
        Ok(())
    }

    async fn lead_added(&self, client: &Client, member: &str, lead: u64) -> Result<(), Attempt> {
        let Some(rule) = &self.inner.settings.lead_rule else {
            return Ok(());
        };
        let got: Value = client
            .call_raw("crm.item.get", json!({ "entityTypeId": 1, "id": lead }))
            .idempotent(true)
            .await?;
        let item = &got["item"];
        let new = NewApproval {
            title: format!("Approve lead: {}", item["title"].as_str().unwrap_or("lead")),
            description: format!("New lead #{lead}."),
            approvers: rule.approvers.clone(),
            initiator: super::routes::id_of(&item["assignedById"]),
            deadline_ms: rule.deadline_in.map(|d| now_ms().saturating_add(millis(d))),
            crm_binding: Some(format!("L_{lead}")),
            ..NewApproval::default()
        };
        self.inner
            .approvals
            .insert(member, Some(&format!("lead:{member}:{lead}")), &new)
            .await?;
        Ok(())
    }

    // ---- side effects -----------------------------------------------------------------------

    #[allow(clippy::too_many_lines)] // One arm per effect kind reads best side by side.
    async fn execute(&self, pending: &PendingEffect) -> Result<(), Attempt> {
        if let Effect::WriteTelegramId {
            member_id,
            user,
            telegram_id,
        } = &pending.effect
        {
            let client = self.inner.access.client(member_id).await?;
            let field = self.inner.settings.telegram_field.clone();
            let _: Value = client
                .call_raw(
                    "user.update",
                    json!({ "ID": user, field: telegram_id.to_string() }),
                )
                .idempotent(true)
                .await?;
            return Ok(());
        }
        let Some(approval) = self.inner.approvals.get(&pending.approval_id).await? else {
            return Err(Attempt::Permanent("the approval is gone".into()));
        };
        let client = self.inner.access.client(&approval.member_id).await?;
        let task = approval.task_id;
        let need_task =
            || task.ok_or_else(|| Attempt::Permanent("the approval has no task".into()));
        match &pending.effect {
            Effect::CreateTask => self.create_task(&client, &approval, pending).await,
            Effect::AskStep { step } => self.ask(&client, &approval, *step).await,
            Effect::Comment { text } => {
                let task = need_task()?;
                if pending.attempted && self.has_comment(&client, task, text).await? {
                    return Ok(());
                }
                self.inner.outbox.mark_attempted(pending.id).await?;
                let _: Value = client
                    .call_raw(
                        "task.commentitem.add",
                        json!({ "TASKID": task, "FIELDS": { "POST_MESSAGE": text } }),
                    )
                    .await?;
                Ok(())
            }
            Effect::Delegate { user } => {
                let task = need_task()?;
                let got = self.task(&client, task).await?;
                if super::routes::id_of(&got["responsibleId"]) == Some(*user) {
                    return Ok(());
                }
                let _: Value = client
                    .call_raw(
                        "tasks.task.delegate",
                        json!({ "taskId": task, "userId": user }),
                    )
                    .await?;
                Ok(())
            }
            Effect::CompleteTask | Effect::DeferTask => {
                let task = need_task()?;
                let got = self.task(&client, task).await?;
                let status = got["status"].as_str().unwrap_or_default();
                let complete = matches!(pending.effect, Effect::CompleteTask);
                // Already where the decision puts it (a repeat after a lost reply, or the
                // portal's own user got there first).
                if status == "5" || (!complete && status == "6") {
                    return Ok(());
                }
                let method = if complete {
                    "tasks.task.complete"
                } else {
                    "tasks.task.defer"
                };
                let _: Value = client.call_raw(method, json!({ "taskId": task })).await?;
                Ok(())
            }
            Effect::MoveDeal { deal, stage } => {
                let _: Value = client
                    .call_raw(
                        "crm.item.update",
                        json!({ "entityTypeId": 2, "id": deal, "fields": { "stageId": stage } }),
                    )
                    .idempotent(true)
                    .await?;
                Ok(())
            }
            Effect::Notify { user, text, tag } => self.notify(&client, *user, text, tag).await,
            Effect::ShowOutcome { step } => {
                let Some((chat, message)) = self.message_of(&approval.id, *step).await? else {
                    return Ok(());
                };
                let html = super::telegram::outcome_html(&approval, *step);
                match self
                    .inner
                    .sender
                    .edit_html(ChatId(chat), message, &html, None)
                    .await
                {
                    Ok(()) | Err(SendFailure::Blocked) => Ok(()),
                    Err(error) => Err(error.into()),
                }
            }
            Effect::Remind { step } => self.remind(&client, &approval, *step).await,
            Effect::WriteTelegramId { .. } => Ok(()),
        }
    }

    async fn task(&self, client: &Client, task: u64) -> Result<Value, Attempt> {
        let got: Value = client
            .call_raw("tasks.task.get", json!({ "taskId": task }))
            .idempotent(true)
            .await?;
        Ok(got["task"].clone())
    }

    async fn has_comment(&self, client: &Client, task: u64, text: &str) -> Result<bool, Attempt> {
        let list: Value = client
            .call_raw("task.commentitem.getlist", json!({ "TASKID": task }))
            .idempotent(true)
            .await?;
        Ok(list.as_array().is_some_and(|items| {
            items
                .iter()
                .any(|c| c["POST_MESSAGE"].as_str() == Some(text))
        }))
    }

    async fn create_task(
        &self,
        client: &Client,
        approval: &Approval,
        pending: &PendingEffect,
    ) -> Result<(), Attempt> {
        if approval.task_id.is_some() {
            return Ok(());
        }
        let marker = format!("Approval ref: {}", approval.id);
        let responsible = approval.steps.first().map_or(1, |s| s.user);
        if pending.attempted {
            // The previous attempt may have created the task: find it by its marker.
            let found: Value = client
                .call_raw(
                    "tasks.task.list",
                    json!({ "filter": { "RESPONSIBLE_ID": responsible, "TITLE": approval.title }, "select": ["ID", "DESCRIPTION"] }),
                )
                .idempotent(true)
                .await?;
            let existing = found["tasks"].as_array().and_then(|tasks| {
                tasks.iter().find(|t| {
                    t["description"]
                        .as_str()
                        .is_some_and(|d| d.contains(&marker))
                })
            });
            if let Some(id) = existing.and_then(|t| super::routes::id_of(&t["id"])) {
                self.inner.approvals.set_task(&approval.id, id).await?;
                return Ok(());
            }
        }
        let mut fields = json!({
            "TITLE": approval.title,
            "DESCRIPTION": format!("{}\n\n{marker}", approval.description),
            "RESPONSIBLE_ID": responsible,
        });
        if let Some(initiator) = approval.initiator_id {
            fields["CREATED_BY"] = json!(initiator);
        }
        if let Some(deadline) = approval.deadline_ms {
            fields["DEADLINE"] = json!(super::page::iso_time(deadline));
        }
        if let Some(binding) = &approval.crm_binding {
            fields["UF_CRM_TASK"] = json!([binding]);
        }
        if !approval.files.is_empty() {
            let files: Vec<String> = approval.files.iter().map(|f| format!("n{f}")).collect();
            fields["UF_TASK_WEBDAV_FILES"] = json!(files);
        }
        self.inner.outbox.mark_attempted(pending.id).await?;
        let created: Value = client
            .call_raw("tasks.task.add", json!({ "fields": fields }))
            .await?;
        let id = super::routes::id_of(&created["task"]["id"])
            .ok_or_else(|| Attempt::Permanent(format!("tasks.task.add gave no id: {created}")))?;
        self.inner.approvals.set_task(&approval.id, id).await?;
        Ok(())
    }

    async fn message_of(
        &self,
        approval: &str,
        step: usize,
    ) -> Result<Option<(i64, MessageId)>, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT chat_id, message_id FROM approval_messages WHERE approval_id = ? AND step = ?",
        )
        .bind(approval)
        .bind(i64::try_from(step).unwrap_or_default())
        .fetch_optional(self.inner.store.pool())
        .await?;
        Ok(row.map(|(chat, id)| (chat, MessageId(i32::try_from(id).unwrap_or_default()))))
    }

    async fn notify(
        &self,
        client: &Client,
        user: u64,
        text: &str,
        tag: &str,
    ) -> Result<(), Attempt> {
        // A tag replaces an earlier notification with the same tag: a repeat shows once.
        let _: Value = client
            .call_raw(
                "im.notify.personal.add",
                json!({ "USER_ID": user, "MESSAGE": text, "TAG": tag }),
            )
            .idempotent(true)
            .await?;
        Ok(())
    }

    async fn ask(&self, client: &Client, approval: &Approval, step: usize) -> Result<(), Attempt> {
        if approval.state != "pending" || approval.current_step != step {
            return Ok(());
        }
        let Some(user) = approval.steps.get(step).map(|s| s.user) else {
            return Ok(());
        };
        if self.message_of(&approval.id, step).await?.is_some() {
            return Ok(());
        }
        if let Some(chat) = self.telegram_for(client, &approval.member_id, user).await? {
            let html = super::telegram::ask_html(approval, step);
            let keyboard = super::telegram::keyboard(&approval.id, step);
            match self
                .inner
                .sender
                .send_html(ChatId(chat), &html, None, Some(keyboard))
                .await
            {
                Ok(ids) => {
                    let Some(last) = ids.last() else {
                        return Ok(());
                    };
                    sqlx::query(
                        "INSERT INTO approval_messages (approval_id, step, chat_id, message_id) VALUES (?, ?, ?, ?) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(&approval.id)
                    .bind(i64::try_from(step).unwrap_or_default())
                    .bind(chat)
                    .bind(last.0)
                    .execute(self.inner.store.pool())
                    .await
                    .map_err(StoreError::from)?;
                    return Ok(());
                }
                // Blocked: fall back to Bitrix24, below.
                Err(SendFailure::Blocked) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let link = self.inner.settings.url("approvals");
        let text = format!(
            "Your approval is requested: [B]{}[/B]. Decide in the task{} or link Telegram on {link}",
            approval.title,
            approval
                .task_id
                .map(|t| format!(" #{t}"))
                .unwrap_or_default()
        );
        self.notify(
            client,
            user,
            &text,
            &format!("approval:{}:ask:{step}", approval.id),
        )
        .await
    }

    async fn remind(
        &self,
        client: &Client,
        approval: &Approval,
        step: usize,
    ) -> Result<(), Attempt> {
        if approval.state != "pending" || approval.current_step != step {
            return Ok(());
        }
        let Some(user) = approval.steps.get(step).map(|s| s.user) else {
            return Ok(());
        };
        let when = approval
            .deadline_ms
            .map(super::page::format_time)
            .unwrap_or_default();
        if let (Some(chat), Some((_, message))) = (
            self.telegram_for(client, &approval.member_id, user).await?,
            self.message_of(&approval.id, step).await?,
        ) {
            let html = format!("⏰ Reminder: the deadline for this approval is {when} UTC.");
            match self
                .inner
                .sender
                .send_html(ChatId(chat), &html, Some(message), None)
                .await
            {
                Ok(_) => return Ok(()),
                Err(SendFailure::Blocked) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let text = format!("Reminder: approval «{}» is due {when} UTC.", approval.title);
        self.notify(
            client,
            user,
            &text,
            &format!("approval:{}:remind:{step}", approval.id),
        )
        .await
    }
}
