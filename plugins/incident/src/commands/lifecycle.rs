//! `declare` (also `--retro`), `stable`, `resolve`/`close` and `reopen`.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use serde_json::json;

use super::{App, Target, parse_time, require_edit, store_of, target, when, who};
use crate::model::{
    EventKind, Incident, MAX_TAGS, NewEvent, Origin, Review, State, check_text, check_title,
};
use crate::state::{self, Outcome, Transition};
use crate::store;
use crate::util::tags::Tag;

/// Declare an incident: `declare Checkout 502s --sev 2 --lead @ana`.
///
/// Creates an active incident (or, with `--retro --start T --end T`, a report-only resolved
/// one) and makes it this room's focus.
#[derive(clap::Parser, Debug)]
#[command(name = "incident declare")]
pub struct Declare {
    /// The title (1–200 characters).
    #[arg(required = true)]
    title: Vec<String>,
    /// Severity: number, name or sevN.
    #[arg(long)]
    sev: Option<String>,
    /// The lead (@user); default: none yet.
    #[arg(long)]
    lead: Option<String>,
    /// What is happening (≤4000 characters).
    #[arg(long)]
    summary: Option<String>,
    /// Who is affected and how (≤4000 characters).
    #[arg(long)]
    impact: Option<String>,
    /// A tag key=value (repeatable).
    #[arg(long = "tag", value_name = "K=V")]
    tags: Vec<String>,
    /// When it started (14:05, ISO 8601, -10m); default: now.
    #[arg(long, allow_hyphen_values = true)]
    started: Option<String>,
    /// Private incident (irreversible).
    #[arg(long)]
    private: bool,
    /// Do not create an incident room.
    #[arg(long)]
    no_room: bool,
    /// Report-only incident declared after the fact (needs --start and --end).
    #[arg(long, requires_all = ["start", "end"])]
    retro: bool,
    /// Retro: when it started.
    #[arg(long, requires = "retro", allow_hyphen_values = true)]
    start: Option<String>,
    /// Retro: when it ended.
    #[arg(long, requires = "retro", allow_hyphen_values = true)]
    end: Option<String>,
}

/// Mark the incident stable (mitigated, being watched).
#[derive(clap::Parser, Debug)]
#[command(name = "incident stable")]
pub struct Stable {
    #[command(flatten)]
    target: Target,
    /// A note for the timeline.
    note: Vec<String>,
}

/// Resolve the incident; the text is the resolution.
#[derive(clap::Parser, Debug)]
#[command(name = "incident resolve")]
pub struct Resolve {
    #[command(flatten)]
    target: Target,
    /// It was a false alarm (left out of stats).
    #[arg(long)]
    false_alarm: bool,
    /// The resolution (≤4000 characters).
    resolution: Vec<String>,
}

/// Reopen a stable or resolved incident.
#[derive(clap::Parser, Debug)]
#[command(name = "incident reopen")]
pub struct Reopen {
    #[command(flatten)]
    target: Target,
    /// Why.
    reason: Vec<String>,
}

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut v = super::specs_for(app, "declare", &["new", "start"], declare);
    v.extend(super::specs_for(
        app,
        "stable",
        &["mitigated"],
        |app, a: Stable, ctx| async move {
            let note = a.note.join(" ");
            transition(app, ctx, a.target, Transition::Stable, note, false).await
        },
    ));
    v.extend(super::specs_for(
        app,
        "resolve",
        &["close"],
        |app, a: Resolve, ctx| async move {
            let text = a.resolution.join(" ");
            transition(app, ctx, a.target, Transition::Resolve, text, a.false_alarm).await
        },
    ));
    v.extend(super::specs_for(
        app,
        "reopen",
        &[],
        |app, a: Reopen, ctx| async move {
            let reason = a.reason.join(" ");
            transition(app, ctx, a.target, Transition::Reopen, reason, false).await
        },
    ));
    v
}

fn parse_tags(texts: &[String]) -> Result<Vec<Tag>, CommandError> {
    let mut tags: Vec<Tag> = texts
        .iter()
        .flat_map(|t| t.split(','))
        .filter(|t| !t.trim().is_empty())
        .map(|t| Tag::parse(t).map_err(super::user_err))
        .collect::<Result<_, _>>()?;
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(CommandError::user(format!(
            "{} tags given; at most {MAX_TAGS} are allowed",
            tags.len()
        )));
    }
    Ok(tags)
}

async fn declare(app: Arc<App>, a: Declare, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    // Validate everything before writing anything.
    let title = check_title(&a.title.join(" ")).map_err(super::user_err)?;
    let severity = a
        .sev
        .as_deref()
        .map(|s| app.config.severities.parse(s))
        .transpose()
        .map_err(super::user_err)?;
    let lead = match a.lead.as_deref() {
        Some(u) => Some(super::known_user(&ctx, u).await?),
        None => None,
    };
    let summary = a
        .summary
        .as_deref()
        .map(|t| check_text("summary", t, false))
        .transpose()
        .map_err(super::user_err)?
        .filter(|t| !t.is_empty());
    let impact = a
        .impact
        .as_deref()
        .map(|t| check_text("impact", t, false))
        .transpose()
        .map_err(super::user_err)?
        .filter(|t| !t.is_empty());
    let tags = parse_tags(&a.tags)?;
    let (started_at, resolved_at) = if a.retro {
        let (Some(start), Some(end)) = (a.start.as_deref(), a.end.as_deref()) else {
            return Err(CommandError::user(
                "a retro incident needs --start T and --end T",
            ));
        };
        let (start, end) = (parse_time(&app, &ctx, start)?, parse_time(&app, &ctx, end)?);
        if end < start {
            return Err(CommandError::user("--end is before --start"));
        }
        if end > now {
            return Err(CommandError::user(
                "--end is in the future; declare it normally and resolve it when it is over",
            ));
        }
        (start, Some(end))
    } else {
        let started = a
            .started
            .as_deref()
            .map(|t| parse_time(&app, &ctx, t))
            .transpose()?
            .unwrap_or(now);
        if started > now {
            return Err(CommandError::user("--started is in the future"));
        }
        (started, None)
    };
    let mut incident = Incident {
        id: 0,
        origin: Origin::Declared,
        title,
        summary,
        impact,
        resolution: None,
        severity,
        state: if a.retro {
            State::Resolved
        } else {
            State::Active
        },
        retro: a.retro,
        private: a.private,
        tags,
        source: None,
        source_incident_id: None,
        details_url: None,
        ticket_url: None,
        metadata: None,
        reporter: Some(me.clone()),
        lead: lead.clone(),
        started_at,
        reported_at: now,
        first_ack_at: lead.as_ref().map(|_| now),
        stable_at: None,
        resolved_at,
        room: None,
        thread: None,
        announcement: None,
        review: if a.retro {
            Review::Pending
        } else {
            Review::None
        },
        review_url: None,
        external: serde_json::Map::new(),
        false_alarm: false,
    };
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let id = store::insert_incident(&mut tx, &incident).await?;
    incident.id = id;
    let sev_text = severity.map(|s| app.config.severities.label(s));
    let event = store::append_event(
        &mut tx,
        id,
        NewEvent::new(
            started_at,
            me.clone(),
            EventKind::Declared,
            format!("declared: {}", incident.title),
        )
        .data(json!({
            "severity": severity.map(|s| s.0),
            "lead": lead,
            "tags": incident.tags.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "private": a.private,
            "retro": a.retro,
            "no_room": a.no_room,
        })),
        now,
    )
    .await?;
    store::join(&mut tx, id, &me, now).await?;
    if let Some(lead) = &lead {
        store::assign_role(&mut tx, id, "lead", Some(lead), &me, now).await?;
        store::join(&mut tx, id, lead, now).await?;
    }
    if let Some(end) = resolved_at {
        store::append_event(
            &mut tx,
            id,
            NewEvent::new(end, me.clone(), EventKind::Resolved, "resolved (retro)"),
            now,
        )
        .await?;
    } else {
        store::set_focus(&mut tx, &ctx.room().to_string(), Some(id), &me, now).await?;
    }
    store::commit(tx).await?;
    // Headline, room or thread: never fails the declare; what happened is said below.
    let placed =
        crate::auto::rooms::on_declare(&app.config, &ctx, ctx.room(), &incident, a.no_room).await;
    // Report-only incidents are news to nobody.
    if !a.retro {
        crate::notify::after_change_logged(&app.config, &ctx, &event).await;
    }
    let mut line = format!("Declared #{id} {}", incident.title);
    let mut details = Vec::new();
    details.push(incident.state.to_string());
    if a.retro {
        details.push("report-only".into());
    }
    details.push(sev_text.unwrap_or_else(|| "no severity yet".into()));
    details.push(match &lead {
        Some(l) => format!("lead {l}"),
        None => "no lead yet".into(),
    });
    if a.private {
        details.push("private".into());
    }
    line.push_str(&format!(" ({}).", details.join(", ")));
    if !a.retro {
        line.push_str(&format!(
            " This room's focus is now #{id}; started {}.",
            when(&app, started_at)
        ));
    }
    for extra in placed {
        line.push(' ');
        line.push_str(&extra);
    }
    Ok(Reply::text(line))
}

async fn transition(
    app: Arc<App>,
    ctx: Ctx,
    t: Target,
    transition: Transition,
    text: String,
    false_alarm: bool,
) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let text = check_text(
        if transition == Transition::Resolve {
            "resolution"
        } else {
            "note"
        },
        &text,
        false,
    )
    .map_err(super::user_err)?;
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, t.incident.as_deref()).await?;
    let action = match transition {
        Transition::Stable => "change the state of",
        Transition::Resolve => "resolve",
        Transition::Reopen => "reopen",
    };
    // Stateless and repeat answers need no permission and change nothing.
    let before = incident.clone();
    let outcome = state::apply(&mut incident, transition, now).map_err(super::user_err)?;
    let from = match outcome {
        Outcome::AlreadyThere(reply) => return Ok(Reply::text(reply)),
        Outcome::Changed(from) => from,
    };
    require_edit(&app, &ctx, &mut tx, &before, action).await?;
    if transition == Transition::Resolve {
        incident.false_alarm = false_alarm;
        if !text.is_empty() {
            incident.resolution = Some(text.clone());
        }
    }
    let (kind, verb) = match transition {
        Transition::Stable => (EventKind::Stable, "marked stable"),
        Transition::Resolve => (EventKind::Resolved, "resolved"),
        Transition::Reopen => (EventKind::Reopened, "reopened"),
    };
    let mut event_text = verb.to_owned();
    if false_alarm {
        event_text.push_str(" as a false alarm");
    }
    if !text.is_empty() {
        event_text.push_str(&format!(": {text}"));
    }
    store::save_incident(&mut tx, &incident).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me, kind, event_text).data(json!({
            "from": from.as_str(),
            "to": incident.state.as_str(),
            "false_alarm": false_alarm,
            "resolved_at": before.resolved_at.map(|t| t.to_string()),
            "stable_at": before.stable_at.map(|t| t.to_string()),
        })),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    let mut line = format!(
        "#{} {} {verb} at {}",
        incident.id,
        incident.title,
        when(&app, now)
    );
    if transition == Transition::Resolve {
        line.push_str(&format!(
            " — open for {}",
            crate::util::time::format_duration(now.duration_since(incident.started_at))
        ));
    }
    if false_alarm {
        line.push_str(" (false alarm: left out of stats)");
    }
    line.push('.');
    Ok(Reply::text(line))
}
