//! The plugin's storage on the core's [`Store`] (SQLite or PostgreSQL through sqlx `Any`).
//!
//! Reads go through [`IncidentStore::read`]; every change goes through a [`Tx`] from
//! [`IncidentStore::begin`], and the functions here take any connection (`&mut AnyConnection`),
//! so a command writes the row change and its timeline event in one transaction and commits
//! once — a refusal or a crash in between leaves nothing half-written.

use ferrbot::store::Store;
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row};

use crate::migrations::MIGRATIONS;
use crate::model::{
    Ack, Destination, EventKind, Incident, NewEvent, Origin, Participant, Priority, ReminderState,
    Review, RoleAssignment, Severity, State, StatusUpdate, Subscription, SubscriptionFilter, Task,
    TaskPhase, TaskStatus, TimelineEvent, UpdateKind,
};
use crate::util::tags::Tag;

/// The migration owner: the plugin's name.
pub const OWNER: &str = "incident";

/// A storage failure of the plugin.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A statement failed.
    #[error("incident storage: {what} failed: {source}")]
    Query {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: sqlx::Error,
    },
    /// A stored value is not valid.
    #[error("incident storage: stored {what} is not valid: {detail}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The core store failed (migrations).
    #[error(transparent)]
    Store(#[from] ferrbot::store::StoreError),
}

fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
    move |source| DbError::Query { what, source }
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> DbError {
    DbError::Corrupt {
        what,
        detail: detail.into(),
    }
}

/// A connection for reads.
pub type Conn = sqlx::pool::PoolConnection<Any>;
/// A transaction for changes: commit with [`Tx::commit`]; dropped = rolled back.
pub type Tx = sqlx::Transaction<'static, Any>;

/// The plugin's tables.
#[derive(Clone, Debug)]
pub struct IncidentStore {
    db: Store,
}

impl IncidentStore {
    /// Wraps the bot's store.
    pub fn new(db: Store) -> Self {
        Self { db }
    }

    /// Applies the plugin's migrations (owner [`OWNER`]).
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), DbError> {
        Ok(self.db.migrate(OWNER, MIGRATIONS).await?)
    }

    /// A connection for reading.
    ///
    /// # Errors
    /// When the pool has none.
    pub async fn read(&self) -> Result<Conn, DbError> {
        self.db.pool().acquire().await.map_err(q("connecting"))
    }

    /// Starts a change transaction. It first takes the plugin's write lock (one row), so
    /// changes run one after the other: what a command read is still true when it writes.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        let mut tx = self
            .db
            .pool()
            .begin()
            .await
            .map_err(q("starting a transaction"))?;
        sqlx::query("UPDATE incident_write_lock SET changes = changes + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(q("taking the write lock"))?;
        Ok(tx)
    }
}

/// Commits a transaction.
///
/// # Errors
/// When the commit fails (nothing was written).
pub async fn commit(tx: Tx) -> Result<(), DbError> {
    tx.commit().await.map_err(q("commit"))
}

fn secs(t: Timestamp) -> i64 {
    t.as_second()
}

fn ts(what: &'static str, s: i64) -> Result<Timestamp, DbError> {
    Timestamp::from_second(s).map_err(|e| corrupt(what, e.to_string()))
}

fn opt_ts(what: &'static str, s: Option<i64>) -> Result<Option<Timestamp>, DbError> {
    s.map(|s| ts(what, s)).transpose()
}

fn get<T>(row: &AnyRow, col: &'static str) -> Result<T, DbError>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(col).map_err(q(col))
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

fn id_of(what: &'static str, v: i64) -> Result<u64, DbError> {
    u64::try_from(v).map_err(|_| corrupt(what, format!("negative id {v}")))
}

fn sql_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e.to_string()))
}

fn to_json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| corrupt(what, e.to_string()))
}

const INCIDENT_COLS: &str = "id, origin, title, summary, impact, resolution, severity, state, \
    retro, private, source, source_incident_id, details_url, ticket_url, metadata, reporter, \
    lead_user, started_at, reported_at, first_ack_at, stable_at, resolved_at, room, thread, \
    announcement, review, review_url, external, false_alarm";

fn incident_from_row(row: &AnyRow) -> Result<Incident, DbError> {
    let origin: String = get(row, "origin")?;
    let state: String = get(row, "state")?;
    let review: String = get(row, "review")?;
    let severity: Option<i64> = get(row, "severity")?;
    let metadata: Option<String> = get(row, "metadata")?;
    let external: String = get(row, "external")?;
    Ok(Incident {
        id: id_of("incident id", get(row, "id")?)?,
        origin: Origin::parse(&origin).ok_or_else(|| corrupt("origin", origin.clone()))?,
        title: get(row, "title")?,
        summary: get(row, "summary")?,
        impact: get(row, "impact")?,
        resolution: get(row, "resolution")?,
        severity: severity
            .map(|s| u8::try_from(s).map(Severity))
            .transpose()
            .map_err(|e| corrupt("severity", e.to_string()))?,
        state: State::parse(&state).ok_or_else(|| corrupt("state", state.clone()))?,
        retro: get::<i64>(row, "retro")? != 0,
        private: get::<i64>(row, "private")? != 0,
        tags: Vec::new(),
        source: get(row, "source")?,
        source_incident_id: get(row, "source_incident_id")?,
        details_url: get(row, "details_url")?,
        ticket_url: get(row, "ticket_url")?,
        metadata: metadata.map(|m| json("metadata", &m)).transpose()?,
        reporter: get(row, "reporter")?,
        lead: get(row, "lead_user")?,
        started_at: ts("started_at", get(row, "started_at")?)?,
        reported_at: ts("reported_at", get(row, "reported_at")?)?,
        first_ack_at: opt_ts("first_ack_at", get(row, "first_ack_at")?)?,
        stable_at: opt_ts("stable_at", get(row, "stable_at")?)?,
        resolved_at: opt_ts("resolved_at", get(row, "resolved_at")?)?,
        room: get(row, "room")?,
        thread: get(row, "thread")?,
        announcement: get(row, "announcement")?,
        review: Review::parse(&review).ok_or_else(|| corrupt("review", review.clone()))?,
        review_url: get(row, "review_url")?,
        external: json("external", &external)?,
        false_alarm: get::<i64>(row, "false_alarm")? != 0,
    })
}

async fn load_tags(c: &mut AnyConnection, id: u64) -> Result<Vec<Tag>, DbError> {
    let rows = sqlx::query(
        "SELECT tag_key, tag_value FROM incident_tags WHERE incident = $1 \
         ORDER BY tag_key, tag_value",
    )
    .bind(sql_id(id))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading tags"))?;
    rows.iter()
        .map(|r| {
            Ok(Tag {
                key: get(r, "tag_key")?,
                value: get(r, "tag_value")?,
            })
        })
        .collect()
}

/// One incident, with its tags.
///
/// # Errors
/// When the database fails.
pub async fn incident(c: &mut AnyConnection, id: u64) -> Result<Option<Incident>, DbError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INCIDENT_COLS} FROM incident_incidents WHERE id = $1"
    )))
    .bind(sql_id(id))
    .fetch_optional(&mut *c)
    .await
    .map_err(q("reading an incident"))?;
    let Some(row) = row else { return Ok(None) };
    let mut inc = incident_from_row(&row)?;
    inc.tags = load_tags(c, id).await?;
    Ok(Some(inc))
}

/// Incidents, newest first: all, or only those in `states` when not empty; with `since`,
/// only those reported since then, still open, or resolved since then.
///
/// # Errors
/// When the database fails.
pub async fn incidents(
    c: &mut AnyConnection,
    states: &[State],
    since: Option<Timestamp>,
) -> Result<Vec<Incident>, DbError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INCIDENT_COLS} FROM incident_incidents ORDER BY id DESC"
    )))
    .fetch_all(&mut *c)
    .await
    .map_err(q("listing incidents"))?;
    let mut out = Vec::new();
    for row in &rows {
        let inc = incident_from_row(row)?;
        if (!states.is_empty() && !states.contains(&inc.state))
            || since.is_some_and(|s| inc.reported_at < s && inc.resolved_at.is_some_and(|r| r < s))
        {
            continue;
        }
        out.push(inc);
    }
    for inc in &mut out {
        inc.tags = load_tags(c, inc.id).await?;
    }
    Ok(out)
}

/// Open (active or stable) incidents, newest first.
///
/// # Errors
/// When the database fails.
pub async fn open_incidents(c: &mut AnyConnection) -> Result<Vec<Incident>, DbError> {
    incidents(c, &[State::Active, State::Stable], None).await
}

/// The incident whose room (or thread) this is, newest first if several.
///
/// # Errors
/// When the database fails.
pub async fn incident_by_place(
    c: &mut AnyConnection,
    room: &str,
    thread: Option<&str>,
) -> Result<Option<u64>, DbError> {
    let row = sqlx::query(
        "SELECT id FROM incident_incidents WHERE room = $1 \
         AND (thread IS NULL OR ($2 IS NOT NULL AND thread = $2)) \
         ORDER BY (thread IS NULL), id DESC LIMIT 1",
    )
    .bind(room)
    .bind(thread)
    .fetch_optional(&mut *c)
    .await
    .map_err(q("finding an incident by room"))?;
    row.map(|r| id_of("incident id", get(&r, "id")?))
        .transpose()
}

/// The incident a room has in focus.
///
/// # Errors
/// When the database fails.
pub async fn focus(c: &mut AnyConnection, room: &str) -> Result<Option<u64>, DbError> {
    let row = sqlx::query("SELECT incident FROM incident_focus WHERE room = $1")
        .bind(room)
        .fetch_optional(&mut *c)
        .await
        .map_err(q("reading the focus"))?;
    row.map(|r| id_of("incident id", get(&r, "incident")?))
        .transpose()
}

/// Sets or clears a room's focus.
///
/// # Errors
/// When the database fails.
pub async fn set_focus(
    c: &mut AnyConnection,
    room: &str,
    incident: Option<u64>,
    by: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM incident_focus WHERE room = $1")
        .bind(room)
        .execute(&mut *c)
        .await
        .map_err(q("clearing the focus"))?;
    if let Some(id) = incident {
        sqlx::query(
            "INSERT INTO incident_focus (room, incident, set_by, set_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(room)
        .bind(sql_id(id))
        .bind(by)
        .bind(secs(now))
        .execute(&mut *c)
        .await
        .map_err(q("setting the focus"))?;
    }
    Ok(())
}

fn opt_secs(t: Option<Timestamp>) -> Option<i64> {
    t.map(secs)
}

fn sev_i64(s: Option<Severity>) -> Option<i64> {
    s.map(|s| i64::from(s.0))
}

/// Inserts a new incident (its `id` is ignored) and its tags; returns the new id.
///
/// # Errors
/// When the database fails, e.g. a duplicate `(source, source_incident_id)`.
pub async fn insert_incident(c: &mut AnyConnection, inc: &Incident) -> Result<u64, DbError> {
    let row = sqlx::query(
        "INSERT INTO incident_incidents (origin, title, state, started_at, reported_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(inc.origin.as_str())
    .bind(&inc.title)
    .bind(inc.state.as_str())
    .bind(secs(inc.started_at))
    .bind(secs(inc.reported_at))
    .fetch_one(&mut *c)
    .await
    .map_err(q("creating an incident"))?;
    let id = id_of("incident id", get(&row, "id")?)?;
    let mut inc = inc.clone();
    inc.id = id;
    save_incident(c, &inc).await?;
    Ok(id)
}

/// Writes every column of an incident and replaces its tags.
///
/// # Errors
/// When the database fails.
pub async fn save_incident(c: &mut AnyConnection, inc: &Incident) -> Result<(), DbError> {
    let metadata = inc
        .metadata
        .as_ref()
        .map(|m| to_json("metadata", m))
        .transpose()?;
    sqlx::query(
        "UPDATE incident_incidents SET origin = $2, title = $3, summary = $4, impact = $5, \
         resolution = $6, severity = $7, state = $8, retro = $9, private = $10, source = $11, \
         source_incident_id = $12, details_url = $13, ticket_url = $14, metadata = $15, \
         reporter = $16, lead_user = $17, started_at = $18, reported_at = $19, \
         first_ack_at = $20, stable_at = $21, resolved_at = $22, room = $23, thread = $24, \
         announcement = $25, review = $26, review_url = $27, external = $28, false_alarm = $29 \
         WHERE id = $1",
    )
    .bind(sql_id(inc.id))
    .bind(inc.origin.as_str())
    .bind(&inc.title)
    .bind(&inc.summary)
    .bind(&inc.impact)
    .bind(&inc.resolution)
    .bind(sev_i64(inc.severity))
    .bind(inc.state.as_str())
    .bind(flag(inc.retro))
    .bind(flag(inc.private))
    .bind(&inc.source)
    .bind(&inc.source_incident_id)
    .bind(&inc.details_url)
    .bind(&inc.ticket_url)
    .bind(metadata)
    .bind(&inc.reporter)
    .bind(&inc.lead)
    .bind(secs(inc.started_at))
    .bind(secs(inc.reported_at))
    .bind(opt_secs(inc.first_ack_at))
    .bind(opt_secs(inc.stable_at))
    .bind(opt_secs(inc.resolved_at))
    .bind(&inc.room)
    .bind(&inc.thread)
    .bind(&inc.announcement)
    .bind(inc.review.as_str())
    .bind(&inc.review_url)
    .bind(to_json("external", &inc.external)?)
    .bind(flag(inc.false_alarm))
    .execute(&mut *c)
    .await
    .map_err(q("saving an incident"))?;
    sqlx::query("DELETE FROM incident_tags WHERE incident = $1")
        .bind(sql_id(inc.id))
        .execute(&mut *c)
        .await
        .map_err(q("replacing tags"))?;
    for tag in &inc.tags {
        sqlx::query("INSERT INTO incident_tags (incident, tag_key, tag_value) VALUES ($1, $2, $3)")
            .bind(sql_id(inc.id))
            .bind(&tag.key)
            .bind(&tag.value)
            .execute(&mut *c)
            .await
            .map_err(q("writing tags"))?;
    }
    Ok(())
}

/// Appends a timeline event; returns it.
///
/// # Errors
/// When the database fails.
pub async fn append_event(
    c: &mut AnyConnection,
    incident: u64,
    event: NewEvent,
    recorded_at: Timestamp,
) -> Result<TimelineEvent, DbError> {
    let row = sqlx::query(
        "INSERT INTO incident_events (incident, at, recorded_at, actor, kind, text, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(sql_id(incident))
    .bind(secs(event.at))
    .bind(secs(recorded_at))
    .bind(&event.actor)
    .bind(event.kind.as_str())
    .bind(&event.text)
    .bind(to_json("event data", &event.data)?)
    .fetch_one(&mut *c)
    .await
    .map_err(q("appending a timeline event"))?;
    Ok(TimelineEvent {
        id: id_of("event id", get(&row, "id")?)?,
        incident,
        at: event.at,
        recorded_at,
        actor: event.actor,
        kind: event.kind,
        text: event.text,
        data: event.data,
        message_ref: None,
        starred: false,
        deleted_at: None,
        deleted_by: None,
    })
}

fn event_from_row(row: &AnyRow) -> Result<TimelineEvent, DbError> {
    let kind: String = get(row, "kind")?;
    let data: String = get(row, "data")?;
    Ok(TimelineEvent {
        id: id_of("event id", get(row, "id")?)?,
        incident: id_of("incident id", get(row, "incident")?)?,
        at: ts("event time", get(row, "at")?)?,
        recorded_at: ts("event time", get(row, "recorded_at")?)?,
        actor: get(row, "actor")?,
        kind: EventKind::parse(&kind).ok_or_else(|| corrupt("event kind", kind.clone()))?,
        text: get(row, "text")?,
        data: json("event data", &data)?,
        message_ref: get(row, "message_ref")?,
        starred: get::<i64>(row, "starred")? != 0,
        deleted_at: opt_ts("event time", get(row, "deleted_at")?)?,
        deleted_by: get(row, "deleted_by")?,
    })
}

const EVENT_COLS: &str = "id, incident, at, recorded_at, actor, kind, text, data, message_ref, \
    starred, deleted_at, deleted_by";

/// An incident's timeline in time order (soft-deleted events included; filter on
/// `deleted_at`).
///
/// # Errors
/// When the database fails.
pub async fn events(c: &mut AnyConnection, incident: u64) -> Result<Vec<TimelineEvent>, DbError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLS} FROM incident_events WHERE incident = $1 ORDER BY at, id"
    )))
    .bind(sql_id(incident))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading the timeline"))?;
    rows.iter().map(event_from_row).collect()
}

/// One event.
///
/// # Errors
/// When the database fails.
pub async fn event(c: &mut AnyConnection, id: u64) -> Result<Option<TimelineEvent>, DbError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLS} FROM incident_events WHERE id = $1"
    )))
    .bind(sql_id(id))
    .fetch_optional(&mut *c)
    .await
    .map_err(q("reading an event"))?;
    row.as_ref().map(event_from_row).transpose()
}

/// Changes an event's text, star or deletion.
///
/// # Errors
/// When the database fails.
pub async fn save_event(
    c: &mut AnyConnection,
    event: &TimelineEvent,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE incident_events SET text = $2, starred = $3, deleted_at = $4, deleted_by = $5, \
         edited_at = $6 WHERE id = $1",
    )
    .bind(sql_id(event.id))
    .bind(&event.text)
    .bind(flag(event.starred))
    .bind(opt_secs(event.deleted_at))
    .bind(&event.deleted_by)
    .bind(secs(now))
    .execute(&mut *c)
    .await
    .map_err(q("changing an event"))?;
    Ok(())
}

fn ack_from_row(row: &AnyRow) -> Result<Ack, DbError> {
    Ok(Ack {
        id: id_of("ack id", get(row, "id")?)?,
        incident: id_of("incident id", get(row, "incident")?)?,
        event: id_of("event id", get(row, "event")?)?,
        user: get(row, "user_id")?,
        note: get(row, "note")?,
        created_at: ts("ack time", get(row, "created_at")?)?,
        expires_at: opt_ts("ack expiry", get(row, "expires_at")?)?,
        withdrawn_at: opt_ts("ack withdrawal", get(row, "withdrawn_at")?)?,
        expiry_recorded: get::<i64>(row, "expiry_recorded")? != 0,
    })
}

/// An incident's acknowledgements, oldest first.
///
/// # Errors
/// When the database fails.
pub async fn acks(c: &mut AnyConnection, incident: u64) -> Result<Vec<Ack>, DbError> {
    let rows = sqlx::query(
        "SELECT id, incident, event, user_id, note, created_at, expires_at, withdrawn_at, \
         expiry_recorded FROM incident_acks WHERE incident = $1 ORDER BY id",
    )
    .bind(sql_id(incident))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading acknowledgements"))?;
    rows.iter().map(ack_from_row).collect()
}

/// Acks that expired at or before `now` and whose expiry is not recorded yet.
///
/// # Errors
/// When the database fails.
pub async fn expired_acks(c: &mut AnyConnection, now: Timestamp) -> Result<Vec<Ack>, DbError> {
    let rows = sqlx::query(
        "SELECT id, incident, event, user_id, note, created_at, expires_at, withdrawn_at, \
         expiry_recorded FROM incident_acks WHERE expires_at IS NOT NULL AND expires_at <= $1 \
         AND withdrawn_at IS NULL AND expiry_recorded = 0 ORDER BY id",
    )
    .bind(secs(now))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading expired acknowledgements"))?;
    rows.iter().map(ack_from_row).collect()
}

/// Marks an ack's expiry as recorded; false when it already was.
///
/// # Errors
/// When the database fails.
pub async fn mark_expiry_recorded(c: &mut AnyConnection, ack: u64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE incident_acks SET expiry_recorded = 1 WHERE id = $1 AND expiry_recorded = 0",
    )
    .bind(sql_id(ack))
    .execute(&mut *c)
    .await
    .map_err(q("recording an expiry"))?;
    Ok(done.rows_affected() == 1)
}

/// Records a new acknowledgement.
///
/// # Errors
/// When the database fails.
pub async fn insert_ack(c: &mut AnyConnection, ack: &Ack) -> Result<u64, DbError> {
    let row = sqlx::query(
        "INSERT INTO incident_acks (incident, event, user_id, note, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(sql_id(ack.incident))
    .bind(sql_id(ack.event))
    .bind(&ack.user)
    .bind(&ack.note)
    .bind(secs(ack.created_at))
    .bind(opt_secs(ack.expires_at))
    .fetch_one(&mut *c)
    .await
    .map_err(q("recording an acknowledgement"))?;
    id_of("ack id", get(&row, "id")?)
}

/// Writes an ack's withdrawal and expiry flag.
///
/// # Errors
/// When the database fails.
pub async fn save_ack(c: &mut AnyConnection, ack: &Ack) -> Result<(), DbError> {
    sqlx::query("UPDATE incident_acks SET withdrawn_at = $2, expiry_recorded = $3 WHERE id = $1")
        .bind(sql_id(ack.id))
        .bind(opt_secs(ack.withdrawn_at))
        .bind(flag(ack.expiry_recorded))
        .execute(&mut *c)
        .await
        .map_err(q("changing an acknowledgement"))?;
    Ok(())
}

const TASK_COLS: &str = "incident, number, text, assignees, creator, phase, kind, priority, \
    due_at, status, done_at, done_by, ticket_url, created_at";

fn task_from_row(row: &AnyRow) -> Result<Task, DbError> {
    let assignees: String = get(row, "assignees")?;
    let phase: String = get(row, "phase")?;
    let priority: String = get(row, "priority")?;
    let status: String = get(row, "status")?;
    Ok(Task {
        incident: id_of("incident id", get(row, "incident")?)?,
        number: id_of("task number", get(row, "number")?)?,
        text: get(row, "text")?,
        assignees: json("task assignees", &assignees)?,
        creator: get(row, "creator")?,
        phase: TaskPhase::parse(&phase).ok_or_else(|| corrupt("task phase", phase.clone()))?,
        kind: get(row, "kind")?,
        priority: Priority::parse(&priority)
            .ok_or_else(|| corrupt("task priority", priority.clone()))?,
        due_at: opt_ts("task due", get(row, "due_at")?)?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("task status", status.clone()))?,
        done_at: opt_ts("task done", get(row, "done_at")?)?,
        done_by: get(row, "done_by")?,
        ticket_url: get(row, "ticket_url")?,
        created_at: ts("task created", get(row, "created_at")?)?,
    })
}

/// An incident's tasks by number.
///
/// # Errors
/// When the database fails.
pub async fn tasks(c: &mut AnyConnection, incident: u64) -> Result<Vec<Task>, DbError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {TASK_COLS} FROM incident_tasks WHERE incident = $1 ORDER BY number"
    )))
    .bind(sql_id(incident))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading tasks"))?;
    rows.iter().map(task_from_row).collect()
}

/// Inserts a task with the next number; returns the number.
///
/// # Errors
/// When the database fails.
pub async fn insert_task(c: &mut AnyConnection, task: &Task) -> Result<u64, DbError> {
    let row = sqlx::query(
        "SELECT COALESCE(MAX(number), 0) + 1 AS next FROM incident_tasks WHERE incident = $1",
    )
    .bind(sql_id(task.incident))
    .fetch_one(&mut *c)
    .await
    .map_err(q("numbering a task"))?;
    let number: i64 = get(&row, "next")?;
    sqlx::query(
        "INSERT INTO incident_tasks (incident, number, text, assignees, creator, phase, kind, \
         priority, due_at, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(sql_id(task.incident))
    .bind(number)
    .bind(&task.text)
    .bind(to_json("task assignees", &task.assignees)?)
    .bind(&task.creator)
    .bind(task.phase.as_str())
    .bind(&task.kind)
    .bind(task.priority.as_str())
    .bind(opt_secs(task.due_at))
    .bind(task.status.as_str())
    .bind(secs(task.created_at))
    .execute(&mut *c)
    .await
    .map_err(q("adding a task"))?;
    id_of("task number", number)
}

/// Writes a task's status, assignees and done fields.
///
/// # Errors
/// When the database fails.
pub async fn save_task(c: &mut AnyConnection, task: &Task) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE incident_tasks SET assignees = $3, status = $4, done_at = $5, done_by = $6, \
         text = $7, due_at = $8 WHERE incident = $1 AND number = $2",
    )
    .bind(sql_id(task.incident))
    .bind(sql_id(task.number))
    .bind(to_json("task assignees", &task.assignees)?)
    .bind(task.status.as_str())
    .bind(opt_secs(task.done_at))
    .bind(&task.done_by)
    .bind(&task.text)
    .bind(opt_secs(task.due_at))
    .execute(&mut *c)
    .await
    .map_err(q("changing a task"))?;
    Ok(())
}

/// Records a status update.
///
/// # Errors
/// When the database fails.
pub async fn insert_update(c: &mut AnyConnection, u: &StatusUpdate) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO incident_updates (incident, author, at, kind, text, fields, state, severity) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(sql_id(u.incident))
    .bind(&u.author)
    .bind(secs(u.at))
    .bind(u.kind.as_str())
    .bind(&u.text)
    .bind(to_json("update fields", &u.fields)?)
    .bind(u.state.as_str())
    .bind(sev_i64(u.severity))
    .execute(&mut *c)
    .await
    .map_err(q("recording an update"))?;
    Ok(())
}

/// An incident's status updates, oldest first.
///
/// # Errors
/// When the database fails.
pub async fn updates(c: &mut AnyConnection, incident: u64) -> Result<Vec<StatusUpdate>, DbError> {
    let rows = sqlx::query(
        "SELECT id, incident, author, at, kind, text, fields, state, severity \
         FROM incident_updates WHERE incident = $1 ORDER BY at, id",
    )
    .bind(sql_id(incident))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading updates"))?;
    rows.iter()
        .map(|row| {
            let kind: String = get(row, "kind")?;
            let state: String = get(row, "state")?;
            let fields: String = get(row, "fields")?;
            let severity: Option<i64> = get(row, "severity")?;
            Ok(StatusUpdate {
                id: id_of("update id", get(row, "id")?)?,
                incident: id_of("incident id", get(row, "incident")?)?,
                author: get(row, "author")?,
                at: ts("update time", get(row, "at")?)?,
                kind: UpdateKind::parse(&kind)
                    .ok_or_else(|| corrupt("update kind", kind.clone()))?,
                text: get(row, "text")?,
                fields: json("update fields", &fields)?,
                state: State::parse(&state)
                    .ok_or_else(|| corrupt("update state", state.clone()))?,
                severity: severity
                    .map(|s| u8::try_from(s).map(Severity))
                    .transpose()
                    .map_err(|e| corrupt("update severity", e.to_string()))?,
            })
        })
        .collect()
}

/// An incident's role history, oldest first.
///
/// # Errors
/// When the database fails.
pub async fn roles(c: &mut AnyConnection, incident: u64) -> Result<Vec<RoleAssignment>, DbError> {
    let rows = sqlx::query(
        "SELECT incident, role, user_id, assigned_by, from_at, until_at FROM incident_roles \
         WHERE incident = $1 ORDER BY from_at, id",
    )
    .bind(sql_id(incident))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading roles"))?;
    rows.iter()
        .map(|row| {
            Ok(RoleAssignment {
                incident: id_of("incident id", get(row, "incident")?)?,
                role: get(row, "role")?,
                user: get(row, "user_id")?,
                assigned_by: get(row, "assigned_by")?,
                from: ts("role time", get(row, "from_at")?)?,
                until: opt_ts("role time", get(row, "until_at")?)?,
            })
        })
        .collect()
}

/// Ends the current holder of `role` (if any) and, with `user`, starts a new assignment.
///
/// # Errors
/// When the database fails.
pub async fn assign_role(
    c: &mut AnyConnection,
    incident: u64,
    role: &str,
    user: Option<&str>,
    by: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE incident_roles SET until_at = $3 WHERE incident = $1 AND role = $2 \
         AND until_at IS NULL",
    )
    .bind(sql_id(incident))
    .bind(role)
    .bind(secs(now))
    .execute(&mut *c)
    .await
    .map_err(q("ending a role"))?;
    if let Some(user) = user {
        sqlx::query(
            "INSERT INTO incident_roles (incident, role, user_id, assigned_by, from_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sql_id(incident))
        .bind(role)
        .bind(user)
        .bind(by)
        .bind(secs(now))
        .execute(&mut *c)
        .await
        .map_err(q("assigning a role"))?;
    }
    Ok(())
}

/// An incident's participants (current and former), by join time.
///
/// # Errors
/// When the database fails.
pub async fn participants(
    c: &mut AnyConnection,
    incident: u64,
) -> Result<Vec<Participant>, DbError> {
    let rows = sqlx::query(
        "SELECT incident, user_id, joined_at, left_at, message_count, subscribed \
         FROM incident_participants WHERE incident = $1 ORDER BY joined_at, user_id",
    )
    .bind(sql_id(incident))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading participants"))?;
    rows.iter()
        .map(|row| {
            Ok(Participant {
                incident: id_of("incident id", get(row, "incident")?)?,
                user: get(row, "user_id")?,
                joined_at: ts("join time", get(row, "joined_at")?)?,
                left_at: opt_ts("leave time", get(row, "left_at")?)?,
                message_count: id_of("message count", get(row, "message_count")?)?,
                subscribed: get::<i64>(row, "subscribed")? != 0,
            })
        })
        .collect()
}

/// Marks `user` as in the incident (again); true when they were not in it.
///
/// # Errors
/// When the database fails.
pub async fn join(
    c: &mut AnyConnection,
    incident: u64,
    user: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    let current = participants(c, incident).await?;
    match current.iter().find(|p| p.user == user) {
        Some(p) if p.left_at.is_none() => Ok(false),
        Some(_) => {
            sqlx::query(
                "UPDATE incident_participants SET left_at = NULL, joined_at = $3 \
                 WHERE incident = $1 AND user_id = $2",
            )
            .bind(sql_id(incident))
            .bind(user)
            .bind(secs(now))
            .execute(&mut *c)
            .await
            .map_err(q("rejoining"))?;
            Ok(true)
        }
        None => {
            sqlx::query(
                "INSERT INTO incident_participants (incident, user_id, joined_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(sql_id(incident))
            .bind(user)
            .bind(secs(now))
            .execute(&mut *c)
            .await
            .map_err(q("joining"))?;
            Ok(true)
        }
    }
}

/// Marks `user` as having left; true when they were in it.
///
/// # Errors
/// When the database fails.
pub async fn leave(
    c: &mut AnyConnection,
    incident: u64,
    user: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE incident_participants SET left_at = $3 WHERE incident = $1 AND user_id = $2 \
         AND left_at IS NULL",
    )
    .bind(sql_id(incident))
    .bind(user)
    .bind(secs(now))
    .execute(&mut *c)
    .await
    .map_err(q("leaving"))?;
    Ok(done.rows_affected() > 0)
}

/// Adds a subscription; returns its id.
///
/// # Errors
/// When the database fails.
pub async fn insert_subscription(c: &mut AnyConnection, s: &Subscription) -> Result<u64, DbError> {
    let row = sqlx::query(
        "INSERT INTO incident_subscriptions (owner, destination, filter, timeslots, active, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&s.owner)
    .bind(to_json("destination", &s.destination)?)
    .bind(to_json("filter", &s.filter)?)
    .bind(to_json("timeslots", &s.timeslots)?)
    .bind(flag(s.active))
    .bind(secs(s.created_at))
    .fetch_one(&mut *c)
    .await
    .map_err(q("adding a subscription"))?;
    id_of("subscription id", get(&row, "id")?)
}

/// Every subscription.
///
/// # Errors
/// When the database fails.
pub async fn subscriptions(c: &mut AnyConnection) -> Result<Vec<Subscription>, DbError> {
    let rows = sqlx::query(
        "SELECT id, owner, destination, filter, timeslots, active, created_at \
         FROM incident_subscriptions ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading subscriptions"))?;
    rows.iter()
        .map(|row| {
            let destination: String = get(row, "destination")?;
            let filter: String = get(row, "filter")?;
            let timeslots: String = get(row, "timeslots")?;
            Ok(Subscription {
                id: id_of("subscription id", get(row, "id")?)?,
                owner: get(row, "owner")?,
                destination: json::<Destination>("destination", &destination)?,
                filter: json::<SubscriptionFilter>("filter", &filter)?,
                timeslots: json("timeslots", &timeslots)?,
                active: get::<i64>(row, "active")? != 0,
                created_at: ts("subscription time", get(row, "created_at")?)?,
            })
        })
        .collect()
}

/// Deletes a subscription; true when it existed.
///
/// # Errors
/// When the database fails.
pub async fn delete_subscription(c: &mut AnyConnection, id: u64) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM incident_subscriptions WHERE id = $1")
        .bind(sql_id(id))
        .execute(&mut *c)
        .await
        .map_err(q("deleting a subscription"))?;
    Ok(done.rows_affected() > 0)
}

/// A reminder's state.
///
/// # Errors
/// When the database fails.
pub async fn reminder(
    c: &mut AnyConnection,
    incident: u64,
    key: &str,
) -> Result<Option<ReminderState>, DbError> {
    let row = sqlx::query(
        "SELECT last_sent_at, sent_count, snoozed_until FROM incident_reminders \
         WHERE incident = $1 AND reminder = $2",
    )
    .bind(sql_id(incident))
    .bind(key)
    .fetch_optional(&mut *c)
    .await
    .map_err(q("reading a reminder"))?;
    let Some(row) = row else { return Ok(None) };
    let count: i64 = get(&row, "sent_count")?;
    Ok(Some(ReminderState {
        incident,
        key: key.to_owned(),
        last_sent_at: opt_ts("reminder time", get(&row, "last_sent_at")?)?,
        count: u32::try_from(count).map_err(|e| corrupt("reminder count", e.to_string()))?,
        snoozed_until: opt_ts("reminder time", get(&row, "snoozed_until")?)?,
    }))
}

/// Writes a reminder's state.
///
/// # Errors
/// When the database fails.
pub async fn put_reminder(c: &mut AnyConnection, r: &ReminderState) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO incident_reminders (incident, reminder, last_sent_at, sent_count, \
         snoozed_until) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (incident, reminder) DO UPDATE \
         SET last_sent_at = excluded.last_sent_at, sent_count = excluded.sent_count, \
         snoozed_until = excluded.snoozed_until",
    )
    .bind(sql_id(r.incident))
    .bind(&r.key)
    .bind(opt_secs(r.last_sent_at))
    .bind(i64::from(r.count))
    .bind(opt_secs(r.snoozed_until))
    .execute(&mut *c)
    .await
    .map_err(q("writing a reminder"))?;
    Ok(())
}

// --- automation (AUTO) ---

/// Sets where an incident's conversation lives: its room and, for the thread fallback, the
/// thread under its headline.
///
/// # Errors
/// When the database fails.
pub async fn set_place(
    c: &mut AnyConnection,
    incident: u64,
    room: Option<&str>,
    thread: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE incident_incidents SET room = $2, thread = $3 WHERE id = $1")
        .bind(sql_id(incident))
        .bind(room)
        .bind(thread)
        .execute(&mut *c)
        .await
        .map_err(q("setting the incident's room"))?;
    Ok(())
}

/// Records the headline post: its message id in `announcement`, its room under
/// `external.headline_room` (other external keys are kept).
///
/// # Errors
/// When the database fails.
pub async fn set_headline(
    c: &mut AnyConnection,
    incident: u64,
    message: &str,
    room: &str,
) -> Result<(), DbError> {
    let row = sqlx::query("SELECT external FROM incident_incidents WHERE id = $1")
        .bind(sql_id(incident))
        .fetch_optional(&mut *c)
        .await
        .map_err(q("reading the incident's external keys"))?;
    let Some(row) = row else { return Ok(()) };
    let text: String = get(&row, "external")?;
    let mut external: serde_json::Map<String, serde_json::Value> = json("external", &text)?;
    external.insert("headline_room".into(), serde_json::Value::from(room));
    sqlx::query("UPDATE incident_incidents SET announcement = $2, external = $3 WHERE id = $1")
        .bind(sql_id(incident))
        .bind(message)
        .bind(to_json("external", &external)?)
        .execute(&mut *c)
        .await
        .map_err(q("recording the headline post"))?;
    Ok(())
}

/// The newest timeline event that captured chat message `message_ref` (deleted ones
/// included).
///
/// # Errors
/// When the database fails.
pub async fn event_by_message(
    c: &mut AnyConnection,
    message_ref: &str,
) -> Result<Option<TimelineEvent>, DbError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLS} FROM incident_events WHERE message_ref = $1 ORDER BY id DESC LIMIT 1"
    )))
    .bind(message_ref)
    .fetch_optional(&mut *c)
    .await
    .map_err(q("finding a captured message"))?;
    row.as_ref().map(event_from_row).transpose()
}

/// Links an event to the chat message it captured.
///
/// # Errors
/// When the database fails.
pub async fn set_message_ref(
    c: &mut AnyConnection,
    event: u64,
    message_ref: &str,
) -> Result<(), DbError> {
    sqlx::query("UPDATE incident_events SET message_ref = $2 WHERE id = $1")
        .bind(sql_id(event))
        .bind(message_ref)
        .execute(&mut *c)
        .await
        .map_err(q("linking an event to its message"))?;
    Ok(())
}

// --- reminders (REM) ---

/// Every reminder state of an incident.
///
/// # Errors
/// When the database fails.
pub async fn reminders(
    c: &mut AnyConnection,
    incident: u64,
) -> Result<Vec<ReminderState>, DbError> {
    let rows = sqlx::query(
        "SELECT reminder, last_sent_at, sent_count, snoozed_until FROM incident_reminders \
         WHERE incident = $1 ORDER BY reminder",
    )
    .bind(sql_id(incident))
    .fetch_all(&mut *c)
    .await
    .map_err(q("reading reminders"))?;
    rows.iter()
        .map(|row| {
            let count: i64 = get(row, "sent_count")?;
            Ok(ReminderState {
                incident,
                key: get(row, "reminder")?,
                last_sent_at: opt_ts("reminder time", get(row, "last_sent_at")?)?,
                count: u32::try_from(count)
                    .map_err(|e| corrupt("reminder count", e.to_string()))?,
                snoozed_until: opt_ts("reminder time", get(row, "snoozed_until")?)?,
            })
        })
        .collect()
}

/// Sets (or clears) when a reminder is snoozed until, keeping its count and last send.
///
/// # Errors
/// When the database fails.
pub async fn set_reminder_snooze(
    c: &mut AnyConnection,
    incident: u64,
    key: &str,
    until: Option<Timestamp>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO incident_reminders (incident, reminder, sent_count, snoozed_until) \
         VALUES ($1, $2, 0, $3) ON CONFLICT (incident, reminder) DO UPDATE \
         SET snoozed_until = excluded.snoozed_until",
    )
    .bind(sql_id(incident))
    .bind(key)
    .bind(opt_secs(until))
    .execute(&mut *c)
    .await
    .map_err(q("snoozing a reminder"))?;
    Ok(())
}

// --- activity ---

/// Counts one message by `user` in the incident's room or thread; true when `user` is (or
/// was) a participant and was counted, false for an observer.
///
/// # Errors
/// When the database fails.
pub async fn count_message(
    c: &mut AnyConnection,
    incident: u64,
    user: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE incident_participants SET message_count = message_count + 1 \
         WHERE incident = $1 AND user_id = $2",
    )
    .bind(sql_id(incident))
    .bind(user)
    .execute(&mut *c)
    .await
    .map_err(q("counting a message"))?;
    Ok(done.rows_affected() > 0)
}

/// Sets a participant's message count (an observer who just became one).
///
/// # Errors
/// When the database fails.
pub async fn set_message_count(
    c: &mut AnyConnection,
    incident: u64,
    user: &str,
    count: u64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE incident_participants SET message_count = $3 WHERE incident = $1 AND user_id = $2",
    )
    .bind(sql_id(incident))
    .bind(user)
    .bind(sql_id(count))
    .execute(&mut *c)
    .await
    .map_err(q("setting a message count"))?;
    Ok(())
}
