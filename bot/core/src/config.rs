//! The core's configuration sections: `[bot]`, `[[bot.acl]]`, `[web]`, `[outbox]`.
//!
//! The daemon reads the TOML file, applies environment overrides and resolves `env:` and
//! `secret:` references; these types are what it hands to the core. Every field has a safe
//! default and unknown keys are refused, so a typo is an error, not a silently ignored line.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::outbox::RetryPolicy;

/// `[bot]`: how the bot is addressed and who runs it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BotConfig {
    /// The command prefix (`!help`).
    pub prefix: String,
    /// Other accepted prefixes (e.g. `.` or `ferrbot `).
    pub alt_prefixes: Vec<String>,
    /// Names the bot answers to as `@name …`, `name: …` or `name, …` in rooms.
    pub names: Vec<String>,
    /// Bot admins: user ids or glob patterns (`slack:U024BE7LH`, `matrix:@*:example.org`).
    pub admins: Vec<String>,
    /// How long a command may run before the caller is told it timed out.
    #[serde(with = "duration")]
    pub command_timeout: Duration,
    /// Answer unknown commands with "did you mean …" (otherwise stay silent).
    pub suggest_unknown: bool,
    /// Access rules, first match wins.
    pub acl: Vec<AclRule>,
    /// How many events may wait for the dispatcher before backends are slowed down.
    pub inbox_capacity: usize,
    /// How many commands may run at once; more wait (and, once the inbox is full, slow the
    /// backends down) instead of piling up.
    pub max_concurrent_commands: usize,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            prefix: "!".to_owned(),
            alt_prefixes: Vec::new(),
            names: vec!["ferrbot".to_owned()],
            admins: Vec::new(),
            command_timeout: Duration::from_secs(60),
            suggest_unknown: true,
            acl: Vec::new(),
            inbox_capacity: 1024,
            max_concurrent_commands: 256,
        }
    }
}

/// One access rule (`[[bot.acl]]`), in the spirit of Errbot's `ACCESS_CONTROLS`.
///
/// The first rule whose `commands` glob matches a command decides. Within it, a user or room
/// matching a `deny_*` list is refused; when an `allow_*` list is non-empty, only what matches
/// it is allowed. Patterns are globs over backend-qualified ids (`slack:*`). Bot admins are not
/// bound by these rules.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AclRule {
    /// Command globs this rule covers (`incident *`, `st2*`, `plugins`); `*` covers all.
    pub commands: Vec<String>,
    /// Users allowed (empty: everyone not denied).
    pub allow_users: Vec<String>,
    /// Users refused.
    pub deny_users: Vec<String>,
    /// Rooms allowed (empty: every room not denied).
    pub allow_rooms: Vec<String>,
    /// Rooms refused.
    pub deny_rooms: Vec<String>,
    /// Whether the commands may run in direct messages.
    pub allow_direct: Option<bool>,
    /// Whether the commands may run in rooms (as opposed to direct messages).
    pub allow_rooms_at_all: Option<bool>,
}

/// `[web]`: the HTTP server for health, metrics and plugin routes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve HTTP at all.
    pub enabled: bool,
    /// Where to listen. Loopback by default; put a reverse proxy with TLS in front.
    pub listen: SocketAddr,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// How long a request may take.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// `[outbox]`: delivery retries and shutdown flushing.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Retries.
    #[serde(flatten)]
    pub retry: RetryPolicy,
    /// How long shutdown waits for queued messages.
    #[serde(with = "duration")]
    pub flush_timeout: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            flush_timeout: Duration::from_secs(30),
        }
    }
}

/// Serde helpers for durations written as `"90s"`, `"5m"`, `"1h 30m"`, `"250ms"` or a number of
/// seconds.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Parses a human duration (`90s`, `5m`, `1h 30m`, `250ms`, `2 days`).
    ///
    /// # Errors
    /// When the text is not a duration or is negative.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        let signed: jiff::SignedDuration = text
            .parse()
            .map_err(|_| format!("`{text}` is not a duration (try `90s`, `5m` or `1h 30m`)"))?;
        Duration::try_from(signed).map_err(|_| format!("`{text}` is negative"))
    }

    /// Formats a duration the way [`parse`] reads it.
    pub fn format(d: Duration) -> String {
        match jiff::SignedDuration::try_from(d) {
            Ok(sd) => format!("{sd:#}"),
            Err(_) => format!("{}s", d.as_secs()),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }

    /// Deserialises a duration.
    ///
    /// # Errors
    /// When the value is not a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
        }
    }

    /// Serialises a duration as text.
    ///
    /// # Errors
    /// Never, beyond the serializer's own.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_human_durations() {
            assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
            assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
            assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
            assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
            assert_eq!(parse("12"), Ok(Duration::from_secs(12)));
            assert!(parse("soon").unwrap_err().contains("not a duration"));
        }
    }
}
