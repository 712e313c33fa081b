//! `GET`/`POST /login/{id}` under `/plugins/<plugin>/`: the login page and its form.
//!
//! Answers: 404 unknown link, 410 used/expired/locked link, 415 a body that is not
//! `application/x-www-form-urlencoded`, 413 a body over [`FORM_LIMIT`], 400 an incomplete
//! form, 403 wrong shared word, 401 credentials StackStorm refused, 409 the link is being
//! used right now, 502 StackStorm unreachable, 200 logged in. Every refusal is logged with the
//! link's short id and the reason, never with the shared word or a credential.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use ferrbot::id::{Target, UserId};
use ferrbot::markup::Markup;
use ferrbot::{OutgoingMessage, PluginContext};

use super::links::{Link, LinkState, Links, Usability, is_link_id};
use super::login::{Checker, Refusal, parse_form};
use super::{Sessions, page};
use crate::credential::USER_CREDENTIAL_NAME;

/// The largest form body accepted, in bytes.
pub const FORM_LIMIT: usize = 16 * 1024;

#[derive(Clone)]
struct App {
    sessions: Sessions,
    ctx: PluginContext,
}

pub(super) fn router(sessions: Sessions, ctx: PluginContext) -> Router {
    Router::new()
        .route("/login/{id}", get(show).post(submit))
        .with_state(App { sessions, ctx })
}

/// Releases a link's in-flight mark when the request ends, however it ends.
struct Claim<'a> {
    sessions: &'a Sessions,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut set = self
            .sessions
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.remove(&self.id);
    }
}

fn claim<'a>(sessions: &'a Sessions, id: &str) -> Option<Claim<'a>> {
    let mut set = sessions
        .in_flight
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    set.insert(id.to_owned()).then(|| Claim {
        sessions,
        id: id.to_owned(),
    })
}

fn start_hint(sessions: &Sessions, ctx: &PluginContext) -> String {
    format!(
        "Ask for a new one by sending {}{} session start <shared word> to the bot in a direct message.",
        ctx.prefix(),
        sessions.command_word
    )
}

fn unknown(sessions: &Sessions, ctx: &PluginContext) -> Response {
    page::message(
        StatusCode::NOT_FOUND,
        "Unknown login link",
        &format!(
            "This login link does not exist (or was withdrawn). {}",
            start_hint(sessions, ctx)
        ),
        "error",
    )
}

fn gone(sessions: &Sessions, ctx: &PluginContext, why: Usability) -> Response {
    let what = match why {
        Usability::Consumed => "This login link was already used: each link works once.",
        Usability::Expired => "This login link has expired.",
        Usability::Locked => "This login link is locked after too many failed attempts.",
        Usability::Usable => "This login link cannot be used.",
    };
    page::message(
        StatusCode::GONE,
        "Login link no longer valid",
        &format!("{what} {}", start_hint(sessions, ctx)),
        "error",
    )
}

fn failed(what: &str) -> Response {
    page::message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Login failed",
        &format!("The bot could not {what}. Try again later, or tell the bot admins."),
        "error",
    )
}

/// Looks the link up; `Err` is the page to answer instead.
async fn usable_link(app: &App, id: &str) -> Result<(Links, Link), Response> {
    let links = Sessions::links(&app.ctx);
    let link = match links.get(id).await {
        Ok(Some(link)) => link,
        Ok(None) => return Err(unknown(&app.sessions, &app.ctx)),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a login link");
            return Err(failed("read the login link"));
        }
    };
    match link.usability(app.ctx.now()) {
        Usability::Usable => Ok((links, link)),
        why => {
            tracing::info!(link = link.short_id(), user = %link.user, reason = ?why, "login link refused");
            Err(gone(&app.sessions, &app.ctx, why))
        }
    }
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Response {
    match usable_link(&app, &id).await {
        Ok((_, link)) => page::login_form(StatusCode::OK, &link, None, None),
        Err(page) => page,
    }
}

fn notify(ctx: &PluginContext, user: &str, text: String) {
    match user.parse::<UserId>() {
        Ok(user) => {
            ctx.send(
                Target::direct(user),
                OutgoingMessage::new(Markup::new().text(text)),
            );
        }
        Err(_) => tracing::warn!(user, "cannot message the user of a login link"),
    }
}

async fn submit(State(app): State<App>, Path(id): Path<String>, request: Request) -> Response {
    let form_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if form_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return page::message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Login failed",
            "The login form must be sent as application/x-www-form-urlencoded.",
            "error",
        );
    }
    let body: Body = request.into_body();
    let Ok(body) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return page::message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Login failed",
            "The form is too large.",
            "error",
        );
    };
    // Claim the link before reading it, so that two forms sent at once cannot both find it
    // open: the second waits for nothing and is told to retry, then finds it used.
    if !is_link_id(&id) {
        return unknown(&app.sessions, &app.ctx);
    }
    let Some(_claim) = claim(&app.sessions, &id) else {
        return page::message(
            StatusCode::CONFLICT,
            "Login in progress",
            "This link is being used right now. Wait a moment and reload the page.",
            "error",
        );
    };
    let (links, mut link) = match usable_link(&app, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(msg) => return page::login_form(StatusCode::BAD_REQUEST, &link, Some(&msg), None),
    };
    let username = form.username.clone();
    let refuse = |link: &mut Link, status: StatusCode, msg: String| {
        let max = app.sessions.settings.max_attempts.max(1);
        link.attempts = link.attempts.saturating_add(1);
        let locked = link.attempts >= max;
        if locked {
            link.state = LinkState::Locked;
        }
        let left = max - link.attempts.min(max);
        (
            locked,
            status,
            format!("{msg} {left} attempt(s) left with this link."),
        )
    };
    let outcome = if !link.word_matches(&form.word) {
        tracing::info!(link = link.short_id(), user = %link.user, "login refused: wrong shared word");
        Err(refuse(
            &mut link,
            StatusCode::FORBIDDEN,
            "The shared word is wrong.".to_owned(),
        ))
    } else {
        let checker = Checker {
            client: &app.sessions.client,
            bot_credential: app.sessions.bot_credential.as_ref(),
            credential_ttl: app.sessions.settings.credential_ttl,
            now: app.ctx.now(),
        };
        match checker.check(&form).await {
            Ok(accepted) => Ok(accepted),
            Err(Refusal::Refused(msg)) => {
                tracing::info!(link = link.short_id(), user = %link.user, method = form.method.as_str(), "login refused by StackStorm");
                Err(refuse(&mut link, StatusCode::UNAUTHORIZED, msg))
            }
            Err(Refusal::Unavailable(msg)) => {
                tracing::warn!(link = link.short_id(), error = %msg, "cannot check a login against StackStorm");
                return page::login_form(
                    StatusCode::BAD_GATEWAY,
                    &link,
                    Some(&format!(
                        "The login could not be checked: {msg}. Try again in a moment."
                    )),
                    username.as_deref(),
                );
            }
        }
    };
    drop(form);
    let accepted = match outcome {
        Ok(accepted) => accepted,
        Err((locked, status, msg)) => {
            if let Err(e) = links.save(&link).await {
                tracing::error!(error = %e, "cannot record a failed login attempt");
                return failed("record the failed attempt");
            }
            if locked {
                tracing::warn!(link = link.short_id(), user = %link.user, "login link locked after too many failed attempts");
                notify(
                    &app.ctx,
                    &link.user,
                    format!(
                        "Your StackStorm login link was locked after {} failed attempts. If that was not you, \
                         someone has the link. Start again with a new shared word.",
                        link.attempts
                    ),
                );
                return gone(&app.sessions, &app.ctx, Usability::Locked);
            }
            return page::login_form(status, &link, Some(&msg), username.as_deref());
        }
    };
    let stored = async {
        app.ctx
            .credentials()?
            .for_user(&link.user)?
            .set(
                USER_CREDENTIAL_NAME,
                &accepted.credential.to_secret(),
                Some(accepted.keep),
            )
            .await
    };
    if let Err(e) = stored.await {
        tracing::error!(error = %e, user = %link.user, "cannot store a user's StackStorm credential");
        return failed("store your credential");
    }
    link.state = LinkState::Consumed;
    if let Err(e) = links.save(&link).await {
        tracing::error!(error = %e, "cannot mark a login link as used");
        return failed("finish the login");
    }
    let who = accepted
        .credential
        .st2_user
        .as_deref()
        .map(|u| format!(" as StackStorm user {u}"))
        .unwrap_or_default();
    let until = accepted
        .credential
        .expiry
        .map(|e| format!(" until {}", e.strftime("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    tracing::info!(link = link.short_id(), user = %link.user, kind = ?accepted.credential.kind, "clientside StackStorm session started");
    notify(
        &app.ctx,
        &link.user,
        format!(
            "Your StackStorm session is active{who}{until}. Your commands now run with your own \
             StackStorm permissions; {}{} session end logs you out.",
            app.ctx.prefix(),
            app.sessions.command_word
        ),
    );
    page::message(
        StatusCode::OK,
        "Logged in",
        &format!(
            "You are logged in to StackStorm{who}. You can close this page and go back to the chat."
        ),
        "ok",
    )
}
