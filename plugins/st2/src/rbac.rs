//! Whose StackStorm credential runs a chat user's execution.
//!
//! - `standalone`: the bot's.
//! - `serverside`: a token StackStorm issues to the bot's service account *for this user*
//!   (`"user"`, or `"impersonate_user"` + `"nickname_origin"`), cached in the caller's own
//!   credential cache (`Ctx::caller_credentials`) under [`USER_CREDENTIAL_NAME`] until its
//!   expiry.
//! - `clientside`: the credential the user gave on the login page (the sessions module writes
//!   the same cache entry); none → a reply explaining how to log in.
//!
//! The cache is reached only through `Ctx::caller_credentials`, which is bound to the caller:
//! one user's credential can never run another user's command.

use std::time::Duration;

use ferrbot::context::Ctx;
use ferrbot::secrets::{Expiry, UserCredentials};

use crate::App;
use crate::client::{St2Error, TokenRequest};
use crate::config::{Impersonate, RbacMode, ServersideSettings};
use crate::credential::{Credential, CredentialSource, USER_CREDENTIAL_NAME, UserCredential};

/// A cached user token is not used within this margin of its expiry.
const USER_MARGIN: Duration = Duration::from_secs(30);

/// Why an execution could not run as the caller.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    /// The caller has no usable credential (clientside): how to get one.
    #[error("{0}")]
    NeedsLogin(String),
    /// StackStorm refused or failed.
    #[error(transparent)]
    St2(#[from] St2Error),
    /// The credential cache failed.
    #[error("the credential store failed: {0}")]
    Store(String),
}

/// Runs `call` with the credential the caller's executions use (see the module docs), renewing
/// once on a 401 where that is possible.
///
/// # Errors
/// [`RbacError`].
pub async fn run_as_caller<T, F, Fut>(app: &App, ctx: &Ctx, call: F) -> Result<T, RbacError>
where
    F: Fn(Credential) -> Fut,
    Fut: Future<Output = Result<T, St2Error>>,
{
    let now = ctx.now();
    match &app.core.settings.rbac {
        RbacMode::Standalone => Ok(app.core.auth.call(now, call).await?),
        RbacMode::Serverside(ss) => {
            let creds = caller_cache(ctx)?;
            let cached = load(&creds, now).await;
            let credential = match cached {
                Some(c) => c.credential(),
                None => issue(app, ctx, ss, &creds).await?,
            };
            match call(credential).await {
                Err(e) if e.is_unauthorized() => {
                    let _ = creds.delete(USER_CREDENTIAL_NAME).await;
                    let credential = issue(app, ctx, ss, &creds).await?;
                    Ok(call(credential).await?)
                }
                other => Ok(other?),
            }
        }
        RbacMode::Clientside => {
            let creds = caller_cache(ctx)?;
            let Some(cached) = load(&creds, now).await else {
                return Err(RbacError::NeedsLogin(login_help(app, ctx, false)));
            };
            match call(cached.credential()).await {
                Err(e) if e.is_unauthorized() => {
                    let _ = creds.delete(USER_CREDENTIAL_NAME).await;
                    Err(RbacError::NeedsLogin(login_help(app, ctx, true)))
                }
                other => Ok(other?),
            }
        }
    }
}

fn caller_cache(ctx: &Ctx) -> Result<UserCredentials, RbacError> {
    ctx.caller_credentials()
        .map_err(|e| RbacError::Store(e.to_string()))
}

/// The caller's cached credential, if still live at `now`.
async fn load(creds: &UserCredentials, now: jiff::Timestamp) -> Option<UserCredential> {
    match creds.get(USER_CREDENTIAL_NAME).await {
        Ok(Some(v)) => UserCredential::from_secret(&v).filter(|c| c.is_live(now, USER_MARGIN)),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "reading a user's StackStorm credential failed");
            None
        }
    }
}

/// The StackStorm user name for the caller in `serverside` `user` mode.
pub fn st2_user_for(ss: &ServersideSettings, ctx: &Ctx) -> String {
    let id = ctx.caller().id.to_string();
    ss.users
        .get(&id)
        .cloned()
        .unwrap_or_else(|| ctx.caller().id.local().to_owned())
}

/// Gets a token for the caller from the service account and caches it.
async fn issue(
    app: &App,
    ctx: &Ctx,
    ss: &ServersideSettings,
    creds: &UserCredentials,
) -> Result<Credential, RbacError> {
    let auth = &app.core.auth;
    let Some((username, password)) = auth.service_account() else {
        return Err(RbacError::St2(St2Error::Invalid(
            "serverside RBAC needs a service account login".into(),
        )));
    };
    let ttl = auth.ttl().map(|t| t.as_secs());
    let request = match ss.impersonate {
        Impersonate::User => TokenRequest {
            ttl,
            user: Some(st2_user_for(ss, ctx)),
            ..TokenRequest::default()
        },
        Impersonate::Nickname => TokenRequest {
            ttl,
            impersonate_user: Some(
                ss.users
                    .get(&ctx.caller().id.to_string())
                    .cloned()
                    .unwrap_or_else(|| ctx.caller().id.local().to_owned()),
            ),
            nickname_origin: Some(
                ss.nickname_origin
                    .clone()
                    .unwrap_or_else(|| ctx.caller().id.backend().to_owned()),
            ),
            ..TokenRequest::default()
        },
    };
    let issued = auth
        .client()
        .create_token(username, password, &request)
        .await?;
    let credential = Credential::Token(issued.token.clone());
    let entry = UserCredential::new(
        &credential,
        Some(issued.user.clone()),
        Some(issued.expiry),
        CredentialSource::Serverside,
        ctx.now(),
    );
    if let Err(e) = creds
        .set(
            USER_CREDENTIAL_NAME,
            &entry.to_secret(),
            Some(Expiry::At(issued.expiry)),
        )
        .await
    {
        tracing::warn!(error = %e, "caching a user's StackStorm token failed; it is used once");
    }
    tracing::info!(chat_user = %ctx.caller().id, st2_user = %issued.user, "StackStorm token issued for a chat user");
    Ok(credential)
}

/// How to log in (clientside).
pub fn login_help(app: &App, ctx: &Ctx, expired: bool) -> String {
    let p = format!("{}{}", ctx.prefix(), app.core.settings.prefix);
    let why = if expired {
        "StackStorm no longer accepts your credential (it expired or was revoked)."
    } else {
        "You have no StackStorm session yet: commands run with your own StackStorm account."
    };
    format!(
        "{why} In a direct message to me, type `{p} session start <shared word>` (a word you \
         choose), open the one-time link I send back, and log in with your StackStorm username \
         and password, a token or an API key, plus that word. Then run your command again."
    )
}
