//! The `[plugins.incident]` section, validated at start-up.
//!
//! ```toml
//! [plugins.incident]
//! severities = ["critical", "major", "minor", "trivial", "info"]  # level 1 first
//! edit_policy = "responders"        # responders | participants | anyone
//! roles = ["lead", "deputy", "scribe", "comms"]
//! timezone = "Europe/Oslo"          # shown next to UTC in replies and reports
//! ack_default_expiry = "30m"        # empty or absent: acks last until resolved
//! create_room = "sev<=2"            # always | sev<=N | on_demand (alias key: `rooms`)
//! announce_room = "slack:C0123"     # headline posts; absent: no headline
//! report_room = "slack:C0456"       # headlines of report-only (retro) incidents
//! room_name_template = "inc-{id}-{slug}"  # incident room names
//! timeline_reaction = "pushpin"     # reaction that captures a message (📌 or :pushpin:)
//! auto_join_after = 3               # messages in an incident's room that make a participant
//! public_url = "https://bot.example.com"  # the bot's address, for `report --link`
//! report_link_ttl = "24h"           # how long a report link works (at most 30 d)
//! process_url = "https://wiki.example.com/incidents"  # linked from welcome messages
//! ```

use ferrbot::error::ConfigError;
use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::auto::placement::RoomMode;
use crate::model::SeverityScale;
use crate::policy::EditPolicy;
use crate::util::time::parse_duration;
use crate::util::timeslot::Timeslot;

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
    #[serde(alias = "rooms")]
    create_room: String,
    announce_room: Option<String>,
    report_room: Option<String>,
    room_name_template: String,
    timeline_reaction: String,
    auto_join_after: u32,
    public_url: Option<String>,
    report_link_ttl: String,
    process_url: Option<String>,
    reminders: RawReminders,
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
            room_name_template: crate::util::slug::DEFAULT_TEMPLATE.into(),
            timeline_reaction: "pushpin".into(),
            auto_join_after: 3,
            public_url: None,
            report_link_ttl: "24h".into(),
            process_url: None,
            reminders: RawReminders::default(),
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
    /// When incidents get rooms of their own.
    pub create_room: RoomMode,
    /// Where headline posts go (None: no headline posts); a room id.
    pub announce_room: Option<String>,
    /// Where report-only incidents' headlines go (None: the announce room); a room id.
    pub report_room: Option<String>,
    /// Incident room names (`{id}`, `{slug}`).
    pub room_name_template: String,
    /// The reaction that captures a message into the timeline (name without colons, or emoji).
    pub timeline_reaction: String,
    /// How many messages in an incident's room or thread make someone a participant (Dispatch's
    /// observers); 0: never automatically.
    pub auto_join_after: u32,
    /// The bot's public address (`https://bot.example.com`, no trailing slash), for links.
    pub public_url: Option<String>,
    /// How long a report link works.
    pub report_link_ttl: SignedDuration,
    /// The team's incident process, linked from welcome messages.
    pub process_url: Option<String>,
    /// Reminders (`[plugins.incident.reminders]`).
    pub reminders: Reminders,
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
            room_name_template: crate::util::slug::DEFAULT_TEMPLATE.into(),
            timeline_reaction: "pushpin".into(),
            auto_join_after: 3,
            public_url: None,
            report_link_ttl: SignedDuration::from_hours(24),
            process_url: None,
            reminders: Reminders::default(),
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
        for (key, room) in [
            ("announce_room", &raw.announce_room),
            ("report_room", &raw.report_room),
        ] {
            if let Some(room) = room {
                room.trim()
                    .parse::<ferrbot::id::RoomId>()
                    .map_err(|e| err(key, e))?;
            }
        }
        let room_name_template = raw.room_name_template.trim().to_owned();
        if !room_name_template.contains("{id}") {
            return Err(err(
                "room_name_template",
                format!("`{room_name_template}` must contain {{id}} so that names stay unique"),
            ));
        }
        let timeline_reaction = raw.timeline_reaction.trim().trim_matches(':').to_owned();
        if timeline_reaction.is_empty() {
            return Err(err(
                "timeline_reaction",
                "give a reaction name (pushpin) or emoji (📌)",
            ));
        }
        let public_url = match raw.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                Some(u.trim_end_matches('/').to_owned())
            }
            Some(u) => {
                return Err(err(
                    "public_url",
                    format!("`{u}` is not an http(s) address (https://bot.example.com)"),
                ));
            }
        };
        let report_link_ttl = parse_duration(&raw.report_link_ttl)
            .map_err(|e| err("report_link_ttl", e))
            .and_then(|d| {
                if d <= SignedDuration::ZERO || d > SignedDuration::from_hours(30 * 24) {
                    Err(err(
                        "report_link_ttl",
                        "give a duration above 0 and at most 30d",
                    ))
                } else {
                    Ok(d)
                }
            })?;
        let reminders =
            Reminders::from_raw(raw.reminders, raw.timezone.as_deref(), raw.severities.len())?;
        Ok(Self {
            severities: SeverityScale::new(raw.severities),
            edit_policy,
            roles,
            timezone,
            ack_default_expiry,
            create_room,
            announce_room: raw.announce_room.map(|r| r.trim().to_owned()),
            report_room: raw.report_room.map(|r| r.trim().to_owned()),
            room_name_template,
            timeline_reaction,
            auto_join_after: raw.auto_join_after,
            public_url,
            report_link_ttl,
            process_url: raw
                .process_url
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty()),
            reminders,
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

// --- reminders (REM) ---

/// The `[plugins.incident.reminders]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReminders {
    no_severity: bool,
    no_lead: bool,
    update_due: bool,
    still_open: bool,
    overdue_tasks: bool,
    write_report: bool,
    review_due: bool,
    update_every: Vec<String>,
    quiet_hours: Option<String>,
    working_hours: Option<String>,
    max_snooze: String,
}

impl Default for RawReminders {
    fn default() -> Self {
        Self {
            no_severity: true,
            no_lead: true,
            update_due: true,
            still_open: true,
            overdue_tasks: true,
            write_report: true,
            review_due: true,
            update_every: ["30m", "1h", "4h"].map(String::from).to_vec(),
            quiet_hours: None,
            working_hours: None,
            max_snooze: "7d".into(),
        }
    }
}

/// Reminder settings (`[plugins.incident.reminders]`):
///
/// ```toml
/// [plugins.incident.reminders]
/// no_severity = true                 # every 5 min, at most 5 times
/// no_lead = true                     # every 2 min, at most 5 times
/// update_due = true                  # to the lead, per severity below
/// update_every = ["30m", "1h", "4h"] # level 1, 2, 3…; "off" or a missing level: none
/// still_open = true                  # daily in working hours, at most 5 times
/// working_hours = "mon-fri 09:00-18:00 Europe/Oslo"  # default: those hours in `timezone`
/// overdue_tasks = true               # to the assignees, daily, at most 3 times
/// write_report = true                # once, to the lead, after resolve
/// review_due = true                  # once, to the lead, 2 working days after resolve
/// quiet_hours = "daily 22:00-07:00 Europe/Oslo"      # held, then sent once
/// max_snooze = "7d"                  # longest `snooze`
/// ```
#[derive(Clone, Debug)]
pub struct Reminders {
    /// "No severity" reminder on.
    pub no_severity: bool,
    /// "No lead" reminder on.
    pub no_lead: bool,
    /// "Status update due" reminder on.
    pub update_due: bool,
    /// "Still open?" reminder on.
    pub still_open: bool,
    /// Overdue task reminders on.
    pub overdue_tasks: bool,
    /// "Write the report" DM on.
    pub write_report: bool,
    /// "Review still pending" DM (2 working days after resolve) on.
    pub review_due: bool,
    /// Status update interval by severity level (index 0 = level 1); `None`: no reminder.
    pub update_every: Vec<Option<SignedDuration>>,
    /// Reminders are held in these hours and sent once afterwards.
    pub quiet_hours: Option<Timeslot>,
    /// "Still open?" is only asked in these hours (None: any time).
    pub working_hours: Option<Timeslot>,
    /// The longest snooze.
    pub max_snooze: SignedDuration,
}

impl Default for Reminders {
    fn default() -> Self {
        // The defaults always validate.
        Self::from_raw(RawReminders::default(), None, 5).unwrap_or(Self {
            no_severity: true,
            no_lead: true,
            update_due: true,
            still_open: true,
            overdue_tasks: true,
            write_report: true,
            review_due: true,
            update_every: Vec::new(),
            quiet_hours: None,
            working_hours: None,
            max_snooze: SignedDuration::from_hours(24 * 7),
        })
    }
}

impl Reminders {
    fn from_raw(
        raw: RawReminders,
        timezone: Option<&str>,
        levels: usize,
    ) -> Result<Self, ConfigError> {
        let key = |k: &str| format!("reminders.{k}");
        if raw.update_every.len() > levels {
            return Err(err(
                &key("update_every"),
                format!(
                    "{} intervals given but only {levels} severity levels are configured",
                    raw.update_every.len()
                ),
            ));
        }
        let mut update_every = Vec::new();
        for text in &raw.update_every {
            let t = text.trim();
            if t.is_empty() || t.eq_ignore_ascii_case("off") {
                update_every.push(None);
                continue;
            }
            let d = parse_duration(t).map_err(|e| err(&key("update_every"), e))?;
            if d < SignedDuration::from_mins(1) {
                return Err(err(
                    &key("update_every"),
                    format!("`{t}` is shorter than the minimum of 1 minute"),
                ));
            }
            update_every.push(Some(d));
        }
        let slot = |name: &str, text: Option<&str>| -> Result<Option<Timeslot>, ConfigError> {
            match text.map(str::trim) {
                None | Some("") => Ok(None),
                Some(t) => Timeslot::parse(t)
                    .map(Some)
                    .map_err(|e| err(&key(name), format!("`{t}`: {e}"))),
            }
        };
        let quiet_hours = slot("quiet_hours", raw.quiet_hours.as_deref())?;
        let default_hours = format!(
            "mon-fri 09:00-18:00 {}",
            timezone
                .map(str::trim)
                .filter(|z| !z.is_empty())
                .unwrap_or("UTC")
        );
        let working_hours = match raw.working_hours.as_deref().map(str::trim) {
            Some("any" | "always") => None,
            Some(t) => slot("working_hours", Some(t))?,
            None => Timeslot::parse(&default_hours).ok(),
        };
        let max_snooze =
            parse_duration(raw.max_snooze.trim()).map_err(|e| err(&key("max_snooze"), e))?;
        if !max_snooze.is_positive() {
            return Err(err(&key("max_snooze"), "must be longer than zero"));
        }
        Ok(Self {
            no_severity: raw.no_severity,
            no_lead: raw.no_lead,
            update_due: raw.update_due,
            still_open: raw.still_open,
            overdue_tasks: raw.overdue_tasks,
            write_report: raw.write_report,
            review_due: raw.review_due,
            update_every,
            quiet_hours,
            working_hours,
            max_snooze,
        })
    }

    /// The status update interval for a severity level, if it has one.
    pub fn update_every(&self, level: u8) -> Option<SignedDuration> {
        usize::from(level)
            .checked_sub(1)
            .and_then(|i| self.update_every.get(i).copied().flatten())
    }
}

#[cfg(test)]
mod reminder_tests {
    use super::*;

    fn cfg(text: &str) -> Result<Config, ConfigError> {
        Config::from_value(toml::from_str(text).unwrap())
    }

    #[test]
    fn reminder_defaults_and_errors_name_the_key() {
        let r = cfg("").unwrap().reminders;
        assert!(r.no_lead && r.no_severity && r.update_due && r.write_report);
        assert_eq!(r.update_every(1), Some(SignedDuration::from_mins(30)));
        assert_eq!(r.update_every(2), Some(SignedDuration::from_hours(1)));
        assert_eq!(r.update_every(3), Some(SignedDuration::from_hours(4)));
        assert_eq!(r.update_every(4), None);
        assert_eq!(r.update_every(0), None);
        assert!(r.quiet_hours.is_none());
        assert_eq!(
            r.working_hours.map(|w| w.to_string()).as_deref(),
            Some("mon-fri 09:00-18:00 UTC")
        );
        let r = cfg("timezone = \"Europe/Oslo\"\n[reminders]\nno_lead = false\nupdate_every = [\"10m\", \"off\"]\nquiet_hours = \"daily 22:00-07:00 Europe/Oslo\"")
            .unwrap()
            .reminders;
        assert!(!r.no_lead);
        assert_eq!(r.update_every(1), Some(SignedDuration::from_mins(10)));
        assert_eq!(r.update_every(2), None);
        assert!(r.quiet_hours.is_some());
        assert!(
            r.working_hours
                .unwrap()
                .to_string()
                .ends_with("Europe/Oslo")
        );
        for (bad, key) in [
            (
                "[reminders]\nquiet_hours = \"nightly\"",
                "reminders.quiet_hours",
            ),
            (
                "[reminders]\nupdate_every = [\"soon\"]",
                "reminders.update_every",
            ),
            (
                "[reminders]\nupdate_every = [\"10s\"]",
                "reminders.update_every",
            ),
            (
                "[reminders]\nupdate_every = [\"1h\",\"1h\",\"1h\",\"1h\",\"1h\",\"1h\"]",
                "reminders.update_every",
            ),
            ("[reminders]\nmax_snooze = \"-1h\"", "reminders.max_snooze"),
            ("[reminders]\nbreak = true", "break"),
        ] {
            let e = cfg(bad).unwrap_err();
            assert!(e.message.contains(key), "{bad}: {}", e.message);
        }
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

    #[test]
    fn automation_keys() {
        let c = cfg("").unwrap();
        assert_eq!(c.timeline_reaction, "pushpin");
        assert_eq!(c.room_name_template, "inc-{id}-{slug}");
        assert_eq!(c.announce_room, None);
        let c = cfg(
            "rooms = \"always\"\nannounce_room = \"slack:C1\"\nreport_room = \"slack:C2\"\n\
             timeline_reaction = \":stopwatch:\"\nroom_name_template = \"ir-{id}\"",
        )
        .unwrap();
        assert_eq!(c.create_room, RoomMode::Always, "`rooms` is an alias");
        assert_eq!(c.announce_room.as_deref(), Some("slack:C1"));
        assert_eq!(c.report_room.as_deref(), Some("slack:C2"));
        assert_eq!(c.timeline_reaction, "stopwatch");
        assert_eq!(c.room_name_template, "ir-{id}");
        for (text, key) in [
            ("announce_room = \"ops\"", "announce_room"),
            ("report_room = \":x\"", "report_room"),
            ("room_name_template = \"incident\"", "room_name_template"),
            ("timeline_reaction = \"::\"", "timeline_reaction"),
        ] {
            let e = cfg(text).unwrap_err();
            assert!(e.message.contains(key), "{text}: {}", e.message);
        }
    }
}
