//! `ferrbot-plugin-sentry`: the `!sentry` plugin — Sentry webhooks relayed, verified and well
//! formatted, to the chat rooms that asked for them.
//!
//! Where it sits: a plugin of the ferrbot core. It depends on the `ferrbot` crate only; the
//! daemon builds it from `[plugins.sentry]` with [`SentryPlugin::from_config`]. It knows no
//! backend and no other plugin: rooms and users are backend-qualified ids, messages are neutral
//! cards and markup, and what a chat network can do (threads, edits, message length) comes from
//! its `Capabilities`.
//!
//! What it does:
//! - HTTP intake under `/plugins/sentry/` ([`routes`]): Integration Platform webhooks checked
//!   by HMAC-SHA256 signature (several secrets per route for rotation), legacy webhooks by an
//!   unguessable URL token, and Sentry Bot's `/sentry-bot/channel` URL behind an IP allow list
//!   (off by default). Every comparison is constant-time.
//! - Lenient parsing of every Sentry payload shape ([`payload`]) into cards ([`format`]).
//! - Rooms and routes authorized from chat or declared in config ([`rooms`]), project
//!   mentions ([`mentions`]), storm control and duplicate dropping ([`storm`]), status and
//!   metrics ([`stats`]). Everything durable is in the plugin's store.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrbot::context::PluginContext;
use ferrbot::error::ConfigError;
use ferrbot::plugin::{Manifest, Plugin, PluginError};

pub mod commands;
pub mod config;
pub mod format;
pub mod ipallow;
pub mod keys;
pub mod mentions;
pub mod payload;
pub mod relay;
pub mod rooms;
pub mod routes;
pub mod stats;
pub mod storm;
pub mod verify;

pub use config::{SENTRY_WEBHOOK_SOURCES, Settings};

/// The plugin's name: its config section, store namespace and URL prefix (`/plugins/sentry/`).
pub const NAME: &str = "sentry";

/// How often held-back storm counts are shown.
const STORM_FLUSH_EVERY: Duration = Duration::from_secs(5);
/// How often old duplicate ids, reject counts and thread records are pruned.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// State shared by the routes, the commands and the jobs.
pub struct Core {
    /// The validated config.
    pub settings: Settings,
    /// Deliveries by route, resource and outcome.
    pub deliveries: stats::Deliveries,
    /// Per-key locks of storm state.
    pub locks: storm::KeyedLocks,
}

/// The plugin's state plus its context: what handlers and jobs work with.
#[derive(Clone)]
pub struct App {
    /// The shared state.
    pub core: Arc<Core>,
    /// The plugin's handle on the bot.
    pub ctx: PluginContext,
}

/// The `!sentry` plugin.
pub struct SentryPlugin {
    core: Arc<Core>,
}

impl SentryPlugin {
    /// Builds the plugin from its `[plugins.sentry]` section (with `secret:`/`env:` references
    /// already resolved).
    ///
    /// # Errors
    /// When the section is invalid; the message names the key.
    pub fn from_config(value: toml::Value) -> Result<Self, ConfigError> {
        Ok(Self::new(Settings::from_value(value)?))
    }

    /// Builds the plugin from validated settings.
    pub fn new(settings: Settings) -> Self {
        Self {
            core: Arc::new(Core {
                settings,
                deliveries: stats::Deliveries::default(),
                locks: storm::KeyedLocks::default(),
            }),
        }
    }

    /// The validated settings.
    pub fn settings(&self) -> &Settings {
        &self.core.settings
    }
}

#[async_trait]
impl Plugin for SentryPlugin {
    fn manifest(&self) -> Manifest {
        commands::specs(&self.core).into_iter().fold(
            Manifest::new(NAME, env!("CARGO_PKG_VERSION"))
                .description("Sentry alerts relayed to authorized rooms"),
            Manifest::command_spec,
        )
    }

    async fn start(&self, ctx: PluginContext) -> Result<(), PluginError> {
        ctx.register_metric(
            "deliveries",
            "Sentry webhook deliveries, by route, resource and outcome",
            self.core.deliveries.clone(),
        );
        let settings = &self.core.settings;
        for route in &settings.routes {
            tracing::info!(
                route = %route.name,
                room = %route.room,
                secrets = route.secrets.len(),
                tokens = route.token_digests.len(),
                "sentry route from config"
            );
        }
        if settings.public_url.is_none() {
            tracing::warn!(
                "[plugins.sentry] public_url is not set: webhook URLs sent in chat will be paths only"
            );
        }
        if settings.compat.enabled {
            tracing::warn!(
                "the Sentry Bot compatibility route is on: it trusts source addresses, not signatures"
            );
        }
        let app = App {
            core: self.core.clone(),
            ctx: ctx.clone(),
        };
        let storm_app = app.clone();
        ctx.every("storm", STORM_FLUSH_EVERY, move || {
            let app = storm_app.clone();
            async move { relay::flush_storms(&app).await }
        });
        ctx.every("housekeeping", HOUSEKEEPING_EVERY, move || {
            let app = app.clone();
            async move { relay::housekeeping(&app).await }
        });
        Ok(())
    }

    fn routes(&self, ctx: PluginContext) -> Option<axum::Router> {
        Some(routes::router(App {
            core: self.core.clone(),
            ctx,
        }))
    }
}
