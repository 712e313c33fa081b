//! Where an incident's conversation lives, set up at `declare` (and by `!incident room`): a
//! room of its own where the backend can create rooms and the `create_room` setting wants one
//! (named from `room_name_template`, `-2` on a clash, topic, reporter and lead invited, a
//! welcome message), else a thread under the headline post, else the announce room with
//! explicit ids. Decided by capability flags only ([`Placement`]). A room that cannot be made
//! records an `integration` event and falls back; the declare itself always succeeds.

use ferrbot::Capabilities;
use ferrbot::backend::RoomSpec;
use ferrbot::context::PluginContext;
use ferrbot::id::{RoomId, Target, ThreadId, UserId};
use serde_json::json;

use crate::auto::headline::{self, AutoError, Settings};
use crate::auto::placement::{Placement, RoomMode};
use crate::auto::topic::room_topic;
use crate::config::Config;
use crate::model::{EventKind, Incident, NewEvent, TimelineEvent};
use crate::store::{self, DbError, IncidentStore};
use crate::util::slug::room_name;

/// The longest room name the plugin makes (Slack's limit; other networks allow more).
pub const MAX_ROOM_NAME: usize = 80;

/// Records an `integration` event by the bot (room failures and the like).
///
/// # Errors
/// When the database fails.
pub async fn record(
    ctx: &PluginContext,
    incident: u64,
    text: String,
    data: serde_json::Value,
) -> Result<TimelineEvent, DbError> {
    let store = IncidentStore::new(ctx.db().clone());
    let now = ctx.now();
    let mut tx = store.begin().await?;
    let event = store::append_event(
        &mut tx,
        incident,
        NewEvent::new(now, "bot", EventKind::Integration, text).data(data),
        now,
    )
    .await?;
    store::commit(tx).await?;
    Ok(event)
}

fn wants_room(mode: RoomMode, incident: &Incident, no_room: bool) -> bool {
    !no_room
        && match mode {
            RoomMode::Always => true,
            RoomMode::SeverityAtMost(n) => incident.severity.is_some_and(|s| s.0 <= n),
            RoomMode::OnDemand => false,
        }
}

/// The users invited to a new incident room on `backend`: reporter and lead.
pub fn invitees(incident: &Incident, backend: &str) -> Vec<UserId> {
    let mut users: Vec<UserId> = [&incident.reporter, &incident.lead]
        .into_iter()
        .flatten()
        .filter_map(|u| u.parse::<UserId>().ok())
        .filter(|u| u.backend() == backend)
        .collect();
    users.dedup();
    users
}

/// The welcome message of an incident room or thread: the five most useful commands, and
/// how to capture messages on this backend (`caps`; `reaction`: the timeline reaction).
pub fn welcome(incident: &Incident, prefix: &str, caps: &Capabilities, config: &Config) -> String {
    let c = |cmd: &str| format!("{prefix}inc {cmd}");
    let events = caps.message_events;
    let reaction = crate::auto::capture::shown(&config.timeline_reaction);
    let capture = match (events.pins, events.reactions) {
        (true, true) => format!(" (or pin a message, or react with {reaction})"),
        (true, false) => " (or pin a message)".to_owned(),
        (false, true) => format!(" (or react to a message with {reaction})"),
        (false, false) => format!("; {} keeps a message's text", c("pin <text>")),
    };
    let process = config
        .process_url
        .as_deref()
        .map(|url| format!("\nHow we run incidents: {url}"))
        .unwrap_or_default();
    format!(
        "Welcome to incident {} {}. Commands here need no incident id:\n\
         • {} — the summary\n\
         • {} — post a status update\n\
         • {} — add to the timeline{capture}\n\
         • {} — take or set the lead\n\
         • {} — resolve it{process}",
        incident.reference(),
        incident.title,
        c("status"),
        c("update <text>"),
        c("note <text>"),
        c("lead [@user]"),
        c("resolve <resolution>"),
    )
}

/// Creates the incident's room on `backend` (name from the template; a network whose names
/// are unique adds `-2`, `-3` itself on a clash), records it (with an `integration` event),
/// posts the welcome message and invites reporter, lead and `extra` one by one: a user the
/// network refuses is said in the room and recorded, and never costs the room.
///
/// # Errors
/// When the network refuses or cannot create rooms, or recording fails.
pub async fn create_room(
    config: &Config,
    ctx: &PluginContext,
    incident: &Incident,
    backend: &str,
    extra: &[UserId],
) -> Result<RoomId, AutoError> {
    let mut invite = invitees(incident, backend);
    for user in extra {
        if user.backend() == backend && !invite.contains(user) {
            invite.push(user.clone());
        }
    }
    let base = room_name(
        &config.room_name_template,
        incident.id,
        &incident.title,
        MAX_ROOM_NAME,
    );
    let spec = RoomSpec {
        name: base,
        topic: Some(room_topic(
            incident.id,
            &incident.title,
            incident.severity.map(|s| s.0),
            incident.lead.as_deref(),
        )),
        invite: Vec::new(),
        private: incident.private,
    };
    let room = ctx.chat().create_room(backend, &spec).await?;
    let store = IncidentStore::new(ctx.db().clone());
    let mut tx = store.begin().await?;
    store::set_place(&mut tx, incident.id, Some(&room.to_string()), None).await?;
    let now = ctx.now();
    store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(
            now,
            "bot",
            EventKind::Integration,
            format!("room {room} created ({})", spec.name),
        )
        .data(json!({"op": "create_room", "room": room.to_string(), "name": spec.name})),
        now,
    )
    .await?;
    store::commit(tx).await?;
    let caps = ctx
        .capabilities(room.backend())
        .unwrap_or_else(Capabilities::minimal);
    let text = welcome(incident, ctx.prefix(), &caps, config);
    drop(ctx.send(Target::room(room.clone()), text));
    for user in &invite {
        if let Err(err) = ctx.chat().invite(&room, std::slice::from_ref(user)).await {
            tracing::warn!(error = %err, user = %user, room = %room, "inviting to the incident room failed");
            drop(ctx.send(
                Target::room(room.clone()),
                format!("I could not invite {user} here: {err}"),
            ));
            log_record(
                config,
                ctx,
                incident.id,
                format!("{user} not invited to {room}: {err}"),
                json!({"op": "invite", "room": room.to_string(), "user": user.to_string()}),
            )
            .await;
        }
    }
    Ok(room)
}

/// Puts the incident in the thread under its headline post.
///
/// # Errors
/// When recording fails.
pub async fn use_thread(
    config: &Config,
    ctx: &PluginContext,
    incident: &Incident,
    room: &RoomId,
    thread: &ThreadId,
) -> Result<(), AutoError> {
    let store = IncidentStore::new(ctx.db().clone());
    let mut tx = store.begin().await?;
    store::set_place(
        &mut tx,
        incident.id,
        Some(&room.to_string()),
        Some(&thread.to_string()),
    )
    .await?;
    store::commit(tx).await?;
    drop(
        ctx.send(
            Target::thread(room.clone(), thread.clone()),
            welcome(
                incident,
                ctx.prefix(),
                &ctx.capabilities(room.backend())
                    .unwrap_or_else(Capabilities::minimal),
                config,
            ),
        ),
    );
    Ok(())
}

/// Announces a freshly declared incident and gives it its place; returns lines for the
/// declare reply. Never fails: problems are logged, recorded and said in the lines.
///
/// Order: the room first (so the headline can name it), then the headline, then — where the
/// conversation goes to a thread — the thread under the headline.
pub async fn on_declare(
    config: &Config,
    ctx: &PluginContext,
    declared_in: &RoomId,
    incident: &Incident,
    no_room: bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let settings = Settings::from_config(config);
    let headline_room = settings.headline_room(incident);
    let home = headline_room.as_ref().unwrap_or(declared_in);
    let caps = ctx
        .capabilities(home.backend())
        .unwrap_or_else(Capabilities::minimal);
    let wanted = !incident.retro && wants_room(config.create_room, incident, no_room);
    let mut placement = if incident.retro {
        Placement::AnnounceRoom
    } else {
        Placement::decide(
            &caps,
            config.create_room,
            incident.severity.map(|s| s.0),
            false,
            no_room,
        )
    };
    let mut room_failed = false;
    if placement == Placement::Room {
        match create_room(config, ctx, incident, home.backend(), &[]).await {
            Ok(room) => lines.push(format!("Room: {room}.")),
            Err(err) => {
                tracing::warn!(error = %err, incident = incident.id, "creating the incident room failed");
                log_record(
                    config,
                    ctx,
                    incident.id,
                    format!("room creation failed: {err}"),
                    json!({"op": "create_room", "backend": home.backend()}),
                )
                .await;
                lines.push(format!("The incident room could not be created ({err})."));
                room_failed = true;
                placement = if caps.threads {
                    Placement::Thread
                } else {
                    Placement::AnnounceRoom
                };
            }
        }
    }
    let mut headline = None;
    if let Some(room) = &headline_room {
        let threaded = placement == Placement::Thread;
        match headline::post(ctx, &settings, incident.id, room, threaded).await {
            Ok(Some(message)) => {
                headline = Some(message);
                lines.push(format!("Headline posted in {room}."));
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, incident = incident.id, "posting the headline failed");
                lines.push(format!(
                    "The headline could not be posted in {room}: {err}."
                ));
                log_record(
                    config,
                    ctx,
                    incident.id,
                    format!("headline not posted: {err}"),
                    json!({"op": "headline", "room": room.to_string()}),
                )
                .await;
            }
        }
    }
    if placement == Placement::Thread {
        let thread = headline
            .as_ref()
            .zip(headline_room.as_ref())
            .and_then(|(message, room)| headline::thread_of(room, message).map(|t| (room, t)));
        match thread {
            Some((room, thread)) => match use_thread(config, ctx, incident, room, &thread).await {
                Ok(()) => lines.push(format!(
                    "Conversation: the thread under the headline in {room}."
                )),
                Err(err) => {
                    tracing::warn!(error = %err, incident = incident.id, "using the headline thread failed");
                    placement = Placement::AnnounceRoom;
                }
            },
            // No headline to hang a thread under.
            None => placement = Placement::AnnounceRoom,
        }
    }
    if room_failed {
        lines.push(match placement {
            Placement::Thread => "It lives in the thread under the headline instead.".to_owned(),
            _ => format!(
                "Name it with its id ({}) or `focus` this room on it instead.",
                incident.reference()
            ),
        });
    } else if wanted && let Some(note) = placement.fallback_note(true) {
        lines.push(format!("Note: {note}."));
    }
    lines
}

async fn log_record(
    config: &Config,
    ctx: &PluginContext,
    incident: u64,
    text: String,
    data: serde_json::Value,
) {
    match record(ctx, incident, text, data).await {
        Ok(event) => crate::notify::after_change_logged(config, ctx, &event).await,
        Err(err) => tracing::warn!(error = %err, incident, "recording an integration event failed"),
    }
}

/// Keeps the incident room's topic current after a title, severity or lead change (where
/// the backend has topics).
///
/// # Errors
/// When reading fails or the network refuses the topic.
pub async fn after_change(ctx: &PluginContext, event: &TimelineEvent) -> Result<(), AutoError> {
    let field = event.data.get("field").and_then(|f| f.as_str());
    let role = event.data.get("role").and_then(|f| f.as_str());
    let relevant = match event.kind {
        EventKind::Field => matches!(field, Some("title" | "severity")),
        EventKind::Role => role == Some("lead"),
        _ => false,
    };
    if !relevant {
        return Ok(());
    }
    let store = IncidentStore::new(ctx.db().clone());
    let incident = {
        let mut c = store.read().await?;
        store::incident(&mut c, event.incident).await?
    };
    let Some(incident) = incident else {
        return Ok(());
    };
    let (Some(room), None) = (&incident.room, &incident.thread) else {
        return Ok(());
    };
    let room: RoomId = room.parse().map_err(|_| AutoError::BadId {
        what: "incident room",
        value: room.clone(),
    })?;
    if !ctx.capabilities(room.backend()).is_some_and(|c| c.topic) {
        return Ok(());
    }
    let topic = room_topic(
        incident.id,
        &incident.title,
        incident.severity.map(|s| s.0),
        incident.lead.as_deref(),
    );
    ctx.chat().set_topic(&room, &topic).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrbot::testing::caps;

    fn incident() -> Incident {
        let t = jiff::Timestamp::UNIX_EPOCH;
        Incident {
            id: 7,
            origin: crate::model::Origin::Declared,
            title: "Slow search".into(),
            summary: None,
            impact: None,
            resolution: None,
            severity: None,
            state: crate::model::State::Active,
            retro: false,
            private: false,
            tags: vec![],
            source: None,
            source_incident_id: None,
            details_url: None,
            ticket_url: None,
            metadata: None,
            reporter: Some("slack:alice".into()),
            lead: Some("slack:alice".into()),
            started_at: t,
            reported_at: t,
            first_ack_at: None,
            stable_at: None,
            resolved_at: None,
            room: None,
            thread: None,
            announcement: None,
            review: crate::model::Review::None,
            review_url: None,
            external: serde_json::Map::new(),
            false_alarm: false,
        }
    }

    #[test]
    fn invitees_are_deduplicated_and_on_the_room_backend() {
        let mut i = incident();
        assert_eq!(invitees(&i, "slack").len(), 1);
        i.lead = Some("matrix:@bob:x.org".into());
        let users: Vec<String> = invitees(&i, "slack")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(users, ["slack:alice"]);
    }

    #[test]
    fn welcome_says_how_to_capture_on_this_backend() {
        let i = incident();
        let pushpin = Config::default();
        let w = welcome(&i, "!", &caps::slack(), &pushpin);
        assert!(w.starts_with("Welcome to incident #7 Slow search."), "{w}");
        assert!(w.contains("react with 📌"), "{w}");
        let custom = Config {
            timeline_reaction: "eyes".into(),
            ..Config::default()
        };
        let w = welcome(&i, "!", &caps::slack(), &custom);
        assert!(w.contains("react with :eyes:"), "{w}");
        assert_eq!(w.lines().count(), 6, "five commands: {w}");
        let emoji = Config {
            timeline_reaction: "📌".into(),
            process_url: Some("https://wiki.example.com/incidents".into()),
            ..Config::default()
        };
        let w = welcome(&i, "!", &caps::console(), &emoji);
        assert!(
            w.ends_with("\nHow we run incidents: https://wiki.example.com/incidents"),
            "{w}"
        );
        assert!(w.contains("!inc pin <text> keeps a message's text"), "{w}");
        let reactions_only = Capabilities {
            message_events: ferrbot::backend::MessageEvents {
                reactions: true,
                ..Default::default()
            },
            ..caps::console()
        };
        let w = welcome(&i, "!", &reactions_only, &emoji);
        assert!(w.contains("react to a message with 📌"), "{w}");
    }
}
