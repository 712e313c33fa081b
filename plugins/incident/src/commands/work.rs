//! Working an incident: `note`, `timeline` (show, edit, rm, star), `task` (add, list, done,
//! reopen, assign), `update`, `join`, `leave`, `participants`, `focus`.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use serde_json::json;

use super::{App, Target, parse_time, require_edit, store_of, target, user_arg, when, who};
use crate::model::{
    EventKind, NewEvent, Priority, StatusUpdate, Task, TaskPhase, TaskStatus, UpdateKind,
    check_text,
};
use crate::reference;
use crate::store;

/// Add a note to the timeline: `note rolled back v2 --at 14:05`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident note")]
pub struct Note {
    #[command(flatten)]
    target: Target,
    /// When it happened (14:05, ISO 8601, -10m); default: now.
    #[arg(long, allow_hyphen_values = true)]
    at: Option<String>,
    /// The note (≤4000 characters).
    #[arg(required = true)]
    text: Vec<String>,
}

/// Show the timeline (people's events; `--all` adds system events).
#[derive(clap::Parser, Debug)]
#[command(name = "incident timeline")]
pub struct Timeline {
    #[command(flatten)]
    target: Target,
    /// Also system events and deleted ones.
    #[arg(long)]
    all: bool,
    /// Only events since (14:05, ISO 8601, -1h).
    #[arg(long, allow_hyphen_values = true)]
    since: Option<String>,
}

/// Change the text of a note: `timeline edit E7 new text`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident timeline edit")]
pub struct TimelineEdit {
    /// The event (E7 or 7).
    event: String,
    /// The new text.
    #[arg(required = true)]
    text: Vec<String>,
}

/// Delete a note (kept, marked deleted).
#[derive(clap::Parser, Debug)]
#[command(name = "incident timeline rm")]
pub struct TimelineRm {
    /// The event (E7 or 7).
    event: String,
}

/// Star an event for the report (again to unstar).
#[derive(clap::Parser, Debug)]
#[command(name = "incident timeline star")]
pub struct TimelineStar {
    /// The event (E7 or 7).
    event: String,
}

/// Add a task: `task add check replicas --assign @bo --due 15:00 --priority high`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident task add")]
pub struct TaskAdd {
    #[command(flatten)]
    target: Target,
    /// What to do.
    #[arg(required = true)]
    text: Vec<String>,
    /// Who does it (repeatable).
    #[arg(long = "assign", value_name = "USER")]
    assign: Vec<String>,
    /// Due (14:05, ISO 8601).
    #[arg(long)]
    due: Option<String>,
    /// high, medium or low.
    #[arg(long, default_value = "medium")]
    priority: String,
    /// A follow-up after the incident.
    #[arg(long)]
    followup: bool,
    /// Follow-up kind: detective, preventative, corrective.
    #[arg(long, requires = "followup")]
    kind: Option<String>,
}

/// List tasks (open ones; `--all` adds done ones).
#[derive(clap::Parser, Debug)]
#[command(name = "incident task list")]
pub struct TaskList {
    #[command(flatten)]
    target: Target,
    /// Only yours.
    #[arg(long)]
    mine: bool,
    /// Done ones too.
    #[arg(long)]
    all: bool,
}

/// Mark a task done: `task done T2`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident task done")]
pub struct TaskDone {
    #[command(flatten)]
    target: Target,
    /// The task (T2 or 2).
    task: String,
}

/// Reopen a task.
#[derive(clap::Parser, Debug)]
#[command(name = "incident task reopen")]
pub struct TaskReopen {
    #[command(flatten)]
    target: Target,
    /// The task (T2 or 2).
    task: String,
}

/// Assign a task: `task assign T2 @bo`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident task assign")]
pub struct TaskAssign {
    #[command(flatten)]
    target: Target,
    /// The task (T2 or 2).
    task: String,
    /// Who.
    #[arg(required = true)]
    users: Vec<String>,
}

/// Post a status update (plain, `--tactical` or `--executive`).
#[derive(clap::Parser, Debug)]
#[command(name = "incident update")]
pub struct Update {
    #[command(flatten)]
    target: Target,
    /// Tactical format: conditions, actions, needs.
    #[arg(long, conflicts_with = "executive")]
    tactical: bool,
    /// Executive format: status, overview, next steps.
    #[arg(long)]
    executive: bool,
    /// Tactical: current conditions.
    #[arg(long)]
    conditions: Option<String>,
    /// Tactical: actions.
    #[arg(long)]
    actions: Option<String>,
    /// Tactical: needs.
    #[arg(long)]
    needs: Option<String>,
    /// Executive: status.
    #[arg(long)]
    status: Option<String>,
    /// Executive: overview.
    #[arg(long)]
    overview: Option<String>,
    /// Executive: next steps.
    #[arg(long)]
    next: Option<String>,
    /// The update text (plain format).
    text: Vec<String>,
}

/// Join the incident.
#[derive(clap::Parser, Debug)]
#[command(name = "incident join")]
pub struct Join {
    #[command(flatten)]
    target: Target,
}

/// Leave the incident.
#[derive(clap::Parser, Debug)]
#[command(name = "incident leave")]
pub struct Leave {
    #[command(flatten)]
    target: Target,
}

/// Who is in the incident, with roles.
#[derive(clap::Parser, Debug)]
#[command(name = "incident participants")]
pub struct Participants {
    #[command(flatten)]
    target: Target,
}

/// Set this room's default incident: `focus 42`, `focus --clear`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident focus")]
pub struct Focus {
    #[command(flatten)]
    target: Target,
    /// The incident (42, #42, inc-42); none shows the focus.
    id: Option<String>,
    /// Clear the focus.
    #[arg(long, conflicts_with = "id")]
    clear: bool,
}

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut v = super::specs_for(app, "note", &["log", "tl"], note);
    v.extend(super::specs_for(app, "timeline", &[], timeline));
    v.extend(super::specs_for(
        app,
        "timeline edit",
        &[],
        |app, a: TimelineEdit, ctx| {
            event_change(app, ctx, a.event, EventChange::Edit(a.text.join(" ")))
        },
    ));
    v.extend(super::specs_for(
        app,
        "timeline rm",
        &[],
        |app, a: TimelineRm, ctx| event_change(app, ctx, a.event, EventChange::Remove),
    ));
    v.extend(super::specs_for(
        app,
        "timeline star",
        &[],
        |app, a: TimelineStar, ctx| event_change(app, ctx, a.event, EventChange::Star),
    ));
    v.extend(super::specs_for(app, "task add", &["action add"], task_add));
    v.extend(super::specs_for(
        app,
        "task list",
        &["action list"],
        task_list,
    ));
    v.extend(super::specs_for(
        app,
        "task done",
        &["action done"],
        |app, a: TaskDone, ctx| task_change(app, ctx, a.target, a.task, TaskChange::Done),
    ));
    v.extend(super::specs_for(
        app,
        "task reopen",
        &["action reopen"],
        |app, a: TaskReopen, ctx| task_change(app, ctx, a.target, a.task, TaskChange::Reopen),
    ));
    v.extend(super::specs_for(
        app,
        "task assign",
        &["action assign"],
        |app, a: TaskAssign, ctx| {
            async move {
                // Checked with the network before the change's transaction starts.
                let users = super::known_users(&ctx, &a.users).await?;
                task_change(app, ctx, a.target, a.task, TaskChange::Assign(users)).await
            }
        },
    ));
    v.extend(super::specs_for(app, "update", &[], update));
    v.extend(super::specs_for(app, "join", &[], |app, a: Join, ctx| {
        membership(app, ctx, a.target, true)
    }));
    v.extend(super::specs_for(app, "leave", &[], |app, a: Leave, ctx| {
        membership(app, ctx, a.target, false)
    }));
    v.extend(super::specs_for(app, "participants", &[], participants));
    v.extend(super::specs_for(app, "focus", &[], focus));
    v
}

async fn note(app: Arc<App>, a: Note, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let text = check_text("note", &a.text.join(" "), true).map_err(super::user_err)?;
    let at = match a.at.as_deref() {
        Some(t) => {
            let at = parse_time(&app, &ctx, t)?;
            if at > now {
                return Err(CommandError::user("--at is in the future"));
            }
            at
        }
        None => now,
    };
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(at, who(&ctx), EventKind::Note, text),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!(
        "#{} noted as E{} at {}.",
        incident.id,
        event.id,
        when(&app, at)
    )))
}

async fn timeline(app: Arc<App>, a: Timeline, ctx: Ctx) -> CommandResult {
    let since = a
        .since
        .as_deref()
        .map(|t| parse_time(&app, &ctx, t))
        .transpose()?;
    let mut c = store_of(&ctx).read().await?;
    let incident = target(&ctx, &mut c, a.target.incident.as_deref()).await?;
    super::view::require_visible(&ctx, &mut c, &incident).await?;
    let events = store::events(&mut c, incident.id).await?;
    let lines: Vec<String> = events
        .iter()
        .filter(|e| a.all || (e.kind.is_human() && e.deleted_at.is_none()) || e.starred)
        .filter(|e| since.is_none_or(|s| e.at >= s))
        .map(|e| {
            let mut line = format!(
                "E{} {}{} {} {}: {}",
                e.id,
                if e.starred { "⭐ " } else { "" },
                when(&app, e.at),
                e.kind,
                e.actor,
                e.text
            );
            if e.deleted_at.is_some() {
                line.push_str(" (deleted)");
            }
            line
        })
        .collect();
    if lines.is_empty() {
        return Ok(Reply::text(format!(
            "#{} timeline: nothing yet (add with `note`; `timeline --all` shows system events).",
            incident.id
        )));
    }
    Ok(Reply::text(format!(
        "#{} timeline\n{}",
        incident.id,
        lines.join("\n")
    )))
}

enum EventChange {
    Edit(String),
    Remove,
    Star,
}

fn parse_number(prefix: char, text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_prefix(prefix)
        .or_else(|| t.strip_prefix(prefix.to_ascii_lowercase()))
        .unwrap_or(t);
    t.parse().ok()
}

async fn event_change(
    app: Arc<App>,
    ctx: Ctx,
    event: String,
    change: EventChange,
) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let Some(id) = parse_number('E', &event) else {
        return Err(CommandError::user(format!(
            "`{event}` is not an event (E7 or 7)"
        )));
    };
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let Some(mut e) = store::event(&mut tx, id).await? else {
        return Err(CommandError::user(format!("there is no event E{id}")));
    };
    let Some(incident) = store::incident(&mut tx, e.incident).await? else {
        return Err(CommandError::user(format!("there is no event E{id}")));
    };
    let (what, data) = match &change {
        EventChange::Star => {
            require_edit(&app, &ctx, &mut tx, &incident, "star events of").await?;
            e.starred = !e.starred;
            (
                if e.starred { "starred" } else { "unstarred" },
                json!({"event": id}),
            )
        }
        EventChange::Edit(_) | EventChange::Remove => {
            if !e.kind.is_human() {
                return Err(CommandError::user(format!(
                    "E{id} is a system event ({}); only notes, updates and captured messages can be changed",
                    e.kind
                )));
            }
            if e.deleted_at.is_some() {
                return Err(CommandError::user(format!("E{id} is deleted")));
            }
            if e.actor != me {
                require_edit(&app, &ctx, &mut tx, &incident, "change others' events of").await?;
            }
            match &change {
                EventChange::Edit(text) => {
                    let text = check_text("note", text, true).map_err(super::user_err)?;
                    let old = std::mem::replace(&mut e.text, text.clone());
                    ("edited", json!({"event": id, "old": old, "new": text}))
                }
                _ => {
                    e.deleted_at = Some(now);
                    e.deleted_by = Some(me.clone());
                    ("deleted", json!({"event": id}))
                }
            }
        }
    };
    store::save_event(&mut tx, &e, now).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me, EventKind::Field, format!("E{id} {what}")).data(data),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!("#{} E{id} {what}.", incident.id)))
}

async fn task_add(app: Arc<App>, a: TaskAdd, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let text = check_text("task", &a.text.join(" "), true).map_err(super::user_err)?;
    let priority = Priority::parse(&a.priority.to_lowercase()).ok_or_else(|| {
        CommandError::user(format!(
            "`{}` is not a priority (high, medium, low)",
            a.priority
        ))
    })?;
    let kind = match a.kind.as_deref().map(str::to_lowercase) {
        None => None,
        Some(k) if ["detective", "preventative", "corrective"].contains(&k.as_str()) => Some(k),
        Some(k) => {
            return Err(CommandError::user(format!(
                "`{k}` is not a follow-up kind (detective, preventative, corrective)"
            )));
        }
    };
    let due_at = a
        .due
        .as_deref()
        .map(|t| parse_time(&app, &ctx, t))
        .transpose()?;
    let assignees = super::known_users(&ctx, &a.assign).await?;
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    let task = Task {
        incident: incident.id,
        number: 0,
        text: text.clone(),
        assignees: assignees.clone(),
        creator: me.clone(),
        phase: if a.followup {
            TaskPhase::Followup
        } else {
            TaskPhase::During
        },
        kind,
        priority,
        due_at,
        status: TaskStatus::Open,
        done_at: None,
        done_by: None,
        ticket_url: None,
        created_at: now,
    };
    let number = store::insert_task(&mut tx, &task).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me, EventKind::Task, format!("T{number} added: {text}"))
            .data(json!({"task": number, "assignees": assignees})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    let mut line = format!("#{} T{number} added", incident.id);
    if !assignees.is_empty() {
        line.push_str(&format!(" for {}", assignees.join(", ")));
    }
    if let Some(d) = due_at {
        line.push_str(&format!(", due {}", when(&app, d)));
    }
    line.push('.');
    Ok(Reply::text(line))
}

pub(crate) fn task_line(app: &App, t: &Task) -> String {
    let mut line = format!(
        "T{} [{}] {}",
        t.number,
        if t.status == TaskStatus::Done {
            "x"
        } else {
            " "
        },
        t.text
    );
    if !t.assignees.is_empty() {
        line.push_str(&format!(" — {}", t.assignees.join(", ")));
    }
    if t.priority != Priority::Medium {
        line.push_str(&format!(" ({} priority)", t.priority));
    }
    if let Some(k) = &t.kind {
        line.push_str(&format!(" ({k})"));
    }
    if let Some(d) = t.due_at {
        line.push_str(&format!(" due {}", when(app, d)));
    }
    if let (Some(at), Some(by)) = (t.done_at, &t.done_by) {
        line.push_str(&format!(" done {} by {by}", when(app, at)));
    }
    line
}

async fn task_list(app: Arc<App>, a: TaskList, ctx: Ctx) -> CommandResult {
    let me = who(&ctx);
    let mut c = store_of(&ctx).read().await?;
    let incident = target(&ctx, &mut c, a.target.incident.as_deref()).await?;
    let tasks = store::tasks(&mut c, incident.id).await?;
    let lines: Vec<String> = tasks
        .iter()
        .filter(|t| a.all || t.status == TaskStatus::Open)
        .filter(|t| !a.mine || t.assignees.contains(&me))
        .map(|t| task_line(&app, t))
        .collect();
    if lines.is_empty() {
        return Ok(Reply::text(format!("#{} has no open tasks.", incident.id)));
    }
    Ok(Reply::text(format!(
        "#{} tasks\n{}",
        incident.id,
        lines.join("\n")
    )))
}

enum TaskChange {
    Done,
    Reopen,
    Assign(Vec<String>),
}

async fn task_change(
    app: Arc<App>,
    ctx: Ctx,
    t: Target,
    task: String,
    change: TaskChange,
) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let Some(number) = parse_number('T', &task) else {
        return Err(CommandError::user(format!(
            "`{task}` is not a task (T2 or 2)"
        )));
    };
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, t.incident.as_deref()).await?;
    let tasks = store::tasks(&mut tx, incident.id).await?;
    let Some(mut task) = tasks.into_iter().find(|x| x.number == number) else {
        return Err(CommandError::user(format!(
            "#{} has no task T{number}",
            incident.id
        )));
    };
    let text = match change {
        TaskChange::Done => {
            if task.status == TaskStatus::Done {
                return Ok(Reply::text(format!(
                    "#{} T{number} is already done.",
                    incident.id
                )));
            }
            task.status = TaskStatus::Done;
            task.done_at = Some(now);
            task.done_by = Some(me.clone());
            format!("T{number} done")
        }
        TaskChange::Reopen => {
            if task.status == TaskStatus::Open {
                return Ok(Reply::text(format!(
                    "#{} T{number} is already open.",
                    incident.id
                )));
            }
            task.status = TaskStatus::Open;
            task.done_at = None;
            task.done_by = None;
            format!("T{number} reopened")
        }
        TaskChange::Assign(users) => {
            let users = users
                .iter()
                .map(|u| user_arg(&ctx, u))
                .collect::<Result<Vec<_>, _>>()?;
            task.assignees = users.clone();
            format!("T{number} assigned to {}", users.join(", "))
        }
    };
    store::save_task(&mut tx, &task).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me, EventKind::Task, text.clone()).data(json!({"task": number})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!("#{} {text}.", incident.id)))
}

async fn update(app: Arc<App>, a: Update, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let (kind, fields): (UpdateKind, Vec<(&str, Option<String>)>) = if a.tactical {
        (
            UpdateKind::Tactical,
            vec![
                ("conditions", a.conditions),
                ("actions", a.actions),
                ("needs", a.needs),
            ],
        )
    } else if a.executive {
        (
            UpdateKind::Executive,
            vec![
                ("status", a.status),
                ("overview", a.overview),
                ("next steps", a.next),
            ],
        )
    } else {
        (UpdateKind::Update, Vec::new())
    };
    let mut map = serde_json::Map::new();
    let mut parts = Vec::new();
    for (name, value) in fields {
        if let Some(v) = value {
            let v = check_text("update", &v, true).map_err(super::user_err)?;
            parts.push(format!("{name}: {v}"));
            map.insert(name.to_owned(), serde_json::Value::String(v));
        }
    }
    let free = a.text.join(" ");
    if !free.trim().is_empty() {
        parts.push(free);
    }
    if parts.is_empty() {
        return Err(CommandError::user(match kind {
            UpdateKind::Tactical => "a tactical update needs --conditions, --actions or --needs",
            UpdateKind::Executive => "an executive update needs --status, --overview or --next",
            UpdateKind::Update => "an update needs text: `update checkout recovering, watching`",
        }));
    }
    let text = check_text("update", &parts.join("\n"), true).map_err(super::user_err)?;
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    require_edit(&app, &ctx, &mut tx, &incident, "post updates for").await?;
    store::insert_update(
        &mut tx,
        &StatusUpdate {
            id: 0,
            incident: incident.id,
            author: me.clone(),
            at: now,
            kind,
            text: text.clone(),
            fields: map,
            state: incident.state,
            severity: incident.severity,
        },
    )
    .await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me, EventKind::Update, text).data(json!({"kind": kind.as_str()})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!("#{} {kind} posted.", incident.id)))
}

async fn membership(app: Arc<App>, ctx: Ctx, t: Target, join: bool) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let incident = target(&ctx, &mut tx, t.incident.as_deref()).await?;
    if join && !super::view::may_see(&mut tx, &incident, &me, ctx.caller_is_admin()).await? {
        // Joining would show a private incident to anyone: it takes an invitation.
        return Err(CommandError::denied(format!(
            "#{} is private: ask its lead or a responder to `invite` you",
            incident.id
        )));
    }
    let changed = if join {
        store::join(&mut tx, incident.id, &me, now).await?
    } else {
        store::leave(&mut tx, incident.id, &me, now).await?
    };
    if !changed {
        return Ok(Reply::text(format!(
            "You are {} #{}.",
            if join { "already in" } else { "not in" },
            incident.id
        )));
    }
    let verb = if join { "joined" } else { "left" };
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(
            now,
            me.clone(),
            EventKind::Participant,
            format!("{me} {verb}"),
        ),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!(
        "You {verb} #{} {}.",
        incident.id, incident.title
    )))
}

async fn participants(_app: Arc<App>, a: Participants, ctx: Ctx) -> CommandResult {
    let mut c = store_of(&ctx).read().await?;
    let incident = target(&ctx, &mut c, a.target.incident.as_deref()).await?;
    super::view::require_visible(&ctx, &mut c, &incident).await?;
    let people = store::participants(&mut c, incident.id).await?;
    let roles = store::roles(&mut c, incident.id).await?;
    let lines: Vec<String> = people
        .iter()
        .filter(|p| p.left_at.is_none())
        .map(|p| {
            let held: Vec<&str> = roles
                .iter()
                .filter(|r| r.until.is_none() && r.user == p.user)
                .map(|r| r.role.as_str())
                .collect();
            let mut line = p.user.clone();
            if !held.is_empty() {
                line.push_str(&format!(" ({})", held.join(", ")));
            }
            if p.message_count > 0 {
                line.push_str(&format!(" — {} messages", p.message_count));
            }
            line
        })
        .collect();
    Ok(Reply::text(format!(
        "#{} participants\n{}",
        incident.id,
        lines.join("\n")
    )))
}

async fn focus(_app: Arc<App>, a: Focus, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let room = ctx.room().to_string();
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    if a.clear {
        store::set_focus(&mut tx, &room, None, &me, now).await?;
        store::commit(tx).await?;
        return Ok(Reply::text("This room has no focus now."));
    }
    let Some(given) = a.id.or(a.target.incident) else {
        let text = match store::focus(&mut tx, &room).await? {
            Some(id) => format!("This room's focus is #{id}."),
            None => format!(
                "This room has no focus; {}.",
                reference::list_open(&store::open_incidents(&mut tx).await?)
            ),
        };
        return Ok(Reply::text(text));
    };
    let incident = target(&ctx, &mut tx, Some(&given)).await?;
    store::set_focus(&mut tx, &room, Some(incident.id), &me, now).await?;
    store::commit(tx).await?;
    Ok(Reply::text(format!(
        "This room's focus is now #{} {}.",
        incident.id, incident.title
    )))
}
