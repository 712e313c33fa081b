//! The headline post: one card per incident in the announce room (report-only incidents: the
//! report room) with its title, state, severity, lead, reporter, roles, room and last update,
//! and its actions — buttons where the backend has them, commands to type where it does not.
//!
//! After every committed change that shows on it, the post is edited in place where the bot
//! can edit its messages; elsewhere a compact change line (`#42 sev2 → sev1 by @bob`) goes
//! under it, in its thread where threads exist. Failures are logged and never fail a command.
//!
//! The few config values the headline needs are [`Settings`], made from the plugin's config
//! by whoever calls in.

use ferrbot::Capabilities;
use ferrbot::context::PluginContext;
use ferrbot::id::{MessageId, RoomId, Target, ThreadId};
use ferrbot::message::{Action, ActionStyle, Card, Level, OutgoingMessage};
use serde::{Deserialize, Serialize};

use crate::auto::placement::HeadlineChange;
use crate::config::Config;
use crate::model::{
    EventKind, Incident, RoleAssignment, Severity, SeverityScale, State, StatusUpdate,
    TimelineEvent,
};
use crate::store::{self, DbError, IncidentStore};
use crate::util::time::format_ts;

/// Why an automatic step failed (logged, never shown as a command failure).
#[derive(Debug, thiserror::Error)]
pub enum AutoError {
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A message could not be delivered.
    #[error(transparent)]
    Send(#[from] ferrbot::outbox::SendError),
    /// The chat network refused an operation.
    #[error("chat operation failed: {0}")]
    Backend(#[from] ferrbot::backend::BackendError),
    /// A stored id is not valid.
    #[error("stored {what} `{value}` is not an id")]
    BadId {
        /// Which id.
        what: &'static str,
        /// The stored text.
        value: String,
    },
}

/// The config values the headline needs outside commands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Severity names, level 1 first.
    pub severities: Vec<String>,
    /// The IANA time zone shown next to UTC.
    pub timezone: Option<String>,
    /// The announce room.
    pub announce_room: Option<String>,
    /// The report room.
    pub report_room: Option<String>,
}

impl Settings {
    /// The settings of a config.
    pub fn from_config(config: &Config) -> Self {
        let len = u8::try_from(config.severities.len()).unwrap_or(u8::MAX);
        Self {
            severities: (1..=len)
                .map(|n| config.severities.name(Severity(n)).to_owned())
                .collect(),
            timezone: config
                .timezone
                .as_ref()
                .and_then(|tz| tz.iana_name().map(str::to_owned)),
            announce_room: config.announce_room.clone(),
            report_room: config.report_room.clone(),
        }
    }

    /// The severity scale.
    pub fn scale(&self) -> SeverityScale {
        if self.severities.is_empty() {
            SeverityScale::default()
        } else {
            SeverityScale::new(self.severities.clone())
        }
    }

    fn time(&self, t: jiff::Timestamp) -> String {
        let tz = self
            .timezone
            .as_deref()
            .and_then(|name| jiff::tz::TimeZone::get(name).ok());
        format_ts(t, tz.as_ref())
    }

    /// Where the headline of `incident` goes: the report room for report-only incidents
    /// (else the announce room), the announce room otherwise; `None` when not configured.
    pub fn headline_room(&self, incident: &Incident) -> Option<RoomId> {
        let room = if incident.retro {
            self.report_room.as_ref().or(self.announce_room.as_ref())
        } else {
            self.announce_room.as_ref()
        };
        room.and_then(|r| r.parse().ok())
    }
}

/// Events that change what the headline shows.
pub fn affects_headline(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Field
            | EventKind::Stable
            | EventKind::Resolved
            | EventKind::Reopened
            | EventKind::Role
            | EventKind::Update
            | EventKind::Ack
            | EventKind::Unack
            | EventKind::AckExpired
            | EventKind::Changed
    )
}

fn level(incident: &Incident) -> Level {
    if !incident.state.is_open() {
        return Level::Success;
    }
    match incident.severity.map(|s| s.0) {
        Some(1) => Level::Critical,
        Some(2) => Level::Error,
        Some(3) => Level::Warning,
        Some(_) => Level::Info,
        None => Level::Neutral,
    }
}

/// The actions offered on the headline: (label, command without prefix).
pub fn actions(incident: &Incident) -> Vec<Action> {
    let r = incident.reference();
    let a = |label: &str, cmd: &str| Action::new(label, format!("incident {cmd} {r}"));
    match incident.state {
        State::Active => vec![
            a("Ack", "ack").style(ActionStyle::Primary),
            a("Join", "join"),
            a("Stable", "stable"),
            a("Resolve", "resolve").style(ActionStyle::Danger),
        ],
        State::Stable => vec![
            a("Join", "join"),
            a("Resolve", "resolve").style(ActionStyle::Danger),
            a("Reopen", "reopen"),
        ],
        State::Resolved => vec![a("Report", "report"), a("Reopen", "reopen")],
        State::Stateless => vec![a("Ack", "ack"), a("Status", "status")],
    }
}

/// Where the incident's conversation is, for people.
pub fn place_text(incident: &Incident) -> String {
    match (&incident.room, &incident.thread) {
        (Some(_), Some(_)) => "the thread under this post".to_owned(),
        (Some(room), None) => room.clone(),
        (None, _) => format!("none — name {} in commands", incident.reference()),
    }
}

/// The headline message for `caps`: buttons where the backend has them, else the same
/// actions as commands to type (`prefix`: the bot's command prefix).
pub fn render(
    incident: &Incident,
    roles: &[RoleAssignment],
    last_update: Option<&StatusUpdate>,
    settings: &Settings,
    caps: &Capabilities,
    prefix: &str,
) -> OutgoingMessage {
    let state = format!("{} {}", incident.state.emoji(), incident.state);
    if incident.private {
        let card = Card::new(format!("🔒 {} (private incident)", incident.reference()))
            .level(level(incident))
            .field("State", state);
        return OutgoingMessage::card(card);
    }
    let sev = incident
        .severity
        .map_or_else(|| "not set".to_owned(), |s| settings.scale().label(s));
    let mut card = Card::new(format!(
        "{} {} {}",
        incident.state.emoji(),
        incident.reference(),
        incident.title
    ))
    .level(level(incident))
    .inline_field("State", state)
    .inline_field("Severity", sev)
    .inline_field("Lead", incident.lead.as_deref().unwrap_or("none yet"))
    .inline_field(
        "Reporter",
        incident.reporter.as_deref().unwrap_or("unknown"),
    );
    let others: Vec<String> = roles
        .iter()
        .filter(|r| r.until.is_none() && r.role != "lead")
        .map(|r| format!("{} {}", r.role, r.user))
        .collect();
    if !others.is_empty() {
        card = card.field("Roles", others.join(", "));
    }
    card = card.field("Room", place_text(incident));
    card = card.field(
        "Last update",
        last_update.map_or_else(
            || "none yet".to_owned(),
            |u| format!("{} ({})", u.text, settings.time(u.at)),
        ),
    );
    card = card.footer(format!("Started {}", settings.time(incident.started_at)));
    let acts = actions(incident);
    if caps.buttons {
        acts.into_iter()
            .fold(OutgoingMessage::card(card), OutgoingMessage::with_action)
    } else {
        let typed: Vec<String> = acts
            .iter()
            .map(|a| format!("{}: {prefix}{}", a.label, a.command))
            .collect();
        OutgoingMessage::card(card.field("Commands", typed.join(" · ")))
    }
}

/// The compact line posted where the headline cannot be edited.
pub fn change_line(incident: &Incident, event: &TimelineEvent) -> String {
    let r = incident.reference();
    let sev = |v: &serde_json::Value| {
        v.as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .map_or_else(|| "no severity".to_owned(), |n| format!("sev{n}"))
    };
    let what = match (event.kind, event.data.get("field").and_then(|f| f.as_str())) {
        (EventKind::Field, Some("severity")) => {
            format!("{} → {}", sev(&event.data["old"]), sev(&event.data["new"]))
        }
        _ if incident.private => "changed".to_owned(),
        _ => event.text.clone(),
    };
    format!("{} {r} {what} by {}", incident.state.emoji(), event.actor)
}

/// The thread under a headline post (threads hang off a message on backends with threads).
pub fn thread_of(room: &RoomId, message: &MessageId) -> Option<ThreadId> {
    ThreadId::new(room.backend(), message.local()).ok()
}

async fn view(
    ctx: &PluginContext,
    id: u64,
) -> Result<Option<(Incident, Vec<RoleAssignment>, Option<StatusUpdate>)>, DbError> {
    let store = IncidentStore::new(ctx.db().clone());
    let mut c = store.read().await?;
    let Some(incident) = store::incident(&mut c, id).await? else {
        return Ok(None);
    };
    let roles = store::roles(&mut c, id).await?;
    let last = store::updates(&mut c, id)
        .await?
        .into_iter()
        .max_by_key(|u| u.at);
    Ok(Some((incident, roles, last)))
}

/// Posts the headline of incident `id` in `room` and records it; returns the post's id.
/// `threaded`: the incident's conversation will be the thread under this post.
///
/// # Errors
/// When reading, sending or recording fails.
pub async fn post(
    ctx: &PluginContext,
    settings: &Settings,
    id: u64,
    room: &RoomId,
    threaded: bool,
) -> Result<Option<MessageId>, AutoError> {
    let Some((mut incident, roles, last)) = view(ctx, id).await? else {
        return Ok(None);
    };
    if threaded {
        // Its thread is this post, which has no id yet.
        incident.room = Some(room.to_string());
        incident.thread = Some(String::new());
    }
    let caps = ctx
        .capabilities(room.backend())
        .unwrap_or_else(Capabilities::minimal);
    let message = render(
        &incident,
        &roles,
        last.as_ref(),
        settings,
        &caps,
        ctx.prefix(),
    );
    let sent = ctx
        .send(Target::room(room.clone()), message)
        .delivered()
        .await?;
    let store = IncidentStore::new(ctx.db().clone());
    let mut tx = store.begin().await?;
    store::set_headline(&mut tx, id, &sent.to_string(), &room.to_string()).await?;
    store::commit(tx).await?;
    Ok(Some(sent))
}

/// The headline post of an incident: its room and message, when it has one.
///
/// # Errors
/// When the stored ids are not valid.
pub fn headline_of(incident: &Incident) -> Result<Option<(RoomId, MessageId)>, AutoError> {
    let (Some(message), Some(room)) = (
        incident.announcement.as_deref(),
        incident
            .external
            .get("headline_room")
            .and_then(|v| v.as_str()),
    ) else {
        return Ok(None);
    };
    let bad = |what: &'static str, value: &str| AutoError::BadId {
        what,
        value: value.to_owned(),
    };
    Ok(Some((
        room.parse().map_err(|_| bad("headline room", room))?,
        message
            .parse()
            .map_err(|_| bad("headline message", message))?,
    )))
}

/// Re-renders the headline in place where the backend can edit (after the incident got a
/// room on demand); elsewhere nothing — the reply says where the room is.
///
/// # Errors
/// When reading fails, a stored id is not valid or the edit is refused.
pub async fn refresh(settings: &Settings, ctx: &PluginContext, id: u64) -> Result<(), AutoError> {
    let Some((incident, roles, last)) = view(ctx, id).await? else {
        return Ok(());
    };
    let Some((room, message)) = headline_of(&incident)? else {
        return Ok(());
    };
    let caps = ctx
        .capabilities(room.backend())
        .unwrap_or_else(Capabilities::minimal);
    if HeadlineChange::decide(&caps) != HeadlineChange::Edit {
        return Ok(());
    }
    let new = render(
        &incident,
        &roles,
        last.as_ref(),
        settings,
        &caps,
        ctx.prefix(),
    );
    ctx.chat().edit(&Target::room(room), &message, &new).await?;
    Ok(())
}

/// Brings the headline up to date after `event`: edited in place, or a change line.
///
/// # Errors
/// When reading fails or a stored id is not valid.
pub async fn after_change(
    settings: &Settings,
    ctx: &PluginContext,
    event: &TimelineEvent,
) -> Result<(), AutoError> {
    if !affects_headline(event.kind) {
        return Ok(());
    }
    let Some((incident, roles, last)) = view(ctx, event.incident).await? else {
        return Ok(());
    };
    let Some((room, message)) = headline_of(&incident)? else {
        return Ok(());
    };
    let caps = ctx
        .capabilities(room.backend())
        .unwrap_or_else(Capabilities::minimal);
    let threaded = match HeadlineChange::decide(&caps) {
        HeadlineChange::Edit => {
            let new = render(
                &incident,
                &roles,
                last.as_ref(),
                settings,
                &caps,
                ctx.prefix(),
            );
            match ctx
                .chat()
                .edit(&Target::room(room.clone()), &message, &new)
                .await
            {
                Ok(()) => return Ok(()),
                Err(err) => {
                    tracing::warn!(error = %err, incident = incident.id,
                        "editing the headline failed; posting a change line");
                    caps.threads
                }
            }
        }
        HeadlineChange::ChangeLine { threaded } => threaded,
    };
    let line = change_line(&incident, event);
    let target = match thread_of(&room, &message).filter(|_| threaded) {
        Some(thread) => Target::thread(room, thread),
        None => Target::room(room),
    };
    // Not awaited: the outbox keeps the room's order and logs what it cannot deliver.
    drop(ctx.send(target, line));
    Ok(())
}
