//! The REST client: Discord's HTTP API with per-route rate-limit buckets and 429 handling.
//!
//! serenity's own rate limiter cannot be used with a custom API base (it always talks to
//! `https://discord.com`), and with it disabled a 429 loses its `retry_after`. So ferrbot's
//! REST calls go through this small client on the same reqwest (and rustls) that serenity
//! brings, with the same strategy as serenity's `Ratelimiter`: one bucket per route and major
//! parameter, fed by the `X-RateLimit-Remaining`/`-Reset-After` headers (a bucket at zero waits
//! for its reset before the next request), and a 429 answer turned into
//! [`RestError::RateLimited`] with Discord's `retry_after` (a global 429 also holds every other
//! route). Callers decide whether to hand the wait to the core's outbox
//! ([`ferrbot::BackendError::RateLimited`], which keeps the room's order) or to wait and retry
//! themselves ([`Rest::call_retrying`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrbot::BackendError;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, USER_AGENT};
use serde_json::Value;

/// Waits longer than this are not done inside one request; they go back to the caller.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(30);

/// The HTTP method of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    fn reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// Why a REST call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    /// Discord answered 429 (or a bucket is empty for longer than we wait inline).
    #[error("rate limited for {retry_after:?}")]
    RateLimited {
        /// How long to wait.
        retry_after: Duration,
    },
    /// Discord answered with an error status.
    #[error("HTTP {status}: {message} (code {code})")]
    Status {
        /// The HTTP status.
        status: u16,
        /// Discord's JSON error code (0 when absent).
        code: i64,
        /// Discord's message.
        message: String,
    },
    /// The request did not complete (connection, timeout).
    #[error("network: {0}")]
    Network(String),
    /// The answer was not the JSON expected.
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl RestError {
    /// Discord's "Unknown …" errors (10003 unknown channel, 10008 unknown message, 10015
    /// unknown webhook, 10062 unknown interaction) and 404s.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RestError::Status { status: 404, .. })
            || matches!(self, RestError::Status { code, .. } if (10_000..11_000).contains(code))
    }
}

impl From<RestError> for BackendError {
    fn from(err: RestError) -> Self {
        match err {
            RestError::RateLimited { retry_after } => BackendError::RateLimited { retry_after },
            RestError::Status { status, .. } if status >= 500 || status == 408 => {
                BackendError::transient(err.to_string())
            }
            RestError::Status { .. } | RestError::Decode(_) => {
                BackendError::rejected(err.to_string())
            }
            RestError::Network(_) => BackendError::transient(err.to_string()),
        }
    }
}

#[derive(Default)]
struct Bucket {
    remaining: Option<u64>,
    reset_at: Option<Instant>,
}

/// A Discord REST client (no secrets in its `Debug`).
pub struct Rest {
    client: reqwest::Client,
    base: String,
    auth: String,
    buckets: Mutex<HashMap<String, Bucket>>,
    global_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes one path segment (emoji in reaction routes).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long a 429 asks us to wait: the body's `retry_after` (seconds, fractional), else the
/// `Retry-After` header, else one second.
pub fn retry_after(headers: &HeaderMap, body: &Value) -> (Duration, bool) {
    let secs = body
        .get("retry_after")
        .and_then(Value::as_f64)
        .or_else(|| header_f64(headers, "retry-after"))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    let global = body.get("global").and_then(Value::as_bool).unwrap_or(false)
        || headers.get("x-ratelimit-global").is_some();
    (Duration::from_secs_f64(secs.min(3_600.0)), global)
}

impl Rest {
    /// A client for `api_base` (`https://discord.com` by default) with the bot's token.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(api_base: Option<&str>, token: &str, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            base: format!("{}/api/v10", api_base.unwrap_or("https://discord.com")),
            auth: format!("Bot {token}"),
            buckets: Mutex::new(HashMap::new()),
            global_until: Mutex::new(None),
        })
    }

    async fn wait_for_bucket(&self, key: &str) -> Result<(), RestError> {
        let now = Instant::now();
        let global = *self
            .global_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = {
            let buckets = self
                .buckets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            buckets
                .get(key)
                .and_then(|b| (b.remaining == Some(0)).then_some(b.reset_at).flatten())
        };
        let until = [global, bucket].into_iter().flatten().max();
        if let Some(until) = until.filter(|u| *u > now) {
            let wait = until - now;
            if wait > MAX_INLINE_WAIT {
                return Err(RestError::RateLimited { retry_after: wait });
            }
            tracing::debug!(route = key, ?wait, "rate-limit bucket empty; waiting");
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    fn update_bucket(&self, key: &str, headers: &HeaderMap) {
        let remaining = header_f64(headers, "x-ratelimit-remaining");
        let reset_after = header_f64(headers, "x-ratelimit-reset-after");
        if remaining.is_none() && reset_after.is_none() {
            return;
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(key.to_owned()).or_default();
        if let Some(r) = remaining {
            bucket.remaining = Some(r.max(0.0) as u64);
        }
        if let Some(s) = reset_after.filter(|s| s.is_finite() && *s >= 0.0) {
            bucket.reset_at = Some(Instant::now() + Duration::from_secs_f64(s.min(3_600.0)));
        }
    }

    /// Calls `method path` (path below `/api/v10`, e.g. `/channels/1/messages`) once.
    /// `bucket` names the rate-limit bucket (route and major parameter). Returns the JSON
    /// answer, or `Null` for an empty one (204).
    ///
    /// # Errors
    /// [`RestError::RateLimited`] on a 429, the status and Discord's message on other errors.
    pub async fn call(
        &self,
        method: Method,
        bucket: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, RestError> {
        self.wait_for_bucket(bucket).await?;
        let mut req = self
            .client
            .request(method.reqwest(), format!("{}{path}", self.base))
            .header(AUTHORIZATION, &self.auth)
            .header(
                USER_AGENT,
                concat!(
                    "DiscordBot (https://example.invalid/ferrbot, ",
                    env!("CARGO_PKG_VERSION"),
                    ")"
                ),
            );
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| RestError::Network(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.update_bucket(bucket, &headers);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| RestError::Network(e.without_url().to_string()))?;
        let json: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status == 429 {
            let (retry_after, global) = retry_after(&headers, &json);
            tracing::debug!(route = bucket, ?retry_after, global, "Discord answered 429");
            if global {
                *self
                    .global_until
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(Instant::now() + retry_after);
            }
            return Err(RestError::RateLimited { retry_after });
        }
        if !(200..300).contains(&status) {
            return Err(RestError::Status {
                status,
                code: json.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: json
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no message")
                    .chars()
                    .take(300)
                    .collect(),
            });
        }
        Ok(json)
    }

    /// Like [`Rest::call`], but waits out up to five 429s (each at most 30 s) itself; for
    /// operations that cannot hand the wait back to the outbox.
    ///
    /// # Errors
    /// As [`Rest::call`], after the retries.
    pub async fn call_retrying(
        &self,
        method: Method,
        bucket: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, RestError> {
        let mut tries = 0;
        loop {
            match self.call(method, bucket, path, body).await {
                Err(RestError::RateLimited { retry_after })
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

/// The `id` field of an answer, as a snowflake string.
///
/// # Errors
/// When the answer has no id.
pub fn id_of(value: &Value) -> Result<String, RestError> {
    match value.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(RestError::Decode("the answer has no `id`".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retry_after_prefers_the_body_and_spots_global_limits() {
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "3".parse().unwrap_or_else(|_| unreachable!()),
        );
        let (d, g) = retry_after(&h, &json!({"retry_after": 0.25, "global": false}));
        assert_eq!(d, Duration::from_millis(250));
        assert!(!g);
        let (d, g) = retry_after(&h, &Value::Null);
        assert_eq!(d, Duration::from_secs(3));
        assert!(!g);
        let (_, g) = retry_after(
            &HeaderMap::new(),
            &json!({"retry_after": 1, "global": true}),
        );
        assert!(g);
    }

    #[test]
    fn errors_map_to_backend_errors() {
        let e: BackendError = RestError::RateLimited {
            retry_after: Duration::from_secs(2),
        }
        .into();
        assert!(
            matches!(e, BackendError::RateLimited { retry_after } if retry_after == Duration::from_secs(2))
        );
        let e: BackendError = RestError::Status {
            status: 502,
            code: 0,
            message: "bad gateway".into(),
        }
        .into();
        assert!(matches!(e, BackendError::Transient { .. }));
        let e: BackendError = RestError::Status {
            status: 403,
            code: 50013,
            message: "Missing Permissions".into(),
        }
        .into();
        assert!(matches!(e, BackendError::Rejected { .. }));
        assert!(
            RestError::Status {
                status: 404,
                code: 10003,
                message: String::new()
            }
            .is_not_found()
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("👍"), "%F0%9F%91%8D");
        assert_eq!(encode_segment("party:123"), "party%3A123");
    }
}
