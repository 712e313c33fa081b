//! The bot's own StackStorm credential: a token renewed before its expiry (password mode), a
//! user token watched for expiry (token mode), or an API key.
//!
//! Time comes from the caller (the bot's clock, a manual one in tests), so renewal is tested
//! without sleeping. A 401 in password mode drops the cached token, logs in again and retries
//! once; in token or API-key mode nothing can be renewed, so the error is returned as is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrbot::secrets::SecretValue;
use tokio::sync::Mutex;

use crate::client::{St2Client, St2Error, TokenRequest};
use crate::config::BotAuthConfig;
use crate::credential::Credential;

#[derive(Clone)]
struct Cached {
    credential: Credential,
    expiry: jiff::Timestamp,
}

/// The bot's credential manager.
pub struct BotAuth {
    client: St2Client,
    config: BotAuthConfig,
    ttl: Option<Duration>,
    renew_before: Duration,
    cached: Mutex<Option<Cached>>,
    expiry_alerted: AtomicBool,
}

impl std::fmt::Debug for BotAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotAuth")
            .field("mode", &self.config.mode())
            .finish_non_exhaustive()
    }
}

impl BotAuth {
    /// A manager for `config`; tokens are asked with `ttl` and renewed `renew_before` their
    /// expiry.
    pub fn new(
        client: St2Client,
        config: BotAuthConfig,
        ttl: Option<Duration>,
        renew_before: Duration,
    ) -> Self {
        Self {
            client,
            config,
            ttl,
            renew_before,
            cached: Mutex::new(None),
            expiry_alerted: AtomicBool::new(false),
        }
    }

    /// `password`, `token` or `api_key`.
    pub fn mode(&self) -> &'static str {
        self.config.mode()
    }

    /// The client.
    pub fn client(&self) -> &St2Client {
        &self.client
    }

    /// The service account's username and password (password mode only).
    pub fn service_account(&self) -> Option<(&str, &SecretValue)> {
        match &self.config {
            BotAuthConfig::Password { username, password } => Some((username, password)),
            _ => None,
        }
    }

    /// The TTL asked for tokens.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// How long before expiry a token is renewed.
    pub fn renew_before(&self) -> Duration {
        self.renew_before
    }

    /// The credential to use at `now`: a cached token still valid for `renew_before`, else a
    /// new one (password mode); the configured token or key otherwise.
    ///
    /// # Errors
    /// When logging in fails.
    pub async fn credential(&self, now: jiff::Timestamp) -> Result<Credential, St2Error> {
        match &self.config {
            BotAuthConfig::Token { token, .. } => Ok(Credential::Token(token.clone())),
            BotAuthConfig::ApiKey(key) => Ok(Credential::ApiKey(key.clone())),
            BotAuthConfig::Password { username, password } => {
                let mut cached = self.cached.lock().await;
                if let Some(c) = cached.as_ref()
                    && fresh(now, c.expiry, self.renew_before)
                {
                    return Ok(c.credential.clone());
                }
                let request = TokenRequest {
                    ttl: self.ttl.map(|t| t.as_secs()),
                    ..TokenRequest::default()
                };
                let issued = self
                    .client
                    .create_token(username, password, &request)
                    .await?;
                tracing::info!(user = %issued.user, expiry = %issued.expiry, "StackStorm token issued to the bot");
                let credential = Credential::Token(issued.token);
                *cached = Some(Cached {
                    credential: credential.clone(),
                    expiry: issued.expiry,
                });
                Ok(credential)
            }
        }
    }

    /// Forgets `used` if it is the cached token (after a 401), so the next call logs in.
    pub async fn invalidate(&self, used: &Credential) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.credential == used) {
            *cached = None;
        }
    }

    /// True when a 401 can be cured by logging in again.
    pub fn can_renew(&self) -> bool {
        matches!(self.config, BotAuthConfig::Password { .. })
    }

    /// Runs `call` with the bot's credential; on a 401 in password mode, logs in again and
    /// retries once.
    ///
    /// # Errors
    /// The call's error, or logging in failing.
    pub async fn call<T, F, Fut>(&self, now: jiff::Timestamp, call: F) -> Result<T, St2Error>
    where
        F: Fn(Credential) -> Fut,
        Fut: Future<Output = Result<T, St2Error>>,
    {
        let credential = self.credential(now).await?;
        match call(credential.clone()).await {
            Err(e) if e.is_unauthorized() && self.can_renew() => {
                tracing::info!("StackStorm refused the bot's token; logging in again");
                self.invalidate(&credential).await;
                let credential = self.credential(now).await?;
                call(credential).await
            }
            other => other,
        }
    }

    /// Checks the configured credential at start: validates a configured token
    /// (`POST /auth/v1/tokens/validate`) or makes one authenticated call. Returns a problem to
    /// tell the admins, if any.
    pub async fn check(&self, now: jiff::Timestamp) -> Option<String> {
        let result = match &self.config {
            BotAuthConfig::Token { token, .. } => {
                let cred = Credential::Token(token.clone());
                match self.client.validate_token(&cred, token).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(St2Error::Unauthorized("the token is not valid".into())),
                    Err(e) => Err(e),
                }
            }
            _ => {
                self.call(
                    now,
                    |c| async move { self.client.check_credential(&c).await },
                )
                .await
            }
        };
        match result {
            Ok(()) => None,
            Err(e) if e.is_unauthorized() => Some(format!(
                "StackStorm refused the bot's {} ({e}). Fix [plugins.st2] and restart.",
                self.mode()
            )),
            Err(e) => {
                tracing::warn!(error = %e, "StackStorm check at start failed");
                None
            }
        }
    }

    /// In token mode with a known expiry: a warning for the admins once the token is within
    /// `renew_before` of expiring (given once).
    pub fn expiry_warning(&self, now: jiff::Timestamp) -> Option<String> {
        let BotAuthConfig::Token {
            expiry: Some(expiry),
            ..
        } = &self.config
        else {
            return None;
        };
        if fresh(now, *expiry, self.renew_before)
            || self.expiry_alerted.swap(true, Ordering::SeqCst)
        {
            return None;
        }
        let verb = if now >= *expiry { "expired" } else { "expires" };
        Some(format!(
            "The StackStorm token of the !st2 plugin {verb} at {expiry}. Issue a new one \
             (`st2 apikey create` is a longer-lived alternative), update [plugins.st2] `token` \
             and `token_expiry`, and restart."
        ))
    }
}

/// True when a token expiring at `expiry` is still good for `margin` after `now`.
pub fn fresh(now: jiff::Timestamp, expiry: jiff::Timestamp, margin: Duration) -> bool {
    let margin = jiff::SignedDuration::try_from(margin).unwrap_or(jiff::SignedDuration::MAX);
    now.checked_add(margin).is_ok_and(|t| t < expiry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_keeps_a_margin() {
        let now = jiff::Timestamp::from_second(1000).unwrap();
        let exp = jiff::Timestamp::from_second(1400).unwrap();
        assert!(fresh(now, exp, Duration::from_secs(300)));
        assert!(!fresh(now, exp, Duration::from_secs(400)));
    }

    #[test]
    fn token_expiry_warns_once() {
        let client =
            St2Client::new(crate::client::Endpoints::under("http://127.0.0.1:9"), None).unwrap();
        let auth = BotAuth::new(
            client,
            BotAuthConfig::Token {
                token: SecretValue::from("t"),
                expiry: Some(jiff::Timestamp::from_second(10_000).unwrap()),
            },
            None,
            Duration::from_secs(3600),
        );
        assert!(
            auth.expiry_warning(jiff::Timestamp::from_second(1000).unwrap())
                .is_none()
        );
        let w = auth.expiry_warning(jiff::Timestamp::from_second(7000).unwrap());
        assert!(w.unwrap().contains("expires"));
        assert!(
            auth.expiry_warning(jiff::Timestamp::from_second(7001).unwrap())
                .is_none()
        );
    }
}
