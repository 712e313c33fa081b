//! `subscribe`, `unsubscribe`, `subscriptions`: Argus-style notification profiles in chat.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;

use super::{App, store_of, who};
use crate::model::{Destination, EventKind, Origin, Subscription, SubscriptionFilter};
use crate::store;
use crate::util::tags::Tag;
use crate::util::timeslot::Timeslot;

/// The kinds a subscription hears about when `--events` is not given.
pub const DEFAULT_EVENTS: &[EventKind] = &[
    EventKind::Declared,
    EventKind::Stable,
    EventKind::Resolved,
    EventKind::Reopened,
    EventKind::Update,
    EventKind::Ack,
    EventKind::AckExpired,
];

/// Be told about incidents: `subscribe --sev<=2 --tag team=web --when "mon-fri 08:00-16:00
/// Europe/Oslo"`.
///
/// Tags: the same key is OR, different keys are AND. Several `--when` are OR; none = always.
/// Default: a direct message to you; `--here` posts in this room (room or bot admins).
#[derive(clap::Parser, Debug)]
#[command(name = "incident subscribe")]
pub struct Subscribe {
    /// Severity at most N (also `--sev<=N`).
    #[arg(long, value_name = "N")]
    max_sev: Option<u8>,
    /// A tag key=value (repeatable).
    #[arg(long = "tag", value_name = "K=V")]
    tags: Vec<String>,
    /// Only from this source (repeatable).
    #[arg(long = "source")]
    sources: Vec<String>,
    /// Only declared incidents (not source alerts).
    #[arg(long)]
    declared: bool,
    /// Only while open.
    #[arg(long)]
    open: bool,
    /// Only while acknowledged.
    #[arg(long, conflicts_with = "unacked")]
    acked: bool,
    /// Only while not acknowledged.
    #[arg(long)]
    unacked: bool,
    /// Event kinds, comma-separated (declared, stable, resolved, reopened, update, ack,
    /// ack_expired, field, note, task, role).
    #[arg(long, value_delimiter = ',')]
    events: Vec<String>,
    /// A timeslot: DAYS HH:MM-HH:MM ZONE (repeatable).
    #[arg(long = "when", value_name = "SLOT")]
    when: Vec<String>,
    /// Post in this room instead of a direct message.
    #[arg(long)]
    here: bool,
}

/// Remove one of your subscriptions: `unsubscribe S3`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident unsubscribe")]
pub struct Unsubscribe {
    /// The subscription (S3 or 3).
    id: String,
}

/// Your subscriptions (and this room's).
#[derive(clap::Parser, Debug)]
#[command(name = "incident subscriptions")]
pub struct Subscriptions;

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut v = super::specs_for(app, "subscribe", &[], subscribe);
    v.extend(super::specs_for(app, "unsubscribe", &[], unsubscribe));
    v.extend(super::specs_for(app, "subscriptions", &[], subscriptions));
    v
}

fn describe(s: &Subscription) -> String {
    let f = &s.filter;
    let mut parts = Vec::new();
    if let Some(n) = f.max_severity {
        parts.push(format!("sev<={n}"));
    }
    if !f.tags.is_empty() {
        parts.push(format!("tags {}", f.tags.join(" ")));
    }
    if !f.sources.is_empty() {
        parts.push(format!("sources {}", f.sources.join(",")));
    }
    if f.origin == Some(Origin::Declared) {
        parts.push("declared only".into());
    }
    if f.open == Some(true) {
        parts.push("open".into());
    }
    match f.acked {
        Some(true) => parts.push("acked".into()),
        Some(false) => parts.push("unacked".into()),
        None => {}
    }
    let events: Vec<&str> = f.events.iter().map(|e| e.as_str()).collect();
    parts.push(format!("events {}", events.join(",")));
    if !s.timeslots.is_empty() {
        parts.push(format!("when {}", s.timeslots.join(" | ")));
    }
    let dest = match &s.destination {
        Destination::Direct(u) => format!("DM {u}"),
        Destination::Room(r) => format!("room {r}"),
    };
    format!("S{} → {dest}: {}", s.id, parts.join("; "))
}

async fn subscribe(app: Arc<App>, a: Subscribe, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    if let Some(n) = a.max_sev
        && (n == 0 || usize::from(n) > app.config.severities.len())
    {
        return Err(CommandError::user(format!(
            "severity {n} does not exist; levels: {}",
            app.config.severities.valid_list()
        )));
    }
    let mut tags = Vec::new();
    for t in a
        .tags
        .iter()
        .flat_map(|t| t.split(','))
        .filter(|t| !t.trim().is_empty())
    {
        tags.push(Tag::parse(t).map_err(super::user_err)?.to_string());
    }
    let events = if a.events.is_empty() {
        DEFAULT_EVENTS.to_vec()
    } else {
        a.events
            .iter()
            .map(|e| {
                EventKind::parse(e.trim()).ok_or_else(|| {
                    CommandError::user(format!(
                        "`{e}` is not an event kind (declared, stable, resolved, reopened, update, ack, ack_expired, field, note, task, role)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let timeslots = a
        .when
        .iter()
        .map(|w| {
            Timeslot::parse(w)
                .map(|s| s.to_string())
                .map_err(super::user_err)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let destination = if a.here {
        let room_admin = ctx
            .chat()
            .is_room_admin(ctx.room(), &ctx.caller().id)
            .await
            .unwrap_or(false);
        if !(room_admin || ctx.caller_is_admin()) {
            return Err(CommandError::denied(
                "only this room's admins and bot admins may subscribe the room (`--here`)",
            ));
        }
        Destination::Room(ctx.room().to_string())
    } else {
        if !ctx.caller_capabilities().direct_messages {
            return Err(CommandError::user(
                "this chat network has no direct messages; subscribe the room with `--here`",
            ));
        }
        Destination::Direct(me.clone())
    };
    let mut sub = Subscription {
        id: 0,
        owner: me,
        destination,
        filter: SubscriptionFilter {
            max_severity: a.max_sev,
            tags,
            sources: a.sources,
            origin: a.declared.then_some(Origin::Declared),
            open: a.open.then_some(true),
            acked: if a.acked {
                Some(true)
            } else if a.unacked {
                Some(false)
            } else {
                None
            },
            stateful: None,
            events,
        },
        timeslots,
        active: true,
        created_at: now,
    };
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    sub.id = store::insert_subscription(&mut tx, &sub).await?;
    store::commit(tx).await?;
    Ok(Reply::text(format!("Subscribed: {}", describe(&sub))))
}

async fn unsubscribe(_app: Arc<App>, a: Unsubscribe, ctx: Ctx) -> CommandResult {
    let me = who(&ctx);
    let t = a.id.trim();
    let Some(id) = t.strip_prefix(['S', 's']).unwrap_or(t).parse::<u64>().ok() else {
        return Err(CommandError::user(format!(
            "`{t}` is not a subscription (S3 or 3)"
        )));
    };
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let subs = store::subscriptions(&mut tx).await?;
    let Some(sub) = subs.iter().find(|s| s.id == id) else {
        return Err(CommandError::user(format!(
            "there is no subscription S{id}"
        )));
    };
    if sub.owner != me && !ctx.caller_is_admin() {
        return Err(CommandError::denied(format!(
            "only its owner ({}) and bot admins may remove S{id}",
            sub.owner
        )));
    }
    store::delete_subscription(&mut tx, id).await?;
    store::commit(tx).await?;
    Ok(Reply::text(format!("Removed S{id}.")))
}

async fn subscriptions(_app: Arc<App>, _a: Subscriptions, ctx: Ctx) -> CommandResult {
    let me = who(&ctx);
    let room = ctx.room().to_string();
    let mut c = store_of(&ctx).read().await?;
    let subs = store::subscriptions(&mut c).await?;
    let lines: Vec<String> = subs
        .iter()
        .filter(|s| s.owner == me || s.destination == Destination::Room(room.clone()))
        .map(describe)
        .collect();
    if lines.is_empty() {
        return Ok(Reply::text(
            "No subscriptions (add one with `!inc subscribe`).",
        ));
    }
    Ok(Reply::text(lines.join("\n")))
}
