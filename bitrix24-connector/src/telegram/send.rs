//! Sending to Telegram, with every failure sorted into what the caller's outbox should do
//! about it ([`SendFailure`]).
//!
//! The sender does not retry, except once inline for a short flood wait (at most
//! [`INLINE_RETRY_AFTER`]): longer waits, network trouble and 5xx go back to the caller, whose
//! durable outbox reschedules the message.
//!
//! Messages of several parts (a long text, a file with a long caption) are sent part by part;
//! when a later part fails, the earlier ones are already in the chat and a retry of the whole
//! sends them again.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use teloxide_core::payloads::{
    AnswerCallbackQuerySetters, EditMessageTextSetters, SendAudioSetters, SendDocumentSetters,
    SendMessageSetters, SendPhotoSetters, SendVideoSetters, SendVoiceSetters,
};
use teloxide_core::requests::{Request, Requester};
use teloxide_core::types::{
    CallbackQueryId, ChatId, InlineKeyboardMarkup, InputFile, Message, MessageId, ParseMode,
    ReplyParameters,
};
use teloxide_core::{ApiError, Bot, RequestError};

use super::markup::{
    TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT, split_telegram_html, visible_len_utf16,
};

/// The longest flood wait the sender sits out itself before trying once more.
pub const INLINE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The largest photo `sendPhoto` takes; bigger images go as documents.
const PHOTO_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Why a send did not happen, by what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFailure {
    /// Flood limit: try again after this long.
    RetryAfter(Duration),
    /// The chat is gone for the bot: the user blocked it or was deactivated, the chat does not
    /// exist, the bot was kicked. Retrying will not help until the user comes back.
    Blocked,
    /// Telegram refused the request itself (400): retrying the same request will not help.
    Permanent(String),
    /// Network trouble, a 5xx, an unreadable reply, a refused token: worth retrying later.
    Transient(String),
}

impl fmt::Display for SendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RetryAfter(wait) => write!(f, "Telegram flood limit: retry after {wait:?}"),
            Self::Blocked => f.write_str("the chat is unreachable: the bot was blocked or removed"),
            Self::Permanent(reason) => write!(f, "Telegram refused the request: {reason}"),
            Self::Transient(reason) => write!(f, "Telegram is unreachable: {reason}"),
        }
    }
}

impl std::error::Error for SendFailure {}

impl From<RequestError> for SendFailure {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::RetryAfter(wait) => Self::RetryAfter(wait.duration()),
            RequestError::Api(api) => classify_api(api),
            RequestError::MigrateToChatId(_) => {
                Self::Permanent("the group became a supergroup with a new id".into())
            }
            // Network errors come without the URL (teloxide strips it): no token in the text.
            RequestError::Network(_) | RequestError::InvalidJson { .. } | RequestError::Io(_) => {
                Self::Transient(error.to_string())
            }
        }
    }
}

fn classify_api(error: ApiError) -> SendFailure {
    match error {
        ApiError::BotBlocked
        | ApiError::UserDeactivated
        | ApiError::ChatNotFound
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel
        | ApiError::CantInitiateConversation
        | ApiError::CantTalkWithBots
        | ApiError::GroupDeactivated => SendFailure::Blocked,
        // A revoked token is the operator's to fix; the messages must wait, not be dropped.
        ApiError::InvalidToken => SendFailure::Transient(error.to_string()),
        ApiError::Unknown(description) => {
            // teloxide keeps only the description; Telegram starts it with the status text.
            if description.starts_with("Forbidden") {
                SendFailure::Blocked
            } else if description.starts_with("Bad Request") {
                SendFailure::Permanent(description)
            } else {
                SendFailure::Transient(description)
            }
        }
        other => SendFailure::Permanent(other.to_string()),
    }
}

/// Whether Telegram refused an image as a photo, which it would take as a document.
fn photo_refused(error: &RequestError) -> bool {
    match error {
        RequestError::Api(ApiError::ImageProcessFailed | ApiError::RequestEntityTooLarge) => true,
        RequestError::Api(ApiError::Unknown(description)) => [
            "PHOTO_INVALID_DIMENSIONS",
            "PHOTO_SAVE_FILE_INVALID",
            "PHOTO_EXT_INVALID",
            "IMAGE_PROCESS_FAILED",
            "too big",
        ]
        .iter()
        .any(|marker| description.contains(marker)),
        _ => false,
    }
}

/// How a file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// `sendPhoto`, falling back to `sendDocument` when Telegram refuses the image.
    Photo,
    /// `sendDocument`.
    Document,
    /// `sendVoice` (OGG/Opus).
    Voice,
    /// `sendAudio`.
    Audio,
    /// `sendVideo`.
    Video,
}

/// Sends messages and files to Telegram and classifies failures.
#[derive(Clone)]
pub struct TelegramSender {
    bot: Bot,
}

impl fmt::Debug for TelegramSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bot's own Debug prints the token.
        f.debug_struct("TelegramSender")
            .field("api_url", &self.bot.api_url().as_str())
            .finish_non_exhaustive()
    }
}

impl TelegramSender {
    /// A sender through `bot`.
    pub fn new(bot: Bot) -> Self {
        Self { bot }
    }

    /// The bot, for requests this sender does not cover.
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// Sends HTML (`parse_mode=HTML`), split into parts of at most 4096 visible characters
    /// ([`split_telegram_html`]). The first part replies to `reply_to` (still sent when that
    /// message is gone), the last carries `keyboard`. Returns the parts' ids in order.
    ///
    /// # Errors
    /// The first part's failure, classified; [`SendFailure::Permanent`] for an empty text.
    pub async fn send_html(
        &self,
        chat: ChatId,
        html: &str,
        reply_to: Option<MessageId>,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<Vec<MessageId>, SendFailure> {
        let parts = split_telegram_html(html, TELEGRAM_TEXT_LIMIT);
        if parts.is_empty() || parts.iter().all(|p| visible_len_utf16(p) == 0) {
            return Err(SendFailure::Permanent("the message text is empty".into()));
        }
        let last = parts.len() - 1;
        let mut sent = Vec::with_capacity(parts.len());
        let mut keyboard = keyboard;
        for (index, part) in parts.into_iter().enumerate() {
            let mut request = self
                .bot
                .send_message(chat, part)
                .parse_mode(ParseMode::Html);
            if index == 0
                && let Some(id) = reply_to
            {
                request = request
                    .reply_parameters(ReplyParameters::new(id).allow_sending_without_reply());
            }
            if index == last
                && let Some(keyboard) = keyboard.take()
            {
                request = request.reply_markup(keyboard);
            }
            let message = send_with_short_wait(&request).await?;
            sent.push(message.id);
        }
        Ok(sent)
    }

    /// Sends a file as `kind`, named `name`, with an HTML caption. A caption longer than 1024
    /// visible characters goes as a text message right after the file instead. A photo Telegram
    /// refuses (dimensions, size, format) is sent as a document. Returns the file message's id.
    ///
    /// # Errors
    /// The file's or the overflowing caption's failure, classified.
    pub async fn send_file(
        &self,
        chat: ChatId,
        kind: FileKind,
        name: &str,
        bytes: Bytes,
        caption_html: Option<&str>,
    ) -> Result<MessageId, SendFailure> {
        let caption = caption_html.filter(|c| visible_len_utf16(c) > 0);
        let (inline_caption, separate) = match caption {
            Some(c) if visible_len_utf16(c) > TELEGRAM_CAPTION_LIMIT => (None, Some(c)),
            other => (other, None),
        };
        let file = InputFile::memory(bytes.clone()).file_name(name.to_owned());
        let message = match kind {
            FileKind::Photo if bytes.len() <= PHOTO_MAX_BYTES => {
                let mut request = self.bot.send_photo(chat, file);
                if let Some(c) = inline_caption {
                    request = request.caption(c).parse_mode(ParseMode::Html);
                }
                match send_once_or_after_short_wait(&request).await {
                    Err(error) if photo_refused(&error) => {
                        tracing::info!(%error, "Telegram refused a photo; sending it as a document");
                        self.send_document(chat, name, bytes, inline_caption)
                            .await?
                    }
                    other => other?,
                }
            }
            FileKind::Photo | FileKind::Document => {
                self.send_document(chat, name, bytes, inline_caption)
                    .await?
            }
            FileKind::Voice => {
                let mut request = self.bot.send_voice(chat, file);
                if let Some(c) = inline_caption {
                    request = request.caption(c).parse_mode(ParseMode::Html);
                }
                send_with_short_wait(&request).await?
            }
            FileKind::Audio => {
                let mut request = self.bot.send_audio(chat, file);
                if let Some(c) = inline_caption {
                    request = request.caption(c).parse_mode(ParseMode::Html);
                }
                send_with_short_wait(&request).await?
            }
            FileKind::Video => {
                let mut request = self.bot.send_video(chat, file);
                if let Some(c) = inline_caption {
                    request = request.caption(c).parse_mode(ParseMode::Html);
                }
                send_with_short_wait(&request).await?
            }
        };
        if let Some(caption) = separate {
            self.send_html(chat, caption, Some(message.id), None)
                .await?;
        }
        Ok(message.id)
    }

    async fn send_document(
        &self,
        chat: ChatId,
        name: &str,
        bytes: Bytes,
        caption: Option<&str>,
    ) -> Result<Message, SendFailure> {
        let file = InputFile::memory(bytes).file_name(name.to_owned());
        let mut request = self.bot.send_document(chat, file);
        if let Some(c) = caption {
            request = request.caption(c).parse_mode(ParseMode::Html);
        }
        send_with_short_wait(&request).await
    }

    /// Replaces a text message's HTML and keyboard (no keyboard removes it). An unchanged text
    /// and keyboard count as success. An edit cannot grow into several messages: text past
    /// 4096 visible characters is cut at a part boundary.
    ///
    /// # Errors
    /// The failure, classified; [`SendFailure::Permanent`] for an empty text.
    pub async fn edit_html(
        &self,
        chat: ChatId,
        message: MessageId,
        html: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<(), SendFailure> {
        let mut parts = split_telegram_html(html, TELEGRAM_TEXT_LIMIT).into_iter();
        let Some(text) = parts.next().filter(|p| visible_len_utf16(p) > 0) else {
            return Err(SendFailure::Permanent("the message text is empty".into()));
        };
        if parts.next().is_some() {
            tracing::warn!("an edited Telegram message was cut to 4096 characters");
        }
        let mut request = self
            .bot
            .edit_message_text(chat, message, text)
            .parse_mode(ParseMode::Html);
        if let Some(keyboard) = keyboard {
            request = request.reply_markup(keyboard);
        }
        match send_once_or_after_short_wait(&request).await {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a message. One already deleted counts as success.
    ///
    /// # Errors
    /// The failure, classified (a message too old to delete is [`SendFailure::Permanent`]).
    pub async fn delete(&self, chat: ChatId, message: MessageId) -> Result<(), SendFailure> {
        let request = self.bot.delete_message(chat, message);
        match send_once_or_after_short_wait(&request).await {
            Ok(_) | Err(RequestError::Api(ApiError::MessageToDeleteNotFound)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Answers a button press (stops the button's spinner), with an optional notice.
    ///
    /// # Errors
    /// The failure, classified (an expired query is [`SendFailure::Permanent`]).
    pub async fn answer_callback(&self, id: &str, text: Option<&str>) -> Result<(), SendFailure> {
        let mut request = self
            .bot
            .answer_callback_query(CallbackQueryId(id.to_owned()));
        if let Some(text) = text {
            request = request.text(text);
        }
        send_once_or_after_short_wait(&request).await?;
        Ok(())
    }
}

async fn send_with_short_wait<R>(request: &R) -> Result<Message, SendFailure>
where
    R: Request<Err = RequestError>,
    R::Payload: teloxide_core::requests::Payload<Output = Message>,
{
    Ok(send_once_or_after_short_wait(request).await?)
}

/// Sends; after a flood wait of at most [`INLINE_RETRY_AFTER`], sends once more.
async fn send_once_or_after_short_wait<R>(
    request: &R,
) -> Result<<R::Payload as teloxide_core::requests::Payload>::Output, RequestError>
where
    R: Request<Err = RequestError>,
{
    match request.send_ref().await {
        Err(RequestError::RetryAfter(wait)) if wait.duration() <= INLINE_RETRY_AFTER => {
            tokio::time::sleep(wait.duration()).await;
            request.send_ref().await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use teloxide_core::types::Seconds;

    use super::*;

    #[test]
    fn failures_are_sorted_by_what_to_do_next() {
        let api = |e: ApiError| SendFailure::from(RequestError::Api(e));
        assert_eq!(api(ApiError::BotBlocked), SendFailure::Blocked);
        assert_eq!(api(ApiError::UserDeactivated), SendFailure::Blocked);
        assert_eq!(api(ApiError::ChatNotFound), SendFailure::Blocked);
        assert_eq!(
            api(ApiError::Unknown("Forbidden: bot is not a member".into())),
            SendFailure::Blocked
        );
        assert!(matches!(
            api(ApiError::MessageIsTooLong),
            SendFailure::Permanent(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown("Bad Request: something".into())),
            SendFailure::Permanent(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown("Internal Server Error".into())),
            SendFailure::Transient(_)
        ));
        assert!(matches!(
            api(ApiError::InvalidToken),
            SendFailure::Transient(_)
        ));
        assert_eq!(
            SendFailure::from(RequestError::RetryAfter(Seconds::from_seconds(30))),
            SendFailure::RetryAfter(Duration::from_secs(30))
        );
    }

    #[test]
    fn refused_photos_are_recognised() {
        let api = |d: &str| RequestError::Api(ApiError::Unknown(d.into()));
        assert!(photo_refused(&api("Bad Request: PHOTO_INVALID_DIMENSIONS")));
        assert!(photo_refused(&RequestError::Api(
            ApiError::ImageProcessFailed
        )));
        assert!(!photo_refused(&api("Bad Request: chat not found")));
        assert!(!photo_refused(&RequestError::Api(ApiError::BotBlocked)));
    }
}
