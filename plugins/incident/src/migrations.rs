//! The plugin's tables, applied by the core's [`Store::migrate`](ferrbot::store::Store::migrate)
//! with owner `incident`. One SQL text for both dialects except the id column type.
//!
//! Times are UNIX seconds (`BIGINT`), flags are `0`/`1` (`BIGINT`), lists and maps are JSON
//! text. Every table the design names exists from version 1 — also those the later HTTP intake
//! uses (`incident_sources`, `incident_maintenance`, the `source`/`source_incident_id`/
//! `metadata`/`external` columns) — so that issue adds code, not data-losing migrations.

use ferrbot::store::Migration;

macro_rules! schema {
    ($id:literal) => {
        concat!(
            "CREATE TABLE incident_incidents (
                id ", $id, ",
                origin TEXT NOT NULL,
                title TEXT NOT NULL,
                summary TEXT,
                impact TEXT,
                resolution TEXT,
                severity BIGINT,
                state TEXT NOT NULL,
                retro BIGINT NOT NULL DEFAULT 0,
                private BIGINT NOT NULL DEFAULT 0,
                source TEXT,
                source_incident_id TEXT,
                details_url TEXT,
                ticket_url TEXT,
                metadata TEXT,
                reporter TEXT,
                lead_user TEXT,
                started_at BIGINT NOT NULL,
                reported_at BIGINT NOT NULL,
                first_ack_at BIGINT,
                stable_at BIGINT,
                resolved_at BIGINT,
                room TEXT,
                thread TEXT,
                announcement TEXT,
                review TEXT NOT NULL DEFAULT 'none',
                review_url TEXT,
                external TEXT NOT NULL DEFAULT '{}',
                false_alarm BIGINT NOT NULL DEFAULT 0
            );
            CREATE UNIQUE INDEX incident_source_id ON incident_incidents (source, source_incident_id)
                WHERE source IS NOT NULL AND source_incident_id IS NOT NULL AND source_incident_id <> '';
            CREATE INDEX incident_state ON incident_incidents (state);
            CREATE INDEX incident_room ON incident_incidents (room);
            CREATE TABLE incident_tags (
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                tag_key TEXT NOT NULL,
                tag_value TEXT NOT NULL,
                PRIMARY KEY (incident, tag_key, tag_value)
            );
            CREATE TABLE incident_events (
                id ", $id, ",
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                at BIGINT NOT NULL,
                recorded_at BIGINT NOT NULL,
                actor TEXT NOT NULL,
                kind TEXT NOT NULL,
                text TEXT NOT NULL,
                data TEXT NOT NULL DEFAULT 'null',
                message_ref TEXT,
                starred BIGINT NOT NULL DEFAULT 0,
                edited_at BIGINT,
                deleted_at BIGINT,
                deleted_by TEXT
            );
            CREATE INDEX incident_events_by_incident ON incident_events (incident, at);
            CREATE INDEX incident_events_by_message ON incident_events (message_ref);
            CREATE TABLE incident_acks (
                id ", $id, ",
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                event BIGINT NOT NULL REFERENCES incident_events (id),
                user_id TEXT NOT NULL,
                note TEXT,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                withdrawn_at BIGINT,
                expiry_recorded BIGINT NOT NULL DEFAULT 0
            );
            CREATE INDEX incident_acks_by_incident ON incident_acks (incident);
            CREATE TABLE incident_tasks (
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                number BIGINT NOT NULL,
                text TEXT NOT NULL,
                assignees TEXT NOT NULL DEFAULT '[]',
                creator TEXT NOT NULL,
                phase TEXT NOT NULL,
                kind TEXT,
                priority TEXT NOT NULL,
                due_at BIGINT,
                status TEXT NOT NULL,
                done_at BIGINT,
                done_by TEXT,
                ticket_url TEXT,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (incident, number)
            );
            CREATE TABLE incident_updates (
                id ", $id, ",
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                author TEXT NOT NULL,
                at BIGINT NOT NULL,
                kind TEXT NOT NULL,
                text TEXT NOT NULL,
                fields TEXT NOT NULL DEFAULT '{}',
                state TEXT NOT NULL,
                severity BIGINT
            );
            CREATE TABLE incident_roles (
                id ", $id, ",
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                role TEXT NOT NULL,
                user_id TEXT NOT NULL,
                assigned_by TEXT NOT NULL,
                from_at BIGINT NOT NULL,
                until_at BIGINT
            );
            CREATE TABLE incident_participants (
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                user_id TEXT NOT NULL,
                joined_at BIGINT NOT NULL,
                left_at BIGINT,
                message_count BIGINT NOT NULL DEFAULT 0,
                subscribed BIGINT NOT NULL DEFAULT 1,
                PRIMARY KEY (incident, user_id)
            );
            CREATE TABLE incident_subscriptions (
                id ", $id, ",
                owner TEXT NOT NULL,
                destination TEXT NOT NULL,
                filter TEXT NOT NULL,
                timeslots TEXT NOT NULL DEFAULT '[]',
                active BIGINT NOT NULL DEFAULT 1,
                created_at BIGINT NOT NULL
            );
            CREATE TABLE incident_reminders (
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                reminder TEXT NOT NULL,
                last_sent_at BIGINT,
                sent_count BIGINT NOT NULL DEFAULT 0,
                snoozed_until BIGINT,
                PRIMARY KEY (incident, reminder)
            );
            CREATE TABLE incident_focus (
                room TEXT PRIMARY KEY,
                incident BIGINT NOT NULL REFERENCES incident_incidents (id),
                set_by TEXT NOT NULL,
                set_at BIGINT NOT NULL
            );
            CREATE TABLE incident_sources (
                name TEXT PRIMARY KEY,
                source_type TEXT NOT NULL,
                token_hash TEXT,
                base_url TEXT,
                heartbeat_every BIGINT,
                last_seen BIGINT,
                created_at BIGINT NOT NULL
            );
            CREATE TABLE incident_maintenance (
                id ", $id, ",
                from_at BIGINT NOT NULL,
                until_at BIGINT,
                filter TEXT NOT NULL,
                description TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )"
        )
    };
}

/// The migrations, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "incident tables",
        schema!("INTEGER PRIMARY KEY AUTOINCREMENT"),
    )
    .postgres(schema!(
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )),
    // One row every change transaction updates first: changes are serialised (no lost update
    // when two commands rewrite the same incident at once; on SQLite the write lock is taken
    // before any read, so a read-then-write transaction never fails with `database is locked`).
    Migration::new(
        2,
        "write lock",
        "CREATE TABLE incident_write_lock (id BIGINT PRIMARY KEY, changes BIGINT NOT NULL);
         INSERT INTO incident_write_lock (id, changes) VALUES (1, 0)",
    ),
];
