//! `ferrbot-plugin-incident`: the `!incident` plugin (alias `!inc`) — incidents declared, run
//! and reported from chat, in the spirit of Monzo's Response, Netflix's Dispatch and Argus.
//!
//! Where it sits: a plugin of the ferrbot core. It depends on the `ferrbot` crate only; the
//! daemon builds it from `[plugins.incident]` with [`IncidentPlugin::from_config`]. It keeps
//! its data in its own tables in the bot's store ([`store`], [`migrations`]; SQLite or
//! PostgreSQL) and knows no backend: users and rooms are backend-qualified ids.
//!
//! The pieces:
//! - [`model`]: incidents, severities, states, timeline events, acks, tasks, updates, roles,
//!   participants, subscriptions and reminder state.
//! - [`store`]: reads, and changes inside one transaction with their timeline event.
//! - [`state`]: the state machine; [`policy`]: who may change what; [`reference`](mod@reference): `42`,
//!   `#42`, `inc-42` and the target incident when none is named.
//! - [`commands`]: the `!incident …` commands; [`report`] and [`stats`]: reports and metrics;
//!   [`metrics`]: Prometheus gauges and histograms refreshed from the store.
//! - [`util`]: pure helpers; [`auto`]: automatic behaviour (headline post, incident rooms
//!   and threads, timeline capture of pinned and reacted messages, reminders).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrbot::backend::MessageEvent;
use ferrbot::context::PluginContext;
use ferrbot::error::ConfigError;
use ferrbot::plugin::{Manifest, Plugin, PluginError};

pub mod auto;
pub mod commands;
pub mod config;
pub mod metrics;
pub mod migrations;
pub mod model;
pub mod notify;
pub mod policy;
pub mod reference;
pub mod report;
pub mod report_link;
pub mod state;
pub mod stats;
pub mod store;
pub mod util;

pub use config::Config;

/// The plugin's name: its config section and migration owner.
pub const NAME: &str = "incident";

/// How often expired acknowledgements are recorded.
const ACK_EXPIRY_EVERY: Duration = Duration::from_secs(30);

/// The `!incident` plugin.
pub struct IncidentPlugin {
    app: Arc<commands::App>,
}

impl IncidentPlugin {
    /// Builds the plugin from its `[plugins.incident]` section.
    ///
    /// # Errors
    /// When the section is invalid; the message names the key.
    pub fn from_config(value: toml::Value) -> Result<Self, ConfigError> {
        Ok(Self::new(Config::from_value(value)?))
    }

    /// Builds the plugin from a validated config.
    pub fn new(config: Config) -> Self {
        Self {
            app: Arc::new(commands::App { config }),
        }
    }

    /// The validated config.
    pub fn config(&self) -> &Config {
        &self.app.config
    }
}

#[async_trait]
impl Plugin for IncidentPlugin {
    fn manifest(&self) -> Manifest {
        commands::specs(&self.app)
            .into_iter()
            .fold(
                Manifest::new(NAME, env!("CARGO_PKG_VERSION"))
                    .description("Incidents declared, run and reported from chat"),
                Manifest::command_spec,
            )
            .matcher(auto::activity::matcher(&self.app))
    }

    async fn start(&self, ctx: PluginContext) -> Result<(), PluginError> {
        let store = store::IncidentStore::new(ctx.db().clone());
        store
            .migrate()
            .await
            .map_err(|e| PluginError(format!("incident plugin: {e}")))?;
        let job_ctx = ctx.clone();
        let job_app = self.app.clone();
        ctx.every("ack-expiry", ACK_EXPIRY_EVERY, move || {
            let ctx = job_ctx.clone();
            let app = job_app.clone();
            async move {
                let store = store::IncidentStore::new(ctx.db().clone());
                match commands::ack::record_expired(&store, ctx.now()).await {
                    Ok(events) => {
                        for event in &events {
                            notify::after_change_logged(&app.config, &ctx, event).await;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "recording expired acknowledgements failed")
                    }
                }
            }
        });
        auto::reminder_jobs::schedule(&ctx, self.app.clone());
        metrics::start(&ctx, self.app.config.severities.len()).await;
        Ok(())
    }

    fn routes(&self, ctx: PluginContext) -> Option<axum::Router> {
        Some(report_link::router(self.app.clone(), ctx))
    }

    async fn on_message_event(&self, ctx: PluginContext, event: MessageEvent) {
        match auto::capture::apply(&ctx, &self.app.config.timeline_reaction, event).await {
            Ok(Some(event)) => notify::after_change_logged(&self.app.config, &ctx, &event).await,
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "capturing a message into the timeline failed")
            }
        }
    }
}
