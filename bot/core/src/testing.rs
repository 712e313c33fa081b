//! A test harness for plugins, like Errbot's `testbot`: build a bot from plugins and a config
//! snippet, push messages as any user in any room or thread, pop the replies, inspect cards,
//! and pretend to be a backend with any chosen set of [`Capabilities`] to test degradation.
//!
//! ```
//! # use ferrbot::prelude::*;
//! # #[derive(clap::Parser)] #[command(name = "ping")] /// Answer pong.
//! # struct Ping;
//! # impl Command for Ping { async fn run(self, _: &Ctx) -> CommandResult { Ok(Reply::text("pong")) } }
//! # struct P; impl Plugin for P { fn manifest(&self) -> Manifest { Manifest::new("p", "1").command::<Ping>() } }
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrbot::testing::TestBot;
//!
//! let bot = TestBot::with_plugin(P).await;
//! bot.say("test:alice", "!ping").await;
//! assert_eq!(bot.next_reply().await.text(), "pong");
//! # }
//! ```
//!
//! Needs the `testing` feature: `ferrbot = { …, features = ["testing"] }` in dev-dependencies.
#![allow(clippy::missing_panics_doc)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{OnceCell, mpsc};
use tokio_util::sync::CancellationToken;

use crate::backend::{
    Backend, BackendError, BackendEvent, Capabilities, CommandRequest, CommandSource,
    ConnectionState, Inbox, MessageEvent, RoomSpec,
};
use crate::clock::ManualClock;
use crate::config::{BotConfig, OutboxConfig, WebConfig};
use crate::context::PluginContext;
use crate::id::{MessageId, RoomId, Target, ThreadId, UserId};
use crate::message::{Action, Author, Card, IncomingMessage, OutgoingMessage};
use crate::plugin::Plugin;
use crate::runtime::Bot;
use crate::store::Store;

/// Capability sets that approximate the real chat networks.
pub mod caps {
    use crate::backend::{Capabilities, MessageEvents};

    /// Like Slack: threads, Block Kit, buttons, rooms (renamable), pins, edits, events.
    pub fn slack() -> Capabilities {
        Capabilities {
            rename_rooms: true,
            max_message_len: 4000,
            ..Capabilities::full()
        }
    }

    /// Like Discord: embeds, buttons, threads, channels (renamable), pins; no room archiving.
    pub fn discord() -> Capabilities {
        Capabilities {
            rename_rooms: true,
            archive: false,
            max_message_len: 2000,
            ..Capabilities::full()
        }
    }

    /// Like Matrix without extensions: threads, rooms (renamable), pins, reactions; no buttons.
    pub fn matrix() -> Capabilities {
        Capabilities {
            rename_rooms: true,
            buttons: false,
            archive: false,
            max_message_len: 30_000,
            message_events: MessageEvents {
                pins: true,
                reactions: true,
                edits: true,
                deletions: true,
            },
            ..Capabilities::full()
        }
    }

    /// Like the console: plain text only (no rooms, so no renaming).
    pub fn console() -> Capabilities {
        Capabilities {
            rename_rooms: false,
            max_message_len: usize::MAX,
            ..Capabilities::minimal()
        }
    }
}

/// A message the bot sent.
#[derive(Clone, Debug)]
pub struct Sent {
    /// Where it went.
    pub target: Target,
    /// What was sent.
    pub message: OutgoingMessage,
    /// The id the test backend gave it.
    pub id: MessageId,
}

impl Sent {
    /// The text part, as plain text (no card, no actions).
    pub fn text(&self) -> String {
        self.message.text.to_plain().trim_end().to_owned()
    }

    /// Everything, as plain text (card and actions included).
    pub fn plain(&self) -> String {
        self.message.to_plain("!")
    }

    /// The card, if any.
    pub fn card(&self) -> Option<&Card> {
        self.message.card.as_ref()
    }

    /// The buttons.
    pub fn actions(&self) -> &[Action] {
        &self.message.actions
    }

    /// The room it went to (`None` for direct messages).
    pub fn room(&self) -> Option<&RoomId> {
        match &self.target {
            Target::Room { room, .. } => Some(room),
            Target::Direct { .. } => None,
        }
    }

    /// The thread it went to.
    pub fn thread(&self) -> Option<&ThreadId> {
        match &self.target {
            Target::Room { thread, .. } => thread.as_ref(),
            Target::Direct { .. } => None,
        }
    }

    /// The user it went to privately.
    pub fn direct_to(&self) -> Option<&UserId> {
        match &self.target {
            Target::Direct { user } => Some(user),
            Target::Room { .. } => None,
        }
    }
}

/// An operation other than sending, recorded by the test backend.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // a test record, read by value in assertions
pub enum Op {
    /// A message was edited.
    Edit {
        /// Where.
        target: Target,
        /// Which.
        message: MessageId,
        /// The new content.
        new: OutgoingMessage,
    },
    /// A room was created.
    CreateRoom {
        /// The spec.
        spec: RoomSpec,
        /// The id given.
        room: RoomId,
    },
    /// Users were invited.
    Invite {
        /// The room.
        room: RoomId,
        /// Who.
        users: Vec<UserId>,
    },
    /// A topic was set.
    SetTopic {
        /// The room.
        room: RoomId,
        /// The topic.
        topic: String,
    },
    /// A room was renamed.
    RenameRoom {
        /// The room.
        room: RoomId,
        /// The new name, as given.
        name: String,
    },
    /// A room was archived.
    Archive {
        /// The room.
        room: RoomId,
    },
    /// A message was pinned.
    Pin {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
    },
    /// A reaction was added.
    React {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
        /// The reaction.
        reaction: String,
    },
}

/// A backend that records what the bot does, with chosen capabilities.
pub struct TestBackend {
    name: String,
    capabilities: Capabilities,
    inbox: OnceCell<Inbox>,
    sent: mpsc::UnboundedSender<Sent>,
    ops: Mutex<Vec<Op>>,
    failures: Mutex<VecDeque<BackendError>>,
    op_failures: Mutex<VecDeque<BackendError>>,
    room_admins: Mutex<Vec<(RoomId, UserId)>>,
    next_id: AtomicU64,
}

impl TestBackend {
    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn record(&self, op: Op) {
        self.ops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(op);
    }

    fn gate(&self, supported: bool, op: &'static str) -> Result<(), BackendError> {
        if !supported {
            return Err(BackendError::unsupported(op));
        }
        let failure = self
            .op_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        failure.map_or(Ok(()), Err)
    }
}

#[async_trait]
impl Backend for TestBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn run(&self, inbox: Inbox, shutdown: CancellationToken) -> Result<(), BackendError> {
        inbox.connection(ConnectionState::Connected).await;
        let _ = self.inbox.set(inbox);
        shutdown.cancelled().await;
        Ok(())
    }

    async fn send(
        &self,
        target: &Target,
        message: &OutgoingMessage,
    ) -> Result<MessageId, BackendError> {
        let failure = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        if let Some(err) = failure {
            return Err(err);
        }
        if matches!(target, Target::Direct { .. }) && !self.capabilities.direct_messages {
            return Err(BackendError::unsupported("direct_messages"));
        }
        let id = MessageId::new(&self.name, &format!("m{}", self.id()))
            .map_err(|e| BackendError::rejected(e.to_string()))?;
        let _ = self.sent.send(Sent {
            target: target.clone(),
            message: message.clone(),
            id: id.clone(),
        });
        Ok(id)
    }

    async fn edit(
        &self,
        target: &Target,
        message: &MessageId,
        new: &OutgoingMessage,
    ) -> Result<(), BackendError> {
        self.gate(self.capabilities.edits, "edit")?;
        self.record(Op::Edit {
            target: target.clone(),
            message: message.clone(),
            new: new.clone(),
        });
        Ok(())
    }

    async fn create_room(&self, spec: &RoomSpec) -> Result<RoomId, BackendError> {
        self.gate(self.capabilities.create_rooms, "create_room")?;
        let room = RoomId::new(&self.name, &format!("room{}", self.id()))
            .map_err(|e| BackendError::rejected(e.to_string()))?;
        self.record(Op::CreateRoom {
            spec: spec.clone(),
            room: room.clone(),
        });
        Ok(room)
    }

    async fn invite(&self, room: &RoomId, users: &[UserId]) -> Result<(), BackendError> {
        self.gate(self.capabilities.invite, "invite")?;
        self.record(Op::Invite {
            room: room.clone(),
            users: users.to_vec(),
        });
        Ok(())
    }

    async fn set_topic(&self, room: &RoomId, topic: &str) -> Result<(), BackendError> {
        self.gate(self.capabilities.topic, "set_topic")?;
        self.record(Op::SetTopic {
            room: room.clone(),
            topic: topic.to_owned(),
        });
        Ok(())
    }

    async fn rename_room(&self, room: &RoomId, name: &str) -> Result<(), BackendError> {
        self.gate(self.capabilities.rename_rooms, "rename_room")?;
        self.record(Op::RenameRoom {
            room: room.clone(),
            name: name.to_owned(),
        });
        Ok(())
    }

    async fn archive(&self, room: &RoomId) -> Result<(), BackendError> {
        self.gate(self.capabilities.archive, "archive")?;
        self.record(Op::Archive { room: room.clone() });
        Ok(())
    }

    async fn pin(&self, room: &RoomId, message: &MessageId) -> Result<(), BackendError> {
        self.gate(self.capabilities.pin, "pin")?;
        self.record(Op::Pin {
            room: room.clone(),
            message: message.clone(),
        });
        Ok(())
    }

    async fn react(
        &self,
        room: &RoomId,
        message: &MessageId,
        reaction: &str,
    ) -> Result<(), BackendError> {
        self.gate(self.capabilities.reactions, "react")?;
        self.record(Op::React {
            room: room.clone(),
            message: message.clone(),
            reaction: reaction.to_owned(),
        });
        Ok(())
    }

    async fn is_room_admin(&self, room: &RoomId, user: &UserId) -> Result<bool, BackendError> {
        Ok(self
            .room_admins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|(r, u)| r == room && u == user))
    }
}

/// Builds a [`TestBot`].
pub struct TestBotBuilder {
    config: String,
    backends: Vec<(String, Capabilities)>,
    plugins: Vec<(Arc<dyn Plugin>, Option<toml::Value>)>,
    store: Option<Store>,
    secrets: Option<Arc<dyn ferrbot_secrets::SecretStore>>,
    web: bool,
    clock_start: jiff::Timestamp,
}

impl TestBotBuilder {
    /// Uses this secrets store (an in-memory one otherwise).
    pub fn secrets(mut self, store: Arc<dyn ferrbot_secrets::SecretStore>) -> Self {
        self.secrets = Some(store);
        self
    }

    /// A config snippet: `[bot]`, `[outbox]`, `[web]` and `[plugins.<name>]` sections.
    pub fn config(mut self, toml_text: &str) -> Self {
        self.config = toml_text.to_owned();
        self
    }

    /// Adds a test backend named `name` (the id prefix) with these capabilities. Without any,
    /// one backend named `test` with every capability is used.
    pub fn backend(mut self, name: &str, capabilities: Capabilities) -> Self {
        self.backends.push((name.to_owned(), capabilities));
        self
    }

    /// Adds a plugin; its config comes from `[plugins.<name>]` in the snippet.
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push((Arc::new(plugin), None));
        self
    }

    /// Adds a shared plugin instance.
    pub fn plugin_arc(mut self, plugin: Arc<dyn Plugin>) -> Self {
        self.plugins.push((plugin, None));
        self
    }

    /// Uses this store (an in-memory SQLite store otherwise).
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Serves HTTP on an ephemeral loopback port (see [`TestBot::web_url`]).
    pub fn web(mut self) -> Self {
        self.web = true;
        self
    }

    /// Starts the manual clock at `at` (2026-01-01T00:00:00Z by default).
    pub fn clock_start(mut self, at: jiff::Timestamp) -> Self {
        self.clock_start = at;
        self
    }

    /// Builds and starts the bot.
    ///
    /// # Panics
    /// When the config snippet is invalid or the bot cannot start (this is test code).
    pub async fn build(self) -> TestBot {
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields, default)]
        struct Snippet {
            bot: Option<BotConfig>,
            outbox: Option<OutboxConfig>,
            web: Option<WebConfig>,
            plugins: toml::Table,
        }
        let snippet: Snippet = toml::from_str(&self.config)
            .unwrap_or_else(|e| panic!("invalid TestBot config snippet: {e}"));
        let (tx, rx) = mpsc::unbounded_channel();
        let backend_specs = if self.backends.is_empty() {
            vec![("test".to_owned(), Capabilities::full())]
        } else {
            self.backends
        };
        let clock = ManualClock::new(self.clock_start);
        let mut builder = Bot::builder(snippet.bot.unwrap_or_default())
            .clock(Arc::new(clock.clone()))
            .timers(false)
            .outbox(snippet.outbox.unwrap_or_else(|| OutboxConfig {
                retry: crate::outbox::RetryPolicy {
                    initial_backoff: Duration::from_millis(10),
                    ..Default::default()
                },
                ..Default::default()
            }));
        let mut backends = HashMap::new();
        for (name, capabilities) in backend_specs {
            let backend = Arc::new(TestBackend {
                name: name.clone(),
                capabilities,
                inbox: OnceCell::new(),
                sent: tx.clone(),
                ops: Mutex::new(Vec::new()),
                failures: Mutex::new(VecDeque::new()),
                op_failures: Mutex::new(VecDeque::new()),
                room_admins: Mutex::new(Vec::new()),
                next_id: AtomicU64::new(0),
            });
            builder = builder.backend(backend.clone());
            backends.insert(name, backend);
        }
        for (plugin, config) in self.plugins {
            let name = plugin.manifest().name;
            let mut config = config
                .or_else(|| snippet.plugins.get(&name).cloned())
                .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
            // Like the daemon, hand the plugin its section without the common keys.
            if let toml::Value::Table(table) = &mut config {
                table.remove("enabled");
                table.remove("kind");
            }
            builder = builder.plugin(plugin, config);
        }
        if let Some(store) = self.store {
            builder = builder.store(store);
        }
        if let Some(secrets) = self.secrets {
            builder = builder.secrets(secrets);
        }
        if self.web {
            builder = builder.web(WebConfig {
                enabled: true,
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..snippet.web.unwrap_or_default()
            });
        }
        let bot = builder
            .build()
            .await
            .unwrap_or_else(|e| panic!("TestBot could not be built: {e}"));
        let web = bot.web_addr();
        let shared = bot.shared.clone();
        let stop = CancellationToken::new();
        let run_stop = stop.clone();
        let task = tokio::spawn(async move { bot.run(run_stop).await });
        let mut task = task;
        for backend in backends.values() {
            let started = tokio::time::Instant::now();
            while backend.inbox.get().is_none() {
                if task.is_finished() {
                    match (&mut task).await {
                        Ok(Err(err)) => panic!("TestBot could not start: {err}"),
                        Ok(Ok(())) => panic!("TestBot stopped right after starting"),
                        Err(err) => panic!("TestBot could not start: {err}"),
                    }
                }
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "test backend {} did not start",
                    backend.name
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        TestBot {
            backends,
            sent: tokio::sync::Mutex::new(rx),
            stop,
            task: Mutex::new(Some(task)),
            clock,
            shared,
            web,
        }
    }
}

/// A running bot with test backends. Dropping it stops the bot.
pub struct TestBot {
    backends: HashMap<String, Arc<TestBackend>>,
    sent: tokio::sync::Mutex<mpsc::UnboundedReceiver<Sent>>,
    stop: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<Result<(), crate::error::StartError>>>>,
    clock: ManualClock,
    shared: Arc<crate::runtime::Shared>,
    web: Option<SocketAddr>,
}

/// How long [`TestBot::next_reply`] waits.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

impl TestBot {
    /// Starts building a test bot.
    pub fn builder() -> TestBotBuilder {
        TestBotBuilder {
            config: String::new(),
            backends: Vec::new(),
            plugins: Vec::new(),
            store: None,
            secrets: None,
            web: false,
            clock_start: jiff::Timestamp::from_second(1_767_225_600)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        }
    }

    /// A bot with one plugin, one full-featured backend named `test`, and default config.
    pub async fn with_plugin(plugin: impl Plugin) -> Self {
        Self::builder().plugin(plugin).build().await
    }

    fn backend_of(&self, backend: &str) -> &Arc<TestBackend> {
        self.backends.get(backend).unwrap_or_else(|| {
            panic!(
                "no test backend named `{backend}`; add it with TestBot::builder().backend(\"{backend}\", caps)"
            )
        })
    }

    async fn submit(&self, backend: &str, event: BackendEvent) {
        let inbox = self
            .backend_of(backend)
            .inbox
            .get()
            .unwrap_or_else(|| panic!("test backend {backend} is not running"))
            .clone();
        let done = inbox
            .submit(event)
            .await
            .unwrap_or_else(|_| panic!("the bot has stopped"));
        done.wait().await;
    }

    fn parse_user(user: &str) -> UserId {
        user.parse()
            .unwrap_or_else(|e| panic!("bad user id `{user}`: {e}"))
    }

    fn parse_room(room: &str) -> RoomId {
        room.parse()
            .unwrap_or_else(|e| panic!("bad room id `{room}`: {e}"))
    }

    /// The default room of a backend: `<backend>:general`.
    pub fn default_room(backend: &str) -> RoomId {
        Self::parse_room(&format!("{backend}:general"))
    }

    /// The direct conversation with a user: `<backend>:dm-<user>`.
    pub fn direct_room(user: &UserId) -> RoomId {
        Self::parse_room(&format!("{}:dm-{}", user.backend(), user.local()))
    }

    /// Posts `text` as `user` in the backend's default room and waits until it is handled.
    pub async fn say(&self, user: &str, text: &str) {
        let user = Self::parse_user(user);
        let room = Self::default_room(user.backend());
        self.post(user, room, None, text, false, false).await;
    }

    /// Posts `text` as `user` in `room`.
    pub async fn say_in(&self, room: &str, user: &str, text: &str) {
        let user = Self::parse_user(user);
        self.post(user, Self::parse_room(room), None, text, false, false)
            .await;
    }

    /// Posts `text` as `user` in a thread of `room`.
    pub async fn say_in_thread(&self, room: &str, thread: &str, user: &str, text: &str) {
        let user = Self::parse_user(user);
        let room = Self::parse_room(room);
        let thread =
            ThreadId::new(room.backend(), thread).unwrap_or_else(|e| panic!("bad thread id: {e}"));
        self.post(user, room, Some(thread), text, false, false)
            .await;
    }

    /// Posts `text` as `user` in `room` as a reply to the message `reply_to` (its local id on
    /// the room's backend), as Discord and Matrix report replies.
    pub async fn say_reply(&self, room: &str, user: &str, reply_to: &str, text: &str) {
        let user = Self::parse_user(user);
        let room = Self::parse_room(room);
        let reply_to = MessageId::new(room.backend(), reply_to)
            .unwrap_or_else(|e| panic!("bad message id: {e}"));
        let message = IncomingMessage {
            id: None,
            room: room.clone(),
            thread: None,
            author: Author::from_id(user),
            text: text.to_owned(),
            direct: false,
            mentioned: false,
            reply_to: Some(reply_to),
        };
        let backend = room.backend().to_owned();
        self.submit(&backend, BackendEvent::Message(message)).await;
    }

    /// Sends `text` to the bot in a direct conversation with `user`.
    pub async fn say_direct(&self, user: &str, text: &str) {
        let user = Self::parse_user(user);
        let room = Self::direct_room(&user);
        self.post(user, room, None, text, true, false).await;
    }

    /// Posts `text` as `user` in the default room, mentioning the bot (`@bot text`).
    pub async fn mention(&self, user: &str, text: &str) {
        let user = Self::parse_user(user);
        let room = Self::default_room(user.backend());
        self.post(user, room, None, text, false, true).await;
    }

    async fn post(
        &self,
        user: UserId,
        room: RoomId,
        thread: Option<ThreadId>,
        text: &str,
        direct: bool,
        mentioned: bool,
    ) {
        let backend = room.backend().to_owned();
        let message = IncomingMessage {
            id: None,
            room,
            thread,
            author: Author::from_id(user),
            text: text.to_owned(),
            direct,
            mentioned,
            reply_to: None,
        };
        self.submit(&backend, BackendEvent::Message(message)).await;
    }

    /// Clicks a button (runs `command` as `user` in `room`, as a backend reports a click).
    pub async fn click(&self, user: &str, room: &str, command: &str) {
        let room = Self::parse_room(room);
        let backend = room.backend().to_owned();
        let request = CommandRequest {
            author: Author::from_id(Self::parse_user(user)),
            room,
            thread: None,
            direct: false,
            command: command.to_owned(),
            source: CommandSource::Button,
        };
        self.submit(&backend, BackendEvent::Command(request)).await;
    }

    /// Reports a pin, reaction, edit or deletion, as a backend would.
    pub async fn message_event(&self, backend: &str, event: MessageEvent) {
        self.submit(backend, BackendEvent::MessageEvent(event))
            .await;
    }

    /// The next message the bot sent, waiting up to [`REPLY_TIMEOUT`].
    ///
    /// # Panics
    /// When nothing arrives in time.
    pub async fn next_reply(&self) -> Sent {
        self.try_next_reply(REPLY_TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("the bot sent nothing within {REPLY_TIMEOUT:?}"))
    }

    /// The next message the bot sent, or `None` after `wait`.
    pub async fn try_next_reply(&self, wait: Duration) -> Option<Sent> {
        let mut rx = self.sent.lock().await;
        tokio::time::timeout(wait, rx.recv()).await.ok().flatten()
    }

    /// Asserts that the bot sends nothing within `wait`.
    ///
    /// # Panics
    /// When it does.
    pub async fn assert_silent(&self, wait: Duration) {
        if let Some(sent) = self.try_next_reply(wait).await {
            panic!("expected no message, but the bot sent: {}", sent.plain());
        }
    }

    /// The operations (edits, rooms, pins, …) a backend was asked to do so far.
    pub fn ops(&self, backend: &str) -> Vec<Op> {
        self.backend_of(backend)
            .ops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Makes the backend's next sends fail with these errors, in order.
    pub fn fail_sends(&self, backend: &str, errors: impl IntoIterator<Item = BackendError>) {
        self.backend_of(backend)
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(errors);
    }

    /// Makes the backend's next supported operations other than sending (edit, create room,
    /// invite, topic, rename, archive, pin, react) fail with these errors, in order.
    pub fn fail_ops(&self, backend: &str, errors: impl IntoIterator<Item = BackendError>) {
        self.backend_of(backend)
            .op_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(errors);
    }

    /// Makes `user` an admin of `room` on the chat network, as the room's backend reports it
    /// through [`Backend::is_room_admin`] (both are full ids, e.g. `test:ops`, `test:carol`).
    pub fn make_room_admin(&self, room: &str, user: &str) {
        let room: RoomId = room
            .parse()
            .unwrap_or_else(|e| panic!("bad room id {room}: {e}"));
        let user: UserId = user
            .parse()
            .unwrap_or_else(|e| panic!("bad user id {user}: {e}"));
        self.backend_of(room.backend())
            .room_admins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((room, user));
    }

    /// The manual clock the bot's plugins see.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Runs every scheduled job once, now.
    pub async fn run_jobs(&self) {
        self.shared.scheduler.run_all_now().await;
    }

    /// A plugin's handle, to inspect its storage or send as it would.
    pub fn context(&self, plugin: &str) -> PluginContext {
        self.shared.context(&Arc::from(plugin))
    }

    /// The bot's store.
    pub fn store(&self) -> Store {
        self.shared.store.clone()
    }

    /// The web server's base URL (`http://127.0.0.1:PORT`).
    ///
    /// # Panics
    /// When the builder did not ask for [`TestBotBuilder::web`].
    pub fn web_url(&self) -> String {
        let addr = self
            .web
            .unwrap_or_else(|| panic!("build the TestBot with .web() to serve HTTP"));
        format!("http://{addr}")
    }

    /// Stops the bot gracefully and waits until it has flushed its queues.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for TestBot {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
