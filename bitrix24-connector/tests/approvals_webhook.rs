//! The approval flow in webhook mode, end to end: the sandbox portal reached through its
//! incoming webhook (no app installed), events coming from its outgoing webhooks, the sandbox
//! Telegram (approvers) and the flow between them, in one process on loopback.
// Test helpers: a failure should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bitrix24::Limits;
use bitrix24::sandbox::SandboxPortal;
use bitrix24_connector::approvals::{Approval, ApprovalFlow, ApprovalSettings, PortalAccess};
use bitrix24_connector::sandbox_telegram::{SandboxTelegram, SentMessage};
use bitrix24_connector::store::Store;
use serde_json::{Value, json};
use teloxide_core::Bot;

const WAIT: Duration = Duration::from_secs(20);
const API_TOKEN: &str = "page-and-api-key";

struct Harness {
    portal: SandboxPortal,
    telegram: SandboxTelegram,
    flow: ApprovalFlow,
    base: String,
    /// The outgoing webhooks' tokens: ONTASKUPDATE, ONUSERUPDATE, the deal events.
    task_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The flow with `PortalAccess::Webhook`: the sandbox's webhook client, its `member_id`, one
/// outgoing webhook per event (the sandbox gives each its own token) and `api_token` set.
async fn start() -> Harness {
    start_with(true).await
}

/// As [`start`]; without `tasks_reach_flow` the ONTASKUPDATE outgoing webhook points elsewhere
/// (its token is still the flow's), so only events posted by the test reach the flow.
async fn start_with(tasks_reach_flow: bool) -> Harness {
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
    let handler = format!("{base}/approvals/events");
    let token = |event: &str| {
        portal
            .add_outgoing_webhook(event, &handler)
            .expose_secret()
            .to_owned()
    };
    let task_token = if tasks_reach_flow {
        token("ONTASKUPDATE")
    } else {
        portal
            .add_outgoing_webhook("ONTASKUPDATE", &format!("{base}/elsewhere"))
            .expose_secret()
            .to_owned()
    };
    let user_token = token("ONUSERUPDATE");
    let deal_add_token = token("ONCRMDEALADD");
    let deal_update_token = token("ONCRMDEALUPDATE");
    assert_ne!(
        task_token, user_token,
        "the sandbox gives each its own token"
    );
    let mut settings = ApprovalSettings::new(url::Url::parse(&base).unwrap());
    settings.backoff_base = Duration::from_millis(20);
    settings.backoff_max = Duration::from_millis(200);
    settings.poll_interval = Duration::from_millis(50);
    settings.outgoing_webhook_token = Some(format!(
        "{task_token}, {user_token},{deal_add_token} ,{deal_update_token}"
    ));
    settings.api_token = Some(API_TOKEN.into());
    let mut rule = bitrix24_connector::approvals::DealRule::new("PREPARATION", vec![2]);
    rule.stage_on_approve = Some("WON".into());
    settings.deal_rules.push(rule);
    let access = PortalAccess::Webhook {
        member_id: portal.member_id().to_owned(),
        client: portal.client().unwrap(),
    };
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    let flow = ApprovalFlow::new(store, access, bot, settings);
    let app = flow.router().await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(flow.clone().run(async {
        let _ = stopped.await;
    }));
    Harness {
        portal,
        telegram,
        flow,
        base,
        task_token,
        stop: Some(stop),
        _dir: dir,
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
    async fn call(&self, method: &str, params: Value) -> Value {
        self.portal
            .client()
            .unwrap()
            .call_raw(method, params)
            .await
            .unwrap()
    }

    /// Sets a user's Telegram id through the incoming webhook and waits until the outgoing
    /// webhook's ONUSERUPDATE has mapped it (no approval has asked for it: the flow has no
    /// other reason to read the field).
    async fn map_telegram(&self, user: u64, telegram: i64) {
        let _: Value = self
            .call(
                "user.update",
                json!({ "ID": user, "UF_TELEGRAM_ID": telegram.to_string() }),
            )
            .await;
        let member = self.portal.member_id().to_owned();
        let mapped = eventually("the mapping by ONUSERUPDATE", async || {
            self.flow.users().telegram_of(&member, user).await.unwrap()
        })
        .await;
        assert_eq!(mapped, telegram);
    }

    async fn create(&self, body: Value) -> String {
        let reply = reqwest::Client::new()
            .post(format!("{}/approvals", self.base))
            .bearer_auth(API_TOKEN)
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

    async fn approval(&self, id: &str) -> Approval {
        self.flow.approvals().get(id).await.unwrap().unwrap()
    }

    async fn approval_message(&self, chat: i64) -> SentMessage {
        eventually("an approval message", async || {
            self.telegram
                .sent_messages(chat)
                .into_iter()
                .find(|m| !m.callback_data().is_empty())
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

    async fn post_event(&self, form: String) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(format!("{}/approvals/events", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap()
            .status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_approve_from_telegram_completes_and_comments_the_task() {
    let h = start().await;
    h.map_telegram(2, 7002).await;
    let approver = h.telegram.customer(7002, "Boris");
    let id = h
        .create(json!({ "title": "Buy a laptop", "approvers": [2], "initiator": 1 }))
        .await;
    let message = h.approval_message(7002).await;
    assert!(message.text.as_deref().unwrap().contains("Buy a laptop"));
    let data = format!("ap:{id}:0:approve");
    assert!(message.callback_data().contains(&data));
    approver.press_button(message.message_id, &data).unwrap();
    h.telegram.wait_for_callback_answers(1, WAIT).await.unwrap();
    h.settled(&id).await;
    let approval = h.approval(&id).await;
    assert_eq!(approval.member_id, h.portal.member_id());
    assert_eq!(approval.state, "approved");
    assert_eq!(approval.channel.as_deref(), Some("telegram"));
    assert_eq!(approval.decided_by, Some(2));
    let task_id = approval.task_id.unwrap();
    let task = h.task(task_id).await;
    assert_eq!(task["status"], "5");
    assert_eq!(task["responsibleId"], "2");
    let comments = h.comments(task_id).await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("approved in Telegram"), "{comments:?}");
    let edited = h.telegram.sent_message(7002, message.message_id).unwrap();
    assert_eq!(edited.edit_count, 1);
    assert!(edited.callback_data().is_empty(), "buttons removed");
    // Completing the task came back as ONTASKUPDATE through the outgoing webhook: accepted,
    // and it changed nothing (already decided).
    let deliveries = eventually("ONTASKUPDATE delivered", async || {
        let found: Vec<_> = h
            .portal
            .deliveries()
            .into_iter()
            .filter(|d| d.event == "ONTASKUPDATE")
            .collect();
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );
    h.settled(&id).await;
    assert_eq!(h.comments(task_id).await.len(), 1);
    assert_eq!(
        h.telegram
            .sent_message(7002, message.message_id)
            .unwrap()
            .edit_count,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_a_decision_in_bitrix24_reaches_telegram_by_the_outgoing_webhook() {
    let h = start().await;
    h.map_telegram(2, 7002).await;
    let _approver = h.telegram.customer(7002, "Boris");
    let id = h
        .create(json!({ "title": "Budget", "approvers": [2], "initiator": 1 }))
        .await;
    let message = h.approval_message(7002).await;
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
    // Decided in Bitrix24: no comment of the flow's own, the initiator is told.
    assert!(h.comments(task).await.is_empty());
    assert!(
        h.portal
            .notifications()
            .iter()
            .any(|n| n["userId"].as_u64() == Some(1)
                && n["message"].as_str().unwrap().contains("in Bitrix24"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_refuses_forged_events_and_keys_the_page() {
    let h = start_with(false).await;
    let member = h.portal.member_id().to_owned();
    // Without the bearer token nothing is created.
    let anonymous = reqwest::Client::new()
        .post(format!("{}/approvals", h.base))
        .json(&json!({ "title": "Sneaky", "approvers": [2] }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let id = h
        .create(json!({ "title": "Keyed <page>", "approvers": [2] }))
        .await;
    let task = eventually("the task", async || h.approval(&id).await.task_id).await;
    // The task is completed; its ONTASKUPDATE goes elsewhere, so only posted events tell.
    let _: Value = h
        .call("tasks.task.complete", json!({ "taskId": task }))
        .await;
    eventually("ONTASKUPDATE delivered elsewhere", async || {
        h.portal
            .deliveries()
            .iter()
            .any(|d| d.event == "ONTASKUPDATE" && d.handler.ends_with("/elsewhere"))
            .then_some(())
    })
    .await;
    let event = |token: &str| {
        format!(
            "event=ONTASKUPDATE&data[FIELDS_AFTER][ID]={task}&data[FIELDS_BEFORE][ID]={task}\
             &auth[member_id]={member}&auth[application_token]={token}&auth[domain]=x"
        )
    };
    // A forged token, and the app's token (there is no app in webhook mode): refused.
    assert_eq!(h.post_event(event("forged")).await, 401);
    let app_token = h.portal.application_token().expose_secret().to_owned();
    assert_eq!(h.post_event(event(&app_token)).await, 401);
    assert_eq!(h.post_event(event("")).await, 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.approval(&id).await.state, "pending");
    // The outgoing webhook's real token: accepted, and the approval follows the task.
    assert_eq!(h.post_event(event(&h.task_token)).await, 200);
    eventually("decided by the real event", async || {
        (h.approval(&id).await.state == "approved").then_some(())
    })
    .await;
    // The page: refused without the key or with a wrong one, shown with it.
    let get = |query: &str| {
        let url = format!("{}/approvals{query}", h.base);
        async move { reqwest::get(url).await.unwrap() }
    };
    assert_eq!(get("").await.status(), 401);
    assert_eq!(get("?key=wrong").await.status(), 401);
    assert_eq!(get("?format=csv").await.status(), 401);
    let page = get(&format!("?key={API_TOKEN}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Keyed &lt;page&gt;"), "{html}");
    assert!(html.contains("Approved: <b>1</b>"), "{html}");
    let csv = get(&format!("?key={API_TOKEN}&format=csv")).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.text().await.unwrap().lines().count(), 2);
    // The app frame (AUTH_ID) cannot open the page in webhook mode.
    let frame = reqwest::Client::new()
        .post(format!("{}/approvals", h.base))
        .form(&[("AUTH_ID", "whatever"), ("member_id", member.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(frame.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_a_deal_rule_starts_an_approval_and_the_decision_moves_the_deal() {
    let h = start().await;
    h.map_telegram(2, 7002).await;
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
    let message = h.approval_message(7002).await;
    let all = h.flow.approvals().list().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].crm_binding.as_deref(), Some(&*format!("D_{deal}")));
    approver
        .press_button(message.message_id, &format!("ap:{}:0:approve", all[0].id))
        .unwrap();
    eventually("approved", async || {
        (h.approval(&all[0].id).await.state == "approved").then_some(())
    })
    .await;
    h.settled(&all[0].id).await;
    let item = h
        .call("crm.item.get", json!({ "entityTypeId": 2, "id": deal }))
        .await;
    assert_eq!(item["item"]["stageId"], "WON");
}
