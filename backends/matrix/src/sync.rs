//! The sync loop: log in, long-poll `/sync`, turn what arrives into ferrbot events, and
//! reconnect with backoff when the homeserver goes away.
//!
//! - The very first sync of a bot (no saved token) only learns the rooms: its timeline is
//!   history and is not dispatched, so an old `!deploy` is never run.
//! - After every batch the `next_batch` token is saved in the backend's store *before* the
//!   batch is handed to the bot: a restart resumes right after the last batch it saw, never
//!   answers a command twice, and still answers what was said while it was down (unless it is
//!   older than `max_event_age`). The first sync of a process asks for the full room state
//!   (`full_state`) from that token, since the SDK keeps its state in memory only.
//! - Invites are accepted (or declined) per the allow-list in every sync, even the first.
//! - A failed sync reports `Disconnected`, waits (exponential backoff between
//!   `reconnect_min` and `reconnect_max`, with jitter) and tries again; the next successful
//!   sync reports `Connected`. An access token the homeserver no longer accepts leads to a
//!   fresh password login (when there is a password).

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrbot::Inbox;
use ferrbot::backend::{BackendEvent, ConnectionState, MessageEvent};
use ferrbot::message::{Author, IncomingMessage};
use matrix_sdk::Client;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::filter::{FilterDefinition, RoomFilter};
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::{OwnedRoomId, RoomId, UInt, UserId};
use matrix_sdk::sync::SyncResponse;
use tokio_util::sync::CancellationToken;

use crate::config::Credentials;
use crate::errors::{Failure, from_sdk};
use crate::incoming::{Identity, Parsed, RawEvent};
use crate::{Inner, SeenReaction, ids, quote, session};

/// Store key of the saved sync token.
pub const SYNC_KEY: &str = "sync/next_batch";

/// How long one `/sync` long-poll waits on the server.
pub const LONG_POLL: Duration = Duration::from_secs(30);

/// Timeline events per room and sync (more are skipped after a long absence).
const TIMELINE_LIMIT: u32 = 50;

/// Exponential backoff with jitter.
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Backoff between `min` and `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    /// The next wait (doubling up to the maximum, ±20 % jitter).
    pub fn next_wait(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        // A factor in [0.8, 1.2).
        let factor = 0.8 + (random % 4_000) as f64 / 10_000.0;
        base.mul_f64(factor).min(self.max).max(self.min.min(base))
    }

    /// Starts over from the minimum.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Reports connection states, each change once.
struct Reporter<'a> {
    inbox: &'a Inbox,
    last: Option<ConnectionState>,
}

impl Reporter<'_> {
    async fn report(&mut self, state: ConnectionState) {
        let same = match (&self.last, &state) {
            (Some(ConnectionState::Disconnected { .. }), ConnectionState::Disconnected { .. }) => {
                true
            }
            (Some(last), state) => last == state,
            (None, _) => false,
        };
        if !same {
            self.inbox.connection(state.clone()).await;
            self.last = Some(state);
        }
    }
}

/// Waits `wait`; true when `shutdown` came first.
async fn sleep_or_stop(wait: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(wait) => false,
    }
}

fn filter() -> Filter {
    let mut room = RoomFilter::with_lazy_loading();
    room.timeline.limit = Some(UInt::from(TIMELINE_LIMIT));
    let mut definition = FilterDefinition::default();
    definition.room = room;
    Filter::FilterDefinition(definition)
}

enum Exit {
    Stopped,
    Relogin,
}

/// Runs until `shutdown`.
pub(crate) async fn run(inner: Arc<Inner>, inbox: Inbox, shutdown: CancellationToken) {
    let mut reporter = Reporter {
        inbox: &inbox,
        last: None,
    };
    reporter.report(ConnectionState::Connecting).await;
    let mut backoff = Backoff::new(inner.config.reconnect_min, inner.config.reconnect_max);
    'session: loop {
        let client = loop {
            let attempt = tokio::select! {
                () = shutdown.cancelled() => break 'session,
                r = session::connect(&inner.config, &inner.store) => r,
            };
            match attempt {
                Ok(client) => break client,
                Err(failure) => {
                    if matches!(failure, Failure::Rejected(_)) {
                        tracing::error!(backend = %inner.name, error = %failure, "cannot log in to Matrix");
                    } else {
                        inner.mark_down();
                        tracing::warn!(backend = %inner.name, error = %failure, "cannot reach the homeserver");
                    }
                    inner.connected.send_replace(false);
                    reporter
                        .report(ConnectionState::Disconnected {
                            reason: format!("login: {failure}"),
                        })
                        .await;
                    if sleep_or_stop(backoff.next_wait(), &shutdown).await {
                        break 'session;
                    }
                }
            }
        };
        setup_profile(&inner, &client).await;
        match sync_loop(
            &inner,
            &client,
            &inbox,
            &shutdown,
            &mut reporter,
            &mut backoff,
        )
        .await
        {
            Exit::Stopped => break,
            Exit::Relogin => {
                session::forget(&inner.store).await;
            }
        }
    }
    reporter.report(ConnectionState::Stopped).await;
}

/// Sets the configured display name and learns the current one (for mention detection).
async fn setup_profile(inner: &Inner, client: &Client) {
    let current = client.account().get_display_name().await.ok().flatten();
    let name = match &inner.config.display_name {
        Some(wanted) if current.as_deref() != Some(wanted.as_str()) => {
            match client.account().set_display_name(Some(wanted)).await {
                Ok(()) => Some(wanted.clone()),
                Err(e) => {
                    tracing::warn!(error = %from_sdk(&e), "cannot set the bot's display name");
                    current
                }
            }
        }
        _ => current,
    };
    *inner
        .display_name
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = name;
}

async fn sync_loop(
    inner: &Arc<Inner>,
    client: &Client,
    inbox: &Inbox,
    shutdown: &CancellationToken,
    reporter: &mut Reporter<'_>,
    backoff: &mut Backoff,
) -> Exit {
    let mut token: Option<String> = inner.store.get(SYNC_KEY).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the saved sync token; skipping history");
        None
    });
    let mut first = true;
    let mut failures = 0u32;
    loop {
        let mut settings = SyncSettings::new().filter(filter()).timeout(if first {
            Duration::ZERO
        } else {
            LONG_POLL
        });
        if let Some(t) = &token {
            settings = settings.token(t.clone()).full_state(first);
        }
        let result = tokio::select! {
            () = shutdown.cancelled() => return Exit::Stopped,
            r = client.sync_once(settings) => r,
        };
        match result {
            Ok(response) => {
                let history = token.is_none();
                if let Err(e) = inner.store.set(SYNC_KEY, &response.next_batch).await {
                    tracing::warn!(error = %e, "cannot save the sync token");
                }
                inner.mark_up();
                if first {
                    inner.set_client(client.clone());
                    if history {
                        tracing::info!(backend = %inner.name, "first start: skipped the rooms' history");
                    }
                }
                inner.connected.send_replace(true);
                if failures > 0 {
                    tracing::info!(backend = %inner.name, failures, "reconnected to the homeserver");
                    failures = 0;
                }
                reporter.report(ConnectionState::Connected).await;
                backoff.reset();
                handle(inner, client, inbox, &response, history).await;
                token = Some(response.next_batch);
                first = false;
            }
            Err(e) => {
                let failure = from_sdk(&e);
                match &failure {
                    Failure::UnknownToken(_)
                        if matches!(inner.config.credentials, Credentials::Password(_)) =>
                    {
                        tracing::warn!(backend = %inner.name, "the homeserver no longer accepts the access token; logging in again");
                        inner.connected.send_replace(false);
                        reporter
                            .report(ConnectionState::Disconnected {
                                reason: "logging in again".into(),
                            })
                            .await;
                        return Exit::Relogin;
                    }
                    Failure::Rejected(reason) if first && token.is_some() => {
                        tracing::warn!(backend = %inner.name, %reason, "the saved sync token was refused; starting afresh without history");
                        token = None;
                        continue;
                    }
                    _ => {}
                }
                if failure.is_outage() {
                    inner.mark_down();
                }
                inner.connected.send_replace(false);
                failures += 1;
                if failures == 1 || failures % 30 == 0 {
                    tracing::warn!(backend = %inner.name, error = %failure, failures, "sync failed; reconnecting");
                } else {
                    tracing::debug!(backend = %inner.name, error = %failure, failures, "sync failed again");
                }
                reporter
                    .report(ConnectionState::Disconnected {
                        reason: failure.to_string(),
                    })
                    .await;
                if sleep_or_stop(backoff.next_wait(), shutdown).await {
                    return Exit::Stopped;
                }
            }
        }
    }
}

/// Hands a sync batch to the bot. `history`: the timeline is old news (first start).
async fn handle(
    inner: &Arc<Inner>,
    client: &Client,
    inbox: &Inbox,
    response: &SyncResponse,
    history: bool,
) {
    for (room_id, invite) in &response.rooms.invited {
        let events: Vec<RawEvent> = invite
            .invite_state
            .events
            .iter()
            .filter_map(|e| serde_json::from_str(e.json().get()).ok())
            .collect();
        let inner = inner.clone();
        let client = client.clone();
        let room_id = room_id.clone();
        tokio::spawn(async move { on_invite(&inner, &client, room_id, &events).await });
    }
    if history {
        return;
    }
    for (room_id, update) in &response.rooms.joined {
        let events: Vec<RawEvent> = update
            .timeline
            .events
            .iter()
            .filter_map(|e| serde_json::from_str(e.raw().json().get()).ok())
            .collect();
        // A room the bot has just joined comes with some of its past: that is history too.
        let start = events
            .iter()
            .rposition(|e| is_own_join(e, &inner.config.user_id))
            .map_or(0, |i| i + 1);
        for raw in events.into_iter().skip(start) {
            // The bot's own events are not answered; its own pin changes are still reported
            // (a plugin that pins a message learns its text from that report).
            if raw.sender == inner.config.user_id && raw.kind != "m.room.pinned_events" {
                continue;
            }
            if too_old(raw.origin_server_ts, inner.config.max_event_age) {
                tracing::debug!(room = %room_id, event = ?raw.event_id, "skipping an event older than max_event_age");
                continue;
            }
            on_event(inner, client, inbox, room_id, raw).await;
        }
    }
}

/// Whether `event` is the bot joining the room (not a profile change of a member).
fn is_own_join(event: &RawEvent, me: &str) -> bool {
    let membership = |v: &serde_json::Value| {
        v.get("membership")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    event.kind == "m.room.member"
        && event.state_key.as_deref() == Some(me)
        && membership(&event.content).as_deref() == Some("join")
        && event
            .unsigned
            .get("prev_content")
            .and_then(membership)
            .as_deref()
            != Some("join")
}

fn too_old(ts: Option<u64>, max_age: Duration) -> bool {
    let Some(ts) = ts else { return false };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let max = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
    now.saturating_sub(ts) > max
}

/// The bot's identity in a room, for mention detection.
async fn identity(inner: &Inner, client: &Client, room_id: &RoomId) -> Identity {
    let mut names = Vec::new();
    if let Some(n) = inner
        .display_name
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
    {
        names.push(n);
    }
    if let Some(n) = &inner.config.display_name {
        names.push(n.clone());
    }
    if let (Some(room), Ok(me)) = (
        client.get_room(room_id),
        UserId::parse(inner.config.user_id.as_str()),
    ) && let Ok(Some(member)) = room.get_member_no_sync(&me).await
        && let Some(n) = member.display_name()
    {
        names.push(n.to_owned());
    }
    names.sort();
    names.dedup();
    Identity {
        user_id: inner.config.user_id.clone(),
        names,
    }
}

async fn submit(inbox: &Inbox, event: BackendEvent) {
    if inbox.submit(event).await.is_err() {
        tracing::debug!("the bot is shutting down; event dropped");
    }
}

async fn on_event(
    inner: &Arc<Inner>,
    client: &Client,
    inbox: &Inbox,
    room_id: &OwnedRoomId,
    raw: RawEvent,
) {
    let name = inner.name.as_str();
    let me = identity(inner, client, room_id).await;
    let parsed = crate::incoming::parse(&raw, &me);
    let Ok(room) = ids::to_room(name, room_id) else {
        return;
    };
    let Ok(sender) = ids::to_user(name, &raw.sender) else {
        return;
    };
    let message_id = |id: &str| ids::to_message(name, id).ok();
    match parsed {
        Parsed::Message(m) => {
            if let Some(root) = &m.thread {
                inner
                    .lock(&inner.thread_latest)
                    .insert(root.clone(), m.event_id.clone());
            }
            let sdk_room = client.get_room(room_id);
            let direct = match &sdk_room {
                Some(r) => r.is_direct().await.unwrap_or(false),
                None => false,
            } || inner.lock(&inner.direct_rooms).contains(room_id.as_str());
            let display_name = match (&sdk_room, UserId::parse(raw.sender.as_str())) {
                (Some(r), Ok(uid)) => match r.get_member_no_sync(&uid).await {
                    Ok(Some(member)) => member.name().to_owned(),
                    _ => uid.localpart().to_owned(),
                },
                _ => raw.sender.clone(),
            };
            let thread = m
                .thread
                .as_deref()
                .and_then(|t| ids::to_thread(name, t).ok());
            let message = IncomingMessage {
                id: message_id(&m.event_id),
                room,
                thread,
                author: Author {
                    id: sender,
                    display_name,
                },
                text: m.text,
                direct,
                mentioned: m.mentioned,
                reply_to: m.reply_to.as_deref().and_then(message_id),
            };
            submit(inbox, BackendEvent::Message(message)).await;
        }
        Parsed::Edited { message, text } => {
            if let Some(message) = message_id(&message) {
                submit(
                    inbox,
                    BackendEvent::MessageEvent(MessageEvent::Edited {
                        room,
                        message,
                        text,
                    }),
                )
                .await;
            }
        }
        Parsed::Reaction {
            reaction,
            message,
            key,
        } => {
            let Some(message) = message_id(&message) else {
                return;
            };
            inner.lock(&inner.reactions).insert(
                reaction,
                SeenReaction {
                    room: room.clone(),
                    message: message.clone(),
                    by: sender.clone(),
                    key: key.clone(),
                },
            );
            let text = quote::fetch(client, room_id, message.local())
                .await
                .map(|q| q.text);
            submit(
                inbox,
                BackendEvent::MessageEvent(MessageEvent::ReactionAdded {
                    room,
                    message,
                    by: sender,
                    reaction: key,
                    text,
                }),
            )
            .await;
        }
        Parsed::Redaction { redacts } => {
            let seen = inner.lock(&inner.reactions).remove(&redacts);
            let event = match seen {
                Some(r) => MessageEvent::ReactionRemoved {
                    room: r.room,
                    message: r.message,
                    by: r.by,
                    reaction: r.key,
                },
                None => {
                    let Some(message) = message_id(&redacts) else {
                        return;
                    };
                    MessageEvent::Deleted { room, message }
                }
            };
            submit(inbox, BackendEvent::MessageEvent(event)).await;
        }
        Parsed::Pins { added, removed } => {
            for id in added {
                if let Some(message) = message_id(&id) {
                    let quote = quote::fetch(client, room_id, &id).await;
                    let event = MessageEvent::Pinned {
                        room: room.clone(),
                        message,
                        by: Some(sender.clone()),
                        author: quote
                            .as_ref()
                            .and_then(|q| ids::to_user(name, &q.sender).ok()),
                        text: quote.map(|q| q.text),
                    };
                    submit(inbox, BackendEvent::MessageEvent(event)).await;
                }
            }
            for id in removed {
                if let Some(message) = message_id(&id) {
                    let event = MessageEvent::Unpinned {
                        room: room.clone(),
                        message,
                    };
                    submit(inbox, BackendEvent::MessageEvent(event)).await;
                }
            }
        }
        Parsed::Encrypted => encrypted_notice(inner, room_id).await,
        Parsed::Ignored => {}
    }
}

/// Tells a room once that the bot cannot read its encrypted messages.
async fn encrypted_notice(inner: &Arc<Inner>, room_id: &RoomId) {
    if !inner.config.encrypted_room_notice {
        return;
    }
    let key = format!("encrypted_notice/{room_id}");
    if matches!(inner.store.get::<bool>(&key).await, Ok(Some(true))) {
        return;
    }
    if let Err(e) = inner.store.set(&key, &true).await {
        tracing::warn!(error = %e, "cannot record the encrypted-room notice");
        return;
    }
    tracing::warn!(room = %room_id, "an end-to-end encrypted message arrived; the bot cannot read it");
    let inner = inner.clone();
    let room_id = room_id.to_owned();
    tokio::spawn(async move {
        let text = "I cannot read end-to-end encrypted messages, so I will not see commands in this room. Talk to me in a room without encryption.";
        if let Err(e) = inner.notice(&room_id, text).await {
            tracing::warn!(room = %room_id, error = %e, "cannot post the encrypted-room notice");
        }
    });
}

/// Accepts or declines an invite, per the allow-list.
async fn on_invite(inner: &Inner, client: &Client, room_id: OwnedRoomId, events: &[RawEvent]) {
    let key = room_id.to_string();
    if !inner.lock(&inner.joining).insert(key.clone()) {
        return;
    }
    let me = inner.config.user_id.as_str();
    let invite = events.iter().find(|e| {
        e.kind == "m.room.member"
            && e.state_key.as_deref() == Some(me)
            && e.content.get("membership").and_then(|m| m.as_str()) == Some("invite")
    });
    let inviter = invite.map(|e| e.sender.clone()).unwrap_or_default();
    let direct = invite
        .and_then(|e| e.content.get("is_direct"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let mut aliases = Vec::new();
    for e in events.iter().filter(|e| e.kind == "m.room.canonical_alias") {
        if let Some(a) = e.content.get("alias").and_then(|a| a.as_str()) {
            aliases.push(a.to_owned());
        }
        if let Some(alt) = e.content.get("alt_aliases").and_then(|a| a.as_array()) {
            aliases.extend(alt.iter().filter_map(|a| a.as_str()).map(str::to_owned));
        }
    }
    if inner.config.may_join(&inviter, room_id.as_str(), &aliases) {
        if direct {
            inner.lock(&inner.direct_rooms).insert(key.clone());
        }
        let mut wait = Duration::from_millis(500);
        for attempt in 1..=5 {
            match client.join_room_by_id(&room_id).await {
                Ok(_) => {
                    tracing::info!(room = %room_id, %inviter, direct, "joined on invite");
                    break;
                }
                Err(e) => {
                    let failure = from_sdk(&e);
                    if attempt == 5 || matches!(failure, Failure::Rejected(_)) {
                        tracing::warn!(room = %room_id, error = %failure, "cannot join the room");
                        break;
                    }
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    } else if inner.config.auto_join {
        tracing::info!(room = %room_id, %inviter, "declining an invite from outside the allow-list");
        if let Err(e) = inner.leave(&room_id).await {
            tracing::warn!(room = %room_id, error = %e, "cannot decline the invite");
        }
    } else {
        tracing::info!(room = %room_id, %inviter, "invite left pending (auto_join = false)");
    }
    inner.lock(&inner.joining).remove(&key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let waits: Vec<Duration> = (0..6).map(|_| b.next_wait()).collect();
        for (w, base) in waits.iter().zip([1u64, 2, 4, 8, 8, 8]) {
            let base = Duration::from_secs(base);
            assert!(
                *w >= base.mul_f64(0.8) && *w <= base.mul_f64(1.2),
                "{w:?} vs {base:?}"
            );
            assert!(*w <= Duration::from_secs(8));
        }
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(1200));
    }

    #[test]
    fn own_joins_are_told_from_profile_changes() {
        let member = |state_key: &str, membership: &str, prev: Option<&str>| -> RawEvent {
            let mut e = serde_json::json!({
                "type": "m.room.member", "sender": state_key, "state_key": state_key,
                "content": {"membership": membership},
            });
            if let Some(p) = prev {
                e["unsigned"] = serde_json::json!({"prev_content": {"membership": p}});
            }
            serde_json::from_value(e).unwrap_or_else(|e| panic!("{e}"))
        };
        let me = "@bot:x";
        assert!(is_own_join(&member(me, "join", Some("invite")), me));
        assert!(is_own_join(&member(me, "join", None), me));
        assert!(!is_own_join(&member(me, "join", Some("join")), me));
        assert!(!is_own_join(
            &member("@alice:x", "join", Some("invite")),
            me
        ));
        assert!(!is_own_join(&member(me, "leave", Some("join")), me));
    }

    #[test]
    fn age_filter() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let five = Duration::from_secs(300);
        assert!(!too_old(Some(now - 1_000), five));
        assert!(too_old(Some(now - 301_000), five));
        assert!(!too_old(None, five));
        assert!(!too_old(Some(now + 60_000), five));
    }
}
