//! The `!sentry …` chat commands: rooms (`channel authorize|revoke|list`), mentions
//! (`project register|revoke|list`), `status` and `help`.
//!
//! Each is its own multi-word command, so `!help sentry channel authorize` shows its full help
//! and `[[bot.acl]]` rules can name any of them.

use std::sync::Arc;

use ferrbot::backend::BackendError;
use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::id::RoomId;
use ferrbot::markup::Markup;
use ferrbot::message::{Card, Level, OutgoingMessage, Reply};
use ferrbot::plugin::CommandSpec;

use crate::Core;
use crate::config::is_slug;
use crate::mentions;
use crate::rooms::{self, Origin, Route};
use crate::stats;

/// Sentry alerts in chat: overview of the `sentry` commands.
#[derive(clap::Parser)]
#[command(name = "sentry")]
pub struct SentryRoot {
    /// A topic (`help`, `channel`, `project`); shows the overview.
    topic: Vec<String>,
}

/// Authorize a room to receive Sentry alerts; sends you its webhook URL privately.
///
/// The room's admins on the chat network, bot admins and the users listed in `authorizers`
/// may run it. The room defaults to the one
/// you type in; in a direct message, name it (`slack:C024BE91L`, or its id on your network).
/// The URL carries a secret token: it is sent only to you, never to the room. The bot keeps
/// only a digest of the token, so it cannot show the URL again — `--rotate` issues a new one
/// and the old one stops working at once.
#[derive(clap::Parser)]
#[command(name = "sentry channel authorize")]
pub struct ChannelAuthorize {
    /// The room (default: this room).
    room: Option<String>,
    /// Issue a new URL for a room that has one; the old URL stops working.
    #[arg(long)]
    rotate: bool,
}

/// Stop a room's Sentry alerts: its webhook URLs stop working at once.
///
/// The room's admins on the chat network, bot admins and the users listed in `authorizers`
/// may run it. Routes declared in config are
/// revoked too (until `sentry channel authorize` allows the room again).
#[derive(clap::Parser)]
#[command(name = "sentry channel revoke")]
pub struct ChannelRevoke {
    /// The room (default: this room).
    room: Option<String>,
}

/// List the rooms that receive Sentry alerts, and how.
#[derive(clap::Parser)]
#[command(name = "sentry channel list")]
pub struct ChannelList;

/// Be mentioned when these Sentry projects alert in this room.
///
/// Project slugs are the short names in Sentry's URLs (`front-end`, `payments-api`).
#[derive(clap::Parser)]
#[command(name = "sentry project register")]
pub struct ProjectRegister {
    /// Project slugs.
    #[arg(required = true)]
    projects: Vec<String>,
    /// The room (default: this room).
    #[arg(long)]
    room: Option<String>,
}

/// Stop being mentioned for these projects in this room (all of yours when none is named).
#[derive(clap::Parser)]
#[command(name = "sentry project revoke")]
pub struct ProjectRevoke {
    /// Project slugs (default: all of yours in the room).
    projects: Vec<String>,
    /// The room (default: this room).
    #[arg(long)]
    room: Option<String>,
}

/// List who is mentioned for which project in this room.
#[derive(clap::Parser)]
#[command(name = "sentry project list")]
pub struct ProjectList {
    /// The room (default: this room).
    #[arg(long)]
    room: Option<String>,
}

/// Routes, their last delivery and refused requests in the last hour.
#[derive(clap::Parser)]
#[command(name = "sentry status")]
pub struct Status;

/// The plugin's commands.
pub fn specs(core: &Arc<Core>) -> Vec<CommandSpec> {
    let c = core.clone();
    let root = CommandSpec::from_fn(move |a: SentryRoot, ctx: Ctx| {
        let c = c.clone();
        async move { overview(&c, &a, &ctx) }
    });
    let c = core.clone();
    let authorize = CommandSpec::from_fn(move |a: ChannelAuthorize, ctx: Ctx| {
        let c = c.clone();
        async move { channel_authorize(&c, a, &ctx).await }
    });
    let c = core.clone();
    let revoke = CommandSpec::from_fn(move |a: ChannelRevoke, ctx: Ctx| {
        let c = c.clone();
        async move { channel_revoke(&c, a, &ctx).await }
    });
    let c = core.clone();
    let list = CommandSpec::from_fn(move |_: ChannelList, ctx: Ctx| {
        let c = c.clone();
        async move { channel_list(&c, &ctx).await }
    });
    let c = core.clone();
    let register = CommandSpec::from_fn(move |a: ProjectRegister, ctx: Ctx| {
        let c = c.clone();
        async move { project_register(&c, a, &ctx).await }
    });
    let c = core.clone();
    let unregister = CommandSpec::from_fn(move |a: ProjectRevoke, ctx: Ctx| {
        let c = c.clone();
        async move { project_revoke(&c, a, &ctx).await }
    });
    let projects =
        CommandSpec::from_fn(|a: ProjectList, ctx: Ctx| async move { project_list(a, &ctx).await });
    let c = core.clone();
    let status = CommandSpec::from_fn(move |_: Status, ctx: Ctx| {
        let c = c.clone();
        async move { status(&c, &ctx).await }
    });
    vec![
        root, authorize, revoke, list, register, unregister, projects, status,
    ]
}

const COMMANDS: &[(&str, &str)] = &[
    (
        "sentry channel authorize [ROOM] [--rotate]",
        "let a room receive alerts; its webhook URL is sent to you privately",
    ),
    (
        "sentry channel revoke [ROOM]",
        "stop a room's alerts; its URLs stop working at once",
    ),
    ("sentry channel list", "the rooms that receive alerts"),
    (
        "sentry project register <SLUG>...",
        "be mentioned when a project alerts in this room",
    ),
    (
        "sentry project revoke [SLUG]...",
        "stop being mentioned (all your projects when none is named)",
    ),
    ("sentry project list", "who is mentioned for what here"),
    (
        "sentry status",
        "routes, last deliveries, refused requests in the last hour",
    ),
];

fn overview(core: &Core, args: &SentryRoot, ctx: &Ctx) -> CommandResult {
    let prefix = ctx.prefix();
    let topic = args.topic.first().map(|t| t.to_lowercase());
    let shown: Vec<&(&str, &str)> = match topic.as_deref() {
        None | Some("help") => COMMANDS.iter().collect(),
        Some(t @ ("channel" | "project")) => COMMANDS
            .iter()
            .filter(|(c, _)| c.starts_with(&format!("sentry {t}")))
            .collect(),
        Some(other) => {
            return Err(CommandError::user(format!(
                "There is no `{prefix}sentry {other}` command."
            ))
            .with_hint(format!("type `{prefix}sentry help` for the list")));
        }
    };
    let items: Vec<Markup> = shown
        .iter()
        .map(|(cmd, about)| {
            Markup::new()
                .code(format!("{prefix}{cmd}"))
                .text(format!(" — {about}"))
        })
        .collect();
    let mut text = Markup::new()
        .bold("Sentry alerts in chat")
        .text(": signed webhooks from Sentry become cards in the rooms that asked for them.")
        .list(items)
        .text(format!(
            "Authorizing a room is for its admins and bot admins{}. Type {prefix}help <command> for details.",
            if core.settings.authorizers.is_empty() {
                ""
            } else {
                " and the configured authorizers"
            }
        ));
    if core.settings.public_url.is_none() {
        text = text.line().text(
            "Note: `public_url` is not set in [plugins.sentry], so webhook URLs are shown as paths.",
        );
    }
    Ok(Reply::markup(text))
}

/// Reads a room argument: a backend-qualified id, a bare id on the caller's backend, or
/// Slack/Discord channel markup (`<#C024BE91L|ops>`, `<#80351110224678912>`).
fn room_arg(ctx: &Ctx, arg: Option<&str>) -> Result<RoomId, CommandError> {
    let prefix = ctx.prefix();
    let Some(text) = arg.map(str::trim).filter(|t| !t.is_empty()) else {
        if ctx.is_direct() {
            return Err(
                CommandError::user("Which room? Name it when you ask me directly.")
                    .with_hint(format!("e.g. `{prefix}{} slack:C024BE91L`", ctx.command())),
            );
        }
        return Ok(ctx.room().clone());
    };
    let bare = text
        .strip_prefix("<#")
        .and_then(|t| t.strip_suffix('>'))
        .map_or(text, |t| t.split('|').next().unwrap_or(t));
    if let Ok(room) = bare.parse::<RoomId>()
        && ctx.backends().iter().any(|b| b == room.backend())
    {
        return Ok(room);
    }
    RoomId::new(ctx.room().backend(), bare).map_err(|e| {
        CommandError::user(format!("`{text}` is not a room: {e}"))
            .with_hint("use the room's id, e.g. `slack:C024BE91L`")
    })
}

/// Room admins (as the chat network reports them), bot admins and configured authorizers
/// may authorize or revoke `room`.
async fn may_authorize(core: &Core, ctx: &Ctx, room: &RoomId) -> Result<(), CommandError> {
    if ctx.caller_is_admin() || core.settings.is_authorizer(&ctx.caller().id) {
        return Ok(());
    }
    let denied = |why: &str| {
        CommandError::denied(format!(
            "only admins of {room}, bot admins and the users listed in `authorizers` of [plugins.sentry] may authorize or revoke it{why}"
        ))
    };
    match ctx.chat().is_room_admin(room, &ctx.caller().id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(denied("")),
        Err(BackendError::Unsupported { .. }) => Err(denied(
            " (this chat network does not tell me who administers a room)",
        )),
        Err(err) => {
            tracing::warn!(error = %err, room = %room, "could not check the room's admins");
            Err(denied(
                " (I could not check who administers the room just now)",
            ))
        }
    }
}

/// The webhook URL of a route and token.
pub fn hook_url(public_url: Option<&str>, route: &str, token: &str) -> String {
    format!(
        "{}/plugins/sentry/hook/{route}/{token}",
        public_url.unwrap_or("")
    )
}

async fn channel_authorize(core: &Core, args: ChannelAuthorize, ctx: &Ctx) -> CommandResult {
    let room = room_arg(ctx, args.room.as_deref())?;
    may_authorize(core, ctx, &room).await?;
    let prefix = ctx.prefix();
    if !ctx.is_direct() && !ctx.caller_capabilities().direct_messages {
        return Err(CommandError::user(
            "I send webhook URLs only privately, and I cannot message you directly on this network.",
        )
        .with_hint("declare the route in [plugins.sentry] instead, or ask me on a network with direct messages"));
    }
    let store = ctx.store();
    let done = rooms::authorize(
        &core.settings,
        &store,
        &room,
        &ctx.caller().id,
        ctx.now(),
        args.rotate,
    )
    .await?;
    tracing::info!(room = %room, route = %done.route_id, by = %ctx.caller().id, rotated = args.rotate, "sentry room authorized");
    let mut text = Markup::new();
    if !done.reinstated.is_empty() {
        text = text.text(format!(
            "Config route(s) {} work again. ",
            done.reinstated.join(", ")
        ));
    }
    let Some(token) = done.token else {
        return Ok(Reply::markup(
            text.code(room.to_string())
                .text(" is already authorized (route ")
                .code(done.route_id.clone())
                .text("). I keep only a digest of its URL, so I cannot show it again; ")
                .code(format!("{prefix}sentry channel authorize {room} --rotate"))
                .text(" sends you a new one and retires the old."),
        ));
    };
    let url = hook_url(core.settings.public_url.as_deref(), &done.route_id, &token);
    let mut private = Markup::new()
        .text("Sentry webhook URL for ")
        .code(room.to_string())
        .text(":")
        .line()
        .code(url.clone())
        .line()
        .text("Paste it into Sentry as the Webhook URL of an internal integration (Settings → Developer Settings → Custom Integrations) or as a Callback URL of the legacy WebHooks plugin. Keep it secret: whoever has it can post to the room. ")
        .text(format!(
            "Rotate it with {prefix}sentry channel authorize {room} --rotate; stop it with {prefix}sentry channel revoke {room}."
        ));
    if core.settings.public_url.is_none() {
        private = private
            .line()
            .text("(`public_url` is not set in [plugins.sentry]: put the bot's public address in front of this path.)");
    }
    if let Err(err) = ctx
        .reply_private(OutgoingMessage::new(private))
        .delivered()
        .await
    {
        tracing::warn!(error = %err, room = %room, "could not send a sentry webhook URL privately; revoking it");
        rooms::revoke_route(&store, &done.route_id, &ctx.caller().id, ctx.now()).await?;
        return Err(CommandError::user(
            "I could not message you privately, so I revoked the new URL again.",
        )
        .with_hint("ask me in a direct conversation"));
    }
    let verb = if args.rotate {
        "has a new webhook URL"
    } else {
        "may now receive Sentry alerts"
    };
    Ok(Reply::markup(
        text.text("✅ ")
            .code(room.to_string())
            .text(format!(" {verb} (route "))
            .code(done.route_id)
            .text("). I sent you its URL privately."),
    ))
}

async fn channel_revoke(core: &Core, args: ChannelRevoke, ctx: &Ctx) -> CommandResult {
    let room = room_arg(ctx, args.room.as_deref())?;
    may_authorize(core, ctx, &room).await?;
    let revoked = rooms::revoke(
        &core.settings,
        &ctx.store(),
        &room,
        &ctx.caller().id,
        ctx.now(),
    )
    .await?;
    if revoked.is_empty() {
        return Err(
            CommandError::user(format!("{room} has no active Sentry route."))
                .with_hint(format!("see `{}sentry channel list`", ctx.prefix())),
        );
    }
    tracing::info!(room = %room, routes = ?revoked, by = %ctx.caller().id, "sentry room revoked");
    Ok(Reply::markup(
        Markup::new()
            .text("Revoked ")
            .code(revoked.join(", "))
            .text(" for ")
            .code(room.to_string())
            .text(": their URLs stop working now."),
    ))
}

fn describe_route(route: &Route) -> Markup {
    let mut m = Markup::new()
        .code(route.id.clone())
        .text(" → ")
        .code(route.room.to_string())
        .text(" · ");
    m = match &route.origin {
        Origin::Config => {
            let mut how = Vec::new();
            if !route.secrets.is_empty() {
                how.push(format!(
                    "signed ({} secret{})",
                    route.secrets.len(),
                    if route.secrets.len() == 1 { "" } else { "s" }
                ));
            }
            if !route.token_digests.is_empty() {
                how.push("token".to_owned());
            }
            m.text(format!("config, {}", how.join(" + ")))
        }
        Origin::Chat { by, at } => m.text(format!(
            "token, authorized by {by} on {}",
            at.strftime("%Y-%m-%d")
        )),
    };
    match &route.revoked {
        Some(rev) => m.text(format!(
            " · revoked by {} on {}",
            rev.by,
            rev.at.strftime("%Y-%m-%d %H:%M UTC")
        )),
        None => m.text(" · active"),
    }
}

async fn channel_list(core: &Core, ctx: &Ctx) -> CommandResult {
    let routes = rooms::all(&core.settings, &ctx.store()).await?;
    if routes.is_empty() {
        return Ok(Reply::text(format!(
            "No room receives Sentry alerts yet. A bot admin runs {}sentry channel authorize in a room to start.",
            ctx.prefix()
        )));
    }
    Ok(Reply::markup(
        Markup::new()
            .text("Sentry routes:")
            .list(routes.iter().map(describe_route)),
    ))
}

fn slugs(projects: &[String]) -> Result<Vec<String>, CommandError> {
    projects
        .iter()
        .map(|p| {
            let slug = p.trim().to_lowercase();
            if is_slug(&slug) {
                Ok(slug)
            } else {
                Err(CommandError::user(format!("`{p}` is not a project slug"))
                    .with_hint("use the short name in the project's Sentry URL, e.g. `front-end`"))
            }
        })
        .collect()
}

async fn project_register(core: &Core, args: ProjectRegister, ctx: &Ctx) -> CommandResult {
    let room = room_arg(ctx, args.room.as_deref())?;
    let projects = slugs(&args.projects)?;
    let store = ctx.store();
    let user = &ctx.caller().id;
    if user.backend() != room.backend() {
        return Err(CommandError::user(format!(
            "You can only be mentioned in rooms of your own chat network ({}).",
            user.backend()
        )));
    }
    let mut added = Vec::new();
    for project in &projects {
        if mentions::register(&store, &core.locks, &room, project, user, ctx.now()).await? {
            added.push(project.clone());
        }
    }
    let mut text = if added.is_empty() {
        Markup::new().text("You were already registered for those projects in ")
    } else {
        Markup::new()
            .text("You will be mentioned when ")
            .code(added.join(", "))
            .text(" alert in ")
    };
    text = text.code(room.to_string()).text(".");
    if !rooms::is_authorized(&core.settings, &store, &room).await? {
        text = text.text(format!(
            " Note: this room receives no Sentry alerts yet (a bot admin runs {}sentry channel authorize here).",
            ctx.prefix()
        ));
    }
    Ok(Reply::markup(text))
}

async fn project_revoke(core: &Core, args: ProjectRevoke, ctx: &Ctx) -> CommandResult {
    let room = room_arg(ctx, args.room.as_deref())?;
    let store = ctx.store();
    let user = &ctx.caller().id;
    let projects = if args.projects.is_empty() {
        mentions::of_user(&store, &room, user).await?
    } else {
        slugs(&args.projects)?
    };
    let mut removed = Vec::new();
    for project in &projects {
        if mentions::unregister(&store, &core.locks, &room, project, user).await? {
            removed.push(project.clone());
        }
    }
    if removed.is_empty() {
        return Err(CommandError::user(format!(
            "You are not registered for {} in {room}.",
            if args.projects.is_empty() {
                "any project".to_owned()
            } else {
                projects.join(", ")
            }
        ))
        .with_hint(format!("see `{}sentry project list`", ctx.prefix())));
    }
    Ok(Reply::markup(
        Markup::new()
            .text("You will no longer be mentioned for ")
            .code(removed.join(", "))
            .text(" in ")
            .code(room.to_string())
            .text("."),
    ))
}

async fn project_list(args: ProjectList, ctx: &Ctx) -> CommandResult {
    let room = room_arg(ctx, args.room.as_deref())?;
    let subs = mentions::in_room(&ctx.store(), &room).await?;
    if subs.is_empty() {
        return Ok(Reply::markup(
            Markup::new()
                .text("Nobody is mentioned for Sentry projects in ")
                .code(room.to_string())
                .text(format!(
                    " yet; {}sentry project register <slug> to be.",
                    ctx.prefix()
                )),
        ));
    }
    // Ids in code, not mentions: listing must not ping anyone.
    let items = subs.into_iter().map(|(project, users)| {
        let names: Vec<String> = users.iter().map(ToString::to_string).collect();
        Markup::new()
            .bold(project)
            .text(": ")
            .code(names.join(", "))
    });
    Ok(Reply::markup(
        Markup::new()
            .text("Mentions in ")
            .code(room.to_string())
            .text(":")
            .list(items),
    ))
}

async fn status(core: &Core, ctx: &Ctx) -> CommandResult {
    let store = ctx.store();
    let now = ctx.now();
    let routes = rooms::all(&core.settings, &store).await?;
    let mut total_rejects = 0;
    let mut items = Vec::new();
    let mut labels: Vec<String> = routes.iter().map(|r| r.id.clone()).collect();
    for route in &routes {
        let mut line = describe_route(route);
        line = match stats::last_delivery(&store, &route.id).await? {
            Some(last) => line.text(format!(
                " · last delivery {} ({}, {})",
                last.at.strftime("%Y-%m-%d %H:%M UTC"),
                last.what,
                last.outcome
            )),
            None => line.text(" · no delivery yet"),
        };
        let rejects = stats::rejects_last_hour(&store, &route.id, now).await?;
        total_rejects += rejects;
        if rejects > 0 {
            line = line.text(format!(" · {rejects} refused in the last hour"));
        }
        items.push(line);
    }
    if core.settings.compat.enabled {
        labels.push(stats::COMPAT_ROUTE.to_owned());
        let mut line = Markup::new().text("Sentry Bot compatibility route: on");
        if let Some(last) = stats::last_delivery(&store, stats::COMPAT_ROUTE).await? {
            line = line.text(format!(
                " · last delivery {} ({}, {})",
                last.at.strftime("%Y-%m-%d %H:%M UTC"),
                last.what,
                last.outcome
            ));
        }
        let rejects = stats::rejects_last_hour(&store, stats::COMPAT_ROUTE, now).await?;
        total_rejects += rejects;
        if rejects > 0 {
            line = line.text(format!(" · {rejects} refused in the last hour"));
        }
        items.push(line);
    }
    for label in stats::rejecting_routes(&store, now).await? {
        if labels.contains(&label) {
            continue;
        }
        let rejects = stats::rejects_last_hour(&store, &label, now).await?;
        total_rejects += rejects;
        let what = if label == stats::UNKNOWN_ROUTE {
            "unknown routes".to_owned()
        } else {
            format!("`{label}`")
        };
        items.push(Markup::new().text(format!("{what}: {rejects} refused in the last hour")));
    }
    let body = if items.is_empty() {
        Markup::new().text(format!(
            "No routes. A bot admin runs {}sentry channel authorize in a room to start.",
            ctx.prefix()
        ))
    } else {
        Markup::new().list(items)
    };
    let card = Card::new("Sentry relay")
        .level(if total_rejects > 0 {
            Level::Warning
        } else {
            Level::Success
        })
        .body(body)
        .inline_field("Routes", routes.len().to_string())
        .inline_field("Refused (1h)", total_rejects.to_string())
        .inline_field(
            "Storm window",
            ferrbot::config::duration::format(core.settings.storm.window),
        )
        .inline_field(
            "Compat route",
            if core.settings.compat.enabled {
                "on"
            } else {
                "off"
            },
        );
    Ok(Reply::card(card))
}
