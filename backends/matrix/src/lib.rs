//! `ferrbot-backend-matrix`: ferrbot on Matrix, through matrix-sdk's client-server API.
//!
//! Where it sits: a backend crate. It depends on the core (`ferrbot`) and on matrix-sdk
//! (built without end-to-end encryption and without its SQLite store); it knows no plugin and
//! no other backend. The daemon builds it with [`MatrixBackend::from_setup`].
//!
//! - **Login** ([`session`]) — password or access token; the device id (and, for password
//!   logins, the access token) is kept in the backend's store, so restarts reuse one device.
//! - **Intake** ([`sync`]) — a `/sync` long-poll loop. On the very first start it skips
//!   history; afterwards it resumes from the `next_batch` token saved after every batch, so
//!   nothing is answered twice and nothing said during a short restart is lost (messages older
//!   than `max_event_age` are not treated as commands). Invites are accepted from an
//!   allow-list. `m.text` and `m.notice` messages become
//!   [`IncomingMessage`](ferrbot::IncomingMessage)s: thread roots become
//!   [`ThreadId`](ferrbot::ThreadId)s, reply fallbacks are removed, a leading mention of the
//!   bot (pill, user id, `@localpart`, display name) is stripped and sets `mentioned`; the
//!   bot's own events are ignored, except its pin changes. Reactions, edits, redactions and
//!   pin changes are reported as message events; pins and reactions carry the message's text
//!   (pins its author too), fetched from the homeserver ([`quote`]). The homeserver going
//!   away is reported as `Disconnected` and the loop reconnects with exponential backoff.
//! - **Output** ([`render`], [`split`], [`ops`]) — `m.notice` events with `body` and an HTML
//!   `formatted_body` (safe subset, user text escaped), intentional `m.mentions`, threads,
//!   splitting of long messages; rooms created (name, topic, invites; members may pin:
//!   [`room_levels`]), invites, topics, renames (`m.room.name`), pins
//!   (`m.room.pinned_events`), reactions, edits (`m.replace`),
//!   direct-message rooms, and room aliases resolved. A 429 is handed to the core's outbox as
//!   `RateLimited`; while the homeserver is down, sends wait for it (up to `send_wait` from
//!   the start of the outage) instead of failing within seconds.
//!
//! It does not read end-to-end encrypted rooms (see `docs/backends/matrix.md`).

pub mod config;
pub mod errors;
pub mod ids;
pub mod incoming;
mod ops;
mod quote;
pub mod render;
mod room_levels;
pub mod session;
pub mod split;
pub mod sync;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use ferrbot::backend::{Capabilities, MessageEvents, RoomSpec};
use ferrbot::message::{Author, OutgoingMessage};
use ferrbot::registry::BackendSetup;
use ferrbot::store::KvStore;
use ferrbot::{Backend, BackendError, Inbox, MessageId, RoomId, Target, UserId};
use matrix_sdk::Client;
use matrix_sdk::ruma::OwnedRoomId;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use config::{Credentials, MatrixConfig};

/// A small map that forgets its oldest entries beyond a capacity.
pub(crate) struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    capacity: usize,
}

impl<V> Bounded<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn insert(&mut self, key: String, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        self.map.remove(key)
    }
}

/// A reaction the bot saw, so that its redaction can be reported as its removal.
#[derive(Clone, Debug)]
pub(crate) struct SeenReaction {
    pub(crate) room: RoomId,
    pub(crate) message: MessageId,
    pub(crate) by: UserId,
    pub(crate) key: String,
}

/// State shared by the backend, its sync loop and its sends.
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) config: MatrixConfig,
    pub(crate) store: KvStore,
    /// The logged-in client, published after the first successful sync.
    client: RwLock<Option<Client>>,
    /// Whether the sync loop is connected (sends wait for `true` during an outage).
    pub(crate) connected: watch::Sender<bool>,
    /// When the current outage started, if the homeserver is down.
    outage_since: Mutex<Option<Instant>>,
    /// The bot's global display name.
    pub(crate) display_name: RwLock<Option<String>>,
    pub(crate) aliases: Mutex<HashMap<String, OwnedRoomId>>,
    pub(crate) dm_rooms: Mutex<HashMap<String, OwnedRoomId>>,
    pub(crate) reactions: Mutex<Bounded<SeenReaction>>,
    /// The latest event seen in each thread (for the reply fallback of thread replies).
    pub(crate) thread_latest: Mutex<Bounded<String>>,
    /// Rooms currently being joined.
    pub(crate) joining: Mutex<HashSet<String>>,
    /// Rooms the bot was invited to as a direct chat (known before `m.direct` catches up).
    pub(crate) direct_rooms: Mutex<HashSet<String>>,
    /// Transaction ids of sends that failed ambiguously, reused when the same event is sent
    /// again, so the homeserver drops a duplicate.
    pub(crate) pending_txn: Mutex<Bounded<(String, Instant)>>,
    /// Parts of split messages already delivered, for resends after a failure midway.
    pub(crate) progress: Mutex<Bounded<(Vec<String>, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    pub(crate) fn client(&self) -> Option<Client> {
        self.client
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_client(&self, client: Client) {
        *self
            .client
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(client);
    }

    /// Records that the homeserver answered.
    pub(crate) fn mark_up(&self) {
        *lock(&self.outage_since) = None;
    }

    /// Records that the homeserver did not answer; returns when the outage started.
    pub(crate) fn mark_down(&self) -> Instant {
        *lock(&self.outage_since).get_or_insert_with(Instant::now)
    }

    pub(crate) fn lock<'a, T>(&self, m: &'a Mutex<T>) -> std::sync::MutexGuard<'a, T> {
        lock(m)
    }
}

/// The Matrix backend.
pub struct MatrixBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MatrixBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixBackend")
            .field("name", &self.inner.name)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl MatrixBackend {
    /// Builds the backend from `[backends.<name>]`. Does no network I/O: it connects in
    /// [`Backend::run`].
    ///
    /// # Errors
    /// When the section is invalid; the message names the key.
    pub fn from_setup(setup: &BackendSetup) -> Result<Self, ferrbot::error::ConfigError> {
        let config = MatrixConfig::parse(&setup.name, &setup.config)
            .map_err(|e| ferrbot::error::ConfigError::new(e.to_string()))?;
        Self::new(&setup.name, &setup.prefix, config, setup.store.clone())
    }

    /// Builds the backend from a parsed config.
    ///
    /// # Errors
    /// When the backend name is not a valid id prefix.
    pub fn new(
        name: &str,
        prefix: &str,
        config: MatrixConfig,
        store: KvStore,
    ) -> Result<Self, ferrbot::error::ConfigError> {
        UserId::new(name, "@x:y").map_err(|e| ferrbot::error::ConfigError::new(e.to_string()))?;
        let (connected, _) = watch::channel(false);
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                prefix: prefix.to_owned(),
                config,
                store,
                client: RwLock::new(None),
                connected,
                outage_since: Mutex::new(None),
                display_name: RwLock::new(None),
                aliases: Mutex::new(HashMap::new()),
                dm_rooms: Mutex::new(HashMap::new()),
                reactions: Mutex::new(Bounded::new(10_000)),
                thread_latest: Mutex::new(Bounded::new(10_000)),
                joining: Mutex::new(HashSet::new()),
                direct_rooms: Mutex::new(HashSet::new()),
                pending_txn: Mutex::new(Bounded::new(1_000)),
                progress: Mutex::new(Bounded::new(1_000)),
            }),
        })
    }

    /// The parsed configuration (its `Debug` hides the password and token).
    pub fn config(&self) -> &MatrixConfig {
        &self.inner.config
    }

    /// The bot's own user id.
    pub fn bot_user(&self) -> Option<UserId> {
        UserId::new(&self.inner.name, &self.inner.config.user_id).ok()
    }

    /// Whether the sync loop is currently connected to the homeserver.
    pub fn is_connected(&self) -> bool {
        *self.inner.connected.borrow()
    }
}

#[async_trait]
impl Backend for MatrixBackend {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            threads: true,
            cards: true,
            reactions: true,
            edits: true,
            create_rooms: true,
            invite: true,
            topic: true,
            rename_rooms: true,
            archive: false,
            pin: true,
            direct_messages: true,
            buttons: false,
            message_events: MessageEvents {
                pins: true,
                reactions: true,
                edits: true,
                deletions: true,
            },
            max_message_len: self.inner.config.max_message_len,
        }
    }

    async fn run(&self, inbox: Inbox, shutdown: CancellationToken) -> Result<(), BackendError> {
        sync::run(self.inner.clone(), inbox, shutdown).await;
        Ok(())
    }

    async fn send(
        &self,
        target: &Target,
        message: &OutgoingMessage,
    ) -> Result<MessageId, BackendError> {
        self.inner.send(target, message).await
    }

    async fn edit(
        &self,
        target: &Target,
        message: &MessageId,
        new: &OutgoingMessage,
    ) -> Result<(), BackendError> {
        self.inner.edit(target, message, new).await
    }

    async fn create_room(&self, spec: &RoomSpec) -> Result<RoomId, BackendError> {
        self.inner.create_room(spec).await
    }

    async fn invite(&self, room: &RoomId, users: &[UserId]) -> Result<(), BackendError> {
        self.inner.invite(room, users).await
    }

    async fn set_topic(&self, room: &RoomId, topic: &str) -> Result<(), BackendError> {
        self.inner.set_topic(room, topic).await
    }

    async fn rename_room(&self, room: &RoomId, name: &str) -> Result<(), BackendError> {
        self.inner.rename_room(room, name).await
    }

    async fn pin(&self, room: &RoomId, message: &MessageId) -> Result<(), BackendError> {
        self.inner.pin(room, message).await
    }

    async fn react(
        &self,
        room: &RoomId,
        message: &MessageId,
        reaction: &str,
    ) -> Result<(), BackendError> {
        self.inner.react(room, message, reaction).await
    }

    async fn user(&self, user: &UserId) -> Result<Author, BackendError> {
        self.inner.user(user).await
    }

    async fn is_room_admin(&self, room: &RoomId, user: &UserId) -> Result<bool, BackendError> {
        self.inner.is_room_admin(room, user).await
    }
}
