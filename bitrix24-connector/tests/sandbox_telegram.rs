//! The sandbox Telegram Bot API driven by an unchanged `teloxide_core::Bot`.
#![cfg(feature = "sandbox")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bitrix24_connector::sandbox_telegram::{MediaKind, SandboxTelegram};
use teloxide_core::net::Download;
use teloxide_core::prelude::*;
use teloxide_core::types::{
    ChatAction, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, MessageEntityKind,
    MessageId, ParseMode, ReplyParameters, Update, UpdateKind,
};
use teloxide_core::{ApiError, RequestError};

const WAIT: Duration = Duration::from_secs(2);

async fn setup() -> (SandboxTelegram, Bot) {
    let telegram = SandboxTelegram::start().await.unwrap();
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    (telegram, bot)
}

fn message(update: &Update) -> &Message {
    match &update.kind {
        UpdateKind::Message(m) | UpdateKind::EditedMessage(m) => m,
        other => panic!("not a message update: {other:?}"),
    }
}

#[tokio::test]
async fn get_me_describes_the_bot() {
    let (_telegram, bot) = setup().await;
    let me = bot.get_me().await.unwrap();
    assert_eq!(me.id.0, 123_456);
    assert!(me.is_bot);
    assert_eq!(me.username(), "sandbox_bot");
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_an_unknown_method_not_found() {
    let (telegram, _bot) = setup().await;
    let stranger = Bot::new("42:WRONG").set_api_url(telegram.api_url());
    let error = stranger.get_me().await.unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::InvalidToken)),
        "{error:?}"
    );

    let url = format!(
        "{}bot{}/sendTelepathy",
        telegram.api_url(),
        telegram.token()
    );
    let response = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ok": false, "error_code": 404, "description": "Not Found"})
    );
}

#[tokio::test]
async fn every_customer_action_arrives_as_a_teloxide_update() {
    let (telegram, bot) = setup().await;
    let alice = telegram.customer(1001, "Alice");
    let hello = alice.send_text("hello");
    alice.reply_text(hello, "and again").unwrap();
    alice.edit_text(hello, "hello, edited").unwrap();
    alice.start(Some("lead-42"));
    alice.send_photo(&b"jpeg bytes"[..], Some("a photo"));
    alice.send_document(&b"%PDF"[..], "invoice.pdf", None);
    alice.send_voice(&b"ogg"[..], 3);
    alice.send_audio(&b"mp3"[..], "song.mp3", 200);
    alice.send_video(&b"mp4"[..], 7, None);
    alice.send_sticker(&b"webp"[..], "👍");
    alice.share_contact("+79990000000");
    alice.send_contact("+15550000000", "Bob");
    alice.send_location(55.75, 37.61);

    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 13);
    assert!(
        updates.windows(2).all(|w| w[0].id.0 < w[1].id.0),
        "update ids increase"
    );
    assert!(
        updates
            .iter()
            .all(|u| !matches!(u.kind, UpdateKind::Error(_))),
        "{updates:?}"
    );

    let first = message(&updates[0]);
    assert_eq!(first.text(), Some("hello"));
    assert_eq!(first.chat.id, ChatId(1001));
    assert_eq!(first.from.as_ref().unwrap().first_name, "Alice");
    let reply = message(&updates[1]);
    assert_eq!(reply.reply_to_message().unwrap().id, MessageId(hello));
    assert!(reply.id.0 > first.id.0);
    let UpdateKind::EditedMessage(edited) = &updates[2].kind else {
        panic!("{:?}", updates[2])
    };
    assert_eq!(
        (edited.id, edited.text()),
        (MessageId(hello), Some("hello, edited"))
    );
    assert!(edited.edit_date().is_some());
    let start = message(&updates[3]);
    assert_eq!(start.text(), Some("/start lead-42"));
    assert_eq!(
        start.entities().unwrap()[0].kind,
        MessageEntityKind::BotCommand
    );
    let photo = message(&updates[4]);
    assert_eq!(photo.caption(), Some("a photo"));
    assert_eq!(photo.photo().unwrap()[0].file.size, 10);
    let document = message(&updates[5]).document().unwrap();
    assert_eq!(document.file_name.as_deref(), Some("invoice.pdf"));
    assert_eq!(
        document
            .mime_type
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("application/pdf")
    );
    assert_eq!(message(&updates[6]).voice().unwrap().duration.seconds(), 3);
    assert_eq!(
        message(&updates[7]).audio().unwrap().file_name.as_deref(),
        Some("song.mp3")
    );
    assert_eq!(message(&updates[8]).video().unwrap().duration.seconds(), 7);
    assert_eq!(
        message(&updates[9]).sticker().unwrap().emoji.as_deref(),
        Some("👍")
    );
    let own = message(&updates[10]).contact().unwrap();
    assert_eq!(
        (own.phone_number.as_str(), own.user_id),
        ("+79990000000", Some(UserId(1001)))
    );
    assert_eq!(message(&updates[11]).contact().unwrap().user_id, None);
    let location = message(&updates[12]).location().unwrap();
    assert!((location.latitude - 55.75).abs() < 1e-9);

    // The customer's file can be fetched back through getFile and the download URL.
    let file = bot.get_file(document.file.id.clone()).await.unwrap();
    let mut downloaded = Vec::new();
    bot.download_file(&file.path, &mut downloaded)
        .await
        .unwrap();
    assert_eq!(downloaded, b"%PDF");
}

#[tokio::test]
async fn offsets_confirm_updates_and_long_polls_wait_for_new_ones() {
    let (telegram, bot) = setup().await;
    let alice = telegram.customer(1001, "Alice");
    alice.send_text("one");
    alice.send_text("two");
    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 2);
    // Unconfirmed updates come again.
    assert_eq!(
        bot.get_updates().limit(1).await.unwrap()[0].id,
        updates[0].id
    );
    let next = i32::try_from(updates[1].id.0 + 1).unwrap();
    assert!(bot.get_updates().offset(next).await.unwrap().is_empty());
    assert_eq!(telegram.pending_updates(), 0);

    let poller = {
        let bot = bot.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let updates = bot.get_updates().offset(next).timeout(5).await.unwrap();
            (updates, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    alice.send_text("three");
    let (updates, elapsed) = poller.await.unwrap();
    assert_eq!(message(&updates[0]).text(), Some("three"));
    assert!(
        elapsed < Duration::from_secs(2),
        "the poll returned when the update came: {elapsed:?}"
    );

    // With nothing new, a short long poll times out empty.
    let offset = i32::try_from(updates[0].id.0 + 1).unwrap();
    let started = Instant::now();
    assert!(
        bot.get_updates()
            .offset(offset)
            .timeout(1)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_second_poll_terminates_the_first() {
    let (_telegram, bot) = setup().await;
    let first = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.get_updates().timeout(5).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = bot.get_updates().await.unwrap();
    assert!(second.is_empty());
    let error = first.await.unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn html_messages_keyboards_and_button_presses() {
    let (telegram, bot) = setup().await;
    let alice = telegram.customer(1001, "Alice");
    let keyboard = InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback("Approve", "approve:7"),
        InlineKeyboardButton::callback("Reject", "reject:7"),
    ]]);
    let sent = bot
        .send_message(ChatId(1001), "Task <b>#7</b> &amp; more")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard.clone())
        .await
        .unwrap();
    assert_eq!(sent.text(), Some("Task #7 & more"));
    assert_eq!(sent.entities().unwrap()[0].kind, MessageEntityKind::Bold);
    assert_eq!(sent.reply_markup(), Some(&keyboard));

    let observed = &telegram.wait_for_messages(1001, 1, WAIT).await.unwrap()[0];
    assert_eq!(observed.message_id, sent.id.0);
    assert_eq!(observed.text.as_deref(), Some("Task <b>#7</b> &amp; more"));
    assert_eq!(observed.rendered.as_deref(), Some("Task #7 & more"));
    assert_eq!(observed.parse_mode.as_deref(), Some("HTML"));
    assert_eq!(observed.callback_data(), ["approve:7", "reject:7"]);

    assert!(alice.press_button(sent.id.0, "delete-everything").is_err());
    let query_id = alice.press_button(sent.id.0, "approve:7").unwrap();
    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::CallbackQuery(query) = &updates[0].kind else {
        panic!("{updates:?}")
    };
    assert_eq!(query.id.0, query_id);
    assert_eq!(query.data.as_deref(), Some("approve:7"));
    assert_eq!(query.from.id, UserId(1001));
    assert_eq!(query.regular_message().unwrap().id, sent.id);

    bot.answer_callback_query(query.id.clone())
        .text("Approved")
        .await
        .unwrap();
    let answers = telegram.wait_for_callback_answers(1, WAIT).await.unwrap();
    assert_eq!(answers[0].text.as_deref(), Some("Approved"));
    assert_eq!(answers[0].callback_query_id, query_id);
    let again = bot
        .answer_callback_query(query.id.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(again, RequestError::Api(ApiError::InvalidQueryId)),
        "{again:?}"
    );

    // A reply names the message it replies to, on the wire and in the record.
    let reply = bot
        .send_message(ChatId(1001), "noted")
        .reply_parameters(ReplyParameters::new(sent.id))
        .await
        .unwrap();
    assert_eq!(reply.reply_to_message().unwrap().id, sent.id);
    let record = telegram.sent_message(1001, reply.id.0).unwrap();
    assert_eq!(record.reply_to_message_id, Some(sent.id.0));
}

#[tokio::test]
async fn bad_html_and_long_texts_are_rejected_like_telegram() {
    let (telegram, bot) = setup().await;
    telegram.customer(1001, "Alice");
    let error = bot
        .send_message(ChatId(1001), "line<br>break")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap_err();
    let RequestError::Api(ApiError::CantParseEntities(description)) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        description,
        "Bad Request: can't parse entities: Unsupported start tag \"br\" at byte offset 4"
    );
    let error = bot
        .send_message(ChatId(1001), "x".repeat(4097))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::MessageIsTooLong)),
        "{error:?}"
    );
    bot.send_message(ChatId(1001), "x".repeat(4096))
        .await
        .unwrap();
    let error = bot.send_message(ChatId(999), "nobody").await.unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::ChatNotFound)),
        "{error:?}"
    );
    let error = bot
        .send_photo(ChatId(1001), InputFile::memory(&b"img"[..]))
        .caption("c".repeat(1025))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RequestError::Api(ApiError::Unknown(d)) if d == "Bad Request: message caption is too long"),
        "{error:?}"
    );
    assert_eq!(telegram.sent_messages(1001).len(), 1);
}

#[tokio::test]
async fn files_upload_and_download_by_id() {
    let (telegram, bot) = setup().await;
    telegram.customer(1001, "Alice");
    let photo = bot
        .send_photo(
            ChatId(1001),
            InputFile::memory(&b"\xff\xd8photo"[..]).file_name("cat.jpg"),
        )
        .caption("<i>cat</i>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert_eq!(photo.caption(), Some("cat"));
    let document = bot
        .send_document(
            ChatId(1001),
            InputFile::memory(&b"a,b\n1,2\n"[..]).file_name("report.csv"),
        )
        .await
        .unwrap();
    let doc = document.document().unwrap();
    assert_eq!(doc.file_name.as_deref(), Some("report.csv"));

    let sent = telegram.sent_messages(1001);
    let photo_file = sent[0].file.as_ref().unwrap();
    assert_eq!(photo_file.kind, MediaKind::Photo);
    assert_eq!(&photo_file.bytes[..], b"\xff\xd8photo");
    assert_eq!(sent[0].caption.as_deref(), Some("<i>cat</i>"));
    let doc_file = sent[1].file.as_ref().unwrap();
    assert_eq!(doc_file.file_name.as_deref(), Some("report.csv"));
    assert_eq!(doc_file.mime_type.as_deref(), Some("text/csv"));

    let file = bot.get_file(doc.file.id.clone()).await.unwrap();
    assert_eq!(file.size, 8);
    let mut bytes = Vec::new();
    bot.download_file(&file.path, &mut bytes).await.unwrap();
    assert_eq!(bytes, b"a,b\n1,2\n");

    // Sending by file_id reuses the stored content.
    let again = bot
        .send_document(ChatId(1001), InputFile::file_id(doc.file.id.clone()))
        .await
        .unwrap();
    assert_eq!(again.document().unwrap().file.id, doc.file.id);
    let error = bot
        .send_document(ChatId(1001), InputFile::file_id("no-such-file".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::WrongFileIdOrUrl)),
        "{error:?}"
    );
}

#[tokio::test]
async fn edits_and_deletes_follow_telegram_rules() {
    let (telegram, bot) = setup().await;
    telegram.customer(1001, "Alice");
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("OK", "ok")]]);
    let sent = bot
        .send_message(ChatId(1001), "draft")
        .reply_markup(keyboard.clone())
        .await
        .unwrap();

    let edited = bot
        .edit_message_text(ChatId(1001), sent.id, "final")
        .await
        .unwrap();
    assert_eq!(edited.text(), Some("final"));
    assert!(edited.edit_date().is_some());
    // An edit without reply_markup drops the keyboard, as in Telegram.
    assert_eq!(edited.reply_markup(), None);
    let same = bot
        .edit_message_text(ChatId(1001), sent.id, "final")
        .await
        .unwrap_err();
    assert!(
        matches!(same, RequestError::Api(ApiError::MessageNotModified)),
        "{same:?}"
    );
    let with_keyboard = bot
        .edit_message_reply_markup(ChatId(1001), sent.id)
        .reply_markup(keyboard)
        .await
        .unwrap();
    assert!(with_keyboard.reply_markup().is_some());
    let missing = bot
        .edit_message_text(ChatId(1001), MessageId(999), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, RequestError::Api(ApiError::MessageToEditNotFound)),
        "{missing:?}"
    );

    bot.delete_message(ChatId(1001), sent.id).await.unwrap();
    let twice = bot.delete_message(ChatId(1001), sent.id).await.unwrap_err();
    assert!(
        matches!(twice, RequestError::Api(ApiError::MessageToDeleteNotFound)),
        "{twice:?}"
    );
    let record = telegram.sent_message(1001, sent.id.0).unwrap();
    assert!(record.deleted);
    assert_eq!(record.edit_count, 2);
    assert_eq!(record.text.as_deref(), Some("final"));

    bot.send_chat_action(ChatId(1001), ChatAction::Typing)
        .await
        .unwrap();
    assert_eq!(telegram.chat_actions(1001), ["typing"]);
}

#[tokio::test]
async fn blocked_chats_and_flood_limits_fail_like_telegram() {
    let (telegram, bot) = setup().await;
    let alice = telegram.customer(1001, "Alice");
    alice.block_bot();
    let error = bot.send_message(ChatId(1001), "hello?").await.unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::BotBlocked)),
        "{error:?}"
    );
    alice.unblock_bot();

    telegram.rate_limit(2, 3);
    for _ in 0..2 {
        let error = bot.send_message(ChatId(1001), "spam").await.unwrap_err();
        let RequestError::RetryAfter(after) = error else {
            panic!("{error:?}")
        };
        assert_eq!(after.seconds(), 3);
    }
    bot.send_message(ChatId(1001), "finally").await.unwrap();
    let sent = telegram.sent_messages(1001);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text.as_deref(), Some("finally"));
}

/// What the receiver got: the secret header and the raw body, as a webhook handler sees it.
type Deliveries = Arc<Mutex<Vec<(Option<String>, String)>>>;

/// A webhook receiver that refuses the first `failures` deliveries with 500.
async fn receiver(failures: usize) -> (url::Url, Deliveries) {
    let received = Deliveries::default();
    let seen = received.clone();
    let refused = Arc::new(Mutex::new(0usize));
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            let refused = refused.clone();
            async move {
                {
                    let mut refused = refused.lock().unwrap();
                    if *refused < failures {
                        *refused += 1;
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                }
                let secret = headers
                    .get("x-telegram-bot-api-secret-token")
                    .map(|v| v.to_str().unwrap().to_owned());
                seen.lock().unwrap().push((secret, body));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn webhooks_deliver_with_the_secret_and_retry_refusals() {
    let telegram = SandboxTelegram::builder()
        .webhook_retries(3, Duration::from_millis(10))
        .start()
        .await
        .unwrap();
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    let (url, received) = receiver(1).await;
    bot.set_webhook(url.clone())
        .secret_token("s3cr3t_token".to_owned())
        .await
        .unwrap();
    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(info.url, Some(url));

    let alice = telegram.customer(1001, "Alice");
    alice.send_text("via webhook");
    alice.send_text("second");
    telegram.wait_for_updates_consumed(WAIT).await.unwrap();

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    assert!(
        received
            .iter()
            .all(|(secret, _)| secret.as_deref() == Some("s3cr3t_token"))
    );
    let update: Update = serde_json::from_str(&received[0].1).unwrap();
    assert_eq!(message(&update).text(), Some("via webhook"));
    let attempts = telegram.webhook_attempts();
    assert_eq!(attempts[0].status, Some(500));
    assert_eq!((attempts[1].attempt, attempts[1].status), (2, Some(200)));

    // getUpdates is refused while the webhook is set, and works again after deleting it.
    let error = bot.get_updates().await.unwrap_err();
    assert!(
        matches!(&error, RequestError::Api(ApiError::Unknown(d)) if d.starts_with("Conflict: can't use getUpdates")),
        "{error:?}"
    );
    bot.delete_webhook().await.unwrap();
    assert!(bot.get_webhook_info().await.unwrap().url.is_none());
    alice.send_text("polled");
    assert_eq!(
        message(&bot.get_updates().await.unwrap()[0]).text(),
        Some("polled")
    );
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_gives_up_and_reports_the_error() {
    let telegram = SandboxTelegram::builder()
        .webhook_retries(2, Duration::from_millis(5))
        .start()
        .await
        .unwrap();
    let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
    let (url, received) = receiver(usize::MAX).await;
    bot.set_webhook(url).await.unwrap();
    telegram.customer(1001, "Alice").send_text("lost");
    telegram.wait_for_updates_consumed(WAIT).await.unwrap();
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(telegram.webhook_attempts().len(), 2);
    let info = bot.get_webhook_info().await.unwrap();
    assert!(info.last_error_message.unwrap().contains("500"));
}

#[tokio::test]
async fn plain_forms_and_media_by_url_work_like_the_real_api() {
    let (telegram, bot) = setup().await;
    let alice = telegram.customer(1001, "Alice");
    // curl-style URL-encoded request, reply_markup as serialized JSON text.
    let url = format!("{}bot{}/SENDMESSAGE", telegram.api_url(), telegram.token());
    let keyboard = r#"{"inline_keyboard":[[{"text":"Go","url":"https://example.com"}]]}"#;
    let body: serde_json::Value = reqwest::Client::new()
        .post(&url)
        .form(&[
            ("chat_id", "1001"),
            ("text", "from a form"),
            ("reply_markup", keyboard),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["result"]["text"], "from a form");
    assert_eq!(
        body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"],
        "Go"
    );

    // A button without an action, and callback data over 64 bytes, are refused.
    let no_action = r#"{"inline_keyboard":[[{"text":"Nothing"}]]}"#;
    let response = reqwest::Client::new()
        .post(&url)
        .form(&[
            ("chat_id", "1001"),
            ("text", "x"),
            ("reply_markup", no_action),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let long_data =
        InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("A", "d".repeat(65))]]);
    let error = bot
        .send_message(ChatId(1001), "x")
        .reply_markup(long_data)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::ButtonDataInvalid)),
        "{error:?}"
    );

    // The sandbox downloads a file given by URL, here one of the customer's own files.
    alice.send_voice(&b"voice note"[..], 2);
    let updates = bot.get_updates().await.unwrap();
    let voice = message(&updates[0]).voice().unwrap();
    let file = bot.get_file(voice.file.id.clone()).await.unwrap();
    let file_url = format!(
        "{}file/bot{}/{}",
        telegram.api_url(),
        telegram.token(),
        file.path
    )
    .parse()
    .unwrap();
    let forwarded = bot
        .send_voice(ChatId(1001), InputFile::url(file_url))
        .await
        .unwrap();
    let stored = telegram
        .file(&forwarded.voice().unwrap().file.id.0)
        .unwrap();
    assert_eq!(&stored.bytes[..], b"voice note");
    assert_ne!(
        stored.file_id, voice.file.id.0,
        "a URL upload is a new file"
    );
}
