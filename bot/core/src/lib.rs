//! `ferrbot`: the framework API and runtime of the ferrbot chat-ops bot.
//!
//! This is the crate plugin and backend authors depend on. It defines backend-qualified ids
//! ([`id`]), neutral messages and markup ([`message`], [`markup`]), the [`Backend`] and
//! [`Plugin`] traits, the dispatcher with access control, storage ([`store`]), the web server,
//! the outbound queues, the scheduler, and — behind the `testing` feature — a test harness.
//!
//! It knows no chat network: it never depends on slack-morphism, serenity or matrix-sdk, and
//! no code here tests a backend's name. Backends live in `backends/*`, plugins in `plugins/*`,
//! and the daemon wires them together from config.
//!
//! ```
//! use ferrbot::prelude::*;
//!
//! /// Greet someone.
//! #[derive(clap::Parser)]
//! #[command(name = "hello")]
//! struct Hello {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! impl Command for Hello {
//!     async fn run(self, _ctx: &Ctx) -> CommandResult {
//!         Ok(Reply::text(format!("Hello, {}!", self.name)))
//!     }
//! }
//!
//! struct HelloPlugin;
//!
//! impl Plugin for HelloPlugin {
//!     fn manifest(&self) -> Manifest {
//!         Manifest::new("hello", "1.0.0").command::<Hello>()
//!     }
//! }
//! ```

pub mod acl;
pub mod backend;
mod builtins;
pub mod clock;
pub mod config;
pub mod context;
pub mod dispatch;
pub mod error;
pub mod id;
pub mod markup;
pub mod message;
pub mod metrics;
pub mod outbox;
pub mod plugin;
pub mod registry;
pub mod runtime;
pub mod scheduler;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod web;

/// The secrets API plugins reach through their context ([`PluginContext::secrets`],
/// [`Ctx::caller_credentials`]): values that never print, expiries, errors. Plugins use it
/// from here and depend on the core alone.
pub mod secrets {
    pub use ferrbot_secrets::{
        CredentialCache, Expiry, PluginSecrets, SecretValue, SecretsError, UserCredentials,
    };
}

pub use backend::{Backend, BackendError, BackendEvent, Capabilities, Inbox};
pub use context::{Chat, Ctx, PluginContext};
pub use error::{CommandError, CommandResult};
pub use id::{MessageId, RoomId, Target, ThreadId, UserId};
pub use message::{Action, Author, Card, IncomingMessage, Level, OutgoingMessage, Reply};
pub use plugin::{Access, Command, CommandSpec, Manifest, Plugin};
pub use runtime::{Bot, BotBuilder};

/// Re-exports for plugin authors: `use ferrbot::prelude::*;`.
pub mod prelude {
    pub use crate::backend::{Capabilities, MessageEvent, RoomSpec};
    pub use crate::context::{Ctx, PluginContext};
    pub use crate::error::{CommandError, CommandResult};
    pub use crate::id::{MessageId, RoomId, Target, ThreadId, UserId};
    pub use crate::markup::Markup;
    pub use crate::message::{Action, ActionStyle, Author, Card, Level, OutgoingMessage, Reply};
    pub use crate::plugin::{
        Access, Captures, Command, CommandSpec, Manifest, MatcherSpec, Plugin, PluginError,
    };
    pub use crate::store::Migration;
    pub use async_trait::async_trait;
}
