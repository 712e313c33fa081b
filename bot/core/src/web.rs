//! The one HTTP server: `/healthz`, `/readyz`, `/metrics`, plugin routes under
//! `/plugins/<name>/` and backend routes under `/backends/<name>/`.
//!
//! Every request gets an `x-request-id` (kept if the caller sent one), a body size limit and a
//! timeout; every error answer is JSON: `{"error": "...", "request_id": "..."}` (except pages
//! for people, marked with [`KeepErrorBody`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

use crate::backend::ConnectionState;
use crate::config::WebConfig;
use crate::runtime::Shared;

/// A JSON error answer: `{"error": message}` with a status.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() });
    (status, axum::Json(body)).into_response()
}

/// A response extension marking an error answer whose body is meant for people (an HTML
/// page, such as a login form that failed): the server leaves such a body as it is instead of
/// turning it into `{"error": …}` JSON.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepErrorBody;

async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let storage_ok = shared.store.ping().await.is_ok();
    let states = shared
        .states
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let backends_ok = states
        .values()
        .all(|s| matches!(s, ConnectionState::Connected | ConnectionState::Stopped));
    let body = serde_json::json!({
        "ready": storage_ok && backends_ok,
        "storage": if storage_ok { "ok" } else { "unavailable" },
        "backends": states,
    });
    let status = if storage_ok && backends_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}

async fn not_found(request: Request) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Turns every non-JSON error into a JSON body with the request id, and counts requests to
/// plugin and backend routes.
async fn finish(
    State((shared, body_limit)): State<(Arc<Shared>, usize)>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut response = next.run(request).await;
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && !is_json(&response)
        && response.extensions().get::<KeepErrorBody>().is_none()
    {
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                format!("request body too large (limit {body_limit} bytes)")
            }
            StatusCode::REQUEST_TIMEOUT => "the request took too long and was stopped".to_owned(),
            other => {
                let bytes = axum::body::to_bytes(std::mem::take(response.body_mut()), 4096)
                    .await
                    .unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes).trim().to_owned();
                if text.is_empty() {
                    other.canonical_reason().unwrap_or("error").to_lowercase()
                } else {
                    text
                }
            }
        };
        let mut replaced = json_error(status, message);
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                replaced.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = replaced;
    }
    if let Some(id) = &request_id
        && is_json(&response)
        && (status.is_client_error() || status.is_server_error())
    {
        let bytes = axum::body::to_bytes(std::mem::take(response.body_mut()), 64 * 1024)
            .await
            .unwrap_or_default();
        let mut value: serde_json::Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(obj) = value.as_object_mut() {
            obj.entry("request_id")
                .or_insert_with(|| serde_json::Value::String(id.clone()));
        }
        let body = serde_json::to_vec(&value).unwrap_or_default();
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(body);
    }
    if path.starts_with("/plugins/") || path.starts_with("/backends/") {
        let label = route.unwrap_or_else(|| "unmatched".to_owned());
        shared.metrics.webhook(&label, status.as_u16());
    }
    if let Some(id) = request_id
        && let Ok(value) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn require_enabled(
    State((shared, plugin)): State<(Arc<Shared>, Arc<str>)>,
    request: Request,
    next: Next,
) -> Response {
    if !shared.is_enabled(&plugin) {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("plugin `{plugin}` is disabled"),
        );
    }
    next.run(request).await
}

/// Why a plugin may not serve `path` at the root, if it may not.
fn root_path_refusal(path: &str, taken: &[String]) -> Result<(), &'static str> {
    let plain = path.len() > 1
        && path.starts_with('/')
        && !path.ends_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
        && !path.contains("//");
    if !plain {
        return Err("a root path is a plain absolute path (letters, digits, - _ . /)");
    }
    let reserved = ["/plugins", "/backends"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if reserved || ["/healthz", "/readyz", "/metrics"].contains(&path) {
        return Err("the path belongs to the web server");
    }
    if taken.iter().any(|t| t == path) {
        return Err("another plugin already serves this path");
    }
    Ok(())
}

/// Builds the router with every plugin's and backend's routes.
pub(crate) fn router(shared: &Arc<Shared>, config: &WebConfig) -> Router {
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared.clone());
    for entry in &shared.plugins {
        if let Some(routes) = entry.plugin.routes(shared.context(&entry.name)) {
            let guarded = routes.layer(middleware::from_fn_with_state(
                (shared.clone(), entry.name.clone()),
                require_enabled,
            ));
            app = app.nest(&format!("/plugins/{}", entry.name), guarded);
        }
    }
    let mut taken: Vec<String> = Vec::new();
    for entry in &shared.plugins {
        for (path, handlers) in entry.plugin.root_routes(shared.context(&entry.name)) {
            if let Err(reason) = root_path_refusal(&path, &taken) {
                tracing::error!(plugin = %entry.name, path = %path, "root route refused: {reason}");
                continue;
            }
            let guarded = handlers.layer(middleware::from_fn_with_state(
                (shared.clone(), entry.name.clone()),
                require_enabled,
            ));
            app = app.route(&path, guarded);
            taken.push(path);
        }
    }
    for (name, slot) in &shared.backends {
        if let Some(routes) = slot.backend.routes() {
            app = app.nest(&format!("/backends/{name}"), routes);
        }
    }
    app.fallback(not_found).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(middleware::from_fn_with_state(
                (shared.clone(), config.body_limit),
                finish,
            ))
            .layer(CatchPanicLayer::custom(
                |_panic: Box<dyn std::any::Any + Send>| {
                    tracing::error!("an HTTP handler panicked");
                    json_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal error; it was logged",
                    )
                },
            ))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                config.request_timeout,
            ))
            .layer(RequestBodyLimitLayer::new(config.body_limit))
            .layer(DefaultBodyLimit::max(config.body_limit)),
    )
}

#[cfg(test)]
mod root_path_tests {
    use super::root_path_refusal;

    #[test]
    fn root_paths_are_plain_and_never_the_servers_own() {
        assert!(root_path_refusal("/chatops/message", &[]).is_ok());
        for bad in [
            "/plugins/x",
            "/plugins",
            "/backends/slack/events",
            "/metrics",
            "/healthz",
            "/",
            "",
            "relative",
            "/a/{id}",
            "/a/*rest",
            "/a//b",
            "/trailing/",
        ] {
            assert!(root_path_refusal(bad, &[]).is_err(), "{bad}");
        }
        let taken = vec!["/chatops/message".to_owned()];
        assert!(root_path_refusal("/chatops/message", &taken).is_err());
    }
}
