//! The demo's approval part: a request for approval becomes a Bitrix24 task, the approver
//! decides it with one tap in Telegram, and the task, the Telegram message and the initiator
//! all learn the outcome.
//!
//! The flow runs in-process on loopback between a sandbox Telegram (the approver's side) and a
//! sandbox portal it is installed on as an OAuth app, with its SQLite database in a temporary
//! directory. Like the bridge, it has a portal of its own without a request limit.

use std::time::Duration;

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, Limits};
use bitrix24_connector::approvals::{Approval, ApprovalFlow, ApprovalSettings, PortalAccess};
use bitrix24_connector::portals::Portals;
use bitrix24_connector::sandbox_telegram::{SandboxTelegram, SentMessage};
use bitrix24_connector::store::Store;
use serde_json::{Value, json};
use teloxide_core::Bot;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{DemoResult, eventually, print_block};

/// The approver: the seeded head of sales, and her Telegram id.
const APPROVER: u64 = 4;
const APPROVER_TELEGRAM: i64 = 7004;
/// Who asks: the seeded operator.
const INITIATOR: u64 = 3;
/// What `POST /approvals` requires as a bearer token.
const API_TOKEN: &str = "demo-approvals-token";

/// The running flow and both sides of it.
pub(crate) struct ApprovalsDemo {
    pub(crate) portal: SandboxPortal,
    telegram: SandboxTelegram,
    flow: ApprovalFlow,
    admin: Client,
    base: String,
    stop: oneshot::Sender<()>,
    workers: JoinHandle<()>,
    server: JoinHandle<std::io::Result<()>>,
    // Dropped last: the database lives here until the flow has stopped.
    _dir: tempfile::TempDir,
}

/// Starts a portal, a Telegram and the approval flow between them, installed and set up.
pub(crate) async fn start() -> DemoResult<ApprovalsDemo> {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .start()
        .await?;
    let telegram = SandboxTelegram::start().await?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("approvals.db")).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    // Apps are not offered ONUSERUPDATE: the user mapping follows the portal's outgoing
    // webhook, verified by its token.
    let outgoing = portal
        .add_outgoing_webhook("ONUSERUPDATE", &format!("{base}/approvals/events"))
        .expose_secret()
        .to_owned();
    let mut settings = ApprovalSettings::new(url::Url::parse(&base)?);
    settings.outgoing_webhook_token = Some(outgoing);
    settings.api_token = Some(API_TOKEN.to_owned());
    // The defaults suit a server that idles between approvals; shorter waits keep the demo
    // quick without changing what happens.
    settings.poll_interval = Duration::from_millis(50);
    settings.backoff_base = Duration::from_millis(50);
    let portals = Portals::new(store.clone(), portal.oauth_app());
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    let flow = ApprovalFlow::new(store, PortalAccess::App(portals.clone()), bot, settings);
    let app = portals.router().merge(flow.router().await?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "   its own sandbox portal at {}, sandbox Telegram at {}; the flow on {base}",
        portal.base_url(),
        telegram.api_url()
    );
    portal
        .install_app_to(&format!("{base}/bitrix24/install"))
        .await?;
    println!("   the portal installed the app: POST {base}/bitrix24/install");
    for step in flow.setup(None).await? {
        println!("   setup: {step}");
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let workers = tokio::spawn(flow.clone().run(async {
        let _ = stopped.await;
    }));
    let admin = portal.client()?;
    Ok(ApprovalsDemo {
        portal,
        telegram,
        flow,
        admin,
        base,
        stop,
        workers,
        server,
        _dir: dir,
    })
}

impl ApprovalsDemo {
    /// Stops the workers, then the server and the Telegram.
    pub(crate) async fn shutdown(self) -> DemoResult<()> {
        let _ = self.stop.send(());
        self.workers.await?;
        self.server.abort();
        self.telegram.shutdown().await;
        Ok(())
    }

    async fn call(&self, method: &str, params: Value) -> DemoResult<Value> {
        Ok(self.admin.call_raw(method, params).idempotent(true).await?)
    }

    async fn user_name(&self, id: u64) -> DemoResult<String> {
        let users = self
            .call("user.get", json!({ "FILTER": { "ID": id } }))
            .await?;
        Ok(format!(
            "{} {}",
            users[0]["NAME"].as_str().unwrap_or("?"),
            users[0]["LAST_NAME"].as_str().unwrap_or("?")
        ))
    }

    async fn approval(&self, id: &str) -> DemoResult<Approval> {
        self.flow
            .approvals()
            .get(id)
            .await?
            .ok_or_else(|| format!("approval {id} is gone").into())
    }

    /// The approver's message with buttons, once it is there.
    async fn approval_message(&self) -> DemoResult<SentMessage> {
        eventually("the approval message in Telegram", async || {
            self.telegram
                .sent_messages(APPROVER_TELEGRAM)
                .into_iter()
                .find(|m| !m.callback_data().is_empty())
        })
        .await
    }
}

/// The labels of a message's inline buttons.
fn buttons(message: &SentMessage) -> Vec<String> {
    message
        .reply_markup
        .as_ref()
        .and_then(|markup| markup["inline_keyboard"].as_array())
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| button["text"].as_str().map(str::to_owned))
        .collect()
}

/// Sets the approver's Telegram id on her portal user, as an admin does, and waits for the flow
/// to learn it. Returns her name.
async fn map_approver(demo: &ApprovalsDemo) -> DemoResult<String> {
    let member = demo.portal.member_id().to_owned();
    let approver = demo.user_name(APPROVER).await?;
    let _: Value = demo
        .call(
            "user.update",
            json!({ "ID": APPROVER, "UF_TELEGRAM_ID": APPROVER_TELEGRAM.to_string() }),
        )
        .await?;
    let mapped = eventually("the approver's Telegram id", async || {
        demo.flow
            .users()
            .telegram_of(&member, APPROVER)
            .await
            .ok()
            .flatten()
    })
    .await?;
    println!(
        "   the admin sets UF_TELEGRAM_ID = {APPROVER_TELEGRAM} on {approver} (user {APPROVER}); \
         ONUSERUPDATE maps her to Telegram {mapped}"
    );
    Ok(approver)
}

/// `POST /approvals` as the initiator's system would; returns the approval's id and its task.
async fn request(demo: &ApprovalsDemo, initiator: &str) -> DemoResult<(String, u64)> {
    let request = json!({
        "title": "Оплата счёта поставщику: 48 000 ₽",
        "description": "Мебель для переговорной, счёт № 117",
        "approvers": [APPROVER],
        "initiator": INITIATOR,
        "idempotency_key": "invoice-117",
    });
    let reply = reqwest::Client::new()
        .post(format!("{}/approvals", demo.base))
        .bearer_auth(API_TOKEN)
        .json(&request)
        .send()
        .await?;
    let status = reply.status().as_u16();
    let body: Value = reply.json().await?;
    println!("   {initiator} asks: POST /approvals {request} -> {status} {body}");
    let id = body["id"]
        .as_str()
        .ok_or_else(|| format!("POST /approvals answered {status} {body}"))?
        .to_owned();
    let task_id = eventually("the task", async || {
        demo.approval(&id).await.ok().and_then(|a| a.task_id)
    })
    .await?;
    let task = demo
        .call("tasks.task.get", json!({ "taskId": task_id }))
        .await?["task"]
        .clone();
    println!(
        "   task {task_id} {:?} created, responsible user {}",
        task["title"].as_str().unwrap_or("?"),
        task["responsibleId"].as_str().unwrap_or("?")
    );
    Ok((id, task_id))
}

/// Maps the approver to Telegram, requests an approval and approves it from Telegram.
pub(crate) async fn approve_from_telegram(demo: &ApprovalsDemo) -> DemoResult<String> {
    let approver = map_approver(demo).await?;
    let initiator = demo.user_name(INITIATOR).await?;
    let maria = demo.telegram.customer(APPROVER_TELEGRAM, "Мария");
    let (id, task_id) = request(demo, &initiator).await?;
    let message = demo.approval_message().await?;
    println!("   {approver} receives in Telegram:");
    print_block(message.text.as_deref().unwrap_or_default());
    println!("     buttons: {}", buttons(&message).join(" | "));

    maria.press_button(message.message_id, &format!("ap:{id}:0:approve"))?;
    let answers = demo
        .telegram
        .wait_for_callback_answers(1, Duration::from_secs(20))
        .await?;
    println!(
        "   she presses Approve; the bot answers the button: {:?}",
        answers[0].text.as_deref().unwrap_or_default()
    );
    eventually("the decision and its effects", async || {
        let effects = demo.flow.outbox().states(&id).await.ok()?;
        let decided = demo.approval(&id).await.ok()?.state != "pending";
        (decided && effects.iter().all(|(_, state)| state == "done")).then_some(())
    })
    .await?;
    let approval = demo.approval(&id).await?;
    println!(
        "   approval {id}: {} in {} by user {}",
        approval.state,
        approval.channel.as_deref().unwrap_or("?"),
        approval.decided_by.unwrap_or(0)
    );
    let task = demo
        .call("tasks.task.get", json!({ "taskId": task_id }))
        .await?["task"]
        .clone();
    let comments: Vec<String> = demo
        .call("task.commentitem.getlist", json!({ "TASKID": task_id }))
        .await?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["POST_MESSAGE"].as_str().map(str::to_owned))
        .collect();
    let completed = task["status"] == "5";
    println!(
        "   task {task_id}: status {} ({}), comment: {:?}",
        task["status"].as_str().unwrap_or("?"),
        if completed {
            "completed"
        } else {
            "NOT completed"
        },
        comments.join(" / ")
    );
    let edited = demo
        .telegram
        .sent_message(APPROVER_TELEGRAM, message.message_id)
        .ok_or("the approval message is gone")?;
    println!(
        "   the Telegram message is edited ({} edit), buttons: {}:",
        edited.edit_count,
        if edited.callback_data().is_empty() {
            "removed"
        } else {
            "STILL THERE"
        },
    );
    print_block(edited.text.as_deref().unwrap_or_default());
    let notified: Vec<String> = demo
        .portal
        .notifications()
        .into_iter()
        .filter(|n| n["userId"].as_u64() == Some(INITIATOR))
        .filter_map(|n| n["message"].as_str().map(str::to_owned))
        .collect();
    println!(
        "   {initiator} is notified in Bitrix24: {:?}",
        notified.join(" / ")
    );
    if approval.state != "approved"
        || !completed
        || comments.len() != 1
        || edited.edit_count != 1
        || !edited.callback_data().is_empty()
        || notified.len() != 1
    {
        return Err(format!(
            "approval {}, task status {}, {} comment(s), {} edit(s), {} notification(s)",
            approval.state,
            task["status"],
            comments.len(),
            edited.edit_count,
            notified.len()
        )
        .into());
    }
    Ok(format!(
        "approved in Telegram; task {task_id} completed with the comment, initiator notified"
    ))
}
