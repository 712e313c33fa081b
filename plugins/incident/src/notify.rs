//! Subscriber notifications (Argus notification profiles): after a change is committed, every
//! active subscription whose filter matches the incident *as it is now* (severity, tags with
//! Argus semantics, source, origin, open/acked/stateful) and the event's kind, inside one of
//! its timeslots, gets one line — by direct message or in its room. Private incidents notify
//! nobody. Delivery failures are logged and never undo or fail the change.
//!
//! [`after_change_logged`] is the one hook after every change: it also brings the headline
//! post and the incident room's topic up to date.

use ferrbot::context::PluginContext;

use crate::config::Config;
use ferrbot::id::{RoomId, Target, UserId};
use jiff::Timestamp;

use crate::model::{Destination, Incident, State, Subscription, TimelineEvent, is_acked};
use crate::store::{self, DbError, IncidentStore};
use crate::util::tags::{Tag, TagFilter};
use crate::util::timeslot::Timeslot;

/// Whether `sub` wants to hear about `event` on `incident` at `now` (`acked`: the incident's
/// ack state now).
pub fn wants(
    sub: &Subscription,
    incident: &Incident,
    acked: bool,
    event: &TimelineEvent,
    now: Timestamp,
) -> bool {
    let f = &sub.filter;
    if !sub.active || incident.private {
        return false;
    }
    if !f.events.is_empty() && !f.events.contains(&event.kind) {
        return false;
    }
    if f.max_severity
        .is_some_and(|n| incident.severity.is_none_or(|s| s.0 > n))
        || (!f.sources.is_empty()
            && !incident
                .source
                .as_ref()
                .is_some_and(|s| f.sources.contains(s)))
        || f.origin.is_some_and(|o| o != incident.origin)
        || f.open.is_some_and(|o| o != incident.state.is_open())
        || f.acked.is_some_and(|a| a != acked)
        || f.stateful
            .is_some_and(|s| s != (incident.state != State::Stateless))
    {
        return false;
    }
    let tags: Vec<Tag> = f.tags.iter().filter_map(|t| Tag::parse(t).ok()).collect();
    let slots: Vec<Timeslot> = sub
        .timeslots
        .iter()
        .filter_map(|t| Timeslot::parse(t).ok())
        .collect();
    crate::auto::subscriptions::matches(&TagFilter::new(tags), &slots, &incident.tags, now)
}

/// The line a subscriber gets.
pub fn line(incident: &Incident, event: &TimelineEvent, sub: &Subscription) -> String {
    let sev = incident
        .severity
        .map_or_else(|| "no severity".to_owned(), |s| format!("sev{}", s.0));
    format!(
        "🔔 #{} {} ({sev}, {}): {} — {} [S{}]",
        incident.id, incident.title, incident.state, event.text, event.actor, sub.id
    )
}

fn target_of(d: &Destination) -> Option<Target> {
    match d {
        Destination::Direct(user) => user.parse::<UserId>().ok().map(Target::direct),
        Destination::Room(room) => room.parse::<RoomId>().ok().map(Target::room),
    }
}

/// Notifies the subscribers of `event`; returns how many were sent. Never fails the caller:
/// storage errors are returned for logging only.
///
/// # Errors
/// When reading the incident or the subscriptions fails.
pub async fn after_change(ctx: &PluginContext, event: &TimelineEvent) -> Result<usize, DbError> {
    let store = IncidentStore::new(ctx.db().clone());
    let now = ctx.now();
    let (incident, acks, subs) = {
        let mut c = store.read().await?;
        let Some(incident) = store::incident(&mut c, event.incident).await? else {
            return Ok(0);
        };
        let acks = store::acks(&mut c, incident.id).await?;
        let subs = store::subscriptions(&mut c).await?;
        (incident, acks, subs)
    };
    let acked = is_acked(&acks, now);
    let mut sent = 0;
    for sub in subs
        .iter()
        .filter(|s| wants(s, &incident, acked, event, now))
    {
        match target_of(&sub.destination) {
            Some(target) => {
                ctx.send(target, line(&incident, event, sub));
                sent += 1;
            }
            None => tracing::warn!(
                subscription = sub.id,
                "subscription destination is not an id"
            ),
        }
    }
    Ok(sent)
}

/// Everything that follows a committed change, failures logged: subscriber notification
/// ([`after_change`]), the headline post ([`crate::auto::headline::after_change`]) and the
/// incident room's topic ([`crate::auto::rooms::after_change`]). Called by every command
/// that changes an incident and by the ack-expiry job.
pub async fn after_change_logged(config: &Config, ctx: &PluginContext, event: &TimelineEvent) {
    let settings = crate::auto::headline::Settings::from_config(config);
    if let Err(err) = after_change(ctx, event).await {
        tracing::warn!(error = %err, event = event.id, "notifying subscribers failed");
    }
    if let Err(err) = crate::auto::headline::after_change(&settings, ctx, event).await {
        tracing::warn!(error = %err, event = event.id, "updating the headline failed");
    }
    if let Err(err) = crate::auto::rooms::after_change(ctx, event).await {
        tracing::warn!(error = %err, event = event.id, "updating the room topic failed");
    }
}
