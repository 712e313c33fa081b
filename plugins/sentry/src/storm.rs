//! Storm control: repeats of an issue within the window fold into its card (a count, edited in
//! or noted in its thread) instead of a flood; deliveries seen before (same `Request-ID`) are
//! dropped. Also remembers, per issue, the card its follow-ups are threaded under.
//!
//! State lives in the plugin's store and is changed under a per-key lock, so concurrent
//! deliveries of one issue cannot both post a card.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrbot::id::{MessageId, RoomId};
use ferrbot::message::OutgoingMessage;
use ferrbot::store::{KvStore, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedMutexGuard;

use crate::config::StormSettings;
use crate::keys;

/// How long follow-ups are threaded under an issue's last card.
pub const THREAD_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest `Request-ID` remembered; longer ones are not used for duplicate detection.
const MAX_REQUEST_ID: usize = 128;

/// The storm state of one issue (group) in one room.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StormState {
    /// When the card was posted (the window starts here).
    pub window_start: jiff::Timestamp,
    /// Occurrences in this window, the first included.
    pub count: u64,
    /// The count the room has been shown.
    pub shown: u64,
    /// When the room was last updated (card posted, edited or noted).
    pub last_update: jiff::Timestamp,
    /// The card, once delivered.
    pub message: Option<MessageId>,
    /// The card as posted, for edits.
    pub original: OutgoingMessage,
    /// The alert's title, for notes.
    pub title: String,
    /// The alert's short id, for notes.
    pub short_id: Option<String>,
}

impl StormState {
    /// True while `now` is inside the window.
    pub fn in_window(&self, now: jiff::Timestamp, settings: &StormSettings) -> bool {
        !settings.window.is_zero() && elapsed(self.window_start, now) < settings.window
    }

    /// True when the room should be shown a new count now.
    pub fn update_due(&self, now: jiff::Timestamp, interval: Duration) -> bool {
        self.message.is_some()
            && self.count > self.shown
            && elapsed(self.last_update, now) >= interval
    }
}

/// Time from `from` to `to` (zero when `to` is earlier).
pub fn elapsed(from: jiff::Timestamp, to: jiff::Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or(Duration::ZERO)
}

/// The card an issue's follow-ups go under.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ThreadRecord {
    /// The card's message.
    pub message: MessageId,
    /// The card as posted (for status edits).
    pub posted: OutgoingMessage,
    /// When.
    pub at: jiff::Timestamp,
}

/// The storm key of a group in a room.
pub fn state_key(room: &RoomId, group: &str) -> String {
    format!(
        "storm/{}/{}",
        keys::part(&room.to_string()),
        keys::part(group)
    )
}

/// The thread key of an issue in a room.
pub fn thread_key(room: &RoomId, issue: &str) -> String {
    format!(
        "threads/{}/{}",
        keys::part(&room.to_string()),
        keys::part(issue)
    )
}

/// The room a storm or thread key belongs to.
pub fn room_of_key(key: &str) -> Option<RoomId> {
    let mut parts = key.split('/');
    parts.next()?;
    keys::unpart(parts.next()?).parse().ok()
}

/// Records a delivery; true when it was seen before (within the last hour or two).
///
/// # Errors
/// Storage failures.
pub async fn seen_before(
    store: &KvStore,
    route: &str,
    request_id: &str,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let request_id = request_id.trim();
    if request_id.is_empty() || request_id.len() > MAX_REQUEST_ID {
        return Ok(false);
    }
    let hour = keys::hour(now);
    let key = |h: i64| format!("seen/{h}/{}/{}", keys::part(route), keys::part(request_id));
    if store.get::<i64>(&key(hour - 1)).await?.is_some() {
        return Ok(true);
    }
    // Atomic: of two concurrent deliveries, exactly one sees 1.
    Ok(store.incr(&key(hour)).await? > 1)
}

/// Deletes duplicate-detection entries older than two hours.
///
/// # Errors
/// Storage failures.
pub async fn prune_seen(store: &KvStore, now: jiff::Timestamp) -> Result<usize, StoreError> {
    let oldest = keys::hour(now) - 1;
    let mut pruned = 0;
    for key in store.list("seen/").await? {
        let hour = key
            .split('/')
            .nth(1)
            .and_then(|h| h.parse::<i64>().ok())
            .unwrap_or(i64::MIN);
        if hour < oldest && store.delete(&key).await? {
            pruned += 1;
        }
    }
    Ok(pruned)
}

/// Per-key async locks; entries disappear when nobody holds or waits for them.
#[derive(Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut map = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry(key.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deliveries_are_recognised_within_two_hours() {
        let store = ferrbot::store::Store::memory().await.unwrap().kv("t");
        let t0 = jiff::Timestamp::from_second(1_767_225_600 + 3500).unwrap();
        assert!(!seen_before(&store, "r", "abc", t0).await.unwrap());
        assert!(seen_before(&store, "r", "abc", t0).await.unwrap());
        assert!(!seen_before(&store, "other", "abc", t0).await.unwrap());
        // The next hour still knows it.
        let t1 = t0 + jiff::SignedDuration::from_secs(200);
        assert!(seen_before(&store, "r", "abc", t1).await.unwrap());
        // No id, no detection.
        assert!(!seen_before(&store, "r", "", t0).await.unwrap());
        assert!(!seen_before(&store, "r", "", t0).await.unwrap());
        let later = t0 + jiff::SignedDuration::from_hours(3);
        assert!(prune_seen(&store, later).await.unwrap() >= 2);
        assert!(!seen_before(&store, "r", "abc", later).await.unwrap());
    }

    #[test]
    fn windows_and_due_updates() {
        let settings = StormSettings {
            window: Duration::from_secs(600),
            update_interval: Duration::from_secs(10),
            note_interval: Duration::from_secs(60),
        };
        let t0 = jiff::Timestamp::from_second(1_767_225_600).unwrap();
        let mut s = StormState {
            window_start: t0,
            count: 2,
            shown: 1,
            last_update: t0,
            message: None,
            original: OutgoingMessage::default(),
            title: "t".into(),
            short_id: None,
        };
        let at = |secs| t0 + jiff::SignedDuration::from_secs(secs);
        assert!(s.in_window(at(599), &settings));
        assert!(!s.in_window(at(600), &settings));
        assert!(
            !s.update_due(at(30), settings.update_interval),
            "not delivered yet"
        );
        s.message = Some("test:m1".parse().unwrap());
        assert!(!s.update_due(at(5), settings.update_interval));
        assert!(s.update_due(at(10), settings.update_interval));
        let off = StormSettings {
            window: Duration::ZERO,
            ..settings
        };
        assert!(!s.in_window(t0, &off));
        assert_eq!(
            room_of_key(&state_key(&"test:a/b".parse().unwrap(), "issue:1"))
                .unwrap()
                .to_string(),
            "test:a/b"
        );
    }
}
