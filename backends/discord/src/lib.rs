//! `ferrbot-backend-discord`: ferrbot on Discord, through serenity.
//!
//! - **Intake** — serenity's gateway client (intents: guild messages, direct messages and the
//!   privileged message content, nothing else) with heartbeats, RESUME after a drop or an op 7
//!   RECONNECT and re-IDENTIFY after an invalid session. Messages in guild channels, threads
//!   and DMs become [`IncomingMessage`](ferrbot::IncomingMessage)s; a leading `<@bot>` mention
//!   is stripped and sets `mentioned`; the bot's own messages (and other bots', unless
//!   `ignore_bots = false`) are ignored. Edits and deletions are reported as message events.
//! - **Slash command and buttons** — one application command, `/ferrbot command:<line>` (name
//!   configurable), and card actions rendered as buttons; both run the command line as the
//!   person who typed or clicked, and are answered through interaction responses within
//!   Discord's 3 seconds (deferred when the command is slow). See [`interactions`].
//! - **Output** — neutral markup as Discord markdown with user text escaped, `allowed_mentions`
//!   limited to intended users, cards as embeds, messages split at 2,000 characters without
//!   breaking code blocks ([`render`], [`split`]); channels or threads created, pins, reactions.
//! - **Rate limits** — per-route buckets and 429 `retry_after` ([`rest`]): the first part of a
//!   message hands a 429 back to the core's outbox as `RateLimited`, which holds the room's
//!   queue and retries in order; later parts and other operations wait here.
//!
//! Ids: users and channels are snowflakes (`discord:80351110224678912`). In Discord a thread
//! *is* a channel, so a message in a thread arrives with that thread channel as its room (and
//! no [`ThreadId`](ferrbot::ThreadId)), and replies go back to the thread. An outgoing
//! `Target::thread(room, thread)` posts in the thread channel `thread`. Message ids are
//! message snowflakes; `pin`/`react` take the channel the message is in as the room.
//!
//! It depends on the core only; it knows no plugin and no other backend.

pub mod config;
mod gateway;
pub mod interactions;
mod ops;
pub mod permissions;
pub mod render;
pub mod rest;
pub mod split;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use ferrbot::backend::{Capabilities, ConnectionState, MessageEvents, RoomSpec};
use ferrbot::message::{Author, OutgoingMessage};
use ferrbot::registry::BackendSetup;
use ferrbot::store::KvStore;
use ferrbot::{Backend, BackendError, Inbox, MessageId, RoomId, Target, UserId};
use serde_json::json;
use serenity::all::{ApplicationId, GatewayIntents};
use serenity::http::HttpBuilder;
use tokio_util::sync::CancellationToken;

pub use config::{DiscordConfig, RoomKind};

use crate::interactions::Interactions;
use crate::rest::{Method, Rest};

/// The gateway intents ferrbot asks for: guild and direct messages, and their content.
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
}

/// State shared by the backend, its gateway handler and its interaction supervisors.
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) config: DiscordConfig,
    pub(crate) rest: Arc<Rest>,
    pub(crate) store: KvStore,
    pub(crate) interactions: Arc<Interactions>,
    /// The bot's user id and the application id, learnt from READY.
    identity: RwLock<(Option<u64>, Option<u64>)>,
    dm_channels: Mutex<HashMap<String, String>>,
    registered: AtomicBool,
    /// Top-level bot commands registered as their own slash commands (`/status`), with help.
    pub(crate) commands: RwLock<Vec<(String, String)>>,
}

impl Inner {
    pub(crate) fn bot_id(&self) -> Option<u64> {
        self.identity
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
    }

    pub(crate) fn application_id(&self) -> Option<u64> {
        self.config.application_id.or(self
            .identity
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1)
    }

    pub(crate) fn set_identity(&self, bot: u64, application: u64) {
        *self
            .identity
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            (Some(bot), Some(application).filter(|a| *a != 0));
    }

    pub(crate) fn dm_cached(&self, user: &str) -> Option<String> {
        self.dm_channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(user)
            .cloned()
    }

    pub(crate) fn dm_remember(&self, user: &str, channel: &str) {
        self.dm_channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(user.to_owned(), channel.to_owned());
    }

    /// Registers (creates or updates) the slash command, once per process.
    pub(crate) async fn register_slash_command(&self) {
        let name = &self.config.slash_command;
        if name.is_empty() || !self.config.register_commands {
            return;
        }
        let Some(app) = self.application_id() else {
            tracing::warn!("no application id; the slash command is not registered");
            return;
        };
        if self.registered.swap(true, Ordering::SeqCst) {
            return;
        }
        let path = match self.config.guild_id {
            Some(guild) => format!("/applications/{app}/guilds/{guild}/commands"),
            None => format!("/applications/{app}/commands"),
        };
        let mut bodies = vec![(name.clone(), interactions::slash_command_definition(name))];
        let commands = self
            .commands
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (command, about) in commands.iter().filter(|(c, _)| c != name) {
            bodies.push((
                command.clone(),
                interactions::bot_command_definition(command, about),
            ));
        }
        for (command, body) in bodies {
            match self
                .rest
                .call_retrying(Method::Post, &format!("POST {path}"), &path, Some(&body))
                .await
            {
                Ok(_) => tracing::info!(command = %command, "slash command registered"),
                Err(err) => {
                    self.registered.store(false, Ordering::SeqCst);
                    tracing::warn!(command = %command, error = %err, "cannot register a slash command");
                }
            }
        }
    }

    /// The top-level bot command a slash command of this name stands for, if any.
    pub(crate) fn bot_command(&self, name: &str) -> Option<String> {
        self.commands
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(c, _)| c == name)
            .map(|(c, _)| c.clone())
    }

    /// Posts the first part: as the answer to a pending interaction in that channel if there
    /// is one, else as a message (a 429 goes back to the outbox).
    async fn post_first(
        &self,
        channel: &str,
        body: &serde_json::Value,
    ) -> Result<String, BackendError> {
        if let Some(pending) = self.interactions.take(channel) {
            match pending.answer(&self.rest, body).await {
                Ok(Some(id)) => return Ok(id),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "cannot answer an interaction; posting instead");
                    pending.abandon().await;
                }
            }
        }
        self.post(channel, body, false).await
    }

    async fn render(&self, message: &OutgoingMessage) -> render::Rendered {
        let mut ids = Vec::with_capacity(message.actions.len());
        for action in &message.actions {
            ids.push(interactions::custom_id(&self.store, &action.command).await);
        }
        render::render(&self.name, &self.prefix, message, &ids)
    }
}

/// The Discord backend.
pub struct DiscordBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DiscordBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordBackend")
            .field("name", &self.inner.name)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl DiscordBackend {
    /// Builds the backend from `[backends.<name>]`. Does no network I/O.
    ///
    /// # Errors
    /// When the section is invalid; the message names the key.
    pub fn from_setup(setup: &BackendSetup) -> Result<Self, ferrbot::error::ConfigError> {
        let config = DiscordConfig::parse(&setup.name, &setup.config)
            .map_err(|e| ferrbot::error::ConfigError::new(e.to_string()))?;
        Self::new(&setup.name, &setup.prefix, config, setup.store.clone())
    }

    /// Builds the backend from a parsed config.
    ///
    /// # Errors
    /// When the backend name is not a valid id prefix or the HTTP client cannot be built.
    pub fn new(
        name: &str,
        prefix: &str,
        config: DiscordConfig,
        store: KvStore,
    ) -> Result<Self, ferrbot::error::ConfigError> {
        UserId::new(name, "1").map_err(|e| ferrbot::error::ConfigError::new(e.to_string()))?;
        let rest = Rest::new(
            config.api_base.as_deref(),
            &config.token,
            config.request_timeout,
        )
        .map_err(ferrbot::error::ConfigError::new)?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                prefix: prefix.to_owned(),
                config,
                rest: Arc::new(rest),
                store,
                interactions: Arc::new(Interactions::default()),
                identity: RwLock::new((None, None)),
                dm_channels: Mutex::new(HashMap::new()),
                registered: AtomicBool::new(false),
                commands: RwLock::new(Vec::new()),
            }),
        })
    }

    /// The parsed configuration (its `Debug` hides the token).
    pub fn config(&self) -> &DiscordConfig {
        &self.inner.config
    }

    /// The bot's own user id, once the gateway said READY.
    pub fn bot_user(&self) -> Option<UserId> {
        self.inner
            .bot_id()
            .and_then(|id| UserId::new(&self.inner.name, &id.to_string()).ok())
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

    fn serenity_http(&self) -> serenity::http::Http {
        let config = &self.inner.config;
        let mut http = HttpBuilder::new(&config.token);
        if let Some(base) = &config.api_base {
            // serenity's rate limiter ignores the proxy; ferrbot's own REST client (which
            // does the rate limiting) makes every call but the gateway look-up anyway.
            http = http.proxy(base.as_str()).ratelimiter_disabled(true);
        }
        if let Some(app) = config.application_id {
            http = http.application_id(ApplicationId::new(app));
        }
        http.build()
    }

    /// One gateway session: until it fails for good or `shutdown`. `Ok(true)` when stopped.
    async fn session(
        &self,
        inbox: &Inbox,
        shutdown: &CancellationToken,
    ) -> Result<bool, BackendError> {
        // serenity falls back to the real gateway silently when this look-up fails; check it
        // first so a bad `api_base` is an error, not a connection elsewhere.
        let gateway = tokio::select! {
            () = shutdown.cancelled() => return Ok(true),
            g = self.inner.rest.call(Method::Get, "GET /gateway", "/gateway", None) => g?,
        };
        if gateway.get("url").and_then(|u| u.as_str()).is_none() {
            return Err(BackendError::transient(
                "GET /gateway answered without a url",
            ));
        }
        let handler = gateway::Handler {
            inner: self.inner.clone(),
            inbox: inbox.clone(),
        };
        let mut client =
            serenity::client::ClientBuilder::new_with_http(self.serenity_http(), intents())
                .event_handler(handler)
                .await
                .map_err(|e| {
                    BackendError::transient(format!("cannot set up the gateway client: {e}"))
                })?;
        let manager = client.shard_manager.clone();
        tokio::select! {
            () = shutdown.cancelled() => {
                manager.shutdown_all().await;
                Ok(true)
            }
            result = client.start() => match result {
                Ok(()) => Err(BackendError::transient("the gateway connection ended")),
                Err(serenity::Error::Gateway(
                    e @ (serenity::gateway::GatewayError::InvalidAuthentication
                    | serenity::gateway::GatewayError::DisallowedGatewayIntents
                    | serenity::gateway::GatewayError::InvalidGatewayIntents),
                )) => Err(BackendError::rejected(format!("the gateway refused the bot: {e}"))),
                Err(e) => Err(BackendError::transient(format!("gateway: {e}"))),
            },
        }
    }
}

#[async_trait]
impl Backend for DiscordBackend {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn set_commands(&self, commands: &[ferrbot::backend::CommandInfo]) {
        *self
            .inner
            .commands
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            interactions::top_level_commands(commands);
    }

    fn capabilities(&self) -> Capabilities {
        let config = &self.inner.config;
        let rooms = config.can_create_rooms();
        Capabilities {
            threads: true,
            cards: true,
            reactions: true,
            edits: true,
            create_rooms: rooms,
            invite: rooms,
            topic: config.create_room == RoomKind::Channel,
            rename_rooms: true,
            archive: config.create_room == RoomKind::Thread,
            pin: true,
            direct_messages: true,
            buttons: true,
            message_events: MessageEvents {
                pins: false,
                reactions: false,
                edits: true,
                deletions: true,
            },
            max_message_len: split::MAX_MESSAGE_CHARS,
        }
    }

    async fn run(&self, inbox: Inbox, shutdown: CancellationToken) -> Result<(), BackendError> {
        let mut backoff = Duration::from_secs(1);
        loop {
            inbox.connection(ConnectionState::Connecting).await;
            match self.session(&inbox, &shutdown).await {
                Ok(_) => break,
                Err(err @ BackendError::Rejected { .. }) => {
                    tracing::error!(backend = %self.inner.name, error = %err, "Discord refused the connection; giving up");
                    inbox
                        .connection(ConnectionState::Disconnected {
                            reason: err.to_string(),
                        })
                        .await;
                    return Err(err);
                }
                Err(err) => {
                    tracing::warn!(backend = %self.inner.name, error = %err, ?backoff, "Discord connection lost; reconnecting");
                    inbox
                        .connection(ConnectionState::Disconnected {
                            reason: err.to_string(),
                        })
                        .await;
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
        inbox.connection(ConnectionState::Stopped).await;
        Ok(())
    }

    async fn send(
        &self,
        target: &Target,
        message: &OutgoingMessage,
    ) -> Result<MessageId, BackendError> {
        self.check_target(target)?;
        let channel = self.inner.channel_for(target).await?;
        let bodies = self.inner.render(message).await.bodies();
        let mut first = None;
        for (i, body) in bodies.iter().enumerate() {
            let id = if i == 0 {
                self.inner.post_first(&channel, body).await?
            } else {
                self.inner.post(&channel, body, true).await?
            };
            first.get_or_insert(id);
        }
        let first = first.ok_or_else(|| BackendError::rejected("an empty message"))?;
        MessageId::new(&self.inner.name, &first).map_err(|e| BackendError::rejected(e.to_string()))
    }

    async fn edit(
        &self,
        target: &Target,
        message: &MessageId,
        new: &OutgoingMessage,
    ) -> Result<(), BackendError> {
        self.check_target(target)?;
        let channel = self.inner.channel_for(target).await?;
        let bodies = self.inner.render(new).await.bodies();
        let Some(mut body) = bodies.into_iter().next() else {
            return Err(BackendError::rejected("an empty message"));
        };
        if body.get("embeds").is_none() {
            body["embeds"] = json!([]);
        }
        if body.get("components").is_none() {
            body["components"] = json!([]);
        }
        self.inner
            .edit_message(&channel, message.local(), &body)
            .await
    }

    async fn create_room(&self, spec: &RoomSpec) -> Result<RoomId, BackendError> {
        if !self.inner.config.can_create_rooms() {
            return Err(BackendError::unsupported("create_room"));
        }
        self.inner.create_room(spec).await
    }

    async fn invite(&self, room: &RoomId, users: &[UserId]) -> Result<(), BackendError> {
        if !self.inner.config.can_create_rooms() {
            return Err(BackendError::unsupported("invite"));
        }
        self.inner.invite(room, users).await
    }

    async fn set_topic(&self, room: &RoomId, topic: &str) -> Result<(), BackendError> {
        if self.inner.config.create_room != RoomKind::Channel {
            return Err(BackendError::unsupported("set_topic"));
        }
        self.inner
            .modify_channel(room, json!({ "topic": render::truncate(topic, 1024) }))
            .await
    }

    async fn rename_room(&self, room: &RoomId, name: &str) -> Result<(), BackendError> {
        self.inner.rename_room(room, name).await
    }

    async fn archive(&self, room: &RoomId) -> Result<(), BackendError> {
        if self.inner.config.create_room != RoomKind::Thread {
            return Err(BackendError::unsupported("archive"));
        }
        self.inner
            .modify_channel(room, json!({ "archived": true }))
            .await
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
