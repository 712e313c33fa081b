//! HTTP intake under `/plugins/sentry/`: verify, parse, queue, answer — well within Sentry's
//! one-second timeout.
//!
//! - `POST hook/{route}` — Integration Platform webhooks, signed with the route's client
//!   secret(s) (`Sentry-Hook-Signature`, or the older `Sentry-App-Signature`).
//! - `POST hook/{route}/{token}` — the legacy WebHooks plugin (and any webhook) with the route's
//!   token in the URL; signatures are checked too when the route has secrets.
//! - `POST sentry-bot/channel?id=<room>&mention=<user>` — Sentry Bot's URL, off by default;
//!   only authorized rooms, only allowed source addresses.
//!
//! Refusals: 400 malformed JSON, 401 bad or missing signature or token, 403 revoked route or
//! address not allowed, 404 unknown route, 413 too large, 415 wrong content type — each a JSON
//! reason and a log line with route, source address and reason (never a secret, token or body).

use std::net::IpAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ferrbot::id::{RoomId, UserId};
use ferrbot::web::json_error;

use crate::App;
use crate::payload::{self, LinkContext, Payload};
use crate::relay::{self, Destination, Outcome};
use crate::rooms::{self, Route};
use crate::stats::{self, COMPAT_ROUTE, DeliveryLabels, UNKNOWN_ROUTE, resource_label};
use crate::storm;
use crate::verify::{SignatureError, verify_signature, verify_token};

/// The plugin's routes (the core mounts them under `/plugins/sentry/`).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/hook/{route}", post(signed))
        .route("/hook/{route}/{token}", post(with_token))
        .route("/sentry-bot/channel", post(compat))
        .with_state(app)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// What the handlers know about a request before its body.
struct Incoming {
    parts: Parts,
    source: IpAddr,
    resource: Option<String>,
}

impl Incoming {
    /// Splits a request into what is known before its body, and its body (not `Sync`, so it
    /// is kept apart from what is borrowed across awaits).
    fn new(app: &App, request: Request) -> (Self, Body) {
        let (parts, body) = request.into_parts();
        let ip = &app.core.settings.ip;
        let source = ip.client(ip.peer(&parts.extensions), &parts.headers);
        let resource = header(&parts.headers, "sentry-hook-resource");
        (
            Self {
                parts,
                source,
                resource,
            },
            body,
        )
    }

    fn resource_label(&self) -> &'static str {
        self.resource.as_deref().map_or("other", resource_label)
    }
}

async fn refuse(
    app: &App,
    route: &str,
    incoming: &Incoming,
    status: StatusCode,
    reason: &str,
) -> Response {
    tracing::warn!(
        route,
        source = %incoming.source,
        status = status.as_u16(),
        reason,
        "sentry webhook refused"
    );
    if let Err(err) = stats::record_reject(&app.ctx.store(), route, app.ctx.now()).await {
        tracing::warn!(error = %err, "cannot count a refused sentry webhook");
    }
    app.core
        .deliveries
        .get_or_create(&DeliveryLabels {
            route: route.to_owned(),
            resource: incoming.resource_label().to_owned(),
            outcome: format!("refused_{}", status.as_u16()),
        })
        .inc();
    json_error(status, reason)
}

fn internal(err: &dyn std::error::Error) -> Response {
    tracing::error!(error = %err, "sentry webhook failed on storage");
    json_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; it was logged",
    )
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, (StatusCode, &'static str)> {
    axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
        if e.to_string().contains("length limit") {
            (StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        } else {
            (StatusCode::BAD_REQUEST, "could not read the request body")
        }
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    header(headers, "content-type").is_some_and(|ct| {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        essence == "application/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"))
    })
}

/// Checks a request's proof of origin against its route.
fn authenticate(
    route: &Route,
    token: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), &'static str> {
    let signature = header(headers, "sentry-hook-signature")
        .or_else(|| header(headers, "sentry-app-signature"));
    let integration = headers.contains_key("sentry-hook-resource");
    let check_signature = || {
        verify_signature(&route.secrets, body, signature.as_deref()).map_err(|e| match e {
            SignatureError::Missing => "missing signature (Sentry-Hook-Signature)",
            SignatureError::Bad => "bad signature",
        })
    };
    match token {
        Some(token) => {
            if !verify_token(token, &route.token_digests) {
                return Err("bad token");
            }
            // A signed request on a route with secrets must carry a good signature too.
            if !route.secrets.is_empty() && (integration || signature.is_some()) {
                check_signature()?;
            }
            Ok(())
        }
        None if route.secrets.is_empty() => {
            Err("missing token: this route's URL ends with its token")
        }
        None => check_signature(),
    }
}

async fn signed(State(app): State<App>, Path(route): Path<String>, request: Request) -> Response {
    hook(app, route, None, request).await
}

async fn with_token(
    State(app): State<App>,
    Path((route, token)): Path<(String, String)>,
    request: Request,
) -> Response {
    hook(app, route, Some(token), request).await
}

async fn hook(app: App, route_id: String, token: Option<String>, request: Request) -> Response {
    let (incoming, body) = Incoming::new(&app, request);
    let settings = &app.core.settings;
    let store = app.ctx.store();
    let route = match rooms::find(settings, &store, &route_id).await {
        Ok(Some(route)) => route,
        Ok(None) => {
            return refuse(
                &app,
                UNKNOWN_ROUTE,
                &incoming,
                StatusCode::NOT_FOUND,
                "unknown route",
            )
            .await;
        }
        Err(err) => return internal(&err),
    };
    if route.revoked.is_some() {
        return refuse(
            &app,
            &route.id,
            &incoming,
            StatusCode::FORBIDDEN,
            "route revoked",
        )
        .await;
    }
    if settings.ip_all_routes && !settings.ip.allows(incoming.source) {
        return refuse(
            &app,
            &route.id,
            &incoming,
            StatusCode::FORBIDDEN,
            "source address not allowed",
        )
        .await;
    }
    accept(
        &app,
        incoming,
        body,
        &route,
        token.as_deref(),
        Destination {
            route: route.id.clone(),
            room: route.room.clone(),
            mention: route.mention.clone(),
        },
    )
    .await
}

/// Reads, authenticates (for hook routes), parses, de-duplicates and relays.
async fn accept(
    app: &App,
    incoming: Incoming,
    body: Body,
    route: &Route,
    token: Option<&str>,
    dest: Destination,
) -> Response {
    let label = dest.route.clone();
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err((status, reason)) => return refuse(app, &label, &incoming, status, reason).await,
    };
    if let Err(reason) = authenticate(route, token, &incoming.parts.headers, &bytes) {
        return refuse(app, &label, &incoming, StatusCode::UNAUTHORIZED, reason).await;
    }
    deliver(app, incoming, bytes, dest, route.organization.as_deref()).await
}

async fn deliver(
    app: &App,
    incoming: Incoming,
    bytes: axum::body::Bytes,
    dest: Destination,
    organization: Option<&str>,
) -> Response {
    let label = dest.route.clone();
    if !is_json(&incoming.parts.headers) {
        return refuse(
            app,
            &label,
            &incoming,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json",
        )
        .await;
    }
    let settings = &app.core.settings;
    let links = LinkContext {
        organization,
        sentry_url: &settings.sentry_url,
    };
    let payload = match payload::parse(incoming.resource.as_deref(), &bytes, &links) {
        Ok(payload) => payload,
        Err(err) => {
            return refuse(
                app,
                &label,
                &incoming,
                StatusCode::BAD_REQUEST,
                &err.to_string(),
            )
            .await;
        }
    };
    tracing::trace!(route = %label, body = %String::from_utf8_lossy(&bytes), "sentry webhook body");
    let store = app.ctx.store();
    let now = app.ctx.now();
    let what = describe(&payload);
    let resource = resource_label(payload.resource());
    if let Some(request_id) = header(&incoming.parts.headers, "request-id") {
        match storm::seen_before(&store, &label, &request_id, now).await {
            Ok(true) => {
                tracing::info!(route = %label, source = %incoming.source, request_id, "duplicate sentry delivery dropped");
                count(app, &label, resource, "duplicate");
                return ok(StatusCode::OK, "duplicate");
            }
            Ok(false) => {}
            Err(err) => return internal(&err),
        }
    }
    let outcome = match relay::relay(app, &dest, payload).await {
        Ok(outcome) => outcome,
        Err(err) => return internal(&err),
    };
    tracing::info!(
        route = %label,
        source = %incoming.source,
        what,
        outcome = outcome.as_str(),
        "sentry webhook accepted"
    );
    if let Err(err) = stats::record_delivery(&store, &label, &what, outcome.as_str(), now).await {
        tracing::warn!(error = %err, "cannot record a sentry delivery");
    }
    count(app, &label, resource, outcome.as_str());
    let status = match outcome {
        Outcome::Posted | Outcome::Folded => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    ok(status, outcome.as_str())
}

fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Alert(a) => a.source.clone(),
        Payload::Notice(n) => n.source.clone(),
        Payload::Installation { action } => format!("installation.{action}"),
        Payload::Unknown { resource, action } => format!("{resource}.{action}"),
    }
}

fn count(app: &App, route: &str, resource: &str, outcome: &str) {
    app.core
        .deliveries
        .get_or_create(&DeliveryLabels {
            route: route.to_owned(),
            resource: resource.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
}

fn ok(status: StatusCode, outcome: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "status": outcome }))).into_response()
}

/// A room in `?id=`: a backend-qualified id, or a bare one on `compat.backend`.
fn compat_room(app: &App, id: &str) -> Option<RoomId> {
    let id = id.trim();
    if let Ok(room) = id.parse::<RoomId>()
        && app.ctx.backends().iter().any(|b| b == room.backend())
    {
        return Some(room);
    }
    let backend = app.core.settings.compat.backend.as_deref()?;
    RoomId::new(backend, id).ok()
}

/// A user in `&mention=`: qualified, bare, or Discord's `<@123>`.
fn compat_user(app: &App, text: &str) -> Option<UserId> {
    let text = text
        .trim()
        .trim_start_matches("<@")
        .trim_start_matches('!')
        .trim_end_matches('>');
    if let Ok(user) = text.parse::<UserId>()
        && app.ctx.backends().iter().any(|b| b == user.backend())
    {
        return Some(user);
    }
    let backend = app.core.settings.compat.backend.as_deref()?;
    UserId::new(backend, text).ok()
}

async fn compat(State(app): State<App>, request: Request) -> Response {
    let (incoming, body) = Incoming::new(&app, request);
    let settings = &app.core.settings;
    if !settings.compat.enabled {
        return refuse(
            &app,
            COMPAT_ROUTE,
            &incoming,
            StatusCode::NOT_FOUND,
            "the Sentry Bot compatibility route is off",
        )
        .await;
    }
    if !settings.ip.allows(incoming.source) {
        return refuse(
            &app,
            COMPAT_ROUTE,
            &incoming,
            StatusCode::FORBIDDEN,
            "source address not allowed",
        )
        .await;
    }
    let query: Vec<(String, String)> = match Query::try_from_uri(&incoming.parts.uri) {
        Ok(Query(pairs)) => pairs,
        Err(_) => {
            return refuse(
                &app,
                COMPAT_ROUTE,
                &incoming,
                StatusCode::BAD_REQUEST,
                "unreadable query string",
            )
            .await;
        }
    };
    let Some(id) = query
        .iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
    else {
        return refuse(
            &app,
            COMPAT_ROUTE,
            &incoming,
            StatusCode::BAD_REQUEST,
            "missing ?id=<room>",
        )
        .await;
    };
    let Some(room) = compat_room(&app, &id) else {
        return refuse(
            &app,
            COMPAT_ROUTE,
            &incoming,
            StatusCode::BAD_REQUEST,
            "`id` is not a room id (use `<backend>:<id>`, or set compat.backend)",
        )
        .await;
    };
    match rooms::is_authorized(settings, &app.ctx.store(), &room).await {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                &app,
                COMPAT_ROUTE,
                &incoming,
                StatusCode::FORBIDDEN,
                "room not authorized (a room admin runs `sentry channel authorize` there)",
            )
            .await;
        }
        Err(err) => return internal(&err),
    }
    let mention: Vec<UserId> = query
        .iter()
        .filter(|(k, _)| k == "mention")
        .filter_map(|(_, v)| compat_user(&app, v))
        .collect();
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err((status, reason)) => {
            return refuse(&app, COMPAT_ROUTE, &incoming, status, reason).await;
        }
    };
    let dest = Destination {
        route: COMPAT_ROUTE.to_owned(),
        room,
        mention,
    };
    deliver(&app, incoming, bytes, dest, None).await
}
