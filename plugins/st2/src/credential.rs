//! StackStorm credentials: the one header a request carries, and a chat user's credential as
//! cached in the plugin's per-user credential store.
//!
//! SHARED CONTRACT (used by the client, RBAC and the clientside sessions): keep these names.
//! - [`Credential`] is exactly one of `X-Auth-Token` or `St2-Api-Key` (StackStorm answers 401
//!   when a request carries both or neither), so a request can never carry two.
//! - [`UserCredential`] is what `serverside` and `clientside` RBAC cache per chat user under
//!   the name [`USER_CREDENTIAL_NAME`] in [`ferrbot::secrets::UserCredentials`], with the
//!   token's expiry as the entry's expiry. It serialises to JSON; its secret is redacted in
//!   `Debug`.

use std::fmt;

use ferrbot::secrets::SecretValue;
use serde::{Deserialize, Serialize};

/// The name under which a chat user's StackStorm credential is cached.
pub const USER_CREDENTIAL_NAME: &str = "st2";

/// One StackStorm credential: the header a request is authenticated with.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// An auth token, sent as `X-Auth-Token`.
    Token(SecretValue),
    /// An API key, sent as `St2-Api-Key`.
    ApiKey(SecretValue),
}

impl Credential {
    /// The header this credential is sent in.
    pub fn header_name(&self) -> &'static str {
        match self {
            Credential::Token(_) => "X-Auth-Token",
            Credential::ApiKey(_) => "St2-Api-Key",
        }
    }

    /// The secret header value (lossy for non-UTF-8 bytes, which StackStorm never issues).
    pub fn header_value(&self) -> String {
        let secret = match self {
            Credential::Token(s) | Credential::ApiKey(s) => s,
        };
        String::from_utf8_lossy(secret.expose()).into_owned()
    }

    /// What kind of credential this is.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::Token(_) => CredentialKind::Token,
            Credential::ApiKey(_) => CredentialKind::ApiKey,
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential::{:?}([redacted])", self.kind())
    }
}

/// The kinds of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An auth token (`X-Auth-Token`).
    Token,
    /// An API key (`St2-Api-Key`).
    ApiKey,
}

/// How a chat user's credential was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// Issued to the bot's service account for this user (`serverside` RBAC).
    Serverside,
    /// Given by the user on the login page (`clientside` RBAC).
    Clientside,
}

/// A chat user's StackStorm credential, as cached in the per-user credential store.
#[derive(Clone, Serialize, Deserialize)]
pub struct UserCredential {
    /// Token or API key.
    pub kind: CredentialKind,
    /// The secret itself.
    secret: String,
    /// The StackStorm user it belongs to, when known.
    pub st2_user: Option<String>,
    /// When it stops working (tokens); `None` for API keys.
    pub expiry: Option<jiff::Timestamp>,
    /// How it was obtained.
    pub source: CredentialSource,
    /// When it was cached.
    pub created: jiff::Timestamp,
}

impl UserCredential {
    /// A cached credential.
    pub fn new(
        credential: &Credential,
        st2_user: Option<String>,
        expiry: Option<jiff::Timestamp>,
        source: CredentialSource,
        created: jiff::Timestamp,
    ) -> Self {
        Self {
            kind: credential.kind(),
            secret: credential.header_value(),
            st2_user,
            expiry,
            source,
            created,
        }
    }

    /// The credential to send.
    pub fn credential(&self) -> Credential {
        let secret = SecretValue::from(self.secret.as_str());
        match self.kind {
            CredentialKind::Token => Credential::Token(secret),
            CredentialKind::ApiKey => Credential::ApiKey(secret),
        }
    }

    /// Whether it is still usable at `now`, keeping `margin` before the expiry.
    pub fn is_live(&self, now: jiff::Timestamp, margin: std::time::Duration) -> bool {
        match self.expiry {
            None => true,
            Some(expiry) => {
                let margin = jiff::SignedDuration::try_from(margin).unwrap_or_default();
                now.checked_add(margin).is_ok_and(|t| t < expiry)
            }
        }
    }

    /// The JSON stored in the credential cache.
    pub fn to_secret(&self) -> SecretValue {
        SecretValue::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a cached entry; `None` when it is not a credential this version understands.
    pub fn from_secret(value: &SecretValue) -> Option<Self> {
        serde_json::from_slice(value.expose()).ok()
    }
}

impl fmt::Debug for UserCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredential")
            .field("kind", &self.kind)
            .field("secret", &"[redacted]")
            .field("st2_user", &self.st2_user)
            .field("expiry", &self.expiry)
            .field("source", &self.source)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credential::Token(SecretValue::from("tok-very-secret"));
        assert!(!format!("{c:?}").contains("very-secret"));
        let u = UserCredential::new(
            &Credential::ApiKey(SecretValue::from("key-very-secret")),
            Some("alice".into()),
            None,
            CredentialSource::Clientside,
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert!(!format!("{u:?}").contains("very-secret"));
        let back = UserCredential::from_secret(&u.to_secret()).unwrap();
        assert_eq!(back.credential().header_name(), "St2-Api-Key");
        assert_eq!(back.credential().header_value(), "key-very-secret");
    }

    #[test]
    fn liveness_keeps_a_margin() {
        let now = jiff::Timestamp::from_second(1_000).unwrap();
        let u = UserCredential::new(
            &Credential::Token(SecretValue::from("t")),
            None,
            Some(jiff::Timestamp::from_second(1_100).unwrap()),
            CredentialSource::Serverside,
            now,
        );
        assert!(u.is_live(now, std::time::Duration::from_secs(60)));
        assert!(!u.is_live(now, std::time::Duration::from_secs(120)));
    }
}
