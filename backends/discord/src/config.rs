//! `[backends.<name>]` for Discord: parsing and validation.
//!
//! The token is a plain string here (the daemon resolves `secret:`/`env:` references first).
//! It is never logged: [`DiscordConfig`]'s `Debug` prints `[redacted]` in its place.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// What `create_room` creates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// A text channel in `guild_id` (under the category `room_parent`, if set).
    #[default]
    Channel,
    /// A thread in the channel `room_parent`.
    Thread,
}

/// A Discord snowflake written as a TOML string (`"80351110224678912"`) or integer.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Snowflake {
    Text(String),
    Number(i64),
}

/// The raw section, as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    token: String,
    #[serde(default)]
    application_id: Option<Snowflake>,
    #[serde(default)]
    api_base: Option<String>,
    #[serde(default)]
    guild_id: Option<Snowflake>,
    #[serde(default)]
    create_room: RoomKind,
    #[serde(default)]
    room_parent: Option<Snowflake>,
    #[serde(default = "default_slash")]
    slash_command: String,
    #[serde(default = "default_true")]
    register_commands: bool,
    #[serde(default = "default_true")]
    ignore_bots: bool,
    #[serde(default = "default_defer_ms")]
    defer_after_ms: u64,
    #[serde(default = "default_cleanup_ms")]
    deferred_cleanup_ms: u64,
    #[serde(default = "default_timeout_ms")]
    request_timeout_ms: u64,
}

fn default_slash() -> String {
    "ferrbot".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_defer_ms() -> u64 {
    2_000
}
fn default_cleanup_ms() -> u64 {
    15_000
}
fn default_timeout_ms() -> u64 {
    30_000
}

/// A validated `[backends.<name>]` section for Discord.
#[derive(Clone)]
pub struct DiscordConfig {
    /// The bot token (without the `Bot ` prefix).
    pub token: String,
    /// The application id; learnt from the gateway's READY when absent.
    pub application_id: Option<u64>,
    /// Where the REST API lives instead of `https://discord.com` (tests, API proxies); routes
    /// keep their `/api/v10/...` path. None for the real Discord.
    pub api_base: Option<String>,
    /// The guild slash commands are registered in (instantly) and channels are created in.
    /// Without it the slash command is registered globally.
    pub guild_id: Option<u64>,
    /// What `create_room` creates.
    pub create_room: RoomKind,
    /// The category for new channels, or the channel new threads start in.
    pub room_parent: Option<u64>,
    /// The name of the one slash command (`/ferrbot command:<line>`); empty disables it.
    pub slash_command: String,
    /// Whether to register the slash command on start.
    pub register_commands: bool,
    /// Ignore messages from other bots (the bot's own messages are always ignored).
    pub ignore_bots: bool,
    /// How long an interaction may go unanswered before it is deferred (Discord allows 3 s).
    pub defer_after: Duration,
    /// How long after a deferred command finished without a reply the "thinking…" response
    /// is removed.
    pub deferred_cleanup: Duration,
    /// The timeout of one REST request.
    pub request_timeout: Duration,
}

impl fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &"[redacted]")
            .field("application_id", &self.application_id)
            .field("api_base", &self.api_base)
            .field("guild_id", &self.guild_id)
            .field("create_room", &self.create_room)
            .field("room_parent", &self.room_parent)
            .field("slash_command", &self.slash_command)
            .field("register_commands", &self.register_commands)
            .field("ignore_bots", &self.ignore_bots)
            .field("defer_after", &self.defer_after)
            .field("deferred_cleanup", &self.deferred_cleanup)
            .field("request_timeout", &self.request_timeout)
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

fn snowflake(section: &str, key: &str, v: Option<Snowflake>) -> Result<Option<u64>, ConfigProblem> {
    let bad = || ConfigProblem::new(section, key, "must be a Discord id (a positive number)");
    match v {
        None => Ok(None),
        Some(Snowflake::Number(n)) => u64::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(bad),
        Some(Snowflake::Text(s)) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(bad),
    }
}

impl DiscordConfig {
    /// Parses and validates the section of backend instance `section` (its name).
    ///
    /// # Errors
    /// When a key is missing, unknown or invalid; the message names the key.
    pub fn parse(section: &str, value: &toml::Value) -> Result<Self, ConfigProblem> {
        let raw: RawConfig = value
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ConfigProblem::new(section, "", e.message()))?;
        let token = raw.token.trim();
        let token = token
            .strip_prefix("Bot ")
            .unwrap_or(token)
            .trim()
            .to_owned();
        if token.is_empty() {
            return Err(ConfigProblem::new(section, "token", "must not be empty"));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigProblem::new(
                section,
                "token",
                "must not contain spaces or control characters",
            ));
        }
        let api_base = match raw
            .api_base
            .map(|s| s.trim().trim_end_matches('/').to_owned())
        {
            None => None,
            Some(s) if s.starts_with("http://") || s.starts_with("https://") => Some(s),
            Some(_) => {
                return Err(ConfigProblem::new(
                    section,
                    "api_base",
                    "must be an http:// or https:// address, e.g. `http://127.0.0.1:8080`",
                ));
            }
        };
        let slash_command = raw.slash_command.trim().to_owned();
        if !slash_command.is_empty()
            && (slash_command.chars().count() > 32
                || !slash_command
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
        {
            return Err(ConfigProblem::new(
                section,
                "slash_command",
                "must be 1-32 lower-case letters, digits, `-` or `_` (or empty to disable)",
            ));
        }
        if !(100..=2_800).contains(&raw.defer_after_ms) {
            return Err(ConfigProblem::new(
                section,
                "defer_after_ms",
                "must be between 100 and 2800 (Discord drops interactions unanswered after 3 s)",
            ));
        }
        let config = Self {
            token,
            application_id: snowflake(section, "application_id", raw.application_id)?,
            api_base,
            guild_id: snowflake(section, "guild_id", raw.guild_id)?,
            create_room: raw.create_room,
            room_parent: snowflake(section, "room_parent", raw.room_parent)?,
            slash_command,
            register_commands: raw.register_commands,
            ignore_bots: raw.ignore_bots,
            defer_after: Duration::from_millis(raw.defer_after_ms),
            deferred_cleanup: Duration::from_millis(raw.deferred_cleanup_ms),
            request_timeout: Duration::from_millis(raw.request_timeout_ms.max(1_000)),
        };
        if config.create_room == RoomKind::Thread && config.room_parent.is_none() {
            return Err(ConfigProblem::new(
                section,
                "room_parent",
                "is required when `create_room = \"thread\"` (the channel threads start in)",
            ));
        }
        Ok(config)
    }

    /// Whether `create_room` can work with this configuration.
    pub fn can_create_rooms(&self) -> bool {
        match self.create_room {
            RoomKind::Channel => self.guild_id.is_some(),
            RoomKind::Thread => self.room_parent.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parse(text: &str) -> Result<DiscordConfig, ConfigProblem> {
        DiscordConfig::parse("discord", &toml::from_str::<toml::Value>(text).unwrap())
    }

    #[test]
    fn minimal_section_has_sane_defaults() {
        let c = parse("token = \"Bot abc.def\"").unwrap();
        assert_eq!(c.token, "abc.def");
        assert_eq!(c.slash_command, "ferrbot");
        assert_eq!(c.create_room, RoomKind::Channel);
        assert!(!c.can_create_rooms());
        assert_eq!(c.defer_after, Duration::from_secs(2));
    }

    #[test]
    fn ids_may_be_strings_or_integers() {
        let c =
            parse("token = \"t\"\nguild_id = \"80351110224678912\"\napplication_id = 42").unwrap();
        assert_eq!(c.guild_id, Some(80_351_110_224_678_912));
        assert_eq!(c.application_id, Some(42));
        assert!(c.can_create_rooms());
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("token = \"t\"\nguild_id = \"general\"").unwrap_err();
        assert!(e.to_string().contains("backends.discord.guild_id"), "{e}");
        let e = parse("token = \"\"").unwrap_err();
        assert!(e.to_string().contains("backends.discord.token"), "{e}");
        let e = parse("token = \"t\"\ncreate_room = \"thread\"").unwrap_err();
        assert!(e.to_string().contains("room_parent"), "{e}");
        let e = parse("token = \"t\"\nbogus = 1").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = parse("guild_id = 1").unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
        let e = parse("token = \"t\"\napi_base = \"127.0.0.1:80\"").unwrap_err();
        assert!(e.to_string().contains("api_base"), "{e}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = parse("token = \"supersecret\"").unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("supersecret"), "{text}");
        assert!(text.contains("[redacted]"));
    }
}
