//! `ferrbot-backend-slack`: ferrbot on Slack, through slack-morphism's Web API client.
//!
//! - **Intake**, chosen by `mode`:
//!   - **Socket Mode** (default, [`socket`]): `apps.connections.open` with the app-level
//!     token, then a WebSocket; every envelope is acknowledged once, as soon as it arrives,
//!     and its payload handed to a worker; a `disconnect` envelope or a dropped socket leads
//!     to a fresh connection.
//!   - **Events API** ([`http`]): Slack POSTs to `/backends/<name>/events`,
//!     `/backends/<name>/interactivity` and `/backends/<name>/commands` on ferrbot's web
//!     server; each request's signature, age and novelty are checked ([`signing`]) and the
//!     `url_verification` challenge is answered.
//! - **Events** ([`events`]): channel and direct messages, `app_mention`, thread replies
//!   (`thread_ts`), a leading `<@bot>` mention stripped; edits, deletions, pins and reactions
//!   reported as message events; the bot's own messages (learnt from `auth.test`) and other
//!   bots' ignored; display names from `users.info`, cached ([`users`]).
//! - **Slash command and buttons**: `/ferrbot <line>` (name configurable; other slash
//!   commands run `<command> <text>`) and clicks on card buttons (`block_actions`) run the
//!   command line as the person who typed or clicked, through the dispatcher and its ACLs.
//!   A slash command's reply goes to its `response_url`.
//! - **Output** ([`mrkdwn`], [`blocks`]): neutral markup as mrkdwn with `&`, `<`, `>`
//!   escaped; cards as Block Kit in a coloured attachment; actions as buttons; replies in
//!   the thread they came from; long messages split at 4,000 characters.
//! - **Rate limits** ([`api`]): a 429 on the first part of a message goes back to the core's
//!   outbox as `RateLimited` with Slack's `Retry-After`, which holds that room's queue and
//!   retries in order; later parts and other operations wait here.
//!
//! Ids are described in [`ids`]. It depends on the core only; it knows no plugin and no other
//! backend.

pub mod api;
pub mod blocks;
pub mod config;
pub mod events;
pub mod http;
pub mod ids;
pub mod mrkdwn;
mod ops;
pub mod signing;
pub mod socket;
pub mod texts;
pub mod users;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrbot::backend::{Capabilities, ConnectionState, MessageEvents, RoomSpec};
use ferrbot::clock::{Clock, SystemClock};
use ferrbot::message::{Author, OutgoingMessage};
use ferrbot::registry::BackendSetup;
use ferrbot::{Backend, BackendError, Inbox, MessageId, RoomId, Target, UserId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use config::{Mode, Secret, SlackConfig};

use crate::api::{Api, ApiError};
use crate::events::Work;
use crate::signing::Verifier;
use crate::users::Users;

/// How long a slash command's `response_url` is used for its reply.
const RESPONSE_URL_TTL: Duration = Duration::from_secs(120);

/// Who the bot is, from `auth.test`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The bot's user id (`U…`).
    pub user_id: String,
    /// The bot id (`B…`), when Slack says.
    pub bot_id: Option<String>,
}

/// Recently seen events, to drop Slack's duplicates (a message arrives as both `message`
/// and `app_mention`; the Events API retries deliveries).
#[derive(Default)]
struct Recent {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Recent {
    /// True the first time `key` is seen (of the last 2,048).
    fn first(&mut self, key: String) -> bool {
        if self.set.contains(&key) {
            return false;
        }
        if self.order.len() >= 2_048
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

/// State shared by the backend, its intake and its HTTP routes.
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) config: SlackConfig,
    pub(crate) api: Api,
    pub(crate) users: Users,
    pub(crate) verifier: Option<Verifier>,
    /// TLS settings for `wss://` (None when the Web API is plain HTTP, as in tests).
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    identity: RwLock<Option<Identity>>,
    recent: Mutex<Recent>,
    /// Texts of recently seen messages, for reports that carry none.
    texts: Mutex<texts::Texts>,
    responses: Mutex<HashMap<String, VecDeque<(Instant, String)>>>,
    dm_channels: Mutex<HashMap<String, String>>,
    /// The worker that turns payloads into events, while the backend runs.
    work: RwLock<Option<mpsc::Sender<Work>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    pub(crate) fn identity(&self) -> Option<Identity> {
        self.identity
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `auth.test`: learns the bot's user id.
    pub(crate) async fn authenticate(&self) -> Result<Identity, ApiError> {
        let answer = self.api.post("auth.test", &serde_json::json!({})).await?;
        let user_id = answer
            .get("user_id")
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::Network {
                method: "auth.test".into(),
                message: "the answer has no user_id".into(),
            })?
            .to_owned();
        let identity = Identity {
            user_id,
            bot_id: answer
                .get("bot_id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        };
        *self
            .identity
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(identity.clone());
        Ok(identity)
    }

    pub(crate) fn first_time(&self, key: String) -> bool {
        lock(&self.recent).first(key)
    }

    /// Remembers what message `ts` in `channel` says (posted or edited).
    pub(crate) fn remember_text(&self, channel: &str, ts: &str, text: String) {
        lock(&self.texts).remember(texts::key(channel, ts), text);
    }

    /// What message `ts` in `channel` says, if it was seen.
    pub(crate) fn known_text(&self, channel: &str, ts: &str) -> Option<String> {
        lock(&self.texts).get(&texts::key(channel, ts))
    }

    /// Forgets message `ts` in `channel` (deleted).
    pub(crate) fn forget_text(&self, channel: &str, ts: &str) {
        lock(&self.texts).forget(&texts::key(channel, ts));
    }

    pub(crate) fn remember_response_url(&self, channel: &str, url: String) {
        lock(&self.responses)
            .entry(channel.to_owned())
            .or_default()
            .push_back((Instant::now(), url));
    }

    fn take_response_url(&self, channel: &str) -> Option<String> {
        let mut map = lock(&self.responses);
        let queue = map.get_mut(channel)?;
        let mut found = None;
        while let Some((at, url)) = queue.pop_front() {
            if at.elapsed() < RESPONSE_URL_TTL {
                found = Some(url);
                break;
            }
        }
        if queue.is_empty() {
            map.remove(channel);
        }
        found
    }

    pub(crate) fn worker(&self) -> Option<mpsc::Sender<Work>> {
        self.work
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_worker(&self, tx: Option<mpsc::Sender<Work>>) {
        *self
            .work
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tx;
    }

    pub(crate) fn dm_cached(&self, user: &str) -> Option<String> {
        lock(&self.dm_channels).get(user).cloned()
    }

    pub(crate) fn dm_remember(&self, user: &str, channel: &str) {
        lock(&self.dm_channels).insert(user.to_owned(), channel.to_owned());
    }
}

/// The Slack backend.
pub struct SlackBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SlackBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackBackend")
            .field("name", &self.inner.name)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SlackBackend {
    /// Builds the backend from `[backends.<name>]`. Does no network I/O.
    ///
    /// # Errors
    /// When the section is invalid; the message names the key.
    pub fn from_setup(setup: &BackendSetup) -> Result<Self, ferrbot::error::ConfigError> {
        let config = SlackConfig::parse(&setup.name, &setup.config)
            .map_err(|e| ferrbot::error::ConfigError::new(e.to_string()))?;
        Self::new(&setup.name, &setup.prefix, config, Arc::new(SystemClock))
    }

    /// Builds the backend from a parsed config; `clock` is "now" for request signatures.
    ///
    /// # Errors
    /// When the backend name is not a valid id prefix or the HTTP client cannot be built.
    pub fn new(
        name: &str,
        prefix: &str,
        config: SlackConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ferrbot::error::ConfigError> {
        UserId::new(name, "U1").map_err(|e| ferrbot::error::ConfigError::new(e.to_string()))?;
        let tls = if config.api_url.starts_with("http://") {
            None
        } else {
            Some(api::tls_config().map_err(ferrbot::error::ConfigError::new)?)
        };
        let transport = api::transport(&config.api_url, tls.clone())
            .map_err(ferrbot::error::ConfigError::new)?;
        let api = Api::new(transport, config.bot_token.clone(), config.request_timeout);
        let verifier = config
            .signing_secret
            .clone()
            .map(|secret| Verifier::new(secret, clock));
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                prefix: prefix.to_owned(),
                users: Users::new(config.user_cache),
                config,
                api,
                verifier,
                tls,
                identity: RwLock::new(None),
                recent: Mutex::new(Recent::default()),
                texts: Mutex::new(texts::Texts::default()),
                responses: Mutex::new(HashMap::new()),
                dm_channels: Mutex::new(HashMap::new()),
                work: RwLock::new(None),
            }),
        })
    }

    /// Uses `clock` as "now" when checking request signatures (tests with signed requests
    /// made at fixed times).
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        // Built before the backend is shared, so the verifier can still be replaced.
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.verifier = inner
                    .config
                    .signing_secret
                    .clone()
                    .map(|secret| Verifier::new(secret, clock));
                Self {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => Self { inner },
        }
    }

    /// The parsed configuration (its `Debug` hides the secrets).
    pub fn config(&self) -> &SlackConfig {
        &self.inner.config
    }

    /// The bot's own user, once `auth.test` answered.
    pub fn bot_user(&self) -> Option<UserId> {
        self.inner
            .identity()
            .and_then(|i| ids::user(&self.inner.name, &i.user_id))
    }

    fn check_target(&self, target: &Target) -> Result<(), BackendError> {
        if target.backend() == self.inner.name {
            Ok(())
        } else {
            Err(BackendError::rejected(format!(
                "{target} does not belong to the `{}` backend",
                self.inner.name
            )))
        }
    }

    /// Authenticates, retrying passing failures, until it works or `shutdown`.
    /// `Ok(false)` when stopped.
    async fn authenticate(
        &self,
        inbox: &Inbox,
        shutdown: &CancellationToken,
    ) -> Result<bool, BackendError> {
        let mut backoff = Duration::from_millis(500);
        loop {
            let result = tokio::select! {
                () = shutdown.cancelled() => return Ok(false),
                r = self.inner.authenticate() => r,
            };
            match result {
                Ok(identity) => {
                    tracing::info!(backend = %self.inner.name, user = %identity.user_id, "authenticated with Slack");
                    return Ok(true);
                }
                Err(err) if socket::is_fatal(&err) => {
                    return Err(BackendError::rejected(format!(
                        "Slack refused the bot token: {err}"
                    )));
                }
                Err(err) => {
                    inbox
                        .connection(ConnectionState::Disconnected {
                            reason: err.to_string(),
                        })
                        .await;
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(false),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }
}

#[async_trait]
impl Backend for SlackBackend {
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
            archive: true,
            pin: true,
            direct_messages: true,
            buttons: true,
            message_events: MessageEvents {
                pins: true,
                reactions: true,
                edits: true,
                deletions: true,
            },
            max_message_len: mrkdwn::MAX_MESSAGE_CHARS,
        }
    }

    async fn run(&self, inbox: Inbox, shutdown: CancellationToken) -> Result<(), BackendError> {
        inbox.connection(ConnectionState::Connecting).await;
        let (tx, rx) = mpsc::channel::<Work>(1_024);
        let worker = tokio::spawn(events::worker(self.inner.clone(), inbox.clone(), rx));
        let result = match self.authenticate(&inbox, &shutdown).await {
            Ok(false) => Ok(()),
            Err(err) => Err(err),
            Ok(true) => match self.inner.config.mode {
                Mode::Socket => {
                    // With a signing secret, the HTTP endpoints work in Socket Mode too.
                    self.inner.set_worker(Some(tx.clone()));
                    socket::run(self.inner.clone(), &inbox, tx.clone(), &shutdown).await
                }
                Mode::Events => {
                    self.inner.set_worker(Some(tx.clone()));
                    inbox.connection(ConnectionState::Connected).await;
                    shutdown.cancelled().await;
                    Ok(())
                }
            },
        };
        self.inner.set_worker(None);
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
        inbox.connection(ConnectionState::Stopped).await;
        result
    }

    async fn send(
        &self,
        target: &Target,
        message: &OutgoingMessage,
    ) -> Result<MessageId, BackendError> {
        self.check_target(target)?;
        self.inner.send(target, message).await
    }

    async fn edit(
        &self,
        target: &Target,
        message: &MessageId,
        new: &OutgoingMessage,
    ) -> Result<(), BackendError> {
        self.check_target(target)?;
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

    async fn archive(&self, room: &RoomId) -> Result<(), BackendError> {
        self.inner.archive(room).await
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
        let id = ids::user_of(user)?;
        let info = self.inner.users.get(&self.inner.api, &id).await?;
        Ok(Author {
            id: user.clone(),
            display_name: info.display_name,
        })
    }

    async fn is_room_admin(&self, room: &RoomId, user: &UserId) -> Result<bool, BackendError> {
        self.inner.is_room_admin(room, user).await
    }

    fn routes(&self) -> Option<axum::Router> {
        self.inner
            .verifier
            .is_some()
            .then(|| http::routes(self.inner.clone()))
    }
}
