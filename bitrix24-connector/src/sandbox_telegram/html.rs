//! The `HTML` parse mode: Telegram's tag subset, checked the way the Bot API checks it.
//!
//! Bots that build HTML by hand break on stray `<`, unsupported tags (`<br>`, `<p>`) and
//! mismatched nesting; Telegram rejects those messages, so the sandbox must too, or the
//! bug only shows in production.

use serde_json::{Value, json};

/// Text with the markup removed and the entities Telegram would report for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub(crate) text: String,
    pub(crate) entities: Vec<Value>,
}

struct Open {
    tag: String,
    kind: Option<Value>,
    start: usize,
}

/// Parses `source` as Bot API HTML. The error is the complete description Telegram sends.
pub(crate) fn parse(source: &str) -> Result<Parsed, String> {
    let fail = |reason: String| format!("Bad Request: can't parse entities: {reason}");
    let mut text = String::new();
    // Offsets are in UTF-16 code units, as the Bot API counts them.
    let mut utf16 = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities: Vec<(usize, Value)> = Vec::new();
    let mut order = 0usize;
    let mut rest = source;
    while let Some(c) = rest.chars().next() {
        let at = source.len() - rest.len();
        match c {
            '<' => {
                let Some(end) = rest.find('>') else {
                    return Err(fail(format!("Unclosed start tag at byte offset {at}")));
                };
                let inner = &rest[1..end];
                rest = &rest[end + 1..];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    let Some(open) = stack.pop() else {
                        return Err(fail(format!("Unexpected end tag at byte offset {at}")));
                    };
                    if open.tag != name {
                        return Err(fail(format!(
                            "Unmatched end tag at byte offset {at}, expected \"</{}>\", found \"</{name}>\"",
                            open.tag
                        )));
                    }
                    if let Some(mut kind) = open.kind
                        && utf16 > open.start
                    {
                        kind["offset"] = json!(open.start);
                        kind["length"] = json!(utf16 - open.start);
                        entities.push((order, kind));
                        order += 1;
                    }
                } else {
                    let (tag, attrs) = split_tag(inner);
                    let kind = entity_for(&tag, &attrs, &stack).ok_or_else(|| {
                        fail(format!(
                            "Unsupported start tag \"{tag}\" at byte offset {at}"
                        ))
                    })?;
                    let kind = match kind {
                        Tag::Entity(entity) => Some(entity),
                        Tag::Plain => None,
                    };
                    // `<pre><code class="language-x">`: the code tag's entity, which knows
                    // the language, takes the place of the outer pre's.
                    if tag == "code"
                        && kind.is_some()
                        && let Some(parent) = stack.last_mut().filter(|open| open.tag == "pre")
                    {
                        parent.kind = None;
                    }
                    stack.push(Open {
                        tag,
                        kind,
                        start: utf16,
                    });
                }
            }
            '&' => {
                let (decoded, used) = decode_entity(rest);
                text.push(decoded);
                utf16 += decoded.len_utf16();
                rest = &rest[used..];
            }
            _ => {
                text.push(c);
                utf16 += c.len_utf16();
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(fail(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.tag
        )));
    }
    // Telegram lists entities by start offset; an outer entity comes before the inner one.
    entities.sort_by(|(a_order, a), (b_order, b)| {
        let key = |v: &Value| v["offset"].as_u64().unwrap_or_default();
        key(a).cmp(&key(b)).then(b_order.cmp(a_order))
    });
    Ok(Parsed {
        text,
        entities: entities.into_iter().map(|(_, v)| v).collect(),
    })
}

/// Splits `name attr="v" attr2='w'` into a lowercase name and its attributes.
fn split_tag(inner: &str) -> (String, Vec<(String, String)>) {
    let inner = inner.trim();
    let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'');
            let (raw, remaining) = if let Some(q) = quote {
                let body = &after[1..];
                let close = body.find(q).unwrap_or(body.len());
                (&body[..close], body.get(close + 1..).unwrap_or(""))
            } else {
                let close = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..close], &after[close..])
            };
            value = decode_all(raw);
            rest = remaining.trim_start();
        }
        attrs.push((key, value));
    }
    (name, attrs)
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// What a supported start tag opens.
enum Tag {
    Entity(Value),
    /// Supported, but makes no entity of its own (`<a>` without `href`, `<code>` in `<pre>`).
    Plain,
}

impl From<Option<Value>> for Tag {
    fn from(entity: Option<Value>) -> Self {
        entity.map_or(Self::Plain, Self::Entity)
    }
}

/// The entity a supported tag opens; `None` if Telegram does not support the tag at all.
fn entity_for(tag: &str, attrs: &[(String, String)], stack: &[Open]) -> Option<Tag> {
    let simple = |kind: &str| Some(Tag::Entity(json!({ "type": kind })));
    match tag {
        "b" | "strong" => simple("bold"),
        "i" | "em" => simple("italic"),
        "u" | "ins" => simple("underline"),
        "s" | "strike" | "del" => simple("strikethrough"),
        "tg-spoiler" => simple("spoiler"),
        "span" if attr(attrs, "class") == Some("tg-spoiler") => simple("spoiler"),
        "blockquote" if attrs.iter().any(|(k, _)| k == "expandable") => {
            simple("expandable_blockquote")
        }
        "blockquote" => simple("blockquote"),
        "a" => Some(
            attr(attrs, "href")
                .map(|url| json!({ "type": "text_link", "url": url }))
                .into(),
        ),
        "pre" => simple("pre"),
        "code" => {
            let language = attr(attrs, "class").and_then(|c| c.strip_prefix("language-"));
            match (stack.last(), language) {
                // `<pre><code class="language-x">` is one pre entity with a language.
                (Some(Open { tag, .. }), Some(lang)) if tag == "pre" => {
                    Some(Tag::Entity(json!({ "type": "pre", "language": lang })))
                }
                (Some(Open { tag, .. }), None) if tag == "pre" => Some(Tag::Plain),
                _ => simple("code"),
            }
        }
        "tg-emoji" => Some(
            attr(attrs, "emoji-id")
                .map(|id| json!({ "type": "custom_emoji", "custom_emoji_id": id }))
                .into(),
        ),
        _ => None,
    }
}

/// Decodes one `&...;` sequence at the start of `s`; unknown ones stay literal, as in Telegram.
fn decode_entity(s: &str) -> (char, usize) {
    let Some(end) = s.find(';').filter(|end| *end <= 10) else {
        return ('&', 1);
    };
    let name = &s[1..end];
    let decoded = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => name.strip_prefix('#').and_then(|num| {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            code.and_then(char::from_u32)
        }),
    };
    match decoded {
        Some(c) => (c, end + 1),
        None => ('&', 1),
    }
}

fn decode_all(mut s: &str) -> String {
    let mut out = String::new();
    while let Some(c) = s.chars().next() {
        if c == '&' {
            let (decoded, used) = decode_entity(s);
            out.push(decoded);
            s = &s[used..];
        } else {
            out.push(c);
            s = &s[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_reports_entities_in_utf16_units() {
        let parsed = parse(
            "😀 <b>bold <i>both</i></b> &lt;x&gt; <a href=\"https://e.x/?a=1&amp;b=2\">link</a>",
        )
        .unwrap();
        assert_eq!(parsed.text, "😀 bold both <x> link");
        assert_eq!(
            parsed.entities,
            vec![
                json!({"type": "bold", "offset": 3, "length": 9}),
                json!({"type": "italic", "offset": 8, "length": 4}),
                json!({"type": "text_link", "url": "https://e.x/?a=1&b=2", "offset": 17, "length": 4}),
            ]
        );
    }

    #[test]
    fn pre_with_language_is_one_entity() {
        let parsed = parse("<pre><code class=\"language-rust\">fn x()</code></pre>").unwrap();
        assert_eq!(
            parsed.entities,
            vec![json!({"type": "pre", "language": "rust", "offset": 0, "length": 6})]
        );
    }

    #[test]
    fn rejects_what_telegram_rejects() {
        let cases = [
            ("a<br>b", "Unsupported start tag \"br\" at byte offset 1"),
            (
                "<b>x</i>",
                "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\"",
            ),
            (
                "<b>x",
                "Can't find end tag corresponding to start tag \"b\"",
            ),
            ("x</b>", "Unexpected end tag at byte offset 1"),
            ("1 < 2", "Unclosed start tag at byte offset 2"),
        ];
        for (source, reason) in cases {
            assert_eq!(
                parse(source).unwrap_err(),
                format!("Bad Request: can't parse entities: {reason}"),
                "{source}"
            );
        }
    }

    #[test]
    fn accepts_every_documented_tag() {
        let source = "<b>a</b><strong>a</strong><i>a</i><em>a</em><u>a</u><ins>a</ins><s>a</s>\
            <strike>a</strike><del>a</del><code>a</code><pre>a</pre><blockquote>a</blockquote>\
            <tg-spoiler>a</tg-spoiler><span class=\"tg-spoiler\">a</span><a href=\"http://x\">a</a>";
        let parsed = parse(source).unwrap();
        assert_eq!(parsed.text, "a".repeat(15));
        assert_eq!(parsed.entities.len(), 15);
    }
}
