//! The reminder job: on every tick (from the bot's clock, so tests drive it with the
//! ManualClock) it looks at the open incidents and recently resolved ones and sends what is
//! due — no severity, no lead, status update due, "still open?", overdue tasks, and once after
//! resolve "write the report".
//!
//! Progress is persisted per incident and reminder in `incident_reminders` (last send, count,
//! snoozed until) before the message is queued, so a restart neither repeats nor loses one.
//! The timing rules are [`super::reminders::Schedule`]'s; the switches, intervals and quiet
//! hours come from [`crate::config::Reminders`].

use ferrbot::context::PluginContext;
use ferrbot::id::{RoomId, Target, ThreadId, UserId};
use jiff::{SignedDuration, Timestamp};

use super::reminders::{Cadence, Schedule};
use crate::config::Config;
use crate::model::{Incident, ReminderState, State, TaskStatus};
use crate::store::{self, DbError, IncidentStore};
use crate::util::time::{format_duration, format_ts};

/// The kinds of reminder, as named in messages, in `snooze` and in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The incident has no severity (every 5 min, 5 times).
    NoSeverity,
    /// The incident has no lead (every 2 min, 5 times).
    NoLead,
    /// A status update is due (per severity, until one is posted).
    UpdateDue,
    /// "Still open?" (daily in working hours, 5 times).
    StillOpen,
    /// A task is past its due time (daily, 3 times per task).
    OverdueTasks,
    /// After resolve: "write the report" (once).
    WriteReport,
    /// Two working days after resolve, the review is still not done (once).
    ReviewDue,
}

/// The kinds `snooze` acts on (all but the one-off report DM).
pub const SNOOZABLE: [Kind; 5] = [
    Kind::NoSeverity,
    Kind::NoLead,
    Kind::UpdateDue,
    Kind::StillOpen,
    Kind::OverdueTasks,
];

impl Kind {
    /// The stored and shown name.
    pub fn key(self) -> &'static str {
        match self {
            Kind::NoSeverity => "no_severity",
            Kind::NoLead => "no_lead",
            Kind::UpdateDue => "update_due",
            Kind::StillOpen => "still_open",
            Kind::OverdueTasks => "overdue_tasks",
            Kind::WriteReport => "write_report",
            Kind::ReviewDue => "review_due",
        }
    }

    /// A kind typed by a user: its name or a short form (`lead`, `severity`, `update`,
    /// `open`, `tasks`).
    pub fn parse(text: &str) -> Option<Kind> {
        let t = text.trim().to_lowercase().replace('-', "_");
        Some(match t.as_str() {
            "no_severity" | "severity" | "sev" => Kind::NoSeverity,
            "no_lead" | "lead" => Kind::NoLead,
            "update_due" | "update" | "updates" => Kind::UpdateDue,
            "still_open" | "open" => Kind::StillOpen,
            "overdue_tasks" | "tasks" | "task" | "overdue" => Kind::OverdueTasks,
            "write_report" | "report" => Kind::WriteReport,
            "review_due" | "review" => Kind::ReviewDue,
            _ => return None,
        })
    }

    /// The names `snooze` accepts, for error messages.
    pub fn snoozable_list() -> String {
        SNOOZABLE
            .iter()
            .map(|k| k.key())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The store key of one task's overdue reminder.
fn task_key(number: u64) -> String {
    format!("{}:T{number}", Kind::OverdueTasks.key())
}

/// How long a resolved incident still gets its "write the report" DM (covers a bot that was
/// down when it was resolved).
const REPORT_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// How long after its resolution an incident is still looked at (the review reminder).
const RESOLVED_WINDOW: SignedDuration = SignedDuration::from_hours(14 * 24);

/// The review reminder comes this many working days (Monday to Friday) after the resolution.
const REVIEW_AFTER_WORKING_DAYS: u32 = 2;

/// `t` plus `days` working days (Saturdays and Sundays skipped), read in `tz`.
pub fn add_working_days(t: Timestamp, days: u32, tz: &jiff::tz::TimeZone) -> Timestamp {
    let mut z = t.to_zoned(tz.clone());
    let mut left = days;
    while left > 0 {
        let Ok(next) = z.checked_add(jiff::Span::new().days(1)) else {
            break;
        };
        z = next;
        if !matches!(
            z.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) {
            left -= 1;
        }
    }
    z.timestamp()
}

/// One reminder that may be due.
struct Candidate {
    key: String,
    /// The kind row whose snooze also applies (tasks), if different from `key`.
    snooze_key: Option<&'static str>,
    cadence: Cadence,
    since: Timestamp,
    /// Only in working hours.
    working_hours_only: bool,
    /// Start over when the condition came back after the last send (a new status update).
    reset_before: Option<Timestamp>,
    targets: Vec<Target>,
    /// Where direct messages go on a backend without them.
    place: Option<Target>,
    text: String,
}

fn user_target(user: &str) -> Option<Target> {
    user.parse::<UserId>().ok().map(Target::direct)
}

/// Where the incident's room reminders go: its room (and thread), else the announce room
/// (with the thread when the incident lives in one), else the reporter by DM. A private
/// incident is never reminded about in the announce room (nor a thread there): its lead, else
/// its reporter, gets a DM instead.
pub fn place(incident: &Incident, config: &Config) -> Option<Target> {
    let room = incident
        .room
        .as_deref()
        .or(config.announce_room.as_deref())
        .filter(|r| !incident.private || Some(*r) != config.announce_room.as_deref())
        .and_then(|r| r.parse::<RoomId>().ok());
    if room.is_none() && incident.private {
        return incident
            .lead
            .as_deref()
            .or(incident.reporter.as_deref())
            .and_then(user_target);
    }
    if let Some(room) = room {
        let thread = incident
            .thread
            .as_deref()
            .and_then(|t| t.parse::<ThreadId>().ok())
            .filter(|t| t.backend() == room.backend());
        return Some(match thread {
            Some(thread) => Target::thread(room, thread),
            None => Target::room(room),
        });
    }
    incident.reporter.as_deref().and_then(user_target)
}

/// The lead by DM, else `fallback`.
fn lead_or(incident: &Incident, fallback: Option<Target>) -> Vec<Target> {
    incident
        .lead
        .as_deref()
        .and_then(user_target)
        .or(fallback)
        .into_iter()
        .collect()
}

fn snooze_hint(prefix: &str, incident: &Incident, kind: Kind) -> String {
    format!(
        "snooze: `{prefix}inc snooze #{} 30m {}`",
        incident.id,
        kind.key()
    )
}

fn open_candidates(
    ctx: &PluginContext,
    config: &Config,
    incident: &Incident,
    last_update: Option<Timestamp>,
    tasks: &[crate::model::Task],
    comms: &[String],
    now: Timestamp,
) -> Vec<Candidate> {
    let r = &config.reminders;
    let p = ctx.prefix();
    let id = incident.id;
    let name = format!("#{id} {}", incident.title);
    let place = place(incident, config);
    let mut out = Vec::new();
    if r.no_severity && incident.severity.is_none() {
        out.push(Candidate {
            key: Kind::NoSeverity.key().to_owned(),
            snooze_key: None,
            cadence: Cadence::NO_SEVERITY,
            since: incident.reported_at,
            working_hours_only: false,
            reset_before: None,
            targets: place.iter().cloned().collect(),
            place: place.clone(),
            text: format!(
                "⏰ {name} has no severity yet. Set it: `{p}inc severity #{id} <level>` \
                 (levels: {}). Reminder {}; {}.",
                config.severities.valid_list(),
                Kind::NoSeverity.key(),
                snooze_hint(p, incident, Kind::NoSeverity)
            ),
        });
    }
    if r.no_lead && incident.lead.is_none() {
        out.push(Candidate {
            key: Kind::NoLead.key().to_owned(),
            snooze_key: None,
            cadence: Cadence::NO_LEAD,
            since: incident.reported_at,
            working_hours_only: false,
            reset_before: None,
            targets: place.iter().cloned().collect(),
            place: place.clone(),
            text: format!(
                "⏰ {name} has no lead yet. Take it: `{p}inc lead #{id}`. Reminder {}; {}.",
                Kind::NoLead.key(),
                snooze_hint(p, incident, Kind::NoLead)
            ),
        });
    }
    if r.update_due
        && let Some(sev) = incident.severity
        && let Some(every) = r.update_every(sev.0)
    {
        let since = last_update.map_or(incident.reported_at, |u| u.max(incident.reported_at));
        let last = last_update.map_or_else(
            || "none yet".to_owned(),
            |u| format_ts(u, config.timezone.as_ref()),
        );
        out.push(Candidate {
            key: Kind::UpdateDue.key().to_owned(),
            snooze_key: None,
            cadence: Cadence { every, max: None },
            since,
            working_hours_only: false,
            reset_before: last_update,
            targets: {
                // The lead and whoever holds `comms` (Dispatch).
                let mut t = lead_or(incident, place.clone());
                for user in comms {
                    if incident.lead.as_deref() != Some(user.as_str())
                        && let Some(target) = user_target(user)
                    {
                        t.push(target);
                    }
                }
                t
            },
            place: place.clone(),
            text: format!(
                "⏰ {name}: a status update is due (sev{}: every {}; last update: {last}). \
                 Post one: `{p}inc update #{id} <text>`. Reminder {}; {}.",
                sev.0,
                format_duration(every),
                Kind::UpdateDue.key(),
                snooze_hint(p, incident, Kind::UpdateDue)
            ),
        });
    }
    if r.still_open {
        let reporter = incident.reporter.as_deref().and_then(user_target);
        out.push(Candidate {
            key: Kind::StillOpen.key().to_owned(),
            snooze_key: None,
            cadence: Cadence {
                every: SignedDuration::from_hours(24),
                max: Some(5),
            },
            since: incident.reported_at,
            working_hours_only: true,
            reset_before: None,
            targets: lead_or(incident, reporter.or(place.clone())),
            place: place.clone(),
            text: format!(
                "⏰ {name} has been open for {}. Is it still open? Resolve it with \
                 `{p}inc resolve #{id}`, or post an update. Reminder {}; {}.",
                format_duration(now.duration_since(incident.started_at)),
                Kind::StillOpen.key(),
                snooze_hint(p, incident, Kind::StillOpen)
            ),
        });
    }
    if r.overdue_tasks {
        for task in tasks {
            let Some(due) = task.due_at else { continue };
            if task.status != TaskStatus::Open || due > now {
                continue;
            }
            let every = SignedDuration::from_hours(24);
            let mut targets: Vec<Target> = task
                .assignees
                .iter()
                .filter_map(|a| user_target(a))
                .collect();
            if targets.is_empty() {
                targets = lead_or(incident, place.clone());
            }
            out.push(Candidate {
                key: task_key(task.number),
                snooze_key: Some(Kind::OverdueTasks.key()),
                cadence: Cadence {
                    every,
                    max: Some(3),
                },
                // The first one at the due time, then daily.
                since: due.checked_sub(every).unwrap_or(due),
                working_hours_only: false,
                reset_before: None,
                targets,
                place: place.clone(),
                text: format!(
                    "⏰ {name}: task T{} \"{}\" was due at {}. Done? `{p}inc task done #{id} T{}`. \
                     Reminder {}; {}.",
                    task.number,
                    task.text,
                    format_ts(due, config.timezone.as_ref()),
                    task.number,
                    Kind::OverdueTasks.key(),
                    snooze_hint(p, incident, Kind::OverdueTasks)
                ),
            });
        }
    }
    out
}

fn report_candidate(ctx: &PluginContext, config: &Config, incident: &Incident) -> Candidate {
    let p = ctx.prefix();
    let id = incident.id;
    let reporter = incident.reporter.as_deref().and_then(user_target);
    Candidate {
        key: Kind::WriteReport.key().to_owned(),
        snooze_key: None,
        cadence: Cadence {
            every: SignedDuration::ZERO,
            max: Some(1),
        },
        since: incident.resolved_at.unwrap_or(incident.reported_at),
        working_hours_only: false,
        reset_before: None,
        targets: lead_or(incident, reporter.or_else(|| place(incident, config))),
        place: place(incident, config),
        text: format!(
            "📝 #{id} {} is resolved — please write the report. `{p}inc report #{id}` gives \
             the draft (timeline, updates, tasks, durations); link the review with \
             `{p}inc review #{id} <url>`.",
            incident.title
        ),
    }
}

/// Whether `target` is a direct message on a backend that has none.
fn undeliverable(ctx: &PluginContext, target: &Target) -> bool {
    matches!(target, Target::Direct { user }
        if ctx.capabilities(user.backend()).is_some_and(|c| !c.direct_messages))
}

/// Sends `text` to each target; direct messages on a backend without them go once to
/// `place`, naming the people they were for.
fn deliver(ctx: &PluginContext, targets: Vec<Target>, place: Option<Target>, text: &str) {
    let mut instead = Vec::new();
    for target in targets {
        if undeliverable(ctx, &target) {
            if let Target::Direct { user } = &target {
                instead.push(user.to_string());
            }
            continue;
        }
        ctx.send(target, text.to_owned());
    }
    if instead.is_empty() {
        return;
    }
    match place.filter(|p| !undeliverable(ctx, p)) {
        Some(place) => {
            ctx.send(place, format!("{text} (for {})", instead.join(", ")));
        }
        None => tracing::warn!(
            users = %instead.join(", "),
            "reminder not delivered: no direct messages and no room to post it in"
        ),
    }
}

fn review_candidate(
    ctx: &PluginContext,
    config: &Config,
    incident: &Incident,
) -> Option<Candidate> {
    let resolved = incident.resolved_at?;
    let p = ctx.prefix();
    let id = incident.id;
    let tz = config.timezone.clone().unwrap_or(jiff::tz::TimeZone::UTC);
    let reporter = incident.reporter.as_deref().and_then(user_target);
    Some(Candidate {
        key: Kind::ReviewDue.key().to_owned(),
        snooze_key: None,
        cadence: Cadence {
            every: SignedDuration::ZERO,
            max: Some(1),
        },
        since: add_working_days(resolved, REVIEW_AFTER_WORKING_DAYS, &tz),
        working_hours_only: false,
        reset_before: None,
        targets: lead_or(incident, reporter.or_else(|| place(incident, config))),
        place: place(incident, config),
        text: format!(
            "📝 #{id} {}: the post-incident review is still {} (resolved {}). Link the \
             document with `{p}inc review #{id} <url>`, or `{p}inc review #{id} done`.",
            incident.title,
            incident.review,
            format_ts(resolved, config.timezone.as_ref())
        ),
    })
}

fn schedule_of(row: Option<&ReminderState>) -> Schedule {
    row.map_or_else(Schedule::default, |r| Schedule {
        last_sent_at: r.last_sent_at,
        count: r.count,
        snoozed_until: r.snoozed_until,
    })
}

/// The schedule after a send if `cand` is due at `now` given the stored `rows`.
fn due_schedule(
    cand: &Candidate,
    rows: &[ReminderState],
    config: &Config,
    now: Timestamp,
) -> Option<Schedule> {
    if cand.targets.is_empty()
        || (cand.working_hours_only
            && config
                .reminders
                .working_hours
                .as_ref()
                .is_some_and(|w| !w.contains(now)))
    {
        return None;
    }
    let mut schedule = schedule_of(rows.iter().find(|r| r.key == cand.key));
    if let Some(kind_row) = cand
        .snooze_key
        .and_then(|k| rows.iter().find(|r| r.key == k))
    {
        schedule.snoozed_until = schedule.snoozed_until.max(kind_row.snoozed_until);
    }
    if cand
        .reset_before
        .is_some_and(|u| schedule.last_sent_at.is_some_and(|l| u > l))
    {
        let snoozed_until = schedule.snoozed_until;
        schedule.reset();
        schedule.snoozed_until = snoozed_until;
    }
    let quiet = config.reminders.quiet_hours.as_ref();
    if !schedule.is_due(cand.cadence, cand.since, now, quiet) {
        return None;
    }
    schedule.sent(now);
    Some(schedule)
}

/// Runs one round: sends every reminder due at `ctx.now()`; returns how many were sent.
///
/// # Errors
/// When the database fails (what was sent before stays recorded).
pub async fn tick(ctx: &PluginContext, config: &Config) -> Result<usize, DbError> {
    let now = ctx.now();
    let store = IncidentStore::new(ctx.db().clone());
    let mut plans: Vec<(u64, Vec<Candidate>)> = Vec::new();
    {
        let mut c = store.read().await?;
        let window = now.checked_sub(REPORT_WINDOW).unwrap_or(now);
        let resolved_window = now.checked_sub(RESOLVED_WINDOW).unwrap_or(now);
        for incident in store::incidents(&mut c, &[], Some(resolved_window)).await? {
            if incident.retro || incident.state == State::Stateless {
                continue;
            }
            let candidates = if incident.state.is_open() {
                let last_update = store::updates(&mut c, incident.id)
                    .await?
                    .iter()
                    .map(|u| u.at)
                    .max();
                let tasks = store::tasks(&mut c, incident.id).await?;
                let comms: Vec<String> = store::roles(&mut c, incident.id)
                    .await?
                    .into_iter()
                    .filter(|r| r.until.is_none() && r.role == "comms")
                    .map(|r| r.user)
                    .collect();
                open_candidates(ctx, config, &incident, last_update, &tasks, &comms, now)
            } else if incident.state == State::Resolved && !incident.false_alarm {
                let mut v = Vec::new();
                if config.reminders.write_report
                    && incident.resolved_at.is_some_and(|r| r >= window)
                {
                    v.push(report_candidate(ctx, config, &incident));
                }
                if config.reminders.review_due && incident.review != crate::model::Review::Done {
                    v.extend(review_candidate(ctx, config, &incident));
                }
                v
            } else {
                Vec::new()
            };
            if candidates.is_empty() {
                continue;
            }
            // Only what is due now goes on to the write transaction.
            let rows = store::reminders(&mut c, incident.id).await?;
            let due: Vec<Candidate> = candidates
                .into_iter()
                .filter(|cand| due_schedule(cand, &rows, config, now).is_some())
                .collect();
            if !due.is_empty() {
                plans.push((incident.id, due));
            }
        }
    }
    let mut sent = 0;
    for (incident, candidates) in plans {
        for cand in candidates {
            // Decide again and record under the write lock, then queue the message.
            let mut tx = store.begin().await?;
            let rows = store::reminders(&mut tx, incident).await?;
            let Some(schedule) = due_schedule(&cand, &rows, config, now) else {
                continue;
            };
            let own = rows.iter().find(|r| r.key == cand.key);
            store::put_reminder(
                &mut tx,
                &ReminderState {
                    incident,
                    key: cand.key.clone(),
                    last_sent_at: schedule.last_sent_at,
                    count: schedule.count,
                    snoozed_until: own.and_then(|r| r.snoozed_until),
                },
            )
            .await?;
            store::commit(tx).await?;
            let text = match cand.cadence.max {
                Some(max) if max > 1 => format!("{} ({} of {max})", cand.text, schedule.count),
                _ => cand.text.clone(),
            };
            deliver(ctx, cand.targets, cand.place, &text);
            tracing::debug!(incident, reminder = %cand.key, count = schedule.count, "reminder sent");
            sent += 1;
        }
    }
    Ok(sent)
}

/// How often the reminder job looks (reminders are minutes apart; the clock decides).
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Schedules the reminder job on the bot's scheduler ([`tick`] every [`EVERY`]).
pub fn schedule(ctx: &PluginContext, app: std::sync::Arc<crate::commands::App>) {
    let job_ctx = ctx.clone();
    ctx.every("reminders", EVERY, move || {
        let ctx = job_ctx.clone();
        let app = app.clone();
        async move {
            if let Err(err) = tick(&ctx, &app.config).await {
                tracing::warn!(error = %err, "sending incident reminders failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_name_and_short_form() {
        for k in SNOOZABLE
            .iter()
            .chain([Kind::WriteReport, Kind::ReviewDue].iter())
        {
            assert_eq!(Kind::parse(k.key()), Some(*k));
        }
        assert_eq!(Kind::parse("lead"), Some(Kind::NoLead));
        assert_eq!(Kind::parse("No-Severity"), Some(Kind::NoSeverity));
        assert_eq!(Kind::parse("tasks"), Some(Kind::OverdueTasks));
        assert_eq!(Kind::parse("30m"), None);
        assert_eq!(task_key(3), "overdue_tasks:T3");
    }

    #[test]
    fn working_days_skip_the_weekend() {
        let utc = jiff::tz::TimeZone::UTC;
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        // 2026-01-01 is a Thursday.
        assert_eq!(
            add_working_days(at("2026-01-01T10:00:00Z"), 2, &utc),
            at("2026-01-05T10:00:00Z")
        );
        assert_eq!(
            add_working_days(at("2026-01-02T10:00:00Z"), 1, &utc),
            at("2026-01-05T10:00:00Z")
        );
        assert_eq!(
            add_working_days(at("2026-01-03T10:00:00Z"), 2, &utc),
            at("2026-01-06T10:00:00Z")
        );
        assert_eq!(
            add_working_days(at("2026-01-05T10:00:00Z"), 2, &utc),
            at("2026-01-07T10:00:00Z")
        );
    }
}
