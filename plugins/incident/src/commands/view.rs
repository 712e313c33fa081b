//! Read-only commands: `status`, `list`, `duration`, `report`, `stats`, `help` and the bare
//! `incident` overview.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::markup::Markup;
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use sqlx::AnyConnection;

use super::{App, Target, store_of, target, when, who};
use crate::model::{Incident, State, TaskStatus, is_acked};
use crate::report::{ReportData, render};
use crate::store;
use crate::util::tags::{Tag, TagFilter};
use crate::util::time::{format_duration, parse_duration};

/// Show an incident: `status`, `status 42`, `status #42`, `status inc-42`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident status")]
pub struct Status {
    #[command(flatten)]
    target: Target,
    /// The incident (42, #42 or inc-42).
    id: Option<String>,
}

/// List incidents, newest first (default: open ones and those resolved in the last 24 h).
///
/// Tag filters: the same key is OR, different keys are AND (`--tag env=prod --tag env=dev
/// --tag team=web` = env is prod or dev, and team is web).
#[derive(clap::Parser, Debug)]
#[command(name = "incident list")]
pub struct List {
    /// Only open ones.
    #[arg(long, conflicts_with_all = ["resolved", "all"])]
    open: bool,
    /// Only resolved ones.
    #[arg(long, conflicts_with = "all")]
    resolved: bool,
    /// All of them.
    #[arg(long)]
    all: bool,
    /// Only where you are lead, reporter or participant.
    #[arg(long)]
    mine: bool,
    /// Severity at most N (also `--sev<=N`).
    #[arg(long, value_name = "N")]
    max_sev: Option<u8>,
    /// A tag key=value (repeatable; Argus semantics).
    #[arg(long = "tag", value_name = "K=V")]
    tags: Vec<String>,
    /// Only from this source.
    #[arg(long)]
    source: Option<String>,
    /// Only acknowledged ones.
    #[arg(long, conflicts_with = "unacked")]
    acked: bool,
    /// Only unacknowledged ones.
    #[arg(long)]
    unacked: bool,
    /// Only reported or resolved within this long (7d, 12h).
    #[arg(long)]
    since: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// How long the incident has been running (or ran).
#[derive(clap::Parser, Debug)]
#[command(name = "incident duration")]
pub struct Duration {
    #[command(flatten)]
    target: Target,
    /// The incident (42, #42 or inc-42).
    id: Option<String>,
}

/// The post-incident report (Markdown).
#[derive(clap::Parser, Debug)]
#[command(name = "incident report")]
pub struct Report {
    #[command(flatten)]
    target: Target,
    /// The incident (42, #42 or inc-42).
    id: Option<String>,
    /// A link to the report instead (readable without an account; see `report_link_ttl`).
    #[arg(long)]
    link: bool,
}

/// Counts and time to acknowledge, mitigate and resolve per severity (false alarms left out).
#[derive(clap::Parser, Debug)]
#[command(name = "incident stats")]
pub struct Stats {
    /// Only incidents reported within this long (30d); default: all.
    #[arg(long)]
    since: Option<String>,
    /// Severity at most N (also `--sev<=N`).
    #[arg(long, value_name = "N")]
    max_sev: Option<u8>,
    /// A tag key=value (repeatable; Argus semantics).
    #[arg(long = "tag", value_name = "K=V")]
    tags: Vec<String>,
}

/// Incidents in chat: the commands, or one command's full help.
#[derive(clap::Parser, Debug)]
#[command(name = "incident help")]
pub struct Help {
    /// A command (`declare`, `task add`).
    command: Vec<String>,
}

/// Incidents in chat: overview of the `incident` commands (alias `inc`).
#[derive(clap::Parser, Debug)]
#[command(name = "incident")]
pub struct Root {
    /// Ignored words.
    words: Vec<String>,
}

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut v = super::specs_for(app, "status", &["show", "info"], status);
    v.extend(super::specs_for(app, "list", &[], list));
    v.extend(super::specs_for(app, "duration", &[], duration));
    v.extend(super::specs_for(app, "report", &[], report));
    v.extend(super::specs_for(app, "stats", &[], stats));
    v.extend(super::specs_for(
        app,
        "help",
        &[],
        |_app, a: Help, _ctx| async move { Ok(help(&a.command.join(" "))) },
    ));
    v.extend(super::specs_for(
        app,
        "",
        &[],
        |_app, _a: Root, _ctx| async move { Ok(help("")) },
    ));
    v
}

fn pick(t: &Target, id: &Option<String>) -> Option<String> {
    id.clone().or_else(|| t.incident.clone())
}

/// Whether `user` may see a private incident: bot admins, its lead and reporter, anyone who
/// held a role in it and anyone who took part (also after leaving). Public ones: everybody.
pub(crate) async fn may_see(
    c: &mut AnyConnection,
    incident: &Incident,
    user: &str,
    admin: bool,
) -> Result<bool, CommandError> {
    if !incident.private || admin {
        return Ok(true);
    }
    if incident.lead.as_deref() == Some(user) || incident.reporter.as_deref() == Some(user) {
        return Ok(true);
    }
    let (roles, participants) = super::people(c, incident.id).await?;
    Ok(roles.iter().any(|r| r.user == user) || participants.iter().any(|p| p.user == user))
}

/// Refuses to show a private incident to someone outside it (logged as `access_denied`).
pub(crate) async fn require_visible(
    ctx: &Ctx,
    c: &mut AnyConnection,
    incident: &Incident,
) -> Result<(), CommandError> {
    let (user, admin) = super::caller(ctx);
    if may_see(c, incident, &user, admin).await? {
        return Ok(());
    }
    tracing::info!(
        audit = "access_denied",
        user = %user,
        incident = incident.id,
        command = ctx.command(),
        "private incident not shown"
    );
    Err(CommandError::denied(format!(
        "#{} is private: only its lead, reporter, role holders, participants and bot admins \
         may see it",
        incident.id
    )))
}

async fn status(app: Arc<App>, a: Status, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let mut c = store_of(&ctx).read().await?;
    let i = target(&ctx, &mut c, pick(&a.target, &a.id).as_deref()).await?;
    require_visible(&ctx, &mut c, &i).await?;
    let acks = store::acks(&mut c, i.id).await?;
    let roles = store::roles(&mut c, i.id).await?;
    let tasks = store::tasks(&mut c, i.id).await?;
    let updates = store::updates(&mut c, i.id).await?;
    let scale = &app.config.severities;
    let mut lines = vec![format!(
        "#{} {} — {} {} · {}{}",
        i.id,
        i.title,
        i.state.emoji(),
        i.state,
        i.severity
            .map_or_else(|| "no severity".to_owned(), |s| scale.label(s)),
        if i.private { " · private" } else { "" }
    )];
    let others: Vec<String> = roles
        .iter()
        .filter(|r| r.until.is_none() && r.role != "lead")
        .map(|r| format!("{} {}", r.role, r.user))
        .collect();
    let mut people = format!(
        "Lead: {} · Reporter: {}",
        i.lead.as_deref().unwrap_or("none"),
        i.reporter.as_deref().unwrap_or("—")
    );
    if !others.is_empty() {
        people.push_str(&format!(" · {}", others.join(", ")));
    }
    lines.push(people);
    let active: Vec<String> = acks
        .iter()
        .filter(|x| x.is_active(now))
        .map(|x| match x.expires_at {
            Some(e) => format!("{} until {}", x.user, when(&app, e)),
            None => x.user.clone(),
        })
        .collect();
    lines.push(if is_acked(&acks, now) {
        format!("Acknowledged by {}", active.join(", "))
    } else {
        "Not acknowledged".to_owned()
    });
    lines.push(duration_line(&app, &i, now));
    if !i.tags.is_empty() {
        let tags: Vec<String> = i.tags.iter().map(ToString::to_string).collect();
        lines.push(format!("Tags: {}", tags.join(" ")));
    }
    if let Some(s) = &i.summary {
        lines.push(format!("Summary: {s}"));
    }
    if let Some(s) = &i.impact {
        lines.push(format!("Impact: {s}"));
    }
    if let Some(u) = updates.last() {
        lines.push(format!(
            "Last update ({}): {}",
            when(&app, u.at),
            u.text.replace('\n', "; ")
        ));
    }
    let open = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Open)
        .count();
    lines.push(format!("Open tasks: {open}"));
    let snoozed: Vec<(String, jiff::Timestamp)> = store::reminders(&mut c, i.id)
        .await?
        .into_iter()
        .filter_map(|r| r.snoozed_until.filter(|u| *u > now).map(|u| (r.key, u)))
        .collect();
    if i.state.is_open()
        && let Some(until) = snoozed.iter().map(|(_, u)| *u).max()
    {
        let keys: Vec<&str> = snoozed.iter().map(|(k, _)| k.as_str()).collect();
        lines.push(format!(
            "Reminders snoozed until {} ({})",
            when(&app, until),
            keys.join(", ")
        ));
    }
    Ok(Reply::text(lines.join("\n")))
}

fn duration_line(app: &App, i: &Incident, now: jiff::Timestamp) -> String {
    match i.resolved_at {
        Some(end) => format!(
            "Ran for {} ({} – {})",
            format_duration(end.duration_since(i.started_at)),
            when(app, i.started_at),
            when(app, end)
        ),
        None => format!(
            "Running for {} (since {})",
            format_duration(now.duration_since(i.started_at)),
            when(app, i.started_at)
        ),
    }
}

async fn duration(app: Arc<App>, a: Duration, ctx: Ctx) -> CommandResult {
    let mut c = store_of(&ctx).read().await?;
    let i = target(&ctx, &mut c, pick(&a.target, &a.id).as_deref()).await?;
    require_visible(&ctx, &mut c, &i).await?;
    Ok(Reply::text(format!(
        "#{}: {}",
        i.id,
        duration_line(&app, &i, ctx.now())
    )))
}

fn tag_filter(texts: &[String]) -> Result<TagFilter, CommandError> {
    let tags = texts
        .iter()
        .flat_map(|t| t.split(','))
        .filter(|t| !t.trim().is_empty())
        .map(Tag::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(super::user_err)?;
    Ok(TagFilter::new(tags))
}

fn since(ctx: &Ctx, text: Option<&str>) -> Result<Option<jiff::Timestamp>, CommandError> {
    text.map(|t| {
        parse_duration(t)
            .map(|d| ctx.now() - d)
            .map_err(super::user_err)
    })
    .transpose()
}

async fn list(_app: Arc<App>, a: List, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let filter = tag_filter(&a.tags)?;
    let since = since(&ctx, a.since.as_deref())?;
    let mut c = store_of(&ctx).read().await?;
    let all = store::incidents(&mut c, &[], since).await?;
    let day_ago = now - jiff::SignedDuration::from_hours(24);
    let mut lines = Vec::new();
    for i in &all {
        let keep_state = if a.all {
            true
        } else if a.open {
            i.state.is_open() || i.state == State::Stateless
        } else if a.resolved {
            i.state == State::Resolved
        } else {
            i.state != State::Resolved || i.resolved_at.is_some_and(|r| r >= day_ago)
        };
        if !keep_state
            || a.max_sev
                .is_some_and(|n| i.severity.is_none_or(|s| s.0 > n))
            || !filter.matches(&i.tags)
            || a.source
                .as_ref()
                .is_some_and(|s| i.source.as_ref() != Some(s))
        {
            continue;
        }
        if a.mine {
            let mine = i.lead.as_deref() == Some(me.as_str())
                || i.reporter.as_deref() == Some(me.as_str())
                || store::participants(&mut c, i.id)
                    .await?
                    .iter()
                    .any(|p| p.user == me && p.left_at.is_none());
            if !mine {
                continue;
            }
        }
        if a.acked || a.unacked {
            let acked = is_acked(&store::acks(&mut c, i.id).await?, now);
            if acked != a.acked {
                continue;
            }
        }
        if !may_see(&mut c, i, &me, ctx.caller_is_admin()).await? {
            continue;
        }
        lines.push(format!(
            "{} #{} {} — {} · {} · lead {}",
            i.state.emoji(),
            i.id,
            i.title,
            i.state,
            i.severity
                .map_or_else(|| "no sev".to_owned(), |s| format!("sev{}", s.0)),
            i.lead.as_deref().unwrap_or("none")
        ));
        if lines.len() >= a.limit.max(1) {
            break;
        }
    }
    if lines.is_empty() {
        return Ok(Reply::text("No incidents match."));
    }
    Ok(Reply::text(lines.join("\n")))
}

async fn report(app: Arc<App>, a: Report, ctx: Ctx) -> CommandResult {
    let mut c = store_of(&ctx).read().await?;
    let incident = target(&ctx, &mut c, pick(&a.target, &a.id).as_deref()).await?;
    require_visible(&ctx, &mut c, &incident).await?;
    let id = incident.id;
    if a.link {
        drop(c);
        return report_link(&app, &ctx, &incident).await;
    }
    let data = ReportData {
        events: store::events(&mut c, id).await?,
        tasks: store::tasks(&mut c, id).await?,
        updates: store::updates(&mut c, id).await?,
        roles: store::roles(&mut c, id).await?,
        participants: store::participants(&mut c, id).await?,
        incident,
    };
    let text = render(&data, &app.config.severities, app.config.timezone.as_ref());
    Ok(Reply::markup(
        Markup::new().code_block(Some("markdown"), &text),
    ))
}

/// Hands out a report link; for a private incident only in a direct message.
async fn report_link(app: &App, ctx: &Ctx, incident: &Incident) -> CommandResult {
    let Some(public_url) = app.config.public_url.as_deref() else {
        return Err(CommandError::user(
            "report links need the bot's public address: a bot admin sets \
             `[plugins.incident] public_url`",
        ));
    };
    let expires_at = ctx
        .now()
        .checked_add(app.config.report_link_ttl)
        .map_err(|e| CommandError::user(e.to_string()))?;
    let key = crate::report_link::create(&ctx.plugin().store(), incident.id, expires_at).await?;
    let line = format!(
        "Report of #{} {}: {} (works until {})",
        incident.id,
        incident.title,
        crate::report_link::url(public_url, incident.id, &key),
        super::when(app, expires_at)
    );
    if incident.private {
        ctx.reply_private(line);
        return Ok(Reply::text(format!(
            "#{} is private: I sent you its report link in a direct message.",
            incident.id
        )));
    }
    Ok(Reply::text(line))
}

async fn stats(app: Arc<App>, a: Stats, ctx: Ctx) -> CommandResult {
    let filter = tag_filter(&a.tags)?;
    let since = since(&ctx, a.since.as_deref())?;
    let mut c = store_of(&ctx).read().await?;
    let all = store::incidents(&mut c, &[], None).await?;
    let chosen: Vec<Incident> = all
        .into_iter()
        .filter(|i| i.origin == crate::model::Origin::Declared || i.state != State::Stateless)
        .filter(|i| since.is_none_or(|s| i.reported_at >= s))
        .filter(|i| {
            a.max_sev
                .is_none_or(|n| i.severity.is_some_and(|s| s.0 <= n))
        })
        .filter(|i| filter.matches(&i.tags))
        .collect();
    let (per_sev, false_alarms) = crate::stats::by_severity(&chosen);
    let scope = match &a.since {
        Some(s) => format!("last {s}"),
        None => "all time".to_owned(),
    };
    let mut lines = vec![format!(
        "Incident stats ({scope}): {} incidents, {false_alarms} false alarm{} left out",
        chosen.len() - false_alarms,
        if false_alarms == 1 { "" } else { "s" }
    )];
    lines.extend(crate::stats::render(&per_sev, &app.config.severities));
    Ok(Reply::text(lines.join("\n")))
}

/// The overview, or one command's help.
fn help(topic: &str) -> Reply {
    let topic = topic
        .trim()
        .trim_start_matches("incident ")
        .trim_start_matches("inc ");
    if !topic.is_empty()
        && let Some(text) = super::help_for(topic)
    {
        return Reply::markup(Markup::new().code_block(None, text.trim_end()));
    }
    let mut lines = vec![
        "Incidents in chat: `!incident <command>` (alias `!inc`). Name an incident with a leading \
         #42 or inc-42, or `--incident 42`; by default the room's incident or focus is used."
            .to_owned(),
    ];
    for (name, about) in super::overview() {
        lines.push(format!("• {name} — {about}"));
    }
    lines.push("Full help: `!inc help <command>`.".to_owned());
    Reply::text(lines.join("\n"))
}
