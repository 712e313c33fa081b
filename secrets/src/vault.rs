//! The Vault / OpenBao store (KV version 2, through `vaultrs`).
//!
//! A key `a/b/c` is the KV secret `<mount>/data/<prefix>/a/b/c` holding
//! `{"value": "…", "encoding": "base64" (only for non-UTF-8 values), "expires_at": "RFC 3339"
//! (only when expiring)}`. A secret written by hand with just a `value` field is read too.
//! `delete` removes the secret's metadata and every version. `list` walks the metadata tree
//! (one `LIST` per folder) and reads each key to leave out expired ones.
//!
//! Login is by token or AppRole. A background task renews the token at about 2/3 of its TTL;
//! with AppRole it logs in again when renewal fails or the token nears its max TTL, and an
//! operation refused with 403 logs in again and retries once. The task ends with the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use vaultrs::client::{Client, VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;
use zeroize::Zeroize;

use crate::config::{VaultAuth, VaultConfig};
use crate::error::SecretsError;
use crate::key::{in_namespace, normalize_prefix, validate_key};
use crate::store::SecretStore;
use crate::value::{Expiry, SecretValue, expires_at, is_expired};

/// The data stored in each KV secret.
#[derive(Serialize, Deserialize)]
struct KvEntry {
    value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

impl Drop for KvEntry {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

/// What a login or renewal granted.
#[derive(Debug, Clone, Copy)]
struct Grant {
    ttl: Duration,
    renewable: bool,
}

struct Inner {
    client: RwLock<VaultClient>,
    address: String,
    mount: String,
    prefix: String,
    auth: VaultAuth,
    logins: AtomicU64,
    renewals: AtomicU64,
}

/// Aborts the renewal task when the store is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Secrets in Vault or OpenBao (KV v2); see the [module docs](self).
pub struct VaultStore {
    inner: Arc<Inner>,
    _renewer: Option<AbortOnDrop>,
}

impl std::fmt::Debug for VaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultStore")
            .field("address", &self.inner.address)
            .field("mount", &self.inner.mount)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// Runs a Vault call; with AppRole, a 403 logs in again and retries once.
macro_rules! vault_call {
    ($inner:expr, |$c:ident| $call:expr) => {{
        let first = {
            let guard = $inner.client.read().await;
            let $c = &*guard;
            $call.await
        };
        match first {
            Err(ref e) if $inner.relogin_on(e) => {
                $inner.login().await?;
                let guard = $inner.client.read().await;
                let $c = &*guard;
                $call.await
            }
            other => other,
        }
    }};
}

impl VaultStore {
    /// Connects and logs in (verifying a given token with `lookup-self`), then starts the
    /// renewal task when the token has a TTL. Must be called within a Tokio runtime.
    ///
    /// # Errors
    /// [`SecretsError::Config`] for a bad address, mount or prefix; the credential
    /// reference's error; [`SecretsError::VaultLogin`], [`SecretsError::VaultSealed`],
    /// [`SecretsError::VaultUnreachable`].
    pub async fn connect(config: &VaultConfig) -> Result<Self, SecretsError> {
        let url = url::Url::parse(config.address.trim()).map_err(|e| {
            SecretsError::Config(format!(
                "vault address `{}` is not a URL: {e}",
                config.address
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SecretsError::Config(format!(
                "vault address `{}` must start with http:// or https://",
                config.address
            )));
        }
        let address = url.as_str().trim_end_matches('/').to_owned();
        let mount = config.mount.trim_matches('/').to_owned();
        validate_key(&mount)
            .map_err(|e| SecretsError::Config(format!("vault mount `{mount}`: {e}")))?;
        let prefix = config.prefix.trim_matches('/').to_owned();
        if !prefix.is_empty() {
            validate_key(&prefix)
                .map_err(|e| SecretsError::Config(format!("vault prefix `{prefix}`: {e}")))?;
        }
        let mut builder = VaultClientSettingsBuilder::default();
        builder
            .address(&address)
            .token("")
            .timeout(Some(config.timeout))
            .verify(true)
            .ca_certs(
                config
                    .ca_certs
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect(),
            );
        if let Some(ns) = &config.namespace {
            builder.set_namespace(ns.clone());
        }
        let settings = builder
            .build()
            .map_err(|e| SecretsError::Config(format!("vault client settings: {e}")))?;
        let client = VaultClient::new(settings)
            .map_err(|e| SecretsError::Config(format!("vault client for {address}: {e}")))?;
        let inner = Arc::new(Inner {
            client: RwLock::new(client),
            address,
            mount,
            prefix,
            auth: config.auth.clone(),
            logins: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
        });
        let grant = inner.login().await?;
        let renewer = match (&inner.auth, grant) {
            (_, Grant { ttl, .. }) if ttl.is_zero() => None,
            (
                VaultAuth::Token { .. },
                Grant {
                    renewable: false,
                    ttl,
                },
            ) => {
                tracing::warn!(
                    address = %inner.address,
                    "the vault token is not renewable; it expires in {}s",
                    ttl.as_secs()
                );
                None
            }
            _ => Some(AbortOnDrop(tokio::spawn(renew_loop(
                Arc::downgrade(&inner),
                grant,
            )))),
        };
        Ok(Self {
            inner,
            _renewer: renewer,
        })
    }

    /// The Vault address.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// The remaining TTL of the current token, from `auth/token/lookup-self` (zero for a token
    /// that never expires).
    ///
    /// # Errors
    /// Vault errors.
    pub async fn token_ttl(&self) -> Result<Duration, SecretsError> {
        let inner = &self.inner;
        let info = vault_call!(inner, |c| vaultrs::token::lookup_self(c))
            .map_err(|e| inner.map_err("auth/token/lookup-self", e))?;
        Ok(Duration::from_secs(info.ttl))
    }

    /// How many times the store has logged in (1 after `connect`).
    #[must_use]
    pub fn logins(&self) -> u64 {
        self.inner.logins.load(Ordering::Relaxed)
    }

    /// How many token renewals have succeeded.
    #[must_use]
    pub fn renewals(&self) -> u64 {
        self.inner.renewals.load(Ordering::Relaxed)
    }
}

fn status_of(e: &ClientError) -> Option<(u16, &[String])> {
    match e {
        ClientError::APIError { code, errors } => Some((*code, errors.as_slice())),
        ClientError::RestClientError {
            source: rustify::errors::ClientError::ServerResponseError { code, .. },
        } => Some((*code, &[])),
        _ => None,
    }
}

fn is_not_found(e: &ClientError) -> bool {
    matches!(status_of(e), Some((404, _)))
}

impl Inner {
    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn relogin_on(&self, e: &ClientError) -> bool {
        matches!(self.auth, VaultAuth::AppRole { .. }) && matches!(status_of(e), Some((403, _)))
    }

    fn map_err(&self, key: &str, e: ClientError) -> SecretsError {
        let address = self.address.clone();
        let key = key.to_owned();
        match status_of(&e) {
            Some((403, _)) => SecretsError::VaultPermissionDenied { address, key },
            Some((503, _)) => SecretsError::VaultSealed { address, key },
            Some((_, errors)) if errors.iter().any(|m| m.contains("sealed")) => {
                SecretsError::VaultSealed { address, key }
            }
            Some((code, errors)) => SecretsError::Vault {
                address,
                key,
                reason: if errors.is_empty() {
                    format!("status {code}")
                } else {
                    format!("status {code}: {}", errors.join("; "))
                },
            },
            None => match e {
                ClientError::RestClientError {
                    source:
                        rustify::errors::ClientError::RequestError { source, .. }
                        | rustify::errors::ClientError::ResponseError { source },
                } => SecretsError::VaultUnreachable {
                    address,
                    key,
                    reason: format!("{source:#}"),
                },
                other => SecretsError::Vault {
                    address,
                    key,
                    reason: other.to_string(),
                },
            },
        }
    }

    fn login_error(&self, method: &'static str, e: ClientError) -> SecretsError {
        match self.map_err("(login)", e) {
            SecretsError::VaultPermissionDenied { address, .. } => SecretsError::VaultLogin {
                address,
                method,
                reason: "refused (403 permission denied): wrong, expired or revoked credentials"
                    .to_owned(),
            },
            SecretsError::Vault {
                address, reason, ..
            } => SecretsError::VaultLogin {
                address,
                method,
                reason,
            },
            other => other,
        }
    }

    /// Logs in (or checks the given token) and installs the token in the client.
    async fn login(&self) -> Result<Grant, SecretsError> {
        let grant = match &self.auth {
            VaultAuth::Token { token } => {
                let token = token.resolve_trimmed()?;
                let token = token.expose_str().unwrap_or_default();
                let mut client = self.client.write().await;
                client.set_token(token);
                let info = vaultrs::token::lookup_self(&*client)
                    .await
                    .map_err(|e| self.login_error("token", e))?;
                Grant {
                    ttl: Duration::from_secs(info.ttl),
                    renewable: info.renewable.unwrap_or(false),
                }
            }
            VaultAuth::AppRole {
                role_id,
                secret_id,
                mount,
            } => {
                let role_id = role_id.resolve_trimmed()?;
                let secret_id = secret_id.resolve_trimmed()?;
                let mut client = self.client.write().await;
                let auth = vaultrs::auth::approle::login(
                    &*client,
                    mount,
                    role_id.expose_str().unwrap_or_default(),
                    secret_id.expose_str().unwrap_or_default(),
                )
                .await
                .map_err(|e| self.login_error("approle", e))?;
                client.set_token(&auth.client_token);
                Grant {
                    ttl: Duration::from_secs(auth.lease_duration),
                    renewable: auth.renewable,
                }
            }
        };
        self.logins.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(address = %self.address, ttl_secs = grant.ttl.as_secs(), "logged in to vault");
        Ok(grant)
    }

    /// Renews the token (or, with AppRole, logs in again when it cannot be renewed much
    /// longer). `Ok(None)`: nothing more can be done for this token.
    async fn refresh(&self, last: Grant) -> Result<Option<Grant>, SecretsError> {
        let approle = matches!(self.auth, VaultAuth::AppRole { .. });
        if approle && !last.renewable {
            return self.login().await.map(Some);
        }
        let renewed = {
            let client = self.client.read().await;
            vaultrs::token::renew_self(&*client, None).await
        };
        match renewed {
            Ok(auth) => {
                self.renewals.fetch_add(1, Ordering::Relaxed);
                let grant = Grant {
                    ttl: Duration::from_secs(auth.lease_duration),
                    renewable: auth.renewable,
                };
                // A renewal granting much less than before means the token is reaching its
                // max TTL.
                let capped = grant.ttl * 2 < last.ttl || grant.ttl < Duration::from_secs(1);
                if capped && approle {
                    tracing::debug!(address = %self.address, "vault token near its max TTL; logging in again");
                    return self.login().await.map(Some);
                }
                if capped {
                    tracing::warn!(
                        address = %self.address,
                        "the vault token is reaching its max TTL and expires in {}s; give the bot \
                         a new token or use AppRole",
                        grant.ttl.as_secs()
                    );
                }
                Ok((!grant.ttl.is_zero()).then_some(grant))
            }
            Err(e) if approle => {
                tracing::warn!(address = %self.address, error = %self.map_err("auth/token/renew-self", e), "vault token renewal failed; logging in again");
                self.login().await.map(Some)
            }
            Err(e) => Err(self.map_err("auth/token/renew-self", e)),
        }
    }

    async fn read(&self, key: &str) -> Result<Option<SecretValue>, SecretsError> {
        let path = self.path(key);
        let entry: KvEntry = match vault_call!(self, |c| vaultrs::kv2::read::<KvEntry>(
            c,
            &self.mount,
            &path
        )) {
            Ok(e) => e,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.map_err(key, e)),
        };
        let malformed = |reason: &str| SecretsError::Malformed {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let expires = match &entry.expires_at {
            Some(t) => Some(
                t.parse::<Timestamp>()
                    .map_err(|_| malformed("`expires_at` is not an RFC 3339 timestamp"))?,
            ),
            None => None,
        };
        if is_expired(expires, Timestamp::now()) {
            if let Err(e) = self.remove(key).await {
                tracing::debug!(key, error = %e, "cannot purge an expired secret");
            }
            return Ok(None);
        }
        let value = match entry.encoding.as_deref() {
            None | Some("utf8" | "utf-8") => SecretValue::from(entry.value.as_str()),
            Some("base64") => SecretValue::new(
                BASE64
                    .decode(entry.value.as_bytes())
                    .map_err(|_| malformed("`value` is not valid base64"))?,
            ),
            Some(_) => return Err(malformed("unknown `encoding`")),
        };
        Ok(Some(value))
    }

    async fn remove(&self, key: &str) -> Result<(), SecretsError> {
        let path = self.path(key);
        match vault_call!(self, |c| vaultrs::kv2::delete_metadata(
            c,
            &self.mount,
            &path
        )) {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.map_err(key, e)),
        }
    }

    /// Every key under the normalised namespace `prefix`, walking the metadata tree.
    async fn walk(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
        let mut out = Vec::new();
        let mut dirs = vec![prefix.to_owned()];
        while let Some(dir) = dirs.pop() {
            let path = if self.prefix.is_empty() {
                dir.clone()
            } else {
                format!("{}/{dir}", self.prefix)
            };
            let what = if dir.is_empty() { "(root)" } else { &dir };
            let keys = match vault_call!(self, |c| vaultrs::kv2::list(c, &self.mount, &path)) {
                Ok(k) => k,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(self.map_err(what, e)),
            };
            for k in keys {
                let full = format!("{dir}{k}");
                if k.ends_with('/') {
                    dirs.push(full);
                } else if validate_key(&full).is_ok() && in_namespace(&full, prefix) {
                    out.push(full);
                }
            }
        }
        Ok(out)
    }
}

async fn renew_loop(inner: Weak<Inner>, mut grant: Grant) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let wait = if grant.ttl.is_zero() {
            backoff
        } else {
            (grant.ttl * 2 / 3).max(Duration::from_millis(500))
        };
        tokio::time::sleep(wait).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        match inner.refresh(grant).await {
            Ok(Some(g)) => {
                grant = g;
                backoff = Duration::from_secs(1);
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(address = %inner.address, error = %e, "vault token renewal failed; will retry");
                grant.ttl = Duration::ZERO;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

#[async_trait]
impl SecretStore for VaultStore {
    fn kind(&self) -> &'static str {
        "vault"
    }

    async fn get(&self, key: &str) -> Result<Option<SecretValue>, SecretsError> {
        validate_key(key)?;
        self.inner.read(key).await
    }

    async fn set(
        &self,
        key: &str,
        value: &SecretValue,
        expiry: Option<Expiry>,
    ) -> Result<(), SecretsError> {
        validate_key(key)?;
        let mut entry = match value.expose_str() {
            Some(s) => KvEntry {
                value: s.to_owned(),
                encoding: None,
                expires_at: None,
            },
            None => KvEntry {
                value: BASE64.encode(value.expose()),
                encoding: Some("base64".to_owned()),
                expires_at: None,
            },
        };
        entry.expires_at = expires_at(expiry).map(|t| t.to_string());
        let inner = &self.inner;
        let path = inner.path(key);
        vault_call!(inner, |c| vaultrs::kv2::set(c, &inner.mount, &path, &entry))
            .map(|_| ())
            .map_err(|e| inner.map_err(key, e))
    }

    async fn delete(&self, key: &str) -> Result<(), SecretsError> {
        validate_key(key)?;
        self.inner.remove(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
        let prefix = normalize_prefix(prefix)?;
        let mut live = Vec::new();
        for key in self.inner.walk(&prefix).await? {
            if self.inner.read(&key).await?.is_some() {
                live.push(key);
            }
        }
        live.sort();
        Ok(live)
    }
}
