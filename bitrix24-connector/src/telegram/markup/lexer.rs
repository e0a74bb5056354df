//! Tokenizer for the BB-code dialect of Bitrix24 messages.
//!
//! Only tags the converter understands become tag tokens; anything else that looks like a tag stays
//! text, so an unknown `[tag]` is shown to the customer exactly as the operator typed it.

/// Longest tag we try to recognise, in bytes. Real tags are short; the cap keeps a stray `[` in a
/// long message from making tokenizing quadratic.
const MAX_TAG_LEN: usize = 2048;

/// Bitrix24 marks a quote block with a run of exactly this many dashes before and after it
/// (`im` module, `-{54}` in its text parser).
pub(super) const QUOTE_FENCE_LEN: usize = 54;

/// The tags of the Bitrix24 chat dialect that the converter knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Bold,
    Italic,
    Underline,
    Strike,
    Url,
    Img,
    Quote,
    Code,
    User,
    Chat,
    Send,
    Put,
    Call,
    Pch,
    Dialog,
    Context,
    Icon,
    Size,
    Color,
    Font,
    Left,
    Center,
    Right,
    Justify,
    List,
    Item,
    Br,
    Disk,
    Attach,
    Rating,
    /// Not a BB-code tag: the dashed quote block, so its two fences pair like a tag.
    QuoteFence,
}

/// What a tag accepts after its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrRule {
    /// `[b]` only.
    Never,
    /// `[url]` or `[url=…]`.
    OptionalValue,
    /// `[user=…]` only.
    RequiredValue,
    /// Anything: `[img]`, `[img=…]`, `[img width=…]`.
    Any,
}

impl Tag {
    fn from_name(name: &str) -> Option<Self> {
        let tag = match name.to_ascii_lowercase().as_str() {
            "b" => Self::Bold,
            "i" => Self::Italic,
            "u" => Self::Underline,
            "s" => Self::Strike,
            "url" => Self::Url,
            "img" => Self::Img,
            "quote" => Self::Quote,
            "code" => Self::Code,
            "user" => Self::User,
            "chat" => Self::Chat,
            "send" => Self::Send,
            "put" => Self::Put,
            "call" => Self::Call,
            "pch" => Self::Pch,
            "dialog" => Self::Dialog,
            "context" => Self::Context,
            "icon" => Self::Icon,
            "size" => Self::Size,
            "color" => Self::Color,
            "font" => Self::Font,
            "left" => Self::Left,
            "center" => Self::Center,
            "right" => Self::Right,
            "justify" => Self::Justify,
            "list" => Self::List,
            "*" => Self::Item,
            "br" => Self::Br,
            "disk" => Self::Disk,
            "attach" => Self::Attach,
            "rating" => Self::Rating,
            _ => return None,
        };
        Some(tag)
    }

    fn attr_rule(self) -> AttrRule {
        match self {
            Self::Bold
            | Self::Italic
            | Self::Underline
            | Self::Strike
            | Self::Quote
            | Self::Code
            | Self::Left
            | Self::Center
            | Self::Right
            | Self::Justify
            | Self::Item
            | Self::Br
            | Self::QuoteFence => AttrRule::Never,
            Self::Url | Self::List | Self::Send | Self::Put | Self::Call => AttrRule::OptionalValue,
            Self::User
            | Self::Chat
            | Self::Pch
            | Self::Dialog
            | Self::Context
            | Self::Icon
            | Self::Size
            | Self::Color
            | Self::Font
            | Self::Disk
            | Self::Attach
            | Self::Rating => AttrRule::RequiredValue,
            Self::Img => AttrRule::Any,
        }
    }

    /// Tags that never have a closing tag; a `[/br]` is therefore not a tag but text.
    fn is_void(self) -> bool {
        matches!(
            self,
            Self::Br | Self::Item | Self::Icon | Self::Disk | Self::Attach | Self::Rating
        )
    }
}

/// One bracketed tag as written, before deciding whether the converter knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawTag<'a> {
    /// Byte offset just past the closing `]`.
    pub(super) end: usize,
    pub(super) closing: bool,
    pub(super) tag: Tag,
    /// The value after `=` (`[url=VALUE]`), or the attributes after a space (`[img width=1]`).
    pub(super) attr: Option<&'a str>,
}

/// Reads a known, well-formed tag starting at `start` (which must hold `[`).
pub(super) fn parse_tag_at(text: &str, start: usize) -> Option<RawTag<'_>> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    if bytes.get(i) == Some(&b'*') {
        i += 1;
    } else {
        while bytes.get(i).is_some_and(u8::is_ascii_alphanumeric) {
            i += 1;
        }
    }
    let tag = Tag::from_name(text.get(name_start..i)?)?;
    let (attr, spaced) = match bytes.get(i)? {
        b']' => (None, false),
        sep @ (b'=' | b' ') => {
            let value_start = i + 1;
            let limit = text.len().min(start + MAX_TAG_LEN);
            let close = bytes[value_start..limit]
                .iter()
                .position(|&b| matches!(b, b']' | b'[' | b'\n' | b'\r'))
                .map(|offset| value_start + offset)?;
            if bytes[close] != b']' {
                return None;
            }
            i = close;
            (text.get(value_start..close), *sep == b' ')
        }
        _ => return None,
    };
    let attr_ok = match (tag.attr_rule(), attr) {
        _ if closing => attr.is_none() && !tag.is_void(),
        (AttrRule::Never | AttrRule::OptionalValue, None) | (AttrRule::Any, _) => true,
        (AttrRule::OptionalValue | AttrRule::RequiredValue, Some(value)) => {
            !spaced && !value.trim().is_empty()
        }
        _ => false,
    };
    attr_ok.then_some(RawTag {
        end: i + 1,
        closing,
        tag,
        attr,
    })
}

/// A piece of a Bitrix24 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// Plain text, no line breaks.
    Text(&'a str),
    /// `\n`, `\r\n`, `[br]` or Bitrix's internal `#BR#`.
    Newline,
    Open {
        tag: Tag,
        attr: Option<&'a str>,
    },
    Close(Tag),
    /// The verbatim content of `[code]…[/code]`: Bitrix shows tags inside it literally.
    Code(&'a str),
    /// A run of at least [`QUOTE_FENCE_LEN`] dashes.
    Fence(&'a str),
}

/// Splits a message into tokens. Never fails: whatever is not markup is text.
pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    // Every delimiter is ASCII and UTF-8 continuation bytes are never ASCII, so byte offsets where
    // a delimiter is found are always char boundaries.
    while i < bytes.len() {
        let (token, next) = match bytes[i] {
            b'[' => match parse_tag_at(text, i) {
                Some(raw) if raw.tag == Tag::Code && !raw.closing => {
                    let Some((inner_end, after)) = find_code_end(text, raw.end) else {
                        // Bitrix only treats [code] as code when it is closed.
                        i += 1;
                        continue;
                    };
                    (Token::Code(&text[raw.end..inner_end]), after)
                }
                Some(raw) if raw.tag == Tag::Br => (Token::Newline, raw.end),
                Some(raw) if raw.closing => (Token::Close(raw.tag), raw.end),
                Some(raw) => (
                    Token::Open {
                        tag: raw.tag,
                        attr: raw.attr,
                    },
                    raw.end,
                ),
                None => {
                    i += 1;
                    continue;
                }
            },
            b'#' if text[i..].starts_with("#BR#") => (Token::Newline, i + 4),
            b'\n' => (Token::Newline, i + 1),
            b'\r' => {
                let next = if bytes.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                (Token::Newline, next)
            }
            b'-' => {
                let run = bytes[i..].iter().take_while(|&&b| b == b'-').count();
                if run < QUOTE_FENCE_LEN {
                    i += run;
                    continue;
                }
                (Token::Fence(&text[i..i + run]), i + run)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        if text_start < i {
            tokens.push(Token::Text(&text[text_start..i]));
        }
        tokens.push(token);
        i = next;
        text_start = next;
    }
    if text_start < text.len() {
        tokens.push(Token::Text(&text[text_start..]));
    }
    tokens
}

/// Finds the `[/code]` closing a code block whose content starts at `from`: returns the end of
/// the content and the offset after the closing tag.
fn find_code_end(text: &str, from: usize) -> Option<(usize, usize)> {
    const CLOSER: &[u8] = b"[/code]";
    let bytes = text.as_bytes();
    (from..bytes.len())
        .find(|&j| {
            bytes
                .get(j..j + CLOSER.len())
                .is_some_and(|window| window.eq_ignore_ascii_case(CLOSER))
        })
        .map(|j| (j, j + CLOSER.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_case_insensitive_and_need_the_right_attributes() {
        assert_eq!(
            tokenize("[B]x[/b]"),
            vec![
                Token::Open {
                    tag: Tag::Bold,
                    attr: None
                },
                Token::Text("x"),
                Token::Close(Tag::Bold)
            ]
        );
        assert_eq!(tokenize("[b=1]x"), vec![Token::Text("[b=1]x")]);
        assert_eq!(tokenize("[user]x"), vec![Token::Text("[user]x")]);
        assert_eq!(tokenize("[url=]x"), vec![Token::Text("[url=]x")]);
        assert_eq!(tokenize("[/br]"), vec![Token::Text("[/br]")]);
        assert_eq!(tokenize("[/b=1]"), vec![Token::Text("[/b=1]")]);
        assert_eq!(tokenize("[bold]"), vec![Token::Text("[bold]")]);
        assert_eq!(
            tokenize("[USER=5 REPLACE]"),
            vec![Token::Open {
                tag: Tag::User,
                attr: Some("5 REPLACE")
            }]
        );
    }

    #[test]
    fn line_breaks_in_every_spelling() {
        assert_eq!(
            tokenize("a\r\nb\rc[br]d[BR]e#BR#f"),
            vec![
                Token::Text("a"),
                Token::Newline,
                Token::Text("b"),
                Token::Newline,
                Token::Text("c"),
                Token::Newline,
                Token::Text("d"),
                Token::Newline,
                Token::Text("e"),
                Token::Newline,
                Token::Text("f"),
            ]
        );
    }

    #[test]
    fn code_is_verbatim_and_needs_a_closer() {
        assert_eq!(
            tokenize("[code][b]x[/b][/CODE]y"),
            vec![Token::Code("[b]x[/b]"), Token::Text("y")]
        );
        assert_eq!(tokenize("[code]x"), vec![Token::Text("[code]x")]);
    }

    #[test]
    fn fences_need_54_dashes() {
        let fence = "-".repeat(54);
        assert_eq!(
            tokenize(&"-".repeat(53)),
            vec![Token::Text(&"-".repeat(53))]
        );
        assert_eq!(
            tokenize(&format!("a{fence}b")),
            vec![Token::Text("a"), Token::Fence(&fence), Token::Text("b")]
        );
    }

    #[test]
    fn a_tag_cannot_span_lines_or_contain_brackets() {
        assert_eq!(
            tokenize("[url=a\nb]"),
            vec![Token::Text("[url=a"), Token::Newline, Token::Text("b]")]
        );
        assert_eq!(
            tokenize("[url=a[b]"),
            vec![
                Token::Text("[url=a"),
                Token::Open {
                    tag: Tag::Bold,
                    attr: None
                }
            ]
        );
    }
}
