//! Proof that a request comes from Sentry: HMAC-SHA256 signatures of the raw body (Integration
//! Platform) and unguessable tokens in the URL path (legacy webhooks, chat-created routes).
//!
//! Every comparison is constant-time (`Mac::verify_slice`). Tokens are stored only as keyed
//! digests, so the database never holds a working URL.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// The key of token digests. Not a secret: it separates these digests from other uses of
/// SHA-256 (a token is 256 random bits, so the digest need not be slow).
const TOKEN_DIGEST_KEY: &[u8] = b"ferrbot-plugin-sentry/route-token/v1";

/// A signing secret: wiped from memory on drop, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Sentry-Hook-Signature` (or `Sentry-App-Signature`) header.
    #[error("missing signature")]
    Missing,
    /// The header is not hex, or matches none of the route's secrets.
    #[error("bad signature")]
    Bad,
}

/// Checks `signature` (lower-case hex HMAC-SHA256 of `body`) against each secret.
///
/// # Errors
/// [`SignatureError::Missing`] without a signature; [`SignatureError::Bad`] when it is not
/// hex or no secret produced it.
pub fn verify_signature(
    secrets: &[Secret],
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    let Some(signature) = signature.map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(SignatureError::Missing);
    };
    let hex_part = signature.strip_prefix("sha256=").unwrap_or(signature);
    let Ok(tag) = hex::decode(hex_part) else {
        return Err(SignatureError::Bad);
    };
    let mut ok = false;
    for secret in secrets {
        let Ok(mut mac) = HmacSha256::new_from_slice(&secret.0) else {
            continue;
        };
        mac.update(body);
        // Every secret is tried, so the time taken does not tell which one matched.
        ok |= mac.verify_slice(&tag).is_ok();
    }
    if ok { Ok(()) } else { Err(SignatureError::Bad) }
}

/// The signature Sentry would send for `body` with `secret` (for tests and tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never returns early.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A new route token: 256 random bits as 64 hex characters.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A new route id: 48 random bits as 12 hex characters (not a secret, only a name).
pub fn new_route_id() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}

fn token_mac(token: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(TOKEN_DIGEST_KEY)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(token.as_bytes());
    mac
}

/// The digest of a token, as stored.
pub fn token_digest(token: &str) -> String {
    hex::encode(token_mac(token).finalize().into_bytes())
}

/// True when `token` is one of the tokens whose digests are given (constant-time per digest).
pub fn verify_token(token: &str, digests: &[String]) -> bool {
    let mut ok = false;
    for digest in digests {
        if let Ok(expected) = hex::decode(digest) {
            ok |= token_mac(token).verify_slice(&expected).is_ok();
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_sentrys_hex_hmac_sha256() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published vector.
        let sig = sign(b"key", b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            sig,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let secrets = [Secret::new(b"old"), Secret::new(b"key")];
        let body = b"The quick brown fox jumps over the lazy dog";
        assert_eq!(verify_signature(&secrets, body, Some(&sig)), Ok(()));
        assert_eq!(
            verify_signature(&secrets, body, Some(&sig.to_uppercase())),
            Ok(())
        );
        assert_eq!(
            verify_signature(&secrets, body, Some(&format!("sha256={sig}"))),
            Ok(())
        );
        assert_eq!(
            verify_signature(&secrets, b"tampered", Some(&sig)),
            Err(SignatureError::Bad)
        );
        assert_eq!(
            verify_signature(&secrets, body, Some("zz")),
            Err(SignatureError::Bad)
        );
        assert_eq!(
            verify_signature(&secrets, body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(&[], body, Some(&sig)),
            Err(SignatureError::Bad)
        );
    }

    #[test]
    fn tokens_are_random_and_checked_against_digests() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let digests = vec![token_digest(&b), token_digest(&a)];
        assert!(verify_token(&a, &digests));
        assert!(!verify_token("nope", &digests));
        assert!(!verify_token(&a, &["not hex".to_owned()]));
        assert_eq!(new_route_id().len(), 12);
    }
}
