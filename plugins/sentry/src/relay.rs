//! From an accepted payload to chat: storm control, mentions, threads, and the periodic flush.
//!
//! The HTTP handler calls [`relay`], which only touches the store and queues messages
//! (`ctx.send` returns at once); waiting for a delivery, edits and notes run in background
//! tasks, never while a lock is held.

use std::time::Duration;

use ferrbot::backend::{BackendError, Capabilities};
use ferrbot::id::{RoomId, Target, ThreadId, UserId};
use ferrbot::store::StoreError;

use crate::App;
use crate::config::MentionPolicy;
use crate::format;
use crate::mentions;
use crate::payload::{Alert, Notice, NoticeKind, Payload};
use crate::storm::{self, StormState, ThreadRecord};

/// Where an accepted payload goes.
#[derive(Clone, Debug)]
pub struct Destination {
    /// The route label (for logs, status and metrics).
    pub route: String,
    /// The room.
    pub room: RoomId,
    /// Users mentioned on every alert of the route.
    pub mention: Vec<UserId>,
}

/// What became of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A card or one-liner was queued.
    Posted,
    /// A repeat, folded into an earlier card.
    Folded,
    /// A kind that is not posted.
    Ignored,
    /// An installation event.
    Acknowledged,
    /// The room's backend is not running.
    Undeliverable,
}

impl Outcome {
    /// The name used in responses, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Posted => "posted",
            Outcome::Folded => "folded",
            Outcome::Ignored => "ignored",
            Outcome::Acknowledged => "acknowledged",
            Outcome::Undeliverable => "undeliverable",
        }
    }
}

/// Relays one payload to its destination.
///
/// # Errors
/// Storage failures.
pub async fn relay(app: &App, dest: &Destination, payload: Payload) -> Result<Outcome, StoreError> {
    match payload {
        Payload::Alert(alert) => relay_alert(app, dest, *alert).await,
        Payload::Notice(notice) => relay_notice(app, dest, notice).await,
        Payload::Installation { action } => {
            tracing::info!(route = %dest.route, action, "sentry installation event acknowledged");
            Ok(Outcome::Acknowledged)
        }
        Payload::Unknown { resource, action } => {
            tracing::info!(route = %dest.route, resource, action, "sentry webhook of a kind that is not posted; acknowledged");
            Ok(Outcome::Ignored)
        }
    }
}

fn capabilities(app: &App, dest: &Destination) -> Option<Capabilities> {
    let caps = app.ctx.capabilities(dest.room.backend());
    if caps.is_none() {
        tracing::warn!(route = %dest.route, room = %dest.room, "no running backend for this route's room; alert dropped");
    }
    caps
}

/// The users to mention: the route's own, then the project's subscribers, on the room's backend.
async fn mentions_for(
    app: &App,
    dest: &Destination,
    project: Option<&str>,
    follow_up: bool,
) -> Result<Vec<UserId>, StoreError> {
    let settings = &app.core.settings;
    match settings.mention_policy {
        MentionPolicy::Off => return Ok(Vec::new()),
        MentionPolicy::Alerts if follow_up => return Ok(Vec::new()),
        _ => {}
    }
    let mut users = dest.mention.clone();
    if let Some(project) = project {
        users.extend(mentions::subscribers(&app.ctx.store(), &dest.room, project).await?);
    }
    let mut seen = std::collections::HashSet::new();
    users.retain(|u| u.backend() == dest.room.backend() && seen.insert(u.clone()));
    users.truncate(settings.max_mentions);
    Ok(users)
}

fn interval(app: &App, caps: &Capabilities) -> Duration {
    let storm = &app.core.settings.storm;
    if caps.edits {
        storm.update_interval
    } else {
        storm.note_interval
    }
}

async fn relay_alert(app: &App, dest: &Destination, alert: Alert) -> Result<Outcome, StoreError> {
    let Some(caps) = capabilities(app, dest) else {
        return Ok(Outcome::Undeliverable);
    };
    let store = app.ctx.store();
    let now = app.ctx.now();
    let settings = &app.core.settings;
    let key = alert
        .group
        .as_deref()
        .map(|group| storm::state_key(&dest.room, group));
    let _guard = match &key {
        Some(key) => Some(app.core.locks.lock(key).await),
        None => None,
    };
    if let Some(key) = &key
        && let Some(mut state) = store.get::<StormState>(key).await?
        && state.in_window(now, &settings.storm)
    {
        state.count += 1;
        let due = state.update_due(now, interval(app, &caps));
        if due {
            state.shown = state.count;
            state.last_update = now;
        }
        store.set(key, &state).await?;
        if due {
            spawn_update(app, dest.room.clone(), caps, key.clone());
        }
        return Ok(Outcome::Folded);
    }
    let mentions = mentions_for(app, dest, alert.project.as_deref(), false).await?;
    let message = format::alert_message(&alert, &caps, &mentions, &settings.format);
    if let Some(key) = &key {
        let state = StormState {
            window_start: now,
            count: 1,
            shown: 1,
            last_update: now,
            message: None,
            original: message.clone(),
            title: alert.title.clone(),
            short_id: alert.short_id.clone(),
        };
        store.set(key, &state).await?;
    }
    let receipt = app
        .ctx
        .send(Target::room(dest.room.clone()), message.clone());
    let app = app.clone();
    let room = dest.room.clone();
    let issue = alert.issue_id.clone();
    app.ctx.clone().spawn(async move {
        let id = match receipt.delivered().await {
            Ok(id) => id,
            Err(err) => {
                tracing::warn!(room = %room, error = %err, "sentry alert not delivered");
                return;
            }
        };
        let store = app.ctx.store();
        if let Some(issue) = &issue {
            let record = ThreadRecord {
                message: id.clone(),
                posted: message,
                at: now,
            };
            if let Err(err) = store.set(&storm::thread_key(&room, issue), &record).await {
                tracing::warn!(error = %err, "cannot remember the alert's message");
            }
        }
        let Some(key) = key else { return };
        let due = {
            let _guard = app.core.locks.lock(&key).await;
            let Ok(Some(mut state)) = store.get::<StormState>(&key).await else {
                return;
            };
            if state.window_start != now {
                return;
            }
            state.message = Some(id);
            let later = app.ctx.now();
            let due = state.update_due(later, interval(&app, &caps));
            if due {
                state.shown = state.count;
                state.last_update = later;
            }
            if let Err(err) = store.set(&key, &state).await {
                tracing::warn!(error = %err, "cannot remember the alert's message");
                return;
            }
            due
        };
        if due {
            update(&app, &room, caps, &key).await;
        }
    });
    Ok(Outcome::Posted)
}

fn spawn_update(app: &App, room: RoomId, caps: Capabilities, key: String) {
    let app2 = app.clone();
    app.ctx
        .spawn(async move { update(&app2, &room, caps, &key).await });
}

/// Shows a storm's current count: edits the card where the backend can, otherwise posts a
/// "×N" note (in the card's thread where there are threads). Updates of one key run one at a
/// time, each with the freshest count.
async fn update(app: &App, room: &RoomId, caps: Capabilities, key: &str) {
    let _edit = app.core.locks.lock(&format!("edit/{key}")).await;
    let store = app.ctx.store();
    let Ok(Some(state)) = store.get::<StormState>(key).await else {
        return;
    };
    let Some(message) = state.message.clone() else {
        return;
    };
    let target = Target::room(room.clone());
    let edited = if caps.edits {
        let new = format::with_repeats(&state.original, state.count, state.window_start);
        app.ctx.chat().edit(&target, &message, &new).await
    } else {
        Err(BackendError::unsupported("edit"))
    };
    match edited {
        Ok(()) => {}
        Err(BackendError::Unsupported { .. }) => {
            let threaded = caps.threads;
            let note = format::repeat_note(
                &state.title,
                state.short_id.as_deref(),
                state.count,
                state.window_start,
                threaded,
            );
            let target = match ThreadId::new(room.backend(), message.local()) {
                Ok(thread) if threaded => Target::thread(room.clone(), thread),
                _ => target,
            };
            let _ = app.ctx.send(target, note);
        }
        Err(err) => {
            tracing::warn!(room = %room, error = %err, "cannot update a sentry alert's count");
        }
    }
    let _guard = app.core.locks.lock(key).await;
    if let Ok(Some(mut fresh)) = store.get::<StormState>(key).await
        && fresh.window_start == state.window_start
        && fresh.shown < state.count
    {
        fresh.shown = state.count;
        let _ = store.set(key, &fresh).await;
    }
}

async fn relay_notice(
    app: &App,
    dest: &Destination,
    notice: Notice,
) -> Result<Outcome, StoreError> {
    let Some(caps) = capabilities(app, dest) else {
        return Ok(Outcome::Undeliverable);
    };
    let store = app.ctx.store();
    let thread = match &notice.issue_id {
        Some(issue) => {
            store
                .get::<ThreadRecord>(&storm::thread_key(&dest.room, issue))
                .await?
        }
        None => None,
    };
    let thread_target = thread.as_ref().filter(|_| caps.threads).and_then(|rec| {
        ThreadId::new(dest.room.backend(), rec.message.local())
            .ok()
            .map(|t| Target::thread(dest.room.clone(), t))
    });
    let threaded = thread_target.is_some();
    let mentions = mentions_for(app, dest, notice.project.as_deref(), true).await?;
    let message = format::notice_message(&notice, threaded, &mentions);
    let target = thread_target.unwrap_or_else(|| Target::room(dest.room.clone()));
    let _ = app.ctx.send(target, message);

    let closes = matches!(
        notice.kind,
        NoticeKind::Resolved { .. } | NoticeKind::Ignored { .. }
    );
    if closes && let Some(issue) = &notice.issue_id {
        // A regression after this posts a fresh card instead of folding into the old one.
        let key = storm::state_key(&dest.room, &format!("issue:{issue}"));
        let _guard = app.core.locks.lock(&key).await;
        store.delete(&key).await?;
    }
    if let (Some(record), Some(status)) = (thread, format::status_word(&notice))
        && caps.edits
    {
        let chat = app.ctx.chat();
        let room = dest.room.clone();
        app.ctx.spawn(async move {
            let new = format::with_status(&record.posted, &status);
            match chat.edit(&Target::room(room), &record.message, &new).await {
                Ok(()) | Err(BackendError::Unsupported { .. }) => {}
                Err(err) => tracing::warn!(error = %err, "cannot mark a sentry alert {status}"),
            }
        });
    }
    Ok(Outcome::Posted)
}

/// The periodic storm job: shows counts that were held back by the update interval, and
/// forgets storms whose window is over.
pub async fn flush_storms(app: &App) {
    let store = app.ctx.store();
    let keys = match store.list("storm/").await {
        Ok(keys) => keys,
        Err(err) => {
            tracing::warn!(error = %err, "sentry storm flush: cannot list");
            return;
        }
    };
    let settings = &app.core.settings.storm;
    for key in keys {
        let Some(room) = storm::room_of_key(&key) else {
            continue;
        };
        let Some(caps) = app.ctx.capabilities(room.backend()) else {
            continue;
        };
        let due = {
            let _guard = app.core.locks.lock(&key).await;
            let Ok(Some(mut state)) = store.get::<StormState>(&key).await else {
                continue;
            };
            let now = app.ctx.now();
            if state.update_due(now, interval(app, &caps)) {
                state.shown = state.count;
                state.last_update = now;
                let _ = store.set(&key, &state).await;
                true
            } else {
                let settled = state.count <= state.shown || state.message.is_none();
                let over = storm::elapsed(state.window_start, now) >= settings.window;
                let long_over = storm::elapsed(state.window_start, now) >= settings.window * 2;
                if (over && settled) || long_over {
                    let _ = store.delete(&key).await;
                }
                false
            }
        };
        if due {
            update(app, &room, caps, &key).await;
        }
    }
}

/// The housekeeping job: forgets old duplicate ids, reject counts and thread records.
pub async fn housekeeping(app: &App) {
    let store = app.ctx.store();
    let now = app.ctx.now();
    if let Err(err) = storm::prune_seen(&store, now).await {
        tracing::warn!(error = %err, "sentry housekeeping: duplicate ids");
    }
    if let Err(err) = crate::stats::prune_rejects(&store, now).await {
        tracing::warn!(error = %err, "sentry housekeeping: reject counts");
    }
    let Ok(keys) = store.list("threads/").await else {
        return;
    };
    for key in keys {
        if let Ok(Some(record)) = store.get::<ThreadRecord>(&key).await
            && storm::elapsed(record.at, now) > storm::THREAD_TTL
        {
            let _ = store.delete(&key).await;
        }
    }
}
