//! Outgoing messages → `chat.postMessage` bodies: mrkdwn text, cards as Block Kit in a
//! coloured attachment, actions as buttons.
//!
//! A card becomes a `header` (or, when it links somewhere, a bold linked `section`), a
//! `section` with the body, `section` `fields` for the name/value pairs, and a `context` with
//! the footer and timestamp. Block Kit has no colour of its own, so the blocks ride in one
//! legacy attachment whose `color` is the card's level. Actions become `button`s in an
//! `actions` block; each button's `value` is the command line it runs and its `action_id`
//! starts with [`ACTION_PREFIX`], so a click can be told apart from other apps' blocks.

use ferrbot::message::{ActionStyle, Card, OutgoingMessage, actions_as_text};
use serde_json::{Value, json};

use crate::mrkdwn::{self, MAX_MESSAGE_CHARS, escape, truncate};

/// The prefix of every button's `action_id`.
pub const ACTION_PREFIX: &str = "ferrbot_action_";

/// Block Kit limits.
mod limits {
    pub const HEADER: usize = 150;
    pub const SECTION_TEXT: usize = 3_000;
    pub const FIELD_TEXT: usize = 2_000;
    pub const FIELDS_PER_SECTION: usize = 10;
    pub const BUTTON_TEXT: usize = 75;
    pub const BUTTON_VALUE: usize = 2_000;
    pub const BUTTONS: usize = 25;
    /// Blocks in one message or attachment.
    pub const BLOCKS: usize = 50;
}

fn section(text: &str) -> Value {
    json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": truncate(text, limits::SECTION_TEXT) }
    })
}

/// The blocks of a card (without actions).
pub fn card_blocks(backend: &str, card: &Card) -> Vec<Value> {
    let mut blocks = Vec::new();
    let title = card.title.trim();
    match card
        .url
        .as_deref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    {
        Some(url) => {
            let url = url
                .replace('|', "%7C")
                .replace('<', "%3C")
                .replace('>', "%3E");
            let title = if title.is_empty() {
                url.as_str()
            } else {
                title
            };
            blocks.push(section(&format!(
                "*<{url}|{}>*",
                escape(&title.replace('|', "¦"))
            )));
        }
        None if !title.is_empty() => blocks.push(json!({
            "type": "header",
            "text": { "type": "plain_text", "text": truncate(title, limits::HEADER), "emoji": true }
        })),
        None => {}
    }
    if !card.body.is_empty() {
        let body = mrkdwn::render(backend, &card.body);
        blocks.push(section(body.trim_end()));
    }
    let mut inline: Vec<Value> = Vec::new();
    let flush = |inline: &mut Vec<Value>, blocks: &mut Vec<Value>| {
        for chunk in inline.chunks(limits::FIELDS_PER_SECTION) {
            blocks.push(json!({ "type": "section", "fields": chunk }));
        }
        inline.clear();
    };
    for field in &card.fields {
        let value = mrkdwn::render(backend, &field.value);
        let text = format!("*{}*\n{}", escape(field.name.trim()), value.trim_end());
        if field.inline {
            inline.push(json!({ "type": "mrkdwn", "text": truncate(&text, limits::FIELD_TEXT) }));
        } else {
            flush(&mut inline, &mut blocks);
            blocks.push(section(&text));
        }
    }
    flush(&mut inline, &mut blocks);
    let mut context = Vec::new();
    if let Some(footer) = card.footer.as_deref().filter(|f| !f.trim().is_empty()) {
        context.push(escape(footer.trim()));
    }
    if let Some(ts) = card.timestamp {
        let secs = ts.as_second();
        context.push(format!(
            "<!date^{secs}^{{date_short_pretty}} {{time}}|{}>",
            escape(&ts.to_string())
        ));
    }
    if !context.is_empty() {
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": context.join(" · ") }]
        }));
    }
    blocks
}

/// The `#rrggbb` colour of a card's level.
pub fn colour(card: &Card) -> String {
    format!("#{:06X}", card.level.rgb())
}

/// The card's own Block Kit blocks (`Card::native["slack"]`), when they look usable: a
/// non-empty array of objects that each have a `type`, within Slack's 50-block limit (less
/// room for the buttons row).
fn native_blocks(card: &Card) -> Option<Vec<Value>> {
    let blocks = card.native.get("slack")?.as_array()?;
    let usable = !blocks.is_empty()
        && blocks.len() < limits::BLOCKS
        && blocks
            .iter()
            .all(|b| b.get("type").and_then(Value::as_str).is_some());
    usable.then(|| blocks.clone())
}

/// Renders a message as the bodies of one or more `chat.postMessage` calls (without
/// `channel`/`thread_ts`); the card and buttons ride on the last one.
pub fn render(backend: &str, prefix: &str, message: &OutgoingMessage) -> Vec<Value> {
    let mut text = mrkdwn::render(backend, &message.text);
    let buttons: Vec<Value> = message
        .actions
        .iter()
        .filter(|a| a.command.chars().count() <= limits::BUTTON_VALUE)
        .take(limits::BUTTONS)
        .enumerate()
        .map(|(i, a)| {
            let mut b = json!({
                "type": "button",
                "action_id": format!("{ACTION_PREFIX}{i}"),
                "text": { "type": "plain_text", "text": truncate(a.label.trim(), limits::BUTTON_TEXT), "emoji": true },
                "value": a.command,
            });
            match a.style {
                ActionStyle::Primary => b["style"] = json!("primary"),
                ActionStyle::Danger => b["style"] = json!("danger"),
                _ => {}
            }
            b
        })
        .collect();
    // Actions that cannot be buttons are listed as commands to type.
    let overflow: Vec<_> = message
        .actions
        .iter()
        .filter(|a| {
            !buttons
                .iter()
                .any(|b| b["value"].as_str() == Some(a.command.as_str()))
        })
        .cloned()
        .collect();
    if !overflow.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&escape(&actions_as_text(&overflow, prefix)));
    }
    let mut bodies: Vec<Value> = mrkdwn::split(text.trim_end_matches('\n'), MAX_MESSAGE_CHARS)
        .into_iter()
        .map(|part| json!({ "text": part }))
        .collect();
    let mut blocks = message
        .card
        .as_ref()
        .map(|c| native_blocks(c).unwrap_or_else(|| card_blocks(backend, c)))
        .unwrap_or_default();
    if !buttons.is_empty() {
        blocks.push(json!({ "type": "actions", "elements": buttons }));
    }
    if !blocks.is_empty() {
        let fallback = message
            .card
            .as_ref()
            .map(|c| c.to_plain())
            .unwrap_or_else(|| actions_as_text(&message.actions, prefix));
        let mut attachment =
            json!({ "fallback": truncate(fallback.trim_end(), 300), "blocks": blocks });
        if let Some(card) = &message.card {
            attachment["color"] = json!(colour(card));
        }
        if bodies.is_empty() {
            bodies.push(json!({}));
        }
        if let Some(Value::Object(last)) = bodies.last_mut() {
            last.insert("attachments".into(), json!([attachment]));
        }
    }
    for body in &mut bodies {
        body["unfurl_links"] = json!(false);
    }
    bodies
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferrbot::message::{Action, Level};

    #[test]
    fn cards_become_block_kit_in_a_coloured_attachment() {
        let at: jiff::Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let card = Card::new("INC-42 <down>")
            .level(Level::Critical)
            .body("checkout & cart")
            .inline_field("Severity", "sev1")
            .inline_field("Lead", "alice")
            .field("Summary", "all bad")
            .footer("ferrbot")
            .timestamp(at);
        let msg = OutgoingMessage::new("Declared")
            .with_card(card)
            .with_action(Action::new("Join", "incident join 42").style(ActionStyle::Primary))
            .with_action(Action::new("Close", "incident close 42").style(ActionStyle::Danger));
        let bodies = render("slack", "!", &msg);
        assert_eq!(bodies.len(), 1);
        let b = &bodies[0];
        assert_eq!(b["text"], "Declared");
        let att = &b["attachments"][0];
        assert_eq!(att["color"], "#D0021B");
        let blocks = att["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["text"], "INC-42 <down>");
        assert_eq!(blocks[1]["text"]["text"], "checkout &amp; cart");
        assert_eq!(blocks[2]["fields"][0]["text"], "*Severity*\nsev1");
        assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), 2);
        assert_eq!(blocks[3]["text"]["text"], "*Summary*\nall bad");
        assert_eq!(blocks[4]["type"], "context");
        let ctx = blocks[4]["elements"][0]["text"].as_str().unwrap();
        assert!(ctx.starts_with("ferrbot · <!date^1714564800^"), "{ctx}");
        let actions = &blocks[5];
        assert_eq!(actions["type"], "actions");
        assert_eq!(actions["elements"][0]["value"], "incident join 42");
        assert_eq!(actions["elements"][0]["style"], "primary");
        assert_eq!(actions["elements"][1]["style"], "danger");
        assert_eq!(actions["elements"][1]["action_id"], "ferrbot_action_1");
    }

    #[test]
    fn linked_cards_use_a_linked_title() {
        let card = Card::new("Issue").url("https://sentry.example/1");
        let blocks = card_blocks("slack", &card);
        assert_eq!(
            blocks[0]["text"]["text"],
            "*<https://sentry.example/1|Issue>*"
        );
    }

    #[test]
    fn long_text_is_split_with_the_card_on_the_last_part() {
        let text = "word ".repeat(2000);
        let msg = OutgoingMessage::new(text.as_str()).with_card(Card::new("t"));
        let bodies = render("slack", "!", &msg);
        assert_eq!(bodies.len(), 3);
        assert!(bodies[0].get("attachments").is_none());
        assert!(bodies[2].get("attachments").is_some());
    }

    #[test]
    fn too_long_commands_are_listed_as_text() {
        let long = format!("say {}", "x".repeat(2100));
        let msg = OutgoingMessage::new("pick").with_action(Action::new("Long", long.as_str()));
        let bodies = render("slack", "!", &msg);
        assert!(
            bodies[0]["text"]
                .as_str()
                .unwrap()
                .contains("Long: !say xxx")
        );
        assert!(bodies[0].get("attachments").is_none());
    }

    #[test]
    fn a_cards_own_block_kit_is_used_on_slack_and_bad_blocks_are_not() {
        let native = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*native*"}}]);
        let card = Card::new("neutral title").native("slack", native.clone());
        let bodies = render("slack", "!", &OutgoingMessage::card(card));
        let att = &bodies.last().unwrap()["attachments"][0];
        assert_eq!(att["blocks"], native);
        // Blocks without a type fall back to the neutral rendering.
        let card = Card::new("neutral title").native("slack", json!([{"text": "no type"}]));
        let bodies = render("slack", "!", &OutgoingMessage::card(card));
        let att = &bodies.last().unwrap()["attachments"][0];
        assert_eq!(att["blocks"][0]["type"], "header");
    }
}
