//! Logging in: password or access token, one device for good.
//!
//! - **Password**: the first login creates a device (or uses `device_id` from the config) and
//!   the session (user, device, access token) is kept in the backend's store; later starts
//!   restore it and check it with `whoami`, logging in again — on the same device — only when
//!   the homeserver no longer knows the token. Restarts therefore reuse one device.
//! - **Access token**: the token already belongs to a device; `whoami` tells which, and the
//!   device id is recorded. The token itself is not stored.
//!
//! Neither the password nor a token is ever logged.

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::{OwnedDeviceId, UserId};
use matrix_sdk::{Client, SessionMeta, SessionTokens};
use serde::{Deserialize, Serialize};

use crate::config::{Credentials, MatrixConfig};
use crate::errors::{Failure, from_http, from_sdk};
use ferrbot::store::KvStore;

/// Store key of the cached session (password logins).
pub const SESSION_KEY: &str = "session";
/// Store key of the device id.
pub const DEVICE_KEY: &str = "device_id";

/// A password login's session, as kept in the backend's store.
#[derive(Clone, Serialize, Deserialize)]
struct StoredSession {
    homeserver: String,
    user_id: String,
    device_id: String,
    access_token: String,
}

fn store_failure(e: ferrbot::store::StoreError) -> Failure {
    Failure::Server(format!("the bot's store failed: {e}"))
}

/// A client for the homeserver, not logged in. Requests are not retried by the SDK: the
/// backend decides (sync loop backoff, patient sends, the core's outbox).
///
/// # Errors
/// When the homeserver address is unusable.
pub async fn client(config: &MatrixConfig) -> Result<Client, Failure> {
    Client::builder()
        .homeserver_url(&config.homeserver)
        .request_config(
            RequestConfig::new()
                .disable_retry()
                .timeout(config.request_timeout),
        )
        .user_agent(concat!("ferrbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .await
        .map_err(|e| Failure::Rejected(format!("cannot set up the Matrix client: {e}")))
}

async fn restore(
    config: &MatrixConfig,
    user_id: &str,
    device_id: &str,
    access_token: &str,
) -> Result<Client, Failure> {
    let client = client(config).await?;
    let user_id = UserId::parse(user_id)
        .map_err(|e| Failure::Rejected(format!("`{user_id}` is not a Matrix user id: {e}")))?;
    let session = MatrixSession {
        meta: SessionMeta {
            user_id,
            device_id: OwnedDeviceId::from(device_id),
        },
        tokens: SessionTokens {
            access_token: access_token.to_owned(),
            refresh_token: None,
        },
    };
    client
        .restore_session(session)
        .await
        .map_err(|e| from_sdk(&e))?;
    Ok(client)
}

/// Logs in (or restores the session) and returns a client ready to sync.
///
/// # Errors
/// `Unreachable`/`Server` when the homeserver is down, `Rejected` for bad credentials or a
/// token of another user.
pub async fn connect(config: &MatrixConfig, store: &KvStore) -> Result<Client, Failure> {
    match &config.credentials {
        Credentials::AccessToken(token) => with_token(config, store, token).await,
        Credentials::Password(password) => with_password(config, store, password).await,
    }
}

async fn with_token(
    config: &MatrixConfig,
    store: &KvStore,
    token: &str,
) -> Result<Client, Failure> {
    let known: Option<String> = match &config.device_id {
        Some(d) => Some(d.clone()),
        None => store.get(DEVICE_KEY).await.map_err(store_failure)?,
    };
    let guess = known.clone().unwrap_or_else(|| "FERRBOT".to_owned());
    let client = restore(config, &config.user_id, &guess, token).await?;
    let who = client.whoami().await.map_err(|e| match from_http(&e) {
        Failure::UnknownToken(_) => {
            Failure::Rejected("the homeserver does not accept the access token".into())
        }
        other => other,
    })?;
    if who.user_id.as_str() != config.user_id {
        return Err(Failure::Rejected(format!(
            "the access token belongs to {}, not to the configured user_id {}",
            who.user_id, config.user_id
        )));
    }
    let Some(device) = who.device_id.map(|d| d.to_string()) else {
        return Ok(client);
    };
    if known.as_deref() != Some(device.as_str()) {
        store
            .set(DEVICE_KEY, &device)
            .await
            .map_err(store_failure)?;
    }
    if device == guess {
        Ok(client)
    } else {
        // Restored under a guessed device id: start over with the right one.
        restore(config, &config.user_id, &device, token).await
    }
}

async fn with_password(
    config: &MatrixConfig,
    store: &KvStore,
    password: &str,
) -> Result<Client, Failure> {
    let stored: Option<StoredSession> = store.get(SESSION_KEY).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the cached Matrix session is unreadable; logging in again");
        None
    });
    let device: Option<String> = match &config.device_id {
        Some(d) => Some(d.clone()),
        None => store.get(DEVICE_KEY).await.map_err(store_failure)?,
    };
    if let Some(s) = stored.filter(|s| {
        s.homeserver == config.homeserver
            && s.user_id == config.user_id
            && device.as_deref().is_none_or(|d| d == s.device_id)
    }) {
        let client = restore(config, &s.user_id, &s.device_id, &s.access_token).await?;
        match client.whoami().await {
            Ok(_) => {
                tracing::info!(device = %s.device_id, "restored the Matrix session");
                return Ok(client);
            }
            Err(e) => match from_http(&e) {
                Failure::UnknownToken(_) => {
                    tracing::info!("the cached access token expired; logging in again");
                }
                other => return Err(other),
            },
        }
    }
    let client = client(config).await?;
    let mut login = client
        .matrix_auth()
        .login_username(&config.user_id, password)
        .initial_device_display_name(&config.device_name);
    if let Some(d) = &device {
        login = login.device_id(d);
    }
    let response = login.send().await.map_err(|e| match from_sdk(&e) {
        Failure::Rejected(m) | Failure::UnknownToken(m) => {
            Failure::Rejected(format!("login refused: {m}"))
        }
        other => other,
    })?;
    let session = StoredSession {
        homeserver: config.homeserver.clone(),
        user_id: response.user_id.to_string(),
        device_id: response.device_id.to_string(),
        access_token: response.access_token.clone(),
    };
    store
        .set(DEVICE_KEY, &session.device_id)
        .await
        .map_err(store_failure)?;
    store
        .set(SESSION_KEY, &session)
        .await
        .map_err(store_failure)?;
    tracing::info!(device = %session.device_id, "logged in to Matrix");
    Ok(client)
}

/// Forgets the cached session (after the homeserver refused its token).
pub async fn forget(store: &KvStore) {
    if let Err(e) = store.delete(SESSION_KEY).await {
        tracing::warn!(error = %e, "cannot forget the cached Matrix session");
    }
}
