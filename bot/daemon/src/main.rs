//! `ferrbot`: the daemon. Reads the config, builds the backends and plugins it enables from
//! the registry, runs the bot, and shuts down gracefully on SIGINT/SIGTERM.

mod config;
mod secrets_cmd;
mod st2_cmd;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ferrbot::Bot;
use ferrbot::registry::{BackendSetup, PluginSetup, Registry};
use ferrbot::store::Store;
use tokio_util::sync::CancellationToken;

use crate::config::{FileConfig, LogFormat};

/// ferrbot: a chat-ops bot for Slack, Discord, Matrix and the console.
#[derive(Parser)]
#[command(name = "ferrbot", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bot (with no config: the console, SQLite in the data directory, built-ins).
    Run(RunArgs),
    /// Check a config file: exit 0 when valid, else print each problem with file, line and key.
    CheckConfig {
        /// The file.
        file: PathBuf,
    },
    /// Read and write the configured secrets store (values never on the command line).
    Secrets(secrets_cmd::SecretsArgs),
    /// StackStorm tools: `alias-test` checks an action-alias format against a command offline.
    St2(st2_cmd::St2Args),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The config file (TOML). Also `FERRBOT_CONFIG`.
    #[arg(long, short, env = "FERRBOT_CONFIG")]
    config: Option<PathBuf>,
    /// The console user you are (default `$USER`).
    #[arg(long)]
    user: Option<String>,
    /// Where the SQLite database lives when `[storage] url` is not set.
    #[arg(long, env = "FERRBOT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Log format (default: the config's, else text).
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Log level or filter, e.g. `debug` or `ferrbot=trace,warn` (also `FERRBOT_LOG`).
    #[arg(long)]
    log_level: Option<String>,
}

/// The backends and plugins this build knows.
fn registry() -> Registry {
    Registry::new()
        .backend("console", |setup: BackendSetup| {
            let backend = ferrbot_backend_console::ConsoleBackend::from_setup(&setup)?;
            Ok(Arc::new(backend) as Arc<dyn ferrbot::Backend>)
        })
        .backend("discord", |setup: BackendSetup| {
            let backend = ferrbot_backend_discord::DiscordBackend::from_setup(&setup)?;
            Ok(Arc::new(backend) as Arc<dyn ferrbot::Backend>)
        })
        .backend("matrix", |setup: BackendSetup| {
            let backend = ferrbot_backend_matrix::MatrixBackend::from_setup(&setup)?;
            Ok(Arc::new(backend) as Arc<dyn ferrbot::Backend>)
        })
        .backend("slack", |setup: BackendSetup| {
            let backend = ferrbot_backend_slack::SlackBackend::from_setup(&setup)?;
            Ok(Arc::new(backend) as Arc<dyn ferrbot::Backend>)
        })
        .plugin("sentry", |setup: PluginSetup| {
            let plugin = ferrbot_plugin_sentry::SentryPlugin::from_config(setup.config)?;
            Ok(Arc::new(plugin) as Arc<dyn ferrbot::Plugin>)
        })
        .plugin("st2", |setup: PluginSetup| {
            let plugin = ferrbot_plugin_st2::St2Plugin::from_config(setup.config)?;
            Ok(Arc::new(plugin) as Arc<dyn ferrbot::Plugin>)
        })
        .plugin("incident", |setup: PluginSetup| {
            let plugin = ferrbot_plugin_incident::IncidentPlugin::from_config(setup.config)?;
            Ok(Arc::new(plugin) as Arc<dyn ferrbot::Plugin>)
        })
}

fn init_logging(format: LogFormat, filter: &str) {
    let filter = std::env::var("FERRBOT_LOG").unwrap_or_else(|_| filter.to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

async fn check_config(file: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("{}: cannot read: {err}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let scratch = match Store::memory().await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("ferrbot: cannot open a scratch store: {err}");
            return ExitCode::FAILURE;
        }
    };
    let problems = config::check(&file.display().to_string(), &text, &registry(), &scratch);
    if problems.is_empty() {
        println!("{}: ok", file.display());
        ExitCode::SUCCESS
    } else {
        for problem in &problems {
            eprintln!("{problem}");
        }
        eprintln!("{}: {} problem(s)", file.display(), problems.len());
        ExitCode::FAILURE
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let registry = registry();
    let mut config: FileConfig = match config::load(args.config.as_deref(), &registry).await {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("{problems}");
            anyhow::bail!("the configuration is not valid");
        }
    };
    let only_console = config.backends.is_empty()
        || config.backends.iter().all(|(name, v)| {
            config::section(name, v).is_ok_and(|s| s.kind == "console" || !s.enabled)
        });
    if args.config.is_none() {
        // The embedded default: a local console session, nothing listening on the network.
        config.web.enabled = false;
    }
    let format = args
        .log_format
        .or(config.log.format)
        .unwrap_or(LogFormat::Text);
    let default_level = if only_console && args.config.is_none() {
        "warn"
    } else {
        "info"
    };
    let level = args
        .log_level
        .clone()
        .or_else(|| config.log.level.clone())
        .unwrap_or_else(|| default_level.to_owned());
    init_logging(format, &level);

    if config.backends.is_empty() {
        config
            .backends
            .insert("console".to_owned(), toml::Value::Table(toml::Table::new()));
    }
    if let Some(user) = &args.user
        && let Some(toml::Value::Table(console)) = config.backends.get_mut("console")
    {
        console.insert("user".to_owned(), toml::Value::String(user.clone()));
    }

    let data_dir = config::data_dir(args.data_dir.as_deref());
    let secrets = open_secrets(config.secrets.as_ref(), &data_dir).await?;
    let mut resolved = 0;
    for (kind, sections) in [
        ("backends", &mut config.backends),
        ("plugins", &mut config.plugins),
    ] {
        for (name, value) in sections.iter_mut() {
            resolved += config::resolve_secrets(value, &*secrets)
                .await
                .map_err(|e| anyhow::anyhow!("[{kind}.{name}] {e}"))?;
        }
    }
    if let Some(url) = &config.storage.url
        && url.starts_with("secret:")
    {
        let value = ferrbot_secrets::resolve_reference(url, &*secrets)
            .await
            .map_err(|e| anyhow::anyhow!("[storage] url: {e}"))?;
        config.storage.url = value.expose_str().map(str::to_owned);
        resolved += 1;
    }
    if resolved > 0 {
        tracing::info!(
            count = resolved,
            store = secrets.kind(),
            "resolved secret references"
        );
    }

    let url = match &config.storage.url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", data_dir.join("ferrbot.db").display()),
    };
    let store = Store::open(&url).await.context("opening storage")?;
    tracing::info!(storage = %ferrbot::store::redact_url(&url), "storage ready");

    let mut builder = Bot::builder(config.bot.clone())
        .web(config.web.clone())
        .outbox(config.outbox.clone())
        .store(store.clone())
        .secrets(secrets)
        .app_version(env!("CARGO_PKG_VERSION"));
    for (name, value) in &config.backends {
        let section =
            config::section(name, value).map_err(|e| anyhow::anyhow!("[backends.{name}]: {e}"))?;
        if !section.enabled {
            continue;
        }
        let backend = registry
            .build_backend(
                &section.kind,
                BackendSetup {
                    name: name.clone(),
                    config: section.config,
                    prefix: config.bot.prefix.clone(),
                    store: store.kv(&format!("backend/{name}")),
                },
            )
            .map_err(|e| anyhow::anyhow!("[backends.{name}]: {e}"))?;
        builder = builder.backend(backend);
    }
    for (name, value) in &config.plugins {
        let section =
            config::section(name, value).map_err(|e| anyhow::anyhow!("[plugins.{name}]: {e}"))?;
        if !section.enabled {
            continue;
        }
        let plugin = registry
            .build_plugin(
                &section.kind,
                PluginSetup {
                    config: section.config.clone(),
                },
            )
            .map_err(|e| anyhow::anyhow!("[plugins.{name}]: {e}"))?;
        builder = builder.plugin(plugin, section.config);
    }
    let bot = builder.build().await.context("starting the bot")?;
    if let Some(addr) = bot.web_addr() {
        tracing::info!(%addr, "web server listening");
    }

    let stop = CancellationToken::new();
    tokio::spawn(watch_signals(stop.clone()));
    bot.run(stop).await.context("running the bot")?;
    Ok(())
}

/// Opens the configured secrets store; without `[secrets]`, the encrypted file in the data
/// directory when `FERRBOT_SECRETS_KEY` is set, else an in-memory store.
pub(crate) async fn open_secrets(
    config: Option<&ferrbot_secrets::SecretsConfig>,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn ferrbot_secrets::SecretStore>> {
    let config = match config {
        Some(config) => config.clone(),
        None if std::env::var_os("FERRBOT_SECRETS_KEY").is_some() => {
            ferrbot_secrets::SecretsConfig::default_file(data_dir)
        }
        None => {
            tracing::info!(
                "no [secrets] store configured: plugins' secrets and users' credentials live in memory until restart"
            );
            ferrbot_secrets::SecretsConfig::memory()
        }
    };
    let store = ferrbot_secrets::open_store(&config)
        .await
        .with_context(|| format!("opening the {} secrets store", config.kind()))?;
    Ok(store)
}

async fn watch_signals(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
        _ = int.recv() => tracing::info!("SIGINT received; shutting down"),
    }
    stop.cancel();
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::warn!("second signal: exiting without waiting");
    std::process::exit(130);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("ferrbot: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Cmd::CheckConfig { file } => runtime.block_on(check_config(&file)),
        Cmd::St2(args) => st2_cmd::run(args),
        Cmd::Secrets(args) => {
            let result = runtime.block_on(secrets_cmd::run(args, &registry()));
            runtime.shutdown_timeout(std::time::Duration::from_millis(500));
            match result {
                Ok(code) => code,
                Err(err) => {
                    eprintln!("ferrbot: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Run(args) => {
            let result = runtime.block_on(run(args));
            // A blocking stdin read may still be pending; do not wait for it.
            runtime.shutdown_timeout(std::time::Duration::from_millis(500));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("ferrbot: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
