//! The [`Backend`] trait: what a chat network must offer ferrbot.
//!
//! A backend connects to one chat network, streams what happens there into the bot's
//! [`Inbox`] as [`BackendEvent`]s, and carries out sends and the optional operations its
//! [`Capabilities`] announce. Optional operations that a network cannot do return
//! [`BackendError::Unsupported`], so callers degrade by capability, never by backend name.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::id::{MessageId, RoomId, Target, ThreadId, UserId};
use crate::message::{Author, IncomingMessage, OutgoingMessage};

/// Which events about existing messages a backend reports back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvents {
    /// Pins and unpins.
    pub pins: bool,
    /// Reactions added and removed.
    pub reactions: bool,
    /// Edits.
    pub edits: bool,
    /// Deletions.
    pub deletions: bool,
}

/// What a backend can do. Callers check these and degrade; they never test a backend's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Messages can be posted in threads.
    pub threads: bool,
    /// Cards render natively (embeds, Block Kit, HTML).
    pub cards: bool,
    /// The bot can react to messages.
    pub reactions: bool,
    /// The bot can edit its own messages.
    pub edits: bool,
    /// The bot can create rooms.
    pub create_rooms: bool,
    /// The bot can invite users to rooms.
    pub invite: bool,
    /// The bot can set a room's topic.
    pub topic: bool,
    /// The bot can rename rooms ([`Backend::rename_room`]).
    #[serde(default)]
    pub rename_rooms: bool,
    /// The bot can archive rooms.
    pub archive: bool,
    /// The bot can pin messages.
    pub pin: bool,
    /// The bot can send direct messages.
    pub direct_messages: bool,
    /// Actions render as clickable buttons.
    pub buttons: bool,
    /// Events about existing messages that are reported back.
    pub message_events: MessageEvents,
    /// The longest message, in characters; backends split longer ones.
    pub max_message_len: usize,
}

impl Capabilities {
    /// A backend that can only send plain messages (the starting point for builders).
    pub const fn minimal() -> Self {
        Self {
            threads: false,
            cards: false,
            reactions: false,
            edits: false,
            create_rooms: false,
            invite: false,
            topic: false,
            rename_rooms: false,
            archive: false,
            pin: false,
            direct_messages: false,
            buttons: false,
            message_events: MessageEvents {
                pins: false,
                reactions: false,
                edits: false,
                deletions: false,
            },
            max_message_len: 4000,
        }
    }

    /// A backend that can do everything ferrbot knows of.
    pub const fn full() -> Self {
        Self {
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
            max_message_len: 4000,
        }
    }
}

/// A command the bot offers, as backends see it (to register slash commands).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandInfo {
    /// The full name (`incident declare`).
    pub name: String,
    /// One line of help.
    pub about: String,
}

/// What a new room should look like.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSpec {
    /// The room's name (backends may normalise it, e.g. lower-case for Slack).
    pub name: String,
    /// The topic.
    pub topic: Option<String>,
    /// Users to invite.
    pub invite: Vec<UserId>,
    /// Private (invite-only) when true.
    pub private: bool,
}

/// Why a backend operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend cannot do this at all; degrade instead.
    #[error("the backend does not support `{op}`")]
    Unsupported {
        /// The operation.
        op: &'static str,
    },
    /// The chat network asked us to slow down.
    #[error("rate limited, retry after {retry_after:?}")]
    RateLimited {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A passing failure (network, 5xx, disconnected); the operation may be retried.
    #[error("temporary failure: {message}")]
    Transient {
        /// What went wrong (no secrets).
        message: String,
    },
    /// The network refused the operation for good (not found, forbidden, invalid).
    #[error("rejected: {message}")]
    Rejected {
        /// What went wrong (no secrets).
        message: String,
    },
}

impl BackendError {
    /// An unsupported operation.
    pub fn unsupported(op: &'static str) -> Self {
        Self::Unsupported { op }
    }

    /// A passing failure.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
        }
    }

    /// A permanent refusal.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::Rejected {
            message: message.into(),
        }
    }

    /// True when retrying may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient { .. })
    }
}

/// The state of a backend's connection, as shown by `status` and `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not yet connected.
    Connecting,
    /// Connected and receiving.
    Connected,
    /// Lost the connection; reconnecting.
    Disconnected {
        /// Why (no secrets).
        reason: String,
    },
    /// Stopped for good (end of input, shutdown).
    Stopped,
}

/// A command line that did not come from a message: a button click or a slash command.
#[derive(Clone, Debug)]
pub struct CommandRequest {
    /// Who asked.
    pub author: Author,
    /// Where (for direct conversations, the conversation).
    pub room: RoomId,
    /// The thread, if any.
    pub thread: Option<ThreadId>,
    /// True in a one-to-one conversation.
    pub direct: bool,
    /// The command line without prefix (`incident join 42`).
    pub command: String,
    /// How it was invoked.
    pub source: CommandSource,
}

/// How a [`CommandRequest`] was invoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandSource {
    /// A click on a card's button.
    Button,
    /// A slash command or application command.
    Slash,
}

/// Something that happened to an existing message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageEvent {
    /// A message was pinned.
    Pinned {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
        /// Who pinned it, when known.
        by: Option<UserId>,
        /// The message's author, when known.
        author: Option<UserId>,
        /// The message's text, when known.
        text: Option<String>,
    },
    /// A message was unpinned.
    Unpinned {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
    },
    /// A reaction was added.
    ReactionAdded {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
        /// Who reacted.
        by: UserId,
        /// The reaction (emoji name or character).
        reaction: String,
        /// The message's text, when known.
        text: Option<String>,
    },
    /// A reaction was removed.
    ReactionRemoved {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
        /// Who removed it.
        by: UserId,
        /// The reaction.
        reaction: String,
    },
    /// A message was edited.
    Edited {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
        /// The new text.
        text: String,
    },
    /// A message was deleted.
    Deleted {
        /// The room.
        room: RoomId,
        /// The message.
        message: MessageId,
    },
}

/// What a backend reports to the bot.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum BackendEvent {
    /// A chat message (commands and matchers look at it).
    Message(IncomingMessage),
    /// A command from a button or slash command.
    Command(CommandRequest),
    /// Something happened to an existing message.
    MessageEvent(MessageEvent),
    /// The connection state changed.
    Connection(ConnectionState),
    /// The backend's input is exhausted (piped console): the bot finishes its work and stops.
    EndOfInput,
}

pub(crate) struct Envelope {
    pub(crate) backend: Arc<str>,
    pub(crate) event: BackendEvent,
    pub(crate) done: Option<oneshot::Sender<()>>,
}

/// Where a backend delivers its events. Cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    backend: Arc<str>,
    tx: mpsc::Sender<Envelope>,
}

/// Resolves when the bot has finished handling an event (its replies are queued).
pub struct Completion(oneshot::Receiver<()>);

impl Completion {
    /// Waits until the event was handled (or the bot stopped).
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

/// The bot is shutting down and takes no more events.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the bot is shutting down")]
pub struct InboxClosed;

impl Inbox {
    pub(crate) fn new(backend: Arc<str>, tx: mpsc::Sender<Envelope>) -> Self {
        Self { backend, tx }
    }

    /// Hands an event to the bot, waiting while the bot is saturated (back-pressure).
    ///
    /// # Errors
    /// When the bot is shutting down.
    pub async fn submit(&self, event: BackendEvent) -> Result<Completion, InboxClosed> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Envelope {
                backend: self.backend.clone(),
                event,
                done: Some(done),
            })
            .await
            .map_err(|_| InboxClosed)?;
        Ok(Completion(rx))
    }

    /// Reports a connection state change.
    pub async fn connection(&self, state: ConnectionState) {
        let _ = self.submit(BackendEvent::Connection(state)).await;
    }
}

/// A chat network connection.
///
/// Implementations are shared (`Arc<dyn Backend>`): `run` is the connection loop, while
/// `send` and the optional operations are called concurrently from the outbound queue and
/// from plugins. Messages are queued per room by the bot, so `send` may assume that one room's
/// messages come one at a time, in order.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The instance name: the prefix of every id this backend produces (`slack`).
    fn name(&self) -> &str;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Connects and streams events into `inbox` until `shutdown` is cancelled, reconnecting
    /// with backoff on its own. Returns when stopped (or when input is exhausted).
    async fn run(&self, inbox: Inbox, shutdown: CancellationToken) -> Result<(), BackendError>;

    /// Sends a message, splitting it if it exceeds the size limit; returns the id of the
    /// (first) message sent.
    async fn send(
        &self,
        target: &Target,
        message: &OutgoingMessage,
    ) -> Result<MessageId, BackendError>;

    /// Replaces a message the bot sent.
    async fn edit(
        &self,
        _target: &Target,
        _message: &MessageId,
        _new: &OutgoingMessage,
    ) -> Result<(), BackendError> {
        Err(BackendError::unsupported("edit"))
    }

    /// Creates a room.
    async fn create_room(&self, _spec: &RoomSpec) -> Result<RoomId, BackendError> {
        Err(BackendError::unsupported("create_room"))
    }

    /// Invites users to a room.
    async fn invite(&self, _room: &RoomId, _users: &[UserId]) -> Result<(), BackendError> {
        Err(BackendError::unsupported("invite"))
    }

    /// Sets a room's topic.
    async fn set_topic(&self, _room: &RoomId, _topic: &str) -> Result<(), BackendError> {
        Err(BackendError::unsupported("set_topic"))
    }

    /// Renames a room (backends may normalise `name`, e.g. lower-case for Slack).
    async fn rename_room(&self, _room: &RoomId, _name: &str) -> Result<(), BackendError> {
        Err(BackendError::unsupported("rename_room"))
    }

    /// Archives a room.
    async fn archive(&self, _room: &RoomId) -> Result<(), BackendError> {
        Err(BackendError::unsupported("archive"))
    }

    /// Pins a message.
    async fn pin(&self, _room: &RoomId, _message: &MessageId) -> Result<(), BackendError> {
        Err(BackendError::unsupported("pin"))
    }

    /// Adds a reaction to a message.
    async fn react(
        &self,
        _room: &RoomId,
        _message: &MessageId,
        _reaction: &str,
    ) -> Result<(), BackendError> {
        Err(BackendError::unsupported("react"))
    }

    /// Looks up a user's display name.
    async fn user(&self, user: &UserId) -> Result<Author, BackendError> {
        Ok(Author::from_id(user.clone()))
    }

    /// Whether `user` administers `room` on the chat network (Slack workspace admins and the
    /// channel's creator, Discord members who may manage the channel, Matrix users whose power
    /// level lets them change the room's state). Plugins use it to let room admins, not only
    /// bot admins, configure what happens in their room.
    async fn is_room_admin(&self, _room: &RoomId, _user: &UserId) -> Result<bool, BackendError> {
        Err(BackendError::unsupported("is_room_admin"))
    }

    /// Told the bot's commands once, before [`Backend::run`], so a backend can register them
    /// as slash commands. Commands a user may not run are refused at dispatch, as ever.
    fn set_commands(&self, _commands: &[CommandInfo]) {}

    /// HTTP routes (event intake, interactivity), mounted under `/backends/<name>/`.
    fn routes(&self) -> Option<axum::Router> {
        None
    }
}
