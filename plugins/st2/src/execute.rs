//! `!st2 <text>`: runs an action-alias through `POST /api/v1/aliasexecution/match_and_execute`
//! and acknowledges it the way the alias says; StackStorm's errors become replies that say
//! what to do.

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::id::{Target, ThreadId};
use ferrbot::message::Reply;

use crate::App;
use crate::alias::normalize_command;
use crate::client::{ExecuteRequest, ExecutionResult, St2Error};
use crate::rbac::{self, RbacError};
use crate::render;

/// Handles `!st2 <text>` (raw text: quotes and line breaks as typed).
///
/// # Errors
/// A user error with a hint for every StackStorm refusal.
pub async fn run(app: App, ctx: Ctx) -> CommandResult {
    let p = format!("{}{}", ctx.prefix(), app.core.settings.prefix);
    let text = ctx.raw_args().trim();
    if text.is_empty() {
        return Err(
            CommandError::user(format!("Usage: `{p} <action-alias command>`")).with_hint(format!(
                "`{}{}help` lists the aliases",
                ctx.prefix(),
                app.core.settings.prefix
            )),
        );
    }
    if app.core.sessions.is_none()
        && (text == "session" || text.starts_with("session "))
        && app.core.aliases.matching(text).is_empty()
    {
        return Err(CommandError::user(format!(
            "This bot runs StackStorm commands with {} credentials: there is no login session \
             to start or end.",
            match app.core.settings.rbac {
                crate::config::RbacMode::Serverside(_) => "per-user (serverside)",
                _ => "the bot's own",
            }
        ))
        .with_hint(format!("run aliases directly with `{p} <command>`")));
    }
    let command = normalize_command(text);
    let room = ctx.room().to_string();
    let request = ExecuteRequest {
        command: command.clone(),
        user: ctx.caller().id.to_string(),
        source_channel: room.clone(),
        notification_channel: room,
        notification_route: app.core.settings.route.clone(),
    };
    let client = app.core.client.clone();
    let result = rbac::run_as_caller(&app, &ctx, |credential| {
        let client = client.clone();
        let request = request.clone();
        async move { client.match_and_execute(&credential, &request).await }
    })
    .await;
    match result {
        Ok(results) => {
            app.core.status.count("started");
            let Some(message) = ack(&results) else {
                return Ok(Reply::none());
            };
            match thread_target(&ctx, &results) {
                Some(target) => {
                    let _receipt = ctx.send(target, message);
                    Ok(Reply::none())
                }
                None => Ok(Reply::message(message)),
            }
        }
        Err(RbacError::NeedsLogin(help)) => {
            app.core.status.count("needs_login");
            Err(CommandError::user(help))
        }
        Err(RbacError::Store(e)) => {
            app.core.status.count("error");
            Err(CommandError::internal(e))
        }
        Err(RbacError::St2(e)) => Err(explain(&app, &ctx, &command, &e)),
    }
}

/// Where an ack asking for `extra.slack.thread_response` goes: a new thread under the
/// command's message, when the command was not already in a thread, the backend has threads
/// and gave the message an id. `None` means "reply where the command was typed".
fn thread_target(ctx: &Ctx, results: &[ExecutionResult]) -> Option<Target> {
    let wanted = results.iter().any(|r| {
        r.extra
            .as_ref()
            .and_then(|e| e.pointer("/slack/thread_response"))
            .and_then(serde_json::Value::as_bool)
            == Some(true)
    });
    if !wanted || ctx.thread().is_some() || !ctx.caller_capabilities().threads {
        return None;
    }
    let message = ctx.message_id()?;
    let thread = ThreadId::new(ctx.room().backend(), message.local()).ok()?;
    Some(Target::thread(ctx.room().clone(), thread))
}

/// The acknowledgement of the executions StackStorm started.
pub fn ack(results: &[ExecutionResult]) -> Option<ferrbot::message::OutgoingMessage> {
    let mut parts: Vec<ferrbot::message::OutgoingMessage> = Vec::new();
    for r in results {
        let spec = r
            .actionalias
            .as_ref()
            .and_then(|a| a.ack.clone())
            .unwrap_or_default();
        if spec.enabled == Some(false) {
            continue;
        }
        let mut text = match r.message.as_deref().map(str::trim) {
            Some(m) if !m.is_empty() => m.to_owned(),
            _ => format!("execution {} started", r.execution.id),
        };
        if spec.append_url != Some(false)
            && let Some(url) = r.execution.web_url.as_deref()
            && !text.contains(url)
        {
            text = if text.contains(render::DELIMITER) {
                text.replacen(
                    render::DELIMITER,
                    &format!(" {url} {}", render::DELIMITER),
                    1,
                )
            } else {
                format!("{text} {url}")
            };
        }
        let extra = r.extra.clone().unwrap_or_default();
        parts.push(render::render(&text, &extra));
    }
    let mut parts = parts.into_iter();
    let mut first = parts.next()?;
    for p in parts {
        first.text = first.text.line().append(p.text);
        if first.card.is_none() {
            first.card = p.card;
        }
    }
    Some(first)
}

/// Turns a StackStorm refusal into a reply.
fn explain(app: &App, ctx: &Ctx, command: &str, e: &St2Error) -> CommandError {
    let prefix = ctx.prefix();
    let help = format!(
        "`{prefix}{}help` lists the aliases you can run",
        app.core.settings.prefix
    );
    let status = &app.core.status;
    match e {
        St2Error::BadRequest(fault) if fault.contains("matched no patterns") => {
            status.count("no_match");
            let suggestions = app.core.aliases.suggestions(command, 3);
            let mut msg = format!("No StackStorm action-alias matches `{command}`.");
            if !suggestions.is_empty() {
                let list: Vec<String> = suggestions
                    .iter()
                    .map(|c| format!("`{}{} {}`", prefix, app.core.settings.prefix, c.display))
                    .collect();
                msg.push_str(&format!(" Did you mean {}?", list.join(" or ")));
            }
            CommandError::user(msg).with_hint(help)
        }
        St2Error::BadRequest(fault) if fault.contains("matched more than 1") => {
            status.count("ambiguous");
            let matching = app.core.aliases.matching(command);
            let mut msg = format!("`{command}` matches more than one StackStorm action-alias");
            if matching.is_empty() {
                msg.push('.');
            } else {
                let list: Vec<String> = matching
                    .iter()
                    .map(|c| format!("`{}` ({})", c.display, c.reference))
                    .collect();
                msg.push_str(&format!(": {}.", list.join(", ")));
            }
            CommandError::user(msg).with_hint(format!("make the command more specific; {help}"))
        }
        St2Error::BadRequest(fault) if fault.contains("is disabled") => {
            status.count("disabled");
            CommandError::user(format!(
                "That action-alias is disabled in StackStorm ({fault})."
            ))
            .with_hint(format!("ask a StackStorm admin to enable it; {help}"))
        }
        St2Error::BadRequest(fault) if fault.contains("Immutable arguments") => {
            status.count("immutable");
            CommandError::user(format!(
                "This alias fixes some parameters that you tried to set: {fault}"
            ))
            .with_hint(format!("leave those parameters out; {help}"))
        }
        St2Error::BadRequest(fault) => {
            status.count("rejected");
            CommandError::user(format!("StackStorm rejected `{command}`: {fault}")).with_hint(help)
        }
        St2Error::Forbidden(fault) => {
            status.count("denied");
            CommandError::user(format!(
                "StackStorm does not allow you to run this ({fault})."
            ))
            .with_hint("ask a StackStorm admin for the RBAC permission")
        }
        St2Error::Unauthorized(fault) => {
            status.count("unauthorized");
            CommandError::user(format!(
                "StackStorm refused the credentials of this execution ({fault})."
            ))
            .with_hint("the bot admins have to fix the !st2 plugin's credentials")
        }
        e if e.is_unavailable() => {
            status.count("unavailable");
            CommandError::user(format!("StackStorm is not available right now ({e}).")).with_hint(
                format!(
                    "try again in a moment; `{prefix}{} status` shows the connection",
                    app.core.settings.prefix
                ),
            )
        }
        St2Error::Server {
            status: code,
            message,
        } => {
            status.count("error");
            CommandError::user(format!(
                "StackStorm failed to run `{command}` (HTTP {code}: {message})."
            ))
            .with_hint("an alias with an invalid format makes every execution fail; tell your StackStorm admins")
        }
        other => {
            status.count("error");
            CommandError::user(format!("The execution could not be started: {other}"))
                .with_hint(help)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(v: serde_json::Value) -> ExecutionResult {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn ack_uses_the_message_and_appends_the_url() {
        let r = result(serde_json::json!({
            "execution": {"id": "e1", "web_url": "https://st2/#/history/e1/general"},
            "actionalias": {"name": "a", "pack": "p", "ack": {"format": "Running"}},
            "message": "Running e1"
        }));
        let text = ack(&[r]).unwrap().to_plain("!");
        assert!(
            text.contains("Running e1 https://st2/#/history/e1/general"),
            "{text}"
        );
    }

    #[test]
    fn ack_without_message_says_started_and_disabled_ack_is_silent() {
        let r = result(serde_json::json!({"execution": {"id": "e2"}}));
        assert!(
            ack(&[r])
                .unwrap()
                .to_plain("!")
                .contains("execution e2 started")
        );
        let r = result(serde_json::json!({
            "execution": {"id": "e3"},
            "actionalias": {"name": "a", "pack": "p", "ack": {"enabled": false}}
        }));
        assert!(ack(&[r]).is_none());
    }
}
