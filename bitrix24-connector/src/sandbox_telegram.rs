//! A sandbox Telegram Bot API: an in-process HTTP server that behaves like
//! `api.telegram.org` closely enough for an unchanged `teloxide_core::Bot` to run against it.
//!
//! Tests and demos drive it from the other side: simulated [`Customer`]s write, send files,
//! share contacts and press inline buttons; the handle shows what the bot sent
//! ([`SentMessage`]), and can make the next sends fail the way Telegram fails (blocked by
//! the user, flood limits).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use bitrix24_connector::sandbox_telegram::SandboxTelegram;
//! use teloxide_core::{Bot, requests::Requester, types::ChatId};
//!
//! let telegram = SandboxTelegram::start().await?;
//! let bot = Bot::new(telegram.token()).set_api_url(telegram.api_url());
//! let alice = telegram.customer(1001, "Alice");
//! alice.send_text("hello");
//! let updates = bot.get_updates().await?;
//! bot.send_message(ChatId(alice.chat_id()), "hi Alice").await?;
//! let sent = telegram.wait_for_messages(alice.chat_id(), 1, Duration::from_secs(1)).await?;
//! assert_eq!(sent[0].text.as_deref(), Some("hi Alice"));
//! # Ok(()) }
//! ```
//!
//! What it does like Telegram: the URL scheme (`/bot{token}/{method}`,
//! `/file/bot{token}/{path}`), JSON, form and multipart requests, the error envelope and
//! descriptions teloxide recognises, `getUpdates` long polling and offsets, the 409 while a
//! webhook is set, webhook delivery with `X-Telegram-Bot-Api-Secret-Token`, HTML parse mode
//! checks, text and caption length limits, inline keyboard checks. What it does not: group
//! chats, inline mode, Markdown parsing (Markdown text is stored as is), image decoding
//! (photos report a fixed size), HTTPS-only webhooks (plain HTTP is accepted for local
//! receivers), endless webhook retries (delivery gives up after a few attempts).

mod customer;
mod error;
mod html;
mod methods;
mod params;
mod record;
mod reply;
mod server;
mod shared;
mod state;
mod webhook;
mod wire;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

pub use customer::Customer;
pub use error::SandboxTelegramError;
pub use record::{CallbackAnswer, MediaKind, SentFile, SentMessage, WebhookAttempt};

use shared::{RetryPolicy, Shared};
use state::{Chat, RateLimit, UserInfo};

/// The token a sandbox uses unless told otherwise. It has Telegram's `id:secret` shape.
pub const DEFAULT_TOKEN: &str = "123456:SANDBOX-TOKEN";

/// Configures a [`SandboxTelegram`] before it starts.
#[derive(Debug, Clone)]
pub struct SandboxTelegramBuilder {
    token: String,
    port: u16,
    bot_first_name: String,
    bot_username: String,
    retry: RetryPolicy,
}

impl Default for SandboxTelegramBuilder {
    fn default() -> Self {
        Self {
            token: DEFAULT_TOKEN.to_owned(),
            port: 0,
            bot_first_name: "Sandbox Bot".to_owned(),
            bot_username: "sandbox_bot".to_owned(),
            retry: RetryPolicy {
                attempts: 3,
                first_backoff: Duration::from_millis(50),
            },
        }
    }
}

impl SandboxTelegramBuilder {
    /// The bot token requests must carry. The number before `:` becomes the bot's user id.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The port on 127.0.0.1 (0, the default, picks a free one).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The bot's display name in `getMe` and in its messages' `from`.
    #[must_use]
    pub fn bot_first_name(mut self, name: impl Into<String>) -> Self {
        self.bot_first_name = name.into();
        self
    }

    /// The bot's username, without `@`.
    #[must_use]
    pub fn bot_username(mut self, username: impl Into<String>) -> Self {
        self.bot_username = username.into();
        self
    }

    /// How webhook delivery retries an update the receiver refused: `attempts` tries in all
    /// (at least one), waiting `first_backoff`, then twice as long each time. Defaults to
    /// 3 attempts from 50 ms.
    #[must_use]
    pub fn webhook_retries(mut self, attempts: u32, first_backoff: Duration) -> Self {
        self.retry = RetryPolicy {
            attempts: attempts.max(1),
            first_backoff,
        };
        self
    }

    /// Binds the port and starts serving.
    ///
    /// # Errors
    /// [`SandboxTelegramError::Bind`] when the port cannot be bound,
    /// [`SandboxTelegramError::HttpClient`] when the webhook client cannot be created.
    pub async fn start(self) -> Result<SandboxTelegram, SandboxTelegramError> {
        let bind_error = |source| SandboxTelegramError::Bind {
            port: self.port,
            source,
        };
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let base_url = Url::parse(&format!("http://{addr}/")).map_err(|_| {
            bind_error(std::io::Error::other(
                "the local address does not form a URL",
            ))
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(SandboxTelegramError::HttpClient)?;
        let bot = UserInfo {
            id: self
                .token
                .split_once(':')
                .and_then(|(id, _)| id.parse().ok())
                .unwrap_or(123_456),
            is_bot: true,
            first_name: self.bot_first_name,
            last_name: None,
            username: Some(self.bot_username),
            language_code: None,
        };
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            self.token,
            bot,
            base_url,
            http,
            self.retry,
            stopped.clone(),
        ));
        let app = server::router(shared.clone());
        let mut server_stopped = stopped;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        let worker = tokio::spawn(webhook::run(shared.clone()));
        tracing::info!(%addr, "sandbox Telegram Bot API started");
        Ok(SandboxTelegram {
            shared,
            addr,
            stop,
            tasks: vec![server, worker],
        })
    }
}

/// A running sandbox Telegram Bot API. Stops when dropped or on [`shutdown`](Self::shutdown).
pub struct SandboxTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for SandboxTelegram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxTelegram")
            .field("addr", &self.addr)
            .field("bot", &self.shared.bot.username)
            .finish_non_exhaustive()
    }
}

impl SandboxTelegram {
    /// Starts configuring a sandbox.
    pub fn builder() -> SandboxTelegramBuilder {
        SandboxTelegramBuilder::default()
    }

    /// Starts a sandbox with the defaults: [`DEFAULT_TOKEN`] on a free port.
    ///
    /// # Errors
    /// As [`SandboxTelegramBuilder::start`].
    pub async fn start() -> Result<Self, SandboxTelegramError> {
        Self::builder().start().await
    }

    /// The URL to give `Bot::set_api_url` (the stand-in for `https://api.telegram.org/`).
    pub fn api_url(&self) -> Url {
        self.shared.base_url.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bot token requests must carry.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The bot's user id (the number before `:` in the token).
    pub fn bot_user_id(&self) -> i64 {
        self.shared.bot.id
    }

    /// A customer with this user id; their private chat with the bot is created on first
    /// use. Later calls with the same id return the same user (the first name given first
    /// stays).
    pub fn customer(&self, id: i64, first_name: &str) -> Customer {
        let user = self.shared.modify(|state| {
            state
                .chats
                .entry(id)
                .or_insert_with(|| Chat {
                    customer: UserInfo {
                        id,
                        is_bot: false,
                        first_name: first_name.to_owned(),
                        last_name: None,
                        username: None,
                        language_code: Some("en".to_owned()),
                    },
                    messages: Vec::new(),
                    next_message_id: 1,
                    blocked: false,
                    actions: Vec::new(),
                })
                .customer
                .clone()
        });
        Customer::new(self.shared.clone(), user)
    }

    /// Every message the bot sent to the chat, oldest first, deleted ones included.
    pub fn sent_messages(&self, chat_id: i64) -> Vec<SentMessage> {
        let state = self.shared.lock();
        state.chats.get(&chat_id).map_or_else(Vec::new, |chat| {
            chat.messages
                .iter()
                .filter(|m| m.from_bot)
                .map(|m| state.sent_message(chat_id, m))
                .collect()
        })
    }

    /// One message the bot sent, as it is now.
    pub fn sent_message(&self, chat_id: i64, message_id: i32) -> Option<SentMessage> {
        let state = self.shared.lock();
        let chat = state.chats.get(&chat_id)?;
        chat.messages
            .iter()
            .find(|m| m.from_bot && m.id == message_id)
            .map(|m| state.sent_message(chat_id, m))
    }

    /// Waits until the bot has sent at least `count` messages to the chat (deleted ones
    /// count), and returns them all.
    ///
    /// # Errors
    /// [`SandboxTelegramError::Timeout`] when `timeout` passes first.
    pub async fn wait_for_messages(
        &self,
        chat_id: i64,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<SentMessage>, SandboxTelegramError> {
        self.shared
            .wait_until(
                timeout,
                || format!("{count} bot message(s) in chat {chat_id}"),
                |state| {
                    let chat = state.chats.get(&chat_id)?;
                    let sent: Vec<_> = chat
                        .messages
                        .iter()
                        .filter(|m| m.from_bot)
                        .map(|m| state.sent_message(chat_id, m))
                        .collect();
                    (sent.len() >= count).then_some(sent)
                },
            )
            .await
    }

    /// Every `answerCallbackQuery` the bot made, in order.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.shared.lock().answers.clone()
    }

    /// Waits until the bot has answered at least `count` callback queries; returns them all.
    ///
    /// # Errors
    /// [`SandboxTelegramError::Timeout`] when `timeout` passes first.
    pub async fn wait_for_callback_answers(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<CallbackAnswer>, SandboxTelegramError> {
        self.shared
            .wait_until(
                timeout,
                || format!("{count} callback answer(s)"),
                |state| (state.answers.len() >= count).then(|| state.answers.clone()),
            )
            .await
    }

    /// Waits until no update is left to deliver: confirmed by `getUpdates` or accepted
    /// (or given up on) by the webhook.
    ///
    /// # Errors
    /// [`SandboxTelegramError::Timeout`] when `timeout` passes first.
    pub async fn wait_for_updates_consumed(
        &self,
        timeout: Duration,
    ) -> Result<(), SandboxTelegramError> {
        self.shared
            .wait_until(
                timeout,
                || "all updates consumed".to_owned(),
                |state| state.updates.is_empty().then_some(()),
            )
            .await
    }

    /// The `sendChatAction` actions the bot sent to the chat (`typing`, ...), in order.
    pub fn chat_actions(&self, chat_id: i64) -> Vec<String> {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .map_or_else(Vec::new, |c| c.actions.clone())
    }

    /// A file the sandbox holds, by `file_id`.
    pub fn file(&self, file_id: &str) -> Option<SentFile> {
        self.shared.lock().sent_file(file_id)
    }

    /// Updates queued and not yet confirmed or delivered.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// The webhook the bot set, if any.
    pub fn webhook_url(&self) -> Option<Url> {
        self.shared.lock().webhook.as_ref().map(|w| w.url.clone())
    }

    /// Every webhook delivery attempt, in order.
    pub fn webhook_attempts(&self) -> Vec<WebhookAttempt> {
        self.shared.lock().webhook_attempts.clone()
    }

    /// Makes the customer block the bot: sends to the chat fail with 403
    /// "Forbidden: bot was blocked by the user" (teloxide's `ApiError::BotBlocked`).
    pub fn block_bot(&self, chat_id: i64) {
        self.set_blocked(chat_id, true);
    }

    /// Undoes [`block_bot`](Self::block_bot).
    pub fn unblock_bot(&self, chat_id: i64) {
        self.set_blocked(chat_id, false);
    }

    fn set_blocked(&self, chat_id: i64, blocked: bool) {
        self.shared.modify(|state| {
            if let Some(chat) = state.chats.get_mut(&chat_id) {
                chat.blocked = blocked;
            }
        });
    }

    /// Makes the next `sends` send/upload calls fail with 429 "Too Many Requests" and
    /// `parameters.retry_after` (teloxide's `RequestError::RetryAfter`). Zero clears it.
    pub fn rate_limit(&self, sends: u32, retry_after_secs: u32) {
        self.shared.modify(|state| {
            state.rate_limit = (sends > 0).then_some(RateLimit {
                remaining: sends,
                retry_after: retry_after_secs,
            });
        });
    }

    /// Stops serving: open long polls return empty, webhook delivery stops.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for SandboxTelegram {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}
