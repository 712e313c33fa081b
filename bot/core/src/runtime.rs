//! The running bot: builds the command table from plugin manifests, starts backends, plugins
//! and the web server, dispatches events, and shuts down gracefully.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acl::Acl;
use crate::backend::{Backend, BackendEvent, Capabilities, ConnectionState, Envelope, Inbox};
use crate::clock::{Clock, SystemClock};
use crate::config::{BotConfig, OutboxConfig, WebConfig};
use crate::context::PluginContext;
use crate::error::StartError;
use crate::id::Target;
use crate::message::OutgoingMessage;
use crate::metrics::Metrics;
use crate::outbox::{Outbox, Receipt, SendError};
use crate::plugin::{CommandSpec, MatcherSpec, Plugin};
use crate::scheduler::Scheduler;
use crate::store::{KvStore, Store};

/// The name of the built-in plugin (help, about, status, whoami, plugins).
pub const CORE_PLUGIN: &str = "core";

pub(crate) struct BackendSlot {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) outbox: Outbox,
    pub(crate) capabilities: Capabilities,
}

pub(crate) struct CommandEntry {
    pub(crate) spec: CommandSpec,
    pub(crate) plugin: Arc<str>,
}

/// Commands by name, for longest-match lookup.
pub(crate) struct CommandTable {
    pub(crate) by_name: HashMap<String, CommandEntry>,
    max_words: usize,
}

impl CommandTable {
    fn new() -> Self {
        Self {
            by_name: HashMap::new(),
            max_words: 1,
        }
    }

    fn insert(&mut self, plugin: &Arc<str>, spec: CommandSpec) -> Result<(), StartError> {
        if let Some(existing) = self.by_name.get(&spec.name) {
            return Err(StartError::DuplicateCommand {
                command: spec.name.clone(),
                first: existing.plugin.to_string(),
                second: plugin.to_string(),
            });
        }
        self.max_words = self.max_words.max(spec.name.split(' ').count());
        self.by_name.insert(
            spec.name.clone(),
            CommandEntry {
                spec,
                plugin: plugin.clone(),
            },
        );
        Ok(())
    }

    /// Finds the longest command that the words start with; returns it and how many words
    /// its name used.
    pub(crate) fn lookup(&self, words: &[String]) -> Option<(&CommandEntry, usize)> {
        let n = words.len().min(self.max_words);
        let mut key = String::new();
        let mut found = None;
        for (i, word) in words.iter().take(n).enumerate() {
            if i > 0 {
                key.push(' ');
            }
            key.push_str(&word.to_lowercase());
            if let Some(entry) = self.by_name.get(&key) {
                found = Some((entry, i + 1));
            }
        }
        found
    }
}

pub(crate) struct PluginEntry {
    pub(crate) name: Arc<str>,
    pub(crate) secrets: ferrbot_secrets::PluginSecrets,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) plugin: Arc<dyn Plugin>,
    pub(crate) matchers: Vec<(MatcherSpec, regex::Regex)>,
}

/// State shared by the dispatcher, the contexts and the web server.
pub(crate) struct Shared {
    pub(crate) config: BotConfig,
    pub(crate) acl: Acl,
    pub(crate) store: Store,
    pub(crate) secrets: Arc<dyn ferrbot_secrets::SecretStore>,
    pub(crate) metrics: Metrics,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) scheduler: Scheduler,
    pub(crate) backends: HashMap<String, BackendSlot>,
    pub(crate) states: RwLock<BTreeMap<String, ConnectionState>>,
    pub(crate) commands: CommandTable,
    pub(crate) plugins: Vec<PluginEntry>,
    pub(crate) plugin_config: HashMap<String, toml::Value>,
    pub(crate) disabled: RwLock<HashSet<String>>,
    pub(crate) started: Instant,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) app_version: String,
}

const DISABLED_KEY: &str = "plugins/disabled";

impl Shared {
    pub(crate) fn core_kv(&self) -> KvStore {
        self.store.kv("core")
    }

    pub(crate) fn send(&self, target: Target, message: OutgoingMessage) -> Receipt {
        match self.backends.get(target.backend()) {
            Some(slot) => slot.outbox.enqueue(target, message),
            None => Receipt::failed(SendError::UnknownBackend(target.backend().to_owned())),
        }
    }

    pub(crate) fn is_enabled(&self, plugin: &str) -> bool {
        !self
            .disabled
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(plugin)
    }

    pub(crate) async fn set_enabled(
        &self,
        plugin: &str,
        enabled: bool,
    ) -> Result<(), crate::store::StoreError> {
        let snapshot: Vec<String> = {
            let mut disabled = self
                .disabled
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if enabled {
                disabled.remove(plugin);
            } else {
                disabled.insert(plugin.to_owned());
            }
            let mut list: Vec<String> = disabled.iter().cloned().collect();
            list.sort();
            list
        };
        self.core_kv().set(DISABLED_KEY, &snapshot).await
    }

    pub(crate) fn context(self: &Arc<Self>, plugin: &Arc<str>) -> PluginContext {
        PluginContext {
            plugin: plugin.clone(),
            shared: self.clone(),
        }
    }
}

/// Builds a [`Bot`].
pub struct BotBuilder {
    config: BotConfig,
    web: WebConfig,
    outbox: OutboxConfig,
    store: Option<Store>,
    secrets: Option<Arc<dyn ferrbot_secrets::SecretStore>>,
    backends: Vec<Arc<dyn Backend>>,
    plugins: Vec<(Arc<dyn Plugin>, toml::Value)>,
    clock: Arc<dyn Clock>,
    timers: bool,
    app_version: String,
}

impl BotBuilder {
    /// Sets `[web]` (the web server is off unless set).
    pub fn web(mut self, web: WebConfig) -> Self {
        self.web = web;
        self
    }

    /// Sets `[outbox]`.
    pub fn outbox(mut self, outbox: OutboxConfig) -> Self {
        self.outbox = outbox;
        self
    }

    /// Uses this store (an in-memory SQLite store otherwise).
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Uses this secrets store for plugins' secrets and per-user credentials (an in-memory
    /// store, lost on restart, otherwise).
    pub fn secrets(mut self, store: Arc<dyn ferrbot_secrets::SecretStore>) -> Self {
        self.secrets = Some(store);
        self
    }

    /// Adds a backend.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backends.push(backend);
        self
    }

    /// Adds a plugin with its config section.
    pub fn plugin(mut self, plugin: Arc<dyn Plugin>, config: toml::Value) -> Self {
        self.plugins.push((plugin, config));
        self
    }

    /// Uses this clock (tests use a manual one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs scheduled jobs on timers (the default) or only on demand (tests).
    pub fn timers(mut self, on: bool) -> Self {
        self.timers = on;
        self
    }

    /// The version shown by `about` and `status` (the daemon's, by default the core's).
    pub fn app_version(mut self, version: &str) -> Self {
        self.app_version = version.to_owned();
        self
    }

    /// Builds the command table, opens storage and binds the web server.
    ///
    /// # Errors
    /// On duplicate commands or names, invalid patterns, storage or listen failures.
    pub async fn build(self) -> Result<Bot, StartError> {
        let store = match self.store {
            Some(store) => store,
            None => Store::memory().await?,
        };
        let secrets: Arc<dyn ferrbot_secrets::SecretStore> = match self.secrets {
            Some(secrets) => secrets,
            None => Arc::new(ferrbot_secrets::MemoryStore::new()),
        };
        let acl = Acl::new(&self.config)?;
        let metrics = Metrics::new();
        let shutdown = CancellationToken::new();
        let scheduler = Scheduler::new(shutdown.clone(), self.timers);

        let mut backends = HashMap::new();
        let mut states = BTreeMap::new();
        for backend in self.backends {
            let name = backend.name().to_owned();
            if backends.contains_key(&name) {
                return Err(StartError::DuplicateName {
                    what: "backends",
                    name,
                });
            }
            let capabilities = backend.capabilities();
            let outbox = Outbox::new(backend.clone(), self.outbox.retry.clone(), metrics.clone());
            states.insert(name.clone(), ConnectionState::Connecting);
            backends.insert(
                name,
                BackendSlot {
                    backend,
                    outbox,
                    capabilities,
                },
            );
        }

        let mut commands = CommandTable::new();
        let mut plugins = Vec::new();
        let mut plugin_config = HashMap::new();
        let builtin: Arc<dyn Plugin> = Arc::new(crate::builtins::CorePlugin);
        let all =
            std::iter::once((builtin, toml::Value::Table(toml::Table::new()))).chain(self.plugins);
        for (plugin, config) in all {
            let manifest = plugin.manifest();
            let name: Arc<str> = manifest.name.as_str().into();
            if plugins.iter().any(|p: &PluginEntry| p.name == name) {
                return Err(StartError::DuplicateName {
                    what: "plugins",
                    name: name.to_string(),
                });
            }
            for spec in manifest.commands {
                commands.insert(&name, spec)?;
            }
            let mut matchers = Vec::new();
            for matcher in manifest.matchers {
                match &matcher.regex {
                    Ok(regex) => {
                        let regex = regex.clone();
                        matchers.push((matcher, regex));
                    }
                    Err(problem) => {
                        let (pattern, reason) =
                            problem.split_once('\u{0}').unwrap_or((problem, ""));
                        return Err(StartError::Pattern {
                            pattern: pattern.to_owned(),
                            reason: reason.to_owned(),
                        });
                    }
                }
            }
            plugin_config.insert(name.to_string(), config);
            let plugin_secrets = ferrbot_secrets::PluginSecrets::new(secrets.clone(), &name)
                .map_err(|e| StartError::Plugin {
                    plugin: name.to_string(),
                    reason: format!("its name cannot name a secrets namespace: {e}"),
                })?;
            plugins.push(PluginEntry {
                secrets: plugin_secrets,
                name,
                version: manifest.version,
                description: manifest.description,
                plugin,
                matchers,
            });
        }

        let disabled: Vec<String> = store
            .kv("core")
            .get(DISABLED_KEY)
            .await?
            .unwrap_or_default();

        let listener = if self.web.enabled {
            let listener = tokio::net::TcpListener::bind(self.web.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: self.web.listen.to_string(),
                    source,
                })?;
            Some(listener)
        } else {
            None
        };

        let shared = Arc::new(Shared {
            config: self.config,
            acl,
            store,
            secrets,
            metrics,
            clock: self.clock,
            scheduler,
            backends,
            states: RwLock::new(states),
            commands,
            plugins,
            plugin_config,
            disabled: RwLock::new(disabled.into_iter().collect()),
            started: Instant::now(),
            shutdown,
            tasks: TaskTracker::new(),
            app_version: self.app_version,
        });
        Ok(Bot {
            shared,
            web: self.web,
            listener,
            flush_timeout: self.outbox.flush_timeout,
        })
    }
}

/// A built bot, ready to run.
pub struct Bot {
    pub(crate) shared: Arc<Shared>,
    web: WebConfig,
    listener: Option<tokio::net::TcpListener>,
    flush_timeout: Duration,
}

impl Bot {
    /// Starts building a bot with the `[bot]` settings.
    pub fn builder(config: BotConfig) -> BotBuilder {
        BotBuilder {
            config,
            web: WebConfig {
                enabled: false,
                ..WebConfig::default()
            },
            outbox: OutboxConfig::default(),
            store: None,
            secrets: None,
            backends: Vec::new(),
            plugins: Vec::new(),
            clock: Arc::new(SystemClock),
            timers: true,
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// The web server's address, when it is enabled.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// A handle for plugin-like access from outside (tests, the daemon).
    pub fn context(&self, plugin: &str) -> PluginContext {
        self.shared.context(&Arc::from(plugin))
    }

    /// Runs until `stop` is cancelled or every backend's input ends, then shuts down
    /// gracefully: stops taking new work, finishes in-flight commands, flushes the outbound
    /// queues, and returns.
    ///
    /// # Errors
    /// When a plugin fails to start.
    pub async fn run(self, stop: CancellationToken) -> Result<(), StartError> {
        let shared = self.shared;
        let (tx, mut rx) = mpsc::channel::<Envelope>(shared.config.inbox_capacity.max(1));

        for entry in &shared.plugins {
            let ctx = shared.context(&entry.name);
            entry
                .plugin
                .start(ctx)
                .await
                .map_err(|e| StartError::Plugin {
                    plugin: entry.name.to_string(),
                    reason: e.0,
                })?;
        }

        let web_stop = CancellationToken::new();
        let web_task = self.listener.map(|listener| {
            let router = crate::web::router(&shared, &self.web);
            let web_stop = web_stop.clone();
            tokio::spawn(async move {
                // Handlers may extract `ConnectInfo<SocketAddr>`: the real TCP peer.
                let served = axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move { web_stop.cancelled().await })
                .await;
                if let Err(err) = served {
                    tracing::error!(error = %err, "web server failed");
                }
            })
        });

        let mut infos: Vec<crate::backend::CommandInfo> = shared
            .commands
            .by_name
            .values()
            .filter(|e| !e.spec.hidden)
            .map(|e| crate::backend::CommandInfo {
                name: e.spec.name.clone(),
                about: e.spec.about.clone(),
            })
            .collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        for slot in shared.backends.values() {
            slot.backend.set_commands(&infos);
        }

        let intake_stop = CancellationToken::new();
        let backend_tasks = TaskTracker::new();
        let mut live_inputs = shared.backends.len();
        for (name, slot) in &shared.backends {
            let inbox = Inbox::new(name.as_str().into(), tx.clone());
            let backend = slot.backend.clone();
            let token = intake_stop.clone();
            let name = name.clone();
            backend_tasks.spawn(async move {
                if let Err(err) = backend.run(inbox, token).await {
                    tracing::error!(backend = %name, error = %err, "backend stopped with an error");
                }
            });
        }
        // Kept until shutdown, so a bot without backends (webhooks only) keeps running.
        let keepalive = tx;

        let in_flight = TaskTracker::new();
        let permits = Arc::new(tokio::sync::Semaphore::new(
            shared.config.max_concurrent_commands.max(1),
        ));
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                envelope = rx.recv() => {
                    let Some(envelope) = envelope else { break };
                    if let BackendEvent::EndOfInput = envelope.event {
                        set_state(&shared, &envelope.backend, ConnectionState::Stopped);
                        live_inputs = live_inputs.saturating_sub(1);
                        if live_inputs == 0 {
                            tracing::info!("all inputs ended; shutting down");
                            break;
                        }
                        continue;
                    }
                    if let BackendEvent::Connection(state) = &envelope.event {
                        set_state(&shared, &envelope.backend, state.clone());
                        continue;
                    }
                    let permit = tokio::select! {
                        () = stop.cancelled() => {
                            in_flight.spawn(crate::dispatch::handle(shared.clone(), envelope));
                            break;
                        }
                        permit = permits.clone().acquire_owned() => permit,
                    };
                    let shared = shared.clone();
                    in_flight.spawn(async move {
                        crate::dispatch::handle(shared, envelope).await;
                        drop(permit);
                    });
                }
            }
        }

        tracing::info!("shutting down: no new work is taken");
        drop(keepalive);
        intake_stop.cancel();
        shared.shutdown.cancel();
        rx.close();
        while let Ok(envelope) = rx.try_recv() {
            if matches!(
                envelope.event,
                BackendEvent::Message(_) | BackendEvent::Command(_)
            ) {
                in_flight.spawn(crate::dispatch::handle(shared.clone(), envelope));
            }
        }
        in_flight.close();
        let grace = shared.config.command_timeout + Duration::from_secs(1);
        if tokio::time::timeout(grace, in_flight.wait()).await.is_err() {
            tracing::warn!("commands still running after the grace period; abandoning them");
        }
        shared.scheduler.stop().await;
        shared.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("plugin background tasks did not stop in time");
        }
        for (name, slot) in &shared.backends {
            if !slot.outbox.flush(self.flush_timeout).await {
                tracing::warn!(backend = %name, "outbound queue not fully flushed before the deadline");
            }
        }
        backend_tasks.close();
        if tokio::time::timeout(Duration::from_secs(5), backend_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("backends did not stop in time");
        }
        web_stop.cancel();
        if let Some(task) = web_task {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        shared.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

fn set_state(shared: &Shared, backend: &str, state: ConnectionState) {
    tracing::info!(backend, ?state, "backend connection state");
    shared
        .states
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(backend.to_owned(), state);
}
