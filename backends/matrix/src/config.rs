//! `[backends.<name>]` for Matrix: parsing and validation.
//!
//! The password and the access token are plain strings here (the daemon resolves `secret:` and
//! `env:` references first). They are never logged: [`MatrixConfig`]'s `Debug` prints
//! `[redacted]` in their place, and no error message quotes them.

use std::fmt;
use std::time::Duration;

use ferrbot::config::duration;
use serde::Deserialize;

/// How the bot logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Log in with the account's password; the access token this gives is cached in the
    /// backend's store and reused on the next start.
    Password(String),
    /// Use an access token obtained elsewhere (it already belongs to a device).
    AccessToken(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password([redacted])"),
            Self::AccessToken(_) => f.write_str("AccessToken([redacted])"),
        }
    }
}

/// The raw section, as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    homeserver: String,
    user_id: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default = "default_device_name")]
    device_name: String,
    #[serde(default = "default_true")]
    auto_join: bool,
    #[serde(default)]
    auto_join_from: Option<Vec<String>>,
    #[serde(default)]
    auto_join_rooms: Vec<String>,
    #[serde(default = "default_reconnect_min", with = "duration")]
    reconnect_min: Duration,
    #[serde(default = "default_reconnect_max", with = "duration")]
    reconnect_max: Duration,
    #[serde(default = "default_send_wait", with = "duration")]
    send_wait: Duration,
    #[serde(default = "default_max_event_age", with = "duration")]
    max_event_age: Duration,
    #[serde(default = "default_request_timeout", with = "duration")]
    request_timeout: Duration,
    #[serde(default = "default_max_message_len")]
    max_message_len: usize,
    #[serde(default = "default_true")]
    encrypted_room_notice: bool,
}

fn default_true() -> bool {
    true
}
fn default_device_name() -> String {
    "ferrbot".to_owned()
}
fn default_reconnect_min() -> Duration {
    Duration::from_secs(1)
}
fn default_reconnect_max() -> Duration {
    Duration::from_secs(60)
}
fn default_send_wait() -> Duration {
    Duration::from_secs(300)
}
fn default_max_event_age() -> Duration {
    Duration::from_secs(300)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_message_len() -> usize {
    DEFAULT_MAX_MESSAGE_LEN
}

/// The default longest message body, in characters (longer messages are split).
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 16_000;

/// A validated `[backends.<name>]` section for Matrix.
#[derive(Clone)]
pub struct MatrixConfig {
    /// The homeserver's client-server API base URL (`https://matrix.example.org`).
    pub homeserver: String,
    /// The bot's full user id (`@ferrbot:example.org`).
    pub user_id: String,
    /// Password or access token.
    pub credentials: Credentials,
    /// The device to log in as. When absent, the device of the first login is kept in the
    /// backend's store and reused, so restarts do not pile up devices.
    pub device_id: Option<String>,
    /// The profile display name to set on connect (left alone when absent).
    pub display_name: Option<String>,
    /// The display name of a device created by a password login.
    pub device_name: String,
    /// Whether to act on invites at all (join or decline).
    pub auto_join: bool,
    /// Inviters whose invites are accepted: globs over Matrix user ids (`@*:example.org`).
    /// Defaults to every user of the bot's own server.
    pub auto_join_from: Vec<String>,
    /// Rooms whose invites are accepted whoever invites: globs over room ids and aliases.
    pub auto_join_rooms: Vec<String>,
    /// The first wait before reconnecting to the homeserver.
    pub reconnect_min: Duration,
    /// The longest wait between reconnection attempts.
    pub reconnect_max: Duration,
    /// How long a send waits for a homeserver that is down before it fails, counted from the
    /// start of the outage.
    pub send_wait: Duration,
    /// Messages older than this when they arrive (after a restart or a long outage) are not
    /// treated as commands.
    pub max_event_age: Duration,
    /// The timeout of one request (the sync long-poll adds its own 30 s).
    pub request_timeout: Duration,
    /// The longest message body in characters; longer messages are split.
    pub max_message_len: usize,
    /// Tell people once per room that the bot cannot read encrypted messages.
    pub encrypted_room_notice: bool,
}

impl fmt::Debug for MatrixConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatrixConfig")
            .field("homeserver", &self.homeserver)
            .field("user_id", &self.user_id)
            .field("credentials", &self.credentials)
            .field("device_id", &self.device_id)
            .field("display_name", &self.display_name)
            .field("device_name", &self.device_name)
            .field("auto_join", &self.auto_join)
            .field("auto_join_from", &self.auto_join_from)
            .field("auto_join_rooms", &self.auto_join_rooms)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("send_wait", &self.send_wait)
            .field("max_event_age", &self.max_event_age)
            .field("request_timeout", &self.request_timeout)
            .field("max_message_len", &self.max_message_len)
            .field("encrypted_room_notice", &self.encrypted_room_notice)
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

/// The server name of a Matrix id (`example.org` in `@bot:example.org`).
pub fn server_name(id: &str) -> Option<&str> {
    id.split_once(':').map(|(_, server)| server)
}

/// A plausible Matrix user id: `@local:server`, no whitespace.
fn is_user_id(s: &str) -> bool {
    s.starts_with('@')
        && s.len() > 3
        && s.split_once(':')
            .is_some_and(|(local, server)| local.len() > 1 && !server.is_empty())
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl MatrixConfig {
    /// Parses and validates the section of backend instance `section` (its name).
    ///
    /// # Errors
    /// When a key is missing, unknown or invalid; the message names the key.
    pub fn parse(section: &str, value: &toml::Value) -> Result<Self, ConfigProblem> {
        let raw: RawConfig = value
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ConfigProblem::new(section, "", e.message()))?;
        let problem = |key: &str, message: &str| ConfigProblem::new(section, key, message);

        let homeserver = raw.homeserver.trim().trim_end_matches('/').to_owned();
        if !(homeserver.starts_with("https://") || homeserver.starts_with("http://"))
            || homeserver.len() <= "https://".len()
            || homeserver.contains(char::is_whitespace)
        {
            return Err(problem(
                "homeserver",
                "must be the homeserver's address, e.g. `https://matrix.example.org`",
            ));
        }

        let user_id = raw.user_id.trim().to_owned();
        if !is_user_id(&user_id) {
            return Err(problem(
                "user_id",
                "must be a full Matrix user id, e.g. `@ferrbot:example.org`",
            ));
        }

        let credentials = match (non_empty(raw.password), non_empty(raw.access_token)) {
            (Some(_), Some(_)) => {
                return Err(problem(
                    "access_token",
                    "set either `password` or `access_token`, not both",
                ));
            }
            (Some(p), None) => Credentials::Password(p),
            (None, Some(t)) => {
                if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(problem(
                        "access_token",
                        "must not contain spaces or control characters",
                    ));
                }
                Credentials::AccessToken(t)
            }
            (None, None) => {
                return Err(problem(
                    "password",
                    "is required (or `access_token`); use a `secret:` or `env:` reference",
                ));
            }
        };

        let device_id = non_empty(raw.device_id);
        if let Some(d) = &device_id
            && (d.len() > 255 || d.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(problem(
                "device_id",
                "must be a short id without spaces, e.g. `FERRBOT`",
            ));
        }

        let auto_join_from = match raw.auto_join_from {
            Some(list) => list.into_iter().map(|p| p.trim().to_owned()).collect(),
            None => server_name(&user_id)
                .map(|s| vec![format!("@*:{s}")])
                .unwrap_or_default(),
        };
        for p in &auto_join_from {
            if !p.starts_with('@') {
                return Err(problem(
                    "auto_join_from",
                    "entries are user id globs starting with `@`, e.g. `@*:example.org`",
                ));
            }
        }
        let auto_join_rooms: Vec<String> = raw
            .auto_join_rooms
            .into_iter()
            .map(|p| p.trim().to_owned())
            .collect();
        for p in &auto_join_rooms {
            if !(p.starts_with('!') || p.starts_with('#')) {
                return Err(problem(
                    "auto_join_rooms",
                    "entries are room id (`!…`) or alias (`#…`) globs, e.g. `#ops:example.org`",
                ));
            }
        }

        if raw.reconnect_min.is_zero() {
            return Err(problem("reconnect_min", "must be more than 0"));
        }
        if raw.reconnect_max < raw.reconnect_min {
            return Err(problem(
                "reconnect_max",
                "must not be shorter than `reconnect_min`",
            ));
        }
        if raw.request_timeout < Duration::from_secs(1) {
            return Err(problem("request_timeout", "must be at least 1s"));
        }
        if !(1_000..=32_000).contains(&raw.max_message_len) {
            return Err(problem(
                "max_message_len",
                "must be between 1000 and 32000 characters",
            ));
        }

        Ok(Self {
            homeserver,
            user_id,
            credentials,
            device_id,
            display_name: non_empty(raw.display_name),
            device_name: raw.device_name.trim().to_owned(),
            auto_join: raw.auto_join,
            auto_join_from,
            auto_join_rooms,
            reconnect_min: raw.reconnect_min,
            reconnect_max: raw.reconnect_max,
            send_wait: raw.send_wait,
            max_event_age: raw.max_event_age,
            request_timeout: raw.request_timeout,
            max_message_len: raw.max_message_len,
            encrypted_room_notice: raw.encrypted_room_notice,
        })
    }

    /// Whether an invite from `inviter` to a room with this id and aliases may be accepted.
    pub fn may_join(&self, inviter: &str, room_id: &str, aliases: &[String]) -> bool {
        if !self.auto_join {
            return false;
        }
        self.auto_join_from.iter().any(|p| glob(p, inviter))
            || self
                .auto_join_rooms
                .iter()
                .any(|p| glob(p, room_id) || aliases.iter().any(|a| glob(p, a)))
    }
}

/// Matches `text` against a glob where `*` is any run of characters and `?` any one character.
/// Matrix ids are case-sensitive, so the match is too.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parse(text: &str) -> Result<MatrixConfig, ConfigProblem> {
        MatrixConfig::parse("matrix", &toml::from_str::<toml::Value>(text).unwrap())
    }

    const BASE: &str =
        "homeserver = \"https://matrix.example.org/\"\nuser_id = \"@bot:example.org\"\n";

    #[test]
    fn minimal_section_has_sane_defaults() {
        let c = parse(&format!("{BASE}password = \"pw\"")).unwrap();
        assert_eq!(c.homeserver, "https://matrix.example.org");
        assert_eq!(c.credentials, Credentials::Password("pw".into()));
        assert_eq!(c.auto_join_from, vec!["@*:example.org".to_owned()]);
        assert!(c.auto_join);
        assert_eq!(c.device_id, None);
        assert_eq!(c.reconnect_min, Duration::from_secs(1));
        assert_eq!(c.reconnect_max, Duration::from_secs(60));
        assert_eq!(c.send_wait, Duration::from_secs(300));
        assert_eq!(c.max_message_len, DEFAULT_MAX_MESSAGE_LEN);
    }

    #[test]
    fn durations_and_lists_are_read() {
        let c = parse(&format!(
            "{BASE}access_token = \"syt_abc\"\ndevice_id = \"FERRBOT\"\nreconnect_min = \"500ms\"\n\
             reconnect_max = \"2m\"\nsend_wait = 60\nauto_join_from = [\"@alice:other.org\"]\n\
             auto_join_rooms = [\"#ops:example.org\"]"
        ))
        .unwrap();
        assert_eq!(c.credentials, Credentials::AccessToken("syt_abc".into()));
        assert_eq!(c.device_id.as_deref(), Some("FERRBOT"));
        assert_eq!(c.reconnect_min, Duration::from_millis(500));
        assert_eq!(c.reconnect_max, Duration::from_secs(120));
        assert_eq!(c.send_wait, Duration::from_secs(60));
        assert!(c.may_join("@alice:other.org", "!x:example.org", &[]));
        assert!(!c.may_join("@bob:example.org", "!x:example.org", &[]));
        assert!(c.may_join(
            "@eve:evil.org",
            "!y:example.org",
            &["#ops:example.org".into()]
        ));
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &str)] = &[
            ("user_id = \"@b:x\"\npassword = \"p\"", "homeserver"),
            (
                "homeserver = \"matrix.org\"\nuser_id = \"@b:x\"\npassword = \"p\"",
                "homeserver",
            ),
            (
                "homeserver = \"https://m\"\nuser_id = \"bot\"\npassword = \"p\"",
                "user_id",
            ),
            ("homeserver = \"https://m\"\nuser_id = \"@b:x\"", "password"),
            (
                "homeserver = \"https://m\"\nuser_id = \"@b:x\"\npassword = \"p\"\naccess_token = \"t\"",
                "access_token",
            ),
            (
                "homeserver = \"https://m\"\nuser_id = \"@b:x\"\npassword = \"p\"\nreconnect_max = \"1ms\"",
                "reconnect_max",
            ),
            (
                "homeserver = \"https://m\"\nuser_id = \"@b:x\"\npassword = \"p\"\nmax_message_len = 10",
                "max_message_len",
            ),
            (
                "homeserver = \"https://m\"\nuser_id = \"@b:x\"\npassword = \"p\"\nauto_join_from = [\"*\"]",
                "auto_join_from",
            ),
            (
                "homeserver = \"https://m\"\nuser_id = \"@b:x\"\npassword = \"p\"\nauto_join_rooms = [\"ops\"]",
                "auto_join_rooms",
            ),
            (
                "homeserver = \"https://m\"\nuser_id = \"@b:x\"\npassword = \"p\"\nbogus = 1",
                "bogus",
            ),
            (
                "homeserver = \"https://m\"\nuser_id = \"@b:x\"\npassword = \"p\"\nsend_wait = \"soon\"",
                "soon",
            ),
        ];
        for (text, key) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text:?} → {e}");
            assert!(e.contains("backends.matrix"), "{e}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = parse(&format!("{BASE}password = \"hunter2\"")).unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("[redacted]"));
        let c = parse(&format!("{BASE}access_token = \"syt_secret\"")).unwrap();
        assert!(!format!("{c:?}").contains("syt_secret"));
    }

    #[test]
    fn globs_match_matrix_ids() {
        for (pattern, text, want) in [
            ("@*:example.org", "@alice:example.org", true),
            ("@*:example.org", "@alice:example.org.evil", false),
            ("@alice:*", "@alice:x", true),
            ("@a?ice:x", "@alice:x", true),
            ("#ops-*:x", "#ops-eu:x", true),
            ("#ops-*:x", "#dev:x", false),
            ("*", "", true),
            ("@Alice:x", "@alice:x", false),
        ] {
            assert_eq!(glob(pattern, text), want, "{pattern} ~ {text}");
        }
    }
}
