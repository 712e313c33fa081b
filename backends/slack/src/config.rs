//! `[backends.<name>]` for Slack: parsing and validation.
//!
//! Tokens and the signing secret are plain strings in the section (the daemon resolves
//! `env:`/`secret:` references first) and are kept in [`Secret`]s here, whose `Debug` and
//! `Display` print `[redacted]` and whose memory is wiped on drop.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

/// A token or signing secret: never printed, wiped from memory when dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How events reach ferrbot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Socket Mode: ferrbot opens a WebSocket to Slack with the app-level token; no public
    /// URL is needed.
    #[default]
    Socket,
    /// The Events API: Slack POSTs signed requests to ferrbot's web server under
    /// `/backends/<name>/` (`events`, `interactivity`, `commands`).
    Events,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    bot_token: String,
    #[serde(default)]
    app_token: Option<String>,
    #[serde(default)]
    signing_secret: Option<String>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    api_url: Option<String>,
    #[serde(default = "default_slash")]
    slash_command: String,
    #[serde(default = "default_true")]
    ignore_bots: bool,
    #[serde(default = "default_timeout_ms")]
    request_timeout_ms: u64,
    #[serde(default = "default_user_cache_secs")]
    user_cache_secs: u64,
}

fn default_slash() -> String {
    "ferrbot".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_timeout_ms() -> u64 {
    30_000
}
fn default_user_cache_secs() -> u64 {
    3_600
}

/// The Web API of the real Slack.
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// A validated `[backends.<name>]` section for Slack.
#[derive(Clone)]
pub struct SlackConfig {
    /// The bot token (`xoxb-…`) for Web API calls.
    pub bot_token: Secret,
    /// The app-level token (`xapp-…`, scope `connections:write`); required in Socket Mode.
    pub app_token: Option<Secret>,
    /// The signing secret; required for the Events API (and its interactivity endpoint).
    pub signing_secret: Option<Secret>,
    /// How events reach ferrbot.
    pub mode: Mode,
    /// The Web API base (`https://slack.com/api`); tests and proxies point it elsewhere.
    pub api_url: String,
    /// The slash command that runs bot commands (`/ferrbot help`), without the slash.
    pub slash_command: String,
    /// Ignore messages from other bots and integrations (the bot's own are always ignored).
    pub ignore_bots: bool,
    /// The timeout of one Web API request.
    pub request_timeout: Duration,
    /// How long a user's display name is cached.
    pub user_cache: Duration,
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("bot_token", &self.bot_token)
            .field("app_token", &self.app_token)
            .field("signing_secret", &self.signing_secret)
            .field("mode", &self.mode)
            .field("api_url", &self.api_url)
            .field("slash_command", &self.slash_command)
            .field("ignore_bots", &self.ignore_bots)
            .field("request_timeout", &self.request_timeout)
            .field("user_cache", &self.user_cache)
            .finish()
    }
}

/// A problem in the section, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`backends.{section}{key}`: {message}")]
pub struct ConfigProblem {
    section: String,
    key: String,
    message: String,
}

impl ConfigProblem {
    fn new(section: &str, key: &str, message: impl Into<String>) -> Self {
        Self {
            section: section.to_owned(),
            key: if key.is_empty() {
                String::new()
            } else {
                format!(".{key}")
            },
            message: message.into(),
        }
    }
}

fn token(
    section: &str,
    key: &str,
    value: &str,
    prefix: &str,
    what: &str,
) -> Result<Secret, ConfigProblem> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigProblem::new(section, key, "must not be empty"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigProblem::new(
            section,
            key,
            "must not contain spaces or control characters",
        ));
    }
    if !prefix.is_empty() && !value.starts_with(prefix) {
        return Err(ConfigProblem::new(
            section,
            key,
            format!("must be {what} (it starts with `{prefix}`)"),
        ));
    }
    Ok(Secret::new(value))
}

impl SlackConfig {
    /// Parses and validates the section of backend instance `section` (its name).
    ///
    /// # Errors
    /// When a key is missing, unknown or invalid; the message names the key (never a value).
    pub fn parse(section: &str, value: &toml::Value) -> Result<Self, ConfigProblem> {
        let raw: RawConfig = value
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ConfigProblem::new(section, "", e.message()))?;
        let bot_token = token(section, "bot_token", &raw.bot_token, "xoxb-", "a bot token")?;
        let app_token = raw
            .app_token
            .as_deref()
            .map(|t| token(section, "app_token", t, "xapp-", "an app-level token"))
            .transpose()?;
        let signing_secret = raw
            .signing_secret
            .as_deref()
            .map(|t| token(section, "signing_secret", t, "", ""))
            .transpose()?;
        match raw.mode {
            Mode::Socket if app_token.is_none() => {
                return Err(ConfigProblem::new(
                    section,
                    "app_token",
                    "is required in Socket Mode (an `xapp-…` token with `connections:write`), or set `mode = \"events\"`",
                ));
            }
            Mode::Events if signing_secret.is_none() => {
                return Err(ConfigProblem::new(
                    section,
                    "signing_secret",
                    "is required with `mode = \"events\"` (Basic Information → Signing Secret)",
                ));
            }
            _ => {}
        }
        let api_url = match raw
            .api_url
            .map(|s| s.trim().trim_end_matches('/').to_owned())
        {
            None => SLACK_API_URL.to_owned(),
            Some(s) if s.starts_with("http://") || s.starts_with("https://") => s,
            Some(_) => {
                return Err(ConfigProblem::new(
                    section,
                    "api_url",
                    "must be an http:// or https:// address, e.g. `https://slack.com/api`",
                ));
            }
        };
        let slash_command = raw.slash_command.trim().trim_start_matches('/').to_owned();
        if !slash_command.is_empty()
            && (slash_command.chars().count() > 32
                || !slash_command
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(ConfigProblem::new(
                section,
                "slash_command",
                "must be 1-32 letters, digits, `-` or `_` (or empty to disable)",
            ));
        }
        Ok(Self {
            bot_token,
            app_token,
            signing_secret,
            mode: raw.mode,
            api_url,
            slash_command,
            ignore_bots: raw.ignore_bots,
            request_timeout: Duration::from_millis(raw.request_timeout_ms.max(1_000)),
            user_cache: Duration::from_secs(raw.user_cache_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parse(text: &str) -> Result<SlackConfig, ConfigProblem> {
        SlackConfig::parse("slack", &toml::from_str::<toml::Value>(text).unwrap())
    }

    #[test]
    fn socket_mode_is_the_default() {
        let c = parse("bot_token = \"xoxb-1\"\napp_token = \"xapp-1\"").unwrap();
        assert_eq!(c.mode, Mode::Socket);
        assert_eq!(c.api_url, SLACK_API_URL);
        assert_eq!(c.slash_command, "ferrbot");
        assert!(c.ignore_bots);
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("bot_token = \"xoxb-1\"").unwrap_err();
        assert!(e.to_string().contains("backends.slack.app_token"), "{e}");
        let e = parse("bot_token = \"xoxb-1\"\nmode = \"events\"").unwrap_err();
        assert!(e.to_string().contains("signing_secret"), "{e}");
        let e = parse("bot_token = \"xapp-oops\"\napp_token = \"xapp-1\"").unwrap_err();
        assert!(e.to_string().contains("bot_token"), "{e}");
        assert!(!e.to_string().contains("oops"), "{e}");
        let e =
            parse("bot_token = \"xoxb-1\"\napp_token = \"xapp-1\"\nmode = \"push\"").unwrap_err();
        assert!(
            e.to_string().contains("push") || e.to_string().contains("mode"),
            "{e}"
        );
        let e = parse("bot_token = \"xoxb-1\"\napp_token = \"xapp-1\"\nbogus = 1").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = parse("bot_token = \"xoxb-1\"\napp_token = \"xapp-1\"\napi_url = \"slack.com\"")
            .unwrap_err();
        assert!(e.to_string().contains("api_url"), "{e}");
        let e = parse("bot_token = \"xoxb-1\"\napp_token = \"xapp-1\"\nslash_command = \"a b\"")
            .unwrap_err();
        assert!(e.to_string().contains("slash_command"), "{e}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = parse(
            "bot_token = \"xoxb-topsecret\"\napp_token = \"xapp-hidden\"\nsigning_secret = \"shh123\"",
        )
        .unwrap();
        let text = format!("{c:?}");
        for s in ["topsecret", "hidden", "shh123"] {
            assert!(!text.contains(s), "{text}");
        }
        assert!(text.contains("[redacted]"));
        assert_eq!(c.bot_token.to_string(), "[redacted]");
    }
}
