//! The approval flow end to end: the sandbox portal (tasks, CRM, users), the sandbox Telegram
//! (approvers) and the flow between them, in one process on loopback.
// Test helpers: a failure should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bitrix24::Limits;
use bitrix24::sandbox::SandboxPortal;
use bitrix24_connector::approvals::{ApprovalFlow, ApprovalSettings, DealRule, PortalAccess};
use bitrix24_connector::portals::Portals;
use bitrix24_connector::sandbox_telegram::SandboxTelegram;
use bitrix24_connector::store::Store;
use serde_json::{Value, json};
use teloxide_core::Bot;

const WAIT: Duration = Duration::from_secs(20);

struct Harness {
    portal: SandboxPortal,
    telegram: SandboxTelegram,
    store: Store,
    access: PortalAccess,
    settings: ApprovalSettings,
    flow: ApprovalFlow,
    base: String,
    token: String,
    outgoing: String,
    workers: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

fn spawn(
    flow: &ApprovalFlow,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(flow.clone().run(async {
        let _ = stopped.await;
    }));
    (handle, stop)
}

async fn start_with(tune: impl FnOnce(&mut ApprovalSettings)) -> Harness {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .start()
        .await
        .unwrap();
    let telegram = SandboxTelegram::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("approvals.db")).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let outgoing = portal
        .add_outgoing_webhook("ONUSERUPDATE", &format!("{base}/approvals/events"))
        .expose_secret()
        .to_owned();
    let mut settings = ApprovalSettings::new(url::Url::parse(&base).unwrap());
    settings.backoff_base = Duration::from_millis(20);
    settings.backoff_max = Duration::from_millis(200);
    settings.poll_interval = Duration::from_millis(50);
    settings.outgoing_webhook_token = Some(outgoing.clone());
    tune(&mut settings);
    let portals = Portals::new(store.clone(), portal.oauth_app());
    let access = PortalAccess::App(portals.clone());
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    let flow = ApprovalFlow::new(store.clone(), access.clone(), bot, settings.clone());
    let app = portals.router().merge(flow.router().await.unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let tokens = portal
        .install_app_to(&format!("{base}/bitrix24/install"))
        .await
        .unwrap();
    flow.setup(None).await.unwrap();
    let (workers, stop) = spawn(&flow);
    Harness {
        portal,
        telegram,
        store,
        access,
        settings,
        flow,
        base,
        token: tokens.access_token.expose_secret().to_owned(),
        outgoing,
        workers,
        stop: Some(stop),
        _dir: dir,
    }
}

async fn start() -> Harness {
    start_with(|_| {}).await
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Harness {
    fn admin(&self) -> bitrix24::Client {
        self.portal.client().unwrap()
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        self.admin().call_raw(method, params).await.unwrap()
    }

    /// Sets a user's Telegram id in the portal's user field.
    async fn set_telegram(&self, user: u64, telegram: i64) {
        let _: Value = self
            .call(
                "user.update",
                json!({ "ID": user, "UF_TELEGRAM_ID": telegram.to_string() }),
            )
            .await;
    }

    async fn create(&self, body: Value) -> String {
        let reply = reqwest::Client::new()
            .post(format!("{}/approvals", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 202);
        reply.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn approval(&self, id: &str) -> bitrix24_connector::approvals::Approval {
        self.flow.approvals().get(id).await.unwrap().unwrap()
    }

    /// The approval message a Telegram user got, with its buttons.
    async fn approval_message(
        &self,
        chat: i64,
        count: usize,
    ) -> bitrix24_connector::sandbox_telegram::SentMessage {
        eventually("an approval message", async || {
            let with_buttons: Vec<_> = self
                .telegram
                .sent_messages(chat)
                .into_iter()
                .filter(|m| !m.callback_data().is_empty())
                .collect();
            (with_buttons.len() >= count).then(|| with_buttons[count - 1].clone())
        })
        .await
    }

    async fn task(&self, id: u64) -> Value {
        self.call("tasks.task.get", json!({ "taskId": id })).await["task"].clone()
    }

    async fn comments(&self, task: u64) -> Vec<String> {
        let list = self
            .call("task.commentitem.getlist", json!({ "TASKID": task }))
            .await;
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c["POST_MESSAGE"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    async fn settled(&self, id: &str) {
        eventually("every side effect done", async || {
            let states = self.flow.outbox().states(id).await.unwrap();
            states.iter().all(|(_, s)| s == "done").then_some(())
        })
        .await;
    }

    fn notifications(&self, user: u64) -> Vec<Value> {
        self.portal
            .notifications()
            .into_iter()
            .filter(|n| n["userId"].as_u64() == Some(user))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_from_telegram_completes_the_task_comments_notifies_and_edits_once() {
    let h = start().await;
    h.set_telegram(2, 7002).await;
    let approver = h.telegram.customer(7002, "Boris");
    let id = h
        .create(json!({ "title": "Buy a laptop", "description": "MacBook for QA", "approvers": [2], "initiator": 1, "deadline_ms": 4_102_444_800_000_i64 }))
        .await;
    let message = h.approval_message(7002, 1).await;
    assert!(message.text.as_deref().unwrap().contains("Buy a laptop"));
    let data = format!("ap:{id}:0:approve");
    assert!(message.callback_data().contains(&data));
    // Pressed twice: decided once.
    approver.press_button(message.message_id, &data).unwrap();
    approver.press_button(message.message_id, &data).unwrap();
    h.telegram.wait_for_callback_answers(2, WAIT).await.unwrap();
    h.settled(&id).await;
    let approval = h.approval(&id).await;
    assert_eq!(approval.state, "approved");
    assert_eq!(approval.channel.as_deref(), Some("telegram"));
    assert_eq!(approval.decided_by, Some(2));
    let task = h.task(approval.task_id.unwrap()).await;
    assert_eq!(task["status"], "5");
    assert_eq!(task["responsibleId"], "2");
    let comments = h.comments(approval.task_id.unwrap()).await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("approved in Telegram"), "{comments:?}");
    let edited = h.telegram.sent_message(7002, message.message_id).unwrap();
    assert_eq!(edited.edit_count, 1);
    assert!(edited.callback_data().is_empty(), "buttons removed");
    assert!(edited.text.unwrap().contains("Approved"));
    let answers = h.telegram.callback_answers();
    assert_eq!(answers[0].text.as_deref(), Some("Approved."));
    assert_eq!(answers[1].text.as_deref(), Some("Already decided."));
    let notified = h.notifications(1);
    assert_eq!(notified.len(), 1, "{notified:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_with_reason_and_sequential_approvers() {
    let h = start().await;
    h.set_telegram(2, 7002).await;
    h.set_telegram(3, 7003).await;
    let first = h.telegram.customer(7002, "Boris");
    let second = h.telegram.customer(7003, "Vera");
    let id = h
        .create(json!({ "title": "Contract", "approvers": [2, 3], "initiator": 1 }))
        .await;
    let message = h.approval_message(7002, 1).await;
    first
        .press_button(message.message_id, &format!("ap:{id}:0:approve"))
        .unwrap();
    // The second approver's turn: the task is delegated to them.
    let message = h.approval_message(7003, 1).await;
    assert_eq!(h.approval(&id).await.current_step, 1);
    second
        .press_button(message.message_id, &format!("ap:{id}:1:reject"))
        .unwrap();
    let prompt = eventually("the reason prompt", async || {
        h.telegram.sent_messages(7003).into_iter().find(|m| {
            m.reply_markup
                .as_ref()
                .is_some_and(|r| r["force_reply"] == true)
        })
    })
    .await;
    second
        .reply_text(prompt.message_id, "Too expensive")
        .unwrap();
    eventually("rejected", async || {
        (h.approval(&id).await.state == "rejected").then_some(())
    })
    .await;
    h.settled(&id).await;
    let approval = h.approval(&id).await;
    assert_eq!(approval.state, "rejected");
    assert_eq!(approval.reason.as_deref(), Some("Too expensive"));
    assert_eq!(approval.steps[0].state, "approved");
    assert_eq!(approval.steps[1].state, "rejected");
    let task = h.task(approval.task_id.unwrap()).await;
    assert_eq!(task["status"], "6", "deferred");
    assert_eq!(task["responsibleId"], "3");
    let comments = h.comments(approval.task_id.unwrap()).await;
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(
        comments
            .iter()
            .any(|c| c.contains("rejected in Telegram") && c.contains("Too expensive")),
        "{comments:?}"
    );
    let edited = h.telegram.sent_message(7003, message.message_id).unwrap();
    assert!(edited.text.unwrap().contains("Too expensive"));
    assert!(
        h.notifications(1)
            .iter()
            .any(|n| n["message"].as_str().unwrap().contains("rejected"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_from_someone_else_changes_nothing() {
    let h = start().await;
    h.set_telegram(2, 7002).await;
    let old = h.telegram.customer(7002, "Boris");
    let id = h.create(json!({ "title": "Trip", "approvers": [2] })).await;
    let message = h.approval_message(7002, 1).await;
    // The approver's account is relinked to another Telegram user: the old one may not decide.
    h.flow
        .users()
        .set(
            h.portal.member_id(),
            2,
            Some(9999),
            bitrix24_connector::approvals::users::Source::Portal,
        )
        .await
        .unwrap();
    old.press_button(message.message_id, &format!("ap:{id}:0:approve"))
        .unwrap();
    let answers = h.telegram.wait_for_callback_answers(1, WAIT).await.unwrap();
    assert_eq!(
        answers[0].text.as_deref(),
        Some("This approval is not yours.")
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.approval(&id).await.state, "pending");
    assert_eq!(
        h.telegram
            .sent_message(7002, message.message_id)
            .unwrap()
            .edit_count,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_in_bitrix24_is_mirrored_to_telegram() {
    let h = start().await;
    h.set_telegram(2, 7002).await;
    let _approver = h.telegram.customer(7002, "Boris");
    let id = h
        .create(json!({ "title": "Budget", "approvers": [2], "initiator": 1 }))
        .await;
    let message = h.approval_message(7002, 1).await;
    let task = eventually("the task", async || h.approval(&id).await.task_id).await;
    let _: Value = h
        .call("tasks.task.complete", json!({ "taskId": task }))
        .await;
    eventually("the approval decided", async || {
        (h.approval(&id).await.state == "approved").then_some(())
    })
    .await;
    h.settled(&id).await;
    let approval = h.approval(&id).await;
    assert_eq!(approval.channel.as_deref(), Some("bitrix24"));
    let edited = h.telegram.sent_message(7002, message.message_id).unwrap();
    assert!(edited.callback_data().is_empty());
    assert!(edited.text.unwrap().contains("in Bitrix24"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deal_entering_the_stage_starts_one_approval_and_the_decision_moves_it() {
    let h = start_with(|s| {
        let mut rule = DealRule::new("PREPARATION", vec![2]);
        rule.stage_on_approve = Some("WON".into());
        s.deal_rules.push(rule);
    })
    .await;
    h.set_telegram(2, 7002).await;
    let approver = h.telegram.customer(7002, "Boris");
    let deal = h
        .call(
            "crm.item.add",
            json!({ "entityTypeId": 2, "fields": { "title": "Big deal", "stageId": "NEW" } }),
        )
        .await["item"]["id"]
        .as_u64()
        .unwrap();
    let _: Value = h
        .call(
            "crm.item.update",
            json!({ "entityTypeId": 2, "id": deal, "fields": { "stageId": "PREPARATION" } }),
        )
        .await;
    // The same stage again (another field changes): still one approval.
    let _: Value = h
        .call(
            "crm.item.update",
            json!({ "entityTypeId": 2, "id": deal, "fields": { "opportunity": 5 } }),
        )
        .await;
    let message = h.approval_message(7002, 1).await;
    let all = h.flow.approvals().list().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].crm_binding.as_deref(), Some(&*format!("D_{deal}")));
    let task_id = eventually("the task", async || h.approval(&all[0].id).await.task_id).await;
    let task = h
        .call(
            "tasks.task.get",
            json!({ "taskId": task_id, "select": ["ID", "UF_CRM_TASK"] }),
        )
        .await["task"]
        .clone();
    assert_eq!(task["ufCrmTask"], json!([format!("D_{deal}")]), "{task}");
    approver
        .press_button(message.message_id, &format!("ap:{}:0:approve", all[0].id))
        .unwrap();
    let approval = &all[0].id;
    eventually("approved", async || {
        (h.approval(approval).await.state == "approved").then_some(())
    })
    .await;
    h.settled(approval).await;
    let item = h
        .call("crm.item.get", json!({ "entityTypeId": 2, "id": deal }))
        .await;
    assert_eq!(item["item"]["stageId"], "WON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_mapping_follows_the_outgoing_webhook_and_forged_tokens_are_refused() {
    let h = start().await;
    // The admin sets the field; ONUSERUPDATE comes by the app binding and the outgoing webhook.
    h.set_telegram(4, 7004).await;
    let member = h.portal.member_id().to_owned();
    eventually("the mapping", async || {
        h.flow.users().telegram_of(&member, 4).await.unwrap()
    })
    .await;
    assert_eq!(
        h.flow.users().telegram_of(&member, 4).await.unwrap(),
        Some(7004)
    );
    // A forged outgoing-webhook event is refused before anything is stored.
    let forged = format!(
        "event=ONUSERUPDATE&data[ID]=5&auth[member_id]={member}&auth[application_token]=forged&auth[domain]=x"
    );
    let reply = reqwest::Client::new()
        .post(format!("{}/approvals/events", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    // The real token is accepted.
    let real = format!(
        "event=ONUSERUPDATE&data[ID]=4&auth[member_id]={member}&auth[application_token]={}&auth[domain]=x",
        h.outgoing
    );
    let reply = reqwest::Client::new()
        .post(format!("{}/approvals/events", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(real)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(
        h.flow
            .users()
            .telegram_of(&member, 5)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_service_linking_by_code_and_by_phone() {
    let h = start().await;
    let member = h.portal.member_id().to_owned();
    // The page in the app frame knows the user (the admin, by the install's token).
    let page = reqwest::Client::new()
        .post(format!("{}/approvals", h.base))
        .form(&[
            ("AUTH_ID", h.token.as_str()),
            ("member_id", member.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let start = html.find("/start ").unwrap() + "/start ".len();
    let code: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let admin = h.telegram.customer(8001, "Admin");
    admin.start(Some(&code));
    eventually("linked by code", async || {
        h.flow.users().telegram_of(&member, 1).await.unwrap()
    })
    .await;
    // The code works once.
    let intruder = h.telegram.customer(8009, "Mallory");
    intruder.start(Some(&code));
    h.telegram.wait_for_messages(8009, 1, WAIT).await.unwrap();
    assert_eq!(
        h.flow.users().telegram_of(&member, 1).await.unwrap(),
        Some(8001)
    );
    // Written back to the portal's user field.
    eventually("the field written back", async || {
        let users = h.call("user.get", json!({ "FILTER": { "ID": 1 } })).await;
        (users[0]["UF_TELEGRAM_ID"] == "8001").then_some(())
    })
    .await;
    // A forged frame is refused.
    let forged = reqwest::Client::new()
        .post(format!("{}/approvals", h.base))
        .form(&[("AUTH_ID", "nope"), ("member_id", member.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // By phone: the seeded user 3's mobile.
    let phone_user = h.telegram.customer(8003, "Vera");
    phone_user.share_contact("+79990000003");
    eventually("linked by phone", async || {
        h.flow.users().telegram_of(&member, 3).await.unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_the_page_and_an_approver_without_telegram() {
    let h = start_with(|s| s.remind_before = Duration::from_secs(3_600)).await;
    h.set_telegram(2, 7002).await;
    let approver = h.telegram.customer(7002, "Boris");
    let soon = bitrix24_connector::store::now_ms() + 60_000;
    let id = h
        .create(json!({ "title": "Urgent <invoice>", "approvers": [2], "deadline_ms": soon }))
        .await;
    let message = h.approval_message(7002, 1).await;
    let reminder = eventually("a reminder", async || {
        h.telegram
            .sent_messages(7002)
            .into_iter()
            .find(|m| m.text.as_deref().is_some_and(|t| t.contains("Reminder")))
    })
    .await;
    assert_eq!(reminder.reply_to_message_id, Some(message.message_id));
    h.settled(&id).await;
    assert_eq!(
        h.telegram
            .sent_messages(7002)
            .iter()
            .filter(|m| m.text.as_deref().is_some_and(|t| t.contains("Reminder")))
            .count(),
        1,
        "one reminder per step"
    );
    // User 3 has no Telegram: a Bitrix24 notification instead.
    let other = h
        .create(json!({ "title": "No telegram", "approvers": [3] }))
        .await;
    h.settled(&other).await;
    assert!(
        h.notifications(3)
            .iter()
            .any(|n| n["message"].as_str().unwrap().contains("No telegram"))
    );
    approver
        .press_button(message.message_id, &format!("ap:{id}:0:approve"))
        .unwrap();
    eventually("approved", async || {
        (h.approval(&id).await.state == "approved").then_some(())
    })
    .await;
    h.settled(&id).await;
    let page = reqwest::get(format!("{}/approvals", h.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Pending: <b>1</b>"), "{page}");
    assert!(page.contains("Approved: <b>1</b>"), "{page}");
    assert!(page.contains("Urgent &lt;invoice&gt;"), "escaped: {page}");
    assert!(!page.contains("Median decision time: <b>—"), "{page}");
    let pending = reqwest::get(format!("{}/approvals?state=pending", h.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        pending.contains("No telegram") && !pending.contains("Urgent"),
        "{pending}"
    );
    let csv = reqwest::get(format!("{}/approvals?format=csv", h.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("approved,2,"), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_decision_neither_loses_nor_repeats_it() {
    let mut h = start().await;
    h.set_telegram(2, 7002).await;
    let approver = h.telegram.customer(7002, "Boris");
    let id = h
        .create(json!({ "title": "Crash", "approvers": [2], "initiator": 1 }))
        .await;
    let message = h.approval_message(7002, 1).await;
    h.settled(&id).await;
    // The decision is recorded, then the worker dies before every effect ran.
    let approval = h.approval(&id).await;
    h.workers.abort();
    let _ = (&mut h.workers).await;
    h.stop = None;
    approver
        .press_button(message.message_id, &format!("ap:{id}:0:approve"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(approval.state, "pending");
    let bot = Bot::new(h.telegram.token()).set_api_url(h.telegram.api_url());
    let flow = ApprovalFlow::new(h.store.clone(), h.access.clone(), bot, h.settings.clone());
    let (workers, stop) = spawn(&flow);
    h.flow = flow;
    h.workers = workers;
    h.stop = Some(stop);
    h.telegram.wait_for_callback_answers(1, WAIT).await.unwrap();
    eventually("decided", async || {
        (h.approval(&id).await.state == "approved").then_some(())
    })
    .await;
    h.settled(&id).await;
    let approval = h.approval(&id).await;
    assert_eq!(h.comments(approval.task_id.unwrap()).await.len(), 1);
    assert_eq!(h.task(approval.task_id.unwrap()).await["status"], "5");
    assert_eq!(
        h.telegram
            .sent_message(7002, message.message_id)
            .unwrap()
            .edit_count,
        1
    );
}
