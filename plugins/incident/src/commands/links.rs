//! `ticket`, `review`, `private` and `handoff`.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::id::{Target as SendTarget, UserId};
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use serde_json::json;

use super::{App, Target, caller, require_edit, store_of, target, when, who};
use crate::model::{EventKind, NewEvent, Review, TaskStatus, check_text};
use crate::store;

/// Longest accepted URL.
const MAX_URL: usize = 2000;

/// Link a ticket: `ticket https://jira.example/browse/OPS-1` (`ticket create` needs a ticket
/// integration, not configured yet).
#[derive(clap::Parser, Debug)]
#[command(name = "incident ticket")]
pub struct Ticket {
    #[command(flatten)]
    target: Target,
    /// The ticket URL, or `create`; none shows the current one.
    url: Option<String>,
}

/// Link the review document (`review https://…`) or mark the review done (`review done`).
#[derive(clap::Parser, Debug)]
#[command(name = "incident review")]
pub struct ReviewCmd {
    #[command(flatten)]
    target: Target,
    /// A URL or `done`; none shows the review state.
    what: Option<String>,
}

/// Make the incident private: hidden from lists for non-participants. Irreversible; lead or
/// bot admins only.
#[derive(clap::Parser, Debug)]
#[command(name = "incident private")]
pub struct Private {
    #[command(flatten)]
    target: Target,
}

/// Hand the lead to someone: `handoff @bo going off shift`. The old lead becomes deputy
/// unless `--release`; the new lead gets the summary, open tasks and last update.
#[derive(clap::Parser, Debug)]
#[command(name = "incident handoff")]
pub struct Handoff {
    #[command(flatten)]
    target: Target,
    /// The new lead.
    user: String,
    /// Do not keep the old lead as deputy.
    #[arg(long)]
    release: bool,
    /// A note for the new lead.
    note: Vec<String>,
}

/// The commands of this module.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut v = super::specs_for(app, "ticket", &[], ticket);
    v.extend(super::specs_for(app, "review", &[], review));
    v.extend(super::specs_for(app, "private", &[], private));
    v.extend(super::specs_for(app, "handoff", &[], handoff));
    v
}

fn check_url(text: &str) -> Result<String, CommandError> {
    let t = text.trim();
    let ok = (t.starts_with("https://") || t.starts_with("http://"))
        && t.len() > "https://".len()
        && t.len() <= MAX_URL
        && !t.chars().any(char::is_whitespace);
    if ok {
        Ok(t.to_owned())
    } else {
        Err(CommandError::user(format!(
            "`{}` is not a link (http:// or https://, at most {MAX_URL} characters)",
            t.chars().take(80).collect::<String>()
        )))
    }
}

async fn ticket(app: Arc<App>, a: Ticket, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    let Some(url) = a.url else {
        let current = incident.ticket_url.as_deref().unwrap_or("(none)");
        return Ok(Reply::text(format!("#{} ticket: {current}", incident.id)));
    };
    if url.eq_ignore_ascii_case("create") {
        return Err(CommandError::user(
            "no ticket integration is configured; link an existing ticket with `ticket <url>`",
        ));
    }
    let url = check_url(&url)?;
    require_edit(&app, &ctx, &mut tx, &incident, "link a ticket to").await?;
    let old = incident.ticket_url.replace(url.clone());
    store::save_incident(&mut tx, &incident).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, who(&ctx), EventKind::Field, format!("ticket {url}"))
            .data(json!({"field": "ticket_url", "old": old, "new": url})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!("#{} ticket: {url}", incident.id)))
}

async fn review(app: Arc<App>, a: ReviewCmd, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    let Some(what) = a.what else {
        let url = incident
            .review_url
            .as_deref()
            .unwrap_or("no document linked");
        return Ok(Reply::text(format!(
            "#{} review: {} ({url})",
            incident.id, incident.review
        )));
    };
    require_edit(&app, &ctx, &mut tx, &incident, "change the review of").await?;
    let (text, data) = if what.eq_ignore_ascii_case("done") {
        if incident.review == Review::Done {
            return Ok(Reply::text(format!(
                "#{} review is already done.",
                incident.id
            )));
        }
        let old = incident.review;
        incident.review = Review::Done;
        (
            "review done".to_owned(),
            json!({"field": "review", "old": old.as_str(), "new": "done"}),
        )
    } else {
        let url = check_url(&what)?;
        let old = incident.review_url.replace(url.clone());
        if incident.review == Review::None {
            incident.review = Review::Pending;
        }
        (
            format!("review document {url}"),
            json!({"field": "review_url", "old": old, "new": url}),
        )
    };
    store::save_incident(&mut tx, &incident).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, who(&ctx), EventKind::Field, text.clone()).data(data),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!("#{} {text}.", incident.id)))
}

async fn private(app: Arc<App>, a: Private, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let (me, admin) = caller(&ctx);
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    if incident.private {
        return Ok(Reply::text(format!("#{} is already private.", incident.id)));
    }
    if !(admin || incident.lead.as_deref() == Some(me.as_str())) {
        let lead = incident.lead.as_deref().unwrap_or("none yet");
        return Err(CommandError::denied(format!(
            "only the lead of #{} ({lead}) and bot admins may make it private",
            incident.id
        )));
    }
    incident.private = true;
    store::save_incident(&mut tx, &incident).await?;
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me, EventKind::Field, "made private")
            .data(json!({"field": "private", "old": false, "new": true})),
        now,
    )
    .await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;
    Ok(Reply::text(format!(
        "#{} is now private: hidden from lists for non-participants (this cannot be undone).",
        incident.id
    )))
}

async fn handoff(app: Arc<App>, a: Handoff, ctx: Ctx) -> CommandResult {
    let now = ctx.now();
    let me = who(&ctx);
    let new_lead = super::known_user(&ctx, &a.user).await?;
    let note = check_text("note", &a.note.join(" "), false).map_err(super::user_err)?;
    let store = store_of(&ctx);
    let mut tx = store.begin().await?;
    let mut incident = target(&ctx, &mut tx, a.target.incident.as_deref()).await?;
    require_edit(&app, &ctx, &mut tx, &incident, "hand off the lead of").await?;
    if incident.lead.as_deref() == Some(new_lead.as_str()) {
        return Ok(Reply::text(format!(
            "{new_lead} is already the lead of #{}.",
            incident.id
        )));
    }
    let old_lead = incident.lead.clone();
    store::assign_role(&mut tx, incident.id, "lead", Some(&new_lead), &me, now).await?;
    let keep_deputy = !a.release && app.config.roles.iter().any(|r| r == "deputy");
    if let (Some(old), true) = (&old_lead, keep_deputy) {
        store::assign_role(&mut tx, incident.id, "deputy", Some(old), &me, now).await?;
    }
    incident.lead = Some(new_lead.clone());
    if incident.first_ack_at.is_none() {
        incident.first_ack_at = Some(now);
    }
    store::save_incident(&mut tx, &incident).await?;
    store::join(&mut tx, incident.id, &new_lead, now).await?;
    let mut text = format!("lead handed to {new_lead}");
    if let (Some(old), true) = (&old_lead, keep_deputy) {
        text.push_str(&format!("; {old} is deputy"));
    }
    let event = store::append_event(
        &mut tx,
        incident.id,
        NewEvent::new(now, me.clone(), EventKind::Role, text.clone()).data(json!({
            "role": "lead", "old": old_lead, "new": new_lead, "note": note,
        })),
        now,
    )
    .await?;
    let tasks = store::tasks(&mut tx, incident.id).await?;
    let updates = store::updates(&mut tx, incident.id).await?;
    super::commit_and_notify(&app, &ctx, tx, &event).await?;

    // Brief the new lead: by DM where the network has them, else here with a mention.
    let open: Vec<String> = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Open)
        .map(|t| format!("T{} {}", t.number, t.text))
        .collect();
    let mut brief = vec![format!(
        "You are now the lead of #{} {} (handed over by {me}).",
        incident.id, incident.title
    )];
    if !note.is_empty() {
        brief.push(format!("Note: {note}"));
    }
    brief.push(format!(
        "Summary: {}",
        incident.summary.as_deref().unwrap_or("(none)")
    ));
    brief.push(format!(
        "Open tasks: {}",
        if open.is_empty() {
            "none".to_owned()
        } else {
            open.join("; ")
        }
    ));
    if let Some(u) = updates.last() {
        brief.push(format!("Last update ({}): {}", when(&app, u.at), u.text));
    }
    let brief = brief.join("\n");
    let dm = new_lead.parse::<UserId>().ok().filter(|u| {
        ctx.capabilities(u.backend())
            .is_some_and(|c| c.direct_messages)
    });
    match dm {
        Some(user) => {
            ctx.send(SendTarget::direct(user), brief);
        }
        None => {
            ctx.reply(format!("{new_lead}: {brief}"));
        }
    }
    Ok(Reply::text(format!("#{} {text}.", incident.id)))
}
