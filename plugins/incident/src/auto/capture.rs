//! Capture of chat messages into an incident's timeline, from what the backend reports about
//! existing messages ([`MessageEvent`]) in an incident's own room: a pin or the configured
//! `timeline_reaction` adds a `message` event keyed by the backend message id
//! (`message_ref`); unpin (or removing that reaction) and deleting the message soft-delete
//! it; editing the message updates the captured text. Captures are keyed by message id, never
//! by time (the trap in Monzo's `remove_pin`). Backends that report none of these leave
//! `!incident pin <text>` and `note` as the way in.

use ferrbot::backend::MessageEvent;
use ferrbot::context::PluginContext;
use ferrbot::id::{MessageId, RoomId, UserId};
use serde_json::json;

use crate::model::{EventKind, NewEvent, TimelineEvent};
use crate::store::{self, DbError, IncidentStore};

/// How a message was captured (`data.captured`).
const BY_PIN: &str = "pin";
const BY_REACTION: &str = "reaction";

/// Reaction names and their emoji, so `pushpin`, `:pushpin:` and 📌 are one reaction.
const REACTION_ALIASES: &[(&str, &str)] = &[
    ("pushpin", "📌"),
    ("stopwatch", "⏱"),
    ("round_pushpin", "📍"),
    ("memo", "📝"),
];

/// The text of a capture whose message text is not known yet (filled in by a later pin,
/// reaction or edit report).
pub fn placeholder(message: &MessageId) -> String {
    format!("(message {message})")
}

fn canonical(reaction: &str) -> String {
    let r = reaction
        .trim()
        .trim_matches(':')
        .trim_end_matches('\u{fe0f}');
    REACTION_ALIASES
        .iter()
        .find(|(_, emoji)| *emoji == r)
        .map_or_else(|| r.to_lowercase(), |(name, _)| (*name).to_owned())
}

/// How to show a reaction to people on any network: its emoji when known (📌 for
/// `pushpin`), else `:name:` for a name, else as configured.
pub fn shown(reaction: &str) -> String {
    let name = canonical(reaction);
    REACTION_ALIASES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(
            || {
                if reaction.is_ascii() {
                    format!(":{}:", reaction.trim_matches(':'))
                } else {
                    reaction.to_owned()
                }
            },
            |(_, emoji)| (*emoji).to_owned(),
        )
}

/// True when `reaction` is the configured timeline reaction (name, `:name:` or emoji).
pub fn is_timeline_reaction(configured: &str, reaction: &str) -> bool {
    canonical(configured) == canonical(reaction)
}

/// What a message event asks of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    /// Capture the message.
    Add {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
        /// Its author or whoever captured it, when known.
        actor: Option<UserId>,
        /// Its text, when known.
        text: Option<String>,
        /// How it was captured: `"pin"` or `"reaction"`.
        how: &'static str,
    },
    /// Soft-delete the capture of the message (`how`: only a capture made this way; None:
    /// any).
    Remove {
        /// The message.
        message: MessageId,
        /// Only a capture made this way.
        how: Option<&'static str>,
    },
    /// Update the captured text.
    Edit {
        /// The message.
        message: MessageId,
        /// The new text.
        text: String,
    },
}

/// What `event` means for the timeline (`reaction`: the configured timeline reaction);
/// `None` for events that do not concern it.
pub fn classify(reaction: &str, event: MessageEvent) -> Option<Capture> {
    Some(match event {
        MessageEvent::Pinned {
            room,
            message,
            by,
            author,
            text,
        } => Capture::Add {
            room,
            message,
            actor: author.or(by),
            text,
            how: BY_PIN,
        },
        MessageEvent::Unpinned { message, .. } => Capture::Remove {
            message,
            how: Some(BY_PIN),
        },
        MessageEvent::ReactionAdded {
            room,
            message,
            by,
            reaction: r,
            text,
        } if is_timeline_reaction(reaction, &r) => Capture::Add {
            room,
            message,
            actor: Some(by),
            text,
            how: BY_REACTION,
        },
        MessageEvent::ReactionRemoved {
            message,
            reaction: r,
            ..
        } if is_timeline_reaction(reaction, &r) => Capture::Remove {
            message,
            how: Some(BY_REACTION),
        },
        MessageEvent::Edited { message, text, .. } => Capture::Edit { message, text },
        MessageEvent::Deleted { message, .. } => Capture::Remove { message, how: None },
        _ => return None,
    })
}

/// Applies a message event to the timeline; returns the event added or changed.
///
/// # Errors
/// When the database fails.
pub async fn apply(
    ctx: &PluginContext,
    reaction: &str,
    event: MessageEvent,
) -> Result<Option<TimelineEvent>, DbError> {
    let Some(capture) = classify(reaction, event) else {
        return Ok(None);
    };
    let now = ctx.now();
    let store = IncidentStore::new(ctx.db().clone());
    let mut tx = store.begin().await?;
    let changed = match capture {
        Capture::Add {
            room,
            message,
            actor,
            text,
            how,
        } => {
            let mref = message.to_string();
            match store::event_by_message(&mut tx, &mref).await? {
                Some(mut existing) if existing.deleted_at.is_some() => {
                    existing.deleted_at = None;
                    existing.deleted_by = None;
                    if let Some(text) = text {
                        existing.text = text;
                    }
                    store::save_event(&mut tx, &existing, now).await?;
                    Some(existing)
                }
                Some(mut existing) => match text {
                    // The text was not known when it was captured (`pin` in a thread).
                    Some(text) if existing.text == placeholder(&message) => {
                        existing.text = text;
                        store::save_event(&mut tx, &existing, now).await?;
                        Some(existing)
                    }
                    _ => None,
                },
                None => match store::incident_by_place(&mut tx, &room.to_string(), None).await? {
                    None => None,
                    Some(id) => {
                        let actor = actor.map_or_else(|| "bot".to_owned(), |u| u.to_string());
                        let mut event = store::append_event(
                            &mut tx,
                            id,
                            NewEvent::new(
                                now,
                                actor,
                                EventKind::Message,
                                text.unwrap_or_else(|| placeholder(&message)),
                            )
                            .data(json!({"captured": how, "room": room.to_string()})),
                            now,
                        )
                        .await?;
                        store::set_message_ref(&mut tx, event.id, &mref).await?;
                        event.message_ref = Some(mref);
                        Some(event)
                    }
                },
            }
        }
        Capture::Remove { message, how } => {
            match store::event_by_message(&mut tx, &message.to_string()).await? {
                Some(mut existing)
                    if existing.deleted_at.is_none()
                        && how.is_none_or(|h| {
                            existing.data.get("captured").and_then(|c| c.as_str()) == Some(h)
                        }) =>
                {
                    existing.deleted_at = Some(now);
                    existing.deleted_by = Some("bot".into());
                    store::save_event(&mut tx, &existing, now).await?;
                    Some(existing)
                }
                _ => None,
            }
        }
        Capture::Edit { message, text } => {
            match store::event_by_message(&mut tx, &message.to_string()).await? {
                Some(mut existing) if existing.deleted_at.is_none() && existing.text != text => {
                    existing.text = text;
                    store::save_event(&mut tx, &existing, now).await?;
                    Some(existing)
                }
                _ => None,
            }
        }
    };
    store::commit(tx).await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_names_and_emoji_are_one() {
        assert!(is_timeline_reaction("pushpin", "📌"));
        assert!(is_timeline_reaction("📌", ":pushpin:"));
        assert!(is_timeline_reaction("stopwatch", "⏱️"));
        assert!(is_timeline_reaction("Pushpin", "pushpin"));
        assert!(!is_timeline_reaction("pushpin", "thumbsup"));
    }

    #[test]
    fn other_reactions_are_ignored() {
        let e = MessageEvent::ReactionAdded {
            room: "slack:C1".parse().unwrap(),
            message: "slack:1.2".parse().unwrap(),
            by: "slack:U1".parse().unwrap(),
            reaction: "tada".into(),
            text: None,
        };
        assert_eq!(classify("pushpin", e), None);
    }
}
