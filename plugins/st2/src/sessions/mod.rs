//! `clientside` RBAC: chat users log in to StackStorm themselves through a one-time link.
//!
//! `!st2 session start <shared word>` (in a direct message only; also `!st2session_start`)
//! answers with a link to a login page the bot serves under `/plugins/<plugin>/login/<id>`.
//! The page takes a StackStorm username and password, an auth token or an API key, plus the
//! shared word, so that someone who sees the link alone cannot use it. The credential is
//! checked against StackStorm, then cached as a [`UserCredential`] for that chat user under
//! [`USER_CREDENTIAL_NAME`] in the plugin's per-user credential cache (the secrets store: it
//! survives restarts), and the user is told in chat. `!st2 session end` forgets it; admins get
//! `!st2 session list` and `!st2 session cancel <id>`.
//!
//! Links live in the plugin's key-value store (so they survive restarts too), hold a salted
//! digest of the shared word (never the word), expire after [`SessionSettings::link_ttl`],
//! work once, and lock after [`SessionSettings::max_attempts`] failed attempts. Neither the
//! shared word nor any credential is ever logged, echoed on the page or shown in chat.
//!
//! Module map: [`links`] (the stored links), [`page`] (HTML), `login` (checking a submitted
//! form against StackStorm), `routes` (HTTP), `commands` (chat commands).

mod commands;
pub mod links;
mod login;
pub mod page;
mod routes;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrbot::{CommandSpec, PluginContext};
use serde::Deserialize;

use futures_util::future::BoxFuture;

use crate::client::{St2Client, St2Error};
use crate::credential::Credential;
#[allow(unused_imports)] // linked from the module docs
use crate::credential::{USER_CREDENTIAL_NAME, UserCredential};

/// Gives the bot's own StackStorm credential at a time by the bot's clock (used to validate
/// tokens pasted on the login page).
pub type BotCredentialFn =
    Arc<dyn Fn(jiff::Timestamp) -> BoxFuture<'static, Result<Credential, St2Error>> + Send + Sync>;

/// `[plugins.st2.rbac.clientside]`: the login links and the cached credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// How long a login link works (default `10m`).
    #[serde(deserialize_with = "ferrbot::config::duration::deserialize")]
    pub link_ttl: Duration,
    /// How long a token or API key pasted on the page is kept (default `24h`): StackStorm does
    /// not tell a token's expiry to anyone but its owner, and an API key never expires, so
    /// the user logs in again after this. Tokens obtained with a password keep StackStorm's
    /// own expiry.
    #[serde(deserialize_with = "ferrbot::config::duration::deserialize")]
    pub credential_ttl: Duration,
    /// The bot's public base URL (`https://bot.example.com`, in front of its web server), used
    /// when the plugin has none configured. Links are `<public_url>/plugins/st2/login/<id>`.
    pub public_url: Option<String>,
    /// Failed attempts (wrong shared word or refused credentials) after which a link locks
    /// (default 5).
    pub max_attempts: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            link_ttl: Duration::from_secs(10 * 60),
            credential_ttl: Duration::from_secs(24 * 3600),
            public_url: None,
            max_attempts: 5,
        }
    }
}

impl SessionSettings {
    /// Reads and checks `[plugins.st2.rbac.clientside]` as written (`None`: all defaults).
    ///
    /// # Errors
    /// An unknown key, a bad duration, a `public_url` that is not `http(s)://…`, or
    /// `max_attempts = 0`; the message names the key.
    pub fn from_value(value: Option<toml::Value>) -> Result<Self, ferrbot::error::ConfigError> {
        const SECTION: &str = "[plugins.st2.rbac.clientside]";
        let settings: Self = match value {
            None => Self::default(),
            Some(v) => v.try_into().map_err(|e: toml::de::Error| {
                ferrbot::error::ConfigError::new(format!("{SECTION}: {}", e.message().trim()))
            })?,
        };
        if let Some(url) = &settings.public_url {
            let ok = url::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(ferrbot::error::ConfigError::new(format!(
                    "{SECTION} `public_url`: {url:?} is not an http(s) URL (like https://bot.example.com)"
                )));
            }
        }
        if settings.max_attempts == 0 {
            return Err(ferrbot::error::ConfigError::new(format!(
                "{SECTION} `max_attempts` must be at least 1"
            )));
        }
        if settings.link_ttl.is_zero() {
            return Err(ferrbot::error::ConfigError::new(format!(
                "{SECTION} `link_ttl` must be longer than 0s"
            )));
        }
        Ok(settings)
    }
}

/// What can go wrong in the session machinery (shown to admins and users without secrets).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The plugin's key-value store failed.
    #[error("the bot's storage failed: {0}")]
    Store(#[from] ferrbot::store::StoreError),
    /// The secrets store failed.
    #[error("the bot's secrets store failed: {0}")]
    Secrets(#[from] ferrbot::secrets::SecretsError),
}

/// The clientside session service: commands and the login page. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    settings: SessionSettings,
    client: St2Client,
    public_base_url: Option<String>,
    bot_credential: Option<BotCredentialFn>,
    command_word: String,
    /// Links whose form is being checked right now (a link is used at most once even when two
    /// forms arrive together).
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("settings", &self.settings)
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions checking credentials with `client`; links point at `public_base_url` (the
    /// bot's public base URL), or at `settings.public_url` when it is `None`.
    pub fn new(
        settings: SessionSettings,
        client: St2Client,
        public_base_url: Option<String>,
    ) -> Self {
        Self {
            settings,
            client,
            public_base_url,
            bot_credential: None,
            command_word: "st2".to_owned(),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Validates pasted tokens with the bot's credential (`POST /auth/v1/tokens/validate`),
    /// given by `bot_credential` (e.g. `BotAuth::credential`). Without it, a token is checked
    /// by using it once (`GET /api/v1/actionalias?limit=1`).
    pub fn with_bot_credential(mut self, bot_credential: BotCredentialFn) -> Self {
        self.bot_credential = Some(bot_credential);
        self
    }

    /// The word the commands start with (the plugin's prefix, `st2` by default).
    pub fn with_command_word(mut self, word: &str) -> Self {
        self.command_word = word.to_owned();
        self
    }

    /// The settings.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// The chat commands: `<word> session start|end|list|cancel` and the hidden
    /// `<word>session_start`.
    pub fn command_specs(&self) -> Vec<CommandSpec> {
        commands::specs(self)
    }

    /// The login page's routes (`GET`/`POST /login/{id}`), to be mounted under the plugin's
    /// `/plugins/<name>/`.
    pub fn router(&self, ctx: PluginContext) -> axum::Router {
        routes::router(self.clone(), ctx)
    }

    /// The base URL links start with, without a trailing slash.
    fn base_url(&self) -> Option<String> {
        self.public_base_url
            .as_deref()
            .or(self.settings.public_url.as_deref())
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
    }

    /// The URL of link `id` for plugin `plugin`.
    fn link_url(&self, plugin: &str, id: &str) -> Option<String> {
        self.base_url()
            .map(|base| format!("{base}/plugins/{plugin}/login/{id}"))
    }

    fn links(ctx: &PluginContext) -> links::Links {
        links::Links::new(ctx.store())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_parse() {
        let s: SessionSettings = toml::from_str("").unwrap();
        assert_eq!(s, SessionSettings::default());
        assert_eq!(s.link_ttl, Duration::from_secs(600));
        let s: SessionSettings =
            toml::from_str("link_ttl = \"5m\"\ncredential_ttl = \"8h\"\npublic_url = \"https://b\"\nmax_attempts = 3")
                .unwrap();
        assert_eq!(s.link_ttl, Duration::from_secs(300));
        assert_eq!(s.credential_ttl, Duration::from_secs(8 * 3600));
        assert_eq!(s.max_attempts, 3);
        let err = toml::from_str::<SessionSettings>("link_tll = \"5m\"").unwrap_err();
        assert!(err.to_string().contains("link_tll"));
    }

    #[test]
    fn settings_are_checked() {
        let v = |t: &str| Some(toml::from_str::<toml::Value>(t).unwrap());
        assert_eq!(
            SessionSettings::from_value(None).unwrap(),
            SessionSettings::default()
        );
        let s = SessionSettings::from_value(v("public_url = \"https://bot.example.com\"")).unwrap();
        assert_eq!(s.public_url.as_deref(), Some("https://bot.example.com"));
        let e = SessionSettings::from_value(v("public_url = \"bot.example.com\"")).unwrap_err();
        assert!(e.to_string().contains("public_url"), "{e}");
        let e = SessionSettings::from_value(v("max_attempts = 0")).unwrap_err();
        assert!(e.to_string().contains("max_attempts"), "{e}");
        let e = SessionSettings::from_value(v("link_ttl = \"soon\"")).unwrap_err();
        assert!(e.to_string().contains("rbac.clientside"), "{e}");
        let e = SessionSettings::from_value(v("nope = 1")).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn link_urls_use_the_public_base() {
        let client =
            St2Client::new(crate::client::Endpoints::under("http://127.0.0.1:1"), None).unwrap();
        let s = Sessions::new(
            SessionSettings::default(),
            client.clone(),
            Some("https://bot.example.com/".into()),
        );
        assert_eq!(
            s.link_url("st2", "ab").as_deref(),
            Some("https://bot.example.com/plugins/st2/login/ab")
        );
        let settings = SessionSettings {
            public_url: Some("https://fallback".into()),
            ..SessionSettings::default()
        };
        let s = Sessions::new(settings, client.clone(), None);
        assert_eq!(
            s.link_url("st2", "ab").as_deref(),
            Some("https://fallback/plugins/st2/login/ab")
        );
        let s = Sessions::new(SessionSettings::default(), client, None);
        assert_eq!(s.link_url("st2", "ab"), None);
    }
}
