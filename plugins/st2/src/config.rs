//! The `[plugins.st2]` section: where StackStorm is, how the bot authenticates, the stream,
//! the webhook and the RBAC mode.
//!
//! Secrets (`password`, `token`, `api_key`, `webhook.token`) arrive already resolved: the
//! daemon turns `secret:`/`env:` references into values before the plugin sees them. A value
//! still looking like a reference is refused, so a typo never becomes a password.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ferrbot::error::ConfigError;
use ferrbot::secrets::SecretValue;
use serde::Deserialize;

use crate::client::Endpoints;

/// How the bot itself authenticates to StackStorm.
#[derive(Clone, PartialEq, Eq)]
pub enum BotAuthConfig {
    /// Username and password: tokens are requested and renewed.
    Password {
        /// The StackStorm user.
        username: String,
        /// Its password.
        password: SecretValue,
    },
    /// A user token given in config (`X-Auth-Token`).
    Token {
        /// The token.
        token: SecretValue,
        /// When it expires, if known: admins are alerted `renew_before` ahead.
        expiry: Option<jiff::Timestamp>,
    },
    /// An API key (`St2-Api-Key`).
    ApiKey(SecretValue),
}

impl std::fmt::Debug for BotAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mode())
    }
}

impl BotAuthConfig {
    /// `password`, `token` or `api_key`.
    pub fn mode(&self) -> &'static str {
        match self {
            BotAuthConfig::Password { .. } => "password",
            BotAuthConfig::Token { .. } => "token",
            BotAuthConfig::ApiKey(_) => "api_key",
        }
    }
}

/// Whose StackStorm identity runs an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RbacMode {
    /// The bot's own credential for everyone.
    Standalone,
    /// The bot (a service account) gets a token for each chat user.
    Serverside(ServersideSettings),
    /// Each user logs in through a one-time link (`!st2 session start`).
    Clientside,
}

impl RbacMode {
    /// `standalone`, `serverside` or `clientside`.
    pub fn name(&self) -> &'static str {
        match self {
            RbacMode::Standalone => "standalone",
            RbacMode::Serverside(_) => "serverside",
            RbacMode::Clientside => "clientside",
        }
    }
}

/// How a chat user is named to StackStorm in `serverside` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impersonate {
    /// `"user": <st2 user>`: the chat user's local id (or the `users` map entry).
    User,
    /// `"impersonate_user": <nick>, "nickname_origin": <origin>`.
    Nickname,
}

/// `serverside` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServersideSettings {
    /// How the chat user is named.
    pub impersonate: Impersonate,
    /// The nickname origin (`slack`, …); default: the user's backend name.
    pub nickname_origin: Option<String>,
    /// Explicit chat user (`backend:local`) → StackStorm user.
    pub users: BTreeMap<String, String>,
}

/// Stream settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// No byte for this long means the stream is dead.
    pub heartbeat_timeout: Duration,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

/// Webhook settings.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The bearer token; without it the webhook is off.
    pub token: Option<SecretValue>,
    /// Also serve err-stackstorm's `/chatops/message`.
    pub errbot_path: bool,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("errbot_path", &self.errbot_path)
            .finish()
    }
}

/// The validated `[plugins.st2]` section.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The StackStorm endpoints.
    pub endpoints: Endpoints,
    /// A PEM bundle to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The command word (`st2`).
    pub prefix: String,
    /// The notification route (`errbot`).
    pub route: String,
    /// The bot's credential.
    pub auth: BotAuthConfig,
    /// TTL asked for new tokens (`None`: StackStorm's default).
    pub token_ttl: Option<Duration>,
    /// Renew (or alert) this long before a token expires.
    pub renew_before: Duration,
    /// The stream.
    pub stream: StreamSettings,
    /// How often the alias cache is refreshed.
    pub alias_refresh: Duration,
    /// The webhook.
    pub webhook: WebhookSettings,
    /// The RBAC mode.
    pub rbac: RbacMode,
    /// `[plugins.st2.rbac.clientside]`: login links and cached user credentials.
    pub sessions: crate::sessions::SessionSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    url: Option<String>,
    auth_url: Option<String>,
    api_url: Option<String>,
    stream_url: Option<String>,
    ca_file: Option<PathBuf>,
    prefix: Option<String>,
    route: Option<String>,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    token_expiry: Option<String>,
    api_key: Option<String>,
    token_ttl: Option<toml::Value>,
    renew_before: Option<toml::Value>,
    alias_refresh: Option<toml::Value>,
    #[serde(default)]
    stream: RawStream,
    #[serde(default)]
    webhook: RawWebhook,
    #[serde(default)]
    rbac: RawRbac,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStream {
    heartbeat_timeout: Option<toml::Value>,
    backoff_min: Option<toml::Value>,
    backoff_max: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    token: Option<String>,
    #[serde(default)]
    errbot_path: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRbac {
    mode: Option<String>,
    impersonate: Option<Impersonate>,
    nickname_origin: Option<String>,
    #[serde(default)]
    users: BTreeMap<String, String>,
    clientside: Option<toml::Value>,
}

fn err(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(format!("[plugins.st2] `{key}`: {message}"))
}

fn secret(key: &str, value: &str) -> Result<SecretValue, ConfigError> {
    if value.starts_with("secret:") || value.starts_with("env:") {
        return Err(err(
            key,
            "is a reference that was not resolved (the daemon resolves `secret:` and `env:`)",
        ));
    }
    if value.trim().is_empty() {
        return Err(err(key, "is empty"));
    }
    Ok(SecretValue::from(value.trim()))
}

fn http_url(key: &str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| err(key, format!("{v:?} is not an http:// or https:// URL")))?;
    if rest.is_empty() || rest.starts_with('/') || v.contains(char::is_whitespace) {
        return Err(err(key, format!("{v:?} has no host")));
    }
    Ok(v.to_owned())
}

/// Parses a duration: a number of seconds (`60`, `0.5`) or text with a unit (`500ms`, `60s`,
/// `5m`, `24h`, `1d`).
///
/// # Errors
/// When it is neither, or negative.
pub fn duration(key: &str, value: &toml::Value) -> Result<Duration, ConfigError> {
    let bad = || {
        err(
            key,
            "must be seconds (60, 0.5) or a duration with a unit (500ms, 60s, 5m, 24h, 1d)",
        )
    };
    let secs = match value {
        toml::Value::Integer(i) if *i >= 0 => return Ok(Duration::from_secs(*i as u64)),
        toml::Value::Float(f) if *f >= 0.0 && f.is_finite() => *f,
        toml::Value::String(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let (num, unit) = s.split_at(split);
            let n: f64 = num.parse().map_err(|_| bad())?;
            let mult = match unit.trim() {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                "d" => 86400.0,
                _ => return Err(bad()),
            };
            n * mult
        }
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

fn opt_duration(
    key: &str,
    value: Option<&toml::Value>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    value.map_or(Ok(default), |v| duration(key, v))
}

/// A toml error, prefixed with the section.
fn toml_error(e: toml::de::Error) -> ConfigError {
    ConfigError::new(format!("[plugins.st2]: {}", e.message().trim()))
}

fn word(key: &str, value: Option<String>, default: &str) -> Result<String, ConfigError> {
    let v = value.unwrap_or_else(|| default.to_owned());
    let v = v.trim().to_owned();
    if v.is_empty() || v.contains(char::is_whitespace) {
        return Err(err(key, format!("{v:?} must be one word")));
    }
    Ok(v)
}

impl Settings {
    /// Validates the section.
    ///
    /// # Errors
    /// A message naming the key at fault.
    pub fn from_value(value: toml::Value) -> Result<Self, ConfigError> {
        let raw: Raw = value.try_into().map_err(toml_error)?;

        let base = raw.url.as_deref().map(|u| http_url("url", u)).transpose()?;
        let mut endpoints = base.as_deref().map(Endpoints::under);
        let overrides = [
            ("auth_url", &raw.auth_url),
            ("api_url", &raw.api_url),
            ("stream_url", &raw.stream_url),
        ];
        for (key, value) in overrides {
            let Some(value) = value else { continue };
            let url = http_url(key, value)?;
            let e = endpoints.get_or_insert_with(|| Endpoints {
                auth: String::new(),
                api: String::new(),
                stream: String::new(),
            });
            match key {
                "auth_url" => e.auth = url,
                "api_url" => e.api = url,
                _ => e.stream = url,
            }
        }
        let endpoints = endpoints.ok_or_else(|| {
            err(
                "url",
                "is required (StackStorm's base URL, e.g. https://st2.example.com)",
            )
        })?;
        for (key, v) in [
            ("auth_url", &endpoints.auth),
            ("api_url", &endpoints.api),
            ("stream_url", &endpoints.stream),
        ] {
            if v.is_empty() {
                return Err(err(key, "is required when `url` is not set"));
            }
        }

        let auth = match (&raw.username, &raw.password, &raw.token, &raw.api_key) {
            (Some(u), Some(p), None, None) => {
                if u.trim().is_empty() {
                    return Err(err("username", "is empty"));
                }
                BotAuthConfig::Password {
                    username: u.trim().to_owned(),
                    password: secret("password", p)?,
                }
            }
            (None, None, Some(t), None) => BotAuthConfig::Token {
                token: secret("token", t)?,
                expiry: raw
                    .token_expiry
                    .as_deref()
                    .map(|e| {
                        crate::client::parse_expiry(e.trim()).map_err(|_| {
                            err(
                                "token_expiry",
                                "must be a timestamp like 2026-12-31T00:00:00Z",
                            )
                        })
                    })
                    .transpose()?,
            },
            (None, None, None, Some(k)) => BotAuthConfig::ApiKey(secret("api_key", k)?),
            (Some(_), None, None, None) => {
                return Err(err("password", "is required with `username`"));
            }
            (None, Some(_), None, None) => {
                return Err(err("username", "is required with `password`"));
            }
            (None, None, None, None) => {
                return Err(err(
                    "username",
                    "the bot needs exactly one credential: `username` + `password`, `token` or `api_key`",
                ));
            }
            _ => {
                return Err(err(
                    "api_key",
                    "give exactly one bot credential: `username` + `password`, `token` or `api_key` (not several)",
                ));
            }
        };
        if raw.token_expiry.is_some() && !matches!(auth, BotAuthConfig::Token { .. }) {
            return Err(err("token_expiry", "only applies with `token`"));
        }

        let token_ttl = raw
            .token_ttl
            .as_ref()
            .map(|v| duration("token_ttl", v))
            .transpose()?;
        if token_ttl.is_some_and(|t| t < Duration::from_secs(60)) {
            return Err(err("token_ttl", "must be at least 60s"));
        }
        let renew_before = opt_duration(
            "renew_before",
            raw.renew_before.as_ref(),
            Duration::from_secs(300),
        )?;
        let stream = StreamSettings {
            heartbeat_timeout: opt_duration(
                "stream.heartbeat_timeout",
                raw.stream.heartbeat_timeout.as_ref(),
                Duration::from_secs(60),
            )?,
            backoff_min: opt_duration(
                "stream.backoff_min",
                raw.stream.backoff_min.as_ref(),
                Duration::from_millis(500),
            )?,
            backoff_max: opt_duration(
                "stream.backoff_max",
                raw.stream.backoff_max.as_ref(),
                Duration::from_secs(60),
            )?,
        };
        if stream.heartbeat_timeout < Duration::from_millis(100) {
            return Err(err("stream.heartbeat_timeout", "must be at least 100ms"));
        }
        if stream.backoff_min.is_zero() || stream.backoff_max < stream.backoff_min {
            return Err(err(
                "stream.backoff_max",
                "backoff_min must be above 0 and backoff_max at least backoff_min",
            ));
        }
        let alias_refresh = opt_duration(
            "alias_refresh",
            raw.alias_refresh.as_ref(),
            Duration::from_secs(600),
        )?;
        if alias_refresh < Duration::from_secs(1) {
            return Err(err("alias_refresh", "must be at least 1s"));
        }

        let webhook = WebhookSettings {
            token: raw
                .webhook
                .token
                .as_deref()
                .map(|t| secret("webhook.token", t))
                .transpose()?,
            errbot_path: raw.webhook.errbot_path,
        };
        if webhook.errbot_path && webhook.token.is_none() {
            return Err(err(
                "webhook.errbot_path",
                "needs webhook.token: the chatops webhook is only served with a bearer token",
            ));
        }
        if webhook.token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(err("webhook.token", "must be at least 16 characters"));
        }

        let mode = raw.rbac.mode.as_deref().unwrap_or("standalone");
        let rbac = match mode {
            "standalone" => RbacMode::Standalone,
            "clientside" => RbacMode::Clientside,
            "serverside" => {
                if !matches!(auth, BotAuthConfig::Password { .. }) {
                    return Err(err(
                        "rbac.mode",
                        "`serverside` needs the bot to log in with `username` + `password` (a StackStorm service account)",
                    ));
                }
                for (k, v) in &raw.rbac.users {
                    if !k.contains(':') {
                        return Err(err(
                            &format!("rbac.users.{k}"),
                            "chat users are backend-qualified ids like \"slack:U123\"",
                        ));
                    }
                    if v.trim().is_empty() {
                        return Err(err(&format!("rbac.users.{k}"), "is empty"));
                    }
                }
                RbacMode::Serverside(ServersideSettings {
                    impersonate: raw.rbac.impersonate.unwrap_or(Impersonate::User),
                    nickname_origin: raw.rbac.nickname_origin.clone(),
                    users: raw.rbac.users.clone(),
                })
            }
            other => {
                return Err(err(
                    "rbac.mode",
                    format!("{other:?} is not one of standalone, serverside, clientside"),
                ));
            }
        };
        if !matches!(rbac, RbacMode::Serverside(_))
            && (raw.rbac.impersonate.is_some()
                || raw.rbac.nickname_origin.is_some()
                || !raw.rbac.users.is_empty())
        {
            return Err(err(
                "rbac.impersonate",
                "`impersonate`, `nickname_origin` and `users` only apply with mode = \"serverside\"",
            ));
        }

        let sessions = match raw.rbac.clientside {
            None => crate::sessions::SessionSettings::default(),
            Some(v) => {
                if !matches!(rbac, RbacMode::Clientside) {
                    return Err(err(
                        "rbac.clientside",
                        "only applies with mode = \"clientside\"",
                    ));
                }
                crate::sessions::SessionSettings::from_value(Some(v))?
            }
        };
        if matches!(rbac, RbacMode::Clientside) && sessions.public_url.is_none() {
            return Err(err(
                "rbac.clientside.public_url",
                "is required with mode = \"clientside\": it is the address users' browsers \
                 reach the login page at (e.g. https://bot.example.com)",
            ));
        }

        Ok(Settings {
            endpoints,
            ca_file: raw.ca_file,
            prefix: word("prefix", raw.prefix, "st2")?,
            route: word("route", raw.route, "errbot")?,
            auth,
            token_ttl,
            renew_before,
            stream,
            alias_refresh,
            webhook,
            rbac,
            sessions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_value(toml::from_str::<toml::Value>(text).unwrap())
    }

    #[test]
    fn minimal_password_config() {
        let s =
            parse("url = \"https://st2.example.com/\"\nusername = \"errbot\"\npassword = \"pw\"")
                .unwrap();
        assert_eq!(s.endpoints.api, "https://st2.example.com/api/v1");
        assert_eq!(s.endpoints.stream, "https://st2.example.com/stream/v1");
        assert_eq!(s.prefix, "st2");
        assert_eq!(s.route, "errbot");
        assert_eq!(s.auth.mode(), "password");
        assert_eq!(s.rbac, RbacMode::Standalone);
        assert_eq!(s.stream.heartbeat_timeout, Duration::from_secs(60));
        assert!(!format!("{s:?}").contains("pw\""));
    }

    #[test]
    fn split_ports_layout() {
        let s = parse(
            "auth_url = \"http://h:9100/v1\"\napi_url = \"http://h:9101/v1\"\nstream_url = \"http://h:9102/v1\"\napi_key = \"k\"",
        )
        .unwrap();
        assert_eq!(s.endpoints.auth, "http://h:9100/v1");
        let e = parse("auth_url = \"http://h:9100/v1\"\napi_key = \"k\"").unwrap_err();
        assert!(e.message.contains("`api_url`"), "{}", e.message);
    }

    #[test]
    fn exactly_one_bot_credential() {
        let e = parse("url = \"http://h\"\ntoken = \"t\"\napi_key = \"k\"").unwrap_err();
        assert!(e.message.contains("exactly one"), "{}", e.message);
        let e = parse("url = \"http://h\"").unwrap_err();
        assert!(e.message.contains("exactly one"), "{}", e.message);
        let e = parse("url = \"http://h\"\nusername = \"u\"").unwrap_err();
        assert!(e.message.contains("`password`"), "{}", e.message);
    }

    #[test]
    fn debug_hides_every_secret() {
        for auth in ["api_key = \"key-hidden-1\"", "token = \"tok-hidden-1\""] {
            let s = parse(&format!(
                "url = \"http://h\"\n{auth}\n[webhook]\ntoken = \"hook-hidden-0123456789\""
            ))
            .unwrap();
            let shown = format!("{s:?}");
            assert!(!shown.contains("hidden"), "{shown}");
        }
    }

    #[test]
    fn unresolved_reference_is_refused_without_echoing() {
        let e = parse("url = \"http://h\"\napi_key = \"env:ST2_KEY\"").unwrap_err();
        assert!(e.message.contains("`api_key`"), "{}", e.message);
        assert!(e.message.contains("not resolved"));
    }

    #[test]
    fn durations_and_bad_keys() {
        let s = parse(
            "url = \"http://h\"\napi_key = \"k\"\n[stream]\nheartbeat_timeout = \"1s\"\nbackoff_min = 0.05\nbackoff_max = \"200ms\"",
        )
        .unwrap();
        assert_eq!(s.stream.heartbeat_timeout, Duration::from_secs(1));
        assert_eq!(s.stream.backoff_min, Duration::from_millis(50));
        let e =
            parse("url = \"http://h\"\napi_key = \"k\"\n[stream]\nheartbeat_timeout = \"soon\"")
                .unwrap_err();
        assert!(
            e.message.contains("stream.heartbeat_timeout"),
            "{}",
            e.message
        );
        let e = parse("url = \"http://h\"\napi_key = \"k\"\n[webhook]\nerrbot_path = true")
            .unwrap_err();
        assert!(e.message.contains("webhook.errbot_path"), "{}", e.message);
        let e = parse("url = \"http://h\"\napi_key = \"k\"\nbogus = 1").unwrap_err();
        assert!(e.message.contains("bogus"), "{}", e.message);
    }

    #[test]
    fn rbac_modes() {
        let e = parse("url = \"http://h\"\napi_key = \"k\"\n[rbac]\nmode = \"serverside\"")
            .unwrap_err();
        assert!(e.message.contains("service account"), "{}", e.message);
        let s = parse(
            "url = \"http://h\"\nusername = \"u\"\npassword = \"p\"\n[rbac]\nmode = \"serverside\"\nimpersonate = \"nickname\"\nnickname_origin = \"slack\"\n[rbac.users]\n\"slack:U1\" = \"alice\"",
        )
        .unwrap();
        let RbacMode::Serverside(ss) = s.rbac else {
            panic!()
        };
        assert_eq!(ss.impersonate, Impersonate::Nickname);
        assert_eq!(ss.users["slack:U1"], "alice");
        let e = parse("url = \"http://h\"\napi_key = \"k\"\n[rbac]\nmode = \"magic\"").unwrap_err();
        assert!(e.message.contains("rbac.mode"), "{}", e.message);
        let s = parse("url = \"http://h\"\napi_key = \"k\"\n[rbac]\nmode = \"clientside\"\n[rbac.clientside]\nmax_attempts = 3\npublic_url = \"https://bot.example.com\"")
            .unwrap();
        assert_eq!(s.rbac, RbacMode::Clientside);
        assert_eq!(s.sessions.max_attempts, 3);
        let e = parse("url = \"http://h\"\napi_key = \"k\"\n[rbac]\nmode = \"clientside\"\n[rbac.clientside]\nx = 1")
            .unwrap_err();
        assert!(e.message.contains("rbac.clientside"), "{}", e.message);
        let e = parse("url = \"http://h\"\napi_key = \"k\"\n[rbac]\nmode = \"clientside\"")
            .unwrap_err();
        assert!(e.message.contains("public_url"), "{}", e.message);
    }
}
