//! `ferrbot-plugin-st2`: the `!st2` plugin — StackStorm action-aliases run from chat, their
//! results streamed back to the room they came from.
//!
//! Where it sits: a plugin of the ferrbot core, built by the daemon from `[plugins.st2]` with
//! [`St2Plugin::from_config`]. It knows no backend: rooms and users are backend-qualified ids
//! (sent to StackStorm as `source_channel` and `user`, and resolved back when results
//! arrive), messages are neutral markup and cards.
//!
//! What it does:
//! - `!st2 <text>` ([`execute`]): `POST /api/v1/aliasexecution/match_and_execute` with the
//!   normalised text (smart quotes, NBSP), acknowledged as the alias says; StackStorm's
//!   refusals become replies pointing to `!st2help`, with "did you mean" from the alias cache.
//! - The bot's credential ([`auth`]): username/password (token renewed before expiry and on a
//!   401), a user token (validated at start, admins alerted before expiry) or an API key; one
//!   header per request ([`credential`], [`client`]).
//! - Per-user RBAC ([`rbac`]): standalone, serverside (service-account impersonation) or
//!   clientside (login sessions, in `sessions`).
//! - Results ([`stream`], [`announce`], [`render`]): the SSE stream of
//!   `st2.announcement__<route>` with backoff, jitter and a heartbeat watchdog, delivered to
//!   the room or privately (`whisper`), `{~}` and `extra.slack` rendered as cards.
//! - The chatops webhook ([`webhook`]), help and the alias cache ([`help`], [`aliases`]),
//!   `!st2 status` and metrics ([`status`]).
//! - The local alias parser ([`alias`]) for previews, "did you mean" and `alias-test`.

use std::sync::Arc;

use async_trait::async_trait;
use ferrbot::context::PluginContext;
use ferrbot::error::ConfigError;
use ferrbot::plugin::{CommandSpec, Manifest, Plugin, PluginError};

pub mod alias;
pub mod aliases;
pub mod announce;
pub mod auth;
pub mod client;
pub mod config;
pub mod credential;
pub mod execute;
pub mod help;
pub mod rbac;
pub mod render;
pub mod sessions;
pub mod status;
pub mod stream;
pub mod webhook;

pub use config::Settings;

/// The plugin's name: its config section, store namespace and URL prefix (`/plugins/st2/`).
pub const NAME: &str = "st2";

/// State shared by the commands, the routes and the background jobs.
#[derive(Debug)]
pub struct Core {
    /// The validated config.
    pub settings: Settings,
    /// The REST client.
    pub client: client::St2Client,
    /// The bot's credential.
    pub auth: Arc<auth::BotAuth>,
    /// The clientside login sessions (`clientside` RBAC only).
    pub sessions: Option<sessions::Sessions>,
    /// The alias cache.
    pub aliases: aliases::AliasCache,
    /// Stream state and counters.
    pub status: status::Status,
}

/// The shared state plus the plugin's context.
#[derive(Clone)]
pub struct App {
    /// The shared state.
    pub core: Arc<Core>,
    /// The plugin's handle on the bot.
    pub ctx: PluginContext,
}

/// The `!st2` plugin.
pub struct St2Plugin {
    core: Arc<Core>,
}

impl St2Plugin {
    /// Builds the plugin from its `[plugins.st2]` section (`secret:`/`env:` references
    /// already resolved by the daemon).
    ///
    /// # Errors
    /// When the section is invalid (the message names the key) or the TLS settings cannot be
    /// loaded.
    pub fn from_config(value: toml::Value) -> Result<Self, ConfigError> {
        Self::new(Settings::from_value(value)?)
    }

    /// Builds the plugin from validated settings.
    ///
    /// # Errors
    /// When the HTTP client or its TLS settings cannot be built.
    pub fn new(settings: Settings) -> Result<Self, ConfigError> {
        let e = &settings.endpoints;
        let needs_tls = [&e.auth, &e.api, &e.stream]
            .iter()
            .any(|u| u.starts_with("https://"));
        let tls = if needs_tls {
            Some(
                client::tls_config(settings.ca_file.as_deref())
                    .map_err(|e| ConfigError::new(format!("[plugins.st2] `ca_file`: {e}")))?,
            )
        } else {
            None
        };
        let client = client::St2Client::new(settings.endpoints.clone(), tls)
            .map_err(|e| ConfigError::new(format!("[plugins.st2]: {e}")))?;
        let auth = Arc::new(auth::BotAuth::new(
            client.clone(),
            settings.auth.clone(),
            settings.token_ttl,
            settings.renew_before,
        ));
        let sessions = matches!(settings.rbac, config::RbacMode::Clientside).then(|| {
            let bot = auth.clone();
            let bot_credential: sessions::BotCredentialFn = Arc::new(move |now| {
                let bot = bot.clone();
                Box::pin(async move { bot.credential(now).await })
            });
            sessions::Sessions::new(settings.sessions.clone(), client.clone(), None)
                .with_bot_credential(bot_credential)
                .with_command_word(&settings.prefix)
        });
        Ok(Self {
            core: Arc::new(Core {
                settings,
                client,
                auth,
                sessions,
                aliases: aliases::AliasCache::default(),
                status: status::Status::default(),
            }),
        })
    }

    /// The validated settings.
    pub fn settings(&self) -> &Settings {
        &self.core.settings
    }

    fn app(&self, ctx: PluginContext) -> App {
        App {
            core: self.core.clone(),
            ctx,
        }
    }

    /// The commands, bound to a context made when the bot starts.
    fn specs(&self) -> Vec<CommandSpec> {
        let core = self.core.clone();
        let prefix = core.settings.prefix.clone();
        let run_core = core.clone();
        let run = CommandSpec::raw(
            &prefix,
            "Run a StackStorm action-alias: !st2 <command> (see !st2help)",
            move |ctx, _args| {
                let app = App {
                    core: run_core.clone(),
                    ctx: ctx.plugin().clone(),
                };
                execute::run(app, ctx)
            },
        )
        .raw_text();
        let help_core = core.clone();
        let help = CommandSpec::from_fn(move |args: help::HelpArgs, ctx| {
            let app = App {
                core: help_core.clone(),
                ctx: ctx.plugin().clone(),
            };
            help::run(app, ctx, args)
        });
        let help_word = help.clone().named(&format!("{prefix} help"));
        let help = help.named(&format!("{prefix}help"));
        let status_core = core.clone();
        let status = CommandSpec::raw(
            &format!("{prefix} status"),
            "StackStorm reachability, auth mode, stream state, cached aliases",
            move |ctx, _args| {
                let app = App {
                    core: status_core.clone(),
                    ctx: ctx.plugin().clone(),
                };
                status::command(app, ctx)
            },
        );
        let mut specs = vec![run, help, help_word, status];
        if let Some(sessions) = &core.sessions {
            specs.extend(sessions.command_specs());
        }
        specs
    }
}

#[async_trait]
impl Plugin for St2Plugin {
    fn manifest(&self) -> Manifest {
        self.specs().into_iter().fold(
            Manifest::new(NAME, env!("CARGO_PKG_VERSION"))
                .description("StackStorm action-aliases from chat"),
            Manifest::command_spec,
        )
    }

    async fn start(&self, ctx: PluginContext) -> Result<(), PluginError> {
        let core = &self.core;
        ctx.register_metric(
            "executions",
            "!st2 executions by outcome",
            core.status.executions.clone(),
        );
        ctx.register_metric(
            "stream_reconnects",
            "StackStorm stream reconnections",
            core.status.reconnects.clone(),
        );
        tracing::info!(
            api = %core.settings.endpoints.api,
            auth = core.auth.mode(),
            rbac = core.settings.rbac.name(),
            route = %core.settings.route,
            "st2 plugin starting"
        );
        let app = self.app(ctx.clone());

        // Check the credential (and validate a configured token) without delaying start-up.
        let check = app.clone();
        ctx.spawn(async move {
            if let Some(problem) = check.core.auth.check(check.ctx.now()).await {
                tracing::error!(problem = %problem, "StackStorm credential check failed");
                let _ = check.ctx.notify_admins(problem);
            }
            help::refresh_aliases(&check).await;
        });

        let stream_app = app.clone();
        ctx.spawn(stream::run(stream_app));

        let refresh = app.clone();
        ctx.every("aliases", core.settings.alias_refresh, move || {
            let app = refresh.clone();
            async move { help::refresh_aliases(&app).await }
        });
        let watch = app.clone();
        let period = (core.settings.renew_before / 4).max(std::time::Duration::from_secs(60));
        ctx.every("token-expiry", period, move || {
            let app = watch.clone();
            async move {
                if let Some(warning) = app.core.auth.expiry_warning(app.ctx.now()) {
                    tracing::warn!("{warning}");
                    let _ = app.ctx.notify_admins(warning);
                }
            }
        });
        Ok(())
    }

    fn root_routes(&self, ctx: PluginContext) -> Vec<(String, axum::routing::MethodRouter)> {
        webhook::errbot_root_route(self.app(ctx))
            .into_iter()
            .collect()
    }

    fn routes(&self, ctx: PluginContext) -> Option<axum::Router> {
        let login = self.core.sessions.as_ref().map(|s| s.router(ctx.clone()));
        let hook = webhook::router(self.app(ctx));
        match (login, hook) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (a, b) => a.or(b),
        }
    }
}
