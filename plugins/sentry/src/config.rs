//! `[plugins.sentry]`: the config section, read leniently nowhere — every key is checked and
//! every problem names the key at fault.
//!
//! Secrets and tokens arrive as plain strings: the daemon resolves `secret:` and `env:`
//! references before the plugin sees the section.

use std::time::Duration;

use ferrbot::error::ConfigError;
use ferrbot::id::{RoomId, UserId};
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::ipallow::IpPolicy;
use crate::verify::{Secret, token_digest};

/// Where Sentry's SaaS sends webhooks from, as published on Sentry's "IP Ranges" page
/// (docs.sentry.io → Security → IP Ranges → "Outbound Requests"; the same list is served
/// as JSON at `docs.sentry.io/api/ip-ranges`). US data storage location first, then EU.
/// These addresses are shared by every Sentry customer: allowing them proves that a request
/// came from Sentry, not that it came from *your* Sentry organisation.
pub const SENTRY_WEBHOOK_SOURCES: &[&str] = &[
    // US data storage location
    "35.184.238.160/32",
    "104.155.159.182/32",
    "104.155.149.19/32",
    "130.211.230.102/32",
    // EU data storage location
    "34.141.31.19/32",
    "34.141.4.162/32",
    "35.234.78.236/32",
];

/// Proxies trusted to set `X-Forwarded-For` by default: the local host, where ferrbot's
/// reverse proxy runs in the recommended setup.
pub const DEFAULT_TRUSTED_PROXIES: &[&str] = &["127.0.0.1/32", "::1/128"];

/// Tags shown on cards by default, in this order (environment, release and level have their
/// own fields).
pub const DEFAULT_TAGS: &[&str] = &[
    "transaction",
    "server_name",
    "browser",
    "os",
    "runtime",
    "device",
    "handled",
    "url",
];

fn default_sentry_url() -> String {
    "https://sentry.io".to_owned()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    public_url: Option<String>,
    #[serde(default = "default_sentry_url")]
    sentry_url: String,
    authorizers: Vec<String>,
    routes: Vec<RawRoute>,
    storm: RawStorm,
    compat: RawCompat,
    ip_allow: RawIpAllow,
    mentions: RawMentions,
    format: RawFormat,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: String,
    room: String,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    tokens: Vec<String>,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    mention: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStorm {
    #[serde(with = "ferrbot::config::duration")]
    window: Duration,
    #[serde(with = "ferrbot::config::duration")]
    update_interval: Duration,
    #[serde(with = "ferrbot::config::duration")]
    note_interval: Duration,
}

impl Default for RawStorm {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(600),
            update_interval: Duration::from_secs(10),
            note_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawCompat {
    enabled: bool,
    backend: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawIpAllow {
    cidrs: Vec<String>,
    all_routes: bool,
    trusted_proxies: Vec<String>,
    assumed_peer: String,
}

impl Default for RawIpAllow {
    fn default() -> Self {
        Self {
            cidrs: SENTRY_WEBHOOK_SOURCES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            all_routes: false,
            trusted_proxies: DEFAULT_TRUSTED_PROXIES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            assumed_peer: "127.0.0.1".to_owned(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMentions {
    policy: MentionPolicy,
    max: usize,
}

impl Default for RawMentions {
    fn default() -> Self {
        Self {
            policy: MentionPolicy::Alerts,
            max: 20,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFormat {
    tags: Vec<String>,
    max_tags: usize,
    message_max_chars: usize,
}

impl Default for RawFormat {
    fn default() -> Self {
        Self {
            tags: DEFAULT_TAGS.iter().map(|s| (*s).to_owned()).collect(),
            max_tags: 4,
            message_max_chars: 1000,
        }
    }
}

/// When subscribers of a project are mentioned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MentionPolicy {
    /// On alert cards (new issues, alert rules, errors, metric alerts), not on follow-ups.
    #[default]
    Alerts,
    /// On alert cards and on follow-ups (resolved, assigned, ignored, comments).
    All,
    /// Never.
    Off,
}

/// A route declared in config.
#[derive(Clone, Debug)]
pub struct ConfigRoute {
    /// The route's name: the last part of its URL.
    pub name: String,
    /// Where its alerts go.
    pub room: RoomId,
    /// Client secrets that sign its requests (several during a rotation).
    pub secrets: Vec<Secret>,
    /// Digests of the tokens accepted in its URL.
    pub token_digests: Vec<String>,
    /// The Sentry organisation slug, for links when a payload has none.
    pub organization: Option<String>,
    /// Users mentioned on every alert of this route.
    pub mention: Vec<UserId>,
}

/// Storm control settings.
#[derive(Clone, Copy, Debug)]
pub struct StormSettings {
    /// Repeats of an issue within this time of its card are folded into that card.
    pub window: Duration,
    /// The least time between two edits of a card.
    pub update_interval: Duration,
    /// The least time between two "×N" notes, where cards cannot be edited.
    pub note_interval: Duration,
}

/// The Sentry Bot compatibility route.
#[derive(Clone, Debug, Default)]
pub struct CompatSettings {
    /// Served at all.
    pub enabled: bool,
    /// The backend of bare ids in `?id=` and `&mention=`.
    pub backend: Option<String>,
}

/// Card formatting.
#[derive(Clone, Debug)]
pub struct FormatSettings {
    /// Tag keys shown, in order.
    pub tags: Vec<String>,
    /// At most this many tags.
    pub max_tags: usize,
    /// The event message is cut to this many characters (and to the backend's limit).
    pub message_max_chars: usize,
}

/// The validated `[plugins.sentry]` section.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The bot's public base URL (`https://bot.example.com`), without a trailing slash.
    pub public_url: Option<String>,
    /// Sentry's web address, for links built from an organisation and an issue id.
    pub sentry_url: String,
    /// Users (globs over ids) who may authorize and revoke rooms besides bot admins.
    pub authorizers: Vec<String>,
    authorizer_set: GlobSet,
    /// Routes declared in config.
    pub routes: Vec<ConfigRoute>,
    /// Storm control.
    pub storm: StormSettings,
    /// The compatibility route.
    pub compat: CompatSettings,
    /// Source address checks.
    pub ip: IpPolicy,
    /// Apply the allow list to every route, not only the compatibility route.
    pub ip_all_routes: bool,
    /// When subscribers are mentioned.
    pub mention_policy: MentionPolicy,
    /// At most this many mentions per message.
    pub max_mentions: usize,
    /// Card formatting.
    pub format: FormatSettings,
}

fn err(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(format!("`{key}`: {message}"))
}

/// A serde error, prefixed with the key it is about (toml reports it as "in `storm.window`").
fn toml_error(e: toml::de::Error) -> ConfigError {
    let display = e.to_string();
    let path = display.lines().find_map(|l| {
        l.trim()
            .strip_prefix("in `")
            .and_then(|rest| rest.strip_suffix('`'))
    });
    match path {
        Some(path) => err(path, e.message().trim()),
        None => ConfigError::new(e.message().trim().to_owned()),
    }
}

fn is_reference(value: &str) -> bool {
    value.starts_with("secret:") || value.starts_with("env:")
}

/// True for a route name or project slug: lower-case letters, digits, `-` and `_`.
pub fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

fn http_url(key: &str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(trimmed.to_owned())
        }
        _ => Err(err(
            key,
            format!("`{value}` is not an http(s) URL (e.g. `https://bot.example.com`)"),
        )),
    }
}

impl Settings {
    /// Reads and checks a `[plugins.sentry]` section.
    ///
    /// # Errors
    /// When a key is unknown, has the wrong type or an invalid value; the message names it.
    pub fn from_value(value: toml::Value) -> Result<Self, ConfigError> {
        let raw: RawConfig = value.try_into().map_err(toml_error)?;
        let public_url = raw
            .public_url
            .as_deref()
            .map(|u| http_url("public_url", u))
            .transpose()?;
        let sentry_url = http_url("sentry_url", &raw.sentry_url)?;

        let mut builder = GlobSetBuilder::new();
        for (i, pattern) in raw.authorizers.iter().enumerate() {
            let glob = Glob::new(pattern)
                .map_err(|e| err(&format!("authorizers[{i}]"), e.kind().to_string()))?;
            builder.add(glob);
        }
        let authorizer_set = builder
            .build()
            .map_err(|e| err("authorizers", e.to_string()))?;

        let mut routes: Vec<ConfigRoute> = Vec::new();
        for (i, r) in raw.routes.into_iter().enumerate() {
            let key = |k: &str| format!("routes[{i}].{k}");
            if !is_slug(&r.name) {
                return Err(err(
                    &key("name"),
                    format!(
                        "`{}` is not a route name (lower-case letters, digits, `-` and `_`)",
                        r.name
                    ),
                ));
            }
            if routes.iter().any(|other| other.name == r.name) {
                return Err(err(
                    &key("name"),
                    format!("two routes are named `{}`", r.name),
                ));
            }
            let room: RoomId = r.room.parse().map_err(|e| err(&key("room"), e))?;
            let mut secrets = Vec::new();
            for (j, s) in r.secrets.iter().enumerate() {
                let k = format!("routes[{i}].secrets[{j}]");
                if s.trim().is_empty() {
                    return Err(err(&k, "is empty"));
                }
                if is_reference(s) {
                    return Err(err(
                        &k,
                        "is a reference that was not resolved (the daemon resolves `secret:` and `env:`)",
                    ));
                }
                secrets.push(Secret::new(s.trim().as_bytes()));
            }
            let mut token_digests = Vec::new();
            for (j, t) in r.tokens.iter().enumerate() {
                let k = format!("routes[{i}].tokens[{j}]");
                if is_reference(t) {
                    return Err(err(
                        &k,
                        "is a reference that was not resolved (the daemon resolves `secret:` and `env:`)",
                    ));
                }
                if t.len() < 24
                    || !t
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(err(
                        &k,
                        "must be at least 24 URL-safe characters (letters, digits, `-`, `_`); generate one with `openssl rand -hex 32`",
                    ));
                }
                token_digests.push(token_digest(t));
            }
            if secrets.is_empty() && token_digests.is_empty() {
                return Err(err(
                    &format!("routes[{i}]"),
                    "needs `secrets` (Integration Platform) or `tokens` (legacy webhooks), or both",
                ));
            }
            if let Some(org) = &r.organization
                && !is_slug(org)
            {
                return Err(err(
                    &key("organization"),
                    format!("`{org}` is not an organisation slug"),
                ));
            }
            let mut mention = Vec::new();
            for (j, m) in r.mention.iter().enumerate() {
                mention.push(
                    m.parse::<UserId>()
                        .map_err(|e| err(&format!("routes[{i}].mention[{j}]"), e))?,
                );
            }
            routes.push(ConfigRoute {
                name: r.name,
                room,
                secrets,
                token_digests,
                organization: r.organization,
                mention,
            });
        }

        if let Some(backend) = &raw.compat.backend
            && (backend.is_empty()
                || !backend
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(err(
                "compat.backend",
                format!("`{backend}` is not a backend name"),
            ));
        }

        let ip = IpPolicy::new(
            &raw.ip_allow.cidrs,
            &raw.ip_allow.trusted_proxies,
            &raw.ip_allow.assumed_peer,
        )
        .map_err(|e| err(&format!("ip_allow.{}", e.key), e.message))?;

        if raw.mentions.max == 0 && raw.mentions.policy != MentionPolicy::Off {
            return Err(err(
                "mentions.max",
                "must be at least 1 (set `policy = \"off\"` to mention nobody)",
            ));
        }
        if raw.format.message_max_chars < 40 {
            return Err(err("format.message_max_chars", "must be at least 40"));
        }
        for (i, tag) in raw.format.tags.iter().enumerate() {
            if tag.trim().is_empty() {
                return Err(err(&format!("format.tags[{i}]"), "is empty"));
            }
        }

        Ok(Self {
            public_url,
            sentry_url,
            authorizers: raw.authorizers,
            authorizer_set,
            routes,
            storm: StormSettings {
                window: raw.storm.window,
                update_interval: raw.storm.update_interval,
                note_interval: raw.storm.note_interval,
            },
            compat: CompatSettings {
                enabled: raw.compat.enabled,
                backend: raw.compat.backend,
            },
            ip,
            ip_all_routes: raw.ip_allow.all_routes,
            mention_policy: raw.mentions.policy,
            max_mentions: raw.mentions.max,
            format: FormatSettings {
                tags: raw.format.tags,
                max_tags: raw.format.max_tags,
                message_max_chars: raw.format.message_max_chars,
            },
        })
    }

    /// True when `user` is listed in `authorizers`.
    pub fn is_authorizer(&self, user: &UserId) -> bool {
        self.authorizer_set.is_match(user.to_string())
    }

    /// A config route by name.
    pub fn route(&self, name: &str) -> Option<&ConfigRoute> {
        self.routes.iter().find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_value(toml::from_str(text).unwrap())
    }

    #[test]
    fn an_empty_section_gets_safe_defaults() {
        let s = parse("").unwrap();
        assert!(!s.compat.enabled);
        assert!(s.routes.is_empty());
        assert_eq!(s.storm.window, Duration::from_secs(600));
        assert_eq!(s.sentry_url, "https://sentry.io");
        assert!(s.ip.allows("35.184.238.160".parse().unwrap()));
        assert!(s.ip.allows("34.141.4.162".parse().unwrap()));
        assert!(!s.ip.allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn problems_name_the_key() {
        let cases = [
            ("rooom = 1", "unknown field `rooom`"),
            ("public_url = \"bot.example.com\"", "`public_url`"),
            (
                "[[routes]]\nname = \"Bad Name\"\nroom = \"slack:C1\"\nsecrets = [\"x\"]",
                "`routes[0].name`",
            ),
            (
                "[[routes]]\nname = \"a\"\nroom = \"C1\"\nsecrets = [\"x\"]",
                "`routes[0].room`",
            ),
            (
                "[[routes]]\nname = \"a\"\nroom = \"slack:C1\"",
                "`routes[0]`: needs `secrets`",
            ),
            (
                "[[routes]]\nname = \"a\"\nroom = \"slack:C1\"\ntokens = [\"short\"]",
                "`routes[0].tokens[0]`",
            ),
            (
                "[[routes]]\nname = \"a\"\nroom = \"slack:C1\"\nsecrets = [\"env:X\"]",
                "`routes[0].secrets[0]`: is a reference",
            ),
            (
                "[ip_allow]\ncidrs = [\"10.0.0.0/33\"]",
                "`ip_allow.cidrs[0]`",
            ),
            (
                "[ip_allow]\ntrusted_proxies = [\"nope\"]",
                "`ip_allow.trusted_proxies[0]`",
            ),
            (
                "[storm]\nwindow = \"soon\"",
                "`storm.window`: `soon` is not a duration",
            ),
            ("[storm]\nwindw = 1", "`storm`: unknown field `windw`"),
            (
                "[compat]\nenabled = \"yes\"",
                "`compat.enabled`: invalid type",
            ),
            (
                "[mentions]\npolicy = \"loud\"",
                "`mentions.policy`: unknown variant `loud`",
            ),
            ("authorizers = [\"a[\"]", "`authorizers[0]`"),
        ];
        for (text, expected) in cases {
            let msg = parse(text).unwrap_err().message;
            assert!(msg.contains(expected), "{text:?} gave {msg:?}");
        }
    }

    #[test]
    fn routes_keep_several_secrets_and_hash_tokens() {
        let s = parse(
            "[[routes]]\nname = \"payments\"\nroom = \"slack:C1\"\nsecrets = [\"new\", \"old\"]\ntokens = [\"abcdefghijklmnopqrstuvwxyz\"]\nmention = [\"slack:U1\"]",
        )
        .unwrap();
        let r = s.route("payments").unwrap();
        assert_eq!(r.secrets.len(), 2);
        assert_eq!(r.token_digests.len(), 1);
        assert_ne!(r.token_digests[0], "abcdefghijklmnopqrstuvwxyz");
        assert_eq!(format!("{:?}", r.secrets[0]), "Secret([redacted])");
    }

    #[test]
    fn authorizers_are_globs_over_user_ids() {
        let s = parse("authorizers = [\"slack:U1\", \"matrix:@*:example.org\"]").unwrap();
        assert!(s.is_authorizer(&"slack:U1".parse().unwrap()));
        assert!(s.is_authorizer(&"matrix:@bob:example.org".parse().unwrap()));
        assert!(!s.is_authorizer(&"slack:U2".parse().unwrap()));
    }
}
