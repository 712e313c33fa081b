//! What a plugin may touch: [`PluginContext`] (its storage, its config, sending, scheduling)
//! and, while a command runs, [`Ctx`] (the same plus who called and from where).
//!
//! The handles are narrow on purpose: a plugin reaches chat only through ids and neutral
//! messages, its own storage namespace and its own config section — never a backend's client
//! or another plugin's state.

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::backend::{BackendError, Capabilities, RoomSpec};
use crate::clock::Clock;
use crate::error::ConfigError;
use crate::id::{MessageId, RoomId, Target, ThreadId, UserId};
use crate::message::{Author, OutgoingMessage};
use crate::outbox::{Receipt, SendError};
use crate::runtime::Shared;
use crate::store::{KvStore, Store};

/// A plugin's handle on the bot. Cheap to clone.
#[derive(Clone)]
pub struct PluginContext {
    pub(crate) plugin: Arc<str>,
    pub(crate) shared: Arc<Shared>,
}

impl PluginContext {
    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.plugin
    }

    /// The plugin's key-value store (its own namespace).
    pub fn store(&self) -> KvStore {
        self.shared.store.kv(&format!("plugin/{}", self.plugin))
    }

    /// The plugin's own secrets (`plugins/<name>/…` in the secrets store): API keys, signing
    /// secrets. Values are [`ferrbot_secrets::SecretValue`]s: wiped on drop, `[redacted]` when
    /// printed.
    ///
    /// # Errors
    /// Only for a context made for a name that cannot name a namespace (never for a plugin the
    /// bot runs: those names are checked at start-up).
    pub fn secrets(&self) -> Result<ferrbot_secrets::PluginSecrets, ferrbot_secrets::SecretsError> {
        match self.shared.plugins.iter().find(|p| p.name == self.plugin) {
            Some(entry) => Ok(entry.secrets.clone()),
            None => ferrbot_secrets::PluginSecrets::new(self.shared.secrets.clone(), &self.plugin),
        }
    }

    /// The per-user credential cache of this plugin (`plugins/<name>/users/<user>/…`), scoped so
    /// that one plugin cannot read another's and entries are keyed by backend-qualified user id.
    /// In a command, prefer [`Ctx::caller_credentials`], which only reaches the caller's.
    ///
    /// # Errors
    /// As [`PluginContext::secrets`].
    pub fn credentials(
        &self,
    ) -> Result<ferrbot_secrets::CredentialCache, ferrbot_secrets::SecretsError> {
        Ok(self.secrets()?.credentials())
    }

    /// The database, for plugins that own tables (apply their migrations with
    /// [`Store::migrate`], owner = the plugin's name).
    pub fn db(&self) -> &Store {
        &self.shared.store
    }

    /// The plugin's config section, deserialised (`[plugins.<name>]`; empty when absent).
    ///
    /// # Errors
    /// When the section does not fit `T`; the message names the key.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let section = self
            .shared
            .plugin_config
            .get(&*self.plugin)
            .cloned()
            .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
        section.try_into().map_err(|e: toml::de::Error| {
            ConfigError::new(format!("[plugins.{}]: {}", self.plugin, e.message()))
        })
    }

    /// Queues a message to any room, thread or user, on any backend.
    pub fn send(&self, target: Target, message: impl Into<OutgoingMessage>) -> Receipt {
        self.shared.send(target, message.into())
    }

    /// Sends a direct message to every bot admin listed by exact id (not by pattern).
    pub fn notify_admins(&self, message: impl Into<OutgoingMessage>) -> Vec<Receipt> {
        let message = message.into();
        self.shared
            .config
            .admins
            .iter()
            .filter(|a| !a.contains(['*', '?', '[']))
            .filter_map(|a| a.parse::<UserId>().ok())
            .map(|user| self.shared.send(Target::direct(user), message.clone()))
            .collect()
    }

    /// Operations on rooms and messages beyond sending.
    pub fn chat(&self) -> Chat {
        Chat {
            shared: self.shared.clone(),
        }
    }

    /// What a backend can do, or `None` when no backend has that name.
    pub fn capabilities(&self, backend: &str) -> Option<Capabilities> {
        self.shared.backends.get(backend).map(|b| b.capabilities)
    }

    /// The names of the running backends.
    pub fn backends(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.backends.keys().cloned().collect();
        names.sort();
        names
    }

    /// Runs `job` every `period` (see [`crate::scheduler::Scheduler`]).
    pub fn every<F, Fut>(&self, name: &str, period: Duration, job: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shared
            .scheduler
            .every(&format!("{}/{name}", self.plugin), period, job);
    }

    /// The clock (a manual one in tests).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.clock.clone()
    }

    /// Now, by the bot's clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.shared.clock.now()
    }

    /// Runs background work that the bot waits for at shutdown; watch
    /// [`PluginContext::shutdown`] to stop in time.
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let plugin = self.plugin.clone();
        let handle = tokio::spawn(work);
        self.shared.tasks.spawn(async move {
            if let Err(err) = handle.await
                && err.is_panic()
            {
                tracing::error!(plugin = %plugin, "background task panicked");
            }
        });
    }

    /// Cancelled when the bot begins to shut down.
    pub fn shutdown(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// True when `user` is a bot admin.
    pub fn is_admin(&self, user: &UserId) -> bool {
        self.shared.acl.is_admin(user)
    }

    /// The command prefix (`!`), for telling users what to type.
    pub fn prefix(&self) -> &str {
        &self.shared.config.prefix
    }

    /// Registers a Prometheus metric, exposed as `ferrbot_plugin_<plugin>_<name>`.
    pub fn register_metric(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.shared
            .metrics
            .register_plugin_metric(&self.plugin, name, help, metric);
    }
}

/// Room and message operations, routed to the backend named in each id. Rate-limit answers
/// are waited out and retried a few times; `Unsupported` is returned as is so callers degrade.
#[derive(Clone)]
pub struct Chat {
    shared: Arc<Shared>,
}

impl Chat {
    async fn with_backend<T, F, Fut>(&self, backend: &str, op: F) -> Result<T, BackendError>
    where
        F: Fn(Arc<dyn crate::backend::Backend>) -> Fut,
        Fut: Future<Output = Result<T, BackendError>>,
    {
        let Some(slot) = self.shared.backends.get(backend) else {
            return Err(BackendError::rejected(format!(
                "no backend named `{backend}`"
            )));
        };
        let mut tries = 0;
        loop {
            match op(slot.backend.clone()).await {
                Err(BackendError::RateLimited { retry_after })
                    if tries < 5 && retry_after <= Duration::from_secs(120) =>
                {
                    tries += 1;
                    tokio::time::sleep(retry_after).await;
                }
                other => return other,
            }
        }
    }

    /// Replaces a message the bot sent.
    ///
    /// # Errors
    /// `Unsupported` where the backend cannot edit; other backend errors.
    pub async fn edit(
        &self,
        target: &Target,
        message: &MessageId,
        new: &OutgoingMessage,
    ) -> Result<(), BackendError> {
        self.with_backend(target.backend(), |b| async move {
            b.edit(target, message, new).await
        })
        .await
    }

    /// Creates a room on `backend`.
    ///
    /// # Errors
    /// `Unsupported` where the backend cannot create rooms; other backend errors.
    pub async fn create_room(
        &self,
        backend: &str,
        spec: &RoomSpec,
    ) -> Result<RoomId, BackendError> {
        self.with_backend(backend, |b| async move { b.create_room(spec).await })
            .await
    }

    /// Invites users to a room.
    ///
    /// # Errors
    /// `Unsupported` where the backend cannot invite; other backend errors.
    pub async fn invite(&self, room: &RoomId, users: &[UserId]) -> Result<(), BackendError> {
        self.with_backend(
            room.backend(),
            |b| async move { b.invite(room, users).await },
        )
        .await
    }

    /// Sets a room's topic.
    ///
    /// # Errors
    /// `Unsupported` where the backend has no topics; other backend errors.
    pub async fn set_topic(&self, room: &RoomId, topic: &str) -> Result<(), BackendError> {
        self.with_backend(
            room.backend(),
            |b| async move { b.set_topic(room, topic).await },
        )
        .await
    }

    /// Renames a room (the backend may normalise `name`, e.g. lower-case for Slack).
    ///
    /// # Errors
    /// `Unsupported` where the backend cannot rename rooms; other backend errors.
    pub async fn rename_room(&self, room: &RoomId, name: &str) -> Result<(), BackendError> {
        self.with_backend(room.backend(), |b| async move {
            b.rename_room(room, name).await
        })
        .await
    }

    /// Archives a room.
    ///
    /// # Errors
    /// `Unsupported` where the backend cannot archive; other backend errors.
    pub async fn archive(&self, room: &RoomId) -> Result<(), BackendError> {
        self.with_backend(room.backend(), |b| async move { b.archive(room).await })
            .await
    }

    /// Pins a message.
    ///
    /// # Errors
    /// `Unsupported` where the backend cannot pin; other backend errors.
    pub async fn pin(&self, room: &RoomId, message: &MessageId) -> Result<(), BackendError> {
        self.with_backend(
            room.backend(),
            |b| async move { b.pin(room, message).await },
        )
        .await
    }

    /// Reacts to a message.
    ///
    /// # Errors
    /// `Unsupported` where the backend has no reactions; other backend errors.
    pub async fn react(
        &self,
        room: &RoomId,
        message: &MessageId,
        reaction: &str,
    ) -> Result<(), BackendError> {
        self.with_backend(room.backend(), |b| async move {
            b.react(room, message, reaction).await
        })
        .await
    }

    /// Looks up a user's display name.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn user(&self, user: &UserId) -> Result<Author, BackendError> {
        self.with_backend(user.backend(), |b| async move { b.user(user).await })
            .await
    }

    /// Whether `user` administers `room` on its chat network (see
    /// [`Backend::is_room_admin`](crate::backend::Backend::is_room_admin)). A user of another
    /// backend never administers the room.
    ///
    /// # Errors
    /// `Unsupported` where the backend does not know room admins; other backend errors.
    pub async fn is_room_admin(&self, room: &RoomId, user: &UserId) -> Result<bool, BackendError> {
        if room.backend() != user.backend() {
            return Ok(false);
        }
        self.with_backend(room.backend(), |b| async move {
            b.is_room_admin(room, user).await
        })
        .await
    }
}

/// The context of one command invocation: the plugin's handle plus the caller and origin.
#[derive(Clone)]
pub struct Ctx {
    pub(crate) plugin: PluginContext,
    pub(crate) caller: Author,
    pub(crate) room: RoomId,
    pub(crate) thread: Option<ThreadId>,
    pub(crate) direct: bool,
    pub(crate) admin: bool,
    pub(crate) command: String,
    pub(crate) raw_args: String,
    pub(crate) message: Option<MessageId>,
    pub(crate) reply_to: Option<MessageId>,
}

impl Ctx {
    /// The text after the command's name exactly as typed (no shell-like splitting, quotes and
    /// backslashes kept, surrounding whitespace trimmed); empty for matchers.
    pub fn raw_args(&self) -> &str {
        &self.raw_args
    }

    /// Who ran the command.
    pub fn caller(&self) -> &Author {
        &self.caller
    }

    /// The room it was run in (the direct conversation, for direct messages).
    pub fn room(&self) -> &RoomId {
        &self.room
    }

    /// The thread it was run in, if any.
    pub fn thread(&self) -> Option<&ThreadId> {
        self.thread.as_ref()
    }

    /// The message the command came in, when the backend gave it an id (`None` for button
    /// clicks). With [`Target::thread`] it lets a plugin answer in a new thread under it on
    /// backends whose threads hang off a message (Slack).
    pub fn message_id(&self) -> Option<&MessageId> {
        self.message.as_ref()
    }

    /// The message the command's message replies to, on backends that report replies
    /// (Discord, Matrix); `None` for plain messages, button clicks and slash commands, and on
    /// Slack, where a reply is a thread (see [`Ctx::thread`]).
    pub fn reply_to(&self) -> Option<&MessageId> {
        self.reply_to.as_ref()
    }

    /// True when run in a direct conversation with the bot.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// True when the caller is a bot admin.
    pub fn caller_is_admin(&self) -> bool {
        self.admin
    }

    /// The command's name (`st2 auth`).
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Where replies go: the same room and thread.
    pub fn origin(&self) -> Target {
        Target::Room {
            room: self.room.clone(),
            thread: self.thread.clone(),
        }
    }

    /// The caller's own credentials in this plugin's cache: a credential stored here is never
    /// used for another user.
    ///
    /// # Errors
    /// When the user id cannot name a key (it always can for ids the backends produce).
    pub fn caller_credentials(
        &self,
    ) -> Result<ferrbot_secrets::UserCredentials, ferrbot_secrets::SecretsError> {
        self.plugin
            .credentials()?
            .for_user(&self.caller.id.to_string())
    }

    /// What the caller's backend can do.
    pub fn caller_capabilities(&self) -> Capabilities {
        self.plugin
            .capabilities(self.room.backend())
            .unwrap_or_else(Capabilities::minimal)
    }

    /// Sends a message to where the command came from now, before the command finishes
    /// (progress messages). The final reply is the command's return value.
    pub fn reply(&self, message: impl Into<OutgoingMessage>) -> Receipt {
        self.plugin.send(self.origin(), message)
    }

    /// Sends a message to the caller privately.
    pub fn reply_private(&self, message: impl Into<OutgoingMessage>) -> Receipt {
        if self.direct {
            return self.reply(message);
        }
        if !self.caller_capabilities().direct_messages {
            return Receipt::failed(SendError::Failed {
                target: format!("direct messages of {}", self.caller.id),
                source: BackendError::unsupported("direct_messages"),
            });
        }
        self.plugin
            .send(Target::direct(self.caller.id.clone()), message)
    }

    /// The plugin's handle.
    pub fn plugin(&self) -> &PluginContext {
        &self.plugin
    }
}

impl Deref for Ctx {
    type Target = PluginContext;

    fn deref(&self) -> &PluginContext {
        &self.plugin
    }
}
