//! Neutral markup and cards → Matrix `body` (plain text) + `formatted_body` (HTML).
//!
//! The HTML uses only the subset the Matrix spec recommends clients accept (`b`, `i`, `code`,
//! `pre`, `a`, `ul`/`ol`/`li`, `blockquote`, `br`, `font` with `data-mx-color`). User text
//! (every [`Span::Text`], link label, card title, field name, footer, code) is escaped, so it
//! cannot inject markup; link targets are limited to `http`, `https`, `mailto`, `ftp` and
//! `magnet`, anything else is shown as text. Mentions of Matrix users become pills
//! (`<a href="https://matrix.to/#/@alice:example.org">Alice</a>`) and are listed for the
//! event's `m.mentions`, so only the users a plugin meant to mention are pinged — never `@room`
//! from user text. Cards render as a block quote: a level marker and bold (linked) title, the
//! body, fields (inline ones share a line), and the footer and time in italics. Actions, which
//! Matrix cannot show as buttons, are listed as commands to type.

use ferrbot::markup::{Markup, Span};
use ferrbot::message::{Card, Level, OutgoingMessage, actions_as_text};

use crate::split::{Block, Limits, Part, cut_text, pack};

/// What the renderer needs to know besides the message.
pub struct RenderContext<'a> {
    /// The backend instance name: mentions of `UserId`s of this backend become pills.
    pub backend: &'a str,
    /// The bot's command prefix, to show actions as commands to type.
    pub prefix: &'a str,
    /// Display names of users that may be mentioned (Matrix user id → name).
    pub names: &'a dyn Fn(&str) -> Option<String>,
}

/// Escapes text for HTML (element content and attribute values).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a link target may appear in `href` (the schemes the Matrix spec allows).
pub fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["https://", "http://", "mailto:", "ftp://", "magnet:"]
        .iter()
        .any(|s| lower.starts_with(s))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The `matrix.to` link of a user, room or alias.
pub fn permalink(id: &str) -> String {
    format!("https://matrix.to/#/{id}")
}

/// The marker shown before a card's title for its level.
pub fn level_marker(level: Level) -> &'static str {
    match level {
        Level::Critical => "🔴",
        Level::Error => "🟠",
        Level::Warning => "🟡",
        Level::Info => "🔵",
        Level::Success => "🟢",
        _ => "⚪",
    }
}

/// Rendered text: plain, HTML, and who it mentions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The plain text.
    pub plain: String,
    /// The HTML.
    pub html: String,
    /// Matrix user ids mentioned on purpose.
    pub mentions: Vec<String>,
    starts_block: bool,
    ends_block: bool,
}

impl Rendered {
    fn text(&mut self, plain: &str, html: &str) {
        if plain.is_empty() && html.is_empty() {
            return;
        }
        if self.ends_block && !self.plain.ends_with('\n') {
            self.plain.push('\n');
        }
        self.plain.push_str(plain);
        self.html.push_str(html);
        self.ends_block = false;
    }

    fn block(&mut self, plain: &str, html: &str) {
        if self.plain.is_empty() && self.html.is_empty() {
            self.starts_block = true;
        } else if !self.plain.ends_with('\n') {
            self.plain.push('\n');
        }
        self.plain.push_str(plain);
        self.html.push_str(html);
        self.ends_block = true;
    }

    fn newline(&mut self) {
        self.plain.push('\n');
        if !self.ends_block {
            self.html.push_str("<br>");
        }
        self.ends_block = false;
    }

    fn mention(&mut self, id: &str) {
        if !self.mentions.iter().any(|m| m == id) {
            self.mentions.push(id.to_owned());
        }
    }
}

impl RenderContext<'_> {
    /// The Matrix user id behind a ferrbot user id of this backend, if it is one.
    fn matrix_user<'u>(&self, user: &'u ferrbot::UserId) -> Option<&'u str> {
        (user.backend() == self.backend
            && user.local().starts_with('@')
            && user.local().contains(':'))
        .then(|| user.local())
    }

    /// Renders markup as one piece (lists and code blocks included).
    pub fn markup(&self, markup: &Markup) -> Rendered {
        let mut out = Rendered::default();
        self.spans(markup.spans(), &mut out, 0);
        out
    }

    fn spans(&self, spans: &[Span], out: &mut Rendered, depth: usize) {
        for span in spans {
            self.span(span, out, depth);
        }
    }

    fn span(&self, span: &Span, out: &mut Rendered, depth: usize) {
        match span {
            Span::Text { text } => {
                for (i, line) in text.split('\n').enumerate() {
                    if i > 0 {
                        out.newline();
                    }
                    out.text(line, &escape(line));
                }
            }
            Span::Bold { inner } => self.wrapped(inner, "b", out, depth),
            Span::Italic { inner } => self.wrapped(inner, "i", out, depth),
            Span::Code { code } => {
                out.text(
                    &format!("`{code}`"),
                    &format!("<code>{}</code>", escape(code)),
                );
            }
            Span::CodeBlock { lang, code } => {
                let (plain, html) = code_block(lang.as_deref(), code);
                out.block(&plain, &html);
            }
            Span::Link { url, label } => {
                let label = label.as_deref().filter(|l| !l.is_empty());
                let plain = match label {
                    Some(l) if l != url => format!("{l} <{url}>"),
                    _ => url.clone(),
                };
                if safe_url(url) {
                    let html = format!(
                        "<a href=\"{}\">{}</a>",
                        escape(url.trim()),
                        escape(label.unwrap_or(url))
                    );
                    out.text(&plain, &html);
                } else {
                    out.text(&plain, &escape(&plain));
                }
            }
            Span::Mention { user } => match self.matrix_user(user) {
                Some(id) => {
                    let name = (self.names)(id).unwrap_or_else(|| id.to_owned());
                    let html = format!(
                        "<a href=\"{}\">{}</a>",
                        escape(&permalink(id)),
                        escape(&name)
                    );
                    out.text(&name, &html);
                    out.mention(id);
                }
                None => {
                    let plain = format!("@{}", user.local());
                    out.text(&plain, &escape(&plain));
                }
            },
            Span::List { ordered, items } => {
                let (plain, html, mentions) = self.list(*ordered, 1, items, depth);
                out.block(&plain, &html);
                for m in mentions {
                    out.mention(&m);
                }
            }
            Span::LineBreak => out.newline(),
            _ => {}
        }
    }

    fn wrapped(&self, inner: &Markup, tag: &str, out: &mut Rendered, depth: usize) {
        let mut r = Rendered::default();
        self.spans(inner.spans(), &mut r, depth);
        let html = format!("<{tag}>{}</{tag}>", r.html);
        out.text(&r.plain, &html);
        for m in r.mentions {
            out.mention(&m);
        }
    }

    /// A list, numbered from `start` when ordered.
    fn list(
        &self,
        ordered: bool,
        start: usize,
        items: &[Markup],
        depth: usize,
    ) -> (String, String, Vec<String>) {
        let tag = if ordered { "ol" } else { "ul" };
        let mut html = if ordered && start != 1 {
            format!("<ol start=\"{start}\">")
        } else {
            format!("<{tag}>")
        };
        let mut plain = String::new();
        let mut mentions = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mut r = Rendered::default();
            self.spans(item.spans(), &mut r, depth + 1);
            let marker = if ordered {
                format!("{}. ", start + i)
            } else {
                "• ".to_owned()
            };
            if !plain.is_empty() {
                plain.push('\n');
            }
            plain.push_str(&"  ".repeat(depth));
            plain.push_str(&marker);
            plain.push_str(r.plain.trim_end_matches('\n'));
            html.push_str("<li>");
            html.push_str(&r.html);
            html.push_str("</li>");
            for m in r.mentions {
                if !mentions.contains(&m) {
                    mentions.push(m);
                }
            }
        }
        html.push_str(&format!("</{tag}>"));
        (plain, html, mentions)
    }

    /// Splits top-level markup into blocks: lines of inline content, code blocks and lists,
    /// each within `limits` (oversized ones are cut into smaller self-contained blocks).
    pub fn blocks(&self, markup: &Markup, limits: Limits) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut line = Rendered::default();
        let mut has_line = false;
        let flush = |line: &mut Rendered, has_line: &mut bool, blocks: &mut Vec<Block>| {
            if *has_line {
                let r = std::mem::take(line);
                push_line(blocks, r.plain, r.html, r.mentions, limits);
            }
            *has_line = false;
        };
        for span in markup.spans() {
            match span {
                Span::LineBreak => {
                    has_line = true;
                    flush(&mut line, &mut has_line, &mut blocks);
                }
                Span::Text { text } if text.contains('\n') => {
                    let mut lines = text.split('\n').peekable();
                    while let Some(piece) = lines.next() {
                        line.text(piece, &escape(piece));
                        has_line = true;
                        if lines.peek().is_some() {
                            flush(&mut line, &mut has_line, &mut blocks);
                        }
                    }
                }
                Span::CodeBlock { lang, code } => {
                    flush(&mut line, &mut has_line, &mut blocks);
                    code_blocks(&mut blocks, lang.as_deref(), code, limits);
                }
                Span::List { ordered, items } => {
                    flush(&mut line, &mut has_line, &mut blocks);
                    self.list_blocks(&mut blocks, *ordered, items, limits);
                }
                other => {
                    self.span(other, &mut line, 0);
                    has_line = true;
                }
            }
        }
        flush(&mut line, &mut has_line, &mut blocks);
        blocks
    }

    fn list_blocks(
        &self,
        blocks: &mut Vec<Block>,
        ordered: bool,
        items: &[Markup],
        limits: Limits,
    ) {
        let mut start = 0;
        while start < items.len() {
            // The longest run of items from `start` that fits.
            let mut end = start + 1;
            let mut best = None;
            while end <= items.len() {
                let (plain, html, mentions) = self.list(ordered, start + 1, &items[start..end], 0);
                if limits.fits(&plain, &html) {
                    best = Some((end, plain, html, mentions));
                    end += 1;
                } else {
                    break;
                }
            }
            match best {
                Some((end, plain, html, mentions)) => {
                    blocks.push(Block::element(plain, html, mentions));
                    start = end;
                }
                None => {
                    // One item alone is too big: show it as plain text lines.
                    let (plain, _, mentions) =
                        self.list(ordered, start + 1, &items[start..=start], 0);
                    push_plain(blocks, &plain, mentions, limits);
                    start += 1;
                }
            }
        }
    }

    /// A card as a block quote (or, when it alone is too big, as plain lines).
    pub fn card_blocks(&self, card: &Card, limits: Limits) -> Vec<Block> {
        let (plain, html, mentions) = self.card(card);
        let mut blocks = Vec::new();
        if limits.fits(&plain, &html) {
            blocks.push(Block::element(plain, html, mentions));
        } else {
            push_plain(&mut blocks, &plain, mentions, limits);
        }
        blocks
    }

    /// A card: plain text, HTML and mentions.
    pub fn card(&self, card: &Card) -> (String, String, Vec<String>) {
        let marker = level_marker(card.level);
        let mut plain = format!("{marker} {}", card.title);
        let title = escape(&card.title);
        let title = match card.url.as_deref().filter(|u| safe_url(u)) {
            Some(url) => format!("<a href=\"{}\">{title}</a>", escape(url.trim())),
            None => title,
        };
        if let Some(url) = &card.url {
            plain.push_str(&format!(" <{url}>"));
        }
        let mut html = format!(
            "<blockquote><font data-mx-color=\"#{:06x}\">{marker}</font> <b>{title}</b>",
            card.level.rgb()
        );
        let mut mentions: Vec<String> = Vec::new();
        let add = |ms: Vec<String>, mentions: &mut Vec<String>| {
            for m in ms {
                if !mentions.contains(&m) {
                    mentions.push(m);
                }
            }
        };
        if !card.body.is_empty() {
            let r = self.markup(&card.body);
            plain.push('\n');
            plain.push_str(r.plain.trim_end_matches('\n'));
            if !r.starts_block {
                html.push_str("<br>");
            }
            html.push_str(&r.html);
            if !r.ends_block {
                html.push_str("<br>");
            }
            add(r.mentions, &mut mentions);
        } else {
            html.push_str("<br>");
        }
        let mut i = 0;
        while i < card.fields.len() {
            // Inline fields share a line; others get their own.
            let mut j = i + 1;
            if card.fields[i].inline {
                while j < card.fields.len() && card.fields[j].inline {
                    j += 1;
                }
            }
            let mut line_plain = Vec::new();
            let mut line_html = Vec::new();
            for f in &card.fields[i..j] {
                let r = self.markup(&f.value);
                line_plain.push(format!("{}: {}", f.name, r.plain.trim_end_matches('\n')));
                line_html.push(format!("<b>{}</b>: {}", escape(&f.name), r.html));
                add(r.mentions, &mut mentions);
            }
            plain.push('\n');
            plain.push_str(&line_plain.join(" · "));
            html.push_str(&line_html.join(" · "));
            html.push_str("<br>");
            i = j;
        }
        let foot = match (&card.footer, card.timestamp) {
            (Some(f), Some(ts)) => Some(format!("{f} · {ts}")),
            (Some(f), None) => Some(f.clone()),
            (None, Some(ts)) => Some(ts.to_string()),
            (None, None) => None,
        };
        if let Some(foot) = foot {
            plain.push_str(&format!("\n— {foot}"));
            html.push_str(&format!("<i>— {}</i>", escape(&foot)));
        }
        while let Some(s) = html.strip_suffix("<br>") {
            html.truncate(s.len());
        }
        html.push_str("</blockquote>");
        (plain, html, mentions)
    }

    /// Actions as commands to type (Matrix has no buttons).
    pub fn actions_block(&self, message: &OutgoingMessage) -> Option<Block> {
        if message.actions.is_empty() {
            return None;
        }
        let plain = actions_as_text(&message.actions, self.prefix);
        let items: Vec<String> = message
            .actions
            .iter()
            .map(|a| {
                format!(
                    "<b>{}</b>: <code>{}{}</code>",
                    escape(&a.label),
                    escape(self.prefix),
                    escape(&a.command)
                )
            })
            .collect();
        let html = format!("Actions — {}", items.join(" · "));
        Some(Block::line(plain, html, Vec::new()))
    }

    /// Renders a whole message into parts that each fit one Matrix event.
    pub fn message(&self, message: &OutgoingMessage, limits: Limits) -> Vec<Part> {
        let mut blocks = self.blocks(&message.text, limits);
        if let Some(card) = &message.card {
            blocks.extend(self.card_blocks(card, limits));
        }
        if let Some(actions) = self.actions_block(message) {
            let mut cut = Vec::new();
            if limits.fits(&actions.plain, &actions.html) {
                cut.push(actions);
            } else {
                push_plain(&mut cut, &actions.plain, Vec::new(), limits);
            }
            blocks.extend(cut);
        }
        pack(&blocks, limits)
    }
}

/// A code block: fenced plain text and `<pre><code>`.
fn code_block(lang: Option<&str>, code: &str) -> (String, String) {
    let code = code.strip_suffix('\n').unwrap_or(code);
    let lang = lang
        .map(|l| {
            l.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.'))
                .collect::<String>()
        })
        .filter(|l| !l.is_empty());
    let plain = format!("```{}\n{code}\n```", lang.as_deref().unwrap_or(""));
    let html = match &lang {
        Some(l) => format!(
            "<pre><code class=\"language-{l}\">{}</code></pre>",
            escape(code)
        ),
        None => format!("<pre><code>{}</code></pre>", escape(code)),
    };
    (plain, html)
}

/// A code block as one or more blocks within `limits`, cut between lines.
fn code_blocks(blocks: &mut Vec<Block>, lang: Option<&str>, code: &str, limits: Limits) {
    let (plain, html) = code_block(lang, code);
    if limits.fits(&plain, &html) {
        blocks.push(Block::element(plain, html, Vec::new()));
        return;
    }
    let code = code.strip_suffix('\n').unwrap_or(code);
    // Budget for the code itself, leaving room for the fences and tags.
    let budget = Limits {
        max_chars: limits
            .max_chars
            .saturating_sub(16 + lang.map_or(0, str::len)),
        max_bytes: limits
            .max_bytes
            .saturating_sub(64 + 2 * lang.map_or(0, str::len)),
    };
    let mut chunk = String::new();
    let emit = |chunk: &mut String, blocks: &mut Vec<Block>| {
        if !chunk.is_empty() {
            let (p, h) = code_block(lang, chunk);
            blocks.push(Block::element(p, h, Vec::new()));
            chunk.clear();
        }
    };
    for line in code.split('\n') {
        let pieces = if budget.fits(line, &escape(line)) {
            vec![line.to_owned()]
        } else {
            cut_text(line, budget.cut_chars())
        };
        for piece in pieces {
            let candidate = if chunk.is_empty() {
                piece.clone()
            } else {
                format!("{chunk}\n{piece}")
            };
            if budget.fits(&candidate, &escape(&candidate)) {
                chunk = candidate;
            } else {
                emit(&mut chunk, blocks);
                chunk = piece;
            }
        }
    }
    emit(&mut chunk, blocks);
}

/// A line of inline content, cut into plain-text lines when it alone is too big.
fn push_line(
    blocks: &mut Vec<Block>,
    plain: String,
    html: String,
    mentions: Vec<String>,
    limits: Limits,
) {
    if limits.fits(&plain, &html) {
        blocks.push(Block::line(plain, html, mentions));
    } else {
        push_plain(blocks, &plain, mentions, limits);
    }
}

/// Plain text as escaped lines, each within `limits`.
fn push_plain(blocks: &mut Vec<Block>, plain: &str, mentions: Vec<String>, limits: Limits) {
    let mut mentions = Some(mentions);
    for line in plain.split('\n') {
        for piece in cut_text(line, limits.cut_chars()) {
            let html = escape(&piece);
            blocks.push(Block::line(
                piece,
                html,
                mentions.take().unwrap_or_default(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ferrbot::message::{Action, Card, Level};

    fn names(id: &str) -> Option<String> {
        (id == "@alice:example.org").then(|| "Alice".to_owned())
    }

    fn cx() -> RenderContext<'static> {
        RenderContext {
            backend: "matrix",
            prefix: "!",
            names: &names,
        }
    }

    fn user(s: &str) -> ferrbot::UserId {
        s.parse().unwrap()
    }

    #[test]
    fn markup_cases() {
        // (name, markup, plain, html)
        let cases: Vec<(&str, Markup, &str, &str)> = vec![
            (
                "user text is escaped",
                Markup::new().text("<script>alert('x')</script> & \"q\""),
                "<script>alert('x')</script> & \"q\"",
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;",
            ),
            (
                "bold, italic, code",
                Markup::new()
                    .bold("B<")
                    .text(" ")
                    .italic("I")
                    .text(" ")
                    .code("a<b"),
                "B< I `a<b`",
                "<b>B&lt;</b> <i>I</i> <code>a&lt;b</code>",
            ),
            (
                "links with safe and unsafe schemes",
                Markup::new()
                    .link("docs", "https://x.org/?a=1&b=2")
                    .text(" ")
                    .link("evil", "javascript:alert(1)"),
                "docs <https://x.org/?a=1&b=2> evil <javascript:alert(1)>",
                "<a href=\"https://x.org/?a=1&amp;b=2\">docs</a> evil &lt;javascript:alert(1)&gt;",
            ),
            (
                "a label cannot break out of the attribute",
                Markup::new().link("x", "https://x.org/\"onmouseover=\"y"),
                "x <https://x.org/\"onmouseover=\"y>",
                "<a href=\"https://x.org/&quot;onmouseover=&quot;y\">x</a>",
            ),
            (
                "mentions become pills with display names",
                Markup::new()
                    .text("hi ")
                    .mention(user("matrix:@alice:example.org"))
                    .text(" and ")
                    .mention(user("matrix:@bob:example.org")),
                "hi Alice and @bob:example.org",
                "hi <a href=\"https://matrix.to/#/@alice:example.org\">Alice</a> and <a href=\"https://matrix.to/#/@bob:example.org\">@bob:example.org</a>",
            ),
            (
                "users of other backends are plain text",
                Markup::new().mention(user("slack:U1")),
                "@U1",
                "@U1",
            ),
            (
                "line breaks",
                Markup::new().text("a\nb").line().text("c"),
                "a\nb\nc",
                "a<br>b<br>c",
            ),
            (
                "code blocks are fenced and escaped; the language is sanitised",
                Markup::new()
                    .text("out:")
                    .code_block(Some("sh\"><x"), "echo <hi>\n"),
                "out:\n```shx\necho <hi>\n```",
                "out:<pre><code class=\"language-shx\">echo &lt;hi&gt;</code></pre>",
            ),
            (
                "lists, nested",
                Markup::new().list([
                    Markup::new().text("one"),
                    Markup::new().text("two").list(["a"]),
                ]),
                "• one\n• two\n  • a",
                "<ul><li>one</li><li>two<ul><li>a</li></ul></li></ul>",
            ),
            (
                "ordered list",
                Markup::new().ordered_list(["x", "y"]),
                "1. x\n2. y",
                "<ol><li>x</li><li>y</li></ol>",
            ),
            (
                "@room in user text stays text",
                Markup::new().text("@room look"),
                "@room look",
                "@room look",
            ),
        ];
        for (name, markup, plain, html) in cases {
            let parts = cx().message(&OutgoingMessage::new(markup), Limits::new(16_000));
            assert_eq!(parts.len(), 1, "{name}");
            assert_eq!(parts[0].body, plain, "{name}");
            assert_eq!(parts[0].html, html, "{name}");
        }
    }

    #[test]
    fn mentions_are_listed_for_m_mentions() {
        let m = Markup::new()
            .mention(user("matrix:@alice:example.org"))
            .text(" ")
            .bold(Markup::new().mention(user("matrix:@bob:example.org")))
            .text(" ")
            .mention(user("matrix:@alice:example.org"));
        let parts = cx().message(&OutgoingMessage::new(m), Limits::new(16_000));
        assert_eq!(
            parts[0].mentions,
            vec![
                "@alice:example.org".to_owned(),
                "@bob:example.org".to_owned()
            ]
        );
        let plain = cx().message(
            &OutgoingMessage::new("ping @room and @alice:example.org"),
            Limits::new(16_000),
        );
        assert!(plain[0].mentions.is_empty());
    }

    #[test]
    fn cards_render_as_block_quotes() {
        let card = Card::new("INC-42: <checkout> down")
            .url("https://x/42")
            .level(Level::Critical)
            .body("Checkout fails & nobody knows why")
            .inline_field("Severity", "sev1")
            .inline_field(
                "Lead",
                Markup::new().mention(user("matrix:@alice:example.org")),
            )
            .field("Summary", "it's bad")
            .footer("ferrbot");
        let parts = cx().message(
            &OutgoingMessage::new("Incident declared")
                .with_card(card)
                .with_action(Action::new("Join", "incident join 42")),
            Limits::new(16_000),
        );
        assert_eq!(parts.len(), 1);
        assert_eq!(
            parts[0].body,
            "Incident declared\n🔴 INC-42: <checkout> down <https://x/42>\nCheckout fails & nobody knows why\nSeverity: sev1 · Lead: Alice\nSummary: it's bad\n— ferrbot\nActions — Join: !incident join 42"
        );
        assert_eq!(
            parts[0].html,
            "Incident declared<blockquote><font data-mx-color=\"#d0021b\">🔴</font> <b><a href=\"https://x/42\">INC-42: &lt;checkout&gt; down</a></b><br>Checkout fails &amp; nobody knows why<br><b>Severity</b>: sev1 · <b>Lead</b>: <a href=\"https://matrix.to/#/@alice:example.org\">Alice</a><br><b>Summary</b>: it&#39;s bad<br><i>— ferrbot</i></blockquote>Actions — <b>Join</b>: <code>!incident join 42</code>"
        );
        assert_eq!(parts[0].mentions, vec!["@alice:example.org".to_owned()]);
    }

    #[test]
    fn card_with_only_a_title_and_unsafe_url() {
        let (plain, html, _) = cx().card(&Card::new("T").url("javascript:x").level(Level::Success));
        assert_eq!(plain, "🟢 T <javascript:x>");
        assert_eq!(
            html,
            "<blockquote><font data-mx-color=\"#2eb886\">🟢</font> <b>T</b></blockquote>"
        );
    }

    #[test]
    fn long_messages_split_at_block_boundaries() {
        let limits = Limits {
            max_chars: 200,
            max_bytes: 2_000,
        };
        let mut m = Markup::new();
        for i in 0..30 {
            m = m.text(format!("line {i:02} <x>")).line();
        }
        let parts = cx().message(&OutgoingMessage::new(m), limits);
        assert!(parts.len() > 1);
        let mut all = Vec::new();
        for p in &parts {
            assert!(p.body.chars().count() <= 200);
            assert!(!p.html.ends_with("<br>"), "{}", p.html);
            all.push(p.body.clone());
        }
        let want: Vec<String> = (0..30).map(|i| format!("line {i:02} <x>")).collect();
        assert_eq!(all.join("\n"), want.join("\n"));
    }

    #[test]
    fn huge_code_blocks_are_cut_into_balanced_blocks() {
        let limits = Limits {
            max_chars: 300,
            max_bytes: 3_000,
        };
        let code: String = (0..100).map(|i| format!("echo {i} <&>\n")).collect();
        let parts = cx().message(
            &OutgoingMessage::new(Markup::new().code_block(Some("sh"), code.clone())),
            limits,
        );
        assert!(parts.len() > 2);
        let mut lines = Vec::new();
        for p in &parts {
            assert!(p.body.chars().count() <= 300, "{}", p.body.len());
            assert!(p.body.len() + p.html.len() <= 3_000);
            assert_eq!(
                p.html.matches("<pre>").count(),
                p.html.matches("</pre>").count()
            );
            assert_eq!(p.body.matches("```").count() % 2, 0);
            for l in p.body.lines().filter(|l| !l.starts_with("```")) {
                lines.push(l.to_owned());
            }
        }
        assert_eq!(lines.join("\n"), code.trim_end());
    }

    #[test]
    fn long_lists_continue_their_numbering() {
        let limits = Limits {
            max_chars: 100,
            max_bytes: 1_000,
        };
        let items: Vec<String> = (1..=30).map(|i| format!("item number {i}")).collect();
        let parts = cx().message(
            &OutgoingMessage::new(Markup::new().ordered_list(items)),
            limits,
        );
        assert!(parts.len() > 2);
        assert!(
            parts[1].html.starts_with("<ol start=\""),
            "{}",
            parts[1].html
        );
        assert!(parts.last().unwrap().body.ends_with("30. item number 30"));
    }

    #[test]
    fn one_enormous_line_is_cut() {
        let limits = Limits {
            max_chars: 100,
            max_bytes: 1_000,
        };
        let text = "word ".repeat(100);
        let parts = cx().message(&OutgoingMessage::new(text.clone()), limits);
        assert!(parts.len() >= 5);
        assert!(parts.iter().all(|p| p.body.chars().count() <= 100));
        let joined: String = parts
            .iter()
            .map(|p| p.body.clone())
            .collect::<Vec<_>>()
            .join("");
        assert_eq!(joined.replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn empty_message_gives_no_parts() {
        assert!(
            cx().message(&OutgoingMessage::default(), Limits::new(16_000))
                .is_empty()
        );
    }

    #[test]
    fn url_safety() {
        for (url, ok) in [
            ("https://x.org", true),
            ("HTTP://X.ORG", true),
            ("mailto:a@b.c", true),
            ("javascript:alert(1)", false),
            ("data:text/html,x", false),
            ("https://x.org/a b", false),
            ("/relative", false),
        ] {
            assert_eq!(safe_url(url), ok, "{url}");
        }
    }
}
