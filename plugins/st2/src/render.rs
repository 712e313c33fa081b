//! StackStorm chat messages (`chatops.post_message`/`post_result` announcements, acks,
//! webhook posts) turned into neutral ferrbot messages.
//!
//! - `{~}` splits the plain text (before) from the rich part (after), which becomes a card.
//! - `extra.slack` (err-stackstorm's legacy attachment fields: `color`, `title`,
//!   `title_link`, `pretext`, `text`, `fields[{title,value,short}]`, `footer`, `image_url`,
//!   and Block Kit `blocks`) shapes that card: colour → level, fields → card fields. Block
//!   Kit `blocks` ride on the card as its Slack-native rendering (`Card::native`), so Slack
//!   shows them as sent; other backends get their text in order. The card is otherwise
//!   neutral, so every backend renders it natively (Slack as an attachment, Discord as an
//!   embed, Matrix and the console as formatted text).
//! - Fenced ``` blocks in the text become code blocks; line breaks are kept.

use ferrbot::markup::Markup;
use ferrbot::message::{Card, Level, OutgoingMessage};
use serde_json::Value;

/// The `{~}` delimiter.
pub const DELIMITER: &str = "{~}";

/// Builds the message for `text` with its `extra`.
pub fn render(text: &str, extra: &Value) -> OutgoingMessage {
    let (plain, rich) = match text.split_once(DELIMITER) {
        Some((p, r)) => (p.trim(), Some(r.trim())),
        None => (text.trim_end(), None),
    };
    let slack = extra.get("slack").filter(|v| v.is_object());
    let mut message = OutgoingMessage::new(markup(plain));
    let card = match (rich, slack) {
        (None, None) => None,
        (rich, Some(slack)) => Some(slack_card(slack, rich.unwrap_or_default())),
        (Some(rich), None) => Some(Card::new("").body(markup(rich))),
    };
    if let Some(card) = card {
        if message.text.is_empty() && card.title.is_empty() && card.fields.is_empty() {
            // Only a rich part with nothing card-like: keep it as text.
            message.text = card.body;
        } else {
            message = message.with_card(card);
        }
    }
    message
}

/// Text with fenced code blocks and line breaks kept.
pub fn markup(text: &str) -> Markup {
    let mut m = Markup::new();
    for (i, part) in text.split("```").enumerate() {
        if i % 2 == 1 {
            let code = part.strip_prefix('\n').unwrap_or(part);
            m = m.code_block(None, code.trim_end_matches('\n'));
            continue;
        }
        let mut lines = part.split('\n').peekable();
        while let Some(line) = lines.next() {
            if !line.is_empty() {
                m = m.text(line);
            }
            if lines.peek().is_some() {
                m = m.line();
            }
        }
    }
    m
}

/// A card from a legacy attachment (`extra.slack`), its text falling back to `rich`.
fn slack_card(slack: &Value, rich: &str) -> Card {
    let s = |k: &str| slack.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut card = Card::new(s("title")).level(level(s("color")));
    if !s("title_link").is_empty() {
        card = card.url(s("title_link"));
    }
    let mut body = Vec::new();
    for part in [s("pretext"), s("text"), rich] {
        if !part.trim().is_empty() && !body.contains(&part.trim()) {
            body.push(part.trim());
        }
    }
    if let Some(blocks) = slack.get("blocks").and_then(Value::as_array) {
        // Slack shows the blocks themselves; other backends get their text.
        card = card.native("slack", Value::Array(blocks.clone()));
        let texts: Vec<String> = blocks.iter().filter_map(block_text).collect();
        let joined = texts.join("\n");
        if !joined.is_empty() {
            card = card.body(markup([body.join("\n"), joined].join("\n").trim_start()));
        } else if !body.is_empty() {
            card = card.body(markup(&body.join("\n")));
        }
    } else if !body.is_empty() {
        card = card.body(markup(&body.join("\n")));
    }
    if let Some(fields) = slack.get("fields").and_then(Value::as_array) {
        for f in fields {
            let name = f.get("title").and_then(Value::as_str).unwrap_or_default();
            let value = match f.get("value") {
                Some(Value::String(v)) => v.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            if f.get("short").and_then(Value::as_bool).unwrap_or(false) {
                card = card.inline_field(name, markup(&value));
            } else {
                card = card.field(name, markup(&value));
            }
        }
    }
    if !s("footer").is_empty() {
        card = card.footer(s("footer"));
    }
    if !s("image_url").is_empty() {
        let url = s("image_url").to_owned();
        card.body = card.body.line().link(url.clone(), url);
    }
    card
}

/// The text of one Block Kit block (section text and fields, header, context, rich text).
fn block_text(block: &Value) -> Option<String> {
    let text_of = |v: &Value| -> Option<String> {
        v.get("text").and_then(|t| {
            t.as_str()
                .map(str::to_owned)
                .or_else(|| t.get("text").and_then(Value::as_str).map(str::to_owned))
        })
    };
    match block.get("type").and_then(Value::as_str)? {
        "section" | "header" => {
            let mut parts: Vec<String> = text_of(block).into_iter().collect();
            if let Some(fields) = block.get("fields").and_then(Value::as_array) {
                parts.extend(
                    fields
                        .iter()
                        .filter_map(|f| f.get("text").and_then(Value::as_str))
                        .map(str::to_owned),
                );
            }
            (!parts.is_empty()).then(|| parts.join("\n"))
        }
        "context" => {
            let parts: Vec<String> = block
                .get("elements")
                .and_then(Value::as_array)?
                .iter()
                .filter_map(|e| e.get("text").and_then(Value::as_str).map(str::to_owned))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        "divider" => Some("———".to_owned()),
        _ => None,
    }
}

/// A colour family from a Slack colour (`good`, `warning`, `danger` or `#rrggbb`).
pub fn level(color: &str) -> Level {
    let c = color.trim().trim_start_matches('#').to_lowercase();
    match c.as_str() {
        "" => Level::Neutral,
        "good" => Level::Success,
        "warning" => Level::Warning,
        "danger" => Level::Error,
        hex if hex.len() == 6 && hex.chars().all(|ch| ch.is_ascii_hexdigit()) => {
            let v = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
            let (r, g, b) = (v(0), v(2), v(4));
            if g > r.saturating_add(40) && g > b {
                Level::Success
            } else if r > 150 && g > 100 && b < 100 {
                Level::Warning
            } else if r > g.saturating_add(60) && r > b {
                Level::Error
            } else {
                Level::Info
            }
        }
        _ => Level::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delimiter_splits_text_from_card() {
        let m = render("Ran date {~} Sun Nov 22", &json!({}));
        assert_eq!(m.text.to_plain(), "Ran date");
        assert_eq!(m.card.unwrap().body.to_plain(), "Sun Nov 22");
    }

    #[test]
    fn plain_message_has_no_card() {
        let m = render("hello\nworld", &json!({}));
        assert!(m.card.is_none());
        assert_eq!(m.text.to_plain(), "hello\nworld");
    }

    #[test]
    fn slack_attachment_fields_make_the_card() {
        let m = render(
            "done {~} details",
            &json!({"slack": {"color": "#00AA00", "title": "Deploy", "title_link": "https://x",
                "fields": [{"title": "host", "value": "web1", "short": true}], "footer": "st2"}}),
        );
        let card = m.card.unwrap();
        assert_eq!(card.title, "Deploy");
        assert_eq!(card.level, Level::Success);
        assert_eq!(card.url.as_deref(), Some("https://x"));
        assert_eq!(card.fields[0].name, "host");
        assert!(card.fields[0].inline);
        assert_eq!(card.body.to_plain(), "details");
        assert_eq!(card.footer.as_deref(), Some("st2"));
    }

    #[test]
    fn blocks_are_rendered_as_text() {
        let m = render(
            "x",
            &json!({"slack": {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "small"}]}]}}),
        );
        let card = m.card.unwrap();
        assert_eq!(card.body.to_plain(), "*hi*\nsmall");
        assert_eq!(card.native["slack"][0]["type"], "section");
        assert_eq!(card.native["slack"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn colours() {
        assert_eq!(level("danger"), Level::Error);
        assert_eq!(level("#FF0000"), Level::Error);
        assert_eq!(level("#E8A317"), Level::Warning);
        assert_eq!(level(""), Level::Neutral);
    }

    #[test]
    fn code_fences_become_code_blocks() {
        let m = markup("result:\n```\nline1\nline2\n```");
        assert!(m.spans().iter().any(|s| matches!(s,
            ferrbot::markup::Span::CodeBlock { code, .. } if code == "line1\nline2")));
    }
}
