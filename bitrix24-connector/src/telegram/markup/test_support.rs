//! A checker for the Telegram HTML subset, written independently of the converter and the
//! splitter so the tests do not grade the code with its own logic.

/// Panics with a description when `html` is not valid Telegram HTML as this module produces it:
/// only known tags, balanced and properly nested, no link in a link, no quote in a quote, nothing
/// inside `code`/`pre`, every `&` an entity, no raw `>`.
pub(super) fn assert_valid_telegram_html(html: &str) {
    if let Err(problem) = check_telegram_html(html) {
        panic!("invalid Telegram HTML ({problem}): {html:?}");
    }
}

pub(super) fn check_telegram_html(html: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("unterminated tag")?;
                let tag = &rest[1..end];
                rest = &rest[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    let open = stack.pop().ok_or_else(|| format!("stray </{name}>"))?;
                    if open != name {
                        return Err(format!("</{name}> closes <{open}>"));
                    }
                    continue;
                }
                let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
                match name {
                    "b" | "i" | "u" | "s" | "code" | "pre" | "blockquote" if attrs.is_empty() => {}
                    "a" if attrs.starts_with("href=\"")
                        && attrs.ends_with('"')
                        && !attrs[6..attrs.len() - 1].contains('"') => {}
                    _ => return Err(format!("unexpected tag <{tag}>")),
                }
                if stack.iter().any(|open| open == "code" || open == "pre") {
                    return Err(format!("<{name}> inside code"));
                }
                if (name == "a" || name == "blockquote") && stack.iter().any(|open| open == name) {
                    return Err(format!("nested <{name}>"));
                }
                stack.push(name.to_owned());
            }
            '&' => {
                let entity_end = rest.find(';').ok_or("bare &")?;
                let entity = &rest[1..entity_end];
                let numeric = entity.strip_prefix('#').is_some_and(|digits| {
                    !digits.is_empty() && digits.chars().all(|d| d.is_ascii_digit())
                });
                if !numeric && !matches!(entity, "amp" | "lt" | "gt" | "quot") {
                    return Err(format!("bad entity &{entity};"));
                }
                rest = &rest[entity_end + 1..];
            }
            '>' => return Err("raw >".to_owned()),
            _ => rest = &rest[c.len_utf8()..],
        }
    }
    match stack.last() {
        Some(open) => Err(format!("<{open}> never closed")),
        None => Ok(()),
    }
}

/// The text a Telegram user sees: tags removed, entities decoded.
pub(super) fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            let end = rest.find('>').unwrap_or(rest.len() - 1);
            rest = &rest[end + 1..];
        } else if c == '&' {
            let end = rest.find(';').unwrap();
            text.push(match &rest[1..end] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                other => char::from_u32(other[1..].parse().unwrap()).unwrap(),
            });
            rest = &rest[end + 1..];
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    text
}

/// xorshift64*: deterministic and dependency-free, enough to generate varied test inputs.
#[derive(Debug)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound`.
    pub(super) fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).unwrap()
    }

    pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pieces random BB-code is made of: every tag, broken markup, and text in several scripts.
pub(super) const BBCODE_PIECES: &[&str] = &[
    "[b]",
    "[/b]",
    "[B]",
    "[i]",
    "[/I]",
    "[u]",
    "[/u]",
    "[s]",
    "[/S]",
    "[url=https://example.com/?a=1&b=\"2\"]",
    "[url=javascript:x]",
    "[url]",
    "[/url]",
    "https://example.com/path",
    "[img]",
    "[/img]",
    "[quote]",
    "[/quote]",
    "[code]",
    "[/code]",
    "[USER=5]",
    "[/USER]",
    "[CHAT=3]",
    "[/CHAT]",
    "[SEND=/x]",
    "[/SEND]",
    "[color=red]",
    "[/color]",
    "[list]",
    "[list=1]",
    "[*]",
    "[/list]",
    "[icon=https://x title=T]",
    "[DISK=4]",
    "------------------------------------------------------",
    "[br]",
    "\n",
    "\n\n",
    "#BR#",
    " ",
    " ",
    " ",
    "word",
    "longerword",
    "Привет",
    "мир",
    "😀",
    "👋🏽",
    "🇷🇺",
    "<script>",
    "&",
    "&amp;",
    "\"",
    ">",
    "[",
    "]",
    "[/",
    "[b=1]",
    ":)",
    "a",
    "b",
    "\t",
];

/// Random BB-code of up to `max_pieces` pieces.
pub(super) fn random_bbcode(rng: &mut Rng, max_pieces: usize) -> String {
    let pieces = rng.below(max_pieces + 1);
    (0..pieces).map(|_| rng.pick(BBCODE_PIECES)).collect()
}

#[test]
fn the_checker_rejects_broken_html() {
    for bad in [
        "<b>x",
        "x</b>",
        "<b><i>x</b></i>",
        "<script>",
        "<a>x</a>",
        "<a href=\"x\"><a href=\"y\">x</a></a>",
        "<blockquote><blockquote>x</blockquote></blockquote>",
        "<code><b>x</b></code>",
        "a & b",
        "&nbsp;",
        "a > b",
        "<b x>y</b>",
    ] {
        assert!(check_telegram_html(bad).is_err(), "{bad:?} passed");
    }
    for good in [
        "",
        "<b>x</b>",
        "<a href=\"https://x?a=1&amp;b\">x</a>",
        "&#128512; &lt;&gt;&quot;",
    ] {
        assert_eq!(check_telegram_html(good), Ok(()), "{good:?}");
    }
}
