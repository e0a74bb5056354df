//! Bitrix24 BB-code → Telegram HTML.
//!
//! The converter keeps two stacks: the BB-code elements the operator opened (the *logical*
//! stack) and the HTML tags actually written. HTML tags are opened lazily, right before text, and
//! re-synchronised with the logical stack each time. That is what makes broken input safe: a
//! stray closer just leaves the logical stack, and wrong nesting such as `[b][i]x[/b]y[/i]`
//! becomes `<b><i>x</i></b><i>y</i>` instead of crossing tags.

use super::lexer::{QUOTE_FENCE_LEN, Tag, Token, tokenize};

/// Converts Bitrix24 BB-code to Telegram HTML (`parse_mode=HTML`).
///
/// The output is always valid Telegram HTML: tags are balanced and properly nested whatever the
/// input, text is escaped, and only `http`, `https`, `tg` and `mailto` links become `<a>`.
///
/// | Bitrix24 | Telegram |
/// |---|---|
/// | `[b]` `[i]` `[u]` `[s]` (any case) | `<b>` `<i>` `<u>` `<s>` |
/// | `[url]href[/url]`, `[url=href]text[/url]`, `[img]href[/img]` | `<a href="href">…</a>`; other schemes: the text alone |
/// | `[br]`, `#BR#`, `\r\n`, `\n` | a line break |
/// | `[quote]…[/quote]`, a block between two lines of 54 dashes | `<blockquote>` |
/// | `[code]…[/code]` | `<pre>` when it spans lines, else `<code>`; its content verbatim |
/// | `[USER=5]Name[/USER]` | `<b>Name</b>` |
/// | `[CHAT=…]`, `[SEND…]`, `[PUT…]`, `[CALL…]`, `[PCH=…]`, `[DIALOG=…]`, `[CONTEXT=…]`, `[size=…]`, `[color=…]`, `[font=…]`, `[left]` `[center]` `[right]` `[justify]` | their inner text |
/// | `[list]` / `[list=1]` with `[*]` items | lines starting with `• ` / `1. ` |
/// | `[icon=… title=T]` | `(T)`; without a title nothing |
/// | `[DISK=n]`, `[ATTACH=n]`, `[RATING=n]` | nothing: files and attachments travel separately |
/// | unknown or malformed tags, smileys such as `:)` | unchanged text |
///
/// # Examples
///
/// The operator-name prefix Bitrix24 puts before every operator message:
///
/// ```
/// use bitrix24_connector::telegram::markup::bbcode_to_telegram_html;
///
/// assert_eq!(
///     bbcode_to_telegram_html("[b]Светлана Иванова:[/b] [br]Добрый день! <3"),
///     "<b>Светлана Иванова:</b> \nДобрый день! &lt;3",
/// );
/// assert_eq!(bbcode_to_telegram_html("[b][i]x[/b]"), "<b><i>x</i></b>");
/// ```
pub fn bbcode_to_telegram_html(text: &str) -> String {
    let mut tokens = tokenize(text);
    unpair_last_fence(&mut tokens);
    let mut renderer = Renderer::new(text.len());
    let mut i = 0;
    while i < tokens.len() {
        i += renderer.token(&tokens[i..]);
    }
    renderer.finish()
}

/// Dashed quote blocks come in pairs; an odd last fence is ordinary text, as in Bitrix24.
fn unpair_last_fence(tokens: &mut [Token<'_>]) {
    let fences = tokens
        .iter()
        .filter(|token| matches!(token, Token::Fence(_)))
        .count();
    if fences % 2 == 1
        && let Some(last) = tokens
            .iter_mut()
            .rev()
            .find(|token| matches!(token, Token::Fence(_)))
        && let Token::Fence(dashes) = *last
    {
        *last = Token::Text(dashes);
    }
}

/// `true` for hrefs Telegram accepts and that are safe to show as a link.
fn is_allowed_href(href: &str) -> bool {
    const SCHEMES: [&str; 4] = ["http://", "https://", "tg://", "mailto:"];
    let href = href.trim();
    let has_scheme = SCHEMES.iter().any(|scheme| {
        href.get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
            && href.len() > scheme.len()
    });
    has_scheme && !href.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
}

fn escape_attr(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            _ => escape_text(out, c.encode_utf8(&mut [0; 4])),
        }
    }
}

/// The HTML an open BB-code element stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Html {
    /// Only its content is shown (`[color]`, a nested `[quote]`, an unsafe link…).
    Transparent,
    Bold,
    Italic,
    Underline,
    Strike,
    Link(String),
    Quote,
}

impl Html {
    fn write_open(&self, out: &mut String) {
        match self {
            Self::Transparent => {}
            Self::Bold => out.push_str("<b>"),
            Self::Italic => out.push_str("<i>"),
            Self::Underline => out.push_str("<u>"),
            Self::Strike => out.push_str("<s>"),
            Self::Link(href) => {
                out.push_str("<a href=\"");
                escape_attr(out, href);
                out.push_str("\">");
            }
            Self::Quote => out.push_str("<blockquote>"),
        }
    }

    fn closer(&self) -> &'static str {
        match self {
            Self::Transparent => "",
            Self::Bold => "</b>",
            Self::Italic => "</i>",
            Self::Underline => "</u>",
            Self::Strike => "</s>",
            Self::Link(_) => "</a>",
            Self::Quote => "</blockquote>",
        }
    }
}

#[derive(Debug)]
struct Element {
    id: usize,
    tag: Tag,
    html: Html,
    /// For `[list=…]`: the number of the last item written.
    counter: Option<u32>,
}

#[derive(Debug)]
struct Renderer {
    out: String,
    logical: Vec<Element>,
    /// Ids of the logical elements whose HTML tag is open in `out`, outermost first.
    written: Vec<(usize, &'static str)>,
    next_id: usize,
    /// Line breaks not written yet: they go after closing tags that are about to close and before
    /// tags about to open, so a break next to a quote lands outside it.
    pending_newlines: usize,
    /// Swallow the next line break: block elements already stand on their own lines.
    skip_newline: bool,
    at_line_start: bool,
}

impl Renderer {
    fn new(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity + capacity / 4),
            logical: Vec::new(),
            written: Vec::new(),
            next_id: 0,
            pending_newlines: 0,
            skip_newline: false,
            at_line_start: true,
        }
    }

    /// Handles the first token of `tokens`; returns how many tokens it consumed.
    fn token(&mut self, tokens: &[Token<'_>]) -> usize {
        let Some(&token) = tokens.first() else {
            return 1;
        };
        match token {
            Token::Text(text) => self.text(text),
            Token::Newline => {
                if self.skip_newline {
                    self.skip_newline = false;
                } else {
                    self.pending_newlines += 1;
                }
            }
            Token::Code(code) => self.code(code),
            Token::Fence(_) => {
                if self.logical.iter().any(|e| e.tag == Tag::QuoteFence) {
                    self.close(Tag::QuoteFence);
                } else {
                    self.open_quote(Tag::QuoteFence);
                }
            }
            Token::Close(tag) => self.close(tag),
            Token::Open { tag, attr } => return self.open(tag, attr, &tokens[1..]),
        }
        1
    }

    fn open(&mut self, tag: Tag, attr: Option<&str>, rest: &[Token<'_>]) -> usize {
        match tag {
            Tag::Bold | Tag::User => self.push(tag, Html::Bold),
            Tag::Italic => self.push(tag, Html::Italic),
            Tag::Underline => self.push(tag, Html::Underline),
            Tag::Strike => self.push(tag, Html::Strike),
            Tag::Quote => self.open_quote(tag),
            Tag::Url | Tag::Img => return self.open_link(tag, attr, rest),
            Tag::List => {
                self.start_block();
                let ordered = attr.is_some_and(|kind| kind.trim().starts_with(|c: char| c.is_ascii_digit()));
                self.push(tag, Html::Transparent);
                if let Some(list) = self.logical.last_mut() {
                    list.counter = ordered.then_some(0);
                }
            }
            Tag::Item => self.item(),
            Tag::Icon => {
                if let Some(title) = attr.and_then(icon_title) {
                    self.text(&format!("({title})"));
                }
            }
            // Files reach the customer as attachments, not as text.
            Tag::Disk | Tag::Attach | Tag::Rating => {}
            Tag::Chat
            | Tag::Send
            | Tag::Put
            | Tag::Call
            | Tag::Pch
            | Tag::Dialog
            | Tag::Context
            | Tag::Size
            | Tag::Color
            | Tag::Font
            | Tag::Left
            | Tag::Center
            | Tag::Right
            | Tag::Justify
            // The lexer turns these into other tokens; kept here to be exhaustive.
            | Tag::Code
            | Tag::Br
            | Tag::QuoteFence => self.push(tag, Html::Transparent),
        }
        1
    }

    /// `[url]`, `[url=…]` and `[img]`. Returns the tokens consumed.
    fn open_link(&mut self, tag: Tag, attr: Option<&str>, rest: &[Token<'_>]) -> usize {
        let href = attr.filter(|_| tag == Tag::Url);
        match (href, rest) {
            // [url=href][/url]: the address is the only text there is.
            (Some(href), [Token::Close(close), ..]) if *close == tag => {
                self.link(href, href);
                2
            }
            (Some(href), _) => {
                let html = if is_allowed_href(href) && !self.in_link() {
                    Html::Link(href.trim().to_owned())
                } else {
                    Html::Transparent
                };
                self.push(tag, html);
                1
            }
            (None, [Token::Text(address), Token::Close(close), ..]) if *close == tag => {
                self.link(address, address);
                3
            }
            (None, [Token::Close(close), ..]) if *close == tag => 2,
            // [url] around markup has no usable address: keep the content.
            (None, _) => {
                self.push(tag, Html::Transparent);
                1
            }
        }
    }

    /// A complete link whose text is plain.
    fn link(&mut self, href: &str, text: &str) {
        if is_allowed_href(href) && !self.in_link() {
            self.push(Tag::Url, Html::Link(href.trim().to_owned()));
            self.text(text);
            self.close(Tag::Url);
        } else {
            self.text(text);
        }
    }

    fn in_link(&self) -> bool {
        self.logical.iter().any(|e| matches!(e.html, Html::Link(_)))
    }

    fn open_quote(&mut self, tag: Tag) {
        self.start_block();
        // Telegram rejects a blockquote inside a blockquote; the inner one shows as plain lines.
        let html = if self.logical.iter().any(|e| e.html == Html::Quote) {
            Html::Transparent
        } else {
            Html::Quote
        };
        self.push(tag, html);
    }

    fn item(&mut self) {
        if !self.at_line_start && self.pending_newlines == 0 {
            self.pending_newlines = 1;
        }
        let marker = match self
            .logical
            .iter_mut()
            .rev()
            .find(|e| e.tag == Tag::List)
            .and_then(|list| list.counter.as_mut())
        {
            Some(counter) => {
                *counter = counter.saturating_add(1);
                format!("{counter}. ")
            }
            None => "• ".to_owned(),
        };
        self.text(&marker);
    }

    fn push(&mut self, tag: Tag, html: Html) {
        self.logical.push(Element {
            id: self.next_id,
            tag,
            html,
            counter: None,
        });
        self.next_id += 1;
    }

    /// Closes the innermost open element of this kind; a closer with nothing to close is dropped.
    fn close(&mut self, tag: Tag) {
        let Some(index) = self.logical.iter().rposition(|e| e.tag == tag) else {
            return;
        };
        self.logical.remove(index);
        if matches!(tag, Tag::Quote | Tag::QuoteFence | Tag::List) {
            self.end_block();
        }
    }

    /// A block starts on its own line, and a line break right after its opening is redundant.
    fn start_block(&mut self) {
        if !self.at_line_start && self.pending_newlines == 0 {
            self.pending_newlines = 1;
        }
        self.skip_newline = true;
    }

    /// Text after a block starts on a new line; one line break written after the block's end is
    /// the same break, not an extra one.
    fn end_block(&mut self) {
        if !self.at_line_start {
            self.pending_newlines = self.pending_newlines.max(1);
        }
        self.skip_newline = true;
    }

    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.skip_newline = false;
        self.sync(false);
        escape_text(&mut self.out, text);
        self.at_line_start = false;
    }

    fn code(&mut self, code: &str) {
        if code.is_empty() {
            return;
        }
        let block = code.contains('\n');
        if block {
            self.start_block();
        }
        self.skip_newline = false;
        // Telegram allows no entity inside code; only the enclosing quote stays open around it.
        self.sync(true);
        self.out.push_str(if block { "<pre>" } else { "<code>" });
        escape_text(&mut self.out, code);
        self.out.push_str(if block { "</pre>" } else { "</code>" });
        self.at_line_start = false;
        if block {
            self.end_block();
        }
    }

    /// Brings the written HTML tags in line with the logical stack, then writes pending breaks.
    fn sync(&mut self, quote_only: bool) {
        let wanted: Vec<&Element> = self
            .logical
            .iter()
            .filter(|e| e.html != Html::Transparent && (!quote_only || e.html == Html::Quote))
            .collect();
        let common = self
            .written
            .iter()
            .zip(&wanted)
            .take_while(|((id, _), element)| *id == element.id)
            .count();
        while self.written.len() > common {
            if let Some((_, closer)) = self.written.pop() {
                self.out.push_str(closer);
            }
        }
        if self.pending_newlines > 0 {
            for _ in 0..self.pending_newlines {
                self.out.push('\n');
            }
            self.pending_newlines = 0;
            self.at_line_start = true;
        }
        for element in &wanted[common..] {
            element.html.write_open(&mut self.out);
            self.written.push((element.id, element.html.closer()));
        }
    }

    fn finish(mut self) -> String {
        while let Some((_, closer)) = self.written.pop() {
            self.out.push_str(closer);
        }
        self.out
    }
}

/// The `title=` of an `[icon=…]` tag, without the size attributes Bitrix24 may append to it.
fn icon_title(attr: &str) -> Option<String> {
    let lower = attr.to_ascii_lowercase();
    let start = lower.find("title=")? + "title=".len();
    let end = ["width=", "height=", "size="]
        .iter()
        .filter_map(|key| lower[start..].find(key).map(|at| start + at))
        .min()
        .unwrap_or(attr.len());
    let title = attr.get(start..end)?.trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// Bitrix24's quote fence, for tests and for writing quotes back to Bitrix24.
pub(super) fn quote_fence() -> String {
    "-".repeat(QUOTE_FENCE_LEN)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        Rng, assert_valid_telegram_html, check_telegram_html, random_bbcode, visible_text,
    };
    use super::*;

    fn html(text: &str) -> String {
        let html = bbcode_to_telegram_html(text);
        assert_valid_telegram_html(&html);
        html
    }

    #[test]
    fn simple_formatting_tags_in_any_case() {
        assert_eq!(
            html("[b]b[/b][i]i[/i][u]u[/u][s]s[/s]"),
            "<b>b</b><i>i</i><u>u</u><s>s</s>"
        );
        assert_eq!(
            html("[B]b[/B][I]i[/i][U]u[/u][S]s[/S]"),
            "<b>b</b><i>i</i><u>u</u><s>s</s>"
        );
        assert_eq!(html("[b][i]both[/i][/b]"), "<b><i>both</i></b>");
    }

    #[test]
    fn operator_name_prefix_from_the_docs() {
        assert_eq!(
            html("[b]Светлана Иванова:[/b] [br]Добрый день!"),
            "<b>Светлана Иванова:</b> \nДобрый день!"
        );
        assert_eq!(
            html("[b]Светлана Иванова:[/b][br] Какие у вас вопросы?"),
            "<b>Светлана Иванова:</b>\n Какие у вас вопросы?"
        );
    }

    #[test]
    fn html_in_the_text_is_escaped() {
        assert_eq!(
            html("<script>alert(\"x\") && 1</script>"),
            "&lt;script&gt;alert(\"x\") &amp;&amp; 1&lt;/script&gt;"
        );
        assert_eq!(html("&amp;"), "&amp;amp;");
    }

    #[test]
    fn unclosed_tags_are_closed_at_the_end() {
        assert_eq!(html("[b]bold [i]both"), "<b>bold <i>both</i></b>");
    }

    #[test]
    fn stray_closers_are_dropped() {
        assert_eq!(html("a[/i]b[/quote][/url][/list]c"), "abc");
    }

    #[test]
    fn crossed_tags_are_repaired() {
        assert_eq!(html("[b][i]x[/b][/i]"), "<b><i>x</i></b>");
        assert_eq!(html("[b][i]x[/b]y[/i]z"), "<b><i>x</i></b><i>y</i>z");
        assert_eq!(
            html("[b]1[u]2[i]3[/b]4[/u]5[/i]6"),
            "<b>1<u>2<i>3</i></u></b><u><i>4</i></u><i>5</i>6"
        );
    }

    #[test]
    fn empty_elements_write_nothing() {
        assert_eq!(html("[b][/b][i][/i]x[u]"), "x");
    }

    #[test]
    fn links_in_both_forms() {
        assert_eq!(
            html("[url]https://example.com/?a=1&b=2[/url]"),
            "<a href=\"https://example.com/?a=1&amp;b=2\">https://example.com/?a=1&amp;b=2</a>"
        );
        assert_eq!(
            html("[URL=http://x.ru/\"q]the [b]site[/b][/URL]"),
            "<a href=\"http://x.ru/&quot;q\">the <b>site</b></a>"
        );
        assert_eq!(
            html("[url=https://x.ru][/url]"),
            "<a href=\"https://x.ru\">https://x.ru</a>"
        );
        assert_eq!(
            html("[url=tg://resolve?domain=x]t[/url]"),
            "<a href=\"tg://resolve?domain=x\">t</a>"
        );
        assert_eq!(
            html("[url=mailto:a@b.c]mail[/url]"),
            "<a href=\"mailto:a@b.c\">mail</a>"
        );
        assert_eq!(html("[url][/url]x"), "x");
    }

    #[test]
    fn unsafe_link_schemes_become_text() {
        assert_eq!(html("[url=javascript:alert(1)]click[/url]"), "click");
        assert_eq!(
            html("[url]javascript:alert(1)[/url]"),
            "javascript:alert(1)"
        );
        assert_eq!(html("[url=ftp://x.ru]f[/url]"), "f");
        assert_eq!(html("[url=www.x.ru]w[/url]"), "w");
        assert_eq!(html("[url=https://]empty[/url]"), "empty");
        assert_eq!(html("[url=data:text/html,<b>]d[/url]"), "d");
    }

    #[test]
    fn links_do_not_nest() {
        assert_eq!(
            html("[url=https://a.ru]a [url=https://b.ru]b[/url] c[/url]"),
            "<a href=\"https://a.ru\">a b c</a>"
        );
        assert_eq!(
            html("[url=https://a.ru]a [url]https://b.ru[/url][/url]"),
            "<a href=\"https://a.ru\">a https://b.ru</a>"
        );
    }

    #[test]
    fn url_around_markup_keeps_the_content() {
        assert_eq!(html("[url][b]x[/b][/url]y"), "<b>x</b>y");
    }

    #[test]
    fn images_become_links() {
        assert_eq!(
            html("[img]https://x.ru/a.png[/img]"),
            "<a href=\"https://x.ru/a.png\">https://x.ru/a.png</a>"
        );
        assert_eq!(
            html("[IMG width=10 height=20]https://x.ru/a.png[/IMG]"),
            "<a href=\"https://x.ru/a.png\">https://x.ru/a.png</a>"
        );
        assert_eq!(html("[img]file:///etc/passwd[/img]"), "file:///etc/passwd");
    }

    #[test]
    fn line_breaks() {
        assert_eq!(html("a[br]b\nc\r\nd#BR#e"), "a\nb\nc\nd\ne");
        assert_eq!(html("[b]a\nb[/b]"), "<b>a\nb</b>");
    }

    #[test]
    fn bbcode_quotes() {
        assert_eq!(html("[quote]q[/quote]a"), "<blockquote>q</blockquote>\na");
        assert_eq!(
            html("x [QUOTE]\nq\n[/QUOTE]\na"),
            "x \n<blockquote>q</blockquote>\na"
        );
        assert_eq!(html("[quote]unclosed"), "<blockquote>unclosed</blockquote>");
    }

    #[test]
    fn nested_quotes_are_flattened() {
        assert_eq!(
            html("[quote]a[quote]b[/quote]c[/quote]d"),
            "<blockquote>a\nb\nc</blockquote>\nd"
        );
    }

    #[test]
    fn bitrix_dashed_quote_block() {
        let fence = quote_fence();
        let text = format!("{fence}\nИван Петров [21.08.2026 10:15]\nЦитата\n{fence}\nОтвет");
        assert_eq!(
            html(&text),
            "<blockquote>Иван Петров [21.08.2026 10:15]\nЦитата</blockquote>\nОтвет"
        );
        let text = format!("[b]Оператор:[/b][br]{fence}[br]A[br]q[br]{fence}[br]reply");
        assert_eq!(
            html(&text),
            "<b>Оператор:</b>\n<blockquote>A\nq</blockquote>\nreply"
        );
    }

    #[test]
    fn an_unpaired_fence_is_text() {
        let fence = quote_fence();
        let text = format!("{fence}\na\n{fence}\nb\n{fence}\nc");
        assert_eq!(
            html(&text),
            format!("<blockquote>a</blockquote>\nb\n{fence}\nc")
        );
        assert_eq!(html(&"-".repeat(53)), "-".repeat(53));
    }

    #[test]
    fn code_blocks_are_verbatim() {
        assert_eq!(
            html("run [code]ls <dir>[/code] now"),
            "run <code>ls &lt;dir&gt;</code> now"
        );
        assert_eq!(
            html("[code]a\n[b]b[/b][/code]c"),
            "<pre>a\n[b]b[/b]</pre>\nc"
        );
        assert_eq!(
            html("[b]x [code]y[/code] z[/b]"),
            "<b>x </b><code>y</code><b> z</b>"
        );
        assert_eq!(
            html("[quote][b]x[code]y[/code][/quote]"),
            "<blockquote><b>x</b><code>y</code></blockquote>"
        );
        assert_eq!(html("[code][/code]"), "");
    }

    #[test]
    fn user_mentions_are_bold_names() {
        assert_eq!(html("Hi [USER=5]Иван[/USER]!"), "Hi <b>Иван</b>!");
        assert_eq!(
            html("[USER=503 REPLACE]Иван Иванов[/USER]"),
            "<b>Иван Иванов</b>"
        );
        assert_eq!(html("[USER=5][/USER]x"), "x");
    }

    #[test]
    fn command_and_layout_tags_keep_their_text() {
        assert_eq!(html("[CHAT=12]chat[/CHAT]"), "chat");
        assert_eq!(html("[SEND=/help]help[/SEND] [SEND]yes[/SEND]"), "help yes");
        assert_eq!(html("[PUT=/x]put[/PUT]"), "put");
        assert_eq!(html("[CALL=+100]call[/CALL]"), "call");
        assert_eq!(
            html("[size=20]big[/size][color=#ff0000]red[/color][font=Arial]f[/font]"),
            "bigredf"
        );
        assert_eq!(
            html("[left]l[/left][center]c[/center][right]r[/right][justify]j[/justify]"),
            "lcrj"
        );
        assert_eq!(
            html("[dialog=chat5]d[/dialog][context=chat5/7]c[/context][PCH=3]p[/PCH]"),
            "dcp"
        );
        assert_eq!(html("[b][color=red]x[/b]y[/color]"), "<b>x</b>y");
    }

    #[test]
    fn icons_show_their_title() {
        assert_eq!(
            html("[icon=https://x.ru/i.png title=Звезда size=20]"),
            "(Звезда)"
        );
        assert_eq!(html("a[icon=https://x.ru/i.png]b"), "ab");
    }

    #[test]
    fn files_and_attachments_are_dropped() {
        assert_eq!(html("see [DISK=12] and [ATTACH=3][RATING=5]"), "see  and ");
    }

    #[test]
    fn lists() {
        assert_eq!(
            html("Items:[list][*]one[*]two[/list]after"),
            "Items:\n• one\n• two\nafter"
        );
        assert_eq!(
            html("[list]\n[*]one\n[*]two\n[/list]\nafter"),
            "• one\n• two\nafter"
        );
        assert_eq!(html("[list=1][*]a[*]b[*]c[/list]"), "1. a\n2. b\n3. c");
        assert_eq!(html("[*]loose"), "• loose");
    }

    #[test]
    fn unknown_tags_and_smileys_stay() {
        assert_eq!(
            html("[spoiler]x[/spoiler] :) ;-) [x"),
            "[spoiler]x[/spoiler] :) ;-) [x"
        );
        assert_eq!(html("[b=1]x[/b]"), "[b=1]x");
        assert_eq!(html("[]"), "[]");
        assert_eq!(html("[code]open"), "[code]open");
    }

    #[test]
    fn emoji_and_cyrillic_pass_through() {
        assert_eq!(html("[b]Привет 👋🏽[/b] 🇷🇺"), "<b>Привет 👋🏽</b> 🇷🇺");
    }

    #[test]
    fn empty_input() {
        assert_eq!(html(""), "");
        assert_eq!(html("[br]x[br]"), "\nx");
    }

    #[test]
    fn property_any_input_gives_valid_html_with_all_text_kept() {
        let mut rng = Rng::new(42);
        for _ in 0..5000 {
            let input = random_bbcode(&mut rng, 40);
            let output = bbcode_to_telegram_html(&input);
            if let Err(problem) = check_telegram_html(&output) {
                panic!("{problem}: {input:?} -> {output:?}");
            }
            // Markup may vanish, but every letter of the input's text shows up in the output.
            let letters = |text: &str| text.chars().filter(|c| c.is_alphabetic()).count();
            let text_letters: usize = tokenize(&input)
                .iter()
                .map(|token| match token {
                    Token::Text(text) | Token::Code(text) => letters(text),
                    _ => 0,
                })
                .sum();
            assert!(
                letters(&visible_text(&output)) >= text_letters,
                "text lost: {input:?} -> {output:?}"
            );
        }
    }

    #[test]
    fn icon_title_stops_at_size_attributes() {
        assert_eq!(
            icon_title("x title=A b width=3 height=4").as_deref(),
            Some("A b")
        );
        assert_eq!(icon_title("x title= width=3"), None);
        assert_eq!(icon_title("x"), None);
    }
}
