//! The Telegram bridge end to end: the sandbox portal (operators, open lines, CRM), the sandbox
//! Telegram (customers) and the bridge between them, in one process on loopback.
// Test helpers: a failure should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use bitrix24::Limits;
use bitrix24::sandbox::SandboxPortal;
use bitrix24_connector::bridge::{Bridge, BridgeSettings, Direction};
use bitrix24_connector::portals::Portals;
use bitrix24_connector::sandbox_telegram::SandboxTelegram;
use bitrix24_connector::store::Store;
use serde_json::{Value, json};
use teloxide_core::Bot;

const WAIT: Duration = Duration::from_secs(60);
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

struct Harness {
    portal: SandboxPortal,
    telegram: SandboxTelegram,
    store: Store,
    portals: Portals,
    bridge: Bridge,
    base: String,
    workers: tokio::task::JoinHandle<()>,
    stop_workers: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

fn settings(base: &str) -> BridgeSettings {
    let mut settings = BridgeSettings::new(url::Url::parse(base).unwrap());
    settings.backoff_base = Duration::from_millis(20);
    settings.backoff_max = Duration::from_millis(200);
    settings.poll_interval = Duration::from_millis(50);
    settings
}

fn bot(telegram: &SandboxTelegram) -> Bot {
    Bot::new(telegram.token()).set_api_url(telegram.api_url())
}

fn spawn_workers(
    bridge: &Bridge,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(bridge.clone().run(async {
        let _ = stopped.await;
    }));
    (handle, stop)
}

async fn start() -> Harness {
    start_with(|_| {}).await
}

async fn start_with(tune: impl FnOnce(&mut BridgeSettings)) -> Harness {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .start()
        .await
        .unwrap();
    let telegram = SandboxTelegram::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bridge.db")).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let portals = Portals::new(store.clone(), portal.oauth_app());
    let mut tuned_settings = settings(&base);
    tune(&mut tuned_settings);
    let bridge = Bridge::new(
        store.clone(),
        portals.clone(),
        bot(&telegram),
        tuned_settings,
    )
    .await
    .unwrap();
    let app = portals.router().merge(bridge.router().await.unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    portal
        .install_app_to(&format!("{base}/bitrix24/install"))
        .await
        .unwrap();
    let report = bridge.setup(None).await.unwrap();
    assert!(report.is_ready(), "{report:?}");
    let (workers, stop) = spawn_workers(&bridge);
    Harness {
        portal,
        telegram,
        store,
        portals,
        bridge,
        base,
        workers,
        stop_workers: Some(stop),
        _dir: dir,
    }
}

/// The customer's messages in an open-line chat (the portal adds system notices too).
fn customer_messages(portal: &SandboxPortal, chat: &str) -> Vec<Value> {
    portal
        .openline_messages(chat)
        .into_iter()
        .filter(|m| m["direction"] == "in")
        .collect()
}

/// Waits until `check` gives a value.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
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
    /// The open-line messages of a Telegram chat, once there are `count` of them.
    async fn line_messages(&self, chat: i64, count: usize) -> Vec<Value> {
        let key = chat.to_string();
        eventually(
            &format!("{count} open-line messages in chat {chat}"),
            || {
                let messages = customer_messages(&self.portal, &key);
                (messages.len() >= count).then_some(messages)
            },
        )
        .await
    }

    /// Stops the workers as a crash would: wherever they are.
    async fn crash_workers(&mut self) {
        self.workers.abort();
        let _ = (&mut self.workers).await;
        self.stop_workers = None;
    }

    /// A new bridge on the same store, as after a restart.
    async fn restart_workers(&mut self) {
        let bridge = Bridge::new(
            self.store.clone(),
            self.portals.clone(),
            bot(&self.telegram),
            settings(&self.base),
        )
        .await
        .unwrap();
        let (workers, stop) = spawn_workers(&bridge);
        self.bridge = bridge;
        self.workers = workers;
        self.stop_workers = Some(stop);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_workers.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_files_travel_both_ways_and_delivery_is_confirmed() {
    let harness = start().await;
    let anna = harness.telegram.customer(1001, "Анна");
    anna.send_text("Здравствуйте!");
    let messages = harness.line_messages(1001, 1).await;
    assert_eq!(messages[0]["text"], "Здравствуйте!");
    assert_eq!(messages[0]["direction"], "in");

    anna.send_document(PDF, "смета.pdf", Some("Смета"));
    let messages = harness.line_messages(1001, 2).await;
    let file = &messages[1]["files"][0];
    assert_eq!(file["name"], "смета.pdf", "{}", messages[1]);
    let link = file["url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/files/", harness.base)),
        "{link}"
    );
    assert!(
        !link.contains(harness.telegram.token()),
        "the bot token leaked into {link}"
    );
    let fetched = reqwest::get(link).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), PDF);

    harness
        .portal
        .operator_reply(
            "1001",
            "Добрый день, [b]Анна[/b]! Смотрите [url=https://example.com]сайт[/url]",
            &[],
        )
        .await
        .unwrap();
    let sent = harness
        .telegram
        .wait_for_messages(1001, 1, WAIT)
        .await
        .unwrap();
    let text = sent[0].text.clone().unwrap();
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    assert!(text.contains("<b>Анна</b>"), "{text}");
    assert!(
        text.contains("<a href=\"https://example.com\">сайт</a>"),
        "{text}"
    );
    let telegram_id = sent[0].message_id.to_string();
    eventually("the delivery status", || {
        harness.portal.delivery_statuses().into_iter().find(|s| {
            s["external_ids"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|id| id == &json!(telegram_id)))
        })
    })
    .await;

    // An operator's file reaches Telegram as a document with its bytes.
    harness
        .portal
        .operator_reply(
            "1001",
            "Договор",
            &[("договор.pdf".to_owned(), link.to_owned())],
        )
        .await
        .unwrap();
    let sent = harness
        .telegram
        .wait_for_messages(1001, 3, WAIT)
        .await
        .unwrap();
    let document = sent
        .iter()
        .find_map(|m| m.file.clone())
        .expect("a file was sent");
    assert_eq!(document.bytes.as_ref(), PDF);
    assert_eq!(document.file_name.as_deref(), Some("договор.pdf"));

    eventually("both operator messages delivered", || {
        let states = futures::executor::block_on(harness.bridge.history().messages(1001)).ok()?;
        let ins = states
            .iter()
            .filter(|m| m.direction == Direction::In)
            .count();
        let outs = states
            .iter()
            .filter(|m| m.direction == Direction::Out)
            .count();
        if (ins, outs) != (2, 2) {
            return None;
        }
        states
            .iter()
            .filter(|m| m.direction == Direction::Out)
            .all(|m| m.state == "delivered")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletions_follow_both_ways() {
    let harness = start().await;
    let boris = harness.telegram.customer(1002, "Борис");
    let asked = boris.send_text("Цена?");
    harness.line_messages(1002, 1).await;
    boris.edit_text(asked, "Какая цена доставки?").unwrap();
    eventually("the customer's edit in the open line", || {
        let messages = customer_messages(&harness.portal, "1002");
        (messages.len() == 1 && messages[0]["text"] == "Какая цена доставки?").then_some(())
    })
    .await;

    let reply = harness
        .portal
        .operator_reply("1002", "500 рублей", &[])
        .await
        .unwrap();
    let sent = harness
        .telegram
        .wait_for_messages(1002, 1, WAIT)
        .await
        .unwrap();
    let telegram_id = sent[0].message_id;
    // Edit only once the first send is recorded, as an operator would after seeing "delivered".
    eventually("delivered", || {
        let m = futures::executor::block_on(harness.bridge.history().messages(1002)).ok()?;
        m.iter()
            .any(|m| m.direction == Direction::Out && m.state == "delivered")
            .then_some(())
    })
    .await;
    harness
        .portal
        .operator_edit(reply, "450 рублей")
        .await
        .unwrap();
    eventually("the operator's edit in Telegram", || {
        let message = harness.telegram.sent_message(1002, telegram_id)?;
        (message.edit_count == 1
            && message
                .text
                .as_deref()
                .is_some_and(|t| t.contains("450 рублей")))
        .then_some(())
    })
    .await;
    harness.portal.operator_delete(reply).await.unwrap();
    eventually("the operator's deletion in Telegram", || {
        harness
            .telegram
            .sent_message(1002, telegram_id)
            .filter(|m| m.deleted)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_phone_binds_the_chat_to_the_existing_contact_and_a_deal_link_is_announced() {
    let harness = start().await;
    let hook = harness.portal.client().unwrap();
    let contact: Value = hook
        .call_raw(
            "crm.contact.add",
            json!({ "fields": { "NAME": "Вера", "PHONE": [{ "VALUE": "+7 999 123-45-67", "VALUE_TYPE": "WORK" }] } }),
        )
        .await
        .unwrap();
    let contact = contact
        .as_u64()
        .or_else(|| contact.as_str()?.parse().ok())
        .unwrap();
    let vera = harness.telegram.customer(1003, "Вера");
    vera.share_contact("79991234567");
    harness.line_messages(1003, 1).await;
    let sessions = harness.portal.openline_sessions("1003");
    assert_eq!(
        sessions[0]["crm"]["CONTACT"],
        json!(contact),
        "{sessions:?}"
    );

    let deal: Value = hook
        .call_raw(
            "crm.deal.add",
            json!({ "fields": { "TITLE": "Кухня", "CONTACT_ID": contact } }),
        )
        .await
        .unwrap();
    let gleb = harness.telegram.customer(1004, "Глеб");
    gleb.start(Some(&format!("deal_{deal}")));
    harness.line_messages(1004, 1).await;
    let chat = eventually("the deal announced", || {
        let chat = futures::executor::block_on(harness.bridge.history().chat(1004)).ok()??;
        chat.deal_announced.then_some(chat)
    })
    .await;
    assert_eq!(
        Some(chat.deal_id.unwrap().to_string()),
        deal.as_u64()
            .map(|d| d.to_string())
            .or(deal.as_str().map(str::to_owned))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_who_blocked_the_bot_is_reported_to_the_operator() {
    let harness = start().await;
    let dan = harness.telegram.customer(1005, "Дан");
    dan.send_text("Привет");
    harness.line_messages(1005, 1).await;
    dan.block_bot();
    harness
        .portal
        .operator_reply("1005", "Здравствуйте!", &[])
        .await
        .unwrap();
    let notice = eventually("a system notice about the block", || {
        harness
            .portal
            .openline_messages("1005")
            .into_iter()
            .find(|m| {
                m["direction"] == "system"
                    && m["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("заблокировал"))
            })
    })
    .await;
    assert!(
        notice["text"].as_str().unwrap().contains("Telegram"),
        "{notice}"
    );
    assert!(harness.telegram.sent_messages(1005).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_events_are_refused() {
    let harness = start().await;
    let http = reqwest::Client::new();
    let member = harness.portal.member_id().to_owned();
    let forged = format!(
        "event=ONIMCONNECTORMESSAGEADD&data[CONNECTOR]=telegram_bridge_rs&data[LINE]=1\
         &data[MESSAGES][0][im][chat_id]=1&data[MESSAGES][0][im][message_id]=99\
         &data[MESSAGES][0][message][text]=phish&data[MESSAGES][0][chat][id]=1006\
         &auth[member_id]={member}&auth[application_token]=guessed"
    );
    let response = http
        .post(format!("{}/bridge/events", harness.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = http
        .post(format!("{}/bridge/events", harness.base))
        .body("not a form")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(harness.telegram.sent_messages(1006).is_empty());
    let link = harness.base.clone() + "/files/forged.token";
    assert_eq!(reqwest::get(link).await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_customers_at_once_keep_their_order_through_a_crash() {
    let mut harness = start().await;
    let customers: Vec<_> = (0..12)
        .map(|n| harness.telegram.customer(2000 + n, &format!("Клиент {n}")))
        .collect();
    for round in 0..3 {
        for customer in &customers {
            customer.send_text(&format!("{} #{round}", customer.first_name()));
        }
    }
    // Crash while the first messages are being delivered, then start again on the same store.
    harness.line_messages(2000, 1).await;
    harness.crash_workers().await;
    for customer in &customers {
        customer.send_text(&format!("{} #3", customer.first_name()));
    }
    harness.restart_workers().await;

    let mut duplicates = 0;
    for customer in &customers {
        let last = format!("{} #3", customer.first_name());
        let key = customer.chat_id().to_string();
        let messages = eventually(&format!("{last} in the open line"), || {
            let messages = customer_messages(&harness.portal, &key);
            messages
                .iter()
                .any(|m| m["text"] == json!(last))
                .then_some(messages)
        })
        .await;
        let texts: Vec<&str> = messages.iter().filter_map(|m| m["text"].as_str()).collect();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for text in &texts {
            *seen.entry(text).or_default() += 1;
        }
        duplicates += seen.values().map(|n| n - 1).sum::<usize>();
        let mut firsts: Vec<&str> = Vec::new();
        for text in texts {
            if !firsts.contains(&text) {
                firsts.push(text);
            }
        }
        let expected: Vec<String> = (0..4)
            .map(|r| format!("{} #{r}", customer.first_name()))
            .collect();
        assert_eq!(
            firsts,
            expected,
            "chat {} out of order or missing",
            customer.chat_id()
        );
    }
    // A customer message whose send was cut off is looked up in the portal before it is sent
    // again: exactly once.
    assert_eq!(duplicates, 0, "customer messages shown twice");

    // Operators answer everyone; the workers crash again while answers go out.
    for customer in &customers {
        harness
            .portal
            .operator_reply(
                &customer.chat_id().to_string(),
                &format!("Ответ {}", customer.first_name()),
                &[],
            )
            .await
            .unwrap();
    }
    harness
        .telegram
        .wait_for_messages(customers[0].chat_id(), 1, WAIT)
        .await
        .unwrap();
    harness.crash_workers().await;
    harness.restart_workers().await;
    let mut repeated = 0;
    for customer in &customers {
        let sent = harness
            .telegram
            .wait_for_messages(customer.chat_id(), 1, WAIT)
            .await
            .unwrap();
        assert!(
            sent[0].text.as_deref().is_some_and(|t| t.contains("Ответ")),
            "{sent:?}"
        );
        repeated += sent.len() - 1;
    }
    // Telegram has no idempotency key: an answer in flight at the crash may go twice, never
    // more than the workers had in flight.
    assert!(repeated <= 8, "{repeated} answers repeated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_webhook_mode_telegram_posts_updates_with_the_secret_header() {
    let harness = start_with(|s| s.telegram_webhook = true).await;
    let webhook = eventually("Telegram's webhook set", || harness.telegram.webhook_url()).await;
    assert_eq!(
        webhook.as_str(),
        format!("{}/telegram/webhook", harness.base)
    );
    let eva = harness.telegram.customer(1007, "Ева");
    eva.send_text("Через вебхук");
    let messages = harness.line_messages(1007, 1).await;
    assert_eq!(messages[0]["text"], "Через вебхук");
    assert!(
        harness
            .telegram
            .webhook_attempts()
            .iter()
            .any(|a| a.status == Some(200)),
        "{:?}",
        harness.telegram.webhook_attempts()
    );
    // Without the secret header Telegram's route refuses.
    let forged = reqwest::Client::new()
        .post(format!("{}/telegram/webhook", harness.base))
        .json(&json!({ "update_id": 999, "message": { "message_id": 1, "date": 1, "chat": { "id": 1007 }, "from": { "id": 1007, "is_bot": false, "first_name": "X" }, "text": "forged" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}
