//! The incident's room: `invite`, `room`, `rename` and `pin`.

use std::sync::Arc;

use ferrbot::Capabilities;
use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::id::{MessageId, RoomId, Target as ChatTarget, UserId};
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use serde_json::json;

use super::{App, Target, require_edit, store_of, target, who};
use crate::auto::headline::{Settings, place_text};
use crate::auto::{capture, rooms};
use crate::model::{EventKind, Incident, NewEvent, check_text};
use crate::store;
use crate::util::slug::slug;

/// Invite people to the incident (its room where there is one) and add them as participants.
#[derive(clap::Parser, Debug)]
#[command(name = "incident invite")]
pub struct Invite {
    #[command(flatten)]
    target: Target,
    /// Who: @name or backend:id (one or more).
    #[arg(required = true)]
    users: Vec<String>,
}

/// Create the incident's own room (on demand), or show where it is.
#[derive(clap::Parser, Debug)]
#[command(name = "incident room")]
pub struct RoomCmd {
    #[command(flatten)]
    target: Target,
}

/// Rename the incident's room.
#[derive(clap::Parser, Debug)]
#[command(name = "incident rename")]
pub struct Rename {
    #[command(flatten)]
    target: Target,
    /// The new name.
    #[arg(required = true)]
    name: Vec<String>,
}

/// Capture a message into the timeline: `pin` as a reply to it (where the network reports
/// replies), `pin` alone inside its thread, or `pin <text>`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident pin")]
pub struct Pin {
    #[command(flatten)]
    target: Target,
    /// The text to keep (≤4000 characters).
    text: Vec<String>,
}

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut v = super::specs_for(app, "invite", &[], invite);
    v.extend(super::specs_for(app, "room", &[], room));
    v.extend(super::specs_for(app, "rename", &[], rename));
    v.extend(super::specs_for(app, "pin", &[], pin));
    v
}

/// A user named in `invite`: `@name` (on the caller's backend) or a full `backend:id` of a
/// running backend. Bare words are refused, so a typo is not mistaken for a person.
fn invitee(ctx: &Ctx, text: &str) -> Result<UserId, CommandError> {
    let t = text.trim().trim_end_matches(',');
    let bad = || {
        CommandError::user(format!(
            "`{text}` is not a user: write @name or backend:id (e.g. {})",
            ctx.caller().id
        ))
    };
    let user = if let Some(name) = t.strip_prefix('@') {
        if name.is_empty() {
            return Err(bad());
        }
        match name.parse::<UserId>() {
            Ok(id) => id,
            Err(_) => UserId::new(ctx.caller().id.backend(), name).map_err(|_| bad())?,
        }
    } else {
        t.parse::<UserId>().map_err(|_| bad())?
    };
    if ctx.capabilities(user.backend()).is_none() {
        return Err(CommandError::user(format!(
            "`{text}` is not a user of a chat network this bot is on"
        )));
    }
    Ok(user)
}

/// The incident's own room (not the thread fallback), when it has one.
fn own_room(incident: &Incident) -> Option<RoomId> {
    match (&incident.room, &incident.thread) {
        (Some(room), None) => room.parse().ok(),
        _ => None,
    }
}

async fn invite(app: Arc<App>, a: Invite, ctx: Ctx) -> CommandResult {
    let mut users: Vec<UserId> = Vec::new();
    for text in &a.users {
        let user = invitee(&ctx, text)?;
        if !users.contains(&user) {
            users.push(user);
        }
    }
    let now = ctx.now();
    let me = who(&ctx);
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    require_edit(&app, &ctx, &mut tx, &incident, "invite people to").await?;
    let mut added = Vec::new();
    for user in &users {
        if store::join(&mut tx, incident.id, &user.to_string(), now).await? {
            added.push(user.to_string());
        }
    }
    let names: Vec<String> = users.iter().map(ToString::to_string).collect();
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(
            now,
            me,
            EventKind::Participant,
            format!("invited {}", names.join(", ")),
        )
        .data(json!({"invited": names, "added": added})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    let mut reply = format!(
        "Invited {} to #{} {} (participants now).",
        names.join(", "),
        incident.id,
        incident.title
    );
    let room = own_room(&incident);
    let caps = room
        .as_ref()
        .and_then(|r| ctx.capabilities(r.backend()))
        .unwrap_or_else(Capabilities::minimal);
    let in_room: Vec<UserId> = match &room {
        Some(r) => users
            .iter()
            .filter(|u| u.backend() == r.backend())
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    match &room {
        Some(r) if caps.invite && !in_room.is_empty() => {
            match ctx.chat().invite(r, &in_room).await {
                Ok(()) => reply.push_str(&format!(" Added to {r}.")),
                Err(err) => {
                    tracing::warn!(error = %err, incident = incident.id, "inviting to the incident room failed");
                    reply.push_str(&format!(
                        " They could not be added to {r} ({err}); they can join it themselves."
                    ));
                }
            }
        }
        _ => {
            // No room to add them to: tell them where the incident is, in its place and by
            // direct message where the network has those.
            let (place, where_) = match (&incident.room, &incident.thread) {
                (Some(r), Some(t)) => (
                    r.parse::<RoomId>()
                        .ok()
                        .zip(t.parse().ok())
                        .map(|(r, t)| ChatTarget::thread(r, t)),
                    format!("the thread under its headline in {r}"),
                ),
                (Some(r), None) => (r.parse::<RoomId>().ok().map(ChatTarget::room), r.clone()),
                (None, _) => (
                    None,
                    format!("{} (name #{} in commands)", ctx.room(), incident.id),
                ),
            };
            let line = format!(
                "{}: {} invited you to incident #{} {} — it is in {where_}.",
                names.join(", "),
                ctx.caller().id,
                incident.id,
                incident.title,
            );
            drop(ctx.send(place.unwrap_or_else(|| ctx.origin()), line.clone()));
            let mut dm = 0;
            for user in &users {
                if ctx
                    .capabilities(user.backend())
                    .is_some_and(|c| c.direct_messages)
                {
                    drop(ctx.send(ChatTarget::direct(user.clone()), line.clone()));
                    dm += 1;
                }
            }
            reply.push_str(&format!(" Told them in {where_}"));
            if dm > 0 {
                reply.push_str(" and by direct message");
            }
            reply.push('.');
        }
    }
    Ok(Reply::text(reply))
}

async fn room(app: Arc<App>, a: RoomCmd, ctx: Ctx) -> CommandResult {
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    if let Some(room) = own_room(&incident) {
        return Ok(Reply::text(format!(
            "#{} {} has its room: {room}.",
            incident.id, incident.title
        )));
    }
    let settings = Settings::from_config(&app.config);
    let home = settings
        .headline_room(&incident)
        .unwrap_or_else(|| ctx.room().clone());
    let caps = ctx
        .capabilities(home.backend())
        .unwrap_or_else(Capabilities::minimal);
    if !caps.create_rooms {
        return Err(CommandError::user(format!(
            "This chat network cannot create rooms, so #{} has none; it lives in {}.",
            incident.id,
            place_text(&incident)
        )));
    }
    if !incident.state.is_open() {
        return Err(CommandError::user(format!(
            "#{} is {}; reopen it before giving it a room.",
            incident.id, incident.state
        )));
    }
    require_edit(&app, &ctx, &mut tx, &incident, "create a room for").await?;
    drop(tx);
    let me = ctx.caller().id.clone();
    match rooms::create_room(&app.config, &ctx, &incident, home.backend(), &[me]).await {
        Ok(room) => {
            if let Err(err) = crate::auto::headline::refresh(
                &Settings::from_config(&app.config),
                &ctx,
                incident.id,
            )
            .await
            {
                tracing::warn!(error = %err, incident = incident.id, "updating the headline failed");
            }
            Ok(Reply::text(format!(
                "Created {room} for #{} {}.",
                incident.id, incident.title
            )))
        }
        Err(err) => {
            tracing::warn!(error = %err, incident = incident.id, "creating the incident room failed");
            match rooms::record(
                &ctx,
                incident.id,
                format!("room creation failed: {err}"),
                json!({"op": "create_room", "backend": home.backend()}),
            )
            .await
            {
                Ok(event) => crate::notify::after_change_logged(&app.config, &ctx, &event).await,
                Err(e) => tracing::warn!(error = %e, "recording an integration event failed"),
            }
            Err(CommandError::user(format!(
                "The room for #{} could not be created: {err}",
                incident.id
            )))
        }
    }
}

/// The room name `rename` asks for, by the room-name rules (lowercase ASCII letters and
/// digits, other runs of characters one dash), refused when nothing is left or it is longer
/// than [`rooms::MAX_ROOM_NAME`] (the strictest network's limit, Slack's).
fn new_room_name(words: &[String]) -> Result<String, CommandError> {
    let wanted = words.join(" ");
    let name = slug(&wanted, usize::MAX);
    if name.is_empty() {
        return Err(CommandError::user(format!(
            "`{wanted}` leaves no room name: use letters or digits (at most {} characters).",
            rooms::MAX_ROOM_NAME
        )));
    }
    if name.len() > rooms::MAX_ROOM_NAME {
        return Err(CommandError::user(format!(
            "`{name}` is {} characters long; a room name has at most {}.",
            name.len(),
            rooms::MAX_ROOM_NAME
        )));
    }
    Ok(name)
}

async fn rename(app: Arc<App>, a: Rename, ctx: Ctx) -> CommandResult {
    let name = new_room_name(&a.name)?;
    let store = store_of(&ctx);
    let mut c = store.read().await?;
    let incident = target(&ctx, &mut c, a.target.incident.as_deref()).await?;
    let Some(room) = own_room(&incident) else {
        return Err(CommandError::user(format!(
            "#{} has no room of its own to rename (create one with {}inc room).",
            incident.id,
            ctx.prefix()
        )));
    };
    let can = ctx
        .capabilities(room.backend())
        .is_some_and(|caps| caps.rename_rooms);
    if !can {
        return Err(CommandError::user(format!(
            "This chat network does not let the bot rename rooms; rename {room} to `{name}` in \
             your chat client."
        )));
    }
    require_edit(&app, &ctx, &mut c, &incident, "rename the room of").await?;
    drop(c);
    let data = json!({"op": "rename_room", "room": room.to_string(), "name": name});
    match ctx.chat().rename_room(&room, &name).await {
        Ok(()) => {
            let now = ctx.now();
            let mut tx = store.begin().await?;
            let event = store::append_event(
                &mut tx,
                incident.id,
                NewEvent::new(
                    now,
                    who(&ctx),
                    EventKind::Integration,
                    format!("room {room} renamed to {name}"),
                )
                .data(data),
                now,
            )
            .await?;
            super::commit_and_notify(&app, &ctx, tx, &event).await?;
            Ok(Reply::text(format!(
                "Renamed {room} to `{name}` (#{} {}).",
                incident.id, incident.title
            )))
        }
        Err(err) => {
            tracing::warn!(error = %err, incident = incident.id, "renaming the incident room failed");
            match rooms::record(
                &ctx,
                incident.id,
                format!("renaming room {room} to {name} failed: {err}"),
                data,
            )
            .await
            {
                Ok(event) => crate::notify::after_change_logged(&app.config, &ctx, &event).await,
                Err(e) => tracing::warn!(error = %e, "recording an integration event failed"),
            }
            Err(CommandError::user(format!(
                "{room} could not be renamed to `{name}`: {err}"
            )))
        }
    }
}

async fn pin(app: Arc<App>, a: Pin, ctx: Ctx) -> CommandResult {
    let text = a.text.join(" ");
    // The message the capture is keyed by: the message the command replies to (its text, if
    // given, is kept as that message's text); in a thread without text, the message the thread
    // hangs off (threads are keyed by their first message); with text, the command's own.
    // `whole` names a message other than the command's, for the answer.
    let (message, text, whole) = if let Some(replied) = ctx.reply_to() {
        let text = if text.trim().is_empty() {
            capture::placeholder(replied)
        } else {
            check_text("pinned text", &text, true).map_err(super::user_err)?
        };
        (
            Some(replied.clone()),
            text,
            Some("The message you replied to"),
        )
    } else if text.trim().is_empty() {
        let Some(thread) = ctx.thread() else {
            return Err(CommandError::user(
                "Give the text to keep, or send the command as a reply to the message to keep",
            )
            .with_hint(format!(
                "{p}inc pin <text> — or reply to the message with {p}inc pin where the chat \
                 network reports replies, run {p}inc pin inside the message's thread, or pin the \
                 message or react with 📌 where the chat network reports those",
                p = ctx.prefix()
            )));
        };
        let message = MessageId::new(thread.backend(), thread.local()).map_err(super::user_err)?;
        let text = capture::placeholder(&message);
        (
            Some(message),
            text,
            Some("The message this thread hangs off"),
        )
    } else {
        let text = check_text("pinned text", &text, true).map_err(super::user_err)?;
        (ctx.message_id().cloned(), text, None)
    };
    let text_pending = message
        .as_ref()
        .is_some_and(|m| text == capture::placeholder(m));
    let now = ctx.now();
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    if let Some(m) = &message
        && let Some(existing) = store::event_by_message(&mut tx, &m.to_string()).await?
        && existing.deleted_at.is_none()
    {
        return Ok(Reply::text(format!(
            "That message is already in #{}'s timeline as E{}.",
            existing.incident, existing.id
        )));
    }
    let mut event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, who(&ctx), EventKind::Message, text)
            .data(json!({"captured": "command", "room": ctx.room().to_string()})),
        now,
    )
    .await?;
    if let Some(m) = &message {
        let mref = m.to_string();
        store::set_message_ref(&mut tx, event.id, &mref).await?;
        event.message_ref = Some(mref);
    }
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    let mut reply = match whole {
        Some(what) if text_pending => format!(
            "{what} is in #{}'s timeline as E{} (its text is filled in when the chat network \
             reports the pin or an edit).",
            incident.id, event.id
        ),
        Some(what) => format!(
            "{what} is in #{}'s timeline as E{}, with your text.",
            incident.id, event.id
        ),
        None => format!("Kept in #{}'s timeline as E{}.", incident.id, event.id),
    };
    // Pin it in the chat too where the network can: people see it among the pins.
    if let Some(m) = &message
        && ctx.caller_capabilities().pin
    {
        match ctx.chat().pin(ctx.room(), m).await {
            Ok(()) => reply.push_str(" Pinned here."),
            Err(err) => tracing::warn!(error = %err, "pinning the message failed"),
        }
    }
    Ok(Reply::text(reply))
}
