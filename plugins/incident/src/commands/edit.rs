//! Field changes: `title`, `summary`, `impact`, `resolution`, `severity`, `tag add|rm`,
//! `tags`, `lead`, `role`, `roles`. No text → show the current value; a change stores
//! old → new in its timeline event.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use serde_json::json;

use super::{App, Target, require_edit, store_of, target, who};
use crate::model::{EventKind, Incident, MAX_TAGS, NewEvent, check_text, check_title};
use crate::store;
use crate::util::tags::Tag;

macro_rules! text_command {
    ($name:ident, $cmd:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(clap::Parser, Debug)]
        #[command(name = $cmd)]
        pub struct $name {
            #[command(flatten)]
            target: Target,
            /// The new text; none shows the current one.
            text: Vec<String>,
        }
    };
}

text_command!(
    Title,
    "incident title",
    "Show or change the title (1–200 characters)."
);
text_command!(
    Summary,
    "incident summary",
    "Show or change the summary (≤4000 characters)."
);
text_command!(
    Impact,
    "incident impact",
    "Show or change the impact (≤4000 characters)."
);
text_command!(
    Resolution,
    "incident resolution",
    "Show or change the resolution (≤4000 characters)."
);

/// Show or change the severity: number, name or sevN. It cannot be unset.
#[derive(clap::Parser, Debug)]
#[command(name = "incident severity")]
pub struct SeverityCmd {
    #[command(flatten)]
    target: Target,
    /// The level; none shows the current one.
    level: Option<String>,
}

/// Add tags (key=value).
#[derive(clap::Parser, Debug)]
#[command(name = "incident tag add")]
pub struct TagAdd {
    #[command(flatten)]
    target: Target,
    /// Tags key=value.
    #[arg(required = true)]
    tags: Vec<String>,
}

/// Remove tags (key=value).
#[derive(clap::Parser, Debug)]
#[command(name = "incident tag rm")]
pub struct TagRm {
    #[command(flatten)]
    target: Target,
    /// Tags key=value.
    #[arg(required = true)]
    tags: Vec<String>,
}

/// Show the tags.
#[derive(clap::Parser, Debug)]
#[command(name = "incident tags")]
pub struct Tags {
    #[command(flatten)]
    target: Target,
}

/// Set the lead: the user named, or you.
#[derive(clap::Parser, Debug)]
#[command(name = "incident lead")]
pub struct Lead {
    #[command(flatten)]
    target: Target,
    /// The new lead (@user); default: you.
    user: Option<String>,
}

/// Assign or clear a role: `role scribe @bo`, `role scribe --clear`.
#[derive(clap::Parser, Debug)]
#[command(name = "incident role")]
pub struct Role {
    #[command(flatten)]
    target: Target,
    /// The role (lead, deputy, scribe, comms; aliases ic, commander, liaison).
    role: String,
    /// Who gets it; default: you.
    user: Option<String>,
    /// Clear the role.
    #[arg(long, conflicts_with = "user")]
    clear: bool,
}

/// Who holds which role.
#[derive(clap::Parser, Debug)]
#[command(name = "incident roles")]
pub struct Roles {
    #[command(flatten)]
    target: Target,
}

#[derive(Clone, Copy)]
enum Field {
    Title,
    Summary,
    Impact,
    Resolution,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Impact => "impact",
            Field::Resolution => "resolution",
        }
    }

    fn get(self, i: &Incident) -> Option<String> {
        match self {
            Field::Title => Some(i.title.clone()),
            Field::Summary => i.summary.clone(),
            Field::Impact => i.impact.clone(),
            Field::Resolution => i.resolution.clone(),
        }
    }

    fn set(self, i: &mut Incident, v: String) {
        match self {
            Field::Title => i.title = v,
            Field::Summary => i.summary = Some(v),
            Field::Impact => i.impact = Some(v),
            Field::Resolution => i.resolution = Some(v),
        }
    }
}

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut v = super::specs_for(app, "title", &[], |app, a: Title, ctx| {
        text_field(app, ctx, a.target, Field::Title, a.text)
    });
    v.extend(super::specs_for(
        app,
        "summary",
        &[],
        |app, a: Summary, ctx| text_field(app, ctx, a.target, Field::Summary, a.text),
    ));
    v.extend(super::specs_for(
        app,
        "impact",
        &[],
        |app, a: Impact, ctx| text_field(app, ctx, a.target, Field::Impact, a.text),
    ));
    v.extend(super::specs_for(
        app,
        "resolution",
        &[],
        |app, a: Resolution, ctx| text_field(app, ctx, a.target, Field::Resolution, a.text),
    ));
    v.extend(super::specs_for(app, "severity", &["sev"], severity));
    v.extend(super::specs_for(
        app,
        "tag add",
        &[],
        |app, a: TagAdd, ctx| tags_change(app, ctx, a.target, a.tags, true),
    ));
    v.extend(super::specs_for(
        app,
        "tag rm",
        &[],
        |app, a: TagRm, ctx| tags_change(app, ctx, a.target, a.tags, false),
    ));
    v.extend(super::specs_for(app, "tags", &[], show_tags));
    v.extend(super::specs_for(
        app,
        "lead",
        &[],
        |app, a: Lead, ctx| async move {
            let user = a.user.clone();
            set_role(app, ctx, a.target, "lead".into(), user, false).await
        },
    ));
    v.extend(super::specs_for(
        app,
        "role",
        &[],
        |app, a: Role, ctx| async move {
            let Some(role) = app.config.role(&a.role) else {
                return Err(CommandError::user(format!(
                    "unknown role `{}`; roles: {}",
                    a.role,
                    app.config.roles.join(", ")
                )));
            };
            set_role(app, ctx, a.target, role, a.user, a.clear).await
        },
    ));
    v.extend(super::specs_for(app, "roles", &[], show_roles));
    v
}

async fn text_field(
    app: Arc<App>,
    ctx: Ctx,
    t: Target,
    field: Field,
    words: Vec<String>,
) -> CommandResult {
    let now = ctx.now();
    let text = words.join(" ");
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, t.incident.as_deref()).await?;
    if text.trim().is_empty() {
        let current = field.get(&incident).unwrap_or_else(|| "(not set)".into());
        return Ok(Reply::text(format!(
            "#{} {}: {current}",
            incident.id,
            field.name()
        )));
    }
    let new = match field {
        Field::Title => check_title(&text),
        _ => check_text(field.name(), &text, true),
    }
    .map_err(super::user_err)?;
    require_edit(
        &app,
        &ctx,
        &mut tx,
        &incident,
        &format!("change the {} of", field.name()),
    )
    .await?;
    let old = field.get(&incident);
    if old.as_deref() == Some(new.as_str()) {
        return Ok(Reply::text(format!(
            "#{} {} is already that.",
            incident.id,
            field.name()
        )));
    }
    field.set(&mut incident, new.clone());
    store::save_incident(&mut tx, &incident).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(
            now,
            who(&ctx),
            EventKind::Field,
            format!("{} changed", field.name()),
        )
        .data(json!({"field": field.name(), "old": old, "new": new})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!(
        "#{} {} set.",
        incident.id,
        field.name()
    )))
}

async fn severity(app: Arc<App>, a: SeverityCmd, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let scale = &app.config.severities;
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    let Some(level) = a.level else {
        let current = incident
            .severity
            .map_or_else(|| "not set".to_owned(), |s| scale.label(s));
        return Ok(Reply::text(format!(
            "#{} severity: {current} (levels: {})",
            incident.id,
            scale.valid_list()
        )));
    };
    let new = scale.parse(&level).map_err(super::user_err)?;
    require_edit(&app, &ctx, &mut tx, &incident, "change the severity of").await?;
    if incident.severity == Some(new) {
        return Ok(Reply::text(format!(
            "#{} is already {}.",
            incident.id,
            scale.label(new)
        )));
    }
    let old = incident.severity;
    incident.severity = Some(new);
    store::save_incident(&mut tx, &incident).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(
            now,
            who(&ctx),
            EventKind::Field,
            format!("severity {}", scale.label(new)),
        )
        .data(json!({"field": "severity", "old": old.map(|s| s.0), "new": new.0})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!(
        "#{} severity is now {}.",
        incident.id,
        scale.label(new)
    )))
}

async fn tags_change(
    app: Arc<App>,
    ctx: Ctx,
    t: Target,
    texts: Vec<String>,
    add: bool,
) -> CommandResult {
    let now = ctx.now();
    let tags: Vec<Tag> = texts
        .iter()
        .flat_map(|t| t.split(','))
        .filter(|t| !t.trim().is_empty())
        .map(|t| Tag::parse(t).map_err(super::user_err))
        .collect::<Result<_, _>>()?;
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, t.incident.as_deref()).await?;
    require_edit(&app, &ctx, &mut tx, &incident, "change the tags of").await?;
    let old: Vec<String> = incident.tags.iter().map(ToString::to_string).collect();
    if add {
        incident.tags.extend(tags);
        incident.tags.sort();
        incident.tags.dedup();
        if incident.tags.len() > MAX_TAGS {
            return Err(CommandError::user(format!(
                "that makes {} tags; at most {MAX_TAGS} are allowed",
                incident.tags.len()
            )));
        }
    } else {
        incident.tags.retain(|t| !tags.contains(t));
    }
    let new: Vec<String> = incident.tags.iter().map(ToString::to_string).collect();
    if new == old {
        return Ok(Reply::text(format!(
            "#{} tags unchanged: {}",
            incident.id,
            show(&new)
        )));
    }
    store::save_incident(&mut tx, &incident).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(
            now,
            who(&ctx),
            EventKind::Field,
            format!("tags {}", show(&new)),
        )
        .data(json!({"field": "tags", "old": old, "new": new})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!(
        "#{} tags: {}",
        incident.id,
        show(&new)
    )))
}

fn show(tags: &[String]) -> String {
    if tags.is_empty() {
        "(none)".into()
    } else {
        tags.join(" ")
    }
}

async fn show_tags(_app: Arc<App>, a: Tags, ctx: Ctx) -> CommandResult {
    let mut c = store_of(&ctx).read().await?;
    let incident = target(&ctx, &mut c, a.target.incident.as_deref()).await?;
    let tags: Vec<String> = incident.tags.iter().map(ToString::to_string).collect();
    Ok(Reply::text(format!(
        "#{} tags: {}",
        incident.id,
        show(&tags)
    )))
}

async fn set_role(
    app: Arc<App>,
    ctx: Ctx,
    t: Target,
    role: String,
    user: Option<String>,
    clear: bool,
) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let user = if clear {
        None
    } else {
        Some(match user {
            Some(u) => super::known_user(&ctx, &u).await?,
            None => me.clone(),
        })
    };
    if clear && role == "lead" {
        return Err(CommandError::user(
            "the lead cannot be cleared; hand it to someone with `lead @user`",
        ));
    }
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, t.incident.as_deref()).await?;
    require_edit(
        &app,
        &ctx,
        &mut tx,
        &incident,
        &format!("assign the {role} of"),
    )
    .await?;
    let roles = store::roles(&mut tx, incident.id).await?;
    let current = roles
        .iter()
        .find(|r| r.role == role && r.until.is_none())
        .map(|r| r.user.clone());
    if current == user {
        let text = match &user {
            Some(u) => format!("{u} is already the {role} of #{}.", incident.id),
            None => format!("#{} has no {role}.", incident.id),
        };
        return Ok(Reply::text(text));
    }
    store::assign_role(&mut tx, incident.id, &role, user.as_deref(), &me, now).await?;
    if role == "lead" {
        incident.lead = user.clone();
        if incident.first_ack_at.is_none() {
            incident.first_ack_at = Some(now);
        }
        store::save_incident(&mut tx, &incident).await?;
    }
    if let Some(u) = &user {
        store::join(&mut tx, incident.id, u, now).await?;
    }
    let text = match &user {
        Some(u) => format!("{role}: {u}"),
        None => format!("{role} cleared"),
    };
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me, EventKind::Role, text.clone())
            .data(json!({"role": role, "old": current, "new": user})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!("#{} {text}.", incident.id)))
}

async fn show_roles(app: Arc<App>, a: Roles, ctx: Ctx) -> CommandResult {
    let mut c = store_of(&ctx).read().await?;
    let incident = target(&ctx, &mut c, a.target.incident.as_deref()).await?;
    let roles = store::roles(&mut c, incident.id).await?;
    let lines: Vec<String> = app
        .config
        .roles
        .iter()
        .map(|role| {
            let holder = roles
                .iter()
                .find(|r| &r.role == role && r.until.is_none())
                .map_or("—", |r| r.user.as_str());
            format!("{role}: {holder}")
        })
        .collect();
    Ok(Reply::text(format!(
        "#{} roles\n{}",
        incident.id,
        lines.join("\n")
    )))
}
