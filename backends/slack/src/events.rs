//! Slack payloads → ferrbot events.
//!
//! Both intakes (Socket Mode and the Events API) acknowledge a payload first and then hand it
//! to one worker per backend ([`worker`]), which turns it into [`BackendEvent`]s in arrival
//! order (looking display names up on the way) and submits them to the bot:
//!
//! - `event_callback` with a `message` (channel, group, im or mpim; thread replies carry
//!   `thread_ts`) or an `app_mention` → [`IncomingMessage`]. The bot's own messages and, with
//!   `ignore_bots`, other bots' are ignored, as are joins and other subtypes. A message that
//!   arrives as both `message` and `app_mention`, or is redelivered, is handled once.
//! - `message_changed` / `message_deleted` / `pin_added` / `pin_removed` /
//!   `reaction_added` / `reaction_removed` → [`MessageEvent`]s (not the bot's own). A
//!   reaction (or a pin without the message) carries the message's text when the bot saw it
//!   posted or edited ([`crate::texts`]).
//! - `block_actions` on a ferrbot button → a [`CommandRequest`] from the clicking user.
//! - a slash command → a [`CommandRequest`]; its `response_url` is kept for the reply.

use std::sync::Arc;

use ferrbot::Inbox;
use ferrbot::backend::{BackendEvent, CommandRequest, CommandSource, MessageEvent};
use ferrbot::message::{Author, IncomingMessage};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::blocks::ACTION_PREFIX;
use crate::mrkdwn::normalise_incoming;
use crate::{Inner, ids};

/// A payload handed from an intake to the worker.
#[derive(Clone, Debug)]
pub enum Work {
    /// An Events API payload (`event_callback`).
    Events(Value),
    /// An interactivity payload (`block_actions`, …).
    Interactive(Value),
    /// A slash command's fields.
    Slash(SlashCommand),
}

/// The fields of a slash command that ferrbot uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlashCommand {
    /// `/ferrbot`.
    pub command: String,
    /// What follows the command.
    pub text: String,
    /// Who typed it.
    pub user_id: String,
    /// The channel it was typed in.
    pub channel_id: String,
    /// Where to answer.
    pub response_url: Option<String>,
}

impl SlashCommand {
    /// Reads the fields from form pairs (HTTP) or a JSON object (Socket Mode).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        let mut out = Self::default();
        for (k, v) in pairs {
            match k {
                "command" => out.command = v,
                "text" => out.text = v,
                "user_id" => out.user_id = v,
                "channel_id" => out.channel_id = v,
                "response_url" if !v.is_empty() => out.response_url = Some(v),
                _ => {}
            }
        }
        out
    }

    /// Reads the fields from Socket Mode's JSON payload.
    pub fn from_json(payload: &Value) -> Self {
        let pairs = ["command", "text", "user_id", "channel_id", "response_url"]
            .into_iter()
            .filter_map(|k| {
                payload
                    .get(k)
                    .and_then(Value::as_str)
                    .map(|v| (k, v.to_owned()))
            });
        Self::from_pairs(pairs)
    }
}

/// Turns payloads into events, in order, until the intake stops.
pub(crate) async fn worker(inner: Arc<Inner>, inbox: Inbox, mut rx: mpsc::Receiver<Work>) {
    while let Some(work) = rx.recv().await {
        let events = match work {
            Work::Events(payload) => inner.on_events_api(&payload).await,
            Work::Interactive(payload) => inner.on_interactive(&payload).await,
            Work::Slash(command) => inner.on_slash(command).await,
        };
        for event in events {
            if inbox.submit(event).await.is_err() {
                tracing::debug!("the bot is shutting down; event dropped");
                return;
            }
        }
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// True when `event` happened in a direct message (`channel_type` `im`, or a `D…` channel).
fn is_direct(event: &Value, channel: &str) -> bool {
    match text(event, "channel_type") {
        Some(kind) => kind == "im",
        None => channel.starts_with('D'),
    }
}

/// Splits a leading `<@BOT>` (or `<@BOT|name>`) mention off `text`.
pub fn strip_mention(text: &str, bot: Option<&str>) -> (String, bool) {
    let trimmed = text.trim_start();
    if let Some(bot) = bot
        && let Some(rest) = trimmed.strip_prefix(&format!("<@{bot}"))
        && let Some(end) = rest.find('>')
        && (rest.starts_with('>') || rest.starts_with('|'))
    {
        let rest = rest[end + 1..]
            .trim_start()
            .trim_start_matches([':', ','])
            .trim_start();
        return (rest.to_owned(), true);
    }
    (text.to_owned(), false)
}

impl Inner {
    async fn author(&self, user: &str) -> Option<Author> {
        let id = ids::user(&self.name, user)?;
        let display_name = self.users.display_name(&self.api, user).await;
        Some(Author { id, display_name })
    }

    fn is_own(&self, user: Option<&str>, bot_id: Option<&str>) -> bool {
        let Some(me) = self.identity() else {
            return false;
        };
        user.is_some_and(|u| u == me.user_id)
            || (bot_id.is_some() && bot_id == me.bot_id.as_deref())
    }

    /// An `event_callback` payload.
    pub(crate) async fn on_events_api(&self, payload: &Value) -> Vec<BackendEvent> {
        if payload.get("type").and_then(Value::as_str) != Some("event_callback") {
            return Vec::new();
        }
        if let Some(id) = text(payload, "event_id")
            && !self.first_time(format!("event:{id}"))
        {
            tracing::debug!(event_id = id, "a redelivered event; ignored");
            return Vec::new();
        }
        let Some(event) = payload.get("event") else {
            return Vec::new();
        };
        let kind = text(event, "type").unwrap_or("");
        let result = match kind {
            "message" => self.on_message(event).await,
            "app_mention" => self.on_user_message(event).await.map(BackendEvent::Message),
            "pin_added" | "pin_removed" => self.on_pin(event, kind == "pin_added"),
            "reaction_added" | "reaction_removed" => {
                self.on_reaction(event, kind == "reaction_added")
            }
            _ => None,
        };
        result.into_iter().collect()
    }

    async fn on_message(&self, event: &Value) -> Option<BackendEvent> {
        let channel = text(event, "channel")?;
        let room = ids::room(&self.name, channel)?;
        match text(event, "subtype") {
            None | Some("thread_broadcast" | "file_share" | "me_message") => {
                self.on_user_message(event).await.map(BackendEvent::Message)
            }
            Some("message_changed") => {
                let message = event.get("message")?;
                if self.is_own(text(message, "user"), text(message, "bot_id")) {
                    return None;
                }
                let new = message.get("text").and_then(Value::as_str).unwrap_or("");
                let old = event
                    .pointer("/previous_message/text")
                    .and_then(Value::as_str);
                if old == Some(new) {
                    // Link previews and other non-edits.
                    return None;
                }
                let ts = text(message, "ts")?;
                let new = normalise_incoming(new);
                if !is_direct(event, channel) {
                    self.remember_text(channel, ts, new.clone());
                }
                Some(BackendEvent::MessageEvent(MessageEvent::Edited {
                    room,
                    message: ids::message_id(&self.name, channel, ts)?,
                    text: new,
                }))
            }
            Some("message_deleted") => {
                let prev = event.get("previous_message");
                if prev.is_some_and(|p| self.is_own(text(p, "user"), text(p, "bot_id"))) {
                    return None;
                }
                let ts = text(event, "deleted_ts")?;
                self.forget_text(channel, ts);
                Some(BackendEvent::MessageEvent(MessageEvent::Deleted {
                    room,
                    message: ids::message_id(&self.name, channel, ts)?,
                }))
            }
            _ => None,
        }
    }

    /// A message a person wrote (or `None` when it is to be ignored).
    async fn on_user_message(&self, event: &Value) -> Option<IncomingMessage> {
        let user = text(event, "user")?;
        let channel = text(event, "channel")?;
        let ts = text(event, "ts")?;
        let bot_id = text(event, "bot_id");
        if self.is_own(Some(user), bot_id) {
            return None;
        }
        if bot_id.is_some() && self.config.ignore_bots {
            return None;
        }
        if !self.first_time(format!("msg:{channel}/{ts}")) {
            return None;
        }
        let me = self.identity().map(|i| i.user_id);
        let raw = event.get("text").and_then(Value::as_str).unwrap_or("");
        let direct = is_direct(event, channel);
        if !direct {
            // For reactions to it later (direct messages are private and never captured).
            self.remember_text(channel, ts, normalise_incoming(raw));
        }
        let (stripped, mentioned) = strip_mention(raw, me.as_deref());
        let body = normalise_incoming(&stripped);
        if body.trim().is_empty() && !mentioned {
            return None;
        }
        let thread = text(event, "thread_ts")
            .filter(|t| *t != ts)
            .and_then(|t| ids::thread(&self.name, t));
        Some(IncomingMessage {
            id: ids::message_id(&self.name, channel, ts),
            room: ids::room(&self.name, channel)?,
            thread,
            author: self.author(user).await?,
            text: body,
            direct,
            mentioned,
            // A Slack reply is a thread message (`thread`), not a reply to one message.
            reply_to: None,
        })
    }

    fn on_pin(&self, event: &Value, added: bool) -> Option<BackendEvent> {
        let by = text(event, "user");
        if self.is_own(by, None) {
            return None;
        }
        let item = event.get("item")?;
        let message = item.get("message");
        let channel = text(event, "channel_id").or_else(|| text(item, "channel"))?;
        let ts = message
            .and_then(|m| text(m, "ts"))
            .or_else(|| text(item, "ts"))?;
        let room = ids::room(&self.name, channel)?;
        let message_id = ids::message_id(&self.name, channel, ts)?;
        Some(BackendEvent::MessageEvent(if added {
            MessageEvent::Pinned {
                room,
                message: message_id,
                by: by.and_then(|u| ids::user(&self.name, u)),
                author: message
                    .and_then(|m| text(m, "user"))
                    .and_then(|u| ids::user(&self.name, u)),
                text: message
                    .and_then(|m| text(m, "text"))
                    .map(normalise_incoming)
                    .or_else(|| self.known_text(channel, ts)),
            }
        } else {
            MessageEvent::Unpinned {
                room,
                message: message_id,
            }
        }))
    }

    fn on_reaction(&self, event: &Value, added: bool) -> Option<BackendEvent> {
        let by = text(event, "user")?;
        if self.is_own(Some(by), None) {
            return None;
        }
        let item = event.get("item")?;
        if text(item, "type") != Some("message") {
            return None;
        }
        let channel = text(item, "channel")?;
        let room = ids::room(&self.name, channel)?;
        let ts = text(item, "ts")?;
        let message = ids::message_id(&self.name, channel, ts)?;
        let by = ids::user(&self.name, by)?;
        let reaction = text(event, "reaction")?.to_owned();
        Some(BackendEvent::MessageEvent(if added {
            MessageEvent::ReactionAdded {
                room,
                message,
                by,
                reaction,
                // Slack's event names the message only; its text, when the bot saw it.
                text: self.known_text(channel, ts),
            }
        } else {
            MessageEvent::ReactionRemoved {
                room,
                message,
                by,
                reaction,
            }
        }))
    }

    /// An interactivity payload: a click on a ferrbot button runs its command.
    pub(crate) async fn on_interactive(&self, payload: &Value) -> Vec<BackendEvent> {
        if text(payload, "type") != Some("block_actions") {
            return Vec::new();
        }
        let Some(user) = payload.pointer("/user/id").and_then(Value::as_str) else {
            return Vec::new();
        };
        let channel = payload
            .pointer("/channel/id")
            .or_else(|| payload.pointer("/container/channel_id"))
            .and_then(Value::as_str);
        let Some(channel) = channel else {
            return Vec::new();
        };
        let thread = payload
            .pointer("/container/thread_ts")
            .or_else(|| payload.pointer("/message/thread_ts"))
            .and_then(Value::as_str)
            .and_then(|t| ids::thread(&self.name, t));
        let actions = payload
            .get("actions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let (Some(room), Some(author)) = (ids::room(&self.name, channel), self.author(user).await)
        else {
            return Vec::new();
        };
        actions
            .iter()
            .filter(|a| {
                a.get("action_id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.starts_with(ACTION_PREFIX))
            })
            .filter_map(|a| text(a, "value"))
            .map(|command| {
                BackendEvent::Command(CommandRequest {
                    author: author.clone(),
                    room: room.clone(),
                    thread: thread.clone(),
                    direct: channel.starts_with('D'),
                    command: command.to_owned(),
                    source: CommandSource::Button,
                })
            })
            .collect()
    }

    /// A slash command: `/ferrbot <line>` runs `<line>`; another command `/x <text>` runs
    /// `x <text>`.
    pub(crate) async fn on_slash(&self, command: SlashCommand) -> Vec<BackendEvent> {
        let name = command.command.trim().trim_start_matches('/');
        let line = if !self.config.slash_command.is_empty() && name == self.config.slash_command {
            command.text.trim().to_owned()
        } else {
            format!("{name} {}", command.text.trim()).trim().to_owned()
        };
        let line = if line.is_empty() {
            "help".to_owned()
        } else {
            line
        };
        let (Some(room), Some(author)) = (
            ids::room(&self.name, &command.channel_id),
            self.author(&command.user_id).await,
        ) else {
            return Vec::new();
        };
        if let Some(url) = command.response_url {
            self.remember_response_url(&command.channel_id, url);
        }
        vec![BackendEvent::Command(CommandRequest {
            author,
            room,
            thread: None,
            direct: command.channel_id.starts_with('D'),
            command: line,
            source: CommandSource::Slash,
        })]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_mentions_are_stripped() {
        assert_eq!(
            strip_mention("<@UBOT> help me", Some("UBOT")),
            ("help me".to_owned(), true)
        );
        assert_eq!(
            strip_mention("<@UBOT|ferrbot>: status", Some("UBOT")),
            ("status".to_owned(), true)
        );
        assert_eq!(
            strip_mention("<@UBOTX> help", Some("UBOT")),
            ("<@UBOTX> help".to_owned(), false)
        );
        assert_eq!(
            strip_mention("hi <@UBOT>", Some("UBOT")),
            ("hi <@UBOT>".to_owned(), false)
        );
    }

    #[test]
    fn slash_command_fields_are_read() {
        let s = SlashCommand::from_pairs([
            ("command", "/ferrbot".to_owned()),
            ("text", "help".to_owned()),
            ("user_id", "U1".to_owned()),
            ("channel_id", "C1".to_owned()),
            ("response_url", String::new()),
        ]);
        assert_eq!(s.command, "/ferrbot");
        assert_eq!(s.response_url, None);
    }
}
