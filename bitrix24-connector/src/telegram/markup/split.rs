//! Measuring and splitting Telegram HTML.
//!
//! Telegram limits a message to 4096 and a caption to 1024 characters *after* entity parsing,
//! counted in UTF-16 code units: tags are free, `&amp;` is one unit, an emoji outside the Basic
//! Multilingual Plane is two.

/// One indivisible piece of Telegram HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item<'a> {
    Open {
        name: &'a str,
        raw: &'a str,
    },
    Close {
        name: &'a str,
        raw: &'a str,
    },
    /// One visible character, written as itself or as an entity.
    Char {
        raw: &'a str,
        ch: char,
    },
}

impl Item<'_> {
    fn units(&self) -> usize {
        match self {
            Item::Char { ch, .. } => ch.len_utf16(),
            Item::Open { .. } | Item::Close { .. } => 0,
        }
    }

    fn is_whitespace(&self) -> bool {
        matches!(self, Item::Char { ch, .. } if ch.is_whitespace())
    }

    fn is_tag(&self) -> bool {
        !matches!(self, Item::Char { .. })
    }
}

/// Splits HTML into tags and visible characters. Malformed markup (a `<` without `>`, an unknown
/// entity) is taken as literal characters rather than rejected: measuring must not fail.
fn scan(html: &str) -> Vec<Item<'_>> {
    let mut items = Vec::with_capacity(html.len());
    let mut i = 0;
    while let Some(c) = html[i..].chars().next() {
        let item = match c {
            '<' => tag_at(html, i),
            '&' => entity_at(html, i),
            _ => None,
        }
        .unwrap_or(Item::Char {
            raw: &html[i..i + c.len_utf8()],
            ch: c,
        });
        i += match item {
            Item::Open { raw, .. } | Item::Close { raw, .. } | Item::Char { raw, .. } => raw.len(),
        };
        items.push(item);
    }
    items
}

fn tag_at(html: &str, start: usize) -> Option<Item<'_>> {
    let mut quote = None;
    let len = html[start..].char_indices().find_map(|(offset, c)| {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if q == c => quote = None,
            (None, '>') => return Some(offset + 1),
            _ => {}
        }
        None
    })?;
    let raw = &html[start..start + len];
    let inner = &raw[1..raw.len() - 1];
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(name) => (true, name),
        None => (false, inner),
    };
    let name_len = inner
        .find(|c: char| c.is_whitespace() || c == '/')
        .unwrap_or(inner.len());
    let name = &inner[..name_len];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    Some(if closing {
        Item::Close { name, raw }
    } else {
        Item::Open { name, raw }
    })
}

fn entity_at(html: &str, start: usize) -> Option<Item<'_>> {
    // The longest entity Telegram knows is `&#1114111;` / `&#x10FFFF;`.
    let end = html[start..]
        .char_indices()
        .take(12)
        .find(|&(_, c)| c == ';')?
        .0;
    let raw = &html[start..=start + end];
    let body = &raw[1..raw.len() - 1];
    let ch = match body {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        _ => {
            let number = body.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some(Item::Char { raw, ch })
}

/// Length of the text Telegram shows for `html`, in UTF-16 code units — the unit of
/// [`TELEGRAM_TEXT_LIMIT`](super::TELEGRAM_TEXT_LIMIT) and
/// [`TELEGRAM_CAPTION_LIMIT`](super::TELEGRAM_CAPTION_LIMIT).
///
/// Tags count zero, an entity counts as the character it stands for.
///
/// # Examples
///
/// ```
/// use bitrix24_connector::telegram::markup::visible_len_utf16;
///
/// assert_eq!(visible_len_utf16("<b>Hi</b> &amp; 😀"), 7); // the emoji is 2
/// assert_eq!(visible_len_utf16("Привет"), 6);
/// ```
pub fn visible_len_utf16(html: &str) -> usize {
    scan(html).iter().map(Item::units).sum()
}

/// Where a part may end, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    Paragraph,
    Line,
    Space,
}

/// A chosen split: the current part keeps `items[..boundary]`, whitespace characters in
/// `dropped` are written to neither part.
#[derive(Debug)]
struct Cut {
    boundary: usize,
    dropped: std::ops::Range<usize>,
}

/// Splits Telegram HTML into messages whose visible text is at most `limit` UTF-16 code units
/// each (see [`visible_len_utf16`]).
///
/// Each part is valid HTML on its own: tags open at a split are closed at the end of the part and
/// opened again at the start of the next, so a bold phrase or a link cut in two stays bold or a
/// link in both messages. Tags and entities are never cut.
///
/// A part ends, in order of preference, at a paragraph break (an empty line), a line break, or a
/// space — the last one in the part, as long as the part is at least half full; otherwise at the
/// last break of any kind; and only when the text has no break at all, in the middle of a word.
/// The whitespace at a split point is dropped. Input that fits is returned unchanged as one part;
/// input without visible text (empty, only whitespace or only tags) gives no parts, since
/// Telegram refuses empty messages. A `limit` below 2 is raised to 2, the size of one emoji.
///
/// The input is expected to be valid Telegram HTML, such as the output of
/// [`bbcode_to_telegram_html`](super::bbcode_to_telegram_html); anything else is split as well as
/// possible, without panicking.
///
/// # Examples
///
/// ```
/// use bitrix24_connector::telegram::markup::split_telegram_html;
///
/// let parts = split_telegram_html("<b>one two</b> three", 8);
/// assert_eq!(parts, ["<b>one two</b>", "three"]);
///
/// let parts = split_telegram_html("<i>first paragraph\n\nsecond</i>", 20);
/// assert_eq!(parts, ["<i>first paragraph</i>", "<i>second</i>"]);
/// ```
pub fn split_telegram_html(html: &str, limit: usize) -> Vec<String> {
    if html.is_empty() {
        return Vec::new();
    }
    let limit = limit.max(2);
    let items = scan(html);
    if !items
        .iter()
        .any(|item| matches!(item, Item::Char { ch, .. } if !ch.is_whitespace()))
    {
        return Vec::new();
    }
    if items.iter().map(Item::units).sum::<usize>() <= limit {
        return vec![html.to_owned()];
    }
    let mut dropped = vec![false; items.len()];
    let mut parts = Vec::new();
    // The opening tags in force where the current part starts.
    let mut open: Vec<Item<'_>> = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let cut = choose_cut(&items, &dropped, start, limit);
        for flag in &mut dropped[cut.dropped] {
            *flag = true;
        }
        let end = cut.boundary;
        let part = render_part(&items[start..end], &dropped[start..end], &mut open);
        if !part.is_empty() {
            parts.push(part);
        }
        start = end;
    }
    parts
}

/// Finds where the part starting at `start` ends. The boundary is always past `start`.
fn choose_cut(items: &[Item<'_>], dropped: &[bool], start: usize, limit: usize) -> Cut {
    let mut units = 0;
    let mut seen_text = false;
    let mut previous_char = None;
    // Per break kind, the last candidate: (whitespace run start, units before it).
    let mut candidates: Vec<(Break, usize, usize)> = Vec::new();
    let mut overflow = None;
    for (index, item) in items.iter().enumerate().skip(start) {
        let Item::Char { ch, .. } = *item else {
            continue;
        };
        if dropped[index] {
            continue;
        }
        let item_units = item.units();
        // Whitespace is a break candidate even when it is the character that does not fit.
        if ch.is_whitespace() && seen_text {
            let kind = match (ch, previous_char) {
                ('\n', Some('\n')) => Break::Paragraph,
                ('\n', _) => Break::Line,
                _ => Break::Space,
            };
            let run_start = whitespace_run_start(items, start, index);
            let units_before = units - run_units_before(items, dropped, run_start, index);
            candidates.push((kind, run_start, units_before));
        }
        // A part takes at least one character, even one wider than the limit.
        if units + item_units > limit && units > 0 {
            overflow = Some(index);
            break;
        }
        seen_text |= !ch.is_whitespace();
        units += item_units;
        previous_char = Some(ch);
    }
    let Some(overflow) = overflow else {
        return Cut {
            boundary: items.len(),
            dropped: 0..0,
        };
    };
    let half = limit / 2;
    let chosen = [Break::Paragraph, Break::Line, Break::Space]
        .into_iter()
        .find_map(|kind| {
            candidates
                .iter()
                .rev()
                .find(|&&(k, _, before)| k == kind && before >= half)
        })
        .or_else(|| candidates.last());
    let Some(&(_, run_start, _)) = chosen else {
        // No break to use: cut before the overflowing character, leaving the tags that open right
        // before it to the next part.
        let mut boundary = overflow;
        while boundary > start + 1 && matches!(items[boundary - 1], Item::Open { .. }) {
            boundary -= 1;
        }
        return Cut {
            boundary,
            dropped: 0..0,
        };
    };
    let run_end = (run_start..items.len())
        .find(|&i| !(items[i].is_tag() || items[i].is_whitespace()))
        .unwrap_or(items.len());
    // Closing tags inside the run stay with the text they close; opening tags move on.
    let boundary = (run_start..run_end)
        .rev()
        .find(|&i| matches!(items[i], Item::Close { .. }))
        .map_or(run_start, |i| i + 1);
    Cut {
        boundary,
        dropped: run_start..run_end,
    }
}

/// The first item of the whitespace-and-tags run that ends with the whitespace at `index`.
fn whitespace_run_start(items: &[Item<'_>], start: usize, index: usize) -> usize {
    let mut run_start = index;
    while run_start > start
        && (items[run_start - 1].is_tag() || items[run_start - 1].is_whitespace())
    {
        run_start -= 1;
    }
    run_start
}

/// Units of the kept whitespace in `from..to`, to measure how full a part is without its trailing
/// whitespace.
fn run_units_before(items: &[Item<'_>], dropped: &[bool], from: usize, to: usize) -> usize {
    (from..to)
        .filter(|&i| !dropped[i])
        .map(|i| items[i].units())
        .sum()
}

/// Writes one part: the tags open at its start, its items, closers for the tags still open.
/// Updates `open` to the tags open at its end. Returns an empty string for a part with no
/// visible text.
fn render_part<'a>(items: &[Item<'a>], dropped: &[bool], open: &mut Vec<Item<'a>>) -> String {
    let mut out = String::new();
    let mut has_text = false;
    for tag in open.iter() {
        if let Item::Open { raw, .. } = tag {
            out.push_str(raw);
        }
    }
    for (item, &dropped) in items.iter().zip(dropped) {
        match *item {
            Item::Open { raw, .. } => {
                open.push(*item);
                out.push_str(raw);
            }
            Item::Close { name, raw } => {
                // Well-formed input closes the innermost tag; this also tolerates crossed tags.
                if let Some(at) = open.iter().rposition(
                    |tag| matches!(tag, Item::Open { name: open_name, .. } if open_name.eq_ignore_ascii_case(name)),
                ) {
                    open.remove(at);
                }
                out.push_str(raw);
            }
            Item::Char { raw, ch } => {
                if !dropped {
                    has_text |= !ch.is_whitespace();
                    out.push_str(raw);
                }
            }
        }
    }
    for tag in open.iter().rev() {
        if let Item::Open { name, .. } = tag {
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
    if has_text { out } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        Rng, assert_valid_telegram_html, random_bbcode, visible_text,
    };
    use super::super::{TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT, bbcode_to_telegram_html};
    use super::*;

    /// Splits and checks every promise of `split_telegram_html`.
    fn split(html: &str, limit: usize) -> Vec<String> {
        let parts = split_telegram_html(html, limit);
        check_parts(html, limit, &parts);
        parts
    }

    fn check_parts(html: &str, limit: usize, parts: &[String]) {
        for part in parts {
            assert_valid_telegram_html(part);
            let len = visible_len_utf16(part);
            assert!(
                len <= limit.max(2),
                "part of {len} > {limit}: {part:?} from {html:?}"
            );
            assert!(
                !visible_text(part).trim().is_empty(),
                "empty part {part:?} from {html:?}"
            );
        }
        // The parts' texts, in order, are the original text minus whitespace at the seams.
        let original = visible_text(html);
        let mut rest = original.as_str();
        for (n, part) in parts.iter().enumerate() {
            let text = visible_text(part);
            let text = text.trim();
            rest = rest.trim_start();
            assert!(
                rest.starts_with(text),
                "part {n} {text:?} does not continue the text at {rest:?} (from {html:?})"
            );
            rest = &rest[text.len()..];
        }
        assert!(rest.trim().is_empty(), "text lost: {rest:?} from {html:?}");
    }

    #[test]
    fn limits_are_telegrams() {
        assert_eq!(TELEGRAM_TEXT_LIMIT, 4096);
        assert_eq!(TELEGRAM_CAPTION_LIMIT, 1024);
    }

    #[test]
    fn visible_length_counts_utf16_units_of_text_only() {
        assert_eq!(visible_len_utf16(""), 0);
        assert_eq!(
            visible_len_utf16("<a href=\"https://x.ru/&amp;\">ab</a>"),
            2
        );
        assert_eq!(
            visible_len_utf16("&lt;&gt;&amp;&quot;&#128512;&#x41;"),
            4 + 2 + 1
        );
        assert_eq!(visible_len_utf16("😀"), 2);
        assert_eq!(visible_len_utf16("👋🏽"), 4);
        assert_eq!(visible_len_utf16("🇷🇺"), 4);
        assert_eq!(visible_len_utf16("Ёж"), 2);
        assert_eq!(visible_len_utf16("a\nb"), 3);
        // Not markup: counted as the characters it is.
        assert_eq!(visible_len_utf16("a < b &c"), 8);
    }

    #[test]
    fn short_and_empty_inputs() {
        assert_eq!(split("", 10), Vec::<String>::new());
        assert_eq!(split(" \n ", 10), Vec::<String>::new());
        assert_eq!(split("<b></b>", 10), Vec::<String>::new());
        assert_eq!(split("<b>hi</b>", 2), ["<b>hi</b>"]);
        assert_eq!(split("😀😀", 4), ["😀😀"]);
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_spaces() {
        assert_eq!(
            split("aaaa bbbb\ncccc\n\ndddd eeee", 20),
            ["aaaa bbbb\ncccc", "dddd eeee"]
        );
        assert_eq!(
            split("aaaa bbbb\ncccc dddd eeee", 16),
            ["aaaa bbbb", "cccc dddd eeee"]
        );
        assert_eq!(split("aaaa bbbb cccc dddd", 12), ["aaaa bbbb", "cccc dddd"]);
    }

    #[test]
    fn an_early_paragraph_break_loses_to_a_later_space() {
        // The empty line is at 2 of 20 units: cutting there would leave a nearly empty message.
        assert_eq!(
            split("ab\n\ncc dd ee ff gg hh ii jj", 20),
            ["ab\n\ncc dd ee ff gg", "hh ii jj"]
        );
    }

    #[test]
    fn hard_split_without_breaks() {
        assert_eq!(split("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(split("<b>abcdef</b>", 4), ["<b>abcd</b>", "<b>ef</b>"]);
    }

    #[test]
    fn emoji_are_never_cut_in_half() {
        assert_eq!(split("😀😀😀", 3), ["😀", "😀", "😀"]);
        assert_eq!(split("a😀b", 2), ["a", "😀", "b"]);
        // A limit of 1 cannot hold an emoji: it is raised to 2.
        assert_eq!(split("😀😀", 1), ["😀", "😀"]);
    }

    #[test]
    fn entities_and_tags_are_atomic() {
        assert_eq!(split("&amp;&amp;&amp;", 2), ["&amp;&amp;", "&amp;"]);
        assert_eq!(
            split("<a href=\"https://x.ru/?a=1&amp;b=2\">link text</a>", 5),
            [
                "<a href=\"https://x.ru/?a=1&amp;b=2\">link</a>",
                "<a href=\"https://x.ru/?a=1&amp;b=2\">text</a>"
            ]
        );
    }

    #[test]
    fn tags_are_closed_and_reopened_across_parts() {
        assert_eq!(
            split(
                "<blockquote><b>one two <i>three four</i></b></blockquote> five",
                10
            ),
            [
                "<blockquote><b>one two</b></blockquote>",
                "<blockquote><b><i>three four</i></b></blockquote>",
                "five"
            ]
        );
    }

    #[test]
    fn tags_at_a_seam_go_where_they_belong() {
        // The closer stays with "one", the opener moves with "two": no empty elements.
        assert_eq!(
            split("<b>one</b> <i>two</i>", 4),
            ["<b>one</b>", "<i>two</i>"]
        );
        assert_eq!(split("one<b>two</b>", 3), ["one", "<b>two</b>"]);
    }

    #[test]
    fn whitespace_only_tails_give_no_part() {
        assert_eq!(split("abc   \n\n  ", 3), ["abc"]);
    }

    #[test]
    fn cyrillic_and_emoji_text_at_the_real_limit() {
        let sentence = "Добрый день! Ваш заказ 👍 готов. ";
        let text = sentence.repeat(400);
        let html = bbcode_to_telegram_html(&format!("[b]Оператор:[/b][br]{text}"));
        let parts = split(&html, TELEGRAM_TEXT_LIMIT);
        assert!(parts.len() >= 3, "{}", parts.len());
        assert!(parts[0].starts_with("<b>Оператор:</b>\n"));
        let words = ["Добрый", "день!", "Ваш", "заказ", "👍", "готов."];
        for pair in parts.windows(2) {
            // Cut at spaces, never inside a word, and close to full.
            let (left, right) = (visible_text(&pair[0]), visible_text(&pair[1]));
            let last = left.split_whitespace().last().unwrap();
            let first = right.split_whitespace().next().unwrap();
            assert!(
                words.contains(&last) && words.contains(&first),
                "{last:?} | {first:?}"
            );
            assert!(visible_len_utf16(&pair[0]) > TELEGRAM_TEXT_LIMIT - 40);
        }
    }

    #[test]
    fn property_random_markup_splits_cleanly() {
        let mut rng = Rng::new(20_260_821);
        for _ in 0..3000 {
            let html = bbcode_to_telegram_html(&random_bbcode(&mut rng, 60));
            let limit = 2 + rng.below(40);
            split(&html, limit);
        }
    }

    #[test]
    fn property_long_texts_split_cleanly() {
        let mut rng = Rng::new(7);
        for _ in 0..200 {
            let html = bbcode_to_telegram_html(&random_bbcode(&mut rng, 1500));
            let limit = [TELEGRAM_CAPTION_LIMIT, 100, 333][rng.below(3)];
            let parts = split(&html, limit);
            if visible_len_utf16(&html) > limit {
                assert!(parts.len() > 1);
            }
        }
    }

    #[test]
    fn property_checker_catches_a_broken_splitter() {
        // Guards the property test itself: a splitter that forgets to close tags must fail it.
        let html = "<b>one two three</b>";
        let broken = vec!["<b>one two".to_owned(), "three</b>".to_owned()];
        let result = std::panic::catch_unwind(|| check_parts(html, 10, &broken));
        assert!(result.is_err());
        let lossy = vec!["<b>one</b>".to_owned(), "<b>three</b>".to_owned()];
        let result = std::panic::catch_unwind(|| check_parts(html, 10, &lossy));
        assert!(result.is_err());
    }
}
