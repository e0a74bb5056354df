//! The demo's Telegram bridge part: a customer writes to the company's bot, the message reaches
//! an open line, and the operator's answer comes back to Telegram.
//!
//! The bridge runs in-process on loopback between a sandbox Telegram (the customer's side) and
//! a sandbox portal it is installed on as an OAuth app, with its SQLite database in a temporary
//! directory. The portal is its own, without a request limit: the standard-plan portal's budget
//! is spent by the export before it, and waiting for it would only slow the demo down.

use std::time::Duration;

use bitrix24::Limits;
use bitrix24::sandbox::SandboxPortal;
use bitrix24_connector::bridge::{Bridge, BridgeSettings};
use bitrix24_connector::portals::Portals;
use bitrix24_connector::sandbox_telegram::SandboxTelegram;
use bitrix24_connector::store::Store;
use serde_json::{Value, json};
use teloxide_core::Bot;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{DemoResult, eventually, print_block};

/// The customer's Telegram id (and, in a private chat, the chat's id).
const ANNA: i64 = 1001;

/// A photo as a phone sends it: the bridge only passes the bytes on, so any will do.
const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xFF\xD9";

/// The running bridge and both sides of it.
pub(crate) struct BridgeDemo {
    pub(crate) portal: SandboxPortal,
    telegram: SandboxTelegram,
    base: String,
    stop: oneshot::Sender<()>,
    workers: JoinHandle<()>,
    server: JoinHandle<std::io::Result<()>>,
    // Dropped last: the database lives here until the bridge has stopped.
    _dir: tempfile::TempDir,
}

/// Starts a portal, a Telegram and the bridge between them, installed and set up.
pub(crate) async fn start() -> DemoResult<BridgeDemo> {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .start()
        .await?;
    let telegram = SandboxTelegram::start().await?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("bridge.db")).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut settings = BridgeSettings::new(url::Url::parse(&base)?);
    // The defaults suit a server that idles between customers; shorter waits keep the
    // demo's answers quick without changing what happens.
    settings.poll_interval = Duration::from_millis(50);
    settings.backoff_base = Duration::from_millis(50);
    let portals = Portals::new(store.clone(), portal.oauth_app());
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    let bridge = Bridge::new(store, portals.clone(), bot, settings).await?;
    let app = portals.router().merge(bridge.router().await?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "   its own sandbox portal at {} (no request limit, so the standard plan's budget spent \
         above does not slow it down)",
        portal.base_url()
    );
    println!(
        "   sandbox Telegram at {}; the bridge on {base}",
        telegram.api_url()
    );
    portal
        .install_app_to(&format!("{base}/bitrix24/install"))
        .await?;
    println!("   the portal installed the app: POST {base}/bitrix24/install");
    let report = bridge.setup(None).await?;
    for step in &report.steps {
        println!("   setup: {step}");
    }
    if !report.is_ready() {
        return Err(format!("the connector is not ready: {}", report.status).into());
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let workers = tokio::spawn(bridge.run(async {
        let _ = stopped.await;
    }));
    Ok(BridgeDemo {
        portal,
        telegram,
        base,
        stop,
        workers,
        server,
        _dir: dir,
    })
}

impl BridgeDemo {
    /// Stops the workers, then the server and the Telegram.
    pub(crate) async fn shutdown(self) -> DemoResult<()> {
        let _ = self.stop.send(());
        self.workers.await?;
        self.server.abort();
        self.telegram.shutdown().await;
        Ok(())
    }

    /// The customer's messages in the open line, once there are `count` of them.
    async fn line_messages(&self, count: usize) -> DemoResult<Vec<Value>> {
        let chat = ANNA.to_string();
        eventually(
            &format!("{count} customer messages in the open line"),
            async || {
                let messages: Vec<Value> = self
                    .portal
                    .openline_messages(&chat)
                    .into_iter()
                    .filter(|m| m["direction"] == "in")
                    .collect();
                (messages.len() >= count).then_some(messages)
            },
        )
        .await
    }
}

fn quoted(value: &Value) -> String {
    format!("{:?}", value.as_str().unwrap_or_default())
}

/// Анна writes a text and sends a photo; the operator answers with BB-code.
pub(crate) async fn conversation(demo: &BridgeDemo) -> DemoResult<String> {
    let anna = demo.telegram.customer(ANNA, "Анна");
    let question = "Здравствуйте! Сколько стоит доставка в Казань?";
    anna.send_text(question);
    println!("   Анна writes to the bot in Telegram: {question:?}");
    anna.send_photo(PHOTO, Some("Вот такой диван"));
    println!(
        "   and sends a photo ({} bytes) captioned \"Вот такой диван\"",
        PHOTO.len()
    );
    let messages = demo.line_messages(2).await?;
    println!("   the open line's chat (external id {ANNA}) now shows:");
    for message in &messages {
        let files: Vec<String> = message["files"]
            .as_array()
            .map(|files| {
                files
                    .iter()
                    .map(|f| f["name"].as_str().unwrap_or("?").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let attached = if files.is_empty() {
            String::new()
        } else {
            format!(" + file {}", files.join(", "))
        };
        println!(
            "     from the customer, message {}: {}{attached}",
            message["id"],
            quoted(&message["text"])
        );
    }
    let link = messages
        .iter()
        .find_map(|m| m["files"][0]["url"].as_str())
        .ok_or("the photo reached the open line without its file")?;
    let fetched = reqwest::get(link).await?;
    let status = fetched.status().as_u16();
    let bytes = fetched.bytes().await?;
    println!(
        "   the portal downloads the photo from the bridge's signed link {}/files/…: {status}, \
         {} bytes; the bot token never leaves the bridge",
        demo.base,
        bytes.len()
    );
    if messages[0]["text"] != question
        || bytes.as_ref() != PHOTO
        || link.contains(demo.telegram.token())
    {
        return Err("the customer's messages did not reach the open line intact".into());
    }

    let answer = "Добрый день, [b]Анна[/b]! Доставка в Казань — [i]1 500 ₽[/i], \
                  подробнее [url=https://shop.example.com/delivery]здесь[/url]";
    let chat = ANNA.to_string();
    demo.portal.operator_reply(&chat, answer, &[]).await?;
    let operator = demo
        .portal
        .openline_messages(&chat)
        .into_iter()
        .rev()
        .find(|m| m["direction"] == "out")
        .and_then(|m| m["author_name"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "the operator".to_owned());
    println!("   operator {operator} answers in the open line: {answer:?}");
    let sent = demo
        .telegram
        .wait_for_messages(ANNA, 1, Duration::from_secs(20))
        .await?;
    let received = sent.first().ok_or("nothing reached the customer")?;
    let text = received.text.clone().unwrap_or_default();
    println!(
        "   Анна receives in Telegram (parse_mode {}):",
        received.parse_mode.as_deref().unwrap_or("none")
    );
    print_block(&text);
    let telegram_id = received.message_id.to_string();
    let status = eventually("the delivery status", async || {
        demo.portal.delivery_statuses().into_iter().find(|s| {
            s["external_ids"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|id| id == &json!(telegram_id)))
        })
    })
    .await?;
    println!(
        "   the bridge confirms: imconnector.send.status.delivery for portal message {} \
         (Telegram message {telegram_id})",
        status["message_id"]
    );
    if !text.contains("<b>Анна</b>")
        || !text.contains("<a href=\"https://shop.example.com/delivery\">здесь</a>")
    {
        return Err(format!("the answer lost its formatting: {text:?}").into());
    }
    Ok(format!(
        "{} customer messages in the open line, the answer delivered in Telegram",
        messages.len()
    ))
}
