//! The text and author of an existing message, for the pin and reaction reports: a pin
//! (`m.room.pinned_events`) or a reaction names only an event id, so the event is fetched
//! (`GET /rooms/{room}/event/{event}`) and its text — the latest edit's, without a reply
//! fallback — goes into [`MessageEvent::Pinned`](ferrbot::backend::MessageEvent) and
//! `ReactionAdded`, as other backends report it. A message that cannot be read (redacted,
//! not a message, the request failing) is reported without text.

use std::time::Duration;

use matrix_sdk::Client;
use matrix_sdk::ruma::api::client::room::get_room_event;
use matrix_sdk::ruma::{EventId, RoomId};
use serde_json::Value;

use crate::incoming::strip_reply_fallback;

/// How long fetching a message may hold up the sync loop.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What a pin or reaction report says about the message it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Quote {
    /// The Matrix user who sent it.
    pub(crate) sender: String,
    /// Its text (the latest edit's, when the server bundles it).
    pub(crate) text: String,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// The quote of an event as the client-server API returns it; `None` for anything that is
/// not a message with a body (redacted messages have none).
pub(crate) fn quote(event: &Value) -> Option<Quote> {
    if str_at(event, &["type"]) != Some("m.room.message") {
        return None;
    }
    let sender = str_at(event, &["sender"])?.to_owned();
    let content = &event["content"];
    let edited = str_at(
        event,
        &[
            "unsigned",
            "m.relations",
            "m.replace",
            "content",
            "m.new_content",
            "body",
        ],
    );
    let text = match edited {
        Some(text) => text,
        None => {
            let body = str_at(content, &["body"])?;
            if content["m.relates_to"].get("m.in_reply_to").is_some() {
                strip_reply_fallback(body)
            } else {
                body
            }
        }
    };
    let text = text.trim();
    (!text.is_empty()).then(|| Quote {
        sender,
        text: text.to_owned(),
    })
}

/// Fetches `event` in `room` and quotes it; `None` (logged) when it cannot be read.
pub(crate) async fn fetch(client: &Client, room: &RoomId, event: &str) -> Option<Quote> {
    let event_id = EventId::parse(event).ok()?;
    let request = get_room_event::v3::Request::new(room.to_owned(), event_id);
    match tokio::time::timeout(FETCH_TIMEOUT, client.send(request)).await {
        Ok(Ok(response)) => match serde_json::from_str::<Value>(response.event.json().get()) {
            Ok(value) => quote(&value),
            Err(e) => {
                tracing::debug!(%room, event, error = %e, "unreadable event");
                None
            }
        },
        Ok(Err(e)) => {
            tracing::debug!(%room, event, error = %e, "cannot fetch the pinned or reacted message");
            None
        }
        Err(_) => {
            tracing::debug!(%room, event, "fetching the pinned or reacted message timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(content: Value) -> Value {
        json!({"type": "m.room.message", "sender": "@alice:x", "event_id": "$1", "content": content})
    }

    #[test]
    fn plain_messages_are_quoted_with_their_sender() {
        let q = quote(&message(
            json!({"msgtype": "m.text", "body": "error rate 40%"}),
        ));
        assert_eq!(
            q,
            Some(Quote {
                sender: "@alice:x".into(),
                text: "error rate 40%".into()
            })
        );
    }

    #[test]
    fn replies_lose_their_fallback_and_edits_win() {
        let reply = message(json!({
            "msgtype": "m.text",
            "body": "> <@bob:x> is it down?\n\nyes, since 10:02",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$0"}},
        }));
        assert_eq!(quote(&reply).unwrap().text, "yes, since 10:02");
        let mut edited = message(json!({"msgtype": "m.text", "body": "rolled back"}));
        edited["unsigned"] = json!({"m.relations": {"m.replace": {
            "type": "m.room.message", "event_id": "$2", "sender": "@alice:x",
            "content": {"body": "* rolled back 1234", "m.new_content": {"msgtype": "m.text", "body": "rolled back 1234"}},
        }}});
        assert_eq!(quote(&edited).unwrap().text, "rolled back 1234");
    }

    #[test]
    fn redacted_and_non_message_events_have_no_quote() {
        assert_eq!(quote(&message(json!({}))), None);
        assert_eq!(
            quote(&message(json!({"msgtype": "m.text", "body": "  "}))),
            None
        );
        let state = json!({"type": "m.room.topic", "sender": "@a:x", "content": {"topic": "t"}});
        assert_eq!(quote(&state), None);
    }
}
