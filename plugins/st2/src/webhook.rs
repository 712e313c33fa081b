//! The chatops webhook: `POST /plugins/st2/chatops/message` with a JSON chat message
//! `{channel, message, user, whisper, extra}`, for StackStorm actions that post to chat
//! directly (err-stackstorm's `/chatops/message`). Authenticated with
//! `Authorization: Bearer <webhook.token>`, compared in constant time. Answers are JSON:
//! 200 `{"delivered_to": …}`, or `{"error": …}` with 400, 401, 413 or 415.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use ferrbot::secrets::SecretValue;
use ferrbot::web::json_error;

use crate::App;
use crate::announce::{self, Announcement};

/// The largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The path under the plugin's prefix.
pub const PATH: &str = "/chatops/message";

/// The webhook's routes (none when `webhook.token` is not set).
pub fn router(app: App) -> Option<Router> {
    app.core.settings.webhook.token.as_ref()?;
    Some(Router::new().route(PATH, post(handle)).with_state(app))
}

/// The same handler at err-stackstorm's root path `/chatops/message` (served outside
/// `/plugins/st2/` through the core's root routes), when `webhook.errbot_path` is on.
pub fn errbot_root_route(app: App) -> Option<(String, MethodRouter)> {
    let webhook = &app.core.settings.webhook;
    (webhook.errbot_path && webhook.token.is_some())
        .then(|| (PATH.to_owned(), post(handle).with_state(app)))
}

fn authorized(headers: &HeaderMap, token: &SecretValue) -> bool {
    let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(given) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return false;
    };
    // SecretValue's equality is constant-time for equal lengths.
    SecretValue::from(given.trim()) == *token
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
        })
}

async fn read(body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        if e.to_string().contains("length limit") {
            json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY} bytes"),
            )
        } else {
            json_error(StatusCode::BAD_REQUEST, "could not read the request body")
        }
    })
}

/// Handles one posted message.
pub async fn handle(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let Some(token) = app.core.settings.webhook.token.as_ref() else {
        return json_error(StatusCode::NOT_FOUND, "the webhook is not enabled");
    };
    if !authorized(&headers, token) {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong `Authorization: Bearer <webhook token>`",
        );
    }
    if !is_json(&headers) {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send `Content-Type: application/json`",
        );
    }
    let bytes = match read(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let message: Announcement = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body is not a chatops message {{channel, message, user, whisper, extra}}: {e}"
                ),
            );
        }
    };
    if message.message.trim().is_empty() {
        return json_error(StatusCode::BAD_REQUEST, "`message` is empty");
    }
    match announce::deliver(&app.ctx, &message) {
        Ok(target) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "delivered_to": target.to_string() })),
        )
            .into_response(),
        Err(e) => json_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_checks() {
        let token = SecretValue::from("0123456789abcdef-token");
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, &token));
        h.insert("authorization", "Bearer wrong".parse().unwrap());
        assert!(!authorized(&h, &token));
        h.insert(
            "authorization",
            "Bearer 0123456789abcdef-token".parse().unwrap(),
        );
        assert!(authorized(&h, &token));
        h.insert(
            "authorization",
            "Basic 0123456789abcdef-token".parse().unwrap(),
        );
        assert!(!authorized(&h, &token));
    }
}
