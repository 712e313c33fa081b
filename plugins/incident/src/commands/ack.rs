//! `ack [30m | until T] [note…]` and `unack` (Argus acknowledgements: an expiry must be in
//! the future, expired acks are read-only), and the job that records expiries.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use jiff::Timestamp;
use serde_json::json;

use super::{App, Target, parse_time, store_of, target, when, who};
use crate::model::{Ack, EventKind, NewEvent, TimelineEvent, check_text};
use crate::reference;
use crate::store::{self, DbError, IncidentStore};
use crate::util::time::parse_duration;

/// Acknowledge the incident: `ack`, `ack 30m looking`, `ack until 14:00 on it`, or several
/// at once: `ack 12 13 14`.
///
/// Without a duration the ack lasts until resolved (or `ack_default_expiry` from config).
#[derive(clap::Parser, Debug)]
#[command(name = "incident ack")]
pub struct AckCmd {
    #[command(flatten)]
    target: Target,
    /// [DURATION | until TIME] [note…].
    words: Vec<String>,
}

/// Withdraw your acknowledgement.
#[derive(clap::Parser, Debug)]
#[command(name = "incident unack")]
pub struct Unack {
    #[command(flatten)]
    target: Target,
}

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut v = super::specs_for(app, "ack", &[], ack);
    v.extend(super::specs_for(app, "unack", &[], unack));
    v
}

async fn ack(app: Arc<App>, a: AckCmd, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let mut words = a.words.as_slice();
    let mut expires_at = app.config.ack_default_expiry.map(|d| now + d);
    if let Some(first) = words.first() {
        if first.eq_ignore_ascii_case("until") {
            let Some(t) = words.get(1) else {
                return Err(CommandError::user(
                    "`until` needs a time (14:05, 2026-03-04 14:05)",
                ));
            };
            let at = parse_time(&app, &ctx, t)?;
            if at <= now {
                return Err(CommandError::user(format!(
                    "the acknowledgement would expire at {}, which is not in the future; \
                     an acknowledgement must expire later than now",
                    when(&app, at)
                )));
            }
            expires_at = Some(at);
            words = &words[2..];
        } else if let Ok(d) = parse_duration(first) {
            if !d.is_positive() {
                return Err(CommandError::user(
                    "an acknowledgement must expire later than now",
                ));
            }
            expires_at = Some(now + d);
            words = &words[1..];
        }
    }
    // Bulk (`ack 12 13 14`, Opsgenie): every remaining word is an incident reference.
    let bulk: Vec<String> =
        if !words.is_empty() && words.iter().all(|w| reference::parse(w).is_some()) {
            let mut refs: Vec<String> = a.target.incident.iter().cloned().collect();
            refs.extend(words.iter().cloned());
            words = &[];
            refs
        } else {
            Vec::new()
        };
    let note = check_text("note", &words.join(" "), false).map_err(super::user_err)?;
    let text = match expires_at {
        Some(t) => format!("acknowledged until {}", when(&app, t)),
        None => "acknowledged".to_owned(),
    };
    let text = if note.is_empty() {
        text
    } else {
        format!("{text}: {note}")
    };
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incidents = Vec::new();
    if bulk.is_empty() {
        incidents.push(target(&ctx, &mut tx, a.target.incident.as_deref()).await?);
    } else {
        for r in &bulk {
            let incident = target(&ctx, &mut tx, Some(r)).await?;
            if !incidents
                .iter()
                .any(|i: &crate::model::Incident| i.id == incident.id)
            {
                incidents.push(incident);
            }
        }
    }
    // All of them or none: one transaction.
    let mut events = Vec::new();
    for incident in &incidents {
        let event = store::append_event(
            &mut tx,
            incident.id,
            NewEvent::new(now, me.clone(), EventKind::Ack, text.clone())
                .data(json!({"expires_at": expires_at.map(|t| t.to_string())})),
            now,
        )
        .await?;
        store::insert_ack(
            &mut tx,
            &Ack {
                id: 0,
                incident: incident.id,
                event: event.id,
                user: me.clone(),
                note: (!note.is_empty()).then(|| note.clone()),
                created_at: now,
                expires_at,
                withdrawn_at: None,
                expiry_recorded: false,
            },
        )
        .await?;
        if incident.first_ack_at.is_none() {
            let mut incident = incident.clone();
            incident.first_ack_at = Some(now);
            store::save_incident(&mut tx, &incident).await?;
        }
        events.push(event);
    }
    store::commit(tx).await?;
    for event in &events {
        crate::notify::after_change_logged(&app.config, &ctx, event).await;
    }
    let ids: Vec<String> = incidents.iter().map(|i| format!("#{}", i.id)).collect();
    Ok(Reply::text(format!("{} {text}.", ids.join(", "))))
}

async fn unack(app: Arc<App>, a: Unack, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    let acks = store::acks(&mut tx, incident.id).await?;
    let mine: Vec<&Ack> = acks
        .iter()
        .filter(|x| x.user == me && x.withdrawn_at.is_none())
        .collect();
    let active: Vec<&Ack> = mine.iter().copied().filter(|x| x.is_active(now)).collect();
    if active.is_empty() {
        if let Some(expired) = mine.iter().filter_map(|x| x.expires_at).max() {
            return Err(CommandError::user(format!(
                "your acknowledgement of #{} expired at {}; expired acknowledgements cannot be changed",
                incident.id,
                when(&app, expired)
            )));
        }
        return Err(CommandError::user(format!(
            "you have no acknowledgement on #{} to withdraw",
            incident.id
        )));
    }
    for x in active {
        let mut x = x.clone();
        x.withdrawn_at = Some(now);
        store::save_ack(&mut tx, &x).await?;
    }
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me, EventKind::Unack, "acknowledgement withdrawn"),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!(
        "#{} acknowledgement withdrawn.",
        incident.id
    )))
}

/// Records an `ack_expired` event for every ack that expired by `now` (once each: the ack
/// is marked in the same transaction, so neither a rerun nor a restart repeats it); returns
/// the events to re-notify subscribers of — one per incident (the latest), and none for an
/// incident that is no longer open (an ack running out after the resolution is recorded, but
/// nobody needs to act on it).
///
/// # Errors
/// When the database fails; nothing of that ack is written then.
pub async fn record_expired(
    store: &IncidentStore,
    now: Timestamp,
) -> Result<Vec<TimelineEvent>, DbError> {
    let expired = {
        let mut c = store.read().await?;
        store::expired_acks(&mut c, now).await?
    };
    let mut done: Vec<TimelineEvent> = Vec::new();
    for ack in expired {
        let mut tx = store.begin().await?;
        // Under the write lock: another run may have recorded it meanwhile.
        if !store::mark_expiry_recorded(&mut tx, ack.id).await? {
            continue;
        }
        let open = store::incident(&mut tx, ack.incident)
            .await?
            .is_some_and(|i| i.state.is_open() || i.state == crate::model::State::Stateless);
        let at = ack.expires_at.unwrap_or(now);
        let event = store::append_event(
            &mut tx,
            ack.incident,
            NewEvent::new(
                at,
                "bot",
                EventKind::AckExpired,
                format!("acknowledgement by {} expired", ack.user),
            )
            .data(json!({"ack": ack.id, "user": ack.user})),
            now,
        )
        .await?;
        store::commit(tx).await?;
        if open {
            done.retain(|e| e.incident != event.incident);
            done.push(event);
        }
    }
    Ok(done)
}
