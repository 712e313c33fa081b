//! Slack ids ↔ ferrbot ids.
//!
//! Users and rooms are Slack's own ids (`slack:U024BE7LH`, `slack:C024BE91L`; direct
//! conversations are `D…` rooms). A thread is its parent's `ts` (`slack:1700000000.000100`).
//! A Slack message is identified by its channel *and* its `ts`, so a message id carries both:
//! `slack:C024BE91L/1700000000.000100`. Operations on messages (`pin`, `react`, `edit`) also
//! accept a bare `ts` and then take the channel from the room or target.

use ferrbot::{BackendError, MessageId, RoomId, ThreadId, UserId};

/// The id of a message `ts` in `channel`.
pub fn message_id(backend: &str, channel: &str, ts: &str) -> Option<MessageId> {
    MessageId::new(backend, &format!("{channel}/{ts}")).ok()
}

/// A room id.
pub fn room(backend: &str, channel: &str) -> Option<RoomId> {
    RoomId::new(backend, channel).ok()
}

/// A user id.
pub fn user(backend: &str, user: &str) -> Option<UserId> {
    UserId::new(backend, user).ok()
}

/// A thread id from a `thread_ts`.
pub fn thread(backend: &str, thread_ts: &str) -> Option<ThreadId> {
    ThreadId::new(backend, thread_ts).ok()
}

/// Whether `ts` looks like a Slack timestamp (`1700000000.000100`).
pub fn is_ts(ts: &str) -> bool {
    let mut parts = ts.splitn(2, '.');
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
        return false;
    };
    !a.is_empty()
        && !b.is_empty()
        && a.chars().all(|c| c.is_ascii_digit())
        && b.chars().all(|c| c.is_ascii_digit())
}

/// A channel id from a room's local part.
///
/// # Errors
/// When it does not look like a Slack conversation id.
pub fn channel_of(room: &RoomId) -> Result<String, BackendError> {
    let local = room.local();
    if crate::mrkdwn::is_slack_id(local) {
        Ok(local.to_owned())
    } else {
        Err(BackendError::rejected(format!(
            "`{local}` is not a Slack conversation id"
        )))
    }
}

/// A user id's local part, checked.
///
/// # Errors
/// When it does not look like a Slack user id.
pub fn user_of(user: &UserId) -> Result<String, BackendError> {
    let local = user.local();
    if crate::mrkdwn::is_slack_id(local) {
        Ok(local.to_owned())
    } else {
        Err(BackendError::rejected(format!(
            "`{local}` is not a Slack user id"
        )))
    }
}

/// The channel and `ts` of a message id; a bare `ts` takes `default_channel`.
///
/// # Errors
/// When the id is not `C…/ts` or a `ts` (with a channel to default to).
pub fn split_message(
    message: &MessageId,
    default_channel: Option<&str>,
) -> Result<(String, String), BackendError> {
    let local = message.local();
    let (channel, ts) = match local.split_once('/') {
        Some((c, ts)) => (Some(c), ts),
        None => (default_channel, local),
    };
    match channel {
        Some(c) if crate::mrkdwn::is_slack_id(c) && is_ts(ts) => Ok((c.to_owned(), ts.to_owned())),
        _ => Err(BackendError::rejected(format!(
            "`{local}` is not a Slack message id (`<channel>/<ts>`)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn message_ids_carry_channel_and_ts() {
        let id = message_id("slack", "C1", "1700000000.000100").unwrap();
        assert_eq!(id.to_string(), "slack:C1/1700000000.000100");
        assert_eq!(
            split_message(&id, None).unwrap(),
            ("C1".to_owned(), "1700000000.000100".to_owned())
        );
        let bare: MessageId = "slack:1700000000.000100".parse().unwrap();
        assert_eq!(split_message(&bare, Some("C2")).unwrap().0, "C2");
        assert!(split_message(&bare, None).is_err());
        let bad: MessageId = "slack:C1/nope".parse().unwrap();
        assert!(split_message(&bad, None).is_err());
        assert!(channel_of(&"slack:general".parse().unwrap()).is_err());
    }
}
