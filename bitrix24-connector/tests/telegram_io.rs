//! Telegram plumbing against the sandbox Bot API: the durable inbox, polling, the webhook
//! route and the sender.
#![cfg(feature = "sandbox")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use bitrix24_connector::sandbox_telegram::{MediaKind, SandboxTelegram};
use bitrix24_connector::store::Store;
use bitrix24_connector::telegram::inbox::{TelegramInbox, bot_id_of_token};
use bitrix24_connector::telegram::polling::{PollError, PollSettings, poll_with};
use bitrix24_connector::telegram::send::{FileKind, SendFailure, TelegramSender};
use bitrix24_connector::telegram::webhook::{
    SECRET_HEADER, new_secret_token, set_webhook, webhook_router,
};
use bytes::Bytes;
use serde_json::{Value, json};
use teloxide_core::Bot;
use teloxide_core::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, MessageId};
use tokio::sync::oneshot;
use url::Url;

const WAIT: Duration = Duration::from_secs(5);

struct Setup {
    telegram: SandboxTelegram,
    bot: Bot,
    inbox: TelegramInbox,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let telegram = SandboxTelegram::start().await.unwrap();
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("connector.db")).await.unwrap();
    let inbox = TelegramInbox::new(store.clone(), bot_id_of_token(telegram.token()).unwrap());
    Setup {
        telegram,
        bot,
        inbox,
        store,
        _dir: dir,
    }
}

fn fast_polling() -> PollSettings {
    PollSettings::default()
        .timeout(Duration::from_secs(1))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
}

struct Poller {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), PollError>>,
}

impl Poller {
    fn start(setup: &Setup, settings: PollSettings) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(poll_with(
            setup.bot.clone(),
            setup.inbox.clone(),
            Vec::new(),
            settings,
            async move {
                let _ = stopped.await;
            },
        ));
        Self { stop, task }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the poller stops promptly")
            .unwrap()
            .unwrap();
    }
}

async fn stored(store: &Store) -> Vec<(i64, Value)> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT update_id, raw FROM telegram_updates ORDER BY update_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    rows.into_iter()
        .map(|(id, raw)| (id, serde_json::from_str(&raw).unwrap()))
        .collect()
}

async fn wait_stored(store: &Store, count: usize) -> Vec<(i64, Value)> {
    let started = Instant::now();
    loop {
        let rows = stored(store).await;
        if rows.len() >= count {
            return rows;
        }
        assert!(
            started.elapsed() < WAIT,
            "{} of {count} updates stored",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn texts(rows: &[(i64, Value)]) -> Vec<String> {
    rows.iter()
        .map(|(_, raw)| raw["message"]["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn polling_stores_every_update_once_across_a_restart() {
    let setup = setup().await;
    // A webhook left over from another deployment: the poller must remove it first.
    let leftover = Url::parse("http://127.0.0.1:9/").unwrap();
    set_webhook(&setup.bot, &leftover, "old-secret", Vec::new())
        .await
        .unwrap();
    assert!(setup.telegram.webhook_url().is_some());

    let cleaner = Poller::start(&setup, fast_polling());
    let started = Instant::now();
    while setup.telegram.webhook_url().is_some() {
        assert!(started.elapsed() < WAIT, "the webhook was not deleted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cleaner.stop().await;
    let customers = [
        setup.telegram.customer(1001, "Alice"),
        setup.telegram.customer(1002, "Bob"),
        setup.telegram.customer(1003, "Carol"),
    ];
    let mut expected = Vec::new();
    for round in 0..3 {
        for customer in &customers {
            let text = format!("{} {round}", customer.first_name());
            customer.send_text(&text);
            expected.push(text);
        }
    }
    // A predecessor stored four updates and died before its next getUpdates confirmed them:
    // Telegram still holds them and sends them again.
    let url = format!(
        "{}bot{}/getUpdates",
        setup.telegram.api_url(),
        setup.telegram.token()
    );
    let fetched: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({"limit": 4}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for update in fetched["result"].as_array().unwrap() {
        assert!(setup.inbox.insert(update).await.unwrap());
    }
    assert_eq!(setup.telegram.pending_updates(), 9);

    let first = Poller::start(&setup, fast_polling().limit(2));
    wait_stored(&setup.store, 9).await;
    first.stop().await;
    // Sent while no poller runs.
    for customer in &customers[..2] {
        let text = format!("{} late", customer.first_name());
        customer.send_text(&text);
        expected.push(text);
    }
    let second = Poller::start(&setup, fast_polling());
    let rows = wait_stored(&setup.store, expected.len()).await;
    setup
        .telegram
        .wait_for_updates_consumed(WAIT)
        .await
        .unwrap();
    second.stop().await;

    let rows_after = stored(&setup.store).await;
    assert_eq!(rows_after.len(), expected.len(), "nothing repeated");
    assert_eq!(texts(&rows), expected, "nothing lost, in order");
    assert!(rows.windows(2).all(|w| w[1].0 == w[0].0 + 1));
    assert_eq!(
        setup.inbox.next_offset().await.unwrap(),
        rows.last().unwrap().0 + 1
    );
    // Everything was confirmed at Telegram: a new poll gets nothing old.
    assert_eq!(setup.telegram.pending_updates(), 0);
    let claimed = setup.inbox.claim(100, WAIT).await.unwrap();
    assert_eq!(claimed.len(), 3, "one update per chat at a time");
    assert!(claimed.iter().all(|u| u.update.is_some()));
}

#[tokio::test]
async fn a_refused_token_stops_polling() {
    let setup = setup().await;
    let stranger = Bot::new("42:WRONG").set_api_url(setup.telegram.api_url());
    let result = tokio::time::timeout(
        WAIT,
        poll_with(
            stranger,
            setup.inbox.clone(),
            Vec::new(),
            fast_polling(),
            std::future::pending(),
        ),
    )
    .await
    .unwrap();
    assert!(matches!(result, Err(PollError::Unauthorized)), "{result:?}");
}

fn text_update(update_id: i64, chat: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "C"},
        "from": {"id": chat, "is_bot": false, "first_name": "C"},
        "text": text,
    }})
}

fn ids(updates: &[bitrix24_connector::telegram::inbox::InboxUpdate]) -> Vec<i64> {
    updates.iter().map(|u| u.update_id).collect()
}

#[tokio::test]
async fn claims_keep_each_chat_in_order() {
    let setup = setup().await;
    let inbox = &setup.inbox;
    let lease = Duration::from_secs(60);
    inbox.insert(&text_update(1, 10, "A1")).await.unwrap();
    inbox
        .insert(&text_update(2, 10, "A1 edited"))
        .await
        .unwrap();
    inbox.insert(&text_update(3, 20, "B1")).await.unwrap();

    let first = inbox.claim(10, lease).await.unwrap();
    assert_eq!(ids(&first), [1, 3], "A1 and B1, never A2 beside A1");
    assert_eq!(first[0].raw, text_update(1, 10, "A1"));
    assert!(first[0].update.is_some());
    assert!(inbox.claim(10, lease).await.unwrap().is_empty());

    inbox.done(3).await.unwrap();
    assert!(
        inbox.claim(10, lease).await.unwrap().is_empty(),
        "A2 waits for A1"
    );
    inbox.done(1).await.unwrap();
    let second = inbox.claim(10, lease).await.unwrap();
    assert_eq!(ids(&second), [2]);
    assert_eq!(second[0].attempts, 0);

    // A restarted worker takes over the claims of the previous one.
    assert_eq!(inbox.release_claims().await.unwrap(), 1);
    assert_eq!(ids(&inbox.claim(10, lease).await.unwrap()), [2]);
    inbox
        .retry_later(2, "portal down", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(inbox.claim(10, lease).await.unwrap().is_empty());
    assert_eq!(inbox.next_offset().await.unwrap(), 4);
}

#[tokio::test]
async fn duplicates_are_ignored_and_unparsable_updates_kept() {
    let setup = setup().await;
    let inbox = &setup.inbox;
    assert_eq!(inbox.next_offset().await.unwrap(), 0);
    let wake = inbox.wake();
    assert!(inbox.insert(&text_update(7, 10, "hi")).await.unwrap());
    tokio::time::timeout(Duration::from_secs(1), wake.notified())
        .await
        .expect("a new update wakes the worker");
    assert!(!inbox.insert(&text_update(7, 10, "hi")).await.unwrap());
    assert!(!inbox.insert(&text_update(7, 10, "other")).await.unwrap());
    let strange = json!({"update_id": 8, "message": {"message_id": "not a number"}});
    assert!(inbox.insert(&strange).await.unwrap());
    let future_kind = json!({"update_id": 9, "brand_new_kind": {"x": 1}});
    assert!(inbox.insert(&future_kind).await.unwrap());

    let claimed = inbox.claim(10, WAIT).await.unwrap();
    assert_eq!(ids(&claimed), [7, 8, 9]);
    assert_eq!(claimed[0].raw["message"]["text"], "hi");
    assert_eq!(claimed[1].raw, strange, "kept as received");
    assert_eq!(claimed[2].raw, future_kind);
    assert_eq!(inbox.next_offset().await.unwrap(), 10);
}

async fn serve(router: axum::Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Url::parse(&format!("http://{addr}/")).unwrap()
}

#[tokio::test]
async fn the_webhook_route_wants_the_secret_and_stores_before_answering() {
    let setup = setup().await;
    let secret = new_secret_token().unwrap();
    let base = serve(webhook_router(setup.inbox.clone(), secret.clone())).await;
    let url = base.join("telegram/webhook").unwrap();
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, secret: Option<&str>| {
        let mut request = http
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header(SECRET_HEADER, secret);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let update = serde_json::to_vec(&text_update(5, 10, "hi")).unwrap();

    assert_eq!(post(update.clone(), None).await, 401);
    assert_eq!(post(update.clone(), Some("wrong")).await, 401);
    let mut almost = secret.clone();
    almost.pop();
    almost.push('!');
    assert_eq!(post(update.clone(), Some(&almost)).await, 401);
    assert!(stored(&setup.store).await.is_empty());

    assert_eq!(post(update.clone(), Some(&secret)).await, 200);
    assert_eq!(stored(&setup.store).await.len(), 1);
    assert_eq!(post(update, Some(&secret)).await, 200, "a duplicate");
    assert_eq!(stored(&setup.store).await.len(), 1);

    assert_eq!(post(b"not json".to_vec(), Some(&secret)).await, 400);
    assert_eq!(post(b"{\"x\": 1}".to_vec(), Some(&secret)).await, 400);
    let huge = format!(
        "{{\"update_id\": 6, \"pad\": \"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    assert_eq!(post(huge.into_bytes(), Some(&secret)).await, 413);
    assert_eq!(stored(&setup.store).await.len(), 1);

    // Storage down: 500, so that Telegram delivers again.
    setup.store.pool().close().await;
    let next = serde_json::to_vec(&text_update(6, 10, "later")).unwrap();
    assert_eq!(post(next, Some(&secret)).await, 500);
}

#[tokio::test]
async fn the_sandbox_webhook_delivers_into_the_router() {
    let setup = setup().await;
    let secret = new_secret_token().unwrap();
    let public = serve(webhook_router(setup.inbox.clone(), secret.clone())).await;
    set_webhook(&setup.bot, &public, &secret, Vec::new())
        .await
        .unwrap();
    assert_eq!(
        setup.telegram.webhook_url().unwrap().as_str(),
        format!("{public}telegram/webhook")
    );
    let alice = setup.telegram.customer(1001, "Alice");
    let bob = setup.telegram.customer(1002, "Bob");
    alice.send_text("one");
    bob.send_text("two");
    alice.send_text("three");
    setup
        .telegram
        .wait_for_updates_consumed(WAIT)
        .await
        .unwrap();
    let rows = stored(&setup.store).await;
    assert_eq!(texts(&rows), ["one", "two", "three"]);
    assert!(
        setup
            .telegram
            .webhook_attempts()
            .iter()
            .all(|a| a.status == Some(200))
    );

    // A webhook set with another secret is refused, and nothing is stored.
    set_webhook(&setup.bot, &public, "not-the-secret", Vec::new())
        .await
        .unwrap();
    bob.send_text("four");
    setup
        .telegram
        .wait_for_updates_consumed(WAIT)
        .await
        .unwrap();
    assert_eq!(stored(&setup.store).await.len(), 3);
    assert_eq!(
        setup.telegram.webhook_attempts().last().unwrap().status,
        Some(401)
    );
}

fn sender(setup: &Setup) -> TelegramSender {
    TelegramSender::new(setup.bot.clone())
}

#[tokio::test]
async fn long_html_is_split_with_the_reply_first_and_the_keyboard_last() {
    let setup = setup().await;
    let alice = setup.telegram.customer(1001, "Alice");
    let question = alice.send_text("question");
    let html = format!("<b>Answer:</b> {}", "слово &amp; ".repeat(1300));
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("OK", "ok")]]);
    let ids = sender(&setup)
        .send_html(
            ChatId(1001),
            &html,
            Some(MessageId(question)),
            Some(keyboard),
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    let sent = setup.telegram.sent_messages(1001);
    assert_eq!(sent.len(), 3);
    assert_eq!(
        sent.iter().map(|m| m.message_id).collect::<Vec<_>>(),
        ids.iter().map(|id| id.0).collect::<Vec<_>>()
    );
    for message in &sent {
        let rendered = message.rendered.as_deref().unwrap();
        assert!(rendered.encode_utf16().count() <= 4096);
    }
    assert_eq!(sent[0].reply_to_message_id, Some(question));
    assert_eq!(sent[1].reply_to_message_id, None);
    assert!(sent[0].callback_data().is_empty());
    assert_eq!(sent[2].callback_data(), ["ok"]);
    let visible: String = sent
        .iter()
        .map(|m| m.rendered.clone().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(visible.matches("слово &").count(), 1300, "no text lost");
    assert!(visible.starts_with("Answer: "));

    let empty = sender(&setup)
        .send_html(ChatId(1001), "<b></b>", None, None)
        .await;
    assert!(matches!(empty, Err(SendFailure::Permanent(_))), "{empty:?}");
}

#[tokio::test]
async fn files_go_by_kind_and_long_captions_follow_as_text() {
    let setup = setup().await;
    setup.telegram.customer(1001, "Alice");
    let sender = sender(&setup);
    let kinds = [
        (FileKind::Photo, MediaKind::Photo, "cat.jpg"),
        (FileKind::Document, MediaKind::Document, "report.pdf"),
        (FileKind::Voice, MediaKind::Voice, "note.ogg"),
        (FileKind::Audio, MediaKind::Audio, "song.mp3"),
        (FileKind::Video, MediaKind::Video, "clip.mp4"),
    ];
    for (kind, _, name) in kinds {
        sender
            .send_file(
                ChatId(1001),
                kind,
                name,
                Bytes::from_static(b"bytes"),
                Some("<i>caption</i>"),
            )
            .await
            .unwrap();
    }
    let sent = setup.telegram.sent_messages(1001);
    assert_eq!(sent.len(), 5);
    for (message, (_, media, name)) in sent.iter().zip(kinds) {
        let file = message.file.as_ref().unwrap();
        assert_eq!(file.kind, media);
        assert_eq!(&file.bytes[..], b"bytes");
        if media != MediaKind::Photo {
            assert_eq!(file.file_name.as_deref(), Some(name));
        }
        assert_eq!(message.rendered.as_deref(), Some("caption"));
    }

    let long = format!("<b>{}</b>", "c".repeat(1500));
    let id = sender
        .send_file(
            ChatId(1001),
            FileKind::Document,
            "big.txt",
            Bytes::from_static(b"x"),
            Some(&long),
        )
        .await
        .unwrap();
    let sent = setup.telegram.sent_messages(1001);
    assert_eq!(sent.len(), 7);
    assert_eq!(sent[5].message_id, id.0);
    assert!(sent[5].file.is_some());
    assert_eq!(sent[5].caption, None);
    assert_eq!(sent[6].text.as_deref(), Some(long.as_str()));
    assert_eq!(sent[6].reply_to_message_id, Some(id.0));
}

#[tokio::test]
async fn a_refused_photo_is_sent_as_a_document() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/bot1:T/SendPhoto"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "ok": false, "error_code": 400,
            "description": "Bad Request: PHOTO_INVALID_DIMENSIONS"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bot1:T/SendDocument"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {
            "message_id": 77, "date": 1_700_000_000,
            "chat": {"id": 5, "type": "private", "first_name": "A"},
            "document": {"file_id": "f", "file_unique_id": "u"}}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let bot = Bot::new("1:T").set_api_url(Url::parse(&server.uri()).unwrap());
    let id = TelegramSender::new(bot)
        .send_file(
            ChatId(5),
            FileKind::Photo,
            "panorama.jpg",
            Bytes::from_static(b"jpeg"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(id, MessageId(77));
}

#[tokio::test]
async fn failures_are_classified() {
    let setup = setup().await;
    setup.telegram.customer(1001, "Alice");
    let sender = sender(&setup);
    setup.telegram.block_bot(1001);
    let blocked = sender.send_html(ChatId(1001), "hi", None, None).await;
    assert_eq!(blocked, Err(SendFailure::Blocked));
    let file = sender
        .send_file(
            ChatId(1001),
            FileKind::Document,
            "a.txt",
            Bytes::from_static(b"a"),
            None,
        )
        .await;
    assert_eq!(file, Err(SendFailure::Blocked));
    setup.telegram.unblock_bot(1001);
    let nobody = sender.send_html(ChatId(999), "hi", None, None).await;
    assert_eq!(nobody, Err(SendFailure::Blocked));

    // A long flood wait goes back to the caller at once.
    setup.telegram.rate_limit(1, 30);
    let started = Instant::now();
    let limited = sender.send_html(ChatId(1001), "hi", None, None).await;
    assert_eq!(
        limited,
        Err(SendFailure::RetryAfter(Duration::from_secs(30)))
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // A short one is sat out once.
    setup.telegram.rate_limit(1, 1);
    let started = Instant::now();
    sender
        .send_html(ChatId(1001), "hi", None, None)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(setup.telegram.sent_messages(1001).len(), 1);

    let bad = sender.send_html(ChatId(1001), "a<br>b", None, None).await;
    assert!(matches!(bad, Err(SendFailure::Permanent(_))), "{bad:?}");
}

#[tokio::test]
async fn edits_and_deletes_are_idempotent() {
    let setup = setup().await;
    setup.telegram.customer(1001, "Alice");
    let sender = sender(&setup);
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("OK", "ok")]]);
    let id = sender
        .send_html(ChatId(1001), "<b>Task</b>", None, Some(keyboard.clone()))
        .await
        .unwrap()[0];
    sender
        .edit_html(ChatId(1001), id, "<b>Task</b>", Some(keyboard))
        .await
        .expect("not modified is success");
    sender
        .edit_html(ChatId(1001), id, "<b>Task</b> approved", None)
        .await
        .unwrap();
    let edited = setup.telegram.sent_message(1001, id.0).unwrap();
    assert_eq!(edited.edit_count, 1);
    assert_eq!(edited.rendered.as_deref(), Some("Task approved"));
    assert!(edited.callback_data().is_empty());

    sender.delete(ChatId(1001), id).await.unwrap();
    sender.delete(ChatId(1001), id).await.unwrap();
    assert!(setup.telegram.sent_message(1001, id.0).unwrap().deleted);
    let gone = sender.edit_html(ChatId(1001), id, "again", None).await;
    assert!(matches!(gone, Err(SendFailure::Permanent(_))), "{gone:?}");
}

#[tokio::test]
async fn button_presses_are_answered_once() {
    let setup = setup().await;
    let alice = setup.telegram.customer(1001, "Alice");
    let sender = sender(&setup);
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("OK", "ok")]]);
    let id = sender
        .send_html(ChatId(1001), "Approve?", None, Some(keyboard))
        .await
        .unwrap()[0];
    let query = alice.press_button(id.0, "ok").unwrap();
    sender
        .answer_callback(&query, Some("Approved"))
        .await
        .unwrap();
    let answers = setup.telegram.callback_answers();
    assert_eq!(answers[0].text.as_deref(), Some("Approved"));
    let again = sender.answer_callback(&query, None).await;
    assert!(matches!(again, Err(SendFailure::Permanent(_))), "{again:?}");
    assert!(!format!("{sender:?}").contains(setup.telegram.token()));
}
