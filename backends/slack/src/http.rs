//! The Events API over ferrbot's web server, under `/backends/<name>/`:
//!
//! - `POST events` — `url_verification` (the challenge is answered) and `event_callback`;
//! - `POST interactivity` — `payload=<json>` (button clicks);
//! - `POST commands` — slash commands (form fields).
//!
//! Every request must carry a valid `X-Slack-Signature` over its exact body, a timestamp
//! within five minutes and must not repeat an accepted request ([`crate::signing`]);
//! otherwise it is answered 401 and nothing is dispatched. Accepted payloads are handed to
//! the backend's worker and answered 200 at once, well within Slack's 3 seconds.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ferrbot::web::json_error;
use serde_json::{Value, json};

use crate::Inner;
use crate::events::{SlashCommand, Work};

/// The routes, for [`ferrbot::Backend::routes`].
pub(crate) fn routes(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/events", post(events))
        .route("/interactivity", post(interactivity))
        .route("/commands", post(commands))
        .with_state(inner)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies the request; `Err` is the 401 to answer.
fn verify(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Result<(), Box<Response>> {
    let Some(verifier) = &inner.verifier else {
        return Err(Box::new(json_error(
            StatusCode::NOT_FOUND,
            "this Slack backend has no signing secret",
        )));
    };
    verifier
        .verify(
            header(headers, "x-slack-request-timestamp"),
            header(headers, "x-slack-signature"),
            body,
        )
        .map_err(|err| {
            tracing::warn!(error = %err, "refused a Slack request");
            Box::new(json_error(StatusCode::UNAUTHORIZED, err.to_string()))
        })
}

fn hand_off(inner: &Inner, work: Work) -> Response {
    let Some(worker) = inner.worker() else {
        // Not connected yet (or stopping): Slack retries later.
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the Slack backend is not running",
        );
    };
    match worker.try_send(work) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "the Slack backend is busy"),
    }
}

async fn events(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verify(&inner, &headers, &body) {
        return *refused;
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    match payload.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            let challenge = payload
                .get("challenge")
                .and_then(Value::as_str)
                .unwrap_or("");
            axum::Json(json!({ "challenge": challenge })).into_response()
        }
        Some("event_callback") => hand_off(&inner, Work::Events(payload)),
        _ => StatusCode::OK.into_response(),
    }
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

async fn interactivity(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = verify(&inner, &headers, &body) {
        return *refused;
    }
    let payload = form(&body)
        .into_iter()
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok());
    match payload {
        Some(payload) => hand_off(&inner, Work::Interactive(payload)),
        None => json_error(StatusCode::BAD_REQUEST, "no JSON `payload` field"),
    }
}

async fn commands(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verify(&inner, &headers, &body) {
        return *refused;
    }
    let fields = form(&body);
    let command = SlashCommand::from_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.clone())));
    if command.user_id.is_empty() || command.channel_id.is_empty() {
        return json_error(
            StatusCode::BAD_REQUEST,
            "no `user_id` or `channel_id` field",
        );
    }
    hand_off(&inner, Work::Slash(command))
}
