//! The Web API client: slack-morphism's hyper client, pointed at `api_url`.
//!
//! Calls go through [`Api`], which takes a method name and a JSON body (write methods) or
//! query parameters (read methods such as `users.info`), so the rest of the backend builds
//! Slack's documented JSON directly. slack-morphism does the HTTP, the `Authorization: Bearer`
//! header, and turns answers into errors: `ok:false` becomes [`ApiError::Slack`] with Slack's
//! error code, and an HTTP 429 becomes [`ApiError::RateLimited`] with its `Retry-After`.
//! Callers decide whether to hand a rate limit back to the core's outbox (which holds the
//! room's queue and retries in order) or to wait here ([`Api::post_retrying`]).
//!
//! The real Slack is reached over `https` only; an `http://` base (the tests' fake Slack on
//! loopback) uses a plain-HTTP connector.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrbot::BackendError;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::config::Secret;

/// Rate limits longer than this are not waited out inside one operation.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(60);

/// Why a Web API call failed. Never carries a token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// HTTP 429: wait `retry_after` before calling again.
    #[error("rate limited for {retry_after:?}")]
    RateLimited {
        /// How long to wait (Slack's `Retry-After`, one second when absent).
        retry_after: Duration,
    },
    /// Slack answered `ok: false`.
    #[error("Slack refused `{method}`: {code}")]
    Slack {
        /// The method.
        method: String,
        /// Slack's error code (`channel_not_found`, `not_in_channel`, …).
        code: String,
    },
    /// An HTTP error status.
    #[error("`{method}` answered HTTP {status}")]
    Status {
        /// The method.
        method: String,
        /// The status.
        status: u16,
    },
    /// The request did not complete (connection, timeout, malformed answer).
    #[error("`{method}` failed: {message}")]
    Network {
        /// The method.
        method: String,
        /// What happened.
        message: String,
    },
}

impl ApiError {
    /// Slack's error code, when Slack answered `ok: false`.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Slack { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Slack error codes that mean "try again later".
fn transient_code(code: &str) -> bool {
    matches!(
        code,
        "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout"
            | "ratelimited"
    )
}

impl From<ApiError> for BackendError {
    fn from(err: ApiError) -> Self {
        match &err {
            ApiError::RateLimited { retry_after } => BackendError::RateLimited {
                retry_after: *retry_after,
            },
            ApiError::Slack { code, .. } if transient_code(code) => {
                BackendError::transient(err.to_string())
            }
            ApiError::Slack { .. } => BackendError::rejected(err.to_string()),
            ApiError::Status { status, .. } if *status >= 500 || *status == 408 => {
                BackendError::transient(err.to_string())
            }
            ApiError::Status { .. } => BackendError::rejected(err.to_string()),
            ApiError::Network { .. } => BackendError::transient(err.to_string()),
        }
    }
}

/// A way to call Slack's Web API (slack-morphism over `https`, or over plain `http` for
/// loopback tests).
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// `POST {api}/{method}` with a JSON body, authorised with `token`.
    async fn post(&self, token: &Secret, method: &str, body: &Value) -> Result<Value, ApiError>;
    /// `GET {api}/{method}?params`, authorised with `token`.
    async fn get(
        &self,
        token: &Secret,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, ApiError>;
    /// `POST` a JSON body to a full URL Slack gave us (a slash command's `response_url`),
    /// without any token.
    async fn post_url(&self, url: &str, body: &Value) -> Result<(), ApiError>;
}

struct Morphism<H: Send + Sync + Clone + Connect + 'static> {
    client: SlackClient<SlackClientHyperConnector<H>>,
}

fn map_error(method: &str, err: SlackClientError) -> ApiError {
    match err {
        SlackClientError::RateLimitError(e) => ApiError::RateLimited {
            retry_after: e.retry_after.unwrap_or(Duration::from_secs(1)),
        },
        SlackClientError::ApiError(e) => ApiError::Slack {
            method: method.to_owned(),
            code: e.code,
        },
        SlackClientError::HttpError(e) => ApiError::Status {
            method: method.to_owned(),
            status: e.status_code.as_u16(),
        },
        other => ApiError::Network {
            method: method.to_owned(),
            // slack-morphism's messages carry no token; keep them short anyway.
            message: other.to_string().chars().take(300).collect(),
        },
    }
}

fn token_of(token: &Secret) -> SlackApiToken {
    SlackApiToken::new(SlackApiTokenValue(token.expose().to_owned()))
}

#[async_trait]
impl<H: Send + Sync + Clone + Connect + 'static> Transport for Morphism<H> {
    async fn post(&self, token: &Secret, method: &str, body: &Value) -> Result<Value, ApiError> {
        let token = token_of(token);
        let session = self.client.open_session(&token);
        session
            .http_session_api
            .http_post::<Value, Value>(method, body, None)
            .await
            .map_err(|e| map_error(method, e))
    }

    async fn get(
        &self,
        token: &Secret,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, ApiError> {
        let token = token_of(token);
        let session = self.client.open_session(&token);
        let params: Vec<(&str, Option<&String>)> =
            params.iter().map(|(k, v)| (*k, Some(v))).collect();
        session
            .http_session_api
            .http_get::<Value, _, &String>(method, &params, None)
            .await
            .map_err(|e| map_error(method, e))
    }

    async fn post_url(&self, url: &str, body: &Value) -> Result<(), ApiError> {
        let full = url::Url::parse(url).map_err(|e| ApiError::Network {
            method: "response_url".into(),
            message: e.to_string(),
        })?;
        let span = tracing::Span::current();
        let context = SlackClientApiCallContext {
            rate_control_params: None,
            token: None,
            tracing_span: &span,
            is_sensitive_url: true,
        };
        self.client
            .http_api
            .connector
            .http_post_uri::<Value, Value>(full, body, context)
            .await
            .map(|_| ())
            .map_err(|e| map_error("response_url", e))
    }
}

/// The Web API with the bot's token, a timeout per request and rate-limit helpers.
pub struct Api {
    transport: Arc<dyn Transport>,
    token: Secret,
    timeout: Duration,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

/// The TLS settings for Slack (Web API and Socket Mode): rustls with the `ring` provider,
/// chosen explicitly, and the system's root certificates.
///
/// rustls is built with both the `ring` and the `aws-lc-rs` providers in this workspace, so
/// it cannot pick one by itself: slack-morphism's `SlackClientHyperConnector::new()` and
/// tokio-tungstenite's default `wss://` connector would panic. Everything TLS here uses this
/// configuration instead.
///
/// # Errors
/// When no system root certificate can be loaded.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    use hyper_rustls::ConfigBuilderExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_native_roots()
        .map_err(|e| format!("cannot load the system's TLS root certificates: {e}"))?
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Builds the transport for `api_url`: plain HTTP for `http://` (loopback tests), else
/// HTTPS only, with `tls`.
///
/// # Errors
/// When `api_url` is `https://` but no TLS settings are given.
pub fn transport(
    api_url: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Arc<dyn Transport>, String> {
    if api_url.starts_with("http://") {
        let connector = SlackClientHyperConnector::with_connector(HttpConnector::new())
            .with_slack_api_url(api_url);
        return Ok(Arc::new(Morphism {
            client: SlackClient::new(connector),
        }));
    }
    let tls = tls.ok_or("an https:// Web API needs TLS settings")?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let connector = SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url);
    Ok(Arc::new(Morphism {
        client: SlackClient::new(connector),
    }))
}

impl Api {
    /// A client calling `transport` with `token`.
    pub fn new(transport: Arc<dyn Transport>, token: Secret, timeout: Duration) -> Self {
        Self {
            transport,
            token,
            timeout,
        }
    }

    fn timed_out(&self, method: &str) -> ApiError {
        ApiError::Network {
            method: method.to_owned(),
            message: format!("no answer within {:?}", self.timeout),
        }
    }

    /// Calls a write method once with the bot token.
    ///
    /// # Errors
    /// As [`ApiError`].
    pub async fn post(&self, method: &str, body: &Value) -> Result<Value, ApiError> {
        self.post_with(&self.token, method, body).await
    }

    /// Calls a write method once with another token (the app-level token).
    ///
    /// # Errors
    /// As [`ApiError`].
    pub async fn post_with(
        &self,
        token: &Secret,
        method: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        tokio::time::timeout(self.timeout, self.transport.post(token, method, body))
            .await
            .map_err(|_| self.timed_out(method))?
    }

    /// Calls a read method once.
    ///
    /// # Errors
    /// As [`ApiError`].
    pub async fn get(&self, method: &str, params: &[(&str, String)]) -> Result<Value, ApiError> {
        tokio::time::timeout(
            self.timeout,
            self.transport.get(&self.token, method, params),
        )
        .await
        .map_err(|_| self.timed_out(method))?
    }

    /// POSTs to a `response_url`.
    ///
    /// # Errors
    /// As [`ApiError`].
    pub async fn post_url(&self, url: &str, body: &Value) -> Result<(), ApiError> {
        tokio::time::timeout(self.timeout, self.transport.post_url(url, body))
            .await
            .map_err(|_| self.timed_out("response_url"))?
    }

    /// Like [`Api::post`], but waits out up to five rate limits (each at most a minute); for
    /// operations that cannot hand the wait back to the outbox.
    ///
    /// # Errors
    /// As [`ApiError`], after the retries.
    pub async fn post_retrying(&self, method: &str, body: &Value) -> Result<Value, ApiError> {
        let mut tries = 0;
        loop {
            match self.post(method, body).await {
                Err(ApiError::RateLimited { retry_after })
                    if tries < 5 && retry_after <= MAX_INLINE_WAIT =>
                {
                    tries += 1;
                    tracing::debug!(method, ?retry_after, "rate limited; waiting");
                    tokio::time::sleep(retry_after).await;
                }
                other => return other,
            }
        }
    }

    /// Like [`Api::get`], waiting out rate limits as [`Api::post_retrying`] does.
    ///
    /// # Errors
    /// As [`ApiError`], after the retries.
    pub async fn get_retrying(
        &self,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, ApiError> {
        let mut tries = 0;
        loop {
            match self.get(method, params).await {
                Err(ApiError::RateLimited { retry_after })
                    if tries < 5 && retry_after <= MAX_INLINE_WAIT =>
                {
                    tries += 1;
                    tokio::time::sleep(retry_after).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: with both rustls providers compiled in, building the HTTPS client must not
    /// panic (it did with slack-morphism's `SlackClientHyperConnector::new()`).
    #[test]
    fn the_https_client_builds_without_a_process_wide_crypto_provider() {
        match tls_config() {
            Ok(tls) => assert!(transport("https://slack.com/api", Some(tls)).is_ok()),
            // A machine without root certificates gets a clear error, not a panic.
            Err(err) => assert!(err.contains("root certificates"), "{err}"),
        }
        assert!(transport("https://slack.com/api", None).is_err());
    }

    #[test]
    fn errors_map_to_backend_errors() {
        let e: BackendError = ApiError::RateLimited {
            retry_after: Duration::from_secs(2),
        }
        .into();
        assert!(
            matches!(e, BackendError::RateLimited { retry_after } if retry_after == Duration::from_secs(2))
        );
        let e: BackendError = ApiError::Slack {
            method: "chat.postMessage".into(),
            code: "channel_not_found".into(),
        }
        .into();
        assert!(matches!(e, BackendError::Rejected { .. }));
        assert!(e.to_string().contains("channel_not_found"));
        let e: BackendError = ApiError::Slack {
            method: "chat.postMessage".into(),
            code: "internal_error".into(),
        }
        .into();
        assert!(e.is_retryable());
        let e: BackendError = ApiError::Status {
            method: "x".into(),
            status: 503,
        }
        .into();
        assert!(e.is_retryable());
    }
}
