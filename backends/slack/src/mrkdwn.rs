//! Neutral markup → Slack mrkdwn, and splitting long text.
//!
//! Slack's mrkdwn has three control characters, `&`, `<` and `>`, which every piece of user
//! text gets escaped as `&amp;`, `&lt;` and `&gt;` — so user text can never form a link, a
//! mention or a `<!channel>`/`<!here>` broadcast. Bold is `*…*`, italic `_…_`, code `` `…` ``,
//! blocks ```` ```…``` ````, links `<url|label>` and mentions `<@U123>`.

use ferrbot::markup::{Markup, Span};

/// The longest `text` ferrbot posts in one message (Slack truncates beyond 40,000 and
/// recommends at most 4,000).
pub const MAX_MESSAGE_CHARS: usize = 4_000;

const FENCE: &str = "```";

/// Escapes `&`, `<` and `>`: the only characters Slack asks apps to escape.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Turns Slack's link markup in received text back into what the user typed:
/// `<https://x|x>` and `<https://x>` become `https://x`, `<mailto:a@b|a@b>` becomes
/// `a@b`, `<#C123|general>` becomes `#general`; user mentions (`<@U123>`) are kept, so
/// commands can tell who was meant. Entities are then unescaped.
pub fn normalise_incoming(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &after[..end];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        if let Some(address) = target.strip_prefix("mailto:") {
            out.push_str(address);
        } else if target.starts_with("http://") || target.starts_with("https://") {
            out.push_str(target);
        } else if let Some(channel) = target.strip_prefix('#') {
            out.push('#');
            out.push_str(label.unwrap_or(channel));
        } else {
            out.push('<');
            out.push_str(inner);
            out.push('>');
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    unescape(&out)
}

/// Undoes [`escape`] (Slack sends message text escaped).
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn is_web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://") || url.starts_with("mailto:"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Renders markup as mrkdwn; mentions of users of backend `backend` become `<@U…>`.
pub fn render(backend: &str, markup: &Markup) -> String {
    let mut out = String::new();
    spans(backend, markup.spans(), &mut out, 0);
    out
}

fn spans(backend: &str, list: &[Span], out: &mut String, depth: usize) {
    for span in list {
        match span {
            Span::Text { text } => out.push_str(&escape(text)),
            Span::Bold { inner } => {
                out.push('*');
                spans(backend, inner.spans(), out, depth);
                out.push('*');
            }
            Span::Italic { inner } => {
                out.push('_');
                spans(backend, inner.spans(), out, depth);
                out.push('_');
            }
            Span::Code { code } if !code.is_empty() => {
                out.push('`');
                out.push_str(&escape(&code.replace(['`', '\n'], " ")));
                out.push('`');
            }
            Span::CodeBlock { code, .. } => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(FENCE);
                out.push('\n');
                let code = code.replace(FENCE, "``\u{200B}`");
                out.push_str(&escape(code.trim_end_matches('\n')));
                out.push('\n');
                out.push_str(FENCE);
                out.push('\n');
            }
            Span::Link { url, label } => {
                if is_web_url(url) {
                    let url = url
                        .replace('|', "%7C")
                        .replace('<', "%3C")
                        .replace('>', "%3E");
                    match label
                        .as_deref()
                        .filter(|l| !l.trim().is_empty() && *l != url)
                    {
                        Some(label) => {
                            out.push_str(&format!("<{url}|{}>", escape(&label.replace('|', "¦"))))
                        }
                        None => out.push_str(&format!("<{url}>")),
                    }
                } else {
                    let text = match label {
                        Some(l) if l != url => format!("{l} ({url})"),
                        _ => url.clone(),
                    };
                    out.push_str(&escape(&text));
                }
            }
            Span::Mention { user } => {
                let local = user.local();
                if user.backend() == backend && is_slack_id(local) {
                    out.push_str(&format!("<@{local}>"));
                } else {
                    out.push_str(&escape(&format!("@{local}")));
                }
            }
            Span::List { ordered, items } => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&"    ".repeat(depth));
                    if *ordered {
                        out.push_str(&format!("{}. ", i + 1));
                    } else {
                        out.push_str("• ");
                    }
                    spans(backend, item.spans(), out, depth + 1);
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
            Span::LineBreak => out.push('\n'),
            _ => {}
        }
    }
}

/// Whether `s` looks like a Slack id (`U024BE7LH`, `C0123`): upper-case letters and digits.
pub fn is_slack_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// Splits `text` into parts of at most `max` characters (at least 64), at line ends where
/// possible; a code block cut in two is closed at the end of one part and reopened in the
/// next. Empty text gives no parts.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(64);
    if text.trim().is_empty() {
        return Vec::new();
    }
    if len(text) <= max {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut open = false;
    for line in text.split_inclusive('\n') {
        let toggles = line.trim_start().starts_with(FENCE);
        let reserve = if open != toggles { 4 } else { 0 };
        if len(&current) + len(line) + reserve > max && !current.trim().is_empty() {
            finish(&mut parts, &mut current, open);
        }
        if len(&current) + len(line) + reserve > max {
            let mut rest = line;
            while len(&current) + len(rest) + reserve > max {
                let room = max.saturating_sub(len(&current) + reserve).max(1);
                let cut = cut_point(rest, room);
                current.push_str(&rest[..cut]);
                rest = &rest[cut..];
                finish(&mut parts, &mut current, open);
            }
            current.push_str(rest);
        } else {
            current.push_str(line);
        }
        if toggles {
            open = !open;
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim_end_matches('\n').to_owned());
    }
    parts
}

fn finish(parts: &mut Vec<String>, current: &mut String, open: bool) {
    let mut part = std::mem::take(current);
    if open {
        if !part.ends_with('\n') {
            part.push('\n');
        }
        part.push_str(FENCE);
    }
    let part = part.trim_end_matches('\n').to_owned();
    if !part.trim().is_empty() {
        parts.push(part);
    }
    if open {
        current.push_str(FENCE);
        current.push('\n');
    }
}

fn cut_point(s: &str, room: usize) -> usize {
    let hard = s.char_indices().nth(room).map_or(s.len(), |(i, _)| i);
    if hard >= s.len() {
        return s.len();
    }
    match s[..hard].rfind(' ') {
        Some(i) if i > hard / 2 => i + 1,
        _ => hard,
    }
}

/// Truncates to `max` characters, ending with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if len(s) <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn check(markup: Markup, expect: &str) {
        assert_eq!(render("slack", &markup), expect);
    }

    #[test]
    fn user_text_is_escaped_and_cannot_broadcast() {
        check(
            Markup::new().text("a < b && c > d <!channel> <@U1>"),
            "a &lt; b &amp;&amp; c &gt; d &lt;!channel&gt; &lt;@U1&gt;",
        );
        check(Markup::new().code("x<y"), "`x&lt;y`");
    }

    #[test]
    fn mrkdwn_rendering() {
        let u: ferrbot::UserId = "slack:U024BE7LH".parse().unwrap();
        let other: ferrbot::UserId = "discord:123".parse().unwrap();
        check(
            Markup::new()
                .bold("Deploy")
                .text(" by ")
                .mention(u)
                .text(" and ")
                .mention(other)
                .text(" ")
                .italic("now")
                .text(" ")
                .link("logs", "https://x.example/l?a=1|2")
                .list(["one", "two"])
                .code_block(Some("sh"), "echo <hi>"),
            "*Deploy* by <@U024BE7LH> and @123 _now_ <https://x.example/l?a=1%7C2|logs>\n• one\n• two\n```\necho &lt;hi&gt;\n```\n",
        );
        check(
            Markup::new().link("x", "javascript:alert(1)"),
            "x (javascript:alert(1))",
        );
        assert_eq!(unescape("a &lt;b&gt; &amp;"), "a <b> &");
        assert_eq!(
            normalise_incoming(
                "see <https://x.example/a?b=1&amp;c=2|x.example> and <https://y.example> <mailto:a@b.example|a@b.example> in <#C1|ops> for <@U1> &lt;3"
            ),
            "see https://x.example/a?b=1&c=2 and https://y.example a@b.example in #ops for <@U1> <3"
        );
    }

    #[test]
    fn long_text_splits_in_order_keeping_code_blocks_whole() {
        let mut text = String::from("Output:\n```\n");
        for i in 0..900 {
            text.push_str(&format!("line {i:04}\n"));
        }
        text.push_str("```\nDone.");
        let parts = split(&text, MAX_MESSAGE_CHARS);
        assert!(parts.len() >= 3, "{}", parts.len());
        for p in &parts {
            assert!(p.chars().count() <= MAX_MESSAGE_CHARS);
            assert_eq!(p.lines().filter(|l| l.starts_with(FENCE)).count() % 2, 0);
        }
        let lines: Vec<&str> = parts
            .iter()
            .flat_map(|p| p.lines())
            .filter(|l| l.starts_with("line "))
            .collect();
        assert_eq!(lines.len(), 900);
        assert_eq!(lines[899], "line 0899");
        assert!(split("  ", 100).is_empty());
        assert_eq!(split(&"x".repeat(9000), 4000).concat(), "x".repeat(9000));
    }
}
