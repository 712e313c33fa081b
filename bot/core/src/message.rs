//! What comes in from chat and what goes out to it.
//!
//! An [`IncomingMessage`] is what a backend saw; an [`OutgoingMessage`] is neutral
//! [`Markup`] plus an optional [`Card`] and optional [`Action`] buttons, rendered natively by
//! each backend. [`Reply`] is what a command answers with.

use serde::{Deserialize, Serialize};

use crate::id::{MessageId, RoomId, ThreadId, UserId};
use crate::markup::Markup;

/// A chat user as a message shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The backend-qualified id.
    pub id: UserId,
    /// The name to show (falls back to the id's local part).
    pub display_name: String,
}

impl Author {
    /// An author whose display name is the local part of the id.
    pub fn from_id(id: UserId) -> Self {
        let display_name = id.local().to_owned();
        Self { id, display_name }
    }
}

/// A message a backend received.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IncomingMessage {
    /// The message's id, when the backend has one.
    pub id: Option<MessageId>,
    /// The room (for direct messages: the direct conversation).
    pub room: RoomId,
    /// The thread the message was posted in, if any.
    pub thread: Option<ThreadId>,
    /// Who wrote it.
    pub author: Author,
    /// The text, with the backend's own markup for mentions of the bot removed or normalised.
    pub text: String,
    /// True in a one-to-one conversation with the bot.
    pub direct: bool,
    /// True when the message mentions the bot (`@bot …`); the text then starts after the mention.
    pub mentioned: bool,
    /// The message this one replies to, when the backend reports replies (Discord, Matrix);
    /// `None` otherwise (on Slack a reply is a thread: see [`IncomingMessage::thread`]).
    #[serde(default)]
    pub reply_to: Option<MessageId>,
}

/// The colour family of a card.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Level {
    /// Red.
    Critical,
    /// Orange-red.
    Error,
    /// Yellow.
    Warning,
    /// Blue.
    Info,
    /// Green.
    Success,
    /// Grey.
    #[default]
    Neutral,
}

impl Level {
    /// A conventional RGB colour for this level, for backends that colour cards.
    pub fn rgb(self) -> u32 {
        match self {
            Level::Critical => 0xD0_02_1B,
            Level::Error => 0xE0_5A_00,
            Level::Warning => 0xF2_C7_44,
            Level::Info => 0x36_A6_E2,
            Level::Success => 0x2E_B8_86,
            Level::Neutral => 0x9E_9E_9E,
        }
    }

    /// The level's name, lower-case.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Critical => "critical",
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Success => "success",
            Level::Neutral => "neutral",
        }
    }
}

/// A name/value pair on a card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The label.
    pub name: String,
    /// The value.
    pub value: Markup,
    /// Whether backends may place it beside other short fields.
    pub inline: bool,
}

/// A rich block: title, link, colour, fields, footer and timestamp.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The title.
    pub title: String,
    /// Where the title links to.
    pub url: Option<String>,
    /// The colour family.
    pub level: Level,
    /// Text under the title.
    pub body: Markup,
    /// Name/value pairs.
    pub fields: Vec<Field>,
    /// Small print at the bottom.
    pub footer: Option<String>,
    /// The time the card is about.
    pub timestamp: Option<jiff::Timestamp>,
    /// Renderings in a chat network's own format, keyed by backend kind (`slack` → an array
    /// of Block Kit blocks), for content that arrives already shaped for that network (a
    /// StackStorm result with `extra.slack.blocks`). A backend that finds its kind here may
    /// use it instead of the neutral fields above, which stay the rendering for every other
    /// backend and the fallback when the native one is unusable.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub native: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Card {
    /// A card with a title.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    /// Adds a rendering in backend kind `kind`'s own format (see [`Card::native`]).
    pub fn native(mut self, kind: impl Into<String>, value: serde_json::Value) -> Self {
        self.native.insert(kind.into(), value);
        self
    }

    /// Links the title.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Sets the colour family.
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Sets the text under the title.
    pub fn body(mut self, body: impl Into<Markup>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a field shown on its own line.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Markup>) -> Self {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            inline: false,
        });
        self
    }

    /// Adds a short field that may sit beside others.
    pub fn inline_field(mut self, name: impl Into<String>, value: impl Into<Markup>) -> Self {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            inline: true,
        });
        self
    }

    /// Sets the footer.
    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    /// Sets the timestamp.
    pub fn timestamp(mut self, at: jiff::Timestamp) -> Self {
        self.timestamp = Some(at);
        self
    }

    /// Renders the card as plain text lines.
    pub fn to_plain(&self) -> String {
        let mut out = format!("[{}] {}", self.level.as_str(), self.title);
        if let Some(url) = &self.url {
            out.push_str(&format!(" <{url}>"));
        }
        out.push('\n');
        if !self.body.is_empty() {
            let body = self.body.to_plain();
            out.push_str(body.trim_end());
            out.push('\n');
        }
        for f in &self.fields {
            out.push_str(&format!("{}: {}\n", f.name, f.value.to_plain().trim_end()));
        }
        match (&self.footer, self.timestamp) {
            (Some(footer), Some(ts)) => out.push_str(&format!("— {footer} · {ts}\n")),
            (Some(footer), None) => out.push_str(&format!("— {footer}\n")),
            (None, Some(ts)) => out.push_str(&format!("— {ts}\n")),
            (None, None) => {}
        }
        out
    }
}

/// How a button looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStyle {
    /// The backend's default look.
    #[default]
    Default,
    /// Highlighted as the main choice.
    Primary,
    /// Marked as destructive.
    Danger,
}

/// A button bound to a command line. A click runs the command as the person who clicked,
/// through the dispatcher and its access rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// The button's label.
    pub label: String,
    /// The command line, without the bot's prefix (`incident join 42`).
    pub command: String,
    /// The look.
    pub style: ActionStyle,
}

impl Action {
    /// A button that runs `command` when clicked.
    pub fn new(label: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            command: command.into(),
            style: ActionStyle::Default,
        }
    }

    /// Sets the look.
    pub fn style(mut self, style: ActionStyle) -> Self {
        self.style = style;
        self
    }
}

/// A message to send: markup, an optional card and optional buttons.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// The text.
    pub text: Markup,
    /// A rich block under the text.
    pub card: Option<Card>,
    /// Buttons.
    pub actions: Vec<Action>,
}

impl OutgoingMessage {
    /// A message with this text.
    pub fn new(text: impl Into<Markup>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// A message that is just a card.
    pub fn card(card: Card) -> Self {
        Self {
            card: Some(card),
            ..Self::default()
        }
    }

    /// Adds a card.
    pub fn with_card(mut self, card: Card) -> Self {
        self.card = Some(card);
        self
    }

    /// Adds a button.
    pub fn with_action(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    /// Renders the whole message as plain text, buttons listed as commands to type.
    ///
    /// `prefix` is the bot's command prefix, used to show how to type each action.
    pub fn to_plain(&self, prefix: &str) -> String {
        let mut out = self.text.to_plain();
        if let Some(card) = &self.card {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&card.to_plain());
        }
        if !self.actions.is_empty() {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&actions_as_text(&self.actions, prefix));
        }
        out.trim_end_matches('\n').to_owned()
    }
}

impl From<&str> for OutgoingMessage {
    fn from(text: &str) -> Self {
        OutgoingMessage::new(text)
    }
}

impl From<String> for OutgoingMessage {
    fn from(text: String) -> Self {
        OutgoingMessage::new(text)
    }
}

impl From<Markup> for OutgoingMessage {
    fn from(text: Markup) -> Self {
        OutgoingMessage::new(text)
    }
}

impl From<Card> for OutgoingMessage {
    fn from(card: Card) -> Self {
        OutgoingMessage::card(card)
    }
}

/// Lists actions as commands to type, for backends without buttons.
pub fn actions_as_text(actions: &[Action], prefix: &str) -> String {
    let items: Vec<String> = actions
        .iter()
        .map(|a| format!("{}: {prefix}{}", a.label, a.command))
        .collect();
    format!("Actions — {}", items.join(" · "))
}

/// How a reply is delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplyRoute {
    /// Where the command came from (same room, same thread).
    #[default]
    Origin,
    /// In the caller's direct messages.
    Private,
}

/// What a command answers with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    /// The message, or nothing.
    pub message: Option<OutgoingMessage>,
    /// Where it goes.
    pub route: ReplyRoute,
}

impl Reply {
    /// No reply.
    pub fn none() -> Self {
        Self::default()
    }

    /// A plain-text reply.
    pub fn text(text: impl Into<String>) -> Self {
        Self::message(OutgoingMessage::new(Markup::new().text(text)))
    }

    /// A formatted reply.
    pub fn markup(text: Markup) -> Self {
        Self::message(OutgoingMessage::new(text))
    }

    /// A card reply.
    pub fn card(card: Card) -> Self {
        Self::message(OutgoingMessage::card(card))
    }

    /// A reply with a full message.
    pub fn message(message: OutgoingMessage) -> Self {
        Self {
            message: Some(message),
            route: ReplyRoute::Origin,
        }
    }

    /// Sends the reply to the caller's direct messages instead of the room.
    pub fn private(mut self) -> Self {
        self.route = ReplyRoute::Private;
        self
    }

    /// Adds a button to the reply.
    pub fn with_action(mut self, action: Action) -> Self {
        let message = self.message.take().unwrap_or_default();
        self.message = Some(message.with_action(action));
        self
    }
}

impl From<String> for Reply {
    fn from(text: String) -> Self {
        Reply::text(text)
    }
}

impl From<&str> for Reply {
    fn from(text: &str) -> Self {
        Reply::text(text)
    }
}

impl From<Card> for Reply {
    fn from(card: Card) -> Self {
        Reply::card(card)
    }
}

impl From<OutgoingMessage> for Reply {
    fn from(message: OutgoingMessage) -> Self {
        Reply::message(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_and_actions_degrade_to_readable_text() {
        let msg = OutgoingMessage::new("Incident declared")
            .with_card(
                Card::new("INC-42: checkout down")
                    .url("https://x/42")
                    .level(Level::Critical)
                    .field("Severity", "sev1")
                    .footer("ferrbot"),
            )
            .with_action(Action::new("Join", "incident join 42"))
            .with_action(Action::new("Ack", "incident ack 42"));
        assert_eq!(
            msg.to_plain("!"),
            "Incident declared\n[critical] INC-42: checkout down <https://x/42>\nSeverity: sev1\n— ferrbot\nActions — Join: !incident join 42 · Ack: !incident ack 42"
        );
    }
}
