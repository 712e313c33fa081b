//! Built-in commands: `help`, `about`, `status`, `whoami` and `plugins`.

use std::collections::BTreeMap;

use crate::acl::{Caller, Decision};
use crate::context::Ctx;
use crate::error::{CommandError, CommandResult};
use crate::markup::Markup;
use crate::message::{Card, Level, Reply};
use crate::plugin::{Access, CommandSpec, Manifest, Plugin};
use crate::runtime::CORE_PLUGIN;

/// The plugin that carries the built-in commands.
pub(crate) struct CorePlugin;

/// Show the commands you can run, or one command's full help.
#[derive(clap::Parser)]
#[command(name = "help")]
struct Help {
    /// A command (`incident declare`) or a plugin name.
    topic: Vec<String>,
}

/// About this bot.
#[derive(clap::Parser)]
#[command(name = "about")]
struct About;

/// Version, uptime, chat connections and plugins.
#[derive(clap::Parser)]
#[command(name = "status")]
struct Status;

/// Who the bot thinks you are.
#[derive(clap::Parser)]
#[command(name = "whoami")]
struct Whoami;

/// List, enable or disable plugins (bot admins only).
#[derive(clap::Parser)]
#[command(name = "plugins")]
struct Plugins {
    #[command(subcommand)]
    action: Option<PluginsAction>,
}

#[derive(clap::Subcommand)]
enum PluginsAction {
    /// List the plugins and whether they are enabled.
    List,
    /// Enable a plugin (persists across restarts).
    Enable {
        /// The plugin.
        name: String,
    },
    /// Disable a plugin: its commands, matchers and routes stop answering (persists).
    Disable {
        /// The plugin.
        name: String,
    },
}

impl Plugin for CorePlugin {
    fn manifest(&self) -> Manifest {
        Manifest::new(CORE_PLUGIN, env!("CARGO_PKG_VERSION"))
            .description("Built-in commands")
            .command_spec(CommandSpec::from_fn(|a: Help, ctx: Ctx| async move {
                help(a, &ctx)
            }))
            .command_spec(CommandSpec::from_fn(|_: About, ctx: Ctx| async move {
                about(&ctx)
            }))
            .command_spec(CommandSpec::from_fn(|_: Status, ctx: Ctx| async move {
                status(&ctx)
            }))
            .command_spec(CommandSpec::from_fn(|_: Whoami, ctx: Ctx| async move {
                whoami(&ctx)
            }))
            .command_spec(
                CommandSpec::from_fn(|a: Plugins, ctx: Ctx| async move { plugins(a, &ctx).await })
                    .access(Access::Admins),
            )
    }
}

fn allowed(ctx: &Ctx, name: &str, access: Access) -> bool {
    ctx.shared.acl.check(
        name,
        access,
        Caller {
            user: &ctx.caller.id,
            room: &ctx.room,
            direct: ctx.direct,
        },
    ) == Decision::Allow
}

fn help(args: Help, ctx: &Ctx) -> CommandResult {
    let shared = &ctx.shared;
    let prefix = &shared.config.prefix;
    if !args.topic.is_empty() {
        let words: Vec<String> = args
            .topic
            .iter()
            .map(|w| w.trim_start_matches(prefix.as_str()).to_owned())
            .collect();
        if let Some((entry, used)) = shared.commands.lookup(&words)
            && used == words.len()
            && allowed(ctx, &entry.spec.name, entry.spec.access)
        {
            let mut text = Markup::new()
                .bold(format!("{prefix}{}", entry.spec.name))
                .text(format!(" (plugin {})", entry.plugin));
            if !shared.is_enabled(&entry.plugin) {
                text = text.text(" — disabled");
            }
            return Ok(Reply::markup(
                text.code_block(None, entry.spec.help.trim_end().to_owned()),
            ));
        }
        let topic = words.join(" ");
        if shared.plugins.iter().any(|p| *p.name == *topic) {
            return Ok(Reply::markup(command_list(ctx, Some(&topic))));
        }
        return Err(CommandError::user(format!(
            "There is no command or plugin `{topic}` that you can run."
        ))
        .with_hint(format!("type `{prefix}help` for the list")));
    }
    Ok(Reply::markup(command_list(ctx, None)))
}

fn command_list(ctx: &Ctx, only: Option<&str>) -> Markup {
    let shared = &ctx.shared;
    let prefix = &shared.config.prefix;
    let mut by_plugin: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for entry in shared.commands.by_name.values() {
        if entry.spec.hidden
            || !shared.is_enabled(&entry.plugin)
            || only.is_some_and(|p| p != &*entry.plugin)
            || !allowed(ctx, &entry.spec.name, entry.spec.access)
        {
            continue;
        }
        by_plugin
            .entry(&entry.plugin)
            .or_default()
            .push((&entry.spec.name, &entry.spec.about));
    }
    let mut text = Markup::new().text(format!("Commands you can run (prefix {prefix}):"));
    // Built-ins first, then plugins by name.
    let mut order: Vec<&str> = by_plugin.keys().copied().collect();
    order.sort_by_key(|p| (*p != CORE_PLUGIN, *p));
    for plugin in order {
        let mut commands = by_plugin.remove(plugin).unwrap_or_default();
        commands.sort();
        let items: Vec<Markup> = commands
            .into_iter()
            .map(|(name, about)| {
                let m = Markup::new().code(format!("{prefix}{name}"));
                if about.is_empty() {
                    m
                } else {
                    m.text(format!(" — {about}"))
                }
            })
            .collect();
        text = text
            .line()
            .bold(plugin.to_owned())
            .push(crate::markup::Span::List {
                ordered: false,
                items,
            });
    }
    text.text(format!("Type {prefix}help <command> for details."))
}

fn about(ctx: &Ctx) -> CommandResult {
    let shared = &ctx.shared;
    Ok(Reply::markup(
        Markup::new()
            .bold(format!("ferrbot {}", shared.app_version))
            .text(" — a chat-ops bot: incidents, alerts and automation from chat, on Slack, Discord, Matrix and the console. ")
            .text(format!("Type {}help to see what I can do.", shared.config.prefix)),
    ))
}

fn format_uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn status(ctx: &Ctx) -> CommandResult {
    let shared = &ctx.shared;
    let states = shared
        .states
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let backends: Vec<String> = states
        .iter()
        .map(|(name, state)| match state {
            crate::backend::ConnectionState::Connecting => format!("{name}: connecting"),
            crate::backend::ConnectionState::Connected => format!("{name}: connected"),
            crate::backend::ConnectionState::Disconnected { reason } => {
                format!("{name}: disconnected ({reason})")
            }
            crate::backend::ConnectionState::Stopped => format!("{name}: stopped"),
        })
        .collect();
    let plugins: Vec<String> = shared
        .plugins
        .iter()
        .map(|p| {
            let state = if shared.is_enabled(&p.name) {
                ""
            } else {
                " (disabled)"
            };
            format!("{} {}{state}", p.name, p.version)
        })
        .collect();
    let all_connected = states
        .values()
        .all(|s| matches!(s, crate::backend::ConnectionState::Connected));
    let card = Card::new(format!("ferrbot {}", shared.app_version))
        .level(if all_connected {
            Level::Success
        } else {
            Level::Warning
        })
        .inline_field("Uptime", format_uptime(shared.started.elapsed().as_secs()))
        .inline_field("Commands", shared.commands.by_name.len().to_string())
        .field("Backends", backends.join(", "))
        .field("Plugins", plugins.join(", "));
    Ok(Reply::card(card))
}

fn whoami(ctx: &Ctx) -> CommandResult {
    let mut text = Markup::new()
        .text("You are ")
        .bold(ctx.caller.display_name.clone())
        .text(" (")
        .code(ctx.caller.id.to_string())
        .text(")");
    if ctx.direct {
        text = text
            .text(", in a direct conversation (")
            .code(ctx.room.to_string())
            .text(")");
    } else {
        text = text.text(", in room ").code(ctx.room.to_string());
    }
    if let Some(thread) = &ctx.thread {
        text = text.text(", thread ").code(thread.local().to_owned());
    }
    text = text.text(if ctx.admin {
        ". You are a bot admin."
    } else {
        ". You are not a bot admin."
    });
    Ok(Reply::markup(text))
}

async fn plugins(args: Plugins, ctx: &Ctx) -> CommandResult {
    let shared = &ctx.shared;
    let known = |name: &str| shared.plugins.iter().any(|p| &*p.name == name);
    match args.action.unwrap_or(PluginsAction::List) {
        PluginsAction::List => {
            let items: Vec<Markup> = shared
                .plugins
                .iter()
                .map(|p| {
                    let m = Markup::new()
                        .code(p.name.to_string())
                        .text(format!(" {}", p.version));
                    let m = if p.description.is_empty() {
                        m
                    } else {
                        m.text(format!(" — {}", p.description))
                    };
                    if shared.is_enabled(&p.name) {
                        m.text(" (enabled)")
                    } else {
                        m.text(" (disabled)")
                    }
                })
                .collect();
            Ok(Reply::markup(Markup::new().text("Plugins:").push(
                crate::markup::Span::List {
                    ordered: false,
                    items,
                },
            )))
        }
        PluginsAction::Enable { name } | PluginsAction::Disable { name } if !known(&name) => {
            let names: Vec<&str> = shared.plugins.iter().map(|p| &*p.name).collect();
            Err(CommandError::user(format!("There is no plugin `{name}`."))
                .with_hint(format!("plugins: {}", names.join(", "))))
        }
        PluginsAction::Enable { name } => {
            if shared.is_enabled(&name) {
                return Ok(Reply::text(format!("Plugin `{name}` is already enabled.")));
            }
            shared.set_enabled(&name, true).await?;
            tracing::info!(plugin = %name, by = %ctx.caller.id, "plugin enabled");
            Ok(Reply::text(format!("Plugin `{name}` is enabled.")))
        }
        PluginsAction::Disable { name } => {
            if name == CORE_PLUGIN {
                return Err(CommandError::user(
                    "The built-in commands cannot be disabled.",
                ));
            }
            if !shared.is_enabled(&name) {
                return Ok(Reply::text(format!("Plugin `{name}` is already disabled.")));
            }
            shared.set_enabled(&name, false).await?;
            tracing::info!(plugin = %name, by = %ctx.caller.id, "plugin disabled");
            Ok(Reply::text(format!(
                "Plugin `{name}` is disabled; it stays disabled after a restart."
            )))
        }
    }
}
