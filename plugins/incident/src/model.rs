//! The incident data model: incidents, severities, states, timeline events and the records
//! hanging off an incident (acks, tasks, status updates, roles, participants), plus the data
//! types of subscriptions and reminder state. Pure data and validation; storage is
//! [`crate::store`].

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::util::tags::Tag;

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest summary, impact, resolution, note or update text, in characters.
pub const MAX_TEXT: usize = 4000;
/// Most tags on one incident.
pub const MAX_TAGS: usize = 20;

/// A field value that breaks a limit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    /// Empty where text is required.
    #[error("the {0} cannot be empty")]
    Empty(&'static str),
    /// Too long.
    #[error("the {field} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Checks a title (1–[`MAX_TITLE`] characters after trimming) and returns it trimmed.
///
/// # Errors
/// When it is empty or too long.
pub fn check_title(text: &str) -> Result<String, FieldError> {
    check_len("title", text, 1, MAX_TITLE)
}

/// Checks a free text field (≤ [`MAX_TEXT`] characters) and returns it trimmed.
///
/// # Errors
/// When it is too long (or empty, for `required` fields).
pub fn check_text(field: &'static str, text: &str, required: bool) -> Result<String, FieldError> {
    check_len(field, text, usize::from(required), MAX_TEXT)
}

fn check_len(
    field: &'static str,
    text: &str,
    min: usize,
    max: usize,
) -> Result<String, FieldError> {
    let text = text.trim();
    let len = text.chars().count();
    if len < min {
        return Err(FieldError::Empty(field));
    }
    if len > max {
        return Err(FieldError::TooLong { field, len, max });
    }
    Ok(text.to_owned())
}

/// A severity level: 1 is the most severe. Names come from [`SeverityScale`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Severity(pub u8);

/// The configured severity levels, in order (level 1 first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeverityScale {
    names: Vec<String>,
}

/// Why a severity was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown severity `{given}`; valid levels: {valid}")]
pub struct SeverityError {
    /// What was typed.
    pub given: String,
    /// The valid levels, listed.
    pub valid: String,
}

impl Default for SeverityScale {
    fn default() -> Self {
        Self::new(["critical", "major", "minor", "trivial", "info"])
    }
}

impl SeverityScale {
    /// A scale from level names (level 1 first); names are compared case-insensitively.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Self {
            names: names.into_iter().map(|n| n.into().to_lowercase()).collect(),
        }
    }

    /// How many levels there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no levels (never for a validated config).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of a level (`"?"` for a level outside the scale).
    pub fn name(&self, sev: Severity) -> &str {
        usize::from(sev.0)
            .checked_sub(1)
            .and_then(|i| self.names.get(i))
            .map_or("?", String::as_str)
    }

    /// `sev2 (major)`.
    pub fn label(&self, sev: Severity) -> String {
        format!("sev{} ({})", sev.0, self.name(sev))
    }

    /// Parses a level exactly: its number (`2`), `sevN`/`sev N`-less form (`sev2`), or its
    /// name (`major`), case-insensitively. No substring matching.
    ///
    /// # Errors
    /// When the text names no level; the error lists the valid ones.
    pub fn parse(&self, text: &str) -> Result<Severity, SeverityError> {
        let t = text.trim().to_lowercase();
        let number = t.strip_prefix("sev").unwrap_or(&t);
        if !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && let Ok(n) = number.parse::<u8>()
            && n >= 1
            && usize::from(n) <= self.names.len()
        {
            return Ok(Severity(n));
        }
        if let Some(i) = self.names.iter().position(|n| *n == t)
            && let Ok(n) = u8::try_from(i + 1)
        {
            return Ok(Severity(n));
        }
        Err(SeverityError {
            given: text.trim().to_owned(),
            valid: self.valid_list(),
        })
    }

    /// `1 critical, 2 major, …`.
    pub fn valid_list(&self) -> String {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{} {n}", i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// The stored and shown name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// Parses the stored name.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Where an incident came from.
    Origin {
        /// Declared by a person in chat.
        Declared = "declared",
        /// Posted by a monitoring source (the later HTTP intake).
        Source = "source",
    }
);

text_enum!(
    /// An incident's state (§4.3).
    State {
        /// Being worked on.
        Active = "active",
        /// Mitigated, being watched.
        Stable = "stable",
        /// Over.
        Resolved = "resolved",
        /// A source alert without state (Argus); only ack, note and tags apply.
        Stateless = "stateless",
    }
);

impl State {
    /// Active or stable.
    pub fn is_open(self) -> bool {
        matches!(self, State::Active | State::Stable)
    }

    /// A marker for lists.
    pub fn emoji(self) -> &'static str {
        match self {
            State::Active => "🔥",
            State::Stable => "🩹",
            State::Resolved => "✅",
            State::Stateless => "🔔",
        }
    }
}

text_enum!(
    /// The post-incident review.
    Review {
        /// No review yet.
        None = "none",
        /// To be done (set on resolve).
        Pending = "pending",
        /// Done.
        Done = "done",
    }
);

text_enum!(
    /// What a timeline event records.
    EventKind {
        /// The incident was declared (Argus STA).
        Declared = "declared",
        /// A stateless incident was created (Argus LES).
        Stateless = "stateless",
        /// A source changed it (Argus CHI).
        Changed = "changed",
        /// A person changed a field.
        Field = "field",
        /// Marked stable.
        Stable = "stable",
        /// Resolved (Argus CLO for people, END for sources).
        Resolved = "resolved",
        /// Reopened (Argus REO for people, RES for sources).
        Reopened = "reopened",
        /// Acknowledged (Argus ACK).
        Ack = "ack",
        /// An acknowledgement was withdrawn.
        Unack = "unack",
        /// An acknowledgement expired.
        AckExpired = "ack_expired",
        /// A note (Argus OTH).
        Note = "note",
        /// A captured chat message (pin or reaction).
        Message = "message",
        /// A role was assigned or cleared.
        Role = "role",
        /// Someone joined or left.
        Participant = "participant",
        /// A task changed.
        Task = "task",
        /// A status update.
        Update = "update",
        /// Someone was paged.
        Page = "page",
        /// A reminder was sent.
        Reminder = "reminder",
        /// An integration did something or failed.
        Integration = "integration",
    }
);

impl EventKind {
    /// The Argus event code, where there is one; `by_source` picks END/RES over CLO/REO.
    pub fn argus_code(self, by_source: bool) -> Option<&'static str> {
        Some(match self {
            EventKind::Declared => "STA",
            EventKind::Stateless => "LES",
            EventKind::Changed => "CHI",
            EventKind::Resolved if by_source => "END",
            EventKind::Resolved => "CLO",
            EventKind::Reopened if by_source => "RES",
            EventKind::Reopened => "REO",
            EventKind::Ack => "ACK",
            EventKind::Note => "OTH",
            _ => return None,
        })
    }

    /// Events people write themselves (shown by `timeline` without `--all`, editable).
    pub fn is_human(self) -> bool {
        matches!(
            self,
            EventKind::Note | EventKind::Message | EventKind::Update
        )
    }
}

/// An incident (§4.2).
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// Sequential id, shown `#42`.
    pub id: u64,
    /// Declared or from a source.
    pub origin: Origin,
    /// 1–200 characters.
    pub title: String,
    /// ≤ 4000 characters.
    pub summary: Option<String>,
    /// ≤ 4000 characters.
    pub impact: Option<String>,
    /// ≤ 4000 characters.
    pub resolution: Option<String>,
    /// None until set.
    pub severity: Option<Severity>,
    /// The state.
    pub state: State,
    /// Report-only (declared after the fact).
    pub retro: bool,
    /// Private (one-way).
    pub private: bool,
    /// Tags, sorted.
    pub tags: Vec<Tag>,
    /// The posting source (later intake).
    pub source: Option<String>,
    /// The source's own id (unique per source).
    pub source_incident_id: Option<String>,
    /// Link to details.
    pub details_url: Option<String>,
    /// Link to a ticket.
    pub ticket_url: Option<String>,
    /// Free JSON from the source.
    pub metadata: Option<serde_json::Value>,
    /// Who declared it.
    pub reporter: Option<String>,
    /// The incident lead.
    pub lead: Option<String>,
    /// When it started (may be before it was reported).
    pub started_at: Timestamp,
    /// When it was reported.
    pub reported_at: Timestamp,
    /// First acknowledgement or lead assignment.
    pub first_ack_at: Option<Timestamp>,
    /// Marked stable.
    pub stable_at: Option<Timestamp>,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
    /// Its room.
    pub room: Option<String>,
    /// Its thread (fallback).
    pub thread: Option<String>,
    /// The headline post's message id.
    pub announcement: Option<String>,
    /// Review state.
    pub review: Review,
    /// Review document.
    pub review_url: Option<String>,
    /// Integration keys (`pagerduty_key`, `statuspage_id`, …).
    pub external: serde_json::Map<String, serde_json::Value>,
    /// Declared a false alarm when resolved (excluded from stats).
    pub false_alarm: bool,
}

impl Incident {
    /// `#42`.
    pub fn reference(&self) -> String {
        format!("#{}", self.id)
    }
}

/// Who did something: a user id, `source:<name>` or `bot`.
pub type Actor = String;

/// One entry of the audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEvent {
    /// Sequential id (global), shown `E7`.
    pub id: u64,
    /// The incident.
    pub incident: u64,
    /// When it happened (may be backdated).
    pub at: Timestamp,
    /// When it was written.
    pub recorded_at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// What.
    pub kind: EventKind,
    /// Human text.
    pub text: String,
    /// Structured detail (old/new values).
    pub data: serde_json::Value,
    /// Captured message: backend + room + message id.
    pub message_ref: Option<String>,
    /// Starred for the report.
    pub starred: bool,
    /// Soft deletion.
    pub deleted_at: Option<Timestamp>,
    /// Who deleted it.
    pub deleted_by: Option<String>,
}

/// A new event, before the store gives it an id.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// What.
    pub kind: EventKind,
    /// Human text.
    pub text: String,
    /// Structured detail.
    pub data: serde_json::Value,
}

impl NewEvent {
    /// An event with no structured data.
    pub fn new(
        at: Timestamp,
        actor: impl Into<String>,
        kind: EventKind,
        text: impl Into<String>,
    ) -> Self {
        Self {
            at,
            actor: actor.into(),
            kind,
            text: text.into(),
            data: serde_json::Value::Null,
        }
    }

    /// Adds structured data.
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

/// An acknowledgement (Argus semantics).
#[derive(Clone, Debug, PartialEq)]
pub struct Ack {
    /// Id.
    pub id: u64,
    /// The incident.
    pub incident: u64,
    /// The `ack` event.
    pub event: u64,
    /// Who acknowledged.
    pub user: String,
    /// Optional note.
    pub note: Option<String>,
    /// When.
    pub created_at: Timestamp,
    /// Null = until resolved; else a future time when made.
    pub expires_at: Option<Timestamp>,
    /// Withdrawn (`unack`).
    pub withdrawn_at: Option<Timestamp>,
    /// The expiry was recorded as an `ack_expired` event.
    pub expiry_recorded: bool,
}

impl Ack {
    /// True when it counts at `now`: not withdrawn and not expired.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.withdrawn_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// Argus: an incident is acked iff one of its acks is active at `now`.
pub fn is_acked(acks: &[Ack], now: Timestamp) -> bool {
    acks.iter().any(|a| a.is_active(now))
}

text_enum!(
    /// During the incident or a follow-up.
    TaskPhase {
        /// During the incident.
        During = "during",
        /// After it.
        Followup = "followup",
    }
);

text_enum!(
    /// Open or done.
    TaskStatus {
        /// To do.
        Open = "open",
        /// Done.
        Done = "done",
    }
);

text_enum!(
    /// Task priority.
    Priority {
        /// High.
        High = "high",
        /// Medium.
        Medium = "medium",
        /// Low.
        Low = "low",
    }
);

/// A task (`T1`, `T2` per incident).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// The incident.
    pub incident: u64,
    /// Number within the incident.
    pub number: u64,
    /// What to do.
    pub text: String,
    /// Who does it.
    pub assignees: Vec<String>,
    /// Who created it.
    pub creator: String,
    /// During or follow-up.
    pub phase: TaskPhase,
    /// Follow-up kind: detective, preventative, corrective.
    pub kind: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// Due time.
    pub due_at: Option<Timestamp>,
    /// Open or done.
    pub status: TaskStatus,
    /// When done.
    pub done_at: Option<Timestamp>,
    /// Who did it.
    pub done_by: Option<String>,
    /// Ticket link.
    pub ticket_url: Option<String>,
    /// Created.
    pub created_at: Timestamp,
}

text_enum!(
    /// Status update formats.
    UpdateKind {
        /// Plain text.
        Update = "update",
        /// Conditions / actions / needs.
        Tactical = "tactical",
        /// Status / overview / next steps.
        Executive = "executive",
    }
);

/// A status update.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusUpdate {
    /// Id.
    pub id: u64,
    /// The incident.
    pub incident: u64,
    /// Who.
    pub author: String,
    /// When.
    pub at: Timestamp,
    /// Format.
    pub kind: UpdateKind,
    /// The text (for structured formats, the rendered fields).
    pub text: String,
    /// Structured fields (name → text).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// State at the time.
    pub state: State,
    /// Severity at the time.
    pub severity: Option<Severity>,
}

/// A role held (history kept: `until` set when it ends).
#[derive(Clone, Debug, PartialEq)]
pub struct RoleAssignment {
    /// The incident.
    pub incident: u64,
    /// The role.
    pub role: String,
    /// Who holds it.
    pub user: String,
    /// Who assigned it.
    pub assigned_by: String,
    /// From.
    pub from: Timestamp,
    /// Until (None = current).
    pub until: Option<Timestamp>,
}

/// Someone in the incident.
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    /// The incident.
    pub incident: u64,
    /// The user.
    pub user: String,
    /// Joined.
    pub joined_at: Timestamp,
    /// Left (None = still in).
    pub left_at: Option<Timestamp>,
    /// Messages written in the incident room.
    pub message_count: u64,
    /// Gets updates.
    pub subscribed: bool,
}

/// Where a subscription delivers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "to", rename_all = "snake_case")]
pub enum Destination {
    /// A direct message to the user.
    Direct(String),
    /// A room.
    Room(String),
}

/// A subscription's filter (Argus notification profile filter).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionFilter {
    /// Severity at most this.
    pub max_severity: Option<u8>,
    /// Tags (`k=v`), Argus semantics.
    pub tags: Vec<String>,
    /// Sources.
    pub sources: Vec<String>,
    /// Origin.
    pub origin: Option<Origin>,
    /// Open tristate.
    pub open: Option<bool>,
    /// Acked tristate.
    pub acked: Option<bool>,
    /// Stateful tristate.
    pub stateful: Option<bool>,
    /// Event kinds (empty = all).
    pub events: Vec<EventKind>,
}

/// A subscription (data only; delivery is not built yet).
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// Id (`S3`).
    pub id: u64,
    /// Owner user id.
    pub owner: String,
    /// Where it goes.
    pub destination: Destination,
    /// What matches.
    pub filter: SubscriptionFilter,
    /// Timeslots, normalised text (`mon-fri 08:00-16:00 Europe/Oslo`).
    pub timeslots: Vec<String>,
    /// On.
    pub active: bool,
    /// Created.
    pub created_at: Timestamp,
}

/// A reminder's persisted state (Monzo `Notification`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReminderState {
    /// The incident.
    pub incident: u64,
    /// Which reminder (`no_lead`, `update_due`, …).
    pub key: String,
    /// Last sent.
    pub last_sent_at: Option<Timestamp>,
    /// How often sent.
    pub count: u32,
    /// Snoozed until.
    pub snoozed_until: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_parses_exactly() {
        let s = SeverityScale::default();
        assert_eq!(s.parse("2"), Ok(Severity(2)));
        assert_eq!(s.parse("sev2"), Ok(Severity(2)));
        assert_eq!(s.parse("SEV1"), Ok(Severity(1)));
        assert_eq!(s.parse("Major"), Ok(Severity(2)));
        for bad in ["12", "sev 12", "0", "6", "maj", "", "sev", "critical!"] {
            let err = s.parse(bad).unwrap_err();
            assert!(err.to_string().contains("1 critical, 2 major"), "{err}");
        }
    }

    #[test]
    fn acked_follows_argus() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let later = Timestamp::from_second(2_000).unwrap();
        let mut ack = Ack {
            id: 1,
            incident: 1,
            event: 1,
            user: "test:a".into(),
            note: None,
            created_at: t0,
            expires_at: Some(Timestamp::from_second(1_500).unwrap()),
            withdrawn_at: None,
            expiry_recorded: false,
        };
        assert!(is_acked(std::slice::from_ref(&ack), t0));
        assert!(!is_acked(std::slice::from_ref(&ack), later));
        ack.expires_at = None;
        assert!(is_acked(std::slice::from_ref(&ack), later));
        ack.withdrawn_at = Some(t0);
        assert!(!is_acked(&[ack], later));
    }

    #[test]
    fn limits() {
        assert_eq!(check_title("  "), Err(FieldError::Empty("title")));
        assert!(check_title(&"x".repeat(200)).is_ok());
        let err = check_title(&"x".repeat(201)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the title is 201 characters long; at most 200 are allowed"
        );
        assert!(check_text("summary", &"y".repeat(4001), false).is_err());
        assert_eq!(check_text("summary", "", false), Ok(String::new()));
    }
}
