//! What approvers do in Telegram: press Approve / Reject / Comment, answer the reason prompt,
//! link their account with `/start link_…` or a shared phone.

use std::fmt::Write as _;

use serde_json::{Value, json};
use sqlx::Row;
use teloxide_core::payloads::SendMessageSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::{ChatId, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup};

use super::effects::Effect;
use super::records::{Channel, Decision, Outcome};
use super::users::Source;
use super::workers::Attempt;
use super::{Approval, ApprovalFlow};
use crate::store::now_ms;
use crate::telegram::send::SendFailure;

/// The approver's message: what is asked, and the buttons.
pub(super) fn ask_html(approval: &Approval, step: usize) -> String {
    let mut html = format!("<b>Approval requested</b>\n{}", esc(&approval.title));
    if !approval.description.is_empty() {
        html.push_str("\n\n");
        html.push_str(&esc(&approval.description));
    }
    if let Some(deadline) = approval.deadline_ms {
        let _ = write!(
            html,
            "\n\nDeadline: {} UTC",
            super::page::format_time(deadline)
        );
    }
    if let Some(binding) = &approval.crm_binding {
        let _ = write!(html, "\nCRM: {}", esc(binding));
    }
    if approval.steps.len() > 1 {
        let _ = write!(html, "\nStep {} of {}", step + 1, approval.steps.len());
    }
    html
}

pub(super) fn keyboard(approval_id: &str, step: usize) -> InlineKeyboardMarkup {
    let data = |action: &str| format!("ap:{approval_id}:{step}:{action}");
    InlineKeyboardMarkup::new(vec![vec![
        InlineKeyboardButton::callback("✅ Approve", data("approve")),
        InlineKeyboardButton::callback("❌ Reject", data("reject")),
        InlineKeyboardButton::callback("💬 Comment", data("comment")),
    ]])
}

/// The approver's message after the decision: the request and the outcome, no buttons.
pub(super) fn outcome_html(approval: &Approval, step: usize) -> String {
    let mut html = ask_html(approval, step);
    let Some(decided) = approval.steps.get(step) else {
        return html;
    };
    let verdict = match decided.state.as_str() {
        "approved" => "✅ Approved",
        "rejected" => "❌ Rejected",
        "skipped" => "Closed",
        _ => "Decided",
    };
    let place = match decided.channel {
        Some(Channel::Bitrix24) => " in Bitrix24",
        Some(Channel::Telegram) => " in Telegram",
        None => "",
    };
    let _ = write!(html, "\n\n<b>{verdict}</b>{place}");
    if let Some(at) = decided.decided_at {
        let _ = write!(html, " at {} UTC", super::page::format_time(at));
    }
    if let Some(reason) = &decided.reason {
        let _ = write!(html, "\nReason: {}", esc(reason));
    }
    html
}

fn parse_callback(data: &str) -> Option<(&str, usize, &str)> {
    let mut parts = data.split(':');
    if parts.next()? != "ap" {
        return None;
    }
    let id = parts.next()?;
    let step = parts.next()?.parse().ok()?;
    let action = parts.next()?;
    parts.next().is_none().then_some((id, step, action))
}

impl ApprovalFlow {
    pub(super) async fn handle_update(&self, raw: &Value) -> Result<(), Attempt> {
        if raw["callback_query"].is_object() {
            return self.handle_callback(&raw["callback_query"]).await;
        }
        let message = &raw["message"];
        let (Some(from), Some(chat)) = (
            message["from"]["id"].as_i64(),
            message["chat"]["id"].as_i64(),
        ) else {
            return Ok(());
        };
        if message["chat"]["type"]
            .as_str()
            .is_some_and(|t| t != "private")
        {
            return Ok(());
        }
        if let Some(text) = message["text"].as_str() {
            if let Some(rest) = text.strip_prefix("/start") {
                return self.start(from, chat, rest.trim()).await;
            }
            return self
                .answer_prompt(
                    from,
                    chat,
                    text,
                    raw["update_id"].as_i64().unwrap_or_default(),
                )
                .await;
        }
        if message["contact"].is_object() {
            return self.shared_phone(from, chat, &message["contact"]).await;
        }
        Ok(())
    }

    async fn say(&self, chat: i64, html: &str) -> Result<(), Attempt> {
        match self
            .inner
            .sender
            .send_html(ChatId(chat), html, None, None)
            .await
        {
            Ok(_) | Err(SendFailure::Blocked) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    #[allow(clippy::too_many_lines)] // The checks come in the order a press must pass them.
    async fn handle_callback(&self, query: &Value) -> Result<(), Attempt> {
        let id = query["id"].as_str().unwrap_or_default();
        let from = query["from"]["id"].as_i64().unwrap_or_default();
        let answer = |text: &'static str| async move {
            match self.inner.sender.answer_callback(id, Some(text)).await {
                // An expired query cannot be answered any more: nothing to retry.
                Ok(()) | Err(SendFailure::Permanent(_)) => Ok(()),
                Err(error) => Err(Attempt::from(error)),
            }
        };
        let Some((approval_id, step, action)) = query["data"].as_str().and_then(parse_callback)
        else {
            return answer("Unknown button.").await;
        };
        let Some(approval) = self.inner.approvals.get(approval_id).await? else {
            return answer("This approval no longer exists.").await;
        };
        let Some(approver) = approval.steps.get(step).map(|s| s.user) else {
            return answer("Unknown step.").await;
        };
        let mapped = self
            .inner
            .users
            .telegram_of(&approval.member_id, approver)
            .await?;
        if mapped != Some(from) {
            tracing::warn!(approval = %approval.id, telegram = from, "a button was pressed by someone who is not the approver");
            return answer("This approval is not yours.").await;
        }
        if approval.state != "pending" || approval.current_step != step {
            return answer("Already decided.").await;
        }
        match action {
            "approve" => {
                let decision = Decision {
                    step,
                    approve: true,
                    by: approver,
                    channel: Channel::Telegram,
                    reason: None,
                    whole: false,
                };
                let outcome = self
                    .inner
                    .approvals
                    .decide(&approval, &decision, None)
                    .await?;
                self.inner.wake.notify_one();
                answer(match outcome {
                    Some(Outcome::Final | Outcome::Advanced) => "Approved.",
                    None => "Already decided.",
                })
                .await
            }
            "reject" | "comment" => {
                let prompt = if action == "reject" {
                    format!(
                        "Why do you reject «{}»? Reply to this message with the reason.",
                        approval.title
                    )
                } else {
                    format!(
                        "Your comment on «{}»? Reply to this message.",
                        approval.title
                    )
                };
                sqlx::query(
                    "INSERT INTO approval_prompts (telegram_id, approval_id, step, action, created_at) VALUES (?, ?, ?, ?, ?) \
                     ON CONFLICT (telegram_id) DO UPDATE SET approval_id = excluded.approval_id, step = excluded.step, \
                     action = excluded.action, prompt_message_id = NULL, created_at = excluded.created_at",
                )
                .bind(from)
                .bind(&approval.id)
                .bind(i64::try_from(step).unwrap_or_default())
                .bind(action)
                .bind(now_ms())
                .execute(self.inner.store.pool())
                .await
                .map_err(crate::store::StoreError::from)?;
                let sent = self
                    .inner
                    .bot
                    .send_message(ChatId(from), prompt)
                    .reply_markup(ForceReply::new())
                    .await
                    .map_err(SendFailure::from)?;
                sqlx::query(
                    "UPDATE approval_prompts SET prompt_message_id = ? WHERE telegram_id = ?",
                )
                .bind(sent.id.0)
                .bind(from)
                .execute(self.inner.store.pool())
                .await
                .map_err(crate::store::StoreError::from)?;
                answer(if action == "reject" {
                    "Reply with the reason."
                } else {
                    "Reply with your comment."
                })
                .await
            }
            _ => answer("Unknown button.").await,
        }
    }

    /// A text from someone with an open prompt answers it; other texts get a hint.
    async fn answer_prompt(
        &self,
        from: i64,
        chat: i64,
        text: &str,
        update_id: i64,
    ) -> Result<(), Attempt> {
        let row = sqlx::query(
            "SELECT approval_id, step, action FROM approval_prompts WHERE telegram_id = ?",
        )
        .bind(from)
        .fetch_optional(self.inner.store.pool())
        .await
        .map_err(crate::store::StoreError::from)?;
        let Some(row) = row else {
            return self
                .say(
                    chat,
                    "I send approval requests here. Use the buttons under a request to decide.",
                )
                .await;
        };
        let approval_id: String = row
            .try_get("approval_id")
            .map_err(crate::store::StoreError::from)?;
        let step: i64 = row
            .try_get("step")
            .map_err(crate::store::StoreError::from)?;
        let action: String = row
            .try_get("action")
            .map_err(crate::store::StoreError::from)?;
        let step = usize::try_from(step).unwrap_or_default();
        let Some(approval) = self.inner.approvals.get(&approval_id).await? else {
            return Ok(());
        };
        let approver = approval.steps.get(step).map(|s| s.user).unwrap_or_default();
        let clear = || async {
            sqlx::query("DELETE FROM approval_prompts WHERE telegram_id = ?")
                .bind(from)
                .execute(self.inner.store.pool())
                .await
                .map_err(crate::store::StoreError::from)
        };
        if action == "reject" {
            let decision = Decision {
                step,
                approve: false,
                by: approver,
                channel: Channel::Telegram,
                reason: Some(text.trim().to_owned()),
                whole: false,
            };
            let decided = self
                .inner
                .approvals
                .decide(&approval, &decision, Some(from))
                .await?;
            self.inner.wake.notify_one();
            if decided.is_none() {
                clear().await?;
                return self.say(chat, "This approval was already decided.").await;
            }
            return self.say(chat, "Rejected. The reason is recorded.").await;
        }
        let comment = format!(
            "[USER={approver}][/USER] commented in Telegram at {} (UTC): {}",
            super::page::format_time(now_ms()),
            text.trim()
        );
        self.inner
            .outbox
            .add(
                &approval.id,
                &format!("note:{update_id}"),
                &Effect::Comment { text: comment },
            )
            .await?;
        clear().await?;
        self.inner.wake.notify_one();
        self.say(chat, "Comment added to the task.").await
    }

    async fn start(&self, from: i64, chat: i64, payload: &str) -> Result<(), Attempt> {
        if payload.starts_with("link_") {
            return match self.inner.users.redeem(payload).await? {
                Some((member, user)) => {
                    self.link(&member, user, from, Source::Code).await?;
                    self.say(chat, "Linked: approval requests for you will come here.").await
                }
                None => self.say(chat, "This code is unknown, used or expired: get a new one on the approvals page.").await,
            };
        }
        self.say(
            chat,
            "To receive approval requests, send the code from the approvals page in Bitrix24 (<code>/start link_…</code>) or share your phone number.",
        )
        .await
    }

    async fn link(
        &self,
        member: &str,
        user: u64,
        telegram: i64,
        source: Source,
    ) -> Result<(), Attempt> {
        self.inner
            .users
            .set(member, user, Some(telegram), source)
            .await?;
        // Keep the portal's user field in step, so other tools see the same mapping.
        self.inner
            .outbox
            .add(
                &format!("user:{member}:{user}"),
                &format!("write:{telegram}:{}", now_ms()),
                &Effect::WriteTelegramId {
                    member_id: member.to_owned(),
                    user,
                    telegram_id: telegram,
                },
            )
            .await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// A shared contact links the account when it is the sender's own and its number is
    /// exactly one user's mobile or work phone.
    async fn shared_phone(&self, from: i64, chat: i64, contact: &Value) -> Result<(), Attempt> {
        if contact["user_id"].as_i64() != Some(from) {
            return self.say(chat, "Please share your own phone number.").await;
        }
        let wanted = digits(contact["phone_number"].as_str().unwrap_or_default());
        if wanted.len() < 7 {
            return self.say(chat, "This phone number is too short.").await;
        }
        let mut matches = Vec::new();
        for member in self.inner.access.members().await.map_err(Attempt::from)? {
            let client = self
                .inner
                .access
                .client(&member)
                .await
                .map_err(Attempt::from)?;
            let mut start = 0_u64;
            loop {
                let page: Value = client
                    .call_raw(
                        "user.get",
                        json!({ "FILTER": { "ACTIVE": true }, "start": start }),
                    )
                    .idempotent(true)
                    .await?;
                let users = page.as_array().cloned().unwrap_or_default();
                for user in &users {
                    let phones = ["PERSONAL_MOBILE", "WORK_PHONE", "PERSONAL_PHONE"];
                    if phones.iter().any(|f| {
                        user[*f]
                            .as_str()
                            .is_some_and(|p| !p.is_empty() && digits(p) == wanted)
                    }) && let Some(id) = super::routes::id_of(&user["ID"])
                    {
                        matches.push((member.clone(), id));
                    }
                }
                if users.len() < 50 {
                    break;
                }
                start += 50;
            }
        }
        match matches.as_slice() {
            [(member, user)] => {
                self.link(member, *user, from, Source::Phone).await?;
                self.say(chat, "Linked by your phone number: approval requests for you will come here.").await
            }
            [] => self.say(chat, "No Bitrix24 user has this phone number.").await,
            _ => self.say(chat, "Several users have this phone number: link with a code from the approvals page.").await,
        }
    }
}

fn digits(phone: &str) -> String {
    let all: String = phone.chars().filter(char::is_ascii_digit).collect();
    // Russian numbers are written with 8 as often as with +7.
    match all.strip_prefix('8') {
        Some(rest) if all.len() == 11 => format!("7{rest}"),
        _ => all,
    }
}

/// Escapes text for Telegram HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_fits_and_parses() {
        let id = "0190aabbccdd0011223344556677";
        let data = format!("ap:{id}:12:comment");
        assert!(data.len() <= 64);
        assert_eq!(parse_callback(&data), Some((id, 12, "comment")));
        assert_eq!(parse_callback("ap:x:1"), None);
        assert_eq!(parse_callback("xx:a:1:approve"), None);
        assert_eq!(digits("8 (999) 000-00-01"), "79990000001");
    }
}
