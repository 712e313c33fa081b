//! Neutral markup → Discord: markdown with escaping, embeds, buttons and `allowed_mentions`.
//!
//! User text (every [`Span::Text`]) is escaped so it cannot format, cannot form a mention
//! (`<@…>`, `<@&…>`, `<#…>`) and cannot ping `@everyone` or `@here` (a zero-width space is put
//! after the `@`). Independently, every message carries `allowed_mentions` that lets Discord ping
//! only the users the markup mentions on purpose ([`Span::Mention`]), never roles, everyone or
//! the replied-to user. Cards become one embed coloured by level; actions become buttons.

use ferrbot::markup::{Markup, Span};
use ferrbot::message::{ActionStyle, Card, OutgoingMessage, actions_as_text};
use serde_json::{Value, json};

use crate::split::{MAX_MESSAGE_CHARS, split_message};

/// Discord's limits on embeds and components.
mod limits {
    pub const TITLE: usize = 256;
    pub const DESCRIPTION: usize = 4_096;
    pub const FIELDS: usize = 25;
    pub const FIELD_NAME: usize = 256;
    pub const FIELD_VALUE: usize = 1_024;
    pub const FOOTER: usize = 2_048;
    pub const BUTTONS_PER_ROW: usize = 5;
    pub const ROWS: usize = 5;
    pub const LABEL: usize = 80;
    pub const MENTIONED_USERS: usize = 100;
}

const ZWSP: char = '\u{200B}';

/// A message rendered for Discord: one or more JSON bodies for `POST /channels/{id}/messages`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    /// The content, split into Discord-sized parts.
    pub parts: Vec<String>,
    /// The card as an embed.
    pub embed: Option<Value>,
    /// Action rows of buttons.
    pub components: Vec<Value>,
    /// Users the markup mentions on purpose (snowflakes).
    pub mentions: Vec<String>,
}

impl Rendered {
    /// The JSON bodies to post, in order; the embed and buttons ride on the last one.
    pub fn bodies(&self) -> Vec<Value> {
        let allowed = self.allowed_mentions();
        let mut bodies: Vec<Value> = self
            .parts
            .iter()
            .map(|part| json!({ "content": part, "allowed_mentions": allowed }))
            .collect();
        if self.embed.is_none() && self.components.is_empty() {
            return bodies;
        }
        if bodies.is_empty() {
            bodies.push(json!({ "content": "", "allowed_mentions": allowed }));
        }
        if let Some(Value::Object(last)) = bodies.last_mut() {
            if let Some(embed) = &self.embed {
                last.insert("embeds".into(), json!([embed]));
            }
            if !self.components.is_empty() {
                last.insert("components".into(), Value::Array(self.components.clone()));
            }
        }
        bodies
    }

    /// `allowed_mentions`: only the intended users; no roles, no everyone/here, no reply ping.
    pub fn allowed_mentions(&self) -> Value {
        json!({ "parse": [], "users": self.mentions, "roles": [], "replied_user": false })
    }
}

/// Renders markup as Discord markdown; mentioned users' snowflakes are added to `mentions`.
pub struct Renderer<'a> {
    backend: &'a str,
    mentions: Vec<String>,
}

impl<'a> Renderer<'a> {
    /// A renderer for backend instance `backend` (mentions of its users become pings).
    pub fn new(backend: &'a str) -> Self {
        Self {
            backend,
            mentions: Vec::new(),
        }
    }

    /// Renders markup.
    pub fn markup(&mut self, markup: &Markup) -> String {
        let mut out = String::new();
        self.spans(markup.spans(), &mut out, 0);
        out
    }

    fn spans(&mut self, spans: &[Span], out: &mut String, depth: usize) {
        for span in spans {
            match span {
                Span::Text { text } => out.push_str(&escape(text)),
                Span::Bold { inner } => {
                    out.push_str("**");
                    self.spans(inner.spans(), out, depth);
                    out.push_str("**");
                }
                Span::Italic { inner } => {
                    out.push('*');
                    self.spans(inner.spans(), out, depth);
                    out.push('*');
                }
                Span::Code { code } => out.push_str(&inline_code(code)),
                Span::CodeBlock { lang, code } => {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push_str("```");
                    if let Some(lang) = lang {
                        out.extend(
                            lang.chars()
                                .filter(|c| c.is_ascii_alphanumeric() || "+-#_".contains(*c)),
                        );
                    }
                    out.push('\n');
                    let code = neutralise_fences(code);
                    out.push_str(code.trim_end_matches('\n'));
                    out.push_str("\n```\n");
                }
                Span::Link { url, label } => out.push_str(&link(url, label.as_deref())),
                Span::Mention { user } => {
                    let local = user.local();
                    if user.backend() == self.backend
                        && !local.is_empty()
                        && local.chars().all(|c| c.is_ascii_digit())
                    {
                        out.push_str(&format!("<@{local}>"));
                        if !self.mentions.iter().any(|m| m == local)
                            && self.mentions.len() < limits::MENTIONED_USERS
                        {
                            self.mentions.push(local.to_owned());
                        }
                    } else {
                        out.push_str(&escape(&format!("@{local}")));
                    }
                }
                Span::List { ordered, items } => {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    for (i, item) in items.iter().enumerate() {
                        out.push_str(&"  ".repeat(depth));
                        if *ordered {
                            out.push_str(&format!("{}. ", i + 1));
                        } else {
                            out.push_str("- ");
                        }
                        self.spans(item.spans(), out, depth + 1);
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

    /// Renders a card as an embed.
    pub fn embed(&mut self, card: &Card) -> Value {
        let mut embed = serde_json::Map::new();
        embed.insert("type".into(), json!("rich"));
        if !card.title.trim().is_empty() {
            embed.insert(
                "title".into(),
                json!(truncate(&escape(&card.title), limits::TITLE)),
            );
        }
        if let Some(url) = card.url.as_deref().filter(|u| is_web_url(u)) {
            embed.insert("url".into(), json!(url));
        }
        embed.insert("color".into(), json!(card.level.rgb()));
        if !card.body.is_empty() {
            let body = self.markup(&card.body);
            embed.insert(
                "description".into(),
                json!(truncate(body.trim_end(), limits::DESCRIPTION)),
            );
        }
        let fields: Vec<Value> = card
            .fields
            .iter()
            .take(limits::FIELDS)
            .map(|f| {
                let value = self.markup(&f.value);
                let value = value.trim_end();
                json!({
                    "name": truncate(&or_blank(&escape(&f.name)), limits::FIELD_NAME),
                    "value": truncate(&or_blank(value), limits::FIELD_VALUE),
                    "inline": f.inline,
                })
            })
            .collect();
        if !fields.is_empty() {
            embed.insert("fields".into(), Value::Array(fields));
        }
        if let Some(footer) = card.footer.as_deref().filter(|f| !f.trim().is_empty()) {
            embed.insert(
                "footer".into(),
                json!({ "text": truncate(footer, limits::FOOTER) }),
            );
        }
        if let Some(ts) = card.timestamp {
            embed.insert("timestamp".into(), json!(ts.to_string()));
        }
        Value::Object(embed)
    }
}

/// Renders a whole message. `custom_ids[i]` is the button id of `message.actions[i]`.
pub fn render(
    backend: &str,
    prefix: &str,
    message: &OutgoingMessage,
    custom_ids: &[String],
) -> Rendered {
    let mut r = Renderer::new(backend);
    let mut text = r.markup(&message.text);
    let embed = message.card.as_ref().map(|c| r.embed(c));
    let capacity = limits::ROWS * limits::BUTTONS_PER_ROW;
    let buttons: Vec<Value> = message
        .actions
        .iter()
        .zip(custom_ids)
        .take(capacity)
        .map(|(a, id)| {
            let style = match a.style {
                ActionStyle::Primary => 1,
                ActionStyle::Danger => 4,
                _ => 2,
            };
            let label = truncate(a.label.trim(), limits::LABEL);
            json!({ "type": 2, "style": style, "label": or_blank(&label), "custom_id": id })
        })
        .collect();
    let components = buttons
        .chunks(limits::BUTTONS_PER_ROW)
        .map(|row| json!({ "type": 1, "components": row }))
        .collect();
    // Actions beyond what buttons can hold are listed as commands to type.
    let overflow: Vec<_> = message
        .actions
        .iter()
        .skip(buttons.len())
        .cloned()
        .collect();
    if !overflow.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&escape(&actions_as_text(&overflow, prefix)));
    }
    Rendered {
        parts: split_message(text.trim_end_matches('\n'), MAX_MESSAGE_CHARS),
        embed,
        components,
        mentions: r.mentions,
    }
}

/// Escapes user text: no formatting, no mentions, no `@everyone`/`@here`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        // Leave web addresses alone (escaping `_` would break them), but never let one carry
        // a mention or formatting across: it ends at whitespace and at the characters below.
        if rest.starts_with("https://") || rest.starts_with("http://") {
            let end = rest
                .find(|c: char| c.is_whitespace() || "<>`|*~\\\"".contains(c))
                .unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            line_start = false;
            continue;
        }
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' if line_start => {
                out.push('\\');
                out.push(c);
            }
            '@' => {
                out.push('@');
                let after = &rest[1..];
                if after.starts_with("everyone")
                    || after.starts_with("here")
                    || after.starts_with('&')
                {
                    out.push(ZWSP);
                }
            }
            c => out.push(c),
        }
        line_start = c == '\n' || (line_start && c == ' ');
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn inline_code(code: &str) -> String {
    if code.is_empty() {
        return String::new();
    }
    let code = code.replace('\n', " ");
    if code.contains('`') {
        let code = code.replace("``", &format!("`{ZWSP}`"));
        format!("`` {code} ``")
    } else {
        format!("`{code}`")
    }
}

fn neutralise_fences(code: &str) -> String {
    code.replace("```", &format!("``{ZWSP}`"))
}

fn is_web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn link(url: &str, label: Option<&str>) -> String {
    if !is_web_url(url) {
        let text = match label {
            Some(l) if l != url => format!("{l} ({url})"),
            _ => url.to_owned(),
        };
        return escape(&text);
    }
    let url = url
        .replace(')', "%29")
        .replace('(', "%28")
        .replace('<', "%3C")
        .replace('>', "%3E");
    match label {
        Some(label) if label != url && !label.trim().is_empty() => {
            format!("[{}]({url})", escape(label))
        }
        _ => url,
    }
}

fn or_blank(s: &str) -> String {
    if s.trim().is_empty() {
        ZWSP.to_string()
    } else {
        s.to_owned()
    }
}

/// Truncates to `max` characters, ending with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ferrbot::message::{Action, Level};

    fn user(s: &str) -> ferrbot::UserId {
        s.parse().unwrap()
    }

    #[test]
    fn user_text_cannot_ping_everyone_or_inject_mentions() {
        let text = escape("hey @everyone and @here, <@123> <@&456> **bold**");
        assert!(!text.contains("@everyone"), "{text}");
        assert!(!text.contains("@here"), "{text}");
        assert!(!text.contains("<@123>"), "{text}");
        assert!(!text.contains("<@&456>"), "{text}");
        assert!(text.contains("\\*\\*bold\\*\\*"), "{text}");
        let r = render("discord", "!", &OutgoingMessage::new("@everyone look"), &[]);
        let body = &r.bodies()[0];
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
        assert_eq!(body["allowed_mentions"]["users"], json!([]));
    }

    #[test]
    fn intended_mentions_ping_only_those_users() {
        let m = Markup::new()
            .mention(user("discord:80351110224678912"))
            .text(" and ")
            .mention(user("slack:U1"));
        let r = render("discord", "!", &OutgoingMessage::new(m), &[]);
        assert_eq!(r.parts, vec!["<@80351110224678912> and @U1".to_owned()]);
        assert_eq!(
            r.bodies()[0]["allowed_mentions"]["users"],
            json!(["80351110224678912"])
        );
    }

    #[test]
    fn markdown_rendering() {
        let m = Markup::new()
            .bold("Deploy")
            .text(" of ")
            .code("api`v2")
            .text(" ")
            .link("logs", "https://x.example/l?a=(1)")
            .line()
            .list(["one", "two_three"])
            .code_block(Some("sh"), "echo ```hi```");
        let mut r = Renderer::new("discord");
        let out = r.markup(&m);
        assert_eq!(
            out,
            "**Deploy** of `` api`v2 `` [logs](https://x.example/l?a=%281%29)\n- one\n- two\\_three\n```sh\necho ``\u{200B}`hi``\u{200B}`\n```\n"
        );
        assert_eq!(
            escape("see https://a.example/x_y ok"),
            "see https://a.example/x_y ok"
        );
        assert_eq!(escape("# not a heading"), "\\# not a heading");
    }

    #[test]
    fn cards_become_coloured_embeds_and_actions_buttons() {
        let at: jiff::Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let card = Card::new("INC-42")
            .url("https://x.example/42")
            .level(Level::Critical)
            .body("checkout down")
            .inline_field("Severity", "sev1")
            .footer("ferrbot")
            .timestamp(at);
        let msg = OutgoingMessage::card(card)
            .with_action(Action::new("Join", "incident join 42").style(ActionStyle::Primary))
            .with_action(Action::new("Close", "incident close 42").style(ActionStyle::Danger));
        let ids = vec![
            "fb:c:incident join 42".to_owned(),
            "fb:c:incident close 42".to_owned(),
        ];
        let r = render("discord", "!", &msg, &ids);
        let bodies = r.bodies();
        assert_eq!(bodies.len(), 1);
        let embed = &bodies[0]["embeds"][0];
        assert_eq!(embed["title"], "INC-42");
        assert_eq!(embed["color"], json!(0xD0_02_1B));
        assert_eq!(embed["fields"][0]["inline"], json!(true));
        assert_eq!(embed["footer"]["text"], "ferrbot");
        assert_eq!(embed["timestamp"], "2024-05-01T12:00:00Z");
        let row = &bodies[0]["components"][0];
        assert_eq!(row["type"], 1);
        assert_eq!(row["components"][0]["style"], 1);
        assert_eq!(row["components"][1]["style"], 4);
        assert_eq!(row["components"][1]["custom_id"], "fb:c:incident close 42");
    }

    #[test]
    fn long_messages_are_split_with_embed_on_the_last_part() {
        let text = "word ".repeat(1000);
        let msg = OutgoingMessage::new(text.as_str()).with_card(Card::new("t"));
        let r = render("discord", "!", &msg, &[]);
        let bodies = r.bodies();
        assert_eq!(bodies.len(), 3);
        assert!(bodies[0].get("embeds").is_none());
        assert!(bodies[2].get("embeds").is_some());
    }
}
