//! Customer text from Telegram → Bitrix24 message text.
//!
//! Bitrix24 reads the text a connector sends (`imconnector.send.messages`) as chat BB-code, just
//! like an operator's: a customer typing `[b]` or a line of dashes would get bold text or a forged
//! quote. BB-code has no escape syntax that every Bitrix24 client honours, so the text is defused
//! with an invisible U+200B ZERO WIDTH SPACE where markup would start; the customer's text still
//! looks exactly as typed.

use super::lexer::QUOTE_FENCE_LEN;
use super::to_telegram::quote_fence;

/// U+200B ZERO WIDTH SPACE: invisible, and it stops Bitrix24 from reading a tag or a fence.
const BREAKER: char = '\u{200B}';

/// Makes plain text show literally in Bitrix24 instead of being read as BB-code.
///
/// Everything that could start markup gets an invisible zero-width space (U+200B) inserted:
/// after `[` when a tag name follows (`[b]`, `[/url]`, `[*]`, also tags this crate does not
/// convert, since Bitrix24 may know them), inside `#BR#`, and inside runs of 54 or more dashes,
/// which would otherwise open a quote block. Other text, including `[1]` or `[21.08.2026]`, is
/// unchanged.
///
/// # Examples
///
/// ```
/// use bitrix24_connector::telegram::markup::escape_bbcode;
///
/// assert_eq!(escape_bbcode("[b]not bold[/b] [1]"), "[\u{200B}b]not bold[\u{200B}/b] [1]");
/// assert_eq!(escape_bbcode("Привет :)"), "Привет :)");
/// ```
pub fn escape_bbcode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut dashes = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '-' {
            // Keep every run of dashes shorter than a fence.
            if dashes == QUOTE_FENCE_LEN - 1 {
                out.push(BREAKER);
                dashes = 0;
            }
            dashes += 1;
        } else {
            dashes = 0;
        }
        out.push(c);
        match c {
            '[' if starts_tag_name(chars.clone()) => out.push(BREAKER),
            '#' if chars.clone().take(3).eq("BR#".chars()) => out.push(BREAKER),
            _ => {}
        }
    }
    out
}

/// `true` when the text right after a `[` looks like the start of a tag: `b`, `/b`, `*`.
fn starts_tag_name(mut rest: impl Iterator<Item = char>) -> bool {
    match rest.next() {
        Some('/') => rest
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '*'),
        Some(c) => c.is_ascii_alphabetic() || c == '*',
        None => false,
    }
}

/// Builds the Bitrix24 text for a Telegram reply, keeping the replied-to message as a quote.
///
/// Bitrix24 marks a quote as a block between two lines of 54 dashes whose first line names the
/// author (the messenger writes `Author [date]`; Telegram gives no date for the quoted message, so
/// only the author is written):
///
/// ```text
/// ------------------------------------------------------
/// Author
/// quoted text
/// ------------------------------------------------------
/// reply
/// ```
///
/// All three inputs come from Telegram users, so each is passed through [`escape_bbcode`]; the
/// author and quoted text are trimmed. An empty author leaves out the author line; with neither
/// author nor quoted text there is nothing to quote and only the reply is returned.
///
/// # Examples
///
/// ```
/// use bitrix24_connector::telegram::markup::telegram_quote_to_bbcode;
///
/// let dashes = "-".repeat(54);
/// assert_eq!(
///     telegram_quote_to_bbcode("Светлана Иванова", "Ваш заказ готов", "Спасибо!"),
///     format!("{dashes}\nСветлана Иванова\nВаш заказ готов\n{dashes}\nСпасибо!"),
/// );
/// ```
pub fn telegram_quote_to_bbcode(
    quoted_author: &str,
    quoted_text: &str,
    reply_text: &str,
) -> String {
    let author = escape_bbcode(quoted_author.trim());
    let quoted = escape_bbcode(quoted_text.trim());
    let reply = escape_bbcode(reply_text);
    if author.is_empty() && quoted.is_empty() {
        return reply;
    }
    let fence = quote_fence();
    let mut out =
        String::with_capacity(2 * fence.len() + author.len() + quoted.len() + reply.len() + 4);
    out.push_str(&fence);
    out.push('\n');
    for line in [&author, &quoted] {
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&fence);
    out.push('\n');
    out.push_str(&reply);
    out
}

#[cfg(test)]
mod tests {
    use super::super::bbcode_to_telegram_html;
    use super::*;

    #[test]
    fn escaped_text_reads_back_as_the_same_plain_text() {
        for text in [
            "[b]x[/b] [url=https://x.ru]y[/url] [code]z[/code] [USER=1]u[/USER] [*] [/i]",
            "line#BR#break [br] [spoiler]s[/spoiler]",
            &"-".repeat(200),
            "a < b & c > d \"q\" 😀 Привет",
        ] {
            let escaped = escape_bbcode(text);
            // Read as Bitrix24 markup, the escaped text is the original text (only escaped for HTML).
            let shown = bbcode_to_telegram_html(&escaped).replace(BREAKER, "");
            let expected = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert_eq!(shown, expected, "{text:?}");
        }
    }

    #[test]
    fn only_tag_like_brackets_change() {
        assert_eq!(
            escape_bbcode("[1] [ b] [] [/] [21.08.2026 10:15]"),
            "[1] [ b] [] [/] [21.08.2026 10:15]"
        );
        assert_eq!(escape_bbcode("[*]"), "[\u{200B}*]");
        assert_eq!(escape_bbcode("[/*]"), "[\u{200B}/*]");
        assert_eq!(escape_bbcode("#BR# #br#"), "#\u{200B}BR# #br#");
        assert_eq!(escape_bbcode("["), "[");
    }

    #[test]
    fn dash_runs_stay_shorter_than_a_fence() {
        let escaped = escape_bbcode(&"-".repeat(120));
        assert!(
            escaped
                .split(BREAKER)
                .all(|run| run.len() < QUOTE_FENCE_LEN)
        );
        assert_eq!(escaped.replace(BREAKER, ""), "-".repeat(120));
        assert_eq!(escape_bbcode(&"-".repeat(53)), "-".repeat(53));
    }

    #[test]
    fn quote_block_has_bitrix_shape() {
        let fence = "-".repeat(54);
        assert_eq!(
            telegram_quote_to_bbcode("  Ann ", " hi\n there ", "reply"),
            format!("{fence}\nAnn\nhi\n there\n{fence}\nreply")
        );
        assert_eq!(
            telegram_quote_to_bbcode("", "hi", "r"),
            format!("{fence}\nhi\n{fence}\nr")
        );
        assert_eq!(
            telegram_quote_to_bbcode("Ann", "", "r"),
            format!("{fence}\nAnn\n{fence}\nr")
        );
        assert_eq!(telegram_quote_to_bbcode(" ", "", "[b]r"), "[\u{200B}b]r");
    }

    #[test]
    fn quote_parts_cannot_break_out_of_the_block() {
        let fence = "-".repeat(54);
        let text = telegram_quote_to_bbcode("[b]Ann", &format!("a\n{fence}\nb"), "[i]r");
        // Seen by Bitrix24: exactly one quote block with everything quoted inside it.
        assert_eq!(
            bbcode_to_telegram_html(&text).replace(BREAKER, ""),
            format!("<blockquote>[b]Ann\na\n{fence}\nb</blockquote>\n[i]r")
        );
    }
}
