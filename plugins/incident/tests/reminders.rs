//! Reminders driven by the TestBot's ManualClock (§4.9 check 12): no lead ×5 at 2-minute
//! spacing then silence, the lead stops it, `snooze` holds and resumes, resolve stops all and
//! sends "write the report" once, quiet hours hold then send once, a restart on the same
//! SQLite file neither repeats nor loses, update-due and overdue-task reminders; the ack expiry
//! re-notification (check 4) once and only when the incident is really unacknowledged; private
//! incidents refused by id to outsiders.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::Duration;

use ferrbot::Capabilities;
use ferrbot::store::Store;
use ferrbot::testing::{Sent, TestBot, caps};
use ferrbot_plugin_incident::IncidentPlugin;
use ferrbot_plugin_incident::store::{self, IncidentStore};

const A: &str = "console:alice";
const B: &str = "console:bob";
const OPS: &str = "console:ops";

/// Only the no-lead reminder is on; reminders for room-less incidents go to the announce room.
const NO_LEAD_ONLY: &str = "announce_room = \"console:ops\"\n[reminders]\nno_severity = false\n\
    update_due = false\nstill_open = false\nwrite_report = false\n";

/// A console that can send direct messages.
fn console_with_dms() -> Capabilities {
    Capabilities {
        direct_messages: true,
        ..caps::console()
    }
}

async fn bot_at(section: &str, db: Option<Store>, start: jiff::Timestamp) -> TestBot {
    bot_caps(caps::console(), section, db, start).await
}

async fn bot_caps(
    capabilities: Capabilities,
    section: &str,
    db: Option<Store>,
    start: jiff::Timestamp,
) -> TestBot {
    let value: toml::Value = toml::from_str(section).unwrap();
    let plugin = IncidentPlugin::from_config(value).unwrap();
    let mut b = TestBot::builder()
        .backend("console", capabilities)
        .config("[bot]\nadmins = [\"console:root\"]\n")
        .clock_start(start)
        .plugin(plugin);
    if let Some(db) = db {
        b = b.store(db);
    }
    b.build().await
}

fn t0() -> jiff::Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// Everything the bot sends until it is quiet for a moment.
async fn drain(bot: &TestBot) -> Vec<Sent> {
    let mut out = Vec::new();
    while let Some(s) = bot.try_next_reply(Duration::from_millis(150)).await {
        out.push(s);
    }
    out
}

fn is_reminder(s: &Sent) -> bool {
    let t = s.plain();
    t.starts_with('⏰') || t.starts_with('📝')
}

/// Advances the clock, runs the jobs, returns the reminders sent.
async fn step(bot: &TestBot, minutes: u64) -> Vec<Sent> {
    support::advance(bot, minutes);
    bot.run_jobs().await;
    drain(bot).await.into_iter().filter(is_reminder).collect()
}

/// Says `text` as `user` in the default room; returns the reply there (other messages, e.g.
/// headline posts elsewhere, are skipped).
async fn cmd(bot: &TestBot, user: &str, text: &str) -> String {
    bot.say(user, text).await;
    let general = TestBot::default_room("console");
    drain(bot)
        .await
        .into_iter()
        .find(|s| s.room() == Some(&general) && !s.plain().starts_with('🔔'))
        .map(|s| s.plain())
        .unwrap_or_else(|| panic!("no reply to `{text}`"))
}

async fn declare(bot: &TestBot, text: &str) -> u64 {
    support::declared_id(&cmd(bot, A, text).await)
}

#[tokio::test]
async fn no_lead_five_times_two_minutes_apart_then_silence_and_the_lead_stops_it() {
    let bot = bot_at(NO_LEAD_ONLY, None, t0()).await;
    let id = declare(&bot, "!inc declare Checkout 502s --sev 2").await;
    let mut fired = Vec::new();
    for minute in 1..=16 {
        for r in step(&bot, 1).await {
            assert_eq!(r.room().map(ToString::to_string).as_deref(), Some(OPS));
            let text = r.plain();
            assert!(
                text.starts_with(&format!("⏰ #{id} Checkout 502s has no lead yet.")),
                "{text}"
            );
            assert!(text.contains(&format!("!inc lead #{id}")), "{text}");
            assert!(text.contains("!inc snooze #1 30m no_lead"), "{text}");
            let n = fired.len() + 1;
            assert!(text.ends_with(&format!("({n} of 5)")), "{text}");
            fired.push(minute);
        }
    }
    assert_eq!(fired, [2, 4, 6, 8, 10]);

    // A second incident gets its first reminder, then a lead: no more.
    let second = declare(&bot, "!inc declare Search down --sev 3").await;
    let sent = step(&bot, 2).await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .plain()
            .contains(&format!("#{second} Search down has no lead"))
    );
    let reply = cmd(&bot, A, &format!("!inc lead #{second} console:bob")).await;
    assert!(reply.contains("lead"), "{reply}");
    for _ in 0..5 {
        assert!(step(&bot, 2).await.is_empty());
    }
}

#[tokio::test]
async fn snooze_holds_then_resumes_and_bad_durations_are_refused() {
    let bot = bot_at(NO_LEAD_ONLY, None, t0()).await;
    let id = declare(&bot, "!inc declare Checkout 502s --sev 2").await;
    assert_eq!(step(&bot, 2).await.len(), 1);
    let reply = cmd(&bot, A, "!inc snooze #1 10m no_lead").await;
    assert_eq!(
        reply,
        format!("#{id} reminder no_lead snoozed until 2026-01-01 00:12 UTC.")
    );
    let status = cmd(&bot, A, "!inc status #1").await;
    assert!(
        status.ends_with("Reminders snoozed until 2026-01-01 00:12 UTC (no_lead)"),
        "{status}"
    );
    for _ in 0..9 {
        assert!(step(&bot, 1).await.is_empty());
    }
    let sent = step(&bot, 1).await;
    assert_eq!(sent.len(), 1, "resumes at 00:12");
    assert!(sent[0].plain().ends_with("(2 of 5)"), "{}", sent[0].plain());

    // Snooze all, then `off` brings them back at once.
    let reply = cmd(&bot, A, "!inc snooze #1 1h").await;
    assert_eq!(
        reply,
        format!("#{id} reminders snoozed until 2026-01-01 01:12 UTC.")
    );
    assert!(step(&bot, 2).await.is_empty());
    assert!(step(&bot, 2).await.is_empty());
    let reply = cmd(&bot, A, "!inc snooze #1 off").await;
    assert_eq!(reply, format!("#{id} reminders no longer snoozed."));
    let sent = step(&bot, 0).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].plain().ends_with("(3 of 5)"));

    // Refusals say why and the limit; nothing changes.
    for (bad, why) in [
        ("!inc snooze 0m", "longer than zero (at most 7 d)"),
        ("!inc snooze -10m", "longer than zero"),
        ("!inc snooze 8d", "at most 7 d"),
        ("!inc snooze soon", "reminders: no_severity, no_lead"),
        ("!inc snooze 30m report", "cannot be snoozed"),
        ("!inc snooze no_lead", "how long?"),
    ] {
        let reply = cmd(&bot, A, bad).await;
        assert!(reply.contains(why), "{bad}: {reply}");
    }
    let s = IncidentStore::new(bot.store());
    let mut c = s.read().await.unwrap();
    let rows = store::reminders(&mut c, id).await.unwrap();
    assert!(rows.iter().all(|r| r.snoozed_until.is_none()), "{rows:?}");
    drop(c);
    // Only responders may snooze.
    let reply = cmd(&bot, "console:mallory", "!inc snooze #1 30m").await;
    assert!(reply.contains("only responders of #1"), "{reply}");
}

#[tokio::test]
async fn resolve_stops_every_reminder_and_sends_write_the_report_once() {
    let section = "announce_room = \"console:ops\"\n";
    let bot = bot_caps(console_with_dms(), section, None, t0()).await;
    let id = declare(&bot, "!inc declare Database down").await;
    let sent = step(&bot, 5).await;
    let texts: Vec<String> = sent.iter().map(Sent::plain).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("has no severity yet")));
    assert!(texts.iter().any(|t| t.contains("has no lead yet")));
    cmd(&bot, A, &format!("!inc lead #{id} console:bob")).await;
    let reply = cmd(&bot, B, &format!("!inc resolve #{id} failover done")).await;
    assert!(reply.contains("resolved"), "{reply}");
    let sent = step(&bot, 0).await;
    assert_eq!(
        sent.len(),
        1,
        "{:?}",
        sent.iter().map(Sent::plain).collect::<Vec<_>>()
    );
    assert_eq!(
        sent[0].direct_to().map(ToString::to_string).as_deref(),
        Some(B)
    );
    assert!(
        sent[0]
            .plain()
            .starts_with("📝 #1 Database down is resolved — please write the report."),
        "{}",
        sent[0].plain()
    );
    for _ in 0..6 {
        assert!(step(&bot, 10).await.is_empty());
    }
}

#[tokio::test]
async fn quiet_hours_hold_reminders_then_send_once() {
    let section = format!("{NO_LEAD_ONLY}quiet_hours = \"daily 00:00-01:00 UTC\"\n");
    let bot = bot_at(&section, None, t0()).await;
    declare(&bot, "!inc declare Checkout 502s --sev 2").await;
    for _ in 0..29 {
        assert!(step(&bot, 2).await.is_empty(), "quiet until 01:00");
    }
    let sent = step(&bot, 2).await;
    assert_eq!(sent.len(), 1, "once at 01:00");
    assert!(sent[0].plain().ends_with("(1 of 5)"));
    assert!(step(&bot, 1).await.is_empty());
    let sent = step(&bot, 1).await;
    assert!(sent[0].plain().ends_with("(2 of 5)"));
}

#[tokio::test]
async fn a_restart_on_the_same_sqlite_file_neither_repeats_nor_loses_reminders() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bot.db", dir.path().display());
    {
        let bot = bot_at(NO_LEAD_ONLY, Some(Store::open(&url).await.unwrap()), t0()).await;
        declare(&bot, "!inc declare Checkout 502s --sev 2").await;
        assert_eq!(step(&bot, 2).await.len(), 1);
        assert_eq!(step(&bot, 2).await.len(), 1);
        bot.shutdown().await;
    }
    let later = t0() + jiff::SignedDuration::from_mins(5);
    let bot = bot_at(NO_LEAD_ONLY, Some(Store::open(&url).await.unwrap()), later).await;
    assert!(
        step(&bot, 0).await.is_empty(),
        "no repeat right after the restart"
    );
    let sent = step(&bot, 1).await;
    assert_eq!(sent.len(), 1, "the next one comes on time");
    assert!(sent[0].plain().ends_with("(3 of 5)"), "{}", sent[0].plain());
}

#[tokio::test]
async fn update_due_goes_to_the_lead_and_comms_and_an_update_resets_it() {
    let section = "[reminders]\nno_severity = false\nno_lead = false\nstill_open = false\n";
    let bot = bot_caps(console_with_dms(), section, None, t0()).await;
    let id = declare(
        &bot,
        "!inc declare Checkout 502s --sev 1 --lead console:bob",
    )
    .await;
    cmd(&bot, A, "!inc role #1 comms console:cleo").await;
    assert!(step(&bot, 29).await.is_empty());
    let sent = step(&bot, 1).await;
    let mut to: Vec<String> = sent
        .iter()
        .filter_map(|s| s.direct_to().map(ToString::to_string))
        .collect();
    to.sort();
    assert_eq!(to, [B, "console:cleo"], "the lead and the comms role");
    assert!(
        sent[0].plain().contains(&format!(
            "#{id} Checkout 502s: a status update is due (sev1: every 30 min; last update: none yet)"
        )),
        "{}",
        sent[0].plain()
    );
    support::advance(&bot, 10);
    cmd(&bot, B, "!inc update #1 failing over to the replica").await;
    // Due 30 min after the update (01:10), not 30 min after the last reminder (01:00).
    assert!(step(&bot, 20).await.is_empty());
    assert!(step(&bot, 9).await.is_empty());
    let sent = step(&bot, 1).await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0]
            .plain()
            .contains("last update: 2026-01-01 00:40 UTC")
    );
}

#[tokio::test]
async fn overdue_tasks_remind_their_assignees_in_the_room_where_there_are_no_dms() {
    let section = "announce_room = \"console:ops\"\n[reminders]\nno_severity = false\n\
        no_lead = false\nupdate_due = false\nstill_open = false\n";
    let bot = bot_at(section, None, t0()).await;
    let id = declare(&bot, "!inc declare Checkout 502s --sev 2").await;
    cmd(
        &bot,
        A,
        "!inc task add #1 check replicas --assign console:carol --due 00:30",
    )
    .await;
    assert!(step(&bot, 29).await.is_empty());
    let sent = step(&bot, 1).await;
    assert_eq!(sent.len(), 1);
    // The console has no direct messages: the room gets it, naming the assignee.
    assert_eq!(
        sent[0].room().map(ToString::to_string).as_deref(),
        Some(OPS)
    );
    let text = sent[0].plain();
    assert!(
        text.contains(&format!(
            "#{id} Checkout 502s: task T1 \"check replicas\" was due at 2026-01-01 00:30 UTC"
        )),
        "{text}"
    );
    assert!(text.ends_with("(1 of 3) (for console:carol)"), "{text}");
    // Daily after that; `snooze … tasks` (here at 00:30, for 1 h) holds every task's reminder.
    cmd(
        &bot,
        A,
        "!inc task add #1 drain queue --assign console:dan --due 01:00",
    )
    .await;
    cmd(&bot, A, "!inc snooze #1 1h tasks").await;
    assert!(step(&bot, 59).await.is_empty(), "01:29: snoozed");
    let sent = step(&bot, 1).await;
    assert_eq!(sent.len(), 1, "01:30: T2 once the snooze is over");
    assert!(sent[0].plain().contains("task T2 \"drain queue\""));
    assert!(step(&bot, 22 * 60).await.is_empty());
    let sent = step(&bot, 60).await;
    let texts: Vec<String> = sent.iter().map(Sent::plain).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("task T1") && texts[0].contains("(2 of 3)"),
        "{texts:?}"
    );
    cmd(&bot, A, "!inc task done #1 T1").await;
    cmd(&bot, A, "!inc task done #1 T2").await;
    assert!(step(&bot, 24 * 60).await.is_empty());
}

#[tokio::test]
async fn ack_expiry_renotifies_once_and_only_when_really_unacknowledged() {
    let bot = bot_caps(console_with_dms(), "", None, t0()).await;
    cmd(
        &bot,
        "console:sam",
        "!inc subscribe --unacked --events ack_expired",
    )
    .await;
    declare(
        &bot,
        "!inc declare Checkout 502s --sev 2 --lead console:alice",
    )
    .await;
    cmd(&bot, B, "!inc ack #1 30m").await;
    cmd(&bot, "console:carol", "!inc ack #1 60m").await;
    support::advance(&bot, 31);
    bot.run_jobs().await;
    let notes: Vec<Sent> = drain(&bot)
        .await
        .into_iter()
        .filter(|s| s.plain().starts_with('🔔'))
        .collect();
    assert!(
        notes.is_empty(),
        "carol's ack still holds: {:?}",
        notes.len()
    );
    support::advance(&bot, 30);
    bot.run_jobs().await;
    let notes: Vec<String> = drain(&bot)
        .await
        .into_iter()
        .filter(|s| s.plain().starts_with('🔔'))
        .map(|s| s.plain())
        .collect();
    assert_eq!(
        notes,
        ["🔔 #1 Checkout 502s (sev2, active): acknowledgement by console:carol expired — bot [S1]"]
    );
    bot.run_jobs().await;
    assert!(
        drain(&bot)
            .await
            .iter()
            .all(|s| !s.plain().starts_with('🔔')),
        "only once"
    );

    // Two acks running out in the same round: one re-notification for the incident.
    declare(
        &bot,
        "!inc declare Search slow --sev 2 --lead console:alice",
    )
    .await;
    cmd(&bot, B, "!inc ack #2 10m").await;
    cmd(&bot, "console:carol", "!inc ack #2 10m").await;
    // An ack that runs out after the resolution is recorded, but nobody is re-notified.
    declare(&bot, "!inc declare Cache cold --sev 2 --lead console:alice").await;
    cmd(&bot, B, "!inc ack #3 10m").await;
    cmd(&bot, A, "!inc resolve #3 warmed up").await;
    support::advance(&bot, 11);
    bot.run_jobs().await;
    let notes: Vec<String> = drain(&bot)
        .await
        .into_iter()
        .filter(|s| s.plain().starts_with('🔔'))
        .map(|s| s.plain())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("🔔 #2 Search slow"), "{notes:?}");
    let expired = support::events(&bot, 3)
        .await
        .into_iter()
        .filter(|e| e.kind == ferrbot_plugin_incident::model::EventKind::AckExpired)
        .count();
    assert_eq!(expired, 1, "the expiry is still in #3's timeline");
}

#[tokio::test]
async fn a_private_incident_is_refused_by_id_to_outsiders_and_shown_to_insiders() {
    let bot = bot_at("", None, t0()).await;
    let id = declare(&bot, "!inc declare Payroll leak --sev 1 --private").await;
    cmd(&bot, A, "!inc role #1 scribe console:dora").await;
    // Joining a private incident takes an invitation: it would show it to anyone otherwise.
    let reply = cmd(&bot, B, &format!("!inc join #{id}")).await;
    assert!(
        reply.contains(&format!(
            "#{id} is private: ask its lead or a responder to `invite` you"
        )),
        "{reply}"
    );
    assert!(!reply.contains("Payroll"), "{reply}");
    cmd(&bot, A, &format!("!inc invite #{id} console:bob")).await;
    assert!(
        cmd(&bot, B, &format!("!inc join #{id}"))
            .await
            .contains("already in")
    );
    let outsider = "console:eve";
    for command in ["status", "report", "timeline", "duration", "participants"] {
        let reply = cmd(&bot, outsider, &format!("!inc {command} #{id}")).await;
        assert!(
            reply.contains(&format!(
                "#{id} is private: only its lead, reporter, role holders, participants and bot admins may see it"
            )),
            "{command}: {reply}"
        );
        assert!(!reply.contains("Payroll"), "{command}: {reply}");
    }
    let reply = cmd(&bot, outsider, "!inc list --all").await;
    assert_eq!(reply, "No incidents match.");
    for insider in [A, B, "console:dora", "console:root"] {
        let reply = cmd(&bot, insider, &format!("!inc status #{id}")).await;
        assert!(
            reply.starts_with(&format!("#{id} Payroll leak")),
            "{insider}: {reply}"
        );
        let reply = cmd(&bot, insider, &format!("!inc participants #{id}")).await;
        assert!(reply.contains("console:bob"), "{insider}: {reply}");
        let reply = cmd(&bot, insider, "!inc list --all").await;
        assert!(reply.contains("Payroll leak"), "{insider}: {reply}");
    }
}

async fn slack_bot(capabilities: Capabilities) -> TestBot {
    let section = "announce_room = \"slack:ops\"\ncreate_room = \"always\"\n[reminders]\n\
        no_severity = false\nupdate_due = false\nstill_open = false\n";
    let value: toml::Value = toml::from_str(section).unwrap();
    TestBot::builder()
        .backend("slack", capabilities)
        .config("[bot]\nadmins = [\"slack:root\"]\n")
        .clock_start(t0())
        .plugin(IncidentPlugin::from_config(value).unwrap())
        .build()
        .await
}

#[tokio::test]
async fn reminders_go_to_the_incident_room_or_else_its_thread_under_the_headline() {
    // With rooms: the incident's own room.
    let bot = slack_bot(caps::slack()).await;
    bot.say_in(
        "slack:general",
        "slack:alice",
        "!inc declare Queue stuck --sev 2",
    )
    .await;
    drain(&bot).await;
    let room = support::incident(&bot, 1).await.room.unwrap();
    assert_ne!(room, "slack:ops");
    let sent = step(&bot, 2).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].room().map(ToString::to_string), Some(room));
    assert!(sent[0].thread().is_none());

    // Without room creation: the thread under the headline in the announce room.
    let bot = slack_bot(Capabilities {
        create_rooms: false,
        ..caps::slack()
    })
    .await;
    bot.say_in(
        "slack:general",
        "slack:alice",
        "!inc declare Queue stuck --sev 2",
    )
    .await;
    drain(&bot).await;
    let thread = support::incident(&bot, 1).await.thread.unwrap();
    let sent = step(&bot, 2).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].room().map(ToString::to_string).as_deref(),
        Some("slack:ops")
    );
    assert_eq!(sent[0].thread().map(ToString::to_string), Some(thread));
}

#[tokio::test]
async fn still_open_is_asked_daily_in_weekday_working_hours_to_the_reporter_without_a_lead() {
    let section = "[reminders]\nno_severity = false\nno_lead = false\nupdate_due = false\n";
    // 2026-01-01 is a Thursday; working hours default to mon-fri 09:00-18:00 UTC.
    let bot = bot_caps(console_with_dms(), section, None, t0()).await;
    let id = declare(&bot, "!inc declare Checkout 502s --sev 2").await;
    assert!(
        step(&bot, 24 * 60).await.is_empty(),
        "Friday 00:00: outside hours"
    );
    assert!(step(&bot, 9 * 60 - 1).await.is_empty());
    let sent = step(&bot, 1).await;
    assert_eq!(sent.len(), 1, "Friday 09:00");
    assert_eq!(
        sent[0].direct_to().map(ToString::to_string).as_deref(),
        Some(A)
    );
    assert!(
        sent[0].plain().starts_with(&format!(
            "⏰ #{id} Checkout 502s has been open for 1 d 9 h. Is it still open?"
        )),
        "{}",
        sent[0].plain()
    );
    assert!(sent[0].plain().ends_with("(1 of 5)"));
    // Saturday and Sunday are skipped; Monday 09:00 asks again.
    assert!(step(&bot, 24 * 60).await.is_empty(), "Saturday 09:00");
    assert!(step(&bot, 24 * 60).await.is_empty(), "Sunday 09:00");
    assert!(step(&bot, 24 * 60 - 1).await.is_empty());
    let sent = step(&bot, 1).await;
    assert_eq!(sent.len(), 1, "Monday 09:00");
    assert!(sent[0].plain().ends_with("(2 of 5)"));
}

#[tokio::test]
async fn a_private_incident_is_not_reminded_about_in_the_announce_room() {
    let bot = bot_caps(console_with_dms(), NO_LEAD_ONLY, None, t0()).await;
    declare(&bot, "!inc declare Payroll leak --sev 1 --private").await;
    let sent = step(&bot, 2).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].direct_to().map(ToString::to_string).as_deref(),
        Some(A),
        "to the reporter, not console:ops"
    );
    assert!(sent[0].plain().contains("Payroll leak has no lead yet"));
}

#[tokio::test]
async fn a_pending_review_is_reminded_once_two_working_days_after_the_resolution() {
    let section = "[reminders]\nno_severity = false\nno_lead = false\nupdate_due = false\n\
        still_open = false\nwrite_report = false\n";
    let bot = bot_caps(console_with_dms(), section, None, t0()).await;
    let id = declare(
        &bot,
        "!inc declare Checkout 502s --sev 2 --lead console:bob",
    )
    .await;
    let done = declare(&bot, "!inc declare Search slow --sev 2 --lead console:bob").await;
    support::advance(&bot, 10);
    cmd(&bot, A, &format!("!inc resolve #{id} rolled back")).await;
    cmd(&bot, A, &format!("!inc resolve #{done} fixed")).await;
    cmd(&bot, A, &format!("!inc review #{done} done")).await;
    // Resolved Thursday 00:10: Friday is one working day, Monday 00:10 the second.
    assert!(
        step(&bot, 4 * 24 * 60 - 1).await.is_empty(),
        "Sunday 23:59 and before"
    );
    let sent = step(&bot, 1).await;
    assert_eq!(sent.len(), 1, "only the pending one");
    assert_eq!(
        sent[0].direct_to().map(ToString::to_string).as_deref(),
        Some(B)
    );
    assert_eq!(
        sent[0].plain(),
        format!(
            "📝 #{id} Checkout 502s: the post-incident review is still pending (resolved \
             2026-01-01 00:10 UTC). Link the document with `!inc review #{id} <url>`, or \
             `!inc review #{id} done`."
        )
    );
    assert!(step(&bot, 24 * 60).await.is_empty(), "once");
}

/// The PostgreSQL URL from the test environment, or `None` (with a printed reason) when
/// running outside CI without one.
fn postgres_url() -> Option<String> {
    match std::env::var("FERRBOT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FERRBOT_E2E_REQUIRED").as_deref() != Ok("1"),
                "FERRBOT_TEST_POSTGRES_URL is not set but FERRBOT_E2E_REQUIRED=1: run the tests with scripts/test"
            );
            eprintln!(
                "SKIPPED: FERRBOT_TEST_POSTGRES_URL is not set (scripts/test starts PostgreSQL)"
            );
            None
        }
    }
}

/// Snoozing keeps a reminder's count and last send; clearing it too; rows are per incident.
async fn snooze_rows_keep_progress(url: &str) {
    let bot = bot_at(NO_LEAD_ONLY, Some(Store::open(url).await.unwrap()), t0()).await;
    let id = declare(&bot, "!inc declare Row check --sev 2").await;
    let s = IncidentStore::new(bot.store());
    let until = t0() + jiff::SignedDuration::from_mins(30);
    let mut tx = s.begin().await.unwrap();
    store::set_reminder_snooze(&mut tx, id, "no_lead", Some(until))
        .await
        .unwrap();
    store::commit(tx).await.unwrap();
    let mut c = s.read().await.unwrap();
    let rows = store::reminders(&mut c, id).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].key.as_str(), rows[0].count, rows[0].snoozed_until),
        ("no_lead", 0, Some(until))
    );
    drop(c);
    let mut tx = s.begin().await.unwrap();
    store::put_reminder(
        &mut tx,
        &ferrbot_plugin_incident::model::ReminderState {
            count: 2,
            last_sent_at: Some(t0()),
            ..rows[0].clone()
        },
    )
    .await
    .unwrap();
    store::set_reminder_snooze(&mut tx, id, "no_lead", None)
        .await
        .unwrap();
    store::commit(tx).await.unwrap();
    let mut c = s.read().await.unwrap();
    let rows = store::reminders(&mut c, id).await.unwrap();
    assert_eq!(
        (rows[0].count, rows[0].last_sent_at, rows[0].snoozed_until),
        (2, Some(t0()), None)
    );
    assert!(
        store::reminders(&mut c, id + 1000)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn snooze_rows_keep_progress_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    snooze_rows_keep_progress(&format!("sqlite://{}/bot.db", dir.path().display())).await;
}

#[tokio::test]
async fn snooze_rows_keep_progress_on_postgres() {
    let Some(url) = postgres_url() else { return };
    snooze_rows_keep_progress(&url).await;
}
