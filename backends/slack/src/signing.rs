//! Slack's request signing: `X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))`.
//!
//! A request is accepted when its signature matches (compared in constant time), its
//! `X-Slack-Request-Timestamp` is within five minutes of now, and the same (timestamp,
//! signature) pair was not already accepted within that window — a replayed request is
//! refused even though its signature is valid. "Now" comes from a [`Clock`], so tests can
//! verify requests signed at fixed times.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use ferrbot::clock::Clock;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// How far a request's timestamp may be from now, in seconds.
pub const WINDOW_SECS: i64 = 5 * 60;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A header is missing or malformed.
    #[error("missing or malformed {0}")]
    Malformed(&'static str),
    /// The timestamp is more than five minutes from now.
    #[error("the request timestamp is more than 5 minutes old (or in the future)")]
    Stale,
    /// The signature does not match.
    #[error("the request signature does not match")]
    BadSignature,
    /// The same signed request was already accepted.
    #[error("the request was already received (replay)")]
    Replayed,
}

/// The (timestamp, signature) pairs accepted within the window, oldest first, and as a set.
type Seen = (VecDeque<(i64, String)>, HashSet<(i64, String)>);

/// Verifies signed requests and remembers the recent ones.
pub struct Verifier {
    secret: Secret,
    clock: Arc<dyn Clock>,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

/// Computes `v0=…` for a body signed at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &str) -> Hmac<Sha256> {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

impl Verifier {
    /// A verifier for `secret`, with "now" from `clock`.
    pub fn new(secret: Secret, clock: Arc<dyn Clock>) -> Self {
        Self {
            secret,
            clock,
            seen: Mutex::new((VecDeque::new(), HashSet::new())),
        }
    }

    /// Checks one request.
    ///
    /// # Errors
    /// When the request must be refused (answer 401).
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let ts_text = timestamp
            .map(str::trim)
            .ok_or(SignatureError::Malformed("X-Slack-Request-Timestamp"))?;
        let ts: i64 = ts_text
            .parse()
            .map_err(|_| SignatureError::Malformed("X-Slack-Request-Timestamp"))?;
        let signature = signature
            .map(str::trim)
            .ok_or(SignatureError::Malformed("X-Slack-Signature"))?;
        let hex_sig = signature
            .strip_prefix("v0=")
            .ok_or(SignatureError::Malformed("X-Slack-Signature"))?;
        let raw =
            hex::decode(hex_sig).map_err(|_| SignatureError::Malformed("X-Slack-Signature"))?;
        let now = self.clock.now().as_second();
        if (now - ts).abs() > WINDOW_SECS {
            return Err(SignatureError::Stale);
        }
        let mut mac = mac(self.secret.expose());
        mac.update(b"v0:");
        mac.update(ts_text.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac.verify_slice(&raw)
            .map_err(|_| SignatureError::BadSignature)?;
        let key = (ts, hex_sig.to_ascii_lowercase());
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (order, set) = &mut *seen;
        while let Some((old, _)) = order.front() {
            if now - *old > WINDOW_SECS {
                if let Some(gone) = order.pop_front() {
                    set.remove(&gone);
                }
            } else {
                break;
            }
        }
        if !set.insert(key.clone()) {
            return Err(SignatureError::Replayed);
        }
        order.push_back(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferrbot::clock::ManualClock;

    // Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn verifier(at: i64) -> (Verifier, ManualClock) {
        let clock = ManualClock::new(jiff::Timestamp::from_second(at).unwrap());
        (
            Verifier::new(Secret::new(SECRET), Arc::new(clock.clone())),
            clock,
        )
    }

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY.as_bytes()), SIG);
        let (v, _) = verifier(1_531_420_618 + 10);
        assert_eq!(v.verify(Some(TS), Some(SIG), BODY.as_bytes()), Ok(()));
    }

    #[test]
    fn bad_stale_and_replayed_requests_are_refused() {
        let (v, clock) = verifier(1_531_420_618);
        let mut bad = BODY.as_bytes().to_vec();
        bad[0] = b'T';
        assert_eq!(
            v.verify(Some(TS), Some(SIG), &bad),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            v.verify(Some(TS), None, BODY.as_bytes()),
            Err(SignatureError::Malformed("X-Slack-Signature"))
        );
        assert_eq!(v.verify(Some(TS), Some(SIG), BODY.as_bytes()), Ok(()));
        assert_eq!(
            v.verify(Some(TS), Some(SIG), BODY.as_bytes()),
            Err(SignatureError::Replayed)
        );
        clock.advance(std::time::Duration::from_secs(301));
        assert_eq!(
            v.verify(Some(TS), Some(SIG), BODY.as_bytes()),
            Err(SignatureError::Stale)
        );
    }
}
