//! Outgoing operations: messages, edits, rooms, invites, topics, names, pins, reactions, direct
//! messages, alias resolution and profile look-ups.
//!
//! Every request goes through [`Inner::patiently`]: while the homeserver is down (or the bot
//! is still logging in), an operation waits for it — retrying with backoff and waking up as
//! soon as the sync loop reconnects — for at most `send_wait` counted from the start of the
//! outage, then fails with `Transient` so the core's outbox can retry or give up. The core's
//! own retries (5 attempts, about 4 s in all by default) would not outlast a homeserver
//! restart; this does, and keeps the room's messages in order because the outbox sends one
//! message per room at a time. Operations that must not run twice (creating rooms) are only
//! retried when the request certainly never left (connection refused).
//!
//! Messages are sent with a transaction id that is reused when the same event is sent again
//! after an ambiguous failure, so the homeserver drops the duplicate; the parts of a split
//! message already delivered are remembered, so a resend continues where it stopped.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use ferrbot::backend::RoomSpec;
use ferrbot::message::{Author, OutgoingMessage};
use ferrbot::{BackendError, MessageId, RoomId, Target, UserId};
use matrix_sdk::Client;
use matrix_sdk::RoomState;
use matrix_sdk::ruma::api::client::membership::{invite_user, leave_room};
use matrix_sdk::ruma::api::client::message::send_message_event;
use matrix_sdk::ruma::api::client::room::Visibility;
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::api::client::state::{get_state_event_for_key, send_state_event};
use matrix_sdk::ruma::events::{MessageLikeEventType, StateEventType};
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{
    OwnedEventId, OwnedRoomId, OwnedTransactionId, RoomId as MxRoomId, TransactionId,
    UserId as MxUserId,
};
use serde_json::{Value, json};

use crate::Inner;
use crate::errors::{Failure, from_http, from_sdk};
use crate::ids::{self, RoomRef};
use crate::render::{RenderContext, escape};
use crate::split::{Limits, Part};

/// Forget ambiguous transaction ids and partial progress after this long.
const MEMORY: Duration = Duration::from_secs(3_600);

/// How a failed request may be retried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Safe to send again (idempotent, or deduplicated by a transaction id).
    Always,
    /// Only when the request certainly never reached the homeserver.
    IfUnsent,
}

fn hash_of(parts: &[&str]) -> String {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// The longest room name the backend sends: a sane bound of ferrbot's (Matrix itself only
/// limits a state event to 64 KiB), so a pasted paragraph is refused rather than set.
pub const MAX_ROOM_NAME: usize = 255;

/// A room's new name: trimmed; refused when empty (that would remove the name) or longer than
/// [`MAX_ROOM_NAME`] characters. Matrix keeps case, spaces and any script.
fn room_name(name: &str) -> Result<&str, BackendError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(BackendError::rejected("a room name cannot be empty"));
    }
    let len = name.chars().count();
    if len > MAX_ROOM_NAME {
        return Err(BackendError::rejected(format!(
            "a Matrix room name has at most {MAX_ROOM_NAME} characters here; this one has {len}"
        )));
    }
    Ok(name)
}

fn raw_json<T>(value: &Value) -> Result<Raw<T>, Failure> {
    serde_json::value::to_raw_value(value)
        .map(Raw::from_json)
        .map_err(|e| Failure::Rejected(format!("cannot encode the event: {e}")))
}

/// A short name (`+1`, `:eyes:`) as the emoji Matrix clients show; anything else as is.
pub fn emoji(reaction: &str) -> String {
    let name = reaction.trim().trim_matches(':');
    let e = match name {
        "+1" | "thumbsup" | "thumbs_up" => "👍",
        "-1" | "thumbsdown" | "thumbs_down" => "👎",
        "eyes" => "👀",
        "white_check_mark" | "check" => "✅",
        "heavy_check_mark" => "✔️",
        "x" => "❌",
        "warning" => "⚠️",
        "rocket" => "🚀",
        "tada" => "🎉",
        "fire" => "🔥",
        "heart" => "❤️",
        "rotating_light" => "🚨",
        "hourglass" | "hourglass_flowing_sand" => "⏳",
        "pushpin" => "📌",
        "bell" => "🔔",
        "ok" => "🆗",
        "wave" => "👋",
        "sos" => "🆘",
        "stop_sign" | "octagonal_sign" => "🛑",
        "repeat" => "🔁",
        "question" => "❓",
        "exclamation" => "❗",
        _ => return reaction.trim().to_owned(),
    };
    e.to_owned()
}

/// The content of one message part (an `m.notice`).
pub fn message_content(part: &Part, relation: Option<Value>) -> Value {
    let mut content = json!({
        "msgtype": "m.notice",
        "body": part.body,
        "m.mentions": mentions(&part.mentions),
    });
    if part.html != escape(&part.body) {
        content["format"] = json!("org.matrix.custom.html");
        content["formatted_body"] = json!(part.html);
    }
    if let Some(relation) = relation {
        content["m.relates_to"] = relation;
    }
    content
}

fn mentions(users: &[String]) -> Value {
    if users.is_empty() {
        json!({})
    } else {
        json!({ "user_ids": users })
    }
}

/// The relation of a reply in thread `root`, falling back to a reply to `latest` for
/// clients without threads.
pub fn thread_relation(root: &str, latest: &str) -> Value {
    json!({
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": true,
        "m.in_reply_to": { "event_id": latest },
    })
}

/// The content of an edit (`m.replace`) of `original` to `part`.
pub fn edit_content(original: &str, part: &Part) -> Value {
    let new = message_content(part, None);
    let mut content = json!({
        "msgtype": "m.notice",
        "body": format!("* {}", part.body),
        "m.new_content": new,
        "m.mentions": mentions(&part.mentions),
        "m.relates_to": { "rel_type": "m.replace", "event_id": original },
    });
    if let Some(html) = new.get("formatted_body").and_then(Value::as_str) {
        content["format"] = json!("org.matrix.custom.html");
        content["formatted_body"] = json!(format!("* {html}"));
    }
    content
}

impl Inner {
    /// Waits `wait`, or less if the sync loop reconnects meanwhile.
    async fn wait_for_connection(&self, wait: Duration) {
        let mut rx = self.connected.subscribe();
        rx.borrow_and_update();
        let reconnected = async {
            loop {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                if *rx.borrow() {
                    return;
                }
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = reconnected => {}
        }
    }

    /// Runs `op` with the current client until it succeeds, fails for good, or the homeserver
    /// has been unavailable for longer than `send_wait`.
    async fn patiently<T, F, Fut>(&self, what: &str, retry: Retry, mut op: F) -> Result<T, Failure>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut backoff = Duration::from_millis(250);
        loop {
            let failure = match self.client() {
                Some(client) => match op(client).await {
                    Ok(value) => {
                        self.mark_up();
                        return Ok(value);
                    }
                    Err(f) => f,
                },
                None => Failure::Unconnected("not connected to the homeserver yet".into()),
            };
            let retryable = match (&failure, retry) {
                (Failure::Unconnected(_) | Failure::UnknownToken(_), _) => true,
                (f, Retry::Always) => f.is_outage(),
                (_, Retry::IfUnsent) => false,
            };
            if !retryable {
                return Err(failure);
            }
            let since = self.mark_down();
            if since.elapsed() >= self.config.send_wait {
                tracing::warn!(backend = %self.name, what, error = %failure, "the homeserver stayed unavailable; giving up");
                return Err(failure);
            }
            tracing::debug!(backend = %self.name, what, error = %failure, ?backoff, "homeserver unavailable; waiting");
            self.wait_for_connection(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Resolves a room (an alias through the homeserver, cached).
    async fn room_id(&self, room: &RoomId) -> Result<OwnedRoomId, BackendError> {
        match ids::room_ref(&self.name, room)? {
            RoomRef::Id(id) => Ok(id),
            RoomRef::Alias(alias) => {
                if let Some(id) = self.lock(&self.aliases).get(alias.as_str()) {
                    return Ok(id.clone());
                }
                let id = self
                    .patiently("resolve alias", Retry::Always, |client| {
                        let alias = alias.clone();
                        async move {
                            client
                                .resolve_room_alias(&alias)
                                .await
                                .map(|r| r.room_id)
                                .map_err(|e| match from_http(&e) {
                                    Failure::Rejected(m) => Failure::Rejected(format!(
                                        "cannot resolve the room alias {alias}: {m}"
                                    )),
                                    other => other,
                                })
                        }
                    })
                    .await
                    .map_err(|f| f.to_backend_error())?;
                self.lock(&self.aliases)
                    .insert(alias.to_string(), id.clone());
                Ok(id)
            }
        }
    }

    /// The direct-message room with `user`, created when there is none.
    async fn dm_room(&self, user: &UserId) -> Result<OwnedRoomId, BackendError> {
        let user_id = ids::user(&self.name, user)?;
        let cached = self.lock(&self.dm_rooms).get(user_id.as_str()).cloned();
        let client = self.client();
        if let (Some(id), Some(client)) = (cached, &client)
            && client
                .get_room(&id)
                .is_some_and(|r| r.state() == RoomState::Joined)
        {
            return Ok(id);
        }
        if let Some(room) = client.as_ref().and_then(|c| c.get_dm_room(&user_id)) {
            let id = room.room_id().to_owned();
            self.lock(&self.dm_rooms)
                .insert(user_id.to_string(), id.clone());
            return Ok(id);
        }
        let id = self
            .patiently("create a direct-message room", Retry::IfUnsent, |client| {
                let user_id = user_id.clone();
                async move {
                    if let Some(room) = client.get_dm_room(&user_id) {
                        return Ok(room.room_id().to_owned());
                    }
                    client
                        .create_dm(&user_id)
                        .await
                        .map(|r| r.room_id().to_owned())
                        .map_err(|e| from_sdk(&e))
                }
            })
            .await
            .map_err(|f| f.to_backend_error())?;
        tracing::info!(backend = %self.name, user = %user_id, room = %id, "opened a direct-message room");
        self.lock(&self.dm_rooms)
            .insert(user_id.to_string(), id.clone());
        Ok(id)
    }

    async fn target_room(
        &self,
        target: &Target,
    ) -> Result<(OwnedRoomId, Option<OwnedEventId>), BackendError> {
        match target {
            Target::Room { room, thread } => {
                let root = thread
                    .as_ref()
                    .map(|t| ids::thread_root(&self.name, t))
                    .transpose()?;
                Ok((self.room_id(room).await?, root))
            }
            Target::Direct { user } => Ok((self.dm_room(user).await?, None)),
        }
    }

    /// Sends one event, reusing the transaction id of an earlier ambiguous attempt.
    async fn send_event(
        &self,
        room_id: &MxRoomId,
        event_type: &str,
        content: &Value,
    ) -> Result<OwnedEventId, Failure> {
        let key = hash_of(&[room_id.as_str(), event_type, &content.to_string()]);
        let txn: OwnedTransactionId = self
            .lock(&self.pending_txn)
            .get(&key)
            .filter(|(_, at)| at.elapsed() < MEMORY)
            .map_or_else(TransactionId::new, |(t, _)| t.as_str().into());
        let raw = raw_json(content)?;
        let result = self
            .patiently("send", Retry::Always, |client| {
                let request = send_message_event::v3::Request::new_raw(
                    room_id.to_owned(),
                    txn.clone(),
                    MessageLikeEventType::from(event_type),
                    raw.clone(),
                );
                async move {
                    client
                        .send(request)
                        .await
                        .map(|r| r.event_id)
                        .map_err(|e| from_http(&e))
                }
            })
            .await;
        match &result {
            Err(f) if f.is_outage() || matches!(f, Failure::UnknownToken(_)) => {
                self.lock(&self.pending_txn)
                    .insert(key, (txn.to_string(), Instant::now()));
            }
            _ => {
                self.lock(&self.pending_txn).remove(&key);
            }
        }
        result
    }

    /// Display names of `users` as the room knows them (best effort, no requests).
    async fn member_names(&self, room_id: &MxRoomId, users: &[String]) -> HashMap<String, String> {
        let mut names = HashMap::new();
        let Some(room) = self.client().and_then(|c| c.get_room(room_id)) else {
            return names;
        };
        for user in users {
            if let Ok(uid) = MxUserId::parse(user.as_str())
                && let Ok(Some(member)) = room.get_member_no_sync(&uid).await
                && let Some(name) = member.display_name()
            {
                names.insert(user.clone(), name.to_owned());
            }
        }
        names
    }

    /// Renders a message for a room, with mentioned users' display names.
    async fn render(&self, room_id: &MxRoomId, message: &OutgoingMessage) -> Vec<Part> {
        let limits = Limits::new(self.config.max_message_len);
        let none = |_: &str| None;
        let first = RenderContext {
            backend: &self.name,
            prefix: &self.prefix,
            names: &none,
        }
        .message(message, limits);
        let mut mentioned: Vec<String> = first.iter().flat_map(|p| p.mentions.clone()).collect();
        mentioned.dedup();
        if mentioned.is_empty() {
            return first;
        }
        let names = self.member_names(room_id, &mentioned).await;
        let lookup = |id: &str| names.get(id).cloned();
        RenderContext {
            backend: &self.name,
            prefix: &self.prefix,
            names: &lookup,
        }
        .message(message, limits)
    }

    /// Sends a message (split when long) and returns the id of its first part.
    pub(crate) async fn send(
        &self,
        target: &Target,
        message: &OutgoingMessage,
    ) -> Result<MessageId, BackendError> {
        let (room_id, root) = self.target_room(target).await?;
        let parts = self.render(&room_id, message).await;
        if parts.is_empty() {
            return Err(BackendError::rejected(
                "nothing to send: the message is empty",
            ));
        }
        let mut key_parts: Vec<&str> =
            vec![room_id.as_str(), root.as_ref().map_or("", |r| r.as_str())];
        for p in &parts {
            key_parts.push(&p.body);
            key_parts.push(&p.html);
        }
        let key = hash_of(&key_parts);
        let mut sent: Vec<String> = self
            .lock(&self.progress)
            .get(&key)
            .filter(|(_, at)| at.elapsed() < MEMORY)
            .map(|(ids, _)| ids.clone())
            .unwrap_or_default();
        for part in parts.iter().skip(sent.len()) {
            let relation = root.as_ref().map(|root| {
                let latest = self
                    .lock(&self.thread_latest)
                    .get(root.as_str())
                    .cloned()
                    .unwrap_or_else(|| root.to_string());
                thread_relation(root.as_str(), &latest)
            });
            let content = message_content(part, relation);
            match self.send_event(&room_id, "m.room.message", &content).await {
                Ok(id) => {
                    if let Some(root) = &root {
                        self.lock(&self.thread_latest)
                            .insert(root.to_string(), id.to_string());
                    }
                    sent.push(id.to_string());
                    if sent.len() < parts.len() {
                        self.lock(&self.progress)
                            .insert(key.clone(), (sent.clone(), Instant::now()));
                    }
                }
                Err(f) => return Err(f.to_backend_error()),
            }
        }
        self.lock(&self.progress).remove(&key);
        let first = sent
            .first()
            .ok_or_else(|| BackendError::rejected("nothing was sent"))?;
        ids::to_message(&self.name, first)
    }

    /// Posts a plain notice (the backend's own messages, e.g. about encryption).
    pub(crate) async fn notice(&self, room_id: &MxRoomId, text: &str) -> Result<(), Failure> {
        let part = Part {
            body: text.to_owned(),
            html: escape(text),
            mentions: Vec::new(),
        };
        self.send_event(room_id, "m.room.message", &message_content(&part, None))
            .await
            .map(|_| ())
    }

    /// Replaces a message the bot sent (`m.replace`), with the first part of `new`.
    pub(crate) async fn edit(
        &self,
        target: &Target,
        message: &MessageId,
        new: &OutgoingMessage,
    ) -> Result<(), BackendError> {
        let (room_id, _) = self.target_room(target).await?;
        let original = ids::event(&self.name, message)?;
        let parts = self.render(&room_id, new).await;
        let Some(part) = parts.first() else {
            return Err(BackendError::rejected(
                "nothing to send: the message is empty",
            ));
        };
        self.send_event(
            &room_id,
            "m.room.message",
            &edit_content(original.as_str(), part),
        )
        .await
        .map(|_| ())
        .map_err(|f| f.to_backend_error())
    }

    /// Creates a room with a name, topic and invites; invite-only when private.
    pub(crate) async fn create_room(&self, spec: &RoomSpec) -> Result<RoomId, BackendError> {
        let invite = spec
            .invite
            .iter()
            .map(|u| ids::user(&self.name, u))
            .collect::<Result<Vec<_>, _>>()?;
        let mut request = create_room::v3::Request::new();
        request.name = Some(spec.name.clone()).filter(|n| !n.trim().is_empty());
        request.topic = spec.topic.clone().filter(|t| !t.trim().is_empty());
        request.invite = invite;
        request.visibility = Visibility::Private;
        request.preset = Some(if spec.private {
            create_room::v3::RoomPreset::PrivateChat
        } else {
            create_room::v3::RoomPreset::PublicChat
        });
        let room_id = self
            .patiently("create a room", Retry::IfUnsent, |client| {
                let request = request.clone();
                async move {
                    client
                        .create_room(request)
                        .await
                        .map(|r| r.room_id().to_owned())
                        .map_err(|e| from_sdk(&e))
                }
            })
            .await
            .map_err(|f| f.to_backend_error())?;
        tracing::info!(backend = %self.name, room = %room_id, name = %spec.name, "created a room");
        if let Err(f) = self.let_members_pin(&room_id).await {
            tracing::warn!(room = %room_id, error = %f, "members of the new room may not pin messages");
        }
        ids::to_room(&self.name, &room_id)
    }

    /// Invites users to a room (users already in it are fine).
    pub(crate) async fn invite(&self, room: &RoomId, users: &[UserId]) -> Result<(), BackendError> {
        let room_id = self.room_id(room).await?;
        for user in users {
            let user_id = ids::user(&self.name, user)?;
            let result = self
                .patiently("invite", Retry::Always, |client| {
                    let request = invite_user::v3::Request::new(
                        room_id.clone(),
                        invite_user::v3::InvitationRecipient::UserId(
                            invite_user::v3::InviteUserId::new(user_id.clone()),
                        ),
                    );
                    async move {
                        client
                            .send(request)
                            .await
                            .map(|_| ())
                            .map_err(|e| from_http(&e))
                    }
                })
                .await;
            match result {
                Ok(()) => {}
                Err(Failure::Rejected(m)) if m.contains("already in the room") => {}
                Err(f) => return Err(f.to_backend_error()),
            }
        }
        Ok(())
    }

    async fn put_state(
        &self,
        room_id: &MxRoomId,
        event_type: StateEventType,
        content: &Value,
    ) -> Result<(), BackendError> {
        let raw = raw_json(content).map_err(|f| f.to_backend_error())?;
        self.patiently("set room state", Retry::Always, |client| {
            let request = send_state_event::v3::Request::new_raw(
                room_id.to_owned(),
                event_type.clone(),
                String::new(),
                raw.clone(),
            );
            async move {
                client
                    .send(request)
                    .await
                    .map(|_| ())
                    .map_err(|e| from_http(&e))
            }
        })
        .await
        .map_err(|f| f.to_backend_error())
    }

    /// Sets a room's topic.
    pub(crate) async fn set_topic(&self, room: &RoomId, topic: &str) -> Result<(), BackendError> {
        let room_id = self.room_id(room).await?;
        self.put_state(
            &room_id,
            StateEventType::RoomTopic,
            &json!({ "topic": topic }),
        )
        .await
    }

    /// Renames a room: sends its `m.room.name` state event (needs the power level for it).
    pub(crate) async fn rename_room(&self, room: &RoomId, name: &str) -> Result<(), BackendError> {
        let name = room_name(name)?;
        let room_id = self.room_id(room).await?;
        self.put_state(&room_id, StateEventType::RoomName, &json!({ "name": name }))
            .await
            .map_err(|err| match err {
                BackendError::Rejected { message } if message.contains("M_FORBIDDEN") => {
                    BackendError::rejected(format!(
                        "the bot's power level does not let it rename this room ({message})"
                    ))
                }
                other => other,
            })
    }

    /// Pins a message: adds it to the room's `m.room.pinned_events`.
    pub(crate) async fn pin(&self, room: &RoomId, message: &MessageId) -> Result<(), BackendError> {
        let room_id = self.room_id(room).await?;
        let event = ids::event(&self.name, message)?;
        let current: Value = self
            .patiently("read pins", Retry::Always, |client| {
                let request = get_state_event_for_key::v3::Request::new(
                    room_id.clone(),
                    StateEventType::RoomPinnedEvents,
                    String::new(),
                );
                async move {
                    match client.send(request).await {
                        Ok(r) => serde_json::from_str(r.event_or_content.get())
                            .map_err(|e| Failure::Rejected(format!("unreadable pins: {e}"))),
                        Err(e) => match from_http(&e) {
                            Failure::Rejected(m) if m.contains("M_NOT_FOUND") => Ok(json!({})),
                            other => Err(other),
                        },
                    }
                }
            })
            .await
            .map_err(|f| f.to_backend_error())?;
        let mut pinned: Vec<String> = current
            .get("pinned")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if pinned.iter().any(|p| p == event.as_str()) {
            return Ok(());
        }
        pinned.push(event.to_string());
        self.put_state(
            &room_id,
            StateEventType::RoomPinnedEvents,
            &json!({ "pinned": pinned }),
        )
        .await
    }

    /// Reacts to a message (`m.reaction`); reacting twice with the same key is fine.
    pub(crate) async fn react(
        &self,
        room: &RoomId,
        message: &MessageId,
        reaction: &str,
    ) -> Result<(), BackendError> {
        let room_id = self.room_id(room).await?;
        let event = ids::event(&self.name, message)?;
        let key = emoji(reaction);
        if key.is_empty() {
            return Err(BackendError::rejected("an empty reaction"));
        }
        let content = json!({
            "m.relates_to": { "rel_type": "m.annotation", "event_id": event, "key": key }
        });
        match self.send_event(&room_id, "m.reaction", &content).await {
            Ok(_) => Ok(()),
            Err(Failure::Rejected(m)) if m.contains("M_DUPLICATE_ANNOTATION") => Ok(()),
            Err(f) => Err(f.to_backend_error()),
        }
    }

    /// Whether `user` administers `room`: their power level lets them change the room's power
    /// levels (Element's "Admin"; room creators in room version 12 always may). The synced
    /// room state is used when the bot has it, else the `m.room.power_levels` state event.
    pub(crate) async fn is_room_admin(
        &self,
        room: &RoomId,
        user: &UserId,
    ) -> Result<bool, BackendError> {
        let room_id = self.room_id(room).await?;
        let user_id = ids::user(&self.name, user)?;
        if let Some(joined) = self.client().and_then(|c| c.get_room(&room_id))
            && let Ok(levels) = joined.power_levels().await
        {
            return Ok(levels.user_can_send_state(&user_id, StateEventType::RoomPowerLevels));
        }
        let levels: Value = self
            .patiently("read power levels", Retry::Always, |client| {
                let request = get_state_event_for_key::v3::Request::new(
                    room_id.clone(),
                    StateEventType::RoomPowerLevels,
                    String::new(),
                );
                async move {
                    match client.send(request).await {
                        Ok(r) => serde_json::from_str(r.event_or_content.get()).map_err(|e| {
                            Failure::Rejected(format!("unreadable power levels: {e}"))
                        }),
                        Err(e) => Err(from_http(&e)),
                    }
                }
            })
            .await
            .map_err(|f| f.to_backend_error())?;
        Ok(may_change_power_levels(&levels, user_id.as_str()))
    }

    /// Leaves (or declines) a room.
    pub(crate) async fn leave(&self, room_id: &MxRoomId) -> Result<(), Failure> {
        let Some(client) = self.client() else {
            return Err(Failure::Unconnected("not connected yet".into()));
        };
        client
            .send(leave_room::v3::Request::new(room_id.to_owned()))
            .await
            .map(|_| ())
            .map_err(|e| from_http(&e))
    }

    /// A user's display name from their profile (the id's local part when there is none).
    pub(crate) async fn user(&self, user: &UserId) -> Result<Author, BackendError> {
        let user_id = ids::user(&self.name, user)?;
        let profile = self
            .patiently("profile", Retry::Always, |client| {
                let user_id = user_id.clone();
                async move {
                    client
                        .account()
                        .fetch_user_profile_of(&user_id)
                        .await
                        .map_err(|e| from_sdk(&e))
                }
            })
            .await;
        let display_name = match profile {
            Ok(p) => p
                .get("displayname")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
                .map(str::to_owned),
            Err(Failure::Rejected(_)) => None,
            Err(f) => return Err(f.to_backend_error()),
        }
        .unwrap_or_else(|| user_id.localpart().to_owned());
        Ok(Author {
            id: user.clone(),
            display_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_trimmed_or_refused_with_the_reason() {
        assert_eq!(
            room_name("  Search War Room ").ok(),
            Some("Search War Room")
        );
        assert!(room_name(&"é".repeat(255)).is_ok());
        let err = room_name(&"é".repeat(256)).unwrap_err().to_string();
        assert!(
            err.contains("at most 255 characters here; this one has 256"),
            "{err}"
        );
        let err = room_name("   ").unwrap_err().to_string();
        assert!(err.contains("cannot be empty"), "{err}");
    }

    #[test]
    fn short_names_become_emoji() {
        for (input, want) in [
            (":eyes:", "👀"),
            ("+1", "👍"),
            ("white_check_mark", "✅"),
            ("🎉", "🎉"),
            ("custom text", "custom text"),
        ] {
            assert_eq!(emoji(input), want, "{input}");
        }
    }

    #[test]
    fn content_shapes() {
        let part = Part {
            body: "hi Alice".into(),
            html: "hi <a href=\"https://matrix.to/#/@alice:x\">Alice</a>".into(),
            mentions: vec!["@alice:x".into()],
        };
        let c = message_content(&part, Some(thread_relation("$root", "$last")));
        assert_eq!(c["msgtype"], "m.notice");
        assert_eq!(c["format"], "org.matrix.custom.html");
        assert_eq!(c["m.mentions"]["user_ids"][0], "@alice:x");
        assert_eq!(c["m.relates_to"]["rel_type"], "m.thread");
        assert_eq!(c["m.relates_to"]["event_id"], "$root");
        assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], "$last");

        let plain = Part {
            body: "a < b".into(),
            html: "a &lt; b".into(),
            mentions: vec![],
        };
        let c = message_content(&plain, None);
        assert!(c.get("formatted_body").is_none(), "{c}");
        assert_eq!(c["m.mentions"], json!({}));

        let e = edit_content("$orig", &part);
        assert_eq!(e["body"], "* hi Alice");
        assert_eq!(e["m.new_content"]["body"], "hi Alice");
        assert_eq!(e["m.relates_to"]["rel_type"], "m.replace");
        assert!(
            e["formatted_body"]
                .as_str()
                .unwrap_or_default()
                .starts_with("* hi")
        );
    }
}

/// Whether a user may send `m.room.power_levels` under these power levels (the JSON content
/// of the state event, as the client-server API returns it).
fn may_change_power_levels(levels: &Value, user: &str) -> bool {
    let int = |v: Option<&Value>| {
        v.and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let mine = int(levels.get("users").and_then(|u| u.get(user)))
        .or_else(|| int(levels.get("users_default")))
        .unwrap_or(0);
    let needed = int(levels
        .get("events")
        .and_then(|e| e.get("m.room.power_levels")))
    .or_else(|| int(levels.get("state_default")))
    .unwrap_or(50);
    mine >= needed
}

#[cfg(test)]
mod power_level_tests {
    use super::may_change_power_levels;
    use serde_json::json;

    #[test]
    fn admins_are_users_who_may_change_power_levels() {
        let levels = json!({
            "users": {"@admin:h": 100, "@mod:h": 50, "@str:h": "100"},
            "users_default": 0,
            "events": {"m.room.power_levels": 100},
            "state_default": 50
        });
        assert!(may_change_power_levels(&levels, "@admin:h"));
        assert!(may_change_power_levels(&levels, "@str:h"));
        assert!(!may_change_power_levels(&levels, "@mod:h"));
        assert!(!may_change_power_levels(&levels, "@nobody:h"));
        // Without an explicit event level, state_default applies; without it, 50.
        let levels = json!({"users": {"@mod:h": 50}});
        assert!(may_change_power_levels(&levels, "@mod:h"));
        assert!(!may_change_power_levels(&levels, "@x:h"));
        assert!(may_change_power_levels(
            &json!({"users_default": 60}),
            "@x:h"
        ));
    }
}
