//! Homeserver answers and network failures → [`BackendError`]s the core understands.
//!
//! A 429 (`M_LIMIT_EXCEEDED`) becomes `RateLimited` with the server's `retry_after_ms` (or its
//! `Retry-After` header); an unreachable homeserver, a timeout and 5xx answers become
//! `Transient`; an unknown access token is `Transient` too (the sync loop logs in again when it
//! can); every other refusal (403, 404, bad ids) is `Rejected`.

use std::time::{Duration, SystemTime};

use ferrbot::BackendError;
use matrix_sdk::HttpError;
use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};

/// How long to wait after a 429 that does not say.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What went wrong, by what can be done about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Slow down: try again after this long.
    RateLimited(Duration),
    /// No connection to the homeserver could be made: the request certainly never arrived.
    Unconnected(String),
    /// The connection failed or timed out: the request may or may not have arrived.
    Unreachable(String),
    /// The homeserver answered with a server error (5xx, 408).
    Server(String),
    /// The access token is not (or no longer) valid.
    UnknownToken(String),
    /// The homeserver refused the request for good.
    Rejected(String),
}

impl Failure {
    /// True when the homeserver is (probably) down or unreachable: waiting for it helps.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            Self::Unconnected(_) | Self::Unreachable(_) | Self::Server(_)
        )
    }

    /// The core's view of it.
    pub fn to_backend_error(&self) -> BackendError {
        match self {
            Self::RateLimited(retry_after) => BackendError::RateLimited {
                retry_after: *retry_after,
            },
            Self::Unconnected(m)
            | Self::Unreachable(m)
            | Self::Server(m)
            | Self::UnknownToken(m) => BackendError::transient(m.clone()),
            Self::Rejected(m) => BackendError::rejected(m.clone()),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateLimited(d) => write!(f, "rate limited for {d:?}"),
            Self::Unconnected(m)
            | Self::Unreachable(m)
            | Self::Server(m)
            | Self::UnknownToken(m)
            | Self::Rejected(m) => f.write_str(m),
        }
    }
}

/// Classifies an answer by status code and Matrix error code.
pub fn classify(
    status: Option<u16>,
    errcode: Option<&str>,
    retry_after: Option<Duration>,
    message: String,
) -> Failure {
    match (status, errcode) {
        (_, Some("M_LIMIT_EXCEEDED")) | (Some(429), _) => {
            Failure::RateLimited(retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
        }
        (_, Some("M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN")) => Failure::UnknownToken(message),
        (None, _) => Failure::Unreachable(message),
        (Some(s), _) if s >= 500 || s == 408 => Failure::Server(message),
        (Some(_), _) => Failure::Rejected(message),
    }
}

fn retry_after(value: &RetryAfter) -> Duration {
    match value {
        RetryAfter::Delay(d) => *d,
        RetryAfter::DateTime(at) => at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    }
}

/// Classifies an HTTP-level failure of the SDK.
pub fn from_http(err: &HttpError) -> Failure {
    if let HttpError::Cached(inner) = err {
        return from_http(inner);
    }
    if let HttpError::Reqwest(e) = err {
        // Described without the URL (long, with the sync filter) but with the request's path
        // and the root cause. Neither carries the access token (it travels in a header).
        let mut cause: &dyn std::error::Error = e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let path = e.url().map(|u| u.path().to_owned()).unwrap_or_default();
        if e.is_connect() && !e.is_timeout() {
            return Failure::Unconnected(format!(
                "cannot connect to the homeserver ({path}): {cause}"
            ));
        }
        let what = if e.is_timeout() {
            "the homeserver did not answer in time"
        } else {
            "the connection to the homeserver failed"
        };
        return Failure::Unreachable(format!("{what} ({path}): {cause}"));
    }
    if let Some(api) = err.as_client_api_error() {
        let kind = api.error_kind();
        let errcode = kind.map(|k| k.errcode().to_string());
        let wait = match kind {
            Some(ErrorKind::LimitExceeded(data)) => data.retry_after.as_ref().map(retry_after),
            _ => None,
        };
        return classify(
            Some(api.status_code.as_u16()),
            errcode.as_deref(),
            wait,
            format!("the homeserver answered {api}"),
        );
    }
    if err.as_uiaa_response().is_some() {
        return Failure::Rejected("the homeserver asks for interactive authentication".into());
    }
    Failure::Rejected(format!("unexpected answer from the homeserver: {err}"))
}

/// Classifies a failure of an SDK call.
pub fn from_sdk(err: &matrix_sdk::Error) -> Failure {
    match err {
        matrix_sdk::Error::Http(http) => from_http(http),
        other => Failure::Rejected(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_cases() {
        let s = Duration::from_secs;
        type Case = (Option<u16>, Option<&'static str>, Option<Duration>, Failure);
        let cases: Vec<Case> = vec![
            (
                Some(429),
                Some("M_LIMIT_EXCEEDED"),
                Some(s(2)),
                Failure::RateLimited(s(2)),
            ),
            (
                Some(429),
                None,
                None,
                Failure::RateLimited(DEFAULT_RETRY_AFTER),
            ),
            (
                Some(400),
                Some("M_LIMIT_EXCEEDED"),
                None,
                Failure::RateLimited(DEFAULT_RETRY_AFTER),
            ),
            (None, None, None, Failure::Unreachable("m".into())),
            (Some(502), None, None, Failure::Server("m".into())),
            (
                Some(500),
                Some("M_UNKNOWN"),
                None,
                Failure::Server("m".into()),
            ),
            (Some(408), None, None, Failure::Server("m".into())),
            (
                Some(401),
                Some("M_UNKNOWN_TOKEN"),
                None,
                Failure::UnknownToken("m".into()),
            ),
            (
                Some(403),
                Some("M_FORBIDDEN"),
                None,
                Failure::Rejected("m".into()),
            ),
            (
                Some(404),
                Some("M_NOT_FOUND"),
                None,
                Failure::Rejected("m".into()),
            ),
        ];
        for (status, code, wait, want) in cases {
            assert_eq!(
                classify(status, code, wait, "m".into()),
                want,
                "{status:?} {code:?}"
            );
        }
    }

    #[test]
    fn the_core_sees_what_it_can_retry() {
        assert!(matches!(
            Failure::RateLimited(Duration::from_millis(1500)).to_backend_error(),
            BackendError::RateLimited { retry_after } if retry_after == Duration::from_millis(1500)
        ));
        assert!(
            Failure::Unreachable("x".into())
                .to_backend_error()
                .is_retryable()
        );
        assert!(
            Failure::Server("x".into())
                .to_backend_error()
                .is_retryable()
        );
        assert!(
            !Failure::Rejected("x".into())
                .to_backend_error()
                .is_retryable()
        );
        assert!(Failure::Unreachable("x".into()).is_outage());
        assert!(Failure::Unconnected("x".into()).is_outage());
        assert!(!Failure::RateLimited(Duration::ZERO).is_outage());
    }

    #[test]
    fn retry_after_dates_count_from_now() {
        let later = SystemTime::now() + Duration::from_secs(30);
        let d = retry_after(&RetryAfter::DateTime(later));
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
        assert_eq!(
            retry_after(&RetryAfter::DateTime(SystemTime::UNIX_EPOCH)),
            Duration::ZERO
        );
    }
}
