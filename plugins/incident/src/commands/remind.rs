//! `snooze <duration> [reminder]` and `snooze off [reminder]`: hold an incident's reminders
//! (all, or one kind) for a while (Dispatch "remind again"). The job in
//! [`crate::auto::reminder_jobs`] honours it; the state lives in `incident_reminders`.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use jiff::SignedDuration;
use serde_json::json;

use super::{App, Target, require_edit, store_of, target, when, who};
use crate::auto::reminder_jobs::{Kind, SNOOZABLE};
use crate::model::{EventKind, NewEvent};
use crate::store;
use crate::util::time::{format_duration, parse_duration};

/// Snooze the incident's reminders: `snooze 30m`, `snooze 2h no_lead`, `snooze off`.
///
/// Reminders: no_severity, no_lead, update_due, still_open, overdue_tasks (short forms:
/// severity, lead, update, open, tasks). Without one, all are snoozed.
#[derive(clap::Parser, Debug)]
#[command(name = "incident snooze")]
pub struct Snooze {
    #[command(flatten)]
    target: Target,
    /// DURATION (30m, 2h, 1d) or `off`, and optionally which reminder, in any order.
    #[arg(allow_hyphen_values = true)]
    words: Vec<String>,
}

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    super::specs_for(app, "snooze", &[], snooze)
}

enum Until {
    For(SignedDuration),
    Off,
}

fn read_words(app: &App, words: &[String]) -> Result<(Until, Option<Kind>), CommandError> {
    let mut until = None;
    let mut kind = None;
    for w in words {
        if let Some(k) = Kind::parse(w) {
            if !SNOOZABLE.contains(&k) {
                return Err(CommandError::user(format!(
                    "the {} reminder is sent once and cannot be snoozed; snoozable: {}",
                    k.key(),
                    Kind::snoozable_list()
                )));
            }
            kind = Some(k);
        } else if w.eq_ignore_ascii_case("off") {
            until = Some(Until::Off);
        } else {
            let max = app.config.reminders.max_snooze;
            if w.strip_prefix('-')
                .is_some_and(|d| parse_duration(d).is_ok())
            {
                return Err(CommandError::user(format!(
                    "a snooze must be longer than zero, not negative (at most {})",
                    format_duration(max)
                )));
            }
            let d = parse_duration(w).map_err(|e| {
                CommandError::user(format!(
                    "`{w}` is neither a duration nor a reminder ({e}); reminders: {}",
                    Kind::snoozable_list()
                ))
                .with_hint("`snooze 30m`, `snooze 2h no_lead`, `snooze off`")
            })?;
            if !d.is_positive() {
                return Err(CommandError::user(format!(
                    "a snooze must be longer than zero (at most {})",
                    format_duration(max)
                )));
            }
            if d > max {
                return Err(CommandError::user(format!(
                    "a snooze of {} is too long: at most {} (`max_snooze`)",
                    format_duration(d),
                    format_duration(max)
                )));
            }
            until = Some(Until::For(d));
        }
    }
    let Some(until) = until else {
        return Err(CommandError::user(
            "how long? `snooze 30m`, `snooze 2h no_lead`, or `snooze off`",
        ));
    };
    Ok((until, kind))
}

async fn snooze(app: Arc<App>, a: Snooze, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let (until, kind) = read_words(&app, &a.words)?;
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    if !incident.state.is_open() {
        return Err(CommandError::user(format!(
            "#{} is {}: its reminders have stopped",
            incident.id, incident.state
        )));
    }
    require_edit(&app, &ctx, &mut tx, &incident, "snooze the reminders of").await?;
    let kinds: Vec<Kind> = kind.map_or_else(|| SNOOZABLE.to_vec(), |k| vec![k]);
    let at = match until {
        Until::For(d) => Some(now + d),
        Until::Off => None,
    };
    for k in &kinds {
        store::set_reminder_snooze(&mut tx, incident.id, k.key(), at).await?;
    }
    let what = match kind {
        Some(k) => format!("reminder {}", k.key()),
        None => "reminders".to_owned(),
    };
    let text = match at {
        Some(t) => format!("{what} snoozed until {}", when(&app, t)),
        None => format!("{what} no longer snoozed"),
    };
    store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, who(&ctx), EventKind::Reminder, text.clone()).data(json!({
            "snoozed_until": at.map(|t| t.to_string()),
            "reminders": kinds.iter().map(|k| k.key()).collect::<Vec<_>>(),
        })),
        now,
    )
    .await?;
    store::commit(tx).await?;
    Ok(Reply::text(format!("#{} {text}.", incident.id)))
}
