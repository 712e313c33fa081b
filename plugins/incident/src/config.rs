//! The `[plugins.incident]` section, validated at start-up.
//!
//! ```toml
//! [plugins.incident]
//! severities = ["critical", "major", "minor", "trivial", "info"]  # level 1 first
//! edit_policy = "responders"        # responders | participants | anyone
//! roles = ["lead", "deputy", "scribe", "comms"]
//! timezone = "Europe/Oslo"          # shown next to UTC in replies and reports
//! ack_default_expiry = "30m"        # empty or absent: acks last until resolved
//! create_room = "sev<=2"            # always | sev<=N | on_demand (not acted on yet)
//! announce_room = "slack:C0123"     # not acted on yet
//! report_room = "slack:C0456"       # not acted on yet
//! ```

use ferrbot::error::ConfigError;
use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::auto::placement::RoomMode;
use crate::model::SeverityScale;
use crate::policy::EditPolicy;
use crate::util::time::parse_duration;

/// Role aliases accepted in commands.
pub const ROLE_ALIASES: &[(&str, &str)] =
    &[("ic", "lead"), ("commander", "lead"), ("liaison", "comms")];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    severities: Vec<String>,
    edit_policy: String,
    roles: Vec<String>,
    timezone: Option<String>,
    ack_default_expiry: Option<String>,
    create_room: String,
    announce_room: Option<String>,
    report_room: Option<String>,
}

impl Default for Raw {
    fn default() -> Self {
        Self {
            severities: ["critical", "major", "minor", "trivial", "info"]
                .map(String::from)
                .to_vec(),
            edit_policy: "responders".into(),
            roles: ["lead", "deputy", "scribe", "comms"]
                .map(String::from)
                .to_vec(),
            timezone: None,
            ack_default_expiry: None,
            create_room: "on_demand".into(),
            announce_room: None,
            report_room: None,
        }
    }
}

/// The validated config.
#[derive(Clone, Debug)]
pub struct Config {
    /// Severity levels.
    pub severities: SeverityScale,
    /// Who may change incidents.
    pub edit_policy: EditPolicy,
    /// Role names (lowercase; always contains `lead`).
    pub roles: Vec<String>,
    /// The time zone shown next to UTC (None: UTC only).
    pub timezone: Option<TimeZone>,
    /// How long an `ack` without a duration lasts (None: until resolved).
    pub ack_default_expiry: Option<SignedDuration>,
    /// When incidents get rooms (stored for the automation; not acted on yet).
    pub create_room: RoomMode,
    /// The announce room (not acted on yet).
    pub announce_room: Option<String>,
    /// The report room (not acted on yet).
    pub report_room: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        // The defaults always validate.
        Self::from_raw(Raw::default()).unwrap_or_else(|_| Self {
            severities: SeverityScale::default(),
            edit_policy: EditPolicy::Responders,
            roles: vec!["lead".into()],
            timezone: None,
            ack_default_expiry: None,
            create_room: RoomMode::OnDemand,
            announce_room: None,
            report_room: None,
        })
    }
}

fn err(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(format!("[plugins.incident] {key}: {message}"))
}

impl Config {
    /// Validates the section.
    ///
    /// # Errors
    /// When a key is unknown or a value is invalid; the message names the key.
    pub fn from_value(value: toml::Value) -> Result<Self, ConfigError> {
        let raw: Raw = value
            .try_into()
            .map_err(|e: toml::de::Error| err("section", e.message()))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> Result<Self, ConfigError> {
        if raw.severities.is_empty() || raw.severities.len() > 9 {
            return Err(err(
                "severities",
                "give 1 to 9 level names, most severe first",
            ));
        }
        for name in &raw.severities {
            let n = name.trim();
            if n.is_empty()
                || n.starts_with(|c: char| c.is_ascii_digit())
                || n.to_lowercase().starts_with("sev")
            {
                return Err(err(
                    "severities",
                    format!(
                        "`{name}` is not a usable level name (not empty, not starting with a digit or `sev`)"
                    ),
                ));
            }
        }
        let edit_policy = match raw.edit_policy.as_str() {
            "responders" => EditPolicy::Responders,
            "participants" => EditPolicy::Participants,
            "anyone" => EditPolicy::Anyone,
            other => {
                return Err(err(
                    "edit_policy",
                    format!("`{other}` is not one of responders, participants, anyone"),
                ));
            }
        };
        let mut roles: Vec<String> = raw.roles.iter().map(|r| r.trim().to_lowercase()).collect();
        if let Some(bad) = roles.iter().find(|r| {
            r.is_empty()
                || !r
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
        }) {
            return Err(err(
                "roles",
                format!("`{bad}` is not a role name (a-z, _ and -)"),
            ));
        }
        if !roles.iter().any(|r| r == "lead") {
            roles.insert(0, "lead".into());
        }
        let timezone = match raw.timezone.as_deref().map(str::trim) {
            None | Some("") | Some("UTC") => None,
            Some(name) => {
                Some(TimeZone::get(name).map_err(|e| err("timezone", format!("`{name}`: {e}")))?)
            }
        };
        let ack_default_expiry = match raw.ack_default_expiry.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_duration(text).map_err(|e| err("ack_default_expiry", e))?),
        };
        let create_room = match raw.create_room.trim() {
            "always" => RoomMode::Always,
            "on_demand" => RoomMode::OnDemand,
            other => match other
                .strip_prefix("sev<=")
                .and_then(|n| n.trim().parse::<u8>().ok())
            {
                Some(n) if n >= 1 && usize::from(n) <= raw.severities.len() => {
                    RoomMode::SeverityAtMost(n)
                }
                _ => {
                    return Err(err(
                        "create_room",
                        format!(
                            "`{other}` is not always, on_demand or sev<=N (N a configured level)"
                        ),
                    ));
                }
            },
        };
        Ok(Self {
            severities: SeverityScale::new(raw.severities),
            edit_policy,
            roles,
            timezone,
            ack_default_expiry,
            create_room,
            announce_room: raw.announce_room,
            report_room: raw.report_room,
        })
    }

    /// The canonical role for a typed name or alias, if configured.
    pub fn role(&self, text: &str) -> Option<String> {
        let t = text.trim().to_lowercase();
        let t = ROLE_ALIASES
            .iter()
            .find(|(alias, _)| *alias == t)
            .map_or(t.clone(), |(_, role)| (*role).to_owned());
        self.roles.iter().find(|r| **r == t).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<Config, ConfigError> {
        Config::from_value(toml::from_str(text).unwrap())
    }

    #[test]
    fn defaults_and_errors_name_the_key() {
        let c = cfg("").unwrap();
        assert_eq!(c.severities.len(), 5);
        assert_eq!(c.edit_policy, EditPolicy::Responders);
        assert_eq!(c.role("IC").as_deref(), Some("lead"));
        assert_eq!(c.role("liaison").as_deref(), Some("comms"));
        assert_eq!(c.role("pilot"), None);
        let e = cfg("edit_policy = \"everyone\"").unwrap_err();
        assert!(e.message.contains("edit_policy"), "{}", e.message);
        let e = cfg("timezone = \"Mars/Olympus\"").unwrap_err();
        assert!(e.message.contains("timezone"), "{}", e.message);
        let e = cfg("colour = 1").unwrap_err();
        assert!(e.message.contains("colour"), "{}", e.message);
        let e = cfg("create_room = \"sev<=9\"").unwrap_err();
        assert!(e.message.contains("create_room"), "{}", e.message);
        assert_eq!(
            cfg("create_room = \"sev<=2\"").unwrap().create_room,
            RoomMode::SeverityAtMost(2)
        );
    }
}
