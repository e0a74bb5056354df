//! Message text between Bitrix24 and Telegram.
//!
//! Operators write in Bitrix24, whose chat text is BB-code (`[b]`, `[url=…]`, a quote block between
//! lines of dashes, …); the bridge sends it to Telegram with `parse_mode=HTML`:
//!
//! - [`bbcode_to_telegram_html`] converts it, always producing valid Telegram HTML;
//! - [`split_telegram_html`] cuts the result to [`TELEGRAM_TEXT_LIMIT`] (or
//!   [`TELEGRAM_CAPTION_LIMIT`] for a caption), counted as Telegram counts, see
//!   [`visible_len_utf16`].
//!
//! Customers write plain text in Telegram; the other direction only has to keep Bitrix24 from
//! reading their text as markup ([`escape_bbcode`]) and to carry a Telegram reply's context as a
//! Bitrix24 quote ([`telegram_quote_to_bbcode`]).
//!
//! ```
//! use bitrix24_connector::telegram::markup::{
//!     TELEGRAM_TEXT_LIMIT, bbcode_to_telegram_html, split_telegram_html,
//! };
//!
//! // `data[MESSAGES][n][message][text]` of ONIMCONNECTORMESSAGEADD:
//! let html = bbcode_to_telegram_html("[b]Светлана Иванова:[/b] [br]Добрый день!");
//! for part in split_telegram_html(&html, TELEGRAM_TEXT_LIMIT) {
//!     // bot.send_message(chat, part).parse_mode(ParseMode::Html)
//!     assert_eq!(part, "<b>Светлана Иванова:</b> \nДобрый день!");
//! }
//! ```

mod lexer;
mod split;
#[cfg(test)]
mod test_support;
mod to_bitrix;
mod to_telegram;

pub use split::{split_telegram_html, visible_len_utf16};
pub use to_bitrix::{escape_bbcode, telegram_quote_to_bbcode};
pub use to_telegram::bbcode_to_telegram_html;

/// Longest message text Telegram accepts, in UTF-16 code units of visible text.
///
/// ```
/// # use bitrix24_connector::telegram::markup::{TELEGRAM_TEXT_LIMIT, split_telegram_html};
/// assert_eq!(split_telegram_html(&"a ".repeat(3000), TELEGRAM_TEXT_LIMIT).len(), 2);
/// ```
pub const TELEGRAM_TEXT_LIMIT: usize = 4096;

/// Longest media caption Telegram accepts, in UTF-16 code units of visible text.
///
/// ```
/// # use bitrix24_connector::telegram::markup::{TELEGRAM_CAPTION_LIMIT, visible_len_utf16};
/// let caption = "Счёт во вложении";
/// assert!(visible_len_utf16(caption) <= TELEGRAM_CAPTION_LIMIT);
/// ```
pub const TELEGRAM_CAPTION_LIMIT: usize = 1024;
